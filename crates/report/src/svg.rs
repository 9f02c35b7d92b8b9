//! SVG chart primitives: the frame, axes with round ticks, lines, legends.

use std::fmt::Write as _;

use crate::format::esc;

pub(crate) const W: f64 = 960.0;
pub(crate) const H: f64 = 260.0;
pub(crate) const ML: f64 = 64.0;
pub(crate) const MR: f64 = 16.0;
pub(crate) const MT: f64 = 28.0;
pub(crate) const MB: f64 = 36.0;
/// Approximate width of one character of an 11px tick label, for collision checks.
pub(crate) const TICK_CHAR_W: f64 = 6.4;

/// Removes the sign of a label that reads as zero (`-0`, `-0.00`, `-0µs`): rounding a tiny
/// negative value must not print a negative zero.
pub(crate) fn no_negative_zero(s: String) -> String {
    match s.strip_prefix('-') {
        Some(rest)
            if rest.chars().any(|c| c.is_ascii_digit()) && !rest.chars().any(|c| c.is_ascii_digit() && c != '0') =>
        {
            rest.to_string()
        }
        _ => s,
    }
}

/// The "nice" step (1, 2 or 5 times a power of ten) at or above `raw`.
pub(crate) fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let n = if f <= 1.0 + 1e-9 {
        1.0
    } else if f <= 2.0 + 1e-9 {
        2.0
    } else if f <= 5.0 + 1e-9 {
        5.0
    } else {
        10.0
    };
    n * mag
}

/// Decimals needed to tell ticks `step` apart.
pub(crate) fn step_decimals(step: f64) -> usize {
    if !(step.is_finite() && step > 0.0) || step >= 1.0 - 1e-9 {
        0
    } else {
        ((-step.log10() - 1e-9).ceil() as usize).min(6)
    }
}

/// A count or size tick label (`0`, `2.5`, `1200`, `15k`, `1.5M`).
pub(crate) fn fmt_count(v: f64, step: f64) -> String {
    let (div, suffix) = if v.abs() >= 1e6 && step >= 1e5 {
        (1e6, "M")
    } else if v.abs() >= 1e4 && step >= 1e3 {
        (1e3, "k")
    } else {
        (1.0, "")
    };
    no_negative_zero(format!("{:.*}{suffix}", step_decimals(step / div), v / div))
}

/// A duration tick label with as many decimals as the step needs (`0`, `500µs`, `1.5ms`, `2s`).
pub(crate) fn fmt_secs_tick(v: f64, step: f64) -> String {
    if v.abs() < step * 1e-3 {
        return "0".to_string();
    }
    let (scale, unit) = if v.abs() < 1e-3 {
        (1e6, "µs")
    } else if v.abs() < 1.0 {
        (1e3, "ms")
    } else {
        (1.0, "s")
    };
    no_negative_zero(format!("{:.*}{unit}", step_decimals(step * scale).min(3), v * scale))
}

/// The vertical axis of a chart of seconds, from 0 to a little above `ymax`.
pub(crate) fn seconds_axis(ymax: f64) -> Axis {
    Axis::value(
        0.0,
        (ymax * 1.02).max(1e-6),
        H - MB,
        MT,
        false,
        true,
        1e-6,
        &fmt_secs_tick,
    )
}

/// A byte count tick label (`0`, `512 KiB`, `1.5 MiB`), as precise as the step between ticks
/// needs.
pub(crate) fn fmt_bytes_tick(v: f64, step: f64) -> String {
    if v.abs() < step * 1e-3 {
        return "0".to_string();
    }
    let (scale, unit) = if v.abs() < 1024.0 {
        (1.0, "B")
    } else if v.abs() < 1024.0 * 1024.0 {
        (1.0 / 1024.0, "KiB")
    } else if v.abs() < 1024.0 * 1024.0 * 1024.0 {
        (1.0 / 1024.0 / 1024.0, "MiB")
    } else {
        (1.0 / 1024.0 / 1024.0 / 1024.0, "GiB")
    };
    no_negative_zero(format!("{:.*} {unit}", step_decimals(step * scale).min(2), v * scale))
}

/// A clock tick label in UTC, as precise as the step between ticks needs.
pub(crate) fn fmt_clock(t_ns: i64, step_ns: i64) -> String {
    let secs = t_ns.div_euclid(1_000_000_000);
    let sod = secs.rem_euclid(86_400);
    let (h, m, s) = (sod / 3600, (sod % 3600) / 60, sod % 60);
    let date = || {
        let (_, mo, d) = servicetask_analytics::trends::civil_from_days(secs.div_euclid(86_400));
        format!("{mo:02}-{d:02}")
    };
    if step_ns >= 86_400_000_000_000 || (sod == 0 && step_ns >= 3_600_000_000_000) {
        date()
    } else if step_ns >= 60_000_000_000 {
        format!("{h:02}:{m:02}")
    } else if step_ns >= 1_000_000_000 {
        format!("{h:02}:{m:02}:{s:02}")
    } else {
        let frac = t_ns.rem_euclid(1_000_000_000);
        let decimals = if step_ns >= 100_000_000 {
            1
        } else if step_ns >= 10_000_000 {
            2
        } else {
            3
        };
        let digits = format!("{frac:09}");
        format!("{h:02}:{m:02}:{s:02}.{}", &digits[..decimals])
    }
}

/// A linear map from data to pixels, with its tick labels.
pub(crate) struct Axis {
    pub(crate) lo: f64,
    pub(crate) hi: f64,
    p0: f64,
    p1: f64,
    /// `(value, label)`; labels never read `-0`.
    pub(crate) ticks: Vec<(f64, String)>,
}

impl Axis {
    /// A value axis over `[lo, hi]`, widened to whole "nice" steps. A degenerate range (one
    /// distinct value) is padded around the value by half of it (at least `min_pad`);
    /// `non_negative` drops tick labels below zero (sizes, counts and durations can't be).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn value(
        lo: f64,
        hi: f64,
        p0: f64,
        p1: f64,
        integer: bool,
        non_negative: bool,
        min_pad: f64,
        fmt: &dyn Fn(f64, f64) -> String,
    ) -> Axis {
        let (mut lo, mut hi) = if lo.is_finite() && hi.is_finite() && hi >= lo {
            (lo, hi)
        } else {
            (0.0, 1.0)
        };
        if hi - lo <= 0.0 {
            let pad = (lo.abs() * 0.5).max(min_pad);
            (lo, hi) = (lo - pad, hi + pad);
        }
        let mut step = nice_step((hi - lo) / 5.0);
        if integer {
            step = step.max(1.0).round();
        }
        lo = (lo / step).floor() * step;
        hi = (hi / step - 1e-9).ceil() * step;
        if hi <= lo {
            hi = lo + step;
        }
        let n = ((hi - lo) / step).round() as i64;
        let ticks = (0..=n)
            .map(|k| lo + k as f64 * step)
            .filter(|v| !non_negative || *v > -step * 1e-6)
            .map(|v| {
                (
                    v,
                    no_negative_zero(fmt(if v.abs() < step * 1e-9 { 0.0 } else { v }, step)),
                )
            })
            .collect();
        Axis { lo, hi, p0, p1, ticks }
    }

    /// A time axis over `[t0, t1]` (Unix nanoseconds) with ticks on round clock times.
    pub(crate) fn time(t0: f64, t1: f64, p0: f64, p1: f64) -> Axis {
        let (t0, t1) = if t1 > t0 { (t0, t1) } else { (t0 - 5e8, t0 + 5e8) };
        const MS: i64 = 1_000_000;
        const S: i64 = 1000 * MS;
        const STEPS: [i64; 31] = [
            MS,
            2 * MS,
            5 * MS,
            10 * MS,
            20 * MS,
            50 * MS,
            100 * MS,
            200 * MS,
            500 * MS,
            S,
            2 * S,
            5 * S,
            10 * S,
            15 * S,
            30 * S,
            60 * S,
            120 * S,
            300 * S,
            600 * S,
            900 * S,
            1800 * S,
            3600 * S,
            7200 * S,
            3 * 3600 * S,
            6 * 3600 * S,
            12 * 3600 * S,
            86_400 * S,
            2 * 86_400 * S,
            7 * 86_400 * S,
            14 * 86_400 * S,
            28 * 86_400 * S,
        ];
        let span = t1 - t0;
        let step = STEPS
            .iter()
            .copied()
            .find(|&s| span / s as f64 <= 6.0)
            .unwrap_or_else(|| (span / 6.0 / (86_400 * S) as f64).ceil() as i64 * 86_400 * S);
        let (a, b) = (t0 as i64, t1 as i64);
        let mut t = a.div_euclid(step) * step;
        if t < a {
            t += step;
        }
        let mut ticks = Vec::new();
        while t <= b {
            ticks.push((t as f64, fmt_clock(t, step)));
            t += step;
        }
        Axis {
            lo: t0,
            hi: t1,
            p0,
            p1,
            ticks,
        }
    }

    pub(crate) fn at(&self, v: f64) -> f64 {
        self.p0 + (v - self.lo) / (self.hi - self.lo) * (self.p1 - self.p0)
    }
}

pub(crate) fn svg_open(o: &mut String, id: &str, title: &str, height: f64) {
    let _ = write!(
        o,
        r#"<figure><figcaption>{}</figcaption><svg class="chart" id="{}" viewBox="0 0 {W} {height}" width="100%" preserveAspectRatio="xMidYMid meet" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        esc(title),
        esc(id),
        esc(title)
    );
}

/// A chart with nothing to show: one line saying so, instead of an empty plot.
pub(crate) fn empty_chart(o: &mut String, id: &str, text: &str) {
    let _ = write!(o, r#"<p class="empty" id="{}">{}</p>"#, esc(id), esc(text));
}

pub(crate) fn axes(o: &mut String, x: &Axis, y: &Axis) {
    let _ = write!(
        o,
        r##"<line x1="{ML}" y1="{}" x2="{}" y2="{}" stroke="#888"/><line x1="{ML}" y1="{MT}" x2="{ML}" y2="{}" stroke="#888"/>"##,
        H - MB,
        W - MR,
        H - MB,
        H - MB
    );
    for (v, label) in &y.ticks {
        let py = y.at(*v);
        let _ = write!(
            o,
            r##"<line x1="{ML}" y1="{py:.1}" x2="{}" y2="{py:.1}" stroke="#eee"/><text x="{}" y="{:.1}" text-anchor="end" class="tick">{}</text>"##,
            W - MR,
            ML - 4.0,
            py + 4.0,
            esc(&no_negative_zero(label.clone()))
        );
    }
    // centred labels; one that would leave the picture or touch its neighbour is left out
    let mut right_of_last = f64::MIN;
    for (v, label) in &x.ticks {
        let px = x.at(*v);
        let half = label.chars().count() as f64 * TICK_CHAR_W / 2.0;
        if px - half < 2.0 || px + half > W - 2.0 || px - half < right_of_last + 8.0 {
            continue;
        }
        right_of_last = px + half;
        let _ = write!(
            o,
            r##"<line x1="{px:.1}" y1="{}" x2="{px:.1}" y2="{}" stroke="#888"/><text x="{px:.1}" y="{}" text-anchor="middle" class="tick">{}</text>"##,
            H - MB,
            H - MB + 4.0,
            H - MB + 16.0,
            esc(&no_negative_zero(label.clone()))
        );
    }
}

/// How a series looks, in the chart and in its legend entry.
#[derive(Clone, Copy)]
pub(crate) enum Mark {
    /// A filled square (bars, points).
    Square,
    /// A line of this width, dashed or solid.
    Line(f64, bool),
}

pub(crate) const DASH: &str = "7 4";

pub(crate) fn polyline(o: &mut String, pts: &[(f64, f64)], color: &str, label: &str, width: f64, dashed: bool) {
    if pts.is_empty() {
        return;
    }
    let dash = if dashed {
        format!(r#" stroke-dasharray="{DASH}""#)
    } else {
        String::new()
    };
    if pts.len() == 1 {
        // a lone point: a short horizontal stroke, so it is visible
        let (x, y) = pts[0];
        let _ = write!(
            o,
            r#"<line class="datum" x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{color}" stroke-width="{width}"{dash}><title>{}</title></line>"#,
            x - 5.0,
            x + 5.0,
            esc(label)
        );
        return;
    }
    let s: Vec<String> = pts.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
    let _ = write!(
        o,
        r#"<polyline class="datum" fill="none" stroke="{color}" stroke-width="{width}"{dash} points="{}"><title>{}</title></polyline>"#,
        s.join(" "),
        esc(label)
    );
}

pub(crate) fn legend(o: &mut String, items: &[(&str, &str, Mark)]) {
    let mut x = ML + 10.0;
    for (color, label, mark) in items {
        let text_x = match mark {
            Mark::Square => {
                let _ = write!(o, r#"<rect x="{x:.1}" y="6" width="10" height="10" fill="{color}"/>"#);
                x + 14.0
            }
            Mark::Line(width, dashed) => {
                let dash = if *dashed {
                    format!(r#" stroke-dasharray="{DASH}""#)
                } else {
                    String::new()
                };
                let _ = write!(
                    o,
                    r#"<line class="legend-line" x1="{x:.1}" y1="11" x2="{:.1}" y2="11" stroke="{color}" stroke-width="{width}"{dash}/>"#,
                    x + 24.0
                );
                x + 28.0
            }
        };
        let _ = write!(o, r#"<text x="{text_x:.1}" y="15" class="tick">{}</text>"#, esc(label));
        x = text_x + label.chars().count() as f64 * TICK_CHAR_W + 22.0;
    }
}
