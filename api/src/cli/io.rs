//! File and argument helpers shared by the commands; every failure is a message
//! naming the file or the flag.

use carefill_solver::format::{self, PlanningRequest};
use carefill_solver::model::Problem;
use std::path::Path;
use std::time::Duration;

/// Reads a whole text file.
pub fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Writes `text` to `path`, or prints it on stdout when there is no path.
pub fn write(path: Option<&Path>, text: &str) -> Result<(), String> {
    match path {
        Some(p) => {
            std::fs::write(p, text).map_err(|e| format!("cannot write {}: {e}", p.display()))
        }
        None => {
            println!("{text}");
            Ok(())
        }
    }
}

/// Writes a file readable only by its owner (on Unix): it holds secrets.
pub fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    file.write_all(text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Reads and parses a planning request (format only, not yet validated).
pub fn load_request(path: &Path) -> Result<PlanningRequest, String> {
    let text = read(path)?;
    format::parse_request(&text).map_err(|i| format!("{}: {i}", path.display()))
}

/// Reads and validates a planning request, listing every problem it has.
pub fn load_problem(path: &Path) -> Result<Problem, String> {
    let request = load_request(path)?;
    Problem::from_request(&request).map_err(|issues| {
        let lines: Vec<String> = issues.iter().map(|i| format!("  {i}")).collect();
        format!(
            "{} has {} problem(s):\n{}",
            path.display(),
            issues.len(),
            lines.join("\n")
        )
    })
}

/// Pretty JSON, as every command writes it.
pub fn to_json<T: serde::Serialize>(value: &T) -> Result<String, String> {
    serde_json::to_string_pretty(value).map_err(|e| format!("cannot serialise: {e}"))
}

/// `--time-limit` as a duration; at most an hour, so a typo cannot hold a machine.
pub fn time_limit(seconds: f64) -> Result<Duration, String> {
    if seconds.is_finite() && seconds > 0.0 && seconds <= 3600.0 {
        Ok(Duration::from_secs_f64(seconds))
    } else {
        Err("--time-limit must be between 0 and 3600 seconds".into())
    }
}
