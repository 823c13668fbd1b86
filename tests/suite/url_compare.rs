//! `compare` on URLs of a server synack did not start: nginx on loopback, started here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common;

/// nginx serving `dir/site` on 127.0.0.1 at each of `ports`, logging each request's path to
/// `dir/access.log`; stopped when dropped.
fn nginx(dir: &Path, ports: &[u16]) -> common::Stopped {
    let d = dir.display();
    let listen: String = ports
        .iter()
        .map(|p| format!("listen 127.0.0.1:{p};\n    "))
        .collect();
    let conf = format!(
        "daemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 64; }}\nhttp {{\n  log_format path '$request_uri';\n  \
         access_log {d}/access.log path;\n  client_body_temp_path {d}; proxy_temp_path {d};\n  \
         fastcgi_temp_path {d}; uwsgi_temp_path {d}; scgi_temp_path {d};\n  server {{\n    \
         {listen}root {d}/site;\n  }}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    common::nginx(dir, ports)
}

/// Writes `size` bytes of a pattern to `dir/site/name`.
fn put(dir: &Path, name: &str, size: usize) {
    let path = dir.join("site").join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let bytes: Vec<u8> = (0..size).map(|i| (i * 7 % 253) as u8).collect();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn three_urls_on_two_origins_of_nginx_in_every_mode_count_as_tshark_counts_as_root() {
    let test = "three_urls_on_two_origins_of_nginx_in_every_mode_count_as_tshark_counts_as_root";
    if !common::require_root(test)
        || !common::have_tool("nginx", test)
        || !common::have_tshark(test)
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (name, size) in [("a.jpg", 120_000), ("docs/b.mp3", 300_000), ("c.txt", 900)] {
        put(d, name, size);
    }
    // Two origins, as a page's files often come from two servers: the same nginx on two ports.
    let (port, other) = (common::free_port(), common::free_port());
    let _nginx = nginx(d, &[port, other]);
    let urls = [
        format!("http://127.0.0.1:{port}/a.jpg"),
        format!("http://127.0.0.1:{other}/c.txt"),
        format!("http://127.0.0.1:{port}/docs/b.mp3"),
    ];
    let mut args: Vec<&str> = urls.iter().map(String::as_str).collect();
    args.extend([
        "--rounds",
        "2",
        "--request-rate",
        "1000",
        "--modes",
        "non-persistent,persistent,pipelined,parallel",
    ]);
    let report = common::compare_report(d, &args);
    // A connection a URL, or one to each origin, or up to --parallel at once to each.
    for (mode, per_run) in [
        ("non-persistent", 3u64),
        ("persistent", 2),
        ("pipelined", 2),
        ("parallel", 3),
    ] {
        let m = &report["modes"][mode];
        for run in m["runs"].as_array().unwrap() {
            assert_eq!(run["totals"]["connections"], per_run, "{mode}: {run}");
        }
        let pcap = PathBuf::from(report["captures"][mode].as_str().unwrap());
        let tshark = common::tshark_totals(&pcap);
        for (key, theirs) in tshark.as_object().unwrap() {
            assert_eq!(
                common::sum_runs(m, key),
                theirs.as_u64().unwrap(),
                "{mode} {key}"
            );
        }
        for (name, served) in [
            ("a.jpg", "a.jpg"),
            ("b.mp3", "docs/b.mp3"),
            ("c.txt", "c.txt"),
        ] {
            assert_eq!(
                common::sha256_hex(&d.join("received").join(mode).join(name)),
                common::sha256_hex(&d.join("site").join(served)),
                "{mode} {name}"
            );
        }
    }
    let statuses: Vec<&Value> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["status"])
        .collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
}

#[test]
fn a_page_is_compared_with_exactly_what_it_loads_from_its_server_as_root() {
    let test = "a_page_is_compared_with_exactly_what_it_loads_from_its_server_as_root";
    if !common::require_root(test) || !common::have_tool("nginx", test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = common::free_port();
    // Ten subresources, written as a page writes them: relative, absolute, full URLs.
    let loaded = [
        "/style/site.css",
        "/style/print.css",
        "/js/app.js",
        "/img/1.png",
        "/img/2.png",
        "/img/3.png",
        "/img/4.png",
        "/img/5.png",
        "/img/6.png",
        "/img/7.png",
    ];
    for (i, path) in loaded.iter().enumerate() {
        put(d, &path[1..], 2_000 + i * 3_000);
    }
    put(d, "img/linked-not-loaded.png", 500);
    let page = format!(
        "<!doctype html><html><head>\
         <link rel=stylesheet href=\"style/site.css\">\
         <link rel=\"stylesheet\" href=\"/style/print.css\" media=print>\
         <link rel=icon href=\"/favicon.ico\">\
         <script src=\"http://127.0.0.1:{port}/js/app.js\"></script></head><body>\
         <img src=\"img/1.png\"><img src=\"/img/2.png\"><img src=\"./img/3.png\">\
         <img src=\"img/4.png\"><img src=\"img/5.png\"><img src=\"img/6.png\">\
         <img src=\"img/7.png\"><img src=\"img/1.png\">\
         <img src=\"http://127.0.0.2:{port}/img/elsewhere.png\">\
         <a href=\"img/linked-not-loaded.png\">a link</a></body></html>"
    );
    std::fs::write(d.join("site/index.html"), page).unwrap();
    let _nginx = nginx(d, &[port]);
    let url = format!("http://127.0.0.1:{port}/index.html");
    let report = common::compare_report(
        d,
        &["--page", &url, "--rounds", "1", "--request-rate", "1000"],
    );
    let names: Vec<&str> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 11, "{names:?}");
    // nginx's own log: every path it was asked for, which must be the page and its ten.
    let asked: BTreeSet<String> = std::fs::read_to_string(d.join("access.log"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let expected: BTreeSet<String> = std::iter::once("/index.html")
        .chain(loaded)
        .map(str::to_owned)
        .collect();
    assert_eq!(asked, expected);
    for (name, path) in names
        .iter()
        .zip(std::iter::once("/index.html").chain(loaded))
    {
        assert_eq!(
            common::sha256_hex(&d.join("received/persistent").join(name)),
            common::sha256_hex(&d.join("site").join(&path[1..])),
            "{name}"
        );
    }
}

/// A server that answers `/full` whole and cuts `/cut` short: 10 of the 1000 bytes it announces,
/// then its FIN. Serves at most 20 connections.
fn cutting_server() -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(20).flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut out = stream;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let target = line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                if target == "/cut" {
                    let _ =
                        out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789");
                    break;
                }
                let _ = out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nwhole");
            }
        }
    });
    port
}

#[test]
fn a_server_that_closes_mid_response_gets_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let port = cutting_server();
    let out = common::compare_in(dir.path())
        .args([
            &format!("http://127.0.0.1:{port}/full"),
            &format!("http://127.0.0.1:{port}/cut"),
            "--no-capture",
            "--rounds",
            "1",
        ])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("synack: "))
        .collect();
    let error = lines.last().copied().unwrap_or_default();
    assert!(error.contains("/cut") && error.contains("1000"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // No run folder is left half-made.
    let captures = dir.path().join("captures");
    let left = std::fs::read_dir(&captures).map_or(0, |d| d.count());
    assert_eq!(left, 0, "{}", captures.display());
}

#[test]
fn https_urls_are_checked_against_the_ca_given_and_refused_without_it() {
    let test = "https_urls_are_checked_against_the_ca_given_and_refused_without_it";
    if !common::have_tool("nginx", test) || !common::have_tool("openssl", test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    put(d, "a.jpg", 50_000);
    put(d, "c.txt", 900);
    common::openssl_cert(d);
    let port = common::free_port();
    let serve = format!("root {}/site;", d.display());
    std::fs::write(
        d.join("nginx.conf"),
        common::nginx_tls_conf(d, port, "", &serve),
    )
    .unwrap();
    let _nginx = common::nginx(d, &[port]);
    let urls = [
        format!("https://127.0.0.1:{port}/a.jpg"),
        format!("https://127.0.0.1:{port}/c.txt"),
    ];
    // openssl's certificate is no system root: refused, in one line that says what to give.
    let out = common::compare_in(d)
        .args(&urls)
        .args(["--no-capture", "--rounds", "1"])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--cacert"), "{stderr}");
    // Given as the CA, it is trusted: every mode fetches both files whole over TLS.
    let cert = d.join("cert.pem");
    let mut args: Vec<&str> = urls.iter().map(String::as_str).collect();
    args.extend([
        "--cacert",
        cert.to_str().unwrap(),
        "--no-capture",
        "--rounds",
        "1",
    ]);
    args.extend(["--request-rate", "1000"]);
    let report = common::compare_report(d, &args);
    assert_eq!(report["tls"]["version"], "1.3", "{}", report["tls"]);
    for mode in ["non-persistent", "persistent"] {
        for name in ["a.jpg", "c.txt"] {
            assert_eq!(
                common::sha256_hex(&d.join("received").join(mode).join(name)),
                common::sha256_hex(&d.join("site").join(name)),
                "{mode} {name}"
            );
        }
    }
}
