//! Decode layer: raw frame bytes → `Segment`. The only module that touches `etherparse`.
//!
//! Picks the parser from the capture's link type. Must not import tracking, analysis or report code.

use std::net::SocketAddr;

use etherparse::{
    EtherType, LaxIpSlice, LaxSlicedPacket, LinuxSllHeaderSlice, LinuxSllProtocolType, TcpSlice,
    ip_number,
};

use super::CaptureError;
use super::segment::{FlowKey, HttpStart, Segment, TcpFlags};
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
    /// An IP fragment: counted as a packet, never as a segment.
    Fragment,
    /// Not TCP (ARP, UDP, ICMP, …).
    NotTcp,
    /// Too short for the headers it announces (the snap length or a cut file).
    Truncated,
}

/// Decodes one frame captured on a link of type `link`.
pub fn decode(link: LinkType, ts: Ts, data: &[u8], wire_len: u32) -> Decoded {
    let packet = match link {
        LinkType::Ethernet => match LaxSlicedPacket::from_ethernet(data) {
            Ok(p) => p,
            Err(_) => return Decoded::Truncated,
        },
        LinkType::LinuxSll => match LinuxSllHeaderSlice::from_slice(data) {
            Ok(header) => match header.protocol_type() {
                LinuxSllProtocolType::EtherType(ether_type) => {
                    LaxSlicedPacket::from_ether_type(ether_type, &data[header.slice().len()..])
                }
                _ => return Decoded::NotTcp,
            },
            Err(_) => return Decoded::Truncated,
        },
        LinkType::LinuxSll2 => {
            // SLL2 (20 bytes) is not in etherparse; its protocol type is the first field.
            const SLL2_LEN: usize = 20;
            if data.len() < SLL2_LEN {
                return Decoded::Truncated;
            }
            let ether_type = EtherType(u16::from_be_bytes([data[0], data[1]]));
            LaxSlicedPacket::from_ether_type(ether_type, &data[SLL2_LEN..])
        }
        LinkType::RawIp | LinkType::Ipv4 | LinkType::Ipv6 => return decode_ip(ts, data, wire_len),
        LinkType::Null | LinkType::Loop => {
            if data.len() < 4 {
                return Decoded::Truncated;
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
                return Decoded::NotTcp;
            }
            return decode_ip(ts, &data[4..], wire_len);
        }
    };
    match &packet.net {
        Some(etherparse::LaxNetSlice::Ipv4(ip)) => {
            tcp_from_ip(&LaxIpSlice::Ipv4(ip.clone()), ts, wire_len)
        }
        Some(etherparse::LaxNetSlice::Ipv6(ip)) => {
            tcp_from_ip(&LaxIpSlice::Ipv6(ip.clone()), ts, wire_len)
        }
        Some(_) => Decoded::NotTcp,
        None => match packet.stop_err {
            Some((etherparse::err::packet::SliceError::Len(_), _)) => Decoded::Truncated,
            _ => Decoded::NotTcp,
        },
    }
}

fn decode_ip(ts: Ts, data: &[u8], wire_len: u32) -> Decoded {
    match LaxSlicedPacket::from_ip(data) {
        Ok(packet) => match &packet.net {
            Some(etherparse::LaxNetSlice::Ipv4(ip)) => {
                tcp_from_ip(&LaxIpSlice::Ipv4(ip.clone()), ts, wire_len)
            }
            Some(etherparse::LaxNetSlice::Ipv6(ip)) => {
                tcp_from_ip(&LaxIpSlice::Ipv6(ip.clone()), ts, wire_len)
            }
            _ => Decoded::NotTcp,
        },
        Err(etherparse::err::ip::LaxHeaderSliceError::Len(_)) => Decoded::Truncated,
        Err(_) => Decoded::NotTcp,
    }
}

fn tcp_from_ip(ip: &LaxIpSlice<'_>, ts: Ts, wire_len: u32) -> Decoded {
    if ip.is_fragmenting_payload() {
        return Decoded::Fragment;
    }
    let payload = ip.payload();
    if payload.ip_number != ip_number::TCP {
        return Decoded::NotTcp;
    }
    let tcp = match TcpSlice::from_slice(payload.payload) {
        Ok(tcp) => tcp,
        Err(etherparse::err::tcp::HeaderSliceError::Len(_)) => return Decoded::Truncated,
        Err(etherparse::err::tcp::HeaderSliceError::Content(_)) => return Decoded::NotTcp,
    };
    // The payload length comes from the IP header, so a short snap length does not hide data.
    let ip_payload_len = if payload.incomplete {
        match ip {
            LaxIpSlice::Ipv4(v4) => {
                let header = v4.header();
                usize::from(header.total_len())
                    .saturating_sub(usize::from(header.ihl()) * 4)
                    .saturating_sub(v4.extensions().auth.map_or(0, |a| a.slice().len()))
            }
            LaxIpSlice::Ipv6(v6) => usize::from(v6.header().payload_length())
                .saturating_sub(v6.extensions().slice().len()),
        }
    } else {
        payload.payload.len()
    };
    let header_len = tcp.header_slice().len();
    let payload_len = u32::try_from(ip_payload_len.saturating_sub(header_len)).unwrap_or(u32::MAX);
    let src = SocketAddr::new(ip.source_addr(), tcp.source_port());
    let dst = SocketAddr::new(ip.destination_addr(), tcp.destination_port());
    let (key, dir) = FlowKey::of(src, dst);
    Decoded::Tcp(Segment {
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
        http: http_start(tcp.payload()),
    })
}

fn http_start(payload: &[u8]) -> Option<HttpStart> {
    const METHODS: [&[u8]; 9] = [
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
    fn udp_is_not_tcp() {
        let builder = PacketBuilder::ethernet2([0; 6], [0; 6])
            .ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64)
            .udp(53, 53);
        let mut frame = Vec::new();
        builder.write(&mut frame, b"dns").expect("in-memory write");
        assert_eq!(
            decode(LinkType::Ethernet, TS, &frame, frame.len() as u32),
            Decoded::NotTcp
        );
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
        assert!(matches!(seg.dir, Direction::AToB | Direction::BToA));
    }

    #[test]
    fn unknown_link_type_is_an_error_naming_it() {
        let err = LinkType::from_dlt(147).unwrap_err();
        assert!(err.to_string().contains("147"), "{err}");
    }
}
