//! The independent solution checker.
//!
//! Given a validated [`Problem`] and any proposed [`Rota`] (from carefill's own
//! engine, a human planner or another system), it re-derives every time from
//! the travel model and reports each violated hard constraint, then recomputes
//! the KPIs. It shares no code with the solvers beyond the problem model, so a
//! solver bug cannot hide itself.

use crate::format::{Kpis, Rota};
use crate::model::{Minute, Problem};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
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

/// A stop after parsing, with re-derived facts.
#[derive(Debug, Clone, Copy)]
struct Placed {
    route: usize,
    carer: usize,
    start: Minute,
}

struct Checker<'a> {
    p: &'a Problem,
    out: Vec<Violation>,
}

impl Checker<'_> {
    fn flag(
        &mut self,
        code: ViolationCode,
        route: Option<usize>,
        visit: Option<&str>,
        message: String,
    ) {
        self.out.push(Violation {
            code,
            route,
            visit: visit.map(str::to_string),
            message,
        });
    }

    fn time(&mut self, text: &str, route: usize, visit: &str, field: &str) -> Option<Minute> {
        match self.p.horizon.parse_instant(text) {
            Ok(m) if m.abs() < i64::from(i32::MAX / 2) => Some(m as Minute),
            _ => {
                self.flag(
                    ViolationCode::BadTime,
                    Some(route),
                    Some(visit),
                    format!("{field} `{text}` is not an RFC 3339 instant"),
                );
                None
            }
        }
    }
}

/// Checks `rota` against `problem`; see the module docs.
pub fn check(problem: &Problem, rota: &Rota) -> CheckReport {
    let p = problem;
    let mut ck = Checker { p, out: Vec::new() };
    if rota.format != crate::format::FORMAT_TAG {
        ck.flag(
            ViolationCode::WrongFormat,
            None,
            None,
            format!("format is `{}`", rota.format),
        );
    }
    let tolerance = p.lateness.tolerance();
    let mut placed: Vec<Vec<Placed>> = vec![Vec::new(); p.visits.len()];
    let mut shift_used: HashMap<usize, usize> = HashMap::new();
    // Working minutes per (carer, day) and (carer, week).
    let mut day_work: BTreeMap<(usize, u32), i64> = BTreeMap::new();
    let mut week_work: BTreeMap<(usize, u32), i64> = BTreeMap::new();
    let mut kpis = Kpis {
        visits_total: p.visits.len() as u32,
        ..Kpis::default()
    };
    let mut working: BTreeMap<String, u64> = BTreeMap::new();

    for (r, route) in rota.routes.iter().enumerate() {
        let Some(&s) = p.shift_index.get(&route.shift) else {
            ck.flag(
                ViolationCode::UnknownShift,
                Some(r),
                None,
                format!("shift `{}` does not exist", route.shift),
            );
            continue;
        };
        let shift = &p.shifts[s];
        let c = shift.carer;
        if p.carers[c].id != route.carer {
            ck.flag(
                ViolationCode::UnknownShift,
                Some(r),
                None,
                format!(
                    "shift `{}` belongs to carer `{}`, not `{}`",
                    route.shift, p.carers[c].id, route.carer
                ),
            );
            continue;
        }
        if let Some(prev) = shift_used.insert(s, r) {
            ck.flag(
                ViolationCode::ShiftUsedTwice,
                Some(r),
                None,
                format!("shift `{}` is also used by route {prev}", route.shift),
            );
        }
        let mut loc = shift.start_loc;
        let mut free_at = shift.start; // earliest moment the carer can leave `loc`
        let mut first_start: Option<Minute> = None;
        let mut last_end = shift.start;
        let mut longest_idle = 0;
        let mut paid: i64 = 0;
        let mut load: u64 = 0;
        for (i, stop) in route.stops.iter().enumerate() {
            let Some(&v) = p.visit_index.get(&stop.visit) else {
                ck.flag(
                    ViolationCode::UnknownVisit,
                    Some(r),
                    Some(&stop.visit),
                    "no such visit in the problem".into(),
                );
                continue;
            };
            let visit = &p.visits[v];
            let user = &p.service_users[visit.service_user];
            if user.id != stop.service_user {
                ck.flag(
                    ViolationCode::UnknownVisit,
                    Some(r),
                    Some(&stop.visit),
                    format!(
                        "visit is for service user `{}`, stop says `{}`",
                        user.id, stop.service_user
                    ),
                );
            }
            let (Some(arrival), Some(start), Some(end)) = (
                ck.time(&stop.arrival, r, &stop.visit, "arrival"),
                ck.time(&stop.start, r, &stop.visit, "start"),
                ck.time(&stop.end, r, &stop.visit, "end"),
            ) else {
                continue;
            };
            // Eligibility, re-derived here rather than trusting the model helper.
            let carer = &p.carers[c];
            if visit.skills.0 & !carer.skills.0 != 0 {
                ck.flag(
                    ViolationCode::MissingSkill,
                    Some(r),
                    Some(&stop.visit),
                    format!(
                        "carer `{}` lacks {:?}",
                        carer.id,
                        p.skill_names(crate::model::SkillSet(visit.skills.0 & !carer.skills.0))
                    ),
                );
            }
            if let Some(g) = user.gender_required
                && g != carer.gender
            {
                ck.flag(
                    ViolationCode::GenderRequired,
                    Some(r),
                    Some(&stop.visit),
                    format!(
                        "`{}` requires a {g:?} carer; `{}` is {:?}",
                        user.id, carer.id, carer.gender
                    ),
                );
            }
            if user.excluded.contains(&c) {
                ck.flag(
                    ViolationCode::ExcludedCarer,
                    Some(r),
                    Some(&stop.visit),
                    format!("`{}` has excluded carer `{}`", user.id, carer.id),
                );
            }
            if let (Some(ut), Some(ct)) = (user.team, carer.team)
                && ut != ct
            {
                ck.flag(
                    ViolationCode::WrongTeam,
                    Some(r),
                    Some(&stop.visit),
                    format!(
                        "`{}` is in team `{}`, carer `{}` in `{}`",
                        user.id, p.teams[ut].id, carer.id, p.teams[ct].id
                    ),
                );
            }
            // Times.
            if end - start != visit.duration {
                ck.flag(
                    ViolationCode::WrongDuration,
                    Some(r),
                    Some(&stop.visit),
                    format!(
                        "lasts {} min, the package says {}",
                        end - start,
                        visit.duration
                    ),
                );
            }
            if start < visit.earliest_start || start > visit.latest_start + tolerance {
                ck.flag(
                    ViolationCode::OutsideWindow,
                    Some(r),
                    Some(&stop.visit),
                    format!(
                        "starts {} but must start between {} and {}{}",
                        p.horizon.format(start),
                        p.horizon.format(visit.earliest_start),
                        p.horizon.format(visit.latest_start),
                        if tolerance > 0 {
                            format!(" (+{tolerance} min late allowed)")
                        } else {
                            String::new()
                        }
                    ),
                );
            }
            let late = (start - visit.latest_start).max(0);
            if stop.late_min as Minute != late {
                ck.flag(
                    ViolationCode::WrongLateness,
                    Some(r),
                    Some(&stop.visit),
                    format!("reports {} min late, re-derived {late}", stop.late_min),
                );
            }
            if late > 0 {
                kpis.late_min += late as u64;
                kpis.late_visits += 1;
            }
            let leg = p.leg(c, loc, visit.location);
            if stop.travel_min != leg.minutes || stop.travel_m != leg.metres {
                ck.flag(
                    ViolationCode::WrongTravel,
                    Some(r),
                    Some(&stop.visit),
                    format!(
                        "reports {} min / {} m travel, the travel model gives {} min / {} m",
                        stop.travel_min, stop.travel_m, leg.minutes, leg.metres
                    ),
                );
            }
            let earliest_arrival = free_at + leg.minutes as Minute;
            if start < earliest_arrival {
                let what = if i == 0 {
                    "the shift start"
                } else {
                    "the previous visit"
                };
                ck.flag(
                    ViolationCode::TravelInfeasible,
                    Some(r),
                    Some(&stop.visit),
                    format!(
                        "starts {} but cannot arrive before {} ({} min travel from {what})",
                        p.horizon.format(start),
                        p.horizon.format(earliest_arrival),
                        leg.minutes
                    ),
                );
            }
            if arrival > start || arrival < earliest_arrival {
                ck.flag(
                    ViolationCode::WrongArrival,
                    Some(r),
                    Some(&stop.visit),
                    format!(
                        "arrival {} must be between {} and the start",
                        p.horizon.format(arrival),
                        p.horizon.format(earliest_arrival)
                    ),
                );
            }
            if i > 0 {
                longest_idle = longest_idle.max(start - earliest_arrival);
                paid += i64::from(leg.minutes);
                kpis.travel_min += u64::from(leg.minutes);
                kpis.travel_m += u64::from(leg.metres);
            } else if p.paid_commute {
                paid += i64::from(leg.minutes);
                kpis.travel_min += u64::from(leg.minutes);
                kpis.travel_m += u64::from(leg.metres);
            } else {
                kpis.commute_min += u64::from(leg.minutes);
            }
            paid += i64::from(visit.duration);
            load += u64::from(visit.demand);
            kpis.care_min += visit.duration as u64;
            first_start.get_or_insert(start);
            last_end = end.max(start);
            free_at = last_end;
            loc = visit.location;
            placed[v].push(Placed {
                route: r,
                carer: c,
                start,
            });
        }
        if let Some(cap) = p.carers[c].capacity
            && load > u64::from(cap)
        {
            ck.flag(
                ViolationCode::CapacityExceeded,
                Some(r),
                None,
                format!("route carries {load}, capacity {cap}"),
            );
        }
        if let Some(first) = first_start {
            if first < shift.start {
                ck.flag(
                    ViolationCode::OutsideShift,
                    Some(r),
                    None,
                    "route starts before its shift".into(),
                );
            }
            let back = p.leg(c, loc, shift.end_loc);
            let home_by = last_end + back.minutes as Minute;
            if home_by > shift.end {
                ck.flag(
                    ViolationCode::OutsideShift,
                    Some(r),
                    None,
                    format!(
                        "last visit ends {} and the carer reaches the end location at {}, after the shift end {}",
                        p.horizon.format(last_end),
                        p.horizon.format(home_by),
                        p.horizon.format(shift.end)
                    ),
                );
            }
            if route.end_travel_min != back.minutes {
                ck.flag(
                    ViolationCode::WrongTravel,
                    Some(r),
                    None,
                    format!(
                        "reports {} min travel home, the model gives {}",
                        route.end_travel_min, back.minutes
                    ),
                );
            }
            let first_leg = route
                .stops
                .first()
                .and_then(|s| p.visit_index.get(&s.visit))
                .map(|&v| p.leg(c, shift.start_loc, p.visits[v].location).minutes);
            if let Some(fl) = first_leg
                && route.start_travel_min != fl
            {
                ck.flag(
                    ViolationCode::WrongTravel,
                    Some(r),
                    None,
                    format!(
                        "reports {} min travel to the first visit, the model gives {fl}",
                        route.start_travel_min
                    ),
                );
            }
            if p.paid_commute {
                paid += i64::from(back.minutes);
                kpis.travel_min += u64::from(back.minutes);
                kpis.travel_m += u64::from(back.metres);
            } else {
                kpis.commute_min += u64::from(back.minutes);
            }
            if last_end - first > p.break_after
                && longest_idle < p.break_duration
                && p.break_duration > 0
            {
                ck.flag(
                    ViolationCode::MissingBreak,
                    Some(r),
                    None,
                    format!(
                        "works {} min from first to last visit with no {}-min break (longest gap {longest_idle} min)",
                        last_end - first,
                        p.break_duration
                    ),
                );
            }
            *day_work.entry((c, shift.day)).or_default() += paid;
            *week_work.entry((c, p.week_of(shift.day))).or_default() += paid;
            *working.entry(p.carers[c].id.clone()).or_default() += paid.max(0) as u64;
        }
    }
    for (&(c, d), &m) in &day_work {
        if m > i64::from(p.carers[c].max_min_per_day) {
            ck.flag(
                ViolationCode::MaxDailyMinutes,
                None,
                None,
                format!(
                    "carer `{}` works {m} min on {}, above the {} min daily maximum",
                    p.carers[c].id,
                    p.horizon.date(d),
                    p.carers[c].max_min_per_day
                ),
            );
        }
    }
    for (&(c, w), &m) in &week_work {
        if m > i64::from(p.carers[c].max_min_per_week) {
            ck.flag(
                ViolationCode::MaxWeeklyMinutes,
                None,
                None,
                format!(
                    "carer `{}` works {m} min in week {}, above the {} min weekly maximum",
                    p.carers[c].id,
                    w + 1,
                    p.carers[c].max_min_per_week
                ),
            );
        }
    }

    // Visit-level rules: counts, synchronisation, pins, links, unplaced list.
    let mut unplaced: HashMap<&str, usize> = HashMap::new();
    for u in &rota.unplaced {
        *unplaced.entry(u.visit.as_str()).or_default() += 1;
        if u.reasons.is_empty() {
            ck.flag(
                ViolationCode::UnplacedWithoutReason,
                None,
                Some(&u.visit),
                "unplaced visit without a reason".into(),
            );
        }
        if !p.visit_index.contains_key(&u.visit) {
            ck.flag(
                ViolationCode::UnknownVisit,
                None,
                Some(&u.visit),
                "unplaced visit does not exist".into(),
            );
        }
    }
    for (v, visit) in p.visits.iter().enumerate() {
        let on = &placed[v];
        let listed = unplaced.get(visit.id.as_str()).copied().unwrap_or(0);
        if on.is_empty() {
            if listed != 1 {
                ck.flag(
                    ViolationCode::VisitUnaccounted,
                    None,
                    Some(&visit.id),
                    format!("neither placed nor listed once as unplaced (listed {listed} times)"),
                );
            }
            continue;
        }
        if listed > 0 {
            ck.flag(
                ViolationCode::VisitUnaccounted,
                None,
                Some(&visit.id),
                "both placed and listed as unplaced".into(),
            );
        }
        let carers: BTreeSet<usize> = on.iter().map(|x| x.carer).collect();
        if on.len() != usize::from(visit.carers_required) || carers.len() != on.len() {
            ck.flag(
                ViolationCode::WrongCarerCount,
                None,
                Some(&visit.id),
                format!(
                    "needs {} distinct carer(s); placed {} time(s) with {} distinct",
                    visit.carers_required,
                    on.len(),
                    carers.len()
                ),
            );
        }
        if on.iter().any(|x| x.start != on[0].start) {
            ck.flag(
                ViolationCode::NotSynchronised,
                None,
                Some(&visit.id),
                "carers of a double-handed visit start at different times".into(),
            );
        }
    }
    for e in p.existing.iter().filter(|e| e.pinned) {
        let on = &placed[e.visit];
        let carers: BTreeSet<usize> = on.iter().map(|x| x.carer).collect();
        let want: BTreeSet<usize> = e.carers.iter().copied().collect();
        if carers != want || on.iter().any(|x| Some(x.start) != e.start) {
            ck.flag(
                ViolationCode::PinnedChanged,
                None,
                Some(&p.visits[e.visit].id),
                "a pinned visit must keep its carers and start time".into(),
            );
        }
    }
    for link in &p.links {
        let (Some(a), Some(b)) = (placed[link.first].first(), placed[link.then].first()) else {
            continue;
        };
        let offset = b.start - a.start;
        if offset < link.min_offset || offset > link.max_offset {
            ck.flag(
                ViolationCode::LinkGapViolated,
                None,
                Some(&p.visits[link.then].id),
                format!(
                    "starts {offset} min after `{}` starts; must be {}-{} min",
                    p.visits[link.first].id, link.min_offset, link.max_offset
                ),
            );
        }
        if link.distinct_carers
            && placed[link.first]
                .iter()
                .any(|x| placed[link.then].iter().any(|y| y.carer == x.carer))
        {
            ck.flag(
                ViolationCode::LinkGapViolated,
                None,
                Some(&p.visits[link.then].id),
                format!(
                    "must be made by a different carer than `{}`",
                    p.visits[link.first].id
                ),
            );
        }
    }

    // Continuity and the remaining KPIs.
    let mut seen_by: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    let (mut carer_visits, mut known_visits) = (0u64, 0u64);
    for (v, on) in placed.iter().enumerate() {
        if on.is_empty() {
            continue;
        }
        kpis.visits_placed += 1;
        let u = p.visits[v].service_user;
        for x in on {
            seen_by.entry(u).or_default().insert(x.carer);
            carer_visits += 1;
            if p.service_users[u].known.binary_search(&x.carer).is_ok() {
                known_visits += 1;
            }
        }
    }
    for (&u, carers) in &seen_by {
        let user = &p.service_users[u];
        let n = carers.len() as u32;
        if n > user.continuity_cap {
            ck.flag(
                ViolationCode::ContinuityCapExceeded,
                None,
                None,
                format!(
                    "`{}` sees {n} distinct carers; the cap is {}",
                    user.id, user.continuity_cap
                ),
            );
        }
        kpis.distinct_carers.insert(user.id.clone(), n);
        kpis.max_distinct_carers = kpis.max_distinct_carers.max(n);
    }
    if !seen_by.is_empty() {
        kpis.mean_distinct_carers =
            seen_by.values().map(|s| s.len() as f64).sum::<f64>() / seen_by.len() as f64;
    }
    kpis.known_carer_share = if carer_visits > 0 {
        known_visits as f64 / carer_visits as f64
    } else {
        0.0
    };
    kpis.visits_unplaced = kpis.visits_total - kpis.visits_placed;
    kpis.working_min = working;
    let _ = placed.iter().flatten().map(|x| x.route).max(); // routes already validated above
    if let Some(claimed) = &rota.kpis
        && !kpis_match(claimed, &kpis)
    {
        ck.flag(
            ViolationCode::WrongKpis,
            None,
            None,
            "reported KPIs differ from the re-derived ones".into(),
        );
    }
    CheckReport {
        violations: ck.out,
        kpis,
    }
}

fn kpis_match(a: &Kpis, b: &Kpis) -> bool {
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-6 * (1.0 + x.abs().max(y.abs()));
    a.visits_total == b.visits_total
        && a.visits_placed == b.visits_placed
        && a.visits_unplaced == b.visits_unplaced
        && a.travel_min == b.travel_min
        && a.travel_m == b.travel_m
        && a.commute_min == b.commute_min
        && a.care_min == b.care_min
        && a.late_min == b.late_min
        && a.late_visits == b.late_visits
        && a.max_distinct_carers == b.max_distinct_carers
        && close(a.mean_distinct_carers, b.mean_distinct_carers)
        && close(a.known_carer_share, b.known_carer_share)
        && a.distinct_carers == b.distinct_carers
        && a.working_min == b.working_min
}

#[cfg(test)]
mod tests;
