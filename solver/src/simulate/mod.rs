//! Brokerage simulation: a county's days on a virtual clock, driving the real
//! [`crate::broker::Broker`] (cascade, fit checks against the teams' real
//! rotas, batch MILP on provider failure, ledger) with referrals, provider
//! answers, sickness and failures drawn from seeded streams, to measure what a
//! brokering policy achieves against Devon Cares' 70% / 97% fill marks.
//!
//! Each (policy, seed) pair is one replication; pairs run in parallel (rayon).
//! Every policy sees the same referrals, answers and sickness for a seed
//! (common random numbers), so differences between policies are the policies'.
//! The planning horizon rolls every night as in the live service (finished
//! days go to the broker's history, new days are planned onto the rotas), so
//! a run can cover a month or a quarter.

pub mod county;
pub mod demand;
#[cfg(feature = "generate")]
pub mod html;
pub mod report;
pub mod rng;
pub mod run;
pub mod scenario;

#[cfg(test)]
mod tests;

pub use county::{County, from_roster};
pub use report::{Interval, PolicySummary, SimReport};
pub use run::RunResult;
pub use scenario::{Scenario, parse_scenario};

use crate::broker::BrokerError;
use crate::format::Issue;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Progress and cancellation of a running simulation, shared with whoever
/// watches it (the API's job status): every replication adds its simulated
/// days as they end, and stops at its next event once cancelled.
#[derive(Debug, Default)]
pub struct Control {
    cancelled: AtomicBool,
    days_done: AtomicU64,
    days_total: AtomicU64,
}

impl Control {
    /// Asks every replication to stop.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }

    /// Whether [`Control::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// Simulated days finished over every replication, and how many there are.
    pub fn progress(&self) -> (u64, u64) {
        (
            self.days_done.load(Ordering::Relaxed),
            self.days_total.load(Ordering::Relaxed),
        )
    }

    pub(crate) fn day_done(&self) {
        self.days_done.fetch_add(1, Ordering::Relaxed);
    }
}

/// A simulation error with a stable code.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    /// The scenario is invalid; every issue carries its JSON path.
    #[error("invalid scenario: {}", .0.iter().map(|i| i.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Issue>),
    /// The county (roster file or generated) cannot be used.
    #[error("{path}: {message}")]
    Roster {
        /// JSON path of the scenario field at fault.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The broker refused a command (a bug in the scenario's county or the simulator).
    #[error("broker: {0}")]
    Broker(BrokerError),
    /// The run was cancelled through its [`Control`].
    #[error("the simulation was cancelled")]
    Cancelled,
}

impl SimError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            SimError::Invalid(_) => "invalid_scenario",
            SimError::Roster { .. } => "invalid_county",
            SimError::Broker(_) => "broker_error",
            SimError::Cancelled => "cancelled",
        }
    }
}

/// Builds the scenario's county (`base`: directory of a roster file path).
pub fn prepare(s: &Scenario, base: Option<&Path>) -> Result<County, SimError> {
    s.validate().map_err(SimError::Invalid)?;
    county::build(s, base)
}

/// Runs every policy on every seed of `seeds` over a prepared county.
pub fn simulate(s: &Scenario, county: &County, seeds: &[u64]) -> Result<SimReport, SimError> {
    simulate_with(s, county, seeds, &Control::default())
}

/// [`simulate`], reporting progress to `ctl` and stopping when it is cancelled.
pub fn simulate_with(
    s: &Scenario,
    county: &County,
    seeds: &[u64],
    ctl: &Control,
) -> Result<SimReport, SimError> {
    let roster = run::scenario_roster(s, &county.roster);
    let pairs: Vec<(usize, u64)> = (0..s.policies.len())
        .flat_map(|p| seeds.iter().map(move |&sd| (p, sd)))
        .collect();
    ctl.days_total
        .store(pairs.len() as u64 * u64::from(s.days), Ordering::Relaxed);
    let runs: Vec<RunResult> = pairs
        .par_iter()
        .map(|&(p, seed)| run::run(s, county, &roster, &s.policies[p], seed, ctl))
        .collect::<Result<_, _>>()?;
    let policies = s
        .policies
        .iter()
        .map(|p| {
            let mine: Vec<&RunResult> = runs.iter().filter(|r| r.policy == p.name).collect();
            report::summarise(&p.name, &mine, s.days)
        })
        .collect();
    let county_size = BTreeMap::from([
        ("providers".to_string(), county.roster.providers.len()),
        ("teams".to_string(), county.roster.teams.len()),
        ("carers".to_string(), county.roster.carers.len()),
        ("packages".to_string(), county.roster.packages.len()),
    ]);
    Ok(SimReport {
        scenario: s.name.clone(),
        days: s.days,
        seeds: seeds.to_vec(),
        county: county_size,
        devon_targets: report::DEVON_TARGETS
            .iter()
            .map(|(m, t)| (m.to_string(), *t))
            .collect(),
        policies,
        runs,
    })
}

/// The seeds a scenario asks for, or `count` from its first seed.
pub fn seeds(s: &Scenario, count: Option<u32>) -> Vec<u64> {
    let n = count.unwrap_or(s.seeds.count);
    (0..u64::from(n)).map(|i| s.seeds.first + i).collect()
}
