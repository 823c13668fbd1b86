//! `synack analyze` on captures the tests build packet by packet; counts checked by hand and
//! against tshark.

use crate::common;
use crate::fixtures;
#[path = "../golden/mod.rs"]
mod golden;

use fixtures::{Capture, Link, conn};

#[test]
fn non_persistent_capture_counts_three_handshakes_and_teardowns() {
    let dir = tempfile::tempdir().unwrap();
    let mut conv = Capture::new();
    for (i, file) in ["/a.jpg", "/b.mp3", "/c.txt"].iter().enumerate() {
        let mut c = conn(
            &format!("127.0.0.1:{}", 40_000 + i),
            "127.0.0.1:8080",
            1000 + i as u32,
        );
        conv.handshake(&mut c)
            .exchange(&mut c, file, 3000)
            .close_from_server(&mut c);
    }
    let frames = conv.frames(Link::Ethernet);
    let path = dir.path().join("np.pcap");
    common::write_pcap(&path, 1, &frames);
    let report = common::analyze_json(&path, &[]);
    let totals = &report["totals"];
    assert_eq!(totals["connections"], 3);
    assert_eq!(totals["syn"], 3);
    assert_eq!(totals["synack"], 3);
    assert_eq!(totals["handshake_ack"], 3);
    assert_eq!(totals["fin"], 6);
    assert_eq!(totals["rst"], 0);
    assert_eq!(totals["packets"], frames.len());
    assert_eq!(report["packets"], frames.len());
    let conns = report["connections"].as_array().unwrap();
    assert!(
        conns
            .iter()
            .all(|c| c["requests"] == 1 && c["final_state"] == "closed")
    );
    assert!(conns.iter().all(|c| c["active_closer"] == "server"));
    assert_eq!(conns[0]["handshake_s"], 10e-6);
    if common::have_tshark("non_persistent_capture_counts_three_handshakes_and_teardowns") {
        common::assert_matches_tshark(&path, totals);
    }
}

#[test]
fn persistent_capture_counts_one_connection_with_three_requests() {
    let dir = tempfile::tempdir().unwrap();
    let mut conv = Capture::new();
    let mut c = conn("127.0.0.1:40100", "127.0.0.1:8080", 5000);
    conv.handshake(&mut c);
    for file in ["/a.jpg", "/b.mp3", "/c.txt"] {
        conv.exchange(&mut c, file, 5000);
    }
    conv.close_from_server(&mut c);
    let frames = conv.frames(Link::Ethernet);
    let path = dir.path().join("p.pcap");
    common::write_pcap(&path, 1, &frames);
    let report = common::analyze_json(&path, &[]);
    let totals = &report["totals"];
    assert_eq!(totals["connections"], 1);
    assert_eq!(totals["syn"], 1);
    assert_eq!(totals["fin"], 2);
    assert_eq!(report["connections"][0]["requests"], 3);
    assert_eq!(report["connections"][0]["http_requests"], 3);
    if common::have_tshark("persistent_capture_counts_one_connection_with_three_requests") {
        common::assert_matches_tshark(&path, totals);
    }
    let tables = common::synack().arg("analyze").arg(&path).output().unwrap();
    let text = String::from_utf8_lossy(&tables.stdout);
    assert!(
        text.contains("3 requests over 1 connection (persistent: 1 carries more than one)"),
        "{text}"
    );
}

#[test]
fn missing_file_writes_nothing_to_stdout() {
    for format in ["--json", "--csv"] {
        let out = common::synack()
            .args(["analyze", "/nonexistent/x.pcap", format])
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(
            out.stdout.is_empty(),
            "{format}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn missing_file_is_one_clear_error() {
    let out = common::synack()
        .args(["analyze", "/nonexistent/x.pcap"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("synack: cannot analyze /nonexistent/x.pcap"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn one_request_on_one_connection_is_named_no_pattern() {
    let dir = tempfile::tempdir().unwrap();
    for (files, pattern) in [
        (&["/a.jpg"][..], "1 connection carrying one request"),
        (
            &["/a.jpg", "/b.mp3"][..],
            "2 connections each carrying one request (non-persistent)",
        ),
    ] {
        let path = dir.path().join("one.pcap");
        common::write_pcap(
            &path,
            1,
            &Capture::one_request_each(files, 3000).frames(Link::Ethernet),
        );
        let report = common::analyze_json(&path, &[]);
        assert_eq!(report["pattern"], pattern, "{files:?}");
    }
}

#[test]
fn pipelined_split_and_bodied_requests_are_counted_as_tshark_counts_them() {
    use common::{Flow, Frames};
    let get = |path: &str| format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    let response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let mut frames = Frames::new();

    // Four requests in one segment, answered after.
    let mut flow = Flow::new("127.0.0.1:41000", "127.0.0.1:8080", 100, 900);
    frames.handshake(&mut flow);
    let burst: String = ["/1", "/2", "/3", "/4"].map(get).concat();
    frames.send(&mut flow, true, "PA", burst.as_bytes());
    for _ in 0..4 {
        frames.send(&mut flow, false, "PA", response);
    }
    frames.close(&mut flow, true);

    // Three requests over three segments, cut inside a head's blank line and a request line;
    // then a POST whose body holds a GET's bytes.
    let mut flow = Flow::new("127.0.0.1:41001", "127.0.0.1:8080", 200, 800);
    frames.handshake(&mut flow);
    let burst: String = ["/a", "/b", "/c"].map(get).concat();
    let first = get("/a").len() - 2;
    frames.send(&mut flow, true, "A", &burst.as_bytes()[..first]);
    frames.send(&mut flow, true, "A", &burst.as_bytes()[first..first + 10]);
    frames.send(&mut flow, true, "PA", &burst.as_bytes()[first + 10..]);
    for _ in 0..3 {
        frames.send(&mut flow, false, "PA", response);
    }
    let body = get("/not-a-request");
    let post = format!(
        "POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    frames.send(&mut flow, true, "PA", post.as_bytes());
    frames.send(&mut flow, false, "PA", response);
    frames.close(&mut flow, true);

    // One request, then bytes the client sends after the server's FIN (no request).
    let mut flow = Flow::new("127.0.0.1:41002", "127.0.0.1:8080", 300, 700);
    frames.handshake(&mut flow);
    frames.send(&mut flow, true, "PA", get("/x").as_bytes());
    frames.send(&mut flow, false, "PA", response);
    frames.send(&mut flow, false, "FA", &[]);
    frames.send(&mut flow, true, "PA", b"twenty-five more bytes..");
    frames.close(&mut flow, true);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("requests.pcap");
    common::write_pcap(&path, 1, &frames.frames);
    let report = common::analyze_json(&path, &[]);
    let requests: Vec<u64> = report["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["requests"].as_u64().unwrap())
        .collect();
    assert_eq!(requests, [4, 4, 1]);
    let text = common::synack().arg("analyze").arg(&path).output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("9 requests over 3 connections (persistent: 2 carry more than one)"),
        "{text}"
    );
    if common::have_tshark("pipelined_split_and_bodied_requests_are_counted_as_tshark_counts_them")
    {
        let theirs = common::tshark_request_uris(&path);
        let theirs: Vec<u64> = theirs.values().map(|uris| uris.len() as u64).collect();
        assert_eq!(requests, theirs);
    }
}

#[test]
fn a_connection_reset_after_a_stall_is_closing_until_the_reset_not_between_connections() {
    let mut capture = Capture::new();
    let mut stalled = conn("127.0.0.1:40300", "127.0.0.1:8080", 300);
    capture
        .handshake(&mut stalled)
        .exchange(&mut stalled, "/big.bin", 3000);
    let last_byte = capture.t;
    // The download stalls for 300 ms; then the client gives up with a reset.
    capture.t += 300_000_000;
    capture.send(&mut stalled, true, "RA", &[]);
    let reset = capture.t;
    capture.t += 100_000_000;
    let mut next = conn("127.0.0.1:40301", "127.0.0.1:8080", 400);
    capture
        .handshake(&mut next)
        .exchange(&mut next, "/small.bin", 100)
        .close_from_server(&mut next);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reset.pcap");
    common::write_pcap(&path, 1, &capture.frames(Link::Ethernet));
    let phases = phases_of(&path);
    // The frames' own times: the last response byte is the last frame before the client's ACK
    // (10 µs apart), and the next SYN 10 µs after the 100 ms pause.
    let closing = (reset - (last_byte - 10_000)) as f64 / 1e9;
    assert!((phases.closing_s - closing).abs() < 1e-9, "{phases:?}");
    assert!((phases.between_s - 0.100_010).abs() < 1e-9, "{phases:?}");
    assert!((phases.partition_sum() - phases.timeline_s).abs() < 1e-9);
}

#[test]
fn the_packets_table_shows_wiresharks_sequence_analysis_where_there_is_any() {
    let tables = |capture: &Capture, name: &str| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        common::write_pcap(&path, 1, &capture.frames(Link::Ethernet));
        let out = common::synack().arg("analyze").arg(&path).output().unwrap();
        let resent = if common::have_tshark(
            "the_packets_table_shows_wiresharks_sequence_analysis_where_there_is_any",
        ) {
            let rows = common::tshark_stdout(&path, &["-Y", "tcp.analysis.retransmission"]);
            Some(rows.lines().count())
        } else {
            None
        };
        (String::from_utf8_lossy(&out.stdout).into_owned(), resent)
    };
    // A clean capture has no such rows.
    let (text, _) = tables(&Capture::one_request_each(&["/a"], 3000), "clean.pcap");
    assert!(!text.contains("retransmission"), "{text}");

    // The server sends a segment again after 300 ms without an ACK.
    let mut capture = Capture::new();
    let mut c = conn("127.0.0.1:40400", "127.0.0.1:8080", 400);
    capture.handshake(&mut c);
    capture.send(&mut c, true, "PA", b"GET /r HTTP/1.1\r\nHost: x\r\n\r\n");
    let segment = capture.segment(&mut c, false, "PA", &[b'z'; 1000]);
    capture.record(segment.clone());
    capture.t += 300_000_000;
    capture.record(segment);
    capture
        .send(&mut c, true, "A", &[])
        .close_from_server(&mut c);
    let (text, resent) = tables(&capture, "resent.pcap");
    let row = text
        .lines()
        .find(|l| l.contains("│ retransmission "))
        .unwrap_or_else(|| panic!("no retransmission row:\n{text}"));
    assert!(row.contains("┆        1 │"), "{row}");
    if let Some(resent) = resent {
        assert_eq!(resent, 1, "tshark's count");
    }
}

#[test]
fn the_pattern_says_how_many_were_open_at_once_and_how_many_never_opened() {
    use common::{Flow, Frames};
    let mut frames = Frames::new();
    let mut a = Flow::new("127.0.0.1:41100", "127.0.0.1:8080", 100, 900);
    let mut b = Flow::new("127.0.0.1:41101", "127.0.0.1:8080", 200, 800);
    // Both open before either closes: in parallel.
    frames.handshake(&mut a);
    frames.handshake(&mut b);
    frames.exchange(&mut a, "/a", 100);
    frames.exchange(&mut b, "/b", 100);
    frames.close(&mut a, false);
    frames.close(&mut b, false);
    // A SYN the server refuses.
    let mut refused = Flow::new("127.0.0.1:41102", "127.0.0.1:9", 300, 0);
    frames.send(&mut refused, true, "S", &[]);
    frames.send(&mut refused, false, "RA", &[]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("parallel.pcap");
    common::write_pcap(&path, 1, &frames.frames);
    let out = common::synack().arg("analyze").arg(&path).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "2 connections each carrying one request (non-persistent, up to 2 open at once); \
             1 more connection never established (no SYN-ACK)"
        ),
        "{text}"
    );
    if common::have_tshark("the_pattern_says_how_many_were_open_at_once_and_how_many_never_opened")
    {
        let streams = |filter: &str| {
            let out =
                common::tshark_stdout(&path, &["-Y", filter, "-T", "fields", "-e", "tcp.stream"]);
            out.lines().collect::<std::collections::BTreeSet<_>>().len()
        };
        assert_eq!(streams("tcp"), 3);
        assert_eq!(streams("tcp.flags.syn==1 && tcp.flags.ack==1"), 2);
    }
}

#[test]
fn a_sequential_client_whose_next_syn_beats_the_last_ack_is_not_parallel() {
    use common::{Flow, Frames};
    let mut frames = Frames::new();
    let mut a = Flow::new("127.0.0.1:41200", "127.0.0.1:8080", 100, 900);
    let mut b = Flow::new("127.0.0.1:41201", "127.0.0.1:8080", 200, 800);
    frames.handshake(&mut a);
    frames.exchange(&mut a, "/a", 100);
    // The client closes and connects again at once; the server's FIN and the last ACK of the
    // first connection come after the second's SYN.
    frames.send(&mut a, true, "FA", &[]);
    frames.send(&mut b, true, "S", &[]);
    frames.send(&mut a, false, "FA", &[]);
    frames.send(&mut a, true, "A", &[]);
    frames.send(&mut b, false, "SA", &[]);
    frames.send(&mut b, true, "A", &[]);
    frames.exchange(&mut b, "/b", 100);
    frames.close(&mut b, true);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sequential.pcap");
    common::write_pcap(&path, 1, &frames.frames);
    let out = common::synack().arg("analyze").arg(&path).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("2 connections each carrying one request (non-persistent)\n"),
        "{text}"
    );
}

#[test]
fn a_refused_connect_between_two_connections_is_time_between_them() {
    let mut capture = Capture::new();
    let mut first = conn("127.0.0.1:40500", "127.0.0.1:8080", 500);
    capture
        .handshake(&mut first)
        .exchange(&mut first, "/a", 100)
        .close_from_server(&mut first);
    // A connect refused with a reset 100 ms after its SYN (a slow path, or a firewall).
    let mut refused = conn("127.0.0.1:40501", "127.0.0.1:9", 600);
    capture.send(&mut refused, true, "S", &[]);
    capture.t += 100_000_000;
    capture.send(&mut refused, false, "RA", &[]);
    let mut second = conn("127.0.0.1:40502", "127.0.0.1:8080", 700);
    capture
        .handshake(&mut second)
        .exchange(&mut second, "/b", 100)
        .close_from_server(&mut second);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("refused.pcap");
    common::write_pcap(&path, 1, &capture.frames(Link::Ethernet));
    let phases = phases_of(&path);
    // The refused connect never opened: no closing of its own, the 100 ms are between.
    assert!(phases.closing_s < 0.001, "{phases:?}");
    assert!(phases.between_s > 0.1, "{phases:?}");
    assert!((phases.partition_sum() - phases.timeline_s).abs() < 1e-9);
}

/// The phases of a capture's connections, as analyze partitions them.
fn phases_of(path: &std::path::Path) -> synack::analysis::phases::Phases {
    use synack::analysis::phases::{ConnectionTimeline, Phases};
    let tracked = synack::track::reader::track_file(path, None).unwrap();
    let timelines: Vec<ConnectionTimeline> = tracked
        .connections
        .iter()
        .map(ConnectionTimeline::from_capture)
        .collect();
    Phases::partition(&timelines)
}

#[test]
fn a_request_a_reset_cut_off_before_any_answer_waited_until_the_reset() {
    let mut capture = Capture::new();
    let mut c = conn("127.0.0.1:40600", "127.0.0.1:8080", 800);
    capture.handshake(&mut c);
    capture.send(&mut c, true, "PA", b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    let sent = capture.t;
    capture.send(&mut c, false, "A", &[]);
    capture.t += 200_000_000;
    capture.send(&mut c, false, "RA", &[]);
    let reset = capture.t;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut-off.pcap");
    common::write_pcap(&path, 1, &capture.frames(Link::Ethernet));
    let phases = phases_of(&path);
    let waited = (reset - sent) as f64 / 1e9;
    assert!((phases.wait_s - waited).abs() < 1e-9, "{phases:?}");
    assert_eq!(phases.closing_s, 0.0, "{phases:?}");
    assert!((phases.partition_sum() - phases.timeline_s).abs() < 1e-9);
}

#[test]
fn jsonl_has_a_line_per_tshark_stream_with_its_counts_and_a_summary_last() {
    let dir = tempfile::tempdir().unwrap();
    for (name, frames) in [
        ("http.pcap", golden::http_frames()),
        ("lossy.pcap", golden::lossy_frames()),
        ("tls.pcap", golden::tls_frames()),
    ] {
        let path = dir.path().join(name);
        common::write_pcap(&path, 1, &frames.frames);
        let out = common::synack()
            .arg("analyze")
            .arg(&path)
            .arg("--jsonl")
            .output()
            .unwrap();
        let text = common::ran(&out);
        let mut lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}: {e}: {l}")))
            .collect();
        let summary = lines.pop().expect("a summary line");
        let summary = &summary["summary"];
        assert_eq!(summary["packets"], frames.frames.len(), "{name}");
        assert_eq!(summary["totals"]["connections"], lines.len(), "{name}");
        // The lines are --json's connections, in the same order.
        let whole = common::analyze_json(&path, &[]);
        assert_eq!(whole["connections"].as_array().unwrap(), &lines, "{name}");
        if !common::have_tshark(
            "jsonl_has_a_line_per_tshark_stream_with_its_counts_and_a_summary_last",
        ) {
            continue;
        }
        let theirs = common::tshark_stream_counts(&path);
        let ours: std::collections::BTreeMap<u64, &serde_json::Value> = lines
            .iter()
            .map(|c| (c["stream"].as_u64().unwrap(), c))
            .collect();
        assert_eq!(ours.len(), lines.len(), "{name}: a stream twice");
        assert_eq!(
            ours.keys().map(|&s| s as usize).collect::<Vec<_>>(),
            theirs.keys().copied().collect::<Vec<_>>(),
            "{name}: tshark's tcp.stream numbers"
        );
        for (stream, counts) in &theirs {
            for key in common::TSHARK_COUNTS {
                assert_eq!(
                    ours[&(*stream as u64)][key],
                    counts[key],
                    "{name}: stream {stream}'s {key}"
                );
            }
        }
    }
}
