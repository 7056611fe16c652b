//! Results over seeds: per policy, means with 95% confidence intervals
//! (Student's t over seeds), the pooled fill-time distribution, and CSV tables.

use super::run::{MARKS_MIN, RunResult};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Devon Cares' reported fill rates (docs/domain.md §1.5): 70% within 1.5 h, 97% within 4 h.
pub const DEVON_TARGETS: [(i64, f64); 2] = [(90, 0.70), (240, 0.97)];

/// A mean over seeds with its 95% confidence interval.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Interval {
    /// Mean.
    pub mean: f64,
    /// Lower end of the 95% interval.
    pub lo: f64,
    /// Upper end.
    pub hi: f64,
    /// Seeds with a value.
    pub n: usize,
}

/// Two-sided 97.5% quantile of Student's t for `df` degrees of freedom.
fn t975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        d if d <= 30 => T[d - 1],
        d if d <= 60 => 2.000,
        _ => 1.960,
    }
}

impl Interval {
    /// The interval of the values (a single value gives a zero-width interval).
    pub fn of(values: &[f64]) -> Interval {
        let n = values.len();
        if n == 0 {
            return Interval {
                mean: f64::NAN,
                lo: f64::NAN,
                hi: f64::NAN,
                n,
            };
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        if n == 1 {
            return Interval {
                mean,
                lo: mean,
                hi: mean,
                n,
            };
        }
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let half = t975(n - 1) * (var / n as f64).sqrt();
        Interval {
            mean,
            lo: mean - half,
            hi: mean + half,
            n,
        }
    }
}

/// Fill-time distribution of filled referrals, pooled over seeds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Distribution {
    /// Filled referrals counted.
    pub count: usize,
    /// Percentiles 10, 25, 50, 75, 90, 95, 99 (minutes).
    pub percentiles_min: BTreeMap<String, f64>,
    /// Share of filled referrals per bucket: upper bound in minutes (`inf` last).
    pub histogram: Vec<(String, f64)>,
}

const BUCKETS_MIN: [f64; 10] = [
    5.0,
    15.0,
    30.0,
    60.0,
    90.0,
    120.0,
    240.0,
    480.0,
    1440.0,
    f64::INFINITY,
];

fn distribution(mut v: Vec<f64>) -> Distribution {
    v.sort_by(f64::total_cmp);
    let q = |p: f64| {
        if v.is_empty() {
            f64::NAN
        } else {
            v[((p * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)]
        }
    };
    let percentiles_min = [10, 25, 50, 75, 90, 95, 99]
        .iter()
        .map(|&p| {
            (
                format!("p{p}"),
                (q(f64::from(p) / 100.0) * 10.0).round() / 10.0,
            )
        })
        .collect();
    let mut lo = f64::NEG_INFINITY;
    let histogram = BUCKETS_MIN
        .iter()
        .map(|&hi| {
            let c = v.iter().filter(|&&x| x > lo && x <= hi).count();
            lo = hi;
            let label = if hi.is_finite() {
                format!("{hi}")
            } else {
                "inf".into()
            };
            (
                label,
                if v.is_empty() {
                    0.0
                } else {
                    c as f64 / v.len() as f64
                },
            )
        })
        .collect();
    Distribution {
        count: v.len(),
        percentiles_min,
        histogram,
    }
}

/// One policy over every seed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PolicySummary {
    /// Policy name.
    pub policy: String,
    /// Seeds run.
    pub seeds: usize,
    /// Referrals per run.
    pub referrals: Interval,
    /// Share filled within 1.5 h, 4 h and 24 h (keys `90`, `240`, `1440` minutes).
    pub share_within: BTreeMap<String, Interval>,
    /// Whether the mean meets Devon Cares' 70% / 97% (keys `90`, `240`).
    pub meets_devon: BTreeMap<String, bool>,
    /// Fill times of filled referrals.
    pub fill_time: Distribution,
    /// Offers per referral.
    pub offers_per_referral: Interval,
    /// Declines per referral.
    pub declines_per_referral: Interval,
    /// Mean declines per run by reason.
    pub declines_by_reason: BTreeMap<String, f64>,
    /// Mean filled referrals per run by tier.
    pub filled_by_tier: BTreeMap<String, f64>,
    /// Mean referrals per run still unfilled at the end, by reason.
    pub unfilled_by_reason: BTreeMap<String, f64>,
    /// Mean status counts at the end.
    pub status: BTreeMap<String, f64>,
    /// Emergency cover carer-hours per run.
    pub emergency_cover_hours: Interval,
    /// Liquidated damages per run, pounds.
    pub damages_pounds: Interval,
    /// Risk pool at the end, pounds.
    pub risk_pool_end_pounds: Interval,
    /// Mean risk pool (pounds) at the end of each day.
    pub risk_pool_by_day: Vec<f64>,
    /// Mean cumulative damages (pounds) at the end of each day.
    pub damages_by_day: Vec<f64>,
    /// Mean damages per run by provider, pounds.
    pub damages_by_provider: BTreeMap<String, f64>,
    /// Carer sick days per run.
    pub sick_days: Interval,
    /// Visits left unplaced by sickness re-plans per run.
    pub visits_dropped_by_sickness: Interval,
    /// Packages released by provider failures, and the share re-placed within 4 h.
    pub failure_released: Interval,
    /// Share of released packages re-placed within 4 hours of the failure.
    pub failure_replaced_within_4h: Interval,
    /// Minutes from referral to the first visit (referrals whose care started), pooled.
    pub first_visit: Distribution,
    /// Delayed-discharge bed-days proxy per run: nights hospital discharges
    /// waited from referral to their first visit (to the run's end if none).
    pub bed_days: Interval,
    /// Care minutes over rostered shift minutes (non-emergency teams).
    pub utilisation: Interval,
    /// Paid travel over care plus paid travel.
    pub paid_travel_share: Interval,
    /// Share of filled referrals whose distinct carers stay within the person's cap.
    pub continuity_within_cap: Interval,
    /// Distinct carers per filled referral over the run: count → share, pooled.
    pub continuity: BTreeMap<u32, f64>,
    /// Mean cumulative damages (pounds) by provider at the end of each day.
    pub damages_by_provider_by_day: BTreeMap<String, Vec<f64>>,
    /// Every run passed every integrity check.
    pub integrity_ok: bool,
}

/// The whole simulation result.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SimReport {
    /// Scenario name.
    pub scenario: String,
    /// Days simulated.
    pub days: u32,
    /// Seeds run.
    pub seeds: Vec<u64>,
    /// County size: providers, teams, carers, people with packages at the start.
    pub county: BTreeMap<String, usize>,
    /// Devon Cares' marks (minutes → share).
    pub devon_targets: BTreeMap<String, f64>,
    /// Per policy, in scenario order.
    pub policies: Vec<PolicySummary>,
    /// Every run.
    pub runs: Vec<RunResult>,
}

fn mean_map<'a>(
    maps: impl Iterator<Item = &'a BTreeMap<String, usize>>,
    n: usize,
) -> BTreeMap<String, f64> {
    let mut out: BTreeMap<String, f64> = BTreeMap::new();
    for m in maps {
        for (k, v) in m {
            *out.entry(k.clone()).or_default() += *v as f64;
        }
    }
    out.values_mut().for_each(|v| *v /= n.max(1) as f64);
    out
}

/// Summarises the runs of one policy.
pub fn summarise(policy: &str, runs: &[&RunResult], days: u32) -> PolicySummary {
    let n = runs.len();
    let f = |g: &dyn Fn(&RunResult) -> f64| {
        Interval::of(&runs.iter().map(|r| g(r)).collect::<Vec<_>>())
    };
    let share_within: BTreeMap<String, Interval> = MARKS_MIN
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let v: Vec<f64> = runs
                .iter()
                .filter_map(|r| r.share_within.get(i).copied().flatten())
                .collect();
            (m.to_string(), Interval::of(&v))
        })
        .collect();
    let meets_devon = DEVON_TARGETS
        .iter()
        .map(|(m, t)| {
            let ok = share_within
                .get(&m.to_string())
                .is_some_and(|i| i.mean >= *t);
            (m.to_string(), ok)
        })
        .collect();
    let fills: Vec<f64> = runs
        .iter()
        .flat_map(|r| r.outcomes.iter().filter_map(|o| o.fill_min))
        .collect();
    let status: Vec<BTreeMap<String, usize>> = runs
        .iter()
        .map(|r| {
            r.status
                .iter()
                .map(|(k, v)| (format!("{k:?}").to_lowercase(), *v))
                .collect()
        })
        .collect();
    let by_day = |g: &dyn Fn(&super::run::DayPoint) -> i64| -> Vec<f64> {
        (0..days as usize)
            .map(|d| {
                let v: Vec<f64> = runs
                    .iter()
                    .filter_map(|r| r.daily.get(d).map(|p| g(p) as f64 / 100.0))
                    .collect();
                if v.is_empty() {
                    f64::NAN
                } else {
                    (v.iter().sum::<f64>() / v.len() as f64 * 100.0).round() / 100.0
                }
            })
            .collect()
    };
    let mut damages_by_provider: BTreeMap<String, f64> = BTreeMap::new();
    for r in runs {
        for (p, v) in &r.damages_by_provider {
            *damages_by_provider.entry(p.clone()).or_default() +=
                *v as f64 / 100.0 / n.max(1) as f64;
        }
    }
    let released = |r: &RunResult| r.failures.iter().map(|f| f.released).sum::<usize>();
    let within: Vec<f64> = runs
        .iter()
        .filter(|r| released(r) > 0)
        .map(|r| {
            r.failures
                .iter()
                .map(|f| f.replaced_within_4h)
                .sum::<usize>() as f64
                / released(r) as f64
        })
        .collect();
    let mut by_provider_day: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in runs {
        for (d, p) in r.daily.iter().enumerate() {
            for (prov, v) in &p.damages_by_provider {
                let series = by_provider_day
                    .entry(prov.clone())
                    .or_insert_with(|| vec![0.0; days as usize]);
                if let Some(x) = series.get_mut(d) {
                    *x += *v as f64 / 100.0 / n.max(1) as f64;
                }
            }
        }
    }
    let carers: Vec<u32> = runs
        .iter()
        .flat_map(|r| r.outcomes.iter().filter_map(|o| o.distinct_carers))
        .collect();
    let mut continuity: BTreeMap<u32, f64> = BTreeMap::new();
    for c in &carers {
        *continuity.entry(*c).or_default() += 1.0 / carers.len() as f64;
    }
    PolicySummary {
        first_visit: distribution(
            runs.iter()
                .flat_map(|r| r.outcomes.iter().filter_map(|o| o.first_visit_min))
                .collect(),
        ),
        bed_days: f(&|r| f64::from(r.bed_days)),
        utilisation: f(&|r| r.utilisation),
        paid_travel_share: f(&|r| r.paid_travel_share),
        continuity_within_cap: Interval::of(
            &runs
                .iter()
                .filter_map(|r| r.continuity_within_cap)
                .collect::<Vec<_>>(),
        ),
        continuity,
        damages_by_provider_by_day: by_provider_day,
        policy: policy.to_string(),
        seeds: n,
        referrals: f(&|r| r.referrals as f64),
        share_within,
        meets_devon,
        fill_time: distribution(fills),
        offers_per_referral: f(&|r| r.offers_per_referral),
        declines_per_referral: f(&|r| r.declines_per_referral),
        declines_by_reason: mean_map(runs.iter().map(|r| &r.declines_by_reason), n),
        filled_by_tier: mean_map(runs.iter().map(|r| &r.filled_by_tier), n),
        unfilled_by_reason: mean_map(runs.iter().map(|r| &r.unfilled_by_reason), n),
        status: mean_map(status.iter(), n),
        emergency_cover_hours: f(&|r| r.emergency_cover_hours),
        damages_pounds: f(&|r| r.damages_pence as f64 / 100.0),
        risk_pool_end_pounds: f(&|r| r.risk_pool_end_pence as f64 / 100.0),
        risk_pool_by_day: by_day(&|p| p.risk_pool_pence),
        damages_by_day: by_day(&|p| p.damages_pence),
        damages_by_provider,
        sick_days: f(&|r| r.sick_days as f64),
        visits_dropped_by_sickness: f(&|r| r.visits_dropped_by_sickness as f64),
        failure_released: f(&|r| released(r) as f64),
        failure_replaced_within_4h: Interval::of(&within),
        integrity_ok: runs.iter().all(|r| {
            let i = &r.integrity;
            i.referrals_accounted
                && i.ledger_trial_balance == 0
                && i.ledger_verified
                && i.rota_violations == 0
                && i.visits_lost == 0
        }),
    }
}

fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{}", (x * 10_000.0).round() / 10_000.0)
    } else {
        String::new()
    }
}

impl SimReport {
    /// CSV tables: `summary.csv` (policy, metric, mean, lo, hi, n), `runs.csv`
    /// (one row per policy and seed), `fill_times.csv` (one row per referral)
    /// and `daily.csv` (policy, seed, day series).
    pub fn csv(&self) -> Vec<(&'static str, String)> {
        let mut summary = String::from("policy,metric,mean,lo,hi,n\n");
        for p in &self.policies {
            let mut row = |metric: &str, i: &Interval| {
                let _ = writeln!(
                    summary,
                    "{},{metric},{},{},{},{}",
                    p.policy,
                    num(i.mean),
                    num(i.lo),
                    num(i.hi),
                    i.n
                );
            };
            for (m, i) in &p.share_within {
                row(&format!("share_filled_within_{m}_min"), i);
            }
            row("referrals", &p.referrals);
            row("offers_per_referral", &p.offers_per_referral);
            row("declines_per_referral", &p.declines_per_referral);
            row("emergency_cover_hours", &p.emergency_cover_hours);
            row("damages_pounds", &p.damages_pounds);
            row("risk_pool_end_pounds", &p.risk_pool_end_pounds);
            row("sick_days", &p.sick_days);
            row("visits_dropped_by_sickness", &p.visits_dropped_by_sickness);
            row("failure_released", &p.failure_released);
            row("failure_replaced_within_4h", &p.failure_replaced_within_4h);
            row("bed_days", &p.bed_days);
            row("carer_utilisation", &p.utilisation);
            row("paid_travel_share", &p.paid_travel_share);
            row("continuity_within_cap", &p.continuity_within_cap);
            if let Some(m) = p.first_visit.percentiles_min.get("p50") {
                let one = Interval::of(&[*m]);
                row("first_visit_median_min", &one);
            }
        }
        let mut runs = String::from(
            "policy,seed,referrals,filled,escalated,open,cancelled,within_90,within_240,within_1440,offers_per_referral,declines_per_referral,offers_expired,emergency_cover_hours,damages_pence,risk_pool_end_pence,sick_days,visits_dropped_by_sickness,broker_events,rota_violations,visits_lost,ledger_trial_balance,utilisation,paid_travel_share,bed_days,continuity_within_cap\n",
        );
        let mut fills = String::from(
            "policy,seed,package,urgency,referred_at,filled_at,fill_min,filled_tier,status,offers,declines,first_visit_at,first_visit_min,bed_nights,distinct_carers,continuity_cap\n",
        );
        let mut daily = String::from(
            "policy,seed,day,risk_pool_pence,damages_pence,waiting,escalated,care_min,travel_min,shift_min\n",
        );
        for r in &self.runs {
            let st = |s| r.status.get(&s).copied().unwrap_or(0);
            use crate::broker::PackageStatus as S;
            let w = |i: usize| {
                r.share_within
                    .get(i)
                    .copied()
                    .flatten()
                    .map_or(String::new(), num)
            };
            let _ = writeln!(
                runs,
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                r.policy,
                r.seed,
                r.referrals,
                st(S::Filled),
                st(S::Escalated),
                st(S::Open),
                st(S::Cancelled),
                w(0),
                w(1),
                w(2),
                num(r.offers_per_referral),
                num(r.declines_per_referral),
                r.offers_expired,
                num(r.emergency_cover_hours),
                r.damages_pence,
                r.risk_pool_end_pence,
                r.sick_days,
                r.visits_dropped_by_sickness,
                r.broker_events,
                r.integrity.rota_violations,
                r.integrity.visits_lost,
                r.integrity.ledger_trial_balance,
                num(r.utilisation),
                num(r.paid_travel_share),
                r.bed_days,
                r.continuity_within_cap.map(num).unwrap_or_default()
            );
            for o in &r.outcomes {
                let _ = writeln!(
                    fills,
                    "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                    r.policy,
                    r.seed,
                    o.package,
                    o.urgency,
                    o.referred_at.to_rfc3339(),
                    o.filled_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                    o.fill_min.map(num).unwrap_or_default(),
                    o.filled_tier
                        .map(|t| super::scenario::tier_key(t).to_string())
                        .unwrap_or_default(),
                    format!("{:?}", o.status).to_lowercase(),
                    o.offers,
                    o.declines,
                    o.first_visit_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                    o.first_visit_min.map(num).unwrap_or_default(),
                    o.bed_nights.map(|n| n.to_string()).unwrap_or_default(),
                    o.distinct_carers.map(|n| n.to_string()).unwrap_or_default(),
                    o.continuity_cap
                );
            }
            for d in &r.daily {
                let _ = writeln!(
                    daily,
                    "{},{},{},{},{},{},{},{},{},{}",
                    r.policy,
                    r.seed,
                    d.day,
                    d.risk_pool_pence,
                    d.damages_pence,
                    d.waiting,
                    d.escalated,
                    d.care_min,
                    d.travel_min,
                    d.shift_min
                );
            }
        }
        vec![
            ("summary.csv", summary),
            ("runs.csv", runs),
            ("fill_times.csv", fills),
            ("daily.csv", daily),
        ]
    }
}
