//! HTTP/2 counted on the wire against tshark (root: tcpdump on lo). Captures synack did not make —
//! nghttp (prior knowledge) and h2load against nginx's cleartext HTTP/2, and curl `--http2` over
//! TLS 1.2 and 1.3 — are read by `synack analyze --json` and by tshark: on every cleartext
//! connection the frames by type each way, the streams and the requests must agree; over TLS the
//! requests must be reported unknown, with the ALPN evidence tshark shows.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Stopped, free_port, sh, wait_until};
use serde_json::Value;

/// HTTP/2's frame types by number, as synack's JSON names them.
const FRAME_TYPES: [&str; 10] = [
    "data",
    "headers",
    "priority",
    "rst_stream",
    "settings",
    "push_promise",
    "ping",
    "goaway",
    "window_update",
    "continuation",
];

/// One cleartext connection's HTTP/2 as counted: frames by type number, client and server;
/// streams other than 0; requests.
#[derive(Debug, Default, PartialEq)]
struct Counted {
    client: BTreeMap<u8, u64>,
    server: BTreeMap<u8, u64>,
    streams: u64,
    requests: u64,
}

/// nginx with a cleartext HTTP/2 server (prior knowledge) on `h2c` and an HTTP/2 TLS server on
/// `tls`, both serving `dir`/site.
fn nginx_conf(dir: &Path, h2c: u16, tls: u16) -> String {
    let d = dir.display();
    // nginx 1.22 (Debian 12) turns HTTP/2 on in the listen line. The cleartext server is a
    // second server block: the TLS one's content closes it and opens the other.
    let site = format!(
        "root {d}/site;\n  }}\n  server {{\n    listen 127.0.0.1:{h2c} http2;\n    root {d}/site;"
    );
    common::nginx_tls_conf(dir, tls, " http2", &site)
}

/// tshark's view of every cleartext connection, HTTP/2 decoded on `port`.
fn tshark_view(capture: &Path, port: u16) -> BTreeMap<usize, Counted> {
    let decode = format!("tcp.port=={port},http2");
    let out = common::tshark_stdout(
        capture,
        &[
            "-n",
            "-d",
            &decode,
            "-Y",
            "http2.type",
            "-T",
            "fields",
            "-E",
            "separator=;",
            "-e",
            "tcp.stream",
            "-e",
            "tcp.srcport",
            "-e",
            "http2.type",
            "-e",
            "http2.streamid",
        ],
    );
    let mut view: BTreeMap<usize, Counted> = BTreeMap::new();
    let mut streams: BTreeMap<usize, BTreeSet<u32>> = BTreeMap::new();
    let mut requests: BTreeMap<usize, BTreeSet<u32>> = BTreeMap::new();
    for line in out.lines() {
        let f: Vec<&str> = line.split(';').collect();
        assert_eq!(f.len(), 4, "{line}");
        let stream: usize = f[0].parse().unwrap();
        let from_client = f[1].parse::<u16>().unwrap() != port;
        let types: Vec<u8> = f[2].split(',').map(|t| t.parse().unwrap()).collect();
        let ids: Vec<u32> = f[3].split(',').map(|t| t.parse().unwrap()).collect();
        assert_eq!(types.len(), ids.len(), "{line}");
        let seen = view.entry(stream).or_default();
        for (&t, &id) in types.iter().zip(&ids) {
            let side = if from_client {
                &mut seen.client
            } else {
                &mut seen.server
            };
            *side.entry(t).or_default() += 1;
            if id != 0 {
                streams.entry(stream).or_default().insert(id);
            }
            if from_client && t == 1 && id % 2 == 1 {
                requests.entry(stream).or_default().insert(id);
            }
        }
    }
    for (stream, seen) in &mut view {
        seen.streams = streams.get(stream).map_or(0, |s| s.len() as u64);
        seen.requests = requests.get(stream).map_or(0, |s| s.len() as u64);
    }
    view
}

/// Frame counts by type number from synack's JSON, the types seen only.
pub(crate) fn by_type(frames: &Value) -> BTreeMap<u8, u64> {
    let mut out = BTreeMap::new();
    for (n, name) in FRAME_TYPES.iter().enumerate() {
        let count = frames[name].as_u64().expect("a frame count");
        if count > 0 {
            out.insert(n as u8, count);
        }
    }
    assert_eq!(frames["unknown"], 0, "{frames}");
    out
}

/// synack's view of every cleartext HTTP/2 connection, from `analyze --json`.
fn synack_view(report: &Value) -> BTreeMap<usize, Counted> {
    let mut view = BTreeMap::new();
    for c in report["connections"].as_array().expect("connections") {
        let h2 = &c["http2"];
        if h2["transport"] != "cleartext" {
            continue;
        }
        assert_eq!(c["requests"], h2["requests"], "{c}");
        assert_eq!(h2["client_read"], "ok", "{h2}");
        assert_eq!(h2["server_read"], "ok", "{h2}");
        view.insert(
            c["stream"].as_u64().unwrap() as usize,
            Counted {
                client: by_type(&h2["client_frames"]),
                server: by_type(&h2["server_frames"]),
                streams: h2["streams"].as_u64().unwrap(),
                requests: h2["requests"].as_u64().unwrap(),
            },
        );
    }
    view
}

/// The ALPN protocol each TLS connection's ServerHello selected, as tshark reads it.
fn tshark_server_alpn(capture: &Path, port: u16) -> BTreeMap<usize, String> {
    let decode = format!("tcp.port=={port},tls");
    common::tshark_stdout(
        capture,
        &[
            "-n",
            "-d",
            &decode,
            "-Y",
            "tls.handshake.type == 2",
            "-T",
            "fields",
            "-E",
            "separator=;",
            "-e",
            "tcp.stream",
            "-e",
            "tls.handshake.extensions_alpn_str",
        ],
    )
    .lines()
    .map(|l| {
        let (stream, alpn) = l.split_once(';').unwrap();
        (stream.parse().unwrap(), alpn.to_string())
    })
    .collect()
}

#[test]
fn http2_of_nghttp_h2load_and_curl_agrees_with_tshark_as_root() {
    let test = "http2_of_nghttp_h2load_and_curl_agrees_with_tshark_as_root";
    if !common::require_root(test)
        || !common::have_tshark(test)
        || !["nginx", "nghttp", "h2load", "curl", "openssl", "tcpdump"]
            .iter()
            .all(|tool| common::have_tool(tool, test))
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    sh(
        d,
        "timeout 60 openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem \
         -days 1 -subj /CN=127.0.0.1",
    );
    std::fs::create_dir(d.join("site")).unwrap();
    for (name, len) in [("a.bin", 120_000), ("b.bin", 70_000), ("c.bin", 30_000)] {
        let bytes: Vec<u8> = (0..len).map(|i: u32| (i * 7 % 251) as u8).collect();
        std::fs::write(d.join("site").join(name), bytes).unwrap();
    }
    let (h2c, tls) = (free_port(), free_port());
    std::fs::write(d.join("nginx.conf"), nginx_conf(d, h2c, tls)).unwrap();
    let capture = d.join("h2.pcap");
    let mut tcpdump = Stopped(
        Command::new("tcpdump")
            .args(["-i", "lo", "--immediate-mode", "-U", "-n", "-s", "0"])
            .args(["-B", "16384", "-w"])
            .arg(&capture)
            .arg(format!("tcp port {h2c} or tcp port {tls}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tcpdump"),
    );
    wait_until("tcpdump did not start", || {
        std::fs::metadata(&capture).map_or(0, |m| m.len()) >= 24
    });
    std::thread::sleep(Duration::from_millis(300));
    let nginx = Command::new("nginx")
        .arg("-c")
        .arg(d.join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx");
    let _nginx = Stopped(nginx);
    wait_until("nginx did not start", || {
        std::net::TcpStream::connect(("127.0.0.1", tls)).is_ok()
    });
    let base = format!("http://127.0.0.1:{h2c}");
    let secure = format!("https://127.0.0.1:{tls}/a.bin");
    for line in [
        format!("timeout 20 nghttp -n {base}/a.bin {base}/b.bin {base}/c.bin"),
        format!("timeout 20 h2load -n 6 -c 2 -m 3 {base}/b.bin >/dev/null"),
        format!("timeout 20 curl -sSk --http2 --tlsv1.3 -o /dev/null {secure}"),
        format!("timeout 20 curl -sSk --http2 --tlsv1.2 --tls-max 1.2 -o /dev/null {secure}"),
    ] {
        sh(d, &line);
    }
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: kill only signals the tcpdump child started above, by its pid.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(tcpdump.0.id() as libc::pid_t, libc::SIGINT);
    }
    let _ = tcpdump.0.wait();

    let report = common::analyze_json(&capture, &[]);
    let ours = synack_view(&report);
    let theirs = tshark_view(&capture, h2c);
    assert_eq!(ours, theirs, "synack (left) and tshark (right) disagree");
    // nghttp's connection and h2load's two, three requests each, as they were asked.
    let requests: Vec<u64> = ours.values().map(|c| c.requests).collect();
    assert_eq!(requests, [3, 3, 3]);
    assert_eq!(report["http2"]["requests"], 9);
    assert!(
        ours.values().all(|c| c.server.get(&0) > Some(&0)),
        "DATA frames"
    );

    // Over TLS the requests are unknown, with the evidence the ServerHello shows: TLS 1.2 names
    // h2, TLS 1.3 encrypts the choice (curl offered h2 both times).
    let server_alpn = tshark_server_alpn(&capture, tls);
    let mut encrypted = Vec::new();
    for c in report["connections"].as_array().unwrap() {
        let stream = c["stream"].as_u64().unwrap() as usize;
        let Some(alpn) = server_alpn.get(&stream) else {
            continue;
        };
        assert!(c["requests"].is_null(), "{c}");
        assert!(c["requests_unknown"].is_string(), "{c}");
        assert_eq!(c["http2"]["transport"], "tls");
        let expected = if alpn == "h2" {
            "server_selected_h2"
        } else {
            assert_eq!(alpn, "", "TLS 1.3 shows no ALPN in its ServerHello");
            "client_offered_h2"
        };
        assert_eq!(c["http2"]["alpn"], expected, "{c}");
        encrypted.push(expected);
    }
    encrypted.sort();
    assert_eq!(encrypted, ["client_offered_h2", "server_selected_h2"]);

    // The text says so too.
    let out = common::synack()
        .arg("analyze")
        .arg(&capture)
        .env("COLUMNS", "120")
        .output()
        .unwrap();
    let text = common::ran(&out);
    assert!(text.contains("HTTP/2 in cleartext"), "{text}");
    assert!(text.contains("unknown without keys"), "{text}");
}
