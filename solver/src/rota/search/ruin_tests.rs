use super::local_tests::assert_sound;
use super::part::RUIN_ORDER_LEN;
use super::*;
use crate::benchmarks::{SolomonObjective, load_solomon};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::fmt::Write;
use std::time::{Duration, Instant};

/// A Solomon instance of `n` customers at random points with wide windows, so
/// that most are placed and some shares of them can be taken out.
fn random_instance(n: usize, rng: &mut ChaCha8Rng) -> String {
    let mut text = String::from(
        "RANDOM\n\nVEHICLE\nNUMBER     CAPACITY\n  12        1000\n\nCUSTOMER\n\
         CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME\n\n\
             0     50     50     0      0    2000     0\n",
    );
    for i in 1..=n {
        let (x, y) = (rng.random_range(0..100), rng.random_range(0..100));
        let ready = rng.random_range(0..1200);
        writeln!(
            text,
            "{i:>5} {x:>6} {y:>6}     1 {ready:>6} {:>6}    10",
            ready + 300
        )
        .unwrap();
    }
    text
}

#[test]
fn ruin_orders_read_from_the_cache_match_sorting_every_placed_visit() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    // More visits than a cached order holds, so the full sort past it is read too.
    let n = RUIN_ORDER_LEN * 3;
    let inst = load_solomon(
        "RANDOM",
        &random_instance(n, &mut rng),
        SolomonObjective::Distance,
    )
    .unwrap();
    let p = &inst.problem;
    let part = Part::new(
        p,
        (0..p.visits.len()).collect(),
        (0..p.shifts.len()).collect(),
    );
    let mut st = part.empty_state();
    let all: Vec<usize> = part.visits.clone();
    part.construct(
        &mut st,
        &all,
        1,
        Instant::now() + Duration::from_secs(60),
        false,
    );
    assert_sound(&part, &st);
    for round in 0..6 {
        // Take out a random share of the visits: the orders must skip them.
        let mut trial = st.clone();
        let out: Vec<usize> = all
            .iter()
            .copied()
            .filter(|_| rng.random_bool(0.1 * round as f64))
            .collect();
        part.remove_all(&mut trial, &out);
        let placed: Vec<usize> = all
            .iter()
            .copied()
            .filter(|v| trial.on.contains_key(v))
            .collect();
        assert!(
            placed.len() > RUIN_ORDER_LEN,
            "round {round}: {} placed",
            placed.len()
        );
        for _ in 0..10 {
            let seed = placed[rng.random_range(0..placed.len())];
            let sv = &p.visits[seed];
            let key = |v: usize| {
                let x = &p.visits[v];
                i64::from(part.travel(0, sv.location, x.location)) * 4
                    + i64::from((x.earliest_start - sv.earliest_start).abs())
            };
            let mut reference: Vec<(i64, usize)> = placed.iter().map(|&v| (key(v), v)).collect();
            reference.sort_unstable();
            let reference: Vec<usize> = reference.into_iter().map(|x| x.1).collect();
            let cached: Vec<usize> = part
                .placed_in_order(&part.related_order, seed, key, &trial, &placed)
                .collect();
            assert_eq!(cached, reference, "round {round}, seed visit {seed}");
        }
    }
}
