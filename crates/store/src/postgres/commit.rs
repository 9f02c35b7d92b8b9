//! Group commit on PostgreSQL: the transitions queued while a batch is in flight are committed
//! together in one transaction, with one statement per kind of row for the whole batch
//! (`UNNEST` over arrays), sent pipelined on one connection.
//!
//! Each transition still stands or fails alone, as if committed by itself:
//!
//! 1. the rows of the instances the batch updates are locked, in id order (`FOR UPDATE`; two
//!    nodes' batches never wait on each other in a cycle), and each update's expected revision
//!    is checked against the locked row (and against the batch's earlier updates of the same
//!    instance): a mismatch is [`StoreError::Conflict`];
//! 2. new instances are inserted (`ON CONFLICT DO NOTHING`: an id taken is a conflict);
//! 3. the completed jobs of the transitions still standing are deleted with their lease tokens
//!    (a row lock, re-checked after any concurrent take-over): a token no longer there is
//!    [`StoreError::LeaseLost`], and an instance that transition created is deleted again;
//! 4. the instance rows, jobs and history of the transitions still standing are written.
//!
//! A batch the database refuses as a whole (a constraint, a deadlock with another node) is
//! committed again one transition at a time, so only the transition at fault fails.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use deadpool_postgres::{Pool, Transaction};
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::model::{Transition, TransitionKind};
use crate::rows::spec_json;
use crate::{now_ms, StoreError};

/// A transition waiting for its batch, and where its outcome goes.
type Pending = (Transition, oneshot::Sender<Result<i64, StoreError>>);

/// The queue of transitions to commit; its committer tasks end when the last sender is dropped.
#[derive(Clone)]
pub(super) struct Committer {
    queue: mpsc::UnboundedSender<Pending>,
}

impl Committer {
    /// Starts `committers` tasks over `pool` (on the current tokio runtime), each committing up
    /// to `max_batch` transitions per transaction.
    pub(super) fn start(pool: Pool, committers: usize, max_batch: usize) -> Self {
        let (queue, rx) = mpsc::unbounded_channel::<Pending>();
        let rx = Arc::new(Mutex::new(rx));
        let max_batch = max_batch.max(1);
        for _ in 0..committers.max(1) {
            let (pool, rx) = (pool.clone(), rx.clone());
            tokio::spawn(async move {
                loop {
                    let batch = {
                        let mut rx = rx.lock().await;
                        let Some(first) = rx.recv().await else { return };
                        let mut batch = vec![first];
                        while batch.len() < max_batch {
                            match rx.try_recv() {
                                Ok(p) => batch.push(p),
                                Err(_) => break,
                            }
                        }
                        batch
                    };
                    commit_batch(&pool, batch).await;
                }
            });
        }
        Committer { queue }
    }

    /// Queues `t`; resolves when its batch is committed (or refused).
    pub(super) async fn commit(&self, t: Transition) -> Result<i64, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.queue.send((t, tx)).map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StoreError {
    StoreError::Database("the store's committer stopped".into())
}

/// Commits `batch`, answering each transition; again one by one when the batch fails whole.
async fn commit_batch(pool: &Pool, batch: Vec<Pending>) {
    let (transitions, replies): (Vec<Transition>, Vec<_>) = batch.into_iter().unzip();
    match in_transaction(pool, &transitions).await {
        Ok(outcomes) => {
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                let _ = reply.send(outcome);
            }
        }
        Err(e) if transitions.len() == 1 => {
            for reply in replies {
                let _ = reply.send(Err(StoreError::Database(e.to_string())));
            }
        }
        Err(_) => {
            for (t, reply) in transitions.into_iter().zip(replies) {
                let outcome = match in_transaction(pool, std::slice::from_ref(&t)).await {
                    Ok(mut o) => o.pop().unwrap_or_else(|| Err(stopped())),
                    Err(e) => Err(e),
                };
                let _ = reply.send(outcome);
            }
        }
    }
}

/// One transaction over `batch`: each transition's outcome, or the error that refused them all.
async fn in_transaction(pool: &Pool, batch: &[Transition]) -> Result<Vec<Result<i64, StoreError>>, StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let outcomes = apply(&tx, batch).await?;
    tx.commit().await?;
    Ok(outcomes)
}

/// Applies `batch` inside `tx` (steps 1 to 4 of the module docs).
async fn apply(tx: &Transaction<'_>, batch: &[Transition]) -> Result<Vec<Result<i64, StoreError>>, StoreError> {
    let now = now_ms();
    let mut outcomes: Vec<Result<i64, StoreError>> = Vec::with_capacity(batch.len());

    // 1. lock the updated instances, check revisions
    let mut updated: Vec<&str> = batch
        .iter()
        .filter(|t| matches!(t.kind, TransitionKind::Update { .. }))
        .map(|t| t.instance_id.as_str())
        .collect();
    updated.sort_unstable();
    updated.dedup();
    let mut revision: HashMap<String, i64> = HashMap::new();
    if !updated.is_empty() {
        let lock = tx
            .prepare_cached("SELECT id, revision FROM instances WHERE id = ANY($1) ORDER BY id FOR UPDATE")
            .await?;
        for r in tx.query(&lock, &[&updated]).await? {
            revision.insert(r.try_get(0)?, r.try_get(1)?);
        }
    }
    let mut creating: HashSet<&str> = HashSet::new();
    for t in batch {
        outcomes.push(match &t.kind {
            TransitionKind::Update { expected_revision } => match revision.get_mut(&t.instance_id) {
                Some(r) if r == expected_revision => {
                    *r += 1;
                    Ok(*r)
                }
                _ => Err(StoreError::Conflict(t.instance_id.clone())),
            },
            TransitionKind::Create(_) if creating.insert(&t.instance_id) => Ok(1),
            TransitionKind::Create(_) => Err(StoreError::Conflict(t.instance_id.clone())),
        });
    }

    // 2. insert the new instances
    let creates: Vec<usize> = standing(&outcomes, batch, |t| matches!(t.kind, TransitionKind::Create(_)));
    if !creates.is_empty() {
        let mut cols = InstanceColumns::default();
        for &i in &creates {
            cols.push(&batch[i]);
        }
        let insert = tx
            .prepare_cached(
                "INSERT INTO instances (id, deployment_id, process_id, business_key, state, revision, snapshot, saved_at_ms, wake_at_ms, created_ms)
                 SELECT u.id, u.deployment_id, u.process_id, u.business_key, u.state, 1, u.snapshot, u.saved_at_ms, u.wake_at_ms, $9
                 FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::BIGINT[], $8::BIGINT[])
                     WITH ORDINALITY AS u(id, deployment_id, process_id, business_key, state, snapshot, saved_at_ms, wake_at_ms, n)
                 ORDER BY u.n
                 ON CONFLICT (id) DO NOTHING RETURNING id",
            )
            .await?;
        let inserted: HashSet<String> = tx
            .query(
                &insert,
                &[
                    &cols.id,
                    &cols.deployment_id,
                    &cols.process_id,
                    &cols.business_key,
                    &cols.state,
                    &cols.snapshot,
                    &cols.saved_at_ms,
                    &cols.wake_at_ms,
                    &now,
                ],
            )
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        for &i in &creates {
            if !inserted.contains(&batch[i].instance_id) {
                outcomes[i] = Err(StoreError::Conflict(batch[i].instance_id.clone()));
            }
        }
    }

    // 3. delete the completed jobs with their lease tokens
    let completing = standing(&outcomes, batch, |t| t.completes_job.is_some());
    if !completing.is_empty() {
        let mut seen = HashSet::new();
        let (mut ids, mut tokens) = (Vec::new(), Vec::new());
        for &i in &completing {
            let lease = batch[i]
                .completes_job
                .as_ref()
                .map(|l| (l.job_id, l.lease_token.as_str()));
            if let Some((id, token)) = lease.filter(|(id, _)| seen.insert(*id)) {
                ids.push(id);
                tokens.push(token);
            }
        }
        let delete = tx
            .prepare_cached(
                "DELETE FROM jobs j USING UNNEST($1::BIGINT[], $2::TEXT[]) AS u(id, token)
                 WHERE j.id = u.id AND j.lease_token = u.token RETURNING j.id",
            )
            .await?;
        let mut deleted: HashSet<i64> = tx
            .query(&delete, &[&ids, &tokens])
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        let mut undo: Vec<&str> = Vec::new();
        for &i in &completing {
            let t = &batch[i];
            let Some(lease) = &t.completes_job else { continue };
            // a job is completed by the first transition of the batch that carries it
            if !deleted.remove(&lease.job_id) {
                outcomes[i] = Err(StoreError::LeaseLost(lease.job_id));
                if matches!(t.kind, TransitionKind::Create(_)) {
                    undo.push(&t.instance_id);
                }
            }
        }
        if !undo.is_empty() {
            tx.execute("DELETE FROM instances WHERE id = ANY($1)", &[&undo]).await?;
        }
    }

    // 4. write what stands: instance rows, jobs, history (pipelined)
    let updates = standing(&outcomes, batch, |t| matches!(t.kind, TransitionKind::Update { .. }));
    let writing = standing(&outcomes, batch, |_| true);
    if writing.is_empty() {
        return Ok(outcomes);
    }
    let mut cols = InstanceColumns::default();
    for &i in &updates {
        cols.push(&batch[i]);
    }
    let mut jobs = JobColumns::default();
    let mut history = HistoryColumns::default();
    let instances: Vec<&str> = writing.iter().map(|&i| batch[i].instance_id.as_str()).collect();
    for &i in &writing {
        let t = &batch[i];
        for j in &t.jobs {
            jobs.key.push(j.key.as_str());
            jobs.instance_id.push(t.instance_id.as_str());
            jobs.spec.push(spec_json(j)?);
        }
        for h in &t.history {
            history.instance_id.push(t.instance_id.as_str());
            history.kind.push(h.kind.as_str());
            history.element_id.push(h.element_id.as_deref());
            history.detail.push(h.detail.as_deref());
        }
    }
    let (update, drop_jobs, add_jobs, add_history) = tokio::try_join!(
        tx.prepare_cached(
            "UPDATE instances i SET state = u.state, revision = i.revision + 1, snapshot = u.snapshot,
                 saved_at_ms = u.saved_at_ms, wake_at_ms = u.wake_at_ms
             FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::BIGINT[])
                 AS u(id, state, snapshot, saved_at_ms, wake_at_ms)
             WHERE i.id = u.id",
        ),
        tx.prepare_cached(
            "DELETE FROM jobs j WHERE j.instance_id = ANY($1) AND NOT EXISTS (
                 SELECT 1 FROM UNNEST($2::TEXT[], $3::TEXT[]) AS k(instance_id, key)
                 WHERE k.instance_id = j.instance_id AND k.key = j.key)",
        ),
        tx.prepare_cached(
            "INSERT INTO jobs (key, instance_id, deployment_id, spec, created_ms)
             SELECT u.key, u.instance_id, i.deployment_id, u.spec, $4
             FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[]) WITH ORDINALITY AS u(key, instance_id, spec, n)
             JOIN instances i ON i.id = u.instance_id
             ORDER BY u.n
             ON CONFLICT (key) DO NOTHING",
        ),
        tx.prepare_cached(
            "INSERT INTO history (instance_id, at_ms, kind, element_id, detail)
             SELECT u.instance_id, $5, u.kind, u.element_id, u.detail
             FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[]) WITH ORDINALITY AS u(instance_id, kind, element_id, detail, n)
             ORDER BY u.n",
        ),
    )?;
    tokio::try_join!(
        async {
            if updates.is_empty() {
                return Ok(0);
            }
            tx.execute(
                &update,
                &[
                    &cols.id,
                    &cols.state,
                    &cols.snapshot,
                    &cols.saved_at_ms,
                    &cols.wake_at_ms,
                ],
            )
            .await
        },
        async {
            tx.execute(&drop_jobs, &[&instances, &jobs.instance_id, &jobs.key])
                .await
        },
        async {
            if jobs.key.is_empty() {
                return Ok(0);
            }
            tx.execute(&add_jobs, &[&jobs.key, &jobs.instance_id, &jobs.spec, &now])
                .await
        },
        async {
            if history.kind.is_empty() {
                return Ok(0);
            }
            tx.execute(
                &add_history,
                &[
                    &history.instance_id,
                    &history.kind,
                    &history.element_id,
                    &history.detail,
                    &now,
                ],
            )
            .await
        },
    )?;
    Ok(outcomes)
}

/// The indexes of the transitions that still stand and match `which`.
fn standing(
    outcomes: &[Result<i64, StoreError>],
    batch: &[Transition],
    which: impl Fn(&Transition) -> bool,
) -> Vec<usize> {
    (0..batch.len())
        .filter(|&i| outcomes[i].is_ok() && which(&batch[i]))
        .collect()
}

/// Instance columns as arrays, one element per transition.
#[derive(Default)]
struct InstanceColumns<'a> {
    id: Vec<&'a str>,
    deployment_id: Vec<&'a str>,
    process_id: Vec<&'a str>,
    business_key: Vec<Option<&'a str>>,
    state: Vec<&'static str>,
    snapshot: Vec<&'a str>,
    saved_at_ms: Vec<i64>,
    wake_at_ms: Vec<Option<i64>>,
}

impl<'a> InstanceColumns<'a> {
    fn push(&mut self, t: &'a Transition) {
        self.id.push(&t.instance_id);
        if let TransitionKind::Create(n) = &t.kind {
            self.deployment_id.push(&n.deployment_id);
            self.process_id.push(&n.process_id);
            self.business_key.push(n.business_key.as_deref());
        }
        self.state.push(t.state.as_str());
        self.snapshot.push(&t.snapshot);
        self.saved_at_ms.push(t.saved_at_ms);
        self.wake_at_ms.push(t.wake_at_ms);
    }
}

/// Job columns as arrays, one element per job.
#[derive(Default)]
struct JobColumns<'a> {
    key: Vec<&'a str>,
    instance_id: Vec<&'a str>,
    spec: Vec<String>,
}

/// History columns as arrays, one element per event.
#[derive(Default)]
struct HistoryColumns<'a> {
    instance_id: Vec<&'a str>,
    kind: Vec<&'a str>,
    element_id: Vec<Option<&'a str>>,
    detail: Vec<Option<&'a str>>,
}
