use super::local_tests::assert_sound;
use super::*;
use crate::format::PlanningRequest;
use crate::model::Problem;
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

/// The arithmetic pricing of double-handed visits picks the same start, carers
/// and cost as timing every candidate shift at every candidate start, on the
/// team week's first rota (each double-handed visit taken out and priced back).
#[test]
fn double_handed_fast_pricing_agrees_with_the_exhaustive_search() {
    let p = crate::testing::problem(&crate::testing::load_request("team_week.json"));
    let part = Part::new(
        &p,
        (0..p.visits.len()).collect(),
        (0..p.shifts.len()).collect(),
    );
    let until = Instant::now() + Duration::from_secs(60);
    let mut st = part.empty_state();
    let all = part.visits.clone();
    part.construct(&mut st, &all, 1, until, false);
    let doubles: Vec<usize> = all
        .iter()
        .copied()
        .filter(|&v| p.visits[v].carers_required == 2 && st.on.contains_key(&v))
        .collect();
    assert!(
        doubles.len() >= 20,
        "{} double-handed visits placed",
        doubles.len()
    );
    let mut agreed = 0;
    for v in doubles {
        let mut out = st.clone();
        assert!(part.remove(&mut out, v));
        let cands = part.candidates[&v].clone();
        let (lo, hi, avoid) = part.link_bounds(&out, v);
        let eligible = |s: &usize| !avoid.contains(&p.shifts[*s].carer);
        let exhaustive =
            part.double_handed_exhaustive(&out, v, &cands, &eligible, lo, hi, &mut Vec::new());
        let Some(fast) = part.double_handed_fast(&out, v, &cands, &eligible, lo, hi) else {
            continue;
        };
        let exhaustive = exhaustive.expect("the fast pricing found a pair, so must the search");
        assert!((fast.cost - exhaustive.cost).abs() < 1e-6, "{v}");
        assert_eq!(fast.fixed, exhaustive.fixed, "{v}");
        let shifts = |i: &Insertion| i.parts.iter().map(|x| (x.0, x.1)).collect::<Vec<_>>();
        assert_eq!(shifts(&fast), shifts(&exhaustive), "{v}");
        part.apply(&mut out, v, fast);
        assert!(out.on.contains_key(&v));
        assert_sound(&part, &out);
        agreed += 1;
    }
    assert!(
        agreed >= 20,
        "only {agreed} double-handed visits priced by arithmetic"
    );
}
