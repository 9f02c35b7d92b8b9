//! [`Worker`]: one node's loop. Acquire due jobs with a lease (as many as there are free
//! slots), run each through the task handler while a heartbeat extends its lease, complete it
//! with its lease token; fire the timers that are due; keep the store's figures fresh for the
//! gauges. On shutdown: take no new jobs, let in-flight ones finish within the grace period,
//! then give the leases of the rest back so another node runs them at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::trace::TraceContextExt as _;
use serde_json::{Map, Value};
use servicetask_bpmn::TaskBinding;
use servicetask_engine::{ServiceCall, ServiceResult, TaskHandler};
use servicetask_store::{now_ms, Acquire, LeasedJob};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::{Host, HostError};

/// How a worker behaves.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// This node's name, recorded as the owner of its leases.
    pub node_id: String,
    /// Jobs run at once.
    pub max_in_flight: usize,
    /// Lease length; a heartbeat extends it every third of it.
    pub lease: Duration,
    /// How long to wait for new jobs or due timers when there were none.
    pub poll: Duration,
    /// How long a drain waits for in-flight jobs before it releases them.
    pub grace: Duration,
}

/// How a worker fires timers ([`Worker::timers`]).
#[derive(Debug, Clone)]
pub struct TimerConfig {
    /// Instances whose timers one round fires at most (the rest wait for the next round, so
    /// jobs are acquired in between).
    pub batch: usize,
    /// The longest wait before the timers of an instance that keeps failing are tried again
    /// (the wait doubles from the poll interval with each failure).
    pub max_backoff: Duration,
    /// Failing instances remembered at most (past it, the oldest is forgotten and tried again).
    pub max_backoffs: usize,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            batch: 64,
            max_backoff: Duration::from_secs(60),
            max_backoffs: 10_000,
        }
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            node_id: format!("node-{}", std::process::id()),
            max_in_flight: 64,
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(100),
            grace: Duration::from_secs(10),
        }
    }
}

/// The job and timer loop of one node.
pub struct Worker {
    host: Arc<Host>,
    handler: Arc<dyn TaskHandler>,
    config: WorkerConfig,
    timers: TimerConfig,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Leases of the jobs in flight, to give back when a drain runs out of time.
type InFlight = Arc<Mutex<HashMap<i64, String>>>;

impl Worker {
    /// A worker that runs jobs through `handler`.
    pub fn new(host: Arc<Host>, handler: Arc<dyn TaskHandler>, config: WorkerConfig) -> Self {
        Worker {
            host,
            handler,
            config,
            timers: TimerConfig::default(),
        }
    }

    /// The same, firing timers as `timers` says.
    pub fn timers(mut self, timers: TimerConfig) -> Self {
        self.timers = timers;
        self
    }

    /// Runs until `shutdown` turns true, then drains.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let slots = Arc::new(Semaphore::new(self.config.max_in_flight.max(1)));
        let in_flight: InFlight = Arc::default();
        let mut tasks = JoinSet::new();
        let store = self.host.store().clone();
        let mut stats_at = 0i64;
        let mut timers = Timers::default();
        while !*shutdown.borrow() {
            while tasks.try_join_next().is_some() {}
            let free = slots.available_permits();
            let mut busy = false;
            if free > 0 {
                let acquired = store
                    .acquire_jobs(Acquire {
                        owner: self.config.node_id.clone(),
                        max: free,
                        lease_ms: self.config.lease.as_millis() as i64,
                        now_ms: now_ms(),
                    })
                    .await;
                match acquired {
                    Ok(jobs) => {
                        busy |= !jobs.is_empty();
                        for job in jobs {
                            if job.taken_over {
                                self.host.metrics().took_over();
                            }
                            let Ok(permit) = slots.clone().try_acquire_owned() else {
                                break;
                            };
                            lock(&in_flight).insert(job.job.id, job.lease_token.clone());
                            let (host, handler, lease, in_flight) = (
                                self.host.clone(),
                                self.handler.clone(),
                                self.config.lease,
                                in_flight.clone(),
                            );
                            tasks.spawn(async move {
                                let id = job.job.id;
                                run_job(&host, handler.as_ref(), job, lease).await;
                                lock(&in_flight).remove(&id);
                                drop(permit);
                            });
                        }
                    }
                    Err(e) => eprintln!("servicetask worker: acquiring jobs failed: {e}"),
                }
            }
            if now_ms() >= timers.next_check {
                busy |= self.fire_due_timers(&mut timers).await;
            }
            let now = now_ms();
            if now - stats_at >= 1000 {
                stats_at = now;
                if let Ok(s) = store.stats(now).await {
                    self.host.metrics().set_store_stats(s);
                }
            }
            if busy && slots.available_permits() > 0 {
                continue;
            }
            tokio::select! {
                _ = self.host.jobs_ready().notified(), if slots.available_permits() > 0 => {}
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                _ = tokio::time::sleep(self.config.poll) => {}
                _ = shutdown.changed() => {}
            }
        }
        self.drain(tasks, in_flight).await;
    }

    /// Fires the timers of up to `TimerConfig::batch` due instances, skipping those backing off after
    /// failures; returns whether any fired. The store is asked again at once only when the
    /// batch was full (more are due), else after the poll interval: rounds driven by jobs do
    /// not ask it each time.
    async fn fire_due_timers(&self, timers: &mut Timers) -> bool {
        let now = now_ms();
        let batch = self.timers.batch.max(1);
        timers.next_check = now + self.config.poll.as_millis() as i64;
        timers.forget_expired(now, self.timers.max_backoff);
        // asking for as many more as are backing off keeps them from filling the batch
        let limit = batch.saturating_add(timers.backing_off(now));
        let due = match self.host.store().due_instances(now, limit).await {
            Ok(due) => due,
            Err(e) => {
                eprintln!("servicetask worker: reading due timers failed: {e}");
                return false;
            }
        };
        let full = due.len() >= limit;
        let mut fired = false;
        let ready: Vec<String> = due
            .into_iter()
            .filter(|id| !timers.is_backing_off(id, now))
            .take(batch)
            .collect();
        for id in ready {
            match self.host.fire_timers(&id).await {
                Ok(committed) => {
                    timers.succeeded(&id);
                    fired |= committed;
                }
                Err(HostError::Finished(_)) | Err(HostError::NotFound { what: "instance", .. }) => {
                    timers.succeeded(&id)
                }
                Err(e) => {
                    self.host.metrics().timer_failed();
                    let wait = timers.failed(
                        &id,
                        now,
                        self.config.poll,
                        self.timers.max_backoff,
                        self.timers.max_backoffs,
                    );
                    eprintln!(
                        "servicetask worker: timers of instance {id} failed (tried again in {} ms): {e}",
                        wait.as_millis()
                    );
                }
            }
        }
        if full {
            timers.next_check = now;
        }
        fired
    }

    /// Waits for in-flight jobs up to the grace period, then aborts the rest and gives their
    /// leases back.
    async fn drain(&self, mut tasks: JoinSet<()>, in_flight: InFlight) {
        let deadline = tokio::time::sleep(self.config.grace);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                next = tasks.join_next() => if next.is_none() { return },
                _ = &mut deadline => break,
            }
        }
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        let left: Vec<(i64, String)> = lock(&in_flight).drain().collect();
        for (id, token) in left {
            let _ = self.host.store().release(id, &token).await;
        }
    }
}

/// The timer side of the loop: when to ask the store next, and the instances whose timers
/// failed, each with when to try again (doubling waits, so a few broken instances cost a
/// query's worth of rows, not the loop).
#[derive(Debug, Default)]
struct Timers {
    next_check: i64,
    failing: HashMap<String, Backoff>,
}

#[derive(Debug, Clone, Copy)]
struct Backoff {
    failures: u32,
    retry_at: i64,
}

impl Timers {
    fn is_backing_off(&self, id: &str, now: i64) -> bool {
        self.failing.get(id).is_some_and(|b| b.retry_at > now)
    }

    fn backing_off(&self, now: i64) -> usize {
        self.failing.values().filter(|b| b.retry_at > now).count()
    }

    fn succeeded(&mut self, id: &str) {
        self.failing.remove(id);
    }

    /// Records a failure; returns the wait before the next try.
    fn failed(&mut self, id: &str, now: i64, poll: Duration, max: Duration, max_entries: usize) -> Duration {
        if !self.failing.contains_key(id) && self.failing.len() >= max_entries.max(1) {
            if let Some(oldest) = self
                .failing
                .iter()
                .min_by_key(|(_, b)| b.retry_at)
                .map(|(k, _)| k.clone())
            {
                self.failing.remove(&oldest);
            }
        }
        let b = self.failing.entry(id.to_string()).or_insert(Backoff {
            failures: 0,
            retry_at: now,
        });
        b.failures = b.failures.saturating_add(1);
        let wait = poll
            .max(Duration::from_millis(1))
            .saturating_mul(1u32 << b.failures.min(20))
            .min(max);
        b.retry_at = now.saturating_add(wait.as_millis() as i64);
        wait
    }

    /// Forgets failures whose retry is long past (the instance was not due again: it was
    /// fixed, or another node moved it on).
    fn forget_expired(&mut self, now: i64, max: Duration) {
        let horizon = now.saturating_sub(2 * max.as_millis() as i64);
        self.failing.retain(|_, b| b.retry_at > horizon);
    }
}

/// A spawned task that is aborted when its handle is dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs one job with heartbeats and commits its result.
async fn run_job(host: &Host, handler: &dyn TaskHandler, job: LeasedJob, lease: Duration) {
    let mut input = None;
    let result = match call_of(host, &job) {
        Ok(call) => {
            input = Some(call.variables.clone());
            // aborted with this future: a drain that gives the lease back stops the task too
            // (at its next await), so another node does not run it beside this one
            let mut running = AbortOnDrop(tokio::spawn(handler.call(call)));
            let mut beat = tokio::time::interval(lease / 3);
            beat.tick().await;
            let mut held = true;
            loop {
                tokio::select! {
                    r = &mut running.0 => break match r {
                        Ok(r) => r,
                        Err(e) => failed(if e.is_panic() { "the task panicked" } else { "the task was cancelled" }, "panic"),
                    },
                    _ = beat.tick(), if held => {
                        let until = now_ms() + lease.as_millis() as i64;
                        if let Ok(false) = host.store().heartbeat(job.job.id, &job.lease_token, until).await {
                            held = false;
                            host.metrics().lease_expired();
                        }
                    }
                }
            }
        }
        Err((message, class)) => failed(&message, class),
    };
    // a task may quote its input in a message that is stored and shown: not a secret of it
    let result = match &input {
        Some(vars) => crate::secrets::scrub_result(result, vars, host.sensitive_names()),
        None => result,
    };
    for attempt in 0..5u32 {
        match host.complete_job(&job, result.clone()).await {
            Ok(_) => return,
            Err(e) => {
                eprintln!("servicetask worker: completing job {} failed: {e}", job.job.spec.key);
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
            }
        }
    }
}

/// The service call a job stands for, in its instance's trace, its sensitive input put back
/// (else the message and error class of why not).
fn call_of(host: &Host, job: &LeasedJob) -> Result<ServiceCall, (String, &'static str)> {
    let spec = &job.job.spec;
    let invalid = |m: String| (m, "invalid_job");
    let binding: TaskBinding =
        serde_json::from_str(&spec.binding).map_err(|e| invalid(format!("job {}: bad binding: {e}", spec.key)))?;
    let mut variables: Map<String, Value> =
        serde_json::from_str(&spec.variables).map_err(|e| invalid(format!("job {}: bad variables: {e}", spec.key)))?;
    let missing = host
        .at_rest()
        .open_vars(&job.job.instance_id, &mut variables, host.sensitive_names());
    if !missing.is_empty() {
        let message = crate::at_rest::Unavailable::summary(&missing);
        return Err((message, "sensitive_value_unavailable"));
    }
    let otel_context = spec
        .traceparent
        .as_deref()
        .and_then(servicetask_engine::telemetry::parse_traceparent)
        .map(|sc| opentelemetry::Context::new().with_remote_span_context(sc))
        .unwrap_or_default();
    Ok(ServiceCall {
        element_id: spec.element_id.as_str().into(),
        element_name: None,
        binding: Arc::new(binding),
        process_id: spec.process_id.as_str().into(),
        instance_id: job.job.instance_id.as_str().into(),
        variables,
        otel_context,
        idempotency_key: Some(spec.key.as_str().into()),
    })
}

fn failed(message: &str, class: &str) -> ServiceResult {
    ServiceResult::Failed {
        message: message.to_string(),
        error_class: class.to_string(),
        retries_left: 0,
        retry_backoff: None,
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
