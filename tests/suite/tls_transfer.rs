//! TLS end to end: what the TLS handshakes cost against the emulated link's configured round trip,
//! certificate verification failing loudly, and curl as the client of `synack serve --tls`.

use crate::common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Each captured connection's TLS handshake in `mode`, in order: the first ClientHello → the
/// client's first application data record, as the capture on the client's side shows them.
fn handshakes(report: &serde_json::Value, mode: &str) -> Vec<f64> {
    report["modes"][mode]["runs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|run| run["connections"].as_array().unwrap().iter())
        .map(|c| {
            c["tls"]["handshake_s"]
                .as_f64()
                .unwrap_or_else(|| panic!("a TLS handshake: {c}"))
        })
        .collect()
}

/// Computation a TLS handshake may add to its round trips: key exchange and certificate checks
/// on a host loaded by other tests (measured: 11 ms per connection for TLS 1.3, 10 ms for TLS 1.2,
/// while the whole suite ran on two cores).
const COMPUTATION_S: f64 = 0.020;

/// Handshakes of `round_trips` on the link: none shorter than them (the client's data cannot
/// leave before the server's answer has crossed the link that many times), and the quickest
/// longer only by the computation — a busy host delays some, never all. One round trip more
/// (40 ms) is beyond that allowance, so the versions and resumption are told apart.
fn assert_round_trips(measured: &[f64], round_trips: u32, rtt: f64, what: &str) {
    let least = f64::from(round_trips) * rtt;
    for &handshake in measured {
        assert!(
            handshake >= least,
            "{what}: {handshake:.4} s beats {round_trips} round trips"
        );
    }
    let quickest = measured.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(
        quickest <= least + COMPUTATION_S,
        "{what}: quickest {quickest:.4} s, expected {least:.4} s … {:.4} s",
        least + COMPUTATION_S
    );
}

/// Handshakes of a comparison over a 40 ms link with TLS `flags`: each run's first connection
/// and the persistent one pay `first` round trips, the non-persistent ones after it `later`. The
/// link's configured RTT is the independent figure; each handshake the capture shows pays the
/// version's round trips.
fn handshakes_cost_round_trips(flags: &[&str], first: u32, later: u32) {
    let rtt = 0.040;
    let dir = tempfile::tempdir().unwrap();
    // Small files: what is timed is each connection's handshake, not its transfer.
    let site = common::small_files(dir.path());
    let mut args = vec![
        "--rtt",
        "40ms",
        "--rounds",
        "3",
        "--files",
        site.to_str().unwrap(),
    ];
    args.extend_from_slice(flags);
    let report = common::compare_report(dir.path(), &args);
    let what = format!("{flags:?}");
    let non_persistent = handshakes(&report, "non-persistent");
    assert_eq!(non_persistent.len(), 9, "three runs of three files");
    // Each run's first connection has no session to resume.
    let firsts: Vec<f64> = non_persistent.iter().copied().step_by(3).collect();
    let laters: Vec<f64> = (0..non_persistent.len())
        .filter(|k| k % 3 != 0)
        .map(|k| non_persistent[k])
        .collect();
    assert_round_trips(&firsts, first, rtt, &what);
    assert_round_trips(&laters, later, rtt, &what);
    assert_round_trips(&handshakes(&report, "persistent"), first, rtt, &what);
    let sessions = &report["modes"]["non-persistent"]["tls_sessions"];
    let resumed = sessions["resumed"].as_u64().unwrap();
    let connections = sessions["connections"].as_u64().unwrap();
    if flags.contains(&"--tls-resume") {
        // Every connection but each run's first (three rounds; the warm-up is not counted).
        assert_eq!(resumed, connections - 3, "{sessions}");
    } else {
        assert_eq!(resumed, 0, "{sessions}");
    }
}

#[test]
fn tls_1_2_handshakes_cost_two_round_trips_as_root() {
    if !common::require_root("tls_1_2_handshakes_cost_two_round_trips_as_root") {
        return;
    }
    handshakes_cost_round_trips(&["--tls", "1.2"], 2, 2);
}

#[test]
fn tls_1_3_handshakes_cost_one_round_trip_as_root() {
    if !common::require_root("tls_1_3_handshakes_cost_one_round_trip_as_root") {
        return;
    }
    handshakes_cost_round_trips(&["--tls", "1.3"], 1, 1);
}

#[test]
fn resumed_tls_1_2_handshakes_cost_one_round_trip_as_root() {
    if !common::require_root("resumed_tls_1_2_handshakes_cost_one_round_trip_as_root") {
        return;
    }
    // One round trip on every connection after a run's first.
    handshakes_cost_round_trips(&["--tls", "1.2", "--tls-resume"], 2, 1);
}

#[test]
fn early_data_takes_the_tls_round_trip_off_resumed_connections_as_root() {
    if !common::require_root("early_data_takes_the_tls_round_trip_off_resumed_connections_as_root")
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let site = common::small_files(dir.path());
    let report = common::compare_report(
        dir.path(),
        &[
            "--rtt",
            "40ms",
            "--rounds",
            "2",
            "--tls",
            "1.3",
            "--early-data",
            "--files",
            site.to_str().unwrap(),
        ],
    );
    let sessions = &report["modes"]["non-persistent"]["tls_sessions"];
    let connections = sessions["connections"].as_u64().unwrap();
    assert_eq!(sessions["early_data_sent"].as_u64(), Some(connections - 2));
    assert_eq!(
        sessions["early_data_accepted"].as_u64(),
        Some(connections - 2)
    );
    // A run's first connection pays TLS 1.3's round trip; the later ones send their request in
    // the ClientHello's flight, before any answer could have come back.
    let rtt = 0.040;
    for (k, handshake) in handshakes(&report, "non-persistent")
        .into_iter()
        .enumerate()
    {
        if k % 3 == 0 {
            assert!(handshake >= rtt, "connection {k}: {handshake} s");
        } else {
            assert!(
                handshake < rtt / 2.0,
                "connection {k}: early data waited {handshake} s"
            );
        }
    }
}

/// `synack serve --tls 1.3` on a free port with a made certificate; returns it and the folder.
fn serve_tls(dir: &Path, version: &str) -> (common::Stopped, u16) {
    let port = common::free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_synack"))
        .current_dir(dir)
        .args(["serve", "--root", "site", "--tls", version, "--bind"])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = common::Stopped(child);
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (server, port)
}

fn site(dir: &Path) -> Vec<u8> {
    std::fs::create_dir(dir.join("site")).unwrap();
    let body: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(dir.join("site/a.bin"), &body).unwrap();
    body
}

#[test]
fn a_certificate_nobody_vouches_for_fails_the_fetch_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let body = site(dir.path());
    let (_server, port) = serve_tls(dir.path(), "1.3");
    // No --cacert: the system's roots do not know the certificate made at start.
    let out = common::synack()
        .current_dir(dir.path())
        .args(["fetch", "--mode", "persistent"])
        .arg(format!("https://127.0.0.1:{port}/a.bin"))
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("invalid peer certificate"), "{stderr}");
    assert!(stderr.contains("--cacert"), "{stderr}");
    assert!(!dir.path().join("received/persistent/a.bin").exists());
    // With the certificate the server saved, the same fetch succeeds and the bytes are right.
    let out = common::synack()
        .current_dir(dir.path())
        .args([
            "fetch",
            "--mode",
            "non-persistent",
            "--cacert",
            "synack-cert.pem",
        ])
        .arg(format!("https://127.0.0.1:{port}/a.bin"))
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    common::ran(&out);
    let got = std::fs::read(dir.path().join("received/non-persistent/a.bin")).unwrap();
    assert_eq!(Sha256::digest(got), Sha256::digest(&body));
}

#[test]
fn curl_fetches_from_synack_serve_over_each_tls_version() {
    if !common::have_tool(
        "curl",
        "curl_fetches_from_synack_serve_over_each_tls_version",
    ) {
        return;
    }
    for (version, curl_flags) in [
        ("1.2", ["--tlsv1.2", "--tls-max", "1.2"]),
        ("1.3", ["--tlsv1.3", "--tls-max", "1.3"]),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let body = site(dir.path());
        let (_server, port) = serve_tls(dir.path(), version);
        let out = Command::new("curl")
            .current_dir(dir.path())
            .args([
                "-sS",
                "--cacert",
                "synack-cert.pem",
                "-o",
                "1.bin",
                "-o",
                "2.bin",
            ])
            .args(curl_flags)
            .args(["-w", "%{ssl_verify_result}"])
            .arg(format!("https://127.0.0.1:{port}/a.bin"))
            .arg(format!("https://localhost:{port}/a.bin"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "curl over TLS {version}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), "00", "verified twice");
        for name in ["1.bin", "2.bin"] {
            let got = std::fs::read(dir.path().join(name)).unwrap();
            assert_eq!(Sha256::digest(got), Sha256::digest(&body), "{name}");
        }
    }
}

#[test]
fn synack_fetch_speaks_tls_to_nginx_in_every_mode() {
    let test = "synack_fetch_speaks_tls_to_nginx_in_every_mode";
    if !common::have_tool("nginx", test) || !common::have_tool("openssl", test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let body = site(d);
    std::fs::write(d.join("site/b.bin"), &body[..1000]).unwrap();
    common::openssl_cert(d);
    let port = common::free_port();
    std::fs::write(
        d.join("nginx.conf"),
        common::nginx_tls_conf(d, port, "", &format!("root {}/site;", d.display())),
    )
    .unwrap();
    let _nginx = common::nginx(d, &[port]);
    for version in ["1.2", "1.3"] {
        for mode in ["non-persistent", "persistent", "pipelined", "parallel"] {
            let out_dir = d.join(format!("got-{version}"));
            let out = common::synack()
                .current_dir(d)
                .args(["fetch", "--mode", mode, "--tls", version, "--tls-resume"])
                .args(["--cacert", "cert.pem", "--out"])
                .arg(&out_dir)
                .arg(format!("https://127.0.0.1:{port}/a.bin"))
                .arg(format!("https://127.0.0.1:{port}/b.bin"))
                .timeout(Duration::from_secs(60))
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "TLS {version} {mode}: {stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let got = std::fs::read(out_dir.join(mode).join("a.bin")).unwrap();
            assert_eq!(
                Sha256::digest(got),
                Sha256::digest(&body),
                "{version} {mode}"
            );
            assert!(stdout.contains(&format!("TLS {version}: ")), "{stdout}");
            if mode == "non-persistent" {
                // The second connection resumed the first one's session with nginx.
                assert!(
                    stdout.contains("1 full handshake and 1 resumed"),
                    "TLS {version}: {stdout}"
                );
            }
        }
    }
}
