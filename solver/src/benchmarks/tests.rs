use super::*;
use crate::check::check;
use crate::rota::{SolveOptions, solve};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/benchmarks");
const SOLOMON: &[&str] = &["C101", "C201", "R101", "R201", "RC101", "RC201"];

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

fn mankowska_names() -> Vec<String> {
    let mut out = Vec::new();
    for n in [10, 25] {
        for k in 1..=10 {
            out.push(format!("InstanzCPLEX_HCSRP_{n}_{k}"));
        }
    }
    out
}

const TINY: &str = "TINY

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

#[test]
fn solomon_snippet_is_scaled_by_ten() {
    let inst = load_solomon("TINY", TINY, SolomonObjective::Distance).unwrap();
    let p = &inst.problem;
    assert_eq!(inst.format(), BenchFormat::Solomon);
    assert_eq!(inst.scale(), 10.0);
    assert_eq!(p.carers.len(), 2);
    assert_eq!(p.shifts.len(), 2);
    assert!(p.carers.iter().all(|c| c.capacity == Some(30)));
    assert_eq!((p.shifts[0].start, p.shifts[0].end), (0, 1000));
    assert_eq!(p.visits.len(), 3);
    assert_eq!(p.service_users.len(), 3);
    let v1 = &p.visits[p.visit_index["c1/visit@2026-01-05"]];
    assert_eq!(
        (v1.earliest_start, v1.latest_start, v1.duration),
        (0, 500, 50)
    );
    assert_eq!(v1.demand, 10);
    assert_eq!(v1.carers_required, 1);
    assert!(v1.skills.is_empty());
    // Truncated tenths: 5 -> 50, sqrt 2 -> 14, sqrt 13 -> 36, sqrt 18 -> 42, sqrt 37 -> 60.
    let leg = |a: usize, b: usize| p.leg(0, a, b).minutes;
    assert_eq!(leg(0, 1), 50);
    assert_eq!(leg(0, 2), 14);
    assert_eq!(leg(1, 2), 36);
    assert_eq!(leg(2, 1), 36);
    assert_eq!(leg(1, 3), 42);
    assert_eq!(leg(2, 3), 60);
    assert_eq!(p.lateness, LatenessRule::Hard);
    assert!(p.paid_commute);
    assert_eq!(p.break_duration, 0);
    assert_eq!(p.weights.travel_min, 1.0);
    assert_eq!(p.weights.shift_used, 0.0);
    let vf = load_solomon("TINY", TINY, SolomonObjective::VehiclesFirst).unwrap();
    assert_eq!(vf.problem.weights.shift_used, 1e5);
    assert_eq!(
        vf.solomon_objective(),
        Some(SolomonObjective::VehiclesFirst)
    );
    // Id maps line up with the vectors.
    for (i, s) in p.shifts.iter().enumerate() {
        assert_eq!(p.shift_index[&s.id], i);
        assert_eq!(p.carer_index[&p.carers[s.carer].id], s.carer);
    }
    for (i, u) in p.service_users.iter().enumerate() {
        assert_eq!(p.service_user_index[&u.id], i);
    }
}

#[test]
fn solomon_snippet_solves_and_scores() {
    let inst = load_solomon("TINY", TINY, SolomonObjective::Distance).unwrap();
    let rota = solve(
        &inst.problem,
        &SolveOptions {
            time_limit: Duration::from_secs(10),
            seed: 1,
            max_iterations: Some(30),
            use_milp: false,
            ..SolveOptions::default()
        },
    );
    assert!(check(&inst.problem, &rota).is_feasible());
    let s = inst.score(&rota);
    assert_eq!(s.unplaced, 0);
    // Capacity 30 and demands 10, 20, 15: two vehicles are needed.
    assert_eq!(s.vehicles, 2);
    assert_eq!(s.objective, s.distance);
    assert_eq!(s.total_tardiness, 0.0);
}

/// Every way of cutting the text short or corrupting a line gives Ok or an error, never a panic.
fn never_panics(text: &str, load: &dyn Fn(&str) -> Result<BenchInstance, BenchError>) {
    let cuts: Vec<usize> = (0..=text.len())
        .filter(|&i| text.is_char_boundary(i))
        .step_by(7)
        .collect();
    for i in cuts {
        let _ = load(&text[..i]);
    }
    for (k, _) in text.lines().enumerate() {
        let corrupted: Vec<&str> = text
            .lines()
            .enumerate()
            .map(|(j, l)| if j == k { "1 x -7 1e999" } else { l })
            .collect();
        let _ = load(&corrupted.join("\n"));
    }
}

fn err_text(r: Result<BenchInstance, BenchError>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn malformed_solomon_gives_errors_with_lines() {
    let load = |t: &str| load_solomon("X", t, SolomonObjective::Distance);
    never_panics(TINY, &load);
    assert!(err_text(load("")).contains("expected the `VEHICLE` heading"));
    assert!(err_text(load("\u{0}\u{1}garbage\n%%%")).contains("unexpected end of input"));
    let cut = TINY.lines().take(10).collect::<Vec<_>>().join("\n");
    let msg = err_text(load(&cut));
    assert!(msg.contains("at least one customer"), "{msg}");
    let short_row = TINY.replace("    2      1      1    20     10     60     5", "2 1 1 20");
    let msg = err_text(load(&short_row));
    assert!(
        msg.starts_with("line 12: expected 7 numbers (CUST NO."),
        "{msg}"
    );
    let word = TINY.replace("1      3      4    10", "1      3      four 10");
    assert!(err_text(load(&word)).starts_with("line 11: expected 7 numbers"));
    let order = TINY.replace("    3      0      7", "    5      0      7");
    let msg = err_text(load(&order));
    assert!(
        msg.starts_with("line 13: customer number 5 is out of sequence"),
        "{msg}"
    );
    let window = TINY.replace("20     80     5", "90     80     5");
    let msg = err_text(load(&window));
    assert!(
        msg.contains("line 13: due date 80 is before ready time 90"),
        "{msg}"
    );
    let vehicles = TINY.replace("  2          30", "  2");
    assert!(err_text(load(&vehicles)).starts_with("line 5: expected 2 numbers"));
    let zero = TINY.replace("  2          30", "  0          30");
    assert!(err_text(load(&zero)).contains("vehicle number must be a whole number"));
    let no_customer = TINY.replace("CUSTOMER", "CLIENTS");
    assert!(err_text(load(&no_customer)).starts_with("line 7: expected the `CUSTOMER` heading"));
    let demand = TINY.replace("3      4    10", "3      4    1.5");
    assert!(err_text(load(&demand)).contains("DEMAND must be a whole number"));
}

#[test]
fn real_solomon_files_parse_with_counts_and_scaling() {
    for name in SOLOMON {
        let Some(text) = shared(&format!("solomon/{name}.txt")) else {
            return;
        };
        let inst = load_solomon(name, &text, SolomonObjective::Distance).unwrap();
        assert_eq!(inst.problem.visits.len(), 100, "{name}");
        assert_eq!(inst.problem.carers.len(), 25, "{name}");
        assert_eq!(inst.visit_node.len(), 100);
        assert!(inst.best_known().is_some());
    }
    let Some(text) = shared("solomon/R101.txt") else {
        return;
    };
    let inst = load_solomon("R101", &text, SolomonObjective::Distance).unwrap();
    let p = &inst.problem;
    assert_eq!(p.visits.len(), 100);
    assert_eq!(p.carers.len(), 25);
    assert!(p.carers.iter().all(|c| c.capacity == Some(200)));
    // Depot 0 0 230 -> shift [0, 2300]; customer 1: 41 49 10 161 171 10.
    assert_eq!((p.shifts[0].start, p.shifts[0].end), (0, 2300));
    let v = &p.visits[0];
    assert_eq!(v.id, "c1/visit@2026-01-05");
    assert_eq!(
        (v.earliest_start, v.latest_start, v.duration, v.demand),
        (1610, 1710, 100, 10)
    );
    // Depot (35,35) to customer 1 (41,49): sqrt(232) = 15.23 -> 152 tenths.
    assert_eq!(p.leg(0, 0, v.location).minutes, 152);
}

/// Independent distance of a rota from the file's coordinates (DIMACS truncation).
fn solomon_distance_from_coordinates(text: &str, rota: &Rota) -> f64 {
    let mut xy: HashMap<String, (f64, f64)> = HashMap::new();
    let mut depot = (0.0, 0.0);
    for line in text.lines() {
        let t: Vec<f64> = line
            .split_whitespace()
            .filter_map(|s| s.parse().ok())
            .collect();
        if t.len() == 7 {
            if t[0] == 0.0 {
                depot = (t[1], t[2]);
            }
            xy.insert(format!("c{}", t[0]), (t[1], t[2]));
        }
    }
    let arc = |a: (f64, f64), b: (f64, f64)| {
        let d: f64 = ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
        (d * 10.0).floor() / 10.0
    };
    let mut total = 0.0;
    for r in &rota.routes {
        let mut at = depot;
        for s in &r.stops {
            let next = xy[&s.service_user];
            total += arc(at, next);
            at = next;
        }
        total += arc(at, depot);
    }
    total
}

#[test]
fn c101_solves_feasibly_and_the_distance_is_right() {
    let Some(text) = shared("solomon/C101.txt") else {
        return;
    };
    let inst = load_solomon("C101", &text, SolomonObjective::Distance).unwrap();
    let rota = solve(
        &inst.problem,
        &SolveOptions {
            time_limit: Duration::from_secs(30),
            seed: 1,
            max_iterations: Some(50),
            use_milp: false,
            ..SolveOptions::default()
        },
    );
    let report = check(&inst.problem, &rota);
    assert!(report.is_feasible(), "{:?}", report.violations);
    let s = inst.score(&rota);
    assert_eq!(s.unplaced, 0);
    let independent = solomon_distance_from_coordinates(&text, &rota);
    assert!(
        (s.distance - independent).abs() < 1e-6,
        "score {} vs recomputed {independent}",
        s.distance
    );
    // Paid travel minutes are the scaled distance of every leg.
    let kpis = report.kpis;
    assert!((kpis.travel_min as f64 / 10.0 - s.distance).abs() < 1e-6);
    assert_eq!(s.vehicles as usize, rota.routes.len());
    assert!(
        s.distance >= 827.3 - 1e-9,
        "below the proven optimum: {}",
        s.distance
    );
}

const MANK_TINY: &str = "nbNodes
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

#[test]
fn mankowska_snippet_maps_services_links_and_scale() {
    let inst = load_mankowska("TINY", MANK_TINY).unwrap();
    let p = &inst.problem;
    assert_eq!(inst.format(), BenchFormat::Mankowska);
    assert_eq!(p.skills, vec!["service1", "service2"]);
    assert_eq!(p.carers.len(), 2);
    assert_eq!(p.carers[0].skills, SkillSet(0b01));
    assert_eq!(p.carers[1].skills, SkillSet(0b11));
    assert_eq!(p.service_users.len(), 2);
    assert_eq!(p.visits.len(), 3);
    let a = &p.visits[p.visit_index["patient1/service1@2026-01-05"]];
    let b = &p.visits[p.visit_index["patient1/service2@2026-01-05"]];
    assert_eq!(
        (a.earliest_start, a.latest_start, a.duration),
        (1000, 3000, 1000)
    );
    assert_eq!((a.skills, b.skills), (SkillSet(1), SkillSet(2)));
    assert_eq!(p.links.len(), 1);
    let link = p.links[0];
    assert_eq!(
        (link.first, link.then),
        (p.visit_index[&a.id], p.visit_index[&b.id])
    );
    assert_eq!((link.min_offset, link.max_offset), (500, 2000));
    // A gap, not simultaneous: one qualified caregiver may do both (the paper's (11)-(12)).
    assert!(!link.distinct_carers);
    // Travel rounded up to 0.01: 4.2426405 -> 425.
    assert_eq!(p.leg(0, 1, 2).minutes, 425);
    // Routes end at the depot copy (node 3).
    assert_eq!((p.shifts[0].start_loc, p.shifts[0].end_loc), (0, 3));
    match p.lateness {
        LatenessRule::Soft {
            max_late_min,
            cost_per_min,
        } => {
            assert!((cost_per_min - 1.0 / 3.0).abs() < 1e-12);
            assert!(max_late_min >= p.shifts[0].end);
        }
        LatenessRule::Hard => panic!("Mankowska lateness is soft"),
    }
    assert!((p.weights.travel_min - 1.0 / 3.0).abs() < 1e-12);
}

#[test]
fn malformed_mankowska_gives_errors_with_lines() {
    let load = |t: &str| load_mankowska("X", t);
    never_panics(MANK_TINY, &load);
    assert!(err_text(load("")).contains("expected block `nbNodes`"));
    assert!(err_text(load("12\n3\n")).starts_with("line 1: expected the `nbNodes` keyword"));
    assert!(err_text(load("hello world\n")).starts_with("line 1: expected the `nbNodes`"));
    assert!(err_text(load("nbNodes\nbanana\n")).starts_with("line 2: expected a block keyword"));
    let cut: String = MANK_TINY.lines().take(22).collect::<Vec<_>>().join("\n");
    let msg = err_text(load(&cut));
    assert!(
        msg.contains("line 21: block `d` should hold 16 numbers") && msg.contains("truncated"),
        "{msg}"
    );
    let cut: String = MANK_TINY.lines().take(38).collect::<Vec<_>>().join("\n");
    assert!(err_text(load(&cut)).contains("expected block `e`"));
    let row = MANK_TINY.replace("5.0 0.0 4.2426405 5.0", "5.0 0.0 4.2426405");
    let msg = err_text(load(&row));
    assert!(
        msg.starts_with("line 23: expected 4 numbers (one row of `d`"),
        "{msg}"
    );
    let word = MANK_TINY.replace("0 5 0 0", "0 five 0 0");
    let msg = err_text(load(&word));
    assert!(
        msg.starts_with("line 36: expected a number in block `mind`, found `five`"),
        "{msg}"
    );
    let flag = MANK_TINY.replace("1 0\n1 1\nx", "1 2\n1 1\nx");
    assert!(err_text(load(&flag)).contains("`a` holds 0 or 1, found 2"));
    let ds = MANK_TINY.replace("DS\n2\n", "DS\n4\n");
    assert!(err_text(load(&ds)).contains("double-service node 4 is not a patient"));
    let single = MANK_TINY.replace("DS\n2\n", "DS\n3\n");
    let msg = err_text(load(&single));
    assert!(
        msg.contains("requires 2 services but is not listed in `DS`"),
        "{msg}"
    );
    let gap = MANK_TINY.replace("0 20 0 0", "0 2 0 0");
    assert!(err_text(load(&gap)).contains("minimum gap 5 exceeds maximum gap 2"));
    let twice = format!("{MANK_TINY}x\n1 2 3 4\n");
    assert!(err_text(load(&twice)).contains("block `x` appears twice"));
    let nodes = MANK_TINY.replacen("4\n", "4.5\n", 1);
    assert!(err_text(load(&nodes)).contains("`nbNodes` must be a whole number"));
}

#[test]
fn real_mankowska_files_parse() {
    for name in mankowska_names() {
        let Some(text) = shared(&format!("mankowska/{name}.txt")) else {
            return;
        };
        let inst = load_mankowska(&name, &text).unwrap();
        let p = &inst.problem;
        let patients: usize = if name.contains("_10_") { 10 } else { 25 };
        assert_eq!(p.service_users.len(), patients, "{name}");
        assert_eq!(p.carers.len(), if patients == 10 { 3 } else { 5 });
        assert_eq!(p.visits.len(), patients + p.links.len(), "{name}");
        assert!(inst.best_known().is_some(), "{name}");
    }
    let Some(text) = shared("mankowska/InstanzCPLEX_HCSRP_10_1.txt") else {
        return;
    };
    let inst = load_mankowska("InstanzCPLEX_HCSRP_10_1", &text).unwrap();
    let p = &inst.problem;
    // DS 11 10 9 (1-based) = patients 8, 9, 10; gaps [0,0], [51,102], [8,16].
    assert_eq!(p.links.len(), 3);
    let gaps: Vec<(String, Minute, Minute)> = p
        .links
        .iter()
        .map(|l| {
            let u = &p.service_users[p.visits[l.first].service_user].id;
            (u.clone(), l.min_offset, l.max_offset)
        })
        .collect();
    assert_eq!(
        gaps,
        vec![
            ("patient8".to_string(), 0, 0),
            ("patient9".to_string(), 5100, 10200),
            ("patient10".to_string(), 800, 1600)
        ]
    );
    // Patient 9 needs services 1 and 4; 14.0 minutes each; window [298, 418].
    let v = &p.visits[p.visit_index["patient9/service1@2026-01-05"]];
    assert_eq!(
        (v.earliest_start, v.latest_start, v.duration),
        (29800, 41800, 1400)
    );
    assert_eq!(p.leg(0, 0, 1).minutes, 3848); // 38.470768 rounded up
}

#[test]
fn mankowska_10_1_solves_with_synchronised_pairs() {
    let Some(text) = shared("mankowska/InstanzCPLEX_HCSRP_10_1.txt") else {
        return;
    };
    let inst = load_mankowska("InstanzCPLEX_HCSRP_10_1", &text).unwrap();
    let p = &inst.problem;
    let rota = solve(
        p,
        &SolveOptions {
            time_limit: Duration::from_secs(20),
            seed: 1,
            max_iterations: Some(300),
            use_milp: false,
            ..SolveOptions::default()
        },
    );
    let report = check(p, &rota);
    assert!(report.is_feasible(), "{:?}", report.violations);
    let s = inst.score(&rota);
    assert_eq!(s.unplaced, 0);
    let start_of = |v: usize| -> String {
        rota.routes
            .iter()
            .flat_map(|r| &r.stops)
            .find(|st| st.visit == p.visits[v].id)
            .map(|st| st.start.clone())
            .unwrap()
    };
    let mut synchronised = 0;
    for l in &p.links {
        if (l.min_offset, l.max_offset) == (0, 0) {
            assert_eq!(start_of(l.first), start_of(l.then));
            synchronised += 1;
        }
    }
    assert_eq!(synchronised, 1);
    // Independent distance from the file's matrix.
    let d: Vec<Vec<f64>> = text
        .split("\nd\n")
        .nth(1)
        .unwrap()
        .lines()
        .take(12)
        .map(|l| l.split_whitespace().map(|x| x.parse().unwrap()).collect())
        .collect();
    let node = |user: &str| -> usize { user.trim_start_matches("patient").parse().unwrap() };
    let mut dist = 0.0;
    for r in &rota.routes {
        let mut at = 0;
        for st in &r.stops {
            dist += d[at][node(&st.service_user)];
            at = node(&st.service_user);
        }
        dist += d[at][11];
    }
    assert!((dist - s.distance).abs() < 1e-6, "{dist} vs {}", s.distance);
    let bks = best_known("InstanzCPLEX_HCSRP_10_1", BenchFormat::Mankowska).unwrap();
    assert!(
        s.objective >= bks - 1e-3,
        "{} below the optimum {bks}",
        s.objective
    );
    assert!((s.objective - (s.distance + s.total_tardiness + s.max_tardiness) / 3.0).abs() < 1e-9);
}

#[test]
fn best_known_table_and_names() {
    assert_eq!(best_known("C101", BenchFormat::Solomon), Some(827.3));
    assert_eq!(best_known("c101.txt", BenchFormat::Solomon), Some(827.3));
    assert_eq!(
        best_known("/x/y/RC201.txt", BenchFormat::Solomon),
        Some(1261.8)
    );
    assert_eq!(
        best_known_solomon("R101", SolomonObjective::VehiclesFirst),
        Some(SolomonBest {
            vehicles: 19,
            distance: 1650.80
        })
    );
    assert_eq!(
        best_known("InstanzCPLEX_HCSRP_25_6", BenchFormat::Mankowska),
        Some(464.622)
    );
    assert_eq!(best_known("C101", BenchFormat::Mankowska), None);
    assert_eq!(best_known("R999", BenchFormat::Solomon), None);
    // The table's total cost is (distance + total + max tardiness) / 3.
    for r in MANKOWSKA_BKS {
        // The published figures are rounded (some distances to one decimal).
        assert!(((r.1 + r.2 + r.3) / 3.0 - r.4).abs() < 2e-2, "{}", r.0);
    }
}

#[test]
fn formats_and_objectives_parse() {
    assert_eq!(
        "Solomon".parse::<BenchFormat>().unwrap(),
        BenchFormat::Solomon
    );
    assert_eq!(
        "mankowska".parse::<BenchFormat>().unwrap(),
        BenchFormat::Mankowska
    );
    let e = "tsplib".parse::<BenchFormat>().unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown benchmark format `tsplib`: expected `solomon` or `mankowska`"
    );
    assert_eq!(
        "vehicles".parse::<SolomonObjective>().unwrap(),
        SolomonObjective::VehiclesFirst
    );
    assert_eq!(
        "distance".parse::<SolomonObjective>().unwrap(),
        SolomonObjective::Distance
    );
    assert!("time".parse::<SolomonObjective>().is_err());
    assert_eq!(BenchFormat::Mankowska.to_string(), "mankowska");
    let missing = load_file(
        Path::new("/nonexistent/C101.txt"),
        BenchFormat::Solomon,
        SolomonObjective::Distance,
    );
    assert!(err_text(missing).starts_with("cannot read /nonexistent/C101.txt"));
}

/// The benchmark table: `cargo test --release -p carefill-solver benchmark_table -- --ignored --nocapture`.
#[test]
#[ignore = "runs every shared instance with the full time limit (minutes)"]
fn benchmark_table() {
    let mut rows: Vec<String> = Vec::new();
    let mut run = |inst: &BenchInstance, seconds: u64, best: Option<(u32, f64)>, label: &str| {
        let t0 = Instant::now();
        let rota = solve(
            &inst.problem,
            &SolveOptions {
                time_limit: Duration::from_secs(seconds),
                seed: 1,
                max_iterations: None,
                use_milp: true,
                ..SolveOptions::default()
            },
        );
        let secs = t0.elapsed().as_secs_f64();
        let feasible = check(&inst.problem, &rota).is_feasible();
        let s = inst.score(&rota);
        let (bv, bd) = best.map_or(("-".to_string(), "-".to_string()), |(v, d)| {
            (v.to_string(), format!("{d:.3}"))
        });
        let gap = best.map_or("-".to_string(), |(_, d)| {
            format!("{:.2}", 100.0 * (s.objective - d) / d)
        });
        rows.push(format!(
            "| {} | {label} | {:.3} | {bd} | {gap} | {} | {bv} | {:.2} | {:.2} | {} | {} | {secs:.1} |",
            inst.name,
            s.objective,
            s.vehicles,
            s.total_tardiness,
            s.max_tardiness,
            s.unplaced,
            if feasible { "yes" } else { "NO" },
        ));
        eprintln!("{}", rows.last().unwrap());
    };
    for objective in [SolomonObjective::Distance, SolomonObjective::VehiclesFirst] {
        for name in SOLOMON {
            let Some(text) = shared(&format!("solomon/{name}.txt")) else {
                continue;
            };
            let inst = load_solomon(name, &text, objective).unwrap();
            let best = best_known_solomon(name, objective).map(|b| (b.vehicles, b.distance));
            let label = match objective {
                SolomonObjective::Distance => "DIMACS distance",
                SolomonObjective::VehiclesFirst => "vehicles first (vs SINTEF)",
            };
            run(&inst, 10, best, label);
        }
    }
    for name in mankowska_names() {
        let Some(text) = shared(&format!("mankowska/{name}.txt")) else {
            continue;
        };
        let inst = load_mankowska(&name, &text).unwrap();
        let best = best_known(&name, BenchFormat::Mankowska)
            .map(|b| (inst.problem.carers.len() as u32, b));
        run(&inst, 5, best, "(D+T+Tmax)/3");
    }
    println!(
        "| instance | convention | objective | best known | gap % | vehicles | bk vehicles | total tard. | max tard. | unplaced | feasible | seconds |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
}
