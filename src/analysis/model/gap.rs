//! Attribute layer, model: where a measured mean differs from the prediction — named effects whose
//! seconds add up to the difference. Reads the path and the prediction.

use super::path::PathModel;
use super::predict::Prediction;

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
        // QUIC's handshake holds its TLS: the handshakes' effect is both.
        if path.opening.tls.is_some() && !path.opening.quic {
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
