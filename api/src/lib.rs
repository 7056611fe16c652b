//! carefill's HTTP service (warp): a thin layer over `carefill-solver`.
//!
//! # Layout
//! - [`http`]: the HTTP layer, which knows no handler: what a route is
//!   ([`http::route`]), matching and the checks before a handler
//!   ([`http::router`]), the request context ([`http::context`]), problem+json
//!   errors ([`http::error`]), query decoding ([`http::query`]) and the OpenAPI
//!   document ([`http::openapi`]).
//! - [`handlers`]: route handlers by resource, each module with its own route
//!   specs; [`handlers::table`] joins them into **the route table**, and its
//!   docs say how to add a route.
//! - [`server`]: the warp filter over the table, and [`serve`] with graceful shutdown.
//! - [`auth`]: API keys (SHA-256 hashes in a keys file), roles, scopes, [`Principal`].
//! - [`jobs`]: the bounded store of asynchronous solve jobs; [`solving`]: a
//!   checked solve with its metrics.
//! - [`broker_service`] and [`store`]: the broker behind its database.
//! - [`metrics`]: Prometheus metrics; [`state`]: [`AppState`] (an `Arc`);
//!   [`config`]: the limits in [`ServiceConfig`].
//! - [`live`]: live events for `GET /v1/events`; [`console`]: the web console's
//!   embedded assets, served at `/`.
//!
//! # Routes (see [`handlers::table`] for roles and details)
//! - `GET /health`, `GET /metrics`, `GET /openapi.json` — public.
//! - `GET /v1/whoami` — the caller's key id, role and scope.
//! - `POST /v1/requests/validate` — every problem in a planning request, with JSON paths.
//! - `POST /v1/rota/solve?time_limit_s=S&seed=N` — synchronous solve (≤ 60 s).
//! - `POST /v1/rota/check`, `POST /v1/rota/analyse` — checker verdict, KPIs, unplaced reasons.
//! - `POST /v1/rota/jobs`, `GET /v1/rota/jobs`, `GET /v1/rota/jobs/{job_id}`,
//!   `GET /v1/rota/jobs/{job_id}/result`, `POST /v1/rota/jobs/{job_id}/cancel` — solve jobs.
//! - referrals, recommendations, packages, offers, providers, teams, carers,
//!   reports and the ledger — the broker (with `--db` or `--demo`).
//! - `GET /v1/demo/request`, `GET /v1/demo/referrals` — the demo county (with `--demo`).
//!
//! Errors are `application/problem+json` with a stable `code`, the JSON `path`
//! of the bad field where there is one, a human `detail` and the `request_id`.
//! CPU-heavy work runs on the blocking pool; solves hold one of a fixed number
//! of solver slots: a synchronous solve that finds none gets 503 with
//! `Retry-After`, a job waits in a bounded queue.

pub mod auth;
pub mod broker_service;
pub mod config;
pub mod console;
pub mod handlers;
pub mod http;
pub mod jobs;
pub mod live;
pub mod metrics;
#[cfg(test)]
mod module_graph;
pub mod server;
// Brokerage simulations as jobs (POST /v1/simulations).
pub mod simulations;
pub mod solving;
pub mod state;
pub mod webhooks;

pub use auth::{KeyStore, Principal, Role, Scope};
/// The broker's durable store, kept beside the broker domain in the solver.
pub use carefill_solver::broker::store;
pub use config::{MAX_BODY_BYTES, MAX_JOB_TIME_LIMIT_S, MAX_SYNC_TIME_LIMIT_S, ServiceConfig};
pub use http::ApiError;
pub use server::{routes, serve};
pub use state::{AppState, AppStateBuilder};
