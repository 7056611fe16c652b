//! Double-handed visits: a placed visit has exactly the number of distinct
//! carers it needs, and they all start together.

use super::timeline::Timeline;
use super::{Flags, ViolationCode};
use crate::model::CarerId;
use std::collections::BTreeSet;

pub(super) fn verify(t: &Timeline<'_>, out: &mut Flags) {
    for (visit, on) in t.p.visits.iter().zip(&t.placed) {
        let Some(lead) = on.first() else {
            continue;
        };
        let carers: BTreeSet<CarerId> = on.iter().map(|x| x.carer).collect();
        if on.len() != usize::from(visit.carers_required) || carers.len() != on.len() {
            out.flag(
                ViolationCode::WrongCarerCount,
                None,
                Some(&visit.id),
                format!(
                    "needs {} distinct carer(s); placed {} time(s) with {} distinct",
                    visit.carers_required,
                    on.len(),
                    carers.len()
                ),
            );
        }
        if on.iter().any(|x| x.start != lead.start) {
            out.flag(
                ViolationCode::NotSynchronised,
                None,
                Some(&visit.id),
                "carers of a double-handed visit start at different times".into(),
            );
        }
    }
}
