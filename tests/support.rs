//! Shared helpers of the HTTP tests: a state with one demo key per role, the
//! service as a warp filter whose every answer is checked against
//! `/openapi.json`, and the set-up of the broker-backed tests (demo county,
//! manual clock, a fresh store).

use crate::contract::assert_documented;
use carefill_api::auth::DemoKeys;
use carefill_api::broker_service::{BrokerService, Clock, ManualClock};
use carefill_api::store::{self, Baseline};
use carefill_api::{AppState, Role, ServiceConfig};
use carefill_solver::broker::demo::{self, DemoCounty};
use carefill_solver::check::check;
use carefill_solver::format::Tier;
use carefill_solver::model::Problem;
use carefill_solver::testing::load_request;
use chrono::{DateTime, TimeZone, Utc};
use http_body_util::BodyExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use warp::Filter;
use warp::http::header::CONTENT_TYPE;
use warp::reply::Response;

/// [`carefill_api::routes`], with every response checked against the OpenAPI
/// document (route, status, content type and body schema) before the test sees it.
pub fn routes(
    state: AppState,
) -> impl Filter<Extract = (Response,), Error = std::convert::Infallible> + Clone {
    warp::method()
        .and(warp::path::full())
        .and(carefill_api::routes(state))
        .then(
            |method: warp::http::Method, path: warp::path::FullPath, resp: Response| async move {
                let (parts, body) = resp.into_parts();
                let bytes = body
                    .collect()
                    .await
                    .map(|c| c.to_bytes())
                    .unwrap_or_else(|e| panic!("reading the body of {}: {e}", path.as_str()));
                let content_type = parts
                    .headers
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok());
                assert_documented(
                    method.as_str(),
                    path.as_str(),
                    parts.status.as_u16(),
                    content_type,
                    &bytes,
                );
                Response::from_parts(parts, bytes.into())
            },
        )
}

/// The provider and team the demo keys are scoped to (those of `small_team.json`).
pub const PROVIDER: &str = "prov-01";
/// See [`PROVIDER`].
pub const TEAM: &str = "team-001";

/// A state accepting one key per role, with `small_team.json` as demo data when `demo`.
pub fn state_with(config: ServiceConfig, demo: bool) -> (AppState, DemoKeys) {
    let keys = DemoKeys::generate(PROVIDER, TEAM).expect("keys");
    let state = AppState::builder(keys.store().expect("store"))
        .config(config)
        .demo(demo.then(|| load_request("small_team.json")))
        .build()
        .expect("state");
    (state, keys)
}

/// `state_with` default limits.
pub fn state(demo: bool) -> (AppState, DemoKeys) {
    state_with(ServiceConfig::default(), demo)
}

/// Serves `svc` on a free loopback port with `keys`, for the rest of the test;
/// returns the address.
pub async fn serve_broker(
    keys: &DemoKeys,
    svc: std::sync::Arc<carefill_api::broker_service::BrokerService>,
) -> std::net::SocketAddr {
    let state = AppState::builder(keys.store().expect("key store"))
        .broker(Some(svc))
        .build()
        .expect("state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(carefill_api::serve(
        listener,
        state,
        std::future::pending::<()>(),
    ));
    addr
}

/// `Bearer <key of role>`.
pub fn bearer(keys: &DemoKeys, role: Role) -> String {
    format!("Bearer {}", keys.key(role))
}

// Set-up shared by the broker-backed tests (console, console_api, intake, live_*).

/// The small demo county (seed 11, 40 referrals) the broker tests run on, built once.
pub fn small_county() -> &'static DemoCounty {
    static C: OnceLock<DemoCounty> = OnceLock::new();
    C.get_or_init(|| demo::county(&demo::small_profile(), 11, 40).expect("county"))
}

/// 30 Nov 2026, 09:00 UTC (GMT): when the broker tests' manual clocks start.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0)
        .single()
        .expect("t0")
}

/// A manual clock shared by a test and the service it drives.
pub struct SharedClock(pub Arc<ManualClock>);

impl Clock for SharedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.now()
    }
}

/// A fresh SQLite store path in a directory of its own under the temp dir,
/// unique to this run (`tag` names the test).
pub fn temp_db(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "carefill-{tag}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join("broker.sqlite3")
}

/// The broker over `county`'s roster and rotas (default policy) in the store
/// at `db`, on `clock`.
pub fn open_broker(db: &Path, county: &DemoCounty, clock: Box<dyn Clock>) -> Arc<BrokerService> {
    Arc::new(
        BrokerService::open(
            store::open(&db.to_string_lossy()).expect("store"),
            clock,
            || {
                Ok(Baseline {
                    config: Default::default(),
                    roster: county.roster.clone(),
                    rotas: county.rotas.clone(),
                })
            },
        )
        .expect("broker service"),
    )
}

/// The id of `county`'s first provider and of that provider's first team.
pub fn first_provider_and_team(county: &DemoCounty) -> (String, String) {
    let provider = county.roster.providers[0].id.clone();
    let team = county
        .roster
        .teams
        .iter()
        .find(|t| t.provider.as_deref() == Some(provider.as_str()))
        .map(|t| t.id.clone())
        .expect("a team of the first provider");
    (provider, team)
}

/// A referral of `county` whose cascade starts at Tier 1 with a fitting Tier 1
/// provider: the referral's body, that provider and its fitting team.
pub fn referral_for_tier1(county: &DemoCounty) -> (serde_json::Value, String, String) {
    let b = county.broker().expect("broker");
    county
        .referrals
        .iter()
        .find_map(|(p, u)| {
            if b.stage_order(p)[0] != Tier::Tier1 {
                return None;
            }
            let report = b.candidates(p, u);
            let first = report
                .at_stage(Tier::Tier1, &Default::default())
                .first()
                .map(|c| (c.provider.clone(), c.fit.team.clone()))?;
            Some((
                serde_json::json!({ "package": p, "service_user": u }),
                first.0,
                first.1,
            ))
        })
        .expect("a referral Tier 1 can take")
}

/// Every team rota the broker holds passes the independent checker.
pub fn assert_rotas_pass_the_checker(svc: &BrokerService) {
    svc.read(|b, _| {
        for (team, rota) in &b.rotas {
            let req = b.team_request(team).expect("team");
            let p = Problem::from_request(&req).expect("team problem");
            let rep = check(&p, rota);
            assert!(
                rep.violations.is_empty(),
                "team {team}: {:?}",
                &rep.violations[..rep.violations.len().min(3)]
            );
        }
    });
}
