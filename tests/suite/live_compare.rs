//! End-to-end `synack compare` on loopback with live capture (root), and without privileges.

use crate::common;

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

#[test]
fn live_compare_on_loopback_as_root() {
    if !common::require_root("live_compare_on_loopback_as_root") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("extra.json");
    let out = common::synack()
        .args(["compare", "--no-pdf", "--full", "--rounds", "3"])
        .arg("--captures")
        .arg(dir.path().join("captures"))
        .arg("--out")
        .arg(dir.path().join("received"))
        .arg("--json")
        .arg(&json_path)
        .arg("-v")
        .env("SUDO_UID", "65534")
        .env("SUDO_GID", "65534")
        .timeout(std::time::Duration::from_secs(300))
        .output()
        .unwrap();
    let stdout = common::ran(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("capture skipped"), "{stderr}");
    for heading in [
        "Timing over 3 rounds",
        "Packets, non-persistent",
        "Packets, persistent",
        "Phases",
        "Where the gap goes",
        "Saved",
    ] {
        assert!(stdout.contains(heading), "missing {heading:?} in\n{stdout}");
    }
    let report: Value = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    assert_eq!(report["rounds"], 3);
    let files = report["files"].as_array().unwrap();
    assert_eq!(files.len(), 3);

    for (mode, per_run) in [("non-persistent", 3u64), ("persistent", 1)] {
        let m = &report["modes"][mode];
        let runs = m["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 3);
        for run in runs {
            let t = &run["totals"];
            assert_eq!(t["connections"], per_run, "{mode}: {t}");
            // A SYN or FIN resent (a tail loss probe when the machine is busy) is counted as
            // Wireshark counts it, and is not a second handshake or teardown.
            let u = |k: &str| t[k].as_u64().unwrap();
            assert!(u("syn") >= per_run && u("synack") >= per_run, "{mode}: {t}");
            assert_eq!(
                u("syn") + u("synack"),
                2 * per_run + u("resent_syn"),
                "{mode}: {t}"
            );
            assert_eq!(t["handshake_ack"], per_run, "{mode}: {t}");
            assert_eq!(u("fin"), 2 * per_run + u("resent_fin"), "{mode}: {t}");
            assert_eq!(t["rst"], 0, "{mode}: {t}");
            for f in run["files"].as_array().unwrap() {
                assert_eq!(f["sha256_ok"], true, "{mode}: {f}");
            }
        }
        // Received files equal the sources byte for byte.
        for f in files {
            let received = dir
                .path()
                .join("received")
                .join(mode)
                .join(f["name"].as_str().unwrap());
            let digest = common::sha256_hex(&received);
            assert_eq!(
                digest,
                f["sha256"].as_str().unwrap(),
                "{}",
                received.display()
            );
        }
        // The saved capture, read again, gives the same totals; and tshark agrees.
        let pcap = PathBuf::from(report["captures"][mode].as_str().unwrap());
        let totals = common::analyze_json(&pcap, &[])["totals"].clone();
        for key in [
            "connections",
            "syn",
            "synack",
            "handshake_ack",
            "pure_ack",
            "data",
            "fin",
            "rst",
            "packets",
            "bytes",
        ] {
            assert_eq!(
                totals[key].as_u64().unwrap(),
                common::sum_runs(m, key),
                "{mode} {key}"
            );
        }
        if common::have_tshark("live_compare_on_loopback_as_root") {
            common::assert_matches_tshark(&pcap, &totals);
            // The pcapng's section comment, as Wireshark's capinfos reads it, names the run.
            let info = std::process::Command::new("capinfos")
                .args(["-k"])
                .arg(&pcap)
                .output()
                .expect("capinfos runs");
            let info = String::from_utf8_lossy(&info.stdout);
            let comment = info
                .lines()
                .find_map(|l| l.strip_prefix("Capture comment:"))
                .unwrap_or_else(|| panic!("no capture comment in {}:\n{info}", pcap.display()));
            for said in [
                format!("mode: {mode}"),
                "rounds: 3 of each mode".to_owned(),
                "round 3 started".to_owned(),
                "command: ".to_owned(),
            ] {
                assert!(comment.contains(&said), "{said:?} not in {comment}");
            }
            assert!(
                pcap.extension().is_some_and(|e| e == "pcapng"),
                "{}",
                pcap.display()
            );
            // analyze reads back the comment capinfos reads (capinfos prints its lines on one).
            let analyzed = common::analyze_json(&pcap, &[]);
            let read_back = analyzed["capture_comment"].as_str().unwrap_or_default();
            let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
            assert_eq!(words(read_back), words(comment), "{}", pcap.display());
            // Each response's rounds hold every byte the server sent, as tshark counts them.
            let analyzed = common::analyze_json(&pcap, &[]);
            let in_rounds: u64 = analyzed["connections"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|c| c["exchanges"].as_array().unwrap())
                .flat_map(|x| x["rounds"].as_array().unwrap())
                .map(|r| r["bytes"].as_u64().unwrap())
                .sum();
            let server_port = analyzed["connections"][0]["server"]
                .as_str()
                .unwrap()
                .rsplit(':')
                .next()
                .unwrap()
                .to_owned();
            let out = Command::new("tshark")
                .arg("-r")
                .arg(&pcap)
                .args(["-Y", &format!("tcp.srcport=={server_port}")])
                .args(["-T", "fields", "-e", "tcp.len"])
                .output()
                .unwrap();
            let sent: u64 = String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(|l| l.trim().parse::<u64>().unwrap_or(0))
                .sum();
            assert_eq!(in_rounds, sent, "{mode}");
        }
    }

    let a = &report["attribution"];
    let gap = a["gap_s"].as_f64().unwrap();
    let rows: f64 = [
        "handshake_s",
        "between_s",
        "transfer_s",
        "wait_s",
        "client_s",
        "remainder_s",
    ]
    .iter()
    .map(|k| a[k].as_f64().unwrap())
    .sum();
    assert!((rows - gap).abs() < 1e-9, "rows {rows} != gap {gap}");
    // The remainder is what lies outside each run's first SYN → last byte: computed another way,
    // from the runs' totals and timelines, it must agree.
    let outside = |mode: &str| {
        let runs = report["modes"][mode]["runs"].as_array().unwrap();
        runs.iter()
            .map(|r| r["total_s"].as_f64().unwrap() - r["phases"]["timeline_s"].as_f64().unwrap())
            .sum::<f64>()
            / runs.len() as f64
    };
    let remainder = a["remainder_s"].as_f64().unwrap();
    let expected = outside("non-persistent") - outside("persistent");
    assert!(
        (remainder - expected).abs() < 1e-9,
        "remainder {remainder} != {expected}"
    );
    // Each run's phases partition its first SYN → last byte timeline.
    for mode in ["non-persistent", "persistent"] {
        for run in report["modes"][mode]["runs"].as_array().unwrap() {
            let p = &run["phases"];
            let sum: f64 = [
                "handshake_s",
                "client_s",
                "wait_s",
                "transfer_s",
                "closing_s",
                "between_s",
            ]
            .iter()
            .map(|k| p[k].as_f64().unwrap())
            .sum();
            let timeline = p["timeline_s"].as_f64().unwrap();
            assert!((sum - timeline).abs() < 1e-9, "{mode}: {p}");
            assert!(timeline > 0.0 && timeline <= run["total_s"].as_f64().unwrap());
            // The total ends at the last byte; closing after it is a figure of its own.
            assert!(run["close_s"].as_f64().unwrap() >= 0.0, "{run}");
        }
    }
    // Every round ran every mode once, in an order of its own.
    let rounds = report["rounds"].as_u64().unwrap() as usize;
    let order = report["order"].as_array().unwrap();
    assert_eq!(order.len(), rounds);
    for round in order {
        let mut modes: Vec<&str> = round
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap())
            .collect();
        modes.sort_unstable();
        assert_eq!(modes, ["non-persistent", "persistent"]);
    }
    // On loopback a round trip takes microseconds, so the slow-start row, priced per round trip,
    // is near zero by measurement.
    assert!(report["measured_rtt_s"].as_f64().unwrap() < 0.001);
    let slow_start = report["attribution"]["slow_start_s"].as_f64().unwrap();
    assert!(slow_start.abs() < 0.001, "{}", report["attribution"]);
    // The report opens with the loopback note and the verdict, also in the JSON.
    let summary = report["summary"].as_array().unwrap();
    let loopback = summary[0].as_str().unwrap();
    assert!(loopback.contains("--rtt"), "{summary:?}");
    // Where segments were resent on loopback (a loaded machine), the line counts them as tshark
    // marks them over both captures.
    if common::have_tshark("live_compare_on_loopback_as_root") {
        let marked: usize = ["non-persistent", "persistent"]
            .iter()
            .map(|mode| {
                let pcap = PathBuf::from(report["captures"][mode].as_str().unwrap());
                let filter = "tcp.analysis.retransmission || tcp.analysis.out_of_order";
                common::tshark_stdout(&pcap, &["-Y", filter])
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .count()
            })
            .sum();
        let told = loopback
            .split_once("the waits of ")
            .and_then(|(_, rest)| rest.split(' ').next()?.parse::<usize>().ok());
        assert_eq!(told.unwrap_or(0), marked, "{loopback}");
    }
    let verdict = report["verdicts"]["non-persistent"]["sentence"]
        .as_str()
        .unwrap();
    assert_eq!(summary[1].as_str(), Some(verdict));
    // Written under sudo, the files belong to the invoking user.
    use std::os::unix::fs::MetadataExt;
    let pcap = PathBuf::from(report["captures"]["persistent"].as_str().unwrap());
    for path in [
        pcap.clone(),
        pcap.parent().unwrap().to_path_buf(),
        dir.path().join("received/persistent/a.jpg"),
        json_path.clone(),
    ] {
        assert_eq!(
            std::fs::metadata(&path).unwrap().uid(),
            65534,
            "{}",
            path.display()
        );
    }
    // report.json beside the captures is the same report.
    let saved = PathBuf::from(report["captures"]["persistent"].as_str().unwrap())
        .with_file_name("report.json");
    let saved: Value = serde_json::from_slice(&std::fs::read(saved).unwrap()).unwrap();
    assert_eq!(
        saved["modes"]["persistent"]["runs"][0]["totals"],
        report["modes"]["persistent"]["runs"][0]["totals"]
    );
}

#[test]
fn compare_without_privileges_runs_timing_only_as_root() {
    if !common::require_root("compare_without_privileges_runs_timing_only_as_root") {
        return;
    }
    // Run a copy of the binary as nobody, with no capabilities, in a folder it may write.
    let dir = tempfile::tempdir().unwrap();
    let binary = dir.path().join("synack");
    std::fs::copy(assert_cmd::cargo::cargo_bin("synack"), &binary).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = || {
        Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
            ])
            .arg(&binary)
            .args([
                "compare",
                "--no-pdf",
                "--full",
                "--rounds",
                "2",
                "--captures",
                "c",
                "--out",
                "r",
            ])
            .current_dir(dir.path())
            .env_remove("SUDO_UID")
            .output()
            .expect("run setpriv")
    };
    // Another test thread that forks while the copy is open for writing hands its child the
    // descriptor until that child's exec: running the copy meanwhile fails with ETXTBSY. A few
    // tries, a moment apart, outlast that window.
    let mut out = run();
    for _ in 0..20 {
        if !String::from_utf8_lossy(&out.stderr).contains("Text file busy") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        out = run();
    }
    let stdout = common::ran(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let hint: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("capture skipped"))
        .collect();
    assert_eq!(hint.len(), 1, "{stderr}");
    assert!(
        hint[0].contains("setcap cap_net_raw,cap_net_admin=eip"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stdout.contains("Where the gap goes"), "{stdout}");
    assert!(
        stdout.contains("client"),
        "phase source should be the client: {stdout}"
    );
    let reports: Vec<_> = std::fs::read_dir(dir.path().join("c")).unwrap().collect();
    assert_eq!(reports.len(), 1);
    let run_dir = reports[0].as_ref().unwrap().path();
    let report: Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["modes"]["non-persistent"]["phase_source"], "client");
    assert_eq!(report["captures"]["persistent"], Value::Null);
    assert_eq!(
        report["modes"]["persistent"]["runs"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn live_compare_all_four_modes_as_root() {
    if !common::require_root("live_compare_all_four_modes_as_root") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("r.json");
    let out = common::synack()
        .args([
            "compare",
            "--no-pdf",
            "--full",
            "--rounds",
            "2",
            "--modes",
            "non-persistent,persistent,pipelined,parallel",
            "--parallel",
            "2",
        ])
        .arg("--captures")
        .arg(dir.path().join("c"))
        .arg("--out")
        .arg(dir.path().join("r"))
        .arg("--json")
        .arg(&json_path)
        .timeout(std::time::Duration::from_secs(300))
        .output()
        .unwrap();
    let stdout = common::ran(&out);
    for heading in [
        "Where the gap goes: pipelined against persistent",
        "Where the gap goes: parallel against persistent",
        "The model (RTT",
        "Slow start: the server's TCP_INFO",
        "Kernel: tcp_slow_start_after_idle=",
    ] {
        assert!(stdout.contains(heading), "missing {heading:?} in\n{stdout}");
    }
    let report: Value = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    for (mode, per_run) in [("pipelined", 1u64), ("parallel", 3)] {
        for run in report["modes"][mode]["runs"].as_array().unwrap() {
            assert_eq!(run["totals"]["connections"], per_run, "{mode}");
            assert_eq!(run["totals"]["rst"], 0, "{mode}");
            assert!(
                run["files"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|f| f["sha256_ok"] == true)
            );
            let p = &run["phases"];
            let sum: f64 = [
                "handshake_s",
                "client_s",
                "wait_s",
                "transfer_s",
                "closing_s",
                "between_s",
            ]
            .iter()
            .map(|k| p[k].as_f64().unwrap())
            .sum();
            assert!(
                (sum - p["timeline_s"].as_f64().unwrap()).abs() < 1e-9,
                "{mode}: {p}"
            );
        }
        let a = &report["attributions"][mode];
        let rows: f64 = [
            "handshake_s",
            "between_s",
            "transfer_s",
            "wait_s",
            "client_s",
            "remainder_s",
        ]
        .iter()
        .map(|k| a[k].as_f64().unwrap())
        .sum();
        assert!(
            (rows - a["gap_s"].as_f64().unwrap()).abs() < 1e-9,
            "{mode}: {a}"
        );
        assert!(
            report["model"]["predictions"][mode]["total_s"]
                .as_f64()
                .unwrap()
                > 0.0
        );
        // One TCP_INFO sample per file per run, taken on the server's socket.
        let samples = report["modes"][mode]["tcp_info"].as_array().unwrap();
        assert_eq!(samples.len(), 3 * 2, "{mode}");
        assert!(
            samples
                .iter()
                .all(|s| s["at_start"]["cwnd"].as_u64().unwrap() > 0)
        );
    }
    // A persistent connection carries its window over: the second file does not start from zero
    // bytes acknowledged, while every non-persistent response does.
    let persistent = report["modes"]["persistent"]["tcp_info"]
        .as_array()
        .unwrap();
    assert!(
        persistent
            .iter()
            .any(|s| s["at_start"]["bytes_acked"].as_u64().unwrap() > 0)
    );
    let np = report["modes"]["non-persistent"]["tcp_info"]
        .as_array()
        .unwrap();
    assert!(
        np.iter()
            .all(|s| s["at_start"]["bytes_acked"].as_u64().unwrap() <= 1)
    );
    assert!(report["kernel"]["tcp_fin_timeout_s"].as_u64().is_some());
}

/// The widest line of `text`, in characters (box-drawing characters count one each).
/// What `compare` prints for two rounds of all four modes (and `extra`) in a terminal `width`
/// columns wide; it must succeed.
fn four_modes_at_width(dir: &std::path::Path, width: usize, extra: &[&str]) -> String {
    let out = common::compare_in(dir)
        .args(["--rounds", "2", "--modes"])
        .arg("non-persistent,persistent,pipelined,parallel")
        .args(extra)
        .env("COLUMNS", width.to_string())
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    common::ran(&out)
}

fn widest(text: &str) -> usize {
    text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

#[test]
fn report_fits_80_100_and_160_columns_as_root() {
    if !common::require_root("report_fits_80_100_and_160_columns_as_root") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut pcap = None;
    // By default, one screen: the verdict and the modes side by side, each on a row of its own.
    let brief = four_modes_at_width(dir.path(), 100, &[]);
    assert!(widest(&brief) <= 100, "100 columns:\n{brief}");
    assert!(brief.lines().count() <= 45, "one screen:\n{brief}");
    assert!(!brief.contains("Packets, parallel"), "{brief}");
    for mode in ["non-persistent", "persistent", "pipelined", "parallel"] {
        let row = format!("│ {mode} ");
        assert_eq!(brief.matches(&row).count(), 1, "{mode}:\n{brief}");
    }
    assert!(brief.contains("--full"), "{brief}");
    for width in [80, 100, 160] {
        let stdout = four_modes_at_width(dir.path(), width, &["--full"]);
        assert!(stdout.contains("Packets, parallel"), "{stdout}");
        assert!(widest(&stdout) <= width, "{width} columns:\n{stdout}");
        // Words whole: the mode's name in tables and sentences, the slow-start headings.
        for line in stdout.lines().filter(|l| l.contains("non-pers")) {
            assert!(line.contains("non-persistent"), "{width} columns: {line}");
        }
        for word in ["rounds", "limited", "sndbuf"] {
            assert!(stdout.contains(word), "{width} columns, {word}:\n{stdout}");
        }
        pcap = stdout
            .lines()
            .filter_map(|l| l.trim().strip_prefix("non-persistent"))
            .map(str::trim)
            .find(|p| p.ends_with(".pcapng"))
            .map(PathBuf::from);
    }
    let pcap = pcap.expect("the saved capture is named");
    for width in [80, 100, 160] {
        let out = common::synack()
            .arg("analyze")
            .arg(&pcap)
            .env("COLUMNS", width.to_string())
            .output()
            .unwrap();
        let stdout = common::ran(&out);
        assert!(stdout.contains("Connections"), "{stdout}");
        assert!(widest(&stdout) <= width, "{width} columns:\n{stdout}");
        for heading in [
            "S/SA/F/R",
            "ACK/data",
            "retr/dup",
            "handshake",
            "teardown",
            "closer",
        ] {
            assert!(
                stdout.contains(heading),
                "{width} columns, {heading}:\n{stdout}"
            );
        }
    }
}

#[test]
fn the_variants_table_keeps_words_whole_in_80_and_100_columns() {
    let dir = tempfile::tempdir().unwrap();
    for width in [80, 100] {
        let stdout = four_modes_at_width(
            dir.path(),
            width,
            &["--no-capture", "--variants", "tcp,tls1.3+resume"],
        );
        // The table (or tables) after the heading, up to the first variant's sentences.
        let table: Vec<&str> = stdout
            .lines()
            .skip_while(|l| !l.starts_with("Variants:"))
            .skip_while(|l| !l.starts_with('┌'))
            .take_while(|l| !l.starts_with("tcp:"))
            .collect();
        let text = table.join("\n");
        assert!(widest(&text) <= width, "{width} columns:\n{text}");
        // Every heading word whole (a cell cut to the column's width splits "persistent" and
        // "CI").
        for word in [
            "variant",
            "persistent",
            "pipelined",
            "parallel",
            "gap",
            "95 % CI",
            "TLS hs.",
        ] {
            assert!(text.contains(word), "{width} columns, {word}:\n{text}");
        }
        // Each variant's gap keeps its figures with their units: "+1.23 ms" and "± 4.56 ms".
        for variant in ["tcp", "tls1.3+resume"] {
            let cells: Vec<&str> = table
                .iter()
                .enumerate()
                .filter(|(_, l)| l.starts_with(&format!("│ {variant} ")))
                .flat_map(|(row, _)| table[row..(row + 2).min(table.len())].iter())
                .flat_map(|l| l.split(['┆', '│']))
                .map(str::trim)
                .collect();
            let whole = |cell: &&str| {
                cell.split(' ').collect::<Vec<_>>().windows(2).any(|w| {
                    // A negative gap is written with a minus sign (−), which f64 does not
                    // parse.
                    let figure = w[0].trim_start_matches(['+', '−']);
                    figure.parse::<f64>().is_ok() && ["s", "ms", "µs"].contains(&w[1])
                })
            };
            assert!(
                cells.iter().any(|c| c.contains('±') && whole(c)),
                "{width} columns, {variant}'s interval:\n{text}"
            );
            assert!(
                cells
                    .iter()
                    .any(|c| (c.starts_with('+') || c.starts_with('−')) && whole(c)),
                "{width} columns, {variant}'s gap:\n{text}"
            );
        }
    }
}

#[test]
fn connections_another_program_makes_to_the_same_server_are_left_out_as_root() {
    if !common::require_root(
        "connections_another_program_makes_to_the_same_server_are_left_out_as_root",
    ) || !common::have_tshark(
        "connections_another_program_makes_to_the_same_server_are_left_out_as_root",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    std::fs::create_dir(&site).unwrap();
    for (name, size) in [("one.bin", 200_000usize), ("two.txt", 3_000)] {
        let bytes: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
        std::fs::write(site.join(name), bytes).unwrap();
    }
    let (_server, port) = common::serve(&site);
    // Another program on this host fetches from the same server all through the comparison,
    // its requests 1 ms apart (at most 40,000, until the comparison is done): thousands of them
    // fall in each mode's capture (at 5 ms apart, a mode's capture once held none).
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let other = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut made = 0u32;
            while !done.load(std::sync::atomic::Ordering::Relaxed) && made < 40_000 {
                if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                    use std::io::{Read, Write};
                    let _ = s.write_all(b"GET /two.txt HTTP/1.0\r\n\r\n");
                    let _ = s.read_to_end(&mut Vec::new());
                    made += 1;
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            made
        })
    };
    // On loopback: no emulated link, so no link's place to take. Three rounds: after each run
    // compare waits for its own connections to go quiet, which the other program's do not hold.
    let report = common::compare_report_while_held(
        dir.path(),
        &[
            "--rounds",
            "3",
            "--server",
            &format!("127.0.0.1:{port}"),
            "--files",
            site.to_str().unwrap(),
        ],
    );
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(
        other.join().unwrap() > 0,
        "the other program fetched nothing"
    );
    for (mode, per_run) in [("non-persistent", 2u64), ("persistent", 1)] {
        let m = &report["modes"][mode];
        for run in m["runs"].as_array().unwrap() {
            assert_eq!(run["totals"]["connections"], per_run, "{mode}: {run}");
        }
        // tshark sees every connection on the wire; synack counts its own and says how many
        // others it left out.
        let pcap = PathBuf::from(report["captures"][mode].as_str().unwrap());
        let on_wire = common::tshark_totals(&pcap)["connections"]
            .as_u64()
            .unwrap();
        let left_out = m["connections_outside_runs"].as_u64().unwrap();
        println!("{mode}: {left_out} other connections in the capture");
        assert!(left_out > 0, "{mode}: no other connection in the capture");
        assert_eq!(on_wire, 3 * per_run + left_out, "{mode}");
    }
    common::runs_close_before_the_next_run_starts(&report);
}
