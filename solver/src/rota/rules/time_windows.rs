//! Time windows and lateness: a visit starts no earlier than its window opens
//! and no later than its latest start plus the lateness tolerance (zero with
//! hard windows). Lateness within the tolerance is priced by the objective
//! (`rota::objective::lateness_cost`), not ruled out.
//!
//! Checked at every stop while a route is timed, and as the first bound of a
//! visit's start interval. The fast hard-window pricing applies the same
//! window in backward form, through the latest start each later stop allows
//! (`search::timing`'s `latest_starts` and `search::pricing`'s `price_at`).

use super::{
    BUSY, Block, EndAt, Milp, NotHere, Reason, Rule, StartAt, StartWindow, Starts,
    StopAt, Stops,
};
use crate::model::{PersonId, Problem, ShiftId, VisitId};
use crate::rota::master::MasterRows;

pub(crate) struct TimeWindows;

impl Rule for TimeWindows {
    const NAME: &'static str = "time_windows";
    const BLOCK: Block = Block::Time;
    const REASON: Reason = BUSY;
    type Candidates = NotHere;
    type Starts = Self;
    type Stops = Self;
    type Timing = NotHere;
    type Carers = NotHere;

    fn master_rows(_: &mut MasterRows<'_>) -> Milp {
        Milp::InColumns("every route column is a timed route, each start within its window")
    }

    fn bound_carer_limit(_: &Problem, _: PersonId) -> Option<usize> {
        // The bound prices visits without timing them.
        None
    }
}

impl Starts for TimeWindows {
    fn narrow(at: &StartAt<'_>, w: &mut StartWindow) {
        let visit = at.p.visit(at.visit);
        w.lo = w.lo.max(visit.earliest_start);
        w.hi = w.hi.min(visit.latest_start + at.tolerance);
    }
}

impl Stops for TimeWindows {
    type Acc = ();

    #[inline(always)]
    fn admits_stop(at: &StopAt<'_>, _: &mut ()) -> bool {
        let visit = at.p.visit(at.visit);
        at.start <= visit.latest_start + at.tolerance && at.start >= visit.earliest_start
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
