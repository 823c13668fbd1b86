//! `compare` with the h3 mode: its QUIC packets counted as tshark counts them on the saved capture.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::common;

/// tshark's packets on a QUIC capture's datagrams that match `filter` by sender (client or
/// server, told by `server_port`) and type, each of a datagram's coalesced packets on its own;
/// and the datagrams each way.
pub(crate) fn tshark_quic(
    pcap: &std::path::Path,
    filter: &str,
    server_port: u16,
) -> BTreeMap<(String, String), u64> {
    let fields = common::tshark_stdout(
        pcap,
        &[
            "-Y",
            filter,
            "-T",
            "fields",
            "-E",
            "separator=;",
            "-e",
            "udp.srcport",
            "-e",
            "quic.header_form",
            "-e",
            "quic.long.packet_type",
        ],
    );
    let mut counts = BTreeMap::new();
    for line in fields.lines().filter(|l| !l.trim().is_empty()) {
        let mut f = line.split(';');
        let port: u16 = f.next().unwrap().trim().parse().unwrap();
        let side = if port == server_port {
            "server"
        } else {
            "client"
        };
        let forms: Vec<&str> = f.next().unwrap_or_default().split(',').collect();
        let mut long = f.next().unwrap_or_default().split(',');
        *counts
            .entry((side.to_owned(), "datagrams".to_owned()))
            .or_insert(0) += 1;
        for form in forms.iter().filter(|f| !f.is_empty()) {
            let kind = match (*form, long.next()) {
                ("0", _) => "one_rtt",
                ("1", Some("0")) => "initial",
                ("1", Some("1")) => "zero_rtt",
                ("1", Some("2")) => "handshake",
                ("1", Some("3")) => "retry",
                _ => "other",
            };
            *counts
                .entry((side.to_owned(), kind.to_owned()))
                .or_insert(0) += 1;
        }
    }
    counts
}

#[test]
fn an_h3_modes_quic_packets_are_tsharks_as_root() {
    let test = "an_h3_modes_quic_packets_are_tsharks_as_root";
    if !common::require_root(test) || !common::have_tshark(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let site = common::small_files(dir.path());
    let report = common::compare_report(
        dir.path(),
        &[
            "--modes",
            "persistent,h3",
            "--rounds",
            "2",
            "--rtt",
            "20ms",
            "--files",
            site.to_str().unwrap(),
        ],
    );
    let h3 = &report["modes"]["h3"];
    let quic = &h3["quic"];
    assert_eq!(quic["connections"], 2, "one QUIC connection a run: {quic}");
    let pcap = PathBuf::from(report["captures"]["h3"].as_str().unwrap());
    // The capture opens with the client's first Initial, to the server's port.
    let server_port: u16 =
        common::tshark_stdout(&pcap, &["-c", "1", "-T", "fields", "-e", "udp.dstport"])
            .trim()
            .parse()
            .expect("the first datagram's destination port");
    let theirs = tshark_quic(&pcap, "udp", server_port);
    let ours = |side: &str, key: &str| -> u64 {
        let flow = &quic[if side == "client" {
            "to_server"
        } else {
            "to_client"
        }];
        match key {
            "datagrams" => flow["datagrams"].as_u64().unwrap(),
            kind => flow["packets"][kind].as_u64().unwrap(),
        }
    };
    for side in ["client", "server"] {
        for key in ["datagrams", "initial", "zero_rtt", "handshake", "one_rtt"] {
            let t = theirs
                .get(&(side.to_owned(), key.to_owned()))
                .copied()
                .unwrap_or(0);
            assert_eq!(ours(side, key), t, "{side} {key}: {theirs:?}");
        }
    }
    // The handshake, the client's first Initial → its first 1-RTT packet, takes a round trip
    // and no less: 20 ms each, the runs' sum over two connections.
    let handshakes = quic["handshake_s"].as_f64().unwrap();
    assert!(
        handshakes >= 2.0 * 0.020,
        "{handshakes} s for two handshakes"
    );
}

#[test]
fn h3_shakes_hands_in_one_round_trip_and_h2_in_two_as_root() {
    let test = "h3_shakes_hands_in_one_round_trip_and_h2_in_two_as_root";
    if !common::require_root(test) {
        return;
    }
    const RTT: f64 = 0.040;
    // What a busy machine may add to a handshake's computation; a round trip more would be 40 ms.
    const SLACK: f64 = 0.010;
    let dir = tempfile::tempdir().unwrap();
    // Small files: what is timed is each connection's handshake, not its transfer.
    let site = common::small_files(dir.path());
    let report = common::compare_report(
        dir.path(),
        &[
            "--modes",
            "persistent,h2,h3",
            "--rounds",
            "3",
            "--rtt",
            "40ms",
            "--files",
            site.to_str().unwrap(),
        ],
    );
    let capture = |mode: &str| {
        let pcap = PathBuf::from(report["captures"][mode].as_str().unwrap());
        common::analyze_json(&pcap, &[])
    };
    // QUIC: the client's first Initial → its first 1-RTT packet, each connection.
    let h3 = capture("h3");
    let quic: Vec<f64> = h3["quic"]["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["handshake_s"].as_f64().unwrap())
        .collect();
    assert_eq!(quic.len(), 3, "{quic:?}");
    assert!(quic.iter().all(|&h| h >= RTT), "{quic:?}");
    let quickest = quic.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(quickest <= RTT + SLACK, "one round trip, not two: {quic:?}");
    // TCP then TLS 1.3: SYN → SYN-ACK, then ClientHello → the client's first application data.
    let h2 = capture("h2");
    let tcp_tls: Vec<f64> = h2["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["handshake_s"].as_f64().unwrap() + c["tls"]["handshake_s"].as_f64().unwrap())
        .collect();
    assert_eq!(tcp_tls.len(), 3, "{tcp_tls:?}");
    assert!(tcp_tls.iter().all(|&h| h >= 2.0 * RTT), "{tcp_tls:?}");
    let quickest = tcp_tls.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(
        quickest <= 2.0 * RTT + SLACK,
        "two round trips, not three: {tcp_tls:?}"
    );
    // h2's requests are inside TLS, so its phases are the client's own; they still span the
    // whole run: each run's phases reach from before its SYN to after the last byte the
    // server's segments carried, as tshark reads the capture (a run's connection, in order).
    let h2 = &report["modes"]["h2"];
    assert_eq!(h2["phase_source"], "client", "{}", h2["phase_source"]);
    // Without --congestion, h3's server runs quinn's CUBIC and the TCP modes the kernel's
    // default, as /proc names it; where the two differ, the verdict says so.
    let kernel = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_congestion_control").unwrap();
    let kernel = kernel.trim();
    assert_eq!(report["quic_congestion"], "cubic");
    assert_eq!(report["congestion"].as_str(), Some(kernel));
    let summary = report["summary"].as_array().unwrap();
    let said = summary.iter().filter_map(Value::as_str).any(|line| {
        line.starts_with(&format!(
            "h3's QUIC connections ran quinn's cubic and the TCP connections {kernel}"
        ))
    });
    assert_eq!(said, kernel != "cubic", "{summary:?}");
    if common::have_tshark(test) {
        let pcap = PathBuf::from(report["captures"]["h2"].as_str().unwrap());
        let spans = tcp_spans(&pcap);
        let runs = h2["runs"].as_array().unwrap();
        assert_eq!(spans.len(), runs.len(), "{spans:?}");
        for (run, span) in runs.iter().zip(&spans) {
            let timeline = run["phases"]["timeline_s"].as_f64().unwrap();
            // Timestamps of the capture and of the client differ by microseconds.
            assert!(
                timeline >= span - 0.001,
                "phases {timeline} s, capture {span} s"
            );
        }
    }
}

/// Each TCP stream of the capture, in order: the client's SYN → the last segment from the server
/// that carried payload before the client's FIN (after it come only the closing's records), in
/// seconds, as tshark reads them.
fn tcp_spans(pcap: &std::path::Path) -> Vec<f64> {
    let fields = [
        "tcp.stream",
        "frame.time_epoch",
        "tcp.flags.syn",
        "tcp.flags.ack",
        "tcp.flags.fin",
        "tcp.len",
        "tcp.srcport",
    ];
    let mut args = vec!["-Y", "tcp", "-T", "fields"];
    for f in &fields {
        args.extend(["-e", f]);
    }
    let rows = common::tshark_stdout(pcap, &args);
    #[derive(Default)]
    struct Stream {
        syn: f64,
        client_port: String,
        last: f64,
        client_fin: bool,
    }
    let flag = |v: &str| v == "1" || v == "True";
    let mut streams: std::collections::BTreeMap<u64, Stream> = Default::default();
    for row in rows.lines() {
        let f: Vec<&str> = row.split('\t').collect();
        let s = streams.entry(f[0].parse().unwrap()).or_default();
        let ts: f64 = f[1].parse().unwrap();
        let from_client = f[6] == s.client_port;
        if flag(f[2]) && !flag(f[3]) {
            (s.syn, s.client_port) = (ts, f[6].to_owned());
        } else if from_client && flag(f[4]) {
            s.client_fin = true;
        } else if !from_client && !s.client_fin && f[5].parse::<u64>().unwrap() > 0 {
            s.last = ts;
        }
    }
    streams.values().map(|s| s.last - s.syn).collect()
}
