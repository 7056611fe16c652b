//! Rota engine: feasibility on generated teams, scenarios from docs/domain.md §14,
//! optimality on tiny instances, determinism and random instances.

use carefill_solver::check::check;
use carefill_solver::format::{ExistingAssignment, PlanningRequest, Rota};
use carefill_solver::generate::{GeneratorOptions, ScenarioSize, generate};
use carefill_solver::model::{PlannedRoute, Problem};
use carefill_solver::rota::{SolveOptions, solve};
use carefill_solver::testing::{assert_feasible, problem};
use proptest::prelude::*;
use serde_json::json;
use std::time::Duration;

fn quick(iterations: u64) -> SolveOptions {
    SolveOptions {
        time_limit: Duration::from_secs(60),
        seed: 3,
        max_iterations: Some(iterations),
        use_milp: true,
        ..SolveOptions::default()
    }
}

fn placed_visits(rota: &Rota) -> usize {
    rota.kpis.as_ref().map_or(0, |k| k.visits_placed as usize)
}

fn request(value: serde_json::Value) -> PlanningRequest {
    serde_json::from_value(value).expect("test request JSON matches the format")
}

#[test]
fn team_week_rota_passes_the_checker_and_places_most_visits() {
    let scenario = generate(&GeneratorOptions::new(ScenarioSize::Team, 7));
    let p = problem(&scenario.request);
    let rota = solve(&p, &quick(150));
    assert_feasible(&p, &rota);
    let placed = placed_visits(&rota);
    assert!(
        placed * 100 >= p.visits.len() * 90,
        "placed only {placed} of {}",
        p.visits.len()
    );
    for u in &rota.unplaced {
        assert!(!u.reasons.is_empty() && !u.reasons[0].code.is_empty());
    }
}

#[test]
fn a_cancelled_solve_stops_at_once_with_a_feasible_rota_and_progress() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let scenario = generate(&GeneratorOptions::new(ScenarioSize::Small, 3));
    let p = problem(&scenario.request);
    let cancel = Arc::new(AtomicBool::new(true));
    let progress = Arc::new(carefill_solver::rota::SolveProgress::default());
    let options = SolveOptions {
        time_limit: Duration::from_secs(3600),
        cancel: Some(cancel.clone()),
        progress: Some(progress.clone()),
        ..SolveOptions::default()
    };
    let rota = solve(&p, &options);
    assert!(cancel.load(Ordering::Relaxed));
    assert_feasible(&p, &rota);
    // Cancelled before the first move: no search iterations, but construction reported.
    assert_eq!(progress.iterations.load(Ordering::Relaxed), 0);
    let (objective, unplaced) = progress.best();
    let stats = rota.stats.as_ref().expect("stats");
    assert!((objective - stats.objective).abs() < 1e-6 * objective.abs().max(1.0));
    assert_eq!(unplaced, rota.unplaced.len());
}

#[test]
fn same_seed_and_iterations_give_the_same_rota() {
    let scenario = generate(&GeneratorOptions {
        days: 3,
        ..GeneratorOptions::new(ScenarioSize::Small, 5)
    });
    let p = problem(&scenario.request);
    let a = solve(&p, &quick(80));
    let b = solve(&p, &quick(80));
    assert_feasible(&p, &a);
    assert_eq!(a.routes, b.routes);
    assert_eq!(a.unplaced, b.unplaced);
}

/// Two carers, three people, one day.
fn small_day() -> serde_json::Value {
    json!({
        "format": "carefill/1",
        "horizon": {"start_date": "2026-11-30", "days": 1},
        "carers": [
            {"id": "ann", "gender": "female", "contract": "zero_hours", "skills": ["personal_care"],
             "home": {"lat": 50.720, "lon": -3.530}, "shifts": [{"days": ["daily"], "start": "07:00", "end": "13:00"}]},
            {"id": "bob", "gender": "male", "contract": "zero_hours", "skills": ["personal_care", "hoist"],
             "home": {"lat": 50.730, "lon": -3.510}, "shifts": [{"days": ["daily"], "start": "07:00", "end": "13:00"}]}
        ],
        "service_users": [
            {"id": "u1", "location": {"lat": 50.722, "lon": -3.528}},
            {"id": "u2", "location": {"lat": 50.728, "lon": -3.515}},
            {"id": "u3", "location": {"lat": 50.716, "lon": -3.536}}
        ],
        "packages": [
            {"id": "p1", "service_user": "u1", "visits": [
                {"id": "am", "days": ["daily"], "time": {"band": "morning"}, "duration_min": 30}]},
            {"id": "p2", "service_user": "u2", "visits": [
                {"id": "am", "days": ["daily"], "time": {"window": {"start": "08:00", "end": "10:00"}}, "duration_min": 45}]},
            {"id": "p3", "service_user": "u3", "visits": [
                {"id": "lunch", "days": ["daily"], "time": {"band": "lunch"}, "duration_min": 30}]}
        ]
    })
}

#[test]
fn dementia_visit_with_no_skilled_carer_is_unplaced_with_the_right_reason() {
    let mut r = small_day();
    r["packages"][2]["required_skills"] = json!(["dementia"]);
    let p = problem(&request(r));
    let rota = solve(&p, &quick(30));
    assert_feasible(&p, &rota);
    let lunch = rota
        .unplaced
        .iter()
        .find(|u| u.visit.starts_with("p3/lunch"))
        .expect("dementia visit unplaced");
    assert_eq!(lunch.reasons[0].code, "no_skilled_carer");
    // Never given to an unskilled carer, however near.
    assert!(
        rota.routes
            .iter()
            .all(|r| r.stops.iter().all(|s| !s.visit.starts_with("p3/")))
    );
    assert_eq!(placed_visits(&rota), 2);
}

#[test]
fn double_handed_visit_gets_two_carers_starting_together() {
    let mut r = small_day();
    r["packages"][1]["visits"][0]["carers_required"] = json!(2);
    let p = problem(&request(r));
    let rota = solve(&p, &quick(30));
    assert_feasible(&p, &rota);
    let starts: Vec<&str> = rota
        .routes
        .iter()
        .flat_map(|r| r.stops.iter())
        .filter(|s| s.visit.starts_with("p2/"))
        .map(|s| s.start.as_str())
        .collect();
    assert_eq!(starts.len(), 2);
    assert_eq!(starts[0], starts[1]);
    assert_eq!(placed_visits(&rota), 3);
}

#[test]
fn continuity_cap_of_one_keeps_a_person_with_one_carer_all_week() {
    let mut r = small_day();
    r["horizon"]["days"] = json!(5);
    r["service_users"][1]["continuity_cap"] = json!(1);
    r["packages"][1]["visits"].as_array_mut().expect("array").push(
        json!({"id": "lunch", "days": ["daily"], "time": {"band": "lunch"}, "duration_min": 30}),
    );
    let p = problem(&request(r));
    let rota = solve(&p, &quick(60));
    assert_feasible(&p, &rota);
    let k = rota.kpis.as_ref().expect("kpis");
    assert_eq!(k.distinct_carers.get("u2"), Some(&1));
    assert_eq!(k.visits_unplaced, 0);
}

/// Objective of a rota from the checker's KPIs, for instances whose only costs are
/// travel, commute, distinct carers and unplaced visits (routine urgency).
fn kpi_objective(p: &Problem, rota: &Rota) -> f64 {
    let k = check(p, rota).kpis;
    let w = &p.weights;
    k.travel_min as f64 * w.travel_min
        + k.commute_min as f64 * w.commute_min
        + k.distinct_carers
            .values()
            .map(|&n| f64::from(n))
            .sum::<f64>()
            * w.distinct_carer
        + f64::from(k.visits_unplaced) * w.unplaced_routine
}

/// Every assignment of visits to carers and every order, started as early as possible.
fn exhaustive_best(p: &Problem) -> f64 {
    exhaustive_best_by(p, &kpi_objective)
}

/// [`exhaustive_best`] for the objective `objective`.
fn exhaustive_best_by(p: &Problem, objective: &dyn Fn(&Problem, &Rota) -> f64) -> f64 {
    let n = p.visits.len();
    let shifts: Vec<usize> = (0..p.shifts.len()).collect();
    let mut best = f64::INFINITY;
    let choices = shifts.len() + 1; // a shift, or unplaced
    let total = choices.pow(n as u32);
    for code in 0..total {
        let mut assign = vec![0usize; n];
        let mut x = code;
        for a in assign.iter_mut() {
            *a = x % choices;
            x /= choices;
        }
        let mut per_shift: Vec<Vec<usize>> = vec![Vec::new(); shifts.len()];
        for (v, &a) in assign.iter().enumerate() {
            if a < shifts.len() {
                per_shift[a].push(v);
            }
        }
        best = best.min(best_orders(p, &per_shift, &assign, objective));
    }
    best
}

fn best_orders(
    p: &Problem,
    per_shift: &[Vec<usize>],
    assign: &[usize],
    objective: &dyn Fn(&Problem, &Rota) -> f64,
) -> f64 {
    // Try every permutation of every shift's visits (instances are tiny).
    let mut orders: Vec<Vec<Vec<usize>>> = Vec::new();
    for visits in per_shift {
        orders.push(permutations(visits));
    }
    let mut best = f64::INFINITY;
    let mut idx = vec![0usize; orders.len()];
    loop {
        let mut routes = Vec::new();
        let mut ok = true;
        for (s, o) in orders.iter().enumerate() {
            let visits = &o[idx[s]];
            match asap(p, s, visits) {
                Some(stops) => routes.push(PlannedRoute { shift: s, stops }),
                None => ok = false,
            }
        }
        if ok {
            let unplaced: Vec<_> = (0..assign.len())
                .filter(|&v| assign[v] >= per_shift.len())
                .map(|v| carefill_solver::model::PlannedUnplaced {
                    visit: v,
                    reasons: vec![("x".into(), "y".into())],
                })
                .collect();
            let rota = p.write_rota(&routes, &unplaced);
            if check(p, &rota).is_feasible() {
                best = best.min(objective(p, &rota));
            }
        }
        let mut k = 0;
        loop {
            if k == idx.len() {
                return best;
            }
            idx[k] += 1;
            if idx[k] < orders[k].len() {
                break;
            }
            idx[k] = 0;
            k += 1;
        }
    }
}

fn permutations(items: &[usize]) -> Vec<Vec<usize>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let x = rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, x);
            out.push(tail);
        }
    }
    out
}

fn asap(p: &Problem, s: usize, visits: &[usize]) -> Option<Vec<(usize, i32)>> {
    let shift = &p.shifts[s];
    let mut t = shift.start;
    let mut loc = shift.start_loc;
    let mut out = Vec::new();
    for &v in visits {
        let visit = &p.visits[v];
        let start =
            (t + p.leg(shift.carer, loc, visit.location).minutes as i32).max(visit.earliest_start);
        if start > visit.latest_start {
            return None;
        }
        out.push((v, start));
        t = start + visit.duration;
        loc = visit.location;
    }
    Some(out)
}

#[test]
fn tiny_instances_reach_the_exhaustive_optimum() {
    for variant in 0..3 {
        let mut r = small_day();
        r["carers"][1]["skills"] = json!(["personal_care"]);
        match variant {
            0 => {}
            1 => r["packages"][0]["visits"][0]["time"] = json!({"exact": "08:00"}),
            _ => {
                r["service_users"][2]["location"] = json!({"lat": 50.80, "lon": -3.40});
                r["packages"][2]["visits"][0]["time"] =
                    json!({"window": {"start": "08:30", "end": "09:45"}});
            }
        }
        let p = problem(&request(r));
        let optimum = exhaustive_best(&p);
        let rota = solve(&p, &quick(200));
        assert_feasible(&p, &rota);
        let got = kpi_objective(&p, &rota);
        assert!(
            (got - optimum).abs() < 1e-6,
            "variant {variant}: solver {got}, exhaustive optimum {optimum}"
        );
        // The reported lower bound holds against the true optimum and is close to
        // it here (each person's carers are what the optimum turns on).
        let stats = rota.stats.as_ref().expect("stats");
        let bound = stats.lower_bound.expect("lower bound");
        assert!(
            bound <= optimum + 1e-6 && bound >= 0.95 * optimum,
            "variant {variant}: lower bound {bound}, exhaustive optimum {optimum}"
        );
        eprintln!("variant {variant}: optimum {optimum}, lower bound {bound}");
    }
}

#[test]
fn a_favourite_carer_who_cannot_be_in_two_places_raises_the_bound_but_never_past_the_optimum() {
    // u1 and u2 both know Ann, and both need her at 08:00 for 30 minutes: one of
    // them must have Bob, whom neither knows. The person-by-person bound gives
    // Ann to both; the room bound prices Ann's 08:00-08:40 back in.
    let mut r = small_day();
    r["carers"][1]["skills"] = json!(["personal_care"]);
    // Cat worked past her weekly maximum before the horizon: she can take
    // nothing, and her room (negative on paper) must not inflate the bound.
    let mut cat = r["carers"][0].clone();
    cat["id"] = json!("cat");
    cat["max_min_per_week"] = json!(600);
    cat["worked_min_before_start"] = json!(900);
    r["carers"].as_array_mut().expect("array").push(cat);
    r["packages"].as_array_mut().expect("array").truncate(2);
    r["service_users"]
        .as_array_mut()
        .expect("array")
        .truncate(2);
    for k in 0..2 {
        r["service_users"][k]["known_carers"] = json!(["ann"]);
        r["packages"][k]["visits"][0]["time"] =
            json!({"window": {"start": "08:00", "end": "08:40"}});
        r["packages"][k]["visits"][0]["duration_min"] = json!(30);
    }
    let p = problem(&request(r));
    // The exhaustive optimum of the whole objective here: the checker's terms
    // plus each visit by a carer the person has never met (anyone but Ann).
    let full = |p: &Problem, rota: &Rota| {
        let strangers = rota
            .routes
            .iter()
            .filter(|route| route.carer != "ann")
            .map(|route| route.stops.len())
            .sum::<usize>();
        kpi_objective(p, rota) + strangers as f64 * p.weights.unknown_carer_visit
    };
    let optimum = exhaustive_best_by(&p, &full);
    let options = SolveOptions {
        bound_time: Duration::from_secs(2),
        ..quick(200)
    };
    let rota = solve(&p, &options);
    assert_feasible(&p, &rota);
    let stats = rota.stats.as_ref().expect("stats");
    assert!(
        (stats.objective - optimum).abs() < 1e-6,
        "solver {} vs optimum {optimum}",
        stats.objective
    );
    let person = stats.phases["person_bound"];
    let room = stats.phases["room_bound"];
    eprintln!("optimum {optimum}, person bound {person}, room bound {room}");
    assert!(
        room <= optimum + 1e-6,
        "room bound {room} above the optimum {optimum}"
    );
    assert!(
        room >= person + p.weights.unknown_carer_visit * 0.9,
        "room bound {room} should price Ann's time (person bound {person})"
    );
    assert!(stats.lower_bound.expect("bound") >= room - 1e-6);
    // The route relaxation (column generation with subgradient steps) is a
    // bound too: never past the exhaustive optimum.
    if let Some(&route) = stats.phases.get("route_bound") {
        assert!(
            route <= optimum + 1e-6,
            "route bound {route} above the optimum {optimum}"
        );
    }
    assert!(stats.lower_bound.expect("bound") <= optimum + 1e-6);
}

#[test]
fn carer_off_sick_mid_week_resolves_with_the_past_pinned_and_few_changes() {
    let scenario = generate(&GeneratorOptions {
        days: 4,
        ..GeneratorOptions::new(ScenarioSize::Small, 2)
    });
    let p = problem(&scenario.request);
    let first = solve(&p, &quick(120));
    assert_feasible(&p, &first);
    // "Now" is the start of day 2; the busiest carer goes off sick from now to the end.
    let now = p.horizon.format(2 * 24 * 60);
    let sick = first
        .routes
        .iter()
        .max_by_key(|r| r.stops.len())
        .map(|r| r.carer.clone())
        .expect("some route");
    let mut req = scenario.request.clone();
    let end = p.horizon.format(4 * 24 * 60);
    let carer = req.carers.iter_mut().find(|c| c.id == sick).expect("carer");
    carer.absences.push(carefill_solver::format::Absence {
        from: now.clone(),
        to: end,
        reason: Some("sick".into()),
    });
    // Publish the first rota: the past pinned, the future as a preference.
    let mut by_visit: std::collections::BTreeMap<String, (Vec<String>, String)> =
        Default::default();
    for r in &first.routes {
        for s in &r.stops {
            let e = by_visit
                .entry(s.visit.clone())
                .or_insert((Vec::new(), s.start.clone()));
            e.0.push(r.carer.clone());
        }
    }
    let day2 = p.horizon.date(2);
    for (visit, (carers, start)) in by_visit {
        let date = visit.rsplit('@').next().unwrap_or_default().to_string();
        let past = date < day2.format("%Y-%m-%d").to_string();
        req.existing_rota.push(ExistingAssignment {
            visit,
            carers,
            start: Some(start),
            pinned: past,
        });
    }
    let p2 = problem(&req);
    let second = solve(&p2, &quick(120));
    assert_feasible(&p2, &second); // includes: every pinned visit kept exactly
    let after_now: Vec<_> = second
        .routes
        .iter()
        .filter(|r| r.carer == sick)
        .flat_map(|r| r.stops.iter())
        .filter(|s| s.start >= now)
        .collect();
    assert!(
        after_now.is_empty(),
        "the sick carer still has visits: {after_now:?}"
    );
    // Minimum change: visits of carers who are not sick mostly stay with them.
    let moved = count_changed(&first, &second, &sick);
    let kept_total = first
        .routes
        .iter()
        .filter(|r| r.carer != sick)
        .map(|r| r.stops.len())
        .sum::<usize>();
    assert!(
        moved * 5 <= kept_total,
        "{moved} of {kept_total} unaffected visits changed carer"
    );
}

fn count_changed(a: &Rota, b: &Rota, except: &str) -> usize {
    let carers = |rota: &Rota| {
        let mut m: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for r in &rota.routes {
            for s in &r.stops {
                m.entry(s.visit.clone()).or_default().push(r.carer.clone());
            }
        }
        m
    };
    let (ma, mb) = (carers(a), carers(b));
    ma.iter()
        .filter(|(_, c)| !c.iter().any(|x| x == except))
        .filter(|(v, c)| {
            let mut x = (*c).clone();
            x.sort();
            let mut y = mb.get(*v).cloned().unwrap_or_default();
            y.sort();
            x != y
        })
        .count()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    /// Random small instances: whatever the engine returns passes the checker.
    #[test]
    fn random_small_instances_always_pass_the_checker(
        seed in 0u64..10_000,
        n_users in 1usize..7,
        double in 0usize..3,
        cap in 1u32..4,
        soft in any::<bool>(),
    ) {
        let mut users = Vec::new();
        let mut packages = Vec::new();
        for i in 0..n_users {
            let f = (seed.wrapping_mul(31).wrapping_add(i as u64 * 17) % 100) as f64 / 1000.0;
            users.push(json!({"id": format!("u{i}"), "location": {"lat": 50.70 + f, "lon": -3.55 + f / 2.0},
                              "continuity_cap": cap}));
            let band = ["morning", "lunch", "tea"][(seed as usize + i) % 3];
            let req_carers = if i < double { 2 } else { 1 };
            packages.push(json!({"id": format!("p{i}"), "service_user": format!("u{i}"), "visits": [
                {"id": "a", "days": ["daily"], "time": {"band": band}, "duration_min": 15 + 15 * ((seed as usize + i) % 3) as u32,
                 "carers_required": req_carers},
                {"id": "b", "days": ["mon", "wed"], "time": {"window": {"start": "09:00", "end": "12:00"}}, "duration_min": 30}
            ]}));
        }
        let mut r = json!({
            "format": "carefill/1",
            "horizon": {"start_date": "2026-11-30", "days": 3},
            "carers": [
                {"id": "c1", "gender": "female", "contract": "zero_hours", "skills": ["personal_care"],
                 "home": {"lat": 50.72, "lon": -3.53}, "shifts": [{"days": ["daily"], "start": "07:00", "end": "19:00"}]},
                {"id": "c2", "gender": "male", "contract": "guaranteed_hours", "contracted_min_per_week": 600, "skills": ["personal_care"],
                 "home": {"lat": 50.74, "lon": -3.50}, "shifts": [{"days": ["weekdays"], "start": "08:00", "end": "14:00"}]},
                {"id": "c3", "gender": "female", "contract": "salaried", "skills": ["personal_care"],
                 "home": {"lat": 50.70, "lon": -3.56}, "shifts": [{"days": ["daily"], "start": "12:00", "end": "20:00"}]}
            ],
            "service_users": users,
            "packages": packages
        });
        if soft {
            r["settings"] = json!({"lateness": {"mode": "soft", "max_late_min": 20, "cost_per_min": 2.0}});
        }
        let p = problem(&request(r));
        let rota = solve(&p, &SolveOptions { seed, ..quick(25) });
        let report = check(&p, &rota);
        prop_assert!(report.is_feasible(), "{:?}", report.violations);
        prop_assert_eq!(report.kpis.visits_placed as usize + rota.unplaced.len(), p.visits.len());
        // The lower bound never exceeds the objective of the rota returned (the
        // checker re-derives no objective, so this is the engine's own total).
        let stats = rota.stats.as_ref().expect("stats");
        let bound = stats.lower_bound.expect("lower bound");
        prop_assert!(bound <= stats.objective + 1e-6, "lower bound {} above objective {}", bound, stats.objective);
    }
}
