//! Maximum weekly hours: a carer's paid minutes in one local calendar week
//! ([`Problem::week_of`]), with what was worked before the horizon in its
//! first week, stay within `max_min_per_week` ([`Problem::week_limit`]).

use super::{Block, Carers, ChangeAt, Milp, NotHere, Reason, RoomAt, Rule, Selection};
use crate::model::{PersonId, Problem};
use crate::rota::master::MasterRows;

pub(crate) struct WeeklyHours;

impl Rule for WeeklyHours {
    const NAME: &'static str = "weekly_hours";
    const BLOCK: Block = Block::WeeklyHours;
    const REASON: Reason = Reason {
        code: "max_weekly_hours",
        message: "free carers would exceed their weekly maximum hours",
    };
    type Candidates = NotHere;
    type Starts = NotHere;
    type Stops = NotHere;
    type Timing = NotHere;
    type Carers = Self;

    fn master_rows(m: &mut MasterRows<'_>) -> Milp {
        let p = m.p;
        m.work_limit_rows(
            &|s| (p.shifts[s].carer, p.week_of(p.shifts[s].day)),
            &|(c, w)| p.week_limit(c, w),
        );
        Milp::Rows
    }

    fn bound_carer_limit(_: &Problem, _: PersonId) -> Option<usize> {
        // The bound prices each person as if carers had unlimited room.
        None
    }
}

impl Carers for WeeklyHours {
    /// Paid minutes left in the week.
    type Room = i64;

    fn room(at: &RoomAt<'_>) -> i64 {
        let c = at.carer.index();
        let w = at.p.week_of(at.day);
        at.p.week_limit(c, w)
            - at
                .st
                .week_work
                .get(&(c, w))
                .copied()
                .unwrap_or(0)
    }

    #[inline]
    fn admits(left: &i64, work_delta: i64) -> Result<f64, Block> {
        if work_delta > *left {
            return Err(Block::WeeklyHours);
        }
        Ok(0.0)
    }

    fn admits_change(at: &ChangeAt<'_>) -> bool {
        at.week.iter().all(|(&(c, w), &dw)| {
            let now = at.st.week_work.get(&(c, w)).copied().unwrap_or(0);
            dw <= 0 || now + dw <= at.p.week_limit(c, w)
        })
    }

    fn check_selection(sel: &Selection<'_>) -> Result<(), String> {
        let p = sel.p;
        for (&(c, w), &m) in sel.week_work {
            let limit = p.week_limit(c, w);
            if m > limit {
                return Err(format!(
                    "carer `{}` works {m} min in week {w} ({limit} min allowed)",
                    p.carers[c].id
                ));
            }
        }
        Ok(())
    }
}
