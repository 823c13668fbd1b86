//! What users see when something is wrong, and the modes of what synack writes for them to share:
//! the real binary's stderr, exit status and file modes (no root needed).

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::{Flow, Frames};

/// `synack ARGS` run under `umask`, as a shell would run it.
fn synack_under_umask(umask: &str, args: &[&std::ffi::OsStr]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
        .arg(assert_cmd::cargo::cargo_bin("synack"))
        .args(args)
        .output()
        .expect("run sh")
}

/// The permission bits of `path`.
fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("written")
        .permissions()
        .mode()
        & 0o777
}

/// The standard error of a run that must have failed with `code`.
fn failed(out: &Output, code: i32) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    stderr
}

/// A small valid capture: one connection with one exchange.
fn one_connection_pcap(path: &Path) {
    let mut frames = Frames::new();
    let mut flow = Flow::new("127.0.0.1:40000", "127.0.0.1:8080", 1000, 5000);
    frames.handshake(&mut flow);
    frames.exchange(&mut flow, "/a", 2000);
    frames.close(&mut flow, true);
    common::write_pcap(path, 1, &frames.frames);
}

// Files for others to read: the sample sets are served by other servers (nginx answers 403 for
// a file only its owner can read), received files and captures are shared.

#[test]
fn sample_files_get_the_mode_of_any_new_file() {
    let dir = tempfile::tempdir().unwrap();
    for (set, umask, expected) in [
        ("compare", "022", 0o644),
        ("page-1997", "022", 0o644),
        ("compare", "027", 0o640),
    ] {
        let www = dir.path().join(format!("{set}-{umask}"));
        let out = synack_under_umask(
            umask,
            &[
                "files".as_ref(),
                "--set".as_ref(),
                set.as_ref(),
                www.as_ref(),
            ],
        );
        common::ran(&out);
        let files = std::fs::read_dir(&www).unwrap().collect::<Vec<_>>();
        assert!(files.len() >= 3, "{set}: {files:?}");
        for entry in files {
            let path = entry.unwrap().path();
            assert_eq!(
                mode(&path),
                expected,
                "{} under umask {umask}",
                path.display()
            );
        }
    }
}

#[test]
fn received_files_get_the_mode_of_any_new_file() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    std::fs::create_dir(&site).unwrap();
    std::fs::write(site.join("page.txt"), "hello\n").unwrap();
    let (_server, port) = common::serve(&site);
    let received = dir.path().join("received");
    let url = format!("http://127.0.0.1:{port}/page.txt");
    let out = synack_under_umask(
        "002",
        &[
            "fetch".as_ref(),
            "--mode".as_ref(),
            "persistent".as_ref(),
            "--out".as_ref(),
            received.as_ref(),
            url.as_ref(),
        ],
    );
    common::ran(&out);
    assert_eq!(mode(&received.join("persistent/page.txt")), 0o664);
}

// A capture that cannot be read: the file named once, then why.

#[test]
fn a_missing_capture_is_named_once() {
    let out = common::synack()
        .args(["analyze", "/nonexistent.pcap"])
        .output()
        .unwrap();
    assert_eq!(
        failed(&out, 1),
        "synack: cannot analyze /nonexistent.pcap: No such file or directory\n"
    );
}

#[test]
fn a_file_that_is_no_capture_is_named_once_and_said_so() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(
        &text,
        "not a capture, just some words on a line\n".repeat(4),
    )
    .unwrap();
    let empty = dir.path().join("empty.pcap");
    std::fs::write(&empty, "").unwrap();
    for (path, why) in [
        (&text, "not a pcap or pcapng file"),
        (&empty, "it ends at byte 0"),
    ] {
        let out = common::synack().arg("analyze").arg(path).output().unwrap();
        let stderr = failed(&out, 1);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with(&format!("synack: cannot analyze {}: ", path.display())),
            "{stderr}"
        );
        assert_eq!(
            stderr.matches(&*path.to_string_lossy()).count(),
            1,
            "{stderr}"
        );
        assert!(stderr.contains(why), "{stderr}");
    }
}

// An output file that cannot be made: said before the work, with the option and the folder.

#[test]
fn an_html_page_in_a_missing_folder_is_refused_first() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("one.pcap");
    one_connection_pcap(&capture);
    let page = dir.path().join("none").join("x.html");
    let out = common::synack()
        .arg("analyze")
        .arg(&capture)
        .arg("--html")
        .arg(&page)
        .output()
        .unwrap();
    assert_eq!(
        failed(&out, 1),
        format!(
            "synack: cannot write --html {}: its folder {} does not exist\n",
            page.display(),
            dir.path().join("none").display()
        )
    );
    assert!(out.stdout.is_empty(), "refused before any output");
}

#[test]
fn a_json_report_in_a_missing_folder_names_the_option_and_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::compare_in(dir.path())
        .args(["--json", "/nonexistent/dir/x.json"])
        .output()
        .unwrap();
    assert_eq!(
        failed(&out, 1),
        "synack: cannot write --json /nonexistent/dir/x.json: its folder /nonexistent/dir does not \
         exist\n"
    );
}

// TLS to a server that does not speak it, and plain HTTP to one that speaks only TLS.

/// `synack fetch ARGS URL`, saving into `dir`/received.
fn fetch(dir: &Path, args: &[&str], url: &str) -> Output {
    common::synack()
        .arg("fetch")
        .args(args)
        .arg("--out")
        .arg(dir.join("received"))
        .arg(url)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap()
}

#[test]
fn https_to_a_plain_http_server_says_to_try_http() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.txt"), "hello\n").unwrap();
    let (_server, port) = common::serve(dir.path());
    for (mode, version) in [
        ("persistent", "1.3"),
        ("non-persistent", "1.2"),
        ("pipelined", "1.3"),
    ] {
        let out = fetch(
            dir.path(),
            &["--mode", mode, "--tls", version],
            &format!("https://127.0.0.1:{port}/c.txt"),
        );
        assert_eq!(
            failed(&out, 1),
            format!(
                "synack: the server at 127.0.0.1:{port} did not answer in TLS (it may speak \
                 plain HTTP: use an http:// URL, or leave out --tls)\n"
            ),
            "{mode} with TLS {version}"
        );
    }
    // compare against the same server says so too, in one line.
    let out = common::compare_in(dir.path())
        .args(["--no-capture", "--rounds", "1", "--tls", "1.3", "--server"])
        .arg(format!("127.0.0.1:{port}"))
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let stderr = failed(&out, 1);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the server at 127.0.0.1:{port} did not answer in TLS"
        )),
        "{stderr}"
    );
}

#[test]
fn http_to_an_https_server_that_sends_an_alert_says_to_try_https() {
    // A TLS server that answers plain text with a TLS alert (protocol_version), as many do.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0u8; 1024];
        let _ = std::io::Read::read(&mut stream, &mut request);
        std::io::Write::write_all(&mut stream, &[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46])
            .unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}/c.txt");
    let out = fetch(dir.path(), &["--mode", "persistent"], &url);
    server.join().unwrap();
    assert_eq!(
        failed(&out, 1),
        format!(
            "synack: the server at 127.0.0.1:{port} answered in TLS (it speaks HTTPS: fetch an \
             https:// URL; compare --server needs --tls)\n"
        )
    );
}

#[test]
fn serve_with_tls_answers_plain_http_in_plain_http() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.txt"), "hello\n").unwrap();
    let cert = dir.path().join("cert.pem");
    let args = ["--tls", "1.3", "--cert-out", cert.to_str().unwrap()];
    let (_served, port) = common::serve_with(dir.path(), &args, std::process::Stdio::null());
    // What curl sends for http://: the answer must be HTTP it can read, then a FIN (not a reset).
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request = format!("GET /c.txt HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    std::io::Write::write_all(&mut stream, request.as_bytes()).unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut stream, &mut answer).expect("an answer ended by a FIN");
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(answer.contains("\r\nConnection: close\r\n"), "{answer}");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(
        head.contains(&format!("\r\nContent-Length: {}\r\n", body.len())),
        "{answer}"
    );
    // fetch quotes the server's reason.
    let url = format!("http://127.0.0.1:{port}/c.txt");
    let out = fetch(dir.path(), &["--mode", "persistent"], &url);
    assert_eq!(
        failed(&out, 1),
        "synack: persistent fetch failed: server answered 400 for /c.txt: \"This server speaks \
         HTTPS (TLS): use an https:// URL, or TLS in your client.\"\n"
    );
    // And the same server still speaks TLS to a TLS client.
    let url = format!("https://127.0.0.1:{port}/c.txt");
    let out = fetch(
        dir.path(),
        &["--mode", "persistent", "--cacert", cert.to_str().unwrap()],
        &url,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(dir.path().join("received/persistent/c.txt")).unwrap(),
        b"hello\n"
    );
}

// Settings that cannot be used.

#[test]
fn an_unknown_congestion_control_is_named_with_the_choices() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::compare_in(dir.path())
        .args(["--no-capture", "--rounds", "1", "--congestion", "nosuchcc"])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let stderr = failed(&out, 1);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("\"nosuchcc\"") && stderr.contains("reno"),
        "{stderr}"
    );
    assert!(!stderr.contains("os error"), "no raw errno: {stderr}");
}

#[test]
fn jitter_beyond_the_one_way_delay_is_refused_at_once_with_a_setting_that_works() {
    let dir = tempfile::tempdir().unwrap();
    for (args, says) in [
        (
            &["--jitter", "30ms"][..],
            "--jitter varies the delay --rtt sets, and there is none: give --rtt too, at least \
             twice the jitter, e.g. --rtt 60ms --jitter 30ms",
        ),
        (
            &["--rtt", "20ms", "--jitter", "15ms"],
            "--jitter 15ms is more than the one-way delay (10ms of --rtt 20ms): give an --rtt of \
             at least twice the jitter, e.g. --rtt 30ms --jitter 15ms",
        ),
    ] {
        let out = common::compare_in(dir.path())
            .args(["--rounds", "1"])
            .args(args)
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        let stderr = failed(&out, 1);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn bad_link_settings_are_refused_at_once_naming_the_fix_and_leaving_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("cell.down");
    std::fs::write(&trace, "1\n2\n2.5\n").unwrap();
    let trace = trace.to_str().unwrap();
    for (args, code, says) in [
        (
            &["--trace-down", trace][..],
            1,
            "cell.down, line 3: \"2.5\" is not a time in whole milliseconds",
        ),
        (
            &["--path", "cabel"],
            2,
            "no path called \"cabel\"; known paths: lan, cable, dsl, lte, transcontinental, \
             transoceanic, satellite",
        ),
        (
            &["--mtu", "500"],
            2,
            "500 is below 576, the least every IPv4 host must take: give --mtu 1500 (Ethernet, \
             the default) or 9000 (jumbo frames)",
        ),
        (
            &["--mtu", "70000"],
            2,
            "70000 is above 65535, the largest IP packet",
        ),
        (
            &["--loss", "gemodel 1% 25%"],
            2,
            "write the Gilbert-Elliott parameters after a colon, e.g. gemodel:1%,30%",
        ),
        (&["--queue", "0"], 2, "a queue holds 1 … 1000000 packets"),
    ] {
        let out = common::compare_in(dir.path())
            .args(["--rounds", "1"])
            .args(args)
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        let stderr = failed(&out, code);
        let first = stderr.lines().next().unwrap_or_default();
        assert!(first.contains(says), "{args:?}: {stderr}");
        assert!(
            !dir.path().join("captures").exists(),
            "{args:?} left a folder"
        );
    }
}

#[test]
fn a_negative_duration_is_an_invalid_value_not_an_unknown_option() {
    for (args, option, value, why) in [
        (
            &["compare", "--rtt", "-5ms"][..],
            "--rtt <TIME>",
            "-5ms",
            "a duration",
        ),
        (
            &["compare", "--jitter", "-1ms"],
            "--jitter <TIME>",
            "-1ms",
            "a duration",
        ),
        (
            &["compare", "--timeout", "-2s"],
            "--timeout <TIME>",
            "-2s",
            "a timeout",
        ),
        (
            &["compare", "--loss", "-1%"],
            "--loss <LOSS>",
            "-1%",
            "a loss rate",
        ),
        (
            &[
                "fetch",
                "--mode",
                "persistent",
                "--timeout",
                "-1s",
                "http://127.0.0.1:1/",
            ],
            "--timeout <TIME>",
            "-1s",
            "a timeout",
        ),
    ] {
        let out = common::synack().args(args).output().unwrap();
        let stderr = failed(&out, 2);
        assert!(
            stderr.starts_with(&format!(
                "error: invalid value '{value}' for '{option}': {why} cannot be negative\n"
            )),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn serve_tfo_warns_when_the_host_takes_no_data_on_a_syn() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr");
    let stderr = std::fs::File::create(&log).unwrap();
    let (served, _) = common::serve_with(dir.path(), &["--tfo"], stderr.into());
    drop(served);
    let stderr = std::fs::read_to_string(&log).unwrap();
    // The host's setting, read here: bit 2 lets a server take data on a SYN.
    let setting: u32 = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_fastopen")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    if setting & 2 == 0 {
        assert_eq!(
            stderr.lines().next(),
            Some(
                format!(
                    "synack: warning: --tfo needs net.ipv4.tcp_fastopen=3 (it is {setting}), so the \
                     server takes no data on a SYN: `sudo sysctl -w net.ipv4.tcp_fastopen=3`"
                )
                .as_str()
            ),
            "{stderr}"
        );
    } else {
        assert!(!stderr.contains("tcp_fastopen"), "{stderr}");
    }
}
