//! The `carefill` command-line tool: generate, validate, solve and check rotas, and serve the API.

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
        /// Load a generated demo team (GET /v1/demo/request returns it).
        #[arg(long)]
        demo: bool,
        /// Solves allowed at once (the rest get 503 + Retry-After).
        #[arg(long, env = "CAREFILL_SOLVE_SLOTS", default_value_t = 1)]
        solve_slots: usize,
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
                    "placed {}/{} visits, travel {} min, max distinct carers {}, objective {:.1}, bound {}, {} ms",
                    k.visits_placed,
                    k.visits_total,
                    k.travel_min,
                    k.max_distinct_carers,
                    s.objective,
                    s.lower_bound.map_or("-".to_string(), |b| format!("{b:.1}")),
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
            solve_slots,
        } => {
            let demo =
                demo.then(|| generate(&GeneratorOptions::new(ScenarioSize::Team, 7)).request);
            let runtime = tokio::runtime::Runtime::new()
                .map_err(|e| format!("cannot start the runtime: {e}"))?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind(&bind)
                    .await
                    .map_err(|e| format!("cannot listen on {bind}: {e}"))?;
                let addr = listener.local_addr().map_err(|e| e.to_string())?;
                eprintln!(
                    "carefill listening on http://{addr} (demo data: {})",
                    demo.is_some()
                );
                let state = carefill_api::AppState::new(solve_slots, demo);
                let shutdown = async {
                    let _ = tokio::signal::ctrl_c().await;
                    eprintln!("carefill: shutting down");
                };
                carefill_api::serve(listener, state, shutdown).await;
                Ok::<(), String>(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::BenchInstance {
            file,
            format,
            time_limit,
            objective,
            seed,
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
