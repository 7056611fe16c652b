//! Pinned visits: a visit pinned on the published rota keeps its carers and start.

use super::timeline::Timeline;
use super::{Flags, ViolationCode};
use crate::model::CarerId;
use std::collections::BTreeSet;

pub(super) fn verify(t: &Timeline<'_>, out: &mut Flags) {
    let p = t.p;
    for e in p.existing.iter().filter(|e| e.pinned) {
        let on = &t.placed[e.visit];
        let carers: BTreeSet<CarerId> = on.iter().map(|x| x.carer).collect();
        let want: BTreeSet<CarerId> = e.carers.iter().map(|&c| CarerId(c)).collect();
        if carers != want || on.iter().any(|x| Some(x.start) != e.start) {
            out.flag(
                ViolationCode::PinnedChanged,
                None,
                Some(&p.visits[e.visit].id),
                "a pinned visit must keep its carers and start time".into(),
            );
        }
    }
}
