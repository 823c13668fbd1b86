//! `synack analyze` of QUIC that synack wrote neither side of: aioquic's HTTP/3 client and server
//! (tests/fixtures/aioquic/, in the virtual environment scripts/install-deps.sh --test makes) on
//! loopback, captured by tcpdump (root), each count checked against tshark's QUIC
//! dissector and the TLS facts against tshark's reading of the Initial packets and aioquic's own
//! word; and a capture of synack's own h3 mode (quinn at both ends, tests/fixtures/
//! h3_quinn_greased.pcapng) read the same way without root.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{self, Stopped, aioquic};

/// Captures loopback UDP on `port` with tcpdump while `run` runs.
pub(crate) fn capture_udp(path: &Path, port: u16, run: impl FnOnce()) {
    let mut tcpdump = Stopped(
        Command::new("tcpdump")
            .args(["-i", "lo", "--immediate-mode", "-U", "-n", "-w"])
            .arg(path)
            .arg(format!("udp port {port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tcpdump (scripts/install-deps.sh --test)"),
    );
    // tcpdump writes the file's header once it listens.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::metadata(path).map_or(0, |m| m.len()) < 24 {
        assert!(Instant::now() < deadline, "tcpdump did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    run();
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill only signals the tcpdump child started above, by its pid.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(tcpdump.0.id() as libc::pid_t, libc::SIGINT);
    }
    let _ = tcpdump.0.wait();
}

/// What tshark shows of one QUIC connection.
#[derive(Debug, Default)]
struct TsharkConnection {
    /// Datagrams, frame bytes, and packets by (header form, long packet type) per direction:
    /// [client, server].
    datagrams: [u64; 2],
    bytes: [u64; 2],
    /// Keys "Initial", "0-RTT", "Handshake", "Retry", "1-RTT".
    packets: [BTreeMap<&'static str, u64>; 2],
    client_hellos: u64,
    server_hellos: u64,
    /// Extension types of the ClientHello and the ServerHello.
    client_hello_extensions: Vec<u16>,
    server_hello_extensions: Vec<u16>,
    /// Capture times (ns) of the client's first Initial and its first 1-RTT packet.
    first_initial: Option<i64>,
    first_one_rtt: Option<i64>,
}

/// "1796499465.137598000" in nanoseconds.
fn epoch_ns(text: &str) -> i64 {
    let (secs, frac) = text.split_once('.').expect("seconds.fraction");
    let frac = format!("{frac:0<9}");
    secs.parse::<i64>().unwrap() * 1_000_000_000 + frac[..9].parse::<i64>().unwrap()
}

/// tshark's reading of every QUIC frame of `path`, by `quic.connection.number`; the server is
/// the side on `server_port`. A frame tshark numbers not (a short header to a connection ID
/// the peer issued in an encrypted NEW_CONNECTION_ID frame) belongs to the connection last
/// numbered on its client's UDP port.
fn tshark_quic(path: &Path, server_port: u16) -> BTreeMap<u64, TsharkConnection> {
    let fields = [
        "quic.connection.number",
        "udp.srcport",
        "udp.dstport",
        "frame.len",
        "frame.time_epoch",
        "quic.header_form",
        "quic.long.packet_type",
        "quic.long.packet_type_v2",
        "tls.handshake.type",
        "tls.handshake.extension.type",
    ];
    let mut args = vec!["-n", "-Y", "quic", "-T", "fields", "-E", "separator=;"];
    for f in &fields {
        args.extend(["-e", f]);
    }
    let out = common::tshark_stdout(path, &args);
    let mut conns: BTreeMap<u64, TsharkConnection> = BTreeMap::new();
    let mut by_client_port: BTreeMap<u16, u64> = BTreeMap::new();
    for line in out.lines() {
        let mut f: Vec<&str> = line.split(';').collect();
        assert_eq!(f.len(), fields.len(), "{line}");
        let ports: Vec<u16> = f[1..3].iter().map(|p| p.parse().unwrap()).collect();
        let side = usize::from(ports[0] == server_port);
        let client_port = ports[side];
        let number = match f[0].split(',').next().unwrap() {
            "" => by_client_port[&client_port],
            n => n.parse().unwrap(),
        };
        by_client_port.insert(client_port, number);
        f.remove(2);
        let c = conns.entry(number).or_default();
        c.datagrams[side] += 1;
        c.bytes[side] += f[2].parse::<u64>().unwrap();
        let ts = epoch_ns(f[3]);
        // Version 1's type numbers, and version 2's (RFC 9369 §3.2) in a field of their own.
        let v1 = f[5].split(',').filter(|t| !t.is_empty()).map(|t| match t {
            "0" => "Initial",
            "1" => "0-RTT",
            "2" => "Handshake",
            "3" => "Retry",
            other => panic!("long packet type {other}"),
        });
        let v2 = f[6].split(',').filter(|t| !t.is_empty()).map(|t| match t {
            "0" => "Retry",
            "1" => "Initial",
            "2" => "0-RTT",
            "3" => "Handshake",
            other => panic!("v2 long packet type {other}"),
        });
        let mut long_types = v1.chain(v2);
        for form in f[4].split(',') {
            let kind = if form == "1" {
                long_types
                    .next()
                    .expect("a long packet type per long header")
            } else {
                "1-RTT"
            };
            *c.packets[side].entry(kind).or_default() += 1;
            if side == 0 && kind == "Initial" {
                c.first_initial.get_or_insert(ts);
            }
            if side == 0 && kind == "1-RTT" {
                c.first_one_rtt.get_or_insert(ts);
            }
        }
        let extensions: Vec<u16> = f[8]
            .split(',')
            .filter(|t| !t.is_empty())
            .map(|t| t.parse().unwrap())
            .collect();
        for kind in f[7].split(',').filter(|t| !t.is_empty()) {
            match kind {
                "1" => {
                    c.client_hellos += 1;
                    c.client_hello_extensions = extensions.clone();
                }
                "2" => {
                    c.server_hellos += 1;
                    c.server_hello_extensions = extensions.clone();
                }
                _ => {}
            }
        }
    }
    conns
}

/// aioquic's server and client on UDP `port`: `connections` connections one after another, each
/// fetching `requests` small files, with the server's and the client's `options` ("--v2",
/// "--retry"); aioquic's word on each: (resumed, early data accepted).
pub(crate) fn run_aioquic(
    dir: &Path,
    port: u16,
    connections: u32,
    requests: u32,
    options: &Options,
) -> Vec<(bool, bool)> {
    let root = dir.join("www");
    std::fs::create_dir_all(&root).unwrap();
    let urls: Vec<String> = (0..requests)
        .map(|i| {
            let name = format!("{i}.txt");
            std::fs::write(root.join(&name), [b'x'; 3000]).unwrap();
            format!("https://127.0.0.1:{port}/{name}")
        })
        .collect();
    let (cert, key) = common::loopback_cert(dir);
    let _server = aioquic::serve(&root, (&cert, &key), port, options.server);
    let out = aioquic::get(&cert, &dir.join("received"), &urls)
        .args(["--connections", &connections.to_string()])
        .args(options.client)
        .output()
        .unwrap();
    let stdout = common::ran(&out);
    stdout
        .lines()
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            (words[1] == "True", words[2] == "True")
        })
        .collect()
}

/// The options of aioquic's server and client for one test.
pub(crate) struct Options {
    server: &'static [&'static str],
    client: &'static [&'static str],
}

pub(crate) const DEFAULT: Options = Options {
    server: &[],
    client: &[],
};

const VERSION_2: Options = Options {
    server: &["--v2"],
    client: &["--v2"],
};

const RETRY: Options = Options {
    server: &["--retry"],
    client: &[],
};

#[test]
fn analyze_counts_aioquic_http3_connections_as_tshark_does_as_root() {
    let test = "analyze_counts_aioquic_http3_connections_as_tshark_does_as_root";
    if !common::require_root(test) || !common::have_tshark(test) || !aioquic::have(test) {
        return;
    }
    let (ours, aioquic, text) = compare_with_tshark(3, &DEFAULT);
    // aioquic's own word: the first connection is new, the later ones resumed with 0-RTT data
    // the server accepted, which the capture shows as a resumed session and 0-RTT packets.
    assert_resumed_with_early_data(&ours, &aioquic);
    assert!(text.contains("0-RTT sent, resumed"), "{text}");
}

#[test]
fn analyze_counts_aioquic_over_quic_version_2_as_tshark_does_as_root() {
    let test = "analyze_counts_aioquic_over_quic_version_2_as_tshark_does_as_root";
    if !common::require_root(test) || !common::have_tshark(test) || !aioquic::have(test) {
        return;
    }
    let (ours, aioquic, _) = compare_with_tshark(3, &VERSION_2);
    assert!(ours.iter().all(|c| c["version"] == "v2"));
    assert_resumed_with_early_data(&ours, &aioquic);
}

#[test]
fn analyze_follows_a_retry_as_tshark_does_as_root() {
    let test = "analyze_follows_a_retry_as_tshark_does_as_root";
    if !common::require_root(test) || !common::have_tshark(test) || !aioquic::have(test) {
        return;
    }
    // One connection: aioquic's client does not resume with 0-RTT after a Retry.
    let (ours, _, _) = compare_with_tshark(1, &RETRY);
    assert_eq!(ours[0]["server_sent"]["packets"]["retry"], 1);
    assert_eq!(ours[0]["unopened_initials"], 0);
}

/// aioquic's word on each connection against what the capture shows: resumed as it says, and
/// 0-RTT packets sent where it says the server accepted early data.
fn assert_resumed_with_early_data(ours: &[Value], aioquic: &[(bool, bool)]) {
    for (c, &(resumed, early_accepted)) in ours.iter().zip(aioquic) {
        assert_eq!(c["tls"]["resumed"], resumed, "{c}");
        let zero_rtt = c["client_sent"]["packets"]["zero_rtt"].as_u64().unwrap();
        assert_eq!(zero_rtt > 0, early_accepted, "{c}");
        let early = if early_accepted {
            "sent_resumed"
        } else {
            "not_offered"
        };
        assert_eq!(c["tls"]["early_data"], early, "{c}");
    }
    assert!(aioquic[1].0 && aioquic[1].1, "aioquic resumed with 0-RTT");
}

/// Captures `connections` of aioquic's connections made with `options` and checks every
/// connection's counts, hellos and handshake time against tshark's; returns synack's JSON
/// connections, aioquic's word on each, and the text report.
fn compare_with_tshark(
    connections: u32,
    options: &Options,
) -> (Vec<Value>, Vec<(bool, bool)>, String) {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("h3.pcap");
    let port = common::free_udp_port();
    let mut aioquic = Vec::new();
    capture_udp(&capture, port, || {
        aioquic = run_aioquic(dir.path(), port, connections, 3, options);
    });
    assert_eq!(aioquic.len(), connections as usize, "aioquic's connections");
    let (ours, text) = analyze_as_tshark_does(&capture, port);
    assert_eq!(ours.len(), connections as usize);
    (ours, aioquic, text)
}

/// Checks `synack analyze` of `capture` against tshark, connection by connection: datagrams,
/// bytes and packets by type each way, the hellos and the handshake time; returns synack's
/// JSON connections and the text report.
fn analyze_as_tshark_does(capture: &Path, server_port: u16) -> (Vec<Value>, String) {
    let out = common::synack()
        .arg("analyze")
        .arg("--json")
        .arg(capture)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let report: Value = serde_json::from_str(&common::ran(&out)).unwrap();
    common::assert_valid("docs/analyze.schema.json", &report);
    let ours = report["quic"]["connections"].as_array().unwrap();
    let theirs = tshark_quic(capture, server_port);
    assert_eq!(
        ours.len(),
        theirs.len(),
        "connections: tshark numbers {:?}",
        theirs.keys().collect::<Vec<_>>()
    );
    let datagrams: u64 = theirs
        .values()
        .map(|c| c.datagrams.iter().sum::<u64>())
        .sum();
    assert_eq!(report["quic"]["datagrams"], datagrams);
    assert_eq!(report["packets"], datagrams, "every frame is QUIC");

    for (c, (number, t)) in ours.iter().zip(&theirs) {
        let what = format!("QUIC connection {number}");
        assert_eq!(c["number"], *number, "{what}");
        for (side, sent) in ["client_sent", "server_sent"].iter().enumerate() {
            let sent = &c[sent];
            assert_eq!(sent["datagrams"], t.datagrams[side], "{what} {side}");
            assert_eq!(sent["bytes"], t.bytes[side], "{what} {side}");
            for (key, kind) in [
                ("initial", "Initial"),
                ("zero_rtt", "0-RTT"),
                ("handshake", "Handshake"),
                ("retry", "Retry"),
                ("one_rtt", "1-RTT"),
            ] {
                let expected = t.packets[side].get(kind).copied().unwrap_or(0);
                assert_eq!(sent["packets"][key], expected, "{what} {side} {kind}");
            }
        }
        // tshark reads one ClientHello and one ServerHello from each connection's Initials.
        assert_eq!((t.client_hellos, t.server_hellos), (1, 1), "{what}");
        let tls = &c["tls"];
        assert_eq!(tls["client_hello"], true, "{what}");
        assert_eq!(tls["server_hello"], true, "{what}");
        assert_eq!(tls["version"], "1.3", "{what}");
        // pre_shared_key (41) and early_data (42) as tshark reads the hellos.
        assert_eq!(
            tls["psk_offered"],
            t.client_hello_extensions.contains(&41),
            "{what}"
        );
        assert_eq!(
            tls["early_data_offered"],
            t.client_hello_extensions.contains(&42),
            "{what}"
        );
        assert_eq!(
            tls["resumed"],
            t.server_hello_extensions.contains(&41),
            "{what}"
        );
        // The handshake: the client's first Initial → its first 1-RTT packet, by tshark's times
        // (pcap's microseconds, so equal to within rounding).
        let handshake_ns = t.first_one_rtt.unwrap() - t.first_initial.unwrap();
        let ours_ns = c["handshake_s"].as_f64().unwrap() * 1e9;
        assert!(
            (ours_ns - handshake_ns as f64).abs() < 1_000.0,
            "{what}: handshake {ours_ns} ns, tshark {handshake_ns} ns"
        );
    }

    // The tables name the connections.
    let out = common::synack()
        .arg("analyze")
        .arg(capture)
        .output()
        .unwrap();
    let text = common::ran(&out);
    assert!(text.contains("QUIC connections"), "{text}");
    (ours.clone(), text)
}

#[test]
fn analyze_counts_quinn_packets_with_the_quic_bit_greased_as_tshark_does() {
    // synack's h3 mode over an emulated 40 ms link, the first 20 frames of each of its two
    // connections: quinn clears the fixed bit of about half its packets (RFC 9287), the
    // server's coalesced Initial among them, and its server sends short headers to connection
    // IDs issued in encrypted frames, which tshark leaves unnumbered.
    let test = "analyze_counts_quinn_packets_with_the_quic_bit_greased_as_tshark_does";
    if !common::have_tshark(test) {
        return;
    }
    let capture = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/h3_quinn_greased.pcapng");
    let (ours, _) = analyze_as_tshark_does(&capture, 41377);
    // tshark read every packet as one of its types, so none is left malformed.
    for c in &ours {
        assert_eq!(c["malformed_packets"], 0, "{c}");
        assert_eq!(c["unopened_initials"], 0, "{c}");
    }
}
