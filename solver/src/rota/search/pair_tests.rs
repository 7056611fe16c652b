use super::*;
use crate::benchmarks::load_mankowska;
use crate::rota::search::local_tests::assert_sound;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::fmt::Write;
use std::time::Duration;

/// A random instance in the Mankowska layout: `singles` single-service
/// patients, then `doubles` double-service ones (half synchronised, half with
/// a gap), four caregivers, three services, each service held by at least
/// two caregivers; windows narrow enough that some visits are late.
fn random_instance(seed: u64, singles: usize, doubles: usize) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (vehicles, services) = (4, 3);
    let n = singles + doubles + 2;
    let mut need = vec![vec![0u8; services]; n];
    for (i, row) in need.iter_mut().enumerate().take(n - 1).skip(1) {
        let first = rng.random_range(0..services);
        row[first] = 1;
        if i > singles {
            row[(first + rng.random_range(1..services)) % services] = 1;
        }
    }
    let mut t = String::new();
    let _ = write!(
        t,
        "nbNodes\n{n}\nnbVehi\n{vehicles}\nnbServi\n{services}\nr\n"
    );
    for row in &need {
        let cells: Vec<String> = row.iter().map(u8::to_string).collect();
        let _ = writeln!(t, "{}", cells.join(" "));
    }
    // 1-based node numbers of the double-service patients.
    let ds: Vec<String> = (singles + 2..n).map(|i| i.to_string()).collect();
    let _ = write!(t, "DS\n{}\na\n", ds.join(" "));
    for k in 0..vehicles {
        let row: Vec<&str> = (0..services)
            .map(|s| {
                if s % vehicles == k || (s + 1) % vehicles == k || rng.random_bool(0.3) {
                    "1"
                } else {
                    "0"
                }
            })
            .collect();
        let _ = writeln!(t, "{}", row.join(" "));
    }
    let mut xy: Vec<(f64, f64)> = (0..n)
        .map(|_| {
            (
                f64::from(rng.random_range(0..40)),
                f64::from(rng.random_range(0..40)),
            )
        })
        .collect();
    xy[n - 1] = xy[0];
    let coords = |f: fn(&(f64, f64)) -> f64| -> String {
        xy.iter()
            .map(|c| f(c).to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let _ = write!(t, "x\n{}\ny\n{}\nd\n", coords(|c| c.0), coords(|c| c.1));
    for i in 0..n {
        let row: Vec<String> = (0..n)
            .map(|j| format!("{:.2}", (xy[i].0 - xy[j].0).hypot(xy[i].1 - xy[j].1)))
            .collect();
        let _ = writeln!(t, "{}", row.join(" "));
    }
    t.push_str("p\n");
    for row in &need {
        let cells: Vec<String> = row
            .iter()
            .map(|&r| {
                if r == 1 {
                    format!("{}.0", rng.random_range(5..25))
                } else {
                    "0".to_string()
                }
            })
            .collect();
        for _ in 0..vehicles {
            let _ = writeln!(t, "{}", cells.join(" "));
        }
    }
    let gaps: Vec<(u32, u32)> = (0..n)
        .map(|i| match i {
            i if i > singles && i < n - 1 && i % 2 == 0 => (5, 25),
            _ => (0, 0),
        })
        .collect();
    let row = |f: fn(&(u32, u32)) -> u32| -> String {
        gaps.iter()
            .map(|g| f(g).to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let _ = write!(t, "mind\n{}\nmaxd\n{}\n", row(|g| g.0), row(|g| g.1));
    let windows: Vec<(u32, u32)> = (0..n)
        .map(|i| {
            if i == 0 || i == n - 1 {
                (0, 1000)
            } else {
                let e = rng.random_range(0..240);
                (e, e + rng.random_range(20..90))
            }
        })
        .collect();
    let e: Vec<String> = windows.iter().map(|w| w.0.to_string()).collect();
    let l: Vec<String> = windows.iter().map(|w| w.1.to_string()).collect();
    let _ = write!(t, "e\n{}\nl\n{}\n", e.join(" "), l.join(" "));
    t
}

fn best(found: &[Placed]) -> Option<f64> {
    found.last().map(|x| x.0)
}

/// The pricing that tries only the starts where a place is first reachable
/// finds the same cheapest pair change as trying every start against every
/// place, both for inserting a pair (recreate) and for relocating a placed one.
#[test]
fn pair_pricing_matches_trying_every_start() {
    let mut compared = 0;
    for seed in 0..16 {
        let text = random_instance(seed, 10, 6);
        let inst = load_mankowska("RANDOM", &text).unwrap();
        let p = &inst.problem;
        let part = Part::new(
            p,
            (0..p.visits.len()).collect(),
            (0..p.shifts.len()).collect(),
        );
        assert!(part.pairs_together());
        let mut st = part.empty_state();
        let all = st.unplaced.clone();
        let until = Instant::now() + Duration::from_secs(60);
        part.construct(&mut st, &all, 1, until, false);
        assert_sound(&part, &st);
        for l in 0..p.links.len() {
            let (a, b) = (p.links[l].first, p.links[l].then);
            if !part.pair_movable(&st, a) || !part.pair_movable(&st, b) {
                continue;
            }
            let (without, gain, _) = part.without_pair(&st, l).unwrap();
            for bar in [f64::INFINITY, 0.0] {
                let fast = part.price_pair(&without, l, gain, bar);
                let slow = part.price_pair_every_start(&without, l, gain, bar);
                match (best(&fast), best(&slow)) {
                    (Some(x), Some(y)) => assert!((x - y).abs() < 1e-6, "{seed}/{l}: {x} {y}"),
                    (x, y) => assert_eq!(x, y, "{seed}/{l}"),
                }
            }
            let mut out = st.clone();
            assert!(part.remove(&mut out, a) && part.remove(&mut out, b));
            let empty = Without {
                st: &out,
                reduced: Vec::new(),
            };
            let fast = part.price_pair(&empty, l, 0.0, f64::INFINITY);
            let slow = part.price_pair_every_start(&empty, l, 0.0, f64::INFINITY);
            let (x, y) = (best(&fast).unwrap(), best(&slow).unwrap());
            assert!((x - y).abs() < 1e-6, "{seed}/{l}: {x} {y}");
            compared += 1;
        }
    }
    assert!(compared >= 30, "{compared} pairs compared");
}

/// The pricing that walks the places in order of when they become reachable
/// finds exactly the changes (same order, same costs) the scan of every place
/// at every start found, for inserting a pair and for relocating a placed one,
/// with and without a bar.
#[test]
fn pair_pricing_walk_matches_scan() {
    let mut compared = 0;
    for seed in 0..24 {
        let text = random_instance(100 + seed, 12, 8);
        let inst = load_mankowska("RANDOM", &text).unwrap();
        let p = &inst.problem;
        let part = Part::new(
            p,
            (0..p.visits.len()).collect(),
            (0..p.shifts.len()).collect(),
        );
        let mut st = part.empty_state();
        let all = st.unplaced.clone();
        let until = Instant::now() + Duration::from_secs(60);
        part.construct(&mut st, &all, 1, until, false);
        assert_sound(&part, &st);
        for l in 0..p.links.len() {
            let (a, b) = (p.links[l].first, p.links[l].then);
            if !part.pair_movable(&st, a) || !part.pair_movable(&st, b) {
                continue;
            }
            let (without, gain, _) = part.without_pair(&st, l).unwrap();
            for bar in [f64::INFINITY, 0.0, -5.0] {
                let walk = part.price_pair(&without, l, gain, bar);
                let scan = part.price_pair_scan(&without, l, gain, bar);
                assert_eq!(walk, scan, "{seed}/{l}/{bar}");
            }
            let mut out = st.clone();
            assert!(part.remove(&mut out, a) && part.remove(&mut out, b));
            let empty = Without {
                st: &out,
                reduced: Vec::new(),
            };
            let walk = part.price_pair(&empty, l, 0.0, f64::INFINITY);
            let scan = part.price_pair_scan(&empty, l, 0.0, f64::INFINITY);
            assert!(!walk.is_empty());
            assert_eq!(walk, scan, "{seed}/{l}");
            compared += 1;
        }
    }
    assert!(compared >= 40, "{compared} pairs compared");
}

/// With soft windows, the anchored insertion that re-times positions cheapest
/// bound first picks the same position, start and cost in every shift as
/// re-timing every position in order; with a bar it agrees whenever the shift
/// beats the bar and otherwise finds nothing cheaper than it.
#[test]
fn anchored_insertion_by_bound_matches_scan() {
    let mut compared = 0;
    for seed in 0..24 {
        let text = random_instance(200 + seed, 12, 8);
        let inst = load_mankowska("RANDOM", &text).unwrap();
        let p = &inst.problem;
        let part = Part::new(
            p,
            (0..p.visits.len()).collect(),
            (0..p.shifts.len()).collect(),
        );
        let mut st = part.empty_state();
        let all = st.unplaced.clone();
        let until = Instant::now() + Duration::from_secs(60);
        part.construct(&mut st, &all, 1, until, false);
        assert_sound(&part, &st);
        for l in 0..p.links.len() {
            let (a, b) = (p.links[l].first, p.links[l].then);
            if !st.on.contains_key(&a) || !st.on.contains_key(&b) {
                continue;
            }
            // `a` alone out (its partner fixes its start), then both out.
            let mut one = st.clone();
            assert!(part.remove(&mut one, a));
            let mut both = one.clone();
            assert!(part.remove(&mut both, b));
            for out in [&one, &both] {
                let (lo, hi, avoid) = part.link_bounds(out, a);
                for &s in &part.candidates[&a] {
                    if avoid.contains(&p.shifts[s].carer) {
                        continue;
                    }
                    let mut blocks = Vec::new();
                    let scan = part.best_anchored_scan(out, s, a, lo, hi, &mut blocks);
                    let key = |x: &Option<(f64, usize, Sched, Minute)>| {
                        x.as_ref()
                            .map(|(c, pos, sc, t)| (*c, *pos, sc.starts.clone(), *t))
                    };
                    let by_bound = |bar: f64, blocks: &mut Vec<_>| {
                        key(&part.best_anchored_by_bound(out, s, a, lo, hi, blocks, bar))
                    };
                    assert_eq!(
                        by_bound(f64::INFINITY, &mut blocks),
                        key(&scan),
                        "{seed}/{l}/{s}"
                    );
                    if let Some((cost, ..)) = scan {
                        assert_eq!(by_bound(cost + 1.0, &mut blocks), key(&scan));
                        if let Some((c, ..)) = by_bound(cost - 1.0, &mut blocks) {
                            assert!(c >= cost - 1.0);
                        }
                        compared += 1;
                    }
                }
            }
        }
    }
    assert!(compared >= 200, "{compared} shifts compared");
}
