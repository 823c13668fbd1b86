//! Summary statistics over rounds: summaries, the confidence interval of a difference of means
//! (Welch), and outlying runs. Imports nothing of the project.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// Mean, sample standard deviation, median, minimum and maximum of a set of values.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct Summary {
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1); 0 for a single value.
    pub stddev: f64,
    /// Median.
    pub median: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

impl Summary {
    /// Summarises `values`; all zero when there are none.
    pub fn of(values: &[f64]) -> Summary {
        if values.is_empty() {
            return Summary::default();
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let stddev = if values.len() > 1 {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
        } else {
            0.0
        };
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let mid = sorted.len() / 2;
        let median = if sorted.len().is_multiple_of(2) {
            (sorted[mid - 1] + sorted[mid]) / 2.0
        } else {
            sorted[mid]
        };
        Summary {
            mean,
            stddev,
            median,
            min: sorted[0],
            max: sorted[sorted.len() - 1],
        }
    }
}

/// The mean of `values`, 0 when empty.
pub fn mean(values: impl IntoIterator<Item = f64>) -> f64 {
    let (sum, n) = values
        .into_iter()
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { 0.0 } else { sum / n as f64 }
}

/// A difference of two means with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct Interval {
    /// mean(a) − mean(b).
    pub estimate: f64,
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
    /// The confidence level, e.g. 0.95.
    pub level: f64,
}

impl Interval {
    /// True when the interval excludes zero: a difference distinguishable from noise.
    pub fn excludes_zero(&self) -> bool {
        self.low > 0.0 || self.high < 0.0
    }
}

/// Welch's confidence interval for mean(`a`) − mean(`b`) (unequal variances, Welch–Satterthwaite
/// degrees of freedom). None with fewer than two values on a side. When neither side varies the
/// interval is the point itself.
pub fn welch_interval(a: &[f64], b: &[f64], level: f64) -> Option<Interval> {
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let (sa, sb) = (Summary::of(a), Summary::of(b));
    let estimate = sa.mean - sb.mean;
    let (va, vb) = (
        sa.stddev.powi(2) / a.len() as f64,
        sb.stddev.powi(2) / b.len() as f64,
    );
    let se = (va + vb).sqrt();
    if se == 0.0 {
        return Some(Interval {
            estimate,
            low: estimate,
            high: estimate,
            level,
        });
    }
    let df = (va + vb).powi(2)
        / (va.powi(2) / (a.len() as f64 - 1.0) + vb.powi(2) / (b.len() as f64 - 1.0));
    let t = StudentsT::new(0.0, 1.0, df)
        .ok()?
        .inverse_cdf(1.0 - (1.0 - level) / 2.0);
    Some(Interval {
        estimate,
        low: estimate - t * se,
        high: estimate + t * se,
        level,
    })
}

/// Modified z-score above which a value is an outlier (Iglewicz and Hoaglin).
pub const OUTLIER_Z: f64 = 3.5;

/// The fewest values among which one is called an outlier: with three or four, the median of the
/// deviations rests on one or two of them, and any third value a little apart scores above
/// [`OUTLIER_Z`] (228, 229 and 235 ms give 235 a score of 4.0).
pub const OUTLIER_MIN_VALUES: usize = 5;

/// Indices of the values whose modified z-score, 0.6745 · |x − median| / MAD, exceeds
/// [`OUTLIER_Z`]. With no spread (MAD 0) or fewer than [`OUTLIER_MIN_VALUES`] values, nothing
/// is an outlier.
pub fn outliers(values: &[f64]) -> Vec<usize> {
    if values.len() < OUTLIER_MIN_VALUES {
        return Vec::new();
    }
    let median = Summary::of(values).median;
    let deviations: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
    let mad = Summary::of(&deviations).median;
    if mad == 0.0 {
        return Vec::new();
    }
    values
        .iter()
        .enumerate()
        .filter(|(_, v)| 0.6745 * (*v - median).abs() / mad > OUTLIER_Z)
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_known_values() {
        let s = Summary::of(&[4.0, 1.0, 3.0, 2.0]);
        assert_eq!(s.mean, 2.5);
        assert_eq!(s.median, 2.5);
        assert_eq!((s.min, s.max), (1.0, 4.0));
        assert!((s.stddev - 1.290_994_448_735_805_6).abs() < 1e-12);
        assert_eq!(Summary::of(&[7.0]).stddev, 0.0);
        assert_eq!(Summary::of(&[3.0, 1.0, 2.0]).median, 2.0);
        assert_eq!(mean([1.0, 2.0, 6.0]), 3.0);
        assert_eq!(mean(std::iter::empty()), 0.0);
    }

    #[test]
    fn welch_interval_with_equal_sizes_and_variances_uses_the_pooled_degrees() {
        // Both sides: n = 6, s² = 3.5 → se = √(3.5/6 + 3.5/6), df = 10, t(0.975, 10) = 2.228139.
        let a = [11.0, 12.0, 13.0, 14.0, 15.0, 16.0];
        let b = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let i = welch_interval(&a, &b, 0.95).unwrap();
        let half = 2.228_138_85 * (7.0f64 / 6.0).sqrt();
        assert!((i.estimate - 10.0).abs() < 1e-12);
        assert!((i.low - (10.0 - half)).abs() < 1e-6, "{i:?}");
        assert!((i.high - (10.0 + half)).abs() < 1e-6, "{i:?}");
        assert!(i.excludes_zero());
    }

    #[test]
    fn welch_interval_of_overlapping_noise_includes_zero() {
        let a = [1.0, 3.0, 2.0, 4.0];
        let b = [2.0, 1.0, 4.0, 3.0];
        let i = welch_interval(&a, &b, 0.95).unwrap();
        assert_eq!(i.estimate, 0.0);
        assert!(!i.excludes_zero(), "{i:?}");
        assert_eq!(welch_interval(&a, &[1.0], 0.95), None);
    }

    #[test]
    fn welch_interval_with_unequal_variances() {
        // s²a = 0.5 (n 5), s²b = 16 (n 3): se² = 0.1 + 16/3, df = se⁴ / (0.01/4 + (16/3)²/2)
        // = 2.075…: t(0.975, 2.075) ≈ 4.2, so the interval is wide and holds zero.
        let a = [9.0, 10.0, 10.0, 11.0, 10.0];
        let b = [0.0, 4.0, 8.0];
        let i = welch_interval(&a, &[0.0, 4.0, 8.0], 0.95).unwrap();
        assert!((i.estimate - 6.0).abs() < 1e-12);
        let va: f64 = Summary::of(&a).stddev.powi(2) / 5.0;
        let vb: f64 = Summary::of(&b).stddev.powi(2) / 3.0;
        let df = (va + vb).powi(2) / (va.powi(2) / 4.0 + vb.powi(2) / 2.0);
        assert!((df - 2.0753).abs() < 0.001, "{df}");
        assert!(i.low < 0.0 && i.high > 12.0, "{i:?}");
    }

    #[test]
    fn the_one_far_run_is_an_outlier() {
        let values = [10.0, 10.2, 9.9, 10.1, 10.0, 14.0, 9.8];
        assert_eq!(outliers(&values), vec![5]);
        assert!(
            outliers(&[1.0, 1.0, 1.0, 5.0]).is_empty(),
            "MAD 0: no spread to judge by"
        );
        assert!(outliers(&[1.0, 2.0, 3.0, 4.0]).is_empty());
    }

    #[test]
    fn three_runs_are_too_few_to_call_one_an_outlier() {
        // Run totals a user saw flagged: 235 ms scores 4.0 against 228 and 229 ms.
        assert!(outliers(&[0.228, 0.229, 0.235]).is_empty());
        assert!(outliers(&[0.228, 0.229, 0.235, 0.230]).is_empty());
        assert_eq!(outliers(&[0.228, 0.229, 0.235, 0.230, 0.229]), vec![2]);
    }
}
