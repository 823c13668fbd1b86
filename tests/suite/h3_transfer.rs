//! HTTP/3 end to end: files byte-identical through synack's own client and server, interop both
//! ways with aioquic (an HTTP/3 implementation synack did not write), one QUIC connection in the
//! capture as tshark reads it, and a server that does not answer QUIC.

use crate::common::{self, aioquic};

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use sha2::{Digest, Sha256};

/// The served files: one byte, a few packets, and more than a flow-control window.
const FILES: [(&str, usize); 3] = [
    ("one.txt", 1),
    ("small.bin", 40_000),
    ("large.bin", 3_000_000),
];

/// Writes the files into `root` (bytes that do not repeat within a file) and returns their
/// SHA-256 by name.
fn make_files(root: &Path) -> Vec<(&'static str, String)> {
    std::fs::create_dir_all(root).unwrap();
    FILES
        .iter()
        .map(|&(name, size)| {
            let mut state = 0x9e37_79b9_u32 ^ size as u32;
            let bytes: Vec<u8> = (0..size)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    state as u8
                })
                .collect();
            std::fs::write(root.join(name), &bytes).unwrap();
            (name, sha256(&bytes))
        })
        .collect()
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every file in `received` is byte-identical to its source.
fn assert_identical(received: &Path, files: &[(&str, String)]) {
    for (name, expected) in files {
        let got = std::fs::read(received.join(name))
            .unwrap_or_else(|e| panic!("{name} not received in {}: {e}", received.display()));
        assert_eq!(&sha256(&got), expected, "{name} differs from its source");
    }
}

fn urls(port: u16) -> Vec<String> {
    FILES
        .iter()
        .map(|(name, _)| format!("https://127.0.0.1:{port}/{name}"))
        .collect()
}

/// `synack serve --tls 1.3` of `root`, which listens for QUIC on the same port, and the
/// certificate it made.
fn serve_h3(dir: &Path, root: &Path) -> (common::Stopped, u16, PathBuf) {
    let cert = dir.join("cert.pem");
    let cert_arg = cert.to_str().unwrap().to_owned();
    let (server, port) = common::serve_with(
        root,
        &["--tls", "1.3", "--cert-out", &cert_arg],
        Stdio::null(),
    );
    (server, port, cert)
}

/// `synack fetch --mode h3` into `out`, trusting `cert`; the caller adds the URLs.
fn fetch_h3(cert: &Path, out: &Path) -> assert_cmd::Command {
    let mut fetch = common::synack();
    fetch
        .args(["fetch", "--mode", "h3", "--cacert"])
        .arg(cert)
        .arg("--out")
        .arg(out)
        // Far beyond any fetch's own bound: only a hang reaches it.
        .timeout(std::time::Duration::from_secs(60));
    fetch
}

#[test]
fn h3_fetch_from_synack_serve_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("www");
    let files = make_files(&root);
    let (_server, port, cert) = serve_h3(dir.path(), &root);
    let out = fetch_h3(&cert, &dir.path().join("out"))
        .args(urls(port))
        .output()
        .unwrap();
    let stdout = common::ran(&out);
    assert!(stdout.contains("over 1 connection"), "{stdout}");
    assert_identical(&dir.path().join("out/h3"), &files);
    // Nothing half-written is left beside them.
    let left: Vec<_> = std::fs::read_dir(dir.path().join("out/h3"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".part"))
        .collect();
    assert!(left.is_empty(), "part files left: {left:?}");
}

#[test]
fn aioquic_client_fetches_from_synack_serve_over_h3() {
    if !aioquic::have("aioquic_client_fetches_from_synack_serve_over_h3") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("www");
    let files = make_files(&root);
    let (_server, port, cert) = serve_h3(dir.path(), &root);
    let received = dir.path().join("aioquic");
    let out = aioquic::get(&cert, &received, &urls(port))
        .output()
        .unwrap();
    common::ran(&out);
    assert_identical(&received, &files);
}

#[test]
fn synack_fetch_h3_from_an_aioquic_server() {
    if !aioquic::have("synack_fetch_h3_from_an_aioquic_server") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("www");
    let files = make_files(&root);
    let (cert, key) = common::loopback_cert(dir.path());
    let port = common::free_udp_port();
    let _server = aioquic::serve(&root, (&cert, &key), port, &[]);
    let out = fetch_h3(&cert, &dir.path().join("out"))
        .args(urls(port))
        .output()
        .unwrap();
    common::ran(&out);
    assert_identical(&dir.path().join("out/h3"), &files);
}

#[test]
fn h3_where_nothing_answers_quic_gives_up_in_one_line_naming_the_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, _) = common::loopback_cert(dir.path());
    // A closed port (the kernel answers ICMP port unreachable) and a socket that takes every
    // datagram and answers none (as a firewall dropping UDP does).
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let ports = [common::free_udp_port(), silent.local_addr().unwrap().port()];
    for port in ports {
        let out = fetch_h3(&cert, &dir.path().join("out"))
            .args(["--timeout", "2s"])
            .arg(format!("https://127.0.0.1:{port}/a.bin"))
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "port {port}: the fetch cannot succeed"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.contains("did not answer QUIC within 2 s"),
            "{stderr}"
        );
        assert!(stderr.contains("h2 or persistent"), "{stderr}");
    }
}

#[test]
fn an_h3_run_is_one_quic_connection_with_one_client_hello_as_root() {
    let test = "an_h3_run_is_one_quic_connection_with_one_client_hello_as_root";
    if !common::require_root(test) || !common::have_tshark(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = common::compare_in(dir.path())
        .args(["--modes", "h3", "--rounds", "1"])
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    let stdout = common::ran(&out);
    let run_dir = std::fs::read_dir(dir.path().join("captures"))
        .unwrap()
        .next()
        .expect("a run folder")
        .unwrap()
        .path();
    let pcap = run_dir.join("h3.pcapng");
    assert!(pcap.exists(), "h3's capture is saved: {stdout}");
    let connections: BTreeSet<String> = common::tshark_stdout(
        &pcap,
        &["-Y", "quic", "-T", "fields", "-e", "quic.connection.number"],
    )
    .lines()
    .flat_map(|line| line.split(','))
    .filter(|n| !n.is_empty())
    .map(str::to_owned)
    .collect();
    assert_eq!(connections.len(), 1, "one QUIC connection: {connections:?}");
    // Initial packets from both ends: the client's port and the server's.
    let initial_sources: BTreeSet<String> = common::tshark_stdout(
        &pcap,
        &[
            "-Y",
            "quic.long.packet_type == 0",
            "-T",
            "fields",
            "-e",
            "udp.srcport",
        ],
    )
    .lines()
    .map(str::to_owned)
    .collect();
    assert_eq!(
        initial_sources.len(),
        2,
        "Initials from both sides: {initial_sources:?}"
    );
    let client_hellos = common::tshark_stdout(
        &pcap,
        &[
            "-Y",
            "tls.handshake.type == 1",
            "-T",
            "fields",
            "-e",
            "frame.number",
        ],
    );
    assert_eq!(
        client_hellos.lines().count(),
        1,
        "one ClientHello: {client_hellos}"
    );
}
