//! Attribute layer: the gap between two modes' mean run times, split into phase rows whose sum is
//! the gap exactly. Imports only the phase type.

use super::phases::Phases;
use super::stats::mean;

/// mean(T_slower) − mean(T_baseline), split by phase. `remainder_s` is what lies outside the
/// partitioned timeline (before the first SYN, after the last response byte) and is never hidden.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Attribution {
    /// The whole gap.
    pub gap_s: f64,
    /// Extra handshakes.
    pub handshake_s: f64,
    /// Between-connection gaps: close, FIN exchange, socket setup.
    pub between_s: f64,
    /// Transfer time (slow start restarts on every new connection).
    pub transfer_s: f64,
    /// Request wait.
    pub wait_s: f64,
    /// The client's own work between files.
    pub client_s: f64,
    /// Gap minus the rows above.
    pub remainder_s: f64,
}

/// One run: its total as the client measured it, and its phases.
#[derive(Debug, Clone, Copy)]
pub struct RunPhases {
    /// The run's total time.
    pub total_s: f64,
    /// Its phases.
    pub phases: Phases,
}

impl Attribution {
    /// Splits mean(`slower`.total) − mean(`baseline`.total).
    pub fn between(slower: &[RunPhases], baseline: &[RunPhases]) -> Attribution {
        let delta =
            |f: fn(&RunPhases) -> f64| mean(slower.iter().map(f)) - mean(baseline.iter().map(f));
        let gap_s = delta(|r| r.total_s);
        let handshake_s = delta(|r| r.phases.handshake_s);
        let between_s = delta(|r| r.phases.between_s);
        let transfer_s = delta(|r| r.phases.transfer_s);
        let wait_s = delta(|r| r.phases.wait_s);
        let client_s = delta(|r| r.phases.client_s);
        Attribution {
            gap_s,
            handshake_s,
            between_s,
            transfer_s,
            wait_s,
            client_s,
            remainder_s: gap_s - handshake_s - between_s - transfer_s - wait_s - client_s,
        }
    }

    /// The rows in display order, with their labels.
    pub fn rows(&self) -> [(&'static str, f64); 6] {
        [
            ("extra handshakes", self.handshake_s),
            (
                "between connections (close, new socket, connect)",
                self.between_s,
            ),
            ("transfer (slow start)", self.transfer_s),
            ("request wait (request sent → first byte)", self.wait_s),
            (
                "client work (saving a file, reading the FIN, next request)",
                self.client_s,
            ),
            (
                "remainder (outside first SYN → last byte)",
                self.remainder_s,
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        total_s: f64,
        handshake_s: f64,
        between_s: f64,
        transfer_s: f64,
        wait_s: f64,
    ) -> RunPhases {
        RunPhases {
            total_s,
            phases: Phases {
                handshake_s,
                client_s: 0.0,
                wait_s,
                transfer_s,
                between_s,
                teardown_s: 0.0,
                timeline_s: handshake_s + wait_s + transfer_s + between_s,
            },
        }
    }

    #[test]
    fn rows_sum_to_the_gap() {
        let slow = [run(1.0, 0.3, 0.2, 0.3, 0.1), run(1.2, 0.3, 0.3, 0.4, 0.1)];
        let fast = [run(0.5, 0.1, 0.0, 0.25, 0.05)];
        let a = Attribution::between(&slow, &fast);
        assert!((a.gap_s - 0.6).abs() < 1e-12);
        assert!((a.handshake_s - 0.2).abs() < 1e-12);
        assert!((a.between_s - 0.25).abs() < 1e-12);
        let sum: f64 = a.rows().iter().map(|r| r.1).sum();
        assert!((sum - a.gap_s).abs() < 1e-12);
        assert!((a.remainder_s - (0.6 - 0.2 - 0.25 - 0.1 - 0.05)).abs() < 1e-12);
    }
}
