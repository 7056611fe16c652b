//! Brokering latency on a generated county (40 providers, ~150 neighbourhood teams,
//! every team's rota planned): candidate search with the whole-package fit check
//! for one referral, and batch allocation of a provider failure (200+ packages).

use carefill_solver::broker::demo;
use carefill_solver::broker::{Broker, BrokerConfig};
use carefill_solver::format::{FrameworkStatus, Tier};
use carefill_solver::generate::ScenarioSize;
use chrono::{TimeZone, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use std::time::{Duration, Instant};

fn broker(c: &mut Criterion) {
    let t0 = Instant::now();
    let county = demo::county(&ScenarioSize::County.profile(), 1, 60).expect("county");
    eprintln!(
        "county: {} providers, {} teams, {} carers, {} people, {} referrals; built and planned in {:.1} s",
        county.roster.providers.len(),
        county.roster.teams.len(),
        county.roster.carers.len(),
        county.roster.service_users.len(),
        county.referrals.len(),
        t0.elapsed().as_secs_f64()
    );
    let b = county.broker().expect("broker");
    let mut group = c.benchmark_group("broker");
    group.sample_size(20);
    // Several referrals so one unusual package does not decide the figure.
    let sample: Vec<_> = county.referrals.iter().take(8).cloned().collect();
    group.bench_function("candidates_and_fit_check_8_referrals_county", |bench| {
        bench.iter(|| {
            sample
                .iter()
                .map(|(p, u)| b.candidates(p, u).fitting.len())
                .sum::<usize>()
        })
    });
    // The same on a rolling horizon: today plus the default 14-day look-ahead
    // (twice the visits per team), checked at 09:00 on its first day with the
    // started visits frozen. Built only when this function is selected.
    group.bench_function(
        "candidates_and_fit_check_8_referrals_county_15_days",
        |bench| {
            let start = Utc
                .with_ymd_and_hms(2026, 11, 30, 9, 0, 0)
                .single()
                .expect("time");
            let t = Instant::now();
            let long = demo::county_at(
                &ScenarioSize::County.profile(),
                1,
                60,
                start,
                &Default::default(),
            )
            .expect("county");
            eprintln!(
                "15-day county built and planned in {:.1} s",
                t.elapsed().as_secs_f64()
            );
            let mut b = long.broker().expect("broker");
            b.set_now(start);
            let sample: Vec<_> = long.referrals.iter().take(8).cloned().collect();
            bench.iter(|| {
                sample
                    .iter()
                    .map(|(p, u)| b.candidates(p, u).fitting.len())
                    .sum::<usize>()
            })
        },
    );
    // The Tier 1 provider holding the most people fails; all its packages are
    // released and re-brokered together by the batch MILP.
    let failing = county
        .roster
        .providers
        .iter()
        .filter(|p| p.tier == Tier::Tier1)
        .max_by_key(|p| {
            let teams: Vec<&str> = county
                .roster
                .teams
                .iter()
                .filter(|t| t.provider.as_deref() == Some(&p.id))
                .map(|t| t.id.as_str())
                .collect();
            county
                .roster
                .service_users
                .iter()
                .filter(|u| u.team.as_deref().is_some_and(|t| teams.contains(&t)))
                .count()
        })
        .map(|p| p.id.clone())
        .expect("tier 1");
    let now = Utc
        .with_ymd_and_hms(2026, 11, 30, 9, 0, 0)
        .single()
        .expect("time");
    let probe_once = std::sync::Once::new();
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(30));
    group.bench_function("provider_failure_batch_rebrokering_county", |bench| {
        // One timed run with counts first (criterion calls this closure several
        // times), so the log says what the batch did.
        probe_once.call_once(|| {
            let mut probe = county.broker().expect("broker");
            let t = Instant::now();
            let events = probe
                .set_provider_status(&failing, FrameworkStatus::Failed, Vec::new(), now)
                .expect("fail");
            let count = |kind: &str| events.iter().filter(|e| e.kind() == kind).count();
            eprintln!(
                "provider failure {failing}: {} packages re-brokered in {:.2} s ({} offers, {} escalated)",
                count("package_released"),
                t.elapsed().as_secs_f64(),
                count("offer_made"),
                count("escalated")
            );
        });
        bench.iter_batched(
            || {
                Broker::new(
                    BrokerConfig::default(),
                    county.roster.clone(),
                    county.rotas.clone(),
                )
                .expect("broker")
            },
            |mut fresh| {
                fresh
                    .set_provider_status(&failing, FrameworkStatus::Failed, Vec::new(), now)
                    .expect("fail")
                    .len()
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, broker);
criterion_main!(benches);
