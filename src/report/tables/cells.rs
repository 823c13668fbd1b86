//! Report layer, tables: what every table shares — a header with numbers right-aligned, and
//! cells whose numbers stay with their units when a narrowed table wraps. Reads `units` and
//! `width`; must not import sentences or the terminal report.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, Table};

use crate::analysis::stats::Summary;
use crate::report::units::TimeUnit;
use crate::report::width::{GLUE, glue};

pub(super) fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED).set_header(glued(
        header.iter().map(ToString::to_string).collect::<Vec<_>>(),
    ));
    for i in 1..header.len() {
        if let Some(col) = t.column_mut(i) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

/// A row's cells with each number kept with what follows it ("8.46 ms"), so that a narrowed
/// table never wraps a figure away from its unit.
pub(super) fn glued<S: AsRef<str>>(cells: impl IntoIterator<Item = S>) -> Vec<String> {
    cells.into_iter().map(|c| glue(c.as_ref())).collect()
}

/// "mean ± σ", the median and "min … max", each one value that a narrowed table keeps on one
/// line: a spread cut at its "±" or "…" reads as two figures.
pub(super) fn summary_cells(s: &Summary, unit: TimeUnit) -> [String; 3] {
    let whole = |a: f64, between: &str, b: f64| {
        format!("{}{GLUE}{between}{GLUE}{}", unit.format(a), unit.format(b))
    };
    [
        whole(s.mean, "±", s.stddev),
        unit.format(s.median),
        whole(s.min, "…", s.max),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spread_is_never_cut_at_its_sign_in_a_narrow_table() {
        let runs = Summary::of(&[0.2011, 0.2043, 0.2061]);
        let unit = TimeUnit::for_column([runs.median]);
        let mut t = table(&["mode", "file", "mean ± σ", "median", "min … max"]);
        let [spread, median, range] = summary_cells(&runs, unit);
        t.add_row(glued([
            "non-persistent".to_string(),
            "total per run (3 runs)".to_string(),
            spread,
            median,
            range,
        ]));
        let plain =
            |a: f64, sign: &str, b: f64| format!("{} {sign} {}", unit.format(a), unit.format(b));
        for width in [50, 60, 80, 100] {
            let out = crate::report::width::fit_in_parts_text(t.clone(), Some(width), 2);
            assert!(
                out.lines().all(|l| l.chars().count() <= usize::from(width)),
                "{out}"
            );
            assert!(
                out.contains(&plain(runs.mean, "±", runs.stddev)),
                "{width}:\n{out}"
            );
            assert!(
                out.contains(&plain(runs.min, "…", runs.max)),
                "{width}:\n{out}"
            );
        }
    }
}
