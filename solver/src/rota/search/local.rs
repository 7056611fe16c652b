//! Route local search: the classic edge-exchange moves that ruin-and-recreate
//! lacks, applied to improving solutions until no move improves.
//!
//! Moves (first improvement, repeated to a local optimum):
//! - **2-opt**: reverse a segment of one route;
//! - **or-opt**: move a segment of 1-3 visits elsewhere in its route (either way round);
//! - **relocate**: move a visit into another shift's route;
//! - **exchange**: swap two visits of different routes;
//! - **2-opt\*** (cross): swap the tails of two routes;
//! - **pair relocation**: both visits of a link to new places at a new common
//!   start (`pair`).
//!
//! Feasibility is the search's own: every changed route is re-timed by
//! [`Part::simulate`] (time windows, anchored starts of double-handed, linked and
//! pinned visits, breaks, shift end, capacity), and the carer-level rules
//! (daily and weekly hours, continuity caps) are re-checked on the aggregated
//! change. Anchored visits may be reordered within their route (their start is
//! fixed, so partners stay synchronised) and change carer only at their start
//! or together with their link partner (pair relocation); every other
//! moved visit must be a candidate of its new shift. The cost change is exact:
//! route-local costs, contract shortfall, distinct carers per person and the
//! worst lateness (from each route's largest lateness).

use super::{Map, Part, Sched, State};
use crate::model::Minute;
use crate::rota::rules::{self, ChangeAt};
use std::sync::Arc;
use std::time::Instant;

/// Smallest cost change counted as an improvement.
pub(super) const EPS: f64 = 1e-6;
/// Longest segment moved by or-opt.
const OR_OPT_MAX: usize = 3;
/// Most improvement rounds in one call (each round tries every move type).
const MAX_ROUNDS: usize = 50;

/// A candidate change: new visit lists of some shifts, and visits changing shift.
pub(super) struct Change {
    pub(super) routes: Vec<(usize, Vec<usize>, Sched)>,
    pub(super) moved: Vec<(usize, usize, usize)>, // (visit, from shift, to shift)
}

/// Shifts the local search works around (`None`: all).
pub(super) struct Focus(Option<Map<usize, ()>>);

impl Focus {
    pub(super) fn has(&self, s: usize) -> bool {
        self.0.as_ref().is_none_or(|m| m.contains_key(&s))
    }
    pub(super) fn add(&mut self, shifts: impl IntoIterator<Item = usize>) {
        if let Some(m) = &mut self.0 {
            m.extend(shifts.into_iter().map(|s| (s, ())));
        }
    }
}

impl Part<'_> {
    /// Improves `st` with route moves until a local optimum, `until` or the round
    /// limit. Returns whether the cost went down.
    pub fn local_search(&self, st: &mut State, until: Instant) -> bool {
        self.local_search_focused(st, until, None)
    }

    /// [`Part::local_search`] around some routes only: moves start from a visit or
    /// route of `focus` (the shifts a ruin-and-recreate step changed), and every
    /// route a move changes joins the focus. `None` searches everywhere.
    pub fn local_search_focused(
        &self,
        st: &mut State,
        until: Instant,
        focus: Option<Map<usize, ()>>,
    ) -> bool {
        let mut focus = Focus(focus);
        let mut improved = false;
        for _ in 0..MAX_ROUNDS {
            let mut round = false;
            round |= self.intra_moves(st, until, &mut focus);
            round |= self.relocate_moves(st, until, &mut focus);
            round |= self.pair_moves(st, until, &mut focus);
            round |= self.exchange_moves(st, until, &mut focus);
            round |= self.cross_moves(st, until, &mut focus);
            improved |= round;
            if !round || Instant::now() >= until {
                break;
            }
        }
        improved
    }

    /// Shifts with a route, in a fixed order (determinism).
    fn routed_shifts(st: &State) -> Vec<usize> {
        let mut v: Vec<usize> = st.routes.keys().copied().collect();
        v.sort_unstable();
        v
    }

    /// Whether `v` may move to another carer's shift.
    fn movable(&self, v: usize) -> bool {
        !self.anchored(v)
    }

    fn can_take(&self, s: usize, v: usize) -> bool {
        self.candidates.get(&v).is_some_and(|c| c.contains(&s))
    }

    /// Re-times a route; an empty route is an unused shift.
    pub(super) fn retime(&self, st: &State, s: usize, route: &[usize]) -> Option<Sched> {
        if route.is_empty() {
            return Some(Sched::default());
        }
        self.simulate(s, route, &|w| self.fixed_start(st, w))
    }

    pub(super) fn old_local(st: &State, s: usize) -> f64 {
        st.scheds.get(&s).map_or(0.0, |x| x.local_cost)
    }

    /// Exact cost change of `ch` but for the worst-lateness term (which
    /// [`Part::try_change`] adds), or `None` if it breaks hours or continuity caps.
    pub(super) fn change_delta(&self, st: &State, ch: &Change) -> Option<f64> {
        let p = self.p;
        let mut delta = 0.0;
        // Work per carer: day, week and total.
        let mut day: Map<(usize, u32), i64> = Map::default();
        let mut week: Map<(usize, u32), i64> = Map::default();
        let mut total: Map<usize, i64> = Map::default();
        for (s, _, sched) in &ch.routes {
            delta += sched.local_cost - Self::old_local(st, *s);
            let dw = sched.work - st.scheds.get(s).map_or(0, |x| x.work);
            let (c, d) = (p.shifts[*s].carer, p.shifts[*s].day);
            *day.entry((c, d)).or_default() += dw;
            *week.entry((c, p.week_of(d))).or_default() += dw;
            *total.entry(c).or_default() += dw;
        }
        // Continuity: carer-visits per (person, carer).
        let mut counts: Map<(usize, usize), i64> = Map::default();
        for &(v, from, to) in &ch.moved {
            let u = p.visits[v].service_user;
            let (cf, ct) = (p.shifts[from].carer, p.shifts[to].carer);
            if cf != ct {
                *counts.entry((u, cf)).or_default() -= 1;
                *counts.entry((u, ct)).or_default() += 1;
            }
        }
        let mut per_user: Map<usize, i64> = Map::default();
        for (&(u, c), &dn) in &counts {
            let before = st
                .seen
                .get(&u)
                .and_then(|m| m.get(&c))
                .copied()
                .unwrap_or(0);
            let after = i64::from(before) + dn;
            let change = i64::from(after > 0) - i64::from(before > 0);
            *per_user.entry(u).or_default() += change;
        }
        // The registered rules (hours, continuity cap).
        let at = ChangeAt {
            p,
            st,
            day: &day,
            week: &week,
            per_user: &per_user,
        };
        if !rules::admits_change(&at) {
            return None;
        }
        for (&c, &dw) in &total {
            let now = st.total_work.get(&c).copied().unwrap_or(0) as f64;
            delta += crate::rota::objective::contract_shortfall_cost(p, c, now + dw as f64)
                - crate::rota::objective::contract_shortfall_cost(p, c, now);
        }
        for &dd in per_user.values().filter(|&&dd| dd != 0) {
            delta += dd as f64 * p.weights.distinct_carer;
        }
        Some(delta)
    }

    /// Applies a change (already known to be feasible).
    pub(super) fn commit(&self, st: &mut State, ch: Change) {
        let p = self.p;
        for (s, route, sched) in ch.routes {
            let old_work = st.scheds.get(&s).map_or(0, |x| x.work);
            let dw = sched.work - old_work;
            let (c, d) = (p.shifts[s].carer, p.shifts[s].day);
            *st.day_work.entry((c, d)).or_default() += dw;
            *st.week_work.entry((c, p.week_of(d))).or_default() += dw;
            *st.total_work.entry(c).or_default() += dw;
            if route.is_empty() {
                st.routes.remove(&s);
                st.scheds.remove(&s);
            } else {
                st.routes.insert(s, Arc::new(route));
                st.scheds.insert(s, Arc::new(sched));
            }
        }
        for (v, from, to) in ch.moved {
            if let Some(on) = st.on.get_mut(&v) {
                for x in on.iter_mut() {
                    if *x == from {
                        *x = to;
                    }
                }
            }
            let u = p.visits[v].service_user;
            let (cf, ct) = (p.shifts[from].carer, p.shifts[to].carer);
            if cf == ct {
                continue;
            }
            let m = Arc::make_mut(st.seen.entry(u).or_default());
            if let Some(n) = m.get_mut(&cf) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    m.remove(&cf);
                }
            }
            *m.entry(ct).or_default() += 1;
        }
    }

    /// Evaluates and, if it improves, applies a change of one or two routes.
    fn try_change(
        &self,
        st: &mut State,
        routes: Vec<(usize, Vec<usize>)>,
        moved: Vec<(usize, usize, usize)>,
        focus: &mut Focus,
    ) -> bool {
        let mut scheds = Vec::with_capacity(routes.len());
        let mut local = 0.0;
        for (s, r) in routes {
            let Some(sc) = self.retime(st, s, &r) else {
                return false;
            };
            local += sc.local_cost - Self::old_local(st, s);
            scheds.push((s, r, sc));
        }
        let late: Vec<(usize, Minute)> =
            scheds.iter().map(|(s, _, sc)| (*s, sc.max_late)).collect();
        let late = self.worst_late_delta(st, &late);
        // Cheap filter: route costs must fall unless the carer-level terms can pay.
        if local + late > 0.0 && moved.is_empty() {
            return false;
        }
        let ch = Change {
            routes: scheds,
            moved,
        };
        match self.change_delta(st, &ch).map(|d| d + late) {
            Some(d) if d < -EPS => {
                focus.add(ch.routes.iter().map(|r| r.0));
                self.commit(st, ch);
                true
            }
            _ => false,
        }
    }

    /// 2-opt and or-opt inside each route.
    fn intra_moves(&self, st: &mut State, until: Instant, focus: &mut Focus) -> bool {
        let mut improved = false;
        for s in Self::routed_shifts(st) {
            if !focus.has(s) {
                continue;
            }
            loop {
                if Instant::now() >= until {
                    return improved;
                }
                let Some(route) = st.routes.get(&s).cloned() else {
                    break;
                };
                if !self.improve_route(st, s, &route, focus) {
                    break;
                }
                improved = true;
            }
        }
        improved
    }

    /// One improving 2-opt or or-opt move on route `s`, if any.
    fn improve_route(&self, st: &mut State, s: usize, route: &[usize], focus: &mut Focus) -> bool {
        let n = route.len();
        if n < 2 {
            return false;
        }
        let old = Self::old_local(st, s);
        let mut buf: Vec<usize> = Vec::with_capacity(n);
        // 2-opt: reverse route[i..=j].
        for i in 0..n - 1 {
            for j in i + 1..n {
                buf.clear();
                buf.extend_from_slice(&route[..i]);
                buf.extend(route[i..=j].iter().rev());
                buf.extend_from_slice(&route[j + 1..]);
                if self.time_free_cost(s, &buf) >= old - EPS / 2.0 {
                    continue;
                }
                if let Some(sc) = self.retime(st, s, &buf)
                    && sc.local_cost < old - EPS
                    && self.try_change(st, vec![(s, buf.clone())], Vec::new(), focus)
                {
                    return true;
                }
            }
        }
        // Or-opt: move route[i..i+len] to another place, forwards or reversed.
        for len in 1..=OR_OPT_MAX.min(n - 1) {
            for i in 0..=n - len {
                let seg = &route[i..i + len];
                let rest: Vec<usize> = route[..i]
                    .iter()
                    .chain(&route[i + len..])
                    .copied()
                    .collect();
                for k in 0..=rest.len() {
                    for rev in [false, true] {
                        if (k == i && !rev) || (rev && len == 1) {
                            continue;
                        }
                        buf.clear();
                        buf.extend_from_slice(&rest[..k]);
                        if rev {
                            buf.extend(seg.iter().rev());
                        } else {
                            buf.extend_from_slice(seg);
                        }
                        buf.extend_from_slice(&rest[k..]);
                        if self.time_free_cost(s, &buf) >= old - EPS / 2.0 {
                            continue;
                        }
                        if let Some(sc) = self.retime(st, s, &buf)
                            && sc.local_cost < old - EPS
                            && self.try_change(st, vec![(s, buf.clone())], Vec::new(), focus)
                        {
                            return true;
                        }
                    }
                }
            }
        }
        false
    }

    /// Whether `v` may move to another carer's shift at the start it has: a
    /// single-carer visit linked to others (e.g. one of the two services of a
    /// synchronised double service). Its partners keep their times, so the
    /// link still holds; only carers the link keeps apart are ruled out.
    fn movable_at_its_time(&self, v: usize) -> bool {
        self.p.visits[v].carers_required == 1
            && self.links_of.contains_key(&v)
            && !self.pinned.contains_key(&v)
    }

    /// Moves single movable visits to the best place in another candidate shift
    /// (linked visits at the start they have, see [`Part::movable_at_its_time`]).
    fn relocate_moves(&self, st: &mut State, until: Instant, focus: &mut Focus) -> bool {
        let mut improved = false;
        let mut visits: Vec<usize> = st
            .on
            .keys()
            .copied()
            .filter(|&v| self.movable(v) || self.movable_at_its_time(v))
            .collect();
        visits.sort_unstable();
        for (n, v) in visits.into_iter().enumerate() {
            if n % 16 == 0 && Instant::now() >= until {
                break;
            }
            let Some(&a) = st.on.get(&v).and_then(|x| x.first()) else {
                continue;
            };
            if !focus.has(a) {
                continue;
            }
            let Some(route_a) = st.routes.get(&a) else {
                continue;
            };
            let without: Vec<usize> = route_a.iter().copied().filter(|&x| x != v).collect();
            let Some(sched_a) = self.retime(st, a, &without) else {
                continue;
            };
            let gain = Self::old_local(st, a) - sched_a.local_cost;
            let mut cands = self.move_targets(st, v, a);
            if !self.movable(v) {
                if !st.fixed.contains_key(&v) {
                    continue; // no start to keep
                }
                let (_, _, avoid) = self.link_bounds(st, v);
                cands.retain(|&b| !avoid.contains(&self.p.shifts[b].carer));
            }
            let visit = &self.p.visits[v];
            let mut best: Option<(f64, usize, Vec<usize>)> = None;
            for b in cands {
                let route_b = st.routes.get(&b).cloned().unwrap_or_default();
                let old_b = Self::old_local(st, b);
                let sched_b = st.sched(b);
                for pos in 0..=route_b.len() {
                    if let Some(sc) = sched_b {
                        if pos > 0 && sc.starts[pos - 1] > visit.latest_start + self.tolerance {
                            break;
                        }
                        if st.prune_wait
                            && pos < route_b.len()
                            && sc.starts[pos] + self.p.visits[route_b[pos]].duration
                                < visit.earliest_start
                        {
                            continue;
                        }
                    }
                    if let Some(x) = best.as_ref()
                        && let legs = self.insertion_legs(b, &route_b, v, pos)
                        && let Some((floor, _)) =
                            self.insertion_floor(b, &route_b, sched_b, v, pos, &legs)
                        && floor - gain >= x.0 + EPS / 2.0
                    {
                        continue;
                    }
                    let mut r = route_b.to_vec();
                    r.insert(pos, v);
                    let Some(sc) = self.retime(st, b, &r) else {
                        continue;
                    };
                    let d = sc.local_cost - old_b - gain;
                    if best.as_ref().is_none_or(|x| d < x.0) {
                        best = Some((d, b, r));
                    }
                }
            }
            // Route costs alone rarely pay for carer-level costs; check exactly.
            if let Some((d, b, r)) = best
                && d < p_slack(self)
                && self.try_change(st, vec![(a, without), (b, r)], vec![(v, a, b)], focus)
            {
                improved = true;
            }
        }
        improved
    }

    /// Swaps two movable visits of different routes, each taking the other's place.
    fn exchange_moves(&self, st: &mut State, until: Instant, focus: &mut Focus) -> bool {
        let mut improved = false;
        let mut visits: Vec<usize> = st.on.keys().copied().filter(|&v| self.movable(v)).collect();
        visits.sort_unstable();
        for (n, v) in visits.into_iter().enumerate() {
            if n % 16 == 0 && Instant::now() >= until {
                break;
            }
            let Some(&a) = st.on.get(&v).and_then(|x| x.first()) else {
                continue;
            };
            let cands = self.move_targets(st, v, a);
            'shifts: for b in cands {
                if !focus.has(a) && !focus.has(b) {
                    continue;
                }
                let Some(route_b) = st.routes.get(&b).cloned() else {
                    continue;
                };
                for (j, &w) in route_b.iter().enumerate() {
                    if w < v || !self.movable(w) || !self.can_take(a, w) {
                        continue; // each pair once (smaller visit first) when both can move
                    }
                    if !self.windows_overlap(v, w) {
                        continue;
                    }
                    let Some(route_a) = st.routes.get(&a) else {
                        break 'shifts;
                    };
                    let Some(i) = route_a.iter().position(|&x| x == v) else {
                        break 'shifts;
                    };
                    let mut ra = route_a.to_vec();
                    ra[i] = w;
                    let mut rb = route_b.to_vec();
                    rb[j] = v;
                    if self.try_change(
                        st,
                        vec![(a, ra), (b, rb)],
                        vec![(v, a, b), (w, b, a)],
                        focus,
                    ) {
                        improved = true;
                        break 'shifts;
                    }
                }
            }
        }
        improved
    }

    /// Whether two visits' start windows overlap (a swap can only work then).
    fn windows_overlap(&self, v: usize, w: usize) -> bool {
        let (x, y) = (&self.p.visits[v], &self.p.visits[w]);
        x.earliest_start <= y.latest_start + self.tolerance
            && y.earliest_start <= x.latest_start + self.tolerance
    }

    /// 2-opt*: routes `a` and `b` swap their tails after positions `i` and `j`.
    fn cross_moves(&self, st: &mut State, until: Instant, focus: &mut Focus) -> bool {
        let p = self.p;
        let mut improved = false;
        let shifts = Self::routed_shifts(st);
        for (x, &a) in shifts.iter().enumerate() {
            // On granular parts only routes holding a near visit of one of a's.
            let near_a = self
                .is_granular()
                .then(|| self.shifts_near(st, st.route(a)));
            for &b in &shifts[x + 1..] {
                if p.shifts[a].day != p.shifts[b].day || (!focus.has(a) && !focus.has(b)) {
                    continue;
                }
                if near_a.as_ref().is_some_and(|m| !m.contains_key(&b)) {
                    continue;
                }
                if Instant::now() >= until {
                    return improved;
                }
                let (Some(ra), Some(rb)) = (st.routes.get(&a), st.routes.get(&b)) else {
                    continue;
                };
                let (ra, rb) = (ra.clone(), rb.clone());
                // Tails that may move: suffixes of movable visits the other shift can take.
                let tail_from = |r: &[usize], to: usize| -> usize {
                    let mut k = r.len();
                    while k > 0 && self.movable(r[k - 1]) && self.can_take(to, r[k - 1]) {
                        k -= 1;
                    }
                    k
                };
                let (fa, fb) = (tail_from(&ra, b), tail_from(&rb, a));
                let ends = |s: usize, r: &[usize]| -> Vec<Minute> {
                    st.scheds.get(&s).map_or_else(Vec::new, |sc| {
                        sc.starts
                            .iter()
                            .zip(r)
                            .map(|(t, &v)| t + p.visits[v].duration)
                            .collect()
                    })
                };
                let (ea, eb) = (ends(a, &ra), ends(b, &rb));
                'pairs: for i in fa..=ra.len() {
                    for j in fb..=rb.len() {
                        if (i == ra.len() && j == rb.len()) || (i == 0 && j == 0) {
                            continue;
                        }
                        // Time prune: each kept prefix must end before the new tail can start.
                        if i > 0
                            && j < rb.len()
                            && ea
                                .get(i - 1)
                                .is_some_and(|&e| e > p.visits[rb[j]].latest_start + self.tolerance)
                        {
                            continue;
                        }
                        if j > 0
                            && i < ra.len()
                            && eb
                                .get(j - 1)
                                .is_some_and(|&e| e > p.visits[ra[i]].latest_start + self.tolerance)
                        {
                            continue;
                        }
                        let na: Vec<usize> = ra[..i].iter().chain(&rb[j..]).copied().collect();
                        let nb: Vec<usize> = rb[..j].iter().chain(&ra[i..]).copied().collect();
                        let moved: Vec<(usize, usize, usize)> = ra[i..]
                            .iter()
                            .map(|&v| (v, a, b))
                            .chain(rb[j..].iter().map(|&v| (v, b, a)))
                            .collect();
                        if self.try_change(st, vec![(a, na), (b, nb)], moved, focus) {
                            improved = true;
                            break 'pairs;
                        }
                    }
                }
            }
        }
        improved
    }
}

/// Route-cost change below which a relocation is checked exactly: a move may
/// raise route costs a little and still pay through fewer distinct carers.
fn p_slack(part: &Part) -> f64 {
    part.p.weights.distinct_carer
}

/// Start of visit `v` in a state (for tests).
#[cfg(test)]
pub(crate) fn start_of(st: &State, s: usize, v: usize) -> Option<Minute> {
    let pos = st.routes.get(&s)?.iter().position(|&x| x == v)?;
    st.scheds.get(&s)?.starts.get(pos).copied()
}
