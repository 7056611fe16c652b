//! `carefill validate`: checks a planning request and sums it up.

use super::Outcome;
use super::io::load_problem;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `carefill validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Request JSON file.
    pub request: PathBuf,
}

/// Prints the request's size, or every problem with its JSON path.
pub fn run(args: &Args) -> Outcome {
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
