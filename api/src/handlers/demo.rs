//! The demo county (`carefill serve --demo`): the demo team's planning request
//! and the referrals not yet referred, ready to POST. 404 without `--demo`.

use super::access::{ALL_ROLES, BROKER_ROLES};
use super::broker::service;
use super::referrals::{BatchBody, ReferralBody};
use crate::http::openapi::{Schemas, add};
use crate::http::{Access, Answer, ApiError, Method, RequestCtx, RouteSpec, blocking, json_reply};
use carefill_solver::format::PlanningRequest;
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
        description: "Only when the service was started with --demo (404 otherwise). Synthetic data. With the demo county, the broker's team of a planner key (the county's first team for other keys), as it is now.",
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

/// This resource's schemas.
pub(super) fn schemas(out: &mut Schemas) {
    add::<PlanningRequest>(out);
    add::<BatchBody>(out);
}

/// `GET /v1/demo/request`. With a broker, the demo team is the broker's: the
/// planner key's own team (others get the team demo keys are scoped to, the
/// county's first), with its carers and people as they are now, so the
/// request a planner solves is the team the broker fills packages into.
async fn demo_request(ctx: RequestCtx) -> Result<Response, ApiError> {
    let Some(fixed) = ctx.state.demo.clone() else {
        return Err(ApiError::NotFound(
            "the service was started without --demo".into(),
        ));
    };
    let Some(svc) = ctx.state.broker.clone() else {
        return json_reply(StatusCode::OK, fixed.as_ref());
    };
    let scoped = ctx.principal()?.team_scope().map(str::to_string);
    let request = blocking(move || {
        Ok(svc.read(|b, _| {
            let team = scoped.or_else(|| b.roster.teams.first().map(|t| t.id.clone()))?;
            b.team_request(&team)
        }))
    })
    .await?;
    match request {
        Some(r) => json_reply(StatusCode::OK, &r),
        None => json_reply(StatusCode::OK, fixed.as_ref()),
    }
}

/// `GET /v1/demo/referrals`: the demo county's referrals not yet referred, ready to POST.
async fn demo_referrals(ctx: RequestCtx) -> Result<Response, ApiError> {
    let svc = service(&ctx)?;
    let list = blocking(move || Ok(svc.demo_referrals())).await?;
    let referrals: Vec<ReferralBody> = list
        .into_iter()
        .map(|(package, service_user)| ReferralBody {
            package,
            service_user,
        })
        .collect();
    json_reply(StatusCode::OK, &BatchBody { referrals })
}
