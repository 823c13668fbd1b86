//! What `compare` prints and saves: the terminal report, report.json, the run's folder, and the
//! list of what went where.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::{Compared, named};
use crate::cli::CompareArgs;
use crate::commands::output::{out, outln};
use crate::emulate::LinkStats;
use crate::report::compare_json::ComparisonReport;
use crate::report::terminal;

/// The terminal report: the first variant (in full with --full), the variants side by side, the
/// link's counts.
pub(super) fn print_report(
    compared: &[Compared],
    link_stats: Option<&LinkStats>,
    width: Option<u16>,
    args: &CompareArgs,
) {
    let first = &compared[0].comparison;
    if args.full || args.all_files {
        out!("{}", terminal::comparison(first, width, args.all_files));
    } else {
        out!("{}", terminal::comparison_brief(first, width));
    }
    if compared.len() > 1 {
        out!("{}", terminal::variants(&named(compared), width));
    }
    if let Some(link) = &first.link {
        let settings = crate::report::link::settings_with_mss(link, first.captured_mss());
        outln!("{}", crate::report::width::wrap(&settings, width));
    }
    if let Some(stats) = link_stats {
        outln!(
            "{}\n",
            crate::report::width::wrap(&crate::report::link::counts(stats), width)
        );
    }
}

/// What every capture of a comparison says of its run before naming its mode: synack's version,
/// the command line, the server, the variant and the link.
pub(super) fn about(
    server: std::net::SocketAddr,
    foreign: bool,
    variant: &str,
    link: Option<&crate::analysis::comparison::LinkSettings>,
) -> String {
    let command: Vec<String> = std::env::args().map(|a| shell_word(&a)).collect();
    let whose = if foreign {
        "not synack's own"
    } else {
        "synack's own"
    };
    let link = match link {
        Some(link) => crate::report::link::settings(link),
        None => "link: none emulated, the host's own path".to_owned(),
    };
    format!(
        "made by synack {} compare\ncommand: {}\nserver: {server} ({whose})\nvariant: {variant}\n{link}",
        env!("CARGO_PKG_VERSION"),
        command.join(" ")
    )
}

/// `word` as a POSIX shell reads it back: bare when it is safe, else in single quotes.
fn shell_word(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./=:,%+@".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// Writes report.json into `run_dir` (and to --json); returns its path.
pub(super) fn save_report(
    compared: &[Compared],
    link_stats: Option<&LinkStats>,
    run_dir: &Path,
    args: &CompareArgs,
) -> anyhow::Result<PathBuf> {
    let report = ComparisonReport::of(&named(compared), link_stats);
    let report = serde_json::to_string_pretty(&report)?;
    let report_path = run_dir.join("report.json");
    write_atomically(&report_path, report.as_bytes())?;
    if let Some(extra) = &args.output.json {
        write_atomically(extra, report.as_bytes())?;
    }
    Ok(report_path)
}

/// What was saved where: each capture, page and printed page by variant, report.json, the
/// received files.
pub(super) fn saved_list<'a>(
    compared: &'a [Compared],
    report: &'a Path,
    pages: &'a [PathBuf],
    documents: &'a [Option<PathBuf>],
    received: &'a Path,
) -> terminal::Saved<'a> {
    let one = compared.len() == 1;
    let variant = |c: &'a Compared| (!one).then_some(c.variant.name.as_str());
    terminal::Saved {
        captures: compared
            .iter()
            .flat_map(|c| {
                c.comparison.modes.iter().filter_map(move |m| {
                    Some((variant(c), m.mode, m.capture.as_ref()?.path.as_path()))
                })
            })
            .collect(),
        report,
        pages: compared
            .iter()
            .zip(pages)
            .map(|(c, page)| (variant(c), page.as_path()))
            .collect(),
        documents: compared
            .iter()
            .zip(documents)
            .filter_map(|(c, pdf)| Some((variant(c), pdf.as_deref()?)))
            .collect(),
        received,
    }
}

/// Makes `<captures>/<YYYYmmdd-HHMMSS>` (UTC), with a suffix if that second is taken.
pub(super) fn make_run_dir(captures: &Path) -> anyhow::Result<PathBuf> {
    crate::created::create_dir_all(captures)
        .with_context(|| format!("cannot create {}", captures.display()))?;
    let now = time::OffsetDateTime::now_utc();
    let stamp = format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    for n in 1..100 {
        let name = if n == 1 {
            stamp.clone()
        } else {
            format!("{stamp}-{n}")
        };
        let dir = captures.join(name);
        match crate::created::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
        }
    }
    bail!("cannot find a free run folder under {}", captures.display())
}

/// Whether a file can be made beside `path`.
/// Writes `path` via a temporary file in the same folder, so it is never seen half-written.
pub(super) fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // Temporary files are private (0600) by default; a report is for reading, as any new file
    // under the umask.
    use std::os::unix::fs::PermissionsExt;
    let mut tmp = tempfile::Builder::new()
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    crate::created::made(path);
    Ok(())
}
