//! The county a simulation runs in: generated (seed and size) or read from a
//! roster file, with every team's first rota planned once and shared by every
//! seed and policy (it does not depend on them).

use super::SimError;
use super::scenario::{CountySize, CountySpec, Scenario};
use crate::broker::plan_initial_rotas;
use crate::format::{PlanningRequest, Rota, Tier};
use crate::generate::{GeneratorOptions, ProviderPlan, ScenarioSize, SizeProfile, generate_with};
use crate::model::{Horizon, Problem};
use crate::rota::SolveOptions;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// A county ready to simulate.
#[derive(Debug, Clone)]
pub struct County {
    /// Providers, teams, carers, people and active packages.
    pub roster: PlanningRequest,
    /// Each team's planned rota at the start.
    pub rotas: BTreeMap<String, Rota>,
    /// The first planning horizon; its day 0 is the run's first day (later
    /// days are counted on from it as the broker's horizon rolls).
    pub horizon: Horizon,
}

fn provider_plan(tier: Tier, count: u32, teams: (u32, u32), block_share: f64) -> ProviderPlan {
    ProviderPlan {
        tier,
        count,
        teams,
        block_share,
        rural_share: 0.3,
        suspended: 0,
        off_framework: 0,
    }
}

/// The generator's shape for a county size.
pub fn profile(size: CountySize) -> SizeProfile {
    match size {
        CountySize::Small => crate::broker::demo::small_profile(),
        // Devon Cares works with "more than 30" (KF) / "over 40" (NT) providers
        // (docs/domain.md §1.2); most are small, one-team agencies.
        CountySize::DevonLike => SizeProfile {
            providers: vec![
                provider_plan(Tier::Tier1, 6, (1, 2), 1.0),
                provider_plan(Tier::Tier2, 10, (1, 1), 0.3),
                provider_plan(Tier::Tier3, 12, (1, 1), 0.1),
                provider_plan(Tier::Specialist, 6, (1, 1), 0.25),
                provider_plan(Tier::EmergencyCover, 1, (1, 1), 1.0),
            ],
            towns: 6,
            villages: 24,
            carers_per_team: (5, 7),
            max_carers_per_team: 12,
            users_per_carer: (2.0, 2.4),
            referrals: (0, 0),
        },
        // The same kinds of provider, grown to about 150 teams over twice the
        // towns and villages: room for ~3,000 referrals a month (107 a day,
        // packages of 7-42 days: ~2,600 people in care at once) once vacant
        // carers are added (a team holds at most 12 carers, so teams, not
        // vacancies, set the county's room).
        CountySize::DevonLarge => SizeProfile {
            providers: vec![
                provider_plan(Tier::Tier1, 6, (8, 11), 1.0),
                provider_plan(Tier::Tier2, 10, (3, 5), 0.3),
                provider_plan(Tier::Tier3, 16, (2, 3), 0.1),
                provider_plan(Tier::Specialist, 7, (1, 2), 0.25),
                provider_plan(Tier::EmergencyCover, 1, (1, 1), 1.0),
            ],
            towns: 12,
            villages: 48,
            carers_per_team: (5, 7),
            max_carers_per_team: 12,
            users_per_carer: (2.0, 2.4),
            referrals: (0, 0),
        },
    }
}

/// The largest neighbourhood team the roster rules allow.
const TEAM_MAX_CARERS: usize = 12;

/// Gives every provider team (not emergency cover, which is sized on its
/// own) `share` of its carer count again as extra carers (rounded to the
/// nearest, at least one when `share` > 0, never beyond 12 carers), each working the patterns of one
/// of the team's carers in turn and keeping the team's size limit: vacant
/// capacity, which the generator (sizing shifts to the caseload) leaves none of.
fn add_spare_carers(r: &mut PlanningRequest, share: f64) {
    if share <= 0.0 {
        return;
    }
    let cover: Vec<String> = (r.providers.iter())
        .filter(|p| p.tier == Tier::EmergencyCover)
        .map(|p| p.id.clone())
        .collect();
    let mut extra = Vec::new();
    for team in &mut r.teams {
        if team.provider.as_ref().is_some_and(|p| cover.contains(p)) {
            continue;
        }
        let members: Vec<&crate::format::Carer> = (r.carers.iter())
            .filter(|c| c.team.as_ref() == Some(&team.id))
            .collect();
        if members.is_empty() {
            continue;
        }
        // Neighbourhood teams stay within the size limit (12 carers).
        let room = TEAM_MAX_CARERS.saturating_sub(members.len());
        let n = ((members.len() as f64 * share).round() as usize)
            .max(1)
            .min(room);
        for k in 0..n {
            let mut c = members[k % members.len()].clone();
            c.id = format!("{}-spare{}", c.id, k + 1);
            c.absences.clear();
            extra.push(c);
        }
        let size = (members.len() + n) as u32;
        team.max_members = team.max_members.map(|m| m.max(size));
    }
    r.carers.extend(extra);
}

/// The county's current packages end on days drawn evenly from the first
/// `days` of the run (the generator's packages run on indefinitely).
fn end_existing_packages(r: &mut PlanningRequest, days: u32, seed: u64) {
    use rand::Rng;
    let Ok(first) = chrono::NaiveDate::parse_from_str(&r.horizon.start_date, "%Y-%m-%d") else {
        return;
    };
    let mut rng = super::rng::stream(seed, super::rng::Purpose::County, 0);
    for p in &mut r.packages {
        let last = first + chrono::Days::new(u64::from(rng.random_range(0..days)));
        let starts = (p.start_date.as_deref())
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
        if p.end_date.is_none() && starts.is_none_or(|s| s <= last) {
            p.end_date = Some(last.format("%Y-%m-%d").to_string());
        }
    }
}

/// Builds the county of a scenario. `base` is the directory a roster file path
/// is relative to.
pub fn build(s: &Scenario, base: Option<&Path>) -> Result<County, SimError> {
    let (roster, iterations) = match &s.county {
        CountySpec::Generate(g) => {
            let opts = GeneratorOptions {
                days: s.horizon_days(),
                ..GeneratorOptions::new(ScenarioSize::County, g.seed)
            };
            let mut shape = profile(g.size);
            if let Some(n) = g.large_tier1_teams {
                shape
                    .providers
                    .push(provider_plan(Tier::Tier1, 1, (n, n), 1.0));
            }
            let mut r = generate_with(&opts, &shape).request;
            crate::broker::demo::standby_emergency_cover(&mut r);
            add_spare_carers(&mut r, g.spare_carers_share);
            if let Some(days) = g.existing_packages_end_within_days {
                end_existing_packages(&mut r, days, g.seed);
            }
            // Referred people of the generator's own stream are not used.
            r.service_users
                .retain(|u| u.team.is_some() || r.packages.iter().any(|p| p.service_user == u.id));
            (r, g.rota_iterations)
        }
        CountySpec::RosterFile {
            path,
            rota_iterations,
        } => {
            let full = base.map_or_else(|| Path::new(path).to_path_buf(), |b| b.join(path));
            let text = std::fs::read_to_string(&full).map_err(|e| SimError::Roster {
                path: "$.county.roster_file.path".into(),
                message: format!("cannot read `{}`: {e}", full.display()),
            })?;
            let r = crate::format::parse_request(&text).map_err(|i| SimError::Roster {
                path: "$.county.roster_file.path".into(),
                message: format!("`{}`: {i}", full.display()),
            })?;
            (r, *rota_iterations)
        }
        CountySpec::Serving => {
            return Err(SimError::Roster {
                path: "$.county".into(),
                message: "`serving` is the serving broker's state: only POST /v1/simulations on a service with a broker can run it".into(),
            });
        }
    };
    from_roster(s, roster, None, iterations)
}

/// A county from a roster: every team's first rota planned with `iterations`
/// search iterations, or `rotas` as they stand (the serving broker's).
pub fn from_roster(
    s: &Scenario,
    mut roster: PlanningRequest,
    rotas: Option<BTreeMap<String, Rota>>,
    iterations: u64,
) -> Result<County, SimError> {
    roster.existing_rota.clear();
    let problem = Problem::from_request(&roster).map_err(|issues| SimError::Roster {
        path: "$.county".into(),
        message: issues
            .iter()
            .take(5)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join("; "),
    })?;
    for (i, f) in s.provider_failures.iter().enumerate() {
        if !roster.providers.iter().any(|p| p.id == f.provider) {
            return Err(SimError::Roster {
                path: format!("$.provider_failures[{i}].provider"),
                message: format!("no provider `{}` in the county", f.provider),
            });
        }
    }
    let options = SolveOptions {
        time_limit: Duration::from_secs(120),
        max_iterations: Some(iterations),
        use_milp: false,
        ..SolveOptions::default()
    };
    let rotas = match rotas {
        Some(r) => r,
        None => plan_initial_rotas(&roster, &options).map_err(SimError::Broker)?,
    };
    Ok(County {
        roster,
        rotas,
        horizon: problem.horizon,
    })
}
