//! `Retry-After` (RFC 9110 §10.2.3): a number of seconds or an HTTP-date, read as the wait it
//! asks for. Parsing dates is left to `httpdate` (the crate hyper uses for the same header).
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use servicetask_http::retry_after;
//! assert_eq!(retry_after("120", SystemTime::now()), Some(Duration::from_secs(120)));
//! let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
//! assert_eq!(retry_after("Sun, 06 Nov 1994 08:49:40 GMT", now), Some(Duration::from_secs(3)));
//! ```

use std::time::{Duration, SystemTime};

/// The wait a `Retry-After` value asks for, measured from `now` for a date (a date in the past
/// asks for none). `None` for a value that is neither form.
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        // delay-seconds; an absurdly long one saturates (the policy's cap bounds it anyway)
        return Some(Duration::from_secs(v.parse::<u64>().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_dates_and_garbage() {
        let now = SystemTime::now();
        assert_eq!(retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
        assert_eq!(retry_after("-1", now), None);
        assert_eq!(retry_after("1.5", now), None);
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("", now), None);
        let past = httpdate::fmt_http_date(now - Duration::from_secs(60));
        assert_eq!(retry_after(&past, now), Some(Duration::ZERO));
        // the other two date forms RFC 9110 requires a recipient to accept
        let t = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(
            retry_after("Sunday, 06-Nov-94 08:49:47 GMT", t),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            retry_after("Sun Nov  6 08:49:47 1994", t),
            Some(Duration::from_secs(10))
        );
    }
}
