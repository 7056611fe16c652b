//! Generated counties for the demo service, tests and benches: the generator's
//! county with every team's rota planned, and its stream of referrals.

use super::{Broker, BrokerError, HorizonPolicy, plan_initial_rotas};
use crate::format::{DEFAULT_SKILLS, Package, PlanningRequest, Rota, ServiceUser, Shift, Tier};
use crate::generate::{GeneratorOptions, ProviderPlan, ScenarioSize, SizeProfile, generate_with};
use crate::rota::SolveOptions;
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::BTreeMap;
use std::time::Duration;

/// A county ready for brokering.
#[derive(Debug, Clone)]
pub struct DemoCounty {
    /// Providers, teams, carers, people and active packages.
    pub roster: PlanningRequest,
    /// Each team's planned rota.
    pub rotas: BTreeMap<String, Rota>,
    /// Referrals waiting to be brokered, with their people.
    pub referrals: Vec<(Package, ServiceUser)>,
}

impl DemoCounty {
    /// A broker over this county with the default policy.
    pub fn broker(&self) -> Result<Broker, BrokerError> {
        Broker::new(Default::default(), self.roster.clone(), self.rotas.clone())
    }
}

/// A provider plan with a fifth of people rural and nobody suspended.
pub(crate) fn plan(tier: Tier, count: u32, teams: (u32, u32), block_share: f64) -> ProviderPlan {
    ProviderPlan {
        tier,
        count,
        teams,
        block_share,
        rural_share: 0.2,
        suspended: 0,
        off_framework: 0,
    }
}

/// Eight providers of one team each (3 Tier 1, 2 Tier 2, 1 Tier 3, 1 specialist,
/// emergency cover): small enough for unit tests.
pub fn small_profile() -> SizeProfile {
    SizeProfile {
        providers: vec![
            plan(Tier::Tier1, 3, (1, 1), 1.0),
            plan(Tier::Tier2, 2, (1, 1), 0.0),
            plan(Tier::Tier3, 1, (1, 1), 0.0),
            plan(Tier::Specialist, 1, (1, 1), 0.0),
            plan(Tier::EmergencyCover, 1, (1, 1), 1.0),
        ],
        towns: 1,
        villages: 2,
        carers_per_team: (6, 6),
        max_carers_per_team: 12,
        users_per_carer: (2.0, 2.0),
        referrals: (12, 12),
    }
}

/// Generates the county of `profile`, makes the emergency cover team standby
/// capacity (no caseload, day-long shifts every day, every skill), and plans
/// every team's rota with `rota_iterations` search iterations per team.
/// Auto-accept stays only with emergency cover so offers wait for answers.
pub fn county(
    profile: &SizeProfile,
    seed: u64,
    rota_iterations: u64,
) -> Result<DemoCounty, BrokerError> {
    county_with(
        profile,
        &GeneratorOptions::new(ScenarioSize::County, seed),
        rota_iterations,
    )
}

/// The county of `profile` for a service starting at `now`: the horizon is
/// today (UK local date of `now`) plus the policy's look-ahead, and every
/// referral is stamped `now` (the moment the service starts), so fill times
/// count from when a new user can first refer it.
pub fn county_at(
    profile: &SizeProfile,
    seed: u64,
    rota_iterations: u64,
    now: DateTime<Utc>,
    policy: &HorizonPolicy,
) -> Result<DemoCounty, BrokerError> {
    let mut options = GeneratorOptions::new(ScenarioSize::County, seed);
    options.start_date = now.date_naive();
    options.days = policy.horizon_days();
    let mut county = county_with(profile, &options, rota_iterations)?;
    let today = super::horizon::local_date(&county.roster.horizon, now);
    stamp_referrals(&mut county.referrals, now, today);
    Ok(county)
}

/// Stamps referrals as received at `now` and moves any start date before
/// `today` to `today` (the generator spreads referrals over the week).
pub fn stamp_referrals(
    referrals: &mut [(Package, ServiceUser)],
    now: DateTime<Utc>,
    today: NaiveDate,
) {
    let stamp = now
        .with_timezone(&Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for (p, _) in referrals.iter_mut() {
        p.referral_time = Some(stamp.clone());
        let start = p
            .start_date
            .as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
        if start.is_none_or(|d| d < today) {
            p.start_date = Some(today.format("%Y-%m-%d").to_string());
        }
    }
}

fn county_with(
    profile: &SizeProfile,
    options: &GeneratorOptions,
    rota_iterations: u64,
) -> Result<DemoCounty, BrokerError> {
    let sc = generate_with(options, profile);
    let mut roster = sc.request.clone();
    for p in &mut roster.providers {
        if p.tier != Tier::EmergencyCover {
            p.auto_accept = Default::default();
        }
    }
    standby_emergency_cover(&mut roster);
    let options = SolveOptions {
        time_limit: Duration::from_secs(120),
        max_iterations: Some(rota_iterations),
        use_milp: false,
        ..SolveOptions::default()
    };
    let rotas = plan_initial_rotas(&roster, &options)?;
    let referrals = sc
        .referrals
        .iter()
        .filter_map(|p| {
            let u = roster
                .service_users
                .iter()
                .find(|u| u.id == p.service_user)?;
            Some((p.clone(), u.clone()))
        })
        .collect();
    Ok(DemoCounty {
        roster,
        rotas,
        referrals,
    })
}

/// The emergency cover team is standby capacity paid from the risk pool
/// (docs/domain.md §1.4): no caseload of its own, day-long shifts every day,
/// every skill (the demo county and the simulation both use it).
pub(crate) fn standby_emergency_cover(roster: &mut PlanningRequest) {
    let standby: Vec<String> = roster
        .teams
        .iter()
        .filter(|t| {
            roster
                .providers
                .iter()
                .any(|p| Some(&p.id) == t.provider.as_ref() && p.tier == Tier::EmergencyCover)
        })
        .map(|t| t.id.clone())
        .collect();
    let standby_users: Vec<String> = roster
        .service_users
        .iter()
        .filter(|u| u.team.as_ref().is_some_and(|t| standby.contains(t)))
        .map(|u| u.id.clone())
        .collect();
    roster
        .packages
        .retain(|p| !standby_users.contains(&p.service_user));
    roster
        .service_users
        .retain(|u| !standby_users.contains(&u.id));
    for (i, c) in roster.carers.iter_mut().enumerate() {
        if c.team.as_ref().is_some_and(|t| standby.contains(t)) {
            let (start, end) = if i % 2 == 0 {
                ("07:00", "14:30")
            } else {
                ("14:00", "22:00")
            };
            c.shifts = vec![Shift {
                days: vec!["daily".into()],
                start: start.into(),
                end: end.into(),
                start_location: None,
                end_location: None,
            }];
            c.skills = DEFAULT_SKILLS.iter().map(|s| s.to_string()).collect();
        }
    }
}
