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
    Deployment as Compiled, Engine, EngineConfig, EngineError, Instance, InstanceSnapshot, RunOutcome, ServiceResult,
    StubHandler,
};
use servicetask_store::{
    now_ms, Deployment, InstanceQuery, InstanceRow, InstanceState, JobLease, LeasedJob, NewDeployment, NewHistoryEvent,
    NewInstance, NewJob, Store, StoreError, Transition, TransitionKind,
};
use sha2::Digest as _;

use crate::metrics::Metrics;
use crate::view::InstanceView;
use crate::HostError;

/// How a host behaves.
#[derive(Debug, Clone, Default)]
pub struct HostConfig {
    /// Variable names whose values never leave the process (the runner's sensitive input
    /// fields): shown as `"[redacted]"` in every view.
    pub redact: Vec<String>,
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
type Change<'a> = Box<dyn FnMut(&mut Instance) -> Result<Option<Vec<NewHistoryEvent>>, HostError> + Send + 'a>;

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
            config,
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
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
                let t = self.transition(&mut inst, outcome, kind, None, history, now);
                let row = row_of(&t, 1, now);
                (t, row)
            };
            let has_jobs = !t.jobs.is_empty();
            match self.store.commit(t).await {
                Ok(_) => {
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

    /// Completes a waiting task (user task, manual task, receive task, catch event), by token
    /// id or element id, setting `vars` in its scope.
    pub async fn complete_task(
        &self,
        id: &str,
        key: &str,
        vars: Map<String, Value>,
    ) -> Result<InstanceView, HostError> {
        self.change(
            id,
            None,
            Box::new(move |i| {
                let element = i
                    .waiting_tasks()
                    .into_iter()
                    .find(|t| t.element_id == key || t.token_id.to_string() == key)
                    .map(|t| t.element_id)
                    .ok_or_else(|| HostError::NotFound {
                        what: "task",
                        key: key.to_string(),
                        field: "taskKey",
                    })?;
                i.complete_task(key, vars.clone())?;
                Ok(Some(vec![event("task_completed", Some(element), None)]))
            }),
        )
        .await
    }

    /// Delivers message `name` to one instance (by id, else the oldest live instance with
    /// `business_key` that catches it). Returns the instance, or `None` when none caught it.
    pub async fn correlate_message(
        &self,
        name: &str,
        instance_id: Option<&str>,
        business_key: Option<&str>,
        vars: Map<String, Value>,
    ) -> Result<Option<InstanceView>, HostError> {
        let targets: Vec<String> = match (instance_id, business_key) {
            (Some(id), _) => vec![id.to_string()],
            (None, Some(bk)) => self
                .store
                .instances(InstanceQuery {
                    business_key: Some(bk.to_string()),
                    ..InstanceQuery::default()
                })
                .await?
                .into_iter()
                .filter(|r| !r.state.is_final())
                .map(|r| r.id)
                .collect(),
            (None, None) => Vec::new(),
        };
        for id in targets {
            let vars = vars.clone();
            let caught = self
                .change(
                    &id,
                    None,
                    Box::new(move |i| catch(i.send_message(name, vars.clone())?, "message", name)),
                )
                .await;
            match caught {
                Ok(v) => return Ok(Some(v)),
                Err(HostError::NotFound { what: "catcher", .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Broadcasts signal `name` to every live instance; returns how many caught it.
    pub async fn broadcast_signal(&self, name: &str, vars: Map<String, Value>) -> Result<usize, HostError> {
        let mut caught = 0;
        for state in [InstanceState::Waiting, InstanceState::Active, InstanceState::Incident] {
            let rows = self
                .store
                .instances(InstanceQuery {
                    state: Some(state),
                    ..InstanceQuery::default()
                })
                .await?;
            for r in rows {
                let vars = vars.clone();
                let res = self
                    .change(
                        &r.id,
                        None,
                        Box::new(move |i| catch(i.send_signal(name, vars.clone())?, "signal", name)),
                    )
                    .await;
                match res {
                    Ok(_) => caught += 1,
                    Err(HostError::NotFound { what: "catcher", .. }) | Err(HostError::Finished(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(caught)
    }

    /// Retries an incident (by token id or element id) after setting `vars` in its scope.
    pub async fn retry_incident(
        &self,
        id: &str,
        key: &str,
        vars: Map<String, Value>,
    ) -> Result<InstanceView, HostError> {
        self.change(
            id,
            None,
            Box::new(move |i| {
                let element = incident_element(i, key)?.1;
                i.retry_incident(key, vars.clone())?;
                Ok(Some(vec![event("incident_retried", Some(element), None)]))
            }),
        )
        .await
    }

    /// Resolves an incident by hand: its task counts as completed with `vars` as its output.
    pub async fn resolve_incident(
        &self,
        id: &str,
        key: &str,
        vars: Map<String, Value>,
    ) -> Result<InstanceView, HostError> {
        self.change(
            id,
            None,
            Box::new(move |i| {
                let (token, element) = incident_element(i, key)?;
                i.retry_incident(&token.to_string(), Map::new())?;
                i.complete_job(token, ServiceResult::Complete(vars.clone()))?;
                Ok(Some(vec![event("incident_resolved", Some(element), None)]))
            }),
        )
        .await
    }

    /// Fires the due timers of an instance (after a restart: every overdue one, at once).
    pub async fn fire_timers(&self, id: &str) -> Result<(), HostError> {
        self.change(id, None, Box::new(|_| Ok(Some(Vec::new()))))
            .await
            .map(drop)
    }

    /// Applies a job's result, provided its lease still holds. Returns false when the
    /// completion was rejected as late (the lease was taken over) or the job is gone.
    pub async fn complete_job(&self, job: &LeasedJob, result: ServiceResult) -> Result<bool, HostError> {
        let lease = JobLease {
            job_id: job.job.id,
            lease_token: job.lease_token.clone(),
        };
        let token = job.job.spec.token_id;
        let element = job.job.spec.element_id.clone();
        let key = job.job.spec.key.clone();
        let outcome = match &result {
            ServiceResult::Complete(_) => "complete",
            ServiceResult::BpmnError { .. } => "bpmn_error",
            ServiceResult::Failed { .. } => "failed",
        };
        let r = self
            .change(
                &job.job.instance_id,
                Some(lease),
                Box::new(move |i| {
                    match i.complete_job(token, result.clone()) {
                        Ok(()) => {
                            let detail = serde_json::json!({"key": key, "outcome": outcome}).to_string();
                            Ok(Some(vec![event("job_completed", Some(element.clone()), Some(detail))]))
                        }
                        // the token moved on without this job (interrupted, cancelled)
                        Err(EngineError::NoSuchTask(_)) => Ok(None),
                        Err(e) => Err(e.into()),
                    }
                }),
            )
            .await;
        match r {
            Ok(_) => {
                self.metrics.job_completed();
                Ok(true)
            }
            // the lease was taken over, or the instance moved on or ended without this job
            Err(HostError::Store(StoreError::LeaseLost(_)))
            | Err(HostError::Finished(_))
            | Err(HostError::NotFound { .. }) => {
                self.metrics.late_completion();
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Cancels an instance: no job of it runs again and nothing moves it any more.
    pub async fn cancel(&self, id: &str) -> Result<InstanceView, HostError> {
        for _ in 0..MAX_CONFLICTS {
            let row = self.row(id).await?;
            if row.state.is_final() {
                return Err(HostError::Finished(id.to_string()));
            }
            let t = Transition {
                instance_id: row.id.clone(),
                kind: TransitionKind::Update {
                    expected_revision: row.revision,
                },
                state: InstanceState::Cancelled,
                snapshot: row.snapshot.clone(),
                saved_at_ms: row.saved_at_ms,
                wake_at_ms: None,
                jobs: Vec::new(),
                completes_job: None,
                history: vec![event("cancelled", None, None)],
            };
            match self.store.commit(t).await {
                Ok(revision) => {
                    return Ok(self.view(&InstanceRow {
                        state: InstanceState::Cancelled,
                        revision,
                        wake_at_ms: None,
                        ..row
                    }))
                }
                Err(StoreError::Conflict(_)) => self.metrics.conflict(),
                Err(e) => return Err(e.into()),
            }
        }
        Err(HostError::Store(StoreError::Conflict(id.to_string())))
    }

    /// Resumes, changes, runs and commits one instance, again after each revision conflict.
    async fn change(
        &self,
        id: &str,
        lease: Option<JobLease>,
        mut apply: Change<'_>,
    ) -> Result<InstanceView, HostError> {
        for _ in 0..MAX_CONFLICTS {
            let row = self.row(id).await?;
            if row.state.is_final() {
                return Err(HostError::Finished(id.to_string()));
            }
            let compiled = self.compiled(&row.deployment_id).await?;
            let now = now_ms();
            let t = {
                let mut inst = resume(&compiled, &row, now)?;
                let Some(history) = apply(&mut inst)? else {
                    return match lease {
                        // the instance moved on without this job (its lease was taken over
                        // and completed, or its token was interrupted): a late completion
                        Some(l) => Err(HostError::Store(StoreError::LeaseLost(l.job_id))),
                        None => Err(HostError::NotFound {
                            what: "catcher",
                            key: id.to_string(),
                            field: "name",
                        }),
                    };
                };
                let outcome = inst.run().await;
                let kind = TransitionKind::Update {
                    expected_revision: row.revision,
                };
                self.transition(&mut inst, outcome, kind, lease.clone(), history, now)
            };
            let has_jobs = !t.jobs.is_empty();
            let (state, snapshot, saved_at_ms, wake_at_ms) = (t.state, t.snapshot.clone(), t.saved_at_ms, t.wake_at_ms);
            match self.store.commit(t).await {
                Ok(revision) => {
                    if has_jobs {
                        self.jobs_ready.notify_one();
                    }
                    return Ok(self.view(&InstanceRow {
                        state,
                        revision,
                        snapshot,
                        saved_at_ms,
                        wake_at_ms,
                        ..row
                    }));
                }
                Err(StoreError::Conflict(_)) => self.metrics.conflict(),
                Err(e) => return Err(e.into()),
            }
        }
        Err(HostError::Store(StoreError::Conflict(id.to_string())))
    }

    /// The transition that records `inst` as it stands after `outcome`.
    fn transition(
        &self,
        inst: &mut Instance,
        outcome: RunOutcome,
        kind: TransitionKind,
        completes_job: Option<JobLease>,
        mut history: Vec<NewHistoryEvent>,
        now: i64,
    ) -> Transition {
        let (mut state, next_timer) = match &outcome {
            RunOutcome::Completed => (InstanceState::Completed, None),
            RunOutcome::Failed(_) => (InstanceState::Failed, None),
            RunOutcome::Waiting {
                tasks,
                incidents,
                next_timer,
            } => {
                let s = if !incidents.is_empty() {
                    InstanceState::Incident
                } else if !tasks.is_empty() {
                    InstanceState::Waiting
                } else {
                    InstanceState::Active
                };
                (s, *next_timer)
            }
        };
        let mut jobs = Vec::new();
        if !state.is_final() {
            match inst.pending_jobs() {
                Ok(calls) => {
                    let traceparent = inst.traceparent().map(str::to_string);
                    for (token, call) in calls {
                        jobs.push(NewJob {
                            key: format!("{}:{token}", inst.id()),
                            token_id: token,
                            element_id: call.element_id.to_string(),
                            process_id: call.process_id.to_string(),
                            task_type: call.binding.task_type.clone(),
                            binding: serde_json::to_string(&*call.binding).unwrap_or_default(),
                            variables: Value::Object(call.variables).to_string(),
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
        let snapshot = serde_json::to_string(&inst.snapshot()).unwrap_or_default();
        Transition {
            instance_id: inst.id().to_string(),
            kind,
            state,
            snapshot,
            saved_at_ms: now,
            wake_at_ms: next_timer
                .filter(|_| !state.is_final())
                .map(|d| now.saturating_add(d.as_millis().min(i64::MAX as u128 / 2) as i64)),
            jobs,
            completes_job,
            history,
        }
    }
}

/// The engine instance saved in `row`, its timers moved on by the time since it was saved.
fn resume(compiled: &Compiled, row: &InstanceRow, now: i64) -> Result<Instance, HostError> {
    let mut snap: InstanceSnapshot = serde_json::from_str(&row.snapshot).map_err(|e| {
        HostError::Store(StoreError::Database(format!(
            "instance '{}': bad snapshot: {e}",
            row.id
        )))
    })?;
    let elapsed = (now - row.saved_at_ms).max(0) as u64;
    for t in &mut snap.timers {
        t.due_ms = t.due_ms.saturating_sub(elapsed);
    }
    Ok(compiled.resume(snap)?)
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

fn event(kind: &str, element_id: Option<String>, detail: Option<String>) -> NewHistoryEvent {
    NewHistoryEvent {
        kind: kind.to_string(),
        element_id,
        detail,
    }
}

/// A delivery that `n` catchers took: an event, or "not found" when none did.
fn catch(n: usize, what: &str, name: &str) -> Result<Option<Vec<NewHistoryEvent>>, HostError> {
    if n == 0 {
        return Err(HostError::NotFound {
            what: "catcher",
            key: name.to_string(),
            field: "name",
        });
    }
    let detail = serde_json::json!({ what: name, "caught": n }).to_string();
    Ok(Some(vec![event(what, None, Some(detail))]))
}

/// The token and element of the incident named by `key` (token id or element id).
fn incident_element(i: &Instance, key: &str) -> Result<(u64, String), HostError> {
    i.incidents()
        .into_iter()
        .find(|x| x.element_id == key || x.token_id.to_string() == key)
        .map(|x| (x.token_id, x.element_id))
        .ok_or_else(|| HostError::NotFound {
            what: "incident",
            key: key.to_string(),
            field: "incidentKey",
        })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
