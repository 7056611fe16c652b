//! Transferred carers keep their people: a failed provider's carers move to
//! another provider's team, and the people they served are re-brokered to
//! that team and visited by the same carers where the rules allow.

use super::super::tests::{World, t0, world};
use super::*;
use crate::broker::BrokerConfig;
use crate::broker::records::{DeclineReason, Offer};
use crate::format::Tier;
use chrono::Duration;

/// (person, carer) pairs of a team's rota: who sees whom.
fn pairs(w: &World, team: &str) -> BTreeSet<(String, String)> {
    w.broker
        .rotas
        .get(team)
        .iter()
        .flat_map(|r| &r.routes)
        .flat_map(|r| {
            r.stops
                .iter()
                .map(|s| (s.service_user.clone(), r.carer.clone()))
        })
        .collect()
}

/// Every (person, carer) pair on any team's rota from now on.
fn pairs_everywhere(w: &World) -> BTreeSet<(String, String)> {
    let teams: Vec<String> = w.broker.rotas.keys().cloned().collect();
    teams.iter().flat_map(|t| pairs(w, t)).collect()
}

/// Carers a team can still take (its cap less its members).
fn room_in(w: &World, team: &str) -> usize {
    let t = &w.broker.roster.teams[w.broker.index.team_pos[team]];
    let cap = t
        .max_members
        .unwrap_or(w.broker.roster.settings.max_team_size) as usize;
    cap.saturating_sub(w.broker.index.carers_of_team.get(team).map_or(0, Vec::len))
}

#[test]
fn transferred_carers_keep_their_people_where_the_cap_allows() {
    let mut w = world(7, BrokerConfig::default());
    let now = t0();
    w.broker.set_now(now);
    // The Tier 1 team with the most visits fails; its busiest carers move to
    // another provider's team (as many as that team has room for).
    let (failing, team) = (w.broker.roster.teams.iter())
        .filter_map(|t| {
            let p = t.provider.as_ref()?;
            let pi = w.broker.index.provider_pos[p];
            (w.broker.roster.providers[pi].tier == Tier::Tier1).then_some((p.clone(), t.id.clone()))
        })
        .max_by_key(|(_, t)| w.broker.rotas.get(t).map_or(0, |r| r.routes.len()))
        .expect("a Tier 1 team");
    let to_team = (w.broker.roster.teams.iter())
        .filter(|t| t.provider.is_some() && t.provider.as_deref() != Some(failing.as_str()))
        .filter(|t| {
            let pi = w.broker.index.provider_pos[t.provider.as_deref().unwrap_or_default()];
            w.broker.roster.providers[pi].tier != Tier::EmergencyCover
        })
        .map(|t| t.id.clone())
        .max_by_key(|t| room_in(&w, t))
        .expect("another team");
    let room = room_in(&w, &to_team);
    let mut busiest: Vec<(usize, String)> = {
        let rota = &w.broker.rotas[&team];
        let mut n: BTreeMap<String, usize> = BTreeMap::new();
        for r in &rota.routes {
            *n.entry(r.carer.clone()).or_default() += r.stops.len();
        }
        n.into_iter().map(|(c, k)| (k, c)).collect()
    };
    busiest.sort_by(|a, b| b.cmp(a));
    let movers: Vec<String> = busiest.into_iter().take(room.min(3)).map(|x| x.1).collect();
    assert!(!movers.is_empty(), "the target team has room");
    let had: BTreeSet<(String, String)> = pairs(&w, &team)
        .into_iter()
        .filter(|(_, c)| movers.contains(c))
        .collect();
    assert!(!had.is_empty());
    let transfers: Vec<CarerTransfer> = movers
        .iter()
        .map(|c| CarerTransfer {
            carer: c.clone(),
            to_team: to_team.clone(),
        })
        .collect();
    let ev = w.run(|b| b.set_provider_status(&failing, FrameworkStatus::Failed, transfers, now));
    // The packages the movers served went to their new team first.
    let people: BTreeSet<&String> = had.iter().map(|(u, _)| u).collect();
    let offered_first: BTreeSet<String> = ev
        .iter()
        .filter_map(|e| match e {
            BrokerEvent::OfferMade { offer } if offer.team == to_team => {
                Some(offer.package.clone())
            }
            _ => None,
        })
        .collect();
    assert!(
        !offered_first.is_empty(),
        "packages offered to the team that took the carers"
    );
    for pkg in &offered_first {
        let rec = &w.broker.packages[pkg];
        assert!(people.contains(&rec.package.service_user));
        // Skipping a fitting earlier stage is recorded, with the reason.
        if let Some(o) = &rec.out_of_order {
            assert_eq!(o.reason, OverrideReason::ContinuityWithExistingCarer);
        }
    }
    // Providers accept their offers 5 minutes later (inside the shortest window).
    let mut t = now;
    for _ in 0..60 {
        t += Duration::minutes(5);
        let open: Vec<Offer> = (w.broker.offers.values())
            .filter(|o| o.status == OfferStatus::Open)
            .cloned()
            .collect();
        if open.is_empty() {
            break;
        }
        for o in open {
            if w.broker.offers[&o.id].status != OfferStatus::Open {
                continue;
            }
            match w.broker.accept(&o.id, t) {
                Ok(ev) => w.events.extend(ev),
                Err(BrokerError::NoLongerFits { .. }) => {
                    w.run(|b| b.decline(&o.id, DeclineReason::NoCapacity, None, t));
                }
                Err(e) => panic!("{e}"),
            }
        }
        w.run(|b| Ok(b.tick(t)));
    }
    let after = pairs_everywhere(&w);
    let kept = had.iter().filter(|p| after.contains(*p)).count();
    let reunited = (w.events.iter())
        .filter(|e| matches!(e, BrokerEvent::CarersReunited { .. }))
        .count();
    eprintln!(
        "people who had a transferred carer before the failure: {} pairs; still seeing that carer: {kept}; carers_reunited re-plans: {reunited}",
        had.len()
    );
    assert!(
        kept * 4 >= had.len() * 3,
        "{kept} of {} person-carer pairs kept",
        had.len()
    );
    // Each person within the continuity cap, and every rota passes the checker
    // and replays from the events.
    w.assert_consistent();
}

/// `p` and its person under new ids: package `id`, person `{id}-su`.
fn renamed(p: &Package, u: &ServiceUser, id: &str) -> (Package, ServiceUser) {
    let (mut p, mut u) = (p.clone(), u.clone());
    p.id = id.to_string();
    u.id = format!("{id}-su");
    p.service_user = u.id.clone();
    p.links.clear();
    (p, u)
}

/// Visits belong to packages by structure: failing the provider that holds
/// package `S` releases `S` only, never `S.x` that another provider holds (an
/// id that merely begins with the other's), and `S.x`'s visits stay on its
/// team's rota.
#[test]
fn a_provider_failure_releases_only_its_own_packages_whatever_their_ids_begin_with() {
    let mut w = world(11, BrokerConfig::default());
    let now = t0();
    let why = OverrideRequest {
        reason: Some(crate::broker::OverrideReason::PersonChoice),
        ..Default::default()
    };
    let referrals = w.referrals.clone();
    let mut placed: Vec<(String, String, String)> = Vec::new();
    for (p, u) in &referrals {
        if placed.len() == 2 {
            break;
        }
        let id = if placed.is_empty() { "S" } else { "S.x" };
        let (p, u) = renamed(p, u, id);
        let report = w.broker.candidates_at(&p, &u, now);
        let Some(c) = report.fitting.iter().find(|c| {
            c.tier != Tier::EmergencyCover && placed.iter().all(|(_, prov, _)| *prov != c.provider)
        }) else {
            continue;
        };
        let (provider, team) = (c.provider.clone(), c.fit.team.clone());
        w.run(|b| b.refer_to(p.clone(), u.clone(), &provider, &team, &why, now));
        let open: Vec<String> = (w.broker.offers.values())
            .filter(|o| o.package == p.id && o.status == OfferStatus::Open)
            .map(|o| o.id.clone())
            .collect();
        for o in open {
            w.run(|b| b.accept(&o, now));
        }
        assert_eq!(w.broker.packages[&p.id].status, PackageStatus::Filled);
        placed.push((p.id.clone(), provider, team));
    }
    assert_eq!(placed.len(), 2, "S and S.x placed with two providers");
    let (_, failing, _) = placed[0].clone();
    let (x, x_provider, x_team) = placed[1].clone();
    let x_visits = |w: &World| {
        w.broker.rotas[&x_team]
            .routes
            .iter()
            .flat_map(|r| &r.stops)
            .filter(|s| crate::format::is_visit_of(&s.visit, &x))
            .count()
    };
    let before = x_visits(&w);
    assert!(before > 0, "S.x is on its team's rota");
    let ev = w.run(|b| b.set_provider_status(&failing, FrameworkStatus::Failed, Vec::new(), now));
    let released: Vec<&str> = ev
        .iter()
        .filter_map(|e| match e {
            BrokerEvent::PackageReleased { package, .. } => Some(package.as_str()),
            _ => None,
        })
        .collect();
    assert!(released.contains(&"S"), "S is released: {released:?}");
    assert!(!released.contains(&"S.x"), "S.x is not: {released:?}");
    let r = &w.broker.packages[&x];
    assert_eq!(
        (r.status, r.provider.as_deref(), r.team.as_deref()),
        (
            PackageStatus::Filled,
            Some(x_provider.as_str()),
            Some(x_team.as_str())
        )
    );
    assert_eq!(x_visits(&w), before, "S.x keeps its visits");
    w.assert_consistent();
}
