//! Charts drawn by the hub as inline SVG: no script and no CDN (a site's hub
//! may have no internet), readable by a screen reader (each chart is an
//! image labelled by its title and a one-sentence summary; each bar and
//! point carries its value as a tooltip), printable as they are.
//!
//! The x axis is the local hours of a day; two shapes cover the dashboard:
//! stacked bars (doses per hour, a stack per desk) and lines.

use maud::{html, Markup};

const W: f64 = 640.0;
const H: f64 = 230.0;
const LEFT: f64 = 46.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 24.0;
const BOTTOM: f64 = 28.0;

/// Colours told apart with common colour blindness (Okabe–Ito order).
const PALETTE: [&str; 8] = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#882255", "#000000"];

pub fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// One line of a line chart: a value per hour of the axis (`None`: no point).
pub struct Line {
    pub label: String,
    pub values: Vec<Option<f64>>,
    /// An SVG dash pattern (`"6 4"`), so that lines differ in grey too.
    pub dash: Option<&'static str>,
    /// A dot on each value (a reference level, such as the day's list, has none).
    pub dots: bool,
}

/// The hours a day's chart spans: the working day (07–17) widened to any
/// hour that has something in it.
pub fn hours_of(busy: impl IntoIterator<Item = u32>) -> Vec<u32> {
    let (mut lo, mut hi) = (7, 17);
    for h in busy {
        lo = lo.min(h);
        hi = hi.max(h.min(23));
    }
    (lo..=hi).collect()
}

/// A round top for the y axis and its step: 1, 2 or 5 times a power of ten,
/// at most five steps.
fn axis(max: f64) -> (f64, f64) {
    if max <= 0.0 || !max.is_finite() {
        return (1.0, 1.0);
    }
    let raw = max / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(10.0 * magnitude);
    // Counts and minutes: no axis finer than one.
    let step = step.max(1.0);
    ((max / step).ceil() * step, step)
}

fn fmt(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}

struct Frame {
    slots: usize,
    top: f64,
}

impl Frame {
    fn slot_w(&self) -> f64 {
        (W - LEFT - RIGHT) / self.slots.max(1) as f64
    }
    fn x(&self, i: usize) -> f64 {
        LEFT + self.slot_w() * (i as f64 + 0.5)
    }
    fn y(&self, v: f64) -> f64 {
        H - BOTTOM - (v / self.top) * (H - TOP - BOTTOM)
    }
}

/// The axes, grid and hour labels around a chart's marks.
fn frame(id: &str, title: &str, summary: &str, hours: &[u32], (top, step): (f64, f64), unit: &str, marks: Markup) -> Markup {
    let f = Frame { slots: hours.len(), top };
    let ticks: Vec<f64> = (0..=((top / step).round() as usize)).map(|i| i as f64 * step).collect();
    let label_every = if hours.len() > 14 { 2 } else { 1 };
    html! {
        svg.chart id=(id) role="img" aria-labelledby={ (id) "-t " (id) "-d" } viewBox={ "0 0 " (W) " " (H) } xmlns="http://www.w3.org/2000/svg" {
            title id={ (id) "-t" } { (title) }
            desc id={ (id) "-d" } { (summary) }
            g.grid {
                @for v in &ticks {
                    line x1=(LEFT) x2=(W - RIGHT) y1=(fmt(f.y(*v))) y2=(fmt(f.y(*v))) stroke="#d5d9de" stroke-width="1" {}
                    text x=(LEFT - 6.0) y=(fmt(f.y(*v) + 4.0)) text-anchor="end" font-size="11" fill="#5f6b76" { (fmt(*v)) }
                }
                text x="4" y="12" font-size="11" fill="#5f6b76" { (unit) }
            }
            g.hours {
                @for (i, h) in hours.iter().enumerate() {
                    @if i % label_every == 0 {
                        text x=(fmt(f.x(i))) y=(H - BOTTOM + 16.0) text-anchor="middle" font-size="11" fill="#5f6b76" { (format!("{h:02}h")) }
                    }
                }
                line x1=(LEFT) x2=(W - RIGHT) y1=(H - BOTTOM) y2=(H - BOTTOM) stroke="#5f6b76" stroke-width="1" {}
            }
            (marks)
        }
    }
}

/// Stacked bars: for each hour, a segment per series (`values[i]` is the
/// series' count in `hours[i]`).
pub fn stacked_bars(id: &str, title: &str, summary: &str, hours: &[u32], series: &[(String, Vec<u32>)], unit: &str, data_label: &str) -> Markup {
    let totals: Vec<u32> = (0..hours.len()).map(|i| series.iter().map(|(_, v)| v.get(i).copied().unwrap_or(0)).sum()).collect();
    let (top, step) = axis(f64::from(totals.iter().copied().max().unwrap_or(0)));
    let f = Frame { slots: hours.len(), top };
    let bar_w = (f.slot_w() * 0.7).max(2.0);
    // (hour index, series index, count, count below it) of each segment.
    let mut segments: Vec<(usize, usize, u32, u32)> = Vec::new();
    for i in 0..hours.len() {
        let mut base = 0;
        for (k, (_, values)) in series.iter().enumerate() {
            let n = values.get(i).copied().unwrap_or(0);
            if n > 0 {
                segments.push((i, k, n, base));
                base += n;
            }
        }
    }
    let marks = html! {
        g.bars {
            @for (i, k, n, base) in segments {
                @let (y0, y1) = (f.y(f64::from(base)), f.y(f64::from(base + n)));
                @let (label, h) = (&series[k].0, hours[i]);
                rect x=(fmt(f.x(i) - bar_w / 2.0)) y=(fmt(y1)) width=(fmt(bar_w)) height=(fmt(y0 - y1)) fill=(colour(k)) data-series=(label) data-hour=(h) data-value=(n) {
                    title { (label) ", " (format!("{h:02}:00–{:02}:00", h + 1)) ": " (n) " " (unit) }
                }
            }
        }
    };
    html! {
        figure.chart {
            (frame(id, title, summary, hours, (top, step), unit, marks))
            (legend(series.iter().map(|(l, _)| (l.as_str(), None))))
        }
        (data_table(data_label, unit, hours, series.iter().map(|(l, v)| (l.as_str(), v.iter().map(|n| Some(f64::from(*n))).collect()))))
    }
}

/// Lines with a point on each hour that has a value.
pub fn lines(id: &str, title: &str, summary: &str, hours: &[u32], series: &[Line], unit: &str, data_label: &str) -> Markup {
    let max = series.iter().flat_map(|l| l.values.iter().flatten()).copied().fold(0.0, f64::max);
    let (top, step) = axis(max);
    let f = Frame { slots: hours.len(), top };
    let marks = html! {
        g.lines {
            @for (k, l) in series.iter().enumerate() {
                @let points: Vec<(usize, f64)> = l.values.iter().enumerate().filter_map(|(i, v)| v.map(|v| (i, v))).collect();
                // A gap (an hour without a value) breaks the line.
                @for run in runs(&points) {
                    polyline fill="none" stroke=(colour(k)) stroke-width="2" stroke-dasharray=[l.dash]
                        points=(run.iter().map(|(i, v)| format!("{},{}", fmt(f.x(*i)), fmt(f.y(*v)))).collect::<Vec<_>>().join(" ")) {}
                }
                @for (i, v) in points.iter().filter(|_| l.dots) {
                    circle cx=(fmt(f.x(*i))) cy=(fmt(f.y(*v))) r="3" fill=(colour(k)) data-series=(l.label) data-hour=(hours[*i]) data-value=(fmt(*v)) {
                        title { (l.label) ", " (format!("{:02}h", hours[*i])) ": " (fmt(*v)) " " (unit) }
                    }
                }
            }
        }
    };
    html! {
        figure.chart {
            (frame(id, title, summary, hours, (top, step), unit, marks))
            (legend(series.iter().map(|l| (l.label.as_str(), l.dash))))
        }
        (data_table(data_label, unit, hours, series.iter().map(|l| (l.label.as_str(), l.values.clone()))))
    }
}

/// The chart's numbers as a table, folded away: for a keyboard, a screen
/// reader that does not open the image, or copying into a spreadsheet.
fn data_table<'a>(label: &str, unit: &str, hours: &[u32], rows: impl Iterator<Item = (&'a str, Vec<Option<f64>>)>) -> Markup {
    html! {
        details.chart-data {
            summary { (label) " (" (unit) ")" }
            table {
                tr { th {} @for h in hours { th { (format!("{h:02}h")) } } }
                @for (name, values) in rows {
                    tr { th { (name) } @for v in &values { td.n { @match v { Some(v) => (fmt(*v)), None => "—" } } } }
                }
            }
        }
    }
}

/// Consecutive hours as one run each.
fn runs(points: &[(usize, f64)]) -> Vec<Vec<(usize, f64)>> {
    let mut out: Vec<Vec<(usize, f64)>> = Vec::new();
    for p in points {
        match out.last_mut() {
            Some(run) if run.last().is_some_and(|q| q.0 + 1 == p.0) => run.push(*p),
            _ => out.push(vec![*p]),
        }
    }
    out
}

fn legend<'a>(items: impl Iterator<Item = (&'a str, Option<&'static str>)>) -> Markup {
    html! {
        figcaption.legend {
            @for (k, (label, dash)) in items.enumerate() {
                span {
                    svg width="22" height="10" aria-hidden="true" {
                        line x1="1" x2="21" y1="5" y2="5" stroke=(colour(k)) stroke-width="6" stroke-dasharray=[dash] {}
                    }
                    " " (label)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axis_is_round_and_covers_the_maximum() {
        for (max, top, step) in [(0.0, 1.0, 1.0), (3.0, 3.0, 1.0), (7.0, 8.0, 2.0), (23.0, 25.0, 5.0), (120.0, 150.0, 50.0), (0.4, 1.0, 1.0), (999.0, 1000.0, 200.0)] {
            assert_eq!(axis(max), (top, step), "max {max}");
            assert!(axis(max).0 >= max);
        }
    }

    #[test]
    fn the_day_spans_the_working_hours_and_any_busy_hour() {
        assert_eq!(hours_of([]), (7..=17).collect::<Vec<_>>());
        assert_eq!(hours_of([5, 20]), (5..=20).collect::<Vec<_>>());
    }

    #[test]
    fn bars_stack_and_carry_their_values() {
        let hours = hours_of([]);
        let mut d1 = vec![0; hours.len()];
        let mut d2 = vec![0; hours.len()];
        d1[1] = 4; // 08h
        d2[1] = 6;
        let svg = stacked_bars("c", "Doses per hour", "10 doses", &hours, &[("D1".into(), d1), ("D2".into(), d2)], "doses", "Data").into_string();
        assert!(svg.contains(r#"role="img" aria-labelledby="c-t c-d""#), "{svg}");
        assert!(svg.contains(r#"<title id="c-t">Doses per hour</title>"#));
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains(r#"data-series="D2" data-hour="8" data-value="6""#));
        assert!(svg.contains("D1, 08:00–09:00: 4 doses"));
        // Every SVG element is closed: an HTML parser nests unclosed ones.
        assert_eq!(svg.matches("<rect").count(), svg.matches("</rect>").count());
        assert_eq!(svg.matches("<line").count(), svg.matches("</line>").count());
        assert!(svg.contains("<details class=\"chart-data\"><summary>Data (doses)</summary>"), "the numbers as a table too");
    }

    #[test]
    fn a_gap_breaks_a_line() {
        let hours = vec![8, 9, 10, 11];
        let svg = lines("l", "Lag", "lag", &hours, &[Line { label: "max".into(), values: vec![Some(1.0), Some(2.0), None, Some(3.0)], dash: None, dots: true }], "min", "Data").into_string();
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 3);
    }
}
