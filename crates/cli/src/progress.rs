//! Progress bars (hidden when stderr is not a terminal): one per running multi-instance
//! activity, from the engine's observer calls, and one per `cx.batch` inside a task, from the
//! process-wide batch observer, with the batch's predicted time left (from the task's history of
//! batch runs at first, blended into the run's own rate as items complete).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use indicatif::{ProgressBar, ProgressStyle};
use servicetask::batch::{BatchObserver, BatchProgress};
use servicetask_engine::{EngineObserver, Incident};

/// Draws one bar per running batch.
#[derive(Default)]
pub struct Progress {
    bars: Mutex<HashMap<(String, String), ProgressBar>>,
}

impl Progress {
    /// The process's one set of bars, registered once as the observer of every `cx.batch`.
    pub fn shared() -> Arc<Progress> {
        static SHARED: OnceLock<Arc<Progress>> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                let p = Arc::new(Progress::default());
                servicetask::batch::observe(p.clone());
                p
            })
            .clone()
    }

    /// Moves the bar of `key` to `done` of `total`, with `message` after it; ends it when done.
    fn draw(&self, key: (String, String), done: u64, total: u64, message: String) {
        let mut bars = self.bars.lock().unwrap_or_else(|p| p.into_inner());
        let prefix = key.1.clone();
        let bar = bars.entry(key.clone()).or_insert_with(|| {
            let b = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template("{prefix:>20} [{bar:30}] {pos}/{len} {elapsed} {msg}") {
                b.set_style(style.progress_chars("=> "));
            }
            b.set_prefix(prefix);
            b
        });
        bar.set_length(total);
        bar.set_position(done);
        bar.set_message(message);
        if done >= total {
            bar.finish();
            bars.remove(&key);
        }
    }
}

/// `~1m 05s left` from a batch's predicted time left.
fn time_left(p: &BatchProgress) -> String {
    let failed = if p.failed > 0 {
        format!("{} failed ", p.failed)
    } else {
        String::new()
    };
    match p.eta {
        Some(eta) if p.total.is_some_and(|t| p.processed() < t) => {
            let secs = eta.as_secs();
            format!("{failed}~{}m {:02}s left", secs / 60, secs % 60)
        }
        _ => failed.trim_end().to_string(),
    }
}

impl EngineObserver for Progress {
    fn on_batch_progress(&self, instance_id: &str, element_id: &str, done: usize, total: usize) {
        self.draw(
            (instance_id.to_string(), element_id.to_string()),
            done as u64,
            total as u64,
            String::new(),
        );
    }

    fn on_incident(&self, incident: &Incident) {
        eprintln!("incident on {}: {}", incident.element_id, incident.message);
    }
}

impl BatchObserver for Progress {
    fn on_batch_progress(&self, task: &str, batch: &str, progress: &BatchProgress) {
        // a batch of unknown size is drawn against what it has processed so far
        let total = progress.total.unwrap_or(progress.processed()).max(1);
        self.draw(
            (format!("task {task}"), format!("{task}: {batch}")),
            progress.processed(),
            total,
            time_left(progress),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn progress(done: u64, eta_s: Option<u64>) -> BatchProgress {
        BatchProgress {
            done,
            failed: 2,
            skipped: 0,
            retried: 0,
            total: Some(100),
            elapsed: Duration::from_secs(1),
            rate: 10.0,
            eta: eta_s.map(Duration::from_secs),
        }
    }

    #[test]
    fn the_message_shows_failures_and_the_time_left() {
        assert_eq!(time_left(&progress(40, Some(65))), "2 failed ~1m 05s left");
        assert_eq!(time_left(&progress(98, Some(0))), "2 failed");
    }

    /// A batch's reports reach the shared bars, and its bar goes away when it ends.
    #[test]
    fn batch_reports_move_and_end_a_bar() {
        let p = Progress::default();
        BatchObserver::on_batch_progress(&p, "import", "rows", &progress(40, Some(6)));
        let key = ("task import".to_string(), "import: rows".to_string());
        assert_eq!(p.bars.lock().unwrap()[&key].position(), 42);
        BatchObserver::on_batch_progress(&p, "import", "rows", &progress(98, None));
        assert!(!p.bars.lock().unwrap().contains_key(&key));
    }
}
