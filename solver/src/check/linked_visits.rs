//! Linked visits: the second visit of a link starts within the link's offsets
//! after the first, and by another carer when the link asks for one.

use super::timeline::Timeline;
use super::{Flags, ViolationCode};

pub(super) fn verify(t: &Timeline<'_>, out: &mut Flags) {
    let p = t.p;
    for link in &p.links {
        let (first, then) = (&t.placed[link.first], &t.placed[link.then]);
        let (Some(a), Some(b)) = (first.first(), then.first()) else {
            continue;
        };
        let offset = b.start - a.start;
        if offset < link.min_offset || offset > link.max_offset {
            out.flag(
                ViolationCode::LinkGapViolated,
                None,
                Some(&p.visits[link.then].id),
                format!(
                    "starts {offset} min after `{}` starts; must be {}-{} min",
                    p.visits[link.first].id, link.min_offset, link.max_offset
                ),
            );
        }
        if link.distinct_carers
            && first
                .iter()
                .any(|x| then.iter().any(|y| y.carer == x.carer))
        {
            out.flag(
                ViolationCode::LinkGapViolated,
                None,
                Some(&p.visits[link.then].id),
                format!(
                    "must be made by a different carer than `{}`",
                    p.visits[link.first].id
                ),
            );
        }
    }
}
