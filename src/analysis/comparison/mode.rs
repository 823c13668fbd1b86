//! Attribute layer, comparison: all runs of one mode — built from the client's timings and the
//! capture, and summarised for the report: counts against expected, TLS sessions, phases per run,
//! what the model is held against.

use super::run::{CaptureInfo, RunResult};
use super::sessions::{FastOpen, TlsSessions};
use crate::analysis::attribution::{Openings, RunPhases};
use crate::analysis::expected::{CountCheck, Expected, TlsPlan, check};
use crate::analysis::model::Measured;
use crate::analysis::phases::{ConnectionTimeline, PhaseSource, Phases, assign_to_runs};
use crate::analysis::stats::{Summary, mean, outliers};
use crate::track::quic::{QuicConnection, QuicFlow};
use crate::track::{Connection, Exchange, Totals};
use std::net::SocketAddr;

use crate::timeline::Ts;
use crate::transfer::run::{Mode, ResponseSample, RunTiming, TlsVersion};

/// Why no connection of a mode's runs had a session of its run to resume (each run starts
/// without one, so its first connection makes a full handshake).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoSessionToResume {
    /// Each run had one connection (persistent, pipelined, h2): the run's first.
    OneConnectionPerRun,
    /// Every connection of each run opened before the run's first handshake was done.
    OpenedBeforeFirstHandshake,
}

/// All runs of one mode.
#[derive(Debug, Clone)]
pub struct ModeResult {
    /// The mode.
    pub mode: Mode,
    /// Its runs in order.
    pub runs: Vec<RunResult>,
    /// Where its counts and phases come from.
    pub source: PhaseSource,
    /// Its phases are the client's own timestamps though its packets were captured: a
    /// multiplexed mode whose capture does not give one exchange per request (HTTP/2's streams,
    /// inside TLS or in cleartext).
    pub phases_from_client: bool,
    /// Its saved capture, if any.
    pub capture: Option<CaptureInfo>,
    /// What the counts should be over all runs.
    pub expected: Expected,
    /// TCP_INFO on the server's socket at the start and end of each response (built-in server).
    pub samples: Vec<ResponseSample>,
}

impl ModeResult {
    /// Why no connection of this mode's runs could resume a session of its run, when none
    /// could: each run had one connection, or every connection of each run opened before the
    /// run's first TLS handshake was done (None without TLS or runs, when one could have, and
    /// for h3, whose QUIC sessions last from one run to the next).
    pub fn no_session_to_resume(&self) -> Option<NoSessionToResume> {
        let tls_connections = |r: &RunResult| {
            r.timing
                .connections
                .iter()
                .filter(|c| c.tls.is_some())
                .count()
        };
        let opened_before_first_done = |r: &RunResult| {
            let connections = &r.timing.connections;
            let first_done = connections
                .iter()
                .filter_map(|c| c.tls.map(|t| t.done))
                .min();
            first_done.is_some_and(|done| connections.iter().all(|c| c.connect_start < done))
        };
        if self.runs.is_empty() || self.mode == Mode::H3 {
            return None;
        }
        if self.runs.iter().all(|r| tls_connections(r) == 1) {
            return Some(NoSessionToResume::OneConnectionPerRun);
        }
        self.runs
            .iter()
            .all(|r| r.timing.connections.len() > 1 && opened_before_first_done(r))
            .then_some(NoSessionToResume::OpenedBeforeFirstHandshake)
    }

    /// Builds a mode's result from its runs, when captured the connections of its capture, and
    /// the server's samples of its responses.
    pub fn new(
        mode: Mode,
        files: usize,
        servers: usize,
        timings: Vec<RunTiming>,
        captured: Option<(Vec<Connection>, CaptureInfo)>,
        tls: Option<TlsPlan>,
        samples: Vec<ResponseSample>,
    ) -> ModeResult {
        let expected = Expected::for_mode_on(mode, files, servers, timings.len(), tls);
        match captured {
            Some((connections, mut info)) => {
                let starts: Vec<_> = timings.iter().map(|t| t.start).collect();
                // A run's connections are those its client opened, by their local address: a
                // connection another program on this host made to the same server in the same
                // time is left out of every count.
                let per_run: Vec<Vec<&Connection>> = assign_to_runs(&connections, &starts)
                    .into_iter()
                    .zip(&timings)
                    .map(|(conns, timing)| {
                        conns
                            .into_iter()
                            .filter(|c| opened_by(timing, c.client, c.syn_ts.unwrap_or(c.first_ts)))
                            .collect()
                    })
                    .collect();
                let assigned: usize = per_run.iter().map(Vec::len).sum();
                info.outside_runs = connections.len() - assigned;
                // HTTP/2's requests are streams, which the capture's exchanges do not follow one by
                // one: where a connection's exchanges are not its requests, the phases are the
                // client's.
                let phases_from_client = mode.is_multiplexed()
                    && !timings.iter().zip(&per_run).all(|(timing, conns)| {
                        timing.connections.iter().all(|t| {
                            conns.iter().any(|c| {
                                c.client == t.local && c.exchanges.len() == t.requests.len()
                            })
                        })
                    });
                let runs = timings
                    .into_iter()
                    .zip(per_run)
                    .map(|(timing, conns)| {
                        let lines: Vec<_> = if phases_from_client {
                            timing
                                .connections
                                .iter()
                                .map(ConnectionTimeline::from_client)
                                .collect()
                        } else {
                            conns
                                .iter()
                                .map(|c| ConnectionTimeline::from_capture(c))
                                .collect()
                        };
                        RunResult {
                            timing,
                            phases: Phases::partition(&lines),
                            totals: Some(Totals::of(conns.iter().map(|c| &c.counts))),
                            connections: conns.into_iter().cloned().collect(),
                            quic: Vec::new(),
                        }
                    })
                    .collect();
                ModeResult {
                    mode,
                    runs,
                    source: PhaseSource::Capture,
                    phases_from_client,
                    capture: Some(info),
                    expected,
                    samples,
                }
            }
            None => ModeResult {
                mode,
                runs: timings
                    .into_iter()
                    .map(|timing| {
                        let lines: Vec<_> = timing
                            .connections
                            .iter()
                            .map(ConnectionTimeline::from_client)
                            .collect();
                        RunResult {
                            phases: Phases::partition(&lines),
                            timing,
                            connections: Vec::new(),
                            totals: None,
                            quic: Vec::new(),
                        }
                    })
                    .collect(),
                source: PhaseSource::Client,
                phases_from_client: false,
                capture: None,
                expected,
                samples,
            },
        }
    }

    /// Gives each run the QUIC connections of `quic` its client opened (as `opened_by` tells), and keeps `info` as the mode's capture: h3's packets, counted as QUIC
    /// while its phases stay the client's own.
    pub fn add_quic(&mut self, quic: Vec<QuicConnection>, info: CaptureInfo) {
        let starts: Vec<_> = self.runs.iter().map(|r| r.timing.start).collect();
        let mut outside = 0;
        for conn in quic {
            let run = starts
                .iter()
                .rposition(|&s| s <= conn.first_packet)
                .filter(|&i| opened_by(&self.runs[i].timing, conn.client, conn.first_packet));
            match run {
                Some(i) => self.runs[i].quic.push(conn),
                None => outside += 1,
            }
        }
        self.capture = Some(CaptureInfo {
            outside_runs: outside,
            ..info
        });
    }

    /// The QUIC counts over all runs, when the mode's packets were QUIC.
    pub fn quic_totals(&self) -> Option<QuicTotals> {
        if self.runs.iter().all(|r| r.quic.is_empty()) {
            return None;
        }
        let mut t = QuicTotals::default();
        for conn in self.runs.iter().flat_map(|r| &r.quic) {
            t.connections += 1;
            t.to_server.add(&conn.client_sent);
            t.to_client.add(&conn.server_sent);
            t.resumed += u64::from(conn.tls.resumed);
            t.handshake_s += conn.handshake_s().unwrap_or(0.0);
        }
        Some(t)
    }

    /// The counts over all runs, when captured.
    pub fn totals(&self) -> Option<Totals> {
        let mut sum = Totals::default();
        for run in &self.runs {
            sum.add(run.totals.as_ref()?);
        }
        Some(sum)
    }

    /// Observed against expected counts over all runs, when captured.
    pub fn checks(&self) -> Option<Vec<CountCheck>> {
        let totals = self.totals()?;
        let conns: Vec<&Connection> = self.runs.iter().flat_map(|r| &r.connections).collect();
        let dropped = self.capture.as_ref().map_or(0, |c| c.dropped);
        Some(check(&totals, &self.expected, &conns, dropped))
    }

    /// Connections whose SYN carried data (TCP Fast Open), of all captured, and those bytes.
    pub fn fast_open(&self) -> Option<FastOpen> {
        self.capture.as_ref()?;
        let conns = self.runs.iter().flat_map(|r| &r.connections);
        let (mut with_data, mut connections, mut bytes) = (0, 0, 0);
        for c in conns {
            connections += 1;
            with_data += usize::from(c.syn_data > 0);
            bytes += c.syn_data;
        }
        Some(FastOpen {
            with_data,
            connections,
            bytes,
        })
    }

    /// What the client's TLS sessions were, over every run (None without TLS).
    pub fn tls_sessions(&self) -> Option<TlsSessions> {
        TlsSessions::of(self.runs.iter().flat_map(|r| &r.timing.connections))
    }

    /// How this mode's connections closed, in one line (when captured).
    pub fn close_note(&self) -> Option<String> {
        self.capture.as_ref()?;
        let conns: Vec<&Connection> = self.runs.iter().flat_map(|r| &r.connections).collect();
        Some(crate::analysis::expected::close_note(&conns))
    }

    /// Each file's exchange in each run, from the capture: the captured connection is found by
    /// the client's local address, its exchanges in request order.
    pub fn exchanges_per_file(&self, files: usize) -> Vec<Vec<&Exchange>> {
        let mut per_file = vec![Vec::new(); files];
        for run in &self.runs {
            for timing in &run.timing.connections {
                // Pipelined requests leave together and their responses run into one exchange:
                // only a one-to-one match says which rounds belong to which file.
                let Some(conn) = run.connections.iter().find(|c| {
                    c.client == timing.local && c.exchanges.len() == timing.requests.len()
                }) else {
                    continue;
                };
                for (request, exchange) in timing.requests.iter().zip(&conn.exchanges) {
                    if let Some(list) = per_file.get_mut(request.file) {
                        list.push(exchange);
                    }
                }
            }
        }
        per_file
    }

    /// Packet-timed rounds each file's response took, per run (capture).
    pub fn rounds_per_file(&self, files: usize) -> Vec<Vec<u32>> {
        self.exchanges_per_file(files)
            .into_iter()
            .map(|list| {
                list.iter()
                    .map(|x| u32::try_from(x.rounds.len()).unwrap_or(u32::MAX))
                    .collect()
            })
            .collect()
    }

    /// The server's TCP_INFO samples of the response for `path`.
    pub fn samples_for<'a>(
        &'a self,
        path: &'a str,
    ) -> impl Iterator<Item = &'a ResponseSample> + 'a {
        self.samples.iter().filter(move |s| s.path == path)
    }

    /// Retransmissions over all runs (captured).
    pub fn retransmissions(&self) -> u64 {
        self.totals().map_or(0, |t| t.counts.retransmissions)
    }

    /// Run totals summarised.
    pub fn total_summary(&self) -> Summary {
        let totals: Vec<f64> = self.runs.iter().map(|r| r.timing.total_s()).collect();
        Summary::of(&totals)
    }

    /// What the model is held against: mean total, handshake and wait phases, and rounds.
    pub fn measured(&self) -> Measured {
        let runs = &self.runs;
        let counted = self.rounds_counted();
        Measured {
            total_s: self.total_summary().mean,
            handshake_s: mean(runs.iter().map(|r| r.phases.handshake_s)),
            tls_s: mean(runs.iter().map(|r| r.phases.tls_s)),
            wait_s: mean(runs.iter().map(|r| r.phases.wait_s)),
            client_s: mean(runs.iter().map(|r| {
                let p = &r.phases;
                p.client_s + p.closing_s + p.between_s + (r.timing.total_s() - p.timeline_s)
            })),
            extra_rounds: counted.then(|| mean(runs.iter().map(|r| f64::from(r.extra_rounds())))),
            round_spacing_s: counted.then(|| mean(runs.iter().map(RunResult::round_spacing_s))),
            last_round_s: counted.then(|| mean(runs.iter().map(RunResult::last_round_s))),
            rwnd_limited_s: {
                let limited: Option<u64> = self
                    .samples
                    .iter()
                    .map(|s| {
                        Some(
                            s.at_end?
                                .rwnd_limited_us?
                                .saturating_sub(s.at_start?.rwnd_limited_us?),
                        )
                    })
                    .sum();
                limited
                    .filter(|_| !self.samples.is_empty())
                    .map(|us| us as f64 / 1e6 / runs.len().max(1) as f64)
            },
        }
    }

    /// Closing after the last byte (outside the totals), summarised over the runs.
    pub fn close_summary(&self) -> Summary {
        let closes: Vec<f64> = self.runs.iter().map(|r| r.timing.close_s()).collect();
        Summary::of(&closes)
    }

    /// The runs (0-based, one per round) whose totals lie far from the others.
    pub fn outlier_runs(&self) -> Vec<usize> {
        let totals: Vec<f64> = self.runs.iter().map(|r| r.timing.total_s()).collect();
        outliers(&totals)
    }

    /// Where its phases come from: the capture, or the client's own timestamps.
    pub fn phase_source(&self) -> PhaseSource {
        if self.phases_from_client {
            PhaseSource::Client
        } else {
            self.source
        }
    }

    /// Whether the capture counted the responses' rounds: on TCP connections whose requests it
    /// told apart — not over h3's QUIC, nor in HTTP/2 inside TLS, whose client frames between
    /// the responses' segments it cannot tell from requests.
    fn rounds_counted(&self) -> bool {
        self.source == PhaseSource::Capture
            && self
                .runs
                .iter()
                .flat_map(|r| &r.connections)
                .all(|c| c.requests().known().is_some())
    }

    /// Each run's total, phases, connections and rounds, for the attribution.
    pub fn run_phases(&self) -> Vec<RunPhases> {
        // The TCP connections of the capture; h3's QUIC ones have no SYNs, segments or rounds.
        let captured = self.source == PhaseSource::Capture;
        self.runs
            .iter()
            .map(|r| RunPhases {
                openings: self.openings(r),
                total_s: r.timing.total_s(),
                phases: r.phases,
                connections: if captured {
                    r.connections.len()
                } else {
                    r.timing.connections.len()
                },
                extra_rounds: self.rounds_counted().then(|| r.extra_rounds()),
                handshake_resends: captured.then(|| {
                    r.connections
                        .iter()
                        .map(|c| c.counts.resent_syn + c.counts.resent_synack)
                        .sum()
                }),
                resent: captured.then(|| r.connections.iter().map(|c| c.counts.resent()).sum()),
            })
            .collect()
    }
}

impl ModeResult {
    /// The handshakes that opened `run`'s connections: QUIC's for h3 (the capture's
    /// connections, else the client's), else TCP's (the capture's, else the client's) and the
    /// client's TLS handshakes over them.
    fn openings(&self, run: &RunResult) -> Openings {
        let clients = &run.timing.connections;
        if self.mode == Mode::H3 {
            let counted = if run.quic.is_empty() {
                clients.len()
            } else {
                run.quic.len()
            };
            return Openings {
                quic: counted as f64,
                zero_rtt: clients
                    .iter()
                    .filter(|c| c.tls.is_some_and(|t| t.session.early_data_accepted))
                    .count() as f64,
                ..Openings::default()
            };
        }
        let (tcp, tcp_round_trips) = if self.source == PhaseSource::Capture {
            let syn_data = run.connections.iter().filter(|c| c.syn_data > 0).count();
            (run.connections.len(), run.connections.len() - syn_data)
        } else {
            (clients.len(), clients.len())
        };
        let tls: Vec<_> = clients.iter().filter_map(|c| c.tls).collect();
        let tls_round_trips: u32 = tls
            .iter()
            .map(|t| {
                let version = t.session.version.unwrap_or(TlsVersion::Tls13);
                match t.session {
                    s if s.early_data_accepted => 0,
                    s if s.resumed => version.resumed_round_trips(),
                    _ => version.full_round_trips(),
                }
            })
            .sum();
        Openings {
            tcp: tcp as f64,
            tcp_round_trips: tcp_round_trips as f64,
            tls: tls.len() as f64,
            tls_round_trips: f64::from(tls_round_trips),
            ..Openings::default()
        }
    }
}

/// True when one of the run's connections is the captured one from `client` that `began` then:
/// the client connected from that address, and it began while that connection was open (another
/// program may take the same port once the run's connection has closed).
fn opened_by(timing: &RunTiming, client: SocketAddr, began: Ts) -> bool {
    timing.connections.iter().any(|c| {
        c.local == client
            && began.secs_since(c.connect_start) >= -CLOCK_SLACK_S
            && c.closed.secs_since(began) >= -CLOCK_SLACK_S
    })
}

/// How far a captured timestamp may sit before the client's own reading of the same moment.
const CLOCK_SLACK_S: f64 = 0.001;

/// A mode's QUIC packets added up over its runs, as the capture shows them.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct QuicTotals {
    /// QUIC connections (tshark's `quic.connection.number`).
    pub connections: u64,
    /// What the client sent: datagrams, packets by type, bytes.
    pub to_server: QuicFlow,
    /// What the server sent.
    pub to_client: QuicFlow,
    /// Connections whose ServerHello took the client's session (resumed).
    pub resumed: u64,
    /// Handshakes (the client's first Initial → its first 1-RTT packet), summed.
    pub handshake_s: f64,
}
