//! Track layer: TLS counted on the wire. A connection whose first payload bytes are a TLS
//! handshake record has each direction put back in order (`super::byte_stream`), cut into records and
//! plaintext handshake messages (`record`, `hello`) and summed up as a `TlsHandshake`
//! (`handshake`); `totals` adds connections up. Bytes are kept only while a hole waits to be
//! filled or a hello is read, and only until each direction's first application data.
//!
//! Works on `Segment` and its captured payload alone; must not import `pcap`, `etherparse`,
//! analysis or report code.

mod decrypt;
mod handshake;
pub(in crate::track) mod hello;
mod record;
mod tls12_keys;
mod totals;

pub use decrypt::Decryption;
pub use handshake::{
    HandshakeCounts, ProtocolVersion, ReadStop, RecordCounts, Resumption, TlsHandshake,
};
pub use totals::TlsTotals;

pub(in crate::track) use decrypt::{Plain, TlsDecryptor};

pub(in crate::track) use record::{CLIENT_HELLO, SERVER_HELLO};

use handshake::HandshakeWatch;
use record::{HANDSHAKE, RecordReader};

use super::byte_stream::{ByteStream, Piece};
use super::seq::SeqNumber;
use super::side::Side;
use crate::capture::segment::Segment;

/// Does a stream starting with `bytes` start with a TLS handshake record (type 22, version
/// 3.x with x ≤ 4), as far as those bytes go? (The record reader checks the rest.)
fn starts_like_tls(bytes: &[u8]) -> bool {
    match bytes {
        [HANDSHAKE] | [HANDSHAKE, 3] => true,
        [HANDSHAKE, 3, minor, ..] => *minor <= 4,
        _ => false,
    }
}

/// What a connection knows of TLS.
#[derive(Debug, Default, Clone)]
pub(super) enum TlsState {
    /// No payload yet.
    #[default]
    Unknown,
    /// Its first payload was something else: never looked at again.
    NotTls,
    /// Being read.
    Reading(Box<TlsReader>),
    /// Both directions read as far as they will be.
    Read(Box<TlsHandshake>),
}

impl TlsState {
    /// True once the connection's first payload showed it does not speak TLS.
    pub(super) fn ruled_out(&self) -> bool {
        matches!(self, TlsState::NotTls)
    }

    /// The handshake, if the connection speaks TLS.
    pub(super) fn handshake(&self) -> Option<&TlsHandshake> {
        match self {
            TlsState::Unknown | TlsState::NotTls => None,
            TlsState::Reading(reader) => Some(reader.watch.summary()),
            TlsState::Read(handshake) => Some(handshake),
        }
    }

    /// Adds a segment `side` sent, with its captured payload; `stream_start` is where that
    /// side's bytes begin (its ISN + 1) when its SYN was seen, and `peer_start` the other's.
    pub(super) fn push(
        &mut self,
        side: Side,
        seg: &Segment,
        payload: &[u8],
        stream_start: Option<SeqNumber>,
        peer_start: Option<SeqNumber>,
    ) {
        match self {
            TlsState::NotTls | TlsState::Read(_) => return,
            TlsState::Unknown => {
                if seg.payload_len == 0 {
                    return;
                }
                let data_seq = SeqNumber(seg.seq) + u32::from(seg.flags.syn);
                let at_start = stream_start.is_none_or(|start| start == data_seq);
                if at_start && !starts_like_tls(payload) {
                    *self = TlsState::NotTls;
                    return;
                }
                // Out of order at the start: the reader decides once the first bytes are in.
                let mut reader = TlsReader::default();
                let (mine, peer) = reader.halves(side);
                if let Some(start) = stream_start {
                    mine.start_at(start);
                }
                if let Some(start) = peer_start {
                    peer.start_at(start);
                }
                *self = TlsState::Reading(Box::new(reader));
            }
            TlsState::Reading(_) => {}
        }
        let TlsState::Reading(reader) = self else {
            return;
        };
        match reader.push(side, seg, payload) {
            Progress::Reading => {}
            Progress::NotTls => *self = TlsState::NotTls,
            Progress::Finished => {
                let summary = reader.watch.take_summary();
                *self = TlsState::Read(Box::new(summary));
            }
        }
    }
}

/// What a segment did to the reading.
enum Progress {
    Reading,
    /// The connection's first bytes turned out not to be TLS.
    NotTls,
    /// Neither direction needs reading any more.
    Finished,
}

/// One direction being read.
#[derive(Debug, Default, Clone)]
struct DirectionReader {
    stream: ByteStream,
    records: Records,
    stopped: bool,
}

impl DirectionReader {
    fn start_at(&mut self, seq: SeqNumber) {
        self.stream.start_at(seq);
    }
}

/// One direction's records, read from the pieces of its stream.
#[derive(Debug, Default, Clone)]
struct Records {
    reader: RecordReader,
    /// Cut-off bytes held something that had to be read: bytes are passed over until a segment
    /// starts with a record header.
    lost: bool,
}

impl Records {
    /// Reads the next piece of the stream; true when bytes the capture cut off could not be
    /// passed over.
    fn read(
        &mut self,
        piece: Piece<'_>,
        on: &mut impl FnMut(record::Event<'_>) -> record::Body,
    ) -> bool {
        match piece {
            Piece::Missing(n) => {
                let lost = self.lost || !self.reader.missing(n as usize, on);
                self.lost = lost;
                lost
            }
            Piece::Bytes {
                bytes,
                starts_segment,
            } => {
                if self.lost {
                    if !(starts_segment && self.reader.resync(bytes)) {
                        return false;
                    }
                    self.lost = false;
                }
                self.reader.feed(bytes, on);
                false
            }
        }
    }
}

/// Reads both directions of a connection that speaks TLS.
#[derive(Debug, Default, Clone)]
pub(super) struct TlsReader {
    client: DirectionReader,
    server: DirectionReader,
    watch: HandshakeWatch,
    /// Some bytes were read (and looked like TLS).
    confirmed: bool,
}

impl TlsReader {
    /// The reader of `side`'s bytes and of its peer's.
    fn halves(&mut self, side: Side) -> (&mut DirectionReader, &mut DirectionReader) {
        match side {
            Side::Client => (&mut self.client, &mut self.server),
            Side::Server => (&mut self.server, &mut self.client),
        }
    }

    fn push(&mut self, side: Side, seg: &Segment, payload: &[u8]) -> Progress {
        let Self {
            client,
            server,
            watch,
            confirmed,
        } = self;
        let (mine, peer) = match side {
            Side::Client => (client, server),
            Side::Server => (server, client),
        };
        if seg.flags.syn {
            mine.start_at(SeqNumber(seg.seq) + 1u32);
        }
        if mine.stopped {
            return Progress::Reading;
        }
        let data_seq = SeqNumber(seg.seq) + u32::from(seg.flags.syn);
        let mut not_tls = false;
        let mut cut = false;
        let records = &mut mine.records;
        mine.stream.push(
            data_seq,
            seg.ts,
            payload,
            seg.payload_len,
            &mut |ts, piece| {
                if !*confirmed {
                    match piece {
                        Piece::Bytes { bytes, .. } if starts_like_tls(bytes) => *confirmed = true,
                        _ => {
                            not_tls = true;
                            return;
                        }
                    }
                }
                if not_tls || watch.is_done(side) || records.reader.is_malformed() {
                    return;
                }
                cut |= records.read(piece, &mut |event| watch.event(side, ts, event));
            },
        );
        if cut {
            watch.cut(side);
        }
        if not_tls {
            return Progress::NotTls;
        }
        let stop = if mine.stream.has_gap() {
            Some(ReadStop::Gap)
        } else if mine.records.reader.is_malformed() {
            Some(ReadStop::NotTls)
        } else if watch.is_done(side) {
            Some(ReadStop::Done)
        } else {
            None
        };
        if let Some(why) = stop {
            mine.stopped = true;
            mine.stream.release();
            watch.stop(side, why);
        }
        // The peer may be done because of this segment (TLS 1.3's server data follows the
        // client's Finished).
        if !peer.stopped && watch.is_done(side.peer()) {
            peer.stopped = true;
            peer.stream.release();
            watch.stop(side.peer(), ReadStop::Done);
        }
        if mine.stopped && peer.stopped {
            Progress::Finished
        } else {
            Progress::Reading
        }
    }
}

#[cfg(test)]
mod tests;
