//! Helpers shared by the integration tests: root checks, tshark's counts, and pcap writing.
#![allow(dead_code)]

pub mod aioquic;

use std::path::{Path, PathBuf};
use std::process::Command;

/// Emulated links that may run at once: two. Each builds namespaces of its own, and a test whose
/// bounds rest on physics (no handshake shorter than its round trips) or on counts holds with
/// another link beside it. But a link's forwarders spin at real-time priority before each packet
/// is due, and on a two-core machine under load a second link starved the first one's client and
/// server by tens of milliseconds a run, enough to fail the tests that hold whole runs to a few
/// milliseconds (the model, the order of the modes): those take [`link_alone`], both places.
const LINKS_AT_ONCE: usize = 2;

/// The places taken by links running now and the tests waiting for all of them, and a wake-up
/// for a test waiting for a link to end.
static LINKS: (std::sync::Mutex<Places>, std::sync::Condvar) = (
    std::sync::Mutex::new(Places {
        taken: 0,
        alone_waiting: 0,
    }),
    std::sync::Condvar::new(),
);

struct Places {
    taken: usize,
    alone_waiting: usize,
}

/// Places for emulated links, held until dropped.
pub struct LinkSlot(usize);

impl Drop for LinkSlot {
    fn drop(&mut self) {
        let (places, ended) = &LINKS;
        places.lock().unwrap_or_else(|e| e.into_inner()).taken -= self.0;
        ended.notify_all();
    }
}

/// Waits until `places` of the [`LINKS_AT_ONCE`] are free and takes them. A test that needs all
/// of them goes first: while one waits, no other link starts, so the links running end and it
/// runs (rather than after every other link test, alone at the end of the suite).
fn take_places(places: usize) -> LinkSlot {
    let alone = places == LINKS_AT_ONCE;
    let (lock, ended) = &LINKS;
    let mut now = lock.lock().unwrap_or_else(|e| e.into_inner());
    if alone {
        now.alone_waiting += 1;
    }
    while now.taken + places > LINKS_AT_ONCE || (!alone && now.alone_waiting > 0) {
        now = ended.wait(now).unwrap_or_else(|e| e.into_inner());
    }
    if alone {
        now.alone_waiting -= 1;
    }
    now.taken += places;
    LinkSlot(places)
}

/// `synack compare` with its output folders (captures, received files) inside `dir`, and no
/// report.pdf: printing it runs Chromium, whose CPU would fall into another test's emulated link
/// (the PDF's own tests ask for it).
pub fn compare_in(dir: &Path) -> assert_cmd::Command {
    let mut cmd = compare_printing_in(dir);
    cmd.arg("--no-pdf");
    cmd
}

/// [`compare_in`] that prints report.pdf where Chromium is found, as a user's run does.
pub fn compare_printing_in(dir: &Path) -> assert_cmd::Command {
    let mut cmd = synack();
    cmd.arg("compare")
        .arg("--captures")
        .arg(dir.join("captures"))
        .arg("--out")
        .arg(dir.join("received"));
    cmd
}

/// Runs `synack compare ARGS` in `dir`, holding a [`link_slot`], and returns its report;
/// a failed run fails the test with its output.
pub fn compare_report(dir: &Path, args: &[&str]) -> serde_json::Value {
    let _link = link_slot();
    compare_report_while_held(dir, args)
}

/// Three small files (1, 4 and 16 KiB) in `dir`/site, for `compare --files` in a test of
/// handshakes or counts rather than slow start: each fits in the first flight of a connection,
/// so a run over an emulated link takes a few round trips, not the default files' dozen or more.
pub fn small_files(dir: &Path) -> PathBuf {
    files(
        dir,
        &[("a.bin", 1024), ("b.bin", 4 * 1024), ("c.bin", 16 * 1024)],
    )
}

/// Files of the given names and sizes in `dir`/site, for `compare --files`: a test that needs
/// only one response of some size (a first flight, a few hundred segments to lose some of)
/// leaves out the default set's 4 MiB.
pub fn files(dir: &Path, names: &[(&str, usize)]) -> PathBuf {
    let site = dir.join("site");
    std::fs::create_dir_all(&site).unwrap();
    for &(name, size) in names {
        let body: Vec<u8> = (0..size).map(|k| (k % 251) as u8).collect();
        std::fs::write(site.join(name), body).unwrap();
    }
    site
}

/// Waits for a place for an emulated link (at most [`LINKS_AT_ONCE`] run at once) and holds it
/// until the returned slot is dropped; a test holds it to its end, so what it does after its run
/// (reading captures, tshark) counts against the links too.
pub fn link_slot() -> LinkSlot {
    take_places(1)
}

/// [`link_slot`] with no other link beside it, for a test that holds whole runs to milliseconds.
pub fn link_alone() -> LinkSlot {
    take_places(LINKS_AT_ONCE)
}

/// `compare_report` for a test that holds a [`link_slot`] itself.
pub fn compare_report_while_held(dir: &Path, args: &[&str]) -> serde_json::Value {
    let json_path = dir.join("report.json");
    let out = compare_in(dir)
        .args(args)
        .arg("--json")
        .arg(&json_path)
        .timeout(std::time::Duration::from_secs(300))
        .output()
        .unwrap();
    ran(&out);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(json_path).unwrap()).unwrap();
    assert_valid("docs/report.schema.json", &report);
    report
}

/// Fails the test unless `json` satisfies the schema at `schema` (relative to the project).
pub fn assert_valid(schema: &str, json: &serde_json::Value) {
    let errors = schema_errors(schema, json);
    assert!(
        errors.is_empty(),
        "{schema} does not hold:\n{}",
        errors.join("\n")
    );
}

/// Where `json` breaks the schema at `schema` (relative to the project): none when it holds.
pub fn schema_errors(schema: &str, json: &serde_json::Value) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(schema);
    let document: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("the schema")).expect("JSON");
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    let location = path.to_str().expect("a UTF-8 path");
    compiler
        .add_resource(location, document)
        .expect("the schema's place");
    let index = compiler
        .compile(location, &mut schemas)
        .expect("a valid schema");
    match schemas.validate(json, index) {
        Ok(()) => Vec::new(),
        // The alternate form lists every leaf error with where it is.
        Err(e) => format!("{e:#}")
            .lines()
            .take(10)
            .map(str::to_owned)
            .collect(),
    }
}

/// The standard output of a run that must have succeeded; a run that failed fails the test with
/// its exit status and both of its outputs.
pub fn ran(out: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A child process stopped and reaped when dropped (a server, tcpdump): SIGTERM first, so that
/// one with processes of its own (nginx's master and its workers) ends them too, then SIGKILL
/// if it is still there after 5 s.
pub struct Stopped(pub std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        if let Ok(pid) = libc::pid_t::try_from(self.0.id()) {
            // SAFETY: kill takes a pid and a signal number and touches no memory; the child is
            // not reaped yet, so its pid is still its own.
            #[allow(unsafe_code)]
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
            let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while std::time::Instant::now() < until {
                if matches!(self.0.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `synack serve` of `root` on a free loopback port, once it accepts connections.
pub fn serve(root: &Path) -> (Stopped, u16) {
    serve_with(root, &[], std::process::Stdio::null())
}

/// `synack serve` of `root` with `args` on a free port, its stderr to `stderr`; returns it once
/// it accepts connections, and its port.
pub fn serve_with(root: &Path, args: &[&str], stderr: std::process::Stdio) -> (Stopped, u16) {
    let port = free_port();
    let child = Command::new(assert_cmd::cargo::cargo_bin("synack"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--root"])
        .arg(root)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("start synack serve");
    let served = Stopped(child);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "synack serve did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    (served, port)
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A UDP port on 127.0.0.1 that nothing is bound to right now.
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A self-signed leaf certificate for 127.0.0.1 (as webpki requires of a server's own) and its
/// key, written to `cert.pem` and `key.pem` in `dir`.
pub fn loopback_cert(dir: &Path) -> (PathBuf, PathBuf) {
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

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

/// The standard output of `tshark -r PATH ARGS…`; a failed run fails the test with tshark's words.
pub fn tshark_stdout(path: &Path, args: &[&str]) -> String {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args(args)
        .env("HOME", std::env::temp_dir())
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Each stream's request targets as tshark's HTTP dissector reads them, in order (several
/// requests in one frame come joined by commas, and are split here).
pub fn tshark_request_uris(path: &Path) -> std::collections::BTreeMap<usize, Vec<String>> {
    let fields = ["-e", "tcp.stream", "-e", "http.request.uri"];
    let args = [
        "-n",
        "-Y",
        "http.request",
        "-T",
        "fields",
        "-E",
        "separator=;",
    ];
    let out = tshark_stdout(path, &[&args[..], &fields[..]].concat());
    let mut targets = std::collections::BTreeMap::<usize, Vec<String>>::new();
    for line in out.lines() {
        let (stream, uris) = line.split_once(';').expect("two fields");
        let stream = targets.entry(stream.parse().unwrap()).or_default();
        stream.extend(uris.split(',').map(str::to_string));
    }
    targets
}

/// The counts [`tshark_stream_counts`] gives each stream.
pub const TSHARK_COUNTS: [&str; 8] = [
    "packets", "bytes", "syn", "synack", "fin", "rst", "data", "pure_ack",
];

/// Wireshark's counts for each TCP stream (`tcp.stream`) of a capture, with the same keys as
/// synack's counts (less handshake_ack, which has no display filter): one tshark pass over the
/// TCP packets, the display-filter definitions applied to its fields.
pub fn tshark_stream_counts(
    path: &Path,
) -> std::collections::BTreeMap<usize, std::collections::BTreeMap<&'static str, u64>> {
    let fields = tshark_stdout(
        path,
        &[
            "-n",
            "-Y",
            "tcp",
            "-T",
            "fields",
            "-E",
            "separator=,",
            "-e",
            "tcp.stream",
            "-e",
            "tcp.flags",
            "-e",
            "tcp.len",
            "-e",
            "frame.len",
        ],
    );
    let mut streams = std::collections::BTreeMap::new();
    for line in fields.lines() {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 4, "unexpected tshark line {line:?}");
        let flags =
            u16::from_str_radix(f[1].trim_start_matches("0x"), 16).expect("tcp.flags is hex");
        let len: u64 = f[2].parse().expect("tcp.len is a number");
        let (is_fin, is_syn, is_rst, is_ack) = (
            flags & 0x01 != 0,
            flags & 0x02 != 0,
            flags & 0x04 != 0,
            flags & 0x10 != 0,
        );
        let counts: &mut std::collections::BTreeMap<&'static str, u64> = streams
            .entry(f[0].parse::<usize>().expect("tcp.stream is a number"))
            .or_default();
        for (key, add) in [
            ("packets", 1u64),
            ("bytes", f[3].parse::<u64>().expect("frame.len is a number")),
            ("syn", u64::from(is_syn && !is_ack)),
            ("synack", u64::from(is_syn && is_ack)),
            ("fin", u64::from(is_fin)),
            ("rst", u64::from(is_rst)),
            ("data", u64::from(len > 0)),
            (
                "pure_ack",
                u64::from(is_ack && !is_syn && !is_fin && !is_rst && len == 0),
            ),
        ] {
            *counts.entry(key).or_default() += add;
        }
    }
    streams
}

/// Wireshark's counts for a capture, with the same keys as synack's totals (less
/// handshake_ack): [`tshark_stream_counts`] summed.
pub fn tshark_totals(path: &Path) -> serde_json::Value {
    let streams = tshark_stream_counts(path);
    let mut totals = serde_json::Map::new();
    totals.insert("connections".into(), (streams.len() as u64).into());
    for key in TSHARK_COUNTS {
        totals.insert(key.into(), 0.into());
    }
    for counts in streams.values() {
        for (&key, &n) in counts {
            let sum = totals
                .get(key)
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0);
            totals.insert(key.into(), (sum + n).into());
        }
    }
    serde_json::Value::Object(totals)
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

/// `synack analyze FILE --json EXTRA…`, which must succeed, parsed.
pub fn analyze_json(path: &Path, extra: &[&str]) -> serde_json::Value {
    let out = synack()
        .arg("analyze")
        .arg(path)
        .arg("--json")
        .args(extra)
        .output()
        .expect("run synack");
    assert!(
        out.status.success(),
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "analyze --json printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    assert_valid("docs/analyze.schema.json", &report);
    report
}

/// The path of the built synack binary.
pub fn synack() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("synack").expect("synack binary")
}

/// The bytes of a nanosecond pcap file of `frames` (timestamp in ns, bytes) with link type
/// `linktype`, each frame cut to `snaplen` bytes as a capture with that snap length keeps it (the
/// record's wire length stays the frame's length).
pub fn pcap_bytes(linktype: u32, snaplen: usize, frames: &[(i64, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_3c4du32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&(snaplen as u32).to_le_bytes());
    out.extend_from_slice(&linktype.to_le_bytes());
    for (ts, data) in frames {
        let kept = &data[..data.len().min(snaplen)];
        out.extend_from_slice(&((ts / 1_000_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((ts % 1_000_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(kept.len() as u32).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(kept);
    }
    out
}

/// Where a segment of [`Frames::send_at`] sits, and the window it advertises.
#[derive(Debug, Clone, Copy)]
pub struct At {
    /// Bytes before the sender's next sequence number it starts (a resend; a keep-alive: 1).
    pub back: u32,
    /// Bytes before the peer's next sequence number it acknowledges (the start of a gap).
    pub ack_back: u32,
    /// Its window field.
    pub window: u16,
}

impl Default for At {
    fn default() -> At {
        At {
            back: 0,
            ack_back: 0,
            window: 65535,
        }
    }
}

/// Ethernet frames of TCP conversations, 10 µs apart, with consistent sequence numbers.
pub struct Frames {
    /// (timestamp in ns, frame bytes), in capture order.
    pub frames: Vec<(i64, Vec<u8>)>,
    t: i64,
}

/// One TCP connection's endpoints and next sequence numbers (IPv4 or IPv6).
pub struct Flow {
    client: std::net::SocketAddr,
    server: std::net::SocketAddr,
    cseq: u32,
    sseq: u32,
}

impl Flow {
    /// A connection from `client` to `server` (`"127.0.0.1:40000"`, `"[::1]:8080"`) with these
    /// initial sequence numbers.
    pub fn new(client: &str, server: &str, client_isn: u32, server_isn: u32) -> Flow {
        Flow {
            client: client.parse().expect("client address"),
            server: server.parse().expect("server address"),
            cseq: client_isn,
            sseq: server_isn,
        }
    }
}

impl Frames {
    /// No frames yet; the first comes at 2023-11-14 22:13:20 UTC.
    pub fn new() -> Frames {
        Frames {
            frames: Vec::new(),
            t: 1_700_000_000_000_000_000,
        }
    }

    /// Appends a frame that is not TCP (UDP on the same addresses).
    pub fn udp(&mut self, payload: &[u8]) {
        let builder = etherparse::PacketBuilder::ethernet2([2; 6], [4; 6])
            .ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64)
            .udp(5353, 5353);
        let mut frame = Vec::new();
        builder.write(&mut frame, payload).expect("build frame");
        self.push_frame(frame);
    }

    /// Appends one segment of `flow`; `flags` is a set of the letters S, A, F, R, P.
    pub fn send(&mut self, flow: &mut Flow, from_client: bool, flags: &str, payload: &[u8]) {
        self.send_at(flow, from_client, flags, payload, At::default());
    }

    /// As [`Frames::send`], placed and advertising as `at` says.
    pub fn send_at(
        &mut self,
        flow: &mut Flow,
        from_client: bool,
        flags: &str,
        payload: &[u8],
        at: At,
    ) {
        use std::net::IpAddr;
        let (src, dst, next, peer_next) = if from_client {
            (flow.client, flow.server, flow.cseq, flow.sseq)
        } else {
            (flow.server, flow.client, flow.sseq, flow.cseq)
        };
        let At {
            back,
            ack_back,
            window,
        } = at;
        let seq = next.wrapping_sub(back);
        let ack = peer_next.wrapping_sub(ack_back);
        let base = etherparse::PacketBuilder::ethernet2([2; 6], [4; 6]);
        let ip = match (src.ip(), dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => base.ipv4(s.octets(), d.octets(), 64),
            (IpAddr::V6(s), IpAddr::V6(d)) => base.ipv6(s.octets(), d.octets(), 64),
            _ => panic!("a flow's addresses are of one family"),
        };
        let mut b = ip.tcp(src.port(), dst.port(), seq, window);
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
        self.push_frame(frame);
        let length =
            payload.len() as u32 + u32::from(flags.contains('S')) + u32::from(flags.contains('F'));
        self.skip(flow, from_client, length.saturating_sub(back));
    }

    /// Moves the sender's next sequence number on by `bytes` without a frame: a segment the
    /// capture missed.
    pub fn skip(&mut self, flow: &mut Flow, from_client: bool, bytes: u32) {
        let next = if from_client {
            &mut flow.cseq
        } else {
            &mut flow.sseq
        };
        *next = next.wrapping_add(bytes);
    }

    /// Lets `ns` nanoseconds pass before the next frame (which comes 10 µs after that).
    pub fn wait(&mut self, ns: i64) {
        self.t += ns;
    }

    /// SYN, SYN-ACK, ACK.
    pub fn handshake(&mut self, flow: &mut Flow) {
        self.send(flow, true, "S", &[]);
        self.send(flow, false, "SA", &[]);
        self.send(flow, true, "A", &[]);
    }

    /// A GET and a response of `body` bytes in segments of at most 1400 bytes, then the client's
    /// ACK.
    pub fn exchange(&mut self, flow: &mut Flow, path: &str, body: usize) {
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
        self.send(flow, true, "PA", request.as_bytes());
        let mut response =
            format!("HTTP/1.1 200 OK\r\nContent-Length: {body}\r\n\r\n").into_bytes();
        response.extend(std::iter::repeat_n(b'z', body));
        for chunk in response.chunks(1400) {
            self.send(flow, false, "A", chunk);
        }
        self.send(flow, true, "A", &[]);
    }

    /// FIN, ACK, FIN, ACK, the `from_client` side first.
    pub fn close(&mut self, flow: &mut Flow, from_client: bool) {
        self.send(flow, from_client, "FA", &[]);
        self.send(flow, !from_client, "A", &[]);
        self.send(flow, !from_client, "FA", &[]);
        self.send(flow, from_client, "A", &[]);
    }

    fn push_frame(&mut self, frame: Vec<u8>) {
        self.t += 10_000;
        self.frames.push((self.t, frame));
    }
}

impl Default for Frames {
    fn default() -> Frames {
        Frames::new()
    }
}

/// Whether `tool` runs; fails under CI, where scripts/install-deps.sh --test installs it.
pub fn have_tool(tool: &str, test: &str) -> bool {
    let found = std::process::Command::new(tool)
        .arg(match tool {
            "openssl" => "version",
            "nginx" | "pdfinfo" | "pdftotext" => "-v",
            _ => "--version",
        })
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            !in_ci(),
            "{test}: {tool} must be installed under CI (scripts/install-deps.sh --test)"
        );
        println!("skipping {test}: {tool} is not installed");
    }
    found
}

/// nginx's configuration for a TLS 1.2 and 1.3 server on 127.0.0.1:`port` with `cert.pem` and
/// `key.pem` from `dir`, everything it writes kept in `dir`; `listen` adds to the listen line
/// (e.g. " fastopen=16"), `serve` is the server block's content (a root or a location).
pub fn nginx_tls_conf(dir: &Path, port: u16, listen: &str, serve: &str) -> String {
    let d = dir.display();
    format!(
        "daemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}; proxy_temp_path {d};\n  \
         fastcgi_temp_path {d}; uwsgi_temp_path {d}; scgi_temp_path {d};\n  server {{\n    \
         listen 127.0.0.1:{port} ssl{listen};\n    ssl_protocols TLSv1.2 TLSv1.3;\n    \
         ssl_session_cache shared:S:1m;\n    ssl_certificate {d}/cert.pem;\n    \
         ssl_certificate_key {d}/key.pem;\n    {serve}\n  }}\n}}\n"
    )
}

/// The SHA-256 of the file at `path`, lowercase hex.
pub fn sha256_hex(path: &Path) -> String {
    use sha2::Digest;
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The sum over a mode's runs in report.json of one of their totals.
pub fn sum_runs(mode: &serde_json::Value, key: &str) -> u64 {
    mode["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["totals"][key].as_u64().unwrap())
        .sum()
}

/// Runs a shell line (every command in it under `timeout`), which must succeed.
pub fn sh(dir: &std::path::Path, line: &str) {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(line)
        .current_dir(dir)
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "{line}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits up to 10 s for `ready`, failing with `what`.
pub fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !ready() {
        assert!(std::time::Instant::now() < deadline, "{what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A certificate for 127.0.0.1 made by openssl, not by synack, in `dir` (`cert.pem`, `key.pem`):
/// P-256, for the IP address, not a CA.
pub fn openssl_cert(dir: &Path) {
    let made = Command::new("openssl")
        .current_dir(dir)
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ])
        .output()
        .unwrap();
    ran(&made);
}

/// nginx with `dir/nginx.conf`, once it accepts connections on every one of `ports`.
pub fn nginx(dir: &Path, ports: &[u16]) -> Stopped {
    let nginx = Command::new("nginx")
        .args(["-e", "stderr", "-c"])
        .arg(dir.join("nginx.conf"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let nginx = Stopped(nginx);
    let started = std::time::Instant::now();
    for &port in ports {
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(10),
                "nginx did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    nginx
}

/// tcpdump writing loopback packets that match `filter` to `path`, whole, once it listens; stop
/// it with [`stop_tcpdump`] so that it writes what it holds.
pub fn tcpdump_loopback(path: &Path, filter: &str) -> Stopped {
    let tcpdump = Stopped(
        Command::new("tcpdump")
            .args(["-i", "lo", "--immediate-mode", "-U", "-n", "-s", "0"])
            .args(["-B", "16384", "-w"])
            .arg(path)
            .arg(filter)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("tcpdump (scripts/install-deps.sh --test)"),
    );
    wait_until("tcpdump did not start", || {
        std::fs::metadata(path).map_or(0, |m| m.len()) >= 24
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    tcpdump
}

/// Stops a tcpdump [`tcpdump_loopback`] started, after the last packets had time to arrive.
pub fn stop_tcpdump(mut tcpdump: Stopped) {
    std::thread::sleep(std::time::Duration::from_millis(500));
    // SAFETY: kill only signals the tcpdump child, by its pid.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(tcpdump.0.id() as libc::pid_t, libc::SIGINT);
    }
    let _ = tcpdump.0.wait();
}

/// tshark's `fields` of every frame of `path` that `filter` keeps, read with `options` (`-o`,
/// `-d`…): a row of field values per frame, each value as tshark prints it (several joined by
/// commas).
pub fn tshark_rows(
    path: &Path,
    options: &[&str],
    filter: &str,
    fields: &[&str],
) -> Vec<Vec<String>> {
    let mut args: Vec<&str> = vec!["-n"];
    args.extend_from_slice(options);
    args.extend(["-Y", filter, "-T", "fields", "-E", "separator=;"]);
    for field in fields {
        args.extend(["-e", field]);
    }
    tshark_stdout(path, &args)
        .lines()
        .map(|line| line.split(';').map(str::to_owned).collect())
        .collect()
}

/// Each run's connections, as tshark reads them in their mode's capture, are closed both ways
/// (a FIN from each end) and have sent their last packet before the next run, of any mode,
/// started: the wait after a run covers its own closing, however busy the server is. Needs
/// tshark.
pub fn runs_close_before_the_next_run_starts(report: &serde_json::Value) {
    let modes = report["modes"].as_object().unwrap();
    let mut starts: Vec<f64> = modes
        .values()
        .flat_map(|m| m["runs"].as_array().unwrap())
        .map(|run| run["start_unix_s"].as_f64().unwrap())
        .collect();
    starts.sort_by(f64::total_cmp);
    // h3's connections are QUIC: no FIN to look for.
    for (mode, m) in modes.iter().filter(|(mode, _)| *mode != "h3") {
        let pcap = PathBuf::from(report["captures"][mode].as_str().unwrap());
        // stream, time, source port, destination port, SYN, ACK, FIN
        let frames: Vec<(u64, f64, u16, u16, bool, bool, bool)> = tshark_stdout(
            &pcap,
            &[
                "-n",
                "-Y",
                "tcp",
                "-T",
                "fields",
                "-e",
                "tcp.stream",
                "-e",
                "frame.time_epoch",
                "-e",
                "tcp.srcport",
                "-e",
                "tcp.dstport",
                "-e",
                "tcp.flags.syn",
                "-e",
                "tcp.flags.ack",
                "-e",
                "tcp.flags.fin",
            ],
        )
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            let set = |i: usize| f[i] == "1" || f[i] == "True";
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
                set(4),
                set(5),
                set(6),
            )
        })
        .collect();
        for run in m["runs"].as_array().unwrap() {
            let start = run["start_unix_s"].as_f64().unwrap();
            let next = starts.iter().copied().find(|&s| s > start);
            for conn in run["connections"].as_array().unwrap() {
                let client: std::net::SocketAddr =
                    conn["client"].as_str().unwrap().parse().unwrap();
                let opened = conn["start_unix_s"].as_f64().unwrap();
                // The stream whose SYN left the client's port when synack says it opened (the
                // other program may use the same port at another time).
                let (stream, syn_at) = frames
                    .iter()
                    .filter(|f| f.2 == client.port() && f.4 && !f.5)
                    .map(|f| (f.0, f.1))
                    .min_by(|a, b| (a.1 - opened).abs().total_cmp(&(b.1 - opened).abs()))
                    .unwrap_or_else(|| panic!("{mode}: no SYN from {client} in the capture"));
                assert!((syn_at - opened).abs() < 1e-3, "{mode}: {client}");
                let own: Vec<_> = frames.iter().filter(|f| f.0 == stream).collect();
                assert!(
                    own.iter().any(|f| f.6 && f.2 == client.port()),
                    "{mode}: no FIN from {client}"
                );
                assert!(
                    own.iter().any(|f| f.6 && f.3 == client.port()),
                    "{mode}: no FIN to {client}"
                );
                let last = own.iter().map(|f| f.1).fold(f64::MIN, f64::max);
                if let Some(next) = next {
                    assert!(
                        last < next,
                        "{mode}: {client}'s last packet at {last}, the next run began at {next}"
                    );
                }
            }
        }
    }
}
