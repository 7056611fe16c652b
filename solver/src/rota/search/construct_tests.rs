#![allow(clippy::unwrap_used)]

use super::local_tests::assert_sound;
use super::*;
use crate::format::PlanningRequest;
use std::time::{Duration, Instant};

/// One morning: a double-handed hoist visit at exactly 08:00 (any two of A, B,
/// C) and a stoma visit at exactly 08:00 that only A can do. A lives next door
/// to the hoist visit, so hardest-first (double-handed first) gives the hoist to
/// A and B and leaves no one for the stoma visit.
fn forced_morning() -> Problem {
    let req: PlanningRequest = serde_json::from_value(serde_json::json!({
        "format": "carefill/1",
        "horizon": {"start_date": "2026-11-30", "days": 1},
        "carers": [
            {"id": "A", "gender": "female", "contract": "salaried", "skills": ["personal_care", "stoma_care"],
             "home": {"lat": 50.7200, "lon": -3.5300}, "shifts": [{"days": ["daily"], "start": "07:00", "end": "14:00"}]},
            {"id": "B", "gender": "female", "contract": "salaried", "skills": ["personal_care"],
             "home": {"lat": 50.7210, "lon": -3.5290}, "shifts": [{"days": ["daily"], "start": "07:00", "end": "14:00"}]},
            {"id": "C", "gender": "female", "contract": "salaried", "skills": ["personal_care"],
             "home": {"lat": 50.7500, "lon": -3.4800}, "shifts": [{"days": ["daily"], "start": "07:00", "end": "14:00"}]}
        ],
        "service_users": [
            {"id": "su1", "location": {"lat": 50.7201, "lon": -3.5301}},
            {"id": "su2", "location": {"lat": 50.7300, "lon": -3.5100}}
        ],
        "packages": [
            {"id": "p1", "service_user": "su1",
             "visits": [{"id": "hoist", "days": ["daily"], "time": {"exact": "08:00"}, "duration_min": 45, "carers_required": 2}]},
            {"id": "p2", "service_user": "su2", "required_skills": ["stoma_care"],
             "visits": [{"id": "stoma", "days": ["daily"], "time": {"exact": "08:00"}, "duration_min": 30}]}
        ]
    }))
    .unwrap();
    Problem::from_request(&req).unwrap()
}

#[test]
fn forced_first_places_the_visit_only_one_carer_can_do() {
    let p = forced_morning();
    let part = Part::new(
        &p,
        (0..p.visits.len()).collect(),
        (0..p.shifts.len()).collect(),
    );
    let stoma = p.visit_index["p2/stoma@2026-11-30"];
    let hoist = p.visit_index["p1/hoist@2026-11-30"];
    let until = Instant::now() + Duration::from_secs(60);
    let all: Vec<usize> = part.visits.clone();

    // One round, hardest first: the double-handed visit takes A.
    let mut plain = part.empty_state();
    part.construct(&mut plain, &all, 1, until, false);
    assert_eq!(plain.unplaced, vec![stoma]);
    assert_sound(&part, &plain);

    // Forced visits first: A does the stoma visit, B and C the hoist.
    let mut forced = part.empty_state();
    part.construct(&mut forced, &all, 1, until, true);
    assert!(forced.unplaced.is_empty(), "{:?}", forced.unplaced);
    let carers = |v: usize| -> Vec<String> {
        let mut c: Vec<String> = forced.on[&v]
            .iter()
            .map(|&s| p.carers[p.shifts[s].carer].id.clone())
            .collect();
        c.sort();
        c
    };
    assert_eq!(carers(stoma), vec!["A"]);
    assert_eq!(carers(hoist), vec!["B", "C"]);
    assert_sound(&part, &forced);
}
