//! Track layer: HTTP/2 frames as RFC 9113 §4.1 lays them on the wire — a 9-byte header (24-bit
//! length, type, flags, 31-bit stream id) and a payload — and the framing rules a frame breaks
//! when it is malformed (§6: which frames belong to stream 0, which have a fixed length).
//!
//! Works on bytes alone; must not import capture, analysis or report code.

/// The bytes of a frame header.
pub(super) const HEADER_LEN: usize = 9;

/// The largest frame payload a peer may send before the receiver's SETTINGS raise it
/// (SETTINGS_MAX_FRAME_SIZE's initial value, RFC 9113 §6.5.2).
pub(super) const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;

/// SETTINGS_MAX_FRAME_SIZE's identifier.
pub(super) const SETTINGS_MAX_FRAME_SIZE: u16 = 5;

/// A frame's type, as RFC 9113 §6 numbers them (any other number is `Unknown`, which a receiver
/// ignores).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FrameType {
    /// DATA (0): a stream's body bytes.
    Data,
    /// HEADERS (1): opens a stream (a request from the client) or carries a response's head.
    Headers,
    /// PRIORITY (2).
    Priority,
    /// RST_STREAM (3): ends one stream.
    RstStream,
    /// SETTINGS (4): the connection's parameters, and their acknowledgement.
    Settings,
    /// PUSH_PROMISE (5): the server announces a stream it will push.
    PushPromise,
    /// PING (6).
    Ping,
    /// GOAWAY (7): ends the connection.
    Goaway,
    /// WINDOW_UPDATE (8): flow-control credit, for a stream or the connection.
    WindowUpdate,
    /// CONTINUATION (9): the rest of a header block.
    Continuation,
    /// A type RFC 9113 does not define (extensions).
    Unknown,
}

impl FrameType {
    /// Every type, in wire order, `Unknown` last.
    pub const ALL: [FrameType; 11] = [
        FrameType::Data,
        FrameType::Headers,
        FrameType::Priority,
        FrameType::RstStream,
        FrameType::Settings,
        FrameType::PushPromise,
        FrameType::Ping,
        FrameType::Goaway,
        FrameType::WindowUpdate,
        FrameType::Continuation,
        FrameType::Unknown,
    ];

    /// The type a header's type byte names.
    pub fn of(byte: u8) -> FrameType {
        FrameType::ALL
            .get(usize::from(byte))
            .copied()
            .filter(|&t| t != FrameType::Unknown)
            .unwrap_or(FrameType::Unknown)
    }

    /// The type's number on the wire (none for `Unknown`, which stands for many).
    pub fn wire(self) -> Option<u8> {
        (self != FrameType::Unknown).then_some(self as u8)
    }

    /// The type's place in [`FrameType::ALL`].
    pub(super) fn index(self) -> usize {
        self as usize
    }
}

/// A frame's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FrameHeader {
    /// The payload's length.
    pub length: u32,
    /// The type byte, as sent.
    pub type_byte: u8,
    /// The flags byte.
    pub flags: u8,
    /// The stream id (the reserved bit cleared).
    pub stream: u32,
}

impl FrameHeader {
    /// Reads a header from its 9 bytes.
    pub(super) fn parse(b: &[u8; HEADER_LEN]) -> FrameHeader {
        FrameHeader {
            length: u32::from_be_bytes([0, b[0], b[1], b[2]]),
            type_byte: b[3],
            flags: b[4],
            stream: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & 0x7fff_ffff,
        }
    }

    /// The frame's type.
    pub(super) fn kind(&self) -> FrameType {
        FrameType::of(self.type_byte)
    }

    /// Whether the frame breaks a framing rule of RFC 9113 §6 that a receiver treats as a
    /// connection or frame-size error: on the wrong side of stream 0, or of a length its type
    /// fixes.
    pub(super) fn is_malformed(&self) -> bool {
        let on_zero = self.stream == 0;
        let n = self.length;
        match self.kind() {
            FrameType::Data
            | FrameType::Headers
            | FrameType::PushPromise
            | FrameType::Continuation => on_zero,
            FrameType::Priority => on_zero || n != 5,
            FrameType::RstStream => on_zero || n != 4,
            FrameType::Settings => !on_zero || !n.is_multiple_of(6),
            FrameType::Ping => !on_zero || n != 8,
            FrameType::Goaway => !on_zero || n < 8,
            FrameType::WindowUpdate => n != 4,
            FrameType::Unknown => false,
        }
    }
}

/// The SETTINGS_MAX_FRAME_SIZE a SETTINGS payload sets, if it sets one within RFC 9113's range
/// (2¹⁴ to 2²⁴ − 1; a value outside it is a protocol error and changes nothing).
pub(super) fn max_frame_size(settings: &[u8]) -> Option<u32> {
    settings
        .chunks_exact(6)
        .filter(|s| u16::from_be_bytes([s[0], s[1]]) == SETTINGS_MAX_FRAME_SIZE)
        .map(|s| u32::from_be_bytes([s[2], s[3], s[4], s[5]]))
        .rfind(|v| (DEFAULT_MAX_FRAME_SIZE..=0x00ff_ffff).contains(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_reads_length_type_flags_and_stream() {
        let h = FrameHeader::parse(&[0x01, 0x00, 0x05, 0, 1, 0x80, 0, 0, 3]);
        assert_eq!(h.length, 65_541);
        assert_eq!(h.kind(), FrameType::Data);
        assert_eq!(h.flags, 1);
        // The reserved bit is not part of the id.
        assert_eq!(h.stream, 3);
    }

    #[test]
    fn types_by_number() {
        for (n, t) in FrameType::ALL.iter().enumerate().take(10) {
            assert_eq!(FrameType::of(n as u8), *t);
            assert_eq!(t.wire(), Some(n as u8));
        }
        assert_eq!(FrameType::of(10), FrameType::Unknown);
        assert_eq!(FrameType::of(0xff), FrameType::Unknown);
    }

    #[test]
    fn framing_rules() {
        let h = |length, type_byte, stream| FrameHeader {
            length,
            type_byte,
            flags: 0,
            stream,
        };
        assert!(!h(100, 0, 1).is_malformed());
        assert!(h(100, 0, 0).is_malformed(), "DATA on stream 0");
        assert!(h(6, 4, 1).is_malformed(), "SETTINGS on a stream");
        assert!(h(7, 4, 0).is_malformed(), "SETTINGS not in 6-byte entries");
        assert!(!h(0, 4, 0).is_malformed(), "a SETTINGS acknowledgement");
        assert!(h(4, 6, 0).is_malformed(), "a short PING");
        assert!(!h(4, 8, 0).is_malformed() && !h(4, 8, 9).is_malformed());
        assert!(!h(3, 200, 0).is_malformed(), "unknown types are ignored");
    }

    #[test]
    fn max_frame_size_from_settings() {
        let entry = |id: u16, v: u32| [&id.to_be_bytes()[..], &v.to_be_bytes()].concat();
        let s = [entry(3, 100), entry(5, 1 << 20)].concat();
        assert_eq!(max_frame_size(&s), Some(1 << 20));
        assert_eq!(max_frame_size(&entry(5, 100)), None, "below the range");
        assert_eq!(max_frame_size(&entry(4, 1 << 20)), None);
    }
}
