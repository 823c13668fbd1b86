//! Report layer, sentences: the report's words beyond a label — the verdict, the model, TLS, the
//! slow-start notes, the lines around the packet and phase tables, the request pattern. Reads
//! `units` and `labels`; must not import tables, the terminal report or html.

mod head_of_line;
mod http2;
mod keylog;
mod model;
mod pattern;
mod run;
mod slow_start;
mod tls;
mod verdict;

pub use head_of_line::{capture_hold_heading, hold_note, mode_hold_heading};
pub use http2::{HTTP2_HEADING, HTTP2_READ_NOTE, encrypted_requests_note, http2_hidden};
pub use keylog::{
    KEYLOG_HEADING, KEYLOG_QUIC_HEADING, decryption_line, http2_heading, quic_decryption_line,
};
pub use model::{model_difference, model_heading};
pub use pattern::pattern;
pub use run::{PACKETS_NOTE, fast_open_line, kernel_line, phases_heading};
pub use slow_start::{receive_window_line, slow_start_notes};
pub use tls::{
    QUIC_HEADING, QUIC_NOTE, QUIC_TLS_HEADING, TLS_HEADING, TLS_READ_NOTE, mode_tls_line,
    quic_stray, tls_hidden, tls_line, tls_note, tls_settings,
};
pub use verdict::{opening, verdict};
