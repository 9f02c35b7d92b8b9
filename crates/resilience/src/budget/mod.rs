//! Retry budget: retries as a fraction of calls over a sliding window, so a fleet of workers
//! does not multiply an outage by its retry count.
//!
//! # Quick Start
//!
//! ```
//! use std::sync::Arc;
//! use servicetask_core::RetryBudgetConfig;
//! use servicetask_resilience::{ManualClock, RetryBudget};
//! let budget = RetryBudget::new(
//!     &RetryBudgetConfig { ratio: 0.1, min_per_second: 0, ..Default::default() },
//!     Arc::new(ManualClock::default()),
//! );
//! for _ in 0..20 { budget.deposit(); }
//! assert!(budget.try_withdraw());
//! assert!(budget.try_withdraw());
//! assert!(!budget.try_withdraw()); // 10% of 20 calls is 2 retries
//! ```
//!
//! # Configuration
//!
//! `retry.budget` in [`servicetask_core::RetryConfig`] (`[tasks.<name>.retry.budget]` in
//! `servicetask.toml`): `ratio`, `window`, `min_per_second`.
//!
//! # Defaults
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `ratio` | `0.2` | retries allowed per call in the window |
//! | `window` | `10s` | sliding window (cut in 10 buckets) |
//! | `min_per_second` | `10` | retries always allowed per second of window |
//!
//! # Thread Safety
//!
//! One budget per task, shared by every execution of that task (kept in
//! [`crate::Resilience`]); a short mutex guards ten buckets.
//!
//! # Telemetry
//!
//! When the budget refuses a retry, the retry layer fails the execution with class
//! `budget_exhausted`, adds a `servicetask.rejection` span event and counts
//! `servicetask.rejections` with `servicetask.rejection.reason = budget_exhausted`.
//!
//! # Examples
//!
//! See the retry layer ([`crate::RetryLayer`]) and `tests/retry.rs`.

mod error;
mod window;

use std::fmt;
use std::sync::{Arc, Mutex};

use servicetask_core::RetryBudgetConfig;

use crate::clock::Clock;
pub use error::BudgetExhaustedError;
use window::BudgetWindow;

/// A retry budget shared by all executions of one task.
pub struct RetryBudget {
    clock: Arc<dyn Clock>,
    window: Mutex<BudgetWindow>,
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (calls, retries) = self.totals();
        f.debug_struct("RetryBudget")
            .field("calls", &calls)
            .field("retries", &retries)
            .finish()
    }
}

impl RetryBudget {
    /// A budget reading time from `clock`.
    pub fn new(config: &RetryBudgetConfig, clock: Arc<dyn Clock>) -> Self {
        let window = BudgetWindow::new(clock.now(), config.window, config.ratio, config.min_per_second);
        RetryBudget {
            clock,
            window: Mutex::new(window),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BudgetWindow> {
        self.window.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one call (a first attempt).
    pub fn deposit(&self) {
        let now = self.clock.now();
        self.lock().deposit(now);
    }

    /// Spends one retry if the budget allows it; `false` when it is exhausted.
    pub fn try_withdraw(&self) -> bool {
        let now = self.clock.now();
        self.lock().try_withdraw(now)
    }

    /// `(calls, retries)` in the current window.
    pub fn totals(&self) -> (u64, u64) {
        let now = self.clock.now();
        self.lock().totals(now)
    }
}
