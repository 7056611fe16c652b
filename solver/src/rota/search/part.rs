//! [`Part`]: the static data of one independent part of the problem (its
//! visits and shifts, travel matrices, candidate shifts per visit, per-carer
//! visit costs, granular neighbourhoods) and the look-ups every move reads.

use super::{Map, State};
use crate::format::TravelMode;
use crate::model::{LocIdx, Minute, Problem, ShiftId, VisitId};
use crate::rota::objective::carer_visit_cost;
use crate::rota::rules;
use crate::travel::TravelMatrix;

/// Static data for one part of the problem.
pub(crate) struct Part<'a> {
    pub p: &'a Problem,
    /// Visits of this part.
    pub visits: Vec<usize>,
    /// Shifts of this part.
    pub shifts: Vec<usize>,
    /// Problem location -> matrix row (`usize::MAX` when not in this part).
    pub(super) loc_row: Vec<usize>,
    /// One matrix per travel mode used.
    pub(super) mats: Vec<(TravelMode, TravelMatrix)>,
    /// Carer -> index into `mats`.
    pub(super) carer_mat: Vec<usize>,
    /// Per visit: shifts that could do it (the registered rules' candidate
    /// checks: eligible carer, shift overlapping the window).
    pub candidates: Map<usize, Vec<usize>>,
    /// Per visit: links it takes part in.
    pub(super) links_of: Map<usize, Vec<usize>>,
    /// Per visit: carers on the published rota (for the stability cost).
    pub(super) existing_carers: Vec<Option<Vec<usize>>>,
    /// Pinned visits: carers and start.
    pub pinned: Map<usize, (Vec<usize>, Minute)>,
    pub(super) tolerance: Minute,
    /// Carers of this part's shifts, sorted.
    pub(super) carers: Vec<usize>,
    /// Problem visit -> dense index in `visits` (`u32::MAX` when not in this part).
    pub(super) visit_row: Vec<u32>,
    /// Problem carer -> dense index in `carers` (`u32::MAX` when not in this part).
    pub(super) carer_row: Vec<u32>,
    /// Carer-specific cost of each (carer, visit) of the part, carer-major.
    pub(super) visit_costs: Vec<f64>,
    /// Per problem visit: double-handed, linked or pinned (its start is fixed once placed).
    pub(super) anchored_row: Vec<bool>,
    /// Granular neighbourhoods (Toth & Vigo 2003), only on parts with many
    /// interchangeable shifts: per dense visit row, the [`GRANULAR_K`] visits of
    /// the same day nearest in travel and time. Route local search then moves a
    /// visit only to shifts holding one of them. Empty on smaller parts (a team's
    /// week), where every candidate shift is tried.
    pub(super) near: Vec<Vec<usize>>,
    /// Per problem shift: the working day it is joined into, when that day has
    /// other shifts (see [`JoinedDay`]); `None` for a shift that is a working
    /// day on its own.
    pub(crate) joined: Vec<Option<JoinedDay>>,
    /// Per dense visit row, filled on first use: the part's visits nearest it
    /// for the related ruin and for the string ruin (see [`RuinOrder`]).
    pub(super) related_order: Vec<RuinOrder>,
    pub(super) string_order: Vec<RuinOrder>,
}

/// A shift's place in a working day of several shifts (for the break rule,
/// `rota::rules::breaks`).
///
/// The break rule is per working day: a carer's shifts in time order, each
/// starting less than the break length after the previous one ends (a gap that
/// long is itself a rest, so it ends the working day). Between two shifts the
/// idle time is the previous shift's time after its last visit and the travel
/// home, the gap, and the next shift's time before its first visit less the
/// travel out.
///
/// Route timing sees one shift at a time, so it keeps the rule for the day
/// whatever the other routes hold: a route of a joined shift passes when it has
/// a break between its own visits, or when its span is within the rule, its
/// span running from the day's first shift start unless it is the day's first
/// shift or its idle time before its first visit plus the gap before the shift
/// is a break (then its first start), and likewise to the day's last shift end
/// unless the idle after its last visit plus the gap after the shift is a
/// break. If every used route passes, either some break lies between two
/// visits of the day or the first used route's span covers the whole day's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JoinedDay {
    /// Start of the working day's first shift.
    pub start: Minute,
    /// End of its last shift.
    pub end: Minute,
    /// Whether this shift is the day's first.
    pub first: bool,
    /// Whether this shift is the day's last.
    pub last: bool,
    /// Gap between the previous shift's end and this one's start (0 for the first).
    pub gap_before: Minute,
    /// Gap between this shift's end and the next one's start (0 for the last).
    pub gap_after: Minute,
}

/// The joined working days of every problem shift (see [`JoinedDay`]).
fn joined_days(p: &Problem) -> Vec<Option<JoinedDay>> {
    let mut out = vec![None; p.shifts.len()];
    if p.break_duration <= 0 {
        return out;
    }
    for carer in &p.carers {
        let mut order = carer.shifts.clone();
        order.sort_by_key(|&s| (p.shifts[s].start, p.shifts[s].end));
        let mut i = 0;
        while i < order.len() {
            let mut j = i;
            while j + 1 < order.len()
                && p.shifts[order[j + 1]].start - p.shifts[order[j]].end < p.break_duration
            {
                j += 1;
            }
            if j > i {
                let (start, end) = (p.shifts[order[i]].start, p.shifts[order[j]].end);
                for k in i..=j {
                    let (prev, this) = (order[k.max(1) - 1], order[k]);
                    let next = order[(k + 1).min(j)];
                    out[this] = Some(JoinedDay {
                        start,
                        end,
                        first: k == i,
                        last: k == j,
                        gap_before: if k == i {
                            0
                        } else {
                            p.shifts[this].start - p.shifts[prev].end
                        },
                        gap_after: if k == j {
                            0
                        } else {
                            p.shifts[next].start - p.shifts[this].end
                        },
                    });
                }
            }
            i = j + 1;
        }
    }
    out
}

/// Per visit: the shifts (in `shifts` order) every registered rule's
/// candidate check admits.
///
/// Only shifts overlapping the time the visit may occupy can pass (the
/// availability rule: the shift starts before the visit's latest end and ends
/// after its earliest start), so each visit checks the shifts whose start lies
/// in that window, found by binary search over the shifts sorted by start, not
/// every shift of the part: a team's problem is rebuilt for every fit check.
/// The lists are the same as filtering every shift (checked in debug builds).
fn candidate_lists(
    p: &Problem,
    visits: &[usize],
    shifts: &[usize],
    tolerance: Minute,
) -> Map<usize, Vec<usize>> {
    let mut by_start: Vec<(Minute, usize)> = (shifts.iter().enumerate())
        .map(|(i, &s)| (p.shifts[s].start, i))
        .collect();
    by_start.sort_unstable();
    // No shift ends later than its start plus this, so one starting at or
    // before `earliest_start - longest` ends by the visit's earliest start.
    let longest = (shifts.iter())
        .map(|&s| i64::from(p.shifts[s].end) - i64::from(p.shifts[s].start))
        .max()
        .unwrap_or(0);
    let mut candidates = Map::default();
    let mut picked: Vec<usize> = Vec::new();
    for &v in visits {
        let visit = &p.visits[v];
        let first = by_start.partition_point(|&(start, _)| {
            i64::from(start) <= i64::from(visit.earliest_start) - longest
        });
        let end = by_start
            .partition_point(|&(start, _)| start < visit.latest_start + tolerance + visit.duration);
        picked.clear();
        picked.extend(
            by_start[first..end.max(first)]
                .iter()
                .map(|&(_, i)| i)
                .filter(|&i| rules::admits_shift(p, ShiftId(shifts[i]), VisitId(v), tolerance)),
        );
        picked.sort_unstable();
        let list: Vec<usize> = picked.iter().map(|&i| shifts[i]).collect();
        debug_assert_eq!(
            list,
            (shifts.iter().copied())
                .filter(|&s| rules::admits_shift(p, ShiftId(s), VisitId(v), tolerance))
                .collect::<Vec<_>>(),
            "candidate window of visit {v}"
        );
        candidates.insert(v, list);
    }
    candidates
}

/// Parts whose visits have more candidate shifts than this on average get
/// granular local search (see [`Part::near`]); 100-customer Solomon instances
/// (25 vehicles) and team rotas (~10 carers a day) stay exhaustive.
const GRANULAR_MIN_SHIFTS: usize = 40;
/// Neighbours per visit in a granular neighbourhood.
pub(super) const GRANULAR_K: usize = 20;

/// The first [`RUIN_ORDER_LEN`] visits of a part in the order a ruin ranks them
/// from one seed visit (`(key, visit)` ascending, so ties go by visit). The key
/// depends on the two visits only, so it is kept rather than re-sorted at every
/// ruin (sorting every placed visit was ~8% of a team-week search).
pub(super) type RuinOrder = std::sync::OnceLock<Vec<(i64, usize)>>;

/// Visits kept per seed in a [`RuinOrder`]: a ruin takes at most 25 and the
/// string ruin rarely reads past a few dozen; past the prefix the order is
/// computed in full, so the answer never depends on it.
pub(super) const RUIN_ORDER_LEN: usize = 64;

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
        let candidates = candidate_lists(p, &visits, &shifts, tolerance);
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
        let mut visit_costs: Vec<f64> = Vec::with_capacity(carers.len() * visits.len());
        for &c in &carers {
            visit_costs.extend(
                (visits.iter()).map(|&v| carer_visit_cost(p, c, v, existing_carers[v].as_deref())),
            );
        }
        let anchored_row = (0..p.visits.len())
            .map(|v| {
                p.visits[v].carers_required > 1
                    || links_of.contains_key(&v)
                    || pinned.contains_key(&v)
            })
            .collect();
        let n_visits = visits.len();
        let mut part = Part {
            near: Vec::new(),
            related_order: (0..n_visits).map(|_| RuinOrder::new()).collect(),
            string_order: (0..n_visits).map(|_| RuinOrder::new()).collect(),
            joined: joined_days(p),
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
    pub(super) fn nearest_visits(&self) -> Vec<Vec<usize>> {
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
    pub(super) fn move_targets(&self, st: &State, v: usize, from: usize) -> Vec<usize> {
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

    pub(crate) fn travel(&self, carer: usize, from: LocIdx, to: LocIdx) -> Minute {
        let m = self.carer_mat.get(carer).copied().unwrap_or(0);
        let a = self.loc_row.get(from).copied().unwrap_or(usize::MAX);
        let b = self.loc_row.get(to).copied().unwrap_or(usize::MAX);
        match self.mats.get(m) {
            Some((_, mat)) if a != usize::MAX && b != usize::MAX => mat.minutes(a, b) as Minute,
            _ => self.p.leg(carer, from, to).minutes as Minute,
        }
    }

    /// Weight of a minute on a route's first and last legs: paid travel when
    /// commuting is paid, else the commute weight.
    pub(super) fn commute_weight(&self) -> f64 {
        let w = &self.p.weights;
        if self.p.paid_commute {
            w.travel_min
        } else {
            w.commute_min
        }
    }

    /// Carer-specific cost of carer `c` making visit `v` (from the table when both are in the part).
    pub(super) fn visit_cost(&self, c: usize, v: usize) -> f64 {
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

    pub(super) fn anchored(&self, v: usize) -> bool {
        self.p.visits[v].carers_required > 1
            || self.links_of.contains_key(&v)
            || self.pinned.contains_key(&v)
    }

    /// `v`'s fixed start in `st`, if it has one. Only anchored visits are ever
    /// fixed, so the others skip the hash lookup (re-timing asks this of every
    /// stop; the lookup was 5% of the CPU on InstanzVNS_HCSRP_300_1).
    #[inline]
    pub(super) fn fixed_start(&self, st: &State, v: usize) -> Option<Minute> {
        if self.anchored_row[v] {
            st.fixed.get(&v).copied()
        } else {
            debug_assert!(!st.fixed.contains_key(&v));
            None
        }
    }
}
