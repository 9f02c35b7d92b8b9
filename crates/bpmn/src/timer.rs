//! ISO-8601 durations (`PT5S`, `P1DT2H`), cycles (`R3/PT10S`) and dates for timer events.

use std::time::Duration;

/// A timer text that is not a valid ISO-8601 duration, cycle or date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid ISO-8601 {what} '{text}'")]
pub struct TimerError {
    /// "duration", "cycle" or "date".
    pub what: &'static str,
    /// The text.
    pub text: String,
}

/// Parses an ISO-8601 duration such as `PT5S`, `PT0.03S`, `P1DT2H30M` or `P2W`.
/// Surrounding quotes (SpiffWorkflow writes `"PT5S"`) are accepted.
pub fn parse_duration(text: &str) -> Result<Duration, TimerError> {
    let err = || TimerError {
        what: "duration",
        text: text.to_string(),
    };
    let t = text.trim().trim_matches(|c| c == '"' || c == '\'').trim();
    let rest = t.strip_prefix('P').or_else(|| t.strip_prefix('p')).ok_or_else(err)?;
    if rest.is_empty() {
        return Err(err());
    }
    let mut secs = 0f64;
    let mut in_time = false;
    let mut num = String::new();
    let mut any = false;
    for c in rest.chars() {
        match c {
            'T' | 't' if !in_time && num.is_empty() => in_time = true,
            '0'..='9' | '.' | ',' => num.push(if c == ',' { '.' } else { c }),
            unit => {
                let v: f64 = num.parse().map_err(|_| err())?;
                num.clear();
                any = true;
                let mult = match (in_time, unit.to_ascii_uppercase()) {
                    (false, 'Y') => 365.0 * 86400.0,
                    (false, 'M') => 30.0 * 86400.0,
                    (false, 'W') => 7.0 * 86400.0,
                    (false, 'D') => 86400.0,
                    (true, 'H') => 3600.0,
                    (true, 'M') => 60.0,
                    (true, 'S') => 1.0,
                    _ => return Err(err()),
                };
                secs += v * mult;
            }
        }
    }
    if !num.is_empty() || !any || !secs.is_finite() || secs > 1.0e12 {
        return Err(err());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A timer cycle: how many repetitions (`None`: unbounded) and the interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cycle {
    /// Number of repetitions; `None` for `R/...`.
    pub repetitions: Option<u32>,
    /// Interval between firings.
    pub interval: Duration,
}

/// Parses `R3/PT10S` or `R/PT1M`; a bare duration is one repetition.
pub fn parse_cycle(text: &str) -> Result<Cycle, TimerError> {
    let t = text.trim().trim_matches(|c| c == '"' || c == '\'').trim();
    let err = || TimerError {
        what: "cycle",
        text: text.to_string(),
    };
    match t.strip_prefix('R') {
        Some(rest) => {
            let (n, dur) = rest.split_once('/').ok_or_else(err)?;
            let repetitions = if n.is_empty() {
                None
            } else {
                Some(n.parse().map_err(|_| err())?)
            };
            // R3/<start>/PT10S: the interval is the last part
            let dur = dur.rsplit('/').next().unwrap_or(dur);
            Ok(Cycle {
                repetitions,
                interval: parse_duration(dur).map_err(|_| err())?,
            })
        }
        None => Ok(Cycle {
            repetitions: Some(1),
            interval: parse_duration(t).map_err(|_| err())?,
        }),
    }
}

/// Parses an RFC 3339 / ISO-8601 UTC date-time (`2026-11-27T10:00:00Z`, offsets allowed) into
/// seconds since the Unix epoch.
pub fn parse_date(text: &str) -> Result<i64, TimerError> {
    let t = text.trim().trim_matches(|c| c == '"' || c == '\'').trim();
    let err = || TimerError {
        what: "date",
        text: text.to_string(),
    };
    let (date, time) = t.split_once(['T', 't', ' ']).ok_or_else(err)?;
    let mut dp = date.split('-');
    let y: i64 = dp.next().and_then(|s| s.parse().ok()).ok_or_else(err)?;
    let mo: i64 = dp.next().and_then(|s| s.parse().ok()).ok_or_else(err)?;
    let d: i64 = dp.next().and_then(|s| s.parse().ok()).ok_or_else(err)?;
    // RFC 3339's four-digit years: the day arithmetic below cannot overflow within them
    if !(0..=9999).contains(&y) || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return Err(err());
    }
    let (clock, offset_secs) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else if let Some(i) = time.rfind(['+', '-']) {
        let (c, off) = time.split_at(i);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let mut op = off[1..].split(':');
        let oh: i64 = op.next().and_then(|s| s.parse().ok()).ok_or_else(err)?;
        let om: i64 = op.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        if !(0..=23).contains(&oh) || !(0..=59).contains(&om) {
            return Err(err());
        }
        (c, sign * (oh * 3600 + om * 60))
    } else {
        (time, 0)
    };
    let mut cp = clock.split(':');
    let h: i64 = cp.next().and_then(|s| s.parse().ok()).ok_or_else(err)?;
    let mi: i64 = cp.next().and_then(|s| s.parse().ok()).ok_or_else(err)?;
    let s: f64 = cp
        .next()
        .map(|s| s.parse().map_err(|_| err()))
        .transpose()?
        .unwrap_or(0.0);
    if !(0..=23).contains(&h) || !(0..=59).contains(&mi) || !(0.0..61.0).contains(&s) {
        return Err(err());
    }
    // days from civil (Howard Hinnant's algorithm)
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = if yy >= 0 { yy } else { yy - 399 } / 400;
    let yoe = yy - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Ok(days * 86400 + h * 3600 + mi * 60 + s as i64 - offset_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("PT5S").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("\"PT0.03S\"").unwrap(), Duration::from_millis(30));
        assert_eq!(
            parse_duration("P1DT2H30M").unwrap(),
            Duration::from_secs(86400 + 2 * 3600 + 30 * 60)
        );
        assert!(parse_duration("5 seconds").is_err());
        assert!(parse_duration("PT").is_err());
        assert!(parse_duration("P").is_err());
    }

    #[test]
    fn cycles() {
        assert_eq!(
            parse_cycle("R3/PT10S").unwrap(),
            Cycle {
                repetitions: Some(3),
                interval: Duration::from_secs(10)
            }
        );
        assert_eq!(parse_cycle("R/PT1M").unwrap().repetitions, None);
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-02T00:00:00Z").unwrap(), 86400);
        assert_eq!(parse_date("2000-03-01T00:00:00+01:00").unwrap(), 951868800 - 3600);
        assert!(parse_date("yesterday").is_err());
    }
}
