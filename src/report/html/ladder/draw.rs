//! Report layer: one ladder as SVG — the two lanes, an arrow per packet, a band per round or
//! run of ACKs, and their labels placed by rank so none overlaps another.

use super::{Ladder, Step, Strand};
use crate::report::html::svg::{Anchor, Mark, Point, Scale, Shape, Svg};
use crate::report::units::duration;
use crate::track::Side;

const WIDTH: f64 = 520.0;
const TIME_X: f64 = 64.0;
const CLIENT_X: f64 = 96.0;
const SERVER_X: f64 = 440.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 14.0;
/// Labels closer than this (pixels) to a placed one are left to the tooltip: a 10.5 px line and
/// its halo.
const LABEL_GAP: f64 = 13.0;

/// `ladder` at `px_per_s` pixels a second.
pub(super) fn draw(ladder: &Ladder, px_per_s: f64) -> Svg {
    let (t0, t1) = ladder.span_s();
    let height = TOP + (t1 - t0) * px_per_s + BOTTOM + 12.0;
    let mut svg = Svg::new(
        "ladder",
        WIDTH,
        height,
        format!("{}: {} and {}", ladder.label, ladder.client, ladder.server),
    );
    lanes(&mut svg, ladder, height);
    let mut canvas = Canvas {
        svg,
        labels: Labels::default(),
        scale: Scale::new(t0, t1, TOP + 6.0, TOP + 6.0 + (t1 - t0) * px_per_s),
        one_way_s: ladder.one_way_s,
    };
    for step in &ladder.steps {
        match step {
            Step::Arrow {
                from,
                at_s,
                label,
                title,
                resent,
                control,
            } => canvas.arrow(*from, *at_s, label, title, *resent, *control),
            Step::Band {
                from,
                first_s,
                last_s,
                label,
                title,
                data,
                strands,
            } => {
                canvas.band(*from, (*first_s, *last_s), label, title, *data);
                canvas.strands(strands);
            }
        }
    }
    let Canvas {
        mut svg, labels, ..
    } = canvas;
    labels.place(&mut svg);
    svg
}

/// The client's and the server's lanes with their addresses on top.
fn lanes(svg: &mut Svg, ladder: &Ladder, height: f64) {
    svg.text(
        Point {
            x: CLIENT_X,
            y: 14.0,
        },
        Anchor::Middle,
        "lane-label",
        format!("client {}", ladder.client),
    );
    svg.text(
        Point {
            x: SERVER_X,
            y: 14.0,
        },
        Anchor::Middle,
        "lane-label",
        format!("server {}", ladder.server),
    );
    for x in [CLIENT_X, SERVER_X] {
        svg.push(Mark::new(
            Shape::Line {
                from: Point { x, y: TOP - 8.0 },
                to: Point { x, y: height - 4.0 },
            },
            "lane",
        ));
    }
}

/// A ladder being drawn: its marks so far, the labels waiting for a place, its time scale and
/// the one-way delay every arrow takes.
struct Canvas {
    svg: Svg,
    labels: Labels,
    scale: Scale,
    one_way_s: f64,
}

impl Canvas {
    /// One packet `from` a side at `at_s`, as captured: an arrow to the other lane, one one-way
    /// delay later or earlier.
    fn arrow(
        &mut self,
        from: Side,
        at_s: f64,
        label: &str,
        title: &str,
        resent: bool,
        control: bool,
    ) {
        let d = self.one_way_s;
        let (sent, arrived) = match from {
            Side::Client => ((CLIENT_X, at_s), (SERVER_X, at_s + d)),
            Side::Server => ((SERVER_X, at_s - d), (CLIENT_X, at_s)),
        };
        let a = Point {
            x: sent.0,
            y: self.scale.at(sent.1),
        };
        let b = Point {
            x: arrived.0,
            y: self.scale.at(arrived.1),
        };
        let class = match (from, resent) {
            (_, true) => "pkt resent",
            (Side::Client, false) => "pkt from-client",
            (Side::Server, false) => "pkt from-server",
        };
        self.svg
            .push(Mark::new(Shape::Arrow { from: a, to: b }, class).titled(title));
        let mid = Point {
            x: (a.x + b.x) / 2.0,
            y: (a.y + b.y) / 2.0 - 3.0,
        };
        // What the page is about first: resends, then the packets that open and close
        // connections, then rounds and requests, then ACKs.
        let rank = if resent {
            0
        } else if control {
            1
        } else if label == "ACK" {
            3
        } else {
            2
        };
        let client_y = if from == Side::Client { a.y } else { b.y };
        let class = if resent {
            "pkt-label resent"
        } else {
            "pkt-label"
        };
        self.labels.add(
            rank,
            Mark::new(
                Shape::Text {
                    at: mid,
                    anchor: Anchor::Middle,
                    text: label.to_owned(),
                },
                class,
            )
            .titled(title),
            mid.y,
            duration(at_s),
            client_y,
        );
    }

    /// Packets `from` a side between `first_s` and `last_s` as captured: a band to the other
    /// lane, shifted by the one-way delay as an arrow is.
    fn band(
        &mut self,
        from: Side,
        (first_s, last_s): (f64, f64),
        label: &str,
        title: &str,
        data: bool,
    ) {
        let d = self.one_way_s;
        let scale = self.scale;
        let (sent, arrived) = match from {
            Side::Client => (
                (CLIENT_X, first_s, last_s),
                (SERVER_X, first_s + d, last_s + d),
            ),
            Side::Server => (
                (SERVER_X, first_s - d, last_s - d),
                (CLIENT_X, first_s, last_s),
            ),
        };
        // At least a line's height, so a round sent in one burst is still seen.
        let min = 2.0;
        let corner = |x: f64, t: f64, extra: f64| Point {
            x,
            y: scale.at(t) + extra,
        };
        let sent_extra = (min - (scale.at(sent.2) - scale.at(sent.1))).max(0.0);
        let arrived_extra = (min - (scale.at(arrived.2) - scale.at(arrived.1))).max(0.0);
        let points = vec![
            corner(sent.0, sent.1, 0.0),
            corner(arrived.0, arrived.1, 0.0),
            corner(arrived.0, arrived.2, arrived_extra),
            corner(sent.0, sent.2, sent_extra),
        ];
        let class = if data { "band data" } else { "band acks" };
        let mid = Point {
            x: (CLIENT_X + SERVER_X) / 2.0,
            y: (points[0].y + points[1].y + points[2].y + points[3].y) / 4.0 + 4.0,
        };
        self.svg
            .push(Mark::new(Shape::Polygon(points), class).titled(title));
        let client_y = scale.at(if from == Side::Client {
            sent.1
        } else {
            arrived.1
        });
        self.labels.add(
            if data { 2 } else { 3 },
            Mark::new(
                Shape::Text {
                    at: mid,
                    anchor: Anchor::Middle,
                    text: label.to_owned(),
                },
                "band-label",
            )
            .titled(title),
            mid.y,
            duration(first_s),
            client_y,
        );
    }
}

impl Canvas {
    /// The server's segments of a band by stream: a line each, from the server's lane to the
    /// client's, in its stream's colour.
    fn strands(&mut self, strands: &[Strand]) {
        let d = self.one_way_s;
        for strand in strands {
            let lines = strand
                .at_s
                .iter()
                .map(|&t| {
                    (
                        Point {
                            x: SERVER_X,
                            y: self.scale.at(t - d),
                        },
                        Point {
                            x: CLIENT_X,
                            y: self.scale.at(t),
                        },
                    )
                })
                .collect();
            self.svg.push(Mark::new(
                Shape::Lines(lines),
                STRAND_CLASSES[strand.colour % STRAND_CLASSES.len()],
            ));
        }
    }
}

/// The CSS classes of the streams' colours, in turn.
const STRAND_CLASSES: [&str; super::STREAM_COLOURS] = [
    "s0 strand",
    "s1 strand",
    "s2 strand",
    "s3 strand",
    "s4 strand",
    "s5 strand",
    "s6 strand",
    "s7 strand",
];

/// A label waiting for a place: its rank (0 first), its mark and height, and the time shown
/// beside the client's lane at `time_y`.
struct Label {
    rank: u8,
    mark: Mark,
    y: f64,
    time: String,
    time_y: f64,
}

/// Labels placed by rank: resends, then SYNs, FINs and RSTs, then rounds and other named
/// packets, then ACKs; one that would overlap a placed one is left to its
/// mark's tooltip.
#[derive(Default)]
struct Labels(Vec<Label>);

impl Labels {
    fn add(&mut self, rank: u8, mark: Mark, y: f64, time: String, time_y: f64) {
        self.0.push(Label {
            rank,
            mark,
            y,
            time,
            time_y,
        });
    }

    fn place(mut self, svg: &mut Svg) {
        // Stable: within a rank, earlier labels first.
        self.0.sort_by_key(|l| l.rank);
        let (mut texts, mut times): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
        let free = |taken: &[f64], y: f64| taken.iter().all(|t| (t - y).abs() >= LABEL_GAP);
        for label in self.0 {
            if free(&texts, label.y) {
                texts.push(label.y);
                svg.push(label.mark);
            }
            if free(&times, label.time_y) {
                times.push(label.time_y);
                svg.text(
                    Point {
                        x: TIME_X,
                        y: label.time_y + 3.0,
                    },
                    Anchor::End,
                    "time",
                    label.time,
                );
            }
        }
    }
}
