//! Continuity cap: a person sees at most their cap of distinct carers over the horizon.

use super::timeline::Timeline;
use super::{Flags, ViolationCode};

pub(super) fn verify(t: &Timeline<'_>, out: &mut Flags) {
    for (u, carers) in t.carers_by_person() {
        let user = t.p.person(u);
        let n = carers.len() as u32;
        if n > user.continuity_cap {
            out.flag(
                ViolationCode::ContinuityCapExceeded,
                None,
                None,
                format!(
                    "`{}` sees {n} distinct carers; the cap is {}",
                    user.id, user.continuity_cap
                ),
            );
        }
    }
}
