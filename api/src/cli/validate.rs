//! `carefill validate`: checks a planning request and sums it up.

use super::Outcome;
use super::io::{load_problem, load_request};
use carefill_solver::model::Problem;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `carefill validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Request JSON file.
    pub request: PathBuf,
}

/// Prints the request's size, or every problem with its JSON path; warnings
/// (valid, but probably not meant) go to stderr either way.
pub fn run(args: &Args) -> Outcome {
    let request = load_request(&args.request)?;
    for w in Problem::warnings(&request) {
        eprintln!("warning: {w}");
    }
    let problem = load_problem(&args.request)?;
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
