//! Report layer, tables: the model beside each mode's measured mean. Must not import sentences or
//! the terminal report.

use comfy_table::Table;

use super::cells::{glued, table};
use crate::analysis::model::{ModelGap, Prediction};
use crate::report::units::TimeUnit;
use crate::transfer::run::Mode;

/// The model beside the measured mean: its terms and the difference.
pub fn model_table(gaps: &[(Mode, Prediction, ModelGap)]) -> Table {
    let mut t = table(&[
        "mode",
        "measured",
        "model",
        "= handshakes + requests + slow start + serialisation",
        "difference",
    ]);
    // One unit for the totals and their terms, so a term of milliseconds beside seconds of
    // serialisation keeps its digits.
    let unit = TimeUnit::for_column(gaps.iter().flat_map(|(_, p, g)| {
        [
            p.total_s,
            g.measured_s,
            p.handshakes_s + p.tls_handshakes_s,
            p.requests_s,
            p.slow_start_s,
            p.serialisation_s,
        ]
    }));
    for (mode, p, gap) in gaps {
        let difference = if p.total_s > 0.0 {
            // The minus sign the rest of the report writes, not a hyphen.
            format!("{:+.1}%", 100.0 * (gap.measured_s - p.total_s) / p.total_s).replace('-', "−")
        } else {
            "—".into()
        };
        t.add_row(glued(vec![
            mode.name().to_string(),
            unit.format(gap.measured_s),
            unit.format(p.total_s),
            format!(
                "{} + {} + {} + {}",
                // TCP's and TLS's round trips before each request.
                unit.format(p.handshakes_s + p.tls_handshakes_s),
                unit.format(p.requests_s),
                unit.format(p.slow_start_s),
                unit.format(p.serialisation_s)
            ),
            difference,
        ]));
    }
    t
}
