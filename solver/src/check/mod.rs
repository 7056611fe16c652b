//! The independent solution checker.
//!
//! Given a validated [`Problem`] and any proposed [`Rota`] (from carefill's own
//! engine, a human planner or another system), it re-derives every time from
//! the travel model and reports each violated hard constraint, then recomputes
//! the KPIs. It shares no code with the solvers beyond the problem model, so a
//! solver bug cannot hide itself.
//!
//! `timeline` reads the rota into re-derived facts (flagging only what cannot
//! be read); each rule is then verified by its own module, listed once in
//! `VERIFICATIONS` under the engine's rule names ([`rule_names`]). Violations
//! come grouped by that list, in rota order within a rule.

mod accounting;
mod availability;
mod breaks;
mod capacity;
mod continuity_cap;
mod daily_hours;
mod double_handed;
mod eligibility;
mod kpis;
mod linked_visits;
mod pinned;
mod time_windows;
mod timeline;
mod timing;
mod weekly_hours;

use crate::format::{Kpis, Rota};
use crate::model::Problem;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Kinds of hard-constraint violation. The snake_case names are stable.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationCode {
    /// The rota's format tag is wrong.
    WrongFormat,
    /// A time in the rota cannot be read.
    BadTime,
    /// A route names an unknown carer or shift, or a shift of another carer.
    UnknownShift,
    /// Two routes use the same shift.
    ShiftUsedTwice,
    /// A stop names an unknown visit, or the wrong service user.
    UnknownVisit,
    /// A visit is neither placed nor listed as unplaced, or both.
    VisitUnaccounted,
    /// A visit has the wrong number of distinct carers.
    WrongCarerCount,
    /// The carers of a double-handed visit do not start together.
    NotSynchronised,
    /// A stop's end is not its start plus the visit duration.
    WrongDuration,
    /// A visit starts outside its time spec (beyond the lateness tolerance).
    OutsideWindow,
    /// A stop's reported lateness differs from the re-derived one.
    WrongLateness,
    /// A route leaves before its shift starts or returns after it ends.
    OutsideShift,
    /// There is not enough time to travel between two stops.
    TravelInfeasible,
    /// Reported travel minutes/metres differ from the travel model.
    WrongTravel,
    /// The arrival is after the start, or not the previous end plus travel.
    WrongArrival,
    /// The carer lacks a skill the visit needs.
    MissingSkill,
    /// The person requires a carer of another gender.
    GenderRequired,
    /// The person has excluded this carer.
    ExcludedCarer,
    /// A person sees more distinct carers than their continuity cap.
    ContinuityCapExceeded,
    /// A carer works more than their daily maximum.
    MaxDailyMinutes,
    /// A carer works more than their weekly maximum.
    MaxWeeklyMinutes,
    /// A long working day has no break.
    MissingBreak,
    /// A pinned visit was moved or given to other carers.
    PinnedChanged,
    /// A linked pair of visits is too close or too far apart.
    LinkGapViolated,
    /// An unplaced visit has no reason.
    UnplacedWithoutReason,
    /// Reported KPIs differ from the re-derived ones.
    WrongKpis,
    /// A route carries more load than the carer's capacity.
    CapacityExceeded,
    /// A carer visits a person of another neighbourhood team.
    WrongTeam,
}

impl ViolationCode {
    /// Stable string form.
    pub fn as_str(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

/// One violated constraint.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// What kind.
    pub code: ViolationCode,
    /// Route index in the rota, when it concerns a route.
    pub route: Option<usize>,
    /// Visit id, when it concerns a visit.
    pub visit: Option<String>,
    /// Human explanation with the numbers.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.code.as_str())?;
        if let Some(r) = self.route {
            write!(f, " route {r}")?;
        }
        if let Some(v) = &self.visit {
            write!(f, " visit {v}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The checker's verdict.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    /// Every violation found (empty = feasible).
    pub violations: Vec<Violation>,
    /// KPIs re-derived from the problem and the routes.
    pub kpis: Kpis,
}

impl CheckReport {
    /// Whether the rota satisfies every hard constraint.
    pub fn is_feasible(&self) -> bool {
        self.violations.is_empty()
    }
    /// Whether any violation has this code.
    pub fn has(&self, code: ViolationCode) -> bool {
        self.violations.iter().any(|v| v.code == code)
    }
}

/// Flags every breach of one rule in the re-derived timeline.
type Verify = fn(&timeline::Timeline<'_>, &mut Flags);

/// Every verification the checker runs, in report order, by rule name (the
/// engine's rule-registry names for hard rules). A new rule is one module plus
/// one line here.
const VERIFICATIONS: &[(&str, Verify)] = &[
    ("timing", timing::verify),
    ("eligibility", eligibility::verify),
    ("time_windows", time_windows::verify),
    ("availability", availability::verify),
    ("capacity", capacity::verify),
    ("breaks", breaks::verify),
    ("daily_hours", daily_hours::verify),
    ("weekly_hours", weekly_hours::verify),
    ("accounting", accounting::verify),
    ("double_handed", double_handed::verify),
    ("pinned", pinned::verify),
    ("linked_visits", linked_visits::verify),
    ("continuity_cap", continuity_cap::verify),
];

/// Names of the checker's verifications, in the order it runs them.
pub fn rule_names() -> impl Iterator<Item = &'static str> {
    VERIFICATIONS.iter().map(|(name, _)| *name)
}

/// Violations found so far.
#[derive(Default)]
struct Flags(Vec<Violation>);

impl Flags {
    fn flag(
        &mut self,
        code: ViolationCode,
        route: Option<usize>,
        visit: Option<&str>,
        message: String,
    ) {
        self.0.push(Violation {
            code,
            route,
            visit: visit.map(str::to_string),
            message,
        });
    }
}

/// Checks `rota` against `problem`; see the module docs.
pub fn check(problem: &Problem, rota: &Rota) -> CheckReport {
    let mut out = Flags::default();
    let timeline = timeline::read(problem, rota, &mut out);
    for (_, verify) in VERIFICATIONS {
        verify(&timeline, &mut out);
    }
    let kpis = kpis::derive(&timeline);
    if let Some(claimed) = &rota.kpis
        && !kpis::matches(claimed, &kpis)
    {
        out.flag(
            ViolationCode::WrongKpis,
            None,
            None,
            "reported KPIs differ from the re-derived ones".into(),
        );
    }
    CheckReport {
        violations: out.0,
        kpis,
    }
}

#[cfg(test)]
mod tests;
