//! The validated planning problem: dense indices and horizon minutes.
//!
//! [`Problem::from_request`] is the only way in: it validates a wire
//! [`PlanningRequest`](crate::format::PlanningRequest), reporting every issue at
//! once, and expands weekly visit patterns and shifts into concrete visits and
//! carer shifts on the horizon. Solvers and the checker work on this model;
//! string ids stay here for writing answers back.

mod build;
mod ids;
pub mod time;
mod write;

use crate::format::{
    ContractType, FrameworkStatus, Funding, Gender, Location, Tier, TravelMode, Urgency,
};
use crate::travel::TravelModel;
pub use build::{
    MAX_HORIZON_DAYS, MAX_PACKAGE_VISITS, MAX_PACKAGE_VISITS_PER_DAY, MAX_VISIT_PATTERNS,
    VISIT_DURATION_RANGE,
};
pub use ids::{CarerId, PersonId, ShiftId, VisitId};
use std::collections::HashMap;
use std::sync::Arc;
pub use time::{DAY, Horizon, Minute, Zone};
pub use write::{PlannedRoute, PlannedUnplaced};

/// Wire id -> dense index. Hashed with foldhash rather than SipHash: a
/// team's problem is rebuilt and its rota read back for every fit check. Its
/// random seed leaves callers (who choose package and visit ids) guessing
/// which ids collide, which a fixed hash such as FxHash would not.
pub type IdIndex = HashMap<String, usize, foldhash::fast::RandomState>;

/// Index into [`Problem::locations`].
pub type LocIdx = usize;

/// A set of skills as a bit mask over the request's skill catalogue (at most 64 skills).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SkillSet(pub u64);

impl SkillSet {
    /// Whether every skill in `needed` is in `self`.
    pub fn covers(self, needed: SkillSet) -> bool {
        needed.0 & !self.0 == 0
    }
    /// Skills in `needed` missing from `self`.
    pub fn missing(self, needed: SkillSet) -> SkillSet {
        SkillSet(needed.0 & !self.0)
    }
    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// How visit windows bind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LatenessRule {
    /// Start no later than the latest start.
    Hard,
    /// Start up to `max_late_min` after the latest start, paying `cost_per_min`.
    Soft {
        /// Longest lateness allowed.
        max_late_min: Minute,
        /// Cost per late minute.
        cost_per_min: f64,
    },
}

impl LatenessRule {
    /// Whether every visit must start inside its window.
    pub fn is_hard(self) -> bool {
        matches!(self, LatenessRule::Hard)
    }

    /// Minutes a start may exceed a visit's latest start.
    pub fn tolerance(self) -> Minute {
        match self {
            LatenessRule::Hard => 0,
            LatenessRule::Soft { max_late_min, .. } => max_late_min,
        }
    }
}

/// A provider.
#[derive(Debug, Clone)]
pub struct ProviderModel {
    /// Wire id.
    pub id: String,
    /// Trading name.
    pub name: String,
    /// Cascade tier.
    pub tier: Tier,
    /// Framework status.
    pub status: FrameworkStatus,
    /// Service areas.
    pub areas: geo::MultiPolygon<f64>,
    /// Committed block minutes per week; `None` for spot.
    pub block_min_per_week: Option<u32>,
    /// Hourly fee, pence.
    pub hourly_rate_pence: u32,
    /// Skills offered.
    pub skills: SkillSet,
    /// Auto-accept policy.
    pub auto_accept: crate::format::AutoAcceptPolicy,
}

/// A neighbourhood team.
#[derive(Debug, Clone)]
pub struct TeamModel {
    /// Wire id.
    pub id: String,
    /// Owning provider.
    pub provider: Option<usize>,
    /// Base location.
    pub base: LocIdx,
    /// Neighbourhood, if given.
    pub area: Option<geo::MultiPolygon<f64>>,
    /// Carers in the team.
    pub carers: Vec<usize>,
    /// Maximum members.
    pub max_members: u32,
    /// Maximum caseload, if set.
    pub max_caseload: Option<u32>,
}

/// A carer.
#[derive(Debug, Clone)]
pub struct CarerModel {
    /// Wire id.
    pub id: String,
    /// Team.
    pub team: Option<usize>,
    /// Skills held.
    pub skills: SkillSet,
    /// Gender.
    pub gender: Gender,
    /// Contract type.
    pub contract: ContractType,
    /// Contracted minutes per week.
    pub contracted_min_per_week: u32,
    /// Most working minutes per day.
    pub max_min_per_day: u32,
    /// Most working minutes per local calendar week (Monday-Sunday).
    pub max_min_per_week: u32,
    /// Paid minutes already worked in the calendar week of the horizon's first
    /// day, before that day; they count towards that week's maximum.
    pub worked_min_before_start: u32,
    /// Travel mode.
    pub mode: TravelMode,
    /// Home location.
    pub home: LocIdx,
    /// Shifts, in time order.
    pub shifts: Vec<usize>,
    /// Load per shift; `None` = unlimited.
    pub capacity: Option<u32>,
}

/// One concrete availability period of a carer (absences already removed).
#[derive(Debug, Clone)]
pub struct ShiftModel {
    /// Id `"{carer}#{date}#{n}"`.
    pub id: String,
    /// Carer.
    pub carer: usize,
    /// Day index the shift starts on.
    pub day: u32,
    /// Start minute.
    pub start: Minute,
    /// End minute (may exceed the day for night shifts).
    pub end: Minute,
    /// Start location.
    pub start_loc: LocIdx,
    /// End location.
    pub end_loc: LocIdx,
}

/// A person receiving care.
#[derive(Debug, Clone)]
pub struct ServiceUserModel {
    /// Wire id.
    pub id: String,
    /// Where care is delivered.
    pub location: LocIdx,
    /// Current team.
    pub team: Option<usize>,
    /// Carer gender that must be respected.
    pub gender_required: Option<Gender>,
    /// Carer gender preferred.
    pub gender_preferred: Option<Gender>,
    /// Preferred carers (soft), sorted.
    pub preferred: Vec<usize>,
    /// Excluded carers (hard), sorted.
    pub excluded: Vec<usize>,
    /// Carers the person already knows, sorted.
    pub known: Vec<usize>,
    /// Maximum distinct carers over the horizon.
    pub continuity_cap: u32,
}

/// A package.
#[derive(Debug, Clone)]
pub struct PackageModel {
    /// Wire id.
    pub id: String,
    /// Service user.
    pub service_user: usize,
    /// Urgency.
    pub urgency: Urgency,
    /// Funding.
    pub funding: Funding,
    /// Referral time, horizon minutes (may be negative: before the horizon).
    pub referral: Option<i64>,
    /// Concrete visits in the horizon.
    pub visits: Vec<usize>,
}

/// One concrete visit on one day.
#[derive(Debug, Clone)]
pub struct VisitModel {
    /// Id `"{package}/{pattern}@{date}"`.
    pub id: String,
    /// Package.
    pub package: usize,
    /// Service user.
    pub service_user: usize,
    /// Day index.
    pub day: u32,
    /// Earliest start minute.
    pub earliest_start: Minute,
    /// Latest on-time start minute (window end minus duration for windows and bands).
    pub latest_start: Minute,
    /// Duration.
    pub duration: Minute,
    /// 1 or 2.
    pub carers_required: u8,
    /// Skills needed.
    pub skills: SkillSet,
    /// Location.
    pub location: LocIdx,
    /// Load taken from the carer's capacity.
    pub demand: u32,
}

/// A timing link between two concrete visits, start to start:
/// `then.start - first.start` lies in `[min_offset, max_offset]`.
///
/// The wire format speaks of the gap after `first` ends; start-to-start offsets
/// also express synchronised visits (offset 0) of benchmark instances.
#[derive(Debug, Clone, Copy)]
pub struct LinkModel {
    /// First visit.
    pub first: usize,
    /// Second visit.
    pub then: usize,
    /// Smallest start-to-start offset.
    pub min_offset: Minute,
    /// Largest start-to-start offset.
    pub max_offset: Minute,
    /// Whether the two visits must be made by different carers.
    pub distinct_carers: bool,
}

/// A visit on the published rota.
#[derive(Debug, Clone)]
pub struct ExistingModel {
    /// Visit.
    pub visit: usize,
    /// Carers.
    pub carers: Vec<usize>,
    /// Planned start.
    pub start: Option<Minute>,
    /// Must be kept exactly.
    pub pinned: bool,
}

/// The validated problem.
#[derive(Debug, Clone)]
pub struct Problem {
    /// Horizon.
    pub horizon: Horizon,
    /// Lateness rule.
    pub lateness: LatenessRule,
    /// Break due after this working span.
    pub break_after: Minute,
    /// Break length.
    pub break_duration: Minute,
    /// Whether commute legs are paid working time.
    pub paid_commute: bool,
    /// Objective weights.
    pub weights: crate::format::ObjectiveWeights,
    /// Skill catalogue (bit i = skills[i]).
    pub skills: Vec<String>,
    /// Distinct locations.
    pub locations: Vec<Location>,
    /// Travel model.
    pub travel: Arc<dyn TravelModel>,
    /// Providers.
    pub providers: Vec<ProviderModel>,
    /// Teams.
    pub teams: Vec<TeamModel>,
    /// Carers.
    pub carers: Vec<CarerModel>,
    /// Concrete shifts.
    pub shifts: Vec<ShiftModel>,
    /// Service users.
    pub service_users: Vec<ServiceUserModel>,
    /// Packages.
    pub packages: Vec<PackageModel>,
    /// Concrete visits.
    pub visits: Vec<VisitModel>,
    /// Concrete links.
    pub links: Vec<LinkModel>,
    /// Published rota.
    pub existing: Vec<ExistingModel>,
    /// Wire id -> carer index.
    pub carer_index: IdIndex,
    /// Wire id -> visit index.
    pub visit_index: IdIndex,
    /// Wire id -> shift index.
    pub shift_index: IdIndex,
    /// Wire id -> service user index.
    pub service_user_index: IdIndex,
}

/// Why a carer cannot do a visit regardless of timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ineligibility {
    /// Lacks a required skill.
    MissingSkill,
    /// The person requires another gender.
    GenderRequired,
    /// The person excluded this carer.
    Excluded,
    /// The carer belongs to another neighbourhood team than the person.
    OtherTeam,
}

impl Problem {
    /// Whether carer `c` may do visit `v` as far as skills, gender, exclusions and
    /// teams go. Teams plan their own rotas: a person with a team is visited by
    /// that team's carers (or by carers with no team, such as bank staff).
    pub fn eligibility(&self, c: usize, v: usize) -> Result<(), Ineligibility> {
        let carer = &self.carers[c];
        let visit = &self.visits[v];
        let user = &self.service_users[visit.service_user];
        if !carer.skills.covers(visit.skills) {
            return Err(Ineligibility::MissingSkill);
        }
        if user.gender_required.is_some_and(|g| g != carer.gender) {
            return Err(Ineligibility::GenderRequired);
        }
        if user.excluded.binary_search(&c).is_ok() {
            return Err(Ineligibility::Excluded);
        }
        if let (Some(ut), Some(ct)) = (user.team, carer.team)
            && ut != ct
        {
            return Err(Ineligibility::OtherTeam);
        }
        Ok(())
    }

    /// Names of the skills in a set, for messages.
    pub fn skill_names(&self, set: SkillSet) -> Vec<&str> {
        (0..self.skills.len())
            .filter(|i| set.0 >> i & 1 == 1)
            .map(|i| self.skills[i].as_str())
            .collect()
    }

    /// Travel leg for a carer between two locations.
    pub fn leg(&self, carer: usize, from: LocIdx, to: LocIdx) -> crate::travel::Leg {
        self.travel.leg(
            &self.locations[from],
            &self.locations[to],
            self.carers[carer].mode,
        )
    }

    /// The local calendar week (Monday-Sunday) a day belongs to, for weekly
    /// limits: 0 is the week of the horizon's first day.
    pub fn week_of(&self, day: u32) -> u32 {
        use chrono::Datelike;
        (day + self.horizon.start_date.weekday().num_days_from_monday()) / 7
    }

    /// Paid minutes carer `c` may work in week `w` of [`Problem::week_of`]:
    /// the weekly maximum less what was worked in week 0 before the horizon.
    pub fn week_limit(&self, c: usize, w: u32) -> i64 {
        let carer = &self.carers[c];
        let before = if w == 0 {
            carer.worked_min_before_start
        } else {
            0
        };
        i64::from(carer.max_min_per_week) - i64::from(before)
    }
}

#[cfg(test)]
mod validation_tests;
