//! Attribute layer: how one mode's run totals spread over the rounds — each total, their mean with
//! its confidence interval, and the outlying runs. Imports only the comparison and statistics.

use statrs::distribution::{ContinuousCDF, StudentsT};

use super::attribution::CONFIDENCE;
use super::comparison::ModeResult;
use super::stats::Summary;
use crate::transfer::run::Mode;

/// A mode's run totals over the rounds.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpread {
    /// The mode.
    pub mode: Mode,
    /// Each run's total in seconds, in round order.
    pub totals_s: Vec<f64>,
    /// Their mean.
    pub mean_s: f64,
    /// The mean's confidence interval (Student's t), None with fewer than two runs.
    pub interval_s: Option<(f64, f64)>,
    /// The runs (0-based) far from the others.
    pub outliers: Vec<usize>,
}

impl RunSpread {
    /// The spread of `m`'s runs.
    pub fn of(m: &ModeResult) -> RunSpread {
        let totals_s: Vec<f64> = m.runs.iter().map(|r| r.timing.total_s()).collect();
        let summary = Summary::of(&totals_s);
        let n = totals_s.len();
        let interval_s = (n >= 2)
            .then(|| StudentsT::new(0.0, 1.0, (n - 1) as f64).ok())
            .flatten()
            .map(|t| {
                let half = t.inverse_cdf(1.0 - (1.0 - CONFIDENCE) / 2.0) * summary.stddev
                    / (n as f64).sqrt();
                (summary.mean - half, summary.mean + half)
            });
        RunSpread {
            mode: m.mode,
            mean_s: summary.mean,
            interval_s,
            outliers: m.outlier_runs(),
            totals_s,
        }
    }
}
