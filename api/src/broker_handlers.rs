//! Handlers of the brokering routes: referrals, recommendations, offers,
//! provider status, reports and team rotas.
//!
//! Data protection: a provider key sees only offers made to its own provider,
//! and an open offer shows the area, needs and visit pattern but not the
//! person's id or address; those appear once that provider has accepted.

use crate::broker_service::{BrokerService, ServiceError};
use crate::error::ApiError;
use crate::handlers::blocking;
use crate::routes::{RequestCtx, json_reply};
use carefill_solver::broker::reports::fill_minutes;
use carefill_solver::broker::{
    Broker, BrokerError, BrokerEvent, CarerTransfer, DeclineReason, Offer, OfferStatus,
    PackageRecord, PackageStatus,
};
use carefill_solver::format::{
    FrameworkStatus, Location, Package, ServiceUser, Tier, VisitPattern,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use warp::http::StatusCode;
use warp::reply::Response;

pub(crate) fn service(ctx: &RequestCtx) -> Result<Arc<BrokerService>, ApiError> {
    ctx.state.broker.clone().ok_or_else(|| {
        ApiError::NotFound(
            "this service runs without a broker (start it with --db or --demo)".into(),
        )
    })
}

pub(crate) fn map_err(e: ServiceError) -> ApiError {
    match e {
        ServiceError::Store(e) => ApiError::StorageUnavailable(e.to_string()),
        ServiceError::Broker(e) => {
            let detail = e.to_string();
            match e {
                BrokerError::InvalidFields(issues) => ApiError::Invalid(issues),
                BrokerError::Invalid(_) => ApiError::Unprocessable {
                    code: "invalid_input",
                    detail,
                },
                BrokerError::UnknownPackage(_)
                | BrokerError::UnknownOffer(_)
                | BrokerError::UnknownProvider(_)
                | BrokerError::UnknownTeam(_)
                | BrokerError::UnknownCarer(_) => ApiError::NotFound(detail),
                other => ApiError::Conflict {
                    code: other.code(),
                    detail,
                    retry_after: None,
                },
            }
        }
    }
}

/// Feeds the broker gauges after a command.
fn observe(ctx: &RequestCtx, svc: &BrokerService, events: &[BrokerEvent]) {
    let (unfilled, fills) = svc.read(|b, _| {
        let unfilled = b
            .packages
            .values()
            .filter(|r| matches!(r.status, PackageStatus::Open | PackageStatus::Escalated))
            .count();
        let fills: Vec<f64> = events
            .iter()
            .filter_map(|e| match e {
                BrokerEvent::OfferAccepted { offer, at, .. } => {
                    let o = b.offers.get(offer)?;
                    let r = b.packages.get(&o.package)?;
                    Some(fill_minutes(*at, r.referred_at))
                }
                _ => None,
            })
            .collect();
        (unfilled, fills)
    });
    ctx.state.metrics.broker_unfilled.set(unfilled as i64);
    for m in fills {
        ctx.state.metrics.fill_time_minutes.observe(m);
    }
}

pub(crate) async fn command<F>(
    ctx: &RequestCtx,
    name: &'static str,
    f: F,
) -> Result<Vec<BrokerEvent>, ApiError>
where
    F: FnOnce(&mut Broker, chrono::DateTime<chrono::Utc>) -> Result<Vec<BrokerEvent>, BrokerError>
        + Send
        + 'static,
{
    let svc = service(ctx)?;
    let who = ctx
        .principal()
        .map(|p| p.key_id.clone())
        .unwrap_or_else(|_| "anonymous".into());
    let s2 = svc.clone();
    let events = blocking(move || s2.execute(&who, name, f).map_err(map_err)).await?;
    observe(ctx, &svc, &events);
    Ok(events)
}

pub(crate) async fn read<T, F>(ctx: &RequestCtx, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Broker, chrono::DateTime<chrono::Utc>) -> Result<T, ApiError> + Send + 'static,
{
    let svc = service(ctx)?;
    blocking(move || svc.read(f)).await
}

/// A referral: the package and the person.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReferralBody {
    /// The package.
    pub package: Package,
    /// The person (pseudonymous id, location, wishes).
    pub service_user: ServiceUser,
}

/// The broker's view of a package.
#[derive(Debug, Serialize)]
struct PackageView<'a> {
    record: &'a PackageRecord,
    fill_minutes: Option<f64>,
    offers: Vec<&'a Offer>,
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

fn package_json(b: &Broker, id: &str) -> Result<serde_json::Value, ApiError> {
    let v =
        package_view(b, id).ok_or_else(|| ApiError::NotFound(format!("unknown package `{id}`")))?;
    serde_json::to_value(&v).map_err(|e| ApiError::Internal(e.to_string()))
}

/// `POST /v1/referrals`.
pub async fn refer(ctx: RequestCtx) -> Result<Response, ApiError> {
    let body: ReferralBody = ctx.json()?;
    let id = body.package.id.clone();
    command(&ctx, "refer", move |b, now| {
        b.refer(body.package, body.service_user, now)
    })
    .await?;
    let id2 = id.clone();
    let v = read(&ctx, move |b, _| package_json(b, &id2)).await?;
    json_reply(StatusCode::CREATED, &v)
}

/// Many referrals.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchBody {
    referrals: Vec<ReferralBody>,
}

/// `POST /v1/referrals/batch`.
pub async fn refer_batch(ctx: RequestCtx) -> Result<Response, ApiError> {
    let body: BatchBody = ctx.json()?;
    if body.referrals.is_empty() || body.referrals.len() > 1000 {
        return Err(ApiError::BadJson {
            path: "$.referrals".into(),
            detail: "give 1 to 1000 referrals".into(),
        });
    }
    let ids: Vec<String> = body
        .referrals
        .iter()
        .map(|r| r.package.id.clone())
        .collect();
    let pairs: Vec<(Package, ServiceUser)> = body
        .referrals
        .into_iter()
        .map(|r| (r.package, r.service_user))
        .collect();
    let events = command(&ctx, "refer_batch", move |b, now| b.refer_batch(pairs, now)).await?;
    let v = read(&ctx, move |b, _| {
        let packages: Vec<serde_json::Value> = ids
            .iter()
            .filter_map(|id| b.packages.get(id))
            .map(|r| {
                serde_json::json!({
                    "package": r.package.id, "status": r.status, "provider": r.provider,
                    "stage": r.stage,
                    "open_offers": b.offers.values().filter(|o| o.package == r.package.id && o.status == OfferStatus::Open).count(),
                })
            })
            .collect();
        Ok(serde_json::json!({ "packages": packages, "events": events.len() }))
    })
    .await?;
    json_reply(StatusCode::OK, &v)
}

/// `GET /v1/packages`.
pub async fn list_packages(ctx: RequestCtx) -> Result<Response, ApiError> {
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
        let list: Vec<serde_json::Value> = b
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
                let open = b
                    .offers
                    .values()
                    .filter(|o| o.package == r.package.id && o.status == OfferStatus::Open);
                let (offers_open, offer_expires_at) = open.fold((0, None), |(n, first), o| {
                    (n + 1, Some(first.map_or(o.expires_at, |f: chrono::DateTime<chrono::Utc>| f.min(o.expires_at))))
                });
                serde_json::json!({
                    "package": r.package.id, "status": r.status, "urgency": r.package.urgency,
                    "provider": r.provider, "team": r.team, "stage": r.stage, "area": r.area,
                    "referred_at": r.referred_at, "filled_at": r.filled_at,
                    "age_min": fill_minutes(r.filled_at.unwrap_or(now), r.referred_at),
                    "offers_open": offers_open, "offer_expires_at": offer_expires_at,
                })
            })
            .collect();
        Ok(serde_json::json!({ "packages": list }))
    })
    .await?;
    json_reply(StatusCode::OK, &v)
}

/// `GET /v1/packages/{package_id}`.
pub async fn get_package(ctx: RequestCtx) -> Result<Response, ApiError> {
    let id = ctx.param("package_id")?.to_string();
    let v = read(&ctx, move |b, _| package_json(b, &id)).await?;
    json_reply(StatusCode::OK, &v)
}

/// `POST /v1/packages/{package_id}/cancel`.
pub async fn cancel_package(ctx: RequestCtx) -> Result<Response, ApiError> {
    let id = ctx.param("package_id")?.to_string();
    let id2 = id.clone();
    command(&ctx, "cancel_package", move |b, now| b.cancel(&id2, now)).await?;
    let v = read(&ctx, move |b, _| package_json(b, &id)).await?;
    json_reply(StatusCode::OK, &v)
}

/// `POST /v1/packages/{package_id}/rebroker`.
pub async fn rebroker_package(ctx: RequestCtx) -> Result<Response, ApiError> {
    let id = ctx.param("package_id")?.to_string();
    let id2 = id.clone();
    command(&ctx, "rebroker_package", move |b, now| {
        b.rebroker(&id2, now)
    })
    .await?;
    let v = read(&ctx, move |b, _| package_json(b, &id)).await?;
    json_reply(StatusCode::OK, &v)
}

/// `POST /v1/recommendations?k=`: the top-k placements for a package, not yet referred.
pub async fn recommend(ctx: RequestCtx) -> Result<Response, ApiError> {
    let body: ReferralBody = ctx.json()?;
    let k = ctx.query_u64("k")?.unwrap_or(5);
    if !(1..=50).contains(&k) {
        return Err(ApiError::BadParameter {
            path: "k".into(),
            detail: "k must be 1-50".into(),
        });
    }
    let v = read(&ctx, move |b, _| {
        let t0 = std::time::Instant::now();
        b.validate_referral(&body.package, &body.service_user)
            .map_err(|e| map_err(ServiceError::Broker(e)))?;
        let report = b.candidates(&body.package, &body.service_user);
        let top: Vec<serde_json::Value> = report
            .fitting
            .iter()
            .take(k as usize)
            .enumerate()
            .map(|(i, c)| {
                serde_json::json!({
                    "rank": i + 1, "provider": c.provider, "provider_name": c.provider_name,
                    "tier": c.tier, "block_contract": c.block, "auto_accept": c.auto_accept,
                    "team": c.fit.team, "carers": c.fit.carers, "known_carers": c.fit.known_carers,
                    "extra_travel_min": c.fit.extra_travel_min, "cost_delta": c.fit.cost_delta,
                    "care_min": c.fit.care_min, "explanation": c.fit.explanation,
                })
            })
            .collect();
        let not_fitting: Vec<serde_json::Value> = report
            .not_fitting
            .iter()
            .map(|c| serde_json::json!({"provider": c.provider, "team": c.fit.team, "tier": c.tier, "explanation": c.fit.explanation, "reasons": c.fit.reasons}))
            .collect();
        Ok(serde_json::json!({
            "package": body.package.id,
            "stage_order": report.stage_order,
            "recommendations": top,
            "not_fitting": not_fitting,
            "excluded": report.excluded,
            "teams_checked": report.teams_checked,
            "elapsed_ms": t0.elapsed().as_secs_f64() * 1000.0,
        }))
    })
    .await?;
    json_reply(StatusCode::OK, &v)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplyBody {
    package: Package,
    service_user: ServiceUser,
    provider: String,
    team: String,
}

/// `POST /v1/recommendations/apply`: refer the package straight to the chosen team.
pub async fn apply_recommendation(ctx: RequestCtx) -> Result<Response, ApiError> {
    let body: ApplyBody = ctx.json()?;
    let id = body.package.id.clone();
    command(&ctx, "apply_recommendation", move |b, now| {
        b.refer_to(
            body.package,
            body.service_user,
            &body.provider,
            &body.team,
            now,
        )
    })
    .await?;
    let v = read(&ctx, move |b, _| package_json(b, &id)).await?;
    json_reply(StatusCode::CREATED, &v)
}

/// What a provider sees of an offer.
#[derive(Debug, Serialize)]
struct ProviderOfferView {
    id: String,
    package: String,
    status: OfferStatus,
    stage: Tier,
    made_at: chrono::DateTime<chrono::Utc>,
    expires_at: chrono::DateTime<chrono::Utc>,
    area: String,
    urgency: carefill_solver::format::Urgency,
    skills: Vec<String>,
    visits: Vec<VisitPattern>,
    start_date: Option<String>,
    end_date: Option<String>,
    care_min_in_horizon: u64,
    team: String,
    carers: Vec<String>,
    extra_travel_min: i64,
    explanation: String,
    /// Only once this provider has accepted.
    person: Option<PersonDetails>,
}

#[derive(Debug, Serialize)]
struct PersonDetails {
    service_user: String,
    location: Location,
}

fn provider_view(b: &Broker, o: &Offer) -> Option<ProviderOfferView> {
    let r = b.packages.get(&o.package)?;
    let person = (o.status == OfferStatus::Accepted)
        .then(|| b.service_user(&r.package.service_user))
        .flatten()
        .map(|u| PersonDetails {
            service_user: u.id.clone(),
            location: u.location,
        });
    Some(ProviderOfferView {
        id: o.id.clone(),
        package: o.package.clone(),
        status: o.status,
        stage: o.stage,
        made_at: o.made_at,
        expires_at: o.expires_at,
        area: r.area.clone(),
        urgency: r.package.urgency,
        skills: carefill_solver::broker::package_skills(&r.package)
            .into_iter()
            .collect(),
        visits: r.package.visits.clone(),
        start_date: r.package.start_date.clone(),
        end_date: r.package.end_date.clone(),
        care_min_in_horizon: o.fit.care_min,
        team: o.team.clone(),
        carers: o.fit.carers.clone(),
        extra_travel_min: o.fit.extra_travel_min,
        explanation: o.fit.explanation.clone(),
        person,
    })
}

/// `GET /v1/providers/{provider_id}/offers?status=`.
pub async fn provider_offers(ctx: RequestCtx) -> Result<Response, ApiError> {
    let provider = ctx.param("provider_id")?.to_string();
    ctx.principal()?.require_provider(&provider)?;
    let status = ctx.query_str("status").map(str::to_string);
    let v = read(&ctx, move |b, _| {
        if !b.roster.providers.iter().any(|p| p.id == provider) {
            return Err(ApiError::NotFound(format!("unknown provider `{provider}`")));
        }
        let list: Vec<ProviderOfferView> = b
            .offers
            .values()
            .filter(|o| o.provider == provider)
            .filter(|o| {
                status.as_ref().is_none_or(|s| {
                    serde_json::to_value(o.status)
                        .ok()
                        .and_then(|v| v.as_str().map(|x| x == s))
                        .unwrap_or(false)
                })
            })
            .filter_map(|o| provider_view(b, o))
            .collect();
        Ok(serde_json::json!({ "provider": provider, "offers": list }))
    })
    .await?;
    json_reply(StatusCode::OK, &v)
}

async fn offer_owner(ctx: &RequestCtx, id: &str) -> Result<String, ApiError> {
    let id = id.to_string();
    let provider = read(ctx, move |b, _| {
        b.offers
            .get(&id)
            .map(|o| o.provider.clone())
            .ok_or_else(|| ApiError::NotFound(format!("unknown offer `{id}`")))
    })
    .await?;
    ctx.principal()?.require_provider(&provider)?;
    Ok(provider)
}

/// The provider's view of one offer, as the answer.
async fn offer_reply(ctx: &RequestCtx, id: String) -> Result<Response, ApiError> {
    let v = read(ctx, move |b, _| {
        b.offers
            .get(&id)
            .and_then(|o| provider_view(b, o))
            .ok_or_else(|| ApiError::NotFound(format!("unknown offer `{id}`")))
    })
    .await?;
    json_reply(StatusCode::OK, &v)
}

/// `GET /v1/offers/{offer_id}`.
pub async fn get_offer(ctx: RequestCtx) -> Result<Response, ApiError> {
    let id = ctx.param("offer_id")?.to_string();
    offer_owner(&ctx, &id).await?;
    offer_reply(&ctx, id).await
}

/// `POST /v1/offers/{offer_id}/accept`.
pub async fn accept_offer(ctx: RequestCtx) -> Result<Response, ApiError> {
    let id = ctx.param("offer_id")?.to_string();
    offer_owner(&ctx, &id).await?;
    let id2 = id.clone();
    command(&ctx, "accept_offer", move |b, now| b.accept(&id2, now)).await?;
    offer_reply(&ctx, id).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeclineBody {
    reason: DeclineReason,
    #[serde(default)]
    note: Option<String>,
}

/// `POST /v1/offers/{offer_id}/decline`.
pub async fn decline_offer(ctx: RequestCtx) -> Result<Response, ApiError> {
    let id = ctx.param("offer_id")?.to_string();
    let body: DeclineBody = ctx.json()?;
    if body.note.as_ref().is_some_and(|n| n.len() > 2000) {
        return Err(ApiError::BadJson {
            path: "$.note".into(),
            detail: "at most 2000 characters".into(),
        });
    }
    offer_owner(&ctx, &id).await?;
    let id2 = id.clone();
    command(&ctx, "decline_offer", move |b, now| {
        b.decline(&id2, body.reason, body.note, now)
    })
    .await?;
    offer_reply(&ctx, id).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    status: FrameworkStatus,
    #[serde(default)]
    transfers: Vec<CarerTransfer>,
}

/// `POST /v1/providers/{provider_id}/status`: suspend, reinstate or mark failed.
pub async fn set_provider_status(ctx: RequestCtx) -> Result<Response, ApiError> {
    let provider = ctx.param("provider_id")?.to_string();
    let body: StatusBody = ctx.json()?;
    let p2 = provider.clone();
    let events = command(&ctx, "set_provider_status", move |b, now| {
        b.set_provider_status(&p2, body.status, body.transfers, now)
    })
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
        &serde_json::json!({
            "provider": provider, "packages_released": released, "offers_made": offers,
            "placed_at_once": accepted, "escalated": escalated, "events": events.len(),
        }),
    )
}

/// `GET /v1/reports/{report}`.
pub async fn report(ctx: RequestCtx) -> Result<Response, ApiError> {
    let which = ctx.param("report")?.to_string();
    let v = read(&ctx, move |b, now| {
        let v = match which.as_str() {
            "fill-times" => serde_json::to_value(b.fill_time_report()),
            "offers" => serde_json::to_value(b.offers_report()),
            "unfilled" => serde_json::to_value(b.unfilled_report(now)),
            "capacity" => serde_json::to_value(b.capacity_map()),
            "ledger" => serde_json::to_value(b.ledger_report()),
            "alerts" => serde_json::to_value(&b.alerts),
            other => {
                return Err(ApiError::NotFound(format!(
                    "unknown report `{other}`; reports: fill-times, offers, unfilled, capacity, ledger, alerts"
                )));
            }
        };
        v.map_err(|e| ApiError::Internal(e.to_string()))
    })
    .await?;
    json_reply(StatusCode::OK, &v)
}

/// `GET /v1/teams/{team_id}/rota`.
pub async fn team_rota(ctx: RequestCtx) -> Result<Response, ApiError> {
    let team = ctx.param("team_id")?.to_string();
    let principal = ctx.principal()?.clone();
    let v = read(&ctx, move |b, _| {
        let t = b
            .roster
            .teams
            .iter()
            .find(|t| t.id == team)
            .ok_or_else(|| ApiError::NotFound(format!("unknown team `{team}`")))?;
        principal.require_team(&t.id, t.provider.as_deref())?;
        let rota = b.rotas.get(&team).cloned().unwrap_or_default();
        Ok(serde_json::json!({ "team": team, "rota": rota }))
    })
    .await?;
    json_reply(StatusCode::OK, &v)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseYearBody {
    year: String,
}

/// `POST /v1/ledger/close-year`.
pub async fn close_year(ctx: RequestCtx) -> Result<Response, ApiError> {
    let body: CloseYearBody = ctx.json()?;
    if body.year.is_empty() || body.year.len() > 20 {
        return Err(ApiError::BadJson {
            path: "$.year".into(),
            detail: "a label like 2026/27".into(),
        });
    }
    command(&ctx, "close_year", move |b, now| {
        Ok(b.close_year(&body.year, now))
    })
    .await?;
    let v = read(&ctx, |b, _| Ok(b.ledger_report())).await?;
    json_reply(StatusCode::OK, &v)
}

/// `POST /v1/carers/{carer_id}/absences`: a carer off sick or on leave; the
/// team's rota is re-planned around it with minimum change.
pub async fn add_absence(ctx: RequestCtx) -> Result<Response, ApiError> {
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
    let unplaced = events
        .iter()
        .find_map(|e| match e {
            BrokerEvent::CarerAbsent { rota, .. } => Some(rota.unplaced.len()),
            _ => None,
        })
        .unwrap_or(0);
    json_reply(
        StatusCode::OK,
        &serde_json::json!({ "carer": carer, "team": team, "unplaced_visits_in_team_rota": unplaced,
            "rota": format!("/v1/teams/{team}/rota") }),
    )
}

/// `GET /v1/demo/referrals`: the demo county's referrals not yet referred, ready to POST.
pub async fn demo_referrals(ctx: RequestCtx) -> Result<Response, ApiError> {
    let svc = service(&ctx)?;
    let list = blocking(move || Ok(svc.demo_referrals())).await?;
    let bodies: Vec<ReferralBody> = list
        .into_iter()
        .map(|(package, service_user)| ReferralBody {
            package,
            service_user,
        })
        .collect();
    json_reply(StatusCode::OK, &serde_json::json!({ "referrals": bodies }))
}
