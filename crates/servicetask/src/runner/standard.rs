//! The standard pipeline: the resilience layers the configuration asks for, then tracking.
//!
//! Order (outer to inner): fallback > retry (total deadline, budget) > bulkhead > breaker >
//! attempt timeout > tracking > task. Breakers, bulkheads and budgets live in one shared
//! [`Resilience`](servicetask_resilience::Resilience) registry, keyed by task and dependency.

use std::sync::Arc;

use servicetask_core::layer::Layer;
use servicetask_core::TaskConfig;

use super::PipelineFactory;

/// Builds each task's layers from its configuration.
#[derive(Debug, Clone)]
pub struct StandardPipeline {
    #[cfg(feature = "resilience")]
    resilience: Arc<servicetask_resilience::Resilience>,
}

impl StandardPipeline {
    /// A pipeline sharing `resilience` (breakers, bulkheads, budgets, dependency guards).
    #[cfg(feature = "resilience")]
    pub fn new(resilience: Arc<servicetask_resilience::Resilience>) -> Self {
        StandardPipeline { resilience }
    }

    /// A pipeline without resilience layers.
    #[cfg(not(feature = "resilience"))]
    pub fn new() -> Self {
        StandardPipeline {}
    }

    /// The shared resilience registry.
    #[cfg(feature = "resilience")]
    pub fn resilience(&self) -> &Arc<servicetask_resilience::Resilience> {
        &self.resilience
    }
}

impl PipelineFactory for StandardPipeline {
    fn layers(&self, config: &TaskConfig) -> Vec<Arc<dyn Layer>> {
        #[allow(unused_mut)]
        let mut layers: Vec<Arc<dyn Layer>> = Vec::new();
        #[cfg(feature = "resilience")]
        layers.extend(servicetask_resilience::layers(config, &self.resilience));
        #[cfg(feature = "tracking")]
        {
            let t = &config.tracking;
            if t.cpu || t.memory || t.disk_io {
                layers.push(Arc::new(servicetask_tracking::TrackingLayer::new(t)));
            }
        }
        let _ = config;
        layers
    }
}
