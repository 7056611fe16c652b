//! Brokerage simulation speed: one week of the small county (8 one-team
//! providers, ~6 referrals a day, sickness) for one policy and one seed, the
//! real broker making every offer, fit check and ledger entry. The county and its
//! first rotas are planned once, outside the measurement.

use carefill_solver::simulate::{parse_scenario, prepare, simulate};
use criterion::{Criterion, criterion_group, criterion_main};
use std::time::Duration;

fn simulation(c: &mut Criterion) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/sim_small.json"
    ))
    .expect("fixture");
    let mut scenario = parse_scenario(&text).expect("valid scenario");
    scenario.policies.truncate(1);
    let county = prepare(&scenario, None).expect("county");
    let mut group = c.benchmark_group("simulate");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("small_county_7_days_1_policy_1_seed", |b| {
        b.iter(|| {
            let r = simulate(&scenario, &county, &[1]).expect("run");
            assert!(r.policies[0].integrity_ok);
            r.runs[0].referrals
        })
    });
    group.finish();
}

criterion_group!(benches, simulation);
criterion_main!(benches);
