//! The brokering policy at run time: read it, replace it (admin), and its
//! version history. A change is a broker event, so it is in the audit log
//! with who and when, and replays; each package records the version it was
//! brokered under.

use super::access::{ADMIN_BROKER, ADMIN_ONLY};
use super::broker::{command, read};
use crate::http::openapi::{Schemas, add};
use crate::http::{
    Access, Answer, ApiError, Method, ParamKind, QueryParam, RequestCtx, RouteSpec, json_reply,
};
use carefill_solver::broker::{Broker, BrokerConfig};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;

/// This resource's routes (see [`super::table`]).
pub(super) const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        id: "getPolicy",
        method: Method::Get,
        path: "/v1/policy",
        access: Access::Roles(ADMIN_BROKER),
        tag: "broker",
        summary: "The brokering policy in force and its version",
        description: "Every setting (offer windows, cascade, damages, risk pool, delivery loop); see docs/policy.md.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "PolicyState",
        },
        errors: &[],
        handler: |c| Box::pin(get_policy(c)),
    },
    RouteSpec {
        id: "putPolicy",
        method: Method::Put,
        path: "/v1/policy",
        access: Access::Roles(ADMIN_ONLY),
        tag: "broker",
        summary: "Replace the brokering policy (a new version)",
        description: "The body is the whole policy (GET it, change it, PUT it back); a field left out takes its default. \
                      422 lists every invalid field. `expected_version` (the version you read) refuses with 409 \
                      policy_version_mismatch if someone changed it since. Takes effect for what happens from now: \
                      open offers keep their windows. An unchanged policy makes no new version.",
        query: &[QueryParam {
            name: "expected_version",
            kind: ParamKind::Integer,
            required: false,
            description: "The version the change is based on (optimistic concurrency).",
        }],
        request: Some("Policy"),
        response: Answer {
            status: 200,
            schema: "PolicyState",
        },
        errors: &[409],
        handler: |c| Box::pin(put_policy(c)),
    },
    RouteSpec {
        id: "policyHistory",
        method: Method::Get,
        path: "/v1/policy/history",
        access: Access::Roles(ADMIN_BROKER),
        tag: "broker",
        summary: "Every version of the policy, with who set it and when",
        description: "Oldest first; version 1 is the policy the database was created with.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "PolicyHistory",
        },
        errors: &[],
        handler: |c| Box::pin(history(c)),
    },
];

/// This resource's schemas.
pub(super) fn schemas(out: &mut Schemas) {
    add::<BrokerConfig>(out);
    add::<PolicyState>(out);
    add::<PolicyHistory>(out);
}

/// One version of the policy.
#[derive(Debug, Serialize, ToSchema)]
struct PolicyState {
    /// Version number (1 = as created).
    version: u32,
    /// When it took effect (absent for version 1).
    changed_at: Option<DateTime<Utc>>,
    /// Key id that set it (`baseline` for version 1).
    changed_by: String,
    /// The policy.
    policy: BrokerConfig,
}

/// Every version, oldest first.
#[derive(Debug, Serialize, ToSchema)]
struct PolicyHistory {
    /// The version in force.
    current: u32,
    /// Every version.
    versions: Vec<PolicyState>,
}

fn versions(b: &Broker) -> Vec<PolicyState> {
    b.policy_versions
        .iter()
        .map(|v| PolicyState {
            version: v.version,
            changed_at: v.at,
            changed_by: v.by.clone(),
            policy: v.config.clone(),
        })
        .collect()
}

fn current(b: &Broker) -> PolicyState {
    versions(b).pop().unwrap_or(PolicyState {
        version: 1,
        changed_at: None,
        changed_by: "baseline".into(),
        policy: b.config.clone(),
    })
}

/// `GET /v1/policy`.
async fn get_policy(ctx: RequestCtx) -> Result<Response, ApiError> {
    let v = read(&ctx, |b, _| Ok(current(b))).await?;
    json_reply(StatusCode::OK, &v)
}

/// `PUT /v1/policy?expected_version=`.
async fn put_policy(ctx: RequestCtx) -> Result<Response, ApiError> {
    let config: BrokerConfig = ctx.json()?;
    let expected = ctx
        .query_u64("expected_version")?
        .map(|v| u32::try_from(v).unwrap_or(u32::MAX));
    let by = ctx.principal()?.key_id.clone();
    command(&ctx, "change_policy", move |b, now| {
        b.change_policy(config, &by, expected, now)
    })
    .await?;
    let v = read(&ctx, |b, _| Ok(current(b))).await?;
    json_reply(StatusCode::OK, &v)
}

/// `GET /v1/policy/history`.
async fn history(ctx: RequestCtx) -> Result<Response, ApiError> {
    let v = read(&ctx, |b, _| {
        Ok(PolicyHistory {
            current: b.policy_version(),
            versions: versions(b),
        })
    })
    .await?;
    json_reply(StatusCode::OK, &v)
}
