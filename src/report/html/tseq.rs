//! Report layer: the time–sequence graph (Stevens style) of one file's response — each data
//! segment a vertical stroke at its capture time from its first to its last byte, the client's
//! ACKs a step line below, one colour per mode overlaid on one scale, so that a window restarting
//! from its initial size is seen as the same steps again.

use maud::{Markup, html};

use super::svg::{Anchor, Mark, Point, Scale, Shape, Svg, ticks};
use crate::analysis::drawn::DrawnConnection;
use crate::report::units::{TimeUnit, bytes, duration};
use crate::track::Side;
use crate::words::counted;

/// One response's packets, time since its request was captured, bytes since its first.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The mode or connection it comes from.
    pub name: String,
    /// (time, first byte, one past the last byte, resent) per data segment.
    pub segments: Vec<(f64, f64, f64, bool)>,
    /// (time, bytes acknowledged) per client ACK.
    pub acks: Vec<(f64, f64)>,
    /// When each round started.
    pub round_starts: Vec<f64>,
}

impl Series {
    /// Exchange `exchange` of `d` as a series, or None when it was not answered.
    pub fn of(d: &DrawnConnection, exchange: usize, name: String) -> Option<Series> {
        let x = d.connection.exchanges.get(exchange)?;
        let (first, last) = (x.first_response?, x.last_response?);
        let data: Vec<_> = d
            .trace
            .packets
            .iter()
            .filter(|p| p.from == Side::Server && p.len > 0 && first <= p.ts && p.ts <= last)
            .collect();
        let base = data.iter().map(|p| p.seq).min()?;
        let end = data.iter().map(|p| p.seq + p.len).max()?;
        let t = |ts: crate::timeline::Ts| ts.secs_since(x.request);
        let segments = data
            .iter()
            .map(|p| {
                (
                    t(p.ts),
                    f64::from(p.seq - base),
                    f64::from(p.seq + p.len - base),
                    p.resent,
                )
            })
            .collect();
        // ACKs up to the one that covers the last byte.
        let mut acks = Vec::new();
        for p in &d.trace.packets {
            if p.from != Side::Client || !p.flags.ack || p.ts < first || p.ack <= base {
                continue;
            }
            acks.push((t(p.ts), f64::from(p.ack.min(end) - base)));
            if p.ack >= end {
                break;
            }
        }
        Some(Series {
            name,
            segments,
            acks,
            round_starts: x.rounds.iter().map(|r| t(r.start)).collect(),
        })
    }

    /// On a cleartext HTTP/2 connection, the server's DATA by stream — a series per stream that
    /// carried any, named by `name`, on the connection's one byte axis — then the client's ACKs
    /// as a series of their own; time since the connection's first request was captured. Empty
    /// without streams read.
    pub fn streams_of(d: &DrawnConnection, name: &dyn Fn(u32) -> String) -> Vec<Series> {
        let Some(first_request) = d.connection.exchanges.iter().map(|x| x.request).min() else {
            return Vec::new();
        };
        let t = |ts: crate::timeline::Ts| ts.secs_since(first_request);
        let data: Vec<_> = d
            .trace
            .packets
            .iter()
            .zip(&d.streams)
            .filter(|(p, _)| p.from == Side::Server && p.len > 0)
            .collect();
        let Some(end) = data.iter().map(|(p, _)| p.seq + p.len).max() else {
            return Vec::new();
        };
        // The server's first byte after its SYN is sequence number 1.
        let offset = |seq: u32| f64::from(seq.saturating_sub(1));
        let mut series: Vec<Series> = d
            .data_streams()
            .into_iter()
            .map(|stream| Series {
                name: name(stream),
                segments: data
                    .iter()
                    .filter(|(_, s)| **s == Some(stream))
                    .map(|(p, _)| (t(p.ts), offset(p.seq), offset(p.seq + p.len), p.resent))
                    .collect(),
                acks: Vec::new(),
                round_starts: Vec::new(),
            })
            .collect();
        if series.is_empty() {
            return series;
        }
        let acks = d
            .trace
            .packets
            .iter()
            .filter(|p| p.from == Side::Client && p.flags.ack && p.ack > 1)
            .map(|p| (t(p.ts), offset(p.ack.min(end))))
            .collect();
        series.push(Series {
            name: "the client's ACKs".into(),
            segments: Vec::new(),
            acks,
            round_starts: Vec::new(),
        });
        series
    }

    /// What the graph's caption says of it.
    fn caption(&self) -> String {
        let last = self.segments.iter().map(|x| x.0).fold(0.0, f64::max);
        if !self.round_starts.is_empty() {
            format!(
                "{}: {}, last byte {} after the request",
                self.name,
                counted(self.round_starts.len(), "round", "rounds"),
                duration(last)
            )
        } else if !self.segments.is_empty() {
            format!(
                "{}: {}, last byte {} after the first request",
                self.name,
                counted(self.segments.len(), "data segment", "data segments"),
                duration(last)
            )
        } else {
            let acked = self.acks.iter().map(|a| a.1).fold(0.0, f64::max);
            format!("{}: up to {}", self.name, bytes(acked))
        }
    }

    fn end_s(&self) -> f64 {
        let seg = self.segments.iter().map(|s| s.0).fold(0.0, f64::max);
        self.acks.iter().map(|a| a.0).fold(seg, f64::max)
    }

    fn bytes(&self) -> f64 {
        self.segments.iter().map(|s| s.2).fold(0.0, f64::max)
    }
}

/// One graph: a response under every mode drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    /// The file or response.
    pub title: String,
    /// One series per mode, or per stream.
    pub series: Vec<Series>,
    /// What the time axis counts from ("the request", "the connection's first request").
    pub since: &'static str,
    /// What the byte axis counts ("the response", "the connection").
    pub bytes_of: &'static str,
}

const WIDTH: f64 = 1100.0;
const HEIGHT: f64 = 320.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 36.0;

/// The CSS classes of each series' colour, in turn.
const CLASSES: [[&str; 3]; 8] = [
    ["s0 seg", "s0 ack", "s0 round"],
    ["s1 seg", "s1 ack", "s1 round"],
    ["s2 seg", "s2 ack", "s2 round"],
    ["s3 seg", "s3 ack", "s3 round"],
    ["s4 seg", "s4 ack", "s4 round"],
    ["s5 seg", "s5 ack", "s5 round"],
    ["s6 seg", "s6 ack", "s6 round"],
    ["s7 seg", "s7 ack", "s7 round"],
];

/// The CSS class of the `i`-th series.
fn series_class(i: usize, part: &str) -> &'static str {
    let row = CLASSES[i % CLASSES.len()];
    match part {
        "seg" => row[0],
        "ack" => row[1],
        _ => row[2],
    }
}

/// Draws `graphs`, each on its own scale shared by its series.
pub fn render(graphs: &[Graph]) -> Markup {
    html! {
        @for g in graphs {
            figure class="tseq-figure" {
                figcaption {
                    (g.title) " — "
                    @for (i, s) in g.series.iter().enumerate() {
                        span class=(format!("key s{}", i % CLASSES.len())) { (s.caption()) }
                        " "
                    }
                }
                (draw(g))
            }
        }
    }
}

fn draw(g: &Graph) -> Svg {
    let max_t = g.series.iter().map(Series::end_s).fold(0.0, f64::max);
    let max_b = g.series.iter().map(Series::bytes).fold(0.0, f64::max);
    let t_ticks = ticks(0.0, max_t, 10);
    // Byte ticks fall on round numbers of the binary unit the labels use (KiB, MiB).
    let step_unit = if max_b >= 1024.0 * 1024.0 {
        1024.0 * 1024.0
    } else if max_b >= 1024.0 {
        1024.0
    } else {
        1.0
    };
    let b_ticks: Vec<f64> = ticks(0.0, max_b / step_unit, 5)
        .into_iter()
        .map(|t| t * step_unit)
        .collect();
    let x = Scale::new(
        0.0,
        t_ticks.last().copied().unwrap_or(max_t),
        LEFT,
        WIDTH - RIGHT,
    );
    let y = Scale::new(
        0.0,
        b_ticks.last().copied().unwrap_or(max_b),
        HEIGHT - BOTTOM,
        TOP,
    );
    let mut svg = Svg::new(
        "tseq",
        WIDTH,
        HEIGHT,
        format!("time–sequence graph of {}", g.title),
    );
    axes(
        &mut svg,
        (x, &t_ticks),
        (y, &b_ticks),
        (g.since, g.bytes_of),
    );
    for (i, s) in g.series.iter().enumerate() {
        round_marks(&mut svg, x, i, s);
        ack_line(&mut svg, (x, y), i, s);
        data_strokes(&mut svg, (x, y), i, s);
    }
    svg
}

/// The time axis below and the byte axis on the left, each with its grid and labels.
fn axes(
    svg: &mut Svg,
    (x, t_ticks): (Scale, &[f64]),
    (y, b_ticks): (Scale, &[f64]),
    (since, bytes_of): (&str, &str),
) {
    let unit = TimeUnit::for_column(t_ticks.iter().copied());
    svg.columns(
        &x,
        t_ticks,
        (TOP, HEIGHT - BOTTOM),
        HEIGHT - BOTTOM + 14.0,
        |t| unit.format(t),
    );
    for &b in b_ticks {
        let py = y.at(b);
        svg.push(Mark::new(
            Shape::Line {
                from: Point { x: LEFT, y: py },
                to: Point {
                    x: WIDTH - RIGHT,
                    y: py,
                },
            },
            "grid",
        ));
        svg.text(
            Point {
                x: LEFT - 6.0,
                y: py + 4.0,
            },
            Anchor::End,
            "tick",
            bytes(b),
        );
    }
    svg.text(
        Point {
            x: WIDTH - RIGHT,
            y: HEIGHT - 4.0,
        },
        Anchor::End,
        "axis-label",
        format!("time since {since} was captured"),
    );
    svg.text(
        Point {
            x: 4.0,
            y: TOP - 14.0,
        },
        Anchor::Start,
        "axis-label",
        format!("bytes of {bytes_of}"),
    );
}

/// A tick on the time axis where each round of series `i` starts.
fn round_marks(svg: &mut Svg, x: Scale, i: usize, s: &Series) {
    for (r, &start) in s.round_starts.iter().enumerate() {
        svg.push(
            Mark::new(
                Shape::Line {
                    from: Point {
                        x: x.at(start),
                        y: HEIGHT - BOTTOM,
                    },
                    to: Point {
                        x: x.at(start),
                        y: HEIGHT - BOTTOM - 6.0,
                    },
                },
                series_class(i, "round"),
            )
            .titled(format!(
                "{}: round {} starts at {}",
                s.name,
                r + 1,
                duration(start)
            )),
        );
    }
}

/// The bytes the client acknowledged, as a step line.
fn ack_line(svg: &mut Svg, (x, y): (Scale, Scale), i: usize, s: &Series) {
    let mut steps = Vec::with_capacity(2 * s.acks.len());
    let mut level = 0.0;
    for &(t, acked) in &s.acks {
        steps.push(Point {
            x: x.at(t),
            y: y.at(level),
        });
        level = acked;
        steps.push(Point {
            x: x.at(t),
            y: y.at(level),
        });
    }
    if !steps.is_empty() {
        svg.push(
            Mark::new(Shape::Polyline(steps), series_class(i, "ack"))
                .titled(format!("{}: bytes the client acknowledged", s.name)),
        );
    }
}

/// Each data segment as a stroke from its first to its last byte; a resent one also as a dot.
fn data_strokes(svg: &mut Svg, (x, y): (Scale, Scale), i: usize, s: &Series) {
    let strokes: Vec<(f64, f64, f64)> = s
        .segments
        .iter()
        .map(|&(t, lo, hi, _)| (x.at(t), y.at(lo), y.at(hi).min(y.at(lo) - 1.0)))
        .collect();
    svg.push(
        Mark::new(Shape::Strokes(strokes), series_class(i, "seg")).titled(format!(
            "{}: {}, {}",
            s.name,
            counted(s.segments.len(), "data segment", "data segments"),
            bytes(s.bytes())
        )),
    );
    for &(t, lo, hi, _) in s.segments.iter().filter(|seg| seg.3) {
        svg.push(
            Mark::new(
                Shape::Circle {
                    at: Point {
                        x: x.at(t),
                        y: y.at((lo + hi) / 2.0),
                    },
                    r: 3.0,
                },
                "resent-dot",
            )
            .titled(format!(
                "{}: retransmission at {}, bytes {}–{}",
                s.name,
                duration(t),
                lo,
                hi
            )),
        );
    }
}
