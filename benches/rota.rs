//! Latency of the rota engine on the team-week benchmark (12 carers, ~58 people, 7 days).

use carefill_solver::generate::{GeneratorOptions, ScenarioSize, generate};
use carefill_solver::model::Problem;
use carefill_solver::rota::{SolveOptions, solve};
use criterion::{Criterion, criterion_group, criterion_main};
use std::time::Duration;

fn rota(c: &mut Criterion) {
    let request = generate(&GeneratorOptions::new(ScenarioSize::Team, 7)).request;
    let problem = Problem::from_request(&request).expect("generated team is valid");
    // Construction only: the first feasible rota.
    c.bench_function("team_week_first_feasible_rota", |b| {
        b.iter(|| {
            solve(
                &problem,
                &SolveOptions {
                    time_limit: Duration::from_secs(30),
                    seed: 1,
                    max_iterations: Some(0),
                    use_milp: false,
                },
            )
        })
    });
    // A fixed amount of search: 200 ruin-and-recreate iterations.
    c.bench_function("team_week_200_lns_iterations", |b| {
        b.iter(|| {
            solve(
                &problem,
                &SolveOptions {
                    time_limit: Duration::from_secs(30),
                    seed: 1,
                    max_iterations: Some(200),
                    use_milp: false,
                },
            )
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(std::time::Duration::from_secs(8));
    targets = rota
}
criterion_main!(benches);
