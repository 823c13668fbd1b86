//! Report layer, terminal: what `fetch` got — a line per file, the run in one sentence, its TLS
//! sessions. Reads sentences; nothing in `report/` imports it.

use std::fmt::Write as _;
use std::path::Path;

use crate::analysis::comparison::TlsSessions;
use crate::report::sentences::tls_line;
use crate::report::units::duration;
use crate::report::width::{wrap, wrap_prose};
use crate::transfer::run::RunTiming;

/// What `fetch` got: a line per file (name, bytes, time, SHA-256 as far as `width` leaves room),
/// then the run in one sentence, and its TLS sessions when it spoke TLS.
pub fn fetched(run: &RunTiming, saved_in: &Path, width: Option<u16>) -> String {
    let name_width = run
        .files
        .iter()
        .map(|f| f.name.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for f in &run.files {
        let line = format!(
            "{:<name_width$} {:>12} bytes {:>9}  sha256 ",
            f.name,
            f.bytes,
            duration(f.seconds),
        );
        let used = line.chars().count();
        let _ = writeln!(out, "{line}{}", fit_hash(&f.sha256, width, used));
    }
    let summary = format!(
        "{}: {} over {} in {}, saved in {}",
        run.mode.name(),
        crate::words::counted(run.files.len(), "file", "files"),
        crate::words::counted(run.connections.len(), "connection", "connections"),
        duration(run.total_s()),
        saved_in.display()
    );
    let _ = writeln!(out, "{}", wrap(&summary, width));
    if let Some(tls) = TlsSessions::of(run.connections.iter()) {
        let _ = writeln!(out, "{}", wrap_prose(&tls_line(&tls), width));
    }
    out
}

/// Fewer hex digits of a hash than it has, where the line's `used` columns leave fewer than all
/// of them: its first ones and "…", never under 12 (the full hash with no width to fit, as when
/// piped).
fn fit_hash(hash: &str, width: Option<u16>, used: usize) -> String {
    const SHORTEST: usize = 12;
    let room = width.map_or(usize::MAX, |w| usize::from(w).saturating_sub(used));
    if hash.len() <= room {
        return hash.to_string();
    }
    let digits = room.saturating_sub(1).max(SHORTEST).min(hash.len());
    format!("{}…", &hash[..digits])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_is_cut_to_the_room_its_line_leaves() {
        let hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        assert_eq!(fit_hash(hash, None, 60), hash);
        assert_eq!(fit_hash(hash, Some(200), 60), hash);
        assert_eq!(fit_hash(hash, Some(80), 60), "9f86d081884c7d659a2…");
        assert_eq!(fit_hash(hash, Some(80), 60).chars().count(), 20);
        assert_eq!(fit_hash(hash, Some(60), 60), "9f86d081884c…");
    }
}
