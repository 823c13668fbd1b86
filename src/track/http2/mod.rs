//! Track layer: HTTP/2 (RFC 9113) counted on the wire. A connection whose client opens with the
//! HTTP/2 preface (`PRI * HTTP/2.0…`: cleartext with prior knowledge) has each direction put back
//! in order and cut into frames (`frame`, `reader`), counted by type, direction and stream, with
//! every DATA frame's time, stream and length (`summary`).
//!
//! Over TLS, without keys, the frames are encrypted: what shows HTTP/2 there is ALPN (RFC 7301),
//! read by the TLS reader. A TLS 1.2 ServerHello names the protocol the server selected; TLS 1.3
//! moves that choice into the encrypted EncryptedExtensions, so there the capture shows only
//! that the client offered `h2` — the connection may carry HTTP/2 or HTTP/1.1, and no count of
//! requests can be read from it (record turns would be a guess: a WINDOW_UPDATE or a PING is a
//! record too). [`Http2Seen::Encrypted`] says which evidence a connection has. An HTTP/1.1
//! connection upgraded to h2c (`Upgrade: h2c`, RFC 7540 §3.2, dropped by RFC 9113) is not
//! followed: its frames start after a 101 response, not with a preface at the start.
//!
//! Works on `Segment` and its captured payload alone; must not import `pcap`, `etherparse`,
//! analysis or report code.

mod frame;
mod reader;
mod summary;

pub use frame::FrameType;
pub use summary::{
    DataFrame, DataSpans, FrameCounts, HoleFill, Http2Frames, Http2Stop, Http2Totals, Span,
    StreamFrames,
};

pub(in crate::track) use reader::Http2Reader;
use reader::{PREFACE, Progress};

use super::seq::SeqNumber;
use super::side::Side;
use super::tls::TlsHandshake;
use crate::capture::segment::Segment;

/// How a connection shows that it speaks HTTP/2.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Http2Seen<'a> {
    /// Cleartext with prior knowledge: every frame read.
    Frames(&'a Http2Frames),
    /// Over TLS: the frames are encrypted; the ALPN says this much.
    Encrypted(TlsAlpn),
}

/// What the TLS handshake's ALPN shows of HTTP/2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsAlpn {
    /// The ServerHello (TLS 1.2 and before) selected `h2`.
    ServerSelected,
    /// The ClientHello offered `h2` and the server's choice is not in the capture: TLS 1.3
    /// encrypts it, or no ServerHello was read.
    ClientOffered,
}

impl TlsAlpn {
    /// What `h` shows, if it shows HTTP/2 at all.
    pub fn of(h: &TlsHandshake) -> Option<TlsAlpn> {
        match (h.alpn_selects_h2, h.alpn_offers_h2) {
            (Some(true), _) => Some(TlsAlpn::ServerSelected),
            (None, true) => Some(TlsAlpn::ClientOffered),
            _ => None,
        }
    }
}

/// Whether a stream starting with `bytes` starts with the client preface, as far as they go.
fn starts_like_preface(bytes: &[u8]) -> bool {
    !bytes.is_empty() && PREFACE.starts_with(&bytes[..bytes.len().min(PREFACE.len())])
}

/// Whether a server's stream starting with `bytes` may start with its SETTINGS frame (type 4 on
/// stream 0), as far as they go.
fn starts_like_settings(bytes: &[u8]) -> bool {
    let settings_type = bytes.get(3).is_none_or(|&t| t == 4);
    let stream_zero = bytes
        .get(5..9)
        .is_none_or(|id| id[0] & 0x7f == 0 && id[1..] == [0, 0, 0]);
    settings_type && stream_zero
}

/// What a connection knows of cleartext HTTP/2.
#[derive(Debug, Default, Clone)]
pub(super) enum Http2State {
    /// No payload yet.
    #[default]
    Unknown,
    /// Its first payload was something else: never looked at again.
    NotHttp2,
    /// Being read (HTTP/2 once the client's preface is whole).
    Reading(Box<Http2Reader>),
}

impl Http2State {
    /// The frames, once the connection showed the client preface.
    pub(super) fn frames(&self) -> Option<&Http2Frames> {
        match self {
            Http2State::Reading(reader) if reader.confirmed() => Some(reader.frames()),
            _ => None,
        }
    }

    /// Adds a segment `side` sent, with its captured payload; `stream_start` is where that
    /// side's bytes begin (its ISN + 1) when its SYN was seen, and `peer_start` the other's.
    /// Returns the requests this segment's bytes opened.
    pub(super) fn push(
        &mut self,
        side: Side,
        seg: &Segment,
        payload: &[u8],
        stream_start: Option<SeqNumber>,
        peer_start: Option<SeqNumber>,
    ) -> u64 {
        if let Http2State::Unknown = self {
            if seg.payload_len == 0 {
                return 0;
            }
            let data_seq = SeqNumber(seg.seq) + u32::from(seg.flags.syn);
            let at_start = stream_start.is_none_or(|start| start == data_seq);
            let looks_right = match side {
                Side::Client => starts_like_preface(payload),
                Side::Server => starts_like_settings(payload) && !payload.is_empty(),
            };
            if at_start && !looks_right {
                *self = Http2State::NotHttp2;
                return 0;
            }
            // Out of order at the start: the reader decides once the first bytes are in.
            let (client, server) = match side {
                Side::Client => (stream_start, peer_start),
                Side::Server => (peer_start, stream_start),
            };
            *self = Http2State::Reading(Box::new(Http2Reader::new(client, server)));
        }
        let Http2State::Reading(reader) = self else {
            return 0;
        };
        match reader.push(side, seg, payload) {
            Progress::Reading { requests } => requests,
            Progress::NotHttp2 => {
                *self = Http2State::NotHttp2;
                0
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
