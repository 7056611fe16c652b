//! Ejection repair for the last unplaced visits.
//!
//! Ruin-and-recreate places most visits, but on a tight morning peak the last one
//! or two often need a specific visit moved out of the way: one that only fits
//! elsewhere if something else moves too. Random ruins find that rarely. Here,
//! for an unplaced visit, sets of visits in its way are taken out in turn (each
//! visit near its window alone, then whole stretches of a candidate shift around
//! the window, two shifts at once for a double-handed visit, then pairs), the
//! visit goes in, and what was taken out is re-inserted where it fits best or,
//! failing that, by an ejection of its own (a chain, after the ejection pool of
//! Nagata & Bräysy's route minimisation). A change is kept only when it lowers
//! the whole cost, so an unplaced visit is never traded for a more urgent one.

use super::{Part, State};
use crate::rota::objective::unplaced_penalty;
use std::collections::HashSet;
use std::time::Instant;

/// Visits looked at one at a time per unplaced visit (nearest in time first).
const EJECT_SINGLES: usize = 24;
/// Of those, how many are combined in pairs (top level only).
const EJECT_PAIRED: usize = 12;
/// Largest stretch of one or two shifts taken out at once.
const STRETCH_MAX: usize = 6;
/// Trial ejections per unplaced visit, chains included.
const TRIALS_PER_VISIT: u32 = 400;
/// How deep a chain goes: the visit, then the visits it ejected.
const DEPTH: u32 = 2;

/// One repair's limits.
struct Budget {
    trials: u32,
    until: Instant,
}

impl Budget {
    fn spend(&mut self) -> bool {
        if self.trials == 0 || Instant::now() >= self.until {
            return false;
        }
        self.trials -= 1;
        true
    }
}

impl Part<'_> {
    /// Tries to place each unplaced visit (except `skip`) by ejecting visits in its
    /// way. Returns whether the state changed (then its cost is lower).
    pub fn eject_repair(&self, st: &mut State, skip: &HashSet<usize>, until: Instant) -> bool {
        let mut open: Vec<usize> = st
            .unplaced
            .iter()
            .copied()
            .filter(|v| !skip.contains(v) && !self.pinned.contains_key(v))
            .collect();
        // Most costly to leave out first.
        open.sort_by(|&a, &b| {
            unplaced_penalty(self.p, b)
                .total_cmp(&unplaced_penalty(self.p, a))
                .then(a.cmp(&b))
        });
        let mut cost = st.cost(self);
        let mut changed = false;
        for u in open {
            if Instant::now() >= until {
                break;
            }
            if st.on.contains_key(&u) {
                continue;
            }
            let mut budget = Budget {
                trials: TRIALS_PER_VISIT,
                until,
            };
            if let Some((better, c)) = self.repair_one(st, u, cost, DEPTH, &mut budget) {
                *st = better;
                cost = c;
                changed = true;
            }
        }
        changed
    }

    /// A state with `u` placed and a cost below `base`, or `None`. At the top
    /// level single ejections compete for the best; elsewhere the first
    /// improvement wins.
    fn repair_one(
        &self,
        st: &State,
        u: usize,
        base: f64,
        depth: u32,
        budget: &mut Budget,
    ) -> Option<(State, f64)> {
        let top = depth == DEPTH;
        let singles = self.in_the_way(st, u);
        let mut best: Option<(State, f64)> = None;
        for &w in singles.iter().take(EJECT_SINGLES) {
            if !budget.spend() {
                return best;
            }
            if let Some((trial, c)) = self.try_ejection(st, u, &[w], depth, budget)
                && c < best.as_ref().map_or(base, |b| b.1) - 1e-9
            {
                best = Some((trial, c));
                if !top {
                    return best;
                }
            }
        }
        if best.is_some() {
            return best;
        }
        for set in self.stretches(st, u) {
            if !budget.spend() {
                return None;
            }
            if let Some((trial, c)) = self.try_ejection(st, u, &set, depth, budget)
                && c < base - 1e-9
            {
                return Some((trial, c));
            }
        }
        if !top {
            return None;
        }
        let paired = &singles[..singles.len().min(EJECT_PAIRED)];
        for (i, &a) in paired.iter().enumerate() {
            for &b in &paired[i + 1..] {
                if !budget.spend() {
                    return None;
                }
                if let Some((trial, c)) = self.try_ejection(st, u, &[a, b], 1, budget)
                    && c < base - 1e-9
                {
                    return Some((trial, c));
                }
            }
        }
        None
    }

    /// Movable visits of `u`'s candidate shifts that overlap the span `u` could
    /// occupy (with an hour either side for travel), nearest in time first.
    fn in_the_way(&self, st: &State, u: usize) -> Vec<usize> {
        let p = self.p;
        let uv = &p.visits[u];
        let (lo, hi) = (uv.earliest_start, uv.latest_start + self.tolerance);
        let mut near: Vec<(i64, usize)> = Vec::new();
        for &s in self.candidates.get(&u).map(Vec::as_slice).unwrap_or(&[]) {
            let (Some(route), Some(sc)) = (st.routes.get(&s), st.scheds.get(&s)) else {
                continue;
            };
            for (k, &w) in route.iter().enumerate() {
                if !self.ejectable(w) {
                    continue;
                }
                let (start, end) = (sc.starts[k], sc.starts[k] + p.visits[w].duration);
                if end < lo - 60 || start > hi + uv.duration + 60 {
                    continue;
                }
                let gap = if start > hi {
                    start - hi
                } else {
                    (lo - end).max(0)
                };
                near.push((i64::from(gap), w));
            }
        }
        near.sort_unstable();
        let mut seen = HashSet::new();
        near.retain(|x| seen.insert(x.1));
        near.into_iter().map(|x| x.1).collect()
    }

    /// Whole stretches of candidate shifts around `u`'s window, widening: one
    /// shift's stretch, or two shifts' for a double-handed visit (an exact-time
    /// visit often needs both neighbours moved).
    fn stretches(&self, st: &State, u: usize) -> Vec<Vec<usize>> {
        let p = self.p;
        let uv = &p.visits[u];
        let (lo, hi) = (uv.earliest_start, uv.latest_start + self.tolerance);
        let routed: Vec<usize> = self
            .candidates
            .get(&u)
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .copied()
            .filter(|s| st.routes.contains_key(s))
            .collect();
        let stretch = |s: usize, margin: i32| -> Vec<usize> {
            let (Some(route), Some(sc)) = (st.routes.get(&s), st.scheds.get(&s)) else {
                return Vec::new();
            };
            route
                .iter()
                .zip(&sc.starts)
                .filter(|&(&w, &start)| {
                    self.ejectable(w)
                        && start + p.visits[w].duration > lo - margin
                        && start < hi + uv.duration + margin
                })
                .map(|(&w, _)| w)
                .collect()
        };
        let mut sets: Vec<Vec<usize>> = Vec::new();
        for margin in [0, 30, 60] {
            if uv.carers_required > 1 {
                for (i, &a) in routed.iter().enumerate() {
                    for &b in &routed[i + 1..] {
                        let mut set = stretch(a, margin);
                        set.extend(stretch(b, margin));
                        sets.push(set);
                    }
                }
            } else {
                sets.extend(routed.iter().map(|&s| stretch(s, margin)));
            }
        }
        for set in &mut sets {
            set.sort_unstable();
            set.dedup();
        }
        sets.retain(|set| !set.is_empty() && set.len() <= STRETCH_MAX);
        let mut seen = HashSet::new();
        sets.retain(|set| seen.insert(set.clone()));
        sets
    }

    /// Linked and pinned visits stay where they are.
    fn ejectable(&self, w: usize) -> bool {
        !self.pinned.contains_key(&w) && !self.links_of.contains_key(&w)
    }

    /// `st` with `out` taken out, `u` put in and `out` re-inserted hardest first
    /// where each fits best, or by a further ejection while `depth` allows; `None`
    /// if `u` does not fit.
    fn try_ejection(
        &self,
        st: &State,
        u: usize,
        out: &[usize],
        depth: u32,
        budget: &mut Budget,
    ) -> Option<(State, f64)> {
        let mut trial = st.clone();
        for &w in out {
            if !self.remove(&mut trial, w) {
                return None;
            }
        }
        let mut blocks = Vec::new();
        let ins = self.best_insertion(&trial, u, &mut blocks)?;
        self.apply(&mut trial, u, ins);
        let mut back = out.to_vec();
        self.sort_hardest_first(&mut back);
        for w in back {
            if let Some(ins) = self.best_insertion(&trial, w, &mut blocks) {
                self.apply(&mut trial, w, ins);
            } else if depth > 1 {
                let here = trial.cost(self);
                if let Some((deeper, _)) = self.repair_one(&trial, w, here, depth - 1, budget) {
                    trial = deeper;
                }
            }
        }
        let c = trial.cost(self);
        Some((trial, c))
    }
}
