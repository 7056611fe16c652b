//! HTTP service, in process: health, validation, solve (checked), check, and problem+json errors.

use carefill_api::{AppState, routes};
use carefill_solver::format::{PlanningRequest, Rota};
use carefill_solver::testing::{assert_feasible, load_request, problem};
use serde_json::Value;

fn state(demo: bool) -> AppState {
    AppState::new(1, demo.then(|| load_request("small_team.json")))
}

fn body_json(resp: &warp::http::Response<bytes::Bytes>) -> Value {
    serde_json::from_slice(resp.body()).expect("JSON body")
}

#[tokio::test]
async fn health_answers_ok() {
    let resp = warp::test::request()
        .path("/health")
        .reply(&routes(state(false)))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(body_json(&resp)["status"], "ok");
}

#[tokio::test]
async fn solve_returns_a_rota_the_checker_accepts() {
    let request: PlanningRequest = load_request("small_team.json");
    let body = serde_json::to_vec(&request).expect("serialise");
    let resp = warp::test::request()
        .method("POST")
        .path("/v1/rota/solve?time_limit_s=1&seed=2")
        .header("content-type", "application/json")
        .body(body)
        .reply(&routes(state(false)))
        .await;
    assert_eq!(resp.status(), 200, "{:?}", resp.body());
    let rota: Rota = serde_json::from_slice(resp.body()).expect("rota JSON");
    assert_feasible(&problem(&request), &rota);
}

#[tokio::test]
async fn invalid_request_lists_every_issue_with_paths() {
    let body = r#"{"format":"carefill/1","horizon":{"start_date":"2026-11-30","days":1},
        "carers":[{"id":"a","gender":"female","contract":"salaried","home":{"lat":95,"lon":0},
                   "shifts":[{"days":["someday"],"start":"07:00","end":"25:00"}]}]}"#;
    let resp = warp::test::request()
        .method("POST")
        .path("/v1/rota/solve")
        .header("content-type", "application/json")
        .body(body)
        .reply(&routes(state(false)))
        .await;
    assert_eq!(resp.status(), 422);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let v = body_json(&resp);
    assert_eq!(v["code"], "invalid_request");
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
        .body(body)
        .reply(&routes(state(false)))
        .await;
    assert_eq!(validate.status(), 200);
    assert_eq!(body_json(&validate)["valid"], false);
}

#[tokio::test]
async fn bad_input_gets_clear_4xx_never_500() {
    let app = routes(state(false));
    /// (method, path, content type, body, expected status, expected code)
    type Case<'a> = (&'a str, &'a str, Option<&'a str>, &'a [u8], u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/v1/rota/solve",
            Some("application/json"),
            b"{not json",
            400,
            "malformed_json",
        ),
        (
            "POST",
            "/v1/rota/solve",
            Some("text/plain"),
            b"{}",
            415,
            "unsupported_media_type",
        ),
        (
            "POST",
            "/v1/rota/solve?time_limit_s=999",
            Some("application/json"),
            b"{}",
            400,
            "bad_parameter",
        ),
        (
            "POST",
            "/v1/rota/solve?time_limit_s=abc",
            Some("application/json"),
            b"{}",
            400,
            "bad_parameter",
        ),
        (
            "POST",
            "/v1/rota/check",
            Some("application/json"),
            b"{\"request\":{}}",
            400,
            "malformed_json",
        ),
        ("GET", "/v1/nowhere", None, b"", 404, "not_found"),
        ("GET", "/v1/demo/request", None, b"", 404, "not_found"),
    ];
    for (method, path, ct, body, status, code) in cases {
        let mut req = warp::test::request().method(method).path(path).body(body);
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        let resp = req.reply(&app).await;
        assert_eq!(resp.status(), status, "{method} {path}: {:?}", resp.body());
        assert_eq!(body_json(&resp)["code"], code, "{method} {path}");
    }
    let huge = vec![b' '; (carefill_api::MAX_BODY_BYTES + 1) as usize];
    let resp = warp::test::request()
        .method("POST")
        .path("/v1/rota/solve")
        .header("content-type", "application/json")
        .body(huge)
        .reply(&app)
        .await;
    assert_eq!(resp.status(), 413);
}

#[tokio::test]
async fn check_endpoint_reports_violations() {
    let request: PlanningRequest = load_request("small_team.json");
    let p = problem(&request);
    let rota = p.write_rota(&[], &[]); // nothing placed and nothing explained
    let body = serde_json::json!({"request": request, "rota": rota});
    let resp = warp::test::request()
        .method("POST")
        .path("/v1/rota/check")
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).expect("serialise"))
        .reply(&routes(state(true)))
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
}
