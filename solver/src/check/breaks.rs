//! Breaks: a route spanning more than the break threshold from first start to
//! last end has an idle gap (waiting after travel) of at least the break length.

use super::timeline::{RouteFacts, Timeline};
use super::{Flags, ViolationCode};

pub(super) fn verify(t: &Timeline<'_>, out: &mut Flags) {
    let p = t.p;
    if p.break_duration <= 0 {
        return;
    }
    for route in &t.routes {
        let Some((first, last_end)) = route.span() else {
            continue;
        };
        let longest_idle = route
            .stops
            .iter()
            .filter(|s| !RouteFacts::is_commute(s))
            .map(|s| s.start - s.earliest_arrival)
            .fold(0, i32::max);
        if last_end - first > p.break_after && longest_idle < p.break_duration {
            out.flag(
                ViolationCode::MissingBreak,
                Some(route.index),
                None,
                format!(
                    "works {} min from first to last visit with no {}-min break (longest gap {longest_idle} min)",
                    last_end - first,
                    p.break_duration
                ),
            );
        }
    }
}
