//! The edges of the process: every failure ends the run promptly with one line, leaves no
//! half-written files, and changes the owner only of what synack made.

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

/// Runs `synack compare ARGS` in `dir` (killed after `limit`); returns (exit code, stdout,
/// stderr, seconds taken).
fn compare_in(dir: &Path, args: &[&str], limit: Duration) -> (Option<i32>, String, String, f64) {
    let started = Instant::now();
    let out = common::synack()
        .current_dir(dir)
        .args(["compare", "--no-pdf"])
        .args(args)
        .timeout(limit)
        .output()
        .expect("run synack");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        started.elapsed().as_secs_f64(),
    )
}

/// A failure message: one line, the cause said once.
fn assert_one_line(stderr: &str) {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    let parts: Vec<&str> = lines[0].split(": ").collect();
    for pair in parts.windows(2) {
        assert_ne!(pair[0], pair[1], "said twice: {stderr}");
    }
}

#[test]
fn compare_over_a_dead_link_fails_within_its_timeout_as_root() {
    if !common::require_root("compare_over_a_dead_link_fails_within_its_timeout_as_root") {
        return;
    }
    let _link = common::link_slot();
    for link in [["--loss", "100%"], ["--rate", "1bit"]] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut args = vec!["--rounds", "2", "--no-capture", "--timeout", "2s"];
        args.extend(link);
        let (code, _, stderr, seconds) = compare_in(dir.path(), &args, Duration::from_secs(60));
        assert_eq!(code, Some(1), "{link:?} ends with an error: {stderr}");
        assert!(seconds < 20.0, "{link:?} took {seconds} s");
        assert!(stderr.contains("within 2 s (--timeout"), "{stderr}");
        assert_one_line(&stderr);
    }
}

#[test]
fn compare_over_a_link_into_an_unwritable_folder_fails_at_once_as_root() {
    if !common::require_root("compare_over_a_link_into_an_unwritable_folder_fails_at_once_as_root")
    {
        return;
    }
    let _link = common::link_slot();
    let dir = tempfile::tempdir().expect("tempdir");
    // Root writes anywhere a mode allows, but nothing can be made under /proc.
    let args = [
        "--rtt",
        "10ms",
        "--rounds",
        "1",
        "--no-capture",
        "--out",
        "/proc/synack",
    ];
    let (code, _, stderr, seconds) = compare_in(dir.path(), &args, Duration::from_secs(60));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(seconds < 20.0, "took {seconds} s");
    assert!(stderr.contains("/proc/synack"), "{stderr}");
    assert_one_line(&stderr);
    // A failed run leaves no empty run folder behind.
    assert!(!dir.path().join("captures").exists());
}

/// A tmpfs of `size` mounted on `dir` for the life of the value.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).expect("mount point");
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "synack-test"])
            .arg(dir)
            .status()
            .expect("run mount");
        assert!(status.success(), "mount a tmpfs on {}", dir.display());
        Tmpfs(dir.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_capture_on_a_full_disk_ends_the_run_without_tables_as_root() {
    if !common::require_root("a_capture_on_a_full_disk_ends_the_run_without_tables_as_root") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let small = dir.path().join("small");
    let _tmpfs = Tmpfs::mount(&small, "48k");
    let args = [
        "--rounds",
        "5",
        "--captures",
        "small",
        "--modes",
        "non-persistent",
    ];
    let (code, stdout, stderr, _) = compare_in(dir.path(), &args, Duration::from_secs(120));
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert_one_line(&stderr);
    assert!(!stdout.contains("Saved"), "no report: {stdout}");
    let leftovers: Vec<_> = walk(&small);
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
}

/// Every file below `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// Sends `signal` to the process `pid`.
fn send_signal(pid: u32, signal: i32) {
    // SAFETY: kill takes two integers and touches no memory; the child is ours and not reaped.
    #[allow(unsafe_code)]
    let result = unsafe { libc::kill(pid as i32, signal) };
    assert_eq!(result, 0, "signal the child");
}

#[test]
fn an_interrupted_compare_removes_what_is_half_written_and_says_so() {
    // Ctrl-C, a kill, and the terminal closing under the run.
    for (signal, code) in [
        (libc::SIGINT, 130),
        (libc::SIGTERM, 143),
        (libc::SIGHUP, 129),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).expect("private temp folder");
        let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("synack"))
            .current_dir(dir.path())
            .env("TMPDIR", &tmp)
            .args(["compare", "--no-pdf", "--rounds", "1000", "--no-capture"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn synack");
        // Interrupt once runs are under way.
        let received = dir.path().join("received").join("persistent");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !received.join("c.txt").exists() {
            assert!(Instant::now() < deadline, "no run completed");
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(100));
        send_signal(child.id(), signal);
        let started = Instant::now();
        let out = child.wait_with_output().expect("wait");
        assert!(started.elapsed() < Duration::from_secs(10), "ends promptly");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{stderr}");
        assert!(stderr.contains("interrupted"), "{stderr}");
        assert_one_line(&stderr);
        let left = walk(dir.path());
        let part: Vec<_> = left
            .iter()
            .filter(|p| p.to_string_lossy().ends_with(".part"))
            .collect();
        assert!(part.is_empty(), "half-written files left: {part:?}");
        assert!(
            std::fs::read_dir(&tmp).expect("tmp").next().is_none(),
            "temporary folders left: {left:?}"
        );
        assert!(
            left.iter()
                .any(|p| p.starts_with(dir.path().join("received"))),
            "completed files are kept"
        );
    }
}

#[test]
fn a_closed_stdout_ends_compare_quietly_after_its_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("synack"))
        .current_dir(dir.path())
        .args([
            "compare",
            "--no-pdf",
            "--rounds",
            "1",
            "--no-capture",
            "--json",
            "extra.json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn synack");
    // As `| head` does once it has read enough: the reading end goes away.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        dir.path().join("extra.json").is_file(),
        "the report is written"
    );
    let reports: Vec<_> = walk(&dir.path().join("captures"))
        .into_iter()
        .filter(|p| p.ends_with("report.json"))
        .collect();
    assert_eq!(reports.len(), 1, "report.json in the run folder");
}

fn owner(path: &Path) -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).expect("exists").uid()
}

#[test]
fn under_sudo_only_what_compare_made_changes_owner_as_root() {
    if !common::require_root("under_sudo_only_what_compare_made_changes_owner_as_root") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let deep = dir.path().join("out").join("sub").join("deep.txt");
    std::fs::create_dir_all(deep.parent().expect("parent")).expect("mkdir");
    std::fs::write(&deep, "k").expect("write");
    let out = common::synack()
        .current_dir(dir.path())
        .env("SUDO_UID", "65534")
        .env("SUDO_GID", "65534")
        .args([
            "compare",
            "--no-pdf",
            "--rounds",
            "1",
            "--no-capture",
            "--out",
            "out",
        ])
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run synack");
    common::ran(&out);
    assert_eq!(owner(&deep), 0, "an unrelated file keeps its owner");
    assert_eq!(
        owner(&dir.path().join("out")),
        0,
        "a folder that was there keeps its owner"
    );
    let made = dir.path().join("out").join("persistent");
    assert_eq!(owner(&made), 65534, "a folder synack made");
    assert_eq!(owner(&made.join("a.jpg")), 65534, "a file synack made");
    assert_eq!(owner(&dir.path().join("captures")), 65534);
    for report in walk(&dir.path().join("captures")) {
        assert_eq!(owner(&report), 65534, "{}", report.display());
    }
}

#[test]
fn a_planted_part_symlink_is_never_followed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious").expect("write");
    let persistent = dir.path().join("out").join("persistent");
    std::fs::create_dir_all(&persistent).expect("mkdir");
    std::os::unix::fs::symlink(&victim, persistent.join(".a.jpg.part")).expect("plant");
    let out = common::synack()
        .current_dir(dir.path())
        .args([
            "compare",
            "--no-pdf",
            "--rounds",
            "1",
            "--no-capture",
            "--out",
            "out",
        ])
        .args(["--modes", "persistent"])
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run synack");
    common::ran(&out);
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "precious"
    );
    assert!(persistent.join("a.jpg").is_file());
}

/// A one-connection server on loopback that answers with `answer` (writing it piece by piece,
/// `pause` apart, at most `pieces` times); returns its address.
fn stalling_server(
    answer: impl Fn(usize) -> Vec<u8> + Send + 'static,
    pieces: usize,
    pause: Duration,
) -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let mut request = [0u8; 1024];
        let _ = stream.read(&mut request);
        for piece in 0..pieces {
            if stream.write_all(&answer(piece)).is_err() {
                return;
            }
            std::thread::sleep(pause);
        }
    });
    addr
}

/// `synack fetch --timeout 2s` of /f.bin from `addr`; (exit code, stderr, seconds).
fn fetch_with_timeout(addr: std::net::SocketAddr) -> (Option<i32>, String, f64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let out = common::synack()
        .current_dir(dir.path())
        .args(["fetch", "--mode", "persistent", "--timeout", "2s"])
        .arg(format!("http://{addr}/f.bin"))
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run synack");
    let part = walk(dir.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".part"))
        .count();
    assert_eq!(part, 0, "no half-written file is left");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        started.elapsed().as_secs_f64(),
    )
}

#[test]
fn fetch_ends_an_endless_stream_of_interim_responses() {
    let addr = stalling_server(
        |_| b"HTTP/1.1 100 Continue\r\n\r\n".to_vec(),
        100_000,
        Duration::from_micros(10),
    );
    let (code, stderr, seconds) = fetch_with_timeout(addr);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(seconds < 10.0, "took {seconds} s");
    assert!(stderr.contains("interim"), "{stderr}");
    assert_one_line(&stderr);
}

#[test]
fn fetch_ends_a_trickled_body_at_its_deadline_and_names_the_timeout() {
    let addr = stalling_server(
        |piece| match piece {
            0 => b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n".to_vec(),
            _ => b"x".to_vec(),
        },
        100,
        Duration::from_millis(500),
    );
    let (code, stderr, seconds) = fetch_with_timeout(addr);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(seconds < 10.0, "took {seconds} s");
    // The server did answer: what it did not do is finish.
    assert!(
        stderr.contains("did not finish its response within 2 s (--timeout"),
        "{stderr}"
    );
    assert!(!stderr.contains("os error 11"), "{stderr}");
    assert_one_line(&stderr);
}

/// `synack ARGS`, expected to fail: (stdout, stderr).
fn failing(args: &[&str]) -> (String, String) {
    let out = common::synack()
        .args(args)
        .timeout(Duration::from_secs(30))
        .output()
        .expect("run synack");
    assert_eq!(out.status.code(), Some(1), "{args:?}");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_one_line(&stderr);
    (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

#[test]
fn small_mistakes_get_one_line_naming_the_fix() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let bind = taken.local_addr().expect("addr").to_string();
    let (stdout, stderr) = failing(&["serve", "--bind", &bind]);
    assert!(stdout.is_empty(), "nothing announced: {stdout}");
    assert!(stderr.contains("Address already in use"), "{stderr}");

    let (_, stderr) = failing(&["fetch", "--mode", "persistent", "127.0.0.1:9/a.jpg"]);
    assert!(stderr.contains("http://127.0.0.1:9/a.jpg"), "{stderr}");

    let (_, stderr) = failing(&["compare", "--server", "http://127.0.0.1:9/", "--no-capture"]);
    assert!(stderr.contains("--server 127.0.0.1:9"), "{stderr}");
}

#[test]
fn a_file_name_the_server_refuses_is_left_out_not_fatal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = dir.path().join("files");
    std::fs::create_dir(&files).expect("mkdir");
    std::fs::write(files.join("a\\b.txt"), "x").expect("write");
    std::fs::write(files.join("ok.txt"), "y").expect("write");
    let out = common::synack()
        .current_dir(dir.path())
        .args([
            "compare",
            "--no-pdf",
            "--rounds",
            "1",
            "--no-capture",
            "--files",
            "files",
        ])
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run synack");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("leaving out"), "{stderr}");
    assert!(dir.path().join("received/persistent/ok.txt").is_file());
}

#[test]
fn a_failed_fetch_names_the_files_it_saved_before() {
    let dir = tempfile::tempdir().expect("tempdir");
    let site = dir.path().join("site");
    std::fs::create_dir(&site).unwrap();
    std::fs::write(site.join("one.bin"), vec![7u8; 5000]).unwrap();
    let (_server, port) = common::serve(&site);
    let out = dir.path().join("got");
    let (_, stderr) = failing(&[
        "fetch",
        "--mode",
        "persistent",
        "--out",
        out.to_str().unwrap(),
        &format!("http://127.0.0.1:{port}/one.bin"),
        &format!("http://127.0.0.1:{port}/missing.bin"),
    ]);
    assert!(
        out.join("persistent/one.bin").is_file(),
        "one.bin was saved"
    );
    assert!(
        stderr.contains(&format!(
            "persistent fetch failed after saving one.bin in {}",
            out.join("persistent").display()
        )) && stderr.contains("404 for /missing.bin"),
        "{stderr}"
    );
}

#[test]
fn serve_verbose_prints_the_last_connections_lines_before_a_signal_ends_it() {
    for (signal, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("c.txt"), "hello\n").expect("write");
        let port = common::free_port();
        let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("synack"))
            .args([
                "serve",
                "-v",
                "--bind",
                &format!("127.0.0.1:{port}"),
                "--root",
            ])
            .arg(dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn synack serve");
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut stream = loop {
            match std::net::TcpStream::connect(("127.0.0.1", port)) {
                Ok(stream) => break stream,
                Err(error) => assert!(Instant::now() < deadline, "serve did not start: {error}"),
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The connection that found the server listening asks for the file and reads it all.
        std::io::Write::write_all(
            &mut stream,
            b"GET /c.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        )
        .expect("send");
        let mut answer = String::new();
        std::io::Read::read_to_string(&mut stream, &mut answer).expect("answer");
        assert!(answer.ends_with("hello\n"), "{answer}");
        // At once, well inside the printer's 200 ms between batches.
        send_signal(child.id(), signal);
        let out = child.wait_with_output().expect("wait");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(code), "{stdout}");
        assert!(stdout.contains("request GET /c.txt"), "{stdout}");
        assert!(
            stdout.contains("response ends after 6 body bytes"),
            "{stdout}"
        );
    }
}
