//! Capacity: the summed demand of a route's visits stays within the carer's
//! capacity, when the carer has one (vehicle-routing benchmarks; home-care
//! carers have none).
//!
//! Checked while a route is timed (the load carried along its stops) and,
//! for the fast hard-window pricing, once per (shift, visit) before any
//! position is priced ([`Stops::admits_joining`]).

use super::{BUSY, Block, EndAt, Milp, NotHere, Reason, Rule, StopAt, Stops};
use crate::model::{PersonId, Problem, ShiftId, VisitId};
use crate::rota::master::MasterRows;

pub(crate) struct Capacity;

impl Rule for Capacity {
    const NAME: &'static str = "capacity";
    const BLOCK: Block = Block::Time;
    const REASON: Reason = BUSY;
    type Candidates = NotHere;
    type Starts = NotHere;
    type Stops = Self;
    type Timing = NotHere;
    type Carers = NotHere;

    fn master_rows(_: &mut MasterRows<'_>) -> Milp {
        Milp::InColumns("a route column is one shift's route, whose load was checked when it was timed")
    }

    fn bound_carer_limit(_: &Problem, _: PersonId) -> Option<usize> {
        // The bound prices visits as if routes had unlimited capacity.
        None
    }
}

impl Stops for Capacity {
    /// The load so far.
    type Acc = u64;

    #[inline(always)]
    fn admits_stop(at: &StopAt<'_>, load: &mut u64) -> bool {
        *load += u64::from(at.p.visit(at.visit).demand);
        true
    }

    #[inline(always)]
    fn admits_end(at: &EndAt<'_>, load: &u64) -> bool {
        let carer = at.p.carer(at.p.carer_of(at.shift));
        carer.capacity.is_none_or(|cap| *load <= u64::from(cap))
    }

    #[inline]
    fn admits_joining(p: &Problem, s: ShiftId, route: &[usize], v: VisitId) -> bool {
        let Some(cap) = p.carer(p.carer_of(s)).capacity else {
            return true;
        };
        let load: u64 = route.iter().map(|&x| u64::from(p.visits[x].demand)).sum();
        load + u64::from(p.visit(v).demand) <= u64::from(cap)
    }
}
