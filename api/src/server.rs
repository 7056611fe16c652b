//! The router, request ids, access logs, metrics, and serving with graceful shutdown.
//!
//! warp hands every request to [`dispatch`], which matches it against the
//! route table ([`crate::routes::ROUTES`]) and does, in order: request id
//! (`X-Request-Id` taken from the request when it is 1–128 visible ASCII
//! characters, generated otherwise, echoed in the response and in error
//! bodies); route match (404, or 405 with `Allow`); authentication and role
//! (401 with `WWW-Authenticate: Bearer`, 403); query parameters (400 for an
//! unknown or missing one); for routes with a body, `Content-Type:
//! application/json` (415) and the size limit (413, checked on the declared
//! length and while reading); the handler. Each answer is counted in the
//! metrics and logged with method, route template, status, latency, request
//! id and key id — never bodies, query strings or personal data.

use crate::auth::Principal;
use crate::error::ApiError;
use crate::metrics::UNMATCHED_ROUTE;
use crate::routes::{self, Access, Method, RequestCtx, RouteSpec};
use crate::state::{AppState, MAX_BODY_BYTES};
use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use std::convert::Infallible;
use std::time::Instant;
use warp::Filter;
use warp::http::{HeaderMap, HeaderValue, header};
use warp::path::FullPath;
use warp::reply::Response;

/// Request-id header.
pub const REQUEST_ID: &str = "x-request-id";

/// The whole service as one warp filter (also usable with `warp::test`).
pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone {
    let query = warp::query::raw().or(warp::any().map(String::new)).unify();
    let api = warp::method()
        .and(warp::path::full())
        .and(query)
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .and(warp::any().map(move || state.clone()))
        .then(
            |method: warp::http::Method,
             path: FullPath,
             query: String,
             headers: HeaderMap,
             body,
             state: AppState| async move {
                dispatch(state, method, path.as_str(), &query, headers, body).await
            },
        )
        .recover(crate::error::recover)
        .unify();
    crate::console::filter().or(api).unify()
}

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| {
            crate::auth::random_hex(12).unwrap_or_else(|_| {
                format!(
                    "t{}",
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_nanos())
                )
            })
        })
}

/// Answers one request; see the module docs for the order of checks.
pub async fn dispatch<S, B>(
    state: AppState,
    method: warp::http::Method,
    path: &str,
    query: &str,
    headers: HeaderMap,
    body: S,
) -> Response
where
    S: Stream<Item = Result<B, warp::Error>> + Send,
    B: Buf,
{
    let started = Instant::now();
    let request_id = request_id(&headers);
    let matched = routes::find(Method::from_http(&method), path);
    let route_label = matched.as_ref().map_or(UNMATCHED_ROUTE, |(r, _)| r.path);
    let mut key_id = None;
    let result = match matched {
        Err(e) => Err(e),
        Ok((route, params)) => match prepare(&state, route, query, &headers).await {
            Err(e) => Err(e),
            Ok((principal, query)) => {
                key_id = principal.as_ref().map(|p| p.key_id.clone());
                match read_body(route, &headers, body).await {
                    Err(e) => Err(e),
                    Ok(body) => {
                        let ctx = RequestCtx {
                            state: state.clone(),
                            route,
                            principal,
                            request_id: request_id.clone(),
                            headers,
                            body,
                            params,
                            query,
                        };
                        (route.handler)(ctx).await
                    }
                }
            }
        },
    };
    let mut response = match result {
        Ok(r) => r,
        Err(e) => {
            if let ApiError::Internal(detail) = &e {
                tracing::error!(request_id = %request_id, route = route_label, detail = %detail, "internal error");
            }
            e.to_response(Some(&request_id))
        }
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, v);
    }
    let status = response.status().as_u16();
    let seconds = started.elapsed().as_secs_f64();
    state
        .metrics
        .observe_request(method.as_str(), route_label, status, seconds);
    tracing::info!(
        target: "carefill::http",
        request_id = %request_id,
        method = %method,
        route = route_label,
        status,
        latency_ms = seconds * 1000.0,
        key = key_id.as_deref().unwrap_or("-"),
        "request"
    );
    response
}

/// Authentication, role and query checks.
async fn prepare(
    state: &AppState,
    route: &'static RouteSpec,
    query: &str,
    headers: &HeaderMap,
) -> Result<(Option<Principal>, Vec<(String, String)>), ApiError> {
    let principal = match route.access {
        Access::Public => None,
        Access::Roles(_) => {
            let auth = headers
                .get(header::AUTHORIZATION)
                .map(|v| v.to_str().unwrap_or(""));
            let principal = state.keys.authorize_header(auth)?;
            if !route.access.allows(principal.role) {
                return Err(ApiError::Forbidden(format!(
                    "role {} may not call {} {}",
                    principal.role,
                    route.method.as_str(),
                    route.path
                )));
            }
            Some(principal.clone())
        }
    };
    let query = routes::parse_query(query)?;
    for (name, _) in &query {
        if !route.query.iter().any(|q| q.name == name) {
            let known: Vec<&str> = route.query.iter().map(|q| q.name).collect();
            return Err(ApiError::BadParameter {
                path: name.clone(),
                detail: if known.is_empty() {
                    "this route takes no query parameters".to_string()
                } else {
                    format!(
                        "unknown query parameter; this route takes {}",
                        known.join(", ")
                    )
                },
            });
        }
    }
    for q in route.query.iter().filter(|q| q.required) {
        if !query.iter().any(|(n, _)| n == q.name) {
            return Err(ApiError::BadParameter {
                path: q.name.to_string(),
                detail: "required query parameter is missing".into(),
            });
        }
    }
    Ok((principal, query))
}

/// Reads the body of routes that take one, enforcing type and size.
async fn read_body<S, B>(route: &RouteSpec, headers: &HeaderMap, body: S) -> Result<Bytes, ApiError>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    if route.request.is_none() {
        return Ok(Bytes::new());
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            let ct = ct.trim().to_ascii_lowercase();
            ct == "application/json" || ct.starts_with("application/json;")
        });
    if !json {
        return Err(ApiError::UnsupportedMediaType);
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(ApiError::TooLarge(MAX_BODY_BYTES));
    }
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(0).min(MAX_BODY_BYTES) as usize);
    let mut body = std::pin::pin!(body);
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(|e| ApiError::BadJson {
            path: "$".into(),
            detail: format!("cannot read the body: {e}"),
        })?;
        if (buf.len() + chunk.remaining()) as u64 > MAX_BODY_BYTES {
            return Err(ApiError::TooLarge(MAX_BODY_BYTES));
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            let n = part.len();
            buf.extend_from_slice(part);
            chunk.advance(n);
        }
    }
    Ok(buf.freeze())
}

/// Serves on `listener` until `shutdown` resolves; then cancels running and
/// queued solves (each job keeps its best rota so far), stops accepting, and
/// waits at most `drain_timeout` for in-flight requests before returning.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let draining = std::sync::Arc::new(tokio::sync::Notify::new());
    let signal = {
        let state = state.clone();
        let draining = draining.clone();
        async move {
            shutdown.await;
            tracing::info!("shutdown: cancelling solves, draining in-flight requests");
            state.begin_shutdown();
            draining.notify_one();
        }
    };
    let drain_timeout = state.config.drain_timeout;
    let server = warp::serve(routes(state))
        .incoming(listener)
        .graceful(signal)
        .run();
    let deadline = async {
        draining.notified().await;
        tokio::time::sleep(drain_timeout).await;
    };
    tokio::select! {
        () = server => tracing::info!("shutdown: drained"),
        () = deadline => tracing::warn!(?drain_timeout, "shutdown: drain timed out; closing"),
    }
}
