//! KPIs re-derived from the timeline, and the comparison with reported ones.

use super::timeline::{RouteFacts, Timeline};
use crate::format::Kpis;

/// The rota's KPIs as the checker derives them.
pub(super) fn derive(t: &Timeline<'_>) -> Kpis {
    let p = t.p;
    let mut kpis = Kpis {
        visits_total: p.visits.len() as u32,
        ..Kpis::default()
    };
    for route in &t.routes {
        for stop in &route.stops {
            let visit = p.visit(stop.visit);
            let late = (stop.start - visit.latest_start).max(0);
            if late > 0 {
                kpis.late_min += late as u64;
                kpis.late_visits += 1;
                kpis.worst_late_min = kpis.worst_late_min.max(late as u32);
            }
            if !RouteFacts::is_commute(stop) || p.paid_commute {
                kpis.travel_min += u64::from(stop.leg.minutes);
                kpis.travel_m += u64::from(stop.leg.metres);
            } else {
                kpis.commute_min += u64::from(stop.leg.minutes);
            }
            kpis.care_min += visit.duration as u64;
        }
        if route.stops.is_empty() {
            continue;
        }
        if p.paid_commute {
            kpis.travel_min += u64::from(route.back.minutes);
            kpis.travel_m += u64::from(route.back.metres);
        } else {
            kpis.commute_min += u64::from(route.back.minutes);
        }
        let carer = p.carer(route.carer).id.clone();
        *kpis.working_min.entry(carer).or_default() += route.paid_minutes(p).max(0) as u64;
    }
    let (mut carer_visits, mut known_visits) = (0u64, 0u64);
    for (v, on) in t.placed.iter().enumerate() {
        if on.is_empty() {
            continue;
        }
        kpis.visits_placed += 1;
        let user = &p.service_users[p.visits[v].service_user];
        for x in on {
            carer_visits += 1;
            if user.known.binary_search(&x.carer.index()).is_ok() {
                known_visits += 1;
            }
        }
    }
    let seen_by = t.carers_by_person();
    for (&u, carers) in &seen_by {
        let n = carers.len() as u32;
        kpis.distinct_carers.insert(p.person(u).id.clone(), n);
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
    kpis
}

/// Whether reported KPIs equal the derived ones (floats to a relative 1e-6).
pub(super) fn matches(a: &Kpis, b: &Kpis) -> bool {
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
        && a.worst_late_min == b.worst_late_min
        && a.max_distinct_carers == b.max_distinct_carers
        && close(a.mean_distinct_carers, b.mean_distinct_carers)
        && close(a.known_carer_share, b.known_carer_share)
        && a.distinct_carers == b.distinct_carers
        && a.working_min == b.working_min
}
