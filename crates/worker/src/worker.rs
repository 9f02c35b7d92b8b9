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
        Worker { host, handler, config }
    }

    /// Runs until `shutdown` turns true, then drains.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let slots = Arc::new(Semaphore::new(self.config.max_in_flight.max(1)));
        let in_flight: InFlight = Arc::default();
        let mut tasks = JoinSet::new();
        let store = self.host.store().clone();
        let mut stats_at = 0i64;
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
            match store.due_instances(now_ms(), 64).await {
                Ok(due) => {
                    // only timers that fired make the loop go round at once: an instance whose
                    // timers keep failing (or that ended) waits for the next poll instead of
                    // spinning the loop at full speed
                    for id in due {
                        match self.host.fire_timers(&id).await {
                            Ok(()) => busy = true,
                            Err(HostError::Finished(_)) | Err(HostError::NotFound { .. }) => {}
                            Err(e) => eprintln!("servicetask worker: timers of instance {id}: {e}"),
                        }
                    }
                }
                Err(e) => eprintln!("servicetask worker: reading due timers failed: {e}"),
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

/// A spawned task that is aborted when its handle is dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs one job with heartbeats and commits its result.
async fn run_job(host: &Host, handler: &dyn TaskHandler, job: LeasedJob, lease: Duration) {
    let result = match call_of(&job) {
        Ok(call) => {
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
        Err(message) => failed(&message, "invalid_job"),
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

/// The service call a job stands for, in its instance's trace.
fn call_of(job: &LeasedJob) -> Result<ServiceCall, String> {
    let spec = &job.job.spec;
    let binding: TaskBinding =
        serde_json::from_str(&spec.binding).map_err(|e| format!("job {}: bad binding: {e}", spec.key))?;
    let variables: Map<String, Value> =
        serde_json::from_str(&spec.variables).map_err(|e| format!("job {}: bad variables: {e}", spec.key))?;
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
