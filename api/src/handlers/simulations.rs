//! Brokerage simulations as asynchronous jobs: submit a scenario (202 +
//! Location), list, status with progress, cancel, and the report as JSON, HTML
//! and CSV, the same outputs as `carefill simulate --out`. The jobs themselves
//! live in [`crate::simulations`]; the scenario format is docs/simulation.md.

use super::access::BROKER_ROLES;
use crate::http::openapi::{Schemas, add, add_free_form};
use crate::http::{
    Access, Answer, ApiError, Method, ParamKind, QueryParam, RequestCtx, RouteSpec, json_reply,
    parse_body,
};
use crate::simulations::{CountySource, SimJobView};
use carefill_solver::format::{Issue, IssueCode};
use carefill_solver::simulate::scenario::CountySpec;
use carefill_solver::simulate::{self, Scenario};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;

/// Longest simulation the API runs, days (the command line runs up to 92).
pub const MAX_API_DAYS: u32 = 28;
/// Most seeds per simulation through the API.
pub const MAX_API_SEEDS: u32 = 10;
/// Most (policy, seed) replications per simulation through the API.
pub const MAX_API_RUNS: usize = 24;
/// Most rota search iterations per team when the county is generated.
pub const MAX_API_ROTA_ITERATIONS: u64 = 2_000;

/// This resource's routes (see [`super::table`]).
pub(super) const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        id: "submitSimulation",
        method: Method::Post,
        path: "/v1/simulations",
        access: Access::Roles(BROKER_ROLES),
        tag: "simulations",
        summary: "Run a brokerage simulation scenario as a job",
        description: "The body is a scenario (docs/simulation.md); `\"county\": \"serving\"` \
                      simulates the serving broker's roster and rotas as they stand. Validated \
                      first: 422 with every problem's JSON path, including this API's caps \
                      (days ≤ 28, seeds ≤ 10, policies × seeds ≤ 24, rota_iterations ≤ 2000; no \
                      roster files). Then 202 with the job and a Location header. One simulation \
                      runs at a time and at most two are queued or running: 503 + Retry-After \
                      beyond that.",
        query: &[SEEDS],
        request: Some("SimulationScenario"),
        response: Answer {
            status: 202,
            schema: "SimulationJob",
        },
        errors: &[503],
        handler: |c| Box::pin(submit(c)),
    },
    RouteSpec {
        id: "listSimulations",
        method: Method::Get,
        path: "/v1/simulations",
        access: Access::Roles(BROKER_ROLES),
        tag: "simulations",
        summary: "The caller's simulations (admin: every one), newest first",
        description: "",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "SimulationJobList",
        },
        errors: &[],
        handler: |c| Box::pin(list(c)),
    },
    RouteSpec {
        id: "getSimulation",
        method: Method::Get,
        path: "/v1/simulations/{simulation_id}",
        access: Access::Roles(BROKER_ROLES),
        tag: "simulations",
        summary: "Simulation status with progress (simulated days over every replication)",
        description: "Visible to the key that submitted it and to admins (404 otherwise).",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "SimulationJob",
        },
        errors: &[404],
        handler: |c| Box::pin(status(c)),
    },
    RouteSpec {
        id: "getSimulationResult",
        method: Method::Get,
        path: "/v1/simulations/{simulation_id}/result",
        access: Access::Roles(BROKER_ROLES),
        tag: "simulations",
        summary: "The simulation's report (as `carefill simulate`'s report.json)",
        description: "409 simulation_not_finished (with Retry-After) while queued or running; \
                      409 simulation_without_result when cancelled or failed.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "SimulationReport",
        },
        errors: &[404, 409],
        handler: |c| Box::pin(result(c)),
    },
    RouteSpec {
        id: "getSimulationReportHtml",
        method: Method::Get,
        path: "/v1/simulations/{simulation_id}/report.html",
        access: Access::Roles(BROKER_ROLES),
        tag: "simulations",
        summary: "The simulation's HTML report (policies side by side, SVG charts)",
        description: "409 as for the result.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "SimulationHtml",
        },
        errors: &[404, 409],
        handler: |c| Box::pin(report_html(c)),
    },
    RouteSpec {
        id: "getSimulationCsv",
        method: Method::Get,
        path: "/v1/simulations/{simulation_id}/csv/{table}",
        access: Access::Roles(BROKER_ROLES),
        tag: "simulations",
        summary: "One of the simulation's CSV tables: summary, runs, fill_times or daily",
        description: "404 for another table name; 409 as for the result.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "SimulationCsv",
        },
        errors: &[404, 409],
        handler: |c| Box::pin(csv(c)),
    },
    RouteSpec {
        id: "cancelSimulation",
        method: Method::Post,
        path: "/v1/simulations/{simulation_id}/cancel",
        access: Access::Roles(BROKER_ROLES),
        tag: "simulations",
        summary: "Cancel a simulation",
        description: "Idempotent; a finished simulation is left as it is. A queued one is \
                      cancelled at once; a running one stops at its next simulated event (the \
                      answer waits up to 10 s for it).",
        query: &[],
        request: None,
        response: Answer {
            status: 202,
            schema: "SimulationJob",
        },
        errors: &[404],
        handler: |c| Box::pin(cancel(c)),
    },
];

const SEEDS: QueryParam = QueryParam {
    name: "seeds",
    kind: ParamKind::Integer,
    required: false,
    description: "Seeds to run from the scenario's first seed (overrides `seeds.count`), 1-10.",
};

/// This resource's schemas.
pub(super) fn schemas(out: &mut Schemas) {
    for (name, description) in [
        (
            "SimulationHtml",
            "text/html: one self-contained page, the policies side by side with Devon Cares' 70% / 97% marked, SVG charts inline.",
        ),
        (
            "SimulationCsv",
            "text/csv (RFC 4180) with a header row: summary (policy, metric, mean, lo, hi, n), runs (one row per policy and seed), fill_times (one row per referral) or daily (one row per run and day).",
        ),
    ] {
        out.push((
            name.into(),
            RefOr::T(Schema::Object(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some(description))
                    .build(),
            )),
        ));
    }
    add::<SimJobView>(out);
    add::<SimulationJobList>(out);
    add_free_form(
        out,
        "SimulationScenario",
        "A brokerage simulation scenario: county (`generate` {seed, size, rota_iterations} or \
         \"serving\"), days, seeds {first, count}, arrivals, package_mix, providers by tier, \
         sickness_rate, provider_failures, policies [{name, config: BrokerConfig}], tick_min. \
         Unknown fields are refused. See docs/simulation.md.",
    );
    add_free_form(
        out,
        "SimulationReport",
        "The simulation report: scenario, days, seeds, county size, Devon Cares' targets, per \
         policy the fill shares within 1.5 h / 4 h / 24 h with 95% intervals, the fill-time \
         distribution, first visits, bed-days proxy, unfilled by reason, offers and declines, \
         emergency cover hours, damages and risk pool, utilisation, paid travel share, \
         continuity and integrity; and every run. See docs/simulation.md.",
    );
}

/// The caller's simulations.
#[derive(Serialize, ToSchema)]
struct SimulationJobList {
    /// Newest first.
    simulations: Vec<SimJobView>,
}

/// The service's now: the broker's clock when there is a broker (tests move it).
fn now(ctx: &RequestCtx) -> DateTime<Utc> {
    ctx.state.broker.as_ref().map_or_else(Utc::now, |b| b.now())
}

/// The API's own limits on a scenario (beyond the format's), as issues.
fn api_limits(s: &Scenario, seeds: u32) -> Vec<Issue> {
    let mut out = Vec::new();
    let mut push = |path: &str, message: String| {
        out.push(Issue::new(path, IssueCode::OutOfRange, message));
    };
    if s.days > MAX_API_DAYS {
        push(
            "$.days",
            format!(
                "the API simulates at most {MAX_API_DAYS} days (the command line up to {})",
                simulate::scenario::MAX_DAYS
            ),
        );
    }
    if seeds > MAX_API_SEEDS {
        push(
            "$.seeds.count",
            format!("the API runs at most {MAX_API_SEEDS} seeds"),
        );
    }
    let runs = s.policies.len() * seeds as usize;
    if runs > MAX_API_RUNS {
        push(
            "$.policies",
            format!(
                "{} policies x {seeds} seeds = {runs} runs; the API runs at most {MAX_API_RUNS}",
                s.policies.len()
            ),
        );
    }
    match &s.county {
        CountySpec::Generate(g) if g.rota_iterations > MAX_API_ROTA_ITERATIONS => push(
            "$.county.generate.rota_iterations",
            format!("the API plans with at most {MAX_API_ROTA_ITERATIONS} iterations per team"),
        ),
        CountySpec::RosterFile { .. } => push(
            "$.county.roster_file",
            "the API reads no files: send `generate` or \"serving\"".into(),
        ),
        _ => {}
    }
    out
}

/// `POST /v1/simulations`.
async fn submit(ctx: RequestCtx) -> Result<Response, ApiError> {
    if ctx.state.is_shutting_down() {
        return Err(ApiError::ShuttingDown);
    }
    let scenario: Scenario = parse_body(&ctx.body)?;
    let seeds_param = ctx.query_u64("seeds")?;
    if seeds_param.is_some_and(|n| n == 0 || n > u64::from(MAX_API_SEEDS)) {
        return Err(ApiError::BadParameter {
            path: "seeds".into(),
            detail: format!("must be 1-{MAX_API_SEEDS}"),
        });
    }
    let count = seeds_param.map(|n| n as u32);
    let mut issues = scenario.validate().err().unwrap_or_default();
    issues.extend(api_limits(&scenario, count.unwrap_or(scenario.seeds.count)));
    let source = match (&scenario.county, &ctx.state.broker) {
        (CountySpec::Serving, Some(b)) => {
            let (roster, rotas) = b.read(|b, _| (b.roster.clone(), b.rotas.clone()));
            CountySource::Serving(Box::new(roster), rotas)
        }
        (CountySpec::Serving, None) => {
            issues.push(Issue::new(
                "$.county",
                IssueCode::OutOfRange,
                "\"serving\" needs a service with a broker (serve --db or --demo)",
            ));
            CountySource::Scenario
        }
        _ => CountySource::Scenario,
    };
    if !issues.is_empty() {
        return Err(ApiError::Invalid(issues));
    }
    let seeds = simulate::seeds(&scenario, count);
    let principal = ctx.principal()?.clone();
    let clock: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync> = match &ctx.state.broker {
        Some(b) => {
            let b = b.clone();
            Arc::new(move || b.now())
        }
        None => Arc::new(Utc::now),
    };
    let job = ctx.state.simulations.start(
        &principal.key_id,
        scenario,
        seeds,
        source,
        now(&ctx),
        clock,
    )?;
    let view = job.view();
    let mut resp = json_reply(StatusCode::ACCEPTED, &view)?;
    if let Ok(v) = HeaderValue::from_str(&view.links.status) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// `GET /v1/simulations`.
async fn list(ctx: RequestCtx) -> Result<Response, ApiError> {
    let simulations = ctx
        .state
        .simulations
        .list(ctx.principal()?)
        .iter()
        .map(|j| j.view())
        .collect();
    json_reply(StatusCode::OK, &SimulationJobList { simulations })
}

/// `GET /v1/simulations/{simulation_id}`.
async fn status(ctx: RequestCtx) -> Result<Response, ApiError> {
    let job = ctx
        .state
        .simulations
        .get(ctx.param("simulation_id")?, ctx.principal()?)?;
    json_reply(StatusCode::OK, &job.view())
}

/// `GET /v1/simulations/{simulation_id}/result`.
async fn result(ctx: RequestCtx) -> Result<Response, ApiError> {
    let job = ctx
        .state
        .simulations
        .get(ctx.param("simulation_id")?, ctx.principal()?)?;
    json_reply(StatusCode::OK, &job.outputs()?.report)
}

fn text(content_type: &'static str, filename: &str, body: String) -> Response {
    let mut r = Response::new(body.into());
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// `GET /v1/simulations/{simulation_id}/report.html`.
async fn report_html(ctx: RequestCtx) -> Result<Response, ApiError> {
    let job = ctx
        .state
        .simulations
        .get(ctx.param("simulation_id")?, ctx.principal()?)?;
    let out = job.outputs()?;
    Ok(text(
        "text/html; charset=utf-8",
        "report.html",
        out.html.clone(),
    ))
}

/// `GET /v1/simulations/{simulation_id}/csv/{table}`.
async fn csv(ctx: RequestCtx) -> Result<Response, ApiError> {
    let job = ctx
        .state
        .simulations
        .get(ctx.param("simulation_id")?, ctx.principal()?)?;
    let table = ctx.param("table")?.to_string();
    let file = format!("{table}.csv");
    let out = job.outputs()?;
    let body = out
        .csv
        .iter()
        .find(|(name, _)| *name == file)
        .map(|(_, body)| body.clone())
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no table {table}: summary, runs, fill_times or daily"
            ))
        })?;
    Ok(text("text/csv; charset=utf-8; header=present", &file, body))
}

/// Longest a cancel waits for a running simulation to stop.
const CANCEL_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// `POST /v1/simulations/{simulation_id}/cancel`.
async fn cancel(ctx: RequestCtx) -> Result<Response, ApiError> {
    let job = ctx
        .state
        .simulations
        .get(ctx.param("simulation_id")?, ctx.principal()?)?;
    job.cancel(now(&ctx));
    job.wait_finished(CANCEL_WAIT).await;
    json_reply(StatusCode::ACCEPTED, &job.view())
}
