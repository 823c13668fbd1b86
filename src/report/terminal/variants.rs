//! Report layer, terminal: the variants side by side — their table in the first layout that fits,
//! then each one's opening sentences. Reads sentences and tables; nothing in `report/` imports it.

use std::fmt::Write as _;

use crate::analysis::comparison::Comparison;
use crate::report::sentences::opening;
use crate::report::tables::{self, VariantsLayout};
use crate::report::width::{fit, natural_width, wrap_prose};

/// The variants side by side: a table of each one's mean per run and its gap, then each one's
/// opening sentences.
pub fn variants(compared: &[(&str, &Comparison)], width: Option<u16>) -> String {
    let mut out = String::new();
    let slower = compared
        .first()
        .and_then(|(_, c)| c.attributions().first().map(|(m, _)| *m));
    let heading = match slower {
        Some(mode) => format!(
            "Variants: mean per run, and the gap {} − persistent with the handshakes' part of it",
            mode.name()
        ),
        None => "Variants: mean per run".to_owned(),
    };
    let _ = writeln!(out, "{}", wrap_prose(&heading, width));
    // The first layout that fits whole: one table, one with cells on two lines, two tables.
    let layouts = [
        VariantsLayout::Wide,
        VariantsLayout::Narrow,
        VariantsLayout::Split,
    ];
    let tables = layouts
        .iter()
        .map(|&layout| tables::variants_tables(compared, layout))
        .find(|tables| {
            width.is_none_or(|w| tables.iter().all(|t| natural_width(t) <= usize::from(w)))
        })
        .unwrap_or_else(|| tables::variants_tables(compared, VariantsLayout::Split));
    for table in tables {
        let _ = writeln!(out, "{}", fit(table, width));
    }
    for (name, cmp) in compared {
        for line in opening(cmp) {
            let _ = writeln!(out, "{}", wrap_prose(&format!("{name}: {line}"), width));
        }
    }
    out.push('\n');
    out
}
