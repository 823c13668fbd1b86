//! Reading HTTP/2 never panics: a connection that opens with the client preface, then any bytes
//! each way in segments of any size, some resent or cut by a snap length, through the `Tracker`,
//! its HTTP/2 reader and the JSON view.
//!
//! Input: one byte of segment size (1 to 256), then a client and a server stream separated by the
//! first 0xff 0x00 pair (the client's bytes follow the preface). Segments alternate, client first;
//! the selector's high bit resends every third and cuts every fifth to a third of its bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synack::capture::segment::{FlowKey, Segment, TcpFlags};
use synack::report::json;
use synack::timeline::Ts;
use synack::track::Tracker;
use synack::track::http2::{FrameCounts, Http2Seen};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let size = usize::from(selector & 0x7f) * 2 + 1;
    let damage = selector & 0x80 != 0;
    let split = rest.windows(2).position(|w| w == [0xff, 0]).unwrap_or(rest.len());
    let client = [PREFACE, &rest[..split]].concat();
    let server = rest.get(split + 2..).unwrap_or_default();
    let (c, s) = ("127.0.0.1:40000".parse().unwrap(), "127.0.0.1:80".parse().unwrap());
    let mut tracker = Tracker::new();
    let mut ts = Ts(1_700_000_000_000_000_000);
    let mut next = [1000u32, 5000u32];
    let mut push = |tracker: &mut Tracker, from_client: bool, syn: bool, bytes: &[u8], n: usize| {
        let (src, dst) = if from_client { (c, s) } else { (s, c) };
        let (key, dir) = FlowKey::of(src, dst);
        let i = usize::from(!from_client);
        ts.0 += 1_000;
        let seg = Segment {
            ts,
            key,
            dir,
            seq: next[i],
            ack: 0,
            flags: TcpFlags {
                syn,
                ack: !(syn && from_client),
                ..TcpFlags::default()
            },
            window: 1000,
            payload_len: bytes.len() as u32,
            wire_len: 66 + bytes.len() as u32,
            http: None,
            mss: None,
            window_scale: None,
        };
        let captured = if damage && n % 5 == 4 { &bytes[..bytes.len() / 3] } else { bytes };
        tracker.push_with_payload(&seg, captured);
        if damage && n % 3 == 2 {
            tracker.push_with_payload(&seg, captured);
        }
        next[i] = next[i].wrapping_add(bytes.len() as u32 + u32::from(syn));
    };
    push(&mut tracker, true, true, &[], 0);
    push(&mut tracker, false, true, &[], 0);
    let mut chunks = (client.chunks(size), server.chunks(size));
    for n in 0.. {
        let (a, b) = (chunks.0.next(), chunks.1.next());
        if a.is_none() && b.is_none() {
            break;
        }
        if let Some(a) = a {
            push(&mut tracker, true, false, a, n);
        }
        if let Some(b) = b {
            push(&mut tracker, false, false, b, n);
        }
    }
    for conn in tracker.finish() {
        let _ = json::connection(&conn);
        if let Some(Http2Seen::Frames(f)) = conn.http2() {
            let mut by_stream = (FrameCounts::default(), FrameCounts::default());
            for st in f.streams().values() {
                by_stream.0.merge(&st.client);
                by_stream.1.merge(&st.server);
            }
            assert_eq!(by_stream, (f.client, f.server));
            assert_eq!(conn.requests().known(), Some(f.requests));
        }
    }
});
