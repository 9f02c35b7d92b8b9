//! The serialisable state of a process instance: scopes, tokens, timers, incidents.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use servicetask_bpmn::ElementKind;
use std::sync::Arc;

/// Identifies a token or a scope within one instance.
pub type Id = u64;

/// What a scope is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScopeKind {
    /// The process instance itself.
    Process,
    /// An embedded subprocess.
    SubProcess,
    /// A called process.
    CallActivity,
    /// One instance of a multi-instance activity.
    MiChild {
        /// The instance's index, from 0.
        index: usize,
    },
}

/// A variable scope with its own tokens: the process, a subprocess, a called process or one
/// multi-instance child.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scope {
    /// Its id.
    pub id: Id,
    /// The enclosing scope.
    pub parent: Option<Id>,
    /// The token (in the parent scope) that waits for this scope.
    pub owner: Option<Id>,
    /// What it is.
    pub kind: ScopeKind,
    /// The process whose elements run in it.
    pub process_id: String,
    /// The subprocess element whose children run in it (`None`: process level).
    pub container: Option<String>,
    /// Its variables (a copy of the parent's at entry, as SpiffWorkflow does).
    pub vars: Map<String, Value>,
    /// Variable names present at entry (to carry deletions back out).
    pub entry_keys: Vec<String>,
    /// The correlation keys of the conversations this scope takes part in (key name -> the
    /// values of its properties), set by the first message it sent or caught of each.
    #[serde(default)]
    pub correlations: Map<String, Value>,
}

/// What a token is doing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TokenState {
    /// About to enter its element.
    Ready,
    /// Entered; about to call its service task.
    CallPending,
    /// Waiting for the API: a user, manual or receive task, or a message/signal catch.
    Waiting,
    /// Waiting for a timer (intermediate timer catch event, or a retry backoff).
    Timer,
    /// Waiting at a parallel or inclusive join.
    Joining,
    /// A throw event that has completed and moved its token on, its signal, message or
    /// escalation still to be delivered (once the tokens it moved on can go no further).
    Throwing,
    /// Its activity runs in a child scope (subprocess, call activity).
    InScope(Id),
    /// The body of a multi-instance activity (boxed: tokens move on every step, and most are
    /// not multi-instance bodies).
    MiBody(Box<MiState>),
    /// A task failed with no retries left.
    Incident {
        /// What went wrong.
        message: String,
        /// Its error class.
        error_class: String,
    },
}

/// Progress of a multi-instance body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MiState {
    /// Items, one per instance (indexes for a cardinality).
    pub items: Vec<Value>,
    /// Outputs by index.
    pub outputs: Vec<Value>,
    /// Instances started.
    pub started: usize,
    /// Instances finished.
    pub done: usize,
    /// Sequential or parallel.
    pub sequential: bool,
    /// Keys of the items when the input collection is an object (the output is then an
    /// object with the same keys).
    #[serde(default)]
    pub keys: Option<Vec<String>>,
}

/// A token: a position in the flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Token {
    /// Its id.
    pub id: Id,
    /// Its scope.
    pub scope: Id,
    /// The element it is at (shared with the process index: moving a token allocates no id).
    pub element: Arc<str>,
    /// The flow it arrived by.
    pub via: Option<Arc<str>>,
    /// What it is doing.
    pub state: TokenState,
    /// True for the token running one instance of a multi-instance activity.
    pub mi_inner: bool,
    /// Standard loop iterations done.
    pub loop_count: u64,
    /// Service call attempts made.
    pub attempts: u32,
    /// Where the element sits in the instance's compiled processes (found once, not saved).
    #[serde(skip)]
    pub(crate) slot: ElementSlot,
}

/// A token's element as (process slot of the instance, element index): a cache, so it takes no
/// part in equality and is not saved.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ElementSlot(pub Option<(u32, u32)>);

impl PartialEq for ElementSlot {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// What a timer does when it fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TimerAction {
    /// A boundary timer on the activity of `token`.
    Boundary {
        /// The boundary event element.
        boundary: String,
        /// Interrupting or not.
        interrupting: bool,
        /// Further firings (timer cycles).
        repeats_left: Option<u32>,
        /// Interval between firings, in milliseconds.
        interval_ms: u64,
    },
    /// An intermediate timer catch event reached by `token`.
    Catch,
    /// A retry of the service task of `token`.
    Retry,
    /// The cycle timer start event of a collaboration's pool, waited at by `token`: each
    /// firing starts that pool instance and leaves the next one waiting.
    PoolStart {
        /// Further firings.
        repeats_left: Option<u32>,
        /// Interval between firings, in milliseconds.
        interval_ms: u64,
    },
    /// The timer start event of an event subprocess listening in `scope`.
    EventSubprocess {
        /// The listening scope.
        scope: Id,
        /// The event subprocess element.
        element: String,
    },
}

/// A pending timer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimerEntry {
    /// Its id.
    pub id: Id,
    /// The token it belongs to.
    pub token: Id,
    /// When it fires, in milliseconds of the instance clock.
    pub due_ms: u64,
    /// What it does.
    pub action: TimerAction,
}

/// An activity completion, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletedActivity {
    /// The element id.
    pub element_id: Arc<str>,
    /// The process it belongs to.
    pub process_id: Arc<str>,
    /// Its kind.
    pub kind: ElementKind,
    /// True for one instance of a multi-instance activity.
    pub mi_child: bool,
}

/// A task waiting to be completed through the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaitingTask {
    /// The token id (a unique key for [`crate::Instance::complete_task`]).
    pub token_id: Id,
    /// The element id (also a key, when only one token waits there).
    pub element_id: String,
    /// The element name.
    pub name: Option<String>,
    /// Its kind (user, manual, receive task, catch event, or plain task).
    pub kind: ElementKind,
    /// The process it belongs to.
    pub process_id: String,
    /// The variables it sees.
    pub variables: Map<String, Value>,
}

/// A task that failed with no retries left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// The token id (a key for [`crate::Instance::retry_incident`]).
    pub token_id: Id,
    /// The element id.
    pub element_id: String,
    /// The process it belongs to.
    pub process_id: String,
    /// What went wrong.
    pub message: String,
    /// Its error class.
    pub error_class: String,
}

/// Where an instance stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InstanceStatus {
    /// Still running (or waiting).
    Running,
    /// Reached its end.
    Completed,
    /// Failed; the message says why.
    Failed(String),
}

/// Everything needed to resume an instance later (with the same definitions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceSnapshot {
    /// The instance id.
    pub instance_id: String,
    /// The process started.
    pub process_id: String,
    /// The file it came from.
    pub file: String,
    /// Scopes, the process scope first.
    pub scopes: Vec<Scope>,
    /// Live tokens.
    pub tokens: Vec<Token>,
    /// Pending timers; `due_ms` is relative to the moment of the snapshot.
    pub timers: Vec<TimerEntry>,
    /// Completed activities, in order.
    pub completed: Vec<CompletedActivity>,
    /// Status.
    pub status: InstanceStatus,
    /// Next free id.
    pub next_id: Id,
    /// W3C traceparent of the instance span, so a resumed instance stays in its trace.
    pub traceparent: Option<String>,
    /// Steps taken so far.
    pub steps: u64,
    /// Messages sent that no catcher has taken yet.
    #[serde(default)]
    pub pending_messages: Vec<(String, Value)>,
    /// In a collaboration: the process of each pool instance that has ended, in order.
    #[serde(default)]
    pub completed_pools: Vec<String>,
}
