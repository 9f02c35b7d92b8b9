//! [`HttpClient`]: one `reqwest::Client` (its connection pool) and the [`HttpSettings`], shared
//! by every execution; [`HttpExt::http`] hands it out from the task context as `cx.http()`.

use std::sync::{Arc, OnceLock};

use reqwest::Method;
use servicetask_core::{TaskContext, TaskError};

use crate::request::HttpRequest;
use crate::settings::HttpSettings;

struct Shared {
    client: reqwest::Client,
    settings: HttpSettings,
}

/// The instrumented HTTP client. Cheap to clone (one `Arc`); build one per process.
#[derive(Clone)]
pub struct HttpClient {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("hosts", &self.shared.settings.hosts)
            .finish_non_exhaustive()
    }
}

static GLOBAL: OnceLock<HttpClient> = OnceLock::new();

impl HttpClient {
    /// A client with `settings` (checked first: a bad value is an error naming its key). https
    /// is verified against the system's roots and `ca_file`'s certificates.
    pub fn new(settings: HttpSettings) -> Result<Self, TaskError> {
        settings.check().map_err(|p| TaskError::validation(p.join("; ")))?;
        let builder = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout);
        #[cfg(feature = "rustls")]
        let builder = match &settings.ca_file {
            Some(ca) => builder.tls_certs_merge(
                crate::tls::read_ca_file(ca).map_err(|e| TaskError::validation(format!("http.ca_file: {e}")))?,
            ),
            None => builder,
        };
        let client = builder
            .build()
            .map_err(|e| TaskError::internal(format!("the HTTP client could not be built: {e}")))?;
        Ok(Self::from_reqwest(client, settings))
    }

    /// A client around a `reqwest::Client` built by the caller (its own TLS roots, proxy,
    /// pool...). `settings`' time limits are then the caller's to set on that client.
    pub fn from_reqwest(client: reqwest::Client, settings: HttpSettings) -> Self {
        HttpClient {
            shared: Arc::new(Shared { client, settings }),
        }
    }

    /// Makes this the client `cx.http()` hands out; `Err` gives it back when one was already
    /// installed (or `cx.http()` already made the default one).
    pub fn install(self) -> Result<(), HttpClient> {
        GLOBAL.set(self)
    }

    /// The installed client, or one with the default settings.
    pub fn global() -> &'static HttpClient {
        GLOBAL.get_or_init(|| {
            HttpClient::new(HttpSettings::default())
                .unwrap_or_else(|_| HttpClient::from_reqwest(reqwest::Client::new(), HttpSettings::default()))
        })
    }

    /// The settings in force.
    pub fn settings(&self) -> &HttpSettings {
        &self.shared.settings
    }

    /// The underlying `reqwest::Client`.
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.shared.client
    }

    /// This client as seen by the execution `cx`: its requests are `cx`'s dependency calls.
    pub fn on<'a>(&'a self, cx: &'a TaskContext) -> Http<'a> {
        Http { client: self, cx }
    }
}

/// The HTTP client bound to one execution: `cx.http().get(url).send().await`.
#[derive(Debug, Clone, Copy)]
pub struct Http<'a> {
    pub(crate) client: &'a HttpClient,
    pub(crate) cx: &'a TaskContext,
}

impl<'a> Http<'a> {
    /// A request with any method.
    pub fn request(self, method: Method, url: &str) -> HttpRequest<'a> {
        HttpRequest::new(self, method, url)
    }

    /// A `GET` request.
    pub fn get(self, url: &str) -> HttpRequest<'a> {
        self.request(Method::GET, url)
    }

    /// A `POST` request.
    pub fn post(self, url: &str) -> HttpRequest<'a> {
        self.request(Method::POST, url)
    }

    /// A `PUT` request.
    pub fn put(self, url: &str) -> HttpRequest<'a> {
        self.request(Method::PUT, url)
    }

    /// A `DELETE` request.
    pub fn delete(self, url: &str) -> HttpRequest<'a> {
        self.request(Method::DELETE, url)
    }

    pub(crate) fn reqwest(&self) -> &'a reqwest::Client {
        &self.client.shared.client
    }

    pub(crate) fn settings(&self) -> &'a HttpSettings {
        &self.client.shared.settings
    }
}

/// `cx.http()`: the installed [`HttpClient`] (see [`HttpClient::install`]) bound to `cx`.
pub trait HttpExt {
    /// The HTTP client for this execution.
    fn http(&self) -> Http<'_>;
}

impl HttpExt for TaskContext {
    fn http(&self) -> Http<'_> {
        HttpClient::global().on(self)
    }
}
