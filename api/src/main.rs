//! The `carefill` command-line tool: generate, validate, solve and check rotas, and serve the API.

use carefill_api::auth::{DemoKeys, KeyEntry, KeysFile};
use carefill_api::{KeyStore, Role};
use carefill_solver::benchmarks::{BenchFormat, SolomonObjective, load_file};
use carefill_solver::check::check;
use carefill_solver::format::{self, PlanningRequest, Rota};
use carefill_solver::generate::{GeneratorOptions, ScenarioSize, generate};
use carefill_solver::model::Problem;
use carefill_solver::rota::{SolveOptions, solve};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[path = "cli/simulate.rs"]
mod simulate_cli;

/// The route search allocates and frees many small vectors per iteration; mimalloc
/// does that markedly faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "carefill",
    version,
    about = "Home-care rota and package-brokering optimisation"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a synthetic county (deterministic for a seed) as a planning request.
    Gen {
        /// Seed of the generator.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// small | team | provider | county
        #[arg(long, default_value = "team")]
        size: String,
        /// Days in the horizon.
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// Write the request here instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also write the stream of unfilled packages (referrals) here.
        #[arg(long)]
        referrals: Option<PathBuf>,
    },
    /// Validate a planning request and list every problem with its JSON path.
    Validate {
        /// Request JSON file.
        request: PathBuf,
    },
    /// Solve a planning request and write the rota as JSON.
    Solve {
        /// Request JSON file.
        request: PathBuf,
        /// Time limit in seconds.
        #[arg(long, default_value_t = 10.0)]
        time_limit: f64,
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Stop after this many search iterations per part (reproducible runs).
        #[arg(long)]
        iterations: Option<u64>,
        /// Skip the MILP phase.
        #[arg(long)]
        no_milp: bool,
        /// Write the rota here instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run the HTTP service.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "CAREFILL_BIND", default_value = "127.0.0.1:8080")]
        bind: String,
        /// Load a generated demo team (GET /v1/demo/request returns it); without
        /// --keys-file, also make one demo key per role and write them to --demo-keys-out.
        #[arg(long)]
        demo: bool,
        /// JSON keys file with SHA-256 hashes of the accepted API keys (see `carefill keygen`).
        #[arg(long, env = "CAREFILL_KEYS_FILE")]
        keys_file: Option<PathBuf>,
        /// Where `--demo` writes its plain-text demo keys (mode 0600).
        #[arg(
            long,
            env = "CAREFILL_DEMO_KEYS_OUT",
            default_value = "carefill-demo-keys.json"
        )]
        demo_keys_out: PathBuf,
        /// Solves allowed at once (sync solves beyond get 503 + Retry-After; jobs wait).
        #[arg(long, env = "CAREFILL_SOLVE_SLOTS", default_value_t = 1)]
        solve_slots: usize,
        /// Jobs that may wait for a solver slot (one more gets 503 + Retry-After).
        #[arg(long, env = "CAREFILL_MAX_QUEUED_JOBS", default_value_t = 16)]
        max_queued_jobs: usize,
        /// Jobs kept in memory; the oldest finished are dropped first.
        #[arg(long, env = "CAREFILL_MAX_STORED_JOBS", default_value_t = 256)]
        max_stored_jobs: usize,
        /// Log format: compact | json.
        #[arg(long, env = "CAREFILL_LOG_FORMAT", default_value = "compact")]
        log_format: String,
        /// Broker database: a SQLite file path (`sqlite://PATH` too) or `postgres://...`.
        #[arg(
            long,
            env = "CAREFILL_DATABASE_URL",
            default_value = "carefill.sqlite3"
        )]
        db: String,
        /// County for a new database: a carefill/1 request with providers and teams
        /// (each team's rota is planned at start). `--demo` generates one instead.
        #[arg(long, env = "CAREFILL_ROSTER")]
        roster: Option<PathBuf>,
        /// Size of the generated demo county: small (8 providers) | county (40 providers, ~150 teams).
        #[arg(long, default_value = "county")]
        demo_size: String,
        /// Seconds between broker ticks (offer expiry, damages).
        #[arg(long, env = "CAREFILL_TICK_SECONDS", default_value_t = 30)]
        tick_seconds: u64,
    },
    /// Make a new API key: prints the key (keep it secret) on stderr and its keys-file entry on stdout.
    Keygen {
        /// Name of the key (not secret), e.g. north-rota.
        #[arg(long)]
        id: String,
        /// admin | broker | provider | planner | integrator
        #[arg(long)]
        role: String,
        /// Provider id (provider keys).
        #[arg(long)]
        provider: Option<String>,
        /// Team id (planner keys).
        #[arg(long)]
        team: Option<String>,
    },
    /// Solve a public benchmark instance and print its objective in the instance's own convention.
    BenchInstance {
        /// Instance file.
        file: PathBuf,
        /// solomon | mankowska
        #[arg(long)]
        format: String,
        /// Time limit in seconds.
        #[arg(long, default_value_t = 10.0)]
        time_limit: f64,
        /// Solomon convention: distance | vehicles (vehicles first, then distance).
        #[arg(long, default_value = "distance")]
        objective: String,
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Stop after this many search iterations per part (reproducible runs).
        #[arg(long)]
        iterations: Option<u64>,
        /// Skip the MILP phase.
        #[arg(long)]
        no_milp: bool,
        /// One JSON line instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check a rota against its request with the independent checker.
    Check {
        /// Request JSON file.
        request: PathBuf,
        /// Rota JSON file.
        rota: PathBuf,
    },
    /// Simulate brokering over the county's days and compare policies (docs/simulation.md).
    Simulate(simulate_cli::Args),
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("carefill: {message}");
            ExitCode::from(2)
        }
    }
}

/// Logs to stderr; `CAREFILL_LOG` (e.g. `info`, `carefill=debug`) sets the filter.
fn init_tracing(format: &str) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAREFILL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        "json" => builder.json().try_init(),
        "compact" => builder.compact().try_init(),
        other => return Err(format!("--log-format: {other:?} is not compact or json")),
    }
    .map_err(|e| format!("cannot set up logging: {e}"))
}

/// Opens the broker database; a new one gets its county from `--roster` or
/// `--demo`, otherwise the service runs without brokering.
fn open_broker(
    db: &str,
    roster: Option<&PathBuf>,
    demo: bool,
    demo_size: &str,
) -> Result<Option<std::sync::Arc<carefill_api::broker_service::BrokerService>>, String> {
    use carefill_api::broker_service::{BrokerService, SystemClock};
    use carefill_api::store::{Baseline, BrokerStore, open};
    let mut store: Box<dyn BrokerStore> = open(db).map_err(|e| e.to_string())?;
    let initialised = store.load().map_err(|e| e.to_string())?.is_some();
    if !initialised && roster.is_none() && !demo {
        eprintln!(
            "carefill: {db} holds no county; brokering routes are off (give --roster FILE or --demo)"
        );
        return Ok(None);
    }
    let t0 = std::time::Instant::now();
    let demo_referrals = std::cell::RefCell::new(Vec::new());
    let svc = BrokerService::open(store, Box::new(SystemClock), || {
        let options = carefill_solver::rota::SolveOptions {
            time_limit: std::time::Duration::from_secs(60),
            max_iterations: Some(60),
            use_milp: false,
            ..Default::default()
        };
        let (roster, rotas) = match roster {
            Some(path) => {
                let request = load_request(path)?;
                let rotas = carefill_solver::broker::plan_initial_rotas(&request, &options)
                    .map_err(|e| e.to_string())?;
                (request, rotas)
            }
            None => {
                let profile = match demo_size {
                    "small" => carefill_solver::broker::demo::small_profile(),
                    "county" => ScenarioSize::County.profile(),
                    other => return Err(format!("--demo-size: `{other}` is not small or county")),
                };
                let c = carefill_solver::broker::demo::county(&profile, 1, 60)
                    .map_err(|e| e.to_string())?;
                *demo_referrals.borrow_mut() = c.referrals.clone();
                (c.roster, c.rotas)
            }
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
    if demo {
        let mut referrals = demo_referrals.into_inner();
        if referrals.is_empty() {
            // An existing demo database: regenerate the same referral stream.
            let profile = match demo_size {
                "small" => carefill_solver::broker::demo::small_profile(),
                _ => ScenarioSize::County.profile(),
            };
            let sc = carefill_solver::generate::generate_with(
                &GeneratorOptions::new(ScenarioSize::County, 1),
                &profile,
            );
            referrals = sc
                .referrals
                .iter()
                .filter_map(|p| {
                    let u = sc
                        .request
                        .service_users
                        .iter()
                        .find(|u| u.id == p.service_user)?;
                    Some((p.clone(), u.clone()))
                })
                .collect();
        }
        svc.set_demo_referrals(referrals);
    }
    Ok(Some(std::sync::Arc::new(svc)))
}

/// Moves the broker's clock-driven work on (offer expiry, damages) every `seconds`.
async fn tick_forever(
    svc: std::sync::Arc<carefill_api::broker_service::BrokerService>,
    seconds: u64,
) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(seconds));
    loop {
        every.tick().await;
        let s = svc.clone();
        let done = tokio::task::spawn_blocking(move || {
            s.execute("system", "tick", |b, now| Ok(b.tick(now)))
        })
        .await;
        if let Ok(Err(e)) = done {
            tracing::warn!(error = %e, "broker tick failed");
        }
    }
}

/// The keys to accept: the keys file, or with `--demo` and no keys file, fresh
/// demo keys (one per role) written in plain text to `demo_out`.
fn load_keys(
    keys_file: Option<&PathBuf>,
    demo: Option<&PlanningRequest>,
    demo_out: &PathBuf,
) -> Result<KeyStore, String> {
    if let Some(path) = keys_file {
        return KeyStore::load(path).map_err(|e| e.to_string());
    }
    let Some(demo) = demo else {
        return Err(
            "no API keys: give --keys-file (or CAREFILL_KEYS_FILE), or use --demo for demo keys"
                .into(),
        );
    };
    let provider = demo
        .providers
        .first()
        .map_or("demo-provider", |p| p.id.as_str());
    let team = demo.teams.first().map_or("demo-team", |t| t.id.as_str());
    let keys = DemoKeys::generate(provider, team)?;
    let text = serde_json::to_string_pretty(&keys.keys).map_err(|e| e.to_string())?;
    write_private(demo_out, &(text + "\n"))?;
    eprintln!(
        "carefill: demo API keys (admin, broker, provider {provider}, planner {team}, integrator) written to {}",
        demo_out.display()
    );
    keys.store().map_err(|e| e.to_string())
}

/// Writes a file readable only by its owner (on Unix).
fn write_private(path: &PathBuf, text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    file.write_all(text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
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

fn read(path: &PathBuf) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn write(path: Option<&PathBuf>, text: &str) -> Result<(), String> {
    match path {
        Some(p) => {
            std::fs::write(p, text).map_err(|e| format!("cannot write {}: {e}", p.display()))
        }
        None => {
            println!("{text}");
            Ok(())
        }
    }
}

fn load_request(path: &PathBuf) -> Result<PlanningRequest, String> {
    let text = read(path)?;
    format::parse_request(&text).map_err(|i| format!("{}: {i}", path.display()))
}

fn load_problem(path: &PathBuf) -> Result<Problem, String> {
    let text = read(path)?;
    let request: PlanningRequest =
        format::parse_request(&text).map_err(|i| format!("{}: {i}", path.display()))?;
    Problem::from_request(&request).map_err(|issues| {
        let lines: Vec<String> = issues.iter().map(|i| format!("  {i}")).collect();
        format!(
            "{} has {} problem(s):\n{}",
            path.display(),
            issues.len(),
            lines.join("\n")
        )
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, String> {
    serde_json::to_string_pretty(value).map_err(|e| format!("cannot serialise: {e}"))
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Simulate(args) => simulate_cli::run(&args),
        Command::Gen {
            seed,
            size,
            days,
            out,
            referrals,
        } => {
            let size: ScenarioSize = size.parse().map_err(|e| format!("--size: {e}"))?;
            let mut options = GeneratorOptions::new(size, seed);
            options.days = days;
            let scenario = generate(&options);
            write(out.as_ref(), &to_json(&scenario.request)?)?;
            if let Some(path) = referrals {
                write(Some(&path), &to_json(&scenario.referrals)?)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { request } => {
            let problem = load_problem(&request)?;
            println!(
                "valid: {} carers, {} shifts, {} service users, {} visits over {} days",
                problem.carers.len(),
                problem.shifts.len(),
                problem.service_users.len(),
                problem.visits.len(),
                problem.horizon.days
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Solve {
            request,
            time_limit,
            seed,
            iterations,
            no_milp,
            out,
        } => {
            if !(time_limit.is_finite() && time_limit > 0.0 && time_limit <= 3600.0) {
                return Err("--time-limit must be between 0 and 3600 seconds".into());
            }
            let problem = load_problem(&request)?;
            let options = SolveOptions {
                time_limit: Duration::from_secs_f64(time_limit),
                seed,
                max_iterations: iterations,
                use_milp: !no_milp,
                ..SolveOptions::default()
            };
            let rota = solve(&problem, &options);
            let report = check(&problem, &rota);
            if let (Some(k), Some(s)) = (&rota.kpis, &rota.stats) {
                eprintln!(
                    "placed {}/{} visits, travel {} min, max distinct carers {}, objective {:.1}, lower bound {} (gap {}), {} ms",
                    k.visits_placed,
                    k.visits_total,
                    k.travel_min,
                    k.max_distinct_carers,
                    s.objective,
                    s.lower_bound.map_or("-".to_string(), |b| format!("{b:.1}")),
                    s.gap
                        .map_or("-".to_string(), |g| format!("{:.1}%", g * 100.0)),
                    s.elapsed_ms
                );
            }
            write(out.as_ref(), &to_json(&rota)?)?;
            if !report.is_feasible() {
                for v in &report.violations {
                    eprintln!("checker: {v}");
                }
                return Ok(ExitCode::from(1));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve {
            bind,
            demo,
            keys_file,
            demo_keys_out,
            solve_slots,
            max_queued_jobs,
            max_stored_jobs,
            log_format,
            db,
            roster,
            demo_size,
            tick_seconds,
        } => {
            init_tracing(&log_format)?;
            let want_demo = demo;
            let demo =
                demo.then(|| generate(&GeneratorOptions::new(ScenarioSize::Team, 7)).request);
            let broker = open_broker(&db, roster.as_ref(), want_demo, &demo_size)?;
            // Demo keys are scoped to the county's first provider and team when there is one.
            let key_scope = match &broker {
                Some(b) => Some(b.read(|b, _| {
                    let mut r = b.roster.clone();
                    r.carers.clear();
                    r.service_users.clear();
                    r.packages.clear();
                    r
                })),
                None => demo.clone(),
            };
            let keys = load_keys(keys_file.as_ref(), key_scope.as_ref(), &demo_keys_out)?;
            let config = carefill_api::ServiceConfig {
                solve_slots,
                max_queued_jobs,
                max_stored_jobs,
                ..carefill_api::ServiceConfig::default()
            };
            let drain = config.drain_timeout;
            let runtime = tokio::runtime::Runtime::new()
                .map_err(|e| format!("cannot start the runtime: {e}"))?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind(&bind)
                    .await
                    .map_err(|e| format!("cannot listen on {bind}: {e}"))?;
                let addr = listener.local_addr().map_err(|e| e.to_string())?;
                tracing::info!(%addr, demo = demo.is_some(), keys = keys.len(), "carefill listening");
                eprintln!(
                    "carefill listening on http://{addr} (demo data: {}, {} API keys)",
                    demo.is_some(),
                    keys.len()
                );
                if let Some(b) = broker.clone() {
                    tokio::spawn(tick_forever(b, tick_seconds.max(1)));
                }
                let state = carefill_api::AppState::builder(keys)
                    .config(config)
                    .demo(demo)
                    .broker(broker)
                    .build()?;
                carefill_api::serve(listener, state, shutdown_signal()).await;
                Ok::<(), String>(())
            })?;
            // Solves were cancelled at shutdown; give their threads a moment to return.
            runtime.shutdown_timeout(drain);
            eprintln!("carefill: stopped");
            Ok(ExitCode::SUCCESS)
        }
        Command::Keygen {
            id,
            role,
            provider,
            team,
        } => {
            let role: Role = serde_json::from_value(serde_json::Value::String(role.clone()))
                .map_err(|_| format!("--role: unknown role {role:?}; use admin, broker, provider, planner or integrator"))?;
            let key = carefill_api::auth::new_key()?;
            let entry = KeyEntry {
                id,
                role,
                provider,
                team,
                sha256: carefill_api::auth::hash_key(&key),
            };
            // Check the entry the way the server will.
            KeyStore::from_file_contents(
                &KeysFile {
                    keys: vec![entry.clone()],
                },
                "(new key)",
            )
            .map_err(|e| e.to_string())?;
            eprintln!("key (shown once, keep it secret): {key}");
            println!(
                "{}",
                serde_json::to_string(&entry).map_err(|e| e.to_string())?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::BenchInstance {
            file,
            format,
            time_limit,
            objective,
            seed,
            iterations,
            no_milp,
            json,
        } => {
            if !(time_limit.is_finite() && time_limit > 0.0 && time_limit <= 3600.0) {
                return Err("--time-limit must be between 0 and 3600 seconds".into());
            }
            let format: BenchFormat = format.parse().map_err(|e| format!("--format: {e}"))?;
            let objective: SolomonObjective =
                objective.parse().map_err(|e| format!("--objective: {e}"))?;
            let instance = load_file(&file, format, objective).map_err(|e| e.to_string())?;
            let options = SolveOptions {
                time_limit: Duration::from_secs_f64(time_limit),
                seed,
                max_iterations: iterations,
                use_milp: !no_milp,
                ..SolveOptions::default()
            };
            let started = std::time::Instant::now();
            let rota = solve(&instance.problem, &options);
            let seconds = started.elapsed().as_secs_f64();
            let report = check(&instance.problem, &rota);
            let score = instance.score(&rota);
            let best = instance.best_known();
            let gap = best.map(|b| 100.0 * (score.objective - b) / b);
            let line = serde_json::json!({
                "instance": instance.name, "format": format.to_string(), "objective": score.objective,
                "distance": score.distance, "vehicles": score.vehicles, "total_tardiness": score.total_tardiness,
                "max_tardiness": score.max_tardiness, "unplaced": score.unplaced, "best_known": best,
                "gap_pct": gap, "seconds": seconds, "feasible": report.is_feasible(),
                "iterations": rota.stats.as_ref().and_then(|s| s.phases.get("lns_iterations")),
                "milp_runs": rota.stats.as_ref().and_then(|s| s.phases.get("milp_runs")),
                "construction_ms": rota.stats.as_ref().and_then(|s| s.phases.get("construction_ms")),
                "lower_bound_ms": rota.stats.as_ref().and_then(|s| s.phases.get("lower_bound_ms")),
                "engine_objective": rota.stats.as_ref().map(|s| s.objective),
                "engine_lower_bound": rota.stats.as_ref().and_then(|s| s.lower_bound),
            });
            if json {
                println!("{line}");
            } else {
                println!(
                    "{}: objective {:.2} (best known {}, gap {}), vehicles {}, unplaced {}, {:.1} s, checker {}",
                    instance.name,
                    score.objective,
                    best.map_or("-".into(), |b| format!("{b:.2}")),
                    gap.map_or("-".into(), |g| format!("{g:.2}%")),
                    score.vehicles,
                    score.unplaced,
                    seconds,
                    if report.is_feasible() {
                        "ok"
                    } else {
                        "REJECTED"
                    }
                );
            }
            Ok(if report.is_feasible() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Check { request, rota } => {
            let problem = load_problem(&request)?;
            let rota: Rota = format::parse_json(&read(&rota)?).map_err(|i| i.to_string())?;
            let report = check(&problem, &rota);
            println!("{}", to_json(&report)?);
            Ok(if report.is_feasible() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}
