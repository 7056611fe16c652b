//! The command line parses as documented: defaults, enumerated values and their
//! mapping onto the library's own names.

use super::{Cli, Command};
use crate::cli::{bench_instance, demo::DemoSize, generate, keygen, serve};
use carefill_api::Role;
use carefill_solver::benchmarks::{BenchFormat, SolomonObjective};
use carefill_solver::generate::ScenarioSize;
use clap::{CommandFactory, Parser, ValueEnum};

fn parse(args: &[&str]) -> Result<Command, clap::Error> {
    Cli::try_parse_from(std::iter::once("carefill").chain(args.iter().copied())).map(|c| c.command)
}

/// The name clap accepts for a value.
fn name<T: ValueEnum>(value: &T) -> String {
    value
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default()
}

#[test]
fn the_command_definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn enumerated_arguments_use_the_library_names() {
    for size in generate::Size::value_variants() {
        assert_eq!(name(size), ScenarioSize::from(*size).as_str());
    }
    assert_eq!(
        generate::Size::value_variants().len(),
        ScenarioSize::ALL.len()
    );
    for role in keygen::RoleArg::value_variants() {
        assert_eq!(name(role), Role::from(*role).as_str());
    }
    assert_eq!(keygen::RoleArg::value_variants().len(), Role::ALL.len());
    for format in bench_instance::Format::value_variants() {
        assert_eq!(name(format), BenchFormat::from(*format).to_string());
    }
    for objective in bench_instance::Objective::value_variants() {
        assert_eq!(
            name(objective),
            SolomonObjective::from(*objective).to_string()
        );
    }
}

#[test]
fn defaults_are_kept() {
    let Ok(Command::Gen(g)) = parse(&["gen"]) else {
        panic!("gen parses");
    };
    assert_eq!((g.seed, g.size, g.days), (1, generate::Size::Team, 7));
    let Ok(Command::Serve(s)) = parse(&["serve"]) else {
        panic!("serve parses");
    };
    assert_eq!(s.log_format, serve::LogFormat::Compact);
    assert_eq!(s.demo_size, DemoSize::County);
    assert_eq!(
        (s.solve_slots, s.max_queued_jobs, s.max_stored_jobs),
        (1, 16, 256)
    );
    let Ok(Command::BenchInstance(b)) = parse(&["bench-instance", "r.txt", "--format", "solomon"])
    else {
        panic!("bench-instance parses");
    };
    assert_eq!(b.objective, bench_instance::Objective::Distance);
    assert_eq!(b.search.time_limit, 10.0);
    assert_eq!(
        (b.search.seed, b.search.iterations, b.search.no_milp),
        (1, None, false)
    );
}

#[test]
fn bench_values_ignore_case_and_accept_the_old_spellings() {
    for (arg, want) in [
        ("vehicles", SolomonObjective::VehiclesFirst),
        ("vehicles-first", SolomonObjective::VehiclesFirst),
        ("Vehicles_First", SolomonObjective::VehiclesFirst),
        ("DISTANCE", SolomonObjective::Distance),
    ] {
        let parsed = parse(&[
            "bench-instance",
            "f",
            "--format",
            "Mankowska",
            "--objective",
            arg,
        ]);
        let Ok(Command::BenchInstance(b)) = parsed else {
            panic!("--objective {arg} parses");
        };
        assert_eq!(SolomonObjective::from(b.objective), want);
        assert_eq!(b.format, bench_instance::Format::Mankowska);
    }
    let parsed = parse(&[
        "bench-instance",
        "f",
        "--format",
        "solomon",
        "--iterations",
        "300",
        "--no-milp",
    ]);
    let Ok(Command::BenchInstance(b)) = parsed else {
        panic!("--iterations/--no-milp parse");
    };
    assert_eq!((b.search.iterations, b.search.no_milp), (Some(300), true));
}

#[test]
fn unknown_values_are_usage_errors() {
    for args in [
        &["gen", "--size", "huge"][..],
        &["serve", "--log-format", "xml"],
        &["serve", "--demo-size", "tiny"],
        &["keygen", "--id", "k", "--role", "root"],
        &["bench-instance", "f", "--format", "tsplib"],
        &[
            "bench-instance",
            "f",
            "--format",
            "solomon",
            "--objective",
            "time",
        ],
    ] {
        let err = parse(args).err().map(|e| e.kind());
        assert_eq!(err, Some(clap::error::ErrorKind::InvalidValue), "{args:?}");
    }
}
