//! Time windows and lateness: every visit starts inside its window, or at most
//! the lateness tolerance after it, and each stop reports its lateness truly.

use super::timeline::Timeline;
use super::{Flags, ViolationCode};
use crate::model::Minute;

pub(super) fn verify(t: &Timeline<'_>, out: &mut Flags) {
    let p = t.p;
    let tolerance = p.lateness.tolerance();
    for route in &t.routes {
        let wire = &t.rota.routes[route.index];
        for stop in &route.stops {
            let visit = p.visit(stop.visit);
            let (r, id) = (Some(route.index), Some(visit.id.as_str()));
            let start = stop.start;
            if start < visit.earliest_start || start > visit.latest_start + tolerance {
                out.flag(
                    ViolationCode::OutsideWindow,
                    r,
                    id,
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
            let reported = wire.stops[stop.position].late_min;
            if reported as Minute != late {
                out.flag(
                    ViolationCode::WrongLateness,
                    r,
                    id,
                    format!("reports {reported} min late, re-derived {late}"),
                );
            }
        }
    }
}
