//! Pricing insertions: the cheapest place for a visit in one shift (by full
//! re-timing, or in O(route length) with hard windows), across shifts, and for
//! anchored visits at a fixed start; the carer-level rules (daily and weekly
//! hours, continuity cap) and contract shortfall of each candidate.

use super::{Block, Part, Sched, State};
use crate::model::{CarerId, Minute, ShiftId, VisitId};
use crate::rota::objective::{contract_shortfall_cost, lateness_cost, worst_late_cost};
use crate::rota::rules::{self, RoomAt, StartAt};

/// A carer's room on one day for one visit (see [`Part::carer_room`]).
pub(super) struct CarerRoom {
    pub(super) carer: usize,
    /// What each registered rule reads for this carer, day and visit.
    pub(super) rules: rules::Rooms,
    /// Paid minutes over the horizon so far (for the contract shortfall).
    pub(super) worked: f64,
}

/// A route as [`Part::price_at`] reads it, for one visit to insert.
pub(super) struct RouteView<'s> {
    pub(super) route: &'s [usize],
    pub(super) starts: &'s [Minute],
    /// Latest start of each stop (see [`Sched::slack`]).
    pub(super) latest: &'s [Minute],
    pub(super) old_cost: f64,
    pub(super) old_work: i64,
    pub(super) room: CarerRoom,
}

/// One insertion position's timing limits and cost change (see [`Part::price_at`]).
pub(super) struct PositionPrice {
    pub(super) arrival: Minute,
    pub(super) latest_start: Minute,
    pub(super) local: f64,
    pub(super) work: i64,
}

/// Slack under which a lower bound does not rule a position out, so float
/// rounding can never prune one that full re-timing would have chosen.
const PRUNE_MARGIN: f64 = 1e-6;

/// See [`Part::insertion_legs`].
pub(super) struct InsertionLegs {
    pub(super) t_in: Minute,
    pub(super) t_out: Minute,
    pub(super) local: f64,
    pub(super) work: i64,
}

/// An insertion: its cost and, per carer, the shift, position and new schedule.
#[derive(Debug, Clone)]
pub(crate) struct Insertion {
    pub cost: f64,
    pub parts: Vec<(usize, usize, Sched)>,
    pub fixed: Option<Minute>,
}

impl Part<'_> {
    /// Allowed start interval of `v` given the visits placed, and carers it
    /// must avoid: the registered rules' start checks (windows, links).
    pub(super) fn link_bounds(&self, st: &State, v: usize) -> (Minute, Minute, Vec<usize>) {
        let w = rules::start_window(&StartAt {
            p: self.p,
            st,
            visit: VisitId(v),
            links: self.links_of.get(&v).map(Vec::as_slice).unwrap_or(&[]),
            tolerance: self.tolerance,
        });
        (w.lo, w.hi, w.avoid)
    }

    /// What the state allows carer `c` on `day` for visit `v`, read once per
    /// shift so that each insertion position only does arithmetic.
    pub(super) fn carer_room(&self, st: &State, c: usize, day: u32, v: usize) -> CarerRoom {
        CarerRoom {
            carer: c,
            rules: rules::rooms(&RoomAt {
                p: self.p,
                st,
                carer: CarerId(c),
                day,
                visit: VisitId(v),
            }),
            worked: st.total_work.get(&c).copied().unwrap_or(0) as f64,
        }
    }

    /// Feasibility and cost change of adding `work_delta` paid minutes and the
    /// visit `room` was read for: the registered rules (daily and weekly hours,
    /// the continuity cap and the cost of a new carer for the person), then the
    /// contract shortfall.
    pub(super) fn global_delta(&self, room: &CarerRoom, work_delta: i64) -> Result<f64, Block> {
        let ruled = rules::admits(&room.rules, work_delta)?;
        let (p, c) = (self.p, room.carer);
        Ok(
            ruled + contract_shortfall_cost(p, c, room.worked + work_delta as f64)
                - contract_shortfall_cost(p, c, room.worked),
        )
    }

    /// Best insertion of one carer's share of `v` at fixed start `t` (or ASAP when `None`) into shift `s`,
    /// at position `at` only when given.
    pub(super) fn best_in_shift(
        &self,
        st: &State,
        s: usize,
        v: usize,
        t: Option<Minute>,
        at: Option<usize>,
        blocks: &mut Vec<Block>,
    ) -> Option<(f64, usize, Sched)> {
        self.best_in_shift_below(st, s, v, t, at, blocks, f64::INFINITY)
    }

    /// [`Part::best_in_shift`] for a caller that only wants an insertion
    /// cheaper than `bar` (the best of the shifts priced before): positions
    /// whose lower bound is above `bar` are not re-timed. The answer is the
    /// same whenever the shift has an insertion cheaper than `bar`; otherwise
    /// it is `None` or one no cheaper than `bar`. With a finite `bar` the
    /// visit has a place, so the blocks of the positions skipped (read only by
    /// the diagnosis of unplaced visits) do not matter.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn best_in_shift_below(
        &self,
        st: &State,
        s: usize,
        v: usize,
        t: Option<Minute>,
        at: Option<usize>,
        blocks: &mut Vec<Block>,
        bar: f64,
    ) -> Option<(f64, usize, Sched)> {
        if let Some(found) = self.best_in_shift_fast(st, s, v, t, at, blocks) {
            return found;
        }
        let p = self.p;
        let route: &[usize] = st.route(s);
        let old = st.sched(s);
        let old_cost = old.map_or(0.0, |x| x.local_cost);
        let old_work = old.map_or(0, |x| x.work);
        let visit = &p.visits[v];
        let c = p.shifts[s].carer;
        let room = self.carer_room(st, c, p.shifts[s].day, v);
        // The worst-lateness term: read the other routes once, not per position.
        let late_weight = p.weights.worst_late_min > 0.0;
        let others_late = if late_weight {
            st.worst_late_except(&[s])
        } else {
            0
        };
        let old_late = worst_late_cost(p, others_late.max(old.map_or(0, |x| x.max_late)));
        let mut best: Option<(f64, usize, Sched)> = None;
        let fixed_of = |w: usize| if w == v { t } else { self.fixed_start(st, w) };
        let mut buf = Vec::with_capacity(route.len() + 1);
        // Positions with their lower bound; with a free start and position,
        // cheapest bound first, so that the re-timing stops at the first bound
        // above the best found.
        let prunable = t.is_none() && at.is_none();
        let mut order: Vec<(f64, usize)> = Vec::with_capacity(route.len() + 1);
        for pos in positions(at, route.len()) {
            // Prune by time: the visit must be able to start before the next stop's start.
            if let Some(sc) = old {
                if pos > 0 && sc.starts[pos - 1] > visit.latest_start + self.tolerance {
                    break;
                }
                if st.prune_wait
                    && pos < route.len()
                    && sc.starts[pos] + p.visits[route[pos]].duration < visit.earliest_start
                {
                    continue;
                }
            }
            let bound = self
                .insertion_bound(st, s, v, pos, &room, old, (others_late, old_late), prunable)
                .unwrap_or(f64::NEG_INFINITY);
            order.push((bound, pos));
        }
        if prunable {
            order.sort_unstable_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        }
        for (bound, pos) in order {
            if bound > bar + PRUNE_MARGIN
                || best.as_ref().is_some_and(|b| bound > b.0 + PRUNE_MARGIN)
            {
                if prunable {
                    break;
                }
                continue;
            }
            buf.clear();
            buf.extend_from_slice(&route[..pos]);
            buf.push(v);
            buf.extend_from_slice(&route[pos..]);
            let Some(sched) = self.simulate(s, &buf, &fixed_of) else {
                blocks.push(Block::Time);
                continue;
            };
            let delta = match self.global_delta(&room, sched.work - old_work) {
                Ok(d) => d,
                Err(b) => {
                    blocks.push(b);
                    continue;
                }
            };
            let mut cost = sched.local_cost - old_cost + delta;
            if late_weight {
                cost += worst_late_cost(p, others_late.max(sched.max_late)) - old_late;
            }
            debug_assert!(
                self.insertion_bound(st, s, v, pos, &room, old, (others_late, old_late), true)
                    .is_none_or(|bound| bound <= cost + PRUNE_MARGIN),
                "insertion bound above the re-timed cost"
            );
            // Ties go to the earliest position, whatever the order tried.
            if best
                .as_ref()
                .is_none_or(|b| cost < b.0 || (cost == b.0 && pos < b.1))
            {
                best = Some((cost, pos, sched));
            }
        }
        best
    }

    /// A lower bound of what inserting `v` at `pos` of shift `s` costs in
    /// [`Part::best_in_shift`], without re-timing the route: the legs' change is
    /// exact, the carer-level rules see the exact paid minutes, and lateness is
    /// bounded by [`Part::insertion_floor`]. `None` when no bound applies:
    /// `prunable` is false (a pinned or anchored start, whose failed positions
    /// the diagnosis reads), a rule blocks the paid minutes (left to the full
    /// check, which reports it), or the route's timing is unknown.
    #[allow(clippy::too_many_arguments)]
    fn insertion_bound(
        &self,
        st: &State,
        s: usize,
        v: usize,
        pos: usize,
        room: &CarerRoom,
        old: Option<&Sched>,
        (others_late, old_late): (Minute, f64),
        prunable: bool,
    ) -> Option<f64> {
        if !prunable {
            return None;
        }
        let p = self.p;
        let route: &[usize] = st.route(s);
        let legs = self.insertion_legs(s, route, v, pos);
        let global = self.global_delta(room, legs.work).ok()?;
        let (local, route_late) = self.insertion_floor(s, route, old, v, pos, &legs)?;
        let late_floor = others_late.max(route_late);
        Some(local + global + worst_late_cost(p, late_floor) - old_late)
    }

    /// A lower bound of how much inserting `v` at `pos` raises the local cost of
    /// shift `s` (timed as `old`), and of the route's worst lateness afterwards.
    /// Lateness can only grow when a stop is added (every later stop starts no
    /// earlier); with breaks a longer route may time its break differently, so
    /// then only the time-free part of the old route is trusted. `None` for a
    /// route whose timing is unknown.
    pub(super) fn insertion_floor(
        &self,
        s: usize,
        route: &[usize],
        old: Option<&Sched>,
        v: usize,
        pos: usize,
        legs: &InsertionLegs,
    ) -> Option<(f64, Minute)> {
        self.insertion_floor_at(s, route, old, v, pos, legs, None)
    }

    /// [`Part::insertion_floor`] with `v`'s start fixed at `fixed` (no earlier
    /// than it can arrive) instead of as early as possible.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn insertion_floor_at(
        &self,
        s: usize,
        route: &[usize],
        old: Option<&Sched>,
        v: usize,
        pos: usize,
        legs: &InsertionLegs,
        fixed: Option<Minute>,
    ) -> Option<(f64, Minute)> {
        let p = self.p;
        let visit = &p.visits[v];
        match old.filter(|o| o.starts.len() == route.len()) {
            Some(o) if p.break_duration <= 0 => {
                let ready = if pos == 0 {
                    p.shifts[s].start
                } else {
                    o.starts[pos - 1] + p.visits[route[pos - 1]].duration
                };
                let start = fixed.unwrap_or_else(|| (ready + legs.t_in).max(visit.earliest_start));
                let own_late = (start - visit.latest_start).max(0);
                let (pushed, pushed_late) = self.push_floor(s, route, o, pos, v, start);
                Some((
                    legs.local + lateness_cost(p, own_late) + pushed,
                    o.max_late.max(own_late).max(pushed_late),
                ))
            }
            Some(o) => Some((
                legs.local - (o.local_cost - self.time_free_cost(s, route)),
                0,
            )),
            None if route.is_empty() => Some((legs.local, 0)),
            None => None,
        }
    }

    /// With soft windows, a lower bound of the lateness the stops after `pos`
    /// gain when `v` goes in there starting at `start` (route timed as `old`,
    /// no breaks), and the latest of them afterwards: each is pushed to its
    /// arrival at the earliest, until one keeps its start. An anchored stop
    /// keeps its start (a real push there fails the insertion, which the full
    /// timing finds).
    fn push_floor(
        &self,
        s: usize,
        route: &[usize],
        old: &Sched,
        pos: usize,
        v: usize,
        start: Minute,
    ) -> (f64, Minute) {
        let p = self.p;
        if p.lateness.is_hard() {
            return (0.0, 0);
        }
        let c = p.shifts[s].carer;
        let (mut cost, mut late) = (0.0, 0);
        let mut ready = start + p.visits[v].duration;
        let mut loc = p.visits[v].location;
        for (k, &x) in route.iter().enumerate().skip(pos) {
            let vx = &p.visits[x];
            let start = (ready + self.travel(c, loc, vx.location)).max(vx.earliest_start);
            let was = old.starts[k];
            if start <= was || self.anchored_row[x] {
                break;
            }
            cost +=
                lateness_cost(p, start - vx.latest_start) - lateness_cost(p, was - vx.latest_start);
            late = late.max(start - vx.latest_start);
            ready = start + vx.duration;
            loc = vx.location;
        }
        (cost, late)
    }

    /// What pricing `v`'s insertion positions in shift `s` reads once (see
    /// [`Part::best_in_shift_fast`]): `None` when the shortcut does not apply
    /// (soft windows, a route timed around a break), `Some(None)` when the
    /// registered rules' quick checks (capacity) rule `v` out.
    pub(super) fn route_view<'s>(
        &self,
        st: &'s State,
        s: usize,
        v: usize,
        blocks: &mut Vec<Block>,
    ) -> Option<Option<RouteView<'s>>> {
        let p = self.p;
        if !p.lateness.is_hard() {
            return None;
        }
        let route: &[usize] = st.route(s);
        let old = st.sched(s);
        let n = route.len();
        if n > 0 && old.is_none_or(|o| o.starts.len() != n) {
            return None;
        }
        let c = p.shifts[s].carer;
        if !rules::admits_joining(p, ShiftId(s), route, VisitId(v)) {
            blocks.push(Block::Time);
            return Some(None);
        }
        let starts: &[Minute] = old.map_or(&[], |o| o.starts.as_slice());
        let fixed_of = |x: usize| {
            if self.anchored_row[x] {
                st.fixed.get(&x).copied()
            } else {
                None
            }
        };
        let latest: &[Minute] = match old {
            None => &[],
            Some(o) => o
                .slack
                .get_or_init(|| self.route_slack(s, route, starts, &fixed_of))
                .as_deref()?,
        };
        Some(Some(RouteView {
            route,
            starts,
            latest,
            old_cost: old.map_or(0.0, |x| x.local_cost),
            old_work: old.map_or(0, |x| x.work),
            room: self.carer_room(st, c, p.shifts[s].day, v),
        }))
    }

    /// Inserting `v` at `pos` of the route `view` shows: when it can start, the
    /// latest start that keeps the stops after it on time, and the change of
    /// route cost and paid minutes (legs only: with hard windows the cost does
    /// not depend on times).
    pub(super) fn price_at(
        &self,
        view: &RouteView,
        s: usize,
        v: usize,
        pos: usize,
    ) -> PositionPrice {
        let p = self.p;
        let (shift, visit) = (&p.shifts[s], &p.visits[v]);
        let legs = self.insertion_legs(s, view.route, v, pos);
        let ready = if pos == 0 {
            shift.start
        } else {
            view.starts[pos - 1] + p.visits[view.route[pos - 1]].duration
        };
        let leave_by = if pos == view.route.len() {
            shift.end
        } else {
            view.latest[pos]
        };
        PositionPrice {
            arrival: ready + legs.t_in,
            latest_start: (leave_by - visit.duration - legs.t_out)
                .min(visit.latest_start + self.tolerance),
            local: legs.local,
            work: legs.work,
        }
    }

    /// The time-free part of inserting `v` at `pos` of `route` on shift `s`: the
    /// legs in and out, and the change of leg, visit and shift-use cost and of
    /// paid minutes. The cost change is exact with hard windows; with soft ones
    /// lateness comes on top (it can only grow when a stop is added).
    pub(super) fn insertion_legs(
        &self,
        s: usize,
        route: &[usize],
        v: usize,
        pos: usize,
    ) -> InsertionLegs {
        let p = self.p;
        let (shift, visit, w) = (&p.shifts[s], &p.visits[v], &p.weights);
        let n = route.len();
        let prev_loc = if pos == 0 {
            shift.start_loc
        } else {
            p.visits[route[pos - 1]].location
        };
        let next_loc = if pos == n {
            shift.end_loc
        } else {
            p.visits[route[pos]].location
        };
        let t_in = self.travel(shift.carer, prev_loc, visit.location);
        let t_out = self.travel(shift.carer, visit.location, next_loc);
        // Leg costs: first and last legs are commutes.
        let leg = |first_or_last: bool| {
            if first_or_last && !p.paid_commute {
                (w.commute_min, 0)
            } else {
                (w.travel_min, 1)
            }
        };
        let ((w_in, k_in), (w_out, k_out)) = (leg(pos == 0), leg(pos == n));
        let mut local =
            f64::from(t_in) * w_in + f64::from(t_out) * w_out + self.visit_cost(shift.carer, v);
        let mut work =
            i64::from(t_in) * k_in + i64::from(t_out) * k_out + i64::from(visit.duration);
        if n == 0 {
            local += w.shift_used;
        } else {
            let t_old = self.travel(shift.carer, prev_loc, next_loc);
            let (w_old, k_old) = leg(pos == 0 || pos == n);
            local -= f64::from(t_old) * w_old;
            work -= i64::from(t_old) * k_old;
        }
        InsertionLegs {
            t_in,
            t_out,
            local,
            work,
        }
    }

    /// Whether the route with `v` at `pos` starting at `start` spans long enough
    /// to need a break, so it must be re-timed in full to know it is feasible.
    pub(super) fn may_need_break(
        &self,
        view: &RouteView,
        s: usize,
        v: usize,
        pos: usize,
        start: Minute,
    ) -> bool {
        let p = self.p;
        let n = view.route.len();
        if p.break_duration <= 0 {
            return false;
        }
        // A shift joined into a longer working day is always timed in full.
        if self.joined[s].is_some() {
            return true;
        }
        let first = if pos == 0 { start } else { view.starts[0] };
        let last_end = if pos == n {
            start + p.visits[v].duration
        } else {
            view.latest[n - 1] + p.visits[view.route[n - 1]].duration
        };
        last_end - first > p.break_after
    }

    /// [`Part::best_in_shift`] in O(route length) instead of one full re-timing per
    /// position: with hard windows the route cost does not depend on times, so each
    /// position's cost change is the change of its legs, and feasibility follows
    /// from the latest start each later stop allows (a backward pass; anchored
    /// stops keep their start). Only the chosen position is re-timed in full.
    /// Positions whose route would become long enough to need a break are
    /// re-timed in full too. `None` when this shortcut does not apply.
    pub(super) fn best_in_shift_fast(
        &self,
        st: &State,
        s: usize,
        v: usize,
        t: Option<Minute>,
        at: Option<usize>,
        blocks: &mut Vec<Block>,
    ) -> Option<Option<(f64, usize, Sched)>> {
        let p = self.p;
        let Some(view) = self.route_view(st, s, v, blocks)? else {
            return Some(None);
        };
        let (route, starts, n) = (view.route, view.starts, view.route.len());
        let visit = &p.visits[v];
        let fixed_of = |x: usize| {
            if x == v {
                t
            } else if self.anchored_row[x] {
                st.fixed.get(&x).copied()
            } else {
                None
            }
        };
        let mut best: Option<(f64, usize, Option<Sched>, f64, i64)> = None;
        let mut timed_out = false;
        let mut buf: Vec<usize> = Vec::new();
        for pos in positions(at, n) {
            if pos > 0 && starts[pos - 1] > visit.latest_start + self.tolerance {
                break;
            }
            if st.prune_wait
                && pos < n
                && starts[pos] + p.visits[route[pos]].duration < visit.earliest_start
            {
                continue;
            }
            let price = self.price_at(&view, s, v, pos);
            let start = match t {
                Some(f) if price.arrival > f => {
                    timed_out = true;
                    continue;
                }
                Some(f) => f,
                None => price.arrival.max(visit.earliest_start),
            };
            if start > price.latest_start || start < visit.earliest_start {
                timed_out = true;
                continue;
            }
            // The cost does not depend on times (a break moves times, not costs),
            // so a position that cannot beat the best one so far is not re-timed.
            let delta = match self.global_delta(&view.room, price.work) {
                Ok(d) => d,
                Err(b) => {
                    blocks.push(b);
                    continue;
                }
            };
            let cost = price.local + delta;
            if best.as_ref().is_some_and(|b| cost >= b.0) {
                continue;
            }
            // A route long enough to need a break is re-timed in full.
            let mut exact: Option<Sched> = None;
            if self.may_need_break(&view, s, v, pos, start) {
                buf.clear();
                buf.extend_from_slice(&route[..pos]);
                buf.push(v);
                buf.extend_from_slice(&route[pos..]);
                let Some(sched) = self.simulate(s, &buf, &fixed_of) else {
                    timed_out = true;
                    continue;
                };
                debug_assert!((sched.local_cost - view.old_cost - price.local).abs() < 1e-6);
                debug_assert_eq!(sched.work - view.old_work, price.work);
                exact = Some(sched);
            }
            best = Some((cost, pos, exact, price.local, price.work));
        }
        if timed_out {
            blocks.push(Block::Time);
        }
        let Some((cost, pos, exact, local, work)) = best else {
            return Some(None);
        };
        // Most positions found here are never applied (another shift or visit
        // wins), so the chosen one is timed only when applied (`Part::apply`).
        let sched = exact.unwrap_or(Sched {
            starts: Vec::new(),
            local_cost: view.old_cost + local,
            work: view.old_work + work,
            // The shortcut holds with hard windows only, where nothing is late.
            max_late: 0,
            slack: std::sync::OnceLock::new(),
        });
        Some(Some((cost, pos, sched)))
    }

    /// Cheapest way to insert `v`: `(cost, [(shift, pos, sched)], fixed start)`.
    pub fn best_insertion(
        &self,
        st: &State,
        v: usize,
        blocks: &mut Vec<Block>,
    ) -> Option<Insertion> {
        self.best_insertion_among(st, v, blocks, &|_| true)
    }

    /// [`Part::best_insertion`] on the shifts of carers `allow` accepts only
    /// (pinned visits ignore the filter: their carers are given).
    pub fn best_insertion_among(
        &self,
        st: &State,
        v: usize,
        blocks: &mut Vec<Block>,
        allow: &dyn Fn(usize) -> bool,
    ) -> Option<Insertion> {
        let p = self.p;
        let cands = self.candidates.get(&v)?;
        let anchored = self.anchored(v);
        let (lo, hi, avoid) = self.link_bounds(st, v);
        if lo > hi {
            blocks.push(Block::LinkedVisit);
            return None;
        }
        if let Some((carers, t)) = self.pinned.get(&v) {
            // Pinned: exactly these carers at exactly this time.
            let mut parts = Vec::new();
            let mut cost = 0.0;
            for &c in carers {
                let s = cands.iter().copied().find(|&s| {
                    p.shifts[s].carer == c && p.shifts[s].start <= *t && p.shifts[s].end >= *t
                })?;
                let (d, pos, sched) = self.best_in_shift(st, s, v, Some(*t), None, blocks)?;
                cost += d;
                parts.push((s, pos, sched));
            }
            return Some(Insertion {
                cost,
                parts,
                fixed: Some(*t),
            });
        }
        let needed = usize::from(p.visits[v].carers_required);
        if needed == 1 {
            // (cost, shift, position, schedule, start): the `Insertion` is built
            // once, for the winner.
            let mut best: Option<(f64, usize, usize, Sched, Minute)> = None;
            for &s in cands {
                if avoid.contains(&p.shifts[s].carer) || !allow(p.shifts[s].carer) {
                    continue;
                }
                // Only a cheaper insertion than the best so far can win
                // (`cost < b.0` below), so the others are not re-timed.
                let bar = best.as_ref().map_or(f64::INFINITY, |b| b.0);
                let found = if anchored {
                    self.best_anchored_in_shift(st, s, v, lo, hi, blocks, bar)
                } else {
                    // Not anchored: the start is not fixed, so it is not needed here.
                    self.best_in_shift_below(st, s, v, None, None, blocks, bar)
                        .map(|(c, pos, sc)| (c, pos, sc, 0))
                };
                if let Some((cost, pos, sched, t)) = found
                    && best.as_ref().is_none_or(|b| cost < b.0)
                {
                    best = Some((cost, s, pos, sched, t));
                }
            }
            return best.map(|(cost, s, pos, sched, t)| Insertion {
                cost,
                parts: vec![(s, pos, sched)],
                fixed: anchored.then_some(t),
            });
        }
        // Double-handed: a start time both carers can make.
        let eligible =
            |s: &usize| !avoid.contains(&p.shifts[*s].carer) && allow(p.shifts[*s].carer);
        self.double_handed_fast(st, v, cands, &eligible, lo, hi)
            .or_else(|| self.double_handed_exhaustive(st, v, cands, &eligible, lo, hi, blocks))
    }

    /// Cheapest insertion of anchored `v` into shift `s` at the earliest start
    /// each position allows within `[lo, hi]`. With a finite `bar` (the best of
    /// the shifts priced before) only an insertion cheaper than it counts, as
    /// in [`Part::best_in_shift_below`].
    #[allow(clippy::too_many_arguments)]
    pub(super) fn best_anchored_in_shift(
        &self,
        st: &State,
        s: usize,
        v: usize,
        lo: Minute,
        hi: Minute,
        blocks: &mut Vec<Block>,
        bar: f64,
    ) -> Option<(f64, usize, Sched, Minute)> {
        if !self.p.lateness.is_hard() {
            return self.best_anchored_by_bound(st, s, v, lo, hi, blocks, bar);
        }
        self.best_anchored_scan(st, s, v, lo, hi, blocks)
    }

    /// [`Part::best_anchored_in_shift`] by re-timing every position, in
    /// position order (with hard windows each re-timing is the O(1) check of
    /// `best_in_shift_fast`); the reference the bound order is tested against.
    pub(super) fn best_anchored_scan(
        &self,
        st: &State,
        s: usize,
        v: usize,
        lo: Minute,
        hi: Minute,
        blocks: &mut Vec<Block>,
    ) -> Option<(f64, usize, Sched, Minute)> {
        let len = st.routes.get(&s).map_or(0, |r| r.len());
        let mut best: Option<(f64, usize, Sched, Minute)> = None;
        for pos in 0..=len {
            let t = self.arrival_at(st, s, pos, v).max(lo);
            if t > hi {
                blocks.push(Block::Time);
                continue;
            }
            // Only this position: the start was chosen for it (pricing every
            // position at every position's start was O(n²) per shift, a quarter of
            // the team week's insertion work).
            if let Some((cost, _, sched)) = self.best_in_shift(st, s, v, Some(t), Some(pos), blocks)
                && best.as_ref().is_none_or(|b| cost < b.0)
            {
                best = Some((cost, pos, sched, t));
            }
        }
        best
    }
}

impl Part<'_> {
    /// [`Part::best_anchored_in_shift`] with soft windows: every position's
    /// lower bound at its start (legs, carer-level terms, its own lateness and
    /// the lateness it pushes onto the stops after it, the worst-lateness
    /// term; exact up to the shift's end and the anchored stops it meets),
    /// then positions re-timed cheapest bound first until a bound is above the
    /// best found (or `bar`). Ties go to the earliest position, as in the
    /// scan in position order, so the choice is the same; only the positions
    /// re-timed differ (a position no cheaper than the best is not).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn best_anchored_by_bound(
        &self,
        st: &State,
        s: usize,
        v: usize,
        lo: Minute,
        hi: Minute,
        blocks: &mut Vec<Block>,
        bar: f64,
    ) -> Option<(f64, usize, Sched, Minute)> {
        let p = self.p;
        let route: &[usize] = st.route(s);
        let old = st.sched(s);
        let room = self.carer_room(st, p.shifts[s].carer, p.shifts[s].day, v);
        let others_late = if p.weights.worst_late_min > 0.0 {
            st.worst_late_except(&[s])
        } else {
            0
        };
        let old_late = worst_late_cost(p, others_late.max(old.map_or(0, |x| x.max_late)));
        let mut order: Vec<(f64, usize, Minute)> = Vec::with_capacity(route.len() + 1);
        for pos in 0..=route.len() {
            let t = self.arrival_at(st, s, pos, v).max(lo);
            if t > hi {
                blocks.push(Block::Time);
                continue;
            }
            let legs = self.insertion_legs(s, route, v, pos);
            let bound = match self.global_delta(&room, legs.work) {
                Ok(global) => self
                    .insertion_floor_at(s, route, old, v, pos, &legs, Some(t))
                    .map_or(f64::NEG_INFINITY, |(local, route_late)| {
                        local + global + worst_late_cost(p, others_late.max(route_late)) - old_late
                    }),
                // Left to the full check, which reports the block.
                Err(_) => f64::NEG_INFINITY,
            };
            order.push((bound, pos, t));
        }
        order.sort_unstable_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        let mut best: Option<(f64, usize, Sched, Minute)> = None;
        for (bound, pos, t) in order {
            let beat = best.as_ref().map_or(bar, |b| b.0.min(bar));
            if bound > beat + PRUNE_MARGIN {
                break;
            }
            if let Some((cost, _, sched)) = self.best_in_shift(st, s, v, Some(t), Some(pos), blocks)
            {
                debug_assert!(
                    bound <= cost + PRUNE_MARGIN,
                    "anchored insertion bound {bound} above the re-timed cost {cost}"
                );
                if best
                    .as_ref()
                    .is_none_or(|b| cost < b.0 || (cost == b.0 && pos < b.1))
                {
                    best = Some((cost, pos, sched, t));
                }
            }
        }
        best
    }
}

/// Insertion positions of a route of `n` stops to price: all, or just `at`.
pub(super) fn positions(at: Option<usize>, n: usize) -> std::ops::RangeInclusive<usize> {
    match at {
        Some(k) => k.min(n)..=k.min(n),
        None => 0..=n,
    }
}
