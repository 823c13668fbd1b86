//! Attribute layer: what the packet counts should be for a mode, and why they may differ.

use crate::track::{CloseKind, Connection, FinalState, FlagCounts, Totals};
use crate::transfer::run::{ClientTlsOptions, Mode};
use crate::words::counted;

/// The counts one run of a mode should produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Expected {
    /// TCP streams.
    pub connections: u64,
    /// SYN (one per connection).
    pub syn: u64,
    /// SYN-ACK.
    pub synack: u64,
    /// Handshake ACKs.
    pub handshake_ack: u64,
    /// FINs: one from each side of each connection.
    pub fin: u64,
    /// RSTs: none on a clean close.
    pub rst: u64,
    /// The TLS handshakes, when the client spoke TLS.
    pub tls: Option<ExpectedTls>,
}

/// The TLS handshakes the runs of a mode should show on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct ExpectedTls {
    /// ClientHellos: one per connection (no HelloRetryRequest asked for another).
    pub client_hello: u64,
    /// ServerHellos: one per connection.
    pub server_hello: u64,
    /// HelloRetryRequests: none (client and server share a key-exchange group).
    pub hello_retry: u64,
    /// Resumed sessions: with resumption, every connection that opens after a run's first has
    /// left its session (parallel: after the first batch), and none without.
    pub resumed: u64,
    /// Connections that sent early data: every resumed one, when asked for.
    pub early_data: u64,
}

/// How the client opened connections, for the TLS counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsPlan {
    /// Later connections resume the run's session.
    pub resume: bool,
    /// Resumed connections send early data.
    pub early_data: bool,
    /// Connections the parallel mode opens at once (none of them finds a session).
    pub parallel: usize,
}

impl TlsPlan {
    /// The plan of a client with these options, `parallel` connections at once in parallel mode.
    pub fn of(options: &ClientTlsOptions, parallel: usize) -> TlsPlan {
        TlsPlan {
            resume: options.resume,
            early_data: options.early_data,
            parallel,
        }
    }
}

impl Expected {
    /// The textbook counts for `runs` runs of `mode` over `files` files, with TLS as `tls` says.
    pub fn for_mode(mode: Mode, files: usize, runs: usize, tls: Option<TlsPlan>) -> Expected {
        Expected::for_mode_on(mode, files, 1, runs, tls)
    }

    /// What `runs` runs of `mode` over `files` files on `servers` servers at once should show: a
    /// mode that keeps one connection keeps one to each server.
    pub fn for_mode_on(
        mode: Mode,
        files: usize,
        servers: usize,
        runs: usize,
        tls: Option<TlsPlan>,
    ) -> Expected {
        let per_run = match mode {
            Mode::NonPersistent | Mode::Parallel => files as u64,
            Mode::Persistent | Mode::Pipelined | Mode::H2 | Mode::H2c | Mode::H3 => {
                servers.max(1) as u64
            }
        };
        let connections = per_run * runs as u64;
        let tls = tls.map(|plan| {
            let fresh_per_run = match mode {
                Mode::Parallel => plan.parallel.clamp(1, files.max(1)) as u64,
                _ => 1,
            };
            let resumed = if plan.resume {
                connections - fresh_per_run.min(per_run) * runs as u64
            } else {
                0
            };
            ExpectedTls {
                client_hello: connections,
                server_hello: connections,
                hello_retry: 0,
                resumed,
                early_data: if plan.early_data { resumed } else { 0 },
            }
        });
        Expected {
            connections,
            syn: connections,
            synack: connections,
            handshake_ack: connections,
            fin: 2 * connections,
            rst: 0,
            tls,
        }
    }
}

/// One row of the packet table: an observed count, its expected value, and why they differ.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct CountCheck {
    /// What is counted.
    pub name: &'static str,
    /// What the capture shows.
    pub observed: u64,
    /// What the mode predicts, where it predicts anything.
    pub expected: Option<u64>,
    /// Why they differ, when known.
    pub reason: Option<String>,
}

impl CountCheck {
    /// True when an expectation exists and the observation differs.
    pub fn differs(&self) -> bool {
        self.expected.is_some_and(|e| e != self.observed)
    }
}

/// Compares `totals` of `connections` with `expected`, explaining what it can.
pub fn check(
    totals: &Totals,
    expected: &Expected,
    connections: &[&Connection],
    dropped: u64,
) -> Vec<CountCheck> {
    let mut checks = Checks {
        rows: Vec::new(),
        common: Vec::new(),
    };
    if dropped > 0 {
        checks
            .common
            .push(format!("kernel dropped {dropped} packets"));
    }
    handshake_rows(&mut checks, totals, expected, connections);
    teardown_rows(&mut checks, &totals.counts, expected, connections);
    if let Some(tls) = expected.tls {
        tls_rows(&tls, connections, &mut checks);
    }
    let c = &totals.counts;
    let observed_only = [
        ("pure ACK", c.pure_ack),
        ("data", c.data),
        ("packets", c.packets),
        ("bytes", c.bytes),
    ];
    for (name, observed) in observed_only
        .into_iter()
        .chain(sequence_analysis(c).into_iter().flatten())
    {
        checks.rows.push(CountCheck {
            name,
            observed,
            expected: None,
            reason: None,
        });
    }
    checks.rows
}

/// The rows of a packet table as they are checked, with the reasons every difference shares.
struct Checks {
    rows: Vec<CountCheck>,
    /// What explains any count that differs (packets the kernel dropped).
    common: Vec<String>,
}

impl Checks {
    /// A row of a count the mode predicts; `why` is what explains a difference, if there is one.
    fn expect(&mut self, name: &'static str, observed: u64, expected: u64, why: Vec<String>) {
        let reason = (observed != expected).then(|| {
            let mut all = why;
            all.extend(self.common.iter().cloned());
            if all.is_empty() {
                all.push("unexplained".into());
            }
            all.join("; ")
        });
        self.rows.push(CountCheck {
            name,
            observed,
            expected: Some(expected),
            reason,
        });
    }
}

/// `n` connections that did `what` ("began before the capture"), as a reason; none when 0.
fn connections_that(n: usize, what: &str) -> Vec<String> {
    if n > 0 {
        vec![format!(
            "{} {what}",
            counted(n, "connection", "connections")
        )]
    } else {
        vec![]
    }
}

/// `n` packets of kind `what` sent again, as a reason; none when 0.
fn sent_again(n: u64, what: &str) -> Vec<String> {
    if n > 0 {
        vec![format!(
            "{} sent again (a timeout or tail loss probe)",
            counted(n, what, &format!("{what}s"))
        )]
    } else {
        vec![]
    }
}

/// The connection count and the handshake's rows: SYN, SYN-ACK, handshake ACK.
fn handshake_rows(
    checks: &mut Checks,
    totals: &Totals,
    expected: &Expected,
    connections: &[&Connection],
) {
    let c = &totals.counts;
    let no_syn = connections.iter().filter(|c| !c.syn_seen).count();
    checks.expect(
        "connections",
        totals.connections,
        expected.connections,
        connections_that(no_syn, "began before the capture"),
    );
    checks.expect("SYN", c.syn, expected.syn, sent_again(c.resent_syn, "SYN"));
    checks.expect(
        "SYN-ACK",
        c.synack,
        expected.synack,
        sent_again(c.resent_synack, "SYN-ACK"),
    );
    checks.expect(
        "handshake ACK",
        c.handshake_ack,
        expected.handshake_ack,
        connections_that(no_syn, "without a handshake in the capture"),
    );
}

/// The teardown's rows: FIN and RST.
fn teardown_rows(
    checks: &mut Checks,
    c: &FlagCounts,
    expected: &Expected,
    connections: &[&Connection],
) {
    let unclosed = connections
        .iter()
        .filter(|c| matches!(c.final_state(), FinalState::Open | FinalState::HalfClosed))
        .count();
    let mut fin_why = sent_again(c.resent_fin, "FIN");
    fin_why.extend(connections_that(
        unclosed,
        "not closed when the capture ended",
    ));
    if c.rst > 0 {
        fin_why.push("connections ended by RST instead of FIN".into());
    }
    checks.expect("FIN", c.fin, expected.fin, fin_why);
    checks.expect(
        "RST",
        c.rst,
        expected.rst,
        vec!["a side closed with unread data, or its peer was gone".into()],
    );
}

/// Wireshark's sequence analysis as named rows, where the capture has any (a clean run has
/// none): retransmissions (fast and spurious among them), out-of-order, lost segments, duplicate
/// ACKs.
pub fn sequence_analysis(c: &FlagCounts) -> Option<[(&'static str, u64); 6]> {
    let rows = [
        ("retransmission", c.retransmissions),
        ("  of them fast", c.fast_retransmissions),
        ("  of them spurious", c.spurious_retransmissions),
        ("out-of-order", c.out_of_order),
        ("lost segment", c.lost_segments),
        ("duplicate ACK", c.dup_acks),
    ];
    rows.iter().any(|(_, n)| *n > 0).then_some(rows)
}

/// The TLS rows: hellos, HelloRetryRequests, resumed sessions and early data counted on the wire.
fn tls_rows(tls: &ExpectedTls, connections: &[&Connection], checks: &mut Checks) {
    let handshakes: Vec<_> = connections.iter().filter_map(|c| c.tls()).collect();
    let sum =
        |f: fn(&crate::track::tls::TlsHandshake) -> u64| handshakes.iter().map(|h| f(h)).sum();
    let cut = handshakes.iter().filter(|h| h.is_incomplete()).count();
    let not_read = connections.len() - handshakes.len();
    let mut why = Vec::new();
    if cut > 0 {
        why.push(format!(
            "{} cut short in the capture (snap length or missing bytes)",
            counted(cut, "handshake", "handshakes")
        ));
    }
    if not_read > 0 {
        why.push(format!(
            "{} whose first bytes were not captured as TLS",
            counted(not_read, "connection", "connections")
        ));
    }
    let hrr = sum(|h| u64::from(h.hello_retry_requests));
    let mut hello_why = why.clone();
    if hrr > 0 {
        hello_why.push(format!(
            "{} asked for a second ClientHello",
            counted(hrr, "HelloRetryRequest", "HelloRetryRequests")
        ));
    }
    checks.expect(
        "ClientHello",
        sum(|h| u64::from(h.client_hellos())),
        tls.client_hello,
        hello_why,
    );
    checks.expect(
        "ServerHello",
        sum(|h| u64::from(h.server_hellos())),
        tls.server_hello,
        why.clone(),
    );
    checks.expect(
        "HelloRetryRequest",
        hrr,
        tls.hello_retry,
        vec!["the server wanted another key-exchange group".into()],
    );
    checks.expect(
        "resumed",
        sum(|h| u64::from(h.resumed())),
        tls.resumed,
        why.clone(),
    );
    if tls.early_data > 0 {
        checks.expect(
            "0-RTT data sent",
            sum(|h| u64::from(h.early_data_records > 0)),
            tls.early_data,
            why,
        );
    }
}

/// One line on how the connections closed: why the packet count of a teardown is 3 or 4, and
/// how many FINs rode on the last data segment.
pub fn close_note(connections: &[&Connection]) -> String {
    let count = |kind| connections.iter().filter(|c| c.close == Some(kind)).count();
    let (four, three, both) = (
        count(CloseKind::FourWay),
        count(CloseKind::ThreeWay),
        count(CloseKind::Simultaneous),
    );
    let open = connections.iter().filter(|c| c.close.is_none()).count();
    let riding: u64 = connections.iter().map(|c| c.fin_with_data).sum();
    let mut parts = vec![
        format!("{four} four-packet (FIN, ACK, FIN, ACK)"),
        format!("{three} three-packet (FIN, FIN+ACK, ACK)"),
    ];
    if both > 0 {
        parts.push(format!("{both} simultaneous"));
    }
    if open > 0 {
        parts.push(format!("{open} without both FINs"));
    }
    format!(
        "Closes: {}; {} on the last data segment instead of a packet of {}",
        parts.join(", "),
        counted(riding, "FIN rode", "FINs rode"),
        if riding == 1 { "its own" } else { "their own" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::track::FlagCounts;

    #[test]
    fn textbook_counts_per_mode() {
        let np = Expected::for_mode(Mode::NonPersistent, 3, 2, None);
        assert_eq!((np.connections, np.syn, np.fin, np.rst), (6, 6, 12, 0));
        let p = Expected::for_mode(Mode::Persistent, 3, 2, None);
        assert_eq!((p.connections, p.syn, p.fin), (2, 2, 4));
        let pipelined = Expected::for_mode(Mode::Pipelined, 3, 2, None);
        assert_eq!((pipelined.connections, pipelined.fin), (2, 4));
        let parallel = Expected::for_mode(Mode::Parallel, 3, 2, None);
        assert_eq!((parallel.connections, parallel.fin), (6, 12));
    }

    #[test]
    fn tls_counts_follow_resumption_per_mode() {
        let plan = TlsPlan {
            resume: true,
            early_data: true,
            parallel: 2,
        };
        let tls = |mode, files| Expected::for_mode(mode, files, 2, Some(plan)).tls.unwrap();
        let np = tls(Mode::NonPersistent, 3);
        assert_eq!((np.client_hello, np.resumed, np.early_data), (6, 4, 4));
        let p = tls(Mode::Persistent, 3);
        assert_eq!((p.client_hello, p.resumed), (2, 0));
        let parallel = tls(Mode::Parallel, 5);
        assert_eq!(
            (parallel.client_hello, parallel.resumed),
            (10, 6),
            "the first two of each run find no session"
        );
        let plain = Expected::for_mode(
            Mode::NonPersistent,
            3,
            2,
            Some(TlsPlan {
                resume: false,
                early_data: false,
                parallel: 6,
            }),
        );
        assert_eq!(plain.tls.map(|t| (t.resumed, t.early_data)), Some((0, 0)));
    }

    #[test]
    fn a_missing_fin_is_marked_with_a_reason() {
        let totals = Totals {
            connections: 1,
            counts: FlagCounts {
                syn: 1,
                synack: 1,
                handshake_ack: 1,
                fin: 1,
                ..FlagCounts::default()
            },
        };
        let rows = check(
            &totals,
            &Expected::for_mode(Mode::Persistent, 3, 1, None),
            &[],
            4,
        );
        let fin = rows.iter().find(|r| r.name == "FIN").unwrap();
        assert!(fin.differs());
        assert!(fin.reason.as_deref().unwrap().contains("kernel dropped 4"));
        let syn = rows.iter().find(|r| r.name == "SYN").unwrap();
        assert!(!syn.differs());
        assert_eq!(syn.reason, None);
    }

    #[test]
    fn a_resent_syn_explains_the_syn_row_and_a_resent_syn_ack_its_own() {
        let totals = Totals {
            connections: 1,
            counts: FlagCounts {
                syn: 2,
                synack: 2,
                handshake_ack: 1,
                fin: 2,
                retransmissions: 2,
                resent_syn: 1,
                resent_synack: 1,
                ..FlagCounts::default()
            },
        };
        let rows = check(
            &totals,
            &Expected::for_mode(Mode::Persistent, 3, 1, None),
            &[],
            0,
        );
        let reason = |name| {
            rows.iter()
                .find(|r| r.name == name)
                .and_then(|r| r.reason.clone())
                .unwrap()
        };
        assert_eq!(
            reason("SYN"),
            "1 SYN sent again (a timeout or tail loss probe)"
        );
        assert_eq!(
            reason("SYN-ACK"),
            "1 SYN-ACK sent again (a timeout or tail loss probe)"
        );
    }
}
