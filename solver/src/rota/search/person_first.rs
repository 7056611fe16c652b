//! A continuity-first rota: each person's visits are placed together, on as
//! few carers as the routes allow.
//!
//! Hardest-first insertion interleaves people, so a person's first visits go
//! to whichever carer is nearest that day and later days, full by then, add
//! new carers (team week: 159 distinct carer-person pairs after construction,
//! against ~122 after a 10 s search; a distinct carer costs 120 there, most of
//! the objective). Here each person in turn keeps their known carers for what
//! those carers can fit, and when a new carer is needed takes the one with the
//! lowest cost per visit it can take (the greedy set-cover rule), so one
//! carer who can do the whole week beats one who is nearest on Monday.

use super::{Part, State};
use crate::model::PersonId;
use crate::rota::objective::unplaced_penalty;
use crate::rota::rules::continuity_cap::ContinuityCap;
use std::cmp::Reverse;
use std::time::Instant;

impl Part<'_> {
    /// Places `order` person by person (see the module docs), in rounds: people
    /// with visits a round leaves unplaced go first in the next. Keeps the
    /// cheapest round.
    pub fn construct_by_person(
        &self,
        st: &mut State,
        order: &[usize],
        rounds: usize,
        until: Instant,
    ) {
        let p = self.p;
        let mut people: Vec<(usize, Vec<usize>)> = Vec::new();
        for &v in order {
            let u = p.visits[v].service_user;
            match people.iter_mut().find(|(x, _)| *x == u) {
                Some((_, vs)) => vs.push(v),
                None => people.push((u, vec![v])),
            }
        }
        // Hardest people first: double-handed visits, fewest candidate shifts
        // for any visit, most visits.
        people.sort_by_key(|(u, vs)| {
            let two = vs.iter().any(|&v| p.visits[v].carers_required > 1);
            let scarce = vs
                .iter()
                .map(|v| self.candidates.get(v).map_or(0, Vec::len))
                .min()
                .unwrap_or(0);
            (Reverse(two), scarce, Reverse(vs.len()), *u)
        });
        let start = st.clone();
        let mut best: Option<(f64, State)> = None;
        let mut front: Vec<usize> = Vec::new();
        for round in 0..rounds.max(1) {
            if round > 0 && Instant::now() >= until {
                break;
            }
            let mut trial = start.clone();
            let seq: Vec<usize> = front
                .iter()
                .copied()
                .chain((0..people.len()).filter(|k| !front.contains(k)))
                .collect();
            for k in seq {
                self.place_person(&mut trial, &people[k].1);
            }
            let cost = trial.cost(self);
            let left: Vec<usize> = (0..people.len())
                .filter(|&k| {
                    !front.contains(&k) && people[k].1.iter().any(|v| !trial.on.contains_key(v))
                })
                .collect();
            if best.as_ref().is_none_or(|b| cost < b.0) {
                best = Some((cost, trial));
            }
            if left.is_empty() {
                break;
            }
            let mut next = left;
            next.extend(front);
            front = next;
        }
        if let Some((_, b)) = best {
            *st = b;
        }
    }

    /// Places one person's visits: anchored ones (double-handed, linked) first
    /// wherever is cheapest, then the rest in time order on carers the person
    /// already sees; what those cannot take goes to the new carer with the
    /// lowest cost per visit placed, repeated while the continuity cap allows.
    pub(crate) fn place_person(&self, st: &mut State, visits: &[usize]) {
        let p = self.p;
        let Some(&v0) = visits.first() else {
            return;
        };
        let u = p.visits[v0].service_user;
        let cap = ContinuityCap::cap(p, PersonId(u));
        let mut blocks = Vec::new();
        let mut anchored: Vec<usize> = visits
            .iter()
            .copied()
            .filter(|&v| self.anchored(v) && !st.on.contains_key(&v))
            .collect();
        self.sort_hardest_first(&mut anchored);
        for v in anchored {
            if let Some(ins) = self.best_insertion(st, v, &mut blocks) {
                self.apply(st, v, ins);
            }
        }
        let mut rest: Vec<usize> = visits
            .iter()
            .copied()
            .filter(|&v| !self.anchored(v) && !st.on.contains_key(&v))
            .collect();
        rest.sort_by_key(|&v| (p.visits[v].earliest_start, v));
        loop {
            let known = self.carers_seen(st, u);
            rest = self.insert_among(st, rest, &|c| known.contains(&c));
            if rest.is_empty() || known.len() >= cap {
                return;
            }
            let mut new: Vec<usize> = rest
                .iter()
                .flat_map(|v| self.candidates.get(v).map(Vec::as_slice).unwrap_or(&[]))
                .map(|&s| p.shifts[s].carer)
                .filter(|c| !known.contains(c))
                .collect();
            new.sort_unstable();
            new.dedup();
            let base = st.cost(self);
            let mut pick: Option<(f64, State, Vec<usize>)> = None;
            for c in new {
                let mut trial = st.clone();
                let left = self.insert_among(&mut trial, rest.clone(), &|x| x == c);
                let placed: Vec<usize> =
                    rest.iter().copied().filter(|v| !left.contains(v)).collect();
                if placed.is_empty() {
                    continue;
                }
                let gained: f64 = placed.iter().map(|&v| unplaced_penalty(p, v)).sum();
                let per_visit = (trial.cost(self) + gained - base) / placed.len() as f64;
                if pick.as_ref().is_none_or(|b| per_visit < b.0) {
                    pick = Some((per_visit, trial, left));
                }
            }
            let Some((_, trial, left)) = pick else {
                return;
            };
            *st = trial;
            rest = left;
        }
    }

    /// Carers person `u` sees in `st`, sorted.
    fn carers_seen(&self, st: &State, u: usize) -> Vec<usize> {
        let mut known: Vec<usize> = st
            .seen
            .get(&u)
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default();
        known.sort_unstable();
        known
    }

    /// Inserts `visits` in order, each at its cheapest place on a carer `allow`
    /// accepts; returns those that fit nowhere.
    fn insert_among(
        &self,
        st: &mut State,
        visits: Vec<usize>,
        allow: &dyn Fn(usize) -> bool,
    ) -> Vec<usize> {
        let mut blocks = Vec::new();
        let mut left = Vec::new();
        for v in visits {
            if let Some(ins) = self.best_insertion_among(st, v, &mut blocks, allow) {
                self.apply(st, v, ins);
            }
            if !st.on.contains_key(&v) {
                left.push(v);
            }
        }
        left
    }
}
