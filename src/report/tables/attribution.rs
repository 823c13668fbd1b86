//! Report layer, tables: the gap between a mode and persistent, split into rows that sum to it.
//! Reads `labels`; must not import sentences or the terminal report.

use comfy_table::Table;

use super::cells::{glued, table};
use crate::analysis::attribution::Attribution;
use crate::analysis::phases::PhaseSource;
use crate::report::labels;
use crate::report::units::{TimeUnit, percent};
use crate::transfer::run::Mode;

/// The gap between a mode and persistent split into rows that sum to it.
pub fn attribution_table(a: &Attribution, mode: Mode, source: PhaseSource) -> Table {
    let mut t = table(&["where the gap goes", "time", "share"]);
    let rows = a.rows();
    // The gap sets the unit: its rows are shares of it. A gap its interval cannot tell from
    // zero has no shares worth reading (a row of a millisecond would be "−800 %" of it).
    let unit = TimeUnit::of(a.gap_s);
    let share = |value: f64| match a.interval {
        Some(i) if !i.excludes_zero() => "—".to_string(),
        _ => percent(value, a.gap_s),
    };
    for (row, value) in rows {
        t.add_row(glued(vec![
            labels::row_label(row, source).to_string(),
            unit.format_signed(value),
            share(value),
        ]));
    }
    t.add_row(glued(vec![
        format!("gap: mean({}) − mean(persistent)", mode.name()),
        unit.format_signed(a.gap_s),
        share(a.gap_s),
    ]));
    t
}
