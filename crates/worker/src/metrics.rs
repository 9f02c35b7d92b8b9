//! Operator metrics of a node: counters kept as atomics (for the API and tests) and exported
//! as OpenTelemetry instruments (names in `servicetask_core::semconv::metric`); the store's
//! figures (queue depth, oldest job age, instances by state) are read into gauges from the
//! last [`servicetask_store::StoreStats`] the worker fetched.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use opentelemetry::metrics::{Counter, Meter, ObservableGauge};
use opentelemetry::KeyValue;
use serde::Serialize;
use servicetask_core::semconv::{self, metric};
use servicetask_store::StoreStats;

/// The counters and gauges of one node.
pub struct Metrics {
    lease_expiries: AtomicU64,
    takeovers: AtomicU64,
    late_completions: AtomicU64,
    conflicts: AtomicU64,
    jobs_completed: AtomicU64,
    timer_failures: AtomicU64,
    stats: Arc<Mutex<StoreStats>>,
    otel: Option<Instruments>,
}

struct Instruments {
    lease_expiries: Counter<u64>,
    takeovers: Counter<u64>,
    late_completions: Counter<u64>,
    conflicts: Counter<u64>,
    _gauges: Vec<ObservableGauge<u64>>,
    _age: ObservableGauge<f64>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").field("snapshot", &self.snapshot()).finish()
    }
}

/// The counters at one moment, with the last store figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetricsSnapshot {
    /// This node's leases that ended before their job did.
    pub lease_expiries: u64,
    /// Jobs this node took over from an expired lease.
    pub takeovers: u64,
    /// Completions rejected because the lease was taken over.
    pub late_completions: u64,
    /// Transitions redone after a revision conflict.
    pub conflicts: u64,
    /// Job completions this node committed.
    pub jobs_completed: u64,
    /// Firings of an instance's timers that failed on this node (the instance then waits
    /// longer before each next try).
    pub timer_failures: u64,
    /// The store's figures when last read.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub store: StoreStats,
}

impl Metrics {
    /// Counters only, exported nowhere.
    pub fn new() -> Self {
        Metrics {
            lease_expiries: AtomicU64::new(0),
            takeovers: AtomicU64::new(0),
            late_completions: AtomicU64::new(0),
            conflicts: AtomicU64::new(0),
            jobs_completed: AtomicU64::new(0),
            timer_failures: AtomicU64::new(0),
            stats: Arc::new(Mutex::new(StoreStats::default())),
            otel: None,
        }
    }

    /// Counters exported through `meter` as well.
    pub fn with_meter(meter: &Meter) -> Self {
        let mut m = Self::new();
        let stats = m.stats.clone();
        let depth = {
            let stats = stats.clone();
            meter
                .u64_observable_gauge(metric::JOBS_QUEUE_DEPTH)
                .with_description("Jobs in the store of servicetask serve (leased or not).")
                .with_unit("{job}")
                .with_callback(move |o| o.observe(lock(&stats).queue_depth.max(0) as u64, &[]))
                .build()
        };
        let by_state = {
            let stats = stats.clone();
            meter
                .u64_observable_gauge(metric::INSTANCES)
                .with_description("Durable instances by state.")
                .with_unit("{instance}")
                .with_callback(move |o| {
                    for (state, n) in &lock(&stats).instances {
                        o.observe(
                            (*n).max(0) as u64,
                            &[KeyValue::new(semconv::SERVICETASK_INSTANCE_STATE, state.as_str())],
                        );
                    }
                })
                .build()
        };
        let age = meter
            .f64_observable_gauge(metric::JOBS_OLDEST_AGE)
            .with_description("Age of the oldest job in the store.")
            .with_unit("s")
            .with_callback(move |o| o.observe(lock(&stats).oldest_job_age_ms as f64 / 1000.0, &[]))
            .build();
        m.otel = Some(Instruments {
            lease_expiries: meter
                .u64_counter(metric::JOBS_LEASE_EXPIRIES)
                .with_description("This node's job leases that ended before the job did.")
                .with_unit("{lease}")
                .build(),
            takeovers: meter
                .u64_counter(metric::JOBS_TAKEOVERS)
                .with_description("Jobs this node acquired after another lease on them expired.")
                .with_unit("{job}")
                .build(),
            late_completions: meter
                .u64_counter(metric::JOBS_LATE_COMPLETIONS)
                .with_description("Job completions rejected as late: their lease had been taken over, or the instance had moved on without them.")
                .with_unit("{completion}")
                .build(),
            conflicts: meter
                .u64_counter(metric::INSTANCES_CONFLICTS)
                .with_description("Instance transitions redone because another change committed first (optimistic-lock conflicts).")
                .with_unit("{conflict}")
                .build(),
            _gauges: vec![depth, by_state],
            _age: age,
        });
        m
    }

    /// A lease of this node ended before its job did.
    pub fn lease_expired(&self) {
        self.lease_expiries.fetch_add(1, Ordering::Relaxed);
        if let Some(o) = &self.otel {
            o.lease_expiries.add(1, &[]);
        }
    }

    /// This node took a job over from an expired lease.
    pub fn took_over(&self) {
        self.takeovers.fetch_add(1, Ordering::Relaxed);
        if let Some(o) = &self.otel {
            o.takeovers.add(1, &[]);
        }
    }

    /// A completion was rejected: its lease had been taken over.
    pub fn late_completion(&self) {
        self.late_completions.fetch_add(1, Ordering::Relaxed);
        if let Some(o) = &self.otel {
            o.late_completions.add(1, &[]);
        }
    }

    /// A transition was redone after a revision conflict.
    pub fn conflict(&self) {
        self.conflicts.fetch_add(1, Ordering::Relaxed);
        if let Some(o) = &self.otel {
            o.conflicts.add(1, &[]);
        }
    }

    /// A job completion was committed.
    pub fn job_completed(&self) {
        self.jobs_completed.fetch_add(1, Ordering::Relaxed);
    }

    /// Firing an instance's timers failed.
    pub fn timer_failed(&self) {
        self.timer_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Records the store's latest figures for the gauges.
    pub fn set_store_stats(&self, stats: StoreStats) {
        *lock(&self.stats) = stats;
    }

    /// The counters now.
    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            lease_expiries: self.lease_expiries.load(Ordering::Relaxed),
            takeovers: self.takeovers.load(Ordering::Relaxed),
            late_completions: self.late_completions.load(Ordering::Relaxed),
            conflicts: self.conflicts.load(Ordering::Relaxed),
            jobs_completed: self.jobs_completed.load(Ordering::Relaxed),
            timer_failures: self.timer_failures.load(Ordering::Relaxed),
            store: lock(&self.stats).clone(),
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
