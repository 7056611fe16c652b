//! The web console in a real headless browser: Debian's `chromium` driven through
//! `chromedriver` (WebDriver, with fantoccini), against the real service started
//! here with a demo county on a temporary SQLite file and one key per role.
//!
//! One scenario, in order: an invalid key stays on sign-in; every role signs in
//! and sees its own views; a bad referral shows the API's error at the field; a
//! broker refers a package to the planner's team and sees its offer with a
//! timer; the provider (whose DOM holds no person's id or address before
//! accepting) accepts it; it leaves the queue and appears on the planner's
//! Gantt; an absence re-plans the team with the moved visits highlighted; the
//! reports draw; a stopped service shows the connection-lost banner. Each main
//! view's screenshot goes to `docs/screenshots/`. First render and Gantt render
//! times are printed, not asserted.
//!
//! Without `chromium` and `chromedriver` the test is skipped with a printed
//! reason, except under CI (`CI` set and not `false`/`0`), where it fails.
//! `CAREFILL_CONSOLE_COUNTY=county` runs it on the full demo county (40
//! providers) instead of the small one, to measure there.

use crate::support::{first_provider_and_team, open_broker, temp_db};
use carefill_api::auth::DemoKeys;
use carefill_api::broker_service::{BrokerService, Clock, ManualClock, SystemClock};
use carefill_api::{AppState, Role, ServiceConfig};
use carefill_solver::broker::demo;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// chromium and chromedriver, or why the test cannot run.
fn browser_tools() -> Result<(PathBuf, PathBuf), String> {
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|n| on_path(n))
        .ok_or("no chromium on PATH (apt-get install chromium; scripts/bootstrap.sh does)")?;
    let driver = on_path("chromedriver").ok_or(
        "no chromedriver on PATH (apt-get install chromium-driver; scripts/bootstrap.sh does)",
    )?;
    Ok((chromium, driver))
}

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

async fn start_browser(chromium: &Path, driver: &Path) -> (Driver, Client) {
    let port = free_port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Driver(child);
    let url = format!("http://127.0.0.1:{port}");
    let caps: serde_json::Map<String, Value> = serde_json::from_value(json!({
        "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1440,1000", "--hide-scrollbars", "--lang=en-GB"]
        }
    }))
    .expect("caps");
    let started = Instant::now();
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(c) => return (driver, c),
            Err(_) if started.elapsed() < Duration::from_secs(30) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("cannot start a chromium session through chromedriver: {e}"),
        }
    }
}

struct Service {
    addr: SocketAddr,
    keys: DemoKeys,
    svc: Arc<BrokerService>,
    stop: Option<oneshot::Sender<()>>,
    provider: String,
    team: String,
}

/// Which county a browser test runs on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CountySize {
    /// The small county (8 providers), or the demo county with
    /// `CAREFILL_CONSOLE_COUNTY=county`.
    FromEnv,
    /// The county `carefill serve --demo` runs (40 providers).
    Demo,
}

/// The service as `serve --demo` runs it: a generated county on SQLite, the system
/// clock, demo keys scoped to the county's first provider and team.
async fn start_service(size: CountySize) -> Service {
    let county = tokio::task::spawn_blocking(move || {
        let env = std::env::var("CAREFILL_CONSOLE_COUNTY");
        if size == CountySize::Demo || env.as_deref() == Ok("county") {
            crate::console_api::demo_county().clone()
        } else {
            // As `serve --demo` builds it: the horizon starts today, so an
            // accepted package has visits to place whatever the time of day.
            demo::county_at(
                &demo::small_profile(),
                1,
                60,
                chrono::Utc::now(),
                &carefill_solver::broker::HorizonPolicy::default(),
            )
            .expect("county")
        }
    })
    .await
    .expect("county task");
    start_service_with(county, Box::new(SystemClock), ServiceConfig::default()).await
}

/// The service on `county` with `clock` and `config`, demo keys scoped to the
/// county's first provider and team.
async fn start_service_with(
    county: demo::DemoCounty,
    clock: Box<dyn Clock>,
    config: ServiceConfig,
) -> Service {
    let (provider, team) = first_provider_and_team(&county);
    let svc = open_broker(&temp_db("console"), &county, clock);
    let referrals = county.referrals.clone();
    svc.set_demo_referrals(referrals);
    let keys = DemoKeys::generate(&provider, &team).expect("keys");
    let state = AppState::builder(keys.store().expect("key store"))
        .config(config)
        .broker(Some(svc.clone()))
        .build()
        .expect("state");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(carefill_api::serve(listener, state, async {
        let _ = rx.await;
    }));
    Service {
        addr,
        keys,
        svc,
        stop: Some(tx),
        provider,
        team,
    }
}

/// Polls a JavaScript expression until it is truthy; panics with `what` after `secs`.
async fn wait_js(c: &Client, expr: &str, secs: u64, what: &str) -> Value {
    let started = Instant::now();
    loop {
        let v = c
            .execute(&format!("return ({expr});"), vec![])
            .await
            .unwrap_or(Value::Null);
        let truthy = match &v {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
            Value::String(s) => !s.is_empty(),
            _ => true,
        };
        if truthy {
            return v;
        }
        if started.elapsed() > Duration::from_secs(secs) {
            let text = c
                .execute("return document.body.innerText.slice(0, 2000);", vec![])
                .await
                .unwrap_or(Value::Null);
            let live = c
                .execute("return [window.__carefillLiveState, window.__carefillLive && window.__carefillLive()];", vec![])
                .await
                .unwrap_or(Value::Null);
            panic!("timed out waiting for {what} ({expr}); live {live}; page text: {text}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn css(c: &Client, sel: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(sel))
        .await
        .unwrap_or_else(|e| panic!("no element {sel}: {e}"))
}

async fn screenshot(c: &Client, name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshots dir");
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
}

/// Signs in through the form; returns once the shell shows the role.
async fn sign_in(c: &Client, base: &str, key: &str, role: &str) {
    c.goto(&format!("{base}/")).await.expect("open console");
    c.execute("sessionStorage.clear(); location.hash = '';", vec![])
        .await
        .expect("clear session");
    c.refresh().await.expect("reload");
    let input = css(c, "#signin #key").await;
    input.send_keys(key).await.expect("type key");
    css(c, "#signin button[type=submit]")
        .await
        .click()
        .await
        .expect("sign in");
    wait_js(
        c,
        &format!("document.querySelector('#principal')?.dataset.role === '{role}'"),
        20,
        &format!("signed in as {role}"),
    )
    .await;
}

async fn nav_views(c: &Client) -> Vec<String> {
    let v = c
        .execute(
            "return [...document.querySelectorAll('#nav a')].map(a => a.dataset.view);",
            vec![],
        )
        .await
        .expect("nav");
    serde_json::from_value(v).expect("views")
}

async fn go(c: &Client, view: &str) {
    c.execute(&format!("location.hash = '#/{view}';"), vec![])
        .await
        .expect("navigate");
    css(c, &format!("#view-{view}")).await;
}

async fn api(s: &Service, method: &str, path: &str, role: Role, body: Option<&Value>) -> Value {
    let mut headers = vec![("authorization", format!("Bearer {}", s.keys.key(role)))];
    let bytes = body
        .map(|b| serde_json::to_vec(b).expect("json"))
        .unwrap_or_default();
    if body.is_some() {
        headers.push(("content-type", "application/json".to_string()));
    }
    let r = crate::e2e::http(s.addr, method, path, &headers, &bytes).await;
    assert!(
        r.status < 300,
        "{method} {path}: {} {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    serde_json::from_slice(&r.body).expect("json body")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_serves_every_role_in_a_real_browser() {
    let (chromium, driver) = match browser_tools() {
        Ok(t) => t,
        Err(why) if in_ci() => panic!("CI: the console's browser test cannot run: {why}"),
        Err(why) => {
            println!("skipping the console's browser test: {why}");
            return;
        }
    };
    let mut s = start_service(CountySize::FromEnv).await;
    let base = format!("http://{}", s.addr);
    let (_driver, c) = start_browser(&chromium, &driver).await;

    // An invalid key stays on sign-in, with the reason.
    c.goto(&format!("{base}/")).await.expect("open");
    css(&c, "#signin #key")
        .await
        .send_keys("not-a-key")
        .await
        .expect("type");
    css(&c, "#signin button[type=submit]")
        .await
        .click()
        .await
        .expect("submit");
    wait_js(
        &c,
        "document.querySelector('#signin-error')?.textContent",
        10,
        "the sign-in error",
    )
    .await;
    assert!(
        c.find(Locator::Css("#principal")).await.is_err(),
        "an invalid key signed in"
    );
    screenshot(&c, "sign-in").await;
    // A key that stops working (here: a stale one in the session) returns to sign-in.
    c.execute(
        "sessionStorage.setItem('carefill.key', 'revoked-key');",
        vec![],
    )
    .await
    .expect("stale key");
    c.refresh().await.expect("reload");
    wait_js(
        &c,
        "document.querySelector('#signin-error')?.textContent.includes('sign in again')",
        10,
        "sign-in after a stale key",
    )
    .await;

    // Every role signs in and sees its own views.
    let expect: [(Role, &str, &[&str]); 5] = [
        (
            Role::Admin,
            "admin",
            &[
                "queue",
                "refer",
                "offers",
                "providers",
                "week",
                "map",
                "reports",
            ],
        ),
        (
            Role::Broker,
            "broker",
            &[
                "queue",
                "refer",
                "offers",
                "providers",
                "week",
                "map",
                "reports",
            ],
        ),
        (
            Role::Integrator,
            "integrator",
            &["queue", "refer", "map", "reports"],
        ),
        (Role::Provider, "provider", &["offers", "week"]),
        (Role::Planner, "planner", &["week"]),
    ];
    for (role, name, views) in expect {
        sign_in(&c, &base, s.keys.key(role), name).await;
        assert_eq!(nav_views(&c).await, views.to_vec(), "views of {name}");
        // The first view renders (no blank page).
        wait_js(
            &c,
            "document.querySelector('main .view')?.children.length > 0",
            20,
            "the first view",
        )
        .await;
    }

    // First render on this county: a fresh page load with a signed-in broker.
    sign_in(&c, &base, s.keys.key(Role::Broker), "broker").await;
    c.refresh().await.expect("reload");
    let first = wait_js(&c, "window.__carefillFirstRender", 30, "first render").await;
    println!(
        "console first render (page load to queue drawn): {:.0} ms",
        first.as_f64().unwrap_or(0.0)
    );

    // A bad referral shows the API's error at the field it names.
    go(&c, "refer").await;
    wait_js(
        &c,
        "document.querySelectorAll('#demo-referral option').length > 1",
        20,
        "demo referrals",
    )
    .await;
    css(&c, "#demo-referral")
        .await
        .select_by_index(1)
        .await
        .expect("pick");
    let dur = css(&c, "[data-path='$.package.visits[0].duration_min']").await;
    dur.clear().await.expect("clear");
    dur.send_keys("0").await.expect("type 0");
    css(&c, "#submit-referral")
        .await
        .click()
        .await
        .expect("refer");
    let err = wait_js(
        &c,
        "document.querySelector(\"[data-error-for='$.package.visits[0].duration_min']\")?.textContent",
        20,
        "the field error",
    )
    .await;
    assert!(!err.as_str().unwrap_or("").is_empty());
    assert_eq!(
        dur.attr("aria-invalid").await.expect("attr").as_deref(),
        Some("true")
    );
    screenshot(&c, "referral-error").await;

    // Refer a package to the planner's team: the person lives at the team's base,
    // the broker asks for recommendations and offers it to that team.
    let team = api(
        &s,
        "GET",
        &format!("/v1/teams/{}", s.team),
        Role::Broker,
        None,
    )
    .await;
    let base_loc = team["team"]["base"].clone();
    let base_loc = if base_loc.is_null() {
        team["base"].clone()
    } else {
        base_loc
    };
    // A waiting referral the planner's team can take once the person lives at its base
    // (found through the API; the browser then does what a broker would).
    let waiting = api(&s, "GET", "/v1/demo/referrals", Role::Broker, None).await;
    let mut chosen = None;
    for (i, r) in waiting["referrals"]
        .as_array()
        .expect("referrals")
        .iter()
        .enumerate()
    {
        let mut r = r.clone();
        r["service_user"]["location"] = base_loc.clone();
        let rec = api(
            &s,
            "POST",
            "/v1/recommendations?k=10",
            Role::Broker,
            Some(&r),
        )
        .await;
        let fits = rec["recommendations"]
            .as_array()
            .is_some_and(|l| l.iter().any(|c| c["team"] == json!(s.team)));
        if fits {
            chosen = Some(i);
            break;
        }
    }
    let chosen = chosen.expect("a demo referral the planner's team can take");
    // Pick it (through "choose", so the select fires a change and the form resets).
    let pick = css(&c, "#demo-referral").await;
    pick.select_by_index(0).await.expect("unpick");
    pick.select_by_value(&chosen.to_string())
        .await
        .expect("pick");
    let package = css(&c, "#package-id")
        .await
        .prop("value")
        .await
        .expect("value")
        .expect("package id");
    let person = css(&c, "[data-path='$.service_user.id']")
        .await
        .prop("value")
        .await
        .expect("value")
        .expect("person id");
    for (field, v) in [("lat", &base_loc["lat"]), ("lon", &base_loc["lon"])] {
        let el = css(
            &c,
            &format!("[data-path='$.service_user.location.{field}']"),
        )
        .await;
        el.clear().await.expect("clear");
        el.send_keys(&v.to_string()).await.expect("type");
    }
    css(&c, "#rec-k")
        .await
        .select_by_value("10")
        .await
        .expect("k");
    css(&c, "#recommend")
        .await
        .click()
        .await
        .expect("recommend");
    wait_js(
        &c,
        "document.querySelector('[data-rec]')",
        60,
        "recommendations",
    )
    .await;
    screenshot(&c, "recommendations").await;
    let apply = format!(
        "[data-apply][data-provider='{}'][data-team='{}']",
        s.provider, s.team
    );
    css(&c, &apply).await.click().await.expect("apply");
    wait_js(
        &c,
        "document.querySelector('#referral-done')",
        30,
        "the referral done",
    )
    .await;

    // The queue shows it with its offer and a running timer.
    go(&c, "queue").await;
    let row = format!("#queue-rows tr[data-package='{package}']");
    css(&c, &row).await;
    let timer = wait_js(
        &c,
        &format!("document.querySelector(\"{row} [data-offer-timer]\")?.textContent"),
        10,
        "the offer timer",
    )
    .await;
    assert!(
        timer.as_str().is_some_and(|t| t.contains("min")),
        "offer timer {timer}"
    );
    let offers_out = c
        .execute(
            &format!("return document.querySelector(\"{row} [data-offers]\").textContent;"),
            vec![],
        )
        .await
        .expect("offers out");
    assert_eq!(offers_out, json!("1"));
    css(&c, &row).await.click().await.expect("open package");
    css(
        &c,
        &format!("[data-package-detail='{package}'] [data-offer]"),
    )
    .await;
    screenshot(&c, "queue").await;

    // The provider sees the offer with its countdown, and no name or address.
    sign_in(&c, &base, s.keys.key(Role::Provider), "provider").await;
    go(&c, "offers").await;
    let card = format!("#open-offers [data-package='{package}']");
    css(&c, &card).await;
    wait_js(
        &c,
        &format!("document.querySelector(\"{card} [data-offer-timer]\")?.textContent"),
        10,
        "offer countdown",
    )
    .await;
    let dom = c.source().await.expect("source");
    let lat = base_loc["lat"].as_f64().expect("lat");
    let lon = base_loc["lon"].as_f64().expect("lon");
    for secret in [person.clone(), format!("{lat:.3}"), format!("{lon:.3}")] {
        assert!(
            !dom.contains(&secret),
            "the provider's DOM holds `{secret}` before acceptance"
        );
    }
    screenshot(&c, "provider-offers").await;
    css(&c, &format!("{card} [data-accept]"))
        .await
        .click()
        .await
        .expect("accept");
    wait_js(
        &c,
        &format!("!document.querySelector(\"{card}\")"),
        30,
        "the offer leaving the open list",
    )
    .await;
    // After acceptance the provider learns who and where.
    wait_js(
        &c,
        &format!("document.querySelector('#recent-offers')?.textContent.includes('{person}')"),
        10,
        "person after acceptance",
    )
    .await;

    // It has left the broker's queue.
    sign_in(&c, &base, s.keys.key(Role::Broker), "broker").await;
    go(&c, "queue").await;
    wait_js(
        &c,
        "document.querySelector('#queue-count')?.textContent",
        20,
        "the queue",
    )
    .await;
    wait_js(
        &c,
        &format!("!document.querySelector(\"{row}\")"),
        20,
        "the package leaving the queue",
    )
    .await;
    // Live: a referral made elsewhere appears without a reload (server-sent events;
    // the fallback poll is 15 s, so this waits for less).
    let live_before = wait_js(&c, "window.__carefillLive() + 1", 5, "live counter").await;
    // (Offered to one recommended team, so it stays open whatever the cascade would do.)
    let mut next = Value::Null;
    for r in api(&s, "GET", "/v1/demo/referrals", Role::Broker, None).await["referrals"]
        .as_array()
        .expect("referrals")
    {
        // Emergency cover takes a package at once; any other team gets an open offer.
        let rec = api(
            &s,
            "POST",
            "/v1/recommendations?k=10",
            Role::Integrator,
            Some(r),
        )
        .await;
        let team = rec["recommendations"]
            .as_array()
            .and_then(|l| l.iter().find(|c| c["tier"] != "emergency_cover"));
        if let Some(first) = team {
            next = r.clone();
            next["provider"] = first["provider"].clone();
            next["team"] = first["team"].clone();
            break;
        }
    }
    let other = next["package"]["id"]
        .as_str()
        .expect("a referral some team can take")
        .to_string();
    let referred = api(
        &s,
        "POST",
        "/v1/recommendations/apply",
        Role::Integrator,
        Some(&next),
    )
    .await;
    assert_eq!(referred["record"]["status"], "open");
    wait_js(
        &c,
        &format!("document.querySelector(\"#queue-rows tr[data-package='{other}']\")"),
        8,
        "a live update in the queue",
    )
    .await;
    assert!(
        wait_js(&c, "window.__carefillLive() + 1", 5, "live counter")
            .await
            .as_u64()
            > live_before.as_u64()
    );

    // The map draws the county from GeoJSON.
    go(&c, "map").await;
    css(&c, "#map-box svg path.area").await;
    css(&c, &format!("#map-box svg [data-waiting='{other}']")).await;
    screenshot(&c, "map").await;
    // Without a tile URL the map draws no tiles and the page asks nothing
    // outside its own origin.
    assert_eq!(
        c.execute(
            "return document.querySelector('#map-box svg').dataset.tiles;",
            vec![]
        )
        .await
        .expect("tiles"),
        json!("0")
    );
    assert_eq!(
        c.execute(
            "return performance.getEntriesByType('resource').map(e => e.name).filter(u => new URL(u).origin !== location.origin);",
            vec![],
        )
        .await
        .expect("resources"),
        json!([])
    );

    // ... and is on the planner's Gantt.
    sign_in(&c, &base, s.keys.key(Role::Planner), "planner").await;
    go(&c, "week").await;
    let bar = format!("#gantt rect[data-visit^='{package}/']");
    css(&c, &bar).await;
    let gantt_ms = wait_js(
        &c,
        "Number(document.querySelector('#view-week').dataset.ganttMs)",
        10,
        "gantt time",
    )
    .await;
    let bars = c
        .execute(
            "return Number(document.querySelector('#view-week').dataset.bars);",
            vec![],
        )
        .await
        .expect("bars");
    println!(
        "gantt render (team {}, whole week, {bars} bars): {:.1} ms",
        s.team,
        gantt_ms.as_f64().unwrap_or(0.0)
    );
    screenshot(&c, "planner-week").await;

    // An absence re-plans the team and the moved visits are highlighted.
    css(&c, "#absence-submit")
        .await
        .click()
        .await
        .expect("absence");
    css(&c, "#changes").await;
    let moved = wait_js(
        &c,
        "document.querySelectorAll('#gantt rect.moved').length",
        30,
        "moved visits highlighted",
    )
    .await;
    assert!(moved.as_u64().unwrap_or(0) > 0);
    screenshot(&c, "planner-absence").await;
    // The server agrees: the carer is absent and every rota passes the checker.
    s.svc.read(|b, _| {
        for (team, rota) in &b.rotas {
            let req = b.team_request(team).expect("team");
            let p = carefill_solver::model::Problem::from_request(&req).expect("problem");
            let rep = carefill_solver::check::check(&p, rota);
            assert!(
                rep.violations.is_empty(),
                "team {team}: {:?}",
                rep.violations.first()
            );
        }
    });

    pin_and_re_solve(&s, &c).await;
    carer_week_link(&s, &c, &base).await;

    // Reports draw as charts.
    sign_in(&c, &base, s.keys.key(Role::Broker), "broker").await;
    go(&c, "reports").await;
    css(&c, "#report-fill svg path.series").await;
    css(&c, "#report-fill [data-vline='1.5 h']").await;
    css(&c, "#report-fill [data-hline='97%']").await;
    wait_js(
        &c,
        "document.querySelector('#report-pool svg path.series, #report-pool .muted')",
        20,
        "the risk pool chart",
    )
    .await;
    // Capacity by area, day and period; unfilled packages by delayed-discharge reason.
    css(&c, "#report-periods svg.grid rect.cell").await;
    css(&c, "#report-capacity svg rect.bar").await;
    wait_js(
        &c,
        "document.querySelector('#report-unfilled svg rect.bar, #report-unfilled .muted')",
        20,
        "the unfilled chart",
    )
    .await;
    // Every chart downloads its CSV, with a header row.
    c.execute(
        "window.__csvs = []; const make = URL.createObjectURL; \
         URL.createObjectURL = (b) => { window.__csvs.push(b); return make(b); }; \
         document.querySelectorAll('#view-reports [data-csv]').forEach((b) => b.click());",
        vec![],
    )
    .await
    .expect("CSV buttons");
    let buttons = c
        .execute(
            "return document.querySelectorAll('#view-reports [data-csv]').length;",
            vec![],
        )
        .await
        .expect("buttons");
    assert_eq!(buttons, json!(8), "a CSV button on each report");
    wait_js(&c, "window.__csvs.length === 8", 10, "eight CSV files").await;
    let texts = c
        .execute_async(
            "const done = arguments[arguments.length - 1]; Promise.all(window.__csvs.map((b) => b.text())).then(done);",
            vec![],
        )
        .await
        .expect("CSV texts");
    for t in texts.as_array().expect("texts") {
        let t = t.as_str().expect("text");
        let lines: Vec<&str> = t.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert!(
            !lines.is_empty() && lines[0].contains(','),
            "a CSV with a header: {t}"
        );
    }
    screenshot(&c, "reports").await;

    provider_status(&s, &c).await;

    // A stopped service shows the connection-lost banner.
    go(&c, "queue").await;
    if let Some(stop) = s.stop.take() {
        let _ = stop.send(());
    }
    wait_js(
        &c,
        "!document.querySelector('#banner').hidden",
        30,
        "the connection-lost banner",
    )
    .await;
    // The service comes back on the same address: the banner goes and live
    // updates flow again without a reload.
    s.stop = Some(restart(&s).await);
    wait_js(
        &c,
        "document.querySelector('#banner').hidden",
        30,
        "the banner gone after reconnecting",
    )
    .await;
    let live_before = wait_js(&c, "window.__carefillLive() + 1", 5, "live counter").await;
    let mut r =
        api(&s, "GET", "/v1/demo/referrals", Role::Broker, None).await["referrals"][0].clone();
    for (field, id) in [("package", "id"), ("service_user", "id")] {
        let renamed = format!("{}-back", r[field][id].as_str().expect("id"));
        r[field][id] = json!(renamed);
    }
    r["package"]["service_user"] = r["service_user"]["id"].clone();
    api(
        &s,
        "POST",
        "/v1/referrals",
        Role::Broker,
        Some(&json!({"package": r["package"], "service_user": r["service_user"]})),
    )
    .await;
    wait_js(
        &c,
        &format!("window.__carefillLive() + 1 > {live_before}"),
        20,
        "a live update after reconnecting",
    )
    .await;
    c.close().await.expect("close browser");
}

/// Serves `s`'s broker again on its address (after its server stopped); returns
/// the new server's stop signal.
async fn restart(s: &Service) -> oneshot::Sender<()> {
    let state = AppState::builder(s.keys.store().expect("key store"))
        .broker(Some(s.svc.clone()))
        .build()
        .expect("state");
    let started = Instant::now();
    let listener = loop {
        let sock = tokio::net::TcpSocket::new_v4().expect("socket");
        sock.set_reuseaddr(true).expect("reuse address");
        match sock.bind(s.addr).and_then(|()| sock.listen(64)) {
            Ok(l) => break l,
            Err(e) if started.elapsed() > Duration::from_secs(20) => {
                panic!("cannot listen on {} again: {e}", s.addr)
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(carefill_api::serve(listener, state, async {
        let _ = rx.await;
    }));
    tx
}

/// The planner pins a visit, re-solves the week as a job, sees the preview and
/// publishes it: the pinned visit keeps its carer and start, and the published
/// rota passes the checker. The browser is signed in as the planner on the week.
async fn pin_and_re_solve(s: &Service, c: &Client) {
    // Pin a visit that the absence did not move.
    let picked = wait_js(
        c,
        "(() => { const b = document.querySelector('#gantt rect.visit:not(.moved)'); \
         return b && [b.dataset.visit, b.dataset.carer, b.dataset.start]; })()",
        10,
        "a visit to pin",
    )
    .await;
    let visit = picked[0].as_str().expect("visit").to_string();
    let sel = format!("#gantt rect[data-visit='{visit}']");
    css(c, &sel).await.click().await.expect("pin");
    wait_js(
        c,
        &format!("document.querySelector(\"{sel}\")?.hasAttribute('data-pinned') && document.querySelector('#pin-count')?.dataset.n === '1'"),
        10,
        "the visit pinned",
    )
    .await;
    let before: Vec<(String, String)> = s.svc.read(|b, _| {
        let mut out: Vec<(String, String)> = b.rotas[&s.team]
            .routes
            .iter()
            .flat_map(|r| {
                r.stops
                    .iter()
                    .filter(|st| st.visit == visit)
                    .map(|st| (r.carer.clone(), st.start.clone()))
            })
            .collect();
        out.sort();
        out
    });
    assert!(!before.is_empty());
    css(c, "#resolve-limit")
        .await
        .select_by_value("5")
        .await
        .expect("limit");
    css(c, "#resolve-start")
        .await
        .click()
        .await
        .expect("re-solve");
    wait_js(
        c,
        "document.querySelector('#resolve-progress [data-state]')",
        20,
        "job progress",
    )
    .await;
    screenshot(c, "planner-resolve").await;
    css(c, "#resolve-publish").await;
    wait_js(
        c,
        "document.querySelector('#week-preview')",
        10,
        "the preview on the Gantt",
    )
    .await;
    css(c, "#resolve-publish")
        .await
        .click()
        .await
        .expect("publish");
    wait_js(
        c,
        "document.querySelector('#resolve-published')",
        60,
        "the rota published",
    )
    .await;
    let after: Vec<(String, String)> = s.svc.read(|b, _| {
        let mut out: Vec<(String, String)> = b.rotas[&s.team]
            .routes
            .iter()
            .flat_map(|r| {
                r.stops
                    .iter()
                    .filter(|st| st.visit == visit)
                    .map(|st| (r.carer.clone(), st.start.clone()))
            })
            .collect();
        out.sort();
        out
    });
    assert_eq!(after, before, "the pinned visit {visit} moved");
    s.svc.read(|b, _| {
        let req = b.team_request(&s.team).expect("team");
        let p = carefill_solver::model::Problem::from_request(&req).expect("problem");
        let rep = carefill_solver::check::check(&p, &b.rotas[&s.team]);
        assert!(rep.violations.is_empty(), "{:?}", rep.violations.first());
    });
}

/// The planner issues a carer's week link; opened without a key, it shows that
/// carer's visits and no one else's, with the calendar address.
async fn carer_week_link(s: &Service, c: &Client, base: &str) {
    let carer = wait_js(
        c,
        "document.querySelector('#share-carer')?.value",
        10,
        "the share card",
    )
    .await
    .as_str()
    .expect("carer")
    .to_string();
    css(c, "#share-create")
        .await
        .click()
        .await
        .expect("create link");
    let href = wait_js(
        c,
        "document.querySelector('#share-link')?.href",
        10,
        "the week link",
    )
    .await
    .as_str()
    .expect("href")
    .to_string();
    assert!(href.starts_with(base), "{href}");
    // A fresh tab's state: no key in the session.
    c.execute("sessionStorage.clear();", vec![])
        .await
        .expect("clear");
    c.goto(&href).await.expect("open link");
    c.refresh().await.expect("load link");
    css(c, "#view-carer-week").await;
    wait_js(
        c,
        "document.querySelector('#carer-ics-url')?.textContent.includes('/v1/carer-week/calendar.ics?token=')",
        20,
        "the calendar address",
    )
    .await;
    let shown: Vec<String> = serde_json::from_value(
        c.execute(
            "return [...document.querySelectorAll('#view-carer-week [data-visit]')].map(e => e.dataset.visit).sort();",
            vec![],
        )
        .await
        .expect("visits"),
    )
    .expect("list");
    let (own, others): (Vec<String>, Vec<String>) = s.svc.read(|b, _| {
        let mut own = Vec::new();
        let mut others = Vec::new();
        for r in &b.rotas[&s.team].routes {
            for st in &r.stops {
                if r.carer == carer {
                    own.push(st.visit.clone());
                } else {
                    others.push(st.visit.clone());
                }
            }
        }
        own.sort();
        (own, others)
    });
    assert_eq!(shown, own, "the carer's page shows exactly their visits");
    let dom = c.source().await.expect("source");
    for v in others.iter().filter(|v| !own.contains(v)) {
        assert!(
            !dom.contains(v.as_str()),
            "another carer's visit {v} is on the page"
        );
    }
    screenshot(c, "carer-week").await;
}

/// A broker fails a provider: the confirmation names the people and packages the
/// API's preview counts, and afterwards each person's package is listed with
/// where it went.
async fn provider_status(s: &Service, c: &Client) {
    let victim = api(s, "GET", "/v1/providers", Role::Broker, None).await["providers"]
        .as_array()
        .expect("providers")
        .iter()
        .map(|p| p["id"].as_str().unwrap_or_default().to_string())
        .find(|p| *p != s.provider)
        .expect("a second provider");
    let impact = api(
        s,
        "GET",
        &format!("/v1/providers/{victim}/impact?status=failed"),
        Role::Broker,
        None,
    )
    .await;
    go(c, "providers").await;
    css(
        c,
        &format!("#providers tr[data-provider='{victim}'] [data-action='failed']"),
    )
    .await
    .click()
    .await
    .expect("fail");
    let people = wait_js(
        c,
        "document.querySelector('#impact-people')?.dataset.n",
        20,
        "the confirmation",
    )
    .await;
    let packages = c
        .execute(
            "return document.querySelector('#impact-packages').dataset.n;",
            vec![],
        )
        .await
        .expect("packages");
    assert_eq!(people, json!(impact["people"].to_string()));
    assert_eq!(packages, json!(impact["packages"].to_string()));
    let summary = c
        .execute(
            "return document.querySelector('#impact-summary').textContent;",
            vec![],
        )
        .await
        .expect("summary");
    assert!(
        summary
            .as_str()
            .is_some_and(|t| t.contains(&format!("{} package", impact["packages"]))),
        "{summary}"
    );
    screenshot(c, "provider-status").await;
    css(c, "#impact-confirm")
        .await
        .click()
        .await
        .expect("confirm");
    let n = impact["affected"].as_array().map_or(0, Vec::len);
    wait_js(
        c,
        &format!("document.querySelectorAll('#where-went [data-went]').length === {n} && document.querySelector('#where-went')"),
        60,
        "where each person went",
    )
    .await;
    wait_js(
        c,
        &format!("document.querySelector(\"#providers tr[data-provider='{victim}'] [data-status='failed']\")"),
        20,
        "the provider shown failed",
    )
    .await;
    // Nobody is left with the failed provider.
    for a in impact["affected"].as_array().expect("affected") {
        let id = a["package"].as_str().expect("id");
        let now = wait_js(
            c,
            &format!("document.querySelector(\"#where-went [data-went='{id}']\")?.textContent"),
            5,
            "a row",
        )
        .await;
        assert!(
            !now.as_str().unwrap_or("").contains(&format!("{victim} /")),
            "{id}: {now}"
        );
    }
    screenshot(c, "provider-after").await;
}

/// Measurements, not assertions: first render on the demo county, the Gantt of
/// the demo team, and the queue with 1,000 open packages re-rendering after a
/// live update. Run with
/// `cargo test --test carefill console_measurements -- --ignored --nocapture`
/// (always on the county `carefill serve --demo` runs: 40 providers).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run by hand, prints numbers"]
async fn console_measurements() {
    let (chromium, driver) = browser_tools().expect("chromium and chromedriver");
    let s = start_service(CountySize::Demo).await;
    let base = format!("http://{}", s.addr);
    let (_driver, c) = start_browser(&chromium, &driver).await;
    let load = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    sign_in(&c, &base, s.keys.key(Role::Broker), "broker").await;
    for _ in 0..3 {
        c.refresh().await.expect("reload");
        let first = wait_js(&c, "window.__carefillFirstRender", 60, "first render").await;
        println!(
            "first render (page load to queue drawn): {:.0} ms; load {}",
            first.as_f64().unwrap_or(0.0),
            load().trim()
        );
    }
    sign_in(&c, &base, s.keys.key(Role::Planner), "planner").await;
    go(&c, "week").await;
    for _ in 0..3 {
        css(&c, "#gantt svg").await;
        let ms = wait_js(
            &c,
            "Number(document.querySelector('#view-week').dataset.ganttMs)",
            30,
            "gantt",
        )
        .await;
        let bars = c
            .execute(
                "return document.querySelector('#view-week').dataset.bars;",
                vec![],
            )
            .await
            .expect("bars");
        println!(
            "gantt of team {} ({bars} bars, whole week): {:.1} ms; load {}",
            s.team,
            ms.as_f64().unwrap_or(0.0),
            load().trim()
        );
        // Redraw: the zoom select redraws the whole week.
        c.execute(
            "const z = document.querySelector('#week-zoom'); z.value = '0'; z.dispatchEvent(new Event('change')); z.value = 'week'; z.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await
        .expect("redraw");
    }

    // 1,000 open packages through the API (batches of 250 demo referrals with new ids).
    let waiting = api(&s, "GET", "/v1/demo/referrals", Role::Broker, None).await["referrals"]
        .as_array()
        .expect("referrals")
        .clone();
    let started = Instant::now();
    let mut n = 0;
    while n < 1000 {
        let batch: Vec<Value> = (n..n + 250)
            .map(|i| {
                let mut r = waiting[i % waiting.len()].clone();
                let pid = format!("{}-m{i}", r["package"]["id"].as_str().unwrap_or("p"));
                let uid = format!("{}-m{i}", r["service_user"]["id"].as_str().unwrap_or("u"));
                r["package"]["id"] = json!(pid);
                r["package"]["service_user"] = json!(uid);
                r["service_user"]["id"] = json!(uid);
                json!({"package": r["package"], "service_user": r["service_user"]})
            })
            .collect();
        api(
            &s,
            "POST",
            "/v1/referrals/batch",
            Role::Broker,
            Some(&json!({ "referrals": batch })),
        )
        .await;
        n += 250;
    }
    println!(
        "seeded 1000 referrals in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    sign_in(&c, &base, s.keys.key(Role::Broker), "broker").await;
    go(&c, "queue").await;
    let rows = wait_js(
        &c,
        "document.querySelectorAll('#queue-rows tr[data-package]').length",
        60,
        "the queue",
    )
    .await;
    println!("queue rows: {rows}");
    for i in 0..5 {
        c.execute(
            "document.querySelector('#view-queue').dataset.drawMs = '';",
            vec![],
        )
        .await
        .expect("reset");
        // An update: one more referral, pushed to the console as a live event.
        let mut r = waiting[i % waiting.len()].clone();
        let pid = format!("{}-u{i}", r["package"]["id"].as_str().unwrap_or("p"));
        let uid = format!("{}-u{i}", r["service_user"]["id"].as_str().unwrap_or("u"));
        r["package"]["id"] = json!(pid);
        r["package"]["service_user"] = json!(uid);
        r["service_user"]["id"] = json!(uid);
        api(
            &s,
            "POST",
            "/v1/referrals",
            Role::Broker,
            Some(&json!({"package": r["package"], "service_user": r["service_user"]})),
        )
        .await;
        let ms = wait_js(
            &c,
            "Number(document.querySelector('#view-queue').dataset.drawMs)",
            30,
            "queue redraw",
        )
        .await;
        let total = c
            .execute(
                "return [document.querySelector('#view-queue').dataset.renderMs, document.querySelectorAll('#queue-rows tr[data-package]').length];",
                vec![],
            )
            .await
            .expect("render");
        println!(
            "queue update {i}: table rebuilt in {:.1} ms (fetch + rebuild ms, rows: {total}); load {}",
            ms.as_f64().unwrap_or(0.0),
            load().trim()
        );
    }
    // First render again, now with the queue full.
    c.refresh().await.expect("reload");
    let first = wait_js(&c, "window.__carefillFirstRender", 60, "first render").await;
    println!(
        "first render with {rows} packages in the queue: {:.0} ms; load {}",
        first.as_f64().unwrap_or(0.0),
        load().trim()
    );
    c.close().await.expect("close");
}

/// A tile server for the map: answers every GET with a small SVG tile and
/// records the paths asked for.
async fn tile_server() -> (SocketAddr, Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let path = head.split(' ').nth(1).unwrap_or_default().to_string();
                log.lock().expect("log").push(path.clone());
                let body = format!(
                    "<svg xmlns='http://www.w3.org/2000/svg' width='256' height='256'>\
                     <rect width='256' height='256' fill='#eef3ee' stroke='#cfd8cf'/>\
                     <text x='8' y='20' font-size='12' fill='#8a9a8a'>{path}</text></svg>"
                );
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: image/svg+xml\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(reply.as_bytes()).await;
            });
        }
    });
    (addr, seen)
}

/// "HH:MM" of an RFC 3339 instant on the clock of `zone`.
fn clock_of(zone: &carefill_solver::model::Zone, t: &str) -> String {
    let t = chrono::DateTime::parse_from_rfc3339(t)
        .expect("RFC 3339")
        .with_timezone(&chrono::Utc);
    t.with_timezone(&zone.offset_at(&t))
        .format("%H:%M")
        .to_string()
}

/// A summer (BST) week on a manual clock, with a tile server configured:
/// the planner's Gantt, the absence form and the carer's week are on the
/// team's clock (Europe/London, UTC+1), and the calendar feed reads back to
/// the rota's instants through its VTIMEZONE; an absence of the whole team
/// drops visits and the broker's alerts panel names each person and visit and
/// the emergency cover assigned; the map asks the configured tile origin for
/// tiles, and the page's policy blocks any other origin. Every rota passes
/// the checker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_summer_week_on_the_teams_clock_dropped_visit_alerts_and_map_tiles() {
    use carefill_solver::model::Zone;
    let (chromium, driver) = match browser_tools() {
        Ok(t) => t,
        Err(why) if in_ci() => panic!("CI: the console's browser test cannot run: {why}"),
        Err(why) => {
            println!("skipping the console's browser test: {why}");
            return;
        }
    };
    // Monday 15 June 2026, 09:00 BST.
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-06-15T08:00:00Z")
        .expect("t0")
        .with_timezone(&chrono::Utc);
    let county = tokio::task::spawn_blocking(move || {
        demo::county_at(
            &demo::small_profile(),
            11,
            40,
            t0,
            &carefill_solver::broker::HorizonPolicy::default(),
        )
        .expect("county")
    })
    .await
    .expect("county task");
    let (tiles, tile_log) = tile_server().await;
    let (probe, probe_log) = tile_server().await;
    let config = ServiceConfig {
        tile_url: Some(format!("http://{tiles}/{{z}}/{{x}}/{{y}}.svg")),
        ..Default::default()
    };
    let s = start_service_with(county, Box::new(ManualClock::new(t0)), config).await;
    let base = format!("http://{}", s.addr);
    let (_driver, c) = start_browser(&chromium, &driver).await;
    let zone = s.svc.read(|b, _| Zone::of(&b.roster.horizon));
    assert_eq!(zone.name(), Some("Europe/London"));

    // The planner's Gantt is on the team's clock, not UTC.
    sign_in(&c, &base, s.keys.key(Role::Planner), "planner").await;
    go(&c, "week").await;
    css(&c, "#gantt rect.visit").await;
    assert_eq!(
        wait_js(
            &c,
            "document.querySelector('#week-zone')?.dataset.zone",
            10,
            "the zone"
        )
        .await,
        json!("Europe/London")
    );
    let bars: Vec<(String, String)> = serde_json::from_value(
        c.execute(
            "return [...document.querySelectorAll('#gantt rect.visit')].map(b => [b.dataset.start, b.dataset.clock]);",
            vec![],
        )
        .await
        .expect("bars"),
    )
    .expect("pairs");
    assert!(!bars.is_empty());
    for (start, shown) in &bars {
        assert!(start.ends_with("+01:00"), "a June visit in BST: {start}");
        assert_eq!(shown, &clock_of(&zone, start), "the bar of {start}");
    }
    // A day's zoom puts each bar at its local minute of the day (150 px of names).
    c.execute(
        "const z = document.querySelector('#week-zoom'); z.value = '1'; z.dispatchEvent(new Event('change'));",
        vec![],
    )
    .await
    .expect("zoom");
    let placed: Vec<(f64, String)> = serde_json::from_value(
        c.execute(
            "return [...document.querySelectorAll('#gantt rect.visit')].map(b => [b.x.baseVal.value, b.dataset.clock]);",
            vec![],
        )
        .await
        .expect("bars"),
    )
    .expect("pairs");
    let mut checked = 0;
    for (x, hm) in placed
        .iter()
        .filter(|(x, _)| (150.0..150.0 + 1440.0).contains(x))
    {
        let (h, m) = hm.split_once(':').expect("HH:MM");
        let minute: f64 = h.parse::<f64>().expect("h") * 60.0 + m.parse::<f64>().expect("m");
        assert!(
            (x - 150.0 - minute).abs() < 0.01,
            "bar at {hm} drawn at x {x}"
        );
        checked += 1;
    }
    assert!(checked > 0, "bars on the zoomed day");
    c.execute(
        "const z = document.querySelector('#week-zoom'); z.value = 'week'; z.dispatchEvent(new Event('change'));",
        vec![],
    )
    .await
    .expect("zoom out");
    screenshot(&c, "planner-week-bst").await;
    // The absence form's local times are the team's: midnight on the second day is 23:00 UTC.
    let from = wait_js(
        &c,
        "document.querySelector('#absence-from')?.value",
        10,
        "the absence form",
    )
    .await;
    assert_eq!(from, json!("2026-06-16T00:00"));
    let carer = wait_js(
        &c,
        "document.querySelector('#absence-carer')?.value",
        10,
        "a carer",
    )
    .await;
    let carer = carer.as_str().expect("carer").to_string();
    // An absence ending when it starts: the API's error is at the `to` field.
    c.execute(
        "document.querySelector('#absence-to').value = '2026-06-16T00:00';",
        vec![],
    )
    .await
    .expect("bad end");
    css(&c, "#absence-submit")
        .await
        .click()
        .await
        .expect("bad absence");
    wait_js(
        &c,
        "document.querySelector(\"#absence [data-error-for='$.to']\")?.textContent",
        20,
        "the absence's field error",
    )
    .await;
    assert_eq!(
        css(&c, "#absence-to")
            .await
            .attr("aria-invalid")
            .await
            .expect("attr")
            .as_deref(),
        Some("true")
    );
    c.execute(
        "document.querySelector('#absence-to').value = '2026-06-17T00:00';",
        vec![],
    )
    .await
    .expect("good end");
    css(&c, "#absence-submit")
        .await
        .click()
        .await
        .expect("absence");
    css(&c, "#changes").await;
    let absent = s.svc.read(|b, _| {
        b.roster
            .carers
            .iter()
            .find(|x| x.id == carer)
            .map(|x| {
                x.absences
                    .iter()
                    .map(|a| a.from.clone())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    });
    assert!(
        absent
            .iter()
            .any(|f| chrono::DateTime::parse_from_rfc3339(f)
                .is_ok_and(
                    |t| t.with_timezone(&chrono::Utc).to_rfc3339() == "2026-06-15T23:00:00+00:00"
                )),
        "absence from local midnight: {absent:?}"
    );

    // The carer's week shows local times; the calendar feed reads back to the rota.
    let link = api(
        &s,
        "POST",
        &format!("/v1/carers/{carer}/week-link"),
        Role::Planner,
        Some(&json!({})),
    )
    .await;
    let (want, own) = s.svc.read(|b, _| {
        let mut want = Vec::new();
        let mut own = std::collections::BTreeMap::new();
        for r in b.rotas[&s.team].routes.iter().filter(|r| r.carer == carer) {
            for st in &r.stops {
                want.push((
                    st.visit.clone(),
                    format!(
                        "{}–{}",
                        clock_of(&zone, &st.start),
                        clock_of(&zone, &st.end)
                    ),
                ));
                own.insert(
                    format!("{}/{carer}@carefill", st.visit),
                    (st.start.clone(), st.end.clone()),
                );
            }
        }
        (want, own)
    });
    assert!(!want.is_empty(), "the carer has visits after the absence");
    c.goto(&format!(
        "{base}{}",
        link["console_path"].as_str().expect("path")
    ))
    .await
    .expect("open link");
    c.refresh().await.expect("load link");
    css(&c, "#view-carer-week [data-visit]").await;
    assert_eq!(
        wait_js(
            &c,
            "document.querySelector('#carer-zone')?.dataset.zone",
            10,
            "zone"
        )
        .await,
        json!("Europe/London")
    );
    for (visit, hm) in &want {
        let shown = c
            .execute(
                &format!("return document.querySelector(\"#view-carer-week tr[data-visit='{visit}'] strong\")?.textContent;"),
                vec![],
            )
            .await
            .expect("row");
        assert_eq!(shown, json!(hm), "carer's week row of {visit}");
    }
    screenshot(&c, "carer-week-bst").await;
    // A changed token is refused with the API's reason, not a blank page.
    let bad =
        link["console_path"]
            .as_str()
            .expect("path")
            .replacen("carer-week/", "carer-week/x", 1);
    c.goto(&format!("{base}{bad}"))
        .await
        .expect("open bad link");
    c.refresh().await.expect("load bad link");
    css(&c, "#view-carer-week .problem[data-status='403']").await;
    let ics = crate::e2e::http(
        s.addr,
        "GET",
        link["calendar_path"].as_str().expect("calendar"),
        &[],
        b"",
    )
    .await;
    assert_eq!(ics.status, 200);
    let events = crate::console_api::parse_ics(&String::from_utf8_lossy(&ics.body));
    assert_eq!(events.len(), own.len());
    for e in &events {
        assert_eq!(e.tzid.as_deref(), Some("Europe/London"));
        let (a, b) = &own[&e.uid];
        assert_eq!(
            e.start.to_rfc3339(),
            chrono::DateTime::parse_from_rfc3339(a)
                .expect("a")
                .with_timezone(&chrono::Utc)
                .to_rfc3339()
        );
        assert_eq!(
            e.end.to_rfc3339(),
            chrono::DateTime::parse_from_rfc3339(b)
                .expect("b")
                .with_timezone(&chrono::Utc)
                .to_rfc3339()
        );
    }

    // The whole team off sick this afternoon drops visits: the broker's console
    // shows each as an alert with its person, and the emergency cover assigned.
    sign_in(&c, &base, s.keys.key(Role::Broker), "broker").await;
    go(&c, "queue").await;
    wait_js(
        &c,
        "document.querySelector('#queue-count')?.textContent",
        20,
        "the queue",
    )
    .await;
    let carers: Vec<String> = s.svc.read(|b, _| {
        b.roster
            .carers
            .iter()
            .filter(|x| x.team.as_deref() == Some(s.team.as_str()))
            .map(|x| x.id.clone())
            .collect()
    });
    let absence = json!({"from": "2026-06-15T13:00:00+01:00", "to": "2026-06-15T23:59:00+01:00", "reason": "sick"});
    let (mut dropped, mut cover) = (Vec::new(), Vec::new());
    for id in &carers {
        let v = api(
            &s,
            "POST",
            &format!("/v1/carers/{id}/absences"),
            Role::Admin,
            Some(&absence),
        )
        .await;
        dropped.extend(
            v["changes"]["dropped"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
        cover.extend(v["emergency_cover"].as_array().cloned().unwrap_or_default());
    }
    assert!(!dropped.is_empty(), "the whole team away drops visits");
    assert!(
        dropped.len() <= 50,
        "the panel lists 50 alerts; {} dropped",
        dropped.len()
    );
    assert!(
        !cover.is_empty(),
        "the standby team covers some dropped visits"
    );
    for d in &dropped {
        let visit = d["visit"].as_str().expect("visit");
        let row = format!("#alert-rows tr[data-alert='visit_dropped'][data-visit='{visit}']");
        wait_js(
            &c,
            &format!("document.querySelector(\"{row}\")"),
            20,
            &format!("the alert of {visit}"),
        )
        .await;
        let (person, text, shown_cover): (String, String, String) = serde_json::from_value(
            c.execute(
                &format!("const r = document.querySelector(\"{row}\"); return [r.dataset.person, r.textContent, r.querySelector('[data-cover]').dataset.cover];"),
                vec![],
            )
            .await
            .expect("row"),
        )
        .expect("cells");
        assert_eq!(json!(person), d["person"], "{visit}");
        assert!(
            text.contains(visit) && text.contains(person.as_str()),
            "{text}"
        );
        let want_cover = cover
            .iter()
            .find(|e| e["visit"] == json!(visit))
            .map(|e| {
                e["carers"]
                    .as_array()
                    .expect("carers")
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        assert_eq!(shown_cover, want_cover, "cover of {visit}");
    }
    c.execute(
        "document.querySelector('#alerts details')?.scrollIntoView();",
        vec![],
    )
    .await
    .expect("scroll");
    screenshot(&c, "alerts").await;
    s.svc.read(|b, _| {
        for (team, rota) in &b.rotas {
            let req = b.team_request(team).expect("team");
            let p = carefill_solver::model::Problem::from_request(&req).expect("problem");
            let rep = carefill_solver::check::check(&p, rota);
            assert!(
                rep.violations.is_empty(),
                "team {team}: {:?}",
                rep.violations.first()
            );
        }
    });

    // The map asks the configured tile server, and nothing else outside the page's origin.
    go(&c, "map").await;
    css(&c, "#map-box svg image.tile").await;
    let started = Instant::now();
    while tile_log.lock().expect("log").is_empty() && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let asked = tile_log.lock().expect("log").clone();
    assert!(!asked.is_empty(), "no tile was requested");
    for p in &asked {
        let parts: Vec<&str> = p
            .trim_start_matches('/')
            .trim_end_matches(".svg")
            .split('/')
            .collect();
        assert!(
            parts.len() == 3 && parts.iter().all(|n| n.parse::<u32>().is_ok()),
            "tile path {p}"
        );
    }
    let outside: Vec<String> = serde_json::from_value(
        c.execute(
            &format!("return performance.getEntriesByType('resource').map(e => e.name).filter(u => ![location.origin, 'http://{tiles}'].includes(new URL(u).origin));"),
            vec![],
        )
        .await
        .expect("resources"),
    )
    .expect("names");
    assert!(
        outside.is_empty(),
        "requests outside the page and tile origins: {outside:?}"
    );
    screenshot(&c, "map-tiles").await;
    // An image from any other origin is refused by the policy before it is asked for.
    c.execute(
        &format!("window.__blocked = []; document.addEventListener('securitypolicyviolation', e => window.__blocked.push(e.blockedURI)); \
                  const i = new Image(); i.src = 'http://{probe}/probe.png'; document.body.append(i);"),
        vec![],
    )
    .await
    .expect("probe");
    wait_js(
        &c,
        &format!("window.__blocked.some(u => u.startsWith('http://{probe}'))"),
        10,
        "the policy refusing another origin",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        probe_log.lock().expect("log").is_empty(),
        "another origin was asked"
    );
    c.close().await.expect("close browser");
}
