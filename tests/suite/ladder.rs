//! `synack analyze FILE --ladder N`: a connection drawn as the textbook does, from a capture the
//! test builds itself (no root needed).

use crate::common;

use common::{At, Flow, Frames};

#[test]
fn ladder_draws_the_handshake_each_round_and_the_close() {
    let mut f = Frames::new();
    let mut a = Flow::new("127.0.0.1:40000", "127.0.0.1:8080", 1_000, 50_000);
    f.handshake(&mut a);
    f.exchange(&mut a, "/a.jpg", 3_000);
    f.close(&mut a, false);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.pcap");
    common::write_pcap(&path, 1, &f.frames);

    let out = common::synack()
        .arg("analyze")
        .arg(&path)
        .args(["--ladder", "0"])
        .env("COLUMNS", "80")
        .output()
        .unwrap();
    let stdout = common::ran(&out);
    let arrows: Vec<&str> = stdout.lines().filter(|l| l.contains('│')).collect();
    // SYN, SYN-ACK, ACK, request, one round of three segments (3,000 bytes and the head),
    // the client's ACK, then FIN, ACK, FIN, ACK: ten lines, one per packet but the round.
    assert_eq!(arrows.len(), 10, "{stdout}");
    let says = |i: usize, text: &str, rightwards: bool| {
        let line = arrows[i];
        assert!(
            line.contains(text),
            "line {i} should say {text:?}:\n{stdout}"
        );
        assert_eq!(
            line.contains("▶│"),
            rightwards,
            "line {i} direction:\n{stdout}"
        );
    };
    says(0, "SYN, seq 0", true);
    says(1, "SYN-ACK, seq 0 ack 1", false);
    says(2, "ACK, seq 1 ack 1", true);
    says(3, "request 32 B, seq 1 ack 1", true);
    says(4, "round 1: 3 segments, 2.97 KiB", false);
    says(5, "1 ACK up to ack 3042", true);
    says(7, "ACK, seq 33 ack 3043", true);
    says(6, "FIN-ACK", false);
    says(8, "FIN-ACK", true);
    // Times run from the first packet, each frame 10 µs after the last.
    assert!(arrows[0].trim_start().starts_with("0.000 "), "{stdout}");
    assert!(arrows[1].trim_start().starts_with("0.010 "), "{stdout}");
    for line in stdout.lines() {
        assert!(line.chars().count() <= 80, "{line}");
    }

    let out = common::synack()
        .arg("analyze")
        .arg(&path)
        .args(["--ladder", "3"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no connection #3") && stderr.contains("0 to 0"),
        "{stderr}"
    );
}

/// A connection with each thing Wireshark's sequence analysis names: a segment after one the
/// capture missed, duplicate ACKs, a fast retransmission, an out-of-order resend, a
/// retransmission after a timeout, a spurious one, a zero window and its probe, and a
/// keep-alive.
fn marked_capture(path: &std::path::Path) {
    let mut f = Frames::new();
    let mut a = Flow::new("127.0.0.1:40000", "127.0.0.1:8080", 1_000, 50_000);
    f.handshake(&mut a);
    let body = 8_000;
    let request = "GET /m.bin HTTP/1.1\r\nHost: x\r\n\r\n";
    f.send(&mut a, true, "PA", request.as_bytes());
    let mut response = format!("HTTP/1.1 200 OK\r\nContent-Length: {body}\r\n\r\n").into_bytes();
    response.extend(std::iter::repeat_n(b'z', body));
    let chunks: Vec<&[u8]> = response.chunks(1000).collect();
    let len = |i: usize| chunks[i].len() as u32;
    f.send(&mut a, false, "A", chunks[0]);
    f.send(&mut a, true, "A", &[]);
    // The second chunk is lost before the capture point; each later one brings a duplicate ACK
    // of the first, and the third of those the second chunk again (a fast retransmission).
    f.skip(&mut a, false, len(1));
    let mut gap = len(1);
    for chunk in &chunks[2..5] {
        f.send(&mut a, false, "A", chunk);
        gap += chunk.len() as u32;
        let at = At {
            ack_back: gap,
            ..At::default()
        };
        f.send_at(&mut a, true, "A", &[], at);
    }
    let resend = At {
        back: gap,
        ..At::default()
    };
    f.send_at(&mut a, false, "A", chunks[1], resend);
    f.send(&mut a, true, "A", &[]);
    // Two more chunks; the first of them is resent at once (out of order), the second after a
    // timeout (a retransmission), then once more after the client acknowledged it (a spurious
    // retransmission).
    f.send(&mut a, false, "A", chunks[5]);
    f.send(&mut a, false, "A", chunks[6]);
    let out_of_order = At {
        back: len(5) + len(6),
        ..At::default()
    };
    f.send_at(&mut a, false, "A", chunks[5], out_of_order);
    f.wait(200_000_000);
    let again = At {
        back: len(6),
        ..At::default()
    };
    f.send_at(&mut a, false, "A", chunks[6], again);
    // The client's window closes as it acknowledges; the server probes it with one byte, the
    // client acknowledges the byte with its window still closed, then it opens.
    let closed = At {
        window: 0,
        ..At::default()
    };
    f.send_at(&mut a, true, "A", &[], closed);
    f.send_at(&mut a, false, "A", chunks[6], again);
    f.wait(50_000_000);
    f.send(&mut a, false, "A", &chunks[7][..1]);
    f.send_at(&mut a, true, "A", &[], closed);
    f.wait(50_000_000);
    f.send(&mut a, true, "A", &[]);
    f.send(&mut a, false, "A", &chunks[7][1..]);
    for chunk in &chunks[8..] {
        f.send(&mut a, false, "A", chunk);
    }
    f.send(&mut a, true, "A", &[]);
    // An idle connection's keep-alive (one byte already sent, as some stacks send it), and its
    // answer.
    f.wait(1_000_000_000);
    let keep_alive = At {
        back: 1,
        ..At::default()
    };
    f.send_at(&mut a, true, "A", b"\n", keep_alive);
    f.send(&mut a, false, "A", &[]);
    f.close(&mut a, true);
    common::write_pcap(path, 1, &f.frames);
}

#[test]
fn ladder_names_what_wireshark_marks_as_tshark_counts_it() {
    if !common::have_tshark("ladder_names_what_wireshark_marks_as_tshark_counts_it") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("marked.pcap");
    marked_capture(&path);
    if let Ok(keep) = std::env::var("KEEP_MARKED") {
        std::fs::copy(&path, keep).unwrap();
    }
    let names = [
        ("tcp.analysis.lost_segment", "previous segment not captured"),
        ("tcp.analysis.fast_retransmission", "fast retransmission"),
        (
            "tcp.analysis.spurious_retransmission",
            "spurious retransmission",
        ),
        ("tcp.analysis.out_of_order", "out-of-order"),
        ("tcp.analysis.duplicate_ack", "duplicate ACK"),
        ("tcp.analysis.keep_alive", "keep-alive"),
        ("tcp.analysis.zero_window_probe", "zero window probe"),
        ("tcp.analysis.zero_window", "zero window"),
    ];
    let count = |filter: &str| {
        common::tshark_stdout(&path, &["-Y", filter])
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count()
    };
    // Wireshark's retransmission field holds fast and spurious ones too; the ladder names each
    // by its most specific name.
    let plain_retransmissions = count(
        "tcp.analysis.retransmission && !tcp.analysis.fast_retransmission \
         && !tcp.analysis.spurious_retransmission",
    );
    let mut expected: Vec<(&str, usize)> = names
        .iter()
        .map(|(field, name)| (*name, count(field)))
        .collect();
    expected.push(("retransmission", plain_retransmissions));

    let out = common::synack()
        .arg("analyze")
        .arg(&path)
        .args(["--ladder", "0"])
        .env("COLUMNS", "200")
        .output()
        .unwrap();
    let ladder = common::ran(&out);
    let html = dir.path().join("marked.html");
    let out = common::synack()
        .arg("analyze")
        .arg(&path)
        .arg("--html")
        .arg(&html)
        .output()
        .unwrap();
    common::ran(&out);
    let page = std::fs::read_to_string(&html).unwrap();
    for (name, tshark) in expected {
        // A marked packet's line ends "(name, …)" or "(…, name)".
        let on_lines = ladder_mentions(&ladder, name);
        assert_eq!(
            on_lines, tshark,
            "{name}: tshark {tshark}, ladder:\n{ladder}"
        );
        // Each HTML arrow's title names its packet's marks; a round's band holds none.
        let titled = page
            .split("<g class=\"pkt")
            .skip(1)
            .filter_map(|g| g.split("<title>").nth(1)?.split("</title>").next())
            .filter(|t| has_mark(t, name))
            .count();
        assert_eq!(titled, tshark, "{name} in the HTML titles");
    }
    // A keep-alive's byte is a probe, not a resend: not drawn as one.
    let keep_alive = page
        .split("<g class=\"")
        .find(|g| g.contains("(keep-alive)"))
        .expect("the keep-alive's arrow");
    assert!(keep_alive.starts_with("pkt from-client"), "{keep_alive}");
    // A round counts its marked segments too, as the HTML band (the tracker's round) does: the
    // third holds the first of two chunks, its out-of-order copy, the second and its two resends.
    let third = "round 3: 5 segments, 4.88 KiB";
    assert!(ladder.contains(third), "{ladder}");
    assert!(page.contains(third), "the HTML band");
    // Every mark is in this capture at least once, so the test cannot pass on an empty ladder.
    for name in [
        "previous segment not captured",
        "fast retransmission",
        "spurious retransmission",
        "retransmission",
        "out-of-order",
        "duplicate ACK",
        "keep-alive",
        "zero window probe",
        "zero window",
    ] {
        assert!(ladder_mentions(&ladder, name) > 0, "{name}:\n{ladder}");
    }
}

/// Whether the parenthesised notes at the end of `text` include `name` itself (not a longer
/// name ending in it, as "fast retransmission" ends in "retransmission").
fn has_mark(text: &str, name: &str) -> bool {
    text.rsplit_once(" (")
        .and_then(|(_, notes)| notes.strip_suffix(')'))
        .is_some_and(|notes| notes.split(", ").any(|n| n == name))
}

/// How many packets the text ladder names `name`, each on a line of its own (with the lines below
/// its arrow that hold the rest of its label).
fn ladder_mentions(ladder: &str, name: &str) -> usize {
    let mut entries: Vec<String> = Vec::new();
    for line in ladder.lines().filter(|l| l.contains('│')) {
        let text = line
            .trim_start()
            .trim_start_matches(|c: char| c.is_ascii_digit() || c == '.')
            .trim_matches(|c: char| matches!(c, '│' | '─' | '▶' | '◀' | ' '));
        let continues = line.trim_start().starts_with('│');
        match entries.last_mut() {
            Some(last) if continues => {
                last.push(' ');
                last.push_str(text);
            }
            _ => entries.push(text.to_owned()),
        }
    }
    entries.iter().filter(|text| has_mark(text, name)).count()
}
