//! Track layer: QUIC packet headers as the wire shows them without keys (RFC 8999's invariants,
//! RFC 9000 §17 for version 1, RFC 9369 §3.2 for version 2): a datagram cut into its coalesced
//! packets, each with its type, connection IDs and extent.
//!
//! Works on bytes alone; must not import capture, analysis or report code.

/// QUIC version 1 (RFC 9000).
pub const VERSION_1: u32 = 1;
/// QUIC version 2 (RFC 9369).
pub const VERSION_2: u32 = 0x6b33_43cf;
/// The longest connection ID versions 1 and 2 allow.
pub const MAX_CID_LEN: usize = 20;

/// A packet's type, as Wireshark's `quic.long.packet_type` and `quic.header_form` tell them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// Initial: the client's and server's first flights, protected with keys anyone can derive.
    Initial,
    /// 0-RTT: the client's early data on a resumed session.
    ZeroRtt,
    /// Handshake: the rest of the TLS handshake.
    Handshake,
    /// Retry: the server asks the client to prove its address.
    Retry,
    /// A short-header (1-RTT) packet: application data.
    OneRtt,
    /// Version Negotiation: the server lists the versions it speaks.
    VersionNegotiation,
}

/// A connection ID (at most 20 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct ConnectionId {
    len: u8,
    bytes: [u8; MAX_CID_LEN],
}

impl ConnectionId {
    /// The ID of these bytes; `None` past 20 bytes.
    pub fn of(bytes: &[u8]) -> Option<ConnectionId> {
        let mut id = ConnectionId {
            len: u8::try_from(bytes.len())
                .ok()
                .filter(|&l| usize::from(l) <= MAX_CID_LEN)?,
            bytes: [0; MAX_CID_LEN],
        };
        id.bytes[..bytes.len()].copy_from_slice(bytes);
        Some(id)
    }

    /// Its bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// True for the zero-length ID.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A long header's fields (RFC 9000 §17.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongHeader {
    /// The version field.
    pub version: u32,
    /// Destination Connection ID.
    pub dcid: ConnectionId,
    /// Source Connection ID.
    pub scid: ConnectionId,
}

/// One packet of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Its type.
    pub kind: PacketType,
    /// Its long header, when it has one.
    pub long: Option<LongHeader>,
    /// Where the packet number starts (Initial, 0-RTT, Handshake): header protection is
    /// removed from there.
    pub pn_offset: usize,
    /// The packet as captured, from its first byte to its end (shorter than on the wire when the
    /// snap length cut it).
    pub bytes: &'a [u8],
    /// Its length on the wire.
    pub len: usize,
}

impl Packet<'_> {
    /// True when the capture holds the whole packet.
    pub fn is_whole(&self) -> bool {
        self.bytes.len() == self.len
    }
}

/// Why a datagram's bytes are not (all) QUIC packets. A clear fixed bit is not a reason: a peer
/// that advertised grease_quic_bit may be sent packets with any value there (RFC 9287 §3), as
/// quinn does at random.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// A long header too short for its fields, or a packet longer than the datagram.
    Header,
}

/// A cursor over bytes, with QUIC's variable-length integers (RFC 9000 §16).
pub struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor { bytes, at: 0 }
    }

    /// Bytes read so far.
    pub fn position(&self) -> usize {
        self.at
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len())?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Some(out)
    }

    /// One byte.
    pub fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    /// A big-endian 32-bit number.
    pub fn u32(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A variable-length integer: its first two bits give its length, 1, 2, 4 or 8 bytes.
    pub fn varint(&mut self) -> Option<u64> {
        let first = *self.bytes.get(self.at)?;
        let len = 1usize << (first >> 6);
        let bytes = self.take(len)?;
        let mut value = u64::from(first & 0x3f);
        for &b in &bytes[1..] {
            value = value << 8 | u64::from(b);
        }
        Some(value)
    }

    /// A varint-counted length, as a `usize`.
    pub fn length(&mut self) -> Option<usize> {
        usize::try_from(self.varint()?).ok()
    }

    /// A connection ID with a one-byte length.
    fn connection_id(&mut self) -> Option<ConnectionId> {
        let len = self.u8()?;
        ConnectionId::of(self.take(usize::from(len))?)
    }
}

/// The long-header type bits' meaning in `version`; `None` for versions synack does not read.
fn long_type(version: u32, bits: u8) -> Option<PacketType> {
    use PacketType::{Handshake, Initial, Retry, ZeroRtt};
    let types = match version {
        VERSION_1 => [Initial, ZeroRtt, Handshake, Retry],
        VERSION_2 => [Retry, Initial, ZeroRtt, Handshake],
        _ => return None,
    };
    Some(types[usize::from(bits & 3)])
}

/// Does a datagram starting with `first` and `version` look like QUIC synack reads: a long header
/// of version 1 or 2, or Version Negotiation?
pub fn starts_long_header(payload: &[u8]) -> bool {
    let mut c = Cursor::new(payload);
    let (Some(first), Some(version)) = (c.u8(), c.u32()) else {
        return false;
    };
    first & 0x80 != 0 && (version == 0 || long_type(version, 0).is_some())
}

/// Reads the packet at the start of `data`, a datagram's captured bytes from that packet on;
/// `wire_left` is how many bytes the datagram has from there on the wire. A short header takes
/// the rest of the datagram; its Destination Connection ID's length is not on the wire, so it is
/// left to the caller to match. `Ok(None)` when the first byte belongs to no version synack reads.
pub fn read_packet(data: &[u8], wire_left: usize) -> Result<Option<Packet<'_>>, Malformed> {
    let mut c = Cursor::new(data);
    let first = c.u8().ok_or(Malformed::Header)?;
    if first & 0x80 == 0 {
        return Ok(Some(Packet {
            kind: PacketType::OneRtt,
            long: None,
            pn_offset: 1,
            bytes: data,
            len: wire_left,
        }));
    }
    let version = c.u32().ok_or(Malformed::Header)?;
    let dcid = c.connection_id().ok_or(Malformed::Header)?;
    let scid = c.connection_id().ok_or(Malformed::Header)?;
    let long = Some(LongHeader {
        version,
        dcid,
        scid,
    });
    if version == 0 {
        // The rest is a list of versions, to the end of the datagram.
        return Ok(Some(Packet {
            kind: PacketType::VersionNegotiation,
            long,
            pn_offset: c.position(),
            bytes: data,
            len: wire_left,
        }));
    }
    let Some(kind) = long_type(version, first >> 4) else {
        return Ok(None);
    };
    if kind == PacketType::Retry {
        return Ok(Some(Packet {
            kind,
            long,
            pn_offset: c.position(),
            bytes: data,
            len: wire_left,
        }));
    }
    if kind == PacketType::Initial {
        let token = c.length().ok_or(Malformed::Header)?;
        c.take(token).ok_or(Malformed::Header)?;
    }
    let length = c.length().ok_or(Malformed::Header)?;
    let pn_offset = c.position();
    // At least a one-byte packet number; the payload's extent is the datagram's, on the wire.
    let len = pn_offset
        .checked_add(length)
        .filter(|&len| length >= 1 && len <= wire_left)
        .ok_or(Malformed::Header)?;
    Ok(Some(Packet {
        kind,
        long,
        pn_offset,
        bytes: &data[..len.min(data.len())],
        len,
    }))
}

/// A datagram's coalesced packets in order, as tshark counts them: each item is what
/// [`read_packet`] makes of the bytes where the previous packet ended, and the walk stops after an
/// item that is not a packet, at the datagram's end on the wire or in the capture, or where the
/// rest holds nothing but zeros (padding some senders add after their last packet).
pub struct Coalesced<'a> {
    payload: &'a [u8],
    wire_len: usize,
    at: usize,
    done: bool,
}

impl<'a> Coalesced<'a> {
    /// The packets of a datagram whose captured payload is `payload` and whose UDP payload is
    /// `wire_len` bytes on the wire.
    pub fn new(payload: &'a [u8], wire_len: usize) -> Coalesced<'a> {
        Coalesced {
            payload,
            wire_len,
            at: 0,
            done: false,
        }
    }
}

impl<'a> Iterator for Coalesced<'a> {
    type Item = Result<Option<Packet<'a>>, Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        let at = self.at;
        let ended = at >= self.wire_len
            || at >= self.payload.len()
            || self.payload[at..].iter().all(|&b| b == 0);
        if self.done || (at > 0 && ended) {
            return None;
        }
        let item = read_packet(&self.payload[at..], self.wire_len.saturating_sub(at));
        match &item {
            Ok(Some(packet)) => self.at += packet.len,
            Ok(None) | Err(_) => self.done = true,
        }
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version 1 long header of `bits` type with these IDs, a Length of `length` and that many
    /// bytes after it.
    fn long_packet(bits: u8, dcid: &[u8], scid: &[u8], length: usize) -> Vec<u8> {
        let mut p = vec![0xc0 | bits << 4, 0, 0, 0, 1];
        p.push(dcid.len() as u8);
        p.extend_from_slice(dcid);
        p.push(scid.len() as u8);
        p.extend_from_slice(scid);
        if bits == 0 {
            p.push(0); // no token
        }
        p.extend([0x40 | (length >> 8) as u8, length as u8]);
        p.extend(std::iter::repeat_n(0xaa, length));
        p
    }

    #[test]
    fn varints_of_every_length() {
        // RFC 9000 §A.1's examples.
        for (bytes, value) in [
            (
                &[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c][..],
                151_288_809_941_952_652,
            ),
            (&[0x9d, 0x7f, 0x3e, 0x7d][..], 494_878_333),
            (&[0x7b, 0xbd][..], 15_293),
            (&[0x25][..], 37),
            (&[0x40, 0x25][..], 37),
        ] {
            assert_eq!(Cursor::new(bytes).varint(), Some(value));
        }
        assert_eq!(Cursor::new(&[0x7b]).varint(), None);
    }

    #[test]
    fn coalesced_long_packets_end_where_their_length_says() {
        let mut datagram = long_packet(0, &[1; 8], &[2; 8], 30);
        let second = datagram.len();
        datagram.extend(long_packet(2, &[1; 8], &[2; 8], 20));
        let first = read_packet(&datagram, datagram.len()).unwrap().unwrap();
        assert_eq!(first.kind, PacketType::Initial);
        assert_eq!(first.len, second);
        assert_eq!(first.long.unwrap().dcid.as_bytes(), &[1; 8]);
        let rest = &datagram[first.len..];
        let next = read_packet(rest, rest.len()).unwrap().unwrap();
        assert_eq!((next.kind, next.len), (PacketType::Handshake, rest.len()));
    }

    #[test]
    fn version_2_numbers_its_types_differently() {
        let mut p = long_packet(1, &[1; 4], &[], 5);
        p[1..5].copy_from_slice(&VERSION_2.to_be_bytes());
        // Type bits 1 are an Initial in version 2 (a token length is read first).
        let packet = read_packet(&p, p.len()).unwrap_err();
        assert_eq!(packet, Malformed::Header);
        let mut p = long_packet(0, &[1; 4], &[], 5);
        p[1..5].copy_from_slice(&VERSION_2.to_be_bytes());
        assert_eq!(
            read_packet(&p, p.len()).unwrap().unwrap().kind,
            PacketType::Retry
        );
    }

    #[test]
    fn short_headers_version_negotiation_and_unknown_versions() {
        let short = [0x41, 1, 2, 3, 4, 5];
        let p = read_packet(&short, 1200).unwrap().unwrap();
        assert_eq!(
            (p.kind, p.len, p.is_whole()),
            (PacketType::OneRtt, 1200, false)
        );
        // The fixed bit greased (RFC 9287): still a short header.
        let greased = read_packet(&[0x01, 2], 2).unwrap().unwrap();
        assert_eq!(greased.kind, PacketType::OneRtt);
        let vn = [0x80, 0, 0, 0, 0, 1, 9, 0, 0, 0, 0, 1];
        let p = read_packet(&vn, vn.len()).unwrap().unwrap();
        assert_eq!(p.kind, PacketType::VersionNegotiation);
        let other = [0xc0, 0xff, 0, 0, 0x1d, 0, 0];
        assert_eq!(read_packet(&other, other.len()), Ok(None));
        assert!(!starts_long_header(&other) && starts_long_header(&vn));
    }

    #[test]
    fn headers_cut_or_overlong_are_malformed() {
        let p = long_packet(0, &[1; 8], &[2; 8], 30);
        for n in [1, 5, 6, 14, 16, 23] {
            assert_eq!(
                read_packet(&p[..n], n),
                Err(Malformed::Header),
                "cut at {n}"
            );
        }
        // A Length beyond the datagram.
        assert_eq!(read_packet(&p, p.len() - 1), Err(Malformed::Header));
        // Cut by the snap length only: the packet is read, not whole.
        let cut = read_packet(&p[..40], p.len()).unwrap().unwrap();
        assert!(!cut.is_whole());
        let long_cid = [0xc0, 0, 0, 0, 1, 21];
        assert_eq!(read_packet(&long_cid, 100), Err(Malformed::Header));
    }
}
