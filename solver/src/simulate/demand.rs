//! Referrals arriving over the run: when (a Poisson process by hour of day and
//! day of week), where (near a team's base, a tenth anywhere in the county),
//! and what (the package mix). Drawn from the seed's own stream so every
//! policy sees the same referrals (common random numbers).

use super::county::County;
use super::rng::{Purpose, stream};
use super::scenario::{PackageMix, Scenario};
use crate::format::{
    Funding, Gender, GenderPreference, Location, Package, ServiceUser, Strength, Tier, TimeSpec,
    Urgency, VisitPattern,
};
use chrono::{DateTime, Datelike, Utc};
use rand::Rng;

/// One referral: when it arrives, the package and its person.
#[derive(Debug, Clone)]
pub struct Referral {
    /// Arrival instant.
    pub at: DateTime<Utc>,
    /// The package (its `referral_time` is `at`).
    pub package: Package,
    /// The person.
    pub user: ServiceUser,
}

/// Visit slots by number of visits a day: (pattern id, earliest, latest start).
const SLOTS: [&[(&str, &str, &str)]; 4] = [
    &[("morning", "07:30", "10:00")],
    &[("morning", "07:30", "10:00"), ("tea", "16:30", "18:30")],
    &[
        ("morning", "07:30", "10:00"),
        ("lunch", "12:00", "14:00"),
        ("tea", "16:30", "18:30"),
    ],
    &[
        ("morning", "07:30", "10:00"),
        ("lunch", "12:00", "14:00"),
        ("tea", "16:30", "18:30"),
        ("bed", "19:30", "21:30"),
    ],
];

fn pick_weighted<R: Rng>(rng: &mut R, w: &[f64]) -> usize {
    let total: f64 = w.iter().filter(|x| **x > 0.0).sum();
    if total <= 0.0 {
        return 0;
    }
    let mut x = rng.random_range(0.0..total);
    for (i, v) in w.iter().enumerate() {
        if *v <= 0.0 {
            continue;
        }
        if x < *v {
            return i;
        }
        x -= v;
    }
    w.len().saturating_sub(1)
}

/// A Poisson draw by inversion (rates per hour are small).
fn poisson<R: Rng>(rng: &mut R, lambda: f64) -> u32 {
    if lambda <= 0.0 {
        return 0;
    }
    let mut k = 0u32;
    let mut p = (-lambda).exp();
    let mut cum = p;
    let u: f64 = rng.random_range(0.0..1.0);
    while u > cum && k < 10_000 {
        k += 1;
        p *= lambda / f64::from(k);
        cum += p;
    }
    k
}

/// New referrals live this close to someone already receiving care (metres).
const NEIGHBOUR_M: f64 = 800.0;
/// Share of referrals from anywhere in the county's bounding box.
const REMOTE_SHARE: f64 = 0.03;

/// Every referral of one seed, in arrival order.
pub fn referrals(s: &Scenario, county: &County, seed: u64) -> Vec<Referral> {
    let mut when = stream(seed, Purpose::Arrivals, 0);
    let a = &s.arrivals;
    let hours: f64 = a.by_hour.iter().sum();
    let week: f64 = a.by_weekday.iter().sum::<f64>() / 7.0;
    let h = &county.horizon;
    let mut times = Vec::new();
    for day in 0..s.days {
        let wd = h.date(day).weekday().num_days_from_monday() as usize;
        for hour in 0..24u32 {
            let rate = a.per_day
                * a.surge
                * (a.by_weekday[wd] / week)
                * (a.by_hour[hour as usize] / hours);
            for _ in 0..poisson(&mut when, rate) {
                let minute = day as i32 * 1440 + hour as i32 * 60 + when.random_range(0..60);
                times.push(minute);
            }
        }
    }
    times.sort_unstable();
    // People live where the county's people live: new referrals are drawn
    // around the homes of people the providers' teams already visit (so
    // inside some provider's service area, as almost everywhere in a real
    // county), a few anywhere in the county (remote addresses).
    let cover_teams: Vec<&str> = (county.roster.teams.iter())
        .filter(|t| {
            county
                .roster
                .providers
                .iter()
                .any(|p| Some(&p.id) == t.provider.as_ref() && p.tier == Tier::EmergencyCover)
        })
        .map(|t| t.id.as_str())
        .collect();
    let bases: Vec<(Location, f64)> = (county.roster.service_users.iter())
        .filter(|u| u.team.as_deref().is_some_and(|t| !cover_teams.contains(&t)))
        .map(|u| (u.location, NEIGHBOUR_M))
        .collect();
    let mut what = stream(seed, Purpose::Packages, 0);
    times
        .into_iter()
        .enumerate()
        .map(|(k, minute)| {
            let at = h.instant(minute).with_timezone(&Utc);
            let (package, user) = draw(&mut what, &s.package_mix, &bases, county, k, minute);
            Referral { at, package, user }
        })
        .collect()
}

fn draw<R: Rng>(
    rng: &mut R,
    mix: &PackageMix,
    bases: &[(Location, f64)],
    county: &County,
    k: usize,
    minute: i32,
) -> (Package, ServiceUser) {
    let h = &county.horizon;
    let id = format!("sim-{:05}", k + 1);
    let uid = format!("sim-su-{:05}", k + 1);
    let location = if bases.is_empty() || rng.random_bool(REMOTE_SHARE) {
        // Anywhere between the teams' bases (rural people far from any team).
        let lats: Vec<f64> = county.roster.teams.iter().map(|t| t.base.lat).collect();
        let lons: Vec<f64> = county.roster.teams.iter().map(|t| t.base.lon).collect();
        let (lo_a, hi_a) = min_max(&lats);
        let (lo_o, hi_o) = min_max(&lons);
        Location {
            lat: round6(lo_a + (hi_a - lo_a) * rng.random_range(0.0..=1.0)),
            lon: round6(lo_o + (hi_o - lo_o) * rng.random_range(0.0..=1.0)),
            matrix_index: None,
        }
    } else {
        let (base, r) = &bases[rng.random_range(0..bases.len())];
        let dist = r * rng.random_range(0.0f64..1.0).sqrt();
        let bearing = rng.random_range(0.0..std::f64::consts::TAU);
        let dlat = dist * bearing.cos() / 111_320.0;
        let dlon = dist * bearing.sin() / (111_320.0 * base.lat.to_radians().cos());
        Location {
            lat: round6(base.lat + dlat),
            lon: round6(base.lon + dlon),
            matrix_index: None,
        }
    };
    let urgencies: Vec<(Urgency, f64)> = mix.urgency.iter().map(|(u, w)| (*u, *w)).collect();
    let urgency =
        urgencies[pick_weighted(rng, &urgencies.iter().map(|x| x.1).collect::<Vec<_>>())].0;
    let per_day = pick_weighted(rng, &mix.visits_per_day);
    let double = rng.random_bool(mix.double_handed_share);
    let specialist = rng.random_bool(mix.specialist_share) && !mix.specialist_skills.is_empty();
    let visits = SLOTS[per_day.min(3)]
        .iter()
        .map(|(vid, start, end)| VisitPattern {
            id: (*vid).into(),
            days: vec!["daily".into()],
            time: TimeSpec::Window {
                start: (*start).into(),
                end: (*end).into(),
            },
            duration_min: mix.durations_min[rng.random_range(0..mix.durations_min.len())],
            carers_required: if double { 2 } else { 1 },
            required_skills: Vec::new(),
            demand: 0,
        })
        .collect();
    let mut skills = vec!["personal_care".to_string()];
    if specialist {
        skills
            .push(mix.specialist_skills[rng.random_range(0..mix.specialist_skills.len())].clone());
    }
    let day = (minute / 1440) as u32;
    // Care starts the day of a crisis or discharge (the next day when referred
    // in the evening), a few days on for routine and planned referrals (inside
    // the broker's look-ahead of at least a week).
    let start = match urgency {
        Urgency::Crisis => day,
        Urgency::HospitalDischarge => day + u32::from(minute % 1440 >= 17 * 60),
        Urgency::Planned => day + rng.random_range(2..=5u32),
        _ => day + rng.random_range(1..=3u32),
    };
    let gender = rng
        .random_bool(mix.gender_required_share)
        .then_some(GenderPreference {
            gender: Gender::Female,
            strength: Strength::Required,
        });
    let package = Package {
        id,
        service_user: uid.clone(),
        visits,
        links: Vec::new(),
        required_skills: skills,
        referral_time: Some(h.format(minute)),
        urgency,
        funding: if specialist {
            Funding::Joint
        } else {
            Funding::Council
        },
        start_date: Some((h.date(start)).format("%Y-%m-%d").to_string()),
        // Drawn last so scenarios without lengths keep their streams.
        end_date: mix.length_days.map(|[lo, hi]| {
            let days = rng.random_range(lo.max(1)..=hi.max(lo.max(1)));
            h.date(start + days - 1).format("%Y-%m-%d").to_string()
        }),
    };
    let user = ServiceUser {
        id: uid,
        location,
        team: None,
        carer_gender: gender,
        preferred_carers: Vec::new(),
        excluded_carers: Vec::new(),
        known_carers: Vec::new(),
        continuity_cap: None,
    };
    (package, user)
}

fn min_max(v: &[f64]) -> (f64, f64) {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if lo.is_finite() { (lo, hi) } else { (0.0, 0.0) }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}
