//! `carefill gen`: a synthetic county as a planning request, and its referrals.

use super::Outcome;
use super::io::{to_json, write};
use carefill_solver::generate::{GeneratorOptions, ScenarioSize, generate};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `carefill gen`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Seed of the generator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Size of the county.
    #[arg(long, value_enum, default_value_t = Size::Team)]
    pub size: Size,
    /// Days in the horizon.
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// Write the request here instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write the stream of unfilled packages (referrals) here.
    #[arg(long)]
    pub referrals: Option<PathBuf>,
}

/// The generator's scenario sizes (see [`ScenarioSize`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Size {
    /// One team of 4 carers and about 12 people.
    Small,
    /// One neighbourhood team: 12 carers, about 50 people, 800-900 visits a week.
    Team,
    /// One Tier 1 provider with about 6 teams.
    Provider,
    /// About 40 providers, 150 teams, 1,500 carers and 4,000 people.
    County,
}

impl From<Size> for ScenarioSize {
    fn from(size: Size) -> Self {
        match size {
            Size::Small => ScenarioSize::Small,
            Size::Team => ScenarioSize::Team,
            Size::Provider => ScenarioSize::Provider,
            Size::County => ScenarioSize::County,
        }
    }
}

/// Writes the request (and the referrals when asked).
pub fn run(args: Args) -> Outcome {
    let mut options = GeneratorOptions::new(args.size.into(), args.seed);
    options.days = args.days;
    let scenario = generate(&options);
    write(args.out.as_deref(), &to_json(&scenario.request)?)?;
    if let Some(path) = args.referrals {
        write(Some(&path), &to_json(&scenario.referrals)?)?;
    }
    Ok(ExitCode::SUCCESS)
}
