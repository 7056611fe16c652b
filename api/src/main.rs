//! The `carefill` command-line tool: generate, validate, solve and check rotas, and serve the API.
//!
//! Each subcommand lives in its own file under `cli/`; this file parses the command
//! line, runs the command and turns its outcome into the exit code.

mod cli;

use clap::Parser;
use cli::{Cli, Command};
use std::process::ExitCode;

/// The route search allocates and frees many small vectors per iteration; mimalloc
/// does that markedly faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let outcome = match Cli::parse().command {
        Command::Gen(args) => cli::generate::run(args),
        Command::Validate(args) => cli::validate::run(&args),
        Command::Solve(args) => cli::solve::run(&args),
        Command::Serve(args) => cli::serve::run(args),
        Command::Keygen(args) => cli::keygen::run(args),
        Command::BenchInstance(args) => cli::bench_instance::run(&args),
        Command::Check(args) => cli::check::run(&args),
        Command::Simulate(args) => cli::simulate::run(&args),
    };
    match outcome {
        Ok(code) => code,
        Err(message) => {
            eprintln!("carefill: {message}");
            ExitCode::from(2)
        }
    }
}
