//! A lower bound from the linear relaxation of route selection, priced by
//! column generation: it sees carers' room, which the person-by-person bound
//! ([`super::bound`]) relaxes, so it is much closer on rotas where continuity
//! costs are set by who has time rather than who is eligible.
//!
//! The relaxed model: every shift drives at most one route; each visit is made
//! by `carers_required` route visits or left unplaced at its penalty; `w_{u,c}`
//! marks carer `c` seeing person `u` (cost `distinct_carer`, at most the
//! person's continuity cap of them), and a route of `c` may make a visit of `u`
//! only if `w_{u,c}` is set (one row per carer and visit). Dropped, so the
//! model only gets cheaper: daily and weekly hours, breaks, capacity,
//! synchronisation of double-handed and linked visits, pins, contract
//! shortfall, worst lateness, and routes may repeat a visit.
//!
//! The bound does not trust the LP: for the duals `π_v` (visits) and `μ_{c,v}
//! ≥ 0` (carer-visit rows) of each restricted master, it evaluates the
//! Lagrangian dual function exactly:
//!
//! `L = Σ_v n_v π_v + Σ_v min(0, penalty_v − n_v π_v) + Σ_shifts min(0, least
//! reduced cost of a route) + Σ_u (the ≤ cap most negative d − Σ_v μ_{c,v})`,
//!
//! where the least reduced cost comes from an exact labelling over (visit,
//! start time, ng-memory) on the shift: ng-routes (a visit may recur only
//! once it has left the memory), earliest start times, the engine's own legs,
//! visit costs and lateness. `L` is a lower bound for any duals, so a round
//! stopped by the deadline still gives one; the best is kept.
//!
//! Column generation on a set-partitioning master is slow to settle: its
//! duals jump between degenerate vertices. Two standard steadiers are used,
//! a dual box (slack on each cover row, widened when the master converges
//! inside it) and smoothing towards the best prices so far. On small
//! instances it converges to the LP optimum in milliseconds; on the team week
//! it does not yet beat the person-by-person bound within 30 s
//! (docs/experiments.md §13), so it runs only when asked (`bound_time`).

use super::Part;
use crate::rota::objective::{lateness_cost, unplaced_penalty};
use crate::rota::rules;
use good_lp::{
    Expression, ProblemVariables, Solution, SolutionWithDual, SolverModel, Variable, constraint,
    variable,
};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::time::Instant;

/// A shift's least reduced cost and the routes that price out.
type PricedShift = (usize, f64, Vec<Vec<usize>>);

/// Result of [`Part::route_relaxation_bound`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RouteRelaxation {
    /// The best Lagrangian value found: a bound over every rota of the part.
    pub bound: f64,
    /// The last restricted master's LP value (not a bound until no column prices out).
    pub lp_value: f64,
    /// Pricing rounds run.
    pub rounds: usize,
    /// Route columns in the last master.
    pub columns: usize,
    /// Whether no route priced out in the last round (then `bound` ≈ the LP optimum).
    pub converged: bool,
}

/// A route column: its shift, visits (a relaxed route may repeat one), relaxed cost.
struct Column {
    shift: usize,
    visits: Vec<usize>,
    cost: f64,
}

/// One label of the pricing labelling: at visit `at` (index into the shift's
/// eligible list), starting at `start`, with reduced cost `cost` so far.
struct Label {
    at: u32,
    start: i64,
    cost: f64,
    parent: u32,
    alive: bool,
    /// Visits the route may not come back to yet (ng-route memory).
    memory: Mem,
}

/// Visits of a shift's eligible list a label remembers (the first [`MEM_BITS`]).
const MEM_BITS: usize = 512;
/// Visits in each ng-neighbourhood besides the visit itself.
const NG_SIZE: usize = 10;

/// A set of eligible-list positions below [`MEM_BITS`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Mem([u64; MEM_BITS / 64]);

impl Mem {
    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn has(&self, i: usize) -> bool {
        self.0[i / 64] >> (i % 64) & 1 == 1
    }
    fn and(&self, other: &Mem) -> Mem {
        let mut out = *self;
        for (a, b) in out.0.iter_mut().zip(&other.0) {
            *a &= b;
        }
        out
    }
    /// Whether every member of `self` is in `other`.
    fn within(&self, other: &Mem) -> bool {
        self.0.iter().zip(&other.0).all(|(a, b)| a & !b == 0)
    }
}

const NO_PARENT: u32 = u32::MAX;
/// Reduced cost below which a route is added to the master.
const PRICE_EPS: f64 = 1e-6;
/// Weight of the best prices so far when pricing (dual smoothing).
const SMOOTHING: f64 = 0.6;
/// Routes each shift's pricing returns to the master per round, at most.
const ROUTES_PER_SHIFT: usize = 8;

impl Part<'_> {
    /// Column generation on the relaxed model (module docs) from `start_routes`
    /// (shift, visits) until no route prices out or `deadline`. Returns `None`
    /// when the part has no shifts or the LP cannot be solved.
    pub(crate) fn route_relaxation_bound(
        &self,
        start_routes: &[(usize, Vec<usize>)],
        deadline: Instant,
    ) -> Option<RouteRelaxation> {
        let p = self.p;
        let d = p.weights.distinct_carer.max(0.0);
        // Eligible visits per shift, in order of earliest start.
        let mut eligible: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for &v in &self.visits {
            for &s in self.candidates.get(&v).map(Vec::as_slice).unwrap_or(&[]) {
                eligible.entry(s).or_default().push(v);
            }
        }
        for list in eligible.values_mut() {
            list.sort_unstable_by_key(|&v| (p.visits[v].earliest_start, v));
        }
        if eligible.is_empty() {
            return None;
        }
        let ng: BTreeMap<usize, Vec<Mem>> = eligible
            .iter()
            .map(|(&s, list)| (s, self.ng_sets(s, list)))
            .collect();
        let pinned_user: std::collections::BTreeSet<usize> = self
            .pinned
            .keys()
            .map(|&v| p.visits[v].service_user)
            .collect();
        let mut users: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for &v in &self.visits {
            users.entry(p.visits[v].service_user).or_default().push(v);
        }
        let cap_of = |u: usize| -> usize {
            if pinned_user.contains(&u) {
                usize::MAX
            } else {
                rules::bound_carer_limit(p, crate::model::PersonId(u)).unwrap_or(usize::MAX)
            }
        };

        let mut columns: Vec<Column> = Vec::new();
        for (s, route) in start_routes {
            if route.is_empty() || !eligible.contains_key(s) {
                continue;
            }
            if let Some(cost) = self.relaxed_route_cost(*s, route) {
                columns.push(Column {
                    shift: *s,
                    visits: route.clone(),
                    cost,
                });
            }
        }

        let mut best = f64::NEG_INFINITY;
        let mut lp_value = 0.0;
        let mut rounds = 0;
        let mut converged = false;
        // Dual smoothing (Wentges): price at a point between the master's duals
        // and the best duals so far. The duals of a set-partitioning master jump
        // between degenerate vertices; smoothing steadies the bound. Any prices
        // give a valid bound, so only convergence is at stake.
        let mut centre: Option<Prices> = None;
        let mut alpha = SMOOTHING;
        // Start the dual box at twice the start rota's cost per visit plus a
        // distinct carer; it widens whenever the master converges inside it.
        let per_visit = columns.iter().map(|c| c.cost).sum::<f64>()
            / columns.iter().map(|c| c.visits.len()).sum::<usize>().max(1) as f64;
        let mut box_width = 2.0 * per_visit.max(1.0) + d;
        let shifts: Vec<(&usize, &Vec<usize>)> = eligible.iter().collect();
        while Instant::now() < deadline {
            rounds += 1;
            let master = self.solve_restricted_master(&columns, &users, d, &cap_of, box_width)?;
            lp_value = master.objective;
            let prices = match &centre {
                Some(c) if alpha > 0.0 => c.towards(&master.prices, 1.0 - alpha),
                _ => master.prices.clone(),
            };
            // Price every shift.
            let priced: Option<Vec<PricedShift>> = {
                use rayon::prelude::*;
                shifts
                    .par_iter()
                    .map(|(s, list)| {
                        let c = p.shifts[**s].carer;
                        let prize = |v: usize| prices.prize(c, v);
                        let (rc, routes) =
                            self.price_shift(**s, list, &ng[*s], &prize, Some(deadline))?;
                        Some((**s, rc, routes))
                    })
                    .collect::<Option<Vec<_>>>()
            };
            // A shift's pricing ran out of time: this round gives no bound.
            let Some(priced) = priced else {
                break;
            };
            let value = self.lagrangian(&prices, &priced, &users, d, &cap_of);
            if value > best {
                best = value;
                centre = Some(prices.clone());
            }
            let mut added = 0;
            for (s, _, routes) in priced {
                let c = p.shifts[s].carer;
                let rho = master.rho.get(&s).copied().unwrap_or(0.0);
                for route in routes {
                    let Some(cost) = self.relaxed_route_cost(s, &route) else {
                        continue;
                    };
                    // It improves the master when it beats the shift's price
                    // at the master's own duals.
                    let rc = cost + rho
                        - route
                            .iter()
                            .map(|&v| master.prices.prize(c, v))
                            .sum::<f64>();
                    if rc < -PRICE_EPS {
                        columns.push(Column {
                            shift: s,
                            visits: route,
                            cost,
                        });
                        added += 1;
                    }
                }
            }
            if added == 0 {
                if alpha > 0.0 {
                    // Mispriced: go back to the master's duals.
                    alpha = 0.0;
                } else if master.boxed_in {
                    box_width *= 4.0;
                    alpha = SMOOTHING;
                } else {
                    converged = true;
                    break;
                }
            }
        }
        if !best.is_finite() {
            return None;
        }
        Some(RouteRelaxation {
            bound: best,
            lp_value,
            rounds,
            columns: columns.len(),
            converged,
        })
    }

    /// The Lagrangian dual function at `prices` (module docs), given each
    /// shift's least reduced cost in `priced`.
    fn lagrangian(
        &self,
        prices: &Prices,
        priced: &[(usize, f64, Vec<Vec<usize>>)],
        users: &BTreeMap<usize, Vec<usize>>,
        d: f64,
        cap_of: &dyn Fn(usize) -> usize,
    ) -> f64 {
        let p = self.p;
        let mut value = 0.0;
        for &v in &self.visits {
            let n = f64::from(p.visits[v].carers_required);
            let pi = prices.pi.get(&v).copied().unwrap_or(0.0);
            value += n * pi + (unplaced_penalty(p, v) - n * pi).min(0.0);
        }
        value += priced.iter().map(|(_, rc, _)| rc.min(0.0)).sum::<f64>();
        let mut mu_of_user: BTreeMap<(usize, usize), f64> = BTreeMap::new();
        for (&(c, v), &m) in &prices.mu {
            *mu_of_user
                .entry((p.visits[v].service_user, c))
                .or_insert(0.0) += m;
        }
        for &u in users.keys() {
            let mut gains: Vec<f64> = mu_of_user
                .range((u, 0)..(u + 1, 0))
                .map(|(_, &m)| d - m)
                .filter(|&g| g < 0.0)
                .collect();
            gains.sort_unstable_by(f64::total_cmp);
            value += gains.iter().take(cap_of(u)).sum::<f64>();
        }
        value
    }

    /// The relaxed cost of `route` on shift `s` (earliest starts, no breaks), or
    /// `None` when even that timing misses a window or the shift's end.
    fn relaxed_route_cost(&self, s: usize, route: &[usize]) -> Option<f64> {
        let p = self.p;
        let w = &p.weights;
        let shift = &p.shifts[s];
        let c = shift.carer;
        let commute_w = self.commute_weight();
        let mut loc = shift.start_loc;
        let mut t = shift.start;
        let mut cost = 0.0;
        for (k, &v) in route.iter().enumerate() {
            let visit = &p.visits[v];
            let travel = self.travel(c, loc, visit.location);
            let start = (t + travel).max(visit.earliest_start);
            if start > visit.latest_start + self.tolerance {
                return None;
            }
            cost += f64::from(travel) * if k == 0 { commute_w } else { w.travel_min };
            cost += self.visit_cost(c, v) + lateness_cost(p, start - visit.latest_start);
            t = start + visit.duration;
            loc = visit.location;
        }
        let back = self.travel(c, loc, shift.end_loc);
        if t + back > shift.end {
            return None;
        }
        Some(cost + f64::from(back) * commute_w + w.shift_used)
    }

    /// Per eligible visit of shift `s` (`list`): its ng-neighbourhood, itself
    /// and the [`NG_SIZE`] visits nearest to it that the shift could make just
    /// before or after it. A route may not come back to a visit while it is
    /// in the neighbourhoods of every visit since (ng-route relaxation): this
    /// rules out the short cycles that make plain relaxed routes worthless.
    fn ng_sets(&self, s: usize, list: &[usize]) -> Vec<Mem> {
        let p = self.p;
        let c = p.shifts[s].carer;
        let mut out = Vec::with_capacity(list.len());
        for (i, &v) in list.iter().enumerate() {
            let a = &p.visits[v];
            let mut near: Vec<(i32, usize)> = Vec::new();
            for (j, &x) in list.iter().enumerate() {
                if j == i || j >= MEM_BITS {
                    continue;
                }
                let b = &p.visits[x];
                let there = self.travel(c, a.location, b.location);
                let back = self.travel(c, b.location, a.location);
                let after =
                    a.earliest_start + a.duration + there <= b.latest_start + self.tolerance;
                let before =
                    b.earliest_start + b.duration + back <= a.latest_start + self.tolerance;
                if after || before {
                    near.push((there.min(back), j));
                }
            }
            near.sort_unstable();
            let mut m = Mem::default();
            if i < MEM_BITS {
                m.set(i);
            }
            for &(_, j) in near.iter().take(NG_SIZE) {
                m.set(j);
            }
            out.push(m);
        }
        out
    }

    /// The least reduced cost of an ng-route (see [`Part::ng_sets`]) on shift
    /// `s` over its eligible visits `list`, each collecting `prize(v)`, and
    /// that route (`(0.0, [])` when no route beats staying home). Exact
    /// labelling over (visit, start, memory) with earliest starts.
    fn price_shift(
        &self,
        s: usize,
        list: &[usize],
        ng: &[Mem],
        prize: &dyn Fn(usize) -> f64,
        deadline: Option<Instant>,
    ) -> Option<(f64, Vec<Vec<usize>>)> {
        let p = self.p;
        let w = &p.weights;
        let shift = &p.shifts[s];
        let c = shift.carer;
        let commute_w = self.commute_weight();
        let n = list.len();
        let prizes: Vec<f64> = list
            .iter()
            .map(|&v| prize(v) - self.visit_cost(c, v))
            .collect();
        let mut labels: Vec<Label> = Vec::new();
        // Per eligible visit: its live labels.
        let mut at_visit: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut heap: BinaryHeap<Reverse<(i64, u32)>> = BinaryHeap::new();
        let insert = |labels: &mut Vec<Label>,
                      at_visit: &mut Vec<Vec<u32>>,
                      heap: &mut BinaryHeap<Reverse<(i64, u32)>>,
                      new: Label| {
            let here = &mut at_visit[new.at as usize];
            for &l in here.iter() {
                let o = &labels[l as usize];
                if o.start <= new.start && o.cost <= new.cost && o.memory.within(&new.memory) {
                    return;
                }
            }
            here.retain(|&l| {
                let o = &mut labels[l as usize];
                let dominated =
                    new.start <= o.start && new.cost <= o.cost && new.memory.within(&o.memory);
                if dominated {
                    o.alive = false;
                }
                !dominated
            });
            let id = labels.len() as u32;
            heap.push(Reverse((new.start, id)));
            here.push(id);
            labels.push(new);
        };
        for (i, &v) in list.iter().enumerate() {
            let visit = &p.visits[v];
            let travel = self.travel(c, shift.start_loc, visit.location);
            let start = (shift.start + travel).max(visit.earliest_start);
            if start > visit.latest_start + self.tolerance {
                continue;
            }
            let cost = f64::from(travel) * commute_w + lateness_cost(p, start - visit.latest_start)
                - prizes[i];
            let mut memory = Mem::default();
            if i < MEM_BITS {
                memory.set(i);
            }
            let label = Label {
                at: i as u32,
                start: i64::from(start),
                cost,
                parent: NO_PARENT,
                alive: true,
                memory,
            };
            insert(&mut labels, &mut at_visit, &mut heap, label);
        }
        let mut best = 0.0;
        // Closing labels with a negative total: the routes to return.
        let mut closing: Vec<(f64, u32)> = Vec::new();
        let mut popped: u32 = 0;
        while let Some(Reverse((_, id))) = heap.pop() {
            // Out of time: the shift's least reduced cost is unknown, so the
            // caller may not use this round at all.
            popped = popped.wrapping_add(1);
            if popped.is_multiple_of(4096) && deadline.is_some_and(|d| Instant::now() >= d) {
                return None;
            }
            let (at, start, cost, memory) = {
                let l = &labels[id as usize];
                if !l.alive {
                    continue;
                }
                (l.at as usize, l.start, l.cost, l.memory)
            };
            let visit = &p.visits[list[at]];
            let end = start + i64::from(visit.duration);
            let back = self.travel(c, visit.location, shift.end_loc);
            if end + i64::from(back) <= i64::from(shift.end) {
                let total = cost + f64::from(back) * commute_w + w.shift_used;
                if total < -PRICE_EPS {
                    best = f64::min(best, total);
                    closing.push((total, id));
                }
            }
            for (j, &x) in list.iter().enumerate() {
                if j < MEM_BITS && memory.has(j) {
                    continue;
                }
                let next = &p.visits[x];
                let travel = self.travel(c, visit.location, next.location);
                let arrive = end + i64::from(travel);
                let begin = arrive.max(i64::from(next.earliest_start));
                // Without time passing (zero duration and travel), only go
                // forward in the list, so labels cannot cycle at one minute.
                if begin > i64::from(next.latest_start + self.tolerance)
                    || (begin == start && j <= at)
                {
                    continue;
                }
                let late = (begin - i64::from(next.latest_start)) as crate::model::Minute;
                let ncost =
                    cost + f64::from(travel) * w.travel_min + lateness_cost(p, late) - prizes[j];
                let mut next_memory = memory.and(&ng[j]);
                if j < MEM_BITS {
                    next_memory.set(j);
                }
                let label = Label {
                    at: j as u32,
                    start: begin,
                    cost: ncost,
                    parent: id,
                    alive: true,
                    memory: next_memory,
                };
                insert(&mut labels, &mut at_visit, &mut heap, label);
            }
        }
        closing.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        let routes = closing
            .iter()
            .take(ROUTES_PER_SHIFT)
            .map(|&(_, id)| {
                let mut route = Vec::new();
                let mut at = id;
                while at != NO_PARENT {
                    let l = &labels[at as usize];
                    route.push(list[l.at as usize]);
                    at = l.parent;
                }
                route.reverse();
                route
            })
            .collect();
        Some((best, routes))
    }

    /// Solves the restricted master's LP over `columns` and returns its duals.
    fn solve_restricted_master(
        &self,
        columns: &[Column],
        users: &BTreeMap<usize, Vec<usize>>,
        d: f64,
        cap_of: &dyn Fn(usize) -> usize,
        box_width: f64,
    ) -> Option<MasterDuals> {
        let p = self.p;
        let mut vars = ProblemVariables::new();
        // Per visit, surplus and slack on its cover row at `box_width` each:
        // they keep every visit's price within ±box_width (a dual box), so
        // early prices cannot swing to the unplaced penalty.
        let boxed: BTreeMap<usize, (Variable, Variable)> = self
            .visits
            .iter()
            .map(|&v| {
                (
                    v,
                    (vars.add(variable().min(0.0)), vars.add(variable().min(0.0))),
                )
            })
            .collect();
        // No upper bounds where a row already implies them: a column resting at
        // a bound would carry its price in its own reduced cost, not in the
        // row duals that pricing reads.
        let x: Vec<Variable> = columns
            .iter()
            .map(|_| vars.add(variable().min(0.0)))
            .collect();
        let unplaced: BTreeMap<usize, Variable> = self
            .visits
            .iter()
            .map(|&v| (v, vars.add(variable().min(0.0))))
            .collect();
        // Carer-visit pairs some column uses: those get a row and a `w`.
        let mut pair_cols: BTreeMap<(usize, usize), Expression> = BTreeMap::new();
        let mut cover: BTreeMap<usize, Expression> = BTreeMap::new();
        let mut per_shift: BTreeMap<usize, Expression> = BTreeMap::new();
        let mut objective = Expression::from(0.0);
        for (col, &xr) in columns.iter().zip(&x) {
            let c = p.shifts[col.shift].carer;
            objective += col.cost * xr;
            *per_shift.entry(col.shift).or_default() += xr;
            for &v in &col.visits {
                *cover.entry(v).or_default() += xr;
                if d > 0.0 {
                    *pair_cols.entry((c, v)).or_default() += xr;
                }
            }
        }
        let mut seen: BTreeMap<(usize, usize), Variable> = BTreeMap::new();
        for &(c, v) in pair_cols.keys() {
            let u = p.visits[v].service_user;
            seen.entry((u, c))
                .or_insert_with(|| vars.add(variable().min(0.0).max(1.0)));
        }
        for (&v, &uv) in &unplaced {
            objective += unplaced_penalty(p, v) * uv;
        }
        for &wv in seen.values() {
            objective += d * wv;
        }
        for &(up, down) in boxed.values() {
            objective += box_width * up + box_width * down;
        }
        let mut model = vars
            .minimise(objective)
            .using(good_lp::solvers::highs::highs);
        model.set_verbose(false);
        let mut cover_rows: Vec<(usize, good_lp::constraint::ConstraintReference)> = Vec::new();
        for &v in &self.visits {
            let n = f64::from(p.visits[v].carers_required);
            let (up, down) = boxed[&v];
            let lhs = cover.remove(&v).unwrap_or_default() + n * unplaced[&v] + up - down;
            let r = model.add_constraint(constraint!(lhs == n));
            cover_rows.push((v, r));
        }
        let mut pair_rows = Vec::new();
        for ((c, v), lhs) in pair_cols {
            let u = p.visits[v].service_user;
            let r = model.add_constraint(constraint!(lhs - seen[&(u, c)] <= 0.0));
            pair_rows.push(((c, v), r));
        }
        let mut shift_rows = Vec::new();
        for (s, lhs) in per_shift {
            let r = model.add_constraint(constraint!(lhs <= 1.0));
            shift_rows.push((s, r));
        }
        for &u in users.keys() {
            let cap = cap_of(u);
            let ws: Vec<Variable> = seen.range((u, 0)..(u + 1, 0)).map(|(_, &wv)| wv).collect();
            if cap < ws.len() {
                let lhs: Expression = ws.into_iter().sum();
                model.add_constraint(constraint!(lhs <= cap as f64));
            }
        }
        let mut solution = model.solve().ok()?;
        let objective = x
            .iter()
            .zip(columns)
            .map(|(&xr, col)| solution.value(xr) * col.cost)
            .sum::<f64>()
            + unplaced
                .iter()
                .map(|(&v, &uv)| solution.value(uv) * unplaced_penalty(p, v))
                .sum::<f64>()
            + seen.values().map(|&wv| solution.value(wv) * d).sum::<f64>();
        let boxed_in = boxed
            .values()
            .any(|&(up, down)| solution.value(up) > 1e-9 || solution.value(down) > 1e-9);
        let dual = solution.compute_dual();
        // HiGHS' row duals y give reduced costs c - yᵀA: a `≤` row's y is ≤ 0,
        // so its price (μ, ρ) is -y.
        let pi = cover_rows
            .into_iter()
            .map(|(v, r)| (v, good_lp::solvers::DualValues::dual(&dual, r)))
            .collect();
        let mu = pair_rows
            .into_iter()
            .map(|(k, r)| (k, (-good_lp::solvers::DualValues::dual(&dual, r)).max(0.0)))
            .collect();
        let rho = shift_rows
            .into_iter()
            .map(|(s, r)| (s, (-good_lp::solvers::DualValues::dual(&dual, r)).max(0.0)))
            .collect();
        Some(MasterDuals {
            objective,
            prices: Prices { pi, mu },
            rho,
            boxed_in,
        })
    }
}

/// The restricted master's value and duals.
struct MasterDuals {
    objective: f64,
    prices: Prices,
    /// Per shift with a column: the price of its one route, non-negative.
    rho: BTreeMap<usize, f64>,
    /// Whether a cover row leans on its box slack (then `objective` is below
    /// the master's LP value and prices are held in the box).
    boxed_in: bool,
}

/// Prices of the dualised rows: what a route earns per visit.
#[derive(Debug, Clone, Default)]
struct Prices {
    /// Per visit (free sign).
    pi: BTreeMap<usize, f64>,
    /// Per (carer, visit), non-negative: the carer's share of seeing the person.
    mu: BTreeMap<(usize, usize), f64>,
}

impl Prices {
    /// What carer `c` earns for making visit `v`.
    fn prize(&self, c: usize, v: usize) -> f64 {
        self.pi.get(&v).copied().unwrap_or(0.0) - self.mu.get(&(c, v)).copied().unwrap_or(0.0)
    }

    /// `self + t·(other − self)`, over the union of rows.
    fn towards(&self, other: &Prices, t: f64) -> Prices {
        fn mix<K: Ord + Copy>(
            a: &BTreeMap<K, f64>,
            b: &BTreeMap<K, f64>,
            t: f64,
        ) -> BTreeMap<K, f64> {
            let mut out = a.clone();
            for (k, x) in out.iter_mut() {
                *x += t * (b.get(k).copied().unwrap_or(0.0) - *x);
            }
            for (k, &y) in b {
                out.entry(*k).or_insert(t * y);
            }
            out
        }
        Prices {
            pi: mix(&self.pi, &other.pi, t),
            mu: mix(&self.mu, &other.mu, t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Every ordered selection of up to `k` distinct items.
    fn sequences(items: &[usize], k: usize) -> Vec<Vec<usize>> {
        let mut out = vec![Vec::new()];
        let mut frontier = vec![Vec::new()];
        for _ in 0..k {
            let mut next = Vec::new();
            for seq in &frontier {
                for &x in items {
                    if !seq.contains(&x) {
                        let mut s: Vec<usize> = seq.clone();
                        s.push(x);
                        next.push(s);
                    }
                }
            }
            out.extend(next.iter().cloned());
            frontier = next;
        }
        out
    }

    #[test]
    fn pricing_is_no_dearer_than_any_route_the_engine_could_drive() {
        // 7 customers, 2 vehicles with tight windows: enumerate every route of
        // up to 4 visits per shift; the labelling's least reduced cost must be
        // at most each one's, and the relaxed cost at most the engine's timing.
        let p = crate::testing::solomon_fleet(7, 2, 40);
        let part = Part::new(
            &p,
            (0..p.visits.len()).collect(),
            (0..p.shifts.len()).collect(),
        );
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for _ in 0..20 {
            let prizes: Vec<f64> = (0..p.visits.len())
                .map(|_| rng.random_range(-20.0..120.0))
                .collect();
            for &s in &part.shifts {
                let list: Vec<usize> = part
                    .visits
                    .iter()
                    .copied()
                    .filter(|v| part.candidates.get(v).is_some_and(|c| c.contains(&s)))
                    .collect();
                let ng = part.ng_sets(s, &list);
                let (least, routes) = part
                    .price_shift(s, &list, &ng, &|v| prizes[v], None)
                    .expect("no deadline");
                assert!(least <= 0.0);
                if let Some(route) = routes.first() {
                    let route = route.clone();
                    let cost = part
                        .relaxed_route_cost(s, &route)
                        .expect("priced route is timed");
                    let rc = cost - route.iter().map(|&v| prizes[v]).sum::<f64>();
                    assert!(
                        (rc - least).abs() < 1e-6,
                        "route {route:?}: {rc} vs {least}"
                    );
                }
                for seq in sequences(&list, 4) {
                    if seq.is_empty() {
                        continue;
                    }
                    let Some(engine) = part.simulate(s, &seq, &|_| None) else {
                        continue;
                    };
                    let relaxed = part.relaxed_route_cost(s, &seq).expect("engine-feasible");
                    assert!(relaxed <= engine.local_cost + 1e-9);
                    let rc = relaxed - seq.iter().map(|&v| prizes[v]).sum::<f64>();
                    assert!(least <= rc + 1e-9, "{seq:?}: {rc} < priced {least}");
                }
            }
        }
    }

    #[test]
    fn the_relaxation_bound_holds_and_beats_pricing_each_person_alone() {
        let p = crate::testing::solomon_fleet(12, 3, 60);
        let part = Part::new(
            &p,
            (0..p.visits.len()).collect(),
            (0..p.shifts.len()).collect(),
        );
        let fast = part.lower_bound();
        let relaxed = part
            .route_relaxation_bound(&[], Instant::now() + std::time::Duration::from_secs(60))
            .expect("a bound");
        assert!(relaxed.converged, "{relaxed:?}");
        // Converged: the Lagrangian value meets the LP optimum.
        assert!(
            (relaxed.bound - relaxed.lp_value).abs() <= 1e-6 * relaxed.lp_value.abs().max(1.0),
            "{relaxed:?}"
        );
        // Any rota the search finds costs at least the bound.
        let mut st = part.empty_state();
        let all: Vec<usize> = part.visits.clone();
        part.construct(
            &mut st,
            &all,
            3,
            Instant::now() + std::time::Duration::from_secs(5),
            false,
        );
        let found = st.cost(&part);
        assert!(
            relaxed.bound <= found + 1e-6,
            "{relaxed:?} vs found {found}"
        );
        assert!(relaxed.bound >= fast - 1e-6, "{relaxed:?} vs fast {fast}");
    }
}
