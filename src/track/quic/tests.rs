//! QUIC tracking on datagrams built packet by packet: Initials protected with the keys of the
//! client's Destination Connection ID, hellos built field by field.

use std::net::SocketAddr;

use super::connection::EarlyData;
use super::keys::InitialKeys;
use super::packet::ConnectionId;
use super::{QuicCapture, QuicTracker};
use crate::capture::segment::{Datagram, FlowKey};
use crate::timeline::Ts;
use crate::track::side::Side;
use crate::track::tls::hello::fixtures::{client_hello, server_hello};

const CLIENT: &str = "127.0.0.1:50000";
const SERVER: &str = "127.0.0.1:4433";
const ODCID: [u8; 8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];
const CLIENT_CID: [u8; 4] = [0xc1; 4];
const SERVER_CID: [u8; 8] = [0x5e; 8];

/// A handshake message in a CRYPTO frame at offset 0.
fn crypto(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut message = vec![msg_type, 0, (body.len() >> 8) as u8, body.len() as u8];
    message.extend_from_slice(body);
    let mut frame = vec![
        0x06,
        0x00,
        0x40 | (message.len() >> 8) as u8,
        message.len() as u8,
    ];
    frame.extend(message);
    frame
}

/// A long header of `type_bits` in version 1, up to a 2-byte packet number `pn`; `rest` is the
/// bytes after the packet number (with the tag, for protected ones).
fn long_header(type_bits: u8, dcid: &[u8], scid: &[u8], pn: u16, rest: usize) -> Vec<u8> {
    let mut h = vec![0xc1 | type_bits << 4, 0, 0, 0, 1, dcid.len() as u8];
    h.extend_from_slice(dcid);
    h.push(scid.len() as u8);
    h.extend_from_slice(scid);
    if type_bits == 0 {
        h.push(0); // no token
    }
    let length = 2 + rest;
    h.extend([0x40 | (length >> 8) as u8, length as u8]);
    h.extend(pn.to_be_bytes());
    h
}

/// An Initial `side` sends, protected with the keys of `keys_dcid`, its frames padded to 100
/// bytes.
fn initial(
    side: Side,
    keys_dcid: &[u8],
    dcid: &[u8],
    scid: &[u8],
    pn: u16,
    frames: &[u8],
) -> Vec<u8> {
    let mut plain = frames.to_vec();
    plain.resize(plain.len().max(100), 0);
    let keys = InitialKeys::derive(&ConnectionId::of(keys_dcid).unwrap(), 1).unwrap();
    let header = long_header(0, dcid, scid, pn, plain.len() + 16);
    keys.seal(side, &header, u64::from(pn), &plain)
}

/// A Handshake or 0-RTT packet (type bits 2 or 1) with `len` bytes after its packet number.
fn other_long(type_bits: u8, dcid: &[u8], scid: &[u8], len: usize) -> Vec<u8> {
    let mut p = long_header(type_bits, dcid, scid, 0, len);
    p.extend(std::iter::repeat_n(0x77, len));
    p
}

/// A short-header packet to `dcid` of `len` bytes in all.
fn short(dcid: &[u8], len: usize) -> Vec<u8> {
    let mut p = vec![0x41];
    p.extend_from_slice(dcid);
    p.resize(len, 0x99);
    p
}

/// Feeds datagrams (sender is the client?, bytes) 1 ms apart from `CLIENT`/`SERVER`.
fn track(datagrams: &[(bool, Vec<u8>)]) -> (QuicCapture, Vec<bool>) {
    let client: SocketAddr = CLIENT.parse().unwrap();
    let server: SocketAddr = SERVER.parse().unwrap();
    let mut tracker = QuicTracker::new();
    let mut read = Vec::new();
    for (i, (from_client, bytes)) in datagrams.iter().enumerate() {
        let (src, dst) = if *from_client {
            (client, server)
        } else {
            (server, client)
        };
        let (key, dir) = FlowKey::of(src, dst);
        let datagram = Datagram {
            ts: Ts(1_000_000 * (i as i64 + 1)),
            key,
            dir,
            payload_len: bytes.len() as u32,
            wire_len: bytes.len() as u32 + 42,
        };
        read.push(tracker.push(&datagram, bytes));
    }
    (tracker.finish(), read)
}

fn client_initial(extensions: &[u16]) -> Vec<u8> {
    let hello = crypto(1, &client_hello(&[], extensions));
    initial(Side::Client, &ODCID, &ODCID, &CLIENT_CID, 0, &hello)
}

fn server_flight(psk: bool) -> Vec<u8> {
    let hello = crypto(2, &server_hello(&[], true, psk, false));
    let mut d = initial(Side::Server, &ODCID, &CLIENT_CID, &SERVER_CID, 0, &hello);
    d.extend(other_long(2, &CLIENT_CID, &SERVER_CID, 60));
    d
}

#[test]
fn a_handshake_and_its_data_make_one_connection_counted_by_type_and_side() {
    let (capture, read) = track(&[
        (true, client_initial(&[43])),
        (false, server_flight(false)),
        (true, {
            let mut d = other_long(2, &SERVER_CID, &CLIENT_CID, 40);
            d.extend(short(&SERVER_CID, 50));
            d
        }),
        (false, short(&CLIENT_CID, 300)),
        (true, short(&SERVER_CID, 40)),
    ]);
    assert!(read.iter().all(|&r| r));
    assert_eq!(capture.connections.len(), 1);
    assert_eq!(capture.datagrams, 5);
    let c = &capture.connections[0];
    assert_eq!(c.client.to_string(), CLIENT);
    assert_eq!(c.original_dcid.unwrap().as_bytes(), &ODCID);
    let (cs, ss) = (&c.client_sent, &c.server_sent);
    assert_eq!((cs.datagrams, ss.datagrams), (3, 2));
    assert_eq!(
        (cs.packets.initial, cs.packets.handshake, cs.packets.one_rtt),
        (1, 1, 2)
    );
    assert_eq!(
        (ss.packets.initial, ss.packets.handshake, ss.packets.one_rtt),
        (1, 1, 1)
    );
    // The client's first Initial (1 ms) → its first 1-RTT packet (3 ms).
    assert_eq!(c.handshake_s(), Some(0.002));
    assert_eq!(c.last_packet, Ts(5_000_000));
    let tls = &c.tls;
    assert_eq!(tls.client_hello, Some(Ts(1_000_000)));
    assert_eq!(tls.server_hello, Some(Ts(2_000_000)));
    assert_eq!(tls.version.map(|v| v.0), Some(0x0304));
    assert!(!tls.psk_offered && !tls.resumed);
    assert_eq!(c.early_data(), EarlyData::NotOffered);
    assert_eq!((c.malformed, c.unopened_initials), (0, 0));
}

#[test]
fn a_resumed_session_with_0rtt_shows_the_psk_and_the_early_packets() {
    let mut first = client_initial(&[43, 42, 41]);
    first.extend(other_long(1, &ODCID, &CLIENT_CID, 80));
    let (capture, _) = track(&[
        (true, first),
        (true, other_long(1, &ODCID, &CLIENT_CID, 80)),
        (false, server_flight(true)),
    ]);
    let c = &capture.connections[0];
    assert_eq!(c.client_sent.packets.zero_rtt, 2);
    assert!(c.tls.psk_offered && c.tls.early_data_offered && c.tls.resumed);
    assert_eq!(c.early_data(), EarlyData::SentResumed);

    // The same, but the server does not take the session: the early data was refused.
    let mut first = client_initial(&[43, 42, 41]);
    first.extend(other_long(1, &ODCID, &CLIENT_CID, 80));
    let (capture, _) = track(&[(true, first), (false, server_flight(false))]);
    assert_eq!(capture.connections[0].early_data(), EarlyData::SentRefused);
}

#[test]
fn a_retry_changes_the_id_and_the_keys_of_the_same_connection() {
    let retry_cid = [0x7e; 8];
    let mut retry = vec![0xf0, 0, 0, 0, 1, CLIENT_CID.len() as u8];
    retry.extend(CLIENT_CID);
    retry.push(retry_cid.len() as u8);
    retry.extend(retry_cid);
    retry.extend([0xab; 4 + 16]); // token and integrity tag
    let hello = crypto(1, &client_hello(&[], &[43]));
    let second = initial(Side::Client, &retry_cid, &retry_cid, &CLIENT_CID, 1, &hello);
    let server = crypto(2, &server_hello(&[], true, false, false));
    let answer = initial(
        Side::Server,
        &retry_cid,
        &CLIENT_CID,
        &SERVER_CID,
        0,
        &server,
    );
    let (capture, _) = track(&[
        (true, client_initial(&[43])),
        (false, retry),
        (true, second),
        (false, answer),
    ]);
    assert_eq!(capture.connections.len(), 1);
    let c = &capture.connections[0];
    assert_eq!(c.server_sent.packets.retry, 1);
    assert_eq!(c.client_sent.packets.initial, 2);
    assert!(c.tls.client_hello.is_some() && c.tls.server_hello.is_some());
    assert_eq!(c.unopened_initials, 0);
}

#[test]
fn new_ids_on_the_same_ports_make_a_new_connection() {
    let other_odcid = [0x11; 8];
    let hello = crypto(1, &client_hello(&[], &[43]));
    let again = initial(
        Side::Client,
        &other_odcid,
        &other_odcid,
        &[0x22; 4],
        0,
        &hello,
    );
    let (capture, _) = track(&[
        (true, client_initial(&[43])),
        (false, server_flight(false)),
        (true, again),
        (false, short(&[0x22; 4], 60)),
        (true, short(&SERVER_CID, 60)),
    ]);
    let counts: Vec<_> = capture
        .connections
        .iter()
        .map(|c| (c.number, c.datagrams()))
        .collect();
    // The last packet goes to the first connection: its ID says so.
    assert_eq!(counts, vec![(0, 3), (1, 2)]);
}

#[test]
fn what_is_not_quic_or_does_not_hold_together_is_counted_so() {
    let mut broken_coalesced = client_initial(&[43]);
    broken_coalesced.extend([0xc0, 0, 0, 0, 1, 30]);
    let (capture, read) = track(&[
        // A Handshake packet of no connection seen.
        (false, other_long(2, &[0x33; 8], &[], 30)),
        // A short header of no connection seen, and a long header of an unknown version.
        (true, short(&[9; 8], 40)),
        (true, vec![0xc0, 0x0a, 0x0a, 0x0a, 0x0a, 0, 0]),
        // A version 1 long header cut inside its IDs.
        (true, vec![0xc0, 0, 0, 0, 1, 8, 1, 2]),
        (true, broken_coalesced),
        // An Initial whose packet does not open with the connection's keys.
        (
            true,
            initial(Side::Client, &[3; 8], &ODCID, &CLIENT_CID, 1, &[1]),
        ),
        // Once a connection is on the 4-tuple, a packet of unknown ID is taken as its.
        (false, other_long(2, &[0x33; 8], &[], 30)),
    ]);
    assert_eq!(read, vec![true, false, false, true, true, true, true]);
    assert_eq!((capture.malformed, capture.unattributed), (1, 1));
    let c = &capture.connections[0];
    assert_eq!((c.malformed, c.unopened_initials), (1, 1));
    assert_eq!(c.client_sent.packets.initial, 2);
    assert_eq!(c.server_sent.packets.handshake, 1);
}

mod opened_frames_never_panic {
    //! Initials that open: whatever frames and hellos their plaintext holds.
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn any_plaintext_in_an_initial_is_read_or_counted_malformed(
            client_frames in proptest::collection::vec(any::<u8>(), 0..120),
            server_frames in proptest::collection::vec(any::<u8>(), 0..120),
            hello_at in prop_oneof![Just(None), (0usize..40).prop_map(Some)],
        ) {
            // Now and then a CRYPTO frame of a real hello among the bytes.
            let mut client = client_frames.clone();
            if let Some(at) = hello_at {
                let hello = crypto(1, &client_hello(&[], &[43, 41]));
                client.splice(at.min(client.len())..at.min(client.len()), hello);
            }
            let (capture, read) = track(&[
                (true, initial(Side::Client, &ODCID, &ODCID, &CLIENT_CID, 0, &client)),
                (false, initial(Side::Server, &ODCID, &CLIENT_CID, &SERVER_CID, 0, &server_frames)),
            ]);
            prop_assert_eq!(read, vec![true, true]);
            prop_assert_eq!(capture.connections.len(), 1);
            let c = &capture.connections[0];
            prop_assert_eq!(c.packets().initial, 2);
            prop_assert_eq!(c.unopened_initials, 0);
        }
    }
}

#[test]
fn a_capture_that_begins_with_the_servers_initial_still_knows_the_client() {
    let (capture, _) = track(&[
        (false, server_flight(false)),
        (true, short(&SERVER_CID, 40)),
    ]);
    let c = &capture.connections[0];
    assert_eq!(c.client.to_string(), CLIENT);
    assert_eq!((c.original_dcid, c.first_initial), (None, None));
    assert_eq!(c.handshake_s(), None);
    assert_eq!(c.server_sent.packets.initial, 1);
    assert_eq!(c.unopened_initials, 1);
    assert!(c.tls.server_hello.is_none());
}
