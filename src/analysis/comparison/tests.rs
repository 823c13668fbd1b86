//! Tests of the comparison: sessions to resume, the model's round trip and initial window, medians.

use super::path::first_flight_sent;
use super::response::median;
use super::*;
use crate::timeline::Ts;
use crate::track::{Exchange, Round};
use crate::transfer::run::{Mode, RunTiming};

/// A comparison of nothing over `link`.
fn over(link: Option<LinkSettings>) -> Comparison {
    Comparison {
        rounds: 0,
        files: Vec::new(),
        paths: Vec::new(),
        modes: Vec::new(),
        parallel: 1,
        kernel: None,
        link,
        order: Vec::new(),
        seed: 0,
        fastopen: false,
        tls: None,
        quic_congestion: None,
    }
}

fn link(rtt_s: f64, loss: f64, jitter_s: f64) -> Option<LinkSettings> {
    let direction = DirectionSettings {
        rate_bps: None,
        loss: format!("{}%", loss * 100.0),
        mean_loss: loss,
        trace: None,
    };
    Some(LinkSettings {
        path: None,
        rtt_s,
        jitter_s,
        mtu: 1500,
        down: direction.clone(),
        up: direction,
        queue_packets: Some(1000),
        queue_bytes: None,
        aqm: "tail-drop".into(),
        seed: 1,
    })
}

/// A run of connections opened at `starts` (ms) over TLS, the first handshake done at `done`.
fn tls_run(starts: &[i64], done: i64) -> RunTiming {
    use crate::transfer::run::{ConnectionTiming, TlsSession, TlsTiming};
    let ms = |t: i64| Ts(t * 1_000_000);
    let addr: std::net::SocketAddr = "127.0.0.1:40000".parse().unwrap();
    RunTiming {
        mode: Mode::Parallel,
        start: ms(0),
        last_byte: ms(500),
        end: ms(500),
        connections: starts
            .iter()
            .map(|&start| ConnectionTiming {
                local: addr,
                peer: addr,
                connect_start: ms(start),
                connected: ms(start + 20),
                requests: Vec::new(),
                closed: ms(500),
                tls: Some(TlsTiming {
                    done: ms(done.max(start + 40)),
                    session: TlsSession {
                        version: None,
                        resumed: false,
                        hello_retry: false,
                        early_data_sent: 0,
                        early_data_accepted: false,
                    },
                }),
            })
            .collect(),
        files: Vec::new(),
    }
}

#[test]
fn connections_opened_before_the_first_handshake_was_done_had_no_session_to_resume() {
    let mode =
        |runs: Vec<RunTiming>| ModeResult::new(Mode::Parallel, 0, 1, runs, None, None, Vec::new());
    // Three at once, the first handshake done at 40 ms.
    assert_eq!(
        mode(vec![tls_run(&[0, 1, 2], 40)]).no_session_to_resume(),
        Some(NoSessionToResume::OpenedBeforeFirstHandshake)
    );
    // A fourth opened at 60 ms could have resumed.
    assert_eq!(
        mode(vec![tls_run(&[0, 1, 2, 60], 40)]).no_session_to_resume(),
        None
    );
    // One connection a run (persistent) is each run's first: nothing to resume, ever.
    assert_eq!(
        mode(vec![tls_run(&[0], 40), tls_run(&[0], 40)]).no_session_to_resume(),
        Some(NoSessionToResume::OneConnectionPerRun)
    );
    // One run of one connection beside one of two that could resume: no reason to give.
    assert_eq!(
        mode(vec![tls_run(&[0], 40), tls_run(&[0, 60], 40)]).no_session_to_resume(),
        None
    );
    assert_eq!(mode(Vec::new()).no_session_to_resume(), None);
}

#[test]
fn only_a_link_with_a_round_trip_sets_the_models_round_trip() {
    assert_eq!(over(link(0.040, 0.0, 0.0)).configured_rtt_s(), Some(0.040));
    // --loss or --jitter alone emulate a link of loopback's own round trip: the model then
    // takes the one measured, not 0.
    assert_eq!(over(link(0.0, 0.01, 0.0)).configured_rtt_s(), None);
    assert_eq!(over(link(0.0, 0.0, 0.005)).configured_rtt_s(), None);
    assert_eq!(over(None).configured_rtt_s(), None);
}

/// A response of `rounds` (segments, bytes each), its client's window `window` bytes.
fn response(rounds: &[(u32, u64)], window: Option<u64>) -> Exchange {
    Exchange {
        request: Ts(0),
        first_response: Some(Ts(1)),
        last_response: Some(Ts(2)),
        rounds: rounds
            .iter()
            .map(|&(segments, bytes)| Round {
                start: Ts(1),
                end: Ts(2),
                segments,
                bytes,
            })
            .collect(),
        client_window: window,
        target: None,
    }
}

#[test]
fn a_first_round_shows_the_initial_window_only_when_it_could() {
    // 10 segments × 1448 bytes: the congestion window.
    let full = 14_480;
    let flight = (10, 14_480);
    let window = Some(65_483);
    // A response larger than the window: its first round is the initial window.
    assert_eq!(
        first_flight_sent(&response(&[flight, (20, 28_960)], window), full),
        Some(10)
    );
    // Held below by the client's window: still a flight as sent.
    assert_eq!(
        first_flight_sent(&response(&[(7, 10_136), (20, 28_960)], Some(10_136)), full),
        Some(7)
    );
    // A response that fits in one window does not show what limits the first flight.
    assert_eq!(first_flight_sent(&response(&[flight], window), full), None);
    // A first round larger than the client's window is rounds that jitter or loss ran
    // together, no flight.
    assert_eq!(
        first_flight_sent(&response(&[(45, 65_160), (20, 28_960)], Some(62_720)), full),
        None
    );
    // No window seen: the round counts.
    assert_eq!(
        first_flight_sent(&response(&[flight, (20, 28_960)], None), full),
        Some(10)
    );
    assert_eq!(first_flight_sent(&response(&[], window), full), None);
}

#[test]
fn the_median_of_an_even_count_lies_between_its_middle_values() {
    assert_eq!(median(vec![52_000u64, 60_000]), Some(56_000));
    assert_eq!(median(vec![7u32, 8]), Some(8));
    assert_eq!(median(vec![9u32, 3, 5]), Some(5));
    assert_eq!(median(vec![4u32, 1, 3, 2]), Some(3));
    assert_eq!(median(Vec::<u64>::new()), None);
}

#[test]
fn the_controllers_differ_only_where_h3_ran_beside_tcp_under_another() {
    let mut cmp = over(None);
    cmp.kernel = Some(crate::transfer::kernel::KernelSettings {
        tcp_slow_start_after_idle: None,
        tcp_fin_timeout_s: None,
        tcp_congestion_control: Some("bbr".into()),
        initial_cwnd: None,
        tcp_no_metrics_save: None,
    });
    assert_eq!(cmp.congestion_differs(), None, "no h3");
    cmp.quic_congestion = Some("cubic");
    assert_eq!(cmp.congestion_differs(), None, "no mode ran");
    cmp.modes.push(ModeResult::new(
        Mode::Persistent,
        0,
        1,
        Vec::new(),
        None,
        None,
        Vec::new(),
    ));
    assert_eq!(cmp.congestion_differs(), Some(("bbr", "cubic")));
    cmp.quic_congestion = Some("bbr");
    assert_eq!(cmp.congestion_differs(), None, "the same");
}
