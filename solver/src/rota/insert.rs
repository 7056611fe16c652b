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
    let pool: Vec<PoolRoute> = current
        .iter()
        .map(|r| PoolRoute {
            shift: r.shift,
            stops: r.stops.clone(),
            local_cost: 0.0,
            work_min: 0,
        })
        .collect();
    let start = part.state_from_routes(&pool).ok_or_else(|| {
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
