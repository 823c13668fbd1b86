//! Reads a whole capture through the decoder and the tracker, handing out connections as they
//! close so that memory follows the connections open at once, not the packets in the file.

use std::path::Path;
use std::sync::Arc;

use super::frames::each_frame;
use super::keylog::KeyLog;
use super::quic::{QuicCapture, QuicTracker};
use super::{Connection, Tracker};
use crate::capture::CaptureError;
use crate::capture::decode::{Decoded, Decoder};
use crate::capture::source::Source;

/// What the frames of a capture were, besides TCP connections.
#[derive(Debug, Default)]
pub struct FrameCounts {
    /// Every frame in the file (TCP or not).
    pub frames: u64,
    /// IP fragments that did not complete a TCP segment (the one that does counts as TCP).
    pub fragments: u64,
    /// Frames that were not TCP (QUIC's among them).
    pub not_tcp: u64,
    /// Of those, the UDP datagrams read as QUIC.
    pub quic: u64,
    /// Frames too short for the headers they announce (unreadable).
    pub truncated: u64,
    /// Frames the capture holds fewer bytes of than were on the wire (the snap length cut them;
    /// tshark's `frame.cap_len < frame.len`), readable or not.
    pub cut: u64,
    /// Set when the file ends inside a packet record, or a record is damaged, after good ones:
    /// what was read before it is analysed.
    pub cut_off: Option<CaptureError>,
}

/// What a capture read gives besides the TCP connections handed out as they close.
#[derive(Debug)]
pub struct CaptureRead {
    /// Frame counts.
    pub counts: FrameCounts,
    /// QUIC over UDP: its connections, by number, and datagrams of none.
    pub quic: QuicCapture,
}

/// Everything synack learns from one capture, all connections kept.
#[derive(Debug)]
pub struct TrackedCapture {
    /// Frame counts.
    pub counts: FrameCounts,
    /// The TCP connections, in stream order.
    pub connections: Vec<Connection>,
    /// QUIC over UDP: its connections by number (Wireshark's `quic.connection.number`), each a
    /// `QuicConnection` summary.
    pub quic: QuicCapture,
}

/// How many frames pass between hand-outs of closed connections.
const DRAIN_EVERY: u64 = 1024;

/// An opened capture, ready to be read: opening first lets a command fail before it writes any
/// output.
pub struct CaptureReader {
    source: Source,
    decoder: Decoder,
    keylog: Option<Arc<KeyLog>>,
}

impl CaptureReader {
    /// Opens `path` (`-` for stdin), optionally through a BPF filter.
    pub fn open(path: &Path, filter: Option<&str>) -> Result<CaptureReader, CaptureError> {
        let source = Source::open_file(path, filter)?;
        let decoder = Decoder::new(source.link_type()?);
        Ok(CaptureReader {
            source,
            decoder,
            keylog: None,
        })
    }

    /// Decrypts TLS connections with the secrets of `keylog`.
    pub fn with_keylog(self, keylog: Arc<KeyLog>) -> CaptureReader {
        CaptureReader {
            keylog: Some(keylog),
            ..self
        }
    }

    /// Decodes and tracks every frame, calling `sink` with each TCP connection once it has
    /// closed (or at the end of the file); QUIC connections come at the end.
    pub fn read(mut self, mut sink: impl FnMut(&Connection)) -> Result<CaptureRead, CaptureError> {
        let mut tracker = match &self.keylog {
            Some(keylog) => Tracker::with_keylog(Arc::clone(keylog)),
            None => Tracker::new(),
        };
        let mut quic = match &self.keylog {
            Some(keylog) => QuicTracker::with_keylog(Arc::clone(keylog)),
            None => QuicTracker::new(),
        };
        let mut counts = FrameCounts::default();
        // A file cut off or damaged after some good packets: what came before it is analysed,
        // and the caller says where it stopped.
        let after_some = |_: &CaptureError, frames: u64| frames > 0;
        counts.cut_off = each_frame(
            &mut self.source,
            &mut self.decoder,
            after_some,
            |frame, decoded| {
                counts.frames += 1;
                counts.cut += u64::from((frame.data.len() as u64) < u64::from(frame.wire_len));
                match decoded.decoded {
                    Decoded::Tcp(seg) => tracker.push_with_payload(&seg, decoded.payload),
                    Decoded::Udp(datagram) => {
                        counts.not_tcp += 1;
                        counts.quic += u64::from(quic.push(&datagram, decoded.payload));
                    }
                    Decoded::Fragment => counts.fragments += 1,
                    Decoded::NotTcp => counts.not_tcp += 1,
                    Decoded::Truncated => counts.truncated += 1,
                }
                if counts.frames.is_multiple_of(DRAIN_EVERY) {
                    tracker.drain_closed(&mut sink);
                }
            },
        )?;
        tracker.finish_into(sink);
        Ok(CaptureRead {
            counts,
            quic: quic.finish(),
        })
    }
}

/// Opens and reads `path`, calling `sink` with each TCP connection once it has closed.
pub fn read_connections(
    path: &Path,
    filter: Option<&str>,
    sink: impl FnMut(&Connection),
) -> Result<CaptureRead, CaptureError> {
    CaptureReader::open(path, filter)?.read(sink)
}

/// Decodes and tracks every frame of `path`, keeping every connection (for small captures).
pub fn track_file(path: &Path, filter: Option<&str>) -> Result<TrackedCapture, CaptureError> {
    let mut connections = Vec::new();
    let read = read_connections(path, filter, |c| connections.push(c.clone()))?;
    connections.sort_by_key(|c| c.stream);
    Ok(TrackedCapture {
        counts: read.counts,
        connections,
        quic: read.quic,
    })
}
