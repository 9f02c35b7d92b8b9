//! servicetask-server: `servicetask serve`, the HTTP/JSON API of the durable BPMN service.
//!
//! [`serve`] opens the store (a SQLite file by default), starts this node's
//! [`servicetask_worker::Worker`] and serves the API until SIGTERM or Ctrl-C, then drains:
//! no new requests or jobs are taken, in-flight jobs finish or are released within the grace
//! period. The API ([`api`]) is described by the OpenAPI document it serves at
//! `/openapi.json`; every error is RFC 9457 `application/problem+json` naming the field at
//! fault ([`problem`]). Safe by default: binds 127.0.0.1, bodies are size-limited, a configured
//! token guards every mutating call, and binding another address without one prints a loud
//! warning.
//!
//! This crate knows requests and responses: no SQL (that is `servicetask-store`) and no BPMN
//! semantics (that is the engine, driven by `servicetask-worker`).

pub mod api;
mod auth;
pub mod connector;
pub mod console;
mod database;
pub mod json;
pub mod problem;

pub use database::{open_store, redact_database_url};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use servicetask_engine::TaskHandler;
use servicetask_worker::{Host, HostConfig, Metrics, Worker, WorkerConfig};

/// How `servicetask serve` runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen (default 127.0.0.1:8080; port 0 picks a free one).
    pub bind: SocketAddr,
    /// The store: a SQLite file path (default `servicetask.db`) or a `postgres://` URL.
    pub database: String,
    /// When set, every mutating call needs `Authorization: Bearer <token>`.
    pub api_token: Option<String>,
    /// Largest request body, in bytes (default 4 MiB).
    pub body_limit: usize,
    /// The job loop.
    pub worker: WorkerConfig,
    /// Variable names never shown in responses (the runner's sensitive input fields).
    pub redact: Vec<String>,
    /// The key every node shares to store those variables encrypted while an instance lives;
    /// without one they are not stored ([`servicetask_worker::at_rest`]).
    pub state_key: Option<servicetask_worker::StateKey>,
    /// When set, `GET /metrics` answers with its text (Prometheus text or OpenMetrics format).
    pub metrics: Option<MetricsText>,
    /// When set, the connector protocol SpiffArena calls service tasks with ([`connector`]).
    pub connector: Option<connector::Connector>,
    /// The web console at `/console/`.
    pub console: console::ConsoleConfig,
}

/// What `GET /metrics` answers: a function rendering the current metrics for the scrape's
/// `Accept` header (`servicetask::telemetry::prometheus::Prometheus::scrape`: OpenMetrics with
/// exemplars when asked for, else the Prometheus text format), kept behind a function so this
/// crate needs no telemetry setup of its own.
#[derive(Clone)]
pub struct MetricsText(Arc<RenderMetrics>);

/// A `/metrics` render function: the `Accept` header in, the `Content-Type` and body out.
type RenderMetrics = dyn Fn(&str) -> (&'static str, String) + Send + Sync;

impl MetricsText {
    /// The `Content-Type` of the Prometheus text format.
    pub const PROMETHEUS_TEXT: &'static str = "text/plain; version=0.0.4; charset=utf-8";

    /// Answers `/metrics` with `render()`, always in the Prometheus text format.
    pub fn new(render: impl Fn() -> String + Send + Sync + 'static) -> Self {
        MetricsText(Arc::new(move |_| (Self::PROMETHEUS_TEXT, render())))
    }

    /// Answers `/metrics` with `render(accept)`: the `Content-Type` and the body for the
    /// request's `Accept` header (empty when it sent none).
    pub fn negotiated(render: impl Fn(&str) -> (&'static str, String) + Send + Sync + 'static) -> Self {
        MetricsText(Arc::new(render))
    }

    /// The Prometheus text format (what the console reads breaker states from).
    pub fn prometheus_text(&self) -> String {
        (self.0)("text/plain").1
    }

    /// The `Content-Type` and body answering a scrape that accepts `accept`.
    pub fn render(&self, accept: &str) -> (&'static str, String) {
        (self.0)(accept)
    }
}

impl std::fmt::Debug for MetricsText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsText")
    }
}

/// `GET /metrics`, rendering on each scrape in the format its `Accept` header asks for.
pub(crate) fn metrics_route(text: MetricsText) -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move |headers: axum::http::HeaderMap| {
            let text = text.clone();
            async move {
                let accept = headers
                    .get(axum::http::header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                let (content_type, body) = text.render(accept);
                ([(axum::http::header::CONTENT_TYPE, content_type)], body)
            }
        }),
    )
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database: "servicetask.db".into(),
            api_token: None,
            body_limit: 4 * 1024 * 1024,
            worker: WorkerConfig::default(),
            redact: Vec::new(),
            state_key: None,
            metrics: None,
            connector: None,
            console: console::ConsoleConfig::default(),
        }
    }
}

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The store could not be opened.
    #[error("opening the store {database}: {source}")]
    Store {
        /// The database given.
        database: String,
        /// Why.
        source: servicetask_store::StoreError,
    },
    /// The address could not be bound.
    #[error("listening on {bind}: {source}")]
    Bind {
        /// The address.
        bind: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("serving: {0}")]
    Serve(std::io::Error),
}

/// Serves until SIGTERM or Ctrl-C, running jobs through `handler`; prints the address it
/// listens on (`listening on http://ADDR`) to stdout once it accepts requests.
pub async fn serve(config: ServerConfig, handler: Arc<dyn TaskHandler>) -> Result<(), ServerError> {
    serve_until(config, handler, shutdown_signal()).await
}

/// [`serve`], stopping when `shutdown` completes.
pub async fn serve_until(
    config: ServerConfig,
    handler: Arc<dyn TaskHandler>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let store = open_store(&config.database, config.worker.max_in_flight + 8).await?;
    let meter = opentelemetry::global::meter("servicetask-server");
    let metrics = Arc::new(Metrics::with_meter(&meter));
    let host = Arc::new(Host::new(
        store,
        metrics,
        HostConfig {
            redact: config.redact.clone(),
            state_key: config.state_key.clone(),
        },
    ));
    eprintln!("servicetask serve: {}", host.at_rest_mode());
    if !config.bind.ip().is_loopback() && config.api_token.is_none() {
        eprintln!(
            "\n!!! WARNING: servicetask serve listens on {} with NO API TOKEN: anyone who can reach it can deploy, start, complete and cancel. Set --api-token (or SERVICETASK_API_TOKEN), or bind 127.0.0.1. !!!\n",
            config.bind
        );
    }
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|source| ServerError::Bind {
            bind: config.bind,
            source,
        })?;
    let addr = listener.local_addr().map_err(ServerError::Serve)?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(Worker::new(host.clone(), handler, config.worker.clone()).run(stopped));
    let token = Arc::new(config.api_token.clone());
    let mut app = api::router(host.clone(), config.body_limit);
    app = app.merge(console::router(host, config.console.clone(), config.metrics.clone()));
    if let Some(text) = config.metrics.clone() {
        app = app.merge(metrics_route(text));
    }
    let mut app = app.layer(axum::middleware::from_fn_with_state(token, auth::require_token));
    if let Some(connector) = &config.connector {
        // after the API's token layer: the connector checks the token itself (SpiffArena's header too)
        app = app.merge(connector.router());
    }
    println!("listening on http://{addr}");
    let (draining, mut drain) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = draining.send(true);
        let _ = stop.send(true);
    });
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = drain.wait_for(|d| *d).await;
        })
        .await;
    // the worker drains within its grace period (jobs finish, or their leases are released)
    let grace = config.worker.grace + Duration::from_secs(1);
    let _ = tokio::time::timeout(grace, worker).await;
    served.map_err(ServerError::Serve)
}

/// SIGTERM or Ctrl-C.
pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
