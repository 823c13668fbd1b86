//! Attribute layer: the results of a comparison, mode by mode and run by run, as the report reads
//! them. Built by the compare command from transfer timings and tracked captures.

use std::path::PathBuf;

use super::attribution::{Attribution, RunPhases};
use super::expected::{CountCheck, Expected, check};
use super::phases::{ConnectionTimeline, PhaseSource, Phases, assign_to_runs};
use super::stats::Summary;
use crate::capture::track::{Connection, Totals};
use crate::transfer::client::{Mode, RunTiming};

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

/// A whole comparison.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// Rounds per mode.
    pub rounds: usize,
    /// The files transferred.
    pub files: Vec<SourceFile>,
    /// One result per mode, in the order run.
    pub modes: Vec<ModeResult>,
}

impl Comparison {
    /// The result of `mode`, if it ran.
    pub fn mode(&self, mode: Mode) -> Option<&ModeResult> {
        self.modes.iter().find(|m| m.mode == mode)
    }

    /// The non-persistent − persistent gap, split by phase.
    pub fn attribution(&self) -> Option<Attribution> {
        let slower = self.mode(Mode::NonPersistent)?;
        let baseline = self.mode(Mode::Persistent)?;
        Some(Attribution::between(
            &slower.run_phases(),
            &baseline.run_phases(),
        ))
    }
}
