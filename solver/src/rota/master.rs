//! The set-partitioning master problem: the best combination of pooled routes.
//!
//! The route search meets many good carer-shift routes; no single search move
//! can trade a person's continuity cap, a carer's weekly limit or a
//! double-handed visit's synchronisation against the rest of the rota, but a
//! MILP over the pool can. [`solve_master`] picks at most one route per shift
//! so that every visit is made by the right number of carers or left unplaced,
//! minimising the [`super::objective`] total exactly:
//!
//! - `x_r` (binary) per pool route, cost `local_cost`; `Σ_{r of shift} x_r ≤ 1`.
//! - `u_v` (binary) per visit left unplaced, cost [`unplaced_penalty`]; a single
//!   visit has `Σ_{r ∋ v} x_r + u_v = 1`. A double-handed visit has `y_{v,t}` per
//!   start `t` the pool offers it: `Σ_{r ∋ v at t} x_r = 2·y_{v,t}`,
//!   `Σ_t y_{v,t} + u_v = 1`, and one route per carer (a carer may have two
//!   shifts in a day).
//! - Links forbid incompatible start pairs (aggregated per start of `first`, valid
//!   because at most one start of `then` is chosen) and, with `distinct_carers`,
//!   one carer on both visits.
//! - Pinned visits must be placed; routes that move a pinned visit or give it to
//!   another carer are left out (the checker would reject them).
//! - `w_{u,c}` (binary) marks carer `c` seeing person `u`: per shift of `c`,
//!   `Σ_{r of the shift visiting u} x_r ≤ w_{u,c}` (fewer and tighter rows than one
//!   per route, since a shift's routes exclude each other);
//!   `Σ_c w_{u,c} ≤ continuity_cap(u)`, cost `distinct_carer`.
//! - Daily and weekly working minutes per carer (rows only where the pool could
//!   exceed them), and a continuous contract shortfall `s_c`.
//! - With a worst-lateness weight, a continuous `m ≥ late_r · x_r` for every
//!   route with a late stop: `m` is the largest lateness of the chosen routes.
//!
//! Costs of visits no route covers and shortfalls of carers with no route are a
//! constant added to HiGHS' bound afterwards. (A column fixed at 1 carrying it
//! made HiGHS warn about badly scaled costs.) HiGHS' own relative gap is thus
//! measured without the constant, i.e. it stops no earlier than asked.
//!
//! Scale (measured on the shared 2-vCPU machine, team week, 804 visits, pools
//! of routes from greedy rotas): with continuity caps slack, 921 routes solve to
//! optimality in 0.6 s, but 1,381 routes stop at 30 s with a 4% gap; with binding
//! caps even 921 routes stay in HiGHS' root cut loop past 20 s without improving
//! the start. HiGHS checks its time limit only between separation rounds, so a
//! solve can overrun it (once 54 s for a 30 s limit).
//!
//! Why good_lp and then `into_inner()`: good_lp keeps the model readable as
//! expressions and constraints, but it exposes neither the MIP dual bound nor
//! the gap. Its `HighsProblem::try_into_inner` hands over the built
//! `highs::Model`, on which the options (threads, time limit, gap) and the MIP
//! start are set again (into_inner drops them) and the bound and gap are read.
//! Columns are numbered in variable creation order, which this module tracks.

use super::objective::{
    contract_shortfall_cost, contract_target, distinct_carer_cost, unplaced_penalty,
    worst_late_cost,
};
use super::pool::PoolRoute;
use super::rules::{self, Selection};
use crate::model::{Minute, PlannedRoute, Problem};
use good_lp::{
    Constraint, Expression, ProblemVariables, SolverModel, Variable, VariableDefinition, variable,
};
use highs::{HighsModelStatus, HighsSolutionStatus};
use std::collections::{BTreeMap, BTreeSet};

/// Limits of one master solve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MasterOptions {
    /// Wall-clock limit in seconds; a started HiGHS solve cannot be cancelled, so always bounded.
    pub time_limit_s: f64,
    /// Relative MIP gap at which HiGHS stops (default 1e-4).
    pub mip_rel_gap: f64,
}

impl Default for MasterOptions {
    fn default() -> Self {
        Self {
            time_limit_s: 10.0,
            mip_rel_gap: 1e-4,
        }
    }
}

/// How the master solve ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MasterStatus {
    /// Proven optimal over the pool.
    Optimal,
    /// Stopped by the time limit (or another HiGHS limit) with a solution.
    TimeLimit,
    /// Stopped within the requested relative gap.
    GapLimit,
}

/// The selected routes and how good they are.
#[derive(Debug, Clone, PartialEq)]
pub struct MasterSolution {
    /// Indices into the pool, ascending, at most one per shift.
    pub chosen: Vec<usize>,
    /// Visit indices left unplaced, ascending.
    pub unplaced: Vec<usize>,
    /// Total objective re-evaluated exactly from the chosen routes ([`selection_objective`]).
    pub objective: f64,
    /// HiGHS' MIP dual bound: a valid lower bound over this pool (never above `objective`).
    pub bound: Option<f64>,
    /// Relative gap `(objective - bound) / max(|objective|, 1)`.
    pub gap: Option<f64>,
    /// How the solve ended.
    pub status: MasterStatus,
}

/// Why the master could not produce a selection.
#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    /// The pool, incumbent or options are malformed (a caller bug).
    #[error("invalid master input: {0}")]
    InvalidInput(String),
    /// A pinned visit is in no pool route that keeps its carers and start.
    #[error("pinned visit `{0}` is in no pool route that keeps its pinned carers and start")]
    PinnedUncovered(String),
    /// No selection of pooled routes satisfies the hard constraints (only pins can cause this).
    #[error(
        "no selection of pooled routes satisfies the hard constraints (pinned visits cannot all be kept)"
    )]
    Infeasible,
    /// HiGHS stopped without a solution and the incumbent was not feasible.
    #[error("HiGHS found no solution within {0} s and no feasible incumbent was given")]
    NoSolution(f64),
    /// HiGHS reported an error.
    #[error("HiGHS error: {0}")]
    Highs(String),
}

/// Exact objective of a selection, the same total the MILP minimises: route-local
/// costs, unplaced penalties (a visit no chosen route covers), distinct carers per
/// person, contract shortfall and the worst lateness. Meaningful for selections that pass
/// [`check_selection`]; indices outside the pool are ignored.
pub fn selection_objective(p: &Problem, pool: &[PoolRoute], chosen: &[usize]) -> f64 {
    let routes: Vec<&PoolRoute> = chosen.iter().filter_map(|&r| pool.get(r)).collect();
    let mut total: f64 = routes.iter().map(|r| r.local_cost).sum();
    let mut covered = vec![false; p.visits.len()];
    let mut seen: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    let mut worked = vec![0i64; p.carers.len()];
    for r in &routes {
        let Some(shift) = p.shifts.get(r.shift) else {
            continue;
        };
        if let Some(w) = worked.get_mut(shift.carer) {
            *w += r.work_min;
        }
        for &(v, _) in &r.stops {
            if let Some(visit) = p.visits.get(v) {
                covered[v] = true;
                seen.entry(visit.service_user)
                    .or_default()
                    .insert(shift.carer);
            }
        }
    }
    total += (0..p.visits.len())
        .filter(|&v| !covered[v])
        .map(|v| unplaced_penalty(p, v))
        .sum::<f64>();
    total += seen
        .values()
        .map(|c| distinct_carer_cost(p, c.len()))
        .sum::<f64>();
    total += (0..p.carers.len())
        .map(|c| contract_shortfall_cost(p, c, worked[c] as f64))
        .sum::<f64>();
    if p.weights.worst_late_min > 0.0 {
        let worst = routes.iter().map(|r| route_late(p, r)).max().unwrap_or(0);
        total += worst_late_cost(p, worst);
    }
    total
}

/// Largest lateness of any stop of a pool route (0 when none is late or a
/// stop names no visit).
fn route_late(p: &Problem, r: &PoolRoute) -> Minute {
    r.stops
        .iter()
        .filter_map(|&(v, t)| p.visits.get(v).map(|x| t - x.latest_start))
        .max()
        .unwrap_or(0)
        .max(0)
}

/// Visits no chosen route covers, ascending (indices outside the pool are ignored).
pub fn unplaced_visits(p: &Problem, pool: &[PoolRoute], chosen: &[usize]) -> Vec<usize> {
    let mut covered = vec![false; p.visits.len()];
    for r in chosen.iter().filter_map(|&r| pool.get(r)) {
        for &(v, _) in &r.stops {
            if let Some(c) = covered.get_mut(v) {
                *c = true;
            }
        }
    }
    (0..p.visits.len()).filter(|&v| !covered[v]).collect()
}

/// The chosen routes as planned routes for [`Problem::write_rota`] (indices outside the pool are skipped).
pub fn to_planned(pool: &[PoolRoute], chosen: &[usize]) -> Vec<PlannedRoute> {
    chosen
        .iter()
        .filter_map(|&r| pool.get(r))
        .map(|r| PlannedRoute {
            shift: r.shift,
            stops: r.stops.clone(),
        })
        .collect()
}

/// Checks a selection against every constraint the master enforces (the
/// cross-route ones; each route is trusted to be feasible on its own), naming
/// the first one broken. Used to vet incumbents and HiGHS' answer, and by callers.
pub fn check_selection(p: &Problem, pool: &[PoolRoute], chosen: &[usize]) -> Result<(), String> {
    let mut shifts = BTreeSet::new();
    let mut indices = BTreeSet::new();
    // Per visit: (carer, start) of each placement.
    let mut placed: Vec<Vec<(usize, Minute)>> = vec![Vec::new(); p.visits.len()];
    let mut day_work: BTreeMap<(usize, u32), i64> = BTreeMap::new();
    let mut week_work: BTreeMap<(usize, u32), i64> = BTreeMap::new();
    let mut seen: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    for &r in chosen {
        let route = pool
            .get(r)
            .ok_or_else(|| format!("route {r} is not in the pool of {}", pool.len()))?;
        if !indices.insert(r) {
            return Err(format!("route {r} is chosen twice"));
        }
        let shift = p
            .shifts
            .get(route.shift)
            .ok_or_else(|| format!("route {r} names unknown shift {}", route.shift))?;
        if !shifts.insert(route.shift) {
            return Err(format!("shift `{}` is used by two chosen routes", shift.id));
        }
        let c = shift.carer;
        *day_work.entry((c, shift.day)).or_default() += route.work_min;
        *week_work.entry((c, p.week_of(shift.day))).or_default() += route.work_min;
        for &(v, t) in &route.stops {
            let visit = p
                .visits
                .get(v)
                .ok_or_else(|| format!("route {r} names unknown visit {v}"))?;
            placed[v].push((c, t));
            seen.entry(visit.service_user).or_default().insert(c);
        }
    }
    for (v, on) in placed.iter().enumerate() {
        let visit = &p.visits[v];
        if on.is_empty() {
            continue;
        }
        let carers: BTreeSet<usize> = on.iter().map(|x| x.0).collect();
        if on.len() != usize::from(visit.carers_required) || carers.len() != on.len() {
            return Err(format!(
                "visit `{}` needs {} distinct carer(s), has {}",
                visit.id,
                visit.carers_required,
                on.len()
            ));
        }
        if on.iter().any(|x| x.1 != on[0].1) {
            return Err(format!("carers of `{}` start at different times", visit.id));
        }
    }
    for e in p.existing.iter().filter(|e| e.pinned) {
        let on = &placed[e.visit];
        let carers: BTreeSet<usize> = on.iter().map(|x| x.0).collect();
        let want: BTreeSet<usize> = e.carers.iter().copied().collect();
        if on.is_empty() || carers != want || on.iter().any(|x| Some(x.1) != e.start) {
            return Err(format!(
                "pinned visit `{}` is not kept",
                p.visits[e.visit].id
            ));
        }
    }
    for l in &p.links {
        let (Some(a), Some(b)) = (placed[l.first].first(), placed[l.then].first()) else {
            continue;
        };
        let offset = b.1 - a.1;
        if offset < l.min_offset || offset > l.max_offset {
            return Err(format!(
                "link `{}` -> `{}` offset {offset} min",
                p.visits[l.first].id, p.visits[l.then].id
            ));
        }
        if l.distinct_carers
            && placed[l.first]
                .iter()
                .any(|x| placed[l.then].iter().any(|y| y.0 == x.0))
        {
            return Err(format!(
                "link `{}` -> `{}` needs distinct carers",
                p.visits[l.first].id, p.visits[l.then].id
            ));
        }
    }
    rules::check_selection(&Selection {
        p,
        day_work: &day_work,
        week_work: &week_work,
        seen: &seen,
    })
}

/// Variables, objective, rows and the MIP start, built side by side so that the
/// HiGHS column of a variable is its creation index.
struct Builder {
    vars: ProblemVariables,
    start: Vec<f64>,
    objective: Expression,
    rows: Vec<Constraint>,
}

impl Builder {
    fn add(&mut self, def: VariableDefinition, cost: f64, start: f64) -> Variable {
        let v = self.vars.add(def);
        self.start.push(start);
        if cost != 0.0 {
            self.objective.add_mul(cost, v);
        }
        v
    }
}

fn set_option<V: highs::HighsOptionValue>(
    m: &mut highs::Model,
    name: &str,
    value: V,
) -> Result<(), MasterError> {
    m.try_set_option(name, value)
        .map_err(|_| MasterError::Highs(format!("cannot set option {name}")))
}

/// What a rule's master rows read and add to (see [`rules::Rule::master_rows`]).
pub(crate) struct MasterRows<'a> {
    pub p: &'a Problem,
    pub pool: &'a [PoolRoute],
    /// visit -> start -> active routes placing it there.
    pub cover: &'a BTreeMap<usize, BTreeMap<Minute, Vec<usize>>>,
    /// shift -> active routes.
    pub by_shift: &'a BTreeMap<usize, Vec<usize>>,
    /// visit -> start -> the 0/1 expression "the visit starts then" (coverage).
    pub starts: &'a BTreeMap<usize, BTreeMap<Minute, Expression>>,
    /// Per pool route: its variable (`None` for routes left out).
    pub x: &'a [Option<Variable>],
    /// Per pool route: whether the MIP start chooses it.
    pub in_start: &'a [bool],
    b: &'a mut Builder,
}

impl MasterRows<'_> {
    /// The carer of pool route `r`.
    pub fn carer_of(&self, r: usize) -> usize {
        self.p.shifts[self.pool[r].shift].carer
    }

    /// A new variable with its objective cost and MIP start value.
    pub fn add(&mut self, def: VariableDefinition, cost: f64, start: f64) -> Variable {
        self.b.add(def, cost, start)
    }

    /// A new row.
    pub fn row(&mut self, c: Constraint) {
        self.b.rows.push(c);
    }

    /// A carer's paid minutes per group of shifts (`group` of a shift: carer
    /// and day or week) at most `limit(group)`: one row per group where the
    /// pool's longest routes could exceed it.
    pub fn work_limit_rows(
        &mut self,
        group: &dyn Fn(usize) -> (usize, u32),
        limit: &dyn Fn((usize, u32)) -> i64,
    ) {
        let mut groups: BTreeMap<(usize, u32), BTreeMap<usize, &Vec<usize>>> = BTreeMap::new();
        for (&s, routes) in self.by_shift {
            groups.entry(group(s)).or_default().insert(s, routes);
        }
        for (&key, shifts) in &groups {
            // Work already over the limit (before the horizon) leaves no room,
            // not an infeasible row: choosing no route stays possible.
            let limit = limit(key).max(0);
            let most: i64 = shifts
                .values()
                .map(|rs| rs.iter().map(|&r| self.pool[r].work_min).max().unwrap_or(0))
                .sum();
            if most <= limit {
                continue;
            }
            let mut e = Expression::default();
            for &r in shifts.values().copied().flatten() {
                if let Some(xr) = self.x[r] {
                    e.add_mul(self.pool[r].work_min as f64, xr);
                }
            }
            self.b.rows.push(e.leq(limit as f64));
        }
    }
}

/// The sum of some variables.
pub(crate) fn sum(vars: impl IntoIterator<Item = Variable>) -> Expression {
    let mut e = Expression::default();
    for v in vars {
        e.add_mul(1.0, v);
    }
    e
}

/// Pool structure the model is built from (active routes only).
struct Index {
    /// Routes that keep every pin they touch.
    active: Vec<bool>,
    /// visit -> start -> routes placing it there.
    cover: BTreeMap<usize, BTreeMap<Minute, Vec<usize>>>,
    /// shift -> routes.
    by_shift: BTreeMap<usize, Vec<usize>>,
}

fn validate(
    p: &Problem,
    pool: &[PoolRoute],
    incumbent: &[usize],
    opts: &MasterOptions,
) -> Result<(), MasterError> {
    let bad = |m: String| Err(MasterError::InvalidInput(m));
    if opts.time_limit_s.is_nan() || opts.time_limit_s < 0.0 {
        return bad(format!("time limit {} s", opts.time_limit_s));
    }
    if !opts.mip_rel_gap.is_finite() || opts.mip_rel_gap < 0.0 {
        return bad(format!("mip_rel_gap {}", opts.mip_rel_gap));
    }
    for (i, r) in pool.iter().enumerate() {
        if r.shift >= p.shifts.len() {
            return bad(format!("pool route {i} names unknown shift {}", r.shift));
        }
        if !r.local_cost.is_finite() {
            return bad(format!("pool route {i} has cost {}", r.local_cost));
        }
        let mut visits = BTreeSet::new();
        for &(v, _) in &r.stops {
            if v >= p.visits.len() || !visits.insert(v) {
                return bad(format!(
                    "pool route {i} names visit {v} twice or out of range"
                ));
            }
        }
    }
    if let Some(&r) = incumbent.iter().find(|&&r| r >= pool.len()) {
        return bad(format!(
            "incumbent route {r} is not in the pool of {}",
            pool.len()
        ));
    }
    Ok(())
}

fn index(p: &Problem, pool: &[PoolRoute]) -> Result<Index, MasterError> {
    let pins: BTreeMap<usize, &crate::model::ExistingModel> = p
        .existing
        .iter()
        .filter(|e| e.pinned)
        .map(|e| (e.visit, e))
        .collect();
    let mut ix = Index {
        active: vec![true; pool.len()],
        cover: BTreeMap::new(),
        by_shift: BTreeMap::new(),
    };
    for (r, route) in pool.iter().enumerate() {
        let c = p.shifts[route.shift].carer;
        let breaks_pin = route.stops.iter().any(|&(v, t)| {
            pins.get(&v)
                .is_some_and(|e| !e.carers.contains(&c) || e.start != Some(t))
        });
        if breaks_pin {
            ix.active[r] = false;
            continue;
        }
        ix.by_shift.entry(route.shift).or_default().push(r);
        for &(v, t) in &route.stops {
            ix.cover.entry(v).or_default().entry(t).or_default().push(r);
        }
    }
    if let Some(&v) = pins.keys().find(|v| !ix.cover.contains_key(v)) {
        return Err(MasterError::PinnedUncovered(p.visits[v].id.clone()));
    }
    Ok(ix)
}

/// Picks the best combination of pooled routes. `incumbent` (pool indices
/// forming a feasible selection) is the MIP start, so HiGHS always holds a
/// solution, and is returned with [`MasterStatus::TimeLimit`] if HiGHS stops
/// without one. An infeasible incumbent is ignored. HiGHS runs on one thread
/// (its scheduler is fixed per OS thread by the first solve), so equal inputs
/// give equal answers unless the time limit cuts in.
pub fn solve_master(
    p: &Problem,
    pool: &[PoolRoute],
    incumbent: &[usize],
    opts: &MasterOptions,
) -> Result<MasterSolution, MasterError> {
    validate(p, pool, incumbent, opts)?;
    let ix = index(p, pool)?;
    let mut incumbent: Vec<usize> = incumbent.to_vec();
    incumbent.sort_unstable();
    incumbent.dedup();
    let start_ok = check_selection(p, pool, &incumbent).is_ok();
    let in_start: Vec<bool> = {
        let mut s = vec![false; pool.len()];
        if start_ok {
            incumbent.iter().for_each(|&r| s[r] = true);
        }
        s
    };
    let carer_of = |r: usize| p.shifts[pool[r].shift].carer;

    let mut b = Builder {
        vars: ProblemVariables::new(),
        start: Vec::new(),
        objective: Expression::default(),
        rows: Vec::new(),
    };
    let mut x: Vec<Option<Variable>> = vec![None; pool.len()];
    for (r, route) in pool.iter().enumerate() {
        if ix.active[r] {
            x[r] = Some(b.add(
                variable().binary(),
                route.local_cost,
                if in_start[r] { 1.0 } else { 0.0 },
            ));
        }
    }
    if x.iter().all(Option::is_none) {
        // Nothing to choose: every visit is unplaced (pins were ruled out by `index`).
        let objective = selection_objective(p, pool, &[]);
        return Ok(MasterSolution {
            chosen: Vec::new(),
            unplaced: (0..p.visits.len()).collect(),
            objective,
            bound: Some(objective),
            gap: Some(0.0),
            status: MasterStatus::Optimal,
        });
    }
    let xs = |routes: &[usize]| routes.iter().filter_map(|&r| x[r]).collect::<Vec<_>>();
    let mut offset = 0.0;

    // At most one route per shift.
    for routes in ix.by_shift.values().filter(|r| r.len() > 1) {
        b.rows.push(sum(xs(routes)).leq(1.0));
    }

    // Coverage; `z[v][t]` is the 0/1 expression "v starts at t".
    let pinned: BTreeSet<usize> = p
        .existing
        .iter()
        .filter(|e| e.pinned)
        .map(|e| e.visit)
        .collect();
    let mut z: BTreeMap<usize, BTreeMap<Minute, Expression>> = BTreeMap::new();
    for (v, visit) in p.visits.iter().enumerate() {
        let Some(times) = ix.cover.get(&v) else {
            offset += unplaced_penalty(p, v);
            continue;
        };
        let started = |routes: &[usize]| routes.iter().any(|&r| in_start[r]);
        let placed_in_start = times.values().any(|rs| started(rs));
        let mut covered = Expression::default();
        if !pinned.contains(&v) {
            let u = b.add(
                variable().binary(),
                unplaced_penalty(p, v),
                if placed_in_start { 0.0 } else { 1.0 },
            );
            covered.add_mul(1.0, u);
        }
        let zv = z.entry(v).or_default();
        if visit.carers_required >= 2 {
            for (&t, routes) in times {
                let y = b.add(
                    variable().binary(),
                    0.0,
                    if started(routes) { 1.0 } else { 0.0 },
                );
                let mut row = sum(xs(routes));
                row.add_mul(-f64::from(visit.carers_required), y);
                b.rows.push(row.eq(0.0));
                covered.add_mul(1.0, y);
                zv.insert(t, Expression::from(y));
            }
            let mut per_carer: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
            for &r in times.values().flatten() {
                per_carer.entry(carer_of(r)).or_default().push(r);
            }
            // Needed only when a carer has several shifts offering v (the shift row covers one).
            let spans_shifts =
                |rs: &&Vec<usize>| rs.iter().any(|&r| pool[r].shift != pool[rs[0]].shift);
            for routes in per_carer.values().filter(spans_shifts) {
                b.rows.push(sum(xs(routes)).leq(1.0));
            }
        } else {
            for (&t, routes) in times {
                let e = sum(xs(routes));
                covered.add_mul(1.0, e.clone());
                zv.insert(t, e);
            }
        }
        b.rows.push(covered.eq(1.0));
    }

    // The registered rules' rows (links, hours, continuity).
    rules::master_rows(&mut MasterRows {
        p,
        pool,
        cover: &ix.cover,
        by_shift: &ix.by_shift,
        starts: &z,
        x: &x,
        in_start: &in_start,
        b: &mut b,
    });

    // Contract shortfall.
    let mut work_of: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for routes in ix.by_shift.values() {
        for &r in routes {
            work_of.entry(carer_of(r)).or_default().push(r);
        }
    }
    let shortfall_weight = p.weights.contract_shortfall_min;
    for c in 0..p.carers.len() {
        let target = contract_target(p, c);
        if target <= 0.0 || shortfall_weight == 0.0 {
            continue;
        }
        let Some(routes) = work_of.get(&c) else {
            offset += contract_shortfall_cost(p, c, 0.0);
            continue;
        };
        let worked: i64 = routes
            .iter()
            .filter(|&&r| in_start[r])
            .map(|&r| pool[r].work_min)
            .sum();
        let s = b.add(
            variable().clamp(0.0, target),
            shortfall_weight,
            (target - worked as f64).max(0.0),
        );
        let mut e = Expression::from(s);
        for &r in routes {
            if let Some(xr) = x[r] {
                e.add_mul(pool[r].work_min as f64, xr);
            }
        }
        b.rows.push(e.geq(target));
    }

    // Worst lateness: `m ≥ late_r · x_r` for each route with a late stop, cost
    // per minute of `m` (the largest lateness over the chosen routes).
    if p.weights.worst_late_min > 0.0 {
        let late: Vec<(Variable, Minute, bool)> = x
            .iter()
            .enumerate()
            .filter_map(|(r, xr)| {
                let l = route_late(p, &pool[r]);
                xr.filter(|_| l > 0).map(|xr| (xr, l, in_start[r]))
            })
            .collect();
        if !late.is_empty() {
            let start_late = late.iter().filter(|l| l.2).map(|l| l.1).max().unwrap_or(0);
            let m = b.add(
                variable().min(0.0),
                p.weights.worst_late_min,
                f64::from(start_late),
            );
            for (xr, l, _) in late {
                let mut row = Expression::from(m);
                row.add_mul(-f64::from(l), xr);
                b.rows.push(row.geq(0.0));
            }
        }
    }

    // Solve.
    let Builder {
        vars,
        start,
        objective,
        rows,
    } = b;
    let mut model = vars
        .minimise(objective)
        .using(good_lp::highs)
        .with_all(rows)
        .try_into_inner()
        .map_err(|e| MasterError::Highs(e.to_string()))?;
    set_option(&mut model, "threads", 1)?;
    set_option(&mut model, "time_limit", opts.time_limit_s)?;
    set_option(&mut model, "mip_rel_gap", opts.mip_rel_gap)?;
    if start_ok {
        model
            .try_set_solution(Some(&start), None, None, None)
            .map_err(|e| MasterError::Highs(format!("MIP start: {e:?}")))?;
    }
    let solved = model
        .try_solve()
        .map_err(|e| MasterError::Highs(format!("solve: {e:?}")))?;
    let status = solved.status();
    let bound = solved
        .double_info_value(c"mip_dual_bound")
        .ok()
        // Every cost in the model is non-negative, so a negative "bound" (HiGHS
        // stopped before its root LP was done) proves nothing: report none.
        .filter(|b| b.is_finite() && *b >= 0.0)
        .map(|b| b + offset);

    let mut candidates: Vec<Vec<usize>> = Vec::new();
    if solved.primal_solution_status() == HighsSolutionStatus::Feasible {
        let sol = solved.get_solution();
        let cols = sol.columns();
        let mut column = 0usize;
        let mut chosen = Vec::new();
        for (r, xr) in x.iter().enumerate() {
            if xr.is_some() {
                if cols.get(column).is_some_and(|&val| val > 0.5) {
                    chosen.push(r);
                }
                column += 1;
            }
        }
        if check_selection(p, pool, &chosen).is_ok() {
            candidates.push(chosen);
        }
    }
    let highs_answered = !candidates.is_empty();
    if start_ok {
        candidates.push(incumbent);
    }
    let best = candidates
        .into_iter()
        .map(|c| (selection_objective(p, pool, &c), c))
        .min_by(|a, b| a.0.total_cmp(&b.0));
    let Some((objective, chosen)) = best else {
        return Err(match status {
            HighsModelStatus::Infeasible | HighsModelStatus::UnboundedOrInfeasible => {
                MasterError::Infeasible
            }
            HighsModelStatus::ReachedTimeLimit => MasterError::NoSolution(opts.time_limit_s),
            other => {
                MasterError::Highs(format!("model status {other:?} without a usable solution"))
            }
        });
    };
    // A bound a hair above a feasible objective is float noise from HiGHS' tolerances.
    let bound = bound.map(|b| b.min(objective));
    let gap = bound.map(|b| ((objective - b) / objective.abs().max(1.0)).max(0.0));
    let closed = bound.is_some_and(|b| objective - b <= 1e-6_f64.max(1e-9 * objective.abs()));
    let status = match status {
        HighsModelStatus::Optimal if highs_answered && closed => MasterStatus::Optimal,
        HighsModelStatus::Optimal if highs_answered => MasterStatus::GapLimit,
        _ => MasterStatus::TimeLimit,
    };
    let unplaced = unplaced_visits(p, pool, &chosen);
    Ok(MasterSolution {
        chosen,
        unplaced,
        objective,
        bound,
        gap,
        status,
    })
}

#[cfg(test)]
#[path = "master_tests.rs"]
mod tests;
