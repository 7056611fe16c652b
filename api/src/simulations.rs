//! Brokerage simulation jobs (`POST /v1/simulations`; the routes are in
//! `handlers/simulations.rs`).
//!
//! A simulation is CPU-heavy (a month of a county runs the real broker and rota
//! engine for every policy and seed), so the store is small and bounded: one
//! simulation runs at a time, at most [`MAX_ACTIVE`] are queued or running
//! (one more gets 503 + Retry-After), and at most [`MAX_STORED`] are kept, the
//! oldest finished going first. A job is validated before it is taken (422 with
//! every problem's JSON path), then prepares its county and runs on the
//! blocking pool with a [`Control`] that carries its progress (simulated days
//! over every replication) and its cancel flag. Jobs live in memory: a restart
//! loses them (submit again). Jobs are visible to the key that submitted them
//! and to admin keys only (others get 404, so ids do not leak).

use crate::auth::Principal;
use crate::http::error::ApiError;
use carefill_solver::simulate::{self, Control, County, Scenario, SimError, SimReport};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{Notify, Semaphore};

/// Simulations queued or running at once; one more is refused with 503.
pub const MAX_ACTIVE: usize = 2;
/// Simulations kept (queued, running and finished).
pub const MAX_STORED: usize = 16;

/// Where a simulation job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimState {
    /// Waiting for the one simulation slot.
    Queued,
    /// Planning the county's first rotas.
    Preparing,
    /// Running the replications.
    Running,
    /// Finished with a report.
    Succeeded,
    /// Cancelled (no report).
    Cancelled,
    /// Stopped by an error (`error` says which).
    Failed,
}

impl SimState {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SimState::Queued => "queued",
            SimState::Preparing => "preparing",
            SimState::Running => "running",
            SimState::Succeeded => "succeeded",
            SimState::Cancelled => "cancelled",
            SimState::Failed => "failed",
        }
    }

    fn finished(self) -> bool {
        matches!(
            self,
            SimState::Succeeded | SimState::Cancelled | SimState::Failed
        )
    }
}

/// What a finished simulation produced: the report and its renderings, made
/// once so downloads are cheap.
#[derive(Debug)]
pub struct SimOutputs {
    /// The report (as `carefill simulate`'s report.json).
    pub report: SimReport,
    /// report.html.
    pub html: String,
    /// The CSV tables by file name (`summary.csv`, `runs.csv`, ...).
    pub csv: Vec<(&'static str, String)>,
}

#[derive(Debug)]
struct Inner {
    state: SimState,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    error: Option<(String, String)>,
    outputs: Option<Arc<SimOutputs>>,
}

/// One simulation job.
#[derive(Debug)]
pub struct SimJob {
    /// `sim_` + 32 hex characters.
    pub id: String,
    /// Key id of the submitter.
    pub owner: String,
    /// Service time of submission.
    pub submitted_at: DateTime<Utc>,
    /// Scenario name.
    pub scenario: String,
    /// Days simulated.
    pub days: u32,
    /// Seeds.
    pub seeds: Vec<u64>,
    /// Policy names.
    pub policies: Vec<String>,
    control: Control,
    inner: Mutex<Inner>,
    done: Notify,
}

/// Progress of a simulation.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SimProgress {
    /// Simulated days finished, summed over every (policy, seed) replication.
    pub days_done: u64,
    /// Simulated days in all (days x policies x seeds).
    pub days_total: u64,
    /// `days_done / days_total` (0 before the run starts).
    pub fraction: f64,
}

/// Links of a simulation job.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SimLinks {
    /// This status.
    pub status: String,
    /// The report (JSON) once succeeded.
    pub result: String,
    /// The HTML report once succeeded.
    pub report_html: String,
    /// CSV tables once succeeded: `…/csv/summary`, `runs`, `fill_times`, `daily`.
    pub csv: String,
    /// Cancel.
    pub cancel: String,
}

/// Why a simulation failed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SimFailure {
    /// Stable code: `invalid_county`, `broker_error`, `internal_error`.
    pub code: String,
    /// What went wrong.
    pub message: String,
}

/// A simulation job's status as JSON.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = SimulationJob)]
pub struct SimJobView {
    /// Job id.
    pub id: String,
    /// `queued`, `preparing`, `running`, `succeeded`, `cancelled` or `failed`.
    #[schema(value_type = String)]
    pub state: &'static str,
    /// Key id of the submitter.
    pub owner: String,
    /// Scenario name.
    pub scenario: String,
    /// Days simulated.
    pub days: u32,
    /// Seeds run (one replication per policy and seed).
    pub seeds: Vec<u64>,
    /// Policies compared.
    pub policies: Vec<String>,
    /// RFC 3339, the service's clock.
    pub submitted_at: String,
    /// RFC 3339, when it left the queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// RFC 3339, when it finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Simulated days so far.
    pub progress: SimProgress,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<SimFailure>,
    /// Links.
    pub links: SimLinks,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl SimJob {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Current state.
    pub fn state(&self) -> SimState {
        self.lock().state
    }

    fn visible_to(&self, principal: &Principal) -> bool {
        principal.is_admin() || principal.key_id == self.owner
    }

    /// The status as JSON.
    pub fn view(&self) -> SimJobView {
        let inner = self.lock();
        let (done, total) = self.control.progress();
        let base = format!("/v1/simulations/{}", self.id);
        SimJobView {
            id: self.id.clone(),
            state: inner.state.as_str(),
            owner: self.owner.clone(),
            scenario: self.scenario.clone(),
            days: self.days,
            seeds: self.seeds.clone(),
            policies: self.policies.clone(),
            submitted_at: rfc3339(self.submitted_at),
            started_at: inner.started_at.map(rfc3339),
            finished_at: inner.finished_at.map(rfc3339),
            progress: SimProgress {
                days_done: done,
                days_total: total,
                fraction: if total > 0 {
                    done as f64 / total as f64
                } else {
                    0.0
                },
            },
            error: inner.error.as_ref().map(|(code, message)| SimFailure {
                code: code.clone(),
                message: message.clone(),
            }),
            links: SimLinks {
                result: format!("{base}/result"),
                report_html: format!("{base}/report.html"),
                csv: format!("{base}/csv/{{table}}"),
                cancel: format!("{base}/cancel"),
                status: base,
            },
        }
    }

    /// The outputs: 409 `simulation_not_finished` (with Retry-After) while it
    /// waits or runs, 409 `simulation_without_result` when cancelled or failed.
    pub fn outputs(&self) -> Result<Arc<SimOutputs>, ApiError> {
        let inner = self.lock();
        match (inner.state, &inner.outputs) {
            (SimState::Succeeded, Some(o)) => Ok(o.clone()),
            (s, _) if !s.finished() => Err(ApiError::Conflict {
                code: "simulation_not_finished",
                detail: format!("simulation {} has not finished; poll its status", self.id),
                retry_after: Some(5),
            }),
            (s, _) => Err(ApiError::Conflict {
                code: "simulation_without_result",
                detail: format!("simulation {} {} without a report", self.id, s.as_str()),
                retry_after: None,
            }),
        }
    }

    /// Asks the job to stop: a queued job is cancelled at once, a running one
    /// at its replications' next event.
    pub fn cancel(&self, now: DateTime<Utc>) {
        self.control.cancel();
        let mut inner = self.lock();
        if inner.state == SimState::Queued {
            inner.state = SimState::Cancelled;
            inner.finished_at = Some(now);
            drop(inner);
            self.done.notify_waiters();
        }
    }

    /// Waits up to `timeout` for the job to finish; whether it has.
    pub async fn wait_finished(&self, timeout: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.done.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.state().finished() {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.state().finished();
            }
        }
    }

    fn set(&self, f: impl FnOnce(&mut Inner)) {
        let finished = {
            let mut inner = self.lock();
            f(&mut inner);
            inner.state.finished()
        };
        if finished {
            self.done.notify_waiters();
        }
    }
}

/// Where a simulation's county comes from, decided by the handler.
#[derive(Debug)]
pub enum CountySource {
    /// Generated (or the scenario's other kinds): built by the job.
    Scenario,
    /// The serving broker's roster and rotas, read when the job was taken.
    Serving(Box<carefill_solver::format::PlanningRequest>, RotaMap),
}

/// Team id to rota.
pub type RotaMap = std::collections::BTreeMap<String, carefill_solver::format::Rota>;

/// The simulation jobs of this process.
#[derive(Debug)]
pub struct SimulationStore {
    jobs: Mutex<VecDeque<Arc<SimJob>>>,
    slot: Arc<Semaphore>,
}

impl Default for SimulationStore {
    fn default() -> Self {
        SimulationStore {
            jobs: Mutex::new(VecDeque::new()),
            slot: Arc::new(Semaphore::new(1)),
        }
    }
}

impl SimulationStore {
    fn lock(&self) -> MutexGuard<'_, VecDeque<Arc<SimJob>>> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a validated scenario and starts it: 503 `queue_full` when
    /// [`MAX_ACTIVE`] simulations are queued or running, or every stored
    /// one is unfinished.
    pub fn start(
        &self,
        owner: &str,
        scenario: Scenario,
        seeds: Vec<u64>,
        source: CountySource,
        now: DateTime<Utc>,
        clock: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
    ) -> Result<Arc<SimJob>, ApiError> {
        let job = Arc::new(SimJob {
            id: format!(
                "sim_{}",
                crate::auth::random_hex(16).map_err(ApiError::Internal)?
            ),
            owner: owner.to_string(),
            submitted_at: now,
            scenario: scenario.name.clone(),
            days: scenario.days,
            seeds: seeds.clone(),
            policies: scenario.policies.iter().map(|p| p.name.clone()).collect(),
            control: Control::default(),
            inner: Mutex::new(Inner {
                state: SimState::Queued,
                started_at: None,
                finished_at: None,
                error: None,
                outputs: None,
            }),
            done: Notify::new(),
        });
        {
            let mut jobs = self.lock();
            let active = jobs.iter().filter(|j| !j.state().finished()).count();
            if active >= MAX_ACTIVE {
                return Err(ApiError::QueueFull(format!(
                    "{active} simulations are queued or running (at most {MAX_ACTIVE}); retry when one has finished"
                )));
            }
            while jobs.len() >= MAX_STORED {
                match jobs.iter().position(|j| j.state().finished()) {
                    Some(i) => {
                        jobs.remove(i);
                    }
                    None => {
                        return Err(ApiError::QueueFull(
                            "the simulation store is full of unfinished simulations".into(),
                        ));
                    }
                }
            }
            jobs.push_back(job.clone());
        }
        let slot = self.slot.clone();
        let running = job.clone();
        tokio::spawn(async move {
            let Ok(_permit) = slot.acquire_owned().await else {
                return;
            };
            {
                let mut inner = running.lock();
                if inner.state != SimState::Queued {
                    return; // cancelled while waiting
                }
                inner.state = SimState::Preparing;
                inner.started_at = Some(clock());
            }
            let work = running.clone();
            let outcome =
                tokio::task::spawn_blocking(move || execute(&work, &scenario, &seeds, source))
                    .await
                    .unwrap_or_else(|e| Err(("internal_error".into(), e.to_string())));
            let at = clock();
            running.set(|inner| {
                inner.finished_at = Some(at);
                match outcome {
                    Ok(o) => {
                        inner.state = SimState::Succeeded;
                        inner.outputs = Some(Arc::new(o));
                    }
                    Err((code, _)) if code == "cancelled" => inner.state = SimState::Cancelled,
                    Err(e) => {
                        inner.state = SimState::Failed;
                        inner.error = Some(e);
                    }
                }
            });
        });
        Ok(job)
    }

    /// A job the caller may see; 404 otherwise.
    pub fn get(&self, id: &str, principal: &Principal) -> Result<Arc<SimJob>, ApiError> {
        self.lock()
            .iter()
            .find(|j| j.id == id && j.visible_to(principal))
            .cloned()
            .ok_or_else(|| ApiError::NotFound(format!("no simulation {id}")))
    }

    /// The caller's jobs (admin: every job), newest first.
    pub fn list(&self, principal: &Principal) -> Vec<Arc<SimJob>> {
        self.lock()
            .iter()
            .rev()
            .filter(|j| j.visible_to(principal))
            .cloned()
            .collect()
    }

    /// Cancels every job (shutdown).
    pub fn cancel_all(&self, now: DateTime<Utc>) {
        for j in self.lock().iter() {
            j.cancel(now);
        }
    }
}

/// Prepares the county and runs the replications (blocking).
fn execute(
    job: &SimJob,
    scenario: &Scenario,
    seeds: &[u64],
    source: CountySource,
) -> Result<SimOutputs, (String, String)> {
    let fail = |e: SimError| (e.code().to_string(), e.to_string());
    let county: County = match source {
        CountySource::Scenario => simulate::prepare(scenario, None).map_err(fail)?,
        CountySource::Serving(roster, rotas) => {
            simulate::from_roster(scenario, *roster, Some(rotas), 1).map_err(fail)?
        }
    };
    if job.control.is_cancelled() {
        return Err(fail(SimError::Cancelled));
    }
    job.set(|inner| {
        if inner.state == SimState::Preparing {
            inner.state = SimState::Running;
        }
    });
    let report = simulate::simulate_with(scenario, &county, seeds, &job.control).map_err(fail)?;
    let html = simulate::html::html(&report).map_err(|e| ("internal_error".to_string(), e))?;
    let csv = report.csv();
    Ok(SimOutputs { report, html, csv })
}
