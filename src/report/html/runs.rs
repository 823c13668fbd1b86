//! Report layer: every round's total per mode as a dot, the mean with its confidence interval,
//! outlying runs marked — on one axis for all modes.

use maud::{Markup, html};

use super::svg::{Anchor, Mark, Point, Scale, Shape, Svg, ticks};
use crate::analysis::spread::RunSpread;
use crate::report::units::{TimeUnit, duration};

const WIDTH: f64 = 1100.0;
const LABEL_W: f64 = 150.0;
const ROW_H: f64 = 44.0;
const AXIS_H: f64 = 26.0;

/// The dot plot of `spreads`.
pub fn render(spreads: &[RunSpread]) -> Markup {
    let values = || {
        spreads.iter().flat_map(|s| {
            s.totals_s
                .iter()
                .copied()
                .chain(s.interval_s.into_iter().flat_map(|(a, b)| [a, b]))
        })
    };
    let lo = values().fold(f64::INFINITY, f64::min);
    let hi = values().fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() {
        return html! {};
    }
    let pad = ((hi - lo) * 0.05).max(hi.abs() * 1e-3);
    let tick_values = ticks((lo - pad).max(0.0), hi + pad, 8);
    let unit = TimeUnit::for_column(tick_values.iter().copied());
    let x = Scale::new(
        tick_values[0],
        tick_values[tick_values.len() - 1],
        LABEL_W,
        WIDTH - 20.0,
    );
    let height = AXIS_H + spreads.len() as f64 * ROW_H;
    let mut svg = Svg::new("runs", WIDTH, height, "run totals per mode");
    for &t in &tick_values {
        let px = x.at(t);
        svg.push(Mark::new(
            Shape::Line {
                from: Point {
                    x: px,
                    y: AXIS_H - 4.0,
                },
                to: Point { x: px, y: height },
            },
            "grid",
        ));
        svg.text(
            Point {
                x: px,
                y: AXIS_H - 8.0,
            },
            Anchor::Middle,
            "tick",
            unit.format(t),
        );
    }
    for (row, s) in spreads.iter().enumerate() {
        let mid = AXIS_H + row as f64 * ROW_H + ROW_H / 2.0;
        svg.text(
            Point {
                x: 4.0,
                y: mid + 4.0,
            },
            Anchor::Start,
            "mode-label",
            s.mode.name(),
        );
        if let Some((a, b)) = s.interval_s {
            svg.push(
                Mark::new(
                    Shape::Rect {
                        at: Point {
                            x: x.at(a),
                            y: mid - 9.0,
                        },
                        width: (x.at(b) - x.at(a)).max(1.0),
                        height: 18.0,
                    },
                    "ci",
                )
                .titled(format!(
                    "{}: 95 % CI of the mean {} … {}",
                    s.mode.name(),
                    duration(a),
                    duration(b)
                )),
            );
        }
        svg.push(
            Mark::new(
                Shape::Line {
                    from: Point {
                        x: x.at(s.mean_s),
                        y: mid - 12.0,
                    },
                    to: Point {
                        x: x.at(s.mean_s),
                        y: mid + 12.0,
                    },
                },
                "mean",
            )
            .titled(format!("{}: mean {}", s.mode.name(), duration(s.mean_s))),
        );
        for (i, &t) in s.totals_s.iter().enumerate() {
            let outlier = s.outliers.contains(&i);
            svg.push(
                Mark::new(
                    Shape::Circle {
                        at: Point { x: x.at(t), y: mid },
                        r: if outlier { 5.0 } else { 3.5 },
                    },
                    if outlier {
                        "run-dot outlier"
                    } else {
                        "run-dot"
                    },
                )
                .titled(format!(
                    "{} round {}: {}{}",
                    s.mode.name(),
                    i + 1,
                    duration(t),
                    if outlier {
                        " (outlier: modified z-score > 3.5)"
                    } else {
                        ""
                    }
                )),
            );
        }
    }
    html! {
        div class="legend" {
            span { i class="dot-key" {} "one run (first connect → last byte)" }
            span { i class="mean-key" {} "mean" }
            span { i class="ci-key" {} "95 % CI of the mean" }
            span { i class="outlier-key" {} "outlier (modified z-score > 3.5)" }
        }
        (svg)
    }
}
