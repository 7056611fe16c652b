//! The route table: the single source of truth for routing, authorisation and OpenAPI.
//!
//! [`ROUTES`] lists every route once, as a [`RouteSpec`]: method, path
//! template, who may call it, documentation, query parameters, request and
//! response schemas, and the handler. The router in [`crate::server`] matches
//! requests against this table (404 for an unknown path, 405 with `Allow` for
//! a known path with another method), checks the caller's role against
//! `access` (401/403), rejects unknown query parameters, enforces the JSON
//! content type and body limit, and only then calls the handler.
//! `/openapi.json` is generated from the same table ([`crate::openapi`]), and
//! the tests walk the table for every route and every role.
//!
//! # How to add a route
//!
//! 1. Write the handler: `async fn my_handler(ctx: RequestCtx) -> Result<Response, ApiError>`.
//!    Read path parameters with [`RequestCtx::param`], query parameters with
//!    [`RequestCtx::query_f64`] / [`RequestCtx::query_u64`] / [`RequestCtx::query_str`],
//!    the JSON body with [`RequestCtx::json`] (errors carry the JSON path), and the
//!    caller with [`RequestCtx::principal`]. Check scopes in the handler:
//!    `ctx.principal()?.require_provider(provider_id)?` (403 when the key is scoped elsewhere),
//!    or filter lists by `principal.provider_scope()` / `principal.team_scope()`.
//!    Answer with [`json_reply`]; errors are `ApiError` values (problem+json).
//! 2. Add one `RouteSpec` to [`ROUTES`]:
//!
//! ```ignore
//! RouteSpec {
//!     id: "listProviderPackages",                  // OpenAPI operationId, unique
//!     method: Method::Get,
//!     path: "/v1/providers/{provider_id}/packages", // {name} = path parameter
//!     access: Access::Roles(&[Role::Admin, Role::Broker, Role::Provider]),
//!     tag: "broker",
//!     summary: "Packages offered to a provider",
//!     description: "Provider keys see only their own provider id (403 otherwise).",
//!     query: &[QueryParam { name: "status", kind: ParamKind::String, required: false,
//!                           description: "open | offered | filled" }],
//!     request: None,                                // or Some("SchemaName")
//!     response: Answer { status: 200, schema: "PackageList" },
//!     errors: &[404],                               // statuses beyond the common ones
//!     handler: |c| Box::pin(broker_handlers::list_packages(c)),
//! },
//! ```
//!
//! 3. If `request`/`response` name a new schema, add it to
//!    [`crate::openapi::schemas`] (the tests fail on a dangling schema name).
//! 4. Nothing else: the table-driven tests (`tests/api.rs`, `tests/e2e.rs`) call
//!    every route with every role and check 401/403, that the router serves it,
//!    and that `/openapi.json` lists it. Add a behaviour test for the handler.
//!
//! Routes with `Access::Public` get no principal. `/health`, `/metrics` and
//! `/openapi.json` are public on purpose: probes and Prometheus scrapers carry
//! no keys, and none of them returns personal data (metrics are labelled by
//! route template only). Put the service behind a network policy if even that
//! is too much.

use crate::auth::{Principal, Role};
use crate::error::ApiError;
use crate::state::AppState;
use crate::{broker_handlers, events, exports, handlers, jobs, roster_handlers};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::pin::Pin;
use warp::Reply;
use warp::http::{HeaderMap, StatusCode};
use warp::reply::Response;

/// HTTP methods the table uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
}

impl Method {
    /// Upper-case name, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// Lower-case name, as in OpenAPI.
    pub fn lower(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Put => "put",
            Method::Patch => "patch",
            Method::Delete => "delete",
        }
    }

    /// The table's method for a wire method, if it uses it.
    pub fn from_http(m: &warp::http::Method) -> Option<Self> {
        Some(match *m {
            warp::http::Method::GET => Method::Get,
            warp::http::Method::POST => Method::Post,
            warp::http::Method::PUT => Method::Put,
            warp::http::Method::PATCH => Method::Patch,
            warp::http::Method::DELETE => Method::Delete,
            _ => return None,
        })
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy)]
pub enum Access {
    /// Anyone, without a key.
    Public,
    /// Keys with one of these roles (scopes are checked by the handler).
    Roles(&'static [Role]),
}

impl Access {
    /// Whether a key with `role` may call the route.
    pub fn allows(&self, role: Role) -> bool {
        match self {
            Access::Public => true,
            Access::Roles(roles) => roles.contains(&role),
        }
    }
}

/// Kind of a query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// A finite decimal number.
    Number,
    /// A non-negative integer.
    Integer,
    /// Text.
    String,
}

/// A query parameter a route accepts (any other is a 400).
#[derive(Debug, Clone, Copy)]
pub struct QueryParam {
    /// Name.
    pub name: &'static str,
    /// Kind.
    pub kind: ParamKind,
    /// Whether it must be given.
    pub required: bool,
    /// Meaning, units, limits.
    pub description: &'static str,
}

/// The success answer of a route.
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    /// HTTP status (200, 202, ...).
    pub status: u16,
    /// Schema name in `components.schemas` (see [`crate::openapi::schemas`]).
    pub schema: &'static str,
}

/// The boxed future a handler returns.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Response, ApiError>> + Send>>;
/// A handler: the end of a route.
pub type Handler = fn(RequestCtx) -> HandlerFuture;

/// One route.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    /// OpenAPI operationId, unique.
    pub id: &'static str,
    /// Method.
    pub method: Method,
    /// Path template; `{name}` segments are parameters.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// OpenAPI tag.
    pub tag: &'static str,
    /// One line.
    pub summary: &'static str,
    /// More detail (scopes, limits, behaviour).
    pub description: &'static str,
    /// Accepted query parameters.
    pub query: &'static [QueryParam],
    /// JSON body schema name; `None` = no body is read.
    pub request: Option<&'static str>,
    /// Success answer.
    pub response: Answer,
    /// Error statuses beyond those every route of its kind has (see [`crate::openapi`]).
    pub errors: &'static [u16],
    /// The handler.
    pub handler: Handler,
}

/// Roles that work with rotas.
pub const ROTA_ROLES: &[Role] = &[Role::Admin, Role::Provider, Role::Planner, Role::Integrator];
/// Every role.
pub const ALL_ROLES: &[Role] = &Role::ALL;

const TIME_LIMIT_SYNC: QueryParam = QueryParam {
    name: "time_limit_s",
    kind: ParamKind::Number,
    required: false,
    description: "Wall-clock limit of the solve in seconds, in (0, 60]; default 5.",
};
const TIME_LIMIT_JOB: QueryParam = QueryParam {
    name: "time_limit_s",
    kind: ParamKind::Number,
    required: false,
    description: "Wall-clock limit of the solve in seconds, in (0, 600]; default 30.",
};
const SEED: QueryParam = QueryParam {
    name: "seed",
    kind: ParamKind::Integer,
    required: false,
    description: "Random seed (same seed, same limit on iterations: same rota); default 1.",
};

/// Brokers and integrators: referrals, packages, recommendations, reports.
const BROKER_ROLES: &[Role] = &[Role::Admin, Role::Broker, Role::Integrator];
/// Decisions only brokers take.
const ADMIN_BROKER: &[Role] = &[Role::Admin, Role::Broker];
/// Offers: brokers, and providers for their own.
const OFFER_ROLES: &[Role] = &[Role::Admin, Role::Broker, Role::Provider];
/// Team rotas: brokers, providers (own teams) and planners (own team).
const ROSTER_ROLES: &[Role] = &[Role::Admin, Role::Broker, Role::Provider, Role::Planner];
/// Reading providers: brokers, integrators, and provider keys (their own only).
const PROVIDER_READ_ROLES: &[Role] = &[Role::Admin, Role::Broker, Role::Provider, Role::Integrator];
/// Creating and changing teams and carers: brokers, and provider keys for their own teams.
const ROSTER_EDIT_ROLES: &[Role] = &[Role::Admin, Role::Broker, Role::Provider];
/// Operators only.
const ADMIN_ONLY: &[Role] = &[Role::Admin];

/// Every route. See the module docs for how to add one.
pub static ROUTES: &[RouteSpec] = &[
    RouteSpec {
        id: "health",
        method: Method::Get,
        path: "/health",
        access: Access::Public,
        tag: "service",
        summary: "Liveness",
        description: "Answered on the async runtime, also while solves run. No key needed.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "Health",
        },
        errors: &[],
        handler: |c| Box::pin(handlers::health(c)),
    },
    RouteSpec {
        id: "metrics",
        method: Method::Get,
        path: "/metrics",
        access: Access::Public,
        tag: "service",
        summary: "Prometheus metrics (text exposition format)",
        description: "No key needed: labelled by route template only, no personal data.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "PrometheusText",
        },
        errors: &[],
        handler: |c| Box::pin(handlers::metrics(c)),
    },
    RouteSpec {
        id: "openapi",
        method: Method::Get,
        path: "/openapi.json",
        access: Access::Public,
        tag: "service",
        summary: "This API as an OpenAPI 3.0 document",
        description: "Generated from the route table the router uses.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "OpenApiDocument",
        },
        errors: &[],
        handler: |c| Box::pin(handlers::openapi(c)),
    },
    RouteSpec {
        id: "whoami",
        method: Method::Get,
        path: "/v1/whoami",
        access: Access::Roles(ALL_ROLES),
        tag: "service",
        summary: "The caller's key id, role and scope",
        description: "Useful to check a key.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "Principal",
        },
        errors: &[],
        handler: |c| Box::pin(handlers::whoami(c)),
    },
    RouteSpec {
        id: "demoRequest",
        method: Method::Get,
        path: "/v1/demo/request",
        access: Access::Roles(ALL_ROLES),
        tag: "rota",
        summary: "The demo team's planning request",
        description: "Only when the service was started with --demo (404 otherwise). Synthetic data.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "PlanningRequest",
        },
        errors: &[404],
        handler: |c| Box::pin(handlers::demo_request(c)),
    },
    RouteSpec {
        id: "validateRequest",
        method: Method::Post,
        path: "/v1/requests/validate",
        access: Access::Roles(ALL_ROLES),
        tag: "rota",
        summary: "Every problem in a planning request, with JSON paths",
        description: "200 with valid=false and the issues for a well-formed but invalid request.",
        query: &[],
        request: Some("PlanningRequest"),
        response: Answer {
            status: 200,
            schema: "ValidationReply",
        },
        errors: &[],
        handler: |c| Box::pin(handlers::validate(c)),
    },
    RouteSpec {
        id: "solveRota",
        method: Method::Post,
        path: "/v1/rota/solve",
        access: Access::Roles(ROTA_ROLES),
        tag: "rota",
        summary: "Synchronous solve (time limit ≤ 60 s)",
        description: "Runs on a solver slot; 503 + Retry-After when all are busy. Planner keys may \
                      only send their team's data, provider keys their provider's (403).",
        query: &[TIME_LIMIT_SYNC, SEED],
        request: Some("PlanningRequest"),
        response: Answer {
            status: 200,
            schema: "Rota",
        },
        errors: &[503],
        handler: |c| Box::pin(handlers::solve_sync(c)),
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
        handler: |c| Box::pin(handlers::check_rota(c)),
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
        handler: |c| Box::pin(handlers::analyse_rota(c)),
    },
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
        handler: |c| Box::pin(jobs::submit(c)),
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
        handler: |c| Box::pin(jobs::list(c)),
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
        handler: |c| Box::pin(jobs::status(c)),
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
        handler: |c| Box::pin(jobs::result(c)),
    },
    RouteSpec {
        id: "cancelSolveJob",
        method: Method::Post,
        path: "/v1/rota/jobs/{job_id}/cancel",
        access: Access::Roles(ROTA_ROLES),
        tag: "jobs",
        summary: "Cancel a job; the best rota found so far becomes its result",
        description: "Idempotent; a finished job is left as it is. Answers with the job's status.",
        query: &[],
        request: None,
        response: Answer {
            status: 202,
            schema: "Job",
        },
        errors: &[404],
        handler: |c| Box::pin(jobs::cancel(c)),
    },
    RouteSpec {
        id: "referPackage",
        method: Method::Post,
        path: "/v1/referrals",
        access: Access::Roles(BROKER_ROLES),
        tag: "broker",
        summary: "Refer a package: candidates, fit checks and the tier cascade start at once",
        description: "Body {package, service_user}. Validates the package (422 invalid_input naming the field; 409 duplicate_package), starts the fill clock, fit-checks every nearby team of every eligible provider against its current rota and offers it to the first tier with a fitting provider (auto-accepting providers and emergency cover take it at once).",
        query: &[],
        request: Some("Referral"),
        response: Answer {
            status: 201,
            schema: "PackageView",
        },
        errors: &[404, 409, 422],
        handler: |c| Box::pin(broker_handlers::refer(c)),
    },
    RouteSpec {
        id: "referPackages",
        method: Method::Post,
        path: "/v1/referrals/batch",
        access: Access::Roles(BROKER_ROLES),
        tag: "broker",
        summary: "Refer many packages; allocated together by a HiGHS MILP",
        description: "Body {referrals: [{package, service_user}]} (1-1000). Packages are allocated together so no team is promised more than its spare capacity by day and period; then offered to the chosen providers.",
        query: &[],
        request: Some("ReferralBatch"),
        response: Answer {
            status: 200,
            schema: "BatchResult",
        },
        errors: &[409, 422],
        handler: |c| Box::pin(broker_handlers::refer_batch(c)),
    },
    RouteSpec {
        id: "listPackages",
        method: Method::Get,
        path: "/v1/packages",
        access: Access::Roles(BROKER_ROLES),
        tag: "broker",
        summary: "Packages with status, stage and age",
        description: "Filter with status=open|filled|escalated|cancelled. Each entry has its age, stage, offers_open and offer_expires_at (the first open offer's expiry).",
        query: &[QueryParam {
            name: "status",
            kind: ParamKind::String,
            required: false,
            description: "open | filled | escalated | cancelled",
        }],
        request: None,
        response: Answer {
            status: 200,
            schema: "PackageList",
        },
        errors: &[],
        handler: |c| Box::pin(broker_handlers::list_packages(c)),
    },
    RouteSpec {
        id: "getPackage",
        method: Method::Get,
        path: "/v1/packages/{package_id}",
        access: Access::Roles(BROKER_ROLES),
        tag: "broker",
        summary: "A package's record and offer history",
        description: "Fill minutes, stages tried, every offer with its fit check and answer.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "PackageView",
        },
        errors: &[404],
        handler: |c| Box::pin(broker_handlers::get_package(c)),
    },
    RouteSpec {
        id: "cancelPackage",
        method: Method::Post,
        path: "/v1/packages/{package_id}/cancel",
        access: Access::Roles(BROKER_ROLES),
        tag: "broker",
        summary: "Withdraw an unfilled package",
        description: "Open offers are withdrawn. 409 when already filled or cancelled.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "PackageView",
        },
        errors: &[404, 409],
        handler: |c| Box::pin(broker_handlers::cancel_package(c)),
    },
    RouteSpec {
        id: "rebrokerPackage",
        method: Method::Post,
        path: "/v1/packages/{package_id}/rebroker",
        access: Access::Roles(ADMIN_BROKER),
        tag: "broker",
        summary: "Try an escalated package again",
        description: "Runs the cascade again from Tier 1 (capacity may have freed up); the fill clock keeps running from the referral.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "PackageView",
        },
        errors: &[404, 409],
        handler: |c| Box::pin(broker_handlers::rebroker_package(c)),
    },
    RouteSpec {
        id: "recommendPlacements",
        method: Method::Post,
        path: "/v1/recommendations",
        access: Access::Roles(BROKER_ROLES),
        tag: "broker",
        summary: "Top-k placements for a package, with cost and explanation",
        description: "Body {package, service_user}. Nothing is stored. Each recommendation names provider, team, carers, known carers, extra travel minutes, objective change and why it fits; teams that cannot take it say why.",
        query: &[QueryParam {
            name: "k",
            kind: ParamKind::Integer,
            required: false,
            description: "how many (1-50, default 5)",
        }],
        request: Some("Referral"),
        response: Answer {
            status: 200,
            schema: "Recommendations",
        },
        errors: &[409, 422],
        handler: |c| Box::pin(broker_handlers::recommend(c)),
    },
    RouteSpec {
        id: "applyRecommendation",
        method: Method::Post,
        path: "/v1/recommendations/apply",
        access: Access::Roles(BROKER_ROLES),
        tag: "broker",
        summary: "Refer a package straight to a chosen provider team",
        description: "Body {package, service_user, provider, team}. The offer goes only to that provider (auto-accepting providers take it at once). 409 no_longer_fits when the team's rota changed.",
        query: &[],
        request: Some("ApplyRecommendation"),
        response: Answer {
            status: 201,
            schema: "PackageView",
        },
        errors: &[404, 409, 422],
        handler: |c| Box::pin(broker_handlers::apply_recommendation(c)),
    },
    RouteSpec {
        id: "listProviderOffers",
        method: Method::Get,
        path: "/v1/providers/{provider_id}/offers",
        access: Access::Roles(OFFER_ROLES),
        tag: "broker",
        summary: "Offers made to a provider",
        description: "Provider keys see only their own provider (403 otherwise). Open offers show area, needs and visit pattern; the person's id and address appear only once this provider accepted.",
        query: &[QueryParam {
            name: "status",
            kind: ParamKind::String,
            required: false,
            description: "open | accepted | declined | expired | withdrawn",
        }],
        request: None,
        response: Answer {
            status: 200,
            schema: "ProviderOffers",
        },
        errors: &[404],
        handler: |c| Box::pin(broker_handlers::provider_offers(c)),
    },
    RouteSpec {
        id: "getOffer",
        method: Method::Get,
        path: "/v1/offers/{offer_id}",
        access: Access::Roles(OFFER_ROLES),
        tag: "broker",
        summary: "One offer (provider view)",
        description: "Provider keys only for their own offers.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "ProviderOffer",
        },
        errors: &[404],
        handler: |c| Box::pin(broker_handlers::get_offer(c)),
    },
    RouteSpec {
        id: "acceptOffer",
        method: Method::Post,
        path: "/v1/offers/{offer_id}/accept",
        access: Access::Roles(OFFER_ROLES),
        tag: "broker",
        summary: "Accept an offer: the visits go on the team's rota",
        description: "The fit is checked again against the rota as it is now. 409 offer_expired, offer_closed (already answered, withdrawn) or no_longer_fits.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "ProviderOffer",
        },
        errors: &[404, 409],
        handler: |c| Box::pin(broker_handlers::accept_offer(c)),
    },
    RouteSpec {
        id: "declineOffer",
        method: Method::Post,
        path: "/v1/offers/{offer_id}/decline",
        access: Access::Roles(OFFER_ROLES),
        tag: "broker",
        summary: "Decline an offer with a reason code",
        description: "Body {reason, note?}; reason is no_capacity | no_suitable_carer | out_of_area | travel_too_far | package_too_small | visit_times_unsuitable | risk_too_high | other. The cascade moves on at once.",
        query: &[],
        request: Some("Decline"),
        response: Answer {
            status: 200,
            schema: "ProviderOffer",
        },
        errors: &[404, 409],
        handler: |c| Box::pin(broker_handlers::decline_offer(c)),
    },
    RouteSpec {
        id: "setProviderStatus",
        method: Method::Post,
        path: "/v1/providers/{provider_id}/status",
        access: Access::Roles(ADMIN_BROKER),
        tag: "broker",
        summary: "Suspend, reinstate or mark a provider failed",
        description: "Body {status: active|suspended|failed|off_framework, transfers: [{carer, to_team}]}. Failed: every package it holds is released and re-brokered together, carers who move keep their people as known carers.",
        query: &[],
        request: Some("ProviderStatus"),
        response: Answer {
            status: 200,
            schema: "ProviderStatusResult",
        },
        errors: &[404, 409, 422],
        handler: |c| Box::pin(broker_handlers::set_provider_status(c)),
    },
    RouteSpec {
        id: "getReport",
        method: Method::Get,
        path: "/v1/reports/{report}",
        access: Access::Roles(BROKER_ROLES),
        tag: "broker",
        summary: "Broker reports",
        description: "report = fill-times (share within 1.5 h and 4 h by tier, provider, area, urgency), offers (acceptances and declines by reason), unfilled (with age), capacity (spare carer-hours by area, day, period), ledger (risk pool, damages, balances), alerts.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "Report",
        },
        errors: &[404],
        handler: |c| Box::pin(broker_handlers::report(c)),
    },
    RouteSpec {
        id: "getTeamRota",
        method: Method::Get,
        path: "/v1/teams/{team_id}/rota",
        access: Access::Roles(ROSTER_ROLES),
        tag: "broker",
        summary: "A team's published rota",
        description: "Planner keys only for their team; provider keys only for their provider's teams.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "TeamRota",
        },
        errors: &[404],
        handler: |c| Box::pin(broker_handlers::team_rota(c)),
    },
    RouteSpec {
        id: "addCarerAbsence",
        method: Method::Post,
        path: "/v1/carers/{carer_id}/absences",
        access: Access::Roles(ROSTER_ROLES),
        tag: "rosters",
        summary: "A carer is off (sick, leave): re-plan the team's rota around it",
        description: "Body {from, to, reason?} (RFC 3339). The carer's routes overlapping the absence are taken apart and their visits re-inserted with every other visit left with its carer (minimum change); visits that fit nowhere are listed unplaced with reasons. Planner keys only for their team, provider keys for their provider's teams.",
        query: &[],
        request: Some("Absence"),
        response: Answer {
            status: 200,
            schema: "AbsenceResult",
        },
        errors: &[404, 422],
        handler: |c| Box::pin(broker_handlers::add_absence(c)),
    },
    RouteSpec {
        id: "listProviders",
        method: Method::Get,
        path: "/v1/providers",
        access: Access::Roles(PROVIDER_READ_ROLES),
        tag: "rosters",
        summary: "Providers with tier, framework status, skills and team count",
        description: "Provider keys see only their own provider.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "ProviderList",
        },
        errors: &[404],
        handler: |c| Box::pin(roster_handlers::list_providers(c)),
    },
    RouteSpec {
        id: "createProvider",
        method: Method::Post,
        path: "/v1/providers",
        access: Access::Roles(ADMIN_BROKER),
        tag: "rosters",
        summary: "Add a provider to the framework",
        description: "Body: a carefill/1 provider (tier, framework_status, service_areas, contract, hourly_rate_pence, skills, auto_accept). 409 `already_exists` if the id is taken; 422 with the JSON path of every bad field.",
        query: &[],
        request: Some("Provider"),
        response: Answer {
            status: 201,
            schema: "ProviderDetail",
        },
        errors: &[404, 409, 422],
        handler: |c| Box::pin(roster_handlers::create_provider(c)),
    },
    RouteSpec {
        id: "getProvider",
        method: Method::Get,
        path: "/v1/providers/{provider_id}",
        access: Access::Roles(PROVIDER_READ_ROLES),
        tag: "rosters",
        summary: "A provider's record and its team ids",
        description: "Provider keys only for their own provider.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "ProviderDetail",
        },
        errors: &[404],
        handler: |c| Box::pin(roster_handlers::get_provider(c)),
    },
    RouteSpec {
        id: "updateProvider",
        method: Method::Put,
        path: "/v1/providers/{provider_id}",
        access: Access::Roles(ADMIN_BROKER),
        tag: "rosters",
        summary: "Replace a provider's record (tier, areas, skills, contract, fee, auto-accept)",
        description: "The id cannot change (422 on $.id). The framework status must stay as it is (409 `framework_status_unchanged_here`): suspend, reinstate or fail a provider with POST /v1/providers/{provider_id}/status, which re-brokers its packages. Takes effect for the next referrals; team rotas are not touched.",
        query: &[],
        request: Some("Provider"),
        response: Answer {
            status: 200,
            schema: "ProviderDetail",
        },
        errors: &[404, 409, 422],
        handler: |c| Box::pin(roster_handlers::update_provider(c)),
    },
    RouteSpec {
        id: "createTeam",
        method: Method::Post,
        path: "/v1/teams",
        access: Access::Roles(ROSTER_EDIT_ROLES),
        tag: "rosters",
        summary: "Add a neighbourhood team to a provider",
        description: "Body: a carefill/1 team (provider, name, base, area, max_members, max_caseload). The provider must exist (422 on $.provider); provider keys only for their own provider (403). 409 `already_exists` if the id is taken.",
        query: &[],
        request: Some("Team"),
        response: Answer {
            status: 201,
            schema: "TeamDetail",
        },
        errors: &[404, 409, 422],
        handler: |c| Box::pin(roster_handlers::create_team(c)),
    },
    RouteSpec {
        id: "getTeam",
        method: Method::Get,
        path: "/v1/teams/{team_id}",
        access: Access::Roles(ROSTER_ROLES),
        tag: "rosters",
        summary: "A team with its carers (skills, contract, shifts; no homes or absence reasons)",
        description: "Planner keys only for their team; provider keys only for their provider's teams.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "TeamDetail",
        },
        errors: &[404],
        handler: |c| Box::pin(roster_handlers::get_team(c)),
    },
    RouteSpec {
        id: "updateTeam",
        method: Method::Put,
        path: "/v1/teams/{team_id}",
        access: Access::Roles(ROSTER_EDIT_ROLES),
        tag: "rosters",
        summary: "Replace a team's record (name, base, area, limits)",
        description: "The id and the provider cannot change (422 on $.id, 409 `team_provider_immutable`). The team's roster is validated with the change (e.g. max_members below its carer count is a 422). Provider keys only for their own teams.",
        query: &[],
        request: Some("Team"),
        response: Answer {
            status: 200,
            schema: "TeamDetail",
        },
        errors: &[404, 409, 422],
        handler: |c| Box::pin(roster_handlers::update_team(c)),
    },
    RouteSpec {
        id: "createCarer",
        method: Method::Post,
        path: "/v1/carers",
        access: Access::Roles(ROSTER_EDIT_ROLES),
        tag: "rosters",
        summary: "Add a carer to a team",
        description: "Body: a carefill/1 carer (team, skills, gender, contract, contracted_min_per_week, max_min_per_day/week, travel_mode, home, shifts, absences). The team must exist (422 on $.team); provider keys only for their own teams. The team's rota is re-planned: visits it could not place before may now go to the new carer; nobody else's visits move.",
        query: &[],
        request: Some("Carer"),
        response: Answer {
            status: 201,
            schema: "CarerChange",
        },
        errors: &[404, 409, 422],
        handler: |c| Box::pin(roster_handlers::create_carer(c)),
    },
    RouteSpec {
        id: "getCarer",
        method: Method::Get,
        path: "/v1/carers/{carer_id}",
        access: Access::Roles(ROSTER_ROLES),
        tag: "rosters",
        summary: "A carer's whole record (as PUT takes it)",
        description: "Planner keys only for their team's carers; provider keys only for their provider's.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "CarerDetail",
        },
        errors: &[404],
        handler: |c| Box::pin(roster_handlers::get_carer(c)),
    },
    RouteSpec {
        id: "updateCarer",
        method: Method::Put,
        path: "/v1/carers/{carer_id}",
        access: Access::Roles(ROSTER_EDIT_ROLES),
        tag: "rosters",
        summary: "Replace a carer's record; re-plan the affected rotas with minimum change",
        description: "The id cannot change (422 on $.id). Changing shifts, skills, gender, limits, home or absences re-plans the team's rota: only the carer's routes that no longer work are taken apart and their visits re-inserted, every other visit keeps its carer. Moving the carer to another team re-plans both teams (the key must cover both). The answer lists moved, newly unplaced and newly placed visits per team.",
        query: &[],
        request: Some("Carer"),
        response: Answer {
            status: 200,
            schema: "CarerChange",
        },
        errors: &[404, 422],
        handler: |c| Box::pin(roster_handlers::update_carer(c)),
    },
    RouteSpec {
        id: "setCarerAvailability",
        method: Method::Put,
        path: "/v1/carers/{carer_id}/availability",
        access: Access::Roles(ROSTER_ROLES),
        tag: "rosters",
        summary: "Replace a carer's shifts; re-plan the team's rota with minimum change",
        description: "Body {shifts: [{days, start, end, start_location?, end_location?}]} (at most 100). Planner keys only for their team's carers, provider keys for their provider's. Bad fields are a 422 naming e.g. $.shifts[0].start. The answer lists what moved.",
        query: &[],
        request: Some("Availability"),
        response: Answer {
            status: 200,
            schema: "CarerChange",
        },
        errors: &[404, 422],
        handler: |c| Box::pin(roster_handlers::set_availability(c)),
    },
    RouteSpec {
        id: "liveEvents",
        method: Method::Get,
        path: "/v1/events",
        access: Access::Roles(ALL_ROLES),
        tag: "broker",
        summary: "Live updates as server-sent events",
        description: "text/event-stream of what changed, as ids (refetch through the ordinary routes). \
                      Scoped like the data: provider keys get their own provider's events, planner \
                      keys their own team's. Heartbeat every 15 s; ends at shutdown. Send the key in \
                      the Authorization header (read the stream with fetch, not EventSource).",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "EventStream",
        },
        errors: &[404],
        handler: |c| Box::pin(events::stream(c)),
    },
    RouteSpec {
        id: "carerCalendar",
        method: Method::Get,
        path: "/v1/carers/{carer_id}/calendar.ics",
        access: Access::Roles(ROSTER_ROLES),
        tag: "rosters",
        summary: "A carer's visits as an iCalendar feed (RFC 5545)",
        description: "One VEVENT per visit of the carer on the team's published rota (UTC times, \
                      the person's id, GEO of the visit, double-handed partners). Provider keys: own \
                      teams' carers; planner keys: own team's (403 otherwise).",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "Calendar",
        },
        errors: &[404],
        handler: |c| Box::pin(exports::calendar(c)),
    },
    RouteSpec {
        id: "teamRotaCsv",
        method: Method::Get,
        path: "/v1/teams/{team_id}/rota.csv",
        access: Access::Roles(ROSTER_ROLES),
        tag: "rosters",
        summary: "The team's published rota as CSV, one row per visit and carer",
        description: "RFC 4180 with a header row: team, carer, shift, date, visit, package, \
                      service_user, arrival, start, end, duration_min, travel_min, travel_m, \
                      late_min, carers_on_visit (2 for a double-handed visit, which has a row per carer).",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "RotaCsv",
        },
        errors: &[404],
        handler: |c| Box::pin(exports::team_rota_csv(c)),
    },
    RouteSpec {
        id: "teamRoutesGeoJson",
        method: Method::Get,
        path: "/v1/teams/{team_id}/routes.geojson",
        access: Access::Roles(ROSTER_ROLES),
        tag: "rosters",
        summary: "The team's routes as GeoJSON",
        description: "A LineString per carer shift through its visits in order (kind=route, with \
                      travel) and a Point per visit (kind=visit). Carers' homes are not included.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "GeoJson",
        },
        errors: &[404],
        handler: |c| Box::pin(exports::team_routes_geojson(c)),
    },
    RouteSpec {
        id: "countyMap",
        method: Method::Get,
        path: "/v1/map",
        access: Access::Roles(BROKER_ROLES),
        tag: "broker",
        summary: "The county as GeoJSON: areas with capacity, teams, providers, people waiting",
        description: "Features by properties.kind: area (urban area polygon with spare, waiting \
                      and shortfall carer-hours; `rural` without geometry), team (base point), \
                      team_area, provider (centroid of its team bases, tier, status), waiting (an \
                      open or escalated package at its person's location rounded to 0.01°).",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "GeoJson",
        },
        errors: &[404],
        handler: |c| Box::pin(exports::map(c)),
    },
    RouteSpec {
        id: "listDemoReferrals",
        method: Method::Get,
        path: "/v1/demo/referrals",
        access: Access::Roles(BROKER_ROLES),
        tag: "broker",
        summary: "The demo county's referrals not yet referred (with --demo)",
        description: "Each item is a body for POST /v1/referrals or /v1/recommendations.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "ReferralBatch",
        },
        errors: &[404],
        handler: |c| Box::pin(broker_handlers::demo_referrals(c)),
    },
    RouteSpec {
        id: "closeYear",
        method: Method::Post,
        path: "/v1/ledger/close-year",
        access: Access::Roles(ADMIN_ONLY),
        tag: "broker",
        summary: "Year-end close of the risk pool",
        description: "Body {year}. The unspent pool moves to the quality improvement fund.",
        query: &[],
        request: Some("CloseYear"),
        response: Answer {
            status: 200,
            schema: "LedgerReport",
        },
        errors: &[],
        handler: |c| Box::pin(broker_handlers::close_year(c)),
    },
];

/// Path parameters: (name in the template, decoded value).
pub type PathParams = Vec<(&'static str, String)>;

/// The route for `method` and `path`: `Ok((route, path parameters))`, or the
/// 404/405 error the router answers with.
pub fn find(
    method: Option<Method>,
    path: &str,
) -> Result<(&'static RouteSpec, PathParams), ApiError> {
    let mut allowed = Vec::new();
    for route in ROUTES {
        if let Some(params) = match_template(route.path, path) {
            if Some(route.method) == method {
                return Ok((route, params));
            }
            allowed.push(route.method.as_str());
        }
    }
    if allowed.is_empty() {
        Err(ApiError::RouteNotFound(path.to_string()))
    } else {
        Err(ApiError::MethodNotAllowed(allowed))
    }
}

/// Path parameters if `path` matches `template`.
pub fn match_template(template: &'static str, path: &str) -> Option<PathParams> {
    let mut want = template.trim_start_matches('/').split('/');
    let mut got = path.trim_start_matches('/').split('/');
    let mut params = Vec::new();
    loop {
        match (want.next(), got.next()) {
            (None, None) => return Some(params),
            (Some(w), Some(g)) => {
                if let Some(name) = w.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
                    if g.is_empty() {
                        return None;
                    }
                    params.push((name, percent_decode(g)?));
                } else if w != g {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

/// Decodes `%XX` escapes (and `+` as space when `plus` is set); `None` if not UTF-8.
fn decode(s: &str, plus: bool) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn percent_decode(s: &str) -> Option<String> {
    decode(s, false)
}

/// Parses a raw query string into decoded pairs.
pub fn parse_query(raw: &str) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let bad = || ApiError::BadParameter {
            path: "query".into(),
            detail: format!("cannot decode {pair:?}"),
        };
        out.push((
            decode(k, true).ok_or_else(bad)?,
            decode(v, true).ok_or_else(bad)?,
        ));
    }
    Ok(out)
}

/// What a handler gets: the state, the matched route, the caller, parameters and body.
#[derive(Debug)]
pub struct RequestCtx {
    /// Shared state.
    pub state: AppState,
    /// The matched route.
    pub route: &'static RouteSpec,
    /// The caller (`None` on public routes).
    pub principal: Option<Principal>,
    /// This request's id (also in `X-Request-Id` and in error bodies).
    pub request_id: String,
    /// Request headers.
    pub headers: HeaderMap,
    /// The body (empty for routes without `request`).
    pub body: bytes::Bytes,
    /// Path parameters.
    pub params: PathParams,
    /// Decoded query parameters (only names the route declares).
    pub query: Vec<(String, String)>,
}

impl RequestCtx {
    /// The caller; an internal error on a public route (a table mistake).
    pub fn principal(&self) -> Result<&Principal, ApiError> {
        self.principal
            .as_ref()
            .ok_or_else(|| ApiError::Internal(format!("{} has no caller", self.route.id)))
    }

    /// A path parameter declared in the template.
    pub fn param(&self, name: &str) -> Result<&str, ApiError> {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| ApiError::Internal(format!("{} has no parameter {name}", self.route.id)))
    }

    /// A query parameter as text.
    pub fn query_str(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A finite decimal query parameter.
    pub fn query_f64(&self, name: &str) -> Result<Option<f64>, ApiError> {
        self.query_str(name)
            .map(|v| {
                v.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| ApiError::BadParameter {
                        path: name.to_string(),
                        detail: format!("{v:?} is not a number"),
                    })
            })
            .transpose()
    }

    /// A non-negative integer query parameter.
    pub fn query_u64(&self, name: &str) -> Result<Option<u64>, ApiError> {
        self.query_str(name)
            .map(|v| {
                v.trim().parse::<u64>().map_err(|_| ApiError::BadParameter {
                    path: name.to_string(),
                    detail: format!("{v:?} is not a non-negative integer"),
                })
            })
            .transpose()
    }

    /// The body as UTF-8 text.
    pub fn body_text(&self) -> Result<&str, ApiError> {
        std::str::from_utf8(&self.body).map_err(|e| ApiError::BadJson {
            path: "$".into(),
            detail: format!("body is not UTF-8: {e}"),
        })
    }

    /// The body parsed as `T`; errors name the JSON path.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        parse_body(&self.body)
    }
}

/// Parses a JSON body as `T`; errors name the JSON path.
pub fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| ApiError::BadJson {
        path: "$".into(),
        detail: format!("body is not UTF-8: {e}"),
    })?;
    carefill_solver::format::parse_json(text).map_err(|i| ApiError::BadJson {
        path: i.path,
        detail: i.message,
    })
}

/// A JSON answer with `status`.
pub fn json_reply<T: Serialize>(status: StatusCode, value: &T) -> Result<Response, ApiError> {
    Ok(warp::reply::with_status(warp::reply::json(value), status).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_with_decoded_parameters() {
        let p = match_template(
            "/v1/rota/jobs/{job_id}/result",
            "/v1/rota/jobs/job%5F1/result",
        )
        .expect("match");
        assert_eq!(p, vec![("job_id", "job_1".to_string())]);
        assert!(match_template("/v1/rota/jobs/{job_id}", "/v1/rota/jobs/").is_none());
        assert!(match_template("/v1/rota/jobs/{job_id}", "/v1/rota/jobs/a/b").is_none());
        assert!(match_template("/health", "/health/").is_none());
    }

    #[test]
    fn find_tells_404_from_405() {
        assert!(find(Some(Method::Get), "/health").is_ok());
        let err = find(Some(Method::Post), "/health").expect_err("405");
        assert_eq!(err.code_and_status().0, "method_not_allowed");
        let err = find(Some(Method::Get), "/nope").expect_err("404");
        assert_eq!(err.code_and_status().0, "route_not_found");
    }

    #[test]
    fn queries_are_decoded() {
        let q = parse_query("a=1&b=x+y%21&c").expect("query");
        assert_eq!(
            q,
            vec![
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), "x y!".to_string()),
                ("c".to_string(), String::new()),
            ]
        );
        assert!(parse_query("a=%ZZ").is_err());
    }

    #[test]
    fn route_ids_and_method_path_pairs_are_unique() {
        let mut ids = std::collections::HashSet::new();
        let mut pairs = std::collections::HashSet::new();
        for r in ROUTES {
            assert!(ids.insert(r.id), "duplicate id {}", r.id);
            assert!(
                pairs.insert((r.method.as_str(), r.path)),
                "duplicate {}",
                r.path
            );
        }
    }
}
