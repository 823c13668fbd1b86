//! Tests for what is not TLS.

use super::*;

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
