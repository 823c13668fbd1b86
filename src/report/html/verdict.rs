//! Report layer: the gap between a mode and persistent as one stacked bar — each attribution row a
//! segment labelled with its time (rows that shorten the gap stack leftwards from zero), the gap
//! itself marked with its 95 % confidence interval.

use maud::{Markup, html};

use super::svg::{Anchor, Mark, Point, Scale, Shape, Svg, ticks};
use crate::analysis::attribution::{Attribution, Row};
use crate::analysis::phases::PhaseSource;
use crate::report::labels::attribution_row_label;
use crate::report::units::TimeUnit;
use crate::transfer::run::Mode;

/// The CSS class of a row: the waterfall's phase colours where a row is a phase.
pub fn row_class(row: Row) -> &'static str {
    match row {
        Row::Handshakes => "ph-handshake",
        Row::TlsHandshakes => "ph-tls",
        Row::QuicHandshakes => "ph-handshake",
        Row::ClosingAndReconnecting => "ph-between",
        Row::SlowStartRounds => "ph-rounds",
        Row::TransferRest => "ph-transfer",
        Row::RequestWait => "ph-wait",
        Row::ClientWork => "ph-client",
        Row::Remainder => "ph-remainder",
    }
}

const WIDTH: f64 = 1100.0;
const HEIGHT: f64 = 92.0;
const BAR_Y: f64 = 26.0;
const BAR_H: f64 = 26.0;
/// Segments narrower than this (pixels) carry their time in the tooltip and the legend only.
const LABEL_MIN_PX: f64 = 58.0;

/// `seconds` with its sign, in the unit that shows it alone: a row of 0.14 ms beside a gap of
/// 110 ms still reads `+140 µs`, not `+0.00 s`.
fn signed(seconds: f64) -> String {
    TimeUnit::of(seconds).format_signed(seconds)
}

/// One stacked bar per mode compared with persistent.
pub fn render(attributions: &[(Mode, Attribution)], source: PhaseSource) -> Markup {
    html! {
        @for (mode, a) in attributions {
            (bar(*mode, a, source))
        }
    }
}

fn bar(mode: Mode, a: &Attribution, source: PhaseSource) -> Markup {
    let rows = a.rows();
    let positive: f64 = rows.iter().map(|r| r.1.max(0.0)).sum();
    let negative: f64 = rows.iter().map(|r| r.1.min(0.0)).sum();
    let (ci_low, ci_high) = a.interval.map_or((a.gap_s, a.gap_s), |i| (i.low, i.high));
    let lo = negative.min(ci_low).min(0.0);
    let hi = positive.max(ci_high).max(0.0);
    // One unit for the axis, from the largest time it draws: the small rows' unit would write
    // it in tens of thousands of µs. Each value on or beside the bar takes its own unit, so a
    // row a hundredth of the gap still shows its digits.
    let unit = TimeUnit::of(lo.abs().max(hi.abs()));
    let tick_values = ticks(lo, hi, 8);
    let x = Scale::new(
        tick_values[0],
        tick_values[tick_values.len() - 1],
        20.0,
        WIDTH - 20.0,
    );
    let mut svg = Svg::new(
        "gap",
        WIDTH,
        HEIGHT,
        format!("the gap between {} and persistent by phase", mode.name()),
    );
    axis(&mut svg, x, unit, &tick_values);
    segments(&mut svg, x, a, source);
    let ci_title = interval_title(a);
    interval(&mut svg, x, a.gap_s, (ci_low, ci_high), &ci_title);
    svg.text(
        Point { x: 20.0, y: 14.0 },
        Anchor::Start,
        "bar-title",
        format!("{} − persistent: {}", mode.name(), ci_title),
    );
    html! {
        figure class="gap-figure" {
            (svg)
            ul class="legend rows" {
                @for &(row, s) in &rows {
                    li { i class=(row_class(row)) {} (attribution_row_label(row, a, source)) ": " b { (signed(s)) } }
                }
            }
        }
    }
}

/// The time axis: a grid line and a label per tick, zero drawn apart.
fn axis(svg: &mut Svg, x: Scale, unit: TimeUnit, tick_values: &[f64]) {
    for &t in tick_values {
        let px = x.at(t);
        svg.push(Mark::new(
            Shape::Line {
                from: Point {
                    x: px,
                    y: BAR_Y - 6.0,
                },
                to: Point {
                    x: px,
                    y: HEIGHT - 16.0,
                },
            },
            if t == 0.0 { "zero" } else { "grid" },
        ));
        svg.text(
            Point {
                x: px,
                y: HEIGHT - 4.0,
            },
            Anchor::Middle,
            "tick",
            unit.format_signed(t),
        );
    }
}

/// The bar's segments, one per row: rows that lengthen the gap stack rightwards from zero, rows
/// that shorten it leftwards; a segment wide enough carries its time.
fn segments(svg: &mut Svg, x: Scale, a: &Attribution, source: PhaseSource) {
    let rows = a.rows();
    let (mut right, mut left) = (0.0, 0.0);
    for &(row, s) in &rows {
        if s == 0.0 {
            continue;
        }
        let (from, to) = if s > 0.0 {
            let span = (right, right + s);
            right += s;
            span
        } else {
            let span = (left + s, left);
            left += s;
            span
        };
        let (x0, x1) = (x.at(from), x.at(to));
        let title = format!("{}: {}", attribution_row_label(row, a, source), signed(s));
        svg.push(
            Mark::new(
                Shape::Rect {
                    at: Point { x: x0, y: BAR_Y },
                    width: x1 - x0,
                    height: BAR_H,
                },
                row_class(row),
            )
            .titled(title.clone()),
        );
        if x1 - x0 >= LABEL_MIN_PX {
            svg.push(
                Mark::new(
                    Shape::Text {
                        at: Point {
                            x: (x0 + x1) / 2.0,
                            y: BAR_Y + BAR_H / 2.0 + 4.0,
                        },
                        anchor: Anchor::Middle,
                        text: signed(s),
                    },
                    "seg-label",
                )
                .titled(title),
            );
        }
    }
}

/// The gap per run and its confidence interval, in words.
fn interval_title(a: &Attribution) -> String {
    match a.interval {
        Some(i) => {
            // The interval's ends share a unit, as a range is read.
            let ends = TimeUnit::of(i.low.abs().max(i.high.abs()));
            format!(
                "gap {} per run, {:.0} % CI {} … {}",
                signed(a.gap_s),
                100.0 * i.level,
                ends.format_signed(i.low),
                ends.format_signed(i.high)
            )
        }
        None => format!("gap {} per run (one round: no interval)", signed(a.gap_s)),
    }
}

/// Under the bar: the interval as a whisker and the gap as a diamond on it.
fn interval(svg: &mut Svg, x: Scale, gap_s: f64, (ci_low, ci_high): (f64, f64), title: &str) {
    let whisker_y = BAR_Y + BAR_H + 12.0;
    svg.push(
        Mark::new(
            Shape::Line {
                from: Point {
                    x: x.at(ci_low),
                    y: whisker_y,
                },
                to: Point {
                    x: x.at(ci_high),
                    y: whisker_y,
                },
            },
            "whisker",
        )
        .titled(title),
    );
    for end in [ci_low, ci_high] {
        svg.push(Mark::new(
            Shape::Line {
                from: Point {
                    x: x.at(end),
                    y: whisker_y - 5.0,
                },
                to: Point {
                    x: x.at(end),
                    y: whisker_y + 5.0,
                },
            },
            "whisker",
        ));
    }
    let g = x.at(gap_s);
    svg.push(
        Mark::new(
            Shape::Polygon(vec![
                Point {
                    x: g,
                    y: whisker_y - 6.0,
                },
                Point {
                    x: g + 6.0,
                    y: whisker_y,
                },
                Point {
                    x: g,
                    y: whisker_y + 6.0,
                },
                Point {
                    x: g - 6.0,
                    y: whisker_y,
                },
            ]),
            "gap-mark",
        )
        .titled(title),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::stats::Interval;

    /// Rows of a few µs each, a gap's interval of tens of ms: two rounds on loopback.
    fn wide_interval() -> Attribution {
        Attribution {
            gap_s: 0.002,
            interval: Some(Interval {
                estimate: 0.002,
                low: -0.028,
                high: 0.032,
                level: 0.95,
            }),
            handshake_s: 20e-6,
            between_s: 40e-6,
            transfer_rest_s: 1.9e-3,
            wait_s: 15e-6,
            client_s: -5e-6,
            remainder_s: 30e-6,
            ..Attribution::default()
        }
    }

    fn tick_labels(out: &str) -> Vec<String> {
        out.split("<text class=\"tick\"")
            .skip(1)
            .filter_map(|t| Some(t[t.find('>')? + 1..t.find("</text>")?].to_string()))
            .collect()
    }

    /// `compare --loss 1% --rounds 2`: a gap of 110 ms, rows of a millisecond or less, one of
    /// them negative.
    fn small_rows_of_a_large_gap() -> Attribution {
        Attribution {
            gap_s: 0.11,
            interval: Some(Interval {
                estimate: 0.11,
                low: 0.05,
                high: 0.17,
                level: 0.95,
            }),
            handshake_s: 0.14e-3,
            between_s: 1.11e-3,
            slow_start_s: Some(0.92e-3),
            transfer_rest_s: 0.107,
            wait_s: -0.03e-3,
            ..Attribution::default()
        }
    }

    fn legend_values(out: &str) -> Vec<String> {
        out.split("<b>")
            .skip(1)
            .filter_map(|t| Some(t[..t.find("</b>")?].to_string()))
            .collect()
    }

    fn segment_labels(out: &str) -> Vec<String> {
        out.split("<text class=\"seg-label\"")
            .skip(1)
            .filter_map(|t| Some(t[t.find("</title>")? + 8..t.find("</text>")?].to_string()))
            .collect()
    }

    #[test]
    fn every_legend_entry_and_label_shows_its_own_value_and_sign() {
        let out = bar(
            Mode::NonPersistent,
            &small_rows_of_a_large_gap(),
            PhaseSource::Capture,
        )
        .into_string();
        let legend = legend_values(&out);
        for value in ["+140 µs", "+1.11 ms", "+920 µs", "+107 ms", "−30.0 µs"] {
            assert!(legend.iter().any(|v| v == value), "{value}: {legend:?}");
        }
        assert!(
            !legend
                .iter()
                .any(|v| v.starts_with("0.00") || v.contains("0.00 s")),
            "{legend:?}"
        );
        // The axis keeps one unit: the largest tick's.
        assert!(
            tick_labels(&out).iter().all(|t| t.ends_with(" ms")),
            "{out}"
        );
        assert!(segment_labels(&out).iter().any(|l| l == "+107 ms"), "{out}");
        assert!(
            out.contains("request wait (request → first byte): −30.0 µs"),
            "{out}"
        );
    }

    #[test]
    fn the_axis_is_in_the_unit_of_its_largest_tick() {
        let out = bar(Mode::NonPersistent, &wide_interval(), PhaseSource::Capture).into_string();
        let ticks = tick_labels(&out);
        assert!(ticks.len() > 3, "{out}");
        assert!(ticks.iter().all(|t| t.ends_with(" ms")), "{ticks:?}");
        assert!(ticks.iter().any(|t| t == "+30.0 ms"), "{ticks:?}");
        assert!(out.contains("CI −28.0 ms … +32.0 ms"), "{out}");
        assert!(!out.contains("000 µs"), "{out}");
    }
}
