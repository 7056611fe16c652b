//! A planner re-solving a team's week: the team's planning request (with its
//! published rota as the starting point, for a solve job), and publishing a
//! finished job's rota over the team's rota once the independent checker
//! accepts it against the team as it is now, pinned visits unmoved.
//!
//! Pins belong to the planner's draft: they are marked `pinned` in the request
//! the job solves (so the solver keeps them exactly) and named again when
//! publishing (so the service checks they were kept).

use super::access::{BROKER_ROLES, ROSTER_ROLES};
use super::broker::{command, read, require_team};
use crate::http::openapi::{Schemas, add};
use crate::http::{Access, Answer, ApiError, Method, RequestCtx, RouteSpec, json_reply};
use carefill_solver::broker::BrokerEvent;
use carefill_solver::broker::EntryKind;
use carefill_solver::broker::ledger::RISK_POOL;
use carefill_solver::format::Rota;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;

/// This resource's routes (see [`super::table`]).
pub(super) const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        id: "getTeamRequest",
        method: Method::Get,
        path: "/v1/teams/{team_id}/request",
        access: Access::Roles(ROSTER_ROLES),
        tag: "rosters",
        summary: "The team's week as a planning request, its published rota as existing_rota",
        description: "What a re-solve of the team starts from: submit it (with chosen existing_rota entries set pinned: true) to POST /v1/rota/jobs, then publish the job's rota with PUT /v1/teams/{team_id}/rota. Planner keys only for their team, provider keys for their provider's teams.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "PlanningRequest",
        },
        errors: &[404],
        handler: |c| Box::pin(team_request(c)),
    },
    RouteSpec {
        id: "publishTeamRota",
        method: Method::Put,
        path: "/v1/teams/{team_id}/rota",
        access: Access::Roles(ROSTER_ROLES),
        tag: "rosters",
        summary: "Publish a finished solve job's rota as the team's rota",
        description: "Body {job, pinned?: [visit ids]}. The job must be the caller's and finished (409 job_not_finished otherwise; a cancelled job's best-so-far rota can be published). The rota is checked against the team's roster now, with the pinned visits required exactly where the published rota has them: 409 rota_not_current when it no longer fits (re-solve), 409 pin_not_on_rota for a pin of an unplaced visit. The answer counts what moved.",
        query: &[],
        request: Some("PublishRota"),
        response: Answer {
            status: 200,
            schema: "PublishedRota",
        },
        errors: &[404, 409, 422],
        handler: |c| Box::pin(publish(c)),
    },
    RouteSpec {
        id: "ledgerSeries",
        method: Method::Get,
        path: "/v1/ledger/series",
        access: Access::Roles(BROKER_ROLES),
        tag: "broker",
        summary: "Risk pool balance and liquidated damages per day",
        description: "One row per UTC day with ledger entries: the risk pool's balance at the end of the day, what flowed in and out of it, and the damages charged that day and to date.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "LedgerSeries",
        },
        errors: &[404],
        handler: |c| Box::pin(ledger_series(c)),
    },
];

/// This resource's schemas.
pub(super) fn schemas(out: &mut Schemas) {
    add::<PublishBody>(out);
    add::<PublishedRota>(out);
    add::<LedgerSeries>(out);
}

/// `GET /v1/teams/{team_id}/request`.
async fn team_request(ctx: RequestCtx) -> Result<Response, ApiError> {
    let team = ctx.param("team_id")?.to_string();
    let who = ctx.principal()?.clone();
    let req = read(&ctx, move |b, _| {
        require_team(b, &who, &team)?;
        b.team_request_with_rota(&team, &BTreeSet::new())
            .ok_or_else(|| ApiError::NotFound(format!("unknown team `{team}`")))
    })
    .await?;
    json_reply(StatusCode::OK, &req)
}

/// Which job's rota to publish.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PublishRota)]
struct PublishBody {
    /// A finished (or cancelled) solve job of the caller's.
    job: String,
    /// Visits that must stay exactly where the published rota has them.
    #[serde(default)]
    pinned: Vec<String>,
}

/// What publishing changed.
#[derive(Debug, Serialize, ToSchema)]
struct PublishedRota {
    team: String,
    job: String,
    /// Visits whose carers or start changed.
    moved: usize,
    /// Visits placed now and not before.
    newly_placed: usize,
    /// Visits unplaced now and placed before.
    newly_unplaced: usize,
    /// Pinned visits (kept).
    pinned: usize,
    placed: usize,
    unplaced: usize,
    /// Link to the team's rota.
    rota: String,
}

/// visit -> sorted "carer@start" placements.
fn placements(r: &Rota) -> BTreeMap<&str, Vec<String>> {
    let mut m: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for route in &r.routes {
        for s in &route.stops {
            m.entry(s.visit.as_str())
                .or_default()
                .push(format!("{}@{}", route.carer, s.start));
        }
    }
    for v in m.values_mut() {
        v.sort();
    }
    m
}

/// `PUT /v1/teams/{team_id}/rota`.
async fn publish(ctx: RequestCtx) -> Result<Response, ApiError> {
    let team = ctx.param("team_id")?.to_string();
    let body: PublishBody = ctx.json()?;
    if body.pinned.len() > 10_000 {
        return Err(ApiError::BadJson {
            path: "$.pinned".into(),
            detail: "at most 10000 pinned visits".into(),
        });
    }
    let who = ctx.principal()?.clone();
    let job = ctx.state.jobs.get(&body.job, &who).map_err(|e| match e {
        ApiError::NotFound(_) => ApiError::NotFound(format!(
            "$.job: no job `{}` of key {}",
            body.job, who.key_id
        )),
        other => other,
    })?;
    let rota = job.result()?.as_ref().clone();
    let (t2, who2) = (team.clone(), who.clone());
    let before = read(&ctx, move |b, _| {
        require_team(b, &who2, &t2)?;
        Ok(b.rotas.get(&t2).cloned().unwrap_or_default())
    })
    .await?;
    let pinned = body.pinned.clone();
    let t3 = team.clone();
    let events = command(&ctx, "publish_rota", move |b, now| {
        b.publish_rota(&t3, rota, pinned, now)
    })
    .await?;
    let after = events
        .iter()
        .find_map(|e| match e {
            BrokerEvent::RotaPublished { rota, .. } => Some(rota),
            _ => None,
        })
        .ok_or_else(|| ApiError::Internal("publish_rota emitted no RotaPublished".into()))?;
    let (a, b) = (placements(&before), placements(after));
    let moved = a
        .iter()
        .filter(|(v, p)| b.get(*v).is_some_and(|q| q != *p))
        .count();
    json_reply(
        StatusCode::OK,
        &PublishedRota {
            job: body.job,
            moved,
            newly_placed: b.keys().filter(|v| !a.contains_key(*v)).count(),
            newly_unplaced: a.keys().filter(|v| !b.contains_key(*v)).count(),
            pinned: body.pinned.len(),
            placed: b.len(),
            unplaced: after.unplaced.len(),
            rota: format!("/v1/teams/{team}/rota"),
            team,
        },
    )
}

/// The risk pool and damages day by day.
#[derive(Debug, Serialize, ToSchema)]
struct LedgerSeries {
    days: Vec<LedgerDay>,
}

/// One day of the ledger.
#[derive(Debug, Default, Serialize, ToSchema)]
struct LedgerDay {
    /// `YYYY-MM-DD` (UTC).
    date: String,
    /// Risk pool balance at the end of the day, pence.
    risk_pool_pence: i64,
    /// Paid into the pool that day, pence.
    pool_in_pence: i64,
    /// Paid out of the pool that day, pence.
    pool_out_pence: i64,
    /// Liquidated damages charged that day, pence.
    damages_pence: i64,
    /// Liquidated damages charged to date, pence.
    damages_to_date_pence: i64,
}

/// `GET /v1/ledger/series`.
async fn ledger_series(ctx: RequestCtx) -> Result<Response, ApiError> {
    let v = read(&ctx, move |b, _| {
        let mut days: Vec<LedgerDay> = Vec::new();
        let (mut pool, mut damages) = (0i64, 0i64);
        for e in &b.ledger.entries {
            let date = e.at.format("%Y-%m-%d").to_string();
            if days.last().is_none_or(|d| d.date != date) {
                days.push(LedgerDay {
                    date,
                    risk_pool_pence: pool,
                    damages_to_date_pence: damages,
                    ..LedgerDay::default()
                });
            }
            let Some(d) = days.last_mut() else { continue };
            if e.to == RISK_POOL {
                pool += e.amount_pence;
                d.pool_in_pence += e.amount_pence;
            }
            if e.from == RISK_POOL {
                pool -= e.amount_pence;
                d.pool_out_pence += e.amount_pence;
            }
            if e.kind == EntryKind::LiquidatedDamages {
                damages += e.amount_pence;
                d.damages_pence += e.amount_pence;
            }
            d.risk_pool_pence = pool;
            d.damages_to_date_pence = damages;
        }
        Ok(LedgerSeries { days })
    })
    .await?;
    json_reply(StatusCode::OK, &v)
}
