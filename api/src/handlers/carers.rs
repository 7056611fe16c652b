//! Carers: create, read the whole record, replace, set availability, add an
//! absence; each change re-plans the affected team rotas with minimum change
//! and answers with what moved.
//!
//! Admin and broker keys, provider keys for their provider's teams (a carer
//! moving team needs the key to cover both), and planner keys for their own
//! team's availability and absences. The full record (which a `PUT` sends
//! back, with the carer's home) goes only to keys that may change that carer.

use super::access::{ROSTER_EDIT_ROLES, ROSTER_ROLES};
use super::broker::{command, read, require_carer, require_team, same_id};
use crate::http::openapi::{Schemas, add};
use crate::http::{Access, Answer, ApiError, Method, RequestCtx, RouteSpec, json_reply};
use carefill_solver::broker::{Alert, BrokerEvent, EmergencyVisit, TeamReplan, VisitMove};
use carefill_solver::format::{Absence, Carer, ChangeList, Issue, IssueCode, Shift};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;

/// This resource's routes (see [`super::table`]).
pub(super) const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        id: "createCarer",
        method: Method::Post,
        path: "/v1/carers",
        access: Access::Roles(ROSTER_EDIT_ROLES),
        tag: "rosters",
        summary: "Add a carer to a team",
        description: "Body: a carefill/1 carer (team, skills, gender, contract, contracted_min_per_week, max_min_per_day/week, travel_mode, home, shifts, absences). The team must exist (422 on $.team); provider keys only for their own teams. The team's rota is re-planned: visits it could not place before may now go to the new carer; nobody else's visits move.",
        query: &[],
        request: Some("Carer"),
        response: Answer {
            status: 201,
            schema: "CarerChange",
        },
        errors: &[404, 409, 422],
        handler: |c| Box::pin(create_carer(c)),
    },
    RouteSpec {
        id: "getCarer",
        method: Method::Get,
        path: "/v1/carers/{carer_id}",
        access: Access::Roles(ROSTER_ROLES),
        tag: "rosters",
        summary: "A carer's whole record (as PUT takes it)",
        description: "Planner keys only for their team's carers; provider keys only for their provider's.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "CarerDetail",
        },
        errors: &[404],
        handler: |c| Box::pin(get_carer(c)),
    },
    RouteSpec {
        id: "updateCarer",
        method: Method::Put,
        path: "/v1/carers/{carer_id}",
        access: Access::Roles(ROSTER_EDIT_ROLES),
        tag: "rosters",
        summary: "Replace a carer's record; re-plan the affected rotas with minimum change",
        description: "The id cannot change (422 on $.id). Changing shifts, skills, gender, limits, home or absences re-plans the team's rota: only the carer's routes that no longer work are taken apart and their visits re-inserted, every other visit keeps its carer. Moving the carer to another team re-plans both teams (the key must cover both). The answer lists moved, newly unplaced and newly placed visits per team.",
        query: &[],
        request: Some("Carer"),
        response: Answer {
            status: 200,
            schema: "CarerChange",
        },
        errors: &[404, 422],
        handler: |c| Box::pin(update_carer(c)),
    },
    RouteSpec {
        id: "setCarerAvailability",
        method: Method::Put,
        path: "/v1/carers/{carer_id}/availability",
        access: Access::Roles(ROSTER_ROLES),
        tag: "rosters",
        summary: "Replace a carer's shifts; re-plan the team's rota with minimum change",
        description: "Body {shifts: [{days, start, end, start_location?, end_location?}]} (at most 100). Planner keys only for their team's carers, provider keys for their provider's. Bad fields are a 422 naming e.g. $.shifts[0].start. The answer lists what moved.",
        query: &[],
        request: Some("Availability"),
        response: Answer {
            status: 200,
            schema: "CarerChange",
        },
        errors: &[404, 422],
        handler: |c| Box::pin(set_availability(c)),
    },
    RouteSpec {
        id: "addCarerAbsence",
        method: Method::Post,
        path: "/v1/carers/{carer_id}/absences",
        access: Access::Roles(ROSTER_ROLES),
        tag: "rosters",
        summary: "A carer is off (sick, leave): re-plan the team's rota around it",
        description: "Body {from, to, reason?} (RFC 3339). The carer's routes overlapping the absence are taken apart and their visits re-inserted with every other visit left with its carer (minimum change). The answer lists every visit moved, re-timed or dropped (`changes`); each dropped visit raises an alert naming the person, the visit and the reason (`alerts`), and one due within the policy's emergency_cover_window_h goes to emergency cover at once (`emergency_cover`). Planner keys only for their team, provider keys for their provider's teams.",
        query: &[],
        request: Some("Absence"),
        response: Answer {
            status: 200,
            schema: "AbsenceResult",
        },
        errors: &[404, 422],
        handler: |c| Box::pin(add_absence(c)),
    },
];

/// This resource's schemas.
pub(super) fn schemas(out: &mut Schemas) {
    add::<Carer>(out);
    add::<CarerDetail>(out);
    add::<CarerChange>(out);
    add::<AvailabilityBody>(out);
    add::<Absence>(out);
    add::<AbsenceResult>(out);
}

/// A carer's whole record.
#[derive(Serialize, ToSchema)]
struct CarerDetail {
    carer: Option<Carer>,
}

/// What a carer change did to each re-planned team's rota.
#[derive(Serialize, ToSchema)]
struct CarerChange {
    carer: String,
    team: Option<String>,
    created: bool,
    replans: Vec<Replan>,
    /// Alerts raised (one per dropped visit, naming the person and the visit).
    #[schema(value_type = Vec<Object>)]
    alerts: Vec<Alert>,
    /// Dropped visits assigned to emergency cover at once.
    #[schema(value_type = Vec<Object>)]
    emergency_cover: Vec<EmergencyVisit>,
}

/// One team's re-plan.
#[derive(Serialize, ToSchema)]
struct Replan {
    team: String,
    /// Visit by visit: moved (other carers), re-timed, dropped (now unplaced), placed.
    changes: ChangeList,
    /// Visits whose carers changed: `{visit, from, to}`.
    #[schema(value_type = Vec<Object>)]
    moved: Vec<VisitMove>,
    newly_unplaced: Vec<String>,
    newly_placed: Vec<String>,
    unplaced_visits_in_team_rota: usize,
    /// Link to the team's rota.
    rota: String,
}

/// What an absence did to the team's rota.
#[derive(Serialize, ToSchema)]
struct AbsenceResult {
    carer: String,
    team: String,
    unplaced_visits_in_team_rota: usize,
    /// Visit by visit: moved (other carers), re-timed, dropped (now unplaced), placed.
    changes: ChangeList,
    /// Alerts raised (one per dropped visit, naming the person and the visit).
    #[schema(value_type = Vec<Object>)]
    alerts: Vec<Alert>,
    /// Dropped visits assigned to emergency cover at once.
    #[schema(value_type = Vec<Object>)]
    emergency_cover: Vec<EmergencyVisit>,
    /// Link to the team's rota.
    rota: String,
}

/// Alerts and emergency visits a command raised.
fn raised(events: &[BrokerEvent]) -> (Vec<Alert>, Vec<EmergencyVisit>) {
    let mut alerts = Vec::new();
    let mut cover = Vec::new();
    for e in events {
        match e {
            BrokerEvent::AlertRaised { alert } => alerts.push(alert.clone()),
            BrokerEvent::EmergencyVisitAssigned { visit, .. } => cover.push(visit.clone()),
            _ => {}
        }
    }
    (alerts, cover)
}

fn replan(r: &TeamReplan) -> Replan {
    Replan {
        team: r.team.clone(),
        changes: r.changes.clone(),
        moved: r.moved.clone(),
        newly_unplaced: r.newly_unplaced.clone(),
        newly_placed: r.newly_placed.clone(),
        unplaced_visits_in_team_rota: r.rota.unplaced.len(),
        rota: format!("/v1/teams/{}/rota", r.team),
    }
}

/// The answer to a carer change: what each re-planned team's rota did.
fn carer_change(carer: &str, events: &[BrokerEvent]) -> CarerChange {
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
                replans.iter().map(replan).collect::<Vec<_>>(),
            )),
            _ => None,
        })
        .unwrap_or((false, None, Vec::new()));
    let (alerts, emergency_cover) = raised(events);
    CarerChange {
        carer: carer.to_string(),
        team,
        created,
        replans,
        alerts,
        emergency_cover,
    }
}

/// `GET /v1/carers/{carer_id}`: the whole record, for keys that may change it.
async fn get_carer(ctx: RequestCtx) -> Result<Response, ApiError> {
    let id = ctx.param("carer_id")?.to_string();
    let who = ctx.principal()?.clone();
    let v = read(&ctx, move |b, _| {
        require_carer(b, &who, &id)?;
        let carer = b.roster.carers.iter().find(|c| c.id == id).cloned();
        Ok(CarerDetail { carer })
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
        &carer_change(&id, &events),
    )
}

/// `POST /v1/carers`.
async fn create_carer(ctx: RequestCtx) -> Result<Response, ApiError> {
    save_carer(ctx, true).await
}

/// `PUT /v1/carers/{carer_id}`.
async fn update_carer(ctx: RequestCtx) -> Result<Response, ApiError> {
    save_carer(ctx, false).await
}

/// A carer's availability.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Availability)]
struct AvailabilityBody {
    /// At most 100.
    shifts: Vec<Shift>,
}

/// `PUT /v1/carers/{carer_id}/availability`: replaces the carer's shifts and
/// re-plans the team's rota with minimum change.
async fn set_availability(ctx: RequestCtx) -> Result<Response, ApiError> {
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
    json_reply(StatusCode::OK, &carer_change(&id, &events))
}

/// `POST /v1/carers/{carer_id}/absences`: a carer off sick or on leave; the
/// team's rota is re-planned around it with minimum change.
async fn add_absence(ctx: RequestCtx) -> Result<Response, ApiError> {
    let carer = ctx.param("carer_id")?.to_string();
    let absence: carefill_solver::format::Absence = ctx.json()?;
    let principal = ctx.principal()?.clone();
    let c2 = carer.clone();
    let team = read(&ctx, move |b, _| {
        let c = b
            .roster
            .carers
            .iter()
            .find(|c| c.id == c2)
            .ok_or_else(|| ApiError::NotFound(format!("unknown carer `{c2}`")))?;
        let team = c.team.clone().unwrap_or_default();
        let provider = b
            .roster
            .teams
            .iter()
            .find(|t| t.id == team)
            .and_then(|t| t.provider.clone());
        principal.require_team(&team, provider.as_deref())?;
        Ok(team)
    })
    .await?;
    let c3 = carer.clone();
    let events = command(&ctx, "add_absence", move |b, now| {
        b.add_absence(&c3, absence, now)
    })
    .await?;
    let (unplaced, changes) = events
        .iter()
        .find_map(|e| match e {
            BrokerEvent::CarerAbsent { rota, changes, .. } => {
                Some((rota.unplaced.len(), changes.clone()))
            }
            _ => None,
        })
        .unwrap_or_default();
    let (alerts, emergency_cover) = raised(&events);
    json_reply(
        StatusCode::OK,
        &AbsenceResult {
            rota: format!("/v1/teams/{team}/rota"),
            carer,
            team,
            unplaced_visits_in_team_rota: unplaced,
            changes,
            alerts,
            emergency_cover,
        },
    )
}
