//! `synack analyze` on captures the tests build packet by packet; counts checked by hand and
//! against tshark.

mod common;

use std::path::Path;

use etherparse::PacketBuilder;
use serde_json::Value;

/// Writes the segments of TCP conversations between 127.0.0.1 ports, tracking sequence numbers.
struct Conversation {
    frames: Vec<(i64, Vec<u8>)>,
    t: i64,
}

struct Conn {
    client_port: u16,
    server_port: u16,
    cseq: u32,
    sseq: u32,
}

impl Conversation {
    fn new() -> Conversation {
        Conversation {
            frames: Vec::new(),
            t: 1_700_000_000_000_000_000,
        }
    }

    fn push(&mut self, from_client: bool, c: &mut Conn, flags: &str, payload: &[u8]) {
        let (sp, dp, seq, ack) = if from_client {
            (c.client_port, c.server_port, c.cseq, c.sseq)
        } else {
            (c.server_port, c.client_port, c.sseq, c.cseq)
        };
        let mut b = PacketBuilder::ethernet2([0; 6], [0; 6])
            .ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64)
            .tcp(sp, dp, seq, 65535);
        if flags.contains('S') {
            b = b.syn();
        }
        if flags.contains('A') {
            b = b.ack(ack);
        }
        if flags.contains('F') {
            b = b.fin();
        }
        if flags.contains('R') {
            b = b.rst();
        }
        if flags.contains('P') {
            b = b.psh();
        }
        let mut frame = Vec::new();
        b.write(&mut frame, payload).expect("build frame");
        self.t += 10_000;
        self.frames.push((self.t, frame));
        let advance =
            payload.len() as u32 + u32::from(flags.contains('S')) + u32::from(flags.contains('F'));
        if from_client {
            c.cseq = c.cseq.wrapping_add(advance);
        } else {
            c.sseq = c.sseq.wrapping_add(advance);
        }
    }

    fn open(&mut self, client_port: u16) -> Conn {
        let mut c = Conn {
            client_port,
            server_port: 8080,
            cseq: 1000 + u32::from(client_port),
            sseq: 50_000,
        };
        self.push(true, &mut c, "S", &[]);
        self.push(false, &mut c, "SA", &[]);
        self.push(true, &mut c, "A", &[]);
        c
    }

    fn exchange(&mut self, c: &mut Conn, path: &str, body: usize) {
        self.push(
            true,
            c,
            "PA",
            format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        );
        let mut response =
            format!("HTTP/1.1 200 OK\r\nContent-Length: {body}\r\n\r\n").into_bytes();
        response.extend(std::iter::repeat_n(b'z', body));
        for chunk in response.chunks(1400) {
            self.push(false, c, "A", chunk);
        }
        self.push(true, c, "A", &[]);
    }

    /// Server closes first: FIN, ACK, FIN, ACK.
    fn close_from_server(&mut self, c: &mut Conn) {
        self.push(false, c, "FA", &[]);
        self.push(true, c, "A", &[]);
        self.push(true, c, "FA", &[]);
        self.push(false, c, "A", &[]);
    }
}

fn analyze_json(path: &Path) -> Value {
    let out = common::synack()
        .arg("analyze")
        .arg(path)
        .arg("--json")
        .output()
        .expect("run synack");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("analyze --json prints JSON")
}

#[test]
fn non_persistent_capture_counts_three_handshakes_and_teardowns() {
    let dir = tempfile::tempdir().unwrap();
    let mut conv = Conversation::new();
    for (i, file) in ["/a.jpg", "/b.mp3", "/c.txt"].iter().enumerate() {
        let mut c = conv.open(40_000 + i as u16);
        conv.exchange(&mut c, file, 3000);
        conv.close_from_server(&mut c);
    }
    let path = dir.path().join("np.pcap");
    common::write_pcap(&path, 1, &conv.frames);
    let report = analyze_json(&path);
    let totals = &report["totals"];
    assert_eq!(totals["connections"], 3);
    assert_eq!(totals["syn"], 3);
    assert_eq!(totals["synack"], 3);
    assert_eq!(totals["handshake_ack"], 3);
    assert_eq!(totals["fin"], 6);
    assert_eq!(totals["rst"], 0);
    assert_eq!(totals["packets"], conv.frames.len());
    assert_eq!(report["packets"], conv.frames.len());
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
    let mut conv = Conversation::new();
    let mut c = conv.open(40_100);
    for file in ["/a.jpg", "/b.mp3", "/c.txt"] {
        conv.exchange(&mut c, file, 5000);
    }
    conv.close_from_server(&mut c);
    let path = dir.path().join("p.pcap");
    common::write_pcap(&path, 1, &conv.frames);
    let report = analyze_json(&path);
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
        text.contains("3 requests over 1 connections (persistent: 1 carry more than one)"),
        "{text}"
    );
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
