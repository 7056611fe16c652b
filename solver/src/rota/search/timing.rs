//! Timing a route: start times as early as possible (anchored visits at their
//! fixed start), lunch breaks, the latest start each stop allows, and the
//! route's local cost and paid minutes.

use super::{Part, Sched, State};
use crate::model::Minute;
use crate::rota::objective::lateness_cost;

impl Part<'_> {
    /// Schedules `visits` on shift `s`; `fixed` gives anchored starts. `None` if infeasible.
    pub fn simulate(
        &self,
        s: usize,
        visits: &[usize],
        fixed: &dyn Fn(usize) -> Option<Minute>,
    ) -> Option<Sched> {
        let sched = self.simulate_with_break(s, visits, fixed, None)?;
        let p = self.p;
        if p.break_duration > 0
            && !visits.is_empty()
            && let Some(day) = self.joined[s]
        {
            return self.joined_day_breaks(s, day, visits, fixed, sched);
        }
        if p.break_duration > 0 && visits.len() > 1 {
            let first = sched.starts[0];
            let last = sched.starts[visits.len() - 1] + p.visits[visits[visits.len() - 1]].duration;
            if last - first > p.break_after && !self.has_break(s, visits, &sched.starts) {
                if matches!(p.lateness, crate::model::LatenessRule::Hard) {
                    return self.first_break(s, visits, fixed, &sched.starts);
                }
                // Try a break before each visit; keep the cheapest feasible.
                let mut best: Option<Sched> = None;
                for k in 1..visits.len() {
                    if let Some(alt) = self.simulate_with_break(s, visits, fixed, Some(k))
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

    /// A route's local cost without re-timing it: legs, carer-visit costs and
    /// shift use. Exact with hard windows (a break moves times, not costs); a
    /// lower bound with soft ones, where lateness only adds. Infeasible routes
    /// get a cost too, so this only rules moves out: a move whose time-free cost
    /// does not improve cannot improve once re-timed either.
    pub(super) fn time_free_cost(&self, s: usize, route: &[usize]) -> f64 {
        let p = self.p;
        if route.is_empty() {
            return 0.0;
        }
        let w = &p.weights;
        let shift = &p.shifts[s];
        let c = shift.carer;
        let commute_w = if p.paid_commute {
            w.travel_min
        } else {
            w.commute_min
        };
        let mut loc = shift.start_loc;
        let mut cost = 0.0;
        for (k, &v) in route.iter().enumerate() {
            let vl = p.visits[v].location;
            let t = f64::from(self.travel(c, loc, vl));
            cost += t * if k == 0 { commute_w } else { w.travel_min };
            cost += self.visit_cost(c, v);
            loc = vl;
        }
        cost += f64::from(self.travel(c, loc, shift.end_loc)) * commute_w;
        cost + w.shift_used
    }

    /// Timing of a route on a shift joined into a longer working day (see
    /// [`super::part::JoinedDay`]): `sched` (as early as possible) when it keeps
    /// the rule, else the first (hard windows) or cheapest timing with a break
    /// before some stop, the first stop too unless the shift starts the day.
    fn joined_day_breaks(
        &self,
        s: usize,
        day: super::part::JoinedDay,
        visits: &[usize],
        fixed: &dyn Fn(usize) -> Option<Minute>,
        sched: Sched,
    ) -> Option<Sched> {
        if self.keeps_joined_day(s, day, visits, &sched.starts) {
            return Some(sched);
        }
        let hard = matches!(self.p.lateness, crate::model::LatenessRule::Hard);
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
    /// (see [`super::part::JoinedDay`]).
    fn keeps_joined_day(
        &self,
        s: usize,
        day: super::part::JoinedDay,
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
    pub(super) fn first_break(
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

    /// Latest starts of a route timed as early as possible (see [`Sched::slack`]);
    /// `None` for a route timed otherwise (around a break).
    pub(super) fn route_slack<F>(
        &self,
        s: usize,
        route: &[usize],
        starts: &[Minute],
        fixed: &F,
    ) -> Option<Vec<Minute>>
    where
        F: Fn(usize) -> Option<Minute> + ?Sized,
    {
        let p = self.p;
        let shift = &p.shifts[s];
        let mut ready = shift.start;
        let mut loc = shift.start_loc;
        for (k, &x) in route.iter().enumerate() {
            let vx = &p.visits[x];
            let arrival = ready + self.travel(shift.carer, loc, vx.location);
            let asap = fixed(x).unwrap_or(arrival.max(vx.earliest_start));
            if asap != starts[k] {
                return None;
            }
            ready = asap + vx.duration;
            loc = vx.location;
        }
        Some(self.latest_starts(s, route, fixed))
    }

    /// Latest start of each stop of `visits` on shift `s` that keeps the stops
    /// after it feasible (anchored stops keep their fixed start).
    pub(super) fn latest_starts<F>(&self, s: usize, visits: &[usize], fixed: &F) -> Vec<Minute>
    where
        F: Fn(usize) -> Option<Minute> + ?Sized,
    {
        let p = self.p;
        let shift = &p.shifts[s];
        let mut latest = vec![0 as Minute; visits.len()];
        let mut after = shift.end;
        let mut next_loc = shift.end_loc;
        for k in (0..visits.len()).rev() {
            let vx = &p.visits[visits[k]];
            let l = after - self.travel(shift.carer, vx.location, next_loc) - vx.duration;
            latest[k] = match fixed(visits[k]) {
                Some(f) => f,
                None => l.min(vx.latest_start + self.tolerance),
            };
            after = latest[k];
            next_loc = vx.location;
        }
        latest
    }

    pub(super) fn has_break(&self, s: usize, visits: &[usize], starts: &[Minute]) -> bool {
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

    pub(super) fn simulate_with_break(
        &self,
        s: usize,
        visits: &[usize],
        fixed: &dyn Fn(usize) -> Option<Minute>,
        break_before: Option<usize>,
    ) -> Option<Sched> {
        let rest = break_before.map(|k| (k, self.p.break_duration));
        self.simulate_with_rest(s, visits, fixed, rest)
    }

    /// Times `visits` as early as possible with `rest = (k, minutes)` of idle
    /// time before stop `k`.
    fn simulate_with_rest(
        &self,
        s: usize,
        visits: &[usize],
        fixed: &dyn Fn(usize) -> Option<Minute>,
        rest: Option<(usize, Minute)>,
    ) -> Option<Sched> {
        let p = self.p;
        let shift = &p.shifts[s];
        let c = shift.carer;
        let w = &p.weights;
        let mut starts = Vec::with_capacity(visits.len());
        let mut loc = shift.start_loc;
        let mut t = shift.start;
        let mut cost = 0.0;
        let mut work: i64 = 0;
        let mut load: u64 = 0;
        let mut max_late: Minute = 0;
        for (k, &v) in visits.iter().enumerate() {
            let visit = &p.visits[v];
            let travel = self.travel(c, loc, visit.location);
            let mut arrival = t + travel;
            if let Some((before, minutes)) = rest
                && before == k
            {
                arrival += minutes;
            }
            let start = match fixed(v) {
                Some(f) => {
                    if arrival > f {
                        return None;
                    }
                    f
                }
                None => arrival.max(visit.earliest_start),
            };
            if start > visit.latest_start + self.tolerance || start < visit.earliest_start {
                return None;
            }
            if k == 0 {
                if p.paid_commute {
                    work += i64::from(travel);
                    cost += f64::from(travel) * w.travel_min;
                } else {
                    cost += f64::from(travel) * w.commute_min;
                }
            } else {
                work += i64::from(travel);
                cost += f64::from(travel) * w.travel_min;
            }
            cost += lateness_cost(p, start - visit.latest_start);
            max_late = max_late.max(start - visit.latest_start);
            cost += self.visit_cost(c, v);
            work += i64::from(visit.duration);
            load += u64::from(visit.demand);
            starts.push(start);
            t = start + visit.duration;
            loc = visit.location;
        }
        if let Some(cap) = p.carers[c].capacity
            && load > u64::from(cap)
        {
            return None;
        }
        if !visits.is_empty() {
            let back = self.travel(c, loc, shift.end_loc);
            if t + back > shift.end {
                return None;
            }
            if p.paid_commute {
                work += i64::from(back);
                cost += f64::from(back) * w.travel_min;
            } else {
                cost += f64::from(back) * w.commute_min;
            }
            cost += w.shift_used;
        }
        Some(Sched {
            starts,
            local_cost: cost,
            work,
            max_late,
            slack: std::cell::OnceCell::new(),
        })
    }

    /// Arrival at position `pos` of shift `s`'s current route (the prefix is unaffected by insertion).
    pub(super) fn arrival_at(&self, st: &State, s: usize, pos: usize, v: usize) -> Minute {
        let p = self.p;
        let shift = &p.shifts[s];
        let c = shift.carer;
        let empty = Vec::new();
        let route = st.routes.get(&s).unwrap_or(&empty);
        if pos == 0 {
            shift.start + self.travel(c, shift.start_loc, p.visits[v].location)
        } else {
            let prev = route[pos - 1];
            let prev_start = st.scheds.get(&s).map_or(shift.start, |x| x.starts[pos - 1]);
            prev_start
                + p.visits[prev].duration
                + self.travel(c, p.visits[prev].location, p.visits[v].location)
        }
    }
}
