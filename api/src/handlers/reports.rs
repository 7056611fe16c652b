//! Broker reports (fill times, offers, unfilled, capacity, ledger, alerts) and
//! the risk pool's year-end close.

use super::access::{ADMIN_ONLY, BROKER_ROLES};
use super::broker::{command, read};
use crate::http::openapi::{Schemas, add, add_free_form};
use crate::http::{Access, Answer, ApiError, Method, RequestCtx, RouteSpec, json_reply};
use serde::Deserialize;
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;

/// This resource's routes (see [`super::table`]).
pub(super) const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        id: "getReport",
        method: Method::Get,
        path: "/v1/reports/{report}",
        access: Access::Roles(BROKER_ROLES),
        tag: "broker",
        summary: "Broker reports",
        description: "report = fill-times (share within 1.5 h and 4 h by tier, provider, area, urgency), offers (acceptances and declines by reason), unfilled (with age), capacity (by area and date from today: spare carer-hours, demand and shortfall per period), ledger (risk pool, damages, balances), alerts (escalations, dropped visits with visit/person/team/visit_start/action, risk pool below threshold), overrides (out-of-order offers with reason, skipped stage and providers), risk-pool (balance, inflows and outflows by kind and by day, threshold), emergency-cover (single visits assigned to the standby team).",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "Report",
        },
        errors: &[404],
        handler: |c| Box::pin(report(c)),
    },
    RouteSpec {
        id: "closeYear",
        method: Method::Post,
        path: "/v1/ledger/close-year",
        access: Access::Roles(ADMIN_ONLY),
        tag: "broker",
        summary: "Year-end close of the risk pool",
        description: "Body {year}. The unspent pool moves to the quality improvement fund.",
        query: &[],
        request: Some("CloseYear"),
        response: Answer {
            status: 200,
            schema: "LedgerReport",
        },
        errors: &[],
        handler: |c| Box::pin(close_year(c)),
    },
];

/// `GET /v1/reports/{report}`.
async fn report(ctx: RequestCtx) -> Result<Response, ApiError> {
    let which = ctx.param("report")?.to_string();
    let v = read(&ctx, move |b, now| {
        let v = match which.as_str() {
            "fill-times" => serde_json::to_value(b.fill_time_report()),
            "offers" => serde_json::to_value(b.offers_report()),
            "unfilled" => serde_json::to_value(b.unfilled_report(now)),
            "capacity" => serde_json::to_value(b.capacity_map_at(now)),
            "ledger" => serde_json::to_value(b.ledger_report()),
            "alerts" => serde_json::to_value(&b.alerts),
            "overrides" => serde_json::to_value(b.overrides_report()),
            "risk-pool" => serde_json::to_value(b.risk_pool_report()),
            "emergency-cover" => serde_json::to_value(b.emergency_cover_report()),
            other => {
                return Err(ApiError::NotFound(format!(
                    "unknown report `{other}`; reports: fill-times, offers, unfilled, capacity, ledger, alerts, overrides, risk-pool, emergency-cover"
                )));
            }
        };
        v.map_err(|e| ApiError::Internal(e.to_string()))
    })
    .await?;
    json_reply(StatusCode::OK, &v)
}

/// This resource's schemas.
pub(super) fn schemas(out: &mut Schemas) {
    add::<CloseYearBody>(out);
    out.push((
        "Report".into(),
        <serde_json::Value as utoipa::PartialSchema>::schema(),
    ));
    add_free_form(
        out,
        "LedgerReport",
        "The risk pool: balance, inflows, outflows, damages and provider balances.",
    );
}

/// The year-end close of the risk pool.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CloseYear)]
struct CloseYearBody {
    /// A label like `2026/27`.
    year: String,
}

/// `POST /v1/ledger/close-year`.
async fn close_year(ctx: RequestCtx) -> Result<Response, ApiError> {
    let body: CloseYearBody = ctx.json()?;
    let bad = if body.year.trim().is_empty() {
        Some("a label like 2026/27, not empty".to_string())
    } else {
        carefill_solver::format::ids::text_error(&body.year, 20, false)
    };
    if let Some(m) = bad {
        return Err(ApiError::Invalid(vec![
            carefill_solver::format::Issue::new(
                "$.year",
                carefill_solver::format::IssueCode::InvalidText,
                m,
            ),
        ]));
    }
    command(&ctx, "close_year", move |b, now| {
        Ok(b.close_year(&body.year, now))
    })
    .await?;
    let v = read(&ctx, |b, _| Ok(b.ledger_report())).await?;
    json_reply(StatusCode::OK, &v)
}
