//! Tests of the model: the sender's flights, the modes' round trips, the gap's effects.

use super::*;

/// 40 ms, 1000-byte segments, an initial window of 10, flights sent at once, no receive window.
const PATH: PathModel = PathModel {
    rtt_s: 0.040,
    initial_window: 10,
    congestion_window: 10,
    mss: 1000,
    rate_bps: None,
    receive_window: None,
    release: Release::Burst,
    restart_after_idle: true,
    opening: Opening {
        fastopen: false,
        tls: None,
        quic: false,
    },
};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn a_burst_sender_doubles_its_flights_growing_by_each_segment_acknowledged() {
    // 70 segments: 10 at 0, 20 when their ACKs return at 40 ms, 40 at 80 ms, arriving 20 ms
    // later; the window ends at 10 + 70.
    let mut sender = Sender::fresh(&PATH);
    let d = deliver(&PATH, &mut sender, 70_000);
    assert_eq!(d.rounds, 3);
    assert!(close(d.last_arrival_s, 0.100), "{d:?}");
    assert!(close(d.round_spacing_s, 0.080) && close(d.last_round_s, 0.0));
    assert!(!d.link_paced);
    assert_eq!(sender.cwnd, 80.0);
    // One segment past a flight takes a round of its own.
    let d = deliver(&PATH, &mut Sender::fresh(&PATH), 10_001);
    assert_eq!((d.rounds, close(d.last_arrival_s, 0.060)), (2, true));
}

#[test]
fn a_persistent_connection_carries_its_window_unless_idle_past_the_timeout() {
    // The second file fits in the window the first left (80): one round.
    let p = predict(Pattern::Persistent, &PATH, &[70_000, 70_000]);
    assert_eq!(p.extra_rounds, 2);
    assert!(close(p.handshakes_s, 0.040) && close(p.requests_s, 0.080));
    assert!(close(p.slow_start_s, 0.080), "{p:?}");
    assert!(close(p.total_s, 0.200), "{p:?}");
    let np = predict(Pattern::NonPersistent, &PATH, &[70_000, 70_000]);
    assert_eq!(np.extra_rounds, 4);
    assert!(close(np.total_s, 2.0 * (0.040 + 0.040 + 0.080)), "{np:?}");
    // The pause between responses (a round trip) is below the timeout (the round trip plus
    // 200 ms); a longer one restarts from the initial window, unless the sysctl is off.
    let mut sender = Sender::fresh(&PATH);
    deliver(&PATH, &mut sender, 70_000);
    assert_eq!(sender.after_idle(&PATH, 0.040).cwnd, 80.0);
    assert_eq!(sender.after_idle(&PATH, 0.300).cwnd, 10.0);
    let kept = PathModel {
        restart_after_idle: false,
        ..PATH
    };
    assert_eq!(sender.after_idle(&kept, 0.300).cwnd, 80.0);
}

#[test]
fn the_clients_receive_window_holds_the_first_flight_and_grows_with_what_it_received() {
    // A window of 5 segments lets 5 of the 10 out; their 5 ACKs raise it by two segments
    // each (15) and the congestion window by one each (15): the other 15 leave at 40 ms.
    let path = PathModel {
        receive_window: Some(5_000),
        ..PATH
    };
    let mut sender = Sender::fresh(&path);
    let d = deliver(&path, &mut sender, 20_000);
    assert_eq!(d.rounds, 2);
    assert!(close(d.last_arrival_s, 0.060), "{d:?}");
    assert_eq!(sender.receive_window, 5_000.0 + 20.0 * 2_000.0);
}

#[test]
fn at_a_link_rate_segments_queue_and_serialisation_is_its_own_term() {
    // 1000-byte segments at 8 Mbit/s take 1 ms each: ten sent at once arrive 1 ms apart,
    // the last 10 ms after the first left plus the one-way delay.
    let path = PathModel {
        rate_bps: Some(8_000_000),
        ..PATH
    };
    let d = deliver(&path, &mut Sender::fresh(&path), 10_000);
    assert!(close(d.last_arrival_s, 0.030), "{d:?}");
    assert!(d.link_paced);
    let p = predict(Pattern::Persistent, &path, &[10_000]);
    assert!(close(p.serialisation_s, 0.010) && close(p.slow_start_s, 0.0));
    assert!(close(p.total_s, 0.090), "{p:?}");
}

#[test]
fn bbr_paces_from_the_eleventh_segment_at_its_gain_times_the_initial_window_per_rtt() {
    let path = PathModel {
        release: Release::BbrStartup,
        ..PATH
    };
    let mut sender = Sender::fresh(&path);
    let rate = 2.885 * 0.99 * 10.0 * 1000.0 / 0.040;
    assert!(close(sender.pacing, rate));
    // The first ten leave at once; their ACKs at 40 ms measure 10 segments per 40 ms, which
    // keeps the rate, and open the window to 20: the next ten leave 1000 bytes / rate apart.
    let d = deliver(&path, &mut sender, 20_000);
    assert_eq!(d.rounds, 2);
    let last = 0.040 + 9.0 * 1000.0 / rate + 0.020;
    assert!(close(d.last_arrival_s, last), "{d:?}");
    assert!(close(sender.max_bw, 10.0 * 1000.0 / 0.040));
    assert!(close(sender.pacing, rate));
    assert_eq!(sender.cwnd, 30.0);
}

#[test]
fn modes_follow_their_round_trips() {
    // Five segments a file: each response is one flight.
    let files = [5_000, 5_000, 5_000];
    let total = |pattern| predict(pattern, &PATH, &files).total_s;
    assert!(close(total(Pattern::NonPersistent), 3.0 * 2.0 * 0.040));
    assert!(close(total(Pattern::Persistent), 0.040 + 3.0 * 0.040));
    // Fifteen segments in one stream: 10, then 5 a round trip later.
    assert!(close(total(Pattern::Pipelined), 2.0 * 0.040 + 0.040));
    // Two slots: the third file waits for the first slot.
    assert!(close(total(Pattern::Parallel(2)), 2.0 * 2.0 * 0.040));
}

#[test]
fn parallel_slots_take_the_next_file_as_soon_as_theirs_is_done() {
    // 50 segments take 10 + 20 + 20: 160 ms on slot A. Slot B fetches the second and third
    // file by then; the fourth and fifth go to A and B at 160 ms: 240 ms, where batches of
    // two would take 160 + 80 + 80.
    let p = predict(
        Pattern::Parallel(2),
        &PATH,
        &[50_000, 5_000, 5_000, 5_000, 5_000],
    );
    assert!(close(p.total_s, 0.240), "{p:?}");
    assert_eq!(p.extra_rounds, 2);
}

#[test]
fn tls_and_fast_open_change_the_round_trips_before_each_request() {
    let files = [5_000, 5_000, 5_000];
    let with = |fastopen, tls| PathModel {
        opening: Opening {
            fastopen,
            tls,
            quic: false,
        },
        ..PATH
    };
    let tls12 = TlsOpening {
        full: 2,
        resumed: None,
        early_data: false,
    };
    let tls13 = TlsOpening { full: 1, ..tls12 };
    let rtts = |path: &PathModel, pattern| {
        let p = predict(pattern, path, &files);
        (p.round_trips_s / path.rtt_s).round() as u32
    };
    // Non-persistent: three openings of (TCP + TLS) and three requests.
    assert_eq!(
        rtts(&with(false, Some(tls12)), Pattern::NonPersistent),
        3 * 3 + 3
    );
    assert_eq!(
        rtts(&with(false, Some(tls13)), Pattern::NonPersistent),
        3 * 2 + 3
    );
    let resumed = TlsOpening {
        resumed: Some(1),
        ..tls12
    };
    assert_eq!(
        rtts(&with(false, Some(resumed)), Pattern::NonPersistent),
        3 + 2 + 1 + 1 + 3,
        "TLS 1.2 resumed: 2 round trips on the first connection, 1 on the others"
    );
    let early = TlsOpening {
        full: 1,
        resumed: Some(1),
        early_data: true,
    };
    assert_eq!(
        rtts(&with(false, Some(early)), Pattern::NonPersistent),
        3 + 1 + 3,
        "0-RTT: only the first connection's TLS round trip"
    );
    assert_eq!(
        rtts(&with(true, None), Pattern::NonPersistent),
        3,
        "Fast Open: every request rides on its SYN"
    );
    // One connection: one opening, whatever resumes.
    assert_eq!(rtts(&with(true, Some(tls12)), Pattern::Persistent), 2 + 3);
    // Parallel: the first two open fresh, the third (on the first slot) resumes.
    assert_eq!(
        rtts(&with(false, Some(resumed)), Pattern::Parallel(2)),
        (1 + 2) + (1 + 1) + 2
    );
}

/// TLS 1.3 as h2 and h3 speak it, each run's connection opening without a session.
const TLS13: TlsOpening = TlsOpening {
    full: 1,
    resumed: None,
    early_data: false,
};

#[test]
fn http2_takes_tcps_and_tls_13s_round_trips_then_one_request_for_every_stream() {
    // h2: TCP, TLS 1.3 and one request round trip before the responses, which leave as one
    // stream: fifteen segments, 10 then 5 a round trip later. h2c: no TLS.
    let files = [5_000, 5_000, 5_000];
    let h2 = PathModel {
        opening: Opening {
            tls: Some(TLS13),
            ..PATH.opening
        },
        ..PATH
    };
    let p = predict(Pattern::Pipelined, &h2, &files);
    assert!(close(p.handshakes_s, 0.040) && close(p.tls_handshakes_s, 0.040));
    assert!(close(p.round_trips_s, 3.0 * 0.040), "{p:?}");
    assert!(
        close(p.slow_start_s, 0.040) && close(p.total_s, 4.0 * 0.040),
        "{p:?}"
    );
    let h2c = predict(Pattern::Pipelined, &PATH, &files);
    assert!(close(h2c.round_trips_s, 2.0 * 0.040), "{h2c:?}");
    assert!(close(h2c.total_s, 3.0 * 0.040), "{h2c:?}");
}

#[test]
fn http3_opens_in_one_round_trip_and_in_none_with_0rtt_on_quics_smaller_datagrams() {
    let quic = |tls| {
        PATH.over_quic(Opening {
            fastopen: false,
            tls: Some(tls),
            quic: true,
        })
    };
    let h3 = quic(TLS13);
    assert_eq!(h3.mss, QUIC_DATAGRAM - QUIC_OVERHEAD);
    assert_eq!(
        (h3.initial_window, h3.receive_window),
        (QUIC_INITIAL_WINDOW, None)
    );
    // QUIC's round trip and the request's; ten datagrams carry all but the last file's
    // last 350 bytes, which leave a round trip later.
    let files = [4_000, 4_000, 4_000];
    let p = predict(Pattern::Pipelined, &h3, &files);
    assert!(close(p.handshakes_s, 0.040) && close(p.tls_handshakes_s, 0.0));
    assert!(close(p.round_trips_s, 2.0 * 0.040), "{p:?}");
    assert_eq!(p.extra_rounds, 1);
    assert!(close(p.total_s, 3.0 * 0.040), "{p:?}");
    // Resumed without early data: still one round trip before the requests.
    let resumed = TlsOpening {
        resumed: Some(1),
        ..TLS13
    };
    let p = predict(Pattern::Pipelined, &quic(resumed), &files);
    assert!(close(p.round_trips_s, 2.0 * 0.040), "{p:?}");
    // 0-RTT: the requests leave with the first Initial; only their own round trip is left.
    let early = TlsOpening {
        early_data: true,
        ..resumed
    };
    let p = predict(Pattern::Pipelined, &quic(early), &files);
    assert!(
        close(p.handshakes_s, 0.0) && close(p.round_trips_s, 0.040),
        "{p:?}"
    );
    assert!(close(p.total_s, 2.0 * 0.040), "{p:?}");
}

#[test]
fn quics_handshake_holds_its_tls_in_the_gap_to_the_model() {
    let h3 = PATH.over_quic(Opening {
        fastopen: false,
        tls: Some(TLS13),
        quic: true,
    });
    let p = predict(Pattern::Pipelined, &h3, &[5_000]);
    let gap = ModelGap::of(&measured(&p, 0.020), &p, &h3);
    assert!(
        !gap.effects
            .iter()
            .any(|e| matches!(e, Effect::TlsHandshakes { .. })),
        "{gap:?}"
    );
    let sum: f64 = gap.effects.iter().map(Effect::seconds).sum();
    assert!(close(sum, 0.020), "{gap:?}");
}

fn measured(p: &Prediction, extra: f64) -> Measured {
    Measured {
        total_s: p.total_s + extra,
        handshake_s: p.handshakes_s + 0.001,
        tls_s: 0.0,
        wait_s: p.requests_s + 0.010,
        client_s: 0.0,
        extra_rounds: Some(f64::from(p.extra_rounds) + 2.0),
        round_spacing_s: Some(p.round_spacing_s + 2.0 * 0.040 + 0.004),
        last_round_s: Some(p.last_round_s + 0.001),
        rwnd_limited_s: Some(0.050),
    }
}

#[test]
fn the_gap_to_the_model_is_split_into_effects_that_add_up() {
    let p = predict(Pattern::NonPersistent, &PATH, &[70_000, 70_000]);
    let m = measured(&p, 0.095);
    let gap = ModelGap::of(&m, &p, &PATH);
    let sum: f64 = gap.effects.iter().map(Effect::seconds).sum();
    assert!(close(sum, 0.095), "{gap:?}");
    // Against the model's own rounds, spacing and last rounds.
    assert!(close(gap.effects[3].seconds(), 0.004), "{gap:?}");
    assert!(close(gap.effects[4].seconds(), 0.001), "{gap:?}");
    assert!(matches!(
        gap.effects[5],
        Effect::Rounds { rounds, receive_window_limited_s: Some(w), seconds }
            if rounds == 2.0 && close(seconds, 0.080) && w == 0.050
    ));
    assert!(close(gap.effects[1].seconds(), 0.010), "server time");
    // A receive window that never held the server back is not named.
    let wide = Measured {
        rwnd_limited_s: Some(0.0),
        ..m
    };
    assert!(matches!(
        ModelGap::of(&wide, &p, &PATH).effects[5],
        Effect::Rounds {
            receive_window_limited_s: None,
            ..
        }
    ));
}

#[test]
fn rounds_the_links_queue_paced_are_not_told_as_rounds_beyond_the_model() {
    let path = PathModel {
        rate_bps: Some(8_000_000),
        ..PATH
    };
    let p = predict(Pattern::Persistent, &path, &[1_000_000]);
    assert!(p.link_paced);
    let gap = ModelGap::of(&measured(&p, 0.010), &p, &path);
    assert!(
        !gap.effects.iter().any(|e| matches!(
            e,
            Effect::Rounds { .. } | Effect::RoundSpacing { .. } | Effect::LastRound { .. }
        )),
        "{gap:?}"
    );
    let sum: f64 = gap.effects.iter().map(Effect::seconds).sum();
    assert!(close(sum, 0.010), "{gap:?}");
}
