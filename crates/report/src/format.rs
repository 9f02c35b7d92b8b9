//! Plain formatting shared by the terminal and HTML renderings: durations, bytes, periods,
//! sparklines, HTML escaping, paths.

use servicetask_analytics::trends::format_time;

/// Unicode sparkline of the values (`▁▂▃▄▅▆▇█`); non-finite values and empty buckets print as a space.
pub fn sparkline(values: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let finite = values.iter().copied().filter(|v| v.is_finite() && *v > 0.0);
    let (lo, hi) = finite.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    values
        .iter()
        .map(|&v| {
            if !v.is_finite() || v <= 0.0 {
                ' '
            } else if hi <= lo {
                BARS[3]
            } else {
                BARS[(((v - lo) / (hi - lo)) * 7.0).round().clamp(0.0, 7.0) as usize]
            }
        })
        .collect()
}

/// Seconds as a short human string (`850µs`, `12.3ms`, `1.20s`).
pub fn fmt_secs(s: f64) -> String {
    if !s.is_finite() {
        "-".into()
    } else if s < 1e-3 {
        format!("{:.0}µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.1}ms", s * 1e3)
    } else {
        format!("{s:.2}s")
    }
}

pub(crate) fn fmt_bytes(b: u64) -> String {
    let b = b as f64;
    if b < 1024.0 {
        format!("{b:.0} B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / 1024.0 / 1024.0)
    } else {
        format!("{:.2} GiB", b / 1024.0 / 1024.0 / 1024.0)
    }
}

/// The covered period: `on 2026-11-27 from 23:06:11 to 23:06:12 UTC` (seconds when it is
/// shorter than an hour), or two dates and times when it spans days.
pub(crate) fn fmt_range(a_ns: i64, b_ns: i64) -> String {
    let day = |t: i64| t.div_euclid(86_400 * 1_000_000_000);
    let clock = |t: i64, secs: bool| {
        let s = format_time(t, false);
        let hm = s.trim_end_matches(" UTC");
        if secs {
            format!("{hm}:{:02}", t.div_euclid(1_000_000_000).rem_euclid(60))
        } else {
            hm.to_string()
        }
    };
    if day(a_ns) == day(b_ns) {
        let date = format_time(a_ns, true);
        let date = date.split(' ').next().unwrap_or_default();
        let secs = b_ns - a_ns < 3_600 * 1_000_000_000;
        format!("on {date} from {} to {} UTC", clock(a_ns, secs), clock(b_ns, secs))
    } else {
        format!("from {} to {}", format_time(a_ns, true), format_time(b_ns, true))
    }
}

/// Escapes text for HTML.
pub(crate) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// The directory all paths share (ending in `/`), when there are at least two paths and it
/// is not just `/`.
pub(crate) fn common_dir(paths: &[&str]) -> Option<String> {
    if paths.len() < 2 {
        return None;
    }
    let mut prefix: &str = paths[0];
    for p in &paths[1..] {
        let n = prefix
            .char_indices()
            .zip(p.chars())
            .take_while(|((_, a), b)| a == b)
            .last()
            .map_or(0, |((i, a), _)| i + a.len_utf8());
        prefix = &prefix[..n];
    }
    let cut = prefix.rfind('/')? + 1;
    (cut > 1).then(|| prefix[..cut].to_string())
}

/// `s` cut from the left to at most `width` characters, `…` marking the cut.
pub(crate) fn shorten_left(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        return s.to_string();
    }
    let keep = width.saturating_sub(1);
    let tail: String = s.chars().skip(n - keep).collect();
    format!("…{tail}")
}
