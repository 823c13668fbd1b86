//! Tests for TLS 1.2: full handshakes, segments split, resent, reordered and missing, cuts, resumption.

use super::*;

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
