//! TLS counted on the wire against tshark (root: tcpdump on lo). Captures synack did not make —
//! curl and `openssl s_client` talking to `openssl s_server` on 127.0.0.1, with TLS 1.2 and 1.3,
//! resumption, a HelloRetryRequest and 0-RTT data — are read by `synack analyze --json` and by
//! tshark, and every connection's handshake message counts by type, version, HelloRetryRequests,
//! resumption and early data records must agree; and TLS over TCP Fast Open (curl to nginx, in a
//! network namespace of its own), whose ClientHellos ride on the SYN.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Stopped, free_port, sh, wait_until};
use serde_json::Value;

/// A HelloRetryRequest's random, as tshark prints it (RFC 8446 §4.1.3).
const HRR_RANDOM: &str = "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c";

/// A temporary folder with a self-signed certificate for 127.0.0.1 (`cert.pem`, `key.pem`), when
/// root, tshark and `tools` are there (a skip otherwise, a failure under CI).
fn setup(test: &str, tools: &[&str]) -> Option<tempfile::TempDir> {
    if !common::require_root(test)
        || !common::have_tshark(test)
        || !tools.iter().all(|tool| common::have_tool(tool, test))
    {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    sh(
        dir.path(),
        "timeout 60 openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem \
         -days 1 -subj /CN=127.0.0.1",
    );
    Some(dir)
}

/// `openssl s_server` on 127.0.0.1:`port` with the test certificate and `args`; its stdin stays
/// open (without -www it would end at stdin's end).
fn s_server(dir: &Path, port: u16, args: &[&str]) -> Stopped {
    let server = Command::new("openssl")
        .args(["s_server", "-accept", &format!("127.0.0.1:{port}")])
        .args(["-cert", "cert.pem", "-key", "key.pem", "-quiet"])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server");
    wait_until("openssl s_server did not start", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    Stopped(server)
}

/// tshark's `fields` of the frames matching `filter`, TLS decoded on `ports`, one row a frame.
fn tshark(path: &Path, ports: &[u16], filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    let decode: Vec<String> = ports
        .iter()
        .map(|port| format!("tcp.port=={port},tls"))
        .collect();
    let mut args = vec!["-n"];
    for d in &decode {
        args.extend(["-d", d.as_str()]);
    }
    args.extend(["-Y", filter, "-T", "fields", "-E", "separator=;"]);
    for f in fields {
        args.extend(["-e", f]);
    }
    common::tshark_stdout(path, &args)
        .lines()
        .map(|l| l.split(';').map(str::to_string).collect())
        .collect()
}

/// The comma-separated values of one tshark field.
fn values(field: &str) -> impl Iterator<Item = &str> {
    field.split(',').filter(|v| !v.is_empty())
}

/// What tshark shows of one TCP stream's TLS.
#[derive(Debug, Default, PartialEq)]
struct Seen {
    /// Plaintext handshake messages by type.
    types: BTreeMap<u8, u64>,
    version: Option<String>,
    hello_retry_requests: u64,
    resumed: bool,
    /// The client's type-23 records before the first ServerHello.
    early_data_records: u64,
}

/// tshark's view of every stream of `path`, TLS decoded on `ports` (the servers' ports).
fn tshark_view(path: &Path, ports: &[u16]) -> BTreeMap<usize, Seen> {
    let mut streams: BTreeMap<usize, Seen> = BTreeMap::new();
    let mut client_session: BTreeMap<usize, String> = BTreeMap::new();
    let mut answered: BTreeMap<usize, bool> = BTreeMap::new();
    let rows = tshark(
        path,
        ports,
        "tls",
        &[
            "tcp.stream",
            "tcp.srcport",
            "tls.handshake.type",
            "tls.record.content_type",
            "tls.record.opaque_type",
            "tls.handshake.version",
            "tls.handshake.extensions.supported_version",
            "tls.handshake.extension.type",
            "tls.handshake.random",
            "tls.handshake.session_id",
        ],
    );
    for f in rows {
        assert_eq!(f.len(), 10, "{f:?}");
        let stream: usize = f[0].parse().unwrap();
        let from_client = !ports.contains(&f[1].parse().unwrap());
        let seen = streams.entry(stream).or_default();
        let types: Vec<u8> = values(&f[2]).map(|t| t.parse().unwrap()).collect();
        if from_client && !answered.get(&stream).copied().unwrap_or(false) {
            let records = values(&f[3]).chain(values(&f[4]));
            seen.early_data_records += records.filter(|&t| t == "23").count() as u64;
        }
        for &t in &types {
            *seen.types.entry(t).or_default() += 1;
        }
        if types.contains(&1) && from_client {
            client_session.entry(stream).or_insert_with(|| f[9].clone());
        }
        if types.contains(&2) && !from_client {
            if f[8] == HRR_RANDOM {
                seen.hello_retry_requests += 1;
                continue;
            }
            answered.insert(stream, true);
            let version = values(&f[6]).next().unwrap_or(f[5].as_str());
            seen.version = Some(
                match version {
                    "0x0304" => "1.3",
                    "0x0303" => "1.2",
                    other => other,
                }
                .to_string(),
            );
            seen.resumed = if version == "0x0304" {
                values(&f[7]).any(|t| t == "41")
            } else {
                client_session
                    .get(&stream)
                    .is_some_and(|id| !id.is_empty() && *id == f[9])
            };
        }
    }
    // A connection speaks TLS from its ClientHello on: the probes that found the servers
    // listening carry none (an alert at most).
    streams.retain(|_, seen| seen.types.contains_key(&1));
    streams
}

/// synack's view of every stream's TLS, from `analyze --json`.
fn synack_view(report: &Value) -> BTreeMap<usize, Seen> {
    let mut streams = BTreeMap::new();
    for c in report["connections"].as_array().expect("connections") {
        let tls = &c["tls"];
        if tls.is_null() {
            continue;
        }
        let types = tls["handshake_types"]
            .as_object()
            .expect("handshake_types")
            .iter()
            .map(|(t, n)| (t.parse().unwrap(), n.as_u64().unwrap()))
            .collect();
        streams.insert(
            c["stream"].as_u64().unwrap() as usize,
            Seen {
                types,
                version: tls["version"].as_str().map(str::to_string),
                hello_retry_requests: tls["hello_retry_request"].as_u64().unwrap(),
                resumed: tls["resumed"].as_bool().unwrap(),
                early_data_records: tls["early_data_records"].as_u64().unwrap(),
            },
        );
    }
    streams
}

/// That `analyze --ladder STREAM` names exactly one segment `name`, the one frame tshark found
/// (its relative sequence number in `frames[0][0]`).
fn assert_ladder_names(capture: &Path, stream: usize, name: &str, frames: &[Vec<String>]) {
    assert_eq!(frames.len(), 1, "{name}: {frames:?}");
    let out = common::synack()
        .arg("analyze")
        .arg(capture)
        .args(["--ladder", &stream.to_string()])
        .env("COLUMNS", "200")
        .output()
        .unwrap();
    let ladder = common::ran(&out);
    let named: Vec<&str> = ladder.lines().filter(|l| l.contains(name)).collect();
    assert_eq!(named.len(), 1, "{name}:\n{ladder}");
    let seq = &frames[0][0];
    assert!(
        named[0].contains(&format!(", seq {seq} ")),
        "{name} at tshark's seq {seq}:\n{ladder}"
    );
}

#[test]
fn tls_of_curl_and_openssl_agrees_with_tshark_as_root() {
    let Some(dir) = setup(
        "tls_of_curl_and_openssl_agrees_with_tshark_as_root",
        &["openssl", "curl", "tcpdump"],
    ) else {
        return;
    };
    let d = dir.path();
    std::fs::write(d.join("request.txt"), "GET / HTTP/1.0\r\n\r\n").unwrap();
    // One server answers HTTP and takes X25519 only (so a client offering P-256 first gets a
    // HelloRetryRequest); the other accepts 0-RTT data (which -www does not allow).
    let (www, early) = (free_port(), free_port());
    let capture = d.join("tls.pcap");
    let mut tcpdump = Stopped(
        Command::new("tcpdump")
            .args(["-i", "lo", "--immediate-mode", "-U", "-n", "-s", "0", "-w"])
            .arg(&capture)
            .arg(format!("tcp port {www} or tcp port {early}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tcpdump"),
    );
    wait_until("tcpdump did not start", || {
        std::fs::metadata(&capture).map_or(0, |m| m.len()) >= 24
    });
    std::thread::sleep(Duration::from_millis(300));
    let _www = s_server(d, www, &["-www", "-groups", "X25519"]);
    let _early = s_server(d, early, &["-early_data"]);

    let url = format!("https://127.0.0.1:{www}/");
    // s_client reads stdin for half a second (long enough to take the session tickets), then
    // closes.
    let s_client = |port: u16, args: &str| {
        format!(
            "sleep 0.5 | timeout 10 openssl s_client -connect 127.0.0.1:{port} {args} >/dev/null"
        )
    };
    let clients = [
        format!("timeout 10 curl -sSk --tlsv1.2 --tls-max 1.2 -o /dev/null {url}"),
        format!("timeout 10 curl -sSk --tlsv1.3 -o /dev/null {url}"),
        s_client(www, "-tls1_3 -sess_out s13"),
        s_client(www, "-tls1_3 -sess_in s13"),
        s_client(www, "-tls1_2 -sess_out s12"),
        s_client(www, "-tls1_2 -sess_in s12"),
        s_client(www, "-tls1_3 -groups P-256:X25519"),
        s_client(early, "-tls1_3 -sess_out s0rtt"),
        s_client(early, "-tls1_3 -sess_in s0rtt -early_data request.txt"),
    ];
    for line in &clients {
        sh(d, line);
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
    let theirs = tshark_view(&capture, &[www, early]);
    assert_eq!(ours.len(), clients.len(), "TLS connections: {ours:?}");
    assert_eq!(ours, theirs, "synack (left) and tshark (right) disagree");

    // The capture holds what the clients were asked for, so the comparison covered it.
    let resumed: Vec<bool> = ours.values().map(|s| s.resumed).collect();
    assert_eq!(
        resumed,
        [false, false, false, true, false, true, false, false, true]
    );
    let versions: Vec<&str> = ours.values().filter_map(|s| s.version.as_deref()).collect();
    assert_eq!(
        versions,
        [
            "1.2", "1.3", "1.3", "1.3", "1.2", "1.2", "1.3", "1.3", "1.3"
        ]
    );
    // In client order (the probes that found the servers listening took stream numbers too).
    let by_client: Vec<&Seen> = ours.values().collect();
    assert_eq!(by_client[6].hello_retry_requests, 1);
    assert_eq!(by_client[6].types.get(&1), Some(&2), "two ClientHellos");
    assert!(
        by_client[8].early_data_records > 0,
        "0-RTT data on the wire"
    );

    // Totals over the capture: the sum of the connections'.
    let mut total: BTreeMap<String, u64> = BTreeMap::new();
    for seen in theirs.values() {
        for (t, n) in &seen.types {
            *total.entry(t.to_string()).or_default() += n;
        }
    }
    let reported: BTreeMap<String, u64> = report["tls"]["handshake_types"]
        .as_object()
        .expect("tls totals")
        .iter()
        .map(|(t, n)| (t.clone(), n.as_u64().unwrap()))
        .collect();
    assert_eq!(reported, total);
    assert_eq!(report["tls"]["connections"], clients.len() as u64);

    // Every handshake was timed up to the client's first application data record (curl's
    // request, s_client's 0-RTT request, or its close_notify, which TLS 1.3 encrypts).
    for c in report["connections"].as_array().unwrap() {
        let tls = &c["tls"];
        if c["tls"]["version"] == "1.3" {
            assert!(tls["handshake_s"].as_f64().is_some(), "{tls}");
        }
    }

    // The ladder of curl's TLS 1.3 connection names the segments that carried the hellos and
    // no others: the ones tshark finds, by their relative sequence numbers.
    let tls13 = *ours.keys().nth(1).expect("curl's TLS 1.3 connection");
    for (kind, name) in [(1, "ClientHello"), (2, "ServerHello")] {
        let filter = format!("tcp.stream == {tls13} && tls.handshake.type == {kind}");
        let frames = tshark(&capture, &[www, early], &filter, &["tcp.seq"]);
        assert_ladder_names(&capture, tls13, name, &frames);
    }
    // Under TLS 1.2 (curl's first connection) the client's Finished rides on the segment of its
    // ChangeCipherSpec; the ladder names that segment, and no other, Finished.
    let tls12 = *ours.keys().next().expect("curl's TLS 1.2 connection");
    let filter =
        format!("tcp.stream == {tls12} && tcp.dstport == {www} && tls.record.content_type == 20");
    let frames = tshark(&capture, &[www, early], &filter, &["tcp.seq"]);
    assert_ladder_names(&capture, tls12, "Finished", &frames);

    // The table fits a 100-column terminal.
    let out = common::synack()
        .arg("analyze")
        .arg(&capture)
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    common::ran(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("TLS handshakes"), "{text}");
    for line in text.lines() {
        assert!(line.chars().count() <= 100, "too wide: {line}");
    }
}

#[test]
fn tls_client_hello_on_a_fast_open_syn_agrees_with_tshark_as_root() {
    let Some(dir) = setup(
        "tls_client_hello_on_a_fast_open_syn_agrees_with_tshark_as_root",
        &["openssl", "curl", "tcpdump", "nginx", "unshare"],
    ) else {
        return;
    };
    let d = dir.path();
    let port = 8443;
    std::fs::write(
        d.join("nginx.conf"),
        common::nginx_tls_conf(
            d,
            port,
            " fastopen=16",
            "location / { return 200 \"hi\\n\"; }",
        ),
    )
    .unwrap();
    // A network namespace of its own: its loopback, and a Fast Open setting for server and client
    // that leaves the host's alone. The first connection gets the cookie, the later ones carry
    // their ClientHello on the SYN.
    let script = format!(
        "set -e\n\
         ip link set lo up\n\
         sysctl -qw net.ipv4.tcp_fastopen=3\n\
         timeout 30 tcpdump -i lo --immediate-mode -U -n -s 0 -w tfo.pcap tcp port {port} \
         2>/dev/null & dump=$!\n\
         i=0; while [ ! -s tfo.pcap ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done\n\
         timeout 30 nginx -c {d}/nginx.conf & server=$!\n\
         i=0; while ! [ -s nginx.pid ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done\n\
         sleep 0.3\n\
         for n in 1 2 3; do\n\
           timeout 10 curl -sSk --tcp-fastopen --tlsv1.3 -o /dev/null https://127.0.0.1:{port}/\n\
         done\n\
         sleep 0.5; kill -INT $dump; wait $dump || true\n\
         kill $server; wait $server || true\n",
        d = d.display()
    );
    std::fs::write(d.join("run.sh"), script).unwrap();
    sh(d, "timeout 90 unshare -n sh run.sh");

    let capture = d.join("tfo.pcap");
    let report = common::analyze_json(&capture, &[]);
    let ours = synack_view(&report);
    let theirs = tshark_view(&capture, &[port]);
    assert_eq!(ours.len(), 3, "TLS connections: {ours:?}");
    assert_eq!(ours, theirs, "synack (left) and tshark (right) disagree");
    // Bytes on each connection's SYN, as tshark counts them.
    let syn_data: BTreeMap<usize, u64> = tshark(
        &capture,
        &[port],
        "tcp.flags.syn == 1 && tcp.flags.ack == 0",
        &["tcp.stream", "tcp.len"],
    )
    .iter()
    .map(|f| (f[0].parse().unwrap(), f[1].parse().unwrap()))
    .collect();
    let mut on_syn = 0;
    for c in report["connections"].as_array().unwrap() {
        let stream = c["stream"].as_u64().unwrap() as usize;
        assert_eq!(c["tfo_syn_data"], syn_data[&stream], "stream {stream}");
        if c["tfo_syn_data"].as_u64() > Some(0) {
            on_syn += 1;
            assert_eq!(c["tls"]["client_hello"], 1, "{}", c["tls"]);
            assert!(c["tls"]["handshake_s"].as_f64().is_some(), "{}", c["tls"]);
        }
    }
    assert_eq!(
        on_syn, 2,
        "the later two connections carry data on their SYN"
    );
}

#[test]
fn synack_compare_tls_captures_agree_with_tshark_as_root() {
    let test = "synack_compare_tls_captures_agree_with_tshark_as_root";
    if !common::require_root(test) || !common::have_tshark(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rounds = 2;
    let site = common::small_files(dir.path());
    let report = common::compare_report(
        dir.path(),
        &[
            "--files",
            site.to_str().unwrap(),
            "--rtt",
            "10ms",
            "--rounds",
            "2",
            "--modes",
            "non-persistent,persistent",
            "--variants",
            "tls1.2+resume,tls1.3+0rtt",
        ],
    );
    for (variant, version) in [("tls1.2+resume", "1.2"), ("tls1.3+0rtt", "1.3")] {
        for (mode, files) in [("non-persistent", 3), ("persistent", 1)] {
            let capture = report["variants"][variant]["captures"][mode]
                .as_str()
                .unwrap_or_else(|| panic!("{variant} {mode}: no capture"));
            let capture = Path::new(capture);
            let analyzed = common::analyze_json(capture, &[]);
            let server_port = analyzed["connections"][0]["server"]
                .as_str()
                .and_then(|s| s.rsplit(':').next())
                .and_then(|p| p.parse().ok())
                .expect("the server's port");
            let ours = synack_view(&analyzed);
            let theirs = tshark_view(capture, &[server_port]);
            assert_eq!(ours, theirs, "{variant} {mode}");
            // What the plan asked for, seen by tshark: every connection of a run after its
            // first resumes; with 0-RTT each resumed one sent early data.
            let connections = rounds * files;
            assert_eq!(theirs.len(), connections, "{variant} {mode}");
            let resumed = theirs.values().filter(|s| s.resumed).count();
            assert_eq!(resumed, rounds * (files - 1), "{variant} {mode}");
            assert!(
                theirs
                    .values()
                    .all(|s| s.version.as_deref() == Some(version)),
                "{variant} {mode}: {theirs:?}"
            );
            let early = theirs.values().filter(|s| s.early_data_records > 0).count();
            let expect_early = if variant.ends_with("0rtt") {
                resumed
            } else {
                0
            };
            assert_eq!(early, expect_early, "{variant} {mode}");
            // The CSV says the same per connection.
            let csv = common::synack()
                .args(["analyze", "--csv"])
                .arg(capture)
                .output()
                .unwrap();
            let csv = String::from_utf8_lossy(&csv.stdout);
            let mut lines = csv.lines();
            let header: Vec<&str> = lines.next().unwrap().split(',').collect();
            let column = |name| header.iter().position(|h| *h == name).unwrap();
            let (v, r, e) = (
                column("tls_version"),
                column("tls_resumed"),
                column("tls_early_data"),
            );
            let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
            assert_eq!(rows.len(), connections, "{csv}");
            assert!(rows.iter().all(|row| row[v] == version), "{csv}");
            assert_eq!(rows.iter().filter(|row| row[r] == "true").count(), resumed);
            assert_eq!(rows.iter().filter(|row| row[e] == "true").count(), early);
        }
    }
}
