//! Bulkhead: a maximum number of concurrent executions per task (and optionally per
//! dependency), with a bounded wait for a free slot.
//!
//! # Quick Start
//!
//! ```
//! use std::time::Duration;
//! use servicetask_core::{BulkheadConfig, TaskConfig};
//! use servicetask_resilience::{layers, Resilience};
//! let config = TaskConfig::builder("render")
//!     .bulkhead(BulkheadConfig { max_concurrent: 4, max_wait: Duration::from_millis(200) })
//!     .build();
//! let resilience = Resilience::default();
//! assert_eq!(layers(&config, &resilience).len(), 1);
//! assert_eq!(resilience.bulkhead("render").unwrap().available(), 4);
//! ```
//!
//! # Configuration
//!
//! `bulkhead` in [`servicetask_core::TaskConfig`] (`[tasks.<name>.bulkhead]` in
//! `servicetask.toml`); per dependency through [`crate::ResilienceBuilder::dependency`].
//!
//! # Defaults
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `max_concurrent` | `25` | executions (attempts) holding a slot at once |
//! | `max_wait` | `0s` | longest wait for a slot before rejecting |
//!
//! A dependency bulkhead never waits (a dependency permit is asked for synchronously):
//! a full one rejects at once.
//!
//! # Thread Safety
//!
//! One [`Bulkhead`] per task (and per dependency), shared by every execution; a fair tokio
//! semaphore hands out slots in arrival order. A slot is held for one attempt (the bulkhead
//! sits inside the retry layer, so a sleeping retry holds no slot).
//!
//! # Telemetry
//!
//! | what | when | attributes |
//! |---|---|---|
//! | span event `servicetask.rejection` | no slot within `max_wait` | `servicetask.rejection.reason = bulkhead_full` |
//! | counter `servicetask.rejections` | same | `servicetask.name`, `servicetask.rejection.reason = bulkhead_full` |
//!
//! A rejection fails with class `bulkhead_full`: never retried in process, never a breaker
//! failure (the breaker gives its slot back).
//!
//! # Examples
//!
//! ```
//! use servicetask_core::BulkheadConfig;
//! use servicetask_resilience::Bulkhead;
//! let b = Bulkhead::new("render", &BulkheadConfig { max_concurrent: 1, ..Default::default() });
//! let held = b.try_acquire().unwrap();
//! assert!(b.try_acquire().is_err());
//! drop(held);
//! assert!(b.try_acquire().is_ok());
//! ```

mod error;
mod layer;

use std::sync::Arc;
use std::time::Duration;

use servicetask_core::BulkheadConfig;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub use error::BulkheadFullError;
pub use layer::BulkheadLayer;

/// A bounded pool of execution slots.
#[derive(Debug)]
pub struct Bulkhead {
    name: Arc<str>,
    max_concurrent: u32,
    max_wait: Duration,
    slots: Arc<Semaphore>,
}

/// A held slot; dropping it frees the slot.
#[derive(Debug)]
pub struct BulkheadPermit {
    _permit: OwnedSemaphorePermit,
}

impl Bulkhead {
    /// A bulkhead named `name` (the task name or `dependency:<name>`).
    pub fn new(name: impl Into<Arc<str>>, config: &BulkheadConfig) -> Self {
        let max = config.max_concurrent.max(1);
        Bulkhead {
            name: name.into(),
            max_concurrent: max,
            max_wait: config.max_wait,
            slots: Arc::new(Semaphore::new(max as usize)),
        }
    }

    /// The key.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Slots free now.
    pub fn available(&self) -> usize {
        self.slots.available_permits()
    }

    /// Slots in all.
    pub fn max_concurrent(&self) -> u32 {
        self.max_concurrent
    }

    fn full(&self) -> BulkheadFullError {
        BulkheadFullError {
            bulkhead: Arc::clone(&self.name),
            max_concurrent: self.max_concurrent,
            waited: self.max_wait,
        }
    }

    /// Takes a slot now or fails.
    pub fn try_acquire(&self) -> Result<BulkheadPermit, BulkheadFullError> {
        Arc::clone(&self.slots)
            .try_acquire_owned()
            .map(|p| BulkheadPermit { _permit: p })
            .map_err(|_| BulkheadFullError {
                waited: Duration::ZERO,
                ..self.full()
            })
    }

    /// Takes a slot, waiting up to `max_wait` for one.
    pub async fn acquire(&self) -> Result<BulkheadPermit, BulkheadFullError> {
        if self.max_wait.is_zero() {
            return self.try_acquire();
        }
        match tokio::time::timeout(self.max_wait, Arc::clone(&self.slots).acquire_owned()).await {
            Ok(Ok(p)) => Ok(BulkheadPermit { _permit: p }),
            _ => Err(self.full()),
        }
    }
}
