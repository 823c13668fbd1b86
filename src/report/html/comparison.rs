//! Report layer: the HTML page of a comparison — the verdict, the median round's waterfall,
//! ladders and time–sequence graphs, the runs, the terminal report's tables and links to the
//! captures.

use std::path::Path;

use maud::{Markup, html};

use super::{
    LADDER_COLUMN_PX, href, ladder, ladder_note, page, runs, tables, tseq, tseq_note, verdict,
    waterfall, waterfall_note,
};
use crate::analysis::comparison::{Comparison, ResponseStats};
use crate::analysis::drawn::{DrawnRound, median_round};
use crate::analysis::file_phases;
use crate::analysis::head_of_line::ModeHold;
use crate::analysis::spread::RunSpread;
use crate::report::sentences;
use crate::report::tables as report_tables;
use crate::report::units::{bytes, duration};
use crate::words::counted;

/// The HTML report of a comparison; `drawn` holds the packets of the round drawn, `page_dir` is
/// where the page is saved (links to the captures are relative to it).
pub fn comparison(cmp: &Comparison, drawn: Option<&DrawnRound>, page_dir: &Path) -> String {
    let round = drawn.map(|d| d.round).or_else(|| median_round(cmp));
    let groups = round
        .map(|round| waterfall_groups(cmp, round))
        .unwrap_or_default();
    let ladders = drawn.map(|d| ladders(cmp, d)).unwrap_or_default();
    let graphs = drawn.map(|d| graphs(cmp, d)).unwrap_or_default();
    let spreads: Vec<RunSpread> = cmp.modes.iter().map(RunSpread::of).collect();
    let stats: Vec<ResponseStats> = cmp
        .modes
        .iter()
        .flat_map(|m| m.response_stats(&cmp.files, &cmp.paths))
        .collect();
    let modes: Vec<&str> = cmp.modes.iter().map(|m| m.mode.name()).collect();
    let title = format!("synack: {}", modes.join(" vs "));
    let body = html! {
        h1 { (title) }
        (meta(cmp))
        section id="verdict" {
            h2 { "Verdict" }
            @for line in sentences::opening(cmp) { p class="verdict" { (line) } }
            @if let Some(line) = sentences::receive_window_line(&stats) { p class="verdict" { (line) } }
            (verdict::render(&cmp.attributions(), cmp.phase_source()))
        }
        section id="waterfall" {
            h2 { "Waterfall" @if let Some(r) = round { ", round " (r + 1) " (the median run of " (modes.first().copied().unwrap_or("")) ")" } }
            (waterfall_note(true))
            (waterfall::render(&groups))
        }
        section id="ladders" data-round=[drawn.map(|d| d.round)] {
            h2 { "Ladder diagrams" @if let Some(d) = drawn { ", round " (d.round + 1) } }
            @if ladders.is_empty() {
                p class="note" { "Not drawn: the runs were not captured." }
            } @else {
                (ladder_note(drawn.is_some_and(|d| d.runs.iter().any(|r| !r.quic.is_empty()))))
                (ladder::render(&ladders, LADDER_COLUMN_PX))
            }
        }
        section id="time-sequence" {
            h2 { "Time–sequence graphs" @if let Some(d) = drawn { ", round " (d.round + 1) } }
            @if graphs.is_empty() {
                p class="note" { "Not drawn: no response was captured one to one with its request." }
            } @else {
                (tseq_note())
                (tseq::render(&graphs))
            }
        }
        section id="runs" {
            h2 { "Runs" }
            (runs::render(&spreads))
        }
        (tables_section(cmp, &stats))
        section id="captures" {
            h2 { "Captures" }
            ul class="links" {
                @for m in &cmp.modes {
                    @if let Some(c) = &m.capture {
                        li { (m.mode.name()) ": " a href=(href(&c.path, page_dir)) { (href(&c.path, page_dir)) } }
                    }
                }
                li { a href="report.json" { "report.json" } }
            }
        }
    };
    page(&title, body)
}

/// What file `i` is called: its name, else its place.
fn file_name(cmp: &Comparison, i: usize) -> String {
    cmp.files
        .get(i)
        .map_or_else(|| format!("file {}", i + 1), |f| f.name.clone())
}

/// The line under the title: rounds, files, the round trip and the settings that change the
/// result.
fn meta(cmp: &Comparison) -> Markup {
    html! {
        p class="meta" {
            (counted(cmp.rounds, "round", "rounds")) ", every mode once per round in a shuffled order (seed " (cmp.seed) "), after one warm-up run each; "
            (counted(cmp.files.len(), "file", "files")) ": "
            @for (i, f) in cmp.files.iter().enumerate() {
                @if i > 0 { ", " }
                (f.name) " (" (bytes(f.bytes as f64)) ")"
            }
            "; median handshake " (duration(cmp.measured_rtt_s()))
            @if let Some(link) = &cmp.link { "; " (crate::report::link::settings(link)) }
            @if let Some(tls) = &cmp.tls { "; " (sentences::tls_settings(tls)) }
            @if cmp.fastopen { "; TCP Fast Open" }
            @if let Some(cc) = cmp.congestion() { "; congestion control " (cc) }
            @if let Some(cc) = cmp.quic_congestion { "; h3: quinn's " (cc) }
            "."
        }
    }
}

/// Every mode's run of `round` as a waterfall group, on the run's own clock.
fn waterfall_groups(cmp: &Comparison, round: usize) -> Vec<waterfall::Group> {
    cmp.modes
        .iter()
        .filter_map(|m| {
            let run = m.runs.get(round)?;
            let files = file_phases::of_run(run);
            Some(
                waterfall::Group::of(
                    format!(
                        "{} (total {})",
                        m.mode.name(),
                        duration(run.timing.total_s())
                    ),
                    &files,
                    run.timing.start,
                    |f| file_name(cmp, f.file),
                    |i| {
                        run.timing.connections.get(i).map_or_else(
                            || format!("connection {}", i + 1),
                            |c| format!("connection {} (client port {})", i + 1, c.local.port()),
                        )
                    },
                )
                .ending_at(run.timing.total_s()),
            )
        })
        .collect()
}

/// The ladders of every drawn run, each column headed by its mode, connections and total.
fn ladders(cmp: &Comparison, d: &DrawnRound) -> Vec<(String, Vec<ladder::Ladder>)> {
    d.runs
        .iter()
        .map(|run| {
            let total = cmp
                .mode(run.mode)
                .and_then(|m| m.runs.get(d.round))
                .map_or(0.0, |r| r.timing.total_s());
            (
                format!(
                    "{}: {}, total {}",
                    run.mode.name(),
                    counted(
                        run.connections.len() + run.quic.len(),
                        "connection",
                        "connections"
                    ),
                    duration(total)
                ),
                ladder::of_run(run, &|i| file_name(cmp, i)),
            )
        })
        .collect()
}

/// A time–sequence graph per file, one series per mode whose response to it was captured on a
/// connection of its own or in turn; then one per cleartext HTTP/2 connection, a series per
/// stream.
fn graphs(cmp: &Comparison, d: &DrawnRound) -> Vec<tseq::Graph> {
    let per_file = (0..cmp.files.len()).filter_map(|f| {
        let series: Vec<tseq::Series> = d
            .runs
            .iter()
            .filter_map(|run| {
                run.connections
                    .iter()
                    .filter(|c| c.streams.is_empty())
                    .find_map(|c| {
                        let e = c.files.iter().position(|&x| x == Some(f))?;
                        tseq::Series::of(c, e, run.mode.name().to_string())
                    })
            })
            .collect();
        (!series.is_empty()).then(|| tseq::Graph {
            title: format!(
                "{} ({})",
                file_name(cmp, f),
                bytes(cmp.files[f].bytes as f64)
            ),
            series,
            since: "the request",
            bytes_of: "the response",
        })
    });
    let per_stream = d.runs.iter().flat_map(|run| {
        run.connections
            .iter()
            .enumerate()
            .filter_map(move |(i, c)| {
                let name = |id: u32| match c.stream_file(id) {
                    Some(f) => format!("stream {id} ({})", file_name(cmp, f)),
                    None => format!("stream {id}"),
                };
                let series = tseq::Series::streams_of(c, &name);
                (!series.is_empty()).then(|| tseq::Graph {
                    title: format!(
                        "{}, connection {}: the server's DATA by stream",
                        run.mode.name(),
                        i + 1
                    ),
                    series,
                    since: "the connection's first request",
                    bytes_of: "the connection",
                })
            })
    });
    per_file.chain(per_stream).collect()
}

/// The terminal report's tables and their notes.
fn tables_section(cmp: &Comparison, stats: &[ResponseStats]) -> Markup {
    let shown_files = (cmp.files.len() >= 10).then_some(5);
    html! {
        section id="tables" {
            h2 { "Tables" }
            (tables::render("Timing", &report_tables::timing_table(cmp, shown_files)))
            @for m in &cmp.modes {
                @if let Some(checks) = m.checks() {
                    (tables::render(&format!("Packets, {}", m.mode.name()), &report_tables::packet_table(m, &checks)))
                    @if let Some(note) = m.close_note() { p class="note" { (note) } }
                    @if let Some(f) = m.fast_open().filter(|f| cmp.fastopen || f.with_data > 0) { p class="note" { (sentences::fast_open_line(&f)) } }
                    @if let Some(t) = m.tls_sessions() { p class="note" { (sentences::mode_tls_line(cmp, m, &t)) } }
                }
            }
            @if cmp.modes.iter().any(|m| m.checks().is_some()) { p class="note" { (sentences::PACKETS_NOTE) } }
            @for (m, hold) in cmp.modes.iter().filter_map(|m| Some((m, ModeHold::of(m)?))) {
                @if hold.any_held() {
                    (tables::render(&sentences::mode_hold_heading(m.mode.name(), &hold), &report_tables::file_hold_table(&hold)))
                    p class="note" { (sentences::hold_note(hold.holes, "the server's", true)) }
                } @else {
                    p class="note" { (sentences::mode_hold_heading(m.mode.name(), &hold)) }
                }
            }
            (tables::render(&sentences::phases_heading(cmp), &report_tables::phase_table(cmp)))
            @for (mode, a) in cmp.attributions() {
                (tables::render(&format!("Where the gap goes: {} against persistent", mode.name()), &report_tables::attribution_table(&a, mode, cmp.phase_source())))
            }
            (tables::render(&sentences::model_heading(cmp), &report_tables::model_table(&cmp.model_gaps())))
            @for (mode, _, gap) in cmp.model_gaps() { p class="note" { (sentences::model_difference(mode, &gap)) } }
            @if cmp.modes.iter().any(|m| !m.samples.is_empty()) {
                (tables::render("Slow start: the server's TCP_INFO, medians over the rounds", &report_tables::slow_start_table(stats)))
                @for note in sentences::slow_start_notes(stats) { p class="note" { (note) } }
            }
            @if let Some(line) = sentences::kernel_line(cmp) { p class="note" { (line) } }
        }
    }
}
