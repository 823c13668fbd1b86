//! Attribute layer: where a run's time went. One partition of the client's timeline, fed either by
//! the capture's connections or by the client's own timestamps.
//!
//! Reads capture and transfer results; must not import `pcap`, `etherparse` or report code.

use crate::timeline::Ts;
use crate::track::Connection;
use crate::transfer::run::ConnectionTiming;

/// Where a figure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PhaseSource {
    /// Packet timestamps from the capture.
    Capture,
    /// The client's own timestamps (no capture privileges).
    Client,
}

/// One connection reduced to the instants the partition needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionTimeline {
    /// Client SYN (capture) or connect() called (client).
    pub start: Ts,
    /// SYN-ACK seen (capture) or connect() returned (client).
    pub ready: Ts,
    /// On a TLS connection, the end of its handshake: the client's first application data, or
    /// with early data its Finished (capture); the handshake returned (client).
    pub tls_ready: Option<Ts>,
    /// Each request: sent, first response byte, last response byte, in order.
    pub exchanges: Vec<(Ts, Ts, Ts)>,
    /// The client's FIN, else the reset that ended the connection (capture), or close()
    /// returned (client): where its work on this connection ends and the gap to the next
    /// connection begins.
    pub client_close: Option<Ts>,
    /// Teardown time: first FIN → last ACK (capture), or last byte → close() returned (client).
    pub teardown_s: Option<f64>,
}

impl ConnectionTimeline {
    /// The timeline of a captured connection.
    pub fn from_capture(conn: &Connection) -> ConnectionTimeline {
        let start = conn.syn_ts.unwrap_or(conn.first_ts);
        let established_reset = conn.rst_ts.filter(|_| conn.synack_ts.is_some());
        ConnectionTimeline {
            start,
            ready: conn.synack_ts.unwrap_or(start),
            tls_ready: conn.tls().and_then(tls_done),
            exchanges: conn
                .exchanges
                .iter()
                .filter_map(|x| match (x.first_response, x.last_response) {
                    (Some(first), Some(last)) => Some((x.request, first, last)),
                    // A request (its request line read) that the reset cut off before any answer
                    // waited until the reset. Unread bytes may be no request (a TLS alert).
                    _ if x.target.is_some() => {
                        Some((x.request, established_reset?, established_reset?))
                    }
                    _ => None,
                })
                .collect(),
            // An established connection reset without the client's FIN ends at the reset: it was
            // open, if stalled, until then. A refused connect (no SYN-ACK) never opened.
            client_close: conn.client_fin.or(established_reset),
            teardown_s: conn.teardown_s(),
        }
    }

    /// The timeline the client measured itself.
    pub fn from_client(conn: &ConnectionTiming) -> ConnectionTimeline {
        // The latest, not the last sent: h3's responses arrive in any order.
        let last = conn
            .requests
            .iter()
            .map(|r| r.last_byte)
            .max()
            .unwrap_or(conn.connected);
        ConnectionTimeline {
            start: conn.connect_start,
            ready: conn.connected,
            tls_ready: conn.tls.map(|tls| tls.done),
            exchanges: conn
                .requests
                .iter()
                .map(|r| (r.sent, r.first_byte, r.last_byte))
                .collect(),
            client_close: Some(conn.closed),
            teardown_s: Some(conn.closed.secs_since(last)),
        }
    }
}

/// Where a captured TLS handshake ends for the client: its first application data (its request,
/// which TLS 1.2 may send only after the server's Finished), or with early data, its Finished
/// (the request went with the ClientHello).
fn tls_done(tls: &crate::track::tls::TlsHandshake) -> Option<Ts> {
    if tls.early_data_records > 0 {
        tls.client_finished
    } else {
        tls.client_first_data
    }
}

/// A run's time split into phases. `handshake + tls + client + wait + transfer + closing + between
/// = timeline` exactly; `teardown` overlaps the others and is reported beside them, not added.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct Phases {
    /// Client SYN → SYN-ACK received, summed over connections.
    pub handshake_s: f64,
    /// TLS handshakes: SYN-ACK → the handshake done for the client, where no request is on its way yet
    /// (early data moves the request into the handshake, and its wait counts as wait).
    pub tls_s: f64,
    /// The client's own work before a request: connection ready or previous response done →
    /// request sent.
    pub client_s: f64,
    /// Request sent → first response byte: the request's trip and the server's think time.
    pub wait_s: f64,
    /// First → last response byte.
    pub transfer_s: f64,
    /// Last response byte on a connection → the client's FIN on it (or the reset that ended it):
    /// reading the server's FIN, closing. Only closes that precede more work count: the
    /// timeline ends at the last byte.
    pub closing_s: f64,
    /// The client's FIN on one connection (the reset that ended it, or its last byte when neither
    /// was seen) → SYN of the next: close, socket setup, connect.
    pub between_s: f64,
    /// First FIN → last ACK, summed over connections (overlaps the phases above).
    pub teardown_s: f64,
    /// First SYN → last response byte.
    pub timeline_s: f64,
}

impl Phases {
    /// Partitions the timeline of one run's connections.
    pub fn partition(connections: &[ConnectionTimeline]) -> Phases {
        let mut acc = PhaseAccumulator::default();
        connections.iter().for_each(|c| acc.add(c));
        acc.finish()
    }

    /// The sum of the partitioning phases (equals `timeline_s` up to rounding).
    pub fn partition_sum(&self) -> f64 {
        self.handshake_s
            + self.tls_s
            + self.client_s
            + self.wait_s
            + self.transfer_s
            + self.closing_s
            + self.between_s
    }
}

/// A phase an instant can belong to, lowest priority first: where connections overlap (parallel,
/// pipelined), an instant goes to the most advanced phase any connection is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Client,
    Closing,
    Handshake,
    Tls,
    Wait,
    Transfer,
}

/// Builds `Phases` one connection at a time, in any order. Each connection becomes labelled
/// intervals; `finish` gives every instant of first SYN → last byte to one phase, and what no
/// interval covers to "between connections", so the phases partition the timeline even when
/// connections overlap.
#[derive(Debug, Default)]
pub struct PhaseAccumulator {
    intervals: Vec<(Ts, Ts, Kind)>,
    first: Option<Ts>,
    last: Option<Ts>,
    last_without_response: Option<Ts>,
    teardown_s: f64,
}

impl PhaseAccumulator {
    /// Adds one connection.
    pub fn add(&mut self, conn: &ConnectionTimeline) {
        let mut push = |from: Ts, to: Ts, kind| {
            if to > from {
                self.intervals.push((from, to, kind));
            }
        };
        push(conn.start, conn.ready, Kind::Handshake);
        let mut cursor = conn.ready;
        if let Some(tls_ready) = conn.tls_ready {
            push(conn.ready, tls_ready, Kind::Tls);
            cursor = cursor.max(tls_ready);
        }
        for &(request, first, last) in &conn.exchanges {
            push(cursor, request, Kind::Client);
            push(request, first, Kind::Wait);
            push(first, last, Kind::Transfer);
            cursor = cursor.max(last);
        }
        // After the last byte, up to the client's FIN: closing; from the FIN on, the time belongs
        // to the change of connection.
        if let Some(close) = conn.client_close {
            push(cursor, close, Kind::Closing);
        }
        self.first = Some(self.first.map_or(conn.start, |f| f.min(conn.start)));
        // The timeline ends at the last response byte; only when no connection carried a
        // response does it end where the last handshake did.
        let end = if conn.exchanges.is_empty() {
            &mut self.last_without_response
        } else {
            &mut self.last
        };
        *end = Some(end.map_or(cursor, |l| l.max(cursor)));
        self.teardown_s += conn.teardown_s.unwrap_or(0.0);
    }

    /// Splits first SYN → last byte between the phases.
    pub fn finish(self) -> Phases {
        let (Some(first), Some(last)) = (self.first, self.last.or(self.last_without_response))
        else {
            return Phases::default();
        };
        let mut phases = Phases {
            teardown_s: self.teardown_s,
            timeline_s: last.secs_since(first),
            ..Phases::default()
        };
        // Sweep the interval boundaries, counting how many intervals of each kind are open.
        let mut open = [0usize; 6];
        let mut at = first;
        let add = |phases: &mut Phases, open: &[usize; 6], from: Ts, to: Ts| {
            let span = to.secs_since(from);
            let slot = match open.iter().rposition(|&n| n > 0) {
                Some(5) => &mut phases.transfer_s,
                Some(4) => &mut phases.wait_s,
                Some(3) => &mut phases.tls_s,
                Some(2) => &mut phases.handshake_s,
                Some(1) => &mut phases.closing_s,
                Some(_) => &mut phases.client_s,
                None => &mut phases.between_s,
            };
            *slot += span;
        };
        let mut step = |ts: Ts, opens: bool, kind: usize| {
            if ts > at {
                add(&mut phases, &open, at, ts);
                at = ts;
            }
            let n = &mut open[kind];
            *n = if opens { *n + 1 } else { n.saturating_sub(1) };
        };
        // Events sort unstably: those at one instant add no time between them, and none closes
        // an interval before it opened, so their order changes nothing. Each is one word (its
        // offset from the first SYN, its kind, opening or closing) where the timeline allows.
        let clipped = self.intervals.iter().filter_map(|&(from, to, kind)| {
            let (from, to) = (from.max(first), to.min(last));
            (to > from).then_some((from, to, kind as usize))
        });
        let span = last.0.checked_sub(first.0);
        if span.is_some_and(|span| (0..1 << 59).contains(&span)) {
            let word = |ts: Ts, opens: bool, kind: usize| {
                ((ts.0 - first.0) as u64) << 4 | (kind as u64) << 1 | u64::from(opens)
            };
            let mut events: Vec<u64> = Vec::with_capacity(self.intervals.len() * 2);
            for (from, to, kind) in clipped {
                events.push(word(from, true, kind));
                events.push(word(to, false, kind));
            }
            events.sort_unstable();
            for e in events {
                step(
                    Ts(first.0 + (e >> 4) as i64),
                    e & 1 == 1,
                    (e >> 1 & 7) as usize,
                );
            }
        } else {
            let mut events: Vec<(Ts, bool, usize)> = Vec::with_capacity(self.intervals.len() * 2);
            for (from, to, kind) in clipped {
                events.push((from, true, kind));
                events.push((to, false, kind));
            }
            events.sort_unstable_by_key(|e| e.0);
            for (ts, opens, kind) in events {
                step(ts, opens, kind);
            }
        }
        if last > at {
            add(&mut phases, &open, at, last);
        }
        phases
    }
}

/// Splits captured connections into runs: each goes to the last run that started at or before its
/// first SYN. Connections before the first run are left out.
pub fn assign_to_runs<'a>(
    connections: &'a [Connection],
    run_starts: &[Ts],
) -> Vec<Vec<&'a Connection>> {
    let mut runs: Vec<Vec<&Connection>> = vec![Vec::new(); run_starts.len()];
    for conn in connections {
        let start = conn.syn_ts.unwrap_or(conn.first_ts);
        if let Some(index) = run_starts.iter().rposition(|&s| s <= start) {
            runs[index].push(conn);
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(us: i64) -> Ts {
        Ts(us * 1_000)
    }

    #[test]
    fn phases_partition_the_timeline_exactly() {
        let conns = vec![
            ConnectionTimeline {
                start: t(100),
                tls_ready: None,
                ready: t(130),
                exchanges: vec![(t(150), t(200), t(900))],
                client_close: Some(t(950)),
                teardown_s: Some(50e-6),
            },
            ConnectionTimeline {
                start: t(1000),
                tls_ready: None,
                ready: t(1020),
                exchanges: vec![(t(1040), t(1100), t(1400)), (t(1450), t(1500), t(1700))],
                client_close: None,
                teardown_s: None,
            },
        ];
        let p = Phases::partition(&conns);
        assert!((p.handshake_s - 50e-6).abs() < 1e-12);
        assert!((p.client_s - (20e-6 + 20e-6 + 50e-6)).abs() < 1e-12);
        assert!(
            (p.closing_s - 50e-6).abs() < 1e-12,
            "900 → 950: last byte → FIN"
        );
        assert!((p.wait_s - (50e-6 + 60e-6 + 50e-6)).abs() < 1e-12);
        assert!((p.transfer_s - (700e-6 + 300e-6 + 200e-6)).abs() < 1e-12);
        assert!((p.between_s - 50e-6).abs() < 1e-12);
        assert!((p.timeline_s - 1600e-6).abs() < 1e-12);
        assert!((p.partition_sum() - p.timeline_s).abs() < 1e-12);
        assert!((p.teardown_s - 50e-6).abs() < 1e-12);
    }

    #[test]
    fn a_timeline_of_centuries_is_partitioned_alike() {
        // Timestamps of a damaged capture, too far apart for the events' one-word form.
        let conn = |start: i64| ConnectionTimeline {
            start: Ts(start),
            tls_ready: None,
            ready: Ts(start + 1_000),
            exchanges: vec![(Ts(start + 2_000), Ts(start + 3_000), Ts(start + 4_000))],
            client_close: None,
            teardown_s: None,
        };
        let near = Phases::partition(&[conn(0), conn(10_000)]);
        let far = Phases::partition(&[conn(0), conn(1 << 60)]);
        assert!((near.handshake_s - 2e-6).abs() < 1e-12, "{near:?}");
        assert!((far.handshake_s - 2e-6).abs() < 1e-12, "{far:?}");
        assert!((far.transfer_s - 2e-6).abs() < 1e-12, "{far:?}");
        assert!((far.partition_sum() - far.timeline_s).abs() / far.timeline_s < 1e-12);
    }

    #[test]
    fn overlapping_connections_still_partition_the_timeline() {
        let conns = vec![
            ConnectionTimeline {
                start: t(0),
                tls_ready: None,
                ready: t(100),
                exchanges: vec![(t(110), t(200), t(1000))],
                client_close: Some(t(1010)),
                teardown_s: None,
            },
            ConnectionTimeline {
                start: t(50),
                tls_ready: None,
                ready: t(150),
                exchanges: vec![(t(160), t(300), t(600))],
                client_close: Some(t(610)),
                teardown_s: None,
            },
        ];
        let p = Phases::partition(&conns);
        assert!((p.timeline_s - 1000e-6).abs() < 1e-12);
        assert!((p.partition_sum() - p.timeline_s).abs() < 1e-12);
        // 0–110 handshake (the first until 100, then the second's), 110–200 wait (the first's
        // request outranks the second's handshake), 200–1000 transfer.
        assert!((p.handshake_s - 110e-6).abs() < 1e-12, "{p:?}");
        assert!((p.wait_s - 90e-6).abs() < 1e-12, "{p:?}");
        assert!((p.transfer_s - 800e-6).abs() < 1e-12, "{p:?}");
        assert_eq!(p.between_s, 0.0);
    }

    #[test]
    fn tls_handshakes_are_a_phase_of_their_own_unless_a_request_rides_in_them() {
        let conns = vec![
            // A full handshake: SYN-ACK at 100, Finished at 200, the request after it.
            ConnectionTimeline {
                start: t(0),
                ready: t(100),
                tls_ready: Some(t(200)),
                exchanges: vec![(t(210), t(300), t(400))],
                client_close: Some(t(420)),
                teardown_s: None,
            },
            // Early data: the request leaves at 550, before the handshake ends at 600.
            ConnectionTimeline {
                start: t(500),
                ready: t(540),
                tls_ready: Some(t(600)),
                exchanges: vec![(t(550), t(640), t(700))],
                client_close: None,
                teardown_s: None,
            },
        ];
        let p = Phases::partition(&conns);
        assert!((p.handshake_s - 140e-6).abs() < 1e-12, "{p:?}");
        assert!(
            (p.tls_s - (100e-6 + 10e-6)).abs() < 1e-12,
            "100–200, and 540–550 before the early request: {p:?}"
        );
        assert!((p.wait_s - (90e-6 + 90e-6)).abs() < 1e-12, "{p:?}");
        assert!((p.partition_sum() - p.timeline_s).abs() < 1e-12);
    }

    #[test]
    fn no_connections_means_no_time() {
        assert_eq!(Phases::partition(&[]), Phases::default());
    }
}
