//! Finding the provider teams that could take a package: the shortlist (on
//! the framework, serving the person's area, holding the skills, with a team
//! that reaches them), the fit check against each shortlisted team's rota (in
//! parallel), and the offer order of the teams where the package fits.

use super::county::{ProviderIx, RosterIndex, TeamIx, package_skills};
use super::fit::{FitOutcome, fit_check_memo};
use super::records::FitSummary;
use super::{Broker, BrokerConfig};
use crate::format::{
    ContractTerms, FrameworkStatus, Package, PlanningRequest, Rota, ServiceUser, Tier,
};
use crate::spatial::great_circle_m;
use chrono::{DateTime, Utc};
use geo::{Contains, Point};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// A team with no drawn neighbourhood is considered for people this close to its base.
pub const TEAM_REACH_M: f64 = 15_000.0;

/// One provider team that could take a package, with its fit check.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    /// Provider id.
    pub provider: String,
    /// Provider name.
    pub provider_name: String,
    /// Provider tier.
    pub tier: Tier,
    /// Block contract (capacity already paid for) rather than spot.
    pub block: bool,
    /// Whether the provider takes this package without a human decision.
    pub auto_accept: bool,
    /// The fit check.
    pub fit: FitSummary,
    /// Distance from the team base, metres.
    pub distance_m: f64,
    #[serde(skip)]
    pub(crate) outcome: Option<FitOutcome>,
}

/// Provider left out before any fit check.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Exclusion {
    /// Provider id.
    pub provider: String,
    /// Stable code: `not_on_framework`, `missing_skills`, `no_team_nearby`.
    pub code: String,
    /// Explanation.
    pub message: String,
}

/// Candidate search result for one package.
#[derive(Debug, Clone, Serialize)]
pub struct CandidateReport {
    /// Package id.
    pub package: String,
    /// Cascade order for this package.
    pub stage_order: Vec<Tier>,
    /// Teams where the whole package fits, in offer order (stage, then rank).
    pub fitting: Vec<Candidate>,
    /// Teams checked where it does not fit, with reasons.
    pub not_fitting: Vec<Candidate>,
    /// Providers excluded before the fit check.
    pub excluded: Vec<Exclusion>,
    /// Teams fit-checked.
    pub teams_checked: usize,
}

impl CandidateReport {
    /// Best fitting team per provider at `stage`, skipping `passed_by`, in rank order.
    pub fn at_stage<'a>(&'a self, stage: Tier, passed_by: &BTreeSet<String>) -> Vec<&'a Candidate> {
        let mut seen = BTreeSet::new();
        self.fitting
            .iter()
            .filter(|c| c.tier == stage && !passed_by.contains(&c.provider))
            .filter(|c| seen.insert(c.provider.clone()))
            .collect()
    }
}

fn rank_key(c: &Candidate) -> (u8, std::cmp::Reverse<usize>, i64, String, String) {
    (
        u8::from(!c.block),
        std::cmp::Reverse(c.fit.known_carers.len()),
        (c.fit.cost_delta * 100.0).round() as i64,
        c.provider.clone(),
        c.fit.team.clone(),
    )
}

impl Broker {
    /// The cascade order for a package: specialist packages may go to
    /// Specialist providers first; emergency cover is always last.
    pub fn stage_order(&self, package: &Package) -> Vec<Tier> {
        let specialist = self.config.specialist_first
            && package_skills(package)
                .iter()
                .any(|s| self.config.specialist_skills.contains(s));
        if specialist {
            vec![
                Tier::Specialist,
                Tier::Tier1,
                Tier::Tier2,
                Tier::Tier3,
                Tier::EmergencyCover,
            ]
        } else {
            vec![
                Tier::Tier1,
                Tier::Tier2,
                Tier::Tier3,
                Tier::Specialist,
                Tier::EmergencyCover,
            ]
        }
    }

    /// Finds every provider team that could take the package and checks the fit
    /// against each team's current rota (in parallel). Read-only.
    /// Only the future after the last command's `now` counts (see [`Broker::set_now`]).
    pub fn candidates(&self, package: &Package, user: &ServiceUser) -> CandidateReport {
        candidates_in(
            &self.roster,
            &self.index,
            &self.rotas,
            &self.config,
            package,
            user,
            self.stage_order(package),
            self.now,
        )
    }

    /// [`Broker::candidates`] as seen at `now` (a read-only recommendation).
    pub fn candidates_at(
        &self,
        package: &Package,
        user: &ServiceUser,
        now: DateTime<Utc>,
    ) -> CandidateReport {
        candidates_in(
            &self.roster,
            &self.index,
            &self.rotas,
            &self.config,
            package,
            user,
            self.stage_order(package),
            Some(now),
        )
    }

    /// The candidate report of a batch allocation: the batch's own (wider)
    /// team limit, and no provider the package has already passed by.
    pub(crate) fn candidates_for_batch(
        &self,
        package: &crate::format::Package,
        user: &crate::format::ServiceUser,
        order: Vec<Tier>,
    ) -> CandidateReport {
        let passed = self
            .packages
            .get(&package.id)
            .map(|r| r.passed_by.clone())
            .unwrap_or_default();
        let config = BrokerConfig {
            max_teams_checked: self.config.batch_max_teams_checked,
            ..self.config.clone()
        };
        let mut r = candidates_in(
            &self.roster,
            &self.index,
            &self.rotas,
            &config,
            package,
            user,
            order,
            self.now,
        );
        r.fitting.retain(|c| !passed.contains(&c.provider));
        r
    }
}

/// Shortlists and fit-checks the teams for a package (read-only, in
/// parallel) and orders the fitting ones by stage, then rank; `from` as in
/// [`fit_check_memo`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn candidates_in(
    roster: &PlanningRequest,
    index: &RosterIndex,
    rotas: &BTreeMap<String, Rota>,
    config: &BrokerConfig,
    package: &Package,
    user: &ServiceUser,
    stage_order: Vec<Tier>,
    from: Option<DateTime<Utc>>,
) -> CandidateReport {
    let list = shortlist(roster, index, package, user, config.max_teams_checked);
    let checked: Vec<Candidate> = list
        .teams
        .par_iter()
        .map(|&(pi, ti, d)| {
            let provider = &roster.providers[pi];
            let outcome = fit_check_memo(roster, index, rotas, ti, package, user, from);
            Candidate {
                provider: provider.id.clone(),
                provider_name: provider.name.clone(),
                tier: provider.tier,
                block: matches!(provider.contract, ContractTerms::Block { .. }),
                auto_accept: provider.auto_accept.enabled || provider.tier == Tier::EmergencyCover,
                fit: outcome.summary.clone(),
                distance_m: d,
                outcome: Some(outcome),
            }
        })
        .collect();
    let (mut fitting, not_fitting): (Vec<Candidate>, Vec<Candidate>) =
        checked.into_iter().partition(|c| c.fit.fits);
    let pos = |t: Tier| {
        stage_order
            .iter()
            .position(|&x| x == t)
            .unwrap_or(usize::MAX)
    };
    fitting.sort_by(|a, b| {
        pos(a.tier)
            .cmp(&pos(b.tier))
            .then_with(|| rank_key(a).cmp(&rank_key(b)))
    });
    CandidateReport {
        package: package.id.clone(),
        stage_order,
        teams_checked: list.teams.len(),
        fitting,
        not_fitting,
        excluded: list
            .excluded
            .into_iter()
            .map(|(provider, code, message)| Exclusion {
                provider,
                code,
                message,
            })
            .collect(),
    }
}

/// A team worth fit-checking for a person, and why others are not.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamShortlist {
    /// (provider index, team index, distance from base in metres), nearest first.
    pub teams: Vec<(ProviderIx, TeamIx, f64)>,
    /// Providers left out: (provider id, code, message).
    pub excluded: Vec<(String, String, String)>,
}

/// Providers that could take a package for this person: on the framework,
/// serving the area, holding the skills; and their teams that reach the person.
pub(crate) fn shortlist(
    roster: &PlanningRequest,
    ix: &RosterIndex,
    package: &Package,
    user: &ServiceUser,
    max_teams: usize,
) -> TeamShortlist {
    let (lat, lon) = (user.location.lat, user.location.lon);
    let in_area: BTreeSet<usize> = ix
        .provider_areas
        .as_ref()
        .map(|a| a.containing(lat, lon).into_iter().collect())
        .unwrap_or_default();
    let needs = package_skills(package);
    let mut teams = Vec::new();
    let mut excluded = Vec::new();
    for (pi, provider) in roster.providers.iter().enumerate() {
        // The emergency cover team covers the whole county whatever its drawn areas.
        let covers = in_area.contains(&pi) || provider.tier == Tier::EmergencyCover;
        if !covers {
            continue;
        }
        if provider.framework_status != FrameworkStatus::Active {
            excluded.push((
                provider.id.clone(),
                "not_on_framework".to_string(),
                format!("framework status is {:?}", provider.framework_status).to_lowercase(),
            ));
            continue;
        }
        let missing: Vec<&String> = needs
            .iter()
            .filter(|s| !provider.skills.contains(s))
            .collect();
        if !missing.is_empty() {
            excluded.push((
                provider.id.clone(),
                "missing_skills".to_string(),
                format!(
                    "provider does not offer {}",
                    missing
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
            continue;
        }
        let mut reached = 0;
        for &ti in ix
            .teams_of_provider
            .get(&provider.id)
            .map_or(&[][..], Vec::as_slice)
        {
            let team = &roster.teams[ti];
            let d = great_circle_m((lat, lon), (team.base.lat, team.base.lon));
            let in_team_area = ix.team_area(ti).map(|a| a.contains(&Point::new(lon, lat)));
            let reaches = match in_team_area {
                Some(inside) => inside || d <= TEAM_REACH_M / 3.0,
                None => d <= TEAM_REACH_M,
            } || provider.tier == Tier::EmergencyCover;
            if reaches {
                teams.push((ProviderIx(pi), ti, d));
                reached += 1;
            }
        }
        if reached == 0 {
            excluded.push((
                provider.id.clone(),
                "no_team_nearby".to_string(),
                "no neighbourhood team of the provider covers the person's address".to_string(),
            ));
        }
    }
    teams.sort_by(|a, b| a.2.total_cmp(&b.2).then(a.1.cmp(&b.1)));
    // The cap bounds latency; emergency cover, the last resort, is always checked.
    let (mut cover, mut rest): (Vec<_>, Vec<_>) = teams
        .into_iter()
        .partition(|&(pi, _, _)| roster.providers[pi].tier == Tier::EmergencyCover);
    rest.truncate(max_teams);
    rest.append(&mut cover);
    let teams = rest;
    TeamShortlist { teams, excluded }
}
