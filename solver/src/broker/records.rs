//! Broker records: packages, offers, alerts and the fit summaries, transfers
//! and re-plans the events carry. They change only through
//! [`super::BrokerEvent`]s.

use crate::format::{ChangeList, Package, Rota, Tier, UnplacedReason};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Where a package is in brokering.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum PackageStatus {
    /// Referred, being offered.
    Open,
    /// A provider accepted; visits are on a team rota.
    Filled,
    /// No provider, not even emergency cover, can take it: a human must act.
    Escalated,
    /// Withdrawn by the referrer.
    Cancelled,
}

/// A referred package and its brokering history.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PackageRecord {
    /// The package as referred.
    pub package: Package,
    /// Brokering state.
    pub status: PackageStatus,
    /// When the fill clock started (referral, or the provider failure that released it).
    pub referred_at: DateTime<Utc>,
    /// When a provider accepted.
    pub filled_at: Option<DateTime<Utc>>,
    /// Accepting provider.
    pub provider: Option<String>,
    /// Team whose rota holds the visits.
    pub team: Option<String>,
    /// Tier of the accepting provider.
    pub filled_tier: Option<Tier>,
    /// Cascade stage now open.
    pub stage: Option<Tier>,
    /// Stages opened so far, in order.
    pub stages_tried: Vec<Tier>,
    /// Providers that declined or let an offer expire (not offered again).
    pub passed_by: BTreeSet<String>,
    /// Liquidated damages already accrued for this referral.
    pub damages_accrued: bool,
    /// Provider it was with before a failure or suspension released it.
    pub previous_provider: Option<String>,
    /// Area label for reports (nearest town or "rural").
    pub area: String,
    /// When an escalated package was last tried again.
    #[serde(default)]
    pub last_retry_at: Option<DateTime<Utc>>,
    /// Retries in a row that could not place it (since it was last escalated).
    #[serde(default)]
    pub fruitless_retries: u32,
    /// Scheduled: the package starts beyond the horizon and is brokered from
    /// this local date (`YYYY-MM-DD`), when its start enters the look-ahead.
    #[serde(default)]
    pub brokering_from: Option<String>,
    /// Version of the brokering policy in force when it was referred or
    /// adopted (`GET /v1/policy/history`).
    #[serde(default)]
    pub policy_version: u32,
    /// When the damages clock starts, if not at `referred_at`: the time the
    /// broker received a referral whose `referral_time` was earlier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub damages_from: Option<DateTime<Utc>>,
    /// Set when a broker offered the package out of tier order (skipping a
    /// fitting provider's first refusal), with the reason given.
    #[serde(default, rename = "override", skip_serializing_if = "Option::is_none")]
    pub out_of_order: Option<OfferOverride>,
    /// Carers of each visit pattern (`package/pattern`) before a provider
    /// failure released the package: the team that fills it gives the visits
    /// back to them where it can.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub former_carers: BTreeMap<String, Vec<String>>,
}

impl PackageRecord {
    /// A record with no brokering history yet.
    pub fn new(package: Package, status: PackageStatus, at: DateTime<Utc>, area: String) -> Self {
        PackageRecord {
            package,
            status,
            referred_at: at,
            filled_at: None,
            provider: None,
            team: None,
            filled_tier: None,
            stage: None,
            stages_tried: Vec::new(),
            passed_by: BTreeSet::new(),
            damages_accrued: false,
            previous_provider: None,
            area,
            last_retry_at: None,
            fruitless_retries: 0,
            brokering_from: None,
            policy_version: 0,
            damages_from: None,
            out_of_order: None,
            former_carers: BTreeMap::new(),
        }
    }
}

/// State of an offer.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum OfferStatus {
    /// Awaiting the provider's answer.
    Open,
    /// Accepted: the package is the provider's.
    Accepted,
    /// Declined with a reason.
    Declined,
    /// Window passed without an answer.
    Expired,
    /// Taken back (another provider accepted, the provider was suspended, or it no longer fits).
    Withdrawn,
}

/// Why a provider declined (recorded for the cherry-picking report).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum DeclineReason {
    /// No carer time free.
    NoCapacity,
    /// No carer with the skills or the gender asked for.
    NoSuitableCarer,
    /// Outside where the provider works in practice.
    OutOfArea,
    /// Too much travel for the visits.
    TravelTooFar,
    /// Too few hours to be worth it (a sign of cherry-picking).
    PackageTooSmall,
    /// The visit times do not suit the provider's rotas.
    VisitTimesUnsuitable,
    /// Needs judged too risky.
    RiskTooHigh,
    /// Anything else (see the note).
    Other,
}

impl DeclineReason {
    /// Stable snake_case code.
    pub fn code(self) -> &'static str {
        match self {
            DeclineReason::NoCapacity => "no_capacity",
            DeclineReason::NoSuitableCarer => "no_suitable_carer",
            DeclineReason::OutOfArea => "out_of_area",
            DeclineReason::TravelTooFar => "travel_too_far",
            DeclineReason::PackageTooSmall => "package_too_small",
            DeclineReason::VisitTimesUnsuitable => "visit_times_unsuitable",
            DeclineReason::RiskTooHigh => "risk_too_high",
            DeclineReason::Other => "other",
        }
    }
}

/// What the fit check found for one team.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FitSummary {
    /// Team checked.
    pub team: String,
    /// Whether every visit of the package fits the team's current rota.
    pub fits: bool,
    /// Visits of the package in the rota horizon.
    pub visits: usize,
    /// Of which placed.
    pub placed: usize,
    /// Extra paid travel minutes over the horizon.
    pub extra_travel_min: i64,
    /// Objective change (travel, continuity, preferences) of taking it.
    pub cost_delta: f64,
    /// Carers who would do the visits.
    pub carers: Vec<String>,
    /// Of those, carers the person already knows.
    pub known_carers: Vec<String>,
    /// Carer-minutes of care per week the package brings.
    pub care_min: u64,
    /// Why visits could not be placed (most common first).
    pub reasons: Vec<UnplacedReason>,
    /// One-sentence explanation for a broker.
    pub explanation: String,
    /// The package's visits whose window opened before the check (that care
    /// is over): not asked for, and listed as unplaced on acceptance.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passed: Vec<crate::format::UnplacedVisit>,
}

/// An offer of a package to a provider (for one of its teams).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Offer {
    /// Id, e.g. `off-000042`.
    pub id: String,
    /// Package offered.
    pub package: String,
    /// Provider offered.
    pub provider: String,
    /// The provider's team that fits it best.
    pub team: String,
    /// Cascade stage of the offer.
    pub stage: Tier,
    /// When made.
    pub made_at: DateTime<Utc>,
    /// When the window closes.
    pub expires_at: DateTime<Utc>,
    /// State.
    pub status: OfferStatus,
    /// When answered, expired or withdrawn.
    pub closed_at: Option<DateTime<Utc>>,
    /// Decline reason.
    pub decline_reason: Option<DeclineReason>,
    /// Decline or withdrawal note.
    pub note: Option<String>,
    /// The fit check behind the offer.
    pub fit: FitSummary,
}

/// A situation a human broker must deal with.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Alert {
    /// When raised.
    pub at: DateTime<Utc>,
    /// Package concerned (empty for an alert about no one package, e.g. the risk pool).
    pub package: String,
    /// Stable code, e.g. `no_provider_can_take_package`, `visit_dropped`.
    pub code: String,
    /// Explanation.
    pub message: String,
    /// The visit concerned (a dropped visit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visit: Option<String>,
    /// The person concerned (service user id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    /// The team whose rota dropped the visit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Planned start of the visit, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visit_start: Option<String>,
    /// What was done about it: `emergency_cover_assigned`, `no_emergency_cover`,
    /// `outside_cover_window` (a dropped visit), or absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

/// A carer moving to another team (TUPE transfer when a provider fails).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CarerTransfer {
    /// Carer id.
    pub carer: String,
    /// Team joined.
    pub to_team: String,
}

/// A visit whose carers changed when a team's rota was re-planned.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VisitMove {
    /// Concrete visit id.
    pub visit: String,
    /// Carers before.
    pub from: Vec<String>,
    /// Carers after.
    pub to: Vec<String>,
}

/// A team's rota after a roster change, and the difference to the one before
/// (kept in the event so the audit log says what moved, not only the result).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TeamReplan {
    /// Team.
    pub team: String,
    /// The team's rota after re-planning.
    pub rota: Rota,
    /// Visits given to other carers.
    pub moved: Vec<VisitMove>,
    /// Visits planned before that now fit nowhere (listed in `rota.unplaced` with reasons).
    pub newly_unplaced: Vec<String>,
    /// Visits unplaced before that the change made room for.
    pub newly_placed: Vec<String>,
    /// Visit by visit: moved, re-timed, dropped, placed.
    #[serde(default)]
    pub changes: ChangeList,
}

/// Why a broker offered a package out of tier order (skipping a fitting
/// higher tier's first refusal).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum OverrideReason {
    /// The person (or their advocate) chose the provider.
    PersonChoice,
    /// Needs only that provider can meet.
    SpecialistNeed,
    /// A carer the person already knows works for that provider.
    ContinuityWithExistingCarer,
    /// A safeguarding concern about the providers skipped.
    Safeguarding,
    /// Anything else: a note is required.
    Other,
}

impl OverrideReason {
    /// Stable snake_case code.
    pub fn code(self) -> &'static str {
        match self {
            OverrideReason::PersonChoice => "person_choice",
            OverrideReason::SpecialistNeed => "specialist_need",
            OverrideReason::ContinuityWithExistingCarer => "continuity_with_existing_carer",
            OverrideReason::Safeguarding => "safeguarding",
            OverrideReason::Other => "other",
        }
    }

    /// Every code, for error messages and the API schema.
    pub const CODES: &'static str =
        "person_choice, specialist_need, continuity_with_existing_carer, safeguarding, other";
}

/// An out-of-order offer: who was skipped, for whom, and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OfferOverride {
    /// When.
    pub at: DateTime<Utc>,
    /// Provider offered.
    pub provider: String,
    /// Its team.
    pub team: String,
    /// Its tier.
    pub tier: Tier,
    /// The first stage that had a fitting provider.
    pub skipped_stage: Tier,
    /// Providers of earlier stages whose teams fitted (first refusal skipped).
    pub skipped_providers: Vec<String>,
    /// The broker's reason.
    pub reason: OverrideReason,
    /// The broker's note (required for `other`).
    pub note: Option<String>,
    /// Key id of the broker who made it (the audit log has it too).
    pub by: Option<String>,
}

/// A single visit covered by the emergency cover provider (a visit a re-plan
/// dropped, or interim cover while a failed provider's package is re-brokered).
/// It is not on any team's rota: the standby team is dispatched to it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EmergencyVisit {
    /// Concrete visit id.
    pub visit: String,
    /// Package.
    pub package: String,
    /// Person.
    pub person: String,
    /// Emergency cover provider.
    pub provider: String,
    /// Its team.
    pub team: String,
    /// Its carers making the visit.
    pub carers: Vec<String>,
    /// Start, RFC 3339 (the time planned before it was dropped).
    pub start: String,
    /// End, RFC 3339.
    pub end: String,
    /// Carer-minutes (duration times carers).
    pub care_min: u64,
    /// `visit_dropped` or `interim_cover`.
    pub why: String,
    /// When assigned.
    pub at: DateTime<Utc>,
}
