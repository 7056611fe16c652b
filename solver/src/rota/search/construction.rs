//! Building rotas by insertion: the first rota (hardest first, with "squeaky
//! wheel" rounds) and the recreate step of ruin-and-recreate.

use super::{Block, Insertion, Part, State};
use crate::rota::objective::unplaced_penalty;
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// Most visits recreated by regret insertion (it costs O(visits²) insertions;
/// larger ruins use greedy insertion).
const REGRET_MAX: usize = 15;

impl Part<'_> {
    /// Inserts `order` greedily (cheapest first); visits that fit nowhere stay unplaced.
    pub fn recreate(&self, st: &mut State, order: &[usize], rng: &mut ChaCha8Rng, regret: bool) {
        let mut pending: Vec<usize> = order.to_vec();
        if regret && pending.len() <= REGRET_MAX {
            // Regret-1-ish: place the visit with the fewest cheap options first.
            // Why positions failed is not read here: the buffer is only reused.
            let mut blocks = Vec::new();
            while !pending.is_empty() {
                let mut pick: Option<(f64, usize, Insertion)> = None;
                for (i, &v) in pending.iter().enumerate() {
                    blocks.clear();
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
        // With a continuity cost each visit first tries the carers its person
        // already sees (docs/experiments.md §3).
        let known_carers_first = p.weights.distinct_carer > 0.0;
        self.insert_in_order(st, pending, known_carers_first);
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
            self.insert_in_order(&mut trial, seq, false);
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
    pub(super) fn sort_hardest_first(&self, pending: &mut [usize]) {
        self.sort_hardest(pending, false);
    }

    /// [`Part::sort_hardest_first`], optionally with visits that have no spare
    /// candidate shift before all others.
    pub(super) fn sort_hardest(&self, pending: &mut [usize], forced_first: bool) {
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

    /// Inserts `pending` in order, each where it is cheapest; a linked visit
    /// whose partner is pending too goes in with it at a common start
    /// ([`Part::insert_pair`], where [`Part::pairs_together`]). With
    /// `known_carers_first` a visit goes to the carers its person already sees
    /// when one of them can take it, and is priced on every candidate shift only
    /// otherwise: the greedy step sees a new carer's cost once, on the first
    /// visit, and not the pair it leaves behind, and pricing a few carers
    /// instead of all is ~20% of a team-week iteration.
    pub(super) fn insert_in_order(
        &self,
        st: &mut State,
        pending: Vec<usize>,
        known_carers_first: bool,
    ) {
        // Why positions failed is not read here: the buffer is only reused.
        let mut blocks = Vec::new();
        for (i, &v) in pending.iter().enumerate() {
            if st.on.contains_key(&v) {
                continue; // went in with its partner
            }
            blocks.clear();
            if self.p.visits[v].carers_required == 1
                && self.links_of.contains_key(&v)
                && self.pairs_together()
                && self
                    .unplaced_partner(st, v)
                    .is_some_and(|(_, w)| pending[i + 1..].contains(&w))
                && self.insert_pair(st, v).is_some()
            {
                continue;
            }
            let known = if known_carers_first {
                self.insertion_with_known_carers(st, v, &mut blocks)
            } else {
                None
            };
            if let Some(ins) = known.or_else(|| self.best_insertion(st, v, &mut blocks)) {
                self.apply(st, v, ins);
            }
        }
    }

    /// Cheapest insertion of `v` on the carers its person already sees; `None`
    /// when the person sees none yet or none of them can take it.
    fn insertion_with_known_carers(
        &self,
        st: &State,
        v: usize,
        blocks: &mut Vec<Block>,
    ) -> Option<Insertion> {
        let known = st.seen.get(&self.p.visits[v].service_user)?;
        if known.values().all(|&n| n == 0) {
            return None;
        }
        self.best_insertion_among(st, v, blocks, &|c| known.get(&c).is_some_and(|&n| n > 0))
    }
}
