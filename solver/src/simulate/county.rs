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
