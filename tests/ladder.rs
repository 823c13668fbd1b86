//! `synack analyze FILE --ladder N`: a connection drawn as the textbook does, from a capture the
//! test builds itself (no root needed).

mod common;

use common::{Flow, Frames};

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
