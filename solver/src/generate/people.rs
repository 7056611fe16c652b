//! One team's people: carers (contracts, skills, shifts, absences) and the
//! service users it cares for with their active packages.
//!
//! Workforce shares follow docs/domain.md §3.6 and §7.8: 55-74% zero-hours,
//! about 80% women, carers living inside the patch they serve.

use super::calendar::{Calendar, compress_weekdays, hhmm};
use super::county::{COUNTY_CENTRE, COUNTY_RADIUS_M, Geography, TeamKind, TeamSite};
use super::geometry::{Point, random_in_disk, random_near};
use super::needs::{NeedMix, Needs, draw_package};
use super::roster::{self, Eligibility, TEMPLATES, VisitNeed};
use super::{pick, skill_bit, skill_names};
use crate::format::{
    Absence, Carer, ContractType, Funding, Gender, Package, ServiceUser, Shift, Strength,
    TravelMode, Urgency,
};
use rand::Rng;
use rand::seq::IndexedRandom;

/// Share of carers holding each skill: (skill, general team, specialist team, emergency team).
const CARER_SKILLS: [(&str, f64, f64, f64); 13] = [
    ("dementia", 0.15, 0.80, 0.60),
    ("complex_care", 0.05, 0.60, 0.30),
    ("clinical_nursing", 0.02, 0.15, 0.10),
    ("wound_care", 0.05, 0.20, 0.15),
    ("peg_feeding", 0.05, 0.30, 0.20),
    ("hoist", 0.55, 0.80, 0.90),
    ("medication", 0.55, 0.80, 0.90),
    ("nutrition", 0.15, 0.30, 0.20),
    ("falls", 0.15, 0.30, 0.20),
    ("mental_health", 0.06, 0.30, 0.15),
    ("end_of_life", 0.10, 0.30, 0.30),
    ("catheter_care", 0.15, 0.30, 0.40),
    ("stoma_care", 0.08, 0.20, 0.20),
];

/// A team's generated people.
#[derive(Debug, Clone, Default)]
pub(super) struct TeamPeople {
    pub carers: Vec<Carer>,
    pub users: Vec<ServiceUser>,
    pub packages: Vec<Package>,
}

struct CarerDraft {
    /// Most working days a week this contract stretches to.
    max_days: usize,
    /// Highest weekly cap this contract stretches to (48 h is the Working Time limit).
    cap_limit: u32,
    gender: Gender,
    contract: ContractType,
    contracted: u32,
    max_week: u32,
    mode: TravelMode,
    home: Point,
    skills: u32,
    /// Working days a week.
    days: usize,
    absences: Vec<(u32, u32, u32, u32, &'static str)>, // (from day, from min, to day, to min, reason)
}

struct UserDraft {
    location: Point,
    needs: Needs,
    excluded: Vec<usize>,
}

/// Typical travel minutes per carer-visit, used only to size shifts.
pub(super) fn travel_estimate(site: &TeamSite) -> f64 {
    match (site.kind, site.town) {
        (TeamKind::Emergency, _) => 25.0,
        (_, Some(_)) => 6.0,
        (_, None) => 14.0,
    }
}

/// Builds carers, service users and active packages of one team.
#[allow(clippy::too_many_arguments)]
pub(super) fn build_team<R: Rng>(
    rng: &mut R,
    site: &TeamSite,
    team_id: &str,
    geo: &Geography,
    cal: &Calendar,
    first_carer: usize,
    first_user: usize,
) -> TeamPeople {
    let mix = match site.kind {
        TeamKind::Specialist => NeedMix::specialist(),
        _ => NeedMix::general(),
    };
    let base_mask = skill_bit("personal_care");
    let n_carers = site.carers as usize;
    let hamlets = hamlets(rng, site);
    let mut carers: Vec<CarerDraft> = (0..n_carers)
        .map(|_| draw_carer(rng, site, geo, &hamlets, base_mask))
        .collect();
    balance_genders(&mut carers);
    draw_absences(rng, &mut carers, cal);

    // People and packages.
    let mut users: Vec<UserDraft> = Vec::new();
    let mut packages: Vec<Package> = Vec::new();
    for k in 0..site.users as usize {
        let location = place_person(rng, site, geo, &hamlets, false);
        let mut needs = Needs::draw(rng, &mix);
        // Keep the team's double-handed share near its target: a team already
        // heavy with two-carer calls would not be given another.
        let (doubles, all) = packages
            .iter()
            .flat_map(|p| &p.visits)
            .fold((0, 0), |(d, a), v| {
                (d + usize::from(v.carers_required > 1), a + 1)
            });
        if needs.double_handed() && all >= 10 && doubles * 100 > all * MAX_DOUBLE_PERCENT {
            needs.hoist = false;
            needs.two_for_behaviour = false;
        }
        let uid = format!("su-{:05}", first_user + k + 1);
        let mut pkg = draw_package(
            rng,
            &mix,
            &needs,
            format!("pkg-{:05}", first_user + k + 1),
            uid,
            cal,
        );
        active_terms(rng, &mut pkg, &needs, cal);
        let excluded = if n_carers >= 6 && rng.random_bool(0.03) {
            vec![rng.random_range(0..n_carers)]
        } else {
            Vec::new()
        };
        users.push(UserDraft {
            location,
            needs,
            excluded,
        });
        packages.push(pkg);
    }

    // Capacity: enough working days and weekly minutes, else a smaller caseload.
    let travel = travel_estimate(site);
    let absent_days: Vec<[bool; 7]> = carers.iter().map(|c| absent_weekdays(c, cal)).collect();
    while users.len() > 1
        && !fit_capacity(
            &mut carers,
            &absent_days,
            &needs_of(&users, &packages, travel, cal),
            travel,
        )
    {
        users.pop();
        packages.pop();
    }

    // Skills: enough eligible carers for every visit; relax impossible wishes.
    let mut elig: Vec<Eligibility> = carers
        .iter()
        .map(|c| Eligibility {
            gender: c.gender,
            skills: c.skills,
        })
        .collect();
    let mut visit_needs = Vec::new();
    // Each round relaxes what blocks an unmet visit: exclusions, then a
    // required gender, then (tiny teams only) the second carer.
    for _round in 0..4 {
        visit_needs = needs_of(&users, &packages, travel, cal);
        let unmet = roster::spread_skills(rng, &mut elig, &visit_needs, base_mask);
        if unmet.is_empty() {
            break;
        }
        for n in unmet.iter().filter_map(|&k| visit_needs.get(k)) {
            let Some(u) = users.get_mut(n.user) else {
                continue;
            };
            if !u.excluded.is_empty() {
                u.excluded.clear();
            } else if let Some(g) = u
                .needs
                .gender
                .as_mut()
                .filter(|g| g.strength == Strength::Required)
            {
                g.strength = Strength::Preferred;
            } else if let Some(v) = packages
                .get_mut(n.user)
                .and_then(|p| p.visits.get_mut(n.visit))
            {
                v.carers_required = 1;
            }
        }
    }
    for (c, e) in carers.iter_mut().zip(&elig) {
        c.skills = e.skills;
    }

    // Shifts following the team's demand curve.
    let week: [chrono::NaiveDate; 7] =
        std::array::from_fn(|w| cal.date(((w + 7 - cal.weekday(0)) % 7) as u32));
    let refs: Vec<&Package> = packages.iter().collect();
    let mut demand = roster::weekly_demand(&refs, &week, travel);
    // Weekdays outside a short horizon need nobody: rest days go there.
    for (w, day) in demand.iter_mut().enumerate() {
        if !(0..cal.days().min(7)).any(|d| cal.weekday(d) == w) {
            day.iter_mut().for_each(|x| *x = 0.0);
        }
    }
    let absent: Vec<[bool; 7]> = carers.iter().map(|c| absent_weekdays(c, cal)).collect();
    let skills: Vec<u32> = elig.iter().map(|e| e.skills).collect();
    let days: Vec<usize> = carers.iter().map(|c| c.days).collect();
    let staffing = roster::Staffing {
        demand: &demand,
        needs: &visit_needs,
        skills: &skills,
        days: &days,
        absent: &absent,
        base_mask,
        travel,
    };
    let mut templates = roster::plan_shifts(rng, &staffing);
    roster::cover_each_day(
        rng,
        &mut elig,
        &visit_needs,
        &mut templates,
        &absent,
        base_mask,
    );
    for (c, e) in carers.iter_mut().zip(&elig) {
        c.skills = e.skills;
    }

    // Wire carers.
    let carer_ids: Vec<String> = (0..n_carers)
        .map(|i| format!("carer-{:04}", first_carer + i + 1))
        .collect();
    let wire_carers: Vec<Carer> = carers
        .iter()
        .zip(&templates)
        .zip(&carer_ids)
        .map(|((c, t), id)| Carer {
            id: id.clone(),
            team: Some(team_id.to_string()),
            skills: skill_names(c.skills),
            gender: c.gender,
            contract: c.contract,
            contracted_min_per_week: c.contracted,
            max_min_per_day: 600,
            max_min_per_week: c.max_week,
            worked_min_before_start: 0,
            travel_mode: c.mode,
            home: c.home.location(),
            shifts: shifts_of(t),
            absences: c
                .absences
                .iter()
                .map(|&(d0, m0, d1, m1, reason)| Absence {
                    from: cal.instant(d0, m0),
                    to: cal.instant(d1, m1),
                    reason: Some(reason.to_string()),
                })
                .collect(),
            capacity: None,
        })
        .collect();

    // Wire users: continuity history among carers able to do their package.
    let mut wire_users = Vec::new();
    for (k, (u, p)) in users.iter().zip(&packages).enumerate() {
        let able: Vec<usize> = (0..n_carers)
            .filter(|&i| {
                visit_needs
                    .iter()
                    .filter(|n| n.user == k)
                    .all(|n| roster::eligible(&elig, i, n))
            })
            .collect();
        let pool: Vec<usize> = if able.is_empty() {
            (0..n_carers).filter(|i| !u.excluded.contains(i)).collect()
        } else {
            able
        };
        let n_known = rng.random_range(1..=4usize).min(pool.len());
        let mut known: Vec<usize> = pool.choose_multiple(rng, n_known).copied().collect();
        known.sort_unstable();
        let preferred: Vec<usize> = if rng.random_bool(0.2) {
            known.choose(rng).copied().into_iter().collect()
        } else {
            Vec::new()
        };
        let double = p.visits.iter().any(|v| v.carers_required > 1);
        // Two or more double-handed calls a day, every day, cannot be shared by
        // four carers who each rest two days a week: such packages get a small
        // named team of six (a pair per call slot plus cover for rest days).
        let heavy_double = p.visits.iter().filter(|v| v.carers_required > 1).count() >= 2;
        let draw = rng.random::<f64>();
        let continuity_cap = match draw {
            _ if heavy_double => Some(6),
            x if x < 0.05 && !double => Some(3),
            x if x < 0.08 => Some(5),
            _ => None,
        };
        let ids = |v: &[usize]| {
            v.iter()
                .filter_map(|&i| carer_ids.get(i).cloned())
                .collect::<Vec<_>>()
        };
        wire_users.push(ServiceUser {
            id: p.service_user.clone(),
            location: u.location.location(),
            team: Some(team_id.to_string()),
            carer_gender: u.needs.gender.clone(),
            preferred_carers: ids(&preferred),
            excluded_carers: ids(&u.excluded),
            known_carers: ids(&known),
            continuity_cap,
        });
    }

    TeamPeople {
        carers: wire_carers,
        users: wire_users,
        packages,
    }
}

fn draw_carer<R: Rng>(
    rng: &mut R,
    site: &TeamSite,
    geo: &Geography,
    hamlets: &[Point],
    base_mask: u32,
) -> CarerDraft {
    let gender = *pick(
        rng,
        &[
            (Gender::Female, 0.80),
            (Gender::Male, 0.19),
            (Gender::Other, 0.01),
        ],
    );
    let contract = if rng.random_bool(site.zero_hours_share.clamp(0.0, 1.0)) {
        ContractType::ZeroHours
    } else if rng.random_bool(0.65) {
        ContractType::GuaranteedHours
    } else {
        ContractType::Salaried
    };
    let (contracted, days, max_week) = match contract {
        ContractType::ZeroHours => (
            0,
            *pick(rng, &[(4, 0.10), (5, 0.50), (6, 0.40)]),
            *pick(rng, &[(2400, 0.3), (2640, 0.3), (2880, 0.4)]),
        ),
        ContractType::GuaranteedHours => {
            let h = *pick(
                rng,
                &[
                    (960, 0.2),
                    (1200, 0.2),
                    (1440, 0.3),
                    (1680, 0.2),
                    (1800, 0.1),
                ],
            );
            (h, if h <= 1200 { 4 } else { 5 }, 2400)
        }
        ContractType::Salaried => (*pick(rng, &[(2250, 0.7), (1800, 0.3)]), 5, 2400),
    };
    let urban = site.town.is_some();
    let mode = if urban {
        *pick(
            rng,
            &[
                (TravelMode::Drive, 0.76),
                (TravelMode::Walk, 0.08),
                (TravelMode::Cycle, 0.10),
                (TravelMode::PublicTransport, 0.06),
            ],
        )
    } else {
        TravelMode::Drive
    };
    let home = place_person(rng, site, geo, hamlets, true);
    let col = match site.kind {
        TeamKind::General => 0,
        TeamKind::Specialist => 1,
        TeamKind::Emergency => 2,
    };
    let mut skills = base_mask;
    for (name, g, s, e) in CARER_SKILLS {
        if rng.random_bool([g, s, e][col]) {
            skills |= skill_bit(name);
        }
    }
    let (max_days, cap_limit) = match contract {
        ContractType::ZeroHours => (6, 2880),
        _ => (5, 2700),
    };
    CarerDraft {
        max_days,
        cap_limit,
        gender,
        contract,
        contracted,
        max_week,
        mode,
        home,
        skills,
        days,
        absences: Vec::new(),
    }
}

/// Most double-handed visit patterns in a team, percent (about one visit in ten).
const MAX_DOUBLE_PERCENT: usize = 12;
/// Shift minutes aimed at per visit minute: room for travel and gaps (1.5-1.8x).
const SHIFT_PER_VISIT_MIN: f64 = 1.6;
/// Typical shift minutes of a working day (mostly split shifts in busy teams).
const DAY_SHIFT_MIN: f64 = 700.0;
/// Weekly caps over the expected work (visits plus travel).
const CAP_HEADROOM: f64 = 1.15;

/// Stretches working days, then weekly caps, within each contract's limits
/// until the team can carry `needs`; `false` if the caps cannot stretch enough.
fn fit_capacity(
    carers: &mut [CarerDraft],
    absent: &[[bool; 7]],
    needs: &[VisitNeed],
    travel: f64,
) -> bool {
    let visit: f64 = needs.iter().map(|n| n.visit_min).sum();
    let work: f64 = needs.iter().map(|n| n.weekly_min).sum();
    while carers
        .iter()
        .map(|c| c.days as f64 * DAY_SHIFT_MIN)
        .sum::<f64>()
        < SHIFT_PER_VISIT_MIN * visit
    {
        let Some(c) = carers
            .iter_mut()
            .filter(|c| c.days < c.max_days)
            .min_by_key(|c| c.days)
        else {
            break;
        };
        c.days += 1;
    }
    // The busiest time band of each day (the morning, in practice) must fit too:
    // weekly totals alone let a team take on more 07:30 hoist calls than it has
    // carers on duty at 07:30.
    while !peaks_fit(carers, absent, needs, travel) {
        let Some(c) = carers
            .iter_mut()
            .filter(|c| c.days < c.max_days)
            .min_by_key(|c| c.days)
        else {
            return false;
        };
        c.days += 1;
    }
    while carers.iter().map(|c| f64::from(c.max_week)).sum::<f64>() < CAP_HEADROOM * work {
        let Some(c) = carers
            .iter_mut()
            .filter(|c| c.max_week < c.cap_limit)
            .min_by_key(|c| c.max_week)
        else {
            return false;
        };
        c.max_week = (c.max_week + 60).min(c.cap_limit);
    }
    true
}

/// Most of the carer-minutes on duty in a time band that visits and their travel
/// may fill: sequencing, synchronised double-handed calls and travel never pack
/// a band perfectly (planners keep about one carer in five free at peak times).
const PEAK_UTILISATION: f64 = 0.7;

/// Whether, on every weekday and in every interval between visit-window
/// bounds, the visits that must happen inside the interval (duration and
/// travel, times carers required) fit in [`PEAK_UTILISATION`] of the
/// carer-minutes expected on duty: each carer works `days` of 7 days, not on
/// days off sick.
fn peaks_fit(
    carers: &[CarerDraft],
    absent: &[[bool; 7]],
    needs: &[VisitNeed],
    travel: f64,
) -> bool {
    let mut starts: Vec<u32> = needs.iter().map(|n| n.window.0).collect();
    let mut ends: Vec<u32> = needs.iter().map(|n| n.window.1).collect();
    starts.sort_unstable();
    starts.dedup();
    ends.sort_unstable();
    ends.dedup();
    (0..7).all(|w| {
        let on_duty: f64 = carers
            .iter()
            .enumerate()
            .filter(|(c, _)| !absent.get(*c).is_some_and(|a| a[w]))
            .map(|(_, c)| c.days as f64 / 7.0)
            .sum();
        let today: Vec<&VisitNeed> = needs.iter().filter(|n| n.weekdays[w]).collect();
        starts.iter().all(|&a| {
            ends.iter().filter(|&&b| b > a).all(|&b| {
                let demand: f64 = today
                    .iter()
                    .filter(|n| n.window.0 >= a && n.window.1 <= b)
                    .map(|n| (f64::from(n.duration) + travel) * f64::from(n.carers_required))
                    .sum();
                demand <= PEAK_UTILISATION * on_duty * f64::from(b - a)
            })
        })
    })
}

/// Every team keeps at least two women (most gender wishes are for a woman),
/// and larger teams at least one man.
fn balance_genders(carers: &mut [CarerDraft]) {
    let n = carers.len();
    let want_f = 2.min(n);
    while carers.iter().filter(|c| c.gender == Gender::Female).count() < want_f {
        match carers.iter_mut().rev().find(|c| c.gender != Gender::Female) {
            Some(c) => c.gender = Gender::Female,
            None => break,
        }
    }
    if n >= 6
        && !carers.iter().any(|c| c.gender == Gender::Male)
        && let Some(c) = carers.last_mut()
    {
        c.gender = Gender::Male;
    }
}

/// A few sick days and training sessions; a full (12-carer) team planned for
/// five days or more always has someone off sick (docs/domain.md §14 scenario 3).
fn draw_absences<R: Rng>(rng: &mut R, carers: &mut [CarerDraft], cal: &Calendar) {
    let days = cal.days();
    let mut any_sick = false;
    for c in carers.iter_mut() {
        if rng.random_bool(0.04) {
            let d = rng.random_range(0..days);
            let len = rng.random_range(1..=3u32);
            c.absences.push((d, 0, d + len, 0, "sick"));
            any_sick = true;
        } else if rng.random_bool(0.03) {
            let d = rng.random_range(0..days);
            c.absences.push((d, 540, d, 780, "training"));
        }
    }
    if !any_sick && carers.len() >= 12 && days >= 5 {
        let i = rng.random_range(0..carers.len());
        let d = rng.random_range(2..=3u32);
        if let Some(c) = carers.get_mut(i) {
            c.absences.push((d, 0, d + 2, 0, "sick"));
        }
    }
}

/// Weekdays (of the horizon's first week) a carer loses entirely or mostly to absence.
fn absent_weekdays(c: &CarerDraft, cal: &Calendar) -> [bool; 7] {
    let mut out = [false; 7];
    for &(d0, _, d1, _, reason) in &c.absences {
        if reason == "sick" {
            for d in d0..d1.min(7).min(cal.days()) {
                out[cal.weekday(d)] = true;
            }
        }
    }
    out
}

/// Recurring shifts from per-weekday templates, one entry per segment and
/// distinct template, with compressed day selectors.
fn shifts_of(days: &[Option<usize>; 7]) -> Vec<Shift> {
    let mut out = Vec::new();
    for (t, segs) in TEMPLATES.iter().enumerate() {
        let set: [bool; 7] = std::array::from_fn(|w| days[w] == Some(t));
        if !set.iter().any(|x| *x) {
            continue;
        }
        let selector = compress_weekdays(&set);
        for &(s, e) in *segs {
            out.push(Shift {
                days: selector.clone(),
                start: hhmm(s),
                end: hhmm(e),
                start_location: None,
                end_location: None,
            });
        }
    }
    out.sort_by_cached_key(|s| {
        let days: Vec<String> = s.days.iter().map(ToString::to_string).collect();
        (s.start.clone(), days)
    });
    out
}

/// Hamlets of a rural team: where its people cluster outside the base village.
fn hamlets<R: Rng>(rng: &mut R, site: &TeamSite) -> Vec<Point> {
    if site.town.is_some() || site.kind == TeamKind::Emergency {
        return Vec::new();
    }
    let n = rng.random_range(4..=8);
    (0..n)
        .map(|_| random_in_disk(rng, site.base, site.radius_m * 0.85))
        .collect()
}

/// Where a person (or a carer's home, `carer = true`) is: dense in town,
/// clustered in villages and hamlets in the country; a few service users live
/// just outside the team's area.
fn place_person<R: Rng>(
    rng: &mut R,
    site: &TeamSite,
    geo: &Geography,
    hamlets: &[Point],
    carer: bool,
) -> Point {
    let r = site.radius_m;
    if site.kind == TeamKind::Emergency {
        return random_in_disk(rng, COUNTY_CENTRE, COUNTY_RADIUS_M * 0.95);
    }
    if !carer && rng.random_bool(0.05) {
        let d = r * rng.random_range(1.0..1.2);
        let a = rng.random_range(0.0..std::f64::consts::TAU);
        return site.base.offset(d * a.cos(), d * a.sin());
    }
    if let Some(town) = site.town.and_then(|t| geo.towns.get(t)) {
        if rng.random_bool(0.8) {
            for _ in 0..20 {
                let p = random_in_disk(rng, town.centre, town.radius_m * 1.15);
                if p.distance_m(site.base) <= r * 0.95 {
                    return p;
                }
            }
        }
        return random_in_disk(rng, site.base, r * 0.95);
    }
    match rng.random::<f64>() {
        x if x < 0.35 || hamlets.is_empty() => random_near(rng, site.base, 1_200.0),
        x if x < 0.85 => {
            let h = hamlets.choose(rng).copied().unwrap_or(site.base);
            random_near(rng, h, 800.0)
        }
        _ => random_in_disk(rng, site.base, r * 0.95),
    }
}

/// Urgency, funding and dates of a package already being delivered.
fn active_terms<R: Rng>(rng: &mut R, p: &mut Package, needs: &Needs, cal: &Calendar) {
    p.urgency = *pick(
        rng,
        &[
            (Urgency::Routine, 0.75),
            (Urgency::HospitalDischarge, 0.12),
            (Urgency::Planned, 0.07),
            (Urgency::Crisis, 0.03),
            (Urgency::ProviderFailure, 0.03),
        ],
    );
    p.funding = if needs.complex || needs.end_of_life {
        *pick(rng, &[(Funding::NhsChc, 0.7), (Funding::Joint, 0.3)])
    } else {
        *pick(
            rng,
            &[
                (Funding::Council, 0.64),
                (Funding::SelfFunded, 0.12),
                (Funding::DirectPayment, 0.12),
                (Funding::Joint, 0.08),
                (Funding::NhsChc, 0.04),
            ],
        )
    };
    if matches!(p.urgency, Urgency::HospitalDischarge | Urgency::Crisis) {
        // Referred in the last fortnight, during office hours.
        let back = rng.random_range(1..=14u32);
        let minute = rng.random_range(480..1080u32);
        let date = cal.date(0) - chrono::Duration::days(i64::from(back));
        p.referral_time = Some(cal.instant_on(date, minute));
    }
    if p.urgency == Urgency::Planned
        || (p.urgency == Urgency::HospitalDischarge && rng.random_bool(0.3))
    {
        // Reablement: at most six weeks (docs/domain.md §3.4).
        p.end_date = Some(cal.date_str(rng.random_range(3..=41u32)));
    }
}

/// Per-visit eligibility needs of a team's packages.
fn needs_of(
    users: &[UserDraft],
    packages: &[Package],
    travel: f64,
    cal: &Calendar,
) -> Vec<VisitNeed> {
    let week_dates: Vec<chrono::NaiveDate> = (0..7).map(|i| cal.date(i)).collect();
    let mut out = Vec::new();
    for (k, (u, p)) in users.iter().zip(packages).enumerate() {
        let pmask = p.required_skills.iter().fold(0, |m, s| m | skill_bit(s));
        let gender = u
            .needs
            .gender
            .as_ref()
            .filter(|g| g.strength == Strength::Required)
            .map(|g| g.gender);
        for (i, v) in p.visits.iter().enumerate() {
            let days = week_dates
                .iter()
                .filter(|d| super::calendar::selector_applies(&v.days, **d))
                .count();
            let mut weekdays = [false; 7];
            for d in 0..cal.days().min(7) {
                weekdays[cal.weekday(d)] = super::calendar::selector_applies(&v.days, cal.date(d));
            }
            out.push(VisitNeed {
                user: k,
                visit: i,
                mask: v
                    .required_skills
                    .iter()
                    .fold(pmask, |m, s| m | skill_bit(s)),
                gender,
                excluded: u.excluded.clone(),
                carers_required: v.carers_required,
                weekly_min: (f64::from(v.duration_min) + travel)
                    * f64::from(v.carers_required)
                    * days as f64,
                visit_min: f64::from(v.duration_min * v.carers_required) * days as f64,
                window: roster::visit_window(&v.time, v.duration_min).unwrap_or((0, 1440)),
                duration: v.duration_min,
                weekdays,
            });
        }
    }
    out
}
