//! Report layer: the words of the terminal report — headings, row labels, the opening sentence —
//! and the whole comparison report as one `String` for the command to print.

use std::fmt::Write as _;
use std::path::Path;

use super::tables;
use super::tables::VariantsLayout;
use super::units::{self, TimeUnit, count, duration};
use super::width::{fit, fit_in_parts_text, natural_width, wrap_prose};
use crate::analysis::attribution::{Attribution, Row};
use crate::analysis::comparison::{
    Comparison, FastOpen, FlightLimit, ModeResult, ResponseStats, TlsSessions, TlsSettings,
};
use crate::analysis::model::{Effect, ModelGap, PathModel, Release};
use crate::analysis::pattern::Pattern;
use crate::analysis::phases::PhaseSource;
use crate::analysis::phases::Phases;
use crate::track::reader::FrameCounts;
use crate::track::tls::{ProtocolVersion, Resumption, TlsTotals};
use crate::track::{Connection, Totals};
use crate::transfer::run::{Mode, RunTiming};
use crate::transfer::tls::TlsVersion;

/// Below this measured round trip the network is not what the comparison shows.
const LOOPBACK_RTT_S: f64 = 0.001;

/// Files from which the timing table shows only the slowest per mode.
const MANY_FILES: usize = 10;

/// Slowest files shown per mode when there are many.
const SLOWEST_SHOWN: usize = 5;

/// A cause is named in the sentence when it holds at least this share of the gap.
const NAMED_SHARE: f64 = 0.1;

/// The label of an attribution row, its instants as `source` timed them (packets, or the
/// client's calls without a capture).
pub fn row_label(row: Row, source: PhaseSource) -> &'static str {
    let captured = source == PhaseSource::Capture;
    match row {
        Row::Handshakes if captured => "extra handshakes (SYN → SYN-ACK)",
        Row::Handshakes => "extra handshakes (connect() → connected)",
        Row::TlsHandshakes if captured => "extra TLS handshakes (SYN-ACK → handshake done)",
        Row::TlsHandshakes => "extra TLS handshakes (connected → handshake done)",
        Row::ClosingAndReconnecting if captured => {
            "closing and reconnecting (last byte → next SYN)"
        }
        Row::ClosingAndReconnecting => "closing and reconnecting (last byte → next connect())",
        Row::SlowStartRounds => "slow-start round trips (extra rounds × RTT)",
        Row::TransferRest => "transfer beyond the round trips",
        Row::RequestWait => "request wait (request → first byte)",
        Row::ClientWork => "client work before requests",
        Row::Remainder if captured => "remainder (connect() → first SYN, and reading)",
        Row::Remainder => "remainder",
    }
}

/// The opening lines: on loopback, that round trips are microseconds; then one sentence per mode
/// compared with persistent.
pub fn opening(cmp: &Comparison) -> Vec<String> {
    let mut lines = Vec::new();
    let rtt = cmp.measured_rtt_s();
    // Not over an emulated link (its loss or rate is the network after all); where segments
    // were resent, their waits are named beside the copying.
    if cmp.link.is_none() && rtt < LOOPBACK_RTT_S {
        let resent = cmp.resent();
        let why = if resent == 0 {
            "so the modes differ by system calls and copying, not by the network".to_string()
        } else {
            format!(
                "so the modes differ by system calls and copying, and by the waits of {} sent \
                 again (retransmissions and out-of-order, as Wireshark marks them)",
                crate::words::counted(resent, "segment", "segments")
            )
        };
        lines.push(format!(
            "Round trips here take microseconds (median handshake {}), {why}: add --rtt 40ms to \
             emulate a real path.",
            duration(rtt)
        ));
    }
    for (mode, a) in cmp.attributions() {
        let slower_mean = cmp.mode(mode).map_or(0.0, |m| m.total_summary().mean);
        lines.push(verdict(mode, &a, slower_mean, rtt, cmp.rounds));
    }
    lines
}

/// One plain sentence on the gap between `mode` and persistent: how large, how sure, and the
/// causes that hold most of it, each with the count that backs it.
pub fn verdict(mode: Mode, a: &Attribution, slower_mean: f64, rtt_s: f64, rounds: usize) -> String {
    let Some(interval) = a.interval else {
        let unit = TimeUnit::of(a.gap_s);
        return format!(
            "{} against persistent: {} per run over one round, which cannot tell a difference \
             from noise (use --rounds 2 or more).",
            mode.name(),
            unit.format_signed(a.gap_s)
        );
    };
    let unit = TimeUnit::of(
        a.gap_s
            .abs()
            .max(interval.low.abs())
            .max(interval.high.abs()),
    );
    let ci = format!(
        "{:.0} % CI {} … {}",
        100.0 * interval.level,
        unit.format_signed(interval.low),
        unit.format_signed(interval.high)
    );
    if !interval.excludes_zero() {
        return format!(
            "{} against persistent: no difference distinguishable from noise at {rounds} rounds \
             ({ci}).",
            mode.name()
        );
    }
    let (faster, slower, share_of) = if a.gap_s > 0.0 {
        (Mode::Persistent, mode, slower_mean)
    } else {
        (mode, Mode::Persistent, slower_mean - a.gap_s)
    };
    // The interval of the difference the sentence states (slower − faster), so it reads with
    // the same sign whichever mode was faster.
    let ci = if a.gap_s > 0.0 {
        ci
    } else {
        format!(
            "{:.0} % CI {} … {}",
            100.0 * interval.level,
            unit.format_signed(-interval.high),
            unit.format_signed(-interval.low)
        )
    };
    let percent = if share_of > 0.0 {
        format!(" ({:.0} %)", 100.0 * a.gap_s.abs() / share_of)
    } else {
        String::new()
    };
    let mut sentence = format!(
        "{} was {}{percent} faster per run than {} ({ci})",
        faster.name(),
        unit.format(a.gap_s.abs()),
        slower.name()
    );
    let is_cause =
        |s: f64| s.signum() == a.gap_s.signum() && s.abs() >= NAMED_SHARE * a.gap_s.abs();
    // The transfer's two rows split one phase: either is named only when the transfer as a
    // whole differs in the gap's direction (extra rounds offset by a shorter rest did not make
    // the slower mode slower).
    let transfer_is_cause = is_cause(a.transfer_s);
    let mut causes: Vec<(Row, f64)> = a
        .rows()
        .into_iter()
        .filter(|&(row, s)| {
            let transfer_row = matches!(row, Row::SlowStartRounds | Row::TransferRest);
            row != Row::Remainder && is_cause(s) && (!transfer_row || transfer_is_cause)
        })
        .collect();
    causes.sort_by(|x, y| y.1.abs().total_cmp(&x.1.abs()));
    let named: Vec<String> = causes
        .iter()
        .map(|&(row, s)| cause(mode, row, s, a, rtt_s, rounds))
        .collect();
    if !named.is_empty() {
        let _ = write!(sentence, ": {}", named.join(", "));
    }
    sentence.push('.');
    sentence
}

/// "2 extra handshakes", "1 fewer connection": a difference in count, worded.
fn how_many(difference: f64, thing: &str) -> String {
    let n = difference.abs();
    format!(
        "{} {} {thing}{}",
        count(n),
        if difference >= 0.0 { "extra" } else { "fewer" },
        if n == 1.0 { "" } else { "s" }
    )
}

fn cause(mode: Mode, row: Row, seconds: f64, a: &Attribution, rtt_s: f64, rounds: usize) -> String {
    let time = duration(seconds.abs());
    match row {
        Row::Handshakes => {
            // Each handshake's mean share beside the median round trip: the two differ where
            // handshakes waited for a resent SYN or SYN-ACK, or jitter stretched them. Parallel
            // handshakes overlap, so the phase holds no one handshake's time.
            let each = if a.extra_connections.abs() >= 0.5 && mode != Mode::Parallel {
                format!(
                    "{} each; median RTT {}",
                    duration(seconds.abs() / a.extra_connections.abs()),
                    duration(rtt_s)
                )
            } else {
                format!("median RTT {}", duration(rtt_s))
            };
            // The resends counted are the compared mode's: told when it is the slower one.
            let resent = match a.handshake_resends {
                Some(n) if n > 0 && a.gap_s > 0.0 => format!(
                    "; {} resent in {}",
                    crate::words::counted(n, "SYN or SYN-ACK", "SYNs or SYN-ACKs"),
                    crate::words::counted(rounds, "run", "runs")
                ),
                _ => String::new(),
            };
            format!(
                "{time} in {} ({each}{resent})",
                how_many(a.extra_connections, "handshake")
            )
        }
        // Rounds counted by packet timing are slow start's, and where segments were resent,
        // also recovery's: the sentence says which the run shows.
        Row::SlowStartRounds => match a.resent {
            Some(n) if n > 0 && a.gap_s > 0.0 => format!(
                "{time} in {} (slow start, and recovery from {} resent in {})",
                how_many(a.extra_rounds.unwrap_or(0.0), "round"),
                crate::words::counted(n, "segment", "segments"),
                crate::words::counted(rounds, "run", "runs")
            ),
            _ => format!(
                "{time} in {}",
                how_many(a.extra_rounds.unwrap_or(0.0), "slow-start round")
            ),
        },
        Row::TlsHandshakes => format!(
            "{time} in the TLS handshakes of {}",
            how_many(a.extra_connections, "connection")
        ),
        Row::ClosingAndReconnecting => format!("{time} closing and reconnecting between files"),
        Row::TransferRest => format!("{time} of transfer beyond its round trips"),
        Row::RequestWait => format!("{time} waiting for first bytes"),
        Row::ClientWork => format!("{time} in the client's own work"),
        Row::Remainder => format!("{time} outside the captured timeline"),
    }
}

/// Where a mode's measurement differs from the model, effect by effect (they add up).
pub fn model_difference(mode: Mode, gap: &ModelGap) -> String {
    let unit = TimeUnit::of(gap.measured_s - gap.predicted_s);
    let parts: Vec<String> = gap
        .effects
        .iter()
        // An effect of under a microsecond (none measured) is left unsaid; the rest always shows.
        .filter(|e| e.seconds().abs() >= 1e-6 || matches!(e, Effect::Rest { .. }))
        .map(|e| {
            let t = unit.format_signed(e.seconds());
            match *e {
                Effect::Handshakes { .. } => format!("{t} handshakes beyond the RTT"),
                Effect::TlsHandshakes { .. } => {
                    format!("{t} TLS handshakes beyond their round trips")
                }
                Effect::ServerTime { .. } => format!("{t} server time (request → first byte)"),
                Effect::Rounds {
                    rounds,
                    receive_window_limited_s,
                    ..
                } => {
                    let noun = if (rounds.abs() - 1.0).abs() < 0.05 {
                        "round"
                    } else {
                        "rounds"
                    };
                    let mut s =
                        format!("{t} in {} {noun} beyond the model's", count_signed(rounds));
                    if let Some(limited) = receive_window_limited_s {
                        let _ = write!(
                            s,
                            " (the receive window held the server back {} per run)",
                            duration(limited)
                        );
                    }
                    s
                }
                Effect::RoundSpacing { .. } if e.seconds() < 0.0 => {
                    format!("{t} rounds spaced closer than the model's")
                }
                Effect::RoundSpacing { .. } => {
                    format!("{t} rounds spaced further apart than the model's")
                }
                Effect::LastRound { .. } => {
                    format!("{t} spread of each response's last round beyond the model's")
                }
                Effect::Client { .. } => format!("{t} the client's own work and closing"),
                Effect::Rest { .. } => format!("{t} the rest"),
            }
        })
        .collect();
    format!(
        "  {}: {} = {}",
        mode.name(),
        unit.format_signed(gap.measured_s - gap.predicted_s),
        parts.join(", ")
    )
}

fn count_signed(v: f64) -> String {
    let text = count(v.abs());
    if v < 0.0 {
        format!("−{text}")
    } else {
        format!("+{text}")
    }
}

/// When the client's receive window held the server back, in words: which responses, for how
/// long, and how to lift it.
pub fn receive_window_line(stats: &[ResponseStats]) -> Option<String> {
    let limited: Vec<String> = stats
        .iter()
        .filter_map(|s| {
            let us = s.rwnd_limited_us.filter(|&us| us > 0)?;
            Some(format!(
                "{} {} for {} of {} busy",
                s.mode.name(),
                s.file,
                duration(us as f64 / 1e6),
                duration(s.busy_us.unwrap_or(0) as f64 / 1e6)
            ))
        })
        .collect();
    (!limited.is_empty()).then(|| {
        format!(
            "For part of the time the server was busy sending, the client's receive window, \
             not the congestion window, held it back (TCP_INFO rwnd_limited): {}. A larger \
             receive buffer lifts it: --rcvbuf 4MiB.",
            limited.join("; ")
        )
    })
}

/// How many SYNs carried a request, in one line.
pub fn fast_open_line(f: &FastOpen) -> String {
    let others = f.connections - f.with_data;
    format!(
        "TCP Fast Open: {} of {} connections sent their request with the SYN ({}){}",
        f.with_data,
        f.connections,
        units::bytes(f.bytes as f64),
        match others {
            0 => String::new(),
            1 => "; one shook hands first (without a cookie, or refused)".to_string(),
            n => format!("; {n} shook hands first (without a cookie, or refused)"),
        }
    )
}

/// The variants side by side: a table of each one's mean per run and its gap, then each one's
/// opening sentences.
pub fn variants(compared: &[(&str, &Comparison)], width: Option<u16>) -> String {
    let mut out = String::new();
    let slower = compared
        .first()
        .and_then(|(_, c)| c.attributions().first().map(|(m, _)| *m));
    let heading = match slower {
        Some(mode) => format!(
            "Variants: mean per run, and the gap {} − persistent with the handshakes' part of it",
            mode.name()
        ),
        None => "Variants: mean per run".to_owned(),
    };
    let _ = writeln!(out, "{}", wrap_prose(&heading, width));
    // The first layout that fits whole: one table, one with cells on two lines, two tables.
    let layouts = [
        VariantsLayout::Wide,
        VariantsLayout::Narrow,
        VariantsLayout::Split,
    ];
    let tables = layouts
        .iter()
        .map(|&layout| tables::variants_tables(compared, layout))
        .find(|tables| {
            width.is_none_or(|w| tables.iter().all(|t| natural_width(t) <= usize::from(w)))
        })
        .unwrap_or_else(|| tables::variants_tables(compared, VariantsLayout::Split));
    for table in tables {
        let _ = writeln!(out, "{}", fit(table, width));
    }
    for (name, cmp) in compared {
        for line in opening(cmp) {
            let _ = writeln!(out, "{}", wrap_prose(&format!("{name}: {line}"), width));
        }
    }
    out.push('\n');
    out
}

/// A mode's TLS sessions in one line; where resumption was asked for and none happened because
/// every connection of each run opened before the run's first handshake was done, it says so.
pub fn mode_tls_line(cmp: &Comparison, m: &ModeResult, t: &TlsSessions) -> String {
    let mut line = tls_line(t);
    let resume_asked = cmp.tls.is_some_and(|tls| tls.resume);
    if resume_asked && t.resumed == 0 && m.opened_before_any_session() {
        line.push_str(
            " (every connection of a run opened before its first TLS handshake was done, so \
             none had a session to resume)",
        );
    }
    line
}

/// The TLS a comparison asked for, in a few words: "TLS 1.3, resumed, early data".
pub fn tls_settings(tls: &TlsSettings) -> String {
    let mut words = vec![tls.version.name().to_string()];
    if tls.resume {
        words.push("resumed after each run's first connection".into());
    }
    if tls.early_data {
        words.push("requests as 0-RTT early data".into());
    }
    words.join(", ")
}

/// A mode's TLS sessions in one sentence (the client's own count).
pub fn tls_line(t: &TlsSessions) -> String {
    use crate::words::counted;
    let mut line = format!(
        "{}: {}, {} and {} resumed",
        t.version.map_or("TLS", TlsVersion::name),
        counted(t.connections, "connection", "connections"),
        counted(
            t.connections - t.resumed,
            "full handshake",
            "full handshakes"
        ),
        t.resumed
    );
    if t.hello_retry > 0 {
        let _ = write!(line, ", {} after a HelloRetryRequest", t.hello_retry);
    }
    if t.early_data_sent > 0 {
        let _ = write!(
            line,
            "; {} as 0-RTT early data, {} accepted (early data can be replayed by anyone who \
             captured it, so servers take it only for requests safe to repeat)",
            counted(t.early_data_sent, "request sent", "requests sent"),
            t.early_data_accepted
        );
    }
    line
}

/// What a comparison saved; a variant's name goes with what it saved when there are several.
pub struct Saved<'a> {
    /// Each mode's capture.
    pub captures: Vec<(Option<&'a str>, Mode, &'a Path)>,
    /// report.json.
    pub report: &'a Path,
    /// Each variant's HTML page.
    pub pages: Vec<(Option<&'a str>, &'a Path)>,
    /// Where the received files went.
    pub received: &'a Path,
}

/// "Saved" and what was saved, one item to a line with the paths in a column. Where a line would
/// be wider than `width`, its path goes on a line of its own below its label: a path is never
/// wrapped, so that it can be copied whole.
pub fn saved(saved: &Saved<'_>, width: Option<u16>) -> String {
    let mut items: Vec<(String, &Path)> = Vec::new();
    for &(variant, mode, path) in &saved.captures {
        let label = match variant {
            Some(variant) => format!("{variant} {}", mode.name()),
            None => mode.name().to_string(),
        };
        items.push((label, path));
    }
    items.push(("report".into(), saved.report));
    for &(variant, path) in &saved.pages {
        let label = variant.map_or_else(|| "html report".to_string(), |v| format!("html {v}"));
        items.push((label, path));
    }
    items.push(("received files".into(), saved.received));
    saved_lines(&items, width)
}

/// `(label, path)` pairs under "Saved", laid out as [`saved`] says.
fn saved_lines(items: &[(String, &Path)], width: Option<u16>) -> String {
    const LABEL: usize = 15;
    let label_width = items
        .iter()
        .map(|(label, _)| label.chars().count())
        .max()
        .unwrap_or(0)
        .max(LABEL);
    let mut out = String::from("Saved\n");
    for (label, path) in items {
        let path = path.display();
        let line = format!("  {label:<label_width$} {path}");
        if width.is_some_and(|w| line.chars().count() > usize::from(w)) {
            let _ = writeln!(out, "  {label}\n    {path}");
        } else {
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

/// Under the packet tables: why their rows do not add up to the packets.
pub const PACKETS_NOTE: &str = "A packet can count in more than one row, as it matches more than \
     one of Wireshark's filters: a handshake ACK is also a pure ACK, and a FIN can carry data.";

/// The phase table's heading: where its instants come from, and what its rows add up to.
pub fn phases_heading(cmp: &Comparison) -> String {
    let (source, start) = match cmp.phase_source() {
        PhaseSource::Capture => ("from the capture", "first SYN"),
        PhaseSource::Client => ("from the client's own timestamps", "first connect()"),
    };
    format!("Phases, {source}: those above \"=\" add up to {start} → last byte")
}

/// The model table's heading: the path it assumes, and where that comes from.
pub fn model_heading(cmp: &Comparison) -> String {
    let path = cmp.path_model();
    let held = match cmp.first_flight_limit(&path) {
        Some(FlightLimit::LinkRate { bytes_per_rtt }) => format!(
            ": the link carries {} a round trip",
            units::bytes(bytes_per_rtt as f64)
        ),
        Some(FlightLimit::ReceiveWindow { bytes }) => format!(
            ": the client advertised a receive window of {}",
            units::bytes(bytes as f64)
        ),
        None => String::new(),
    };
    format!(
        "The model (RTT {} {}, {}initial window {} of {} bytes{}; {}), and where each \
         measurement differs from it",
        duration(path.rtt_s),
        if cmp.configured_rtt_s().is_some() {
            "configured"
        } else {
            "measured: median handshake"
        },
        path.rate_bps.map_or(String::new(), |r| format!(
            "rate {} Mbit/s, ",
            r as f64 / 1e6
        )),
        crate::words::counted(path.initial_window, "segment", "segments"),
        path.mss,
        if path.initial_window < path.congestion_window {
            format!(
                " as captured in the first round trip, below the sender's congestion window of \
                 {}{held}",
                path.congestion_window
            )
        } else {
            String::new()
        },
        sender_words(&path),
    )
}

/// How the model's sender sends, as the heading says it.
fn sender_words(path: &PathModel) -> String {
    let release = match path.release {
        Release::BbrStartup => {
            "the server's BBR paces each round at 2/ln 2 times the rate it measured, its window \
             growing by each segment acknowledged"
        }
        Release::Burst => {
            "each round's flight leaves at once, the window growing by each segment acknowledged"
        }
    };
    let idle = if path.restart_after_idle {
        "kept across a keep-alive connection's pauses, which are shorter than its retransmission timeout"
    } else {
        "kept across a keep-alive connection's pauses (tcp_slow_start_after_idle=0)"
    };
    format!("{release}, {idle}")
}

/// The notes under the slow-start table: its marks (†, —, *) where a row has one, and the
/// resolution of its times.
pub fn slow_start_notes(stats: &[ResponseStats]) -> Vec<String> {
    let mut notes = Vec::new();
    let short: Vec<&ResponseStats> = stats.iter().filter(|s| s.sampled_short()).collect();
    if !short.is_empty() {
        notes.push(format!(
            "† sampled before every byte was acknowledged ({}): the window and times stop short \
             of the response's end, as for a response queued behind others",
            short
                .iter()
                .map(|s| format!(
                    "{} {} in {} of {}",
                    s.mode.name(),
                    s.file,
                    s.acked.1 - s.acked.0,
                    crate::words::counted(s.acked.1, "round", "rounds")
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if stats
        .iter()
        .any(|s| s.mode == Mode::Pipelined && s.rounds.is_none())
    {
        notes.push(
            "— pipelined responses follow each other in one stream in the capture: no rounds, \
             first flight or window of their own"
                .to_string(),
        );
    }
    if stats.iter().any(ResponseStats::rounds_ran_together) {
        notes.push(
            "* more segments in the first round than the congestion window allowed in one \
             flight: the capture could not tell the first rounds apart, so that response's \
             rounds are approximate"
                .to_string(),
        );
    }
    notes.push(
        "busy and limited times come from TCP_INFO, which counts them in whole ticks of the \
         kernel's clock (1 to 10 ms): each is good to a tick, and a shorter time can read 0"
            .to_string(),
    );
    notes
}

/// The kernel settings that change the result, read on this machine.
pub fn kernel_line(cmp: &Comparison) -> Option<String> {
    let k = cmp.kernel.as_ref()?;
    let show = |v: Option<u32>| v.map_or("?".to_string(), |v| v.to_string());
    Some(format!(
        "Kernel: tcp_slow_start_after_idle={} tcp_fin_timeout={} s, congestion control {}, \
         initial cwnd {}",
        show(k.tcp_slow_start_after_idle),
        show(k.tcp_fin_timeout_s),
        cmp.congestion().unwrap_or("?"),
        show(k.initial_cwnd)
    ))
}

/// The whole terminal report of a comparison: the opening sentences, then the tables, fitted to
/// `width` (see `width::output_width`).
pub fn comparison(cmp: &Comparison, width: Option<u16>, all_files: bool) -> String {
    let mut out = String::new();
    for line in opening(cmp) {
        let _ = writeln!(out, "{line}");
    }
    out.push('\n');
    let shown = (!all_files && cmp.files.len() >= MANY_FILES).then_some(SLOWEST_SHOWN);
    let _ = writeln!(
        out,
        "Timing over {}, every mode once per round in a shuffled order (seed {}), after one \
         warm-up run each\n{}",
        crate::words::counted(cmp.rounds, "round", "rounds"),
        cmp.seed,
        fit_in_parts_text(tables::timing_table(cmp, shown), width, 2)
    );
    for m in &cmp.modes {
        let outliers = m.outlier_runs();
        if !outliers.is_empty() {
            let rounds: Vec<String> = outliers.iter().map(|r| (r + 1).to_string()).collect();
            let _ = writeln!(
                out,
                "Outlier: {} run total far from the others in round {} (modified z-score > 3.5)",
                m.mode.name(),
                rounds.join(", ")
            );
        }
    }
    out.push('\n');
    for m in &cmp.modes {
        if let Some(checks) = m.checks() {
            let _ = writeln!(
                out,
                "Packets, {} ({} expected per run)\n{}",
                m.mode.name(),
                crate::words::counted(
                    m.expected.connections / m.runs.len().max(1) as u64,
                    "connection",
                    "connections"
                ),
                fit_in_parts_text(tables::packet_table(m, &checks), width, 1)
            );
            if let Some(note) = m.close_note() {
                let _ = writeln!(out, "{note}");
            }
            if let Some(f) = m.fast_open().filter(|f| cmp.fastopen || f.with_data > 0) {
                let _ = writeln!(out, "{}", fast_open_line(&f));
            }
            if let Some(t) = m.tls_sessions() {
                let _ = writeln!(out, "{}", wrap_prose(&mode_tls_line(cmp, m, &t), width));
            }
            out.push('\n');
        }
    }
    if cmp.modes.iter().any(|m| m.checks().is_some()) {
        let _ = writeln!(out, "{}\n", wrap_prose(PACKETS_NOTE, width));
    }
    if cmp.modes.iter().all(|m| m.capture.is_none()) {
        out.push_str("Packets: not captured (no capture privileges or --no-capture)\n\n");
    }
    let _ = writeln!(
        out,
        "{}\n{}\n",
        phases_heading(cmp),
        fit_in_parts_text(tables::phase_table(cmp), width, 1)
    );
    for (mode, a) in cmp.attributions() {
        let _ = writeln!(
            out,
            "Where the gap goes: {} against persistent (RTT {} measured)\n{}\n",
            mode.name(),
            duration(cmp.measured_rtt_s()),
            fit_in_parts_text(
                tables::attribution_table(&a, mode, cmp.phase_source()),
                width,
                1
            )
        );
    }
    if cmp.mode(Mode::Persistent).is_none() {
        out.push_str("Where the gap goes: needs the persistent mode as the baseline (--modes)\n\n");
    }
    let _ = writeln!(
        out,
        "{}\n{}",
        model_heading(cmp),
        fit_in_parts_text(tables::model_table(&cmp.model_gaps()), width, 1)
    );
    for (mode, _, gap) in cmp.model_gaps() {
        let _ = writeln!(out, "{}", model_difference(mode, &gap));
    }
    out.push('\n');
    if cmp.modes.iter().any(|m| !m.samples.is_empty()) {
        let stats: Vec<ResponseStats> = cmp
            .modes
            .iter()
            .flat_map(|m| m.response_stats(&cmp.files, &cmp.paths))
            .collect();
        let _ = writeln!(
            out,
            "Slow start: the server's TCP_INFO as each response starts and once its last byte \
             is acknowledged, medians over the rounds\n{}",
            fit_in_parts_text(tables::slow_start_table(&stats), width, 2)
        );
        for note in slow_start_notes(&stats) {
            let _ = writeln!(out, "{note}");
        }
        if let Some(line) = receive_window_line(&stats) {
            let _ = writeln!(out, "{line}");
        }
        out.push('\n');
    }
    if let Some(line) = kernel_line(cmp) {
        let _ = writeln!(out, "{line}\n");
    }
    wrap_prose(&out, width)
}

/// What `fetch` got: a line per file (name, bytes, time, SHA-256 as far as `width` leaves room),
/// then the run in one sentence, and its TLS sessions when it spoke TLS.
pub fn fetched(run: &RunTiming, saved_in: &Path, width: Option<u16>) -> String {
    let name_width = run
        .files
        .iter()
        .map(|f| f.name.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for f in &run.files {
        let line = format!(
            "{:<name_width$} {:>12} bytes {:>9}  sha256 ",
            f.name,
            f.bytes,
            duration(f.seconds),
        );
        let used = line.chars().count();
        let _ = writeln!(out, "{line}{}", fit_hash(&f.sha256, width, used));
    }
    let summary = format!(
        "{}: {} over {} in {}, saved in {}",
        run.mode.name(),
        crate::words::counted(run.files.len(), "file", "files"),
        crate::words::counted(run.connections.len(), "connection", "connections"),
        duration(run.total_s()),
        saved_in.display()
    );
    let _ = writeln!(out, "{}", crate::report::width::wrap(&summary, width));
    if let Some(tls) = TlsSessions::of(run.connections.iter()) {
        let _ = writeln!(out, "{}", wrap_prose(&tls_line(&tls), width));
    }
    out
}

/// Fewer hex digits of a hash than it has, where the line's `used` columns leave fewer than all
/// of them: its first ones and "…", never under 12 (the full hash with no width to fit, as when
/// piped).
fn fit_hash(hash: &str, width: Option<u16>, used: usize) -> String {
    const SHORTEST: usize = 12;
    let room = width.map_or(usize::MAX, |w| usize::from(w).saturating_sub(used));
    if hash.len() <= room {
        return hash.to_string();
    }
    let digits = room.saturating_sub(1).max(SHORTEST).min(hash.len());
    format!("{}…", &hash[..digits])
}

/// A capture's request pattern in one line.
pub fn pattern(pattern: Pattern, never_established: u64) -> String {
    let connections = |n: u64| crate::words::counted(n, "connection", "connections");
    let requests = |n: u64| crate::words::counted(n, "request", "requests");
    let line: String = match pattern {
        Pattern::NoConnections => "no TCP connections".into(),
        Pattern::OneRequest => "1 connection carrying one request".into(),
        Pattern::OneEach {
            connections: n,
            at_once: 1,
        } => format!(
            "{} each carrying one request (non-persistent)",
            connections(n)
        ),
        Pattern::OneEach {
            connections: n,
            at_once,
        } => format!(
            "{} each carrying one request (non-persistent, up to {at_once} open at once)",
            connections(n)
        ),
        Pattern::Persistent {
            requests: r,
            connections: n,
            with_more,
        } => format!(
            "{} over {} (persistent: {} more than one)",
            requests(r),
            connections(n),
            crate::words::counted(with_more, "carries", "carry")
        ),
        Pattern::Other {
            requests: r,
            connections: n,
        } => format!("{} over {}", requests(r), connections(n)),
    };
    match never_established {
        0 => line,
        n if matches!(pattern, Pattern::NoConnections) => format!(
            "no TCP connection established ({} sent a SYN that no SYN-ACK answered)",
            crate::words::counted(n, "attempt", "attempts")
        ),
        1 => format!("{line}; 1 more connection never established (no SYN-ACK)"),
        n => format!("{line}; {n} more connections never established (no SYN-ACK)"),
    }
}

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

/// A TLS version as people write it ("TLS 1.3"); unknown values in hex.
pub fn protocol_version(v: ProtocolVersion) -> String {
    match v.0 {
        0x0300 => "SSL 3.0".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        other => format!("0x{other:04x}"),
    }
}

/// The name of a TLS handshake message type (RFC 8446 §4, RFC 5246 §7.4).
pub fn handshake_type(msg_type: u8) -> String {
    let name = match msg_type {
        0 => "HelloRequest",
        1 => "ClientHello",
        2 => "ServerHello",
        3 => "HelloVerifyRequest",
        4 => "NewSessionTicket",
        5 => "EndOfEarlyData",
        8 => "EncryptedExtensions",
        11 => "Certificate",
        12 => "ServerKeyExchange",
        13 => "CertificateRequest",
        14 => "ServerHelloDone",
        15 => "CertificateVerify",
        16 => "ClientKeyExchange",
        20 => "Finished",
        22 => "CertificateStatus",
        24 => "KeyUpdate",
        other => return format!("type {other}"),
    };
    name.into()
}

/// How a resumption showed, in a table cell.
pub fn resumption(r: Option<Resumption>) -> &'static str {
    match r {
        None => "no",
        Some(Resumption::PreSharedKey) => "yes (PSK)",
        Some(Resumption::SessionId) => "yes (id)",
        Some(Resumption::Ticket) => "yes (ticket)",
        Some(Resumption::NoCertificate) => "yes (no cert)",
    }
}

/// The line under the TLS table when it leaves connections out.
pub fn tls_hidden(hidden: usize) -> Option<String> {
    (hidden > 0).then(|| format!("… {hidden} more TLS connections (--all shows them)"))
}

/// What the TLS table's "read" column means.
pub const TLS_READ_NOTE: &str = "read: ok = every record was read; cut = the snap length cut \
     off bytes that had to be read, so records were counted again from the next segment that \
     starts one, but handshake messages no more; gap = bytes missing from the capture stopped the \
     reading.";

/// The heading of the TLS section of `analyze`.
pub const TLS_HEADING: &str =
    "TLS handshakes (counted on the wire; handshake = ClientHello → client's first data record)";

/// A line under the TLS tables saying what the capture cannot show without keys.
pub fn tls_note(totals: &TlsTotals) -> Option<String> {
    let tls13 = totals
        .versions
        .get(&ProtocolVersion::TLS_1_3)
        .copied()
        .unwrap_or(0);
    (tls13 > 0).then(|| {
        "TLS 1.3 encrypts the rest of the handshake: its Finished and the server's first data \
         record are inferred from record order (the server's may be a session ticket), and \
         whether early data was accepted is not visible."
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_tls_session_is_told_in_the_singular() {
        let one = TlsSessions {
            version: Some(TlsVersion::Tls13),
            connections: 1,
            resumed: 0,
            hello_retry: 0,
            early_data_sent: 1,
            early_data_accepted: 1,
        };
        let line = tls_line(&one);
        assert!(
            line.starts_with(
                "TLS 1.3: 1 connection, 1 full handshake and 0 resumed; 1 request sent as 0-RTT"
            ),
            "{line}"
        );
    }

    #[test]
    fn a_hash_is_cut_to_the_room_its_line_leaves() {
        let hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        assert_eq!(fit_hash(hash, None, 60), hash);
        assert_eq!(fit_hash(hash, Some(200), 60), hash);
        assert_eq!(fit_hash(hash, Some(80), 60), "9f86d081884c7d659a2…");
        assert_eq!(fit_hash(hash, Some(80), 60).chars().count(), 20);
        assert_eq!(fit_hash(hash, Some(60), 60), "9f86d081884c…");
    }

    #[test]
    fn a_saved_path_too_wide_for_its_line_goes_whole_on_a_line_below() {
        let capture = Path::new("captures/20261201-170815/persistent.pcap");
        let report = Path::new("captures/20261201-170815/report.json");
        let saved = Saved {
            captures: vec![(None, Mode::Persistent, capture)],
            report,
            pages: Vec::new(),
            received: Path::new("/tmp/x"),
        };
        let wide = super::saved(&saved, Some(100));
        assert_eq!(
            wide,
            "Saved\n  persistent      captures/20261201-170815/persistent.pcap\n  \
             report          captures/20261201-170815/report.json\n  received files  /tmp/x\n"
        );
        assert_eq!(
            super::saved(&saved, None),
            wide,
            "piped output keeps its full width"
        );
        let narrow = super::saved(&saved, Some(50));
        assert_eq!(
            narrow,
            "Saved\n  persistent\n    captures/20261201-170815/persistent.pcap\n  report\n    \
             captures/20261201-170815/report.json\n  received files  /tmp/x\n"
        );
    }

    use crate::analysis::stats::Interval;

    fn attribution(gap_s: f64, low: f64, high: f64) -> Attribution {
        Attribution {
            gap_s,
            interval: Some(Interval {
                estimate: gap_s,
                low,
                high,
                level: 0.95,
            }),
            handshake_s: 0.080,
            extra_connections: 2.0,
            tls_s: None,
            between_s: 0.001,
            transfer_s: 0.080,
            slow_start_s: Some(0.080),
            extra_rounds: Some(2.0),
            transfer_rest_s: 0.0,
            wait_s: 0.002,
            client_s: 0.0,
            remainder_s: gap_s - 0.163,
            handshake_resends: Some(0),
            resent: Some(0),
        }
    }

    #[test]
    fn a_clear_gap_is_told_with_its_interval_and_its_counted_causes() {
        let a = attribution(0.164, 0.158, 0.170);
        let s = verdict(Mode::NonPersistent, &a, 0.674, 0.040, 10);
        assert_eq!(
            s,
            "persistent was 164 ms (24 %) faster per run than non-persistent (95 % CI +158 ms … \
             +170 ms): 80.0 ms in 2 extra handshakes (40.0 ms each; median RTT 40.0 ms), 80.0 ms \
             in 2 extra slow-start rounds."
        );
    }

    #[test]
    fn handshakes_that_waited_for_resent_syns_are_not_told_as_round_trips() {
        // Two extra handshakes took 325 ms where the round trip is 10.1 ms: three SYN-ACKs
        // resent over the runs hold the rest, and the sentence counts them.
        let a = Attribution {
            handshake_s: 0.325,
            remainder_s: 0.330 - 0.325 - 0.001 - 0.080 - 0.002,
            handshake_resends: Some(3),
            ..attribution(0.330, 0.010, 0.650)
        };
        let s = verdict(Mode::NonPersistent, &a, 1.0, 0.0101, 10);
        assert!(
            s.contains(
                "325 ms in 2 extra handshakes (162 ms each; median RTT 10.1 ms; 3 SYNs or \
                 SYN-ACKs resent in 10 runs)"
            ),
            "{s}"
        );
    }

    #[test]
    fn extra_rounds_where_segments_were_resent_are_not_all_told_as_slow_start() {
        let a = Attribution {
            resent: Some(14),
            ..attribution(0.164, 0.158, 0.170)
        };
        let s = verdict(Mode::NonPersistent, &a, 0.674, 0.040, 6);
        assert!(
            s.contains(
                "80.0 ms in 2 extra rounds (slow start, and recovery from 14 segments resent in \
                 6 runs)"
            ),
            "{s}"
        );
        assert!(!s.contains("slow-start rounds"), "{s}");
    }

    #[test]
    fn extra_rounds_that_a_shorter_transfer_offsets_are_not_a_cause() {
        // Over a rate-limited link: 2.4 more packet-timed rounds, but the transfer as a whole
        // took no longer; the gap is the handshakes'.
        let a = Attribution {
            handshake_s: 0.042,
            transfer_s: 0.0002,
            slow_start_s: Some(0.0485),
            extra_rounds: Some(2.4),
            transfer_rest_s: 0.0002 - 0.0485,
            remainder_s: 0.044 - 0.042 - 0.001 - 0.0002 - 0.002,
            ..attribution(0.044, 0.030, 0.058)
        };
        let s = verdict(Mode::NonPersistent, &a, 3.7, 0.020, 10);
        assert!(s.contains("in 2 extra handshakes"), "{s}");
        assert!(!s.contains("slow-start"), "{s}");
        assert!(!s.contains("transfer"), "{s}");
    }

    #[test]
    fn a_faster_mode_states_its_interval_with_the_same_sign_as_persistent_would() {
        // Pipelined 49 ms faster than persistent: mode − persistent runs −97.6 … −0.49 ms.
        let a = Attribution {
            handshake_s: 0.0,
            extra_connections: 0.0,
            transfer_s: -0.049,
            slow_start_s: Some(-0.049),
            extra_rounds: Some(-1.0),
            remainder_s: -0.049 - 0.001 - 0.002 + 0.049,
            ..attribution(-0.049, -0.0976, -0.00049)
        };
        let s = verdict(Mode::Pipelined, &a, 0.5, 0.049, 10);
        assert!(
            s.starts_with(
                "pipelined was 49.0 ms (9 %) faster per run than persistent (95 % CI +0.49 ms … \
                 +97.6 ms)"
            ),
            "{s}"
        );
    }

    #[test]
    fn a_gap_within_noise_says_so() {
        let a = attribution(0.0003, -0.0004, 0.0011);
        let s = verdict(Mode::NonPersistent, &a, 0.009, 0.00001, 10);
        assert_eq!(
            s,
            "non-persistent against persistent: no difference distinguishable from noise at 10 \
             rounds (95 % CI −0.40 ms … +1.10 ms)."
        );
    }
}
