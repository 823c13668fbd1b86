//! `synack analyze`'s outputs (tables, `--json`, `--jsonl`, `--csv`, `--html`) over captures built packet by
//! packet, compared byte for byte with the files checked in beside this one: a change to the
//! tracker or the report that changes what a reader sees shows up here as a diff to review.
//!
//! The captures are run from their own folder under a relative name, with `COLUMNS` unset, so
//! nothing in the output depends on where or how the test runs; as a safeguard, that folder's
//! path is still replaced by `$DIR` should it appear. `SYNACK_BLESS=1 cargo test --test
//! analyze_fixtures golden` writes the files anew (review their diff before committing it).

use std::path::{Path, PathBuf};

use crate::common::{At, Flow, Frames, write_pcap};
use crate::fixtures::{self, Capture, Format, Link, conn};

/// The files this test compares with.
fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Runs `synack analyze NAME ARGS` in `dir`: its standard output and exit status.
fn analyze(dir: &Path, name: &str, args: &[&str]) -> (Vec<u8>, bool) {
    let out = crate::common::synack()
        .current_dir(dir)
        .env_remove("COLUMNS")
        .arg("analyze")
        .arg(name)
        .args(args)
        .output()
        .expect("run synack");
    (out.stdout, out.status.success())
}

/// Compares `actual` with the golden file `name` (or writes it under `SYNACK_BLESS=1`); returns a
/// description of the difference.
fn compare(name: &str, actual: &str) -> Option<String> {
    let path = golden_dir().join(name);
    if std::env::var_os("SYNACK_BLESS").is_some() {
        std::fs::write(&path, actual).expect("write golden file");
        return None;
    }
    let expected = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => return Some(format!("{name}: cannot read {} ({e})", path.display())),
    };
    if expected == actual {
        return None;
    }
    let line = expected
        .lines()
        .zip(actual.lines())
        .position(|(e, a)| e != a)
        .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
    let show = |text: &str| {
        text.lines()
            .skip(line)
            .take(3)
            .collect::<Vec<_>>()
            .join("\n")
    };
    Some(format!(
        "{name} differs from line {}:\nexpected:\n{}\nactual:\n{}",
        line + 1,
        show(&expected),
        show(actual)
    ))
}

/// Every output of `analyze` over the capture `file` in `dir`, against `STEM.txt`, `.all.txt`,
/// `.json`, `.jsonl`, `.csv` and `.html`; `ok` is the exit status the capture must give.
fn check_outputs(dir: &Path, file: &str, stem: &str, ok: bool) -> Vec<String> {
    let normalise = |bytes: Vec<u8>| {
        String::from_utf8(bytes)
            .expect("UTF-8 output")
            .replace(&dir.display().to_string(), "$DIR")
    };
    let mut problems = Vec::new();
    let page = format!("{stem}.html");
    for (args, ext) in [
        (&[][..], "txt"),
        (&["--all"][..], "all.txt"),
        (&["--json"][..], "json"),
        (&["--jsonl"][..], "jsonl"),
        (&["--csv"][..], "csv"),
        (&["--html", page.as_str()][..], "html"),
    ] {
        let (stdout, success) = analyze(dir, file, args);
        if success != ok {
            problems.push(format!("{file} {args:?}: exit status success={success}"));
        }
        let actual = if ext == "html" {
            std::fs::read(dir.join(&page)).unwrap_or_default()
        } else {
            stdout
        };
        problems.extend(compare(&format!("{stem}.{ext}"), &normalise(actual)));
    }
    problems
}

/// HTTP over plain TCP: one request per connection, keep-alive, pipelining, a refused connect, a
/// 4-tuple used again, a reset, IPv6, three-way and simultaneous closes, a FIN riding on data,
/// a Fast Open SYN, a connection caught mid-stream, and connections still open at the end.
pub fn http_frames() -> Frames {
    let mut f = Frames::new();
    let get = |path: &str| format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");

    let mut one = Flow::new("127.0.0.1:40000", "127.0.0.1:8080", 1000, 9000);
    f.handshake(&mut one);
    f.exchange(&mut one, "/a.jpg", 3000);
    f.close(&mut one, false);

    let mut keep = Flow::new("127.0.0.1:40001", "127.0.0.1:8080", 2000, 8000);
    f.handshake(&mut keep);
    for path in ["/b.mp3", "/c.txt", "/d.css"] {
        f.exchange(&mut keep, path, 2000);
        f.wait(5_000_000);
    }
    f.close(&mut keep, true);

    let mut piped = Flow::new("127.0.0.1:40002", "127.0.0.1:8080", 3000, 7000);
    f.handshake(&mut piped);
    let burst: String = ["/1", "/2", "/3"].map(get).concat();
    f.send(&mut piped, true, "PA", burst.as_bytes());
    for _ in 0..3 {
        f.send(
            &mut piped,
            false,
            "PA",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        );
    }
    f.close(&mut piped, true);

    let mut refused = Flow::new("127.0.0.1:40003", "127.0.0.1:9", 4000, 0);
    f.send(&mut refused, true, "S", &[]);
    f.send(&mut refused, false, "RA", &[]);

    // The first connection's 4-tuple again, with another ISN.
    f.wait(100_000_000);
    let mut again = Flow::new("127.0.0.1:40000", "127.0.0.1:8080", 5000, 6000);
    f.handshake(&mut again);
    f.exchange(&mut again, "/again", 500);
    f.close(&mut again, true);

    // A download the client gives up on after a stall.
    let mut stalled = Flow::new("127.0.0.1:40004", "127.0.0.1:8080", 6000, 5000);
    f.handshake(&mut stalled);
    f.exchange(&mut stalled, "/big.bin", 6000);
    f.wait(300_000_000);
    f.send(&mut stalled, true, "RA", &[]);

    // IPv6, closed in three segments (the second FIN acknowledges the first).
    let mut v6 = Flow::new("[::1]:40005", "[::1]:8080", 7000, 4000);
    f.handshake(&mut v6);
    f.exchange(&mut v6, "/six", 1500);
    f.send(&mut v6, false, "FA", &[]);
    f.send(&mut v6, true, "FA", &[]);
    f.send(&mut v6, false, "A", &[]);

    // The last response rides with the server's FIN; then both FINs cross.
    let mut crossed = Flow::new("127.0.0.1:40006", "127.0.0.1:8080", 8000, 3000);
    f.handshake(&mut crossed);
    f.send(&mut crossed, true, "PA", get("/fin").as_bytes());
    f.send(
        &mut crossed,
        false,
        "FPA",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    );
    f.send(&mut crossed, true, "FA", &[]);
    f.send(&mut crossed, false, "A", &[]);
    f.send(&mut crossed, true, "A", &[]);

    // A request in the SYN (TCP Fast Open).
    let mut fast = Flow::new("127.0.0.1:40007", "127.0.0.1:8080", 9000, 2000);
    f.send(&mut fast, true, "S", get("/tfo").as_bytes());
    f.send(&mut fast, false, "SA", &[]);
    f.send(
        &mut fast,
        false,
        "PA",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntfo",
    );
    f.send(&mut fast, true, "A", &[]);
    f.close(&mut fast, true);

    // Caught mid-stream: no handshake in the capture.
    let mut midway = Flow::new("127.0.0.1:40008", "127.0.0.1:8080", 10_000, 1000);
    f.send(&mut midway, true, "PA", get("/mid").as_bytes());
    f.send(
        &mut midway,
        false,
        "PA",
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );

    // Still open, and half-closed, when the capture ends.
    let mut open = Flow::new("127.0.0.1:40009", "127.0.0.1:8080", 11_000, 500);
    f.handshake(&mut open);
    f.exchange(&mut open, "/open", 100);
    let mut half = Flow::new("127.0.0.1:40010", "127.0.0.1:8080", 12_000, 400);
    f.handshake(&mut half);
    f.exchange(&mut half, "/half", 100);
    f.send(&mut half, true, "FA", &[]);
    f.send(&mut half, false, "A", &[]);
    f
}

/// One connection over a 20 ms path seen from the client, with what Wireshark's sequence analysis
/// marks: a segment lost before the capture, duplicate ACKs and a fast retransmission, a resend
/// after a timeout, a spurious one, an out-of-order segment, a zero window and its probe, a
/// keep-alive, and a FIN sent twice; and another connection whose SYN was sent twice.
pub fn lossy_frames() -> Frames {
    const RTT: i64 = 20_000_000;
    let mut f = Frames::new();
    let mut c = Flow::new("10.0.0.2:41000", "10.0.0.1:80", 100, 900_000);
    f.send(&mut c, true, "S", &[]);
    f.wait(RTT);
    f.send(&mut c, false, "SA", &[]);
    f.send(&mut c, true, "A", &[]);
    f.send(
        &mut c,
        true,
        "PA",
        b"GET /lossy.bin HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    f.wait(RTT);
    let data = [b'd'; 1400];
    // Round 1: two segments, acknowledged.
    f.send(
        &mut c,
        false,
        "A",
        b"HTTP/1.1 200 OK\r\nContent-Length: 14000\r\n\r\n",
    );
    f.send(&mut c, false, "A", &data);
    f.send(&mut c, true, "A", &[]);
    f.wait(RTT);
    // Round 2: the second segment is lost before the capture point.
    f.send(&mut c, false, "A", &data);
    f.skip(&mut c, false, 1400);
    f.send(&mut c, false, "A", &data);
    f.send(&mut c, false, "A", &data);
    let dup = At {
        ack_back: 4200,
        ..At::default()
    };
    for _ in 0..3 {
        f.send_at(&mut c, true, "A", &[], dup);
    }
    f.wait(2_000_000);
    // The fast retransmission of the lost segment, then everything acknowledged.
    f.send_at(&mut c, false, "A", &data, back(4200));
    f.send(&mut c, true, "A", &[]);
    f.wait(RTT);
    // Round 3: a segment sent again after 300 ms without an ACK.
    f.send(&mut c, false, "A", &data);
    f.wait(300_000_000);
    f.send_at(&mut c, false, "A", &data, back(1400));
    f.send(&mut c, true, "A", &[]);
    // The same segment once more, already acknowledged: spurious.
    f.wait(RTT);
    f.send_at(&mut c, false, "A", &data, back(1400));
    // Two segments swapped on the way: the later one first.
    f.wait(RTT);
    f.skip(&mut c, false, 1400);
    f.send(&mut c, false, "A", &data);
    f.send_at(&mut c, false, "A", &data, back(2800));
    f.send(&mut c, true, "A", &[]);
    // The client's window closes; the server probes it with one byte; it opens again.
    f.send_at(
        &mut c,
        true,
        "A",
        &[],
        At {
            window: 0,
            ..At::default()
        },
    );
    f.wait(RTT);
    f.send(&mut c, false, "A", b"d");
    f.send(&mut c, true, "A", &[]);
    f.send(&mut c, false, "A", &data[..1399]);
    f.send(&mut c, true, "A", &[]);
    // An idle minute, a keep-alive and its answer.
    f.wait(60_000_000_000);
    f.send_at(&mut c, true, "A", &[], back(1));
    f.send(&mut c, false, "A", &[]);
    // The server's FIN, sent again before the client answers.
    f.send(&mut c, false, "FA", &[]);
    f.wait(200_000_000);
    f.send_at(&mut c, false, "FA", &[], back(1));
    f.send(&mut c, true, "A", &[]);
    f.send(&mut c, true, "FA", &[]);
    f.send(&mut c, false, "A", &[]);

    // A SYN sent again after a second.
    let mut late = Flow::new("10.0.0.2:41001", "10.0.0.1:80", 200, 800_000);
    f.send(&mut late, true, "S", &[]);
    f.wait(1_000_000_000);
    f.send_at(&mut late, true, "S", &[], back(1));
    f.wait(RTT);
    f.send(&mut late, false, "SA", &[]);
    f.send(&mut late, true, "A", &[]);
    f.exchange(&mut late, "/late", 100);
    f.close(&mut late, true);
    f
}

/// A segment placed `bytes` before its sender's next sequence number: a resend.
fn back(bytes: u32) -> At {
    At {
        back: bytes,
        ..At::default()
    }
}

/// A TLS record of `content_type` around `body`.
fn tls_record(content_type: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![content_type, 3, 3];
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

/// A handshake record holding one message of `msg_type`.
fn tls_handshake(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![msg_type];
    m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend_from_slice(body);
    tls_record(22, &m)
}

/// A hello body: version, random, session id, then `middle` (cipher suites and compression, or
/// the chosen suite), then one supported_versions extension of `versions`.
fn hello(middle: &[u8], versions: &[u8]) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend([7; 32]);
    b.push(32);
    b.extend([5; 32]);
    b.extend_from_slice(middle);
    let mut ext = 43u16.to_be_bytes().to_vec();
    ext.extend_from_slice(&(versions.len() as u16).to_be_bytes());
    ext.extend_from_slice(versions);
    b.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    b.extend(ext);
    b
}

/// Two TLS 1.3 connections as a client-side capture sees them: a full handshake, a request and
/// its response in several segments, and the closing alerts.
pub fn tls_frames() -> Frames {
    const APPLICATION_DATA: u8 = 23;
    let mut f = Frames::new();
    for (i, port) in [41443u16, 41444].into_iter().enumerate() {
        let mut c = Flow::new(
            &format!("127.0.0.1:{port}"),
            "127.0.0.1:443",
            1000 + i as u32,
            50_000,
        );
        f.handshake(&mut c);
        f.send(
            &mut c,
            true,
            "PA",
            &tls_handshake(1, &hello(&[0, 2, 0x13, 0x01, 1, 0], &[2, 3, 4])),
        );
        f.wait(1_000_000);
        let flight = [
            tls_handshake(2, &hello(&[0x13, 0x01, 0], &[3, 4])),
            tls_record(20, &[1]),
            tls_record(APPLICATION_DATA, &[0xee; 900]),
        ]
        .concat();
        f.send(&mut c, false, "PA", &flight);
        f.send(
            &mut c,
            true,
            "PA",
            &[
                tls_record(20, &[1]),
                tls_record(APPLICATION_DATA, &[0xcf; 53]),
            ]
            .concat(),
        );
        f.send(
            &mut c,
            true,
            "PA",
            &tls_record(APPLICATION_DATA, &[0xaa; 120]),
        );
        f.wait(1_000_000);
        let response = tls_record(APPLICATION_DATA, &[0xbb; 4000]);
        for chunk in response.chunks(1400) {
            f.send(&mut c, false, "PA", chunk);
        }
        f.send(&mut c, true, "A", &[]);
        f.send(&mut c, true, "PA", &tls_record(21, &[0xa1; 19]));
        f.send(&mut c, false, "PA", &tls_record(21, &[0xa2; 19]));
        f.close(&mut c, true);
    }
    f
}

/// 25 connections, two at a time, of one request each: more than the tables show without
/// `--all`.
fn many_capture() -> Capture {
    let mut capture = Capture::new();
    for pair in 0..13u16 {
        let mut a = conn(
            &format!("127.0.0.1:{}", 42_000 + 2 * pair),
            "127.0.0.1:8080",
            u32::from(pair) * 100,
        );
        let mut b = conn(
            &format!("127.0.0.1:{}", 42_001 + 2 * pair),
            "127.0.0.1:8080",
            u32::from(pair) * 100 + 50,
        );
        capture.handshake(&mut a);
        if pair < 12 {
            capture.handshake(&mut b);
        }
        capture.exchange(&mut a, &format!("/a{pair}"), 1000 + usize::from(pair) * 300);
        if pair < 12 {
            capture.exchange(&mut b, &format!("/b{pair}"), 700);
        }
        capture.close_from_server(&mut a);
        if pair < 12 {
            capture.close_from_server(&mut b);
        }
        capture.t += 2_000_000;
    }
    capture
}

/// Keep-alive requests captured with a 96-byte snap length, in a file cut off inside its last
/// record.
fn cut_bytes(dir: &Path) -> Vec<u8> {
    let mut capture = Capture::new();
    let mut c = conn("192.168.1.2:43000", "192.168.1.1:80", 77);
    capture.handshake(&mut c);
    for path in ["/first", "/second/a/rather/long/path/name.html"] {
        capture.exchange(&mut c, path, 5000);
    }
    capture.close_from_server(&mut c);
    let full = dir.join("full.pcap");
    fixtures::write(
        &full,
        Format::PcapMicroBigEndian,
        Link::Raw.linktype(),
        &capture.frames(Link::Raw),
        96,
    );
    let mut bytes = std::fs::read(&full).unwrap();
    bytes.truncate(bytes.len() - 10);
    bytes
}

#[test]
fn analyze_output_matches_the_golden_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_pcap(&d.join("http.pcap"), 1, &http_frames().frames);
    write_pcap(&d.join("lossy.pcap"), 1, &lossy_frames().frames);
    write_pcap(&d.join("tls.pcap"), 1, &tls_frames().frames);
    let link = Link::LinuxSll;
    fixtures::write(
        &d.join("many.pcapng"),
        Format::Pcapng,
        link.linktype(),
        &many_capture().frames(link),
        65_535,
    );
    std::fs::write(d.join("cut.pcap"), cut_bytes(d)).unwrap();
    let mut problems = Vec::new();
    for (file, stem) in [
        ("http.pcap", "http"),
        ("lossy.pcap", "lossy"),
        ("tls.pcap", "tls"),
        ("many.pcapng", "many"),
        ("cut.pcap", "cut"),
    ] {
        problems.extend(check_outputs(d, file, stem, true));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// The per-connection JSON is written field by field for speed (`ConnectionJson::write`); every
/// connection of the golden captures must come out as serde_json writes the same view, so the
/// view struct stays the one source of its field names and their order.
#[test]
fn the_per_connection_json_writer_writes_what_serde_json_writes() {
    use synack::report::json::ConnectionJson;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let captures = [
        ("http.pcap", http_frames()),
        ("lossy.pcap", lossy_frames()),
        ("tls.pcap", tls_frames()),
    ];
    // The nested parts are covered too: TLS handshakes, and exchanges with their rounds.
    let (mut tls, mut rounds) = (false, false);
    for (name, frames) in captures {
        let path = d.join(name);
        write_pcap(&path, 1, &frames.frames);
        let tracked = synack::track::reader::track_file(&path, None).expect("read the capture");
        for conn in &tracked.connections {
            let view = ConnectionJson::of(conn);
            let mut ours = Vec::new();
            view.write(&mut ours);
            let theirs = serde_json::to_vec(&view).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs),
                "{name}, stream {}",
                conn.stream
            );
            tls |= conn.tls().is_some();
            rounds |= conn.exchanges.iter().any(|x| !x.rounds.is_empty());
        }
    }
    assert!(tls && rounds, "TLS seen: {tls}; rounds seen: {rounds}");
}
