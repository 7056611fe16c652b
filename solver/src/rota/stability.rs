//! Re-solving a published rota (`existing_rota`) with as little change as the
//! stability weight warrants.
//!
//! The search builds each rota from scratch, so with a time limit it rarely
//! finds the published rota again even when nothing in the roster changed:
//! visits move between carers and most are re-timed. Here the published rota
//! is repaired with minimum change instead (every assignment whose carer still
//! has a shift at that time and whose route can still be timed keeps its carer
//! and order; the rest are inserted as the fit check inserts new visits), and
//! the searched rota replaces it only when it is better by more than the
//! stability cost of the visits it re-times (`weights.changed_visit` each; a
//! visit given to another carer already pays that in the objective).

use super::insert::insert_visits;
use super::pool::PoolRoute;
use super::search::Part;
use crate::format::Rota;
use crate::model::{Minute, PlannedRoute, PlannedUnplaced, Problem};
use std::collections::{BTreeMap, BTreeSet};

/// Objective of a rota's routes under `p` (`None` if a route cannot be timed).
fn cost(part: &Part, routes: &[PlannedRoute]) -> Option<f64> {
    let pool: Vec<PoolRoute> = routes
        .iter()
        .map(|r| PoolRoute {
            shift: r.shift,
            stops: r.stops.clone(),
            local_cost: 0.0,
            work_min: 0,
        })
        .collect();
    part.state_from_routes(&pool).map(|s| s.cost(part))
}

/// The published assignments as routes over `p`'s shifts: each carer's
/// visit goes on the shift of that carer covering its start. Visits whose
/// carers no longer all have such a shift are left out.
fn published_routes(p: &Problem) -> Vec<PlannedRoute> {
    let mut by_shift: BTreeMap<usize, Vec<(usize, Minute)>> = BTreeMap::new();
    for e in &p.existing {
        let Some(t) = e.start else { continue };
        let dur = p.visits[e.visit].duration;
        let shifts: Vec<Option<usize>> = e
            .carers
            .iter()
            .map(|&c| {
                p.shifts
                    .iter()
                    .position(|s| s.carer == c && s.start <= t && t + dur <= s.end)
            })
            .collect();
        if shifts.iter().all(Option::is_some) {
            for s in shifts.into_iter().flatten() {
                by_shift.entry(s).or_default().push((e.visit, t));
            }
        }
    }
    by_shift
        .into_iter()
        .map(|(shift, mut stops)| {
            stops.sort_by_key(|x| (x.1, x.0));
            PlannedRoute { shift, stops }
        })
        .collect()
}

/// The published rota repaired with minimum change: routes that can no longer
/// be timed are taken apart (with their double-handed partners' halves), then
/// every visit not on a route is inserted. `None` when even that fails.
pub(crate) fn repaired(
    p: &Problem,
    part: &Part,
) -> Option<(Vec<PlannedRoute>, Vec<PlannedUnplaced>)> {
    let mut routes = published_routes(p);
    for _ in 0..4 {
        let bad: BTreeSet<usize> = routes
            .iter()
            .enumerate()
            .filter(|(_, r)| cost(part, std::slice::from_ref(r)).is_none())
            .map(|(i, _)| i)
            .collect();
        let mut gone: BTreeSet<usize> = BTreeSet::new();
        for &i in &bad {
            gone.extend(routes[i].stops.iter().map(|x| x.0));
        }
        // A double-handed visit missing a carer leaves its other carer's route too.
        let mut count: BTreeMap<usize, usize> = BTreeMap::new();
        for (i, r) in routes.iter().enumerate() {
            if !bad.contains(&i) {
                for &(v, _) in &r.stops {
                    *count.entry(v).or_default() += 1;
                }
            }
        }
        gone.extend(
            count
                .iter()
                .filter(|&(&v, &n)| n != usize::from(p.visits[v].carers_required))
                .map(|(&v, _)| v),
        );
        if gone.is_empty() && cost(part, &routes).is_some() {
            break;
        }
        let all_bad = gone.is_empty();
        let mut i = 0;
        routes.retain(|_| {
            let keep = !bad.contains(&i);
            i += 1;
            keep && !all_bad
        });
        for r in &mut routes {
            r.stops.retain(|x| !gone.contains(&x.0));
        }
        routes.retain(|r| !r.stops.is_empty());
    }
    let planned: BTreeSet<usize> = routes
        .iter()
        .flat_map(|r| r.stops.iter().map(|x| x.0))
        .collect();
    let missing: Vec<usize> = (0..p.visits.len())
        .filter(|v| !planned.contains(v))
        .collect();
    let out = insert_visits(p, &routes, &missing).ok()?;
    let mut unplaced = out.unplaced;
    unplaced.sort_by_key(|u| u.visit);
    Some((out.routes, unplaced))
}

/// `solved` (the search's rota for `p`), or the minimum-change repair of the
/// published rota when the search's rota is not better by more than the
/// stability cost of what it re-times. Only for problems with an existing rota.
pub(crate) fn prefer_published(p: &Problem, solved: Rota) -> Rota {
    if p.existing.is_empty() {
        return solved;
    }
    let all_visits: Vec<usize> = (0..p.visits.len()).collect();
    let all_shifts: Vec<usize> = (0..p.shifts.len()).collect();
    let part = Part::new(p, all_visits, all_shifts);
    let Some((routes, unplaced)) = repaired(p, &part) else {
        return solved;
    };
    let Ok(solved_routes) = p.planned_routes(&solved) else {
        return solved;
    };
    let (Some(kept), Some(searched)) = (cost(&part, &routes), cost(&part, &solved_routes)) else {
        return solved;
    };
    // Visits the searched rota keeps with their carers but starts at another time.
    let mut start_of: BTreeMap<usize, (BTreeSet<usize>, Minute)> = BTreeMap::new();
    for r in &solved_routes {
        for &(v, t) in &r.stops {
            let e = start_of.entry(v).or_insert_with(|| (BTreeSet::new(), t));
            e.0.insert(p.shifts[r.shift].carer);
        }
    }
    let retimed = p
        .existing
        .iter()
        .filter(|e| {
            start_of.get(&e.visit).is_some_and(|(carers, t)| {
                e.start.is_some_and(|s| s != *t)
                    && carers
                        .iter()
                        .copied()
                        .eq(e.carers.iter().copied().collect::<BTreeSet<_>>())
            })
        })
        .count();
    if searched + p.weights.changed_visit * (retimed as f64) < kept - 1e-6 {
        return solved;
    }
    let mut rota = p.write_rota(&routes, &unplaced);
    let mut stats = solved.stats.unwrap_or_default();
    stats.objective = kept;
    stats.phases.insert("kept_published".into(), 1.0);
    if let Some(lb) = stats.lower_bound {
        stats.gap = Some(((kept - lb) / kept.abs().max(1.0)).max(0.0));
    }
    rota.stats = Some(stats);
    rota.kpis = Some(crate::check::check(p, &rota).kpis);
    rota
}
