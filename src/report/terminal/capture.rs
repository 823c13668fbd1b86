//! Report layer, terminal: `analyze`'s report of a capture — frames, packets, connections, phases,
//! TLS and the request pattern. Reads sentences and tables; nothing in `report/` imports it.

use std::fmt::Write as _;
use std::path::Path;

use crate::analysis::phases::Phases;
use crate::report::sentences::{TLS_HEADING, TLS_READ_NOTE, tls_hidden, tls_note};
use crate::report::tables;
use crate::report::width::fit_in_parts_text;
use crate::track::reader::FrameCounts;
use crate::track::tls::TlsTotals;
use crate::track::{Connection, Totals};

/// What `analyze` read in a capture, for its tables.
pub struct CaptureReport<'a> {
    /// The capture file.
    pub path: &'a Path,
    /// Its frames by kind.
    pub counts: &'a FrameCounts,
    /// Every connection's counts added up.
    pub totals: &'a Totals,
    /// The connections shown, in stream order.
    pub connections: &'a [Connection],
    /// Connections not shown.
    pub hidden: usize,
    /// The capture's phases.
    pub phases: &'a Phases,
    /// Its TLS handshakes added up.
    pub tls: &'a TlsTotals,
    /// The request pattern, in words.
    pub pattern: &'a str,
    /// The pcapng section's comment, if the file has one.
    pub comment: Option<&'a str>,
}

/// How many frames the snap length cut, when any: their payload is counted from the IP header,
/// but what it held is not all there to read.
fn cut_frames(cut: u64) -> String {
    match cut {
        0 => String::new(),
        1 => "; 1 cut short by the snap length".to_string(),
        n => format!("; {n} cut short by the snap length"),
    }
}

/// `analyze`'s report of a capture: its frames, the packet counts, the connections, the phases,
/// the TLS handshakes where there are any, and the request pattern, fitted to `width`.
pub fn capture(r: &CaptureReport<'_>, width: Option<u16>) -> String {
    let fit = |t| fit_in_parts_text(t, width, 1);
    let wrap = |s: &str| crate::report::width::wrap(s, width);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}\n",
        wrap(&format!(
            "{}: {} packets ({} TCP, {} other, {} fragments, {} too short to read){}",
            r.path.display(),
            r.counts.frames,
            r.totals.counts.packets,
            r.counts.not_tcp,
            r.counts.fragments,
            r.counts.truncated,
            cut_frames(r.counts.cut)
        ))
    );
    if let Some(comment) = r.comment {
        let _ = writeln!(out, "The capture's comment:");
        for line in comment.lines() {
            let _ = writeln!(out, "{}", wrap(&format!("  {line}")));
        }
        out.push('\n');
    }
    let _ = writeln!(out, "Packets\n{}\n", fit(tables::totals_table(r.totals)));
    let server = tables::one_server(r.connections);
    let heading = server.map_or_else(
        || "Connections".to_string(),
        |s| format!("Connections to {s}"),
    );
    // A row is named by its number and its addresses, repeated in each part.
    let labels = if server.is_some() { 2 } else { 3 };
    let _ = writeln!(
        out,
        "{heading}\n{}\n",
        fit_in_parts_text(
            tables::connection_table(r.connections, r.hidden),
            width,
            labels
        )
    );
    let _ = writeln!(
        out,
        "Phases (connections in order of their first packet)\n{}\n",
        fit(tables::phase_summary_table(r.phases))
    );
    if r.tls.connections > 0 {
        let shown = r.connections.iter().filter(|c| c.tls().is_some()).count();
        let _ = writeln!(
            out,
            "{}\n{}",
            wrap(TLS_HEADING),
            fit(tables::tls_table(r.connections))
        );
        let hidden = (r.tls.connections as usize).saturating_sub(shown);
        if let Some(line) = tls_hidden(hidden) {
            let _ = writeln!(out, "{line}");
        }
        let _ = writeln!(out, "{}\n", fit(tables::tls_totals_table(r.tls)));
        if r.tls.incomplete > 0 {
            let _ = writeln!(out, "{}\n", wrap(TLS_READ_NOTE));
        }
        if let Some(note) = tls_note(r.tls) {
            let _ = writeln!(out, "{}\n", wrap(&note));
        }
    }
    let _ = writeln!(out, "{}", wrap(r.pattern));
    out
}
