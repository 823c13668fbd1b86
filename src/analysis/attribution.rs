//! Attribute layer: the gap between two modes' mean run times, split into phase rows whose sum is
//! the gap exactly, with its confidence interval. Imports only the phase and statistics types.

use super::phases::Phases;
use super::stats::{Interval, mean, welch_interval};

/// Confidence level of the gap's interval.
pub const CONFIDENCE: f64 = 0.95;

/// mean(T_slower) − mean(T_baseline), split by phase. The rows (`rows`) add up to `gap_s`;
/// `remainder_s` is what lies outside the captured first SYN → last byte (the connect call before
/// the first SYN leaves, and reading the last byte after it arrived) and is never hidden.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct Attribution {
    /// The whole gap.
    pub gap_s: f64,
    /// Its confidence interval over the rounds (None with fewer than two rounds).
    pub interval: Option<Interval>,
    /// Extra handshakes (client SYN → SYN-ACK).
    pub handshake_s: f64,
    /// Connections opened per run more than the baseline's.
    pub extra_connections: f64,
    /// Extra TLS handshakes (SYN-ACK → handshake done); None when neither side spoke TLS.
    pub tls_s: Option<f64>,
    /// Closing and reconnecting on the critical path: last byte → the next SYN (closing, then
    /// between connections).
    pub between_s: f64,
    /// Transfer time, first → last response byte: `slow_start_s + transfer_rest_s`.
    pub transfer_s: f64,
    /// Slow-start round trips: the extra packet-timed rounds the responses took, times the
    /// measured round trip (None without a capture, which alone counts rounds).
    pub slow_start_s: Option<f64>,
    /// Rounds per run more than the baseline's responses took (beyond each response's first).
    pub extra_rounds: Option<f64>,
    /// The rest of the transfer time: copying, pacing, CPU.
    pub transfer_rest_s: f64,
    /// Request wait.
    pub wait_s: f64,
    /// The client's own work before requests.
    pub client_s: f64,
    /// Gap minus the rows above.
    pub remainder_s: f64,
    /// SYNs and SYN-ACKs sent again over all the compared mode's runs (the `slower` of
    /// [`Attribution::between`], whichever was faster; None without a capture).
    pub handshake_resends: Option<u64>,
    /// Segments resent (retransmission or out-of-order) over the compared mode's runs (None
    /// without a capture).
    pub resent: Option<u64>,
    /// The handshakes the compared mode opened its connections with, per run (mean).
    pub openings: Openings,
    /// The baseline's, per run (mean).
    pub baseline_openings: Openings,
}

/// The handshakes a run opened its connections with, counted, and the round trips each kind takes
/// before a request may leave by its protocol: what the handshake rows' seconds are set against.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct Openings {
    /// TCP handshakes: connections opened (capture: first SYNs; else the client's connects).
    pub tcp: f64,
    /// Of those, the ones whose request waited for the handshake's round trip: all but those
    /// whose SYN carried data (TCP Fast Open, capture).
    pub tcp_round_trips: f64,
    /// TLS handshakes over TCP (the client's).
    pub tls: f64,
    /// The round trips those TLS handshakes take before a request may leave, by their version
    /// and resumption (TLS 1.2: 2; TLS 1.3 or resumed: 1; early data accepted: 0), summed.
    pub tls_round_trips: f64,
    /// QUIC handshakes, the transport's and TLS 1.3's in one (the client's connections; one
    /// round trip each).
    pub quic: f64,
    /// Of those, the ones whose requests the server took as 0-RTT data: no round trip before
    /// them.
    pub zero_rtt: f64,
}

impl Openings {
    /// Round trips before the requests: TCP's and TLS's, or QUIC's.
    pub fn round_trips(&self) -> f64 {
        self.tcp_round_trips + self.tls_round_trips + self.quic - self.zero_rtt
    }

    /// The mean over runs.
    fn mean_of(runs: &[RunPhases]) -> Openings {
        let m = |f: fn(&Openings) -> f64| mean(runs.iter().map(|r| f(&r.openings)));
        Openings {
            tcp: m(|o| o.tcp),
            tcp_round_trips: m(|o| o.tcp_round_trips),
            tls: m(|o| o.tls),
            tls_round_trips: m(|o| o.tls_round_trips),
            quic: m(|o| o.quic),
            zero_rtt: m(|o| o.zero_rtt),
        }
    }
}

/// One run: its total as the client measured it, its phases, and what the capture counted.
#[derive(Debug, Clone, Copy)]
pub struct RunPhases {
    /// The run's total time (first connect → last byte).
    pub total_s: f64,
    /// Its phases.
    pub phases: Phases,
    /// Connections the run opened.
    pub connections: usize,
    /// Rounds its responses took beyond the first of each (None without a capture).
    pub extra_rounds: Option<u32>,
    /// SYNs and SYN-ACKs its connections sent again (None without a capture): a handshake that
    /// needed one took longer than a round trip.
    pub handshake_resends: Option<u64>,
    /// Segments Wireshark marks as a retransmission or out-of-order (None without a capture):
    /// recovering from each takes rounds of its own.
    pub resent: Option<u64>,
    /// The handshakes that opened its connections.
    pub openings: Openings,
}

/// A row of the attribution, for whoever words it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Row {
    /// Extra handshakes.
    Handshakes,
    /// Extra TLS handshakes.
    TlsHandshakes,
    /// TCP's and TLS's handshakes against QUIC's, which opens the transport and TLS in one: a
    /// row of its own where one side speaks QUIC and the other TCP, as neither phase is the
    /// other's.
    QuicHandshakes,
    /// Last byte → next SYN.
    ClosingAndReconnecting,
    /// Extra slow-start round trips.
    SlowStartRounds,
    /// Transfer time beyond the rounds.
    TransferRest,
    /// Request sent → first byte.
    RequestWait,
    /// The client's work before requests.
    ClientWork,
    /// Outside first SYN → last byte.
    Remainder,
}

impl Attribution {
    /// Splits mean(`slower`.total) − mean(`baseline`.total); `rtt_s` is the measured round trip
    /// that prices each extra round.
    pub fn between(slower: &[RunPhases], baseline: &[RunPhases], rtt_s: f64) -> Attribution {
        let delta =
            |f: fn(&RunPhases) -> f64| mean(slower.iter().map(f)) - mean(baseline.iter().map(f));
        let totals = |runs: &[RunPhases]| runs.iter().map(|r| r.total_s).collect::<Vec<_>>();
        let gap_s = delta(|r| r.total_s);
        let handshake_s = delta(|r| r.phases.handshake_s);
        let spoke_tls = slower.iter().chain(baseline).any(|r| r.phases.tls_s > 0.0);
        let tls_s = spoke_tls.then(|| delta(|r| r.phases.tls_s));
        let between_s = delta(|r| r.phases.closing_s + r.phases.between_s);
        let transfer_s = delta(|r| r.phases.transfer_s);
        let wait_s = delta(|r| r.phases.wait_s);
        let client_s = delta(|r| r.phases.client_s);
        let rounds = |runs: &[RunPhases]| -> Option<f64> {
            let counted: Option<Vec<f64>> =
                runs.iter().map(|r| r.extra_rounds.map(f64::from)).collect();
            counted.filter(|c| !c.is_empty()).map(mean)
        };
        let extra_rounds = rounds(slower).zip(rounds(baseline)).map(|(a, b)| a - b);
        let slow_start_s = extra_rounds.map(|r| r * rtt_s);
        let transfer_rest_s = transfer_s - slow_start_s.unwrap_or(0.0);
        Attribution {
            gap_s,
            interval: welch_interval(&totals(slower), &totals(baseline), CONFIDENCE),
            handshake_s,
            extra_connections: delta(|r| r.connections as f64),
            tls_s,
            between_s,
            transfer_s,
            slow_start_s,
            extra_rounds,
            transfer_rest_s,
            wait_s,
            client_s,
            handshake_resends: slower.iter().map(|r| r.handshake_resends).sum(),
            resent: slower.iter().map(|r| r.resent).sum(),
            openings: Openings::mean_of(slower),
            baseline_openings: Openings::mean_of(baseline),
            remainder_s: gap_s
                - handshake_s
                - tls_s.unwrap_or(0.0)
                - between_s
                - transfer_s
                - wait_s
                - client_s,
        }
    }

    /// Whether one side opened its connections with QUIC and the other with TCP: their
    /// handshakes, TLS's included, are then one row.
    pub fn quic_against_tcp(&self) -> bool {
        let quic = |o: &Openings| o.quic > 0.0;
        let tcp = |o: &Openings| o.tcp > 0.0;
        (quic(&self.openings) && tcp(&self.baseline_openings))
            || (tcp(&self.openings) && quic(&self.baseline_openings))
    }

    /// The rows in display order with their seconds; they add up to the gap. Without a capture
    /// there is no slow-start row and the transfer row is the whole transfer.
    pub fn rows(&self) -> Vec<(Row, f64)> {
        let mut rows = Vec::new();
        if self.quic_against_tcp() {
            rows.push((
                Row::QuicHandshakes,
                self.handshake_s + self.tls_s.unwrap_or(0.0),
            ));
        } else {
            rows.push((Row::Handshakes, self.handshake_s));
            if let Some(s) = self.tls_s {
                rows.push((Row::TlsHandshakes, s));
            }
        }
        rows.push((Row::ClosingAndReconnecting, self.between_s));
        if let Some(s) = self.slow_start_s {
            rows.push((Row::SlowStartRounds, s));
        }
        rows.extend([
            (Row::TransferRest, self.transfer_rest_s),
            (Row::RequestWait, self.wait_s),
            (Row::ClientWork, self.client_s),
            (Row::Remainder, self.remainder_s),
        ]);
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(total_s: f64, phases: [f64; 5], connections: usize, rounds: Option<u32>) -> RunPhases {
        let [handshake_s, closing_s, between_s, transfer_s, wait_s] = phases;
        RunPhases {
            total_s,
            phases: Phases {
                handshake_s,
                tls_s: 0.0,
                client_s: 0.0,
                wait_s,
                transfer_s,
                closing_s,
                between_s,
                teardown_s: 0.0,
                timeline_s: handshake_s + closing_s + wait_s + transfer_s + between_s,
            },
            connections,
            extra_rounds: rounds,
            handshake_resends: rounds.map(|_| 0),
            resent: rounds.map(|_| 0),
            openings: Openings {
                tcp: connections as f64,
                tcp_round_trips: connections as f64,
                ..Openings::default()
            },
        }
    }

    #[test]
    fn rows_sum_to_the_gap() {
        let slow = [
            run(1.0, [0.3, 0.1, 0.1, 0.3, 0.1], 3, Some(6)),
            run(1.2, [0.3, 0.1, 0.2, 0.4, 0.1], 3, Some(6)),
        ];
        let fast = [run(0.5, [0.1, 0.0, 0.0, 0.25, 0.05], 1, Some(3))];
        let a = Attribution::between(&slow, &fast, 0.01);
        assert!((a.gap_s - 0.6).abs() < 1e-12);
        assert!((a.handshake_s - 0.2).abs() < 1e-12);
        assert!(
            (a.between_s - 0.25).abs() < 1e-12,
            "closing and between together"
        );
        assert_eq!(a.extra_connections, 2.0);
        assert_eq!(a.extra_rounds, Some(3.0));
        assert!(
            (a.slow_start_s.unwrap() - 0.03).abs() < 1e-12,
            "3 rounds × 10 ms"
        );
        assert!((a.transfer_rest_s - (0.1 - 0.03)).abs() < 1e-12);
        let sum: f64 = a.rows().iter().map(|r| r.1).sum();
        assert!((sum - a.gap_s).abs() < 1e-12);
        assert!((a.remainder_s - (0.6 - 0.2 - 0.25 - 0.1 - 0.05)).abs() < 1e-12);
        assert_eq!(a.interval, None, "one baseline run has no spread");
    }

    #[test]
    fn quics_handshake_against_tcps_and_tlss_is_one_row_and_the_rows_still_sum_to_the_gap() {
        // Persistent over TLS 1.3: a TCP handshake (10 ms) and a TLS one (12 ms) a run; h3: one
        // QUIC handshake (11 ms), its TLS inside it.
        let tls = |mut r: RunPhases| {
            r.phases.tls_s = 0.012;
            r.openings.tls = 1.0;
            r.openings.tls_round_trips = 1.0;
            r
        };
        let quic = |mut r: RunPhases| {
            r.openings = Openings {
                quic: 1.0,
                ..Openings::default()
            };
            r
        };
        let persistent = [tls(run(0.30, [0.010, 0.0, 0.0, 0.2, 0.05], 1, None)); 2];
        let h3 = [quic(run(0.27, [0.011, 0.0, 0.0, 0.2, 0.045], 1, None)); 2];
        let a = Attribution::between(&h3, &persistent, 0.01);
        assert!(a.quic_against_tcp());
        let rows = a.rows();
        assert!(
            !rows
                .iter()
                .any(|r| matches!(r.0, Row::Handshakes | Row::TlsHandshakes)),
            "{rows:?}"
        );
        let (_, handshakes) = rows[0];
        assert_eq!(rows[0].0, Row::QuicHandshakes);
        assert!((handshakes - (0.011 - 0.010 - 0.012)).abs() < 1e-12);
        assert_eq!(
            (a.baseline_openings.round_trips(), a.openings.round_trips()),
            (2.0, 1.0)
        );
        let sum: f64 = rows.iter().map(|r| r.1).sum();
        assert!((sum - a.gap_s).abs() < 1e-12, "{rows:?}");
        // Against itself, or TCP against TCP, the rows are TCP's and TLS's.
        let b = Attribution::between(&persistent, &persistent, 0.01);
        assert!(!b.quic_against_tcp());
        assert_eq!(b.rows()[0].0, Row::Handshakes);
    }

    #[test]
    fn without_rounds_the_transfer_row_is_the_whole_transfer() {
        let slow = [run(1.0, [0.3, 0.0, 0.1, 0.5, 0.1], 3, None); 3];
        let fast = [run(0.5, [0.1, 0.0, 0.0, 0.3, 0.1], 1, None); 3];
        let a = Attribution::between(&slow, &fast, 0.01);
        assert_eq!(a.slow_start_s, None);
        assert!(a.rows().iter().all(|r| r.0 != Row::SlowStartRounds));
        assert!((a.transfer_rest_s - 0.2).abs() < 1e-12);
        let sum: f64 = a.rows().iter().map(|r| r.1).sum();
        assert!((sum - a.gap_s).abs() < 1e-12);
        let interval = a.interval.expect("three runs each");
        assert_eq!(
            (interval.low, interval.high),
            (0.5, 0.5),
            "no spread: the point"
        );
    }
}
