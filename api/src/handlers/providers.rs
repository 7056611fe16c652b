//! Providers: list, read, create and replace the framework record, and
//! suspend, reinstate or fail a provider (which re-brokers its packages).
//!
//! A provider's tier, areas, skills, contract, fee and auto-accept are the
//! council's commercial terms: admin and broker keys change them; provider keys
//! read only their own.

use super::access::{ADMIN_BROKER, PROVIDER_READ_ROLES};
use super::broker::{command, command_prepared, read, same_id, saved_reply};
use crate::http::openapi::{Schemas, add};
use crate::http::{Access, Answer, ApiError, Method, RequestCtx, RouteSpec, json_reply};
use carefill_solver::broker::{Alert, Broker, BrokerEvent, CarerTransfer, EmergencyVisit};
use carefill_solver::format::{FrameworkStatus, Provider, Tier};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;

/// This resource's routes (see [`super::table`]).
pub(super) const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        id: "listProviders",
        method: Method::Get,
        path: "/v1/providers",
        access: Access::Roles(PROVIDER_READ_ROLES),
        tag: "rosters",
        summary: "Providers with tier, framework status, skills and team count",
        description: "Provider keys see only their own provider.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "ProviderList",
        },
        errors: &[404],
        handler: |c| Box::pin(list_providers(c)),
    },
    RouteSpec {
        id: "createProvider",
        method: Method::Post,
        path: "/v1/providers",
        access: Access::Roles(ADMIN_BROKER),
        tag: "rosters",
        summary: "Add a provider to the framework",
        description: "Body: a carefill/1 provider (tier, framework_status, service_areas, contract, hourly_rate_pence, skills, auto_accept). 409 `already_exists` if the id is taken; 422 with the JSON path of every bad field.",
        query: &[],
        request: Some("Provider"),
        response: Answer {
            status: 201,
            schema: "ProviderDetail",
        },
        errors: &[404, 409, 422],
        handler: |c| Box::pin(create_provider(c)),
    },
    RouteSpec {
        id: "getProvider",
        method: Method::Get,
        path: "/v1/providers/{provider_id}",
        access: Access::Roles(PROVIDER_READ_ROLES),
        tag: "rosters",
        summary: "A provider's record and its team ids",
        description: "Provider keys only for their own provider.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "ProviderDetail",
        },
        errors: &[404],
        handler: |c| Box::pin(get_provider(c)),
    },
    RouteSpec {
        id: "updateProvider",
        method: Method::Put,
        path: "/v1/providers/{provider_id}",
        access: Access::Roles(ADMIN_BROKER),
        tag: "rosters",
        summary: "Replace a provider's record (tier, areas, skills, contract, fee, auto-accept)",
        description: "The id cannot change (422 on $.id). The framework status must stay as it is (409 `framework_status_unchanged_here`): suspend, reinstate or fail a provider with POST /v1/providers/{provider_id}/status, which re-brokers its packages. Takes effect for the next referrals; team rotas are not touched.",
        query: &[],
        request: Some("Provider"),
        response: Answer {
            status: 200,
            schema: "ProviderDetail",
        },
        errors: &[404, 409, 422],
        handler: |c| Box::pin(update_provider(c)),
    },
    RouteSpec {
        id: "setProviderStatus",
        method: Method::Post,
        path: "/v1/providers/{provider_id}/status",
        access: Access::Roles(ADMIN_BROKER),
        tag: "broker",
        summary: "Suspend, reinstate or mark a provider failed",
        description: "Body {status: active|suspended|failed|off_framework, transfers: [{carer, to_team}]}. Failed: every package it holds is released and re-brokered together, carers who move keep their people as known carers; the visits of packages not taken at once that fall within emergency_cover_window_h go to emergency cover until a provider accepts (`interim_cover`), and any no one can make raise an alert naming person and visit (`alerts`).",
        query: &[],
        request: Some("ProviderStatus"),
        response: Answer {
            status: 200,
            schema: "ProviderStatusResult",
        },
        errors: &[404, 409, 422],
        handler: |c| Box::pin(set_provider_status(c)),
    },
];

/// This resource's schemas.
pub(super) fn schemas(out: &mut Schemas) {
    add::<Provider>(out);
    add::<ProviderDetail>(out);
    add::<ProviderList>(out);
    add::<StatusBody>(out);
    add::<ProviderStatusResult>(out);
}

/// A provider's record and its team ids.
#[derive(Serialize, ToSchema)]
struct ProviderDetail {
    provider: Provider,
    teams: Vec<String>,
}

/// Providers with tier, framework status, skills and team count.
#[derive(Serialize, ToSchema)]
struct ProviderList {
    providers: Vec<ProviderSummary>,
}

/// One provider of the list.
#[derive(Serialize, ToSchema)]
struct ProviderSummary {
    id: String,
    name: String,
    tier: Tier,
    framework_status: FrameworkStatus,
    skills: Vec<String>,
    /// Number of teams.
    teams: usize,
}

/// What a status change did.
#[derive(Serialize, ToSchema)]
struct ProviderStatusResult {
    provider: String,
    packages_released: usize,
    offers_made: usize,
    placed_at_once: usize,
    escalated: usize,
    /// Visits of the released packages assigned to emergency cover until a
    /// provider accepts them (interim cover within the cover window).
    #[schema(value_type = Vec<Object>)]
    interim_cover: Vec<EmergencyVisit>,
    /// Alerts raised (visits no one can cover yet, naming person and visit).
    #[schema(value_type = Vec<Object>)]
    alerts: Vec<Alert>,
    /// Broker events in all.
    events: usize,
}

fn provider_json(b: &Broker, id: &str) -> Result<ProviderDetail, ApiError> {
    let p = b
        .roster
        .providers
        .iter()
        .find(|p| p.id == id)
        .ok_or_else(|| ApiError::NotFound(format!("unknown provider `{id}`")))?;
    let teams = b
        .roster
        .teams
        .iter()
        .filter(|t| t.provider.as_deref() == Some(id))
        .map(|t| t.id.clone())
        .collect();
    Ok(ProviderDetail {
        provider: p.clone(),
        teams,
    })
}

/// `GET /v1/providers`: every provider (a provider key: only its own).
async fn list_providers(ctx: RequestCtx) -> Result<Response, ApiError> {
    let scope = ctx.principal()?.provider_scope().map(str::to_string);
    let v = read(&ctx, move |b, _| {
        let providers = b
            .roster
            .providers
            .iter()
            .filter(|p| scope.as_deref().is_none_or(|s| s == p.id))
            .map(|p| ProviderSummary {
                id: p.id.clone(),
                name: p.name.clone(),
                tier: p.tier,
                framework_status: p.framework_status,
                skills: p.skills.clone(),
                teams: b
                    .roster
                    .teams
                    .iter()
                    .filter(|t| t.provider.as_deref() == Some(p.id.as_str()))
                    .count(),
            })
            .collect();
        Ok(ProviderList { providers })
    })
    .await?;
    json_reply(StatusCode::OK, &v)
}

/// `GET /v1/providers/{provider_id}`.
async fn get_provider(ctx: RequestCtx) -> Result<Response, ApiError> {
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
async fn create_provider(ctx: RequestCtx) -> Result<Response, ApiError> {
    save_provider(ctx, true).await
}

/// `PUT /v1/providers/{provider_id}`.
async fn update_provider(ctx: RequestCtx) -> Result<Response, ApiError> {
    save_provider(ctx, false).await
}

/// Suspend, reinstate or fail a provider.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ProviderStatus)]
struct StatusBody {
    status: FrameworkStatus,
    /// Carers who move to another team: `{carer, to_team}`.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    transfers: Vec<CarerTransfer>,
}

/// `POST /v1/providers/{provider_id}/status`: suspend, reinstate or mark failed.
async fn set_provider_status(ctx: RequestCtx) -> Result<Response, ApiError> {
    let provider = ctx.param("provider_id")?.to_string();
    let body: StatusBody = ctx.json()?;
    let p2 = provider.clone();
    // A failure's re-brokering is searched on the readers' snapshot first
    // (its own threads), so the writer holds only the allocation.
    let (p3, status, transfers) = (provider.clone(), body.status, body.transfers.clone());
    let events = command_prepared(
        &ctx,
        "set_provider_status",
        true,
        move |b, now| b.prepare_provider_status(&p3, status, &transfers, now),
        move |b, now, prepared| {
            b.set_provider_status_prepared(&p2, body.status, body.transfers, now, prepared)
        },
    )
    .await?;
    let released = events
        .iter()
        .filter(|e| matches!(e, BrokerEvent::PackageReleased { .. }))
        .count();
    let offers = events
        .iter()
        .filter(|e| matches!(e, BrokerEvent::OfferMade { .. }))
        .count();
    let accepted = events
        .iter()
        .filter(|e| matches!(e, BrokerEvent::OfferAccepted { .. }))
        .count();
    let escalated = events
        .iter()
        .filter(|e| matches!(e, BrokerEvent::Escalated { .. }))
        .count();
    json_reply(
        StatusCode::OK,
        &ProviderStatusResult {
            provider,
            packages_released: released,
            offers_made: offers,
            placed_at_once: accepted,
            escalated,
            interim_cover: events
                .iter()
                .filter_map(|e| match e {
                    BrokerEvent::EmergencyVisitAssigned { visit, .. } => Some(visit.clone()),
                    _ => None,
                })
                .collect(),
            alerts: events
                .iter()
                .filter_map(|e| match e {
                    BrokerEvent::AlertRaised { alert } => Some(alert.clone()),
                    _ => None,
                })
                .collect(),
            events: events.len(),
        },
    )
}
