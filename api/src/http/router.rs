//! The router: matching, request ids, checks before the handler, access logs and metrics.
//!
//! [`crate::server`] hands every request to [`dispatch`] with the route table
//! ([`crate::handlers::table`]); it matches the request against the table and does, in order: request id
//! (`X-Request-Id` taken from the request when it is 1–128 visible ASCII
//! characters, generated otherwise, echoed in the response and in error
//! bodies); route match (404, or 405 with `Allow`); authentication and role
//! (401 with `WWW-Authenticate: Bearer`, 403); query parameters (400 for an
//! unknown or missing one); for routes with a body, `Content-Type:
//! application/json` (415) and the size limit (413, checked on the declared
//! length and while reading); the handler. Each answer is counted in the
//! metrics and logged with method, route template, status, latency, request
//! id and key id — never bodies, query strings or personal data.

use super::context::{PathParams, RequestCtx};
use super::error::ApiError;
use super::query::{parse_query, percent_decode};
use super::route::{Access, Method, RouteSpec};
use crate::auth::Principal;
use crate::config::MAX_BODY_BYTES;
use crate::metrics::UNMATCHED_ROUTE;
use crate::state::AppState;
use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use std::time::Instant;
use warp::http::{HeaderMap, HeaderValue, header};
use warp::reply::Response;

/// Request-id header.
pub const REQUEST_ID: &str = "x-request-id";

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
    routes: &'static [RouteSpec],
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
    let matched = find(routes, Method::from_http(&method), path);
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
                            route_id: route.id,
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
    let query = parse_query(query)?;
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

/// The route for `method` and `path`: `Ok((route, path parameters))`, or the
/// 404/405 error the router answers with.
pub fn find(
    routes: &'static [RouteSpec],
    method: Option<Method>,
    path: &str,
) -> Result<(&'static RouteSpec, PathParams), ApiError> {
    let mut allowed = Vec::new();
    for route in routes {
        if let Some(params) = match_template(route.path, path) {
            if Some(route.method) == method {
                return Ok((route, params));
            }
            allowed.push(route.method.as_str());
        }
    }
    if allowed.is_empty() {
        Err(ApiError::RouteNotFound(path.to_string()))
    } else {
        Err(ApiError::MethodNotAllowed(allowed))
    }
}

/// Path parameters if `path` matches `template`.
pub fn match_template(template: &'static str, path: &str) -> Option<PathParams> {
    let mut want = template.trim_start_matches('/').split('/');
    let mut got = path.trim_start_matches('/').split('/');
    let mut params = Vec::new();
    loop {
        match (want.next(), got.next()) {
            (None, None) => return Some(params),
            (Some(w), Some(g)) => {
                if let Some(name) = w.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
                    if g.is_empty() {
                        return None;
                    }
                    params.push((name, percent_decode(g)?));
                } else if w != g {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::context::HandlerFuture;
    use crate::http::route::Answer;

    fn nothing(_: RequestCtx) -> HandlerFuture {
        Box::pin(async { Err(ApiError::NotFound("test".into())) })
    }

    const fn spec(method: Method, path: &'static str) -> RouteSpec {
        RouteSpec {
            id: path,
            method,
            path,
            access: Access::Public,
            tag: "test",
            summary: "",
            description: "",
            query: &[],
            request: None,
            response: Answer {
                status: 200,
                schema: "Health",
            },
            errors: &[],
            handler: nothing,
        }
    }

    static TABLE: &[RouteSpec] = &[
        spec(Method::Get, "/health"),
        spec(Method::Get, "/v1/rota/jobs/{job_id}"),
        spec(Method::Post, "/v1/rota/jobs/{job_id}"),
    ];

    #[test]
    fn templates_match_with_decoded_parameters() {
        let p = match_template(
            "/v1/rota/jobs/{job_id}/result",
            "/v1/rota/jobs/job%5F1/result",
        )
        .expect("match");
        assert_eq!(p, vec![("job_id", "job_1".to_string())]);
        assert!(match_template("/v1/rota/jobs/{job_id}", "/v1/rota/jobs/").is_none());
        assert!(match_template("/v1/rota/jobs/{job_id}", "/v1/rota/jobs/a/b").is_none());
        assert!(match_template("/health", "/health/").is_none());
    }

    #[test]
    fn find_tells_404_from_405() {
        assert!(find(TABLE, Some(Method::Get), "/health").is_ok());
        let err = find(TABLE, Some(Method::Post), "/health").expect_err("405");
        assert_eq!(err.code_and_status().0, "method_not_allowed");
        let err = find(TABLE, Some(Method::Delete), "/v1/rota/jobs/j").expect_err("405");
        assert!(matches!(err, ApiError::MethodNotAllowed(ref m) if m == &["GET", "POST"]));
        let err = find(TABLE, Some(Method::Get), "/nope").expect_err("404");
        assert_eq!(err.code_and_status().0, "route_not_found");
    }
}
