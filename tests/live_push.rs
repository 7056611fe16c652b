//! Live operations, push side: the policy changed at run time (validated,
//! versioned, replayed, recorded on each package), signed webhooks retried
//! after a 500, and the delivery loop (check-in / check-out, a missed
//! check-in raising late then missed alerts on the manual clock, scopes).
//! Every call goes through the contract-checked routes.

use crate::support::{
    self, SharedClock, assert_rotas_pass_the_checker, open_broker, referral_for_tier1,
    small_county, t0, temp_db,
};
use bytes::Bytes;
use carefill_api::auth::DemoKeys;
use carefill_api::broker_service::{BrokerService, Clock, ManualClock};
use carefill_api::{AppState, Role};
use carefill_solver::format::Tier;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::{Arc, Mutex};
use warp::Filter;
use warp::http::HeaderMap;

/// The broker behind keys scoped to one provider and team, on a manual clock.
struct Env {
    svc: Arc<BrokerService>,
    clock: Arc<ManualClock>,
    state: AppState,
    keys: DemoKeys,
}

fn open(db: &Path, clock: &Arc<ManualClock>) -> Arc<BrokerService> {
    open_broker(db, small_county(), Box::new(SharedClock(clock.clone())))
}

fn env_on(svc: Arc<BrokerService>, clock: Arc<ManualClock>, provider: &str, team: &str) -> Env {
    let keys = DemoKeys::generate(provider, team).expect("keys");
    let state = AppState::builder(keys.store().expect("key store"))
        .broker(Some(svc.clone()))
        .build()
        .expect("state");
    Env {
        svc,
        clock,
        state,
        keys,
    }
}

fn start(db: &Path, provider: &str, team: &str, at: DateTime<Utc>) -> Env {
    let clock = Arc::new(ManualClock::new(at));
    env_on(open(db, &clock), clock, provider, team)
}

impl Env {
    async fn call(
        &self,
        method: &str,
        path: &str,
        role: Role,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut req = warp::test::request()
            .method(method)
            .path(path)
            .header("authorization", support::bearer(&self.keys, role));
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(serde_json::to_vec(b).expect("json"));
        }
        let resp = req.reply(&support::routes(self.state.clone())).await;
        let v = serde_json::from_slice(resp.body()).unwrap_or(Value::Null);
        (resp.status().as_u16(), v)
    }

    fn tick(&self) {
        self.svc
            .execute("system", "tick", |b, now| Ok(b.tick(now)))
            .expect("tick");
    }
}
/// Refers the package and has `provider` accept its offer; the package id.
async fn refer_and_accept(e: &Env, body: &Value, provider: &str) -> String {
    let id = body["package"]["id"].as_str().expect("id").to_string();
    let (s, v) = e
        .call("POST", "/v1/referrals", Role::Integrator, Some(body))
        .await;
    assert_eq!(s, 201, "{v}");
    let (_, view) = e
        .call("GET", &format!("/v1/packages/{id}"), Role::Broker, None)
        .await;
    let offer = view["offers"]
        .as_array()
        .expect("offers")
        .iter()
        .find(|o| o["provider"] == provider && o["status"] == "open")
        .expect("an open offer to the provider")["id"]
        .as_str()
        .expect("offer id")
        .to_string();
    let (s, v) = e
        .call(
            "POST",
            &format!("/v1/offers/{offer}/accept"),
            Role::Provider,
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_rotas_pass_the_checker(&e.svc);
    id
}

fn enc(visit: &str) -> String {
    visit.replace('/', "%2F")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_is_validated_versioned_replayed_and_recorded_on_packages() {
    let db = temp_db("push-policy");
    let (body, provider, team) = referral_for_tier1(small_county());
    let e = start(&db, &provider, &team, t0());

    let (s, v) = e.call("GET", "/v1/policy", Role::Broker, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["version"], 1);
    assert_eq!(v["changed_by"], "baseline");
    let mut policy = v["policy"].clone();
    assert_eq!(policy["delivery"]["late_after_min"], 30);

    // Only admins change it.
    assert_eq!(
        e.call("PUT", "/v1/policy", Role::Broker, Some(&policy))
            .await
            .0,
        403
    );

    // Every bad field is named, all at once; nothing changes.
    let mut bad = policy.clone();
    bad["top_slice_bp"] = json!(20_000);
    bad["escalation_retry_backoff_max_min"] = json!(10);
    bad["windows"]["tier1_min"] = json!(0);
    bad["delivery"]["missed_after_min"] = json!(10);
    let (s, v) = e.call("PUT", "/v1/policy", Role::Admin, Some(&bad)).await;
    assert_eq!(s, 422, "{v}");
    let paths: Vec<&str> = v["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .filter_map(|i| i["path"].as_str())
        .collect();
    assert_eq!(
        paths,
        [
            "$.top_slice_bp",
            "$.escalation_retry_backoff_max_min",
            "$.windows.tier1_min",
            "$.delivery.missed_after_min"
        ]
    );
    let mut unknown = policy.clone();
    unknown["windows"]["tier9_min"] = json!(5);
    let (s, v) = e
        .call("PUT", "/v1/policy", Role::Admin, Some(&unknown))
        .await;
    assert_eq!((s, v["code"].as_str()), (400, Some("malformed_json")));
    assert_eq!(
        e.call("GET", "/v1/policy", Role::Admin, None).await.1["version"],
        1
    );

    // A valid change is version 2, by the admin key, and takes effect.
    policy["windows"]["tier1_min"] = json!(45);
    let (s, v) = e
        .call(
            "PUT",
            "/v1/policy?expected_version=1",
            Role::Admin,
            Some(&policy),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["version"], 2);
    assert_ne!(v["changed_by"], "baseline");
    assert_eq!(v["changed_at"], json!(t0()));
    // A change based on an old version is refused.
    policy["windows"]["tier2_min"] = json!(50);
    let (s, v) = e
        .call(
            "PUT",
            "/v1/policy?expected_version=1",
            Role::Admin,
            Some(&policy),
        )
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (409, Some("policy_version_mismatch"))
    );
    let (_, h) = e
        .call("GET", "/v1/policy/history", Role::Broker, None)
        .await;
    assert_eq!(h["current"], 2);
    let versions = h["versions"].as_array().expect("versions");
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["policy"]["windows"]["tier1_min"], 30);
    assert_eq!(versions[1]["policy"]["windows"]["tier1_min"], 45);

    // A package referred now is brokered under version 2, with 45-minute offers.
    let id = body["package"]["id"].as_str().expect("id").to_string();
    let (s, _) = e
        .call("POST", "/v1/referrals", Role::Integrator, Some(&body))
        .await;
    assert_eq!(s, 201);
    let (_, view) = e
        .call("GET", &format!("/v1/packages/{id}"), Role::Broker, None)
        .await;
    assert_eq!(view["record"]["policy_version"], 2);
    let offer = &view["offers"][0];
    let made: DateTime<Utc> = serde_json::from_value(offer["made_at"].clone()).expect("made");
    let expires: DateTime<Utc> =
        serde_json::from_value(offer["expires_at"].clone()).expect("expires");
    assert_eq!(expires - made, Duration::minutes(45));

    // The policy and the package's version survive a restart (replayed from the audit log).
    drop(e);
    let clock = Arc::new(ManualClock::new(t0()));
    let svc = open(&db, &clock);
    svc.read(|b, _| {
        assert_eq!(b.policy_version(), 2);
        assert_eq!(b.config.windows.tier1_min, 45);
        assert_eq!(b.packages[&id].policy_version, 2);
    });
}

/// A webhook receiver on 127.0.0.1: answers 500 to its first request, 200 after.
async fn receiver() -> (String, Arc<Mutex<Vec<(HeaderMap, Bytes)>>>) {
    let got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
    let g = got.clone();
    let route = warp::post()
        .and(warp::path("hook"))
        .and(warp::header::headers_cloned())
        .and(warp::body::bytes())
        .map(move |h: HeaderMap, b: Bytes| {
            let mut all = g.lock().expect("lock");
            all.push((h, b));
            let status = if all.len() == 1 { 500 } else { 200 };
            warp::reply::with_status(
                "",
                warp::http::StatusCode::from_u16(status).expect("status"),
            )
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(
        warp::serve(route)
            .incoming(listener)
            .graceful(std::future::pending::<()>())
            .run(),
    );
    (format!("http://{addr}/hook"), got)
}

async fn deliveries(e: &Env, hook: &str) -> Value {
    let path = format!("/v1/webhooks/{hook}/deliveries");
    e.call("GET", &path, Role::Admin, None).await.1
}

/// Waits (real time, at most 20 s) until `f` holds.
async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

fn verify(secret: &str, headers: &HeaderMap, body: &[u8]) -> i64 {
    let sig = headers
        .get("carefill-signature")
        .and_then(|v| v.to_str().ok())
        .expect("signature header");
    let (t, v1) = sig
        .split_once(',')
        .map(|(t, v)| (t.trim_start_matches("t="), v.trim_start_matches("v1=")))
        .expect("t=...,v1=...");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let want: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(v1, want, "the signature verifies");
    t.parse().expect("unix seconds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_signed_scoped_and_retried_after_a_500() {
    let db = temp_db("push-hooks");
    let (body, provider, team) = referral_for_tier1(small_county());
    let e = start(&db, &provider, &team, t0());
    let (url, got) = receiver().await;
    let secret = "a-long-shared-secret-0123456789";

    // Validation names every bad field; only admins subscribe.
    let bad = json!({"url": "ftp://x", "secret": "short", "kinds": ["offer_made", "nonsense"], "provider": "nobody"});
    let (s, v) = e
        .call("POST", "/v1/webhooks", Role::Admin, Some(&bad))
        .await;
    assert_eq!(s, 422, "{v}");
    let paths: Vec<&str> = v["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .filter_map(|i| i["path"].as_str())
        .collect();
    assert_eq!(paths, ["$.url", "$.secret", "$.kinds[1]", "$.provider"]);
    let sub = json!({"url": url, "secret": secret, "kinds": ["offer_made", "package_filled"], "provider": provider});
    assert_eq!(
        e.call("POST", "/v1/webhooks", Role::Broker, Some(&sub))
            .await
            .0,
        403
    );
    let (s, hook) = e
        .call("POST", "/v1/webhooks", Role::Admin, Some(&sub))
        .await;
    assert_eq!(s, 201, "{hook}");
    assert!(hook.get("secret").is_none(), "the secret is not shown");
    let hook_id = hook["id"].as_str().expect("id").to_string();
    // Another provider's subscription gets none of this provider's offers.
    let other = small_county()
        .roster
        .providers
        .iter()
        .find(|p| p.id != provider && p.tier != Tier::EmergencyCover)
        .expect("another provider")
        .id
        .clone();
    let (url2, got2) = receiver().await;
    let sub2 =
        json!({"url": url2, "secret": secret, "kinds": ["package_filled"], "provider": other});
    assert_eq!(
        e.call("POST", "/v1/webhooks", Role::Admin, Some(&sub2))
            .await
            .0,
        201
    );

    // Referral: the offer to this provider is pushed; the receiver answers 500.
    let id = body["package"]["id"].as_str().expect("id").to_string();
    let (s, _) = e
        .call("POST", "/v1/referrals", Role::Integrator, Some(&body))
        .await;
    assert_eq!(s, 201);
    eventually("the first attempt", || got.lock().expect("lock").len() == 1).await;
    let mut log = Value::Null;
    for _ in 0..100 {
        log = deliveries(&e, &hook_id).await;
        if log["deliveries"][0]["attempts"] == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let d = &log["deliveries"][0];
    assert_eq!(d["kind"], "offer_made");
    assert_eq!(d["status"], "pending");
    assert_eq!(d["last_status"], 500);
    assert_eq!(d["last_error"], "HTTP 500");
    assert_eq!(d["next_attempt_at"], json!(t0() + Duration::seconds(30)));

    // Nothing is retried before the backoff delay; after it, the retry is delivered.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(got.lock().expect("lock").len(), 1);
    e.clock.advance(Duration::seconds(31));
    eventually("the retry", || got.lock().expect("lock").len() == 2).await;
    let (first, second) = {
        let all = got.lock().expect("lock");
        (all[0].clone(), all[1].clone())
    };
    let t1 = verify(secret, &first.0, &first.1);
    let t2 = verify(secret, &second.0, &second.1);
    assert_eq!((t1, t2), (t0().timestamp(), t0().timestamp() + 31));
    assert_eq!(first.1, second.1, "the same body every attempt");
    let payload: Value = serde_json::from_slice(&second.1).expect("json body");
    assert_eq!(payload["kind"], "offer_made");
    assert_eq!(payload["data"]["package"], id.as_str());
    assert_eq!(payload["data"]["provider"], provider.as_str());
    assert!(
        payload["data"].get("service_user").is_none(),
        "ids only, never the person"
    );
    assert_eq!(
        second
            .0
            .get("carefill-delivery")
            .and_then(|v| v.to_str().ok()),
        payload["id"].as_str()
    );
    let mut log = Value::Null;
    for _ in 0..100 {
        log = deliveries(&e, &hook_id).await;
        if log["deliveries"][0]["status"] == "delivered" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(log["deliveries"][0]["status"], "delivered", "{log}");
    assert_eq!(log["deliveries"][0]["attempts"], 2);

    // Acceptance: package_filled reaches this provider's receiver only.
    let (_, view) = e
        .call("GET", &format!("/v1/packages/{id}"), Role::Broker, None)
        .await;
    let offer = view["offers"]
        .as_array()
        .expect("offers")
        .iter()
        .find(|o| o["provider"] == provider.as_str())
        .expect("offer")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let (s, _) = e
        .call(
            "POST",
            &format!("/v1/offers/{offer}/accept"),
            Role::Provider,
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_rotas_pass_the_checker(&e.svc);
    eventually("package_filled", || {
        got.lock().expect("lock").iter().any(|(_, b)| {
            serde_json::from_slice::<Value>(b).is_ok_and(|v| v["kind"] == "package_filled")
        })
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert!(got2.lock().expect("lock").is_empty());

    // The delivery log and subscriptions survive a restart.
    drop(e);
    let clock = Arc::new(ManualClock::new(t0()));
    let svc = open(&db, &clock);
    let e2 = env_on(svc, clock, &provider, &team);
    let log = deliveries(&e2, &hook_id).await;
    assert!(
        log["deliveries"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x["kind"] == "package_filled"))
    );
    let (s, _) = e2
        .call(
            "DELETE",
            &format!("/v1/webhooks/{hook_id}"),
            Role::Admin,
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        e2.call("GET", &format!("/v1/webhooks/{hook_id}"), Role::Admin, None)
            .await
            .0,
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_in_out_round_trip_and_a_missed_check_in_raises_alerts() {
    let db = temp_db("push-visits");
    let (body, provider, team) = referral_for_tier1(small_county());
    let e = start(&db, &provider, &team, t0());
    let id = refer_and_accept(&e, &body, &provider).await;

    // The package's first visit after now, and a later visit of the same team.
    let (first, later) = e.svc.read(|b, now| {
        let mut visits: Vec<(DateTime<Utc>, String)> = b.rotas[&team]
            .routes
            .iter()
            .flat_map(|r| &r.stops)
            .filter_map(|s| {
                let start = DateTime::parse_from_rfc3339(&s.start)
                    .ok()?
                    .with_timezone(&Utc);
                (start > now + Duration::minutes(10)).then(|| (start, s.visit.clone()))
            })
            .collect();
        visits.sort();
        let first = visits
            .iter()
            .find(|(_, v)| v.starts_with(&format!("{id}/")))
            .expect("a visit of the package")
            .clone();
        let later = visits
            .iter()
            .find(|(t, _)| *t >= first.0 + Duration::hours(3))
            .expect("a later visit of the team")
            .clone();
        (first, later)
    });
    let now = e.clock.now();
    e.clock.advance(first.0 - now + Duration::minutes(2));
    let at = first.0 + Duration::minutes(2);
    let path = |v: &str, what: &str| format!("/v1/visits/{}/{what}", enc(v));

    // Scope: another provider's key and another team's planner see no such visit.
    let other = small_county()
        .roster
        .teams
        .iter()
        .find(|t| t.provider.as_deref() != Some(provider.as_str()))
        .expect("another provider's team");
    let stranger = env_on(
        e.svc.clone(),
        e.clock.clone(),
        other.provider.as_deref().expect("provider"),
        &other.id,
    );
    for role in [Role::Provider, Role::Planner] {
        let (s, v) = stranger
            .call("POST", &path(&first.1, "check-in"), role, Some(&json!({})))
            .await;
        assert_eq!(s, 404, "{role}: {v}");
    }
    assert_eq!(
        e.call(
            "POST",
            &path(&first.1, "check-in"),
            Role::Broker,
            Some(&json!({}))
        )
        .await
        .0,
        403
    );

    // Bad input names each field.
    let (s, v) = e
        .call(
            "POST",
            &path(&first.1, "check-in"),
            Role::Provider,
            Some(&json!({"time": (at + Duration::hours(1)).to_rfc3339(), "location": {"lat": 91.0, "lon": 0.0}})),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    let paths: Vec<&str> = v["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .filter_map(|i| i["path"].as_str())
        .collect();
    assert_eq!(paths, ["$.time", "$.location.lat"]);
    assert_eq!(
        e.call(
            "POST",
            &path(&first.1, "check-out"),
            Role::Provider,
            Some(&json!({}))
        )
        .await
        .1["code"],
        "not_checked_in"
    );
    assert_eq!(
        e.call(
            "POST",
            &path("nope/x@2026-11-30", "check-in"),
            Role::Provider,
            Some(&json!({}))
        )
        .await
        .0,
        404
    );

    // Check in (time defaults to now) at the person's door, then out.
    let home = e.svc.read(|b, _| {
        let u = &b.packages[&id].package.service_user;
        b.service_user(u).expect("person").location
    });
    let (s, v) = e
        .call(
            "POST",
            &path(&first.1, "check-in"),
            Role::Planner,
            Some(&json!({"location": {"lat": home.lat, "lon": home.lon}})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "checked_in");
    assert_eq!(v["late_min"], 2);
    assert_eq!(v["check_in"]["distance_m"], 0);
    assert_eq!(
        e.call(
            "POST",
            &path(&first.1, "check-in"),
            Role::Provider,
            Some(&json!({}))
        )
        .await
        .1["code"],
        "already_checked_in"
    );
    let (s, v) = e
        .call(
            "POST",
            &path(&first.1, "check-out"),
            Role::Integrator,
            Some(&json!({"time": (at - Duration::minutes(1)).to_rfc3339()})),
        )
        .await;
    assert_eq!((s, v["issues"][0]["path"].as_str()), (422, Some("$.time")));
    e.clock.advance(Duration::minutes(25));
    let (s, v) = e
        .call(
            "POST",
            &path(&first.1, "check-out"),
            Role::Integrator,
            Some(&json!({"time": (at + Duration::minutes(24)).to_rfc3339()})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "completed");
    assert_eq!(v["duration_min"], 24);

    // Time to first delivered visit: referral (t0) to this check-in.
    let (_, rep) = e
        .call("GET", "/v1/reports/fill-times", Role::Broker, None)
        .await;
    assert_eq!(rep["first_delivery"]["delivered"], 1);
    assert_eq!(
        rep["first_delivery"]["median_min"],
        json!((at - t0()).num_seconds() as f64 / 60.0)
    );

    // The team now uses check-in: a later visit not checked in raises a late
    // alert after 30 minutes, then a missed one after 120.
    let alerts_for = |e: &Env, code: &str| {
        let (v, code) = (later.1.clone(), code.to_string());
        e.svc.read(move |b, _| {
            b.alerts
                .iter()
                .filter(|a| a.code == code && a.message.contains(&v))
                .count()
        })
    };
    let now = e.clock.now();
    e.clock.advance(later.0 + Duration::minutes(29) - now);
    e.tick();
    assert_eq!(alerts_for(&e, "visit_late"), 0, "not late yet");
    e.clock.advance(Duration::minutes(2));
    e.tick();
    e.tick();
    assert_eq!(alerts_for(&e, "visit_late"), 1, "late once");
    assert_eq!(alerts_for(&e, "visit_missed"), 0);
    let (_, v) = e
        .call(
            "GET",
            &format!("/v1/visits/{}", enc(&later.1)),
            Role::Planner,
            None,
        )
        .await;
    assert_eq!(
        (v["late_alerted"].as_bool(), v["status"].as_str()),
        (Some(true), Some("planned"))
    );
    e.clock.advance(Duration::minutes(90));
    e.tick();
    assert_eq!(alerts_for(&e, "visit_missed"), 1);
    let (_, rep) = e
        .call("GET", "/v1/reports/alerts", Role::Broker, None)
        .await;
    assert!(
        rep.to_string().contains(&later.1),
        "the alerts report names the visit"
    );
    assert_rotas_pass_the_checker(&e.svc);

    // Replayed after a restart: the same delivery records and alerts.
    let before = e
        .svc
        .read(|b, _| (b.delivery.visits.clone(), b.alerts.len()));
    drop((e, stranger));
    let clock = Arc::new(ManualClock::new(t0()));
    let svc = open(&db, &clock);
    svc.read(|b, _| assert_eq!((b.delivery.visits.clone(), b.alerts.len()), before));
}

/// An HTTPS webhook receiver on 127.0.0.1, its certificate (for `localhost`)
/// signed by a CA made here: the receiver's URL, the CA's PEM, and the
/// requests it got. It answers 200. (ring's provider, as the service uses:
/// deprecated only for lacking post-quantum key exchange.)
#[allow(deprecated)]
async fn tls_receiver() -> (String, String, Arc<Mutex<Vec<(HeaderMap, Bytes)>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "carefill test CA");
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let ca = ca_params.self_signed(&ca_key).expect("CA");
    let leaf_key = rcgen::KeyPair::generate().expect("key");
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .expect("params")
        .signed_by(&leaf_key, &ca, &ca_key)
        .expect("certificate");
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_no_client_auth()
    .with_single_cert(vec![leaf.der().clone()], key)
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
    let g = got.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, g) = (acceptor.clone(), g.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                // One HTTP/1.1 request: headers, then content-length bytes.
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                    match tls.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let mut headers = HeaderMap::new();
                for line in head.lines().skip(1).filter(|l| !l.is_empty()) {
                    if let Some((k, v)) = line.split_once(':')
                        && let (Ok(k), Ok(v)) = (
                            warp::http::header::HeaderName::from_bytes(k.trim().as_bytes()),
                            warp::http::HeaderValue::from_str(v.trim()),
                        )
                    {
                        headers.insert(k, v);
                    }
                }
                let len: usize = headers
                    .get("content-length")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                while buf.len() < head_end + len {
                    match tls.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let body = Bytes::copy_from_slice(&buf[head_end..head_end + len]);
                g.lock().expect("lock").push((headers, body));
                let _ = tls
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (format!("https://localhost:{port}/hook"), ca.pem(), got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_go_over_https_to_a_receiver_with_a_private_ca() {
    let db = temp_db("push-https");
    let (body, provider, team) = referral_for_tier1(small_county());
    let (url, ca_pem, got) = tls_receiver().await;
    let dir = std::path::Path::new(&db)
        .parent()
        .expect("dir")
        .to_path_buf();
    let ca_file = dir.join("receiver-ca.pem");
    std::fs::write(&ca_file, ca_pem).expect("CA file");
    let clock = Arc::new(ManualClock::new(t0()));
    let svc = open(&db, &clock);
    let keys = DemoKeys::generate(&provider, &team).expect("keys");
    let transport = |ca: &std::path::Path| carefill_api::ServiceConfig {
        webhooks: carefill_api::webhooks::WebhookTransport {
            allow_plain_http: false,
            extra_ca_file: Some(ca.to_path_buf()),
        },
        ..Default::default()
    };
    // A CA file that cannot be read stops the service from starting.
    let missing = AppState::builder(keys.store().expect("key store"))
        .broker(Some(svc.clone()))
        .config(transport(&dir.join("nothing.pem")))
        .build();
    assert!(missing.is_err_and(|e| e.contains("nothing.pem")));
    let state = AppState::builder(keys.store().expect("key store"))
        .broker(Some(svc.clone()))
        .config(transport(&ca_file))
        .build()
        .expect("state");
    let e = Env {
        svc,
        clock,
        state,
        keys,
    };
    let secret = "another-long-shared-secret-42";

    // Plain HTTP only to a loopback host; the 422 names the field.
    let plain = json!({"url": "http://hooks.example.org/carefill", "secret": secret, "kinds": ["offer_made"]});
    let (s, v) = e
        .call("POST", "/v1/webhooks", Role::Admin, Some(&plain))
        .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["issues"][0]["path"], "$.url");
    assert!(
        v["issues"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("https://")),
        "{v}"
    );
    let local = json!({"url": "http://127.0.0.1:9/hook", "secret": secret, "kinds": ["escalated"]});
    assert_eq!(
        e.call("POST", "/v1/webhooks", Role::Admin, Some(&local))
            .await
            .0,
        201
    );

    // Over HTTPS, trusted through the extra CA: delivered and signed.
    let sub = json!({"url": url, "secret": secret, "kinds": ["offer_made", "package_filled"]});
    let (s, hook) = e
        .call("POST", "/v1/webhooks", Role::Admin, Some(&sub))
        .await;
    assert_eq!(s, 201, "{hook}");
    let hook_id = hook["id"].as_str().expect("id").to_string();
    let (s, v) = e
        .call("POST", "/v1/referrals", Role::Integrator, Some(&body))
        .await;
    assert_eq!(s, 201, "{v}");
    eventually("a delivery over HTTPS", || {
        !got.lock().expect("lock").is_empty()
    })
    .await;
    let (headers, bytes) = got.lock().expect("lock")[0].clone();
    assert_eq!(verify(secret, &headers, &bytes), t0().timestamp());
    let payload: Value = serde_json::from_slice(&bytes).expect("json body");
    assert_eq!(payload["data"]["package"], body["package"]["id"]);
    let all_delivered = |log: &Value| {
        log["deliveries"].as_array().is_some_and(|d| {
            !d.is_empty()
                && d.iter()
                    .all(|x| x["status"] == "delivered" && x["last_status"] == 200)
        })
    };
    let mut log = Value::Null;
    for _ in 0..100 {
        log = deliveries(&e, &hook_id).await;
        if all_delivered(&log) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(all_delivered(&log), "{log}");
}
