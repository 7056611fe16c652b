//! Timing a route: start times as early as possible (anchored visits at their
//! fixed start), the latest start each stop allows, and the route's local cost
//! and paid minutes. Which stops and routes are feasible is the hard rules'
//! call (`rota::rules`: windows, shift ends, capacity and anchored starts are
//! checked at each stop, breaks re-time the route).

use super::{Part, Sched, State};
use crate::model::{Minute, ShiftId, VisitId};
use crate::rota::objective::lateness_cost;
use crate::rota::rules::{self, EndAt, StopAt};

impl Part<'_> {
    /// Schedules `visits` on shift `s`; `fixed` gives anchored starts. `None` if
    /// infeasible. Every stop and the route's end pass the registered rules'
    /// stop checks; rules that shape timing (breaks) then re-time the route.
    pub fn simulate(
        &self,
        s: usize,
        visits: &[usize],
        fixed: &dyn Fn(usize) -> Option<Minute>,
    ) -> Option<Sched> {
        let sched = self.simulate_with_break(s, visits, fixed, None)?;
        rules::retime(self, s, visits, fixed, sched)
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
        let commute_w = self.commute_weight();
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
    pub(crate) fn latest_starts<F>(&self, s: usize, visits: &[usize], fixed: &F) -> Vec<Minute>
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

    pub(crate) fn simulate_with_break(
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
    pub(crate) fn simulate_with_rest(
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
        let mut acc = rules::Accs::default();
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
            let anchor = fixed(v);
            let start = anchor.unwrap_or_else(|| arrival.max(visit.earliest_start));
            let stop = StopAt {
                p,
                visit: VisitId(v),
                arrival,
                start,
                fixed: anchor,
                tolerance: self.tolerance,
            };
            if !rules::admits_stop(&stop, &mut acc) {
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
            starts.push(start);
            t = start + visit.duration;
            loc = visit.location;
        }
        if !visits.is_empty() {
            let back = self.travel(c, loc, shift.end_loc);
            let end = EndAt {
                p,
                shift: ShiftId(s),
                home_by: t + back,
            };
            if !rules::admits_end(&end, &acc) {
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
            slack: std::sync::OnceLock::new(),
        })
    }

    /// Arrival at position `pos` of shift `s`'s current route (the prefix is unaffected by insertion).
    pub(super) fn arrival_at(&self, st: &State, s: usize, pos: usize, v: usize) -> Minute {
        let p = self.p;
        let shift = &p.shifts[s];
        let c = shift.carer;
        let route: &[usize] = st.route(s);
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
