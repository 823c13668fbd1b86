//! Report layer, tables: head-of-line blocking on cleartext HTTP/2 — per stream of each
//! connection where some stream waited (`analyze`), per file of a mode over its runs (`compare
//! --full`). Reads `units`; must not import sentences or the terminal report.

use comfy_table::Table;

use super::cells::{glued, table};
use crate::analysis::head_of_line::{HeldConnection, ModeHold};
use crate::report::units::{TimeUnit, bytes};

/// One row per stream that waited behind another stream's loss: its connection, its DATA
/// frames, those held, their bytes, and the longest and summed waits.
pub fn head_of_line_table(held: &[HeldConnection]) -> Table {
    let mut t = table(&[
        "#",
        "stream",
        "DATA frames",
        "frames held",
        "bytes held",
        "longest wait",
        "total wait",
    ]);
    let rows = || {
        held.iter()
            .flat_map(|c| c.hol.streams.iter().map(move |s| (c.connection, s)))
            .filter(|(_, s)| s.held())
    };
    let longest = TimeUnit::for_column(rows().map(|(_, s)| s.longest));
    let total = TimeUnit::for_column(rows().map(|(_, s)| s.total));
    for (connection, s) in rows() {
        t.add_row(glued([
            connection.to_string(),
            s.stream.to_string(),
            s.frames.to_string(),
            s.held_frames.to_string(),
            bytes(s.held_bytes as f64),
            longest.format(s.longest),
            total.format(s.total),
        ]));
    }
    t
}

/// One row per file that waited behind another stream's loss in some run: its stream, the runs
/// it waited in, its bytes held and summed wait per run, and its longest wait.
pub fn file_hold_table(hold: &ModeHold) -> Table {
    let mut t = table(&[
        "file",
        "stream",
        "held in runs",
        "bytes held/run",
        "longest wait",
        "total wait/run",
        "done later/run",
    ]);
    let rows = || hold.files.iter().filter(|f| f.held_runs > 0);
    let longest = TimeUnit::for_column(rows().map(|f| f.longest_s));
    let total = TimeUnit::for_column(rows().map(|f| f.total_s));
    let late = TimeUnit::for_column(rows().map(|f| f.late_s));
    for f in rows() {
        t.add_row(glued([
            f.name.clone(),
            f.stream.to_string(),
            format!("{} of {}", f.held_runs, hold.runs),
            bytes(f.held_bytes),
            longest.format(f.longest_s),
            total.format(f.total_s),
            late.format(f.late_s),
        ]));
    }
    t
}
