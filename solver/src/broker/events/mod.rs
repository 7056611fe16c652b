//! The events that change broker state. Every change is a [`BrokerEvent`]:
//! commands decide which events happen, and applying them (see [`apply`]) is
//! the only way state changes, so the same events replayed from the database
//! rebuild exactly the same state.

mod apply;

use super::delivery::{CheckPoint, PlannedVisit};
use super::ledger::{EntryKind, LedgerEntry};
use super::records::{
    Alert, CarerTransfer, DeclineReason, EmergencyVisit, FitSummary, Offer, OfferOverride,
    TeamReplan,
};
use super::{Broker, BrokerConfig};
use crate::format::{Carer, FrameworkStatus, Package, Provider, Route, ServiceUser, Team, Tier};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Every change to broker state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BrokerEvent {
    /// A package was referred (or released back into brokering).
    Referred {
        /// When.
        at: DateTime<Utc>,
        /// The package.
        package: Package,
        /// The person (added to or updated in the roster).
        service_user: ServiceUser,
        /// Area label.
        area: String,
        /// Provider it was with before, when re-brokered.
        previous_provider: Option<String>,
        /// When the broker received it, if later than `at` (a back-dated
        /// `referral_time`): damages accrue from here, not from `at`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        received_at: Option<DateTime<Utc>>,
    },
    /// A cascade stage opened for a package.
    StageOpened {
        /// When.
        at: DateTime<Utc>,
        /// Package.
        package: String,
        /// Stage.
        stage: Tier,
    },
    /// An offer went out.
    OfferMade {
        /// The offer (status open).
        offer: Offer,
    },
    /// An offer was accepted and the visits put on the team's rota.
    OfferAccepted {
        /// When.
        at: DateTime<Utc>,
        /// Offer id.
        offer: String,
        /// Taken without a human decision (auto-accept policy or emergency cover).
        automatic: bool,
        /// Routes of the team's rota that changed (whole routes, replacing by shift).
        changed_routes: Vec<Route>,
        /// The fit check at acceptance.
        fit: FitSummary,
    },
    /// An offer was declined.
    OfferDeclined {
        /// When.
        at: DateTime<Utc>,
        /// Offer id.
        offer: String,
        /// Why.
        reason: DeclineReason,
        /// Free-text note (kept out of logs).
        note: Option<String>,
    },
    /// An offer's window passed.
    OfferExpired {
        /// When.
        at: DateTime<Utc>,
        /// Offer id.
        offer: String,
    },
    /// An offer was taken back.
    OfferWithdrawn {
        /// When.
        at: DateTime<Utc>,
        /// Offer id.
        offer: String,
        /// Why (stable code).
        why: String,
    },
    /// No stage could take the package.
    Escalated {
        /// The alert raised.
        alert: Alert,
    },
    /// Liquidated damages accrued for a package (the ledger entries follow).
    DamagesAccrued {
        /// When.
        at: DateTime<Utc>,
        /// Package.
        package: String,
    },
    /// Money moved.
    Posted {
        /// The entry.
        entry: LedgerEntry,
    },
    /// A provider's framework status changed.
    ProviderStatusChanged {
        /// When.
        at: DateTime<Utc>,
        /// Provider.
        provider: String,
        /// New status.
        status: FrameworkStatus,
    },
    /// A filled package was taken off its team's rota (provider failed or suspended).
    PackageReleased {
        /// When.
        at: DateTime<Utc>,
        /// Package.
        package: String,
        /// Stable code of why.
        why: String,
        /// Carers who served the person, now remembered as known carers.
        known_carers: Vec<String>,
        /// Carers of each visit pattern before the release.
        #[serde(default)]
        former_carers: BTreeMap<String, Vec<String>>,
    },
    /// A carer moved team.
    CarerTransferred {
        /// When.
        at: DateTime<Utc>,
        /// The transfer.
        transfer: CarerTransfer,
    },
    /// The referrer withdrew an unfilled package.
    PackageCancelled {
        /// When.
        at: DateTime<Utc>,
        /// Package.
        package: String,
    },
    /// A package the county started with (not referred through the broker) was
    /// taken into the broker's records, as filled by its current provider.
    PackageAdopted {
        /// When.
        at: DateTime<Utc>,
        /// The package.
        package: Package,
        /// Its provider.
        provider: String,
        /// Its team.
        team: String,
        /// Area label.
        area: String,
    },
    /// A carer is away (sick, leave); the team's rota was re-planned around it,
    /// moving only the visits the carer can no longer make.
    CarerAbsent {
        /// When.
        at: DateTime<Utc>,
        /// Carer.
        carer: String,
        /// The absence added to the roster.
        absence: crate::format::Absence,
        /// Team whose rota changed.
        team: String,
        /// The team's rota after re-planning.
        rota: crate::format::Rota,
        /// What moved, was re-timed or dropped.
        #[serde(default)]
        changes: crate::format::ChangeList,
    },
    /// An escalated package was tried again (on a timer or by a broker); when
    /// some provider's team can now take it, it re-enters the cascade from the
    /// first stage.
    EscalationRetried {
        /// When.
        at: DateTime<Utc>,
        /// Package.
        package: String,
        /// Whether it re-entered the cascade.
        reopened: bool,
        /// Providers that declined or let offers lapse may be asked again (a
        /// broker's retry); a timed retry asks only providers not yet asked.
        ask_again: bool,
    },
    /// A provider was added to the framework or its record (tier, areas, skills,
    /// contract, fee, auto-accept) replaced. Its framework status only changes
    /// through [`BrokerEvent::ProviderStatusChanged`].
    ProviderSaved {
        /// When.
        at: DateTime<Utc>,
        /// The whole record as it now stands.
        provider: Provider,
        /// Whether it was new.
        created: bool,
    },
    /// A team was added or its record (name, base, area, limits) replaced.
    TeamSaved {
        /// When.
        at: DateTime<Utc>,
        /// The whole record as it now stands.
        team: Team,
        /// Whether it was new.
        created: bool,
    },
    /// A carer was added or its record (team, skills, shifts, limits...) replaced;
    /// the rotas of the teams it left or joined were re-planned with minimum change.
    CarerSaved {
        /// When.
        at: DateTime<Utc>,
        /// The whole record as it now stands.
        carer: Carer,
        /// Whether it was new.
        created: bool,
        /// Each re-planned team's rota and what moved in it.
        replans: Vec<TeamReplan>,
    },
    // Rolling horizon (broker/horizon.rs).
    /// The horizon moved to a new first day: finished days left the live rotas
    /// for the history, and the new days' visits were placed.
    HorizonRolled {
        /// When.
        at: DateTime<Utc>,
        /// The horizon now planned.
        horizon: crate::format::Horizon,
        /// Each team's new and changed routes and the visits left unplaced.
        teams: Vec<super::horizon::RolledTeam>,
    },
    /// A package starting beyond the horizon is held until its start date
    /// enters the look-ahead.
    BrokeringScheduled {
        /// When.
        at: DateTime<Utc>,
        /// Package.
        package: String,
        /// Local date brokering starts, `YYYY-MM-DD`.
        from: String,
    },
    /// A scheduled package entered brokering (its fill clock starts).
    BrokeringDue {
        /// When.
        at: DateTime<Utc>,
        /// Package.
        package: String,
    },
    // ---- console: rotas published by a planner ----
    /// A planner published a re-solved rota for a team (checked against the
    /// team's current roster before it was accepted); it replaces the team's rota.
    RotaPublished {
        /// When.
        at: DateTime<Utc>,
        /// Team.
        team: String,
        /// The rota now published.
        rota: crate::format::Rota,
        /// Visits the planner pinned (kept exactly by the re-solve).
        pinned: Vec<String>,
    },
    // ---- end console ----
    /// The financial year was closed.
    YearClosed {
        /// When.
        at: DateTime<Utc>,
        /// Label, e.g. `2026/27`.
        year: String,
    },
    // Policy at run time and the delivery loop (broker/delivery.rs).
    /// The brokering policy was replaced by a new version.
    PolicyChanged {
        /// When it took effect.
        at: DateTime<Utc>,
        /// The new version number.
        version: u32,
        /// Key id that changed it.
        by: String,
        /// The whole new policy.
        config: BrokerConfig,
    },
    /// An open offer's window closes soon (notice sent once per offer).
    OfferExpiring {
        /// When the notice fell due.
        at: DateTime<Utc>,
        /// Offer id.
        offer: String,
    },
    /// A carer arrived at a visit.
    VisitCheckedIn {
        /// The visit as planned.
        visit: PlannedVisit,
        /// The check-in.
        check: CheckPoint,
    },
    /// A carer left a visit.
    VisitCheckedOut {
        /// The visit as planned.
        visit: PlannedVisit,
        /// The check-out.
        check: CheckPoint,
    },
    /// A watched visit was not checked in on time (late, or missed).
    VisitOverdue {
        /// The visit as planned.
        visit: PlannedVisit,
        /// Missed (not checked in long after its start) rather than late.
        missed: bool,
        /// The alert raised to its team.
        alert: Alert,
    },
    // Live operations: dropped visits, emergency cover, brokerage integrity.
    /// An alert not tied to an escalation (a dropped visit, the risk pool).
    AlertRaised {
        /// The alert.
        alert: Alert,
    },
    /// The emergency cover provider was assigned one visit (dropped by a
    /// re-plan, or interim cover for a failed provider's person).
    EmergencyVisitAssigned {
        /// When.
        at: DateTime<Utc>,
        /// The assignment.
        visit: EmergencyVisit,
    },
    /// Emergency visits no longer needed (the package was filled elsewhere, or
    /// the visit is back on a team's rota); delivered ones stay for charging.
    EmergencyVisitsReleased {
        /// When.
        at: DateTime<Utc>,
        /// Visit ids.
        visits: Vec<String>,
        /// Stable code of why.
        why: String,
    },
    /// A filled package's visits went back to the carers who had them before
    /// its provider failed (they were transferred to the team that filled it),
    /// where the team's rota and the continuity cap allow.
    CarersReunited {
        /// When.
        at: DateTime<Utc>,
        /// Package.
        package: String,
        /// The team's re-plan.
        replan: TeamReplan,
    },
    /// A day of emergency cover was delivered and charged to the risk pool (a
    /// `posted` entry follows).
    CoverDayCharged {
        /// When.
        at: DateTime<Utc>,
        /// Package.
        package: String,
        /// Local date of the care, `YYYY-MM-DD`.
        date: String,
        /// `package` (a package filled by emergency cover) or `emergency_visits`.
        source: String,
        /// Carer-minutes delivered that day.
        care_min: u64,
    },
    /// A broker offered a package out of tier order, with a reason.
    OfferOverridden {
        /// Package.
        package: String,
        /// The override.
        record: OfferOverride,
    },
}

impl BrokerEvent {
    /// Stable snake_case name of the event kind (for the audit log).
    pub fn kind(&self) -> &'static str {
        match self {
            BrokerEvent::Referred { .. } => "referred",
            BrokerEvent::StageOpened { .. } => "stage_opened",
            BrokerEvent::OfferMade { .. } => "offer_made",
            BrokerEvent::OfferAccepted { .. } => "offer_accepted",
            BrokerEvent::OfferDeclined { .. } => "offer_declined",
            BrokerEvent::OfferExpired { .. } => "offer_expired",
            BrokerEvent::OfferWithdrawn { .. } => "offer_withdrawn",
            BrokerEvent::Escalated { .. } => "escalated",
            BrokerEvent::DamagesAccrued { .. } => "damages_accrued",
            BrokerEvent::Posted { .. } => "posted",
            BrokerEvent::ProviderStatusChanged { .. } => "provider_status_changed",
            BrokerEvent::PackageReleased { .. } => "package_released",
            BrokerEvent::CarerTransferred { .. } => "carer_transferred",
            BrokerEvent::PackageCancelled { .. } => "package_cancelled",
            BrokerEvent::PackageAdopted { .. } => "package_adopted",
            BrokerEvent::CarerAbsent { .. } => "carer_absent",
            BrokerEvent::EscalationRetried { .. } => "escalation_retried",
            BrokerEvent::ProviderSaved { .. } => "provider_saved",
            BrokerEvent::TeamSaved { .. } => "team_saved",
            BrokerEvent::CarerSaved { .. } => "carer_saved",
            BrokerEvent::HorizonRolled { .. } => "horizon_rolled",
            BrokerEvent::BrokeringScheduled { .. } => "brokering_scheduled",
            BrokerEvent::BrokeringDue { .. } => "brokering_due",
            BrokerEvent::RotaPublished { .. } => "rota_published",
            BrokerEvent::YearClosed { .. } => "year_closed",
            BrokerEvent::PolicyChanged { .. } => "policy_changed",
            BrokerEvent::OfferExpiring { .. } => "offer_expiring",
            BrokerEvent::VisitCheckedIn { .. } => "visit_checked_in",
            BrokerEvent::VisitCheckedOut { .. } => "visit_checked_out",
            BrokerEvent::VisitOverdue { .. } => "visit_overdue",
            BrokerEvent::AlertRaised { .. } => "alert_raised",
            BrokerEvent::EmergencyVisitAssigned { .. } => "emergency_visit_assigned",
            BrokerEvent::EmergencyVisitsReleased { .. } => "emergency_visits_released",
            BrokerEvent::CarersReunited { .. } => "carers_reunited",
            BrokerEvent::CoverDayCharged { .. } => "cover_day_charged",
            BrokerEvent::OfferOverridden { .. } => "offer_overridden",
        }
    }
}

impl Broker {
    /// Applies an event and records it in the command's output.
    pub(super) fn emit(&mut self, e: BrokerEvent, out: &mut Vec<BrokerEvent>) {
        self.apply(&e);
        out.push(e);
    }

    /// Posts a ledger entry (nothing for a zero or negative amount).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn post(
        &mut self,
        at: DateTime<Utc>,
        kind: EntryKind,
        from: String,
        to: String,
        amount: i64,
        package: Option<&str>,
        memo: String,
        out: &mut Vec<BrokerEvent>,
    ) {
        if amount <= 0 {
            return;
        }
        let entry = LedgerEntry {
            seq: self.ledger.entries.len() as u64 + 1,
            at,
            kind,
            from,
            to,
            amount_pence: amount,
            package: package.map(str::to_string),
            memo,
        };
        self.emit(BrokerEvent::Posted { entry }, out);
    }
}
