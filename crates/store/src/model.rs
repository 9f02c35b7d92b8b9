//! The rows a [`crate::Store`] keeps and the changes it commits.

use serde::{Deserialize, Serialize};

/// A BPMN file to deploy.
#[derive(Debug, Clone)]
pub struct NewDeployment {
    /// The file name it came from.
    pub file: String,
    /// Its content.
    pub content: Vec<u8>,
    /// A hash of the content (hex); equal content, equal deployment.
    pub hash: String,
    /// The executable processes it defines.
    pub process_ids: Vec<String>,
}

/// A deployed BPMN file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    /// Its id (the content hash).
    pub id: String,
    /// The file name it came from.
    pub file: String,
    /// Its content.
    #[serde(skip)]
    pub content: Vec<u8>,
    /// The processes it defines, each with its version (1 for the first content deployed
    /// under that process id, then one more per new content).
    pub processes: Vec<(String, i64)>,
    /// When it was deployed (Unix ms).
    pub created_ms: i64,
}

/// Where an instance stands, as the store indexes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceState {
    /// Moving on its own: jobs to run or timers to fire.
    Active,
    /// Waiting for the API: a user task, a message or a signal (and perhaps timers too).
    Waiting,
    /// A task failed with no retries left: waiting for a retry or a resolution.
    Incident,
    /// Reached its end.
    Completed,
    /// Failed.
    Failed,
    /// Cancelled through the API.
    Cancelled,
}

impl InstanceState {
    /// Every state, in a fixed order.
    pub const ALL: [InstanceState; 6] = [
        InstanceState::Active,
        InstanceState::Waiting,
        InstanceState::Incident,
        InstanceState::Completed,
        InstanceState::Failed,
        InstanceState::Cancelled,
    ];

    /// Its name in the database and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceState::Active => "active",
            InstanceState::Waiting => "waiting",
            InstanceState::Incident => "incident",
            InstanceState::Completed => "completed",
            InstanceState::Failed => "failed",
            InstanceState::Cancelled => "cancelled",
        }
    }

    /// The state named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// True when the instance will never change again.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            InstanceState::Completed | InstanceState::Failed | InstanceState::Cancelled
        )
    }
}

/// An instance as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceRow {
    /// Its id.
    pub id: String,
    /// The deployment it runs.
    pub deployment_id: String,
    /// The process started.
    pub process_id: String,
    /// The caller's key for it.
    pub business_key: Option<String>,
    /// Where it stands.
    pub state: InstanceState,
    /// Bumped by every committed transition.
    pub revision: i64,
    /// The engine's snapshot (JSON), timers relative to `saved_at_ms`.
    pub snapshot: String,
    /// When the snapshot was taken (Unix ms).
    pub saved_at_ms: i64,
    /// When its next timer is due (Unix ms).
    pub wake_at_ms: Option<i64>,
    /// When it was started (Unix ms).
    pub created_ms: i64,
}

/// What a transition does to the instance row.
#[derive(Debug, Clone, PartialEq)]
pub enum TransitionKind {
    /// Creates the instance (revision 1).
    Create(NewInstance),
    /// Updates it, provided its revision is still this one.
    Update {
        /// The revision the change was computed from.
        expected_revision: i64,
    },
}

/// A new instance's fixed columns.
#[derive(Debug, Clone, PartialEq)]
pub struct NewInstance {
    /// The deployment it runs.
    pub deployment_id: String,
    /// The process started.
    pub process_id: String,
    /// The caller's key for it.
    pub business_key: Option<String>,
}

/// A job completion's proof of lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobLease {
    /// The job.
    pub job_id: i64,
    /// The token its lease was granted with.
    pub lease_token: String,
}

/// One state change of one instance, committed atomically.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The instance.
    pub instance_id: String,
    /// Create or update (with the revision it was computed from).
    pub kind: TransitionKind,
    /// Its new state.
    pub state: InstanceState,
    /// Its new snapshot, written as given: the caller leaves sensitive variable values out
    /// (the store cannot tell variable data from the snapshot's own fields).
    pub snapshot: String,
    /// When the snapshot was taken (Unix ms).
    pub saved_at_ms: i64,
    /// When its next timer is due (Unix ms).
    pub wake_at_ms: Option<i64>,
    /// Its pending jobs after the change: jobs already stored under these keys stay as they
    /// are (with their leases), new keys are added, and the instance's other jobs are deleted.
    pub jobs: Vec<NewJob>,
    /// The job this transition completes: the commit fails with
    /// [`crate::StoreError::LeaseLost`] unless the job is still leased with this token.
    pub completes_job: Option<JobLease>,
    /// History events to append.
    pub history: Vec<NewHistoryEvent>,
}

/// A service call waiting to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewJob {
    /// Unique across the store, the same for every attempt of one activation: the task's
    /// idempotency key.
    pub key: String,
    /// The engine token waiting for it.
    pub token_id: u64,
    /// The BPMN element.
    pub element_id: String,
    /// The process of the element.
    pub process_id: String,
    /// The task type it is bound to.
    pub task_type: String,
    /// The element's whole binding (JSON, opaque to the store).
    pub binding: String,
    /// Its input variables (JSON object), written as given: the caller leaves sensitive values
    /// out.
    pub variables: String,
    /// The instance span's W3C traceparent, so the task span joins the instance's trace on
    /// whichever node runs it.
    pub traceparent: Option<String>,
}

/// A stored job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Its id.
    pub id: i64,
    /// Its instance.
    pub instance_id: String,
    /// Its instance's deployment.
    pub deployment_id: String,
    /// What to run.
    pub spec: NewJob,
    /// When it was created (Unix ms).
    pub created_ms: i64,
    /// How many leases it has had, this one included.
    pub leases: i64,
}

/// A request for jobs.
#[derive(Debug, Clone)]
pub struct Acquire {
    /// Who asks (a node id), recorded as the lease owner.
    pub owner: String,
    /// At most this many jobs.
    pub max: usize,
    /// The lease length.
    pub lease_ms: i64,
    /// The store clock's now (Unix ms).
    pub now_ms: i64,
}

/// A job leased to the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct LeasedJob {
    /// The job.
    pub job: Job,
    /// The token its completion must carry.
    pub lease_token: String,
    /// When the lease ends unless extended (Unix ms).
    pub lease_until_ms: i64,
    /// True when the job was leased before and that lease expired (a take-over).
    pub taken_over: bool,
}

/// A history event to append.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewHistoryEvent {
    /// What happened (`started`, `job_completed`, `task_completed`, `completed`, ...).
    pub kind: String,
    /// The element concerned.
    pub element_id: Option<String>,
    /// Details (JSON).
    pub detail: Option<String>,
}

/// A stored history event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEvent {
    /// Its id, increasing.
    pub id: i64,
    /// The instance.
    pub instance_id: String,
    /// When it was committed (Unix ms).
    pub at_ms: i64,
    /// The event.
    #[serde(flatten)]
    pub event: NewHistoryEvent,
}

/// Which instances a listing selects.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstanceQuery {
    /// Only in this state.
    pub state: Option<InstanceState>,
    /// Only of this process.
    pub process_id: Option<String>,
    /// Only with this business key.
    pub business_key: Option<String>,
    /// At most this many.
    pub limit: Option<usize>,
    /// Skip this many first.
    pub offset: usize,
}

/// Operator figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoreStats {
    /// Jobs stored (leased or not).
    pub queue_depth: i64,
    /// Age of the oldest job, in ms.
    pub oldest_job_age_ms: i64,
    /// Jobs whose lease is live.
    pub leased_jobs: i64,
    /// Instances per state.
    pub instances: Vec<(InstanceState, i64)>,
}
