//! carefill's HTTP service (warp): a thin layer over `carefill-solver`.
//!
//! Routes (v1):
//! - `GET  /health` — liveness, answered on the async runtime even during solves.
//! - `POST /v1/requests/validate` — every problem in a planning request, with JSON paths.
//! - `POST /v1/rota/solve?time_limit_s=S&seed=N` — synchronous solve (time limit ≤ 60 s).
//! - `POST /v1/rota/check` — the independent checker's verdict on `{request, rota}`.
//! - `GET  /v1/demo/request` — the demo team's planning request (when started with `--demo`).
//!
//! Errors are `application/problem+json` with a stable `code`, the JSON `path`
//! of the bad field where there is one, and a human `detail`. CPU-heavy solves
//! run on the blocking pool behind a semaphore; when it is full the answer is
//! 503 with `Retry-After`.

mod error;

pub use error::ApiError;

use carefill_solver::check::{CheckReport, check};
use carefill_solver::format::{PlanningRequest, Rota, parse_json};
use carefill_solver::model::Problem;
use carefill_solver::rota::{SolveOptions, solve};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Rejection, Reply};

/// Largest request body accepted, bytes.
pub const MAX_BODY_BYTES: u64 = 16 * 1024 * 1024;
/// Longest synchronous solve, seconds.
pub const MAX_SYNC_TIME_LIMIT_S: f64 = 60.0;

/// Shared service state.
#[derive(Clone)]
pub struct AppState {
    solve_slots: Arc<Semaphore>,
    demo: Option<Arc<PlanningRequest>>,
}

impl AppState {
    /// A state allowing `concurrent_solves` solves at once, with optional demo data.
    pub fn new(concurrent_solves: usize, demo: Option<PlanningRequest>) -> Self {
        Self {
            solve_slots: Arc::new(Semaphore::new(concurrent_solves.max(1))),
            demo: demo.map(Arc::new),
        }
    }
}

#[derive(Debug, Deserialize)]
struct SolveQuery {
    time_limit_s: Option<f64>,
    seed: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckBody {
    request: PlanningRequest,
    rota: Rota,
}

#[derive(Serialize)]
struct ValidationReply {
    valid: bool,
    issues: Vec<carefill_solver::format::Issue>,
}

/// All routes.
pub fn routes(
    state: AppState,
) -> impl Filter<Extract = (Response,), Error = std::convert::Infallible> + Clone {
    let with_state = warp::any().map(move || state.clone());
    let body = warp::body::content_length_limit(MAX_BODY_BYTES).and(warp::body::bytes());
    let health = warp::path!("health").and(warp::get()).map(|| {
        warp::reply::json(&serde_json::json!({"status": "ok", "service": "carefill"}))
            .into_response()
    });
    let validate = warp::path!("v1" / "requests" / "validate")
        .and(warp::post())
        .and(content_type_json())
        .and(body)
        .map(|bytes: bytes::Bytes| respond(validate_request(&bytes)));
    let solve_route = warp::path!("v1" / "rota" / "solve")
        .and(warp::post())
        .and(warp::query::<SolveQuery>())
        .and(content_type_json())
        .and(body)
        .and(with_state.clone())
        .then(
            |q: SolveQuery, bytes: bytes::Bytes, state: AppState| async move {
                respond(solve_rota(q, bytes, state).await)
            },
        );
    let check_route = warp::path!("v1" / "rota" / "check")
        .and(warp::post())
        .and(content_type_json())
        .and(body)
        .map(|bytes: bytes::Bytes| respond(check_rota(&bytes)));
    let demo = warp::path!("v1" / "demo" / "request")
        .and(warp::get())
        .and(with_state)
        .map(|state: AppState| match &state.demo {
            Some(r) => warp::reply::json(r.as_ref()).into_response(),
            None => {
                ApiError::NotFound("the service was started without --demo".into()).into_response()
            }
        });
    health
        .or(validate)
        .unify()
        .or(solve_route)
        .unify()
        .or(check_route)
        .unify()
        .or(demo)
        .unify()
        .recover(error::recover)
        .unify()
}

/// Requires `Content-Type: application/json` (415 otherwise).
fn content_type_json() -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::header::optional::<String>("content-type")
        .and_then(|ct: Option<String>| async move {
            match ct {
                Some(ct) if ct.starts_with("application/json") => Ok(()),
                _ => Err(warp::reject::custom(ApiError::UnsupportedMediaType)),
            }
        })
        .untuple_one()
}

fn respond<T: Serialize>(result: Result<T, ApiError>) -> Response {
    match result {
        Ok(v) => warp::reply::json(&v).into_response(),
        Err(e) => e.into_response(),
    }
}

fn parse_problem(bytes: &[u8]) -> Result<(PlanningRequest, Problem), ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|_| ApiError::BadJson {
        path: "$".into(),
        detail: "body is not UTF-8".into(),
    })?;
    let request: PlanningRequest = parse_json(text).map_err(|i| ApiError::BadJson {
        path: i.path,
        detail: i.message,
    })?;
    let problem = Problem::from_request(&request).map_err(ApiError::Invalid)?;
    Ok((request, problem))
}

fn validate_request(bytes: &[u8]) -> Result<ValidationReply, ApiError> {
    match parse_problem(bytes) {
        Ok(_) => Ok(ValidationReply {
            valid: true,
            issues: Vec::new(),
        }),
        Err(ApiError::Invalid(issues)) => Ok(ValidationReply {
            valid: false,
            issues,
        }),
        Err(e) => Err(e),
    }
}

async fn solve_rota(q: SolveQuery, bytes: bytes::Bytes, state: AppState) -> Result<Rota, ApiError> {
    let limit = q.time_limit_s.unwrap_or(5.0);
    if !(limit.is_finite() && limit > 0.0 && limit <= MAX_SYNC_TIME_LIMIT_S) {
        return Err(ApiError::BadParameter {
            path: "time_limit_s".into(),
            detail: format!("time_limit_s must be in (0, {MAX_SYNC_TIME_LIMIT_S}]"),
        });
    }
    let permit = state
        .solve_slots
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::Busy)?;
    let options = SolveOptions {
        time_limit: Duration::from_secs_f64(limit),
        seed: q.seed.unwrap_or(1),
        ..SolveOptions::default()
    };
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let (_, problem) = parse_problem(&bytes)?;
        let rota = solve(&problem, &options);
        let report = check(&problem, &rota);
        if report.is_feasible() {
            Ok(rota)
        } else {
            Err(ApiError::Internal(format!(
                "solver returned a rota the checker rejects: {}",
                report.violations[0]
            )))
        }
    })
    .await
    .map_err(|e| ApiError::Internal(format!("solve task failed: {e}")))?
}

fn check_rota(bytes: &[u8]) -> Result<CheckReport, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|_| ApiError::BadJson {
        path: "$".into(),
        detail: "body is not UTF-8".into(),
    })?;
    let body: CheckBody = parse_json(text).map_err(|i| ApiError::BadJson {
        path: i.path,
        detail: i.message,
    })?;
    let problem = Problem::from_request(&body.request).map_err(ApiError::Invalid)?;
    Ok(check(&problem, &body.rota))
}

/// Serves `routes` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    warp::serve(routes(state))
        .incoming(listener)
        .graceful(shutdown)
        .run()
        .await;
}

/// Status used for a rejected route that matched nothing.
pub(crate) const NOT_FOUND: StatusCode = StatusCode::NOT_FOUND;
