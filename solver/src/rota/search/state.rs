//! The mutable search state (routes, schedules, per-carer work and per-person
//! carers seen) and the operations that change it: applying an insertion,
//! removing visits, and converting to and from pool routes.

use super::{Insertion, Map, Part};
use crate::model::Minute;
use crate::rota::objective::{contract_shortfall_cost, unplaced_penalty, worst_late_cost};
use crate::rota::pool::PoolRoute;
use std::sync::Arc;

/// The shifts a visit is on: one, or two for a double-handed visit (the model
/// allows no more). Inline, so cloning a state, which the search does every
/// iteration, allocates nothing per visit. A free slot holds `usize::MAX` (no
/// separate length), so a map entry is 24 bytes, not 32: the search copies the
/// whole per-visit map into its candidate every iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OnShifts {
    shifts: [usize; 2],
}

impl Default for OnShifts {
    fn default() -> Self {
        OnShifts {
            shifts: [usize::MAX; 2],
        }
    }
}

impl OnShifts {
    pub fn push(&mut self, s: usize) {
        let len = self.used();
        self.shifts[len] = s;
    }
    pub fn as_slice(&self) -> &[usize] {
        &self.shifts[..self.used()]
    }
    /// Slots in use (the second is filled only after the first).
    fn used(&self) -> usize {
        usize::from(self.shifts[0] != usize::MAX) + usize::from(self.shifts[1] != usize::MAX)
    }
}

impl std::ops::Deref for OnShifts {
    type Target = [usize];
    fn deref(&self) -> &[usize] {
        self.as_slice()
    }
}

impl std::ops::DerefMut for OnShifts {
    fn deref_mut(&mut self) -> &mut [usize] {
        let len = self.used();
        &mut self.shifts[..len]
    }
}

/// A scheduled route.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sched {
    pub starts: Vec<Minute>,
    pub local_cost: f64,
    pub work: i64,
    /// Largest lateness of any stop (0 when none is late): the objective's
    /// worst-lateness term is the largest of these over the routes.
    pub max_late: Minute,
    /// For the fast insertion check: the latest start of each stop, or `None`
    /// when the route is not timed as early as possible (a break in it). Filled on
    /// first use; a changed route always gets a new `Sched`, so it never goes stale,
    /// and states sharing the `Sched` (see [`State`]) share the filled value. A
    /// `OnceLock` (not a `OnceCell`) so that `Arc<Sched>` is `Send`.
    pub slack: std::sync::OnceLock<Option<Vec<Minute>>>,
}

/// Mutable search state.
///
/// The search copies the state every iteration (the candidate) but changes only
/// a few routes, schedules and people's carers in it, so these are shared
/// between copies and copied on write (`Arc::make_mut`, or a new `Arc` for a
/// changed route). The maps themselves are copied as they are (a clone of a
/// hash map keeps its layout, so its iteration order too): results do not
/// depend on the sharing.
pub(crate) struct State {
    /// Per shift (problem index): visits in order.
    pub routes: Map<usize, Arc<Vec<usize>>>,
    /// Per shift: schedule.
    pub scheds: Map<usize, Arc<Sched>>,
    /// Per visit: shifts it is on.
    pub on: Map<usize, OnShifts>,
    /// Anchored visits' fixed start.
    pub fixed: Map<usize, Minute>,
    /// Per service user: carer -> carer-visits.
    pub seen: Map<usize, Arc<Map<usize, u32>>>,
    /// Per (carer, day) and (carer, week): paid minutes.
    pub day_work: Map<(usize, u32), i64>,
    pub week_work: Map<(usize, u32), i64>,
    pub total_work: Map<usize, i64>,
    pub unplaced: Vec<usize>,
    /// Skip insertions that make a carer wait for the new visit before a stop it
    /// could have done first. Idle time costs nothing in the objective but uses up
    /// shifts, so this holds while visits are left unplaced (placing them comes
    /// first); with everything placed, the search looks at every position.
    pub prune_wait: bool,
}

impl Clone for State {
    fn clone(&self) -> Self {
        State {
            routes: self.routes.clone(),
            scheds: self.scheds.clone(),
            on: self.on.clone(),
            fixed: self.fixed.clone(),
            seen: self.seen.clone(),
            day_work: self.day_work.clone(),
            week_work: self.week_work.clone(),
            total_work: self.total_work.clone(),
            unplaced: self.unplaced.clone(),
            prune_wait: self.prune_wait,
        }
    }

    /// Field by field, reusing this state's allocations. A hash map's
    /// `clone_from` copies the source's table as `clone` does (same buckets,
    /// same control bytes), so the copy iterates in the same order.
    fn clone_from(&mut self, source: &Self) {
        self.routes.clone_from(&source.routes);
        self.scheds.clone_from(&source.scheds);
        self.on.clone_from(&source.on);
        self.fixed.clone_from(&source.fixed);
        self.seen.clone_from(&source.seen);
        self.day_work.clone_from(&source.day_work);
        self.week_work.clone_from(&source.week_work);
        self.total_work.clone_from(&source.total_work);
        self.unplaced.clone_from(&source.unplaced);
        self.prune_wait = source.prune_wait;
    }
}

impl State {
    /// Shift `s`'s visits in order (empty when it has no route).
    pub fn route(&self, s: usize) -> &[usize] {
        self.routes.get(&s).map_or(&[][..], |r| r.as_slice())
    }

    /// Shift `s`'s schedule, if it has a route.
    pub fn sched(&self, s: usize) -> Option<&Sched> {
        self.scheds.get(&s).map(|x| &**x)
    }

    pub fn cost(&self, part: &Part) -> f64 {
        let p = part.p;
        let routes: f64 = self.scheds.values().map(|s| s.local_cost).sum();
        let unplaced: f64 = self.unplaced.iter().map(|&v| unplaced_penalty(p, v)).sum();
        let continuity: f64 = self
            .seen
            .values()
            .map(|m| m.len() as f64 * p.weights.distinct_carer)
            .sum();
        let contract: f64 = part
            .carers
            .iter()
            .map(|&c| {
                contract_shortfall_cost(p, c, self.total_work.get(&c).copied().unwrap_or(0) as f64)
            })
            .sum();
        let total = routes + unplaced + continuity + contract;
        if p.weights.worst_late_min > 0.0 {
            total + worst_late_cost(p, self.worst_late_except(&[]))
        } else {
            total
        }
    }

    /// Largest lateness over the routes of every shift but `skip`.
    pub fn worst_late_except(&self, skip: &[usize]) -> Minute {
        self.scheds
            .iter()
            .filter(|(s, _)| !skip.contains(s))
            .map(|(_, x)| x.max_late)
            .max()
            .unwrap_or(0)
            .max(0)
    }
}

impl Part<'_> {
    /// Exact change of the worst-lateness term when the routes of the given
    /// shifts get the given largest lateness and every other route stays as it
    /// is. O(routes); 0 without the term.
    pub fn worst_late_delta(&self, st: &State, changed: &[(usize, Minute)]) -> f64 {
        let p = self.p;
        if p.weights.worst_late_min <= 0.0 {
            return 0.0;
        }
        let shifts: Vec<usize> = changed.iter().map(|c| c.0).collect();
        let others = st.worst_late_except(&shifts);
        let old = shifts
            .iter()
            .filter_map(|s| st.scheds.get(s))
            .map(|x| x.max_late)
            .fold(others, Minute::max);
        let new = changed.iter().map(|c| c.1).fold(others, Minute::max);
        worst_late_cost(p, new) - worst_late_cost(p, old)
    }

    /// Applies an insertion.
    pub fn apply(&self, st: &mut State, v: usize, mut ins: Insertion) {
        let p = self.p;
        // Time the parts priced without a schedule (see `best_in_shift_fast`). If
        // one cannot be timed after all, `v` stays unplaced and the state unchanged.
        // The new route timed here becomes the shift's route below (a visit has at
        // most two parts; see `OnShifts`).
        let mut timed_routes: [Option<Vec<usize>>; 2] = [None, None];
        for (i, (s, pos, sched)) in ins.parts.iter_mut().enumerate() {
            if !sched.starts.is_empty() {
                continue;
            }
            let route = st.route(*s);
            let at = (*pos).min(route.len());
            let mut buf = Vec::with_capacity(route.len() + 1);
            buf.extend_from_slice(&route[..at]);
            buf.push(v);
            buf.extend_from_slice(&route[at..]);
            let fixed_of = |x: usize| {
                if x == v {
                    ins.fixed
                } else if self.anchored_row[x] {
                    st.fixed.get(&x).copied()
                } else {
                    None
                }
            };
            let Some(timed) = self.simulate(*s, &buf, &fixed_of) else {
                return;
            };
            *sched = timed;
            if let Some(slot) = timed_routes.get_mut(i) {
                *slot = Some(buf);
            }
        }
        for (i, (s, pos, sched)) in ins.parts.into_iter().enumerate() {
            let c = p.shifts[s].carer;
            let day = p.shifts[s].day;
            let old_work = st.scheds.get(&s).map_or(0, |x| x.work);
            let dw = sched.work - old_work;
            *st.day_work.entry((c, day)).or_default() += dw;
            *st.week_work.entry((c, p.week_of(day))).or_default() += dw;
            *st.total_work.entry(c).or_default() += dw;
            let route = st.routes.entry(s).or_default();
            let at = pos.min(route.len());
            if let Some(r) = timed_routes.get_mut(i).and_then(Option::take) {
                *route = Arc::new(r);
            } else {
                Arc::make_mut(route).insert(at, v);
            }
            st.scheds.insert(s, Arc::new(sched));
            st.on.entry(v).or_default().push(s);
            *Arc::make_mut(st.seen.entry(p.visits[v].service_user).or_default())
                .entry(c)
                .or_default() += 1;
        }
        if let Some(t) = ins.fixed {
            st.fixed.insert(v, t);
        }
        st.unplaced.retain(|&u| u != v);
    }

    /// Removes `v` from every route it is on and marks it unplaced. Returns false if a route
    /// could not be re-timed (then the caller must not keep this state).
    pub fn remove(&self, st: &mut State, v: usize) -> bool {
        self.remove_all(st, &[v])
    }

    /// [`Part::remove`] for several visits, re-timing each route they leave once.
    pub fn remove_all(&self, st: &mut State, visits: &[usize]) -> bool {
        let p = self.p;
        let mut touched: Vec<usize> = Vec::new();
        for &v in visits {
            let shifts = st.on.remove(&v).unwrap_or_default();
            st.fixed.remove(&v);
            let u = p.visits[v].service_user;
            for &s in shifts.iter() {
                touched.push(s);
                let c = p.shifts[s].carer;
                if let Some(m) = st.seen.get_mut(&u) {
                    if m.contains_key(&c) {
                        let m = Arc::make_mut(m);
                        if let Some(n) = m.get_mut(&c) {
                            *n -= 1;
                            if *n == 0 {
                                m.remove(&c);
                            }
                        }
                    }
                    if m.is_empty() {
                        st.seen.remove(&u);
                    }
                }
            }
            if !st.unplaced.contains(&v) {
                st.unplaced.push(v);
            }
        }
        touched.sort_unstable();
        touched.dedup();
        let mut ok = true;
        for s in touched {
            let Some(route) = st.routes.get(&s) else {
                continue;
            };
            let route: Vec<usize> = route
                .iter()
                .copied()
                .filter(|x| !visits.contains(x))
                .collect();
            let sched = if route.is_empty() {
                Some(Sched::default())
            } else {
                let st = &*st;
                self.simulate(s, &route, &|w| self.fixed_start(st, w))
            };
            let Some(sched) = sched else {
                ok = false;
                continue;
            };
            let (c, day) = (p.shifts[s].carer, p.shifts[s].day);
            let dw = sched.work - st.scheds.get(&s).map_or(0, |x| x.work);
            *st.day_work.entry((c, day)).or_default() += dw;
            *st.week_work.entry((c, p.week_of(day))).or_default() += dw;
            *st.total_work.entry(c).or_default() += dw;
            if route.is_empty() {
                st.routes.remove(&s);
                st.scheds.remove(&s);
            } else {
                st.routes.insert(s, Arc::new(route));
                st.scheds.insert(s, Arc::new(sched));
            }
        }
        ok
    }

    /// Routes of the state as pool entries.
    pub fn pool_routes(&self, st: &State) -> Vec<PoolRoute> {
        let mut out: Vec<PoolRoute> = st
            .routes
            .iter()
            .filter_map(|(&s, visits)| {
                let sc = st.scheds.get(&s)?;
                Some(PoolRoute {
                    shift: s,
                    stops: visits
                        .iter()
                        .copied()
                        .zip(sc.starts.iter().copied())
                        .collect(),
                    local_cost: sc.local_cost,
                    work_min: sc.work,
                })
            })
            .collect();
        out.sort_by_key(|r| r.shift);
        out
    }

    /// A state holding exactly these routes (from the MILP); `None` if one cannot be re-timed.
    pub fn state_from_routes(&self, routes: &[PoolRoute]) -> Option<State> {
        let p = self.p;
        let mut st = self.empty_state();
        for r in routes {
            for &(v, t) in &r.stops {
                if self.anchored(v) {
                    st.fixed.insert(v, t);
                }
            }
        }
        for r in routes {
            let visits: Vec<usize> = r.stops.iter().map(|x| x.0).collect();
            let sched = self.simulate(r.shift, &visits, &|w| st.fixed.get(&w).copied())?;
            let c = p.shifts[r.shift].carer;
            let day = p.shifts[r.shift].day;
            *st.day_work.entry((c, day)).or_default() += sched.work;
            *st.week_work.entry((c, p.week_of(day))).or_default() += sched.work;
            *st.total_work.entry(c).or_default() += sched.work;
            for &v in &visits {
                st.on.entry(v).or_default().push(r.shift);
                *Arc::make_mut(st.seen.entry(p.visits[v].service_user).or_default())
                    .entry(c)
                    .or_default() += 1;
            }
            st.routes.insert(r.shift, Arc::new(visits));
            st.scheds.insert(r.shift, Arc::new(sched));
        }
        st.unplaced = self
            .visits
            .iter()
            .copied()
            .filter(|v| !st.on.contains_key(v))
            .collect();
        Some(st)
    }

    pub fn empty_state(&self) -> State {
        State {
            routes: Map::default(),
            scheds: Map::default(),
            on: Map::default(),
            fixed: Map::default(),
            seen: Map::default(),
            day_work: Map::default(),
            week_work: Map::default(),
            total_work: Map::default(),
            unplaced: self.visits.clone(),
            prune_wait: true,
        }
    }
}
