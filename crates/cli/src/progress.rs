//! Progress bars for multi-instance batches (hidden when stderr is not a terminal).

use std::collections::HashMap;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use servicetask_engine::{EngineObserver, Incident};

/// Draws one bar per running batch.
#[derive(Default)]
pub struct Progress {
    bars: Mutex<HashMap<(String, String), ProgressBar>>,
}

impl EngineObserver for Progress {
    fn on_batch_progress(&self, instance_id: &str, element_id: &str, done: usize, total: usize) {
        let mut bars = self.bars.lock().unwrap_or_else(|p| p.into_inner());
        let bar = bars
            .entry((instance_id.to_string(), element_id.to_string()))
            .or_insert_with(|| {
                let b = ProgressBar::new(total as u64);
                if let Ok(style) = ProgressStyle::with_template("{prefix:>20} [{bar:30}] {pos}/{len} {elapsed}") {
                    b.set_style(style.progress_chars("=> "));
                }
                b.set_prefix(element_id.to_string());
                b
            });
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        if done >= total {
            bar.finish();
        }
    }

    fn on_incident(&self, incident: &Incident) {
        eprintln!("incident on {}: {}", incident.element_id, incident.message);
    }
}
