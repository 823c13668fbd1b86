//! Decode layer: raw frame bytes → `Segment` (TCP) or `Datagram` (UDP). The only module that touches `etherparse`.
//!
//! Picks the parser from the capture's link type. Must not import tracking, analysis or report code.

use std::net::{IpAddr, SocketAddr};

use etherparse::defrag::IpDefragPool;
use etherparse::{
    EtherType, Ethernet2HeaderSlice, LaxIpSlice, NetSlice, SingleVlanHeaderSlice, SlicedPacket,
    TcpOptionElement, TcpSlice, UdpSlice, ip_number,
};

use super::CaptureError;
use super::segment::{Datagram, FlowKey, HttpStart, Segment, TcpFlags};
use crate::timeline::Ts;

/// The link-layer framing of a capture, from its DLT / LINKTYPE number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// Ethernet II, with optional 802.1Q tags (Linux `lo` and real NICs).
    Ethernet,
    /// Linux cooked capture v1 (`-i any`).
    LinuxSll,
    /// Linux cooked capture v2.
    LinuxSll2,
    /// Raw IP, version from the first nibble (TUN devices).
    RawIp,
    /// Raw IPv4 only.
    Ipv4,
    /// Raw IPv6 only.
    Ipv6,
    /// BSD loopback: a 4-byte address family in the capturing host's byte order.
    Null,
    /// OpenBSD loopback: a 4-byte address family in network byte order.
    Loop,
}

impl LinkType {
    /// Maps a DLT number as libpcap reports it (also the LINKTYPE numbers used in files).
    pub fn from_dlt(dlt: i32) -> Result<LinkType, CaptureError> {
        Ok(match dlt {
            0 => LinkType::Null,
            1 => LinkType::Ethernet,
            12 | 14 | 101 => LinkType::RawIp,
            108 => LinkType::Loop,
            113 => LinkType::LinuxSll,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            276 => LinkType::LinuxSll2,
            other => return Err(CaptureError::UnsupportedLinkType(other)),
        })
    }
}

/// What one frame turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// A TCP segment.
    Tcp(Segment),
    /// A UDP datagram (QUIC, DNS, …: the tracker tells them apart).
    Udp(Datagram),
    /// An IP fragment that did not complete a datagram: counted as a packet, never as a segment.
    Fragment,
    /// Neither TCP nor UDP (ARP, ICMP, …), or a UDP header that does not hold together.
    NotTcp,
    /// Too short for the headers it announces (the snap length or a cut file).
    Truncated,
}

/// A decoded frame and the TCP or UDP payload bytes the capture holds for it (fewer than
/// `Segment::payload_len` when the snap length cut the frame; empty when it is neither).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodedFrame<'a> {
    /// What the frame turned out to be.
    pub decoded: Decoded,
    /// The captured TCP or UDP payload.
    pub payload: &'a [u8],
}

/// Where the network layer of a frame starts.
enum Start<'a> {
    /// An Ethernet frame (with optional VLAN tags).
    Ethernet(&'a [u8]),
    /// A network packet of this EtherType.
    EtherType(EtherType, &'a [u8]),
    /// An IP packet, version from its first nibble.
    Ip(&'a [u8]),
}

fn start(link: LinkType, data: &[u8]) -> Result<Start<'_>, Decoded> {
    Ok(match link {
        LinkType::Ethernet => Start::Ethernet(data),
        LinkType::LinuxSll | LinkType::LinuxSll2 => {
            // SLL: 16 bytes, protocol last; SLL2: 20 bytes, protocol first. etherparse reads the
            // SLL protocol as an EtherType only for Ethernet devices, not for `lo` (ARPHRD 772).
            let (header_len, at) = if link == LinkType::LinuxSll {
                (16, 14)
            } else {
                (20, 0)
            };
            if data.len() < header_len {
                return Err(Decoded::Truncated);
            }
            let ether_type = u16::from_be_bytes([data[at], data[at + 1]]);
            if ether_type < 0x0600 {
                return Err(Decoded::NotTcp);
            }
            Start::EtherType(EtherType(ether_type), &data[header_len..])
        }
        LinkType::RawIp | LinkType::Ipv4 | LinkType::Ipv6 => Start::Ip(data),
        LinkType::Null | LinkType::Loop => {
            if data.len() < 4 {
                return Err(Decoded::Truncated);
            }
            let family = [data[0], data[1], data[2], data[3]];
            let family = if link == LinkType::Loop {
                u32::from_be_bytes(family)
            } else {
                // Host order of the machine that captured: whichever reading is a known family.
                let le = u32::from_le_bytes(family);
                if le < 256 {
                    le
                } else {
                    u32::from_be_bytes(family)
                }
            };
            // AF_INET is 2 everywhere; AF_INET6 is 24, 28 or 30 depending on the BSD.
            if !matches!(family, 2 | 24 | 28 | 30) {
                return Err(Decoded::NotTcp);
            }
            Start::Ip(&data[4..])
        }
    })
}

fn is_ip(ether_type: EtherType) -> bool {
    ether_type == EtherType::IPV4 || ether_type == EtherType::IPV6
}

/// The IP packet inside an Ethernet frame, past any 802.1Q / 802.1ad tags; `None` when it carries
/// something else, `Err` when the frame is too short for its headers.
fn ethernet_payload(frame: &[u8]) -> Result<Option<&[u8]>, ()> {
    let header = Ethernet2HeaderSlice::from_slice(frame).map_err(|_| ())?;
    let mut ether_type = header.ether_type();
    let mut rest = &frame[header.slice().len()..];
    // At most three tags, as etherparse allows.
    for _ in 0..3 {
        if !matches!(
            ether_type,
            EtherType::VLAN_TAGGED_FRAME
                | EtherType::PROVIDER_BRIDGING
                | EtherType::VLAN_DOUBLE_TAGGED_FRAME
        ) {
            break;
        }
        let tag = SingleVlanHeaderSlice::from_slice(rest).map_err(|_| ())?;
        ether_type = tag.ether_type();
        rest = &rest[tag.slice().len()..];
    }
    Ok(is_ip(ether_type).then_some(rest))
}

/// How long an incomplete fragmented datagram waits for its other fragments, in capture time.
const FRAGMENT_TIMEOUT: i64 = 30_000_000_000;

/// Decodes the frames of one capture. Keeps state only to reassemble IP fragments, as Wireshark
/// does by default: the frame that completes a datagram carries its TCP segment.
pub struct Decoder {
    link: LinkType,
    defrag: IpDefragPool<Ts, ()>,
    /// Fragments seen, to expire incomplete datagrams now and then.
    fragments: u64,
    /// The TCP or UDP payload of the latest reassembled datagram (its buffer goes back to the
    /// pool).
    reassembled: Vec<u8>,
}

impl Decoder {
    /// A decoder for frames of `link`.
    pub fn new(link: LinkType) -> Decoder {
        Decoder {
            link,
            defrag: IpDefragPool::new(),
            fragments: 0,
            reassembled: Vec::new(),
        }
    }

    /// Decodes one frame.
    pub fn decode(&mut self, ts: Ts, data: &[u8], wire_len: u32) -> Decoded {
        self.decode_frame(ts, data, wire_len).decoded
    }

    /// Decodes one frame and hands out its captured TCP payload too, for the tracker's TLS
    /// reading: a slice of `data`, or of the datagram this frame completed.
    pub fn decode_frame<'a>(
        &'a mut self,
        ts: Ts,
        data: &'a [u8],
        wire_len: u32,
    ) -> DecodedFrame<'a> {
        let nothing = |decoded| DecodedFrame {
            decoded,
            payload: &[],
        };
        let start = match start(self.link, data) {
            Ok(start) => start,
            Err(decoded) => return nothing(decoded),
        };
        // Straight to the IP header: the whole-packet slicer copies a large result per frame.
        let ip_bytes = match start {
            Start::Ethernet(d) => match ethernet_payload(d) {
                Ok(Some(ip)) => ip,
                Ok(None) => return nothing(Decoded::NotTcp),
                Err(()) => return nothing(Decoded::Truncated),
            },
            Start::EtherType(ether_type, d) if is_ip(ether_type) => d,
            Start::EtherType(..) => return nothing(Decoded::NotTcp),
            // A LINKTYPE_IPV4 / _IPV6 capture holds one family only.
            Start::Ip(d)
                if self.link == LinkType::Ipv4 && d.first().is_some_and(|b| b >> 4 != 4) =>
            {
                return nothing(Decoded::NotTcp);
            }
            Start::Ip(d)
                if self.link == LinkType::Ipv6 && d.first().is_some_and(|b| b >> 4 != 6) =>
            {
                return nothing(Decoded::NotTcp);
            }
            Start::Ip(d) => d,
        };
        let ip = match LaxIpSlice::from_slice(ip_bytes) {
            Ok((ip, _)) => ip,
            Err(etherparse::err::ip::LaxHeaderSliceError::Len(_)) => {
                return nothing(Decoded::Truncated);
            }
            Err(_) => return nothing(Decoded::NotTcp),
        };
        if ip.is_fragmenting_payload() {
            let decoded = self.reassemble(&start, ts, wire_len);
            let payload = match decoded {
                Decoded::Tcp(_) | Decoded::Udp(_) => self.reassembled.as_slice(),
                _ => &[],
            };
            return DecodedFrame { decoded, payload };
        }
        from_ip(&ip, ts, wire_len)
    }

    fn reassemble(&mut self, start: &Start<'_>, ts: Ts, wire_len: u32) -> Decoded {
        self.fragments += 1;
        if self.fragments.is_multiple_of(1024) {
            self.defrag
                .retain(|&first| ts.0 - first.0 < FRAGMENT_TIMEOUT);
        }
        let strict = match *start {
            Start::Ethernet(d) => SlicedPacket::from_ethernet(d),
            Start::EtherType(ether_type, d) => SlicedPacket::from_ether_type(ether_type, d),
            Start::Ip(d) => SlicedPacket::from_ip(d),
        };
        // A fragment cut by the snap length cannot be reassembled.
        let Ok(strict) = strict else {
            return Decoded::Fragment;
        };
        let (src, dst) = match &strict.net {
            Some(NetSlice::Ipv4(v4)) => (
                IpAddr::from(v4.header().source_addr()),
                IpAddr::from(v4.header().destination_addr()),
            ),
            Some(NetSlice::Ipv6(v6)) => (
                IpAddr::from(v6.header().source_addr()),
                IpAddr::from(v6.header().destination_addr()),
            ),
            _ => return Decoded::Fragment,
        };
        match self.defrag.process_sliced_packet(&strict, ts, ()) {
            Ok(Some(datagram)) if datagram.ip_number == ip_number::TCP => {
                let decoded = match TcpSlice::from_slice(&datagram.payload) {
                    Ok(tcp) => {
                        self.reassembled.clear();
                        self.reassembled.extend_from_slice(tcp.payload());
                        segment(src, dst, &tcp, datagram.payload.len(), ts, wire_len).decoded
                    }
                    Err(_) => Decoded::NotTcp,
                };
                self.defrag.return_buf(datagram);
                decoded
            }
            Ok(Some(datagram)) if datagram.ip_number == ip_number::UDP => {
                let decoded = match UdpSlice::from_slice_lax(&datagram.payload) {
                    Ok(udp) => {
                        self.reassembled.clear();
                        self.reassembled.extend_from_slice(udp.payload());
                        udp_datagram(src, dst, &udp, datagram.payload.len(), ts, wire_len).decoded
                    }
                    Err(_) => Decoded::NotTcp,
                };
                self.defrag.return_buf(datagram);
                decoded
            }
            Ok(Some(datagram)) => {
                self.defrag.return_buf(datagram);
                Decoded::NotTcp
            }
            Ok(None) | Err(_) => Decoded::Fragment,
        }
    }
}

/// Decodes one frame on its own (fragments are never reassembled).
pub fn decode(link: LinkType, ts: Ts, data: &[u8], wire_len: u32) -> Decoded {
    Decoder::new(link).decode(ts, data, wire_len)
}

fn from_ip<'a>(ip: &LaxIpSlice<'a>, ts: Ts, wire_len: u32) -> DecodedFrame<'a> {
    let nothing = |decoded| DecodedFrame {
        decoded,
        payload: &[],
    };
    let payload = ip.payload();
    if payload.ip_number == ip_number::UDP {
        return udp_from_ip(ip, ts, wire_len);
    }
    if payload.ip_number != ip_number::TCP {
        return nothing(Decoded::NotTcp);
    }
    let tcp = match TcpSlice::from_slice(payload.payload) {
        Ok(tcp) => tcp,
        Err(etherparse::err::tcp::HeaderSliceError::Len(_)) => {
            return nothing(Decoded::Truncated);
        }
        Err(etherparse::err::tcp::HeaderSliceError::Content(_)) => {
            return nothing(Decoded::NotTcp);
        }
    };
    segment(
        ip.source_addr(),
        ip.destination_addr(),
        &tcp,
        ip_payload_len(ip),
        ts,
        wire_len,
    )
}

/// The IP payload's length from the IP header, which a short snap length does not hide.
fn ip_payload_len(ip: &LaxIpSlice<'_>) -> usize {
    let payload = ip.payload();
    if !payload.incomplete {
        return payload.payload.len();
    }
    match ip {
        LaxIpSlice::Ipv4(v4) => {
            let header = v4.header();
            usize::from(header.total_len())
                .saturating_sub(usize::from(header.ihl()) * 4)
                .saturating_sub(v4.extensions().auth.map_or(0, |a| a.slice().len()))
        }
        LaxIpSlice::Ipv6(v6) => {
            usize::from(v6.header().payload_length()).saturating_sub(v6.extensions().slice().len())
        }
    }
}

fn udp_from_ip<'a>(ip: &LaxIpSlice<'a>, ts: Ts, wire_len: u32) -> DecodedFrame<'a> {
    match UdpSlice::from_slice_lax(ip.payload().payload) {
        Ok(udp) => udp_datagram(
            ip.source_addr(),
            ip.destination_addr(),
            &udp,
            ip_payload_len(ip),
            ts,
            wire_len,
        ),
        Err(_) => DecodedFrame {
            decoded: Decoded::Truncated,
            payload: &[],
        },
    }
}

/// A datagram's payload length: the UDP header's length field where it fits the IP payload
/// (a jumbogram's is 0), else what the IP header leaves.
fn udp_datagram<'a>(
    src: IpAddr,
    dst: IpAddr,
    udp: &UdpSlice<'a>,
    ip_payload_len: usize,
    ts: Ts,
    wire_len: u32,
) -> DecodedFrame<'a> {
    const HEADER: usize = 8;
    let length = usize::from(udp.length());
    let datagram_len = if (HEADER..=ip_payload_len).contains(&length) {
        length
    } else {
        ip_payload_len
    };
    let payload_len = u32::try_from(datagram_len.saturating_sub(HEADER)).unwrap_or(u32::MAX);
    let (key, dir) = FlowKey::of(
        SocketAddr::new(src, udp.source_port()),
        SocketAddr::new(dst, udp.destination_port()),
    );
    let payload = udp.payload();
    let payload = &payload[..payload.len().min(payload_len as usize)];
    DecodedFrame {
        decoded: Decoded::Udp(Datagram {
            ts,
            key,
            dir,
            payload_len,
            wire_len,
        }),
        payload,
    }
}

fn segment<'a>(
    src: IpAddr,
    dst: IpAddr,
    tcp: &TcpSlice<'a>,
    ip_payload_len: usize,
    ts: Ts,
    wire_len: u32,
) -> DecodedFrame<'a> {
    let header_len = tcp.header_slice().len();
    let payload_len = u32::try_from(ip_payload_len.saturating_sub(header_len)).unwrap_or(u32::MAX);
    let src = SocketAddr::new(src, tcp.source_port());
    let dst = SocketAddr::new(dst, tcp.destination_port());
    let (key, dir) = FlowKey::of(src, dst);
    let options = if tcp.syn() {
        SynOptions::of(tcp)
    } else {
        SynOptions::default()
    };
    let payload = tcp.payload();
    let decoded = Decoded::Tcp(Segment {
        ts,
        key,
        dir,
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags: TcpFlags {
            syn: tcp.syn(),
            ack: tcp.ack(),
            fin: tcp.fin(),
            rst: tcp.rst(),
            psh: tcp.psh(),
        },
        window: tcp.window_size(),
        payload_len,
        wire_len,
        http: http_start(payload),
        mss: options.mss,
        window_scale: options.window_scale,
    });
    DecodedFrame { decoded, payload }
}

/// The options a SYN negotiates that the tracker reads.
#[derive(Debug, Default)]
struct SynOptions {
    mss: Option<u16>,
    window_scale: Option<u8>,
}

impl SynOptions {
    /// Reads the options up to the first malformed one (what came before it still counts).
    fn of(tcp: &TcpSlice<'_>) -> SynOptions {
        let mut options = SynOptions::default();
        for option in tcp.options_iterator() {
            match option {
                Ok(TcpOptionElement::MaximumSegmentSize(mss)) => options.mss = Some(mss),
                Ok(TcpOptionElement::WindowScale(shift)) => options.window_scale = Some(shift),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        options
    }
}

/// The HTTP/1.x methods a request line may start with, each with its space.
pub const METHODS: [&[u8]; 9] = [
    b"GET ",
    b"HEAD ",
    b"POST ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
    b"TRACE ",
];

fn http_start(payload: &[u8]) -> Option<HttpStart> {
    if payload.starts_with(b"HTTP/1.") {
        Some(HttpStart::Response)
    } else if METHODS.iter().any(|m| payload.starts_with(m)) {
        Some(HttpStart::Request)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::segment::Direction;
    use etherparse::PacketBuilder;

    const TS: Ts = Ts(1_000);

    fn ethernet_v4(
        payload: &[u8],
        build: impl FnOnce(
            etherparse::PacketBuilderStep<etherparse::IpHeaders>,
        ) -> etherparse::PacketBuilderStep<etherparse::TcpHeader>,
    ) -> Vec<u8> {
        let base = PacketBuilder::ethernet2([1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]).ipv4(
            [127, 0, 0, 1],
            [127, 0, 0, 1],
            64,
        );
        let builder = build(base);
        let mut out = Vec::new();
        builder.write(&mut out, payload).expect("in-memory write");
        out
    }

    fn expect_tcp(decoded: Decoded) -> Segment {
        match decoded {
            Decoded::Tcp(s) => s,
            other => panic!("expected a TCP segment, got {other:?}"),
        }
    }

    #[test]
    fn ethernet_syn_decodes_ports_flags_and_direction() {
        let frame = ethernet_v4(&[], |b| b.tcp(40000, 8080, 1000, 65535).syn());
        let seg = expect_tcp(decode(LinkType::Ethernet, TS, &frame, frame.len() as u32));
        assert!(seg.flags.syn && !seg.flags.ack && !seg.flags.fin && !seg.flags.rst);
        assert_eq!(seg.seq, 1000);
        assert_eq!(seg.payload_len, 0);
        assert_eq!(seg.key.source(seg.dir).port(), 40000);
        assert_eq!(seg.wire_len as usize, frame.len());
    }

    #[test]
    fn syn_options_give_mss_and_window_scale() {
        use etherparse::TcpOptionElement::{
            MaximumSegmentSize, Noop, SelectiveAcknowledgementPermitted, WindowScale,
        };
        let options = [
            MaximumSegmentSize(1460),
            SelectiveAcknowledgementPermitted,
            Noop,
            WindowScale(7),
        ];
        let frame = ethernet_v4(&[], |b| {
            b.tcp(40000, 8080, 1000, 65535)
                .syn()
                .options(&options)
                .expect("options fit")
        });
        let seg = expect_tcp(decode(LinkType::Ethernet, TS, &frame, frame.len() as u32));
        assert_eq!((seg.mss, seg.window_scale), (Some(1460), Some(7)));

        // The same options on a segment without SYN are not read: they mean nothing there.
        let frame = ethernet_v4(&[], |b| {
            b.tcp(40000, 8080, 1001, 512)
                .ack(1)
                .options(&options)
                .expect("options fit")
        });
        let seg = expect_tcp(decode(LinkType::Ethernet, TS, &frame, frame.len() as u32));
        assert_eq!((seg.mss, seg.window_scale), (None, None));
    }

    #[test]
    fn payload_length_survives_a_short_snap_length() {
        let body = vec![b'x'; 1000];
        let mut request = b"GET /a.jpg HTTP/1.1\r\n".to_vec();
        request.extend_from_slice(&body);
        let frame = ethernet_v4(&request, |b| b.tcp(40000, 8080, 1, 65535).ack(9).psh());
        let cut = &frame[..100];
        let seg = expect_tcp(decode(LinkType::Ethernet, TS, cut, frame.len() as u32));
        assert_eq!(seg.payload_len as usize, request.len());
        assert_eq!(seg.http, Some(HttpStart::Request));
    }

    #[test]
    fn frame_cut_inside_the_tcp_header_is_truncated() {
        let frame = ethernet_v4(&[], |b| b.tcp(1, 2, 3, 4).syn());
        assert_eq!(
            decode(LinkType::Ethernet, TS, &frame[..40], frame.len() as u32),
            Decoded::Truncated
        );
        assert_eq!(
            decode(LinkType::Ethernet, TS, &frame[..8], frame.len() as u32),
            Decoded::Truncated
        );
    }

    #[test]
    fn udp_decodes_to_a_datagram_with_its_payload() {
        let builder = PacketBuilder::ethernet2([0; 6], [0; 6])
            .ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64)
            .udp(5353, 443);
        let mut frame = Vec::new();
        builder
            .write(&mut frame, b"quic?")
            .expect("in-memory write");
        let mut decoder = Decoder::new(LinkType::Ethernet);
        let decoded = decoder.decode_frame(TS, &frame, frame.len() as u32);
        let Decoded::Udp(datagram) = decoded.decoded else {
            panic!("expected a UDP datagram, got {:?}", decoded.decoded);
        };
        assert_eq!(decoded.payload, b"quic?");
        assert_eq!(datagram.payload_len, 5);
        assert_eq!(datagram.key.source(datagram.dir).port(), 5353);
        assert_eq!(datagram.wire_len as usize, frame.len());
        // Cut by the snap length: the length still comes from the header.
        let cut = decoder.decode_frame(TS, &frame[..frame.len() - 3], frame.len() as u32);
        assert!(matches!(cut.decoded, Decoded::Udp(d) if d.payload_len == 5));
        assert_eq!(cut.payload, b"qu");
        // Cut inside the UDP header: too short to read.
        let header_cut = decoder.decode_frame(TS, &frame[..14 + 20 + 4], frame.len() as u32);
        assert_eq!(header_cut.decoded, Decoded::Truncated);
    }

    #[test]
    fn raw_ipv6_and_null_loopback_decode() {
        let builder = PacketBuilder::ipv6(
            [0; 16],
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            64,
        )
        .tcp(5555, 80, 7, 1000)
        .syn()
        .ack(3);
        let mut ip = Vec::new();
        builder.write(&mut ip, &[]).expect("in-memory write");
        let seg = expect_tcp(decode(LinkType::RawIp, TS, &ip, ip.len() as u32));
        assert!(seg.flags.syn && seg.flags.ack);
        assert_eq!(seg.key.source(seg.dir).port(), 5555);

        let mut null = 30u32.to_le_bytes().to_vec();
        null.extend_from_slice(&ip);
        let seg = expect_tcp(decode(LinkType::Null, TS, &null, null.len() as u32));
        assert_eq!(seg.key.source(seg.dir).port(), 5555);
        // [::]:5555 sorts before [::1]:80, so the segment travels from a to b.
        assert_eq!(seg.dir, Direction::AToB);
    }

    #[test]
    fn unknown_link_type_is_an_error_naming_it() {
        let err = LinkType::from_dlt(147).unwrap_err();
        assert!(err.to_string().contains("147"), "{err}");
    }
}
