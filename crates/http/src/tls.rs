//! HTTPS: the extra trust roots of `[http] ca_file` (a private CA, added to the platform's
//! roots), and the refusal of a server's certificate recognised among a transport error's
//! causes, so it is reported as what it is (not retried: no retry can make a certificate
//! trusted) with what to do about it.
//!
//! TLS is reqwest's rustls (aws-lc-rs, certificates verified by `rustls-platform-verifier`
//! against the system's roots), the crate's default `rustls` feature. Without that feature an
//! https URL or a `ca_file` is refused with a message saying so.

use std::path::Path;

/// What to do when a server's certificate is refused.
pub(crate) const UNTRUSTED_HINT: &str = "the server's certificate is not trusted: if a private CA signed it, \
     set [http] ca_file to that CA's PEM file; if it has expired or names another host, it is \
     the server's to fix";

/// The certificates of the PEM file `path` (one or more), or why they cannot be used.
#[cfg(feature = "rustls")]
pub(crate) fn read_ca_file(path: &Path) -> Result<Vec<reqwest::Certificate>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("{} is not a PEM certificate file: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(certs)
}

/// Without TLS there are no roots to add to.
#[cfg(not(feature = "rustls"))]
pub(crate) fn read_ca_file(_path: &Path) -> Result<Vec<()>, String> {
    Err(NO_TLS.to_string())
}

/// Why an https URL cannot be called without the `rustls` feature.
#[cfg(not(feature = "rustls"))]
pub(crate) const NO_TLS: &str = "TLS is not built in: servicetask-http was built without its default `rustls` feature";

/// Whether a transport error was the refusal of the server's certificate.
pub(crate) fn is_untrusted_certificate(e: &reqwest::Error) -> bool {
    std::error::Error::source(e).is_some_and(|s| refused_within(s, 0))
}

/// Looks for the refusal in `e` and what it wraps. tokio-rustls hands rustls' error up inside
/// an io::Error (itself wrapped in another by the connector), and an io::Error's `source`
/// skips the error it holds: so each io::Error is opened with `get_ref`. `depth` bounds the walk.
fn refused_within(e: &(dyn std::error::Error + 'static), depth: u8) -> bool {
    if depth > 16 {
        return false;
    }
    if certificate_refused(e) {
        return true;
    }
    let held = e
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
        .map(|i| i as &(dyn std::error::Error + 'static));
    held.is_some_and(|h| refused_within(h, depth + 1)) || e.source().is_some_and(|s| refused_within(s, depth + 1))
}

#[cfg(feature = "rustls")]
fn certificate_refused(e: &(dyn std::error::Error + 'static)) -> bool {
    matches!(
        e.downcast_ref::<rustls::Error>(),
        Some(rustls::Error::InvalidCertificate(_))
    )
}

#[cfg(not(feature = "rustls"))]
fn certificate_refused(_: &(dyn std::error::Error + 'static)) -> bool {
    false
}

#[cfg(all(test, feature = "rustls"))]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_empty_ca_file_says_which_and_why() {
        let e = read_ca_file(Path::new("/nonexistent/ca.pem")).unwrap_err();
        assert!(e.starts_with("cannot read /nonexistent/ca.pem"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ca.pem");
        std::fs::write(&p, "not a certificate\n").unwrap();
        let e = read_ca_file(&p).unwrap_err();
        assert!(e.contains("holds no PEM certificate"), "{e}");
    }
}

#[cfg(all(test, not(feature = "rustls")))]
mod without_tls {
    use servicetask_core::{ErrorClass, TaskContext};

    use crate::HttpExt as _;

    #[tokio::test]
    async fn an_https_url_is_refused_saying_why() {
        let cx = TaskContext::detached("t");
        let e = cx
            .http()
            .get("https://127.0.0.1:9/x?token=s3cr3t")
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.class(), ErrorClass::Validation);
        assert!(e.message().contains("TLS is not built in"), "{e}");
        assert!(!e.message().contains("s3cr3t"), "{e}");
        assert!(e.suggestion().is_some_and(|s| s.contains("rustls")), "{e:?}");
        let e = crate::HttpClient::new(crate::HttpSettings {
            ca_file: Some("ca.pem".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.message().starts_with("http.ca_file: TLS is not built in"), "{e}");
    }
}
