//! Neighbourhood teams: create, read (carers without homes, shift locations or
//! absence reasons), replace, and the team's published rota.
//!
//! Admin and broker keys, and provider keys for their own provider's teams;
//! planner keys read their own team.

use super::access::{ROSTER_EDIT_ROLES, ROSTER_ROLES};
use super::broker::{command, read, require_team, same_id, saved_reply};
use crate::http::openapi::{Schemas, add};
use crate::http::{Access, Answer, ApiError, Method, RequestCtx, RouteSpec, json_reply};
use carefill_solver::broker::Broker;
use carefill_solver::format::{ContractType, Rota, Team, TravelMode};
use serde::Serialize;
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;

/// This resource's routes (see [`super::table`]).
pub(super) const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        id: "createTeam",
        method: Method::Post,
        path: "/v1/teams",
        access: Access::Roles(ROSTER_EDIT_ROLES),
        tag: "rosters",
        summary: "Add a neighbourhood team to a provider",
        description: "Body: a carefill/1 team (provider, name, base, area, max_members, max_caseload). The provider must exist (422 on $.provider); provider keys only for their own provider (403). 409 `already_exists` if the id is taken.",
        query: &[],
        request: Some("Team"),
        response: Answer {
            status: 201,
            schema: "TeamDetail",
        },
        errors: &[404, 409, 422],
        handler: |c| Box::pin(create_team(c)),
    },
    RouteSpec {
        id: "getTeam",
        method: Method::Get,
        path: "/v1/teams/{team_id}",
        access: Access::Roles(ROSTER_ROLES),
        tag: "rosters",
        summary: "A team with its carers (skills, contract, shifts; no homes or absence reasons)",
        description: "Planner keys only for their team; provider keys only for their provider's teams.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "TeamDetail",
        },
        errors: &[404],
        handler: |c| Box::pin(get_team(c)),
    },
    RouteSpec {
        id: "updateTeam",
        method: Method::Put,
        path: "/v1/teams/{team_id}",
        access: Access::Roles(ROSTER_EDIT_ROLES),
        tag: "rosters",
        summary: "Replace a team's record (name, base, area, limits)",
        description: "The id and the provider cannot change (422 on $.id, 409 `team_provider_immutable`). The team's roster is validated with the change (e.g. max_members below its carer count is a 422). Provider keys only for their own teams.",
        query: &[],
        request: Some("Team"),
        response: Answer {
            status: 200,
            schema: "TeamDetail",
        },
        errors: &[404, 409, 422],
        handler: |c| Box::pin(update_team(c)),
    },
    RouteSpec {
        id: "getTeamRota",
        method: Method::Get,
        path: "/v1/teams/{team_id}/rota",
        access: Access::Roles(ROSTER_ROLES),
        tag: "broker",
        summary: "A team's published rota",
        description: "Planner keys only for their team; provider keys only for their provider's teams.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "TeamRota",
        },
        errors: &[404],
        handler: |c| Box::pin(team_rota(c)),
    },
];

/// This resource's schemas.
pub(super) fn schemas(out: &mut Schemas) {
    add::<Team>(out);
    add::<TeamDetail>(out);
    add::<TeamRota>(out);
}

/// A team and its carers, without carers' homes, locations or absence reasons.
#[derive(Serialize, ToSchema)]
struct TeamDetail {
    team: Team,
    carers: Vec<TeamCarer>,
    /// People the team cares for.
    people: usize,
    /// The most distinct carers one person should see (the county's default cap).
    continuity_cap: u32,
    /// Link to the team's rota.
    rota: String,
}

/// A carer as the team view shows it.
#[derive(Serialize, ToSchema)]
struct TeamCarer {
    id: String,
    skills: Vec<String>,
    contract: ContractType,
    contracted_min_per_week: u32,
    max_min_per_day: u32,
    max_min_per_week: u32,
    travel_mode: TravelMode,
    shifts: Vec<ShiftHours>,
    /// Number of absences.
    absences: usize,
}

/// A shift without its locations.
#[derive(Serialize, ToSchema)]
struct ShiftHours {
    days: Vec<String>,
    start: String,
    end: String,
}

/// A team's published rota.
#[derive(Serialize, ToSchema)]
struct TeamRota {
    team: String,
    /// The IANA zone the rota's local times are in (e.g. `Europe/London`), so a
    /// client can draw the week on the team's clock; null when the roster has a
    /// fixed `utc_offset` (each time then carries it).
    time_zone: Option<String>,
    rota: Rota,
}

fn team_json(b: &Broker, id: &str) -> Result<TeamDetail, ApiError> {
    let t = b
        .roster
        .teams
        .iter()
        .find(|t| t.id == id)
        .ok_or_else(|| ApiError::NotFound(format!("unknown team `{id}`")))?;
    let carers = b
        .roster
        .carers
        .iter()
        .filter(|c| c.team.as_deref() == Some(id))
        .map(|c| TeamCarer {
            id: c.id.clone(),
            skills: c.skills.clone(),
            contract: c.contract,
            contracted_min_per_week: c.contracted_min_per_week,
            max_min_per_day: c.max_min_per_day,
            max_min_per_week: c.max_min_per_week,
            travel_mode: c.travel_mode,
            shifts: c
                .shifts
                .iter()
                .map(|s| ShiftHours {
                    days: s.days.iter().map(ToString::to_string).collect(),
                    start: s.start.clone(),
                    end: s.end.clone(),
                })
                .collect(),
            absences: c.absences.len(),
        })
        .collect();
    let people = b
        .roster
        .service_users
        .iter()
        .filter(|u| u.team.as_deref() == Some(id))
        .count();
    Ok(TeamDetail {
        team: t.clone(),
        carers,
        people,
        continuity_cap: b.roster.settings.default_continuity_cap,
        rota: format!("/v1/teams/{id}/rota"),
    })
}

/// `GET /v1/teams/{team_id}`.
async fn get_team(ctx: RequestCtx) -> Result<Response, ApiError> {
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
async fn create_team(ctx: RequestCtx) -> Result<Response, ApiError> {
    save_team(ctx, true).await
}

/// `PUT /v1/teams/{team_id}`.
async fn update_team(ctx: RequestCtx) -> Result<Response, ApiError> {
    save_team(ctx, false).await
}

/// `GET /v1/teams/{team_id}/rota`.
async fn team_rota(ctx: RequestCtx) -> Result<Response, ApiError> {
    let team = ctx.param("team_id")?.to_string();
    let principal = ctx.principal()?.clone();
    let v = read(&ctx, move |b, _| {
        require_team(b, &principal, &team)?;
        let rota = b.rotas.get(&team).cloned().unwrap_or_default();
        let time_zone = b.roster.horizon.time_zone.clone();
        Ok(TeamRota {
            team,
            time_zone,
            rota,
        })
    })
    .await?;
    json_reply(StatusCode::OK, &v)
}
