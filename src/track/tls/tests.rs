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

// Tests for TLS 1.2.

#[test]
fn tls12_full_handshake_counts_every_plaintext_message() {
    let c = tls12_full(1000);
    let h = c.tls();
    assert_eq!(h.version, Some(ProtocolVersion::TLS_1_2));
    assert_eq!(
        types(&h),
        vec![(1, 1), (2, 1), (4, 1), (11, 1), (12, 1), (14, 1), (16, 1)]
    );
    assert_eq!((h.client_hellos(), h.server_hellos()), (1, 1));
    assert_eq!(h.resumption, None);
    assert_eq!(h.client_hello, Some(c.ts(2)));
    assert_eq!(h.server_hello, Some(c.ts(3)));
    assert_eq!(h.client_finished, Some(c.ts(4)));
    assert_eq!(h.client_first_data, Some(c.ts(6)));
    assert_eq!(h.server_first_data, Some(c.ts(7)));
    assert_eq!(h.handshake_s(), Some(c.ts(6).secs_since(c.ts(2))));
    assert_eq!(h.records.change_cipher_spec, 2);
    assert_eq!(h.records.handshake, 6);
    assert_eq!(h.records.application_data, 2);
    assert_eq!(
        (h.client_stop, h.server_stop),
        (Some(ReadStop::Done), Some(ReadStop::Done))
    );
}

#[test]
fn records_and_messages_split_across_segments_read_the_same() {
    let whole = tls12_full(1000).tls();
    for size in [1, 3, 5, 7, 60] {
        let split = tls12_full(size).tls();
        assert_eq!(types(&split), types(&whole), "segments of {size} bytes");
        assert_eq!(split.version, whole.version);
        assert_eq!(split.records, whole.records);
    }
}

#[test]
fn a_resent_segment_is_read_once() {
    let mut c = Conversation::new();
    c.c(&ch_record(&[], &[]))
        .resend_last()
        .s(&tls12_server_flight(&[]))
        .resend_last();
    let h = c.tls();
    assert_eq!(types(&h), vec![(1, 1), (2, 1), (11, 1), (12, 1), (14, 1)]);
    assert_eq!(h.client_hello, Some(c.ts(2)));
}

#[test]
fn a_reordered_segment_waits_for_the_one_before_it() {
    let mut c = Conversation::new();
    let flight = tls12_server_flight(&[]);
    c.c(&ch_record(&[], &[]))
        .send_in(false, &flight, 800)
        .reorder_last_two();
    let h = c.tls();
    assert_eq!(types(&h), vec![(1, 1), (2, 1), (11, 1), (12, 1), (14, 1)]);
    assert_eq!(h.server_stop, None);
}

#[test]
fn a_missing_segment_stops_reading_that_direction() {
    let mut c = Conversation::new();
    let flight = tls12_server_flight(&[]);
    c.c(&ch_record(&[], &[]))
        .send(false, &flight[..100])
        .send(false, &flight[100..200])
        .lose_last()
        .send(false, &flight[200..]);
    for _ in 0..70 {
        c.s(&record(APPLICATION_DATA, &[0; 10]));
    }
    let h = c.tls();
    // The ServerHello was whole in the first segment; nothing after the hole is read.
    assert_eq!(types(&h), vec![(1, 1), (2, 1)]);
    assert_eq!(h.server_stop, Some(ReadStop::Gap));
    assert_eq!(h.server_first_data, None);
}

#[test]
fn a_hello_cut_by_the_snap_length_is_not_counted() {
    let mut c = Conversation::new();
    let hello = ch_record(&[], &[]);
    c.send_cut(true, &hello, 20);
    let h = c.tls();
    assert_eq!(types(&h), vec![]);
    assert!(h.client_cut);
    // Timed from its header all the same.
    assert_eq!(h.client_hello, Some(c.ts(2)));
}

#[test]
fn hellos_cut_by_the_snap_length_make_no_early_data_and_keep_the_response() {
    // Both hellos cut after their headers, as `tcpdump -s 96` keeps them: whether the client
    // offered early data is not known, and the server has answered all the same.
    let mut c = Conversation::new();
    c.send_cut(true, &ch_record(&[], &[10, 13]), 20)
        .send_cut(false, &tls12_server_flight(&[3; 32]), 20)
        .c(&tls12_client_finish())
        .s(&[
            record(CHANGE_CIPHER_SPEC, &[1]),
            record(HANDSHAKE, &[0xee; 40]),
        ]
        .concat())
        .c(&record(APPLICATION_DATA, &[0xaa; 100]))
        .s(&record(APPLICATION_DATA, &[0xbb; 3000]));
    let conn = c.track();
    let h = conn.tls().expect("TLS");
    assert!(h.client_cut && h.server_cut);
    assert_eq!(h.early_data_records, 0);
    assert_eq!(h.client_first_data, Some(c.ts(6)));
    assert_eq!(h.server_first_data, Some(c.ts(7)));
    assert_eq!(conn.exchanges.len(), 1);
    assert_eq!(conn.exchanges[0].first_response, Some(c.ts(7)));
}

#[test]
fn a_cut_tls13_server_hello_leaves_the_servers_data_unknown_not_wrong() {
    // TLS 1.3 sends type-23 records where TLS 1.2 sends its Finished: with the version cut off,
    // the server's first such record may be its encrypted handshake or a session ticket.
    let mut c = Conversation::new();
    c.send_cut(true, &ch_record(&[], &[43, 51]), 20)
        .send_cut(
            false,
            &[
                sh_record(&[], true, false, false),
                record(CHANGE_CIPHER_SPEC, &[1]),
                record(APPLICATION_DATA, &[0xe0; 900]),
            ]
            .concat(),
            20,
        )
        .c(&tls13_client_finished_and_request())
        .s(&record(APPLICATION_DATA, &[0x7a; 200]))
        .s(&record(APPLICATION_DATA, &[0xbb; 3000]));
    let h = c.tls();
    assert_eq!(h.early_data_records, 0);
    assert_eq!(h.server_first_data, None);
}

#[test]
fn cut_bytes_inside_a_certificate_are_passed_over() {
    let mut c = Conversation::new();
    c.c(&ch_record(&[], &[]));
    // 500-byte segments of which 300 are captured: the cuts fall inside the Certificate's body,
    // and every message header is in a captured part.
    for chunk in tls12_server_flight(&[]).chunks(500) {
        c.send_cut(false, chunk, 300);
    }
    let h = c.tls();
    assert_eq!(types(&h), vec![(1, 1), (2, 1), (11, 1), (12, 1), (14, 1)]);
    assert!(!h.server_cut);
}

#[test]
fn after_a_cut_record_header_reading_resumes_at_a_segment_starting_a_record() {
    let mut c = Conversation::new();
    c.c(&ch_record(&[1; 32], &[43]))
        .send_cut(
            false,
            &[
                sh_record(&[1; 32], true, false, false),
                record(CHANGE_CIPHER_SPEC, &[1]),
                record(APPLICATION_DATA, &[0xe1; 900]),
                record(APPLICATION_DATA, &[0xe2; 900]),
            ]
            .concat(),
            150,
        )
        .c(&tls13_client_finished_and_request())
        .s(&record(APPLICATION_DATA, &[0xbb; 200]));
    let h = c.tls();
    assert_eq!(types(&h), vec![(1, 1), (2, 1)]);
    assert!(h.server_cut && !h.client_cut);
    assert_eq!(h.client_finished, Some(c.ts(4)));
    assert_eq!(h.server_first_data, Some(c.ts(5)));
    assert_eq!(h.server_stop, Some(ReadStop::Done));
}

#[test]
fn tls12_resumption_by_session_id() {
    let mut c = Conversation::new();
    c.c(&ch_record(&[7; 32], &[35])).s(&[
        sh_record(&[7; 32], false, false, false),
        record(CHANGE_CIPHER_SPEC, &[1]),
        record(HANDSHAKE, &[0xee; 40]),
    ]
    .concat());
    assert_eq!(c.tls().resumption, Some(Resumption::SessionId));
}

#[test]
fn tls12_resumption_with_a_ticket() {
    // The ClientHello carries a ticket (RFC 5077) and a fresh session id; the server accepts the
    // ticket by echoing that id.
    let hello = client_hello_with(&[7; 32], &[(35, &[0xab; 192])]);
    let mut c = Conversation::new();
    c.c(&handshake_record(&[message(CLIENT_HELLO, &hello)]))
        .s(&[
            sh_record(&[7; 32], false, false, false),
            record(CHANGE_CIPHER_SPEC, &[1]),
            record(HANDSHAKE, &[0xee; 40]),
        ]
        .concat());
    assert_eq!(c.tls().resumption, Some(Resumption::Ticket));
}

#[test]
fn tls12_resumption_without_a_certificate() {
    let mut c = Conversation::new();
    c.c(&ch_record(&[], &[35])).s(&[
        sh_record(&[9; 32], false, false, false),
        record(CHANGE_CIPHER_SPEC, &[1]),
    ]
    .concat());
    assert_eq!(c.tls().resumption, Some(Resumption::NoCertificate));
}

// Tests for TLS 1.3.

#[test]
fn tls13_retry_resumption_and_early_data() {
    let mut c = Conversation::new();
    c.c(&ch_record(&[1; 32], &[43, 42, 41]))
        .c(&record(APPLICATION_DATA, &[0xea; 200])) // 0-RTT request (segment 3)
        .s(&[
            sh_record(&[1; 32], true, false, true),
            record(CHANGE_CIPHER_SPEC, &[1]),
        ]
        .concat())
        .c(&[
            record(CHANGE_CIPHER_SPEC, &[1]),
            ch_record(&[1; 32], &[43, 41]),
        ]
        .concat())
        .s(&[
            sh_record(&[1; 32], true, true, false),
            record(APPLICATION_DATA, &[0xe1; 90]), // EncryptedExtensions … Finished
        ]
        .concat()) // segment 6
        .c(&record(APPLICATION_DATA, &[0xf1; 53])) // Finished (segment 7)
        .c(&record(APPLICATION_DATA, &[0xaa; 80])) // request
        .s(&record(APPLICATION_DATA, &[0xbb; 200])); // ticket or response (segment 9)
    let h = c.tls();
    assert_eq!(h.version, Some(ProtocolVersion::TLS_1_3));
    assert_eq!(types(&h), vec![(1, 2), (2, 2)]);
    assert_eq!(
        (h.client_hellos(), h.server_hellos(), h.hello_retry_requests),
        (2, 1, 1)
    );
    assert_eq!(h.resumption, Some(Resumption::PreSharedKey));
    assert!(h.early_data_offered);
    assert_eq!(h.early_data_records, 1);
    assert_eq!(h.server_hello, Some(c.ts(6)));
    assert_eq!(h.client_finished, Some(c.ts(7)));
    assert_eq!(h.client_first_data, Some(c.ts(3)));
    assert_eq!(h.server_first_data, Some(c.ts(9)));
}

/// A resumed TLS 1.3 connection whose 0-RTT request (segment 3) the server answers with its
/// flight (segment 4), before the client's EndOfEarlyData (segment 5) and Finished (segment 6).
fn early_data_answered() -> Conversation {
    let mut c = Conversation::new();
    c.c(&ch_record(&[1; 32], &[43, 42, 41]))
        .c(&record(APPLICATION_DATA, &[0xea; 120]))
        .s(&[
            sh_record(&[1; 32], true, true, false),
            record(CHANGE_CIPHER_SPEC, &[1]),
            record(APPLICATION_DATA, &[0xe1; 60]), // EncryptedExtensions, Finished
            record(APPLICATION_DATA, &[0xd1; 300]), // the answer, 0.5-RTT data
        ]
        .concat())
        .c(&record(APPLICATION_DATA, &[0xf1; 21]))
        .c(&record(APPLICATION_DATA, &[0xf2; 53]));
    c
}

#[test]
fn tls13_early_data_answered_before_the_clients_finished() {
    let c = early_data_answered();
    let h = c.tls();
    assert_eq!(h.early_data_records, 1);
    assert_eq!(h.client_first_data, Some(c.ts(3)));
    assert_eq!(
        h.server_first_data,
        Some(c.ts(4)),
        "the answer left with the server's flight"
    );
    // EndOfEarlyData, shorter than any Finished, is not taken for it.
    assert_eq!(h.client_finished, Some(c.ts(6)));
    // The records that end the client's handshake after its early data are no second request.
    let conn = c.track();
    assert_eq!(conn.exchanges.len(), 1, "{:?}", conn.exchanges);
    assert_eq!(conn.exchanges[0].request, c.ts(3));
}

#[test]
fn tls13_requests_after_early_data_are_requests() {
    let mut c = early_data_answered();
    c.c(&record(APPLICATION_DATA, &[0xab; 120])) // a second request (segment 7)
        .s(&record(APPLICATION_DATA, &[0xd2; 300]));
    let conn = c.track();
    let requests: Vec<_> = conn.exchanges.iter().map(|x| x.request).collect();
    assert_eq!(requests, [c.ts(3), c.ts(7)]);
}

#[test]
fn tls13_full_handshake_times_the_request_after_the_finished() {
    let mut c = Conversation::new();
    c.c(&ch_record(&[1; 32], &[43]))
        .s(&[
            sh_record(&[1; 32], true, false, false),
            record(CHANGE_CIPHER_SPEC, &[1]),
            record(APPLICATION_DATA, &[0xe1; 900]),
        ]
        .concat())
        .c(&tls13_client_finished_and_request())
        .s(&record(APPLICATION_DATA, &[0xbb; 200]));
    let h = c.tls();
    assert_eq!(h.resumption, None);
    assert_eq!((h.early_data_offered, h.early_data_records), (false, 0));
    assert_eq!(h.client_finished, Some(c.ts(4)));
    assert_eq!(h.client_first_data, Some(c.ts(4)));
    assert_eq!(h.server_first_data, Some(c.ts(5)));
    assert_eq!(h.handshake_s(), Some(c.ts(4).secs_since(c.ts(2))));
}

#[test]
fn a_client_hello_on_the_syn_is_read() {
    let mut c = Conversation::with_syn_data(&ch_record(&[], &[43]));
    c.s(&[
        sh_record(&[], true, false, false),
        record(CHANGE_CIPHER_SPEC, &[1]),
        record(APPLICATION_DATA, &[0xe1; 900]),
    ]
    .concat())
        .c(&tls13_client_finished_and_request());
    let conn = c.track();
    assert_eq!(conn.syn_data, ch_record(&[], &[43]).len() as u64);
    let h = conn.tls().unwrap();
    assert_eq!(h.client_hello, Some(c.ts(0)));
    assert_eq!(h.version, Some(ProtocolVersion::TLS_1_3));
    assert_eq!(h.client_first_data, Some(c.ts(3)));
}

// Tests for what is not TLS.

#[test]
fn a_plain_http_connection_has_no_tls() {
    let mut c = Conversation::new();
    c.c(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .s(&[HANDSHAKE, 3, 3, 0, 1, 0]);
    assert!(c.track().tls().is_none());
}

#[test]
fn without_captured_payload_there_is_no_tls() {
    let mut c = tls12_full(1000);
    for (_, bytes) in &mut c.segs {
        bytes.clear();
    }
    assert!(c.track().tls().is_none());
}

// Reading arbitrary bytes.

mod arbitrary {
    use proptest::prelude::*;

    use super::*;

    /// Bytes that start like TLS records, then anything: record headers with random lengths,
    /// handshake headers, and noise.
    fn stream() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![
                (20u8..=24, 0u8..=4, 0u16..600).prop_map(|(t, minor, len)| {
                    let mut r = vec![t, 3, minor];
                    r.extend_from_slice(&len.to_be_bytes());
                    r
                }),
                (0u8..=24, 0u32..400).prop_map(|(t, len)| {
                    let mut m = vec![t];
                    m.extend_from_slice(&len.to_be_bytes()[1..]);
                    m
                }),
                proptest::collection::vec(any::<u8>(), 0..80),
            ],
            1..24,
        )
        .prop_map(|pieces| {
            let mut bytes = vec![HANDSHAKE, 3, 3];
            bytes.extend(pieces.concat());
            bytes
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// Cut into segments of any size, sent each way, some resent, reordered or cut by a
        /// snap length: reading never panics, and what it counts is consistent.
        #[test]
        fn reading_arbitrary_records_never_panics(
            client in stream(),
            server in stream(),
            cuts in proptest::collection::vec((1usize..300, any::<bool>(), 0u8..4), 1..40),
        ) {
            let mut c = Conversation::new();
            let (mut at_client, mut at_server) = (0usize, 0usize);
            for (size, from_client, what) in cuts {
                let (bytes, at) = if from_client {
                    (&client, &mut at_client)
                } else {
                    (&server, &mut at_server)
                };
                if *at >= bytes.len() {
                    continue;
                }
                let end = (*at + size).min(bytes.len());
                let chunk = bytes[*at..end].to_vec();
                *at = end;
                match what {
                    0 => { c.send(from_client, &chunk); }
                    1 => { c.send(from_client, &chunk).resend_last(); }
                    2 => { c.send_cut(from_client, &chunk, size / 3); }
                    _ => {
                        c.send(from_client, &chunk);
                        if c.segs.len() > 3 {
                            c.reorder_last_two();
                        }
                    }
                }
            }
            let conn = c.track();
            if let Some(h) = conn.tls() {
                prop_assert!(h.server_hellos() + h.hello_retry_requests == h.messages.get(SERVER_HELLO));
                // No invariant ties the ClientHello's time to its count: it is timed from its
                // header (a cut may leave it uncounted), and garbage from the server may carry
                // its message type (counted, untimed).
                if let (Some(first), Some(hello)) = (h.client_first_data, h.client_hello) {
                    prop_assert!(first >= hello || h.early_data_records > 0 || h.client_cut);
                }
            }
        }
    }
}
