//! The connection's life: handshake, data transfer, close, stream boundaries.

use super::*;
use crate::track::{CloseKind, FinalState, LINGER, Side, TcpState};

// Tests for the handshake (CLOSED/LISTEN → SYN-SENT/SYN-RECEIVED → ESTABLISHED).

#[test]
fn a_request_on_the_syn_is_fast_open_data_and_starts_the_exchange() {
    // TCP Fast Open: the SYN carries 50 bytes of request; the SYN-ACK acknowledges them.
    let conns = Wire::new()
        .c("S", 100, 0, 50)
        .s("SA", 500, 151, 0)
        .c("A", 151, 501, 0)
        .s("PA", 501, 151, 1000)
        .track();
    let c = &conns[0];
    assert_eq!(c.syn_data, 50);
    assert_eq!(c.client_bytes, 50);
    assert_eq!(c.exchanges.len(), 1);
    assert_eq!(
        c.exchanges[0].request,
        c.syn_ts.unwrap(),
        "the request left with the SYN"
    );
    assert_eq!(
        c.counts.data, 2,
        "Wireshark counts a SYN with payload as data"
    );
    assert_eq!(c.counts.retransmissions, 0);
    let plain = Wire::new().handshake().track();
    assert_eq!(plain[0].syn_data, 0);
}

#[test]
fn three_way_handshake_establishes_and_is_timed() {
    let conns = Wire::new().handshake().track();
    assert_eq!(conns.len(), 1);
    let c = &conns[0];
    assert_eq!(c.client, CLIENT.parse().unwrap());
    assert!(c.syn_seen);
    assert_eq!(
        (c.counts.syn, c.counts.synack, c.counts.handshake_ack),
        (1, 1, 1)
    );
    assert_eq!(c.counts.pure_ack, 1);
    assert_eq!(c.client_state, TcpState::Established);
    assert_eq!(c.server_state, TcpState::Established);
    assert_eq!(c.handshake_s(), Some(1e-6));
    assert_eq!(c.final_state(), FinalState::Open);
}

#[test]
fn retransmitted_syn_is_counted_but_not_a_second_connection() {
    let conns = Wire::new().c("S", 100, 0, 0).handshake().track();
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0].counts.syn, 2);
    assert_eq!(conns[0].counts.retransmissions, 1);
    assert_eq!(conns[0].counts.resent_syn, 1);
}

#[test]
fn a_resent_syns_timeout_is_handshake_time_but_no_round_trip() {
    // The first SYN is lost; the second is answered 20 ms after it was sent.
    let conns = Wire::new()
        .c("S", 100, 0, 0)
        .pause(1_000_000)
        .c("S", 100, 0, 0)
        .pause(20_000)
        .s("SA", 500, 101, 0)
        .track();
    let c = &conns[0];
    let (handshake, round_trip) = (c.handshake_s().unwrap(), c.round_trip_s().unwrap());
    // Each packet also advances the clock by 1 µs.
    assert!((handshake - 1.020_002).abs() < 1e-9, "{handshake}");
    assert!((round_trip - 0.020_001).abs() < 1e-9, "{round_trip}");
}

#[test]
fn capture_starting_mid_stream_guesses_the_ephemeral_port_as_client() {
    let conns = Wire::new().s("A", 900, 300, 1000).track();
    assert_eq!(conns.len(), 1);
    assert!(!conns[0].syn_seen);
    assert_eq!(conns[0].client.port(), 40000);
    assert_eq!(conns[0].server_bytes, 1000);
}

// Tests for data transfer (ESTABLISHED).

#[test]
fn requests_and_responses_pair_up_into_exchanges() {
    let conns = Wire::new()
        .handshake()
        .c("PA", 101, 501, 50)
        .s("A", 501, 151, 1000)
        .s("PA", 1501, 151, 1000)
        .c("A", 151, 2501, 0)
        .c("PA", 151, 2501, 50)
        .s("PA", 2501, 201, 10)
        .track();
    let c = &conns[0];
    assert_eq!(c.exchanges.len(), 2);
    assert_eq!(c.exchanges[0].first_response, Some(Ts(1_005_000)));
    assert_eq!(c.exchanges[0].last_response, Some(Ts(1_006_000)));
    assert_eq!(c.counts.data, 5);
    assert_eq!(c.counts.pure_ack, 2);
    assert_eq!((c.client_bytes, c.server_bytes), (100, 2010));
}

#[test]
fn retransmitted_data_does_not_start_a_new_exchange() {
    let conns = Wire::new()
        .handshake()
        .c("PA", 101, 501, 50)
        .s("PA", 501, 151, 100)
        .c("PA", 101, 501, 50)
        .track();
    assert_eq!(conns[0].exchanges.len(), 1);
    assert_eq!(conns[0].counts.retransmissions, 1);
    assert_eq!(conns[0].client_bytes, 50);
}

#[test]
fn data_resent_into_a_hole_still_ends_the_response_and_counts_its_bytes() {
    // The segment at 1501 was lost before the capture point; its resend arrives last.
    let conns = Wire::new()
        .handshake()
        .c("PA", 101, 501, 50)
        .s("A", 501, 151, 1000)
        .s("A", 2501, 151, 1000)
        .s("PA", 1501, 151, 1000)
        .track();
    let c = &conns[0];
    assert_eq!(c.server_bytes, 3000);
    // Wireshark's words: the hole was a lost segment, its resend within a round trip of the
    // highest sequence number is out of order.
    assert_eq!(c.counts.lost_segments, 1);
    assert_eq!(c.counts.out_of_order, 1);
    assert_eq!(c.counts.retransmissions, 0);
    assert_eq!(c.exchanges[0].last_response, Some(Ts(1_007_000)));
}

#[test]
fn capture_starting_at_the_syn_ack_has_no_syn_seen() {
    let conns = Wire::new().s("SA", 500, 101, 0).c("A", 101, 501, 0).track();
    let c = &conns[0];
    assert_eq!(c.client.port(), 40000);
    assert!(!c.syn_seen);
    assert_eq!(c.counts.handshake_ack, 1);
    assert_eq!(c.client_state, TcpState::Established);
    assert_eq!(c.server_state, TcpState::Established);
}

// Tests for the close (FIN-WAIT, CLOSE-WAIT, LAST-ACK, TIME-WAIT).

#[test]
fn four_way_close_from_the_server_leaves_it_in_time_wait() {
    let conns = Wire::new()
        .handshake()
        .s("FA", 501, 101, 0)
        .c("A", 101, 502, 0)
        .c("FA", 101, 502, 0)
        .s("A", 502, 102, 0)
        .track();
    let c = &conns[0];
    assert_eq!(c.counts.fin, 2);
    assert_eq!(c.first_fin.map(|f| f.1), Some(Side::Server));
    assert_eq!(c.server_state, TcpState::TimeWait);
    assert_eq!(c.client_state, TcpState::Closed);
    assert_eq!(c.final_state(), FinalState::Closed);
    assert_eq!(c.teardown_s(), Some(3e-6));
    assert_eq!(c.close, Some(CloseKind::FourWay));
}

#[test]
fn three_packet_close_ends_at_the_last_ack() {
    let conns = Wire::new()
        .handshake()
        .c("FA", 101, 501, 0)
        .s("FA", 501, 102, 0)
        .c("A", 102, 502, 0)
        .track();
    let c = &conns[0];
    assert_eq!(c.client_state, TcpState::TimeWait);
    assert_eq!(c.server_state, TcpState::Closed);
    assert_eq!(c.teardown_s(), Some(2e-6));
    assert_eq!(c.counts.pure_ack, 2);
    assert_eq!(c.close, Some(CloseKind::ThreeWay));
}

#[test]
fn simultaneous_close_passes_through_closing() {
    let conns = Wire::new()
        .handshake()
        .c("FA", 101, 501, 0)
        .s("FA", 501, 101, 0)
        .c("A", 102, 502, 0)
        .s("A", 502, 102, 0)
        .track();
    let c = &conns[0];
    assert_eq!(c.client_state, TcpState::TimeWait);
    assert_eq!(c.server_state, TcpState::TimeWait);
    assert_eq!(c.teardown_s(), Some(3e-6));
    assert_eq!(c.close, Some(CloseKind::Simultaneous));
}

#[test]
fn retransmitted_fin_is_counted_once_as_teardown() {
    let conns = Wire::new()
        .handshake()
        .s("FA", 501, 101, 0)
        .s("FA", 501, 101, 0)
        .c("A", 101, 502, 0)
        .c("FA", 101, 502, 0)
        .s("A", 502, 102, 0)
        .track();
    let c = &conns[0];
    assert_eq!(c.counts.fin, 3);
    assert_eq!(c.counts.retransmissions, 1);
    assert_eq!(c.counts.resent_fin, 1);
    assert_eq!(c.first_fin.map(|f| f.0), Some(Ts(1_004_000)));
    assert_eq!(c.final_state(), FinalState::Closed);
}

#[test]
fn reset_ends_the_connection() {
    let conns = Wire::new().handshake().s("RA", 501, 101, 0).track();
    let c = &conns[0];
    assert_eq!(c.counts.rst, 1);
    assert_eq!(c.final_state(), FinalState::Reset);
    assert_eq!(c.client_state, TcpState::Closed);
}

#[test]
fn repeated_pure_acks_are_duplicate_acks() {
    let conns = Wire::new()
        .handshake()
        .s("A", 501, 101, 100)
        .c("A", 101, 601, 0)
        .c("A", 101, 601, 0)
        .c("A", 101, 601, 0)
        .track();
    assert_eq!(conns[0].counts.dup_acks, 2);
    assert_eq!(conns[0].counts.retransmissions, 0);
}

#[test]
fn keep_alive_is_not_a_retransmission() {
    let conns = Wire::new()
        .handshake()
        .c("PA", 101, 501, 10)
        .c("A", 110, 501, 1)
        .track();
    assert_eq!(conns[0].counts.retransmissions, 0);
}

// Tests for stream boundaries.

#[test]
fn reused_four_tuple_after_close_is_a_new_connection() {
    let mut wire = Wire::new();
    wire.handshake()
        .s("FA", 501, 101, 0)
        .c("FA", 101, 502, 0)
        .s("A", 502, 102, 0)
        .c("S", 7000, 0, 0)
        .s("SA", 9000, 7001, 0);
    let conns = wire.track();
    assert_eq!(conns.len(), 2);
    assert_eq!(conns[1].stream, 1);
    assert_eq!(conns[1].counts.syn, 1);
    assert_eq!(conns[0].counts.syn, 1);
}

#[test]
fn closed_connections_are_handed_out_after_lingering() {
    let mut wire = Wire::new();
    wire.handshake()
        .s("FA", 501, 101, 0)
        .c("FA", 101, 502, 0)
        .s("A", 502, 102, 0);
    let mut tracker = Tracker::new();
    for seg in &wire.segs {
        tracker.push(seg);
    }
    let mut drained: Vec<Connection> = Vec::new();
    tracker.drain_closed(|c| drained.push(c.clone()));
    assert!(drained.is_empty(), "still lingering");
    let mut other = Wire::with("127.0.0.1:40009");
    other.t = wire.t + LINGER.0 + 1;
    other.c("S", 1, 0, 0);
    tracker.push(&other.segs[0]);
    tracker.drain_closed(|c| drained.push(c.clone()));
    assert_eq!(drained.len(), 1);
    assert_eq!(drained[0].client.port(), 40000);
    assert_eq!(tracker.open_connections(), 1);
    assert_eq!(tracker.finish().len(), 1);
}

#[test]
fn distinct_ports_are_distinct_connections_in_order() {
    let mut a = Wire::with("127.0.0.1:40001");
    a.handshake();
    let mut b = Wire::with("127.0.0.1:40002");
    b.t = 2_000_000;
    b.handshake();
    let mut tracker = Tracker::new();
    for seg in a.segs.iter().chain(&b.segs) {
        tracker.push(seg);
    }
    let conns = tracker.finish();
    assert_eq!(conns.len(), 2);
    assert_eq!(conns[0].client.port(), 40001);
    assert_eq!(conns[1].client.port(), 40002);
}
