//! Report layer, sentences: head-of-line blocking on cleartext HTTP/2 in words — the headings of
//! its tables and the line that stands for them when nothing waited. Must not import tables or
//! the terminal report.

use crate::analysis::head_of_line::{CaptureHold, ModeHold};
use crate::words::counted;

/// The widest a head-of-line line runs, whatever the terminal: a note read under its table.
const COLUMNS: u16 = 100;

/// What "held" and the waits in the head-of-line tables are, with the holes they came from.
pub fn hold_note(holes: u64, whose: &str) -> String {
    wrap(&format!(
        "held: a DATA frame from the server arrived after a hole in {whose} bytes ({} filled) \
         and was in order only once the resend of another stream's bytes came; its wait runs from \
         its arrival to then, less any wait for its own stream's lost bytes (which it would have \
         waited over QUIC too).",
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
