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
}

/// A row of the attribution, for whoever words it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Row {
    /// Extra handshakes.
    Handshakes,
    /// Extra TLS handshakes.
    TlsHandshakes,
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
            remainder_s: gap_s
                - handshake_s
                - tls_s.unwrap_or(0.0)
                - between_s
                - transfer_s
                - wait_s
                - client_s,
        }
    }

    /// The rows in display order with their seconds; they add up to the gap. Without a capture
    /// there is no slow-start row and the transfer row is the whole transfer.
    pub fn rows(&self) -> Vec<(Row, f64)> {
        let mut rows = vec![(Row::Handshakes, self.handshake_s)];
        if let Some(s) = self.tls_s {
            rows.push((Row::TlsHandshakes, s));
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
