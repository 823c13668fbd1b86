//! Attribute layer, comparison: the path the model assumes, read from the comparison — the round
//! trip, the initial window as sent and what held it, the MSS, the rate, the sender — and each
//! mode's prediction and gap against it.

use super::link::LinkSettings;
use super::response::median;
use super::whole::Comparison;
use crate::analysis::model::{
    ModelGap, Opening, PathModel, Pattern, Prediction, Release, TlsOpening, predict,
};
use crate::track::Exchange;
use crate::transfer::run::{Mode, TlsVersion};

/// The segments of `response`'s first round when that round shows the initial window: the
/// response had more than `full` bytes (a congestion window) to send, and its first round was no
/// larger than the window the client advertised (a larger one is rounds run together).
pub(super) fn first_flight_sent(response: &Exchange, full: u64) -> Option<u32> {
    let bytes: u64 = response.rounds.iter().map(|r| r.bytes).sum();
    let flight = response.rounds.first()?;
    let allowed = response.client_window.unwrap_or(u64::MAX);
    (bytes > full && flight.bytes <= allowed).then_some(flight.segments)
}

/// What held a fresh connection's first flight below the sender's congestion window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FlightLimit {
    /// The receive window the client advertised, in bytes.
    ReceiveWindow {
        /// Bytes.
        bytes: u64,
    },
    /// The emulated link's rate: the bytes it carries in one round trip.
    LinkRate {
        /// Bytes per round trip.
        bytes_per_rtt: u64,
    },
}

impl FlightLimit {
    /// The bytes the limit lets through in a round trip.
    pub fn bytes(&self) -> u64 {
        match *self {
            FlightLimit::ReceiveWindow { bytes } => bytes,
            FlightLimit::LinkRate { bytes_per_rtt } => bytes_per_rtt,
        }
    }
}

impl Comparison {
    /// The path the model assumes: the configured RTT when emulated with one, else the median
    /// handshake measured (capture, or the client's connect time); the sender's initial window as
    /// sent (capture) where that is below its congestion window, else the congestion window of a
    /// connection's first response (the server's TCP_INFO), else the kernel's probe, else 10
    /// segments; the MSS from the server's TCP_INFO, else 1448 bytes; the receive window the
    /// client advertised as its connections' first responses began (capture); BBR's pacing where
    /// the server's sockets used BBR; the window kept across idle unless
    /// `tcp_slow_start_after_idle` is set (as it is when unread).
    pub fn path_model(&self) -> PathModel {
        let measured = self.measured_rtt_s();
        let first_sample = self
            .modes
            .iter()
            .flat_map(|m| &m.samples)
            .find(|s| s.at_start.is_some_and(|t| t.bytes_acked == 0))
            .and_then(|s| s.at_start);
        let congestion_window = first_sample
            .map(|t| t.cwnd)
            .or(self.kernel.as_ref().and_then(|k| k.initial_cwnd))
            .unwrap_or(10);
        // Any response shows the MSS, also one whose connection has sent before (a TLS
        // handshake's flight): the MSS does not grow as the window does.
        let mss = self
            .modes
            .iter()
            .flat_map(|m| &m.samples)
            .find_map(|s| s.at_start)
            .map_or(1448, |t| t.mss);
        PathModel {
            rtt_s: self.configured_rtt_s().unwrap_or(measured),
            initial_window: self
                .initial_window_sent(congestion_window, mss)
                .map_or(congestion_window, |sent| sent.min(congestion_window)),
            congestion_window,
            mss,
            rate_bps: self.link.as_ref().and_then(LinkSettings::rate_bps),
            receive_window: self.first_advertised_window(),
            release: match self.congestion() {
                Some("bbr") => Release::BbrStartup,
                _ => Release::Burst,
            },
            restart_after_idle: self
                .kernel
                .as_ref()
                .and_then(|k| k.tcp_slow_start_after_idle)
                .is_none_or(|v| v != 0),
            opening: Opening {
                fastopen: self.fastopen,
                tls: self.tls.map(|t| TlsOpening {
                    full: t.version.full_round_trips(),
                    resumed: t.resume.then(|| t.version.resumed_round_trips()),
                    early_data: t.early_data,
                }),
                quic: false,
            },
        }
    }

    /// The path `mode` runs on: the comparison's, with the opening the mode makes — h2 speaks
    /// TLS (the comparison's, else TLS 1.3) and h2c none whatever the other modes do, each run
    /// on a connection of its own and so without a session to resume; h3 opens with QUIC,
    /// resuming with 0-RTT as the comparison's TLS asks, on QUIC's datagrams and window.
    pub fn path_for(&self, mode: Mode) -> PathModel {
        let path = self.path_model();
        let tls13 = TlsOpening {
            full: TlsVersion::Tls13.full_round_trips(),
            resumed: None,
            early_data: false,
        };
        match mode {
            Mode::H2 => PathModel {
                opening: Opening {
                    tls: Some(path.opening.tls.unwrap_or(tls13)),
                    ..path.opening
                },
                ..path
            },
            Mode::H2c => PathModel {
                opening: Opening {
                    tls: None,
                    ..path.opening
                },
                ..path
            },
            Mode::H3 => path.over_quic(Opening {
                fastopen: false,
                tls: Some(TlsOpening {
                    resumed: self
                        .tls
                        .filter(|t| t.resume || t.early_data)
                        .map(|_| TlsVersion::Tls13.resumed_round_trips()),
                    early_data: self.tls.is_some_and(|t| t.early_data),
                    ..tls13
                }),
                quic: true,
            }),
            Mode::NonPersistent | Mode::Persistent | Mode::Pipelined | Mode::Parallel => path,
        }
    }

    /// The first round of connections' first responses that had more than a congestion window
    /// to send (median, capture): the initial window actually sent, which the client's receive
    /// window may hold below the congestion window. A first round larger than the window the
    /// client advertised is no flight but rounds that jitter or loss ran together in the
    /// capture; it is left out.
    pub fn initial_window_sent(&self, congestion_window: u32, mss: u32) -> Option<u32> {
        // Only responses large enough to fill the congestion window show what limited the
        // first flight; the median keeps one merged round from deciding.
        let full = u64::from(congestion_window) * u64::from(mss);
        median(
            self.modes
                .iter()
                .flat_map(|m| &m.runs)
                .flat_map(|r| &r.connections)
                .filter_map(|c| first_flight_sent(c.exchanges.first()?, full))
                .collect(),
        )
    }

    /// What held a fresh connection's first flight below the sender's congestion window, when
    /// the model's initial window (as sent) is below it: the smaller of the window the client
    /// advertised before its first response (median) and what the emulated link's rate carries
    /// in a round trip, where that is below the congestion window's bytes and within a segment
    /// of the flight the capture shows. None otherwise.
    pub fn first_flight_limit(&self, path: &PathModel) -> Option<FlightLimit> {
        if path.initial_window >= path.congestion_window {
            return None;
        }
        let full = u64::from(path.congestion_window) * u64::from(path.mss);
        let advertised = self
            .first_advertised_window()
            .filter(|&bytes| bytes < full)
            .map(|bytes| FlightLimit::ReceiveWindow { bytes });
        let link = path
            .rate_bps
            .map(|rate| (rate as f64 * path.rtt_s / 8.0) as u64)
            .filter(|&bytes| bytes < full)
            .map(|bytes_per_rtt| FlightLimit::LinkRate { bytes_per_rtt });
        // Named only when the flight the capture shows is what the limit lets through, to
        // within a segment.
        let sent = u64::from(path.initial_window) * u64::from(path.mss);
        [advertised, link]
            .into_iter()
            .flatten()
            .min_by_key(FlightLimit::bytes)
            .filter(|limit| limit.bytes().abs_diff(sent) < u64::from(path.mss))
    }

    /// The receive window the client advertised as its connections' first responses began
    /// (median over the captured connections), None without a capture.
    pub fn first_advertised_window(&self) -> Option<u64> {
        median(
            self.modes
                .iter()
                .flat_map(|m| &m.runs)
                .flat_map(|r| &r.connections)
                .filter_map(|c| c.exchanges.first()?.client_window)
                .collect(),
        )
    }

    /// Each mode's prediction and where the measurement differs from it.
    pub fn model_gaps(&self) -> Vec<(Mode, Prediction, ModelGap)> {
        self.predictions()
            .into_iter()
            .filter_map(|(mode, p)| {
                let measured = self.mode(mode)?.measured();
                Some((mode, p, ModelGap::of(&measured, &p, &self.path_for(mode))))
            })
            .collect()
    }

    /// The model's prediction for each mode.
    pub fn predictions(&self) -> Vec<(Mode, Prediction)> {
        let sizes: Vec<u64> = self.files.iter().map(|f| f.bytes).collect();
        self.modes
            .iter()
            .map(|m| {
                let pattern = match m.mode {
                    Mode::NonPersistent => Pattern::NonPersistent,
                    Mode::Persistent => Pattern::Persistent,
                    // Every request at once on one connection, each its own stream in HTTP/2
                    // and HTTP/3: the sender sends the responses as one stream of bytes.
                    Mode::Pipelined | Mode::H2 | Mode::H2c | Mode::H3 => Pattern::Pipelined,
                    Mode::Parallel => Pattern::Parallel(self.parallel),
                };
                (m.mode, predict(pattern, &self.path_for(m.mode), &sizes))
            })
            .collect()
    }
}
