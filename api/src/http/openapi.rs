//! `/openapi.json`: an OpenAPI 3.0 document generated from the route table.
//!
//! Paths, methods, parameters, bodies and roles come from the route table
//! ([`crate::handlers::table`]); the schemas named there are in [`schemas`]. Each
//! operation lists its success answer and the problem+json errors it can give:
//! 400/413/415/422 for routes with a JSON body, 400 for routes with query
//! parameters, 401/403 for routes that need a key, 405 and the route's own
//! `errors`. Roles are in each operation's description and in `x-roles`.

use super::route::{Access, ParamKind, RouteSpec};
use serde_json::{Map, Value, json};

/// The OpenAPI document of `routes`.
pub fn document(routes: &[RouteSpec]) -> Value {
    let mut paths = Map::new();
    for route in routes {
        let item = paths
            .entry(route.path.to_string())
            .or_insert_with(|| json!({}));
        if let Some(obj) = item.as_object_mut() {
            obj.insert(route.method.lower().to_string(), operation(route));
        }
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "carefill",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Home-care rota and package-brokering optimisation. Errors are \
                application/problem+json with a stable `code`, the JSON `path` of the bad field \
                and the `request_id` (also in the X-Request-Id header).",
        },
        "paths": Value::Object(paths),
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key: Authorization: Bearer <key>. Roles: admin, broker, \
                        provider (scoped to a provider), planner (scoped to a team), integrator.",
                }
            },
            "schemas": schemas(),
            "responses": error_responses(),
        },
    })
}

fn operation(route: &RouteSpec) -> Value {
    let mut op = Map::new();
    op.insert("operationId".into(), json!(route.id));
    op.insert("tags".into(), json!([route.tag]));
    op.insert("summary".into(), json!(route.summary));
    let roles: Vec<&str> = match route.access {
        Access::Public => Vec::new(),
        Access::Roles(roles) => roles.iter().map(|r| r.as_str()).collect(),
    };
    let who = if roles.is_empty() {
        "Public: no key needed.".to_string()
    } else {
        format!("Roles: {}.", roles.join(", "))
    };
    op.insert(
        "description".into(),
        json!(format!("{} {}", route.description, who).trim().to_string()),
    );
    op.insert("x-roles".into(), json!(roles));
    op.insert(
        "security".into(),
        if roles.is_empty() {
            json!([])
        } else {
            json!([{"bearer": []}])
        },
    );
    let mut params: Vec<Value> = route
        .path
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    params.extend(route.query.iter().map(|q| {
        let ty = match q.kind {
            ParamKind::Number => json!({"type": "number"}),
            ParamKind::Integer => json!({"type": "integer", "minimum": 0}),
            ParamKind::String => json!({"type": "string"}),
        };
        json!({"name": q.name, "in": "query", "required": q.required, "description": q.description, "schema": ty})
    }));
    if !params.is_empty() {
        op.insert("parameters".into(), Value::Array(params));
    }
    if let Some(schema) = route.request {
        op.insert(
            "requestBody".into(),
            json!({"required": true, "content": {"application/json": {"schema": schema_ref(schema)}}}),
        );
    }
    let mut responses = Map::new();
    let content = if route.response.schema == "PrometheusText" {
        json!({"text/plain": {"schema": {"type": "string"}}})
    } else {
        json!({"application/json": {"schema": schema_ref(route.response.schema)}})
    };
    responses.insert(
        route.response.status.to_string(),
        json!({"description": route.summary, "content": content}),
    );
    for status in error_statuses(route) {
        responses.insert(
            status.to_string(),
            json!({"$ref": format!("#/components/responses/E{status}")}),
        );
    }
    op.insert("responses".into(), Value::Object(responses));
    Value::Object(op)
}

/// Error statuses a route can answer with.
pub fn error_statuses(route: &RouteSpec) -> Vec<u16> {
    let mut out = vec![405];
    if route.request.is_some() {
        out.extend([400, 413, 415, 422]);
    }
    if !route.query.is_empty() {
        out.push(400);
    }
    if matches!(route.access, Access::Roles(_)) {
        out.extend([401, 403]);
    }
    out.extend(route.errors);
    out.push(500);
    out.sort_unstable();
    out.dedup();
    out
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn error_responses() -> Value {
    let mut out = Map::new();
    for (status, what) in [
        (400, "Malformed JSON or a bad parameter (see `path`)"),
        (401, "No key or an unknown key (WWW-Authenticate: Bearer)"),
        (403, "The key's role or scope does not allow this"),
        (404, "Not found"),
        (405, "Method not allowed (see the Allow header)"),
        (409, "The resource is not in a state that allows this"),
        (413, "Body too large"),
        (415, "Send Content-Type: application/json"),
        (
            422,
            "Well-formed but invalid: every issue with its JSON path",
        ),
        (500, "A bug; quote the request_id"),
        (503, "Busy, queue full or shutting down (Retry-After)"),
    ] {
        out.insert(
            format!("E{status}"),
            json!({"description": what,
                   "content": {"application/problem+json": {"schema": schema_ref("Problem")}}}),
        );
    }
    Value::Object(out)
}

/// The schemas the route table names, by name.
pub fn schemas() -> Value {
    let best = json!({"type": "object", "nullable": true, "properties": {
        "objective": {"type": "number"}, "unplaced": {"type": "integer"}}});
    let job = json!({
        "type": "object",
        "required": ["id", "state", "submitted_at", "time_limit_s", "seed", "iterations", "links"],
        "properties": {
            "id": {"type": "string"},
            "state": {"type": "string", "enum": ["queued", "running", "cancelling", "succeeded", "cancelled", "failed"]},
            "owner": {"type": "string", "description": "key id of the submitter"},
            "submitted_at": {"type": "string", "format": "date-time"},
            "time_limit_s": {"type": "number"},
            "seed": {"type": "integer"},
            "waited_s": {"type": "number"},
            "elapsed_s": {"type": "number", "nullable": true},
            "iterations": {"type": "integer"},
            "best": best,
            "kpis": {"type": "object"},
            "error": {"type": "string"},
            "links": {"type": "object", "properties": {
                "status": {"type": "string"}, "result": {"type": "string"}, "cancel": {"type": "string"}}}
        }
    });
    let mut all = json!({
        "Problem": {
            "type": "object",
            "required": ["type", "title", "status", "code", "detail"],
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "code": {"type": "string", "description": "stable, e.g. malformed_json, invalid_request, unauthorized, forbidden, not_found, route_not_found, method_not_allowed, body_too_large, unsupported_media_type, bad_parameter, solver_busy, queue_full, job_not_finished"},
                "detail": {"type": "string"},
                "path": {"type": "string", "description": "JSON path of the bad field, or the bad parameter"},
                "issues": {"type": "array", "items": schema_ref("Issue")},
                "request_id": {"type": "string"}
            }
        },
        "Issue": {"type": "object", "required": ["path", "code", "message"], "properties": {
            "path": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"}}},
        "Health": {"type": "object", "properties": {
            "status": {"type": "string"}, "service": {"type": "string"},
            "version": {"type": "string"}, "uptime_s": {"type": "integer"}}},
        "PrometheusText": {"type": "string"},
        "OpenApiDocument": {"type": "object"},
        "Principal": {"type": "object", "properties": {
            "key_id": {"type": "string"},
            "role": {"type": "string", "enum": ["admin", "broker", "provider", "planner", "integrator"]},
            "scope": {"type": "object", "properties": {
                "kind": {"type": "string", "enum": ["global", "provider", "team"]}, "id": {"type": "string"}}}}},
        "PlanningRequest": {
            "type": "object",
            "description": "A carefill/1 planning request (see the README's data format): horizon, settings, travel, providers, teams, carers, service_users, packages, existing_rota. Unknown fields are rejected.",
            "required": ["format", "horizon"],
            "properties": {
                "format": {"type": "string", "enum": ["carefill/1"]},
                "horizon": {"type": "object", "properties": {
                    "start_date": {"type": "string", "format": "date"}, "days": {"type": "integer"},
                    "utc_offset": {"type": "string"}}},
                "settings": {"type": "object"}, "travel": {"type": "object"},
                "providers": {"type": "array", "items": {"type": "object"}},
                "teams": {"type": "array", "items": {"type": "object"}},
                "carers": {"type": "array", "items": {"type": "object"}},
                "service_users": {"type": "array", "items": {"type": "object"}},
                "packages": {"type": "array", "items": {"type": "object"}},
                "existing_rota": {"type": "array", "items": {"type": "object"}}
            }
        },
        "Rota": {
            "type": "object",
            "description": "One route per carer shift, unplaced visits with reasons, KPIs and solver statistics.",
            "properties": {
                "format": {"type": "string"},
                "routes": {"type": "array", "items": {"type": "object"}},
                "unplaced": {"type": "array", "items": schema_ref("UnplacedVisit")},
                "kpis": {"type": "object"},
                "stats": {"type": "object"}
            }
        },
        "UnplacedVisit": {"type": "object", "properties": {
            "visit": {"type": "string"}, "service_user": {"type": "string"},
            "reasons": {"type": "array", "items": {"type": "object", "properties": {
                "code": {"type": "string"}, "message": {"type": "string"}}}}}},
        "RequestAndRota": {"type": "object", "required": ["request", "rota"], "properties": {
            "request": schema_ref("PlanningRequest"), "rota": schema_ref("Rota")}},
        "ValidationReply": {"type": "object", "properties": {
            "valid": {"type": "boolean"}, "issues": {"type": "array", "items": schema_ref("Issue")}}},
        "CheckReport": {"type": "object", "properties": {
            "violations": {"type": "array", "items": {"type": "object"}}, "kpis": {"type": "object"}}},
        "Analysis": {"type": "object", "properties": {
            "feasible": {"type": "boolean"},
            "violations": {"type": "array", "items": {"type": "object"}},
            "kpis": {"type": "object"},
            "unplaced": {"type": "integer"},
            "unplaced_by_reason": {"type": "object", "additionalProperties": {"type": "integer"}},
            "unplaced_visits": {"type": "array", "items": schema_ref("UnplacedVisit")}}},
        "Referral": {"type": "object", "required": ["package", "service_user"], "properties": {
            "package": {"type": "object", "description": "a carefill/1 package"},
            "service_user": {"type": "object", "description": "a carefill/1 service user"}}},
        "ReferralBatch": {"type": "object", "required": ["referrals"], "properties": {
            "referrals": {"type": "array", "items": schema_ref("Referral")}}},
        "BatchResult": {"type": "object", "properties": {"packages": {"type": "array", "items": {"type": "object"}}, "events": {"type": "integer"}}},
        "PackageView": {"type": "object", "properties": {"record": {"type": "object"}, "fill_minutes": {"type": "number", "nullable": true}, "offers": {"type": "array", "items": {"type": "object"}}}},
        "PackageList": {"type": "object", "properties": {"packages": {"type": "array", "items": {"type": "object"}}}},
        "Recommendations": {"type": "object", "properties": {"recommendations": {"type": "array", "items": {"type": "object"}}, "not_fitting": {"type": "array", "items": {"type": "object"}}, "excluded": {"type": "array", "items": {"type": "object"}}, "teams_checked": {"type": "integer"}, "elapsed_ms": {"type": "number"}}},
        "ApplyRecommendation": {"type": "object", "required": ["package", "service_user", "provider", "team"], "properties": {
            "package": {"type": "object"}, "service_user": {"type": "object"}, "provider": {"type": "string"}, "team": {"type": "string"}}},
        "ProviderOffer": {"type": "object", "properties": {"id": {"type": "string"}, "status": {"type": "string"}, "area": {"type": "string"}, "visits": {"type": "array", "items": {"type": "object"}}, "person": {"type": "object", "nullable": true}}},
        "ProviderOffers": {"type": "object", "properties": {"provider": {"type": "string"}, "offers": {"type": "array", "items": schema_ref("ProviderOffer")}}},
        "Decline": {"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string", "enum": ["no_capacity", "no_suitable_carer", "out_of_area", "travel_too_far", "package_too_small", "visit_times_unsuitable", "risk_too_high", "other"]}, "note": {"type": "string"}}},
        "ProviderStatus": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string", "enum": ["active", "suspended", "failed", "off_framework"]}, "transfers": {"type": "array", "items": {"type": "object", "properties": {"carer": {"type": "string"}, "to_team": {"type": "string"}}}}}},
        "ProviderStatusResult": {"type": "object", "properties": {"packages_released": {"type": "integer"}, "offers_made": {"type": "integer"}, "placed_at_once": {"type": "integer"}, "escalated": {"type": "integer"}}},
        "Report": {"type": "object"},
        "TeamRota": {"type": "object", "properties": {"team": {"type": "string"}, "rota": schema_ref("Rota")}},
        "Absence": {"type": "object", "required": ["from", "to"], "properties": {"from": {"type": "string", "format": "date-time"}, "to": {"type": "string", "format": "date-time"}, "reason": {"type": "string"}}},
        "AbsenceResult": {"type": "object", "properties": {"carer": {"type": "string"}, "team": {"type": "string"}, "unplaced_visits_in_team_rota": {"type": "integer"}}},
        "CloseYear": {"type": "object", "required": ["year"], "properties": {"year": {"type": "string"}}},
        "LedgerReport": {"type": "object", "properties": {"balances": {"type": "object"}, "risk_pool_pence": {"type": "integer"}, "trial_balance": {"type": "integer"}}},
        "Job": job,
        "JobList": {"type": "object", "properties": {"jobs": {"type": "array", "items": schema_ref("Job")}}},
    });
    if let (Some(all), Value::Object(more)) = (all.as_object_mut(), roster_schemas()) {
        all.extend(more);
    }
    all
}

/// Providers, teams, carers and availability (kept apart: one `json!` this big
/// would pass the macro recursion limit).
fn roster_schemas() -> Value {
    json!({
        "Provider": {"type": "object", "description": "A carefill/1 provider. Unknown fields are rejected.", "required": ["id", "name", "tier", "contract", "hourly_rate_pence"], "properties": {
            "id": {"type": "string"}, "name": {"type": "string"},
            "tier": {"type": "string", "enum": ["tier1", "tier2", "tier3", "specialist", "emergency_cover"]},
            "framework_status": {"type": "string", "enum": ["active", "suspended", "failed", "off_framework"]},
            "service_areas": {"type": "array", "items": {"type": "object", "description": "GeoJSON Polygon or MultiPolygon"}},
            "contract": {"type": "object", "description": "{type: block, committed_min_per_week} or {type: spot}"},
            "hourly_rate_pence": {"type": "integer"}, "skills": {"type": "array", "items": {"type": "string"}},
            "auto_accept": {"type": "object"}}},
        "ProviderDetail": {"type": "object", "properties": {"provider": schema_ref("Provider"), "teams": {"type": "array", "items": {"type": "string"}}}},
        "ProviderList": {"type": "object", "properties": {"providers": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "string"}, "name": {"type": "string"}, "tier": {"type": "string"},
            "framework_status": {"type": "string"}, "skills": {"type": "array", "items": {"type": "string"}}, "teams": {"type": "integer"}}}}}},
        "Team": {"type": "object", "description": "A carefill/1 team. Unknown fields are rejected.", "required": ["id", "provider", "base"], "properties": {
            "id": {"type": "string"}, "provider": {"type": "string"}, "name": {"type": "string"},
            "base": {"type": "object", "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}}},
            "area": {"type": "object", "description": "GeoJSON Polygon or MultiPolygon"},
            "max_members": {"type": "integer"}, "max_caseload": {"type": "integer"}}},
        "TeamDetail": {"type": "object", "properties": {"team": schema_ref("Team"), "people": {"type": "integer"}, "rota": {"type": "string"},
            "carers": {"type": "array", "items": {"type": "object", "description": "id, skills, contract, hours, travel_mode, shifts (no locations), number of absences"}}}},
        "Shift": {"type": "object", "required": ["days", "start", "end"], "properties": {
            "days": {"type": "array", "items": {"type": "string"}, "description": "daily, weekdays, weekends, mon..sun or YYYY-MM-DD"},
            "start": {"type": "string", "description": "HH:MM"}, "end": {"type": "string", "description": "HH:MM; before start = next day"},
            "start_location": {"type": "object"}, "end_location": {"type": "object"}}},
        "Carer": {"type": "object", "description": "A carefill/1 carer. Unknown fields are rejected.", "required": ["id", "team", "gender", "contract", "home", "shifts"], "properties": {
            "id": {"type": "string"}, "team": {"type": "string"}, "skills": {"type": "array", "items": {"type": "string"}},
            "gender": {"type": "string", "enum": ["female", "male", "other"]},
            "contract": {"type": "string", "enum": ["zero_hours", "guaranteed_hours", "salaried"]},
            "contracted_min_per_week": {"type": "integer"}, "max_min_per_day": {"type": "integer"}, "max_min_per_week": {"type": "integer"},
            "travel_mode": {"type": "string", "enum": ["drive", "walk", "cycle", "public_transport"]},
            "home": {"type": "object", "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}}},
            "shifts": {"type": "array", "items": schema_ref("Shift")},
            "absences": {"type": "array", "items": schema_ref("Absence")}, "capacity": {"type": "integer"}}},
        "CarerDetail": {"type": "object", "properties": {"carer": schema_ref("Carer")}},
        "Availability": {"type": "object", "required": ["shifts"], "properties": {"shifts": {"type": "array", "items": schema_ref("Shift")}}},
        "CarerChange": {"type": "object", "properties": {"carer": {"type": "string"}, "team": {"type": "string"}, "created": {"type": "boolean"},
            "replans": {"type": "array", "items": {"type": "object", "properties": {
                "team": {"type": "string"},
                "moved": {"type": "array", "items": {"type": "object", "properties": {"visit": {"type": "string"}, "from": {"type": "array", "items": {"type": "string"}}, "to": {"type": "array", "items": {"type": "string"}}}}},
                "newly_unplaced": {"type": "array", "items": {"type": "string"}},
                "newly_placed": {"type": "array", "items": {"type": "string"}},
                "unplaced_visits_in_team_rota": {"type": "integer"}, "rota": {"type": "string"}}}}}}
    })
}
