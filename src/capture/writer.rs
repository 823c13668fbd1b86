//! Capture layer: a capture file written by synack itself, so every failed write (a full disk) is
//! an error at once; libpcap's dumper drops them silently. Two formats: pcapng (the default), whose
//! section header carries a comment saying which run made the file, and classic pcap for old tools.
//! Both keep nanosecond timestamps.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use pcap_file::DataLink;
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::blocks::section_header::{SectionHeaderBlock, SectionHeaderOption};

use super::CaptureError;

/// Magic number of a classic pcap file whose timestamps are in nanoseconds.
const NANOSECOND_MAGIC: u32 = 0xa1b2_3c4d;

/// The longest comment a pcapng option holds (its length is 16 bits, padding included).
const MAX_COMMENT: usize = 65_532;

/// The file format a capture is saved in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// pcapng with this comment in its section header (Wireshark: Statistics → Capture File
    /// Properties; `capinfos -k`).
    PcapNg { comment: String },
    /// Classic pcap, nanosecond timestamps, no room for a comment.
    Pcap,
}

impl Format {
    /// The file name extension of the format.
    pub fn extension(&self) -> &'static str {
        match self {
            Format::PcapNg { .. } => "pcapng",
            Format::Pcap => "pcap",
        }
    }
}

enum Output {
    Pcap(BufWriter<File>),
    PcapNg(PcapNgWriter<BufWriter<File>>),
}

/// A capture file being written; created exclusively and counted as half-written (see
/// `crate::created`) until [`PcapWriter::finish`].
pub struct PcapWriter {
    output: Output,
    path: PathBuf,
}

impl PcapWriter {
    /// Creates `path` as classic pcap with the file header for `linktype` (a DLT number) and
    /// `snaplen`.
    pub fn create(path: &Path, linktype: i32, snaplen: u32) -> Result<PcapWriter, CaptureError> {
        PcapWriter::create_as(path, &Format::Pcap, linktype, snaplen)
    }

    /// Creates `path` in `format` for `linktype` (a DLT number) and `snaplen`.
    pub fn create_as(
        path: &Path,
        format: &Format,
        linktype: i32,
        snaplen: u32,
    ) -> Result<PcapWriter, CaptureError> {
        let file = crate::created::create_partial(path).map_err(|e| save_error(path, &e))?;
        let file = BufWriter::with_capacity(1 << 16, file);
        let output = match format {
            Format::Pcap => {
                let mut file = file;
                let mut header = Vec::with_capacity(24);
                header.extend_from_slice(&NANOSECOND_MAGIC.to_ne_bytes());
                header.extend_from_slice(&2u16.to_ne_bytes());
                header.extend_from_slice(&4u16.to_ne_bytes());
                header.extend_from_slice(&[0; 8]);
                header.extend_from_slice(&snaplen.to_ne_bytes());
                header.extend_from_slice(&linktype.to_ne_bytes());
                file.write_all(&header).map_err(|e| save_error(path, &e))?;
                Output::Pcap(file)
            }
            Format::PcapNg { comment } => {
                pcapng_output(file, comment, linktype, snaplen).map_err(|e| ng_error(path, &e))?
            }
        };
        Ok(PcapWriter {
            output,
            path: path.to_owned(),
        })
    }

    /// Appends one frame; `header` comes from a capture opened at nanosecond precision.
    pub fn write(&mut self, header: &pcap::PacketHeader, data: &[u8]) -> Result<(), CaptureError> {
        match &mut self.output {
            Output::Pcap(file) => {
                let mut record = [0u8; 16];
                // pcap records hold 32-bit seconds; frames from before 1970 or after 2106 wrap.
                record[0..4].copy_from_slice(&(header.ts.tv_sec as u32).to_ne_bytes());
                record[4..8].copy_from_slice(&(header.ts.tv_usec as u32).to_ne_bytes());
                record[8..12].copy_from_slice(&header.caplen.to_ne_bytes());
                record[12..16].copy_from_slice(&header.len.to_ne_bytes());
                file.write_all(&record)
                    .and_then(|()| file.write_all(data))
                    .map_err(|e| save_error(&self.path, &e))
            }
            Output::PcapNg(writer) => {
                // A capture opened at nanosecond precision carries nanoseconds in tv_usec.
                let since_epoch = Duration::new(
                    u64::try_from(header.ts.tv_sec).unwrap_or(0),
                    u32::try_from(header.ts.tv_usec).unwrap_or(0),
                );
                let packet = EnhancedPacketBlock {
                    interface_id: 0,
                    timestamp: since_epoch,
                    original_len: header.len,
                    data: Cow::Borrowed(data),
                    options: Vec::new(),
                };
                writer
                    .write_pcapng_block(packet)
                    .map(drop)
                    .map_err(|e| ng_error(&self.path, &e))
            }
        }
    }

    /// Writes what is buffered and closes the file, which stays where it is (the caller renames
    /// it into place).
    pub fn finish(self) -> Result<(), CaptureError> {
        let mut file = match self.output {
            Output::Pcap(file) => file,
            Output::PcapNg(writer) => writer.into_inner(),
        };
        file.flush().map_err(|e| save_error(&self.path, &e))?;
        file.get_ref()
            .sync_data()
            .map_err(|e| save_error(&self.path, &e))
    }
}

/// The section header (with `comment` and synack as its application) and the one interface.
fn pcapng_output(
    file: BufWriter<File>,
    comment: &str,
    linktype: i32,
    snaplen: u32,
) -> Result<Output, pcap_file::PcapError> {
    let mut options = vec![SectionHeaderOption::UserApplication(Cow::Owned(format!(
        "synack {}",
        env!("CARGO_PKG_VERSION")
    )))];
    if !comment.is_empty() {
        options.push(SectionHeaderOption::Comment(Cow::Owned(
            cut(comment).to_owned(),
        )));
    }
    let section = SectionHeaderBlock {
        options,
        ..SectionHeaderBlock::default()
    };
    let mut writer = PcapNgWriter::with_section_header(file, section)?;
    let interface = InterfaceDescriptionBlock {
        linktype: DataLink::from(linktype as u32),
        snaplen,
        // Timestamps in nanoseconds (10^-9), as the frames were captured.
        options: vec![InterfaceDescriptionOption::IfTsResol(9)],
    };
    writer.write_pcapng_block(interface)?;
    Ok(Output::PcapNg(writer))
}

/// `comment` cut at a character boundary to what one option holds.
fn cut(comment: &str) -> &str {
    if comment.len() <= MAX_COMMENT {
        return comment;
    }
    let mut end = MAX_COMMENT;
    while !comment.is_char_boundary(end) {
        end -= 1;
    }
    &comment[..end]
}

/// The section comment of a pcapng file, if `path` is one and has a comment; `None` for classic
/// pcap, a file without a comment or one that cannot be read (reading frames reports that).
pub fn section_comment(path: &Path) -> Option<String> {
    let mut file = File::open(path).ok()?;
    let mut magic = [0u8; 4];
    std::io::Read::read_exact(&mut file, &mut magic).ok()?;
    if magic != [0x0a, 0x0d, 0x0d, 0x0a] {
        return None;
    }
    let file = File::open(path).ok()?;
    let reader = pcap_file::pcapng::PcapNgReader::new(std::io::BufReader::new(file)).ok()?;
    let comments: Vec<&str> = reader
        .section()
        .options
        .iter()
        .filter_map(|o| match o {
            SectionHeaderOption::Comment(c) => Some(c.as_ref()),
            _ => None,
        })
        .collect();
    (!comments.is_empty()).then(|| comments.join("\n"))
}

fn save_error(path: &Path, error: &std::io::Error) -> CaptureError {
    CaptureError::Save {
        path: path.to_owned(),
        detail: error.to_string(),
    }
}

fn ng_error(path: &Path, error: &pcap_file::PcapError) -> CaptureError {
    match error {
        pcap_file::PcapError::IoError(e) => save_error(path, e),
        other => CaptureError::Save {
            path: path.to_owned(),
            detail: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 60-byte frame cut to 3 bytes, at a time with nanoseconds.
    fn one_frame() -> pcap::PacketHeader {
        pcap::PacketHeader {
            ts: libc::timeval {
                tv_sec: 1_700_000_000,
                tv_usec: 123_456_789,
            },
            caplen: 3,
            len: 60,
        }
    }

    #[test]
    fn a_written_file_reads_back_through_libpcap_in_either_format() {
        let dir = tempfile::tempdir().expect("tempdir");
        let comment = "synack compare\nmode persistent";
        let formats = [
            Format::Pcap,
            Format::PcapNg {
                comment: comment.into(),
            },
        ];
        for format in formats {
            let path = dir.path().join(format!("x.{}", format.extension()));
            let mut writer = PcapWriter::create_as(&path, &format, 1, 512).expect("create");
            writer.write(&one_frame(), b"abc").expect("write");
            writer.finish().expect("finish");
            let mut capture = pcap::Capture::from_file_with_precision(&path, pcap::Precision::Nano)
                .expect("open");
            let packet = capture.next_packet().expect("one frame");
            assert_eq!(packet.data, b"abc", "{format:?}");
            assert_eq!(packet.header.len, 60, "{format:?}");
            assert_eq!(packet.header.ts.tv_sec, 1_700_000_000, "{format:?}");
            assert_eq!(packet.header.ts.tv_usec, 123_456_789, "{format:?}");
            let expected = matches!(format, Format::PcapNg { .. }).then_some(comment);
            assert_eq!(section_comment(&path).as_deref(), expected);
            crate::created::discard(&path);
        }
    }

    #[test]
    fn a_long_comment_is_cut_at_a_character_boundary() {
        let long = "é".repeat(MAX_COMMENT);
        let cut = cut(&long);
        assert!(cut.len() <= MAX_COMMENT);
        assert!(cut.chars().all(|c| c == 'é'));
    }
}
