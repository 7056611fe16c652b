//! HTTP service, in process (`warp::test`): health, validation, solve (checked), check,
//! analyse, problem+json errors, and table-driven auth, routing and OpenAPI checks
//! over every route of the route table.

use crate::support::routes;
use crate::support::{PROVIDER, TEAM, bearer, state};
use carefill_api::Role;
use carefill_api::handlers::table;
use carefill_api::http::{Access, Method};
use carefill_solver::format::{PlanningRequest, Rota};
use carefill_solver::testing::{assert_feasible, load_request, problem};
use serde_json::Value;

fn body_json(resp: &warp::http::Response<bytes::Bytes>) -> Value {
    serde_json::from_slice(resp.body()).expect("JSON body")
}

/// The route's path with every `{param}` replaced by `x`.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "x" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

fn request_for(method: Method, path: &str) -> warp::test::RequestBuilder {
    let req = warp::test::request().method(method.as_str()).path(path);
    if method == Method::Get {
        req
    } else {
        req.header("content-type", "application/json").body("{}")
    }
}

#[tokio::test]
async fn health_answers_ok_without_a_key() {
    let (state, _) = state(false);
    let resp = warp::test::request()
        .path("/health")
        .reply(&routes(state))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(body_json(&resp)["status"], "ok");
    assert!(resp.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn solve_returns_a_rota_the_checker_accepts() {
    let (state, keys) = state(false);
    let request: PlanningRequest = load_request("small_team.json");
    let body = serde_json::to_vec(&request).expect("serialise");
    let resp = warp::test::request()
        .method("POST")
        .path("/v1/rota/solve?time_limit_s=1&seed=2")
        .header("content-type", "application/json")
        .header("authorization", bearer(&keys, Role::Planner))
        .body(body)
        .reply(&routes(state))
        .await;
    assert_eq!(resp.status(), 200, "{:?}", resp.body());
    let rota: Rota = serde_json::from_slice(resp.body()).expect("rota JSON");
    assert_feasible(&problem(&request), &rota);
}

#[tokio::test]
async fn invalid_request_lists_every_issue_with_paths() {
    let (state, keys) = state(false);
    let app = routes(state);
    let auth = bearer(&keys, Role::Integrator);
    let body = r#"{"format":"carefill/1","horizon":{"start_date":"2026-11-30","days":1},
        "carers":[{"id":"a","gender":"female","contract":"salaried","home":{"lat":95,"lon":0},
                   "shifts":[{"days":["someday"],"start":"07:00","end":"25:00"}]}]}"#;
    let resp = warp::test::request()
        .method("POST")
        .path("/v1/rota/solve")
        .header("content-type", "application/json")
        .header("authorization", &auth)
        .body(body)
        .reply(&app)
        .await;
    assert_eq!(resp.status(), 422);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let v = body_json(&resp);
    assert_eq!(v["code"], "invalid_request");
    assert_eq!(
        v["request_id"].as_str(),
        resp.headers()["x-request-id"].to_str().ok()
    );
    let paths: Vec<&str> = v["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .filter_map(|i| i["path"].as_str())
        .collect();
    for want in [
        "$.carers[0].home.lat",
        "$.carers[0].shifts[0].days[0]",
        "$.carers[0].shifts[0].end",
    ] {
        assert!(paths.contains(&want), "missing {want} in {paths:?}");
    }
    let validate = warp::test::request()
        .method("POST")
        .path("/v1/requests/validate")
        .header("content-type", "application/json")
        .header("authorization", &auth)
        .body(body)
        .reply(&app)
        .await;
    assert_eq!(validate.status(), 200);
    assert_eq!(body_json(&validate)["valid"], false);
}

#[tokio::test]
async fn bad_input_gets_clear_4xx_never_500() {
    let (state, keys) = state(false);
    let app = routes(state);
    let auth = bearer(&keys, Role::Admin);
    /// (method, path, content type, body, expected status, expected code, expected path)
    type Case<'a> = (
        &'a str,
        &'a str,
        Option<&'a str>,
        &'a [u8],
        u16,
        &'a str,
        Option<&'a str>,
    );
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/v1/rota/solve",
            Some("application/json"),
            b"{not json",
            400,
            "malformed_json",
            None,
        ),
        (
            "POST",
            "/v1/rota/solve",
            Some("text/plain"),
            b"{}",
            415,
            "unsupported_media_type",
            None,
        ),
        (
            "POST",
            "/v1/rota/solve",
            None,
            b"{}",
            415,
            "unsupported_media_type",
            None,
        ),
        (
            "POST",
            "/v1/rota/solve?time_limit_s=999",
            Some("application/json"),
            b"{}",
            400,
            "bad_parameter",
            Some("time_limit_s"),
        ),
        (
            "POST",
            "/v1/rota/solve?time_limit_s=abc",
            Some("application/json"),
            b"{}",
            400,
            "bad_parameter",
            Some("time_limit_s"),
        ),
        (
            "POST",
            "/v1/rota/solve?seed=-1",
            Some("application/json"),
            b"{}",
            400,
            "bad_parameter",
            Some("seed"),
        ),
        (
            "POST",
            "/v1/rota/solve?seed=%ZZ",
            Some("application/json"),
            b"{}",
            400,
            "bad_parameter",
            Some("seed"),
        ),
        (
            "POST",
            "/v1/rota/solve?time_limit_s=1&seed=%FF",
            Some("application/json"),
            b"{}",
            400,
            "bad_parameter",
            Some("seed"),
        ),
        (
            "POST",
            "/v1/rota/solve?tiem_limit_s=5",
            Some("application/json"),
            b"{}",
            400,
            "bad_parameter",
            Some("tiem_limit_s"),
        ),
        (
            "POST",
            "/v1/rota/check",
            Some("application/json"),
            b"{\"request\":{}}",
            400,
            "malformed_json",
            None,
        ),
        (
            "POST",
            "/v1/rota/jobs?time_limit_s=601",
            Some("application/json"),
            b"{}",
            400,
            "bad_parameter",
            Some("time_limit_s"),
        ),
        (
            "GET",
            "/v1/nowhere",
            None,
            b"",
            404,
            "route_not_found",
            None,
        ),
        ("GET", "/v1/demo/request", None, b"", 404, "not_found", None),
        (
            "GET",
            "/v1/rota/jobs/job_missing",
            None,
            b"",
            404,
            "not_found",
            None,
        ),
        (
            "DELETE",
            "/v1/rota/solve",
            None,
            b"",
            405,
            "method_not_allowed",
            None,
        ),
        (
            "GET",
            "/v1/rota/solve",
            None,
            b"",
            405,
            "method_not_allowed",
            None,
        ),
    ];
    for (method, path, ct, body, status, code, bad_path) in cases {
        let mut req = warp::test::request()
            .method(method)
            .path(path)
            .header("authorization", &auth)
            .body(body);
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        let resp = req.reply(&app).await;
        assert_eq!(resp.status(), status, "{method} {path}: {:?}", resp.body());
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
        let v = body_json(&resp);
        assert_eq!(v["code"], code, "{method} {path}");
        if let Some(p) = bad_path {
            assert_eq!(v["path"], p, "{method} {path}");
        }
        if status == 405 {
            assert_eq!(resp.headers()["allow"], "POST", "{method} {path}");
        }
    }
    let huge = vec![b' '; (carefill_api::MAX_BODY_BYTES + 1) as usize];
    let resp = warp::test::request()
        .method("POST")
        .path("/v1/rota/solve")
        .header("content-type", "application/json")
        .header("authorization", &auth)
        .body(huge)
        .reply(&app)
        .await;
    assert_eq!(resp.status(), 413);
    assert_eq!(body_json(&resp)["code"], "body_too_large");
}

#[tokio::test]
async fn check_and_analyse_report_violations_and_unplaced_reasons() {
    let (state, keys) = state(true);
    let app = routes(state);
    let request: PlanningRequest = load_request("small_team.json");
    let p = problem(&request);
    let rota = p.write_rota(&[], &[]); // nothing placed and nothing explained
    let body = serde_json::to_vec(&serde_json::json!({"request": request, "rota": rota}))
        .expect("serialise");
    let resp = warp::test::request()
        .method("POST")
        .path("/v1/rota/check")
        .header("content-type", "application/json")
        .header("authorization", bearer(&keys, Role::Provider))
        .body(body.clone())
        .reply(&app)
        .await;
    assert_eq!(resp.status(), 200);
    let v = body_json(&resp);
    let codes: Vec<&str> = v["violations"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|x| x["code"].as_str())
        .collect();
    assert!(codes.contains(&"visit_unaccounted"), "{codes:?}");
    let resp = warp::test::request()
        .method("POST")
        .path("/v1/rota/analyse")
        .header("content-type", "application/json")
        .header("authorization", bearer(&keys, Role::Planner))
        .body(body)
        .reply(&app)
        .await;
    assert_eq!(resp.status(), 200, "{:?}", resp.body());
    let v = body_json(&resp);
    assert_eq!(v["feasible"], false);
    assert!(v["kpis"]["visits_total"].as_u64().is_some_and(|n| n > 0));
}

#[tokio::test]
async fn scoped_keys_may_only_send_their_own_team_or_provider() {
    let (state, keys) = state(false);
    let app = routes(state);
    let mut request: PlanningRequest = load_request("small_team.json");
    assert_eq!(request.teams[0].id, TEAM);
    assert_eq!(request.providers[0].id, PROVIDER);
    // The same data moved to another team: valid, but not the planner key's team.
    let elsewhere = Some("team-elsewhere".to_string());
    request.teams[0].id = "team-elsewhere".into();
    request
        .carers
        .iter_mut()
        .for_each(|c| c.team.clone_from(&elsewhere));
    request
        .service_users
        .iter_mut()
        .for_each(|s| s.team.clone_from(&elsewhere));
    let body = serde_json::to_vec(&request).expect("serialise");
    let resp = warp::test::request()
        .method("POST")
        .path("/v1/rota/jobs")
        .header("content-type", "application/json")
        .header("authorization", bearer(&keys, Role::Planner))
        .body(body)
        .reply(&app)
        .await;
    assert_eq!(resp.status(), 403, "{:?}", resp.body());
    let v = body_json(&resp);
    assert_eq!(v["code"], "forbidden");
    assert!(
        v["detail"]
            .as_str()
            .is_some_and(|d| d.contains("$.teams[0].id")),
        "{v}"
    );
}

/// Every route of the table, with every role and without a key: 401 without a
/// (valid) key, 403 for roles the table does not allow, and neither for roles it allows.
#[tokio::test]
async fn every_route_enforces_its_roles() {
    let (state, keys) = state(true);
    let app = routes(state);
    for route in table() {
        let path = concrete(route.path);
        let what = format!("{} {}", route.method.as_str(), route.path);
        let anonymous = request_for(route.method, &path).reply(&app).await;
        let bad_key = request_for(route.method, &path)
            .header("authorization", "Bearer cf_not_a_key")
            .reply(&app)
            .await;
        match route.access {
            Access::Public => {
                // No key needed; a route with a required query parameter (a week
                // link's token) answers 400 without it.
                let needs_query = route.query.iter().any(|q| q.required);
                assert!(
                    anonymous.status().is_success() || needs_query && anonymous.status() == 400,
                    "{what}: {:?}",
                    anonymous.body()
                );
            }
            Access::Roles(_) => {
                for resp in [&anonymous, &bad_key] {
                    assert_eq!(resp.status(), 401, "{what}");
                    assert_eq!(
                        resp.headers()["www-authenticate"],
                        "Bearer realm=\"carefill\""
                    );
                    assert_eq!(resp.headers()["content-type"], "application/problem+json");
                    assert_eq!(body_json(resp)["code"], "unauthorized");
                }
            }
        }
        for role in Role::ALL {
            let resp = request_for(route.method, &path)
                .header("authorization", bearer(&keys, role))
                .reply(&app)
                .await;
            if route.access.allows(role) {
                // A scoped key asking about another provider's or team's resource (the
                // placeholder id) is refused by scope, not by role.
                let scoped_refusal = resp.status() == 403
                    && body_json(&resp)["detail"]
                        .as_str()
                        .is_some_and(|d| d.contains("is scoped to"));
                assert!(
                    resp.status() != 401 && (resp.status() != 403 || scoped_refusal),
                    "{what} as {role}: {} {:?}",
                    resp.status(),
                    resp.body()
                );
            } else {
                assert_eq!(resp.status(), 403, "{what} as {role}");
                assert_eq!(body_json(&resp)["code"], "forbidden", "{what} as {role}");
            }
        }
    }
}

/// Every table entry is served by the router for its method (no 404 route_not_found,
/// no 405), and `/openapi.json` lists exactly the table's paths and methods.
#[tokio::test]
async fn router_and_openapi_agree_with_the_route_table() {
    let (state, keys) = state(true);
    let app = routes(state);
    let admin = bearer(&keys, Role::Admin);
    for route in table() {
        let path = concrete(route.path);
        let resp = request_for(route.method, &path)
            .header("authorization", &admin)
            .reply(&app)
            .await;
        let what = format!("{} {}", route.method.as_str(), route.path);
        assert_ne!(resp.status(), 405, "{what} not served");
        if resp.status() == 404 {
            assert_ne!(
                body_json(&resp)["code"],
                "route_not_found",
                "{what} not served"
            );
        }
    }
    let resp = warp::test::request()
        .path("/openapi.json")
        .reply(&app)
        .await;
    assert_eq!(resp.status(), 200);
    let doc = body_json(&resp);
    assert_eq!(doc["openapi"], "3.1.0");
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    let mut listed = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            listed += 1;
            let route = table()
                .iter()
                .find(|r| r.path == path && r.method.lower() == method)
                .unwrap_or_else(|| panic!("openapi lists {method} {path}, the table does not"));
            assert_eq!(op["operationId"], route.id);
            let secured = !op["security"].as_array().expect("security").is_empty();
            assert_eq!(secured, matches!(route.access, Access::Roles(_)), "{path}");
            if secured {
                assert!(op["responses"]["401"].is_object() && op["responses"]["403"].is_object());
            }
        }
    }
    assert_eq!(listed, table().len());
    let mut ids = std::collections::HashSet::new();
    for route in table() {
        assert!(ids.insert(route.id), "duplicate operationId {}", route.id);
        for name in route.request.iter().chain([&route.response.schema]) {
            assert!(
                schemas.contains_key(*name),
                "{}: no schema {name}",
                route.id
            );
        }
    }
}
