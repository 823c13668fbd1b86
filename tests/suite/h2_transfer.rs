//! HTTP/2 with implementations synack did not write: curl (`--http2-prior-knowledge`, `--http2`)
//! and nghttp fetch from `synack serve`; `synack fetch --mode h2c/h2` fetches from nginx; a server
//! that does not select ALPN h2 gets one line; and an h2c run's capture as tshark's HTTP/2
//! dissector reads it (root: tcpdump on lo).

use crate::common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Stopped, free_port};
use sha2::{Digest, Sha256};

/// Files of a few sizes (one much larger than a stream's initial window) in `dir/site`; returns
/// their names and contents.
fn site(dir: &Path) -> Vec<(&'static str, Vec<u8>)> {
    let site = dir.join("site");
    std::fs::create_dir_all(&site).unwrap();
    let big: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let files = vec![
        ("big.bin", big),
        ("small.txt", b"small\n".to_vec()),
        ("mid.bin", (0..70_000u32).map(|i| (i % 251) as u8).collect()),
    ];
    for (name, body) in &files {
        std::fs::write(site.join(name), body).unwrap();
    }
    files
}

/// Runs `program` with `args` in `dir` under a bound, which must succeed; its stdout.
fn run(dir: &Path, program: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new("timeout")
        .arg("60")
        .arg(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn sha(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

#[test]
fn curl_and_nghttp_fetch_from_synack_serve_over_http2() {
    let test = "curl_and_nghttp_fetch_from_synack_serve_over_http2";
    if !common::have_tool("curl", test) || !common::have_tool("nghttp", test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = site(d);
    let (_plain, port) = common::serve(&d.join("site"));
    let cert = d.join("cert.pem");
    let (_tls, tls_port) = common::serve_with(
        &d.join("site"),
        &["--tls", "1.3", "--cert-out", cert.to_str().unwrap()],
        Stdio::null(),
    );
    for (name, body) in &files {
        let cleartext = format!("http://127.0.0.1:{port}/{name}");
        let out = run(
            d,
            "curl",
            &[
                "-sS",
                "--http2-prior-knowledge",
                "-o",
                "got",
                "-w",
                "%{http_version}",
                &cleartext,
            ],
        );
        assert_eq!(String::from_utf8_lossy(&out), "2", "curl h2c {name}");
        assert_eq!(
            sha(&std::fs::read(d.join("got")).unwrap()),
            sha(body),
            "curl h2c {name}"
        );
        let over_tls = format!("https://127.0.0.1:{tls_port}/{name}");
        let out = run(
            d,
            "curl",
            &[
                "-sSk",
                "--http2",
                "-o",
                "got",
                "-w",
                "%{http_version}",
                &over_tls,
            ],
        );
        assert_eq!(String::from_utf8_lossy(&out), "2", "curl h2 {name}");
        assert_eq!(
            sha(&std::fs::read(d.join("got")).unwrap()),
            sha(body),
            "curl h2 {name}"
        );
        // nghttp writes the body to stdout.
        for url in [&cleartext, &over_tls] {
            assert_eq!(sha(&run(d, "nghttp", &[url])), sha(body), "nghttp {url}");
        }
    }
    // Every file at once on one connection, as nghttp multiplexes them.
    let urls: Vec<String> = files
        .iter()
        .map(|(name, _)| format!("http://127.0.0.1:{port}/{name}"))
        .collect();
    let mut args = vec!["-n", "-s"];
    args.extend(urls.iter().map(String::as_str));
    let stats = String::from_utf8(run(d, "nghttp", &args)).unwrap();
    assert_eq!(stats.matches(" 200 ").count(), files.len(), "{stats}");
    // HTTP/1.1 still answers on both ports.
    let out = run(
        d,
        "curl",
        &[
            "-sS",
            "--http1.1",
            "-o",
            "/dev/null",
            "-w",
            "%{http_version}",
            &urls[1],
        ],
    );
    assert_eq!(String::from_utf8_lossy(&out), "1.1");
}

/// nginx's configuration: h2c with prior knowledge on `plain`, h2 over TLS on `tls`, and plain
/// HTTPS without HTTP/2 on `no_h2`, serving `dir/site`.
fn nginx_http2_conf(dir: &Path, plain: u16, tls: u16, no_h2: u16) -> String {
    let d = dir.display();
    format!(
        "daemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}; proxy_temp_path {d};\n  \
         fastcgi_temp_path {d}; uwsgi_temp_path {d}; scgi_temp_path {d};\n  \
         ssl_certificate {d}/cert.pem;\n  ssl_certificate_key {d}/key.pem;\n  \
         ssl_protocols TLSv1.3;\n  root {d}/site;\n  \
         server {{ listen 127.0.0.1:{plain} http2; }}\n  \
         server {{ listen 127.0.0.1:{tls} ssl http2; }}\n  \
         server {{ listen 127.0.0.1:{no_h2} ssl; }}\n}}\n"
    )
}

#[test]
fn synack_fetch_speaks_h2c_and_h2_to_nginx_and_names_a_server_without_alpn_h2() {
    let test = "synack_fetch_speaks_h2c_and_h2_to_nginx_and_names_a_server_without_alpn_h2";
    if !common::have_tool("nginx", test) || !common::have_tool("openssl", test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = site(d);
    common::openssl_cert(d);
    let (plain, tls, no_h2) = (free_port(), free_port(), free_port());
    std::fs::write(d.join("nginx.conf"), nginx_http2_conf(d, plain, tls, no_h2)).unwrap();
    let _nginx = common::nginx(d, &[plain, tls, no_h2]);
    for (mode, url, trust) in [
        ("h2c", format!("http://127.0.0.1:{plain}"), &[][..]),
        (
            "h2",
            format!("https://127.0.0.1:{tls}"),
            &["--cacert", "cert.pem"][..],
        ),
    ] {
        let out = common::synack()
            .current_dir(d)
            .args(["fetch", "--mode", mode, "--out", "got"])
            .args(trust)
            .args(files.iter().map(|(name, _)| format!("{url}/{name}")))
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{mode}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("over 1 connection"), "{mode}: {stdout}");
        for (name, body) in &files {
            let got = std::fs::read(d.join("got").join(mode).join(name)).unwrap();
            assert_eq!(sha(&got), sha(body), "{mode} {name}");
        }
    }
    // A TLS server that does not select h2: one line that names it.
    let out = common::synack()
        .current_dir(d)
        .args([
            "fetch", "--mode", "h2", "--cacert", "cert.pem", "--out", "none",
        ])
        .arg(format!("https://127.0.0.1:{no_h2}/small.txt"))
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("did not select ALPN h2"), "{stderr}");
    assert!(!d.join("none/h2/small.txt").exists());
}

#[test]
fn an_h2c_fetch_is_one_connection_with_a_headers_frame_per_file_by_tshark_as_root() {
    let test = "an_h2c_fetch_is_one_connection_with_a_headers_frame_per_file_by_tshark_as_root";
    if !common::require_root(test)
        || !common::have_tshark(test)
        || !common::have_tool("tcpdump", test)
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = site(d);
    let (_served, port) = common::serve(&d.join("site"));
    let capture = d.join("h2c.pcap");
    let tcpdump = Stopped(
        Command::new("tcpdump")
            .args(["-i", "lo", "--immediate-mode", "-U", "-n", "-s", "0", "-w"])
            .arg(&capture)
            .arg(format!("tcp port {port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tcpdump"),
    );
    let started = Instant::now();
    while std::fs::metadata(&capture).map_or(0, |m| m.len()) < 24 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "tcpdump did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let out = common::synack()
        .current_dir(d)
        .args(["fetch", "--mode", "h2c", "--out", "got"])
        .args(
            files
                .iter()
                .map(|(name, _)| format!("http://127.0.0.1:{port}/{name}")),
        )
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    common::ran(&out);
    std::thread::sleep(Duration::from_millis(500));
    drop(tcpdump);
    let decode = format!("tcp.port=={port},http2");
    let rows = common::tshark_stdout(
        &capture,
        &[
            "-n",
            "-d",
            &decode,
            "-Y",
            "http2",
            "-T",
            "fields",
            "-E",
            "separator=;",
            "-e",
            "tcp.stream",
            "-e",
            "tcp.dstport",
            "-e",
            "http2.type",
            "-e",
            "http2.streamid",
        ],
    );
    let mut streams = std::collections::BTreeSet::new();
    let mut request_streams = Vec::new();
    for row in rows.lines() {
        let fields: Vec<&str> = row.split(';').collect();
        streams.insert(fields[0].to_owned());
        if fields[1] != port.to_string() {
            continue;
        }
        // One frame per value, several frames to a segment.
        let types = fields[2].split(',');
        let ids = fields[3].split(',');
        for (kind, id) in types.zip(ids) {
            if kind == "1" {
                request_streams.push(id.parse::<u32>().unwrap());
            }
        }
    }
    assert_eq!(streams.len(), 1, "one TCP connection: {streams:?}");
    assert_eq!(request_streams.len(), files.len(), "{request_streams:?}");
    assert!(
        request_streams.iter().all(|id| id % 2 == 1),
        "{request_streams:?}"
    );
    let distinct: std::collections::BTreeSet<_> = request_streams.iter().collect();
    assert_eq!(distinct.len(), files.len(), "{request_streams:?}");
}

#[test]
fn compare_runs_h2c_and_h2_beside_persistent_as_root() {
    if !common::require_root("compare_runs_h2c_and_h2_beside_persistent_as_root") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Without --tls: h2 speaks TLS 1.3 on the port where the others speak cleartext.
    let report = common::compare_report_while_held(
        dir.path(),
        &["--rounds", "2", "--modes", "persistent,h2c,h2"],
    );
    for mode in ["h2c", "h2"] {
        let runs = report["modes"][mode]["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 2, "{mode}");
        for run in runs {
            // Counted in the capture: one connection, closed with FINs.
            assert_eq!(run["totals"]["connections"], 1, "{mode}: {run}");
            assert_eq!(run["totals"]["rst"], 0, "{mode}: {run}");
            let files = run["files"].as_array().unwrap();
            assert_eq!(files.len(), 3, "{mode}");
            assert!(files.iter().all(|f| f["sha256_ok"] == true), "{mode}");
        }
    }
    for file in report["files"].as_array().unwrap() {
        let name = file["name"].as_str().unwrap();
        let got = std::fs::read(dir.path().join("received/h2").join(name)).unwrap();
        let hex: String = sha(&got).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, file["sha256"].as_str().unwrap(), "{name}");
    }
}
