//! Report layer, tables: the tables synack prints, as `comfy_table::Table` values, one file per
//! section. Reads `labels`, `units` and `width`; must not import sentences, the terminal report or
//! html.

mod attribution;
mod cells;
mod connections;
mod head_of_line;
mod http2;
mod model;
mod modes;
mod packets;
mod phases;
mod quic;
mod slow_start;
mod timing;
mod tls;
mod variants;

pub use attribution::attribution_table;
pub use connections::{connection_table, one_server};
pub use head_of_line::{file_hold_table, head_of_line_table};
pub use http2::{http2_table, http2_totals_table};
pub use model::model_table;
pub use modes::modes_table;
pub use packets::{packet_table, quic_packet_table, totals_table};
pub use phases::{phase_summary_table, phase_table};
pub use quic::{quic_table, quic_tls_table};
pub use slow_start::slow_start_table;
pub use timing::timing_table;
pub use tls::{tls_table, tls_totals_table};
pub use variants::{VariantsLayout, variants_tables};
