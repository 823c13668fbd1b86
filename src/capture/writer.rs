//! Capture layer: a classic pcap file (nanosecond timestamps) written by synack itself, so every
//! failed write (a full disk) is an error at once; libpcap's dumper drops them silently.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::CaptureError;

/// Magic number of a classic pcap file whose timestamps are in nanoseconds.
const NANOSECOND_MAGIC: u32 = 0xa1b2_3c4d;

/// A pcap file being written; created exclusively and counted as half-written (see
/// `crate::created`) until [`PcapWriter::finish`].
pub struct PcapWriter {
    file: BufWriter<File>,
    path: PathBuf,
}

impl PcapWriter {
    /// Creates `path` with the file header for `linktype` (a DLT number) and `snaplen`.
    pub fn create(path: &Path, linktype: i32, snaplen: u32) -> Result<PcapWriter, CaptureError> {
        let file = crate::created::create_partial(path).map_err(|e| save_error(path, &e))?;
        let mut writer = PcapWriter {
            file: BufWriter::with_capacity(1 << 16, file),
            path: path.to_owned(),
        };
        let mut header = Vec::with_capacity(24);
        header.extend_from_slice(&NANOSECOND_MAGIC.to_ne_bytes());
        header.extend_from_slice(&2u16.to_ne_bytes());
        header.extend_from_slice(&4u16.to_ne_bytes());
        header.extend_from_slice(&[0; 8]);
        header.extend_from_slice(&snaplen.to_ne_bytes());
        header.extend_from_slice(&linktype.to_ne_bytes());
        writer.put(&header)?;
        Ok(writer)
    }

    /// Appends one frame; `header` comes from a capture opened at nanosecond precision.
    pub fn write(&mut self, header: &pcap::PacketHeader, data: &[u8]) -> Result<(), CaptureError> {
        let mut record = [0u8; 16];
        // pcap records hold 32-bit seconds; frames from before 1970 or after 2106 wrap.
        record[0..4].copy_from_slice(&(header.ts.tv_sec as u32).to_ne_bytes());
        record[4..8].copy_from_slice(&(header.ts.tv_usec as u32).to_ne_bytes());
        record[8..12].copy_from_slice(&header.caplen.to_ne_bytes());
        record[12..16].copy_from_slice(&header.len.to_ne_bytes());
        self.put(&record)?;
        self.put(data)
    }

    /// Writes what is buffered and closes the file, which stays where it is (the caller renames
    /// it into place).
    pub fn finish(mut self) -> Result<(), CaptureError> {
        self.file.flush().map_err(|e| save_error(&self.path, &e))?;
        self.file
            .get_ref()
            .sync_data()
            .map_err(|e| save_error(&self.path, &e))
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), CaptureError> {
        self.file
            .write_all(bytes)
            .map_err(|e| save_error(&self.path, &e))
    }
}

fn save_error(path: &Path, error: &std::io::Error) -> CaptureError {
    CaptureError::Save {
        path: path.to_owned(),
        detail: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_file_reads_back_through_libpcap() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.pcap");
        let mut writer = PcapWriter::create(&path, 1, 512).expect("create");
        let header = pcap::PacketHeader {
            ts: libc::timeval {
                tv_sec: 1_700_000_000,
                tv_usec: 123_456_789,
            },
            caplen: 3,
            len: 60,
        };
        writer.write(&header, b"abc").expect("write");
        writer.finish().expect("finish");
        let mut capture =
            pcap::Capture::from_file_with_precision(&path, pcap::Precision::Nano).expect("open");
        let packet = capture.next_packet().expect("one frame");
        assert_eq!(packet.data, b"abc");
        assert_eq!(packet.header.len, 60);
        assert_eq!(packet.header.ts.tv_usec, 123_456_789);
        crate::created::discard(&path);
    }
}
