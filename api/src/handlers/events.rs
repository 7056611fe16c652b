//! `GET /v1/events`: the caller's live events as a server-sent event stream
//! (what changed is summarised in [`crate::live`]).

use super::access::ALL_ROLES;
use super::broker::service;
use crate::http::{Access, Answer, ApiError, Method, RequestCtx, RouteSpec};
use crate::live::{HEARTBEAT_S, LiveEvent};
use chrono::Utc;
use serde::Serialize;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast;
use warp::Reply;
use warp::reply::Response;

pub(super) const ROUTES: &[RouteSpec] = &[RouteSpec {
    id: "liveEvents",
    method: Method::Get,
    path: "/v1/events",
    access: Access::Roles(ALL_ROLES),
    tag: "broker",
    summary: "Live updates as server-sent events",
    description: "text/event-stream of what changed, as ids (refetch through the ordinary routes). \
                      Scoped like the data: provider keys get their own provider's events, planner \
                      keys their own team's. Heartbeat every 15 s; ends at shutdown. Send the key in \
                      the Authorization header (read the stream with fetch, not EventSource).",
    query: &[],
    request: None,
    response: Answer {
        status: 200,
        schema: "EventStream",
    },
    errors: &[404],
    handler: |c| Box::pin(stream(c)),
}];

fn sse(kind: &str, data: &impl Serialize) -> warp::sse::Event {
    warp::sse::Event::default()
        .event(kind)
        .json_data(data)
        .unwrap_or_else(|_| warp::sse::Event::default().event(kind).data("{}"))
}

/// `GET /v1/events`: the caller's live events as `text/event-stream`.
async fn stream(ctx: RequestCtx) -> Result<Response, ApiError> {
    let svc = service(&ctx)?;
    let who = ctx.principal()?.clone();
    let rx = svc.subscribe();
    let state = ctx.state.clone();
    let hello = serde_json::json!({ "role": who.role, "scope": who.scope });
    let first = futures_util::stream::iter([Ok::<_, Infallible>(sse("hello", &hello))]);
    let ticks = tokio::time::interval(Duration::from_secs(1));
    let events = futures_util::stream::unfold(
        (rx, ticks, 0u64, who, state),
        |(mut rx, mut ticks, mut n, who, state)| async move {
            loop {
                tokio::select! {
                    got = rx.recv() => match got {
                        Ok(batch) => {
                            let mine: Vec<&LiveEvent> = batch.iter().filter(|e| e.visible_to(&who)).collect();
                            if let Some(last) = mine.last() {
                                let ev = if mine.len() == 1 {
                                    sse(last.kind, last)
                                } else {
                                    sse("batch", &mine)
                                };
                                return Some((Ok::<_, Infallible>(ev), (rx, ticks, n, who, state)));
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(missed)) => {
                            let ev = sse("resync", &serde_json::json!({ "missed": missed }));
                            return Some((Ok(ev), (rx, ticks, n, who, state)));
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    },
                    _ = ticks.tick() => {
                        if state.is_shutting_down() {
                            return None;
                        }
                        n += 1;
                        if n % HEARTBEAT_S == 0 {
                            let ev = sse("heartbeat", &serde_json::json!({ "at": Utc::now() }));
                            return Some((Ok(ev), (rx, ticks, n, who, state)));
                        }
                    }
                }
            }
        },
    );
    use futures_util::StreamExt;
    let mut resp = warp::sse::reply(first.chain(events)).into_response();
    // Tell reverse proxies not to buffer the stream.
    resp.headers_mut().insert(
        "x-accel-buffering",
        warp::http::HeaderValue::from_static("no"),
    );
    Ok(resp)
}
