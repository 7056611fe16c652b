//! Route handlers by resource, and the route table assembled from them.
//!
//! Each resource module declares its routes next to its handlers as
//! `pub(super) const ROUTES: &[RouteSpec]`; [`table`] joins them. That one
//! table is what the router matches, what decides which roles may call a
//! route, what `/openapi.json` describes, and what the tests walk for every
//! route and every role.
//!
//! # How to add a route
//!
//! 1. In the resource's module (or a new `handlers/<resource>.rs`), write the
//!    handler: `async fn my_handler(ctx: RequestCtx) -> Result<Response, ApiError>`.
//!    Read path parameters with [`RequestCtx::param`], query parameters with
//!    [`RequestCtx::query_f64`] / [`RequestCtx::query_u64`] / [`RequestCtx::query_str`],
//!    the JSON body with [`RequestCtx::json`] (errors carry the JSON path), and the
//!    caller with [`RequestCtx::principal`]. Check scopes in the handler:
//!    `ctx.principal()?.require_provider(provider_id)?` (403 when the key is scoped
//!    elsewhere), or filter lists by `principal.provider_scope()` / `principal.team_scope()`.
//!    Answer with [`json_reply`]; errors are
//!    [`ApiError`] values (problem+json). Broker-backed
//!    handlers use `broker::{command, read}`.
//! 2. Add a [`RouteSpec`] to that module's `ROUTES`:
//!
//! ```ignore
//! RouteSpec {
//!     id: "listProviderPackages",                  // OpenAPI operationId, unique
//!     method: Method::Get,
//!     path: "/v1/providers/{provider_id}/packages", // {name} = path parameter
//!     access: Access::Roles(OFFER_ROLES),           // role groups: handlers/access.rs
//!     tag: "broker",
//!     summary: "Packages offered to a provider",
//!     description: "Provider keys see only their own provider id (403 otherwise).",
//!     query: &[QueryParam { name: "status", kind: ParamKind::String, required: false,
//!                           description: "open | offered | filled" }],
//!     request: None,                                // or Some("SchemaName")
//!     response: Answer { status: 200, schema: "PackageList" },
//!     errors: &[404],                               // statuses beyond the common ones
//!     handler: |c| Box::pin(list_packages(c)),
//! },
//! ```
//!
//! 3. A new module: `mod <resource>;` below and `<resource>::ROUTES` in [`table`].
//! 4. If `request`/`response` name a new schema, add it to
//!    [`crate::http::openapi::schemas`] (the tests fail on a dangling schema name).
//! 5. Nothing else: the table-driven tests (`tests/api.rs`, `tests/e2e.rs`) call
//!    every route with every role and check 401/403, that the router serves it,
//!    and that `/openapi.json` lists it. Add a behaviour test for the handler.
//!
//! Routes with `Access::Public` get no principal. `/health`, `/metrics` and
//! `/openapi.json` are public on purpose: probes and Prometheus scrapers carry
//! no keys, and none of them returns personal data (metrics are labelled by
//! route template only). Put the service behind a network policy if even that
//! is too much.

use crate::http::openapi::{Schemas, add_free_form, common_schemas, document, schema_map};
use crate::http::{Access, Answer, ApiError, Method, RequestCtx, RouteSpec, json_reply};
use serde_json::Value;
use std::sync::LazyLock;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use warp::http::StatusCode;
use warp::reply::Response;

pub mod access;
mod broker;
mod carers;
mod demo;
mod events;
mod exports;
mod jobs;
mod meta;
mod offers;
mod packages;
mod providers;
mod referrals;
mod reports;
mod rota;
mod teams;
// Policy at run time, the delivery loop and webhooks.
mod policy;
mod visits;
mod webhooks;
// console: provider impact, carers' week links, re-solve and publish
mod carer_week;
mod planning;
mod provider_impact;
// brokerage simulations as jobs
mod simulations;

static TABLE: LazyLock<Vec<RouteSpec>> = LazyLock::new(|| {
    [
        OPENAPI,
        meta::ROUTES,
        demo::ROUTES,
        rota::ROUTES,
        jobs::ROUTES,
        referrals::ROUTES,
        packages::ROUTES,
        offers::ROUTES,
        providers::ROUTES,
        teams::ROUTES,
        carers::ROUTES,
        reports::ROUTES,
        events::ROUTES,
        exports::ROUTES,
        policy::ROUTES,
        visits::ROUTES,
        webhooks::ROUTES,
        provider_impact::ROUTES,
        carer_week::ROUTES,
        planning::ROUTES,
        simulations::ROUTES,
    ]
    .concat()
});

/// Every route of the service: the route table.
pub fn table() -> &'static [RouteSpec] {
    &TABLE
}

/// `/openapi.json` is served here, beside the table it describes: a resource
/// module reading the table would import its own parent.
const OPENAPI: &[RouteSpec] = &[RouteSpec {
    id: "openapi",
    method: Method::Get,
    path: "/openapi.json",
    access: Access::Public,
    tag: "service",
    summary: "This API as an OpenAPI 3.0 document",
    description: "Generated from the route table the router uses.",
    query: &[],
    request: None,
    response: Answer {
        status: 200,
        schema: "OpenApiDocument",
    },
    errors: &[],
    handler: |c| Box::pin(openapi(c)),
}];

static DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
    // A name given to two different schemas is a bug the tests catch (see
    // `schemas_have_one_definition_per_name`); serve the document regardless.
    let schemas = schema_map(schemas()).unwrap_or_default();
    document(table(), schemas)
});

/// Every schema the route table names, each resource module listing its own.
pub fn schemas() -> Schemas {
    let mut out = Schemas::new();
    common_schemas(&mut out);
    add_free_form(&mut out, "OpenApiDocument", "This document.");
    out.push((
        "PrometheusText".into(),
        RefOr::T(Schema::Object(
            ObjectBuilder::new().schema_type(Type::String).build(),
        )),
    ));
    meta::schemas(&mut out);
    demo::schemas(&mut out);
    rota::schemas(&mut out);
    jobs::schemas(&mut out);
    referrals::schemas(&mut out);
    packages::schemas(&mut out);
    offers::schemas(&mut out);
    providers::schemas(&mut out);
    teams::schemas(&mut out);
    carers::schemas(&mut out);
    reports::schemas(&mut out);
    policy::schemas(&mut out);
    visits::schemas(&mut out);
    webhooks::schemas(&mut out);
    provider_impact::schemas(&mut out);
    carer_week::schemas(&mut out);
    planning::schemas(&mut out);
    simulations::schemas(&mut out);
    export_schemas(&mut out);
    out
}

/// The live event stream and the non-JSON exports (iCalendar, CSV) as text,
/// GeoJSON as an object.
fn export_schemas(out: &mut Schemas) {
    let text = [
        (
            "EventStream",
            "text/event-stream: events `hello`, `heartbeat` (every 15 s), `resync` (missed events: refetch), and one per change (`referred`, `offer_made`, `offer_accepted`, `offer_declined`, `offer_expired`, `offer_withdrawn`, `escalated`, `package_cancelled`, `carer_absent`, `rota_changed`, `offer_expiring`, `package_filled`, `alert_raised`, `visit_checked_in`, `visit_checked_out`, `visit_late`, `visit_missed`, `policy_changed`, ...; `batch` for several) with JSON data {kind, at, package?, offer?, provider?, team?, carer?, visit?, expires_at?, code?, message?}: ids only, never a person's details. Webhooks carry the same kinds (docs/webhooks.md).",
        ),
        (
            "Calendar",
            "text/calendar (RFC 5545): one VEVENT per visit.",
        ),
        (
            "RotaCsv",
            "text/csv (RFC 4180) with a header row: one row per visit and carer.",
        ),
    ];
    for (name, description) in text {
        out.push((
            name.into(),
            RefOr::T(Schema::Object(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some(description))
                    .build(),
            )),
        ));
    }
    add_free_form(
        out,
        "GeoJson",
        "RFC 7946 FeatureCollection; each feature's properties.kind says what it is.",
    );
}

/// `GET /openapi.json`.
async fn openapi(_ctx: RequestCtx) -> Result<Response, ApiError> {
    json_reply(StatusCode::OK, &*DOCUMENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_have_one_definition_per_name_and_cover_the_table() {
        let map = schema_map(schemas()).expect("one schema per name");
        for route in table() {
            for name in route.request.iter().chain([&route.response.schema]) {
                assert!(map.contains_key(*name), "{}: no schema {name}", route.id);
            }
        }
        // Every $ref points at a schema of the document.
        let text = serde_json::to_string(&map).expect("json");
        for part in text.split("\"#/components/schemas/").skip(1) {
            let name = part.split('"').next().unwrap_or("");
            assert!(map.contains_key(name), "dangling $ref {name}");
        }
    }

    /// Two templates of one method that could match the same path would make
    /// the table's order matter; none may.
    #[test]
    fn no_two_routes_can_match_one_request() {
        let param = |s: &str| s.starts_with('{');
        let routes = table();
        for (i, a) in routes.iter().enumerate() {
            for b in &routes[i + 1..] {
                assert_ne!(a.id, b.id, "duplicate operationId");
                if a.method != b.method {
                    continue;
                }
                let (sa, sb): (Vec<&str>, Vec<&str>) =
                    (a.path.split('/').collect(), b.path.split('/').collect());
                let overlap = sa.len() == sb.len()
                    && sa
                        .iter()
                        .zip(&sb)
                        .all(|(x, y)| x == y || param(x) || param(y));
                assert!(
                    !overlap,
                    "{} {} and {} overlap",
                    a.method.as_str(),
                    a.path,
                    b.path
                );
            }
        }
    }
}
