//! Shifts and absences: a route works within its shift, from leaving the
//! start location to reaching the end location. Absences are already cut
//! out of the model's shifts, so work during one falls outside every shift.

use super::timeline::Timeline;
use super::{Flags, ViolationCode};
use crate::model::Minute;

pub(super) fn verify(t: &Timeline<'_>, out: &mut Flags) {
    let p = t.p;
    for route in &t.routes {
        let Some((first, last_end)) = route.span() else {
            continue;
        };
        let shift = p.shift(route.shift);
        let r = Some(route.index);
        if first < shift.start {
            out.flag(
                ViolationCode::OutsideShift,
                r,
                None,
                "route starts before its shift".into(),
            );
        }
        let home_by = last_end + route.back.minutes as Minute;
        if home_by > shift.end {
            out.flag(
                ViolationCode::OutsideShift,
                r,
                None,
                format!(
                    "last visit ends {} and the carer reaches the end location at {}, after the shift end {}",
                    p.horizon.format(last_end),
                    p.horizon.format(home_by),
                    p.horizon.format(shift.end)
                ),
            );
        }
    }
}
