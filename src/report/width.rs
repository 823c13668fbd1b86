//! Report layer: how wide the output may be, and fitting tables and sentences to it.

use std::io::IsTerminal;

use comfy_table::{ColumnConstraint, ContentArrangement, Table, Width};

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

/// `table` laid out to fit `width` (cells wrap inside their column, between words where the
/// width allows); unchanged without one.
pub fn fit(mut table: Table, width: Option<u16>) -> Table {
    if let Some(width) = width {
        keep_words_whole(&mut table, width);
        table
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(width);
    }
    table
}

/// The columns each cell adds to a table's width besides its content: a space on either side
/// and one border.
const CELL_FRAME: usize = 3;

/// The fewest columns a cell's content is given in the budget of [`keep_words_whole`] when its
/// words cannot all be kept whole.
const NARROWEST: usize = 4;

/// Keeps what wraps badly whole when a table is narrowed: every cell on one line (a number with
/// its unit, "10 → 473") and only headings wrapped between words, as far as the width allows;
/// then the cells of the columns that gain most from it wrapped too, between words; and when
/// even the longest words do not fit side by side, as many columns as can from the left (where
/// the row labels are) keep theirs ("non-persistent" whole, not "non-persi|stent") while the
/// columns after them can still have a few characters each. Columns with a constraint of their
/// own keep it.
fn keep_words_whole(table: &mut Table, width: u16) {
    let count = table.column_count();
    let longest_word = |text: &str| longest_word(text);
    let mut words = Vec::with_capacity(count);
    let mut values = Vec::with_capacity(count);
    for index in 0..count {
        let heading = table
            .header()
            .and_then(|h| h.cell_iter().nth(index))
            .map_or(0, |cell| longest_word(&cell.content()));
        let cells: Vec<String> = table
            .column_cells_iter(index)
            .flatten()
            .map(comfy_table::Cell::content)
            .collect();
        let word = cells.iter().map(|c| longest_word(c)).max().unwrap_or(0);
        let value = cells
            .iter()
            .flat_map(|c| c.lines().map(|line| line.chars().count()))
            .max()
            .unwrap_or(0);
        words.push(word.max(heading));
        values.push(value.max(heading));
    }
    // The rightmost border, then each column's frame and content.
    let mut budget = usize::from(width).saturating_sub(1 + CELL_FRAME * count);
    // Values whole, but for the columns whose wrapping saves most, until the rest fits.
    let mut least = values;
    let mut total: usize = least.iter().sum();
    while total > budget {
        let saving = |index: usize| least[index] - words[index];
        let Some(index) = (0..count)
            .filter(|&i| saving(i) > 0)
            .max_by_key(|&i| saving(i))
        else {
            break;
        };
        total -= saving(index);
        least[index] = words[index];
    }
    for (index, &least) in least.iter().enumerate() {
        let rest = (count - index - 1) * NARROWEST;
        if least + rest > budget {
            break;
        }
        budget -= least;
        let (Some(column), Ok(least)) = (table.column_mut(index), u16::try_from(least)) else {
            break;
        };
        if column.constraint().is_none() {
            // A fixed width counts the column's padding too.
            let least = least + column.padding_width();
            column.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(least)));
        }
    }
}

/// Units that read badly on a line of their own: a number keeps its unit.
const UNITS: [&str; 9] = ["ns", "µs", "ms", "s", "B", "KiB", "MiB", "GiB", "%"];

/// The width of the longest word in `text`, a number and its unit ("8.46 ms") counting as one;
/// a text already broken into lines is laid out as it is meant to be read: each line whole.
fn longest_word(text: &str) -> usize {
    if text.contains('\n') {
        return text
            .lines()
            .map(|line| line.chars().count())
            .max()
            .unwrap_or(0);
    }
    let mut longest = 0;
    let mut previous = 0;
    for word in text.split_whitespace() {
        let width = word.chars().count();
        let glued = if UNITS.contains(&word) {
            previous + 1 + width
        } else {
            width
        };
        longest = longest.max(glued);
        previous = width;
    }
    longest
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

    /// A timing table's shape: a label column, a file column with a long label, and values.
    fn timing_table() -> Table {
        let mut t = Table::new();
        t.set_header(vec!["mode", "file", "mean ± σ", "median", "min … max"]);
        for (file, mean, median, range) in [
            ("a.jpg", "95.7 ms ± 8.46 ms", "95.7 ms", "89.7 ms … 102 ms"),
            (
                "total per run (2 runs)",
                "351 ms ± 1.75 ms",
                "351 ms",
                "350 ms … 352 ms",
            ),
        ] {
            t.add_row(vec!["non-persistent", file, mean, median, range]);
        }
        t
    }

    /// The cells of `text`'s table rows, joined across the lines a row takes, column by column.
    fn lines_of(text: &str) -> Vec<&str> {
        text.lines().collect()
    }

    #[test]
    fn a_narrowed_table_wraps_the_column_that_gains_most_and_keeps_values_whole() {
        let t = timing_table();
        assert!(natural_width(&t) > 80);
        let text = fit(t, Some(80)).to_string();
        let lines = lines_of(&text);
        for line in &lines {
            assert!(line.chars().count() <= 80, "{line}");
        }
        // Every value and label on one line; only the long file label wraps.
        for whole in [
            "non-persistent",
            "95.7 ms ± 8.46 ms",
            "351 ms ± 1.75 ms",
            "89.7 ms … 102 ms",
        ] {
            assert!(text.contains(whole), "{whole} broken:\n{text}");
        }
        assert!(!text.contains("total per run (2 runs)"), "{text}");
    }

    #[test]
    fn too_narrow_for_every_word_the_labels_on_the_left_stay_whole() {
        let text = fit(timing_table(), Some(50)).to_string();
        for line in text.lines() {
            assert!(line.chars().count() <= 50, "{line}");
        }
        assert!(text.contains("non-persistent"), "{text}");
    }

    #[test]
    fn a_number_keeps_its_unit_as_one_word() {
        assert_eq!(longest_word("95.7 ms ± 8.46 ms"), "95.7 ms".len());
        assert_eq!(longest_word("62.0 KiB"), 8);
        assert_eq!(longest_word("non-persistent b.mp3"), 14);
        assert_eq!(longest_word(""), 0);
        assert_eq!(longest_word("gap\n± 95 % CI"), "± 95 % CI".chars().count());
    }
}
