//! Local time and working time: IANA time zones across the UK clock changes
//! (request, solve, checker, iCalendar) and the break rule per working day.

use crate::support::{bearer, routes};
use carefill_api::AppState;
use carefill_api::Role;
use carefill_api::auth::DemoKeys;
use carefill_api::broker_service::{BrokerService, SystemClock};
use carefill_api::store::{self, Baseline};
use carefill_solver::check::{ViolationCode, check};
use carefill_solver::format::{PlanningRequest, Rota, Route, Stop};
use carefill_solver::model::Problem;
use carefill_solver::rota::{SolveOptions, solve};
use carefill_solver::testing::assert_feasible;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

fn request(value: Value) -> PlanningRequest {
    serde_json::from_value(value).expect("test request JSON matches the format")
}

fn quick() -> SolveOptions {
    SolveOptions {
        time_limit: Duration::from_secs(60),
        seed: 5,
        max_iterations: Some(300),
        use_milp: true,
        ..SolveOptions::default()
    }
}

/// One carer and one person at the same place (a zero travel matrix), with
/// `visits` as the person's package visits and `shifts` as the carer's.
fn one_carer(horizon: Value, shifts: Value, absences: Value, visits: Value) -> Value {
    let here = json!({"lat": 50.72, "lon": -3.53, "matrix_index": 0});
    json!({
        "format": "carefill/1",
        "horizon": horizon,
        "travel": {"model": "matrix", "minutes": [[0]], "metres": [[0]]},
        "providers": [{"id": "prov", "name": "Prov", "tier": "tier1",
            "framework_status": "active", "contract": {"type": "spot"},
            "hourly_rate_pence": 2500, "skills": ["personal_care"]}],
        "teams": [{"id": "north", "provider": "prov", "base": here}],
        "carers": [{"id": "ann", "team": "north", "gender": "female",
            "contract": "salaried", "contracted_min_per_week": 0,
            "max_min_per_day": 900, "max_min_per_week": 6000,
            "skills": ["personal_care"], "home": here,
            "shifts": shifts, "absences": absences}],
        "service_users": [{"id": "su", "team": "north", "location": here}],
        "packages": [{"id": "pkg", "service_user": "su", "visits": visits}]
    })
}

// ---- Breaks per working day -------------------------------------------------

/// Eight 45-minute visits, each allowed anywhere from 07:00 to 13:30 on Monday.
fn eight_visits() -> Value {
    Value::Array(
        (1..=8)
            .map(|i| {
                json!({"id": format!("v{i}"), "days": ["2026-11-30"], "duration_min": 45,
                    "time": {"window": {"start": "07:00", "end": "13:30"}}})
            })
            .collect(),
    )
}

fn monday() -> Value {
    json!({"start_date": "2026-11-30", "days": 1, "utc_offset": "+00:00"})
}

/// A split shift 07:00-10:00 and 10:15-13:30 (two shifts with a 15-minute gap).
fn split_shift() -> Value {
    one_carer(
        monday(),
        json!([{"days": ["mon"], "start": "07:00", "end": "10:00"},
               {"days": ["mon"], "start": "10:15", "end": "13:30"}]),
        json!([]),
        eight_visits(),
    )
}

/// One shift 07:00-13:30 that an absence from 10:00 to 10:15 cuts in two.
fn absence_split_shift() -> Value {
    one_carer(
        monday(),
        json!([{"days": ["mon"], "start": "07:00", "end": "13:30"}]),
        json!([{"from": "2026-11-30T10:00:00+00:00", "to": "2026-11-30T10:15:00+00:00",
                "reason": "appointment"}]),
        eight_visits(),
    )
}

/// The eight visits back to back: four in each part of the day, 07:00-10:00 and
/// 10:15-13:15, so 375 minutes of work with only the 15-minute gap.
fn back_to_back_rota(p: &Problem) -> Rota {
    let stop = |i: usize, start: i32| {
        let visit = format!("pkg/v{i}@2026-11-30");
        Stop {
            visit,
            service_user: "su".into(),
            arrival: p.horizon.format(start),
            start: p.horizon.format(start),
            end: p.horizon.format(start + 45),
            travel_min: 0,
            travel_m: 0,
            late_min: 0,
        }
    };
    let route = |shift: &str, first: usize, at: i32| Route {
        carer: "ann".into(),
        shift: shift.into(),
        stops: (0..4)
            .map(|k| stop(first + k, at + 45 * k as i32))
            .collect(),
        start_travel_min: 0,
        end_travel_min: 0,
    };
    Rota {
        format: "carefill/1".into(),
        routes: vec![
            route("ann#2026-11-30#1", 1, 7 * 60),
            route("ann#2026-11-30#2", 5, 10 * 60 + 15),
        ],
        ..Rota::default()
    }
}

#[test]
fn a_split_working_day_of_375_minutes_without_a_break_fails_the_checker() {
    for (name, req) in [
        ("split shift", split_shift()),
        ("absence", absence_split_shift()),
    ] {
        let p = Problem::from_request(&request(req)).expect("valid request");
        assert_eq!(p.shifts.len(), 2, "{name}: the working day has two shifts");
        let report = check(&p, &back_to_back_rota(&p));
        assert!(
            report.has(ViolationCode::MissingBreak),
            "{name}: {:?}",
            report.violations
        );
        let breaks: Vec<_> = report
            .violations
            .iter()
            .filter(|v| v.code == ViolationCode::MissingBreak)
            .collect();
        assert_eq!(breaks.len(), 1, "{name}: one working day, one violation");
        assert!(
            breaks[0].message.contains("375 min") && breaks[0].message.contains("15 min"),
            "{name}: {}",
            breaks[0].message
        );
        // Nothing else is wrong with it: each shift on its own keeps every rule.
        assert_eq!(report.violations.len(), 1, "{:?}", report.violations);
    }
}

#[test]
fn shifts_a_break_apart_are_separate_working_days() {
    // The same rota, but the second shift starts 30 minutes (a break) after the
    // first ends: two working days of 180 minutes each.
    let mut v = split_shift();
    v["carers"][0]["shifts"][1]["start"] = json!("10:30");
    let p = Problem::from_request(&request(v)).expect("valid request");
    let mut rota = back_to_back_rota(&p);
    for stop in &mut rota.routes[1].stops {
        let shift = |t: &str| {
            p.horizon
                .format(p.horizon.parse_instant(t).unwrap() as i32 + 15)
        };
        (stop.arrival, stop.start, stop.end) =
            (shift(&stop.arrival), shift(&stop.start), shift(&stop.end));
    }
    let report = check(&p, &rota);
    assert!(report.is_feasible(), "{:?}", report.violations);
}

#[test]
fn the_engine_keeps_the_break_rule_over_a_split_working_day() {
    for (name, req) in [
        ("split shift", split_shift()),
        ("absence", absence_split_shift()),
    ] {
        let p = Problem::from_request(&request(req)).expect("valid request");
        for seed in 1..=3 {
            let rota = solve(&p, &SolveOptions { seed, ..quick() });
            assert_feasible(&p, &rota);
            let placed = rota.routes.iter().map(|r| r.stops.len()).sum::<usize>();
            eprintln!("{name} seed {seed}: {placed} of 8 placed");
            // 360 minutes of care and a 30-minute break do not fit in 375 minutes of shifts.
            assert!(placed <= 7, "{name} seed {seed}: {placed} placed");
            // Seven fit: three, then four after the rest the gap completes.
            assert_eq!(placed, 7, "{name} seed {seed}");
            for u in &rota.unplaced {
                assert!(!u.reasons.is_empty(), "{name}: {} has no reason", u.visit);
            }
        }
    }
}

// ---- Time zones ----------------------------------------------------------------

/// A week in Europe/London from `start`: one carer on 00:00-24:00 every day, a
/// daily 09:00 visit and a daily 01:30 visit of 30 minutes.
fn london_week(start: &str) -> Value {
    one_carer(
        json!({"start_date": start, "days": 7, "time_zone": "Europe/London"}),
        json!([{"days": ["daily"], "start": "00:00", "end": "24:00"}]),
        json!([]),
        json!([
            {"id": "night", "days": ["daily"], "time": {"exact": "01:30"}, "duration_min": 30},
            {"id": "am", "days": ["daily"], "time": {"exact": "09:00"}, "duration_min": 30},
            {"id": "tea", "days": ["daily"], "duration_min": 30,
             "time": {"window": {"start": "16:00", "end": "17:00"}}}
        ]),
    )
}

/// Every stop's visit id and start instant.
fn starts(rota: &Rota) -> BTreeMap<String, String> {
    rota.routes
        .iter()
        .flat_map(|r| r.stops.iter().map(|s| (s.visit.clone(), s.start.clone())))
        .collect()
}

fn solve_london(start: &str) -> (PlanningRequest, Problem, Rota) {
    let req = request(london_week(start));
    let p = Problem::from_request(&req).expect("valid request");
    let rota = solve(&p, &quick());
    assert_feasible(&p, &rota);
    assert!(rota.unplaced.is_empty(), "{:?}", rota.unplaced);
    (req, p, rota)
}

#[test]
fn a_week_across_the_october_change_keeps_local_times() {
    let (_, p, rota) = solve_london("2026-10-22");
    let at = starts(&rota);
    // Before the change BST (+01:00), after it GMT.
    assert_eq!(at["pkg/am@2026-10-24"], "2026-10-24T09:00:00+01:00");
    assert_eq!(at["pkg/am@2026-10-25"], "2026-10-25T09:00:00+00:00");
    assert_eq!(at["pkg/am@2026-10-26"], "2026-10-26T09:00:00+00:00");
    // 01:30 happens twice on the 25-hour day: the first occurrence is meant.
    assert_eq!(at["pkg/night@2026-10-25"], "2026-10-25T01:30:00+01:00");
    assert_eq!(at["pkg/night@2026-10-26"], "2026-10-26T01:30:00+00:00");
    // Horizon minutes are elapsed time: the 25-hour day is 1500 minutes long.
    let am = |d: &str| p.visits[p.visit_index[&format!("pkg/am@{d}")]].earliest_start;
    assert_eq!(am("2026-10-25") - am("2026-10-24"), 25 * 60);
    assert_eq!(am("2026-10-26") - am("2026-10-25"), 24 * 60);
    // The 00:00-24:00 shift on that day is 25 hours.
    let sunday = &p.shifts[p.shift_index["ann#2026-10-25#1"]];
    assert_eq!(sunday.end - sunday.start, 25 * 60);
}

#[test]
fn a_week_across_the_march_change_moves_skipped_times_forward() {
    let (_, p, rota) = solve_london("2027-03-25");
    let at = starts(&rota);
    assert_eq!(at["pkg/am@2027-03-27"], "2027-03-27T09:00:00+00:00");
    assert_eq!(at["pkg/am@2027-03-28"], "2027-03-28T09:00:00+01:00");
    // 01:30 does not exist on the 23-hour day: it is read with the offset
    // before the change, which is 02:30 BST.
    assert_eq!(at["pkg/night@2027-03-28"], "2027-03-28T02:30:00+01:00");
    assert_eq!(at["pkg/night@2027-03-29"], "2027-03-29T01:30:00+01:00");
    let sunday = &p.shifts[p.shift_index["ann#2027-03-28#1"]];
    assert_eq!(sunday.end - sunday.start, 23 * 60);
    // A window's local end holds: tea starts by 16:30 BST on the day of the change.
    let tea = &p.visits[p.visit_index["pkg/tea@2027-03-28"]];
    assert_eq!(
        p.horizon.format(tea.latest_start),
        "2027-03-28T16:30:00+01:00"
    );
}

#[test]
fn the_checker_reads_instants_in_any_offset_across_the_change() {
    let (_, p, rota) = solve_london("2026-10-22");
    // The same rota written in UTC is the same rota.
    let mut utc = rota.clone();
    for stop in utc.routes.iter_mut().flat_map(|r| r.stops.iter_mut()) {
        for t in [&mut stop.arrival, &mut stop.start, &mut stop.end] {
            *t = chrono::DateTime::parse_from_rfc3339(t)
                .unwrap()
                .with_timezone(&chrono::Utc)
                .to_rfc3339();
        }
    }
    assert!(check(&p, &utc).is_feasible());
    // A visit moved to 09:00 in the summer offset after the change is an hour early.
    let mut early = rota;
    let stop = early
        .routes
        .iter_mut()
        .flat_map(|r| r.stops.iter_mut())
        .find(|s| s.visit == "pkg/am@2026-10-26")
        .unwrap();
    stop.arrival = "2026-10-26T09:00:00+01:00".into();
    stop.start = "2026-10-26T09:00:00+01:00".into();
    stop.end = "2026-10-26T09:30:00+01:00".into();
    let report = check(&p, &early);
    assert!(
        report.has(ViolationCode::OutsideWindow),
        "{:?}",
        report.violations
    );
}

#[test]
fn the_horizon_takes_a_zone_or_an_offset_but_not_both() {
    let issues = |horizon: Value| {
        let mut v = london_week("2026-10-22");
        v["horizon"] = horizon;
        match Problem::from_request(&request(v)) {
            Ok(_) => Vec::new(),
            Err(issues) => issues
                .into_iter()
                .map(|i| (i.path, i.code.as_str().to_string()))
                .collect(),
        }
    };
    assert_eq!(
        issues(json!({"start_date": "2026-10-22", "days": 7,
            "time_zone": "Europe/London", "utc_offset": "+01:00"})),
        vec![(
            "$.horizon.time_zone".to_string(),
            "contradiction".to_string()
        )]
    );
    assert_eq!(
        issues(json!({"start_date": "2026-10-22", "days": 7, "time_zone": "Europe/Londn"})),
        vec![(
            "$.horizon.time_zone".to_string(),
            "invalid_time_zone".to_string()
        )]
    );
    assert_eq!(
        issues(json!({"start_date": "2026-10-22", "days": 7, "time_zone": "europe/london"})),
        vec![(
            "$.horizon.time_zone".to_string(),
            "invalid_time_zone".to_string()
        )]
    );
    assert!(
        issues(json!({"start_date": "2026-10-22", "days": 7, "utc_offset": "+01:00"})).is_empty()
    );
    assert!(issues(json!({"start_date": "2026-10-22", "days": 7})).is_empty());
    // A fixed offset keeps its meaning: 09:00 at +01:00 all week.
    let mut v = london_week("2026-10-22");
    v["horizon"] = json!({"start_date": "2026-10-22", "days": 7, "utc_offset": "+01:00"});
    let p = Problem::from_request(&request(v)).unwrap();
    let am = &p.visits[p.visit_index["pkg/am@2026-10-26"]];
    assert_eq!(
        p.horizon.format(am.earliest_start),
        "2026-10-26T09:00:00+01:00"
    );
}

#[tokio::test]
async fn the_validate_route_names_the_time_zone_field() {
    let (state, keys) = crate::support::state(false);
    let mut v = london_week("2026-10-22");
    v["horizon"]["time_zone"] = json!("Mars/Olympus");
    let resp = warp::test::request()
        .method("POST")
        .path("/v1/requests/validate")
        .header("authorization", bearer(&keys, Role::Planner))
        .json(&v)
        .reply(&routes(state))
        .await;
    let body: Value = serde_json::from_slice(resp.body()).unwrap();
    assert!(
        body.to_string().contains("$.horizon.time_zone")
            && body.to_string().contains("invalid_time_zone"),
        "{} {body}",
        resp.status()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_carer_calendar_gives_local_times_in_its_zone_across_the_change() {
    let (req, _, rota) = solve_london("2026-10-22");
    let published = rota.clone();
    let dir = std::env::temp_dir().join(format!(
        "carefill-time-zones-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    let db = dir.join("b.sqlite3");
    let roster = req.clone();
    let svc = Arc::new(
        BrokerService::open(
            store::open(&db.to_string_lossy()).expect("store"),
            Box::new(SystemClock),
            move || {
                Ok(Baseline {
                    config: Default::default(),
                    roster: roster.clone(),
                    rotas: BTreeMap::from([("north".to_string(), rota.clone())]),
                })
            },
        )
        .expect("service"),
    );
    let keys = DemoKeys::generate("prov", "north").expect("keys");
    let state = AppState::builder(keys.store().expect("keys"))
        .broker(Some(svc))
        .build()
        .expect("state");
    let resp = warp::test::request()
        .method("GET")
        .path("/v1/carers/ann/calendar.ics")
        .header("authorization", bearer(&keys, Role::Planner))
        .reply(&routes(state))
        .await;
    assert_eq!(resp.status(), 200);
    let body = String::from_utf8(resp.body().to_vec())
        .unwrap()
        .replace("\r\n ", "");
    // A VTIMEZONE with the change in force (BST since March) and the one on 25 October.
    for line in [
        "BEGIN:VTIMEZONE\r\nTZID:Europe/London\r\n",
        "BEGIN:DAYLIGHT\r\nDTSTART:20260329T010000\r\nTZOFFSETFROM:+0000\r\nTZOFFSETTO:+0100\r\nEND:DAYLIGHT\r\n",
        "BEGIN:STANDARD\r\nDTSTART:20261025T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0000\r\nEND:STANDARD\r\n",
    ] {
        assert!(body.contains(line), "{line} missing:\n{body}");
    }
    // 09:00 BST and 09:00 GMT are both 09:00 on the team's clock; 01:30 on the
    // 25-hour day is its first occurrence (BST); 01:00 after the clocks went
    // back happens twice, and its second reading is written in UTC.
    for line in [
        "DTSTART;TZID=Europe/London:20261024T090000",
        "DTSTART;TZID=Europe/London:20261025T090000",
        "DTSTART;TZID=Europe/London:20261026T090000",
        "DTSTART;TZID=Europe/London:20261025T013000",
        "DTEND:20261025T010000Z",
    ] {
        assert!(
            body.contains(&format!("{line}\r\n")),
            "{line} missing:\n{body}"
        );
    }
    // Read back through the VTIMEZONE, each event is at its visit's instants.
    let events = crate::console_api::parse_ics(std::str::from_utf8(resp.body()).unwrap());
    let stops: Vec<_> = published
        .routes
        .iter()
        .filter(|r| r.carer == "ann")
        .flat_map(|r| &r.stops)
        .collect();
    assert_eq!(events.len(), stops.len());
    let utc = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    for st in stops {
        let e = events
            .iter()
            .find(|e| e.uid == format!("{}/ann@carefill", st.visit))
            .unwrap_or_else(|| panic!("no event for {}", st.visit));
        assert_eq!(
            (e.start, e.end),
            (utc(&st.start), utc(&st.end)),
            "{}",
            st.visit
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The guard instance (scripts/guard-objectives.sh) has no working day of
/// several shifts (its split shifts are 2.5 hours apart and its one partial
/// absence leaves a 4-hour gap), so the engine times its routes as before.
#[test]
fn the_guard_team_week_has_no_joined_working_days() {
    let p = carefill_solver::testing::problem(&carefill_solver::testing::load_request(
        "team_week.json",
    ));
    for carer in &p.carers {
        let mut shifts: Vec<_> = carer.shifts.iter().map(|&s| &p.shifts[s]).collect();
        shifts.sort_by_key(|s| s.start);
        for w in shifts.windows(2) {
            assert!(
                w[1].start - w[0].end >= p.break_duration,
                "{} and {} form one working day",
                w[0].id,
                w[1].id
            );
        }
    }
}
