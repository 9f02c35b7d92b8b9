//! [`HttpSettings`]: the client's configuration (the `[http]` table): which dependency a host
//! is, time limits, the response size limit, the query parameters whose values are secret and
//! an extra CA file trusted for https.
//!
//! ```
//! let s: servicetask_http::HttpSettings =
//!     serde_json::from_str(r#"{"hosts": {"api.stripe.com": "payments"}, "timeout": "5s"}"#).unwrap();
//! assert_eq!(s.hosts["api.stripe.com"], "payments");
//! assert!(s.check().is_ok());
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Query parameters whose values never appear in `url.full` or in an error message: the
/// OpenTelemetry HTTP conventions' list (`AWSAccessKeyId`, `Signature`, `sig`,
/// `X-Goog-Signature`) and the usual names of credentials. Compared without case.
pub const DEFAULT_REDACTED_QUERY: &[&str] = &[
    "AWSAccessKeyId",
    "Signature",
    "sig",
    "X-Goog-Signature",
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
    "access_token",
    "api_key",
    "apikey",
    "key",
    "token",
    "secret",
    "client_secret",
    "password",
    "passwd",
    "auth",
];

/// The HTTP client's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// Dependency name per host: `"api.stripe.com" = "payments"`. A key may carry a port
    /// (`"localhost:8080"`), which wins over the bare host. A host not listed is named after
    /// itself (`host`, or `host:port` for a port other than the scheme's default), so it still
    /// gets its own breaker when `[dependencies]` has defaults.
    pub hosts: BTreeMap<String, String>,
    /// Limit on a whole attempt, headers and body (a timed-out attempt fails with `timeout`).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Limit on opening a connection.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Largest response body read; a larger one fails the call (`internal`, not retried).
    pub max_response_bytes: u64,
    /// Query parameters whose values are shown as `REDACTED`.
    pub redacted_query: Vec<String>,
    /// A PEM file of CA certificates trusted for https besides the system's roots (a private
    /// CA). The configuration file resolves a relative path against its own folder.
    pub ca_file: Option<PathBuf>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            hosts: BTreeMap::new(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_response_bytes: 64 * 1024 * 1024,
            redacted_query: DEFAULT_REDACTED_QUERY.iter().map(|s| s.to_string()).collect(),
            ca_file: None,
        }
    }
}

impl HttpSettings {
    /// Checks the values (and that `ca_file` holds certificates); each problem names its key.
    pub fn check(&self) -> Result<(), Vec<String>> {
        let mut p = Vec::new();
        if self.timeout.is_zero() {
            p.push("http.timeout: 0 is not allowed; use a positive duration like \"30s\"".to_string());
        }
        if self.connect_timeout.is_zero() {
            p.push("http.connect_timeout: 0 is not allowed; use a positive duration like \"10s\"".to_string());
        }
        if self.max_response_bytes == 0 {
            p.push("http.max_response_bytes: 0 is not allowed; use at least 1".to_string());
        }
        for (host, name) in &self.hosts {
            if host.is_empty() || name.is_empty() {
                p.push(format!(
                    "http.hosts.{host:?}: a host and its dependency name must both be non-empty"
                ));
            }
        }
        if let Some(ca) = &self.ca_file {
            if let Err(e) = crate::tls::read_ca_file(ca) {
                p.push(format!("http.ca_file: {e}"));
            }
        }
        if p.is_empty() {
            Ok(())
        } else {
            Err(p)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_limits_are_refused_by_key() {
        let s = HttpSettings {
            timeout: Duration::ZERO,
            max_response_bytes: 0,
            ..HttpSettings::default()
        };
        let p = s.check().unwrap_err();
        assert!(p[0].starts_with("http.timeout:"), "{p:?}");
        assert!(p[1].starts_with("http.max_response_bytes:"), "{p:?}");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let e = serde_json::from_str::<HttpSettings>(r#"{"timout": "1s"}"#).unwrap_err();
        assert!(e.to_string().contains("timout"), "{e}");
    }
}
