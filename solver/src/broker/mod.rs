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

pub mod batch;
mod cascade;
pub mod config;
#[cfg(any(test, feature = "generate"))]
pub mod demo;
pub mod ledger;
pub mod records;
pub mod reports;
mod roster;
mod world;

#[cfg(test)]
mod roster_tests;
#[cfg(test)]
mod scenarios;
#[cfg(test)]
mod tests;

pub use cascade::{Candidate, CandidateReport};
pub use config::{BrokerConfig, DamagesSharing, OfferMode, OfferWindows};
pub use ledger::{EntryKind, Ledger, LedgerEntry};
pub use records::{
    Alert, BrokerEvent, CarerTransfer, DeclineReason, FitSummary, Offer, OfferStatus,
    PackageRecord, PackageStatus, TeamReplan, VisitMove,
};
pub use world::{TEAM_REACH_M, area_label, package_skills};

use crate::format::{Package, PlanningRequest, Rota, ServiceUser};
use crate::model::Problem;
use std::collections::BTreeMap;
use world::RosterIndex;

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
        index,
        next_offer: 1,
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

/// A broker error with a stable code (the API maps codes to HTTP statuses).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BrokerError {
    /// The roster or a package is invalid; issues carry JSON paths.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// No such package.
    #[error("unknown package `{0}`")]
    UnknownPackage(String),
    /// No such offer.
    #[error("unknown offer `{0}`")]
    UnknownOffer(String),
    /// No such provider.
    #[error("unknown provider `{0}`")]
    UnknownProvider(String),
    /// No such team.
    #[error("unknown team `{0}`")]
    UnknownTeam(String),
    /// No such carer.
    #[error("unknown carer `{0}`")]
    UnknownCarer(String),
    /// A roster record is invalid; every issue carries the JSON path of its field.
    #[error("invalid input: {}", .0.iter().map(|i| i.to_string()).collect::<Vec<_>>().join("; "))]
    InvalidFields(Vec<crate::format::Issue>),
    /// A provider, team or carer with this id already exists (create only).
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The change is not allowed in the record's current state.
    #[error("{detail}")]
    Refused {
        /// Stable code.
        code: &'static str,
        /// What is wrong and what to do instead.
        detail: String,
    },
    /// A package with this id is already being brokered or active.
    #[error("package `{0}` already exists")]
    DuplicatePackage(String),
    /// The offer is no longer open.
    #[error("offer `{offer}` is {status}, not open")]
    OfferClosed {
        /// Offer id.
        offer: String,
        /// Its status.
        status: String,
    },
    /// The offer's window has passed.
    #[error("offer `{0}` expired before it was answered")]
    OfferExpired(String),
    /// The package no longer fits the team's rota (it changed since the offer).
    #[error("package no longer fits team `{team}`: {why}")]
    NoLongerFits {
        /// Team.
        team: String,
        /// Explanation.
        why: String,
    },
}

impl BrokerError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            BrokerError::Invalid(_) => "invalid_input",
            BrokerError::UnknownPackage(_) => "unknown_package",
            BrokerError::UnknownOffer(_) => "unknown_offer",
            BrokerError::UnknownProvider(_) => "unknown_provider",
            BrokerError::UnknownTeam(_) => "unknown_team",
            BrokerError::UnknownCarer(_) => "unknown_carer",
            BrokerError::InvalidFields(_) => "invalid_input",
            BrokerError::AlreadyExists(_) => "already_exists",
            BrokerError::Refused { code, .. } => code,
            BrokerError::DuplicatePackage(_) => "duplicate_package",
            BrokerError::OfferClosed { .. } => "offer_closed",
            BrokerError::OfferExpired(_) => "offer_expired",
            BrokerError::NoLongerFits { .. } => "no_longer_fits",
        }
    }
}

/// The broker's whole state.
#[derive(Debug)]
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
    index: RosterIndex,
    next_offer: u64,
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
        Ok(Broker {
            config,
            roster,
            rotas,
            packages: BTreeMap::new(),
            offers: BTreeMap::new(),
            ledger: Ledger::default(),
            alerts: Vec::new(),
            events_applied: 0,
            index,
            next_offer: 1,
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
    /// the request its rota answers; `None` for an unknown team.
    pub fn team_request(&self, team: &str) -> Option<PlanningRequest> {
        let ti = *self.index.team_pos.get(team)?;
        let mut req = world::team_roster(&self.roster, &self.index, ti, None);
        world::keep_team_carer_refs(&mut req);
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
