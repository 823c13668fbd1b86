//! `synack analyze` on captures of every supported link type and file format, and on the awkward
//! cases (IPv6 extension headers, fragments, reused ports, mid-stream starts, retransmitted SYN
//! and FIN, resets, short snap lengths, cut files). Counts are checked by hand and, where tshark is
//! installed, against tshark on every fixture.

use crate::common;
use crate::fixtures;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use fixtures::{Capture, Format, Link, conn, fragments, with_hop_by_hop, write};
use serde_json::Value;

/// analyze --json, then the same totals from tshark.
fn analyze_checked(path: &Path, test: &str) -> Value {
    let report = common::analyze_json(path, &[]);
    if common::have_tshark(test) {
        common::assert_matches_tshark(path, &report["totals"]);
    }
    report
}

/// Two connections: one request on the first, two on the second; both closed by the server.
fn two_connections(client: &str, client2: &str, server: &str) -> Capture {
    let mut cap = Capture::new();
    let mut a = conn(client, server, 1000);
    cap.handshake(&mut a)
        .exchange(&mut a, "/a.jpg", 3000)
        .close_from_server(&mut a);
    let mut b = conn(client2, server, 9000);
    cap.handshake(&mut b)
        .exchange(&mut b, "/b.mp3", 2000)
        .exchange(&mut b, "/c.txt", 100)
        .close_from_server(&mut b);
    cap
}

fn assert_two_connections(report: &Value, packets: usize) {
    let t = &report["totals"];
    assert_eq!(t["connections"], 2, "{t}");
    assert_eq!(t["syn"], 2);
    assert_eq!(t["synack"], 2);
    assert_eq!(t["handshake_ack"], 2);
    assert_eq!(t["fin"], 4);
    assert_eq!(t["rst"], 0);
    assert_eq!(t["packets"], packets);
    assert_eq!(report["packets"], packets);
    let conns = report["connections"].as_array().unwrap();
    let mut requests: Vec<u64> = conns
        .iter()
        .map(|c| c["requests"].as_u64().unwrap())
        .collect();
    requests.sort();
    assert_eq!(requests, [1, 2]);
}

#[test]
fn every_link_type_and_format_gives_the_same_counts() {
    let dir = tempfile::tempdir().unwrap();
    let v4 = two_connections("192.0.2.10:40000", "192.0.2.10:40001", "192.0.2.1:80");
    let v6 = two_connections(
        "[2001:db8::10]:40000",
        "[2001:db8::10]:40001",
        "[2001:db8::1]:80",
    );
    let links = [
        (Link::Ethernet, &v4),
        (Link::EthernetVlan, &v4),
        (Link::LinuxSll, &v4),
        (Link::LinuxSll2, &v6),
        (Link::Raw, &v4),
        (Link::Raw, &v6),
        (Link::Ipv4, &v4),
        (Link::Ipv6, &v6),
        (Link::Null, &v4),
        (Link::Null, &v6),
        (Link::Loop, &v4),
    ];
    for (i, (link, cap)) in links.iter().enumerate() {
        for format in [Format::PcapNano, Format::PcapMicroBigEndian, Format::Pcapng] {
            let path = dir.path().join(format!("{i}-{link:?}-{format:?}.pcap"));
            write(&path, format, link.linktype(), &cap.frames(*link), 65535);
            let report = analyze_checked(&path, "every_link_type_and_format_gives_the_same_counts");
            assert_two_connections(&report, cap.packets.len());
            let first = &report["connections"][0];
            // 10 µs apart: exact in every format, microsecond ones included.
            let expected = 10e-6;
            assert!(
                (first["handshake_s"].as_f64().unwrap() - expected).abs() < 1e-9,
                "{link:?} {format:?}"
            );
        }
    }
}

#[test]
fn ipv6_extension_headers_are_skipped_to_reach_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let mut cap = two_connections(
        "[2001:db8::10]:40000",
        "[2001:db8::10]:40001",
        "[2001:db8::1]:80",
    );
    for (_, ip) in cap.packets.iter_mut() {
        *ip = with_hop_by_hop(ip);
    }
    let path = dir.path().join("hbh.pcap");
    write(
        &path,
        Format::PcapNano,
        Link::Ethernet.linktype(),
        &cap.frames(Link::Ethernet),
        65535,
    );
    let report = analyze_checked(&path, "ipv6_extension_headers_are_skipped_to_reach_tcp");
    assert_two_connections(&report, cap.packets.len());
}

#[test]
fn ipv4_fragments_are_reassembled_as_wireshark_does() {
    let dir = tempfile::tempdir().unwrap();
    let mut cap = Capture::new();
    let mut c = conn("192.0.2.10:40000", "192.0.2.1:80", 1);
    cap.handshake(&mut c);
    let big = cap.segment(&mut c, false, "PA", &[b'x'; 3000]);
    let [first, second] = fragments(&big, 1504);
    cap.record(first).record(second);
    cap.send(&mut c, true, "A", &[]).close_from_server(&mut c);
    let path = dir.path().join("frag.pcap");
    write(
        &path,
        Format::PcapNano,
        1,
        &cap.frames(Link::Ethernet),
        65535,
    );
    // As Wireshark does by default, the fragment that completes the datagram carries the segment.
    let report = analyze_checked(&path, "ipv4_fragments_are_reassembled_as_wireshark_does");
    assert_eq!(report["fragments"], 1);
    assert_eq!(report["packets"], cap.packets.len());
    assert_eq!(report["totals"]["packets"], cap.packets.len() - 1);
    assert_eq!(report["totals"]["data"], 1);
    assert_eq!(report["connections"][0]["server_payload_bytes"], 3000);
    assert_eq!(report["totals"]["connections"], 1);
    // Cut by the snap length, fragments cannot be reassembled and stay fragments.
    write(&path, Format::PcapNano, 1, &cap.frames(Link::Ethernet), 200);
    let report = common::analyze_json(&path, &[]);
    assert_eq!(report["fragments"], 2);
    assert_eq!(report["totals"]["data"], 0);
}

#[test]
fn reused_four_tuple_is_a_new_connection() {
    let dir = tempfile::tempdir().unwrap();
    let mut cap = Capture::new();
    for isn in [100, 900_000] {
        let mut c = conn("192.0.2.10:40000", "192.0.2.1:80", isn);
        cap.handshake(&mut c)
            .exchange(&mut c, "/x", 10)
            .close_from_server(&mut c);
    }
    let path = dir.path().join("reuse.pcap");
    write(
        &path,
        Format::PcapNano,
        1,
        &cap.frames(Link::Ethernet),
        65535,
    );
    let report = analyze_checked(&path, "reused_four_tuple_is_a_new_connection");
    assert_eq!(report["totals"]["connections"], 2);
    let conns = report["connections"].as_array().unwrap();
    assert!(
        conns
            .iter()
            .all(|c| c["syn"] == 1 && c["fin"] == 2 && c["final_state"] == "closed")
    );
}

#[test]
fn capture_starting_mid_stream_guesses_the_client() {
    let dir = tempfile::tempdir().unwrap();
    let mut cap = Capture::new();
    let mut c = conn("192.0.2.10:51000", "192.0.2.1:443", 5);
    cap.handshake(&mut c);
    cap.packets.clear();
    cap.exchange(&mut c, "/y", 500).close_from_server(&mut c);
    let path = dir.path().join("mid.pcap");
    write(
        &path,
        Format::PcapNano,
        1,
        &cap.frames(Link::Ethernet),
        65535,
    );
    let report = analyze_checked(&path, "capture_starting_mid_stream_guesses_the_client");
    let c0 = &report["connections"][0];
    assert_eq!(report["totals"]["connections"], 1);
    assert_eq!(c0["client_guessed"], true);
    assert_eq!(c0["client"], "192.0.2.10:51000");
    assert_eq!(c0["handshake_s"], Value::Null);
    assert_eq!(c0["requests"], 1);
}

#[test]
fn retransmitted_syn_and_fin_are_not_extra_handshakes_or_teardowns() {
    let dir = tempfile::tempdir().unwrap();
    let mut cap = Capture::new();
    let mut c = conn("192.0.2.10:40000", "192.0.2.1:80", 77);
    let syn = cap.segment(&mut c.clone(), true, "S", &[]);
    cap.record(syn);
    cap.handshake(&mut c).exchange(&mut c, "/z", 100);
    let fin = cap.segment(&mut c.clone(), false, "FA", &[]);
    cap.record(fin);
    cap.close_from_server(&mut c);
    let path = dir.path().join("retrans.pcap");
    write(
        &path,
        Format::PcapNano,
        1,
        &cap.frames(Link::Ethernet),
        65535,
    );
    let report = analyze_checked(
        &path,
        "retransmitted_syn_and_fin_are_not_extra_handshakes_or_teardowns",
    );
    let t = &report["totals"];
    assert_eq!(t["connections"], 1);
    assert_eq!(t["syn"], 2);
    assert_eq!(t["fin"], 3);
    assert_eq!(t["retransmissions"], 2);
    let c0 = &report["connections"][0];
    assert_eq!(c0["final_state"], "closed");
    assert_eq!(c0["active_closer"], "server");
}

#[test]
fn reset_connection_ends_reset() {
    let dir = tempfile::tempdir().unwrap();
    let mut cap = Capture::new();
    let mut c = conn("192.0.2.10:40000", "192.0.2.1:80", 3);
    cap.handshake(&mut c)
        .exchange(&mut c, "/r", 10)
        .send(&mut c, false, "RA", &[]);
    let path = dir.path().join("rst.pcap");
    write(
        &path,
        Format::PcapNano,
        1,
        &cap.frames(Link::Ethernet),
        65535,
    );
    let report = analyze_checked(&path, "reset_connection_ends_reset");
    assert_eq!(report["totals"]["rst"], 1);
    assert_eq!(report["connections"][0]["final_state"], "reset");
    // The server (port 80) sent it.
    assert_eq!(report["connections"][0]["reset_by"], "server");
    if common::have_tshark("reset_connection_ends_reset") {
        let ports = common::tshark_stdout(
            &path,
            &[
                "-Y",
                "tcp.flags.reset==1",
                "-T",
                "fields",
                "-e",
                "tcp.srcport",
            ],
        );
        assert_eq!(ports.trim(), "80");
    }
}

#[test]
fn short_snap_length_keeps_counts_and_payload_lengths() {
    let dir = tempfile::tempdir().unwrap();
    let cap = two_connections("192.0.2.10:40000", "192.0.2.10:40001", "192.0.2.1:80");
    let path = dir.path().join("snap.pcap");
    write(&path, Format::PcapNano, 1, &cap.frames(Link::Ethernet), 70);
    let report = analyze_checked(&path, "short_snap_length_keeps_counts_and_payload_lengths");
    assert_two_connections(&report, cap.packets.len());
    // The frames cut short are those longer than the snap length, as tshark finds them.
    let longer = cap
        .frames(Link::Ethernet)
        .iter()
        .filter(|(_, frame)| frame.len() > 70)
        .count();
    assert!(longer > 0);
    assert_eq!(report["cut_frames"], longer);
    if common::have_tshark("short_snap_length_keeps_counts_and_payload_lengths") {
        let cut = common::tshark_stdout(&path, &["-Y", "frame.cap_len < frame.len"]);
        assert_eq!(cut.lines().count(), longer);
    }
    // Frames cut inside the TCP header are counted as truncated, not dropped.
    let path = dir.path().join("snap40.pcap");
    write(&path, Format::PcapNano, 1, &cap.frames(Link::Ethernet), 40);
    let report = common::analyze_json(&path, &[]);
    assert_eq!(report["truncated_frames"], cap.packets.len());
    assert_eq!(report["packets"], cap.packets.len());
}

#[test]
fn cut_file_analyses_what_came_before_and_names_the_byte() {
    let dir = tempfile::tempdir().unwrap();
    let cap = two_connections("192.0.2.10:40000", "192.0.2.10:40001", "192.0.2.1:80");
    let path = dir.path().join("cut.pcap");
    write(
        &path,
        Format::PcapNano,
        1,
        &cap.frames(Link::Ethernet),
        65535,
    );
    let bytes = std::fs::read(&path).unwrap();
    let cut = bytes.len() - 7;
    std::fs::write(&path, &bytes[..cut]).unwrap();
    let out = common::synack()
        .arg("analyze")
        .arg(&path)
        .arg("--json")
        .output()
        .unwrap();
    common::ran(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("truncated capture at byte {cut}")),
        "{stderr}"
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["packets"], cap.packets.len() - 1);
}

#[test]
fn unknown_link_type_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("unknown.pcap");
    write(&path, Format::PcapNano, 147, &[(1, vec![0; 40])], 65535);
    let out = common::synack().arg("analyze").arg(&path).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("unsupported link type 147"), "{stderr}");
}

#[test]
fn stdin_filter_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let cap = two_connections("192.0.2.10:40000", "192.0.2.10:40001", "192.0.2.1:80");
    let path: PathBuf = dir.path().join("two.pcap");
    write(
        &path,
        Format::PcapNano,
        1,
        &cap.frames(Link::Ethernet),
        65535,
    );

    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("synack"))
        .args(["analyze", "-", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(&path).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    common::ran(&out);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["totals"]["connections"], 2);

    let filtered = common::analyze_json(&path, &["--filter", "tcp port 40001"]);
    assert_eq!(filtered["totals"]["connections"], 1);
    assert_eq!(filtered["connections"][0]["requests"], 2);

    let out = common::synack()
        .arg("analyze")
        .arg(&path)
        .arg("--csv")
        .output()
        .unwrap();
    common::ran(&out);
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("stream,client,server,"));
    assert!(
        lines[1].starts_with("0,192.0.2.10:40000,192.0.2.1:80,false,1,1,1,"),
        "{}",
        lines[1]
    );

    let bad = common::synack()
        .arg("analyze")
        .arg(&path)
        .args(["--filter", "tcp port"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("bad capture filter"));
}
