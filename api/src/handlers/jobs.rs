//! Asynchronous solves: submit (202 + Location), list, status with best-so-far
//! figures, result, cancel. The jobs themselves live in [`crate::jobs`].

use super::access::ROTA_ROLES;
use super::rota::{SEED, check_request_scope, parse_problem, time_limit};
use crate::config::MAX_JOB_TIME_LIMIT_S;
use crate::http::openapi::{Schemas, add};
use crate::http::{
    Access, Answer, ApiError, Method, ParamKind, QueryParam, RequestCtx, RouteSpec, blocking,
    json_reply,
};
use crate::jobs::{self, JobView};
use serde::Serialize;
use utoipa::ToSchema;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;

/// This resource's routes (see [`super::table`]).
pub(super) const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        id: "submitSolveJob",
        method: Method::Post,
        path: "/v1/rota/jobs",
        access: Access::Roles(ROTA_ROLES),
        tag: "jobs",
        summary: "Submit an asynchronous solve (time limit ≤ 600 s)",
        description: "Validates the request, then answers 202 with the job and a Location header. \
                      The job waits for a solver slot; 503 + Retry-After when the queue is full.",
        query: &[TIME_LIMIT_JOB, SEED],
        request: Some("PlanningRequest"),
        response: Answer {
            status: 202,
            schema: "Job",
        },
        errors: &[503],
        handler: |c| Box::pin(submit(c)),
    },
    RouteSpec {
        id: "listSolveJobs",
        method: Method::Get,
        path: "/v1/rota/jobs",
        access: Access::Roles(ROTA_ROLES),
        tag: "jobs",
        summary: "The caller's jobs (admin: every job), newest first",
        description: "",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "JobList",
        },
        errors: &[],
        handler: |c| Box::pin(list(c)),
    },
    RouteSpec {
        id: "getSolveJob",
        method: Method::Get,
        path: "/v1/rota/jobs/{job_id}",
        access: Access::Roles(ROTA_ROLES),
        tag: "jobs",
        summary: "Job status with best-so-far objective, unplaced, iterations, elapsed",
        description: "Jobs are visible to the key that submitted them and to admins (404 otherwise).",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "Job",
        },
        errors: &[404],
        handler: |c| Box::pin(status(c)),
    },
    RouteSpec {
        id: "getSolveJobResult",
        method: Method::Get,
        path: "/v1/rota/jobs/{job_id}/result",
        access: Access::Roles(ROTA_ROLES),
        tag: "jobs",
        summary: "The job's rota",
        description: "409 job_not_finished (with Retry-After) while queued or running; 409 \
                      job_without_result when cancelled before it started or failed.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "Rota",
        },
        errors: &[404, 409],
        handler: |c| Box::pin(result(c)),
    },
    RouteSpec {
        id: "cancelSolveJob",
        method: Method::Post,
        path: "/v1/rota/jobs/{job_id}/cancel",
        access: Access::Roles(ROTA_ROLES),
        tag: "jobs",
        summary: "Cancel a job; the best rota found so far becomes its result",
        description: "Idempotent; a finished job is left as it is. Answers once the solver has stopped (at most 10 s), with the job's status: `cancelled` with the best rota so far as its result, so GET …/result has it at once. 409 job_elsewhere for a job another replica is running.",
        query: &[],
        request: None,
        response: Answer {
            status: 202,
            schema: "Job",
        },
        errors: &[404, 409],
        handler: |c| Box::pin(cancel(c)),
    },
];

const TIME_LIMIT_JOB: QueryParam = QueryParam {
    name: "time_limit_s",
    kind: ParamKind::Number,
    required: false,
    description: "Wall-clock limit of the solve in seconds, in (0, 600]; default 30.",
};
/// `POST /v1/rota/jobs`.
async fn submit(ctx: RequestCtx) -> Result<Response, ApiError> {
    let limit = time_limit(&ctx, 30.0, MAX_JOB_TIME_LIMIT_S)?;
    let seed = ctx.query_u64("seed")?.unwrap_or(1);
    if ctx.state.is_shutting_down() {
        return Err(ApiError::ShuttingDown);
    }
    let principal = ctx.principal()?.clone();
    let body = ctx.body.clone();
    let (request, problem) = blocking(move || parse_problem(&body)).await?;
    check_request_scope(&principal, &request)?;
    drop(request);
    let job = jobs::start(
        &ctx.state.jobs,
        &ctx.state.solve_slots,
        &principal.key_id,
        limit,
        seed,
        problem,
    )
    .await?;
    let view = job.view();
    let mut resp = json_reply(StatusCode::ACCEPTED, &view)?;
    if let Ok(v) = HeaderValue::from_str(&view.links.status) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// This resource's schemas.
pub(super) fn schemas(out: &mut Schemas) {
    add::<JobView>(out);
    add::<JobList>(out);
}

/// The caller's jobs.
#[derive(Serialize, ToSchema)]
struct JobList {
    /// Newest first.
    jobs: Vec<JobView>,
}

/// `GET /v1/rota/jobs`.
async fn list(ctx: RequestCtx) -> Result<Response, ApiError> {
    let jobs: Vec<JobView> = ctx
        .state
        .jobs
        .list(ctx.principal()?)
        .iter()
        .map(|j| j.view())
        .collect();
    json_reply(StatusCode::OK, &JobList { jobs })
}

/// `GET /v1/rota/jobs/{job_id}`.
async fn status(ctx: RequestCtx) -> Result<Response, ApiError> {
    let job = ctx.state.jobs.get(ctx.param("job_id")?, ctx.principal()?)?;
    json_reply(StatusCode::OK, &job.view())
}

/// `GET /v1/rota/jobs/{job_id}/result`.
async fn result(ctx: RequestCtx) -> Result<Response, ApiError> {
    let job = ctx.state.jobs.get(ctx.param("job_id")?, ctx.principal()?)?;
    let rota = job.result()?;
    json_reply(StatusCode::OK, rota.as_ref())
}

/// Longest a cancel waits for the solver to hand back its best rota; past it
/// the answer says `cancelling` and the result follows shortly.
const CANCEL_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// `POST /v1/rota/jobs/{job_id}/cancel`.
async fn cancel(ctx: RequestCtx) -> Result<Response, ApiError> {
    let job = ctx.state.jobs.get(ctx.param("job_id")?, ctx.principal()?)?;
    if job.is_elsewhere() {
        return Err(ApiError::Conflict {
            code: "job_elsewhere",
            detail: format!(
                "job {} runs in another carefill process (a replica); only that process can cancel it",
                job.id
            ),
            retry_after: None,
        });
    }
    if !job.is_finished() {
        job.cancel();
        // The solver stops at its next check of the flag; waiting for it means
        // the answer (and an immediate GET …/result) has the best rota so far.
        job.wait_finished(CANCEL_WAIT).await;
    }
    json_reply(StatusCode::ACCEPTED, &job.view())
}
