//! `synack analyze --keylog`: TLS 1.3 and 1.2 decrypted with the key log curl wrote (SSLKEYLOGFILE)
//! against `synack serve --tls`, on loopback captured by tcpdump (root), and the h2 and h3 modes'
//! captures with the key log synack wrote; each connection's requests, HTTP/2 frames and QUIC
//! streams checked against tshark's reading of the same capture with the same key log
//! (`-o tls.keylog_file:`); a key log without a connection's secrets says it was not decrypted;
//! a missing or empty key log is one clear error.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use super::http2_wire::by_type;
use crate::common::{self, sh};

/// tshark's count of each TLS connection's requests with the key log: client streams opened by
/// a HEADERS frame (HTTP/2), else HTTP/1.x request heads; and HTTP/2 frames by type number,
/// client and server.
#[derive(Debug, Default, PartialEq, Eq)]
struct Counted {
    requests: u64,
    client: BTreeMap<u8, u64>,
    server: BTreeMap<u8, u64>,
}

fn tshark_view(capture: &Path, keylog: &Path, ports: &[u16]) -> BTreeMap<usize, Counted> {
    let keys = format!("tls.keylog_file:{}", keylog.display());
    let fields = [
        "tcp.stream",
        "tcp.srcport",
        "http2.type",
        "http2.streamid",
        "http.request",
    ];
    let rows = common::tshark_rows(
        capture,
        &["-o", &keys],
        "http2.type or http.request",
        &fields,
    );
    let mut view: BTreeMap<usize, Counted> = BTreeMap::new();
    let mut opened: BTreeMap<usize, BTreeSet<u32>> = BTreeMap::new();
    for f in &rows {
        assert_eq!(f.len(), fields.len(), "{f:?}");
        let stream: usize = f[0].parse().unwrap();
        let from_client = !ports.contains(&f[1].parse::<u16>().unwrap());
        let seen = view.entry(stream).or_default();
        if !f[4].is_empty() {
            // One field per request head in the frame.
            seen.requests += f[4].split(',').count() as u64;
        }
        if f[2].is_empty() {
            continue;
        }
        let types: Vec<u8> = f[2].split(',').map(|t| t.parse().unwrap()).collect();
        let ids: Vec<u32> = f[3].split(',').map(|t| t.parse().unwrap()).collect();
        assert_eq!(types.len(), ids.len(), "{f:?}");
        for (&t, &id) in types.iter().zip(&ids) {
            let side = if from_client {
                &mut seen.client
            } else {
                &mut seen.server
            };
            *side.entry(t).or_default() += 1;
            if from_client && t == 1 && id % 2 == 1 {
                opened.entry(stream).or_default().insert(id);
            }
        }
    }
    for (stream, ids) in opened {
        view.entry(stream).or_default().requests = ids.len() as u64;
    }
    view
}

/// synack's view of the decrypted connections, from `analyze --json --keylog`.
fn synack_view(report: &Value) -> BTreeMap<usize, Counted> {
    let mut view = BTreeMap::new();
    for c in report["connections"].as_array().expect("connections") {
        if c["tls"].is_null() || c["requests"].is_null() {
            continue;
        }
        let mut counted = Counted {
            requests: c["requests"].as_u64().unwrap(),
            ..Counted::default()
        };
        let h2 = &c["http2"];
        if !h2.is_null() {
            assert_eq!(h2["transport"], "tls", "{h2}");
            assert_eq!(h2["requests"], c["requests"], "{c}");
            counted.client = by_type(&h2["client_frames"]);
            counted.server = by_type(&h2["server_frames"]);
        }
        view.insert(c["stream"].as_u64().unwrap() as usize, counted);
    }
    view
}

/// `synack analyze CAPTURE ARGS…` as text, which must succeed.
fn analyze_text(capture: &Path, args: &[&str]) -> String {
    let out = common::synack()
        .arg("analyze")
        .arg(capture)
        .args(args)
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    common::ran(&out)
}

#[test]
fn keylog_decrypts_tls_as_tshark_does_as_root() {
    let test = "keylog_decrypts_tls_as_tshark_does_as_root";
    if !common::require_root(test)
        || !common::have_tshark(test)
        || !["curl", "tcpdump"]
            .iter()
            .all(|tool| common::have_tool(tool, test))
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("site")).unwrap();
    for (name, len) in [("a.bin", 200_000), ("b.bin", 60_000), ("c.bin", 3_000)] {
        let bytes: Vec<u8> = (0..len).map(|i: u32| (i * 7 % 251) as u8).collect();
        std::fs::write(d.join("site").join(name), bytes).unwrap();
    }
    let cert = |name: &str| d.join(name).display().to_string();
    let (cert13, cert12) = (cert("cert13.pem"), cert("cert12.pem"));
    let quiet = || Stdio::null();
    let (_tls13, port13) = common::serve_with(
        &d.join("site"),
        &["--tls", "1.3", "--cert-out", &cert13],
        quiet(),
    );
    let (_tls12, port12) = common::serve_with(
        &d.join("site"),
        &["--tls", "1.2", "--cert-out", &cert12],
        quiet(),
    );
    let capture = d.join("tls.pcap");
    let filter = format!("tcp port {port13} or tcp port {port12}");
    let tcpdump = common::tcpdump_loopback(&capture, &filter);
    let keylog = d.join("curl.keys");
    let url = |port: u16, name: &str| format!("https://127.0.0.1:{port}/{name}");
    let curl = format!("SSLKEYLOGFILE={} timeout 20 curl -sSk", keylog.display());
    for line in [
        // One HTTP/2 connection, three requests; one HTTP/1.1 connection, two.
        format!(
            "{curl} --http2 -o /dev/null -o /dev/null -o /dev/null {} {} {}",
            url(port13, "a.bin"),
            url(port13, "b.bin"),
            url(port13, "c.bin")
        ),
        format!(
            "{curl} --http1.1 -o /dev/null -o /dev/null {} {}",
            url(port13, "c.bin"),
            url(port13, "b.bin")
        ),
        // TLS 1.2: AES-GCM (the server's choice) and ChaCha20-Poly1305.
        format!("{curl} --http2 -o /dev/null {}", url(port12, "c.bin")),
        format!(
            "{curl} --http2 --ciphers ECDHE-ECDSA-CHACHA20-POLY1305 -o /dev/null {}",
            url(port12, "b.bin")
        ),
    ] {
        sh(d, &line);
    }
    common::stop_tcpdump(tcpdump);

    let keylog_arg = keylog.display().to_string();
    let report = common::analyze_json(&capture, &["--keylog", &keylog_arg]);
    let ours = synack_view(&report);
    let theirs = tshark_view(&capture, &keylog, &[port13, port12]);
    assert_eq!(ours, theirs, "synack (left) and tshark (right) disagree");
    let requests: Vec<u64> = ours.values().map(|c| c.requests).collect();
    assert_eq!(requests, [3, 2, 1, 1], "as curl was asked");

    let text = analyze_text(&capture, &["--keylog", &keylog_arg]);
    assert!(text.contains("decrypted: HTTP/2, 3 requests"), "{text}");
    assert!(text.contains("decrypted: 2 requests"), "{text}");
    assert!(text.contains("decrypted: HTTP/2, 1 requests"), "{text}");
    assert!(
        text.lines().all(|l| l.chars().count() <= 100),
        "wider than 100 columns:\n{text}"
    );

    // A key log without these connections' secrets decrypts nothing and guesses nothing.
    let other = d.join("other.keys");
    let random = "ab".repeat(32);
    std::fs::write(
        &other,
        format!("CLIENT_TRAFFIC_SECRET_0 {random} {}\n", "cd".repeat(32)),
    )
    .unwrap();
    let other_arg = other.display().to_string();
    let without = common::analyze_json(&capture, &["--keylog", &other_arg]);
    let plain = common::analyze_json(&capture, &[]);
    assert_eq!(without["connections"], plain["connections"]);
    let text = analyze_text(&capture, &["--keylog", &other_arg]);
    assert!(text.contains("no secret for its client random"), "{text}");
}

#[test]
fn a_missing_or_empty_keylog_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("empty.pcap");
    common::write_pcap(&capture, 1, &[]);
    let missing = dir.path().join("missing.keys");
    let empty = dir.path().join("garbage.keys");
    std::fs::write(&empty, "# only a comment\nnot a key log line\n").unwrap();
    for (keylog, says) in [
        (&missing, "cannot read --keylog"),
        (&empty, "no TLS secret in it"),
    ] {
        let out = common::synack()
            .arg("analyze")
            .arg(&capture)
            .arg("--keylog")
            .arg(keylog)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
    }
}

/// tshark's streams of each QUIC connection with the key log: by `quic.connection.number`, the
/// ids of every STREAM frame.
fn tshark_quic_streams(capture: &Path, keylog: &Path) -> BTreeMap<u64, BTreeSet<u64>> {
    let keys = format!("tls.keylog_file:{}", keylog.display());
    let fields = ["quic.connection.number", "quic.stream.stream_id"];
    let rows = common::tshark_rows(capture, &["-o", &keys], "quic.stream.stream_id", &fields);
    let mut streams: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    for f in &rows {
        // Coalesced packets of one datagram share its connection.
        let number = f[0].split(',').next().unwrap().parse().unwrap();
        let ids = f[1].split(',').filter(|id| !id.is_empty());
        streams
            .entry(number)
            .or_default()
            .extend(ids.map(|id| id.parse::<u64>().unwrap()));
    }
    streams
}

#[test]
fn keylog_reads_synack_h2_and_h3_as_tshark_does_as_root() {
    let test = "keylog_reads_synack_h2_and_h3_as_tshark_does_as_root";
    if !common::require_root(test) || !common::have_tshark(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let site = common::small_files(dir.path());
    let keylog = dir.path().join("synack.keys");
    let json_path = dir.path().join("report.json");
    let out = common::compare_in(dir.path())
        .env("SSLKEYLOGFILE", &keylog)
        // The second round resumes, h3 sending its requests as 0-RTT data.
        .args([
            "--modes",
            "h2,h3",
            "--rounds",
            "2",
            "--tls",
            "1.3",
            "--early-data",
        ])
        .arg("--files")
        .arg(&site)
        .arg("--json")
        .arg(&json_path)
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap();
    common::ran(&out);
    let report: Value = serde_json::from_slice(&std::fs::read(json_path).unwrap()).unwrap();
    let capture = |mode: &str| report["captures"][mode].as_str().unwrap().to_owned();
    let keylog_arg = keylog.display().to_string();

    // h2: a connection a round, a request per file, every frame as tshark reads it.
    let h2 = Path::new(&capture("h2")).to_owned();
    let server_port: u16 =
        common::tshark_stdout(&h2, &["-c", "1", "-T", "fields", "-e", "tcp.dstport"])
            .trim()
            .parse()
            .expect("the first segment's destination port");
    let ours = synack_view(&common::analyze_json(&h2, &["--keylog", &keylog_arg]));
    let theirs = tshark_view(&h2, &keylog, &[server_port]);
    assert_eq!(ours, theirs, "synack (left) and tshark (right) disagree");
    let requests: Vec<u64> = ours.values().map(|c| c.requests).collect();
    assert_eq!(requests, [3, 3], "three files a round");

    // h3: the streams every 0-RTT and 1-RTT packet tshark opens carries; the client's
    // bidirectional ones are the requests.
    let h3 = Path::new(&capture("h3")).to_owned();
    let quic = assert_quic_streams_are_tsharks(&h3, &keylog, 3);
    let zero_rtt = |c: &Value| c["client_sent"]["packets"]["zero_rtt"].as_u64().unwrap();
    assert!(quic.iter().any(|c| zero_rtt(c) > 0), "no 0-RTT: {quic:?}");
}

/// Every QUIC connection of `capture` decrypted with `keylog`, its streams those tshark reads,
/// and `requests` client-initiated bidirectional ones; returns the connections' JSON.
fn assert_quic_streams_are_tsharks(capture: &Path, keylog: &Path, requests: u64) -> Vec<Value> {
    let keylog_arg = keylog.display().to_string();
    let analyzed = common::analyze_json(capture, &["--keylog", &keylog_arg]);
    let theirs = tshark_quic_streams(capture, keylog);
    let quic = analyzed["quic"]["connections"].as_array().expect("QUIC");
    assert!(!quic.is_empty(), "{analyzed}");
    assert_eq!(quic.len(), theirs.len(), "{theirs:?}");
    for c in quic {
        let number = c["number"].as_u64().unwrap();
        let decrypted = &c["decrypted"];
        assert_eq!(decrypted["decrypted"], true, "{c}");
        let ids = &theirs[&number];
        assert_eq!(decrypted["streams"], ids.len() as u64, "{ids:?} {c}");
        let bidirectional = ids.iter().filter(|&&id| id % 4 == 0).count() as u64;
        assert_eq!(decrypted["http3_requests"], bidirectional, "{ids:?}");
        assert_eq!(bidirectional, requests, "one a file");
    }
    quic.clone()
}

#[test]
fn keylog_reads_aioquic_http3_as_tshark_does_as_root() {
    let test = "keylog_reads_aioquic_http3_as_tshark_does_as_root";
    if !common::require_root(test)
        || !common::have_tshark(test)
        || !common::have_tool("tcpdump", test)
        || !common::aioquic::have(test)
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let site = common::small_files(d);
    let (cert, key) = common::loopback_cert(d);
    let port = common::free_udp_port();
    let _server = common::aioquic::serve(&site, (&cert, &key), port, &[]);
    let capture = d.join("h3.pcap");
    let tcpdump = common::tcpdump_loopback(&capture, &format!("udp port {port}"));
    let keylog = d.join("aioquic.keys");
    let urls: Vec<String> = ["a.bin", "b.bin", "c.bin"]
        .iter()
        .map(|name| format!("https://127.0.0.1:{port}/{name}"))
        .collect();
    common::aioquic::get(&cert, &d.join("got"), &urls)
        .args(["--connections", "2"])
        .env("SSLKEYLOGFILE", &keylog)
        .assert()
        .success();
    common::stop_tcpdump(tcpdump);
    assert_quic_streams_are_tsharks(&capture, &keylog, 3);
}

#[test]
fn keylog_fixtures_read_as_tshark_reads_them() {
    // curl against `synack serve --tls 1.3` on port 18451 (HTTP/2, two files) and `--tls 1.2`
    // on 18452 (HTTP/1.1 with ChaCha20-Poly1305, two files; HTTP/2, one), and `synack fetch
    // --mode h3` (two files) against the first, with the key log both wrote.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keylog");
    let (tls, h3, keylog) = (
        dir.join("tls.pcap"),
        dir.join("h3.pcap"),
        dir.join("keys.txt"),
    );
    let keylog_arg = keylog.display().to_string();
    let ours = synack_view(&common::analyze_json(&tls, &["--keylog", &keylog_arg]));
    let requests: Vec<u64> = ours.values().map(|c| c.requests).collect();
    assert_eq!(requests, [2, 2, 1], "as curl was asked");
    if !common::have_tshark("keylog_fixtures_read_as_tshark_reads_them") {
        return;
    }
    assert_eq!(ours, tshark_view(&tls, &keylog, &[18451, 18452]));
    assert_quic_streams_are_tsharks(&h3, &keylog, 2);
}
