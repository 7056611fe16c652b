//! The person-by-person bound (`bound`) with carers' room priced back in by
//! Lagrangian relaxation.
//!
//! The person-by-person bound lets everyone have their favourite carers, as if
//! carers had unlimited time; on a team week that is most of its gap (27%
//! under the best rota found), because six of twelve carers end the week
//! within half an hour of their weekly maximum. Here carers' room becomes
//! rows, each with a price `λ ≥ 0`: a person's visit given to a carer pays
//! the prices of the rows it uses, and the bound is
//! `Σ people (their cheapest carer set at those prices) − Σ rows λ × room`,
//! which holds for every rota at every `λ ≥ 0` (weak duality: a rota keeps
//! within every row, so its priced cost is at most its cost). Subgradient
//! steps (Polyak's, aimed at the search's best cost) raise it.
//!
//! Rows, each true of every rota the hard rules allow:
//! - **A carer's time in an interval** `[a, b]` of one day (generated where
//!   the relaxed answer overloads a carer, so only binding ones exist): the
//!   visits whose whole window lies inside take their duration, plus the part
//!   of their incoming leg that falls inside (at least `min(least leg, earliest
//!   start − a)`), and a carer does one thing at a time, within their shifts:
//!   at most the minutes of `[a, b]` the carer has shifts in.
//! - **Daily and weekly hours**: paid minutes, at least the visits' durations
//!   (plus their least incoming leg when the commute is paid).

use super::bound::{binomial, carer_bit, for_each_subset};
use super::{Map, Part};
use crate::model::Minute;
use crate::rota::objective::unplaced_penalty;
use std::time::Instant;

/// Most carer sets enumerated per person (as in `bound`); beyond it the
/// person gets the weaker form that does not enumerate sets.
const MAX_SETS: u64 = 50_000;
/// Most subgradient rounds.
const MAX_ROUNDS: usize = 2_000;
/// Rounds without a better bound before the step halves.
const PATIENCE: usize = 20;

/// What the relaxation reached.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RoomBound {
    /// Best value of the Lagrangian dual function: a bound on every rota.
    pub bound: f64,
    /// Subgradient rounds run.
    pub rounds: usize,
    /// Rows of carers' room priced.
    pub rows: usize,
}

/// One way to give a share of a visit to a carer: on one of their shifts.
struct Choice {
    shift: usize,
    /// Carer-specific visit cost plus the least (weighted) leg into the visit.
    base: f64,
    /// Least travel minutes into the visit on this shift (from its start or a
    /// visit the shift could make before).
    leg_min: Minute,
    /// Rows this choice uses: (row, minutes).
    uses: Vec<(usize, f64)>,
}

/// A person's visit: per carer (a bit of the person's carer list), its choices.
struct PersonVisit {
    v: usize,
    need: usize,
    penalty: f64,
    by_carer: Vec<(u32, Vec<Choice>)>,
}

struct Person {
    carers: Vec<usize>,
    cap: usize,
    enumerate: bool,
    visits: Vec<PersonVisit>,
}

/// A row of carers' room. Its price is per `1 / room` of it (every row's room
/// counts as 1), so rows of minutes, hours and visit counts take steps of
/// the same size.
struct Row {
    room: f64,
    price: f64,
}

impl Row {
    /// A row allowing `room`; a carer already past a limit (hours worked
    /// before the horizon) still satisfies it by doing nothing, so never below 0.
    fn new(room: f64) -> Self {
        Row {
            room: room.max(0.0),
            price: 0.0,
        }
    }

    /// Use of this row per unit of what a choice uses, in rooms.
    fn scale(&self) -> f64 {
        if self.room > 0.0 {
            1.0 / self.room
        } else {
            1.0
        }
    }
}

/// An interval row's key: carer, start, end.
type IntervalKey = (usize, Minute, Minute);

impl Part<'_> {
    /// The Lagrangian bound described in the module docs, run until
    /// `deadline`; `best_cost` (a rota's cost) aims the steps.
    pub(crate) fn room_bound(&self, best_cost: f64, deadline: Instant) -> RoomBound {
        let p = self.p;
        let w = &p.weights;
        let mut on_shift: Map<usize, Vec<usize>> = Map::default();
        for &v in &self.visits {
            for &s in self.candidates.get(&v).map(Vec::as_slice).unwrap_or(&[]) {
                on_shift.entry(s).or_default().push(v);
            }
        }
        // Static rows: daily and weekly hours.
        let mut rows: Vec<Row> = Vec::new();
        let mut day_row: Map<(usize, u32), usize> = Map::default();
        let mut week_row: Map<(usize, u32), usize> = Map::default();
        for &s in &self.shifts {
            let sh = &p.shifts[s];
            let c = sh.carer;
            day_row.entry((c, sh.day)).or_insert_with(|| {
                rows.push(Row::new(f64::from(p.carers[c].max_min_per_day)));
                rows.len() - 1
            });
            let wk = p.week_of(sh.day);
            week_row.entry((c, wk)).or_insert_with(|| {
                rows.push(Row::new(p.week_limit(c, wk) as f64));
                rows.len() - 1
            });
        }
        // People and their choices.
        let mut by_person: Map<usize, Vec<usize>> = Map::default();
        for &v in &self.visits {
            by_person
                .entry(p.visits[v].service_user)
                .or_default()
                .push(v);
        }
        let mut users: Vec<usize> = by_person.keys().copied().collect();
        users.sort_unstable();
        let mut people: Vec<Person> = Vec::with_capacity(users.len());
        for u in users {
            let mut carers: Vec<usize> = Vec::new();
            let mut visits = Vec::new();
            for &v in &by_person[&u] {
                let visit = &p.visits[v];
                let mut by_carer: Vec<(u32, Vec<Choice>)> = Vec::new();
                for &s in self.candidates.get(&v).map(Vec::as_slice).unwrap_or(&[]) {
                    let sh = &p.shifts[s];
                    let c = sh.carer;
                    let bit = carer_bit(&mut carers, c);
                    let (leg_cost, leg_min) = self.least_legs_into(s, v, &on_shift);
                    let paid = f64::from(visit.duration)
                        + if p.paid_commute {
                            f64::from(leg_min)
                        } else {
                            0.0
                        };
                    let uses = vec![
                        (day_row[&(c, sh.day)], paid),
                        (week_row[&(c, p.week_of(sh.day))], paid),
                    ];
                    let choice = Choice {
                        shift: s,
                        base: self.visit_cost(c, v) + leg_cost,
                        leg_min,
                        uses,
                    };
                    match by_carer.iter_mut().find(|x| x.0 == bit) {
                        Some(x) => x.1.push(choice),
                        None => by_carer.push((bit, vec![choice])),
                    }
                }
                visits.push(PersonVisit {
                    v,
                    need: usize::from(visit.carers_required),
                    penalty: unplaced_penalty(p, v),
                    by_carer,
                });
            }
            let pinned = visits.iter().any(|x| self.pinned.contains_key(&x.v));
            let cap = self.bound_carer_cap(u, pinned, carers.len());
            let sets: u64 = (0..=cap)
                .map(|k| binomial(carers.len() as u64, k as u64))
                .sum();
            let enumerate = w.distinct_carer > 0.0 && sets <= MAX_SETS && carers.len() <= 64;
            people.push(Person {
                carers,
                cap,
                enumerate,
                visits,
            });
        }
        // Per carer: the minutes they have shifts in, as sorted intervals.
        let mut shifts_of: Map<usize, Vec<(Minute, Minute)>> = Map::default();
        for &s in &self.shifts {
            let sh = &p.shifts[s];
            shifts_of
                .entry(sh.carer)
                .or_default()
                .push((sh.start, sh.end));
        }
        for v in shifts_of.values_mut() {
            v.sort_unstable();
        }
        let mut intervals: Map<IntervalKey, usize> = Map::default();

        let mut best = f64::NEG_INFINITY;
        let mut theta = 2.0;
        let mut since_better = 0;
        let mut rounds = 0;
        while rounds < MAX_ROUNDS && Instant::now() < deadline {
            rounds += 1;
            // Solve each person at the current prices.
            let mut value = 0.0;
            let mut used = vec![0.0; rows.len()];
            // Per carer: the chosen visits (earliest start, latest end, duration, leg).
            let mut chosen: Map<usize, Vec<(Minute, Minute, Minute, Minute)>> = Map::default();
            for person in &people {
                value += self.price_person(person, &rows, &mut used, &mut chosen);
            }
            let lagrangian = value
                - rows
                    .iter()
                    .map(|r| r.price * r.room * r.scale())
                    .sum::<f64>();
            if lagrangian > best + 1e-9 {
                best = lagrangian;
                since_better = 0;
            } else {
                since_better += 1;
                if since_better >= PATIENCE {
                    theta /= 2.0;
                    since_better = 0;
                }
            }
            if theta < 1e-4 || best >= best_cost - 1e-6 {
                break;
            }
            // New interval rows where a carer is overloaded.
            let mut carers: Vec<usize> = chosen.keys().copied().collect();
            carers.sort_unstable();
            for c in carers {
                let Some((a, b, over)) = most_overloaded(&chosen[&c], &shifts_of[&c]) else {
                    continue;
                };
                if over <= 0.0 || intervals.contains_key(&(c, a, b)) {
                    continue;
                }
                let room = covered(&shifts_of[&c], a, b);
                let minutes = rows.len();
                rows.push(Row::new(room as f64));
                let count = rows.len();
                rows.push(Row::new(0.0));
                intervals.insert((c, a, b), minutes);
                // The visits inside, for both rows: minutes (duration and the part
                // of the leg inside) and how many (at most as many as the
                // shortest durations fit in the carer's minutes).
                let mut durations: Vec<Minute> = Vec::new();
                for person in &mut people {
                    for pv in &mut person.visits {
                        let visit = &p.visits[pv.v];
                        let (e, l) = (
                            visit.earliest_start,
                            visit.latest_start + self.tolerance + visit.duration,
                        );
                        if e < a || l > b {
                            continue;
                        }
                        for (bit, choices) in &mut pv.by_carer {
                            if person.carers[*bit as usize] != c {
                                continue;
                            }
                            durations.push(visit.duration);
                            for ch in choices.iter_mut() {
                                let amount =
                                    f64::from(visit.duration + ch.leg_min.min(e - a).max(0));
                                ch.uses.push((minutes, amount));
                                ch.uses.push((count, 1.0));
                            }
                        }
                    }
                }
                durations.sort_unstable();
                let mut fit = 0;
                let mut total = 0;
                for d in durations {
                    total += d;
                    if total > room {
                        break;
                    }
                    fit += 1;
                }
                rows[count].room = f64::from(fit);
                // The relaxed answer's use of the new rows: the overload found,
                // and how many of its visits lie inside.
                used.push(over + room as f64);
                used.push(chosen[&c].iter().filter(|x| x.0 >= a && x.1 <= b).count() as f64);
            }
            // Polyak step towards the search's best cost.
            let grads: Vec<f64> = rows
                .iter()
                .zip(&used)
                .map(|(r, &u)| {
                    let g = (u - r.room) * r.scale();
                    if r.price <= 0.0 && g < 0.0 { 0.0 } else { g }
                })
                .collect();
            let norm: f64 = grads.iter().map(|g| g * g).sum();
            if norm <= 1e-12 {
                break;
            }
            let step = theta * (best_cost - lagrangian).max(0.0) / norm;
            for (r, g) in rows.iter_mut().zip(&grads) {
                r.price = (r.price + step * g).max(0.0);
            }
        }
        RoomBound {
            bound: best.max(0.0),
            rounds,
            rows: rows.len(),
        }
    }

    /// One person's cheapest carer set at the rows' prices; adds the minutes
    /// their choices use to `used` and the chosen visits to `chosen`.
    fn price_person(
        &self,
        person: &Person,
        rows: &[Row],
        used: &mut [f64],
        chosen: &mut Map<usize, Vec<(Minute, Minute, Minute, Minute)>>,
    ) -> f64 {
        let p = self.p;
        let w = &p.weights;
        // Per visit: per carer, its cheapest choice at these prices, cheapest first.
        let options: Vec<Vec<(u32, f64, usize)>> = person
            .visits
            .iter()
            .map(|pv| {
                let mut o: Vec<(u32, f64, usize)> = pv
                    .by_carer
                    .iter()
                    .map(|(bit, choices)| {
                        let (k, cost) = choices
                            .iter()
                            .enumerate()
                            .map(|(k, ch)| {
                                let priced = ch.base
                                    + ch.uses
                                        .iter()
                                        .map(|&(r, a)| rows[r].price * a * rows[r].scale())
                                        .sum::<f64>();
                                (k, priced)
                            })
                            .min_by(|a, b| a.1.total_cmp(&b.1))
                            .unwrap_or((0, f64::INFINITY));
                        (*bit, cost, k)
                    })
                    .collect();
                o.sort_unstable_by(|a, b| a.1.total_cmp(&b.1));
                o
            })
            .collect();
        let visit_cost = |i: usize, mask: u64| -> f64 {
            let pv = &person.visits[i];
            let mut sum = 0.0;
            let mut got = 0;
            for &(bit, cost, _) in &options[i] {
                if got == pv.need {
                    break;
                }
                if mask >> bit & 1 == 1 {
                    sum += cost;
                    got += 1;
                }
            }
            if got < pv.need {
                pv.penalty
            } else {
                sum.min(pv.penalty)
            }
        };
        let n = person.visits.len();
        let (value, mask) = if person.enumerate {
            let mut best = (f64::INFINITY, 0u64);
            for_each_subset(
                person.carers.len(),
                person.cap,
                &mut |mask: u64, size: usize| {
                    let cost = w.distinct_carer * size as f64
                        + (0..n).map(|i| visit_cost(i, mask)).sum::<f64>();
                    if cost < best.0 {
                        best = (cost, mask);
                    }
                },
            );
            best
        } else {
            let placed: f64 =
                (0..n).map(|i| visit_cost(i, u64::MAX)).sum::<f64>() + w.distinct_carer.max(0.0);
            let none: f64 = person.visits.iter().map(|pv| pv.penalty).sum();
            if placed <= none {
                (placed, u64::MAX)
            } else {
                (none, 0)
            }
        };
        // What the chosen set's choices use.
        for (i, pv) in person.visits.iter().enumerate() {
            let mut picked: Vec<(u32, usize)> = Vec::new();
            let mut sum = 0.0;
            for &(bit, cost, k) in &options[i] {
                if picked.len() == pv.need {
                    break;
                }
                if mask >> bit & 1 == 1 {
                    sum += cost;
                    picked.push((bit, k));
                }
            }
            if picked.len() < pv.need || sum >= pv.penalty {
                continue;
            }
            let visit = &p.visits[pv.v];
            for (bit, k) in picked {
                let Some((_, choices)) = pv.by_carer.iter().find(|x| x.0 == bit) else {
                    continue;
                };
                let ch = &choices[k];
                for &(r, a) in &ch.uses {
                    used[r] += a;
                }
                chosen.entry(p.shifts[ch.shift].carer).or_default().push((
                    visit.earliest_start,
                    visit.latest_start + self.tolerance + visit.duration,
                    visit.duration,
                    ch.leg_min,
                ));
            }
        }
        value
    }

    /// The least leg into `v` on shift `s`, weighted (as in `bound`) and in
    /// travel minutes: from the shift's start, or from any visit the shift
    /// could make that could end before `v` must start.
    fn least_legs_into(
        &self,
        s: usize,
        v: usize,
        on_shift: &Map<usize, Vec<usize>>,
    ) -> (f64, Minute) {
        let p = self.p;
        let shift = &p.shifts[s];
        let visit = &p.visits[v];
        let first = self.travel(shift.carer, shift.start_loc, visit.location);
        let mut cost = f64::from(first) * self.commute_weight();
        let mut minutes = first;
        for &x in on_shift.get(&s).map(Vec::as_slice).unwrap_or(&[]) {
            let before = &p.visits[x];
            if x == v {
                continue;
            }
            let t = self.travel(shift.carer, before.location, visit.location);
            // A visit that could end, and then travel, before `v` must start.
            if before.earliest_start + before.duration + t <= visit.latest_start + self.tolerance {
                minutes = minutes.min(t);
                cost = cost.min(f64::from(t) * p.weights.travel_min);
            }
        }
        (cost, minutes)
    }
}

/// Minutes of `[a, b]` inside the carer's shifts.
fn covered(shifts: &[(Minute, Minute)], a: Minute, b: Minute) -> Minute {
    shifts
        .iter()
        .map(|&(s, e)| (e.min(b) - s.max(a)).max(0))
        .sum()
}

/// The interval `[a, b]` (from the chosen visits' earliest starts and latest
/// ends) where the chosen visits need most more minutes than the carer's
/// shifts give: (a, b, minutes over).
fn most_overloaded(
    chosen: &[(Minute, Minute, Minute, Minute)],
    shifts: &[(Minute, Minute)],
) -> Option<(Minute, Minute, f64)> {
    let mut best: Option<(Minute, Minute, f64)> = None;
    let mut starts: Vec<Minute> = chosen.iter().map(|x| x.0).collect();
    starts.sort_unstable();
    starts.dedup();
    let mut ends: Vec<Minute> = chosen.iter().map(|x| x.1).collect();
    ends.sort_unstable();
    ends.dedup();
    for &a in &starts {
        for &b in &ends {
            if b <= a {
                continue;
            }
            let load: Minute = chosen
                .iter()
                .filter(|x| x.0 >= a && x.1 <= b)
                .map(|&(e, _, d, leg)| d + leg.min(e - a).max(0))
                .sum();
            let over = (load - covered(shifts, a, b)) as f64;
            if best.is_none_or(|x| over > x.2) {
                best = Some((a, b, over));
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covered_counts_only_shift_minutes_inside_the_interval() {
        let shifts = [(420, 600), (720, 900)];
        assert_eq!(covered(&shifts, 480, 780), 120 + 60);
        assert_eq!(covered(&shifts, 600, 720), 0);
        assert_eq!(covered(&shifts, 0, 2000), 180 + 180);
    }

    #[test]
    fn the_most_overloaded_interval_is_where_visits_outgrow_the_shift() {
        // Shift 07:00-10:00. Three 30-minute visits due 08:00-08:40 (each with a
        // 10-minute leg) cannot share 40 minutes; a late visit is alone.
        let shifts = [(420, 600)];
        let chosen = [
            (480, 520, 30, 10),
            (480, 520, 30, 10),
            (480, 520, 30, 10),
            (560, 600, 30, 5),
        ];
        let (a, b, over) = most_overloaded(&chosen, &shifts).expect("an interval");
        // Legs before 08:00 do not count inside [08:00, 08:40].
        assert_eq!((a, b), (480, 520));
        assert!((over - (90.0 - 40.0)).abs() < 1e-9, "{over}");
    }
}
