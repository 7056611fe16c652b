//! Benchmark solutions in the community's formats: solve, write (VRPLIB `.sol`
//! for Solomon, the iolab-uniud JSON for Mankowska), read back, check and
//! re-score; the result must be the objective the solve printed.

use carefill_solver::benchmarks::{
    BenchError, BenchFormat, BenchInstance, SolomonObjective, load_file, load_mankowska,
    load_solomon,
};
use carefill_solver::check::check;
use carefill_solver::format::Rota;
use carefill_solver::rota::{SolveOptions, solve};
use carefill_solver::testing::assert_feasible;
use std::path::Path;
use std::time::Duration;

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/benchmarks");

/// Reads a file of the shared benchmark folder, or says why the test is skipped.
fn shared(rel: &str) -> Option<String> {
    let path = format!("{SHARED}/{rel}");
    match std::fs::read_to_string(&path) {
        Ok(t) => Some(t),
        Err(e) => {
            eprintln!("skipping: {path} is not available ({e})");
            None
        }
    }
}

const SOLOMON_TINY: &str = "TINY

VEHICLE
NUMBER     CAPACITY
  2          30

CUSTOMER
CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME

    0      0      0     0      0    100     0
    1      3      4    10      0     50     5
    2      1      1    20     10     60     5
    3      0      7    15     20     80     5
";

/// Two patients: p1 needs services 1 then 2 (5-20 apart), p2 service 1; two
/// caregivers, the second qualified for both services.
const MANKOWSKA_TINY: &str = "nbNodes
4
nbVehi
2
nbServi
2
r
1 1
1 1
1 0
1 1
DS
2
a
1 0
1 1
x
0 3 0 0
y
0 4 1 0
d
0.0 5.0 1.0 0.0
5.0 0.0 4.2426405 5.0
1.0 4.2426405 0.0 1.0
0.0 5.0 1.0 0.0
p
0 0
0 0
10.0 10.0
10.0 10.0
10.0 10.0
10.0 10.0
0 0
0 0
mind
0 5 0 0
maxd
0 20 0 0
e
0 10 0 0
l
100 30 50 200
";

fn quick(iterations: u64) -> SolveOptions {
    SolveOptions {
        time_limit: Duration::from_secs(60),
        seed: 1,
        max_iterations: Some(iterations),
        use_milp: false,
        ..SolveOptions::default()
    }
}

/// Solves, writes, reads back and re-scores; returns the written text.
fn round_trip(inst: &BenchInstance, iterations: u64) -> String {
    let rota = solve(&inst.problem, &quick(iterations));
    assert_feasible(&inst.problem, &rota);
    let printed = inst.score(&rota);
    assert_eq!(printed.unplaced, 0);
    let text = inst.write_solution(&rota);
    let read = inst
        .read_solution(&text)
        .expect("the written solution reads back");
    assert_feasible(&inst.problem, &read.rota);
    let again = inst.score(&read.rota);
    assert_eq!(again.unplaced, 0);
    assert!(
        (again.objective - printed.objective).abs() < 1e-9,
        "re-scored {} against printed {}",
        again.objective,
        printed.objective
    );
    assert_eq!(again.vehicles, printed.vehicles);
    assert!((again.total_tardiness - printed.total_tardiness).abs() < 1e-9);
    assert!((again.max_tardiness - printed.max_tardiness).abs() < 1e-9);
    if let Some(cost) = read.claimed_cost {
        // The file's own Cost line is the printed objective (one decimal, exact).
        assert!((cost - printed.objective).abs() < 1e-9, "{cost}");
    }
    text
}

fn routes_in(text: &str) -> Vec<Vec<usize>> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(_, body)| {
            body.split_whitespace()
                .map(|t| t.parse().expect("a customer number"))
                .collect()
        })
        .collect()
}

#[test]
fn solomon_solution_round_trips_through_vrplib() {
    let inst = load_solomon("TINY", SOLOMON_TINY, SolomonObjective::Distance).expect("parses");
    let text = round_trip(&inst, 100);
    assert!(text.starts_with("Route #1: "), "{text}");
    assert!(text.lines().last().is_some_and(|l| l.starts_with("Cost ")));
    let mut customers: Vec<usize> = routes_in(&text).concat();
    customers.sort_unstable();
    assert_eq!(customers, vec![1, 2, 3]);
}

#[test]
fn a_hand_written_vrplib_solution_is_timed_checked_and_scored() {
    let inst = load_solomon("TINY", SOLOMON_TINY, SolomonObjective::Distance).expect("parses");
    // Arcs truncated to one decimal: 0-1 5.0, 1-2 3.6, 2-0 1.4, 0-3 7.0, 3-0 7.0.
    let read = inst
        .read_solution("Route #1: 1 2\nRoute #2: 3\nCost 24.0\n")
        .expect("reads");
    assert_feasible(&inst.problem, &read.rota);
    let s = inst.score(&read.rota);
    assert!((s.distance - 24.0).abs() < 1e-9, "{s:?}");
    assert_eq!((s.vehicles, s.unplaced), (2, 0));
    assert_eq!(read.claimed_cost, Some(24.0));
    // A customer left out is reported unplaced, not silently dropped.
    let partial = inst.read_solution("Route #1: 1 2\n").expect("reads");
    assert_eq!(inst.score(&partial.rota).unplaced, 1);
    assert_eq!(partial.rota.unplaced[0].reasons[0].code, "not_in_solution");
}

#[test]
fn malformed_vrplib_solutions_are_rejected_with_their_line() {
    let inst = load_solomon("TINY", SOLOMON_TINY, SolomonObjective::Distance).expect("parses");
    let err = |text: &str| -> String {
        match inst.read_solution(text) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("accepted {text:?}"),
        }
    };
    assert!(err("Route #1: 1 x\n").contains("line 1"));
    assert!(err("Route #1: 1\nRoute #2: 4\n").contains("customer 4 is not in the instance"));
    assert!(err("Route #1: 1 2\nRoute #2: 2\n").contains("customer 2 is visited twice"));
    assert!(err("Route #1: 1\nRoute #2: 2\nRoute #3: 3\n").contains("more routes than"));
    assert!(err("Tour 1: 1 2 3\n").contains("line 1"));
    assert!(err("Cost twelve\n").contains("`Cost` and a number"));
}

#[test]
fn c101_solution_round_trips_through_vrplib() {
    let Some(text) = shared("solomon/C101.txt") else {
        return;
    };
    let inst = load_solomon("C101", &text, SolomonObjective::Distance).expect("parses");
    let sol = round_trip(&inst, 30);
    assert_eq!(routes_in(&sol).concat().len(), 100);
}

#[test]
fn the_solomon_adapter_reads_gehring_homberger_sized_instances() {
    // Same layout as Gehring-Homberger's 200-1000 customer files (scripts/gen-vrptw.py).
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/vrptw_800_1.txt");
    let inst = load_file(&path, BenchFormat::Solomon, SolomonObjective::Distance).expect("parses");
    assert_eq!(inst.problem.visits.len(), 800);
    assert_eq!(inst.problem.shifts.len(), 100);
    assert_eq!(inst.solution_extension(), "sol");
}

fn hhc(text: &str) -> serde_json::Value {
    serde_json::from_str(text).expect("JSON")
}

#[test]
fn mankowska_solution_round_trips_through_the_iolab_json() {
    let inst = load_mankowska("TINY", MANKOWSKA_TINY).expect("parses");
    let text = round_trip(&inst, 100);
    let v = hhc(&text);
    assert_eq!(v["instance"], "TINY");
    let routes = v["routes"].as_array().expect("routes");
    // One entry per caregiver, used or not (the iolab validator counts them).
    let ids: Vec<&str> = routes
        .iter()
        .map(|r| r["caregiver_id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, vec!["c1", "c2"]);
    let mut services = Vec::new();
    for r in routes {
        for l in r["locations"].as_array().expect("locations") {
            let arrival = l["arrival_time"].as_f64().expect("arrival");
            let departure = l["departure_time"].as_f64().expect("departure");
            assert!((departure - arrival - 10.0).abs() < 1e-9, "{l}");
            services.push(format!(
                "{}/{}",
                l["patient_id"].as_str().expect("patient"),
                l["service_id"].as_str().expect("service")
            ));
        }
    }
    services.sort();
    assert_eq!(services, vec!["p1/s1", "p1/s2", "p2/s1"]);
    let order = v["global_ordering"].as_array().expect("ordering");
    assert_eq!(order.len(), 2);
}

#[test]
fn the_iolab_toolbox_keys_are_read_too() {
    let inst = load_mankowska("TINY", MANKOWSKA_TINY).expect("parses");
    // Caregiver 2 makes p2 (leg 1.0), then p1 service 1 at 10 and service 2 at 25;
    // back to the depot: 1.0 + 4.2426405 + 5.0 travelled; p1/s2 is late by 0 (l = 30).
    let text = r#"{"routes": [
        {"caregiver": "c1", "locations": []},
        {"caregiver": "c2", "locations": [
            {"patient": "p2", "service": "s1", "arrival_time": 1, "departure_time": 11},
            {"patient": "p1", "service": "s1", "arrival_time": 15.25, "departure_time": 25.25},
            {"patient": "p1", "service": "s2", "arrival_time": 25.25, "departure_time": 35.25}
        ]}]}"#;
    let read = inst.read_solution(text).expect("reads");
    let report = check(&inst.problem, &read.rota);
    assert!(report.is_feasible(), "{:?}", report.violations);
    let s = inst.score(&read.rota);
    assert!((s.distance - 10.2426405).abs() < 1e-9, "{s:?}");
    assert_eq!(s.unplaced, 0);
    assert!(s.max_tardiness.abs() < 1e-9);
}

#[test]
fn iolab_solutions_that_contradict_the_instance_are_rejected() {
    let inst = load_mankowska("TINY", MANKOWSKA_TINY).expect("parses");
    let err = |text: &str| -> String {
        match inst.read_solution(text) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("accepted {text}"),
        }
    };
    let one =
        |loc: &str| format!(r#"{{"routes": [{{"caregiver_id": "c2", "locations": [{loc}]}}]}}"#);
    assert!(err("{").contains("not an iolab-uniud HHCRSP solution"));
    assert!(
        err(r#"{"routes": [{"caregiver_id": "c3"}]}"#)
            .contains("caregiver `c3` is not in the instance")
    );
    assert!(
        err(r#"{"routes": [{"caregiver_id": "c1"}, {"caregiver_id": "c1"}]}"#)
            .contains("two routes")
    );
    assert!(
        err(&one(
            r#"{"patient_id": "p2", "service_id": "s2", "arrival_time": 1, "departure_time": 11}"#
        ))
        .contains("does not require service")
    );
    assert!(
        err(&one(
            r#"{"patient_id": "p2", "service_id": "s1", "arrival_time": 1, "departure_time": 5}"#
        ))
        .contains("departure_time 5")
    );
    assert!(
        err(&one(
            r#"{"patient_id": "x2", "service_id": "s1", "arrival_time": 1, "departure_time": 11}"#
        ))
        .contains("patient `x2`")
    );
    let twice =
        r#"{"patient_id": "p2", "service_id": "s1", "arrival_time": 1, "departure_time": 11}"#;
    assert!(err(&one(&format!("{twice}, {twice}"))).contains("also made at"));
    assert!(matches!(
        inst.read_solution("{"),
        Err(BenchError::Invalid { .. })
    ));
}

#[test]
fn mankowska_10_1_solution_round_trips_through_the_iolab_json() {
    let Some(text) = shared("mankowska/InstanzCPLEX_HCSRP_10_1.txt") else {
        return;
    };
    let inst = load_mankowska("InstanzCPLEX_HCSRP_10_1", &text).expect("parses");
    let sol = round_trip(&inst, 200);
    assert_eq!(hhc(&sol)["routes"].as_array().map(Vec::len), Some(3));
}

/// A rota that is not the instance's own (a route on an unknown shift) writes
/// only what it can name.
#[test]
fn unknown_routes_are_left_out_of_a_written_solution() {
    let inst = load_solomon("TINY", SOLOMON_TINY, SolomonObjective::Distance).expect("parses");
    let mut rota: Rota = solve(&inst.problem, &quick(20));
    for r in &mut rota.routes {
        r.shift = format!("{}-elsewhere", r.shift);
    }
    let text = inst.write_solution(&rota);
    assert!(routes_in(&text).is_empty(), "{text}");
}
