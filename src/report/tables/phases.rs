//! Report layer, tables: phase times — a comparison's mean per run and mode, and a capture's
//! connections taken in order. Must not import sentences or the terminal report.

use comfy_table::Table;

use super::cells::{glued, table};
use crate::analysis::comparison::{Comparison, RunResult};
use crate::analysis::phases::{PhaseSource, Phases};
use crate::analysis::stats::mean;
use crate::report::units::{TimeUnit, percent};

/// Mean phase times per run, a column per mode: the partition of first SYN → last byte, the
/// run total, and what follows the last byte.
pub fn phase_table(cmp: &Comparison) -> Table {
    let mut header = vec!["mean per run"];
    header.extend(cmp.modes.iter().map(|m| m.mode.name()));
    let mut t = table(&header);
    type Pick = fn(&RunResult) -> f64;
    let spoke_tls = cmp
        .modes
        .iter()
        .flat_map(|m| &m.runs)
        .any(|r| r.phases.tls_s > 0.0);
    // Without a capture, the client's calls mark the instants the packets would.
    let captured = cmp.phase_source() == PhaseSource::Capture;
    let all: [(&str, Pick); 11] = [
        ("handshakes", |r| r.phases.handshake_s),
        ("TLS handshakes", |r| r.phases.tls_s),
        ("client work (before requests)", |r| r.phases.client_s),
        ("request wait", |r| r.phases.wait_s),
        ("transfer", |r| r.phases.transfer_s),
        (
            if captured {
                "closing (last byte → FIN)"
            } else {
                "closing (last byte → closed)"
            },
            |r| r.phases.closing_s,
        ),
        (
            if captured {
                "between conns (FIN → next SYN)"
            } else {
                "between conns (closed → next connect())"
            },
            |r| r.phases.between_s,
        ),
        (
            if captured {
                "= first SYN → last byte"
            } else {
                "= first connect() → last byte"
            },
            |r| r.phases.timeline_s,
        ),
        ("run total (connect → last byte)", |r| r.timing.total_s()),
        ("after it: closing (not waited for)", |r| r.timing.close_s()),
        (
            if captured {
                "teardown FIN → last ACK (overlaps)"
            } else {
                "teardown last byte → closed (overlaps)"
            },
            |r| r.phases.teardown_s,
        ),
    ];
    let rows: Vec<(&str, Pick)> = all
        .into_iter()
        .filter(|(label, _)| spoke_tls || *label != "TLS handshakes")
        .collect();
    let means: Vec<Vec<f64>> = rows
        .iter()
        .map(|(_, pick)| {
            cmp.modes
                .iter()
                .map(|m| mean(m.runs.iter().map(pick)))
                .collect()
        })
        .collect();
    let unit = TimeUnit::for_column(means.iter().flatten().copied());
    for ((label, _), values) in rows.iter().zip(&means) {
        let mut row = vec![label.to_string()];
        row.extend(values.iter().map(|&v| unit.format(v)));
        t.add_row(glued(row));
    }
    t
}

/// analyze's TLS phase, named with its span.
const TLS_PHASE: &str = "TLS (SYN-ACK → handshake done)";

/// Phase times of a capture's connections taken in order.
pub fn phase_summary_table(p: &Phases) -> Table {
    let mut t = table(&["phase", "time", "share of first SYN → last byte"]);
    let unit = TimeUnit::for_column([
        p.handshake_s,
        p.tls_s,
        p.client_s,
        p.wait_s,
        p.transfer_s,
        p.closing_s,
        p.between_s,
        p.timeline_s,
    ]);
    for (name, v) in [
        ("handshakes", p.handshake_s),
        // From the SYN-ACK: what TLS adds to a connection, the client's preparing its
        // ClientHello too (the TLS table's handshake starts at the ClientHello).
        (TLS_PHASE, p.tls_s),
        ("client work", p.client_s),
        ("request wait", p.wait_s),
        ("transfer", p.transfer_s),
        ("closing (last byte → FIN or RST)", p.closing_s),
        ("between connections", p.between_s),
    ] {
        // A capture without TLS has no TLS row.
        if name == TLS_PHASE && v == 0.0 {
            continue;
        }
        t.add_row(glued(vec![
            name.to_string(),
            unit.format(v),
            percent(v, p.timeline_s),
        ]));
    }
    t.add_row(glued(vec![
        "first SYN → last byte".to_string(),
        unit.format(p.timeline_s),
        percent(p.timeline_s, p.timeline_s),
    ]));
    t.add_row(glued(vec![
        "teardown (overlaps)".to_string(),
        unit.format(p.teardown_s),
        String::new(),
    ]));
    t
}
