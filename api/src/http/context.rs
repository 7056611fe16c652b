//! [`RequestCtx`]: everything a handler gets, what a [`Handler`] is, and the
//! helpers handlers answer with.

use super::error::ApiError;
use crate::auth::Principal;
use crate::state::AppState;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::pin::Pin;
use warp::Reply;
use warp::http::{HeaderMap, StatusCode};
use warp::reply::Response;

/// The boxed future a handler returns.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Response, ApiError>> + Send>>;
/// A handler: the end of a route.
pub type Handler = fn(RequestCtx) -> HandlerFuture;

/// Path parameters: (name in the template, decoded value).
pub type PathParams = Vec<(&'static str, String)>;

/// What a handler gets: the state, the matched route, the caller, parameters and body.
#[derive(Debug)]
pub struct RequestCtx {
    /// Shared state.
    pub state: AppState,
    /// The matched route's operation id.
    pub route_id: &'static str,
    /// The caller (`None` on public routes).
    pub principal: Option<Principal>,
    /// This request's id (also in `X-Request-Id` and in error bodies).
    pub request_id: String,
    /// Request headers.
    pub headers: HeaderMap,
    /// The body (empty for routes without `request`).
    pub body: bytes::Bytes,
    /// Path parameters.
    pub params: PathParams,
    /// Decoded query parameters (only names the route declares).
    pub query: Vec<(String, String)>,
}

impl RequestCtx {
    /// The caller; an internal error on a public route (a table mistake).
    pub fn principal(&self) -> Result<&Principal, ApiError> {
        self.principal
            .as_ref()
            .ok_or_else(|| ApiError::Internal(format!("{} has no caller", self.route_id)))
    }

    /// A path parameter declared in the template. An id parameter (`*_id`)
    /// breaking the one id rule is 400 naming it: no such record can exist.
    pub fn param(&self, name: &str) -> Result<&str, ApiError> {
        let value = self
            .params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| {
                ApiError::Internal(format!("{} has no parameter {name}", self.route_id))
            })?;
        // Concrete visit ids are composed (`{package}/{pattern}@{date}`); every other id follows the id rule.
        let refused = if name == "visit_id" {
            carefill_solver::format::visit_id_error(value)
        } else if name.ends_with("_id") {
            carefill_solver::format::id_error(value)
        } else {
            None
        };
        if let Some(m) = refused {
            return Err(ApiError::BadParameter {
                path: name.to_string(),
                detail: m,
            });
        }
        Ok(value)
    }

    /// A query parameter as text (the last one when repeated).
    pub fn query_str(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A finite decimal query parameter.
    pub fn query_f64(&self, name: &str) -> Result<Option<f64>, ApiError> {
        self.query_str(name)
            .map(|v| {
                v.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| ApiError::BadParameter {
                        path: name.to_string(),
                        detail: format!("{v:?} is not a number"),
                    })
            })
            .transpose()
    }

    /// A non-negative integer query parameter.
    pub fn query_u64(&self, name: &str) -> Result<Option<u64>, ApiError> {
        self.query_str(name)
            .map(|v| {
                v.trim().parse::<u64>().map_err(|_| ApiError::BadParameter {
                    path: name.to_string(),
                    detail: format!("{v:?} is not a non-negative integer"),
                })
            })
            .transpose()
    }

    /// The body as UTF-8 text.
    pub fn body_text(&self) -> Result<&str, ApiError> {
        std::str::from_utf8(&self.body).map_err(|e| ApiError::BadJson {
            path: "$".into(),
            detail: format!("body is not UTF-8: {e}"),
        })
    }

    /// The body parsed as `T`; errors name the JSON path.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        parse_body(&self.body)
    }
}

/// Parses a JSON body as `T`; errors name the JSON path.
pub fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| ApiError::BadJson {
        path: "$".into(),
        detail: format!("body is not UTF-8: {e}"),
    })?;
    carefill_solver::format::parse_json(text).map_err(|i| ApiError::BadJson {
        path: i.path,
        detail: i.message,
    })
}

/// A JSON answer with `status`.
pub fn json_reply<T: Serialize>(status: StatusCode, value: &T) -> Result<Response, ApiError> {
    Ok(warp::reply::with_status(warp::reply::json(value), status).into_response())
}

/// Runs CPU work (parsing large bodies, solving, broker commands) on the blocking pool.
pub async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(format!("blocking task failed: {e}")))?
}
