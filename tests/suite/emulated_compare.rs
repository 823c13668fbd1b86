//! `synack compare` over the emulated link (root): handshake times equal the configured RTT, the
//! modes order as the textbook says, and a lossy link's retransmissions show in `analyze`.

use crate::common;

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Callers hold `common::link_slot()` (or `link_alone()`) for the whole test.
fn compare(dir: &Path, args: &[&str]) -> Value {
    common::compare_report_while_held(dir, args)
}

/// A mode's fastest run: a busy host only adds time to a run, so the fastest is the one nearest
/// the link's own figure (the mean of two runs moves with one descheduled client).
fn fastest_total(report: &Value, mode: &str) -> f64 {
    report["modes"][mode]["summary"]["total_s"]["min"]
        .as_f64()
        .unwrap()
}

#[test]
fn compare_over_a_20ms_link_as_root() {
    if !common::require_root("compare_over_a_20ms_link_as_root") {
        return;
    }
    let _link = common::link_alone();
    let dir = tempfile::tempdir().unwrap();
    let rtt = 0.020;
    // Four rounds: the modes are ordered by their fastest runs, and another link or a build on
    // the same cores can slow two runs in a row.
    let report = compare(
        dir.path(),
        &[
            "--rtt",
            "20ms",
            "--rounds",
            "4",
            "--modes",
            "non-persistent,persistent,pipelined",
        ],
    );
    assert_eq!(report["link"]["rtt_s"], rtt);
    let mut handshakes = Vec::new();
    for mode in ["non-persistent", "persistent", "pipelined"] {
        // Every count is as expected: no packet of the warm-up (whose last ACK arrives a round
        // trip after its client returned) falls into the runs. A packet the sender's timer sent
        // again (a FIN whose ACK a busy machine's link held past the retransmission timeout) is
        // on the wire too, and the check names it so.
        for check in report["modes"][mode]["checks"].as_array().unwrap() {
            let resent_only = check["reason"].as_str().is_some_and(|reason| {
                reason
                    .split("; ")
                    .all(|part| part.ends_with("sent again (a timeout or tail loss probe)"))
            });
            assert!(check["reason"].is_null() || resent_only, "{mode}: {check}");
        }
        for run in report["modes"][mode]["runs"].as_array().unwrap() {
            for c in run["connections"].as_array().unwrap() {
                let handshake = c["handshake_s"].as_f64().unwrap();
                // No handshake is shorter than the RTT: the link never releases early …
                assert!(handshake >= rtt - 10e-6, "{mode}: handshake {handshake} s");
                handshakes.push(handshake);
            }
            assert!(
                run["files"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|f| f["sha256_ok"] == true)
            );
        }
    }
    // … nor adds a delay of its own: the fastest is within 100 µs of it. The others carry the
    // host's scheduling on a busy machine, so only their median is held, to a millisecond.
    handshakes.sort_by(f64::total_cmp);
    let (fastest, median) = (handshakes[0], handshakes[handshakes.len() / 2]);
    assert!(
        fastest - rtt <= 100e-6,
        "fastest handshake {fastest} s of {handshakes:?}"
    );
    assert!(
        median - rtt <= 1e-3,
        "median handshake {median} s of {handshakes:?}"
    );
    let n = report["files"].as_array().unwrap().len() as f64;
    let (np, p, pl) = (
        fastest_total(&report, "non-persistent"),
        fastest_total(&report, "persistent"),
        fastest_total(&report, "pipelined"),
    );
    assert!(
        np - p >= (n - 1.0) * rtt,
        "non-persistent {np} s, persistent {p} s"
    );
    assert!(pl < p, "pipelined {pl} s, persistent {p} s");
    // The model uses the configured RTT.
    assert_eq!(report["model"]["path"]["rtt_s"], rtt);
}

#[test]
fn lossy_link_with_a_seed_shows_retransmissions_as_root() {
    if !common::require_root("lossy_link_with_a_seed_shows_retransmissions_as_root") {
        return;
    }
    let _link = common::link_slot();
    let dir = tempfile::tempdir().unwrap();
    // About 720 segments of 1448 bytes: some of them lost at 3 %.
    let site = common::files(dir.path(), &[("one.bin", 1024 * 1024)]);
    let report = compare(
        dir.path(),
        &[
            "--rtt",
            "10ms",
            "--loss",
            "3%",
            "--seed",
            "7",
            "--rounds",
            "1",
            "--modes",
            "persistent",
            "--files",
            site.to_str().unwrap(),
        ],
    );
    let lost = report["link_stats"]["to_server"]["lost"].as_u64().unwrap()
        + report["link_stats"]["to_client"]["lost"].as_u64().unwrap();
    assert!(lost > 0, "{}", report["link_stats"]);
    let pcap = PathBuf::from(report["captures"]["persistent"].as_str().unwrap());
    let analyzed = common::analyze_json(&pcap, &[]);
    assert!(
        analyzed["totals"]["retransmissions"].as_u64().unwrap() > 0,
        "{}",
        analyzed["totals"]
    );
    if common::have_tshark("lossy_link_with_a_seed_shows_retransmissions_as_root") {
        common::assert_matches_tshark(&pcap, &analyzed["totals"]);
    }
}

#[test]
fn link_options_with_a_remote_server_are_refused() {
    let out = common::synack()
        .args(["compare", "--rtt", "20ms", "--server", "127.0.0.1:9"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("leave out --server"), "{stderr}");
}

/// tshark's view of the first request of a capture: the window the client advertised with it
/// (scaled) and the MSS the server announced.
fn window_at_first_request(pcap: &std::path::Path) -> (u64, u64) {
    let fields = |filter: &str, field: &str| -> u64 {
        let out = std::process::Command::new("tshark")
            .arg("-r")
            .arg(pcap)
            .args(["-Y", filter, "-T", "fields", "-e", field])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines().next().unwrap().trim().parse().unwrap()
    };
    let server_port = fields("tcp.flags.syn==1 && tcp.flags.ack==0", "tcp.dstport");
    (
        fields(
            &format!("tcp.len>0 && tcp.dstport=={server_port}"),
            "tcp.window_size",
        ),
        fields(
            "tcp.flags.syn==1 && tcp.flags.ack==1",
            "tcp.options.mss_val",
        ),
    )
}

#[test]
fn receive_window_limit_is_named_and_rcvbuf_lifts_it_as_root() {
    if !common::require_root("receive_window_limit_is_named_and_rcvbuf_lifts_it_as_root")
        || !common::have_tshark("receive_window_limit_is_named_and_rcvbuf_lifts_it_as_root")
    {
        return;
    }
    let _link = common::link_slot();
    // At 9000 bytes the first flight (10 segments of 8948) is larger than the client's first
    // window; at 1500 it is not.
    // Three responses of the default a.jpg's size, each a connection whose first flight is held
    // back: the model takes the median flight, which one flight merged by a busy machine does
    // not move.
    let files_dir = tempfile::tempdir().unwrap();
    let site = common::files(
        files_dir.path(),
        &[
            ("a.jpg", 240 * 1024),
            ("b.jpg", 240 * 1024),
            ("c.jpg", 240 * 1024),
        ],
    );
    let args = [
        "--rtt",
        "20ms",
        "--mtu",
        "9000",
        "--rounds",
        "1",
        "--modes",
        "non-persistent",
        "--files",
        site.to_str().unwrap(),
    ];
    let a_jpg_limited_us = |report: &Value| {
        report["modes"]["non-persistent"]["responses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["file"] == "a.jpg")
            .unwrap()["rwnd_limited_us"]
            .as_u64()
            .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let report = compare(dir.path(), &args);
    let initial_window = report["kernel"]["initial_cwnd"].as_u64().unwrap();
    let pcap = PathBuf::from(report["captures"]["non-persistent"].as_str().unwrap());
    let (window, mss) = window_at_first_request(&pcap);
    // On the wire the client's first window is below the initial congestion window …
    assert!(window < initial_window * mss, "window {window}, MSS {mss}");
    // … and the server's TCP_INFO saw it wait for that window; the report says so in words.
    assert!(a_jpg_limited_us(&report) > 0, "{}", report["modes"]);
    let note = report["receive_window"].as_str().unwrap();
    assert!(note.contains("non-persistent a.jpg"), "{note}");
    // The model names that window, as the wire shows it, as what held the first flight back.
    let limit = &report["model"]["first_flight_limit"];
    assert_eq!(
        limit["receive_window"]["bytes"].as_u64(),
        Some(window),
        "{limit}"
    );

    let dir = tempfile::tempdir().unwrap();
    let mut lifted = args.to_vec();
    lifted.extend(["--rcvbuf", "4MiB"]);
    let report = compare(dir.path(), &lifted);
    let pcap = PathBuf::from(report["captures"]["non-persistent"].as_str().unwrap());
    let (window, mss) = window_at_first_request(&pcap);
    assert!(window >= initial_window * mss, "window {window}, MSS {mss}");
    assert_eq!(a_jpg_limited_us(&report), 0, "{}", report["modes"]);
    let limit = &report["model"]["first_flight_limit"];
    assert!(
        limit.is_null(),
        "nothing held the first flight back: {limit}"
    );
}

/// Over a 10 Mbit/s link with a 20 ms round trip, what one round trip carries (25 000 bytes) is
/// below the sender's initial window of jumbo frames (10 of 8948 bytes): the model names the
/// link's rate, not the client's window, and does not split the rate-paced transfer into rounds.
#[test]
fn a_rate_limited_first_flight_is_told_as_the_links_as_root() {
    if !common::require_root("a_rate_limited_first_flight_is_told_as_the_links_as_root") {
        return;
    }
    let _link = common::link_slot();
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    std::fs::create_dir(&site).unwrap();
    std::fs::write(site.join("f.bin"), vec![7u8; 300 * 1024]).unwrap();
    let report = compare(
        dir.path(),
        &[
            "--rtt",
            "20ms",
            "--rate",
            "10mbit",
            "--mtu",
            "9000",
            "--rounds",
            "1",
            "--files",
            site.to_str().unwrap(),
        ],
    );
    let limit = &report["model"]["first_flight_limit"];
    assert_eq!(
        limit["link_rate"]["bytes_per_rtt"].as_u64(),
        Some(10_000_000 * 20 / 1000 / 8),
        "{limit}"
    );
    for (mode, difference) in report["model"]["differences"].as_object().unwrap() {
        for effect in difference["effects"].as_array().unwrap() {
            assert!(
                !["rounds", "round-spacing", "last-round"]
                    .contains(&effect["effect"].as_str().unwrap()),
                "{mode}: {difference}"
            );
        }
    }
}

/// The four HTTP/1.x modes over a 40 ms link, eight rounds, alone on the links: one run read by
/// the tests of the gap's explanation and of the model. Its folder is gone once the report is
/// read; neither test opens a capture.
fn forty_ms_every_mode() -> &'static Value {
    static REPORT: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    REPORT.get_or_init(|| {
        let _link = common::link_alone();
        let dir = tempfile::tempdir().unwrap();
        compare(
            dir.path(),
            &[
                "--rtt",
                "40ms",
                "--rounds",
                "8",
                "--modes",
                "non-persistent,persistent,pipelined,parallel",
            ],
        )
    })
}

#[test]
fn compare_over_a_40ms_link_explains_the_gap_as_root() {
    if !common::require_root("compare_over_a_40ms_link_explains_the_gap_as_root") {
        return;
    }
    let rtt = 0.040;
    let report = forty_ms_every_mode();
    let a = &report["attribution"];
    let gap = a["gap_s"].as_f64().unwrap();
    // The totals end at the last byte in both modes: what is left outside the captured first
    // SYN → last byte is the connect() call and the last read, not a round trip. Those are
    // microseconds, but a client descheduled for a few milliseconds in one of three runs (seen:
    // −4.3 ms of a 169 ms gap on a loaded machine) moves the mean; a quarter of the round trip
    // still tells a missing round trip from that.
    let remainder = a["remainder_s"].as_f64().unwrap();
    assert!(
        remainder.abs() < rtt / 4.0,
        "remainder {remainder} of gap {gap}"
    );
    // Closing after the last byte is a figure of its own: the persistent client closes first and
    // waits a round trip of the configured link for the server's FIN; non-persistent does not.
    let close = |mode: &str| {
        report["modes"][mode]["summary"]["close_s"]["mean"]
            .as_f64()
            .unwrap()
    };
    assert!(
        (close("persistent") - rtt).abs() < 0.25 * rtt,
        "{}",
        close("persistent")
    );
    assert!(
        close("non-persistent") < 0.25 * rtt,
        "{}",
        close("non-persistent")
    );
    // Two extra connections per run, and persistent b.mp3 still takes several rounds.
    assert_eq!(a["extra_connections"].as_f64(), Some(2.0));
    let b_mp3 = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .position(|f| f["name"] == "b.mp3")
        .unwrap();
    for rounds in report["modes"]["persistent"]["rounds_per_file"][b_mp3]
        .as_array()
        .unwrap()
    {
        assert!(rounds.as_u64().unwrap() >= 3, "{rounds}");
    }
    // The verdict says how sure it is and names the handshakes. (Whether the interval clears
    // zero depends on how busy the host was, not on the link: only its shape is checked.)
    let interval = &a["interval"];
    let (low, estimate, high) = (
        interval["low"].as_f64().unwrap(),
        interval["estimate"].as_f64().unwrap(),
        interval["high"].as_f64().unwrap(),
    );
    assert!(low <= estimate && estimate <= high, "{interval}");
    let sentence = report["verdicts"]["non-persistent"]["sentence"]
        .as_str()
        .unwrap();
    assert!(sentence.starts_with("persistent was"), "{sentence}");
    // Each extra handshake took about the configured 40 ms round trip, as did the median one.
    let (_, told) = sentence
        .split_once("in 2 extra handshakes (")
        .unwrap_or_else(|| panic!("{sentence}"));
    let ms = |text: &str| -> f64 {
        text.trim()
            .trim_end_matches(" ms")
            .parse()
            .unwrap_or_else(|_| panic!("{text:?} in {sentence}"))
    };
    let (each, rest) = told.split_once(" each; median RTT ").unwrap();
    let median = rest.split([';', ')']).next().unwrap();
    assert!((ms(each) - 40.0).abs() < 10.0, "{sentence}");
    assert!((ms(median) - 40.0).abs() < 4.0, "{sentence}");
    // The model's difference is split into effects that add up to it, with little left over.
    for (mode, difference) in report["model"]["differences"].as_object().unwrap() {
        let measured = difference["measured_s"].as_f64().unwrap();
        let predicted = difference["predicted_s"].as_f64().unwrap();
        let effects = difference["effects"].as_array().unwrap();
        let sum: f64 = effects.iter().map(|e| e["seconds"].as_f64().unwrap()).sum();
        assert!(
            (sum - (measured - predicted)).abs() < 1e-9,
            "{mode}: {difference}"
        );
        let rest = effects.iter().find(|e| e["effect"] == "rest").unwrap()["seconds"]
            .as_f64()
            .unwrap();
        assert!(rest.abs() < 0.05 * measured, "{mode}: {difference}");
    }
}

/// The model sends each response as the server's TCP does (its window grown by each segment
/// acknowledged and carried across the keep-alive connection, BBR's pacing, the client's
/// window): over a 40 ms link at MTU 1500 an undisturbed run of every mode takes what the model
/// says, to 10 % (docs/model.md gives the means of a quiet machine: within 2.1 %). A busy host
/// only adds time — a descheduled client stops reading and its window closes — so of eight runs
/// a mode the fastest is held to 10 % both ways, and the median may not beat the model by more.
#[test]
fn every_modes_mean_is_within_ten_percent_of_the_model_as_root() {
    let test = "every_modes_mean_is_within_ten_percent_of_the_model_as_root";
    if !common::require_root(test) {
        return;
    }
    let modes = ["non-persistent", "persistent", "pipelined", "parallel"];
    let report = forty_ms_every_mode();
    assert_eq!(report["link"]["mtu"].as_u64(), Some(1500));
    for mode in modes {
        let predicted = report["model"]["predictions"][mode]["total_s"]
            .as_f64()
            .unwrap();
        let summary = &report["modes"][mode]["summary"]["total_s"];
        let fastest = summary["min"].as_f64().unwrap();
        let median = summary["median"].as_f64().unwrap();
        // Pipelined once took a round trip more inside the whole suite: the test build's client
        // hashed each body with unoptimised SHA-256 and fell behind the back-to-back responses
        // (Cargo.toml's dev profile now optimises sha2).
        assert!(
            (fastest - predicted).abs() <= 0.10 * predicted,
            "{mode}: fastest run {fastest} s, model {predicted} s"
        );
        assert!(
            median >= 0.90 * predicted,
            "{mode}: median {median} s beats the model's {predicted} s"
        );
    }
}

#[test]
fn warm_up_packets_stay_out_of_the_runs_as_root() {
    if !common::require_root("warm_up_packets_stay_out_of_the_runs_as_root") {
        return;
    }
    let _link = common::link_slot();
    // Non-persistent warms up last here: its server's final ACK arrives a round trip after the
    // client returned, which once landed in the first mode's capture as a connection "begun
    // before the capture".
    let dir = tempfile::tempdir().unwrap();
    let report = compare(
        dir.path(),
        &[
            "--rtt",
            "40ms",
            "--rounds",
            "1",
            "--modes",
            "persistent,non-persistent",
        ],
    );
    for mode in ["persistent", "non-persistent"] {
        for check in report["modes"][mode]["checks"].as_array().unwrap() {
            assert!(check["reason"].is_null(), "{mode}: {check}");
        }
    }
}

#[test]
fn a_runs_closing_is_on_the_wire_before_the_next_run_starts_as_root() {
    let name = "a_runs_closing_is_on_the_wire_before_the_next_run_starts_as_root";
    if !common::require_root(name) || !common::have_tshark(name) {
        return;
    }
    let _link = common::link_slot();
    // Over 40 ms the last FIN and ACK of a run reach the capture up to a round trip after its
    // client returned: compare waits for them before it starts the next run.
    let dir = tempfile::tempdir().unwrap();
    let report = compare(
        dir.path(),
        &[
            "--rtt",
            "40ms",
            "--rounds",
            "2",
            "--modes",
            "persistent,non-persistent",
        ],
    );
    common::runs_close_before_the_next_run_starts(&report);
}

#[test]
fn verbose_events_over_a_link_belong_to_their_run_as_root() {
    if !common::require_root("verbose_events_over_a_link_belong_to_their_run_as_root") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let _link = common::link_slot();
    let out = common::compare_in(dir.path())
        .args(["-v", "--rtt", "20ms", "--rounds", "1"])
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    let stdout = common::ran(&out);
    // The warm-up's late server events (its FIN and close, a round trip after its client
    // returned) must not show under the first run with negative times.
    let times: Vec<f64> = stdout
        .lines()
        .filter(|l| l.contains(" s  "))
        .map(|l| l.split(" s  ").next().unwrap().trim().parse().unwrap())
        .collect();
    assert!(!times.is_empty(), "{stdout}");
    assert!(times.iter().all(|&t| t >= 0.0), "{stdout}");
}

#[test]
fn fast_open_requests_ride_on_the_syn_as_root() {
    if !common::require_root("fast_open_requests_ride_on_the_syn_as_root")
        || !common::have_tshark("fast_open_requests_ride_on_the_syn_as_root")
    {
        return;
    }
    let _link = common::link_slot();
    let dir = tempfile::tempdir().unwrap();
    let site = common::small_files(dir.path());
    let report = compare(
        dir.path(),
        &[
            "--rtt",
            "20ms",
            "--rounds",
            "2",
            "--tfo",
            "--modes",
            "non-persistent,persistent",
            "--files",
            site.to_str().unwrap(),
        ],
    );
    for mode in ["non-persistent", "persistent"] {
        let pcap = PathBuf::from(report["captures"][mode].as_str().unwrap());
        // On the wire: tshark's SYNs and the bytes each carried, per stream.
        let out = std::process::Command::new("tshark")
            .arg("-r")
            .arg(&pcap)
            .args(["-Y", "tcp.flags.syn==1 && tcp.flags.ack==0"])
            .args(["-T", "fields", "-e", "tcp.stream", "-e", "tcp.len"])
            .output()
            .unwrap();
        let syns: Vec<(u64, u64)> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                let mut f = l.split('\t').map(|v| v.trim().parse::<u64>().unwrap());
                (f.next().unwrap(), f.next().unwrap())
            })
            .collect();
        // The warm-up fetched the cookie: every captured SYN carries its request …
        assert!(
            !syns.is_empty() && syns.iter().all(|&(_, len)| len > 0),
            "{mode}: {syns:?}"
        );
        // … and synack counts the same bytes on the same connections.
        let ours: Vec<(u64, u64)> = report["modes"][mode]["runs"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["connections"].as_array().unwrap().clone())
            .map(|c| {
                (
                    c["stream"].as_u64().unwrap(),
                    c["tfo_syn_data"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(ours, syns, "{mode}");
        let fast_open = &report["modes"][mode]["fast_open"];
        assert_eq!(fast_open["with_data"].as_u64(), Some(syns.len() as u64));
        // The request left with the SYN, so no time waits on the handshake alone.
        for run in report["modes"][mode]["runs"].as_array().unwrap() {
            let handshake = run["phases"]["handshake_s"].as_f64().unwrap();
            assert!(handshake < 0.002, "{mode}: {}", run["phases"]);
        }
    }
}

#[test]
fn the_models_segment_size_is_the_handshakes_with_tls_too_as_root() {
    let test = "the_models_segment_size_is_the_handshakes_with_tls_too_as_root";
    if !common::require_root(test) || !common::have_tshark(test) {
        return;
    }
    let _link = common::link_slot();
    let dir = tempfile::tempdir().unwrap();
    let report = compare(
        dir.path(),
        &[
            "--rtt",
            "10ms",
            "--rounds",
            "1",
            "--tls",
            "1.3",
            "--modes",
            "non-persistent,persistent",
        ],
    );
    // On the wire: the smaller of the two MSS options, less the 12 bytes of the timestamps
    // option every segment carries when both SYNs offered it.
    let pcap = PathBuf::from(report["captures"]["persistent"].as_str().unwrap());
    let out = std::process::Command::new("tshark")
        .arg("-r")
        .arg(&pcap)
        .args(["-Y", "tcp.flags.syn==1"])
        .args([
            "-T",
            "fields",
            "-e",
            "tcp.options.mss_val",
            "-e",
            "tcp.options.timestamp.tsval",
        ])
        .output()
        .unwrap();
    let syns: Vec<(u64, bool)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let (mss, tsval) = l.split_once('\t').unwrap();
            (mss.trim().parse().unwrap(), !tsval.trim().is_empty())
        })
        .collect();
    assert_eq!(syns.len(), 2, "SYN and SYN-ACK: {syns:?}");
    let timestamps = if syns.iter().all(|s| s.1) { 12 } else { 0 };
    let wire = syns.iter().map(|s| s.0).min().unwrap() - timestamps;
    assert_eq!(
        report["model"]["path"]["mss"].as_u64(),
        Some(wire),
        "{}",
        report["model"]["path"]
    );
}
