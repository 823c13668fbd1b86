//! Attribute layer: the model of each mode, to print beside the measured mean: handshake and
//! request round trips, then each response sent as the server's TCP sends it — segment by segment,
//! as its congestion window, the receive window the client advertised and the link's rate let it,
//! paced where the congestion control paces — and the window carried across a persistent
//! connection. Pure arithmetic; of the project it imports only where the tracker ends a round, so
//! the model counts rounds as the capture does.

use crate::track::ROUND_BOUNDARY_RTT_FRACTION;

/// Linux's least retransmission timeout beyond the smoothed round trip (`TCP_RTO_MIN`, 200 ms): a
/// connection idle for longer than its timeout restarts from its initial window when
/// `tcp_slow_start_after_idle` is set.
const RTO_MIN_S: f64 = 0.2;

/// BBR's startup gain, 2/ln 2 (`high_gain` in Linux's tcp_bbr.c): its pacing rate is this times
/// the best delivery rate measured, and its window stops growing at this many bandwidth-delay
/// products.
const BBR_HIGH_GAIN: f64 = 2.885;

/// BBR paces 1 % below its rate (`bbr_pacing_margin_percent`).
const BBR_PACING_MARGIN: f64 = 0.99;

/// Linux's `TCP_INIT_CWND`: BBR grows its window unconditionally until this many segments were
/// delivered on the connection, and Linux paces none of a connection's first this many data
/// segments (`tcp_update_skb_after_send`).
const INIT_CWND: u64 = 10;

/// The largest burst Linux hands the device at once (64 KiB, `GSO_LEGACY_MAX_SIZE`), which BBR's
/// window keeps room for three times over.
const GSO_MAX_BYTES: f64 = 65_536.0;

/// How the sender spaces the segments its window lets out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Release {
    /// All at once as the window opens: each round's flight leaves as a burst (Reno, CUBIC
    /// without a pacing queue discipline).
    #[default]
    Burst,
    /// BBR's startup (Linux's tcp_bbr.c): paced at 2/ln 2 times the best delivery rate measured
    /// (before any, the initial window per round trip), the window grown by each segment
    /// acknowledged while below 2/ln 2 bandwidth-delay products. Each flight is spread over
    /// part of the round trip, and from the third on the sending is continuous, its rate
    /// doubling every round trip.
    BbrStartup,
}

/// What the model needs to know about the path and the sender.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct PathModel {
    /// Round-trip time in seconds: the configured one when emulated, else the measured handshake.
    pub rtt_s: f64,
    /// Initial window in segments: what the first flight of a fresh connection held as captured
    /// (the client's receive window can hold it below the congestion window).
    pub initial_window: u32,
    /// The sender's initial congestion window (TCP_INFO), in segments.
    pub congestion_window: u32,
    /// Maximum segment size in bytes.
    pub mss: u32,
    /// Bottleneck rate in bits/s, if limited.
    pub rate_bps: Option<u64>,
    /// The receive window the client advertised as a connection's first response began, in
    /// bytes (capture); it grows by two segments for each segment the client receives, as
    /// Linux's receiver raises it (`tcp_grow_window`). None when not captured: no limit.
    pub receive_window: Option<u64>,
    /// How the sender spaces its segments (its congestion control).
    pub release: Release,
    /// `tcp_slow_start_after_idle`: a connection idle for longer than its retransmission
    /// timeout falls back to its initial window.
    pub restart_after_idle: bool,
    /// What opening a connection costs before its first request can leave.
    pub opening: Opening,
}

/// What opening a connection costs: TCP's handshake (none with Fast Open once the client holds
/// a cookie) and TLS's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, schemars::JsonSchema)]
pub struct Opening {
    /// TCP Fast Open: every connection sends its request (or ClientHello) with the SYN, the
    /// kernel holding the cookie from the warm-up run on.
    pub fastopen: bool,
    /// TLS, when spoken.
    pub tls: Option<TlsOpening>,
}

/// The round trips a TLS handshake adds before the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct TlsOpening {
    /// A full handshake's round trips (TLS 1.2: 2, TLS 1.3: 1).
    pub full: u32,
    /// A resumed one's (1), used on every connection after a run's first.
    pub resumed: Option<u32>,
    /// Resumed connections send their request as early data: no TLS round trip before it.
    pub early_data: bool,
}

impl Opening {
    /// Round trips before the request of a connection: (TCP, TLS). `later` is false for the
    /// first connection of a run and for the first batch of parallel ones: no TLS session yet
    /// (each run starts without), while a Fast Open cookie outlives runs.
    pub fn round_trips(&self, later: bool) -> (u32, u32) {
        let tcp = u32::from(!self.fastopen);
        let tls = match self.tls {
            None => 0,
            Some(t) => match (later, t.resumed) {
                (true, Some(_)) if t.early_data => 0,
                (true, Some(resumed)) => resumed,
                _ => t.full,
            },
        };
        (tcp, tls)
    }
}

/// How the files are fetched, for the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// One connection per file, one after another.
    NonPersistent,
    /// One connection, one request after another.
    Persistent,
    /// One connection, all requests at once.
    Pipelined,
    /// One connection per file, up to this many at once.
    Parallel(usize),
}

/// A predicted run time, split into its terms.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct Prediction {
    /// Round trips for handshakes and requests, in seconds (`handshakes_s + tls_handshakes_s +
    /// requests_s`).
    pub round_trips_s: f64,
    /// Of those, the TCP handshakes' round trips on the critical path.
    pub handshakes_s: f64,
    /// Of those, the TLS handshakes' round trips on the critical path.
    pub tls_handshakes_s: f64,
    /// Of those, the requests' round trips (request → first byte) on the critical path.
    pub requests_s: f64,
    /// Seconds on the critical path from each response's first segment to its last, beyond the
    /// serialisation: the waits for acknowledgements between flights and the pacing's spread.
    pub slow_start_s: f64,
    /// Serialisation of the critical path's bytes at the link rate, in seconds.
    pub serialisation_s: f64,
    /// Rounds beyond each response's first, over all responses, counted as the capture counts
    /// them at the client: a round ends when the ACK of its first segment leaves, and a segment
    /// arriving from [`ROUND_BOUNDARY_RTT_FRACTION`] of a round trip later opens the next.
    pub extra_rounds: u32,
    /// Over all responses, each one's first round's first segment → its last round's first
    /// segment, at the client.
    pub round_spacing_s: f64,
    /// Over all responses, each one's last round, first → last segment, at the client.
    pub last_round_s: f64,
    /// Whether segments waited in the link's queue: the link's rate, not the sender's rounds,
    /// paced the transfer.
    pub link_paced: bool,
    /// The sum.
    pub total_s: f64,
}

/// The sender's state that outlives a response on a persistent connection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sender {
    /// Congestion window, in segments.
    pub cwnd: f64,
    /// Pacing rate in bytes/s (infinite when the sender does not pace).
    pub pacing: f64,
    /// The best delivery rate measured, in bytes/s.
    pub max_bw: f64,
    /// Segments delivered over the connection's life.
    pub delivered: u64,
    /// Data segments sent over the connection's life.
    pub sent: u64,
    /// The receive window the client advertises, in bytes (infinite when not captured).
    pub receive_window: f64,
}

impl Sender {
    /// A fresh connection's sender, its handshake done: BBR starts pacing at its gain times
    /// the initial window per round trip (`bbr_init_pacing_rate_from_rtt`).
    pub fn fresh(path: &PathModel) -> Sender {
        let cwnd = f64::from(path.congestion_window.max(1));
        let pacing = match path.release {
            Release::Burst => f64::INFINITY,
            Release::BbrStartup if path.rtt_s > 0.0 => {
                BBR_HIGH_GAIN * BBR_PACING_MARGIN * cwnd * f64::from(path.mss) / path.rtt_s
            }
            Release::BbrStartup => f64::INFINITY,
        };
        Sender {
            cwnd,
            pacing,
            max_bw: 0.0,
            delivered: 0,
            sent: 0,
            receive_window: path.receive_window.map_or(f64::INFINITY, |w| w as f64),
        }
    }

    /// After `idle_s` without sending: with `tcp_slow_start_after_idle`, a pause longer than the
    /// retransmission timeout (at least the round trip plus `TCP_RTO_MIN`) takes the window
    /// back to the initial one (`tcp_cwnd_restart`).
    pub fn after_idle(self, path: &PathModel, idle_s: f64) -> Sender {
        if path.restart_after_idle && idle_s > path.rtt_s + RTO_MIN_S {
            Sender {
                cwnd: self.cwnd.min(f64::from(path.congestion_window.max(1))),
                ..self
            }
        } else {
            self
        }
    }

    /// One acknowledged segment: the window grows by it (slow start; BBR while below its cap)
    /// and BBR raises its pacing rate to its gain times the best delivery rate.
    fn acked(&mut self, path: &PathModel, delivery_rate: Option<f64>) {
        self.delivered += 1;
        // The client's window grows by two segments for each one it received.
        self.receive_window += 2.0 * f64::from(path.mss.max(1));
        match path.release {
            Release::Burst => self.cwnd += 1.0,
            Release::BbrStartup => {
                if let Some(rate) = delivery_rate {
                    self.max_bw = self.max_bw.max(rate);
                }
                self.pacing = self
                    .pacing
                    .max(BBR_HIGH_GAIN * BBR_PACING_MARGIN * self.max_bw);
                let mss = f64::from(path.mss.max(1));
                // BBR keeps room for three bursts of about a millisecond at its pacing rate
                // (`bbr_quantization_budget`, `bbr_tso_segs_goal`).
                let burst = (self.pacing / 1024.0 / mss).clamp(2.0, GSO_MAX_BYTES / mss);
                let target = BBR_HIGH_GAIN * self.max_bw * path.rtt_s / mss + 3.0 * burst;
                if self.cwnd < target || self.delivered < INIT_CWND {
                    self.cwnd += 1.0;
                }
            }
        }
    }
}

/// How one response went in the model, its times from the request's arrival at the server.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Delivery {
    /// When the last segment reached the client.
    pub last_arrival_s: f64,
    /// Rounds as the capture at the client counts them.
    pub rounds: u32,
    /// First round's first segment → last round's first segment, at the client.
    pub round_spacing_s: f64,
    /// The last round's first → last segment, at the client.
    pub last_round_s: f64,
    /// Whether a segment waited in the link's queue.
    pub link_paced: bool,
}

/// One segment the model sent.
#[derive(Debug, Clone, Copy)]
struct Sent {
    tx: f64,
    arrival: f64,
    /// The connection's delivered count, the time of the last delivery, and the send time of
    /// the segment last delivered, as the segment left (Linux's rate sample, tcp_rate.c).
    prior_delivered: u64,
    prior_at: f64,
    first_tx: f64,
}

/// Sends `bytes` from `sender`'s state as the server's TCP would, segment by segment: each
/// leaves once the congestion window and the client's receive window have room and the pacing
/// rate allows; it reaches the client half a round trip later (after the segments ahead of it
/// at the link's rate), and its ACK returns half a round trip after that. Time 0 is the
/// request's arrival; nothing is in flight then.
pub fn deliver(path: &PathModel, sender: &mut Sender, bytes: u64) -> Delivery {
    let mss = u64::from(path.mss.max(1));
    let one_way = path.rtt_s / 2.0;
    let count = bytes.div_ceil(mss).max(1) as usize;
    let size = |i: usize| (bytes - (i as u64 * mss).min(bytes)).min(mss) as f64;
    let mut sent: Vec<Sent> = Vec::with_capacity(count);
    // Acknowledged segments of this response.
    let mut acked = 0usize;
    let (mut delivered_at, mut first_tx) = (0.0, 0.0);
    let (mut next_tx, mut link_free, mut link_paced) = (0.0f64, 0.0f64, false);
    // The current round's first segment, the rounds so far and the arrivals that bound them.
    let (mut round_first, mut rounds) = (0usize, 0u32);
    let (mut first_round_start, mut last_round_start) = (0.0, 0.0);
    let ack_at = |s: &Sent| s.arrival + one_way;
    let take_ack = |sender: &mut Sender, sent: &[Sent], acked: &mut usize| {
        let s = sent[*acked];
        let now = ack_at(&s);
        *acked += 1;
        let interval = (s.tx - s.first_tx).max(now - s.prior_at);
        let newly = sender.delivered + 1 - s.prior_delivered;
        let rate = (interval > 0.0).then(|| newly as f64 * mss as f64 / interval);
        sender.acked(path, rate);
        (now, s.tx)
    };
    for i in 0..count {
        let mut t = next_tx;
        loop {
            while acked < i && ack_at(&sent[acked]) <= t {
                let (now, tx) = take_ack(sender, &sent, &mut acked);
                (delivered_at, first_tx) = (now, tx);
            }
            let in_flight = i - acked;
            let room = (in_flight as f64) < sender.cwnd.floor()
                && (in_flight as f64 + 1.0) * mss as f64 <= sender.receive_window;
            if in_flight == 0 || room {
                break;
            }
            t = t.max(ack_at(&sent[acked]));
        }
        if i == acked {
            (delivered_at, first_tx) = (t, t);
        }
        let serialisation = path.rate_bps.map_or(0.0, |r| size(i) * 8.0 / r as f64);
        let start = t.max(link_free);
        link_paced |= link_free > t + 1e-12;
        link_free = start + serialisation;
        let arrival = link_free + one_way;
        let boundary = ROUND_BOUNDARY_RTT_FRACTION * path.rtt_s;
        if i == 0 || arrival >= sent[round_first].arrival + boundary {
            round_first = i;
            rounds += 1;
            if i == 0 {
                first_round_start = arrival;
            }
            last_round_start = arrival;
        }
        sent.push(Sent {
            tx: t,
            arrival,
            prior_delivered: sender.delivered,
            prior_at: delivered_at,
            first_tx,
        });
        sender.sent += 1;
        next_tx = if sender.sent >= INIT_CWND {
            t + size(i) / sender.pacing
        } else {
            t
        };
    }
    // The window grows with the ACKs still to come, before the next response.
    while acked < count {
        take_ack(sender, &sent, &mut acked);
    }
    let last_arrival = sent[count - 1].arrival;
    Delivery {
        last_arrival_s: last_arrival,
        rounds,
        round_spacing_s: last_round_start - first_round_start,
        last_round_s: last_arrival - last_round_start,
        link_paced,
    }
}

fn serialisation(path: &PathModel, bytes: u64) -> f64 {
    path.rate_bps.map_or(0.0, |r| bytes as f64 * 8.0 / r as f64)
}

/// The terms of one connection's or one chain's share of the critical path.
#[derive(Debug, Clone, Copy, Default)]
struct Terms {
    handshakes: f64,
    tls: f64,
    requests: f64,
    slow_start: f64,
    serialisation: f64,
}

impl Terms {
    fn total(&self) -> f64 {
        self.handshakes + self.tls + self.requests + self.slow_start + self.serialisation
    }

    fn add(&mut self, other: Terms) {
        self.handshakes += other.handshakes;
        self.tls += other.tls;
        self.requests += other.requests;
        self.slow_start += other.slow_start;
        self.serialisation += other.serialisation;
    }
}

/// Rounds and their spans over all responses, as the capture sums them.
#[derive(Debug, Clone, Copy, Default)]
struct RoundSums {
    extra: u32,
    spacing: f64,
    last: f64,
    link_paced: bool,
}

impl RoundSums {
    fn add(&mut self, d: &Delivery) {
        self.extra += d.rounds.saturating_sub(1);
        self.spacing += d.round_spacing_s;
        self.last += d.last_round_s;
        self.link_paced |= d.link_paced;
    }
}

/// A response's request round trip and what follows its first segment's arrival.
fn response_terms(path: &PathModel, delivery: &Delivery, bytes: u64) -> Terms {
    let serialised = serialisation(path, bytes);
    Terms {
        requests: path.rtt_s,
        // The first segment arrives half a round trip after it left, with the request's half
        // round trip the request's round trip; the rest is waits, spread and serialisation.
        slow_start: (delivery.last_arrival_s - path.rtt_s / 2.0 - serialised).max(0.0),
        serialisation: serialised,
        ..Terms::default()
    }
}

/// The model's run time for `pattern` over files of these sizes.
pub fn predict(pattern: Pattern, path: &PathModel, files: &[u64]) -> Prediction {
    let rtt = path.rtt_s;
    let mut sums = RoundSums::default();
    // Round trips of opening the `index`th connection of a run.
    let opening = |later: bool| -> Terms {
        let (tcp, tls) = path.opening.round_trips(later);
        Terms {
            handshakes: f64::from(tcp) * rtt,
            tls: f64::from(tls) * rtt,
            ..Terms::default()
        }
    };
    // A connection of its own for one file.
    let alone = |later: bool, bytes: u64, sums: &mut RoundSums| -> Terms {
        let mut sender = Sender::fresh(path);
        let delivery = deliver(path, &mut sender, bytes);
        sums.add(&delivery);
        let mut terms = opening(later);
        terms.add(response_terms(path, &delivery, bytes));
        terms
    };
    let critical = match pattern {
        Pattern::NonPersistent => {
            let mut terms = Terms::default();
            for (i, &bytes) in files.iter().enumerate() {
                terms.add(alone(i > 0, bytes, &mut sums));
            }
            terms
        }
        Pattern::Persistent => {
            let mut terms = opening(false);
            let mut sender = Sender::fresh(path);
            for &bytes in files {
                let delivery = deliver(path, &mut sender, bytes);
                sums.add(&delivery);
                terms.add(response_terms(path, &delivery, bytes));
                // The server idles from its last segment until the next request arrives: the
                // segment's way to the client and the request's back.
                sender = sender.after_idle(path, rtt);
            }
            terms
        }
        Pattern::Pipelined => {
            // Every request leaves at once: the responses are one stream, on one connection,
            // from the first request's arrival on.
            alone(false, files.iter().sum(), &mut sums)
        }
        Pattern::Parallel(k) => {
            // K slots, each taking the next file as soon as its previous one is done (the
            // client's pool): the run ends with the slot that finishes last.
            let mut slots = vec![Terms::default(); k.max(1).min(files.len().max(1))];
            for (i, &bytes) in files.iter().enumerate() {
                let slot = slots
                    .iter_mut()
                    .min_by(|a, b| a.total().total_cmp(&b.total()))
                    .expect("at least one slot");
                // The first batch opens before any session exists; later ones may resume.
                slot.add(alone(i >= k, bytes, &mut sums));
            }
            slots
                .into_iter()
                .max_by(|a, b| a.total().total_cmp(&b.total()))
                .unwrap_or_default()
        }
    };
    Prediction {
        round_trips_s: critical.handshakes + critical.tls + critical.requests,
        handshakes_s: critical.handshakes,
        tls_handshakes_s: critical.tls,
        requests_s: critical.requests,
        slow_start_s: critical.slow_start,
        serialisation_s: critical.serialisation,
        extra_rounds: sums.extra,
        round_spacing_s: sums.spacing,
        last_round_s: sums.last,
        link_paced: sums.link_paced,
        total_s: critical.total(),
    }
}

/// Where a measured mean differs from the model: named effects whose sum is the difference.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct ModelGap {
    /// The measured mean run total.
    pub measured_s: f64,
    /// The model's total.
    pub predicted_s: f64,
    /// The effects, in a fixed order; their seconds add up to `measured_s − predicted_s`.
    pub effects: Vec<Effect>,
}

/// One effect the model leaves out, in seconds per run.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(tag = "effect", rename_all = "kebab-case")]
pub enum Effect {
    /// Handshakes took longer than the model's round trips.
    Handshakes {
        /// Seconds.
        seconds: f64,
    },
    /// TLS handshakes took longer than the model's round trips: the cryptography, the
    /// certificate's bytes, and a Finished that waits for the client.
    TlsHandshakes {
        /// Seconds.
        seconds: f64,
    },
    /// Request → first byte took longer than the model's round trips: the server's time
    /// (reading the request, opening the file) and a delayed first segment.
    ServerTime {
        /// Seconds.
        seconds: f64,
    },
    /// Rounds were spaced further apart than the model's: the client's ACK of a round's first
    /// segment was delayed, or the server was slow to send the next.
    RoundSpacing {
        /// Seconds: the sum over rounds of (start − previous start − RTT), less the model's.
        seconds: f64,
    },
    /// Each response's last round was spread over more time than the model's.
    LastRound {
        /// Seconds: the sum over responses of their last round's first → last segment, less
        /// the model's.
        seconds: f64,
    },
    /// The responses took more (or fewer) packet-timed rounds than the model's sender.
    Rounds {
        /// Seconds: the rounds times the round trip.
        seconds: f64,
        /// Rounds per run beyond the model's.
        rounds: f64,
        /// Seconds per run the client's receive window kept the server from sending
        /// (TCP_INFO `rwnd_limited`), when it did: the receive window, growing more slowly than
        /// the model's doubling window, is what took the extra rounds.
        receive_window_limited_s: Option<f64>,
    },
    /// The client's own time on the critical path: its work before requests, closing after a
    /// file and reconnecting, and outside the captured timeline (connect() before the first SYN,
    /// reading the last byte after it arrived).
    Client {
        /// Seconds.
        seconds: f64,
    },
    /// Everything else: transfer time the rounds do not account for.
    Rest {
        /// Seconds.
        seconds: f64,
    },
}

impl Effect {
    /// The effect's seconds per run.
    pub fn seconds(&self) -> f64 {
        match *self {
            Effect::Handshakes { seconds }
            | Effect::TlsHandshakes { seconds }
            | Effect::ServerTime { seconds }
            | Effect::RoundSpacing { seconds }
            | Effect::LastRound { seconds }
            | Effect::Client { seconds }
            | Effect::Rounds { seconds, .. }
            | Effect::Rest { seconds } => seconds,
        }
    }
}

/// What a mode's runs measured, averaged per run, for the comparison with the model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    /// Mean run total.
    pub total_s: f64,
    /// Mean handshake phase.
    pub handshake_s: f64,
    /// Mean TLS handshake phase.
    pub tls_s: f64,
    /// Mean request-wait phase.
    pub wait_s: f64,
    /// Mean of the client's own phases (client work, closing, between connections) plus what
    /// lies outside the captured timeline.
    pub client_s: f64,
    /// Mean rounds beyond each response's first, when a capture counted them.
    pub extra_rounds: Option<f64>,
    /// Mean over runs of the rounds' spacing: the sum over responses of each round's start −
    /// the previous round's start (capture).
    pub round_spacing_s: Option<f64>,
    /// Mean over runs of the sum of each response's last round span (capture).
    pub last_round_s: Option<f64>,
    /// Mean seconds per run the client's receive window held the server back (TCP_INFO).
    pub rwnd_limited_s: Option<f64>,
}

impl ModelGap {
    /// Splits measured − predicted into handshakes, server time, rounds and the rest.
    pub fn of(measured: &Measured, predicted: &Prediction, path: &PathModel) -> ModelGap {
        let handshakes = measured.handshake_s - predicted.handshakes_s;
        let server = measured.wait_s - predicted.requests_s;
        let mut effects = vec![
            Effect::Handshakes {
                seconds: handshakes,
            },
            Effect::ServerTime { seconds: server },
        ];
        effects.push(Effect::Client {
            seconds: measured.client_s,
        });
        let mut explained = handshakes + server + measured.client_s;
        if path.opening.tls.is_some() {
            let tls = measured.tls_s - predicted.tls_handshakes_s;
            effects.insert(1, Effect::TlsHandshakes { seconds: tls });
            explained += tls;
        }
        // The rounds, their spacing and each response's last round, against the model's own,
        // counted alike. Where the link's queue paced the model's segments the rounds are the
        // link's pace, not the sender's: the transfer's difference is then left whole to the rest.
        if let Some(rounds) = measured.extra_rounds.filter(|_| !predicted.link_paced) {
            let beyond = f64::from(predicted.extra_rounds);
            if let Some(spacing) = measured.round_spacing_s {
                let model = predicted.round_spacing_s - beyond * path.rtt_s;
                let seconds = spacing - rounds * path.rtt_s - model;
                effects.push(Effect::RoundSpacing { seconds });
                explained += seconds;
            }
            if let Some(last) = measured.last_round_s {
                let seconds = last - predicted.last_round_s;
                effects.push(Effect::LastRound { seconds });
                explained += seconds;
            }
            let rounds = rounds - beyond;
            effects.push(Effect::Rounds {
                seconds: rounds * path.rtt_s,
                rounds,
                receive_window_limited_s: measured.rwnd_limited_s.filter(|&s| s > 0.0),
            });
            explained += rounds * path.rtt_s;
        }
        effects.push(Effect::Rest {
            seconds: measured.total_s - predicted.total_s - explained,
        });
        ModelGap {
            measured_s: measured.total_s,
            predicted_s: predicted.total_s,
            effects,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 40 ms, 1000-byte segments, an initial window of 10, flights sent at once, no receive window.
    const PATH: PathModel = PathModel {
        rtt_s: 0.040,
        initial_window: 10,
        congestion_window: 10,
        mss: 1000,
        rate_bps: None,
        receive_window: None,
        release: Release::Burst,
        restart_after_idle: true,
        opening: Opening {
            fastopen: false,
            tls: None,
        },
    };

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn a_burst_sender_doubles_its_flights_growing_by_each_segment_acknowledged() {
        // 70 segments: 10 at 0, 20 when their ACKs return at 40 ms, 40 at 80 ms, arriving 20 ms
        // later; the window ends at 10 + 70.
        let mut sender = Sender::fresh(&PATH);
        let d = deliver(&PATH, &mut sender, 70_000);
        assert_eq!(d.rounds, 3);
        assert!(close(d.last_arrival_s, 0.100), "{d:?}");
        assert!(close(d.round_spacing_s, 0.080) && close(d.last_round_s, 0.0));
        assert!(!d.link_paced);
        assert_eq!(sender.cwnd, 80.0);
        // One segment past a flight takes a round of its own.
        let d = deliver(&PATH, &mut Sender::fresh(&PATH), 10_001);
        assert_eq!((d.rounds, close(d.last_arrival_s, 0.060)), (2, true));
    }

    #[test]
    fn a_persistent_connection_carries_its_window_unless_idle_past_the_timeout() {
        // The second file fits in the window the first left (80): one round.
        let p = predict(Pattern::Persistent, &PATH, &[70_000, 70_000]);
        assert_eq!(p.extra_rounds, 2);
        assert!(close(p.handshakes_s, 0.040) && close(p.requests_s, 0.080));
        assert!(close(p.slow_start_s, 0.080), "{p:?}");
        assert!(close(p.total_s, 0.200), "{p:?}");
        let np = predict(Pattern::NonPersistent, &PATH, &[70_000, 70_000]);
        assert_eq!(np.extra_rounds, 4);
        assert!(close(np.total_s, 2.0 * (0.040 + 0.040 + 0.080)), "{np:?}");
        // The pause between responses (a round trip) is below the timeout (the round trip plus
        // 200 ms); a longer one restarts from the initial window, unless the sysctl is off.
        let mut sender = Sender::fresh(&PATH);
        deliver(&PATH, &mut sender, 70_000);
        assert_eq!(sender.after_idle(&PATH, 0.040).cwnd, 80.0);
        assert_eq!(sender.after_idle(&PATH, 0.300).cwnd, 10.0);
        let kept = PathModel {
            restart_after_idle: false,
            ..PATH
        };
        assert_eq!(sender.after_idle(&kept, 0.300).cwnd, 80.0);
    }

    #[test]
    fn the_clients_receive_window_holds_the_first_flight_and_grows_with_what_it_received() {
        // A window of 5 segments lets 5 of the 10 out; their 5 ACKs raise it by two segments
        // each (15) and the congestion window by one each (15): the other 15 leave at 40 ms.
        let path = PathModel {
            receive_window: Some(5_000),
            ..PATH
        };
        let mut sender = Sender::fresh(&path);
        let d = deliver(&path, &mut sender, 20_000);
        assert_eq!(d.rounds, 2);
        assert!(close(d.last_arrival_s, 0.060), "{d:?}");
        assert_eq!(sender.receive_window, 5_000.0 + 20.0 * 2_000.0);
    }

    #[test]
    fn at_a_link_rate_segments_queue_and_serialisation_is_its_own_term() {
        // 1000-byte segments at 8 Mbit/s take 1 ms each: ten sent at once arrive 1 ms apart,
        // the last 10 ms after the first left plus the one-way delay.
        let path = PathModel {
            rate_bps: Some(8_000_000),
            ..PATH
        };
        let d = deliver(&path, &mut Sender::fresh(&path), 10_000);
        assert!(close(d.last_arrival_s, 0.030), "{d:?}");
        assert!(d.link_paced);
        let p = predict(Pattern::Persistent, &path, &[10_000]);
        assert!(close(p.serialisation_s, 0.010) && close(p.slow_start_s, 0.0));
        assert!(close(p.total_s, 0.090), "{p:?}");
    }

    #[test]
    fn bbr_paces_from_the_eleventh_segment_at_its_gain_times_the_initial_window_per_rtt() {
        let path = PathModel {
            release: Release::BbrStartup,
            ..PATH
        };
        let mut sender = Sender::fresh(&path);
        let rate = 2.885 * 0.99 * 10.0 * 1000.0 / 0.040;
        assert!(close(sender.pacing, rate));
        // The first ten leave at once; their ACKs at 40 ms measure 10 segments per 40 ms, which
        // keeps the rate, and open the window to 20: the next ten leave 1000 bytes / rate apart.
        let d = deliver(&path, &mut sender, 20_000);
        assert_eq!(d.rounds, 2);
        let last = 0.040 + 9.0 * 1000.0 / rate + 0.020;
        assert!(close(d.last_arrival_s, last), "{d:?}");
        assert!(close(sender.max_bw, 10.0 * 1000.0 / 0.040));
        assert!(close(sender.pacing, rate));
        assert_eq!(sender.cwnd, 30.0);
    }

    #[test]
    fn modes_follow_their_round_trips() {
        // Five segments a file: each response is one flight.
        let files = [5_000, 5_000, 5_000];
        let total = |pattern| predict(pattern, &PATH, &files).total_s;
        assert!(close(total(Pattern::NonPersistent), 3.0 * 2.0 * 0.040));
        assert!(close(total(Pattern::Persistent), 0.040 + 3.0 * 0.040));
        // Fifteen segments in one stream: 10, then 5 a round trip later.
        assert!(close(total(Pattern::Pipelined), 2.0 * 0.040 + 0.040));
        // Two slots: the third file waits for the first slot.
        assert!(close(total(Pattern::Parallel(2)), 2.0 * 2.0 * 0.040));
    }

    #[test]
    fn parallel_slots_take_the_next_file_as_soon_as_theirs_is_done() {
        // 50 segments take 10 + 20 + 20: 160 ms on slot A. Slot B fetches the second and third
        // file by then; the fourth and fifth go to A and B at 160 ms: 240 ms, where batches of
        // two would take 160 + 80 + 80.
        let p = predict(
            Pattern::Parallel(2),
            &PATH,
            &[50_000, 5_000, 5_000, 5_000, 5_000],
        );
        assert!(close(p.total_s, 0.240), "{p:?}");
        assert_eq!(p.extra_rounds, 2);
    }

    #[test]
    fn tls_and_fast_open_change_the_round_trips_before_each_request() {
        let files = [5_000, 5_000, 5_000];
        let with = |fastopen, tls| PathModel {
            opening: Opening { fastopen, tls },
            ..PATH
        };
        let tls12 = TlsOpening {
            full: 2,
            resumed: None,
            early_data: false,
        };
        let tls13 = TlsOpening { full: 1, ..tls12 };
        let rtts = |path: &PathModel, pattern| {
            let p = predict(pattern, path, &files);
            (p.round_trips_s / path.rtt_s).round() as u32
        };
        // Non-persistent: three openings of (TCP + TLS) and three requests.
        assert_eq!(
            rtts(&with(false, Some(tls12)), Pattern::NonPersistent),
            3 * 3 + 3
        );
        assert_eq!(
            rtts(&with(false, Some(tls13)), Pattern::NonPersistent),
            3 * 2 + 3
        );
        let resumed = TlsOpening {
            resumed: Some(1),
            ..tls12
        };
        assert_eq!(
            rtts(&with(false, Some(resumed)), Pattern::NonPersistent),
            3 + 2 + 1 + 1 + 3,
            "TLS 1.2 resumed: 2 round trips on the first connection, 1 on the others"
        );
        let early = TlsOpening {
            full: 1,
            resumed: Some(1),
            early_data: true,
        };
        assert_eq!(
            rtts(&with(false, Some(early)), Pattern::NonPersistent),
            3 + 1 + 3,
            "0-RTT: only the first connection's TLS round trip"
        );
        assert_eq!(
            rtts(&with(true, None), Pattern::NonPersistent),
            3,
            "Fast Open: every request rides on its SYN"
        );
        // One connection: one opening, whatever resumes.
        assert_eq!(rtts(&with(true, Some(tls12)), Pattern::Persistent), 2 + 3);
        // Parallel: the first two open fresh, the third (on the first slot) resumes.
        assert_eq!(
            rtts(&with(false, Some(resumed)), Pattern::Parallel(2)),
            (1 + 2) + (1 + 1) + 2
        );
    }

    fn measured(p: &Prediction, extra: f64) -> Measured {
        Measured {
            total_s: p.total_s + extra,
            handshake_s: p.handshakes_s + 0.001,
            tls_s: 0.0,
            wait_s: p.requests_s + 0.010,
            client_s: 0.0,
            extra_rounds: Some(f64::from(p.extra_rounds) + 2.0),
            round_spacing_s: Some(p.round_spacing_s + 2.0 * 0.040 + 0.004),
            last_round_s: Some(p.last_round_s + 0.001),
            rwnd_limited_s: Some(0.050),
        }
    }

    #[test]
    fn the_gap_to_the_model_is_split_into_effects_that_add_up() {
        let p = predict(Pattern::NonPersistent, &PATH, &[70_000, 70_000]);
        let m = measured(&p, 0.095);
        let gap = ModelGap::of(&m, &p, &PATH);
        let sum: f64 = gap.effects.iter().map(Effect::seconds).sum();
        assert!(close(sum, 0.095), "{gap:?}");
        // Against the model's own rounds, spacing and last rounds.
        assert!(close(gap.effects[3].seconds(), 0.004), "{gap:?}");
        assert!(close(gap.effects[4].seconds(), 0.001), "{gap:?}");
        assert!(matches!(
            gap.effects[5],
            Effect::Rounds { rounds, receive_window_limited_s: Some(w), seconds }
                if rounds == 2.0 && close(seconds, 0.080) && w == 0.050
        ));
        assert!(close(gap.effects[1].seconds(), 0.010), "server time");
        // A receive window that never held the server back is not named.
        let wide = Measured {
            rwnd_limited_s: Some(0.0),
            ..m
        };
        assert!(matches!(
            ModelGap::of(&wide, &p, &PATH).effects[5],
            Effect::Rounds {
                receive_window_limited_s: None,
                ..
            }
        ));
    }

    #[test]
    fn rounds_the_links_queue_paced_are_not_told_as_rounds_beyond_the_model() {
        let path = PathModel {
            rate_bps: Some(8_000_000),
            ..PATH
        };
        let p = predict(Pattern::Persistent, &path, &[1_000_000]);
        assert!(p.link_paced);
        let gap = ModelGap::of(&measured(&p, 0.010), &p, &path);
        assert!(
            !gap.effects.iter().any(|e| matches!(
                e,
                Effect::Rounds { .. } | Effect::RoundSpacing { .. } | Effect::LastRound { .. }
            )),
            "{gap:?}"
        );
        let sum: f64 = gap.effects.iter().map(Effect::seconds).sum();
        assert!(close(sum, 0.010), "{gap:?}");
    }
}
