//! The service itself: liveness, metrics, the caller's key (`/openapi.json` is
//! served beside the route table, in [`super`]).

use super::access::ALL_ROLES;
use crate::http::{Access, Answer, ApiError, Method, RequestCtx, RouteSpec, json_reply};
use warp::Reply;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;

/// This resource's routes (see [`super::table`]).
pub(super) const ROUTES: &[RouteSpec] = &[
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
        handler: |c| Box::pin(health(c)),
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
        handler: |c| Box::pin(metrics(c)),
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
        handler: |c| Box::pin(whoami(c)),
    },
];

/// `GET /health`.
async fn health(ctx: RequestCtx) -> Result<Response, ApiError> {
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
async fn metrics(ctx: RequestCtx) -> Result<Response, ApiError> {
    let text = ctx.state.metrics.render().map_err(ApiError::Internal)?;
    let mut resp = text.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(resp)
}

/// `GET /v1/whoami`.
async fn whoami(ctx: RequestCtx) -> Result<Response, ApiError> {
    json_reply(StatusCode::OK, ctx.principal()?)
}
