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

/// Wireshark's counts for a capture, with the same keys as synack's totals (less handshake_ack,
/// which has no display filter): one tshark pass over the TCP packets, the display-filter
/// definitions applied to its fields.
pub fn tshark_totals(path: &Path) -> serde_json::Value {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(path)
        .args(["-Y", "tcp", "-T", "fields", "-E", "separator=,"])
        .args([
            "-e",
            "tcp.stream",
            "-e",
            "tcp.flags",
            "-e",
            "tcp.len",
            "-e",
            "frame.len",
        ])
        .env("HOME", std::env::temp_dir())
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (mut syn, mut synack, mut pure_ack, mut data, mut fin, mut rst, mut packets, mut bytes) =
        (0u64, 0u64, 0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    let mut streams = std::collections::BTreeSet::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 4, "unexpected tshark line {line:?}");
        streams.insert(f[0].to_owned());
        let flags =
            u16::from_str_radix(f[1].trim_start_matches("0x"), 16).expect("tcp.flags is hex");
        let len: u64 = f[2].parse().expect("tcp.len is a number");
        let (is_fin, is_syn, is_rst, is_ack) = (
            flags & 0x01 != 0,
            flags & 0x02 != 0,
            flags & 0x04 != 0,
            flags & 0x10 != 0,
        );
        packets += 1;
        bytes += f[3].parse::<u64>().expect("frame.len is a number");
        syn += u64::from(is_syn && !is_ack);
        synack += u64::from(is_syn && is_ack);
        fin += u64::from(is_fin);
        rst += u64::from(is_rst);
        data += u64::from(len > 0);
        pure_ack += u64::from(is_ack && !is_syn && !is_fin && !is_rst && len == 0);
    }
    serde_json::json!({
        "connections": streams.len() as u64,
        "syn": syn,
        "synack": synack,
        "pure_ack": pure_ack,
        "data": data,
        "fin": fin,
        "rst": rst,
        "packets": packets,
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
