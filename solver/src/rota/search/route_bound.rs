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
//! duals jump between degenerate vertices. It starts from prices at which no
//! route prices out (the person-by-person bound with carer sets taken
//! fractionally, [`Part::start_prices`]), keeps the master in one warm-started
//! HiGHS model, smooths prices towards the best so far (Wentges, with a
//! mispricing sequence) and holds visit prices in a box (du Merle). One day of
//! the team week converges to the LP optimum in ~20 s; the whole week does
//! not within 60 s (the master's re-solves take seconds once it holds ~10,000
//! routes). Since pricing every shift is ~50 times cheaper than a re-solve,
//! each master solve is followed by deflected subgradient steps on the same
//! Lagrangian from the best prices (each step's value is a bound too): on the
//! team week they carry the bound from ~16,900 to ~18,350 in 60 s
//! (docs/experiments.md §13). It runs only when asked (`bound_time`).
//! `CAREFILL_CG_TRACE=1` prints each round.

use super::Part;
use crate::rota::objective::{lateness_cost, unplaced_penalty};
use crate::rota::rules;
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
/// A box half-width no price reaches: the master then solves without the box.
const UNBOXED: f64 = 1e6;

/// Box surplus or slack above which the master leans on the box.
const BOXED_TOL: f64 = 1e-9;
/// Reduced cost below which a route is added to the master.
const PRICE_EPS: f64 = 1e-6;
/// Weight of the best prices so far when pricing (dual smoothing).
const SMOOTHING: f64 = 0.6;
/// The box's first half-width around the centre, per unit of the start
/// rota's relaxed cost per visit (it widens fourfold each time the master is
/// optimal inside it but leans on it).
const BOX_START: f64 = 0.5;
/// Relative gap between the bound and the master's LP value at which column
/// generation stops.
const GAP_TOL: f64 = 1e-6;
/// Subgradient steps from the best prices after each master solve.
const SG_STEPS: usize = 50;
/// Subgradient steps without a better bound before the step halves.
const SG_PATIENCE: usize = 20;
/// First step size, as a share of Polyak's step aimed at the search's cost.
const SG_THETA: f64 = 0.3;
/// Deflection of a subgradient that turns back on the last direction.
const SG_DEFLECTION: f64 = 1.5;
/// Routes each shift's pricing returns to the master per round, at most.
const ROUTES_PER_SHIFT: usize = 8;

impl Part<'_> {
    /// Column generation on the relaxed model (module docs) from `start_routes`
    /// (shift, visits) until no route prices out or `deadline`. Returns `None`
    /// when the part has no shifts or the LP cannot be solved.
    ///
    /// Stabilised: the prices with the best Lagrangian value so far are the
    /// stability centre (at first, prices that explain the start rota, see
    /// [`Part::start_prices`]); the master's visit prices are held in a box
    /// around the centre (du Merle: surplus and slack on each cover row, priced
    /// at the centre ± the box's half-width), and each shift is priced at a
    /// point between the centre and the master's duals (Wentges smoothing). When
    /// no route priced there improves the master, the point moves towards the
    /// master's duals (mispricing); at the duals themselves with the box slack
    /// unused, the master is optimal and the bound meets the LP value.
    pub(crate) fn route_relaxation_bound(
        &self,
        start_routes: &[(usize, Vec<usize>)],
        target: f64,
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
        let trace = std::env::var_os("CAREFILL_CG_TRACE").is_some();
        let t_start = Instant::now();

        let mut start: Vec<(usize, Vec<usize>, f64)> = Vec::new();
        for (s, route) in start_routes {
            if route.is_empty() || !eligible.contains_key(s) {
                continue;
            }
            if let Some(cost) = self.relaxed_route_cost(*s, route) {
                start.push((*s, route.clone(), cost));
            }
        }
        let mut centre = self.start_prices(&eligible, &users, d);
        let per_visit = start.iter().map(|c| c.2).sum::<f64>()
            / start.iter().map(|c| c.1.len()).sum::<usize>().max(1) as f64;
        let mut half_width = BOX_START * per_visit.max(1.0);
        let mut master =
            RestrictedMaster::new(self, &eligible, &users, d, &cap_of, &centre, half_width);
        for (s, route, cost) in &start {
            master.add_route(self, *s, route, *cost);
        }

        let mut best = f64::NEG_INFINITY;
        let mut lp_value = 0.0;
        let mut rounds = 0;
        let mut converged = false;
        let shifts: Vec<(&usize, &Vec<usize>)> = eligible.iter().collect();
        // Each shift's least reduced cost and routes at `prices`; `None` when
        // the deadline cut a shift's pricing short.
        let price_all = |prices: &Prices| -> Option<Vec<PricedShift>> {
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
        // The start prices' own value, and the routes that price out there.
        if let Some(priced) = price_all(&centre) {
            best = self.lagrangian(&centre, &priced, &users, d, &cap_of);
            if trace {
                eprintln!("cg start L={best:.1}");
            }
            for (s, _, routes) in priced {
                for route in routes {
                    if let Some(cost) = self.relaxed_route_cost(s, &route) {
                        master.add_route(self, s, &route, cost);
                    }
                }
            }
        }
        let mut sg_rounds = 0usize;
        let mut sg_stall = 0usize;
        let mut theta = SG_THETA;
        'outer: while Instant::now() < deadline {
            let tm = Instant::now();
            let duals = master.solve()?;
            let master_s = tm.elapsed().as_secs_f64();
            lp_value = duals.objective;
            let mut step = 0;
            loop {
                rounds += 1;
                // Mispricing sequence: each time nothing prices out, move the
                // pricing point a further (1 − SMOOTHING) towards the duals.
                let alpha = (1.0 - (step + 1) as f64 * (1.0 - SMOOTHING)).max(0.0);
                let prices = if alpha > 0.0 {
                    centre.towards(&duals.prices, 1.0 - alpha)
                } else {
                    duals.prices.clone()
                };
                let priced = price_all(&prices);
                // A shift's pricing ran out of time: this round gives no bound.
                let Some(priced) = priced else {
                    break 'outer;
                };
                let value = self.lagrangian(&prices, &priced, &users, d, &cap_of);
                let pricing_s = tm.elapsed().as_secs_f64() - master_s;
                let improved = value > best + 1e-9;
                if improved {
                    best = value;
                    centre = prices.clone();
                }
                let mut added = 0;
                for (s, _, routes) in priced {
                    let c = p.shifts[s].carer;
                    let rho = duals.rho.get(&s).copied().unwrap_or(0.0);
                    for route in routes {
                        let Some(cost) = self.relaxed_route_cost(s, &route) else {
                            continue;
                        };
                        // It improves the master when it beats the shift's price
                        // at the master's own duals.
                        let rc = cost + rho
                            - route.iter().map(|&v| duals.prices.prize(c, v)).sum::<f64>();
                        if rc < -PRICE_EPS {
                            master.add_route(self, s, &route, cost);
                            added += 1;
                        }
                    }
                }
                if trace {
                    eprintln!(
                        "cg round {rounds} t={:.2} lp_s={master_s:.2} pricing_s={pricing_s:.2} master={:.1} L={value:.1} best={best:.1} alpha={alpha:.2} box={half_width:.1} boxed={} added={added} cols={} iters={}",
                        t_start.elapsed().as_secs_f64(),
                        duals.objective,
                        duals.boxed_in,
                        master.routes,
                        duals.iterations
                    );
                }
                // The bound meets the master's LP value: nothing left to gain
                // (a tail of routes that improve it by rounding errors).
                if !duals.boxed_in
                    && best >= duals.objective - GAP_TOL * duals.objective.abs().max(1.0)
                {
                    converged = true;
                    break 'outer;
                }
                if added > 0 {
                    break;
                }
                if alpha > 0.0 {
                    step += 1;
                    continue;
                }
                if duals.boxed_in {
                    // Optimal inside the box but leaning on it: widen it and
                    // centre it on the best prices.
                    half_width *= 4.0;
                    master.set_box(&centre, half_width);
                } else {
                    converged = true;
                    break 'outer;
                }
                break;
            }
            // Subgradient steps from the best prices: pricing is ~50 times
            // cheaper than a master solve, and every step's value is a bound.
            let mut at = centre.clone();
            let mut direction: Option<Prices> = None;
            for _ in 0..SG_STEPS {
                if Instant::now() >= deadline {
                    break 'outer;
                }
                let Some(priced) = price_all(&at) else {
                    break 'outer;
                };
                let value = self.lagrangian(&at, &priced, &users, d, &cap_of);
                sg_rounds += 1;
                if value > best + 1e-9 {
                    best = value;
                    centre = at.clone();
                    sg_stall = 0;
                } else {
                    sg_stall += 1;
                    if sg_stall >= SG_PATIENCE {
                        theta /= 2.0;
                        sg_stall = 0;
                    }
                }
                let mut g = self.subgradient(&at, &priced, &users, d, &cap_of);
                // At μ = 0 a step down is cut off by the projection: leave it
                // out of the direction and its norm.
                for (k, x) in g.mu.iter_mut() {
                    if *x < 0.0 && at.mu.get(k).copied().unwrap_or(0.0) <= 0.0 {
                        *x = 0.0;
                    }
                }
                // Deflection (Camerini, Fratta and Maffioli): damp the zigzag
                // between successive subgradients.
                if let Some(prev) = &direction {
                    let gd = g.dot(prev);
                    let dd = prev.dot(prev);
                    if gd < 0.0 && dd > 0.0 {
                        g = g.plus(prev, -SG_DEFLECTION * gd / dd);
                    }
                }
                direction = Some(g.clone());
                let norm2 =
                    g.pi.values()
                        .chain(g.mu.values())
                        .map(|x| x * x)
                        .sum::<f64>();
                if norm2 <= 1e-12 {
                    break;
                }
                let t = theta * (target - value).max(1e-6 * target.abs().max(1.0)) / norm2;
                at = at.step(&g, t);
            }
            if trace {
                eprintln!(
                    "cg sg t={:.2} sg_rounds={sg_rounds} theta={theta:.4} best={best:.1} cols={}",
                    t_start.elapsed().as_secs_f64(),
                    master.routes
                );
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        if trace && !converged {
            // The restricted master without the box is the LP over the routes
            // found so far: its value is at least the relaxation's LP value, so
            // the relaxation can never give a bound above it.
            master.set_box(&centre, UNBOXED);
            if let Some(duals) = master.solve() {
                eprintln!(
                    "cg unboxed master={:.1} (the LP value lies in [{best:.1}, {:.1}]) boxed_in={}",
                    duals.objective, duals.objective, duals.boxed_in
                );
            } else {
                eprintln!("cg unboxed master: no optimal solve");
            }
        }
        if !best.is_finite() {
            return None;
        }
        Some(RouteRelaxation {
            bound: best,
            lp_value,
            rounds,
            columns: master.routes,
            converged,
        })
    }

    /// Prices at which no route prices out, so the Lagrangian value is what
    /// the visits earn. Carer `c` could spend `b_{c,v}` on visit `v` at least
    /// (visit cost plus the least leg into it on one of their shifts, as in
    /// [`Part::lower_bound`]). Per person, the prices solve
    /// `max Σ_v n_v π_v` subject to `π_v − μ_{c,v} ≤ b_{c,v}` (no route prices
    /// out), `Σ_v μ_{c,v} ≤ d` (the continuity term stays zero) and
    /// `π_v ≤ penalty_v / n_v`: the person-by-person bound with carer sets
    /// taken fractionally, from which column generation starts.
    fn start_prices(
        &self,
        eligible: &BTreeMap<usize, Vec<usize>>,
        users: &BTreeMap<usize, Vec<usize>>,
        d: f64,
    ) -> Prices {
        use good_lp::{ProblemVariables, Solution, SolverModel, constraint, variable};
        let p = self.p;
        let on_shift: super::Map<usize, Vec<usize>> =
            eligible.iter().map(|(&s, l)| (s, l.clone())).collect();
        // b_{c,v}, per visit and carer.
        let mut b: BTreeMap<usize, BTreeMap<usize, f64>> = BTreeMap::new();
        for (&s, list) in eligible {
            let c = p.shifts[s].carer;
            for &v in list {
                let cost = self.visit_cost(c, v) + self.least_leg_into(s, v, &on_shift);
                let e = b.entry(v).or_default().entry(c).or_insert(f64::INFINITY);
                *e = e.min(cost);
            }
        }
        let mut pi = BTreeMap::new();
        let mut mu = BTreeMap::new();
        for vs in users.values() {
            let mut vars = ProblemVariables::new();
            let mut objective = good_lp::Expression::from(0.0);
            let mut pis = Vec::new();
            let mut mus: BTreeMap<(usize, usize), good_lp::Variable> = BTreeMap::new();
            for &v in vs {
                let n = f64::from(p.visits[v].carers_required.max(1));
                let x = vars.add(variable().max(unplaced_penalty(p, v) / n));
                objective += n * x;
                pis.push((v, x));
                for &c in b.get(&v).map(|m| m.keys()).into_iter().flatten() {
                    if d > 0.0 {
                        mus.insert((c, v), vars.add(variable().min(0.0)));
                    }
                }
            }
            let mut model = vars
                .maximise(objective)
                .using(good_lp::solvers::highs::highs);
            model.set_verbose(false);
            for &(v, x) in &pis {
                for (&c, &cost) in b.get(&v).into_iter().flatten() {
                    match mus.get(&(c, v)) {
                        Some(&m) => model.add_constraint(constraint!(x - m <= cost)),
                        None => model.add_constraint(constraint!(x <= cost)),
                    };
                }
            }
            let mut per_carer: BTreeMap<usize, good_lp::Expression> = BTreeMap::new();
            for (&(c, _), &m) in &mus {
                *per_carer.entry(c).or_default() += m;
            }
            for (_, lhs) in per_carer {
                model.add_constraint(constraint!(lhs <= d));
            }
            let Ok(solution) = model.solve() else {
                // Zero prices are valid too (the bound is then zero there).
                continue;
            };
            for &(v, x) in &pis {
                pi.insert(v, solution.value(x));
            }
            for (&k, &m) in &mus {
                mu.insert(k, solution.value(m).max(0.0));
            }
        }
        Prices { pi, mu }
    }

    /// A subgradient of the Lagrangian dual function at `prices`: per visit,
    /// `n_v` less its cover by the minimising routes and unplaced choice; per
    /// (carer, visit), its visits in the carer's minimising routes less the
    /// carer's minimising `w_{u,c}`.
    fn subgradient(
        &self,
        prices: &Prices,
        priced: &[(usize, f64, Vec<Vec<usize>>)],
        users: &BTreeMap<usize, Vec<usize>>,
        d: f64,
        cap_of: &dyn Fn(usize) -> usize,
    ) -> Prices {
        let p = self.p;
        let mut g = Prices::default();
        for &v in &self.visits {
            let n = f64::from(p.visits[v].carers_required);
            let pi = prices.pi.get(&v).copied().unwrap_or(0.0);
            let unplaced = unplaced_penalty(p, v) - n * pi < 0.0;
            g.pi.insert(v, if unplaced { 0.0 } else { n });
        }
        for (s, rc, routes) in priced {
            if *rc >= 0.0 {
                continue;
            }
            let Some(route) = routes.first() else {
                continue;
            };
            let c = p.shifts[*s].carer;
            for &v in route {
                if let Some(x) = g.pi.get_mut(&v) {
                    *x -= 1.0;
                }
                if d > 0.0 {
                    *g.mu.entry((c, v)).or_insert(0.0) += 1.0;
                }
            }
        }
        if d > 0.0 {
            let chosen: std::collections::BTreeSet<(usize, usize)> = self
                .minimising_carers(prices, users, d, cap_of)
                .into_iter()
                .map(|(u, c, _)| (u, c))
                .collect();
            for &(u, c) in &chosen {
                for &v in users.get(&u).into_iter().flatten() {
                    *g.mu.entry((c, v)).or_insert(0.0) -= 1.0;
                }
            }
        }
        g
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
        let chosen = self.minimising_carers(prices, users, d, cap_of);
        for person in chosen.chunk_by(|a, b| a.0 == b.0) {
            value += person.iter().map(|&(_, _, gain)| gain).sum::<f64>();
        }
        value
    }

    /// The `w_{u,c}` the Lagrangian sets to 1 at `prices`: per person, the
    /// carers whose `d − Σ_v μ_{c,v}` is negative, most negative first, at most
    /// the person's cap of them, as `(person, carer, d − Σ_v μ_{c,v})`.
    fn minimising_carers(
        &self,
        prices: &Prices,
        users: &BTreeMap<usize, Vec<usize>>,
        d: f64,
        cap_of: &dyn Fn(usize) -> usize,
    ) -> Vec<(usize, usize, f64)> {
        let p = self.p;
        let mut mu_of_user: BTreeMap<(usize, usize), f64> = BTreeMap::new();
        for (&(c, v), &m) in &prices.mu {
            *mu_of_user
                .entry((p.visits[v].service_user, c))
                .or_insert(0.0) += m;
        }
        let mut chosen = Vec::new();
        for &u in users.keys() {
            let mut gains: Vec<(f64, usize)> = mu_of_user
                .range((u, 0)..(u + 1, 0))
                .map(|(&(_, c), &m)| (d - m, c))
                .filter(|&(g, _)| g < 0.0)
                .collect();
            gains.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
            chosen.extend(gains.iter().take(cap_of(u)).map(|&(g, c)| (u, c, g)));
        }
        chosen
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
}

/// The restricted master, kept in one HiGHS model across rounds: new routes
/// are added as columns and the LP is re-solved from the last basis.
struct RestrictedMaster {
    /// `None` only while being solved.
    model: Option<highs::Model>,
    rows: Vec<highs::Row>,
    /// Per visit: its cover row (index into `rows`), its box surplus and slack.
    cover: BTreeMap<usize, (usize, highs::Col, highs::Col)>,
    /// Per (carer, visit) that the carer could make: its linking row.
    pair: BTreeMap<(usize, usize), usize>,
    /// Per shift: its row (at most one route).
    shift: BTreeMap<usize, usize>,
    /// Route columns added.
    routes: usize,
    /// Per column (by index): its cost without the box.
    real_cost: Vec<f64>,
}

/// The restricted master's value and duals.
struct MasterDuals {
    /// The LP value without the box's surplus and slack.
    objective: f64,
    prices: Prices,
    /// Per shift: the price of its one route, non-negative.
    rho: BTreeMap<usize, f64>,
    /// Whether a cover row leans on its box surplus or slack (then the duals
    /// are held in the box and `objective` is not the master's LP value).
    boxed_in: bool,
    /// Simplex (or interior point) iterations of the solve.
    iterations: i64,
}

impl RestrictedMaster {
    /// Rows for every visit, eligible (carer, visit) pair, shift and capped
    /// person; columns for unplaced visits, the box and every `w_{u,c}`.
    fn new(
        part: &Part<'_>,
        eligible: &BTreeMap<usize, Vec<usize>>,
        users: &BTreeMap<usize, Vec<usize>>,
        d: f64,
        cap_of: &dyn Fn(usize) -> usize,
        centre: &Prices,
        half_width: f64,
    ) -> Self {
        let p = part.p;
        let mut pb = highs::ColProblem::default();
        let mut rows = Vec::new();
        let mut add_row = |pb: &mut highs::ColProblem, lo: f64, hi: f64| -> usize {
            rows.push(pb.add_row(lo..=hi));
            rows.len() - 1
        };
        let mut cover_row = BTreeMap::new();
        for vs in users.values() {
            for &v in vs {
                let n = f64::from(p.visits[v].carers_required);
                cover_row.insert(v, add_row(&mut pb, n, n));
            }
        }
        let mut pair = BTreeMap::new();
        if d > 0.0 {
            for (&s, list) in eligible {
                let c = p.shifts[s].carer;
                for &v in list {
                    pair.entry((c, v))
                        .or_insert_with(|| add_row(&mut pb, f64::NEG_INFINITY, 0.0));
                }
            }
        }
        let mut shift = BTreeMap::new();
        for &s in eligible.keys() {
            shift.insert(s, add_row(&mut pb, f64::NEG_INFINITY, 1.0));
        }
        let mut cap_row = BTreeMap::new();
        for &u in users.keys() {
            let cap = cap_of(u);
            if d > 0.0 && cap < usize::MAX {
                cap_row.insert(u, add_row(&mut pb, f64::NEG_INFINITY, cap as f64));
            }
        }
        let mut model = pb.optimise(highs::Sense::Minimise);
        model.make_quiet();
        // No `threads` option: HiGHS refuses to run (status Error) when it
        // differs from the thread count its global scheduler started with.
        model.set_option("presolve", "off");
        model.set_option("solver", "simplex");
        let mut real_cost = Vec::new();
        // Unplaced: at most once (the cover row implies it; the bound keeps
        // the box's slack from pairing with it without limit).
        for (&v, &r) in &cover_row {
            let n = f64::from(p.visits[v].carers_required);
            model.add_col(unplaced_penalty(p, v), 0.0..=1.0, [(rows[r], n)]);
            real_cost.push(unplaced_penalty(p, v));
        }
        let mut cover = BTreeMap::new();
        for (&v, &r) in &cover_row {
            let pi = centre.pi.get(&v).copied().unwrap_or(0.0);
            let up = model.add_col(pi + half_width, 0.0.., [(rows[r], 1.0)]);
            real_cost.push(0.0);
            let down = model.add_col(-(pi - half_width), 0.0.., [(rows[r], -1.0)]);
            real_cost.push(0.0);
            cover.insert(v, (r, up, down));
        }
        if d > 0.0 {
            let mut links: BTreeMap<(usize, usize), Vec<usize>> = BTreeMap::new();
            for (&(c, v), &r) in &pair {
                links
                    .entry((p.visits[v].service_user, c))
                    .or_default()
                    .push(r);
            }
            for (&(u, _), rs) in &links {
                let mut factors: Vec<(highs::Row, f64)> =
                    rs.iter().map(|&r| (rows[r], -1.0)).collect();
                if let Some(&r) = cap_row.get(&u) {
                    factors.push((rows[r], 1.0));
                }
                model.add_col(d, 0.0..=1.0, factors);
                real_cost.push(d);
            }
        }
        RestrictedMaster {
            model: Some(model),
            rows,
            cover,
            pair,
            shift,
            routes: 0,
            real_cost,
        }
    }

    /// Adds the route `route` of shift `s` at relaxed cost `cost`.
    fn add_route(&mut self, part: &Part<'_>, s: usize, route: &[usize], cost: f64) {
        let p = part.p;
        let c = p.shifts[s].carer;
        let mut factors: BTreeMap<usize, f64> = BTreeMap::new();
        for &v in route {
            if let Some(&(r, _, _)) = self.cover.get(&v) {
                *factors.entry(r).or_insert(0.0) += 1.0;
            }
            if let Some(&r) = self.pair.get(&(c, v)) {
                *factors.entry(r).or_insert(0.0) += 1.0;
            }
        }
        if let Some(&r) = self.shift.get(&s) {
            factors.insert(r, 1.0);
        }
        let rows = &self.rows;
        let model = self.model.as_mut().expect("master model");
        model.add_col(cost, 0.0.., factors.iter().map(|(&r, &a)| (rows[r], a)));
        self.real_cost.push(cost);
        self.routes += 1;
    }

    /// Centres the box on `centre` with half-width `half_width`.
    fn set_box(&mut self, centre: &Prices, half_width: f64) {
        let model = self.model.as_mut().expect("master model");
        for (v, &(_, up, down)) in &self.cover {
            let pi = centre.pi.get(v).copied().unwrap_or(0.0);
            model.change_column_cost(up, pi + half_width);
            model.change_column_cost(down, -(pi - half_width));
        }
    }

    /// Solves the LP from the last basis.
    fn solve(&mut self) -> Option<MasterDuals> {
        let model = self.model.take()?;
        let solved = model.try_solve().ok()?;
        let ok = solved.status() == highs::HighsModelStatus::Optimal;
        let sol = solved.get_solution();
        let iterations = solved.simplex_iteration_count() + solved.ipm_iteration_count();
        self.model = Some(highs::Model::from(solved));
        if !ok {
            return None;
        }
        let x = sol.columns();
        let y = sol.dual_rows();
        let mut boxed_in = false;
        let mut in_box = std::collections::BTreeSet::new();
        let mut pi = BTreeMap::new();
        for (&v, &(r, up, down)) in &self.cover {
            pi.insert(v, y[r]);
            if x[up.index()] > BOXED_TOL || x[down.index()] > BOXED_TOL {
                boxed_in = true;
            }
            in_box.insert(up.index());
            in_box.insert(down.index());
        }
        let objective = x
            .iter()
            .zip(&self.real_cost)
            .enumerate()
            .filter(|(j, _)| !in_box.contains(j))
            .map(|(_, (xv, c))| xv * c)
            .sum();
        // HiGHS' row duals y give reduced costs c - yᵀA: a `≤` row's y is ≤ 0,
        // so its price (μ, ρ) is -y.
        let mu = self
            .pair
            .iter()
            .map(|(&k, &r)| (k, (-y[r]).max(0.0)))
            .collect();
        let rho = self
            .shift
            .iter()
            .map(|(&s, &r)| (s, (-y[r]).max(0.0)))
            .collect();
        Some(MasterDuals {
            objective,
            prices: Prices { pi, mu },
            rho,
            boxed_in,
            iterations,
        })
    }
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

    /// The inner product over the union of rows.
    fn dot(&self, other: &Prices) -> f64 {
        let a: f64 = self
            .pi
            .iter()
            .map(|(k, x)| x * other.pi.get(k).copied().unwrap_or(0.0))
            .sum();
        let b: f64 = self
            .mu
            .iter()
            .map(|(k, x)| x * other.mu.get(k).copied().unwrap_or(0.0))
            .sum();
        a + b
    }

    /// `self + t·g`, unprojected.
    fn plus(&self, g: &Prices, t: f64) -> Prices {
        let mut out = self.clone();
        for (k, &x) in &g.pi {
            *out.pi.entry(*k).or_insert(0.0) += t * x;
        }
        for (k, &x) in &g.mu {
            *out.mu.entry(*k).or_insert(0.0) += t * x;
        }
        out
    }

    /// `self + t·g`, with carer-visit prices kept non-negative.
    fn step(&self, g: &Prices, t: f64) -> Prices {
        let mut out = self.clone();
        for (k, &x) in &g.pi {
            *out.pi.entry(*k).or_insert(0.0) += t * x;
        }
        for (k, &x) in &g.mu {
            let m = out.mu.entry(*k).or_insert(0.0);
            *m = (*m + t * x).max(0.0);
        }
        out
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
        let start: Vec<(usize, Vec<usize>)> =
            st.routes.iter().map(|(&s, r)| (s, r.to_vec())).collect();
        // From no routes and from the rota's routes: the same LP optimum.
        let mut values = Vec::new();
        for from in [&[][..], &start[..]] {
            let relaxed = part
                .route_relaxation_bound(
                    from,
                    found,
                    Instant::now() + std::time::Duration::from_secs(60),
                )
                .expect("a bound");
            assert!(relaxed.converged, "{relaxed:?}");
            // Converged: the Lagrangian value meets the LP optimum.
            assert!(
                (relaxed.bound - relaxed.lp_value).abs() <= 1e-6 * relaxed.lp_value.abs().max(1.0),
                "{relaxed:?}"
            );
            assert!(
                relaxed.bound <= found + 1e-6,
                "{relaxed:?} vs found {found}"
            );
            assert!(relaxed.bound >= fast - 1e-6, "{relaxed:?} vs fast {fast}");
            values.push(relaxed.bound);
        }
        assert!(
            (values[0] - values[1]).abs() <= 1e-6 * values[0].abs().max(1.0),
            "{values:?}"
        );
    }

    #[test]
    fn the_subgradient_overestimates_the_lagrangian_everywhere() {
        // The Lagrangian is concave, so at any prices P and Q,
        // L(Q) <= L(P) + g(P)·(Q − P) for a true supergradient g(P). A wrong
        // sign or a missed term in the step direction breaks this somewhere.
        let req: crate::format::PlanningRequest =
            serde_json::from_value(crate::testing::three_carer_two_day_request()).expect("request");
        let p = crate::testing::problem(&req);
        let d = p.weights.distinct_carer;
        assert!(d > 0.0, "the test needs continuity costs");
        let part = Part::new(
            &p,
            (0..p.visits.len()).collect(),
            (0..p.shifts.len()).collect(),
        );
        let mut eligible: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for &v in &part.visits {
            for &s in part.candidates.get(&v).map(Vec::as_slice).unwrap_or(&[]) {
                eligible.entry(s).or_default().push(v);
            }
        }
        let mut users: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for &v in &part.visits {
            users.entry(p.visits[v].service_user).or_default().push(v);
        }
        // A cap of one carer makes the w term choose.
        let cap_of = |_: usize| 1;
        let evaluate = |prices: &Prices| {
            let priced: Vec<PricedShift> = eligible
                .iter()
                .map(|(&s, list)| {
                    let c = p.shifts[s].carer;
                    let ng = part.ng_sets(s, list);
                    let (rc, routes) = part
                        .price_shift(s, list, &ng, &|v| prices.prize(c, v), None)
                        .expect("no deadline");
                    (s, rc, routes)
                })
                .collect();
            let value = part.lagrangian(prices, &priced, &users, d, &cap_of);
            let g = part.subgradient(prices, &priced, &users, d, &cap_of);
            (value, g)
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let random_prices = |rng: &mut rand_chacha::ChaCha8Rng| {
            let mut prices = Prices::default();
            for (&s, list) in &eligible {
                let c = p.shifts[s].carer;
                for &v in list {
                    prices.pi.insert(v, rng.random_range(-50.0..300.0));
                    if rng.random_bool(0.7) {
                        prices.mu.insert((c, v), rng.random_range(0.0..2.0 * d));
                    }
                }
            }
            prices
        };
        let mut checked = 0;
        for _ in 0..40 {
            let at = random_prices(&mut rng);
            let other = random_prices(&mut rng);
            let (l_at, g) = evaluate(&at);
            let (l_other, _) = evaluate(&other);
            let diff = other.plus(&at, -1.0);
            let predicted = l_at + g.dot(&diff);
            assert!(
                l_other <= predicted + 1e-6 * predicted.abs().max(1.0),
                "L(Q) = {l_other} above the supergradient's {predicted} (L(P) = {l_at})"
            );
            checked += 1;
        }
        assert_eq!(checked, 40);
    }
}
