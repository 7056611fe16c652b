//! Reading a rota into re-derived facts that every verification works from.
//!
//! Routes and stops are resolved against the problem, times are parsed and
//! each leg is re-derived from the travel model. Only what stops the reading
//! is flagged here (a wrong format tag, an unknown or reused shift, an unknown
//! visit, an unreadable time); a stop that cannot be read is left out of the
//! timeline, so the rules see only what they can judge.

use super::{Flags, ViolationCode};
use crate::format::Rota;
use crate::model::{CarerId, LocIdx, Minute, PersonId, Problem, ShiftId, VisitId};
use crate::travel::Leg;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A rota as the checker re-derives it.
pub(super) struct Timeline<'a> {
    /// The validated problem.
    pub p: &'a Problem,
    /// The rota under check, as received.
    pub rota: &'a Rota,
    /// Routes whose shift resolved, in rota order.
    pub routes: Vec<RouteFacts>,
    /// Per visit (by its index), every readable stop that places it.
    pub placed: Vec<Vec<Placed>>,
}

/// One route whose shift and carer resolved.
pub(super) struct RouteFacts {
    /// Index of the route in the rota.
    pub index: usize,
    /// Its shift.
    pub shift: ShiftId,
    /// Its carer.
    pub carer: CarerId,
    /// Readable stops, in route order.
    pub stops: Vec<StopFacts>,
    /// Leg from the last readable stop to the shift's end location
    /// (meaningful only when `stops` is not empty).
    pub back: Leg,
}

/// One readable stop with its re-derived leg.
pub(super) struct StopFacts {
    /// Position of the stop in the wire route (counting unreadable stops).
    pub position: usize,
    /// Its visit.
    pub visit: VisitId,
    /// Reported arrival.
    pub arrival: Minute,
    /// Reported start.
    pub start: Minute,
    /// Reported end.
    pub end: Minute,
    /// Leg from the previous readable stop (or the shift's start location).
    pub leg: Leg,
    /// When the carer can be there at the earliest: the previous end plus the leg.
    pub earliest_arrival: Minute,
}

/// Where a visit is placed.
#[derive(Debug, Clone, Copy)]
pub(super) struct Placed {
    /// The carer.
    pub carer: CarerId,
    /// Start minute.
    pub start: Minute,
}

impl RouteFacts {
    /// The wire position decides whether a leg is between visits: the first
    /// position's leg is the commute from the shift start.
    pub fn is_commute(stop: &StopFacts) -> bool {
        stop.position == 0
    }

    /// First start and last end (an end before its start counts as the start).
    pub fn span(&self) -> Option<(Minute, Minute)> {
        let first = self.stops.first()?.start;
        let last = self.stops.last()?;
        Some((first, last.end.max(last.start)))
    }

    /// Paid working minutes: visits, legs between visits, and commute legs
    /// when the problem pays them. Zero for a route with no readable stop.
    pub fn paid_minutes(&self, p: &Problem) -> i64 {
        if self.stops.is_empty() {
            return 0;
        }
        let mut paid = 0i64;
        for s in &self.stops {
            if !Self::is_commute(s) || p.paid_commute {
                paid += i64::from(s.leg.minutes);
            }
            paid += i64::from(p.visit(s.visit).duration);
        }
        if p.paid_commute {
            paid += i64::from(self.back.minutes);
        }
        paid
    }
}

impl Timeline<'_> {
    /// The distinct carers each person sees.
    pub fn carers_by_person(&self) -> BTreeMap<PersonId, BTreeSet<CarerId>> {
        let mut seen: BTreeMap<PersonId, BTreeSet<CarerId>> = BTreeMap::new();
        for (v, on) in self.placed.iter().enumerate() {
            let u = self.p.person_of(VisitId(v));
            for x in on {
                seen.entry(u).or_default().insert(x.carer);
            }
        }
        seen
    }

    /// Daily or weekly paid minutes per (carer, period), over routes with a readable stop.
    pub fn paid_by(&self, period: impl Fn(u32) -> u32) -> BTreeMap<(CarerId, u32), i64> {
        let mut work: BTreeMap<(CarerId, u32), i64> = BTreeMap::new();
        for route in self.routes.iter().filter(|r| !r.stops.is_empty()) {
            let day = self.p.shift(route.shift).day;
            *work.entry((route.carer, period(day))).or_default() += route.paid_minutes(self.p);
        }
        work
    }
}

/// Reads `rota` against `p`, flagging what cannot be read.
pub(super) fn read<'a>(p: &'a Problem, rota: &'a Rota, out: &mut Flags) -> Timeline<'a> {
    if rota.format != crate::format::FORMAT_TAG {
        out.flag(
            ViolationCode::WrongFormat,
            None,
            None,
            format!("format is `{}`", rota.format),
        );
    }
    let mut placed: Vec<Vec<Placed>> = vec![Vec::new(); p.visits.len()];
    let mut shift_used: HashMap<usize, usize> = HashMap::new();
    let mut routes = Vec::with_capacity(rota.routes.len());
    for (r, route) in rota.routes.iter().enumerate() {
        let Some(&s) = p.shift_index.get(&route.shift) else {
            out.flag(
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
            out.flag(
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
            out.flag(
                ViolationCode::ShiftUsedTwice,
                Some(r),
                None,
                format!("shift `{}` is also used by route {prev}", route.shift),
            );
        }
        let mut loc: LocIdx = shift.start_loc;
        let mut free_at = shift.start; // earliest moment the carer can leave `loc`
        let mut stops = Vec::with_capacity(route.stops.len());
        for (i, stop) in route.stops.iter().enumerate() {
            let Some(&v) = p.visit_index.get(&stop.visit) else {
                out.flag(
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
                out.flag(
                    ViolationCode::UnknownVisit,
                    Some(r),
                    Some(&stop.visit),
                    format!(
                        "visit is for service user `{}`, stop says `{}`",
                        user.id, stop.service_user
                    ),
                );
            }
            let mut time = |text: &str, field: &str| instant(p, text, r, &stop.visit, field, out);
            let (Some(arrival), Some(start), Some(end)) = (
                time(&stop.arrival, "arrival"),
                time(&stop.start, "start"),
                time(&stop.end, "end"),
            ) else {
                continue;
            };
            let leg = p.leg(c, loc, visit.location);
            stops.push(StopFacts {
                position: i,
                visit: VisitId(v),
                arrival,
                start,
                end,
                leg,
                earliest_arrival: free_at + leg.minutes as Minute,
            });
            free_at = end.max(start);
            loc = visit.location;
            placed[v].push(Placed {
                carer: CarerId(c),
                start,
            });
        }
        let back = if stops.is_empty() {
            Leg::default()
        } else {
            p.leg(c, loc, shift.end_loc)
        };
        routes.push(RouteFacts {
            index: r,
            shift: ShiftId(s),
            carer: CarerId(c),
            stops,
            back,
        });
    }
    Timeline {
        p,
        rota,
        routes,
        placed,
    }
}

/// Parses an RFC 3339 instant into horizon minutes, flagging it when unreadable.
fn instant(
    p: &Problem,
    text: &str,
    route: usize,
    visit: &str,
    field: &str,
    out: &mut Flags,
) -> Option<Minute> {
    match p.horizon.parse_instant(text) {
        Ok(m) if m.abs() < i64::from(i32::MAX / 2) => Some(m as Minute),
        _ => {
            out.flag(
                ViolationCode::BadTime,
                Some(route),
                Some(visit),
                format!("{field} `{text}` is not an RFC 3339 instant"),
            );
            None
        }
    }
}
