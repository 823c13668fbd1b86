//! Two machines, tested on one: `synack serve` in one network namespace and `synack compare
//! --server` in another, joined by a veth pair with a 1500-byte MTU and an address each, as two
//! hosts on a LAN (docs/two-hosts.md). The counts in report.json equal tshark's on the captures
//! taken on the client's interface, and the files received equal the files served.

use crate::common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{sha256_hex, sum_runs};
use common::Stopped;
use serde_json::Value;

/// The LAN's addresses: a subnet no other test or the emulated link uses.
const SERVER_IP: &str = "10.200.0.1";
const CLIENT_IP: &str = "10.200.0.2";
const PREFIX: u8 = 24;
/// The veth pair's two ends.
const SERVER_IFACE: &str = "s20srv";
const CLIENT_IFACE: &str = "s20cli";
const MTU: usize = 1500;
/// An Ethernet header, which a frame carries beyond the MTU.
const ETHERNET_HEADER: usize = 14;
const PORT: u16 = 8020;
const ROUNDS: u64 = 2;

/// A process whose own network namespace stands for one host; the namespace, and the veth end
/// inside it, go when it is stopped (on drop, even when the test fails).
struct Host(Stopped);

impl Host {
    /// A new network namespace held by a bounded `sleep`, once the process is inside it.
    fn start() -> Host {
        let child = Command::new("unshare")
            .args(["--net", "sleep", "600"])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare (util-linux)");
        let host = Host(Stopped(child));
        let ours = std::fs::read_link("/proc/self/ns/net").unwrap();
        let theirs = format!("/proc/{}/ns/net", host.pid());
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_link(&theirs).is_ok_and(|ns| ns == ours) {
            assert!(Instant::now() < deadline, "unshare made no namespace");
            std::thread::sleep(Duration::from_millis(10));
        }
        host
    }

    fn pid(&self) -> String {
        self.0.0.id().to_string()
    }

    /// `program args…` run inside this host's namespace.
    fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.args(["--target", &self.pid(), "--net", "--"])
            .arg(program);
        cmd
    }

    /// Runs `ip args…` here; a failure fails the test with ip's words.
    fn ip(&self, args: &[&str]) {
        let out = self.command(Path::new("ip")).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Loopback up, and `iface` up with `addr`, the MTU, and segments no larger than one MTU
    /// handed to it (as a NIC puts them on the wire; a veth would pass 64 KiB ones whole).
    fn address(&self, iface: &str, addr: &str) {
        self.ip(&["link", "set", "lo", "up"]);
        let mtu = MTU.to_string();
        self.ip(&["link", "set", iface, "mtu", &mtu, "gso_max_segs", "1", "up"]);
        self.ip(&["addr", "add", &format!("{addr}/{PREFIX}"), "dev", iface]);
    }
}

#[test]
fn serve_and_compare_on_two_namespaces_as_two_hosts_as_root() {
    let test = "serve_and_compare_on_two_namespaces_as_two_hosts_as_root";
    if !common::require_root(test) || !common::have_tool("nsenter", test) {
        return;
    }
    // Not an emulated link, but as heavy: it takes the cores from no link's timing.
    let _one = common::link_slot();
    let dir = tempfile::tempdir().unwrap();
    let synack = assert_cmd::cargo::cargo_bin("synack");
    let served = dir.path().join("served");
    common::synack()
        .args(["files", "--set", "compare"])
        .arg(&served)
        .assert()
        .success();

    let server_host = Host::start();
    let client_host = Host::start();
    server_host.ip(&[
        "link",
        "add",
        SERVER_IFACE,
        "type",
        "veth",
        "peer",
        "name",
        CLIENT_IFACE,
        "netns",
        &client_host.pid(),
    ]);
    server_host.address(SERVER_IFACE, SERVER_IP);
    client_host.address(CLIENT_IFACE, CLIENT_IP);

    let bind = format!("{SERVER_IP}:{PORT}");
    let _server = Stopped(
        server_host
            .command(&synack)
            .args(["serve", "--bind", &bind, "--root"])
            .arg(&served)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listening = server_host
            .command(Path::new("ss"))
            .args(["-Hltn", &format!("sport = :{PORT}")])
            .output()
            .unwrap();
        if !listening.stdout.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "synack serve did not start");
        std::thread::sleep(Duration::from_millis(20));
    }

    let json = dir.path().join("report.json");
    let out = client_host
        .command(&synack)
        // No --iface: the capture goes on the interface the route to the server takes, the
        // client's veth; on any other there would be nothing to count.
        .args(["compare", "--no-pdf", "--server", &bind])
        .args(["--rounds", &ROUNDS.to_string()])
        // The test's own server: no need to spare it.
        .args(["--request-rate", "1000"])
        .arg("--captures")
        .arg(dir.path().join("captures"))
        .arg("--out")
        .arg(dir.path().join("received"))
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    common::ran(&out);
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    common::assert_valid("docs/report.schema.json", &report);

    let files: Vec<String> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(files.len(), std::fs::read_dir(&served).unwrap().count());
    for (mode, connections_per_run) in [("non-persistent", files.len() as u64), ("persistent", 1)] {
        // Every file came whole: the received one is the served one, byte for byte.
        for name in &files {
            let received = dir.path().join("received").join(mode).join(name);
            assert_eq!(
                sha256_hex(&received),
                sha256_hex(&served.join(name)),
                "{}",
                received.display()
            );
        }
        let m = &report["modes"][mode];
        assert_eq!(
            sum_runs(m, "connections"),
            ROUNDS * connections_per_run,
            "{mode}"
        );
        let pcap = Path::new(report["captures"][mode].as_str().unwrap());
        if !common::have_tshark(test) {
            continue;
        }
        // The counts report.json gives are tshark's on the saved capture.
        let theirs = common::tshark_totals(pcap);
        for (key, count) in theirs.as_object().unwrap() {
            assert_eq!(
                &Value::from(sum_runs(m, key)),
                count,
                "{mode}: {key} differs from tshark's on {}",
                pcap.display()
            );
        }
        // Taken on the client's veth: only the two hosts' packets, none longer than the MTU
        // and its Ethernet header.
        let frames = common::tshark_stdout(
            pcap,
            &[
                "-T",
                "fields",
                "-e",
                "ip.src",
                "-e",
                "ip.dst",
                "-e",
                "frame.len",
            ],
        );
        for line in frames.lines() {
            let fields: Vec<&str> = line.split('\t').collect();
            let ends = [fields[0], fields[1]];
            assert!(
                ends == [SERVER_IP, CLIENT_IP] || ends == [CLIENT_IP, SERVER_IP],
                "{mode}: a packet not between the two hosts: {line}"
            );
            let len: usize = fields[2].parse().unwrap();
            assert!(len <= MTU + ETHERNET_HEADER, "{mode}: a {len}-byte frame");
        }
    }
}
