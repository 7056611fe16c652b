//! Writing a planned rota back to the wire format.
//!
//! Solvers decide which visits each shift makes, in which order and at what
//! start times; this turns that into a [`Rota`] with arrival times and travel
//! legs filled in from the travel model.

use super::{Minute, Problem};
use crate::format::{FORMAT_TAG, Rota, Route, Stop, UnplacedReason, UnplacedVisit};

/// A shift's planned visits in order, with start times.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlannedRoute {
    /// Shift index.
    pub shift: usize,
    /// `(visit index, start minute)` in visiting order.
    pub stops: Vec<(usize, Minute)>,
}

/// A visit left unplaced with its reasons `(code, message)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedUnplaced {
    /// Visit index.
    pub visit: usize,
    /// Reasons, most specific first.
    pub reasons: Vec<(String, String)>,
}

impl Problem {
    /// Builds the wire rota; arrival is the earliest possible (leave as soon as
    /// the previous visit ends), so any waiting happens at the door.
    pub fn write_rota(&self, routes: &[PlannedRoute], unplaced: &[PlannedUnplaced]) -> Rota {
        let mut out = Rota {
            format: FORMAT_TAG.to_string(),
            ..Rota::default()
        };
        for r in routes.iter().filter(|r| !r.stops.is_empty()) {
            let shift = &self.shifts[r.shift];
            let c = shift.carer;
            let mut loc = shift.start_loc;
            let mut free_at = shift.start;
            let mut stops = Vec::with_capacity(r.stops.len());
            let mut start_travel_min = 0;
            for (i, &(v, start)) in r.stops.iter().enumerate() {
                let visit = &self.visits[v];
                let leg = self.leg(c, loc, visit.location);
                if i == 0 {
                    start_travel_min = leg.minutes;
                    // Leave home just in time rather than at the shift start.
                    free_at = free_at.max(start - leg.minutes as Minute);
                }
                let arrival = (free_at + leg.minutes as Minute).min(start);
                stops.push(Stop {
                    visit: visit.id.clone(),
                    service_user: self.service_users[visit.service_user].id.clone(),
                    arrival: self.horizon.format(arrival),
                    start: self.horizon.format(start),
                    end: self.horizon.format(start + visit.duration),
                    travel_min: leg.minutes,
                    travel_m: leg.metres,
                    late_min: (start - visit.latest_start).max(0) as u32,
                });
                free_at = start + visit.duration;
                loc = visit.location;
            }
            let end_travel_min = self.leg(c, loc, shift.end_loc).minutes;
            out.routes.push(Route {
                carer: self.carers[c].id.clone(),
                shift: shift.id.clone(),
                stops,
                start_travel_min,
                end_travel_min,
            });
        }
        out.unplaced = unplaced
            .iter()
            .map(|u| UnplacedVisit {
                visit: self.visits[u.visit].id.clone(),
                service_user: self.service_users[self.visits[u.visit].service_user]
                    .id
                    .clone(),
                reasons: u
                    .reasons
                    .iter()
                    .map(|(code, message)| UnplacedReason {
                        code: code.clone(),
                        message: message.clone(),
                    })
                    .collect(),
            })
            .collect();
        out
    }
}

impl Problem {
    /// Reads a wire rota back into planned routes over this problem's shifts
    /// and visits (the inverse of [`Problem::write_rota`] for routes). Errors
    /// name the first shift or visit this problem does not know.
    pub fn planned_routes(&self, rota: &Rota) -> Result<Vec<PlannedRoute>, String> {
        let mut out = Vec::with_capacity(rota.routes.len());
        let instants = self.horizon.instants();
        for (i, route) in rota.routes.iter().enumerate() {
            let shift = *self.shift_index.get(&route.shift).ok_or_else(|| {
                format!(
                    "routes[{i}].shift `{}` is not a shift of this roster",
                    route.shift
                )
            })?;
            let mut stops = Vec::with_capacity(route.stops.len());
            for (j, stop) in route.stops.iter().enumerate() {
                let v = *self.visit_index.get(&stop.visit).ok_or_else(|| {
                    format!(
                        "routes[{i}].stops[{j}].visit `{}` is not a visit of this roster",
                        stop.visit
                    )
                })?;
                let start = instants
                    .parse(&stop.start)
                    .map_err(|e| format!("routes[{i}].stops[{j}].start: {e}"))?;
                let start = Minute::try_from(start)
                    .map_err(|_| format!("routes[{i}].stops[{j}].start is out of range"))?;
                stops.push((v, start));
            }
            out.push(PlannedRoute { shift, stops });
        }
        Ok(out)
    }
}
