//! The edges of the process: every failure ends the run promptly with one line, leaves no
//! half-written files, and changes the owner only of what synack made.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

/// One emulated link at a time: the forwarder's timing needs the machine's cores to itself.
static ONE_LINK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `synack compare ARGS` in `dir` (killed after `limit`); returns (exit code, stdout,
/// stderr, seconds taken).
fn compare_in(dir: &Path, args: &[&str], limit: Duration) -> (Option<i32>, String, String, f64) {
    let started = Instant::now();
    let out = common::synack()
        .current_dir(dir)
        .arg("compare")
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
    let _one = ONE_LINK.lock().unwrap_or_else(|e| e.into_inner());
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
    let _one = ONE_LINK.lock().unwrap_or_else(|e| e.into_inner());
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
