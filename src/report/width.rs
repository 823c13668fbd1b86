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

/// The space that keeps a number with the word after it ("8.46 ms", "2 connections") on one
/// line: a table or a sentence is never wrapped between the two. It is printed as a plain
/// space.
pub const GLUE: char = '\u{a0}';

/// `text` with the space after each number made [`GLUE`]. A number is a word of digits with
/// its sign, point and separators ("−7.58", "+1.5", "4,096", "2").
pub fn glue(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word_start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let next_is_word = chars.peek().is_some_and(|&(_, n)| !n.is_whitespace());
        if c == ' ' && next_is_word && is_number(&text[word_start..at]) {
            out.push(GLUE);
        } else {
            out.push(c);
        }
        if c == ' ' || c == '\n' {
            word_start = at + c.len_utf8();
        }
    }
    out
}

/// Whether `word` is a number: digits, with a sign, point, separators or an opening parenthesis
/// ("(2").
fn is_number(word: &str) -> bool {
    let word = word.rsplit(GLUE).next().unwrap_or(word);
    word.chars().any(|c| c.is_ascii_digit())
        && word
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | ',' | '+' | '-' | '−' | '±' | '('))
}

/// `text` with [`GLUE`] printed as the plain space it stands for.
fn unglue(text: &str) -> String {
    text.replace(GLUE, " ")
}

/// A table laid out for the terminal; it prints its glued spaces as plain ones.
pub struct Fitted(Table);

impl std::fmt::Display for Fitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&unglue(&self.0.to_string()))
    }
}

/// `table` laid out to fit `width` (cells wrap inside their column, between words where the
/// width allows); unchanged without one.
pub fn fit(mut table: Table, width: Option<u16>) -> Fitted {
    if let Some(width) = width {
        keep_words_whole(&mut table, width);
        table
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(width);
    }
    Fitted(table)
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
/// own keep it; hidden ones take no room.
fn keep_words_whole(table: &mut Table, width: u16) {
    let shown: Vec<usize> = (0..table.column_count())
        .filter(|&index| table.column(index).is_some_and(|c| !c.is_hidden()))
        .collect();
    let measured: Vec<Measure> = shown.iter().map(|&i| measure(table, i)).collect();
    let words: Vec<usize> = measured.iter().map(|m| m.word).collect();
    let count = shown.len();
    // The rightmost border, then each column's frame and content.
    let mut budget = usize::from(width).saturating_sub(1 + CELL_FRAME * count);
    // Values whole, but for the columns whose wrapping saves most, until the rest fits.
    let mut least: Vec<usize> = measured.iter().map(|m| m.value).collect();
    let mut total: usize = least.iter().sum();
    while total > budget {
        let saving = |at: usize| least[at] - words[at];
        let Some(at) = (0..count)
            .filter(|&i| saving(i) > 0)
            .max_by_key(|&i| saving(i))
        else {
            break;
        };
        total -= saving(at);
        least[at] = words[at];
    }
    for (at, (&index, &least)) in shown.iter().zip(&least).enumerate() {
        let rest = (count - at - 1) * NARROWEST;
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

/// How wide a column's content is, heading included.
struct Measure {
    /// Its longest word (see [`longest_word`]).
    word: usize,
    /// Its longest cell line.
    value: usize,
}

fn measure(table: &Table, index: usize) -> Measure {
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
    Measure {
        word: word.max(heading),
        value: value.max(heading),
    }
}

/// [`fit_in_parts`], printed one part after the other.
pub fn fit_in_parts_text(table: Table, width: Option<u16>, labels: usize) -> String {
    fit_in_parts(table, width, labels)
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// `table` fitted to `width` as [`fit`] does; or, when the longest words of its columns do not
/// fit side by side (so that some would be cut), as two or more tables, each repeating the first
/// `labels` columns (what names a row) and taking as many of the other columns, in order, as fit
/// with their words whole.
pub fn fit_in_parts(mut table: Table, width: Option<u16>, labels: usize) -> Vec<Fitted> {
    let Some(columns) = width.map(usize::from) else {
        return vec![Fitted(table)];
    };
    let count = table.column_count();
    let words: Vec<usize> = (0..count).map(|i| measure(&table, i).word).collect();
    let fits = |part: &[usize]| {
        // The rightmost border, then each column's frame and its longest word.
        let needed = 1 + part.iter().map(|&i| words[i] + CELL_FRAME).sum::<usize>();
        needed <= columns
    };
    let all: Vec<usize> = (0..count).collect();
    if labels >= count || fits(&all) {
        return vec![fit(table, width)];
    }
    let mut parts: Vec<Vec<usize>> = Vec::new();
    let mut part: Vec<usize> = (0..labels).collect();
    for index in labels..count {
        part.push(index);
        // A part takes at least one column besides the labels, fitting or not.
        if !fits(&part) && part.len() > labels + 1 {
            part.pop();
            let next = (0..labels).chain([index]).collect();
            parts.push(std::mem::replace(&mut part, next));
        }
    }
    parts.push(part);
    parts
        .iter()
        .map(|part| {
            let mut shown = table.clone();
            for index in (0..count).filter(|i| !part.contains(i)) {
                if let Some(column) = shown.column_mut(index) {
                    column.set_constraint(ColumnConstraint::Hidden);
                }
            }
            fit(shown, width)
        })
        .collect()
}

/// The width of the longest word in `text` (a number and its unit, [`glue`]d, count as one); a
/// text already broken into lines is laid out as it is meant to be read: each line whole.
fn longest_word(text: &str) -> usize {
    if text.contains('\n') {
        return text
            .lines()
            .map(|line| line.chars().count())
            .max()
            .unwrap_or(0);
    }
    // Split at plain spaces only: [`GLUE`] is whitespace to Rust, not to a table.
    text.split([' ', '\t'])
        .map(|word| word.chars().count())
        .max()
        .unwrap_or(0)
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
            // Lines break at spaces only: never at a word's own hyphen ("non-persistent") or
            // inside a path ("got/non-persistent").
            let options = textwrap::Options::new(usize::from(width))
                .initial_indent(&indent)
                .subsequent_indent(&indent)
                .word_separator(textwrap::WordSeparator::AsciiSpace)
                .word_splitter(textwrap::WordSplitter::NoHyphenation);
            unglue(&textwrap::fill(&glue(line.trim_start()), options))
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
    fn a_path_is_never_broken_at_its_slashes() {
        let line =
            "non-persistent: 2 files over 2 connections in 13.4 ms, saved in got/non-persistent";
        let wrapped = wrap(line, Some(80));
        assert!(wrapped.ends_with("\ngot/non-persistent"), "{wrapped}");
    }

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
        let hyphenated = "persistent a.jpg for 36.0 ms of 68.0 ms busy; non-persistent b.mp3";
        let wrapped = wrap(hyphenated, Some(50));
        assert!(wrapped.contains("non-persistent"), "{wrapped}");
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
            t.add_row(
                ["non-persistent", file, mean, median, range]
                    .iter()
                    .map(|cell| glue(cell))
                    .collect::<Vec<_>>(),
            );
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
        assert_eq!(longest_word(&glue("95.7 ms ± 8.46 ms")), "95.7 ms".len());
        assert_eq!(longest_word(&glue("62.0 KiB")), 8);
        assert_eq!(longest_word("non-persistent b.mp3"), 14);
        assert_eq!(longest_word(""), 0);
        assert_eq!(longest_word("gap\n± 95 % CI"), "± 95 % CI".chars().count());
    }

    #[test]
    fn a_table_too_wide_for_its_words_is_split_repeating_its_labels() {
        let mut t = Table::new();
        t.set_header(vec![
            "mode",
            "file",
            "cwnd → acked",
            "1st flight",
            "client rwnd",
            "rounds",
            "busy",
            "rwnd limited",
            "sndbuf limited",
        ]);
        // Glued as the report's tables are.
        t.add_row(
            [
                "non-persistent",
                "b.mp3",
                "10 → 473",
                "7 / 10",
                "62.0 KiB",
                "9",
                "184 ms",
                "72.0 ms",
                "0.00 ms",
            ]
            .iter()
            .map(|cell| glue(cell))
            .collect::<Vec<_>>(),
        );
        let parts = fit_in_parts(t.clone(), Some(80), 2);
        assert_eq!(parts.len(), 2);
        let text: Vec<String> = parts.iter().map(ToString::to_string).collect();
        for part in &text {
            assert!(
                part.contains("non-persistent") && part.contains("b.mp3"),
                "{part}"
            );
            for line in part.lines() {
                assert!(line.chars().count() <= 80, "{line}");
            }
        }
        // Every other heading word and every value whole, in one part or the other.
        let both = text.join("\n");
        for whole in [
            "rounds",
            "limited",
            "sndbuf",
            "10 → 473",
            "62.0 KiB",
            "0.00 ms",
        ] {
            assert!(both.contains(whole), "{whole}:\n{both}");
        }
        // Wide enough, one table as before; no width, the table untouched.
        assert_eq!(fit_in_parts(t.clone(), Some(120), 2).len(), 1);
        assert_eq!(fit_in_parts(t, None, 2).len(), 1);
    }

    #[test]
    fn a_number_stays_with_its_unit_in_sentences_and_tables() {
        assert_eq!(glue("−2.12 ms rounds"), "−2.12\u{a0}ms rounds");
        assert_eq!(glue("(2 × RTT 20.3 ms)"), "(2\u{a0}× RTT 20.3\u{a0}ms)");
        assert_eq!(glue("b.mp3 for 56.0 ms"), "b.mp3 for 56.0\u{a0}ms");
        assert_eq!(glue("a 5"), "a 5");
        let sentence = "  non-persistent: +50.0 ms = +0.11 ms handshakes beyond the RTT, −2.12 ms \
                        rounds spaced less than an RTT apart, 0.00 ms the rest";
        for width in 20..80 {
            let wrapped = wrap(sentence, Some(width));
            assert!(!wrapped.contains('\u{a0}'), "printed as a plain space");
            for line in wrapped.lines() {
                let last = line.split(' ').next_back().unwrap_or("");
                assert!(!is_number(last), "{width}: a number ends a line: {line:?}");
            }
        }
        for width in 30..60 {
            let mut t = Table::new();
            t.set_header(vec![
                "mode",
                "= handshakes + requests + slow start + serialisation",
            ]);
            t.add_row(vec![
                "non-persistent",
                &glue("60.0 ms + 60.0 ms + 80.0 ms + 0.00 ms"),
            ]);
            let text = fit(t, Some(width)).to_string();
            assert!(!text.contains('\u{a0}'), "{text}");
            for cell in text.lines().flat_map(|line| line.split('|')) {
                let last = cell.split(' ').rfind(|w| !w.is_empty()).unwrap_or("");
                assert!(
                    !is_number(last),
                    "a number ends a cell's line: {cell:?}\n{text}"
                );
            }
        }
    }
}
