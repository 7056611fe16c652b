//! Package brokering in the style of Devon Cares: referrals are matched to
//! providers' neighbourhood teams that can really deliver them (every visit
//! fits the team's current rota), offered in tier order with first-refusal
//! windows, accepted or declined, and escalated to emergency cover, with fill
//! clocks, liquidated damages, a risk pool and provider failure.
//!
//! State changes only through [`BrokerEvent`]s: a command (refer, accept,
//! decline, tick, provider failure, year end) reads the state, decides events
//! and applies them one by one; the caller persists the events of one command
//! in one transaction. Replaying stored events rebuilds the same state, so a
//! crash between commands loses nothing and a crash during one leaves nothing
//! half-applied. Time is always passed in (`now`), never read from a clock.
//!
//! # Modules
//! - `events`: [`BrokerEvent`] and [`Broker::apply`], one applier per event kind.
//! - `referral`: packages entering brokering (one, a batch, or to a chosen team),
//!   cancellation, a broker's retry of an escalated package.
//! - `offers`: the cascade step (who is offered a package next), auto-acceptance,
//!   accept and decline, and the fee an acceptance posts.
//! - [`horizon`]: the rolling horizon (finished days to history, new days
//!   placed), the frozen past, packages scheduled beyond the horizon.
//! - `tick`: time passing: offer expiry, escalation retries, damages, year end.
//! - `provider_failure`: suspension and failure, releases, carer transfers.
//! - `roster`: providers, teams, carers and absences changed while brokering,
//!   with minimum-change re-plans of the teams' rotas.
//! - `candidates`: which teams could take a package and in what order;
//!   `fit`: whether the whole package fits one team's rota, and at what cost.
//! - [`batch`]: many packages allocated together by a MILP.
//! - `county`: lookups over the roster and a team's own slice of it.
//! - [`records`], [`ledger`], [`config`], [`reports`], `demo`: the state's
//!   records, the money, the policy, read-only reports and the demo county.
//! - [`delivery`]: the policy changed at run time, offer-expiry notices and
//!   the delivery loop (check-in / check-out, late and missed visits).
//! - `store` (cargo feature `store`): the durable store (SQLite or PostgreSQL)
//!   that appends each command's events to an audit log and replays it.

pub mod batch;
mod candidates;
pub mod config;
mod county;
mod cover;
pub mod delivery;
#[cfg(any(test, feature = "generate"))]
pub mod demo;
mod error;
mod events;
mod fit;
pub mod horizon;
pub mod ledger;
mod offers;
mod overrides;
mod provider_failure;
mod publish;
pub mod records;
mod referral;
pub mod reports;
mod retry;
mod roster;
#[cfg(feature = "store")]
pub mod store;
mod tick;

#[cfg(test)]
mod alerts_tests;
#[cfg(test)]
mod roster_tests;
#[cfg(test)]
mod scenarios;
#[cfg(test)]
mod tests;

pub use candidates::{
    Candidate, CandidateReport, Prepared, PreparedBatch, PreparedSearch, TEAM_REACH_M,
};
pub use config::{
    BrokerConfig, DamagesSharing, DeliveryPolicy, OfferMode, OfferWindows, VisitMonitoring,
};
pub use county::{area_label, package_skills};
pub use delivery::{CheckPoint, CheckRequest, GeoPoint, PlannedVisit, PolicyVersion, VisitRecord};
pub use error::BrokerError;
pub use events::BrokerEvent;
pub use horizon::{HorizonPolicy, RolledTeam, frozen_past_changes};
pub use ledger::{EntryKind, Ledger, LedgerEntry};
pub use overrides::OverrideRequest;
pub use provider_failure::{PreparedRelease, ReleasedPackages};
pub use records::{
    Alert, CarerTransfer, DeclineReason, EmergencyVisit, FitSummary, Offer, OfferOverride,
    OfferStatus, OverrideReason, PackageRecord, PackageStatus, TeamReplan, VisitMove,
};

use crate::format::{Package, PlanningRequest, Rota, ServiceUser};
use crate::model::Problem;
use county::RosterIndex;
use std::collections::BTreeMap;

/// Plans every team's rota of a county from scratch (in parallel, each team on
/// its own), for a broker starting without published rotas (demo, tests).
pub fn plan_initial_rotas(
    roster: &PlanningRequest,
    options: &crate::rota::SolveOptions,
) -> Result<BTreeMap<String, Rota>, BrokerError> {
    use rayon::prelude::*;
    let index = RosterIndex::build(roster);
    let planner = Broker {
        config: BrokerConfig::default(),
        roster: roster.clone(),
        rotas: BTreeMap::new(),
        packages: BTreeMap::new(),
        offers: BTreeMap::new(),
        ledger: Ledger::default(),
        alerts: Vec::new(),
        events_applied: 0,
        history: BTreeMap::new(),
        now: None,
        index,
        next_offer: 1,
        policy_versions: Vec::new(),
        delivery: delivery::DeliveryState::default(),
        emergency_visits: BTreeMap::new(),
        cover_charged: Default::default(),
        retry_memo: Default::default(),
    };
    roster
        .teams
        .par_iter()
        .map(|t| {
            let req = planner
                .team_request(&t.id)
                .ok_or_else(|| BrokerError::UnknownTeam(t.id.clone()))?;
            let p = Problem::from_request(&req).map_err(|issues| {
                BrokerError::Invalid(format!(
                    "team `{}`: {}",
                    t.id,
                    issues
                        .first()
                        .map(|i| format!("{}: {}", i.path, i.message))
                        .unwrap_or_default()
                ))
            })?;
            let mut rota = crate::rota::solve(&p, options);
            rota.stats = None;
            rota.kpis = None;
            Ok((t.id.clone(), rota))
        })
        .collect()
}

/// The broker's whole state. `Clone` so a service can keep a second copy for
/// readers and bring it up to date by applying the same committed events.
#[derive(Debug, Clone)]
pub struct Broker {
    /// Policy.
    pub config: BrokerConfig,
    /// The county: providers, teams, carers, people and active packages.
    pub roster: PlanningRequest,
    /// Published rota per team id.
    pub rotas: BTreeMap<String, Rota>,
    /// Referred packages by id.
    pub packages: BTreeMap<String, PackageRecord>,
    /// Offers by id.
    pub offers: BTreeMap<String, Offer>,
    /// Money.
    pub ledger: Ledger,
    /// Alerts raised (escalations).
    pub alerts: Vec<Alert>,
    /// Events applied so far.
    pub events_applied: u64,
    /// Finished days of each team's rota (routes and unplaced visits), moved
    /// out of the live rota when the horizon rolled; never changed after.
    pub history: BTreeMap<String, Rota>,
    /// The instant of the command being decided (see [`Broker::set_now`]);
    /// not part of the replayed state.
    now: Option<chrono::DateTime<chrono::Utc>>,
    index: RosterIndex,
    next_offer: u64,
    /// Every version of the policy, oldest first (the last is `config`).
    pub policy_versions: Vec<PolicyVersion>,
    /// Check-ins, check-outs and overdue-visit alerts.
    pub delivery: delivery::DeliveryState,
    /// Single visits the emergency cover provider makes (dropped by a re-plan,
    /// or interim cover), by visit id.
    pub emergency_visits: BTreeMap<String, records::EmergencyVisit>,
    /// Days of emergency cover already charged: (package, date, source).
    pub cover_charged: std::collections::BTreeSet<(String, String, String)>,
    /// Which teams changed since each escalated package's last retry; not
    /// part of the replayed state.
    retry_memo: retry::RetryMemo,
}

impl Broker {
    /// A broker over a validated roster and its teams' published rotas.
    pub fn new(
        config: BrokerConfig,
        roster: PlanningRequest,
        rotas: BTreeMap<String, Rota>,
    ) -> Result<Broker, BrokerError> {
        config.validate().map_err(BrokerError::Invalid)?;
        if let Err(issues) = Problem::from_request(&roster) {
            let first = issues
                .first()
                .map(|i| format!("{}: {}", i.path, i.message))
                .unwrap_or_default();
            return Err(BrokerError::Invalid(format!(
                "roster has {} issue(s); first: {first}",
                issues.len()
            )));
        }
        for team in rotas.keys() {
            if !roster.teams.iter().any(|t| &t.id == team) {
                return Err(BrokerError::UnknownTeam(team.clone()));
            }
        }
        let index = RosterIndex::build(&roster);
        let baseline_policy = PolicyVersion {
            version: 1,
            at: None,
            by: "baseline".into(),
            config: config.clone(),
        };
        Ok(Broker {
            config,
            roster,
            rotas,
            packages: BTreeMap::new(),
            offers: BTreeMap::new(),
            ledger: Ledger::default(),
            alerts: Vec::new(),
            events_applied: 0,
            history: BTreeMap::new(),
            now: None,
            index,
            next_offer: 1,
            policy_versions: vec![baseline_policy],
            delivery: delivery::DeliveryState::default(),
            emergency_visits: BTreeMap::new(),
            cover_charged: Default::default(),
            retry_memo: Default::default(),
        })
    }

    /// The service user record for a package's person, if in the roster.
    pub fn service_user(&self, id: &str) -> Option<&ServiceUser> {
        self.index
            .user_pos
            .get(id)
            .map(|&i| &self.roster.service_users[i])
    }

    /// Open offers made to a provider.
    pub fn open_offers_for(&self, provider: &str) -> Vec<&Offer> {
        self.offers
            .values()
            .filter(|o| o.provider == provider && o.status == OfferStatus::Open)
            .collect()
    }

    /// The package of a record (convenience).
    pub fn package(&self, id: &str) -> Option<&Package> {
        self.packages.get(id).map(|r| &r.package)
    }

    /// The team's own roster (its provider, carers, people and their packages),
    /// the request its rota answers, with the visits started before the
    /// command's `now` pinned (the frozen past); `None` for an unknown team.
    pub fn team_request(&self, team: &str) -> Option<PlanningRequest> {
        let ti = *self.index.team_pos.get(team)?;
        let mut req = county::team_roster(&self.roster, &self.index, ti, None);
        county::keep_team_carer_refs(&mut req);
        if let (Some(now), Some(rota)) = (self.now, self.rotas.get(team)) {
            req.existing_rota = horizon::frozen_pins(rota, &req.horizon, now);
        }
        Some(req)
    }

    /// Rebuilds every lookup; needed when providers or teams change.
    fn rebuild_index(&mut self) {
        self.index = RosterIndex::build(&self.roster);
    }

    /// Rebuilds the lookups of carers, people and packages only (providers and
    /// teams unchanged): the common case, kept cheap because a provider failure
    /// applies hundreds of events in a row.
    fn refresh_people_index(&mut self) {
        self.index.build_people(&self.roster);
    }
}
