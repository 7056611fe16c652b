//! The subcommands of `carefill`, one file each. A command returns its exit code
//! (0 done, 1 the checker rejected a rota) or a message that `main` prints as
//! `carefill: message` with exit code 2.

pub mod bench_instance;
pub mod check;
mod demo;
pub mod generate;
mod io;
pub mod keygen;
pub mod serve;
pub mod simulate;
pub mod solve;
pub mod validate;

#[cfg(test)]
mod tests;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// What a command ends with: its exit code, or why it could not run.
pub type Outcome = Result<ExitCode, String>;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "carefill",
    version,
    about = "Home-care rota and package-brokering optimisation"
)]
pub struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands; each one's arguments and code are in the module of the same name.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a synthetic county (deterministic for a seed) as a planning request.
    Gen(generate::Args),
    /// Validate a planning request and list every problem with its JSON path.
    Validate(validate::Args),
    /// Solve a planning request and write the rota as JSON.
    Solve(solve::Args),
    /// Run the HTTP service.
    Serve(serve::Args),
    /// Make a new API key: prints the key (keep it secret) on stderr and its keys-file entry on stdout.
    Keygen(keygen::Args),
    /// Solve a public benchmark instance and print its objective in the instance's own convention.
    BenchInstance(bench_instance::Args),
    /// Check a rota against its request with the independent checker.
    Check(check::Args),
    /// Simulate brokering over the county's days and compare policies (docs/simulation.md).
    Simulate(simulate::Args),
}

/// Exit code 0 when the checker accepts the rota, else 1.
fn checker_exit(feasible: bool) -> ExitCode {
    if feasible {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
