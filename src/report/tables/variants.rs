//! Report layer, tables: the variants side by side, in one table or two as the width allows.
//! Must not import sentences or the terminal report.

use comfy_table::Table;

use super::cells::{glued, table};
use crate::analysis::comparison::Comparison;
use crate::report::units::TimeUnit;
use crate::transfer::run::Mode;

/// How the variants table is laid out for the terminal's width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VariantsLayout {
    /// One table, every cell on one line.
    Wide,
    /// One table whose long headings and gap cells take two lines, broken between words.
    Narrow,
    /// Two tables: the means per mode, then the gap and its handshake rows.
    Split,
}

/// One row per variant: each mode's mean per run, then the first slower mode's gap against
/// persistent with its 95 % confidence interval, and the TCP and TLS handshakes' rows of it; in
/// one table or two (see [`VariantsLayout`]).
pub fn variants_tables(compared: &[(&str, &Comparison)], layout: VariantsLayout) -> Vec<Table> {
    let narrow = layout == VariantsLayout::Narrow;
    let modes: Vec<Mode> = compared
        .first()
        .map(|(_, c)| c.modes.iter().map(|m| m.mode).collect())
        .unwrap_or_default();
    let mode_headings = modes.iter().map(|m| match m.name() {
        name if narrow => name.replacen('-', "-\n", 1),
        name => name.to_owned(),
    });
    let gap = if narrow {
        "gap\n± 95 % CI"
    } else {
        "gap ± 95 % CI"
    };
    let gap_headings = [gap.to_owned(), "TCP hs.".into(), "TLS hs.".into()];
    let means: Vec<f64> = compared
        .iter()
        .flat_map(|(_, c)| c.modes.iter().map(|m| m.total_summary().mean))
        .collect();
    let unit = TimeUnit::for_column(means);
    let rows: Vec<VariantRow> = compared
        .iter()
        .map(|(name, cmp)| VariantRow {
            name: (*name).to_owned(),
            means: cmp
                .modes
                .iter()
                .map(|m| unit.format(m.total_summary().mean))
                .collect(),
            gap: match cmp.attributions().first() {
                Some((_, a)) => vec![
                    match a.interval {
                        // Welch's interval is symmetric about the gap.
                        Some(i) => format!(
                            "{}{}± {}",
                            unit.format_signed(a.gap_s),
                            if narrow { "\n" } else { " " },
                            unit.format((i.high - i.low) / 2.0)
                        ),
                        None => unit.format_signed(a.gap_s),
                    },
                    unit.format_signed(a.handshake_s),
                    a.tls_s.map_or("—".into(), |s| unit.format_signed(s)),
                ],
                None => vec!["—".into(); 3],
            },
        })
        .collect();
    let variant = std::iter::once("variant".to_owned());
    if layout == VariantsLayout::Split {
        return vec![
            rows_table(variant.clone().chain(mode_headings), &rows, |row| {
                row.means.clone()
            }),
            rows_table(variant.chain(gap_headings), &rows, |row| row.gap.clone()),
        ];
    }
    vec![rows_table(
        variant.chain(mode_headings).chain(gap_headings),
        &rows,
        |row| row.means.iter().chain(&row.gap).cloned().collect(),
    )]
}

/// One variant's cells: its name, its means per mode, its gap and the gap's handshake rows.
struct VariantRow {
    name: String,
    means: Vec<String>,
    gap: Vec<String>,
}

/// A table of `rows` under `headings`, each row its name then the cells `pick` takes from it.
fn rows_table(
    headings: impl Iterator<Item = String>,
    rows: &[VariantRow],
    pick: impl Fn(&VariantRow) -> Vec<String>,
) -> Table {
    let headings: Vec<String> = headings.collect();
    let header: Vec<&str> = headings.iter().map(String::as_str).collect();
    let mut t = table(&header);
    for row in rows {
        t.add_row(glued(std::iter::once(row.name.clone()).chain(pick(row))));
    }
    t
}
