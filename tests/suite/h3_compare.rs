//! `compare` with the h3 mode: its QUIC packets counted as tshark counts them on the saved capture.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::common;

/// tshark's packets on a QUIC capture by sender (client or server, told by `server_port`) and
/// type, each of a datagram's coalesced packets on its own; and the datagrams each way.
fn tshark_quic(pcap: &std::path::Path, server_port: u16) -> BTreeMap<(String, String), u64> {
    let fields = common::tshark_stdout(
        pcap,
        &[
            "-Y",
            "udp",
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
    let report = common::compare_report(
        dir.path(),
        &["--modes", "persistent,h3", "--rounds", "2", "--rtt", "20ms"],
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
    let theirs = tshark_quic(&pcap, server_port);
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
