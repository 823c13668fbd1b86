//! Report layer: a small typed SVG builder for the charts — shapes with a class and an optional
//! `<title>` (the tooltip that says what each mark measured), rendered through maud so every
//! text is escaped. Knows nothing of packets or phases.

use maud::{Markup, Render, html};

/// Where a text is anchored horizontally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// Text starts at x.
    Start,
    /// Text is centred on x.
    Middle,
    /// Text ends at x.
    End,
}

impl Anchor {
    fn name(self) -> &'static str {
        match self {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        }
    }
}

/// A point in the drawing's coordinates (pixels).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Horizontal, rightwards.
    pub x: f64,
    /// Vertical, downwards.
    pub y: f64,
}

/// One mark in a drawing.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// A straight line.
    Line { from: Point, to: Point },
    /// A line with an arrowhead at `to`.
    Arrow { from: Point, to: Point },
    /// An axis-aligned rectangle.
    Rect {
        /// Top-left corner.
        at: Point,
        /// Width.
        width: f64,
        /// Height.
        height: f64,
    },
    /// A closed polygon.
    Polygon(Vec<Point>),
    /// An open polyline.
    Polyline(Vec<Point>),
    /// Vertical strokes, one per (x, y from, y to): many short marks in one element.
    Strokes(Vec<(f64, f64, f64)>),
    /// Straight lines, one per (from, to): many in one element.
    Lines(Vec<(Point, Point)>),
    /// A dot.
    Circle {
        /// Centre.
        at: Point,
        /// Radius.
        r: f64,
    },
    /// A line of text.
    Text {
        /// Baseline position.
        at: Point,
        /// Horizontal anchor.
        anchor: Anchor,
        /// The words.
        text: String,
    },
}

/// A shape with its CSS class and tooltip.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    shape: Shape,
    class: &'static str,
    title: Option<String>,
}

impl Mark {
    /// A mark of `class`.
    pub fn new(shape: Shape, class: &'static str) -> Mark {
        Mark {
            shape,
            class,
            title: None,
        }
    }

    /// The same mark with a tooltip.
    pub fn titled(mut self, title: impl Into<String>) -> Mark {
        self.title = Some(title.into());
        self
    }
}

/// Coordinates with one decimal: enough for a screen, a third of the bytes of full precision.
struct Num(f64);

impl Render for Num {
    fn render_to(&self, buffer: &mut String) {
        let v = (self.0 * 10.0).round() / 10.0;
        if v.fract() == 0.0 {
            buffer.push_str(&format!("{v:.0}"));
        } else {
            buffer.push_str(&format!("{v:.1}"));
        }
    }
}

/// Points as an SVG `points` list.
struct Points<'a>(&'a [Point]);

impl Render for Points<'_> {
    fn render_to(&self, buffer: &mut String) {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                buffer.push(' ');
            }
            Num(p.x).render_to(buffer);
            buffer.push(',');
            Num(p.y).render_to(buffer);
        }
    }
}

/// Vertical strokes as SVG path data.
struct StrokePath<'a>(&'a [(f64, f64, f64)]);

impl Render for StrokePath<'_> {
    fn render_to(&self, buffer: &mut String) {
        for &(x, y0, y1) in self.0 {
            buffer.push('M');
            Num(x).render_to(buffer);
            buffer.push(' ');
            Num(y0).render_to(buffer);
            buffer.push('V');
            Num(y1).render_to(buffer);
        }
    }
}

/// Straight lines as SVG path data.
struct LinePath<'a>(&'a [(Point, Point)]);

impl Render for LinePath<'_> {
    fn render_to(&self, buffer: &mut String) {
        for (from, to) in self.0 {
            buffer.push('M');
            Num(from.x).render_to(buffer);
            buffer.push(' ');
            Num(from.y).render_to(buffer);
            buffer.push('L');
            Num(to.x).render_to(buffer);
            buffer.push(' ');
            Num(to.y).render_to(buffer);
        }
    }
}

/// The arrowhead's length and half-width.
const HEAD: (f64, f64) = (7.0, 3.0);

fn head(from: Point, to: Point) -> [Point; 3] {
    let (dx, dy) = (to.x - from.x, to.y - from.y);
    let len = dx.hypot(dy).max(1e-9);
    let (ux, uy) = (dx / len, dy / len);
    let base = Point {
        x: to.x - ux * HEAD.0,
        y: to.y - uy * HEAD.0,
    };
    [
        to,
        Point {
            x: base.x - uy * HEAD.1,
            y: base.y + ux * HEAD.1,
        },
        Point {
            x: base.x + uy * HEAD.1,
            y: base.y - ux * HEAD.1,
        },
    ]
}

impl Render for Mark {
    fn render_to(&self, buffer: &mut String) {
        let title = self.title.as_deref();
        let class = self.class;
        let markup = match &self.shape {
            Shape::Line { from, to } => html! {
                line class=(class) x1=(Num(from.x)) y1=(Num(from.y)) x2=(Num(to.x)) y2=(Num(to.y)) {
                    @if let Some(t) = title { title { (t) } }
                }
            },
            Shape::Arrow { from, to } => html! {
                g class=(class) {
                    @if let Some(t) = title { title { (t) } }
                    line x1=(Num(from.x)) y1=(Num(from.y)) x2=(Num(to.x)) y2=(Num(to.y)) {}
                    polygon points=(Points(&head(*from, *to))) {}
                }
            },
            Shape::Rect { at, width, height } => html! {
                rect class=(class) x=(Num(at.x)) y=(Num(at.y)) width=(Num(width.max(0.0))) height=(Num(height.max(0.0))) {
                    @if let Some(t) = title { title { (t) } }
                }
            },
            Shape::Polygon(points) => html! {
                polygon class=(class) points=(Points(points)) {
                    @if let Some(t) = title { title { (t) } }
                }
            },
            Shape::Polyline(points) => html! {
                polyline class=(class) points=(Points(points)) {
                    @if let Some(t) = title { title { (t) } }
                }
            },
            Shape::Strokes(strokes) => html! {
                path class=(class) d=(StrokePath(strokes)) {
                    @if let Some(t) = title { title { (t) } }
                }
            },
            Shape::Lines(lines) => html! {
                path class=(class) d=(LinePath(lines)) {
                    @if let Some(t) = title { title { (t) } }
                }
            },
            Shape::Circle { at, r } => html! {
                circle class=(class) cx=(Num(at.x)) cy=(Num(at.y)) r=(Num(*r)) {
                    @if let Some(t) = title { title { (t) } }
                }
            },
            Shape::Text { at, anchor, text } => html! {
                text class=(class) x=(Num(at.x)) y=(Num(at.y)) text-anchor=(anchor.name()) {
                    @if let Some(t) = title { title { (t) } }
                    (text)
                }
            },
        };
        markup.render_to(buffer);
    }
}

/// A whole drawing: its size, its class (what it is: `ladder`, `waterfall`, …) and its marks in
/// painting order.
#[derive(Debug, Clone, PartialEq)]
pub struct Svg {
    class: &'static str,
    width: f64,
    height: f64,
    label: String,
    marks: Vec<Mark>,
}

impl Svg {
    /// An empty drawing of `width` × `height` pixels; `label` is read out by screen readers.
    pub fn new(class: &'static str, width: f64, height: f64, label: impl Into<String>) -> Svg {
        Svg {
            class,
            width,
            height,
            label: label.into(),
            marks: Vec::new(),
        }
    }

    /// Adds a mark on top of the others.
    pub fn push(&mut self, mark: Mark) {
        self.marks.push(mark);
    }

    /// Adds a plain text.
    pub fn text(
        &mut self,
        at: Point,
        anchor: Anchor,
        class: &'static str,
        text: impl Into<String>,
    ) {
        self.push(Mark::new(
            Shape::Text {
                at,
                anchor,
                text: text.into(),
            },
            class,
        ));
    }

    /// A grid line from `top` to `bottom` at each of `ticks` on `x`, labelled at `label_y`.
    pub fn columns(
        &mut self,
        x: &Scale,
        ticks: &[f64],
        (top, bottom): (f64, f64),
        label_y: f64,
        label: impl Fn(f64) -> String,
    ) {
        for &t in ticks {
            let px = x.at(t);
            self.push(Mark::new(
                Shape::Line {
                    from: Point { x: px, y: top },
                    to: Point { x: px, y: bottom },
                },
                "grid",
            ));
            self.text(
                Point { x: px, y: label_y },
                Anchor::Middle,
                "tick",
                label(t),
            );
        }
    }
}

impl Render for Svg {
    fn render(&self) -> Markup {
        let view_box = html! { "0 0 " (Num(self.width)) " " (Num(self.height)) };
        html! {
            svg xmlns="http://www.w3.org/2000/svg" class=(self.class) width=(Num(self.width))
                height=(Num(self.height)) viewBox=(view_box) role="img" {
                title { (self.label) }
                @for mark in &self.marks { (mark) }
            }
        }
    }
}

/// A linear map from a domain (seconds, bytes) to pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    /// Domain start.
    pub from: f64,
    /// Domain end.
    pub to: f64,
    /// Pixel at `from`.
    pub start_px: f64,
    /// Pixel at `to`.
    pub end_px: f64,
}

impl Scale {
    /// Maps [`from`, `to`] onto [`start_px`, `end_px`]; an empty domain maps all to the start.
    pub fn new(from: f64, to: f64, start_px: f64, end_px: f64) -> Scale {
        Scale {
            from,
            to,
            start_px,
            end_px,
        }
    }

    /// The pixel of `v`.
    pub fn at(&self, v: f64) -> f64 {
        let span = self.to - self.from;
        if span <= 0.0 {
            self.start_px
        } else {
            self.start_px + (v - self.from) / span * (self.end_px - self.start_px)
        }
    }

    /// Pixels per domain unit.
    pub fn per_unit(&self) -> f64 {
        let span = self.to - self.from;
        if span <= 0.0 {
            0.0
        } else {
            (self.end_px - self.start_px) / span
        }
    }
}

/// Round tick values covering `low` … `high`, about `count` of them (steps of 1, 2 or 5 × 10ⁿ).
pub fn ticks(low: f64, high: f64, count: usize) -> Vec<f64> {
    let span = high - low;
    if span <= 0.0 || !span.is_finite() {
        return vec![low];
    }
    let rough = span / count.max(1) as f64;
    let power = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * power);
    let first = (low / step).floor() as i64;
    let last = (high / step).ceil() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_and_texts_are_escaped() {
        let mut svg = Svg::new("ladder", 100.0, 50.0, "a <b>");
        svg.push(
            Mark::new(
                Shape::Line {
                    from: Point { x: 0.0, y: 0.0 },
                    to: Point { x: 10.25, y: 3.0 },
                },
                "ack",
            )
            .titled("seq 1 < 2"),
        );
        svg.text(Point { x: 1.0, y: 2.0 }, Anchor::Start, "label", "GET /a&b");
        let out = svg.render().into_string();
        assert!(out.contains("<title>a &lt;b&gt;</title>"), "{out}");
        assert!(out.contains("viewBox=\"0 0 100 50\""), "{out}");
        assert!(out.contains("x2=\"10.3\""), "{out}");
        assert!(out.contains("seq 1 &lt; 2"), "{out}");
        assert!(out.contains("GET /a&amp;b"), "{out}");
    }

    #[test]
    fn ticks_are_round_and_cover_the_maximum() {
        assert_eq!(ticks(0.0, 0.95, 5).len(), 6);
        assert_eq!(ticks(0.0, 0.0, 5), vec![0.0]);
        let t = ticks(0.0, 0.0042, 4);
        assert!(*t.last().unwrap() >= 0.0042);
        let t = ticks(0.41, 0.47, 3);
        assert!(t[0] <= 0.41 && t[0] > 0.3, "{t:?}");
    }
}
