use super::roster::visit_window;
use super::*;
use crate::format::{Carer, Gender, ServiceUser, Strength, TimeSpec};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

fn opts(size: ScenarioSize, seed: u64, days: u32) -> GeneratorOptions {
    GeneratorOptions {
        days,
        ..GeneratorOptions::new(size, seed)
    }
}

/// Each size generated once (County is the slow one) and shared by the tests.
fn scenario(size: ScenarioSize) -> &'static Scenario {
    static CACHE: OnceLock<Vec<Scenario>> = OnceLock::new();
    let all = CACHE.get_or_init(|| {
        vec![
            generate(&opts(ScenarioSize::Small, 1, 2)),
            generate(&opts(ScenarioSize::Team, 7, 7)),
            generate(&opts(ScenarioSize::Provider, 11, 7)),
            generate(&opts(ScenarioSize::County, 42, 7)),
        ]
    });
    &all[ScenarioSize::ALL.iter().position(|s| *s == size).unwrap()]
}

fn fixtures_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("fixtures")
}

#[test]
fn committed_fixtures_match_the_generator() {
    if std::env::var("UPDATE_FIXTURES").as_deref() == Ok("1") {
        write_fixtures(&fixtures_dir()).unwrap();
    }
    for (name, json) in fixture_files().unwrap() {
        let path = fixtures_dir().join(name);
        let committed = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; run with UPDATE_FIXTURES=1", path.display()));
        assert!(
            committed == json,
            "{name} drifted from the generator; rerun with UPDATE_FIXTURES=1"
        );
        assert!(json.len() < 3_000_000, "{name} is {} bytes", json.len());
    }
}

#[test]
fn generation_is_deterministic_and_seed_dependent() {
    for size in [
        ScenarioSize::Small,
        ScenarioSize::Team,
        ScenarioSize::Provider,
    ] {
        let a = serde_json::to_string(&generate(&opts(size, 5, 7))).unwrap();
        let b = serde_json::to_string(&generate(&opts(size, 5, 7))).unwrap();
        let c = serde_json::to_string(&generate(&opts(size, 6, 7))).unwrap();
        assert_eq!(a, b, "{size}");
        assert_ne!(a, c, "{size}");
    }
}

#[test]
fn scenario_round_trips_through_json() {
    let s = scenario(ScenarioSize::Small);
    let back: Scenario = serde_json::from_str(&serde_json::to_string(s).unwrap()).unwrap();
    assert_eq!(&back, s);
}

#[test]
fn sizes_parse_and_print() {
    for size in ScenarioSize::ALL {
        assert_eq!(size.as_str().parse::<ScenarioSize>(), Ok(size));
        assert_eq!(size.to_string(), size.as_str());
    }
    assert!("huge".parse::<ScenarioSize>().is_err());
    let d = GeneratorOptions::default();
    assert_eq!(
        (d.start_date.to_string().as_str(), d.days),
        ("2026-11-30", 7)
    );
}

#[test]
fn counts_match_each_size() {
    let st = |size| scenario(size).stats();
    let small = st(ScenarioSize::Small);
    assert_eq!((small.providers, small.teams, small.carers), (1, 1, 4));
    assert!((10..=14).contains(&small.packages), "{small:?}");

    let team = st(ScenarioSize::Team);
    assert_eq!((team.teams, team.carers), (1, 12));
    assert!((45..=60).contains(&team.packages), "{team:?}");
    // The caseload is capped by the morning peak the team can staff (people.rs
    // `peaks_fit`), so a week is 700-1000 visits.
    assert!((700..=1000).contains(&team.visits), "{team:?}");
    let double = team.double_handed_visits as f64 / team.visits as f64;
    assert!(
        (0.06..=0.15).contains(&double),
        "double-handed share {double}"
    );

    let prov = st(ScenarioSize::Provider);
    assert_eq!((prov.providers, prov.teams), (1, 6));
    assert!((150..=300).contains(&prov.packages), "{prov:?}");
    assert!((15..=25).contains(&prov.referrals), "{prov:?}");

    let county = st(ScenarioSize::County);
    assert!((38..=42).contains(&county.providers), "{county:?}");
    assert!((130..=170).contains(&county.teams), "{county:?}");
    assert!((1300..=1700).contains(&county.carers), "{county:?}");
    assert!((3400..=4600).contains(&county.packages), "{county:?}");
    assert!((60..=200).contains(&county.referrals), "{county:?}");
    let tiers = |t| {
        scenario(ScenarioSize::County)
            .request
            .providers
            .iter()
            .filter(|p| p.tier == t)
            .count()
    };
    assert_eq!(
        [
            tiers(Tier::Tier1),
            tiers(Tier::Tier2),
            tiers(Tier::Tier3),
            tiers(Tier::Specialist),
            tiers(Tier::EmergencyCover)
        ],
        [8, 12, 15, 4, 1]
    );
}

#[test]
fn team_week_has_room_for_its_visits() {
    let s = scenario(ScenarioSize::Team).stats();
    let ratio = s.shift_minutes as f64 / s.visit_carer_minutes as f64;
    assert!(
        (1.45..=1.9).contains(&ratio),
        "shift/visit minutes {ratio}: {s:?}"
    );
    // Weekly caps leave room for visits plus ~6 min travel per carer-visit.
    let r = &scenario(ScenarioSize::Team).request;
    let cap: u64 = r.carers.iter().map(|c| u64::from(c.max_min_per_week)).sum();
    let carer_visits = (s.visits + s.double_handed_visits) as u64;
    let work = s.visit_carer_minutes + 6 * carer_visits;
    assert!(
        cap as f64 >= 1.05 * work as f64,
        "weekly caps {cap} vs work {work}"
    );
}

#[test]
fn ids_are_unique_and_references_resolve() {
    for size in ScenarioSize::ALL {
        let s = scenario(size);
        let r = &s.request;
        let providers = unique(r.providers.iter().map(|p| p.id.as_str()).collect(), size);
        let teams = unique(r.teams.iter().map(|t| t.id.as_str()).collect(), size);
        let carers = unique(r.carers.iter().map(|c| c.id.as_str()).collect(), size);
        let users = unique(
            r.service_users.iter().map(|u| u.id.as_str()).collect(),
            size,
        );
        unique(
            r.packages
                .iter()
                .chain(&s.referrals)
                .map(|p| p.id.as_str())
                .collect(),
            size,
        );
        for t in &r.teams {
            assert!(providers.contains(t.provider.as_deref().unwrap()));
        }
        let mut per_team: BTreeMap<&str, usize> = BTreeMap::new();
        for c in &r.carers {
            let team = c.team.as_deref().unwrap();
            assert!(teams.contains(team));
            *per_team.entry(team).or_default() += 1;
        }
        assert!(
            per_team
                .values()
                .all(|n| *n as u32 <= r.settings.max_team_size)
        );
        let team_of: BTreeMap<&str, &str> = r
            .carers
            .iter()
            .map(|c| (c.id.as_str(), c.team.as_deref().unwrap()))
            .collect();
        for u in &r.service_users {
            for c in u
                .known_carers
                .iter()
                .chain(&u.preferred_carers)
                .chain(&u.excluded_carers)
            {
                assert!(carers.contains(c.as_str()));
                assert_eq!(
                    Some(team_of[c.as_str()]),
                    u.team.as_deref(),
                    "{size}: {} sees another team's carer",
                    u.id
                );
            }
            assert!(
                u.preferred_carers
                    .iter()
                    .all(|c| !u.excluded_carers.contains(c))
            );
            if let Some(t) = &u.team {
                assert!(teams.contains(t.as_str()));
            }
        }
        let packaged: BTreeSet<&str> = r.packages.iter().map(|p| p.service_user.as_str()).collect();
        let referred: BTreeSet<&str> = s
            .referrals
            .iter()
            .map(|p| p.service_user.as_str())
            .collect();
        assert_eq!(
            packaged.len(),
            r.packages.len(),
            "{size}: one package per person"
        );
        for u in &r.service_users {
            assert!(users.contains(u.id.as_str()));
            match u.team {
                Some(_) => {
                    assert!(packaged.contains(u.id.as_str()) && !referred.contains(u.id.as_str()))
                }
                None => {
                    assert!(referred.contains(u.id.as_str()) && !packaged.contains(u.id.as_str()))
                }
            }
        }
        assert!(packaged.iter().chain(&referred).all(|u| users.contains(u)));
    }
}

#[test]
fn skills_bands_windows_and_shapes_are_valid() {
    for size in ScenarioSize::ALL {
        let s = scenario(size);
        let r = &s.request;
        let catalogue: BTreeSet<&str> = r.settings.skills.iter().map(String::as_str).collect();
        for c in &r.carers {
            assert!(c.skills.iter().all(|k| catalogue.contains(k.as_str())));
            assert!(c.skills.iter().any(|k| k == "personal_care"));
            assert!(!c.shifts.is_empty());
        }
        for p in r.providers.iter() {
            assert!(p.skills.iter().all(|k| catalogue.contains(k.as_str())));
        }
        for p in r.packages.iter().chain(&s.referrals) {
            assert!(
                p.required_skills
                    .iter()
                    .all(|k| catalogue.contains(k.as_str())),
                "{}",
                p.id
            );
            let ids: BTreeSet<&str> = p.visits.iter().map(|v| v.id.as_str()).collect();
            assert_eq!(ids.len(), p.visits.len(), "{}: visit ids", p.id);
            for v in &p.visits {
                assert!(
                    v.required_skills
                        .iter()
                        .all(|k| catalogue.contains(k.as_str()))
                );
                if let TimeSpec::Band(b) = &v.time {
                    assert!(r.settings.time_bands.contains_key(b));
                }
                let (s, e) = visit_window(&v.time, v.duration_min).unwrap();
                assert!(
                    e >= s + v.duration_min,
                    "{}/{}: window too short",
                    p.id,
                    v.id
                );
                assert!((1..=2).contains(&v.carers_required));
            }
            for l in &p.links {
                assert!(ids.contains(l.first.as_str()) && ids.contains(l.then.as_str()));
            }
        }
        let rings = r
            .teams
            .iter()
            .filter_map(|t| t.area.as_ref())
            .chain(r.providers.iter().flat_map(|p| &p.service_areas))
            .flat_map(|a| match a {
                AreaGeometry::Polygon { coordinates } => coordinates.clone(),
                AreaGeometry::MultiPolygon { coordinates } => coordinates.concat(),
            });
        for ring in rings {
            assert!(
                ring.len() >= 4 && ring.first() == ring.last(),
                "{size}: open ring"
            );
            for [lon, lat] in ring {
                assert!(
                    (49.9..51.5).contains(&lat) && (-4.8..-2.4).contains(&lon),
                    "{size}: {lat},{lon}"
                );
            }
        }
    }
}

fn unique(ids: Vec<&str>, what: ScenarioSize) -> BTreeSet<&str> {
    let n = ids.len();
    let set: BTreeSet<&str> = ids.into_iter().collect();
    assert_eq!(set.len(), n, "{what}: duplicate ids");
    set
}

fn eligible_in_team(
    r: &PlanningRequest,
    u: &ServiceUser,
    p: &Package,
    v: &crate::format::VisitPattern,
    team: Option<&str>,
) -> usize {
    let need: BTreeSet<&str> = p
        .required_skills
        .iter()
        .chain(&v.required_skills)
        .map(String::as_str)
        .collect();
    let gender = u
        .carer_gender
        .as_ref()
        .filter(|g| g.strength == Strength::Required)
        .map(|g| g.gender);
    r.carers
        .iter()
        .filter(|c: &&Carer| team.is_none() || c.team.as_deref() == team)
        .filter(|c| gender.is_none_or(|g| c.gender == g))
        .filter(|c| !u.excluded_carers.contains(&c.id))
        .filter(|c| need.iter().all(|k| c.skills.iter().any(|s| s == k)))
        .count()
}

#[test]
fn every_visit_has_enough_eligible_carers_in_its_team() {
    for size in ScenarioSize::ALL {
        let s = scenario(size);
        let r = &s.request;
        let users: BTreeMap<&str, &ServiceUser> =
            r.service_users.iter().map(|u| (u.id.as_str(), u)).collect();
        for p in &r.packages {
            let u = users[p.service_user.as_str()];
            for v in &p.visits {
                let n = eligible_in_team(r, u, p, v, u.team.as_deref());
                let restrictive = v.carers_required > 1
                    || p.required_skills.len() + v.required_skills.len() > 1
                    || u.carer_gender
                        .as_ref()
                        .is_some_and(|g| g.strength == Strength::Required);
                assert!(
                    n >= v.carers_required as usize,
                    "{size}: {}/{} has {n} eligible",
                    p.id,
                    v.id
                );
                if restrictive && r.carers.iter().filter(|c| c.team == u.team).count() >= 6 {
                    assert!(
                        n > v.carers_required as usize,
                        "{size}: {}/{} has no spare eligible carer",
                        p.id,
                        v.id
                    );
                }
            }
        }
        for p in &s.referrals {
            let u = users[p.service_user.as_str()];
            assert!(u.team.is_none());
            let ok = r.teams.iter().any(|t| {
                p.visits.iter().all(|v| {
                    eligible_in_team(r, u, p, v, Some(&t.id)) >= v.carers_required as usize
                })
            });
            assert!(
                ok,
                "{size}: referral {} cannot be staffed by any single team",
                p.id
            );
        }
    }
}

#[test]
fn referrals_arrive_in_office_hours_of_the_first_days() {
    for size in ScenarioSize::ALL {
        let s = scenario(size);
        let start = &s.request.horizon.start_date;
        let first_days: Vec<String> = (0..3)
            .map(|i| {
                (GeneratorOptions::default().start_date + chrono::Duration::days(i)).to_string()
            })
            .collect();
        assert_eq!(start, &first_days[0]);
        let mut last = String::new();
        for p in &s.referrals {
            let t = p.referral_time.as_deref().unwrap();
            let parsed = chrono::DateTime::parse_from_rfc3339(t).unwrap();
            assert!(first_days.iter().any(|d| t.starts_with(d.as_str())), "{t}");
            let hour = chrono::Timelike::hour(&parsed);
            assert!((8..18).contains(&hour), "{t}");
            assert!(t >= last.as_str(), "referrals out of order");
            last = t.to_string();
            assert!(p.start_date.is_some());
            if let Some(end) = &p.end_date {
                let (a, b) = (p.start_date.as_deref().unwrap(), end.as_str());
                let a = chrono::NaiveDate::parse_from_str(a, "%Y-%m-%d").unwrap();
                let b = chrono::NaiveDate::parse_from_str(b, "%Y-%m-%d").unwrap();
                assert!(
                    b > a && (b - a).num_days() <= 42,
                    "reablement over six weeks"
                );
            }
        }
    }
}

#[test]
fn workforce_mix_is_realistic() {
    let r = &scenario(ScenarioSize::County).request;
    let n = r.carers.len() as f64;
    let share = |f: &dyn Fn(&Carer) -> bool| r.carers.iter().filter(|c| f(c)).count() as f64 / n;
    let female = share(&|c| c.gender == Gender::Female);
    let zero = share(&|c| c.contract == crate::format::ContractType::ZeroHours);
    let dementia = share(&|c| c.skills.iter().any(|s| s == "dementia"));
    assert!((0.74..0.86).contains(&female), "female {female}");
    assert!((0.55..0.74).contains(&zero), "zero-hours {zero}");
    assert!((0.25..0.50).contains(&dementia), "dementia {dementia}");
    let users = r.packages.len() as f64;
    let dem_users = r
        .packages
        .iter()
        .filter(|p| p.required_skills.iter().any(|s| s == "dementia"))
        .count() as f64;
    assert!(
        (0.2..0.35).contains(&(dem_users / users)),
        "dementia users {}",
        dem_users / users
    );
}

/// Prints sizes and timings: `cargo test --release -p carefill-solver
/// generate::tests::report_sizes -- --ignored --nocapture`.
#[test]
#[ignore]
fn report_sizes() {
    for size in ScenarioSize::ALL {
        let t = std::time::Instant::now();
        let s = generate(&opts(size, 42, 7));
        let generated = t.elapsed();
        let t = std::time::Instant::now();
        let json = serde_json::to_string(&s.request).unwrap();
        let ser = t.elapsed();
        let pretty = serde_json::to_string_pretty(&s.request).unwrap();
        if size == ScenarioSize::Small {
            println!(
                "small worst interval load: {:?}",
                worst_interval_load(&generate(&opts(size, 1, 2)).request)
            );
        }
        println!(
            "{size}: generate {generated:?}, serialise {ser:?}, compact {} B, pretty {} B, {:?}",
            json.len(),
            pretty.len(),
            s.stats()
        );
    }
}

/// Prints the Team size over several seeds: `cargo test -p carefill-solver
/// generate::tests::report_team_seeds -- --ignored --nocapture`.
#[test]
#[ignore]
fn report_team_seeds() {
    for seed in 0..12 {
        let sc = generate(&opts(ScenarioSize::Team, seed, 7));
        let s = sc.stats();
        let ratio = s.shift_minutes as f64 / s.visit_carer_minutes as f64;
        let double = s.double_handed_visits as f64 / s.visits as f64;
        let (worst, at) = worst_interval_load(&sc.request);
        println!(
            "seed {seed}: users {} visits {} double {double:.3} visit-min {} shift/visit {ratio:.2} worst {worst:.2} at {at}",
            s.packages, s.visits, s.visit_carer_minutes
        );
    }
}

fn assert_validates(what: &str, request: &PlanningRequest) {
    if let Err(issues) = crate::model::Problem::from_request(request) {
        let shown: Vec<String> = issues.iter().take(20).map(|i| i.to_string()).collect();
        panic!("{what}: {} issues, first: {shown:#?}", issues.len());
    }
}

#[test]
fn every_size_validates_without_issues() {
    for size in ScenarioSize::ALL {
        let s = scenario(size);
        assert_validates(&format!("{size} request"), &s.request);
        assert_validates(
            &format!("{size} request with referrals"),
            &s.request_with_referrals(),
        );
    }
}

#[test]
fn other_seeds_and_horizons_validate() {
    for (size, seed, days) in [
        (ScenarioSize::Small, 2, 1),
        (ScenarioSize::Small, 3, 28),
        (ScenarioSize::Team, 8, 14),
        (ScenarioSize::Provider, 12, 3),
    ] {
        let s = generate(&opts(size, seed, days));
        assert_validates(
            &format!("{size}/{seed}/{days}"),
            &s.request_with_referrals(),
        );
    }
    let summer = GeneratorOptions {
        start_date: chrono::NaiveDate::from_ymd_opt(2026, 7, 1).unwrap(),
        ..opts(ScenarioSize::Team, 9, 7)
    };
    let s = generate(&summer);
    assert_eq!(
        s.request.horizon.time_zone.as_deref(),
        Some("Europe/London")
    );
    let p = crate::model::Problem::from_request(&s.request).expect("summer team validates");
    assert_eq!(p.horizon.format(9 * 60), "2026-07-01T09:00:00+01:00");
    assert_validates("summer team", &s.request_with_referrals());
}

/// The fractional relaxation of each day: over every interval [a, b], the
/// carer-minutes of visits (plus ~6 min travel) whose whole window lies inside
/// it, divided by the shift minutes on duty in it. Returns the worst ratio and
/// where it occurs; below 1 means the day is feasible if carers could split.
fn worst_interval_load(r: &PlanningRequest) -> (f64, String) {
    use super::calendar::{hhmm, minutes, selector_applies};
    let start = chrono::NaiveDate::parse_from_str(&r.horizon.start_date, "%Y-%m-%d").unwrap();
    let mut worst = (0.0, String::new());
    for i in 0..i64::from(r.horizon.days) {
        let date = start + chrono::Duration::days(i);
        let day = date.to_string();
        let mut capacity = [0u32; 96];
        for c in &r.carers {
            let off = c.absences.iter().any(|a| {
                a.from.get(11..16) == Some("00:00") && a.from[..10] <= *day && *day < a.to[..10]
            });
            for sh in c
                .shifts
                .iter()
                .filter(|s| !off && selector_applies(&s.days, date))
            {
                let (a, b) = (
                    minutes(&sh.start).unwrap() / 15,
                    minutes(&sh.end).unwrap() / 15,
                );
                for slot in &mut capacity[a as usize..b as usize] {
                    *slot += 15;
                }
            }
        }
        let loads: Vec<(u32, u32, u32)> = r
            .packages
            .iter()
            .flat_map(|p| &p.visits)
            .filter(|v| selector_applies(&v.days, date))
            .map(|v| {
                let (a, b) = visit_window(&v.time, v.duration_min).unwrap();
                (
                    a / 15,
                    b.div_ceil(15),
                    (v.duration_min + 6) * v.carers_required,
                )
            })
            .collect();
        for a in 0..96u32 {
            for b in a + 1..=96u32 {
                let load: u32 = loads
                    .iter()
                    .filter(|l| l.0 >= a && l.1 <= b)
                    .map(|l| l.2)
                    .sum();
                let cap: u32 = capacity[a as usize..b as usize].iter().sum();
                let ratio = if cap == 0 {
                    f64::from(load) * 1e9
                } else {
                    f64::from(load) / f64::from(cap)
                };
                if ratio > worst.0 {
                    worst = (
                        ratio,
                        format!("{day} {}-{}: {load}/{cap}", hhmm(a * 15), hhmm(b * 15)),
                    );
                }
            }
        }
    }
    worst
}

#[test]
fn days_have_shift_capacity_in_every_interval() {
    let (ratio, at) = worst_interval_load(&scenario(ScenarioSize::Team).request);
    assert!(
        ratio <= 0.95,
        "team: visits need {ratio:.2} of the shift minutes at {at}"
    );
    let (ratio, at) = worst_interval_load(&scenario(ScenarioSize::Small).request);
    assert!(
        ratio <= 0.8,
        "small: visits need {ratio:.2} of the shift minutes at {at}"
    );
}

/// On every day of the horizon each visit has enough eligible carers (skills,
/// gender rule, exclusions) on duty, not off sick, with a shift segment that
/// can hold it.
#[test]
fn every_visit_has_eligible_carers_on_duty_each_day() {
    use super::calendar::{minutes, selector_applies};
    for size in ScenarioSize::ALL {
        let r = &scenario(size).request;
        let users: BTreeMap<&str, &ServiceUser> =
            r.service_users.iter().map(|u| (u.id.as_str(), u)).collect();
        let start = chrono::NaiveDate::parse_from_str(&r.horizon.start_date, "%Y-%m-%d").unwrap();
        let days = r.horizon.days.min(7);
        let mut short = Vec::new();
        for p in &r.packages {
            let u = users[p.service_user.as_str()];
            let gender = u
                .carer_gender
                .as_ref()
                .filter(|g| g.strength == Strength::Required)
                .map(|g| g.gender);
            let team: Vec<&Carer> = r
                .carers
                .iter()
                .filter(|c| c.team == u.team && !u.excluded_carers.contains(&c.id))
                .filter(|c| gender.is_none_or(|g| c.gender == g))
                .collect();
            for v in &p.visits {
                let need: Vec<&String> =
                    p.required_skills.iter().chain(&v.required_skills).collect();
                let (ws, we) = visit_window(&v.time, v.duration_min).unwrap();
                for i in 0..days {
                    let date = start + chrono::Duration::days(i64::from(i));
                    if !selector_applies(&v.days, date) {
                        continue;
                    }
                    let day = date.to_string();
                    let on = team
                        .iter()
                        .filter(|c| need.iter().all(|k| c.skills.contains(k)))
                        .filter(|c| {
                            !c.absences.iter().any(|a| {
                                a.from.get(11..16) == Some("00:00")
                                    && a.from[..10] <= *day
                                    && *day < a.to[..10]
                            })
                        })
                        .filter(|c| {
                            c.shifts
                                .iter()
                                .filter(|s| selector_applies(&s.days, date))
                                .any(|s| {
                                    let (a, b) =
                                        (minutes(&s.start).unwrap(), minutes(&s.end).unwrap());
                                    we.min(b).saturating_sub(ws.max(a)) >= v.duration_min
                                })
                        })
                        .count();
                    if on < v.carers_required as usize {
                        short.push(format!("{}/{}@{day}: {on}", p.id, v.id));
                    }
                }
            }
        }
        assert!(
            short.is_empty(),
            "{size}: {} visit-days short of carers on duty: {:?}",
            short.len(),
            &short[..short.len().min(10)]
        );
    }
}

#[test]
fn odd_profiles_still_give_valid_requests() {
    let one = |tier| ProviderPlan {
        tier,
        count: 2,
        teams: (3, 1),
        block_share: 2.0,
        rural_share: -1.0,
        suspended: 1,
        off_framework: 0,
    };
    let profiles = [
        SizeProfile {
            providers: vec![one(Tier::Tier1), one(Tier::Specialist)],
            towns: 0,
            villages: 0,
            carers_per_team: (5, 1),
            max_carers_per_team: 1,
            users_per_carer: (f64::NAN, 9.0),
            referrals: (3, 0),
        },
        SizeProfile {
            providers: vec![one(Tier::Tier3), one(Tier::EmergencyCover)],
            towns: 2,
            villages: 1,
            carers_per_team: (2, 3),
            max_carers_per_team: 3,
            users_per_carer: (8.0, 4.0),
            referrals: (5, 5),
        },
    ];
    for (i, profile) in profiles.iter().enumerate() {
        let s = generate_with(&opts(ScenarioSize::Small, 3, 3), profile);
        assert!(!s.request.carers.is_empty());
        assert_validates(&format!("profile {i}"), &s.request_with_referrals());
    }
}
