//! Latency of the foundation pieces: validating a team week, travel matrices, spatial queries.

use carefill_solver::format::{Location, RoadNetworkSpec, TravelMode, TravelSpec};
use carefill_solver::generate::{GeneratorOptions, ScenarioSize, generate};
use carefill_solver::model::Problem;
use carefill_solver::spatial::PointIndex;
use carefill_solver::testing::fixture_path;
use carefill_solver::travel::build_travel_model;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn points(n: usize, seed: u64) -> Vec<Location> {
    // A deterministic scatter over ~20 km around Crediton.
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let a = (x >> 33) as f64 / (1u64 << 31) as f64;
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let b = (x >> 33) as f64 / (1u64 << 31) as f64;
            Location {
                lat: 50.70 + 0.18 * a,
                lon: -3.80 + 0.30 * b,
                matrix_index: None,
            }
        })
        .collect()
}

fn foundation(c: &mut Criterion) {
    let team = generate(&GeneratorOptions::new(ScenarioSize::Team, 7)).request;
    c.bench_function("validate_team_week", |b| {
        b.iter(|| Problem::from_request(black_box(&team)).is_ok())
    });

    let mut issues = carefill_solver::format::Issues::default();
    let haversine = build_travel_model(&TravelSpec::default(), &mut issues).expect("default model");
    let pts = points(300, 1);
    c.bench_function("matrix_300_haversine", |b| {
        b.iter(|| haversine.matrix(black_box(&pts), TravelMode::Drive))
    });

    let text =
        std::fs::read_to_string(fixture_path("roads/mid_devon_town.json")).expect("road fixture");
    let spec: RoadNetworkSpec = serde_json::from_str(&text).expect("road fixture parses");
    let town: Vec<Location> = points(300, 2)
        .into_iter()
        .map(|p| Location {
            lat: 50.76 + (p.lat - 50.70) / 3.0,
            lon: -3.70 + (p.lon + 3.80) / 3.0,
            ..p
        })
        .collect();
    c.bench_function("matrix_300_road_network_cold", |b| {
        b.iter(|| {
            let mut issues = carefill_solver::format::Issues::default();
            let road = build_travel_model(&TravelSpec::RoadNetwork(spec.clone()), &mut issues)
                .expect("network");
            road.matrix(black_box(&town), TravelMode::Drive)
        })
    });

    let carers = points(5_500, 3);
    let index = PointIndex::new(carers.iter().enumerate().map(|(i, p)| (i, p.lat, p.lon)));
    let queries = points(1_000, 4);
    c.bench_function("spatial_1000_knn10_in_5500", |b| {
        b.iter(|| {
            queries
                .iter()
                .map(|q| index.nearest(q.lat, q.lon, 10).len())
                .sum::<usize>()
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(std::time::Duration::from_secs(5));
    targets = foundation
}
criterion_main!(benches);
