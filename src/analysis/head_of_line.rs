//! Attribute layer: head-of-line blocking on a cleartext HTTP/2 connection, per stream, read from
//! the capture at the client. Reads the track layer's HTTP/2 frames; never prints.
//!
//! A segment lost on the way leaves a hole in the server's bytes: the segments after it arrive
//! but are in order only when the resend fills the hole. A DATA frame whose last byte arrived at
//! `a` and that was in order at `d` waited `d − a`. Part of that wait it would have had without
//! TCP's single byte order too (as over QUIC, where a stream waits only for its own bytes): until
//! the last fill before the frame's end whose bytes belong to the frame's own stream, `o`. The
//! rest, `d − max(a, o)`, is the wait behind other streams' losses: head-of-line blocking. With
//! one hole it is the fill's time less the frame's arrival when the hole held another stream's
//! bytes, and nothing when it held the frame's own.
//!
//! Only the server's frames are read: a capture at the client sees holes in what it receives;
//! what the client sent was lost, if at all, after the capture saw it.

use std::collections::{BTreeMap, HashMap};

use crate::timeline::Ts;
use crate::track::Side;
use crate::track::http2::Http2Frames;

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
        let fills: Vec<_> = frames
            .hole_fills()
            .iter()
            .filter(|f| f.from == Side::Server)
            .collect();
        let mut streams: BTreeMap<u32, StreamHold> = BTreeMap::new();
        // The latest fill so far (in byte order) that carried each stream's bytes.
        let mut own_fill: HashMap<u32, Ts> = HashMap::new();
        let mut next_fill = 0;
        // The server's DATA frames come in the order of its bytes, as its fills do.
        for d in frames
            .data_frames()
            .iter()
            .filter(|d| d.from == Side::Server)
        {
            while let Some(fill) = fills.get(next_fill).filter(|f| f.span.start < d.span.end) {
                for &s in fill.streams() {
                    let latest = own_fill.entry(s).or_insert(fill.ts);
                    *latest = (*latest).max(fill.ts);
                }
                next_fill += 1;
            }
            let own_ready = own_fill.get(&d.stream).map_or(d.ts, |&o| o.max(d.ts));
            let behind_others = d.delivered.secs_since(own_ready).max(0.0);
            let behind_own = own_ready.secs_since(d.ts).max(0.0);
            let s = streams.entry(d.stream).or_insert(StreamHold {
                stream: d.stream,
                ..StreamHold::default()
            });
            s.frames += 1;
            s.bytes += u64::from(d.len);
            s.own_total += behind_own;
            if behind_others > 0.0 {
                s.held_frames += 1;
                s.held_bytes += u64::from(d.len);
                s.longest = s.longest.max(behind_others);
                s.total += behind_others;
            }
        }
        HeadOfLine {
            holes: fills.len() as u64,
            streams: streams.into_values().collect(),
        }
    }

    /// Whether any stream waited behind another stream's loss.
    pub fn any_held(&self) -> bool {
        self.streams.iter().any(StreamHold::held)
    }
}

#[cfg(test)]
mod tests;
