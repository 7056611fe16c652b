//! Nothing dropped silently and brokerage integrity, on the broker itself:
//! batch offers respect each team's real room, a failed provider's people keep
//! interim cover, emergency cover is charged as delivered.

use super::tests::{t0, world};
use super::*;
use crate::format::{FrameworkStatus, Tier};
use chrono::Duration;

/// A team with room for k packages is offered at most k: after a batch, every
/// package's first open offer can be accepted, in the order they were made.
#[test]
fn batch_offers_never_exceed_a_teams_real_room() {
    let mut w = world(7, BrokerConfig::default());
    let batch: Vec<_> = w.referrals.iter().take(40).cloned().collect();
    let now = t0();
    w.run(|b| b.refer_batch(batch, now));
    let mut open: Vec<(String, String)> = w
        .broker
        .offers
        .values()
        .filter(|o| o.status == OfferStatus::Open)
        .map(|o| (o.id.clone(), o.package.clone()))
        .collect();
    open.sort();
    let mut seen = std::collections::BTreeSet::new();
    open.retain(|(_, p)| seen.insert(p.clone()));
    assert!(
        open.len() > 3,
        "the batch leaves offers to answer: {}",
        open.len()
    );
    let mut per_team: BTreeMap<String, usize> = BTreeMap::new();
    for (id, _) in &open {
        if w.broker.offers[id].status != OfferStatus::Open {
            continue;
        }
        *per_team
            .entry(w.broker.offers[id].team.clone())
            .or_default() += 1;
        match w.broker.accept(id, now + Duration::minutes(5)) {
            Ok(ev) => w.events.extend(ev),
            Err(e) => panic!("offer {id} was made beyond its team's room: {e}"),
        }
    }
    assert!(
        per_team.values().any(|&n| n > 1),
        "some team was offered several packages: {per_team:?}"
    );
    w.assert_consistent();
}

/// A failed provider's people whose packages are not taken at once keep
/// their visits of the cover window by emergency cover (or an alert says
/// none is free), released once a provider accepts; the pool pays per day.
#[test]
fn a_failed_providers_people_keep_interim_cover_until_placed() {
    let mut w = world(11, BrokerConfig::default());
    let now = t0();
    let failing = w
        .broker
        .roster
        .providers
        .iter()
        .filter(|p| p.tier == Tier::Tier1)
        .map(|p| p.id.clone())
        .max_by_key(|p| {
            let teams: Vec<&String> = w
                .broker
                .roster
                .teams
                .iter()
                .filter(|t| t.provider.as_ref() == Some(p))
                .map(|t| &t.id)
                .collect();
            teams
                .iter()
                .map(|t| w.broker.rotas.get(*t).map_or(0, |r| r.routes.len()))
                .sum::<usize>()
        })
        .expect("a Tier 1 provider");
    let ev = w.run(|b| b.set_provider_status(&failing, FrameworkStatus::Failed, vec![], now));
    let waiting: Vec<String> = w
        .broker
        .packages
        .values()
        .filter(|r| {
            r.previous_provider.as_deref() == Some(failing.as_str())
                && r.status != PackageStatus::Filled
        })
        .map(|r| r.package.id.clone())
        .collect();
    assert!(
        !waiting.is_empty(),
        "some released packages wait for answers"
    );
    let covered: Vec<&EmergencyVisit> = w
        .broker
        .emergency_visits
        .values()
        .filter(|e| e.why == "interim_cover")
        .collect();
    let missing = ev
        .iter()
        .filter(|e| matches!(e, BrokerEvent::AlertRaised { alert } if alert.code == "interim_cover_missing"))
        .count();
    assert!(
        !covered.is_empty() || missing > 0,
        "interim cover or alerts"
    );
    for e in &covered {
        assert!(
            waiting.contains(&e.package),
            "{} is covered while waiting",
            e.visit
        );
        let start = chrono::DateTime::parse_from_rfc3339(&e.start).expect("start");
        assert!(start >= now && start <= now + Duration::hours(48));
    }
    // A provider accepts one: its interim cover from then on is released.
    if let Some(pkg) = covered.first().map(|e| e.package.clone()) {
        let offer = w
            .broker
            .offers
            .values()
            .find(|o| o.package == pkg && o.status == OfferStatus::Open)
            .map(|o| o.id.clone());
        if let Some(offer) = offer {
            let at = now + Duration::minutes(10);
            if let Ok(ev) = w.broker.accept(&offer, at) {
                w.events.extend(ev);
                assert!(
                    w.broker.emergency_visits.values().all(|e| e.package != pkg
                        || chrono::DateTime::parse_from_rfc3339(&e.start).expect("t") < at),
                    "interim cover released on acceptance"
                );
            }
        }
    }
    // Delivered days are charged once, on the tick after the day ends.
    let before = w.broker.ledger.balance(ledger::RISK_POOL);
    let next_day = now + Duration::days(1);
    w.run(|b| Ok(b.tick(next_day)));
    let charged: i64 = w
        .broker
        .ledger
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::EmergencyCover)
        .map(|e| e.amount_pence)
        .sum();
    assert_eq!(w.broker.ledger.balance(ledger::RISK_POOL), before - charged);
    let n = w.broker.ledger.entries.len();
    w.run(|b| Ok(b.tick(next_day + Duration::minutes(1))));
    assert!(
        w.broker.ledger.entries[n..]
            .iter()
            .all(|e| e.kind != EntryKind::EmergencyCover),
        "nothing is charged twice"
    );
    w.assert_consistent();
}
