//! Progress callbacks: what a CLI needs to print progress bars and a summary.

use servicetask_bpmn::ElementKind;

/// An element started or completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementEvent {
    /// The process instance.
    pub instance_id: String,
    /// The process the element belongs to.
    pub process_id: String,
    /// The element id.
    pub element_id: String,
    /// The element name.
    pub element_name: Option<String>,
    /// The element kind.
    pub kind: ElementKind,
    /// True for one instance of a multi-instance activity.
    pub mi_child: bool,
}

/// Receives engine events. Every method has an empty default; calls come from the thread
/// running the instance, so keep them quick.
pub trait EngineObserver: Send + Sync {
    /// An element was entered.
    fn on_element_started(&self, _event: &ElementEvent) {}
    /// An element completed.
    fn on_element_completed(&self, _event: &ElementEvent) {}
    /// A multi-instance batch progressed: `done` of `total` instances finished.
    fn on_batch_progress(&self, _instance_id: &str, _element_id: &str, _done: usize, _total: usize) {}
    /// A task failed with no retries left and became an incident.
    fn on_incident(&self, _incident: &crate::Incident) {}
}
