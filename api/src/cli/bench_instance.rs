//! `carefill bench-instance`: solves a public benchmark instance and scores it
//! in the instance's own convention, against the best known result; writes the
//! solution in the community's format (`--solution-out`) or re-scores such a
//! file instead of solving (`--solution-in`).

use super::solve::SearchArgs;
use super::{Outcome, checker_exit, io};
use carefill_solver::benchmarks::{BenchFormat, SolomonObjective, load_file};
use carefill_solver::check::check;
use carefill_solver::rota::solve;
use std::path::PathBuf;

/// Arguments of `carefill bench-instance`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Instance file.
    pub file: PathBuf,
    /// File format of the instance.
    #[arg(long, value_enum, ignore_case = true)]
    pub format: Format,
    /// Solomon convention.
    #[arg(long, value_enum, ignore_case = true, default_value_t = Objective::Distance)]
    pub objective: Objective,
    #[command(flatten)]
    pub search: SearchArgs,
    /// One JSON line instead of text.
    #[arg(long)]
    pub json: bool,
    /// Also write the solution here in the community's format: VRPLIB `.sol`
    /// for Solomon / Gehring-Homberger, the iolab-uniud JSON for Mankowska.
    #[arg(long, value_name = "FILE")]
    pub solution_out: Option<PathBuf>,
    /// Score this solution file (same formats) instead of solving: checks it
    /// and prints its objective, to verify a claimed result.
    #[arg(long, value_name = "FILE", conflicts_with = "solution_out")]
    pub solution_in: Option<PathBuf>,
}

/// Benchmark file formats (see [`BenchFormat`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Solomon VRPTW text format.
    Solomon,
    /// Mankowska et al. (2014) home health care instances.
    Mankowska,
}

impl From<Format> for BenchFormat {
    fn from(format: Format) -> Self {
        match format {
            Format::Solomon => BenchFormat::Solomon,
            Format::Mankowska => BenchFormat::Mankowska,
        }
    }
}

/// Published Solomon conventions (see [`SolomonObjective`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Objective {
    /// DIMACS: total distance only.
    Distance,
    /// Vehicles first, then distance.
    #[value(alias = "vehicles-first", alias = "vehicles_first")]
    Vehicles,
}

impl From<Objective> for SolomonObjective {
    fn from(objective: Objective) -> Self {
        match objective {
            Objective::Distance => SolomonObjective::Distance,
            Objective::Vehicles => SolomonObjective::VehiclesFirst,
        }
    }
}

/// Prints the score as text or one JSON line; exit code 1 when the checker
/// rejects the rota.
pub fn run(args: &Args) -> Outcome {
    let options = args.search.options()?;
    let format = BenchFormat::from(args.format);
    let instance =
        load_file(&args.file, format, args.objective.into()).map_err(|e| e.to_string())?;
    let started = std::time::Instant::now();
    let mut claimed = None;
    let rota = match &args.solution_in {
        Some(path) => {
            let read = instance
                .read_solution(&io::read(path)?)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            claimed = read.claimed_cost;
            read.rota
        }
        None => solve(&instance.problem, &options),
    };
    let seconds = started.elapsed().as_secs_f64();
    if let Some(path) = &args.solution_out {
        io::write(Some(path), &instance.write_solution(&rota))?;
    }
    let report = check(&instance.problem, &rota);
    let score = instance.score(&rota);
    let best = instance.best_known();
    let gap = best.map(|b| 100.0 * (score.objective - b) / b);
    if args.json {
        let phase = |name: &str| rota.stats.as_ref().and_then(|s| s.phases.get(name));
        let line = serde_json::json!({
            "instance": instance.name, "format": format.to_string(), "objective": score.objective,
            "distance": score.distance, "vehicles": score.vehicles, "total_tardiness": score.total_tardiness,
            "max_tardiness": score.max_tardiness, "unplaced": score.unplaced, "best_known": best,
            "gap_pct": gap, "seconds": seconds, "feasible": report.is_feasible(),
            "iterations": phase("lns_iterations"),
            "milp_runs": phase("milp_runs"),
            "construction_ms": phase("construction_ms"),
            "lower_bound_ms": phase("lower_bound_ms"),
            "engine_objective": rota.stats.as_ref().map(|s| s.objective),
            "engine_lower_bound": rota.stats.as_ref().and_then(|s| s.lower_bound),
            "claimed_cost": claimed,
        });
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
        if let Some(c) = claimed {
            println!("the file claims cost {c}");
        }
    }
    if !report.is_feasible() {
        for v in &report.violations {
            eprintln!("checker: {v}");
        }
    }
    Ok(checker_exit(report.is_feasible()))
}
