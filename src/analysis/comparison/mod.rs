//! Attribute layer: the results of a comparison, mode by mode and run by run, as the report reads
//! them. Built by the compare command from transfer timings and tracked captures. `run` ←
//! `sessions` ← `mode` ← `response`; `link` and those ← `whole` (the comparison) ← `path` (the
//! model's path read from it).

mod link;
mod mode;
mod path;
mod response;
mod run;
mod sessions;
#[cfg(test)]
mod tests;
mod whole;

pub use link::{DirectionSettings, LinkSettings};
pub use mode::{ModeResult, NoSessionToResume, QuicTotals};
pub use path::FlightLimit;
pub use response::ResponseStats;
pub use run::{CaptureInfo, RunResult, SourceFile};
pub use sessions::{FastOpen, TlsSessions};
pub use whole::{Comparison, TlsSettings};
