//! HTTP errors as `application/problem+json` (RFC 9457) with stable codes.

use carefill_solver::format::Issue;
use serde::Serialize;
use std::convert::Infallible;
use warp::http::{StatusCode, header};
use warp::reply::Response;
use warp::{Rejection, Reply};

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
    /// A query parameter is out of range.
    #[error("bad parameter {path}: {detail}")]
    BadParameter {
        /// Parameter name.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// The request is well-formed but invalid; every issue is listed.
    #[error("invalid request ({} issues)", .0.len())]
    Invalid(Vec<Issue>),
    /// Wrong content type.
    #[error("unsupported media type: send application/json")]
    UnsupportedMediaType,
    /// Body too large.
    #[error("request body too large")]
    TooLarge,
    /// No such resource.
    #[error("not found: {0}")]
    NotFound(String),
    /// Method not allowed.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// All solve slots are busy.
    #[error("all solver slots are busy; retry shortly")]
    Busy,
    /// A bug: never expected.
    #[error("internal error: {0}")]
    Internal(String),
}

impl warp::reject::Reject for ApiError {}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    code: &'a str,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    issues: Option<&'a [Issue]>,
}

impl ApiError {
    /// Stable code and HTTP status.
    pub fn code_and_status(&self) -> (&'static str, StatusCode) {
        match self {
            ApiError::BadJson { .. } => ("malformed_json", StatusCode::BAD_REQUEST),
            ApiError::BadParameter { .. } => ("bad_parameter", StatusCode::BAD_REQUEST),
            ApiError::Invalid(_) => ("invalid_request", StatusCode::UNPROCESSABLE_ENTITY),
            ApiError::UnsupportedMediaType => {
                ("unsupported_media_type", StatusCode::UNSUPPORTED_MEDIA_TYPE)
            }
            ApiError::TooLarge => ("body_too_large", StatusCode::PAYLOAD_TOO_LARGE),
            ApiError::NotFound(_) => ("not_found", crate::NOT_FOUND),
            ApiError::MethodNotAllowed => ("method_not_allowed", StatusCode::METHOD_NOT_ALLOWED),
            ApiError::Busy => ("solver_busy", StatusCode::SERVICE_UNAVAILABLE),
            ApiError::Internal(_) => ("internal_error", StatusCode::INTERNAL_SERVER_ERROR),
        }
    }
}

impl Reply for ApiError {
    fn into_response(self) -> Response {
        let (code, status) = self.code_and_status();
        let path = match &self {
            ApiError::BadJson { path, .. } | ApiError::BadParameter { path, .. } => {
                Some(path.as_str())
            }
            _ => None,
        };
        let issues = match &self {
            ApiError::Invalid(i) => Some(i.as_slice()),
            _ => None,
        };
        let body = Problem {
            kind: format!("https://carefill.example/errors/{code}"),
            title: status.canonical_reason().unwrap_or("error"),
            status: status.as_u16(),
            code,
            detail: self.to_string(),
            path,
            issues,
        };
        let mut resp = warp::reply::with_status(warp::reply::json(&body), status).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/problem+json"),
        );
        if matches!(self, ApiError::Busy) {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("2"));
        }
        resp
    }
}

/// Turns warp's rejections into problem+json answers.
pub(crate) async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    let err = if let Some(e) = rejection.find::<ApiError>() {
        match e {
            ApiError::UnsupportedMediaType => ApiError::UnsupportedMediaType,
            other => ApiError::Internal(other.to_string()),
        }
    } else if rejection.is_not_found() {
        ApiError::NotFound("no such route".into())
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        ApiError::TooLarge
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError::MethodNotAllowed
    } else if let Some(e) = rejection.find::<warp::reject::InvalidQuery>() {
        ApiError::BadParameter {
            path: "query".into(),
            detail: e.to_string(),
        }
    } else if rejection.find::<warp::reject::LengthRequired>().is_some() {
        ApiError::BadJson {
            path: "$".into(),
            detail: "a Content-Length is required".into(),
        }
    } else {
        ApiError::BadJson {
            path: "$".into(),
            detail: format!("{rejection:?}"),
        }
    };
    Ok(err.into_response())
}
