//! Capture layer: one saved capture split into several by time, so a session that interleaves
//! the modes round by round still leaves one .pcap per mode. Touches `pcap`, like `source`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use pcap::{Capture, Precision};

use super::CaptureError;
use super::decode::{Decoded, Decoder, LinkType};
use super::segment::FlowKey;
use super::writer::{Format, PcapWriter};
use crate::timeline::Ts;

/// Where the frames from `start` on go (until the next window starts): `outputs[output]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The first instant of the window.
    pub start: Ts,
    /// Index into the outputs.
    pub output: usize,
}

/// Copies each frame of `source` into the output of the last window that started at or before
/// it; frames before the first window are left out. A TCP connection stays whole: every frame of
/// it goes where its first frame went, so a FIN or an ACK resent after the next window started
/// (after a loss) stays with the run that opened the connection; a new SYN on the same ports
/// starts a new connection. Windows must be in time order; `formats` gives each output's file
/// format (as many as `outputs`). Each output is written as
/// `<name>.part` and renamed when complete, so none is ever seen half-written; on an error every
/// part is removed. Returns the frames written to each output.
pub fn split_by_time(
    source: &Path,
    windows: &[Window],
    outputs: &[PathBuf],
    formats: &[Format],
) -> Result<Vec<u64>, CaptureError> {
    let parts: Vec<PathBuf> = outputs
        .iter()
        .map(|p| super::source::part_path(p))
        .collect();
    let result = write_parts(source, windows, &parts, formats);
    if result.is_err() {
        for part in &parts {
            crate::created::discard(part);
        }
        return result;
    }
    for (part, path) in parts.iter().zip(outputs) {
        crate::created::complete(part, path).map_err(|e| CaptureError::Save {
            path: path.clone(),
            detail: e.to_string(),
        })?;
    }
    result
}

fn write_parts(
    source: &Path,
    windows: &[Window],
    parts: &[PathBuf],
    formats: &[Format],
) -> Result<Vec<u64>, CaptureError> {
    let read_error = |e: pcap::Error| CaptureError::File {
        path: source.to_owned(),
        detail: super::source::libpcap_words(source, &e),
    };
    let mut capture =
        Capture::from_file_with_precision(source, Precision::Nano).map_err(read_error)?;
    let mut files = Vec::with_capacity(parts.len());
    let linktype = capture.get_datalink().0;
    // The source's own snap length is not exposed; frames are never longer than this.
    let snaplen = 262_144;
    for (part, format) in parts.iter().zip(formats) {
        files.push(PcapWriter::create_as(part, format, linktype, snaplen)?);
    }
    let mut written = vec![0u64; parts.len()];
    let mut decoder = LinkType::from_dlt(linktype).ok().map(Decoder::new);
    // Each connection's output, from its first frame (None: before the first window), and the
    // sequence number of the SYN that opened it.
    let mut owners: HashMap<FlowKey, (Option<usize>, Option<u32>)> = HashMap::new();
    loop {
        let packet = match capture.next_packet() {
            Ok(packet) => packet,
            Err(pcap::Error::NoMorePackets) => break,
            Err(e) => return Err(read_error(e)),
        };
        let ts = super::source::header_ts(packet.header);
        let window = windows.partition_point(|w| w.start <= ts);
        let by_time = window.checked_sub(1).map(|w| windows[w].output);
        let decoded = decoder
            .as_mut()
            .map(|d| d.decode(ts, packet.data, packet.header.len));
        let owner = match decoded {
            Some(Decoded::Tcp(seg)) => {
                // A SYN opens a new connection on these ports, unless it resends the one that
                // opened the connection already there.
                let syn = (seg.flags.syn && !seg.flags.ack).then_some(seg.seq);
                match owners.get(&seg.key) {
                    Some(&(owner, opened)) if syn.is_none() || syn == opened => owner,
                    _ => {
                        owners.insert(seg.key, (by_time, syn));
                        by_time
                    }
                }
            }
            _ => by_time,
        };
        let Some(output) = owner else {
            continue;
        };
        if let Some(file) = files.get_mut(output) {
            file.write(packet.header, packet.data)?;
            written[output] += 1;
        }
    }
    for file in files {
        file.finish()?;
    }
    Ok(written)
}
