//! Test support shared by the solver's unit tests, the root integration tests,
//! the benches and the API tests (feature `test-support`).

use crate::check::check;
use crate::format::{PlanningRequest, Rota, parse_request};
use crate::model::Problem;
use std::path::PathBuf;

/// Path of a file under the repository's `fixtures/`, independent of the working directory.
pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("fixtures")
        .join(name)
}

/// Reads and parses a request fixture; panics with the reason (tests only).
pub fn load_request(name: &str) -> PlanningRequest {
    let path = fixture_path(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    parse_request(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Validates a request into a problem; panics listing every issue (tests only).
pub fn problem(request: &PlanningRequest) -> Problem {
    Problem::from_request(request).unwrap_or_else(|issues| {
        let lines: Vec<String> = issues.iter().map(ToString::to_string).collect();
        panic!("invalid request:\n{}", lines.join("\n"))
    })
}

/// A VRPTW instance in Solomon's format: `customers` on a fixed pattern over a
/// 100 x 100 square, `vehicles` identical vehicles (capacity 100) at a central
/// depot open 0-1000, each window `window` minutes wide and starting by 700.
/// Many interchangeable shifts, as on large fleets.
pub fn solomon_fleet(customers: u32, vehicles: u32, window: u32) -> Problem {
    let mut text = format!(
        "FLEET\n\nVEHICLE\nNUMBER     CAPACITY\n  {vehicles}         100\n\nCUSTOMER\n\
         CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME\n\n\
         0 50 50 0 0 1000 0\n"
    );
    for i in 1..=customers {
        let (x, y) = ((i * 37) % 100, (i * 61) % 100);
        let ready = (i * 53) % 700;
        text.push_str(&format!("{i} {x} {y} 10 {ready} {} 10\n", ready + window));
    }
    crate::benchmarks::load_solomon(
        "FLEET",
        &text,
        crate::benchmarks::SolomonObjective::Distance,
    )
    .unwrap_or_else(|e| panic!("fleet instance: {e}"))
    .problem
}

/// Asserts the independent checker accepts `rota` (every solver test calls this).
pub fn assert_feasible(problem: &Problem, rota: &Rota) {
    let report = check(problem, rota);
    assert!(
        report.is_feasible(),
        "checker found {} violation(s):\n{}",
        report.violations.len(),
        report
            .violations
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Three carers, three people, two days: a double-handed visit, a link, a required
/// gender, an exclusion and a dementia visit. Small enough to reason about by hand;
/// shared by the checker and MILP tests.
pub fn three_carer_two_day_request() -> serde_json::Value {
    serde_json::json!({
        "format": "carefill/1",
        "horizon": {"start_date": "2026-11-30", "days": 2},
        "carers": [
            {"id": "A", "gender": "female", "contract": "salaried", "skills": ["personal_care", "dementia"],
             "home": {"lat": 50.720, "lon": -3.530}, "shifts": [{"days": ["daily"], "start": "07:00", "end": "14:00"}]},
            {"id": "B", "gender": "male", "contract": "zero_hours", "skills": ["personal_care"],
             "home": {"lat": 50.725, "lon": -3.520}, "shifts": [{"days": ["daily"], "start": "07:00", "end": "14:00"}]},
            {"id": "C", "gender": "female", "contract": "guaranteed_hours", "skills": ["personal_care"],
             "home": {"lat": 50.715, "lon": -3.540}, "shifts": [{"days": ["daily"], "start": "07:00", "end": "14:00"}]}
        ],
        "service_users": [
            {"id": "su1", "location": {"lat": 50.722, "lon": -3.528},
             "carer_gender": {"gender": "female", "strength": "required"}, "known_carers": ["A"]},
            {"id": "su2", "location": {"lat": 50.718, "lon": -3.525}},
            {"id": "su3", "location": {"lat": 50.726, "lon": -3.535}, "excluded_carers": ["C"]}
        ],
        "packages": [
            {"id": "p1", "service_user": "su1",
             "visits": [
                {"id": "am", "days": ["daily"], "time": {"window": {"start": "07:30", "end": "09:30"}}, "duration_min": 30},
                {"id": "meds", "days": ["daily"], "time": {"exact": "12:00"}, "duration_min": 15}
             ],
             "links": [{"first": "am", "then": "meds", "min_gap_min": 60, "max_gap_min": 300}]},
            {"id": "p2", "service_user": "su2",
             "visits": [{"id": "hoist", "days": ["daily"], "time": {"window": {"start": "09:00", "end": "11:00"}},
                         "duration_min": 45, "carers_required": 2, "required_skills": ["personal_care"]}]},
            {"id": "p3", "service_user": "su3", "required_skills": ["dementia"],
             "visits": [{"id": "lunch", "days": ["daily"], "time": {"band": "lunch"}, "duration_min": 30}]}
        ]
    })
}
