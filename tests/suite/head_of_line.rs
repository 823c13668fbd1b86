//! Head-of-line blocking on h2c over a lossy emulated link (root), against an independent count
//! from tshark's fields: the server's segments (time, relative sequence number, length) give
//! when each byte first came; tshark's HTTP/2 dissector, reassembling in order, gives the
//! server's frames in byte order (type, length, stream). From those alone the test works out each
//! DATA frame's wait behind other streams' bytes — in order only once every byte before its end
//! had come, less the time until every byte of its own stream up to its end had — and holds
//! synack's per-stream figures to it. Without loss nothing waits.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// One stream's DATA frames from the server and their waits behind other streams' losses.
#[derive(Debug, Default, PartialEq)]
struct Held {
    frames: u64,
    held_frames: u64,
    held_bytes: u64,
    /// Nanoseconds.
    longest: i128,
    /// Nanoseconds.
    total: i128,
    /// The last DATA frame's wait, nanoseconds.
    last: i128,
}

/// synack's waits of one stream, seconds: one frame's longest, every frame's summed, and the
/// last frame's.
#[derive(Debug)]
struct Waits {
    longest: f64,
    total: f64,
    last: f64,
}

/// tshark's epoch time ("1796512715.667825387") in nanoseconds.
fn ns(epoch: &str) -> i128 {
    let (s, frac) = epoch.split_once('.').unwrap_or((epoch, "0"));
    let digits = format!("{frac:0<9}");
    s.parse::<i128>().unwrap() * 1_000_000_000 + digits[..9].parse::<i128>().unwrap()
}

/// Stretches of a direction's bytes, each timed by the first segment that carried them: disjoint,
/// by offset (from the first byte after the SYN).
#[derive(Default)]
struct FirstCopies(BTreeMap<u64, (u64, i128)>);

impl FirstCopies {
    /// A segment at `t` carrying bytes `start..end`: the parts no earlier segment carried.
    fn add(&mut self, t: i128, start: u64, end: u64) {
        let mut at = start;
        let covered: Vec<(u64, u64)> = self
            .0
            .range(..end)
            .map(|(&s, &(e, _))| (s, e))
            .filter(|&(_, e)| e > start)
            .collect();
        for (s, e) in covered {
            if s > at {
                self.0.insert(at, (s, t));
            }
            at = at.max(e);
        }
        if at < end {
            self.0.insert(at, (end, t));
        }
    }

    /// When the last of the bytes `start..end` came.
    fn complete(&self, start: u64, end: u64) -> i128 {
        self.0
            .range(..end)
            .filter(|&(_, &(e, _))| e > start)
            .map(|(_, &(_, t))| t)
            .max()
            .expect("the frame's bytes were captured")
    }
}

/// tshark's `fields` of the packets `filter` keeps, one row each, read with `options`.
fn fields(capture: &Path, options: &[&str], filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    let mut args = vec!["-n", "-Y", filter, "-T", "fields", "-E", "separator=;"];
    args.extend_from_slice(options);
    for f in fields {
        args.extend(["-e", f]);
    }
    let out = common::tshark_stdout(capture, &args);
    out.lines()
        .map(|line| line.split(';').map(str::to_owned).collect())
        .collect()
}

/// `fields` of the packets `filter` keeps, with the TCP port `port` decoded as HTTP/2 and each
/// direction reassembled in order, as the frames are read.
fn http2_fields(capture: &Path, port: u16, filter: &str, names: &[&str]) -> Vec<Vec<String>> {
    let decode = format!("tcp.port=={port},http2");
    let options = [
        "-d",
        &decode,
        "-o",
        "tcp.desegment_tcp_streams:TRUE",
        "-o",
        "tcp.reassemble_out_of_order:TRUE",
    ];
    fields(capture, &options, filter, names)
}

/// Per connection (tcp.stream) and stream id, the waits tshark's fields give.
fn tshark_holds(capture: &Path, port: u16) -> BTreeMap<u64, BTreeMap<u32, Held>> {
    let from_server = format!("tcp.srcport=={port} && tcp.len>0");
    let segments = fields(
        capture,
        &[],
        &from_server,
        &["tcp.stream", "frame.time_epoch", "tcp.seq", "tcp.len"],
    );
    let mut copies: BTreeMap<u64, FirstCopies> = BTreeMap::new();
    for f in &segments {
        let (conn, seq, len): (u64, u64, u64) = (
            f[0].parse().unwrap(),
            f[2].parse().unwrap(),
            f[3].parse().unwrap(),
        );
        // Relative numbers: the first byte after the SYN is 1.
        copies
            .entry(conn)
            .or_default()
            .add(ns(&f[1]), seq - 1, seq - 1 + len);
    }
    let frames = http2_fields(
        capture,
        port,
        &format!("tcp.srcport=={port} && http2.type"),
        &["tcp.stream", "http2.type", "http2.length", "http2.streamid"],
    );
    let mut out: BTreeMap<u64, BTreeMap<u32, Held>> = BTreeMap::new();
    // Per connection: the next frame's offset, and when each stream's bytes so far had all come.
    let mut offset: BTreeMap<u64, u64> = BTreeMap::new();
    let mut ready: BTreeMap<(u64, u32), i128> = BTreeMap::new();
    for f in &frames {
        let conn: u64 = f[0].parse().unwrap();
        let list = |i: usize| -> Vec<u64> { f[i].split(',').map(|v| v.parse().unwrap()).collect() };
        let (types, lens, ids) = (list(1), list(2), list(3));
        assert!(
            types.len() == lens.len() && lens.len() == ids.len(),
            "{f:?}"
        );
        let bytes = &copies[&conn];
        for ((t, len), id) in types.into_iter().zip(lens).zip(ids) {
            let id = id as u32;
            let start = *offset.entry(conn).or_default();
            let end = start + 9 + len;
            offset.insert(conn, end);
            let complete = bytes.complete(start, end);
            let stream_ready = ready.entry((conn, id)).or_insert(complete);
            *stream_ready = (*stream_ready).max(complete);
            if t != 0 {
                continue;
            }
            let delivered = bytes.complete(0, end);
            let wait = delivered - *stream_ready;
            let held = out.entry(conn).or_default().entry(id).or_default();
            held.frames += 1;
            // In byte order: the latest is the stream's last so far.
            held.last = wait.max(0);
            if wait > 0 {
                held.held_frames += 1;
                held.held_bytes += len;
                held.longest = held.longest.max(wait);
                held.total += wait;
            }
        }
    }
    out
}

/// synack's per-stream figures for each cleartext HTTP/2 connection of `analyze --json`.
fn synack_holds(analyzed: &Value) -> BTreeMap<u64, BTreeMap<u32, (Held, Waits)>> {
    let mut out = BTreeMap::new();
    for c in analyzed["connections"].as_array().unwrap() {
        let Some(hol) = c["http2"]["head_of_line"].as_object() else {
            continue;
        };
        let streams = hol["streams"].as_array().unwrap().iter().map(|s| {
            let n = |k: &str| s[k].as_u64().unwrap();
            let held = Held {
                frames: n("data_frames"),
                held_frames: n("held_frames"),
                held_bytes: n("held_bytes"),
                longest: 0,
                total: 0,
                last: 0,
            };
            let secs = |k: &str| s[k].as_f64().unwrap();
            (
                n("stream") as u32,
                (
                    held,
                    Waits {
                        longest: secs("longest_wait_s"),
                        total: secs("total_wait_s"),
                        last: secs("last_frame_wait_s"),
                    },
                ),
            )
        });
        out.insert(c["stream"].as_u64().unwrap(), streams.collect());
    }
    out
}

/// Runs h2c over a 40 ms link with `loss`; returns the capture, the server's port and the
/// client's port of the run's connection.
fn h2c_capture(dir: &Path, loss: &str) -> (PathBuf, u16, u16) {
    let report = common::compare_report(
        dir,
        &[
            "--rtt", "40ms", "--loss", loss, "--seed", "7", "--rounds", "1", "--modes", "h2c",
        ],
    );
    let capture = PathBuf::from(report["captures"]["h2c"].as_str().unwrap());
    let connection = &report["modes"]["h2c"]["runs"][0]["connections"][0];
    let port = |end: &str| -> u16 {
        let address = connection[end].as_str().unwrap();
        address.rsplit(':').next().unwrap().parse().unwrap()
    };
    (capture, port("server"), port("client"))
}

/// Per stream, the server's segments of one connection whose bytes are mostly that stream's
/// DATA (the lower stream id on a tie), from tshark's segments and its frames in byte order.
fn tshark_segment_streams(capture: &Path, port: u16, client: u16) -> BTreeMap<u32, usize> {
    let from_server = format!("tcp.srcport=={port} && tcp.dstport=={client}");
    let segments = fields(
        capture,
        &[],
        &format!("{from_server} && tcp.len>0"),
        &["tcp.seq", "tcp.len"],
    );
    let frames = http2_fields(
        capture,
        port,
        &format!("{from_server} && http2.type"),
        &["http2.type", "http2.length", "http2.streamid"],
    );
    // (start, end, stream) of each DATA frame, header included, in byte order.
    let mut data: Vec<(u64, u64, u32)> = Vec::new();
    let mut offset = 0;
    for f in &frames {
        let list = |i: usize| -> Vec<u64> { f[i].split(',').map(|v| v.parse().unwrap()).collect() };
        for ((t, len), id) in list(0).into_iter().zip(list(1)).zip(list(2)) {
            let end = offset + 9 + len;
            if t == 0 {
                data.push((offset, end, id as u32));
            }
            offset = end;
        }
    }
    let mut counts = BTreeMap::new();
    for f in &segments {
        let (seq, len): (u64, u64) = (f[0].parse().unwrap(), f[1].parse().unwrap());
        let (start, end) = (seq - 1, seq - 1 + len);
        let mut held: BTreeMap<u32, u64> = BTreeMap::new();
        for &(s, e, id) in data.iter().filter(|&&(s, e, _)| s < end && e > start) {
            *held.entry(id).or_default() += e.min(end) - s.max(start);
        }
        // Ascending ids: the first of the largest wins a tie.
        let most = held.values().copied().max();
        if let Some(id) = held
            .iter()
            .find(|(_, b)| Some(**b) == most)
            .map(|(id, _)| *id)
        {
            *counts.entry(id).or_default() += 1;
        }
    }
    counts
}

/// The client's port of connection `conn` (tshark's `tcp.stream`).
fn tshark_conn_port(capture: &Path, conn: u64) -> Option<u16> {
    let syn = format!("tcp.stream=={conn} && tcp.flags.syn==1 && tcp.flags.ack==0");
    fields(capture, &[], &syn, &["tcp.srcport"])
        .first()
        .map(|f| f[0].parse().unwrap())
}

/// The data segments the report page's time–sequence graph of the h2c connection gives each
/// stream ("stream 3 (b.mp3): 2901 data segments, …").
fn page_segment_streams(page: &str, ids: impl Iterator<Item = u32>) -> BTreeMap<u32, usize> {
    ids.map(|id| {
        let at = page
            .find(&format!("stream {id} ("))
            .unwrap_or_else(|| panic!("stream {id} is on the page"));
        let caption = &page[at..];
        let count = caption[caption.find("): ").unwrap() + 3..]
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        (id, count)
    })
    .collect()
}

#[test]
fn head_of_line_waits_match_tsharks_count_as_root() {
    let test = "head_of_line_waits_match_tsharks_count_as_root";
    if !common::require_root(test) || !common::have_tshark(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (capture, port, client) = h2c_capture(dir.path(), "3%");
    let analyzed = common::analyze_json(&capture, &[]);
    let ours = synack_holds(&analyzed);
    let theirs = tshark_holds(&capture, port);
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>()
    );
    let mut held = 0;
    for (conn, streams) in &theirs {
        let mine = &ours[conn];
        assert_eq!(
            mine.keys().collect::<Vec<_>>(),
            streams.keys().collect::<Vec<_>>()
        );
        for (id, t) in streams {
            let (
                m,
                Waits {
                    longest,
                    total,
                    last,
                },
            ) = &mine[id];
            let at = format!("connection {conn}, stream {id}");
            assert_eq!(
                (m.frames, m.held_frames, m.held_bytes),
                (t.frames, t.held_frames, t.held_bytes),
                "{at}"
            );
            // Seconds from nanoseconds: equal to a rounding.
            assert!(
                (longest - t.longest as f64 / 1e9).abs() < 1e-7,
                "{at}: {longest} {t:?}"
            );
            assert!(
                (total - t.total as f64 / 1e9).abs() < 1e-6,
                "{at}: {total} {t:?}"
            );
            assert!(
                (last - t.last as f64 / 1e9).abs() < 1e-7,
                "{at}: {last} {t:?}"
            );
            held += t.held_frames;
        }
    }
    // At 3 % loss over a few megabytes some frame waited behind another stream's loss, and the
    // text report shows the table.
    assert!(held > 0, "{theirs:?}");
    // The page draws each of the connection's segments in the colour of the stream whose DATA
    // it carries most of: as many per stream as tshark's frames give.
    let streams = tshark_segment_streams(&capture, port, client);
    assert!(streams.len() >= 3, "{streams:?}");
    let page = std::fs::read_to_string(capture.with_file_name("report.html")).unwrap();
    assert_eq!(
        page_segment_streams(&page, streams.keys().copied()),
        streams
    );
    // The verdict names the files whose last DATA frame waited behind another stream's loss
    // (stream 2k + 1 carries the k-th file), and no other.
    let report: Value =
        serde_json::from_slice(&std::fs::read(capture.with_file_name("report.json")).unwrap())
            .unwrap();
    let run_conn = theirs
        .keys()
        .copied()
        .find(|&conn| tshark_conn_port(&capture, conn) == Some(client))
        .unwrap();
    let files = report["files"].as_array().unwrap();
    let late: Vec<&str> = theirs[&run_conn]
        .iter()
        .filter(|(id, t)| *id % 2 == 1 && t.last > 0)
        .map(|(id, _)| files[(id / 2) as usize]["name"].as_str().unwrap())
        .collect();
    let summary = report["summary"].as_array().unwrap();
    let line = summary
        .iter()
        .filter_map(Value::as_str)
        .find(|l| l.starts_with("Head-of-line blocking on h2c"));
    match line {
        None => assert!(late.is_empty(), "{late:?} waited: {summary:?}"),
        Some(line) => {
            for f in files.iter().filter_map(|f| f["name"].as_str()) {
                assert_eq!(line.contains(f), late.contains(&f), "{f}: {line}");
            }
        }
    }
    let text = common::synack()
        .arg("analyze")
        .arg(&capture)
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    let text = common::ran(&text);
    assert!(text.contains("frames held"), "{text}");
}

#[test]
fn without_loss_no_head_of_line_wait_as_root() {
    let test = "without_loss_no_head_of_line_wait_as_root";
    if !common::require_root(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (capture, _, _) = h2c_capture(dir.path(), "0%");
    let analyzed = common::analyze_json(&capture, &[]);
    let ours = synack_holds(&analyzed);
    assert!(!ours.is_empty());
    for (conn, streams) in &ours {
        for (
            id,
            (
                m,
                Waits {
                    longest,
                    total,
                    last,
                },
            ),
        ) in streams
        {
            assert_eq!(
                (m.held_frames, *longest, *total, *last),
                (0, 0.0, 0.0, 0.0),
                "connection {conn}, stream {id}"
            );
        }
    }
    let text = common::synack()
        .arg("analyze")
        .arg(&capture)
        .output()
        .unwrap();
    let text = common::ran(&text);
    assert!(
        text.contains("Head-of-line blocking: no DATA frame waited"),
        "{text}"
    );
}
