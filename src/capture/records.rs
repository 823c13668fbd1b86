//! Capture layer: the records of a classic pcap file, read from the file in large blocks with
//! libpcap's own checks and words (`pcap_next_packet` in libpcap 1.10's sf-pcap.c).
//!
//! libpcap reads each record with two `fread` calls through a 4 KiB stdio buffer: on a capture of
//! short connections that costs as much as tracking the packets. libpcap still opens every file
//! (its checks and errors on the header stay its own) and reads what this reader leaves to it:
//! pcapng, standard input, filtered reads and the old pcap variants. Imports neither `pcap` nor
//! `etherparse`.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::timeline::Ts;

/// The size of a pcap file header.
const FILE_HEADER: usize = 24;

/// The size of a record header.
const RECORD_HEADER: usize = 16;

/// libpcap's largest sane record for the link types synack decodes (`MAXIMUM_SNAPLEN`).
const MAX_CAPLEN: u32 = 262_144;

/// Bytes read from the file at a time: a whole record at the largest snapshot length, and small
/// enough to stay in the cache beside the tracker's maps while its records are decoded.
const BLOCK: usize = 1 << 18;

/// A classic pcap file's magic numbers, as written by the machine that wrote it.
const MICROSECOND_MAGIC: u32 = 0xa1b2_c3d4;
const NANOSECOND_MAGIC: u32 = 0xa1b2_3c4d;

/// One record: when, the bytes the file holds, and the frame's length on the wire.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// The record's timestamp.
    pub ts: Ts,
    /// The captured bytes (at most the file's snapshot length).
    pub data: &'a [u8],
    /// The frame's length on the wire.
    pub wire_len: u32,
}

/// Why a record could not be read, in libpcap's words.
#[derive(Debug)]
pub enum RecordError {
    /// The file ends inside a record.
    Truncated(String),
    /// A record's header is impossible, or reading failed.
    Damaged(String),
}

/// The records of a classic pcap file, after its header.
pub struct PcapRecords {
    file: File,
    buf: Vec<u8>,
    /// The unread bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// The file was written in the other byte order.
    swapped: bool,
    /// Timestamps hold nanoseconds, not microseconds.
    nanos: bool,
    /// libpcap's snapshot length for the file.
    snapshot: u32,
}

impl PcapRecords {
    /// The records of `path` when it is a regular file in the pcap format of version 2.4 with
    /// microsecond or nanosecond timestamps; None for anything else (libpcap reads it), or when
    /// it cannot be opened or read here (libpcap says why).
    pub fn open(path: &Path) -> Option<PcapRecords> {
        let mut file = File::open(path).ok()?;
        if !file.metadata().ok()?.is_file() {
            return None;
        }
        let mut header = [0u8; FILE_HEADER];
        file.read_exact(&mut header).ok()?;
        let word = |at: usize| [header[at], header[at + 1], header[at + 2], header[at + 3]];
        let (swapped, nanos) = match u32::from_ne_bytes(word(0)) {
            MICROSECOND_MAGIC => (false, false),
            NANOSECOND_MAGIC => (false, true),
            m if m.swap_bytes() == MICROSECOND_MAGIC => (true, false),
            m if m.swap_bytes() == NANOSECOND_MAGIC => (true, true),
            _ => return None,
        };
        let u16_at = |at: usize| {
            let v = u16::from_ne_bytes([header[at], header[at + 1]]);
            if swapped { v.swap_bytes() } else { v }
        };
        let u32_at = |at: usize| {
            let v = u32::from_ne_bytes(word(at));
            if swapped { v.swap_bytes() } else { v }
        };
        // Versions before 2.4 may have the two lengths swapped: libpcap's to sort out.
        if (u16_at(4), u16_at(6)) != (2, 4) {
            return None;
        }
        // pcap_adjust_snapshot: a bogus snapshot length means the link type's maximum.
        let snapshot = match u32_at(16) {
            0 => MAX_CAPLEN,
            s if s > i32::MAX as u32 => MAX_CAPLEN,
            s => s,
        };
        Some(PcapRecords {
            file,
            buf: vec![0; BLOCK],
            start: 0,
            end: 0,
            swapped,
            nanos,
            snapshot,
        })
    }

    /// The next record, None at the end of the file.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, RecordError> {
        let have = self.fill(RECORD_HEADER)?;
        if have == 0 {
            return Ok(None);
        }
        if have < RECORD_HEADER {
            return Err(RecordError::Truncated(format!(
                "truncated dump file; tried to read {RECORD_HEADER} header bytes, only got {have}"
            )));
        }
        let h = &self.buf[self.start..self.start + RECORD_HEADER];
        let field = |at: usize| {
            let v = u32::from_ne_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
            if self.swapped { v.swap_bytes() } else { v }
        };
        // libpcap reads the time fields as signed 32-bit numbers, and its byte swap makes them
        // unsigned: a file in the other byte order has no times before 1970.
        let time = |at: usize| {
            if self.swapped {
                i64::from(field(at))
            } else {
                i64::from(field(at) as i32)
            }
        };
        let (secs, fraction) = (time(0), time(4));
        let ts = Ts::from_parts(
            secs,
            if self.nanos {
                fraction
            } else {
                fraction * 1000
            },
        );
        let caplen = field(8);
        let wire_len = field(12);
        self.start += RECORD_HEADER;
        if caplen > MAX_CAPLEN {
            return Err(RecordError::Damaged(if caplen > self.snapshot {
                format!(
                    "invalid packet capture length {caplen}, bigger than snaplen of {}",
                    self.snapshot
                )
            } else {
                format!(
                    "invalid packet capture length {caplen}, bigger than maximum of {MAX_CAPLEN}"
                )
            }));
        }
        // A record longer than the snapshot length is cut to it (libpcap reads the rest and
        // drops it).
        let kept = caplen.min(self.snapshot) as usize;
        let have = self.fill(caplen as usize)?;
        if have < kept {
            return Err(RecordError::Truncated(format!(
                "truncated dump file; tried to read {kept} captured bytes, only got {have}"
            )));
        }
        if have < caplen as usize {
            return Err(RecordError::Truncated(format!(
                "truncated dump file; tried to read {caplen} captured bytes, only got {have}"
            )));
        }
        let data = &self.buf[self.start..self.start + kept];
        self.start += caplen as usize;
        Ok(Some(Record { ts, data, wire_len }))
    }

    /// Makes at least `want` unread bytes ready, or all that are left in the file; returns how
    /// many are ready.
    fn fill(&mut self, want: usize) -> Result<usize, RecordError> {
        if self.end - self.start >= want {
            return Ok(self.end - self.start);
        }
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        }
        while self.end < want {
            match self.file.read(&mut self.buf[self.end..]) {
                Ok(0) => break,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(RecordError::Damaged(format!(
                        "error reading dump file: {}",
                        os_words(&e)
                    )));
                }
            }
        }
        Ok(self.end)
    }
}

/// The system's words for an error, as libpcap gives them (strerror, without Rust's "(os error
/// N)").
fn os_words(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.rfind(" (os error ") {
        Some(cut) => text[..cut].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pcap file of version 2.4 with `magic`, snapshot length `snaplen` and these records
    /// (seconds, fraction, caplen, wire length, bytes), in this machine's byte order or the other.
    fn file(
        magic: u32,
        snaplen: u32,
        swap: bool,
        records: &[(u32, u32, u32, u32, &[u8])],
    ) -> Vec<u8> {
        let w32 = |v: u32| if swap { v.swap_bytes() } else { v }.to_ne_bytes();
        let w16 = |v: u16| if swap { v.swap_bytes() } else { v }.to_ne_bytes();
        let mut out = Vec::new();
        out.extend(w32(magic));
        out.extend(w16(2));
        out.extend(w16(4));
        out.extend([0; 8]);
        out.extend(w32(snaplen));
        out.extend(w32(1));
        for &(s, f, cap, len, bytes) in records {
            for v in [s, f, cap, len] {
                out.extend(w32(v));
            }
            out.extend_from_slice(bytes);
        }
        out
    }

    /// A record as read: its time, bytes and wire length.
    type Read = (Ts, Vec<u8>, u32);

    fn read_all(bytes: &[u8]) -> (Vec<Read>, Option<RecordError>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.pcap");
        std::fs::write(&path, bytes).unwrap();
        let mut records = PcapRecords::open(&path).expect("a classic pcap file");
        let mut out = Vec::new();
        loop {
            match records.next_record() {
                Ok(Some(r)) => out.push((r.ts, r.data.to_vec(), r.wire_len)),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    #[test]
    fn records_are_read_in_either_byte_order_and_precision() {
        for swap in [false, true] {
            let micro = file(MICROSECOND_MAGIC, 65535, swap, &[(7, 5, 3, 60, b"abc")]);
            let (records, end) = read_all(&micro);
            assert!(end.is_none());
            assert_eq!(records, [(Ts(7_000_005_000), b"abc".to_vec(), 60)]);
            let nano = file(
                NANOSECOND_MAGIC,
                65535,
                swap,
                &[(7, 5, 1, 1, b"z"), (8, 0, 0, 9, b"")],
            );
            let (records, _) = read_all(&nano);
            assert_eq!(records[0].0, Ts(7_000_000_005));
            assert_eq!(records[1], (Ts(8_000_000_000), Vec::new(), 9));
        }
    }

    #[test]
    fn records_across_blocks_are_read_whole() {
        // Short records that straddle block boundaries, and long ones (some nearly a block
        // long), at offsets that move from block to block.
        let bytes: Vec<Vec<u8>> = (0..40u32)
            .map(|i| {
                let len = match i % 4 {
                    0 => 70_000 + i as usize * 97,
                    1 => BLOCK * 3 / 4 + i as usize,
                    _ => 60 + i as usize,
                };
                (0..len).map(|b| (b as u32 * 7 + i) as u8).collect()
            })
            .collect();
        let records: Vec<(u32, u32, u32, u32, &[u8])> = bytes
            .iter()
            .enumerate()
            .map(|(i, b)| (i as u32, 0, b.len() as u32, b.len() as u32, &b[..]))
            .collect();
        let (read, end) = read_all(&file(MICROSECOND_MAGIC, 0, false, &records));
        assert!(end.is_none());
        assert_eq!(read.len(), bytes.len());
        for (i, (r, b)) in read.iter().zip(&bytes).enumerate() {
            assert_eq!(r.0, Ts(i as i64 * 1_000_000_000));
            assert!(r.1 == *b, "record {i}");
        }
    }

    #[test]
    fn a_record_longer_than_the_snapshot_length_is_cut_to_it() {
        let (records, end) = read_all(&file(NANOSECOND_MAGIC, 2, false, &[(1, 0, 4, 4, b"abcd")]));
        assert!(end.is_none());
        assert_eq!(records[0].1, b"ab");
    }

    /// How reading `bytes` ends: "truncated: …" or "damaged: …" and libpcap's words.
    fn ending(bytes: &[u8]) -> String {
        match read_all(bytes).1 {
            Some(RecordError::Truncated(words)) => format!("truncated: {words}"),
            Some(RecordError::Damaged(words)) => format!("damaged: {words}"),
            None => "the end of the file".into(),
        }
    }

    #[test]
    fn a_file_cut_inside_a_record_says_so_in_libpcaps_words() {
        let whole = file(NANOSECOND_MAGIC, 65535, false, &[(1, 0, 4, 4, b"abcd")]);
        assert_eq!(
            ending(&whole[..whole.len() - 1]),
            "truncated: truncated dump file; tried to read 4 captured bytes, only got 3"
        );
        assert_eq!(
            ending(&whole[..FILE_HEADER + 10]),
            "truncated: truncated dump file; tried to read 16 header bytes, only got 10"
        );
    }

    #[test]
    fn an_impossible_length_is_damage() {
        let record = (1, 0, 300_000, 4, &b""[..]);
        assert_eq!(
            ending(&file(NANOSECOND_MAGIC, 65535, false, &[record])),
            "damaged: invalid packet capture length 300000, bigger than snaplen of 65535"
        );
    }

    #[test]
    fn other_formats_are_left_to_libpcap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        let mut old = file(NANOSECOND_MAGIC, 65535, false, &[]);
        old[6] = 3; // version 2.3
        std::fs::write(&path, &old).unwrap();
        assert!(PcapRecords::open(&path).is_none());
        std::fs::write(&path, [0x0a, 0x0d, 0x0d, 0x0a]).unwrap();
        assert!(PcapRecords::open(&path).is_none());
    }
}
