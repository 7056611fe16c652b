//! The demo data of `carefill serve --demo`: a generated team (its request is
//! served at `GET /v1/demo/request`), a generated county for the broker with its
//! stream of referrals, and one fresh API key per role.

use super::io::write_private;
use carefill_api::KeyStore;
use carefill_api::auth::DemoKeys;
use carefill_solver::broker::HorizonPolicy;
use carefill_solver::broker::demo::{self, DemoCounty};
use carefill_solver::format::{Package, PlanningRequest, ServiceUser};
use carefill_solver::generate::{
    GeneratorOptions, ScenarioSize, SizeProfile, generate, generate_with,
};
use chrono::{DateTime, Utc};
use std::path::Path;

/// Generator seed of the demo team.
const TEAM_SEED: u64 = 7;
/// Generator seed of the demo county.
const COUNTY_SEED: u64 = 1;
/// Search iterations per team when planning the demo county's rotas: enough for
/// sensible rotas while the service starts in seconds.
const COUNTY_ROTA_ITERATIONS: u64 = 60;

/// How big a county `--demo` generates for the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoSize {
    /// 8 providers of one team each.
    Small,
    /// 40 providers, ~150 teams.
    County,
}

impl DemoSize {
    fn profile(self) -> SizeProfile {
        match self {
            DemoSize::Small => demo::small_profile(),
            DemoSize::County => ScenarioSize::County.profile(),
        }
    }
}

/// The demo team's planning request.
pub fn team_request() -> PlanningRequest {
    generate(&GeneratorOptions::new(ScenarioSize::Team, TEAM_SEED)).request
}

/// The demo county with every team's rota planned, its horizon starting on
/// the local date of `now` and its referrals stamped `now`.
pub fn county(size: DemoSize, now: DateTime<Utc>) -> Result<DemoCounty, String> {
    demo::county_at(
        &size.profile(),
        COUNTY_SEED,
        COUNTY_ROTA_ITERATIONS,
        now,
        &HorizonPolicy::default(),
    )
    .map_err(|e| e.to_string())
}

/// The demo county's referrals, regenerated without planning any rota (for a
/// demo database made by an earlier run), from today and stamped `now`.
pub fn referrals(size: DemoSize, now: DateTime<Utc>) -> Vec<(Package, ServiceUser)> {
    let mut options = GeneratorOptions::new(ScenarioSize::County, COUNTY_SEED);
    options.start_date = now.date_naive();
    options.days = HorizonPolicy::default().horizon_days();
    let sc = generate_with(&options, &size.profile());
    let mut out: Vec<(Package, ServiceUser)> = sc
        .referrals
        .iter()
        .filter_map(|p| {
            let u = sc
                .request
                .service_users
                .iter()
                .find(|u| u.id == p.service_user)?;
            Some((p.clone(), u.clone()))
        })
        .collect();
    demo::stamp_referrals(&mut out, now, now.date_naive());
    out
}

/// Fresh demo keys, one per role, scoped to `scope`'s first provider and team;
/// written in plain text to `out` (owner-only) so the demo can be driven.
pub fn keys(scope: &PlanningRequest, out: &Path) -> Result<KeyStore, String> {
    let provider = scope
        .providers
        .first()
        .map_or("demo-provider", |p| p.id.as_str());
    let team = scope.teams.first().map_or("demo-team", |t| t.id.as_str());
    let keys = DemoKeys::generate(provider, team)?;
    let text = serde_json::to_string_pretty(&keys.keys).map_err(|e| e.to_string())?;
    write_private(out, &(text + "\n"))?;
    eprintln!(
        "carefill: demo API keys (admin, broker, provider {provider}, planner {team}, integrator) written to {}",
        out.display()
    );
    keys.store().map_err(|e| e.to_string())
}
