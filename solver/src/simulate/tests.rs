use super::run::{run, scenario_roster};
use super::scenario::{CountySize, CountySpec, GenerateSpec};
use super::*;
use crate::broker::PackageStatus;
use crate::format::{FrameworkStatus, IssueCode};
use std::sync::OnceLock;

/// A small two-day scenario (cheap: 8 one-team providers, short rota search).
fn small(per_day: f64) -> Scenario {
    parse_scenario(&format!(
        r#"{{
          "name": "test",
          "county": {{ "generate": {{ "seed": 3, "size": "small", "rota_iterations": 60 }} }},
          "days": 2,
          "seeds": {{ "first": 1, "count": 2 }},
          "arrivals": {{ "per_day": {per_day} }},
          "sickness_rate": 0.03,
          "policies": [
            {{ "name": "broadcast" }},
            {{ "name": "ranked", "config": {{ "offer_mode": "ranked" }} }}
          ]
        }}"#
    ))
    .expect("valid scenario")
}

fn county() -> &'static County {
    static C: OnceLock<County> = OnceLock::new();
    C.get_or_init(|| prepare(&small(6.0), None).expect("county"))
}

#[test]
fn a_seed_gives_the_same_result_every_time() {
    let s = small(6.0);
    let a = simulate(&s, county(), &[4]).expect("run");
    let b = simulate(&s, county(), &[4]).expect("run");
    assert!(a.runs[0].referrals > 0);
    assert_eq!(
        serde_json::to_string(&a).expect("json"),
        serde_json::to_string(&b).expect("json")
    );
    assert_eq!(a.csv(), b.csv());
    assert_eq!(a.runs[0].outcomes, b.runs[0].outcomes);
}

#[test]
fn every_referral_is_accounted_for_and_the_books_and_rotas_hold() {
    let s = small(8.0);
    let rep = simulate(&s, county(), &[1, 2]).expect("run");
    for r in &rep.runs {
        let total: usize = r.status.values().sum();
        assert_eq!(total, r.referrals, "{} seed {}", r.policy, r.seed);
        let i = &r.integrity;
        assert!(i.referrals_accounted);
        assert_eq!(i.ledger_trial_balance, 0);
        assert!(i.ledger_verified);
        assert_eq!(i.rotas_checked, county().roster.teams.len());
        assert_eq!(i.rota_violations, 0, "{} seed {}", r.policy, r.seed);
        assert_eq!(i.visits_lost, 0);
        // A filled referral has a fill time; a fill time means it was filled once.
        for o in &r.outcomes {
            if o.status == PackageStatus::Filled {
                assert!(o.fill_min.is_some(), "{}", o.package);
            }
        }
    }
    assert!(rep.policies.iter().all(|p| p.integrity_ok));
}

#[test]
fn policies_see_the_same_referrals() {
    let s = small(6.0);
    let rep = simulate(&s, county(), &[5]).expect("run");
    let ids = |p: &str| {
        rep.runs
            .iter()
            .find(|r| r.policy == p)
            .map(|r| {
                r.outcomes
                    .iter()
                    .map(|o| (o.package.clone(), o.referred_at))
                    .collect::<Vec<_>>()
            })
            .expect("run")
    };
    assert_eq!(ids("broadcast"), ids("ranked"));
}

#[test]
fn with_no_provider_on_the_framework_nothing_is_filled() {
    let s = small(6.0);
    let mut roster = scenario_roster(&s, &county().roster);
    for p in &mut roster.providers {
        p.framework_status = FrameworkStatus::Suspended;
    }
    let none = scenario::Policy {
        name: "none".into(),
        config: Default::default(),
        emergency_cover_carers: None,
    };
    let r = run(&s, county(), &roster, &none, 2, &Control::default()).expect("run");
    assert!(r.referrals > 0);
    assert_eq!(
        r.status.get(&PackageStatus::Filled).copied().unwrap_or(0),
        0
    );
    assert!(
        r.outcomes
            .iter()
            .all(|o| o.filled_at.is_none() && o.offers == 0)
    );
    assert_eq!(r.emergency_cover_hours, 0.0);
    assert_eq!(r.integrity.ledger_trial_balance, 0);
}

/// A policy sizes the emergency cover team: none at all (nothing goes to
/// emergency cover, its team is gone) or ten standby carers (every rota,
/// the larger cover team's included, passes the checker).
#[test]
fn a_policy_sizes_the_emergency_cover_team() {
    let mut s = small(8.0);
    s.days = 1;
    s.policies = vec![
        scenario::Policy {
            name: "no-cover".into(),
            config: Default::default(),
            emergency_cover_carers: Some(0),
        },
        scenario::Policy {
            name: "cover-10".into(),
            config: Default::default(),
            emergency_cover_carers: Some(10),
        },
    ];
    let rep = simulate(&s, county(), &[2]).expect("run");
    let teams = county().roster.teams.len();
    let none = rep
        .runs
        .iter()
        .find(|r| r.policy == "no-cover")
        .expect("run");
    assert_eq!(none.emergency_cover_hours, 0.0);
    assert!(!none.filled_by_tier.contains_key("emergency_cover"));
    assert_eq!(none.integrity.rotas_checked, teams - 1);
    let ten = rep
        .runs
        .iter()
        .find(|r| r.policy == "cover-10")
        .expect("run");
    assert_eq!(ten.integrity.rotas_checked, teams);
    assert_eq!(none.emergency_cover_team_carers, 0);
    assert_eq!(ten.emergency_cover_team_carers, 10);
    for r in &rep.runs {
        assert_eq!(r.integrity.rota_violations, 0, "{}", r.policy);
        assert_eq!(r.integrity.visits_lost, 0, "{}", r.policy);
        assert_eq!(r.integrity.ledger_trial_balance, 0, "{}", r.policy);
    }
    let (roster, _) = run::with_emergency_cover(&county().roster, &county().rotas, 10);
    let cover_team = roster
        .teams
        .iter()
        .find(|t| {
            roster.providers.iter().any(|p| {
                Some(&p.id) == t.provider.as_ref() && p.tier == crate::format::Tier::EmergencyCover
            })
        })
        .expect("cover team");
    let members = roster
        .carers
        .iter()
        .filter(|c| c.team.as_ref() == Some(&cover_team.id))
        .count();
    assert_eq!(members, 10);
}

#[test]
fn with_room_everywhere_and_instant_accepts_everything_fills_in_the_first_window() {
    let mut s = small(3.0);
    s.package_mix.visits_per_day = vec![1.0];
    s.package_mix.durations_min = vec![15];
    s.package_mix.double_handed_share = 0.0;
    s.package_mix.specialist_share = 0.0;
    s.package_mix.gender_required_share = 0.0;
    s.sickness_rate = 0.0;
    for k in scenario::TIER_KEYS {
        s.providers.insert(
            k.to_string(),
            scenario::TierBehaviour {
                auto_accept: Some(true),
                ..Default::default()
            },
        );
    }
    let rep = simulate(&s, county(), &[1, 2]).expect("run");
    for r in &rep.runs {
        assert!(r.referrals > 0);
        for o in &r.outcomes {
            assert_eq!(o.status, PackageStatus::Filled, "{}", o.package);
            let window = 15.0;
            assert!(o.fill_min.is_some_and(|m| m <= window), "{:?}", o);
        }
        assert_eq!(r.share_within[0], Some(1.0));
    }
}

#[test]
fn an_invalid_scenario_reports_every_problem_with_its_path() {
    let text = r#"{
      "county": { "generate": { "seed": 1, "size": "small", "rota_iterations": 0,
                                "spare_carers_share": 3, "existing_packages_end_within_days": 0 } },
      "days": 100,
      "broker_staff": { "rebroker_after_min": 1, "rebroker_at_most": 0 },
      "arrivals": { "per_day": -1, "by_hour": [1, 2], "surge": 1 },
      "package_mix": { "durations_min": [5], "specialist_skills": ["juggling"] },
      "providers": { "tier9": {}, "tier1": { "no_answer_probability": 0.9, "decline": { "no_capacity": 0.5 } } },
      "sickness_rate": 2,
      "provider_failures": [ { "day": 150, "time": "25:00", "provider": "p" } ],
      "policies": [ { "name": "a" }, { "name": "a", "config": { "windows": { "tier1_min": 0 } } } ]
    }"#;
    let issues = parse_scenario(text).expect_err("invalid");
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    for want in [
        "$.days",
        "$.county.generate.rota_iterations",
        "$.county.generate.spare_carers_share",
        "$.county.generate.existing_packages_end_within_days",
        "$.broker_staff.rebroker_after_min",
        "$.broker_staff.rebroker_at_most",
        "$.arrivals.per_day",
        "$.arrivals.by_hour",
        "$.package_mix.durations_min[0]",
        "$.package_mix.specialist_skills[0]",
        "$.providers.tier9",
        "$.providers.tier1.decline",
        "$.sickness_rate",
        "$.provider_failures[0].day",
        "$.provider_failures[0].time",
        "$.policies[1].name",
        "$.policies[1].config",
    ] {
        assert!(paths.contains(&want), "{want} missing from {paths:?}");
    }
    // A structural error names its path too.
    let bad = parse_scenario(r#"{"county": {"generate": {"seed": 1, "size": "huge"}}}"#)
        .expect_err("bad");
    assert_eq!(bad[0].code, IssueCode::MalformedJson);
    assert!(
        bad[0].path.starts_with("$.county.generate.size"),
        "{}",
        bad[0].path
    );
    let unknown = parse_scenario(r#"{"days": 1, "colour": "red"}"#).expect_err("unknown");
    assert!(
        unknown[0].message.contains("colour"),
        "{}",
        unknown[0].message
    );
}

#[test]
fn an_unknown_failing_provider_is_named_with_its_path() {
    let mut s = small(1.0);
    s.county = CountySpec::Generate(GenerateSpec {
        seed: 3,
        size: CountySize::Small,
        rota_iterations: 10,
        large_tier1_teams: None,
        spare_carers_share: 0.0,
        existing_packages_end_within_days: None,
    });
    s.days = 1;
    s.provider_failures = vec![scenario::ProviderFailure {
        day: 0,
        time: "09:00".into(),
        provider: "prov-99".into(),
    }];
    let e = prepare(&s, None).expect_err("unknown provider");
    assert_eq!(e.code(), "invalid_county");
    assert!(
        e.to_string().contains("$.provider_failures[0].provider"),
        "{e}"
    );
}

#[test]
fn a_failing_tier1_provider_loses_no_visit_and_its_people_are_rebrokered() {
    let mut s = small(4.0);
    let failing = county()
        .roster
        .providers
        .iter()
        .filter(|p| p.tier == crate::format::Tier::Tier1)
        .max_by_key(|p| {
            let teams: Vec<&String> = county()
                .roster
                .teams
                .iter()
                .filter(|t| t.provider.as_ref() == Some(&p.id))
                .map(|t| &t.id)
                .collect();
            county()
                .roster
                .service_users
                .iter()
                .filter(|u| u.team.as_ref().is_some_and(|t| teams.contains(&t)))
                .count()
        })
        .map(|p| p.id.clone())
        .expect("a Tier 1 provider");
    s.provider_failures = vec![scenario::ProviderFailure {
        day: 0,
        time: "11:00".into(),
        provider: failing,
    }];
    let rep = simulate(&s, county(), &[3]).expect("run");
    for r in &rep.runs {
        assert_eq!(r.failures.len(), 1);
        assert!(r.failures[0].released > 0, "{:?}", r.failures);
        assert!(r.failures[0].replaced <= r.failures[0].released);
        let i = &r.integrity;
        assert_eq!(i.visits_lost, 0);
        assert_eq!(i.rota_violations, 0);
        assert_eq!(i.ledger_trial_balance, 0);
        assert!(i.referrals_accounted);
    }
}

#[test]
fn a_month_lives_day_after_day_on_a_rolling_horizon_and_everything_is_kept() {
    let mut s = small(3.0);
    s.days = 28;
    s.policies.truncate(1);
    let rep = simulate(&s, county(), &[7]).expect("run");
    let r = &rep.runs[0];
    // Referrals arrive over the whole month, far beyond the first 15-day horizon.
    let last = r
        .outcomes
        .iter()
        .map(|o| o.referred_at)
        .max()
        .expect("referrals");
    let h = &county().horizon;
    assert!(last > h.instant(h.local(20, 0)), "last referral {last}");
    assert_eq!(r.daily.len(), 28);
    // Care was planned and given on every day of the month, including the days
    // the first horizon did not cover (the rotas were extended nightly).
    for d in &r.daily {
        assert!(d.care_min > 0 && d.shift_min > 0, "day {}: {d:?}", d.day);
    }
    assert!(
        r.utilisation > 0.0 && r.utilisation < 1.0,
        "{}",
        r.utilisation
    );
    assert!(r.paid_travel_share > 0.0 && r.paid_travel_share < 1.0);
    let total: usize = r.status.values().sum();
    assert_eq!(total, r.referrals);
    let i = &r.integrity;
    assert!(i.referrals_accounted);
    assert_eq!(i.ledger_trial_balance, 0);
    assert!(i.ledger_verified);
    assert_eq!(i.rotas_checked, county().roster.teams.len());
    assert_eq!(i.rota_violations, 0);
    assert_eq!(i.visits_lost, 0);
    // A referral filled in the last week has its first visit after referral,
    // and filled referrals report their carers.
    for o in &r.outcomes {
        if let Some(m) = o.first_visit_min {
            assert!(m >= 0.0, "{o:?}");
            assert!(o.filled_at.is_some());
        }
        if o.status == PackageStatus::Filled {
            assert!(o.distinct_carers.is_some_and(|c| c >= 1), "{o:?}");
        }
        assert_eq!(o.bed_nights.is_some(), o.urgency == "hospital_discharge");
    }
    assert!(r.outcomes.iter().any(|o| {
        o.first_visit_at
            .is_some_and(|t| t > h.instant(h.local(15, 0)))
    }));
}

#[cfg(feature = "generate")]
#[test]
fn the_html_report_puts_the_policies_side_by_side_with_devons_marks() {
    let s = small(6.0);
    let rep = simulate(&s, county(), &[1]).expect("run");
    let page = html::html(&rep).expect("html");
    assert!(page.starts_with("<!doctype html>"));
    assert!(page.matches("<svg").count() >= 4, "charts drawn");
    assert!(page.contains("Devon Cares 70% in 1.5 h"));
    assert!(page.contains("Devon Cares 97% in 4 h"));
    for p in ["broadcast", "ranked"] {
        assert!(page.contains(&format!("<tr><td>{p}</td>")), "{p} row");
    }
}

/// Brokers phone round: with every provider declining and no emergency
/// cover, each escalated package is brokered again (every provider asked
/// afresh) at most the scenario's number of times, and each time is seen in
/// more offers.
#[test]
fn brokers_rebroker_escalated_packages_at_most_as_often_as_the_scenario_says() {
    let declining = r#"{ "response_median_min": 5, "response_p90_min": 10,
        "no_answer_probability": 0, "decline": { "no_capacity": 1.0 } }"#;
    let text = |staff: &str| {
        format!(
            r#"{{
          "county": {{ "generate": {{ "seed": 3, "size": "small", "rota_iterations": 60 }} }},
          "days": 2,
          "arrivals": {{ "per_day": 6 }},
          "providers": {{ "tier1": {declining}, "tier2": {declining}, "tier3": {declining},
                          "specialist": {declining} }},
          {staff}
          "policies": [ {{ "name": "no-cover", "emergency_cover_carers": 0 }} ]
        }}"#
        )
    };
    let quiet = parse_scenario(&text("")).expect("valid");
    let staffed = parse_scenario(&text(
        r#""broker_staff": { "rebroker_after_min": 30, "rebroker_at_most": 2 },"#,
    ))
    .expect("valid");
    let a = simulate(&quiet, county(), &[3]).expect("run");
    let b = simulate(&staffed, county(), &[3]).expect("run");
    let (a, b) = (&a.runs[0], &b.runs[0]);
    let escalated = b
        .status
        .get(&PackageStatus::Escalated)
        .copied()
        .unwrap_or(0);
    assert!(escalated > 0, "{:?}", b.status);
    assert_eq!(a.rebrokered, 0);
    assert!(
        b.rebrokered > 0 && b.rebrokered <= 2 * escalated,
        "rebrokered {} of {escalated} escalated",
        b.rebrokered
    );
    let offers = |r: &run::RunResult| r.outcomes.iter().map(|o| o.offers).sum::<u32>();
    assert!(offers(b) > offers(a), "{} vs {}", offers(b), offers(a));
    for r in [a, b] {
        assert_eq!(r.integrity.rota_violations, 0);
        assert_eq!(r.integrity.ledger_trial_balance, 0);
    }
}

/// The calibration of a generated county: vacant carers in every provider
/// team (within the 12-carer limit, emergency cover untouched) and the
/// current packages ending within the given days.
#[test]
fn a_generated_county_can_have_vacant_carers_and_ending_packages() {
    let mut s = small(6.0);
    if let CountySpec::Generate(g) = &mut s.county {
        g.spare_carers_share = 0.5;
        g.existing_packages_end_within_days = Some(3);
    }
    let c = prepare(&s, None).expect("county");
    let base = county();
    assert!(c.roster.carers.len() > base.roster.carers.len());
    for t in &c.roster.teams {
        let n = |r: &crate::format::PlanningRequest| {
            r.carers
                .iter()
                .filter(|x| x.team.as_ref() == Some(&t.id))
                .count()
        };
        assert!(n(&c.roster) <= 12, "{}", t.id);
        let cover = c.roster.providers.iter().any(|p| {
            Some(&p.id) == t.provider.as_ref() && p.tier == crate::format::Tier::EmergencyCover
        });
        if cover {
            assert_eq!(n(&c.roster), n(&base.roster), "{}", t.id);
        } else if n(&base.roster) > 0 && n(&base.roster) < 12 {
            assert!(n(&c.roster) > n(&base.roster), "{}", t.id);
        }
    }
    let first =
        chrono::NaiveDate::parse_from_str(&c.roster.horizon.start_date, "%Y-%m-%d").expect("date");
    assert!(!c.roster.packages.is_empty());
    for p in &c.roster.packages {
        let starts = (p.start_date.as_deref())
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
        let had_end = (base.roster.packages.iter()).any(|b| b.id == p.id && b.end_date.is_some());
        if had_end || starts.is_some_and(|d| (d - first).num_days() >= 3) {
            continue; // ended already, or starts after the last day drawn: runs on
        }
        let end = p.end_date.as_deref().expect("every package ends");
        let end = chrono::NaiveDate::parse_from_str(end, "%Y-%m-%d").expect("date");
        assert!((end - first).num_days() < 3, "{} ends {end}", p.id);
    }
    // Every first rota of the calibrated county passes the checker.
    let roster = scenario_roster(&s, &c.roster);
    let b = crate::broker::Broker::new(crate::broker::BrokerConfig::default(), roster, c.rotas)
        .expect("broker");
    for team in b.rotas.keys() {
        let req = b.team_request(team).expect("team");
        let p = crate::model::Problem::from_request(&req).expect("problem");
        let rep = crate::check::check(&p, &b.rotas[team]);
        assert!(rep.violations.is_empty(), "{team}: {:?}", rep.violations);
    }
}
