//! Attribute layer: what the HTML report draws packet by packet — one round of a comparison (the
//! median run of the first mode, and the other modes' runs of the same round), or the first
//! connections of a capture — with each connection's packets (a QUIC connection's datagrams)
//! read again from the saved capture.
//!
//! Reads captures only through the track layer's `trace`; must not import `pcap`, `etherparse`
//! or report code.

use std::path::Path;

use super::comparison::{Comparison, RunResult};
use super::head_of_line::file_of_stream;
use crate::capture::CaptureError;
use crate::timeline::Ts;
use crate::track::http2::{Http2Seen, Span};
use crate::track::quic::{PacketType, QuicConnection};
use crate::track::trace::{ConnectionTrace, QuicTrace, TraceRequest, trace_capture};
use crate::track::{Connection, Side};
use crate::transfer::run::Mode;

/// One connection as drawn: what the tracker made of it and its packets.
#[derive(Debug, Clone)]
pub struct DrawnConnection {
    /// The tracked connection (exchanges, rounds, times).
    pub connection: Connection,
    /// Its packets.
    pub trace: ConnectionTrace,
    /// The file of each exchange, where the client's requests match the exchanges one to one.
    pub files: Vec<Option<usize>>,
    /// The one-way delay between the capture point and the server: half the handshake's round
    /// trip as captured (the SYN it answered → SYN-ACK), 0 without a handshake.
    pub one_way_s: f64,
    /// On a cleartext HTTP/2 connection, the stream whose DATA each packet of `trace` carries
    /// most of (in the same order; none for a packet without DATA). Empty otherwise.
    pub streams: Vec<Option<u32>>,
    /// The files of the run's plan, when synack's client opened the connection's streams (one
    /// per file, in order); 0 for a capture without the plan.
    pub planned_files: usize,
}

impl DrawnConnection {
    /// The file stream `stream` carried, where the run's plan tells it.
    pub fn stream_file(&self, stream: u32) -> Option<usize> {
        file_of_stream(stream).filter(|&k| k < self.planned_files)
    }

    /// The streams that carried DATA in the packets drawn, ascending.
    pub fn data_streams(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = self.streams.iter().flatten().copied().collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

/// One QUIC connection as drawn: what the QUIC tracker made of it and its datagrams.
#[derive(Debug, Clone)]
pub struct DrawnQuic {
    /// The tracked connection (packets by type, its TLS hellos).
    pub connection: QuicConnection,
    /// Its datagrams.
    pub trace: QuicTrace,
    /// The one-way delay between the capture point and the server: half the handshake's round
    /// trip as captured (the client's first Initial → the server's first datagram after it), 0
    /// without both.
    pub one_way_s: f64,
}

/// The drawn connections of one mode's run.
#[derive(Debug, Clone)]
pub struct DrawnRun {
    /// The mode.
    pub mode: Mode,
    /// The run's start (just before its first connect).
    pub start: Ts,
    /// Its TCP connections in the order they opened.
    pub connections: Vec<DrawnConnection>,
    /// Its QUIC connections in the order they opened.
    pub quic: Vec<DrawnQuic>,
}

/// One round of a comparison, every mode's run of it, drawn packet by packet.
#[derive(Debug, Clone)]
pub struct DrawnRound {
    /// The round, from 0.
    pub round: usize,
    /// One run per captured mode.
    pub runs: Vec<DrawnRun>,
}

/// The round whose run of the first mode has the median total (the upper one of two).
pub fn median_round(cmp: &Comparison) -> Option<usize> {
    let runs = &cmp.modes.first()?.runs;
    let mut order: Vec<usize> = (0..runs.len()).collect();
    order.sort_by(|&a, &b| {
        runs[a]
            .timing
            .total_s()
            .total_cmp(&runs[b].timing.total_s())
    });
    order.get(order.len() / 2).copied()
}

/// Reads the packets of the median round's connections from each mode's saved capture (None
/// without captures).
pub fn draw_median_round(cmp: &Comparison) -> Result<Option<DrawnRound>, CaptureError> {
    let Some(round) = median_round(cmp) else {
        return Ok(None);
    };
    let mut runs = Vec::new();
    for m in &cmp.modes {
        let (Some(capture), Some(run)) = (&m.capture, m.runs.get(round)) else {
            continue;
        };
        let mut connections: Vec<&Connection> = run.connections.iter().collect();
        connections.sort_by_key(|c| c.syn_ts.unwrap_or(c.first_ts));
        let mut quic: Vec<&QuicConnection> = run.quic.iter().collect();
        quic.sort_by_key(|c| c.first_packet);
        let DrawnCapture {
            connections: mut drawn,
            quic,
        } = draw(&capture.path, &connections, &quic)?;
        for d in &mut drawn {
            d.files = files_of(run, &d.connection);
            d.planned_files = run.timing.files.len();
        }
        runs.push(DrawnRun {
            mode: m.mode,
            start: run.timing.start,
            connections: drawn,
            quic,
        });
    }
    Ok((!runs.is_empty()).then_some(DrawnRound { round, runs }))
}

/// The file of each exchange of `conn`, from the client's requests on the same local address.
fn files_of(run: &RunResult, conn: &Connection) -> Vec<Option<usize>> {
    let timing = run
        .timing
        .connections
        .iter()
        .find(|t| t.local == conn.client && t.requests.len() == conn.exchanges.len());
    (0..conn.exchanges.len())
        .map(|i| timing.map(|t| t.requests[i].file))
        .collect()
}

/// The connections of one capture drawn packet by packet.
#[derive(Debug, Clone, Default)]
pub struct DrawnCapture {
    /// The TCP connections, in the order asked for.
    pub connections: Vec<DrawnConnection>,
    /// The QUIC connections, in the order asked for.
    pub quic: Vec<DrawnQuic>,
}

/// Reads the packets of TCP `connections` and the datagrams of `quic` connections from the
/// capture at `path` in one pass, each in the order given.
pub fn draw(
    path: &Path,
    connections: &[&Connection],
    quic: &[&QuicConnection],
) -> Result<DrawnCapture, CaptureError> {
    let tcp_requests: Vec<TraceRequest> = connections
        .iter()
        .map(|c| TraceRequest {
            client: c.client,
            server: c.server,
            from: c.first_ts,
            to: c.last_ts,
        })
        .collect();
    let quic_requests: Vec<TraceRequest> = quic
        .iter()
        .map(|c| TraceRequest {
            client: c.client,
            server: c.server,
            from: c.first_packet,
            to: c.last_packet,
        })
        .collect();
    let traces = trace_capture(path, &tcp_requests, &quic_requests)?;
    let tcp = connections
        .iter()
        .zip(traces.tcp)
        .map(|(&c, trace)| DrawnConnection {
            connection: c.clone(),
            streams: data_streams(c, &trace),
            trace,
            files: vec![None; c.exchanges.len()],
            one_way_s: c.round_trip_s().unwrap_or(0.0) / 2.0,
            planned_files: 0,
        })
        .collect();
    let quic = quic
        .iter()
        .zip(traces.quic)
        .map(|(&c, trace)| DrawnQuic {
            connection: c.clone(),
            one_way_s: quic_round_trip_s(&trace).unwrap_or(0.0) / 2.0,
            trace,
        })
        .collect();
    Ok(DrawnCapture {
        connections: tcp,
        quic,
    })
}

/// The handshake's round trip as captured: the client's first Initial → the server's first
/// datagram after it.
fn quic_round_trip_s(trace: &QuicTrace) -> Option<f64> {
    let initial = trace
        .datagrams
        .iter()
        .find(|d| d.from == Side::Client && d.packets.contains(&PacketType::Initial))?;
    let answer = trace
        .datagrams
        .iter()
        .find(|d| d.from == Side::Server && d.ts >= initial.ts)?;
    Some(answer.ts.secs_since(initial.ts))
}

/// The stream whose DATA each traced packet carries most of, on a cleartext HTTP/2 connection
/// whose SYNs were captured (the frames' places are counted from each side's first byte after
/// its SYN, the trace's sequence numbers from the SYN); empty otherwise.
fn data_streams(c: &Connection, trace: &ConnectionTrace) -> Vec<Option<u32>> {
    let Some(Http2Seen::Frames(frames)) = c.http2() else {
        return Vec::new();
    };
    let spans = [Side::Client, Side::Server].map(|side| {
        let syn_seen = trace.packets.iter().any(|p| p.from == side && p.flags.syn);
        syn_seen.then(|| frames.data_spans(side))
    });
    trace
        .packets
        .iter()
        .map(|p| {
            let spans = spans[usize::from(p.from == Side::Server)].as_ref()?;
            let start = u64::from(p.seq.checked_sub(1)?);
            (p.len > 0)
                .then(|| {
                    spans.stream_of(Span {
                        start,
                        end: start + u64::from(p.len),
                    })
                })
                .flatten()
        })
        .collect()
}
