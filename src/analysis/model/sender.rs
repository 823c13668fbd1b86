//! Attribute layer, model: one response sent as the server's TCP sends it — segment by segment,
//! as its congestion window, the client's receive window and the link's rate let it, paced where
//! the congestion control paces. Of the project it imports only where the tracker ends a round,
//! so the model counts rounds as the capture does.

use super::path::{PathModel, Release};
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
