//! Attribute layer, model: each mode's run time predicted — handshake and request round trips,
//! then each file's response as the sender delivers it, on the connections the mode opens.
//! Reads the model's path and sender; must not import the measured gap.

use super::path::PathModel;
use super::sender::{Delivery, Sender, deliver};

#[cfg(doc)]
use crate::track::ROUND_BOUNDARY_RTT_FRACTION;

/// How the files are fetched, for the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// One connection per file, one after another.
    NonPersistent,
    /// One connection, one request after another.
    Persistent,
    /// One connection, all requests at once: pipelined HTTP/1.1, and HTTP/2's and HTTP/3's
    /// streams, whose responses the sender sends as one stream of bytes.
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
    /// Of those, the transport's handshakes' round trips on the critical path: TCP's, or QUIC's
    /// (with TLS 1.3 inside it).
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
