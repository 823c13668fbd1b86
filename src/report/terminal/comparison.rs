//! Report layer, terminal: the whole comparison report as one `String` for the command to print —
//! the verdict, then each section's table with the sentences around it, fitted to the width.
//! The top of `report/`: reads sentences and tables; nothing in `report/` imports it.

use std::fmt::Write as _;

use crate::analysis::comparison::{Comparison, ResponseStats};
use crate::analysis::head_of_line::ModeHold;
use crate::report::sentences::{
    PACKETS_NOTE, fast_open_line, hold_note, kernel_line, mode_hold_heading, mode_tls_line,
    model_difference, model_heading, opening, phases_heading, receive_window_line,
    slow_start_notes,
};
use crate::report::tables;
use crate::report::units::duration;
use crate::report::width::{fit_in_parts_text, wrap_prose};
use crate::transfer::run::Mode;

/// Files from which the timing table shows only the slowest per mode.
const MANY_FILES: usize = 10;

/// Slowest files shown per mode when there are many.
const SLOWEST_SHOWN: usize = 5;

/// The whole terminal report of a comparison: the opening sentences, then the tables, fitted to
/// `width` (see `width::output_width`).
pub fn comparison(cmp: &Comparison, width: Option<u16>, all_files: bool) -> String {
    let mut out = String::new();
    for line in opening(cmp) {
        let _ = writeln!(out, "{line}");
    }
    out.push('\n');
    modes(&mut out, cmp, width);
    timing(&mut out, cmp, width, all_files);
    packets(&mut out, cmp, width);
    head_of_line(&mut out, cmp, width);
    phases(&mut out, cmp, width);
    model(&mut out, cmp, width);
    slow_start(&mut out, cmp, width);
    if let Some(line) = kernel_line(cmp) {
        let _ = writeln!(out, "{line}\n");
    }
    wrap_prose(&out, width)
}

/// The short terminal report of a comparison: the opening sentences, the modes side by side, and
/// where the rest is.
pub fn comparison_brief(cmp: &Comparison, width: Option<u16>) -> String {
    let mut out = String::new();
    for line in opening(cmp) {
        let _ = writeln!(out, "{line}");
    }
    out.push('\n');
    modes(&mut out, cmp, width);
    out.push_str(
        "Each file's timing, each mode's packets, the phases, where each gap goes, the model and \
         slow start: --full, or the html report.\n\n",
    );
    wrap_prose(&out, width)
}

/// Every mode on a row: its mean total and, per run, what the capture counted.
fn modes(out: &mut String, cmp: &Comparison, width: Option<u16>) {
    let _ = writeln!(
        out,
        "The modes side by side, means per run over {}\n{}\n",
        crate::words::counted(cmp.rounds, "round", "rounds"),
        fit_in_parts_text(tables::modes_table(cmp), width, 1)
    );
}

/// The timing table, the slowest files only when there are many, and the outlying runs.
fn timing(out: &mut String, cmp: &Comparison, width: Option<u16>, all_files: bool) {
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
}

/// Each captured mode's packet table with its notes, or a line saying nothing was captured.
fn packets(out: &mut String, cmp: &Comparison, width: Option<u16>) {
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
        } else if let Some(q) = m.quic_totals() {
            let _ = writeln!(
                out,
                "Packets, {} (QUIC over UDP, {} per run; no SYN or FIN: the handshake is in the \
                 Initial and Handshake packets)\n{}\n",
                m.mode.name(),
                crate::words::counted(
                    q.connections / m.runs.len().max(1) as u64,
                    "connection",
                    "connections"
                ),
                fit_in_parts_text(tables::quic_packet_table(m, &q), width, 1)
            );
        }
    }
    if cmp.modes.iter().any(|m| m.checks().is_some()) {
        let _ = writeln!(out, "{}\n", wrap_prose(PACKETS_NOTE, width));
    }
    if cmp.modes.iter().all(|m| m.capture.is_none()) {
        out.push_str("Packets: not captured (no capture privileges or --no-capture)\n\n");
    }
}

/// For each mode whose capture shows cleartext HTTP/2, what head-of-line blocking cost each
/// file, or a line saying it cost none.
fn head_of_line(out: &mut String, cmp: &Comparison, width: Option<u16>) {
    for m in &cmp.modes {
        let Some(hold) = ModeHold::of(m) else {
            continue;
        };
        let _ = writeln!(out, "{}", mode_hold_heading(m.mode.name(), &hold));
        if hold.any_held() {
            let _ = writeln!(
                out,
                "{}",
                fit_in_parts_text(tables::file_hold_table(&hold), width, 1)
            );
            let _ = writeln!(out, "{}", hold_note(hold.holes, "the server's", true));
        }
        out.push('\n');
    }
}

/// The phase table, then where each mode's gap against persistent goes.
fn phases(out: &mut String, cmp: &Comparison, width: Option<u16>) {
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
}

/// The model table and, per mode, where the measurement differs from it.
fn model(out: &mut String, cmp: &Comparison, width: Option<u16>) {
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
}

/// The server's TCP_INFO per response with its notes, when the built-in server sampled it.
fn slow_start(out: &mut String, cmp: &Comparison, width: Option<u16>) {
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
}
