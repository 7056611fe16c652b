//! Broker under load and bad input (issue 19): candidate searches outside the
//! writer race safely (referrals and applied recommendations), the readers'
//! snapshots follow every commit, bounded requests, solve jobs kept in the store.

use crate::e2e::call;
use crate::support::{PROVIDER, TEAM};
use carefill_api::Role;
use carefill_api::auth::DemoKeys;
use carefill_api::broker_service::{BrokerService, ManualClock};
use carefill_api::store::{self, Baseline};
use carefill_solver::broker::demo::{self, DemoCounty};
use carefill_solver::broker::{Broker, BrokerConfig};
use carefill_solver::check::check;
use carefill_solver::format::{Package, ServiceUser};
use carefill_solver::model::Problem;
use carefill_solver::testing::load_request;
use chrono::{TimeZone, Utc};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::{Arc, Barrier};

fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0)
        .single()
        .expect("t0")
}

/// A demo county whose providers take a fitting package at once, so a
/// referral changes a team's rota in the same command.
fn auto_accepting(seed: u64) -> DemoCounty {
    let mut county = demo::county(&demo::small_profile(), seed, 40).expect("county");
    for p in &mut county.roster.providers {
        p.auto_accept.enabled = true;
        p.auto_accept.max_min_per_week = None;
        p.auto_accept.single_handed_only = false;
    }
    county
}

/// `p` as a new referral for another person at the same address, each
/// visit pattern `k` times.
fn variant(p: &Package, u: &ServiceUser, tag: &str, k: usize) -> (Package, ServiceUser) {
    let (mut p, mut u) = (p.clone(), u.clone());
    p.id = format!("{}-{tag}", p.id);
    u.id = format!("{}-{tag}", u.id);
    p.service_user = u.id.clone();
    u.known_carers.clear();
    u.preferred_carers.clear();
    p.links.clear();
    p.visits = (0..k)
        .flat_map(|i| {
            p.visits.iter().map(move |v| {
                let mut v = v.clone();
                v.id = format!("{}-{i}", v.id);
                v
            })
        })
        .collect();
    (p, u)
}

type Referral = (Package, ServiceUser);

/// Two copies of one package and a team that is first for both on its own
/// but has room for only one of them.
fn last_room() -> (DemoCounty, Referral, Referral, String) {
    let now = t0();
    for seed in [11, 12, 13] {
        let county = auto_accepting(seed);
        let broker = Broker::new(
            BrokerConfig::default(),
            county.roster.clone(),
            county.rotas.clone(),
        )
        .expect("broker");
        for (p, u) in county.referrals.iter().take(40) {
            for k in 1..=4 {
                let a = variant(p, u, "race-a", k);
                let b = variant(p, u, "race-b", k);
                let Some(team) = broker
                    .prepare_referral(&b.0, &b.1, now)
                    .and_then(|s| s.report.fitting.first().map(|c| c.fit.team.clone()))
                else {
                    continue;
                };
                let mut after = broker.clone();
                if after.refer(a.0.clone(), a.1.clone(), now).is_err()
                    || after.packages[&a.0.id].team.as_deref() != Some(team.as_str())
                {
                    continue;
                }
                if after
                    .candidates_at(&b.0, &b.1, now)
                    .fitting
                    .iter()
                    .all(|c| c.fit.team != team)
                {
                    return (county, a, b, team);
                }
            }
        }
    }
    panic!("no team with room for one of two copies of a package");
}

/// Two referrals for a team's last room, submitted concurrently: both
/// searches run on the same snapshot (a barrier holds each until the other
/// has searched), where the team is first for both. One is placed there; at
/// the other's commit the writer re-checks the team, finds it full and the
/// package moves on. The team's rota passes the independent checker.
#[test]
fn concurrent_referrals_for_a_teams_last_room_place_one_and_move_the_other_on() {
    let (county, a, b, team) = last_room();
    let dir = std::env::temp_dir().join(format!(
        "carefill-harden-race-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    let db = dir.join("broker.sqlite3");
    let svc = Arc::new(
        BrokerService::open(
            store::open(&db.to_string_lossy()).expect("store"),
            Box::new(ManualClock::new(t0())),
            || {
                Ok(Baseline {
                    config: BrokerConfig::default(),
                    roster: county.roster.clone(),
                    rotas: county.rotas.clone(),
                })
            },
        )
        .expect("service"),
    );
    let barrier = Arc::new(Barrier::new(2));
    let searched_first = Arc::new(std::sync::Mutex::new(Vec::new()));
    let threads: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .map(|(p, u)| {
            let (svc, barrier, seen) = (svc.clone(), barrier.clone(), searched_first.clone());
            std::thread::spawn(move || {
                let (p2, u2) = (p.clone(), u.clone());
                svc.execute_prepared(
                    "test",
                    "refer",
                    move |b, now| {
                        let s = b.prepare_referral(&p2, &u2, now);
                        if let Some(c) = s.as_ref().and_then(|s| s.report.fitting.first()) {
                            seen.lock().expect("lock").push(c.fit.team.clone());
                        }
                        barrier.wait();
                        s
                    },
                    move |b, now, prepared| b.refer_prepared(p, u, now, false, prepared),
                )
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread").expect("referral");
    }
    assert_eq!(
        *searched_first.lock().expect("lock"),
        vec![team.clone(), team.clone()],
        "both searches chose the team on the same snapshot"
    );
    svc.read(|br, _| {
        let on_team: Vec<&str> = [&a.0.id, &b.0.id]
            .into_iter()
            .filter(|id| br.packages[*id].team.as_deref() == Some(team.as_str()))
            .map(String::as_str)
            .collect();
        assert_eq!(on_team.len(), 1, "exactly one is placed on {team}");
        let other = if on_team[0] == a.0.id {
            &b.0.id
        } else {
            &a.0.id
        };
        assert!(
            br.offers
                .values()
                .all(|o| !(&o.package == other && o.team == team)),
            "the other is neither placed on nor offered to the full team"
        );
        let req = br.team_request(&team).expect("team");
        let problem = Problem::from_request(&req).expect("team problem");
        let report = check(&problem, &br.rotas[&team]);
        assert!(
            report.violations.is_empty(),
            "no over-booking: {:?}",
            &report.violations[..report.violations.len().min(3)]
        );
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every team rota of `b` passes the independent checker.
fn rotas_pass_the_checker(b: &Broker) {
    for team in b.rotas.keys() {
        let req = b.team_request(team).expect("team");
        let problem = Problem::from_request(&req).expect("team problem");
        let report = check(&problem, &b.rotas[team]);
        assert!(
            report.violations.is_empty(),
            "team {team}: {:?}",
            &report.violations[..report.violations.len().min(3)]
        );
    }
}

/// A batch whose searches ran on a snapshot decides exactly as a batch
/// searched in the writer: with nothing committed in between, and after a
/// referral an auto-accepting provider took (its team's rota changed; the
/// writer re-checks that team and every team a re-referred person belongs
/// to), and when the roster changed (everything searched again).
#[test]
fn a_batch_searched_outside_the_writer_decides_as_one_searched_inside() {
    let now = t0();
    let county = auto_accepting(11);
    let base = Broker::new(
        BrokerConfig::default(),
        county.roster.clone(),
        county.rotas.clone(),
    )
    .expect("broker");
    rotas_pass_the_checker(&base);
    let batch: Vec<Referral> = county.referrals.iter().take(9).cloned().collect();
    // One of them a known person's new package (their team's checks change).
    let mut batch = batch;
    let known = county
        .roster
        .service_users
        .iter()
        .find(|u| u.team.is_some())
        .expect("a known person")
        .clone();
    let own_team = known.team.clone();
    let mut again = batch[0].clone();
    again.0.id = format!("{}-again", again.0.id);
    again.0.service_user = known.id.clone();
    again.1 = ServiceUser {
        team: None,
        ..known
    };
    batch.push(again);

    // Nothing in between.
    let mut inside = base.clone();
    let expected = inside.refer_batch(batch.clone(), now).expect("batch");
    let mut outside = base.clone();
    let prepared = base.prepare_batch(&batch, now);
    assert!(
        prepared
            .as_ref()
            .is_some_and(|p| p.reports.len() == batch.len())
    );
    let got = outside
        .refer_batch_prepared(batch.clone(), now, prepared)
        .expect("batch");
    assert_eq!(got, expected);
    assert!(
        expected.iter().any(|e| matches!(
            e,
            carefill_solver::broker::BrokerEvent::OfferAccepted { .. }
        )),
        "the batch changed rotas"
    );
    rotas_pass_the_checker(&outside);
    let again_id = &batch.last().expect("batch").0.id;
    let placed = outside.packages[again_id].team.clone();
    assert!(
        placed.is_none() || placed == own_team,
        "a person's new package stays with their team: {placed:?} vs {own_team:?}"
    );

    // A referral committed between the search and the writer.
    let (p, u) = variant(
        &county.referrals[10].0,
        &county.referrals[10].1,
        "between",
        1,
    );
    let prepared = base.prepare_batch(&batch, now);
    let mut writer = base.clone();
    let between = writer.refer(p, u, now).expect("referral");
    assert!(
        between.iter().any(|e| matches!(
            e,
            carefill_solver::broker::BrokerEvent::OfferAccepted { .. }
        )),
        "the referral in between changed a team's rota"
    );
    let changed: Vec<String> = between
        .iter()
        .filter_map(|e| match e {
            carefill_solver::broker::BrokerEvent::OfferAccepted { offer, .. } => {
                writer.offers.get(offer).map(|o| o.team.clone())
            }
            _ => None,
        })
        .collect();
    assert!(
        prepared
            .as_ref()
            .is_some_and(|p| p.reports.values().any(|r| r
                .fitting
                .iter()
                .chain(&r.not_fitting)
                .any(|c| changed.contains(&c.fit.team)))),
        "the batch's searches had checked the team changed in between"
    );
    let mut inside = writer.clone();
    let expected = inside.refer_batch(batch.clone(), now).expect("batch");
    let got = writer
        .refer_batch_prepared(
            batch.clone(),
            now,
            prepared.map(|mut p| {
                p.since = Some(between.clone());
                p
            }),
        )
        .expect("batch");
    assert_eq!(got, expected);
    rotas_pass_the_checker(&writer);

    // Minutes pass while a long batch searches: teams with a visit starting
    // meanwhile are checked again (their frozen past moved on).
    let later = now + chrono::Duration::minutes(3);
    let prepared = base.prepare_batch(&batch, now);
    let mut inside = base.clone();
    let expected = inside.refer_batch(batch.clone(), later).expect("batch");
    let mut outside = base.clone();
    let got = outside
        .refer_batch_prepared(batch.clone(), later, prepared)
        .expect("batch");
    assert_eq!(got, expected);
    rotas_pass_the_checker(&outside);

    // Events in between that the writer does not know: searched again.
    let prepared = base.prepare_batch(&batch, now);
    let mut writer = base.clone();
    let (p, u) = variant(
        &county.referrals[10].0,
        &county.referrals[10].1,
        "unknown",
        1,
    );
    writer.refer(p, u, now).expect("referral");
    let mut inside = writer.clone();
    let expected = inside.refer_batch(batch.clone(), now).expect("batch");
    let got = writer
        .refer_batch_prepared(batch.clone(), now, prepared)
        .expect("batch");
    assert_eq!(got, expected);
}

/// A provider failure's re-brokering searched on a snapshot (the release
/// applied to a copy) decides as the same failure searched inside the writer:
/// with nothing in between, with a referral committed in between (its team
/// checked again), and when minutes pass; every rota passes the checker.
#[test]
fn a_provider_failure_searched_outside_the_writer_decides_as_one_searched_inside() {
    use carefill_solver::broker::BrokerEvent;
    use carefill_solver::format::FrameworkStatus;
    let now = t0();
    let county = auto_accepting(12);
    let base = Broker::new(
        BrokerConfig::default(),
        county.roster.clone(),
        county.rotas.clone(),
    )
    .expect("broker");
    // The provider whose teams care for the most people.
    let mut people_by_provider = std::collections::BTreeMap::<String, usize>::new();
    for u in &county.roster.service_users {
        let provider = county
            .roster
            .teams
            .iter()
            .find(|t| Some(&t.id) == u.team.as_ref())
            .and_then(|t| t.provider.clone());
        if let Some(p) = provider {
            *people_by_provider.entry(p).or_default() += 1;
        }
    }
    let failing = people_by_provider
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(p, _)| p.clone())
        .expect("a provider caring for people");
    let fail = |b: &mut Broker, at| {
        b.set_provider_status(&failing, FrameworkStatus::Failed, Vec::new(), at)
            .expect("failure")
    };

    // Nothing in between.
    let expected = fail(&mut base.clone(), now);
    let prepared = base.prepare_provider_status(&failing, FrameworkStatus::Failed, &[], now);
    let reports = prepared.as_ref().map_or(0, |p| p.batch.reports.len());
    let released = expected
        .iter()
        .filter(|e| matches!(e, BrokerEvent::PackageReleased { .. }))
        .count();
    assert!(
        released > 0 && reports == released,
        "every released package searched on the snapshot: {reports} of {released}"
    );
    assert!(
        expected
            .iter()
            .any(|e| matches!(e, BrokerEvent::OfferAccepted { .. })),
        "the re-brokering placed packages"
    );
    let mut outside = base.clone();
    let got = outside
        .set_provider_status_prepared(&failing, FrameworkStatus::Failed, Vec::new(), now, prepared)
        .expect("failure");
    assert_eq!(got, expected);
    rotas_pass_the_checker(&outside);
    // The writer used those searches (it did not search again): with every
    // team's fit erased from them, the batch allocation offers nothing and
    // each package goes through the cascade instead.
    let mut erased = base
        .prepare_provider_status(&failing, FrameworkStatus::Failed, &[], now)
        .expect("prepared");
    for r in erased.batch.reports.values_mut() {
        r.not_fitting.append(&mut r.fitting);
    }
    let blind = base
        .clone()
        .set_provider_status_prepared(
            &failing,
            FrameworkStatus::Failed,
            Vec::new(),
            now,
            Some(erased),
        )
        .expect("failure");
    assert_ne!(
        blind, expected,
        "searches prepared on the snapshot decide the allocation"
    );

    // A referral committed between the search and the writer, placed on a
    // team the searches had checked.
    let prepared = base.prepare_provider_status(&failing, FrameworkStatus::Failed, &[], now);
    let mut writer = base.clone();
    let (p, u) = variant(&county.referrals[3].0, &county.referrals[3].1, "between", 1);
    let between = writer.refer(p, u, now).expect("referral");
    assert!(
        between
            .iter()
            .any(|e| matches!(e, BrokerEvent::OfferAccepted { .. })),
        "the referral in between changed a team's rota"
    );
    let expected = fail(&mut writer.clone(), now);
    let got = writer
        .set_provider_status_prepared(
            &failing,
            FrameworkStatus::Failed,
            Vec::new(),
            now,
            prepared.map(|mut p| {
                p.batch.since = Some(between.clone());
                p
            }),
        )
        .expect("failure");
    assert_eq!(got, expected);
    rotas_pass_the_checker(&writer);

    // Minutes pass while the searches run.
    let later = now + chrono::Duration::minutes(3);
    let prepared = base.prepare_provider_status(&failing, FrameworkStatus::Failed, &[], now);
    let expected = fail(&mut base.clone(), later);
    let mut outside = base.clone();
    let got = outside
        .set_provider_status_prepared(
            &failing,
            FrameworkStatus::Failed,
            Vec::new(),
            later,
            prepared,
        )
        .expect("failure");
    assert_eq!(got, expected);
    rotas_pass_the_checker(&outside);

    // A suspension releases nothing: there is nothing to prepare.
    assert!(
        base.prepare_provider_status(&failing, FrameworkStatus::Suspended, &[], now)
            .is_none()
    );
}

/// A service on a fresh SQLite file over `county`.
fn service_over(county: &DemoCounty, name: &str) -> (Arc<BrokerService>, std::path::PathBuf) {
    let db = temp_db(name);
    let (roster, rotas) = (county.roster.clone(), county.rotas.clone());
    let svc = BrokerService::open(
        store::open(&db.to_string_lossy()).expect("store"),
        Box::new(ManualClock::new(t0())),
        move || {
            Ok(Baseline {
                config: BrokerConfig::default(),
                roster,
                rotas,
            })
        },
    )
    .expect("service");
    (Arc::new(svc), db)
}

/// An applied recommendation and a referral race for a team's last room,
/// submitted concurrently: both search on one snapshot, where the team fits
/// both. Whichever commits second is re-checked against the first's rota:
/// exactly one package ends on the team, a refused recommendation leaves no
/// trace (409 `no_longer_fits`), and the team's rota passes the checker.
#[test]
fn an_applied_recommendation_racing_a_referral_for_the_last_room_never_overbooks() {
    let (county, a, b, team) = last_room();
    let (svc, db) = service_over(&county, "apply-race");
    let provider = county
        .roster
        .teams
        .iter()
        .find(|t| t.id == team)
        .and_then(|t| t.provider.clone())
        .expect("the team's provider");
    let barrier = Arc::new(Barrier::new(2));
    let referral = {
        let (svc, barrier, (p, u)) = (svc.clone(), barrier.clone(), a.clone());
        std::thread::spawn(move || {
            let (p2, u2) = (p.clone(), u.clone());
            svc.execute_prepared(
                "test",
                "refer",
                move |b, now| {
                    let s = b.prepare_referral(&p2, &u2, now);
                    barrier.wait();
                    s
                },
                move |b, now, prepared| b.refer_prepared(p, u, now, false, prepared),
            )
        })
    };
    let applied = {
        let (svc, barrier, (p, u)) = (svc.clone(), barrier.clone(), b.clone());
        let (team, provider) = (team.clone(), provider.clone());
        std::thread::spawn(move || {
            let (p2, u2, t2) = (p.clone(), u.clone(), team.clone());
            svc.execute_prepared(
                "test",
                "apply_recommendation",
                move |b, now| {
                    let s = b.prepare_direct(&p2, &u2, &t2, now);
                    let fits = s
                        .as_ref()
                        .is_some_and(|s| s.report.fitting.iter().any(|c| c.fit.team == t2));
                    barrier.wait();
                    assert!(fits, "on the snapshot the team fits the recommendation");
                    s
                },
                move |b, now, prepared| {
                    let why = carefill_solver::broker::OverrideRequest {
                        reason: Some(carefill_solver::broker::OverrideReason::PersonChoice),
                        ..Default::default()
                    };
                    b.refer_to_prepared(p, u, &provider, &team, &why, now, prepared)
                },
            )
        })
    };
    referral
        .join()
        .expect("thread")
        .expect("the referral is taken");
    let applied = applied.join().expect("thread");
    svc.read(|br, _| {
        let on_team = [&a.0.id, &b.0.id]
            .into_iter()
            .filter(|id| {
                br.packages.get(*id).and_then(|r| r.team.as_deref()) == Some(team.as_str())
            })
            .count();
        assert_eq!(on_team, 1, "exactly one is placed on {team}");
        match &applied {
            Ok(_) => assert_eq!(br.packages[&b.0.id].team.as_deref(), Some(team.as_str())),
            Err(e) => {
                assert!(
                    matches!(
                        e,
                        carefill_api::broker_service::ServiceError::Broker(
                            carefill_solver::broker::BrokerError::NoLongerFits { .. }
                        )
                    ),
                    "{e}"
                );
                assert!(!br.packages.contains_key(&b.0.id), "no trace of it");
            }
        }
        let req = br.team_request(&team).expect("team");
        let problem = Problem::from_request(&req).expect("team problem");
        let report = check(&problem, &br.rotas[&team]);
        assert!(
            report.violations.is_empty(),
            "no over-booking: {:?}",
            &report.violations[..report.violations.len().min(3)]
        );
    });
    let _ = std::fs::remove_dir_all(db.parent().expect("dir"));
}

/// The readers' snapshot is prepared beside the one reads hold: a read that
/// holds a snapshot across commands keeps seeing its own state, later reads
/// see each commit, and the snapshots built by applying events (or copied
/// when a read held the previous one) equal the state stored in the database.
#[test]
fn snapshots_follow_every_commit_and_match_the_stored_state() {
    let county = demo::county(&demo::small_profile(), 11, 40).expect("county");
    let (svc, db) = service_over(&county, "snapshots");
    let refer = |i: usize| {
        let (p, u) = county.referrals[i].clone();
        let (p2, u2) = (p.clone(), u.clone());
        svc.execute_prepared(
            "test",
            "refer",
            move |b, now| b.prepare_referral(&p2, &u2, now),
            move |b, now, prepared| b.refer_prepared(p, u, now, false, prepared),
        )
        .expect("referral");
    };
    // The small county has 12 waiting referrals: 0-5, and 7 and 10 held across.
    for i in 0..6 {
        if i % 3 == 1 {
            // Held across two commits: the second publication finds the
            // previous snapshot still read and copies the writer instead.
            svc.read(|held, _| {
                let seen = (held.events_applied, held.packages.len());
                refer(i);
                refer(i + 6);
                assert_eq!((held.events_applied, held.packages.len()), seen);
            });
        } else {
            refer(i);
        }
        let (applied, n) = svc.read(|b, _| (b.events_applied, b.packages.len()));
        assert!(n > 0 && applied > 0);
        let stored = {
            let mut st = store::open(&db.to_string_lossy()).expect("store");
            let loaded = st.load().expect("load").expect("initialised");
            store::rebuild(&loaded).expect("rebuild")
        };
        svc.read(|b, _| {
            assert_eq!(
                b.events_applied, stored.events_applied,
                "after referral {i}"
            );
            assert_eq!(b.packages, stored.packages);
            assert_eq!(b.offers, stored.offers);
            assert_eq!(b.ledger, stored.ledger);
            assert_eq!(b.rotas, stored.rotas);
            assert_eq!(b.roster, stored.roster);
        });
    }
    let _ = std::fs::remove_dir_all(db.parent().expect("dir"));
}

fn temp_db(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "carefill-harden-{name}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    dir.join("broker.sqlite3")
}

/// `carefill serve` on a SQLite file (the small demo county), as a process
/// restarted on the same file would be.
async fn serve(db: &std::path::Path, keys: &DemoKeys) -> SocketAddr {
    let svc = Arc::new(
        BrokerService::open(
            store::open(&db.to_string_lossy()).expect("store"),
            Box::new(ManualClock::new(t0())),
            || {
                let c = demo::county(&demo::small_profile(), 11, 40).map_err(|e| e.to_string())?;
                Ok(Baseline {
                    config: BrokerConfig::default(),
                    roster: c.roster,
                    rotas: c.rotas,
                })
            },
        )
        .expect("service"),
    );
    crate::support::serve_broker(keys, svc).await
}

/// A batch over the cap is 422 at `$.referrals`; a package over the visit cap
/// is 422 at its visits, in a referral and in a batch.
#[tokio::test]
async fn requests_over_the_caps_are_422_naming_the_path() {
    let keys = DemoKeys::generate(PROVIDER, TEAM).expect("keys");
    let addr = serve(&temp_db("caps"), &keys).await;
    let key = keys.key(Role::Broker);
    let county = demo::county(&demo::small_profile(), 11, 40).expect("county");
    let (p, u) = &county.referrals[0];
    let first = json!({"package": p, "service_user": u});
    let many: Vec<_> = (0..1001).map(|_| first.clone()).collect();
    let r = call(
        addr,
        key,
        "POST",
        "/v1/referrals/batch",
        Some(&json!({"referrals": many})),
    )
    .await;
    assert_eq!(r.status, 422, "{:?}", r.json());
    assert_eq!(r.json()["code"], "invalid_request");
    assert_eq!(r.json()["issues"][0]["path"], "$.referrals");
    let r = call(
        addr,
        key,
        "POST",
        "/v1/referrals/batch",
        Some(&json!({"referrals": []})),
    )
    .await;
    assert_eq!(r.status, 422, "{:?}", r.json());
    // Thirteen visits a day.
    let mut heavy = first.clone();
    heavy["package"]["id"] = json!("heavy-1");
    let pattern = heavy["package"]["visits"][0].clone();
    heavy["package"]["visits"] = json!(
        (0..13)
            .map(|i| {
                let mut v = pattern.clone();
                v["id"] = json!(format!("v{i}"));
                v["days"] = json!(["daily"]);
                v["time"] = json!({"window": {"start": "07:00", "end": "21:00"}});
                v["duration_min"] = json!(15);
                v["carers_required"] = json!(1);
                v
            })
            .collect::<Vec<_>>()
    );
    heavy["package"]["links"] = json!([]);
    let r = call(addr, key, "POST", "/v1/referrals", Some(&heavy)).await;
    assert_eq!(r.status, 422, "{:?}", r.json());
    assert_eq!(r.json()["code"], "invalid_request");
    let paths: Vec<String> = r.json()["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .map(|i| i["path"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(paths.contains(&"$.package.visits".to_string()), "{paths:?}");
    let r = call(
        addr,
        key,
        "POST",
        "/v1/referrals/batch",
        Some(&json!({"referrals": [first, heavy]})),
    )
    .await;
    assert_eq!(r.status, 422, "{:?}", r.json());
    assert_eq!(
        r.json()["issues"][0]["path"],
        "$.referrals[1].package.visits"
    );
}

/// A finished solve job and its rota outlive a restart on the same
/// database (the running-job case, marked `interrupted`, is in `jobs.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_solve_job_and_its_rota_outlive_a_restart() {
    let keys = DemoKeys::generate(PROVIDER, TEAM).expect("keys");
    let db = temp_db("jobs");
    let key = keys.key(Role::Planner);
    let request = serde_json::to_value(load_request("small_team.json")).expect("request");
    let addr = serve(&db, &keys).await;
    let r = call(
        addr,
        key,
        "POST",
        "/v1/rota/jobs?time_limit_s=1&seed=3",
        Some(&request),
    )
    .await;
    assert_eq!(r.status, 202, "{:?}", r.json());
    let id = r.json()["id"].as_str().expect("id").to_string();
    let status = format!("/v1/rota/jobs/{id}");
    let mut state = String::new();
    for _ in 0..600 {
        state = call(addr, key, "GET", &status, None).await.json()["state"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if state == "succeeded" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(state, "succeeded");
    let before = call(addr, key, "GET", &format!("{status}/result"), None).await;
    assert_eq!(before.status, 200);

    // A new process on the same file.
    let addr = serve(&db, &keys).await;
    let r = call(addr, key, "GET", &status, None).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(r.json()["state"], "succeeded");
    assert_eq!(r.json()["seed"], 3);
    let after = call(addr, key, "GET", &format!("{status}/result"), None).await;
    assert_eq!(after.status, 200);
    assert_eq!(after.json(), before.json(), "the same rota");
    let rota: carefill_solver::format::Rota = serde_json::from_value(after.json()).expect("rota");
    let problem = Problem::from_request(&load_request("small_team.json")).expect("problem");
    assert!(check(&problem, &rota).violations.is_empty());
    // Another key still gets 404.
    let other = call(addr, keys.key(Role::Integrator), "GET", &status, None).await;
    assert_eq!(other.status, 404);
}
