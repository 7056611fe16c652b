//! `carefill simulate`: runs a brokerage simulation scenario (docs/simulation.md)
//! and prints each policy's fill shares against Devon Cares' 70% / 97%.

use carefill_solver::simulate::{self, SimReport, parse_scenario};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Arguments of `carefill simulate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenario JSON file.
    pub scenario: PathBuf,
    /// Seeds to run (from the scenario's first seed); default: the scenario's count.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub seeds: Option<u32>,
    /// Directory for report.json and the CSV tables (created if missing).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Runs the scenario; exit code 2 with every problem listed when it is invalid.
pub fn run(args: &Args) -> Result<ExitCode, String> {
    let text = std::fs::read_to_string(&args.scenario)
        .map_err(|e| format!("cannot read {}: {e}", args.scenario.display()))?;
    let scenario = parse_scenario(&text).map_err(|issues| {
        let lines: Vec<String> = issues.iter().map(|i| format!("  {i}")).collect();
        format!(
            "{} is not a valid scenario:\n{}",
            args.scenario.display(),
            lines.join("\n")
        )
    })?;
    let base = args.scenario.parent().map(Path::to_path_buf);
    let t0 = Instant::now();
    let county = simulate::prepare(&scenario, base.as_deref()).map_err(|e| e.to_string())?;
    let prepared = t0.elapsed();
    let seeds = simulate::seeds(&scenario, args.seeds);
    let t1 = Instant::now();
    let report = simulate::simulate(&scenario, &county, &seeds).map_err(|e| e.to_string())?;
    let ran = t1.elapsed();
    eprintln!(
        "county planned in {:.1} s ({} teams); {} policies x {} seeds simulated in {:.1} s",
        prepared.as_secs_f64(),
        county.roster.teams.len(),
        scenario.policies.len(),
        seeds.len(),
        ran.as_secs_f64()
    );
    print!("{}", table(&report));
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        let mut files = vec![("report.json", json + "\n")];
        files.extend(report.csv());
        files.push(("report.html", simulate::html::html(&report)?));
        for (name, body) in files {
            let p = dir.join(name);
            std::fs::write(&p, body).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        }
        eprintln!(
            "wrote report.json, report.html, summary.csv, runs.csv, fill_times.csv, daily.csv to {}",
            dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per policy: fill shares with 95% intervals, offers, cover hours, damages.
pub fn table(r: &SimReport) -> String {
    let pct = |i: Option<&simulate::Interval>| {
        i.filter(|i| i.mean.is_finite())
            .map_or("      -       ".to_string(), |i| {
                format!(
                    "{:5.1}% [{:4.1},{:5.1}]",
                    100.0 * i.mean,
                    100.0 * i.lo.max(0.0),
                    100.0 * i.hi.min(1.0)
                )
            })
    };
    let mut s = format!(
        "{}: {} days, seeds {:?}; Devon Cares: 70% within 1.5 h, 97% within 4 h\n{:<18} {:>9} {:>20} {:>20} {:>20} {:>8} {:>9} {:>10}\n",
        r.scenario,
        r.days,
        r.seeds,
        "policy",
        "referrals",
        "filled <= 1.5 h",
        "filled <= 4 h",
        "filled <= 24 h",
        "offers",
        "EC hours",
        "damages £"
    );
    for p in &r.policies {
        s += &format!(
            "{:<18} {:>9.1} {:>20} {:>20} {:>20} {:>8.2} {:>9.1} {:>10.0}{}\n",
            p.policy,
            p.referrals.mean,
            pct(p.share_within.get("90")),
            pct(p.share_within.get("240")),
            pct(p.share_within.get("1440")),
            p.offers_per_referral.mean,
            p.emergency_cover_hours.mean,
            p.damages_pounds.mean,
            if p.integrity_ok {
                ""
            } else {
                "  INTEGRITY CHECK FAILED"
            }
        );
    }
    s
}
