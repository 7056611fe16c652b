//! Double-handed synchronisation: a visit needing two carers is made by that
//! many distinct carers starting together.
//!
//! The search anchors such a visit: its start is fixed when it is inserted
//! (`search::double_handed` picks a start both carers can make and the
//! cheapest pair of carers), and a later insertion may not push an anchored
//! stop. Linked and pinned visits are anchored the same way. The stop check
//! here is that anchor: the carer arrives by the fixed start.

use super::{Block, EndAt, Milp, NotHere, Reason, Rule, StopAt, Stops};
use crate::model::{PersonId, Problem, ShiftId, VisitId};
use crate::rota::master::MasterRows;

pub(crate) struct DoubleHanded;

impl Rule for DoubleHanded {
    const NAME: &'static str = "double_handed";
    const BLOCK: Block = Block::NoPair;
    const REASON: Reason = Reason {
        code: "no_second_carer",
        message: "no two eligible carers are free at the same time",
    };
    type Candidates = NotHere;
    type Starts = NotHere;
    type Stops = Self;
    type Timing = NotHere;
    type Carers = NotHere;

    fn master_rows(_: &mut MasterRows<'_>) -> Milp {
        Milp::InCoverage(
            "per start t the pool offers: Σ_{r ∋ v at t} x_r = carers_required · y_{v,t}, \
             Σ_t y_{v,t} + u_v = 1, and one route per carer",
        )
    }

    fn bound_carer_limit(_: &Problem, _: PersonId) -> Option<usize> {
        // The bound counts each of the visit's carers but not their common start.
        None
    }
}

impl Stops for DoubleHanded {
    type Acc = ();

    /// An anchored stop starts at its fixed time, so the carer must be there by then.
    #[inline(always)]
    fn admits_stop(at: &StopAt<'_>, _: &mut ()) -> bool {
        at.fixed.is_none_or(|f| at.arrival <= f)
    }

    #[inline(always)]
    fn admits_end(_: &EndAt<'_>, _: &()) -> bool {
        true
    }

    #[inline(always)]
    fn admits_joining(_: &Problem, _: ShiftId, _: &[usize], _: VisitId) -> bool {
        true
    }
}
