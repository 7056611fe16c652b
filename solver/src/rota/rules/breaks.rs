//! Breaks per working day: a working day (a carer's shifts in time order, each
//! starting less than a break after the previous one ends; see
//! `search::part`'s `JoinedDay`) spanning more than `break_after` minutes from
//! its first visit to the end of its last has an idle gap of at least
//! `break_duration` between two visits (travel excluded).
//!
//! This rule shapes timing rather than rejecting stops: a route timed as early
//! as possible that breaks it is re-timed with the rest before one of its
//! stops (the first position that works with hard windows, where the cost does
//! not depend on times; else the cheapest). Positions that would make a route
//! long enough to need a break leave the fast hard-window pricing for full
//! re-timing (`search::pricing`'s `may_need_break`).

use super::{BUSY, Block, Milp, NotHere, Reason, Rule, Timing};
use crate::model::{Minute, PersonId, Problem};
use crate::rota::master::MasterRows;
use crate::rota::search::{JoinedDay, Part, Sched};

pub(crate) struct Breaks;

impl Rule for Breaks {
    const NAME: &'static str = "breaks";
    const BLOCK: Block = Block::Time;
    const REASON: Reason = BUSY;
    type Candidates = NotHere;
    type Starts = NotHere;
    type Stops = NotHere;
    type Timing = Self;
    type Carers = NotHere;

    fn master_rows(_: &mut MasterRows<'_>) -> Milp {
        Milp::InColumns("every route column is timed with its breaks, each passing the working-day rule on its own")
    }

    fn bound_carer_limit(_: &Problem, _: PersonId) -> Option<usize> {
        // The bound prices visits without timing them.
        None
    }
}

impl Timing for Breaks {
    fn retime(
        part: &Part<'_>,
        s: usize,
        visits: &[usize],
        fixed: &dyn Fn(usize) -> Option<Minute>,
        sched: Sched,
    ) -> Option<Sched> {
        let p = part.p;
        if p.break_duration > 0
            && !visits.is_empty()
            && let Some(day) = part.joined[s]
        {
            return part.joined_day_breaks(s, day, visits, fixed, sched);
        }
        if p.break_duration > 0 && visits.len() > 1 {
            let first = sched.starts[0];
            let last = sched.starts[visits.len() - 1] + p.visits[visits[visits.len() - 1]].duration;
            if last - first > p.break_after && !part.has_break(s, visits, &sched.starts) {
                if p.lateness.is_hard() {
                    return part.first_break(s, visits, fixed, &sched.starts);
                }
                // Try a break before each visit; keep the cheapest feasible.
                let mut best: Option<Sched> = None;
                for k in 1..visits.len() {
                    if let Some(alt) = part.simulate_with_break(s, visits, fixed, Some(k))
                        && best.as_ref().is_none_or(|b| alt.local_cost < b.local_cost)
                    {
                        best = Some(alt);
                    }
                }
                return best;
            }
        }
        Some(sched)
    }
}

impl Part<'_> {
    /// Timing of a route on a shift joined into a longer working day (see
    /// [`JoinedDay`]): `sched` (as early as possible) when it keeps
    /// the rule, else the first (hard windows) or cheapest timing with a break
    /// before some stop, the first stop too unless the shift starts the day.
    fn joined_day_breaks(
        &self,
        s: usize,
        day: JoinedDay,
        visits: &[usize],
        fixed: &dyn Fn(usize) -> Option<Minute>,
        sched: Sched,
    ) -> Option<Sched> {
        if self.keeps_joined_day(s, day, visits, &sched.starts) {
            return Some(sched);
        }
        let hard = self.p.lateness.is_hard();
        let mut best: Option<Sched> = None;
        for k in usize::from(day.first)..visits.len() {
            // Before the first stop, only what the gap before the shift lacks.
            let minutes = if k == 0 {
                self.p.break_duration - day.gap_before
            } else {
                self.p.break_duration
            };
            if let Some(alt) = self.simulate_with_rest(s, visits, fixed, Some((k, minutes)))
                && self.keeps_joined_day(s, day, visits, &alt.starts)
                && best.as_ref().is_none_or(|b| alt.local_cost < b.local_cost)
            {
                if hard {
                    return Some(alt);
                }
                best = Some(alt);
            }
        }
        best
    }

    /// Whether a route of a joined shift passes the working-day rule on its own
    /// (see [`JoinedDay`]).
    fn keeps_joined_day(
        &self,
        s: usize,
        day: JoinedDay,
        visits: &[usize],
        starts: &[Minute],
    ) -> bool {
        let p = self.p;
        if self.has_break(s, visits, starts) {
            return true;
        }
        let shift = &p.shifts[s];
        let c = shift.carer;
        let (head, tail) = (&p.visits[visits[0]], &p.visits[visits[visits.len() - 1]]);
        let first = starts[0];
        let last_end = starts[visits.len() - 1] + tail.duration;
        let rest_before =
            first - self.travel(c, shift.start_loc, head.location) - shift.start + day.gap_before;
        let rest_after =
            shift.end - last_end - self.travel(c, tail.location, shift.end_loc) + day.gap_after;
        let from = if day.first || rest_before >= p.break_duration {
            first
        } else {
            day.start
        };
        let to = if day.last || rest_after >= p.break_duration {
            last_end
        } else {
            day.end
        };
        to - from <= p.break_after
    }

    /// With hard windows the route's cost does not depend on where the break
    /// goes, so the first position that works is as good as any. A break before
    /// stop `k` works when the no-break (as early as possible) schedule reaches
    /// `k` early enough to rest and still start `k` by the latest start the
    /// stops after it allow (a backward pass): one re-timing instead of one per
    /// position.
    fn first_break(
        &self,
        s: usize,
        visits: &[usize],
        fixed: &dyn Fn(usize) -> Option<Minute>,
        asap: &[Minute],
    ) -> Option<Sched> {
        let p = self.p;
        let c = p.shifts[s].carer;
        let n = visits.len();
        let latest = self.latest_starts(s, visits, fixed);
        for k in 1..n {
            let prev = &p.visits[visits[k - 1]];
            let arrival = asap[k - 1]
                + prev.duration
                + self.travel(c, prev.location, p.visits[visits[k]].location)
                + p.break_duration;
            if arrival > latest[k] {
                continue;
            }
            if let Some(sched) = self.simulate_with_break(s, visits, fixed, Some(k)) {
                return Some(sched);
            }
        }
        None
    }

    /// Whether the route has an idle gap of a break between two visits (travel excluded).
    fn has_break(&self, s: usize, visits: &[usize], starts: &[Minute]) -> bool {
        let p = self.p;
        let c = p.shifts[s].carer;
        (1..visits.len()).any(|k| {
            let prev_end = starts[k - 1] + p.visits[visits[k - 1]].duration;
            let travel = self.travel(
                c,
                p.visits[visits[k - 1]].location,
                p.visits[visits[k]].location,
            );
            starts[k] - prev_end - travel >= p.break_duration
        })
    }
}
