//! Test support shared by the solver's unit tests, the root integration tests,
//! the benches and the API tests (feature `test-support`).

use crate::check::check;
use crate::format::{PlanningRequest, Rota, parse_request};
use crate::model::Problem;
use std::path::PathBuf;

/// Path of a file under the repository's `fixtures/`, independent of the working directory.
pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("fixtures")
        .join(name)
}

/// Reads and parses a request fixture; panics with the reason (tests only).
pub fn load_request(name: &str) -> PlanningRequest {
    let path = fixture_path(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    parse_request(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Validates a request into a problem; panics listing every issue (tests only).
pub fn problem(request: &PlanningRequest) -> Problem {
    Problem::from_request(request).unwrap_or_else(|issues| {
        let lines: Vec<String> = issues.iter().map(ToString::to_string).collect();
        panic!("invalid request:\n{}", lines.join("\n"))
    })
}

/// Asserts the independent checker accepts `rota` (every solver test calls this).
pub fn assert_feasible(problem: &Problem, rota: &Rota) {
    let report = check(problem, rota);
    assert!(
        report.is_feasible(),
        "checker found {} violation(s):\n{}",
        report.violations.len(),
        report
            .violations
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}
