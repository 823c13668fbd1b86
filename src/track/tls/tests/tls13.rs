//! Tests for TLS 1.3: retry, resumption, early data, the request after the Finished, a hello on the SYN.

use super::*;

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
