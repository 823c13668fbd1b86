//! Report layer: every round's total per mode as a dot, the mean with its confidence interval,
//! outlying runs marked — on one axis for all modes.

use maud::{Markup, html};

use super::svg::{Anchor, Mark, Point, Scale, Shape, Svg, ticks};
use crate::analysis::spread::RunSpread;
use crate::report::units::{TimeUnit, duration};

/// `seconds` in its own unit, with a minus sign where negative.
fn signed(seconds: f64) -> String {
    if seconds < 0.0 {
        format!("−{}", duration(-seconds))
    } else {
        duration(seconds)
    }
}

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
    svg.columns(
        &x,
        &tick_values,
        (AXIS_H - 4.0, height),
        AXIS_H - 8.0,
        |t| unit.format(t),
    );
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
            ci_band(&mut svg, &x, mid, s.mode.name(), (a, b));
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
        run_dots(&mut svg, &x, mid, s);
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

/// A dot per run of `s` on the row at `mid`, outliers larger.
fn run_dots(svg: &mut Svg, x: &Scale, mid: f64, s: &RunSpread) {
    // Runs of nearly the same total are stacked above and below the row, each on a height of
    // its own: 6 px apart, closer where many must share the row's ±18 px.
    let xs: Vec<f64> = s.totals_s.iter().map(|&t| x.at(t)).collect();
    let near: Vec<usize> = xs
        .iter()
        .enumerate()
        .map(|(i, a)| xs[..i].iter().filter(|b| (*b - a).abs() < 8.0).count())
        .collect();
    let levels = near.iter().map(|n| n.div_ceil(2)).max().unwrap_or(0).max(1);
    let step = (18.0 / levels as f64).min(6.0);
    for (i, &t) in s.totals_s.iter().enumerate() {
        let outlier = s.outliers.contains(&i);
        let at = xs[i];
        let offset = near[i].div_ceil(2) as f64 * step;
        let y = if near[i] % 2 == 1 {
            mid - offset
        } else {
            mid + offset
        };
        svg.push(
            Mark::new(
                Shape::Circle {
                    at: Point { x: at, y },
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

/// The mean's interval `(a, b)` as a band on the row at `mid`, cut at the axis' ends: a Student's
/// t interval of few runs can reach below zero, where no run can lie, so the axis stays on
/// the runs and an arrowhead and a label say where the band goes on.
fn ci_band(svg: &mut Svg, x: &Scale, mid: f64, mode: &str, (a, b): (f64, f64)) {
    let (from, to) = (a.clamp(x.from, x.to), b.clamp(x.from, x.to));
    let title = format!("{mode}: 95 % CI of the mean {} … {}", signed(a), signed(b));
    svg.push(
        Mark::new(
            Shape::Rect {
                at: Point {
                    x: x.at(from),
                    y: mid - 9.0,
                },
                width: (x.at(to) - x.at(from)).max(1.0),
                height: 18.0,
            },
            "ci",
        )
        .titled(title.clone()),
    );
    if a < x.from {
        beyond(
            svg,
            x.at(from),
            -1.0,
            mid,
            format!("CI from {}", signed(a)),
            &title,
        );
    }
    if b > x.to {
        beyond(
            svg,
            x.at(to),
            1.0,
            mid,
            format!("CI to {}", signed(b)),
            &title,
        );
    }
}

/// Marks a band cut at `edge` on the row at `mid`: an arrowhead pointing the way it goes on
/// (`way` −1 left, +1 right) and, above it, where it ends.
fn beyond(svg: &mut Svg, edge: f64, way: f64, mid: f64, words: String, title: &str) {
    svg.push(
        Mark::new(
            Shape::Polygon(vec![
                Point { x: edge, y: mid },
                Point {
                    x: edge - way * 8.0,
                    y: mid - 9.0,
                },
                Point {
                    x: edge - way * 8.0,
                    y: mid + 9.0,
                },
            ]),
            "ci-beyond",
        )
        .titled(title),
    );
    svg.push(
        Mark::new(
            Shape::Text {
                at: Point {
                    x: edge - way * 2.0,
                    y: mid - 12.0,
                },
                anchor: if way < 0.0 {
                    Anchor::Start
                } else {
                    Anchor::End
                },
                text: words,
            },
            "ci-beyond-label",
        )
        .titled(title),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::run::Mode;

    fn spread(mode: Mode, totals_s: Vec<f64>, interval_s: (f64, f64)) -> RunSpread {
        RunSpread {
            mode,
            mean_s: totals_s.iter().sum::<f64>() / totals_s.len() as f64,
            totals_s,
            interval_s: Some(interval_s),
            outliers: Vec::new(),
        }
    }

    /// The value of `attr="…"` in `element`.
    fn attr(element: &str, attr: &str) -> f64 {
        let key = format!(" {attr}=\"");
        let start = element.find(&key).unwrap() + key.len();
        let len = element[start..].find('"').unwrap();
        element[start..start + len].parse().unwrap()
    }

    #[test]
    fn an_interval_below_zero_is_cut_at_the_axis_and_says_so() {
        let spreads = [
            spread(Mode::NonPersistent, vec![0.0137, 0.0186], (-0.0049, 0.0469)),
            spread(Mode::Persistent, vec![0.0118, 0.0147], (-0.0152, 0.0349)),
        ];
        let out = render(&spreads).into_string();
        let bands: Vec<&str> = out.split("<rect class=\"ci\"").skip(1).collect();
        assert_eq!(bands.len(), 2, "{out}");
        for band in bands {
            let (x, width) = (attr(band, "x"), attr(band, "width"));
            assert!(x >= LABEL_W, "band starts at {x}, over the labels: {out}");
            assert!(
                x + width <= WIDTH - 20.0,
                "band ends at {}: {out}",
                x + width
            );
        }
        assert_eq!(out.matches("class=\"ci-beyond\"").count(), 2, "{out}");
        assert!(out.contains("CI from −15.2 ms"), "{out}");
        assert!(
            out.contains("95 % CI of the mean −15.2 ms … 34.9 ms"),
            "{out}"
        );
    }

    #[test]
    fn runs_of_the_same_total_are_each_drawn_apart() {
        // Three outlying runs of one total, beside seven others of another: ten circles, none on
        // another.
        let mut totals = vec![0.100; 7];
        totals.extend([0.300; 3]);
        let mut s = spread(Mode::Persistent, totals, (0.09, 0.2));
        s.outliers = vec![7, 8, 9];
        let out = render(&[s]).into_string();
        let circles: Vec<(f64, f64)> = out
            .split("<circle class=\"run-dot")
            .skip(1)
            .map(|c| (attr(c, "cx"), attr(c, "cy")))
            .collect();
        assert_eq!(circles.len(), 10, "{out}");
        assert_eq!(out.matches("run-dot outlier").count(), 3, "{out}");
        for (i, a) in circles.iter().enumerate() {
            for b in &circles[i + 1..] {
                assert!(a != b, "two circles at {a:?}: {out}");
            }
            // Inside the row, ±18 px around its middle.
            assert!((a.1 - circles[0].1).abs() <= 18.0, "{a:?}: {out}");
        }
    }

    #[test]
    fn an_interval_inside_the_axis_is_drawn_whole() {
        let spreads = [spread(Mode::Persistent, vec![0.100, 0.104], (0.098, 0.106))];
        let out = render(&spreads).into_string();
        assert!(!out.contains("ci-beyond"), "{out}");
    }
}
