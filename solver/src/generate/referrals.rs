//! The stream of new, unfilled packages the broker must place.
//!
//! Mostly hospital discharges, crises and routine community referrals
//! (docs/domain.md §1.5, §4, §7.2), arriving in office hours over the first days
//! of the horizon, plus a few reablement exits with an end date within six
//! weeks (§3.4).

use super::calendar::Calendar;
use super::county::{COUNTY_CENTRE, COUNTY_RADIUS_M, TeamKind, TeamSite};
use super::geometry::random_in_disk;
use super::needs::{NeedMix, Needs, draw_package};
use super::{pick, pick_index, skill_bit};
use crate::format::{Carer, Funding, Gender, Package, ServiceUser, Strength, Urgency};
use rand::Rng;

/// Referred people (team `None`) and their packages, ordered by referral time.
pub(super) fn referrals<R: Rng>(
    rng: &mut R,
    count: u32,
    teams: &[TeamSite],
    carers: &[Carer],
    cal: &Calendar,
) -> (Vec<ServiceUser>, Vec<Package>) {
    let window_days = cal.days().min(3);
    let mut arrivals: Vec<(u32, u32)> = (0..count)
        .map(|_| {
            let day = *pick(rng, &[(0u32, 0.5), (1, 0.3), (2, 0.2)]) % window_days.max(1);
            (day, rng.random_range(480..1080u32))
        })
        .collect();
    arrivals.sort_unstable();

    let weights: Vec<f64> = teams
        .iter()
        .map(|t| {
            if t.kind == TeamKind::Emergency {
                0.0
            } else {
                f64::from(t.users)
            }
        })
        .collect();
    let staff = staff_by_team(carers);
    let mut users = Vec::new();
    let mut packages = Vec::new();
    for (k, &(day, minute)) in arrivals.iter().enumerate() {
        let location = match pick_index(rng, &weights).and_then(|i| teams.get(i)) {
            Some(t) if rng.random_bool(0.9) => random_in_disk(rng, t.base, t.radius_m * 1.1),
            _ => random_in_disk(rng, COUNTY_CENTRE, COUNTY_RADIUS_M * 0.95),
        };
        let mix = if rng.random_bool(0.1) {
            NeedMix::specialist()
        } else {
            NeedMix::general()
        };
        let mut needs = Needs::draw(rng, &mix);
        let uid = format!("su-r{:04}", k + 1);
        let mut p = draw_package(
            rng,
            &mix,
            &needs,
            format!("ref-{:04}", k + 1),
            uid.clone(),
            cal,
        );
        referral_terms(rng, &mut p, &needs, cal, day, minute);
        make_placeable(&mut p, &mut needs, &staff);
        users.push(ServiceUser {
            id: uid,
            location: location.location(),
            team: None,
            carer_gender: needs.gender.clone(),
            preferred_carers: Vec::new(),
            excluded_carers: Vec::new(),
            known_carers: Vec::new(),
            continuity_cap: None,
        });
        packages.push(p);
    }
    (users, packages)
}

fn referral_terms<R: Rng>(
    rng: &mut R,
    p: &mut Package,
    needs: &Needs,
    cal: &Calendar,
    day: u32,
    minute: u32,
) {
    let last = cal.days().saturating_sub(1);
    p.urgency = *pick(
        rng,
        &[
            (Urgency::HospitalDischarge, 0.45),
            (Urgency::Routine, 0.30),
            (Urgency::Crisis, 0.15),
            (Urgency::Planned, 0.10),
        ],
    );
    p.referral_time = Some(cal.instant(day, minute));
    let start = match p.urgency {
        Urgency::Crisis => day,
        Urgency::HospitalDischarge => day + rng.random_range(0..=1u32),
        Urgency::Planned => day + rng.random_range(2..=5u32),
        _ => day + rng.random_range(1..=3u32),
    }
    .min(last);
    p.start_date = Some(cal.date_str(start));
    let reablement = p.urgency == Urgency::Planned
        || (p.urgency == Urgency::HospitalDischarge && rng.random_bool(0.2));
    if reablement {
        p.end_date = Some(cal.date_str(start + rng.random_range(14..=42u32)));
    }
    p.funding = if needs.complex || needs.end_of_life {
        *pick(rng, &[(Funding::NhsChc, 0.7), (Funding::Joint, 0.3)])
    } else if p.urgency == Urgency::HospitalDischarge {
        *pick(
            rng,
            &[
                (Funding::Council, 0.6),
                (Funding::Joint, 0.25),
                (Funding::SelfFunded, 0.15),
            ],
        )
    } else {
        *pick(
            rng,
            &[
                (Funding::Council, 0.65),
                (Funding::SelfFunded, 0.15),
                (Funding::DirectPayment, 0.12),
                (Funding::Joint, 0.08),
            ],
        )
    };
}

/// Loosens a referral until some team could staff every visit (enough
/// carers with the skills and gender), so the package is a brokering
/// problem rather than a validation error: first a required gender becomes a
/// preference, then rare skills are dropped, then two-carer visits become
/// single-handed.
fn make_placeable(p: &mut Package, needs: &mut Needs, staff: &TeamStaff) {
    for step in 0..4 {
        let required = needs
            .gender
            .as_ref()
            .filter(|g| g.strength == Strength::Required)
            .map(|g| g.gender);
        if staffable(p, required, staff) {
            return;
        }
        match step {
            0 => {
                if let Some(g) = needs.gender.as_mut() {
                    g.strength = Strength::Preferred;
                }
            }
            1 => {
                let common = ["personal_care", "dementia", "medication", "hoist"];
                p.required_skills.retain(|s| common.contains(&s.as_str()));
                for v in &mut p.visits {
                    v.required_skills.retain(|s| common.contains(&s.as_str()));
                }
            }
            2 => {
                p.required_skills.retain(|s| s == "personal_care");
                for v in &mut p.visits {
                    v.required_skills.clear();
                }
            }
            _ => {
                for v in &mut p.visits {
                    v.carers_required = 1;
                }
            }
        }
    }
}

/// Carers as (gender, skill bits), grouped by team.
type TeamStaff = Vec<Vec<(Gender, u32)>>;

fn staff_by_team(carers: &[Carer]) -> TeamStaff {
    let mut teams: Vec<(&str, Vec<(Gender, u32)>)> = Vec::new();
    for c in carers {
        let team = c.team.as_deref().unwrap_or("");
        let mask = c.skills.iter().fold(0, |m, s| m | skill_bit(s));
        match teams.iter_mut().find(|(t, _)| *t == team) {
            Some((_, v)) => v.push((c.gender, mask)),
            None => teams.push((team, vec![(c.gender, mask)])),
        }
    }
    teams.into_iter().map(|(_, v)| v).collect()
}

/// Whether one team has, for every visit, enough eligible carers.
fn staffable(p: &Package, gender: Option<Gender>, staff: &TeamStaff) -> bool {
    let pmask = p.required_skills.iter().fold(0, |m, s| m | skill_bit(s));
    staff.iter().any(|team| {
        p.visits.iter().all(|v| {
            let mask = v
                .required_skills
                .iter()
                .fold(pmask, |m, s| m | skill_bit(s));
            let n = team
                .iter()
                .filter(|(g, m)| gender.is_none_or(|w| w == *g) && m & mask == mask)
                .count();
            n >= v.carers_required as usize
        })
    })
}
