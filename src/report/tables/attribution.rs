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
    // zero has no shares worth reading (a row of a millisecond would be "−800 %" of it), nor has
    // a gap whose rows pull both ways ("−53 %" beside "107 %"): those rows read in time only.
    let unit = TimeUnit::of(a.gap_s);
    let noise = matches!(a.interval, Some(i) if !i.excludes_zero());
    let shares = !noise && !pulls_both_ways(&rows, a.gap_s);
    let share = |value: f64| {
        if shares {
            percent(value, a.gap_s)
        } else {
            "—".to_string()
        }
    };
    for (row, value) in rows {
        t.add_row(glued(vec![
            labels::attribution_row_label(row, a, source),
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

/// True when a row runs against the gap by more than a rounding's worth (half a percent of it),
/// so shares of the gap would exceed 100 % on one side and go negative on the other.
fn pulls_both_ways<R>(rows: &[(R, f64)], gap_s: f64) -> bool {
    rows.iter()
        .any(|(_, value)| value * gap_s.signum() < -0.005 * gap_s.abs())
}

#[cfg(test)]
mod tests {
    use super::pulls_both_ways;

    #[test]
    fn rows_against_the_gap_beyond_rounding_leave_out_the_shares() {
        // Pipelined against persistent: a saving and a cost larger than the gap itself.
        assert!(pulls_both_ways(&[((), -0.0212), ((), 0.0424)], 0.0397));
        assert!(pulls_both_ways(&[((), 0.010), ((), -0.050)], -0.040));
        // Every row one way, or a row against it by less than half a percent of the gap.
        assert!(!pulls_both_ways(&[((), 0.010), ((), 0.090)], 0.100));
        assert!(!pulls_both_ways(&[((), 0.1004), ((), -0.0004)], 0.100));
        assert!(!pulls_both_ways(&[((), -0.060), ((), -0.040)], -0.100));
    }
}
