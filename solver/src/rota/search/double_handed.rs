//! Double-handed visits: a start time two distinct carers can both make, the
//! cheapest such pair within the person's continuity cap.

use super::{Block, Insertion, Part, Sched, State};
use crate::model::Minute;
use crate::rota::rules::continuity_cap::ContinuityCap;

impl Part<'_> {
    /// Double-handed visit `v` priced by timing each candidate shift at each of
    /// up to 12 candidate starts (the earliest arrivals the routes offer): the
    /// cheapest pair of distinct carers within the continuity cap.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn double_handed_exhaustive(
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
            let len = st.routes.get(&s).map_or(0, |r| r.len());
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
    pub(super) fn cheapest_pair(
        &self,
        st: &State,
        v: usize,
        priced: &[(f64, usize)],
        capped: &mut bool,
    ) -> Option<(usize, usize, f64)> {
        let room = ContinuityCap::pair_room(self.p, st, crate::model::VisitId(v));
        let mut best: Option<(usize, usize, f64)> = None;
        for i in 0..priced.len() {
            for j in (i + 1)..priced.len() {
                let (a, b) = (priced[i], priced[j]);
                if a.1 == b.1 {
                    continue;
                }
                if !room.fits(a.1, b.1) {
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
    pub(super) fn double_handed_fast(
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
}
