//! report.pdf: the HTML report printed by headless Chromium. Poppler, which did not make it, must
//! open it and find the verdict report.json holds (root: a live compare on loopback); `--pdf`
//! without Chromium fails in one line before anything runs; and a Chromium that fails halfway
//! leaves no report.pdf, whole or cut.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

/// The one run folder `compare` made under `captures`.
fn run_dir(captures: &Path) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(captures)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "one run folder: {dirs:?}");
    dirs.pop().unwrap()
}

/// `text` with every run of white space made one space, as a line broken anywhere reads again.
fn flowed(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn compare_prints_report_pdf_whose_text_holds_the_verdict_as_root() {
    let test = "compare_prints_report_pdf_whose_text_holds_the_verdict_as_root";
    if !common::require_root(test)
        || !common::have_tool("chromium", test)
        || !common::have_tool("pdftotext", test)
        || !common::have_tool("pdfinfo", test)
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Chromium's print takes the cores for a second or two: not beside an emulated link's test.
    let _quiet = common::link_slot();
    let out = common::compare_printing_in(dir.path())
        .args(["--rounds", "2", "--pdf"])
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap();
    let stdout = common::ran(&out);
    let run = run_dir(&dir.path().join("captures"));
    let pdf = run.join("report.pdf");
    assert!(
        stdout.contains(&pdf.display().to_string()),
        "the saved list names {}:\n{stdout}",
        pdf.display()
    );
    let names: Vec<String> = std::fs::read_dir(&run)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n.ends_with(".part")),
        "a temporary file is left: {names:?}"
    );

    let info = Command::new("pdfinfo").arg(&pdf).output().unwrap();
    let info = common::ran(&info);
    let pages: u32 = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap_or_else(|| panic!("pdfinfo names no pages:\n{info}"))
        .trim()
        .parse()
        .unwrap();
    assert!(pages >= 1, "{info}");

    let report: Value =
        serde_json::from_slice(&std::fs::read(run.join("report.json")).unwrap()).unwrap();
    let verdict = report["verdicts"]["non-persistent"]["sentence"]
        .as_str()
        .unwrap();
    let summary = report["summary"].as_array().unwrap();
    assert!(
        summary.iter().any(|l| l.as_str() == Some(verdict)),
        "the summary holds the verdict: {summary:?}"
    );
    let text = Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
        .unwrap();
    let text = flowed(&common::ran(&text));
    assert!(
        text.contains(&flowed(verdict)),
        "the verdict {verdict:?} is not in the PDF's text"
    );
}

#[test]
fn pdf_without_chromium_fails_in_one_line_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    // A PATH with nothing on it: no Chromium to be found.
    let empty = dir.path().join("bin");
    std::fs::create_dir(&empty).unwrap();
    let out = common::compare_printing_in(dir.path())
        .args(["--rounds", "1", "--pdf"])
        .env("PATH", &empty)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(
        lines[0].contains("--pdf") && lines[0].contains("apt-get install chromium"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("captures").exists() && !dir.path().join("received").exists(),
        "nothing is made before the check"
    );
}

/// A stand-in for Chromium that writes the start of a PDF where it is told to print, then fails.
const FAILING_CHROMIUM: &str = "#!/bin/sh
for arg; do
    case \"$arg\" in --print-to-pdf=*) printf '%%PDF-1.4\\n1 0 obj' > \"${arg#--print-to-pdf=}\" ;; esac
done
echo '[1:1:ERROR:printing/print_job.cc:1] the printer caught fire' >&2
exit 21
";

/// Runs `compare --no-capture` (no root needed) with the failing Chromium first on PATH.
fn compare_with_failing_chromium(dir: &Path, extra: &[&str]) -> std::process::Output {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let fake = bin.join("chromium");
    std::fs::write(&fake, FAILING_CHROMIUM).unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    common::compare_printing_in(dir)
        .args(["--rounds", "1", "--no-capture"])
        .args(extra)
        .env("PATH", path)
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap()
}

/// What the run folder holds, by name.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_chromium_that_fails_leaves_no_pdf_and_fails_only_with_pdf() {
    let dir = tempfile::tempdir().unwrap();
    let out = compare_with_failing_chromium(dir.path(), &["--pdf"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let said: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("report.html"))
        .collect();
    assert_eq!(said.len(), 1, "{stderr}");
    assert!(said[0].contains("the printer caught fire"), "{stderr}");
    let run = run_dir(&dir.path().join("captures"));
    assert_eq!(
        names_in(&run),
        ["report.html", "report.json"],
        "what was made is kept, and no PDF"
    );

    // Not asked for, a PDF that fails is a note, and the run succeeds.
    let dir = tempfile::tempdir().unwrap();
    let out = compare_with_failing_chromium(dir.path(), &[]);
    let stdout = common::ran(&out);
    assert!(!stdout.contains("report.pdf"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no report.pdf"), "{stderr}");
    let run = run_dir(&dir.path().join("captures"));
    assert_eq!(names_in(&run), ["report.html", "report.json"]);
}
