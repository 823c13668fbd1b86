//! Report layer, sentences: head-of-line blocking on cleartext HTTP/2 in words — the headings of
//! its tables and the line that stands for them when nothing waited. Must not import tables or
//! the terminal report.

use crate::analysis::head_of_line::{CaptureHold, ModeHold};
use crate::report::units::duration;
use crate::words::counted;

/// The widest a head-of-line line runs, whatever the terminal: a note read under its table.
const COLUMNS: u16 = 100;

/// What "held" and the waits in the head-of-line tables are, with the holes they came from;
/// `per_file` for the table of files, which also says how much later each was complete.
pub fn hold_note(holes: u64, whose: &str, per_file: bool) -> String {
    let done_later = if per_file {
        " done later: its last frame's wait, how much later the file was complete than its own \
         bytes allowed."
    } else {
        ""
    };
    wrap(&format!(
        "held: a DATA frame from the server arrived after a hole in {whose} bytes ({} filled) \
         and was in order only once the resend of another stream's bytes came; its wait runs from \
         its arrival to then, less any wait for its own stream's lost bytes (which it would have \
         waited over QUIC too).{done_later}",
        counted(holes, "hole", "holes")
    ))
}

fn wrap(text: &str) -> String {
    crate::report::width::wrap(text, Some(COLUMNS))
}

/// The heading of `analyze`'s head-of-line table, or the line that says nothing waited; none
/// without cleartext HTTP/2.
pub fn capture_hold_heading(h: &CaptureHold) -> Option<String> {
    if h.connections == 0 {
        return None;
    }
    let conns = counted(h.connections, "connection", "connections");
    Some(wrap(&if h.held.is_empty() {
        format!(
            "Head-of-line blocking: no DATA frame waited behind another stream's lost bytes \
             ({} filled in the servers' bytes over {conns} in cleartext HTTP/2).",
            counted(h.holes, "hole", "holes")
        )
    } else {
        format!(
            "Head-of-line blocking: streams whose DATA waited behind another stream's loss, over \
             {conns} in cleartext HTTP/2"
        )
    }))
}

/// The heading of `compare --full`'s head-of-line table for `mode`, or the line that says no
/// file waited.
pub fn mode_hold_heading(mode: &str, h: &ModeHold) -> String {
    let runs = counted(h.runs as u64, "run", "runs");
    wrap(&if h.any_held() {
        format!(
            "Head-of-line blocking, {mode}: files whose bytes waited behind another stream's loss, over {runs}"
        )
    } else {
        format!(
            "Head-of-line blocking, {mode}: no file's bytes waited behind another stream's loss \
             ({} filled in the server's bytes over {runs}).",
            counted(h.holes, "hole", "holes")
        )
    })
}

/// The verdict's sentence on what head-of-line blocking cost `mode`'s files, where it made any
/// file complete later than its own bytes allowed: by how much a run, in how many runs.
pub fn hold_verdict(mode: &str, h: &ModeHold) -> Option<String> {
    let mut late: Vec<_> = h.files.iter().filter(|f| f.late_runs > 0).collect();
    if late.is_empty() {
        return None;
    }
    late.sort_by(|a, b| b.late_s.total_cmp(&a.late_s));
    let parts: Vec<String> = late
        .iter()
        .map(|f| {
            if h.runs == 1 {
                format!("{} by {}", f.name, duration(f.late_s))
            } else {
                format!(
                    "{} by {} a run on average ({} of {} runs)",
                    f.name,
                    duration(f.late_s),
                    f.late_runs,
                    h.runs
                )
            }
        })
        .collect();
    Some(format!(
        "Head-of-line blocking on {mode}: files were complete later than their own bytes \
         allowed, waiting for the resends of other streams' lost segments — {}. With a byte \
         order per stream, as over QUIC, they would not have waited for those.",
        parts.join(", ")
    ))
}
