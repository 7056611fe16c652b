//! HTTP errors as `application/problem+json` (RFC 9457) with stable codes.
//!
//! Every error body has the same shape: `type`, `title`, `status`, a stable
//! snake_case `code`, a human `detail`, the JSON `path` of the bad field or the
//! name of the bad parameter where there is one, every validation `issues`
//! entry for 422, and the `request_id` also sent as `X-Request-Id`.
//! The one table mapping variants to `(code, status)` is
//! [`ApiError::code_and_status`].

use carefill_solver::format::Issue;
use serde::Serialize;
use std::convert::Infallible;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;
use warp::{Rejection, Reply};

/// Seconds a client is told to wait (`Retry-After`) on a 503.
pub const RETRY_AFTER_S: u32 = 2;

/// Everything the API can answer with besides success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON of the expected shape.
    #[error("malformed JSON at {path}: {detail}")]
    BadJson {
        /// JSON path.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// A query or path parameter is missing, unknown or out of range.
    #[error("bad parameter {path}: {detail}")]
    BadParameter {
        /// Parameter name.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// The request is well-formed but invalid; every issue is listed.
    #[error("invalid request ({} issues): {}", .0.len(), .0.iter().take(3).map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Issue>),
    /// Wrong content type.
    #[error("unsupported media type: send application/json")]
    UnsupportedMediaType,
    /// Body too large.
    #[error("request body too large (limit {0} bytes)")]
    TooLarge(u64),
    /// No credentials, or credentials that match no key (401).
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated, but this role or scope may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// No such resource.
    #[error("not found: {0}")]
    NotFound(String),
    /// No route has this path (code `route_not_found`, distinct from a missing resource).
    #[error("no route for {0}; see /openapi.json")]
    RouteNotFound(String),
    /// The path exists but not for this method; `Allow` lists the methods that do.
    #[error("method not allowed; allowed: {}", .0.join(", "))]
    MethodNotAllowed(Vec<&'static str>),
    /// The resource is not in a state that allows this (e.g. a job still running).
    #[error("{detail}")]
    Conflict {
        /// Stable code, e.g. `job_not_finished`.
        code: &'static str,
        /// What is wrong.
        detail: String,
        /// Seconds to wait before trying again (`Retry-After`), if it will change.
        retry_after: Option<u32>,
    },
    /// Well-formed but refused by the domain rules (e.g. an invalid referral).
    #[error("{detail}")]
    Unprocessable {
        /// Stable code.
        code: &'static str,
        /// What is wrong, naming the field.
        detail: String,
    },
    /// The database is unavailable; nothing was changed.
    #[error("storage unavailable: {0}")]
    StorageUnavailable(String),
    /// All solve slots are busy (synchronous solve).
    #[error("all solver slots are busy; retry shortly")]
    Busy,
    /// The job queue or job store is full.
    #[error("{0}")]
    QueueFull(String),
    /// The service is shutting down.
    #[error("the service is shutting down")]
    ShuttingDown,
    /// This process is a reader replica; another holds the broker's writer lease.
    #[error("{0}")]
    ReadReplica(String),
    /// A bug: never expected. The detail is logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl warp::reject::Reject for ApiError {}

/// An error answer (`application/problem+json`, RFC 9457).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Problem)]
pub(crate) struct Problem<'a> {
    /// `https://carefill.example/errors/{code}`.
    #[serde(rename = "type")]
    kind: String,
    /// The HTTP status's reason phrase.
    #[schema(value_type = String)]
    title: &'a str,
    /// The HTTP status.
    status: u16,
    /// Stable, e.g. malformed_json, invalid_request, unauthorized, forbidden,
    /// not_found, route_not_found, method_not_allowed, body_too_large,
    /// unsupported_media_type, bad_parameter, solver_busy, queue_full, job_not_finished.
    #[schema(value_type = String)]
    code: &'a str,
    /// What is wrong, for a person.
    detail: String,
    /// JSON path of the bad field, or the bad parameter's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    path: Option<&'a str>,
    /// Every validation issue (422 invalid_request).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Issue>>)]
    issues: Option<&'a [Issue]>,
    /// This request's id (also in `X-Request-Id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    request_id: Option<&'a str>,
}

impl ApiError {
    /// Stable code and HTTP status: the one table of them.
    pub fn code_and_status(&self) -> (&'static str, StatusCode) {
        match self {
            ApiError::BadJson { .. } => ("malformed_json", StatusCode::BAD_REQUEST),
            ApiError::BadParameter { .. } => ("bad_parameter", StatusCode::BAD_REQUEST),
            ApiError::Invalid(_) => ("invalid_request", StatusCode::UNPROCESSABLE_ENTITY),
            ApiError::UnsupportedMediaType => {
                ("unsupported_media_type", StatusCode::UNSUPPORTED_MEDIA_TYPE)
            }
            ApiError::TooLarge(_) => ("body_too_large", StatusCode::PAYLOAD_TOO_LARGE),
            ApiError::Unauthorized(_) => ("unauthorized", StatusCode::UNAUTHORIZED),
            ApiError::Forbidden(_) => ("forbidden", StatusCode::FORBIDDEN),
            ApiError::NotFound(_) => ("not_found", StatusCode::NOT_FOUND),
            ApiError::RouteNotFound(_) => ("route_not_found", StatusCode::NOT_FOUND),
            ApiError::MethodNotAllowed(_) => ("method_not_allowed", StatusCode::METHOD_NOT_ALLOWED),
            ApiError::Conflict { code, .. } => (code, StatusCode::CONFLICT),
            ApiError::Unprocessable { code, .. } => (code, StatusCode::UNPROCESSABLE_ENTITY),
            ApiError::StorageUnavailable(_) => {
                ("storage_unavailable", StatusCode::SERVICE_UNAVAILABLE)
            }
            ApiError::Busy => ("solver_busy", StatusCode::SERVICE_UNAVAILABLE),
            ApiError::QueueFull(_) => ("queue_full", StatusCode::SERVICE_UNAVAILABLE),
            ApiError::ShuttingDown => ("shutting_down", StatusCode::SERVICE_UNAVAILABLE),
            ApiError::ReadReplica(_) => ("read_replica", StatusCode::SERVICE_UNAVAILABLE),
            ApiError::Internal(_) => ("internal_error", StatusCode::INTERNAL_SERVER_ERROR),
        }
    }

    /// The problem+json answer, carrying `request_id` when there is one.
    pub fn to_response(&self, request_id: Option<&str>) -> Response {
        let (code, status) = self.code_and_status();
        let path = match self {
            ApiError::BadJson { path, .. } | ApiError::BadParameter { path, .. } => {
                Some(path.as_str())
            }
            _ => None,
        };
        let issues = match self {
            ApiError::Invalid(i) => Some(i.as_slice()),
            _ => None,
        };
        let detail = match self {
            // Internal details go to the log (with the request id), not to the client.
            ApiError::Internal(_) => {
                "internal error; quote the request id when reporting it".to_string()
            }
            other => other.to_string(),
        };
        let body = Problem {
            kind: format!("https://carefill.example/errors/{code}"),
            title: status.canonical_reason().unwrap_or("error"),
            status: status.as_u16(),
            code,
            detail,
            path,
            issues,
            request_id,
        };
        let mut resp = warp::reply::with_status(warp::reply::json(&body), status).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match self {
            ApiError::Busy
            | ApiError::QueueFull(_)
            | ApiError::ShuttingDown
            | ApiError::ReadReplica(_)
            | ApiError::StorageUnavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_S));
            }
            ApiError::Conflict {
                retry_after: Some(s),
                ..
            } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*s));
            }
            ApiError::Unauthorized(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"carefill\""),
                );
            }
            ApiError::MethodNotAllowed(allow) => {
                if let Ok(v) = HeaderValue::from_str(&allow.join(", ")) {
                    headers.insert(header::ALLOW, v);
                }
            }
            _ => {}
        }
        resp
    }
}

impl Reply for ApiError {
    fn into_response(self) -> Response {
        self.to_response(None)
    }
}

/// Turns warp's own rejections into problem+json answers. The router in
/// [`crate::server`] answers every request itself, so this is only a safety net.
pub(crate) async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    let err = if rejection.is_not_found() {
        ApiError::RouteNotFound("this path".into())
    } else if let Some(e) = rejection.find::<ApiError>() {
        ApiError::Internal(e.to_string())
    } else {
        ApiError::Internal(format!("{rejection:?}"))
    };
    Ok(err.into_response())
}
