use super::local_tests::{assert_sound, state_of};
use super::*;
use crate::benchmarks::{SolomonObjective, load_solomon};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Two vehicles of capacity 100. Customers 1 and 3 must both start at exactly
/// 10 at the same address; customer 2 (demand 50) is due between 50 and 60.
/// Vehicle 0 does 1, vehicle 1 does 2: 3 (demand 60) fits on neither as they
/// stand, but does once 1 moves to vehicle 1.
const BLOCKED: &str = "BLOCKED

VEHICLE
NUMBER     CAPACITY
  2          100

CUSTOMER
CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME

    0      0      0     0      0    1000     0
    1      0     10    10     10      10    10
    2     10      0    50     50      60    10
    3      0     10    60     10      10    10
";

fn far() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

#[test]
fn ejection_places_a_visit_that_no_insertion_can() {
    let inst = load_solomon("BLOCKED", BLOCKED, SolomonObjective::Distance).unwrap();
    let p = &inst.problem;
    let part = Part::new(p, (0..p.visits.len()).collect(), vec![0, 1]);
    let mut st = state_of(&part, &[(0, &[1]), (1, &[2])]);
    let three = p.visit_index["c3/visit@2026-01-05"];
    assert_eq!(st.unplaced, vec![three]);
    let mut blocks = Vec::new();
    assert!(part.best_insertion(&st, three, &mut blocks).is_none());
    let before = st.cost(&part);
    assert!(part.eject_repair(&mut st, &HashSet::new(), far()));
    assert!(st.unplaced.is_empty(), "{:?}", st.unplaced);
    assert!(st.cost(&part) < before);
    assert_sound(&part, &st);
    // Customer 1 moved to vehicle 1 to make room.
    let one = p.visit_index["c1/visit@2026-01-05"];
    assert_eq!(st.on[&one].as_slice(), &[1]);
    // Nothing left to repair: a second call changes nothing.
    assert!(!part.eject_repair(&mut st, &HashSet::new(), far()));
}

#[test]
fn ejection_never_trades_a_visit_for_another() {
    let inst = load_solomon("BLOCKED", BLOCKED, SolomonObjective::Distance).unwrap();
    let p = &inst.problem;
    // Only vehicle 0: customer 3 fits only if 1 goes, and 1 fits nowhere else.
    let part = Part::new(p, (0..p.visits.len()).collect(), vec![0]);
    let mut st = state_of(&part, &[(0, &[1, 2])]);
    let before = st.cost(&part);
    assert!(!part.eject_repair(&mut st, &HashSet::new(), far()));
    assert!((st.cost(&part) - before).abs() < 1e-9);
    assert_eq!(st.unplaced.len(), 1);
    assert_sound(&part, &st);
}
