//! `servicetask serve`: a thin call into `servicetask-server` with this binary's tasks.

use std::sync::Arc;
use std::time::Duration;

use servicetask::engine::{RunnerHandler, UnknownTasks};
use servicetask::Runner;
use servicetask_server::ServerConfig;
use servicetask_worker::WorkerConfig;

use crate::flags::ServeArgs;
use crate::Tasks;

/// Serves until SIGTERM or Ctrl-C.
pub async fn run(a: &ServeArgs, tasks: &Tasks) -> anyhow::Result<i32> {
    // telemetry where the standard OTEL_* variables say (none when they say nothing),
    // and the same meter scraped at GET /metrics
    let telemetry = servicetask::telemetry::init_with_prometheus()?;
    // the execution history the console's task panels read, when asked for; else, on
    // PostgreSQL, the fleet's history in the same database (`report --database` reads it)
    let history = match &a.history {
        Some(path) => Some(Arc::new(crate::session::open_history(path)?)),
        None if servicetask_history::is_postgres_url(&a.database) => {
            let store = match servicetask_history::PostgresStore::connect(&a.database) {
                Ok(store) => store,
                Err(e) => {
                    // the store's own error names the database without its credentials
                    servicetask_server::open_store(&a.database, 1).await?;
                    anyhow::bail!("opening the execution history in PostgreSQL: {e}");
                }
            };
            let writer = servicetask_history::HistoryWriter::spawn(Arc::new(store), Default::default())?;
            Some(Arc::new(writer))
        }
        None => None,
    };
    let mut builder = Runner::builder().telemetry(telemetry.telemetry());
    if let Some(h) = &history {
        builder = builder.record_sink(h.clone()).anomaly_detection(Default::default());
    }
    let runner = builder.build();
    tasks.register_into(&runner)?;
    let connector = servicetask_server::connector::Connector::new(
        Arc::new(super::connector::RunnerCommands(runner.clone())),
        servicetask_server::connector::ConnectorConfig {
            api_token: a.api_token.clone(),
            body_limit: a.body_limit,
            max_in_flight: a.max_jobs,
        },
    );
    if a.connector {
        let metrics = telemetry
            .prometheus()
            .map(|s| servicetask_server::MetricsText::negotiated(move |accept| scrape_answer(&s, accept)));
        let served = servicetask_server::connector::serve(a.bind, connector, metrics).await;
        telemetry.shutdown(Duration::from_secs(5));
        served?;
        return Ok(super::exit::OK);
    }
    let redact: Vec<String> = runner.sensitive_variables().into_iter().map(str::to_string).collect();
    let state_key = state_key(a)?;
    if state_key.is_none() && !redact.is_empty() && a.database.starts_with("postgres") {
        eprintln!(
            "servicetask serve: WARNING: without a state key each node keeps the sensitive variables ({}) of the instances it started in its own memory only; on a database that several nodes share, a job another node takes raises an incident for them. Give every node the same SERVICETASK_STATE_KEY or --state-key-file.",
            redact.join(", ")
        );
    }
    let unknown = if a.stub_unknown {
        UnknownTasks::Stub
    } else {
        UnknownTasks::Fail
    };
    let handler = Arc::new(RunnerHandler::new(runner).unknown_tasks(unknown));
    let defaults = WorkerConfig::default();
    let config = ServerConfig {
        bind: a.bind,
        database: a.database.clone(),
        api_token: a.api_token.clone().filter(|t| !t.is_empty()),
        body_limit: a.body_limit,
        worker: WorkerConfig {
            node_id: a.node_id.clone().unwrap_or(defaults.node_id),
            max_in_flight: a.max_jobs,
            lease: Duration::from_millis(a.lease_ms),
            poll: Duration::from_millis(a.poll_ms),
            grace: Duration::from_secs(a.grace_secs),
        },
        redact,
        state_key,
        metrics: telemetry
            .prometheus()
            .map(|s| servicetask_server::MetricsText::negotiated(move |accept| scrape_answer(&s, accept))),
        connector: Some(connector),
        console: servicetask_server::console::ConsoleConfig {
            history: a.history.clone(),
            batches: servicetask_server::console::Batches::observed(),
            ..Default::default()
        },
    };
    let served = servicetask_server::serve(config, handler).await;
    if let Some(h) = &history {
        if let Err(e) = h.flush() {
            eprintln!("servicetask serve: writing the history: {e}");
        }
    }
    telemetry.shutdown(Duration::from_secs(5));
    served?;
    Ok(super::exit::OK)
}

/// The state key: from `--state-key-file` (or `SERVICETASK_STATE_KEY_FILE`), else from
/// `SERVICETASK_STATE_KEY`; both is an error (which one would win is not obvious). Errors name
/// the file, never the key.
fn state_key(a: &ServeArgs) -> anyhow::Result<Option<servicetask_worker::StateKey>> {
    let env = std::env::var(STATE_KEY_ENV).ok().filter(|v| !v.trim().is_empty());
    match (&a.state_key_file, env) {
        (Some(_), Some(_)) => {
            anyhow::bail!("both --state-key-file and {STATE_KEY_ENV} are set: give the state key once")
        }
        (Some(path), None) => {
            let key = servicetask_worker::StateKey::from_file(path)?;
            warn_if_others_can_read(path);
            Ok(Some(key))
        }
        (None, Some(text)) => Ok(Some(
            servicetask_worker::StateKey::parse(&text).map_err(|e| anyhow::anyhow!("{STATE_KEY_ENV}: {e}"))?,
        )),
        (None, None) => Ok(None),
    }
}

/// The variable holding the state key itself.
const STATE_KEY_ENV: &str = "SERVICETASK_STATE_KEY";

/// Warns when users other than the owner may read the state key file (on Unix).
fn warn_if_others_can_read(path: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(meta) = std::fs::metadata(path) else { return };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            eprintln!(
                "servicetask serve: WARNING: the state key file {} can be read by other users (mode {mode:o}): chmod 600 it",
                path.display()
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// `/metrics` in the format the scrape's `Accept` header asks for (OpenMetrics with exemplars,
/// or the Prometheus text format).
fn scrape_answer(prometheus: &servicetask::telemetry::prometheus::Prometheus, accept: &str) -> (&'static str, String) {
    let answer = prometheus.scrape(accept);
    (answer.content_type, answer.body)
}
