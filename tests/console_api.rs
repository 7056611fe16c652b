//! The API routes the console added, over real TCP against a brokering service:
//! the console's assets at `/`, live events (`GET /v1/events`, scoped by key),
//! a carer's iCalendar feed, the rota CSV, routes GeoJSON and the county map;
//! each with its roles, scopes and bad input.

use crate::e2e::{Resp, http};
use carefill_api::auth::DemoKeys;
use carefill_api::broker_service::{BrokerService, SystemClock};
use carefill_api::store::{self, Baseline};
use carefill_api::{AppState, Role};
use carefill_solver::broker::demo::{self, DemoCounty};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn county() -> &'static DemoCounty {
    static C: OnceLock<DemoCounty> = OnceLock::new();
    C.get_or_init(|| demo::county(&demo::small_profile(), 11, 40).expect("county"))
}

struct Svc {
    addr: SocketAddr,
    keys: DemoKeys,
    svc: Arc<BrokerService>,
    provider: String,
    team: String,
    /// A team of another provider.
    other_team: String,
}

async fn start() -> Svc {
    let c = county();
    let provider = c.roster.providers[0].id.clone();
    let team_of = |p: &str| {
        c.roster
            .teams
            .iter()
            .find(|t| t.provider.as_deref() == Some(p))
            .map(|t| t.id.clone())
            .expect("team")
    };
    let team = team_of(&provider);
    let other_team = team_of(&c.roster.providers[1].id);
    let dir = std::env::temp_dir().join(format!(
        "carefill-console-api-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    let db = dir.join("b.sqlite3");
    let svc = Arc::new(
        BrokerService::open(
            store::open(&db.to_string_lossy()).expect("store"),
            Box::new(SystemClock),
            || {
                Ok(Baseline {
                    config: Default::default(),
                    roster: c.roster.clone(),
                    rotas: c.rotas.clone(),
                })
            },
        )
        .expect("service"),
    );
    let keys = DemoKeys::generate(&provider, &team).expect("keys");
    let state = AppState::builder(keys.store().expect("keys"))
        .broker(Some(svc.clone()))
        .build()
        .expect("state");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(carefill_api::serve(
        listener,
        state,
        std::future::pending::<()>(),
    ));
    Svc {
        addr,
        keys,
        svc,
        provider,
        team,
        other_team,
    }
}

impl Svc {
    async fn get(&self, path: &str, role: Role) -> Resp {
        let h = [("authorization", format!("Bearer {}", self.keys.key(role)))];
        http(self.addr, "GET", path, &h, b"").await
    }
    async fn post(&self, path: &str, role: Role, body: &Value) -> Resp {
        let h = [
            ("authorization", format!("Bearer {}", self.keys.key(role))),
            ("content-type", "application/json".to_string()),
        ];
        http(self.addr, "POST", path, &h, body.to_string().as_bytes()).await
    }
    /// A carer of `team` with the most visits on the published rota.
    fn busiest_carer(&self, team: &str) -> String {
        self.svc.read(|b, _| {
            let rota = &b.rotas[team];
            let mut n: std::collections::BTreeMap<&str, usize> = Default::default();
            for r in &rota.routes {
                *n.entry(r.carer.as_str()).or_default() += r.stops.len();
            }
            n.into_iter()
                .max_by_key(|(_, k)| *k)
                .map(|(c, _)| c.to_string())
                .expect("a carer with visits")
        })
    }
}

fn text(r: &Resp) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_is_served_at_the_root_with_a_strict_policy() {
    let s = start().await;
    let r = http(s.addr, "GET", "/", &[], b"").await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("text/html"))
    );
    let csp = r.header("content-security-policy").expect("csp");
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert!(text(&r).contains("/console/js/app.js"));
    let js = http(s.addr, "GET", "/console/js/app.js", &[], b"").await;
    assert_eq!(js.status, 200);
    assert!(
        js.header("content-type")
            .is_some_and(|t| t.starts_with("text/javascript"))
    );
    // Unknown files fall through to the API's problem+json 404; no key is needed for assets.
    let missing = http(s.addr, "GET", "/console/nope.js", &[], b"").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["code"], "route_not_found");
    let (files, bytes) = carefill_api::console::asset_stats();
    assert!(
        files >= 10 && bytes > 10_000,
        "{files} files, {bytes} bytes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_carers_calendar_is_rfc_5545_and_scoped_to_the_team() {
    let s = start().await;
    let carer = s.busiest_carer(&s.team);
    let path = format!("/v1/carers/{carer}/calendar.ics");
    let r = s.get(&path, Role::Planner).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("text/calendar"))
    );
    let body = text(&r);
    assert!(body.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
    assert!(body.ends_with("END:VCALENDAR\r\n"));
    for line in body.split("\r\n") {
        assert!(line.len() <= 75, "unfolded line: {line}");
        assert!(!line.contains('\n'));
    }
    let stops = s.svc.read(|b, _| {
        b.rotas[&s.team]
            .routes
            .iter()
            .filter(|r| r.carer == carer)
            .map(|r| r.stops.len())
            .sum::<usize>()
    });
    assert_eq!(body.matches("BEGIN:VEVENT").count(), stops);
    assert_eq!(body.matches("END:VEVENT").count(), stops);
    let unfolded = body.replace("\r\n ", "");
    assert!(unfolded.lines().any(|l| l.starts_with("DTSTART:")
        && l.ends_with('Z')
        && l.len() == "DTSTART:20261130T080000Z".len()));
    assert_eq!(s.get(&path, Role::Provider).await.status, 200);
    assert_eq!(s.get(&path, Role::Broker).await.status, 200);
    // Another provider's carer: 403 for the provider and planner keys.
    let other = s.busiest_carer(&s.other_team);
    let other_path = format!("/v1/carers/{other}/calendar.ics");
    assert_eq!(s.get(&other_path, Role::Planner).await.status, 403);
    assert_eq!(s.get(&other_path, Role::Provider).await.status, 403);
    assert_eq!(s.get(&other_path, Role::Integrator).await.status, 403);
    assert_eq!(
        s.get("/v1/carers/nobody/calendar.ics", Role::Broker)
            .await
            .status,
        404
    );
    let bad = s
        .get(&format!("{path}?from=2026-01-01"), Role::Broker)
        .await;
    assert_eq!(
        (bad.status, bad.json()["path"].clone()),
        (400, json!("from"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rota_exports_as_csv_and_geojson_within_scope() {
    let s = start().await;
    let (routes, stops) = s.svc.read(|b, _| {
        let r = &b.rotas[&s.team];
        (
            r.routes.len(),
            r.routes.iter().map(|r| r.stops.len()).sum::<usize>(),
        )
    });
    let csv = s
        .get(&format!("/v1/teams/{}/rota.csv", s.team), Role::Planner)
        .await;
    assert_eq!(csv.status, 200, "{}", text(&csv));
    assert!(
        csv.header("content-type")
            .is_some_and(|t| t.starts_with("text/csv"))
    );
    let body = text(&csv);
    let lines: Vec<&str> = body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(
        lines[0].starts_with("team,carer,shift,date,visit,package,service_user,arrival,start,end")
    );
    assert_eq!(lines.len(), stops + 1);
    assert!(
        lines[1..]
            .iter()
            .all(|l| l.split(',').count() == lines[0].split(',').count())
    );

    let geo = s
        .get(
            &format!("/v1/teams/{}/routes.geojson", s.team),
            Role::Provider,
        )
        .await;
    assert_eq!(geo.status, 200);
    assert_eq!(geo.header("content-type"), Some("application/geo+json"));
    let v = geo.json();
    assert_eq!(v["type"], "FeatureCollection");
    let kinds = |k: &str| {
        v["features"]
            .as_array()
            .expect("features")
            .iter()
            .filter(|f| f["properties"]["kind"] == k)
            .count()
    };
    assert_eq!(kinds("route"), routes);
    assert_eq!(kinds("visit"), stops);

    for path in [
        format!("/v1/teams/{}/rota.csv", s.other_team),
        format!("/v1/teams/{}/routes.geojson", s.other_team),
    ] {
        assert_eq!(s.get(&path, Role::Planner).await.status, 403, "{path}");
        assert_eq!(s.get(&path, Role::Provider).await.status, 403, "{path}");
        assert_eq!(s.get(&path, Role::Broker).await.status, 200, "{path}");
    }
    assert_eq!(
        s.get("/v1/teams/none/rota.csv", Role::Admin).await.status,
        404
    );
    assert_eq!(
        s.get("/v1/teams/none/routes.geojson", Role::Admin)
            .await
            .status,
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_county_map_shows_areas_teams_providers_and_people_waiting() {
    let s = start().await;
    let (p, u) = county().referrals[0].clone();
    let r = s
        .post(
            "/v1/referrals",
            Role::Broker,
            &json!({"package": p, "service_user": u}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", text(&r));
    let status = r.json()["record"]["status"].clone();
    let m = s.get("/v1/map", Role::Integrator).await;
    assert_eq!(m.status, 200);
    let v = m.json();
    let features = v["features"].as_array().expect("features");
    let of = |k: &str| {
        features
            .iter()
            .filter(|f| f["properties"]["kind"] == k)
            .collect::<Vec<_>>()
    };
    let teams = county().roster.teams.len();
    assert_eq!(of("team").len(), teams);
    assert_eq!(of("provider").len(), county().roster.providers.len());
    assert!(!of("area").is_empty());
    for a in of("area") {
        assert!(
            a["properties"]["shortfall_hours"]
                .as_f64()
                .is_some_and(|h| h >= 0.0)
        );
    }
    if status == "open" || status == "escalated" {
        let w = of("waiting");
        let mine = w
            .iter()
            .find(|f| f["properties"]["package"] == json!(p.id))
            .expect("the waiting package on the map");
        let lat = mine["geometry"]["coordinates"][1].as_f64().expect("lat");
        assert!(
            (lat * 100.0 - (lat * 100.0).round()).abs() < 1e-6,
            "rounded: {lat}"
        );
        assert!((lat - u.location.lat).abs() <= 0.005 + 1e-9);
    }
    assert_eq!(s.get("/v1/map", Role::Provider).await.status, 403);
    assert_eq!(s.get("/v1/map", Role::Planner).await.status, 403);
    assert_eq!(s.get("/v1/map?zoom=3", Role::Broker).await.status, 400);
}

/// Reads a server-sent event stream until `want` appears in it or `secs` pass.
struct Stream(TcpStream, String);

impl Stream {
    async fn open(addr: SocketAddr, key: &str) -> (u16, Stream) {
        let mut tcp = TcpStream::connect(addr).await.expect("connect");
        let head = format!(
            "GET /v1/events HTTP/1.1\r\nhost: {addr}\r\naccept: text/event-stream\r\nauthorization: Bearer {key}\r\n\r\n"
        );
        tcp.write_all(head.as_bytes()).await.expect("write");
        let mut s = Stream(tcp, String::new());
        s.until("\r\n\r\n", 10).await;
        let status =
            s.1.split(' ')
                .nth(1)
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
        (status, s)
    }

    async fn until(&mut self, want: &str, secs: u64) -> bool {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        let mut buf = [0u8; 4096];
        while !self.1.contains(want) {
            match tokio::time::timeout_at(deadline, self.0.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => self.1.push_str(&String::from_utf8_lossy(&buf[..n])),
                _ => return false,
            }
        }
        true
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_events_reach_each_key_within_its_scope() {
    let s = start().await;
    let (status, mut broker) = Stream::open(s.addr, s.keys.key(Role::Broker)).await;
    assert_eq!(status, 200, "{}", broker.1);
    assert!(
        broker
            .1
            .to_ascii_lowercase()
            .contains("content-type: text/event-stream")
    );
    assert!(broker.until("event:hello", 10).await, "{}", broker.1);
    let (_, mut planner) = Stream::open(s.addr, s.keys.key(Role::Planner)).await;
    let (_, mut provider) = Stream::open(s.addr, s.keys.key(Role::Provider)).await;
    assert!(planner.until("event:hello", 10).await && provider.until("event:hello", 10).await);

    // Another provider's team changes: only the broker hears of it.
    let other = s.busiest_carer(&s.other_team);
    let absence = json!({"from": "2026-12-02T00:00:00+00:00", "to": "2026-12-03T00:00:00+00:00", "reason": "sick"});
    let r = s
        .post(
            &format!("/v1/carers/{other}/absences"),
            Role::Broker,
            &absence,
        )
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert!(
        broker
            .until(&format!("\"team\":\"{}\"", s.other_team), 10)
            .await,
        "{}",
        broker.1
    );
    // Then the planner's own team: the planner and its provider hear of that one only.
    let mine = s.busiest_carer(&s.team);
    let r = s
        .post(
            &format!("/v1/carers/{mine}/absences"),
            Role::Broker,
            &absence,
        )
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    for stream in [&mut planner, &mut provider, &mut broker] {
        assert!(
            stream.until(&format!("\"carer\":\"{mine}\""), 10).await,
            "{}",
            stream.1
        );
        assert!(stream.1.contains("event:carer_absent"));
    }
    assert!(
        !planner.1.contains(&other),
        "the planner heard of another team: {}",
        planner.1
    );
    assert!(
        !provider.1.contains(&other),
        "the provider heard of another provider: {}",
        provider.1
    );
    // Events carry ids only: no person's location.
    assert!(!broker.1.contains("\"lat\""));

    // An invalid key gets 401 before any stream; a service without a broker has none (404).
    let (status, _) = Stream::open(s.addr, "cf_not_a_key").await;
    assert_eq!(status, 401);
    let (state, keys) = crate::support::state(false);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(carefill_api::serve(
        listener,
        state,
        std::future::pending::<()>(),
    ));
    let (status, _) = Stream::open(addr, keys.key(Role::Broker)).await;
    assert_eq!(status, 404);
    let _ = &s.provider;
}
