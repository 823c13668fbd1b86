//! The model's HTTP/2 and HTTP/3 against compare over an emulated 40 ms link: each mode's round
//! trips before its first response byte are the configured round trip times the protocols'
//! counts, and no run beats them.

use serde_json::Value;

use crate::common;

const RTT: f64 = 0.040;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// The model's round-trip terms of `mode`: (transport handshakes, TLS handshakes, requests).
fn round_trips(report: &Value, mode: &str) -> (f64, f64, f64) {
    let p = &report["model"]["predictions"][mode];
    let term = |name: &str| p[name].as_f64().unwrap();
    let sum = term("handshakes_s") + term("tls_handshakes_s") + term("requests_s");
    assert!(close(term("round_trips_s"), sum), "{mode}: {p}");
    (
        term("handshakes_s"),
        term("tls_handshakes_s"),
        term("requests_s"),
    )
}

/// A mode's fastest run: a busy host only adds time to a run.
fn fastest(report: &Value, mode: &str) -> f64 {
    report["modes"][mode]["summary"]["total_s"]["min"]
        .as_f64()
        .unwrap()
}

/// No run of `mode` is faster than the model's round trips (the link delays every packet by half
/// the round trip each way), and the fastest of the runs stays within a quarter and a round trip
/// above the model's whole time: generous on a busy machine (alone, the fastest runs come within
/// a few milliseconds), while a model two round trips short would cross it.
fn held_to_the_model(report: &Value, mode: &str) {
    let p = &report["model"]["predictions"][mode];
    let (least, total) = (
        p["round_trips_s"].as_f64().unwrap(),
        p["total_s"].as_f64().unwrap(),
    );
    let fastest = fastest(report, mode);
    assert!(
        fastest >= least - 1e-4,
        "{mode}: a run of {fastest} s beat the model's round trips, {least} s"
    );
    assert!(
        fastest <= 1.25 * total + RTT,
        "{mode}: the fastest run took {fastest} s, the model {total} s"
    );
}

#[test]
fn h2_and_h3_take_no_less_than_the_models_round_trips_as_root() {
    let test = "h2_and_h3_take_no_less_than_the_models_round_trips_as_root";
    if !common::require_root(test) {
        return;
    }
    let _link = common::link_alone();
    let dir = tempfile::tempdir().unwrap();
    let site = common::small_files(dir.path());
    let (fresh_dir, early_dir) = (dir.path().join("fresh"), dir.path().join("early"));
    std::fs::create_dir_all(&fresh_dir).unwrap();
    std::fs::create_dir_all(&early_dir).unwrap();
    let fresh = common::compare_report_while_held(
        &fresh_dir,
        &[
            "--rtt",
            "40ms",
            "--rounds",
            "4",
            "--modes",
            "persistent,h2,h2c,h3",
            "--files",
            site.to_str().unwrap(),
        ],
    );
    assert!(close(
        fresh["model"]["path"]["rtt_s"].as_f64().unwrap(),
        RTT
    ));
    // h2: TCP, TLS 1.3 (the other modes speak none), the request. h2c: TCP and the request.
    // h3: QUIC's handshake, its TLS inside it, and the request; no session yet to resume.
    let expected = [
        ("h2", (RTT, RTT, RTT)),
        ("h2c", (RTT, 0.0, RTT)),
        ("h3", (RTT, 0.0, RTT)),
    ];
    for (mode, (transport, tls, requests)) in expected {
        let (t, s, r) = round_trips(&fresh, mode);
        assert!(
            close(t, transport) && close(s, tls) && close(r, requests),
            "{mode}: {t} + {s} + {r} s"
        );
        held_to_the_model(&fresh, mode);
    }
    // The attribution sets QUIC's one handshake a run against persistent's one TCP handshake,
    // as the captures count them.
    let h3 = &fresh["attributions"]["h3"];
    assert_eq!(h3["openings"]["quic"].as_f64(), Some(1.0), "{h3}");
    assert_eq!(h3["baseline_openings"]["tcp"].as_f64(), Some(1.0), "{h3}");

    // Every h3 run resumes the session an earlier run (the warm-up's on) left and sends its
    // requests as 0-RTT data: only the requests' round trip is left before the responses.
    let early = common::compare_report_while_held(
        &early_dir,
        &[
            "--rtt",
            "40ms",
            "--rounds",
            "4",
            "--modes",
            "persistent,h3",
            "--tls",
            "1.3",
            "--early-data",
            "--files",
            site.to_str().unwrap(),
        ],
    );
    let (t, s, r) = round_trips(&early, "h3");
    assert!(
        close(t, 0.0) && close(s, 0.0) && close(r, RTT),
        "{t} + {s} + {r} s"
    );
    held_to_the_model(&early, "h3");
    let (h3, quic) = (&early["attributions"]["h3"], &early["modes"]["h3"]["quic"]);
    assert_eq!(quic["resumed"], quic["connections"], "{quic}");
    // Each resumed connection presents the address-validation token an earlier one was given, so
    // its server answers the 0-RTT requests at once beyond three times the bytes the client's
    // first datagram brought (RFC 9000 §8.1), as tshark reads the capture.
    if common::have_tshark(test) {
        let pcap = std::path::PathBuf::from(early["captures"]["h3"].as_str().unwrap());
        for (stream, (first, answer)) in first_flights(&pcap) {
            assert!(
                answer > 3 * first,
                "UDP stream {stream}: {answer} bytes for {first}"
            );
        }
    }
    assert_eq!(h3["openings"]["zero_rtt"].as_f64(), Some(1.0), "{h3}");
    // Persistent's TCP handshake and TLS 1.3's full one: two round trips a run against none.
    let baseline = &h3["baseline_openings"];
    assert_eq!(
        (
            baseline["tcp"].as_f64(),
            baseline["tls_round_trips"].as_f64()
        ),
        (Some(1.0), Some(1.0)),
        "{baseline}"
    );
}

/// A datagram as tshark gives it: its time, whether the client sent it, its UDP length.
type Datagram = (f64, bool, u64);

/// Per UDP stream of a capture (tshark's `udp.stream`): the bytes of the client's first
/// datagram (the side that sent the stream's first), and the bytes of the server's datagrams
/// sent before the client's second could have reached it — captured at the client before that
/// second datagram's time plus the round trip (the client's first → the server's first).
fn first_flights(pcap: &std::path::Path) -> std::collections::BTreeMap<u64, (u64, u64)> {
    let rows = common::tshark_stdout(
        pcap,
        &[
            "-Y",
            "udp",
            "-T",
            "fields",
            "-e",
            "udp.stream",
            "-e",
            "frame.time_epoch",
            "-e",
            "udp.srcport",
            "-e",
            "udp.length",
        ],
    );
    // Per stream: the client's port, and each datagram.
    let mut streams: std::collections::BTreeMap<u64, (String, Vec<Datagram>)> = Default::default();
    for row in rows.lines() {
        let f: Vec<&str> = row.split('\t').collect();
        let stream = f[0].parse().unwrap();
        let s = streams
            .entry(stream)
            .or_insert_with(|| (f[2].to_owned(), Vec::new()));
        let from_client = s.0 == f[2];
        s.1.push((f[1].parse().unwrap(), from_client, f[3].parse().unwrap()));
    }
    streams
        .into_iter()
        .filter_map(|(stream, (_, datagrams))| {
            let mut client = datagrams.iter().filter(|d| d.1);
            let (first, second) = (client.next()?, client.next()?);
            let rtt = datagrams.iter().find(|d| !d.1)?.0 - first.0;
            let answer = datagrams
                .iter()
                .filter(|d| !d.1 && d.0 < second.0 + rtt)
                .map(|d| d.2)
                .sum();
            Some((stream, (first.2, answer)))
        })
        .collect()
}
