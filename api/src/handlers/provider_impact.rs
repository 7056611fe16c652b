//! What suspending, failing or reinstating a provider would do, before a
//! broker confirms it: how many people and packages are affected and how.
//!
//! The preview mirrors `Broker::set_provider_status`: any status but active
//! withdraws the provider's open offers (those packages go on down the
//! cascade); failed also releases every package the provider holds, including
//! the county's starting packages held by its teams, for re-brokering. After
//! the change, each listed package's `GET /v1/packages/{id}` says where the
//! person went.

use super::access::ADMIN_BROKER;
use super::broker::read;
use crate::http::openapi::{Schemas, add};
use crate::http::{
    Access, Answer, ApiError, Method, ParamKind, QueryParam, RequestCtx, RouteSpec, json_reply,
};
use carefill_solver::broker::{Broker, OfferStatus, PackageStatus};
use carefill_solver::format::FrameworkStatus;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;

/// This resource's routes (see [`super::table`]).
pub(super) const ROUTES: &[RouteSpec] = &[RouteSpec {
    id: "previewProviderStatus",
    method: Method::Get,
    path: "/v1/providers/{provider_id}/impact",
    access: Access::Roles(ADMIN_BROKER),
    tag: "broker",
    summary: "Preview a provider status change: the people and packages it affects",
    description: "Nothing changes. status=suspended|off_framework: packages with an open offer to the provider (withdrawn; they go on down the cascade). status=failed: those, and every package the provider holds (released and re-brokered together, former carers remembered). status=active: nothing is withdrawn. Lists each affected package with its person and what happens to it.",
    query: &[QueryParam {
        name: "status",
        kind: ParamKind::String,
        required: true,
        description: "active | suspended | failed | off_framework",
    }],
    request: None,
    response: Answer {
        status: 200,
        schema: "ProviderImpact",
    },
    errors: &[404],
    handler: |c| Box::pin(preview(c)),
}];

/// This resource's schemas.
pub(super) fn schemas(out: &mut Schemas) {
    add::<ProviderImpact>(out);
}

/// What a status change would do.
#[derive(Debug, Serialize, ToSchema)]
struct ProviderImpact {
    provider: String,
    /// The provider's status now.
    current_status: FrameworkStatus,
    /// The status previewed.
    status: FrameworkStatus,
    /// Distinct people affected.
    people: usize,
    /// Packages affected.
    packages: usize,
    /// Of those, packages the provider holds that would be released and re-brokered.
    packages_released: usize,
    /// Of those, packages whose open offer to the provider would be withdrawn.
    offers_withdrawn: usize,
    /// Carers in the provider's teams (they may be transferred to other teams).
    carers: usize,
    /// The provider's teams.
    teams: Vec<String>,
    /// Every affected package, by package id.
    affected: Vec<AffectedPackage>,
}

/// One affected package.
#[derive(Debug, Serialize, ToSchema)]
struct AffectedPackage {
    package: String,
    /// The person's id.
    service_user: String,
    /// `released` (held by the provider; re-brokered) or `offer_withdrawn`.
    #[schema(value_type = String)]
    effect: &'static str,
    /// The provider's team holding or offered it.
    team: Option<String>,
}

fn impact(b: &Broker, provider: &str, status: FrameworkStatus) -> Result<ProviderImpact, ApiError> {
    let p = b
        .roster
        .providers
        .iter()
        .find(|p| p.id == provider)
        .ok_or_else(|| ApiError::NotFound(format!("unknown provider `{provider}`")))?;
    let teams: BTreeSet<String> = b
        .roster
        .teams
        .iter()
        .filter(|t| t.provider.as_deref() == Some(provider))
        .map(|t| t.id.clone())
        .collect();
    let mut affected: BTreeMap<String, AffectedPackage> = BTreeMap::new();
    if status == FrameworkStatus::Failed {
        for r in b.packages.values().filter(|r| {
            r.status == PackageStatus::Filled && r.provider.as_deref() == Some(provider)
        }) {
            affected.insert(
                r.package.id.clone(),
                AffectedPackage {
                    package: r.package.id.clone(),
                    service_user: r.package.service_user.clone(),
                    effect: "released",
                    team: r.team.clone(),
                },
            );
        }
        for pkg in b
            .roster
            .packages
            .iter()
            .filter(|p| !b.packages.contains_key(&p.id))
        {
            let team = b
                .service_user(&pkg.service_user)
                .and_then(|u| u.team.clone());
            if team.as_ref().is_some_and(|t| teams.contains(t)) {
                affected.insert(
                    pkg.id.clone(),
                    AffectedPackage {
                        package: pkg.id.clone(),
                        service_user: pkg.service_user.clone(),
                        effect: "released",
                        team,
                    },
                );
            }
        }
    }
    if status != FrameworkStatus::Active {
        for o in b
            .offers
            .values()
            .filter(|o| o.provider == provider && o.status == OfferStatus::Open)
        {
            let person = b
                .package(&o.package)
                .map(|p| p.service_user.clone())
                .unwrap_or_default();
            affected
                .entry(o.package.clone())
                .or_insert_with(|| AffectedPackage {
                    package: o.package.clone(),
                    service_user: person,
                    effect: "offer_withdrawn",
                    team: Some(o.team.clone()),
                });
        }
    }
    let people: BTreeSet<&str> = affected.values().map(|a| a.service_user.as_str()).collect();
    let released = affected.values().filter(|a| a.effect == "released").count();
    Ok(ProviderImpact {
        provider: provider.to_string(),
        current_status: p.framework_status,
        status,
        people: people.len(),
        packages: affected.len(),
        packages_released: released,
        offers_withdrawn: affected.len() - released,
        carers: b
            .roster
            .carers
            .iter()
            .filter(|c| c.team.as_ref().is_some_and(|t| teams.contains(t)))
            .count(),
        teams: teams.into_iter().collect(),
        affected: affected.into_values().collect(),
    })
}

/// `GET /v1/providers/{provider_id}/impact?status=...`.
async fn preview(ctx: RequestCtx) -> Result<Response, ApiError> {
    let provider = ctx.param("provider_id")?.to_string();
    let bad = || ApiError::BadParameter {
        path: "status".into(),
        detail: "status must be active, suspended, failed or off_framework".into(),
    };
    let raw = ctx.query_str("status").ok_or_else(bad)?;
    let status: FrameworkStatus =
        serde_json::from_value(serde_json::Value::String(raw.to_string())).map_err(|_| bad())?;
    let v = read(&ctx, move |b, _| impact(b, &provider, status)).await?;
    json_reply(StatusCode::OK, &v)
}
