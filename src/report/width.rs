//! Report layer: how wide the output may be, and fitting tables and sentences to it.

use std::io::IsTerminal;

use comfy_table::{ContentArrangement, Table};

/// The width to fit: the terminal's when stdout is one; else `COLUMNS` when set (so a pipe can
/// still ask for a width); else None, the full width.
pub fn output_width() -> Option<u16> {
    if std::io::stdout().is_terminal() {
        return terminal_size::terminal_size().map(|(w, _)| w.0);
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<u16>().ok())
        .filter(|&w| w >= 40)
}

/// `table` laid out to fit `width` (cells wrap inside their column); unchanged without one.
pub fn fit(mut table: Table, width: Option<u16>) -> Table {
    if let Some(width) = width {
        table
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(width);
    }
    table
}

/// How many columns `table` takes with every cell whole.
pub fn natural_width(table: &Table) -> usize {
    table
        .to_string()
        .lines()
        .map(|line| line.chars().count())
        .max()
        .unwrap_or(0)
}

/// `text` wrapped to `width`, each paragraph's continuation lines indented like its first.
pub fn wrap(text: &str, width: Option<u16>) -> String {
    let Some(width) = width else {
        return text.to_owned();
    };
    text.lines()
        .map(|line| {
            let indent: String = line.chars().take_while(|c| *c == ' ').collect();
            let options = textwrap::Options::new(usize::from(width))
                .initial_indent(&indent)
                .subsequent_indent(&indent);
            textwrap::fill(line.trim_start(), options)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `text` with its prose lines wrapped to `width`; table lines (which `fit` already sized) are
/// left as they are.
pub fn wrap_prose(text: &str, width: Option<u16>) -> String {
    let is_table = |line: &str| line.starts_with(['┌', '│', '╞', '├', '└', '╘', '╒', '║']);
    let mut out: String = text
        .lines()
        .map(|line| {
            if is_table(line) {
                line.to_owned()
            } else {
                wrap(line, width)
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_wrap_within_the_width_and_keep_their_indent() {
        let text =
            "  persistent: +108 ms = +0.05 ms handshakes beyond the RTT, +0.81 ms server time";
        let wrapped = wrap(text, Some(40));
        assert!(wrapped.lines().count() > 1);
        for line in wrapped.lines() {
            assert!(line.chars().count() <= 40, "{line}");
            assert!(line.starts_with("  "), "{line}");
        }
        assert_eq!(wrap(text, None), text);
    }

    #[test]
    fn a_wide_table_fits_the_width() {
        let mut t = Table::new();
        t.set_header(vec![
            "a long header that takes room",
            "another long header",
            "x",
        ]);
        t.add_row(vec![
            "a long cell value with words",
            "more words in this cell",
            "1",
        ]);
        let text = fit(t, Some(50)).to_string();
        for line in text.lines() {
            assert!(line.chars().count() <= 50, "{line}");
        }
    }
}
