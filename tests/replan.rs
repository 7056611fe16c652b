//! Re-planning a published team week: a new package, a carer off sick for a
//! day. The engine repairs the published rota with minimum change and searches
//! on from it; these tests check the result. `scripts/replan-quality.sh`
//! measures a 5 s re-plan against a 60 s re-solve on the same two changes.

use carefill_solver::format::{Absence, ExistingAssignment, PlanningRequest, Rota};
use carefill_solver::rota::{SolveOptions, solve};
use carefill_solver::testing::{assert_feasible, problem};
use std::collections::BTreeMap;
use std::time::Duration;

fn team_week() -> PlanningRequest {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/team_week.json"
    ))
    .expect("fixture");
    serde_json::from_str(&text).expect("fixture parses")
}

/// The published rota as existing assignments (none pinned), without `skip`'s visits.
fn published(rota: &Rota, skip: &dyn Fn(&str) -> bool) -> Vec<ExistingAssignment> {
    let mut by_visit: BTreeMap<String, (Vec<String>, String)> = BTreeMap::new();
    for r in &rota.routes {
        for s in &r.stops {
            let e = by_visit
                .entry(s.visit.clone())
                .or_insert((Vec::new(), s.start.clone()));
            e.0.push(r.carer.clone());
        }
    }
    by_visit
        .into_iter()
        .filter(|(v, _)| !skip(v))
        .map(|(visit, (carers, start))| ExistingAssignment {
            visit,
            carers,
            start: Some(start),
            pinned: false,
        })
        .collect()
}

/// The two changes a planner meets most: the week's largest package arrives
/// new, and the busiest carer of day 2 is off sick that day.
fn changes(base: &PlanningRequest, rota: &Rota) -> Vec<(&'static str, PlanningRequest)> {
    let package = base
        .packages
        .iter()
        .max_by_key(|p| p.visits.len())
        .expect("packages")
        .id
        .clone();
    let prefix = format!("{package}/");
    let mut new_package = base.clone();
    new_package.existing_rota = published(rota, &|v| v.starts_with(&prefix));

    let p = problem(base);
    let (from, to) = (p.horizon.format(24 * 60), p.horizon.format(2 * 24 * 60));
    let day2 = from[..10].to_string();
    let busiest = rota
        .routes
        .iter()
        .filter(|r| r.stops.first().is_some_and(|s| s.start.starts_with(&day2)))
        .max_by_key(|r| r.stops.len())
        .expect("a route on day 2")
        .carer
        .clone();
    let mut sick = base.clone();
    sick.existing_rota = published(rota, &|_| false);
    let carer = sick
        .carers
        .iter_mut()
        .find(|c| c.id == busiest)
        .expect("carer");
    carer.absences.push(Absence {
        from,
        to,
        reason: Some("sick".into()),
    });
    vec![("new package", new_package), ("carer off sick a day", sick)]
}

fn fixed(iterations: u64) -> SolveOptions {
    SolveOptions {
        time_limit: Duration::from_secs(3600),
        max_iterations: Some(iterations),
        ..SolveOptions::default()
    }
}

#[test]
fn a_replan_starts_from_the_published_rota_and_never_ends_worse() {
    let base = team_week();
    let first = solve(&problem(&base), &fixed(300));
    for (name, req) in changes(&base, &first) {
        let p = problem(&req);
        let rota = solve(&p, &fixed(300));
        assert_feasible(&p, &rota);
        let stats = rota.stats.as_ref().expect("stats");
        let warm = stats
            .phases
            .get("warm_start_objective")
            .copied()
            .unwrap_or_else(|| panic!("{name}: no warm start"));
        assert!(
            stats.objective <= warm + 1e-6,
            "{name}: re-plan {} worse than its start {warm}",
            stats.objective
        );
        // The team absorbs a new package; a day's sickness (20 visits) can
        // leave a few out, each with its reason.
        let k = rota.kpis.as_ref().expect("kpis");
        if name == "new package" {
            assert_eq!(k.visits_unplaced, 0, "{name}");
        }
        assert_eq!(rota.unplaced.len(), k.visits_unplaced as usize, "{name}");
        assert!(
            rota.unplaced.iter().all(|u| !u.reasons.is_empty()),
            "{name}: an unplaced visit without a reason"
        );
    }
}
