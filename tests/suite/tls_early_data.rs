//! TLS 1.3 early data over TCP, timed on the capture: a resumed connection's request leaves in
//! its first flight after the SYN-ACK and its response comes with the server's first answer, two
//! round trips after its SYN; a run's first connection, and so persistent's only one, has no
//! session and waits three. The key log synack writes (SSLKEYLOGFILE) lets tshark read the
//! records' inner types, so the request, the Finished and the first response byte are told apart.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common;

/// The emulated link's round trip: no packet crosses it sooner.
const RTT_S: f64 = 0.040;

/// What a busy host may add to the quickest connection's round trips (key exchange, reading the
/// file), as tls_transfer allows its handshakes; one round trip more is beyond it.
const COMPUTATION_S: f64 = 0.020;

/// The TLS early_data extension (RFC 8446 §4.2.10).
const EARLY_DATA: &str = "42";

/// One TCP stream's moments as the capture on the client's end of the link shows them (seconds).
#[derive(Debug, Default)]
struct Stream {
    syn: Option<f64>,
    syn_ack: Option<f64>,
    /// The ClientHello offered early data: the client held a session that allows it.
    offers_early_data: bool,
    /// The client's first application data record: its request.
    request: Option<f64>,
    server_hello: Option<f64>,
    /// The server's EncryptedExtensions carried early_data: it took the early data.
    early_data_accepted: bool,
    /// The client's Finished.
    client_finished: Option<f64>,
    /// The server's first application data record: the response's first byte.
    response: Option<f64>,
}

impl Stream {
    fn at(&self, what: &str, moment: Option<f64>) -> f64 {
        moment.unwrap_or_else(|| panic!("no {what} in {self:?}"))
    }
}

/// Every TCP stream of `capture`, TLS read on the server's port with the keys in `keylog`.
fn streams(capture: &Path, keylog: &Path) -> BTreeMap<usize, Stream> {
    let port = common::tshark_rows(
        capture,
        &[],
        "tcp.flags.syn == 1 && tcp.flags.ack == 0",
        &["tcp.dstport"],
    )[0][0]
        .clone();
    let decode = format!("tcp.port=={port},tls");
    let keys = format!("tls.keylog_file:{}", keylog.display());
    let rows = common::tshark_rows(
        capture,
        &["-d", &decode, "-o", &keys],
        "tcp.flags.syn == 1 || tls",
        &[
            "frame.time_relative",
            "tcp.stream",
            "tcp.srcport",
            "tcp.flags.syn",
            "tcp.flags.ack",
            "tls.handshake.type",
            "tls.handshake.extension.type",
            "tls.record.content_type",
        ],
    );
    let mut streams: BTreeMap<usize, Stream> = BTreeMap::new();
    for row in rows {
        let list = |k: usize| -> Vec<&str> { row[k].split(',').collect() };
        let t: f64 = row[0].parse().unwrap();
        let s = streams.entry(row[1].parse().unwrap()).or_default();
        let from_server = row[2] == port;
        let (syn, ack) = (row[3] == "1", row[4] == "1");
        let (types, extensions, records) = (list(5), list(6), list(7));
        // With the keys, a record's type is its inner one: the handshake's encrypted messages
        // are handshake records, and only the request and the response are application data.
        let data = records.contains(&"23");
        match (from_server, syn) {
            (false, true) => s.syn = s.syn.or(Some(t)),
            (true, true) if ack => s.syn_ack = s.syn_ack.or(Some(t)),
            (false, false) => {
                if types.contains(&"1") {
                    s.offers_early_data = extensions.contains(&EARLY_DATA);
                }
                if types.contains(&"20") {
                    s.client_finished = s.client_finished.or(Some(t));
                }
                if data {
                    s.request = s.request.or(Some(t));
                }
            }
            (true, false) => {
                if types.contains(&"2") {
                    s.server_hello = s.server_hello.or(Some(t));
                }
                // A session ticket also carries early_data (the size it allows).
                if types.contains(&"8") && !types.contains(&"4") {
                    s.early_data_accepted = extensions.contains(&EARLY_DATA);
                }
                if data {
                    s.response = s.response.or(Some(t));
                }
            }
            _ => {}
        }
    }
    streams
}

/// A connection that made a full handshake: its request waited for the ServerHello and its
/// response came no sooner than three round trips after its SYN (TCP's, TLS's, the request's).
fn assert_full_handshake(k: usize, s: &Stream) {
    assert!(!s.offers_early_data, "stream {k}: {s:?}");
    let (syn, request) = (s.at("SYN", s.syn), s.at("request", s.request));
    assert!(
        request > s.at("ServerHello", s.server_hello),
        "stream {k}: request before the ServerHello: {s:?}"
    );
    let first_byte = s.at("response", s.response) - syn;
    assert!(
        first_byte >= 3.0 * RTT_S,
        "stream {k}: first response byte {first_byte:.4} s after the SYN beats three round trips"
    );
}

#[test]
fn early_data_is_answered_two_round_trips_after_the_syn_as_root() {
    let test = "early_data_is_answered_two_round_trips_after_the_syn_as_root";
    if !common::require_root(test) || !common::have_tshark(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let site = common::small_files(dir.path());
    let keylog = dir.path().join("keys.log");
    let json = dir.path().join("report.json");
    let _link = common::link_slot();
    let out = common::compare_in(dir.path())
        .env("SSLKEYLOGFILE", &keylog)
        .args([
            "--rtt",
            "40ms",
            "--rounds",
            "1",
            "--tls",
            "1.3",
            "--early-data",
        ])
        .args(["--modes", "non-persistent,persistent", "--full", "--files"])
        .arg(&site)
        .arg("--json")
        .arg(&json)
        .timeout(std::time::Duration::from_secs(300))
        .output()
        .unwrap();
    let printed = common::ran(&out);
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
    let capture = |mode: &str| PathBuf::from(report["captures"][mode].as_str().unwrap());
    let sessions = |mode: &str, key: &str| report["modes"][mode]["tls_sessions"][key].as_u64();

    let non_persistent = streams(&capture("non-persistent"), &keylog);
    assert_eq!(non_persistent.len(), 3, "{non_persistent:?}");
    let (early, full): (Vec<_>, Vec<_>) = non_persistent
        .iter()
        .partition(|(_, s)| s.offers_early_data);
    // Each run's first connection has no session; the later ones resume the one it left.
    assert_eq!(full.len(), 1, "{non_persistent:?}");
    assert_eq!(
        sessions("non-persistent", "early_data_sent"),
        Some(early.len() as u64)
    );
    let accepted = early.iter().filter(|(_, s)| s.early_data_accepted).count();
    assert_eq!(accepted, early.len(), "{non_persistent:?}");
    assert_eq!(
        sessions("non-persistent", "early_data_accepted"),
        Some(accepted as u64)
    );
    for &(&k, s) in &full {
        assert_full_handshake(k, s);
    }
    let mut quickest = f64::INFINITY;
    for &(&k, s) in &early {
        let syn = s.at("SYN", s.syn);
        let rtt = s.at("SYN-ACK", s.syn_ack) - syn;
        let response = s.at("response", s.response);
        // In the client's first flight: sent before any answer to its ClientHello came back.
        assert!(
            s.at("request", s.request) < s.at("ServerHello", s.server_hello),
            "stream {k}: the request waited for the ServerHello: {s:?}"
        );
        // Answered without waiting for the client's Finished, which could not have reached the
        // server and an answer come back within less than a round trip.
        assert!(
            response < s.at("client Finished", s.client_finished) + RTT_S,
            "stream {k}: the response waited for the client's Finished: {s:?}"
        );
        assert!(
            response - syn >= 2.0 * RTT_S,
            "stream {k}: first response byte {:.4} s after the SYN beats two round trips",
            response - syn
        );
        quickest = quickest.min(response - syn - 2.0 * rtt);
    }
    // A busy host delays some connections, never all.
    assert!(
        quickest <= COMPUTATION_S,
        "the quickest early-data response came {quickest:.4} s after two of its round trips"
    );

    // Persistent's one connection is its run's first: no session, so no early data.
    let persistent = streams(&capture("persistent"), &keylog);
    assert_eq!(persistent.len(), 1, "{persistent:?}");
    for (&k, s) in &persistent {
        assert_full_handshake(k, s);
    }
    assert_eq!(sessions("persistent", "resumed"), Some(0));
    assert_eq!(sessions("persistent", "early_data_sent"), Some(0));
    // And its sessions line says why, where the early data asked for went unsent (read whole
    // words, as COLUMNS may wrap it).
    let words = printed.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains(
            "each run starts without a session and had one connection, so none had a session to \
             resume or could send its request as early data"
        ),
        "{printed}"
    );
}
