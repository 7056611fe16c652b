//! Live operations on a rolling horizon, through the HTTP API on a manual
//! clock: a scripted day and night (the horizon rolls over midnight, the
//! earliest day leaves the live rota for the history), a package two weeks
//! ahead brokered with its first visit on its start date, a package beyond
//! the horizon held as scheduled, the capacity map by date, every rota passing
//! the checker, the frozen past unchanged after every re-plan, and the rolled
//! state surviving a restart.

use crate::e2e::Resp;
use crate::support::{SharedClock, assert_rotas_pass_the_checker, open_broker, t0, temp_db};
use carefill_api::Role;
use carefill_api::auth::DemoKeys;
use carefill_api::broker_service::{BrokerService, Clock, ManualClock};
use carefill_solver::broker::demo::{self, DemoCounty};
use carefill_solver::broker::{Broker, HorizonPolicy, frozen_past_changes};
use carefill_solver::format::{Rota, Tier};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The small demo county as `carefill serve --demo` builds it at `t0`: the
/// horizon is today plus 14 days, the referrals stamped `t0`.
fn county() -> &'static DemoCounty {
    static C: OnceLock<DemoCounty> = OnceLock::new();
    C.get_or_init(|| {
        demo::county_at(
            &demo::small_profile(),
            11,
            40,
            t0(),
            &HorizonPolicy::default(),
        )
        .expect("county")
    })
}

struct Running {
    addr: SocketAddr,
    keys: DemoKeys,
    svc: Arc<BrokerService>,
    clock: Arc<ManualClock>,
}

async fn start(db: &Path, at: DateTime<Utc>) -> Running {
    let clock = Arc::new(ManualClock::new(at));
    let c = county();
    let svc = open_broker(db, c, Box::new(SharedClock(clock.clone())));
    let provider = c.roster.providers[0].id.clone();
    let team = c.roster.teams[0].id.clone();
    let keys = DemoKeys::generate(&provider, &team).expect("keys");
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

    async fn ok(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let r = self.call(method, path, body).await;
        assert!(
            (200..300).contains(&r.status),
            "{method} {path}: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        r.json()
    }

    /// The server's own tick (what `carefill serve` runs every few seconds).
    fn tick(&self) -> usize {
        self.svc
            .execute("system", "tick", |b, now| Ok(b.tick(now)))
            .expect("tick")
            .len()
    }

    fn state(&self) -> Broker {
        self.svc.read(|b, _| {
            let mut copy = b.config.clone();
            copy.horizon = b.config.horizon.clone();
            let mut x = Broker::new(copy, b.roster.clone(), b.rotas.clone()).expect("copy");
            x.history = b.history.clone();
            x
        })
    }
}

/// Live rota and history of a team together.
fn everything(b: &Broker, team: &str) -> Rota {
    let mut r = b.rotas.get(team).cloned().unwrap_or_default();
    if let Some(h) = b.history.get(team) {
        r.routes.extend(h.routes.iter().cloned());
    }
    r
}

/// Every visit that had started before `now` is where it was.
fn assert_frozen(before: &Broker, after: &Broker, now: DateTime<Utc>) {
    for team in before.rotas.keys() {
        let changes = frozen_past_changes(&everything(before, team), &everything(after, team), now);
        assert!(changes.is_empty(), "team {team}: {changes:?}");
    }
}

/// A referral Tier 1 can take, with its start date moved to `start`.
fn referral_starting(start: &str, skip: usize) -> Value {
    let c = county();
    let b = c.broker().expect("broker");
    let (p, u) = c
        .referrals
        .iter()
        .filter(|(p, u)| {
            b.stage_order(p)[0] == Tier::Tier1
                && !b
                    .candidates(p, u)
                    .at_stage(Tier::Tier1, &Default::default())
                    .is_empty()
        })
        .nth(skip)
        .expect("a referral Tier 1 can take");
    let mut p = p.clone();
    p.start_date = Some(start.to_string());
    p.end_date = None;
    json!({"package": p, "service_user": u})
}

/// Accepts the package's first open offer over HTTP; returns its team.
async fn accept_first_offer(s: &Running, pkg: &str) -> String {
    let v = s.ok("GET", &format!("/v1/packages/{pkg}"), None).await;
    let offer = v["offers"]
        .as_array()
        .expect("offers")
        .iter()
        .find(|o| o["status"] == "open")
        .unwrap_or_else(|| panic!("an open offer for {pkg}: {v}"))
        .clone();
    s.ok(
        "POST",
        &format!("/v1/offers/{}/accept", offer["id"].as_str().expect("id")),
        None,
    )
    .await;
    let v = s.ok("GET", &format!("/v1/packages/{pkg}"), None).await;
    assert_eq!(v["record"]["status"], "filled", "{v}");
    v["record"]["team"].as_str().expect("team").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_and_a_night_on_the_rolling_horizon() {
    let db = temp_db("horizon-day");
    let s = start(&db, t0()).await;

    // The capacity map: keyed by date from today, named periods, only the future.
    let cap = s.ok("GET", "/v1/reports/capacity", None).await;
    let areas = cap.as_object().expect("areas");
    assert!(!areas.is_empty());
    for (area, a) in areas {
        let days = a["days"].as_object().expect("days by date");
        let first = days.keys().next().expect("a day");
        assert_eq!(first, "2026-11-30", "{area}: starts today");
        assert_eq!(
            days.keys().next_back().map(String::as_str),
            Some("2026-12-14")
        );
        let periods: Vec<&str> = days[first]["periods"]
            .as_array()
            .expect("periods")
            .iter()
            .map(|p| p["period"].as_str().expect("name"))
            .collect();
        assert_eq!(periods, ["morning", "midday", "afternoon", "evening"]);
        for k in ["spare_carer_hours", "demand_hours", "shortfall_hours"] {
            assert!(days[first][k].is_number(), "{area}: {k}");
        }
        // Today's morning is over at 09:00 except for what is left of it.
        assert!(
            days[first]["periods"][0]["spare_carer_hours"].as_f64()
                <= days["2026-12-01"]["periods"][0]["spare_carer_hours"].as_f64()
        );
    }

    // 10:00: a package starting in two weeks (14 Dec, the horizon's last day)
    // is brokered now, and its first visit lands on its start date.
    s.clock.advance(Duration::hours(1));
    let before = s.state();
    let two_weeks = referral_starting("2026-12-14", 0);
    let id = two_weeks["package"]["id"].as_str().expect("id").to_string();
    s.ok("POST", "/v1/referrals", Some(&two_weeks)).await;
    let team = accept_first_offer(&s, &id).await;
    let rota = s.ok("GET", &format!("/v1/teams/{team}/rota"), None).await;
    let starts: Vec<&str> = rota["rota"]["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .flat_map(|r| r["stops"].as_array().expect("stops").iter())
        .filter(|st| {
            st["visit"]
                .as_str()
                .is_some_and(|v| v.starts_with(&format!("{id}/")))
        })
        .map(|st| st["start"].as_str().expect("start"))
        .collect();
    assert!(!starts.is_empty(), "the package's visits are on the rota");
    assert!(
        starts.iter().all(|t| t.starts_with("2026-12-14")),
        "{starts:?}"
    );
    assert_frozen(&before, &s.state(), s.clock.now());
    assert_rotas_pass_the_checker(&s.svc);

    // A package starting in five weeks is held as scheduled: no offer, no
    // escalation, visible in its record.
    let far = referral_starting("2027-01-04", 1);
    let far_id = far["package"]["id"].as_str().expect("id").to_string();
    s.ok("POST", "/v1/referrals", Some(&far)).await;
    let v = s.ok("GET", &format!("/v1/packages/{far_id}"), None).await;
    assert_eq!(v["record"]["status"], "open");
    assert_eq!(v["record"]["brokering_from"], "2026-12-21");
    assert!(v["offers"].as_array().expect("offers").is_empty());

    // Afternoon and evening ticks: nothing rolls before midnight.
    for _ in 0..3 {
        s.clock.advance(Duration::hours(4));
        s.tick();
    }
    assert_eq!(
        s.svc.read(|b, _| b.roster.horizon.start_date.clone()),
        "2026-11-30"
    );

    // 00:05 on 1 Dec: the horizon rolls.
    let before = s.state();
    s.clock
        .advance(Duration::minutes(5) + (t0() + Duration::hours(15) - s.clock.now()));
    assert_eq!(s.clock.now().to_rfc3339(), "2026-12-01T00:05:00+00:00");
    assert!(s.tick() > 0);
    let after = s.state();
    assert_eq!(after.roster.horizon.start_date, "2026-12-01");
    assert_eq!(after.roster.horizon.days, 15);
    for (team, rota) in &after.rotas {
        assert!(
            rota.routes
                .iter()
                .all(|r| !r.shift.contains("#2026-11-30#")),
            "team {team}: 30 Nov left the live rota"
        );
        let had = before.rotas[team]
            .routes
            .iter()
            .filter(|r| r.shift.contains("#2026-11-30#"))
            .count();
        assert_eq!(
            after.history.get(team).map_or(0, |h| h.routes.len()),
            had,
            "team {team}: 30 Nov kept in the history"
        );
    }
    let new_day: usize = after
        .rotas
        .values()
        .map(|r| {
            r.routes
                .iter()
                .filter(|x| x.shift.contains("#2026-12-15#"))
                .count()
        })
        .sum();
    assert!(new_day > 0, "15 Dec appears in the rotas");
    let rota = s.ok("GET", &format!("/v1/teams/{team}/rota"), None).await;
    assert!(
        rota["rota"]["routes"]
            .as_array()
            .expect("routes")
            .iter()
            .any(|r| r["shift"]
                .as_str()
                .is_some_and(|x| x.contains("#2026-12-15#")))
    );
    assert_frozen(&before, &after, s.clock.now());
    assert_rotas_pass_the_checker(&s.svc);
    // The capacity map moved on with it.
    let cap = s.ok("GET", "/v1/reports/capacity", None).await;
    for a in cap.as_object().expect("areas").values() {
        let days = a["days"].as_object().expect("days");
        assert_eq!(days.keys().next().map(String::as_str), Some("2026-12-01"));
        assert_eq!(
            days.keys().next_back().map(String::as_str),
            Some("2026-12-15")
        );
    }

    // A carer's absence later that morning re-plans the team: nothing that
    // had started moves.
    s.clock.advance(Duration::hours(10));
    let before = s.state();
    let carer = before.rotas[&team]
        .routes
        .iter()
        .find(|r| r.shift.contains("#2026-12-01#"))
        .map(|r| r.carer.clone())
        .expect("a carer working today");
    let absence = json!({"from": "2026-12-01T10:30:00+00:00", "to": "2026-12-01T23:59:00+00:00", "reason": "sick"});
    s.ok(
        "POST",
        &format!("/v1/carers/{carer}/absences"),
        Some(&absence),
    )
    .await;
    assert_frozen(&before, &s.state(), s.clock.now());
    assert_rotas_pass_the_checker(&s.svc);

    // Another carer of the team, working today, changes availability: the
    // re-plan moves nothing that had started.
    let before = s.state();
    let other = before.rotas[&team]
        .routes
        .iter()
        .filter(|r| r.shift.contains("#2026-12-01#") && r.carer != carer)
        .map(|r| r.carer.clone())
        .next()
        .expect("another carer working today");
    let shifts = json!({"shifts": [{"days": ["daily"], "start": "07:00", "end": "12:00"}]});
    s.ok(
        "PUT",
        &format!("/v1/carers/{other}/availability"),
        Some(&shifts),
    )
    .await;
    assert_frozen(&before, &s.state(), s.clock.now());
    assert_rotas_pass_the_checker(&s.svc);

    // The team's provider fails and a carer moves to another provider's team:
    // this morning's visits of the released packages stay on record as they
    // were (in the team's history), and nothing else that had started moves.
    let before = s.state();
    let failing = (before.roster.teams.iter())
        .find(|t| t.id == team)
        .and_then(|t| t.provider.clone())
        .expect("the team's provider");
    let to_team = (before.roster.teams.iter())
        .filter(|t| t.provider.is_some() && t.provider.as_deref() != Some(failing.as_str()))
        .find(|t| {
            let members = before
                .roster
                .carers
                .iter()
                .filter(|c| c.team.as_deref() == Some(t.id.as_str()))
                .count();
            members
                < t.max_members
                    .unwrap_or(before.roster.settings.max_team_size) as usize
        })
        .map(|t| t.id.clone())
        .expect("a team with room");
    let status = json!({"status": "failed", "transfers": [{"carer": other, "to_team": to_team}]});
    s.ok(
        "POST",
        &format!("/v1/providers/{failing}/status"),
        Some(&status),
    )
    .await;
    let after = s.state();
    assert!(
        after.history[&team]
            .routes
            .iter()
            .any(|r| r.shift.contains("#2026-12-01#")),
        "today's started visits of the failed team are kept"
    );
    assert_frozen(&before, &after, s.clock.now());
    assert_rotas_pass_the_checker(&s.svc);

    // A restart replays the same rolled state.
    let live = s.state();
    drop(s);
    let again = start(&db, t0() + Duration::days(1) + Duration::hours(11)).await;
    let replayed = again.state();
    assert_eq!(replayed.roster.horizon, live.roster.horizon);
    assert_eq!(replayed.rotas, live.rotas);
    assert_eq!(replayed.history, live.history);
    let packages: BTreeMap<String, Value> = again.svc.read(|b, _| {
        b.packages
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::to_value(v).expect("json")))
            .collect()
    });
    assert_eq!(packages[&far_id]["brokering_from"], "2026-12-21");
}

/// An area the map says has room (shortfall 0) takes a package that fits the
/// spare hours it shows: the map counts capacity as the fit check does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_area_with_room_on_the_capacity_map_takes_a_package_that_fits_it() {
    let db = temp_db("horizon-capacity");
    let s = start(&db, t0()).await;
    let cap = s.ok("GET", "/v1/reports/capacity", None).await;
    let c = county();
    let b = c.broker().expect("broker");
    // A person near a Tier 1 team base in an area with room at midday on
    // every day, asking for a half-hour visit at midday daily.
    let (area, team) =
        c.roster
            .teams
            .iter()
            .filter(|t| {
                t.provider.as_ref().is_some_and(|p| {
                    c.roster
                        .providers
                        .iter()
                        .any(|x| &x.id == p && x.tier == Tier::Tier1)
                })
            })
            .find_map(|t| {
                let area = carefill_solver::broker::area_label(&c.roster, &t.base);
                let a = &cap[&area];
                let roomy = a["shortfall_hours"].as_f64() == Some(0.0)
                    && a["days"].as_object()?.values().all(|d| {
                        d["periods"][1]["spare_carer_hours"].as_f64().unwrap_or(0.0) >= 1.0
                    });
                roomy.then(|| (area, t.clone()))
            })
            .expect("an area with room at midday");
    let (mut p, mut u) = c.referrals[0].clone();
    p.id = "cap-check".into();
    p.service_user = "cap-person".into();
    p.required_skills.clear();
    p.links.clear();
    p.start_date = Some("2026-12-01".into());
    p.end_date = None;
    let mut visit = p.visits[0].clone();
    visit.id = "lunch".into();
    visit.days = vec!["daily".into()];
    visit.duration_min = 30;
    visit.carers_required = 1;
    visit.required_skills.clear();
    visit.time = serde_json::from_value(json!({"window": {"start": "11:00", "end": "13:00"}}))
        .expect("time window");
    p.visits = vec![visit];
    u.id = "cap-person".into();
    u.location = team.base;
    u.preferred_carers.clear();
    u.excluded_carers.clear();
    u.known_carers.clear();
    u.carer_gender = None;
    u.team = None;
    assert_eq!(
        carefill_solver::broker::area_label(&c.roster, &u.location),
        area
    );
    let report = b.candidates_at(&p, &u, t0());
    assert!(
        report
            .fitting
            .iter()
            .any(|x| carefill_solver::broker::area_label(
                &c.roster,
                &c.roster
                    .teams
                    .iter()
                    .find(|t| t.id == x.fit.team)
                    .expect("team")
                    .base
            ) == area),
        "area {area} has room on the map but no team there fits: {:?}",
        report
            .not_fitting
            .iter()
            .map(|x| &x.fit.explanation)
            .collect::<Vec<_>>()
    );
    let body = json!({"package": p, "service_user": u});
    s.ok("POST", "/v1/referrals", Some(&body)).await;
    let v = s.ok("GET", "/v1/packages/cap-check", None).await;
    assert!(
        v["offers"].as_array().is_some_and(|o| !o.is_empty()) || v["record"]["status"] == "filled",
        "{v}"
    );
    assert_rotas_pass_the_checker(&s.svc);
}
