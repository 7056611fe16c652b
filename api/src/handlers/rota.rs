//! Planning requests and rotas: validate, solve synchronously, check and analyse
//! (asynchronous solves are in [`super::jobs`]).

use super::access::{ALL_ROLES, ROTA_ROLES};
use crate::auth::{Principal, Scope};
use crate::config::MAX_SYNC_TIME_LIMIT_S;
use crate::http::openapi::{Schemas, add};
use crate::http::{
    Access, Answer, ApiError, Method, ParamKind, QueryParam, RequestCtx, RouteSpec, blocking,
    json_reply, parse_body,
};
use crate::solving::{RunningGuard, outcome_label, run_solve};
use carefill_solver::check::{CheckReport, check};
use carefill_solver::format::{Issue, Kpis, PlanningRequest, Rota, UnplacedVisit, changes};
use carefill_solver::model::Problem;
use carefill_solver::rota::SolveOptions;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;

/// This resource's routes (see [`super::table`]).
pub(super) const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        id: "validateRequest",
        method: Method::Post,
        path: "/v1/requests/validate",
        access: Access::Roles(ALL_ROLES),
        tag: "rota",
        summary: "Every problem in a planning request, with JSON paths",
        description: "200 with valid=false and every issue (an invalid horizon does not hide the rest) for a well-formed but invalid request; warnings (e.g. no_carers) never make it invalid.",
        query: &[],
        request: Some("PlanningRequest"),
        response: Answer {
            status: 200,
            schema: "ValidationReply",
        },
        errors: &[],
        handler: |c| Box::pin(validate(c)),
    },
    RouteSpec {
        id: "solveRota",
        method: Method::Post,
        path: "/v1/rota/solve",
        access: Access::Roles(ROTA_ROLES),
        tag: "rota",
        summary: "Synchronous solve (time limit ≤ 60 s)",
        description: "Runs on a solver slot; 503 + Retry-After when all are busy. Planner keys may \
                      only send their team's data, provider keys their provider's (403). With \
                      existing_rota (a published rota) the answer changes it only as far as the \
                      stability weight warrants and lists what moved, was re-timed or dropped \
                      against it (`changes`); every existing_rota visit starting before \
                      frozen_before (RFC 3339) is kept exactly.",
        query: &[TIME_LIMIT_SYNC, SEED],
        request: Some("PlanningRequest"),
        response: Answer {
            status: 200,
            schema: "Rota",
        },
        errors: &[503],
        handler: |c| Box::pin(solve_sync(c)),
    },
    RouteSpec {
        id: "checkRota",
        method: Method::Post,
        path: "/v1/rota/check",
        access: Access::Roles(ROTA_ROLES),
        tag: "rota",
        summary: "The independent checker's verdict on {request, rota}",
        description: "Violations and KPIs re-derived from the request.",
        query: &[],
        request: Some("RequestAndRota"),
        response: Answer {
            status: 200,
            schema: "CheckReport",
        },
        errors: &[],
        handler: |c| Box::pin(check_rota(c)),
    },
    RouteSpec {
        id: "analyseRota",
        method: Method::Post,
        path: "/v1/rota/analyse",
        access: Access::Roles(ROTA_ROLES),
        tag: "rota",
        summary: "Checker verdict, KPIs and unplaced visits grouped by reason for {request, rota}",
        description: "The rota may come from this service, a job, or elsewhere.",
        query: &[],
        request: Some("RequestAndRota"),
        response: Answer {
            status: 200,
            schema: "Analysis",
        },
        errors: &[],
        handler: |c| Box::pin(analyse_rota(c)),
    },
];

/// This resource's schemas.
pub(super) fn schemas(out: &mut Schemas) {
    add::<PlanningRequest>(out);
    add::<ValidationReply>(out);
    add::<Rota>(out);
    add::<RequestAndRota>(out);
    add::<CheckReport>(out);
    add::<Analysis>(out);
}

const TIME_LIMIT_SYNC: QueryParam = QueryParam {
    name: "time_limit_s",
    kind: ParamKind::Number,
    required: false,
    description: "Wall-clock limit of the solve in seconds, in (0, 60]; default 5.",
};
pub(super) const SEED: QueryParam = QueryParam {
    name: "seed",
    kind: ParamKind::Integer,
    required: false,
    description: "Random seed (same seed, same limit on iterations: same rota); default 1.",
};

/// Reply of `POST /v1/requests/validate`.
#[derive(Serialize, ToSchema)]
struct ValidationReply {
    /// Whether the request can be solved (no issues; warnings do not count).
    valid: bool,
    /// Every problem, each with its JSON path and code.
    issues: Vec<Issue>,
    /// Valid but probably not meant (e.g. `no_carers`); never make `valid` false.
    warnings: Vec<Issue>,
}

/// `POST /v1/requests/validate`.
async fn validate(ctx: RequestCtx) -> Result<Response, ApiError> {
    let body = ctx.body.clone();
    let reply = blocking(move || {
        let request: PlanningRequest = parse_body(&body)?;
        let warnings = Problem::warnings(&request);
        Ok(match Problem::from_request(&request) {
            Ok(_) => ValidationReply {
                valid: true,
                issues: Vec::new(),
                warnings,
            },
            Err(issues) => ValidationReply {
                valid: false,
                issues,
                warnings,
            },
        })
    })
    .await?;
    json_reply(StatusCode::OK, &reply)
}

/// `POST /v1/rota/solve`.
async fn solve_sync(ctx: RequestCtx) -> Result<Response, ApiError> {
    let limit = time_limit(&ctx, 5.0, MAX_SYNC_TIME_LIMIT_S)?;
    let seed = ctx.query_u64("seed")?.unwrap_or(1);
    if ctx.state.is_shutting_down() {
        return Err(ApiError::ShuttingDown);
    }
    // Parse and validate first: a bad request is the caller's to fix (400/422)
    // whether or not the solver is busy; only a valid one is told to retry.
    let body = ctx.body.clone();
    let (request, problem) = blocking(move || parse_problem(&body)).await?;
    check_request_scope(ctx.principal()?, &request)?;
    let before = existing_assignments(&request);
    let person = changes::person_of_visit(&request.packages);
    drop(request);
    let permit = ctx
        .state
        .solve_slots
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::Busy)?;
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
    let mut rota = rota;
    if let Some(before) = before {
        rota.changes = Some(changes::diff(&before, &rota, &person, "re_solve"));
    }
    json_reply(StatusCode::OK, &rota)
}

/// The request's published rota as (carers, start) per visit, to list what a
/// re-solve changed; `None` without one.
fn existing_assignments(
    request: &PlanningRequest,
) -> Option<BTreeMap<String, changes::Assignment>> {
    (!request.existing_rota.is_empty()).then(|| {
        request
            .existing_rota
            .iter()
            .map(|e| {
                let mut carers = e.carers.clone();
                carers.sort();
                (e.visit.clone(), (carers, e.start.clone()))
            })
            .collect()
    })
}

/// Body of check and analyse.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RequestAndRota {
    request: PlanningRequest,
    rota: Rota,
}

fn check_body(ctx: &RequestCtx) -> Result<(PlanningRequest, Problem, Rota), ApiError> {
    let body: RequestAndRota = ctx.json()?;
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
async fn check_rota(ctx: RequestCtx) -> Result<Response, ApiError> {
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
#[derive(Serialize, ToSchema)]
struct Analysis {
    feasible: bool,
    violations: Vec<carefill_solver::check::Violation>,
    kpis: Kpis,
    unplaced: usize,
    unplaced_by_reason: BTreeMap<String, usize>,
    unplaced_visits: Vec<UnplacedVisit>,
}

/// `POST /v1/rota/analyse`.
async fn analyse_rota(ctx: RequestCtx) -> Result<Response, ApiError> {
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
pub(super) fn time_limit(ctx: &RequestCtx, default: f64, max: f64) -> Result<f64, ApiError> {
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
pub(super) fn parse_problem(bytes: &[u8]) -> Result<(PlanningRequest, Problem), ApiError> {
    let request: PlanningRequest = parse_body(bytes)?;
    let problem = Problem::from_request(&request).map_err(ApiError::Invalid)?;
    Ok((request, problem))
}

/// 403 unless the request holds only data of the key's scope: a planner key's
/// team, a provider key's provider. Unscoped keys may send anything. Entries
/// without a team (or provider) are allowed: they belong to the caller's request.
pub(super) fn check_request_scope(
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
