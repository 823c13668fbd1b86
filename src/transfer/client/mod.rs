//! Transfer layer: the blocking HTTP/1.1 client that fetches the files in one of the modes and
//! times each step itself (HTTP/2's streams are driven by `transfer::h2`). Must not import the server, capture or report code.
//!
//! The client enforces the mode on its own side (one connection per file, or one for all), so a
//! server that ignores `Connection: close` or keep-alive cannot change what is measured.
//!
//! A file per concern, each importing only those below it: `modes` (a run in each mode) →
//! `exchange` (a request and its response) or `multiplexed` (the HTTP/2 modes, on
//! [`crate::transfer::h2`]) → `connection` (open, deadlines, close) → `deadline`, `plan`,
//! `part_file`.

mod connection;
mod deadline;
mod exchange;
mod modes;
mod multiplexed;
mod origins;
pub(crate) mod part_file;
pub(crate) mod plan;

#[cfg(test)]
pub(crate) mod tests;

pub use self::modes::fetch;
pub use self::origins::fetch_sites;
pub use self::plan::{DEFAULT_PARALLEL, DEFAULT_TIMEOUT, FetchLimits, FetchPlan};
/// Also reachable here: the records a run leaves, which live in [`crate::transfer::run`].
pub use crate::transfer::run::{
    ConnectionTiming, FileResult, Mode, RequestTiming, RunTiming, TlsTiming,
};
