//! Latency of the rota engine on the team-week benchmark (12 carers, ~58 people, 7 days),
//! Solomon R101 and an 800-customer large fleet.

use carefill_solver::generate::{GeneratorOptions, ScenarioSize, generate};
use carefill_solver::model::Problem;
use carefill_solver::rota::{SolveOptions, solve};
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

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(std::time::Duration::from_secs(8));
    targets = rota, solomon, large_fleet
}
criterion_main!(benches);
