//! Deterministic, seeded synthetic counties for tests, fixtures and benchmarks.
//!
//! [`generate`] builds a Devon-like county (docs/domain.md §1, §2, §3, §14, §15):
//! tiered providers with block or spot contracts, neighbourhood teams of up
//! to 12 carers with areas around a town or village base, carers with shifts
//! sized to their team's demand, service users with their active packages,
//! and a stream of unfilled referrals for the broker. The same
//! [`GeneratorOptions`] always give byte-identical JSON: every random draw
//! comes from ChaCha8 streams derived from the seed (one per team), and
//! coordinates are rounded to 6 decimals.

mod calendar;
mod county;
mod geometry;
mod needs;
mod people;
mod referrals;
mod roster;
mod stats;
#[cfg(test)]
mod tests;

pub use stats::ScenarioStats;

use crate::format::{
    AreaGeometry, AutoAcceptPolicy, ContractTerms, DEFAULT_SKILLS, FORMAT_TAG, HaversineSpec,
    Horizon, Package, PlanningRequest, Provider, Settings, Team, Tier, TravelSpec, UrbanArea,
};
use calendar::{Calendar, selector_applies};
use chrono::NaiveDate;
use county::{TeamKind, TeamSite};
use geometry::{Point, circle_polygon, union_of_circles};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// How big a county to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScenarioSize {
    /// One team of 4 carers and about 12 people: small enough for exhaustive tests.
    Small,
    /// One neighbourhood team: 12 carers, about 50 people with packages (plus a
    /// few referrals) and 800-900 visits a week, as many as its shifts and 45-48 h
    /// weekly caps can carry (the rota engine's benchmark, docs/domain.md §14 scenario 3).
    Team,
    /// One Tier 1 provider with about 6 teams.
    Provider,
    /// About 40 providers, 150 teams, 1,500 carers and 4,000 people (docs/domain.md §15).
    County,
}

impl ScenarioSize {
    /// Every size, smallest first.
    pub const ALL: [ScenarioSize; 4] = [
        ScenarioSize::Small,
        ScenarioSize::Team,
        ScenarioSize::Provider,
        ScenarioSize::County,
    ];

    /// The lower-case name accepted by [`FromStr`].
    pub fn as_str(self) -> &'static str {
        match self {
            ScenarioSize::Small => "small",
            ScenarioSize::Team => "team",
            ScenarioSize::Provider => "provider",
            ScenarioSize::County => "county",
        }
    }

    /// The default shape of this size.
    pub fn profile(self) -> SizeProfile {
        let plan = |tier, count, teams, block_share, rural_share| ProviderPlan {
            tier,
            count,
            teams,
            block_share,
            rural_share,
            suspended: 0,
            off_framework: 0,
        };
        match self {
            ScenarioSize::Small => SizeProfile {
                providers: vec![plan(Tier::Tier2, 1, (1, 1), 0.0, 0.0)],
                towns: 8,
                villages: 40,
                carers_per_team: (4, 4),
                max_carers_per_team: 12,
                users_per_carer: (3.0, 3.0),
                referrals: (2, 3),
            },
            ScenarioSize::Team => SizeProfile {
                providers: vec![plan(Tier::Tier2, 1, (1, 1), 0.0, 0.0)],
                towns: 8,
                villages: 40,
                carers_per_team: (12, 12),
                max_carers_per_team: 12,
                users_per_carer: (4.5, 4.8),
                referrals: (4, 8),
            },
            ScenarioSize::Provider => SizeProfile {
                providers: vec![plan(Tier::Tier1, 1, (6, 6), 1.0, 0.35)],
                towns: 8,
                villages: 40,
                carers_per_team: (9, 12),
                max_carers_per_team: 12,
                users_per_carer: (3.2, 3.8),
                referrals: (15, 25),
            },
            ScenarioSize::County => SizeProfile {
                providers: vec![
                    plan(Tier::Tier1, 8, (7, 9), 1.0, 0.45),
                    ProviderPlan {
                        suspended: 1,
                        ..plan(Tier::Tier2, 12, (3, 5), 0.3, 0.4)
                    },
                    ProviderPlan {
                        off_framework: 1,
                        ..plan(Tier::Tier3, 15, (1, 3), 0.1, 0.35)
                    },
                    plan(Tier::Specialist, 4, (2, 3), 0.25, 0.2),
                    plan(Tier::EmergencyCover, 1, (2, 2), 1.0, 0.0),
                ],
                towns: 8,
                villages: 40,
                carers_per_team: (8, 12),
                max_carers_per_team: 12,
                users_per_carer: (2.3, 3.0),
                referrals: (80, 160),
            },
        }
    }
}

impl fmt::Display for ScenarioSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A size name that is not `small`, `team`, `provider` or `county`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownSize(pub String);

impl fmt::Display for UnknownSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown scenario size {:?} (expected small, team, provider or county)",
            self.0
        )
    }
}

impl std::error::Error for UnknownSize {}

impl FromStr for ScenarioSize {
    type Err = UnknownSize;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ScenarioSize::ALL
            .into_iter()
            .find(|z| z.as_str() == s)
            .ok_or_else(|| UnknownSize(s.to_string()))
    }
}

/// Providers of one tier in a [`SizeProfile`].
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderPlan {
    /// Cascade position of these providers.
    pub tier: Tier,
    /// How many providers.
    pub count: u32,
    /// Teams per provider, inclusive range.
    pub teams: (u32, u32),
    /// Probability that a provider holds a block contract (else spot).
    pub block_share: f64,
    /// Probability that a team other than the first is rural (village-based).
    pub rural_share: f64,
    /// How many of them are suspended from the framework.
    pub suspended: u32,
    /// How many of them are off the framework (spot only).
    pub off_framework: u32,
}

/// The shape of a generated county; [`ScenarioSize::profile`] gives the defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct SizeProfile {
    /// Providers by tier.
    pub providers: Vec<ProviderPlan>,
    /// Market towns.
    pub towns: u32,
    /// Villages (bases of rural teams).
    pub villages: u32,
    /// Carers per team, inclusive range (clamped to `max_carers_per_team`).
    pub carers_per_team: (u32, u32),
    /// Team size cap, also written to `settings.max_team_size` (Buurtzorg: 12).
    pub max_carers_per_team: u32,
    /// Service users per carer, range: the team's load.
    pub users_per_carer: (f64, f64),
    /// Referrals in the stream, inclusive range.
    pub referrals: (u32, u32),
}

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeneratorOptions {
    /// Size of the county.
    pub size: ScenarioSize,
    /// Seed of every random draw.
    pub seed: u64,
    /// First planned day (default 2026-11-30, a Monday).
    pub start_date: NaiveDate,
    /// Days planned (default 7; clamped to 1-28).
    pub days: u32,
}

impl GeneratorOptions {
    /// Options for `size` and `seed` with the default start date and a 7-day horizon.
    pub fn new(size: ScenarioSize, seed: u64) -> Self {
        GeneratorOptions {
            size,
            seed,
            ..Self::default()
        }
    }
}

impl Default for GeneratorOptions {
    fn default() -> Self {
        GeneratorOptions {
            size: ScenarioSize::Team,
            seed: 0,
            start_date: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_default(),
            days: 7,
        }
    }
}

/// A generated county and the referrals arriving into it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    /// The county as it stands: providers, teams, carers, service users and their
    /// ACTIVE packages (each service user with a package has `team = Some(team)`).
    pub request: PlanningRequest,
    /// A stream of unfilled packages (referrals) with referral times within the
    /// horizon's first days; their service users are in `request.service_users`
    /// with team `None`, and their packages are NOT in `request.packages`.
    pub referrals: Vec<Package>,
}

impl Scenario {
    /// The request with every referral added as a package (the broker's batch view).
    pub fn request_with_referrals(&self) -> PlanningRequest {
        let mut r = self.request.clone();
        r.packages.extend(self.referrals.iter().cloned());
        r
    }

    /// Counts and minutes, for reports and sanity checks.
    pub fn stats(&self) -> ScenarioStats {
        stats::stats(self)
    }
}

/// Generates the county for `options`; the same options give byte-identical JSON.
pub fn generate(options: &GeneratorOptions) -> Scenario {
    generate_with(options, &options.size.profile())
}

/// Generates a county of a custom shape (`options.size` is then ignored).
pub fn generate_with(options: &GeneratorOptions, profile: &SizeProfile) -> Scenario {
    let cal = Calendar::new(options.start_date, options.days);
    let geo = county::geography(
        &mut stream(options.seed, 1),
        profile.towns,
        profile.villages,
    );
    let (provider_sites, team_sites) = county::plan(&mut stream(options.seed, 2), &geo, profile);

    let mut teams = Vec::new();
    let mut carers = Vec::new();
    let mut users = Vec::new();
    let mut packages = Vec::new();
    let mut team_ids = Vec::new();
    for (t, site) in team_sites.iter().enumerate() {
        let team_id = format!("team-{:03}", t + 1);
        let mut rng = stream(options.seed, 1000 + t as u64);
        let people = people::build_team(
            &mut rng,
            site,
            &team_id,
            &geo,
            &cal,
            carers.len(),
            users.len(),
        );
        teams.push(Team {
            id: team_id.clone(),
            provider: Some(format!("prov-{:02}", site.provider + 1)),
            name: Some(site.name.clone()),
            base: site.base.location(),
            area: Some(circle_polygon(site.base, site.radius_m)),
            max_members: None,
            max_caseload: (site.kind != TeamKind::Emergency).then_some(60),
        });
        carers.extend(people.carers);
        users.extend(people.users);
        packages.extend(people.packages);
        team_ids.push(team_id);
    }

    let providers = provider_sites
        .iter()
        .enumerate()
        .map(|(p, site)| {
            provider(
                &mut stream(options.seed, 3000 + p as u64),
                p,
                site,
                &team_sites,
                &team_ids,
                &carers,
                &packages,
                &users,
                &cal,
            )
        })
        .collect();

    let mut ref_rng = stream(options.seed, 3);
    let (lo, hi) = profile.referrals;
    let n_ref = ref_rng.random_range(lo.min(hi)..=hi);
    let (ref_users, referrals) =
        referrals::referrals(&mut ref_rng, n_ref, &team_sites, &carers, &cal);
    users.extend(ref_users);

    let travel = TravelSpec::Haversine(HaversineSpec {
        urban_areas: geo
            .towns
            .iter()
            .map(|t| UrbanArea {
                name: Some(t.name.clone()),
                centre: t.centre.location(),
                radius_m: t.radius_m,
            })
            .collect(),
        ..HaversineSpec::default()
    });
    let request = PlanningRequest {
        format: FORMAT_TAG.to_string(),
        horizon: Horizon {
            start_date: options.start_date.format("%Y-%m-%d").to_string(),
            days: cal.days(),
            utc_offset: None,
            time_zone: Some(cal.time_zone().to_string()),
        },
        settings: Settings {
            max_team_size: profile.max_carers_per_team,
            ..Settings::default()
        },
        travel,
        providers,
        teams,
        carers,
        service_users: users,
        packages,
        existing_rota: Vec::new(),
        frozen_before: None,
    };
    Scenario { request, referrals }
}

/// Builds one wire provider from its site and its teams' people.
#[allow(clippy::too_many_arguments)]
fn provider(
    rng: &mut ChaCha8Rng,
    p: usize,
    site: &county::ProviderSite,
    team_sites: &[TeamSite],
    team_ids: &[String],
    carers: &[crate::format::Carer],
    packages: &[Package],
    users: &[crate::format::ServiceUser],
    cal: &Calendar,
) -> Provider {
    let own: BTreeSet<&str> = site
        .teams
        .iter()
        .filter_map(|&t| team_ids.get(t).map(String::as_str))
        .collect();
    let circles: Vec<(Point, f64)> = site
        .teams
        .iter()
        .filter_map(|&t| team_sites.get(t))
        .map(|t| (t.base, t.radius_m))
        .collect();
    let service_area = if matches!(site.tier, Tier::Tier1 | Tier::EmergencyCover) {
        enclosing_circle(&circles)
    } else {
        union_of_circles(&circles)
    };
    let mask = carers
        .iter()
        .filter(|c| c.team.as_deref().is_some_and(|t| own.contains(t)))
        .flat_map(|c| c.skills.iter())
        .fold(0, |m, s| m | skill_bit(s));
    let contract = if site.tier == Tier::EmergencyCover {
        // The risk pool funds the whole team's time, used or not.
        let carers = carers
            .iter()
            .filter(|c| c.team.as_deref().is_some_and(|t| own.contains(t)))
            .count();
        ContractTerms::Block {
            committed_min_per_week: carers as u32 * 1800,
        }
    } else if site.block {
        let own_users: BTreeSet<&str> = users
            .iter()
            .filter(|u| u.team.as_deref().is_some_and(|t| own.contains(t)))
            .map(|u| u.id.as_str())
            .collect();
        let minutes: f64 = packages
            .iter()
            .filter(|pk| own_users.contains(pk.service_user.as_str()))
            .map(|pk| weekly_visit_minutes(pk, cal))
            .sum();
        // Councils commit to most, not all, of what a block provider delivers.
        let committed = (minutes * rng.random_range(0.75..0.95) / 60.0).round() as u32 * 60;
        ContractTerms::Block {
            committed_min_per_week: committed,
        }
    } else {
        ContractTerms::Spot
    };
    let auto_accept = match site.tier {
        Tier::EmergencyCover => AutoAcceptPolicy {
            enabled: true,
            max_min_per_week: None,
            single_handed_only: false,
        },
        Tier::Specialist => AutoAcceptPolicy::default(),
        tier => {
            let p_on = match tier {
                Tier::Tier1 => 0.5,
                Tier::Tier2 => 0.3,
                _ => 0.2,
            };
            if rng.random_bool(p_on) {
                AutoAcceptPolicy {
                    enabled: true,
                    max_min_per_week: Some(rng.random_range(7..=14u32) * 60),
                    single_handed_only: rng.random_bool(0.7),
                }
            } else {
                AutoAcceptPolicy::default()
            }
        }
    };
    Provider {
        id: format!("prov-{:02}", p + 1),
        name: site.name.clone(),
        tier: site.tier,
        framework_status: site.status,
        service_areas: vec![service_area],
        contract,
        hourly_rate_pence: site.rate_pence,
        skills: skill_names(mask),
        auto_accept,
    }
}

/// One circle around the teams' bases covering all their areas (a locality
/// contract area, as block contracts have).
fn enclosing_circle(circles: &[(Point, f64)]) -> AreaGeometry {
    let n = circles.len().max(1) as f64;
    let centre = Point {
        lat: circles.iter().map(|c| c.0.lat).sum::<f64>() / n,
        lon: circles.iter().map(|c| c.0.lon).sum::<f64>() / n,
    };
    let radius = circles
        .iter()
        .map(|&(c, r)| centre.distance_m(c) + r)
        .fold(1_000.0, f64::max);
    circle_polygon(centre, (radius / 500.0).ceil() * 500.0)
}

/// Carer-minutes of visits a package asks for in the horizon's first week.
fn weekly_visit_minutes(p: &Package, cal: &Calendar) -> f64 {
    p.visits
        .iter()
        .map(|v| {
            let days = (0..7)
                .filter(|&i| selector_applies(&v.days, cal.date(i)))
                .count();
            f64::from(v.duration_min * v.carers_required) * days as f64
        })
        .sum()
}

/// Writes the committed fixtures into `dir` (normally the workspace's `fixtures/`).
pub fn write_fixtures(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, json) in fixture_files().map_err(std::io::Error::other)? {
        std::fs::write(dir.join(name), json)?;
    }
    Ok(())
}

/// The committed fixtures as (file name, pretty JSON with a final newline):
/// `small_team.json` (Small, seed 1, 2 days), `team_week.json` (Team, seed 7),
/// `provider_week.json` (Provider, seed 11) and `provider_referrals.json`.
pub fn fixture_files() -> Result<Vec<(&'static str, String)>, serde_json::Error> {
    let opts = |size, seed, days| GeneratorOptions {
        days,
        ..GeneratorOptions::new(size, seed)
    };
    let small = generate(&opts(ScenarioSize::Small, 1, 2));
    let team = generate(&opts(ScenarioSize::Team, 7, 7));
    let provider = generate(&opts(ScenarioSize::Provider, 11, 7));
    Ok(vec![
        ("small_team.json", pretty(&small.request)?),
        ("team_week.json", pretty(&team.request)?),
        ("provider_week.json", pretty(&provider.request)?),
        ("provider_referrals.json", pretty(&provider.referrals)?),
    ])
}

/// Pretty JSON with a final newline (what the fixtures hold).
fn pretty<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(value).map(|s| s + "\n")
}

/// An independent random stream of `seed`: streams never overlap, so adding
/// draws in one part of the generator does not shift any other part.
fn stream(seed: u64, id: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(id);
    rng
}

/// A weighted choice; `items` must not be empty (all callers pass literals).
fn pick<'a, R: Rng, T>(rng: &mut R, items: &'a [(T, f64)]) -> &'a T {
    let weights: Vec<f64> = items.iter().map(|x| x.1).collect();
    let i = pick_index(rng, &weights).unwrap_or(0);
    &items[i.min(items.len().saturating_sub(1))].0
}

/// Index of a weighted choice; `None` when no weight is positive.
fn pick_index<R: Rng>(rng: &mut R, weights: &[f64]) -> Option<usize> {
    let total: f64 = weights.iter().filter(|w| **w > 0.0).sum();
    if total <= 0.0 {
        return None;
    }
    let mut x = rng.random::<f64>() * total;
    let mut last = None;
    for (i, w) in weights.iter().enumerate() {
        if *w > 0.0 {
            if x < *w {
                return Some(i);
            }
            x -= *w;
            last = Some(i);
        }
    }
    last
}

/// Bit of a skill in the default catalogue (0 for an unknown name).
fn skill_bit(name: &str) -> u32 {
    DEFAULT_SKILLS
        .iter()
        .position(|s| *s == name)
        .map_or(0, |i| 1 << i)
}

/// Skill names of a bit set, in catalogue order.
fn skill_names(mask: u32) -> Vec<String> {
    DEFAULT_SKILLS
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, s)| s.to_string())
        .collect()
}
