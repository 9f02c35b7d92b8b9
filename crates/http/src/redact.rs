//! `url.full` as the HTTP conventions want it: credentials in the URL shown as
//! `REDACTED:REDACTED` and the values of secret query parameters as `REDACTED`. The same text
//! is used in error messages, so a secret in a URL is never written anywhere.
//!
//! ```
//! use servicetask_http::redacted_url;
//! let url = reqwest::Url::parse("https://u:p@h.example/a?token=abc&page=2").unwrap();
//! assert_eq!(redacted_url(&url, &["token".to_string()]), "https://REDACTED:REDACTED@h.example/a?token=REDACTED&page=2");
//! ```

use reqwest::Url;

const REDACTED: &str = "REDACTED";

/// `url` with its credentials and the values of the `secret` query parameters (compared without
/// case) replaced by `REDACTED`; the fragment is dropped (it is never sent).
pub fn redacted_url(url: &Url, secret: &[String]) -> String {
    let mut u = url.clone();
    u.set_fragment(None);
    if !u.username().is_empty() || u.password().is_some() {
        // both setters fail only for URLs that cannot have credentials, which have none
        let _ = u.set_username(REDACTED);
        let _ = u.set_password(Some(REDACTED));
    }
    if let Some(query) = url.query() {
        let mut out = String::with_capacity(query.len());
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            match pair.split_once('=') {
                Some((k, _)) if is_secret(k, secret) => {
                    out.push_str(k);
                    out.push('=');
                    out.push_str(REDACTED);
                }
                _ => out.push_str(pair),
            }
        }
        u.set_query(Some(&out));
    }
    u.to_string()
}

fn is_secret(key: &str, secret: &[String]) -> bool {
    // keys are compared as written and percent-decoded (`api%5Fkey` is `api_key`)
    let decoded: String = percent_decode(key);
    secret
        .iter()
        .any(|s| s.eq_ignore_ascii_case(key) || s.eq_ignore_ascii_case(&decoded))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::DEFAULT_REDACTED_QUERY;

    fn defaults() -> Vec<String> {
        DEFAULT_REDACTED_QUERY.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_conventions_examples() {
        let u = Url::parse("https://www.example.com/path?color=blue&sig=s3cr3t#frag").unwrap();
        assert_eq!(
            redacted_url(&u, &defaults()),
            "https://www.example.com/path?color=blue&sig=REDACTED"
        );
        let u = Url::parse("https://user:pass@www.example.com/").unwrap();
        assert_eq!(
            redacted_url(&u, &defaults()),
            "https://REDACTED:REDACTED@www.example.com/"
        );
    }

    #[test]
    fn keys_compare_without_case_and_decoded_and_plain_values_stay() {
        let u = Url::parse("http://h/x?API%5FKEY=1&Token=2&tokens=3&empty&=v").unwrap();
        let shown = redacted_url(&u, &defaults());
        assert_eq!(shown, "http://h/x?API%5FKEY=REDACTED&Token=REDACTED&tokens=3&empty&=v");
        assert!(!shown.contains("=1") && !shown.contains("=2"));
    }

    #[test]
    fn a_username_alone_is_redacted_too() {
        let u = Url::parse("ftp://anon@h/").unwrap();
        assert_eq!(redacted_url(&u, &[]), "ftp://REDACTED:REDACTED@h/");
    }
}
