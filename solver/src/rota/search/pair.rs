//! Linked pairs placed together: a joint relocation move for route local
//! search, and a joint insertion for recreate.
//!
//! The two visits of a link (e.g. the two services of a synchronised double
//! service) have fixed starts, so the single-visit moves can change who makes
//! one of them but never when: moving the pair to a better time needs both
//! re-timed together. The move takes both out of their routes and puts them
//! into two carers' routes (the ones they were on or others) at a common new
//! start that keeps the link's offset, every changed route re-timed, and keeps
//! the best such change when the whole objective falls. Recreate likewise
//! inserts a pair whose two visits are both pending at the cheapest common
//! start, where inserting one at a time fixed the first visit's start with no
//! regard for its partner. When the link allows one carer (a gap, not
//! simultaneous), one carer making both, the second right after the first,
//! is priced too.
//!
//! Pricing is arithmetic on the routes without the pair: each position's legs
//! are exact and the stops after it are pushed forward until one keeps its
//! start, so only the winning change is re-timed in full. Start times tried
//! are those some position can reach first; a start is skipped once the
//! cheapest legs plus the pair's own lateness cannot beat the best change.

use super::local::{Change, EPS, Focus};
use super::{Part, Sched, State};
use crate::model::Minute;
use crate::rota::objective::lateness_cost;
use std::time::Instant;

#[cfg(test)]
#[path = "pair_tests.rs"]
mod tests;

/// One place for one visit of the pair: shift, carer, position, earliest start
/// there, and the time-free cost change (legs, carer-visit cost, shift use,
/// and the carer-level terms: contract shortfall, a new carer for the person).
#[derive(Clone, Copy)]
struct Slot {
    shift: usize,
    carer: usize,
    pos: usize,
    earliest: Minute,
    legs: f64,
}

/// A priced pair change: estimated cost change, then per visit (shift, position, start).
type Placed = (f64, [(usize, usize, Minute); 2]);

/// The routes of the pair's two shifts without the pair, and the state's others.
struct Without<'s> {
    st: &'s State,
    reduced: Vec<(usize, Vec<usize>, Sched)>,
}

impl Without<'_> {
    fn route(&self, s: usize) -> (&[usize], Option<&Sched>) {
        match self.reduced.iter().find(|r| r.0 == s) {
            Some((_, r, sc)) => (r.as_slice(), (!r.is_empty()).then_some(sc)),
            None => (self.st.route(s), self.st.sched(s)),
        }
    }
}

/// One visit's places for the pair pricing, with what each cost at the start
/// it was last priced at: a lower bound at any later start (see
/// [`Part::price_pair`]), infinite once the place could not take a start.
struct Side {
    slots: Vec<Slot>,
    floor: Vec<f64>,
    at: Vec<Minute>,
}

impl Side {
    fn new(slots: Vec<Slot>) -> Self {
        Side {
            floor: slots.iter().map(|x| x.legs).collect(),
            at: vec![Minute::MIN; slots.len()],
            slots,
        }
    }

    fn min_legs(&self) -> f64 {
        self.slots
            .iter()
            .map(|x| x.legs)
            .fold(f64::INFINITY, f64::min)
    }

    /// A lower bound on place `i`'s cost at a start no earlier than any it was
    /// priced at, where the visit's own lateness there is `own`.
    fn floor(&self, i: usize, own: f64) -> f64 {
        self.floor[i].max(self.slots[i].legs + own)
    }

    /// Place `i`'s cost for `v` starting at `t` (no earlier than any start it
    /// was priced at before); `None` if it cannot take it.
    fn price(&mut self, part: &Part, w: &Without, i: usize, v: usize, t: Minute) -> Option<f64> {
        if self.floor[i] == f64::INFINITY {
            return None;
        }
        if self.at[i] == t {
            return Some(self.floor[i]);
        }
        debug_assert!(t >= self.at[i]);
        let c = part.fixed_insert_cost(w, &self.slots[i], v, t);
        self.floor[i] = c.unwrap_or(f64::INFINITY);
        self.at[i] = t;
        c
    }
}

impl Part<'_> {
    /// Whether linked pairs are moved and inserted together. Not with a
    /// continuity cost: the pair pricing sees each half's new-carer cost on
    /// its own, and on the team week (2 s, seeds 1-5) joint insertion left
    /// rotas 0.3-1.3% dearer (median) than one visit at a time.
    pub(super) fn pairs_together(&self) -> bool {
        self.p.weights.distinct_carer <= 0.0
    }

    /// A visit the pair move may move: one carer, in exactly one link, not
    /// pinned, placed with a fixed start.
    fn pair_movable(&self, st: &State, v: usize) -> bool {
        self.p.visits[v].carers_required == 1
            && self.links_of.get(&v).is_some_and(|l| l.len() == 1)
            && !self.pinned.contains_key(&v)
            && st.fixed.contains_key(&v)
            && st.on.get(&v).is_some_and(|on| on.len() == 1)
    }

    /// Moves linked pairs jointly (see the module doc) while that improves.
    pub(super) fn pair_moves(&self, st: &mut State, until: Instant, focus: &mut Focus) -> bool {
        let p = self.p;
        let mut improved = false;
        if !self.pairs_together() {
            return false;
        }
        for l in 0..p.links.len() {
            if l % 8 == 0 && Instant::now() >= until {
                break;
            }
            let (a, b) = (p.links[l].first, p.links[l].then);
            if !self.pair_movable(st, a) || !self.pair_movable(st, b) {
                continue;
            }
            let (sa, sb) = (st.on[&a][0], st.on[&b][0]);
            if !focus.has(sa) && !focus.has(sb) {
                continue;
            }
            if self.move_pair(st, l, focus) {
                improved = true;
            }
        }
        improved
    }

    /// Best joint relocation of link `l`'s pair; applies it if it improves.
    fn move_pair(&self, st: &mut State, l: usize, focus: &mut Focus) -> bool {
        let link = &self.p.links[l];
        let (a, b) = (link.first, link.then);
        let (sa, sb) = (st.on[&a][0], st.on[&b][0]);
        let Some((without, gain, late_floor)) = self.without_pair(st, l) else {
            return false;
        };
        let mut found = self.price_pair(&without, l, gain, -EPS - late_floor);
        let Without { reduced, .. } = without;
        // Best first; a change whose full timing disagrees with its price falls to the next.
        while let Some((_, [(ta, pa, start_a), (tb, pb, start_b)])) = found.pop() {
            if self.try_pair(
                st,
                &reduced,
                (a, sa, ta, pa, start_a),
                (b, sb, tb, pb, start_b),
                focus,
            ) {
                return true;
            }
        }
        false
    }

    /// The routes of link `l`'s placed pair without it, re-timed; what that
    /// saves; and the least the worst-lateness term can change by.
    fn without_pair<'s>(&self, st: &'s State, l: usize) -> Option<(Without<'s>, f64, f64)> {
        let link = &self.p.links[l];
        let (a, b) = (link.first, link.then);
        let (sa, sb) = (st.on[&a][0], st.on[&b][0]);
        let mut reduced = Vec::with_capacity(2);
        let mut gain = 0.0;
        for s in [sa, sb] {
            if reduced
                .iter()
                .any(|r: &(usize, Vec<usize>, Sched)| r.0 == s)
            {
                continue;
            }
            let route: Vec<usize> = st.routes[&s]
                .iter()
                .copied()
                .filter(|&x| x != a && x != b)
                .collect();
            let sc = self.retime(st, s, &route)?;
            gain += Self::old_local(st, s) - sc.local_cost;
            reduced.push((s, route, sc));
        }
        // The worst-lateness term can fall at most to what the routes without the pair leave.
        let late: Vec<(usize, Minute)> = reduced.iter().map(|r| (r.0, r.2.max_late)).collect();
        let late_floor = self.worst_late_delta(st, &late);
        Some((Without { st, reduced }, gain, late_floor))
    }

    /// Prices putting link `l`'s pair into the routes `w` shows, against `gain`
    /// (what taking the pair out saved): every change whose estimated cost change
    /// beats `bar` and each one found before it, best last.
    ///
    /// A place's cost only grows with the start it is given (its own lateness,
    /// the stops it pushes), and a place that cannot take a start cannot take a
    /// later one. So a pair of places is cheapest at the earliest start both
    /// allow, when the later of the two becomes reachable: each start is priced
    /// only for the places first reachable there, against the other side's
    /// places, whose cost at the start they were last priced at bounds them
    /// from below and spares most of them.
    fn price_pair(&self, w: &Without, l: usize, gain: f64, mut bar: f64) -> Vec<Placed> {
        let p = self.p;
        let link = &p.links[l];
        let (a, b) = (link.first, link.then);
        let (va, vb) = (&p.visits[a], &p.visits[b]);
        let (lo_b, hi_b) = (link.min_offset, link.max_offset);
        let mut side_a = Side::new(self.pair_slots(w, a));
        let mut side_b = Side::new(self.pair_slots(w, b));
        let (min_a, mut min_b) = (side_a.min_legs(), side_b.min_legs());
        if !link.distinct_carers {
            // `b` right after `a` adds at most its legs beside `a` (no less than 0).
            min_b = min_b.min(0.0);
        }
        let mut found: Vec<Placed> = Vec::new();
        if min_a + min_b - gain >= bar {
            return found;
        }
        // When each place is first reachable, as a start of `a`.
        let t_min = va.earliest_start.max(vb.earliest_start - hi_b);
        let due_a: Vec<Minute> = side_a.slots.iter().map(|x| x.earliest.max(t_min)).collect();
        let due_b: Vec<Minute> = side_b
            .slots
            .iter()
            .map(|x| (x.earliest - hi_b).max(t_min))
            .collect();
        // The places in order of when they become reachable (ties by index, as
        // a scan in index order meets them), walked once: the places reachable
        // before a start are the prefix walked so far, less the dead ones.
        let by_due = |due: &[Minute]| {
            // Sorted as packed integers (`(due, index)` in one u64, due shifted
            // to unsigned so the order is kept): comparing through the index
            // was ~10% of a 300-patient search.
            let mut keys: Vec<u64> = due
                .iter()
                .enumerate()
                .map(|(i, &d)| (u64::from(d.wrapping_sub(Minute::MIN) as u32) << 32) | i as u64)
                .collect();
            keys.sort_unstable();
            keys.into_iter()
                .map(|k| (k & 0xFFFF_FFFF) as usize)
                .collect::<Vec<usize>>()
        };
        let (order_a, order_b) = (by_due(&due_a), by_due(&due_b));
        let (mut next_a, mut next_b) = (0, 0);
        let (mut walked_a, mut walked_b) = (0, 0);
        let mut live_a: Vec<usize> = Vec::with_capacity(order_a.len());
        let mut live_b: Vec<usize> = Vec::with_capacity(order_b.len());
        let mut times: Vec<Minute> = due_a.iter().chain(&due_b).copied().collect();
        times.retain(|&t| {
            t <= va.latest_start + self.tolerance && t + lo_b <= vb.latest_start + self.tolerance
        });
        times.sort_unstable();
        times.dedup();
        let takes_b = self.candidates.get(&b).map_or(&[][..], Vec::as_slice);
        let mut priced_a: Vec<(f64, usize)> = Vec::new(); // cost, slot
        let mut priced_b: Vec<(f64, usize, Minute)> = Vec::new(); // cost, slot, start of `b`
        let mut rest: Vec<(f64, usize)> = Vec::new();
        for &t in &times {
            let tb0 = t + lo_b;
            let own_a = lateness_cost(p, t - va.latest_start);
            let own_b = lateness_cost(p, tb0.max(vb.earliest_start) - vb.latest_start);
            // Lateness only grows with `t`, so no later start can do better either.
            if min_a + own_a + min_b + own_b - gain >= bar {
                break;
            }
            let start_b = |x: &Slot| tb0.max(x.earliest);
            // The places first reachable at `t`, priced.
            priced_a.clear();
            priced_b.clear();
            // The places reachable before `t` (a dead one is dropped when met:
            // it never prices again).
            live_a.extend_from_slice(&order_a[walked_a..next_a]);
            live_b.extend_from_slice(&order_b[walked_b..next_b]);
            (walked_a, walked_b) = (next_a, next_b);
            let (from_a, from_b) = (next_a, next_b);
            while next_a < order_a.len() && due_a[order_a[next_a]] == t {
                next_a += 1;
            }
            while next_b < order_b.len() && due_b[order_b[next_b]] == t {
                next_b += 1;
            }
            for &i in &order_a[from_a..next_a] {
                if let Some(c) = side_a.price(self, w, i, a, t) {
                    priced_a.push((c, i));
                }
            }
            for &j in &order_b[from_b..next_b] {
                let tb = start_b(&side_b.slots[j]);
                if tb <= t + hi_b
                    && let Some(c) = side_b.price(self, w, j, b, tb)
                {
                    priced_b.push((c, j, tb));
                }
            }
            let new_a = priced_a.len();
            let new_b = priced_b.len();
            let cheapest = |v: &[(f64, usize)]| v.iter().map(|x| x.0).fold(f64::INFINITY, f64::min);
            let new_a_min = cheapest(&priced_a);
            let new_b_min = priced_b.iter().map(|x| x.0).fold(f64::INFINITY, f64::min);
            // The places reachable before, where a new place on the other side
            // could make a pair that beats `bar`: lower bound first.
            if new_b_min < f64::INFINITY {
                rest.clear();
                live_a.retain(|&i| side_a.floor[i] < f64::INFINITY);
                for &i in &live_a {
                    let lb = side_a.floor(i, own_a);
                    if lb + new_b_min - gain < bar {
                        rest.push((lb, i));
                    }
                }
                rest.sort_unstable_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
                for &(lb, i) in &rest {
                    if lb + new_b_min - gain >= bar {
                        break;
                    }
                    if let Some(c) = side_a.price(self, w, i, a, t) {
                        priced_a.push((c, i));
                    }
                }
            }
            if new_a_min < f64::INFINITY {
                rest.clear();
                live_b.retain(|&j| side_b.floor[j] < f64::INFINITY);
                for &j in &live_b {
                    let tb = start_b(&side_b.slots[j]);
                    let lb = side_b.floor(j, lateness_cost(p, tb - vb.latest_start));
                    if lb + new_a_min - gain < bar {
                        rest.push((lb, j));
                    }
                }
                rest.sort_unstable_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
                for &(lb, j) in &rest {
                    if lb + new_a_min - gain >= bar {
                        break;
                    }
                    let tb = start_b(&side_b.slots[j]);
                    if let Some(c) = side_b.price(self, w, j, b, tb) {
                        priced_b.push((c, j, tb));
                    }
                }
            }
            if !link.distinct_carers {
                // Both by one carer, `b` right after `a` (the two services of a
                // visit with a gap between them: no travel in between).
                for &(_, i) in &priced_a[..new_a] {
                    let x = &side_a.slots[i];
                    if !takes_b.contains(&x.shift) {
                        continue;
                    }
                    let ready = t + va.duration + self.travel(x.carer, va.location, vb.location);
                    let tb = ready.max(tb0).max(vb.earliest_start);
                    if tb > t + hi_b || x.legs + own_a - gain >= bar {
                        continue;
                    }
                    if let Some(c) = self.fixed_block_cost(w, x, a, t, Some((b, tb)))
                        && c - gain < bar
                    {
                        bar = c - gain;
                        found.push((bar, [(x.shift, x.pos, t), (x.shift, x.pos + 1, tb)]));
                    }
                }
            }
            if new_b == 0 && new_a == 0 {
                continue;
            }
            priced_a.sort_by(|x, y| x.0.total_cmp(&y.0));
            priced_b.sort_by(|x, y| x.0.total_cmp(&y.0));
            // The cheapest compatible pair: different shifts, different carers when the link says so.
            for &(ca, i) in &priced_a {
                if ca + priced_b.first().map_or(f64::INFINITY, |y| y.0) - gain >= bar {
                    break;
                }
                let x = &side_a.slots[i];
                for &(cb, j, tb) in &priced_b {
                    let est = ca + cb - gain;
                    if est >= bar {
                        break;
                    }
                    let y = &side_b.slots[j];
                    if x.shift == y.shift || (link.distinct_carers && x.carer == y.carer) {
                        continue;
                    }
                    bar = est;
                    found.push((est, [(x.shift, x.pos, t), (y.shift, y.pos, tb)]));
                    break;
                }
            }
        }
        found
    }

    /// [`Part::price_pair`] as it was before the places were walked in order of
    /// when they become reachable (each start scanned every place): the
    /// reference the walk is tested against, change for change.
    #[cfg(test)]
    fn price_pair_scan(&self, w: &Without, l: usize, gain: f64, mut bar: f64) -> Vec<Placed> {
        let p = self.p;
        let link = &p.links[l];
        let (a, b) = (link.first, link.then);
        let (va, vb) = (&p.visits[a], &p.visits[b]);
        let (lo_b, hi_b) = (link.min_offset, link.max_offset);
        let mut side_a = Side::new(self.pair_slots(w, a));
        let mut side_b = Side::new(self.pair_slots(w, b));
        let (min_a, mut min_b) = (side_a.min_legs(), side_b.min_legs());
        if !link.distinct_carers {
            // `b` right after `a` adds at most its legs beside `a` (no less than 0).
            min_b = min_b.min(0.0);
        }
        let mut found: Vec<Placed> = Vec::new();
        if min_a + min_b - gain >= bar {
            return found;
        }
        // When each place is first reachable, as a start of `a`.
        let t_min = va.earliest_start.max(vb.earliest_start - hi_b);
        let due_a: Vec<Minute> = side_a.slots.iter().map(|x| x.earliest.max(t_min)).collect();
        let due_b: Vec<Minute> = side_b
            .slots
            .iter()
            .map(|x| (x.earliest - hi_b).max(t_min))
            .collect();
        let mut times: Vec<Minute> = due_a.iter().chain(&due_b).copied().collect();
        times.retain(|&t| {
            t <= va.latest_start + self.tolerance && t + lo_b <= vb.latest_start + self.tolerance
        });
        times.sort_unstable();
        times.dedup();
        let takes_b = self.candidates.get(&b).map_or(&[][..], Vec::as_slice);
        let mut priced_a: Vec<(f64, usize)> = Vec::new(); // cost, slot
        let mut priced_b: Vec<(f64, usize, Minute)> = Vec::new(); // cost, slot, start of `b`
        let mut rest: Vec<(f64, usize)> = Vec::new();
        for &t in &times {
            let tb0 = t + lo_b;
            let own_a = lateness_cost(p, t - va.latest_start);
            let own_b = lateness_cost(p, tb0.max(vb.earliest_start) - vb.latest_start);
            // Lateness only grows with `t`, so no later start can do better either.
            if min_a + own_a + min_b + own_b - gain >= bar {
                break;
            }
            let start_b = |x: &Slot| tb0.max(x.earliest);
            // The places first reachable at `t`, priced.
            priced_a.clear();
            priced_b.clear();
            for i in (0..due_a.len()).filter(|&i| due_a[i] == t) {
                if let Some(c) = side_a.price(self, w, i, a, t) {
                    priced_a.push((c, i));
                }
            }
            for j in (0..due_b.len()).filter(|&j| due_b[j] == t) {
                let tb = start_b(&side_b.slots[j]);
                if tb <= t + hi_b
                    && let Some(c) = side_b.price(self, w, j, b, tb)
                {
                    priced_b.push((c, j, tb));
                }
            }
            let new_a = priced_a.len();
            let new_b = priced_b.len();
            let cheapest = |v: &[(f64, usize)]| v.iter().map(|x| x.0).fold(f64::INFINITY, f64::min);
            let new_a_min = cheapest(&priced_a);
            let new_b_min = priced_b.iter().map(|x| x.0).fold(f64::INFINITY, f64::min);
            // The places reachable before, where a new place on the other side
            // could make a pair that beats `bar`: lower bound first.
            if new_b_min < f64::INFINITY {
                rest.clear();
                for i in (0..due_a.len()).filter(|&i| due_a[i] < t) {
                    let lb = side_a.floor(i, own_a);
                    if lb + new_b_min - gain < bar {
                        rest.push((lb, i));
                    }
                }
                rest.sort_by(|x, y| x.0.total_cmp(&y.0));
                for &(lb, i) in &rest {
                    if lb + new_b_min - gain >= bar {
                        break;
                    }
                    if let Some(c) = side_a.price(self, w, i, a, t) {
                        priced_a.push((c, i));
                    }
                }
            }
            if new_a_min < f64::INFINITY {
                rest.clear();
                for j in (0..due_b.len()).filter(|&j| due_b[j] < t) {
                    let tb = start_b(&side_b.slots[j]);
                    let lb = side_b.floor(j, lateness_cost(p, tb - vb.latest_start));
                    if lb + new_a_min - gain < bar {
                        rest.push((lb, j));
                    }
                }
                rest.sort_by(|x, y| x.0.total_cmp(&y.0));
                for &(lb, j) in &rest {
                    if lb + new_a_min - gain >= bar {
                        break;
                    }
                    let tb = start_b(&side_b.slots[j]);
                    if let Some(c) = side_b.price(self, w, j, b, tb) {
                        priced_b.push((c, j, tb));
                    }
                }
            }
            if !link.distinct_carers {
                // Both by one carer, `b` right after `a` (the two services of a
                // visit with a gap between them: no travel in between).
                for &(_, i) in &priced_a[..new_a] {
                    let x = &side_a.slots[i];
                    if !takes_b.contains(&x.shift) {
                        continue;
                    }
                    let ready = t + va.duration + self.travel(x.carer, va.location, vb.location);
                    let tb = ready.max(tb0).max(vb.earliest_start);
                    if tb > t + hi_b || x.legs + own_a - gain >= bar {
                        continue;
                    }
                    if let Some(c) = self.fixed_block_cost(w, x, a, t, Some((b, tb)))
                        && c - gain < bar
                    {
                        bar = c - gain;
                        found.push((bar, [(x.shift, x.pos, t), (x.shift, x.pos + 1, tb)]));
                    }
                }
            }
            if new_b == 0 && new_a == 0 {
                continue;
            }
            priced_a.sort_by(|x, y| x.0.total_cmp(&y.0));
            priced_b.sort_by(|x, y| x.0.total_cmp(&y.0));
            // The cheapest compatible pair: different shifts, different carers when the link says so.
            for &(ca, i) in &priced_a {
                if ca + priced_b.first().map_or(f64::INFINITY, |y| y.0) - gain >= bar {
                    break;
                }
                let x = &side_a.slots[i];
                for &(cb, j, tb) in &priced_b {
                    let est = ca + cb - gain;
                    if est >= bar {
                        break;
                    }
                    let y = &side_b.slots[j];
                    if x.shift == y.shift || (link.distinct_carers && x.carer == y.carer) {
                        continue;
                    }
                    bar = est;
                    found.push((est, [(x.shift, x.pos, t), (y.shift, y.pos, tb)]));
                    break;
                }
            }
        }
        found
    }

    /// [`Part::price_pair`] the long way, every start against every place on
    /// both sides: the reference the pricing is tested against.
    #[cfg(test)]
    fn price_pair_every_start(
        &self,
        w: &Without,
        l: usize,
        gain: f64,
        mut bar: f64,
    ) -> Vec<Placed> {
        let p = self.p;
        let link = &p.links[l];
        let (a, b) = (link.first, link.then);
        let slots_a = self.pair_slots(w, a);
        let slots_b = self.pair_slots(w, b);
        let min_legs = |v: &[Slot]| v.iter().map(|x| x.legs).fold(f64::INFINITY, f64::min);
        let (min_a, mut min_b) = (min_legs(&slots_a), min_legs(&slots_b));
        if !link.distinct_carers {
            // `b` right after `a` adds at most its legs beside `a` (no less than 0).
            min_b = min_b.min(0.0);
        }
        let mut found: Vec<Placed> = Vec::new();
        if min_a + min_b - gain >= bar {
            return found;
        }
        let (va, vb) = (&p.visits[a], &p.visits[b]);
        let (lo_b, hi_b) = (link.min_offset, link.max_offset);
        // Starts of `a` worth trying: where a position of either side is first reachable.
        let mut times: Vec<Minute> = slots_a.iter().map(|x| x.earliest).collect();
        for x in &slots_b {
            times.push((x.earliest - hi_b).max(va.earliest_start));
            times.push((x.earliest - lo_b).max(va.earliest_start));
        }
        times.retain(|&t| {
            t <= va.latest_start + self.tolerance
                && t + lo_b <= vb.latest_start + self.tolerance
                && t + hi_b >= vb.earliest_start
        });
        times.sort_unstable();
        times.dedup();
        let mut side_a: Vec<(f64, usize, usize, usize, Minute)> = Vec::new(); // cost, carer, shift, pos, start
        let mut side_b: Vec<(f64, usize, usize, usize, Minute)> = Vec::new();
        for &t in &times {
            let tb0 = t + lo_b;
            let own_a = lateness_cost(p, t - va.latest_start);
            let own_b = lateness_cost(p, tb0.max(vb.earliest_start) - vb.latest_start);
            // Lateness only grows with `t`, so no later start can do better either.
            if min_a + own_a + min_b + own_b - gain >= bar {
                break;
            }
            side_a.clear();
            for x in slots_a.iter().filter(|x| x.earliest <= t) {
                if x.legs + own_a + min_b + own_b - gain >= bar {
                    continue;
                }
                if let Some(c) = self.fixed_insert_cost(w, x, a, t) {
                    side_a.push((c, x.carer, x.shift, x.pos, t));
                }
            }
            if side_a.is_empty() {
                continue;
            }
            let best_a = side_a.iter().map(|x| x.0).fold(f64::INFINITY, f64::min);
            side_b.clear();
            for x in &slots_b {
                let tb = tb0.max(x.earliest);
                if tb > t + hi_b {
                    continue;
                }
                let own = lateness_cost(p, tb - vb.latest_start);
                if best_a + x.legs + own - gain >= bar {
                    continue;
                }
                if let Some(c) = self.fixed_insert_cost(w, x, b, tb) {
                    side_b.push((c, x.carer, x.shift, x.pos, tb));
                }
            }
            if !link.distinct_carers {
                // Both by one carer, `b` right after `a` (the two services of a
                // visit with a gap between them: no travel in between).
                let takes_b = self.candidates.get(&b).map_or(&[][..], Vec::as_slice);
                for x in slots_a
                    .iter()
                    .filter(|x| x.earliest <= t && takes_b.contains(&x.shift))
                {
                    let ready = t + va.duration + self.travel(x.carer, va.location, vb.location);
                    let tb = ready.max(tb0).max(vb.earliest_start);
                    if tb > t + hi_b || x.legs + own_a - gain >= bar {
                        continue;
                    }
                    if let Some(c) = self.fixed_block_cost(w, x, a, t, Some((b, tb)))
                        && c - gain < bar
                    {
                        bar = c - gain;
                        found.push((bar, [(x.shift, x.pos, t), (x.shift, x.pos + 1, tb)]));
                    }
                }
            }
            side_a.sort_by(|x, y| x.0.total_cmp(&y.0));
            side_b.sort_by(|x, y| x.0.total_cmp(&y.0));
            // The cheapest compatible pair: different shifts, different carers when the link says so.
            for x in &side_a {
                if x.0 + side_b.first().map_or(f64::INFINITY, |y| y.0) - gain >= bar {
                    break;
                }
                for y in &side_b {
                    let est = x.0 + y.0 - gain;
                    if est >= bar {
                        break;
                    }
                    if x.2 == y.2 || (link.distinct_carers && x.1 == y.1) {
                        continue;
                    }
                    bar = est;
                    found.push((est, [(x.2, x.3, x.4), (y.2, y.3, y.4)]));
                    break;
                }
            }
        }
        found
    }

    /// Where `v` could go: every position of every candidate shift (on the
    /// routes without the pair) it can reach before its latest start.
    fn pair_slots(&self, w: &Without, v: usize) -> Vec<Slot> {
        let p = self.p;
        let visit = &p.visits[v];
        let mut out = Vec::new();
        for &s in self.candidates.get(&v).map(Vec::as_slice).unwrap_or(&[]) {
            let shift = &p.shifts[s];
            let (route, sched) = w.route(s);
            if !route.is_empty() && sched.is_none_or(|sc| sc.starts.len() != route.len()) {
                continue;
            }
            let room = self.carer_room(w.st, shift.carer, shift.day, v);
            for pos in 0..=route.len() {
                let ready = match (pos, sched) {
                    (0, _) | (_, None) => shift.start,
                    (k, Some(sc)) => sc.starts[k - 1] + p.visits[route[k - 1]].duration,
                };
                let legs = self.insertion_legs(s, route, v, pos);
                let earliest = (ready + legs.t_in).max(visit.earliest_start);
                if earliest > visit.latest_start + self.tolerance {
                    break;
                }
                // The carer-level rules and costs (hours, a new carer for the person).
                let Ok(global) = self.global_delta(&room, legs.work) else {
                    continue;
                };
                out.push(Slot {
                    shift: s,
                    carer: shift.carer,
                    pos,
                    earliest,
                    legs: legs.local + global,
                });
            }
        }
        out
    }

    /// Cost change of putting `v` at `slot` with its start fixed at `t`: the
    /// legs, `v`'s lateness and the lateness the stops after it gain as they
    /// are pushed (until one keeps its start). `None` when a stop after it can
    /// no longer keep its anchored start or window, or the shift ends first.
    /// Exact for routes timed as early as possible; the move re-times in full
    /// before it commits.
    fn fixed_insert_cost(&self, w: &Without, slot: &Slot, v: usize, t: Minute) -> Option<f64> {
        self.fixed_block_cost(w, slot, v, t, None)
    }

    /// [`Part::fixed_insert_cost`] with `then = (visit, start)` made right
    /// after `v` by the same carer (both services of a link that allows one carer).
    fn fixed_block_cost(
        &self,
        w: &Without,
        slot: &Slot,
        v: usize,
        t: Minute,
        then: Option<(usize, Minute)>,
    ) -> Option<f64> {
        let p = self.p;
        let visit = &p.visits[v];
        if t < slot.earliest || t > visit.latest_start + self.tolerance {
            return None;
        }
        let shift = &p.shifts[slot.shift];
        let (route, sched) = w.route(slot.shift);
        let mut cost = slot.legs + lateness_cost(p, t - visit.latest_start);
        let mut ready = t + visit.duration;
        let mut loc = visit.location;
        if let Some((b, tb)) = then {
            let vb = &p.visits[b];
            if ready + self.travel(shift.carer, loc, vb.location) > tb
                || tb < vb.earliest_start
                || tb > vb.latest_start + self.tolerance
            {
                return None;
            }
            // The block's legs: v -> b -> next instead of v -> next.
            let mut with_v = route.to_vec();
            with_v.insert(slot.pos, v);
            let legs = self.insertion_legs(slot.shift, &with_v, b, slot.pos + 1);
            let room = self.carer_room(w.st, shift.carer, shift.day, b);
            cost += legs.local
                + self.global_delta(&room, legs.work).ok()?
                + lateness_cost(p, tb - vb.latest_start);
            ready = tb + vb.duration;
            loc = vb.location;
        }
        for (k, &x) in route.iter().enumerate().skip(slot.pos) {
            let vx = &p.visits[x];
            let old = sched?.starts[k];
            let arrival = ready + self.travel(shift.carer, loc, vx.location);
            let start = match self.fixed_start(w.st, x) {
                Some(f) if arrival > f => return None,
                Some(f) => f,
                None => arrival.max(vx.earliest_start),
            };
            if start <= old {
                return Some(cost);
            }
            if start > vx.latest_start + self.tolerance {
                return None;
            }
            cost +=
                lateness_cost(p, start - vx.latest_start) - lateness_cost(p, old - vx.latest_start);
            ready = start + vx.duration;
            loc = vx.location;
        }
        (ready + self.travel(shift.carer, loc, shift.end_loc) <= shift.end).then_some(cost)
    }

    /// Re-times the routes of a priced pair change in full and applies it if
    /// the whole objective falls.
    fn try_pair(
        &self,
        st: &mut State,
        reduced: &[(usize, Vec<usize>, Sched)],
        (a, from_a, to_a, pos_a, start_a): (usize, usize, usize, usize, Minute),
        (b, from_b, to_b, pos_b, start_b): (usize, usize, usize, usize, Minute),
        focus: &mut Focus,
    ) -> bool {
        let mut routes: Vec<(usize, Vec<usize>)> =
            reduced.iter().map(|r| (r.0, r.1.clone())).collect();
        for (v, s, pos) in [(a, to_a, pos_a), (b, to_b, pos_b)] {
            let i = match routes.iter().position(|r| r.0 == s) {
                Some(i) => i,
                None => {
                    routes.push((s, st.routes.get(&s).map(|r| r.to_vec()).unwrap_or_default()));
                    routes.len() - 1
                }
            };
            let r = &mut routes[i].1;
            r.insert(pos.min(r.len()), v);
        }
        let fixed = |x: usize| {
            if x == a {
                Some(start_a)
            } else if x == b {
                Some(start_b)
            } else {
                self.fixed_start(st, x)
            }
        };
        let mut scheds = Vec::with_capacity(routes.len());
        for (s, r) in routes {
            let sc = if r.is_empty() {
                Sched::default()
            } else {
                match self.simulate(s, &r, &fixed) {
                    Some(sc) => sc,
                    None => return false,
                }
            };
            scheds.push((s, r, sc));
        }
        let late: Vec<(usize, Minute)> = scheds.iter().map(|r| (r.0, r.2.max_late)).collect();
        let late = self.worst_late_delta(st, &late);
        let ch = Change {
            routes: scheds,
            moved: vec![(a, from_a, to_a), (b, from_b, to_b)],
        };
        match self.change_delta(st, &ch).map(|d| d + late) {
            Some(d) if d < -EPS => {
                focus.add(ch.routes.iter().map(|r| r.0));
                self.commit(st, ch);
                st.fixed.insert(a, start_a);
                st.fixed.insert(b, start_b);
                true
            }
            _ => false,
        }
    }
}

impl Part<'_> {
    /// `v`'s link partner when both are unplaced single-carer visits of one
    /// link each, not pinned, so recreate can insert them together.
    pub(super) fn unplaced_partner(&self, st: &State, v: usize) -> Option<(usize, usize)> {
        let one = |x: usize| {
            self.p.visits[x].carers_required == 1
                && !self.pinned.contains_key(&x)
                && !st.on.contains_key(&x)
                && self.links_of.get(&x).is_some_and(|l| l.len() == 1)
        };
        if !one(v) {
            return None;
        }
        let l = self.links_of[&v][0];
        let link = &self.p.links[l];
        let w = if link.first == v {
            link.then
        } else {
            link.first
        };
        (one(w) && self.visit_row.get(w).is_some_and(|&r| r != u32::MAX)).then_some((l, w))
    }

    /// Inserts `v` together with its unplaced link partner (see
    /// [`Part::unplaced_partner`]) at the cheapest common start, as the pair
    /// move prices it; each half is then priced in full at its place
    /// (carer-level rules included) before it is applied. Returns the partner
    /// when both went in; `None` leaves the state as it was.
    pub(super) fn insert_pair(&self, st: &mut State, v: usize) -> Option<usize> {
        let (l, w) = self.unplaced_partner(st, v)?;
        let (a, b) = (self.p.links[l].first, self.p.links[l].then);
        let found = self.price_pair(
            &Without {
                st,
                reduced: Vec::new(),
            },
            l,
            0.0,
            f64::INFINITY,
        );
        let (_, [(sa, pa, ta), (sb, pb, tb)]) = *found.last()?;
        let mut blocks = Vec::new();
        let (cost, pos, sched) = self.best_in_shift(st, sa, a, Some(ta), Some(pa), &mut blocks)?;
        if sa != sb {
            self.best_in_shift(st, sb, b, Some(tb), Some(pb), &mut blocks)?;
        }
        self.apply(
            st,
            a,
            super::Insertion {
                cost,
                parts: vec![(sa, pos, sched)],
                fixed: Some(ta),
            },
        );
        // Priced again with `a` in place (the carer-level rules see its work).
        let placed_b = st
            .on
            .contains_key(&a)
            .then(|| self.best_in_shift(st, sb, b, Some(tb), Some(pb), &mut blocks));
        match placed_b.flatten() {
            Some((cost, pos, sched)) => {
                self.apply(
                    st,
                    b,
                    super::Insertion {
                        cost,
                        parts: vec![(sb, pos, sched)],
                        fixed: Some(tb),
                    },
                );
                st.on.contains_key(&b).then_some(w)
            }
            None => {
                if st.on.contains_key(&a) {
                    self.remove(st, a);
                }
                None
            }
        }
    }
}
