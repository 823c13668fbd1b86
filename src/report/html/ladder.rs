//! Report layer: the ladder diagram of one connection — client lane, server lane, time running
//! down, each arrow sloped by the one-way delay as captured. Control packets are single arrows;
//! each round of response data is one band with its segment count and bytes, and runs of the
//! client's ACKs are one band. Every arrow's `<title>` gives the packet's time, flags, seq/ack
//! and length.

use maud::{Markup, html};

use super::svg::{Anchor, Mark, Point, Scale, Shape, Svg};
use crate::analysis::drawn::{DrawnConnection, DrawnRun};
use crate::report::ladder::notes;
use crate::report::units::{bytes, duration};
use crate::timeline::Ts;
use crate::track::Side;
use crate::track::trace::TracedPacket;
use crate::words::counted;

/// Client ACKs in a row that are still drawn one by one.
const SINGLE_ACKS: usize = 3;

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
    },
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
}

fn flags_name(p: &TracedPacket) -> String {
    let f = p.flags;
    let names: Vec<&str> = [
        (f.syn, "SYN"),
        (f.fin, "FIN"),
        (f.rst, "RST"),
        (f.psh, "PSH"),
        (f.ack, "ACK"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    names.join(", ")
}

fn packet_title(p: &TracedPacket, at_s: f64) -> String {
    let notes = notes(p);
    format!(
        "{} {} → {}: [{}] seq {} ack {} len {}{}",
        duration(at_s),
        p.from.name(),
        p.from.peer().name(),
        flags_name(p),
        p.seq,
        p.ack,
        p.len,
        if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join(", "))
        }
    )
}

fn arrow_label(p: &TracedPacket, carries: Option<&str>) -> String {
    let f = p.flags;
    let name = if f.rst {
        "RST".to_string()
    } else if f.syn && f.ack {
        "SYN-ACK".into()
    } else if f.syn {
        "SYN".into()
    } else if f.fin && p.len > 0 {
        format!("{} + FIN", bytes(f64::from(p.len)))
    } else if f.fin {
        "FIN".into()
    } else if let Some(what) = carries {
        format!("{what} {}", bytes(f64::from(p.len)))
    } else if p.len > 0 {
        bytes(f64::from(p.len))
    } else {
        "ACK".into()
    };
    match notes(p).first() {
        // "duplicate ACK" says ACK already.
        Some(&note) if name == "ACK" && note.ends_with("ACK") => note.to_owned(),
        Some(note) => format!("{name}, {note}"),
        None => name,
    }
}

impl Ladder {
    /// The ladder of `d` headed `label`, times in seconds since `origin`; `file_name` names the
    /// file of each exchange where known.
    pub fn of(
        d: &DrawnConnection,
        label: String,
        origin: Ts,
        file_name: impl Fn(usize) -> String,
    ) -> Ladder {
        let conn = &d.connection;
        let secs = |ts: Ts| ts.secs_since(origin);
        // Every round of every response, with the exchange it belongs to.
        let rounds: Vec<(usize, usize, crate::track::Round)> = conn
            .exchanges
            .iter()
            .enumerate()
            .flat_map(|(e, x)| {
                x.rounds
                    .iter()
                    .enumerate()
                    .map(move |(r, &round)| (e, r, round))
            })
            .collect();
        let in_round = |p: &TracedPacket| {
            rounds
                .iter()
                .position(|(_, _, r)| r.start <= p.ts && p.ts <= r.end)
        };
        let mut steps = Vec::new();
        let mut round_drawn = vec![false; rounds.len()];
        let mut acks: Vec<&TracedPacket> = Vec::new();
        let mut handshake_acked = false;
        let flush = |acks: &mut Vec<&TracedPacket>, steps: &mut Vec<Step>| {
            if acks.len() <= SINGLE_ACKS {
                for p in acks.iter() {
                    steps.push(Step::Arrow {
                        from: Side::Client,
                        at_s: secs(p.ts),
                        label: "ACK".into(),
                        title: packet_title(p, secs(p.ts)),
                        resent: false,
                        control: false,
                    });
                }
            } else {
                let (first, last) = (acks[0], acks[acks.len() - 1]);
                steps.push(Step::Band {
                    from: Side::Client,
                    first_s: secs(first.ts),
                    last_s: secs(last.ts),
                    label: format!("{} ACKs", acks.len()),
                    title: format!(
                        "{} … {}: {} client ACKs, ack {} … {}",
                        duration(secs(first.ts)),
                        duration(secs(last.ts)),
                        acks.len(),
                        first.ack,
                        last.ack
                    ),
                    data: false,
                });
            }
            acks.clear();
        };
        for p in &d.trace.packets {
            let f = p.flags;
            let pure_ack = f.ack && !f.syn && !f.fin && !f.rst && p.len == 0;
            // An ACK Wireshark marks (a duplicate, a zero window, a keep-alive) is drawn alone.
            let plain = notes(p).is_empty();
            if p.from == Side::Client && pure_ack && plain && handshake_acked {
                acks.push(p);
                continue;
            }
            let round = (p.from == Side::Server && p.len > 0 && plain && !f.fin)
                .then(|| in_round(p))
                .flatten();
            // Segments of a round already drawn fall inside its band: the client's ACKs around
            // them stay one run.
            if round.is_none_or(|i| !round_drawn[i]) {
                flush(&mut acks, &mut steps);
            }
            if p.from == Side::Client && pure_ack {
                handshake_acked = true;
            }
            if let Some(i) = round {
                if !round_drawn[i] {
                    round_drawn[i] = true;
                    let (e, r, round) = rounds[i];
                    let file = d.files.get(e).copied().flatten();
                    // A capture without the run's plan names a response by its request's
                    // target where the capture shows it.
                    let response = match (file, &conn.exchanges[e].target) {
                        (Some(file), _) => file_name(file),
                        (None, Some(target)) => target.clone(),
                        (None, None) => format!("response {}", e + 1),
                    };
                    steps.push(Step::Band {
                        from: Side::Server,
                        first_s: secs(round.start),
                        last_s: secs(round.end),
                        label: format!(
                            "round {}: {}, {}",
                            r + 1,
                            counted(round.segments, "segment", "segments"),
                            bytes(round.bytes as f64)
                        ),
                        title: format!(
                            "{response}, round {} of {}: {} … {} as captured, {}, {} ({})",
                            r + 1,
                            conn.exchanges[e].rounds.len(),
                            duration(secs(round.start)),
                            duration(secs(round.end)),
                            counted(round.segments, "segment", "segments"),
                            bytes(round.bytes as f64),
                            counted(round.bytes, "byte", "bytes")
                        ),
                        data: true,
                    });
                }
                continue;
            }
            let carries = crate::report::ladder::carries(conn, p);
            steps.push(Step::Arrow {
                from: p.from,
                at_s: secs(p.ts),
                label: arrow_label(p, carries),
                title: packet_title(p, secs(p.ts)),
                resent: p.resent,
                control: f.syn || f.fin || f.rst,
            });
        }
        flush(&mut acks, &mut steps);
        Ladder {
            label,
            client: conn.client.to_string(),
            server: conn.server.to_string(),
            one_way_s: d.one_way_s,
            steps,
        }
    }

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

const WIDTH: f64 = 520.0;
const TIME_X: f64 = 64.0;
const CLIENT_X: f64 = 96.0;
const SERVER_X: f64 = 440.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 14.0;
/// Labels closer than this (pixels) to a placed one are left to the tooltip: a 10.5 px line and
/// its halo.
const LABEL_GAP: f64 = 13.0;

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
                            }
                            (draw(ladder, px_per_s))
                        }
                    }
                }
            }
        }
    }
}

fn draw(ladder: &Ladder, px_per_s: f64) -> Svg {
    let (t0, t1) = ladder.span_s();
    let height = TOP + (t1 - t0) * px_per_s + BOTTOM + 12.0;
    let scale = Scale::new(t0, t1, TOP + 6.0, TOP + 6.0 + (t1 - t0) * px_per_s);
    let mut svg = Svg::new(
        "ladder",
        WIDTH,
        height,
        format!("{}: {} and {}", ladder.label, ladder.client, ladder.server),
    );
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
    let d = ladder.one_way_s;
    let mut labels = Labels::default();
    for step in &ladder.steps {
        match step {
            Step::Arrow {
                from,
                at_s,
                label,
                title,
                resent,
                control,
            } => {
                let (sent, arrived) = match from {
                    Side::Client => ((CLIENT_X, *at_s), (SERVER_X, at_s + d)),
                    Side::Server => ((SERVER_X, at_s - d), (CLIENT_X, *at_s)),
                };
                let a = Point {
                    x: sent.0,
                    y: scale.at(sent.1),
                };
                let b = Point {
                    x: arrived.0,
                    y: scale.at(arrived.1),
                };
                let class = match (from, resent) {
                    (_, true) => "pkt resent",
                    (Side::Client, false) => "pkt from-client",
                    (Side::Server, false) => "pkt from-server",
                };
                svg.push(Mark::new(Shape::Arrow { from: a, to: b }, class).titled(title.clone()));
                let mid = Point {
                    x: (a.x + b.x) / 2.0,
                    y: (a.y + b.y) / 2.0 - 3.0,
                };
                // What the page is about first: resends, then the packets that open and close
                // connections, then rounds and requests, then ACKs.
                let rank = if *resent {
                    0
                } else if *control {
                    1
                } else if label == "ACK" {
                    3
                } else {
                    2
                };
                let client_y = if *from == Side::Client { a.y } else { b.y };
                let class = if *resent {
                    "pkt-label resent"
                } else {
                    "pkt-label"
                };
                labels.add(
                    rank,
                    Mark::new(
                        Shape::Text {
                            at: mid,
                            anchor: Anchor::Middle,
                            text: label.clone(),
                        },
                        class,
                    )
                    .titled(title.clone()),
                    mid.y,
                    duration(*at_s),
                    client_y,
                );
            }
            Step::Band {
                from,
                first_s,
                last_s,
                label,
                title,
                data,
            } => {
                let (sent, arrived) = match from {
                    Side::Client => (
                        (CLIENT_X, *first_s, *last_s),
                        (SERVER_X, first_s + d, last_s + d),
                    ),
                    Side::Server => (
                        (SERVER_X, first_s - d, last_s - d),
                        (CLIENT_X, *first_s, *last_s),
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
                let class = if *data { "band data" } else { "band acks" };
                let mid = Point {
                    x: (CLIENT_X + SERVER_X) / 2.0,
                    y: (points[0].y + points[1].y + points[2].y + points[3].y) / 4.0 + 4.0,
                };
                svg.push(Mark::new(Shape::Polygon(points), class).titled(title.clone()));
                let client_y = scale.at(if *from == Side::Client {
                    sent.1
                } else {
                    arrived.1
                });
                labels.add(
                    if *data { 2 } else { 3 },
                    Mark::new(
                        Shape::Text {
                            at: mid,
                            anchor: Anchor::Middle,
                            text: label.clone(),
                        },
                        "band-label",
                    )
                    .titled(title.clone()),
                    mid.y,
                    duration(*first_s),
                    client_y,
                );
            }
        }
    }
    labels.place(&mut svg);
    svg
}

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

/// The ladders of one drawn run: one per connection, numbered from 1 in the order they opened
/// (as the waterfall's rows of the same run).
pub fn of_run(run: &DrawnRun, file_name: &dyn Fn(usize) -> String) -> Vec<Ladder> {
    run.connections
        .iter()
        .enumerate()
        .map(|(i, c)| Ladder::of(c, format!("connection {}", i + 1), run.start, file_name))
        .collect()
}
