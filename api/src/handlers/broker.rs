//! What the broker-backed handlers share: reaching the broker, running a
//! command or a read on the blocking pool, mapping its errors to HTTP, and the
//! scope checks on teams and carers.

use crate::auth::Principal;
use crate::broker_service::{BrokerService, ServiceError};
use crate::http::{ApiError, RequestCtx, blocking, json_reply};
use carefill_solver::broker::reports::fill_minutes;
use carefill_solver::broker::{Broker, BrokerError, BrokerEvent, PackageStatus, Prepared};
use carefill_solver::format::{Issue, IssueCode};
use std::sync::Arc;
use warp::http::StatusCode;
use warp::reply::Response;

/// The broker; 404 when the service runs without one.
pub(super) fn service(ctx: &RequestCtx) -> Result<Arc<BrokerService>, ApiError> {
    ctx.state.broker.clone().ok_or_else(|| {
        ApiError::NotFound(
            "this service runs without a broker (start it with --db or --demo)".into(),
        )
    })
}

/// The HTTP answer to a broker or storage error.
pub(super) fn map_err(e: ServiceError) -> ApiError {
    match e {
        ServiceError::Store(e) => ApiError::StorageUnavailable(e.to_string()),
        ServiceError::ReadReplica => ApiError::ReadReplica(e.to_string()),
        ServiceError::Broker(e) => {
            let detail = e.to_string();
            match e {
                BrokerError::InvalidFields(issues) => ApiError::Invalid(issues),
                // A rule refusing the request as a whole: one issue at the body's root.
                BrokerError::Invalid(m) => {
                    ApiError::Invalid(vec![Issue::new("$", IssueCode::Refused, m)])
                }
                BrokerError::UnknownPackage(_)
                | BrokerError::UnknownOffer(_)
                | BrokerError::UnknownProvider(_)
                | BrokerError::UnknownTeam(_)
                | BrokerError::UnknownCarer(_)
                | BrokerError::UnknownVisit(_) => ApiError::NotFound(detail),
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

/// Runs a broker command on the blocking pool (stored and audited under the
/// caller's key id), then updates the broker gauges.
pub(super) async fn command<F>(
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

/// [`command`] whose candidate search `search` runs first on the readers'
/// snapshot, outside the writer (see [`BrokerService::execute_prepared`]);
/// a `bulk` search (a batch's) on its own threads.
pub(super) async fn command_prepared<P, S, F>(
    ctx: &RequestCtx,
    name: &'static str,
    bulk: bool,
    search: S,
    f: F,
) -> Result<Vec<BrokerEvent>, ApiError>
where
    P: Prepared + Send + 'static,
    S: FnOnce(&Broker, chrono::DateTime<chrono::Utc>) -> Option<P> + Send + 'static,
    F: FnOnce(
            &mut Broker,
            chrono::DateTime<chrono::Utc>,
            Option<P>,
        ) -> Result<Vec<BrokerEvent>, BrokerError>
        + Send
        + 'static,
{
    let svc = service(ctx)?;
    let who = ctx
        .principal()
        .map(|p| p.key_id.clone())
        .unwrap_or_else(|_| "anonymous".into());
    let s2 = svc.clone();
    let events = blocking(move || {
        if bulk {
            s2.execute_prepared_bulk(&who, name, search, f)
        } else {
            s2.execute_prepared(&who, name, search, f)
        }
        .map_err(map_err)
    })
    .await?;
    observe(ctx, &svc, &events);
    Ok(events)
}

/// Reads the broker on the blocking pool.
pub(super) async fn read<T, F>(ctx: &RequestCtx, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Broker, chrono::DateTime<chrono::Utc>) -> Result<T, ApiError> + Send + 'static,
{
    let svc = service(ctx)?;
    blocking(move || svc.read(f)).await
}

/// 422 when the body's id is not the path's (ids never change).
pub(super) fn same_id(path_id: &str, body_id: &str) -> Result<(), ApiError> {
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
pub(super) fn require_team(b: &Broker, who: &Principal, team: &str) -> Result<(), ApiError> {
    let t = b
        .roster
        .teams
        .iter()
        .find(|t| t.id == team)
        .ok_or_else(|| ApiError::NotFound(format!("unknown team `{team}`")))?;
    who.require_team(&t.id, t.provider.as_deref())
}

/// The carer's current team, after checking the key may act for it.
pub(super) fn require_carer(b: &Broker, who: &Principal, carer: &str) -> Result<String, ApiError> {
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

/// 201 for a new record, 200 for a replaced one.
pub(super) fn saved_reply<T: serde::Serialize>(created: bool, v: &T) -> Result<Response, ApiError> {
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    json_reply(status, v)
}
