//! Weekly hours: a carer's paid minutes in each 7-day block from the horizon
//! start stay within their weekly maximum.

use super::timeline::Timeline;
use super::{Flags, ViolationCode};

pub(super) fn verify(t: &Timeline<'_>, out: &mut Flags) {
    let p = t.p;
    for ((c, w), m) in t.paid_by(|day| p.week_of(day)) {
        let carer = &p.carers[c];
        if m > i64::from(carer.max_min_per_week) {
            out.flag(
                ViolationCode::MaxWeeklyMinutes,
                None,
                None,
                format!(
                    "carer `{}` works {m} min in week {}, above the {} min weekly maximum",
                    carer.id,
                    w + 1,
                    carer.max_min_per_week
                ),
            );
        }
    }
}
