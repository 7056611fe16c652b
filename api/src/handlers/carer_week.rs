//! A carer's week through a read-only link a planner issues: carers have no
//! API key, so the link carries a signed token ([`crate::console::LinkKey`])
//! naming one carer and an expiry. The same token makes the iCalendar address
//! a phone subscribes to (a calendar app cannot send an `Authorization` header).
//!
//! The week shows what the carer's own calendar feed shows: their visits, the
//! person's id and location, the carers they share a visit with. Nothing about
//! any other carer's visits. Rotating the link secret revokes every link.

use super::access::{ALL_ROLES, ROSTER_ROLES};
use super::broker::{read, require_carer};
use super::exports::carer_calendar;
use crate::console::{LinkError, LinkKey};
use crate::http::openapi::{Schemas, add};
use crate::http::{
    Access, Answer, ApiError, Method, ParamKind, QueryParam, RequestCtx, RouteSpec, json_reply,
};
use carefill_solver::broker::Broker;
use carefill_solver::model::Zone;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use utoipa::ToSchema;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;

const TOKEN: QueryParam = QueryParam {
    name: "token",
    kind: ParamKind::String,
    required: true,
    description: "The token of a week link (POST /v1/carers/{carer_id}/week-link).",
};

/// Longest a week link may last, days.
const MAX_LINK_DAYS: u32 = 92;

/// This resource's routes (see [`super::table`]).
pub(super) const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        id: "createCarerWeekLink",
        method: Method::Post,
        path: "/v1/carers/{carer_id}/week-link",
        access: Access::Roles(ROSTER_ROLES),
        tag: "rosters",
        summary: "Issue a read-only link to one carer's week (and its calendar feed)",
        description: "Body {days?: 1..92, default 28}. The link needs no key: give it to the carer. It shows only that carer's visits and expires after `days`; a new link does not revoke older ones (rotating the service's link secret revokes all). Planner keys only for their team's carers, provider keys for their provider's.",
        query: &[],
        request: Some("WeekLinkRequest"),
        response: Answer {
            status: 201,
            schema: "WeekLink",
        },
        errors: &[404, 422],
        handler: |c| Box::pin(create_link(c)),
    },
    RouteSpec {
        id: "carerWeek",
        method: Method::Get,
        path: "/v1/carer-week",
        access: Access::Public,
        tag: "rosters",
        summary: "A carer's week, day by day, through a week link (no key)",
        description: "403 when the token was changed, signed with an old secret or has expired (code forbidden, detail says which).",
        query: &[TOKEN],
        request: None,
        response: Answer {
            status: 200,
            schema: "CarerWeek",
        },
        errors: &[403, 404],
        handler: |c| Box::pin(week(c)),
    },
    RouteSpec {
        id: "carerWeekCalendar",
        method: Method::Get,
        path: "/v1/carer-week/calendar.ics",
        access: Access::Public,
        tag: "exports",
        summary: "A carer's visits as an iCalendar feed (RFC 5545) through a week link",
        description: "The address a phone's calendar subscribes to; the same feed as GET /v1/carers/{carer_id}/calendar.ics.",
        query: &[TOKEN],
        request: None,
        response: Answer {
            status: 200,
            schema: "Calendar",
        },
        errors: &[403, 404],
        handler: |c| Box::pin(calendar(c)),
    },
    RouteSpec {
        id: "consoleSettings",
        method: Method::Get,
        path: "/v1/console/settings",
        access: Access::Roles(ALL_ROLES),
        tag: "service",
        summary: "Deployment settings the web console uses (map tiles)",
        description: "tile_url is null unless the service was started with --tile-url.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "ConsoleSettings",
        },
        errors: &[],
        handler: |c| Box::pin(settings(c)),
    },
];

/// This resource's schemas.
pub(super) fn schemas(out: &mut Schemas) {
    add::<WeekLinkRequest>(out);
    add::<WeekLink>(out);
    add::<CarerWeek>(out);
    add::<ConsoleSettings>(out);
}

/// How long a new week link lasts.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct WeekLinkRequest {
    /// Days, 1 to 92; default 28.
    #[serde(default)]
    days: Option<u32>,
}

/// A read-only week link.
#[derive(Debug, Serialize, ToSchema)]
struct WeekLink {
    carer: String,
    /// The signed token (give it only to the carer).
    token: String,
    /// RFC 3339.
    expires_at: DateTime<Utc>,
    /// The console page showing the week (path and fragment; the token stays in the browser).
    console_path: String,
    /// The iCalendar address to subscribe to.
    calendar_path: String,
}

/// One carer's week.
#[derive(Debug, Serialize, ToSchema)]
struct CarerWeek {
    carer: String,
    team: Option<String>,
    /// The IANA zone of the times (null: a fixed offset, carried by each time).
    time_zone: Option<String>,
    /// When the link stops working.
    expires_at: DateTime<Utc>,
    /// The iCalendar address to subscribe to.
    calendar_path: String,
    /// Days with visits, in order.
    days: Vec<CarerDay>,
}

/// One day of a carer's week.
#[derive(Debug, Serialize, ToSchema)]
struct CarerDay {
    /// `YYYY-MM-DD`: the local date of the visits' start times.
    date: String,
    visits: Vec<CarerVisit>,
}

/// One visit of a carer.
#[derive(Debug, Serialize, ToSchema)]
struct CarerVisit {
    visit: String,
    /// The person's id.
    service_user: String,
    /// RFC 3339 with the offset in force then in the roster's zone, so the
    /// clock reading is the local one.
    arrival: String,
    start: String,
    end: String,
    /// Travel before the visit, minutes.
    travel_min: u32,
    late_min: u32,
    /// The other carer(s) of a double-handed visit.
    with: Vec<String>,
    /// Where the person lives.
    lat: Option<f64>,
    lon: Option<f64>,
}

/// What the console needs from the deployment.
#[derive(Debug, Serialize, ToSchema)]
struct ConsoleSettings {
    /// Tile URL template with {z}/{x}/{y}, or null (the map is drawn without tiles).
    tile_url: Option<String>,
}

fn calendar_path(token: &str) -> String {
    format!("/v1/carer-week/calendar.ics?token={token}")
}

/// `POST /v1/carers/{carer_id}/week-link`.
async fn create_link(ctx: RequestCtx) -> Result<Response, ApiError> {
    let carer = ctx.param("carer_id")?.to_string();
    let body: WeekLinkRequest = if ctx.body.is_empty() {
        WeekLinkRequest::default()
    } else {
        ctx.json()?
    };
    let days = body.days.unwrap_or(28);
    if !(1..=MAX_LINK_DAYS).contains(&days) {
        return Err(ApiError::BadJson {
            path: "$.days".into(),
            detail: format!("days must be 1 to {MAX_LINK_DAYS}"),
        });
    }
    let who = ctx.principal()?.clone();
    let c2 = carer.clone();
    let now = read(&ctx, move |b, now| {
        require_carer(b, &who, &c2)?;
        Ok(now)
    })
    .await?;
    let expires_at = now + chrono::Duration::days(i64::from(days));
    let token = ctx.state.link_key.sign(&carer, expires_at);
    json_reply(
        StatusCode::CREATED,
        &WeekLink {
            console_path: format!("/#/carer-week/{token}"),
            calendar_path: calendar_path(&token),
            carer,
            token,
            expires_at,
        },
    )
}

/// The request's token and the key that checks it.
fn token(ctx: &RequestCtx) -> Result<(String, LinkKey), ApiError> {
    let token = ctx
        .query_str("token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::BadParameter {
            path: "token".into(),
            detail: "give the token of a week link".into(),
        })?;
    Ok((token.to_string(), ctx.state.link_key.clone()))
}

/// The carer and expiry of a token.
fn verify(
    key: &LinkKey,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(String, DateTime<Utc>), ApiError> {
    key.verify(token, now)
        .map_err(|e: LinkError| ApiError::Forbidden(format!("{} ({})", e, e.code())))
}

/// The carer's team, or 404 when the carer is gone.
fn carer_team(b: &Broker, carer: &str) -> Result<Option<String>, ApiError> {
    b.roster
        .carers
        .iter()
        .find(|c| c.id == carer)
        .map(|c| c.team.clone())
        .ok_or_else(|| ApiError::NotFound(format!("carer `{carer}` is no longer on the roster")))
}

/// `t` re-written with the offset `zone` has at that instant (a time that does
/// not parse is kept as it is).
fn local(zone: &Zone, t: &str) -> String {
    DateTime::parse_from_rfc3339(t).map_or_else(
        |_| t.to_string(),
        |t| {
            let t = t.with_timezone(&Utc);
            t.with_timezone(&zone.offset_at(&t)).to_rfc3339()
        },
    )
}

fn carer_week(
    b: &Broker,
    carer: &str,
    expires_at: DateTime<Utc>,
    token: &str,
) -> Result<CarerWeek, ApiError> {
    let team = carer_team(b, carer)?;
    let zone = Zone::of(&b.roster.horizon);
    let rota = team.as_ref().and_then(|t| b.rotas.get(t));
    let mut on_visit: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut days: BTreeMap<String, Vec<CarerVisit>> = BTreeMap::new();
    if let Some(rota) = rota {
        for r in &rota.routes {
            for s in &r.stops {
                on_visit.entry(s.visit.as_str()).or_default().push(&r.carer);
            }
        }
        for r in rota.routes.iter().filter(|r| r.carer == carer) {
            for s in &r.stops {
                let home = b.service_user(&s.service_user).map(|u| u.location);
                let start = local(&zone, &s.start);
                days.entry(start.get(..10).unwrap_or_default().to_string())
                    .or_default()
                    .push(CarerVisit {
                        visit: s.visit.clone(),
                        service_user: s.service_user.clone(),
                        arrival: local(&zone, &s.arrival),
                        start,
                        end: local(&zone, &s.end),
                        travel_min: s.travel_min,
                        late_min: s.late_min,
                        with: on_visit
                            .get(s.visit.as_str())
                            .map(|v| {
                                v.iter()
                                    .filter(|c| **c != carer)
                                    .map(|c| c.to_string())
                                    .collect()
                            })
                            .unwrap_or_default(),
                        lat: home.map(|l| l.lat),
                        lon: home.map(|l| l.lon),
                    });
            }
        }
    }
    let days = days
        .into_iter()
        .map(|(date, mut visits)| {
            visits.sort_by(|a, b| a.start.cmp(&b.start));
            CarerDay { date, visits }
        })
        .collect();
    Ok(CarerWeek {
        carer: carer.to_string(),
        team,
        time_zone: zone.name().map(str::to_string),
        expires_at,
        calendar_path: calendar_path(token),
        days,
    })
}

/// `GET /v1/carer-week?token=...`.
async fn week(ctx: RequestCtx) -> Result<Response, ApiError> {
    let (token, key) = token(&ctx)?;
    let v = read(&ctx, move |b, now| {
        let (carer, expires) = verify(&key, &token, now)?;
        carer_week(b, &carer, expires, &token)
    })
    .await?;
    json_reply(StatusCode::OK, &v)
}

/// `GET /v1/carer-week/calendar.ics?token=...`.
async fn calendar(ctx: RequestCtx) -> Result<Response, ApiError> {
    let (token, key) = token(&ctx)?;
    let text = read(&ctx, move |b, now| {
        let (carer, _) = verify(&key, &token, now)?;
        let rota = carer_team(b, &carer)?
            .and_then(|t| b.rotas.get(&t).cloned())
            .unwrap_or_default();
        carer_calendar(b, &carer, &rota, now)
    })
    .await?;
    let mut r = Response::new(text.into());
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    Ok(r)
}

/// `GET /v1/console/settings`.
async fn settings(ctx: RequestCtx) -> Result<Response, ApiError> {
    json_reply(
        StatusCode::OK,
        &ConsoleSettings {
            tile_url: ctx.state.config.tile_url.clone(),
        },
    )
}
