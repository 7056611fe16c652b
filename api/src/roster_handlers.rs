//! Handlers of the roster routes: providers, teams, carers and availability.
//!
//! Who may change what (the route table has the roles; scopes are checked here):
//! - providers (tier, areas, skills, contract, fee, auto-accept) are the
//!   council's commercial terms: admin and broker keys only;
//! - teams and carers: admin and broker keys, and provider keys for their own
//!   provider's teams (a provider's office runs its own staff); a carer moving
//!   team needs the key to cover both teams;
//! - a carer's availability (and absences, in `broker_handlers`): also planner
//!   keys for their own team.
//!
//! Personal data: the team view lists carers without home, shift locations or
//! absence reasons; the full carer record (which a `PUT` sends back) is given
//! only to keys that may change that carer.

use crate::auth::Principal;
use crate::broker_handlers::{command, read};
use crate::error::ApiError;
use crate::routes::{RequestCtx, json_reply};
use carefill_solver::broker::{Broker, BrokerEvent, TeamReplan};
use carefill_solver::format::{Carer, Issue, IssueCode, Provider, Shift, Team};
use serde::Deserialize;
use warp::http::StatusCode;
use warp::reply::Response;

/// 422 when the body's id is not the path's (ids never change).
fn same_id(path_id: &str, body_id: &str) -> Result<(), ApiError> {
    if path_id == body_id {
        return Ok(());
    }
    Err(ApiError::Invalid(vec![Issue::new(
        "$.id",
        IssueCode::Contradiction,
        format!("the body's id `{body_id}` is not the path's `{path_id}`; ids cannot change"),
    )]))
}

/// 403 unless the key may act for `team` (404 if there is no such team).
fn require_team(b: &Broker, who: &Principal, team: &str) -> Result<(), ApiError> {
    let t = b
        .roster
        .teams
        .iter()
        .find(|t| t.id == team)
        .ok_or_else(|| ApiError::NotFound(format!("unknown team `{team}`")))?;
    who.require_team(&t.id, t.provider.as_deref())
}

/// The carer's current team, after checking the key may act for it.
fn require_carer(b: &Broker, who: &Principal, carer: &str) -> Result<String, ApiError> {
    let c = b
        .roster
        .carers
        .iter()
        .find(|c| c.id == carer)
        .ok_or_else(|| ApiError::NotFound(format!("unknown carer `{carer}`")))?;
    let team = c.team.clone().unwrap_or_default();
    require_team(b, who, &team)?;
    Ok(team)
}

fn provider_json(b: &Broker, id: &str) -> Result<serde_json::Value, ApiError> {
    let p = b
        .roster
        .providers
        .iter()
        .find(|p| p.id == id)
        .ok_or_else(|| ApiError::NotFound(format!("unknown provider `{id}`")))?;
    let teams: Vec<&str> = b
        .roster
        .teams
        .iter()
        .filter(|t| t.provider.as_deref() == Some(id))
        .map(|t| t.id.as_str())
        .collect();
    Ok(serde_json::json!({ "provider": p, "teams": teams }))
}

/// A team and its carers, without carers' homes, locations or absence reasons.
fn team_json(b: &Broker, id: &str) -> Result<serde_json::Value, ApiError> {
    let t = b
        .roster
        .teams
        .iter()
        .find(|t| t.id == id)
        .ok_or_else(|| ApiError::NotFound(format!("unknown team `{id}`")))?;
    let carers: Vec<serde_json::Value> = b
        .roster
        .carers
        .iter()
        .filter(|c| c.team.as_deref() == Some(id))
        .map(|c| {
            let shifts: Vec<serde_json::Value> = c
                .shifts
                .iter()
                .map(|s| serde_json::json!({"days": s.days, "start": s.start, "end": s.end}))
                .collect();
            serde_json::json!({
                "id": c.id, "skills": c.skills, "contract": c.contract,
                "contracted_min_per_week": c.contracted_min_per_week,
                "max_min_per_day": c.max_min_per_day, "max_min_per_week": c.max_min_per_week,
                "travel_mode": c.travel_mode, "shifts": shifts, "absences": c.absences.len(),
            })
        })
        .collect();
    let people = b
        .roster
        .service_users
        .iter()
        .filter(|u| u.team.as_deref() == Some(id))
        .count();
    Ok(serde_json::json!({
        "team": t, "carers": carers, "people": people,
        "continuity_cap": b.roster.settings.default_continuity_cap,
        "rota": format!("/v1/teams/{id}/rota"),
    }))
}

fn replan_json(r: &TeamReplan) -> serde_json::Value {
    serde_json::json!({
        "team": r.team, "moved": r.moved, "newly_unplaced": r.newly_unplaced,
        "newly_placed": r.newly_placed, "unplaced_visits_in_team_rota": r.rota.unplaced.len(),
        "rota": format!("/v1/teams/{}/rota", r.team),
    })
}

/// The answer to a carer change: what each re-planned team's rota did.
fn carer_change_json(carer: &str, events: &[BrokerEvent]) -> serde_json::Value {
    let (created, team, replans) = events
        .iter()
        .find_map(|e| match e {
            BrokerEvent::CarerSaved {
                carer,
                created,
                replans,
                ..
            } => Some((
                *created,
                carer.team.clone(),
                replans.iter().map(replan_json).collect::<Vec<_>>(),
            )),
            _ => None,
        })
        .unwrap_or((false, None, Vec::new()));
    serde_json::json!({ "carer": carer, "team": team, "created": created, "replans": replans })
}

/// `GET /v1/providers`: every provider (a provider key: only its own).
pub async fn list_providers(ctx: RequestCtx) -> Result<Response, ApiError> {
    let scope = ctx.principal()?.provider_scope().map(str::to_string);
    let v = read(&ctx, move |b, _| {
        let list: Vec<serde_json::Value> = b
            .roster
            .providers
            .iter()
            .filter(|p| scope.as_deref().is_none_or(|s| s == p.id))
            .map(|p| {
                serde_json::json!({
                    "id": p.id, "name": p.name, "tier": p.tier,
                    "framework_status": p.framework_status, "skills": p.skills,
                    "teams": b.roster.teams.iter().filter(|t| t.provider.as_deref() == Some(p.id.as_str())).count(),
                })
            })
            .collect();
        Ok(serde_json::json!({ "providers": list }))
    })
    .await?;
    json_reply(StatusCode::OK, &v)
}

/// `GET /v1/providers/{provider_id}`.
pub async fn get_provider(ctx: RequestCtx) -> Result<Response, ApiError> {
    let id = ctx.param("provider_id")?.to_string();
    ctx.principal()?.require_provider(&id)?;
    let v = read(&ctx, move |b, _| provider_json(b, &id)).await?;
    json_reply(StatusCode::OK, &v)
}

async fn save_provider(ctx: RequestCtx, create: bool) -> Result<Response, ApiError> {
    let provider: Provider = ctx.json()?;
    if !create {
        same_id(ctx.param("provider_id")?, &provider.id)?;
    }
    let id = provider.id.clone();
    let name = if create {
        "create_provider"
    } else {
        "update_provider"
    };
    command(&ctx, name, move |b, now| {
        b.save_provider(provider, create, now)
    })
    .await?;
    let v = read(&ctx, move |b, _| provider_json(b, &id)).await?;
    saved_reply(create, &v)
}

/// `POST /v1/providers`.
pub async fn create_provider(ctx: RequestCtx) -> Result<Response, ApiError> {
    save_provider(ctx, true).await
}

/// `PUT /v1/providers/{provider_id}`.
pub async fn update_provider(ctx: RequestCtx) -> Result<Response, ApiError> {
    save_provider(ctx, false).await
}

/// `GET /v1/teams/{team_id}`.
pub async fn get_team(ctx: RequestCtx) -> Result<Response, ApiError> {
    let id = ctx.param("team_id")?.to_string();
    let who = ctx.principal()?.clone();
    let v = read(&ctx, move |b, _| {
        require_team(b, &who, &id)?;
        team_json(b, &id)
    })
    .await?;
    json_reply(StatusCode::OK, &v)
}

async fn save_team(ctx: RequestCtx, create: bool) -> Result<Response, ApiError> {
    let team: Team = ctx.json()?;
    let who = ctx.principal()?.clone();
    if create {
        // A provider key creates teams for its own provider only (a missing
        // provider is the command's 422 on `$.provider`).
        if let Some(p) = team.provider.as_deref() {
            who.require_provider(p)?;
        }
    } else {
        same_id(ctx.param("team_id")?, &team.id)?;
        let id = team.id.clone();
        read(&ctx, move |b, _| require_team(b, &who, &id)).await?;
    }
    let id = team.id.clone();
    let name = if create { "create_team" } else { "update_team" };
    command(&ctx, name, move |b, now| b.save_team(team, create, now)).await?;
    let v = read(&ctx, move |b, _| team_json(b, &id)).await?;
    saved_reply(create, &v)
}

/// `POST /v1/teams`.
pub async fn create_team(ctx: RequestCtx) -> Result<Response, ApiError> {
    save_team(ctx, true).await
}

/// `PUT /v1/teams/{team_id}`.
pub async fn update_team(ctx: RequestCtx) -> Result<Response, ApiError> {
    save_team(ctx, false).await
}

/// `GET /v1/carers/{carer_id}`: the whole record, for keys that may change it.
pub async fn get_carer(ctx: RequestCtx) -> Result<Response, ApiError> {
    let id = ctx.param("carer_id")?.to_string();
    let who = ctx.principal()?.clone();
    let v = read(&ctx, move |b, _| {
        require_carer(b, &who, &id)?;
        let c = b.roster.carers.iter().find(|c| c.id == id);
        Ok(serde_json::json!({ "carer": c }))
    })
    .await?;
    json_reply(StatusCode::OK, &v)
}

async fn save_carer(ctx: RequestCtx, create: bool) -> Result<Response, ApiError> {
    let carer: Carer = ctx.json()?;
    let who = ctx.principal()?.clone();
    if !create {
        same_id(ctx.param("carer_id")?, &carer.id)?;
    }
    let (id, to) = (carer.id.clone(), carer.team.clone());
    read(&ctx, move |b, _| {
        // The key must cover the team the carer is in and the one it joins; a
        // team that does not exist is the command's 422 on `$.team`.
        if !create && b.roster.carers.iter().any(|c| c.id == id) {
            require_carer(b, &who, &id)?;
        }
        if let Some(t) = to.filter(|t| b.roster.teams.iter().any(|x| &x.id == t)) {
            require_team(b, &who, &t)?;
        } else if who.provider_scope().is_some() {
            return Err(ApiError::Invalid(vec![Issue::new(
                "$.team",
                IssueCode::UnknownReference,
                "give the id of one of your provider's teams",
            )]));
        }
        Ok(())
    })
    .await?;
    let id = carer.id.clone();
    let name = if create {
        "create_carer"
    } else {
        "update_carer"
    };
    let events = command(&ctx, name, move |b, now| b.save_carer(carer, create, now)).await?;
    json_reply(
        if create {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        &carer_change_json(&id, &events),
    )
}

/// `POST /v1/carers`.
pub async fn create_carer(ctx: RequestCtx) -> Result<Response, ApiError> {
    save_carer(ctx, true).await
}

/// `PUT /v1/carers/{carer_id}`.
pub async fn update_carer(ctx: RequestCtx) -> Result<Response, ApiError> {
    save_carer(ctx, false).await
}

/// A carer's availability.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AvailabilityBody {
    shifts: Vec<Shift>,
}

/// `PUT /v1/carers/{carer_id}/availability`: replaces the carer's shifts and
/// re-plans the team's rota with minimum change.
pub async fn set_availability(ctx: RequestCtx) -> Result<Response, ApiError> {
    let id = ctx.param("carer_id")?.to_string();
    let body: AvailabilityBody = ctx.json()?;
    if body.shifts.len() > 100 {
        return Err(ApiError::BadJson {
            path: "$.shifts".into(),
            detail: "at most 100 shifts".into(),
        });
    }
    let who = ctx.principal()?.clone();
    let id2 = id.clone();
    read(&ctx, move |b, _| require_carer(b, &who, &id2)).await?;
    let id3 = id.clone();
    let events = command(&ctx, "set_availability", move |b, now| {
        b.set_availability(&id3, body.shifts, now)
    })
    .await?;
    json_reply(StatusCode::OK, &carer_change_json(&id, &events))
}

/// 201 for a new record, 200 for a replaced one.
fn saved_reply(created: bool, v: &serde_json::Value) -> Result<Response, ApiError> {
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    json_reply(status, v)
}
