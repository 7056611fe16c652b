//! Linked visits: the second visit of a link starts between `min_offset` and
//! `max_offset` minutes after the first (e.g. a medication visit a set time
//! after breakfast), and with `distinct_carers` no carer makes both.
//!
//! A linked visit is anchored (its start fixed once placed, like a
//! double-handed one, see `double_handed`), so its partner's start narrows the
//! interval a visit may start in, and a distinct-carer link names carers to
//! avoid; both are read once per insertion.

use super::{Block, Milp, NotHere, Reason, Rule, StartAt, StartWindow, Starts};
use crate::model::{PersonId, Problem};
use crate::rota::master::{MasterRows, sum};
use crate::rota::search::OnShifts;
use std::collections::BTreeMap;

pub(crate) struct LinkedVisits;

impl Rule for LinkedVisits {
    const NAME: &'static str = "linked_visits";
    const BLOCK: Block = Block::LinkedVisit;
    const REASON: Reason = Reason {
        code: "linked_visit_conflict",
        message: "the linked visit's time leaves no feasible start for this one",
    };
    type Candidates = NotHere;
    type Starts = Self;
    type Stops = NotHere;
    type Timing = NotHere;
    type Carers = NotHere;

    /// Forbids incompatible start pairs (aggregated per start of `first`:
    /// `z_{first,ta} + Σ_{tb too near or far} z_{then,tb} ≤ 1`, valid because at
    /// most one start of `then` is chosen) and, with `distinct_carers`, one
    /// carer on both visits.
    fn master_rows(m: &mut MasterRows<'_>) -> Milp {
        let (p, starts, cover, x) = (m.p, m.starts, m.cover, m.x);
        for l in &p.links {
            let (Some(za), Some(zb)) = (starts.get(&l.first), starts.get(&l.then)) else {
                continue;
            };
            for (&ta, ea) in za {
                let mut row = ea.clone();
                let mut any = false;
                for (&tb, eb) in zb {
                    let off = tb - ta;
                    if off < l.min_offset || off > l.max_offset {
                        row.add_mul(1.0, eb.clone());
                        any = true;
                    }
                }
                if any {
                    m.row(row.leq(1.0));
                }
            }
            if l.distinct_carers {
                let mut per_carer: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
                for v in [l.first, l.then] {
                    for &r in cover
                        .get(&v)
                        .into_iter()
                        .flat_map(|t| t.values().flatten())
                    {
                        per_carer.entry(m.carer_of(r)).or_default().push(r);
                    }
                }
                for routes in per_carer.values().filter(|r| r.len() > 1) {
                    let row = sum(routes.iter().filter_map(|&r| x[r]));
                    m.row(row.leq(1.0));
                }
            }
        }
        Milp::Rows
    }

    fn bound_carer_limit(_: &Problem, _: PersonId) -> Option<usize> {
        // The bound prices each visit on its own.
        None
    }
}

impl Starts for LinkedVisits {
    /// Each placed partner's start bounds this visit's by the link's offsets;
    /// a distinct-carer link avoids the partner's carers.
    fn narrow(at: &StartAt<'_>, w: &mut StartWindow) {
        let (p, v) = (at.p, at.visit.index());
        for &l in at.links {
            let link = &p.links[l];
            let (other, after) = if link.first == v {
                (link.then, false)
            } else {
                (link.first, true)
            };
            let Some(&t) = at.st.fixed.get(&other) else {
                continue;
            };
            if after {
                w.lo = w.lo.max(t + link.min_offset);
                w.hi = w.hi.min(t + link.max_offset);
            } else {
                w.lo = w.lo.max(t - link.max_offset);
                w.hi = w.hi.min(t - link.min_offset);
            }
            if link.distinct_carers {
                for &s in at.st.on.get(&other).map(OnShifts::as_slice).unwrap_or(&[]) {
                    w.avoid.push(p.shifts[s].carer);
                }
            }
        }
    }
}
