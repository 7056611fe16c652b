//! Route search over one independent part of the problem: cheapest-insertion
//! construction, then ruin-and-recreate large neighbourhood search.
//!
//! A route is one carer shift's visits in order. Start times are as early as
//! possible, except *anchored* visits (double-handed or linked), whose start is
//! fixed when they are inserted so partners stay synchronised; a later
//! insertion may not push an anchored visit.

use super::objective::{
    carer_visit_cost, contract_shortfall_cost, lateness_cost, unplaced_penalty,
};
use super::pool::PoolRoute;
use crate::format::TravelMode;
use crate::model::{LocIdx, Minute, Problem};
use crate::travel::TravelMatrix;
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::time::Instant;

mod bound;
#[cfg(test)]
mod construct_tests;
mod local;
#[cfg(test)]
mod local_tests;
mod person_first;
mod repair;
#[cfg(test)]
mod repair_tests;
mod sequential;

/// A hash map for the search's index keys (visits, shifts, carers, days): a
/// multiply-rotate hasher instead of SipHash, which dominated lookups in
/// profiles. Keys are internal indices, never outside input, so hash flooding
/// is not a concern; iteration order is also the same on every run.
pub(crate) type Map<K, V> = HashMap<K, V, BuildHasherDefault<IndexHasher>>;

/// The hasher of [`Map`]: one multiply and rotate per integer written.
#[derive(Default, Clone, Copy)]
pub(crate) struct IndexHasher(u64);

impl IndexHasher {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    fn add(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(26) ^ x).wrapping_mul(Self::K);
    }
}

impl Hasher for IndexHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.add(u64::from(b));
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

/// Most visits recreated by regret insertion (it costs O(visits²) insertions;
/// larger ruins use greedy insertion).
const REGRET_MAX: usize = 15;

/// Static data for one part of the problem.
pub(crate) struct Part<'a> {
    pub p: &'a Problem,
    /// Visits of this part.
    pub visits: Vec<usize>,
    /// Shifts of this part.
    pub shifts: Vec<usize>,
    /// Problem location -> matrix row (`usize::MAX` when not in this part).
    loc_row: Vec<usize>,
    /// One matrix per travel mode used.
    mats: Vec<(TravelMode, TravelMatrix)>,
    /// Carer -> index into `mats`.
    carer_mat: Vec<usize>,
    /// Per visit: shifts that could do it (eligible carer, overlapping time).
    pub candidates: Map<usize, Vec<usize>>,
    /// Per visit: links it takes part in.
    links_of: Map<usize, Vec<usize>>,
    /// Per visit: carers on the published rota (for the stability cost).
    existing_carers: Vec<Option<Vec<usize>>>,
    /// Pinned visits: carers and start.
    pub pinned: Map<usize, (Vec<usize>, Minute)>,
    tolerance: Minute,
    /// Carers of this part's shifts, sorted.
    carers: Vec<usize>,
    /// Problem visit -> dense index in `visits` (`u32::MAX` when not in this part).
    visit_row: Vec<u32>,
    /// Problem carer -> dense index in `carers` (`u32::MAX` when not in this part).
    carer_row: Vec<u32>,
    /// Carer-specific cost of each (carer, visit) of the part, carer-major.
    visit_costs: Vec<f64>,
    /// Per problem visit: double-handed, linked or pinned (its start is fixed once placed).
    anchored_row: Vec<bool>,
    /// Granular neighbourhoods (Toth & Vigo 2003), only on parts with many
    /// interchangeable shifts: per dense visit row, the [`GRANULAR_K`] visits of
    /// the same day nearest in travel and time. Route local search then moves a
    /// visit only to shifts holding one of them. Empty on smaller parts (a team's
    /// week), where every candidate shift is tried.
    near: Vec<Vec<usize>>,
}

/// Parts whose visits have more candidate shifts than this on average get
/// granular local search (see [`Part::near`]); 100-customer Solomon instances
/// (25 vehicles) and team rotas (~10 carers a day) stay exhaustive.
const GRANULAR_MIN_SHIFTS: usize = 40;
/// Neighbours per visit in a granular neighbourhood.
const GRANULAR_K: usize = 20;

impl<'a> Part<'a> {
    pub fn new(p: &'a Problem, visits: Vec<usize>, shifts: Vec<usize>) -> Self {
        let mut locs: Vec<LocIdx> = Vec::new();
        for &s in &shifts {
            locs.push(p.shifts[s].start_loc);
            locs.push(p.shifts[s].end_loc);
        }
        locs.extend(visits.iter().map(|&v| p.visits[v].location));
        locs.sort_unstable();
        locs.dedup();
        let mut loc_row = vec![usize::MAX; p.locations.len()];
        for (i, &l) in locs.iter().enumerate() {
            loc_row[l] = i;
        }
        let points: Vec<_> = locs.iter().map(|&l| p.locations[l]).collect();
        let mut mats: Vec<(TravelMode, TravelMatrix)> = Vec::new();
        let mut carer_mat = vec![0; p.carers.len()];
        for &s in &shifts {
            let c = p.shifts[s].carer;
            let mode = p.carers[c].mode;
            let idx = match mats.iter().position(|(m, _)| *m == mode) {
                Some(i) => i,
                None => {
                    mats.push((mode, p.travel.matrix(&points, mode)));
                    mats.len() - 1
                }
            };
            carer_mat[c] = idx;
        }
        let tolerance = p.lateness.tolerance();
        let mut candidates = Map::default();
        for &v in &visits {
            let visit = &p.visits[v];
            let lo = visit.earliest_start;
            let hi = visit.latest_start + tolerance + visit.duration;
            let list: Vec<usize> = shifts
                .iter()
                .copied()
                .filter(|&s| {
                    let sh = &p.shifts[s];
                    sh.start < hi && sh.end > lo && p.eligibility(sh.carer, v).is_ok()
                })
                .collect();
            candidates.insert(v, list);
        }
        let mut links_of: Map<usize, Vec<usize>> = Map::default();
        for (l, link) in p.links.iter().enumerate() {
            links_of.entry(link.first).or_default().push(l);
            links_of.entry(link.then).or_default().push(l);
        }
        let mut existing_carers = vec![None; p.visits.len()];
        let mut pinned = Map::default();
        for e in &p.existing {
            existing_carers[e.visit] = Some(e.carers.clone());
            if e.pinned
                && let Some(t) = e.start
            {
                pinned.insert(e.visit, (e.carers.clone(), t));
            }
        }
        let mut carers: Vec<usize> = shifts.iter().map(|&s| p.shifts[s].carer).collect();
        carers.sort_unstable();
        carers.dedup();
        let mut visit_row = vec![u32::MAX; p.visits.len()];
        for (i, &v) in visits.iter().enumerate() {
            visit_row[v] = i as u32;
        }
        let mut carer_row = vec![u32::MAX; p.carers.len()];
        for (i, &c) in carers.iter().enumerate() {
            carer_row[c] = i as u32;
        }
        let visit_costs: Vec<f64> = carers
            .iter()
            .flat_map(|&c| visits.iter().map(move |&v| (c, v)).collect::<Vec<_>>())
            .map(|(c, v)| carer_visit_cost(p, c, v, existing_carers[v].as_deref()))
            .collect();
        let anchored_row = (0..p.visits.len())
            .map(|v| {
                p.visits[v].carers_required > 1
                    || links_of.contains_key(&v)
                    || pinned.contains_key(&v)
            })
            .collect();
        let mut part = Part {
            near: Vec::new(),
            anchored_row,
            carers,
            visit_row,
            carer_row,
            visit_costs,
            p,
            visits,
            shifts,
            loc_row,
            mats,
            carer_mat,
            candidates,
            links_of,
            existing_carers,
            pinned,
            tolerance,
        };
        let options: usize = part.candidates.values().map(Vec::len).sum();
        if options > GRANULAR_MIN_SHIFTS * part.visits.len() {
            part.near = part.nearest_visits();
        }
        part
    }

    /// Per dense visit row: the [`GRANULAR_K`] visits of the same day that are
    /// nearest by travel plus the idle time their windows force between them.
    fn nearest_visits(&self) -> Vec<Vec<usize>> {
        let p = self.p;
        let c0 = p.shifts[self.shifts[0]].carer;
        let mut by_day: Map<u32, Vec<usize>> = Map::default();
        for &v in &self.visits {
            by_day.entry(p.visits[v].day).or_default().push(v);
        }
        self.visits
            .iter()
            .map(|&v| {
                let a = &p.visits[v];
                let mut scored: Vec<(i64, usize)> = by_day[&a.day]
                    .iter()
                    .filter(|&&w| w != v)
                    .map(|&w| {
                        let b = &p.visits[w];
                        let leg = self
                            .travel(c0, a.location, b.location)
                            .min(self.travel(c0, b.location, a.location));
                        // Idle time if one must follow the other: w after v, or v after w.
                        let after = (b.earliest_start - (a.latest_start + a.duration)).max(0);
                        let before = (a.earliest_start - (b.latest_start + b.duration)).max(0);
                        (i64::from(leg) + i64::from(after.min(before)), w)
                    })
                    .collect();
                let k = GRANULAR_K.min(scored.len());
                if k < scored.len() {
                    scored.select_nth_unstable(k);
                    scored.truncate(k);
                }
                scored.sort_unstable();
                scored.into_iter().map(|x| x.1).collect()
            })
            .collect()
    }

    /// `v`'s granular neighbours (empty unless the part [`Part::is_granular`]).
    pub(crate) fn near_of(&self, v: usize) -> &[usize] {
        let row = self.visit_row.get(v).copied().unwrap_or(u32::MAX) as usize;
        self.near.get(row).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Shifts holding a granular neighbour of any of `visits`.
    pub(crate) fn shifts_near(&self, st: &State, visits: &[usize]) -> Map<usize, ()> {
        let mut shifts = Map::default();
        for &v in visits {
            for w in self.near_of(v) {
                if let Some(on) = st.on.get(w) {
                    shifts.extend(on.iter().map(|&s| (s, ())));
                }
            }
        }
        shifts
    }

    /// Shifts other than `from` that route local search tries for visit `v`:
    /// every candidate shift, or on granular parts those holding one of `v`'s
    /// nearest visits or a visit of the same person (continuity).
    fn move_targets(&self, st: &State, v: usize, from: usize) -> Vec<usize> {
        let all = self.candidates.get(&v).map(Vec::as_slice).unwrap_or(&[]);
        if !self.is_granular() {
            return all.iter().copied().filter(|&b| b != from).collect();
        }
        let keep = self.shifts_near(st, &[v]);
        let seen = st.seen.get(&self.p.visits[v].service_user);
        all.iter()
            .copied()
            .filter(|&b| {
                b != from
                    && (keep.contains_key(&b)
                        || seen.is_some_and(|m| m.contains_key(&self.p.shifts[b].carer)))
            })
            .collect()
    }

    fn travel(&self, carer: usize, from: LocIdx, to: LocIdx) -> Minute {
        let m = self.carer_mat.get(carer).copied().unwrap_or(0);
        let a = self.loc_row.get(from).copied().unwrap_or(usize::MAX);
        let b = self.loc_row.get(to).copied().unwrap_or(usize::MAX);
        match self.mats.get(m) {
            Some((_, mat)) if a != usize::MAX && b != usize::MAX => mat.minutes(a, b) as Minute,
            _ => self.p.leg(carer, from, to).minutes as Minute,
        }
    }

    /// Carer-specific cost of carer `c` making visit `v` (from the table when both are in the part).
    fn visit_cost(&self, c: usize, v: usize) -> f64 {
        let cr = self.carer_row.get(c).copied().unwrap_or(u32::MAX);
        let vr = self.visit_row.get(v).copied().unwrap_or(u32::MAX);
        if cr != u32::MAX && vr != u32::MAX {
            let i = cr as usize * self.visits.len() + vr as usize;
            if let Some(&x) = self.visit_costs.get(i) {
                return x;
            }
        }
        carer_visit_cost(self.p, c, v, self.existing_carers[v].as_deref())
    }

    /// A visit with no spare candidate shift: as many shifts as carers it needs.
    pub fn forced(&self, v: usize) -> bool {
        let n = self.candidates.get(&v).map_or(0, Vec::len);
        n > 0 && n <= usize::from(self.p.visits[v].carers_required)
    }

    fn anchored(&self, v: usize) -> bool {
        self.p.visits[v].carers_required > 1
            || self.links_of.contains_key(&v)
            || self.pinned.contains_key(&v)
    }
}

/// The shifts a visit is on: one, or two for a double-handed visit (the model
/// allows no more). Inline, so cloning a state, which the search does every
/// iteration, allocates nothing per visit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct OnShifts {
    len: u8,
    shifts: [usize; 2],
}

impl OnShifts {
    pub fn push(&mut self, s: usize) {
        self.shifts[usize::from(self.len)] = s;
        self.len += 1;
    }
    pub fn as_slice(&self) -> &[usize] {
        &self.shifts[..usize::from(self.len)]
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
        &mut self.shifts[..usize::from(self.len)]
    }
}

/// A scheduled route.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sched {
    pub starts: Vec<Minute>,
    pub local_cost: f64,
    pub work: i64,
    /// For the fast insertion check: the latest start of each stop, or `None`
    /// when the route is not timed as early as possible (a break in it). Filled on
    /// first use; a changed route always gets a new `Sched`, so it never goes stale.
    pub slack: std::cell::OnceCell<Option<Vec<Minute>>>,
}

/// A carer's room on one day for one visit (see [`Part::carer_room`]).
struct CarerRoom {
    carer: usize,
    /// Paid minutes left under the daily and weekly maxima.
    day_left: i64,
    week_left: i64,
    /// The cost of the carer being new to the person, or the cap it would break.
    continuity: Result<f64, Block>,
    /// Paid minutes over the horizon so far (for the contract shortfall).
    worked: f64,
}

/// A route as [`Part::price_at`] reads it, for one visit to insert.
struct RouteView<'s> {
    route: &'s [usize],
    starts: &'s [Minute],
    /// Latest start of each stop (see [`Sched::slack`]).
    latest: &'s [Minute],
    old_cost: f64,
    old_work: i64,
    /// Weight and paid share of the first and last legs.
    commute_w: f64,
    commute_work: i64,
    /// Carer-specific cost of the visit.
    visit_cost: f64,
    room: CarerRoom,
}

/// One insertion position's timing limits and cost change (see [`Part::price_at`]).
struct PositionPrice {
    arrival: Minute,
    latest_start: Minute,
    local: f64,
    work: i64,
}

/// Why an insertion failed (for unplaced reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Block {
    Time,
    Continuity,
    DailyHours,
    WeeklyHours,
    LinkedVisit,
}

/// Mutable search state.
#[derive(Clone)]
pub(crate) struct State {
    /// Per shift (problem index): visits in order.
    pub routes: Map<usize, Vec<usize>>,
    /// Per shift: schedule.
    pub scheds: Map<usize, Sched>,
    /// Per visit: shifts it is on.
    pub on: Map<usize, OnShifts>,
    /// Anchored visits' fixed start.
    pub fixed: Map<usize, Minute>,
    /// Per service user: carer -> carer-visits.
    pub seen: Map<usize, Map<usize, u32>>,
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

impl State {
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
        routes + unplaced + continuity + contract
    }
}

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

    /// Latest starts of a route timed as early as possible (see [`Sched::slack`]);
    /// `None` for a route timed otherwise (around a break).
    fn route_slack<F>(
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
    fn latest_starts<F>(&self, s: usize, visits: &[usize], fixed: &F) -> Vec<Minute>
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

    fn simulate_with_break(
        &self,
        s: usize,
        visits: &[usize],
        fixed: &dyn Fn(usize) -> Option<Minute>,
        break_before: Option<usize>,
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
        for (k, &v) in visits.iter().enumerate() {
            let visit = &p.visits[v];
            let travel = self.travel(c, loc, visit.location);
            let mut arrival = t + travel;
            if break_before == Some(k) {
                arrival += p.break_duration;
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
            slack: std::cell::OnceCell::new(),
        })
    }

    /// Arrival at position `pos` of shift `s`'s current route (the prefix is unaffected by insertion).
    fn arrival_at(&self, st: &State, s: usize, pos: usize, v: usize) -> Minute {
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

    /// Allowed start interval of `v` given placed link partners and carers it must avoid.
    fn link_bounds(&self, st: &State, v: usize) -> (Minute, Minute, Vec<usize>) {
        let p = self.p;
        let visit = &p.visits[v];
        let (mut lo, mut hi) = (visit.earliest_start, visit.latest_start + self.tolerance);
        let mut avoid = Vec::new();
        for &l in self.links_of.get(&v).map(Vec::as_slice).unwrap_or(&[]) {
            let link = &p.links[l];
            let (other, sign) = if link.first == v {
                (link.then, -1)
            } else {
                (link.first, 1)
            };
            if let Some(&t) = st.fixed.get(&other) {
                if sign == 1 {
                    lo = lo.max(t + link.min_offset);
                    hi = hi.min(t + link.max_offset);
                } else {
                    lo = lo.max(t - link.max_offset);
                    hi = hi.min(t - link.min_offset);
                }
                if link.distinct_carers {
                    for &s in st.on.get(&other).map(OnShifts::as_slice).unwrap_or(&[]) {
                        avoid.push(p.shifts[s].carer);
                    }
                }
            }
        }
        (lo, hi, avoid)
    }

    /// What the state allows carer `c` on `day` for visit `v`, read once per
    /// shift so that each insertion position only does arithmetic.
    fn carer_room(&self, st: &State, c: usize, day: u32, v: usize) -> CarerRoom {
        let p = self.p;
        let carer = &p.carers[c];
        let u = p.visits[v].service_user;
        let seen = st.seen.get(&u);
        let continuity = if seen.is_some_and(|m| m.contains_key(&c)) {
            Ok(0.0)
        } else if seen.map_or(0, Map::len) as u32 >= p.service_users[u].continuity_cap {
            Err(Block::Continuity)
        } else {
            Ok(p.weights.distinct_carer)
        };
        CarerRoom {
            carer: c,
            day_left: i64::from(carer.max_min_per_day)
                - st.day_work.get(&(c, day)).copied().unwrap_or(0),
            week_left: i64::from(carer.max_min_per_week)
                - st.week_work.get(&(c, p.week_of(day))).copied().unwrap_or(0),
            continuity,
            worked: st.total_work.get(&c).copied().unwrap_or(0) as f64,
        }
    }

    /// Global feasibility and cost change of adding `work_delta` paid minutes and
    /// the visit `room` was read for: daily and weekly hours, the continuity cap
    /// and the cost of a new carer for the person, the contract shortfall.
    fn global_delta(&self, room: &CarerRoom, work_delta: i64) -> Result<f64, Block> {
        if work_delta > room.day_left {
            return Err(Block::DailyHours);
        }
        if work_delta > room.week_left {
            return Err(Block::WeeklyHours);
        }
        let new_carer = room.continuity?;
        let (p, c) = (self.p, room.carer);
        Ok(
            new_carer + contract_shortfall_cost(p, c, room.worked + work_delta as f64)
                - contract_shortfall_cost(p, c, room.worked),
        )
    }

    /// Best insertion of one carer's share of `v` at fixed start `t` (or ASAP when `None`) into shift `s`,
    /// at position `at` only when given.
    fn best_in_shift(
        &self,
        st: &State,
        s: usize,
        v: usize,
        t: Option<Minute>,
        at: Option<usize>,
        blocks: &mut Vec<Block>,
    ) -> Option<(f64, usize, Sched)> {
        if let Some(found) = self.best_in_shift_fast(st, s, v, t, at, blocks) {
            return found;
        }
        let p = self.p;
        let empty = Vec::new();
        let route = st.routes.get(&s).unwrap_or(&empty);
        let old = st.scheds.get(&s);
        let old_cost = old.map_or(0.0, |x| x.local_cost);
        let old_work = old.map_or(0, |x| x.work);
        let visit = &p.visits[v];
        let c = p.shifts[s].carer;
        let room = self.carer_room(st, c, p.shifts[s].day, v);
        let mut best: Option<(f64, usize, Sched)> = None;
        let fixed_of = |w: usize| if w == v { t } else { st.fixed.get(&w).copied() };
        let mut buf = Vec::with_capacity(route.len() + 1);
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
            let cost = sched.local_cost - old_cost + delta;
            if best.as_ref().is_none_or(|b| cost < b.0) {
                best = Some((cost, pos, sched));
            }
        }
        best
    }

    /// What pricing `v`'s insertion positions in shift `s` reads once (see
    /// [`Part::best_in_shift_fast`]): `None` when the shortcut does not apply
    /// (soft windows, a route timed around a break), `Some(None)` when the
    /// carer's capacity rules `v` out.
    fn route_view<'s>(
        &self,
        st: &'s State,
        s: usize,
        v: usize,
        blocks: &mut Vec<Block>,
    ) -> Option<Option<RouteView<'s>>> {
        let p = self.p;
        if !matches!(p.lateness, crate::model::LatenessRule::Hard) {
            return None;
        }
        let route: &[usize] = st.routes.get(&s).map_or(&[], Vec::as_slice);
        let old = st.scheds.get(&s);
        let n = route.len();
        if n > 0 && old.is_none_or(|o| o.starts.len() != n) {
            return None;
        }
        let c = p.shifts[s].carer;
        if let Some(cap) = p.carers[c].capacity {
            let load: u64 = route.iter().map(|&x| u64::from(p.visits[x].demand)).sum();
            if load + u64::from(p.visits[v].demand) > u64::from(cap) {
                blocks.push(Block::Time);
                return Some(None);
            }
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
        let w = &p.weights;
        let (commute_w, commute_work) = if p.paid_commute {
            (w.travel_min, 1)
        } else {
            (w.commute_min, 0)
        };
        Some(Some(RouteView {
            route,
            starts,
            latest,
            old_cost: old.map_or(0.0, |x| x.local_cost),
            old_work: old.map_or(0, |x| x.work),
            commute_w,
            commute_work,
            visit_cost: self.visit_cost(c, v),
            room: self.carer_room(st, c, p.shifts[s].day, v),
        }))
    }

    /// Inserting `v` at `pos` of the route `view` shows: when it can start, the
    /// latest start that keeps the stops after it on time, and the change of
    /// route cost and paid minutes (legs only: with hard windows the cost does
    /// not depend on times).
    fn price_at(&self, view: &RouteView, s: usize, v: usize, pos: usize) -> PositionPrice {
        let p = self.p;
        let (shift, visit, w) = (&p.shifts[s], &p.visits[v], &p.weights);
        let (route, starts, n) = (view.route, view.starts, view.route.len());
        let (prev_loc, ready) = if pos == 0 {
            (shift.start_loc, shift.start)
        } else {
            let x = route[pos - 1];
            (p.visits[x].location, starts[pos - 1] + p.visits[x].duration)
        };
        let next_loc = if pos == n {
            shift.end_loc
        } else {
            p.visits[route[pos]].location
        };
        let t_in = self.travel(shift.carer, prev_loc, visit.location);
        let t_out = self.travel(shift.carer, visit.location, next_loc);
        let leave_by = if pos == n {
            shift.end
        } else {
            view.latest[pos]
        };
        // Leg costs: first and last legs are commutes.
        let leg = |first_or_last: bool| {
            if first_or_last {
                (view.commute_w, view.commute_work)
            } else {
                (w.travel_min, 1)
            }
        };
        let ((w_in, k_in), (w_out, k_out)) = (leg(pos == 0), leg(pos == n));
        let mut local = f64::from(t_in) * w_in + f64::from(t_out) * w_out + view.visit_cost;
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
        PositionPrice {
            arrival: ready + t_in,
            latest_start: (leave_by - visit.duration - t_out)
                .min(visit.latest_start + self.tolerance),
            local,
            work,
        }
    }

    /// Whether the route with `v` at `pos` starting at `start` spans long enough
    /// to need a break, so it must be re-timed in full to know it is feasible.
    fn may_need_break(&self, view: &RouteView, v: usize, pos: usize, start: Minute) -> bool {
        let p = self.p;
        let n = view.route.len();
        if p.break_duration <= 0 {
            return false;
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
    fn best_in_shift_fast(
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
            if self.may_need_break(&view, v, pos, start) {
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
            slack: std::cell::OnceCell::new(),
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
            let mut best: Option<Insertion> = None;
            for &s in cands {
                if avoid.contains(&p.shifts[s].carer) || !allow(p.shifts[s].carer) {
                    continue;
                }
                let found = if anchored {
                    self.best_anchored_in_shift(st, s, v, lo, hi, blocks)
                } else {
                    // Not anchored: the start is not fixed, so it is not needed here.
                    self.best_in_shift(st, s, v, None, None, blocks)
                        .map(|(c, pos, sc)| (c, pos, sc, 0))
                };
                if let Some((cost, pos, sched, t)) = found
                    && best.as_ref().is_none_or(|b| cost < b.cost)
                {
                    best = Some(Insertion {
                        cost,
                        parts: vec![(s, pos, sched)],
                        fixed: anchored.then_some(t),
                    });
                }
            }
            return best;
        }
        // Double-handed: a start time both carers can make.
        let eligible =
            |s: &usize| !avoid.contains(&p.shifts[*s].carer) && allow(p.shifts[*s].carer);
        self.double_handed_fast(st, v, cands, &eligible, lo, hi)
            .or_else(|| self.double_handed_exhaustive(st, v, cands, &eligible, lo, hi, blocks))
    }

    /// Double-handed visit `v` priced by timing each candidate shift at each of
    /// up to 12 candidate starts (the earliest arrivals the routes offer): the
    /// cheapest pair of distinct carers within the continuity cap.
    #[allow(clippy::too_many_arguments)]
    fn double_handed_exhaustive(
        &self,
        st: &State,
        v: usize,
        cands: &[usize],
        eligible: &dyn Fn(&usize) -> bool,
        lo: Minute,
        hi: Minute,
        blocks: &mut Vec<Block>,
    ) -> Option<Insertion> {
        let p = self.p;
        let mut options: Vec<(usize, Minute)> = Vec::new(); // (shift, arrival lower bound) per position
        for &s in cands.iter().filter(|s| eligible(s)) {
            let len = st.routes.get(&s).map_or(0, Vec::len);
            for pos in 0..=len {
                let a = self.arrival_at(st, s, pos, v).max(lo);
                if a <= hi {
                    options.push((s, a));
                }
            }
        }
        let mut times: Vec<Minute> = options.iter().map(|o| o.1).collect();
        times.sort_unstable();
        times.dedup();
        let mut best: Option<Insertion> = None;
        let mut capped = false;
        for &t in times.iter().take(12) {
            let mut per_carer: Vec<(f64, usize, usize, usize, Sched)> = Vec::new(); // cost, carer, shift, pos, sched
            let mut shifts_tried: Vec<usize> =
                options.iter().filter(|o| o.1 <= t).map(|o| o.0).collect();
            shifts_tried.sort_unstable();
            shifts_tried.dedup();
            for s in shifts_tried {
                if let Some((cost, pos, sched)) =
                    self.best_in_shift(st, s, v, Some(t), None, blocks)
                {
                    per_carer.push((cost, p.shifts[s].carer, s, pos, sched));
                }
            }
            per_carer.sort_by(|a, b| a.0.total_cmp(&b.0));
            per_carer.truncate(8);
            let priced: Vec<(f64, usize)> = per_carer.iter().map(|x| (x.0, x.1)).collect();
            if let Some((i, j, cost)) = self.cheapest_pair(st, v, &priced, &mut capped)
                && best.as_ref().is_none_or(|x| cost < x.cost)
            {
                let (a, b) = (&per_carer[i], &per_carer[j]);
                best = Some(Insertion {
                    cost,
                    parts: vec![(a.2, a.3, a.4.clone()), (b.2, b.3, b.4.clone())],
                    fixed: Some(t),
                });
            }
        }
        if capped {
            blocks.push(Block::Continuity);
        }
        best
    }

    /// The cheapest pair of distinct carers among `priced` (cost, carer), sorted
    /// cheapest first, that keeps `v`'s person within their continuity cap:
    /// indices and total cost (the first pair on ties). `capped` is set when the
    /// cap ruled a pair out.
    fn cheapest_pair(
        &self,
        st: &State,
        v: usize,
        priced: &[(f64, usize)],
        capped: &mut bool,
    ) -> Option<(usize, usize, f64)> {
        let p = self.p;
        let u = p.visits[v].service_user;
        let seen = st.seen.get(&u);
        let seen_count = seen.map_or(0, Map::len) as u32;
        let cap = p.service_users[u].continuity_cap;
        let mut best: Option<(usize, usize, f64)> = None;
        for i in 0..priced.len() {
            for j in (i + 1)..priced.len() {
                let (a, b) = (priced[i], priced[j]);
                if a.1 == b.1 {
                    continue;
                }
                let new = [a.1, b.1]
                    .iter()
                    .filter(|c| !seen.is_some_and(|m| m.contains_key(c)))
                    .count() as u32;
                if seen_count + new > cap {
                    *capped = true;
                    continue;
                }
                let cost = a.0 + b.0;
                if best.is_none_or(|x| cost < x.2) {
                    best = Some((i, j, cost));
                }
            }
        }
        best
    }

    /// The double-handed search below by arithmetic: every position of every
    /// candidate shift is priced once as an interval of starts it allows and a
    /// cost (with hard windows the cost does not depend on the start), then each
    /// candidate start takes the cheapest pair of distinct carers within the
    /// continuity cap, as the exhaustive search does; only the winning pair is
    /// timed in full. Pricing each shift again for each of up to 12 starts was
    /// over a third of the team week's insertion work. `None` when the shortcut
    /// does not apply or finds nothing (the exhaustive search then decides and
    /// records why), or when the winner fails its full timing (a break).
    fn double_handed_fast(
        &self,
        st: &State,
        v: usize,
        cands: &[usize],
        eligible: &dyn Fn(&usize) -> bool,
        lo: Minute,
        hi: Minute,
    ) -> Option<Insertion> {
        let p = self.p;
        let visit = &p.visits[v];
        let mut ignored = Vec::new();
        // (shift, carer, position, earliest start, latest start, cost)
        let mut spans: Vec<(usize, usize, usize, Minute, Minute, f64)> = Vec::new();
        let mut times: Vec<Minute> = Vec::new();
        for &s in cands.iter().filter(|s| eligible(s)) {
            let Some(view) = self.route_view(st, s, v, &mut ignored)? else {
                continue;
            };
            let n = view.route.len();
            for pos in 0..=n {
                let price = self.price_at(&view, s, v, pos);
                let a = price.arrival.max(lo);
                if a <= hi {
                    times.push(a);
                }
                let too_late =
                    pos > 0 && view.starts[pos - 1] > visit.latest_start + self.tolerance;
                let waits = st.prune_wait
                    && pos < n
                    && view.starts[pos] + p.visits[view.route[pos]].duration < visit.earliest_start;
                if too_late || waits {
                    continue;
                }
                let from = a.max(visit.earliest_start);
                let to = price.latest_start.min(hi);
                if from > to {
                    continue;
                }
                let Ok(delta) = self.global_delta(&view.room, price.work) else {
                    continue;
                };
                spans.push((s, p.shifts[s].carer, pos, from, to, price.local + delta));
            }
        }
        times.sort_unstable();
        times.dedup();
        let mut capped = false;
        // Total cost, start, and per carer (shift, position, cost).
        type Half = (usize, usize, f64);
        let mut best: Option<(f64, Minute, [Half; 2])> = None;
        let mut per_shift: Vec<(f64, usize, usize, usize)> = Vec::new(); // cost, carer, shift, pos
        for &t in times.iter().take(12) {
            // The cheapest position of each shift at start `t` (the first on ties).
            per_shift.clear();
            for &(s, c, pos, from, to, cost) in &spans {
                if t < from || t > to {
                    continue;
                }
                match per_shift.iter_mut().find(|x| x.2 == s) {
                    Some(x) if cost < x.0 => *x = (cost, c, s, pos),
                    Some(_) => {}
                    None => per_shift.push((cost, c, s, pos)),
                }
            }
            per_shift.sort_by(|a, b| a.0.total_cmp(&b.0));
            per_shift.truncate(8);
            let priced: Vec<(f64, usize)> = per_shift.iter().map(|x| (x.0, x.1)).collect();
            if let Some((i, j, cost)) = self.cheapest_pair(st, v, &priced, &mut capped)
                && best.as_ref().is_none_or(|x| cost < x.0)
            {
                let (a, b) = (per_shift[i], per_shift[j]);
                best = Some((cost, t, [(a.2, a.3, a.0), (b.2, b.3, b.0)]));
            }
        }
        let (cost, t, pair) = best?;
        let mut parts = Vec::with_capacity(2);
        for (s, pos, priced) in pair {
            let (c, _, sched) = self.best_in_shift(st, s, v, Some(t), Some(pos), &mut ignored)?;
            debug_assert!((c - priced).abs() < 1e-6, "{c} vs {priced}");
            parts.push((s, pos, sched));
        }
        Some(Insertion {
            cost,
            parts,
            fixed: Some(t),
        })
    }

    fn best_anchored_in_shift(
        &self,
        st: &State,
        s: usize,
        v: usize,
        lo: Minute,
        hi: Minute,
        blocks: &mut Vec<Block>,
    ) -> Option<(f64, usize, Sched, Minute)> {
        let len = st.routes.get(&s).map_or(0, Vec::len);
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

    /// Applies an insertion.
    pub fn apply(&self, st: &mut State, v: usize, ins: Insertion) {
        let p = self.p;
        // Time the parts priced without a schedule (see `best_in_shift_fast`). If
        // one cannot be timed after all, `v` stays unplaced and the state unchanged.
        let mut parts = Vec::with_capacity(ins.parts.len());
        for (s, pos, sched) in ins.parts {
            if !sched.starts.is_empty() {
                parts.push((s, pos, sched));
                continue;
            }
            let route = st.routes.get(&s).map_or(&[][..], Vec::as_slice);
            let at = pos.min(route.len());
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
            let Some(timed) = self.simulate(s, &buf, &fixed_of) else {
                return;
            };
            parts.push((s, pos, timed));
        }
        for (s, pos, sched) in parts {
            let c = p.shifts[s].carer;
            let day = p.shifts[s].day;
            let old_work = st.scheds.get(&s).map_or(0, |x| x.work);
            let dw = sched.work - old_work;
            *st.day_work.entry((c, day)).or_default() += dw;
            *st.week_work.entry((c, p.week_of(day))).or_default() += dw;
            *st.total_work.entry(c).or_default() += dw;
            let route = st.routes.entry(s).or_default();
            route.insert(pos.min(route.len()), v);
            st.scheds.insert(s, sched);
            st.on.entry(v).or_default().push(s);
            *st.seen
                .entry(p.visits[v].service_user)
                .or_default()
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
                    if let Some(n) = m.get_mut(&c) {
                        *n -= 1;
                        if *n == 0 {
                            m.remove(&c);
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
                let fixed = &st.fixed;
                self.simulate(s, &route, &|w| fixed.get(&w).copied())
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
                st.routes.insert(s, route);
                st.scheds.insert(s, sched);
            }
        }
        ok
    }

    /// Inserts `order` greedily (cheapest first); visits that fit nowhere stay unplaced.
    pub fn recreate(&self, st: &mut State, order: &[usize], rng: &mut ChaCha8Rng, regret: bool) {
        let mut pending: Vec<usize> = order.to_vec();
        if regret && pending.len() <= REGRET_MAX {
            // Regret-1-ish: place the visit with the fewest cheap options first.
            while !pending.is_empty() {
                let mut pick: Option<(f64, usize, Insertion)> = None;
                let mut blocks = Vec::new();
                for (i, &v) in pending.iter().enumerate() {
                    if let Some(ins) = self.best_insertion(st, v, &mut blocks) {
                        let key = ins.cost - unplaced_penalty(self.p, v);
                        if pick.as_ref().is_none_or(|x| key < x.0) {
                            pick = Some((key, i, ins));
                        }
                    }
                }
                let Some((_, i, ins)) = pick else { break };
                let v = pending.swap_remove(i);
                self.apply(st, v, ins);
            }
            return;
        }
        // Insertion order matters as much as the ruin (SISR): vary it. Double-handed
        // visits always go first, as they need two carers free at once.
        let p = self.p;
        let two = |v: usize| std::cmp::Reverse(p.visits[v].carers_required);
        match rng.random_range(0..10u8) {
            0..=3 => self.sort_hardest_first(&mut pending),
            4..=6 => {
                pending.shuffle(rng);
                pending.sort_by_key(|&v| two(v));
            }
            7 => pending.sort_by_key(|&v| (two(v), p.visits[v].earliest_start, v)),
            8 => pending.sort_by_key(|&v| (two(v), p.visits[v].latest_start, v)),
            _ => {
                // Far from the first candidate shift's start first.
                let far = |v: usize| {
                    self.candidates
                        .get(&v)
                        .and_then(|c| c.first())
                        .map_or(0, |&s| {
                            let sh = &p.shifts[s];
                            self.travel(sh.carer, sh.start_loc, p.visits[v].location)
                        })
                };
                pending.sort_by_key(|&v| (two(v), std::cmp::Reverse(far(v)), v));
            }
        }
        self.insert_in_order(st, pending);
    }

    /// The first rota: `order` inserted greedily, hardest first (a random order can
    /// leave dozens of double-handed visits unplaced on a team week), repeated
    /// with the visits the last round left unplaced moved to the front ("squeaky
    /// wheel": hardest-first misjudges which visits are scarce, e.g. an exact-time
    /// visit only one carer that day can do, behind double-handed visits that take
    /// that carer). Keeps the cheapest round.
    ///
    /// With `forced_first`, visits with no spare candidate shift (as many shifts as
    /// carers needed) go before all others: an exact-time visit only one carer can
    /// do that day is otherwise often left out once double-handed visits took that
    /// carer, and a full morning around it rarely opens up again in a short search.
    pub fn construct(
        &self,
        st: &mut State,
        order: &[usize],
        rounds: usize,
        until: Instant,
        forced_first: bool,
    ) {
        let start = st.clone();
        let mut pending = order.to_vec();
        self.sort_hardest(&mut pending, forced_first);
        let mut best: Option<(f64, State)> = None;
        let mut first: Vec<usize> = Vec::new();
        for round in 0..rounds.max(1) {
            if round > 0 && Instant::now() >= until {
                break;
            }
            let mut trial = start.clone();
            let mut seq = first.clone();
            seq.extend(pending.iter().copied().filter(|v| !first.contains(v)));
            self.insert_in_order(&mut trial, seq);
            let cost = trial.cost(self);
            let left: Vec<usize> = trial
                .unplaced
                .iter()
                .copied()
                .filter(|v| order.contains(v) && !first.contains(v))
                .collect();
            if best.as_ref().is_none_or(|b| cost < b.0) {
                best = Some((cost, trial));
            }
            if left.is_empty() {
                break;
            }
            // Most recently squeaky first, in hardest-first order.
            let mut front = left;
            self.sort_hardest(&mut front, forced_first);
            front.extend(first);
            first = front;
        }
        if let Some((_, b)) = best {
            *st = b;
        }
    }

    /// Hardest first: double-handed, fewest candidate shifts and narrow windows early.
    fn sort_hardest_first(&self, pending: &mut [usize]) {
        self.sort_hardest(pending, false);
    }

    /// [`Part::sort_hardest_first`], optionally with visits that have no spare
    /// candidate shift before all others.
    fn sort_hardest(&self, pending: &mut [usize], forced_first: bool) {
        pending.sort_by_key(|&v| {
            let vis = &self.p.visits[v];
            let forced = forced_first && self.forced(v);
            (
                !forced,
                std::cmp::Reverse(vis.carers_required),
                self.candidates.get(&v).map_or(0, Vec::len),
                vis.latest_start - vis.earliest_start,
                v,
            )
        });
    }

    fn insert_in_order(&self, st: &mut State, pending: Vec<usize>) {
        let mut blocks = Vec::new();
        for v in pending {
            if let Some(ins) = self.best_insertion(st, v, &mut blocks) {
                self.apply(st, v, ins);
            }
        }
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
            let fixed = st.fixed.clone();
            let sched = self.simulate(r.shift, &visits, &|w| fixed.get(&w).copied())?;
            let c = p.shifts[r.shift].carer;
            let day = p.shifts[r.shift].day;
            *st.day_work.entry((c, day)).or_default() += sched.work;
            *st.week_work.entry((c, p.week_of(day))).or_default() += sched.work;
            *st.total_work.entry(c).or_default() += sched.work;
            for &v in &visits {
                st.on.entry(v).or_default().push(r.shift);
                *st.seen
                    .entry(p.visits[v].service_user)
                    .or_default()
                    .entry(c)
                    .or_default() += 1;
            }
            st.routes.insert(r.shift, visits);
            st.scheds.insert(r.shift, sched);
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

    /// Why `v` cannot be inserted into the final state, as (code, message) pairs.
    pub fn diagnose(&self, st: &State, v: usize) -> Vec<(String, String)> {
        let p = self.p;
        let visit = &p.visits[v];
        let user = &p.service_users[visit.service_user];
        let all_carers: Vec<usize> = {
            let mut c: Vec<usize> = self.shifts.iter().map(|&s| p.shifts[s].carer).collect();
            c.sort_unstable();
            c.dedup();
            c
        };
        let skilled: Vec<usize> = (0..p.carers.len())
            .filter(|&c| p.carers[c].skills.covers(visit.skills))
            .collect();
        let mut out = Vec::new();
        if skilled.is_empty()
            || (!all_carers.is_empty() && !all_carers.iter().any(|c| skilled.contains(c)))
        {
            out.push((
                "no_skilled_carer".to_string(),
                format!(
                    "no carer on this rota holds {:?}",
                    p.skill_names(visit.skills)
                ),
            ));
            return out;
        }
        let eligible: Vec<usize> = (0..p.carers.len())
            .filter(|&c| p.eligibility(c, v).is_ok())
            .collect();
        if eligible.len() < usize::from(visit.carers_required) {
            let reason = if user.gender_required.is_some() {
                "no carer of the required gender with the needed skills"
            } else if !user.excluded.is_empty() {
                "the only skilled carers are excluded by the person"
            } else {
                "no carer of the person's team holds the needed skills"
            };
            out.push(("no_eligible_carer".to_string(), reason.to_string()));
            return out;
        }
        let cands = self.candidates.get(&v).map_or(0, Vec::len);
        if cands < usize::from(visit.carers_required) {
            out.push((
                "no_carer_available".to_string(),
                format!(
                    "no eligible carer has a shift between {} and {}",
                    p.horizon.format(visit.earliest_start),
                    p.horizon.format(visit.latest_start + visit.duration)
                ),
            ));
            return out;
        }
        let mut blocks = Vec::new();
        if self.best_insertion(st, v, &mut blocks).is_some() {
            out.push((
                "not_worth_placing".to_string(),
                "a place exists but the objective weights prefer leaving it (check unplaced weights)".to_string(),
            ));
            return out;
        }
        blocks.sort_unstable();
        blocks.dedup();
        for b in blocks {
            let (code, msg) = match b {
                Block::Time => (
                    "carers_busy",
                    "every eligible carer's shift is full in that window (visits and travel leave no room)",
                ),
                Block::Continuity => (
                    "continuity_cap",
                    "the only carers free would break the person's continuity cap",
                ),
                Block::DailyHours => (
                    "max_daily_hours",
                    "free carers would exceed their daily maximum hours",
                ),
                Block::WeeklyHours => (
                    "max_weekly_hours",
                    "free carers would exceed their weekly maximum hours",
                ),
                Block::LinkedVisit => (
                    "linked_visit_conflict",
                    "the linked visit's time leaves no feasible start for this one",
                ),
            };
            out.push((code.to_string(), msg.to_string()));
        }
        if visit.carers_required > 1 {
            out.push((
                "no_second_carer".to_string(),
                "no two eligible carers are free at the same time".to_string(),
            ));
        }
        if out.is_empty() {
            out.push((
                "carers_busy".to_string(),
                "no feasible place in any eligible carer's route".to_string(),
            ));
        }
        out
    }

    /// A random amount of ruin. Returns the removed visits and, for the ruin that
    /// makes room for an unplaced visit, that visit (to be re-inserted first).
    /// `hopeless` visits (no candidate shift at all) are never targeted.
    pub fn ruin(
        &self,
        st: &mut State,
        rng: &mut ChaCha8Rng,
        hopeless: &std::collections::HashSet<usize>,
    ) -> (Vec<usize>, Option<usize>) {
        let p = self.p;
        let placed: Vec<usize> = self
            .visits
            .iter()
            .copied()
            .filter(|v| st.on.contains_key(v) && !self.pinned.contains_key(v))
            .collect();
        if placed.is_empty() {
            return (Vec::new(), None);
        }
        let max_q = (placed.len() / 8).clamp(2, 25);
        let q = rng.random_range(2..=max_q.max(2)).min(placed.len());
        let mut removed: Vec<usize> = Vec::new();
        let mut target = None;
        // Unplaced visits that some shift could take: while there are any, half of
        // the ruins make room for one of them (placing everything comes first).
        let open: Vec<usize> = st
            .unplaced
            .iter()
            .copied()
            .filter(|v| !hopeless.contains(v) && !self.pinned.contains_key(v))
            .collect();
        let kind = if !open.is_empty() && rng.random_bool(0.5) {
            6
        } else {
            // String removal and whole-route removal (draws 3 and 6) twice as often
            // as each other ruin; with a continuity cost, the continuity ruin twice
            // as often too. (Measured as it is; 6 is not the room-making ruin.)
            let kinds = if self.p.weights.distinct_carer > 0.0 {
                9
            } else {
                7
            };
            match rng.random_range(0..kinds) {
                4 | 5 => 4,
                7 | 8 => 7,
                k => k.min(3),
            }
        };
        match kind {
            6 => {
                // Room for one unplaced visit: take out the visits of its candidate
                // shifts that sit nearest to its window in time and space.
                let u = open[rng.random_range(0..open.len())];
                target = Some(u);
                let uv = &p.visits[u];
                let mut scored: Vec<(i64, usize)> = Vec::new();
                for &s in self.candidates.get(&u).map(Vec::as_slice).unwrap_or(&[]) {
                    let (Some(route), Some(sc)) = (st.routes.get(&s), st.scheds.get(&s)) else {
                        continue;
                    };
                    for (k, &w) in route.iter().enumerate() {
                        if self.pinned.contains_key(&w) {
                            continue;
                        }
                        let t = sc.starts[k];
                        let near = t.clamp(uv.earliest_start, uv.latest_start + self.tolerance);
                        let dt = i64::from((t - near).abs());
                        let travel = i64::from(self.travel(
                            p.shifts[s].carer,
                            uv.location,
                            p.visits[w].location,
                        ));
                        scored.push((dt + travel, w));
                    }
                }
                scored.sort_unstable();
                scored.dedup_by_key(|x| x.1);
                // Small ruins: many cheap tries place more than a few big ones.
                removed.extend(scored.into_iter().take(q.min(8)).map(|x| x.1));
            }
            7 => {
                // Continuity: take the carer a person sees least out of their rota,
                // with the visits nearest in time on their other carers' routes that
                // day, so recreate can hand the person's visits to carers they see
                // anyway (one distinct carer fewer) and re-home what made room.
                let seed = placed[rng.random_range(0..placed.len())];
                let u = p.visits[seed].service_user;
                let mut seen: Vec<(u32, usize)> = st
                    .seen
                    .get(&u)
                    .map(|m| m.iter().map(|(&c, &n)| (n, c)).collect())
                    .unwrap_or_default();
                seen.sort_unstable();
                if seen.len() >= 2 {
                    let k = usize::from(seen.len() > 2 && rng.random_bool(0.3));
                    let dropped = seen[k].1;
                    let kept: Vec<usize> =
                        seen.iter().map(|x| x.1).filter(|&c| c != dropped).collect();
                    let mut shifts: Vec<usize> = st.routes.keys().copied().collect();
                    shifts.sort_unstable();
                    let theirs: Vec<usize> = placed
                        .iter()
                        .copied()
                        .filter(|&v| {
                            p.visits[v].service_user == u
                                && st.on.get(&v).is_some_and(|on| {
                                    on.iter().any(|&s| p.shifts[s].carer == dropped)
                                })
                        })
                        .collect();
                    for v in theirs {
                        removed.push(v);
                        let (day, t) = (p.visits[v].day, p.visits[v].earliest_start);
                        for &s in &shifts {
                            let sh = &p.shifts[s];
                            if sh.day != day || !kept.contains(&sh.carer) {
                                continue;
                            }
                            let (Some(route), Some(sc)) = (st.routes.get(&s), st.scheds.get(&s))
                            else {
                                continue;
                            };
                            let mut near: Vec<(i32, usize)> = route
                                .iter()
                                .zip(&sc.starts)
                                .filter(|(w, _)| {
                                    !self.pinned.contains_key(w) && p.visits[**w].service_user != u
                                })
                                .map(|(&w, &start)| ((start - t).abs(), w))
                                .collect();
                            near.sort_unstable();
                            let take = rng.random_range(1..=2);
                            removed.extend(near.into_iter().take(take).map(|x| x.1));
                        }
                    }
                }
            }
            4 => {
                // String removal (after SISR, Christiaens & Vanden Berghe 2020): cut a
                // string of consecutive visits out of each of several routes near a
                // seed visit, so recreate can re-thread the area.
                let seed = placed[rng.random_range(0..placed.len())];
                let sv = &p.visits[seed];
                let mut near: Vec<(i64, usize)> = placed
                    .iter()
                    .map(|&v| {
                        let x = &p.visits[v];
                        let d = i64::from(self.travel(0, sv.location, x.location));
                        (if x.day == sv.day { d } else { d + (1 << 40) }, v)
                    })
                    .collect();
                near.sort_unstable();
                let avg = placed.len() / st.routes.len().max(1);
                let l_max = avg.clamp(1, 10);
                let mut cut: Vec<usize> = Vec::new();
                for (_, v) in near {
                    if removed.len() >= q {
                        break;
                    }
                    let Some(&[s]) = st.on.get(&v).map(OnShifts::as_slice) else {
                        continue;
                    };
                    if cut.contains(&s) || removed.contains(&v) {
                        continue;
                    }
                    cut.push(s);
                    let Some(route) = st.routes.get(&s) else {
                        continue;
                    };
                    let n = route.len();
                    let Some(pos) = route.iter().position(|&x| x == v) else {
                        continue;
                    };
                    let l = rng.random_range(1..=l_max.min(n));
                    let first = rng.random_range(pos.saturating_sub(l - 1)..=pos.min(n - l));
                    // Split string: half the time keep a random run inside the string.
                    let (keep_at, keep_len) = if l >= 3 && rng.random_bool(0.5) {
                        let m = rng.random_range(1..=(l - 2).min(3));
                        (first + rng.random_range(1..=(l - 1 - m)), m)
                    } else {
                        (usize::MAX, 0)
                    };
                    for (k, &w) in route.iter().enumerate().skip(first).take(l) {
                        if (keep_at..keep_at + keep_len).contains(&k) {
                            continue;
                        }
                        if !self.pinned.contains_key(&w) {
                            removed.push(w);
                        }
                    }
                }
            }
            0 => {
                // Random visits.
                let mut pick = placed.clone();
                pick.shuffle(rng);
                removed.extend(pick.into_iter().take(q));
            }
            1 => {
                // Related: near in space and time to a seed visit.
                let seed = placed[rng.random_range(0..placed.len())];
                let sv = &p.visits[seed];
                let mut scored: Vec<(i64, usize)> = placed
                    .iter()
                    .map(|&v| {
                        let x = &p.visits[v];
                        let travel = self.travel(0, sv.location, x.location);
                        let dt = (x.earliest_start - sv.earliest_start).abs();
                        (i64::from(travel) * 4 + i64::from(dt), v)
                    })
                    .collect();
                scored.sort_unstable();
                removed.extend(scored.into_iter().take(q).map(|x| x.1));
            }
            2 => {
                // A person's visits over the horizon (lets continuity change).
                let seed = placed[rng.random_range(0..placed.len())];
                let u = p.visits[seed].service_user;
                removed.extend(
                    placed
                        .iter()
                        .copied()
                        .filter(|&v| p.visits[v].service_user == u),
                );
                let more = q.saturating_sub(removed.len());
                let mut pick = placed.clone();
                pick.shuffle(rng);
                removed.extend(
                    pick.into_iter()
                        .filter(|v| p.visits[*v].service_user != u)
                        .take(more / 2),
                );
            }
            _ => {
                // Whole routes: one or two carer shifts.
                let mut shifts: Vec<usize> = st.routes.keys().copied().collect();
                shifts.sort_unstable();
                shifts.shuffle(rng);
                for s in shifts.into_iter().take(rng.random_range(1..=2)) {
                    if let Some(r) = st.routes.get(&s) {
                        removed.extend(r.iter().copied().filter(|v| !self.pinned.contains_key(v)));
                    }
                }
            }
        }
        removed.sort_unstable();
        removed.dedup();
        // Partners of removed anchored visits come out too, so they can be re-synchronised.
        let mut extra = Vec::new();
        for &v in &removed {
            for &l in self.links_of.get(&v).map(Vec::as_slice).unwrap_or(&[]) {
                let link = &p.links[l];
                for w in [link.first, link.then] {
                    if w != v && st.on.contains_key(&w) && !self.pinned.contains_key(&w) {
                        extra.push(w);
                    }
                }
            }
        }
        removed.extend(extra);
        removed.sort_unstable();
        removed.dedup();
        if !self.remove_all(st, &removed) {
            removed.clear();
            target = None;
        }
        (removed, target)
    }
}

/// Insertion positions of a route of `n` stops to price: all, or just `at`.
fn positions(at: Option<usize>, n: usize) -> std::ops::RangeInclusive<usize> {
    match at {
        Some(k) => k.min(n)..=k.min(n),
        None => 0..=n,
    }
}

/// An insertion: its cost and, per carer, the shift, position and new schedule.
#[derive(Debug, Clone)]
pub(crate) struct Insertion {
    pub cost: f64,
    pub parts: Vec<(usize, usize, Sched)>,
    pub fixed: Option<Minute>,
}
