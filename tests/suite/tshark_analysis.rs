//! The tracker's per-connection analysis against tshark on captures of the emulated link (root):
//! each request's target as tshark's HTTP dissector reads it, each response's rounds, derived
//! independently here from tshark's packet fields, and the retransmission classes of Wireshark's
//! sequence analysis, per stream, on a lossy link.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use synack::track::ROUND_BOUNDARY_RTT_FRACTION;
use synack::track::reader::track_file;

/// Runs `synack compare ARGS` over the emulated link; returns its captures by mode.
fn captures(dir: &Path, args: &[&str]) -> BTreeMap<String, PathBuf> {
    let report = common::compare_report(dir, args);
    report["captures"]
        .as_object()
        .expect("captures in the report")
        .iter()
        .map(|(mode, path)| (mode.clone(), PathBuf::from(path.as_str().unwrap())))
        .collect()
}

/// One TCP packet as tshark shows it.
#[derive(Debug, Clone)]
struct Packet {
    /// frame.time_epoch in nanoseconds.
    ts: i64,
    stream: usize,
    src_port: u16,
    seq: u32,
    len: u32,
    ack: u32,
    syn: bool,
    ack_flag: bool,
    fin: bool,
}

/// `tshark -T fields` with `fields` after the ones `Packet` needs, one row per TCP packet.
fn tshark_rows(path: &Path, extra: &[&str]) -> Vec<(Packet, Vec<String>)> {
    let mut args: Vec<&str> = vec!["-n", "-Y", "tcp", "-T", "fields", "-E", "separator=;"];
    let fields = [
        "frame.time_epoch",
        "tcp.stream",
        "tcp.srcport",
        "tcp.seq_raw",
        "tcp.len",
        "tcp.ack_raw",
        "tcp.flags.syn",
        "tcp.flags.ack",
        "tcp.flags.fin",
    ];
    for f in fields.iter().chain(extra) {
        args.extend(["-e", f]);
    }
    common::tshark_stdout(path, &args)
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split(';').collect();
            assert_eq!(f.len(), fields.len() + extra.len(), "{line:?}");
            let flag = |s: &str| s == "1" || s == "True";
            let packet = Packet {
                ts: epoch_ns(f[0]),
                stream: f[1].parse().unwrap(),
                src_port: f[2].parse().unwrap(),
                seq: f[3].parse().unwrap(),
                len: f[4].parse().unwrap(),
                ack: f[5].parse().unwrap_or(0),
                syn: flag(f[6]),
                ack_flag: flag(f[7]),
                fin: flag(f[8]),
            };
            let rest = f[fields.len()..].iter().map(|s| s.to_string()).collect();
            (packet, rest)
        })
        .collect()
}

/// "1764569226.242512000" → nanoseconds.
fn epoch_ns(text: &str) -> i64 {
    let (secs, frac) = text.split_once('.').unwrap_or((text, "0"));
    let frac = format!("{frac:0<9}");
    secs.parse::<i64>().unwrap() * 1_000_000_000 + frac[..9].parse::<i64>().unwrap()
}

/// Is `a` before `b` in sequence space?
fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// (start, end, segments, bytes) of each round of each response, per stream, by the definition:
/// round 1 starts with the response's first data segment; round k+1 with the first new server
/// data segment seen at or after A_k + fraction × (latest client SYN → first SYN-ACK), where A_k
/// is when the first client ACK covering the end of round k's first segment was seen.
type Rounds = Vec<(i64, i64, u32, u64)>;

fn tshark_rounds(path: &Path) -> BTreeMap<usize, Vec<Rounds>> {
    #[derive(Default)]
    struct Stream {
        client_port: Option<u16>,
        latest_syn: Option<i64>,
        rtt: Option<i64>,
        /// One past the highest sequence number each side sent: client, server.
        next: [Option<u32>; 2],
        responses: Vec<Rounds>,
        answered: bool,
        first_end: Option<u32>,
        acked_at: Option<i64>,
    }
    let mut streams: BTreeMap<usize, Stream> = BTreeMap::new();
    for (p, _) in tshark_rows(path, &[]) {
        let s = streams.entry(p.stream).or_default();
        if p.syn && !p.ack_flag && s.client_port.is_none() {
            s.client_port = Some(p.src_port);
        }
        let client = s.client_port == Some(p.src_port);
        let side = usize::from(!client);
        if p.syn && !p.ack_flag && client && s.rtt.is_none() {
            s.latest_syn = Some(p.ts);
        }
        if p.syn && p.ack_flag && !client && s.rtt.is_none() {
            s.rtt = s.latest_syn.map(|syn| p.ts - syn);
        }
        let occupied = p.len + u32::from(p.syn) + u32::from(p.fin);
        let end = p.seq.wrapping_add(occupied);
        let new = s.next[side].is_none_or(|n| !before(p.seq, n));
        if occupied > 0 && s.next[side].is_none_or(|n| before(n, end)) {
            s.next[side] = Some(end);
        }
        if client && p.ack_flag {
            let covers = s.first_end.is_some_and(|e| !before(p.ack, e));
            if covers && s.acked_at.is_none() {
                s.acked_at = Some(p.ts);
            }
        }
        if p.len == 0 {
            continue;
        }
        if client {
            if new && (s.responses.is_empty() || s.answered) {
                s.responses.push(Vec::new());
                s.answered = false;
                s.first_end = None;
                s.acked_at = None;
            }
            continue;
        }
        let margin = (s.rtt.unwrap_or(0) as f64 * ROUND_BOUNDARY_RTT_FRACTION) as i64;
        let acked_at = s.acked_at;
        let Some(rounds) = s.responses.last_mut() else {
            continue;
        };
        s.answered = true;
        let opens = rounds.is_empty() || (new && acked_at.is_some_and(|a| p.ts >= a + margin));
        if opens {
            rounds.push((p.ts, p.ts, 0, 0));
            s.first_end = Some(p.seq.wrapping_add(p.len));
            s.acked_at = None;
        }
        let round = rounds.last_mut().unwrap();
        round.1 = round.1.max(p.ts);
        round.2 += 1;
        round.3 += u64::from(p.len);
    }
    streams
        .into_iter()
        .map(|(stream, s)| (stream, s.responses))
        .collect()
}

/// synack's rounds of the same capture, in the same shape.
fn synack_rounds(path: &Path) -> BTreeMap<usize, Vec<Rounds>> {
    let tracked = track_file(path, None).expect("read capture");
    tracked
        .connections
        .iter()
        .map(|c| {
            let responses = c
                .exchanges
                .iter()
                .map(|x| {
                    x.rounds
                        .iter()
                        .map(|r| (r.start.0, r.end.0, r.segments, r.bytes))
                        .collect()
                })
                .collect();
            (c.stream, responses)
        })
        .collect()
}

/// Each stream's request targets as synack's tracker reads them.
fn synack_targets(path: &Path) -> BTreeMap<usize, Vec<String>> {
    let tracked = track_file(path, None).expect("read capture");
    tracked
        .connections
        .iter()
        .map(|c| {
            let targets = c
                .exchanges
                .iter()
                .map(|x| x.target.clone().unwrap_or_default());
            (c.stream, targets.collect())
        })
        .collect()
}

/// Compares the request targets and the rounds of both captures of a run under `congestion`;
/// returns the round counts of each connection's responses, with its mode.
fn rounds_agree(congestion: &str) -> Vec<(String, Vec<usize>)> {
    let dir = tempfile::tempdir().unwrap();
    let caps = captures(
        dir.path(),
        &[
            "--rtt",
            "40ms",
            "--rounds",
            "2",
            "--congestion",
            congestion,
            "--modes",
            "non-persistent,persistent",
        ],
    );
    let mut rounds = Vec::new();
    for (mode, pcap) in &caps {
        let (ours, theirs) = (synack_targets(pcap), common::tshark_request_uris(pcap));
        assert!(!theirs.is_empty(), "{mode}: tshark found no HTTP request");
        assert_eq!(ours, theirs, "{mode}: request targets differ from tshark's");
        let (ours, theirs) = (synack_rounds(pcap), tshark_rounds(pcap));
        assert_eq!(
            ours, theirs,
            "{congestion} {mode}: rounds differ from tshark's"
        );
        for (stream, responses) in &ours {
            let counts: Vec<usize> = responses.iter().map(Vec::len).collect();
            println!("{congestion} {mode} stream {stream}: rounds per response {counts:?}");
            rounds.push((mode.clone(), counts));
        }
    }
    rounds
}

fn rounds_test(congestion: &str, test: &str) {
    if !common::require_root(test) || !common::have_tshark(test) {
        return;
    }
    let rounds = rounds_agree(congestion);
    // a.jpg, b.mp3 (4 MiB), c.txt on each persistent connection.
    let persistent: Vec<_> = rounds.iter().filter(|(m, _)| *m == "persistent").collect();
    assert!(!persistent.is_empty());
    for (_, counts) in persistent {
        assert_eq!(counts.len(), 3, "{counts:?}");
    }
    // The rounds compared include responses of several: 4 MiB from a fresh window cannot come in
    // one or two round trips' bursts. (How many the capture shows is the machine's too: a
    // sender slowed by a busy machine runs rounds together, in tshark's count as in synack's.)
    let most = rounds.iter().flat_map(|(_, c)| c).max().copied();
    assert!(most >= Some(3), "{congestion}: {rounds:?}");
}

#[test]
fn rounds_match_tshark_under_bbr_as_root() {
    rounds_test("bbr", "rounds_match_tshark_under_bbr_as_root");
}

#[test]
fn rounds_match_tshark_under_cubic_as_root() {
    rounds_test("cubic", "rounds_match_tshark_under_cubic_as_root");
}

/// synack's count of one class.
type Count = fn(&synack::track::FlagCounts) -> u64;

/// Wireshark's sequence-analysis classes and synack's count of each.
const CLASSES: [(&str, Count); 6] = [
    ("tcp.analysis.retransmission", |c| c.retransmissions),
    ("tcp.analysis.fast_retransmission", |c| {
        c.fast_retransmissions
    }),
    ("tcp.analysis.spurious_retransmission", |c| {
        c.spurious_retransmissions
    }),
    ("tcp.analysis.out_of_order", |c| c.out_of_order),
    ("tcp.analysis.lost_segment", |c| c.lost_segments),
    ("tcp.analysis.duplicate_ack", |c| c.dup_acks),
];

/// Packets tshark marks with `field`, per stream.
fn tshark_marked(path: &Path, field: &str) -> BTreeMap<usize, u64> {
    let out = Command::new("tshark")
        .arg("-n")
        .arg("-r")
        .arg(path)
        .args(["-Y", field, "-T", "fields", "-e", "tcp.stream"])
        .env("HOME", std::env::temp_dir())
        .output()
        .expect("run tshark");
    common::ran(&out);
    let mut per_stream = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        *per_stream.entry(line.parse().unwrap()).or_insert(0) += 1;
    }
    per_stream
}

/// Each class per stream of `pcap`, synack's and tshark's; returns the totals per class.
fn classes_agree(pcap: &Path, what: &str) -> Vec<u64> {
    let tracked = track_file(pcap, None).expect("read capture");
    let mut totals = Vec::new();
    for (field, ours) in CLASSES {
        let theirs = tshark_marked(pcap, field);
        let mine: BTreeMap<usize, u64> = tracked
            .connections
            .iter()
            .map(|c| (c.stream, ours(&c.counts)))
            .filter(|&(_, n)| n > 0)
            .collect();
        assert_eq!(mine, theirs, "{what}: {field} per stream (synack, tshark)");
        totals.push(theirs.values().sum());
    }
    totals
}

fn lossy_link_test(seed: &str, test: &str) {
    if !common::require_root(test) || !common::have_tshark(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let caps = captures(
        dir.path(),
        &[
            "--rtt",
            "10ms",
            "--loss",
            "3%",
            "--seed",
            seed,
            "--rounds",
            "1",
            "--modes",
            "non-persistent,persistent",
        ],
    );
    let mut resent = 0;
    for (mode, pcap) in &caps {
        let totals = classes_agree(pcap, &format!("seed {seed} {mode}"));
        println!("seed {seed} {mode}: {CLASSES_NAMES} = {totals:?}");
        resent += totals[0] + totals[3];
    }
    assert!(resent > 0, "seed {seed}: 3% loss and nothing resent");
}

const CLASSES_NAMES: &str =
    "[retransmission, fast, spurious, out-of-order, lost segment, duplicate ACK]";

#[test]
fn retransmission_classes_match_tshark_on_a_lossy_link_seed_11_as_root() {
    lossy_link_test(
        "11",
        "retransmission_classes_match_tshark_on_a_lossy_link_seed_11_as_root",
    );
}

#[test]
fn retransmission_classes_match_tshark_on_a_lossy_link_seed_7_as_root() {
    lossy_link_test(
        "7",
        "retransmission_classes_match_tshark_on_a_lossy_link_seed_7_as_root",
    );
}

#[test]
fn retransmission_classes_match_tshark_on_a_lossy_link_seed_3_as_root() {
    lossy_link_test(
        "3",
        "retransmission_classes_match_tshark_on_a_lossy_link_seed_3_as_root",
    );
}
