//! Report layer, terminal: what a comparison saved, one item to a line with the paths in a column.
//! Nothing in `report/` imports it.

use std::fmt::Write as _;
use std::path::Path;

use crate::transfer::run::Mode;

/// What a comparison saved; a variant's name goes with what it saved when there are several.
pub struct Saved<'a> {
    /// Each mode's capture.
    pub captures: Vec<(Option<&'a str>, Mode, &'a Path)>,
    /// report.json.
    pub report: &'a Path,
    /// Each variant's HTML page.
    pub pages: Vec<(Option<&'a str>, &'a Path)>,
    /// Each variant's page printed to PDF, where it was.
    pub documents: Vec<(Option<&'a str>, &'a Path)>,
    /// Where the received files went.
    pub received: &'a Path,
}

/// "Saved" and what was saved, one item to a line with the paths in a column. Where a line would
/// be wider than `width`, its path goes on a line of its own below its label: a path is never
/// wrapped, so that it can be copied whole.
pub fn saved(saved: &Saved<'_>, width: Option<u16>) -> String {
    let mut items: Vec<(String, &Path)> = Vec::new();
    for &(variant, mode, path) in &saved.captures {
        let label = match variant {
            Some(variant) => format!("{variant} {}", mode.name()),
            None => mode.name().to_string(),
        };
        items.push((label, path));
    }
    items.push(("report".into(), saved.report));
    for &(variant, path) in &saved.pages {
        let label = variant.map_or_else(|| "html report".to_string(), |v| format!("html {v}"));
        items.push((label, path));
    }
    for &(variant, path) in &saved.documents {
        let label = variant.map_or_else(|| "pdf report".to_string(), |v| format!("pdf {v}"));
        items.push((label, path));
    }
    items.push(("received files".into(), saved.received));
    saved_lines(&items, width)
}

/// `(label, path)` pairs under "Saved", laid out as [`saved`] says.
fn saved_lines(items: &[(String, &Path)], width: Option<u16>) -> String {
    const LABEL: usize = 15;
    let label_width = items
        .iter()
        .map(|(label, _)| label.chars().count())
        .max()
        .unwrap_or(0)
        .max(LABEL);
    let mut out = String::from("Saved\n");
    for (label, path) in items {
        let path = path.display();
        let line = format!("  {label:<label_width$} {path}");
        if width.is_some_and(|w| line.chars().count() > usize::from(w)) {
            let _ = writeln!(out, "  {label}\n    {path}");
        } else {
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_path_too_wide_for_its_line_goes_whole_on_a_line_below() {
        let capture = Path::new("captures/20261201-170815/persistent.pcap");
        let report = Path::new("captures/20261201-170815/report.json");
        let saved = Saved {
            captures: vec![(None, Mode::Persistent, capture)],
            report,
            pages: Vec::new(),
            documents: Vec::new(),
            received: Path::new("/tmp/x"),
        };
        let wide = super::saved(&saved, Some(100));
        assert_eq!(
            wide,
            "Saved\n  persistent      captures/20261201-170815/persistent.pcap\n  \
             report          captures/20261201-170815/report.json\n  received files  /tmp/x\n"
        );
        assert_eq!(
            super::saved(&saved, None),
            wide,
            "piped output keeps its full width"
        );
        let narrow = super::saved(&saved, Some(50));
        assert_eq!(
            narrow,
            "Saved\n  persistent\n    captures/20261201-170815/persistent.pcap\n  report\n    \
             captures/20261201-170815/report.json\n  received files  /tmp/x\n"
        );
    }
}
