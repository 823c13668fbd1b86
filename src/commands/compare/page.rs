//! `synack compare`: report.html beside report.json — the median round's packets read again from
//! the saved captures, then the page — and report.pdf, the page printed.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::analysis::comparison::Comparison;
use crate::analysis::drawn::draw_median_round;
use crate::commands::pdf::Chromium;
use crate::report::html;

/// Writes `run_dir/report.html` and returns its path.
pub(super) fn write_html(cmp: &Comparison, run_dir: &Path) -> anyhow::Result<PathBuf> {
    let drawn = draw_median_round(cmp).context("cannot read the saved captures again")?;
    let page = html::comparison(cmp, drawn.as_ref(), run_dir);
    let path = run_dir.join("report.html");
    super::saving::write_atomically(&path, page.as_bytes())?;
    Ok(path)
}

/// Prints the page at `html` to report.pdf beside it and returns its path.
pub(super) fn write_pdf(chromium: &Chromium, html: &Path) -> anyhow::Result<PathBuf> {
    let path = html.with_file_name("report.pdf");
    chromium.print(html, &path)?;
    Ok(path)
}
