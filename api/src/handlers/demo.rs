//! The demo county (`carefill serve --demo`): the demo team's planning request
//! and the referrals not yet referred, ready to POST. 404 without `--demo`.

use super::access::{ALL_ROLES, BROKER_ROLES};
use super::broker::service;
use super::referrals::ReferralBody;
use crate::http::{Access, Answer, ApiError, Method, RequestCtx, RouteSpec, blocking, json_reply};
use warp::http::StatusCode;
use warp::reply::Response;

/// This resource's routes (see [`super::table`]).
pub(super) const ROUTES: &[RouteSpec] = &[
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
        handler: |c| Box::pin(demo_request(c)),
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
        handler: |c| Box::pin(demo_referrals(c)),
    },
];

/// `GET /v1/demo/request`.
async fn demo_request(ctx: RequestCtx) -> Result<Response, ApiError> {
    match &ctx.state.demo {
        Some(r) => json_reply(StatusCode::OK, r.as_ref()),
        None => Err(ApiError::NotFound(
            "the service was started without --demo".into(),
        )),
    }
}

/// `GET /v1/demo/referrals`: the demo county's referrals not yet referred, ready to POST.
async fn demo_referrals(ctx: RequestCtx) -> Result<Response, ApiError> {
    let svc = service(&ctx)?;
    let list = blocking(move || Ok(svc.demo_referrals())).await?;
    let bodies: Vec<ReferralBody> = list
        .into_iter()
        .map(|(package, service_user)| ReferralBody {
            package,
            service_user,
        })
        .collect();
    json_reply(StatusCode::OK, &serde_json::json!({ "referrals": bodies }))
}
