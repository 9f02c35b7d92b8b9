//! The runner: executes registered tasks through their pipeline and reports outcomes.
//!
//! A [`Runner`] owns the shared parts (telemetry, configuration loader, resilience registry,
//! record sink). By default it reads `servicetask.toml` and `SERVICETASK__*` variables (see
//! [`crate::config`]); [`RunnerBuilder::code_config_only`] opts out. [`Runner::register`]
//! resolves a task's configuration once (defaults < code < `servicetask.toml` < environment),
//! builds its pipeline of layers, and returns a typed
//! [`TaskHandle`]; the handle's `run` is the hot path. Every registered task can also be run by
//! name from JSON variables ([`Runner::run_json`]), which is what the BPMN engine does.
//!
//! ```
//! use servicetask::{task_fn, Runner, TaskConfig, TaskContext, TaskError, TaskOutcome};
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let runner = Runner::builder().build();
//! let add = runner.register(task_fn(TaskConfig::named("add"), |_cx: TaskContext, xs: Vec<i64>| async move {
//!     Ok::<_, TaskError>(xs.iter().sum::<i64>())
//! })).unwrap();
//! let out = add.run(vec![1, 2, 3]).await;
//! assert!(matches!(out, TaskOutcome::Complete(6)));
//! # });
//! ```

mod execute;
mod input_error;
mod registry;
mod standard;

use std::sync::{Arc, RwLock};

use servicetask_core::layer::Layer;
use servicetask_core::record::RecordSink;
use servicetask_core::{DependencyPolicy, ServiceTask, TaskConfig, Telemetry};

use crate::config::{ConfigError, ConfigLoader};

pub use execute::{RunOptions, TaskHandle};
pub use registry::{JsonOutcome, RegisteredTask};
pub use standard::StandardPipeline;

/// Builds the extra layers of a task's pipeline from its resolved configuration.
///
/// The runner puts the returned layers (outer first) between its telemetry and the task. The
/// resilience and tracking crates provide builders; tests may provide their own.
pub trait PipelineFactory: Send + Sync + 'static {
    /// Layers for one task, outer first.
    fn layers(&self, config: &TaskConfig) -> Vec<Arc<dyn Layer>>;
}

/// A factory that adds no layers: telemetry and error classification only.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoLayers;

impl PipelineFactory for NoLayers {
    fn layers(&self, _config: &TaskConfig) -> Vec<Arc<dyn Layer>> {
        Vec::new()
    }
}

/// Where the configuration above the code comes from.
enum ConfigSource {
    /// `servicetask.toml` (or `$SERVICETASK_CONFIG`) and `SERVICETASK__*` variables.
    Environment,
    /// A loader the caller built.
    Given(ConfigLoader),
    /// None: the code's configuration is final.
    CodeOnly,
}

pub(crate) struct Shared {
    pub(crate) telemetry: Arc<Telemetry>,
    #[cfg(feature = "analytics")]
    pub(crate) anomalies: Option<servicetask_analytics::anomaly::DetectorConfig>,
    pub(crate) sink: Option<Arc<dyn RecordSink>>,
    pub(crate) dependencies: Option<Arc<dyn DependencyPolicy>>,
    pub(crate) inspect_paths: Option<execute::PathInspector>,
}

/// Runs service tasks with telemetry, error classification and the configured layers.
#[derive(Clone)]
pub struct Runner {
    shared: Arc<Shared>,
    config: Arc<ConfigLoader>,
    /// Problems reading the file or the variables: every registration reports them.
    config_error: Option<ConfigError>,
    pipeline: Arc<dyn PipelineFactory>,
    /// Registered tasks by name (looked up on every engine call: a fast hasher).
    tasks: Arc<RwLock<foldhash::HashMap<String, Arc<dyn RegisteredTask>>>>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("tasks", &self.task_names())
            .finish_non_exhaustive()
    }
}

/// Builder for [`Runner`].
#[must_use]
pub struct RunnerBuilder {
    telemetry: Option<Arc<Telemetry>>,
    config: ConfigSource,
    pipeline: Option<Arc<dyn PipelineFactory>>,
    sink: Option<Arc<dyn RecordSink>>,
    dependencies: Option<Arc<dyn DependencyPolicy>>,
    inspect_paths: Option<execute::PathInspector>,
    #[cfg(feature = "resilience")]
    resilience: Option<Arc<servicetask_resilience::Resilience>>,
    #[cfg(feature = "analytics")]
    anomalies: Option<servicetask_analytics::anomaly::DetectorConfig>,
}

impl RunnerBuilder {
    /// Judges every execution's duration, CPU and memory against the task's recent history
    /// (relative to what its input size predicts). An anomalous execution gets a
    /// `servicetask.anomaly` span event, increments `servicetask.anomalies`, and its record is
    /// flagged. Costs one short per-task lock and a detector update per execution.
    #[cfg(feature = "analytics")]
    pub fn anomaly_detection(mut self, config: servicetask_analytics::anomaly::DetectorConfig) -> Self {
        self.anomalies = Some(config);
        self
    }

    /// Telemetry to record with (default: the global providers).
    pub fn telemetry(mut self, telemetry: Arc<Telemetry>) -> Self {
        self.telemetry = Some(telemetry);
        self
    }

    /// Configuration layers above the code, instead of the default (`servicetask.toml` or
    /// `$SERVICETASK_CONFIG`, then `SERVICETASK__*` variables, read by `build`).
    pub fn config(mut self, config: ConfigLoader) -> Self {
        self.config = ConfigSource::Given(config);
        self
    }

    /// Reads no file and no variables: the code's configuration is final (tests, embedding).
    pub fn code_config_only(mut self) -> Self {
        self.config = ConfigSource::CodeOnly;
        self
    }

    /// Pipeline layers per task (default: [`StandardPipeline`]: resilience and tracking as
    /// each task's configuration asks).
    pub fn pipeline(mut self, pipeline: Arc<dyn PipelineFactory>) -> Self {
        self.pipeline = Some(pipeline);
        self
    }

    /// The shared breakers, bulkheads, budgets and dependency guards (default: built from the
    /// runner's telemetry with no dependency configuration).
    #[cfg(feature = "resilience")]
    pub fn resilience(mut self, resilience: Arc<servicetask_resilience::Resilience>) -> Self {
        self.resilience = Some(resilience);
        self
    }

    /// Where execution records go (default: nowhere).
    pub fn record_sink(mut self, sink: Arc<dyn RecordSink>) -> Self {
        self.sink = Some(sink);
        self
    }

    /// Breakers and bulkheads for `cx.dependency(..)` calls.
    pub fn dependency_policy(mut self, policy: Arc<dyn DependencyPolicy>) -> Self {
        self.dependencies = Some(policy);
        self
    }

    /// Inspects an input's tracked paths before the task body runs (see the tracking crate).
    pub fn path_inspector(mut self, inspector: execute::PathInspector) -> Self {
        self.inspect_paths = Some(inspector);
        self
    }

    /// Builds the runner. Problems in the configuration file or variables do not stop the
    /// build: [`Runner::register`] and [`Runner::check_config`] report them all.
    pub fn build(self) -> Runner {
        let telemetry = self.telemetry.unwrap_or_else(Telemetry::global);
        let (config, config_error) = match self.config {
            ConfigSource::Environment => match ConfigLoader::from_env() {
                Ok(c) => (c, None),
                Err(e) => (ConfigLoader::default(), Some(e)),
            },
            ConfigSource::Given(c) => (c, None),
            ConfigSource::CodeOnly => (ConfigLoader::default(), None),
        };
        #[cfg(feature = "http")]
        let config_error = install_http(&config, config_error);
        #[allow(unused_mut)]
        let mut dependencies = self.dependencies;
        #[cfg(feature = "resilience")]
        let standard = {
            let resilience = self.resilience.unwrap_or_else(|| {
                let mut b = servicetask_resilience::Resilience::builder().telemetry(telemetry.clone());
                for (name, d) in config.dependencies() {
                    b = b.dependency(
                        name.clone(),
                        servicetask_resilience::DependencyConfig {
                            breaker: d.breaker.clone(),
                            bulkhead: d.bulkhead.clone(),
                        },
                    );
                    if let Some(r) = &d.retry {
                        b = b.dependency_retry(name.clone(), r.clone());
                    }
                }
                Arc::new(b.build())
            });
            if dependencies.is_none() {
                dependencies = Some(resilience.clone() as Arc<dyn DependencyPolicy>);
            }
            StandardPipeline::new(resilience)
        };
        #[cfg(not(feature = "resilience"))]
        let standard = StandardPipeline::new();
        #[allow(unused_mut)]
        let mut inspect_paths = self.inspect_paths;
        #[cfg(feature = "tracking")]
        if inspect_paths.is_none() {
            inspect_paths = Some(Arc::new(servicetask_tracking::inspect_input_paths));
        }
        Runner {
            shared: Arc::new(Shared {
                telemetry,
                #[cfg(feature = "analytics")]
                anomalies: self.anomalies,
                sink: self.sink,
                dependencies,
                inspect_paths,
            }),
            config: Arc::new(config),
            config_error,
            pipeline: self.pipeline.unwrap_or_else(|| Arc::new(standard)),
            tasks: Arc::default(),
        }
    }
}

/// Installs the file's `[http]` settings as the client `cx.http()` hands out (one per
/// process); a clash with a client installed before is a configuration problem.
#[cfg(feature = "http")]
fn install_http(config: &ConfigLoader, error: Option<ConfigError>) -> Option<ConfigError> {
    use servicetask_http::HttpClient;
    let Some(settings) = config.http() else {
        return error;
    };
    let message = match HttpClient::new(settings.clone()).map(HttpClient::install) {
        Ok(Ok(())) => return error,
        Ok(Err(_)) if HttpClient::global().settings() == settings => return error,
        Ok(Err(_)) => "the HTTP client of this process was already installed with other settings \
                       (HttpClient::install, or a cx.http() before the runner was built)"
            .to_string(),
        Err(e) => e.to_string(),
    };
    let problem = crate::config::ConfigProblem {
        origin: config
            .file()
            .map_or("[http]".to_string(), |f| format!("{} [http]", f.display())),
        key: String::new(),
        message,
    };
    let mut error = error.unwrap_or(ConfigError { problems: Vec::new() });
    error.problems.push(problem);
    Some(error)
}

impl Runner {
    /// Starts a builder.
    pub fn builder() -> RunnerBuilder {
        RunnerBuilder {
            telemetry: None,
            config: ConfigSource::Environment,
            pipeline: None,
            sink: None,
            dependencies: None,
            inspect_paths: None,
            #[cfg(feature = "resilience")]
            resilience: None,
            #[cfg(feature = "analytics")]
            anomalies: None,
        }
    }

    /// Registers a task: resolves its configuration, builds its pipeline, and returns a typed
    /// handle. The task can then also be run by name with [`Runner::run_json`].
    pub fn register<T: ServiceTask>(&self, task: T) -> Result<TaskHandle<T>, ConfigError> {
        if let Some(e) = &self.config_error {
            return Err(e.clone());
        }
        let config = self.config.resolve(&task.config())?;
        #[cfg(feature = "resilience")]
        if let Err(problems) = servicetask_resilience::validate(&config) {
            return Err(ConfigError {
                problems: problems
                    .iter()
                    .map(|p| crate::config::ConfigProblem {
                        origin: format!("task '{}'", config.name),
                        key: p.key().to_string(),
                        message: p.message().to_string(),
                    })
                    .collect(),
            });
        }
        let layers = self.pipeline.layers(&config);
        let handle = TaskHandle::new(task, config, layers, self.shared.clone());
        let erased: Arc<dyn RegisteredTask> = Arc::new(handle.clone());
        self.tasks
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(handle.config().name.clone(), erased);
        Ok(handle)
    }

    /// Checks the configuration against the registered tasks: a task the file or a variable
    /// configures but no code registers is an error, as is any problem reading them. Call it
    /// once every task is registered (the CLI does; the engine handler does at its first call).
    pub fn check_config(&self) -> Result<(), ConfigError> {
        if let Some(e) = &self.config_error {
            return Err(e.clone());
        }
        self.config.check_tasks(&self.task_names())
    }

    /// A registered task by name.
    pub fn task(&self, name: &str) -> Option<Arc<dyn RegisteredTask>> {
        self.tasks.read().unwrap_or_else(|p| p.into_inner()).get(name).cloned()
    }

    /// Names of the registered tasks, sorted.
    pub fn task_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .tasks
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        v.sort();
        v
    }

    /// The sensitive input fields of every registered task, sorted and deduplicated: process
    /// variables of these names are redacted wherever variables are shown or stored.
    pub fn sensitive_variables(&self) -> Vec<&'static str> {
        let tasks = self.tasks.read().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<&'static str> = tasks
            .values()
            .flat_map(|t| t.sensitive_fields().iter().copied())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Runs a registered task by name from JSON variables; `None` if no task has that name.
    pub async fn run_json(
        &self,
        name: &str,
        variables: serde_json::Map<String, serde_json::Value>,
        options: RunOptions,
    ) -> Option<JsonOutcome> {
        let task = self.task(name)?;
        Some(task.run_json(variables, options).await)
    }

    /// The shared telemetry.
    pub fn telemetry(&self) -> &Arc<Telemetry> {
        &self.shared.telemetry
    }
}
