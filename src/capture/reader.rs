//! Reads a whole capture file through the decoder and the tracker.

use std::path::Path;

use super::CaptureError;
use super::decode::{Decoded, decode};
use super::source::Source;
use super::track::{Connection, Tracker};

/// Everything synack learns from one capture.
#[derive(Debug)]
pub struct TrackedCapture {
    /// Every frame in the file (TCP or not).
    pub frames: u64,
    /// IP fragments (counted, not decoded as TCP).
    pub fragments: u64,
    /// Frames that were not TCP.
    pub not_tcp: u64,
    /// Frames too short for the headers they announce.
    pub truncated: u64,
    /// The TCP connections, in stream order.
    pub connections: Vec<Connection>,
    /// Set when the file ends inside a packet record: what was read before it is analysed.
    pub cut_off: Option<CaptureError>,
}

/// Decodes and tracks every frame of `path` (`-` for stdin), optionally through a BPF filter.
pub fn track_file(path: &Path, filter: Option<&str>) -> Result<TrackedCapture, CaptureError> {
    let mut source = Source::open_file(path, filter)?;
    let link = source.link_type()?;
    let mut tracker = Tracker::new();
    let (mut frames, mut fragments, mut not_tcp, mut truncated) = (0, 0, 0, 0);
    let mut cut_off = None;
    loop {
        let frame = match source.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(e @ CaptureError::Truncated { .. }) if frames > 0 => {
                cut_off = Some(e);
                break;
            }
            Err(e) => return Err(e),
        };
        frames += 1;
        match decode(link, frame.ts, frame.data, frame.wire_len) {
            Decoded::Tcp(seg) => tracker.push(&seg),
            Decoded::Fragment => fragments += 1,
            Decoded::NotTcp => not_tcp += 1,
            Decoded::Truncated => truncated += 1,
        }
    }
    Ok(TrackedCapture {
        frames,
        fragments,
        not_tcp,
        truncated,
        connections: tracker.finish(),
        cut_off,
    })
}
