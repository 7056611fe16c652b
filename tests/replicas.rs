//! Two real `carefill` server processes on one real PostgreSQL database: one
//! holds the broker's writer lease, the other serves reads, answers commands
//! with 503 `read_replica` and follows the audit log; when the writer is killed
//! with SIGKILL the reader takes the lease and nothing acknowledged is lost.

use crate::e2e::call;
use carefill_api::auth::DemoKeys;
use carefill_api::broker_service::{BrokerService, SystemClock, drive};
use carefill_api::store::{self, Baseline};
use carefill_api::{AppState, KeyStore};
use carefill_solver::broker::demo::{self, DemoCounty};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

fn county() -> &'static DemoCounty {
    static C: OnceLock<DemoCounty> = OnceLock::new();
    C.get_or_init(|| demo::county(&demo::small_profile(), 11, 40).expect("county"))
}

/// One replica: the server process of [`two_replicas_share_one_postgres_and_fail_over`]
/// (run by that test as a child process of this test binary; ignored otherwise).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "child process of two_replicas_share_one_postgres_and_fail_over"]
async fn replica_server_child() {
    let (Ok(db), Ok(keys)) = (
        std::env::var("CAREFILL_CHILD_DB"),
        std::env::var("CAREFILL_CHILD_KEYS"),
    ) else {
        panic!("run only by two_replicas_share_one_postgres_and_fail_over");
    };
    // The PostgreSQL client is synchronous: open it off the async workers.
    let svc = tokio::task::spawn_blocking(move || {
        let store = store::open(&db).expect("store");
        Arc::new(
            BrokerService::open(store, Box::new(SystemClock), || {
                let c = county();
                Ok(Baseline {
                    config: Default::default(),
                    roster: c.roster.clone(),
                    rotas: c.rotas.clone(),
                })
            })
            .expect("service"),
        )
    })
    .await
    .expect("open");
    tokio::spawn(drive(svc.clone(), Duration::from_secs(1)));
    let keys = KeyStore::load(std::path::Path::new(&keys)).expect("keys");
    let state = AppState::builder(keys)
        .broker(Some(svc))
        .build()
        .expect("state");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    println!("ADDR {}", listener.local_addr().expect("addr"));
    use std::io::Write;
    std::io::stdout().flush().expect("flush");
    carefill_api::serve(listener, state, std::future::pending::<()>()).await;
}

struct Replica {
    process: std::process::Child,
    addr: SocketAddr,
}

fn spawn_replica(db: &str, keys: &std::path::Path) -> Replica {
    use std::io::BufRead;
    let exe = std::env::current_exe().expect("test binary");
    let mut process = std::process::Command::new(exe)
        .args([
            "--ignored",
            "--exact",
            "replicas::replica_server_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("CAREFILL_CHILD_DB", db)
        .env("CAREFILL_CHILD_KEYS", keys)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn replica");
    let out = process.stdout.take().expect("stdout");
    let mut lines = std::io::BufReader::new(out).lines();
    let addr = loop {
        let line = lines.next().expect("replica output").expect("line");
        if let Some(a) = line.split("ADDR ").nth(1) {
            break a.parse().expect("addr");
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Replica { process, addr }
}

/// Polls `f` every 100 ms until it answers `Some`, for at most `limit`.
async fn eventually<T, F, Fut>(limit: Duration, mut f: F) -> Option<(T, Duration)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if let Some(v) = f().await {
            return Some((v, t0.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// A fresh database of its own on the test server (the store test in
/// `broker.rs` resets the default one).
fn fresh_database(url: &str) -> String {
    let name = format!("carefill_replicas_{}", std::process::id());
    let mut c = postgres::Client::connect(url, postgres::NoTls).expect("connect");
    c.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .expect("drop");
    c.batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create");
    let base = url.rsplit_once('/').map_or(url, |(b, _)| b);
    format!("{base}/{name}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_one_postgres_and_fail_over() {
    let Ok(url) = std::env::var("CAREFILL_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must provide CAREFILL_TEST_POSTGRES_URL"
        );
        eprintln!("CAREFILL_TEST_POSTGRES_URL not set: replica test not run");
        return;
    };
    let db = tokio::task::spawn_blocking(move || fresh_database(&url))
        .await
        .expect("database");
    let keys = DemoKeys::generate("prov-01", "team-001").expect("keys");
    let keys_path =
        std::env::temp_dir().join(format!("carefill-replica-keys-{}.json", std::process::id()));
    std::fs::write(
        &keys_path,
        serde_json::to_string(&keys.file).expect("keys json"),
    )
    .expect("write keys");
    let broker_key = keys.key(carefill_api::Role::Broker).to_string();
    let referrals = &county().referrals;
    assert!(referrals.len() >= 2);
    let referral = |i: usize| json!({"package": referrals[i].0, "service_user": referrals[i].1});

    let mut writer = spawn_replica(&db, &keys_path);
    let mut reader = spawn_replica(&db, &keys_path);

    // The reader refuses commands with a retryable 503 naming why.
    let r = call(
        reader.addr,
        &broker_key,
        "POST",
        "/v1/referrals",
        Some(&referral(0)),
    )
    .await;
    assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["code"], "read_replica");
    assert!(r.header("retry-after").is_some());

    // The writer takes it; the reader serves it soon after.
    let first = referrals[0].0.id.clone();
    let r = call(
        writer.addr,
        &broker_key,
        "POST",
        "/v1/referrals",
        Some(&referral(0)),
    )
    .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let on_writer = call(
        writer.addr,
        &broker_key,
        "GET",
        &format!("/v1/packages/{first}"),
        None,
    )
    .await
    .json();
    let followed = eventually(Duration::from_secs(30), || async {
        let r = call(
            reader.addr,
            &broker_key,
            "GET",
            &format!("/v1/packages/{first}"),
            None,
        )
        .await;
        (r.status == 200).then(|| r.json())
    })
    .await
    .expect("the reader follows the writer's referral");
    assert_eq!(followed.0["record"], on_writer["record"]);
    assert_eq!(followed.0["offers"], on_writer["offers"]);
    eprintln!("reader followed the writer in {:?}", followed.1);

    // Kill the writer: the reader takes the lease and accepts commands.
    writer.process.kill().expect("SIGKILL");
    let _ = writer.process.wait();
    let second = referral(1);
    let took_over = eventually(Duration::from_secs(60), || async {
        let r = call(
            reader.addr,
            &broker_key,
            "POST",
            "/v1/referrals",
            Some(&second),
        )
        .await;
        (r.status == 201).then_some(())
    })
    .await
    .expect("the reader takes over the writer lease");
    eprintln!("writer lease taken over {:?} after SIGKILL", took_over.1);
    // Nothing acknowledged by the dead writer is lost.
    let r = call(
        reader.addr,
        &broker_key,
        "GET",
        &format!("/v1/packages/{first}"),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["record"]["package"]["id"],
        on_writer["record"]["package"]["id"]
    );
    let listed = call(reader.addr, &broker_key, "GET", "/v1/packages", None)
        .await
        .json();
    let ids: Vec<&str> = listed["packages"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| p["package"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        ids.contains(&first.as_str()) && ids.contains(&referrals[1].0.id.as_str()),
        "{ids:?}"
    );
    reader.process.kill().expect("stop");
    let _ = reader.process.wait();
    let _ = std::fs::remove_file(&keys_path);
}
