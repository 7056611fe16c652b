//! Packages: list with status, stage and age; one package with its offers; cancel; rebroker.

use super::access::{ADMIN_BROKER, BROKER_ROLES};
use super::broker::{command, command_prepared, read};
use crate::http::openapi::{Schemas, add};
use crate::http::{
    Access, Answer, ApiError, Method, ParamKind, QueryParam, RequestCtx, RouteSpec, json_reply,
};
use carefill_solver::broker::reports::fill_minutes;
use carefill_solver::broker::{Broker, Offer, OfferStatus, PackageRecord, PackageStatus};
use carefill_solver::format::{Tier, Urgency};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;

/// This resource's routes (see [`super::table`]).
pub(super) const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        id: "listPackages",
        method: Method::Get,
        path: "/v1/packages",
        access: Access::Roles(BROKER_ROLES),
        tag: "broker",
        summary: "Packages with status, stage and age",
        description: "Filter with status=open|filled|escalated|cancelled. Each entry has its age, stage, offers_open and offer_expires_at (the first open offer's expiry).",
        query: &[QueryParam {
            name: "status",
            kind: ParamKind::String,
            required: false,
            description: "open | filled | escalated | cancelled",
        }],
        request: None,
        response: Answer {
            status: 200,
            schema: "PackageList",
        },
        errors: &[],
        handler: |c| Box::pin(list_packages(c)),
    },
    RouteSpec {
        id: "getPackage",
        method: Method::Get,
        path: "/v1/packages/{package_id}",
        access: Access::Roles(BROKER_ROLES),
        tag: "broker",
        summary: "A package's record and offer history",
        description: "Fill minutes, stages tried, every offer with its fit check and answer.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "PackageView",
        },
        errors: &[404],
        handler: |c| Box::pin(get_package(c)),
    },
    RouteSpec {
        id: "cancelPackage",
        method: Method::Post,
        path: "/v1/packages/{package_id}/cancel",
        access: Access::Roles(BROKER_ROLES),
        tag: "broker",
        summary: "Withdraw an unfilled package",
        description: "Open offers are withdrawn. 409 when already filled or cancelled.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "PackageView",
        },
        errors: &[404, 409],
        handler: |c| Box::pin(cancel_package(c)),
    },
    RouteSpec {
        id: "rebrokerPackage",
        method: Method::Post,
        path: "/v1/packages/{package_id}/rebroker",
        access: Access::Roles(ADMIN_BROKER),
        tag: "broker",
        summary: "Try an escalated package again",
        description: "Runs the cascade again from Tier 1 (capacity may have freed up); the fill clock keeps running from the referral.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "PackageView",
        },
        errors: &[404, 409],
        handler: |c| Box::pin(rebroker_package(c)),
    },
];

/// This resource's schemas.
pub(super) fn schemas(out: &mut Schemas) {
    add::<PackageView<'static>>(out);
    add::<PackageList>(out);
}

/// The broker's view of a package.
#[derive(Debug, Serialize, ToSchema)]
struct PackageView<'a> {
    /// The package record: package, status, stage, provider, team, times, tiers tried.
    #[schema(value_type = Object)]
    record: &'a PackageRecord,
    /// Minutes from referral to acceptance, once filled.
    fill_minutes: Option<f64>,
    /// Every offer made for it, with its fit check and answer.
    #[schema(value_type = Vec<Object>)]
    offers: Vec<&'a Offer>,
}

/// Packages with status, stage and age.
#[derive(Serialize, ToSchema)]
struct PackageList {
    packages: Vec<PackageSummary>,
}

/// One package of the list.
#[derive(Serialize, ToSchema)]
struct PackageSummary {
    package: String,
    /// `open`, `filled`, `escalated` or `cancelled`.
    #[schema(value_type = String)]
    status: PackageStatus,
    urgency: Urgency,
    provider: Option<String>,
    team: Option<String>,
    stage: Option<Tier>,
    area: String,
    referred_at: DateTime<Utc>,
    filled_at: Option<DateTime<Utc>>,
    /// Minutes since referral (until filled, once filled).
    age_min: f64,
    /// Offers currently open for this package.
    offers_open: usize,
    /// When the first open offer expires, if any.
    offer_expires_at: Option<DateTime<Utc>>,
}

fn package_view<'a>(b: &'a Broker, id: &str) -> Option<PackageView<'a>> {
    let record = b.packages.get(id)?;
    let offers = b.offers.values().filter(|o| o.package == id).collect();
    Some(PackageView {
        record,
        fill_minutes: record
            .filled_at
            .map(|f| fill_minutes(f, record.referred_at)),
        offers,
    })
}

pub(super) fn package_json(b: &Broker, id: &str) -> Result<serde_json::Value, ApiError> {
    let v =
        package_view(b, id).ok_or_else(|| ApiError::NotFound(format!("unknown package `{id}`")))?;
    serde_json::to_value(&v).map_err(|e| ApiError::Internal(e.to_string()))
}

/// `GET /v1/packages`.
async fn list_packages(ctx: RequestCtx) -> Result<Response, ApiError> {
    let status = ctx.query_str("status").map(str::to_string);
    if let Some(s) = &status
        && !["open", "filled", "escalated", "cancelled"].contains(&s.as_str())
    {
        return Err(ApiError::BadParameter {
            path: "status".into(),
            detail: "status must be open, filled, escalated or cancelled".into(),
        });
    }
    let v = read(&ctx, move |b, now| {
        let packages = b
            .packages
            .values()
            .filter(|r| {
                status.as_ref().is_none_or(|s| {
                    serde_json::to_value(r.status)
                        .ok()
                        .and_then(|v| v.as_str().map(|x| x == s))
                        .unwrap_or(false)
                })
            })
            .map(|r| {
                let (offers_open, offer_expires_at) = b
                    .offers
                    .values()
                    .filter(|o| o.package == r.package.id && o.status == OfferStatus::Open)
                    .fold(
                        (0, None),
                        |(n, first): (usize, Option<DateTime<Utc>>), o| {
                            (
                                n + 1,
                                Some(first.map_or(o.expires_at, |f| f.min(o.expires_at))),
                            )
                        },
                    );
                PackageSummary {
                    package: r.package.id.clone(),
                    status: r.status,
                    urgency: r.package.urgency,
                    provider: r.provider.clone(),
                    team: r.team.clone(),
                    stage: r.stage,
                    area: r.area.clone(),
                    referred_at: r.referred_at,
                    filled_at: r.filled_at,
                    age_min: fill_minutes(r.filled_at.unwrap_or(now), r.referred_at),
                    offers_open,
                    offer_expires_at,
                }
            })
            .collect();
        Ok(PackageList { packages })
    })
    .await?;
    json_reply(StatusCode::OK, &v)
}

/// `GET /v1/packages/{package_id}`.
async fn get_package(ctx: RequestCtx) -> Result<Response, ApiError> {
    let id = ctx.param("package_id")?.to_string();
    let v = read(&ctx, move |b, _| package_json(b, &id)).await?;
    json_reply(StatusCode::OK, &v)
}

/// `POST /v1/packages/{package_id}/cancel`.
async fn cancel_package(ctx: RequestCtx) -> Result<Response, ApiError> {
    let id = ctx.param("package_id")?.to_string();
    let id2 = id.clone();
    command(&ctx, "cancel_package", move |b, now| b.cancel(&id2, now)).await?;
    let v = read(&ctx, move |b, _| package_json(b, &id)).await?;
    json_reply(StatusCode::OK, &v)
}

/// `POST /v1/packages/{package_id}/rebroker`.
async fn rebroker_package(ctx: RequestCtx) -> Result<Response, ApiError> {
    let id = ctx.param("package_id")?.to_string();
    let id2 = id.clone();
    let id3 = id.clone();
    command_prepared(
        &ctx,
        "rebroker_package",
        false,
        move |b, now| b.prepare_rebroker(&id3, now),
        move |b, now, prepared| b.rebroker_prepared(&id2, now, prepared),
    )
    .await?;
    let v = read(&ctx, move |b, _| package_json(b, &id)).await?;
    json_reply(StatusCode::OK, &v)
}
