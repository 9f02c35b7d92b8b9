//! The events a durable instance takes, each one [`Host`] change: a user task completed, a
//! message or signal delivered, an incident retried or resolved, due timers fired, a job's
//! result applied under its lease, a cancel. Each says what it does to the resumed engine
//! instance; resuming, running and committing are [`Host::change`]'s.

use serde_json::{Map, Value};
use servicetask_engine::{EngineError, Instance, ServiceResult};
use servicetask_store::{
    InstanceQuery, InstanceState, JobLease, LeasedJob, NewHistoryEvent, StoreError, Transition, TransitionKind,
};

use crate::host::{event, Change, Host};
use crate::view::InstanceView;
use crate::HostError;

impl Host {
    /// Completes a waiting task (user task, manual task, receive task, catch event), by token
    /// id or element id, setting `vars` in its scope.
    pub async fn complete_task(
        &self,
        id: &str,
        key: &str,
        vars: Map<String, Value>,
    ) -> Result<InstanceView, HostError> {
        self.apply(
            id,
            Box::new(move |i, _| {
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
                .store()
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
                    Box::new(move |i, _| catch(i.send_message(name, vars.clone())?, "message", name)),
                )
                .await;
            match caught {
                Ok(Some(v)) => return Ok(Some(v)),
                Ok(None) | Err(HostError::NotFound { what: "catcher", .. }) => continue,
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
                .store()
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
                        Box::new(move |i, _| catch(i.send_signal(name, vars.clone())?, "signal", name)),
                    )
                    .await;
                match res {
                    Ok(Some(_)) => caught += 1,
                    Ok(None) | Err(HostError::NotFound { what: "catcher", .. }) | Err(HostError::Finished(_)) => {}
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
        self.apply(
            id,
            Box::new(move |i, _| {
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
        self.apply(
            id,
            Box::new(move |i, _| {
                let (token, element) = incident_element(i, key)?;
                i.retry_incident(&token.to_string(), Map::new())?;
                i.complete_job(token, ServiceResult::Complete(vars.clone()))?;
                Ok(Some(vec![event("incident_resolved", Some(element), None)]))
            }),
        )
        .await
    }

    /// Fires the due timers of an instance (after a restart: every overdue one, at once).
    /// Commits only when a timer was due, or when the row's wake-up time was not its
    /// earliest timer's (it is put right); returns whether it committed.
    pub async fn fire_timers(&self, id: &str) -> Result<bool, HostError> {
        let changed = self
            .change(
                id,
                None,
                Box::new(|_, resumed| Ok((resumed.timers_due || resumed.wake_stale).then(Vec::new))),
            )
            .await?;
        Ok(changed.is_some())
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
                Box::new(move |i, _| {
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
            Ok(Some(_)) => {
                self.metrics().job_completed();
                Ok(true)
            }
            // the lease was taken over, or the instance moved on or ended without this job
            Ok(None)
            | Err(HostError::Store(StoreError::LeaseLost(_)))
            | Err(HostError::Finished(_))
            | Err(HostError::NotFound { .. }) => {
                self.metrics().late_completion();
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Cancels an instance: no job of it runs again and nothing moves it any more.
    pub async fn cancel(&self, id: &str) -> Result<InstanceView, HostError> {
        let changed = self
            .commit_loop(id, |row| {
                Box::pin(async move {
                    let t = Transition {
                        instance_id: row.id.clone(),
                        kind: TransitionKind::Update {
                            expected_revision: row.revision,
                        },
                        state: InstanceState::Cancelled,
                        // no job will need them again: no secret stays at rest
                        snapshot: crate::secrets::redact_stored(&row.snapshot, self.sensitive_names()),
                        saved_at_ms: row.saved_at_ms,
                        wake_at_ms: None,
                        // no jobs: the instance's pending jobs are deleted with the commit
                        jobs: Vec::new(),
                        completes_job: None,
                        history: vec![event("cancelled", None, None)],
                    };
                    Ok((row, Some(t)))
                })
            })
            .await?;
        committed(changed, id)
    }

    /// A change asked for through the API: it always commits, or says why not.
    async fn apply(&self, id: &str, apply: Change<'_>) -> Result<InstanceView, HostError> {
        committed(self.change(id, None, apply).await?, id)
    }
}

/// The view after a change that always commits (its change never answers "nothing").
fn committed(changed: Option<InstanceView>, id: &str) -> Result<InstanceView, HostError> {
    changed.ok_or_else(|| HostError::NotFound {
        what: "instance",
        key: id.to_string(),
        field: "instanceId",
    })
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
