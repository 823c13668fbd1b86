//! `synack serve`, `synack fetch` and `synack compare --server` together, on loopback, without
//! capture (no root needed).

use crate::common;

use std::time::{Duration, Instant};

use serde_json::Value;

#[test]
fn fetch_and_compare_against_synack_serve() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    std::fs::create_dir(&site).unwrap();
    let files = [("one.bin", 70_000usize), ("two.txt", 3_000)];
    for (name, size) in files {
        let bytes: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
        std::fs::write(site.join(name), bytes).unwrap();
    }
    let (_server, port) = common::serve(&site);
    let urls: Vec<String> = files
        .iter()
        .map(|(n, _)| format!("http://127.0.0.1:{port}/{n}"))
        .collect();

    for mode in ["non-persistent", "persistent", "pipelined", "parallel"] {
        let out = common::synack()
            .args(["fetch", "--mode", mode, "--out"])
            .arg(dir.path().join("fetched"))
            .args(&urls)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{mode}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let connections = if matches!(mode, "persistent" | "pipelined") {
            "1 connection"
        } else {
            "2 connections"
        };
        assert!(
            stdout.contains(&format!("2 files over {connections} in")),
            "{mode}: {stdout}"
        );
        for (name, _) in files {
            let got = std::fs::read(dir.path().join("fetched").join(mode).join(name)).unwrap();
            assert_eq!(
                got,
                std::fs::read(site.join(name)).unwrap(),
                "{mode} {name}"
            );
        }
    }

    let json = dir.path().join("report.json");
    let out = common::synack()
        .args([
            "compare",
            "--no-pdf",
            "--no-capture",
            "--rounds",
            "2",
            "--request-rate",
            "1000",
            "--server",
            &format!("127.0.0.1:{port}"),
            "--files",
        ])
        .arg(&site)
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
    assert_eq!(report["files"].as_array().unwrap().len(), 2);
    for mode in ["non-persistent", "persistent"] {
        let runs = report["modes"][mode]["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 2);
        assert!(runs.iter().all(|r| {
            r["files"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f["sha256_ok"] == true)
        }));
        assert_eq!(report["modes"][mode]["phase_source"], "client");
    }
    // A report file is for reading.
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&json).unwrap().permissions().mode() & 0o777,
        0o644
    );
}

#[test]
fn fetch_refuses_urls_on_different_servers_and_other_schemes() {
    let out = common::synack()
        .args([
            "fetch",
            "--mode",
            "persistent",
            "http://127.0.0.1:1/a",
            "http://127.0.0.1:2/b",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("every URL must be on http://127.0.0.1:1")
    );
    let out = common::synack()
        .args(["fetch", "--mode", "persistent", "ftp://127.0.0.1/a"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("only http:// and https:// URLs"));
}

#[test]
fn verbose_runs_show_only_their_own_events() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::compare_in(dir.path())
        .args(["-v", "--no-capture", "--rounds", "2"])
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let stdout = common::ran(&out);
    let headings = stdout
        .lines()
        .filter(|l| l.contains(" — times from the run's start"));
    assert_eq!(headings.count(), 4, "two rounds of two modes: {stdout}");
    // Every event line starts with its time since the run's start: the warm-up's late server
    // events (its FIN and close) must not appear under the first run with negative times.
    let events: Vec<&str> = stdout.lines().filter(|l| l.contains(" s  ")).collect();
    assert!(!events.is_empty(), "{stdout}");
    for line in &events {
        let time: f64 = line.split(" s  ").next().unwrap().trim().parse().unwrap();
        assert!(time >= 0.0, "{line}");
    }
    let accepts = events.iter().filter(|l| l.contains("accept() returned"));
    assert_eq!(
        accepts.count(),
        2 * (3 + 1),
        "3 + 1 connections per round: {stdout}"
    );
}

#[test]
fn no_progress_bar_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let site = common::small_files(dir.path());
    let (_server, port) = common::serve(&site);
    let started = Instant::now();
    // Against a server it did not start, compare keeps to --request-rate: its twelve requests
    // (three files, two modes, each mode's warm-up) at four a second take about three seconds
    // however fast the machine.
    let out = common::compare_in(dir.path())
        .args(["--no-capture", "--rounds", "1", "--request-rate", "4"])
        .arg("--server")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--files")
        .arg(&site)
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap();
    common::ran(&out);
    // Long enough that a terminal would have shown the bar …
    assert!(started.elapsed() > Duration::from_secs(1));
    // … but stderr is a pipe here: nothing of it, no carriage returns, no escape sequences.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("elapsed"), "{stderr}");
    assert!(
        !stderr.contains('\r') && !stderr.contains('\x1b'),
        "{stderr:?}"
    );
}

/// The schema every report of the suite is checked against can fail: a report with a key of the
/// wrong type or without a required key does not hold.
#[test]
fn the_report_schema_refuses_what_report_json_never_holds() {
    let refused = |json: serde_json::Value| {
        !common::schema_errors("docs/report.schema.json", &json).is_empty()
    };
    assert!(refused(serde_json::json!({"schema_version": "two"})));
    assert!(refused(serde_json::json!({})));
}
