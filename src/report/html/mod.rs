//! Report layer: the HTML report — one self-contained page (styles and a check script inline, no
//! network) with the verdict, the waterfall, ladder diagrams, time–sequence graphs, the runs and
//! the terminal report's tables. Pages are maud templates; charts are SVG from `svg`'s typed
//! builder. Renders what analysis built (`Comparison`, `DrawnRound`, per-file phases); must not
//! import `pcap` or `etherparse`.

mod ladder;
mod runs;
pub mod svg;
mod tables;
mod tseq;
mod verdict;
mod waterfall;

use std::path::Path;

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::analysis::comparison::{Comparison, ResponseStats};
use crate::analysis::drawn::{DrawnConnection, DrawnRound, median_round};
use crate::analysis::file_phases::{self, FilePhases};
use crate::analysis::phases::Phases;
use crate::analysis::spread::RunSpread;
use crate::report::sentences;
use crate::report::tables as report_tables;
use crate::report::units::{bytes, duration};
use crate::timeline::Ts;
use crate::track::{Connection, Totals};
use crate::words::counted;

const STYLE: &str = include_str!("page.css");
const CHECK_SCRIPT: &str = include_str!("check.js");

/// How tall the longer column of ladders is drawn, in pixels.
const LADDER_COLUMN_PX: f64 = 1500.0;

/// Time–sequence graphs drawn for a capture (one per response, first ones).
const CAPTURE_GRAPHS: usize = 6;

fn page(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                (body)
                script { (PreEscaped(CHECK_SCRIPT)) }
            }
        }
    }
    .into_string()
}

/// A link to `file` from a page saved in `page_dir`: its name when beside the page.
fn href(file: &Path, page_dir: &Path) -> String {
    match (file.parent(), file.file_name()) {
        (Some(parent), Some(name)) if parent == page_dir => name.to_string_lossy().into_owned(),
        _ => file.to_string_lossy().into_owned(),
    }
}

/// The waterfall's legend and colours, explained once: for a comparison's modes (sharing one
/// time axis) or for a capture's requests.
fn waterfall_note(modes: bool) -> Markup {
    let bar = if modes { "file" } else { "request" };
    html! {
        p class="note" {
            "Each bar is one " (bar) ", from where its connection's setup began (or the previous \
             response on the same connection ended) to its last byte; the connection's handshake \
             and the wait since the previous connection's FIN belong to its first " (bar) ", its \
             closing to its last."
            @if modes { " All modes share one time axis." }
        }
    }
}

/// The HTML report of a comparison; `drawn` holds the packets of the round drawn, `page_dir` is
/// where the page is saved (links to the captures are relative to it).
pub fn comparison(cmp: &Comparison, drawn: Option<&DrawnRound>, page_dir: &Path) -> String {
    let round = drawn.map(|d| d.round).or_else(|| median_round(cmp));
    let groups = waterfall_groups(cmp, round);
    let ladders = ladders(cmp, drawn);
    let graphs = time_sequence_graphs(cmp, drawn);
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
                (ladder_note())
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

/// The name of file `i` of a comparison.
fn file_name(cmp: &Comparison, i: usize) -> String {
    cmp.files
        .get(i)
        .map_or_else(|| format!("file {}", i + 1), |f| f.name.clone())
}

/// Each mode's run of `round` as a waterfall group, one bar per file.
fn waterfall_groups(cmp: &Comparison, round: Option<usize>) -> Vec<waterfall::Group> {
    let file_name = |i: usize| file_name(cmp, i);
    round
        .map(|round| {
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
                            |f| file_name(f.file),
                            |i| {
                                run.timing.connections.get(i).map_or_else(
                                    || format!("connection {}", i + 1),
                                    |c| {
                                        format!(
                                            "connection {} (client port {})",
                                            i + 1,
                                            c.local.port()
                                        )
                                    },
                                )
                            },
                        )
                        .ending_at(run.timing.total_s()),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The ladder diagrams of the drawn round, one group per mode.
fn ladders(cmp: &Comparison, drawn: Option<&DrawnRound>) -> Vec<(String, Vec<ladder::Ladder>)> {
    let file_name = |i: usize| file_name(cmp, i);
    drawn
        .map(|d| {
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
                            counted(run.connections.len(), "connection", "connections"),
                            duration(total)
                        ),
                        ladder::of_run(run, &file_name),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One time–sequence graph per file of the drawn round, a series per mode.
fn time_sequence_graphs(cmp: &Comparison, drawn: Option<&DrawnRound>) -> Vec<tseq::Graph> {
    let file_name = |i: usize| file_name(cmp, i);
    drawn
        .map(|d| {
            (0..cmp.files.len())
                .filter_map(|f| {
                    let series: Vec<tseq::Series> = d
                        .runs
                        .iter()
                        .filter_map(|run| {
                            run.connections.iter().find_map(|c| {
                                let e = c.files.iter().position(|&x| x == Some(f))?;
                                tseq::Series::of(c, e, run.mode.name().to_string())
                            })
                        })
                        .collect();
                    (!series.is_empty()).then(|| tseq::Graph {
                        title: format!("{} ({})", file_name(f), bytes(cmp.files[f].bytes as f64)),
                        series,
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The line under the title: rounds, files, the round trip and what the comparison ran with.
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
        "."
    }
    }
}

/// The terminal report's tables with the sentences around them.
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

fn ladder_note() -> Markup {
    html! {
        p class="note" {
            "Time runs down. Each arrow leaves its sender's lane and reaches the other lane one \
             one-way delay later (half the handshake's round trip as captured), so its slope is \
             the real delay. A shaded band is one round of the response: the segments the server \
             sent before the ACK of the round's first segment came back, with their count and \
             bytes; dashed bands are runs of the client's ACKs; red dashed arrows are resent \
             segments, named as Wireshark names them (retransmission, out-of-order …), as are a \
             duplicate ACK, a zero window and a keep-alive. Where labels would overlap, SYNs, FINs \
             and resends keep theirs. Hover over an arrow for the packet's time, flags, seq/ack \
             and length, and what Wireshark's sequence analysis marks on it."
        }
    }
}

fn tseq_note() -> Markup {
    html! {
        p class="note" {
            "Bytes of one response against time since its request was captured: each stroke is a \
             data segment from its first to its last byte, the dashed line the bytes the client \
             acknowledged. A round is a step: a burst of segments, then a wait for ACKs. Where a \
             mode's first steps are small again for every file, its window restarted from the \
             initial window."
        }
    }
}

/// A request of a capture by its target when the capture shows it ("/a.jpg"), else by its
/// place on its connection ("request 2"; `index` counts from 0).
fn request_label(exchange: Option<&crate::track::Exchange>, index: usize) -> String {
    exchange
        .and_then(|x| x.target.clone())
        .unwrap_or_else(|| format!("request {}", index + 1))
}

/// What the capture page calls a connection: by its `tcp.stream` index, counted from 0 in the
/// order of first packets, as the terminal's `#` column, `analyze --ladder N` and Wireshark do.
fn stream_name(stream: usize) -> String {
    format!("connection {stream}")
}

/// What `analyze --html` draws from one capture.
pub struct CaptureView<'a> {
    /// The capture file.
    pub path: &'a Path,
    /// Frames in it.
    pub frames: u64,
    /// Its TCP totals.
    pub totals: &'a Totals,
    /// The connections kept for the page, in stream order.
    pub connections: &'a [Connection],
    /// Connections left out of the page.
    pub hidden: usize,
    /// The capture's phases.
    pub phases: &'a Phases,
    /// The request pattern, in words.
    pub pattern: &'a str,
    /// The first connections with their packets.
    pub drawn: &'a [DrawnConnection],
}

/// The HTML report of a capture that `analyze` read; `page_dir` is where it is saved.
pub fn capture(view: &CaptureView<'_>, page_dir: &Path) -> String {
    let origin: Ts = view
        .connections
        .iter()
        .map(|c| c.syn_ts.unwrap_or(c.first_ts))
        .min()
        .unwrap_or_default();
    let name = view.path.file_name().map_or_else(
        || view.path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let group = capture_group(view, origin, &name);
    let ladders: Vec<ladder::Ladder> = view
        .drawn
        .iter()
        .map(|d| {
            ladder::Ladder::of(d, stream_name(d.connection.stream), origin, |f| {
                request_label(d.connection.exchanges.get(f), f)
            })
        })
        .collect();
    let graphs = capture_graphs(view);
    let title = format!("synack analyze: {name}");
    let body = html! {
        h1 { (title) }
        p class="meta" {
            (view.frames) " frames, " (view.totals.counts.packets) " TCP packets, "
            (counted(view.totals.connections, "connection", "connections"))
            @if view.hidden > 0 { " (the first " (view.connections.len()) " drawn)" }
            ". " (view.pattern) ". "
            "Connections are numbered from 0 in the order of their first packets, as Wireshark's \
             tcp.stream, the # column below and analyze --ladder N."
        }
        section id="waterfall" {
            h2 { "Waterfall" }
            (waterfall_note(false))
            (waterfall::render(&[group]))
        }
        section id="ladders" {
            h2 {
                "Ladder diagrams"
                @if view.drawn.len() < view.connections.len() {
                    @if view.drawn.len() == 1 { ", the first connection" } @else { ", the first " (view.drawn.len()) " connections" }
                }
            }
            (ladder_note())
            (ladder::render(&[(name.clone(), ladders)], LADDER_COLUMN_PX))
        }
        section id="time-sequence" {
            h2 { "Time–sequence graphs" }
            @if graphs.is_empty() {
                p class="note" { "No response data in the drawn connections." }
            } @else {
                (tseq_note())
                (tseq::render(&graphs))
            }
        }
        section id="tables" {
            h2 { "Tables" }
            (tables::render("Packets", &report_tables::totals_table(view.totals)))
            (tables::render("Connections", &report_tables::connection_table(view.connections, view.hidden)))
            (tables::render("Phases (connections in order of their first packet)", &report_tables::phase_summary_table(view.phases)))
        }
        section id="captures" {
            h2 { "Capture" }
            ul class="links" { li { a href=(href(view.path, page_dir)) { (href(view.path, page_dir)) } } }
        }
    };
    page(&title, body)
}

/// A capture's waterfall: one bar per request, a row per connection, from `origin`.
fn capture_group(view: &CaptureView<'_>, origin: Ts, name: &str) -> waterfall::Group {
    let lines: Vec<_> = view
        .connections
        .iter()
        .map(|c| {
            (
                crate::analysis::phases::ConnectionTimeline::from_capture(c),
                (0..c.exchanges.len()).collect::<Vec<usize>>(),
            )
        })
        .collect();
    let files: Vec<FilePhases> = file_phases::cut_per_request(&lines);
    waterfall::Group::of(
        name.to_string(),
        &files,
        origin,
        |f| {
            let exchange = view
                .connections
                .get(f.connection)
                .and_then(|c| c.exchanges.get(f.file));
            request_label(exchange, f.file)
        },
        |i| {
            // Rows come from `view.connections`: every index has its connection.
            view.connections.get(i).map_or_else(String::new, |c| {
                format!("{} (client {})", stream_name(c.stream), c.client)
            })
        },
    )
}

/// The time–sequence graphs of the drawn connections' responses, at most `CAPTURE_GRAPHS`.
fn capture_graphs(view: &CaptureView<'_>) -> Vec<tseq::Graph> {
    view.drawn
        .iter()
        .flat_map(|d| {
            (0..d.connection.exchanges.len()).filter_map(move |e| {
                let s = tseq::Series::of(d, e, stream_name(d.connection.stream))?;
                Some(tseq::Graph {
                    title: format!("{}, response {}", stream_name(d.connection.stream), e + 1),
                    series: vec![s],
                })
            })
        })
        .take(CAPTURE_GRAPHS)
        .collect()
}
