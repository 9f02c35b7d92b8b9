//! Which dependency a URL is: the configured name of its `host:port` or `host`, else the host
//! itself (with the port when it is not the scheme's default).
//!
//! ```
//! # use std::collections::BTreeMap;
//! use servicetask_http::dependency_name;
//! let url = reqwest::Url::parse("https://api.stripe.com/v1/charges").unwrap();
//! let hosts = BTreeMap::from([("api.stripe.com".to_string(), "payments".to_string())]);
//! assert_eq!(dependency_name(&url, &hosts), "payments");
//! let other = reqwest::Url::parse("http://127.0.0.1:8080/x").unwrap();
//! assert_eq!(dependency_name(&other, &hosts), "127.0.0.1:8080");
//! ```

use std::borrow::Cow;
use std::collections::BTreeMap;

use reqwest::Url;

/// The dependency name of `url` under the host mapping `hosts`.
pub fn dependency_name<'a>(url: &Url, hosts: &'a BTreeMap<String, String>) -> Cow<'a, str> {
    let host = url.host_str().unwrap_or("");
    let explicit_port = url.port();
    if !hosts.is_empty() {
        let port = url.port_or_known_default();
        if let Some(p) = port {
            if let Some(n) = hosts.get(&format!("{host}:{p}")) {
                return Cow::Borrowed(n);
            }
        }
        if let Some(n) = hosts.get(host) {
            return Cow::Borrowed(n);
        }
    }
    match explicit_port {
        Some(p) => Cow::Owned(format!("{host}:{p}")),
        None => Cow::Owned(host.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn host_and_port_wins_over_host() {
        let hosts = BTreeMap::from([
            ("localhost".to_string(), "any-local".to_string()),
            ("localhost:9000".to_string(), "search".to_string()),
        ]);
        assert_eq!(dependency_name(&url("http://localhost:9000/q"), &hosts), "search");
        assert_eq!(dependency_name(&url("http://localhost:9001/q"), &hosts), "any-local");
        // the scheme's default port matches an entry that spells it out
        let hosts = BTreeMap::from([("example.com:443".to_string(), "ex".to_string())]);
        assert_eq!(dependency_name(&url("https://example.com/"), &hosts), "ex");
    }

    #[test]
    fn unlisted_hosts_are_named_after_themselves() {
        let none = BTreeMap::new();
        assert_eq!(dependency_name(&url("https://example.com/a"), &none), "example.com");
        assert_eq!(dependency_name(&url("https://example.com:443/a"), &none), "example.com");
        assert_eq!(dependency_name(&url("http://[::1]:81/"), &none), "[::1]:81");
    }
}
