//! Decoding and tracking never panic: frames of any bytes, on any link type, through the
//! `Decoder`, the `Tracker` and the `QuicTracker`, totals and phases.
//!
//! Input: one link-type selector byte, then frames, each a 2-byte big-endian length and that many
//! bytes (the last one takes what is left). Frames are 1 µs apart.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synack::analysis::phases::{ConnectionTimeline, Phases};
use synack::capture::decode::{Decoded, Decoder, LinkType};
use synack::timeline::Ts;
use synack::track::quic::QuicTracker;
use synack::track::{Totals, Tracker};

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

fuzz_target!(|data: &[u8]| {
    let Some((&selector, mut rest)) = data.split_first() else {
        return;
    };
    let link = LINK_TYPES[usize::from(selector) % LINK_TYPES.len()];
    let mut tracker = Tracker::new();
    let mut quic = QuicTracker::new();
    let mut decoder = Decoder::new(link);
    let mut ts = Ts(1_700_000_000_000_000_000);
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let frame = &rest[2..2 + len];
        rest = &rest[2 + len..];
        // The wire length is at least the captured length; the selector's high bit makes it
        // larger, as a short snap length does.
        let wire_len = frame.len() as u32 + if selector & 0x80 != 0 { 1500 } else { 0 };
        let decoded = decoder.decode_frame(ts, frame, wire_len);
        match decoded.decoded {
            Decoded::Tcp(seg) => {
                assert!(seg.wire_len >= frame.len() as u32);
                tracker.push_with_payload(&seg, decoded.payload);
            }
            Decoded::Udp(datagram) => {
                assert!(decoded.payload.len() <= datagram.payload_len as usize);
                quic.push(&datagram, decoded.payload);
            }
            _ => {}
        }
        ts.0 += 1_000;
    }
    let quic = quic.finish();
    for (i, c) in quic.connections.iter().enumerate() {
        assert_eq!(c.number, i);
        let _ = (c.handshake_s(), c.duration_s(), c.early_data());
    }
    let connections = tracker.finish();
    let totals = Totals::of(connections.iter().map(|c| &c.counts));
    assert_eq!(totals.connections as usize, connections.len());
    for (i, c) in connections.iter().enumerate() {
        assert_eq!(c.stream, i);
        let _ = (c.handshake_s(), c.teardown_s(), c.final_state());
    }
    let timelines: Vec<ConnectionTimeline> = connections
        .iter()
        .map(ConnectionTimeline::from_capture)
        .collect();
    let phases = Phases::partition(&timelines);
    assert!(phases.timeline_s.is_finite() && phases.partition_sum().is_finite());
});
