//! Report layer: `analyze --json` and `--jsonl`, and the connections' views report.json
//! ([`super::compare_json`]) shares; the schema is generated from these types
//! (docs/analyze.schema.json).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::track::reader::FrameCounts;
use std::net::SocketAddr;

use crate::timeline::Ts;
use crate::track::tls::{Decryption, ReadStop, RecordCounts, Resumption, TlsHandshake, TlsTotals};
use crate::track::{CloseKind, Connection, Exchange, FlagCounts, Round, Side, TcpState, Totals};

use super::http2_json::{Http2Json, Http2TotalsJson, requests_unknown};
use super::json_writer::JsonObject;
use super::quic_json::QuicJson;
use crate::track::http2::Http2Totals;
use crate::track::quic::QuicCapture;

/// Packet counts as JSON: the report's own field names, whatever the tracker calls them.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct CountsJson {
    syn: u64,
    synack: u64,
    handshake_ack: u64,
    pure_ack: u64,
    data: u64,
    fin: u64,
    rst: u64,
    packets: u64,
    bytes: u64,
    retransmissions: u64,
    fast_retransmissions: u64,
    spurious_retransmissions: u64,
    out_of_order: u64,
    lost_segments: u64,
    resent_syn: u64,
    resent_synack: u64,
    resent_fin: u64,
    dup_acks: u64,
}

impl CountsJson {
    /// The JSON view of `c`.
    pub fn of(c: &FlagCounts) -> CountsJson {
        CountsJson {
            syn: c.syn,
            synack: c.synack,
            handshake_ack: c.handshake_ack,
            pure_ack: c.pure_ack,
            data: c.data,
            fin: c.fin,
            rst: c.rst,
            packets: c.packets,
            bytes: c.bytes,
            retransmissions: c.retransmissions,
            fast_retransmissions: c.fast_retransmissions,
            spurious_retransmissions: c.spurious_retransmissions,
            out_of_order: c.out_of_order,
            lost_segments: c.lost_segments,
            resent_syn: c.resent_syn,
            resent_synack: c.resent_synack,
            resent_fin: c.resent_fin,
            dup_acks: c.dup_acks,
        }
    }
}

impl CountsJson {
    /// Writes the counts as fields of the object `o` (as `#[serde(flatten)]` does).
    fn write_fields(&self, o: &mut JsonObject<'_>) {
        o.uint("syn", self.syn);
        o.uint("synack", self.synack);
        o.uint("handshake_ack", self.handshake_ack);
        o.uint("pure_ack", self.pure_ack);
        o.uint("data", self.data);
        o.uint("fin", self.fin);
        o.uint("rst", self.rst);
        o.uint("packets", self.packets);
        o.uint("bytes", self.bytes);
        o.uint("retransmissions", self.retransmissions);
        o.uint("fast_retransmissions", self.fast_retransmissions);
        o.uint("spurious_retransmissions", self.spurious_retransmissions);
        o.uint("out_of_order", self.out_of_order);
        o.uint("lost_segments", self.lost_segments);
        o.uint("resent_syn", self.resent_syn);
        o.uint("resent_synack", self.resent_synack);
        o.uint("resent_fin", self.resent_fin);
        o.uint("dup_acks", self.dup_acks);
    }
}

/// Counts over connections as JSON: `{"connections", "syn", …}`.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct TotalsJson {
    connections: u64,
    #[serde(flatten)]
    counts: CountsJson,
}

impl TotalsJson {
    /// The JSON view of `t`.
    pub fn of(t: &Totals) -> TotalsJson {
        TotalsJson {
            connections: t.connections,
            counts: CountsJson::of(&t.counts),
        }
    }
}

/// One round of a response as JSON.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct RoundJson {
    start_unix_s: f64,
    end_unix_s: f64,
    segments: u32,
    bytes: u64,
}

impl RoundJson {
    /// The JSON view of `r`.
    pub fn of(r: &Round) -> RoundJson {
        RoundJson {
            start_unix_s: r.start.as_secs_f64(),
            end_unix_s: r.end.as_secs_f64(),
            segments: r.segments,
            bytes: r.bytes,
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        let mut o = JsonObject::begin(out);
        o.float("start_unix_s", self.start_unix_s);
        o.float("end_unix_s", self.end_unix_s);
        o.uint("segments", self.segments);
        o.uint("bytes", self.bytes);
        o.end();
    }
}

/// One request and its response as JSON, with the response's packet-timed rounds.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct ExchangeJson<'a> {
    /// The request line's target, when the capture shows it in plain HTTP.
    target: Option<&'a str>,
    request_unix_s: f64,
    first_response_unix_s: Option<f64>,
    last_response_unix_s: Option<f64>,
    client_window: Option<u64>,
    #[serde(serialize_with = "rounds_json")]
    #[schemars(with = "Vec<RoundJson>")]
    rounds: &'a [Round],
}

/// The rounds as a JSON array, each through its view.
fn rounds_json<S: serde::Serializer>(rounds: &&[Round], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(rounds.iter().map(RoundJson::of))
}

impl<'a> ExchangeJson<'a> {
    /// The JSON view of `x`.
    pub fn of(x: &'a Exchange) -> ExchangeJson<'a> {
        ExchangeJson {
            target: x.target.as_deref(),
            request_unix_s: x.request.as_secs_f64(),
            first_response_unix_s: x.first_response.map(Ts::as_secs_f64),
            last_response_unix_s: x.last_response.map(Ts::as_secs_f64),
            client_window: x.client_window,
            rounds: &x.rounds,
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        let mut o = JsonObject::begin(out);
        o.opt_str("target", self.target);
        o.float("request_unix_s", self.request_unix_s);
        o.opt_float("first_response_unix_s", self.first_response_unix_s);
        o.opt_float("last_response_unix_s", self.last_response_unix_s);
        o.opt_uint("client_window", self.client_window);
        write_array(o.key("rounds"), self.rounds, |out, r| {
            RoundJson::of(r).write(out);
        });
        o.end();
    }
}

/// `items` as a JSON array, each written by `write`.
fn write_array<T>(out: &mut Vec<u8>, items: &[T], mut write: impl FnMut(&mut Vec<u8>, &T)) {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(out, item);
    }
    out.push(b']');
}

/// TLS records by content type as JSON.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct TlsRecordsJson {
    change_cipher_spec: u32,
    alert: u32,
    handshake: u32,
    application_data: u32,
    heartbeat: u32,
}

impl TlsRecordsJson {
    fn of(r: &RecordCounts) -> TlsRecordsJson {
        TlsRecordsJson {
            change_cipher_spec: r.change_cipher_spec,
            alert: r.alert,
            handshake: r.handshake,
            application_data: r.application_data,
            heartbeat: r.heartbeat,
        }
    }
}

/// Plaintext handshake messages by type, keyed by the wire's type number ("1" ClientHello, "2"
/// ServerHello, …).
fn handshake_types(counts: impl Iterator<Item = (u8, u32)>) -> BTreeMap<u8, u64> {
    counts.map(|(t, n)| (t, u64::from(n))).collect()
}

/// "1.2", "1.3", or the wire value in hex.
pub(crate) fn protocol_version_json(v: crate::track::tls::ProtocolVersion) -> String {
    match v.0 {
        0x0300 => "ssl3.0".into(),
        0x0301..=0x0304 => format!("1.{}", v.0 - 0x0301),
        other => format!("0x{other:04x}"),
    }
}

fn read_stop_name(stop: ReadStop) -> &'static str {
    match stop {
        ReadStop::Done => "done",
        ReadStop::Gap => "gap",
        ReadStop::NotTls => "not_tls",
    }
}

/// One connection's TLS handshake as counted on the wire. `client_hello` and `server_hello` are
/// counts of messages (a HelloRetryRequest is counted apart, not as a ServerHello); the times of
/// the first ones are the `*_unix_s` fields. `handshake_s` is the first ClientHello → the client's
/// first application data record; `server_data_s` the first ClientHello → the server's.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct TlsJson {
    version: Option<String>,
    client_hello: u32,
    server_hello: u32,
    hello_retry_request: u32,
    resumed: bool,
    resumption: Option<&'static str>,
    early_data: bool,
    early_data_offered: bool,
    early_data_records: u32,
    handshake_s: Option<f64>,
    server_data_s: Option<f64>,
    client_hello_unix_s: Option<f64>,
    server_hello_unix_s: Option<f64>,
    client_finished_unix_s: Option<f64>,
    client_first_data_unix_s: Option<f64>,
    server_first_data_unix_s: Option<f64>,
    handshake_types: BTreeMap<u8, u64>,
    records: TlsRecordsJson,
    client_read: Option<&'static str>,
    server_read: Option<&'static str>,
    client_cut: bool,
    server_cut: bool,
}

impl TlsJson {
    /// The JSON view of `h`.
    pub fn of(h: &TlsHandshake) -> TlsJson {
        let unix = |ts: Option<Ts>| ts.map(Ts::as_secs_f64);
        TlsJson {
            version: h.version.map(protocol_version_json),
            client_hello: h.client_hellos(),
            server_hello: h.server_hellos(),
            hello_retry_request: h.hello_retry_requests,
            resumed: h.resumed(),
            resumption: h.resumption.map(|r| match r {
                Resumption::PreSharedKey => "pre_shared_key",
                Resumption::SessionId => "session_id",
                Resumption::Ticket => "ticket",
                Resumption::NoCertificate => "no_certificate",
            }),
            early_data: h.early_data_records > 0,
            early_data_offered: h.early_data_offered,
            early_data_records: h.early_data_records,
            handshake_s: h.handshake_s(),
            server_data_s: h.server_data_s(),
            client_hello_unix_s: unix(h.client_hello),
            server_hello_unix_s: unix(h.server_hello),
            client_finished_unix_s: unix(h.client_finished),
            client_first_data_unix_s: unix(h.client_first_data),
            server_first_data_unix_s: unix(h.server_first_data),
            handshake_types: handshake_types(h.messages.iter()),
            records: TlsRecordsJson::of(&h.records),
            client_read: h.client_stop.map(read_stop_name),
            server_read: h.server_stop.map(read_stop_name),
            client_cut: h.client_cut,
            server_cut: h.server_cut,
        }
    }
}

/// TLS over a capture's connections as JSON.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct TlsTotalsJson {
    connections: u64,
    versions: BTreeMap<String, u64>,
    resumed: u64,
    early_data_offered: u64,
    early_data_sent: u64,
    hello_retry_request: u64,
    incomplete: u64,
    handshake_types: BTreeMap<u8, u64>,
    records: TlsRecordsJson,
}

impl TlsTotalsJson {
    /// The JSON view of `t`.
    pub fn of(t: &TlsTotals) -> TlsTotalsJson {
        TlsTotalsJson {
            connections: t.connections,
            versions: t
                .versions
                .iter()
                .map(|(&v, &n)| (protocol_version_json(v), n))
                .collect(),
            resumed: t.resumed,
            early_data_offered: t.early_data_offered,
            early_data_sent: t.early_data_sent,
            hello_retry_request: t.hello_retry_requests,
            incomplete: t.incomplete,
            handshake_types: handshake_types(t.messages.iter()),
            records: TlsRecordsJson::of(&t.records),
        }
    }
}

/// RFC 9293's name of a state, as in the RFC's figures.
fn state_name(state: TcpState) -> &'static str {
    match state {
        TcpState::Closed => "CLOSED",
        TcpState::Listen => "LISTEN",
        TcpState::SynSent => "SYN-SENT",
        TcpState::SynReceived => "SYN-RECEIVED",
        TcpState::Established => "ESTABLISHED",
        TcpState::FinWait1 => "FIN-WAIT-1",
        TcpState::FinWait2 => "FIN-WAIT-2",
        TcpState::CloseWait => "CLOSE-WAIT",
        TcpState::Closing => "CLOSING",
        TcpState::LastAck => "LAST-ACK",
        TcpState::TimeWait => "TIME-WAIT",
    }
}

fn close_name(close: CloseKind) -> &'static str {
    match close {
        CloseKind::FourWay => "four-way",
        CloseKind::ThreeWay => "three-way",
        CloseKind::Simultaneous => "simultaneous",
    }
}

/// One connection as JSON: `{"client","server","syn","synack","pure_ack","data","fin","rst",
/// "handshake_s","teardown_s", …}`. A plain struct, so streaming thousands of them allocates little.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct ConnectionJson<'a> {
    stream: usize,
    client: SocketAddr,
    server: SocketAddr,
    client_guessed: bool,
    #[serde(flatten)]
    counts: CountsJson,
    /// Null where they cannot be counted (`requests_unknown` says why).
    requests: Option<u64>,
    /// Why `requests` is null; absent when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    requests_unknown: Option<&'static str>,
    http_requests: u64,
    client_payload_bytes: u64,
    server_payload_bytes: u64,
    start_unix_s: f64,
    handshake_s: Option<f64>,
    time_to_first_data_s: Option<f64>,
    teardown_s: Option<f64>,
    duration_s: f64,
    active_closer: Option<&'static str>,
    reset_by: Option<&'static str>,
    final_state: &'static str,
    close: Option<&'static str>,
    fin_with_data: u64,
    client_state: &'static str,
    server_state: &'static str,
    mss: Option<u16>,
    tfo_syn_data: u64,
    tls: Option<TlsJson>,
    /// What the connection shows of HTTP/2; absent when it shows none.
    #[serde(skip_serializing_if = "Option::is_none")]
    http2: Option<Http2Json>,
    #[serde(serialize_with = "exchanges_json")]
    #[schemars(with = "Vec<ExchangeJson<'static>>")]
    exchanges: &'a [Exchange],
}

/// The exchanges as a JSON array, each through its view.
fn exchanges_json<S: serde::Serializer>(xs: &&[Exchange], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(xs.iter().map(ExchangeJson::of))
}

impl<'a> ConnectionJson<'a> {
    /// The JSON view of `c`.
    pub fn of(c: &'a Connection) -> ConnectionJson<'a> {
        ConnectionJson {
            stream: c.stream,
            client: c.client,
            server: c.server,
            client_guessed: !c.syn_seen,
            counts: CountsJson::of(&c.counts),
            requests: c.requests().known(),
            requests_unknown: requests_unknown(c.requests()),
            http_requests: c.http_requests,
            client_payload_bytes: c.client_bytes,
            server_payload_bytes: c.server_bytes,
            start_unix_s: c.first_ts.as_secs_f64(),
            handshake_s: c.handshake_s(),
            time_to_first_data_s: c.time_to_first_data_s(),
            teardown_s: c.teardown_s(),
            duration_s: c.last_ts.secs_since(c.first_ts),
            active_closer: c.first_fin.map(|f| f.1.name()),
            reset_by: c.rst_by.map(Side::name),
            final_state: c.final_state().name(),
            close: c.close.map(close_name),
            fin_with_data: c.fin_with_data,
            client_state: state_name(c.client_state),
            server_state: state_name(c.server_state),
            mss: c.mss(),
            tfo_syn_data: c.syn_data,
            tls: c.tls().map(TlsJson::of),
            http2: c.http2().map(match c.decryption() {
                Some(Decryption::Decrypted { .. }) => Http2Json::decrypted,
                _ => Http2Json::of,
            }),
            exchanges: &c.exchanges,
        }
    }

    /// Appends this connection's JSON object to `out`, as `serde_json::to_writer` writes it (a
    /// test checks), without escaping each field name again for every connection.
    pub fn write(&self, out: &mut Vec<u8>) {
        let mut o = JsonObject::begin(out);
        o.uint("stream", self.stream as u64);
        o.address("client", self.client);
        o.address("server", self.server);
        o.bool("client_guessed", self.client_guessed);
        self.counts.write_fields(&mut o);
        o.opt_uint("requests", self.requests);
        if let Some(why) = self.requests_unknown {
            o.value("requests_unknown", &why);
        }
        o.uint("http_requests", self.http_requests);
        o.uint("client_payload_bytes", self.client_payload_bytes);
        o.uint("server_payload_bytes", self.server_payload_bytes);
        o.float("start_unix_s", self.start_unix_s);
        o.opt_float("handshake_s", self.handshake_s);
        o.opt_float("time_to_first_data_s", self.time_to_first_data_s);
        o.opt_float("teardown_s", self.teardown_s);
        o.float("duration_s", self.duration_s);
        o.opt_word("active_closer", self.active_closer);
        o.opt_word("reset_by", self.reset_by);
        o.word("final_state", self.final_state);
        o.opt_word("close", self.close);
        o.uint("fin_with_data", self.fin_with_data);
        o.word("client_state", self.client_state);
        o.word("server_state", self.server_state);
        o.opt_uint("mss", self.mss);
        o.uint("tfo_syn_data", self.tfo_syn_data);
        o.opt_value("tls", self.tls.as_ref());
        if let Some(h) = &self.http2 {
            o.value("http2", h);
        }
        write_array(o.key("exchanges"), self.exchanges, |out, x| {
            ExchangeJson::of(x).write(out);
        });
        o.end();
    }
}

/// One connection as a JSON value.
pub fn connection(c: &Connection) -> Value {
    serde_json::to_value(ConnectionJson::of(c)).unwrap_or(Value::Null)
}

/// The fields of `analyze --json` other than `connections`, which are streamed before them (and
/// `--jsonl`'s last line, under `summary`). Fields in alphabetical order, as the output has
/// always had them.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct CaptureSummaryJson {
    /// The comment in a pcapng file's section header (synack writes the run that made the file
    /// there); null for classic pcap or a file without one.
    capture_comment: Option<String>,
    /// Frames with fewer bytes captured than were on the wire (tshark's `frame.cap_len <
    /// frame.len`).
    cut_frames: u64,
    /// Why reading stopped before the end of the file, if it did.
    cut_off: Option<String>,
    /// IP fragments, counted but not reassembled.
    fragments: u64,
    /// HTTP/2 over every connection; absent when none showed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    http2: Option<Http2TotalsJson>,
    /// Frames that carry no TCP.
    not_tcp: u64,
    /// Frames read.
    packets: u64,
    /// The request pattern the connections show, in words.
    pattern: String,
    /// QUIC over UDP; absent when the capture has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    quic: Option<QuicJson>,
    /// TLS over every connection.
    tls: TlsTotalsJson,
    /// Packet counts over every connection.
    totals: TotalsJson,
    /// Frames too short for their headers.
    truncated_frames: u64,
}

/// The summary of a capture read.
pub fn capture_summary(
    counts: &FrameCounts,
    totals: &Totals,
    tls: &TlsTotals,
    http2: &Http2Totals,
    quic: &QuicCapture,
    pattern: &str,
    comment: Option<&str>,
) -> CaptureSummaryJson {
    CaptureSummaryJson {
        capture_comment: comment.map(str::to_owned),
        cut_frames: counts.cut,
        cut_off: counts.cut_off.as_ref().map(ToString::to_string),
        fragments: counts.fragments,
        http2: http2.any().then(|| Http2TotalsJson::of(http2)),
        not_tcp: counts.not_tcp,
        packets: counts.frames,
        pattern: pattern.to_owned(),
        quic: QuicJson::of(quic),
        tls: TlsTotalsJson::of(tls),
        totals: TotalsJson::of(totals),
        truncated_frames: counts.truncated,
    }
}

/// `analyze --json`'s whole object, for its schema: the connections come first as the capture is
/// read, then the summary's fields. Never built: the command streams the two parts.
#[derive(schemars::JsonSchema)]
#[allow(dead_code)]
pub struct AnalyzeReport<'a> {
    /// Every connection, in the order each was handed out.
    connections: Vec<ConnectionJson<'a>>,
    /// The summary's fields beside them.
    #[serde(flatten)]
    summary: CaptureSummaryJson,
}

/// `analyze --json`'s JSON Schema, generated from [`AnalyzeReport`].
pub fn schema() -> schemars::Schema {
    schemars::schema_for!(AnalyzeReport<'static>)
}

#[cfg(test)]
mod schema_tests {
    use super::*;

    #[test]
    fn the_analyze_schema_in_docs_is_the_one_the_types_generate() {
        crate::report::assert_schema_file("docs/analyze.schema.json", &schema());
    }
}
