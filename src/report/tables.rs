//! Report layer: the tables synack prints, as `comfy_table::Table` values.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, Table};

use super::{percent, secs};
use crate::analysis::attribution::Attribution;
use crate::analysis::comparison::{Comparison, ModeResult};
use crate::analysis::expected::CountCheck;
use crate::analysis::model::Prediction;
use crate::analysis::phases::Phases;
use crate::analysis::stats::{Summary, mean};
use crate::track::{Connection, Totals};
use crate::transfer::client::Mode;

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_header(header.to_vec());
    for i in 1..header.len() {
        if let Some(col) = t.column_mut(i) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

fn summary_cells(s: &Summary) -> [String; 3] {
    [
        format!("{} ± {}", secs(s.mean), secs(s.stddev)),
        secs(s.median),
        format!("{} … {}", secs(s.min), secs(s.max)),
    ]
}

/// Timing per mode and file over the rounds, plus each mode's run total.
pub fn timing_table(cmp: &Comparison) -> Table {
    let mut t = table(&[
        "mode",
        "file",
        "mean ± σ (s)",
        "median (s)",
        "min … max (s)",
    ]);
    for m in &cmp.modes {
        for (i, file) in cmp.files.iter().enumerate() {
            let values: Vec<f64> = m
                .runs
                .iter()
                .filter_map(|r| r.timing.files.get(i).map(|f| f.seconds))
                .collect();
            let [a, b, c] = summary_cells(&Summary::of(&values));
            t.add_row(vec![m.mode.name().to_string(), file.name.clone(), a, b, c]);
        }
        let [a, b, c] = summary_cells(&m.total_summary());
        t.add_row(vec![
            Cell::new(m.mode.name()),
            Cell::new(format!("total per run ({} runs)", m.runs.len())),
            Cell::new(a),
            Cell::new(b),
            Cell::new(c),
        ]);
    }
    t
}

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
        let per_run = if per_run.fract() == 0.0 {
            format!("{per_run:.0}")
        } else {
            format!("{per_run:.2}")
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
        t.add_row(vec![
            c.name.to_string(),
            c.observed.to_string(),
            expected,
            per_run,
            expected_per_run,
            mark,
        ]);
    }
    if let Some(col) = t.column_mut(5) {
        col.set_cell_alignment(CellAlignment::Left);
    }
    t
}

/// Mean phase times per run for each mode.
pub fn phase_table(cmp: &Comparison) -> Table {
    let mut t = table(&[
        "mode",
        "handshakes",
        "client work",
        "request wait",
        "transfer",
        "between conns",
        "= first SYN → last byte",
        "run total",
        "teardown (overlaps)",
        "source",
    ]);
    for m in &cmp.modes {
        let avg = |f: fn(&Phases) -> f64| secs(mean(m.runs.iter().map(|r| f(&r.phases))));
        t.add_row(vec![
            m.mode.name().to_string(),
            avg(|p| p.handshake_s),
            avg(|p| p.client_s),
            avg(|p| p.wait_s),
            avg(|p| p.transfer_s),
            avg(|p| p.between_s),
            avg(|p| p.timeline_s),
            secs(m.total_summary().mean),
            avg(|p| p.teardown_s),
            format!("{:?}", m.source).to_lowercase(),
        ]);
    }
    t
}

/// The gap between a mode and persistent split into rows that sum to it.
pub fn attribution_table(a: &Attribution, mode: Mode) -> Table {
    let mut t = table(&["where the gap goes", "seconds", "share"]);
    for (label, value) in a.rows() {
        t.add_row(vec![
            label.to_string(),
            secs(value),
            percent(value, a.gap_s),
        ]);
    }
    t.add_row(vec![
        format!("gap: mean({}) − mean(persistent)", mode.name()),
        secs(a.gap_s),
        percent(a.gap_s, a.gap_s),
    ]);
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
    ] {
        t.add_row(vec![name.to_string(), value.to_string()]);
    }
    t
}

fn opt_secs(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), secs)
}

/// One row per connection, with a "… N more" row for the `hidden` ones not given.
pub fn connection_table(conns: &[Connection], hidden: usize) -> Table {
    let mut t = table(&[
        "#",
        "client",
        "server",
        "SYN",
        "SYN-ACK",
        "pure ACK",
        "data",
        "FIN",
        "RST",
        "retrans",
        "dup ACK",
        "requests",
        "handshake (s)",
        "teardown (s)",
        "closed first",
        "state",
    ]);
    for c in conns {
        let client = if c.syn_seen {
            c.client.to_string()
        } else {
            format!("{} (guessed)", c.client)
        };
        let closer = c.first_fin.map_or("—", |f| f.1.name());
        t.add_row(vec![
            c.stream.to_string(),
            client,
            c.server.to_string(),
            c.counts.syn.to_string(),
            c.counts.synack.to_string(),
            c.counts.pure_ack.to_string(),
            c.counts.data.to_string(),
            c.counts.fin.to_string(),
            c.counts.rst.to_string(),
            c.counts.retransmissions.to_string(),
            c.counts.dup_acks.to_string(),
            c.exchanges.len().to_string(),
            opt_secs(c.handshake_s()),
            opt_secs(c.teardown_s()),
            closer.to_string(),
            c.final_state().name().to_string(),
        ]);
    }
    if hidden > 0 {
        t.add_row(vec![format!("… {hidden} more (--all shows them)")]);
    }
    t
}

/// Phase times of a capture's connections taken in order.
pub fn phase_summary_table(p: &Phases) -> Table {
    let mut t = table(&["phase", "seconds", "share of first SYN → last byte"]);
    for (name, v) in [
        ("handshakes", p.handshake_s),
        ("client work", p.client_s),
        ("request wait", p.wait_s),
        ("transfer", p.transfer_s),
        ("between connections", p.between_s),
    ] {
        t.add_row(vec![name.to_string(), secs(v), percent(v, p.timeline_s)]);
    }
    t.add_row(vec![
        "first SYN → last byte".to_string(),
        secs(p.timeline_s),
        percent(p.timeline_s, p.timeline_s),
    ]);
    t.add_row(vec![
        "teardown (overlaps)".to_string(),
        secs(p.teardown_s),
        String::new(),
    ]);
    t
}

/// The textbook model beside the measured mean, with a line on large differences.
pub fn model_table(cmp: &Comparison, predictions: &[(Mode, Prediction)]) -> Table {
    let mut t = table(&[
        "mode",
        "measured mean (s)",
        "model (s)",
        "difference",
        "model: round trips + slow start + serialisation",
        "flights (model / captured)",
        "why they differ",
    ]);
    let path = cmp.path_model();
    for (mode, p) in predictions {
        let Some(m) = cmp.mode(*mode) else { continue };
        let measured = m.total_summary().mean;
        let captured: u32 = m
            .flights_per_file(cmp.files.len())
            .iter()
            .map(|runs| median_u32(runs))
            .sum();
        let difference = if p.total_s > 0.0 {
            format!("{:+.1}%", 100.0 * (measured - p.total_s) / p.total_s)
        } else {
            "—".into()
        };
        t.add_row(vec![
            mode.name().to_string(),
            secs(measured),
            secs(p.total_s),
            difference,
            format!(
                "{} + {} + {}",
                secs(p.round_trips_s),
                secs(p.slow_start_s),
                secs(p.serialisation_s)
            ),
            format!("{} / {}", p.flights, captured),
            explain(measured, p, m, path.rtt_s),
        ]);
    }
    if let Some(col) = t.column_mut(6) {
        col.set_cell_alignment(CellAlignment::Left);
    }
    t
}

fn median_u32(values: &[u32]) -> u32 {
    let mut v = values.to_vec();
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

/// One line on why measurement and model differ, when they differ by more than a quarter.
fn explain(measured: f64, p: &Prediction, m: &ModeResult, rtt_s: f64) -> String {
    let off = (measured - p.total_s).abs();
    if p.total_s > 0.0 && off / p.total_s <= 0.25 {
        return String::new();
    }
    let retransmissions = m.retransmissions();
    if rtt_s < 0.001 {
        "round trips are microseconds here: system calls, copying and scheduling dominate".into()
    } else if retransmissions > 0 && measured > p.total_s {
        format!("{retransmissions} retransmissions: losses cost extra round trips or timeouts")
    } else if m.mode == Mode::Parallel && measured > p.total_s {
        "parallel connections share one path, and each starts in slow start".into()
    } else if measured > p.total_s {
        "delayed ACKs (up to 40 ms), slow start after idle, or server time; see the phases".into()
    } else {
        "the window grew past the model's (carried over between files, or a larger initial window)"
            .into()
    }
}

/// TCP_INFO on the server's socket when each response starts and ends, and the flights each
/// response took in the capture: medians over the rounds.
pub fn slow_start_table(cmp: &Comparison) -> Table {
    let mut t = table(&[
        "mode",
        "file",
        "cwnd at start → end (segments)",
        "ssthresh at end",
        "smoothed RTT at end (ms)",
        "retransmits (end)",
        "delivery rate at end (Mbit/s)",
        "flights (capture)",
    ]);
    for m in &cmp.modes {
        let flights = m.flights_per_file(cmp.files.len());
        for (i, (file, path)) in cmp.files.iter().zip(&cmp.paths).enumerate() {
            let samples: Vec<_> = m.samples_for(path).collect();
            let med = |f: &dyn Fn(&crate::transfer::server::ResponseSample) -> Option<u32>| {
                let v: Vec<u32> = samples.iter().filter_map(|s| f(s)).collect();
                if v.is_empty() {
                    "—".to_string()
                } else {
                    median_u32(&v).to_string()
                }
            };
            let rate: Vec<u64> = samples
                .iter()
                .filter_map(|s| s.at_end.map(|e| e.delivery_rate_bps))
                .collect();
            let mut rate_sorted = rate.clone();
            rate_sorted.sort_unstable();
            let srtt: Vec<u32> = samples
                .iter()
                .filter_map(|s| s.at_end.map(|e| e.srtt_us))
                .collect();
            t.add_row(vec![
                m.mode.name().to_string(),
                file.name.clone(),
                format!(
                    "{} → {}",
                    med(&|s| s.at_start.map(|x| x.cwnd)),
                    med(&|s| s.at_end.map(|x| x.cwnd))
                ),
                med(&|s| s.at_end.and_then(|x| x.ssthresh)),
                if srtt.is_empty() {
                    "—".into()
                } else {
                    format!("{:.3}", f64::from(median_u32(&srtt)) / 1000.0)
                },
                med(&|s| s.at_end.map(|x| x.total_retrans)),
                rate_sorted
                    .get(rate_sorted.len() / 2)
                    .map_or_else(|| "—".into(), |r| format!("{:.1}", *r as f64 / 1e6)),
                flights
                    .get(i)
                    .filter(|f| !f.is_empty())
                    .map_or_else(|| "—".into(), |f| median_u32(f).to_string()),
            ]);
        }
    }
    t
}
