//! Latency of the rota engine on the team-week benchmark (12 carers, ~58 people, 7 days),
//! Solomon R101 and an 800-customer large fleet, and of re-plans of a published team week.

use carefill_solver::generate::{GeneratorOptions, ScenarioSize, generate};
use carefill_solver::model::{PlannedRoute, Problem};
use carefill_solver::rota::{SolveOptions, insert_visits, solve};
use criterion::{Criterion, criterion_group, criterion_main};
use std::time::Duration;

/// Seed 1, no MILP, stopped after `iterations` ruin-and-recreate steps (0: first rota only).
fn fixed_search(iterations: u64) -> SolveOptions {
    SolveOptions {
        time_limit: Duration::from_secs(30),
        seed: 1,
        max_iterations: Some(iterations),
        use_milp: false,
        ..SolveOptions::default()
    }
}

/// A Solomon-format instance, distance-only.
fn load_vrptw(
    path: &std::path::Path,
) -> Result<carefill_solver::benchmarks::BenchInstance, carefill_solver::benchmarks::BenchError> {
    carefill_solver::benchmarks::load_file(
        path,
        carefill_solver::benchmarks::BenchFormat::Solomon,
        carefill_solver::benchmarks::SolomonObjective::Distance,
    )
}

fn rota(c: &mut Criterion) {
    let request = generate(&GeneratorOptions::new(ScenarioSize::Team, 7)).request;
    let problem = Problem::from_request(&request).expect("generated team is valid");
    // Construction only: the first feasible rota.
    c.bench_function("team_week_first_feasible_rota", |b| {
        b.iter(|| solve(&problem, &fixed_search(0)))
    });
    // A fixed amount of search: 200 ruin-and-recreate iterations.
    c.bench_function("team_week_200_lns_iterations", |b| {
        b.iter(|| solve(&problem, &fixed_search(200)))
    });
}

/// Solomon R101 (100 customers) with a fixed amount of search, when the shared benchmarks are present.
fn solomon(c: &mut Criterion) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/benchmarks/solomon/R101.txt");
    let Ok(instance) = load_vrptw(&path) else {
        eprintln!("skipping solomon bench: {} not found", path.display());
        return;
    };
    c.bench_function("solomon_r101_500_lns_iterations", |b| {
        b.iter(|| solve(&instance.problem, &fixed_search(500)))
    });
}

/// A large fleet: 800 customers, 100 interchangeable vehicles (`fixtures/vrptw_800_1.txt`, from
/// `scripts/gen-vrptw.py 800 1`). The first rota (sequential, then hardest-first on the second
/// thread) with local search to a local optimum: what a 1 s solve spends before its search.
fn large_fleet(c: &mut Criterion) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/vrptw_800_1.txt");
    let instance = load_vrptw(&path).expect("committed fixture loads");
    c.bench_function("vrptw_800_first_rota_and_local_search", |b| {
        b.iter(|| solve(&instance.problem, &fixed_search(0)))
    });
}

/// Re-plans of a published team week (a deterministic 2,000-iteration rota), each an insertion
/// that keeps every other visit with its carer and order (`insert_visits`):
/// - a new package: the person with the most visits taken out of the rota and put back;
/// - a carer off sick for a day: the busiest carer's shifts on day 2 closed, their visits re-placed.
fn replan(c: &mut Criterion) {
    let request = generate(&GeneratorOptions::new(ScenarioSize::Team, 7)).request;
    let problem = Problem::from_request(&request).expect("generated team is valid");
    let published = solve(&problem, &fixed_search(2_000));
    let routes = problem
        .planned_routes(&published)
        .expect("the engine's own rota reads back");
    let without = |gone: &[usize], routes: &[PlannedRoute]| -> Vec<PlannedRoute> {
        routes
            .iter()
            .map(|r| PlannedRoute {
                shift: r.shift,
                stops: r
                    .stops
                    .iter()
                    .copied()
                    .filter(|(v, _)| !gone.contains(v))
                    .collect(),
            })
            .collect()
    };

    let package = (0..problem.packages.len())
        .max_by_key(|&k| problem.packages[k].visits.len())
        .expect("the team has packages");
    let new = problem.packages[package].visits.clone();
    let before_package = without(&new, &routes);
    c.bench_function("team_week_replan_new_package", |b| {
        b.iter(|| {
            insert_visits(&problem, &before_package, &new).expect("published rota is feasible")
        })
    });

    let busiest = routes
        .iter()
        .filter(|r| problem.shifts[r.shift].day == 2)
        .max_by_key(|r| r.stops.len())
        .expect("a route on day 2");
    let carer = problem.shifts[busiest.shift].carer;
    let mut sick = problem.clone();
    let off: Vec<usize> = (0..sick.shifts.len())
        .filter(|&s| sick.shifts[s].carer == carer && sick.shifts[s].day == 2)
        .collect();
    for &s in &off {
        sick.shifts[s].end = sick.shifts[s].start;
    }
    let mut orphans: Vec<usize> = routes
        .iter()
        .filter(|r| off.contains(&r.shift))
        .flat_map(|r| r.stops.iter().map(|x| x.0))
        .collect();
    orphans.sort_unstable();
    orphans.dedup();
    let kept: Vec<PlannedRoute> = without(&orphans, &routes)
        .into_iter()
        .filter(|r| !off.contains(&r.shift))
        .collect();
    c.bench_function("team_week_replan_carer_off_sick_a_day", |b| {
        b.iter(|| insert_visits(&sick, &kept, &orphans).expect("published rota is feasible"))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(std::time::Duration::from_secs(8));
    targets = rota, solomon, large_fleet, replan
}
criterion_main!(benches);
