//! Commands: an HTML report printed to PDF by headless Chromium, the page's print stylesheet
//! deciding where pages break. Chromium is found on PATH, run with a bounded time, and its PDF
//! written under a temporary name, so a report.pdf is either whole or absent.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The names Chromium is installed under (Debian's `chromium` package, and others' builds).
const NAMES: [&str; 2] = ["chromium", "chromium-browser"];

/// The Debian package that provides it, for the message when it is missing.
pub(crate) const PACKAGE: &str = "chromium";

/// How long one page may take to print; a large report prints in a few seconds.
const PRINT_TIMEOUT: Duration = Duration::from_secs(120);

/// How often a running print is checked for its end.
const POLL: Duration = Duration::from_millis(50);

/// A Chromium binary found on PATH.
pub(crate) struct Chromium(PathBuf);

impl Chromium {
    /// The first Chromium on PATH, if any.
    pub(crate) fn find() -> Option<Chromium> {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .flat_map(|dir| NAMES.map(|name| dir.join(name)))
            .find(|candidate| is_executable(candidate))
            .map(Chromium)
    }

    /// Prints the page at `html` to `pdf`: a temporary file beside it, renamed once Chromium has
    /// written a whole PDF; nothing is left at either name when it fails or takes too long.
    pub(crate) fn print(&self, html: &Path, pdf: &Path) -> anyhow::Result<()> {
        let name = pdf.file_name().context("the PDF needs a file name")?;
        let part = pdf.with_file_name(format!(".{}.part", name.to_string_lossy()));
        crate::created::create_partial(&part)
            .with_context(|| format!("cannot write {}", part.display()))?;
        let printed = self.print_to(html, &part);
        let printed = printed.and_then(|()| {
            crate::created::complete(&part, pdf)
                .with_context(|| format!("cannot write {}", pdf.display()))
        });
        if printed.is_err() {
            crate::created::discard(&part);
        }
        printed
    }

    /// Runs Chromium to print `html` into `out`, with a profile of its own that is removed after.
    fn print_to(&self, html: &Path, out: &Path) -> anyhow::Result<()> {
        let profile = tempfile::Builder::new()
            .prefix("synack-chromium-")
            .tempdir()
            .context("cannot make a temporary folder for Chromium's profile")?;
        crate::created::temporary(profile.path());
        let page = html
            .canonicalize()
            .with_context(|| format!("cannot find {}", html.display()))?;
        let log = profile.path().join("stderr");
        let mut command = Command::new(&self.0);
        // Chromium ends with synack: an interrupted run removes the half-written PDF and exits,
        // and nothing may write it again after that.
        // SAFETY: between fork and exec the closure only calls prctl, which is async-signal-safe
        // and touches no memory of the parent.
        #[allow(unsafe_code)]
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-pdf-header-footer",
                "--no-first-run",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("--print-to-pdf={}", out.display()))
            .arg(format!("file://{}", page.display()))
            // Its caches and settings go to the throwaway profile, not the user's home.
            .env("HOME", profile.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).context("cannot log Chromium's output")?)
            .spawn()
            .with_context(|| format!("cannot run {}", self.0.display()))?;
        let deadline = Instant::now() + PRINT_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().context("cannot wait for Chromium")? {
                break status;
            }
            if Instant::now() >= deadline {
                // Its helper processes end with it.
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "Chromium did not print {} within {} s",
                    html.display(),
                    PRINT_TIMEOUT.as_secs()
                );
            }
            std::thread::sleep(POLL);
        };
        let whole = std::fs::read(out).is_ok_and(|bytes| is_whole_pdf(&bytes));
        if !status.success() || !whole {
            let said = std::fs::read_to_string(&log).unwrap_or_default();
            bail!(
                "Chromium did not print {} ({status}){}",
                html.display(),
                last_error(&said).map_or_else(String::new, |line| format!(": {line}"))
            );
        }
        Ok(())
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether `bytes` are a PDF written to its end: the header, and the end-of-file marker last.
fn is_whole_pdf(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(64)..];
    bytes.starts_with(b"%PDF-") && tail.windows(5).any(|w| w == b"%%EOF")
}

/// The last line of Chromium's log that reports an error other than its usual complaints about a
/// missing desktop bus.
fn last_error(log: &str) -> Option<&str> {
    log.lines()
        .rev()
        .find(|l| (l.contains("ERROR") || l.contains("FATAL")) && !l.contains("dbus"))
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pdf_cut_short_is_not_whole() {
        let whole = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n";
        assert!(is_whole_pdf(whole));
        assert!(!is_whole_pdf(&whole[..whole.len() - 8]));
        assert!(!is_whole_pdf(b""));
        assert!(!is_whole_pdf(b"<html>%%EOF"));
    }

    #[test]
    fn the_bus_complaints_are_not_the_error() {
        let log = "[1:2:ERROR:dbus/bus.cc:405] Failed to connect to the bus\n\
                   [1:2:ERROR:printing/pdf.cc:9] Cannot write the file\n\
                   [1:2:ERROR:dbus/object_proxy.cc:572] Failed to call method\n";
        assert_eq!(
            last_error(log),
            Some("[1:2:ERROR:printing/pdf.cc:9] Cannot write the file")
        );
        assert_eq!(last_error("[1:2:ERROR:dbus/bus.cc:405] x\n"), None);
    }
}
