//! What a route is: [`RouteSpec`] (method, path template, roles, documentation,
//! query parameters, schemas, handler) and its parts.
//!
//! The route table itself is assembled in [`crate::handlers`] from each
//! resource module's `ROUTES`; the router ([`super::router`]), `/openapi.json`
//! ([`super::openapi`]) and the every-route-every-role tests all read that one
//! table.

use super::context::Handler;
use crate::auth::Role;

/// HTTP methods the table uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
}

impl Method {
    /// Upper-case name, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// Lower-case name, as in OpenAPI.
    pub fn lower(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Put => "put",
            Method::Patch => "patch",
            Method::Delete => "delete",
        }
    }

    /// The table's method for a wire method, if it uses it.
    pub fn from_http(m: &warp::http::Method) -> Option<Self> {
        Some(match *m {
            warp::http::Method::GET => Method::Get,
            warp::http::Method::POST => Method::Post,
            warp::http::Method::PUT => Method::Put,
            warp::http::Method::PATCH => Method::Patch,
            warp::http::Method::DELETE => Method::Delete,
            _ => return None,
        })
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy)]
pub enum Access {
    /// Anyone, without a key.
    Public,
    /// Keys with one of these roles (scopes are checked by the handler).
    Roles(&'static [Role]),
}

impl Access {
    /// Whether a key with `role` may call the route.
    pub fn allows(&self, role: Role) -> bool {
        match self {
            Access::Public => true,
            Access::Roles(roles) => roles.contains(&role),
        }
    }
}

/// Kind of a query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// A finite decimal number.
    Number,
    /// A non-negative integer.
    Integer,
    /// Text.
    String,
}

/// A query parameter a route accepts (any other is a 400).
#[derive(Debug, Clone, Copy)]
pub struct QueryParam {
    /// Name.
    pub name: &'static str,
    /// Kind.
    pub kind: ParamKind,
    /// Whether it must be given.
    pub required: bool,
    /// Meaning, units, limits.
    pub description: &'static str,
}

/// The success answer of a route.
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    /// HTTP status (200, 202, ...).
    pub status: u16,
    /// Schema name in `components.schemas` (see [`super::openapi`]).
    pub schema: &'static str,
}

/// One route.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    /// OpenAPI operationId, unique.
    pub id: &'static str,
    /// Method.
    pub method: Method,
    /// Path template; `{name}` segments are parameters.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// OpenAPI tag.
    pub tag: &'static str,
    /// One line.
    pub summary: &'static str,
    /// More detail (scopes, limits, behaviour).
    pub description: &'static str,
    /// Accepted query parameters.
    pub query: &'static [QueryParam],
    /// JSON body schema name; `None` = no body is read.
    pub request: Option<&'static str>,
    /// Success answer.
    pub response: Answer,
    /// Error statuses beyond those every route of its kind has (see [`super::openapi`]).
    pub errors: &'static [u16],
    /// The handler.
    pub handler: Handler,
}
