//! Care needs of one person turned into a weekly visit pattern.
//!
//! Shapes follow docs/domain.md §7.3 (rise-and-retire bands, 15/30/45/60-minute
//! units) and §2 (dementia, complex and end-of-life needs). What the seeds leave
//! open (double-handed share, gender wishes, links) uses plausible UK figures:
//! about one visit in ten double-handed, a quarter of people with dementia.

use super::calendar::{Calendar, hhmm};
use super::pick;
use crate::format::{Day, DaySelector, Funding};
use crate::format::{
    Gender, GenderPreference, Package, Strength, TimeSpec, Urgency, VisitLink, VisitPattern,
};
use rand::Rng;

/// Probabilities of each need among a team's (or a referral stream's) people.
#[derive(Debug, Clone, Copy)]
pub(super) struct NeedMix {
    /// Weights of 1, 2, 3 and 4 routine visits a day.
    pub visits_per_day: [f64; 4],
    pub dementia: f64,
    pub hoist: f64,
    pub two_for_behaviour: f64,
    pub complex: f64,
    pub end_of_life: f64,
    pub mental_health: f64,
    pub peg: f64,
    pub catheter: f64,
    pub stoma: f64,
    pub time_critical: f64,
    pub meds_link: f64,
    pub shower: f64,
    pub review: f64,
    pub gender_wish: f64,
}

impl NeedMix {
    /// People served by an ordinary team.
    pub fn general() -> Self {
        NeedMix {
            visits_per_day: [0.25, 0.35, 0.25, 0.15],
            dementia: 0.25,
            hoist: 0.11,
            two_for_behaviour: 0.01,
            complex: 0.02,
            end_of_life: 0.015,
            mental_health: 0.03,
            peg: 0.01,
            catheter: 0.04,
            stoma: 0.02,
            time_critical: 0.03,
            meds_link: 0.06,
            shower: 0.10,
            review: 0.02,
            gender_wish: 0.12,
        }
    }

    /// People served by a specialist (dementia / complex needs) provider.
    pub fn specialist() -> Self {
        NeedMix {
            visits_per_day: [0.05, 0.25, 0.35, 0.35],
            dementia: 0.60,
            hoist: 0.20,
            two_for_behaviour: 0.03,
            complex: 0.30,
            end_of_life: 0.08,
            mental_health: 0.08,
            peg: 0.05,
            catheter: 0.08,
            stoma: 0.03,
            time_critical: 0.05,
            ..Self::general()
        }
    }
}

/// One person's drawn needs.
#[derive(Debug, Clone, Default)]
pub(super) struct Needs {
    pub dementia: bool,
    pub hoist: bool,
    pub two_for_behaviour: bool,
    pub complex: bool,
    pub end_of_life: bool,
    pub mental_health: bool,
    pub peg: bool,
    pub catheter: bool,
    pub stoma: bool,
    pub time_critical: bool,
    pub meds_link: bool,
    pub shower: bool,
    pub review: bool,
    pub gender: Option<GenderPreference>,
}

impl Needs {
    /// Draws needs from a mix.
    pub fn draw<R: Rng>(rng: &mut R, mix: &NeedMix) -> Self {
        let mut n = Needs {
            dementia: rng.random_bool(mix.dementia),
            hoist: rng.random_bool(mix.hoist),
            two_for_behaviour: rng.random_bool(mix.two_for_behaviour),
            complex: rng.random_bool(mix.complex),
            end_of_life: rng.random_bool(mix.end_of_life),
            mental_health: rng.random_bool(mix.mental_health),
            peg: rng.random_bool(mix.peg),
            catheter: rng.random_bool(mix.catheter),
            stoma: rng.random_bool(mix.stoma),
            time_critical: rng.random_bool(mix.time_critical),
            meds_link: rng.random_bool(mix.meds_link),
            shower: rng.random_bool(mix.shower),
            review: rng.random_bool(mix.review),
            gender: None,
        };
        // Exact 4-hourly medication and a flexible meds-then-lunch link do not mix.
        if n.time_critical {
            n.meds_link = false;
        }
        if rng.random_bool(mix.gender_wish) {
            let (gender, strength) = *pick(
                rng,
                &[
                    ((Gender::Female, Strength::Preferred), 0.70),
                    ((Gender::Female, Strength::Required), 0.15),
                    ((Gender::Male, Strength::Preferred), 0.15),
                ],
            );
            n.gender = Some(GenderPreference { gender, strength });
        }
        n
    }

    /// Whether any routine visit needs two carers.
    pub fn double_handed(&self) -> bool {
        self.hoist || self.two_for_behaviour
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Morning,
    Lunch,
    Tea,
    Bed,
}

/// Draws a package (visits, links, skills) for `needs`. Urgency, funding and
/// dates are left for the caller, which knows whether this is an active
/// package or a referral.
pub(super) fn draw_package<R: Rng>(
    rng: &mut R,
    mix: &NeedMix,
    needs: &Needs,
    id: String,
    service_user: String,
    cal: &Calendar,
) -> Package {
    use Slot::*;
    let per_day = if needs.end_of_life {
        4
    } else {
        *pick(
            rng,
            &[
                (1, mix.visits_per_day[0]),
                (2, mix.visits_per_day[1]),
                (3, mix.visits_per_day[2]),
                (4, mix.visits_per_day[3]),
            ],
        )
    };
    let mut slots: Vec<Slot> = match per_day {
        1 => vec![*pick(
            rng,
            &[(Morning, 0.35), (Lunch, 0.25), (Tea, 0.15), (Bed, 0.25)],
        )],
        2 => pick(
            rng,
            &[
                (vec![Morning, Bed], 0.45),
                (vec![Morning, Tea], 0.30),
                (vec![Morning, Lunch], 0.15),
                (vec![Lunch, Bed], 0.10),
            ],
        )
        .clone(),
        3 => pick(
            rng,
            &[
                (vec![Morning, Lunch, Bed], 0.55),
                (vec![Morning, Tea, Bed], 0.30),
                (vec![Morning, Lunch, Tea], 0.15),
            ],
        )
        .clone(),
        _ => vec![Morning, Lunch, Tea, Bed],
    };
    if needs.meds_link && !slots.contains(&Lunch) {
        slots.push(Lunch);
        slots.sort_by_key(|s| *s as u8);
    }
    // Fewer routine visits: families often cover some days.
    let light = slots.len() == 1;
    let base_minute = *pick(rng, &[(480u32, 0.5), (510, 0.5)]);

    let mut visits = Vec::new();
    for &slot in &slots {
        let mut v = routine_visit(rng, slot, needs, base_minute);
        if light {
            v.days = vec![Day::from(*pick(
                rng,
                &[("daily", 0.82), ("weekdays", 0.13), ("weekends", 0.05)],
            ))];
        } else if slot == Lunch && !needs.meds_link && !needs.time_critical && rng.random_bool(0.12)
        {
            let days = *pick(
                rng,
                &[
                    (&["weekdays"][..], 0.5),
                    (&["mon", "wed", "fri"][..], 0.3),
                    (&["tue", "thu", "sat"][..], 0.2),
                ],
            );
            v.days = days.iter().map(|&d| d.into()).collect();
        }
        visits.push(v);
    }

    let mut links = Vec::new();
    if needs.meds_link {
        visits.push(VisitPattern {
            id: "meds".into(),
            days: vec!["daily".into()],
            time: window(630, 720),
            duration_min: 15,
            carers_required: 1,
            required_skills: vec!["medication".into()],
            demand: 0,
        });
        links.push(VisitLink {
            first: "meds".into(),
            then: "lunch".into(),
            min_gap_min: 30,
            max_gap_min: 120,
        });
    }
    if needs.shower {
        let pair = *pick(
            rng,
            &[
                (&["mon", "thu"][..], 1.0),
                (&["tue", "fri"][..], 1.0),
                (&["wed", "sat"][..], 1.0),
            ],
        );
        visits.push(VisitPattern {
            id: "shower".into(),
            days: pair.iter().map(|&d| d.into()).collect(),
            time: window(600, 810),
            duration_min: *pick(rng, &[(45, 0.6), (60, 0.4)]),
            carers_required: if needs.hoist { 2 } else { 1 },
            required_skills: if needs.hoist {
                vec!["hoist".into()]
            } else {
                Vec::new()
            },
            demand: 0,
        });
    }
    if needs.review {
        let day = cal.days().saturating_sub(1).min(2);
        visits.push(VisitPattern {
            id: "review".into(),
            days: vec![DaySelector::Date(cal.date(day)).into()],
            time: window(600, 750),
            duration_min: 30,
            carers_required: 1,
            required_skills: Vec::new(),
            demand: 0,
        });
    }

    let mut required_skills = vec!["personal_care".to_string()];
    for (flag, skill) in [
        (needs.dementia, "dementia"),
        (needs.complex, "complex_care"),
        (needs.mental_health, "mental_health"),
        (needs.end_of_life, "end_of_life"),
    ] {
        if flag {
            required_skills.push(skill.into());
        }
    }

    Package {
        id,
        service_user,
        visits,
        links,
        required_skills,
        referral_time: None,
        urgency: Urgency::Routine,
        funding: Funding::Council,
        start_date: None,
        end_date: None,
    }
}

/// A `Window` spec from minutes after midnight.
fn window(start: u32, end: u32) -> TimeSpec {
    TimeSpec::Window {
        start: hhmm(start),
        end: hhmm(end),
    }
}

/// One routine visit: timing, length, carers and skills.
fn routine_visit<R: Rng>(rng: &mut R, slot: Slot, needs: &Needs, base_minute: u32) -> VisitPattern {
    let double = match slot {
        Slot::Morning => needs.double_handed(),
        Slot::Bed => needs.hoist,
        Slot::Tea => needs.hoist && rng.random_bool(0.7),
        Slot::Lunch => false,
    };
    let (id, time, exact_offset) = match slot {
        Slot::Morning => (
            "am",
            pick(
                rng,
                &[
                    (TimeSpec::Band("morning".into()), 0.40),
                    (window(480, 660), 0.25),
                    (window(450, 630), 0.10),
                    (window(510, 690), 0.15),
                    (window(540, 720), 0.10),
                ],
            )
            .clone(),
            0,
        ),
        Slot::Lunch => (
            "lunch",
            pick(
                rng,
                &[
                    (TimeSpec::Band("lunch".into()), 0.75),
                    (window(720, 840), 0.125),
                    (window(690, 810), 0.125),
                ],
            )
            .clone(),
            240,
        ),
        Slot::Tea => (
            "tea",
            pick(
                rng,
                &[
                    (TimeSpec::Band("tea".into()), 0.70),
                    (window(930, 1050), 0.15),
                    (window(990, 1110), 0.15),
                ],
            )
            .clone(),
            480,
        ),
        Slot::Bed => (
            "bed",
            pick(
                rng,
                &[
                    (TimeSpec::Band("evening".into()), 0.65),
                    (window(1170, 1320), 0.15),
                    (window(1110, 1260), 0.20),
                ],
            )
            .clone(),
            720,
        ),
    };
    let time = if needs.time_critical {
        TimeSpec::Exact(hhmm(base_minute + exact_offset))
    } else {
        time
    };
    let duration_min = match (slot, double) {
        (Slot::Morning, true) => *pick(rng, &[(30, 0.4), (45, 0.5), (60, 0.1)]),
        (Slot::Morning, false) => *pick(rng, &[(15, 0.12), (30, 0.68), (45, 0.17), (60, 0.03)]),
        (Slot::Lunch, _) => *pick(rng, &[(15, 0.7), (30, 0.3)]),
        (Slot::Tea, true) => 30,
        (Slot::Tea, false) => *pick(rng, &[(15, 0.75), (30, 0.25)]),
        (Slot::Bed, true) => *pick(rng, &[(30, 0.75), (45, 0.25)]),
        (Slot::Bed, false) => *pick(rng, &[(15, 0.50), (30, 0.47), (45, 0.03)]),
    };
    let mut skills: Vec<&str> = Vec::new();
    if double && needs.hoist {
        skills.push("hoist");
    }
    let meds = needs.time_critical
        || match slot {
            Slot::Morning => rng.random_bool(0.20),
            Slot::Bed => rng.random_bool(0.10),
            _ => false,
        };
    if meds {
        skills.push("medication");
    }
    if needs.peg && slot == Slot::Lunch {
        skills.push("peg_feeding");
    }
    if needs.catheter && slot == Slot::Bed {
        skills.push("catheter_care");
    }
    if needs.stoma && slot == Slot::Morning {
        skills.push("stoma_care");
    }
    VisitPattern {
        id: id.into(),
        days: vec!["daily".into()],
        time,
        duration_min,
        carers_required: if double { 2 } else { 1 },
        required_skills: skills.into_iter().map(String::from).collect(),
        demand: 0,
    }
}
