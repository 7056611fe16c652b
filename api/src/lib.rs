//! carefill's HTTP service (warp): a thin layer over `carefill-solver`.
//!
//! # Layout
//! - [`mod@routes`]: **the route table** — every route's method, path template,
//!   roles, documentation, parameters, schemas and handler, and how to add one.
//! - [`server`]: the router built from the table, request ids, access logs,
//!   HTTP metrics, body limits, and [`serve`] with graceful shutdown.
//! - [`auth`]: API keys (SHA-256 hashes in a keys file), roles, scopes, [`Principal`].
//! - [`handlers`]: service and rota handlers; [`jobs`]: asynchronous solve jobs.
//! - [`metrics`]: Prometheus metrics; [`openapi`]: `/openapi.json` from the table.
//! - [`state`]: [`AppState`] (an `Arc`) and the limits in [`ServiceConfig`].
//! - [`error`]: [`ApiError`] and its problem+json answers.
//!
//! # Routes (see [`routes::ROUTES`] for roles and details)
//! - `GET /health`, `GET /metrics`, `GET /openapi.json` — public.
//! - `GET /v1/whoami` — the caller's key id, role and scope.
//! - `POST /v1/requests/validate` — every problem in a planning request, with JSON paths.
//! - `POST /v1/rota/solve?time_limit_s=S&seed=N` — synchronous solve (≤ 60 s).
//! - `POST /v1/rota/check`, `POST /v1/rota/analyse` — checker verdict, KPIs, unplaced reasons.
//! - `POST /v1/rota/jobs`, `GET /v1/rota/jobs`, `GET /v1/rota/jobs/{job_id}`,
//!   `GET /v1/rota/jobs/{job_id}/result`, `POST /v1/rota/jobs/{job_id}/cancel` — solve jobs.
//! - `GET /v1/demo/request` — the demo team's planning request (with `--demo`).
//!
//! Errors are `application/problem+json` with a stable `code`, the JSON `path`
//! of the bad field where there is one, a human `detail` and the `request_id`.
//! CPU-heavy work runs on the blocking pool; solves hold one of a fixed number
//! of solver slots: a synchronous solve that finds none gets 503 with
//! `Retry-After`, a job waits in a bounded queue.

pub mod auth;
pub mod broker_handlers;
pub mod broker_service;
pub mod error;
pub mod handlers;
pub mod jobs;
pub mod metrics;
pub mod openapi;
pub mod roster_handlers;
pub mod routes;
pub mod server;
pub mod state;

pub use auth::{KeyStore, Principal, Role, Scope};
/// The broker's durable store, kept beside the broker domain in the solver.
pub use carefill_solver::broker::store;
pub use error::ApiError;
pub use server::{routes, serve};
pub use state::{
    AppState, AppStateBuilder, MAX_BODY_BYTES, MAX_JOB_TIME_LIMIT_S, MAX_SYNC_TIME_LIMIT_S,
    ServiceConfig,
};
