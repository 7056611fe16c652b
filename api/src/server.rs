//! The service as a warp filter over the route table, and serving it with graceful shutdown.
//!
//! This is where the HTTP layer ([`crate::http`]) meets the route table
//! ([`crate::handlers::table`]); neither knows the other.

use crate::handlers::table;
use crate::http::router::dispatch;
use crate::state::AppState;
use std::convert::Infallible;
use warp::Filter;
use warp::http::HeaderMap;
use warp::path::FullPath;
use warp::reply::Response;

/// The whole service as one warp filter (also usable with `warp::test`).
pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone {
    let console = crate::console::filter(state.config.tile_url.clone());
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
                dispatch(state, table(), method, path.as_str(), &query, headers, body).await
            },
        )
        .recover(crate::http::error::recover)
        .unify();
    console.or(api).unify()
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
