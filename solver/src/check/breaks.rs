//! Breaks, per working day.
//!
//! A carer's working day is a run of their shifts in time order, each starting
//! less than the break length after the previous one ends: a gap between shifts
//! that long is itself a rest, so it ends the working day, and a shorter one
//! (a split shift, or a shift an absence cuts in two) does not. A working day
//! whose visits span more than the break threshold, from the first start to the
//! last end over all its shifts, needs an idle gap of at least the break length
//! between two consecutive visits: within a shift, the next start less the
//! previous end and the travel between the two; across shifts, the next shift's
//! first start less its travel out, less the previous shift's last end and its
//! travel home (commuting is not rest).

use super::timeline::{RouteFacts, Timeline};
use super::{Flags, ViolationCode};
use crate::model::Minute;
use std::collections::HashMap;

pub(super) fn verify(t: &Timeline<'_>, out: &mut Flags) {
    let p = t.p;
    if p.break_duration <= 0 {
        return;
    }
    let mut by_shift: HashMap<usize, &RouteFacts> = HashMap::new();
    for route in t.routes.iter().filter(|r| !r.stops.is_empty()) {
        by_shift.entry(route.shift.index()).or_insert(route);
    }
    for carer in &p.carers {
        let mut shifts = carer.shifts.clone();
        shifts.sort_by_key(|&s| (p.shifts[s].start, p.shifts[s].end));
        let mut day: Vec<&RouteFacts> = Vec::new();
        let mut prev_end: Option<Minute> = None;
        for &s in &shifts {
            let shift = &p.shifts[s];
            if prev_end.is_some_and(|e| shift.start - e >= p.break_duration) {
                working_day(t, &day, out);
                day.clear();
            }
            prev_end = Some(prev_end.map_or(shift.end, |e| e.max(shift.end)));
            if let Some(route) = by_shift.get(&s) {
                day.push(route);
            }
        }
        working_day(t, &day, out);
    }
}

/// Verifies one working day: its used routes, in shift order.
fn working_day(t: &Timeline<'_>, routes: &[&RouteFacts], out: &mut Flags) {
    let p = t.p;
    let (Some(first_route), Some(last_route)) = (routes.first(), routes.last()) else {
        return;
    };
    let (Some((first, _)), Some((_, last_end))) = (first_route.span(), last_route.span()) else {
        return;
    };
    let mut longest_idle = 0;
    // When the previous shift's carer is home: its last end plus the travel back.
    let mut home_at: Option<Minute> = None;
    for route in routes {
        for s in &route.stops {
            let idle = if !RouteFacts::is_commute(s) {
                s.start - s.earliest_arrival
            } else if let Some(home) = home_at {
                s.start - s.leg.minutes as Minute - home
            } else {
                continue;
            };
            longest_idle = longest_idle.max(idle);
        }
        if let Some((_, end)) = route.span() {
            home_at = Some(end + route.back.minutes as Minute);
        }
    }
    if last_end - first > p.break_after && longest_idle < p.break_duration {
        let shifts: Vec<&str> = routes
            .iter()
            .map(|r| p.shift(r.shift).id.as_str())
            .collect();
        let day = if shifts.len() == 1 {
            String::new()
        } else {
            format!(" over shifts {}", shifts.join(", "))
        };
        out.flag(
            ViolationCode::MissingBreak,
            Some(first_route.index),
            None,
            format!(
                "works {} min from first to last visit{day} with no {}-min break (longest gap {longest_idle} min)",
                last_end - first,
                p.break_duration
            ),
        );
    }
}
