//! aioquic, an HTTP/3 implementation synack did not write, as the tests run it: its client and
//! server (tests/fixtures/aioquic/) in the virtual environment `scripts/install-deps.sh --test`
//! makes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{Stopped, in_ci};

/// The Python with aioquic that `scripts/install-deps.sh --test` makes.
pub const PYTHON: &str = "/opt/synack-aioquic/bin/python";

/// Whether aioquic can be run; fails under CI, where `scripts/install-deps.sh --test` installs
/// it.
pub fn have(test: &str) -> bool {
    let found = Command::new(PYTHON)
        .args(["-c", "import aioquic"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            !in_ci(),
            "{test}: aioquic must be installed in {PYTHON} under CI \
             (scripts/install-deps.sh --test)"
        );
        println!(
            "skipping {test}: no aioquic at {PYTHON} (scripts/install-deps.sh --test makes it)"
        );
    }
    found
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/aioquic")
        .join(name)
}

/// aioquic's server (h3_serve.py) of the files in `root` on UDP 127.0.0.1:`port` with `cert` and
/// `key`, and its `options` (`--v2`, `--retry`); returns once it listens.
pub fn serve(root: &Path, (cert, key): (&Path, &Path), port: u16, options: &[&str]) -> Stopped {
    let mut child = Command::new(PYTHON)
        .arg(script("h3_serve.py"))
        .arg("--cert")
        .arg(cert)
        .arg("--key")
        .arg(key)
        .arg("--root")
        .arg(root)
        .args(["--port", &port.to_string()])
        .args(options)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start aioquic's server");
    let stdout = child.stdout.take().unwrap();
    let server = Stopped(child);
    let mut ready = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut ready).unwrap();
    assert_eq!(ready.trim(), "ready", "aioquic's server did not start");
    server
}

/// aioquic's client (h3_get.py) fetching `urls` from a server it trusts by `cert`, saving the
/// bodies in `out`; the caller may add options (`--connections N`, `--v2`) before it runs it.
pub fn get(cert: &Path, out: &Path, urls: &[String]) -> assert_cmd::Command {
    std::fs::create_dir_all(out).unwrap();
    let mut command = assert_cmd::Command::new(PYTHON);
    command
        .arg(script("h3_get.py"))
        .arg("--ca-certs")
        .arg(cert)
        .arg("--out")
        .arg(out)
        .args(urls)
        .timeout(std::time::Duration::from_secs(60));
    command
}
