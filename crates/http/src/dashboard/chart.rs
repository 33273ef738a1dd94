//! Stacked bar charts rendered server-side as inline SVG (no JavaScript).
//!
//! The geometry ([`layout`]) is a pure function so it can be tested; the
//! rendering ([`render`]) goes through maud, which escapes every label,
//! series name and title. SVG elements are always written with a closing tag
//! (`<rect …></rect>`): inside HTML, a foreign element without one would
//! swallow its siblings.

use maud::{Markup, html};

/// Width and height of the SVG's coordinate system.
pub(crate) const WIDTH: f64 = 760.0;
pub(crate) const HEIGHT: f64 = 280.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 64.0;
/// Horizontal gridlines (and y labels) above zero.
const TICKS: u32 = 4;
/// At most this many x labels are written (every n-th bar otherwise).
const MAX_X_LABELS: usize = 12;

/// Colours for series, in order (colour-blind friendly; the legend names them).
/// The legend has room for this many series (two rows); callers fold the rest.
const PALETTE: [&str; 8] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f",
];
pub(crate) const MAX_SERIES: usize = PALETTE.len();

/// One stacked series: a value per x label.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Series {
    pub name: String,
    pub values: Vec<f64>,
}

/// A chart's data and how to print its values.
pub(crate) struct BarChart<'a> {
    /// The `id` of the `<svg>` element.
    pub id: &'a str,
    /// Accessible title (also shown as the `<title>` tooltip of the chart).
    pub title: &'a str,
    /// One label per bar (e.g. a day), shown in full in the bar's tooltip.
    pub labels: Vec<String>,
    /// The short form of a label written under the x axis.
    pub tick: fn(&str) -> String,
    pub series: Vec<Series>,
    /// Formats an axis or tooltip value.
    pub format: fn(f64) -> String,
}

/// One rectangle of a stacked bar.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Segment {
    pub bar: usize,
    pub series: usize,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub value: f64,
}

/// The computed geometry of a chart.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Layout {
    /// The value at the top of the y axis (a "nice" number ≥ the tallest bar).
    pub max: f64,
    pub segments: Vec<Segment>,
    /// `(x centre, label)` of the bars whose label is written.
    pub x_labels: Vec<(f64, usize)>,
    /// `(y, value)` of the gridlines, from zero up.
    pub y_ticks: Vec<(f64, f64)>,
}

impl Layout {
    /// Whether there is anything to draw.
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }
}

/// A value usable as a bar height: negative, NaN and infinite become 0.
fn clean(v: f64) -> f64 {
    if v.is_finite() && v > 0.0 { v } else { 0.0 }
}

/// The smallest of 1, 2, 2.5, 5 × 10^k that is ≥ `v` (1 for `v` ≤ 0).
pub(crate) fn nice_ceiling(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let exp = 10f64.powf(v.log10().floor());
    for step in [1.0, 2.0, 2.5, 5.0, 10.0] {
        let candidate = step * exp;
        // Tolerate float noise so exact values (e.g. 0.3) are not bumped up.
        if candidate >= v * (1.0 - 1e-12) {
            return candidate;
        }
    }
    10.0 * exp
}

/// Places the bars: heights proportional to value, stacked in series order.
pub(crate) fn layout(labels: usize, series: &[Series]) -> Layout {
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let totals: Vec<f64> = (0..labels)
        .map(|i| {
            series
                .iter()
                .map(|s| clean(s.values.get(i).copied().unwrap_or(0.0)))
                .sum()
        })
        .collect();
    let tallest = totals.iter().copied().fold(0.0, f64::max);
    let max = nice_ceiling(tallest);
    let y_ticks = (0..=TICKS)
        .map(|t| {
            let value = max * f64::from(t) / f64::from(TICKS);
            (
                TOP + plot_h - plot_h * f64::from(t) / f64::from(TICKS),
                value,
            )
        })
        .collect();
    if labels == 0 {
        return Layout {
            max,
            segments: Vec::new(),
            x_labels: Vec::new(),
            y_ticks,
        };
    }
    let slot = plot_w / labels as f64;
    let bar_w = (slot * 0.7).max(1.0);
    let every = labels.div_ceil(MAX_X_LABELS).max(1);
    let mut segments = Vec::new();
    let mut x_labels = Vec::new();
    for bar in 0..labels {
        let x = LEFT + slot * bar as f64 + (slot - bar_w) / 2.0;
        if bar % every == 0 {
            x_labels.push((x + bar_w / 2.0, bar));
        }
        let mut base = TOP + plot_h;
        for (si, s) in series.iter().enumerate() {
            let value = clean(s.values.get(bar).copied().unwrap_or(0.0));
            if value == 0.0 {
                continue;
            }
            let height = plot_h * value / max;
            base -= height;
            segments.push(Segment {
                bar,
                series: si,
                x,
                y: base,
                width: bar_w,
                height,
                value,
            });
        }
    }
    Layout {
        max,
        segments,
        x_labels,
        y_ticks,
    }
}

/// A coordinate with one decimal.
fn n(v: f64) -> String {
    format!("{v:.1}")
}

fn colour(series: usize) -> &'static str {
    PALETTE
        .get(series % PALETTE.len())
        .copied()
        .unwrap_or("#888888")
}

/// The chart as an `<svg>` element.
pub(crate) fn render(chart: &BarChart<'_>) -> Markup {
    let lay = layout(chart.labels.len(), &chart.series);
    let title_id = format!("{}-title", chart.id);
    let baseline = HEIGHT - BOTTOM;
    html! {
        svg id=(chart.id) class="chart" xmlns="http://www.w3.org/2000/svg"
            viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img" aria-labelledby=(title_id) {
            title id=(title_id) { (chart.title) }
            @for (y, value) in &lay.y_ticks {
                line class="grid" x1=(n(LEFT)) x2=(n(WIDTH - RIGHT)) y1=(n(*y)) y2=(n(*y))
                    stroke="#dddddd" stroke-width="1" {}
                text class="y-label" x=(n(LEFT - 6.0)) y=(n(*y + 4.0)) text-anchor="end"
                    font-size="11" { ((chart.format)(*value)) }
            }
            line class="axis" x1=(n(LEFT)) x2=(n(WIDTH - RIGHT)) y1=(n(baseline)) y2=(n(baseline))
                stroke="#888888" stroke-width="1" {}
            @if lay.is_empty() {
                text class="empty" x=(n(LEFT + (WIDTH - LEFT - RIGHT) / 2.0))
                    y=(n(TOP + (HEIGHT - TOP - BOTTOM) / 2.0)) text-anchor="middle" font-size="14"
                    fill="#666666" { "No data for this period" }
            }
            @for s in &lay.segments {
                rect class="bar" x=(n(s.x)) y=(n(s.y)) width=(n(s.width)) height=(n(s.height))
                    fill=(colour(s.series)) {
                    title {
                        (chart.labels.get(s.bar).map(String::as_str).unwrap_or(""))
                        " · "
                        (chart.series.get(s.series).map(|x| x.name.as_str()).unwrap_or(""))
                        ": "
                        ((chart.format)(s.value))
                    }
                }
            }
            @for (x, i) in &lay.x_labels {
                text class="x-label" x=(n(*x)) y=(n(baseline + 16.0)) text-anchor="middle"
                    font-size="11" {
                    ((chart.tick)(chart.labels.get(*i).map(String::as_str).unwrap_or("")))
                }
            }
            @for (i, s) in chart.series.iter().enumerate() {
                @let x = LEFT + 150.0 * (i % 4) as f64;
                @let y = baseline + 34.0 + 14.0 * (i / 4) as f64;
                rect class="legend-swatch" x=(n(x)) y=(n(y - 9.0)) width="10" height="10"
                    fill=(colour(i)) {}
                text class="legend" x=(n(x + 14.0)) y=(n(y)) font-size="11" {
                    (truncate(&s.name, 22))
                }
            }
        }
    }
}

/// At most `max` characters, with an ellipsis when cut.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(v: f64) -> String {
        format!("${v:.2}")
    }

    fn same(s: &str) -> String {
        s.to_owned()
    }

    fn series(name: &str, values: &[f64]) -> Series {
        Series {
            name: name.into(),
            values: values.to_vec(),
        }
    }

    #[test]
    fn nice_ceiling_rounds_up_to_a_round_number() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(-3.0), 1.0);
        assert_eq!(nice_ceiling(f64::NAN), 1.0);
        assert_eq!(nice_ceiling(1.0), 1.0);
        assert_eq!(nice_ceiling(1.2), 2.0);
        assert_eq!(nice_ceiling(2.1), 2.5);
        assert_eq!(nice_ceiling(4.0), 5.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(730.0), 1000.0);
        assert!((nice_ceiling(0.0031) - 0.005).abs() < 1e-15);
    }

    #[test]
    fn bars_scale_with_their_values_and_stack() {
        let s = vec![series("a", &[1.0, 2.0, 4.0]), series("b", &[0.0, 2.0, 0.0])];
        let lay = layout(3, &s);
        // Tallest total is 4 → axis max 5.
        assert_eq!(lay.max, 5.0);
        let plot_h = HEIGHT - TOP - BOTTOM;
        let h = |bar: usize, series: usize| {
            lay.segments
                .iter()
                .find(|g| g.bar == bar && g.series == series)
                .map(|g| g.height)
        };
        let unit = plot_h / 5.0;
        assert!((h(0, 0).unwrap() - unit).abs() < 1e-9);
        assert!((h(2, 0).unwrap() - 4.0 * unit).abs() < 1e-9);
        // A zero value draws nothing.
        assert_eq!(h(0, 1), None);
        // Stacking: series b sits right on top of series a in bar 1.
        let a = lay
            .segments
            .iter()
            .find(|g| g.bar == 1 && g.series == 0)
            .unwrap();
        let b = lay
            .segments
            .iter()
            .find(|g| g.bar == 1 && g.series == 1)
            .unwrap();
        assert!((b.y + b.height - a.y).abs() < 1e-9);
        assert!((a.y + a.height - (HEIGHT - BOTTOM)).abs() < 1e-9);
        // Bars move left to right and stay inside the plot.
        assert!(
            lay.segments
                .iter()
                .all(|g| g.x >= LEFT && g.x + g.width <= WIDTH - RIGHT)
        );
        assert!(h(2, 0).unwrap() <= plot_h);
        // Gridlines from 0 to the max.
        assert_eq!(lay.y_ticks.first().map(|t| t.1), Some(0.0));
        assert_eq!(lay.y_ticks.last().map(|t| t.1), Some(5.0));
    }

    #[test]
    fn bad_values_are_drawn_as_zero() {
        let lay = layout(3, &[series("a", &[f64::NAN, -5.0, f64::INFINITY])]);
        assert!(lay.is_empty());
        // Missing values (short series) count as zero too.
        let lay = layout(3, &[series("a", &[2.0])]);
        assert_eq!(lay.segments.len(), 1);
    }

    #[test]
    fn empty_data_renders_an_axis_and_a_note() {
        let svg = render(&BarChart {
            id: "usage-chart",
            title: "Spend per day",
            labels: Vec::new(),
            series: Vec::new(),
            format: usd,
            tick: same,
        })
        .into_string();
        assert!(svg.starts_with("<svg id=\"usage-chart\""), "{svg}");
        assert!(svg.contains("No data for this period"));
        assert!(!svg.contains("class=\"bar\""));
        let zeros = render(&BarChart {
            id: "c",
            title: "t",
            labels: vec!["d1".into(), "d2".into()],
            series: vec![series("m", &[0.0, 0.0])],
            format: usd,
            tick: same,
        })
        .into_string();
        assert!(zeros.contains("No data for this period"));
        assert!(zeros.contains(">d1</text>"));
    }

    #[test]
    fn every_text_is_escaped() {
        let svg = render(&BarChart {
            id: "c",
            title: "<script>alert(1)</script>",
            labels: vec!["<b>day</b>".into()],
            series: vec![series("evil\"&<model>", &[1.0])],
            format: usd,
            tick: same,
        })
        .into_string();
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(!svg.contains("<b>"), "{svg}");
        assert!(!svg.contains("<model>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(svg.contains("evil&quot;&amp;&lt;model&gt;"));
        // Elements are explicitly closed.
        assert_eq!(svg.matches("<rect").count(), svg.matches("</rect>").count());
        assert_eq!(svg.matches("<line").count(), svg.matches("</line>").count());
    }

    #[test]
    fn many_bars_get_thinned_labels() {
        let labels: Vec<String> = (0..90).map(|i| format!("d{i}")).collect();
        let lay = layout(labels.len(), &[series("a", &vec![1.0; 90])]);
        assert_eq!(lay.segments.len(), 90);
        assert!(lay.x_labels.len() <= MAX_X_LABELS);
        assert_eq!(lay.x_labels.first().map(|l| l.1), Some(0));
    }

    #[test]
    fn long_names_are_truncated() {
        assert_eq!(truncate("short", 22), "short");
        let t = truncate(&"x".repeat(40), 10);
        assert_eq!(t.chars().count(), 10);
        assert!(t.ends_with('…'));
    }
}
