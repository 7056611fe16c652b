//! Running a solve the way every route does: checked by the independent
//! checker, labelled for the metrics, counted while it runs.

use carefill_solver::check::check;
use carefill_solver::format::Rota;
use carefill_solver::model::Problem;
use carefill_solver::rota::{SolveOptions, solve};

/// Solves and runs the checker; an error if the checker rejects the rota (a bug).
pub fn run_solve(problem: &Problem, options: &SolveOptions) -> Result<Rota, String> {
    let rota = solve(problem, options);
    let report = check(problem, &rota);
    match report.violations.first() {
        None => Ok(rota),
        Some(v) => Err(format!("solver returned a rota the checker rejects: {v}")),
    }
}

/// `completed`, `cancelled` or `failed`: the `outcome` label of the solve metrics.
pub fn outcome_label<T, E>(outcome: &Result<T, E>, options: &SolveOptions) -> &'static str {
    let cancelled = options
        .cancel
        .as_ref()
        .is_some_and(|c| c.load(std::sync::atomic::Ordering::SeqCst));
    match (outcome.is_ok(), cancelled) {
        (false, _) => "failed",
        (true, true) => "cancelled",
        (true, false) => "completed",
    }
}

/// Increments a gauge now and decrements it when dropped.
#[derive(Debug)]
pub struct RunningGuard(prometheus::IntGauge);

impl RunningGuard {
    /// Counts one more running solve in `gauge` until the guard is dropped.
    pub fn new(gauge: &prometheus::IntGauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}
