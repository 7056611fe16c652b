//! The worst-lateness objective term on an instance small enough to solve by hand.

use super::*;
use crate::check::check;
use crate::rota::master::{MasterOptions, selection_objective, solve_master};
use crate::rota::{PoolRoute, SolveOptions, solve};
use std::time::Duration;

/// One caregiver, one service, no travel, three patients: `X` takes 1 unit and
/// may start until 2; `Y` and `Z` take 2 units and may start until 0. Lateness
/// is on the start, so by hand, over every order:
///
/// | order | lateness X, Y, Z | total | worst |
/// |---|---|---|---|
/// | Y X Z, Z X Y | 0, 0, 3 | **3** | 3 |
/// | Y Z X, Z Y X | 2, 0, 2 | 4 | **2** |
/// | X Y Z, X Z Y | 0, 1, 3 | 4 | 3 |
///
/// The least total lateness and the least worst lateness need different orders.
const THREE_JOBS: &str = "nbNodes
5
nbVehi
1
nbServi
1
r
1
1
1
1
1
DS
0
a
1
x
0 0 0 0 0
y
0 0 0 0 0
d
0 0 0 0 0
0 0 0 0 0
0 0 0 0 0
0 0 0 0 0
0 0 0 0 0
p
0
1
2
2
0
mind
0 0 0 0 0
maxd
0 0 0 0 0
e
0 0 0 0 0
l
100 2 0 0 100
";

/// The instance with lateness weighted `per_min` per minute and the worst
/// lateness `worst` per minute.
fn weighted(per_min: f64, worst: f64) -> (BenchInstance, Problem) {
    let inst = load_mankowska("THREE_JOBS", THREE_JOBS).expect("the snippet parses");
    let mut p = inst.problem.clone();
    let LatenessRule::Soft { max_late_min, .. } = p.lateness else {
        panic!("Mankowska lateness is soft");
    };
    p.lateness = LatenessRule::Soft {
        max_late_min,
        cost_per_min: per_min,
    };
    p.weights.worst_late_min = worst;
    (inst, p)
}

/// Solves with the MILP on; returns (engine objective, worst lateness, total lateness).
fn solved(p: &Problem) -> (f64, u32, u64) {
    let rota = solve(
        p,
        &SolveOptions {
            time_limit: Duration::from_secs(60),
            seed: 1,
            max_iterations: Some(200),
            use_milp: true,
            ..SolveOptions::default()
        },
    );
    let report = check(p, &rota);
    assert!(report.is_feasible(), "{:?}", report.violations);
    assert_eq!(report.kpis.visits_unplaced, 0);
    let objective = rota.stats.as_ref().expect("stats").objective;
    (objective, report.kpis.worst_late_min, report.kpis.late_min)
}

#[test]
fn the_worst_lateness_term_chooses_another_order_than_total_lateness() {
    // Scaled by 100: total only -> 3 units; worst only -> 2 units (with 4 in total).
    assert_eq!(solved(&weighted(1.0, 0.0).1), (300.0, 300, 300));
    assert_eq!(solved(&weighted(0.0, 1.0).1), (200.0, 200, 400));
    // Total + 2 × worst: 3 + 6 = 9 against 4 + 4 = 8.
    assert_eq!(solved(&weighted(1.0, 2.0).1), (800.0, 200, 400));
}

#[test]
fn mankowska_weights_give_the_published_objective() {
    // (distance + total + worst) / 3: both kinds of order cost (0 + 3 + 3) / 3 = (0 + 4 + 2) / 3 = 2.
    let inst = load_mankowska("THREE_JOBS", THREE_JOBS).expect("the snippet parses");
    assert!((inst.problem.weights.worst_late_min - 1.0 / 3.0).abs() < 1e-12);
    let rota = solve(
        &inst.problem,
        &SolveOptions {
            max_iterations: Some(100),
            use_milp: false,
            ..SolveOptions::default()
        },
    );
    let s = inst.score(&rota);
    assert!((s.objective - 2.0).abs() < 1e-9, "{s:?}");
    let engine = rota.stats.as_ref().expect("stats").objective;
    assert!((engine - 200.0).abs() < 1e-6, "{engine}");
}

#[test]
fn the_master_prices_the_worst_lateness_of_the_chosen_routes() {
    let (_, total_only) = weighted(1.0, 0.0);
    let (_, worst_only) = weighted(0.0, 1.0);
    let p = &total_only;
    let v = |name: &str| p.visit_index[&format!("patient{name}/service1@2026-01-05")];
    let (x, y, z) = (v("1"), v("2"), v("3"));
    // The two orders of the table as pool routes of the one shift.
    let route = |stops: Vec<(usize, Minute)>, total: f64| PoolRoute {
        shift: 0,
        stops,
        local_cost: total,
        work_min: 500,
    };
    for (p, want_worst, want) in [(&total_only, false, 300.0), (&worst_only, true, 200.0)] {
        let per_min = match p.lateness {
            LatenessRule::Soft { cost_per_min, .. } => cost_per_min,
            LatenessRule::Hard => 0.0,
        };
        let pool = vec![
            route(vec![(y, 0), (x, 200), (z, 300)], 300.0 * per_min),
            route(vec![(y, 0), (z, 200), (x, 400)], 400.0 * per_min),
        ];
        assert!(
            (selection_objective(p, &pool, &[0])
                - (300.0 * per_min + 300.0 * p.weights.worst_late_min))
                .abs()
                < 1e-9
        );
        let sol = solve_master(p, &pool, &[0], &MasterOptions::default()).expect("solves");
        assert_eq!(sol.chosen, vec![usize::from(want_worst)]);
        assert!((sol.objective - want).abs() < 1e-9, "{}", sol.objective);
        assert!(
            sol.bound.is_some_and(|b| (b - want).abs() < 1e-6),
            "{:?}",
            sol.bound
        );
    }
}
