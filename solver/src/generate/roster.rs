//! Sizing a team's availability to its packages: shifts that follow the daily
//! demand curve, and skills spread so every visit has enough eligible carers.
//!
//! Real teams build working patterns around their people (domain-facts §2.4,
//! Monmouthshire's "set working patterns"); doing the same here keeps the
//! benchmark rota feasible-ish instead of random and hopeless.

use super::calendar::{minutes, selector_applies};
use crate::format::{Gender, Package, TimeSpec};
use chrono::NaiveDate;
use rand::Rng;
use rand::seq::SliceRandom;

/// Resolution of the demand curve, minutes.
const SLOT_MIN: u32 = 15;
/// Slots in a day.
const SLOTS: usize = (24 * 60 / SLOT_MIN) as usize;
/// Weight of shift length against covered demand when choosing a template:
/// long shifts are only worth it when they cover real demand.
const SHIFT_MINUTE_COST: f64 = 0.12;
/// Demand is inflated by this much when choosing shifts, so that the busiest
/// hours keep some slack (travel and sequencing never pack perfectly).
const DEMAND_SLACK: f64 = 1.15;
/// Weekly carer-minutes of demand one holder of a skill is expected to absorb.
const SKILL_MIN_PER_HOLDER: f64 = 1500.0;

/// Shift templates as local `(start, end)` minute segments.
pub(super) const TEMPLATES: [&[(u32, u32)]; 4] = [
    &[(420, 840)],              // early 07:00-14:00
    &[(930, 1320)],             // late 15:30-22:00
    &[(420, 810), (960, 1320)], // split 07:00-13:30 + 16:00-22:00
    &[(600, 1080)],             // middle 10:00-18:00
];

/// Carer-minutes of work wanted per weekday (Monday first) and 15-minute slot.
pub(super) type Demand = Vec<[f64; SLOTS]>;

/// The default bands of `Settings`, as minute windows the whole visit fits in.
fn band_window(name: &str) -> Option<(u32, u32)> {
    match name {
        "morning" => Some((420, 600)),
        "lunch" => Some((690, 840)),
        "tea" => Some((960, 1080)),
        "evening" => Some((1140, 1320)),
        "night" => Some((1320, 1860)),
        _ => None,
    }
}

/// The local minute window a visit of `duration` must fit in.
pub(super) fn visit_window(spec: &TimeSpec, duration: u32) -> Option<(u32, u32)> {
    match spec {
        TimeSpec::Exact(t) => minutes(t).map(|s| (s, s + duration)),
        TimeSpec::Window { start, end } => Some((minutes(start)?, minutes(end)?)),
        TimeSpec::Band(b) => band_window(b),
    }
}

/// Demand of `packages` over one week whose weekday dates are `week`
/// (Monday first), with `travel_min` of travel added to each carer-visit.
pub(super) fn weekly_demand(
    packages: &[&Package],
    week: &[NaiveDate; 7],
    travel_min: f64,
) -> Demand {
    let mut demand = vec![[0.0; SLOTS]; 7];
    for p in packages {
        for v in &p.visits {
            let Some((ws, we)) = visit_window(&v.time, v.duration_min) else {
                continue;
            };
            let total = (f64::from(v.duration_min) + travel_min) * f64::from(v.carers_required);
            let (s0, s1) = (
                (ws / SLOT_MIN) as usize,
                (we.div_ceil(SLOT_MIN) as usize).min(SLOTS),
            );
            if s1 <= s0 {
                continue;
            }
            let per_slot = total / (s1 - s0) as f64;
            for (w, date) in week.iter().enumerate() {
                if selector_applies(&v.days, *date) {
                    for slot in &mut demand[w][s0..s1] {
                        *slot += per_slot;
                    }
                }
            }
        }
    }
    demand
}

/// Chooses a shift template for every working carer-day, greedily covering
/// the remaining demand. `works[c][w]` says whether carer `c` works weekday `w`;
/// `absent[c][w]` whether that day is lost to an absence (it keeps its
/// template, since shifts are recurring, but covers nothing).
pub(super) fn assign_shifts<R: Rng>(
    rng: &mut R,
    demand: &Demand,
    works: &[[bool; 7]],
    absent: &[[bool; 7]],
) -> Vec<[Option<usize>; 7]> {
    let mut out = vec![[None; 7]; works.len()];
    for (w, day) in demand.iter().enumerate() {
        let mut remaining = day.map(|d| d * DEMAND_SLACK);
        let mut order: Vec<usize> = (0..works.len()).filter(|&c| works[c][w]).collect();
        order.shuffle(rng);
        // Present carers first, so absent ones do not claim the demand.
        order.sort_by_key(|&c| absent[c][w]);
        for c in order {
            let best = (0..TEMPLATES.len())
                .map(|t| (t, score(&remaining, TEMPLATES[t])))
                .fold((0, f64::MIN), |acc, x| if x.1 > acc.1 { x } else { acc })
                .0;
            out[c][w] = Some(best);
            if !absent[c][w] {
                for &(s, e) in TEMPLATES[best] {
                    for slot in &mut remaining[(s / SLOT_MIN) as usize..(e / SLOT_MIN) as usize] {
                        *slot = (*slot - f64::from(SLOT_MIN)).max(0.0);
                    }
                }
            }
        }
    }
    out
}

fn score(remaining: &[f64; SLOTS], segs: &[(u32, u32)]) -> f64 {
    let mut covered = 0.0;
    let mut length = 0.0;
    for &(s, e) in segs {
        length += f64::from(e - s);
        for r in &remaining[(s / SLOT_MIN) as usize..(e / SLOT_MIN) as usize] {
            covered += r.min(f64::from(SLOT_MIN));
        }
    }
    covered - SHIFT_MINUTE_COST * length
}

/// What a carer must be to do one visit.
#[derive(Debug, Clone)]
pub(super) struct VisitNeed {
    /// Index of the service user (within the team) it belongs to.
    pub user: usize,
    /// Index of the visit pattern within the user's package.
    pub visit: usize,
    /// Skill bits (positions in the skill catalogue).
    pub mask: u32,
    /// Gender the person requires, if any.
    pub gender: Option<Gender>,
    /// Carers (team indices) the person has excluded.
    pub excluded: Vec<usize>,
    /// Carers needed at once.
    pub carers_required: u32,
    /// Carer-minutes per week, travel included.
    pub weekly_min: f64,
    /// Carer-minutes per week of the visits alone.
    pub visit_min: f64,
}

/// The parts of a carer eligibility depends on.
#[derive(Debug, Clone, Copy)]
pub(super) struct Eligibility {
    pub gender: Gender,
    pub skills: u32,
}

fn fits(c: &Eligibility, gender: Option<Gender>) -> bool {
    gender.is_none_or(|g| g == c.gender)
}

/// Whether carer `i` may do the visit.
pub(super) fn eligible(carers: &[Eligibility], i: usize, n: &VisitNeed) -> bool {
    carers
        .get(i)
        .is_some_and(|c| c.skills & n.mask == n.mask && fits(c, n.gender))
        && !n.excluded.contains(&i)
}

/// Adds skills to carers until (a) every skill has holders in proportion to
/// its weekly demand and (b) every visit has at least `carers_required`
/// eligible carers, plus one spare when the visit is restrictive. Returns the
/// indices of needs that cannot be met whatever skills are added (gender or
/// exclusions leave too few candidates).
pub(super) fn spread_skills<R: Rng>(
    rng: &mut R,
    carers: &mut [Eligibility],
    needs: &[VisitNeed],
    base_mask: u32,
) -> Vec<usize> {
    let mut order: Vec<usize> = (0..carers.len()).collect();
    order.shuffle(rng);

    for bit in 0..32 {
        let b = 1u32 << bit;
        if b & base_mask != 0 {
            continue;
        }
        let minutes: f64 = needs
            .iter()
            .filter(|n| n.mask & b != 0)
            .map(|n| n.weekly_min)
            .sum();
        if minutes <= 0.0 {
            continue;
        }
        let want = ((minutes / SKILL_MIN_PER_HOLDER).ceil() as usize).min(carers.len());
        while carers.iter().filter(|c| c.skills & b != 0).count() < want {
            let Some(&i) = order
                .iter()
                .filter(|&&i| carers[i].skills & b == 0)
                .min_by_key(|&&i| carers[i].skills.count_ones())
            else {
                break;
            };
            carers[i].skills |= b;
        }
    }

    let mut unmet = Vec::new();
    for (k, n) in needs.iter().enumerate() {
        let pool: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&i| fits(&carers[i], n.gender) && !n.excluded.contains(&i))
            .collect();
        let restrictive = n.mask & !base_mask != 0 || n.gender.is_some() || n.carers_required > 1;
        let target = n.carers_required as usize + usize::from(restrictive);
        if pool.len() < n.carers_required as usize {
            unmet.push(k);
            continue;
        }
        let target = target.min(pool.len());
        loop {
            let have = pool
                .iter()
                .filter(|&&i| carers[i].skills & n.mask == n.mask)
                .count();
            if have >= target {
                break;
            }
            let Some(&i) = pool
                .iter()
                .filter(|&&i| carers[i].skills & n.mask != n.mask)
                .min_by_key(|&&i| {
                    (
                        (n.mask & !carers[i].skills).count_ones(),
                        carers[i].skills.count_ones(),
                    )
                })
            else {
                break;
            };
            carers[i].skills |= n.mask;
        }
    }
    unmet
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn spread_skills_meets_every_need() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut carers = vec![
            Eligibility {
                gender: Gender::Female,
                skills: 1
            };
            5
        ];
        carers[4].gender = Gender::Male;
        let needs = vec![
            VisitNeed {
                user: 0,
                visit: 0,
                mask: 1 | 4,
                gender: Some(Gender::Female),
                excluded: vec![0],
                carers_required: 2,
                weekly_min: 500.0,
                visit_min: 0.0,
            },
            VisitNeed {
                user: 1,
                visit: 0,
                mask: 1 | 8,
                gender: None,
                excluded: vec![],
                carers_required: 1,
                weekly_min: 4000.0,
                visit_min: 0.0,
            },
            VisitNeed {
                user: 2,
                visit: 0,
                mask: 1,
                gender: Some(Gender::Male),
                excluded: vec![4],
                carers_required: 1,
                weekly_min: 100.0,
                visit_min: 0.0,
            },
        ];
        let unmet = spread_skills(&mut rng, &mut carers, &needs, 1);
        assert_eq!(unmet, vec![2]);
        let count = |n: &VisitNeed| {
            (0..carers.len())
                .filter(|&i| eligible(&carers, i, n))
                .count()
        };
        assert_eq!(count(&needs[0]), 3);
        assert!(count(&needs[1]) >= 3);
    }

    #[test]
    fn shifts_follow_demand() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut day = [0.0; SLOTS];
        for s in &mut day[28..40] {
            *s = 60.0; // heavy morning only
        }
        let demand = vec![day; 7];
        let works = vec![[true; 7]; 3];
        let absent = vec![[false; 7]; 3];
        let shifts = assign_shifts(&mut rng, &demand, &works, &absent);
        assert!(
            shifts.iter().all(|d| d.iter().all(|t| *t == Some(0))),
            "{shifts:?}"
        );
    }
}
