//! Track layer: what a cleartext HTTP/2 connection's frames add up to — frames by type for each
//! direction and each stream, the requests, and every DATA frame's time, stream and length —
//! built frame by frame as the two directions are read.
//!
//! Works on frame headers alone; must not import capture, analysis or report code.

use std::collections::BTreeMap;

use super::frame::{FrameHeader, FrameType};
use crate::timeline::Ts;
use crate::track::side::Side;

/// Frames counted by type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameCounts([u64; FrameType::ALL.len()]);

impl FrameCounts {
    /// Frames of type `t`.
    pub fn get(&self, t: FrameType) -> u64 {
        self.0[t.index()]
    }

    /// Frames of every type.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// (type, count) in wire order, every type.
    pub fn iter(&self) -> impl Iterator<Item = (FrameType, u64)> + '_ {
        FrameType::ALL.iter().map(|&t| (t, self.get(t)))
    }

    fn add(&mut self, t: FrameType) {
        self.0[t.index()] += 1;
    }

    /// Adds another count.
    pub fn merge(&mut self, other: &FrameCounts) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine += theirs;
        }
    }
}

/// One stream's frames (stream 0: the connection's own).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamFrames {
    /// Frames the client sent on it.
    pub client: FrameCounts,
    /// Frames the server sent on it.
    pub server: FrameCounts,
    /// Payload bytes of the DATA frames the client sent on it.
    pub client_data_bytes: u64,
    /// Payload bytes of the DATA frames the server sent on it.
    pub server_data_bytes: u64,
}

/// Where a frame lies in its sender's bytes: offsets from the first byte after the SYN (the
/// client's preface counted), end excluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Its first byte (the frame header's).
    pub start: u64,
    /// One past its last byte.
    pub end: u64,
}

/// When a frame's bytes came: its last byte's segment arrived at `ts`, its last byte to come
/// at `complete`, and the frame was in order (every byte before its end in) at `delivered`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Arrival {
    pub ts: Ts,
    pub complete: Ts,
    pub delivered: Ts,
}

/// One DATA frame, as the capture saw it complete: what head-of-line blocking is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataFrame {
    /// The segment that carried the frame's last byte arrived.
    pub ts: Ts,
    /// Every byte of the frame had arrived (each byte timed by its first copy).
    pub complete: Ts,
    /// Every byte of its stream's frames up to its end had arrived: when the frame could have
    /// been read had each stream its own byte order, as in QUIC.
    pub stream_ready: Ts,
    /// Every byte before the frame's end had arrived: later than `complete` when the frame came
    /// after a hole in its sender's bytes and waited for the segment that filled it.
    pub delivered: Ts,
    /// Where the frame (its header included) lies in its sender's bytes.
    pub span: Span,
    /// Its stream.
    pub stream: u32,
    /// Its payload length (padding included, as the header says).
    pub len: u32,
    /// Who sent it.
    pub from: Side,
}

/// A segment that filled a hole in its sender's bytes: bytes captured after the hole, which had
/// waited for it, were in order once it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoleFill {
    /// When it arrived.
    pub ts: Ts,
    /// Who sent it.
    pub from: Side,
    /// Its bytes new to the stream: the hole's bytes it carried.
    pub span: Span,
    /// The streams whose frames those bytes belong to (0: the connection's own frames),
    /// ascending; none when they belong to no frame read (the client's preface).
    streams: Vec<u32>,
}

impl HoleFill {
    /// The streams whose frames the filling bytes belong to, ascending.
    pub fn streams(&self) -> &[u32] {
        &self.streams
    }

    fn tag(&mut self, stream: u32) {
        if let Err(at) = self.streams.binary_search(&stream) {
            self.streams.insert(at, stream);
        }
    }
}

/// One side's DATA frames by where they lie in its bytes (frames never overlap).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataSpans(pub(super) Vec<(Span, u32)>);

impl DataSpans {
    /// The stream whose DATA frames hold most of the bytes in `span` (the lower stream id on a
    /// tie); none when no DATA frame reaches into it.
    pub fn stream_of(&self, span: Span) -> Option<u32> {
        let first = self.0.partition_point(|(s, _)| s.end <= span.start);
        let mut held: Vec<(u32, u64)> = Vec::new();
        for &(s, stream) in self.0[first..]
            .iter()
            .take_while(|(s, _)| s.start < span.end)
        {
            let overlap = s.end.min(span.end) - s.start.max(span.start);
            match held.iter_mut().find(|(id, _)| *id == stream) {
                Some((_, bytes)) => *bytes += overlap,
                None => held.push((stream, overlap)),
            }
        }
        held.into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|(stream, _)| stream)
    }
}

/// Why a direction's frames stopped being read before the capture ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Http2Stop {
    /// Bytes were missing from the capture and never came.
    Gap,
    /// The snap length cut off bytes of a frame header.
    Cut,
    /// The bytes stopped reading as HTTP/2 frames: the client's preface went wrong, or a frame
    /// was longer than its receiver allows (the framing is lost after it).
    Malformed,
}

/// A cleartext HTTP/2 connection's frames, as counted on the wire.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Http2Frames {
    /// Frames the client sent, by type.
    pub client: FrameCounts,
    /// Frames the server sent, by type.
    pub server: FrameCounts,
    /// Requests: client-initiated (odd) streams a HEADERS frame from the client opened.
    pub requests: u64,
    /// Frames the client sent that break RFC 9113's framing rules (counted under their type
    /// too).
    pub client_malformed: u64,
    /// The same for the server's.
    pub server_malformed: u64,
    /// Why the client's frames stopped being read, if they did.
    pub client_stop: Option<Http2Stop>,
    /// Why the server's frames stopped being read, if they did.
    pub server_stop: Option<Http2Stop>,
    /// Every stream's frames, by stream id.
    streams: BTreeMap<u32, StreamFrames>,
    /// Every DATA frame either side sent, in the order the capture completed them.
    data: Vec<DataFrame>,
    /// Every segment that filled a hole, either side's, in the order they came.
    fills: Vec<HoleFill>,
    /// For each side's stream, when every byte of its frames read so far had arrived.
    ready: BTreeMap<(bool, u32), Ts>,
}

impl Http2Frames {
    /// Every stream's frames by stream id, stream 0 (the connection's own) included.
    pub fn streams(&self) -> &BTreeMap<u32, StreamFrames> {
        &self.streams
    }

    /// Streams other than stream 0 that carried a frame.
    pub fn stream_count(&self) -> u64 {
        self.streams.keys().filter(|&&id| id != 0).count() as u64
    }

    /// Every DATA frame either side sent, in the order the capture completed them.
    pub fn data_frames(&self) -> &[DataFrame] {
        &self.data
    }

    /// Every segment that filled a hole in either side's bytes, in the order they came; each
    /// side's in the order of its bytes.
    pub fn hole_fills(&self) -> &[HoleFill] {
        &self.fills
    }

    /// Where `side`'s DATA frames lie in its bytes, to ask which stream a stretch carries.
    pub fn data_spans(&self, side: Side) -> DataSpans {
        let mut spans: Vec<(Span, u32)> = self
            .data
            .iter()
            .filter(|d| d.from == side)
            .map(|d| (d.span, d.stream))
            .collect();
        spans.sort_unstable_by_key(|(span, _)| span.start);
        DataSpans(spans)
    }

    /// Frames `side` sent, by type.
    pub fn sent_by(&self, side: Side) -> &FrameCounts {
        match side {
            Side::Client => &self.client,
            Side::Server => &self.server,
        }
    }

    /// Malformed frames, both directions.
    pub fn malformed_frames(&self) -> u64 {
        self.client_malformed + self.server_malformed
    }

    /// The reading stopped early in either direction.
    pub fn is_incomplete(&self) -> bool {
        self.client_stop.is_some() || self.server_stop.is_some()
    }

    /// Counts a frame `side` sent, lying at `span`, its bytes come at `arrival` (`too_long` for
    /// one longer than its receiver allows, whose payload is not waited for); true when it
    /// opened a request.
    pub(super) fn add(
        &mut self,
        side: Side,
        arrival: Arrival,
        h: &FrameHeader,
        span: Span,
        too_long: bool,
    ) -> bool {
        self.tag_fills(side, span, h.stream);
        let ready = self
            .ready
            .entry((side == Side::Client, h.stream))
            .or_insert(arrival.complete);
        *ready = (*ready).max(arrival.complete);
        let stream_ready = *ready;
        let kind = h.kind();
        let malformed = too_long || h.is_malformed();
        let stream = self.streams.entry(h.stream).or_default();
        let (mine, total, data_bytes, malformed_count) = match side {
            Side::Client => (
                &mut stream.client,
                &mut self.client,
                &mut stream.client_data_bytes,
                &mut self.client_malformed,
            ),
            Side::Server => (
                &mut stream.server,
                &mut self.server,
                &mut stream.server_data_bytes,
                &mut self.server_malformed,
            ),
        };
        *malformed_count += u64::from(malformed);
        // Only its first HEADERS opens a stream: a second one carries trailers.
        let opens = kind == FrameType::Headers && mine.get(FrameType::Headers) == 0;
        mine.add(kind);
        total.add(kind);
        if kind == FrameType::Data && !malformed {
            *data_bytes += u64::from(h.length);
            self.data.push(DataFrame {
                ts: arrival.ts,
                complete: arrival.complete,
                stream_ready,
                delivered: arrival.delivered,
                span,
                stream: h.stream,
                len: h.length,
                from: side,
            });
        }
        let request = side == Side::Client && opens && !malformed && h.stream % 2 == 1;
        self.requests += u64::from(request);
        request
    }

    /// Records a segment `side` sent at `ts` whose new bytes, lying at `span`, filled a hole;
    /// `streams`: those of the frames its bytes completed so far.
    pub(super) fn fill(&mut self, side: Side, ts: Ts, span: Span, streams: &[u32]) {
        let mut fill = HoleFill {
            ts,
            from: side,
            span,
            streams: Vec::new(),
        };
        for &s in streams {
            fill.tag(s);
        }
        self.fills.push(fill);
    }

    /// Names stream `stream` in the fills of `side` whose bytes overlap `span`: the frame's.
    fn tag_fills(&mut self, side: Side, span: Span, stream: u32) {
        // A side's fills come in the order of its bytes, and frames are read in that order: only
        // the last few can reach this frame.
        for fill in self.fills.iter_mut().rev().filter(|f| f.from == side) {
            if fill.span.end <= span.start {
                break;
            }
            if fill.span.start < span.end {
                fill.tag(stream);
            }
        }
    }

    /// Records why `side` stopped being read (the first reason stays).
    pub(super) fn stop(&mut self, side: Side, why: Http2Stop) {
        match side {
            Side::Client => self.client_stop.get_or_insert(why),
            Side::Server => self.server_stop.get_or_insert(why),
        };
    }
}

/// HTTP/2 counted over many connections.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Http2Totals {
    /// Cleartext HTTP/2 connections, their frames read.
    pub cleartext: u64,
    /// Connections over TLS whose ALPN shows HTTP/2 (the server's choice, or the client's offer
    /// where the choice is encrypted): their frames are not read.
    pub encrypted: u64,
    /// Frames clients sent, by type.
    pub client: FrameCounts,
    /// Frames servers sent, by type.
    pub server: FrameCounts,
    /// Streams other than stream 0.
    pub streams: u64,
    /// Requests on the cleartext connections.
    pub requests: u64,
    /// Malformed frames.
    pub malformed: u64,
    /// Cleartext connections whose reading stopped early.
    pub incomplete: u64,
}

impl Http2Totals {
    /// Adds one cleartext connection's frames.
    pub fn add(&mut self, f: &Http2Frames) {
        self.cleartext += 1;
        self.client.merge(&f.client);
        self.server.merge(&f.server);
        self.streams += f.stream_count();
        self.requests += f.requests;
        self.malformed += f.malformed_frames();
        self.incomplete += u64::from(f.is_incomplete());
    }

    /// Adds one connection over TLS that shows HTTP/2.
    pub fn add_encrypted(&mut self) {
        self.encrypted += 1;
    }

    /// Whether any connection showed HTTP/2.
    pub fn any(&self) -> bool {
        self.cleartext + self.encrypted > 0
    }
}
