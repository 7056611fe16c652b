//! A lower bound on a part's objective that holds for every rota, not only
//! for rotas made of the routes the search happened to pool.
//!
//! Relaxation: each person is priced alone, as if carers had unlimited room.
//! For a set `S` of carers a person sees (at most their continuity cap), each
//! of their visits costs either its unplaced penalty or, per carer it needs,
//! the cheapest carer in `S` who could make it: that carer's visit cost
//! (history, preferences, stability) plus the shortest leg that could lead
//! into the visit on one of their shifts (from the shift's start, or from any
//! visit that day that could end in time). Every placed visit share has its
//! own incoming leg, so these legs are never counted twice. The person's bound
//! is the least over all such `S` of `distinct carer weight × |S|` plus those
//! visit costs; the part's bound is the sum over people. Lateness, return
//! legs, shift use and contract shortfall are never negative and count zero.

use super::{Map, Part};
use crate::rota::objective::unplaced_penalty;
use crate::rota::rules;

/// Most carer sets priced per person; beyond it the person gets the weaker
/// bound that does not enumerate sets (see [`Part::lower_bound`]).
const MAX_SETS: u64 = 50_000;

impl Part<'_> {
    /// The bound described in the module docs.
    pub fn lower_bound(&self) -> f64 {
        self.lower_bound_with(true)
    }

    /// [`Part::lower_bound`]; `share_classes: false` prices every shift on its
    /// own (the reference the class sharing is tested against).
    fn lower_bound_with(&self, share_classes: bool) -> f64 {
        let p = self.p;
        let w = &p.weights;
        let mut people: Map<usize, Vec<usize>> = Map::default();
        for &v in &self.visits {
            people.entry(p.visits[v].service_user).or_default().push(v);
        }
        // Per shift: the visits it could make (a leg into a visit can only come
        // from one of these; grouping by shift, not by day, keeps night shifts
        // that cross midnight right).
        let mut on_shift: Map<usize, Vec<usize>> = Map::default();
        for &v in &self.visits {
            for &s in self.candidates.get(&v).map(Vec::as_slice).unwrap_or(&[]) {
                on_shift.entry(s).or_default().push(v);
            }
        }
        // Shifts on the same travel matrix, from the same start, that could make
        // the same visits give every visit the same least leg (a fleet of
        // identical vehicles): each such class is priced once. Without this an
        // 800-stop VRPTW with 100 vehicles spent ~200 ms here, a fifth of a 1 s budget.
        let mut shift_ids: Vec<usize> = on_shift.keys().copied().collect();
        shift_ids.sort_unstable();
        let mut classes: std::collections::HashMap<(usize, usize, &[usize]), usize> =
            std::collections::HashMap::new();
        let mut class_of: Map<usize, usize> = Map::default();
        for &s in &shift_ids {
            let sh = &p.shifts[s];
            let key = (
                self.carer_mat.get(sh.carer).copied().unwrap_or(0),
                sh.start_loc,
                on_shift[&s].as_slice(),
            );
            let next = classes.len();
            let class = *classes.entry(key).or_insert(next);
            class_of.insert(s, if share_classes { class } else { s });
        }
        let mut legs: Map<(usize, usize), f64> = Map::default();
        let mut leg_into = |s: usize, v: usize| -> f64 {
            let class = class_of.get(&s).copied().unwrap_or(usize::MAX);
            *legs
                .entry((class, v))
                .or_insert_with(|| self.least_leg_into(s, v, &on_shift))
        };
        let mut total = 0.0;
        let mut users: Vec<usize> = people.keys().copied().collect();
        users.sort_unstable();
        for u in users {
            let visits = &people[&u];
            // Per visit: carers who could make it (as bits into `carers`), each at
            // their least cost, cheapest first, so a set's price for a visit is
            // its first `need` members in this list.
            let mut carers: Vec<usize> = Vec::new();
            let mut options: Vec<Vec<(u32, f64)>> = Vec::with_capacity(visits.len());
            for &v in visits {
                let mut best: Vec<(u32, f64)> = Vec::new();
                for &s in self.candidates.get(&v).map(Vec::as_slice).unwrap_or(&[]) {
                    let c = p.shifts[s].carer;
                    let bit = carer_bit(&mut carers, c);
                    let cost = self.visit_cost(c, v) + leg_into(s, v);
                    match best.iter_mut().find(|x| x.0 == bit) {
                        Some(x) => x.1 = x.1.min(cost),
                        None => best.push((bit, cost)),
                    }
                }
                best.sort_unstable_by(|a, b| a.1.total_cmp(&b.1));
                options.push(best);
            }
            let pinned = visits.iter().any(|v| self.pinned.contains_key(v));
            let cap = self.bound_carer_cap(u, pinned, carers.len());
            let visit_cost = |v: usize, opts: &[(u32, f64)], mask: u64| {
                let need = usize::from(p.visits[v].carers_required);
                let pen = unplaced_penalty(p, v);
                let mut sum = 0.0;
                let mut got = 0;
                for &(bit, cost) in opts {
                    if got == need {
                        break;
                    }
                    if mask >> bit & 1 == 1 {
                        sum += cost;
                        got += 1;
                    }
                }
                if got < need { pen } else { sum.min(pen) }
            };
            let sets: u64 = (0..=cap)
                .map(|k| binomial(carers.len() as u64, k as u64))
                .sum();
            let bound = if w.distinct_carer <= 0.0 || sets > MAX_SETS || carers.len() > 64 {
                // Without enumerating sets: a person with any visit placed sees at
                // least one carer; each visit costs at least its cheapest option.
                let placed_some: f64 = visits
                    .iter()
                    .zip(&options)
                    .map(|(&v, o)| visit_cost(v, o, u64::MAX))
                    .sum::<f64>()
                    + w.distinct_carer.max(0.0);
                let none: f64 = visits.iter().map(|&v| unplaced_penalty(p, v)).sum();
                placed_some.min(none)
            } else {
                let mut best = f64::INFINITY;
                for_each_subset(carers.len(), cap, &mut |mask: u64, size: usize| {
                    let cost = w.distinct_carer * size as f64
                        + visits
                            .iter()
                            .zip(&options)
                            .map(|(&v, o)| visit_cost(v, o, mask))
                            .sum::<f64>();
                    best = best.min(cost);
                });
                best
            };
            total += bound;
        }
        total
    }

    /// The cheapest leg that could lead into `v` on shift `s`: from the shift's
    /// start (first leg, commute weight unless commuting is paid), or from any
    /// visit shift `s` could make that could end before `v` must start.
    pub(super) fn least_leg_into(
        &self,
        s: usize,
        v: usize,
        on_shift: &Map<usize, Vec<usize>>,
    ) -> f64 {
        let p = self.p;
        let w = &p.weights;
        let shift = &p.shifts[s];
        let visit = &p.visits[v];
        let first_w = self.commute_weight();
        let mut best =
            f64::from(self.travel(shift.carer, shift.start_loc, visit.location)) * first_w;
        for &x in on_shift.get(&s).map(Vec::as_slice).unwrap_or(&[]) {
            let before = &p.visits[x];
            if x == v
                || before.earliest_start + before.duration > visit.latest_start + self.tolerance
            {
                continue;
            }
            let leg =
                f64::from(self.travel(shift.carer, before.location, visit.location)) * w.travel_min;
            best = best.min(leg);
            if best <= 0.0 {
                break;
            }
        }
        best
    }
}

/// `n` choose `k`, saturating.
pub(super) fn binomial(n: u64, k: u64) -> u64 {
    if k > n {
        return 0;
    }
    let k = k.min(n - k);
    let mut r: u64 = 1;
    for i in 0..k {
        r = r.saturating_mul(n - i) / (i + 1);
    }
    r
}

/// Calls `f(mask, size)` for every subset of `0..n` with at most `max` members.
pub(super) fn for_each_subset(n: usize, max: usize, f: &mut dyn FnMut(u64, usize)) {
    fn rec(
        start: usize,
        n: usize,
        left: usize,
        mask: u64,
        size: usize,
        f: &mut dyn FnMut(u64, usize),
    ) {
        f(mask, size);
        if left == 0 {
            return;
        }
        for i in start..n {
            rec(i + 1, n, left - 1, mask | 1 << i, size + 1, f);
        }
    }
    rec(0, n, max, 0, 0, f);
}

impl Part<'_> {
    /// How many of its `carers` person `u`'s carer set may hold in a bound: the
    /// continuity limit, but every carer when one of the person's visits is
    /// pinned (pins are placed as published, so the bound does not count on the cap).
    pub(super) fn bound_carer_cap(&self, u: usize, pinned: bool, carers: usize) -> usize {
        if pinned {
            carers
        } else {
            rules::bound_carer_limit(self.p, crate::model::PersonId(u))
                .unwrap_or(usize::MAX)
                .min(carers)
        }
    }
}

/// Carer `c`'s index in `carers` (added if new): the bit that stands for it in
/// a person's carer sets.
pub(super) fn carer_bit(carers: &mut Vec<usize>, c: usize) -> u32 {
    let i = match carers.iter().position(|&x| x == c) {
        Some(i) => i,
        None => {
            carers.push(c);
            carers.len() - 1
        }
    };
    i as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bound with shift classes shared equals the bound priced per shift.
    fn assert_classes_agree(p: &crate::model::Problem) {
        let part = Part::new(
            p,
            (0..p.visits.len()).collect(),
            (0..p.shifts.len()).collect(),
        );
        let shared = part.lower_bound_with(true);
        let each = part.lower_bound_with(false);
        assert!(shared > 0.0, "bound {shared}");
        assert!(
            (shared - each).abs() < 1e-9,
            "shared {shared} vs per shift {each}"
        );
    }

    #[test]
    fn interchangeable_shifts_priced_once_give_the_same_bound() {
        // 12 customers, 4 identical vehicles: one class.
        let p = crate::testing::solomon_fleet(12, 4, 60);
        assert_eq!(p.shifts.len(), 4);
        assert_classes_agree(&p);
    }

    #[test]
    fn a_carers_two_shifts_in_a_day_keep_their_own_legs() {
        // One carer, same home, a morning and a late-morning shift. The flexible
        // visit could go on either: after the far 07:30 visit on the first, or
        // after the 11:00 visit next door on the second. Each shift prices its
        // own legs, so the second's short leg counts (sharing a class across
        // the two would give the first's longer one).
        let req: crate::format::PlanningRequest = serde_json::from_value(serde_json::json!({
            "format": "carefill/1",
            "horizon": {"start_date": "2026-11-30", "days": 1},
            "carers": [
                {"id": "A", "gender": "female", "contract": "salaried", "skills": ["personal_care"],
                 "home": {"lat": 50.7000, "lon": -3.5000},
                 "shifts": [{"days": ["daily"], "start": "07:00", "end": "10:00"},
                            {"days": ["daily"], "start": "10:30", "end": "14:00"}]}
            ],
            "service_users": [
                {"id": "next_door", "location": {"lat": 50.7600, "lon": -3.4000}},
                {"id": "flexible", "location": {"lat": 50.7601, "lon": -3.4001}},
                {"id": "far", "location": {"lat": 50.6000, "lon": -3.6500}}
            ],
            "packages": [
                {"id": "p1", "service_user": "far",
                 "visits": [{"id": "v", "days": ["daily"], "time": {"exact": "07:30"}, "duration_min": 30}]},
                {"id": "p2", "service_user": "next_door",
                 "visits": [{"id": "v", "days": ["daily"], "time": {"exact": "11:00"}, "duration_min": 30}]},
                {"id": "p3", "service_user": "flexible",
                 "visits": [{"id": "v", "days": ["daily"], "time": {"window": {"start": "08:00", "end": "13:00"}}, "duration_min": 30}]}
            ]
        }))
        .unwrap();
        let p = crate::model::Problem::from_request(&req).unwrap();
        let part = Part::new(
            &p,
            (0..p.visits.len()).collect(),
            (0..p.shifts.len()).collect(),
        );
        assert_eq!(p.shifts.len(), 2);
        let flexible = p.visit_index["p3/v@2026-11-30"];
        assert_eq!(part.candidates[&flexible].len(), 2);
        assert_classes_agree(&p);
    }

    #[test]
    fn subsets_up_to_a_size_are_each_visited_once() {
        let mut seen = Vec::new();
        for_each_subset(5, 2, &mut |m, size| {
            assert_eq!(m.count_ones() as usize, size);
            seen.push(m);
        });
        let expected = (0..=2).map(|k| binomial(5, k)).sum::<u64>();
        assert_eq!(seen.len() as u64, expected);
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len() as u64, expected);
    }
}
