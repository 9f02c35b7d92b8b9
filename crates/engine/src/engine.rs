//! The [`Engine`]: holds the task handler, configuration, observer and the library of
//! definitions that call activities can call; starts and resumes [`Instance`]s.

use crate::clock::{Clock, TokioClock};
use crate::error::EngineError;
use crate::handler::TaskHandler;
use crate::instance::{Instance, ProcIndex};
use crate::observer::EngineObserver;
use crate::state::InstanceSnapshot;
use opentelemetry::global::BoxedTracer;
use serde_json::{Map, Value};
use servicetask_bpmn::{Definitions, Diagnostic, Process};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// How the engine behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Plain `task` elements wait to be completed through the API, as SpiffWorkflow does
    /// (default: they complete at once).
    pub plain_tasks_wait: bool,
    /// Steps one instance may take before it is failed as an endless loop.
    pub max_steps: u64,
    /// Live tokens one instance may hold before it is failed as a runaway fan-out (a flow that
    /// leads back into its own element twice doubles its tokens at every pass).
    pub max_tokens: usize,
    /// Service-call attempts per task before a failure becomes an incident regardless of
    /// `retries_left`.
    pub max_attempts: u32,
    /// Service calls in flight at once per instance (parallel branches, parallel
    /// multi-instance batches); the rest wait for a free slot.
    pub max_concurrent_calls: usize,
    /// Service calls become jobs a host runs (default: the engine calls its handler). A ready
    /// call then waits like a user task, listed by [`crate::Instance::pending_jobs`] and
    /// finished with [`crate::Instance::complete_job`]; and the instance never sleeps for a
    /// timer: [`crate::Instance::run`] returns `Waiting` with the time to its next timer, for
    /// the host to persist (the durable service of `servicetask-worker`).
    pub external_jobs: bool,
    /// What models may ask of the engine: the budget of every expression and script
    /// evaluation ([`servicetask_bpmn::expr::EvalLimits`]) and the largest multi-instance
    /// batch. `servicetask validate` checks literal values against the defaults.
    pub limits: servicetask_bpmn::Limits,
    /// Estimated bytes an instance's variables may take as a whole (every scope's), checked
    /// where they grow ([`crate::budget`]). Default 64 MiB.
    pub max_variable_bytes: u64,
    /// Functions the host registers for expressions and scripts, as a SpiffWorkflow user adds
    /// functions to its script engine's environment: `validate` knows them and runs call them.
    pub functions: servicetask_bpmn::expr::Functions,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            plain_tasks_wait: false,
            max_steps: 1_000_000,
            max_tokens: 10_000,
            max_attempts: 100,
            max_concurrent_calls: 256,
            external_jobs: false,
            limits: servicetask_bpmn::Limits::default(),
            max_variable_bytes: crate::budget::DEFAULT_MAX_VARIABLE_BYTES,
            functions: servicetask_bpmn::expr::Functions::new(),
        }
    }
}

pub(crate) struct EngineInner {
    pub handler: Arc<dyn TaskHandler>,
    /// Where instance spans go; `None`: the global tracer, looked up at each start.
    pub tracer: Option<BoxedTracer>,
    pub config: EngineConfig,
    pub observer: Option<Arc<dyn EngineObserver>>,
    /// Where instances read the time and wait for timers.
    pub clock: Arc<dyn Clock>,
    /// The library, each file compiled once at build time.
    pub library: Vec<Arc<CompiledDefs>>,
    /// Definitions already started or resumed, compiled once and found again by content
    /// (most recently used first), so starting the same definitions again neither clones nor
    /// re-validates nor re-indexes them.
    cache: Mutex<Vec<Arc<CompiledDefs>>>,
}

/// How many distinct definitions the engine keeps compiled.
const CACHE_SIZE: usize = 16;

/// Definitions shared by every instance started from them, with an index per process.
pub(crate) struct CompiledDefs {
    /// The definitions (an owned copy, made once).
    pub defs: Arc<Definitions>,
    /// One index per process, in the order of `defs.processes`.
    pub procs: Vec<Arc<ProcIndex>>,
    /// True once `Engine::start` has validated them without errors.
    validated: AtomicBool,
}

impl CompiledDefs {
    fn new(defs: Definitions, config: &EngineConfig) -> Self {
        let defs = Arc::new(defs);
        let procs = (0..defs.processes.len())
            .map(|i| {
                Arc::new(ProcIndex::new(
                    defs.clone(),
                    i,
                    config.limits.eval,
                    config.functions.clone(),
                ))
            })
            .collect();
        CompiledDefs {
            defs,
            procs,
            validated: AtomicBool::new(false),
        }
    }

    /// The index of process `id`, if these definitions have it.
    pub fn process(&self, id: &str) -> Option<&Arc<ProcIndex>> {
        self.procs.iter().find(|p| p.process().id == id)
    }
}

/// Runs BPMN processes. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<EngineInner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.inner.config)
            .field("library", &self.inner.library.len())
            .finish()
    }
}

/// Builds an [`Engine`].
pub struct EngineBuilder {
    handler: Arc<dyn TaskHandler>,
    tracer: Option<BoxedTracer>,
    config: EngineConfig,
    observer: Option<Arc<dyn EngineObserver>>,
    clock: Arc<dyn Clock>,
    library: Vec<Definitions>,
}

impl EngineBuilder {
    /// Sets the configuration.
    pub fn config(mut self, config: EngineConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets the observer of progress events.
    pub fn observer(mut self, observer: Arc<dyn EngineObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Sends instance spans to `tracer` instead of the global tracer (looked up at each start
    /// otherwise, so a provider installed after the engine is built is still used).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use opentelemetry::trace::TracerProvider as _;
    /// use servicetask_engine::{Engine, StubHandler};
    /// let provider = opentelemetry::trace::noop::NoopTracerProvider::new();
    /// let tracer = opentelemetry::global::BoxedTracer::new(Box::new(provider.tracer("my-engine")));
    /// let engine = Engine::builder(Arc::new(StubHandler)).tracer(tracer).build();
    /// # let _ = engine;
    /// ```
    pub fn tracer(mut self, tracer: BoxedTracer) -> Self {
        self.tracer = Some(tracer);
        self
    }

    /// Sets the clock instances read the time from and wait on (default: [`TokioClock`];
    /// [`crate::VirtualClock`] makes timers fire at once, in due order).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Adds definitions whose processes call activities may call.
    pub fn library(mut self, defs: impl IntoIterator<Item = Definitions>) -> Self {
        self.library.extend(defs);
        self
    }

    /// Builds the engine.
    pub fn build(self) -> Engine {
        let library = self
            .library
            .into_iter()
            .map(|d| Arc::new(CompiledDefs::new(d, &self.config)))
            .collect();
        Engine {
            inner: Arc::new(EngineInner {
                handler: self.handler,
                tracer: self.tracer,
                config: self.config,
                observer: self.observer,
                clock: self.clock,
                library,
                cache: Mutex::new(Vec::new()),
            }),
        }
    }
}

impl Engine {
    /// An engine with default configuration that runs service tasks through `handler`.
    pub fn new(handler: Arc<dyn TaskHandler>) -> Self {
        Self::builder(handler).build()
    }

    /// A builder for an engine that runs service tasks through `handler`.
    pub fn builder(handler: Arc<dyn TaskHandler>) -> EngineBuilder {
        EngineBuilder {
            handler,
            tracer: None,
            config: EngineConfig::default(),
            observer: None,
            clock: Arc::new(TokioClock::new()),
            library: Vec::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// The clock instances read the time from.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// Finds a process for a call activity: first in `defs`, then in the library.
    pub(crate) fn find_process(&self, defs: &CompiledDefs, id: &str) -> Option<Arc<ProcIndex>> {
        if let Some(p) = defs.process(id) {
            return Some(p.clone());
        }
        self.inner.library.iter().find_map(|d| d.process(id).cloned())
    }

    /// The compiled form of `defs`: from the cache when equal definitions were seen before,
    /// else compiled now (one clone) and cached.
    fn compiled(&self, defs: &Definitions) -> Arc<CompiledDefs> {
        let mut cache = self.inner.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = cache.iter().position(|c| *c.defs == *defs) {
            if i > 0 {
                let hit = cache.remove(i);
                cache.insert(0, hit);
            }
            return cache[0].clone();
        }
        let c = Arc::new(CompiledDefs::new(defs.clone(), &self.inner.config));
        cache.insert(0, c.clone());
        cache.truncate(CACHE_SIZE);
        c
    }

    /// Starts `process_id` of `defs` with `vars`. A `traceparent` variable (W3C string) makes the
    /// instance span continue that trace. Fails when the definitions have errors.
    ///
    /// The definitions are compiled on first use and found again by content afterwards; a
    /// program that starts many instances of the same definitions can [`Engine::deploy`] them
    /// once and skip that comparison.
    pub fn start(
        &self,
        defs: &Definitions,
        process_id: &str,
        vars: Map<String, Value>,
    ) -> Result<Instance, EngineError> {
        self.deploy(defs)?.start(process_id, vars)
    }

    /// Validates and compiles `defs` once: the returned [`Deployment`] starts instances
    /// without looking the definitions up again. Fails when the definitions have errors.
    pub fn deploy(&self, defs: &Definitions) -> Result<Deployment, EngineError> {
        let compiled = self.compiled(defs);
        if !compiled.validated.load(Ordering::Acquire) {
            self.validate(defs)?;
            compiled.validated.store(true, Ordering::Release);
        }
        Ok(Deployment {
            engine: self.clone(),
            compiled,
        })
    }

    /// The errors that keep `defs` from starting: validation errors, bindings the parser
    /// could not complete, and call activities whose process is neither in `defs` nor in the
    /// library (a run would fail on reaching them; SpiffWorkflow refuses such a file too).
    fn validate(&self, defs: &Definitions) -> Result<(), EngineError> {
        let mut errors: Vec<Diagnostic> =
            servicetask_bpmn::validate_in(defs, &self.inner.config.limits, &self.inner.config.functions)
                .into_iter()
                .filter(Diagnostic::is_error)
                .collect();
        errors.extend(servicetask_bpmn::missing_called_processes(defs, |c| {
            self.inner.library.iter().any(|d| d.process(c).is_some())
        }));
        // bindings the parser could not complete (reported by `parse` as well)
        for p in &defs.processes {
            for e in &p.elements {
                if e.binding.as_ref().is_some_and(|b| b.task_type.trim().is_empty()) {
                    errors.push(Diagnostic::error(
                        &defs.file,
                        e.position,
                        format!("{} '{}' is bound to an empty task type", e.kind.tag(), e.id),
                        "name the registered task in the binding (zeebe:taskDefinition type, camunda:topic, spiffworkflow:serviceTaskOperator id)",
                    ));
                }
            }
        }
        if !errors.is_empty() {
            return Err(EngineError::Invalid(errors));
        }
        Ok(())
    }

    /// Resumes a saved instance with the definitions it was started from.
    pub fn resume(&self, defs: &Definitions, snapshot: InstanceSnapshot) -> Result<Instance, EngineError> {
        Instance::resume(self.clone(), self.compiled(defs), snapshot)
    }
}

/// Definitions validated and compiled by [`Engine::deploy`], ready to start instances.
/// Cheap to clone.
///
/// ```
/// use std::sync::Arc;
/// use servicetask_engine::{Engine, RunOutcome, StubHandler};
/// let xml = br#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">
///   <process id="p"><startEvent id="s"/><sequenceFlow id="f" sourceRef="s" targetRef="e"/>
///   <endEvent id="e"/></process></definitions>"#;
/// let (defs, _) = servicetask_bpmn::parse("p.bpmn", xml);
/// let deployed = Engine::new(Arc::new(StubHandler)).deploy(&defs).unwrap();
/// let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
/// for _ in 0..3 {
///     let mut instance = deployed.start("p", Default::default()).unwrap();
///     assert_eq!(rt.block_on(instance.run()), RunOutcome::Completed);
/// }
/// ```
#[derive(Clone)]
pub struct Deployment {
    engine: Engine,
    compiled: Arc<CompiledDefs>,
}

impl std::fmt::Debug for Deployment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deployment")
            .field("file", &self.compiled.defs.file)
            .finish_non_exhaustive()
    }
}

impl Deployment {
    /// The definitions deployed.
    pub fn definitions(&self) -> &Definitions {
        &self.compiled.defs
    }

    /// Starts `process_id` (a process or a collaboration of the definitions, or a process of
    /// the engine's library) with `vars`. A `traceparent` variable (W3C string) makes the
    /// instance span continue that trace.
    pub fn start(&self, process_id: &str, vars: Map<String, Value>) -> Result<Instance, EngineError> {
        let compiled = &self.compiled;
        crate::budget::admit_start(&self.engine, compiled, process_id, &vars)?;
        if compiled.process(process_id).is_none()
            && !compiled.defs.collaborations.iter().any(|c| c.id == process_id)
            && self.engine.find_process(compiled, process_id).is_none()
        {
            return Err(EngineError::UnknownProcess {
                process_id: process_id.to_string(),
                at: None,
            });
        }
        if let Some(p) = compiled
            .defs
            .processes
            .iter()
            .find(|p| p.id == process_id && !p.executable)
        {
            return Err(EngineError::Invalid(vec![Diagnostic::error(
                &compiled.defs.file,
                p.position,
                format!("process '{process_id}' is not executable (isExecutable=\"false\")"),
                "set isExecutable=\"true\" to run it; a non-executable process only documents one (BPMN 2.0 §10.2)",
            )]));
        }
        Instance::start(self.engine.clone(), compiled.clone(), process_id, vars)
    }

    /// Resumes a saved instance of these definitions (without looking them up again).
    pub fn resume(&self, snapshot: InstanceSnapshot) -> Result<Instance, EngineError> {
        Instance::resume(self.engine.clone(), self.compiled.clone(), snapshot)
    }
}

/// True for the names BPMN files go by: `*.bpmn`, and `*.bpmn20.xml` (Activiti, Flowable and
/// the BPMN MIWG's reference files).
pub fn is_bpmn_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".bpmn") || lower.ends_with(".bpmn20.xml")
}

/// Parses every BPMN file of `dir` ([`is_bpmn_file`]; not recursive), sorted by name. Files
/// with errors are returned as diagnostics, not as definitions.
pub fn load_dir(dir: &Path) -> std::io::Result<(Vec<Definitions>, Vec<Diagnostic>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && is_bpmn_file(p))
        .collect();
    files.sort();
    let mut defs = Vec::new();
    let mut diags = Vec::new();
    for f in files {
        let bytes = std::fs::read(&f)?;
        let (d, ds) = servicetask_bpmn::parse(&f.display().to_string(), &bytes);
        if ds.iter().any(Diagnostic::is_error) {
            diags.extend(ds);
        } else {
            defs.push(d);
        }
    }
    Ok((defs, diags))
}

/// The first executable process of `defs`, else the first.
pub fn default_process(defs: &Definitions) -> Option<&Process> {
    defs.default_process()
}
