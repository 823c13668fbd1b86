//! The capture path on damaged input: a capture cut at every byte, captures with flipped bits, and
//! arbitrary bytes and segments. Nothing may panic, every error is one line, and a cut file names
//! the byte where it ends.

use crate::common;

use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use common::{Flow, Frames};
use etherparse::PacketBuilder;
use proptest::prelude::*;
use synack::analysis::pattern::RequestPattern;
use synack::analysis::phases::PhaseAccumulator;
use synack::analysis::phases::{ConnectionTimeline, Phases};
use synack::capture::CaptureError;
use synack::capture::decode::{Decoded, LinkType, decode};
use synack::capture::segment::{Datagram, FlowKey, Segment, TcpFlags};
use synack::report::{json, tables};
use synack::timeline::Ts;
use synack::track::quic::QuicTracker;
use synack::track::reader::{TrackedCapture, track_file};
use synack::track::{Totals, Tracker};

const PCAP_HEADER: usize = 24;
const RECORD_HEADER: usize = 16;
const SNAPLEN: usize = 128;
const LINKTYPE_ETHERNET: u32 = 1;

/// Two non-persistent connections on one reused 4-tuple, a UDP frame, a persistent IPv6
/// connection whose client sequence numbers wrap, and a refused SYN: 37 frames cut to 128 bytes.
fn sample_frames() -> Vec<(i64, Vec<u8>)> {
    let mut f = Frames::new();
    let mut a = Flow::new("127.0.0.1:40000", "127.0.0.1:8080", 1_000, 50_000);
    f.handshake(&mut a);
    f.exchange(&mut a, "/a.jpg", 2_000);
    f.close(&mut a, false);
    let mut b = Flow::new("127.0.0.1:40000", "127.0.0.1:8080", 9_000, 70_000);
    f.handshake(&mut b);
    f.exchange(&mut b, "/b.mp3", 500);
    f.close(&mut b, true);
    f.udp(b"not tcp");
    let mut c = Flow::new("[::1]:40001", "[::1]:8080", u32::MAX - 10, 1);
    f.handshake(&mut c);
    f.exchange(&mut c, "/a.jpg", 100);
    f.exchange(&mut c, "/c.txt", 100);
    f.close(&mut c, false);
    let mut d = Flow::new("127.0.0.1:40002", "127.0.0.1:9", 5, 0);
    f.send(&mut d, true, "S", &[]);
    f.send(&mut d, false, "RA", &[]);
    f.frames
}

fn sample_pcap() -> Vec<u8> {
    common::pcap_bytes(LINKTYPE_ETHERNET, SNAPLEN, &sample_frames())
}

/// Each record of a classic pcap file: (start of its header, start of its data, end).
fn records(pcap: &[u8]) -> Vec<(usize, usize, usize)> {
    let mut spans = Vec::new();
    let mut at = PCAP_HEADER;
    while at + RECORD_HEADER <= pcap.len() {
        let caplen = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        let end = at + RECORD_HEADER + caplen;
        assert!(end <= pcap.len(), "the sample is well formed");
        spans.push((at, at + RECORD_HEADER, end));
        at = end;
    }
    spans
}

/// What must hold for any capture synack could read: every frame is counted once, streams are
/// numbered in order, and the JSON, tables and pattern line render.
fn assert_sane(tracked: &TrackedCapture, what: &str) {
    let totals = Totals::of(tracked.connections.iter().map(|c| &c.counts));
    assert_eq!(
        totals.counts.packets
            + tracked.counts.not_tcp
            + tracked.counts.fragments
            + tracked.counts.truncated,
        tracked.counts.frames,
        "{what}: every frame is TCP, not TCP, a fragment or truncated"
    );
    for (i, c) in tracked.connections.iter().enumerate() {
        assert_eq!(c.stream, i, "{what}: streams in order");
        assert!(c.counts.packets >= 1, "{what}: a connection has a packet");
    }
    if let Some(cut) = &tracked.counts.cut_off {
        assert_one_line(&cut.to_string(), what);
    }
    let mut pattern = RequestPattern::default();
    let mut phases = PhaseAccumulator::default();
    let mut tls = synack::track::tls::TlsTotals::default();
    let mut http2 = synack::track::http2::Http2Totals::default();
    for c in &tracked.connections {
        if let Some(synack::track::http2::Http2Seen::Frames(f)) = c.http2() {
            http2.add(f);
        }
        assert!(json::connection(c).is_object(), "{what}");
        pattern.add(c);
        phases.add(&ConnectionTimeline::from_capture(c));
        if let Some(h) = c.tls() {
            tls.add(h);
        }
    }
    let summary = json::capture_summary(
        &tracked.counts,
        &totals,
        &tls,
        &http2,
        &tracked.quic,
        &synack::report::sentences::pattern(&pattern),
        None,
    );
    assert!(
        serde_json::to_value(&summary).is_ok_and(|v| v.is_object()),
        "{what}"
    );
    let shown = tracked.connections.len().min(20);
    let _ = tables::connection_table(
        &tracked.connections[..shown],
        tracked.connections.len() - shown,
    )
    .to_string();
    let _ = tables::phase_summary_table(&phases.finish()).to_string();
    let _ = tables::tls_table(&tracked.connections[..shown]).to_string();
    let _ = tables::tls_totals_table(&tls).to_string();
    let _ = tables::http2_table(&tracked.connections[..shown]).to_string();
    let _ = tables::http2_totals_table(&http2).to_string();
    assert!(
        !synack::report::sentences::pattern(&pattern).is_empty(),
        "{what}"
    );
}

fn assert_one_line(message: &str, what: &str) {
    assert!(
        !message.is_empty() && !message.contains('\n'),
        "{what}: an error is one line: {message:?}"
    );
}

/// `track_file` on `path`, turning a panic into a failure that says which input caused it.
fn track(path: &Path, what: &str) -> Result<TrackedCapture, CaptureError> {
    match catch_unwind(AssertUnwindSafe(|| track_file(path, None))) {
        Ok(result) => result,
        Err(_) => panic!("{what}: track_file panicked"),
    }
}

/// `synack analyze` on `path`: exit 0 or 1, never a panic, at most one `synack: ` line on stderr.
fn assert_binary_copes(path: &Path, what: &str) {
    let out = common::synack()
        .arg("analyze")
        .arg(path)
        .output()
        .expect("run synack");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{what}: exit {:?}, stderr {stderr}",
        out.status
    );
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines.len() <= 1, "{what}: {stderr}");
    assert!(
        lines.iter().all(|l| l.starts_with("synack: ")),
        "{what}: {stderr}"
    );
    if out.status.code() == Some(1) {
        assert_eq!(lines.len(), 1, "{what}: a failure says why");
    }
}

#[test]
fn the_sample_capture_reads_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sample.pcap");
    std::fs::write(&path, sample_pcap()).unwrap();
    let tracked = track_file(&path, None).unwrap();
    assert_sane(&tracked, "whole sample");
    assert_eq!(tracked.counts.frames, 37);
    assert_eq!(tracked.counts.not_tcp, 1);
    assert!(tracked.counts.cut_off.is_none());
    let totals = Totals::of(tracked.connections.iter().map(|c| &c.counts));
    assert_eq!(
        totals.connections, 4,
        "the reused 4-tuple is two connections"
    );
    assert_eq!(
        (totals.counts.syn, totals.counts.fin, totals.counts.rst),
        (4, 6, 1)
    );
    assert_eq!(tracked.connections[2].exchanges.len(), 2);
}

#[test]
fn a_capture_cut_at_any_byte_is_analysed_up_to_that_byte() {
    let pcap = sample_pcap();
    assert!(pcap.len() < 8 * 1024, "small enough to cut at every byte");
    let ends: Vec<usize> = records(&pcap).iter().map(|r| r.2).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.pcap");
    for n in 0..=pcap.len() {
        std::fs::write(&path, &pcap[..n]).unwrap();
        let what = format!("cut at byte {n}");
        let complete = ends.iter().filter(|&&e| e <= n).count() as u64;
        let at_boundary = n == PCAP_HEADER || ends.contains(&n);
        let expected = format!("truncated capture at byte {n} of");
        match track(&path, &what) {
            Ok(tracked) => {
                assert_sane(&tracked, &what);
                assert_eq!(
                    tracked.counts.frames, complete,
                    "{what}: the complete records"
                );
                match (&tracked.counts.cut_off, at_boundary) {
                    (None, true) => {}
                    (Some(cut), false) => {
                        assert!(cut.to_string().contains(&expected), "{what}: {cut}")
                    }
                    (cut, _) => {
                        panic!("{what}: cut_off {cut:?} at a record boundary: {at_boundary}")
                    }
                }
            }
            Err(e) => {
                assert_one_line(&e.to_string(), &what);
                assert!(!at_boundary && complete == 0, "{what}: {e}");
                assert!(e.to_string().contains(&expected), "{what}: {e}");
            }
        }
        if n % 97 == 0 {
            assert_binary_copes(&path, &what);
        }
    }
}

/// xorshift64: the same "random" damage on every run.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

#[test]
fn flipped_bits_in_headers_and_frames_never_panic() {
    let pcap = sample_pcap();
    let spans = records(&pcap);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flipped.pcap");
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let (mut read, mut refused) = (0, 0);
    for variant in 0..2_400 {
        let mut damaged = pcap.clone();
        let mut flipped = Vec::new();
        for _ in 0..1 + rng.below(3) {
            let (header, data, end) = spans[rng.below(spans.len())];
            let at = match variant % 8 {
                0 => rng.below(PCAP_HEADER),
                1 | 2 => header + rng.below(RECORD_HEADER),
                _ => data + rng.below(end - data),
            };
            let bit = rng.below(8);
            damaged[at] ^= 1 << bit;
            flipped.push((at, bit));
        }
        std::fs::write(&path, &damaged).unwrap();
        let what = format!("variant {variant}, flipped (byte, bit) {flipped:?}");
        match track(&path, &what) {
            Ok(tracked) => {
                assert_sane(&tracked, &what);
                read += 1;
            }
            Err(e) => {
                assert_one_line(&e.to_string(), &what);
                refused += 1;
            }
        }
        if variant % 300 == 0 {
            assert_binary_copes(&path, &what);
        }
    }
    println!("flipped bits: {read} captures read, {refused} refused with one-line errors");
    assert!(read > refused, "most single-bit damage still reads");
}

/// A pcapng file with one Ethernet interface whose timestamps count whole seconds
/// (`if_tsresol` = 10^0), holding `frames` at these raw 64-bit timestamps.
fn pcapng_in_seconds(frames: &[(u64, &[u8])]) -> Vec<u8> {
    fn block(kind: u32, body: &[u8]) -> Vec<u8> {
        let len = (12 + body.len()) as u32;
        let mut b = kind.to_le_bytes().to_vec();
        b.extend_from_slice(&len.to_le_bytes());
        b.extend_from_slice(body);
        b.extend_from_slice(&len.to_le_bytes());
        b
    }
    let mut shb = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&[1, 0, 0, 0]);
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    let mut idb = 1u16.to_le_bytes().to_vec();
    idb.extend_from_slice(&[0, 0]);
    idb.extend_from_slice(&65_535u32.to_le_bytes());
    // Option 9 (if_tsresol), length 1, value 0, padded; then the end of options.
    idb.extend_from_slice(&[9, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let mut out = block(0x0a0d_0d0a, &shb);
    out.extend(block(1, &idb));
    for (t, frame) in frames {
        let mut epb = 0u32.to_le_bytes().to_vec();
        epb.extend_from_slice(&((t >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(*t as u32).to_le_bytes());
        epb.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        epb.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        epb.extend_from_slice(frame);
        epb.resize(epb.len().next_multiple_of(4), 0);
        out.extend(block(6, &epb));
    }
    out
}

/// libpcap hands pcapng timestamps past 2^63 s on as a negative `tv_sec`, which `Ts::from_parts`
/// saturates to `i64::MIN`: differences between such timestamps must neither overflow (a panic in
/// debug builds) nor wrap into a nonsense handshake time.
#[test]
fn timestamps_beyond_the_nanosecond_range_do_not_overflow() {
    let mut f = Frames::new();
    let mut a = Flow::new("127.0.0.1:40000", "127.0.0.1:8080", 1, 1);
    f.handshake(&mut a);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("far.pcapng");
    let pcapng = pcapng_in_seconds(&[(1, &f.frames[0].1), (1 << 63, &f.frames[1].1)]);
    std::fs::write(&path, pcapng).unwrap();
    let tracked = track_file(&path, None).unwrap();
    assert_sane(&tracked, "SYN at 1 s, SYN-ACK at 2^63 s");
}

const LINK_TYPES: [LinkType; 8] = [
    LinkType::Ethernet,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::RawIp,
    LinkType::Ipv4,
    LinkType::Ipv6,
    LinkType::Null,
    LinkType::Loop,
];

/// `ip` (an IPv4 or IPv6 packet) framed for `link`, as a capture on that link stores it.
fn framed(link: LinkType, ip: &[u8]) -> Vec<u8> {
    let v6 = ip.first().is_some_and(|b| b >> 4 == 6);
    let ether_type: u16 = if v6 { 0x86dd } else { 0x0800 };
    let mut out = match link {
        LinkType::Ethernet => {
            let mut h = vec![2; 12];
            h.extend_from_slice(&ether_type.to_be_bytes());
            h
        }
        LinkType::LinuxSll => {
            // Packet type "to us", ARPHRD_ETHER, 6 address bytes padded to 8, protocol.
            let mut h = vec![0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0];
            h.extend_from_slice(&ether_type.to_be_bytes());
            h
        }
        LinkType::LinuxSll2 => {
            let mut h = ether_type.to_be_bytes().to_vec();
            h.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0]);
            h
        }
        LinkType::RawIp | LinkType::Ipv4 | LinkType::Ipv6 => Vec::new(),
        LinkType::Null => (if v6 { 30u32 } else { 2 }).to_le_bytes().to_vec(),
        LinkType::Loop => (if v6 { 24u32 } else { 2 }).to_be_bytes().to_vec(),
    };
    out.extend_from_slice(ip);
    out
}

/// Found by the property test below: etherparse's SLL parser refuses every ARP hardware type but
/// Ethernet, netlink, IPGRE, radiotap and FRAD, and `decode` calls any refusal `Truncated`. A
/// `tcpdump -i any -y LINUX_SLL` capture of loopback traffic (ARPHRD_LOOPBACK, 772) thus shows
/// 0 TCP packets, all of them "truncated".
#[test]
fn linux_sll_frames_of_loopback_traffic_decode_as_tcp() {
    let mut frame = framed(
        LinkType::LinuxSll,
        &tcp_packet(false, (40000, 8080), 1, 0, 1, &[]),
    );
    frame[2..4].copy_from_slice(&772u16.to_be_bytes());
    let decoded = decode(LinkType::LinuxSll, Ts(7), &frame, frame.len() as u32);
    assert!(matches!(decoded, Decoded::Tcp(_)), "{decoded:?}");
}

fn flags_of(bits: u8) -> TcpFlags {
    TcpFlags {
        syn: bits & 1 != 0,
        ack: bits & 2 != 0,
        fin: bits & 4 != 0,
        rst: bits & 8 != 0,
        psh: bits & 16 != 0,
    }
}

/// An IPv4 or IPv6 TCP packet with these fields.
fn tcp_packet(
    v6: bool,
    ports: (u16, u16),
    seq: u32,
    ack: u32,
    bits: u8,
    payload: &[u8],
) -> Vec<u8> {
    let ip = if v6 {
        PacketBuilder::ipv6([0xfd; 16], [0xfe; 16], 64)
    } else {
        PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
    };
    let f = flags_of(bits);
    let mut b = ip.tcp(ports.0, ports.1, seq, 1024);
    if f.syn {
        b = b.syn();
    }
    if f.ack {
        b = b.ack(ack);
    }
    if f.fin {
        b = b.fin();
    }
    if f.rst {
        b = b.rst();
    }
    if f.psh {
        b = b.psh();
    }
    let mut out = Vec::new();
    b.write(&mut out, payload).expect("build packet");
    out
}

/// Segments among three clients (one IPv6) and one server, so 4-tuples collide and reopen.
fn segment() -> impl Strategy<Value = (usize, bool, u8, u32, u32, u32, i64)> {
    (
        0usize..3,
        any::<bool>(),
        any::<u8>(),
        prop_oneof![0u32..8, u32::MAX - 4..=u32::MAX, any::<u32>()],
        prop_oneof![0u32..8, any::<u32>()],
        prop_oneof![Just(0u32), 1u32..1500, any::<u32>()],
        0i64..5_000_000,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn decoding_arbitrary_bytes_never_panics(
        link in 0usize..LINK_TYPES.len(),
        data in proptest::collection::vec(any::<u8>(), 0..160),
        ts in any::<i64>(),
        wire_len in any::<u32>(),
    ) {
        if let Decoded::Tcp(seg) = decode(LINK_TYPES[link], Ts(ts), &data, wire_len) {
            prop_assert_eq!(seg.wire_len, wire_len);
            prop_assert_eq!(seg.ts, Ts(ts));
        }
    }

    #[test]
    fn decoding_cut_or_damaged_tcp_frames_never_panics(
        link in 0usize..LINK_TYPES.len(),
        v6 in any::<bool>(),
        ports in (any::<u16>(), any::<u16>()),
        seq in any::<u32>(),
        ack in any::<u32>(),
        bits in 0u8..32,
        payload in proptest::collection::vec(any::<u8>(), 0..64),
        cut in any::<proptest::sample::Index>(),
        damage in proptest::collection::vec((any::<proptest::sample::Index>(), 1u8..=255), 0..4),
    ) {
        let link = LINK_TYPES[link];
        let frame = framed(link, &tcp_packet(v6, ports, seq, ack, bits, &payload));
        let wire_len = frame.len() as u32;
        // Whole and undamaged, it decodes to the segment that was built (on IPv4/IPv6-only
        // links, only packets of that family are expected).
        let family_fits = !matches!((link, v6), (LinkType::Ipv4, true) | (LinkType::Ipv6, false));
        if family_fits {
            match decode(link, Ts(7), &frame, wire_len) {
                Decoded::Tcp(seg) => {
                    let src = seg.key.source(seg.dir);
                    prop_assert_eq!(src.port(), ports.0);
                    prop_assert_eq!(seg.seq, seq);
                    prop_assert_eq!(seg.flags, flags_of(bits));
                    prop_assert_eq!(seg.payload_len as usize, payload.len());
                }
                other => prop_assert!(false, "{:?} on {:?}", other, link),
            }
        }
        let mut damaged = frame[..cut.index(frame.len() + 1)].to_vec();
        if !damaged.is_empty() {
            for (at, mask) in &damage {
                let i = at.index(damaged.len());
                damaged[i] ^= mask;
            }
        }
        let _ = decode(link, Ts(7), &damaged, wire_len);
    }

    #[test]
    fn quic_tracking_of_arbitrary_datagrams_never_panics(
        datagrams in proptest::collection::vec(
            (
                any::<bool>(),
                // Version 1 and 2 long headers, short headers, anything.
                prop_oneof![Just(vec![0xc0u8, 0, 0, 0, 1]), Just(vec![0xd0, 0x6b, 0x33, 0x43, 0xcf]),
                    Just(vec![0x40]), Just(vec![])],
                proptest::collection::vec(any::<u8>(), 0..80),
                0u32..100,
            ),
            0..40,
        ),
    ) {
        let client: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        let server: SocketAddr = "127.0.0.1:443".parse().unwrap();
        let mut tracker = QuicTracker::new();
        let mut read = 0u64;
        for (i, (from_client, prefix, rest, beyond)) in datagrams.iter().enumerate() {
            let (key, dir) = if *from_client {
                FlowKey::of(client, server)
            } else {
                FlowKey::of(server, client)
            };
            let mut payload = prefix.clone();
            payload.extend_from_slice(rest);
            // The wire may hold more than the capture (the snap length).
            let datagram = Datagram {
                ts: Ts(i as i64 * 1_000),
                key,
                dir,
                payload_len: payload.len() as u32 + beyond,
                wire_len: payload.len() as u32 + beyond + 28,
            };
            read += u64::from(tracker.push(&datagram, &payload));
        }
        let capture = tracker.finish();
        prop_assert_eq!(capture.datagrams, read);
        let of_connections: u64 = capture.connections.iter().map(|c| c.datagrams()).sum();
        prop_assert_eq!(of_connections + capture.unattributed + capture.malformed, read);
        for (i, c) in capture.connections.iter().enumerate() {
            prop_assert_eq!(c.number, i);
            prop_assert!(c.first_packet <= c.last_packet);
            prop_assert!(c.handshake_s().is_none_or(f64::is_finite));
        }
    }

    #[test]
    fn tracking_arbitrary_segments_never_panics(
        segments in proptest::collection::vec(segment(), 0..80),
    ) {
        let clients: [SocketAddr; 3] = [
            "127.0.0.1:40000".parse().unwrap(),
            "127.0.0.1:40001".parse().unwrap(),
            "[::1]:40000".parse().unwrap(),
        ];
        let servers: [SocketAddr; 3] = [
            "127.0.0.1:8080".parse().unwrap(),
            "127.0.0.1:8080".parse().unwrap(),
            "[::1]:8080".parse().unwrap(),
        ];
        let mut tracker = Tracker::new();
        let mut ts = Ts(1_700_000_000_000_000_000);
        for &(pair, from_client, bits, seq, ack, payload_len, gap) in &segments {
            let (src, dst) = if from_client {
                (clients[pair], servers[pair])
            } else {
                (servers[pair], clients[pair])
            };
            let (key, dir) = FlowKey::of(src, dst);
            ts = Ts(ts.0 + gap);
            tracker.push(&Segment {
                ts,
                key,
                dir,
                seq,
                ack,
                flags: flags_of(bits),
                window: (seq % 3) as u16,
                payload_len,
                wire_len: payload_len.saturating_add(66),
                http: None,
                mss: None,
                window_scale: None,
            });
        }
        let connections = tracker.finish();
        let totals = Totals::of(connections.iter().map(|c| &c.counts));
        prop_assert_eq!(totals.counts.packets, segments.len() as u64);
        prop_assert_eq!(totals.connections as usize, connections.len());
        for (i, c) in connections.iter().enumerate() {
            prop_assert_eq!(c.stream, i);
            prop_assert!(c.counts.packets >= 1 && c.first_ts <= c.last_ts);
            prop_assert!(c.handshake_s().is_none_or(f64::is_finite));
            prop_assert!(c.teardown_s().is_none_or(f64::is_finite));
        }
        let timelines: Vec<_> = connections.iter().map(ConnectionTimeline::from_capture).collect();
        let phases = Phases::partition(&timelines);
        prop_assert!(phases.partition_sum().is_finite() && phases.timeline_s.is_finite());
    }
}

#[test]
fn a_damaged_record_mid_file_still_shows_the_packets_before_it() {
    let pcap = sample_pcap();
    let spans = records(&pcap);
    // The fourth record's captured length becomes absurd: libpcap refuses the file from there.
    let (header, _, _) = spans[3];
    let mut damaged = pcap.clone();
    damaged[header + 8..header + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.pcap");
    std::fs::write(&path, &damaged).unwrap();
    let out = common::synack().arg("analyze").arg(&path).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The tables of the three good packets, then one line saying where the file broke.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stdout.contains("3 packets"), "{stdout}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("the 3 packets before it"), "{stderr}");
}
