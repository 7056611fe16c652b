//! Inserting new visits into a published rota without re-planning it.
//!
//! Brokering asks "does this whole package fit into this team's rota as it
//! stands, and at what cost?" many times a second. Re-solving the team would
//! be slow and would move visits people already know about, so this keeps
//! every planned visit with its carer and order (times may slide inside their
//! windows) and inserts only the new visits with the same feasibility model the
//! search uses (skills, windows, double-handed sync, links, breaks, hours and
//! continuity caps): hardest first, then (if visits are left out) in regret
//! order, then person-first (the carers the person already sees, then the new
//! carer who can take the most), keeping the attempt that places the most.

use super::PoolRoute;
use super::search::{Part, State};
use crate::model::{PlannedRoute, PlannedUnplaced, Problem};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The result of inserting new visits into a rota.
#[derive(Debug, Clone, PartialEq)]
pub struct InsertionOutcome {
    /// Every route after the insertion (existing visits keep carer and order).
    pub routes: Vec<PlannedRoute>,
    /// New visits that were placed.
    pub placed: Vec<usize>,
    /// New visits that could not be placed, with reasons.
    pub unplaced: Vec<PlannedUnplaced>,
    /// Objective change caused by the placed visits (travel, continuity, lateness,
    /// preferences), excluding the penalty for leaving visits unplaced.
    pub cost_delta: f64,
}

/// Why the current rota could not be taken as the starting point.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InsertionError {
    /// A route of the current rota cannot be re-timed under this problem
    /// (the rota and the roster disagree, e.g. a shift was removed).
    #[error("the current rota is not feasible for this roster: route of shift {0} cannot be timed")]
    CurrentRotaInfeasible(String),
    /// A visit index is out of range or already planned.
    #[error("visit {0} is not a new visit of this problem")]
    NotNew(usize),
}

/// Inserts `new_visits` into `current` (routes over `p`'s shifts), keeping the
/// current visits where they are. Deterministic for the same input.
pub fn insert_visits(
    p: &Problem,
    current: &[PlannedRoute],
    new_visits: &[usize],
) -> Result<InsertionOutcome, InsertionError> {
    let all_visits: Vec<usize> = (0..p.visits.len()).collect();
    let all_shifts: Vec<usize> = (0..p.shifts.len()).collect();
    let part = Part::new(p, all_visits, all_shifts);
    let start = published_state(&part, current).ok_or_else(|| {
        let shift = current.first().map_or(0, |r| r.shift);
        InsertionError::CurrentRotaInfeasible(
            p.shifts
                .get(shift)
                .map_or_else(String::new, |s| s.id.clone()),
        )
    })?;
    for &v in new_visits {
        if v >= p.visits.len() || !start.unplaced.contains(&v) {
            return Err(InsertionError::NotNew(v));
        }
    }
    let before = start.cost(&part);
    let mut best = greedy(&part, start.clone(), new_visits);
    if best.unplaced.iter().any(|v| new_visits.contains(v)) && new_visits.len() <= 40 {
        // A second, regret-ordered attempt: it places the hardest visits first by
        // how few cheap options they have, which rescues tight packages.
        let mut st = start.clone();
        let mut rng = ChaCha8Rng::seed_from_u64(new_visits.len() as u64);
        part.recreate(&mut st, new_visits, &mut rng, true);
        if count_new(&st, new_visits) < count_new(&best, new_visits) {
            best = st;
        }
    }
    if best.unplaced.iter().any(|v| new_visits.contains(v)) && new_visits.len() <= 40 {
        // A third, person-first attempt (a package is one person's): carers the
        // person already sees take what they can, then the new carer who can take
        // the most at the lowest cost per visit.
        let mut st = start.clone();
        part.place_person(&mut st, new_visits);
        if count_new(&st, new_visits) < count_new(&best, new_visits) {
            best = st;
        }
    }
    let after = best.cost(&part);
    let placed: Vec<usize> = new_visits
        .iter()
        .copied()
        .filter(|v| !best.unplaced.contains(v))
        .collect();
    let penalty_relief: f64 = placed
        .iter()
        .map(|&v| super::objective::unplaced_penalty(p, v))
        .sum();
    let unplaced = new_visits
        .iter()
        .copied()
        .filter(|v| best.unplaced.contains(v))
        .map(|v| PlannedUnplaced {
            visit: v,
            reasons: part.diagnose(&best, v),
        })
        .collect();
    let routes = part
        .pool_routes(&best)
        .into_iter()
        .map(|r| PlannedRoute {
            shift: r.shift,
            stops: r.stops,
        })
        .collect();
    Ok(InsertionOutcome {
        routes,
        placed,
        unplaced,
        cost_delta: after - before + penalty_relief,
    })
}

/// The search state holding the published routes as they are (`None` if one cannot be timed).
fn published_state(part: &Part, current: &[PlannedRoute]) -> Option<State> {
    let pool: Vec<PoolRoute> = current
        .iter()
        .map(|r| PoolRoute {
            shift: r.shift,
            stops: r.stops.clone(),
            local_cost: 0.0,
            work_min: 0,
        })
        .collect();
    part.state_from_routes(&pool)
}

fn count_new(st: &State, new_visits: &[usize]) -> usize {
    new_visits
        .iter()
        .filter(|v| st.unplaced.contains(v))
        .count()
}

/// Hardest first: double-handed, then fewest candidate shifts, then narrowest window.
fn greedy(part: &Part, mut st: State, new_visits: &[usize]) -> State {
    let p = part.p;
    let mut order: Vec<usize> = new_visits.to_vec();
    order.sort_by_key(|&v| {
        let vis = &p.visits[v];
        (
            std::cmp::Reverse(vis.carers_required),
            part.candidates.get(&v).map_or(0, Vec::len),
            vis.latest_start - vis.earliest_start,
            v,
        )
    });
    let mut blocks = Vec::new();
    for v in order {
        if let Some(ins) = part.best_insertion(&st, v, &mut blocks) {
            part.apply(&mut st, v, ins);
        }
    }
    st
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::PlanningRequest;

    /// A person who may see one carer (cap 1) needs an 08:00 visit and a lunch
    /// visit. B lives next door but already has an hour-long visit at 12:00; A
    /// lives further off and is free all morning.
    fn cap_one_morning() -> Problem {
        let req: PlanningRequest = serde_json::from_value(serde_json::json!({
            "format": "carefill/1",
            "horizon": {"start_date": "2026-11-30", "days": 1},
            "carers": [
                {"id": "A", "gender": "female", "contract": "salaried", "skills": ["personal_care"],
                 "home": {"lat": 50.7400, "lon": -3.5000}, "shifts": [{"days": ["daily"], "start": "07:00", "end": "14:00"}]},
                {"id": "B", "gender": "female", "contract": "salaried", "skills": ["personal_care"],
                 "home": {"lat": 50.7201, "lon": -3.5300}, "shifts": [{"days": ["daily"], "start": "07:00", "end": "14:00"}]}
            ],
            "service_users": [
                {"id": "su1", "location": {"lat": 50.7200, "lon": -3.5301}, "continuity_cap": 1},
                {"id": "su2", "location": {"lat": 50.7202, "lon": -3.5299}}
            ],
            "packages": [
                {"id": "p1", "service_user": "su1", "visits": [
                    {"id": "am", "days": ["daily"], "time": {"exact": "08:00"}, "duration_min": 30},
                    {"id": "lunch", "days": ["daily"], "time": {"window": {"start": "12:00", "end": "12:50"}}, "duration_min": 30}]},
                {"id": "p2", "service_user": "su2", "visits": [
                    {"id": "lunch", "days": ["daily"], "time": {"exact": "12:00"}, "duration_min": 60}]}
            ]
        }))
        .unwrap();
        Problem::from_request(&req).unwrap()
    }

    #[test]
    fn a_package_hardest_first_cannot_place_is_placed_person_first() {
        let p = cap_one_morning();
        let am = p.visit_index["p1/am@2026-11-30"];
        let lunch = p.visit_index["p1/lunch@2026-11-30"];
        let busy = p.visit_index["p2/lunch@2026-11-30"];
        let b = p.carers.iter().position(|c| c.id == "B").unwrap();
        // The published rota: B, next door, makes su2's hour-long lunch visit.
        let published = insert_visits(&p, &[], &[busy]).unwrap();
        assert_eq!(published.placed, vec![busy]);
        assert_eq!(p.shifts[published.routes[0].shift].carer, b);

        // Hardest first puts the exact 08:00 visit on B (nearest), and then the
        // cap of one carer leaves lunch with nobody: B is busy, A would be a second carer.
        let part = Part::new(
            &p,
            (0..p.visits.len()).collect(),
            (0..p.shifts.len()).collect(),
        );
        let start = published_state(&part, &published.routes).unwrap();
        let first = greedy(&part, start.clone(), &[am, lunch]);
        assert_eq!(first.unplaced, vec![lunch]);
        // So does the regret-ordered second attempt (the cheap 08:00 visit first).
        let mut second = start;
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        part.recreate(&mut second, &[am, lunch], &mut rng, true);
        assert_eq!(second.unplaced, vec![lunch]);

        // Person-first takes the carer who can do both: A.
        let outcome = insert_visits(&p, &published.routes, &[am, lunch]).unwrap();
        assert_eq!(outcome.placed, vec![am, lunch]);
        assert!(outcome.unplaced.is_empty());
        let rota = p.write_rota(&outcome.routes, &[]);
        let report = crate::check::check(&p, &rota);
        assert!(report.is_feasible(), "{:?}", report.violations);
        let carers_of = |v: usize| -> Vec<usize> {
            (outcome.routes.iter())
                .filter(|r| r.stops.iter().any(|s| s.0 == v))
                .map(|r| p.shifts[r.shift].carer)
                .collect()
        };
        let a = p.carers.iter().position(|c| c.id == "A").unwrap();
        assert_eq!(carers_of(am), vec![a]);
        assert_eq!(carers_of(lunch), vec![a]);
        assert_eq!(carers_of(busy), vec![b], "planned visits never move");
    }
}
