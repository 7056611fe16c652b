//! Weekly hours by calendar week: a horizon that starts mid-week counts its
//! first days with the hours already worked earlier that week (the frozen
//! past), and the days from the next Monday as a new week, in the engine and
//! in the independent checker alike.

use carefill_solver::check::{ViolationCode, check};
use carefill_solver::format::{PlanningRequest, Rota};
use carefill_solver::model::Problem;
use carefill_solver::rota::{SolveOptions, solve};
use carefill_solver::testing::assert_feasible;
use serde_json::{Value, json};
use std::time::Duration;

/// One carer, one person, a 60-minute visit every day for a week starting on
/// Wednesday 2 December 2026; at most 120 paid minutes a week.
fn wednesday_week(worked_before: u32) -> Value {
    json!({
        "format": "carefill/1",
        "horizon": {"start_date": "2026-12-02", "days": 7, "time_zone": "Europe/London"},
        "carers": [
            {"id": "ann", "gender": "female", "contract": "zero_hours", "max_min_per_week": 120,
             "worked_min_before_start": worked_before,
             "home": {"lat": 50.720, "lon": -3.530},
             "shifts": [{"days": ["daily"], "start": "07:00", "end": "13:00"}]}
        ],
        "service_users": [{"id": "u1", "location": {"lat": 50.722, "lon": -3.528}}],
        "packages": [
            {"id": "p1", "service_user": "u1", "visits": [
                {"id": "am", "days": ["daily"], "time": {"window": {"start": "08:00", "end": "10:00"}}, "duration_min": 60}]}
        ]
    })
}

fn problem(v: Value) -> Problem {
    let req: PlanningRequest = serde_json::from_value(v).expect("request");
    Problem::from_request(&req).expect("valid")
}

fn solved(p: &Problem) -> Rota {
    let rota = solve(
        p,
        &SolveOptions {
            time_limit: Duration::from_secs(60),
            seed: 1,
            max_iterations: Some(200),
            ..SolveOptions::default()
        },
    );
    assert_feasible(p, &rota);
    rota
}

/// Placed visits per calendar week: (Wednesday-Sunday, Monday-Tuesday).
fn by_week(rota: &Rota) -> (usize, usize) {
    let mut weeks = (0, 0);
    for s in rota.routes.iter().flat_map(|r| &r.stops) {
        let date = s.visit.rsplit_once('@').expect("dated id").1;
        if date >= "2026-12-07" {
            weeks.1 += 1;
        } else {
            weeks.0 += 1;
        }
    }
    weeks
}

#[test]
fn weekly_maximum_counts_calendar_weeks_and_the_hours_already_worked() {
    // Wednesday to Sunday is one week, Monday and Tuesday the next: two
    // visits in each (a 7-day block from the start would allow two in all).
    let p = problem(wednesday_week(0));
    assert_eq!((p.week_of(0), p.week_of(4), p.week_of(5)), (0, 0, 1));
    let rota = solved(&p);
    assert_eq!(by_week(&rota), (2, 2));
    let unplaced: Vec<&str> = rota
        .unplaced
        .iter()
        .map(|u| u.reasons[0].code.as_str())
        .collect();
    assert!(
        unplaced.iter().all(|c| *c == "max_weekly_hours"),
        "{unplaced:?}"
    );

    // An hour worked on Monday or Tuesday (before the horizon) leaves one
    // visit this week; next week is untouched.
    let q = problem(wednesday_week(60));
    let rota_q = solved(&q);
    assert_eq!(by_week(&rota_q), (1, 2));

    // The checker counts the same: the first rota works 180 minutes this
    // week once the hour before the horizon is counted.
    let flagged: Vec<String> = check(&q, &rota)
        .violations
        .into_iter()
        .filter(|v| v.code == ViolationCode::MaxWeeklyMinutes)
        .map(|v| v.message)
        .collect();
    assert_eq!(flagged.len(), 1, "{flagged:?}");
    assert!(
        flagged[0].contains("180 min in the week of 2026-11-30"),
        "{flagged:?}"
    );
}

#[test]
fn hours_worked_before_the_horizon_are_validated() {
    let req: PlanningRequest = serde_json::from_value(wednesday_week(9000)).expect("request");
    let issues = Problem::from_request(&req).expect_err("out of range");
    assert!(
        issues
            .iter()
            .any(|i| i.path == "$.carers[0].worked_min_before_start"),
        "{issues:?}"
    );
}
