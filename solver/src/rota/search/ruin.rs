//! The ruin step of ruin-and-recreate: which visits to take out.

use super::part::{RUIN_ORDER_LEN, RuinOrder};
use super::{OnShifts, Part, State};
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

impl Part<'_> {
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
        // The part's visits that are on a route, in the part's order (the random
        // draws below index into it).
        let placed: Vec<usize> = self
            .visits
            .iter()
            .copied()
            .filter(|v| st.on.contains_key(v) && !self.pinned.contains_key(v))
            .collect();
        if placed.is_empty() {
            return (Vec::new(), None);
        }
        // Up to an eighth of the placed visits (at most 25), or a quarter with
        // soft windows: a rota that trades lateness for distance (Mankowska)
        // settles where no ruin of an eighth leads out (50_2 and 50_6 ended at
        // the same rota on every seed and time limit; with a quarter they
        // reach the best known, docs/experiments.md §12). Parts of 200 visits
        // or more hit the cap either way.
        let share = if p.lateness.is_hard() { 8 } else { 4 };
        let max_q = (placed.len() / share).clamp(2, 25);
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
                let key = |v: usize| {
                    let x = &p.visits[v];
                    let d = i64::from(self.travel(0, sv.location, x.location));
                    if x.day == sv.day { d } else { d + (1 << 40) }
                };
                let near = self.placed_in_order(&self.string_order, seed, key, st, &placed);
                let avg = placed.len() / st.routes.len().max(1);
                let l_max = avg.clamp(1, 10);
                let mut cut: Vec<usize> = Vec::new();
                for v in near {
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
                let key = |v: usize| {
                    let x = &p.visits[v];
                    let travel = self.travel(0, sv.location, x.location);
                    let dt = (x.earliest_start - sv.earliest_start).abs();
                    i64::from(travel) * 4 + i64::from(dt)
                };
                removed.extend(
                    self.placed_in_order(&self.related_order, seed, key, st, &placed)
                        .take(q),
                );
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

    /// The `placed` visits in ascending `(key, visit)` order from `seed`,
    /// exactly as sorting them all would give, read from the seed's cached
    /// [`RuinOrder`] of the part's visits (filled here on first use) and
    /// sorted in full only if the caller reads past it.
    pub(super) fn placed_in_order<'s>(
        &'s self,
        orders: &'s [RuinOrder],
        seed: usize,
        key: impl Fn(usize) -> i64 + Copy + 's,
        st: &'s State,
        placed: &'s [usize],
    ) -> impl Iterator<Item = usize> + 's {
        let row = self.visit_row[seed] as usize;
        let prefix = orders[row].get_or_init(|| {
            let mut all: Vec<(i64, usize)> = self.visits.iter().map(|&v| (key(v), v)).collect();
            all.sort_unstable();
            all.truncate(RUIN_ORDER_LEN);
            all
        });
        let last = prefix.last().copied();
        let is_placed = |v: usize| st.on.contains_key(&v) && !self.pinned.contains_key(&v);
        let head = prefix.iter().map(|x| x.1).filter(move |&v| is_placed(v));
        // Everything placed after the prefix, sorted only when reached.
        let tail = std::iter::once(()).flat_map(move |()| {
            let mut rest: Vec<(i64, usize)> = placed
                .iter()
                .map(|&v| (key(v), v))
                .filter(|&x| last.is_none_or(|l| x > l))
                .collect();
            rest.sort_unstable();
            rest.into_iter().map(|x| x.1)
        });
        head.chain(tail)
    }
}
