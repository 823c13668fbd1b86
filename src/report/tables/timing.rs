//! Report layer, tables: a comparison's timing per mode and file over the rounds. Must not
//! import sentences or the terminal report.

use comfy_table::Table;

use super::cells::{glued, summary_cells, table};
use crate::analysis::comparison::Comparison;
use crate::analysis::stats::Summary;
use crate::report::units::TimeUnit;

/// Timing per mode and file over the rounds, plus each mode's run total (first connect → last
/// byte). With `files_shown`, only that many files per mode: the slowest by mean.
pub fn timing_table(cmp: &Comparison, files_shown: Option<usize>) -> Table {
    let mut t = table(&["mode", "file", "mean ± σ", "median", "min … max"]);
    let mut rows: Vec<(String, String, Summary)> = Vec::new();
    for m in &cmp.modes {
        let mut per_file: Vec<(String, Summary)> = cmp
            .files
            .iter()
            .enumerate()
            .map(|(i, file)| {
                let values: Vec<f64> = m
                    .runs
                    .iter()
                    .filter_map(|r| r.timing.files.get(i).map(|f| f.seconds))
                    .collect();
                let name = match file.status {
                    // A URL's response: its status and size beside its name.
                    Some(status) => format!(
                        "{} ({status}, {})",
                        file.name,
                        crate::report::units::bytes(file.bytes as f64)
                    ),
                    None => file.name.clone(),
                };
                (name, Summary::of(&values))
            })
            .collect();
        if let Some(shown) = files_shown.filter(|&n| n < per_file.len()) {
            let hidden = per_file.len() - shown;
            per_file.sort_by(|a, b| b.1.mean.total_cmp(&a.1.mean));
            per_file.truncate(shown);
            per_file.push((
                format!("({hidden} faster files not shown)"),
                Summary::default(),
            ));
        }
        for (name, summary) in per_file {
            rows.push((m.mode.name().to_string(), name, summary));
        }
        rows.push((
            m.mode.name().to_string(),
            format!("total per run ({} runs)", m.runs.len()),
            m.total_summary(),
        ));
    }
    let unit = TimeUnit::for_column(rows.iter().map(|r| r.2.median));
    for (mode, name, summary) in rows {
        if summary == Summary::default() {
            t.add_row(glued(vec![mode, name]));
            continue;
        }
        let [a, b, c] = summary_cells(&summary, unit);
        t.add_row(glued(vec![mode, name, a, b, c]));
    }
    t
}
