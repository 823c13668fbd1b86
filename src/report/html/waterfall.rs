//! Report layer: the waterfall — per mode, one bar per file on a time axis shared by every mode,
//! split into phases in the same colours everywhere, grouped by connection as in a browser's
//! network panel.

use maud::{Markup, html};

use super::svg::{Anchor, Mark, Point, Scale, Shape, Svg, ticks};
use crate::analysis::file_phases::{FilePhase, FilePhases};
use crate::report::units::{TimeUnit, duration};
use crate::timeline::Ts;

/// The CSS class that colours a phase.
pub fn phase_class(phase: FilePhase) -> &'static str {
    match phase {
        FilePhase::Between => "ph-between",
        FilePhase::Handshake => "ph-handshake",
        FilePhase::Tls => "ph-tls",
        FilePhase::ClientWork => "ph-client",
        FilePhase::RequestWait => "ph-wait",
        FilePhase::Transfer => "ph-transfer",
        FilePhase::Closing => "ph-closing",
    }
}

/// A phase's name in the legend.
pub fn phase_label(phase: FilePhase) -> &'static str {
    match phase {
        FilePhase::Between => "between connections (FIN → next SYN)",
        FilePhase::Handshake => "handshake (SYN → SYN-ACK)",
        FilePhase::Tls => "TLS handshake (SYN-ACK → handshake done)",
        FilePhase::ClientWork => "client work",
        FilePhase::RequestWait => "request wait (request → first byte)",
        FilePhase::Transfer => "transfer (first → last byte)",
        FilePhase::Closing => "closing (last byte → client FIN)",
    }
}

/// One file's bar: its name and its spans in seconds since the run's start.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// What the row is called.
    pub label: String,
    /// (phase, from, to), seconds since the run started.
    pub spans: Vec<(FilePhase, f64, f64)>,
}

/// One connection's bars.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionRows {
    /// What the connection is called.
    pub label: String,
    /// Its files in request order.
    pub bars: Vec<Bar>,
}

/// One mode's run (or one capture) as a waterfall.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Mode or capture name.
    pub title: String,
    /// Its connections in the order they opened.
    pub connections: Vec<ConnectionRows>,
    /// Where the run's total ends (its last byte), when it is one run: the closing that follows
    /// is drawn past this line, outside the total, as the tables count it.
    pub total_s: Option<f64>,
}

impl Group {
    /// Builds a group from per-file phases measured from `origin`; `name` labels a file's bar
    /// (from its index and its connection's).
    pub fn of(
        title: String,
        files: &[FilePhases],
        origin: Ts,
        name: impl Fn(&FilePhases) -> String,
        connection_label: impl Fn(usize) -> String,
    ) -> Group {
        let mut connections: Vec<ConnectionRows> = Vec::new();
        for f in files {
            let bar = Bar {
                label: name(f),
                spans: f
                    .spans
                    .iter()
                    .map(|s| (s.phase, s.from.secs_since(origin), s.to.secs_since(origin)))
                    .collect(),
            };
            match connections.get_mut(f.connection) {
                Some(rows) => rows.bars.push(bar),
                None => {
                    while connections.len() < f.connection {
                        connections.push(ConnectionRows {
                            label: connection_label(connections.len()),
                            bars: Vec::new(),
                        });
                    }
                    connections.push(ConnectionRows {
                        label: connection_label(f.connection),
                        bars: vec![bar],
                    });
                }
            }
        }
        Group {
            title,
            connections,
            total_s: None,
        }
    }

    /// The group with its run's total marked at `total_s`.
    pub fn ending_at(self, total_s: f64) -> Group {
        Group {
            total_s: Some(total_s),
            ..self
        }
    }

    /// Whether any bar has a span of `phase`.
    pub fn has(&self, phase: FilePhase) -> bool {
        self.connections
            .iter()
            .flat_map(|c| &c.bars)
            .flat_map(|b| &b.spans)
            .any(|s| s.0 == phase)
    }

    /// The latest instant any bar reaches.
    pub fn end_s(&self) -> f64 {
        self.connections
            .iter()
            .flat_map(|c| &c.bars)
            .flat_map(|b| &b.spans)
            .map(|s| s.2)
            .fold(0.0, f64::max)
    }
}

const WIDTH: f64 = 1100.0;
const LABEL_W: f64 = 190.0;
const ROW_H: f64 = 18.0;
const BAR_H: f64 = 12.0;
const AXIS_H: f64 = 24.0;

/// The waterfalls of all groups on one time axis.
pub fn render(groups: &[Group]) -> Markup {
    let axis_s = groups.iter().map(Group::end_s).fold(0.0, f64::max);
    let scale = Scale::new(0.0, axis_s, LABEL_W, WIDTH - 20.0);
    let tick_values = ticks(0.0, axis_s, 8);
    let unit = TimeUnit::for_column(tick_values.iter().copied());
    let scale = Scale::new(
        0.0,
        tick_values.last().copied().unwrap_or(axis_s),
        scale.start_px,
        scale.end_px,
    );
    // Only the phases drawn: a legend entry for TLS on a run without it would claim it was.
    let drawn: Vec<FilePhase> = FilePhase::ALL
        .into_iter()
        .filter(|&p| groups.iter().any(|g| g.has(p)))
        .collect();
    html! {
        div class="legend" {
            @for phase in drawn {
                span { i class=(phase_class(phase)) {} (phase_label(phase)) }
            }
            @if groups.iter().any(|g| g.total_s.is_some()) {
                span { i class="total-key" {} "the run's total ends (its last byte)" }
            }
        }
        @for group in groups {
            h3 { (group.title) }
            (draw(group, &scale, &tick_values, unit))
        }
    }
}

fn draw(group: &Group, scale: &Scale, tick_values: &[f64], unit: TimeUnit) -> Svg {
    let rows: usize = group.connections.iter().map(|c| 1 + c.bars.len()).sum();
    let height = AXIS_H + rows as f64 * ROW_H + 6.0;
    let mut svg = Svg::new(
        "waterfall",
        WIDTH,
        height,
        format!("waterfall of {}", group.title),
    );
    svg.columns(
        scale,
        tick_values,
        (AXIS_H - 4.0, height),
        AXIS_H - 8.0,
        |t| unit.format(t),
    );
    if let Some(total) = group.total_s {
        let x = scale.at(total);
        svg.push(
            Mark::new(
                Shape::Line {
                    from: Point { x, y: AXIS_H - 4.0 },
                    to: Point { x, y: height },
                },
                "total-line",
            )
            .titled(format!(
                "the run's total ends here, at its last byte: {}",
                duration(total)
            )),
        );
    }
    let mut y = AXIS_H;
    for conn in &group.connections {
        svg.text(
            Point {
                x: 4.0,
                y: y + ROW_H - 5.0,
            },
            Anchor::Start,
            "conn-label",
            conn.label.clone(),
        );
        y += ROW_H;
        for bar in &conn.bars {
            bar_row(&mut svg, scale, bar, y);
            y += ROW_H;
        }
    }
    svg
}

/// One file's row at `y`: its label, the whole bar, its phases and its time.
fn bar_row(svg: &mut Svg, scale: &Scale, bar: &Bar, y: f64) {
    svg.text(
        Point {
            x: 16.0,
            y: y + ROW_H - 5.0,
        },
        Anchor::Start,
        "file-label",
        bar.label.clone(),
    );
    let start = bar.spans.first().map_or(0.0, |s| s.1);
    let end = bar.spans.last().map_or(0.0, |s| s.2);
    let top = y + (ROW_H - BAR_H) / 2.0;
    let summary: Vec<String> = FilePhase::ALL
        .iter()
        .filter_map(|&p| {
            let s: f64 = bar
                .spans
                .iter()
                .filter(|x| x.0 == p)
                .map(|x| x.2 - x.1)
                .sum();
            (s > 0.0).then(|| format!("{} {}", phase_label(p), duration(s)))
        })
        .collect();
    svg.push(
        Mark::new(
            Shape::Rect {
                at: Point {
                    x: scale.at(start),
                    y: top - 2.0,
                },
                width: (scale.at(end) - scale.at(start)).max(1.0),
                height: BAR_H + 4.0,
            },
            "wf-bar",
        )
        .titled(format!(
            "{}: {} … {} ({}): {}",
            bar.label,
            duration(start),
            duration(end),
            duration(end - start),
            summary.join(", ")
        )),
    );
    for &(phase, from, to) in &bar.spans {
        svg.push(
            Mark::new(
                Shape::Rect {
                    at: Point {
                        x: scale.at(from),
                        y: top,
                    },
                    width: (scale.at(to) - scale.at(from)).max(0.5),
                    height: BAR_H,
                },
                phase_class(phase),
            )
            .titled(format!(
                "{} {}: {} ({} … {})",
                bar.label,
                phase_label(phase),
                duration(to - from),
                duration(from),
                duration(to)
            )),
        );
    }
    // The file's time ends at its last byte, as the timing table counts it; the closing after
    // it is drawn but not counted.
    let last_byte = bar
        .spans
        .iter()
        .filter(|s| s.0 != FilePhase::Closing)
        .map(|s| s.2)
        .fold(start, f64::max);
    svg.text(
        Point {
            x: scale.at(end) + 4.0,
            y: y + ROW_H - 5.0,
        },
        Anchor::Start,
        "bar-total",
        duration(last_byte - start),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(spans: Vec<(FilePhase, f64, f64)>) -> Group {
        Group {
            total_s: None,
            title: "persistent".into(),
            connections: vec![ConnectionRows {
                label: "connection 1".into(),
                bars: vec![Bar {
                    label: "a.jpg".into(),
                    spans,
                }],
            }],
        }
    }

    #[test]
    fn the_legend_names_only_the_phases_drawn() {
        let plain = group(vec![
            (FilePhase::Handshake, 0.0, 0.001),
            (FilePhase::RequestWait, 0.001, 0.002),
            (FilePhase::Transfer, 0.002, 0.005),
        ]);
        let out = render(std::slice::from_ref(&plain)).into_string();
        assert!(out.contains(phase_label(FilePhase::Handshake)), "{out}");
        assert!(out.contains(phase_label(FilePhase::Transfer)), "{out}");
        assert!(!out.contains("TLS"), "{out}");
        assert!(!out.contains(phase_label(FilePhase::Closing)), "{out}");
        let tls = group(vec![
            (FilePhase::Handshake, 0.0, 0.001),
            (FilePhase::Tls, 0.001, 0.003),
        ]);
        let out = render(&[plain, tls]).into_string();
        assert!(out.contains(phase_label(FilePhase::Tls)), "{out}");
    }

    #[test]
    fn closing_after_the_last_byte_is_drawn_past_the_total_and_not_counted() {
        // A client that read its last byte 16 ms before its FIN left.
        let run = group(vec![
            (FilePhase::Handshake, 0.0, 0.020),
            (FilePhase::RequestWait, 0.020, 0.040),
            (FilePhase::Transfer, 0.040, 0.045),
            (FilePhase::Closing, 0.045, 0.061),
        ])
        .ending_at(0.045);
        let out = render(std::slice::from_ref(&run)).into_string();
        let line = out
            .split("<line class=\"total-line\"")
            .nth(1)
            .unwrap_or_else(|| panic!("no total line: {out}"));
        let x = |attr: &str| -> f64 {
            let value = line.split(&format!("{attr}=\"")).nth(1).unwrap();
            value[..value.find('"').unwrap()].parse().unwrap()
        };
        let scale_end = WIDTH - 20.0;
        // 45 ms on an axis of ticks up to 70 ms (every 10 ms).
        let expected = LABEL_W + (scale_end - LABEL_W) * 0.045 / 0.070;
        assert!(
            (x("x1") - expected).abs() < 0.5,
            "{} vs {expected}",
            x("x1")
        );
        // The file's time is its 45 ms to the last byte, not the 61 ms to its FIN.
        assert!(out.contains(">45.0 ms</text>"), "{out}");
        assert!(!out.contains(">61.0 ms</text>"), "{out}");
        assert!(out.contains("the run's total ends"), "{out}");
    }
}
