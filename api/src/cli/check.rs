//! `carefill check`: runs the independent checker on a rota.

use super::io::{load_problem, read, to_json};
use super::{Outcome, checker_exit};
use carefill_solver::check::check;
use carefill_solver::format::{self, Rota};
use std::path::PathBuf;

/// Arguments of `carefill check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Request JSON file.
    pub request: PathBuf,
    /// Rota JSON file.
    pub rota: PathBuf,
}

/// Prints the checker's report; exit code 1 when it finds violations.
pub fn run(args: &Args) -> Outcome {
    let problem = load_problem(&args.request)?;
    let rota: Rota = format::parse_json(&read(&args.rota)?).map_err(|i| i.to_string())?;
    let report = check(&problem, &rota);
    println!("{}", to_json(&report)?);
    Ok(checker_exit(report.is_feasible()))
}
