//! [`Host`]: every state change of a durable instance, as one committed transition.
//!
//! A change reads the instance row, resumes the engine from its snapshot (timers moved on by
//! the time since it was saved, so an overdue one fires at once), applies one event, runs the
//! engine to its next wait and commits the new snapshot, the instance's pending jobs, its next
//! wake-up time and history events in one transaction guarded by the revision it read. On a
//! revision conflict it starts again from the new row.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use servicetask_engine::{
    Deployment as Compiled, Engine, EngineConfig, EngineError, Instance, InstanceSnapshot, RunOutcome, StubHandler,
};
use servicetask_store::{
    now_ms, Deployment, InstanceQuery, InstanceRow, InstanceState, JobLease, NewDeployment, NewHistoryEvent,
    NewInstance, NewJob, Store, StoreError, Transition, TransitionKind,
};
use sha2::Digest as _;

use crate::at_rest::AtRest;
use crate::metrics::Metrics;
use crate::state_key::StateKey;
use crate::view::InstanceView;
use crate::HostError;

/// How a host behaves.
#[derive(Debug, Clone, Default)]
pub struct HostConfig {
    /// Variable names whose values never leave the process (the runner's sensitive input
    /// fields): shown as `"[redacted]"` in every view.
    pub redact: Vec<String>,
    /// The key every node shares to store those variables' values encrypted while an
    /// instance lives; without one they are not stored at all ([`crate::at_rest`]).
    pub state_key: Option<StateKey>,
}

/// What starting an instance takes.
#[derive(Debug, Clone, Default)]
pub struct StartRequest {
    /// The process to start (its newest deployment unless `deployment_id` is given).
    pub process_id: String,
    /// A specific deployment.
    pub deployment_id: Option<String>,
    /// Start variables.
    pub variables: Map<String, Value>,
    /// The caller's key for the instance.
    pub business_key: Option<String>,
    /// A W3C traceparent: the instance span joins that trace.
    pub traceparent: Option<String>,
}

/// How many times a change is redone after revision conflicts before it gives up.
const MAX_CONFLICTS: u32 = 1000;

/// The state changes of durable instances over one store. Shared by the API and the worker.
pub struct Host {
    store: Arc<dyn Store>,
    engine: Engine,
    compiled: Mutex<HashMap<String, Compiled>>,
    metrics: Arc<Metrics>,
    jobs_ready: tokio::sync::Notify,
    at_rest: AtRest,
    config: HostConfig,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A change to apply to a resumed instance: history events to record, or `None` to change
/// nothing (and commit nothing).
pub(crate) type Change<'a> =
    Box<dyn FnMut(&mut Instance, &Resumed) -> Result<Option<Vec<NewHistoryEvent>>, HostError> + Send + 'a>;

/// What a commit loop's builder returns: the row it was given back, with the transition to
/// commit (`None`: nothing to commit).
pub(crate) type BuildFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<(InstanceRow, Option<Transition>), HostError>> + Send + 'a>,
>;

impl Host {
    /// A host over `store`, counting into `metrics`.
    pub fn new(store: Arc<dyn Store>, metrics: Arc<Metrics>, config: HostConfig) -> Self {
        let engine = Engine::builder(Arc::new(StubHandler))
            .config(EngineConfig {
                external_jobs: true,
                ..EngineConfig::default()
            })
            .build();
        Host {
            store,
            engine,
            compiled: Mutex::new(HashMap::new()),
            metrics,
            jobs_ready: tokio::sync::Notify::new(),
            at_rest: AtRest::new(config.state_key.clone()),
            config,
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The names of sensitive variables (never shown, never in a stored message).
    pub fn sensitive_names(&self) -> &[String] {
        &self.config.redact
    }

    /// One line saying how sensitive values are kept at rest (printed once by `serve`).
    pub fn at_rest_mode(&self) -> String {
        self.at_rest.describe()
    }

    /// How sensitive values are kept at rest.
    pub(crate) fn at_rest(&self) -> &AtRest {
        &self.at_rest
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Signalled whenever a commit of this host created jobs (so a local worker does not wait
    /// for its next poll).
    pub fn jobs_ready(&self) -> &tokio::sync::Notify {
        &self.jobs_ready
    }

    /// Validates and records a BPMN file. The same content deploys once; new content under a
    /// process id already deployed gets the next version.
    pub async fn deploy(&self, file: &str, content: &[u8]) -> Result<Deployment, HostError> {
        let (defs, diags) = servicetask_bpmn::parse(file, content);
        let errors: Vec<_> = diags.into_iter().filter(|d| d.is_error()).collect();
        if !errors.is_empty() {
            return Err(HostError::InvalidBpmn(errors));
        }
        let compiled = match self.engine.deploy(&defs) {
            Ok(c) => c,
            Err(EngineError::Invalid(d)) => return Err(HostError::InvalidBpmn(d)),
            Err(e) => return Err(e.into()),
        };
        let hash = sha2::Sha256::digest(content)
            .iter()
            .take(12)
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        let process_ids = defs
            .processes
            .iter()
            .filter(|p| !p.elements.is_empty())
            .map(|p| p.id.clone())
            .collect();
        let d = self
            .store
            .deploy(NewDeployment {
                file: file.to_string(),
                content: content.to_vec(),
                hash: hash.clone(),
                process_ids,
            })
            .await?;
        lock(&self.compiled).insert(hash, compiled);
        Ok(d)
    }

    /// The compiled form of a stored deployment (parsed once per node).
    async fn compiled(&self, deployment_id: &str) -> Result<Compiled, HostError> {
        if let Some(c) = lock(&self.compiled).get(deployment_id) {
            return Ok(c.clone());
        }
        let d = self
            .store
            .deployment(deployment_id)
            .await?
            .ok_or_else(|| HostError::NotFound {
                what: "deployment",
                key: deployment_id.to_string(),
                field: "deploymentId",
            })?;
        let (defs, _) = servicetask_bpmn::parse(&d.file, &d.content);
        let c = self.engine.deploy(&defs)?;
        lock(&self.compiled).insert(deployment_id.to_string(), c.clone());
        Ok(c)
    }

    /// Starts an instance and runs it to its first wait.
    pub async fn start(&self, req: StartRequest) -> Result<InstanceView, HostError> {
        let deployment = match &req.deployment_id {
            Some(id) => self.store.deployment(id).await?.ok_or_else(|| HostError::NotFound {
                what: "deployment",
                key: id.clone(),
                field: "deploymentId",
            })?,
            None => self
                .store
                .latest_deployment(&req.process_id)
                .await?
                .ok_or_else(|| HostError::NotFound {
                    what: "process",
                    key: req.process_id.clone(),
                    field: "processId",
                })?,
        };
        if !deployment.processes.iter().any(|(p, _)| *p == req.process_id) {
            return Err(HostError::NotFound {
                what: "process",
                key: req.process_id.clone(),
                field: "processId",
            });
        }
        let compiled = self.compiled(&deployment.id).await?;
        let mut vars = req.variables;
        if let Some(tp) = req.traceparent {
            vars.insert("traceparent".into(), Value::String(tp));
        }
        for _ in 0..MAX_CONFLICTS {
            let now = now_ms();
            let (t, row) = {
                let mut inst = compiled.start(&req.process_id, vars.clone())?;
                let outcome = inst.run().await;
                let history = vec![event("started", None, None)];
                let kind = TransitionKind::Create(NewInstance {
                    deployment_id: deployment.id.clone(),
                    process_id: req.process_id.clone(),
                    business_key: req.business_key.clone(),
                });
                let t = self.transition(&mut inst, outcome, kind, None, history);
                let row = row_of(&t, 1, now);
                (t, row)
            };
            let has_jobs = !t.jobs.is_empty();
            let ended = t.state.is_final().then(|| t.instance_id.clone());
            match self.store.commit(t).await {
                Ok(_) => {
                    if let Some(id) = ended {
                        self.at_rest.forget(&id);
                    }
                    if has_jobs {
                        self.jobs_ready.notify_one();
                    }
                    return Ok(self.view(&row));
                }
                // the engine's instance ids are unique per node; across nodes a clash is
                // possible, if unlikely: start again under a new id
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(HostError::Store(StoreError::Database("no free instance id".into())))
    }

    /// An instance as the API shows it.
    pub async fn instance(&self, id: &str) -> Result<InstanceView, HostError> {
        let row = self.row(id).await?;
        Ok(self.view(&row))
    }

    /// Instances matching `q`.
    pub async fn instances(&self, q: InstanceQuery) -> Result<Vec<InstanceView>, HostError> {
        Ok(self.store.instances(q).await?.iter().map(|r| self.view(r)).collect())
    }

    fn view(&self, row: &InstanceRow) -> InstanceView {
        InstanceView::from_row(row, &self.config.redact)
    }

    async fn row(&self, id: &str) -> Result<InstanceRow, HostError> {
        self.store.instance(id).await?.ok_or_else(|| HostError::NotFound {
            what: "instance",
            key: id.to_string(),
            field: "instanceId",
        })
    }

    /// Reads the instance, builds its next transition with `build` and commits it, again
    /// from the new row after each revision conflict. `build` returning `None` commits
    /// nothing (and answers `None`). The one commit loop of every change of a live instance.
    pub(crate) async fn commit_loop<'a>(
        &'a self,
        id: &str,
        mut build: impl FnMut(InstanceRow) -> BuildFuture<'a>,
    ) -> Result<Option<InstanceView>, HostError> {
        for _ in 0..MAX_CONFLICTS {
            let row = self.row(id).await?;
            if row.state.is_final() {
                return Err(HostError::Finished(id.to_string()));
            }
            let (row, t) = build(row).await?;
            let Some(t) = t else {
                return Ok(None);
            };
            let has_jobs = !t.jobs.is_empty();
            let (state, snapshot, saved_at_ms, wake_at_ms) = (t.state, t.snapshot.clone(), t.saved_at_ms, t.wake_at_ms);
            match self.store.commit(t).await {
                Ok(revision) => {
                    if state.is_final() {
                        self.at_rest.forget(id);
                    }
                    if has_jobs {
                        self.jobs_ready.notify_one();
                    }
                    return Ok(Some(self.view(&InstanceRow {
                        state,
                        revision,
                        snapshot,
                        saved_at_ms,
                        wake_at_ms,
                        ..row
                    })));
                }
                Err(StoreError::Conflict(_)) => self.metrics.conflict(),
                Err(e) => return Err(e.into()),
            }
        }
        Err(HostError::Store(StoreError::Conflict(id.to_string())))
    }

    /// Resumes one instance, applies `apply`, runs it to its next wait and commits, again
    /// after each revision conflict. `apply` returning `None` changes nothing and commits
    /// nothing (the answer is then `None`).
    pub(crate) async fn change(
        &self,
        id: &str,
        lease: Option<JobLease>,
        apply: Change<'_>,
    ) -> Result<Option<InstanceView>, HostError> {
        let apply = Arc::new(tokio::sync::Mutex::new(apply));
        self.commit_loop(id, |row| {
            let (apply, lease) = (apply.clone(), lease.clone());
            Box::pin(async move {
                let compiled = self.compiled(&row.deployment_id).await?;
                let (mut inst, resumed) = self.resume(&compiled, &row, now_ms())?;
                let applied = (apply.lock().await)(&mut inst, &resumed)?;
                let Some(history) = applied else {
                    return Ok((row, None));
                };
                let outcome = inst.run().await;
                let kind = TransitionKind::Update {
                    expected_revision: row.revision,
                };
                let t = self.transition(&mut inst, outcome, kind, lease, history);
                Ok((row, Some(t)))
            })
        })
        .await
    }

    /// The transition that records `inst` as it stands after `outcome`. Its wake-up time is
    /// read from the snapshot it saves, on the same clock reading as `saved_at_ms`, so the
    /// row is due exactly when a timer of the snapshot is.
    pub(crate) fn transition(
        &self,
        inst: &mut Instance,
        outcome: RunOutcome,
        kind: TransitionKind,
        completes_job: Option<JobLease>,
        mut history: Vec<NewHistoryEvent>,
    ) -> Transition {
        let mut state = match &outcome {
            RunOutcome::Completed => InstanceState::Completed,
            RunOutcome::Failed(_) => InstanceState::Failed,
            RunOutcome::Waiting { tasks, incidents, .. } => {
                if !incidents.is_empty() {
                    InstanceState::Incident
                } else if !tasks.is_empty() {
                    InstanceState::Waiting
                } else {
                    InstanceState::Active
                }
            }
        };
        let mut jobs = Vec::new();
        if !state.is_final() {
            match inst.pending_jobs() {
                Ok(calls) => {
                    let traceparent = inst.traceparent().map(str::to_string);
                    for (token, call) in calls {
                        let mut variables = call.variables;
                        self.at_rest.seal_vars(inst.id(), &mut variables, &self.config.redact);
                        jobs.push(NewJob {
                            key: format!("{}:{token}", inst.id()),
                            token_id: token,
                            element_id: call.element_id.to_string(),
                            process_id: call.process_id.to_string(),
                            task_type: call.binding.task_type.clone(),
                            binding: serde_json::to_string(&*call.binding).unwrap_or_default(),
                            variables: Value::Object(variables).to_string(),
                            traceparent: traceparent.clone(),
                        });
                    }
                }
                Err(_) => state = InstanceState::Failed,
            }
        }
        match (&outcome, state) {
            (_, InstanceState::Completed) => history.push(event("completed", None, None)),
            (RunOutcome::Failed(e), _) => history.push(event("failed", None, Some(e.to_string()))),
            (_, InstanceState::Failed) => history.push(event("failed", None, inst.error().map(ToString::to_string))),
            _ => {}
        }
        let mut snap = inst.snapshot();
        if state.is_final() {
            // no job will need them again: a finished instance keeps no secret at rest
            crate::secrets::redact_snapshot(&mut snap, &self.config.redact);
        } else {
            self.at_rest.seal_snapshot(&mut snap, &self.config.redact);
        }
        let saved_at_ms = now_ms();
        let wake_at_ms = wake_at(&snap, saved_at_ms).filter(|_| !state.is_final());
        Transition {
            instance_id: inst.id().to_string(),
            kind,
            state,
            snapshot: serde_json::to_string(&snap).unwrap_or_default(),
            saved_at_ms,
            wake_at_ms,
            jobs,
            completes_job,
            history,
        }
    }
}

/// What resuming found, for a change to decide whether there is anything to do.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Resumed {
    /// A timer of the snapshot is due (it fires when the instance runs).
    pub timers_due: bool,
    /// The row's wake-up time is not the snapshot's earliest timer (a row written otherwise).
    pub wake_stale: bool,
}

/// When the earliest timer of `snap`, saved at `saved_at_ms`, is due (Unix ms).
fn wake_at(snap: &InstanceSnapshot, saved_at_ms: i64) -> Option<i64> {
    snap.timers
        .iter()
        .map(|t| t.due_ms)
        .min()
        .map(|d| saved_at_ms.saturating_add(d.min(i64::MAX as u64 / 2) as i64))
}

impl Host {
    /// The engine instance saved in `row`, its sensitive values put back where this node
    /// can (the others stay markers: the job needing one fails naming it), its timers moved
    /// on by the time since it was saved, and whether any of them is due now.
    fn resume(&self, compiled: &Compiled, row: &InstanceRow, now: i64) -> Result<(Instance, Resumed), HostError> {
        let mut snap: InstanceSnapshot = serde_json::from_str(&row.snapshot).map_err(|e| {
            HostError::Store(StoreError::Database(format!(
                "instance '{}': bad snapshot: {e}",
                row.id
            )))
        })?;
        let resumed = Resumed {
            timers_due: wake_at(&snap, row.saved_at_ms).is_some_and(|w| w <= now),
            wake_stale: wake_at(&snap, row.saved_at_ms) != row.wake_at_ms,
        };
        let elapsed = (now - row.saved_at_ms).max(0) as u64;
        for t in &mut snap.timers {
            t.due_ms = t.due_ms.saturating_sub(elapsed);
        }
        self.at_rest.open_snapshot(&mut snap, &self.config.redact);
        Ok((compiled.resume(snap)?, resumed))
    }
}

/// The row a committed creation leaves (for the view returned to the caller).
fn row_of(t: &Transition, revision: i64, created_ms: i64) -> InstanceRow {
    let (deployment_id, process_id, business_key) = match &t.kind {
        TransitionKind::Create(n) => (n.deployment_id.clone(), n.process_id.clone(), n.business_key.clone()),
        TransitionKind::Update { .. } => Default::default(),
    };
    InstanceRow {
        id: t.instance_id.clone(),
        deployment_id,
        process_id,
        business_key,
        state: t.state,
        revision,
        snapshot: t.snapshot.clone(),
        saved_at_ms: t.saved_at_ms,
        wake_at_ms: t.wake_at_ms,
        created_ms,
    }
}

pub(crate) fn event(kind: &str, element_id: Option<String>, detail: Option<String>) -> NewHistoryEvent {
    NewHistoryEvent {
        kind: kind.to_string(),
        element_id,
        detail,
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
