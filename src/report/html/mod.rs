//! Report layer: the HTML report — one self-contained page (styles and a check script inline, no
//! network) with the verdict, the waterfall, ladder diagrams, time–sequence graphs, the runs and
//! the terminal report's tables. Pages are maud templates; charts are SVG from `svg`'s typed
//! builder. Renders what analysis built (`Comparison`, `DrawnRound`, per-file phases); must not
//! import `pcap` or `etherparse`.

mod capture;
mod comparison;
mod ladder;
mod runs;
pub mod svg;
mod tables;
mod tseq;
mod verdict;
mod waterfall;

use std::path::Path;

use maud::{DOCTYPE, Markup, PreEscaped, html};

pub use capture::{CaptureView, capture};
pub use comparison::comparison;

const STYLE: &str = include_str!("page.css");
const CHECK_SCRIPT: &str = include_str!("check.js");

/// How tall the longer column of ladders is drawn, in pixels.
const LADDER_COLUMN_PX: f64 = 1500.0;

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

/// The ladders' note; `quic` where a QUIC connection is drawn.
fn ladder_note(quic: bool) -> Markup {
    html! {
        p class="note" {
            "Time runs down. Each arrow leaves its sender's lane and reaches the other lane one \
             one-way delay later (half the handshake's round trip as captured), so its slope is \
             the real delay. A shaded band is one round of the response: the segments the server \
             sent before the ACK of the round's first segment came back, with their count and \
             bytes; dashed bands are runs of the client's ACKs; red dashed arrows are resent \
             segments, named as Wireshark names them (retransmission, out-of-order …), as are a \
             duplicate ACK, a zero window and a keep-alive. On a cleartext HTTP/2 connection each \
             segment of a round is also a thin line in the colour of the stream whose DATA it \
             carries most of, as the key above the ladder names them. "
            @if quic {
                "On a QUIC connection an arrow is a datagram holding handshake (long-header) \
                 packets, named by the packets coalesced in it, and a band is a run of one \
                 side's 1-RTT datagrams, with their count and bytes. "
            }
            "Where labels would overlap, SYNs, FINs and resends keep theirs."
            span class="screen-only" {
                " Hover over an arrow for the packet's time, flags, seq/ack and length, and what \
                 Wireshark's sequence analysis marks on it"
                @if quic { " (for QUIC, the datagram's length and each of its packets' types)" }
                "."
            }
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
             initial window. A cleartext HTTP/2 connection has a graph of its own: all its \
             streams share the connection's one byte order, each stream's segments in its colour \
             and resends as dots: bytes of any stream above a hole could be read only once the \
             resend that filled it came."
        }
    }
}
