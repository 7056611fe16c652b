//! Brokerage simulations through the API (`POST /v1/simulations`): a job
//! runs to the same report as `carefill simulate` (JSON, HTML, CSV) with its
//! progress in the status; brokers, integrators and admins may run one,
//! providers and planners may not; an invalid scenario gets every problem with
//! its JSON path (the API's caps included); at most two run or wait at once;
//! a cancelled job has no result; and `"county": "serving"` simulates the
//! serving broker's own roster and rotas. Every answer is checked against
//! the OpenAPI document, and every run's integrity (the checker on every team
//! rota, the ledger, no visit lost) must hold.

use crate::support::{bearer, routes, state};
use carefill_api::auth::DemoKeys;
use carefill_api::broker_service::{BrokerService, Clock, ManualClock};
use carefill_api::store::{self, Baseline};
use carefill_api::{AppState, Role};
use carefill_solver::broker::demo;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use std::sync::Arc;

/// A cheap scenario: the small county (8 one-team providers), `days` days.
fn scenario(days: u32, policies: usize) -> Value {
    let names = ["broadcast", "ranked", "broadcast-15", "broadcast-60"];
    json!({
        "name": "api test",
        "county": {"generate": {"seed": 3, "size": "small", "rota_iterations": 10}},
        "days": days,
        "seeds": {"first": 1, "count": 1},
        "arrivals": {"per_day": 4.0},
        "policies": names.iter().take(policies).map(|n| json!({"name": n})).collect::<Vec<_>>(),
    })
}

async fn call(
    state: &AppState,
    keys: &DemoKeys,
    role: Role,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> warp::http::Response<bytes::Bytes> {
    let mut req = warp::test::request()
        .method(method)
        .path(path)
        .header("authorization", bearer(keys, role));
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(serde_json::to_vec(b).expect("json"));
    }
    req.reply(&routes(state.clone())).await
}

fn json_of(resp: &warp::http::Response<bytes::Bytes>) -> Value {
    serde_json::from_slice(resp.body()).expect("json body")
}

/// Polls the status until the job has finished (the test harness's timeout
/// bounds it; nothing is asserted about how long it took).
async fn finished(state: &AppState, keys: &DemoKeys, id: &str) -> Value {
    finished_as(state, keys, Role::Broker, id).await
}

/// [`finished`] for a job submitted by `role`'s key (a job is visible to its
/// submitter and to admins).
async fn finished_as(state: &AppState, keys: &DemoKeys, role: Role, id: &str) -> Value {
    loop {
        let r = call(
            state,
            keys,
            role,
            "GET",
            &format!("/v1/simulations/{id}"),
            None,
        )
        .await;
        assert_eq!(r.status(), 200);
        let v = json_of(&r);
        if ["succeeded", "cancelled", "failed"].contains(&v["state"].as_str().unwrap_or("")) {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn assert_integrity(report: &Value) {
    for run in report["runs"].as_array().expect("runs") {
        let i = &run["integrity"];
        assert_eq!(i["referrals_accounted"], true, "{i}");
        assert_eq!(i["ledger_trial_balance"], 0, "{i}");
        assert_eq!(i["ledger_verified"], true, "{i}");
        assert!(i["rotas_checked"].as_u64().unwrap_or(0) > 0, "{i}");
        assert_eq!(i["rota_violations"], 0, "{i}");
        assert_eq!(i["visits_lost"], 0, "{i}");
    }
}

#[tokio::test]
async fn a_simulation_job_runs_to_the_report_with_its_progress_html_and_csv() {
    let (state, keys) = state(false);
    let r = call(
        &state,
        &keys,
        Role::Broker,
        "POST",
        "/v1/simulations",
        Some(&scenario(1, 2)),
    )
    .await;
    assert_eq!(r.status(), 202, "{:?}", r.body());
    let job = json_of(&r);
    let id = job["id"].as_str().expect("id").to_string();
    assert!(id.starts_with("sim_"));
    assert_eq!(
        r.headers()["location"].to_str().expect("location"),
        format!("/v1/simulations/{id}")
    );
    assert_eq!(job["policies"], json!(["broadcast", "ranked"]));
    let done = finished(&state, &keys, &id).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["progress"]["days_total"], 2, "one day x two policies");
    assert_eq!(done["progress"]["days_done"], 2);
    assert_eq!(done["progress"]["fraction"], 1.0);

    let r = call(
        &state,
        &keys,
        Role::Broker,
        "GET",
        &format!("/v1/simulations/{id}/result"),
        None,
    )
    .await;
    assert_eq!(r.status(), 200);
    let report = json_of(&r);
    assert_eq!(report["days"], 1);
    assert_eq!(report["seeds"], json!([1]));
    assert_eq!(report["policies"].as_array().map(Vec::len), Some(2));
    assert_eq!(report["runs"].as_array().map(Vec::len), Some(2));
    assert!(report["devon_targets"].is_object());
    assert_integrity(&report);

    let r = call(
        &state,
        &keys,
        Role::Broker,
        "GET",
        &format!("/v1/simulations/{id}/report.html"),
        None,
    )
    .await;
    assert_eq!(r.status(), 200);
    let page = String::from_utf8_lossy(r.body()).to_string();
    assert!(page.starts_with("<!doctype html>"));
    assert!(page.contains("Devon Cares 70% in 1.5 h"));

    for (table, header) in [
        ("summary", "policy,metric,mean,lo,hi,n"),
        ("runs", "policy,seed"),
        ("fill_times", "policy,seed"),
        ("daily", "policy,seed"),
    ] {
        let r = call(
            &state,
            &keys,
            Role::Broker,
            "GET",
            &format!("/v1/simulations/{id}/csv/{table}"),
            None,
        )
        .await;
        assert_eq!(r.status(), 200, "{table}");
        let body = String::from_utf8_lossy(r.body()).to_string();
        assert!(
            body.starts_with(header),
            "{table}: {}",
            &body[..40.min(body.len())]
        );
    }
    let r = call(
        &state,
        &keys,
        Role::Broker,
        "GET",
        &format!("/v1/simulations/{id}/csv/nothing"),
        None,
    )
    .await;
    assert_eq!(r.status(), 404);

    // The job is the submitter's: an integrator key does not see it, an admin does.
    let listed = json_of(
        &call(
            &state,
            &keys,
            Role::Integrator,
            "GET",
            "/v1/simulations",
            None,
        )
        .await,
    );
    assert_eq!(listed["simulations"], json!([]));
    let r = call(
        &state,
        &keys,
        Role::Integrator,
        "GET",
        &format!("/v1/simulations/{id}"),
        None,
    )
    .await;
    assert_eq!(r.status(), 404);
    let listed = json_of(&call(&state, &keys, Role::Admin, "GET", "/v1/simulations", None).await);
    assert_eq!(listed["simulations"][0]["id"], id.as_str());

    // Cancelling a finished job leaves it as it is.
    let r = call(
        &state,
        &keys,
        Role::Broker,
        "POST",
        &format!("/v1/simulations/{id}/cancel"),
        None,
    )
    .await;
    assert_eq!(r.status(), 202);
    assert_eq!(json_of(&r)["state"], "succeeded");
}

#[tokio::test]
async fn providers_and_planners_may_not_run_simulations() {
    let (state, keys) = state(false);
    for role in [Role::Provider, Role::Planner] {
        for (method, path) in [
            ("POST", "/v1/simulations"),
            ("GET", "/v1/simulations"),
            ("GET", "/v1/simulations/sim_0"),
        ] {
            let body = (method == "POST").then(|| scenario(1, 1));
            let r = call(&state, &keys, role, method, path, body.as_ref()).await;
            assert_eq!(r.status(), 403, "{role:?} {method} {path}");
        }
    }
    assert_eq!(
        json_of(&call(&state, &keys, Role::Admin, "GET", "/v1/simulations", None).await)["simulations"],
        json!([]),
        "nothing was started"
    );
}

#[tokio::test]
async fn an_invalid_scenario_gets_every_problem_with_its_json_path() {
    let (state, keys) = state(false);
    let mut bad = scenario(40, 1);
    bad["arrivals"]["per_day"] = json!(-1.0);
    bad["seeds"]["count"] = json!(11);
    bad["sickness_rate"] = json!(1.5);
    bad["county"]["generate"]["rota_iterations"] = json!(5000);
    let r = call(
        &state,
        &keys,
        Role::Broker,
        "POST",
        "/v1/simulations",
        Some(&bad),
    )
    .await;
    assert_eq!(r.status(), 422, "{:?}", r.body());
    let p = json_of(&r);
    assert_eq!(p["code"], "invalid_request");
    let paths: Vec<&str> = p["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .filter_map(|i| i["path"].as_str())
        .collect();
    for want in [
        "$.days",
        "$.arrivals.per_day",
        "$.seeds.count",
        "$.sickness_rate",
        "$.county.generate.rota_iterations",
    ] {
        assert!(paths.contains(&want), "{want} in {paths:?}");
    }

    // The API reads no files, and "serving" needs a broker.
    let mut file = scenario(1, 1);
    file["county"] = json!({"roster_file": {"path": "/etc/passwd"}});
    let r = call(
        &state,
        &keys,
        Role::Broker,
        "POST",
        "/v1/simulations",
        Some(&file),
    )
    .await;
    assert_eq!(r.status(), 422);
    assert_eq!(json_of(&r)["path"], "$.county.roster_file");
    let mut serving = scenario(1, 1);
    serving["county"] = json!("serving");
    let r = call(
        &state,
        &keys,
        Role::Broker,
        "POST",
        "/v1/simulations",
        Some(&serving),
    )
    .await;
    assert_eq!(r.status(), 422);
    assert_eq!(json_of(&r)["path"], "$.county");

    // A field of the wrong shape or unknown is a 400 naming its path.
    let mut unknown = scenario(1, 1);
    unknown["colour"] = json!("red");
    let r = call(
        &state,
        &keys,
        Role::Broker,
        "POST",
        "/v1/simulations",
        Some(&unknown),
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(json_of(&r)["code"], "malformed_json");

    // Too many replications (policies x seeds), and a bad seeds parameter.
    let mut many = scenario(1, 4);
    many["seeds"]["count"] = json!(7);
    let r = call(
        &state,
        &keys,
        Role::Broker,
        "POST",
        "/v1/simulations",
        Some(&many),
    )
    .await;
    assert_eq!(r.status(), 422);
    assert_eq!(json_of(&r)["path"], "$.policies");
    let r = call(
        &state,
        &keys,
        Role::Broker,
        "POST",
        "/v1/simulations?seeds=0",
        Some(&scenario(1, 1)),
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(json_of(&r)["path"], "seeds");
    assert_eq!(
        json_of(&call(&state, &keys, Role::Admin, "GET", "/v1/simulations", None).await)["simulations"],
        json!([]),
        "nothing was started"
    );
}

#[tokio::test]
async fn two_simulations_at_most_and_a_cancelled_one_has_no_result() {
    let (state, keys) = state(false);
    let long = scenario(28, 1);
    let mut ids = Vec::new();
    for _ in 0..2 {
        let r = call(
            &state,
            &keys,
            Role::Broker,
            "POST",
            "/v1/simulations",
            Some(&long),
        )
        .await;
        assert_eq!(r.status(), 202);
        ids.push(json_of(&r)["id"].as_str().expect("id").to_string());
    }
    let r = call(
        &state,
        &keys,
        Role::Admin,
        "POST",
        "/v1/simulations",
        Some(&long),
    )
    .await;
    assert_eq!(r.status(), 503);
    assert_eq!(json_of(&r)["code"], "queue_full");
    assert!(r.headers().contains_key("retry-after"));
    // The second waits for the first: one runs at a time.
    let second = json_of(
        &call(
            &state,
            &keys,
            Role::Broker,
            "GET",
            &format!("/v1/simulations/{}", ids[1]),
            None,
        )
        .await,
    );
    assert_eq!(second["state"], "queued", "{second}");
    let r = call(
        &state,
        &keys,
        Role::Broker,
        "GET",
        &format!("/v1/simulations/{}/result", ids[0]),
        None,
    )
    .await;
    assert_eq!(r.status(), 409);
    assert_eq!(json_of(&r)["code"], "simulation_not_finished");
    assert!(r.headers().contains_key("retry-after"));
    for id in ids.iter().rev() {
        let r = call(
            &state,
            &keys,
            Role::Broker,
            "POST",
            &format!("/v1/simulations/{id}/cancel"),
            None,
        )
        .await;
        assert_eq!(r.status(), 202);
    }
    for id in &ids {
        let done = finished(&state, &keys, id).await;
        assert_eq!(done["state"], "cancelled", "{done}");
        let r = call(
            &state,
            &keys,
            Role::Broker,
            "GET",
            &format!("/v1/simulations/{id}/report.html"),
            None,
        )
        .await;
        assert_eq!(r.status(), 409);
        assert_eq!(json_of(&r)["code"], "simulation_without_result");
    }
    // With both finished there is room again.
    let r = call(
        &state,
        &keys,
        Role::Broker,
        "POST",
        "/v1/simulations",
        Some(&scenario(1, 1)),
    )
    .await;
    assert_eq!(r.status(), 202);
    let id = json_of(&r)["id"].as_str().expect("id").to_string();
    assert_eq!(finished(&state, &keys, &id).await["state"], "succeeded");
}

struct SharedClock(Arc<ManualClock>);
impl Clock for SharedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.now()
    }
}

#[tokio::test]
async fn the_serving_brokers_own_county_can_be_simulated() {
    let county = demo::county(&demo::small_profile(), 11, 40).expect("county");
    let at = Utc
        .with_ymd_and_hms(2026, 11, 30, 9, 0, 0)
        .single()
        .expect("t0");
    let clock = Arc::new(ManualClock::new(at));
    let dir = std::env::temp_dir().join(format!(
        "carefill-sim-{}-{}",
        std::process::id(),
        at.timestamp()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let db = dir.join(format!("serving-{}.sqlite3", rand_suffix()));
    let (roster, rotas) = (county.roster.clone(), county.rotas.clone());
    let svc = Arc::new(
        BrokerService::open(
            store::open(db.to_str().expect("path")).expect("store"),
            Box::new(SharedClock(clock.clone())),
            move || {
                Ok(Baseline {
                    config: Default::default(),
                    roster,
                    rotas,
                })
            },
        )
        .expect("service"),
    );
    let keys = DemoKeys::generate(&county.roster.providers[0].id, &county.roster.teams[0].id)
        .expect("keys");
    let state = AppState::builder(keys.store().expect("key store"))
        .broker(Some(svc))
        .build()
        .expect("state");
    let mut s = scenario(1, 1);
    s["county"] = json!("serving");
    let r = call(
        &state,
        &keys,
        Role::Admin,
        "POST",
        "/v1/simulations",
        Some(&s),
    )
    .await;
    assert_eq!(r.status(), 202, "{:?}", r.body());
    let job = json_of(&r);
    // Times are the service's (manual) clock.
    assert_eq!(job["submitted_at"], "2026-11-30T09:00:00Z");
    let id = job["id"].as_str().expect("id").to_string();
    let done = finished_as(&state, &keys, Role::Admin, &id).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let report = json_of(
        &call(
            &state,
            &keys,
            Role::Admin,
            "GET",
            &format!("/v1/simulations/{id}/result"),
            None,
        )
        .await,
    );
    assert_eq!(
        report["county"]["teams"].as_u64(),
        Some(county.roster.teams.len() as u64)
    );
    assert_integrity(&report);
    let _ = std::fs::remove_dir_all(&dir);
}

fn rand_suffix() -> String {
    format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    )
}
