//! Shared helpers of the HTTP tests: a state with one demo key per role, and
//! the service as a warp filter whose every answer is checked against
//! `/openapi.json`.

use crate::contract::assert_documented;
use carefill_api::auth::DemoKeys;
use carefill_api::{AppState, Role, ServiceConfig};
use carefill_solver::testing::load_request;
use http_body_util::BodyExt;
use warp::Filter;
use warp::http::header::CONTENT_TYPE;
use warp::reply::Response;

/// [`carefill_api::routes`], with every response checked against the OpenAPI
/// document (route, status, content type and body schema) before the test sees it.
pub fn routes(
    state: AppState,
) -> impl Filter<Extract = (Response,), Error = std::convert::Infallible> + Clone {
    warp::method()
        .and(warp::path::full())
        .and(carefill_api::routes(state))
        .then(
            |method: warp::http::Method, path: warp::path::FullPath, resp: Response| async move {
                let (parts, body) = resp.into_parts();
                let bytes = body
                    .collect()
                    .await
                    .map(|c| c.to_bytes())
                    .unwrap_or_else(|e| panic!("reading the body of {}: {e}", path.as_str()));
                let content_type = parts
                    .headers
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok());
                assert_documented(
                    method.as_str(),
                    path.as_str(),
                    parts.status.as_u16(),
                    content_type,
                    &bytes,
                );
                Response::from_parts(parts, bytes.into())
            },
        )
}

/// The provider and team the demo keys are scoped to (those of `small_team.json`).
pub const PROVIDER: &str = "prov-01";
/// See [`PROVIDER`].
pub const TEAM: &str = "team-001";

/// A state accepting one key per role, with `small_team.json` as demo data when `demo`.
pub fn state_with(config: ServiceConfig, demo: bool) -> (AppState, DemoKeys) {
    let keys = DemoKeys::generate(PROVIDER, TEAM).expect("keys");
    let state = AppState::builder(keys.store().expect("store"))
        .config(config)
        .demo(demo.then(|| load_request("small_team.json")))
        .build()
        .expect("state");
    (state, keys)
}

/// `state_with` default limits.
pub fn state(demo: bool) -> (AppState, DemoKeys) {
    state_with(ServiceConfig::default(), demo)
}

/// Serves `svc` on a free loopback port with `keys`, for the rest of the test;
/// returns the address.
pub async fn serve_broker(
    keys: &DemoKeys,
    svc: std::sync::Arc<carefill_api::broker_service::BrokerService>,
) -> std::net::SocketAddr {
    let state = AppState::builder(keys.store().expect("key store"))
        .broker(Some(svc))
        .build()
        .expect("state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(carefill_api::serve(
        listener,
        state,
        std::future::pending::<()>(),
    ));
    addr
}

/// `Bearer <key of role>`.
pub fn bearer(keys: &DemoKeys, role: Role) -> String {
    format!("Bearer {}", keys.key(role))
}
