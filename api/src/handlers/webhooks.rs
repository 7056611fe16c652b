//! Webhook subscriptions and their delivery log (admin only); the sending is
//! in [`crate::webhooks`], the payloads and signature in docs/webhooks.md.

use super::access::ADMIN_ONLY;
use super::broker::{map_err as broker_err, read, service};
use crate::broker_service::{BrokerService, ServiceError};
use crate::http::openapi::{Schemas, add};
use crate::http::{
    Access, Answer, ApiError, Method, ParamKind, QueryParam, RequestCtx, RouteSpec, blocking,
    json_reply,
};
use crate::webhooks::{Delivery, DeliveryStatus, NewSubscription, Subscription, WebhookError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;

/// This resource's routes (see [`super::table`]).
pub(super) const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        id: "createWebhook",
        method: Method::Post,
        path: "/v1/webhooks",
        access: Access::Roles(ADMIN_ONLY),
        tag: "broker",
        summary: "Subscribe a URL to signed event deliveries",
        description: "Body {url, secret, kinds, provider?, description?}. With `provider`, only that provider's events \
                      (its offers, packages, visits and their alerts) are delivered. Deliveries are signed \
                      `Carefill-Signature: t=...,v1=<hex HMAC-SHA256(secret, t + \".\" + body)>` and retried with backoff; \
                      see docs/webhooks.md. The secret is never shown again.",
        query: &[],
        request: Some("NewWebhook"),
        response: Answer {
            status: 201,
            schema: "Webhook",
        },
        errors: &[],
        handler: |c| Box::pin(create(c)),
    },
    RouteSpec {
        id: "listWebhooks",
        method: Method::Get,
        path: "/v1/webhooks",
        access: Access::Roles(ADMIN_ONLY),
        tag: "broker",
        summary: "Webhook subscriptions",
        description: "With counts of pending, delivered and failed deliveries.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "WebhookList",
        },
        errors: &[],
        handler: |c| Box::pin(list(c)),
    },
    RouteSpec {
        id: "getWebhook",
        method: Method::Get,
        path: "/v1/webhooks/{webhook_id}",
        access: Access::Roles(ADMIN_ONLY),
        tag: "broker",
        summary: "One webhook subscription",
        description: "",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "Webhook",
        },
        errors: &[404],
        handler: |c| Box::pin(get(c)),
    },
    RouteSpec {
        id: "deleteWebhook",
        method: Method::Delete,
        path: "/v1/webhooks/{webhook_id}",
        access: Access::Roles(ADMIN_ONLY),
        tag: "broker",
        summary: "Remove a subscription and its delivery log",
        description: "Pending deliveries are not sent.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "Webhook",
        },
        errors: &[404],
        handler: |c| Box::pin(delete(c)),
    },
    RouteSpec {
        id: "webhookDeliveries",
        method: Method::Get,
        path: "/v1/webhooks/{webhook_id}/deliveries",
        access: Access::Roles(ADMIN_ONLY),
        tag: "broker",
        summary: "A subscription's delivery log, newest first",
        description: "Each delivery's status (pending, delivered, failed), attempts, next attempt, last HTTP status and error, and the body sent.",
        query: &[
            QueryParam {
                name: "status",
                kind: ParamKind::String,
                required: false,
                description: "pending | delivered | failed",
            },
            QueryParam {
                name: "limit",
                kind: ParamKind::Integer,
                required: false,
                description: "Most deliveries returned, 1-500 (default 100).",
            },
        ],
        request: None,
        response: Answer {
            status: 200,
            schema: "WebhookDeliveries",
        },
        errors: &[404],
        handler: |c| Box::pin(deliveries(c)),
    },
];

/// This resource's schemas.
pub(super) fn schemas(out: &mut Schemas) {
    add::<NewSubscription>(out);
    add::<WebhookView>(out);
    add::<WebhookList>(out);
    add::<DeliveryList>(out);
}

/// A subscription as shown (never the secret).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Webhook)]
struct WebhookView {
    id: String,
    url: String,
    kinds: Vec<String>,
    /// The provider whose events it receives; absent = the brokerage.
    provider: Option<String>,
    description: Option<String>,
    created_at: DateTime<Utc>,
    created_by: String,
    /// Deliveries dropped because too many were pending.
    dropped: u64,
}

/// Every subscription.
#[derive(Debug, Serialize, ToSchema)]
struct WebhookList {
    webhooks: Vec<WebhookView>,
}

/// A subscription's deliveries.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WebhookDeliveries)]
struct DeliveryList {
    webhook: String,
    deliveries: Vec<Delivery>,
}

fn view(s: Subscription) -> WebhookView {
    WebhookView {
        id: s.id,
        url: s.url,
        kinds: s.kinds,
        provider: s.provider,
        description: s.description,
        created_at: s.created_at,
        created_by: s.created_by,
        dropped: s.dropped,
    }
}

/// Commands run on the writer only: a reader replica answers 503 read_replica.
fn writer(svc: &BrokerService) -> Result<(), ApiError> {
    if svc.is_writer() {
        Ok(())
    } else {
        Err(broker_err(ServiceError::ReadReplica))
    }
}

/// A reader replica's log is refreshed from the store before it is shown.
fn refresh(svc: &BrokerService) -> Result<(), ApiError> {
    if svc.is_writer() {
        return Ok(());
    }
    svc.webhooks()
        .reload()
        .map_err(|e| ApiError::StorageUnavailable(e.to_string()))
}

fn map_err(e: WebhookError) -> ApiError {
    match e {
        WebhookError::Invalid(issues) => ApiError::Invalid(issues),
        WebhookError::Unknown(id) => ApiError::NotFound(format!("unknown webhook `{id}`")),
        WebhookError::Store(e) => ApiError::StorageUnavailable(e.to_string()),
    }
}

/// `POST /v1/webhooks`.
async fn create(ctx: RequestCtx) -> Result<Response, ApiError> {
    let new: NewSubscription = ctx.json()?;
    let svc = service(&ctx)?;
    writer(&svc)?;
    let providers: Vec<String> = read(&ctx, |b, _| {
        Ok(b.roster.providers.iter().map(|p| p.id.clone()).collect())
    })
    .await?;
    let by = ctx.principal()?.key_id.clone();
    let sub = blocking(move || {
        svc.webhooks()
            .create(new, &by, |p| providers.iter().any(|x| x == p))
            .map_err(map_err)
    })
    .await?;
    if let Some(b) = &ctx.state.broker {
        b.webhooks().start();
    }
    json_reply(StatusCode::CREATED, &view(sub))
}

/// `GET /v1/webhooks`.
async fn list(ctx: RequestCtx) -> Result<Response, ApiError> {
    let svc = service(&ctx)?;
    refresh(&svc)?;
    let webhooks = svc.webhooks().list().into_iter().map(view).collect();
    json_reply(StatusCode::OK, &WebhookList { webhooks })
}

/// `GET /v1/webhooks/{webhook_id}`.
async fn get(ctx: RequestCtx) -> Result<Response, ApiError> {
    let svc = service(&ctx)?;
    refresh(&svc)?;
    let sub = svc
        .webhooks()
        .get(ctx.param("webhook_id")?)
        .map_err(map_err)?;
    json_reply(StatusCode::OK, &view(sub))
}

/// `DELETE /v1/webhooks/{webhook_id}`.
async fn delete(ctx: RequestCtx) -> Result<Response, ApiError> {
    let svc = service(&ctx)?;
    writer(&svc)?;
    let id = ctx.param("webhook_id")?.to_string();
    let sub = blocking(move || svc.webhooks().delete(&id).map_err(map_err)).await?;
    json_reply(StatusCode::OK, &view(sub))
}

/// `GET /v1/webhooks/{webhook_id}/deliveries?status=&limit=`.
async fn deliveries(ctx: RequestCtx) -> Result<Response, ApiError> {
    let svc = service(&ctx)?;
    let id = ctx.param("webhook_id")?.to_string();
    let status = match ctx.query_str("status") {
        None => None,
        Some("pending") => Some(DeliveryStatus::Pending),
        Some("delivered") => Some(DeliveryStatus::Delivered),
        Some("failed") => Some(DeliveryStatus::Failed),
        Some(other) => {
            return Err(ApiError::BadParameter {
                path: "status".into(),
                detail: format!("`{other}` is not pending, delivered or failed"),
            });
        }
    };
    let limit = ctx.query_u64("limit")?.unwrap_or(100);
    refresh(&svc)?;
    if !(1..=500).contains(&limit) {
        return Err(ApiError::BadParameter {
            path: "limit".into(),
            detail: format!("{limit} is not 1-500"),
        });
    }
    let list = svc
        .webhooks()
        .deliveries(&id, status, limit as usize)
        .map_err(map_err)?;
    json_reply(
        StatusCode::OK,
        &DeliveryList {
            webhook: id,
            deliveries: list,
        },
    )
}
