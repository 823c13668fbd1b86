//! Wireshark's sequence analysis: retransmissions (plain, fast, spurious), out-of-order and lost
//! segments, duplicate ACKs, each as tshark marks them.

use super::*;
use crate::track::FlagCounts;

const MS: i64 = 1_000;

/// A 10 ms handshake seen from the client, then a 50-byte request; the server's data starts at
/// 501 and the client's next byte is 151.
fn requested() -> Wire {
    let mut wire = Wire::new();
    wire.c("S", 100, 0, 0)
        .pause(10 * MS)
        .s("SA", 500, 101, 0)
        .c("A", 101, 501, 0)
        .c("PA", 101, 501, 50);
    wire
}

/// (retransmission, fast, spurious, out-of-order, lost segment, duplicate ACK).
fn classes(wire: &Wire) -> (u64, u64, u64, u64, u64, u64) {
    let c: FlagCounts = wire.track()[0].counts;
    (
        c.retransmissions,
        c.fast_retransmissions,
        c.spurious_retransmissions,
        c.out_of_order,
        c.lost_segments,
        c.dup_acks,
    )
}

// Tests for resends after duplicate ACKs.

#[test]
fn resend_two_duplicate_acks_asked_for_is_a_fast_retransmission() {
    let mut wire = requested();
    wire.s("A", 501, 151, 1000)
        .s("A", 2501, 151, 1000)
        .s("A", 3501, 151, 1000)
        .c("A", 151, 1501, 0)
        .c("A", 151, 1501, 0)
        .c("A", 151, 1501, 0)
        .s("A", 1501, 151, 1000);
    // The segment at 2501 follows a hole: the one at 1501 never reached the capture point.
    assert_eq!(classes(&wire), (1, 1, 0, 0, 1, 2));
}

#[test]
fn resend_long_after_the_duplicate_acks_is_a_plain_retransmission() {
    let mut wire = requested();
    wire.s("A", 501, 151, 1000)
        .s("A", 2501, 151, 1000)
        .c("A", 151, 1501, 0)
        .c("A", 151, 1501, 0)
        .c("A", 151, 1501, 0)
        .pause(30 * MS)
        .s("A", 1501, 151, 1000);
    assert_eq!(classes(&wire), (1, 0, 0, 0, 1, 2));
}

// Tests for resends without duplicate ACKs.

#[test]
fn resend_after_a_timeout_is_a_retransmission() {
    let mut wire = requested();
    wire.s("A", 501, 151, 1000)
        .s("A", 1501, 151, 1000)
        .pause(200 * MS)
        .s("A", 501, 151, 1000);
    assert_eq!(classes(&wire), (1, 0, 0, 0, 0, 0));
}

#[test]
fn resend_of_acknowledged_data_is_spurious() {
    let mut wire = requested();
    wire.s("A", 501, 151, 1000)
        .c("A", 151, 1501, 0)
        .pause(200 * MS)
        .s("A", 501, 151, 1000);
    assert_eq!(classes(&wire), (1, 0, 1, 0, 0, 0));
}

#[test]
fn segment_below_the_highest_within_a_round_trip_is_out_of_order() {
    let mut wire = requested();
    wire.s("A", 501, 151, 1000)
        .s("A", 2501, 151, 1000)
        .s("A", 1501, 151, 1000);
    assert_eq!(classes(&wire), (0, 0, 0, 1, 1, 0));
}

#[test]
fn out_of_order_needs_the_handshake_round_trip_as_its_threshold() {
    // The same late segment 5 ms after the highest: out of order on a 10 ms path …
    let mut wire = requested();
    wire.s("A", 501, 151, 1000)
        .s("A", 2501, 151, 1000)
        .pause(5 * MS)
        .s("A", 1501, 151, 1000);
    assert_eq!(classes(&wire), (0, 0, 0, 1, 1, 0));
    // … but a retransmission on a 1 ms one.
    let mut wire = Wire::new();
    wire.c("S", 100, 0, 0)
        .pause(MS)
        .s("SA", 500, 101, 0)
        .c("A", 101, 501, 0)
        .c("PA", 101, 501, 50)
        .s("A", 501, 151, 1000)
        .s("A", 2501, 151, 1000)
        .pause(5 * MS)
        .s("A", 1501, 151, 1000);
    assert_eq!(classes(&wire), (1, 0, 0, 0, 1, 0));
}

// Tests for duplicate ACKs.

#[test]
fn ack_with_a_new_window_is_not_a_duplicate() {
    let mut wire = requested();
    wire.s("A", 501, 151, 1000)
        .c("A", 151, 1501, 0)
        .window(2000)
        .c("A", 151, 1501, 0)
        .c("A", 151, 1501, 0);
    assert_eq!(classes(&wire), (0, 0, 0, 0, 0, 1));
}

#[test]
fn answer_to_a_keep_alive_is_not_a_duplicate() {
    let mut wire = requested();
    wire.s("A", 501, 151, 0)
        .pause(1_000 * MS)
        .c("A", 150, 501, 0)
        .s("A", 501, 151, 0)
        .c("A", 150, 501, 0)
        .s("A", 501, 151, 0);
    assert_eq!(classes(&wire), (0, 0, 0, 0, 0, 0));
}

// Tests for resent SYNs and FINs.

#[test]
fn resent_syn_and_fin_are_retransmissions_and_counted_apart() {
    let mut wire = Wire::new();
    wire.c("S", 100, 0, 0)
        .pause(1_000 * MS)
        .c("S", 100, 0, 0)
        .pause(10 * MS)
        .s("SA", 500, 101, 0)
        .c("A", 101, 501, 0)
        .s("FA", 501, 101, 0)
        .pause(200 * MS)
        .s("FA", 501, 101, 0);
    let c = wire.track()[0].counts;
    assert_eq!((c.retransmissions, c.resent_syn, c.resent_fin), (2, 1, 1));
    assert_eq!((c.syn, c.fin), (2, 2));
}
