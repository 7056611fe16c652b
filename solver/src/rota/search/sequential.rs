//! A first rota for large fleets of interchangeable shifts, built one route at
//! a time (Solomon's sequential insertion, simplified).
//!
//! Hardest-first cheapest insertion meets the narrow windows first, scattered
//! over the day, and with 100 identical vehicles opens a route for most of them
//! (800-stop VRPTW: ~35,000 distance before local search, ~15,700 after), so
//! local search spends the first second merging routes. Here each shift in turn
//! starts from the most urgent visit left and takes, while any fits, the
//! cheapest insertion among the visits near those already on it.

use super::{Map, Part, State};

impl Part<'_> {
    /// Whether this part uses granular neighbourhoods (many interchangeable shifts).
    pub fn is_granular(&self) -> bool {
        !self.near.is_empty()
    }

    /// Places `order` route by route (see the module docs); what no route takes
    /// (double-handed visits, visits left over) goes in hardest first.
    pub fn construct_sequential(&self, st: &mut State, order: &[usize]) {
        let p = self.p;
        let mut pending: Map<usize, ()> = order
            .iter()
            .copied()
            .filter(|v| !st.on.contains_key(v) && p.visits[*v].carers_required == 1)
            .map(|v| (v, ()))
            .collect();
        let mut shifts = self.shifts.clone();
        shifts.sort_by_key(|&s| (p.shifts[s].day, p.shifts[s].start, s));
        let mut blocks = Vec::new();
        for s in shifts {
            if pending.is_empty() {
                break;
            }
            if st.routes.contains_key(&s) {
                continue;
            }
            let carer = p.shifts[s].carer;
            let only = |c: usize| c == carer;
            let seed = pending
                .keys()
                .copied()
                .filter(|v| self.candidates.get(v).is_some_and(|c| c.contains(&s)))
                .min_by_key(|&v| (p.visits[v].latest_start, v));
            let Some(seed) = seed else {
                continue;
            };
            let Some(ins) = self.best_insertion_among(st, seed, &mut blocks, &only) else {
                continue;
            };
            self.apply(st, seed, ins);
            pending.remove(&seed);
            loop {
                let route = st.route(s);
                let mut near: Vec<usize> = route
                    .iter()
                    .flat_map(|&x| self.near_of(x))
                    .copied()
                    .filter(|v| pending.contains_key(v))
                    .collect();
                near.sort_unstable();
                near.dedup();
                let mut best: Option<(f64, usize, super::Insertion)> = None;
                for v in near {
                    if let Some(ins) = self.best_insertion_among(st, v, &mut blocks, &only)
                        && best.as_ref().is_none_or(|b| ins.cost < b.0)
                    {
                        best = Some((ins.cost, v, ins));
                    }
                }
                let Some((_, v, ins)) = best else {
                    break;
                };
                self.apply(st, v, ins);
                pending.remove(&v);
            }
        }
        let mut rest: Vec<usize> = order
            .iter()
            .copied()
            .filter(|v| !st.on.contains_key(v))
            .collect();
        self.sort_hardest_first(&mut rest);
        self.insert_in_order(st, rest, false);
    }
}
