//! `carefill serve`: the HTTP service, with its broker database, API keys and
//! optional demo data.

use super::demo::{self, DemoSize};
use super::{Outcome, io::load_request};
use carefill_api::broker_service::{BrokerService, SystemClock};
use carefill_api::store::{Baseline, BrokerStore, open};
use carefill_api::{AppState, KeyStore, ServiceConfig};
use carefill_solver::format::PlanningRequest;
use carefill_solver::rota::SolveOptions;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Arguments of `carefill serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "CAREFILL_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Load a generated demo team (GET /v1/demo/request returns it); without
    /// --keys-file, also make one demo key per role and write them to --demo-keys-out.
    #[arg(long)]
    pub demo: bool,
    /// JSON keys file with SHA-256 hashes of the accepted API keys (see `carefill keygen`).
    #[arg(long, env = "CAREFILL_KEYS_FILE")]
    pub keys_file: Option<PathBuf>,
    /// Where `--demo` writes its plain-text demo keys (mode 0600).
    #[arg(
        long,
        env = "CAREFILL_DEMO_KEYS_OUT",
        default_value = "carefill-demo-keys.json"
    )]
    pub demo_keys_out: PathBuf,
    /// Solves allowed at once (sync solves beyond get 503 + Retry-After; jobs wait).
    #[arg(long, env = "CAREFILL_SOLVE_SLOTS", default_value_t = 1)]
    pub solve_slots: usize,
    /// Jobs that may wait for a solver slot (one more gets 503 + Retry-After).
    #[arg(long, env = "CAREFILL_MAX_QUEUED_JOBS", default_value_t = 16)]
    pub max_queued_jobs: usize,
    /// Jobs kept in memory; the oldest finished are dropped first.
    #[arg(long, env = "CAREFILL_MAX_STORED_JOBS", default_value_t = 256)]
    pub max_stored_jobs: usize,
    /// Log format.
    #[arg(long, env = "CAREFILL_LOG_FORMAT", value_enum, default_value_t = LogFormat::Compact)]
    pub log_format: LogFormat,
    /// Broker database: a SQLite file path (`sqlite://PATH` too) or `postgres://...`.
    #[arg(
        long,
        env = "CAREFILL_DATABASE_URL",
        default_value = "carefill.sqlite3"
    )]
    pub db: String,
    /// County for a new database: a carefill/1 request with providers and teams
    /// (each team's rota is planned at start). `--demo` generates one instead.
    #[arg(long, env = "CAREFILL_ROSTER")]
    pub roster: Option<PathBuf>,
    /// Size of the generated demo county.
    #[arg(long, value_enum, default_value_t = DemoSize::County)]
    pub demo_size: DemoSize,
    /// Seconds between broker ticks (offer expiry, damages).
    #[arg(long, env = "CAREFILL_TICK_SECONDS", default_value_t = 30)]
    pub tick_seconds: u64,
    /// Map tiles for the console's map, e.g. `https://tiles.example.org/{z}/{x}/{y}.png`
    /// (off by default; the console's Content-Security-Policy then allows images from that origin only).
    #[arg(long, env = "CAREFILL_TILE_URL")]
    pub tile_url: Option<String>,
    /// Secret that signs carers' read-only week links (at least 32 characters);
    /// without it links are signed with a random secret and stop working on restart.
    #[arg(long, env = "CAREFILL_LINK_SECRET", hide_env_values = true)]
    pub link_secret: Option<String>,
    /// Accept webhook URLs with plain `http://` to any host (by default only
    /// to loopback hosts; everything else must be `https://`).
    #[arg(long, env = "CAREFILL_WEBHOOK_ALLOW_PLAIN_HTTP")]
    pub webhook_allow_plain_http: bool,
    /// PEM file of CA certificates trusted for webhook receivers besides the
    /// built-in (Mozilla) roots, for receivers with a private CA.
    #[arg(long, env = "CAREFILL_WEBHOOK_CA_FILE")]
    pub webhook_ca_file: Option<PathBuf>,
}

/// How log lines are written on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One short human-readable line per event.
    Compact,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Serves until Ctrl-C or SIGTERM, then drains.
pub fn run(args: Args) -> Outcome {
    init_tracing(args.log_format)?;
    let demo_request = args.demo.then(demo::team_request);
    let demo_county = args.demo.then_some(args.demo_size);
    let broker = open_broker(&args.db, args.roster.as_deref(), demo_county)?;
    // Demo keys are scoped to the county's first provider and team when there is one.
    let key_scope = match &broker {
        Some(b) => Some(b.read(|b, _| {
            let mut r = b.roster.clone();
            r.carers.clear();
            r.service_users.clear();
            r.packages.clear();
            r
        })),
        None => demo_request.clone(),
    };
    let keys = load_keys(
        args.keys_file.as_deref(),
        key_scope.as_ref(),
        &args.demo_keys_out,
    )?;
    if let Some(url) = &args.tile_url {
        carefill_api::console::tile_origin(url).map_err(|e| format!("--tile-url: {e}"))?;
    }
    let config = ServiceConfig {
        tile_url: args.tile_url.clone(),
        solve_slots: args.solve_slots,
        max_queued_jobs: args.max_queued_jobs,
        max_stored_jobs: args.max_stored_jobs,
        webhooks: carefill_api::webhooks::WebhookTransport {
            allow_plain_http: args.webhook_allow_plain_http,
            extra_ca_file: args.webhook_ca_file.clone(),
        },
        ..ServiceConfig::default()
    };
    let drain = config.drain_timeout;
    let runtime =
        tokio::runtime::Runtime::new().map_err(|e| format!("cannot start the runtime: {e}"))?;
    let (bind, tick_seconds, link_secret) = (args.bind, args.tick_seconds, args.link_secret);
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&bind)
            .await
            .map_err(|e| format!("cannot listen on {bind}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let demo = demo_request.is_some();
        tracing::info!(target: "carefill", %addr, demo, keys = keys.len(), "carefill listening");
        eprintln!(
            "carefill listening on http://{addr} (demo data: {demo}, {} API keys)",
            keys.len()
        );
        if let Some(b) = broker.clone() {
            if !b.is_writer() {
                eprintln!(
                    "carefill: another process holds the broker's writer lease; serving reads and following it"
                );
            }
            tokio::spawn(carefill_api::broker_service::drive(
                b,
                Duration::from_secs(tick_seconds.max(1)),
            ));
        }
        let state = AppState::builder(keys)
            .config(config)
            .demo(demo_request)
            .broker(broker)
            .link_secret(link_secret)
            .build()?;
        carefill_api::serve(listener, state, shutdown_signal()).await;
        Ok::<(), String>(())
    })?;
    // Solves were cancelled at shutdown; give their threads a moment to return.
    runtime.shutdown_timeout(drain);
    eprintln!("carefill: stopped");
    Ok(ExitCode::SUCCESS)
}

/// Logs to stderr; `CAREFILL_LOG` (e.g. `info`, `carefill=debug`) sets the filter.
fn init_tracing(format: LogFormat) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAREFILL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Compact => builder.compact().try_init(),
    }
    .map_err(|e| format!("cannot set up logging: {e}"))
}

/// Opens the broker database; a new one gets its county from `roster`, else
/// from the demo generator when `demo` is given, otherwise the service runs
/// without brokering.
fn open_broker(
    db: &str,
    roster: Option<&Path>,
    demo: Option<DemoSize>,
) -> Result<Option<Arc<BrokerService>>, String> {
    let mut store: Box<dyn BrokerStore> = open(db).map_err(|e| e.to_string())?;
    let initialised = store.load().map_err(|e| e.to_string())?.is_some();
    if !initialised && roster.is_none() && demo.is_none() {
        eprintln!(
            "carefill: {db} holds no county; brokering routes are off (give --roster FILE or --demo)"
        );
        return Ok(None);
    }
    let t0 = std::time::Instant::now();
    // The demo county's horizon starts today and its referrals are stamped now.
    let started = carefill_api::broker_service::Clock::now(&SystemClock);
    let new_referrals = RefCell::new(None);
    let svc = BrokerService::open(store, Box::new(SystemClock), || {
        let (roster, rotas) = match (roster, demo) {
            (Some(path), _) => {
                let request = load_request(path)?;
                let options = SolveOptions {
                    time_limit: Duration::from_secs(60),
                    max_iterations: Some(60),
                    use_milp: false,
                    ..Default::default()
                };
                let rotas = carefill_solver::broker::plan_initial_rotas(&request, &options)
                    .map_err(|e| e.to_string())?;
                (request, rotas)
            }
            (None, Some(size)) => {
                let county = demo::county(size, started)?;
                *new_referrals.borrow_mut() = Some(county.referrals);
                (county.roster, county.rotas)
            }
            (None, None) => return Err(format!("{db} holds no county")),
        };
        Ok(Baseline {
            config: Default::default(),
            roster,
            rotas,
        })
    })?;
    eprintln!(
        "carefill: broker ready from {db} in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    if let Some(size) = demo {
        let referrals = match new_referrals.into_inner() {
            Some(r) if !r.is_empty() => r,
            _ => demo::referrals(size, started),
        };
        svc.set_demo_referrals(referrals);
    }
    Ok(Some(Arc::new(svc)))
}

/// The keys to accept: the keys file, or with `--demo` and no keys file, fresh
/// demo keys (one per role) written in plain text to `demo_out`.
fn load_keys(
    keys_file: Option<&Path>,
    demo_scope: Option<&PlanningRequest>,
    demo_out: &Path,
) -> Result<KeyStore, String> {
    if let Some(path) = keys_file {
        return KeyStore::load(path).map_err(|e| e.to_string());
    }
    match demo_scope {
        Some(scope) => demo::keys(scope, demo_out),
        None => Err(
            "no API keys: give --keys-file (or CAREFILL_KEYS_FILE), or use --demo for demo keys"
                .into(),
        ),
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    eprintln!("carefill: shutting down");
}
