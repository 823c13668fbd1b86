//! Track layer: HTTP/2 frames cut from each direction's in-order bytes — the client's preface
//! first, then frame after frame, only SETTINGS payloads looked into (for the largest frame the
//! other side may send) — and counted into [`Http2Frames`].
//!
//! Works on sequence numbers and captured payload bytes alone; must not import capture,
//! analysis or report code.

use super::frame::{DEFAULT_MAX_FRAME_SIZE, FrameHeader, FrameType, HEADER_LEN, max_frame_size};
use super::summary::{Arrival, Http2Frames, Http2Stop, Span};
use crate::capture::segment::Segment;
use crate::timeline::Ts;
use crate::track::byte_stream::{ByteStream, Carrier, Piece, WaitLimit};
use crate::track::seq::SeqNumber;
use crate::track::side::Side;

/// The client connection preface (RFC 9113 §3.4).
pub(super) const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How long a hole may keep the bytes behind it waiting, once the connection shows HTTP/2: a
/// loss on a fast path holds up a window's worth of segments until the resend comes. (Before,
/// the few segments a handshake takes: a connection that is not HTTP/2 keeps little.)
const WAIT: WaitLimit = WaitLimit {
    bytes: 16 * 1024 * 1024,
    segments: 16 * 1024,
};

/// A SETTINGS payload longer than this is not looked into (a peer sends a handful of entries).
const MAX_SETTINGS_READ: usize = 64 * 6;

/// What cutting a direction's bytes gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// A whole frame, where it lies in the direction's bytes; with the SETTINGS_MAX_FRAME_SIZE
    /// it sets for the other direction.
    Frame {
        header: FrameHeader,
        span: Span,
        complete: Ts,
        max_frame_size: Option<u32>,
    },
    /// A frame longer than its receiver allows: counted as malformed, and the framing is lost.
    TooLong {
        header: FrameHeader,
        span: Span,
        complete: Ts,
    },
    /// The reading stops.
    Stop(Http2Stop),
}

/// One direction's bytes cut into frames.
#[derive(Debug, Clone)]
struct FrameCutter {
    /// Bytes of the direction read so far, preface included.
    offset: u64,
    /// Where the frame being read starts.
    frame_start: u64,
    /// The time of the piece being cut.
    now: Ts,
    /// The latest time a byte of the frame being read came.
    frame_latest: Ts,
    /// Bytes of the client's preface matched so far (all of it from the start for the server).
    preface: usize,
    header: [u8; HEADER_LEN],
    /// Bytes of `header` filled.
    have: usize,
    /// The frame whose payload is passing, and how many of its bytes are still to come.
    body: Option<(FrameHeader, u32)>,
    /// The SETTINGS payload passing, while it is read whole.
    settings: Option<Vec<u8>>,
    /// The largest payload this direction's receiver allows.
    max_frame: u32,
    stopped: bool,
}

impl FrameCutter {
    fn new(side: Side) -> FrameCutter {
        FrameCutter {
            offset: 0,
            frame_start: 0,
            now: Ts::default(),
            frame_latest: Ts::default(),
            preface: match side {
                Side::Client => 0,
                Side::Server => PREFACE.len(),
            },
            header: [0; HEADER_LEN],
            have: 0,
            body: None,
            settings: None,
            max_frame: DEFAULT_MAX_FRAME_SIZE,
            stopped: false,
        }
    }

    /// The whole preface was matched.
    fn past_preface(&self) -> bool {
        self.preface == PREFACE.len()
    }

    /// Cuts the next piece of the direction's bytes, handing out what it completes.
    fn piece(&mut self, ts: Ts, piece: Piece<'_>, out: &mut impl FnMut(Cut)) {
        if self.stopped {
            return;
        }
        self.now = ts;
        if self.have > 0 || self.body.is_some() {
            self.frame_latest = self.frame_latest.max(ts);
        }
        match piece {
            Piece::Bytes { bytes, .. } => self.bytes(bytes, out),
            Piece::Missing(n) => self.missing(n, out),
        }
    }

    fn stop(&mut self, why: Http2Stop, out: &mut impl FnMut(Cut)) {
        self.stopped = true;
        self.body = None;
        self.settings = None;
        out(Cut::Stop(why));
    }

    fn bytes(&mut self, mut bytes: &[u8], out: &mut impl FnMut(Cut)) {
        // Bounded: each pass consumes bytes or stops.
        while !bytes.is_empty() && !self.stopped {
            if !self.past_preface() {
                let n = (PREFACE.len() - self.preface).min(bytes.len());
                if bytes[..n] != PREFACE[self.preface..self.preface + n] {
                    self.stop(Http2Stop::Malformed, out);
                    return;
                }
                self.preface += n;
                self.offset += n as u64;
                bytes = &bytes[n..];
                continue;
            }
            if let Some((header, left)) = &mut self.body {
                let n = bytes.len().min(*left as usize);
                if let Some(settings) = &mut self.settings {
                    settings.extend_from_slice(&bytes[..n]);
                }
                *left -= n as u32;
                self.offset += n as u64;
                bytes = &bytes[n..];
                if *left == 0 {
                    let header = *header;
                    self.body = None;
                    self.finish(header, out);
                }
                continue;
            }
            let n = (HEADER_LEN - self.have).min(bytes.len());
            if self.have == 0 {
                self.frame_start = self.offset;
                self.frame_latest = self.now;
            }
            self.header[self.have..self.have + n].copy_from_slice(&bytes[..n]);
            self.have += n;
            self.offset += n as u64;
            bytes = &bytes[n..];
            if self.have == HEADER_LEN {
                self.have = 0;
                self.start(FrameHeader::parse(&self.header), out);
            }
        }
    }

    /// A frame's header is in: its payload follows, or it is whole already.
    fn start(&mut self, header: FrameHeader, out: &mut impl FnMut(Cut)) {
        if header.length > self.max_frame {
            out(Cut::TooLong {
                header,
                span: self.span(),
                complete: self.frame_latest,
            });
            self.stop(Http2Stop::Malformed, out);
            return;
        }
        let read_settings =
            header.kind() == FrameType::Settings && header.length as usize <= MAX_SETTINGS_READ;
        self.settings = read_settings.then(Vec::new);
        if header.length == 0 {
            self.finish(header, out);
        } else {
            self.body = Some((header, header.length));
        }
    }

    fn finish(&mut self, header: FrameHeader, out: &mut impl FnMut(Cut)) {
        let max_frame_size = self.settings.take().and_then(|s| {
            // An acknowledgement (flag 0x1) carries no settings.
            (header.flags & 1 == 0)
                .then(|| max_frame_size(&s))
                .flatten()
        });
        out(Cut::Frame {
            header,
            span: self.span(),
            complete: self.frame_latest,
            max_frame_size,
        });
    }

    /// Where the frame read so far lies.
    fn span(&self) -> Span {
        Span {
            start: self.frame_start,
            end: self.offset,
        }
    }

    /// Bytes the capture cut off: passed over inside a payload, the end of the reading
    /// anywhere else.
    fn missing(&mut self, mut n: u32, out: &mut impl FnMut(Cut)) {
        if let Some((header, left)) = &mut self.body {
            // A SETTINGS payload with a hole is not read.
            self.settings = None;
            let passed = n.min(*left);
            *left -= passed;
            n -= passed;
            self.offset += u64::from(passed);
            if *left == 0 {
                let header = *header;
                self.body = None;
                self.finish(header, out);
            }
        }
        if n > 0 {
            self.stop(Http2Stop::Cut, out);
        }
    }
}

/// One direction: its bytes put in order, and cut into frames.
#[derive(Debug, Clone)]
struct Direction {
    stream: ByteStream,
    cutter: FrameCutter,
}

impl Direction {
    fn new(side: Side) -> Direction {
        Direction {
            stream: ByteStream::default(),
            cutter: FrameCutter::new(side),
        }
    }
}

/// What a segment did to the reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Progress {
    /// Reading on; `requests` opened by this segment's bytes.
    Reading { requests: u64 },
    /// The connection turned out not to speak HTTP/2 with prior knowledge.
    NotHttp2,
}

/// Reads both directions of a connection that may speak HTTP/2 in cleartext.
#[derive(Debug, Clone)]
pub(in crate::track) struct Http2Reader {
    client: Direction,
    server: Direction,
    frames: Http2Frames,
}

/// What cutting a direction's pieces found, for the reader to act on once they are cut.
#[derive(Debug, Default)]
struct CutTally {
    /// Requests opened.
    requests: u64,
    /// The SETTINGS_MAX_FRAME_SIZE set for the other direction.
    peer_max: Option<u32>,
    /// Why the reading stopped.
    stop: Option<Http2Stop>,
}

impl CutTally {
    /// Counts `cut` of `side`'s bytes into `frames`, its frame arriving as `arrival` makes of
    /// the time its bytes were all in; the stream of a frame cut whole.
    fn count(
        &mut self,
        frames: &mut Http2Frames,
        side: Side,
        cut: Cut,
        arrival: impl Fn(Ts) -> Arrival,
    ) -> Option<u32> {
        match cut {
            Cut::Frame {
                header,
                span,
                complete,
                max_frame_size,
            } => {
                let opened = frames.add(side, arrival(complete), &header, span, false);
                self.requests += u64::from(opened);
                self.peer_max = max_frame_size.or(self.peer_max);
                Some(header.stream)
            }
            Cut::TooLong {
                header,
                span,
                complete,
            } => {
                frames.add(side, arrival(complete), &header, span, true);
                None
            }
            Cut::Stop(why) => {
                self.stop = Some(why);
                None
            }
        }
    }
}

impl Http2Reader {
    /// A reader for a connection whose sides' bytes begin at these numbers, where known.
    pub(in crate::track) fn new(
        client_start: Option<SeqNumber>,
        server_start: Option<SeqNumber>,
    ) -> Self {
        let mut reader = Http2Reader {
            client: Direction::new(Side::Client),
            server: Direction::new(Side::Server),
            frames: Http2Frames::default(),
        };
        if let Some(start) = client_start {
            reader.client.stream.start_at(start);
        }
        if let Some(start) = server_start {
            reader.server.stream.start_at(start);
        }
        reader
    }

    /// The client sent the whole preface: the connection speaks HTTP/2.
    pub(in crate::track) fn confirmed(&self) -> bool {
        self.client.cutter.past_preface()
    }

    /// What was counted so far.
    pub(in crate::track) fn frames(&self) -> &Http2Frames {
        &self.frames
    }

    /// Adds a segment `side` sent, with its captured payload.
    pub(super) fn push(&mut self, side: Side, seg: &Segment, payload: &[u8]) -> Progress {
        let Http2Reader {
            client,
            server,
            frames,
        } = self;
        let (mine, peer) = match side {
            Side::Client => (client, server),
            Side::Server => (server, client),
        };
        if seg.flags.syn {
            mine.stream.start_at(SeqNumber(seg.seq) + 1u32);
        }
        let data_seq = SeqNumber(seg.seq) + u32::from(seg.flags.syn);
        let mut tally = CutTally::default();
        let cutter = &mut mine.cutter;
        let was_confirmed = side == Side::Client && cutter.past_preface();
        let mut own: Option<Span> = None;
        let mut own_streams = Vec::new();
        let mut released = false;
        mine.stream.push_carried(
            data_seq,
            seg.ts,
            payload,
            seg.payload_len,
            &mut |carrier: Carrier, piece| {
                if carrier.waited && !released {
                    // The segment's own bytes filled a hole: what waited behind it follows.
                    released = true;
                    if let Some(span) = own {
                        frames.fill(side, seg.ts, span, &own_streams);
                    }
                }
                let before = cutter.offset;
                let arrival = |complete| Arrival {
                    ts: carrier.ts,
                    complete,
                    delivered: seg.ts,
                };
                cutter.piece(carrier.ts, piece, &mut |cut| {
                    let stream = tally.count(frames, side, cut, arrival);
                    if let Some(stream) = stream.filter(|_| !released) {
                        own_streams.push(stream);
                    }
                });
                if !carrier.waited {
                    let start = own.map_or(before, |o| o.start);
                    own = Some(Span {
                        start,
                        end: cutter.offset,
                    });
                }
            },
        );
        let CutTally {
            requests,
            peer_max,
            mut stop,
        } = tally;
        if mine.stream.has_gap() && !cutter.stopped {
            cutter.stopped = true;
            stop = Some(Http2Stop::Gap);
        }
        if let Some(why) = stop {
            mine.stream.release();
            // Before the client's preface is whole, a stop says the bytes are not HTTP/2; so
            // does a server whose first frame is no SETTINGS (RFC 9113 §3.4).
            let unconfirmed = side == Side::Client && !was_confirmed && !cutter.past_preface();
            if unconfirmed {
                return Progress::NotHttp2;
            }
            frames.stop(side, why);
        }
        if let Some(max) = peer_max {
            peer.cutter.max_frame = max;
        }
        if !self.confirmed() {
            if side == Side::Server && self.server_opened_wrongly() {
                return Progress::NotHttp2;
            }
        } else if !was_confirmed && side == Side::Client {
            self.client.stream.set_limit(WAIT);
            self.server.stream.set_limit(WAIT);
        }
        Progress::Reading { requests }
    }

    /// Adds `bytes`, the next of `side`'s in order, already put together (decrypted TLS
    /// application data); returns the requests they opened. Inside TLS no hole is seen: each
    /// frame arrives whole when the record that completed it opened.
    pub(in crate::track) fn push_plain(&mut self, side: Side, ts: Ts, bytes: &[u8]) -> u64 {
        let (mine, peer) = side.mine_and_peer(&mut self.client, &mut self.server);
        let frames = &mut self.frames;
        let mut tally = CutTally::default();
        let arrival = |complete| Arrival {
            ts,
            complete,
            delivered: ts,
        };
        let piece = Piece::Bytes {
            bytes,
            starts_segment: false,
        };
        mine.cutter.piece(ts, piece, &mut |cut| {
            tally.count(frames, side, cut, arrival);
        });
        if let Some(why) = tally.stop {
            frames.stop(side, why);
        }
        if let Some(max) = tally.peer_max {
            peer.cutter.max_frame = max;
        }
        tally.requests
    }

    /// `side`'s bytes were lost for good (a record that did not open): its reading stops there.
    pub(in crate::track) fn lost(&mut self, side: Side) {
        let (mine, _) = side.mine_and_peer(&mut self.client, &mut self.server);
        if !mine.cutter.stopped {
            mine.cutter.stopped = true;
            self.frames.stop(side, Http2Stop::Gap);
        }
    }

    /// The server's bytes so far do not open as RFC 9113 §3.4 says they must, with SETTINGS.
    fn server_opened_wrongly(&self) -> bool {
        let f = &self.frames;
        let first_not_settings = f.server.total() > 0
            && f.streams()
                .get(&0)
                .is_none_or(|s| s.server.get(FrameType::Settings) == 0);
        first_not_settings || f.server_stop.is_some()
    }
}
