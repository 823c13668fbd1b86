//! Report layer, tables: packet counts — a comparison mode's observed against expected, and a
//! capture's totals. Must not import sentences or the terminal report.

use comfy_table::{CellAlignment, Table};

use super::cells::{glued, table};
use crate::analysis::comparison::{ModeResult, QuicTotals};
use crate::analysis::expected::{CountCheck, sequence_analysis};
use crate::report::units;
use crate::report::width::GLUE;
use crate::track::Totals;

/// Observed against expected counts for one mode: over all runs and per run.
pub fn packet_table(m: &ModeResult, checks: &[CountCheck]) -> Table {
    let runs = m.runs.len().max(1) as f64;
    let mut t = table(&[
        "count",
        &format!("all {} runs", m.runs.len()),
        "expected",
        "per run",
        "expected per run",
        "",
    ]);
    for c in checks {
        let per_run = c.observed as f64 / runs;
        let (observed, per_run) = if c.name == "bytes" {
            (units::bytes(c.observed as f64), units::bytes(per_run))
        } else {
            (c.observed.to_string(), units::count(per_run))
        };
        let (expected, expected_per_run) = match c.expected {
            Some(e) => (e.to_string(), format!("{:.0}", e as f64 / runs)),
            None => ("—".into(), "—".into()),
        };
        let mark = match (c.expected, &c.reason) {
            (None, _) => String::new(),
            (Some(_), None) => "✓".into(),
            (Some(_), Some(reason)) => format!("✗ {reason}"),
        };
        // A count's name stays whole: "  of them spurious" wrapped would lose its indent and
        // read as a count of its own.
        t.add_row(glued(vec![
            c.name.replace(' ', &GLUE.to_string()),
            observed,
            expected,
            per_run,
            expected_per_run,
            mark,
        ]));
    }
    if let Some(col) = t.column_mut(5) {
        col.set_cell_alignment(CellAlignment::Left);
    }
    t
}

/// Packet counts of a capture.
pub fn totals_table(totals: &Totals) -> Table {
    let c = &totals.counts;
    let mut t = table(&["count", "observed"]);
    for (name, value) in [
        ("connections", totals.connections),
        ("SYN", c.syn),
        ("SYN-ACK", c.synack),
        ("handshake ACK", c.handshake_ack),
        ("pure ACK", c.pure_ack),
        ("data", c.data),
        ("FIN", c.fin),
        ("RST", c.rst),
        ("packets", c.packets),
        ("bytes", c.bytes),
    ]
    .into_iter()
    .chain(sequence_analysis(c).into_iter().flatten())
    {
        // A count's name stays whole, so an indented one keeps its indent.
        t.add_row(glued(vec![
            name.replace(' ', &GLUE.to_string()),
            value.to_string(),
        ]));
    }
    t
}

/// A QUIC mode's packets over all runs and per run, each way, by type as tshark counts them.
pub fn quic_packet_table(m: &ModeResult, q: &QuicTotals) -> Table {
    let runs = m.runs.len().max(1) as f64;
    let mut t = table(&["count", &format!("all {} runs", m.runs.len()), "per run"]);
    let mut row = |name: &str, n: u64| {
        t.add_row(glued(vec![
            name.replace(' ', &GLUE.to_string()),
            n.to_string(),
            units::count(n as f64 / runs),
        ]));
    };
    row("connections", q.connections);
    row("resumed", q.resumed);
    for (way, flow) in [("to server", &q.to_server), ("to client", &q.to_client)] {
        let p = &flow.packets;
        row(&format!("datagrams {way}"), flow.datagrams);
        row(&format!("  Initial {way}"), p.initial);
        row(&format!("  0-RTT {way}"), p.zero_rtt);
        row(&format!("  Handshake {way}"), p.handshake);
        row(&format!("  1-RTT {way}"), p.one_rtt);
        row(&format!("  packets {way}"), p.total());
    }
    t.add_row(glued(vec![
        "bytes".to_owned(),
        units::bytes((q.to_server.bytes + q.to_client.bytes) as f64),
        units::bytes((q.to_server.bytes + q.to_client.bytes) as f64 / runs),
    ]));
    t
}
