//! Attribute layer: the results of a comparison, mode by mode and run by run, as the report reads
//! them. Built by the compare command from transfer timings and tracked captures.

use std::path::PathBuf;

use super::attribution::{Attribution, RunPhases};
use super::expected::{CountCheck, Expected, check};
use super::model::{PathModel, Pattern, Prediction, predict};
use super::phases::{ConnectionTimeline, PhaseSource, Phases, assign_to_runs};
use super::stats::Summary;
use crate::track::{Connection, Totals};
use crate::transfer::client::{Mode, RunTiming};
use crate::transfer::kernel::KernelSettings;
use crate::transfer::server::ResponseSample;

/// A file the comparison transfers.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
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
    /// Builds a mode's result from its runs and, when captured, the connections of its capture.
    pub fn new(
        mode: Mode,
        files: usize,
        timings: Vec<RunTiming>,
        captured: Option<(Vec<Connection>, CaptureInfo)>,
    ) -> ModeResult {
        let expected = Expected::for_mode(mode, files, timings.len());
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

    /// How this mode's connections closed, in one line (when captured).
    pub fn close_note(&self) -> Option<String> {
        self.capture.as_ref()?;
        let conns: Vec<&Connection> = self.runs.iter().flat_map(|r| &r.connections).collect();
        Some(super::expected::close_note(&conns))
    }

    /// Slow-start flights each file's response took, per run, from the capture: the captured
    /// connection is found by the client's local address, its exchanges in request order.
    pub fn flights_per_file(&self, files: usize) -> Vec<Vec<u32>> {
        let mut per_file = vec![Vec::new(); files];
        for run in &self.runs {
            for timing in &run.timing.connections {
                // Pipelined requests leave together and their responses run into one exchange:
                // only a one-to-one match says which flights belong to which file.
                let Some(conn) = run.connections.iter().find(|c| {
                    c.client == timing.local && c.exchanges.len() == timing.requests.len()
                }) else {
                    continue;
                };
                for (request, exchange) in timing.requests.iter().zip(&conn.exchanges) {
                    if let Some(list) = per_file.get_mut(request.file) {
                        list.push(u32::try_from(exchange.rounds.len()).unwrap_or(u32::MAX));
                    }
                }
            }
        }
        per_file
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

    /// Each run's total and phases, for the attribution.
    pub fn run_phases(&self) -> Vec<RunPhases> {
        self.runs
            .iter()
            .map(|r| RunPhases {
                total_s: r.timing.total_s(),
                phases: r.phases,
            })
            .collect()
    }
}

/// The emulated link, when there was one.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct LinkSettings {
    /// Configured round-trip time in seconds.
    pub rtt_s: f64,
    /// Configured jitter in seconds.
    pub jitter_s: f64,
    /// Configured loss probability.
    pub loss: f64,
    /// Configured rate in bits/s.
    pub rate_bps: Option<u64>,
    /// Queue length in packets.
    pub queue_packets: usize,
    /// Seed of the loss and jitter.
    pub seed: u64,
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
        (mode != Mode::Persistent)
            .then(|| Attribution::between(&other.run_phases(), &baseline.run_phases()))
    }

    /// Every mode's gap against persistent.
    pub fn attributions(&self) -> Vec<(Mode, Attribution)> {
        self.modes
            .iter()
            .filter_map(|m| Some((m.mode, self.attribution_of(m.mode)?)))
            .collect()
    }

    /// The path the model assumes: the configured RTT when emulated, else the median handshake
    /// measured (capture, or the client's connect time); the sender's initial window and MSS from
    /// the server's TCP_INFO, else the kernel's probe, else 10 segments of 1448 bytes.
    pub fn path_model(&self) -> PathModel {
        let mut handshakes: Vec<f64> = self
            .modes
            .iter()
            .flat_map(|m| &m.runs)
            .flat_map(|r| {
                let captured = r.connections.iter().filter_map(|c| c.handshake_s());
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
        let measured = handshakes.get(handshakes.len() / 2).copied().unwrap_or(0.0);
        let first_sample = self
            .modes
            .iter()
            .flat_map(|m| &m.samples)
            .find(|s| s.at_start.is_some_and(|t| t.bytes_acked == 0))
            .and_then(|s| s.at_start);
        PathModel {
            rtt_s: self.link.map_or(measured, |l| l.rtt_s),
            initial_window: first_sample
                .map(|t| t.cwnd)
                .or(self.kernel.as_ref().and_then(|k| k.initial_cwnd))
                .unwrap_or(10),
            mss: first_sample.map_or(1448, |t| t.mss),
            rate_bps: self.link.and_then(|l| l.rate_bps),
        }
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
