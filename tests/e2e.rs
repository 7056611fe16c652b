//! End to end over real TCP: the real server (`carefill_api::serve`) on 127.0.0.1:0 and a
//! small HTTP/1.1 client written here (one request per connection, `Connection: close`).
//! Covers health, auth 401/403, a synchronous solve, a job submit → status → cancel →
//! result, problem+json errors, metrics, and graceful shutdown cancelling a running job.

use crate::support::{bearer, state_with};
use carefill_api::auth::DemoKeys;
use carefill_api::{AppState, Role, ServiceConfig};
use carefill_solver::format::{PlanningRequest, Rota};
use carefill_solver::testing::{assert_feasible, load_request, problem};
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

struct Server {
    addr: SocketAddr,
    keys: DemoKeys,
    state: AppState,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Server {
    async fn start(config: ServiceConfig) -> Self {
        let (state, keys) = state_with(config, true);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(carefill_api::serve(listener, state.clone(), async {
            let _ = rx.await;
        }));
        Self {
            addr,
            keys,
            state,
            stop: Some(tx),
            task,
        }
    }

    fn auth(&self, role: Role) -> (&'static str, String) {
        ("authorization", bearer(&self.keys, role))
    }

    async fn get(&self, path: &str, role: Role) -> Resp {
        http(self.addr, "GET", path, &[self.auth(role)], b"").await
    }

    async fn post_json(&self, path: &str, role: Role, body: &[u8]) -> Resp {
        let headers = [
            self.auth(role),
            ("content-type", "application/json".to_string()),
        ];
        http(self.addr, "POST", path, &headers, body).await
    }

    async fn shutdown(mut self) -> AppState {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.expect("server task");
        self.state
    }
}

#[derive(Debug)]
pub(crate) struct Resp {
    pub(crate) status: u16,
    headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Resp {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 request on a fresh connection; reads the response to EOF.
/// A request with a bearer key and an optional JSON body.
pub(crate) async fn call(
    addr: SocketAddr,
    key: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Resp {
    let mut headers = vec![("authorization", format!("Bearer {key}"))];
    let bytes = body
        .map(|b| serde_json::to_vec(b).expect("json"))
        .unwrap_or_default();
    if body.is_some() {
        headers.push(("content-type", "application/json".to_string()));
    }
    http(addr, method, path, &headers, &bytes).await
}

pub(crate) async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Resp {
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-length"))
    {
        head.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("write head");
    stream.write_all(body).await.expect("write body");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let resp = parse_response(&raw);
    crate::contract::assert_documented(
        method,
        path,
        resp.status,
        resp.header("content-type"),
        &resp.body,
    );
    resp
}

fn parse_response(raw: &[u8]) -> Resp {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of head");
    let head = std::str::from_utf8(&raw[..split]).expect("UTF-8 head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Resp {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size_text = std::str::from_utf8(&data[..line_end]).expect("chunk size");
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .expect("hex chunk size");
        data = &data[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

fn request_body(fixture: &str) -> (PlanningRequest, Vec<u8>) {
    let request: PlanningRequest = load_request(fixture);
    let body = serde_json::to_vec(&request).expect("serialise");
    (request, body)
}

/// Polls the job until `done(status)`; at most `polls` times, 50 ms apart.
async fn poll_job(server: &Server, id: &str, polls: usize, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..polls {
        last = server
            .get(&format!("/v1/rota/jobs/{id}"), Role::Planner)
            .await
            .json();
        if done(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {id} never reached the wanted state: {last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_auth_and_problem_json_errors_over_tcp() {
    let server = Server::start(ServiceConfig::default()).await;
    let addr = server.addr;

    let health = http(addr, "GET", "/health", &[], b"").await;
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");
    assert!(health.header("x-request-id").is_some());

    // 401 without a key and with a wrong one; 403 for a role the route does not allow.
    let anonymous = http(addr, "GET", "/v1/whoami", &[], b"").await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.header("www-authenticate"),
        Some("Bearer realm=\"carefill\"")
    );
    assert_eq!(
        anonymous.header("content-type"),
        Some("application/problem+json")
    );
    let wrong = http(
        addr,
        "GET",
        "/v1/whoami",
        &[("authorization", "Bearer cf_wrong".into())],
        b"",
    )
    .await;
    assert_eq!(wrong.status, 401);
    let me = server.get("/v1/whoami", Role::Planner).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["scope"]["id"], crate::support::TEAM);
    let broker_solve = server
        .post_json("/v1/rota/solve", Role::Broker, b"{}")
        .await;
    assert_eq!(broker_solve.status, 403);
    assert_eq!(broker_solve.json()["code"], "forbidden");

    // problem+json errors, each with the request id we sent echoed in header and body.
    let admin = server.auth(Role::Admin);
    let json_ct = ("content-type", "application/json".to_string());
    /// (method, path, headers, body, expected status, expected code)
    type Case<'a> = (
        &'a str,
        &'a str,
        Vec<(&'a str, String)>,
        Vec<u8>,
        u16,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/v1/rota/solve",
            vec![admin.clone(), json_ct.clone()],
            b"{\"format\":".to_vec(),
            400,
            "malformed_json",
        ),
        (
            "POST",
            "/v1/rota/solve",
            vec![
                admin.clone(),
                json_ct.clone(),
                ("content-length", "17000000".into()),
            ],
            Vec::new(),
            413,
            "body_too_large",
        ),
        (
            "POST",
            "/v1/rota/solve",
            vec![admin.clone(), ("content-type", "text/csv".into())],
            b"a,b".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "POST",
            "/v1/requests/validate",
            vec![admin.clone(), json_ct.clone()],
            b"{\"format\":\"carefill/1\",\"horizon\":{\"start_date\":\"2026-13-01\",\"days\":0}}"
                .to_vec(),
            200,
            "",
        ),
        (
            "POST",
            "/v1/rota/solve",
            vec![admin.clone(), json_ct.clone()],
            b"{\"format\":\"carefill/1\",\"horizon\":{\"start_date\":\"2026-13-01\",\"days\":0}}"
                .to_vec(),
            422,
            "invalid_request",
        ),
        (
            "GET",
            "/v1/no/such/route",
            vec![admin.clone()],
            Vec::new(),
            404,
            "route_not_found",
        ),
        (
            "PUT",
            "/v1/rota/jobs",
            vec![admin.clone()],
            Vec::new(),
            405,
            "method_not_allowed",
        ),
    ];
    for (i, (method, path, mut headers, body, status, code)) in cases.into_iter().enumerate() {
        let id = format!("e2e-case-{i}");
        headers.push(("x-request-id", id.clone()));
        let resp = http(addr, method, path, &headers, &body).await;
        assert_eq!(resp.status, status, "{method} {path}: {}", resp.text());
        assert_eq!(resp.header("x-request-id"), Some(id.as_str()));
        if status >= 400 {
            assert_eq!(
                resp.header("content-type"),
                Some("application/problem+json")
            );
            let v = resp.json();
            assert_eq!(v["code"], code, "{method} {path}");
            assert_eq!(v["status"], status);
            assert_eq!(v["request_id"], id.as_str());
        }
    }

    // Metrics: counters by route template and status, and the broker's metrics registered.
    let metrics = http(addr, "GET", "/metrics", &[], b"").await;
    assert_eq!(metrics.status, 200);
    let text = metrics.text();
    for want in [
        "carefill_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"} 1",
        "carefill_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 1",
        "carefill_http_requests_total{method=\"POST\",route=\"/v1/rota/solve\",status=\"413\"} 1",
        "carefill_http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/whoami\",status=\"401\"",
        "carefill_solve_queue_depth 0",
        "carefill_solves_running 0",
        "carefill_unfilled_packages 0",
        "carefill_fill_time_minutes_count 0",
    ] {
        assert!(text.contains(want), "metrics lack {want}:\n{text}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_solve_and_a_cancelled_job_over_tcp() {
    let server = Server::start(ServiceConfig::default()).await;

    // Synchronous solve.
    let (small, small_body) = request_body("small_team.json");
    let solved = server
        .post_json(
            "/v1/rota/solve?time_limit_s=1&seed=3",
            Role::Planner,
            &small_body,
        )
        .await;
    assert_eq!(solved.status, 200, "{}", solved.text());
    let rota: Rota = serde_json::from_slice(&solved.body).expect("rota");
    assert_feasible(&problem(&small), &rota);

    // A long job: submit → status while running → result 409 → cancel → result is the best so far.
    let (week, week_body) = request_body("team_week.json");
    let submitted = server
        .post_json(
            "/v1/rota/jobs?time_limit_s=120&seed=1",
            Role::Planner,
            &week_body,
        )
        .await;
    assert_eq!(submitted.status, 202, "{}", submitted.text());
    let job = submitted.json();
    let id = job["id"].as_str().expect("job id").to_string();
    assert_eq!(
        submitted.header("location"),
        Some(format!("/v1/rota/jobs/{id}").as_str())
    );
    let running = poll_job(&server, &id, 2400, |s| {
        s["state"] == "running" && s["iterations"].as_u64().is_some_and(|n| n > 0)
    })
    .await;
    assert!(running["best"]["objective"].as_f64().is_some(), "{running}");
    assert!(running["elapsed_s"].as_f64().is_some(), "{running}");

    let early = server
        .get(&format!("/v1/rota/jobs/{id}/result"), Role::Planner)
        .await;
    assert_eq!(early.status, 409);
    assert_eq!(early.json()["code"], "job_not_finished");
    assert_eq!(early.header("retry-after"), Some("1"));

    // Other keys do not see the job; the admin does.
    let other = server
        .get(&format!("/v1/rota/jobs/{id}"), Role::Integrator)
        .await;
    assert_eq!(other.status, 404);
    assert_eq!(
        server
            .get(&format!("/v1/rota/jobs/{id}"), Role::Admin)
            .await
            .status,
        200
    );

    let cancel = http(
        server.addr,
        "POST",
        &format!("/v1/rota/jobs/{id}/cancel"),
        &[server.auth(Role::Planner)],
        b"",
    )
    .await;
    assert_eq!(cancel.status, 202, "{}", cancel.text());
    let done = poll_job(&server, &id, 2400, |s| s["state"] == "cancelled").await;
    assert!(done["links"]["result"].is_string(), "{done}");
    let result = server
        .get(&format!("/v1/rota/jobs/{id}/result"), Role::Planner)
        .await;
    assert_eq!(result.status, 200, "{}", result.text());
    let best: Rota = serde_json::from_slice(&result.body).expect("rota");
    assert_feasible(&problem(&week), &best);

    let listed = server.get("/v1/rota/jobs", Role::Planner).await.json();
    assert_eq!(listed["jobs"][0]["id"], id.as_str());
    let metrics = http(server.addr, "GET", "/metrics", &[], b"").await.text();
    assert!(
        metrics.contains(
            "carefill_solve_duration_seconds_count{kind=\"job\",outcome=\"cancelled\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "carefill_solve_duration_seconds_count{kind=\"sync\",outcome=\"completed\"} 1"
        ),
        "{metrics}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_503_and_shutdown_cancels_jobs() {
    let config = ServiceConfig {
        solve_slots: 1,
        max_queued_jobs: 1,
        ..ServiceConfig::default()
    };
    let server = Server::start(config).await;
    let (_, body) = request_body("team_week.json");
    let first = server
        .post_json("/v1/rota/jobs?time_limit_s=120", Role::Integrator, &body)
        .await;
    assert_eq!(first.status, 202, "{}", first.text());
    let first_id = first.json()["id"].as_str().expect("id").to_string();
    let poll = |s: &Value| s["state"] == "running";
    // Wait until the first job holds the only slot, then fill the queue.
    let mut running = false;
    for _ in 0..2400 {
        let s = server
            .get(&format!("/v1/rota/jobs/{first_id}"), Role::Integrator)
            .await
            .json();
        if poll(&s) {
            running = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(running, "first job never started");
    let second = server
        .post_json("/v1/rota/jobs?time_limit_s=120", Role::Integrator, &body)
        .await;
    assert_eq!(second.status, 202);
    assert_eq!(second.json()["state"], "queued");
    let third = server
        .post_json("/v1/rota/jobs?time_limit_s=120", Role::Integrator, &body)
        .await;
    assert_eq!(third.status, 503, "{}", third.text());
    assert_eq!(third.json()["code"], "queue_full");
    assert_eq!(third.header("retry-after"), Some("2"));
    // A sync solve finds no free slot.
    let busy = server
        .post_json("/v1/rota/solve?time_limit_s=1", Role::Integrator, &body)
        .await;
    assert_eq!(busy.status, 503);
    assert_eq!(busy.json()["code"], "solver_busy");

    let addr = server.addr;
    let state = server.shutdown().await;
    assert!(state.is_shutting_down());
    // Stopped accepting.
    assert!(TcpStream::connect(addr).await.is_err());
    // The running job was cancelled and keeps its best rota; the queued one has none.
    let mut states = Vec::new();
    for _ in 0..2400 {
        states = state
            .jobs
            .list(&carefill_api::Principal {
                key_id: "ops".into(),
                role: Role::Admin,
                scope: carefill_api::Scope::Global,
            })
            .iter()
            .map(|j| j.view().state)
            .collect::<Vec<_>>();
        if states.iter().all(|s| *s == "cancelled") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(states, vec!["cancelled", "cancelled"]);
}
