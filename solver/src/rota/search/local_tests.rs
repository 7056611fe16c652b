use super::local::start_of;
use super::part::GRANULAR_K;
use super::*;
use crate::benchmarks::{SolomonObjective, load_solomon};
use crate::check::check;
use crate::model::Problem;
use crate::model::{PlannedRoute, PlannedUnplaced};
use crate::rota::PoolRoute;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::time::{Duration, Instant};

/// Depot at the origin, customers on three corners of a 10 x 10 square, one vehicle.
const SQUARE: &str = "SQUARE

VEHICLE
NUMBER     CAPACITY
  2          100

CUSTOMER
CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME

    0      0      0     0      0    1000     0
    1      0     10    10      0    1000     5
    2     10     10    10      0    1000     5
    3     10      0    10      0    1000     5
    4     20      0    10      0    1000     5
    5     20     10    10      0    1000     5
";

fn far() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

/// A state holding exactly these visit orders (by customer number, 1-based).
pub(super) fn state_of(part: &Part, routes: &[(usize, &[usize])]) -> State {
    let p = part.p;
    let pool: Vec<PoolRoute> = routes
        .iter()
        .map(|&(s, custs)| PoolRoute {
            shift: s,
            stops: custs
                .iter()
                .map(|c| (p.visit_index[&format!("c{c}/visit@2026-01-05")], 0))
                .collect(),
            local_cost: 0.0,
            work_min: 0,
        })
        .collect();
    part.state_from_routes(&pool).unwrap()
}

/// The checker's verdict on a state, and its consistency with a rebuilt state.
pub(super) fn assert_sound(part: &Part, st: &State) {
    let p = part.p;
    let routes: Vec<PlannedRoute> = part
        .pool_routes(st)
        .into_iter()
        .map(|r| PlannedRoute {
            shift: r.shift,
            stops: r.stops,
        })
        .collect();
    let unplaced: Vec<PlannedUnplaced> = st
        .unplaced
        .iter()
        .map(|&v| PlannedUnplaced {
            visit: v,
            reasons: vec![("carers_busy".to_string(), "test".to_string())],
        })
        .collect();
    let report = check(p, &p.write_rota(&routes, &unplaced));
    assert!(report.is_feasible(), "{:?}", report.violations);
    let rebuilt = part.state_from_routes(&part.pool_routes(st)).unwrap();
    assert!((rebuilt.cost(part) - st.cost(part)).abs() < 1e-6);
    let nonzero = |m: &Map<(usize, u32), i64>| {
        let mut v: Vec<_> = m
            .iter()
            .filter(|x| *x.1 != 0)
            .map(|(k, w)| (*k, *w))
            .collect();
        v.sort_unstable();
        v
    };
    assert_eq!(nonzero(&rebuilt.day_work), nonzero(&st.day_work));
    assert_eq!(nonzero(&rebuilt.week_work), nonzero(&st.week_work));
    assert_eq!(rebuilt.seen, st.seen);
    let sorted = |m: Map<usize, super::OnShifts>| {
        let mut v: Vec<_> = m
            .into_iter()
            .map(|(k, s)| {
                let mut s = s.to_vec();
                s.sort_unstable();
                (k, s)
            })
            .collect();
        v.sort_unstable();
        v
    };
    assert_eq!(sorted(rebuilt.on), sorted(st.on.clone()));
}

#[test]
fn two_opt_uncrosses_a_route() {
    let inst = load_solomon("SQUARE", SQUARE, SolomonObjective::Distance).unwrap();
    let p = &inst.problem;
    let part = Part::new(p, (0..p.visits.len()).collect(), vec![0, 1]);
    // 0 -> (0,10) -> (10,0) -> (10,10) -> 0 crosses itself; with 4 and 5 on the other vehicle.
    let mut st = state_of(&part, &[(0, &[1, 3, 2]), (1, &[4, 5])]);
    let before = st.cost(&part);
    assert!(part.local_search(&mut st, far()));
    let after = st.cost(&part);
    assert!(after < before - 1.0, "{before} -> {after}");
    assert_sound(&part, &st);
    // Every customer still placed, and the square is now travelled without crossing.
    assert!(st.unplaced.is_empty());
    let total: f64 = st.scheds.values().map(|s| s.local_cost).sum();
    assert!(total <= 600.0 + 1e-6, "{total}");
}

#[test]
fn cross_and_relocate_repair_interleaved_routes() {
    let inst = load_solomon("SQUARE", SQUARE, SolomonObjective::Distance).unwrap();
    let p = &inst.problem;
    let part = Part::new(p, (0..p.visits.len()).collect(), vec![0, 1]);
    // Each vehicle zig-zags between the near and the far customers.
    let mut st = state_of(&part, &[(0, &[1, 4]), (1, &[3, 2, 5])]);
    let before = st.cost(&part);
    assert!(part.local_search(&mut st, far()));
    assert!(st.cost(&part) < before - 1.0);
    assert_sound(&part, &st);
    // A local optimum: a second call finds nothing.
    let again = st.cost(&part);
    assert!(!part.local_search(&mut st, far()));
    assert!((st.cost(&part) - again).abs() < 1e-9);
    assert!(start_of(&st, 0, 0).is_none() || start_of(&st, 1, 0).is_none());
}

#[test]
fn local_search_keeps_the_team_week_feasible_and_synchronised() {
    let req = crate::testing::load_request("small_team.json");
    let p = crate::testing::problem(&req);
    let visits: Vec<usize> = (0..p.visits.len()).collect();
    let shifts: Vec<usize> = (0..p.shifts.len()).collect();
    let part = Part::new(&p, visits, shifts);
    for seed in 0..3 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut st = part.empty_state();
        let all = st.unplaced.clone();
        part.recreate(&mut st, &all, &mut rng, false);
        let before = st.cost(&part);
        part.local_search(&mut st, far());
        assert!(st.cost(&part) <= before + 1e-9);
        assert_sound(&part, &st);
        // Double-handed visits keep one start on both routes.
        for (&v, shifts) in &st.on {
            let starts: Vec<_> = shifts.iter().filter_map(|&s| start_of(&st, s, v)).collect();
            assert!(starts.windows(2).all(|w| w[0] == w[1]), "{v}: {starts:?}");
        }
    }
}

/// 60 customers and 50 identical vehicles: more candidate shifts per visit than
/// [`GRANULAR_MIN_SHIFTS`], so the part gets granular neighbourhoods.
fn big_fleet(window: u32) -> Problem {
    crate::testing::solomon_fleet(60, 50, window)
}

#[test]
fn granular_local_search_on_a_big_fleet_stays_sound_and_improves() {
    let p = big_fleet(120);
    let part = Part::new(
        &p,
        (0..p.visits.len()).collect(),
        (0..p.shifts.len()).collect(),
    );
    // Granular: each visit has at most GRANULAR_K neighbours, other visits of its day.
    assert_eq!(part.near.len(), p.visits.len());
    for (row, near) in part.near.iter().enumerate() {
        let v = part.visits[row];
        assert_eq!(near.len(), GRANULAR_K.min(p.visits.len() - 1));
        assert!(
            near.iter()
                .all(|&w| w != v && p.visits[w].day == p.visits[v].day)
        );
    }
    for seed in 0..3 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut st = part.empty_state();
        let all = st.unplaced.clone();
        // A poor start: one visit at a time in random order.
        let mut order = all.clone();
        order.shuffle(&mut rng);
        part.recreate(&mut st, &order, &mut rng, false);
        let before = st.cost(&part);
        assert!(
            part.local_search(&mut st, far()),
            "seed {seed}: no move found"
        );
        let after = st.cost(&part);
        assert!(after < before - 1.0, "seed {seed}: {before} -> {after}");
        assert_sound(&part, &st);
        assert!(st.unplaced.is_empty());
    }
}

#[test]
fn sequential_first_rota_on_a_big_fleet_starts_cheaper_than_hardest_first() {
    // Narrow windows, as in R1-type instances: hardest-first scatters them over
    // routes; routes built one at a time chain nearby ones.
    let p = big_fleet(30);
    let part = Part::new(
        &p,
        (0..p.visits.len()).collect(),
        (0..p.shifts.len()).collect(),
    );
    assert!(part.is_granular());
    let all = part.visits.clone();
    let mut sequential = part.empty_state();
    part.construct_sequential(&mut sequential, &all);
    assert!(sequential.unplaced.is_empty());
    assert_sound(&part, &sequential);
    let mut hardest = part.empty_state();
    part.construct(&mut hardest, &all, 1, far(), false);
    assert!(hardest.unplaced.is_empty());
    // Deterministic on this instance: 19,620 against 25,024.
    let (a, b) = (sequential.cost(&part), hardest.cost(&part));
    assert!(a < 0.9 * b, "sequential {a} against hardest-first {b}");
}

/// Mankowska layout: two caregivers qualified for both services, two
/// single-service patients (nodes 1 and 2, long visits, wide windows) and a
/// synchronised double service (node 3, due by time 10), every leg 1.
const LATE_PAIR: &str = "nbNodes
5
nbVehi
2
nbServi
2
r
0 0
1 0
1 0
1 1
0 0
DS
4
a
1 1
1 1
x
0 1 2 3 0
y
0 0 0 0 0
d
0.0 1.0 1.0 1.0 0.0
1.0 0.0 1.0 1.0 1.0
1.0 1.0 0.0 1.0 1.0
1.0 1.0 1.0 0.0 1.0
0.0 1.0 1.0 1.0 0.0
p
0 0
0 0
50.0 0
50.0 0
50.0 0
50.0 0
10.0 10.0
10.0 10.0
0 0
0 0
mind
0 0 0 0 0
maxd
0 0 0 0 0
e
0 0 0 0 0
l
1000 100 100 10 1000
";

#[test]
fn a_late_synchronised_pair_moves_jointly_to_an_earlier_start() {
    let inst = crate::benchmarks::load_mankowska("LATE_PAIR", LATE_PAIR).unwrap();
    let p = &inst.problem;
    let part = Part::new(
        p,
        (0..p.visits.len()).collect(),
        (0..p.shifts.len()).collect(),
    );
    let id = |n: &str| p.visit_index[&format!("{n}@2026-01-05")];
    let (q1, q2) = (id("patient1/service1"), id("patient2/service1"));
    let (a, b) = (id("patient3/service1"), id("patient3/service2"));
    assert_eq!(p.links.len(), 1);
    // Each carer makes a long visit first, so the pair starts at 52 (due by 10).
    // Every single-visit move keeps that start (it is anchored), and neither
    // carer can take its partner's long visit as well: only moving both
    // services to the front of their routes together removes the lateness.
    let late = 5_200;
    let pool = [(0, q1, a), (1, q2, b)].map(|(s, q, v)| PoolRoute {
        shift: s,
        stops: vec![(q, 100), (v, late)],
        local_cost: 0.0,
        work_min: 0,
    });
    let mut st = part.state_from_routes(&pool).unwrap();
    assert_eq!(st.fixed.get(&a), Some(&late));
    let before = st.cost(&part);
    assert!(part.local_search(&mut st, far()));
    assert_sound(&part, &st);
    let (ta, tb) = (st.fixed[&a], st.fixed[&b]);
    assert_eq!(ta, tb, "the pair stays synchronised");
    assert_eq!(ta, 100, "the pair starts on arrival");
    assert!(st.scheds.values().all(|s| s.max_late <= 0));
    // Tardiness 2 x 42 and the worst 42, a third each: 42 less in all.
    let after = st.cost(&part);
    assert!(
        (before - after - 4_200.0).abs() < 1e-6,
        "{before} -> {after}"
    );
}

/// Mankowska layout: one patient (node 1) needing service 1 and then service 2
/// 5 to 30 later; caregiver 1 does service 1 only, caregiver 2 both.
const GAP_PAIR: &str = "nbNodes
3
nbVehi
2
nbServi
2
r
0 0
1 1
0 0
DS
2
a
1 0
1 1
x
0 1 0
y
0 0 0
d
0.0 1.0 0.0
1.0 0.0 1.0
0.0 1.0 0.0
p
0 0
0 0
10.0 10.0
10.0 10.0
0 0
0 0
mind
0 5 0
maxd
0 30 0
e
0 0 0
l
1000 100 1000
";

#[test]
fn a_gap_pair_goes_to_one_carer_qualified_for_both_services() {
    let inst = crate::benchmarks::load_mankowska("GAP_PAIR", GAP_PAIR).unwrap();
    let p = &inst.problem;
    let part = Part::new(
        p,
        (0..p.visits.len()).collect(),
        (0..p.shifts.len()).collect(),
    );
    assert!(!p.links[0].distinct_carers);
    let mut st = part.empty_state();
    let all = st.unplaced.clone();
    part.construct(&mut st, &all, 1, far(), false);
    assert_sound(&part, &st);
    // One trip instead of two: both services by caregiver 2, the second 10
    // after the first (the first service's length, more than the 5 minimum gap).
    let (a, b) = (p.links[0].first, p.links[0].then);
    assert_eq!(st.on[&a].as_slice(), &[1]);
    assert_eq!(st.on[&b].as_slice(), &[1]);
    assert_eq!(st.fixed[&b] - st.fixed[&a], 1_000);
}
