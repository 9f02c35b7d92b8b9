//! The connector protocol SpiffArena calls service tasks with, served over the registered
//! tasks: `servicetask serve` mounts it beside the API, `servicetask serve --connector` serves
//! only it (no store, no worker).
//!
//! SpiffArena's backend lists a connector proxy's commands with `GET /v1/commands` and calls
//! one with `POST /v1/do/<command id>`, a JSON object of the evaluated parameters plus
//! `spiff__task_data` and ids; it stores the answer's `command_response` in the task's result
//! variable and throws an answer's `error.error_code` to the BPMN error boundary that catches
//! it ([`wire`] has the bodies). Here every registered task is the command
//! `servicetask/<name>`, its parameters read from its input's JSON Schema ([`commands`]).
//!
//! Stateless: a call is one task execution and nothing outlives it, so any number of servers
//! answer one caller, and a caller may send any call to any of them. The W3C `traceparent`
//! header continues the caller's trace (the task span is its child).

pub mod commands;
mod routes;
pub mod wire;

use std::net::SocketAddr;
use std::sync::Arc;

pub use commands::{CommandCall, CommandFuture, CommandOutcome, CommandSpec, Commands, COMMAND_PREFIX};
pub use routes::SPIFF_API_KEY_HEADER;

use crate::{MetricsText, ServerError};

/// How the connector answers.
#[derive(Debug, Clone)]
pub struct ConnectorConfig {
    /// When set, every route but `/liveness` needs it (`Authorization: Bearer <token>` or
    /// SpiffArena's `Spiff-Connector-Proxy-Api-Key` header, which it sends on each).
    pub api_token: Option<String>,
    /// Largest request body, in bytes.
    pub body_limit: usize,
    /// Calls run at once; one more is answered `503 connector_busy` without running.
    pub max_in_flight: usize,
}

impl Default for ConnectorConfig {
    fn default() -> Self {
        ConnectorConfig {
            api_token: None,
            body_limit: 4 * 1024 * 1024,
            max_in_flight: 64,
        }
    }
}

/// The connector over a set of commands: cheap to clone, mounted with [`Connector::router`].
#[derive(Clone)]
pub struct Connector {
    state: Arc<routes::RouteState>,
    body_limit: usize,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("commands", &self.state.list)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// Serves `commands` (described once, here).
    pub fn new(commands: Arc<dyn Commands>, config: ConnectorConfig) -> Self {
        let list = commands::command_list(&commands.describe());
        Connector {
            state: Arc::new(routes::RouteState {
                commands,
                list,
                token: config.api_token.filter(|t| !t.is_empty()),
                permits: Arc::new(tokio::sync::Semaphore::new(config.max_in_flight.max(1))),
            }),
            body_limit: config.body_limit,
        }
    }

    /// The connector's routes, with their own token check (SpiffArena's header is accepted).
    pub fn router(&self) -> axum::Router {
        routes::router(self.state.clone(), self.body_limit)
    }
}

/// `servicetask serve --connector`: only the connector (and `/metrics` when given), until
/// SIGTERM or Ctrl-C; in-flight calls finish first. Prints `listening on http://ADDR` once it
/// accepts calls.
pub async fn serve(bind: SocketAddr, connector: Connector, metrics: Option<MetricsText>) -> Result<(), ServerError> {
    serve_until(bind, connector, metrics, crate::shutdown_signal()).await
}

/// [`serve`], stopping when `shutdown` completes.
pub async fn serve_until(
    bind: SocketAddr,
    connector: Connector,
    metrics: Option<MetricsText>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    if !bind.ip().is_loopback() && connector.state.token.is_none() {
        eprintln!(
            "\n!!! WARNING: servicetask serve --connector listens on {bind} with NO API TOKEN: anyone who can reach it can run every registered task. Set --api-token (or SERVICETASK_API_TOKEN), or bind 127.0.0.1. !!!\n"
        );
    }
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|source| ServerError::Bind { bind, source })?;
    let addr = listener.local_addr().map_err(ServerError::Serve)?;
    let mut app = connector.router();
    if let Some(text) = metrics {
        app = app.merge(crate::metrics_route(text));
    }
    println!("listening on http://{addr}");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(ServerError::Serve)
}
