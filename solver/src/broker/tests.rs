//! Broker scenarios (docs/domain.md §14) on a small generated county.

use super::*;
use crate::check::check;
use crate::format::{FrameworkStatus, Package, ServiceUser, Tier, Urgency};
use chrono::{DateTime, Duration, TimeZone, Utc};

pub(crate) struct World {
    pub broker: Broker,
    pub referrals: Vec<(Package, ServiceUser)>,
    pub initial: (crate::format::PlanningRequest, BTreeMap<String, Rota>),
    pub events: Vec<BrokerEvent>,
}

pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0)
        .single()
        .unwrap_or_default()
}

pub(crate) fn world(seed: u64, config: BrokerConfig) -> World {
    world_of(
        demo::county(&demo::small_profile(), seed, 40).expect("county"),
        config,
    )
}

/// A broker over a generated county, remembering where it started for replay checks.
pub(crate) fn world_of(county: demo::DemoCounty, config: BrokerConfig) -> World {
    let broker = Broker::new(config, county.roster.clone(), county.rotas.clone()).expect("broker");
    World {
        broker,
        referrals: county.referrals,
        initial: (county.roster, county.rotas),
        events: Vec::new(),
    }
}

impl World {
    pub fn run(
        &mut self,
        f: impl FnOnce(&mut Broker) -> Result<Vec<BrokerEvent>, BrokerError>,
    ) -> Vec<BrokerEvent> {
        let ev = f(&mut self.broker).expect("command");
        self.events.extend(ev.iter().cloned());
        ev
    }

    /// Every team rota passes the independent checker, and a broker rebuilt by
    /// replaying the events has exactly the same state.
    pub fn assert_consistent(&self) {
        let b = &self.broker;
        for (team, rota) in &b.rotas {
            let req = b.team_request(team).expect("team");
            let p = crate::model::Problem::from_request(&req).expect("team problem");
            let rep = check(&p, rota);
            assert!(
                rep.violations.is_empty(),
                "team {team}: {:?}",
                &rep.violations[..rep.violations.len().min(3)]
            );
        }
        b.ledger.verify().expect("ledger balances");
        let mut replay = Broker::new(
            b.config.clone(),
            self.initial.0.clone(),
            self.initial.1.clone(),
        )
        .expect("replay broker");
        for e in &self.events {
            replay.apply(e);
        }
        assert_eq!(replay.packages, b.packages);
        assert_eq!(replay.offers, b.offers);
        assert_eq!(replay.ledger, b.ledger);
        assert_eq!(replay.rotas, b.rotas);
        assert_eq!(replay.roster, b.roster);
    }

    /// The first referral with at least one fitting Tier 1 provider and no specialist skill.
    pub fn plain_referral(&self) -> (Package, ServiceUser) {
        self.referrals
            .iter()
            .find(|(p, u)| {
                self.broker.stage_order(p)[0] == Tier::Tier1
                    && !self
                        .broker
                        .candidates(p, u)
                        .at_stage(Tier::Tier1, &Default::default())
                        .is_empty()
            })
            .cloned()
            .expect("a plain referral that Tier 1 can take")
    }
}

fn open_offers(b: &Broker, pkg: &str) -> Vec<Offer> {
    b.offers
        .values()
        .filter(|o| o.package == pkg && o.status == OfferStatus::Open)
        .cloned()
        .collect()
}

#[test]
fn a_referral_is_offered_to_every_fitting_tier1_provider_and_acceptance_fills_it() {
    let mut w = world(11, BrokerConfig::default());
    let (pkg, user) = w.plain_referral();
    let report = w.broker.candidates(&pkg, &user);
    assert!(report.teams_checked > 0);
    for c in &report.fitting {
        assert!(c.fit.fits && c.fit.placed == c.fit.visits && !c.fit.explanation.is_empty());
    }
    for c in &report.not_fitting {
        assert!(
            !c.fit.reasons.is_empty(),
            "a team that cannot take it says why"
        );
    }
    let now = t0();
    w.run(|b| b.refer(pkg.clone(), user.clone(), now));
    let offers = open_offers(&w.broker, &pkg.id);
    let tier1: std::collections::BTreeSet<String> = report
        .at_stage(Tier::Tier1, &Default::default())
        .iter()
        .map(|c| c.provider.clone())
        .collect();
    assert_eq!(
        offers
            .iter()
            .map(|o| o.provider.clone())
            .collect::<std::collections::BTreeSet<_>>(),
        tier1,
        "broadcast to all fitting Tier 1 providers"
    );
    assert!(
        offers
            .iter()
            .all(|o| o.stage == Tier::Tier1 && o.expires_at == now + Duration::minutes(30))
    );
    let winner = offers[0].clone();
    let at = now + Duration::minutes(12);
    let ev = w.run(|b| b.accept(&winner.id, at));
    assert!(
        ev.iter()
            .any(|e| matches!(e, BrokerEvent::OfferAccepted { .. }))
    );
    let rec = &w.broker.packages[&pkg.id];
    assert_eq!(rec.status, PackageStatus::Filled);
    assert_eq!(rec.filled_at, Some(at));
    assert_eq!(rec.provider.as_deref(), Some(winner.provider.as_str()));
    assert!(
        open_offers(&w.broker, &pkg.id).is_empty(),
        "other offers withdrawn"
    );
    // Every visit of the package is on the team's rota.
    let rota = &w.broker.rotas[&winner.team];
    let on_rota = rota
        .routes
        .iter()
        .flat_map(|r| r.stops.iter())
        .filter(|s| s.visit.starts_with(&format!("{}/", pkg.id)))
        .count();
    assert_eq!(
        on_rota,
        w.broker.offers[&winner.id].fit.visits + double_extra(&pkg, &w.broker)
    );
    // Fee and top-slice posted.
    let l = w.broker.ledger_report();
    assert!(l.totals_by_kind["fee"] > 0 && l.totals_by_kind["top_slice"] > 0);
    assert_eq!(l.trial_balance, 0);
    // Accepting again is a conflict; a second provider's offer was withdrawn.
    assert!(matches!(
        w.broker.accept(&winner.id, at),
        Err(BrokerError::OfferClosed { .. })
    ));
    let report = w.broker.fill_time_report();
    assert_eq!(report.overall.filled, 1);
    assert_eq!(report.overall.within_90_min, 1);
    w.assert_consistent();
}

/// Stops beyond one per visit (double-handed visits appear on two routes).
fn double_extra(pkg: &Package, b: &Broker) -> usize {
    let offer = b
        .offers
        .values()
        .find(|o| o.package == pkg.id && o.status == OfferStatus::Accepted);
    let Some(o) = offer else { return 0 };
    let rota = &b.rotas[&o.team];
    let stops = rota
        .routes
        .iter()
        .flat_map(|r| r.stops.iter())
        .filter(|s| s.visit.starts_with(&format!("{}/", pkg.id)))
        .count();
    let mut visits: Vec<&str> = rota
        .routes
        .iter()
        .flat_map(|r| r.stops.iter())
        .filter(|s| s.visit.starts_with(&format!("{}/", pkg.id)))
        .map(|s| s.visit.as_str())
        .collect();
    visits.sort_unstable();
    visits.dedup();
    stops - visits.len()
}

#[test]
fn tier1_all_declining_cascades_to_emergency_cover_with_damages_and_pool_debit() {
    let mut w = world(11, BrokerConfig::default());
    let (pkg, user) = w.plain_referral();
    let mut now = t0();
    w.run(|b| b.refer(pkg.clone(), user, now));
    // Every offer is declined, stage after stage, half an hour apart.
    let mut stages_seen = Vec::new();
    for _ in 0..10 {
        let offers = open_offers(&w.broker, &pkg.id);
        if offers.is_empty() {
            break;
        }
        stages_seen.push(offers[0].stage);
        now += Duration::minutes(55);
        for o in offers {
            w.run(|b| b.decline(&o.id, DeclineReason::NoCapacity, None, now));
        }
    }
    let rec = w.broker.packages[&pkg.id].clone();
    assert_eq!(
        rec.status,
        PackageStatus::Filled,
        "emergency cover takes it"
    );
    assert_eq!(rec.filled_tier, Some(Tier::EmergencyCover));
    assert_eq!(stages_seen[0], Tier::Tier1, "Tier 1 has first refusal");
    let order: Vec<Tier> = rec.stages_tried.clone();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted, "stages in tier order: {order:?}");
    assert_eq!(order.last(), Some(&Tier::EmergencyCover));
    // Damages accrue once past 4 hours when ticking, shared by the Tier 1 providers.
    w.run(|b| Ok(b.tick(now)));
    let fill = rec
        .filled_at
        .map(|f| (f - rec.referred_at).num_minutes())
        .unwrap_or(0);
    // Emergency cover is charged day by day as delivered: nothing is owed
    // before a day of care ends, the whole week once it has.
    assert!(
        !w.broker
            .ledger_report()
            .totals_by_kind
            .contains_key("emergency_cover")
    );
    w.run(|b| Ok(b.tick(now + Duration::days(8))));
    let l = w.broker.ledger_report();
    assert!(
        l.totals_by_kind["emergency_cover"] > 0,
        "pool pays emergency cover"
    );
    assert!(
        l.risk_pool_pence < 0,
        "the pool is debited (no fees topped it up yet)"
    );
    if fill >= 240 {
        // Filled late: no damages, because it was filled before the tick; check the report instead.
        assert!(w.broker.fill_time_report().overall.within_240_min == 0);
    }
    w.assert_consistent();
}

#[test]
fn unanswered_offers_expire_and_damages_accrue_for_packages_left_waiting() {
    let mut w = world(11, BrokerConfig::default());
    let (pkg, user) = w.plain_referral();
    let now = t0();
    w.run(|b| b.refer(pkg.clone(), user, now));
    let first = open_offers(&w.broker, &pkg.id);
    assert!(!first.is_empty());
    // Nobody answers; the Tier 1 window ends at 30 minutes.
    let ev = w.run(|b| Ok(b.tick(now + Duration::minutes(29))));
    assert!(
        ev.iter()
            .all(|e| matches!(e, BrokerEvent::OfferExpiring { .. })),
        "nothing expires early (an expiring notice may go out): {ev:?}"
    );
    w.run(|b| Ok(b.tick(now + Duration::minutes(30))));
    for o in &first {
        assert_eq!(w.broker.offers[&o.id].status, OfferStatus::Expired);
        assert!(matches!(
            w.broker.accept(&o.id, now + Duration::minutes(31)),
            Err(BrokerError::OfferClosed { .. })
        ));
    }
    let next = open_offers(&w.broker, &pkg.id);
    assert!(
        next.iter().all(|o| o.stage > Tier::Tier1)
            || w.broker.packages[&pkg.id].status != PackageStatus::Open
    );
    // Keep ticking without answers until 5 hours: it must end with emergency cover or an alert.
    let mut t = now + Duration::minutes(30);
    while t < now + Duration::hours(5) {
        t += Duration::minutes(15);
        w.run(|b| Ok(b.tick(t)));
    }
    let rec = &w.broker.packages[&pkg.id];
    assert!(matches!(
        rec.status,
        PackageStatus::Filled | PackageStatus::Escalated
    ));
    let l = w.broker.ledger_report();
    if rec
        .filled_at
        .is_none_or(|f| f - rec.referred_at >= Duration::minutes(240))
    {
        assert!(rec.damages_accrued);
        let tier1 = w
            .broker
            .roster
            .providers
            .iter()
            .filter(|p| p.tier == Tier::Tier1)
            .count();
        assert_eq!(l.damages_by_provider.len(), tier1);
        assert_eq!(
            l.damages_by_provider.values().sum::<i64>(),
            w.broker.config.damages.amount_pence
        );
    }
    w.assert_consistent();
}

#[test]
fn a_dementia_package_goes_to_specialists_first_and_never_to_unskilled_carers() {
    let mut w = world(11, BrokerConfig::default());
    let (mut pkg, user) = w.plain_referral();
    pkg.id = "ref-dementia".into();
    pkg.required_skills.push("dementia".into());
    let order = w.broker.stage_order(&pkg);
    assert_eq!(order[0], Tier::Specialist);
    let report = w.broker.candidates(&pkg, &user);
    for c in &report.fitting {
        let provider = w
            .broker
            .roster
            .providers
            .iter()
            .find(|p| p.id == c.provider)
            .expect("provider");
        assert!(provider.skills.iter().any(|s| s == "dementia"));
        for carer in &c.fit.carers {
            let cr = w
                .broker
                .roster
                .carers
                .iter()
                .find(|x| &x.id == carer)
                .expect("carer");
            assert!(
                cr.skills.iter().any(|s| s == "dementia"),
                "carer {carer} lacks dementia"
            );
        }
    }
    w.run(|b| b.refer(pkg.clone(), user, t0()));
    let rec = &w.broker.packages[&pkg.id];
    match rec.status {
        PackageStatus::Open => {
            let offers = open_offers(&w.broker, &pkg.id);
            assert!(!offers.is_empty());
            if report.fitting.iter().any(|c| c.tier == Tier::Specialist) {
                assert!(offers.iter().all(|o| o.stage == Tier::Specialist));
            }
        }
        PackageStatus::Escalated => {
            assert!(report.fitting.is_empty());
            assert_eq!(
                w.broker.alerts.last().map(|a| a.code.as_str()),
                Some("no_provider_can_take_package")
            );
        }
        PackageStatus::Filled => assert!(
            report
                .fitting
                .iter()
                .any(|c| c.tier == Tier::EmergencyCover)
        ),
        PackageStatus::Cancelled => unreachable!(),
    }
    w.assert_consistent();
}

#[test]
fn ranked_mode_offers_one_provider_at_a_time_block_before_spot() {
    let config = BrokerConfig {
        offer_mode: OfferMode::Ranked,
        ..BrokerConfig::default()
    };
    let mut w = world(11, config);
    let (pkg, user) = w.plain_referral();
    let report = w.broker.candidates(&pkg, &user);
    // Ranking puts block-contract providers before spot within a stage.
    for stage in [Tier::Tier1, Tier::Tier2, Tier::Tier3] {
        let at = report.at_stage(stage, &Default::default());
        let blocks: Vec<bool> = at.iter().map(|c| c.block).collect();
        let mut sorted = blocks.clone();
        sorted.sort_by_key(|b| !b);
        assert_eq!(blocks, sorted);
    }
    let now = t0();
    w.run(|b| b.refer(pkg.clone(), user, now));
    let mut seen = Vec::new();
    for k in 0..4 {
        let offers = open_offers(&w.broker, &pkg.id);
        if offers.is_empty() {
            break;
        }
        assert_eq!(offers.len(), 1, "one at a time");
        assert!(!seen.contains(&offers[0].provider), "never offered twice");
        seen.push(offers[0].provider.clone());
        w.run(|b| {
            b.decline(
                &offers[0].id,
                DeclineReason::PackageTooSmall,
                Some("note".into()),
                now + Duration::minutes(5 * (k + 1)),
            )
        });
    }
    let rep = w.broker.offers_report();
    assert_eq!(
        rep.overall
            .declines_by_reason
            .get("package_too_small")
            .copied()
            .unwrap_or(0),
        seen.len()
    );
    w.assert_consistent();
}

#[test]
fn a_failed_provider_s_people_are_all_rebrokered_with_nobody_left_without_cover() {
    let mut w = world(12, BrokerConfig::default());
    let failing = w
        .broker
        .roster
        .providers
        .iter()
        .find(|p| p.tier == Tier::Tier1)
        .map(|p| p.id.clone())
        .expect("tier 1");
    let team = w
        .broker
        .roster
        .teams
        .iter()
        .find(|t| t.provider.as_deref() == Some(&failing))
        .map(|t| t.id.clone())
        .expect("team");
    let people: Vec<String> = w
        .broker
        .roster
        .service_users
        .iter()
        .filter(|u| u.team.as_deref() == Some(team.as_str()))
        .map(|u| u.id.clone())
        .collect();
    assert!(!people.is_empty());
    // One carer moves with their people to another Tier 1 provider's team (TUPE).
    let mover = w
        .broker
        .roster
        .carers
        .iter()
        .find(|c| c.team.as_deref() == Some(team.as_str()))
        .map(|c| c.id.clone())
        .expect("carer");
    let to_team = w
        .broker
        .roster
        .teams
        .iter()
        .find(|t| t.provider.as_deref() != Some(failing.as_str()) && t.provider.is_some())
        .map(|t| t.id.clone())
        .expect("other team");
    let now = t0();
    let transfers = vec![CarerTransfer {
        carer: mover.clone(),
        to_team: to_team.clone(),
    }];
    w.run(|b| b.set_provider_status(&failing, FrameworkStatus::Failed, transfers, now));
    assert!(
        w.broker
            .rotas
            .get(&team)
            .is_none_or(|r| r.routes.is_empty()),
        "failed team's rota emptied"
    );
    assert_eq!(
        w.broker
            .roster
            .carers
            .iter()
            .find(|c| c.id == mover)
            .and_then(|c| c.team.clone()),
        Some(to_team)
    );
    // Providers accept every offer 20 minutes later.
    let mut t = now;
    for _ in 0..20 {
        t += Duration::minutes(20);
        let open: Vec<Offer> = w
            .broker
            .offers
            .values()
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
    let released: Vec<&PackageRecord> = w
        .broker
        .packages
        .values()
        .filter(|r| r.previous_provider.as_deref() == Some(failing.as_str()))
        .collect();
    assert!(!released.is_empty());
    for r in &released {
        assert!(
            r.status == PackageStatus::Filled
                || w.broker.alerts.iter().any(|a| a.package == r.package.id),
            "{} neither filled nor escalated",
            r.package.id
        );
        assert_ne!(r.provider.as_deref(), Some(failing.as_str()));
    }
    let filled = released
        .iter()
        .filter(|r| r.status == PackageStatus::Filled)
        .count();
    assert!(
        filled * 10 >= released.len() * 9,
        "{filled} of {} re-placed; statuses {:?}; alerts {:?}",
        released.len(),
        released
            .iter()
            .map(|r| (r.status, r.stages_tried.clone()))
            .collect::<Vec<_>>(),
        &w.broker.alerts[..w.broker.alerts.len().min(2)]
    );
    w.assert_consistent();
}

#[test]
fn year_end_moves_the_unspent_pool_to_the_quality_fund() {
    let mut w = world(11, BrokerConfig::default());
    let (pkg, user) = w.plain_referral();
    w.run(|b| b.refer(pkg.clone(), user, t0()));
    let o = open_offers(&w.broker, &pkg.id)[0].clone();
    w.run(|b| b.accept(&o.id, t0() + Duration::minutes(3)));
    let pool = w.broker.ledger.balance(ledger::RISK_POOL);
    assert!(pool > 0);
    w.run(|b| Ok(b.close_year("2026/27", t0() + Duration::days(120))));
    assert_eq!(w.broker.ledger.balance(ledger::RISK_POOL), 0);
    assert_eq!(w.broker.ledger.balance(ledger::QUALITY_FUND), pool);
    w.assert_consistent();
}

#[test]
fn bad_referrals_are_rejected_with_the_field_named() {
    let w = world(11, BrokerConfig::default());
    let (mut pkg, user) = w.referrals[0].clone();
    pkg.visits[0].duration_min = 0;
    let e = w
        .broker
        .validate_referral(&pkg, &user)
        .expect_err("invalid");
    assert!(
        e.to_string().contains("$.package.visits[0].duration_min"),
        "{e}"
    );
    let (pkg, mut user) = w.referrals[0].clone();
    user.id = "someone-else".into();
    assert!(matches!(
        w.broker.validate_referral(&pkg, &user),
        Err(BrokerError::InvalidFields(ref i)) if i[0].path == "$.package.service_user"
    ));
    let existing = w.broker.roster.packages[0].clone();
    let owner = w
        .broker
        .service_user(&existing.service_user)
        .cloned()
        .expect("owner");
    assert!(matches!(
        w.broker.validate_referral(&existing, &owner),
        Err(BrokerError::DuplicatePackage(_))
    ));
    let _ = Urgency::Routine;
}

#[test]
fn a_carer_off_sick_is_replanned_around_with_other_visits_left_alone() {
    let mut w = world(11, BrokerConfig::default());
    // The busiest carer of the first team with a rota.
    let (team, rota) = w
        .broker
        .rotas
        .iter()
        .find(|(_, r)| !r.routes.is_empty())
        .map(|(t, r)| (t.clone(), r.clone()))
        .expect("a rota");
    let carer = rota.routes[0].carer.clone();
    let day = rota.routes[0].stops[0].start[..10].to_string();
    let absence = crate::format::Absence {
        from: format!("{day}T00:00:00+00:00"),
        to: format!("{day}T23:59:00+00:00"),
        reason: Some("sick".into()),
    };
    let before: Vec<(String, String, String)> = rota
        .routes
        .iter()
        .filter(|r| r.carer != carer)
        .flat_map(|r| {
            r.stops
                .iter()
                .map(move |s| (r.carer.clone(), s.visit.clone(), s.start.clone()))
        })
        .collect();
    let displaced: usize = rota
        .routes
        .iter()
        .filter(|r| r.carer == carer && r.stops.iter().any(|s| s.start.starts_with(&day)))
        .map(|r| r.stops.len())
        .sum();
    assert!(displaced > 0);
    w.run(|b| b.add_absence(&carer, absence.clone(), t0()));
    let after = &w.broker.rotas[&team];
    for r in after.routes.iter().filter(|r| r.carer == carer) {
        assert!(
            r.stops.iter().all(|s| !s.start.starts_with(&day)),
            "carer off sick still visits"
        );
    }
    // Minimum change: every other carer's visit keeps its carer (times may slide in windows).
    let still: std::collections::BTreeSet<(String, String)> = after
        .routes
        .iter()
        .flat_map(|r| {
            r.stops
                .iter()
                .map(move |s| (r.carer.clone(), s.visit.clone()))
        })
        .collect();
    let kept = before
        .iter()
        .filter(|(c, v, _)| still.contains(&(c.clone(), v.clone())))
        .count();
    assert_eq!(kept, before.len(), "another carer lost a visit");
    assert!(
        w.broker
            .roster
            .carers
            .iter()
            .any(|c| c.id == carer && c.absences.contains(&absence))
    );
    assert!(matches!(
        w.broker.add_absence("nobody", absence, t0()),
        Err(BrokerError::UnknownCarer(_))
    ));
    w.assert_consistent();
}
