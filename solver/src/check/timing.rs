//! Route timing: each stop lasts its visit's duration, reports the travel
//! model's legs, and leaves time to travel from the previous stop; the
//! arrival lies between the earliest possible one and the start.

use super::timeline::{RouteFacts, Timeline};
use super::{Flags, ViolationCode};

pub(super) fn verify(t: &Timeline<'_>, out: &mut Flags) {
    let p = t.p;
    for route in &t.routes {
        let wire = &t.rota.routes[route.index];
        let r = Some(route.index);
        for stop in &route.stops {
            let visit = p.visit(stop.visit);
            let reported = &wire.stops[stop.position];
            let id = Some(visit.id.as_str());
            let (start, end, leg) = (stop.start, stop.end, stop.leg);
            if end - start != visit.duration {
                out.flag(
                    ViolationCode::WrongDuration,
                    r,
                    id,
                    format!(
                        "lasts {} min, the package says {}",
                        end - start,
                        visit.duration
                    ),
                );
            }
            if reported.travel_min != leg.minutes || reported.travel_m != leg.metres {
                out.flag(
                    ViolationCode::WrongTravel,
                    r,
                    id,
                    format!(
                        "reports {} min / {} m travel, the travel model gives {} min / {} m",
                        reported.travel_min, reported.travel_m, leg.minutes, leg.metres
                    ),
                );
            }
            if start < stop.earliest_arrival {
                let what = if RouteFacts::is_commute(stop) {
                    "the shift start"
                } else {
                    "the previous visit"
                };
                out.flag(
                    ViolationCode::TravelInfeasible,
                    r,
                    id,
                    format!(
                        "starts {} but cannot arrive before {} ({} min travel from {what})",
                        p.horizon.format(start),
                        p.horizon.format(stop.earliest_arrival),
                        leg.minutes
                    ),
                );
            }
            if stop.arrival > start || stop.arrival < stop.earliest_arrival {
                out.flag(
                    ViolationCode::WrongArrival,
                    r,
                    id,
                    format!(
                        "arrival {} must be between {} and the start",
                        p.horizon.format(stop.arrival),
                        p.horizon.format(stop.earliest_arrival)
                    ),
                );
            }
        }
        if route.stops.is_empty() {
            continue;
        }
        if wire.end_travel_min != route.back.minutes {
            out.flag(
                ViolationCode::WrongTravel,
                r,
                None,
                format!(
                    "reports {} min travel home, the model gives {}",
                    wire.end_travel_min, route.back.minutes
                ),
            );
        }
        // The first wire stop, readable or not, names the commute leg.
        let shift = p.shift(route.shift);
        let first_leg = wire
            .stops
            .first()
            .and_then(|s| p.visit_index.get(&s.visit))
            .map(|&v| {
                p.leg(route.carer.index(), shift.start_loc, p.visits[v].location)
                    .minutes
            });
        if let Some(fl) = first_leg
            && wire.start_travel_min != fl
        {
            out.flag(
                ViolationCode::WrongTravel,
                r,
                None,
                format!(
                    "reports {} min travel to the first visit, the model gives {fl}",
                    wire.start_travel_min
                ),
            );
        }
    }
}
