//! `carefill solve`: plans a rota for a request and checks it.

use super::io::{load_problem, time_limit, to_json, write};
use super::{Outcome, checker_exit};
use carefill_solver::check::check;
use carefill_solver::rota::{SolveOptions, solve};
use std::path::PathBuf;

/// Arguments of `carefill solve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Request JSON file.
    pub request: PathBuf,
    #[command(flatten)]
    pub search: SearchArgs,
    /// Write the rota here instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// How long and how the engine searches; shared with `bench-instance`.
#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// Time limit in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub time_limit: f64,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Stop after this many search iterations per part (reproducible runs).
    #[arg(long)]
    pub iterations: Option<u64>,
    /// Skip the MILP phase.
    #[arg(long)]
    pub no_milp: bool,
    /// Seconds after the search to tighten the lower bound (route relaxation
    /// by column generation); the run takes up to this much longer.
    #[arg(long, default_value_t = 0.0)]
    pub bound_time: f64,
}

impl SearchArgs {
    /// The engine's options; fails on a time limit out of range.
    pub fn options(&self) -> Result<SolveOptions, String> {
        Ok(SolveOptions {
            time_limit: time_limit(self.time_limit)?,
            seed: self.seed,
            max_iterations: self.iterations,
            use_milp: !self.no_milp,
            bound_time: if self.bound_time.is_finite() && (0.0..=3600.0).contains(&self.bound_time)
            {
                std::time::Duration::from_secs_f64(self.bound_time)
            } else {
                return Err("--bound-time must be between 0 and 3600 seconds".into());
            },
            ..SolveOptions::default()
        })
    }
}

/// Writes the rota and a one-line summary on stderr; exit code 1 when the
/// checker rejects the rota (written anyway, for inspection).
pub fn run(args: &Args) -> Outcome {
    let options = args.search.options()?;
    let problem = load_problem(&args.request)?;
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
    write(args.out.as_deref(), &to_json(&rota)?)?;
    if !report.is_feasible() {
        for v in &report.violations {
            eprintln!("checker: {v}");
        }
    }
    Ok(checker_exit(report.is_feasible()))
}
