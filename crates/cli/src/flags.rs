//! Flag definitions: a typed mirror of argv ("low" arguments). Help text is generated from here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Run BPMN processes whose service tasks instrument and protect themselves.
///
/// Every service task runs through the servicetask runner: an OpenTelemetry span in the
/// process's trace, duration and outcome metrics, retries, breakers, timeouts and resource
/// tracking as each task is configured. Telemetry goes where the standard OTEL_* variables
/// say (OTEL_EXPORTER_OTLP_ENDPOINT for OTLP/HTTP, OTEL_TRACES_EXPORTER=console for stderr).
#[derive(Debug, Parser)]
#[command(
    name = "servicetask",
    version,
    propagate_version = true,
    arg_required_else_help = true
)]
#[command(
    after_help = "Start here:  servicetask demo\nThen:        servicetask validate FILE.bpmn   and   servicetask run FILE.bpmn --mock TYPE='{\"ok\":true}'\nTests:       servicetask test SCENARIOS.toml"
)]
pub struct Flags {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the bundled example process on generated sample files and print what happened.
    ///
    /// It generates CSV files, processes each one in a multi-instance batch while analysing the
    /// dataset in a parallel branch, gates on data quality (an error boundary catches the BPMN
    /// error), flags outliers at a gateway, and publishes a report (retried once). The summary
    /// shows the span tree with durations and outcomes, the files touched and the retries.
    Demo(DemoArgs),
    /// Run a BPMN process; service tasks resolve to the tasks this binary registers.
    Run(RunArgs),
    /// Run process tests: scenario files of start variables, mocked tasks and expectations.
    ///
    /// Each scenario starts the process with its variables, answers mocked task types as told
    /// (every other task runs for real), and compares the path of completed elements, the
    /// variables, incidents and waiting tasks with what it expects. Exits 1 when any differs.
    Test(TestArgs),
    /// Check BPMN files and print every problem as file:line:column with how to fix it.
    Validate(ValidateArgs),
    /// Complete a waiting user/manual task of a saved instance and continue it.
    Complete(CompleteArgs),
    /// List the instances saved in a state file, with their waiting tasks and incidents.
    Instances(StateArgs),
    /// Run a conformance suite: a directory of BPMN files and an expected.json.
    Conformance(ConformanceArgs),
    /// Print the JSON Schema of the registered tasks' input and output.
    Schema(SchemaArgs),
    /// Report on the execution history: percentiles, trends, anomalies, predictions, files,
    /// retries and recommendations, in the terminal and optionally as a self-contained HTML page.
    Report(ReportArgs),
    /// List the registered tasks and their resolved configuration.
    Tasks,
    /// Run the durable BPMN service: an HTTP/JSON API (OpenAPI at /openapi.json) over a store
    /// of deployments, instances, jobs and timers (a SQLite file by default); service tasks
    /// run as leased jobs through this binary's tasks. SIGTERM drains.
    Serve(ServeArgs),
}

/// `serve` arguments.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: std::net::SocketAddr,
    /// The store: a SQLite file, or a postgres:// URL.
    #[arg(long, env = "SERVICETASK_DATABASE", default_value = "servicetask.db")]
    pub database: String,
    /// Token every mutating call must carry (`Authorization: Bearer TOKEN`).
    #[arg(long, env = "SERVICETASK_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = 4 * 1024 * 1024)]
    pub body_limit: usize,
    /// Jobs run at once on this node.
    #[arg(long, default_value_t = 64)]
    pub max_jobs: usize,
    /// Job lease, in milliseconds (a heartbeat extends it every third of it; at least 3).
    #[arg(long, default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(3..))]
    pub lease_ms: u64,
    /// How often to look for jobs and due timers when idle, in milliseconds (at least 1).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub poll_ms: u64,
    /// How long SIGTERM waits for in-flight jobs before releasing them, in seconds.
    #[arg(long, default_value_t = 10)]
    pub grace_secs: u64,
    /// This node's name in job leases (default: node-PID).
    #[arg(long)]
    pub node_id: Option<String>,
    /// Answer task types no registered task handles like the conformance stub.
    #[arg(long)]
    pub stub_unknown: bool,
    /// Serve only the connector protocol SpiffArena calls service tasks with (GET
    /// /v1/commands, POST /v1/do/servicetask/TASK): no store, no worker. --max-jobs bounds
    /// the calls run at once.
    #[arg(long)]
    pub connector: bool,
    /// Record every task execution in this history database; the console's per-task panels
    /// (percentiles over time, error rate, anomalies, predicted duration) are computed from it.
    #[arg(long, value_name = "FILE.db")]
    pub history: Option<PathBuf>,
    /// A file holding the state key (32 bytes as 64 hex digits or base64), the same on every
    /// node: sensitive variables of live instances are then stored encrypted. Or give the key
    /// itself in SERVICETASK_STATE_KEY. Without either they are not stored at all.
    #[arg(long, env = "SERVICETASK_STATE_KEY_FILE", value_name = "FILE")]
    pub state_key_file: Option<PathBuf>,
}

/// `report` arguments.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The history database (default: $SERVICETASK_HISTORY, else ./servicetask-history.db,
    /// else the demo's history in the temporary folder).
    #[arg(long, value_name = "FILE.db")]
    pub db: Option<PathBuf>,
    /// A history in PostgreSQL, one for every node of a fleet (a postgres:// URL), instead of
    /// a file.
    #[arg(long, value_name = "postgres://...", conflicts_with = "db")]
    pub database: Option<String>,
    /// Only this task.
    #[arg(long)]
    pub task: Option<String>,
    /// Only executions since this time: RFC 3339 (2026-11-27T14:02:00Z) or an age (30m, 2h, 7d).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Also write a self-contained HTML page with charts here.
    #[arg(long, value_name = "FILE.html")]
    pub html: Option<PathBuf>,
}

/// `demo` arguments.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory for the sample files, outputs and history (created; reused if present).
    /// Default: servicetask-demo in the system's temporary folder.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Sample files to generate (the multi-instance batch size).
    #[arg(long, default_value_t = 6)]
    pub files: u32,
    /// Rows per sample file.
    #[arg(long, default_value_t = 400)]
    pub rows: u32,
    /// Seed of the sample generator.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Print every span instead of folding repeated siblings.
    #[arg(long)]
    pub all_spans: bool,
}

/// `run` arguments.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The BPMN file.
    pub file: PathBuf,
    /// The process to start (default: the first executable process).
    #[arg(long)]
    pub process: Option<String>,
    /// A start variable, `name=value`; the value is read as JSON when it parses, else as text.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// A JSON object file of start variables.
    #[arg(long = "vars", value_name = "FILE.json")]
    pub vars_file: Option<PathBuf>,
    /// Answer service tasks bound to no registered task with a stub that echoes
    /// `{"ok": true, "operation": <type>}`, instead of raising an incident.
    #[arg(long)]
    pub stub: bool,
    /// Answer a task type as told instead of running it: `TYPE=JSON` completes with that
    /// output, `TYPE=bpmn-error:CODE[:message]` throws a BPMN error, `TYPE=failure:CLASS`
    /// fails with that error class (an incident). Repeatable.
    #[arg(long = "mock", value_name = "TYPE=SPEC")]
    pub mocks: Vec<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub history: HistoryArgs,
    /// Other BPMN files or directories holding processes for call activities.
    #[arg(long = "library", value_name = "PATH")]
    pub library: Vec<PathBuf>,
    /// Save the instance here (SQLite) when it waits for user tasks or has incidents.
    #[arg(long, value_name = "FILE.db", default_value = "servicetask-state.db")]
    pub state: PathBuf,
    /// Print every span instead of folding repeated siblings.
    #[arg(long)]
    pub all_spans: bool,
    /// The time timers run on: `real` (wall clock), or `virtual`: every timer elapses at once,
    /// in due order (a timer path runs without waiting), before a waiting instance is saved.
    #[arg(long, value_enum, default_value_t = ClockArg::Real)]
    pub clock: ClockArg,
}

/// `--clock` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClockArg {
    /// The wall clock.
    Real,
    /// Time that jumps to the next timer whenever the instance would wait for it.
    Virtual,
}

/// Where execution records go.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The history database (default: $SERVICETASK_HISTORY, else ./servicetask-history.db);
    /// `servicetask report` reads the same default.
    #[arg(long, value_name = "FILE.db")]
    pub history: Option<PathBuf>,
}

/// `test` arguments.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Scenario files (TOML; see `servicetask_cli::scenario` for the format).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Only scenarios whose name contains this text.
    #[arg(long)]
    pub only: Option<String>,
}

/// `validate` arguments.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// BPMN files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// A state file.
#[derive(Debug, Args)]
pub struct StateArgs {
    /// The SQLite state file written by `run`.
    #[arg(long, value_name = "FILE.db", default_value = "servicetask-state.db")]
    pub state: PathBuf,
}

/// `complete` arguments.
#[derive(Debug, Args)]
pub struct CompleteArgs {
    /// The instance id (see `servicetask instances`).
    pub instance: String,
    /// The waiting task: its element id, or its token id.
    pub task: String,
    /// A variable to set, `name=value` (JSON when it parses, else text).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Retry an incident on that element instead of completing a user task.
    #[arg(long)]
    pub retry: bool,
    /// Stub unknown service tasks (as `run --stub`).
    #[arg(long)]
    pub stub: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub history: HistoryArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub state: StateArgs,
}

/// `conformance` arguments.
#[derive(Debug, Args)]
pub struct ConformanceArgs {
    /// Directory holding BPMN files and expected.json.
    pub dir: PathBuf,
}

/// `schema` arguments.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// One task (default: all).
    pub task: Option<String>,
}
