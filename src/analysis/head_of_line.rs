//! Attribute layer: head-of-line blocking on a cleartext HTTP/2 connection, per stream, read from
//! the capture at the client. Reads the track layer's HTTP/2 frames; never prints.
//!
//! A segment lost on the way leaves a hole in the server's bytes: the segments after it arrive
//! but are in order only when the resend fills the hole. A DATA frame whose bytes had all
//! arrived at `a` (each byte at its first copy) and that was in order at `d` (every byte before
//! its end in) waited `d − a`. Part of that wait it would have had without TCP's single byte
//! order too (as over QUIC, where a stream waits only for its own bytes): until every byte of its
//! own stream's frames up to its end had arrived, `o ≥ a`. The rest, `d − o`, is the wait behind
//! other streams' losses: head-of-line blocking. With one hole it is the fill's time less the
//! frame's arrival when the hole held another stream's bytes, and nothing when it held the
//! frame's own.
//!
//! Only the server's frames are read: a capture at the client sees holes in what it receives;
//! what the client sent was lost, if at all, after the capture saw it.

use std::collections::BTreeMap;

use crate::analysis::comparison::ModeResult;
use crate::track::http2::{Http2Frames, Http2Seen};
use crate::track::{Connection, Side};

/// One stream's response bytes and how long they waited.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StreamHold {
    /// The stream id.
    pub stream: u32,
    /// DATA frames the server sent on it.
    pub frames: u64,
    /// Their payload bytes.
    pub bytes: u64,
    /// DATA frames that waited behind another stream's loss.
    pub held_frames: u64,
    /// Their payload bytes.
    pub held_bytes: u64,
    /// The longest wait of one frame behind other streams' losses, seconds.
    pub longest: f64,
    /// Every frame's wait behind other streams' losses, summed, seconds.
    pub total: f64,
    /// Every frame's wait behind its own stream's losses, summed, seconds.
    pub own_total: f64,
    /// Its last DATA frame's wait behind other streams' losses, seconds: how much later the
    /// stream's bytes were all in order than its own bytes alone allowed.
    pub last_wait: f64,
    /// Where its last DATA frame starts in the server's bytes.
    last_start: u64,
}

impl StreamHold {
    /// Whether any of its frames waited behind another stream's loss.
    pub fn held(&self) -> bool {
        self.held_frames > 0
    }
}

/// A connection's head-of-line blocking: per stream, and the holes the server's bytes had.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HeadOfLine {
    /// Segments that filled a hole in the server's bytes.
    pub holes: u64,
    /// Each stream that carried DATA from the server, by stream id.
    pub streams: Vec<StreamHold>,
}

impl HeadOfLine {
    /// Reads it from a connection's frames.
    pub fn of(frames: &Http2Frames) -> HeadOfLine {
        let holes = frames
            .hole_fills()
            .iter()
            .filter(|f| f.from == Side::Server)
            .count() as u64;
        let mut streams: BTreeMap<u32, StreamHold> = BTreeMap::new();
        for d in frames
            .data_frames()
            .iter()
            .filter(|d| d.from == Side::Server)
        {
            let behind_others = d.delivered.secs_since(d.stream_ready).max(0.0);
            let behind_own = d.stream_ready.secs_since(d.complete).max(0.0);
            let s = streams.entry(d.stream).or_insert(StreamHold {
                stream: d.stream,
                ..StreamHold::default()
            });
            s.frames += 1;
            s.bytes += u64::from(d.len);
            s.own_total += behind_own;
            if s.frames == 1 || d.span.start > s.last_start {
                s.last_start = d.span.start;
                s.last_wait = behind_others;
            }
            if behind_others > 0.0 {
                s.held_frames += 1;
                s.held_bytes += u64::from(d.len);
                s.longest = s.longest.max(behind_others);
                s.total += behind_others;
            }
        }
        HeadOfLine {
            holes,
            streams: streams.into_values().collect(),
        }
    }

    /// Whether any stream waited behind another stream's loss.
    pub fn any_held(&self) -> bool {
        self.streams.iter().any(StreamHold::held)
    }
}

/// One connection's head-of-line blocking, where some stream waited behind another's loss.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldConnection {
    /// The connection's number in the capture.
    pub connection: usize,
    /// Its blocking.
    pub hol: HeadOfLine,
}

/// Head-of-line blocking over a capture's cleartext HTTP/2 connections, added up as they pass.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CaptureHold {
    /// Cleartext HTTP/2 connections read.
    pub connections: u64,
    /// Segments that filled a hole in their servers' bytes.
    pub holes: u64,
    /// The connections where some stream waited behind another stream's loss.
    pub held: Vec<HeldConnection>,
}

impl CaptureHold {
    /// Adds a connection (nothing when it shows no cleartext HTTP/2).
    pub fn add(&mut self, c: &Connection) {
        let Some(Http2Seen::Frames(f)) = c.http2() else {
            return;
        };
        let hol = HeadOfLine::of(f);
        self.connections += 1;
        self.holes += hol.holes;
        if hol.any_held() {
            self.held.push(HeldConnection {
                connection: c.stream,
                hol,
            });
        }
    }
}

/// One file's head-of-line blocking over a mode's runs.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct FileHold {
    /// The file's name.
    pub name: String,
    /// Its stream id (the same in every run: the client opens the files' streams in order).
    pub stream: u32,
    /// Runs in which some of its bytes waited behind another stream's loss.
    pub held_runs: usize,
    /// Its bytes that waited, per run (mean over the runs).
    pub held_bytes: f64,
    /// One DATA frame's longest wait behind other streams' losses, over every run, seconds.
    pub longest_s: f64,
    /// Its frames' waits behind other streams' losses summed, per run (mean), seconds.
    pub total_s: f64,
    /// Runs in which its last DATA frame waited behind another stream's loss: the file was
    /// complete later than its own bytes allowed.
    pub late_runs: usize,
    /// How much later the file was complete than its own bytes allowed, per run (mean),
    /// seconds: its last frame's wait behind other streams' losses.
    pub late_s: f64,
}

/// What head-of-line blocking cost a mode's files over its runs, with the holes it had.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct ModeHold {
    /// Segments that filled a hole in the server's bytes, over every run.
    pub holes: u64,
    /// Runs read.
    pub runs: usize,
    /// The files, in the order requested.
    pub files: Vec<FileHold>,
}

/// The place among a run's files of the file stream `stream` carried, on a connection of
/// synack's own client: stream `2k + 1` is the `k`-th file, as an HTTP/2 client numbers the
/// streams it opens in order (RFC 9113 §5.1.1) and synack's opens one per file in order. None for
/// an even (server-initiated) stream.
pub fn file_of_stream(stream: u32) -> Option<usize> {
    (stream % 2 == 1).then_some((stream / 2) as usize)
}

impl ModeHold {
    /// Reads it from a mode's captured runs, each stream named by its file
    /// ([`file_of_stream`]); none when no run has a cleartext HTTP/2 connection.
    pub fn of(mode: &ModeResult) -> Option<ModeHold> {
        let mut hold = ModeHold::default();
        for run in &mode.runs {
            let mut read = false;
            for f in run.connections.iter().filter_map(|c| match c.http2() {
                Some(Http2Seen::Frames(f)) => Some(f),
                _ => None,
            }) {
                read = true;
                let hol = HeadOfLine::of(f);
                hold.holes += hol.holes;
                for s in &hol.streams {
                    let Some(k) = file_of_stream(s.stream) else {
                        continue;
                    };
                    let Some(file) = run.timing.files.get(k) else {
                        continue;
                    };
                    if hold.files.len() <= k {
                        hold.files.resize_with(k + 1, || FileHold {
                            name: String::new(),
                            stream: 0,
                            held_runs: 0,
                            held_bytes: 0.0,
                            longest_s: 0.0,
                            total_s: 0.0,
                            late_runs: 0,
                            late_s: 0.0,
                        });
                    }
                    let h = &mut hold.files[k];
                    h.name.clone_from(&file.name);
                    h.stream = s.stream;
                    h.held_runs += usize::from(s.held());
                    h.held_bytes += s.held_bytes as f64;
                    h.longest_s = h.longest_s.max(s.longest);
                    h.total_s += s.total;
                    h.late_runs += usize::from(s.last_wait > 0.0);
                    h.late_s += s.last_wait;
                }
            }
            hold.runs += usize::from(read);
        }
        if hold.runs == 0 {
            return None;
        }
        let runs = hold.runs as f64;
        hold.files.retain(|f| f.stream != 0);
        for f in &mut hold.files {
            f.held_bytes /= runs;
            f.total_s /= runs;
            f.late_s /= runs;
        }
        Some(hold)
    }

    /// Whether any file waited behind another's loss.
    pub fn any_held(&self) -> bool {
        self.files.iter().any(|f| f.held_runs > 0)
    }
}

#[cfg(test)]
mod tests;
