//! Helpers shared by the integration tests: root checks, tshark's counts, and pcap writing.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// True when running as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    #[allow(unsafe_code)]
    let euid = unsafe { libc::geteuid() };
    euid == 0
}

/// True under CI, where nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Whether a root-only test can run; prints why not, and fails under CI instead of skipping.
pub fn require_root(test: &str) -> bool {
    if is_root() {
        return true;
    }
    assert!(
        !in_ci(),
        "{test} needs root and CI=true: it must not be skipped"
    );
    println!("skipping {test}: needs root (live capture, dropping privileges); CI runs it as root");
    false
}

/// Whether tshark is installed; fails under CI, where `make test` installs it.
pub fn have_tshark(test: &str) -> bool {
    let found = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            !in_ci(),
            "{test}: tshark must be installed under CI (scripts/install-deps.sh --test)"
        );
        println!("skipping the tshark comparison in {test}: tshark is not installed");
    }
    found
}

fn tshark_lines(path: &Path, filter: &str, field: &str) -> Vec<String> {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(path)
        .args(["-Y", filter, "-T", "fields", "-e", field])
        .env("HOME", std::env::temp_dir())
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Wireshark's counts for a capture, with the same keys as synack's totals (less handshake_ack,
/// which has no display filter).
pub fn tshark_totals(path: &Path) -> serde_json::Value {
    let count = |filter: &str| tshark_lines(path, filter, "frame.number").len() as u64;
    let mut streams: Vec<String> = tshark_lines(path, "tcp", "tcp.stream");
    streams.sort();
    streams.dedup();
    let bytes: u64 = tshark_lines(path, "tcp", "frame.len")
        .iter()
        .map(|l| l.trim().parse::<u64>().expect("frame.len is a number"))
        .sum();
    serde_json::json!({
        "connections": streams.len() as u64,
        "syn": count("tcp.flags.syn==1 && tcp.flags.ack==0"),
        "synack": count("tcp.flags.syn==1 && tcp.flags.ack==1"),
        "pure_ack": count("tcp.flags.ack==1 && tcp.flags.syn==0 && tcp.flags.fin==0 && tcp.flags.reset==0 && tcp.len==0"),
        "data": count("tcp.len>0"),
        "fin": count("tcp.flags.fin==1"),
        "rst": count("tcp.flags.reset==1"),
        "packets": count("tcp"),
        "bytes": bytes,
    })
}

/// Asserts synack's totals equal tshark's on every key tshark has.
pub fn assert_matches_tshark(path: &Path, ours: &serde_json::Value) {
    let theirs = tshark_totals(path);
    for (key, value) in theirs.as_object().expect("object") {
        assert_eq!(
            &ours[key],
            value,
            "{key} differs from tshark on {}",
            path.display()
        );
    }
}

/// Writes a nanosecond pcap file of `frames` (timestamp in ns, bytes) with link type `linktype`.
pub fn write_pcap(path: &Path, linktype: u32, frames: &[(i64, Vec<u8>)]) {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_3c4du32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&linktype.to_le_bytes());
    for (ts, data) in frames {
        out.extend_from_slice(&((ts / 1_000_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((ts % 1_000_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
    }
    std::fs::write(path, out).expect("write pcap fixture");
}

/// The path of the built synack binary.
pub fn synack() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("synack").expect("synack binary")
}
