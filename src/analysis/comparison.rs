//! Attribute layer: the results of a comparison, mode by mode and run by run, as the report reads
//! them. Built by the compare command from transfer timings and tracked captures.

use std::path::PathBuf;

use super::attribution::{Attribution, RunPhases};
use super::expected::{CountCheck, Expected, TlsPlan, check};
use super::model::{
    Measured, ModelGap, Opening, PathModel, Pattern, Prediction, Release, TlsOpening, predict,
};
use super::phases::{ConnectionTimeline, PhaseSource, Phases, assign_to_runs};
use super::stats::{Summary, mean, outliers};
use crate::track::{Connection, Exchange, Totals};
use crate::transfer::run::{KernelSettings, Mode, ResponseSample, RunTiming, TlsVersion};

/// A file the comparison transfers.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct SourceFile {
    /// File name.
    pub name: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
}

/// One run of one mode.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// What the client measured.
    pub timing: RunTiming,
    /// Where the time went.
    pub phases: Phases,
    /// The run's captured connections (empty without capture).
    pub connections: Vec<Connection>,
    /// Their counts (None without capture).
    pub totals: Option<Totals>,
}

impl RunResult {
    fn answered(&self) -> impl Iterator<Item = &Exchange> {
        self.connections
            .iter()
            .flat_map(|c| &c.exchanges)
            .filter(|x| !x.rounds.is_empty())
    }

    /// Rounds the run's responses took beyond the first of each, from the capture.
    pub fn extra_rounds(&self) -> u32 {
        self.answered()
            .map(|x| u32::try_from(x.rounds.len() - 1).unwrap_or(u32::MAX))
            .sum()
    }

    /// Seconds between the starts of consecutive rounds, summed over the run's responses.
    pub fn round_spacing_s(&self) -> f64 {
        self.answered()
            .map(|x| {
                let (first, last) = (x.rounds[0], x.rounds[x.rounds.len() - 1]);
                last.start.secs_since(first.start)
            })
            .sum()
    }

    /// Each response's last round, first → last segment, summed over the run.
    pub fn last_round_s(&self) -> f64 {
        self.answered()
            .map(|x| {
                let last = x.rounds[x.rounds.len() - 1];
                last.end.secs_since(last.start)
            })
            .sum()
    }
}

/// The saved capture of one mode.
#[derive(Debug, Clone)]
pub struct CaptureInfo {
    /// The .pcap file.
    pub path: PathBuf,
    /// Packets the kernel or interface dropped.
    pub dropped: u64,
    /// Connections in the file that fell in no run.
    pub outside_runs: usize,
}

/// All runs of one mode.
#[derive(Debug, Clone)]
pub struct ModeResult {
    /// The mode.
    pub mode: Mode,
    /// Its runs in order.
    pub runs: Vec<RunResult>,
    /// Where its phases come from.
    pub source: PhaseSource,
    /// Its saved capture, if any.
    pub capture: Option<CaptureInfo>,
    /// What the counts should be over all runs.
    pub expected: Expected,
    /// TCP_INFO on the server's socket at the start and end of each response (built-in server).
    pub samples: Vec<ResponseSample>,
}

impl ModeResult {
    /// Whether, in every run, more than one connection opened and every one began before the
    /// run's first TLS handshake was done: none could resume a session of that run (false
    /// without TLS or runs).
    pub fn opened_before_any_session(&self) -> bool {
        let before = |r: &RunResult| {
            let connections = &r.timing.connections;
            let first_done = connections
                .iter()
                .filter_map(|c| c.tls.map(|t| t.done))
                .min();
            connections.len() > 1
                && first_done.is_some_and(|done| connections.iter().all(|c| c.connect_start < done))
        };
        !self.runs.is_empty() && self.runs.iter().all(before)
    }

    /// Builds a mode's result from its runs and, when captured, the connections of its capture.
    pub fn new(
        mode: Mode,
        files: usize,
        timings: Vec<RunTiming>,
        captured: Option<(Vec<Connection>, CaptureInfo)>,
        tls: Option<TlsPlan>,
    ) -> ModeResult {
        let expected = Expected::for_mode(mode, files, timings.len(), tls);
        match captured {
            Some((connections, mut info)) => {
                let starts: Vec<_> = timings.iter().map(|t| t.start).collect();
                let per_run = assign_to_runs(&connections, &starts);
                let assigned: usize = per_run.iter().map(Vec::len).sum();
                info.outside_runs = connections.len() - assigned;
                let runs = timings
                    .into_iter()
                    .zip(per_run)
                    .map(|(timing, conns)| {
                        let lines: Vec<_> = conns
                            .iter()
                            .map(|c| ConnectionTimeline::from_capture(c))
                            .collect();
                        RunResult {
                            timing,
                            phases: Phases::partition(&lines),
                            totals: Some(Totals::of(conns.iter().copied())),
                            connections: conns.into_iter().cloned().collect(),
                        }
                    })
                    .collect();
                ModeResult {
                    mode,
                    runs,
                    source: PhaseSource::Capture,
                    capture: Some(info),
                    expected,
                    samples: Vec::new(),
                }
            }
            None => ModeResult {
                mode,
                runs: timings
                    .into_iter()
                    .map(|timing| {
                        let lines: Vec<_> = timing
                            .connections
                            .iter()
                            .map(ConnectionTimeline::from_client)
                            .collect();
                        RunResult {
                            phases: Phases::partition(&lines),
                            timing,
                            connections: Vec::new(),
                            totals: None,
                        }
                    })
                    .collect(),
                source: PhaseSource::Client,
                capture: None,
                expected,
                samples: Vec::new(),
            },
        }
    }

    /// The counts over all runs, when captured.
    pub fn totals(&self) -> Option<Totals> {
        let mut sum = Totals::default();
        for run in &self.runs {
            sum.add(run.totals.as_ref()?);
        }
        Some(sum)
    }

    /// Observed against expected counts over all runs, when captured.
    pub fn checks(&self) -> Option<Vec<CountCheck>> {
        let totals = self.totals()?;
        let conns: Vec<&Connection> = self.runs.iter().flat_map(|r| &r.connections).collect();
        let dropped = self.capture.as_ref().map_or(0, |c| c.dropped);
        Some(check(&totals, &self.expected, &conns, dropped))
    }

    /// Connections whose SYN carried data (TCP Fast Open), of all captured, and those bytes.
    pub fn fast_open(&self) -> Option<FastOpen> {
        self.capture.as_ref()?;
        let conns = self.runs.iter().flat_map(|r| &r.connections);
        let (mut with_data, mut connections, mut bytes) = (0, 0, 0);
        for c in conns {
            connections += 1;
            with_data += usize::from(c.syn_data > 0);
            bytes += c.syn_data;
        }
        Some(FastOpen {
            with_data,
            connections,
            bytes,
        })
    }

    /// What the client's TLS sessions were, over every run (None without TLS).
    pub fn tls_sessions(&self) -> Option<TlsSessions> {
        TlsSessions::of(self.runs.iter().flat_map(|r| &r.timing.connections))
    }

    /// How this mode's connections closed, in one line (when captured).
    pub fn close_note(&self) -> Option<String> {
        self.capture.as_ref()?;
        let conns: Vec<&Connection> = self.runs.iter().flat_map(|r| &r.connections).collect();
        Some(super::expected::close_note(&conns))
    }

    /// Each file's exchange in each run, from the capture: the captured connection is found by
    /// the client's local address, its exchanges in request order.
    pub fn exchanges_per_file(&self, files: usize) -> Vec<Vec<&Exchange>> {
        let mut per_file = vec![Vec::new(); files];
        for run in &self.runs {
            for timing in &run.timing.connections {
                // Pipelined requests leave together and their responses run into one exchange:
                // only a one-to-one match says which rounds belong to which file.
                let Some(conn) = run.connections.iter().find(|c| {
                    c.client == timing.local && c.exchanges.len() == timing.requests.len()
                }) else {
                    continue;
                };
                for (request, exchange) in timing.requests.iter().zip(&conn.exchanges) {
                    if let Some(list) = per_file.get_mut(request.file) {
                        list.push(exchange);
                    }
                }
            }
        }
        per_file
    }

    /// Packet-timed rounds each file's response took, per run (capture).
    pub fn rounds_per_file(&self, files: usize) -> Vec<Vec<u32>> {
        self.exchanges_per_file(files)
            .into_iter()
            .map(|list| {
                list.iter()
                    .map(|x| u32::try_from(x.rounds.len()).unwrap_or(u32::MAX))
                    .collect()
            })
            .collect()
    }

    /// The server's TCP_INFO samples of the response for `path`.
    pub fn samples_for<'a>(
        &'a self,
        path: &'a str,
    ) -> impl Iterator<Item = &'a ResponseSample> + 'a {
        self.samples.iter().filter(move |s| s.path == path)
    }

    /// Retransmissions over all runs (captured).
    pub fn retransmissions(&self) -> u64 {
        self.totals().map_or(0, |t| t.counts.retransmissions)
    }

    /// Run totals summarised.
    pub fn total_summary(&self) -> Summary {
        let totals: Vec<f64> = self.runs.iter().map(|r| r.timing.total_s()).collect();
        Summary::of(&totals)
    }

    /// What the model is held against: mean total, handshake and wait phases, and rounds.
    pub fn measured(&self) -> Measured {
        let runs = &self.runs;
        Measured {
            total_s: self.total_summary().mean,
            handshake_s: mean(runs.iter().map(|r| r.phases.handshake_s)),
            tls_s: mean(runs.iter().map(|r| r.phases.tls_s)),
            wait_s: mean(runs.iter().map(|r| r.phases.wait_s)),
            client_s: mean(runs.iter().map(|r| {
                let p = &r.phases;
                p.client_s + p.closing_s + p.between_s + (r.timing.total_s() - p.timeline_s)
            })),
            extra_rounds: self
                .capture
                .is_some()
                .then(|| mean(runs.iter().map(|r| f64::from(r.extra_rounds())))),
            round_spacing_s: self
                .capture
                .is_some()
                .then(|| mean(runs.iter().map(RunResult::round_spacing_s))),
            last_round_s: self
                .capture
                .is_some()
                .then(|| mean(runs.iter().map(RunResult::last_round_s))),
            rwnd_limited_s: {
                let limited: Option<u64> = self
                    .samples
                    .iter()
                    .map(|s| {
                        Some(
                            s.at_end?
                                .rwnd_limited_us?
                                .saturating_sub(s.at_start?.rwnd_limited_us?),
                        )
                    })
                    .sum();
                limited
                    .filter(|_| !self.samples.is_empty())
                    .map(|us| us as f64 / 1e6 / runs.len().max(1) as f64)
            },
        }
    }

    /// Closing after the last byte (outside the totals), summarised over the runs.
    pub fn close_summary(&self) -> Summary {
        let closes: Vec<f64> = self.runs.iter().map(|r| r.timing.close_s()).collect();
        Summary::of(&closes)
    }

    /// The runs (0-based, one per round) whose totals lie far from the others.
    pub fn outlier_runs(&self) -> Vec<usize> {
        let totals: Vec<f64> = self.runs.iter().map(|r| r.timing.total_s()).collect();
        outliers(&totals)
    }

    /// Each run's total, phases, connections and rounds, for the attribution.
    pub fn run_phases(&self) -> Vec<RunPhases> {
        let captured = self.capture.is_some();
        self.runs
            .iter()
            .map(|r| RunPhases {
                total_s: r.timing.total_s(),
                phases: r.phases,
                connections: if captured {
                    r.connections.len()
                } else {
                    r.timing.connections.len()
                },
                extra_rounds: captured.then(|| r.extra_rounds()),
                handshake_resends: captured.then(|| {
                    r.connections
                        .iter()
                        .map(|c| c.counts.resent_syn + c.counts.resent_synack)
                        .sum()
                }),
                resent: captured.then(|| r.connections.iter().map(|c| c.counts.resent()).sum()),
            })
            .collect()
    }
}

/// One file's responses in one mode, medians over the rounds: what the server's TCP_INFO and
/// the capture say about how its window grew and what held it back.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct ResponseStats {
    /// The mode.
    pub mode: Mode,
    /// The file.
    pub file: String,
    /// Congestion window as the response started, in segments.
    pub cwnd_start: Option<u32>,
    /// Congestion window once its last byte was acknowledged.
    pub cwnd_end: Option<u32>,
    /// Packet-timed rounds the response took (capture).
    pub rounds: Option<u32>,
    /// Segments in its first round (capture).
    pub first_flight: Option<u32>,
    /// The receive window the client advertised as the response began, in bytes (capture).
    pub client_window: Option<u64>,
    /// Microseconds the connection had data in flight during the response.
    pub busy_us: Option<u64>,
    /// Of those, microseconds the client's receive window kept the server from sending more.
    pub rwnd_limited_us: Option<u64>,
    /// Of those, microseconds the server's send buffer did.
    pub sndbuf_limited_us: Option<u64>,
    /// Responses whose closing sample saw every byte acknowledged, of all sampled.
    pub acked: (usize, usize),
}

impl ResponseStats {
    /// Whether a closing sample was taken before every byte of its response was acknowledged
    /// (a response queued behind others, as pipelined ones are): its window and times then stop
    /// short of the response's end.
    pub fn sampled_short(&self) -> bool {
        self.acked.0 < self.acked.1
    }

    /// Whether the first round counted more segments than the congestion window let the server
    /// send in one flight: the capture could not tell its first rounds apart (packets delayed
    /// or resent across a round's end), so its round count is approximate.
    pub fn rounds_ran_together(&self) -> bool {
        matches!((self.first_flight, self.cwnd_start), (Some(flight), Some(cwnd)) if flight > cwnd)
    }
}

/// The median of `values`, None when there are none; of an even count, the mean of the two
/// middle values, rounded half up (two rounds of 52 and 60 ms give 56 ms, not 60).
fn median<T: Copy + Ord + Into<u64> + TryFrom<u64>>(mut values: Vec<T>) -> Option<T> {
    values.sort_unstable();
    let upper = *values.get(values.len() / 2)?;
    if values.len() % 2 == 1 {
        return Some(upper);
    }
    let lower: u64 = values[values.len() / 2 - 1].into();
    let upper: u64 = upper.into();
    T::try_from(lower + (upper - lower).div_ceil(2)).ok()
}

impl ModeResult {
    /// Per file, how the window grew and what held it back (built-in server and capture).
    pub fn response_stats(&self, files: &[SourceFile], paths: &[String]) -> Vec<ResponseStats> {
        let exchanges = self.exchanges_per_file(files.len());
        files
            .iter()
            .zip(paths)
            .enumerate()
            .map(|(i, (file, path))| {
                let samples: Vec<&ResponseSample> = self.samples_for(path).collect();
                let pick = |f: &dyn Fn(&ResponseSample) -> Option<u32>| {
                    median(samples.iter().filter_map(|s| f(s)).collect())
                };
                let spent = |f: &dyn Fn(&crate::transfer::run::TcpInfoSample) -> Option<u64>| {
                    median(
                        samples
                            .iter()
                            .filter_map(|s| Some(f(&s.at_end?)?.saturating_sub(f(&s.at_start?)?)))
                            .collect(),
                    )
                };
                ResponseStats {
                    mode: self.mode,
                    file: file.name.clone(),
                    cwnd_start: pick(&|s| s.at_start.map(|x| x.cwnd)),
                    cwnd_end: pick(&|s| s.at_end.map(|x| x.cwnd)),
                    rounds: exchanges.get(i).and_then(|list| {
                        median(list.iter().map(|x| x.rounds.len() as u32).collect())
                    }),
                    first_flight: exchanges.get(i).and_then(|list| {
                        median(
                            list.iter()
                                .filter_map(|x| Some(x.rounds.first()?.segments))
                                .collect(),
                        )
                    }),
                    client_window: exchanges.get(i).and_then(|list| {
                        median(list.iter().filter_map(|x| x.client_window).collect())
                    }),
                    busy_us: spent(&|x| x.busy_time_us),
                    rwnd_limited_us: spent(&|x| x.rwnd_limited_us),
                    sndbuf_limited_us: spent(&|x| x.sndbuf_limited_us),
                    acked: (
                        samples
                            .iter()
                            .filter(|s| s.at_end.is_some_and(|e| e.all_acked()))
                            .count(),
                        samples.len(),
                    ),
                }
            })
            .collect()
    }
}

/// Data on SYNs in one mode's capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct FastOpen {
    /// Connections whose SYN carried data.
    pub with_data: usize,
    /// All captured connections.
    pub connections: usize,
    /// The bytes those SYNs carried.
    pub bytes: u64,
}

/// A mode's TLS sessions as its client saw them, counted over every run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct TlsSessions {
    /// The version negotiated.
    pub version: Option<TlsVersion>,
    /// Connections that spoke TLS.
    pub connections: usize,
    /// Of those, resumed sessions.
    pub resumed: usize,
    /// Of those, handshakes with a HelloRetryRequest.
    pub hello_retry: usize,
    /// Of those, requests sent as early data.
    pub early_data_sent: usize,
    /// Of those, early data the server accepted.
    pub early_data_accepted: usize,
}

impl TlsSessions {
    /// Counts the TLS sessions of these connections (None when none spoke TLS).
    pub fn of<'a>(
        connections: impl Iterator<Item = &'a crate::transfer::run::ConnectionTiming>,
    ) -> Option<TlsSessions> {
        let sessions: Vec<_> = connections.filter_map(|c| c.tls).collect();
        if sessions.is_empty() {
            return None;
        }
        let count = |f: fn(&crate::transfer::run::TlsTiming) -> bool| {
            sessions.iter().filter(|s| f(s)).count()
        };
        Some(TlsSessions {
            version: sessions.iter().find_map(|s| s.session.version),
            connections: sessions.len(),
            resumed: count(|s| s.session.resumed),
            hello_retry: count(|s| s.session.hello_retry),
            early_data_sent: count(|s| s.session.early_data_sent > 0),
            early_data_accepted: count(|s| s.session.early_data_accepted),
        })
    }
}

/// The emulated link, when there was one.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct LinkSettings {
    /// The named path it started from (`--path`), if any.
    pub path: Option<String>,
    /// Configured round-trip time in seconds.
    pub rtt_s: f64,
    /// Configured jitter in seconds.
    pub jitter_s: f64,
    /// MTU of the link in bytes.
    pub mtu: u32,
    /// Server → client.
    pub down: DirectionSettings,
    /// Client → server.
    pub up: DirectionSettings,
    /// Each direction's queue, when it was bounded in packets.
    pub queue_packets: Option<usize>,
    /// Each direction's queue, when it was bounded in bytes.
    pub queue_bytes: Option<usize>,
    /// What manages the queue: `tail-drop` or `codel`.
    pub aqm: String,
    /// Seed of the loss and jitter.
    pub seed: u64,
}

/// One direction of the emulated link.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct DirectionSettings {
    /// The rate in bits/s: as configured, or a trace's mean (`trace` names it); None unlimited.
    pub rate_bps: Option<u64>,
    /// The loss model as the option reads (`0`, `1%`, `gemodel:1%,25%,100%,0%`).
    pub loss: String,
    /// The share of packets the loss model drops in the long run.
    pub mean_loss: f64,
    /// The trace replayed in place of a rate, if any.
    pub trace: Option<String>,
}

impl LinkSettings {
    /// The rate the responses cross (server → client), for the model.
    pub fn rate_bps(&self) -> Option<u64> {
        self.down.rate_bps
    }

    /// Whether either direction loses packets.
    pub fn lossy(&self) -> bool {
        self.down.mean_loss > 0.0 || self.up.mean_loss > 0.0
    }
}

/// The segments of `response`'s first round when that round shows the initial window: the
/// response had more than `full` bytes (a congestion window) to send, and its first round was no
/// larger than the window the client advertised (a larger one is rounds run together).
fn first_flight_sent(response: &Exchange, full: u64) -> Option<u32> {
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

/// A whole comparison.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// Rounds per mode.
    pub rounds: usize,
    /// The files transferred.
    pub files: Vec<SourceFile>,
    /// Request paths, in file order.
    pub paths: Vec<String>,
    /// One result per mode, in the order run.
    pub modes: Vec<ModeResult>,
    /// Connections at once in the parallel mode.
    pub parallel: usize,
    /// Kernel settings that change the result (read on this machine).
    pub kernel: Option<KernelSettings>,
    /// The emulated link, if any.
    pub link: Option<LinkSettings>,
    /// The modes in the order each round ran them (shuffled per round).
    pub order: Vec<Vec<Mode>>,
    /// The seed of that shuffle.
    pub seed: u64,
    /// Whether TCP Fast Open was asked for.
    pub fastopen: bool,
    /// TLS, when the client spoke it.
    pub tls: Option<TlsSettings>,
}

/// The TLS a comparison asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct TlsSettings {
    /// The version both sides were pinned to.
    pub version: TlsVersion,
    /// Later connections resumed the run's session.
    pub resume: bool,
    /// Resumed connections sent their request as early data.
    pub early_data: bool,
}

impl Comparison {
    /// The result of `mode`, if it ran.
    pub fn mode(&self, mode: Mode) -> Option<&ModeResult> {
        self.modes.iter().find(|m| m.mode == mode)
    }

    /// The non-persistent − persistent gap, split by phase.
    pub fn attribution(&self) -> Option<Attribution> {
        self.attribution_of(Mode::NonPersistent)
    }

    /// The gap between `mode` and persistent, split by phase.
    pub fn attribution_of(&self, mode: Mode) -> Option<Attribution> {
        let other = self.mode(mode)?;
        let baseline = self.mode(Mode::Persistent)?;
        (mode != Mode::Persistent).then(|| {
            Attribution::between(
                &other.run_phases(),
                &baseline.run_phases(),
                self.measured_rtt_s(),
            )
        })
    }

    /// The congestion control the server's connections used (read from their sockets), else
    /// the kernel's default.
    pub fn congestion(&self) -> Option<&str> {
        self.modes
            .iter()
            .flat_map(|m| &m.samples)
            .find_map(|s| s.congestion.as_deref())
            .or(self
                .kernel
                .as_ref()
                .and_then(|k| k.tcp_congestion_control.as_deref()))
    }

    /// The round trip as measured: the median handshake (the SYN it answered → SYN-ACK at the
    /// capture, so a resent SYN's timeout is left out; else the client's connect time), 0 with
    /// no connection.
    pub fn measured_rtt_s(&self) -> f64 {
        let mut handshakes: Vec<f64> = self
            .modes
            .iter()
            .flat_map(|m| &m.runs)
            .flat_map(|r| {
                let captured = r.connections.iter().filter_map(Connection::round_trip_s);
                let client = r
                    .timing
                    .connections
                    .iter()
                    .map(|c| c.connected.secs_since(c.connect_start));
                if r.connections.is_empty() {
                    client.collect::<Vec<_>>()
                } else {
                    captured.collect()
                }
            })
            .collect();
        handshakes.sort_by(f64::total_cmp);
        handshakes.get(handshakes.len() / 2).copied().unwrap_or(0.0)
    }

    /// Where the phases' instants come from: the capture when any mode was captured.
    pub fn phase_source(&self) -> PhaseSource {
        if self.modes.iter().any(|m| m.source == PhaseSource::Capture) {
            PhaseSource::Capture
        } else {
            PhaseSource::Client
        }
    }

    /// Every mode's gap against persistent.
    pub fn attributions(&self) -> Vec<(Mode, Attribution)> {
        self.modes
            .iter()
            .filter_map(|m| Some((m.mode, self.attribution_of(m.mode)?)))
            .collect()
    }

    /// Captured segments sent again, over all modes and runs: those Wireshark marks as a
    /// retransmission or out-of-order (a resent SYN or FIN among them, as each takes sequence
    /// space).
    pub fn resent(&self) -> u64 {
        self.modes
            .iter()
            .flat_map(|m| &m.runs)
            .flat_map(|r| &r.connections)
            .map(|c| c.counts.resent())
            .sum()
    }

    /// The MSS the captured handshakes agreed on (median over connections; each the smaller of
    /// its two SYNs' options): what the path's MTU let a segment carry, as the wire shows it.
    pub fn captured_mss(&self) -> Option<u16> {
        median(
            self.modes
                .iter()
                .flat_map(|m| &m.runs)
                .flat_map(|r| &r.connections)
                .filter_map(Connection::mss)
                .collect(),
        )
    }

    /// The emulated link's round trip, when one was set (`--loss` alone emulates a link with
    /// none: loopback's own round trip is then the one measured).
    pub fn configured_rtt_s(&self) -> Option<f64> {
        self.link.as_ref().map(|l| l.rtt_s).filter(|&rtt| rtt > 0.0)
    }

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
            },
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
        let path = self.path_model();
        self.predictions()
            .into_iter()
            .filter_map(|(mode, p)| {
                let measured = self.mode(mode)?.measured();
                Some((mode, p, ModelGap::of(&measured, &p, &path)))
            })
            .collect()
    }

    /// The model's prediction for each mode.
    pub fn predictions(&self) -> Vec<(Mode, Prediction)> {
        let path = self.path_model();
        let sizes: Vec<u64> = self.files.iter().map(|f| f.bytes).collect();
        self.modes
            .iter()
            .map(|m| {
                let pattern = match m.mode {
                    Mode::NonPersistent => Pattern::NonPersistent,
                    Mode::Persistent => Pattern::Persistent,
                    Mode::Pipelined => Pattern::Pipelined,
                    Mode::Parallel => Pattern::Parallel(self.parallel),
                };
                (m.mode, predict(pattern, &path, &sizes))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::Ts;
    use crate::track::Round;

    /// A comparison of nothing over `link`.
    fn over(link: Option<LinkSettings>) -> Comparison {
        Comparison {
            rounds: 0,
            files: Vec::new(),
            paths: Vec::new(),
            modes: Vec::new(),
            parallel: 1,
            kernel: None,
            link,
            order: Vec::new(),
            seed: 0,
            fastopen: false,
            tls: None,
        }
    }

    fn link(rtt_s: f64, loss: f64, jitter_s: f64) -> Option<LinkSettings> {
        let direction = DirectionSettings {
            rate_bps: None,
            loss: format!("{}%", loss * 100.0),
            mean_loss: loss,
            trace: None,
        };
        Some(LinkSettings {
            path: None,
            rtt_s,
            jitter_s,
            mtu: 1500,
            down: direction.clone(),
            up: direction,
            queue_packets: Some(1000),
            queue_bytes: None,
            aqm: "tail-drop".into(),
            seed: 1,
        })
    }

    /// A run of connections opened at `starts` (ms) over TLS, the first handshake done at `done`.
    fn tls_run(starts: &[i64], done: i64) -> RunTiming {
        use crate::transfer::run::{ConnectionTiming, TlsSession, TlsTiming};
        let ms = |t: i64| Ts(t * 1_000_000);
        let addr: std::net::SocketAddr = "127.0.0.1:40000".parse().unwrap();
        RunTiming {
            mode: Mode::Parallel,
            start: ms(0),
            last_byte: ms(500),
            end: ms(500),
            connections: starts
                .iter()
                .map(|&start| ConnectionTiming {
                    local: addr,
                    peer: addr,
                    connect_start: ms(start),
                    connected: ms(start + 20),
                    requests: Vec::new(),
                    closed: ms(500),
                    tls: Some(TlsTiming {
                        done: ms(done.max(start + 40)),
                        session: TlsSession {
                            version: None,
                            resumed: false,
                            hello_retry: false,
                            early_data_sent: 0,
                            early_data_accepted: false,
                        },
                    }),
                })
                .collect(),
            files: Vec::new(),
        }
    }

    #[test]
    fn connections_opened_before_the_first_handshake_was_done_had_no_session_to_resume() {
        let mode = |runs: Vec<RunTiming>| ModeResult::new(Mode::Parallel, 0, runs, None, None);
        // Three at once, the first handshake done at 40 ms.
        assert!(mode(vec![tls_run(&[0, 1, 2], 40)]).opened_before_any_session());
        // A fourth opened at 60 ms could have resumed.
        assert!(!mode(vec![tls_run(&[0, 1, 2, 60], 40)]).opened_before_any_session());
        // One connection a run (persistent) has nothing to resume anyway.
        assert!(!mode(vec![tls_run(&[0], 40)]).opened_before_any_session());
        assert!(!mode(Vec::new()).opened_before_any_session());
    }

    #[test]
    fn only_a_link_with_a_round_trip_sets_the_models_round_trip() {
        assert_eq!(over(link(0.040, 0.0, 0.0)).configured_rtt_s(), Some(0.040));
        // --loss or --jitter alone emulate a link of loopback's own round trip: the model then
        // takes the one measured, not 0.
        assert_eq!(over(link(0.0, 0.01, 0.0)).configured_rtt_s(), None);
        assert_eq!(over(link(0.0, 0.0, 0.005)).configured_rtt_s(), None);
        assert_eq!(over(None).configured_rtt_s(), None);
    }

    /// A response of `rounds` (segments, bytes each), its client's window `window` bytes.
    fn response(rounds: &[(u32, u64)], window: Option<u64>) -> Exchange {
        Exchange {
            request: Ts(0),
            first_response: Some(Ts(1)),
            last_response: Some(Ts(2)),
            rounds: rounds
                .iter()
                .map(|&(segments, bytes)| Round {
                    start: Ts(1),
                    end: Ts(2),
                    segments,
                    bytes,
                })
                .collect(),
            client_window: window,
            target: None,
        }
    }

    #[test]
    fn a_first_round_shows_the_initial_window_only_when_it_could() {
        // 10 segments × 1448 bytes: the congestion window.
        let full = 14_480;
        let flight = (10, 14_480);
        let window = Some(65_483);
        // A response larger than the window: its first round is the initial window.
        assert_eq!(
            first_flight_sent(&response(&[flight, (20, 28_960)], window), full),
            Some(10)
        );
        // Held below by the client's window: still a flight as sent.
        assert_eq!(
            first_flight_sent(&response(&[(7, 10_136), (20, 28_960)], Some(10_136)), full),
            Some(7)
        );
        // A response that fits in one window does not show what limits the first flight.
        assert_eq!(first_flight_sent(&response(&[flight], window), full), None);
        // A first round larger than the client's window is rounds that jitter or loss ran
        // together, no flight.
        assert_eq!(
            first_flight_sent(&response(&[(45, 65_160), (20, 28_960)], Some(62_720)), full),
            None
        );
        // No window seen: the round counts.
        assert_eq!(
            first_flight_sent(&response(&[flight, (20, 28_960)], None), full),
            Some(10)
        );
        assert_eq!(first_flight_sent(&response(&[], window), full), None);
    }

    #[test]
    fn the_median_of_an_even_count_lies_between_its_middle_values() {
        assert_eq!(median(vec![52_000u64, 60_000]), Some(56_000));
        assert_eq!(median(vec![7u32, 8]), Some(8));
        assert_eq!(median(vec![9u32, 3, 5]), Some(5));
        assert_eq!(median(vec![4u32, 1, 3, 2]), Some(3));
        assert_eq!(median(Vec::<u64>::new()), None);
    }
}
