//! A response's rounds (a round ends when the ACK of its first segment arrives) and the window the
//! client offered it.

use super::*;
use crate::track::Round;

const MS: i64 = 1_000;

/// The handshake as the client sees it: SYN, a round trip of `rtt_us`, SYN-ACK, ACK; then a
/// 50-byte request. The server's data starts at 501.
fn client_side(rtt_us: i64) -> Wire {
    let mut wire = Wire::new();
    wire.c("S", 100, 0, 0)
        .pause(rtt_us)
        .s("SA", 500, 101, 0)
        .c("A", 101, 501, 0)
        .c("PA", 101, 501, 50)
        .pause(rtt_us);
    wire
}

fn shape(rounds: &[Round]) -> Vec<(u32, u64)> {
    rounds.iter().map(|r| (r.segments, r.bytes)).collect()
}

// Tests for bursts (a sender that is not paced: Cubic, Reno).

#[test]
fn each_burst_after_the_ack_of_the_previous_rounds_first_segment_is_a_round() {
    let mut wire = client_side(10 * MS);
    wire.s("A", 501, 151, 1000)
        .s("A", 1501, 151, 1000)
        .c("A", 151, 2501, 0)
        .pause(10 * MS)
        .s("A", 2501, 151, 1000)
        .s("A", 3501, 151, 1000)
        .s("A", 4501, 151, 1000)
        .c("A", 151, 5501, 0)
        .pause(10 * MS)
        .s("PA", 5501, 151, 10);
    let conns = wire.track();
    let x = &conns[0].exchanges[0];
    assert_eq!(shape(&x.rounds), [(2, 2000), (3, 3000), (1, 10)]);
    assert_eq!(x.rounds[0].start, x.first_response.unwrap());
    assert_eq!(x.rounds[2].end, x.last_response.unwrap());
    assert!(x.rounds[1].start.0 - x.rounds[0].start.0 > 10 * MS * 1_000);
}

#[test]
fn data_before_the_ack_returns_stays_in_the_round() {
    // The ACK of the first segment comes back, but the next segment arrives only half a round
    // trip later: the server sent it before that ACK reached it.
    let mut wire = client_side(10 * MS);
    wire.s("A", 501, 151, 1000)
        .c("A", 151, 1501, 0)
        .pause(5 * MS)
        .s("A", 1501, 151, 1000);
    let conns = wire.track();
    assert_eq!(shape(&conns[0].exchanges[0].rounds), [(2, 2000)]);
}

#[test]
fn resent_data_never_opens_a_round() {
    let mut wire = client_side(10 * MS);
    wire.s("A", 501, 151, 1000)
        .s("A", 1501, 151, 1000)
        .c("A", 151, 1501, 0)
        .pause(30 * MS)
        .s("A", 1501, 151, 1000)
        .s("A", 2501, 151, 1000);
    let conns = wire.track();
    let x = &conns[0].exchanges[0];
    assert_eq!(shape(&x.rounds), [(3, 3000), (1, 1000)]);
}

// Tests for pacing (BBR: segments evenly spaced, no gap between rounds).

#[test]
fn a_paced_response_is_cut_into_round_trips() {
    // One segment every 2 ms, each acknowledged at once, over a 10 ms path: the old rule (a gap
    // longer than half the round trip) saw one flight.
    let mut wire = client_side(10 * MS);
    for i in 0..16u32 {
        let seq = 501 + i * 1000;
        wire.s("A", seq, 151, 1000)
            .c("A", 151, seq + 1000, 0)
            .pause(2 * MS);
    }
    let conns = wire.track();
    assert_eq!(
        shape(&conns[0].exchanges[0].rounds),
        [(5, 5000), (5, 5000), (5, 5000), (1, 1000)]
    );
}

// Tests for the vantage point.

#[test]
fn at_the_server_a_segment_sent_after_the_ack_opens_the_next_round() {
    // Captured at the server: SYN → SYN-ACK takes 50 µs, the request arrives a round trip later,
    // and the server answers each ACK 60 µs after it arrives.
    let mut wire = Wire::new();
    wire.c("S", 100, 0, 0)
        .pause(49)
        .s("SA", 500, 101, 0)
        .pause(10 * MS)
        .c("A", 101, 501, 0)
        .c("PA", 101, 501, 50)
        .s("A", 501, 151, 1000)
        .s("A", 1501, 151, 1000)
        .pause(10 * MS)
        .c("A", 151, 2501, 0)
        .pause(59)
        .s("A", 2501, 151, 1000);
    let conns = wire.track();
    assert_eq!(shape(&conns[0].exchanges[0].rounds), [(2, 2000), (1, 1000)]);
}

// Tests for persistent connections.

#[test]
fn each_response_counts_its_own_rounds() {
    let mut wire = client_side(10 * MS);
    wire.s("A", 501, 151, 1000)
        .c("A", 151, 1501, 0)
        .pause(10 * MS)
        .s("PA", 1501, 151, 1000)
        .c("A", 151, 2501, 0)
        .c("PA", 151, 2501, 50)
        .pause(10 * MS)
        .s("PA", 2501, 201, 500);
    let conns = wire.track();
    let x = &conns[0].exchanges;
    assert_eq!(x.len(), 2);
    assert_eq!(shape(&x[0].rounds), [(1, 1000), (1, 1000)]);
    assert_eq!(shape(&x[1].rounds), [(1, 500)]);
}

// Tests for the SYN options and the client's window.

#[test]
fn window_scale_and_mss_come_from_the_syns() {
    let conns = Wire::new()
        .options(1460, Some(7))
        .c("S", 100, 0, 0)
        .options(1400, Some(9))
        .s("SA", 500, 101, 0)
        .window(512)
        .c("A", 101, 501, 0)
        .c("PA", 101, 501, 50)
        .s("PA", 501, 151, 100)
        .track();
    let c = &conns[0];
    assert_eq!(c.mss(), Some(1400));
    assert_eq!(c.client_window_scale(), Some(7));
    assert_eq!(c.server_window_scale(), Some(9));
    assert_eq!(c.exchanges[0].client_window, Some(512 << 7));
}

#[test]
fn window_is_unscaled_when_the_server_did_not_agree() {
    let conns = Wire::new()
        .options(1460, Some(7))
        .c("S", 100, 0, 0)
        .options(1400, None)
        .s("SA", 500, 101, 0)
        .window(512)
        .c("A", 101, 501, 0)
        .c("PA", 101, 501, 50)
        .s("PA", 501, 151, 100)
        .track();
    let c = &conns[0];
    assert_eq!(c.server_window_scale(), None);
    assert_eq!(c.exchanges[0].client_window, Some(512));
}

#[test]
fn window_is_the_last_one_before_the_response() {
    // The client's window grows after the request; the response started under the old one.
    let conns = Wire::new()
        .options(1460, Some(2))
        .c("S", 100, 0, 0)
        .options(1460, Some(2))
        .s("SA", 500, 101, 0)
        .window(100)
        .c("A", 101, 501, 0)
        .c("PA", 101, 501, 50)
        .s("A", 501, 151, 100)
        .window(200)
        .c("A", 151, 601, 0)
        .s("PA", 601, 151, 100)
        .track();
    assert_eq!(conns[0].exchanges[0].client_window, Some(400));
}
