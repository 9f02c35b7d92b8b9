//! [`Resilience`]: the shared, keyed state of the resilience layers (breakers, bulkheads,
//! retry budgets, fallback functions, dependency guards), its builder, and [`layers`].

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use servicetask_core::layer::Layer;
use servicetask_core::{
    BreakerConfig, BulkheadConfig, RetryBudgetConfig, RetryConfig, RetryMode, TaskConfig, Telemetry,
};

use crate::breaker::{BreakerLayer, CircuitBreaker};
use crate::budget::RetryBudget;
use crate::bulkhead::{Bulkhead, BulkheadLayer};
use crate::clock::{Clock, TokioClock};
use crate::fallback::{FallbackFn, FallbackLayer, FallbackMatch};
use crate::retry::RetryLayer;
use crate::timeout::TimeoutLayer;

/// The breaker and bulkhead guarding one dependency (`cx.dependency(name).call(fut)`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DependencyConfig {
    /// Circuit breaker for the dependency, shared by every task that calls it.
    pub breaker: Option<BreakerConfig>,
    /// Concurrent calls allowed; a call waits up to the bulkhead's `max_wait` for a slot.
    pub bulkhead: Option<BulkheadConfig>,
}

/// The guards of one dependency, made once and shared.
#[derive(Debug, Clone, Default)]
pub(crate) struct DependencyGuards {
    pub(crate) breaker: Option<Arc<CircuitBreaker>>,
    pub(crate) bulkhead: Option<Arc<Bulkhead>>,
}

/// Shared resilience state: one breaker per task and per dependency, one bulkhead and one
/// retry budget per task, shared by every concurrent execution. Build it once per worker
/// (with the same [`Telemetry`] as the task contexts), hand it to [`layers`] for each task and
/// to contexts as their `DependencyPolicy`.
pub struct Resilience {
    clock: Arc<dyn Clock>,
    telemetry: Arc<Telemetry>,
    seed: Option<u64>,
    dependency_configs: HashMap<String, DependencyConfig>,
    default_dependency: Option<DependencyConfig>,
    dependency_retries: HashMap<String, RetryConfig>,
    fallbacks: HashMap<String, Vec<(FallbackMatch, FallbackFn)>>,
    dependencies: HashMap<String, DependencyGuards>,
    lazy_dependencies: Mutex<HashMap<String, DependencyGuards>>,
    breakers: Mutex<HashMap<String, Arc<CircuitBreaker>>>,
    bulkheads: Mutex<HashMap<String, Arc<Bulkhead>>>,
    budgets: Mutex<HashMap<String, Arc<RetryBudget>>>,
}

impl fmt::Debug for Resilience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resilience")
            .field(
                "breakers",
                &self.breakers().iter().map(|b| b.name().to_string()).collect::<Vec<_>>(),
            )
            .field("dependencies", &self.dependency_configs.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Default for Resilience {
    /// Tokio's clock, the global OpenTelemetry providers, nothing per dependency.
    fn default() -> Self {
        Resilience::builder().build()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The key of a dependency's breaker and bulkhead: `dependency:<name>`.
pub fn dependency_key(name: &str) -> String {
    format!("dependency:{name}")
}

impl Resilience {
    /// Starts a builder.
    pub fn builder() -> ResilienceBuilder {
        ResilienceBuilder::default()
    }

    /// The clock breakers and budgets read.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The telemetry breaker transitions and states are reported to.
    pub fn telemetry(&self) -> &Arc<Telemetry> {
        &self.telemetry
    }

    fn make_breaker(&self, key: &str, config: &BreakerConfig) -> Arc<CircuitBreaker> {
        let mut map = lock(&self.breakers);
        Arc::clone(map.entry(key.to_string()).or_insert_with(|| {
            Arc::new(CircuitBreaker::new(
                key,
                config.clone(),
                Arc::clone(&self.clock),
                Arc::clone(&self.telemetry),
            ))
        }))
    }

    /// The breaker of task `task`, made with `config` on first use.
    pub fn task_breaker(&self, task: &str, config: &BreakerConfig) -> Arc<CircuitBreaker> {
        self.make_breaker(task, config)
    }

    /// A breaker by key (a task name or `dependency:<name>`), if it exists: for manual
    /// `force_open`, `force_closed` and `reset`.
    pub fn breaker(&self, key: &str) -> Option<Arc<CircuitBreaker>> {
        lock(&self.breakers).get(key).cloned()
    }

    /// Every breaker made so far.
    pub fn breakers(&self) -> Vec<Arc<CircuitBreaker>> {
        let mut v: Vec<_> = lock(&self.breakers).values().cloned().collect();
        v.sort_by(|a, b| a.name().cmp(b.name()));
        v
    }

    /// The bulkhead of task `task`, made with `config` on first use.
    pub fn task_bulkhead(&self, task: &str, config: &BulkheadConfig) -> Arc<Bulkhead> {
        let mut map = lock(&self.bulkheads);
        Arc::clone(
            map.entry(task.to_string())
                .or_insert_with(|| Arc::new(Bulkhead::new(task, config))),
        )
    }

    /// A bulkhead by key (a task name or `dependency:<name>`), if it exists.
    pub fn bulkhead(&self, key: &str) -> Option<Arc<Bulkhead>> {
        lock(&self.bulkheads).get(key).cloned()
    }

    /// The retry budget of task `task`, made with `config` on first use.
    pub fn task_budget(&self, task: &str, config: &RetryBudgetConfig) -> Arc<RetryBudget> {
        let mut map = lock(&self.budgets);
        Arc::clone(
            map.entry(task.to_string())
                .or_insert_with(|| Arc::new(RetryBudget::new(config, Arc::clone(&self.clock)))),
        )
    }

    fn make_guards(&self, name: &str, config: &DependencyConfig) -> DependencyGuards {
        let key = dependency_key(name);
        DependencyGuards {
            breaker: config.breaker.as_ref().map(|b| self.make_breaker(&key, b)),
            bulkhead: config.bulkhead.as_ref().map(|b| {
                let mut map = lock(&self.bulkheads);
                Arc::clone(
                    map.entry(key.clone())
                        .or_insert_with(|| Arc::new(Bulkhead::new(key.as_str(), b))),
                )
            }),
        }
    }

    /// The guards of dependency `name`: its own configuration, else the default one.
    pub(crate) fn dependency_guards(&self, name: &str) -> Option<DependencyGuards> {
        if let Some(g) = self.dependencies.get(name) {
            return Some(g.clone());
        }
        let default = self.default_dependency.as_ref()?;
        let mut lazy = lock(&self.lazy_dependencies);
        if let Some(g) = lazy.get(name) {
            return Some(g.clone());
        }
        let g = self.make_guards(name, default);
        lazy.insert(name.to_string(), g.clone());
        Some(g)
    }

    /// The retry policy of calls to dependency `name` (`Dependency::call_retrying`), if any.
    pub fn dependency_retry(&self, name: &str) -> Option<&RetryConfig> {
        self.dependency_retries.get(name)
    }

    /// The retry budget of dependency `name` (its retry policy's `budget`), made on first use
    /// and shared by every task calling it; keyed `dependency:<name>`.
    pub fn dependency_budget(&self, name: &str) -> Option<Arc<RetryBudget>> {
        let config = self.dependency_retry(name)?.budget.as_ref()?;
        Some(self.task_budget(&dependency_key(name), config))
    }

    /// The fallback functions registered for `task`.
    pub fn fallback_fns(&self, task: &str) -> Vec<(FallbackMatch, FallbackFn)> {
        self.fallbacks.get(task).cloned().unwrap_or_default()
    }

    fn retry_layer(&self, config: &TaskConfig) -> Option<RetryLayer> {
        let r = &config.retry;
        let wanted = r.max_attempts > 1 || config.timeout.total.is_some() || r.mode == RetryMode::Engine;
        if !wanted {
            return None;
        }
        let mut layer = RetryLayer::new(r.clone(), config.timeout.total);
        if let Some(b) = &r.budget {
            layer = layer.with_budget(self.task_budget(&config.name, b));
        }
        if let Some(seed) = self.seed {
            layer = layer.with_seed(seed);
        }
        Some(layer)
    }
}

/// Builds a [`Resilience`].
#[derive(Default)]
#[must_use]
pub struct ResilienceBuilder {
    clock: Option<Arc<dyn Clock>>,
    telemetry: Option<Arc<Telemetry>>,
    seed: Option<u64>,
    dependencies: HashMap<String, DependencyConfig>,
    default_dependency: Option<DependencyConfig>,
    dependency_retries: HashMap<String, RetryConfig>,
    fallbacks: HashMap<String, Vec<(FallbackMatch, FallbackFn)>>,
}

impl fmt::Debug for ResilienceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResilienceBuilder")
            .field("seed", &self.seed)
            .field("dependencies", &self.dependencies)
            .field("default_dependency", &self.default_dependency)
            .finish_non_exhaustive()
    }
}

impl ResilienceBuilder {
    /// The clock for breakers and budgets (default: [`TokioClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Where breaker transitions and states are reported (default: the global providers).
    /// Use the same [`Telemetry`] as the task contexts.
    pub fn telemetry(mut self, telemetry: Arc<Telemetry>) -> Self {
        self.telemetry = Some(telemetry);
        self
    }

    /// Seeds the jitter of every retry layer (deterministic delays, for tests).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Guards calls to dependency `name` (`cx.dependency(name).call(fut)`).
    pub fn dependency(mut self, name: impl Into<String>, config: DependencyConfig) -> Self {
        self.dependencies.insert(name.into(), config);
        self
    }

    /// Retries failed calls to dependency `name` made with `Dependency::call_retrying` (the
    /// HTTP client's): attempts, backoff, jitter, `max_elapsed` and `budget` as for a task
    /// (`mode` does not apply: a call has no engine of its own); a delay hint from the
    /// dependency (`Retry-After`) replaces the computed delay but never exceeds `max_delay`,
    /// and one past `max_elapsed` ends the call.
    pub fn dependency_retry(mut self, name: impl Into<String>, retry: RetryConfig) -> Self {
        self.dependency_retries.insert(name.into(), retry);
        self
    }

    /// Guards every dependency not named by [`ResilienceBuilder::dependency`] (one breaker
    /// and bulkhead per name, made on first call).
    pub fn default_dependency(mut self, config: DependencyConfig) -> Self {
        self.default_dependency = Some(config);
        self
    }

    /// Registers an async fallback for failures of task `task` that `on` matches.
    pub fn fallback_fn(mut self, task: impl Into<String>, on: FallbackMatch, f: FallbackFn) -> Self {
        let list = self.fallbacks.entry(task.into()).or_default();
        list.retain(|(m, _)| *m != on);
        list.push((on, f));
        self
    }

    /// Finishes the builder; dependency breakers exist (and report `closed`) from now on.
    pub fn build(self) -> Resilience {
        let mut r = Resilience {
            clock: self.clock.unwrap_or_else(|| Arc::new(TokioClock)),
            telemetry: self.telemetry.unwrap_or_else(Telemetry::global),
            seed: self.seed,
            dependency_configs: self.dependencies,
            default_dependency: self.default_dependency,
            dependency_retries: self.dependency_retries,
            fallbacks: self.fallbacks,
            dependencies: HashMap::new(),
            lazy_dependencies: Mutex::new(HashMap::new()),
            breakers: Mutex::new(HashMap::new()),
            bulkheads: Mutex::new(HashMap::new()),
            budgets: Mutex::new(HashMap::new()),
        };
        let guards: HashMap<String, DependencyGuards> = r
            .dependency_configs
            .iter()
            .map(|(name, c)| (name.clone(), r.make_guards(name, c)))
            .collect();
        r.dependencies = guards;
        r
    }
}

/// The resilience layers for one task, outer to inner: fallback > retry (with the total
/// deadline and the budget) > bulkhead > breaker > attempt timeout. Only configured layers
/// are present. Breakers, bulkheads and budgets come from `resilience`, so every pipeline
/// built for the same task name shares them.
pub fn layers(config: &TaskConfig, resilience: &Resilience) -> Vec<Arc<dyn Layer>> {
    let mut v: Vec<Arc<dyn Layer>> = Vec::new();
    let fallback = FallbackLayer::new(config.fallback.clone(), resilience.fallback_fns(&config.name));
    if !fallback.is_empty() {
        v.push(Arc::new(fallback));
    }
    if let Some(retry) = resilience.retry_layer(config) {
        v.push(Arc::new(retry));
    }
    if let Some(b) = &config.bulkhead {
        v.push(Arc::new(BulkheadLayer::new(resilience.task_bulkhead(&config.name, b))));
    }
    if let Some(b) = &config.breaker {
        v.push(Arc::new(BreakerLayer::new(resilience.task_breaker(&config.name, b))));
    }
    if let Some(t) = config.timeout.attempt {
        v.push(Arc::new(TimeoutLayer::new(t)));
    }
    v
}
