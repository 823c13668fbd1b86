//! Attribute layer, comparison: one run of one mode — what the client measured, its phases, its
//! captured connections — with the files transferred and where a mode's capture was saved.

use std::path::PathBuf;

use crate::analysis::phases::Phases;
use crate::track::quic::QuicConnection;
use crate::track::{Connection, Exchange, Totals};
use crate::transfer::run::RunTiming;

/// A file the comparison transfers.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct SourceFile {
    /// File name.
    pub name: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// The status the server answered with, for a URL compared (None for the files served).
    pub status: Option<u16>,
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
    /// The run's captured QUIC connections (h3; empty otherwise or without capture).
    pub quic: Vec<QuicConnection>,
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
