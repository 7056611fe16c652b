//! Offers as providers see them: a provider's offers, one offer, accept, decline.
//!
//! Data protection: a provider key sees only offers made to its own provider,
//! and an open offer shows the area, needs and visit pattern but not the
//! person's id or address; those appear once that provider has accepted.

use super::access::OFFER_ROLES;
use super::broker::{command, read};
use crate::http::openapi::{Schemas, add};
use crate::http::{
    Access, Answer, ApiError, Method, ParamKind, QueryParam, RequestCtx, RouteSpec, json_reply,
};
use carefill_solver::broker::{Broker, BrokerEvent, DeclineReason, Offer, OfferStatus};
use carefill_solver::format::{Issue, IssueCode, Location, Tier, VisitPattern, ids};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;

/// This resource's routes (see [`super::table`]).
pub(super) const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        id: "listProviderOffers",
        method: Method::Get,
        path: "/v1/providers/{provider_id}/offers",
        access: Access::Roles(OFFER_ROLES),
        tag: "broker",
        summary: "Offers made to a provider",
        description: "Provider keys see only their own provider (403 otherwise). Open offers show area, needs and visit pattern; the person's id and address appear only once this provider accepted.",
        query: &[QueryParam {
            name: "status",
            kind: ParamKind::String,
            required: false,
            description: "open | accepted | declined | expired | withdrawn",
        }],
        request: None,
        response: Answer {
            status: 200,
            schema: "ProviderOffers",
        },
        errors: &[404],
        handler: |c| Box::pin(provider_offers(c)),
    },
    RouteSpec {
        id: "getOffer",
        method: Method::Get,
        path: "/v1/offers/{offer_id}",
        access: Access::Roles(OFFER_ROLES),
        tag: "broker",
        summary: "One offer (provider view)",
        description: "Provider keys only for their own offers: another provider's offer is 404, exactly as an unknown one.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "ProviderOffer",
        },
        errors: &[404],
        handler: |c| Box::pin(get_offer(c)),
    },
    RouteSpec {
        id: "acceptOffer",
        method: Method::Post,
        path: "/v1/offers/{offer_id}/accept",
        access: Access::Roles(OFFER_ROLES),
        tag: "broker",
        summary: "Accept an offer: the visits go on the team's rota",
        description: "The fit is checked again against the rota as it is now. 409 offer_expired, offer_closed (already answered, withdrawn) or no_longer_fits (the offer is then closed, status withdrawn with note no_longer_fits, and the cascade moves on at once).",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "ProviderOffer",
        },
        errors: &[404, 409],
        handler: |c| Box::pin(accept_offer(c)),
    },
    RouteSpec {
        id: "declineOffer",
        method: Method::Post,
        path: "/v1/offers/{offer_id}/decline",
        access: Access::Roles(OFFER_ROLES),
        tag: "broker",
        summary: "Decline an offer with a reason code",
        description: "Body {reason, note?}; reason is no_capacity | no_suitable_carer | out_of_area | travel_too_far | package_too_small | visit_times_unsuitable | risk_too_high | other. The cascade moves on at once.",
        query: &[],
        request: Some("Decline"),
        response: Answer {
            status: 200,
            schema: "ProviderOffer",
        },
        errors: &[404, 409, 422],
        handler: |c| Box::pin(decline_offer(c)),
    },
];

/// This resource's schemas.
pub(super) fn schemas(out: &mut Schemas) {
    add::<ProviderOfferView>(out);
    add::<ProviderOffers>(out);
    add::<DeclineBody>(out);
}

/// A provider's offers.
#[derive(Serialize, ToSchema)]
struct ProviderOffers {
    provider: String,
    offers: Vec<ProviderOfferView>,
}

/// What a provider sees of an offer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ProviderOffer)]
struct ProviderOfferView {
    id: String,
    package: String,
    /// `open`, `accepted`, `declined`, `expired` or `withdrawn`.
    #[schema(value_type = String)]
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

/// The person, shown to the provider that accepted.
#[derive(Debug, Serialize, ToSchema)]
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
async fn provider_offers(ctx: RequestCtx) -> Result<Response, ApiError> {
    let provider = ctx.param("provider_id")?.to_string();
    ctx.principal()?.require_provider(&provider)?;
    let status = match ctx.query_str("status") {
        None => None,
        Some(s) if OFFER_STATUSES.contains(&s) => Some(s.to_string()),
        Some(s) => {
            return Err(ApiError::BadParameter {
                path: "status".into(),
                detail: format!("status {s:?} is not one of {}", OFFER_STATUSES.join(", ")),
            });
        }
    };
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
        Ok(ProviderOffers {
            provider,
            offers: list,
        })
    })
    .await?;
    json_reply(StatusCode::OK, &v)
}

/// The statuses `?status=` accepts (as offers spell them).
const OFFER_STATUSES: &[&str] = &["open", "accepted", "declined", "expired", "withdrawn"];

/// The offer's provider, after checking the key may see it. Another provider's
/// offer answers exactly as an unknown one (404), so offer ids, which are
/// sequential, tell a provider nothing about others' offers.
async fn offer_owner(ctx: &RequestCtx, id: &str) -> Result<String, ApiError> {
    let unknown = || ApiError::NotFound(format!("unknown offer `{id}`"));
    let id2 = id.to_string();
    let provider = read(ctx, move |b, _| {
        Ok(b.offers.get(&id2).map(|o| o.provider.clone()))
    })
    .await?
    .ok_or_else(unknown)?;
    ctx.principal()?
        .require_provider(&provider)
        .map_err(|_| unknown())?;
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
async fn get_offer(ctx: RequestCtx) -> Result<Response, ApiError> {
    let id = ctx.param("offer_id")?.to_string();
    offer_owner(&ctx, &id).await?;
    offer_reply(&ctx, id).await
}

/// `POST /v1/offers/{offer_id}/accept`.
async fn accept_offer(ctx: RequestCtx) -> Result<Response, ApiError> {
    let id = ctx.param("offer_id")?.to_string();
    offer_owner(&ctx, &id).await?;
    let id2 = id.clone();
    let events = command(&ctx, "accept_offer", move |b, now| {
        b.accept_or_close(&id2, now)
    })
    .await?;
    // The offer no longer fits: it is closed and the package moved on.
    if events.iter().any(|e| {
        matches!(e, BrokerEvent::OfferWithdrawn { offer, why, .. } if *offer == id && why == "no_longer_fits")
    }) {
        return Err(ApiError::Conflict {
            code: "no_longer_fits",
            detail: format!(
                "offer `{id}` no longer fits the team's rota as it is now; it is closed (withdrawn, no_longer_fits) and the package has moved on in the cascade"
            ),
            retry_after: None,
        });
    }
    offer_reply(&ctx, id).await
}

/// A provider's no, with a reason code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Decline)]
struct DeclineBody {
    /// no_capacity, no_suitable_carer, out_of_area, travel_too_far,
    /// package_too_small, visit_times_unsuitable, risk_too_high or other.
    #[schema(value_type = String)]
    reason: DeclineReason,
    #[serde(default)]
    note: Option<String>,
}

/// `POST /v1/offers/{offer_id}/decline`.
async fn decline_offer(ctx: RequestCtx) -> Result<Response, ApiError> {
    let id = ctx.param("offer_id")?.to_string();
    let body: DeclineBody = ctx.json()?;
    if let Some(m) = body
        .note
        .as_deref()
        .and_then(|n| ids::text_error(n, ids::MAX_NOTE_LEN, true))
    {
        return Err(ApiError::Invalid(vec![Issue::new(
            "$.note",
            IssueCode::InvalidText,
            m,
        )]));
    }
    offer_owner(&ctx, &id).await?;
    let id2 = id.clone();
    command(&ctx, "decline_offer", move |b, now| {
        b.decline(&id2, body.reason, body.note, now)
    })
    .await?;
    offer_reply(&ctx, id).await
}
