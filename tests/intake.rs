//! Intake against hostile input, in process on a demo county with a manual
//! clock: one id rule on every route, one problem+json shape for every 422,
//! validation that reports everything, damages only for time the broker had a
//! package, and README's tour run as written.

use crate::support::{
    SharedClock, first_provider_and_team, open_broker, routes, small_county, t0, temp_db,
};
use carefill_api::auth::DemoKeys;
use carefill_api::broker_service::{BrokerService, Clock, ManualClock};
use carefill_api::{AppState, Role, ServiceConfig};
use carefill_solver::broker::{BrokerEvent, PackageStatus};
use carefill_solver::check::check;
use carefill_solver::format::{PlanningRequest, Rota};
use carefill_solver::model::Problem;
use carefill_solver::testing::load_request;
use chrono::{Duration, SecondsFormat};
use serde_json::{Value, json};
use std::sync::Arc;

/// The service as `carefill serve --demo` builds it: the demo county in a
/// fresh SQLite store, keys scoped to the county's first provider and team,
/// the demo referrals, and the demo team request.
struct Svc {
    state: AppState,
    keys: DemoKeys,
    svc: Arc<BrokerService>,
    clock: Arc<ManualClock>,
    provider: String,
    team: String,
}

fn start(config: ServiceConfig) -> Svc {
    let c = small_county();
    let (provider, team) = first_provider_and_team(c);
    let clock = Arc::new(ManualClock::new(t0()));
    let svc = open_broker(&temp_db("intake"), c, Box::new(SharedClock(clock.clone())));
    svc.set_demo_referrals(c.referrals.clone());
    let keys = DemoKeys::generate(&provider, &team).expect("keys");
    let state = AppState::builder(keys.store().expect("keys"))
        .config(config)
        .demo(Some(load_request("small_team.json")))
        .broker(Some(svc.clone()))
        .build()
        .expect("state");
    Svc {
        state,
        keys,
        svc,
        clock,
        provider,
        team,
    }
}

struct Answer {
    status: u16,
    json: Value,
}

impl Svc {
    fn auth(&self, role: Role) -> String {
        format!("Bearer {}", self.keys.key(role))
    }

    async fn raw(&self, method: &str, path: &str, auth: &str, body: Option<Vec<u8>>) -> Answer {
        let mut req = warp::test::request()
            .method(method)
            .path(path)
            .header("authorization", auth);
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req.reply(&routes(self.state.clone())).await;
        let json = serde_json::from_slice(resp.body()).unwrap_or(Value::Null);
        Answer {
            status: resp.status().as_u16(),
            json,
        }
    }

    async fn get(&self, path: &str, role: Role) -> Answer {
        self.raw("GET", path, &self.auth(role), None).await
    }

    async fn post(&self, path: &str, role: Role, body: &Value) -> Answer {
        let bytes = serde_json::to_vec(body).expect("json");
        self.raw("POST", path, &self.auth(role), Some(bytes)).await
    }

    /// Runs the broker's tick at the clock's time; its events.
    fn tick(&self) -> Vec<BrokerEvent> {
        self.svc
            .execute("test", "tick", |b, now| Ok(b.tick(now)))
            .expect("tick")
    }
}

/// Every 422 has the one shape: `invalid_request`, `path` and `issues[]`,
/// each issue with path, code and message; the first issue is at `path`.
fn assert_422(a: &Answer, path: &str, code: &str) {
    assert_eq!(a.status, 422, "{}", a.json);
    assert_eq!(a.json["code"], "invalid_request", "{}", a.json);
    let issues = a.json["issues"].as_array().expect("issues[]");
    assert!(!issues.is_empty(), "{}", a.json);
    for i in issues {
        assert!(
            i["path"].is_string() && i["code"].is_string() && i["message"].is_string(),
            "{i}"
        );
    }
    assert_eq!(a.json["path"], issues[0]["path"], "{}", a.json);
    assert!(
        issues
            .iter()
            .any(|i| i["path"] == path && i["code"] == code),
        "want {code} at {path}: {}",
        a.json
    );
}

fn demo_referral(i: usize) -> Value {
    let (p, u) = &small_county().referrals[i];
    json!({ "package": p, "service_user": u })
}

// ---------------------------------------------------------------------------
// README's tour, as written
// ---------------------------------------------------------------------------

/// README's "A short tour", request by request, and the planner tour of
/// docs/api.md (validate, an async job cancelled then fetched at once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_tour_runs_as_written() {
    let s = start(ServiceConfig::default());
    // curl -s localhost:8080/health
    let r = s.raw("GET", "/health", "", None).await;
    assert_eq!((r.status, r.json["status"].clone()), (200, json!("ok")));

    // The planner key's demo team: the broker's team of that key, same carers.
    let r = s.get("/v1/demo/request", Role::Planner).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let team: PlanningRequest = serde_json::from_value(r.json.clone()).expect("request");
    let broker_team = s
        .svc
        .read(|b, _| b.team_request(&s.team))
        .expect("the planner's team");
    let ids = |r: &PlanningRequest| r.carers.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
    assert!(!team.carers.is_empty());
    assert_eq!(ids(&team), ids(&broker_team));
    assert_eq!(team.teams.len(), 1);
    assert_eq!(team.teams[0].id, s.team);
    assert_eq!(team.horizon.days, 7);

    // solve?time_limit_s=5 | jq '.kpis, .stats.objective'
    let r = s
        .post("/v1/rota/solve?time_limit_s=5", Role::Planner, &r.json)
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert!(r.json["kpis"].is_object() && r.json["stats"]["objective"].is_number());
    let rota: Rota = serde_json::from_value(r.json).expect("rota");
    let p = Problem::from_request(&team).expect("valid");
    let report = check(&p, &rota);
    assert!(report.violations.is_empty(), "{:?}", report.violations);

    // demo/referrals | jq '.referrals[0]' > referral.json
    let r = s.get("/v1/demo/referrals", Role::Broker).await;
    assert_eq!(r.status, 200);
    let referral = r.json["referrals"][0].clone();
    assert!(referral["package"]["id"].is_string(), "{}", r.json);

    // recommendations?k=3 | jq '.recommendations[] | {provider, tier, team, explanation}'
    let r = s
        .post("/v1/recommendations?k=3", Role::Broker, &referral)
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let recs = r.json["recommendations"].as_array().expect("list");
    assert!(recs.len() <= 3);
    for rec in recs {
        for field in ["provider", "tier", "team", "explanation"] {
            assert!(rec[field].is_string(), "{field}: {rec}");
        }
    }

    // referrals | jq '.offers[] | {provider, stage, expires_at}'   # tier order
    let r = s.post("/v1/referrals", Role::Broker, &referral).await;
    assert_eq!(r.status, 201, "{}", r.json);
    let offers = r.json["offers"].as_array().expect("offers");
    let stages: Vec<u8> = offers
        .iter()
        .map(|o| {
            assert!(
                o["provider"].is_string() && o["expires_at"].is_string(),
                "{o}"
            );
            let order = ["tier1", "tier2", "tier3", "specialist", "emergency_cover"];
            order
                .iter()
                .position(|t| o["stage"] == *t)
                .expect("a known stage") as u8
        })
        .collect();
    assert!(
        stages.windows(2).all(|w| w[0] <= w[1]),
        "tier order: {stages:?}"
    );

    // reports/fill-times | jq .overall
    let r = s.get("/v1/reports/fill-times", Role::Broker).await;
    assert_eq!(r.status, 200);
    assert!(r.json["overall"].is_object(), "{}", r.json);

    // docs/api.md: validate a request with a bad horizon: both fields reported.
    let bad = json!({"format":"carefill/1","horizon":{"start_date":"2026-13-01","days":0}});
    let r = s.post("/v1/requests/validate", Role::Planner, &bad).await;
    assert_eq!((r.status, r.json["valid"].clone()), (200, json!(false)));
    let paths: Vec<&str> = r.json["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .filter_map(|i| i["path"].as_str())
        .collect();
    assert!(paths.contains(&"$.horizon.start_date") && paths.contains(&"$.horizon.days"));

    // docs/api.md: submit a job, cancel it, fetch the result at once.
    let r = s
        .post(
            "/v1/rota/jobs?time_limit_s=120",
            Role::Planner,
            &team_json(&team),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.json);
    let job = r.json["id"].as_str().expect("job id").to_string();
    // Watch it until it runs (the tour's status call).
    wait_running(&s, &job, Role::Planner).await;
    let r = s
        .post(
            &format!("/v1/rota/jobs/{job}/cancel"),
            Role::Planner,
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.json);
    assert_eq!(r.json["state"], "cancelled", "{}", r.json);
    let r = s
        .get(&format!("/v1/rota/jobs/{job}/result"), Role::Planner)
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let rota: Rota = serde_json::from_value(r.json).expect("rota");
    let report = check(&p, &rota);
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

/// Polls a job's status until it runs (it holds a solver slot).
async fn wait_running(s: &Svc, job: &str, role: Role) {
    for _ in 0..500 {
        let v = s.get(&format!("/v1/rota/jobs/{job}"), role).await;
        if v.json["state"] == "running" {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("job {job} never started");
}

fn team_json(r: &PlanningRequest) -> Value {
    serde_json::to_value(r).expect("json")
}

// ---------------------------------------------------------------------------
// One id rule
// ---------------------------------------------------------------------------

fn hostile_ids() -> Vec<String> {
    vec![
        "pk\0nul".into(),
        "pk\nline".into(),
        " pk".into(),
        "S/x".into(),
        "pk@1".into(),
        "pk#1".into(),
        String::new(),
        "x".repeat(1_000_000),
    ]
}

#[tokio::test]
async fn every_id_in_a_referral_keeps_the_id_rule() {
    let s = start(ServiceConfig::default());
    for id in hostile_ids() {
        let mut body = demo_referral(0);
        body["package"]["id"] = json!(id);
        let r = s.post("/v1/referrals", Role::Broker, &body).await;
        assert_422(&r, "$.package.id", "invalid_id");
        let r = s.post("/v1/recommendations", Role::Broker, &body).await;
        assert_422(&r, "$.package.id", "invalid_id");

        let mut body = demo_referral(0);
        body["service_user"]["id"] = json!(id);
        body["package"]["service_user"] = json!(id);
        let r = s.post("/v1/referrals", Role::Broker, &body).await;
        assert_422(&r, "$.service_user.id", "invalid_id");

        let mut body = demo_referral(0);
        body["package"]["visits"][0]["id"] = json!(id);
        let r = s.post("/v1/referrals", Role::Broker, &body).await;
        assert_422(&r, "$.package.visits[0].id", "invalid_id");
    }
    // Nothing was stored.
    let n = s.svc.read(|b, _| b.packages.len());
    assert_eq!(n, 0);
}

#[tokio::test]
async fn roster_and_path_ids_keep_the_same_rule() {
    let s = start(ServiceConfig::default());
    let mut provider = serde_json::to_value(&small_county().roster.providers[0]).expect("json");
    provider["id"] = json!("acme care");
    let r = s.post("/v1/providers", Role::Admin, &provider).await;
    assert_422(&r, "$.id", "invalid_id");
    // An id no record can have is a bad parameter, not a 404 or a 431.
    let long = "p".repeat(101);
    let r = s.get(&format!("/v1/packages/{long}"), Role::Broker).await;
    assert_eq!(
        (r.status, r.json["path"].clone()),
        (400, json!("package_id"))
    );
    let r = s.get("/v1/packages/S%2Fx", Role::Broker).await;
    assert_eq!(
        (r.status, r.json["code"].clone()),
        (400, json!("bad_parameter"))
    );
    // A valid id that names nothing is still 404.
    let r = s.get("/v1/packages/S", Role::Broker).await;
    assert_eq!(r.status, 404);
}

/// Visits belong to packages by structure: a package `S` sees only its own
/// visits whatever other ids begin with `S`.
#[tokio::test]
async fn a_package_is_never_matched_by_id_prefix() {
    let s = start(ServiceConfig::default());
    let mut a = demo_referral(0);
    a["package"]["id"] = json!("S");
    let mut b = demo_referral(1);
    b["package"]["id"] = json!("S.x");
    let mut slash = demo_referral(1);
    slash["package"]["id"] = json!("S/x");
    let r = s.post("/v1/referrals", Role::Broker, &slash).await;
    assert_422(&r, "$.package.id", "invalid_id");
    for body in [&b, &a] {
        let r = s.post("/v1/referrals", Role::Broker, body).await;
        assert_eq!(r.status, 201, "{}", r.json);
    }
    // Each package's offers count exactly its own visits (the fit check keys
    // visits by the model's package, not by id prefix).
    s.svc.read(|br, _| {
        for pkg in ["S", "S.x"] {
            let own = visits_in_horizon(br, pkg);
            assert!(own > 0, "{pkg} has visits in the horizon");
            for o in br.offers.values().filter(|o| o.package == pkg) {
                assert_eq!(o.fit.visits, own, "{pkg}: {:?}", o.fit);
            }
        }
    });
    for pkg in ["S", "S.x"] {
        let r = s.get(&format!("/v1/packages/{pkg}"), Role::Broker).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json["record"]["package"]["id"], pkg);
    }
}

/// Concrete visits of package `pkg` in the broker's horizon.
fn visits_in_horizon(b: &carefill_solver::broker::Broker, pkg: &str) -> usize {
    let rec = &b.packages[pkg];
    let user = b
        .roster
        .service_users
        .iter()
        .find(|u| u.id == rec.package.service_user)
        .cloned()
        .expect("the person");
    let req = PlanningRequest {
        format: b.roster.format.clone(),
        horizon: b.roster.horizon.clone(),
        settings: b.roster.settings.clone(),
        service_users: vec![carefill_solver::format::ServiceUser {
            team: None,
            preferred_carers: Vec::new(),
            excluded_carers: Vec::new(),
            known_carers: Vec::new(),
            ..user
        }],
        packages: vec![rec.package.clone()],
        ..PlanningRequest::default()
    };
    let p = Problem::from_request(&req).expect("valid");
    p.visits
        .iter()
        .filter(|v| carefill_solver::format::is_visit_of(&v.id, pkg))
        .count()
}

// ---------------------------------------------------------------------------
// One shape for every 422, and the smaller ones
// ---------------------------------------------------------------------------

#[tokio::test]
async fn referral_recommendation_and_absence_422s_have_path_and_issues() {
    let s = start(ServiceConfig::default());
    let mut body = demo_referral(0);
    body["package"]["service_user"] = json!("someone-else");
    let r = s.post("/v1/referrals", Role::Broker, &body).await;
    assert_422(&r, "$.package.service_user", "contradiction");

    let mut body = demo_referral(0);
    body["package"]["visits"][0]["duration_min"] = json!(0);
    let r = s.post("/v1/recommendations?k=2", Role::Broker, &body).await;
    assert_422(&r, "$.package.visits[0].duration_min", "out_of_range");

    let carer = s.svc.read(|b, _| {
        b.roster
            .carers
            .iter()
            .find(|c| c.team.as_deref() == Some(s.team.as_str()))
            .map(|c| c.id.clone())
            .expect("a carer")
    });
    let path = format!("/v1/carers/{carer}/absences");
    let from = "2026-12-01T10:00:00+00:00";
    let cases = [
        (
            json!({"from": from, "to": "tomorrow"}),
            "$.to",
            "invalid_instant",
        ),
        (
            json!({"from": from, "to": from}),
            "$.to",
            "end_before_start",
        ),
        (
            json!({"from": from, "to": "2026-12-01T12:00:00+00:00", "reason": "x".repeat(1 << 20)}),
            "$.reason",
            "invalid_text",
        ),
        (
            json!({"from": from, "to": "2026-12-01T12:00:00+00:00", "reason": "sick\u{0}"}),
            "$.reason",
            "invalid_text",
        ),
    ];
    for (body, at, code) in cases {
        let r = s.post(&path, Role::Broker, &body).await;
        assert_422(&r, at, code);
    }
    let r = s
        .post(
            "/v1/ledger/close-year",
            Role::Admin,
            &json!({"year": "2026\u{0}27"}),
        )
        .await;
    assert_422(&r, "$.year", "invalid_text");
    let mut provider = serde_json::to_value(&small_county().roster.providers[0]).expect("json");
    provider["id"] = json!("greedy");
    provider["hourly_rate_pence"] = json!(4_294_967_295u64);
    let r = s.post("/v1/providers", Role::Admin, &provider).await;
    assert_422(&r, "$.hourly_rate_pence", "out_of_range");
}

#[tokio::test]
async fn offers_hide_other_providers_and_check_their_filter() {
    let s = start(ServiceConfig::default());
    let path = format!("/v1/providers/{}/offers?status=bogus", s.provider);
    let r = s.get(&path, Role::Provider).await;
    assert_eq!((r.status, r.json["path"].clone()), (400, json!("status")));
    let path = format!("/v1/providers/{}/offers?status=open", s.provider);
    assert_eq!(s.get(&path, Role::Provider).await.status, 200);
    // Refer until some offer goes to another provider.
    let mut other = None;
    for i in 0..small_county().referrals.len() {
        s.post("/v1/referrals", Role::Broker, &demo_referral(i))
            .await;
        other = s.svc.read(|b, _| {
            b.offers
                .values()
                .find(|o| o.provider != s.provider)
                .map(|o| o.id.clone())
        });
        if other.is_some() {
            break;
        }
    }
    let other = other.expect("an offer to another provider");
    let theirs = s.get(&format!("/v1/offers/{other}"), Role::Provider).await;
    let unknown = s.get("/v1/offers/off-999999", Role::Provider).await;
    assert_eq!((theirs.status, unknown.status), (404, 404));
    let strip = |a: &Answer, id: &str| {
        let mut v = a.json.clone();
        v["request_id"] = Value::Null;
        v.to_string().replace(id, "ID")
    };
    assert_eq!(strip(&theirs, &other), strip(&unknown, "off-999999"));
    let r = s
        .post(
            &format!("/v1/offers/{other}/accept"),
            Role::Provider,
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let s = start(ServiceConfig::default());
    for scheme in ["BEARER", "bearer", "Bearer"] {
        let auth = format!("{scheme} {}", s.keys.key(Role::Broker));
        let r = s.raw("GET", "/v1/packages", &auth, None).await;
        assert_eq!(r.status, 200, "{scheme}: {}", r.json);
    }
}

#[tokio::test]
async fn rebroker_and_cancel_name_the_package_status() {
    let s = start(ServiceConfig::default());
    let body = demo_referral(0);
    let id = body["package"]["id"].as_str().expect("id").to_string();
    assert_eq!(
        s.post("/v1/referrals", Role::Broker, &body).await.status,
        201
    );
    let status = s.svc.read(|b, _| b.packages[&id].status);
    if status != PackageStatus::Filled {
        let r = s
            .post(
                &format!("/v1/packages/{id}/cancel"),
                Role::Broker,
                &json!({}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
    }
    let word = if status == PackageStatus::Filled {
        "filled"
    } else {
        "cancelled"
    };
    let r = s
        .post(
            &format!("/v1/packages/{id}/rebroker"),
            Role::Broker,
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.json);
    assert_eq!(r.json["code"], "package_not_escalated");
    let detail = r.json["detail"].as_str().expect("detail");
    assert!(
        detail.contains(&format!("package `{id}` is {word}")) && !detail.contains("offer"),
        "{detail}"
    );
    let r = s
        .post(
            &format!("/v1/packages/{id}/cancel"),
            Role::Broker,
            &json!({}),
        )
        .await;
    assert_eq!(
        (r.status, r.json["code"].clone()),
        (409, json!("package_closed"))
    );
}

/// With the only solver slot taken, a malformed or invalid solve is still
/// told what is wrong; only a valid one hears `solver_busy`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_solver_still_validates_first() {
    let s = start(ServiceConfig {
        solve_slots: 1,
        ..ServiceConfig::default()
    });
    let team: PlanningRequest = load_request("small_team.json");
    let r = s
        .post(
            "/v1/rota/jobs?time_limit_s=120",
            Role::Admin,
            &team_json(&team),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.json);
    let job = r.json["id"].as_str().expect("id").to_string();
    wait_running(&s, &job, Role::Admin).await;
    let auth = s.auth(Role::Admin);
    let r = s
        .raw("POST", "/v1/rota/solve", &auth, Some(b"{not json".to_vec()))
        .await;
    assert_eq!(
        (r.status, r.json["code"].clone()),
        (400, json!("malformed_json"))
    );
    let mut bad = team_json(&team);
    bad["horizon"]["days"] = json!(0);
    let r = s.post("/v1/rota/solve", Role::Admin, &bad).await;
    assert_422(&r, "$.horizon.days", "out_of_range");
    let r = s
        .post("/v1/rota/solve", Role::Admin, &team_json(&team))
        .await;
    assert_eq!(
        (r.status, r.json["code"].clone()),
        (503, json!("solver_busy"))
    );
    let r = s
        .post(
            &format!("/v1/rota/jobs/{job}/cancel"),
            Role::Admin,
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 202);
}

// ---------------------------------------------------------------------------
// Validation that tells everything
// ---------------------------------------------------------------------------

#[tokio::test]
async fn validate_reports_every_issue_in_one_answer() {
    let s = start(ServiceConfig::default());
    let mut req = team_json(&load_request("small_team.json"));
    req["horizon"]["start_date"] = json!("2026-02-30");
    req["horizon"]["days"] = json!(0);
    req["carers"][0]["shifts"][0]["end"] = json!("25:00");
    req["carers"][1]["skills"] = json!(["juggling"]);
    req["settings"]["max_team_size"] = json!(0);
    req["packages"][0]["visits"][0]["time"] = json!({"exact": "24:00"});
    let r = s.post("/v1/requests/validate", Role::Planner, &req).await;
    assert_eq!((r.status, r.json["valid"].clone()), (200, json!(false)));
    let issues = r.json["issues"].as_array().expect("issues");
    for (path, code) in [
        ("$.horizon.start_date", "invalid_date"),
        ("$.horizon.days", "out_of_range"),
        ("$.carers[0].shifts[0].end", "invalid_time"),
        ("$.carers[1].skills[0]", "unknown_skill"),
        ("$.settings.max_team_size", "out_of_range"),
        ("$.packages[0].visits[0].time.exact", "invalid_time"),
    ] {
        assert!(
            issues
                .iter()
                .any(|i| i["path"] == path && i["code"] == code),
            "{code} at {path}: {}",
            r.json
        );
    }

    let mut req = team_json(&load_request("small_team.json"));
    req["settings"]["default_continuity_cap"] = json!(0);
    for su in req["service_users"].as_array_mut().expect("people") {
        su.as_object_mut().expect("object").remove("continuity_cap");
    }
    let r = s.post("/v1/requests/validate", Role::Planner, &req).await;
    let caps: Vec<&Value> = r.json["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .filter(|i| {
            i["path"]
                .as_str()
                .is_some_and(|p| p.contains("continuity_cap"))
        })
        .collect();
    assert_eq!(caps.len(), 1, "{}", r.json);
    assert_eq!(caps[0]["path"], "$.settings.default_continuity_cap");

    let mut req = team_json(&load_request("small_team.json"));
    req["carers"] = json!([]);
    req["existing_rota"] = json!([]);
    for su in req["service_users"].as_array_mut().expect("people") {
        for k in ["preferred_carers", "excluded_carers", "known_carers"] {
            su[k] = json!([]);
        }
    }
    let r = s.post("/v1/requests/validate", Role::Planner, &req).await;
    assert_eq!(r.json["valid"], true, "{}", r.json);
    assert_eq!(r.json["warnings"][0]["code"], "no_carers", "{}", r.json);
    assert_eq!(r.json["warnings"][0]["path"], "$.carers");
}

// ---------------------------------------------------------------------------
// Damages only for time the broker had the package
// ---------------------------------------------------------------------------

/// Refers demo referrals reshaped so no team can take them (a double-handed
/// visit at 03:00 every night) until one stays unfilled; its id.
async fn refer_unfillable(
    s: &Svc,
    tag: &str,
    referral_time: &str,
    query: &str,
    role: Role,
) -> String {
    for i in 0..small_county().referrals.len() {
        let mut body = demo_referral(i);
        let id = format!("{}-{tag}", body["package"]["id"].as_str().expect("id"));
        body["package"]["id"] = json!(id);
        body["package"]["referral_time"] = json!(referral_time);
        body["package"]["visits"] = json!([{
            "id": "night", "days": ["daily"], "time": {"exact": "03:00"},
            "duration_min": 60, "carers_required": 2
        }]);
        body["package"]["links"] = json!([]);
        let r = s.post(&format!("/v1/referrals{query}"), role, &body).await;
        assert_eq!(r.status, 201, "{}", r.json);
        let id = body["package"]["id"].as_str().expect("id").to_string();
        let status = s.svc.read(|b, _| b.packages[&id].status);
        if matches!(status, PackageStatus::Open | PackageStatus::Escalated) {
            return id;
        }
    }
    panic!("every reshaped referral was filled");
}

fn damages_for(events: &[BrokerEvent], pkg: &str) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, BrokerEvent::DamagesAccrued { package, .. } if package == pkg))
        .count()
}

#[tokio::test]
async fn a_back_dated_referral_posts_no_damages_for_time_before_the_broker_had_it() {
    let s = start(ServiceConfig::default());
    let stamp = (s.clock.now() - Duration::days(20)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let pkg = refer_unfillable(&s, "late", &stamp, "", Role::Broker).await;
    // The fill clock starts at the referral; reports count from it.
    let referred = s.svc.read(|b, _| b.packages[&pkg].referred_at);
    assert_eq!(referred, s.clock.now() - Duration::days(20));
    s.clock.advance(Duration::minutes(1));
    assert_eq!(
        damages_for(&s.tick(), &pkg),
        0,
        "no damages on the next tick"
    );
    // Damages start 240 minutes after the broker received it.
    s.clock.advance(Duration::minutes(238));
    assert_eq!(damages_for(&s.tick(), &pkg), 0);
    s.clock.advance(Duration::minutes(2));
    let still_open = s.svc.read(|b, _| {
        matches!(
            b.packages[&pkg].status,
            PackageStatus::Open | PackageStatus::Escalated
        )
    });
    if still_open {
        assert_eq!(damages_for(&s.tick(), &pkg), 1);
    }

    // Importing history is an admin's explicit act; then damages are due at once.
    let r = s
        .post(
            "/v1/referrals?history=import",
            Role::Broker,
            &demo_referral(0),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.json);
    let imported = refer_unfillable(&s, "imported", &stamp, "?history=import", Role::Admin).await;
    s.clock.advance(Duration::minutes(1));
    assert_eq!(damages_for(&s.tick(), &imported), 1);
}
