//! The HTTP layer: what a route is, matching and dispatching requests, the
//! request context handlers get, problem+json errors, query decoding and the
//! OpenAPI document. It depends on no handler: the route table is handed to
//! [`router::dispatch`] by [`crate::server`].
//!
//! Files import only files below them (a unit test checks there is no cycle):
//! [`error`] ← [`crate::auth`], [`crate::jobs`], [`crate::state`] ← [`context`]
//! ← [`route`] ← [`query`], [`openapi`], [`router`] ← [`crate::handlers`] ←
//! [`crate::server`].

pub mod context;
pub mod error;
pub mod openapi;
pub mod query;
pub mod route;
pub mod router;

pub use context::{
    Handler, HandlerFuture, PathParams, RequestCtx, blocking, json_reply, parse_body,
};
pub use error::ApiError;
pub use route::{Access, Answer, Method, ParamKind, QueryParam, RouteSpec};
