//! Each test plants one violation into a feasible rota and expects the checker to name it.

use super::*;
use crate::format::{PlanningRequest, Rota, UnplacedReason, UnplacedVisit};
use crate::model::{DAY, PlannedRoute, Problem};
use serde_json::json;

/// The shared small request plus a pinned morning visit.
fn request() -> serde_json::Value {
    let mut r = crate::testing::three_carer_two_day_request();
    r["existing_rota"] = json!([
        {"visit": "p1/am@2026-11-30", "carers": ["A"], "start": "2026-11-30T08:00:00+00:00", "pinned": true}
    ]);
    r
}

fn problem_from(value: serde_json::Value) -> Problem {
    let req: PlanningRequest = serde_json::from_value(value).unwrap();
    Problem::from_request(&req).unwrap()
}

fn shift(p: &Problem, carer: &str, day: u32) -> usize {
    let date = p.horizon.date(day).format("%Y-%m-%d");
    p.shift_index[&format!("{carer}#{date}#1")]
}

fn visit(p: &Problem, id: &str, day: u32) -> usize {
    let date = p.horizon.date(day).format("%Y-%m-%d");
    p.visit_index[&format!("{id}@{date}")]
}

/// The hand-made feasible plan: A does am, hoist (with B) and lunch; C does meds.
fn plan(p: &Problem) -> Vec<PlannedRoute> {
    let mut routes = Vec::new();
    for d in 0..2u32 {
        let base = d as i32 * DAY;
        routes.push(PlannedRoute {
            shift: shift(p, "A", d),
            stops: vec![
                (visit(p, "p1/am", d), base + 8 * 60),
                (visit(p, "p2/hoist", d), base + 9 * 60),
                (visit(p, "p3/lunch", d), base + 11 * 60 + 30),
            ],
        });
        routes.push(PlannedRoute {
            shift: shift(p, "B", d),
            stops: vec![(visit(p, "p2/hoist", d), base + 9 * 60)],
        });
        routes.push(PlannedRoute {
            shift: shift(p, "C", d),
            stops: vec![(visit(p, "p1/meds", d), base + 12 * 60)],
        });
    }
    routes
}

fn feasible() -> (Problem, Rota) {
    let p = problem_from(request());
    let rota = p.write_rota(&plan(&p), &[]);
    (p, rota)
}

fn assert_flags(p: &Problem, rota: &Rota, code: ViolationCode) {
    let report = check(p, rota);
    assert!(
        report.has(code),
        "expected {code:?}, got {:#?}",
        report.violations
    );
}

/// Re-times a stop (start and end move together; arrival is set to the start).
fn retime(rota: &mut Rota, route: usize, stop: usize, p: &Problem, start: i32) {
    let s = &mut rota.routes[route].stops[stop];
    let v = p.visit_index[&s.visit];
    s.start = p.horizon.format(start);
    s.arrival = s.start.clone();
    s.end = p.horizon.format(start + p.visits[v].duration);
}

#[test]
fn accepts_the_hand_made_feasible_rota_and_recomputes_kpis() {
    let (p, rota) = feasible();
    let report = check(&p, &rota);
    assert!(report.is_feasible(), "{:#?}", report.violations);
    let k = &report.kpis;
    assert_eq!(k.visits_total, 8);
    assert_eq!(k.visits_placed, 8);
    assert_eq!(k.max_distinct_carers, 2); // su1: A and C; su2: A and B
    assert_eq!(k.distinct_carers["su3"], 1);
    assert_eq!(k.care_min, 2 * (30 + 15 + 2 * 45 + 30));
    // A travels am->hoist and hoist->lunch each day; nobody else has a between-visit leg.
    let a = p.carer_index["A"];
    let leg = |x: &str, y: &str| {
        let lx = p.visits[visit(&p, x, 0)].location;
        let ly = p.visits[visit(&p, y, 0)].location;
        u64::from(p.leg(a, lx, ly).minutes)
    };
    assert_eq!(
        k.travel_min,
        2 * (leg("p1/am", "p2/hoist") + leg("p2/hoist", "p3/lunch"))
    );
    assert!(k.travel_min > 0);
    // su1's visits: am by A (known), meds by C (unknown).
    assert!(k.known_carer_share > 0.0 && k.known_carer_share < 1.0);
    // Claimed KPIs equal to the recomputed ones pass.
    let mut with_kpis = rota.clone();
    with_kpis.kpis = Some(report.kpis.clone());
    assert!(check(&p, &with_kpis).is_feasible());
}

#[test]
fn flags_missing_skill() {
    let (p, _) = feasible();
    let mut routes = plan(&p);
    // Give su3's dementia lunch on day 1 to B (no dementia skill) instead of A.
    let lunch = routes[3].stops.pop().unwrap();
    routes[4].stops.push(lunch);
    assert_flags(&p, &p.write_rota(&routes, &[]), ViolationCode::MissingSkill);
}

#[test]
fn flags_required_gender() {
    let (p, _) = feasible();
    let mut routes = plan(&p);
    let am = routes[0].stops.remove(0); // su1 requires a female carer
    routes[1].stops.insert(0, am); // B is male
    assert_flags(
        &p,
        &p.write_rota(&routes, &[]),
        ViolationCode::GenderRequired,
    );
}

#[test]
fn flags_excluded_carer() {
    let mut req = request();
    req["carers"][2]["skills"] = json!(["personal_care", "dementia"]);
    let p = problem_from(req);
    let mut routes = plan(&p);
    let lunch = routes[3].stops.pop().unwrap(); // su3 excluded C
    routes[5].stops.insert(0, lunch);
    assert_flags(
        &p,
        &p.write_rota(&routes, &[]),
        ViolationCode::ExcludedCarer,
    );
}

#[test]
fn flags_unsynchronised_double_handed_visit() {
    let (p, mut rota) = feasible();
    retime(&mut rota, 1, 0, &p, 9 * 60 + 10); // B starts 10 min after A
    assert_flags(&p, &rota, ViolationCode::NotSynchronised);
}

#[test]
fn flags_double_handed_visit_with_one_carer() {
    let (p, _) = feasible();
    let mut routes = plan(&p);
    routes[1].stops.clear();
    assert_flags(
        &p,
        &p.write_rota(&routes, &[]),
        ViolationCode::WrongCarerCount,
    );
}

#[test]
fn flags_start_outside_window_and_exact_time() {
    let (p, mut rota) = feasible();
    retime(&mut rota, 2, 0, &p, 12 * 60 + 5); // meds is exactly 12:00
    assert_flags(&p, &rota, ViolationCode::OutsideWindow);
}

#[test]
fn accepts_soft_lateness_within_tolerance_but_flags_misreported_lateness() {
    let mut req = request();
    req["settings"] =
        json!({"lateness": {"mode": "soft", "max_late_min": 30, "cost_per_min": 1.0}});
    let p = problem_from(req);
    let mut routes = plan(&p);
    routes[2].stops[0].1 += 10; // meds 10 min late: allowed
    let rota = p.write_rota(&routes, &[]);
    let report = check(&p, &rota);
    assert!(report.is_feasible(), "{:#?}", report.violations);
    assert_eq!(report.kpis.late_min, 10);
    let mut wrong = rota.clone();
    wrong.routes[2].stops[0].late_min = 0;
    assert_flags(&p, &wrong, ViolationCode::WrongLateness);
    routes[2].stops[0].1 += 30; // 40 min late: beyond tolerance
    assert_flags(
        &p,
        &p.write_rota(&routes, &[]),
        ViolationCode::OutsideWindow,
    );
}

#[test]
fn flags_travel_that_cannot_be_done() {
    let mut req = request();
    // Move su3 30 km away: A cannot get from su2 (ends 09:45) to su3's lunch by 11:30? She can;
    // so make the lunch an exact 10:00 instead.
    req["service_users"][2]["location"] = json!({"lat": 50.95, "lon": -3.30});
    req["packages"][2]["visits"][0]["time"] = json!({"exact": "10:00"});
    let p = problem_from(req);
    let mut routes = plan(&p);
    for d in 0..2usize {
        routes[3 * d].stops[2].1 = d as i32 * DAY + 10 * 60;
    }
    assert_flags(
        &p,
        &p.write_rota(&routes, &[]),
        ViolationCode::TravelInfeasible,
    );
}

#[test]
fn flags_misreported_travel_and_arrival() {
    let (p, mut rota) = feasible();
    rota.routes[0].stops[1].travel_min += 3;
    assert_flags(&p, &rota, ViolationCode::WrongTravel);
    let (p, mut rota) = feasible();
    rota.routes[0].stops[1].arrival = rota.routes[0].stops[1].end.clone();
    assert_flags(&p, &rota, ViolationCode::WrongArrival);
}

#[test]
fn flags_work_outside_the_shift() {
    let mut req = request();
    req["carers"][2]["shifts"] = json!([{"days": ["daily"], "start": "07:00", "end": "12:10"}]);
    let p = problem_from(req); // C cannot do the 12:00 meds and travel home by 12:10
    assert_flags(
        &p,
        &p.write_rota(&plan(&p), &[]),
        ViolationCode::OutsideShift,
    );
}

#[test]
fn flags_continuity_cap() {
    let mut req = request();
    req["service_users"][0]["continuity_cap"] = json!(1);
    let p = problem_from(req); // su1 sees A and C
    assert_flags(
        &p,
        &p.write_rota(&plan(&p), &[]),
        ViolationCode::ContinuityCapExceeded,
    );
}

#[test]
fn flags_daily_and_weekly_maximum_minutes() {
    let mut req = request();
    req["carers"][0]["max_min_per_day"] = json!(60);
    let p = problem_from(req);
    assert_flags(
        &p,
        &p.write_rota(&plan(&p), &[]),
        ViolationCode::MaxDailyMinutes,
    );
    let mut req = request();
    req["carers"][0]["max_min_per_week"] = json!(200); // A works ~110 min a day
    let p = problem_from(req);
    let report = check(&p, &p.write_rota(&plan(&p), &[]));
    assert!(
        report.has(ViolationCode::MaxWeeklyMinutes) && !report.has(ViolationCode::MaxDailyMinutes)
    );
}

#[test]
fn flags_missing_break_in_a_long_day() {
    let mut req = request();
    req["settings"] = json!({"break_rule": {"after_min": 120, "duration_min": 110}});
    let p = problem_from(req); // A works 08:00-12:00 and no gap reaches 110 min
    assert_flags(
        &p,
        &p.write_rota(&plan(&p), &[]),
        ViolationCode::MissingBreak,
    );
    let mut req = request();
    req["settings"] = json!({"break_rule": {"after_min": 120, "duration_min": 60}});
    let p = problem_from(req); // the 09:45-11:30 gap (minus travel) is a 60-min break
    assert!(check(&p, &p.write_rota(&plan(&p), &[])).is_feasible());
}

#[test]
fn flags_a_moved_pinned_visit() {
    let (p, _) = feasible();
    let mut routes = plan(&p);
    routes[0].stops[0].1 += 15; // pinned at 08:00
    assert_flags(
        &p,
        &p.write_rota(&routes, &[]),
        ViolationCode::PinnedChanged,
    );
}

#[test]
fn flags_a_broken_visit_link() {
    let mut req = request();
    req["packages"][0]["links"][0]["max_gap_min"] = json!(200);
    let p = problem_from(req); // am ends 08:30, meds starts 12:00: a 210-min gap > 200
    assert_flags(
        &p,
        &p.write_rota(&plan(&p), &[]),
        ViolationCode::LinkGapViolated,
    );
}

#[test]
fn flags_unaccounted_and_doubly_accounted_visits() {
    let (p, _) = feasible();
    let mut routes = plan(&p);
    routes[5].stops.clear(); // day 2 meds vanishes
    assert_flags(
        &p,
        &p.write_rota(&routes, &[]),
        ViolationCode::VisitUnaccounted,
    );
    let (p, mut rota) = feasible();
    rota.unplaced.push(UnplacedVisit {
        visit: rota.routes[2].stops[0].visit.clone(),
        service_user: "su1".into(),
        reasons: vec![UnplacedReason {
            code: "x".into(),
            message: "y".into(),
        }],
    });
    assert_flags(&p, &rota, ViolationCode::VisitUnaccounted);
}

#[test]
fn flags_unplaced_without_reason_and_accepts_it_with_one() {
    let (p, _) = feasible();
    let mut routes = plan(&p);
    let v = routes[5].stops.pop().unwrap().0;
    let with_reason = crate::model::PlannedUnplaced {
        visit: v,
        reasons: vec![("no_carer_free".into(), "busy".into())],
    };
    let rota = p.write_rota(&routes, std::slice::from_ref(&with_reason));
    assert!(check(&p, &rota).is_feasible());
    let without = crate::model::PlannedUnplaced {
        visit: v,
        reasons: vec![],
    };
    assert_flags(
        &p,
        &p.write_rota(&routes, &[without]),
        ViolationCode::UnplacedWithoutReason,
    );
}

#[test]
fn flags_wrong_duration_bad_times_unknown_and_reused_shifts() {
    let (p, mut rota) = feasible();
    rota.routes[0].stops[0].end = rota.routes[0].stops[0].start.clone();
    assert_flags(&p, &rota, ViolationCode::WrongDuration);
    let (p, mut rota) = feasible();
    rota.routes[0].stops[0].start = "tomorrow morning".into();
    assert_flags(&p, &rota, ViolationCode::BadTime);
    let (p, mut rota) = feasible();
    rota.routes[0].shift = "A#2026-12-25#1".into();
    assert_flags(&p, &rota, ViolationCode::UnknownShift);
    let (p, mut rota) = feasible();
    rota.routes[1].carer = "C".into(); // B's shift claimed by C
    assert_flags(&p, &rota, ViolationCode::UnknownShift);
    let (p, mut rota) = feasible();
    let dup = rota.routes[2].clone();
    rota.routes.push(dup);
    let report = check(&p, &rota);
    assert!(
        report.has(ViolationCode::ShiftUsedTwice) && report.has(ViolationCode::WrongCarerCount)
    );
}

#[test]
fn flags_misreported_kpis_and_wrong_format() {
    let (p, mut rota) = feasible();
    let mut kpis = check(&p, &rota).kpis;
    kpis.travel_min += 1;
    rota.kpis = Some(kpis);
    assert_flags(&p, &rota, ViolationCode::WrongKpis);
    let (p, mut rota) = feasible();
    rota.format = "other/9".into();
    assert_flags(&p, &rota, ViolationCode::WrongFormat);
}

#[test]
fn flags_a_carer_from_another_team() {
    let mut req = request();
    req["teams"] = json!([
        {"id": "north", "base": {"lat": 50.72, "lon": -3.53}},
        {"id": "south", "base": {"lat": 50.70, "lon": -3.53}}
    ]);
    req["carers"][2]["team"] = json!("south"); // C does su1's meds
    req["service_users"][0]["team"] = json!("north");
    let p = problem_from(req);
    assert_flags(&p, &p.write_rota(&plan(&p), &[]), ViolationCode::WrongTeam);
}

#[test]
fn flags_work_during_an_absence() {
    let mut req = request();
    // C is away 11:30-12:30 on the first day: her day splits into 07:00-11:30
    // and 12:30-14:00, and the 12:00 meds on the first piece falls outside it.
    req["carers"][2]["absences"] = json!([
        {"from": "2026-11-30T11:30:00+00:00", "to": "2026-11-30T12:30:00+00:00", "reason": "training"}
    ]);
    let p = problem_from(req);
    let report = check(&p, &p.write_rota(&plan(&p), &[]));
    let outside: Vec<_> = report
        .violations
        .iter()
        .filter(|v| v.code == ViolationCode::OutsideShift)
        .collect();
    assert_eq!(outside.len(), 1, "{:#?}", report.violations);
    assert_eq!(outside[0].route, Some(2)); // C's first-day route
}

#[test]
fn flags_a_route_over_the_carers_capacity() {
    let with_capacity = |capacity: u32| {
        let mut req = request();
        req["carers"][0]["capacity"] = json!(capacity);
        req["packages"][0]["visits"][0]["demand"] = json!(1); // su1's am, by A
        req["packages"][2]["visits"][0]["demand"] = json!(1); // su3's lunch, by A
        problem_from(req)
    };
    let p = with_capacity(2);
    assert!(check(&p, &p.write_rota(&plan(&p), &[])).is_feasible());
    let p = with_capacity(1);
    let report = check(&p, &p.write_rota(&plan(&p), &[]));
    let over: Vec<_> = report
        .violations
        .iter()
        .filter(|v| v.code == ViolationCode::CapacityExceeded)
        .map(|v| v.route)
        .collect();
    assert_eq!(over, vec![Some(0), Some(3)], "{:#?}", report.violations); // A, both days
}

#[test]
fn names_one_verification_per_engine_rule() {
    let names: Vec<&str> = rule_names().collect();
    for rule in [
        "eligibility",
        "time_windows",
        "availability",
        "continuity_cap",
        "daily_hours",
        "weekly_hours",
        "breaks",
        "double_handed",
        "linked_visits",
        "capacity",
    ] {
        assert_eq!(names.iter().filter(|n| **n == rule).count(), 1, "{rule}");
    }
}
