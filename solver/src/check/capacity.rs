//! Capacity: the load of a route's visits stays within the carer's capacity.

use super::timeline::Timeline;
use super::{Flags, ViolationCode};

pub(super) fn verify(t: &Timeline<'_>, out: &mut Flags) {
    let p = t.p;
    for route in &t.routes {
        let Some(cap) = p.carer(route.carer).capacity else {
            continue;
        };
        let load: u64 = route
            .stops
            .iter()
            .map(|s| u64::from(p.visit(s.visit).demand))
            .sum();
        if load > u64::from(cap) {
            out.flag(
                ViolationCode::CapacityExceeded,
                Some(route.index),
                None,
                format!("route carries {load}, capacity {cap}"),
            );
        }
    }
}
