//! Report layer: the HTML page of a capture `analyze` read — its waterfall, the first
//! connections' ladders and time–sequence graphs, the terminal report's tables and a link to
//! the capture.

use std::path::Path;

use maud::html;

use super::{
    LADDER_COLUMN_PX, href, ladder, ladder_note, page, tables, tseq, tseq_note, waterfall,
    waterfall_note,
};
use crate::analysis::drawn::{DrawnConnection, DrawnQuic};
use crate::analysis::file_phases::{self, FilePhases};
use crate::analysis::phases::{ConnectionTimeline, Phases};
use crate::report::sentences::{
    QUIC_HEADING, QUIC_NOTE, QUIC_TLS_HEADING, encrypted_requests_note, http2_heading,
};
use crate::report::tables as report_tables;
use crate::timeline::Ts;
use crate::track::http2::Http2Seen;
use crate::track::quic::QuicConnection;
use crate::track::{Connection, Exchange, Totals};
use crate::words::counted;

/// Time–sequence graphs drawn for a capture (one per response, first ones).
const CAPTURE_GRAPHS: usize = 6;

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
    /// The first QUIC connections with their datagrams.
    pub drawn_quic: &'a [DrawnQuic],
    /// The QUIC connections.
    pub quic: &'a [QuicConnection],
}

/// The HTML report of a capture that `analyze` read; `page_dir` is where it is saved.
pub fn capture(view: &CaptureView<'_>, page_dir: &Path) -> String {
    let origin: Ts = view
        .connections
        .iter()
        .map(|c| c.syn_ts.unwrap_or(c.first_ts))
        .chain(view.quic.iter().map(|c| c.first_packet))
        .min()
        .unwrap_or_default();
    let name = view.path.file_name().map_or_else(
        || view.path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let group = waterfall_group(view, name.clone(), origin);
    let http2 = |frames: bool| {
        view.connections
            .iter()
            .filter(|c| matches!(c.http2(), Some(Http2Seen::Frames(_))) == frames)
            .filter(|c| c.http2().is_some())
            .count() as u64
    };
    let (cleartext_http2, encrypted_http2) = (http2(true), http2(false));
    let quic_ladders = view
        .drawn_quic
        .iter()
        .map(|d| ladder::Ladder::of_quic(d, quic_name(d.connection.number), origin));
    let ladders: Vec<ladder::Ladder> = view
        .drawn
        .iter()
        .map(|d| {
            ladder::Ladder::of(d, stream_name(d.connection.stream), origin, |f| {
                request_label(d.connection.exchanges.get(f), f)
            })
        })
        .chain(quic_ladders)
        .collect();
    let graphs = graphs(view.drawn);
    let title = format!("synack analyze: {name}");
    let body = html! {
        h1 { (title) }
        p class="meta" {
            (view.frames) " frames, " (view.totals.counts.packets) " TCP packets, "
            (counted(view.totals.connections, "connection", "connections"))
            @if view.hidden > 0 { " (the first " (view.connections.len()) " drawn)" }
            @if !view.quic.is_empty() {
                ", " (counted(view.quic.len() as u64, "QUIC connection", "QUIC connections"))
                @if view.drawn_quic.is_empty() { " (in the tables)" }
            }
            ". " (view.pattern) "."
            @if view.totals.connections > 0 {
                " Connections are numbered from 0 in the order of their first packets, as \
                 Wireshark's tcp.stream, the # column below and analyze --ladder N."
            }
            @if !view.quic.is_empty() {
                " QUIC connections are numbered apart, from 0 in the order of their first \
                 packets, as Wireshark's quic.connection.number and the # column of the QUIC \
                 tables."
            }
        }
        section id="waterfall" {
            h2 { "Waterfall" }
            @if view.totals.connections > 0 {
                (waterfall_note(false))
                (waterfall::render(&[group]))
            } @else {
                p class="note" {
                    "Not drawn: the waterfall's bars are the requests of TCP connections, and the \
                     capture holds none."
                }
            }
        }
        section id="ladders" {
            h2 { "Ladder diagrams" (ladders_drawn(view)) }
            (ladder_note(!view.drawn_quic.is_empty()))
            (ladder::render(&[(name.clone(), ladders)], LADDER_COLUMN_PX))
        }
        section id="time-sequence" {
            h2 { "Time–sequence graphs" }
            @if graphs.is_empty() {
                p class="note" {
                    "No response data in the drawn connections."
                    @if !view.drawn_quic.is_empty() {
                        " The graphs are of TCP responses: a QUIC connection's stream offsets \
                         travel encrypted."
                    }
                }
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
            @if cleartext_http2 > 0 {
                (tables::render(http2_heading(view.connections), &report_tables::http2_table(view.connections)))
            }
            @if let Some(note) = encrypted_requests_note(encrypted_http2) {
                p class="note" { (note) }
            }
            @if !view.quic.is_empty() {
                (tables::render(QUIC_HEADING, &report_tables::quic_table(view.quic)))
                (tables::render(QUIC_TLS_HEADING, &report_tables::quic_tls_table(view.quic)))
                p class="note" { (QUIC_NOTE) }
            }
        }
        section id="captures" {
            h2 { "Capture" }
            ul class="links" { li { a href=(href(view.path, page_dir)) { (href(view.path, page_dir)) } } }
        }
    };
    page(&title, body)
}

/// A request of a capture by its target when the capture shows it ("/a.jpg"), else by its
/// place on its connection ("request 2"; `index` counts from 0).
fn request_label(exchange: Option<&Exchange>, index: usize) -> String {
    exchange
        .and_then(|x| x.target.clone())
        .unwrap_or_else(|| format!("request {}", index + 1))
}

/// What the capture page calls a connection: by its `tcp.stream` index, counted from 0 in the
/// order of first packets, as the terminal's `#` column, `analyze --ladder N` and Wireshark do.
fn stream_name(stream: usize) -> String {
    format!("connection {stream}")
}

/// What the capture page calls a QUIC connection: by its number, counted from 0 in the order of
/// first packets, as the QUIC tables, the JSON and Wireshark's `quic.connection.number` do.
fn quic_name(number: usize) -> String {
    format!("QUIC connection {number}")
}

/// What the ladder section's heading adds when it draws only the first connections of a kind
/// (", the first 8 connections and the first QUIC connection"); empty when it draws them all.
fn ladders_drawn(view: &CaptureView<'_>) -> String {
    let first = |drawn: usize, kept: usize, one: &str, many: &str| {
        (drawn < kept).then(|| match drawn {
            1 => format!("the first {one}"),
            n => format!("the first {n} {many}"),
        })
    };
    let parts: Vec<String> = [
        first(
            view.drawn.len(),
            view.connections.len(),
            "connection",
            "connections",
        ),
        first(
            view.drawn_quic.len(),
            view.quic.len(),
            "QUIC connection",
            "QUIC connections",
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(", {}", parts.join(" and "))
    }
}

/// Every request of the capture as a waterfall bar, rows by connection, times since `origin`.
fn waterfall_group(view: &CaptureView<'_>, name: String, origin: Ts) -> waterfall::Group {
    let lines: Vec<_> = view
        .connections
        .iter()
        .map(|c| {
            (
                ConnectionTimeline::from_capture(c),
                (0..c.exchanges.len()).collect::<Vec<usize>>(),
            )
        })
        .collect();
    // A capture's exchanges are HTTP/1.x's, one response after another.
    let files: Vec<FilePhases> = file_phases::cut_per_request(&lines, false);
    waterfall::Group::of(
        name,
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

/// The first responses of the drawn connections as time–sequence graphs, one each; a cleartext
/// HTTP/2 connection as one graph of its streams.
fn graphs(drawn: &[DrawnConnection]) -> Vec<tseq::Graph> {
    drawn
        .iter()
        .flat_map(|d| {
            let name = stream_name(d.connection.stream);
            let streams = tseq::Series::streams_of(d, &|id| format!("stream {id}"));
            let by_stream = (!streams.is_empty()).then(|| tseq::Graph {
                title: format!("{name}: the server's DATA by stream"),
                series: streams,
                since: "the connection's first request",
                bytes_of: "the connection",
            });
            let responses = (0..d.connection.exchanges.len())
                .filter(move |_| d.streams.is_empty())
                .filter_map(move |e| {
                    let s = tseq::Series::of(d, e, stream_name(d.connection.stream))?;
                    Some(tseq::Graph {
                        title: format!("{}, response {}", stream_name(d.connection.stream), e + 1),
                        series: vec![s],
                        since: "the request",
                        bytes_of: "the response",
                    })
                });
            by_stream.into_iter().chain(responses)
        })
        .take(CAPTURE_GRAPHS)
        .collect()
}
