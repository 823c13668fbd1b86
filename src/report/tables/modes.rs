//! Report layer, tables: every mode on a row of one table, what the short report shows — the
//! mean total and, per run, the connections, SYNs, FINs and packets the capture counted, the time
//! in handshakes and the rounds the responses took. Must not import sentences or the terminal
//! report.

use super::cells::{glued, table};
use crate::analysis::comparison::{Comparison, ModeResult};
use crate::report::units::{self, TimeUnit};

/// The modes side by side: one row each, every figure a mean per run; "—" where nothing was
/// captured or the protocol has no such thing (QUIC: no SYN, FIN or TCP rounds; its handshake is
/// the client's first Initial → its first 1-RTT packet).
pub fn modes_table(cmp: &Comparison) -> comfy_table::Table {
    let unit = TimeUnit::for_column(cmp.modes.iter().map(|m| m.total_summary().mean));
    let mut t = table(&[
        "mode",
        "total",
        "connections",
        "SYN",
        "FIN",
        "packets",
        "handshakes",
        "slow-start rounds",
    ]);
    for m in &cmp.modes {
        let runs = m.runs.len().max(1) as f64;
        let per_run = |n: u64| units::count(n as f64 / runs);
        let quic = m.quic_totals();
        let counted: [String; 4] = match (m.totals(), &quic) {
            // QUIC has no SYN or FIN: its connections and packets, as tshark counts them.
            (_, Some(q)) => [
                per_run(q.connections),
                "—".to_owned(),
                "—".to_owned(),
                per_run(q.to_server.packets.total() + q.to_client.packets.total()),
            ],
            (Some(t), None) => [
                per_run(t.connections),
                per_run(t.counts.syn),
                per_run(t.counts.fin),
                per_run(t.counts.packets),
            ],
            (None, None) => std::array::from_fn(|_| "—".to_owned()),
        };
        let measured = m.measured();
        let handshakes = match &quic {
            Some(q) => q.handshake_s / runs,
            None => measured.handshake_s + measured.tls_s,
        };
        t.add_row(glued(
            [
                m.mode.name().to_owned(),
                unit.format(m.total_summary().mean),
            ]
            .into_iter()
            .chain(counted)
            .chain([unit.format(handshakes), rounds(m)]),
        ));
    }
    t
}

/// The packet-timed rounds of every response of a run, mean over the runs; "—" without capture.
fn rounds(m: &ModeResult) -> String {
    if m.capture.is_none() || m.quic_totals().is_some() {
        return "—".into();
    }
    let rounds: u64 = m
        .runs
        .iter()
        .flat_map(|r| &r.connections)
        .flat_map(|c| &c.exchanges)
        .map(|x| x.rounds.len() as u64)
        .sum();
    units::count(rounds as f64 / m.runs.len().max(1) as f64)
}
