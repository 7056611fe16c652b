//! Sizing a team's availability to its packages: shifts that follow the daily
//! demand curve, and skills spread so every visit has enough eligible carers.
//!
//! Real teams build working patterns around their people (docs/domain.md §2.4,
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
/// Worth of covering a minute of a skill's demand relative to any demand:
/// only holders can cover it.
const SKILL_WEIGHT: f64 = 3.0;
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

/// What shift planning needs to know about a team.
pub(super) struct Staffing<'a> {
    /// Demand of all visits, weekday by slot.
    pub demand: &'a Demand,
    /// Every visit's needs (skills, window, weekdays).
    pub needs: &'a [VisitNeed],
    /// Skill bits of each carer.
    pub skills: &'a [u32],
    /// Working days a week of each carer.
    pub days: &'a [usize],
    /// Weekdays each carer loses to absence.
    pub absent: &'a [[bool; 7]],
    /// Skills everyone holds (they need no planning).
    pub base_mask: u32,
    /// Travel minutes added to each carer-visit.
    pub travel: f64,
}

/// Plans every carer's week: which days they rest and which template they
/// work on the others. Both greedy steps look at the whole team's demand and
/// at the demand for each skill a carer holds, so that holders of a rare
/// skill rest on different days and take the shifts their people need.
pub(super) fn plan_shifts<R: Rng>(rng: &mut R, st: &Staffing) -> Vec<[Option<usize>; 7]> {
    let bits: Vec<u32> = (0..32)
        .map(|b| 1u32 << b)
        .filter(|b| b & st.base_mask == 0 && st.needs.iter().any(|n| n.mask & b != 0))
        .collect();
    let skill_demand: Vec<Demand> = bits
        .iter()
        .map(|&b| demand_of(st.needs.iter().filter(|n| n.mask & b != 0), st.travel))
        .collect();
    let held = |c: usize| -> Vec<usize> {
        (0..bits.len())
            .filter(|&k| st.skills.get(c).is_some_and(|m| m & bits[k] != 0))
            .collect()
    };
    let works = rest_days(rng, st, &skill_demand, &held);
    assign_templates(rng, st, &skill_demand, &held, &works)
}

/// Demand of some visits, weekday by slot (travel included).
fn demand_of<'a>(needs: impl Iterator<Item = &'a VisitNeed>, travel: f64) -> Demand {
    let mut demand = vec![[0.0; SLOTS]; 7];
    for n in needs {
        let (s0, s1) = (
            (n.window.0 / SLOT_MIN) as usize,
            (n.window.1.div_ceil(SLOT_MIN) as usize).min(SLOTS),
        );
        if s1 <= s0 {
            continue;
        }
        let per_slot =
            (f64::from(n.duration) + travel) * f64::from(n.carers_required) / (s1 - s0) as f64;
        for (w, day) in demand.iter_mut().enumerate() {
            if n.weekdays[w] {
                for slot in &mut day[s0..s1] {
                    *slot += per_slot;
                }
            }
        }
    }
    demand
}

/// One run of rest days per carer, placed in turn (rarest skills first) on
/// the days where the team, and the holders of the carer's skills, are most
/// plentiful for the demand.
fn rest_days<R: Rng>(
    rng: &mut R,
    st: &Staffing,
    skill_demand: &[Demand],
    held: &dyn Fn(usize) -> Vec<usize>,
) -> Vec<[bool; 7]> {
    let n = st.days.len();
    let total =
        |d: &Demand| -> Vec<f64> { d.iter().map(|x| x.iter().sum::<f64>() + 1.0).collect() };
    let need = total(st.demand);
    let skill_need: Vec<Vec<f64>> = skill_demand.iter().map(total).collect();
    let present = |c: usize, w: usize| !st.absent.get(c).is_some_and(|a| a[w]);
    let mut staff: [f64; 7] =
        std::array::from_fn(|w| (0..n).filter(|&c| present(c, w)).count() as f64);
    let mut skill_staff: Vec<[f64; 7]> = (0..skill_demand.len())
        .map(|k| {
            std::array::from_fn(|w| {
                (0..n)
                    .filter(|&c| present(c, w) && held(c).contains(&k))
                    .count() as f64
            })
        })
        .collect();
    let offset = rng.random_range(0..7usize);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&c| std::cmp::Reverse(held(c).len()));
    let mut out = vec![[true; 7]; n];
    for c in order {
        let rest = 7usize.saturating_sub(st.days[c]);
        if rest == 0 {
            continue;
        }
        let mine = held(c);
        let value = |w: usize| -> f64 {
            if !present(c, w) {
                return 1e3; // resting on a sick day costs the team nothing
            }
            staff[w] / need[w]
                + mine
                    .iter()
                    .map(|&k| skill_staff[k][w] / skill_need[k][w] * 10.0)
                    .sum::<f64>()
        };
        let start = (0..7)
            .map(|k| (k + offset) % 7)
            .map(|s| (s, (0..rest).map(|j| value((s + j) % 7)).sum::<f64>()))
            .fold(
                (offset, f64::MIN),
                |best, x| if x.1 > best.1 { x } else { best },
            )
            .0;
        for j in 0..rest {
            let w = (start + j) % 7;
            out[c][w] = false;
            if present(c, w) {
                staff[w] -= 1.0;
                for &k in &mine {
                    skill_staff[k][w] -= 1.0;
                }
            }
        }
    }
    out
}

/// Chooses a shift template for every working carer-day, greedily covering
/// the remaining demand of the team and of the skills the carer holds.
/// Absent carer-days keep a template (shifts are recurring) but cover nothing.
fn assign_templates<R: Rng>(
    rng: &mut R,
    st: &Staffing,
    skill_demand: &[Demand],
    held: &dyn Fn(usize) -> Vec<usize>,
    works: &[[bool; 7]],
) -> Vec<[Option<usize>; 7]> {
    let absent = |c: usize, w: usize| st.absent.get(c).is_some_and(|a| a[w]);
    let mut out = vec![[None; 7]; works.len()];
    for w in 0..7 {
        let mut remaining = st.demand[w].map(|d| d * DEMAND_SLACK);
        let mut skill_rem: Vec<[f64; SLOTS]> = skill_demand
            .iter()
            .map(|d| d[w].map(|x| x * DEMAND_SLACK))
            .collect();
        let mut order: Vec<usize> = (0..works.len()).filter(|&c| works[c][w]).collect();
        order.shuffle(rng);
        // Present carers first, so absent ones do not claim the demand; then
        // holders of most skills, whose choice matters most.
        order.sort_by_key(|&c| (absent(c, w), std::cmp::Reverse(held(c).len())));
        for c in order {
            let mine = held(c);
            let best = (0..TEMPLATES.len())
                .map(|t| {
                    let skills: f64 = mine
                        .iter()
                        .map(|&k| SKILL_WEIGHT * covered(&skill_rem[k], TEMPLATES[t]))
                        .sum();
                    (
                        t,
                        covered(&remaining, TEMPLATES[t]) + skills
                            - SHIFT_MINUTE_COST * length(TEMPLATES[t]),
                    )
                })
                .fold((0, f64::MIN), |acc, x| if x.1 > acc.1 { x } else { acc })
                .0;
            out[c][w] = Some(best);
            if !absent(c, w) {
                take(&mut remaining, TEMPLATES[best]);
                for &k in &mine {
                    take(&mut skill_rem[k], TEMPLATES[best]);
                }
            }
        }
    }
    out
}

/// Demand a template's slots can absorb (one carer: a slot's length each).
fn covered(remaining: &[f64; SLOTS], segs: &[(u32, u32)]) -> f64 {
    segs.iter()
        .flat_map(|&(s, e)| &remaining[(s / SLOT_MIN) as usize..(e / SLOT_MIN) as usize])
        .map(|r| r.min(f64::from(SLOT_MIN)))
        .sum()
}

/// Removes one carer's worth of a template from the remaining demand.
fn take(remaining: &mut [f64; SLOTS], segs: &[(u32, u32)]) {
    for &(s, e) in segs {
        for slot in &mut remaining[(s / SLOT_MIN) as usize..(e / SLOT_MIN) as usize] {
            *slot = (*slot - f64::from(SLOT_MIN)).max(0.0);
        }
    }
}

fn length(segs: &[(u32, u32)]) -> f64 {
    segs.iter().map(|&(s, e)| f64::from(e - s)).sum()
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
    /// Window the whole visit must fit in, local minutes.
    pub window: (u32, u32),
    /// Length of the visit, minutes.
    pub duration: u32,
    /// Weekdays (Monday first) the visit falls on within the horizon's first week.
    pub weekdays: [bool; 7],
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

/// Whether a carer working `template` can fit the visit into one of its segments.
fn template_fits(template: Option<usize>, n: &VisitNeed) -> bool {
    let segs = template
        .and_then(|t| TEMPLATES.get(t))
        .copied()
        .unwrap_or(&[]);
    segs.iter()
        .any(|&(s, e)| n.window.1.min(e).saturating_sub(n.window.0.max(s)) >= n.duration)
}

/// Adds skills to carers on duty until each visit, on each weekday it falls
/// on, has `carers_required` eligible carers whose shift can hold it: a
/// team-wide count alone can leave a day with the only hoist-trained pair
/// off or sick. When nobody on duty can take the visit at all, a working
/// carer's template that day is widened (to a split shift where it fits).
pub(super) fn cover_each_day<R: Rng>(
    rng: &mut R,
    carers: &mut [Eligibility],
    needs: &[VisitNeed],
    duty: &mut [[Option<usize>; 7]],
    absent: &[[bool; 7]],
    base_mask: u32,
) {
    let mut order: Vec<usize> = (0..carers.len()).collect();
    order.shuffle(rng);
    for n in needs {
        // First the carers the visit needs, then one spare on duty for the visits
        // that need two carers at once or a carer of a required gender with a
        // special skill, so that one busy carer does not leave the visit
        // unplaceable. (Single-handed skilled calls have spares through
        // `spread_skills` already; training more would inflate skill shares.)
        let skilled = n.mask & !base_mask != 0;
        let restrictive = n.carers_required > 1 || (n.gender.is_some() && skilled);
        let needed = n.carers_required as usize;
        for target in [needed, needed + usize::from(restrictive)] {
            cover_need(carers, n, duty, absent, &order, target);
        }
    }
}

/// One pass of [`cover_each_day`] for one visit: trains carers on duty, or
/// widens a working carer's shift, until each of the visit's weekdays has
/// `target` eligible carers whose shift can hold it (or nothing more helps).
fn cover_need(
    carers: &mut [Eligibility],
    n: &VisitNeed,
    duty: &mut [[Option<usize>; 7]],
    absent: &[[bool; 7]],
    order: &[usize],
    target: usize,
) {
    let on_duty = |duty: &[[Option<usize>; 7]], c: usize, w: usize, n: &VisitNeed| {
        !absent[c][w] && template_fits(duty[c][w], n)
    };
    let candidate =
        |c: usize, carers: &[Eligibility]| fits(&carers[c], n.gender) && !n.excluded.contains(&c);
    // Each round trains a carer or widens a shift; bounded for safety.
    for _ in 0..(carers.len() * 8 + 8) {
        // Days still short of eligible carers on duty.
        let short: Vec<usize> = (0..7)
            .filter(|&w| n.weekdays[w])
            .filter(|&w| {
                let have = order
                    .iter()
                    .filter(|&&c| {
                        on_duty(duty, c, w, n)
                            && candidate(c, carers)
                            && carers[c].skills & n.mask == n.mask
                    })
                    .count();
                have < target
            })
            .collect();
        let Some(&first_short) = short.first() else {
            break;
        };
        // Train whoever is on duty on most of those days (a greedy set cover),
        // so that few carers gain each skill.
        let best = order
            .iter()
            .copied()
            .filter(|&c| candidate(c, carers) && carers[c].skills & n.mask != n.mask)
            .map(|c| (c, short.iter().filter(|&&w| on_duty(duty, c, w, n)).count()))
            .filter(|&(_, days)| days > 0)
            .max_by_key(|&(c, days)| {
                (
                    days,
                    std::cmp::Reverse((n.mask & !carers[c].skills).count_ones()),
                )
            });
        if let Some((c, _)) = best {
            carers[c].skills |= n.mask;
            continue;
        }
        let w = first_short;
        let widen = order
            .iter()
            .copied()
            .filter(|&c| candidate(c, carers) && !absent[c][w] && duty[c][w].is_some())
            .find(|&c| !template_fits(duty[c][w], n));
        let template = [2, 0, 1, 3]
            .into_iter()
            .find(|&t| template_fits(Some(t), n));
        match (widen, template) {
            (Some(c), Some(t)) => duty[c][w] = Some(t),
            _ => break,
        }
    }
}

#[cfg(test)]
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
                window: (420, 600),
                duration: 30,
                weekdays: [true; 7],
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
                window: (420, 600),
                duration: 30,
                weekdays: [true; 7],
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
                window: (420, 600),
                duration: 30,
                weekdays: [true; 7],
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
    fn shifts_follow_demand_and_skills() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut day = [0.0; SLOTS];
        for s in &mut day[28..40] {
            *s = 60.0; // heavy morning (07:00-10:00) only
        }
        let demand = vec![day; 7];
        let st = Staffing {
            demand: &demand,
            needs: &[],
            skills: &[1, 1, 1],
            days: &[7, 7, 5],
            absent: &[[false; 7]; 3],
            base_mask: 1,
            travel: 0.0,
        };
        let shifts = plan_shifts(&mut rng, &st);
        assert!(
            shifts[..2].iter().all(|d| d.iter().all(|t| *t == Some(0))),
            "{shifts:?}"
        );
        assert_eq!(shifts[2].iter().filter(|t| t.is_some()).count(), 5);

        // Two holders of a skill needed every evening: they rest on different days.
        let evening = VisitNeed {
            user: 0,
            visit: 0,
            mask: 1 | 2,
            gender: None,
            excluded: vec![],
            carers_required: 1,
            weekly_min: 0.0,
            visit_min: 0.0,
            window: (1140, 1320),
            duration: 30,
            weekdays: [true; 7],
        };
        let st = Staffing {
            needs: std::slice::from_ref(&evening),
            skills: &[3, 3, 1, 1],
            days: &[5, 5, 5, 5],
            absent: &[[false; 7]; 4],
            ..st
        };
        let shifts = plan_shifts(&mut rng, &st);
        for w in 0..7 {
            let on = (0..2)
                .filter(|&c| shifts[c][w].is_some_and(|t| TEMPLATES[t].iter().any(|s| s.1 >= 1320)))
                .count();
            assert!(
                on >= 1,
                "no skilled carer in the evening of day {w}: {shifts:?}"
            );
        }
    }
}
