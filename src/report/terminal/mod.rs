//! Report layer, terminal: whole reports as one `String` for a command to print — a comparison,
//! its variants, a capture, a fetch, what was saved. The top of `report/`: reads sentences and
//! tables; nothing in `report/` imports it.

mod capture;
mod comparison;
mod fetched;
mod saved;
mod variants;

pub use capture::{CaptureReport, capture};
pub use comparison::{comparison, comparison_brief};
pub use fetched::fetched;
pub use saved::{Saved, saved};
pub use variants::variants;
