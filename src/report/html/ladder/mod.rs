//! Report layer: the ladder diagram of one connection — client lane, server lane, time running
//! down, each arrow sloped by the one-way delay as captured. Control packets are single arrows;
//! each round of response data is one band with its segment count and bytes, and runs of the
//! client's ACKs are one band. Every arrow's `<title>` gives the packet's time, flags, seq/ack
//! and length. A QUIC connection's handshake datagrams are arrows named by their packets' types,
//! its runs of 1-RTT datagrams bands (`quic`).

mod build;
mod draw;
mod quic;

use maud::{Markup, html};

use crate::analysis::drawn::DrawnRun;
use crate::report::units::duration;
use crate::track::Side;
use draw::draw;

/// Colours the streams of a connection take in turn (`s0` … in the page's style).
pub const STREAM_COLOURS: usize = 8;

/// What one mark of the ladder shows.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// One packet.
    Arrow {
        /// Its sender.
        from: Side,
        /// Seconds since the run started, as captured.
        at_s: f64,
        /// Its name on the arrow (`SYN`, `GET 83 B`, …).
        label: String,
        /// Time, flags, seq/ack, length.
        title: String,
        /// A resent segment.
        resent: bool,
        /// It opens, closes or resets the connection (SYN, FIN or RST): its label goes before a
        /// round's.
        control: bool,
    },
    /// Many packets of one sender over a span (a round of data, a run of ACKs).
    Band {
        /// Their sender.
        from: Side,
        /// The first one, seconds since the run started, as captured.
        first_s: f64,
        /// The last one.
        last_s: f64,
        /// Its label.
        label: String,
        /// What it holds.
        title: String,
        /// Data (`true`) or ACKs.
        data: bool,
        /// On an HTTP/2 connection whose frames were read, its segments by the stream whose
        /// DATA they carry, each drawn as a line in the stream's colour.
        strands: Vec<Strand>,
    },
}

/// The segments of a band that carry one stream's DATA.
#[derive(Debug, Clone, PartialEq)]
pub struct Strand {
    /// The stream's colour: its place among the connection's streams.
    pub colour: usize,
    /// When each segment was captured, seconds since the run started.
    pub at_s: Vec<f64>,
}

/// A stream of an HTTP/2 connection as its ladder's key shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamKey {
    /// The stream id.
    pub stream: u32,
    /// The file it carried, where known.
    pub file: Option<String>,
}

/// One connection's ladder.
#[derive(Debug, Clone, PartialEq)]
pub struct Ladder {
    /// Its heading.
    pub label: String,
    /// The client's address.
    pub client: String,
    /// The server's address.
    pub server: String,
    /// The one-way delay each arrow takes, in seconds.
    pub one_way_s: f64,
    /// Its marks in time order.
    pub steps: Vec<Step>,
    /// On an HTTP/2 connection whose frames were read, the streams that carried DATA, in the
    /// order of their colours.
    pub streams: Vec<StreamKey>,
}

impl Ladder {
    /// The span of time its marks take, from the first send to the last arrival.
    fn span_s(&self) -> (f64, f64) {
        let d = self.one_way_s;
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for step in &self.steps {
            let (from, a, b) = match *step {
                Step::Arrow { from, at_s, .. } => (from, at_s, at_s),
                Step::Band {
                    from,
                    first_s,
                    last_s,
                    ..
                } => (from, first_s, last_s),
            };
            let (sent, arrived) = match from {
                Side::Client => ((a, b), (a + d, b + d)),
                Side::Server => ((a - d, b - d), (a, b)),
            };
            lo = lo.min(sent.0).min(arrived.0);
            hi = hi.max(sent.1).max(arrived.1);
        }
        if lo > hi { (0.0, 0.0) } else { (lo, hi) }
    }
}

/// Both modes' connections of one round, side by side on one scale: `px_per_s` is chosen so the
/// longest column is about `column_px` tall.
pub fn render(runs: &[(String, Vec<Ladder>)], column_px: f64) -> Markup {
    let longest = runs
        .iter()
        .map(|(_, ladders)| {
            ladders
                .iter()
                .map(|l| {
                    let (a, b) = l.span_s();
                    b - a
                })
                .sum::<f64>()
        })
        .fold(0.0, f64::max);
    let px_per_s = if longest > 0.0 {
        column_px / longest
    } else {
        0.0
    };
    html! {
        div class="ladders" {
            @for (title, ladders) in runs {
                div class="ladder-column" {
                    h3 { (title) }
                    @for ladder in ladders {
                        figure class="ladder-figure" {
                            figcaption {
                                (ladder.label) " · one-way delay " (duration(ladder.one_way_s))
                                @if !ladder.streams.is_empty() {
                                    " · DATA by stream: "
                                    @for (i, key) in ladder.streams.iter().enumerate() {
                                        span class=(format!("key s{}", i % STREAM_COLOURS)) {
                                            (key.stream) @if let Some(file) = &key.file { " " (file) }
                                        }
                                        " "
                                    }
                                }
                            }
                            (draw(ladder, px_per_s))
                        }
                    }
                }
            }
        }
    }
}

/// The ladders of one drawn run: one per connection, numbered from 1 in the order they opened
/// (as the waterfall's rows of the same run), its QUIC connections after its TCP ones.
pub fn of_run(run: &DrawnRun, file_name: &dyn Fn(usize) -> String) -> Vec<Ladder> {
    let tcp = run
        .connections
        .iter()
        .map(|c| Ladder::of(c, String::new(), run.start, file_name));
    let quic = run
        .quic
        .iter()
        .map(|c| Ladder::of_quic(c, String::new(), run.start));
    tcp.chain(quic)
        .enumerate()
        .map(|(i, ladder)| Ladder {
            label: format!("connection {}", i + 1),
            ..ladder
        })
        .collect()
}
