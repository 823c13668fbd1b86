//! Tests of TLS counted on the wire: whole conversations built byte by byte and pushed through the
//! tracker, with records split across segments, several messages in a record, resent, reordered
//! and missing segments.

use std::net::SocketAddr;

use super::hello::fixtures::{client_hello, client_hello_with, server_hello};
use super::record::{
    APPLICATION_DATA, CERTIFICATE, CHANGE_CIPHER_SPEC, CLIENT_HELLO, HANDSHAKE, SERVER_HELLO,
};
use super::{ProtocolVersion, ReadStop, Resumption, TlsHandshake};
use crate::capture::segment::{FlowKey, Segment, TcpFlags};
use crate::timeline::Ts;
use crate::track::{Connection, Tracker};

const SERVER_KEY_EXCHANGE: u8 = 12;
const SERVER_HELLO_DONE: u8 = 14;
const CLIENT_KEY_EXCHANGE: u8 = 16;
const NEW_SESSION_TICKET: u8 = 4;

fn record(content_type: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![content_type, 3, 3];
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

fn message(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![msg_type];
    m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend_from_slice(body);
    m
}

fn handshake_record(messages: &[Vec<u8>]) -> Vec<u8> {
    record(HANDSHAKE, &messages.concat())
}

/// A record holding one ClientHello with `session_id` and extensions of these types.
fn ch_record(session_id: &[u8], extension_types: &[u16]) -> Vec<u8> {
    handshake_record(&[message(
        CLIENT_HELLO,
        &client_hello(session_id, extension_types),
    )])
}

/// A record holding one ServerHello (see `server_hello`).
fn sh_record(session_id: &[u8], tls13: bool, psk: bool, retry: bool) -> Vec<u8> {
    handshake_record(&[message(
        SERVER_HELLO,
        &server_hello(session_id, tls13, psk, retry),
    )])
}

/// A conversation: SYN, SYN-ACK, ACK, then payload each way; every segment 1 ms after the last.
struct Conversation {
    t: i64,
    client: SocketAddr,
    server: SocketAddr,
    /// The next sequence number of each side: client, server.
    next: [u32; 2],
    segs: Vec<(Segment, Vec<u8>)>,
}

impl Conversation {
    fn new() -> Conversation {
        Conversation::with_syn_data(&[])
    }

    /// A conversation whose SYN carries `data` (TCP Fast Open).
    fn with_syn_data(data: &[u8]) -> Conversation {
        let mut c = Conversation {
            t: 0,
            client: "127.0.0.1:40000".parse().unwrap(),
            server: "127.0.0.1:443".parse().unwrap(),
            next: [100, u32::MAX - 10],
            segs: Vec::new(),
        };
        c.segment(true, true, c.next[0], data, data.len() as u32);
        c.segment(false, true, c.next[1], &[], 0);
        c.next = [c.next[0] + 1 + data.len() as u32, c.next[1].wrapping_add(1)];
        c
    }

    fn segment(&mut self, from_client: bool, syn: bool, seq: u32, bytes: &[u8], len: u32) {
        let (src, dst) = if from_client {
            (self.client, self.server)
        } else {
            (self.server, self.client)
        };
        let (key, dir) = FlowKey::of(src, dst);
        self.t += 1_000_000;
        let seg = Segment {
            ts: Ts(self.t),
            key,
            dir,
            seq,
            ack: 0,
            flags: TcpFlags {
                syn,
                ack: !(syn && from_client),
                ..TcpFlags::default()
            },
            window: 1000,
            payload_len: len,
            wire_len: 66 + len,
            http: None,
            mss: None,
            window_scale: None,
        };
        self.segs.push((seg, bytes.to_vec()));
    }

    fn side(from_client: bool) -> usize {
        usize::from(!from_client)
    }

    /// Sends `bytes` in one segment, next in sequence.
    fn send(&mut self, from_client: bool, bytes: &[u8]) -> &mut Conversation {
        let i = Self::side(from_client);
        let seq = self.next[i];
        self.segment(from_client, false, seq, bytes, bytes.len() as u32);
        self.next[i] = seq.wrapping_add(bytes.len() as u32);
        self
    }

    /// Sends `bytes` in one segment of which the capture keeps the first `kept`.
    fn send_cut(&mut self, from_client: bool, bytes: &[u8], kept: usize) -> &mut Conversation {
        self.send(from_client, bytes);
        if let Some((_, captured)) = self.segs.last_mut() {
            captured.truncate(kept);
        }
        self
    }

    /// Sends `bytes` in segments of at most `size` bytes.
    fn send_in(&mut self, from_client: bool, bytes: &[u8], size: usize) -> &mut Conversation {
        for chunk in bytes.chunks(size) {
            self.send(from_client, chunk);
        }
        self
    }

    fn c(&mut self, bytes: &[u8]) -> &mut Conversation {
        self.send(true, bytes)
    }

    fn s(&mut self, bytes: &[u8]) -> &mut Conversation {
        self.send(false, bytes)
    }

    /// Sends the last segment again.
    fn resend_last(&mut self) -> &mut Conversation {
        let (seg, bytes) = self.segs.last().cloned().unwrap();
        self.t += 1_000_000;
        self.segs.push((
            Segment {
                ts: Ts(self.t),
                ..seg
            },
            bytes,
        ));
        self
    }

    /// Swaps the last two segments (the later one seen first).
    fn reorder_last_two(&mut self) -> &mut Conversation {
        let n = self.segs.len();
        self.segs.swap(n - 1, n - 2);
        let (a, b) = (self.segs[n - 2].0.ts, self.segs[n - 1].0.ts);
        self.segs[n - 2].0.ts = a.min(b);
        self.segs[n - 1].0.ts = a.max(b);
        self
    }

    /// Drops the last segment from the capture (the sender's bytes stay sent).
    fn lose_last(&mut self) -> &mut Conversation {
        self.segs.pop();
        self
    }

    /// The time of segment `i`, from 0 (the SYN).
    fn ts(&self, i: usize) -> Ts {
        self.segs[i].0.ts
    }

    fn track(&self) -> Connection {
        let mut tracker = Tracker::new();
        for (seg, bytes) in &self.segs {
            tracker.push_with_payload(seg, bytes);
        }
        let mut conns = tracker.finish();
        assert_eq!(conns.len(), 1);
        conns.remove(0)
    }

    fn tls(&self) -> TlsHandshake {
        self.track()
            .tls()
            .expect("the connection speaks TLS")
            .clone()
    }
}

fn types(h: &TlsHandshake) -> Vec<(u8, u32)> {
    h.messages.iter().collect()
}

/// A TLS 1.3 client's second flight: ChangeCipherSpec, its Finished and a request.
fn tls13_client_finished_and_request() -> Vec<u8> {
    [
        record(CHANGE_CIPHER_SPEC, &[1]),
        record(APPLICATION_DATA, &[0xf1; 53]),
        record(APPLICATION_DATA, &[0xaa; 80]),
    ]
    .concat()
}

/// The server's first flight of a full TLS 1.2 handshake: four messages in one record.
fn tls12_server_flight(session_id: &[u8]) -> Vec<u8> {
    handshake_record(&[
        message(SERVER_HELLO, &server_hello(session_id, false, false, false)),
        message(CERTIFICATE, &[0x5a; 1200]),
        message(SERVER_KEY_EXCHANGE, &[1; 300]),
        message(SERVER_HELLO_DONE, &[]),
    ])
}

/// A TLS 1.2 client's second flight: ClientKeyExchange, ChangeCipherSpec and its Finished.
fn tls12_client_finish() -> Vec<u8> {
    [
        handshake_record(&[message(CLIENT_KEY_EXCHANGE, &[2; 33])]),
        record(CHANGE_CIPHER_SPEC, &[1]),
        record(HANDSHAKE, &[0xee; 40]),
    ]
    .concat()
}

/// A full TLS 1.2 handshake and one exchange, the ClientHello in segments of `hello_segment`
/// bytes (SYN and SYN-ACK are segments 0 and 1).
fn tls12_full(hello_segment: usize) -> Conversation {
    let mut c = Conversation::new();
    let hello = ch_record(&[], &[10, 13]);
    c.send_in(true, &hello, hello_segment)
        .s(&tls12_server_flight(&[3; 32]))
        .c(&tls12_client_finish())
        .s(&[
            handshake_record(&[message(NEW_SESSION_TICKET, &[4; 150])]),
            record(CHANGE_CIPHER_SPEC, &[1]),
            record(HANDSHAKE, &[0xee; 40]),
        ]
        .concat())
        .c(&record(APPLICATION_DATA, &[0xaa; 100]))
        .s(&record(APPLICATION_DATA, &[0xbb; 3000]));
    c
}

mod not_tls;
mod tls12;
mod tls13;
