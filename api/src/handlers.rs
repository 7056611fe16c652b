//! Handlers of the service and rota routes (jobs are in [`crate::jobs`]).

use crate::auth::{Principal, Scope};
use crate::error::ApiError;
use crate::routes::{RequestCtx, json_reply, parse_body};
use crate::state::MAX_SYNC_TIME_LIMIT_S;
use carefill_solver::check::{CheckReport, check};
use carefill_solver::format::{Issue, Kpis, PlanningRequest, Rota, UnplacedVisit};
use carefill_solver::model::Problem;
use carefill_solver::rota::{SolveOptions, solve};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use warp::Reply;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;

/// `GET /health`.
pub async fn health(ctx: RequestCtx) -> Result<Response, ApiError> {
    json_reply(
        StatusCode::OK,
        &serde_json::json!({
            "status": if ctx.state.is_shutting_down() { "shutting_down" } else { "ok" },
            "service": "carefill",
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_s": ctx.state.started.elapsed().as_secs(),
        }),
    )
}

/// `GET /metrics`.
pub async fn metrics(ctx: RequestCtx) -> Result<Response, ApiError> {
    let text = ctx.state.metrics.render().map_err(ApiError::Internal)?;
    let mut resp = text.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(resp)
}

/// `GET /openapi.json`.
pub async fn openapi(_ctx: RequestCtx) -> Result<Response, ApiError> {
    json_reply(StatusCode::OK, &crate::openapi::document())
}

/// `GET /v1/whoami`.
pub async fn whoami(ctx: RequestCtx) -> Result<Response, ApiError> {
    json_reply(StatusCode::OK, ctx.principal()?)
}

/// `GET /v1/demo/request`.
pub async fn demo_request(ctx: RequestCtx) -> Result<Response, ApiError> {
    match &ctx.state.demo {
        Some(r) => json_reply(StatusCode::OK, r.as_ref()),
        None => Err(ApiError::NotFound(
            "the service was started without --demo".into(),
        )),
    }
}

/// Reply of `POST /v1/requests/validate`.
#[derive(Serialize)]
struct ValidationReply {
    valid: bool,
    issues: Vec<Issue>,
}

/// `POST /v1/requests/validate`.
pub async fn validate(ctx: RequestCtx) -> Result<Response, ApiError> {
    let body = ctx.body.clone();
    let reply = blocking(move || match parse_problem(&body) {
        Ok(_) => Ok(ValidationReply {
            valid: true,
            issues: Vec::new(),
        }),
        Err(ApiError::Invalid(issues)) => Ok(ValidationReply {
            valid: false,
            issues,
        }),
        Err(e) => Err(e),
    })
    .await?;
    json_reply(StatusCode::OK, &reply)
}

/// `POST /v1/rota/solve`.
pub async fn solve_sync(ctx: RequestCtx) -> Result<Response, ApiError> {
    let limit = time_limit(&ctx, 5.0, MAX_SYNC_TIME_LIMIT_S)?;
    let seed = ctx.query_u64("seed")?.unwrap_or(1);
    if ctx.state.is_shutting_down() {
        return Err(ApiError::ShuttingDown);
    }
    // Take the slot first: parsing a large body is work too, and a busy service should say so at once.
    let permit = ctx
        .state
        .solve_slots
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::Busy)?;
    let body = ctx.body.clone();
    let (request, problem) = blocking(move || parse_problem(&body)).await?;
    check_request_scope(ctx.principal()?, &request)?;
    drop(request);
    let options = SolveOptions {
        time_limit: Duration::from_secs_f64(limit),
        seed,
        cancel: Some(ctx.state.shutdown.clone()),
        ..SolveOptions::default()
    };
    let metrics = ctx.state.metrics.clone();
    let rota = blocking(move || {
        let _permit = permit;
        let _running = RunningGuard::new(&metrics.solves_running);
        let started = Instant::now();
        let outcome = run_solve(&problem, &options);
        let label = outcome_label(&outcome, &options);
        metrics
            .solve_duration
            .with_label_values(&["sync", label])
            .observe(started.elapsed().as_secs_f64());
        outcome.map_err(ApiError::Internal)
    })
    .await?;
    json_reply(StatusCode::OK, &rota)
}

/// Body of check and analyse.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckBody {
    request: PlanningRequest,
    rota: Rota,
}

fn check_body(ctx: &RequestCtx) -> Result<(PlanningRequest, Problem, Rota), ApiError> {
    let body: CheckBody = ctx.json()?;
    let problem = Problem::from_request(&body.request).map_err(|issues| {
        ApiError::Invalid(
            issues
                .into_iter()
                .map(|mut i| {
                    i.path = i.path.replacen('$', "$.request", 1);
                    i
                })
                .collect(),
        )
    })?;
    Ok((body.request, problem, body.rota))
}

/// `POST /v1/rota/check`.
pub async fn check_rota(ctx: RequestCtx) -> Result<Response, ApiError> {
    let report = checked(ctx).await?.1;
    json_reply(StatusCode::OK, &report)
}

async fn checked(ctx: RequestCtx) -> Result<(Rota, CheckReport), ApiError> {
    let principal = ctx.principal()?.clone();
    blocking(move || {
        let (request, problem, rota) = check_body(&ctx)?;
        check_request_scope(&principal, &request)?;
        let report = check(&problem, &rota);
        Ok((rota, report))
    })
    .await
}

/// Reply of `POST /v1/rota/analyse`.
#[derive(Serialize)]
struct Analysis {
    feasible: bool,
    violations: Vec<carefill_solver::check::Violation>,
    kpis: Kpis,
    unplaced: usize,
    unplaced_by_reason: BTreeMap<String, usize>,
    unplaced_visits: Vec<UnplacedVisit>,
}

/// `POST /v1/rota/analyse`.
pub async fn analyse_rota(ctx: RequestCtx) -> Result<Response, ApiError> {
    let (rota, report) = checked(ctx).await?;
    let mut by_reason = BTreeMap::new();
    for u in &rota.unplaced {
        let code = u
            .reasons
            .first()
            .map_or_else(|| "unexplained".to_string(), |r| r.code.clone());
        *by_reason.entry(code).or_insert(0) += 1;
    }
    json_reply(
        StatusCode::OK,
        &Analysis {
            feasible: report.is_feasible(),
            violations: report.violations,
            kpis: report.kpis,
            unplaced: rota.unplaced.len(),
            unplaced_by_reason: by_reason,
            unplaced_visits: rota.unplaced,
        },
    )
}

/// The `time_limit_s` query parameter, checked against `(0, max]`.
pub(crate) fn time_limit(ctx: &RequestCtx, default: f64, max: f64) -> Result<f64, ApiError> {
    let limit = ctx.query_f64("time_limit_s")?.unwrap_or(default);
    if limit > 0.0 && limit <= max {
        Ok(limit)
    } else {
        Err(ApiError::BadParameter {
            path: "time_limit_s".into(),
            detail: format!("time_limit_s must be in (0, {max}], got {limit}"),
        })
    }
}

/// Parses and validates a planning request.
pub(crate) fn parse_problem(bytes: &[u8]) -> Result<(PlanningRequest, Problem), ApiError> {
    let request: PlanningRequest = parse_body(bytes)?;
    let problem = Problem::from_request(&request).map_err(ApiError::Invalid)?;
    Ok((request, problem))
}

/// 403 unless the request holds only data of the key's scope: a planner key's
/// team, a provider key's provider. Unscoped keys may send anything. Entries
/// without a team (or provider) are allowed: they belong to the caller's request.
pub(crate) fn check_request_scope(
    principal: &Principal,
    request: &PlanningRequest,
) -> Result<(), ApiError> {
    let outside = |path: String, what: &str| {
        Err(ApiError::Forbidden(format!(
            "{path}: {what} is outside the scope of key {}",
            principal.key_id
        )))
    };
    match &principal.scope {
        Scope::Global => Ok(()),
        Scope::Team(team) => {
            for (i, t) in request.teams.iter().enumerate() {
                if &t.id != team {
                    return outside(format!("$.teams[{i}].id"), &format!("team {}", t.id));
                }
            }
            for (i, c) in request.carers.iter().enumerate() {
                if let Some(t) = c.team.as_ref().filter(|t| *t != team) {
                    return outside(format!("$.carers[{i}].team"), &format!("team {t}"));
                }
            }
            for (i, s) in request.service_users.iter().enumerate() {
                if let Some(t) = s.team.as_ref().filter(|t| *t != team) {
                    return outside(format!("$.service_users[{i}].team"), &format!("team {t}"));
                }
            }
            Ok(())
        }
        Scope::Provider(provider) => {
            for (i, p) in request.providers.iter().enumerate() {
                if &p.id != provider {
                    return outside(
                        format!("$.providers[{i}].id"),
                        &format!("provider {}", p.id),
                    );
                }
            }
            for (i, t) in request.teams.iter().enumerate() {
                if let Some(p) = t.provider.as_ref().filter(|p| *p != provider) {
                    return outside(format!("$.teams[{i}].provider"), &format!("provider {p}"));
                }
            }
            Ok(())
        }
    }
}

/// Solves and runs the checker; an error if the checker rejects the rota (a bug).
pub(crate) fn run_solve(problem: &Problem, options: &SolveOptions) -> Result<Rota, String> {
    let rota = solve(problem, options);
    let report = check(problem, &rota);
    match report.violations.first() {
        None => Ok(rota),
        Some(v) => Err(format!("solver returned a rota the checker rejects: {v}")),
    }
}

/// `completed`, `cancelled` or `failed`: the `outcome` label of the solve metrics.
pub(crate) fn outcome_label<T, E>(outcome: &Result<T, E>, options: &SolveOptions) -> &'static str {
    let cancelled = options
        .cancel
        .as_ref()
        .is_some_and(|c| c.load(std::sync::atomic::Ordering::SeqCst));
    match (outcome.is_ok(), cancelled) {
        (false, _) => "failed",
        (true, true) => "cancelled",
        (true, false) => "completed",
    }
}

/// Runs CPU work on the blocking pool.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(format!("blocking task failed: {e}")))?
}

/// Increments a gauge now and decrements it when dropped.
pub(crate) struct RunningGuard(prometheus::IntGauge);

impl RunningGuard {
    pub(crate) fn new(gauge: &prometheus::IntGauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}
