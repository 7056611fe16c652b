//! The rota engine: routes for carers' shifts over a 1-28 day horizon.
//!
//! Method. Pure MILP cannot route a week of visits in seconds and pure
//! heuristics cannot prove continuity caps or say how far from optimal they
//! are, so carefill uses both:
//! 1. The problem splits into independent parts (petgraph union-find over
//!    carers and people who could be matched); parts are solved in parallel
//!    with rayon, each with its own seeded random stream.
//! 2. In each part a cheapest-insertion construction is improved by
//!    ruin-and-recreate large neighbourhood search ([`search`]): random,
//!    related (space-time), per-person and whole-route ruins; greedy or regret
//!    recreation; threshold acceptance. Every route met is added to a pool.
//! 3. A HiGHS set-partitioning MILP ([`master`]) picks the best combination of
//!    pooled routes, enforcing continuity caps, daily/weekly hours and
//!    double-handed synchronisation exactly; its dual bound is reported as
//!    `route_pool_bound` (a bound over the pooled routes, not over every rota).
//! 4. `lower_bound` holds for every rota: a relaxation that prices each person
//!    alone over every carer set within their cap (`search::bound`).
//!
//! The time limit is always honoured: the search checks the clock between
//! moves and the MILP gets only the time that is left. With an iteration
//! limit instead of a binding time limit, results are deterministic for a seed.

pub mod insert;
pub mod master;
pub mod objective;
pub mod pool;
pub(crate) mod rules;
pub(crate) mod search;
mod stability;

pub use insert::{InsertionError, InsertionOutcome, insert_visits};
pub use pool::PoolRoute;

use crate::format::{Rota, SolverStats};
use crate::model::{PlannedRoute, PlannedUnplaced, Problem};
use petgraph::unionfind::UnionFind;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use search::{Part, State};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How to run the engine.
#[derive(Debug, Clone)]
pub struct SolveOptions {
    /// Wall-clock limit for the whole solve.
    pub time_limit: Duration,
    /// Random seed.
    pub seed: u64,
    /// Stop each part after this many search iterations (for reproducible runs).
    pub max_iterations: Option<u64>,
    /// Run the set-partitioning MILP over the route pool.
    pub use_milp: bool,
    /// Set from another thread to stop early: the best rota found so far is returned.
    pub cancel: Option<Arc<AtomicBool>>,
    /// Live progress for callers that report on a running solve (async jobs).
    pub progress: Option<Arc<SolveProgress>>,
    /// Extra time after the search for the route-relaxation bound (column
    /// generation, `search::route_bound`); zero keeps only the fast bound.
    pub bound_time: Duration,
}

/// Best-so-far figures of a running solve, updated by the search threads.
#[derive(Debug, Default)]
pub struct SolveProgress {
    /// Search iterations done so far, over all parts.
    pub iterations: AtomicU64,
    /// Per part: (best objective, unplaced visits) so far.
    parts: Mutex<BTreeMap<usize, (f64, usize)>>,
}

impl SolveProgress {
    /// Sum over parts of the best objective and unplaced count found so far.
    pub fn best(&self) -> (f64, usize) {
        let parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
        parts
            .values()
            .fold((0.0, 0), |(c, u), &(pc, pu)| (c + pc, u + pu))
    }
    fn record(&self, part: usize, cost: f64, unplaced: usize) {
        // Several search chains may report on one part: keep the best.
        let mut parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
        if parts.get(&part).is_none_or(|&(c, _)| cost < c) {
            parts.insert(part, (cost, unplaced));
        }
    }
}

impl SolveOptions {
    fn cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
    }
}

impl Default for SolveOptions {
    fn default() -> Self {
        Self {
            time_limit: Duration::from_secs(10),
            seed: 1,
            max_iterations: None,
            use_milp: true,
            cancel: None,
            progress: None,
            bound_time: Duration::ZERO,
        }
    }
}

/// Solves the rota: see the module docs. The returned rota carries KPIs
/// recomputed by the independent checker and the solver statistics.
pub fn solve(p: &Problem, options: &SolveOptions) -> Rota {
    let started = Instant::now();
    // Keep back a little time for explaining unplaced visits, writing and checking the rota.
    let finish_reserve = options
        .time_limit
        .mul_f64(0.05)
        .min(Duration::from_millis(300));
    let deadline = started + options.time_limit.saturating_sub(finish_reserve);
    let parts = decompose(p);
    // A re-plan starts one search chain from the published rota repaired with
    // minimum change (`stability::repaired`), so the search improves on it
    // rather than rebuilding the week.
    let warm: Option<Vec<PlannedRoute>> = if p.existing.is_empty() {
        None
    } else {
        let whole = Part::new(
            p,
            (0..p.visits.len()).collect(),
            (0..p.shifts.len()).collect(),
        );
        stability::repaired(p, &whole).map(|(routes, _)| routes)
    };
    // A problem that does not split gets two search chains, so a second core has
    // work. Fixed by the input, not the machine, so results stay reproducible.
    let chains = if parts.len() == 1 { 2 } else { 1 };
    let total_visits: usize = parts.iter().map(|(v, _)| v.len()).sum::<usize>().max(1);
    let threads = rayon::current_num_threads().max(1) as f64;
    let results: Vec<PartResult> = parts
        .into_par_iter()
        .enumerate()
        .map(|(i, (visits, shifts))| {
            // Each part gets a share of the wall-clock time proportional to its size.
            let share = options.time_limit.as_secs_f64() * threads * visits.len() as f64
                / total_visits as f64;
            let budget = Duration::from_secs_f64(share.min(options.time_limit.as_secs_f64()));
            // The bound's time is shared the same way, so `bound_time` is wall-clock
            // time for the whole problem, not per part (a county has ~150 parts).
            let bound_budget = options
                .bound_time
                .mul_f64((threads * visits.len() as f64 / total_visits as f64).min(1.0));
            let seed = options
                .seed
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add(i as u64);
            solve_part(
                p,
                i,
                visits,
                shifts,
                seed,
                budget,
                bound_budget,
                deadline,
                options,
                chains,
                warm.as_deref(),
            )
        })
        .collect();
    let mut routes = Vec::new();
    let mut unplaced = Vec::new();
    let mut stats = SolverStats {
        seed: options.seed,
        ..SolverStats::default()
    };
    let mut phases: BTreeMap<String, f64> = BTreeMap::new();
    let mut bound = Some(0.0);
    let mut lower_bound = 0.0;
    for r in results {
        routes.extend(r.routes);
        unplaced.extend(r.unplaced);
        stats.objective += r.objective;
        lower_bound += r.lower_bound;
        bound = match (bound, r.pool_bound) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        for (k, v) in r.phases {
            *phases.entry(k).or_default() += v;
        }
    }
    phases.insert("parts".into(), phases.get("parts").copied().unwrap_or(0.0));
    routes.sort_by_key(|r: &PlannedRoute| r.shift);
    unplaced.sort_by_key(|u: &PlannedUnplaced| u.visit);
    let mut rota = p.write_rota(&routes, &unplaced);
    stats.route_pool_bound = bound.filter(|_| options.use_milp);
    stats.lower_bound = Some(lower_bound);
    stats.gap = Some(((stats.objective - lower_bound) / stats.objective.abs().max(1.0)).max(0.0));
    stats.elapsed_ms = started.elapsed().as_millis() as u64;
    stats.phases = phases;
    rota.stats = Some(stats);
    rota.kpis = Some(crate::check::check(p, &rota).kpis);
    stability::prefer_published(p, rota)
}

/// Splits the problem into parts no carer or person crosses. With a
/// worst-lateness weight the problem stays whole: that term is a maximum over
/// every route, so parts solved apart would each pay for their own worst.
fn decompose(p: &Problem) -> Vec<(Vec<usize>, Vec<usize>)> {
    if p.weights.worst_late_min > 0.0 && !p.visits.is_empty() {
        return vec![((0..p.visits.len()).collect(), (0..p.shifts.len()).collect())];
    }
    let nc = p.carers.len();
    let mut uf = UnionFind::<usize>::new(nc + p.service_users.len());
    for (v, visit) in p.visits.iter().enumerate() {
        for c in 0..nc {
            if p.eligibility(c, v).is_ok() {
                uf.union(c, nc + visit.service_user);
            }
        }
    }
    for link in &p.links {
        uf.union(
            nc + p.visits[link.first].service_user,
            nc + p.visits[link.then].service_user,
        );
    }
    let mut groups: BTreeMap<usize, (Vec<usize>, Vec<usize>)> = BTreeMap::new();
    for (v, visit) in p.visits.iter().enumerate() {
        groups
            .entry(uf.find(nc + visit.service_user))
            .or_default()
            .0
            .push(v);
    }
    for (s, shift) in p.shifts.iter().enumerate() {
        let root = uf.find(shift.carer);
        if let Some(g) = groups.get_mut(&root) {
            g.1.push(s);
        }
    }
    // Larger parts first so rayon starts the long jobs early.
    let mut out: Vec<_> = groups.into_values().collect();
    out.sort_by_key(|g| std::cmp::Reverse(g.0.len()));
    out
}

struct PartResult {
    routes: Vec<PlannedRoute>,
    unplaced: Vec<PlannedUnplaced>,
    objective: f64,
    /// The MILP's bound over the pooled routes.
    pool_bound: Option<f64>,
    /// A bound over every rota of the part.
    lower_bound: f64,
    phases: BTreeMap<String, f64>,
}

#[allow(clippy::too_many_arguments)]
fn solve_part(
    p: &Problem,
    part_no: usize,
    visits: Vec<usize>,
    shifts: Vec<usize>,
    seed: u64,
    budget: Duration,
    bound_budget: Duration,
    deadline: Instant,
    options: &SolveOptions,
    chains: usize,
    warm: Option<&[PlannedRoute]>,
) -> PartResult {
    let t0 = Instant::now();
    let part_deadline = (t0 + budget).min(deadline);
    let mut phases = BTreeMap::new();
    let part = Part::new(p, visits, shifts);
    let bound_t0 = Instant::now();
    let lower_bound = part.lower_bound();
    phases.insert("person_bound".to_string(), lower_bound);
    phases.insert(
        "lower_bound_ms".to_string(),
        bound_t0.elapsed().as_secs_f64() * 1000.0,
    );
    let rng = ChaCha8Rng::seed_from_u64(seed);
    let mut st = part.empty_state();
    // Pinned visits first, exactly as published.
    let mut pinned: Vec<usize> = part.pinned.keys().copied().collect();
    pinned.sort_unstable();
    let mut blocks = Vec::new();
    for v in pinned {
        if let Some(ins) = part.best_insertion(&st, v, &mut blocks) {
            part.apply(&mut st, v, ins);
        }
    }
    // Visits no shift can ever take are never retried.
    let hopeless: std::collections::HashSet<usize> = part
        .visits
        .iter()
        .copied()
        .filter(|v| part.candidates.get(v).is_none_or(Vec::is_empty))
        .collect();
    let rest: Vec<usize> = st.unplaced.clone();
    // With a continuity cost (most of a team week's objective) the first chain's
    // rota is built person by person (`Part::construct_by_person`), which gives
    // fewer distinct carers but leaves more visits out than hardest-first: a long
    // search repairs that, a short one (the broker's team rotas) does not. So the
    // second chain starts from the hardest-first rota with visits that have no
    // spare candidate shift first (`Part::construct`; it also places exact-time
    // visits that plain hardest-first leaves out). Without a continuity cost
    // (VRPTW, Mankowska) the first chain starts from plain hardest-first or, on
    // large fleets of interchangeable shifts, from routes built one at a time
    // (`Part::construct_sequential`), with hardest-first as the second start.
    // The two first rotas are built on two threads. Measurements:
    // docs/experiments.md §2.
    let continuity_first = p.weights.distinct_carer > 0.0;
    let any_forced = part.visits.iter().any(|&v| part.forced(v));
    let sequential = !continuity_first && part.is_granular();
    let second_start = chains > 1 && (continuity_first || any_forced || sequential);
    let finish = |mut start: State| {
        part.eject_repair(&mut start, &hopeless, part_deadline);
        part.local_search(&mut start, part_deadline);
        start
    };
    let (mut first, mut forced) = (st.clone(), st);
    let (part_ref, rest) = (&part, &rest);
    let (st, forced_start) = rayon::join(
        move || {
            if continuity_first {
                part_ref.construct_by_person(&mut first, rest, CONSTRUCTION_ROUNDS, part_deadline);
            } else if sequential {
                part_ref.construct_sequential(&mut first, rest);
            } else {
                part_ref.construct(&mut first, rest, CONSTRUCTION_ROUNDS, part_deadline, false);
            }
            finish(first)
        },
        move || {
            second_start.then(|| {
                let forced_first = continuity_first || any_forced;
                part_ref.construct(
                    &mut forced,
                    rest,
                    CONSTRUCTION_ROUNDS,
                    part_deadline,
                    forced_first,
                );
                finish(forced)
            })
        },
    );
    phases.insert(
        "construction_ms".to_string(),
        t0.elapsed().as_secs_f64() * 1000.0,
    );
    phases.insert("construction_objective".to_string(), st.cost(&part));
    let mut pool = RoutePool::default();
    pool.add_all(part.pool_routes(&st));
    let warm_start = warm.and_then(|routes| {
        let ours: std::collections::BTreeSet<usize> = part.shifts.iter().copied().collect();
        let routes: Vec<PoolRoute> = routes
            .iter()
            .filter(|r| ours.contains(&r.shift))
            .map(|r| PoolRoute {
                shift: r.shift,
                stops: r.stops.clone(),
                local_cost: 0.0,
                work_min: 0,
            })
            .collect();
        part.state_from_routes(&routes)
    });
    let first_starts: Vec<State> = match warm_start {
        Some(w) => {
            pool.add_all(part.pool_routes(&w));
            phases.insert("warm_start_objective".to_string(), w.cost(&part));
            vec![w, st]
        }
        None => std::iter::once(st).chain(forced_start).collect(),
    };
    let starts: Vec<(State, f64)> = first_starts
        .into_iter()
        .map(|s| {
            let c = s.cost(&part);
            (s, c)
        })
        .collect();
    // Search, then the MILP over the pool, then search on from the MILP's answer.
    // With a time limit the MILP runs again at later checkpoints (it recombines
    // routes of different search states), as long as it stays cheap.
    let short = options.max_iterations.is_none() && budget < milp_min_budget(p);
    let checkpoints: &[f64] = if !options.use_milp || short {
        &[]
    } else if options.max_iterations.is_some() {
        &[0.7]
    } else {
        &[0.5, 0.75, 0.93]
    };
    // Independent search chains (one per idle core), from the starts in turn: they
    // share their routes with the MILP at each checkpoint.
    let mut chains: Vec<Chain> = (0..chains.max(1))
        .map(|k| {
            let (start, start_cost) = &starts[k % starts.len()];
            Chain {
                run: Search {
                    best: start.clone(),
                    best_cost: *start_cost,
                    cur: start.clone(),
                    cur_cost: *start_cost,
                    iterations: 0,
                    next_eject: EJECT_EVERY,
                    eject_wait: EJECT_EVERY,
                    part_no,
                    end: part_deadline,
                    pooling: !checkpoints.is_empty(),
                    start_share: None,
                },
                pool: RoutePool::default(),
                rng: if k == 0 {
                    rng.clone()
                } else {
                    ChaCha8Rng::seed_from_u64(seed ^ (k as u64).wrapping_mul(0xA24B_AED4_963E_E407))
                },
            }
        })
        .collect();
    drop(starts);
    chains[0].run.report(options);
    // An iteration limit is shared by the chains.
    let max_iter = options
        .max_iterations
        .map_or(u64::MAX, |m| m.div_ceil(chains.len() as u64));
    let searchable = !part.shifts.is_empty() && !part.visits.is_empty();
    let run_chains = |chains: &mut Vec<Chain>, pool: &mut RoutePool, end: Instant| {
        if !searchable {
            return;
        }
        chains.par_iter_mut().for_each(|ch| {
            ch.run.lns(
                &part,
                &mut ch.pool,
                &hopeless,
                &mut ch.rng,
                end,
                max_iter,
                t0,
                options,
            );
        });
        // Chain order keeps the merged pool deterministic.
        for ch in chains.iter_mut() {
            pool.add_all(std::mem::take(&mut ch.pool).routes);
        }
    };
    let mut milp_runs = 0u32;
    let mut bound = None;
    let mut milp_ms = 0.0;
    let mut milp_cheap = true;
    for (k, &frac) in checkpoints.iter().enumerate() {
        let end = (t0 + budget.mul_f64(frac)).min(part_deadline);
        run_chains(&mut chains, &mut pool, end);
        if !searchable || options.cancelled() || (k > 0 && !milp_cheap) {
            break;
        }
        let left = part_deadline.saturating_duration_since(Instant::now());
        if left.as_secs_f64() <= 0.05 {
            break;
        }
        let m0 = Instant::now();
        let milp_time = left.min(budget.mul_f64(0.25));
        let incumbent = best_chain(&chains);
        if let Some((mut state, b)) =
            run_master(&part, &pool, &chains[incumbent].run.best, milp_time)
        {
            milp_runs += 1;
            bound = b;
            part.local_search(&mut state, part_deadline);
            let c = state.cost(&part);
            for ch in chains.iter_mut() {
                let run = &mut ch.run;
                if c < run.best_cost - 1e-9 {
                    run.best = state.clone();
                    run.best_cost = c;
                    run.cur = state.clone();
                    run.cur_cost = c;
                    run.report(options);
                }
            }
        }
        let took = m0.elapsed();
        milp_ms += took.as_secs_f64() * 1000.0;
        milp_cheap = took < budget.mul_f64(0.08);
    }
    run_chains(&mut chains, &mut pool, part_deadline);
    let iterations: u64 = chains.iter().map(|ch| ch.run.iterations).sum();
    phases.insert("lns_iterations".to_string(), iterations as f64);
    phases.insert("search_chains".to_string(), chains.len() as f64);
    let winner = best_chain(&chains);
    let run = chains.swap_remove(winner).run;
    let (best, best_cost) = (run.best, run.best_cost);
    phases.insert("milp_runs".to_string(), f64::from(milp_runs));
    phases.insert("milp_ms".to_string(), milp_ms);
    phases.insert("pool_routes".to_string(), pool.routes.len() as f64);
    phases.insert("parts".to_string(), 1.0);
    let mut lower_bound = lower_bound;
    if !bound_budget.is_zero() && !options.cancelled() {
        let t0 = Instant::now();
        let room = part.room_bound(best_cost, t0 + bound_budget / 2);
        lower_bound = lower_bound.max(room.bound.min(best_cost));
        phases.insert("room_bound".to_string(), room.bound);
        phases.insert("room_bound_rounds".to_string(), room.rounds as f64);
        phases.insert("room_bound_rows".to_string(), room.rows as f64);
        phases.insert(
            "room_bound_ms".to_string(),
            t0.elapsed().as_secs_f64() * 1000.0,
        );
        let t0 = Instant::now();
        let start: Vec<(usize, Vec<usize>)> =
            best.routes.iter().map(|(&s, r)| (s, r.to_vec())).collect();
        if let Some(relaxed) = part.route_relaxation_bound(&start, best_cost, t0 + bound_budget / 2)
        {
            lower_bound = lower_bound.max(relaxed.bound.min(best_cost));
            phases.insert("route_bound".to_string(), relaxed.bound);
            phases.insert("route_bound_lp".to_string(), relaxed.lp_value);
            phases.insert("route_bound_rounds".to_string(), relaxed.rounds as f64);
            phases.insert("route_bound_columns".to_string(), relaxed.columns as f64);
            phases.insert(
                "route_bound_converged".to_string(),
                f64::from(u8::from(relaxed.converged)),
            );
        }
        phases.insert(
            "route_bound_ms".to_string(),
            t0.elapsed().as_secs_f64() * 1000.0,
        );
    }
    let routes = part
        .pool_routes(&best)
        .into_iter()
        .map(|r| PlannedRoute {
            shift: r.shift,
            stops: r.stops,
        })
        .collect();
    let mut unplaced_visits = best.unplaced.clone();
    unplaced_visits.sort_unstable();
    let unplaced = unplaced_visits
        .into_iter()
        .map(|v| PlannedUnplaced {
            visit: v,
            reasons: part.diagnose(&best, v),
        })
        .collect();
    PartResult {
        routes,
        unplaced,
        objective: best_cost,
        pool_bound: bound.map(|b: f64| b.clamp(0.0, best_cost)),
        lower_bound,
        phases,
    }
}

/// One search chain: its states, the routes it found since the last merge, its random stream.
struct Chain {
    run: Search,
    pool: RoutePool,
    rng: ChaCha8Rng,
}

/// The chain with the best state (the first one on ties: deterministic).
fn best_chain(chains: &[Chain]) -> usize {
    let mut best = 0;
    for (k, ch) in chains.iter().enumerate() {
        if ch.run.best_cost < chains[best].run.best_cost - 1e-9 {
            best = k;
        }
    }
    best
}

/// Construction rounds, each putting the visits the last one left out first
/// (squeaky wheel: a visit only one carer can do must not wait behind others;
/// docs/experiments.md §2).
const CONSTRUCTION_ROUNDS: usize = 4;

/// The acceptance threshold at the start of the search, as a share of the best
/// cost (it falls linearly to 0 at the end). Solomon R2/RC2 do best with 2%; on
/// a team week, whose cost is mostly continuity (120 per distinct carer), 2% is
/// ~500 and the search wanders, so 0.5% (docs/experiments.md §3).
///
/// With soft windows and `iterations_per_visit` (one chain's, over the whole
/// budget) of [`PLENTY_PER_VISIT`] or more, 2.25 times that: a rota that trades
/// lateness for distance has deep local optima (Mankowska 50_2 ended at
/// 596.38, 4.7% above the best known, on two seeds of three at 10 s), and a
/// search with iterations to spare can climb out of them and still settle as the
/// threshold falls. Iteration-starved searches (200-300 patients at 10 s) do
/// worse with it (docs/experiments.md §12).
fn start_threshold(p: &Problem, iterations_per_visit: f64) -> f64 {
    let share = if p.weights.distinct_carer > 0.0 {
        0.005
    } else {
        0.02
    };
    let soft = !p.lateness.is_hard();
    if soft && iterations_per_visit >= PLENTY_PER_VISIT {
        share * 2.25
    } else {
        share
    }
}

/// Search iterations per visit (one chain's, projected over the budget) from
/// which a search with soft windows can afford the higher start threshold.
/// Mankowska at 10 s: 50 patients ~1,600-2,500, 75 ~600-800, 100 ~250-450,
/// 200 ~45, 300 ~15 (two chains, quiet machine).
const PLENTY_PER_VISIT: f64 = 1000.0;

/// Candidates within this share above the best cost get the route local search
/// in the search loop. VRPTW: 0.2% (on every improving candidate it halves the
/// iterations for nothing; without it Solomon R2 ends further from best known).
/// With a continuity cost none: route moves rarely pay for a distinct carer and
/// took most of the search's time (docs/experiments.md §4).
fn ls_share(p: &Problem) -> Option<f64> {
    (p.weights.distinct_carer <= 0.0).then_some(0.002)
}

/// Search iterations between ejection repairs of the current state's unplaced
/// visits, at first and at most.
const EJECT_EVERY: u64 = 50;
const EJECT_EVERY_MAX: u64 = 1600;

/// The search's current and best states.
struct Search {
    best: State,
    best_cost: f64,
    cur: State,
    cur_cost: f64,
    iterations: u64,
    /// Iteration of the next ejection repair, and the wait after it.
    next_eject: u64,
    eject_wait: u64,
    part_no: usize,
    /// When the part's search ends (the acceptance threshold reaches 0 there).
    end: Instant,
    /// Whether improving candidates' routes go to the pool: only when a MILP
    /// will read it (pooling costs search time).
    pooling: bool,
    /// The acceptance threshold's start share, once settled (see [`start_threshold`]).
    start_share: Option<f64>,
}

impl Search {
    fn report(&self, options: &SolveOptions) {
        if let Some(progress) = &options.progress {
            progress.record(self.part_no, self.best_cost, self.best.unplaced.len());
        }
    }

    /// The acceptance threshold's start share (see [`start_threshold`]), settled
    /// once the iteration rate is known: from the iteration limit, or 2% of the
    /// budget in (the usual share until then).
    fn start_share(&mut self, part: &Part, progress: f64, max_iter: u64) -> f64 {
        if let Some(share) = self.start_share {
            return share;
        }
        let projected = if max_iter < u64::MAX {
            max_iter as f64
        } else if progress >= 0.02 {
            self.iterations as f64 / progress
        } else {
            return start_threshold(part.p, 0.0);
        };
        let share = start_threshold(part.p, projected / part.visits.len().max(1) as f64);
        self.start_share = Some(share);
        share
    }

    /// Ruin-and-recreate with threshold acceptance until `until` or `max_iter` iterations.
    #[allow(clippy::too_many_arguments)]
    fn lns(
        &mut self,
        part: &Part,
        pool: &mut RoutePool,
        hopeless: &std::collections::HashSet<usize>,
        rng: &mut ChaCha8Rng,
        until: Instant,
        max_iter: u64,
        t0: Instant,
        options: &SolveOptions,
    ) {
        // The acceptance threshold shrinks over the whole part budget, not per call.
        let span = self
            .end
            .saturating_duration_since(t0)
            .as_secs_f64()
            .max(1e-9);
        // The candidate is a copy of the current state refreshed in place every
        // iteration (`clone_from` reuses its maps' tables) and swapped in when
        // accepted, so an iteration allocates only for what it changes.
        let mut cand = self.cur.clone();
        while self.iterations < max_iter && Instant::now() < until && !options.cancelled() {
            self.iterations += 1;
            if let Some(progress) = &options.progress {
                progress.iterations.fetch_add(1, Ordering::Relaxed);
            }
            // Every so often the current state's open visits get the targeted
            // ejection repair (random ruins rarely free the one slot they need).
            // An unsuccessful repair waits twice as long before the next one, so a
            // visit that cannot be placed does not eat the search's time.
            if self.iterations >= self.next_eject
                && self.cur.unplaced.iter().any(|v| !hopeless.contains(v))
            {
                let placed = part.eject_repair(&mut self.cur, hopeless, until);
                self.eject_wait = if placed {
                    EJECT_EVERY
                } else {
                    (self.eject_wait * 2).min(EJECT_EVERY_MAX)
                };
                self.next_eject = self.iterations + self.eject_wait;
                if placed {
                    self.cur_cost = self.cur.cost(part);
                    if self.cur_cost < self.best_cost - 1e-9 {
                        self.best.clone_from(&self.cur);
                        self.best_cost = self.cur_cost;
                        self.report(options);
                    }
                }
            }
            cand.clone_from(&self.cur);
            cand.prune_wait = cand.unplaced.iter().any(|v| !hopeless.contains(v));
            let (mut removed, target) = part.ruin(&mut cand, rng, hopeless);
            if removed.is_empty() {
                continue;
            }
            if let Some(t) = target {
                // The visit the ruin made room for goes in first.
                part.recreate(&mut cand, &[t], rng, false);
                removed.retain(|&v| v != t);
            }
            // Retry some of the other unplaced visits too (all of them every time is
            // costly when many cannot be placed at all).
            let extra: Vec<usize> = cand
                .unplaced
                .iter()
                .copied()
                .filter(|v| {
                    !removed.contains(v)
                        && Some(*v) != target
                        && !hopeless.contains(v)
                        && rand::Rng::random_bool(rng, 0.3)
                })
                .collect();
            removed.extend(extra);
            let regret = rand::Rng::random_bool(rng, 0.15);
            part.recreate(&mut cand, &removed, rng, regret);
            let mut cost = cand.cost(part);
            // Route local search polishes candidates that improve on the current state.
            // Only around the routes this step changed: a full pass over a big part
            // costs more than many ruin-and-recreate steps.
            // Local search polishes candidates close to the best (within 0.2%): on
            // all candidates better than the current state it halved the
            // iterations without better results (Solomon R2/RC2 at 10 s).
            let ls_bar =
                ls_share(part.p).map(|share| self.best_cost + self.best_cost.abs() * share);
            if ls_bar.is_some_and(|bar| cost < bar - 1e-9) {
                let mut changed = search::Map::default();
                for (&s, r) in &cand.routes {
                    if self.cur.routes.get(&s) != Some(r) {
                        changed.insert(s, ());
                    }
                }
                for &s in self.cur.routes.keys() {
                    if !cand.routes.contains_key(&s) {
                        changed.insert(s, ());
                    }
                }
                if part.local_search_focused(&mut cand, until, Some(changed)) {
                    cost = cand.cost(part);
                }
            }
            let progress = if max_iter < u64::MAX {
                self.iterations as f64 / max_iter as f64
            } else {
                (t0.elapsed().as_secs_f64() / span).min(1.0)
            };
            let share = self.start_share(part, progress, max_iter);
            let threshold = self.best_cost.abs() * share * (1.0 - progress);
            if self.pooling && cost < self.cur_cost - 1e-9 {
                pool.add_all(part.pool_routes(&cand));
            }
            if cost <= self.cur_cost || cost < self.best_cost + threshold {
                std::mem::swap(&mut self.cur, &mut cand);
                self.cur_cost = cost;
                if cost < self.best_cost - 1e-9 {
                    self.best.clone_from(&self.cur);
                    self.best_cost = cost;
                    self.report(options);
                }
            }
        }
    }
}

/// Deduplicated pool of routes.
#[derive(Default)]
struct RoutePool {
    routes: Vec<PoolRoute>,
    index: HashMap<(usize, Vec<(usize, i32)>), usize>,
}

/// Most routes kept for the MILP; beyond this new routes are not pooled.
const POOL_CAP: usize = 20_000;

impl RoutePool {
    fn add_all(&mut self, routes: Vec<PoolRoute>) {
        for r in routes {
            let key = (r.shift, r.stops.clone());
            if self.routes.len() < POOL_CAP && !self.index.contains_key(&key) {
                self.index.insert(key, self.routes.len());
                self.routes.push(r);
            }
        }
    }
    fn indices_of(&mut self, routes: Vec<PoolRoute>) -> Vec<usize> {
        routes
            .into_iter()
            .map(|r| {
                let key = (r.shift, r.stops.clone());
                if let Some(&i) = self.index.get(&key) {
                    i
                } else {
                    self.index.insert(key, self.routes.len());
                    self.routes.push(r);
                    self.routes.len() - 1
                }
            })
            .collect()
    }
}

/// Shortest part budget that runs the MILP: below it the pool is small and the
/// MILP's time is worth more as search. With a continuity cost the master
/// carries a carer-person variable per pair and binding caps, and HiGHS spent
/// 0.3-1.3 s of a 2-5 s team week on it for nothing: without it the median
/// fell 1.3% at 2 s (10 seeds) and 1.2% at 5 s (8 seeds); at 10 s it is even
/// (docs/experiments.md §5). With soft windows (Mankowska) the MILP took 1-2 s
/// of a 10 s run on 200-300 patients (15-40% of the iterations); without it
/// 10 s runs ended ~0.3 points nearer the best known (pooled over seeds 1-3,
/// 50-300 patients, within one sweep's spread) and at 60 s it was even, so it
/// runs from 30 s. Other masters are cheap set partitioning.
fn milp_min_budget(p: &Problem) -> Duration {
    if p.weights.distinct_carer > 0.0 {
        Duration::from_secs(8)
    } else if !p.lateness.is_hard() {
        Duration::from_secs(30)
    } else {
        Duration::from_secs(2)
    }
}

/// Most pooled routes handed to one MILP solve: HiGHS stalls on larger pools
/// with continuity caps (measured on the team week), so the newest routes are used.
const MASTER_POOL: usize = 1_200;

fn run_master(
    part: &Part,
    pool: &RoutePool,
    best: &State,
    left: Duration,
) -> Option<(State, Option<f64>)> {
    // The part's own view: pins elsewhere in the problem are not this solve's business.
    let in_part: std::collections::HashSet<usize> = part.visits.iter().copied().collect();
    let mut scoped = part.p.clone();
    scoped.existing.retain(|e| in_part.contains(&e.visit));
    let recent = pool.routes.len().saturating_sub(MASTER_POOL);
    let mut sub = RoutePool::default();
    sub.add_all(pool.routes[recent..].to_vec());
    let incumbent = sub.indices_of(part.pool_routes(best));
    let opts = master::MasterOptions {
        time_limit_s: left.as_secs_f64(),
        mip_rel_gap: 1e-4,
    };
    let sol = master::solve_master(&scoped, &sub.routes, &incumbent, &opts).ok()?;
    let chosen: Vec<PoolRoute> = sol
        .chosen
        .iter()
        .filter_map(|&i| sub.routes.get(i).cloned())
        .collect();
    let state = part.state_from_routes(&chosen)?;
    // The master's objective counts every visit and carer of the problem; the bound is
    // shifted by the same constant to be comparable with this part's cost.
    let constant = sol.objective - state.cost(part);
    Some((state, sol.bound.map(|b| b - constant)))
}

#[cfg(test)]
mod threshold_tests {
    use super::{PLENTY_PER_VISIT, start_threshold};
    use crate::format::PlanningRequest;
    use crate::model::Problem;
    use serde_json::json;

    fn problem(lateness: serde_json::Value) -> Problem {
        let mut value = crate::testing::three_carer_two_day_request();
        value["settings"]["lateness"] = lateness;
        let req: PlanningRequest = serde_json::from_value(value).unwrap();
        Problem::from_request(&req).unwrap()
    }

    #[test]
    fn only_soft_windows_with_iterations_to_spare_start_at_the_raised_threshold() {
        let soft = problem(json!({"mode": "soft", "max_late_min": 60, "cost_per_min": 1.0}));
        let hard = problem(json!({"mode": "hard"}));
        let (starved, plenty) = (PLENTY_PER_VISIT / 2.0, PLENTY_PER_VISIT);
        // Hard windows (VRPTW, team rotas) keep their share however long the search.
        assert_eq!(
            start_threshold(&hard, starved),
            start_threshold(&hard, plenty)
        );
        assert_eq!(start_threshold(&hard, plenty), 0.005);
        // Soft windows: the usual share while iterations are short, 2.25 times it with plenty.
        assert_eq!(start_threshold(&soft, starved), 0.005);
        assert!((start_threshold(&soft, plenty) - 0.005 * 2.25).abs() < 1e-12);
    }
}
