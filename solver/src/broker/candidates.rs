//! Finding the provider teams that could take a package: the shortlist (on
//! the framework, serving the person's area, holding the skills, with a team
//! that reaches them), the fit check against each shortlisted team's rota (in
//! parallel), and the offer order of the teams where the package fits.

use super::county::{ProviderIx, RosterIndex, TeamIx, package_skills};
use super::fit::{FitOutcome, fit_check};
use super::records::FitSummary;
use super::{Broker, BrokerConfig, BrokerEvent};
use crate::format::{
    ContractTerms, FrameworkStatus, Package, PlanningRequest, Provider, Rota, ServiceUser, Tier,
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
    /// Position in the shortlist (nearest first), which orders teams that do not fit.
    #[serde(skip)]
    pub(crate) shortlist_pos: usize,
}

/// Provider left out before any fit check.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Exclusion {
    /// Provider id.
    pub provider: String,
    /// Stable code: `not_on_framework`, `missing_skills`, `no_team_nearby`,
    /// `cared_for_by_own_team`.
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

/// A fit-checked team of `provider` as a candidate.
fn candidate(provider: &Provider, outcome: FitOutcome, distance_m: f64, pos: usize) -> Candidate {
    Candidate {
        provider: provider.id.clone(),
        provider_name: provider.name.clone(),
        tier: provider.tier,
        block: matches!(provider.contract, ContractTerms::Block { .. }),
        auto_accept: provider.auto_accept.enabled || provider.tier == Tier::EmergencyCover,
        fit: outcome.summary.clone(),
        distance_m,
        outcome: Some(outcome),
        shortlist_pos: pos,
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

    /// [`Broker::candidates_at`] with its fit checks one after another on the
    /// calling thread, for a read that runs beside others: each of them keeps
    /// a core busy already, and fanning out would only make them queue for
    /// the same cores (same report).
    pub fn candidates_at_sequential(
        &self,
        package: &Package,
        user: &ServiceUser,
        now: DateTime<Utc>,
    ) -> CandidateReport {
        candidates_with(
            &self.roster,
            &self.index,
            &self.rotas,
            &self.config,
            package,
            user,
            self.stage_order(package),
            Some(now),
            false,
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
        self.without_passed(self.batch_search(package, user, order, self.now))
    }

    /// A batch allocation's search (the batch's own, wider, team limit) with
    /// the frozen past up to `from`; providers passed by not yet left out
    /// ([`Broker::without_passed`]).
    pub(crate) fn batch_search(
        &self,
        package: &crate::format::Package,
        user: &crate::format::ServiceUser,
        order: Vec<Tier>,
        from: Option<DateTime<Utc>>,
    ) -> CandidateReport {
        let config = BrokerConfig {
            max_teams_checked: self.config.batch_max_teams_checked,
            ..self.config.clone()
        };
        candidates_in(
            &self.roster,
            &self.index,
            &self.rotas,
            &config,
            package,
            user,
            order,
            from,
        )
    }

    /// `r` without the teams of providers its package has already passed by.
    pub(crate) fn without_passed(&self, mut r: CandidateReport) -> CandidateReport {
        if let Some(rec) = self.packages.get(&r.package) {
            r.fitting.retain(|c| !rec.passed_by.contains(&c.provider));
        }
        r
    }
}

impl Broker {
    /// Whether any of `teams` (fit-checked again now, in parallel) would reopen
    /// an escalated package: the whole package fits a team of a provider the
    /// package has not passed by, at a stage of its cascade.
    pub(crate) fn any_team_reopens(
        &self,
        package: &Package,
        user: &ServiceUser,
        teams: &[String],
        passed_by: &BTreeSet<String>,
    ) -> bool {
        let stage_order = self.stage_order(package);
        let checked: Vec<Candidate> = teams
            .par_iter()
            .enumerate()
            .filter_map(|(pos, team)| {
                let &ti = self.index.team_pos.get(team)?;
                let &pi = (self.roster.teams[ti].provider.as_ref())
                    .and_then(|p| self.index.provider_pos.get(p))?;
                let provider = &self.roster.providers[pi];
                if !stage_order.contains(&provider.tier) || passed_by.contains(&provider.id) {
                    return None;
                }
                let outcome = self.fit(ti, package, user, self.now);
                Some(candidate(provider, outcome, 0.0, pos))
            })
            .collect();
        checked.iter().any(|c| c.fit.fits)
    }
}

impl Broker {
    /// The search the cascade needs at `now`: the shortlist fit-checked one
    /// stage at a time from the first of `stages`, stopping at the first stage
    /// where a team of a provider not in `passed_by` fits (the cascade offers
    /// at that stage and looks no further); when none fits, every shortlisted
    /// team is checked, as [`Broker::candidates_at`] does. The stage it stops
    /// at and its candidates are exactly the full search's; later stages'
    /// teams are left unchecked (most packages fill at their first stage).
    pub(crate) fn candidates_for_cascade(
        &self,
        package: &Package,
        user: &ServiceUser,
        now: DateTime<Utc>,
        stages: &[Tier],
        passed_by: &BTreeSet<String>,
    ) -> CandidateReport {
        let list = shortlist(
            &self.roster,
            &self.index,
            package,
            user,
            self.config.max_teams_checked,
        );
        let provider = |pi: ProviderIx| &self.roster.providers[pi];
        let mut checked: Vec<Option<Candidate>> = vec![None; list.teams.len()];
        let check_all = |checked: &mut Vec<Option<Candidate>>,
                         wanted: &dyn Fn(&Provider) -> bool| {
            let results: Vec<(usize, Candidate)> = (list.teams.iter().enumerate())
                .filter(|(pos, (pi, _, _))| checked[*pos].is_none() && wanted(provider(*pi)))
                .collect::<Vec<_>>()
                .into_par_iter()
                .map(|(pos, &(pi, ti, d))| {
                    let outcome = self.fit(ti, package, user, Some(now));
                    (pos, candidate(provider(pi), outcome, d, pos))
                })
                .collect();
            let mut fits = false;
            for (pos, c) in results {
                fits |= c.fit.fits;
                checked[pos] = Some(c);
            }
            fits
        };
        let mut found = false;
        for &stage in stages {
            let at_stage = |p: &Provider| p.tier == stage && !passed_by.contains(&p.id);
            if check_all(&mut checked, &at_stage) {
                found = true;
                break;
            }
        }
        if !found {
            check_all(&mut checked, &|_| true);
        }
        let excluded = exclusions(list.excluded);
        ordered(
            package,
            checked.into_iter().flatten().collect(),
            self.stage_order(package),
            list.teams.len(),
            excluded,
        )
    }
}

/// Shortlists and fit-checks the teams for a package (read-only, in
/// parallel) and orders the fitting ones by stage, then rank; `from` as in
/// [`fit_check`].
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
    candidates_with(
        roster,
        index,
        rotas,
        config,
        package,
        user,
        stage_order,
        from,
        true,
    )
}

/// [`candidates_in`], its fit checks in parallel or not.
#[allow(clippy::too_many_arguments)]
fn candidates_with(
    roster: &PlanningRequest,
    index: &RosterIndex,
    rotas: &BTreeMap<String, Rota>,
    config: &BrokerConfig,
    package: &Package,
    user: &ServiceUser,
    stage_order: Vec<Tier>,
    from: Option<DateTime<Utc>>,
    parallel: bool,
) -> CandidateReport {
    let list = shortlist(roster, index, package, user, config.max_teams_checked);
    let check = |(pos, &(pi, ti, d)): (usize, &(ProviderIx, TeamIx, f64))| {
        let outcome = fit_check(roster, index, rotas, ti, package, user, from);
        candidate(&roster.providers[pi], outcome, d, pos)
    };
    let checked: Vec<Candidate> = if parallel {
        list.teams.par_iter().enumerate().map(check).collect()
    } else {
        list.teams.iter().enumerate().map(check).collect()
    };
    let excluded = exclusions(list.excluded);
    ordered(package, checked, stage_order, list.teams.len(), excluded)
}

/// The shortlist's left-out providers as the report lists them.
fn exclusions(raw: Vec<(String, String, String)>) -> Vec<Exclusion> {
    raw.into_iter()
        .map(|(provider, code, message)| Exclusion {
            provider,
            code,
            message,
        })
        .collect()
}

/// The report of fit-checked teams: those that fit in offer order (stage,
/// then rank), those that do not in shortlist order.
fn ordered(
    package: &Package,
    mut checked: Vec<Candidate>,
    stage_order: Vec<Tier>,
    teams_checked: usize,
    excluded: Vec<Exclusion>,
) -> CandidateReport {
    checked.sort_by_key(|c| c.shortlist_pos);
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
        teams_checked,
        fitting,
        not_fitting,
        excluded,
    }
}

/// A package's candidate search done on a snapshot of the broker (the
/// service's readers' copy), outside the writer's critical section. The
/// command then hands it to the writer, which makes it valid for its own state
/// ([`Broker::revalidate`]) instead of searching again.
#[derive(Debug, Clone)]
pub struct PreparedSearch {
    /// The snapshot's `events_applied`.
    pub seen: u64,
    /// The instant the search was made at.
    pub at: DateTime<Utc>,
    /// The search.
    pub report: CandidateReport,
    /// The events the writer applied after the snapshot, in order, when the
    /// caller knows them (`None`: unknown, search again unless none were).
    pub since: Option<Vec<BrokerEvent>>,
}

/// A batch's candidate searches done on a snapshot (see [`PreparedSearch`]),
/// one per referral brokered now, made valid by the writer team by team.
#[derive(Debug, Clone)]
pub struct PreparedBatch {
    /// The snapshot's `events_applied`.
    pub seen: u64,
    /// The instant the searches were made at.
    pub at: DateTime<Utc>,
    /// Each package's batch search, by package id.
    pub reports: BTreeMap<String, CandidateReport>,
    /// The events the writer applied after the snapshot (as in [`PreparedSearch`]).
    pub since: Option<Vec<BrokerEvent>>,
}

/// Work done on a snapshot that the writer re-validates with the events
/// committed since (the service hands them over).
pub trait Prepared {
    /// The snapshot's `events_applied`.
    fn seen(&self) -> u64;
    /// Hands over the events applied after the snapshot (`None`: unknown).
    fn set_since(&mut self, since: Option<Vec<BrokerEvent>>);
}

impl Prepared for PreparedSearch {
    fn seen(&self) -> u64 {
        self.seen
    }
    fn set_since(&mut self, since: Option<Vec<BrokerEvent>>) {
        self.since = since;
    }
}

impl Prepared for PreparedBatch {
    fn seen(&self) -> u64 {
        self.seen
    }
    fn set_since(&mut self, since: Option<Vec<BrokerEvent>>) {
        self.since = since;
    }
}

/// Which teams' fit checks an event may change.
pub(crate) enum Touch {
    /// None (offers, money, alerts, delivery records).
    Nothing,
    /// This team's rota or people.
    Team(String),
    /// The roster, the policy or anything else: search again.
    Everything,
}

/// What may have changed for fit checks since a search ([`Broker::changed_since`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct Changed {
    /// Teams whose rota or people changed, or whose frozen past moved on.
    pub teams: BTreeSet<String>,
    /// When a minute passed: the window in which starting visits became past.
    pub past_moved: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// Whether a stop of `routes` starts inside `window` (bounds included).
fn starts_within(routes: &[crate::format::Route], window: (DateTime<Utc>, DateTime<Utc>)) -> bool {
    routes
        .iter()
        .flat_map(|r| &r.stops)
        .any(|s| super::horizon::instant(&s.start).is_some_and(|t| window.0 <= t && t <= window.1))
}

/// Whether fit checks at `a` and at `b` (not before `a`) see the same frozen
/// past: no whole minute lies in `[a, b]` (rota starts are whole minutes; the
/// horizon minute of "now" is rounded down).
fn same_frozen_past(a: DateTime<Utc>, b: DateTime<Utc>) -> bool {
    if a == b {
        return true;
    }
    if b < a {
        return false;
    }
    let floor_b = b.timestamp().div_euclid(60) * 60;
    DateTime::<Utc>::from_timestamp(floor_b, 0).is_some_and(|m| m < a)
}

impl Broker {
    /// The candidate search for a package as this broker sees it at `now`,
    /// for a command to use later (see [`PreparedSearch`]).
    pub fn prepare_search(
        &self,
        package: &Package,
        user: &ServiceUser,
        now: DateTime<Utc>,
    ) -> PreparedSearch {
        PreparedSearch {
            seen: self.events_applied,
            at: now,
            report: self.candidates_at(package, user, now),
            since: None,
        }
    }

    /// [`Broker::prepare_search`] for a referral straight to `team` (an
    /// applied recommendation): when the shortlist left the team out, it is
    /// fit-checked too and listed after the shortlist, so the writer finds the
    /// chosen team's fit in the (re-validated) report.
    pub fn prepare_search_with(
        &self,
        package: &Package,
        user: &ServiceUser,
        team: &str,
        now: DateTime<Utc>,
    ) -> PreparedSearch {
        let mut prepared = self.prepare_search(package, user, now);
        let r = &prepared.report;
        let listed = r
            .fitting
            .iter()
            .chain(&r.not_fitting)
            .any(|c| c.fit.team == team);
        if let (false, Some(&ti)) = (listed, self.index.team_pos.get(team))
            && let Some(&pi) = (self.roster.teams[ti].provider.as_ref())
                .and_then(|p| self.index.provider_pos.get(p))
        {
            let outcome = self.fit(ti, package, user, Some(now));
            let base = &self.roster.teams[ti].base;
            let d = great_circle_m((user.location.lat, user.location.lon), (base.lat, base.lon));
            let pos = r.fitting.len() + r.not_fitting.len();
            let extra = candidate(&self.roster.providers[pi], outcome, d, pos);
            let r = prepared.report;
            let checked = r.fitting.into_iter().chain(r.not_fitting).chain([extra]);
            prepared.report = ordered(
                package,
                checked.collect(),
                r.stage_order,
                r.teams_checked,
                r.excluded,
            );
        }
        prepared
    }

    pub(crate) fn touches(&self, e: &BrokerEvent) -> Touch {
        let team_of_user = |id: &str| {
            self.index
                .user_pos
                .get(id)
                .and_then(|&u| self.roster.service_users[u].team.clone())
        };
        match e {
            BrokerEvent::StageOpened { .. }
            | BrokerEvent::OfferMade { .. }
            | BrokerEvent::OfferDeclined { .. }
            | BrokerEvent::OfferExpired { .. }
            | BrokerEvent::OfferWithdrawn { .. }
            | BrokerEvent::OfferExpiring { .. }
            | BrokerEvent::OfferOverridden { .. }
            | BrokerEvent::Escalated { .. }
            | BrokerEvent::EscalationRetried { .. }
            | BrokerEvent::DamagesAccrued { .. }
            | BrokerEvent::Posted { .. }
            | BrokerEvent::PackageCancelled { .. }
            | BrokerEvent::AlertRaised { .. }
            | BrokerEvent::BrokeringScheduled { .. }
            | BrokerEvent::BrokeringDue { .. }
            | BrokerEvent::VisitCheckedIn { .. }
            | BrokerEvent::VisitCheckedOut { .. }
            | BrokerEvent::VisitOverdue { .. }
            | BrokerEvent::YearClosed { .. } => Touch::Nothing,
            // A known person's record changes; it is read by their team's checks.
            BrokerEvent::Referred { service_user, .. } => {
                team_of_user(&service_user.id).map_or(Touch::Nothing, Touch::Team)
            }
            BrokerEvent::OfferAccepted { offer, .. } => self
                .offers
                .get(offer)
                .map_or(Touch::Everything, |o| Touch::Team(o.team.clone())),
            BrokerEvent::PackageAdopted { team, .. }
            | BrokerEvent::RotaPublished { team, .. }
            | BrokerEvent::CarerAbsent { team, .. } => Touch::Team(team.clone()),
            _ => Touch::Everything,
        }
    }

    /// A prepared search made valid for this broker's state at `now`: as it
    /// is when no event was applied since the snapshot (so a command without
    /// concurrency decides exactly as if it had searched itself); with the
    /// teams whose rota or people changed fit-checked again; searched again
    /// when the roster or policy changed, the events are not known, or the
    /// frozen past moved on.
    pub fn revalidate(
        &self,
        prepared: PreparedSearch,
        package: &Package,
        user: &ServiceUser,
        now: DateTime<Utc>,
    ) -> CandidateReport {
        let changed = self.changed_since(prepared.seen, prepared.at, &prepared.since, now);
        self.revalidated(
            prepared.report,
            changed.as_ref(),
            package,
            user,
            now,
            || self.candidates_at(package, user, now),
        )
    }

    /// What may have changed for fit checks between a snapshot that had
    /// applied `seen` events at `at` and this state at `now`, given the events
    /// applied since (`None`: unknown): the teams whose rota or people changed
    /// and, when a minute passed, the teams with a visit starting meanwhile
    /// (their frozen past moved on). `None` when anything may have: unknown
    /// events, or the roster or policy changed.
    pub(crate) fn changed_since(
        &self,
        seen: u64,
        at: DateTime<Utc>,
        since: &Option<Vec<BrokerEvent>>,
        now: DateTime<Utc>,
    ) -> Option<Changed> {
        if seen > self.events_applied || now < at {
            return None;
        }
        let missed = self.events_applied - seen;
        let since = match since {
            Some(s) if s.len() as u64 == missed => s.as_slice(),
            _ if missed == 0 => &[],
            _ => return None,
        };
        let mut teams = BTreeSet::new();
        for e in since {
            match self.touches(e) {
                Touch::Nothing => {}
                Touch::Team(t) => {
                    teams.insert(t);
                }
                Touch::Everything => return None,
            }
        }
        let past_moved = (!same_frozen_past(at, now)).then(|| {
            (
                at - chrono::Duration::minutes(1),
                now + chrono::Duration::minutes(1),
            )
        });
        if let Some(window) = past_moved {
            for (team, rota) in &self.rotas {
                if starts_within(&rota.routes, window) {
                    teams.insert(team.clone());
                }
            }
        }
        Some(Changed { teams, past_moved })
    }

    /// `report`, made on an earlier state, made valid for this one: the
    /// candidates of `changed` teams fit-checked again, or `fresh()` when
    /// everything may have changed (`None`) or the report is another package's.
    pub(crate) fn revalidated(
        &self,
        report: CandidateReport,
        changed: Option<&Changed>,
        package: &Package,
        user: &ServiceUser,
        now: DateTime<Utc>,
        fresh: impl FnOnce() -> CandidateReport,
    ) -> CandidateReport {
        let Some(changed) = changed.filter(|_| report.package == package.id) else {
            return fresh();
        };
        let r = report;
        // A fit that placed one of the package's visits in the minutes that
        // passed would now plan it in the past.
        let stale = |c: &Candidate| {
            changed.teams.contains(&c.fit.team)
                || changed.past_moved.is_some_and(|window| {
                    c.outcome
                        .as_ref()
                        .is_some_and(|o| starts_within(&o.changed_routes, window))
                })
        };
        if !r.fitting.iter().chain(&r.not_fitting).any(stale) {
            return r;
        }
        let mut checked: Vec<Candidate> = r.fitting.into_iter().chain(r.not_fitting).collect();
        checked.par_iter_mut().filter(|c| stale(c)).for_each(|c| {
            if let Some(&ti) = self.index.team_pos.get(&c.fit.team) {
                let outcome = self.fit(ti, package, user, Some(now));
                c.fit = outcome.summary.clone();
                c.outcome = Some(outcome);
            }
        });
        ordered(package, checked, r.stage_order, r.teams_checked, r.excluded)
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
    // A person keeps one team: a new package of someone a team already cares
    // for goes to that team only (when it could take it at all), since a
    // team's rota and roster hold all of a person's visits. A broker who
    // wants another provider arranges a transfer.
    let own_team = ix
        .user_pos
        .get(&user.id)
        .and_then(|&u| roster.service_users[u].team.as_ref())
        .and_then(|t| ix.team_pos.get(t));
    if let Some(&own) = own_team
        && teams.iter().any(|&(_, ti, _)| ti == own)
    {
        let own_provider = roster.teams[own].provider.as_deref();
        let mut others = BTreeSet::new();
        teams.retain(|&(pi, ti, _)| {
            if ti != own && Some(roster.providers[pi].id.as_str()) != own_provider {
                others.insert(pi);
            }
            ti == own
        });
        for pi in others {
            excluded.push((
                roster.providers[pi].id.clone(),
                "cared_for_by_own_team".to_string(),
                format!(
                    "the person is cared for by team {}, which takes their new packages",
                    roster.teams[own].id
                ),
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

#[cfg(test)]
mod prepared_tests {
    use super::super::tests::{World, t0, world, world_of};
    use super::super::*;
    use crate::format::{Package, ServiceUser};

    /// A county whose providers all take a fitting package at once, so a
    /// referral changes a team's rota in the same command.
    fn auto_accepting(seed: u64) -> World {
        let mut county = demo::county(&demo::small_profile(), seed, 40).expect("county");
        for p in &mut county.roster.providers {
            p.auto_accept.enabled = true;
            p.auto_accept.max_min_per_week = None;
            p.auto_accept.single_handed_only = false;
        }
        world_of(county, BrokerConfig::default())
    }

    /// `p` as a new referral `tag` for another person at the same address,
    /// each visit pattern `k` times.
    fn variant(p: &Package, u: &ServiceUser, tag: &str, k: usize) -> (Package, ServiceUser) {
        let mut p = p.clone();
        let mut u = u.clone();
        p.id = format!("{}-{tag}", p.id);
        u.id = format!("{}-{tag}", u.id);
        p.service_user = u.id.clone();
        u.known_carers.clear();
        u.preferred_carers.clear();
        p.links.clear();
        p.visits = (0..k)
            .flat_map(|i| {
                p.visits.iter().map(move |v| {
                    let mut v = v.clone();
                    v.id = format!("{}-{i}", v.id);
                    v
                })
            })
            .collect();
        (p, u)
    }

    /// Without concurrency a prepared referral decides exactly as a plain one.
    #[test]
    fn a_prepared_referral_without_concurrency_decides_as_a_plain_one() {
        let mut plain = world(11, BrokerConfig::default());
        let mut prepared = world(11, BrokerConfig::default());
        let now = t0();
        let referrals = plain.referrals.clone();
        let mut searched = 0;
        for (p, u) in referrals.iter().take(12) {
            let a = plain.run(|b| b.refer(p.clone(), u.clone(), now));
            let prep = prepared.broker.prepare_referral(p, u, now);
            searched += usize::from(prep.is_some());
            let b = prepared.run(|b| b.refer_prepared(p.clone(), u.clone(), now, false, prep));
            assert_eq!(
                serde_json::to_string(&a).expect("json"),
                serde_json::to_string(&b).expect("json"),
                "referral {}",
                p.id
            );
        }
        assert!(searched > 0, "the searches were prepared");
        prepared.assert_consistent();
    }

    type Referral = (Package, ServiceUser);

    /// A county (seed), two referrals and a team that is first for both on
    /// the snapshot but, once the first is placed there, has no room for the
    /// second.
    fn last_room() -> (u64, Referral, Referral, String) {
        let now = t0();
        let mut found = None;
        'search: for seed in [11, 12, 13] {
            let w = auto_accepting(seed);
            for (p, u) in w.referrals.iter().take(40) {
                for k in 1..=4 {
                    let (p1, u1) = variant(p, u, "race-a", k);
                    let (p2, u2) = variant(p, u, "race-b", k);
                    let Some(first) = w
                        .broker
                        .prepare_referral(&p2, &u2, now)
                        .and_then(|s| s.report.fitting.first().map(|c| c.fit.team.clone()))
                    else {
                        continue;
                    };
                    let mut b = w.broker.clone();
                    if b.refer(p1.clone(), u1.clone(), now).is_err()
                        || b.packages[&p1.id].team.as_deref() != Some(first.as_str())
                    {
                        continue;
                    }
                    let after = b.candidates_at(&p2, &u2, now);
                    if after.fitting.iter().all(|c| c.fit.team != first) {
                        found = Some((seed, (p1, u1), (p2, u2), first));
                        break 'search;
                    }
                }
            }
        }
        found.expect("a team with room for one of the two")
    }

    /// Two referrals race for a team's last room: both searched on the same
    /// snapshot, where the team is first for each. The first takes the room;
    /// at the second's commit the writer re-checks that team (its rota
    /// changed), finds no room and moves on down the cascade.
    #[test]
    fn two_referrals_racing_for_the_last_room_give_one_fit_and_one_that_moves_on() {
        let now = t0();
        let (seed, (p1, u1), (p2, u2), team) = last_room();
        for known_since in [true, false] {
            let mut w = auto_accepting(seed);
            let snapshot = w.broker.clone();
            let first = snapshot.prepare_referral(&p1, &u1, now).expect("search a");
            let mut second = snapshot.prepare_referral(&p2, &u2, now).expect("search b");
            assert_eq!(
                second.report.fitting[0].fit.team, team,
                "on the snapshot the team is first for both"
            );
            let events =
                w.run(|b| b.refer_prepared(p1.clone(), u1.clone(), now, false, Some(first)));
            second.since = known_since.then_some(events);
            w.run(|b| b.refer_prepared(p2.clone(), u2.clone(), now, false, Some(second)));
            let b = &w.broker;
            assert_eq!(b.packages[&p1.id].team.as_deref(), Some(team.as_str()));
            assert_ne!(
                b.packages[&p2.id].team.as_deref(),
                Some(team.as_str()),
                "the second referral is not placed on the full team"
            );
            assert!(
                b.offers
                    .values()
                    .all(|o| !(o.package == p2.id && o.team == team)),
                "nor offered to it"
            );
            // Every team's rota (the full one included) passes the checker,
            // and replaying the events gives the same state.
            w.assert_consistent();
        }
    }

    /// The team a broker picks for a direct referral: the last fitting
    /// candidate of another provider than the first's, so the first-refusal
    /// check has something to say.
    fn chosen(b: &Broker, p: &Package, u: &ServiceUser) -> Option<(String, String)> {
        let r = b.candidates_at(p, u, t0());
        let c = r.fitting.last()?;
        Some((c.provider.clone(), c.fit.team.clone()))
    }

    /// Without concurrency a prepared direct referral (an applied
    /// recommendation) decides exactly as a plain one, overrides included.
    #[test]
    fn a_prepared_direct_referral_without_concurrency_decides_as_a_plain_one() {
        let mut plain = world(11, BrokerConfig::default());
        let mut prepared = world(11, BrokerConfig::default());
        let now = t0();
        let why = OverrideRequest {
            reason: Some(OverrideReason::PersonChoice),
            note: None,
            by: Some("broker-key".into()),
        };
        let referrals = plain.referrals.clone();
        let mut placed = 0;
        for (p, u) in referrals.iter().take(12) {
            let Some((provider, team)) = chosen(&plain.broker, p, u) else {
                continue;
            };
            let a = plain.run(|b| b.refer_to(p.clone(), u.clone(), &provider, &team, &why, now));
            let prep = prepared.broker.prepare_direct(p, u, &team, now);
            assert!(
                prep.is_some(),
                "a valid referral is searched on the snapshot"
            );
            let b = prepared.run(|b| {
                b.refer_to_prepared(p.clone(), u.clone(), &provider, &team, &why, now, prep)
            });
            assert_eq!(
                serde_json::to_string(&a).expect("json"),
                serde_json::to_string(&b).expect("json"),
                "referral {}",
                p.id
            );
            placed += 1;
        }
        assert!(placed > 3, "direct referrals were made ({placed})");
        prepared.assert_consistent();
    }

    /// A team outside the shortlist (the broker chose a far team) is
    /// fit-checked on the snapshot too, so the writer does not search it.
    #[test]
    fn a_direct_referral_to_a_team_beyond_the_shortlist_is_prepared_with_its_fit() {
        let w = world(
            11,
            BrokerConfig {
                max_teams_checked: 1,
                ..BrokerConfig::default()
            },
        );
        let now = t0();
        let (p, u) = &w.referrals[0];
        let plain = w.broker.candidates_at(p, u, now);
        let listed: std::collections::BTreeSet<&str> = plain
            .fitting
            .iter()
            .chain(&plain.not_fitting)
            .map(|c| c.fit.team.as_str())
            .collect();
        let far = w
            .broker
            .roster
            .teams
            .iter()
            .find(|t| !listed.contains(t.id.as_str()) && t.provider.is_some())
            .expect("a team the shortlist left out");
        let prep = w
            .broker
            .prepare_direct(p, u, &far.id, now)
            .expect("prepared");
        let all: Vec<&str> = prep
            .report
            .fitting
            .iter()
            .chain(&prep.report.not_fitting)
            .map(|c| c.fit.team.as_str())
            .collect();
        assert_eq!(all.len(), listed.len() + 1);
        assert!(
            all.contains(&far.id.as_str()),
            "the chosen team's fit is in the report"
        );
        assert_eq!(prep.report.teams_checked, plain.teams_checked);
    }

    /// An applied recommendation races a referral for a team's last room:
    /// both searched on one snapshot, where the team fits. The referral
    /// commits first and takes the room; at the recommendation's commit the
    /// writer re-checks the team and refuses it (`no_longer_fits`), leaving
    /// no trace of it.
    #[test]
    fn an_applied_recommendation_racing_for_the_last_room_is_refused_at_commit() {
        let now = t0();
        let (seed, (p1, u1), (p2, u2), team) = last_room();
        for known_since in [true, false] {
            let mut w = auto_accepting(seed);
            let snapshot = w.broker.clone();
            let provider = snapshot.roster.teams[snapshot.index.team_pos[&team]]
                .provider
                .clone()
                .expect("provider");
            let first = snapshot.prepare_referral(&p1, &u1, now).expect("search a");
            let mut direct = snapshot
                .prepare_direct(&p2, &u2, &team, now)
                .expect("search b");
            assert!(
                direct.report.fitting.iter().any(|c| c.fit.team == team),
                "on the snapshot the team fits the recommendation"
            );
            let events =
                w.run(|b| b.refer_prepared(p1.clone(), u1.clone(), now, false, Some(first)));
            assert_eq!(
                w.broker.packages[&p1.id].team.as_deref(),
                Some(team.as_str())
            );
            direct.since = known_since.then_some(events);
            let before = w.broker.events_applied;
            let why = OverrideRequest {
                reason: Some(OverrideReason::PersonChoice),
                note: None,
                by: None,
            };
            let refused = w.broker.refer_to_prepared(
                p2.clone(),
                u2.clone(),
                &provider,
                &team,
                &why,
                now,
                Some(direct),
            );
            assert!(
                matches!(refused, Err(BrokerError::NoLongerFits { team: ref t, .. }) if *t == team),
                "refused at commit: {refused:?}"
            );
            assert_eq!(w.broker.events_applied, before, "nothing applied");
            assert!(!w.broker.packages.contains_key(&p2.id));
            w.assert_consistent();
        }
    }

    /// A search run one fit check after another gives the same report as one
    /// fanned out over the cores.
    #[test]
    fn a_sequential_search_gives_the_parallel_report() {
        let w = world(12, BrokerConfig::default());
        for (p, u) in w.referrals.iter().take(6) {
            let a = w.broker.candidates_at(p, u, t0());
            let b = w.broker.candidates_at_sequential(p, u, t0());
            assert_eq!(
                serde_json::to_string(&a).expect("json"),
                serde_json::to_string(&b).expect("json")
            );
        }
    }
}
