//! The delivery loop: carers (their devices, or an integrator's platform)
//! check in and out of visits; the record of one visit.
//!
//! Visit ids are `{package}/{pattern}@{date}`: send the `/` as `%2F` in the
//! path. A key sees only visits of its own provider (provider keys) or team
//! (planner keys); any other visit is 404, as if it did not exist.

use super::access::{ALL_ROLES, ROTA_ROLES};
use super::broker::{command, read};
use crate::auth::Principal;
use crate::http::openapi::{Schemas, add};
use crate::http::{Access, Answer, ApiError, Method, RequestCtx, RouteSpec, json_reply};
use carefill_solver::broker::{Broker, CheckPoint, CheckRequest, GeoPoint, VisitRecord};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;

/// This resource's routes (see [`super::table`]).
pub(super) const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        id: "getVisit",
        method: Method::Get,
        path: "/v1/visits/{visit_id}",
        access: Access::Roles(ALL_ROLES),
        tag: "broker",
        summary: "A visit as planned and as delivered (check-in, check-out, alerts)",
        description: "visit_id is `{package}/{pattern}@{date}` with the `/` sent as %2F. Provider keys see their own provider's visits, planner keys their own team's (404 otherwise).",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "VisitDelivery",
        },
        errors: &[404],
        handler: |c| Box::pin(get_visit(c)),
    },
    RouteSpec {
        id: "checkInVisit",
        method: Method::Post,
        path: "/v1/visits/{visit_id}/check-in",
        access: Access::Roles(ROTA_ROLES),
        tag: "broker",
        summary: "A carer arrived at a visit",
        description: "Body {time?, location?: {lat, lon}, carer?}; time is RFC 3339 and defaults to now (at most 5 min ahead, within 12 h of the planned time). \
                      For the carer's device (a provider or planner key of the visit's team) or an integrator. \
                      404 for a visit not on a rota of yours; 409 already_checked_in.",
        query: &[],
        request: Some("VisitCheck"),
        response: Answer {
            status: 200,
            schema: "VisitDelivery",
        },
        errors: &[404, 409],
        handler: |c| Box::pin(check_in(c)),
    },
    RouteSpec {
        id: "checkOutVisit",
        method: Method::Post,
        path: "/v1/visits/{visit_id}/check-out",
        access: Access::Roles(ROTA_ROLES),
        tag: "broker",
        summary: "A carer left a visit",
        description: "Body as for check-in; the time must be after the check-in (at most 16 h). 409 not_checked_in or already_checked_out.",
        query: &[],
        request: Some("VisitCheck"),
        response: Answer {
            status: 200,
            schema: "VisitDelivery",
        },
        errors: &[404, 409],
        handler: |c| Box::pin(check_out(c)),
    },
];

/// This resource's schemas.
pub(super) fn schemas(out: &mut Schemas) {
    add::<CheckRequest>(out);
    add::<VisitView>(out);
}

/// A visit as planned and as delivered.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = VisitDelivery)]
struct VisitView {
    visit: String,
    package: String,
    team: String,
    provider: Option<String>,
    carers: Vec<String>,
    planned_start: DateTime<Utc>,
    planned_end: DateTime<Utc>,
    /// `planned`, `checked_in` or `completed`.
    status: &'static str,
    check_in: Option<CheckView>,
    check_out: Option<CheckView>,
    /// Minutes from planned start to check-in (negative = early).
    late_min: Option<i64>,
    /// Minutes from check-in to check-out.
    duration_min: Option<i64>,
    late_alerted: bool,
    missed_alerted: bool,
}

/// A check-in or check-out.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = VisitCheckPoint)]
struct CheckView {
    time: DateTime<Utc>,
    recorded_at: DateTime<Utc>,
    by: String,
    carer: Option<String>,
    location: Option<GeoPoint>,
    /// Metres from the person's home, when a location was given.
    distance_m: Option<u32>,
}

fn check_view(c: &CheckPoint) -> CheckView {
    CheckView {
        time: c.time,
        recorded_at: c.recorded_at,
        by: c.by.clone(),
        carer: c.carer.clone(),
        location: c.location,
        distance_m: c.distance_m,
    }
}

fn view(r: &VisitRecord) -> VisitView {
    let p = &r.planned;
    VisitView {
        visit: p.visit.clone(),
        package: p.package.clone(),
        team: p.team.clone(),
        provider: p.provider.clone(),
        carers: p.carers.clone(),
        planned_start: p.planned_start,
        planned_end: p.planned_end,
        status: match (&r.check_in, &r.check_out) {
            (None, _) => "planned",
            (Some(_), None) => "checked_in",
            (Some(_), Some(_)) => "completed",
        },
        check_in: r.check_in.as_ref().map(check_view),
        check_out: r.check_out.as_ref().map(check_view),
        late_min: (r.check_in.as_ref()).map(|c| (c.time - p.planned_start).num_minutes()),
        duration_min: match (&r.check_in, &r.check_out) {
            (Some(i), Some(o)) => Some((o.time - i.time).num_minutes()),
            _ => None,
        },
        late_alerted: r.late_alerted,
        missed_alerted: r.missed_alerted,
    }
}

/// Whether the key may act for a team (with its provider).
fn may_act(who: &Principal, team: &str, provider: Option<&str>) -> bool {
    who.require_team(team, provider).is_ok()
}

fn visible(b: &Broker, who: &Principal, id: &str) -> Result<VisitView, ApiError> {
    b.visit_record(id)
        .filter(|r| may_act(who, &r.planned.team, r.planned.provider.as_deref()))
        .map(|r| view(&r))
        .ok_or_else(|| ApiError::NotFound(format!("unknown visit `{id}` (not on a rota of yours)")))
}

/// `GET /v1/visits/{visit_id}`.
async fn get_visit(ctx: RequestCtx) -> Result<Response, ApiError> {
    let id = ctx.param("visit_id")?.to_string();
    let who = ctx.principal()?.clone();
    let v = read(&ctx, move |b, _| visible(b, &who, &id)).await?;
    json_reply(StatusCode::OK, &v)
}

async fn check(ctx: RequestCtx, out: bool) -> Result<Response, ApiError> {
    let id = ctx.param("visit_id")?.to_string();
    let body: CheckRequest = ctx.json()?;
    let who = ctx.principal()?.clone();
    let (id2, who2) = (id.clone(), who.clone());
    let name = if out { "check_out" } else { "check_in" };
    command(&ctx, name, move |b, now| {
        let can = |team: &str, provider: Option<&str>| may_act(&who2, team, provider);
        if out {
            b.check_out(&id2, &body, &who2.key_id, &can, now)
        } else {
            b.check_in(&id2, &body, &who2.key_id, &can, now)
        }
    })
    .await?;
    let v = read(&ctx, move |b, _| visible(b, &who, &id)).await?;
    json_reply(StatusCode::OK, &v)
}

/// `POST /v1/visits/{visit_id}/check-in`.
async fn check_in(ctx: RequestCtx) -> Result<Response, ApiError> {
    check(ctx, false).await
}

/// `POST /v1/visits/{visit_id}/check-out`.
async fn check_out(ctx: RequestCtx) -> Result<Response, ApiError> {
    check(ctx, true).await
}
