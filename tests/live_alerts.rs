//! Nothing dropped silently and brokerage integrity, through the HTTP API on a
//! manual clock: an absence that drops visits raises alerts naming person and
//! visit and sends them to emergency cover, charged to the risk pool as the
//! care is delivered (with an alert when the pool falls below its threshold);
//! an out-of-order offer needs a reason and is reported; a `no_longer_fits`
//! accept closes the offer; a re-solve with `existing_rota` keeps the frozen
//! past and lists what changed. Every rota passes the independent checker.

use crate::e2e::Resp;
use crate::support::{
    SharedClock, assert_rotas_pass_the_checker, bearer, open_broker, routes, small_county, state,
    t0, temp_db,
};
use carefill_api::Role;
use carefill_api::auth::DemoKeys;
use carefill_api::broker_service::{BrokerService, ManualClock};
use carefill_solver::check::check;
use carefill_solver::format::{Rota, Tier};
use carefill_solver::model::Problem;
use carefill_solver::testing::load_request;
use chrono::{DateTime, Duration};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;

struct Running {
    addr: SocketAddr,
    keys: DemoKeys,
    svc: Arc<BrokerService>,
    clock: Arc<ManualClock>,
}

async fn start(name: &str) -> Running {
    let db = temp_db(&format!("live-alerts-{name}"));
    let clock = Arc::new(ManualClock::new(t0()));
    let svc = open_broker(&db, small_county(), Box::new(SharedClock(clock.clone())));
    let keys = DemoKeys::generate("prov-01", "team-001").expect("keys");
    let addr = crate::support::serve_broker(&keys, svc.clone()).await;
    Running {
        addr,
        keys,
        svc,
        clock,
    }
}

impl Running {
    async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Resp {
        crate::e2e::call(self.addr, self.keys.key(Role::Admin), method, path, body).await
    }
}

fn strings(v: &Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absence_that_drops_visits_alerts_covers_and_charges_as_delivered() {
    let s = start("absence").await;
    // The non-emergency team with the most visits this afternoon, and its carers.
    let (team, carers) = s.svc.read(|b, _| {
        let standby: Vec<String> =
            b.roster
                .teams
                .iter()
                .filter(|t| {
                    b.roster.providers.iter().any(|p| {
                        Some(&p.id) == t.provider.as_ref() && p.tier == Tier::EmergencyCover
                    })
                })
                .map(|t| t.id.clone())
                .collect();
        let afternoon = |r: &Rota| {
            r.routes
                .iter()
                .flat_map(|x| &x.stops)
                .filter(|st| {
                    st.start.as_str() >= "2026-11-30T12:00" && st.start.starts_with("2026-11-30")
                })
                .count()
        };
        let team = b
            .rotas
            .iter()
            .filter(|(t, _)| !standby.contains(t))
            .max_by_key(|(_, r)| afternoon(r))
            .map(|(t, _)| t.clone())
            .expect("a team");
        let carers: Vec<String> = b
            .roster
            .carers
            .iter()
            .filter(|c| c.team.as_deref() == Some(team.as_str()))
            .map(|c| c.id.clone())
            .collect();
        (team, carers)
    });
    // The whole team off sick this afternoon: visits first move, then drop.
    let absence = json!({"from": "2026-11-30T12:00:00+00:00", "to": "2026-11-30T23:59:00+00:00", "reason": "sick"});
    let (mut dropped, mut alerts, mut cover) = (Vec::new(), Vec::new(), Vec::new());
    for c in &carers {
        let r = s
            .call("POST", &format!("/v1/carers/{c}/absences"), Some(&absence))
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let v = r.json();
        assert_eq!(v["team"], json!(team));
        dropped.extend(strings(&v["changes"]["dropped"]));
        alerts.extend(strings(&v["alerts"]));
        cover.extend(strings(&v["emergency_cover"]));
    }
    assert!(!dropped.is_empty(), "the whole team away drops visits");
    for d in &dropped {
        let visit = d["visit"].as_str().expect("visit id");
        assert!(!d["person"].as_str().unwrap_or_default().is_empty(), "{d}");
        assert!(!d["reason"].as_str().unwrap_or_default().is_empty(), "{d}");
        assert!(
            d["old_start"]
                .as_str()
                .unwrap_or_default()
                .starts_with("2026-11-30")
        );
        assert!(!strings(&d["from_carers"]).is_empty());
        assert_eq!(strings(&d["to_carers"]), Vec::<Value>::new());
        // One alert per dropped visit naming person and visit, with what was done.
        let a = alerts
            .iter()
            .find(|a| a["visit"] == json!(visit))
            .unwrap_or_else(|| panic!("no alert for dropped {visit}"));
        assert_eq!(a["code"], "visit_dropped");
        assert_eq!(a["person"], d["person"]);
        assert_eq!(a["team"], json!(team));
        let action = a["action"].as_str().expect("action");
        // Due within 48 h: emergency cover at once, or an open alert saying none is free.
        assert!(
            ["emergency_cover_assigned", "no_emergency_cover"].contains(&action),
            "{a}"
        );
        let covered = cover.iter().any(|e| e["visit"] == json!(visit));
        assert_eq!(covered, action == "emergency_cover_assigned", "{a}");
        assert!(a["message"].as_str().unwrap_or_default().contains(visit));
    }
    assert!(
        !cover.is_empty(),
        "the standby team covers some dropped visits"
    );
    for e in &cover {
        assert_eq!(e["why"], "visit_dropped");
        assert!(!strings(&e["carers"]).is_empty());
    }
    // The alerts and emergency-cover reports show them.
    let r = s.call("GET", "/v1/reports/alerts", None).await;
    assert_eq!(r.status, 200);
    let report = r.json();
    for d in &dropped {
        assert!(
            strings(&report)
                .iter()
                .any(|a| a["visit"] == d["visit"] && a["code"] == "visit_dropped"),
            "{d} not in the alerts report"
        );
    }
    let r = s.call("GET", "/v1/reports/emergency-cover", None).await;
    assert_eq!(strings(&r.json()).len(), cover.len());
    assert_rotas_pass_the_checker(&s.svc);

    // Emergency cover is charged as delivered: nothing before the day ends,
    // the day's care once it has; the pool (empty) falls below 0 and alerts.
    s.svc
        .execute("test", "tick", |b, now| Ok(b.tick(now)))
        .expect("tick");
    let r = s.call("GET", "/v1/reports/risk-pool", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["balance_pence"], 0, "{}", r.json());
    s.clock.advance(Duration::hours(16));
    s.svc
        .execute("test", "tick", |b, now| Ok(b.tick(now)))
        .expect("tick");
    let pool = s.call("GET", "/v1/reports/risk-pool", None).await.json();
    let paid = pool["outflows_by_kind"]["emergency_cover"]
        .as_i64()
        .expect("emergency cover paid");
    let minutes: i64 = cover
        .iter()
        .map(|e| e["care_min"].as_i64().unwrap_or(0))
        .sum();
    assert!(
        paid > 0 && paid <= minutes * 1856 / 60 + cover.len() as i64,
        "{pool}"
    );
    assert_eq!(pool["balance_pence"].as_i64(), Some(-paid));
    assert_eq!(pool["below_threshold"], true);
    let day = &pool["by_day"][0];
    assert_eq!(day["date"], "2026-12-01");
    assert_eq!(day["closing_balance_pence"].as_i64(), Some(-paid));
    let alerts = s.call("GET", "/v1/reports/alerts", None).await.json();
    assert!(
        strings(&alerts)
            .iter()
            .any(|a| a["code"] == "risk_pool_below_threshold"),
        "{alerts}"
    );
    // A second tick charges nothing again.
    s.svc
        .execute("test", "tick", |b, now| Ok(b.tick(now)))
        .expect("tick");
    let again = s.call("GET", "/v1/reports/risk-pool", None).await.json();
    assert_eq!(again["balance_pence"], pool["balance_pence"]);
}

/// A referral whose cascade starts at Tier 1 with a fitting Tier 1 team, and
/// a fitting team of a later tier (not emergency cover).
fn referral_with_a_lower_tier_fit() -> (Value, String, String) {
    let c = small_county();
    let b = c.broker().expect("broker");
    c.referrals
        .iter()
        .find_map(|(p, u)| {
            if b.stage_order(p)[0] != Tier::Tier1 {
                return None;
            }
            let report = b.candidates(p, u);
            report.at_stage(Tier::Tier1, &Default::default()).first()?;
            let low = report
                .fitting
                .iter()
                .find(|c| matches!(c.tier, Tier::Tier2 | Tier::Tier3))?;
            Some((
                json!({ "package": p, "service_user": u }),
                low.provider.clone(),
                low.fit.team.clone(),
            ))
        })
        .expect("a referral Tier 1 and a later tier can both take")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_out_of_order_offer_needs_a_reason_and_is_reported() {
    let s = start("override").await;
    let (mut body, provider, team) = referral_with_a_lower_tier_fit();
    body["provider"] = json!(provider);
    body["team"] = json!(team);
    let r = s
        .call("POST", "/v1/recommendations/apply", Some(&body))
        .await;
    assert_eq!(r.status, 422, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    assert_eq!(v["issues"][0]["path"], "$.override_reason", "{v}");
    body["override_reason"] = json!("other");
    let r = s
        .call("POST", "/v1/recommendations/apply", Some(&body))
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["issues"][0]["path"], "$.override_note");
    body["override_reason"] = json!("nonsense");
    let r = s
        .call("POST", "/v1/recommendations/apply", Some(&body))
        .await;
    assert_eq!(r.status, 400, "an unknown reason code is a bad body");
    // Nothing was recorded by the refused attempts.
    let pkg = body["package"]["id"].as_str().expect("id").to_string();
    assert!(s.svc.read(|b, _| !b.packages.contains_key(&pkg)));

    body["override_reason"] = json!("person_choice");
    body["override_note"] = json!("Mrs K chose the provider her sister uses");
    let r = s
        .call("POST", "/v1/recommendations/apply", Some(&body))
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    let o = &v["record"]["override"];
    assert_eq!(o["reason"], "person_choice", "{v}");
    assert_eq!(o["skipped_stage"], "tier1");
    assert_eq!(o["provider"], json!(provider));
    assert!(!strings(&o["skipped_providers"]).is_empty());
    let r = s.call("GET", "/v1/reports/overrides", None).await;
    assert_eq!(r.status, 200);
    let rows = strings(&r.json());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["package"], json!(pkg));
    assert_eq!(rows[0]["reason"], "person_choice");
    assert_eq!(rows[0]["skipped_stage"], "tier1");

    // Declined: the skipped Tier 1 providers get their first refusal after all.
    let offer = s.svc.read(|b, _| {
        b.offers
            .values()
            .find(|o| o.package == pkg)
            .map(|o| o.id.clone())
            .expect("the offer")
    });
    let r = s
        .call(
            "POST",
            &format!("/v1/offers/{offer}/decline"),
            Some(&json!({"reason": "no_capacity"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    s.svc.read(|b, _| {
        assert!(
            b.offers
                .values()
                .any(|o| o.package == pkg && o.stage == Tier::Tier1),
            "Tier 1 is asked after the override was declined"
        );
    });
    assert_rotas_pass_the_checker(&s.svc);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accept_that_no_longer_fits_closes_the_offer() {
    let s = start("no-longer-fits").await;
    let c = small_county();
    let (p, u) = {
        let b = c.broker().expect("broker");
        c.referrals
            .iter()
            .find(|(p, u)| {
                b.stage_order(p)[0] == Tier::Tier1
                    && !b
                        .candidates(p, u)
                        .at_stage(Tier::Tier1, &Default::default())
                        .is_empty()
            })
            .cloned()
            .expect("a Tier 1 referral")
    };
    let r = s
        .call(
            "POST",
            "/v1/referrals",
            Some(&json!({"package": p, "service_user": u})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let (offer, team) = s.svc.read(|b, _| {
        b.offers
            .values()
            .find(|o| o.package == p.id && o.status == carefill_solver::broker::OfferStatus::Open)
            .map(|o| (o.id.clone(), o.team.clone()))
            .expect("an open offer")
    });
    // The team's whole week goes: the package cannot fit any more.
    let carers: Vec<String> = s.svc.read(|b, _| {
        b.roster
            .carers
            .iter()
            .filter(|c| c.team.as_deref() == Some(team.as_str()))
            .map(|c| c.id.clone())
            .collect()
    });
    let away = json!({"from": "2026-11-30T00:00:00+00:00", "to": "2026-12-07T00:00:00+00:00", "reason": "leave"});
    for c in &carers {
        let r = s
            .call("POST", &format!("/v1/carers/{c}/absences"), Some(&away))
            .await;
        assert_eq!(r.status, 200);
    }
    s.clock.advance(Duration::minutes(5));
    let r = s
        .call("POST", &format!("/v1/offers/{offer}/accept"), None)
        .await;
    assert_eq!(r.status, 409, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["code"], "no_longer_fits");
    let r = s.call("GET", &format!("/v1/offers/{offer}"), None).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    let o = if v["offer"].is_object() {
        &v["offer"]
    } else {
        &v
    };
    assert_eq!(o["status"], "withdrawn", "{v}");
    s.svc.read(|b, _| {
        assert_eq!(b.offers[&offer].note.as_deref(), Some("no_longer_fits"));
    });
    // The package is not left waiting on the closed offer.
    s.svc.read(|b, _| {
        let rec = &b.packages[&p.id];
        let open = b
            .offers
            .values()
            .filter(|o| o.package == p.id && o.status == carefill_solver::broker::OfferStatus::Open)
            .count();
        assert!(
            open > 0 || rec.status != carefill_solver::broker::PackageStatus::Open,
            "the cascade moved on: {:?}",
            rec.status
        );
    });
    // Accepting again is refused as closed, not re-checked.
    let r = s
        .call("POST", &format!("/v1/offers/{offer}/accept"), None)
        .await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (409, json!("offer_closed"))
    );
    assert_rotas_pass_the_checker(&s.svc);
}

#[tokio::test]
async fn a_re_solve_keeps_the_frozen_past_and_lists_what_changed() {
    let (st, keys) = state(false);
    let app = routes(st);
    let mut request: Value =
        serde_json::to_value(load_request("small_team.json")).expect("request");
    request["existing_rota"] = json!([]);
    let solve = |body: Value| {
        let app = app.clone();
        let auth = bearer(&keys, Role::Planner);
        async move {
            warp::test::request()
                .method("POST")
                .path("/v1/rota/solve?time_limit_s=2&seed=3")
                .header("content-type", "application/json")
                .header("authorization", auth)
                .body(serde_json::to_vec(&body).expect("json"))
                .reply(&app)
                .await
        }
    };
    let resp = solve(request.clone()).await;
    assert_eq!(resp.status(), 200);
    let first: Rota = serde_json::from_slice(resp.body()).expect("rota");
    assert!(first.changes.is_none(), "no existing rota, no change list");
    let mut existing = Vec::new();
    for r in &first.routes {
        for s in &r.stops {
            existing.push((s.visit.clone(), r.carer.clone(), s.start.clone()));
        }
    }
    let mut by_visit: std::collections::BTreeMap<String, (Vec<String>, String)> =
        Default::default();
    for (v, c, t) in existing {
        let e = by_visit.entry(v).or_insert_with(|| (Vec::new(), t));
        e.0.push(c);
    }
    request["existing_rota"] = json!(
        by_visit
            .iter()
            .map(|(v, (c, t))| json!({"visit": v, "carers": c, "start": t}))
            .collect::<Vec<_>>()
    );
    let frozen = "2026-12-02T00:00:00+00:00";
    request["frozen_before"] = json!(frozen);
    // An absence no shift touches: nothing has to move.
    request["carers"][0]["absences"] =
        json!([{"from": "2026-12-03T01:00:00+00:00", "to": "2026-12-03T02:00:00+00:00"}]);
    let resp = solve(request.clone()).await;
    assert_eq!(resp.status(), 200, "{:?}", resp.body());
    let second: Rota = serde_json::from_slice(resp.body()).expect("rota");
    let req: carefill_solver::format::PlanningRequest =
        serde_json::from_value(request.clone()).expect("request");
    let p = Problem::from_request(&req).expect("problem");
    let rep = check(&p, &second);
    assert!(rep.violations.is_empty(), "{:?}", rep.violations.first());
    let changes = second.changes.clone().expect("a change list");
    let stats = second.stats.clone().expect("stats");
    if stats.phases.get("kept_published") == Some(&1.0) {
        // Nothing had to move: the published rota stands as it was.
        assert!(changes.moved.is_empty(), "{:?}", changes.moved);
        assert!(changes.retimed.is_empty(), "{:?}", changes.retimed);
        assert!(changes.dropped.is_empty(), "{:?}", changes.dropped);
    } else {
        // The search found a rota better by more than the stability cost.
        let before = first.stats.clone().expect("stats").objective;
        assert!(stats.objective < before, "{} !< {before}", stats.objective);
    }
    // The frozen past is exactly as published.
    let frozen_at = DateTime::parse_from_rfc3339(frozen).expect("instant");
    for r in &second.routes {
        for s in &r.stops {
            let (c, t) = &by_visit[&s.visit];
            if DateTime::parse_from_rfc3339(t).expect("t") < frozen_at {
                assert!(c.contains(&r.carer) && *t == s.start, "{} moved", s.visit);
            }
        }
    }
    // A bad frozen_before is a 422 naming the field.
    request["frozen_before"] = json!("Tuesday");
    let resp = solve(request).await;
    assert_eq!(resp.status(), 422);
    let v: Value = serde_json::from_slice(resp.body()).expect("json");
    assert!(
        strings(&v["issues"])
            .iter()
            .any(|i| i["path"] == "$.frozen_before"),
        "{v}"
    );
}

/// The measurement of docs/live-operations.md: `fixtures/team_week.json`
/// solved, then re-solved with that rota as `existing_rota` and an absence no
/// shift touches; prints the visits moved / re-timed / dropped. Run with
/// `cargo test --test carefill measure_team_week_resolve -- --ignored --nocapture`.
#[test]
#[ignore = "a 20-second measurement"]
fn measure_team_week_resolve() {
    use carefill_solver::format::ExistingAssignment;
    use carefill_solver::rota::{SolveOptions, solve};
    let mut req = load_request("team_week.json");
    req.existing_rota.clear();
    let options = SolveOptions {
        time_limit: std::time::Duration::from_secs(10),
        seed: 1,
        ..SolveOptions::default()
    };
    let first = solve(&Problem::from_request(&req).expect("problem"), &options);
    let before = carefill_solver::format::changes::assignments(&first);
    req.existing_rota = before
        .iter()
        .map(|(v, (c, t))| ExistingAssignment {
            visit: v.clone(),
            carers: c.clone(),
            start: t.clone(),
            pinned: false,
        })
        .collect();
    req.carers[0]
        .absences
        .push(carefill_solver::format::Absence {
            from: "2026-12-06T02:00:00+00:00".into(),
            to: "2026-12-06T03:00:00+00:00".into(),
            reason: None,
        });
    let p = Problem::from_request(&req).expect("problem");
    let second = solve(&p, &options);
    assert!(check(&p, &second).violations.is_empty());
    let c =
        carefill_solver::format::changes::diff(&before, &second, &|_| String::new(), "re_solve");
    println!(
        "placed before {} after {}; moved {} retimed {} dropped {} (kept published: {:?})",
        before.len(),
        carefill_solver::format::changes::assignments(&second).len(),
        c.moved.len(),
        c.retimed.len(),
        c.dropped.len(),
        second
            .stats
            .as_ref()
            .and_then(|s| s.phases.get("kept_published"))
    );
}
