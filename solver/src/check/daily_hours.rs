//! Daily hours: a carer's paid minutes on a day stay within their daily maximum.

use super::timeline::Timeline;
use super::{Flags, ViolationCode};

pub(super) fn verify(t: &Timeline<'_>, out: &mut Flags) {
    let p = t.p;
    for ((c, d), m) in t.paid_by(|day| day) {
        let carer = p.carer(c);
        if m > i64::from(carer.max_min_per_day) {
            out.flag(
                ViolationCode::MaxDailyMinutes,
                None,
                None,
                format!(
                    "carer `{}` works {m} min on {}, above the {} min daily maximum",
                    carer.id,
                    p.horizon.date(d),
                    carer.max_min_per_day
                ),
            );
        }
    }
}
