//! The project's own view of a TCP segment and a UDP datagram: what the decoder produces and every later layer reads.
//!
//! Imports neither `pcap` nor `etherparse`.

use std::net::SocketAddr;

use crate::timeline::Ts;

/// A connection's endpoints in canonical order (`a` < `b`), the same for both directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FlowKey {
    /// The lower endpoint.
    pub a: SocketAddr,
    /// The higher endpoint.
    pub b: SocketAddr,
}

/// Hashes the addresses and ports as a few words: the tracker looks a key up for every packet,
/// and the derived hash fed each address byte by byte. Keys that are equal hash alike (IPv6 flow
/// labels and scopes, left out here, only make equal hashes of unequal keys).
impl std::hash::Hash for FlowKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        fn words(addr: &SocketAddr) -> (u128, u16) {
            match addr {
                SocketAddr::V4(v4) => (u128::from(v4.ip().to_bits()), v4.port()),
                SocketAddr::V6(v6) => (v6.ip().to_bits(), v6.port()),
            }
        }
        let (a, a_port) = words(&self.a);
        let (b, b_port) = words(&self.b);
        if a >> 32 == 0 && b >> 32 == 0 {
            state.write_u64((a as u64) << 32 | b as u64);
        } else {
            state.write_u128(a);
            state.write_u128(b);
        }
        state.write_u32(u32::from(a_port) << 16 | u32::from(b_port));
    }
}

/// Which way a segment travels relative to its `FlowKey`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From `key.a` to `key.b`.
    AToB,
    /// From `key.b` to `key.a`.
    BToA,
}

impl FlowKey {
    /// The key and direction of a segment sent from `src` to `dst`.
    #[inline]
    pub fn of(src: SocketAddr, dst: SocketAddr) -> (FlowKey, Direction) {
        // IPv4 addresses order as their address then port: one comparison of two words.
        let in_order = match (src, dst) {
            (SocketAddr::V4(s), SocketAddr::V4(d)) => {
                let word = |a: std::net::SocketAddrV4| {
                    u64::from(a.ip().to_bits()) << 16 | u64::from(a.port())
                };
                word(s) <= word(d)
            }
            _ => src <= dst,
        };
        if in_order {
            (FlowKey { a: src, b: dst }, Direction::AToB)
        } else {
            (FlowKey { a: dst, b: src }, Direction::BToA)
        }
    }

    /// The sender of a segment travelling in `dir`.
    pub fn source(&self, dir: Direction) -> SocketAddr {
        match dir {
            Direction::AToB => self.a,
            Direction::BToA => self.b,
        }
    }
}

/// The TCP flags synack counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags {
    /// SYN.
    pub syn: bool,
    /// ACK.
    pub ack: bool,
    /// FIN.
    pub fin: bool,
    /// RST.
    pub rst: bool,
    /// PSH.
    pub psh: bool,
}

/// What the first bytes of a segment's payload show, when they were captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpStart {
    /// A request line (`GET / HTTP/1.1`).
    Request,
    /// A status line (`HTTP/1.1 200 OK`).
    Response,
}

/// One TCP segment as seen on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Capture timestamp.
    pub ts: Ts,
    /// The connection's endpoints.
    pub key: FlowKey,
    /// Which way it travels.
    pub dir: Direction,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number (meaningful when `flags.ack`).
    pub ack: u32,
    /// Flags.
    pub flags: TcpFlags,
    /// Receive window field (unscaled).
    pub window: u16,
    /// TCP payload length from the IP header, even when the capture cut the payload off.
    pub payload_len: u32,
    /// Length of the whole frame on the wire.
    pub wire_len: u32,
    /// An HTTP/1.x request or status line at the start of the payload, if captured.
    pub http: Option<HttpStart>,
    /// The maximum segment size option (read on SYN segments only).
    pub mss: Option<u16>,
    /// The window scale option's shift count (read on SYN segments only).
    pub window_scale: Option<u8>,
}

/// One UDP datagram as seen on the wire (QUIC's carrier): its endpoints and lengths; the payload
/// bytes the capture holds come beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datagram {
    /// Capture timestamp.
    pub ts: Ts,
    /// The datagram's endpoints.
    pub key: FlowKey,
    /// Which way it travels.
    pub dir: Direction,
    /// UDP payload length from the UDP header, even when the capture cut the payload off.
    pub payload_len: u32,
    /// Length of the whole frame on the wire.
    pub wire_len: u32,
}

impl Segment {
    /// ACK set, no SYN/FIN/RST, no payload (Wireshark's pure ACK).
    pub fn is_pure_ack(&self) -> bool {
        let f = self.flags;
        f.ack && !f.syn && !f.fin && !f.rst && self.payload_len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_keys_order_endpoints_as_socket_addresses_order() {
        let addrs: Vec<SocketAddr> = [
            "10.0.0.1:80",
            "10.0.0.1:81",
            "10.0.0.2:1",
            "9.255.255.255:65535",
            "[::1]:1",
            "[::]:2",
        ]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
        for &x in &addrs {
            for &y in &addrs {
                let (key, _) = FlowKey::of(x, y);
                assert_eq!((key.a, key.b), (x.min(y), x.max(y)), "{x} {y}");
            }
        }
    }

    #[test]
    fn flow_key_is_the_same_both_ways() {
        let x: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let y: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let (k1, d1) = FlowKey::of(x, y);
        let (k2, d2) = FlowKey::of(y, x);
        assert_eq!(k1, k2);
        assert_ne!(d1, d2);
        assert_eq!(k1.source(d1), x);
        assert_eq!(k2.source(d2), y);
    }
}
