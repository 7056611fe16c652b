//! The API routes the console added, over real TCP against a brokering service:
//! the console's assets at `/`, live events (`GET /v1/events`, scoped by key),
//! a carer's iCalendar feed, the rota CSV, routes GeoJSON and the county map;
//! each with its roles, scopes and bad input.

use crate::e2e::{Resp, http};
use crate::support::{open_broker, small_county, temp_db};
use carefill_api::auth::DemoKeys;
use carefill_api::broker_service::{BrokerService, SystemClock};
use carefill_api::{AppState, Role};
use carefill_solver::broker::demo::{self, DemoCounty};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

struct Svc {
    addr: SocketAddr,
    keys: DemoKeys,
    svc: Arc<BrokerService>,
    provider: String,
    team: String,
    /// A team of another provider.
    other_team: String,
}

/// The county `carefill serve --demo` runs (40 providers, seed 1, 60 search
/// iterations per team), for the measurements.
pub(crate) fn demo_county() -> &'static DemoCounty {
    static C: OnceLock<DemoCounty> = OnceLock::new();
    C.get_or_init(|| {
        demo::county(
            &carefill_solver::generate::ScenarioSize::County.profile(),
            1,
            60,
        )
        .expect("county")
    })
}

async fn start() -> Svc {
    start_on(small_county()).await
}

async fn start_on(c: &'static DemoCounty) -> Svc {
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
    let svc = open_broker(&temp_db("console-api"), c, Box::new(SystemClock));
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
    async fn put(&self, path: &str, role: Role, body: &Value) -> Resp {
        let h = [
            ("authorization", format!("Bearer {}", self.keys.key(role))),
            ("content-type", "application/json".to_string()),
        ];
        http(self.addr, "PUT", path, &h, body.to_string().as_bytes()).await
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

fn instant(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

/// A VEVENT read back: its UID, the instants of DTSTART and DTEND, and the
/// TZID they were written in (none for UTC).
#[derive(Debug)]
pub(crate) struct IcsEvent {
    pub uid: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub tzid: Option<String>,
}

/// An observance of a VTIMEZONE: from its onset (local time before the
/// change), the offset changes from `from` to `to` (seconds east).
struct Observance {
    onset: NaiveDateTime,
    from: i32,
    to: i32,
}

fn ics_offset(v: &str) -> i32 {
    let sign = match &v[..1] {
        "+" => 1,
        "-" => -1,
        _ => panic!("offset `{v}`"),
    };
    let n = |r: std::ops::Range<usize>| v.get(r).map_or(0, |d| d.parse::<i32>().expect("digits"));
    assert!(v.len() == 5 || v.len() == 7, "offset `{v}`");
    sign * (n(1..3) * 3600 + n(3..5) * 60 + n(5..7))
}

/// The instant of local time `t` in a zone of `obs` (RFC 5545 §3.6.5): the
/// observance in force is the one with the latest onset at or before the
/// instant; a local time that happens twice is its first occurrence.
fn resolve(obs: &[Observance], t: NaiveDateTime) -> DateTime<Utc> {
    let onset = |o: &Observance| (o.onset - chrono::Duration::seconds(i64::from(o.from))).and_utc();
    obs.iter()
        .filter_map(|o| {
            let at = (t - chrono::Duration::seconds(i64::from(o.to))).and_utc();
            let in_force = obs
                .iter()
                .filter(|x| onset(x) <= at)
                .max_by_key(|x| onset(x))?;
            (in_force.to == o.to).then_some(at)
        })
        .min()
        .unwrap_or_else(|| panic!("local time {t} is in no observance"))
}

/// Parses an iCalendar text as far as checking it needs (RFC 5545): CRLF
/// lines unfolded, BEGIN/END nested and closed, the VTIMEZONEs' observances,
/// and each VEVENT's DTSTART and DTEND as instants (a local time through the
/// VTIMEZONE its TZID names, which must exist).
pub(crate) fn parse_ics(text: &str) -> Vec<IcsEvent> {
    assert!(text.ends_with("\r\n"), "lines end with CRLF");
    let unfolded = text.replace("\r\n ", "").replace("\r\n\t", "");
    let mut stack: Vec<String> = Vec::new();
    let mut zones: std::collections::HashMap<String, Vec<Observance>> = Default::default();
    let (mut tzid, mut onset, mut from, mut to) = (String::new(), None, None, None);
    type When = (Option<String>, String);
    let mut events: Vec<(String, When, When)> = Vec::new();
    let (mut uid, mut start, mut end): (Option<String>, Option<When>, Option<When>) =
        (None, None, None);
    for line in unfolded.split("\r\n").filter(|l| !l.is_empty()) {
        assert!(!line.contains('\n'), "a bare LF in `{line}`");
        let (head, value) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("no `:` in `{line}`"));
        let mut parts = head.split(';');
        let name = parts.next().unwrap_or_default();
        let params: Vec<(&str, &str)> = parts.filter_map(|p| p.split_once('=')).collect();
        let top = stack.last().map(String::as_str);
        match (name, top) {
            ("BEGIN", _) => stack.push(value.to_string()),
            ("END", _) => {
                assert_eq!(
                    stack.pop().as_deref(),
                    Some(value),
                    "END:{value} closes another component"
                );
                match value {
                    "STANDARD" | "DAYLIGHT" => {
                        zones.entry(tzid.clone()).or_default().push(Observance {
                            onset: onset.take().expect("observance DTSTART"),
                            from: from.take().expect("TZOFFSETFROM"),
                            to: to.take().expect("TZOFFSETTO"),
                        })
                    }
                    "VEVENT" => events.push((
                        uid.take().expect("UID"),
                        start.take().expect("DTSTART"),
                        end.take().expect("DTEND"),
                    )),
                    _ => {}
                }
            }
            ("TZID", Some("VTIMEZONE")) => tzid = value.to_string(),
            ("DTSTART", Some("STANDARD" | "DAYLIGHT")) => {
                onset = Some(NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S").expect("onset"));
            }
            ("TZOFFSETFROM", _) => from = Some(ics_offset(value)),
            ("TZOFFSETTO", _) => to = Some(ics_offset(value)),
            ("UID", Some("VEVENT")) => uid = Some(value.to_string()),
            ("DTSTART" | "DTEND", Some("VEVENT")) => {
                let zone = params
                    .iter()
                    .find(|(k, _)| *k == "TZID")
                    .map(|(_, v)| v.to_string());
                let w = Some((zone, value.to_string()));
                if name == "DTSTART" {
                    start = w
                } else {
                    end = w
                }
            }
            _ => {}
        }
    }
    assert!(stack.is_empty(), "unclosed {stack:?}");
    let read = |(zone, v): &When| -> DateTime<Utc> {
        match zone {
            None => NaiveDateTime::parse_from_str(v, "%Y%m%dT%H%M%SZ")
                .expect("UTC time")
                .and_utc(),
            Some(z) => resolve(
                zones
                    .get(z)
                    .unwrap_or_else(|| panic!("TZID {z} has no VTIMEZONE")),
                NaiveDateTime::parse_from_str(v, "%Y%m%dT%H%M%S").expect("local time"),
            ),
        }
    };
    events
        .iter()
        .map(|(uid, s, e)| IcsEvent {
            uid: uid.clone(),
            start: read(s),
            end: read(e),
            tzid: s.0.clone(),
        })
        .collect()
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
    // Read back through its VTIMEZONE, every event is at its visit's instants,
    // in local time of the roster's zone.
    let (zone, want) = s.svc.read(|b, _| {
        let mut want = std::collections::BTreeMap::new();
        for r in b.rotas[&s.team].routes.iter().filter(|r| r.carer == carer) {
            for st in &r.stops {
                want.insert(
                    format!("{}/{carer}@carefill", st.visit),
                    (instant(&st.start), instant(&st.end)),
                );
            }
        }
        (b.roster.horizon.time_zone.clone(), want)
    });
    assert_eq!(zone.as_deref(), Some("Europe/London"));
    let events = parse_ics(&body);
    assert_eq!(events.len(), want.len());
    for e in &events {
        assert_eq!(e.tzid.as_deref(), zone.as_deref(), "{}", e.uid);
        assert_eq!(want.get(&e.uid), Some(&(e.start, e.end)), "{}", e.uid);
    }
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
    let (p, u) = small_county().referrals[0].clone();
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
    let teams = small_county().roster.teams.len();
    assert_eq!(of("team").len(), teams);
    assert_eq!(of("provider").len(), small_county().roster.providers.len());
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
        // Alone it is its own SSE event; with the alerts it raised, one `batch`.
        assert!(
            stream.1.contains("event:carer_absent")
                || stream.1.contains("\"kind\":\"carer_absent\""),
            "{}",
            stream.1
        );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_status_preview_names_what_the_change_then_does() {
    let s = start().await;
    let path = format!("/v1/providers/{}/impact?status=failed", s.provider);
    let r = s.get(&path, Role::Broker).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let v = r.json();
    let held = s.svc.read(|b, _| {
        let teams: Vec<String> = b
            .roster
            .teams
            .iter()
            .filter(|t| t.provider.as_deref() == Some(s.provider.as_str()))
            .map(|t| t.id.clone())
            .collect();
        b.roster
            .service_users
            .iter()
            .filter(|u| u.team.as_ref().is_some_and(|t| teams.contains(t)))
            .count()
    });
    let people = v["people"].as_u64().unwrap_or(0) as usize;
    assert!(people > 0 && people <= held, "{people} of {held}: {v}");
    assert_eq!(v["packages_released"], v["packages"]);
    assert_eq!(
        v["affected"].as_array().map(Vec::len),
        v["packages"].as_u64().map(|n| n as usize)
    );
    assert_eq!(v["current_status"], "active");
    // Nothing changed by looking.
    let again = s.get(&path, Role::Broker).await.json();
    assert_eq!(again, v);
    // Suspending withdraws offers only; reinstating affects nobody.
    let sus = s
        .get(
            &format!("/v1/providers/{}/impact?status=suspended", s.provider),
            Role::Admin,
        )
        .await
        .json();
    assert_eq!(sus["packages_released"], 0);
    let act = s
        .get(
            &format!("/v1/providers/{}/impact?status=active", s.provider),
            Role::Broker,
        )
        .await
        .json();
    assert_eq!(act["packages"], 0);
    // Brokers only; a named bad status; an unknown provider.
    assert_eq!(s.get(&path, Role::Provider).await.status, 403);
    assert_eq!(s.get(&path, Role::Integrator).await.status, 403);
    let bad = s
        .get(
            &format!("/v1/providers/{}/impact?status=gone", s.provider),
            Role::Broker,
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["path"], "status");
    let missing = s
        .get(
            &format!("/v1/providers/{}/impact", s.provider),
            Role::Broker,
        )
        .await;
    assert_eq!(missing.status, 400);
    assert_eq!(
        s.get("/v1/providers/nobody/impact?status=failed", Role::Broker)
            .await
            .status,
        404
    );
    // The change releases exactly the packages the preview named.
    let done = s
        .post(
            &format!("/v1/providers/{}/status", s.provider),
            Role::Broker,
            &json!({"status": "failed"}),
        )
        .await;
    assert_eq!(done.status, 200, "{}", text(&done));
    assert_eq!(done.json()["packages_released"], v["packages_released"]);
    for a in v["affected"].as_array().expect("list") {
        let id = a["package"].as_str().expect("id");
        let p = s.get(&format!("/v1/packages/{id}"), Role::Broker).await;
        assert_eq!(p.status, 200, "{id}: {}", text(&p));
        assert_ne!(
            p.json()["record"]["provider"].as_str(),
            Some(s.provider.as_str()),
            "{id} still with the failed provider"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_week_link_shows_one_carer_their_own_week_and_calendar() {
    let s = start().await;
    let carer = s.busiest_carer(&s.team);
    let r = s
        .post(
            &format!("/v1/carers/{carer}/week-link"),
            Role::Planner,
            &json!({"days": 7}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", text(&r));
    let link = r.json();
    let token = link["token"].as_str().expect("token").to_string();
    assert!(
        link["console_path"]
            .as_str()
            .is_some_and(|p| p.starts_with("/#/carer-week/"))
    );
    // No key needed, and only this carer's visits.
    let week = http(
        s.addr,
        "GET",
        &format!("/v1/carer-week?token={token}"),
        &[],
        b"",
    )
    .await;
    assert_eq!(week.status, 200, "{}", text(&week));
    let w = week.json();
    assert_eq!(w["carer"], carer.as_str());
    let mut shown: Vec<String> = w["days"]
        .as_array()
        .expect("days")
        .iter()
        .flat_map(|d| d["visits"].as_array().cloned().unwrap_or_default())
        .map(|v| v["visit"].as_str().unwrap_or_default().to_string())
        .collect();
    shown.sort();
    let mut own: Vec<String> = s.svc.read(|b, _| {
        b.rotas[&s.team]
            .routes
            .iter()
            .filter(|r| r.carer == carer)
            .flat_map(|r| r.stops.iter().map(|st| st.visit.clone()))
            .collect()
    });
    own.sort();
    assert_eq!(shown, own);
    let ics = http(
        s.addr,
        "GET",
        &format!("/v1/carer-week/calendar.ics?token={token}"),
        &[],
        b"",
    )
    .await;
    assert_eq!(ics.status, 200);
    assert_eq!(text(&ics).matches("BEGIN:VEVENT").count(), own.len());
    // A changed token, another carer's name in it, or none at all.
    let last = if token.ends_with('0') { '1' } else { '0' };
    let tampered = format!("{}{last}", &token[..token.len() - 1]);
    let t = http(
        s.addr,
        "GET",
        &format!("/v1/carer-week?token={tampered}"),
        &[],
        b"",
    )
    .await;
    assert_eq!(t.status, 403, "{}", text(&t));
    assert_eq!(
        http(s.addr, "GET", "/v1/carer-week", &[], b"").await.status,
        400
    );
    // Scopes and bad input when issuing.
    let other = s.busiest_carer(&s.other_team);
    let forbidden = s
        .post(
            &format!("/v1/carers/{other}/week-link"),
            Role::Planner,
            &json!({}),
        )
        .await;
    assert_eq!(forbidden.status, 403);
    let long = s
        .post(
            &format!("/v1/carers/{carer}/week-link"),
            Role::Planner,
            &json!({"days": 400}),
        )
        .await;
    assert_eq!(long.status, 400);
    assert_eq!(long.json()["path"], "$.days");
    assert_eq!(
        s.post("/v1/carers/nobody/week-link", Role::Broker, &json!({}))
            .await
            .status,
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_solve_keeps_its_pins_and_publishes_only_a_current_rota() {
    let s = start().await;
    let req = s
        .get(&format!("/v1/teams/{}/request", s.team), Role::Planner)
        .await;
    assert_eq!(req.status, 200, "{}", text(&req));
    let mut req = req.json();
    let existing = req["existing_rota"].as_array().expect("existing").clone();
    assert!(!existing.is_empty());
    let pin = existing[existing.len() / 2].clone();
    let pin_id = pin["visit"].as_str().expect("visit").to_string();
    for e in req["existing_rota"].as_array_mut().expect("existing") {
        e["pinned"] = json!(e["visit"] == pin["visit"]);
    }
    let job = s
        .post("/v1/rota/jobs?time_limit_s=1", Role::Planner, &req)
        .await;
    assert_eq!(job.status, 202, "{}", text(&job));
    let id = job.json()["id"].as_str().expect("id").to_string();
    // Publishing before the job finishes is a 409, not a half rota.
    let early = s
        .put(
            &format!("/v1/teams/{}/rota", s.team),
            Role::Planner,
            &json!({"job": id, "pinned": [pin_id]}),
        )
        .await;
    assert!(
        early.status == 409 || early.status == 200,
        "{}",
        text(&early)
    );
    for _ in 0..600 {
        let st = s
            .get(&format!("/v1/rota/jobs/{id}"), Role::Planner)
            .await
            .json();
        if ["succeeded", "cancelled", "failed"].contains(&st["state"].as_str().unwrap_or("")) {
            assert_ne!(st["state"], "failed", "{st}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A pin of a visit the rota does not place is refused.
    let unknown = s
        .put(
            &format!("/v1/teams/{}/rota", s.team),
            Role::Planner,
            &json!({"job": id, "pinned": ["nope/am@2026-11-30"]}),
        )
        .await;
    assert_eq!(unknown.status, 409, "{}", text(&unknown));
    assert_eq!(unknown.json()["code"], "pin_not_on_rota");
    // Someone else's job is not found; another team is forbidden.
    let theirs = s
        .put(
            &format!("/v1/teams/{}/rota", s.team),
            Role::Provider,
            &json!({"job": id}),
        )
        .await;
    assert_eq!(theirs.status, 404, "{}", text(&theirs));
    let other = s
        .put(
            &format!("/v1/teams/{}/rota", s.other_team),
            Role::Planner,
            &json!({"job": id}),
        )
        .await;
    assert_eq!(other.status, 403, "{}", text(&other));
    let r = s
        .put(
            &format!("/v1/teams/{}/rota", s.team),
            Role::Planner,
            &json!({"job": id, "pinned": [pin_id]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(r.json()["pinned"], 1);
    // The pinned visit is where it was, and the published rota passes the checker.
    let (carers, start, report) = s.svc.read(|b, _| {
        let rota = b.rotas[&s.team].clone();
        let mut carers: Vec<String> = Vec::new();
        let mut start = String::new();
        for r in &rota.routes {
            for st in r.stops.iter().filter(|st| st.visit == pin_id) {
                carers.push(r.carer.clone());
                start = st.start.clone();
            }
        }
        carers.sort();
        let req = b.team_request(&s.team).expect("team");
        let p = carefill_solver::model::Problem::from_request(&req).expect("problem");
        (carers, start, carefill_solver::check::check(&p, &rota))
    });
    assert_eq!(json!(carers), pin["carers"]);
    assert_eq!(json!(start), pin["start"]);
    assert!(report.is_feasible(), "{:?}", report.violations);
    // Bad bodies name their field.
    let bad = s
        .put(
            &format!("/v1/teams/{}/rota", s.team),
            Role::Planner,
            &json!({"jobs": 1}),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", text(&bad));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_series_and_console_settings_answer() {
    let s = start().await;
    let r = s.get("/v1/ledger/series", Role::Broker).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let days = r.json()["days"].as_array().expect("days").clone();
    let pool = s.svc.read(|b, _| b.ledger_report().risk_pool_pence);
    assert_eq!(
        days.last()
            .map_or(0, |d| d["risk_pool_pence"].as_i64().unwrap_or(0)),
        pool
    );
    assert_eq!(s.get("/v1/ledger/series", Role::Planner).await.status, 403);
    let st = s.get("/v1/console/settings", Role::Planner).await;
    assert_eq!(st.status, 200);
    assert_eq!(st.json()["tile_url"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tile_url_adds_only_its_origin_to_the_console_policy() {
    let keys = DemoKeys::generate("p", "t").expect("keys");
    let config = carefill_api::ServiceConfig {
        tile_url: Some("https://tiles.example.org/{z}/{x}/{y}.png".into()),
        ..Default::default()
    };
    let state = AppState::builder(keys.store().expect("keys"))
        .config(config)
        .build()
        .expect("state");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(carefill_api::serve(
        listener,
        state,
        std::future::pending::<()>(),
    ));
    let r = http(addr, "GET", "/", &[], b"").await;
    let csp = r
        .header("content-security-policy")
        .expect("csp")
        .to_string();
    assert!(
        csp.contains("img-src 'self' data: https://tiles.example.org;"),
        "{csp}"
    );
    assert!(csp.contains("connect-src 'self';"), "{csp}");
    let h = [(
        "authorization",
        format!("Bearer {}", keys.key(Role::Broker)),
    )];
    let st = http(addr, "GET", "/v1/console/settings", &h, b"").await;
    assert_eq!(
        st.json()["tile_url"],
        "https://tiles.example.org/{z}/{x}/{y}.png"
    );
}

/// A measurement on the demo county ([`demo_county`]), not an assertion: the
/// latency of `POST /v1/recommendations?k=3` (one request at a time, cycling
/// through 8 demo referrals) with no console
/// connected and with 50 live event streams open, while a package is referred
/// and cancelled every second so the streams carry events. The service runs in
/// this process on its own runtime threads; the streams are read by tasks of
/// the test's runtime. Prints p50/p90/p99 and the load average. Run with
/// `cargo test --test carefill console_sse_load -- --ignored --nocapture`
/// (`scripts/console-sse-load.py` does the same against a `carefill serve` binary).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run by hand, prints numbers"]
async fn console_sse_load() {
    let c = tokio::task::spawn_blocking(demo_county)
        .await
        .expect("county");
    let s = start_on(c).await;
    s.svc.set_demo_referrals(c.referrals.clone());
    let key = s.keys.key(Role::Broker).to_string();
    let referrals = s.get("/v1/demo/referrals", Role::Broker).await.json()["referrals"]
        .as_array()
        .expect("referrals")
        .clone();
    let bodies: Vec<Vec<u8>> = referrals
        .iter()
        .take(8)
        .map(|r| r.to_string().into_bytes())
        .collect();
    let addr = s.addr;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churn = {
        let (stop, key, rest) = (stop.clone(), key.clone(), referrals[8..].to_vec());
        tokio::spawn(async move {
            let h = [
                ("authorization", format!("Bearer {key}")),
                ("content-type", "application/json".to_string()),
            ];
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && !rest.is_empty() {
                let mut r = rest[i % rest.len()].clone();
                let pid = format!("{}-sse{i}", r["package"]["id"].as_str().unwrap_or("p"));
                let uid = format!("{}-sse{i}", r["service_user"]["id"].as_str().unwrap_or("u"));
                r["package"]["id"] = json!(pid);
                r["package"]["service_user"] = json!(uid);
                r["service_user"]["id"] = json!(uid);
                let body = json!({"package": r["package"], "service_user": r["service_user"]});
                http(
                    addr,
                    "POST",
                    "/v1/referrals",
                    &h,
                    body.to_string().as_bytes(),
                )
                .await;
                http(
                    addr,
                    "POST",
                    &format!("/v1/packages/{pid}/cancel"),
                    &h,
                    b"{}",
                )
                .await;
                i += 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    };
    let measure = |n: usize| {
        let (key, bodies) = (key.clone(), bodies.clone());
        async move {
            let h = [
                ("authorization", format!("Bearer {key}")),
                ("content-type", "application/json".to_string()),
            ];
            let mut lat = Vec::with_capacity(n);
            for i in 0..n {
                let t0 = std::time::Instant::now();
                let r = http(
                    addr,
                    "POST",
                    "/v1/recommendations?k=3",
                    &h,
                    &bodies[i % bodies.len()],
                )
                .await;
                assert_eq!(r.status, 200);
                lat.push(t0.elapsed().as_secs_f64() * 1000.0);
            }
            lat.sort_by(f64::total_cmp);
            let q =
                |p: f64| lat[((p * (lat.len() - 1) as f64).round() as usize).min(lat.len() - 1)];
            (q(0.5), q(0.9), q(0.99))
        }
    };
    let load = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    measure(20).await;
    let quiet = measure(300).await;
    println!(
        "0 consoles:  p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms; load {}",
        quiet.0,
        quiet.1,
        quiet.2,
        load().trim()
    );
    let events = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut readers = Vec::new();
    for _ in 0..50 {
        let (status, mut st) = Stream::open(addr, &key).await;
        assert_eq!(status, 200);
        let events = events.clone();
        readers.push(tokio::spawn(async move {
            let mut buf = [0u8; 8192];
            while let Ok(n) = st.0.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&buf[..n]);
                events.fetch_add(
                    text.matches("event:").count(),
                    std::sync::atomic::Ordering::Relaxed,
                );
            }
        }));
    }
    let busy = measure(300).await;
    println!(
        "50 consoles: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms; load {}",
        busy.0,
        busy.1,
        busy.2,
        load().trim()
    );
    println!(
        "events read by the 50 streams: {}; p99 change {:+.1}%",
        events.load(std::sync::atomic::Ordering::Relaxed),
        100.0 * (busy.2 / quiet.2 - 1.0)
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = churn.await;
    for r in readers {
        r.abort();
    }
}
