//! Asynchronous solve jobs and their bounded in-memory store (the routes are
//! in `handlers/jobs.rs`).
//!
//! A job validates its request at submission (422 at once), then waits for a
//! solver slot — the same semaphore as synchronous solves — and solves on the
//! blocking pool with a cancel flag and a [`SolveProgress`] the status route
//! reads. At most [`crate::ServiceConfig::max_queued_jobs`] jobs wait; one more
//! is refused with 503 + Retry-After. The store is in memory and bounded:
//! finished jobs older than the TTL are dropped, and when it is full the oldest
//! finished job goes; if every stored job is still waiting or running, a new
//! one gets 503. Cancelling a running job makes the solver stop and return the
//! best rota found so far, which becomes the job's result; a job cancelled
//! while waiting has no result. Jobs are visible to the key that submitted
//! them and to admin keys only (others get 404, so ids do not leak).

use crate::auth::Principal;
use crate::config::ServiceConfig;
use crate::http::error::ApiError;
use crate::metrics::Metrics;
use crate::solving::{RunningGuard, outcome_label, run_solve};
use carefill_solver::format::{Kpis, Rota};
use carefill_solver::model::Problem;
use carefill_solver::rota::{SolveOptions, SolveProgress};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore};

/// Where a job is.
#[derive(Debug)]
enum Phase {
    Queued,
    Running {
        started: Instant,
    },
    Finished {
        started: Option<Instant>,
        finished: Instant,
        outcome: Outcome,
    },
}

#[derive(Debug)]
enum Outcome {
    Succeeded(Arc<Rota>),
    Cancelled(Option<Arc<Rota>>),
    Failed(String),
}

/// One solve job.
#[derive(Debug)]
pub struct Job {
    /// `job_` + 32 hex characters.
    pub id: String,
    /// Key id of the submitter.
    pub owner: String,
    /// When it was submitted.
    pub submitted_at: DateTime<Utc>,
    /// Time limit, seconds.
    pub time_limit_s: f64,
    /// Seed.
    pub seed: u64,
    submitted: Instant,
    cancel: Arc<AtomicBool>,
    cancel_notify: Notify,
    /// Woken when the job finishes, for a cancel that waits for the result.
    done: Notify,
    progress: Arc<SolveProgress>,
    phase: Mutex<Phase>,
}

impl Job {
    fn phase(&self) -> MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks the job to stop; the running solve returns its best rota so far.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::SeqCst);
        self.cancel_notify.notify_one();
    }

    /// Waits up to `timeout` for the job to finish; whether it has.
    pub async fn wait_finished(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.done.notified();
            tokio::pin!(notified);
            // Registered before the check, so a finish in between is not missed.
            notified.as_mut().enable();
            if self.is_finished() {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.is_finished();
            }
        }
    }

    fn finish(&self, started: Option<Instant>, outcome: Outcome) {
        *self.phase() = Phase::Finished {
            started,
            finished: Instant::now(),
            outcome,
        };
        self.done.notify_waiters();
    }

    /// Whether the job has finished (succeeded, cancelled or failed).
    pub fn is_finished(&self) -> bool {
        matches!(*self.phase(), Phase::Finished { .. })
    }

    fn finished_before(&self, cutoff: Instant) -> bool {
        matches!(*self.phase(), Phase::Finished { finished, .. } if finished < cutoff)
    }

    fn visible_to(&self, principal: &Principal) -> bool {
        principal.is_admin() || principal.key_id == self.owner
    }

    /// The job's rota: 409 `job_not_finished` (with Retry-After) while it waits
    /// or runs, 409 `job_without_result` when cancelled before it started or failed.
    pub fn result(&self) -> Result<Arc<Rota>, ApiError> {
        let without = |detail: String| ApiError::Conflict {
            code: "job_without_result",
            detail,
            retry_after: None,
        };
        match &*self.phase() {
            Phase::Queued | Phase::Running { .. } => Err(ApiError::Conflict {
                code: "job_not_finished",
                detail: format!("job {} has not finished; poll its status", self.id),
                retry_after: Some(1),
            }),
            Phase::Finished { outcome, .. } => match outcome {
                Outcome::Succeeded(r) | Outcome::Cancelled(Some(r)) => Ok(r.clone()),
                Outcome::Cancelled(None) => Err(without(format!(
                    "job {} was cancelled before it started",
                    self.id
                ))),
                Outcome::Failed(_) => {
                    Err(without(format!("job {} failed; see its status", self.id)))
                }
            },
        }
    }

    /// The job's status as sent to clients.
    pub fn view(&self) -> JobView {
        let cancel_requested = self.cancel.load(Ordering::SeqCst);
        let iterations = self.progress.iterations.load(Ordering::Relaxed);
        let live_best = || {
            let (objective, unplaced) = self.progress.best();
            (iterations > 0 || objective > 0.0).then_some(Best {
                objective,
                unplaced,
            })
        };
        let base = format!("/v1/rota/jobs/{}", self.id);
        let phase = self.phase();
        let (state, elapsed, best, kpis, error, has_result) = match &*phase {
            Phase::Queued => (
                if cancel_requested {
                    "cancelling"
                } else {
                    "queued"
                },
                None,
                None,
                None,
                None,
                false,
            ),
            Phase::Running { started } => (
                if cancel_requested {
                    "cancelling"
                } else {
                    "running"
                },
                Some(started.elapsed()),
                live_best(),
                None,
                None,
                false,
            ),
            Phase::Finished {
                started,
                finished,
                outcome,
            } => {
                let elapsed = started.map(|s| finished.duration_since(s));
                match outcome {
                    Outcome::Succeeded(rota) => (
                        "succeeded",
                        elapsed,
                        rota_best(rota),
                        rota.kpis.clone(),
                        None,
                        true,
                    ),
                    Outcome::Cancelled(Some(rota)) => (
                        "cancelled",
                        elapsed,
                        rota_best(rota),
                        rota.kpis.clone(),
                        None,
                        true,
                    ),
                    Outcome::Cancelled(None) => ("cancelled", elapsed, None, None, None, false),
                    Outcome::Failed(e) => ("failed", elapsed, None, None, Some(e.clone()), false),
                }
            }
        };
        JobView {
            id: self.id.clone(),
            state,
            owner: self.owner.clone(),
            submitted_at: self
                .submitted_at
                .to_rfc3339_opts(SecondsFormat::Millis, true),
            time_limit_s: self.time_limit_s,
            seed: self.seed,
            waited_s: match &*phase {
                Phase::Queued => Some(self.submitted.elapsed().as_secs_f64()),
                _ => None,
            },
            elapsed_s: elapsed.map(|d| d.as_secs_f64()),
            iterations,
            best,
            kpis,
            error,
            links: Links {
                status: base.clone(),
                result: has_result.then(|| format!("{base}/result")),
                cancel: format!("{base}/cancel"),
            },
        }
    }
}

fn rota_best(rota: &Rota) -> Option<Best> {
    rota.stats.as_ref().map(|s| Best {
        objective: s.objective,
        unplaced: rota.unplaced.len(),
    })
}

/// Best objective and unplaced visits so far.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Best {
    /// Objective (cost units; lower is better).
    pub objective: f64,
    /// Visits not placed.
    pub unplaced: usize,
}

/// Links of a job.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Links {
    /// Status.
    pub status: String,
    /// Result, once there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// Cancel (POST).
    pub cancel: String,
}

/// A job's status as JSON.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Job)]
pub struct JobView {
    /// Job id.
    pub id: String,
    /// `queued`, `running`, `cancelling`, `succeeded`, `cancelled` or `failed`.
    #[schema(value_type = String)]
    pub state: &'static str,
    /// Key id of the submitter.
    pub owner: String,
    /// RFC 3339.
    pub submitted_at: String,
    /// Time limit, seconds.
    pub time_limit_s: f64,
    /// Seed.
    pub seed: u64,
    /// While queued: seconds waited so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waited_s: Option<f64>,
    /// Seconds solving (so far, or in total once finished).
    pub elapsed_s: Option<f64>,
    /// Search iterations so far.
    pub iterations: u64,
    /// Best objective and unplaced visits so far (final once finished).
    pub best: Option<Best>,
    /// KPIs of the result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kpis: Option<Kpis>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Links.
    pub links: Links,
}

#[derive(Debug, Default)]
struct StoreInner {
    jobs: HashMap<String, Arc<Job>>,
    order: VecDeque<String>,
}

/// The bounded in-memory job store.
#[derive(Debug)]
pub struct JobStore {
    inner: Mutex<StoreInner>,
    queued: AtomicUsize,
    max_stored: usize,
    max_queued: usize,
    ttl: Duration,
    metrics: Metrics,
}

impl JobStore {
    /// An empty store with the limits of `config`.
    pub fn new(config: &ServiceConfig, metrics: Metrics) -> Self {
        Self {
            inner: Mutex::new(StoreInner::default()),
            queued: AtomicUsize::new(0),
            max_stored: config.max_stored_jobs.max(1),
            max_queued: config.max_queued_jobs,
            ttl: config.finished_job_ttl,
            metrics,
        }
    }

    fn lock(&self) -> MutexGuard<'_, StoreInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A job, if it exists and `principal` may see it.
    pub fn get(&self, id: &str, principal: &Principal) -> Result<Arc<Job>, ApiError> {
        self.lock()
            .jobs
            .get(id)
            .filter(|j| j.visible_to(principal))
            .cloned()
            .ok_or_else(|| ApiError::NotFound(format!("no job {id}")))
    }

    /// Jobs `principal` may see, newest first.
    pub fn list(&self, principal: &Principal) -> Vec<Arc<Job>> {
        let inner = self.lock();
        inner
            .order
            .iter()
            .rev()
            .filter_map(|id| inner.jobs.get(id))
            .filter(|j| j.visible_to(principal))
            .cloned()
            .collect()
    }

    /// Jobs stored now.
    pub fn len(&self) -> usize {
        self.lock().jobs.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Cancels every job (shutdown).
    pub fn cancel_all(&self) {
        for job in self.lock().jobs.values() {
            job.cancel();
        }
    }

    fn insert(&self, owner: &str, time_limit_s: f64, seed: u64) -> Result<Arc<Job>, ApiError> {
        let mut inner = self.lock();
        if self.queued.load(Ordering::SeqCst) >= self.max_queued {
            return Err(ApiError::QueueFull(format!(
                "{} jobs are already waiting for a solver slot; retry later",
                self.max_queued
            )));
        }
        // Drop finished jobs past their TTL, then the oldest finished while full.
        if let Some(cutoff) = Instant::now().checked_sub(self.ttl) {
            let StoreInner { jobs, order } = &mut *inner;
            order.retain(|id| {
                let expired = jobs.get(id).is_none_or(|j| j.finished_before(cutoff));
                if expired {
                    jobs.remove(id);
                }
                !expired
            });
        }
        while inner.jobs.len() >= self.max_stored {
            let StoreInner { jobs, order } = &mut *inner;
            let oldest = order
                .iter()
                .position(|id| jobs.get(id).is_none_or(|j| j.is_finished()));
            match oldest.and_then(|i| order.remove(i)) {
                Some(id) => {
                    jobs.remove(&id);
                }
                None => {
                    return Err(ApiError::QueueFull(format!(
                        "the job store is full ({} jobs waiting or running); retry later",
                        self.max_stored
                    )));
                }
            }
        }
        let job = Arc::new(Job {
            id: format!(
                "job_{}",
                crate::auth::random_hex(16).map_err(ApiError::Internal)?
            ),
            owner: owner.to_string(),
            submitted_at: Utc::now(),
            time_limit_s,
            seed,
            submitted: Instant::now(),
            cancel: Arc::new(AtomicBool::new(false)),
            cancel_notify: Notify::new(),
            done: Notify::new(),
            progress: Arc::new(SolveProgress::default()),
            phase: Mutex::new(Phase::Queued),
        });
        inner.order.push_back(job.id.clone());
        inner.jobs.insert(job.id.clone(), job.clone());
        self.metrics.jobs_stored.set(inner.jobs.len() as i64);
        let queued = self.queued.fetch_add(1, Ordering::SeqCst) + 1;
        self.metrics.solve_queue_depth.set(queued as i64);
        Ok(job)
    }

    fn dequeued(&self) {
        let queued = self.queued.fetch_sub(1, Ordering::SeqCst).saturating_sub(1);
        self.metrics.solve_queue_depth.set(queued as i64);
    }
}

/// Stores a new job for `owner` and starts it: it waits for a solver slot, then
/// solves `problem`. 503 (`queue_full`) when the queue or the store is full.
pub fn start(
    store: &Arc<JobStore>,
    slots: &Arc<Semaphore>,
    owner: &str,
    time_limit_s: f64,
    seed: u64,
    problem: Problem,
) -> Result<Arc<Job>, ApiError> {
    let job = store.insert(owner, time_limit_s, seed)?;
    tokio::spawn(run(store.clone(), slots.clone(), job.clone(), problem));
    Ok(job)
}

/// Waits for a slot, solves, stores the outcome.
async fn run(store: Arc<JobStore>, slots: Arc<Semaphore>, job: Arc<Job>, problem: Problem) {
    let permit = if job.cancel.load(Ordering::SeqCst) {
        None
    } else {
        tokio::select! {
            permit = slots.acquire_owned() => permit.ok(),
            () = job.cancel_notify.notified() => None,
        }
    };
    store.dequeued();
    let permit = match permit {
        Some(p) if !job.cancel.load(Ordering::SeqCst) => p,
        _ => {
            job.finish(None, Outcome::Cancelled(None));
            return;
        }
    };
    let started = Instant::now();
    *job.phase() = Phase::Running { started };
    let options = SolveOptions {
        time_limit: Duration::from_secs_f64(job.time_limit_s),
        seed: job.seed,
        cancel: Some(job.cancel.clone()),
        progress: Some(job.progress.clone()),
        ..SolveOptions::default()
    };
    let metrics = store.metrics.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let _running = RunningGuard::new(&metrics.solves_running);
        let outcome = run_solve(&problem, &options);
        metrics
            .solve_duration
            .with_label_values(&["job", outcome_label(&outcome, &options)])
            .observe(started.elapsed().as_secs_f64());
        outcome
    })
    .await
    .unwrap_or_else(|e| Err(format!("solve task failed: {e}")));
    let outcome = match outcome {
        Ok(rota) if job.cancel.load(Ordering::SeqCst) => Outcome::Cancelled(Some(Arc::new(rota))),
        Ok(rota) => Outcome::Succeeded(Arc::new(rota)),
        Err(e) => {
            tracing::error!(job = %job.id, error = %e, "solve job failed");
            Outcome::Failed(e)
        }
    };
    job.finish(Some(started), outcome);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Scope;

    fn store(max_stored: usize, max_queued: usize) -> JobStore {
        let config = ServiceConfig {
            max_stored_jobs: max_stored,
            max_queued_jobs: max_queued,
            ..ServiceConfig::default()
        };
        JobStore::new(&config, Metrics::new().expect("metrics"))
    }

    fn finish(store: &JobStore, job: &Job) {
        store.dequeued();
        *job.phase() = Phase::Finished {
            started: None,
            finished: Instant::now(),
            outcome: Outcome::Cancelled(None),
        };
    }

    fn principal(key_id: &str, role: crate::Role) -> Principal {
        Principal {
            key_id: key_id.into(),
            role,
            scope: Scope::Global,
        }
    }

    #[test]
    fn the_queue_is_bounded() {
        let s = store(10, 2);
        s.insert("a", 1.0, 1).expect("first");
        s.insert("a", 1.0, 1).expect("second");
        let err = s.insert("a", 1.0, 1).expect_err("queue full");
        assert_eq!(err.code_and_status().0, "queue_full");
    }

    #[test]
    fn the_oldest_finished_job_is_evicted_and_active_ones_are_kept() {
        let s = store(2, 10);
        let first = s.insert("a", 1.0, 1).expect("first");
        let second = s.insert("a", 1.0, 1).expect("second");
        // Both active: no room.
        assert!(s.insert("a", 1.0, 1).is_err());
        finish(&s, &second);
        let third = s.insert("a", 1.0, 1).expect("evicts the finished one");
        let owner = principal("a", crate::Role::Integrator);
        assert!(s.get(&second.id, &owner).is_err());
        assert!(s.get(&first.id, &owner).is_ok());
        assert!(s.get(&third.id, &owner).is_ok());
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn jobs_are_visible_to_their_owner_and_admins_only() {
        let s = store(4, 4);
        let job = s.insert("a", 1.0, 1).expect("job");
        assert!(
            s.get(&job.id, &principal("a", crate::Role::Planner))
                .is_ok()
        );
        assert!(
            s.get(&job.id, &principal("ops", crate::Role::Admin))
                .is_ok()
        );
        let err = s
            .get(&job.id, &principal("b", crate::Role::Planner))
            .expect_err("hidden");
        assert_eq!(err.code_and_status().0, "not_found");
        assert!(s.list(&principal("b", crate::Role::Planner)).is_empty());
    }

    #[test]
    fn a_cancelled_queued_job_reports_cancelling() {
        let s = store(4, 4);
        let job = s.insert("a", 1.0, 1).expect("job");
        assert_eq!(job.view().state, "queued");
        job.cancel();
        assert_eq!(job.view().state, "cancelling");
        finish(&s, &job);
        let view = job.view();
        assert_eq!(view.state, "cancelled");
        assert!(view.links.result.is_none());
    }
}
