//! Report layer: the JSON contract other tools read (`report.json`, `--json`, `analyze --json`).
//! Keys listed in the README stay; new ones may be added.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::analysis::comparison::{Comparison, ModeResult, RunResult};
use crate::analysis::file_phases::{self, FilePhase, FilePhases};
use crate::track::reader::FrameCounts;
use std::net::SocketAddr;

use crate::timeline::Ts;
use crate::track::tls::{ReadStop, RecordCounts, Resumption, TlsHandshake, TlsTotals};
use crate::track::{CloseKind, Connection, Exchange, FlagCounts, Round, Side, TcpState, Totals};

use super::json_writer::JsonObject;

/// Packet counts as JSON: the report's own field names, whatever the tracker calls them.
#[derive(Debug, serde::Serialize)]
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
#[derive(Debug, serde::Serialize)]
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
#[derive(Debug, serde::Serialize)]
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
#[derive(Debug, serde::Serialize)]
pub struct ExchangeJson<'a> {
    /// The request line's target, when the capture shows it in plain HTTP.
    target: Option<&'a str>,
    request_unix_s: f64,
    first_response_unix_s: Option<f64>,
    last_response_unix_s: Option<f64>,
    client_window: Option<u64>,
    #[serde(serialize_with = "rounds_json")]
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
        o.value("target", &self.target);
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
#[derive(Debug, serde::Serialize)]
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
#[derive(Debug, serde::Serialize)]
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
#[derive(Debug, serde::Serialize)]
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
#[derive(Debug, serde::Serialize)]
pub struct ConnectionJson<'a> {
    stream: usize,
    client: SocketAddr,
    server: SocketAddr,
    client_guessed: bool,
    #[serde(flatten)]
    counts: CountsJson,
    requests: u64,
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
    #[serde(serialize_with = "exchanges_json")]
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
            requests: c.requests(),
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
        o.uint("requests", self.requests);
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
        o.value("tls", &self.tls);
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

/// The fields of `analyze --json` other than `connections`, which are streamed before them.
pub fn capture_summary(
    counts: &FrameCounts,
    totals: &Totals,
    tls: &TlsTotals,
    pattern: &str,
) -> Value {
    json!({
        "packets": counts.frames,
        "fragments": counts.fragments,
        "not_tcp": counts.not_tcp,
        "truncated_frames": counts.truncated,
        "cut_frames": counts.cut,
        "cut_off": counts.cut_off.as_ref().map(ToString::to_string),
        "totals": TotalsJson::of(totals),
        "tls": TlsTotalsJson::of(tls),
        "pattern": pattern,
    })
}

/// One file's time in one run, split into the waterfall's phases (`file_phases`).
#[derive(Debug, serde::Serialize)]
struct FilePhasesJson {
    name: String,
    connection: usize,
    start_s: Option<f64>,
    between_s: f64,
    handshake_s: f64,
    tls_s: f64,
    client_s: f64,
    wait_s: f64,
    transfer_s: f64,
    closing_s: f64,
}

impl FilePhasesJson {
    fn of(f: &FilePhases, run: &RunResult, cmp: &Comparison) -> FilePhasesJson {
        FilePhasesJson {
            name: cmp
                .files
                .get(f.file)
                .map(|x| x.name.clone())
                .unwrap_or_default(),
            connection: f.connection,
            start_s: f.start().map(|s| s.secs_since(run.timing.start)),
            between_s: f.seconds(FilePhase::Between),
            handshake_s: f.seconds(FilePhase::Handshake),
            tls_s: f.seconds(FilePhase::Tls),
            client_s: f.seconds(FilePhase::ClientWork),
            wait_s: f.seconds(FilePhase::RequestWait),
            transfer_s: f.seconds(FilePhase::Transfer),
            closing_s: f.seconds(FilePhase::Closing),
        }
    }
}

fn mode(m: &ModeResult, cmp: &Comparison) -> Value {
    let files = cmp.files.len();
    let runs: Vec<Value> = m
        .runs
        .iter()
        .map(|r| {
            json!({
                "total_s": r.timing.total_s(),
                "close_s": r.timing.close_s(),
                "extra_rounds": m.capture.is_some().then(|| r.extra_rounds()),
                "start_unix_s": r.timing.start.as_secs_f64(),
                "files": r.timing.files.iter().map(|f| json!({
                    "name": f.name,
                    "seconds": f.seconds,
                    "bytes": f.bytes,
                    "sha256": f.sha256,
                    "sha256_ok": f.sha256_ok,
                })).collect::<Vec<_>>(),
                "totals": r.totals.as_ref().map(TotalsJson::of),
                "connections": r.connections.iter().map(connection).collect::<Vec<_>>(),
                "phases": r.phases,
                "file_phases": file_phases::of_run(r).iter().map(|f| FilePhasesJson::of(f, r, cmp)).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "runs": runs,
        "summary": { "total_s": m.total_summary(), "close_s": m.close_summary() },
        "outlier_rounds": m.outlier_runs().iter().map(|r| r + 1).collect::<Vec<_>>(),
        "totals": m.totals().as_ref().map(TotalsJson::of),
        "expected": m.expected,
        "checks": m.checks(),
        "phase_source": m.source,
        "flights_per_file": m.rounds_per_file(files),
        "rounds_per_file": m.rounds_per_file(files),
        "tcp_info": m.samples,
        "responses": m.response_stats(&cmp.files, &cmp.paths),
        "capture_dropped": m.capture.as_ref().map(|c| c.dropped),
        "fast_open": m.fast_open(),
        "tls_sessions": m.tls_sessions(),
        "connections_outside_runs": m.capture.as_ref().map(|c| c.outside_runs),
    })
}

/// The whole comparison report.
/// `"variants"`: per variant, what the top level holds for the first: its modes, its attribution
/// (and every mode's), its verdicts, its captures, its TLS and Fast Open settings.
pub fn variants(compared: &[(&str, &Comparison)]) -> Value {
    let mut all = serde_json::Map::new();
    for (name, cmp) in compared {
        let whole = comparison(cmp);
        let mut one = serde_json::Map::new();
        for key in [
            "modes",
            "attribution",
            "attributions",
            "verdicts",
            "captures",
            "model",
            "tls",
        ] {
            one.insert(key.into(), whole[key].clone());
        }
        one.insert("fast_open".into(), Value::Bool(cmp.fastopen));
        all.insert((*name).to_owned(), Value::Object(one));
    }
    Value::Object(all)
}

/// The whole comparison report.
pub fn comparison(cmp: &Comparison) -> Value {
    let mut modes = serde_json::Map::new();
    let mut captures = serde_json::Map::new();
    for m in &cmp.modes {
        modes.insert(m.mode.name().into(), mode(m, cmp));
        captures.insert(
            m.mode.name().into(),
            m.capture
                .as_ref()
                .map_or(Value::Null, |c| Value::String(c.path.display().to_string())),
        );
    }
    let rtt = cmp.measured_rtt_s();
    let verdicts: serde_json::Map<String, Value> = cmp
        .attributions()
        .into_iter()
        .map(|(mode, a)| {
            let slower_mean = cmp.mode(mode).map_or(0.0, |m| m.total_summary().mean);
            (
                mode.name().to_string(),
                json!({
                    "sentence": super::text::verdict(mode, &a, slower_mean, rtt, cmp.rounds),
                    "gap_s": a.gap_s,
                    "ci": a.interval,
                }),
            )
        })
        .collect();
    json!({
        "summary": super::text::opening(cmp),
        "receive_window": super::text::receive_window_line(
            &cmp.modes
                .iter()
                .flat_map(|m| m.response_stats(&cmp.files, &cmp.paths))
                .collect::<Vec<_>>(),
        ),
        "verdicts": verdicts,
        "measured_rtt_s": rtt,
        "congestion": cmp.congestion(),
        "order": cmp.order.iter().map(|round| round.iter().map(|m| m.name()).collect::<Vec<_>>()).collect::<Vec<_>>(),
        "seed": cmp.seed,
        "tls": cmp.tls,
        "rounds": cmp.rounds,
        "files": cmp.files,
        "captures": captures,
        "modes": modes,
        "attribution": cmp.attribution(),
        "attributions": cmp
            .attributions()
            .into_iter()
            .map(|(mode, a)| (mode.name().to_string(), json!(a)))
            .collect::<serde_json::Map<_, _>>(),
        "model": {
            "path": cmp.path_model(),
            "first_flight_limit": cmp.first_flight_limit(&cmp.path_model()),
            "predictions": cmp
                .predictions()
                .into_iter()
                .map(|(mode, p)| (mode.name().to_string(), json!(p)))
                .collect::<serde_json::Map<_, _>>(),
            "differences": cmp
                .model_gaps()
                .into_iter()
                .map(|(mode, _, gap)| (mode.name().to_string(), json!(gap)))
                .collect::<serde_json::Map<_, _>>(),
        },
        "kernel": cmp.kernel,
        "link": cmp.link,
        "parallel": cmp.parallel,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::segment::{FlowKey, Segment, TcpFlags};
    use crate::track::Tracker;

    /// A segment from `src` to `dst` at `t` µs with `flags` (letters S A F R) and `len` payload
    /// bytes.
    fn segment(src: &str, dst: &str, t: i64, flags: &str, seq: u32, ack: u32, len: u32) -> Segment {
        let (key, dir) = FlowKey::of(src.parse().unwrap(), dst.parse().unwrap());
        Segment {
            ts: Ts(1_700_000_000_000_000_000 + t * 1000),
            key,
            dir,
            seq,
            ack,
            flags: TcpFlags {
                syn: flags.contains('S'),
                ack: flags.contains('A'),
                fin: flags.contains('F'),
                rst: flags.contains('R'),
                psh: false,
            },
            window: 512,
            payload_len: len,
            wire_len: 66 + len,
            http: None,
            mss: flags.contains('S').then_some(1460),
            window_scale: None,
        }
    }

    #[test]
    fn connections_are_written_as_serde_json_writes_their_views() {
        let (c, s) = ("10.0.0.2:41000", "10.0.0.1:80");
        let (c6, s6) = ("[::1]:41001", "[::1]:443");
        let request = b"GET /a%22b?q=\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n";
        let mut tracker = Tracker::new();
        let len = request.len() as u32;
        tracker.push(&segment(c, s, 0, "S", 100, 0, 0));
        tracker.push(&segment(s, c, 20, "SA", 900, 101, 0));
        tracker.push(&segment(c, s, 21, "A", 101, 901, 0));
        tracker.push_with_payload(&segment(c, s, 22, "A", 101, 901, len), request);
        tracker.push(&segment(s, c, 40, "A", 901, 101 + len, 1000));
        tracker.push(&segment(s, c, 41, "A", 1901, 101 + len, 1000));
        tracker.push(&segment(c, s, 60, "A", 101 + len, 2901, 0));
        tracker.push(&segment(s, c, 80, "A", 2901, 101 + len, 500));
        tracker.push(&segment(s, c, 81, "FA", 3401, 101 + len, 0));
        tracker.push(&segment(c, s, 90, "FA", 101 + len, 3402, 0));
        tracker.push(&segment(s, c, 91, "A", 3402, 102 + len, 0));
        // Caught mid-stream, then reset.
        tracker.push(&segment(c6, s6, 100, "A", 5, 7, 10));
        tracker.push(&segment(s6, c6, 101, "RA", 7, 15, 0));
        let connections = tracker.finish();
        assert_eq!(connections.len(), 2);
        assert!(connections[0].exchanges[0].target.is_some());
        assert_eq!(connections[0].exchanges[0].rounds.len(), 2);
        for conn in &connections {
            let view = ConnectionJson::of(conn);
            let mut ours = Vec::new();
            view.write(&mut ours);
            let theirs = serde_json::to_vec(&view).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs)
            );
        }
    }
}
