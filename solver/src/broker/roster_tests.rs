//! Roster commands on the generated county: every change keeps every team rota
//! passing the checker, moves only the changed carer's visits, and replays to
//! the same state (`World::assert_consistent`).

use super::tests::{World, t0, world};
use super::*;
use crate::format::{Carer, FrameworkStatus, IssueCode, Shift};
use std::collections::BTreeSet;

/// (carer, visit) pairs of every carer but `except` in a team's rota.
fn others(rota: &Rota, except: &str) -> BTreeSet<(String, String)> {
    rota.routes
        .iter()
        .filter(|r| r.carer != except)
        .flat_map(|r| r.stops.iter().map(|s| (r.carer.clone(), s.visit.clone())))
        .collect()
}

/// The carer with the most visits in some team rota, and that team.
fn busiest(w: &World) -> (String, String) {
    let mut best: Option<(usize, String, String)> = None;
    for (team, rota) in &w.broker.rotas {
        for r in &rota.routes {
            let n: usize = rota
                .routes
                .iter()
                .filter(|x| x.carer == r.carer)
                .map(|x| x.stops.len())
                .sum();
            if best.as_ref().is_none_or(|b| n > b.0) {
                best = Some((n, r.carer.clone(), team.clone()));
            }
        }
    }
    let (_, c, t) = best.expect("a rota with routes");
    (c, t)
}

fn carer(w: &World, id: &str) -> Carer {
    w.broker
        .roster
        .carers
        .iter()
        .find(|c| c.id == id)
        .cloned()
        .expect("carer")
}

fn replans(ev: &[BrokerEvent]) -> Vec<TeamReplan> {
    ev.iter()
        .filter_map(|e| match e {
            BrokerEvent::CarerSaved { replans, .. } => Some(replans.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn narrower_availability_replans_only_that_carer_s_visits() {
    let mut w = world(11, BrokerConfig::default());
    let (id, team) = busiest(&w);
    let before = w.broker.rotas[&team].clone();
    let mine: BTreeSet<String> = before
        .routes
        .iter()
        .filter(|r| r.carer == id)
        .flat_map(|r| r.stops.iter().map(|s| s.visit.clone()))
        .collect();
    // Weekend mornings only: every weekday visit of the carer must go elsewhere.
    let shifts = vec![Shift {
        days: vec!["weekends".into()],
        start: "07:00".into(),
        end: "13:00".into(),
        start_location: None,
        end_location: None,
    }];
    let ev = w.run(|b| b.set_availability(&id, shifts.clone(), t0()));
    let after = &w.broker.rotas[&team];
    for r in after.routes.iter().filter(|r| r.carer == id) {
        for s in &r.stops {
            let day = chrono::NaiveDate::parse_from_str(&s.start[..10], "%Y-%m-%d").expect("day");
            assert!(
                matches!(day.format("%a").to_string().as_str(), "Sat" | "Sun"),
                "{} on a weekday",
                s.visit
            );
            assert!(s.start[11..16] >= *"07:00" && s.end[11..16] <= *"13:00");
        }
    }
    // Minimum change: every other carer keeps every visit it had.
    let kept = others(&before, &id);
    let now = others(after, &id);
    assert!(kept.is_subset(&now), "another carer lost a visit");
    let rp = replans(&ev);
    assert_eq!(rp.len(), 1);
    assert_eq!(rp[0].team, team);
    assert!(!rp[0].moved.is_empty(), "some of the carer's visits moved");
    for m in &rp[0].moved {
        assert!(m.from.contains(&id) && !m.to.contains(&id), "{m:?}");
    }
    for v in &rp[0].newly_unplaced {
        assert!(mine.contains(v), "{v} was not the carer's");
        assert!(
            after
                .unplaced
                .iter()
                .any(|u| &u.visit == v && !u.reasons.is_empty())
        );
    }
    assert_eq!(carer(&w, &id).shifts, shifts);
    w.assert_consistent();
}

#[test]
fn a_carer_moving_team_replans_both_teams() {
    let mut w = world(12, BrokerConfig::default());
    let (id, from) = busiest(&w);
    let to = w
        .broker
        .roster
        .teams
        .iter()
        .find(|t| t.id != from)
        .map(|t| t.id.clone())
        .expect("another team");
    let before_from = w.broker.rotas[&from].clone();
    let before_to = w.broker.rotas.get(&to).cloned().unwrap_or_default();
    let mut c = carer(&w, &id);
    c.team = Some(to.clone());
    let ev = w.run(|b| b.save_carer(c.clone(), false, t0()));
    let rp = replans(&ev);
    let teams: BTreeSet<&str> = rp.iter().map(|r| r.team.as_str()).collect();
    assert_eq!(teams, BTreeSet::from([from.as_str(), to.as_str()]));
    assert!(
        w.broker.rotas[&from].routes.iter().all(|r| r.carer != id),
        "the carer still works in the team it left"
    );
    assert!(others(&before_from, &id).is_subset(&others(&w.broker.rotas[&from], &id)));
    assert!(others(&before_to, &id).is_subset(&others(&w.broker.rotas[&to], &id)));
    assert_eq!(
        w.broker
            .team_request(&to)
            .expect("team")
            .carers
            .iter()
            .filter(|x| x.id == id)
            .count(),
        1
    );
    w.assert_consistent();
}

#[test]
fn losing_a_skill_takes_the_carer_off_visits_that_need_it() {
    let mut w = world(13, BrokerConfig::default());
    // A carer doing a visit that needs a skill.
    let b = &w.broker;
    let needs = |visit: &str| -> BTreeSet<String> {
        let (pkg, rest) = visit.split_once('/').unwrap_or_default();
        let pat = rest.split('@').next().unwrap_or_default();
        b.roster
            .packages
            .iter()
            .find(|p| p.id == pkg)
            .map(|p| {
                let mut s: BTreeSet<String> = p.required_skills.iter().cloned().collect();
                if let Some(v) = p.visits.iter().find(|v| v.id == pat) {
                    s.extend(v.required_skills.iter().cloned());
                }
                s
            })
            .unwrap_or_default()
    };
    let (team, id, skill) = b
        .rotas
        .iter()
        .flat_map(|(t, r)| r.routes.iter().map(move |r| (t, r)))
        .flat_map(|(t, r)| r.stops.iter().map(move |s| (t, r, s)))
        .find_map(|(t, r, s)| {
            needs(&s.visit)
                .into_iter()
                .next()
                .map(|k| (t.clone(), r.carer.clone(), k))
        })
        .expect("a skilled visit on some rota");
    let before = w.broker.rotas[&team].clone();
    let mut c = carer(&w, &id);
    c.skills.retain(|s| *s != skill);
    w.run(|b| b.save_carer(c.clone(), false, t0()));
    let after = &w.broker.rotas[&team];
    let b = &w.broker;
    let needs = |visit: &str| -> bool {
        let (pkg, rest) = visit.split_once('/').unwrap_or_default();
        let pat = rest.split('@').next().unwrap_or_default();
        b.roster.packages.iter().any(|p| {
            p.id == pkg
                && (p.required_skills.contains(&skill)
                    || p.visits
                        .iter()
                        .any(|v| v.id == pat && v.required_skills.contains(&skill)))
        })
    };
    for r in after.routes.iter().filter(|r| r.carer == id) {
        assert!(
            r.stops.iter().all(|s| !needs(&s.visit)),
            "still does a {skill} visit"
        );
    }
    // Every other carer keeps every visit, except the partner half of a
    // double-handed visit the changed carer gave up (both carers are re-chosen).
    let given_up: BTreeSet<String> = before
        .routes
        .iter()
        .filter(|r| r.carer == id)
        .flat_map(|r| r.stops.iter().map(|s| s.visit.clone()))
        .collect();
    let kept_before: BTreeSet<(String, String)> = others(&before, &id)
        .into_iter()
        .filter(|(_, v)| !given_up.contains(v))
        .collect();
    assert!(kept_before.is_subset(&others(after, &id)));
    w.assert_consistent();
}

#[test]
fn providers_teams_and_carers_are_created_checked_and_replayed() {
    let mut w = world(14, BrokerConfig::default());
    let now = t0();
    let mut provider = w.broker.roster.providers[0].clone();
    provider.id = "prov-new".into();
    provider.name = "New Care Ltd".into();
    w.run(|b| b.save_provider(provider.clone(), true, now));
    assert!(matches!(
        w.broker.save_provider(provider.clone(), true, now),
        Err(BrokerError::AlreadyExists(_))
    ));
    let mut p2 = provider.clone();
    p2.framework_status = FrameworkStatus::Suspended;
    assert!(matches!(
        w.broker.save_provider(p2, false, now),
        Err(BrokerError::Refused {
            code: "framework_status_unchanged_here",
            ..
        })
    ));
    let mut p3 = provider.clone();
    p3.hourly_rate_pence += 100;
    p3.skills.push("no_such_skill".into());
    match w.broker.save_provider(p3.clone(), false, now) {
        Err(BrokerError::InvalidFields(issues)) => assert!(
            issues
                .iter()
                .any(|i| i.path.starts_with("$.skills") && i.code == IssueCode::UnknownSkill),
            "{issues:?}"
        ),
        other => panic!("{other:?}"),
    }
    p3.skills.pop();
    w.run(|b| b.save_provider(p3.clone(), false, now));
    assert_eq!(
        w.broker
            .roster
            .providers
            .iter()
            .find(|p| p.id == "prov-new"),
        Some(&p3)
    );

    let mut team = w.broker.roster.teams[0].clone();
    team.id = "team-new".into();
    team.provider = Some("prov-nope".into());
    match w.broker.save_team(team.clone(), true, now) {
        Err(BrokerError::InvalidFields(issues)) => assert_eq!(issues[0].path, "$.provider"),
        other => panic!("{other:?}"),
    }
    team.provider = Some("prov-new".into());
    w.run(|b| b.save_team(team.clone(), true, now));
    let mut moved = team.clone();
    moved.provider = Some(w.broker.roster.providers[0].id.clone());
    assert!(matches!(
        w.broker.save_team(moved, false, now),
        Err(BrokerError::Refused {
            code: "team_provider_immutable",
            ..
        })
    ));
    assert!(matches!(
        w.broker.save_team(team.clone(), true, now),
        Err(BrokerError::AlreadyExists(_))
    ));

    let mut c = w.broker.roster.carers[0].clone();
    c.id = "carer-new".into();
    c.team = Some("team-nope".into());
    match w.broker.save_carer(c.clone(), true, now) {
        Err(BrokerError::InvalidFields(issues)) => assert_eq!(issues[0].path, "$.team"),
        other => panic!("{other:?}"),
    }
    c.team = Some("team-new".into());
    c.shifts[0].start = "25:99".into();
    match w.broker.save_carer(c.clone(), true, now) {
        Err(BrokerError::InvalidFields(issues)) => assert!(
            issues.iter().any(|i| i.path == "$.shifts[0].start"),
            "{issues:?}"
        ),
        other => panic!("{other:?}"),
    }
    c.shifts[0].start = "07:00".into();
    let mut bad_id = c.clone();
    bad_id.id = "a/b".into();
    assert!(matches!(
        w.broker.save_carer(bad_id, true, now),
        Err(BrokerError::InvalidFields(i)) if i[0].path == "$.id"
    ));
    let ev = w.run(|b| b.save_carer(c.clone(), true, now));
    assert_eq!(replans(&ev).len(), 1);
    assert!(w.broker.rotas.contains_key("team-new"));
    assert!(matches!(
        w.broker.save_carer(c.clone(), true, now),
        Err(BrokerError::AlreadyExists(_))
    ));
    assert!(matches!(
        w.broker.set_availability("nobody", Vec::new(), now),
        Err(BrokerError::UnknownCarer(_))
    ));
    assert_eq!(
        w.broker.team_request("team-new").expect("team").carers,
        vec![c]
    );
    w.assert_consistent();
}

#[test]
fn a_team_change_that_would_break_the_team_is_refused_with_the_field() {
    let mut w = world(15, BrokerConfig::default());
    let team = w
        .broker
        .roster
        .teams
        .iter()
        .find(|t| {
            w.broker
                .team_request(&t.id)
                .is_some_and(|r| r.carers.len() > 1)
        })
        .cloned()
        .expect("a team with carers");
    let mut small = team.clone();
    small.max_members = Some(1);
    match w.broker.save_team(small, false, t0()) {
        Err(BrokerError::InvalidFields(issues)) => {
            assert!(
                issues
                    .iter()
                    .any(|i| i.path == "$" && i.code == IssueCode::TeamTooLarge),
                "{issues:?}"
            )
        }
        other => panic!("{other:?}"),
    }
    let mut renamed = team.clone();
    renamed.name = Some("Riverside".into());
    let rotas = w.broker.rotas.clone();
    w.run(|b| b.save_team(renamed.clone(), false, t0()));
    assert_eq!(
        w.broker.rotas, rotas,
        "a team record change re-plans nothing"
    );
    assert!(w.broker.roster.teams.contains(&renamed));
    w.assert_consistent();
}
