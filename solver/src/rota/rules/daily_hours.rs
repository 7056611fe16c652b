//! Maximum daily hours: a carer's paid minutes (visits, travel between them,
//! and the commute when it is paid) on one day stay within `max_min_per_day`.

use super::{Block, Carers, ChangeAt, Milp, NotHere, Reason, RoomAt, Rule, Selection};
use crate::model::{PersonId, Problem};
use crate::rota::master::MasterRows;

pub(crate) struct DailyHours;

impl Rule for DailyHours {
    const NAME: &'static str = "daily_hours";
    const BLOCK: Block = Block::DailyHours;
    const REASON: Reason = Reason {
        code: "max_daily_hours",
        message: "free carers would exceed their daily maximum hours",
    };
    type Candidates = NotHere;
    type Starts = NotHere;
    type Stops = NotHere;
    type Timing = NotHere;
    type Carers = Self;

    fn master_rows(m: &mut MasterRows<'_>) -> Milp {
        let p = m.p;
        m.work_limit_rows(&|s| (p.shifts[s].carer, p.shifts[s].day), &|(c, _)| {
            i64::from(p.carers[c].max_min_per_day)
        });
        Milp::Rows
    }

    fn bound_carer_limit(_: &Problem, _: PersonId) -> Option<usize> {
        // The bound prices each person as if carers had unlimited room.
        None
    }
}

impl Carers for DailyHours {
    /// Paid minutes left on the day.
    type Room = i64;

    fn room(at: &RoomAt<'_>) -> i64 {
        i64::from(at.p.carer(at.carer).max_min_per_day)
            - at
                .st
                .day_work
                .get(&(at.carer.index(), at.day))
                .copied()
                .unwrap_or(0)
    }

    #[inline]
    fn admits(left: &i64, work_delta: i64) -> Result<f64, Block> {
        if work_delta > *left {
            return Err(Block::DailyHours);
        }
        Ok(0.0)
    }

    fn admits_change(at: &ChangeAt<'_>) -> bool {
        at.day.iter().all(|(&(c, d), &dw)| {
            let now = at.st.day_work.get(&(c, d)).copied().unwrap_or(0);
            dw <= 0 || now + dw <= i64::from(at.p.carers[c].max_min_per_day)
        })
    }

    fn check_selection(sel: &Selection<'_>) -> Result<(), String> {
        let p = sel.p;
        for (&(c, d), &m) in sel.day_work {
            if m > i64::from(p.carers[c].max_min_per_day) {
                return Err(format!(
                    "carer `{}` works {m} min on day {d}",
                    p.carers[c].id
                ));
            }
        }
        Ok(())
    }
}
