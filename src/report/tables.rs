//! Report layer: the tables synack prints, as `comfy_table::Table` values.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, Table};

use super::units::TimeUnit;
use super::width::{GLUE, glue};
use super::{percent, text};
use crate::analysis::attribution::Attribution;
use crate::analysis::comparison::{Comparison, ModeResult, ResponseStats};
use crate::analysis::expected::{CountCheck, sequence_analysis};
use crate::analysis::model::{ModelGap, Prediction};
use crate::analysis::phases::{PhaseSource, Phases};
use crate::analysis::stats::{Summary, mean};
use crate::track::tls::{ReadStop, TlsHandshake, TlsTotals};
use crate::track::{Connection, Side, Totals};
use crate::transfer::run::Mode;

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED).set_header(glued(
        header.iter().map(ToString::to_string).collect::<Vec<_>>(),
    ));
    for i in 1..header.len() {
        if let Some(col) = t.column_mut(i) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

/// A row's cells with each number kept with what follows it ("8.46 ms"), so that a narrowed
/// table never wraps a figure away from its unit.
fn glued<S: AsRef<str>>(cells: impl IntoIterator<Item = S>) -> Vec<String> {
    cells.into_iter().map(|c| glue(c.as_ref())).collect()
}

/// "mean ± σ", the median and "min … max", each one value that a narrowed table keeps on one
/// line: a spread cut at its "±" or "…" reads as two figures.
fn summary_cells(s: &Summary, unit: TimeUnit) -> [String; 3] {
    let whole = |a: f64, between: &str, b: f64| {
        format!("{}{GLUE}{between}{GLUE}{}", unit.format(a), unit.format(b))
    };
    [
        whole(s.mean, "±", s.stddev),
        unit.format(s.median),
        whole(s.min, "…", s.max),
    ]
}

/// Timing per mode and file over the rounds, plus each mode's run total (first connect → last
/// byte). With `files_shown`, only that many files per mode: the slowest by mean.
pub fn timing_table(cmp: &Comparison, files_shown: Option<usize>) -> Table {
    let mut t = table(&["mode", "file", "mean ± σ", "median", "min … max"]);
    let mut rows: Vec<(String, String, Summary)> = Vec::new();
    for m in &cmp.modes {
        let mut per_file: Vec<(String, Summary)> = cmp
            .files
            .iter()
            .enumerate()
            .map(|(i, file)| {
                let values: Vec<f64> = m
                    .runs
                    .iter()
                    .filter_map(|r| r.timing.files.get(i).map(|f| f.seconds))
                    .collect();
                (file.name.clone(), Summary::of(&values))
            })
            .collect();
        if let Some(shown) = files_shown.filter(|&n| n < per_file.len()) {
            let hidden = per_file.len() - shown;
            per_file.sort_by(|a, b| b.1.mean.total_cmp(&a.1.mean));
            per_file.truncate(shown);
            per_file.push((
                format!("({hidden} faster files not shown)"),
                Summary::default(),
            ));
        }
        for (name, summary) in per_file {
            rows.push((m.mode.name().to_string(), name, summary));
        }
        rows.push((
            m.mode.name().to_string(),
            format!("total per run ({} runs)", m.runs.len()),
            m.total_summary(),
        ));
    }
    let unit = TimeUnit::for_column(rows.iter().map(|r| r.2.median));
    for (mode, name, summary) in rows {
        if summary == Summary::default() {
            t.add_row(glued(vec![mode, name]));
            continue;
        }
        let [a, b, c] = summary_cells(&summary, unit);
        t.add_row(glued(vec![mode, name, a, b, c]));
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
        let (observed, per_run) = if c.name == "bytes" {
            (
                super::units::bytes(c.observed as f64),
                super::units::bytes(per_run),
            )
        } else {
            (c.observed.to_string(), super::units::count(per_run))
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

/// How the variants table is laid out for the terminal's width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VariantsLayout {
    /// One table, every cell on one line.
    Wide,
    /// One table whose long headings and gap cells take two lines, broken between words.
    Narrow,
    /// Two tables: the means per mode, then the gap and its handshake rows.
    Split,
}

/// One row per variant: each mode's mean per run, then the first slower mode's gap against
/// persistent with its 95 % confidence interval, and the TCP and TLS handshakes' rows of it; in
/// one table or two (see [`VariantsLayout`]).
pub fn variants_tables(compared: &[(&str, &Comparison)], layout: VariantsLayout) -> Vec<Table> {
    let narrow = layout == VariantsLayout::Narrow;
    let modes: Vec<Mode> = compared
        .first()
        .map(|(_, c)| c.modes.iter().map(|m| m.mode).collect())
        .unwrap_or_default();
    let mode_headings = modes.iter().map(|m| match m.name() {
        name if narrow => name.replacen('-', "-\n", 1),
        name => name.to_owned(),
    });
    let gap = if narrow {
        "gap\n± 95 % CI"
    } else {
        "gap ± 95 % CI"
    };
    let gap_headings = [gap.to_owned(), "TCP hs.".into(), "TLS hs.".into()];
    let means: Vec<f64> = compared
        .iter()
        .flat_map(|(_, c)| c.modes.iter().map(|m| m.total_summary().mean))
        .collect();
    let unit = TimeUnit::for_column(means);
    let rows: Vec<VariantRow> = compared
        .iter()
        .map(|(name, cmp)| VariantRow {
            name: (*name).to_owned(),
            means: cmp
                .modes
                .iter()
                .map(|m| unit.format(m.total_summary().mean))
                .collect(),
            gap: match cmp.attributions().first() {
                Some((_, a)) => vec![
                    match a.interval {
                        // Welch's interval is symmetric about the gap.
                        Some(i) => format!(
                            "{}{}± {}",
                            unit.format_signed(a.gap_s),
                            if narrow { "\n" } else { " " },
                            unit.format((i.high - i.low) / 2.0)
                        ),
                        None => unit.format_signed(a.gap_s),
                    },
                    unit.format_signed(a.handshake_s),
                    a.tls_s.map_or("—".into(), |s| unit.format_signed(s)),
                ],
                None => vec!["—".into(); 3],
            },
        })
        .collect();
    let variant = std::iter::once("variant".to_owned());
    if layout == VariantsLayout::Split {
        return vec![
            rows_table(variant.clone().chain(mode_headings), &rows, |row| {
                row.means.clone()
            }),
            rows_table(variant.chain(gap_headings), &rows, |row| row.gap.clone()),
        ];
    }
    vec![rows_table(
        variant.chain(mode_headings).chain(gap_headings),
        &rows,
        |row| row.means.iter().chain(&row.gap).cloned().collect(),
    )]
}

/// One variant's cells: its name, its means per mode, its gap and the gap's handshake rows.
struct VariantRow {
    name: String,
    means: Vec<String>,
    gap: Vec<String>,
}

/// A table of `rows` under `headings`, each row its name then the cells `pick` takes from it.
fn rows_table(
    headings: impl Iterator<Item = String>,
    rows: &[VariantRow],
    pick: impl Fn(&VariantRow) -> Vec<String>,
) -> Table {
    let headings: Vec<String> = headings.collect();
    let header: Vec<&str> = headings.iter().map(String::as_str).collect();
    let mut t = table(&header);
    for row in rows {
        t.add_row(glued(std::iter::once(row.name.clone()).chain(pick(row))));
    }
    t
}

/// Mean phase times per run, a column per mode: the partition of first SYN → last byte, the
/// run total, and what follows the last byte.
pub fn phase_table(cmp: &Comparison) -> Table {
    let mut header = vec!["mean per run"];
    header.extend(cmp.modes.iter().map(|m| m.mode.name()));
    let mut t = table(&header);
    type Pick = fn(&crate::analysis::comparison::RunResult) -> f64;
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

/// The gap between a mode and persistent split into rows that sum to it.
pub fn attribution_table(a: &Attribution, mode: Mode, source: PhaseSource) -> Table {
    let mut t = table(&["where the gap goes", "time", "share"]);
    let rows = a.rows();
    // The gap sets the unit: its rows are shares of it. A gap its interval cannot tell from
    // zero has no shares worth reading (a row of a millisecond would be "−800 %" of it).
    let unit = TimeUnit::of(a.gap_s);
    let share = |value: f64| match a.interval {
        Some(i) if !i.excludes_zero() => "—".to_string(),
        _ => percent(value, a.gap_s),
    };
    for (row, value) in rows {
        t.add_row(glued(vec![
            text::row_label(row, source).to_string(),
            unit.format_signed(value),
            share(value),
        ]));
    }
    t.add_row(glued(vec![
        format!("gap: mean({}) − mean(persistent)", mode.name()),
        unit.format_signed(a.gap_s),
        share(a.gap_s),
    ]));
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

/// analyze's TLS phase, named with its span.
const TLS_PHASE: &str = "TLS (SYN-ACK → handshake done)";

/// One row per connection, with a "… N more" row for the `hidden` ones not given. Counts of a
/// kind share a column (SYN/SYN-ACK/FIN/RST, pure ACK/data, retransmissions/duplicate ACKs) so
/// the table stays narrow; the server column is left out when every connection has the same
/// server (the caller names it).
pub fn connection_table(conns: &[Connection], hidden: usize) -> Table {
    let one_server = one_server(conns).is_some();
    let mut header = vec!["#", "client"];
    if !one_server {
        header.push("server");
    }
    header.extend([
        "S/SA/F/R",
        "ACK/data",
        "retr/dup",
        "req",
        "handshake",
        "teardown",
        "closer",
        "state",
    ]);
    // An address is one word, kept whole by the fitting; "(guessed)" after it may wrap.
    let mut t = table(&header);
    let times: Vec<f64> = conns
        .iter()
        .flat_map(|c| [c.handshake_s(), c.teardown_s()])
        .flatten()
        .collect();
    let unit = TimeUnit::for_column(times);
    let time = |v: Option<f64>| v.map_or_else(|| "—".to_string(), |s| unit.format(s));
    for c in conns {
        let client = if c.syn_seen {
            c.client.to_string()
        } else {
            format!("{} (guessed)", c.client)
        };
        let n = &c.counts;
        let mut row = vec![c.stream.to_string(), client];
        if !one_server {
            row.push(c.server.to_string());
        }
        row.extend([
            format!("{}/{}/{}/{}", n.syn, n.synack, n.fin, n.rst),
            format!("{}/{}", n.pure_ack, n.data),
            format!("{}/{}", n.retransmissions, n.dup_acks),
            c.requests().to_string(),
            time(c.handshake_s()),
            time(c.teardown_s()),
            // Who closed: the first FIN's sender, else the reset's.
            c.first_fin
                .map(|f| f.1)
                .or(c.rst_by)
                .map_or("—", Side::name)
                .to_string(),
            c.final_state().name().to_string(),
        ]);
        t.add_row(glued(row));
    }
    if hidden > 0 {
        t.add_row(glued(vec![
            "…".to_string(),
            format!("{hidden} more (--all)"),
        ]));
    }
    t
}

/// The server every connection in `conns` went to, when there is one.
pub fn one_server(conns: &[Connection]) -> Option<std::net::SocketAddr> {
    let first = conns.first()?.server;
    conns.iter().all(|c| c.server == first).then_some(first)
}

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

/// The model beside the measured mean: its terms and the difference.
pub fn model_table(gaps: &[(Mode, Prediction, ModelGap)]) -> Table {
    let mut t = table(&[
        "mode",
        "measured",
        "model",
        "= handshakes + requests + slow start + serialisation",
        "difference",
    ]);
    // One unit for the totals and their terms, so a term of milliseconds beside seconds of
    // serialisation keeps its digits.
    let unit = TimeUnit::for_column(gaps.iter().flat_map(|(_, p, g)| {
        [
            p.total_s,
            g.measured_s,
            p.handshakes_s + p.tls_handshakes_s,
            p.requests_s,
            p.slow_start_s,
            p.serialisation_s,
        ]
    }));
    for (mode, p, gap) in gaps {
        let difference = if p.total_s > 0.0 {
            // The minus sign the rest of the report writes, not a hyphen.
            format!("{:+.1}%", 100.0 * (gap.measured_s - p.total_s) / p.total_s).replace('-', "−")
        } else {
            "—".into()
        };
        t.add_row(glued(vec![
            mode.name().to_string(),
            unit.format(gap.measured_s),
            unit.format(p.total_s),
            format!(
                "{} + {} + {} + {}",
                // TCP's and TLS's round trips before each request.
                unit.format(p.handshakes_s + p.tls_handshakes_s),
                unit.format(p.requests_s),
                unit.format(p.slow_start_s),
                unit.format(p.serialisation_s)
            ),
            difference,
        ]));
    }
    t
}

/// Per mode and file: the server's window as the response started and once acknowledged; the
/// first round's segments beside that window, the client's advertised window and the rounds, from
/// the capture; and how long the receive window or the send buffer held the server back
/// (TCP_INFO's limit counters).
pub fn slow_start_table(stats: &[ResponseStats]) -> Table {
    let mut t = table(&[
        "mode",
        "file",
        "cwnd → acked",
        "1st flight",
        "client rwnd",
        "rounds",
        "busy",
        "rwnd limited",
        "sndbuf limited",
    ]);
    let micros = |v: Option<u64>| v.map(|us| us as f64 / 1e6);
    let unit = TimeUnit::for_column(stats.iter().filter_map(|s| micros(s.busy_us)));
    let show = |v: Option<f64>| v.map_or_else(|| "—".to_string(), |s| unit.format(s));
    let segments = |v: Option<u32>| v.map_or_else(|| "—".to_string(), |v| v.to_string());
    for s in stats {
        t.add_row(glued(vec![
            s.mode.name().to_string(),
            s.file.clone(),
            format!(
                "{} → {}{}",
                segments(s.cwnd_start),
                segments(s.cwnd_end),
                if s.sampled_short() { " †" } else { "" }
            ),
            format!(
                "{} / {}{}",
                segments(s.first_flight),
                segments(s.cwnd_start),
                if s.rounds_ran_together() { " *" } else { "" }
            ),
            s.client_window
                .map_or_else(|| "—".to_string(), |w| super::units::bytes(w as f64)),
            segments(s.rounds),
            show(micros(s.busy_us)),
            show(micros(s.rwnd_limited_us)),
            show(micros(s.sndbuf_limited_us)),
        ]));
    }
    t
}

/// One row per connection that spoke TLS: version, resumption, early data, and the times from
/// its ClientHello to each side's first application data record.
pub fn tls_table(conns: &[Connection]) -> Table {
    let mut t = table(&[
        "#",
        "version",
        "hellos C/S/HRR",
        "resumed",
        "early data",
        "handshake",
        "→ server data",
        "read",
    ]);
    let tls: Vec<(&Connection, &TlsHandshake)> =
        conns.iter().filter_map(|c| Some((c, c.tls()?))).collect();
    let unit = TimeUnit::for_column(
        tls.iter()
            .flat_map(|(_, h)| [h.handshake_s(), h.server_data_s()])
            .flatten(),
    );
    let time = |v: Option<f64>| v.map_or_else(|| "—".to_string(), |s| unit.format(s));
    for (c, h) in tls {
        let early = match (h.early_data_offered, h.early_data_records) {
            (false, 0) => "no".to_string(),
            (true, 0) => "offered".to_string(),
            (_, 1) => "1 record".to_string(),
            (_, n) => format!("{n} records"),
        };
        let read = match (h.client_stop, h.server_stop) {
            (Some(ReadStop::Gap), _) | (_, Some(ReadStop::Gap)) => "gap",
            (Some(ReadStop::NotTls), _) | (_, Some(ReadStop::NotTls)) => "not TLS",
            _ if h.client_cut || h.server_cut => "cut",
            _ => "ok",
        };
        t.add_row(glued(vec![
            c.stream.to_string(),
            h.version
                .map_or_else(|| "—".to_string(), text::protocol_version),
            format!(
                "{}/{}/{}",
                h.client_hellos(),
                h.server_hellos(),
                h.hello_retry_requests
            ),
            text::resumption(h.resumption).to_string(),
            early,
            time(h.handshake_s()),
            time(h.server_data_s()),
            read.to_string(),
        ]));
    }
    t
}

/// TLS over all connections: versions, resumptions, early data, and every plaintext handshake
/// message type seen.
pub fn tls_totals_table(totals: &TlsTotals) -> Table {
    let mut t = table(&["TLS", "count"]);
    let mut row = |name: String, n: u64| {
        t.add_row(glued(vec![name, n.to_string()]));
    };
    row("connections".into(), totals.connections);
    for (&v, &n) in &totals.versions {
        row(text::protocol_version(v), n);
    }
    row("resumed".into(), totals.resumed);
    row("early data offered".into(), totals.early_data_offered);
    row("early data sent".into(), totals.early_data_sent);
    row(
        "HelloRetryRequest (in ServerHello)".into(),
        totals.hello_retry_requests,
    );
    if totals.incomplete > 0 {
        row("read with cuts or gaps".into(), totals.incomplete);
    }
    for (msg_type, n) in totals.messages.iter() {
        row(text::handshake_type(msg_type), u64::from(n));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spread_is_never_cut_at_its_sign_in_a_narrow_table() {
        let runs = Summary::of(&[0.2011, 0.2043, 0.2061]);
        let unit = TimeUnit::for_column([runs.median]);
        let mut t = table(&["mode", "file", "mean ± σ", "median", "min … max"]);
        let [spread, median, range] = summary_cells(&runs, unit);
        t.add_row(glued([
            "non-persistent".to_string(),
            "total per run (3 runs)".to_string(),
            spread,
            median,
            range,
        ]));
        let plain =
            |a: f64, sign: &str, b: f64| format!("{} {sign} {}", unit.format(a), unit.format(b));
        for width in [50, 60, 80, 100] {
            let out = super::super::width::fit_in_parts_text(t.clone(), Some(width), 2);
            assert!(
                out.lines().all(|l| l.chars().count() <= usize::from(width)),
                "{out}"
            );
            assert!(
                out.contains(&plain(runs.mean, "±", runs.stddev)),
                "{width}:\n{out}"
            );
            assert!(
                out.contains(&plain(runs.min, "…", runs.max)),
                "{width}:\n{out}"
            );
        }
    }

    fn stats(mode: Mode, first_flight: Option<u32>, acked: (usize, usize)) -> ResponseStats {
        ResponseStats {
            mode,
            file: "b.mp3".into(),
            cwnd_start: Some(10),
            cwnd_end: Some(40),
            rounds: first_flight.map(|_| 6),
            first_flight,
            client_window: Some(63_488),
            busy_us: Some(120_000),
            rwnd_limited_us: Some(8_000),
            sndbuf_limited_us: Some(0),
            acked,
        }
    }

    #[test]
    fn the_slow_start_table_marks_rounds_run_together_and_windows_sampled_short() {
        let rows = [
            // A first round of 12 segments with a window of 10: two rounds run together.
            stats(Mode::NonPersistent, Some(12), (2, 2)),
            // Sampled before its last ACK in one of two rounds.
            stats(Mode::Pipelined, None, (1, 2)),
            stats(Mode::Persistent, Some(7), (2, 2)),
        ];
        let text = super::super::width::fit(slow_start_table(&rows), None).to_string();
        let line = |mode: &str| {
            text.lines()
                .find(|l| l.contains(mode))
                .unwrap_or_else(|| panic!("{mode}: {text}"))
        };
        assert!(line("non-persistent").contains("12 / 10 *"), "{text}");
        assert!(!line("non-persistent").contains('†'), "{text}");
        assert!(line("pipelined").contains("10 → 40 †"), "{text}");
        let persistent = line("│ persistent");
        assert!(
            !persistent.contains('*') && !persistent.contains('†'),
            "{text}"
        );
    }
}
