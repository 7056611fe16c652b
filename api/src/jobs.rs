//! Asynchronous solve jobs and their bounded store (the routes are in
//! `handlers/jobs.rs`).
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
//!
//! With a broker database (`serve --db`), every job is also written to the
//! store's `solve_jobs` table when it is taken (before the 202), when it starts
//! and when it finishes (with its rota), so a finished job's result outlives a
//! restart and can be fetched from any replica. Each process records its jobs
//! under its own instance id; at start it marks `interrupted`, with the reason,
//! the queued and running jobs of processes that have ended (SQLite: every
//! unfinished job, one process per file; PostgreSQL: those whose process's
//! instance lock is free), instead of losing them silently.

use crate::auth::Principal;
use crate::config::ServiceConfig;
use crate::http::error::ApiError;
use crate::metrics::Metrics;
use crate::solving::{RunningGuard, outcome_label, run_solve};
use crate::webhooks::SharedStore;
use carefill_solver::broker::store::{StoreError, StoredJob};
use carefill_solver::format::{Kpis, Rota};
use carefill_solver::model::Problem;
use carefill_solver::rota::{SolveOptions, SolveProgress};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
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
        /// Time spent solving (none when it never started).
        elapsed: Option<Duration>,
        finished: Instant,
        outcome: Outcome,
    },
    /// Queued or running in another process (a replica), as it last recorded.
    Elsewhere {
        state: &'static str,
    },
}

#[derive(Debug)]
enum Outcome {
    Succeeded(Arc<Rota>),
    Cancelled(Option<Arc<Rota>>),
    Failed(String),
    /// The process running it stopped first; why.
    Interrupted(String),
}

/// Why a job is `interrupted`.
pub const INTERRUPTED_REASON: &str = "the carefill process running this job stopped (restart, crash or fail-over) before it finished; submit the request again";

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
    /// Wall-clock start and end, for the store.
    times: Mutex<Times>,
}

/// When a job started and finished, wall clock.
type Times = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// A job's figures in the store's `meta` column.
#[derive(Debug, Serialize, Deserialize)]
struct StoredMeta {
    time_limit_s: f64,
    seed: u64,
    #[serde(default)]
    iterations: u64,
    #[serde(default)]
    elapsed_s: Option<f64>,
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

    #[cfg(test)]
    fn finish(&self, started: Option<Instant>, outcome: Outcome) {
        *self.phase() = finished(started, outcome);
        self.times().1 = Some(Utc::now());
    }

    /// Finishes the job: written to the store first (with a database), then
    /// visible as finished, then waiters (a cancel waiting for the result) are
    /// woken; so a job is never seen finished before a restart would keep it.
    async fn conclude(
        &self,
        persist: Option<&Persist>,
        started: Option<Instant>,
        outcome: Outcome,
    ) {
        let phase = finished(started, outcome);
        self.times().1 = Some(Utc::now());
        if let Some(p) = persist {
            match self.stored_with(&p.instance, &phase) {
                Ok(row) => p.put_later(&self.id, row).await,
                Err(e) => {
                    tracing::warn!(job = %self.id, error = %e, "job not written to the store")
                }
            }
        }
        *self.phase() = phase;
        self.done.notify_waiters();
    }

    fn times(&self) -> MutexGuard<'_, Times> {
        self.times.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The job as a store row, taken by process `instance`.
    fn stored(&self, instance: &str) -> Result<StoredJob, serde_json::Error> {
        self.stored_with(instance, &self.phase())
    }

    /// The job as a store row, in `phase`.
    fn stored_with(&self, instance: &str, phase: &Phase) -> Result<StoredJob, serde_json::Error> {
        let (state, elapsed, detail, result) = match phase {
            Phase::Queued => ("queued", None, None, None),
            Phase::Running { .. } => ("running", None, None, None),
            Phase::Elsewhere { state } => (*state, None, None, None),
            Phase::Finished {
                elapsed, outcome, ..
            } => {
                let elapsed = elapsed.map(|d| d.as_secs_f64());
                match outcome {
                    Outcome::Succeeded(r) => (
                        "succeeded",
                        elapsed,
                        None,
                        Some(serde_json::to_string(&**r)?),
                    ),
                    Outcome::Cancelled(r) => (
                        "cancelled",
                        elapsed,
                        None,
                        r.as_ref()
                            .map(|r| serde_json::to_string(&**r))
                            .transpose()?,
                    ),
                    Outcome::Failed(e) => ("failed", elapsed, Some(e.clone()), None),
                    Outcome::Interrupted(e) => ("interrupted", elapsed, Some(e.clone()), None),
                }
            }
        };
        let (started_at, finished_at) = *self.times();
        Ok(StoredJob {
            id: self.id.clone(),
            owner: self.owner.clone(),
            instance: instance.to_string(),
            state: state.to_string(),
            submitted_at: self.submitted_at,
            started_at,
            finished_at,
            detail,
            meta: serde_json::to_string(&StoredMeta {
                time_limit_s: self.time_limit_s,
                seed: self.seed,
                iterations: self.progress.iterations.load(Ordering::Relaxed),
                elapsed_s: elapsed,
            })?,
            result,
        })
    }

    /// A job from a store row: finished, or queued/running in another process.
    fn restored(row: StoredJob) -> Result<Job, String> {
        let meta: StoredMeta =
            serde_json::from_str(&row.meta).map_err(|e| format!("job {}: meta: {e}", row.id))?;
        let rota = |r: &Option<String>| -> Result<Option<Arc<Rota>>, String> {
            r.as_deref()
                .map(|t| serde_json::from_str::<Rota>(t).map(Arc::new))
                .transpose()
                .map_err(|e| format!("job {}: result: {e}", row.id))
        };
        let detail = row.detail.clone().unwrap_or_default();
        let outcome = match row.state.as_str() {
            "succeeded" => Some(Outcome::Succeeded(
                rota(&row.result)?.ok_or_else(|| format!("job {}: no result", row.id))?,
            )),
            "cancelled" => Some(Outcome::Cancelled(rota(&row.result)?)),
            "failed" => Some(Outcome::Failed(detail)),
            "interrupted" => Some(Outcome::Interrupted(detail)),
            _ => None,
        };
        // How long ago it finished, so the time to live counts from then.
        let finished = row
            .finished_at
            .and_then(|t| (Utc::now() - t).to_std().ok())
            .and_then(|ago| Instant::now().checked_sub(ago))
            .unwrap_or_else(Instant::now);
        let phase = match outcome {
            Some(outcome) => Phase::Finished {
                elapsed: meta.elapsed_s.map(Duration::from_secs_f64),
                finished,
                outcome,
            },
            None => Phase::Elsewhere {
                state: if row.state == "queued" {
                    "queued"
                } else {
                    "running"
                },
            },
        };
        let progress = SolveProgress::default();
        progress
            .iterations
            .store(meta.iterations, Ordering::Relaxed);
        Ok(Job {
            id: row.id,
            owner: row.owner,
            submitted_at: row.submitted_at,
            time_limit_s: meta.time_limit_s,
            seed: meta.seed,
            submitted: Instant::now(),
            cancel: Arc::new(AtomicBool::new(false)),
            cancel_notify: Notify::new(),
            done: Notify::new(),
            progress: Arc::new(progress),
            phase: Mutex::new(phase),
            times: Mutex::new((row.started_at, row.finished_at)),
        })
    }

    /// Whether another process holds the job (this one cannot cancel it).
    pub fn is_elsewhere(&self) -> bool {
        matches!(*self.phase(), Phase::Elsewhere { .. })
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
            Phase::Queued | Phase::Running { .. } | Phase::Elsewhere { .. } => {
                Err(ApiError::Conflict {
                    code: "job_not_finished",
                    detail: format!("job {} has not finished; poll its status", self.id),
                    retry_after: Some(1),
                })
            }
            Phase::Finished { outcome, .. } => match outcome {
                Outcome::Succeeded(r) | Outcome::Cancelled(Some(r)) => Ok(r.clone()),
                Outcome::Cancelled(None) => Err(without(format!(
                    "job {} was cancelled before it started",
                    self.id
                ))),
                Outcome::Failed(_) => {
                    Err(without(format!("job {} failed; see its status", self.id)))
                }
                Outcome::Interrupted(why) => {
                    Err(without(format!("job {} was interrupted: {why}", self.id)))
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
            Phase::Elsewhere { state } => (*state, None, None, None, None, false),
            Phase::Finished {
                elapsed, outcome, ..
            } => {
                let elapsed = *elapsed;
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
                    Outcome::Interrupted(e) => {
                        ("interrupted", elapsed, None, None, Some(e.clone()), false)
                    }
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

fn finished(started: Option<Instant>, outcome: Outcome) -> Phase {
    Phase::Finished {
        elapsed: started.map(|s| s.elapsed()),
        finished: Instant::now(),
        outcome,
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
    /// `queued`, `running`, `cancelling`, `succeeded`, `cancelled`, `failed` or
    /// `interrupted` (its process stopped first; `error` says so).
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
    /// Why it failed or was interrupted.
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

/// Where jobs are written: the broker's database, under this process's instance id.
#[derive(Clone)]
struct Persist {
    store: SharedStore,
    instance: String,
}

impl std::fmt::Debug for Persist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Persist({})", self.instance)
    }
}

impl Persist {
    /// Writes `job` and deletes `evicted` (blocking: call on the blocking pool).
    fn record(&self, job: &Job, evicted: &[String]) -> Result<(), StoreError> {
        let row = job.stored(&self.instance)?;
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        if !evicted.is_empty() {
            let ids: Vec<&str> = evicted.iter().map(String::as_str).collect();
            store.delete_jobs(&ids)?;
        }
        store.put_job(&row)
    }

    /// Writes a row on the blocking pool; a failure is logged (the job goes
    /// on in memory, and a restart marks it interrupted).
    async fn put_later(&self, id: &str, row: StoredJob) {
        let p = self.clone();
        let written = tokio::task::spawn_blocking(move || {
            p.store
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .put_job(&row)
        })
        .await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(job = %id, error = %e, "job not written to the store"),
            Err(e) => tracing::warn!(job = %id, error = %e, "job not written to the store"),
        }
    }

    /// [`Self::record`] on the blocking pool; a failure is logged (the job
    /// goes on in memory, and a restart marks it interrupted).
    async fn record_later(&self, job: &Arc<Job>) {
        let (p, j) = (self.clone(), job.clone());
        match tokio::task::spawn_blocking(move || p.record(&j, &[])).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(job = %job.id, error = %e, "job not written to the store"),
            Err(e) => tracing::warn!(job = %job.id, error = %e, "job not written to the store"),
        }
    }
}

/// The bounded job store: in memory, and written through to the broker's
/// database when there is one.
#[derive(Debug)]
pub struct JobStore {
    inner: Mutex<StoreInner>,
    queued: AtomicUsize,
    max_stored: usize,
    max_queued: usize,
    ttl: Duration,
    metrics: Metrics,
    persist: Option<Persist>,
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
            persist: None,
        }
    }

    /// A store written through to `store` (the broker's database). Marks the
    /// unfinished jobs of ended processes `interrupted`, then holds the newest
    /// finished jobs (up to the store's size) in memory. Blocking.
    pub fn persistent(
        config: &ServiceConfig,
        metrics: Metrics,
        store: SharedStore,
    ) -> Result<Self, String> {
        let instance = format!("inst_{}", crate::auth::random_hex(8)?);
        let mut jobs = Self::new(config, metrics);
        let rows = {
            let mut s = store.lock().unwrap_or_else(|e| e.into_inner());
            s.claim_job_instance(&instance)
                .map_err(|e| format!("job store: {e}"))?;
            let interrupted = s
                .interrupt_orphaned_jobs(&instance, INTERRUPTED_REASON, Utc::now())
                .map_err(|e| format!("job store: {e}"))?;
            if !interrupted.is_empty() {
                tracing::warn!(
                    target: "carefill",
                    jobs = ?interrupted,
                    "solve jobs of a stopped process marked interrupted"
                );
            }
            s.load_jobs().map_err(|e| format!("job store: {e}"))?
        };
        {
            let mut inner = jobs.lock();
            let finished: Vec<Job> = rows
                .into_iter()
                .filter_map(|row| match Job::restored(row) {
                    Ok(job) if job.is_finished() => Some(job),
                    Ok(_) => None,
                    Err(e) => {
                        tracing::warn!(target: "carefill", error = %e, "stored job skipped");
                        None
                    }
                })
                .collect();
            let skip = finished.len().saturating_sub(jobs.max_stored);
            for job in finished.into_iter().skip(skip) {
                inner.order.push_back(job.id.clone());
                inner.jobs.insert(job.id.clone(), Arc::new(job));
            }
            jobs.metrics.jobs_stored.set(inner.jobs.len() as i64);
        }
        jobs.persist = Some(Persist { store, instance });
        Ok(jobs)
    }

    fn lock(&self) -> MutexGuard<'_, StoreInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A job, if it exists and `principal` may see it: this process's, or
    /// (with a database) one another process recorded.
    pub fn get(&self, id: &str, principal: &Principal) -> Result<Arc<Job>, ApiError> {
        let not_found = || ApiError::NotFound(format!("no job {id}"));
        let mine = self.lock().jobs.get(id).cloned();
        let job = match (mine, &self.persist) {
            (Some(job), _) => job,
            (None, Some(p)) => Arc::new(self.fetch(p, id)?.ok_or_else(not_found)?),
            (None, None) => return Err(not_found()),
        };
        if job.visible_to(principal) {
            Ok(job)
        } else {
            Err(not_found())
        }
    }

    /// A job another process recorded; when it is unfinished, first checks
    /// whether that process has ended (then it is marked interrupted).
    fn fetch(&self, p: &Persist, id: &str) -> Result<Option<Job>, ApiError> {
        let mut store = p.store.lock().unwrap_or_else(|e| e.into_inner());
        let unavailable = |e: StoreError| ApiError::StorageUnavailable(e.to_string());
        let mut row = store.get_job(id).map_err(unavailable)?;
        if row.as_ref().is_some_and(|r| {
            carefill_solver::broker::store::JOB_STATES_UNFINISHED.contains(&r.state.as_str())
        }) {
            store
                .interrupt_orphaned_jobs(&p.instance, INTERRUPTED_REASON, Utc::now())
                .map_err(unavailable)?;
            row = store.get_job(id).map_err(unavailable)?;
        }
        row.map(Job::restored)
            .transpose()
            .map_err(ApiError::Internal)
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

    /// A new queued job, and the ids of finished jobs dropped to make room.
    fn insert(
        &self,
        owner: &str,
        time_limit_s: f64,
        seed: u64,
    ) -> Result<(Arc<Job>, Vec<String>), ApiError> {
        let mut inner = self.lock();
        let mut evicted = Vec::new();
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
                    evicted.push(id.clone());
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
                    evicted.push(id);
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
            times: Mutex::new((None, None)),
        });
        inner.order.push_back(job.id.clone());
        inner.jobs.insert(job.id.clone(), job.clone());
        self.metrics.jobs_stored.set(inner.jobs.len() as i64);
        let queued = self.queued.fetch_add(1, Ordering::SeqCst) + 1;
        self.metrics.solve_queue_depth.set(queued as i64);
        Ok((job, evicted))
    }

    /// Takes back a job that could not be recorded.
    fn forget(&self, id: &str) {
        let mut inner = self.lock();
        inner.jobs.remove(id);
        inner.order.retain(|x| x != id);
        self.metrics.jobs_stored.set(inner.jobs.len() as i64);
    }

    fn dequeued(&self) {
        let queued = self.queued.fetch_sub(1, Ordering::SeqCst).saturating_sub(1);
        self.metrics.solve_queue_depth.set(queued as i64);
    }
}

/// Stores a new job for `owner` and starts it: it waits for a solver slot, then
/// solves `problem`. 503 (`queue_full`) when the queue or the store is full;
/// with a database, the job is written there before this returns (503
/// `storage_unavailable` if it cannot be).
pub async fn start(
    store: &Arc<JobStore>,
    slots: &Arc<Semaphore>,
    owner: &str,
    time_limit_s: f64,
    seed: u64,
    problem: Problem,
) -> Result<Arc<Job>, ApiError> {
    let (job, evicted) = store.insert(owner, time_limit_s, seed)?;
    if let Some(p) = store.persist.clone() {
        let j = job.clone();
        let written = tokio::task::spawn_blocking(move || p.record(&j, &evicted))
            .await
            .map_err(|e| StoreError::Database(e.to_string()))
            .and_then(|r| r);
        if let Err(e) = written {
            store.forget(&job.id);
            store.dequeued();
            return Err(ApiError::StorageUnavailable(e.to_string()));
        }
    }
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
            job.conclude(store.persist.as_ref(), None, Outcome::Cancelled(None))
                .await;
            return;
        }
    };
    let started = Instant::now();
    *job.phase() = Phase::Running { started };
    job.times().0 = Some(Utc::now());
    if let Some(p) = &store.persist {
        p.record_later(&job).await;
    }
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
    job.conclude(store.persist.as_ref(), Some(started), outcome)
        .await;
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
            elapsed: None,
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
        s.insert("a", 1.0, 1).map(|(j, _)| j).expect("first");
        s.insert("a", 1.0, 1).map(|(j, _)| j).expect("second");
        let err = s
            .insert("a", 1.0, 1)
            .map(|(j, _)| j)
            .expect_err("queue full");
        assert_eq!(err.code_and_status().0, "queue_full");
    }

    #[test]
    fn the_oldest_finished_job_is_evicted_and_active_ones_are_kept() {
        let s = store(2, 10);
        let first = s.insert("a", 1.0, 1).map(|(j, _)| j).expect("first");
        let second = s.insert("a", 1.0, 1).map(|(j, _)| j).expect("second");
        // Both active: no room.
        assert!(s.insert("a", 1.0, 1).is_err());
        finish(&s, &second);
        let third = s
            .insert("a", 1.0, 1)
            .map(|(j, _)| j)
            .expect("evicts the finished one");
        let owner = principal("a", crate::Role::Integrator);
        assert!(s.get(&second.id, &owner).is_err());
        assert!(s.get(&first.id, &owner).is_ok());
        assert!(s.get(&third.id, &owner).is_ok());
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn jobs_are_visible_to_their_owner_and_admins_only() {
        let s = store(4, 4);
        let job = s.insert("a", 1.0, 1).map(|(j, _)| j).expect("job");
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

    fn sqlite(path: &std::path::Path) -> SharedStore {
        let store = carefill_solver::broker::store::SqliteStore::open(&path.to_string_lossy())
            .expect("open");
        Arc::new(Mutex::new(Box::new(store)))
    }

    /// A restart: the running job is marked interrupted with the reason, the
    /// finished one keeps its rota, and a job the process cancelled before it
    /// started stays cancelled without a result.
    #[test]
    fn jobs_outlive_a_restart_in_the_store() {
        let dir = std::env::temp_dir().join(format!(
            "carefill-api-jobs-{}-{}",
            std::process::id(),
            crate::auth::random_hex(4).expect("hex")
        ));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("broker.db");
        let config = ServiceConfig::default();
        let owner = principal("a", crate::Role::Planner);
        let (done_id, running_id, cancelled_id) = {
            let jobs = JobStore::persistent(&config, Metrics::new().expect("m"), sqlite(&path))
                .expect("jobs");
            let p = jobs.persist.clone().expect("persistent");
            let insert = |jobs: &JobStore| {
                let (job, evicted) = jobs.insert("a", 5.0, 7).expect("insert");
                p.record(&job, &evicted).expect("record");
                job
            };
            let done = insert(&jobs);
            jobs.dequeued();
            *done.phase() = Phase::Running {
                started: Instant::now(),
            };
            done.progress.iterations.store(42, Ordering::Relaxed);
            let rota = Rota::default();
            done.finish(Some(Instant::now()), Outcome::Succeeded(Arc::new(rota)));
            p.record(&done, &[]).expect("record");
            let running = insert(&jobs);
            jobs.dequeued();
            *running.phase() = Phase::Running {
                started: Instant::now(),
            };
            p.record(&running, &[]).expect("record");
            let cancelled = insert(&jobs);
            finish(&jobs, &cancelled);
            p.record(&cancelled, &[]).expect("record");
            assert_eq!(
                jobs.get(&running.id, &owner).expect("job").view().state,
                "running"
            );
            (done.id.clone(), running.id.clone(), cancelled.id.clone())
        };
        // The process is gone; a new one opens the same file.
        let jobs = JobStore::persistent(&config, Metrics::new().expect("m"), sqlite(&path))
            .expect("jobs after restart");
        let running = jobs.get(&running_id, &owner).expect("running job kept");
        let view = running.view();
        assert_eq!(view.state, "interrupted");
        assert_eq!(view.error.as_deref(), Some(INTERRUPTED_REASON));
        let err = running.result().expect_err("no result");
        assert_eq!(err.code_and_status().0, "job_without_result");
        let done = jobs.get(&done_id, &owner).expect("done job kept");
        let view = done.view();
        assert_eq!(
            (view.state, view.iterations, view.seed),
            ("succeeded", 42, 7)
        );
        assert_eq!(
            view.links.result,
            Some(format!("/v1/rota/jobs/{done_id}/result"))
        );
        assert_eq!(*done.result().expect("result"), Rota::default());
        assert_eq!(
            jobs.get(&cancelled_id, &owner).expect("kept").view().state,
            "cancelled"
        );
        // Still only for their owner.
        assert!(
            jobs.get(&done_id, &principal("b", crate::Role::Planner))
                .is_err()
        );
        assert_eq!(jobs.list(&owner).len(), 3);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_cancelled_queued_job_reports_cancelling() {
        let s = store(4, 4);
        let job = s.insert("a", 1.0, 1).map(|(j, _)| j).expect("job");
        assert_eq!(job.view().state, "queued");
        job.cancel();
        assert_eq!(job.view().state, "cancelling");
        finish(&s, &job);
        let view = job.view();
        assert_eq!(view.state, "cancelled");
        assert!(view.links.result.is_none());
    }
}
