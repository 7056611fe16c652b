//! Shifts and absences: a carer works only within a shift, from leaving its
//! start location to reaching its end location. Absences are cut out of the
//! model's shifts when the problem is built, so keeping to the shifts keeps
//! them too.
//!
//! A visit's candidate shifts overlap its window (with the lateness
//! tolerance); a route is timed from its shift's start (by construction in
//! `search::timing`) and must reach the end location by the shift's end. The
//! fast hard-window pricing reads the same end through the latest starts
//! (`search::timing`'s `latest_starts`).

use super::{Block, Candidates, EndAt, Milp, NotHere, Reason, Rule, StopAt, Stops};
use crate::model::{Minute, PersonId, Problem, ShiftId, VisitId};
use crate::rota::master::MasterRows;

pub(crate) struct Availability;

impl Availability {
    /// The unplaced message for visit `v` when no eligible carer has a shift in its window.
    pub(crate) fn message(p: &Problem, v: VisitId) -> String {
        let visit = p.visit(v);
        format!(
            "no eligible carer has a shift between {} and {}",
            p.horizon.format(visit.earliest_start),
            p.horizon.format(visit.latest_start + visit.duration)
        )
    }
}

impl Rule for Availability {
    const NAME: &'static str = "availability";
    const BLOCK: Block = Block::Unavailable;
    const REASON: Reason = Reason {
        code: "no_carer_available",
        message: "no eligible carer has a shift in the visit's window",
    };
    type Candidates = Self;
    type Starts = NotHere;
    type Stops = Self;
    type Timing = NotHere;
    type Carers = NotHere;

    fn master_rows(_: &mut MasterRows<'_>) -> Milp {
        Milp::InColumns("every route column is a timed route of one shift")
    }

    fn bound_carer_limit(_: &Problem, _: PersonId) -> Option<usize> {
        // The bound reads the candidate lists, which this rule already filters.
        None
    }
}

impl Candidates for Availability {
    /// The shift overlaps the time the visit may take place in.
    #[inline]
    fn admits_shift(p: &Problem, s: ShiftId, v: VisitId, tolerance: Minute) -> bool {
        let (sh, visit) = (p.shift(s), p.visit(v));
        sh.start < visit.latest_start + tolerance + visit.duration && sh.end > visit.earliest_start
    }
}

impl Stops for Availability {
    type Acc = ();

    #[inline(always)]
    fn admits_stop(_: &StopAt<'_>, _: &mut ()) -> bool {
        true
    }

    /// The carer is back at the end location by the shift's end.
    #[inline(always)]
    fn admits_end(at: &EndAt<'_>, _: &()) -> bool {
        at.home_by <= at.p.shift(at.shift).end
    }

    #[inline(always)]
    fn admits_joining(_: &Problem, _: ShiftId, _: &[usize], _: VisitId) -> bool {
        true
    }
}
