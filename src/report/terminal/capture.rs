//! Report layer, terminal: `analyze`'s report of a capture — frames, packets, connections, phases,
//! TLS and the request pattern. Reads sentences and tables; nothing in `report/` imports it.

use std::fmt::Write as _;
use std::path::Path;

use crate::analysis::head_of_line::CaptureHold;
use crate::analysis::phases::Phases;
use crate::report::sentences::{
    HTTP2_READ_NOTE, KEYLOG_HEADING, KEYLOG_QUIC_HEADING, QUIC_HEADING, QUIC_NOTE,
    QUIC_TLS_HEADING, TLS_HEADING, TLS_READ_NOTE, capture_hold_heading, decryption_line,
    encrypted_requests_note, hold_note, http2_heading, http2_hidden, quic_decryption_line,
    quic_stray, tls_hidden, tls_note,
};
use crate::report::tables;
use crate::report::width::fit_in_parts_text;
use crate::track::http2::{Http2Seen, Http2Totals};
use crate::track::quic::QuicCapture;
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
    /// Its HTTP/2 added up.
    pub http2: &'a Http2Totals,
    /// Head-of-line blocking on its cleartext HTTP/2 connections.
    pub head_of_line: &'a CaptureHold,
    /// Its QUIC connections.
    pub quic: &'a QuicCapture,
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

/// "N QUIC, " where a capture has QUIC datagrams: nothing for one without.
fn quic_frames(quic: u64) -> String {
    match quic {
        0 => String::new(),
        n => format!("{n} QUIC, "),
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
            "{}: {} packets ({} TCP, {}{} other, {} fragments, {} too short to read){}",
            r.path.display(),
            r.counts.frames,
            r.totals.counts.packets,
            quic_frames(r.counts.quic),
            r.counts.not_tcp.saturating_sub(r.counts.quic),
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
    // A capture of QUIC alone leaves out the TCP tables, which would all be empty.
    let tcp = r.totals.connections > 0 || r.quic.connections.is_empty();
    if tcp {
        tcp_tables(&mut out, r, width);
    }
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
        let decrypted: Vec<String> = r.connections.iter().filter_map(decryption_line).collect();
        if !decrypted.is_empty() {
            let _ = writeln!(out, "{}", wrap(KEYLOG_HEADING));
            for line in decrypted {
                let _ = writeln!(out, "{}", wrap(&line));
            }
            out.push('\n');
        }
    }
    let quic = &r.quic.connections;
    if !quic.is_empty() {
        let _ = writeln!(
            out,
            "{}\n{}\n",
            wrap(QUIC_HEADING),
            fit_in_parts_text(tables::quic_table(quic), width, 1)
        );
        let _ = writeln!(
            out,
            "{}\n{}\n",
            wrap(QUIC_TLS_HEADING),
            fit(tables::quic_tls_table(quic))
        );
        let _ = writeln!(out, "{}\n", wrap(QUIC_NOTE));
        let decrypted: Vec<String> = quic.iter().filter_map(quic_decryption_line).collect();
        if !decrypted.is_empty() {
            let _ = writeln!(out, "{}", wrap(KEYLOG_QUIC_HEADING));
            for line in decrypted {
                let _ = writeln!(out, "{}", wrap(&line));
            }
            out.push('\n');
        }
    }
    if let Some(line) = quic_stray(r.quic.unattributed, r.quic.malformed) {
        let _ = writeln!(out, "{}\n", wrap(&line));
    }
    if r.http2.any() {
        http2_section(&mut out, r, width);
    }
    let _ = writeln!(out, "{}", wrap(r.pattern));
    out
}

/// The packet totals, the TCP connections and their phases.
fn tcp_tables(out: &mut String, r: &CaptureReport<'_>, width: Option<u16>) {
    let fit = |t| fit_in_parts_text(t, width, 1);
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
}

/// The HTTP/2 section: the cleartext connections' frames, and a line on the encrypted ones.
fn http2_section(out: &mut String, r: &CaptureReport<'_>, width: Option<u16>) {
    let fit = |t| fit_in_parts_text(t, width, 1);
    let wrap = |s: &str| crate::report::width::wrap(s, width);
    let h2 = r.http2;
    if h2.cleartext > 0 {
        let shown = r
            .connections
            .iter()
            .filter(|c| matches!(c.http2(), Some(Http2Seen::Frames(_))))
            .count();
        let _ = writeln!(
            out,
            "{}\n{}",
            wrap(http2_heading(r.connections)),
            fit(tables::http2_table(r.connections))
        );
        if let Some(line) = http2_hidden((h2.cleartext as usize).saturating_sub(shown)) {
            let _ = writeln!(out, "{line}");
        }
        let _ = writeln!(out, "{}\n", fit(tables::http2_totals_table(h2)));
        if h2.incomplete > 0 || h2.malformed > 0 {
            let _ = writeln!(out, "{}\n", wrap(HTTP2_READ_NOTE));
        }
        if let Some(heading) = capture_hold_heading(r.head_of_line) {
            let _ = writeln!(out, "{}", wrap(&heading));
            if !r.head_of_line.held.is_empty() {
                let _ = writeln!(
                    out,
                    "{}",
                    fit(tables::head_of_line_table(&r.head_of_line.held))
                );
                let _ = writeln!(
                    out,
                    "{}",
                    hold_note(r.head_of_line.holes, "the servers'", false)
                );
            }
            out.push('\n');
        }
    }
    if let Some(note) = encrypted_requests_note(h2.encrypted) {
        let _ = writeln!(out, "{}\n", wrap(&note));
    }
}
