//! Referrals and recommendations: refer one package or a batch, the top-k
//! placements for a package, and referring straight to a chosen team.

use super::access::BROKER_ROLES;
use super::broker::{command_prepared, map_err, read};
use super::packages::package_json;
use crate::broker_service::ServiceError;
use crate::http::openapi::{Schemas, add};
use crate::http::{
    Access, Answer, ApiError, Method, ParamKind, QueryParam, RequestCtx, RouteSpec, json_reply,
};
use carefill_solver::broker::{OfferStatus, OverrideReason, OverrideRequest, PackageStatus};
use carefill_solver::format::{Issue, IssueCode, Package, ServiceUser, Tier, UnplacedReason};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;

/// This resource's routes (see [`super::table`]).
pub(super) const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        id: "referPackage",
        method: Method::Post,
        path: "/v1/referrals",
        access: Access::Roles(BROKER_ROLES),
        tag: "broker",
        summary: "Refer a package: candidates, fit checks and the tier cascade start at once",
        description: "Body {package, service_user}. Validates the package (422 invalid_request with every issue's JSON path; 409 duplicate_package), starts the fill clock, fit-checks every nearby team of every eligible provider against its current rota and offers it to the first tier with a fitting provider (auto-accepting providers and emergency cover take it at once). A referral_time up to 30 days back starts the fill clock (reports) but damages accrue only from now, when the broker received it; history=import (admin keys only, 403 otherwise) imports it from another system with damages accruing from referral_time.",
        query: &[QueryParam {
            name: "history",
            kind: ParamKind::String,
            required: false,
            description: "`import` (admin only): damages count from referral_time, as for a referral migrated from another system",
        }],
        request: Some("Referral"),
        response: Answer {
            status: 201,
            schema: "PackageView",
        },
        errors: &[404, 409, 422],
        handler: |c| Box::pin(refer(c)),
    },
    RouteSpec {
        id: "referPackages",
        method: Method::Post,
        path: "/v1/referrals/batch",
        access: Access::Roles(BROKER_ROLES),
        tag: "broker",
        summary: "Refer many packages; allocated together by a HiGHS MILP",
        description: "Body {referrals: [{package, service_user}]} (1-1000; more or none is 422 invalid_request at $.referrals). Each package has at most 50 visit patterns, 12 visits a day and 250 over the horizon (422 at $.referrals[i].package.visits). Packages are allocated together so no team is promised more than its spare capacity by day and period; then offered to the chosen providers.",
        query: &[],
        request: Some("ReferralBatch"),
        response: Answer {
            status: 200,
            schema: "BatchResult",
        },
        errors: &[409, 422],
        handler: |c| Box::pin(refer_batch(c)),
    },
    RouteSpec {
        id: "recommendPlacements",
        method: Method::Post,
        path: "/v1/recommendations",
        access: Access::Roles(BROKER_ROLES),
        tag: "broker",
        summary: "Top-k placements for a package, with cost and explanation",
        description: "Body {package, service_user}. Nothing is stored. Each recommendation names provider, team, carers, known carers, extra travel minutes, objective change and why it fits; teams that cannot take it say why.",
        query: &[QueryParam {
            name: "k",
            kind: ParamKind::Integer,
            required: false,
            description: "how many (1-50, default 5)",
        }],
        request: Some("Referral"),
        response: Answer {
            status: 200,
            schema: "Recommendations",
        },
        errors: &[409, 422],
        handler: |c| Box::pin(recommend(c)),
    },
    RouteSpec {
        id: "applyRecommendation",
        method: Method::Post,
        path: "/v1/recommendations/apply",
        access: Access::Roles(BROKER_ROLES),
        tag: "broker",
        summary: "Refer a package straight to a chosen provider team",
        description: "Body {package, service_user, provider, team, override_reason?, override_note?}. The offer goes only to that provider (auto-accepting providers take it at once). When a provider of an earlier cascade stage has a fitting team, the offer skips its first refusal: it needs override_reason (person_choice, specialist_need, continuity_with_existing_carer, safeguarding, other + override_note), else 422 naming $.override_reason; it is marked on the package (`override`) and listed in GET /v1/reports/overrides; policy forbid_out_of_order_offers refuses it (409 out_of_order_forbidden). If the provider declines, the cascade starts again from the first stage. 409 no_longer_fits when the team's rota changed.",
        query: &[],
        request: Some("ApplyRecommendation"),
        response: Answer {
            status: 201,
            schema: "PackageView",
        },
        errors: &[404, 409, 422],
        handler: |c| Box::pin(apply_recommendation(c)),
    },
];

/// This resource's schemas.
pub(super) fn schemas(out: &mut Schemas) {
    add::<ReferralBody>(out);
    add::<BatchBody>(out);
    add::<BatchResult>(out);
    add::<Recommendations>(out);
    add::<ApplyBody>(out);
}

/// A referral: the package and the person.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Referral)]
pub struct ReferralBody {
    /// The package.
    pub package: Package,
    /// The person (pseudonymous id, location, wishes).
    pub service_user: ServiceUser,
}

/// `POST /v1/referrals[?history=import]`.
async fn refer(ctx: RequestCtx) -> Result<Response, ApiError> {
    let import = match ctx.query_str("history") {
        None => false,
        Some("import") => {
            if !ctx.principal()?.is_admin() {
                return Err(ApiError::Forbidden(
                    "history=import (damages for time before the broker had the package) is for admin keys only".into(),
                ));
            }
            true
        }
        Some(other) => {
            return Err(ApiError::BadParameter {
                path: "history".into(),
                detail: format!("history {other:?} is not `import`"),
            });
        }
    };
    let body: ReferralBody = ctx.json()?;
    let id = body.package.id.clone();
    let (package, user) = (body.package.clone(), body.service_user.clone());
    command_prepared(
        &ctx,
        "refer",
        false,
        move |b, now| b.prepare_referral(&package, &user, now),
        move |b, now, prepared| {
            b.refer_prepared(body.package, body.service_user, now, import, prepared)
        },
    )
    .await?;
    let id2 = id.clone();
    let v = read(&ctx, move |b, _| package_json(b, &id2)).await?;
    json_reply(StatusCode::CREATED, &v)
}

/// Most referrals in one batch: bounds the work (fit checks, the allocation
/// MILP) one request can ask for.
pub const MAX_BATCH_REFERRALS: usize = 1000;

/// Many referrals.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReferralBatch)]
pub(super) struct BatchBody {
    /// 1 to 1000 referrals ([`MAX_BATCH_REFERRALS`]).
    #[schema(min_items = 1, max_items = 1000)]
    pub(super) referrals: Vec<ReferralBody>,
}

/// What became of each package of a batch.
#[derive(Serialize, ToSchema)]
struct BatchResult {
    /// One entry per referred package.
    packages: Vec<BatchItem>,
    /// Broker events the batch caused.
    events: usize,
}

/// One package of a batch.
#[derive(Serialize, ToSchema)]
struct BatchItem {
    /// Package id.
    package: String,
    /// `open`, `filled`, `escalated` or `cancelled`.
    #[schema(value_type = String)]
    status: PackageStatus,
    /// The provider holding it, once filled.
    provider: Option<String>,
    /// The tier it is offered at.
    stage: Option<Tier>,
    /// Offers waiting for an answer.
    open_offers: usize,
}

/// Top-k placements for a package.
#[derive(Serialize, ToSchema)]
struct Recommendations {
    /// Package id.
    package: String,
    /// Tiers in the order the cascade tries them.
    stage_order: Vec<Tier>,
    /// Best first.
    recommendations: Vec<Recommendation>,
    /// Teams that cannot take it, with why.
    not_fitting: Vec<NotFitting>,
    /// Providers not considered, with a reason code.
    #[schema(value_type = Vec<Object>)]
    excluded: serde_json::Value,
    /// Teams fit-checked.
    teams_checked: usize,
    /// Time taken, milliseconds.
    elapsed_ms: f64,
}

/// One placement.
#[derive(Serialize, ToSchema)]
struct Recommendation {
    rank: usize,
    provider: String,
    provider_name: String,
    tier: Tier,
    block_contract: bool,
    auto_accept: bool,
    team: String,
    carers: Vec<String>,
    known_carers: Vec<String>,
    extra_travel_min: i64,
    cost_delta: f64,
    care_min: u64,
    explanation: String,
}

/// A team that cannot take the package.
#[derive(Serialize, ToSchema)]
struct NotFitting {
    provider: String,
    team: String,
    tier: Tier,
    explanation: String,
    reasons: Vec<UnplacedReason>,
}

/// `POST /v1/referrals/batch`.
async fn refer_batch(ctx: RequestCtx) -> Result<Response, ApiError> {
    let body: BatchBody = ctx.json()?;
    let n = body.referrals.len();
    if n == 0 || n > MAX_BATCH_REFERRALS {
        return Err(ApiError::Invalid(vec![Issue::new(
            "$.referrals",
            IssueCode::OutOfRange,
            format!("a batch has 1 to {MAX_BATCH_REFERRALS} referrals, got {n}"),
        )]));
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
    // The searches (most of a batch's work) run on the readers' snapshot,
    // outside the writer; the writer re-checks only teams changed since.
    let searched = Arc::new(pairs);
    let to_refer = searched.clone();
    let events = command_prepared(
        &ctx,
        "refer_batch",
        true,
        move |b, now| b.prepare_batch(&searched, now),
        move |b, now, prepared| {
            let pairs = Arc::try_unwrap(to_refer).unwrap_or_else(|shared| (*shared).clone());
            b.refer_batch_prepared(pairs, now, prepared)
        },
    )
    .await?;
    let v = read(&ctx, move |b, _| {
        let packages = ids
            .iter()
            .filter_map(|id| b.packages.get(id))
            .map(|r| BatchItem {
                package: r.package.id.clone(),
                status: r.status,
                provider: r.provider.clone(),
                stage: r.stage,
                open_offers: b
                    .offers
                    .values()
                    .filter(|o| o.package == r.package.id && o.status == OfferStatus::Open)
                    .count(),
            })
            .collect();
        Ok(BatchResult {
            packages,
            events: events.len(),
        })
    })
    .await?;
    json_reply(StatusCode::OK, &v)
}

/// `POST /v1/recommendations?k=`: the top-k placements for a package, not yet referred.
async fn recommend(ctx: RequestCtx) -> Result<Response, ApiError> {
    let body: ReferralBody = ctx.json()?;
    let k = ctx.query_u64("k")?.unwrap_or(5);
    if !(1..=50).contains(&k) {
        return Err(ApiError::BadParameter {
            path: "k".into(),
            detail: "k must be 1-50".into(),
        });
    }
    let v = read(&ctx, move |b, now| {
        let t0 = std::time::Instant::now();
        b.validate_referral(&body.package, &body.service_user)
            .map_err(|e| map_err(ServiceError::Broker(e)))?;
        let beside_others = InFlight::enter();
        let report = if beside_others.alone() {
            b.candidates_at(&body.package, &body.service_user, now)
        } else {
            b.candidates_at_sequential(&body.package, &body.service_user, now)
        };
        drop(beside_others);
        let recommendations = report
            .fitting
            .iter()
            .take(k as usize)
            .enumerate()
            .map(|(i, c)| Recommendation {
                rank: i + 1,
                provider: c.provider.clone(),
                provider_name: c.provider_name.clone(),
                tier: c.tier,
                block_contract: c.block,
                auto_accept: c.auto_accept,
                team: c.fit.team.clone(),
                carers: c.fit.carers.clone(),
                known_carers: c.fit.known_carers.clone(),
                extra_travel_min: c.fit.extra_travel_min,
                cost_delta: c.fit.cost_delta,
                care_min: c.fit.care_min,
                explanation: c.fit.explanation.clone(),
            })
            .collect();
        let not_fitting = report
            .not_fitting
            .iter()
            .map(|c| NotFitting {
                provider: c.provider.clone(),
                team: c.fit.team.clone(),
                tier: c.tier,
                explanation: c.fit.explanation.clone(),
                reasons: c.fit.reasons.clone(),
            })
            .collect();
        let excluded = serde_json::to_value(&report.excluded)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(Recommendations {
            package: body.package.id,
            stage_order: report.stage_order,
            recommendations,
            not_fitting,
            excluded,
            teams_checked: report.teams_checked,
            elapsed_ms: t0.elapsed().as_secs_f64() * 1000.0,
        })
    })
    .await?;
    json_reply(StatusCode::OK, &v)
}

/// Recommendations being computed now. One alone fans its fit checks out
/// over every core; several at once each run theirs on their own thread (the
/// cores are busy either way, and fanning out would only interleave them).
static RECOMMENDING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// One recommendation counted in [`RECOMMENDING`] while it lives.
struct InFlight(usize);

impl InFlight {
    fn enter() -> Self {
        InFlight(RECOMMENDING.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
    }

    /// Whether no other recommendation was running when this one began.
    fn alone(&self) -> bool {
        self.0 == 0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        RECOMMENDING.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A referral sent straight to a chosen provider team.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ApplyRecommendation)]
struct ApplyBody {
    package: Package,
    service_user: ServiceUser,
    provider: String,
    team: String,
    /// Required when the offer skips a fitting earlier stage's first refusal:
    /// person_choice, specialist_need, continuity_with_existing_carer,
    /// safeguarding or other (with a note).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    override_reason: Option<OverrideReason>,
    /// Why, in words (required for `other`; at most 2000 characters).
    #[serde(default)]
    override_note: Option<String>,
}

/// `POST /v1/recommendations/apply`: refer the package straight to the chosen team.
async fn apply_recommendation(ctx: RequestCtx) -> Result<Response, ApiError> {
    let body: ApplyBody = ctx.json()?;
    let id = body.package.id.clone();
    let why = OverrideRequest {
        reason: body.override_reason,
        note: body.override_note,
        by: ctx.principal().ok().map(|p| p.key_id.clone()),
    };
    let (package, user, team) = (
        body.package.clone(),
        body.service_user.clone(),
        body.team.clone(),
    );
    command_prepared(
        &ctx,
        "apply_recommendation",
        false,
        move |b, now| b.prepare_direct(&package, &user, &team, now),
        move |b, now, prepared| {
            b.refer_to_prepared(
                body.package,
                body.service_user,
                &body.provider,
                &body.team,
                &why,
                now,
                prepared,
            )
        },
    )
    .await?;
    let v = read(&ctx, move |b, _| package_json(b, &id)).await?;
    json_reply(StatusCode::CREATED, &v)
}
