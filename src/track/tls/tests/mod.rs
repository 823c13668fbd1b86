//! Tests of TLS counted on the wire: whole conversations built byte by byte and pushed through the
//! tracker, with records split across segments, several messages in a record, resent, reordered
//! and missing segments.

use super::hello::fixtures::{client_hello, client_hello_with, server_hello};
use super::record::{
    APPLICATION_DATA, CERTIFICATE, CHANGE_CIPHER_SPEC, CLIENT_HELLO, HANDSHAKE, SERVER_HELLO,
};
use super::{ProtocolVersion, ReadStop, Resumption, TlsHandshake};
use crate::track::tests::conversation::Conversation;

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
