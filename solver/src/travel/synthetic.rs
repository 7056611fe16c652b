//! A deterministic, real-looking rural road network for tests and benches.
//!
//! Shaped like a mid-Devon market town: a rotated, jittered street grid at
//! 30 km/h with two one-way pairs and a few missing links, a 50 km/h ring
//! road, five winding 80 km/h A-roads out to villages 8-12 km away, each with
//! a small street grid, and 60 km/h lanes linking neighbouring villages.
//! Every node can reach every other by car (columns and one-way pairs keep
//! the grid strongly connected).

use crate::format::{RoadEdge, RoadNetworkSpec, RoadNode};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::f64::consts::{PI, TAU};

/// Metres per degree of latitude on the mean-radius sphere.
const M_PER_DEG: f64 = 6_371_008.8 * PI / 180.0;

const TOWN_COLS: usize = 18;
const TOWN_ROWS: usize = 14;
const TOWN_SPACING_M: f64 = 120.0;
const RING_NODES: usize = 36;
const RADIALS: usize = 5;
const VILLAGE_SIDE: usize = 4;
const VILLAGE_SPACING_M: f64 = 90.0;

/// A road as a polyline of node indices with one speed and direction.
struct Way {
    nodes: Vec<usize>,
    speed_kmh: f64,
    oneway: bool,
}

/// Collects nodes in local metres (x east, y north) and ways over them.
struct Builder {
    centre: (f64, f64),
    ids: Vec<String>,
    xy: Vec<(f64, f64)>,
    ways: Vec<Way>,
}

impl Builder {
    fn node(&mut self, id: String, x: f64, y: f64) -> usize {
        self.ids.push(id);
        self.xy.push((x, y));
        self.xy.len() - 1
    }

    fn way(&mut self, nodes: Vec<usize>, speed_kmh: f64, oneway: bool) {
        if nodes.len() >= 2 {
            self.ways.push(Way {
                nodes,
                speed_kmh,
                oneway,
            });
        }
    }

    fn pos(&self, i: usize) -> (f64, f64) {
        self.xy.get(i).copied().unwrap_or_default()
    }

    fn nearest(&self, among: &[usize], (x, y): (f64, f64)) -> usize {
        among
            .iter()
            .copied()
            .min_by(|&a, &b| {
                let d = |i: usize| {
                    let (px, py) = self.pos(i);
                    (px - x).hypot(py - y)
                };
                d(a).total_cmp(&d(b))
            })
            .unwrap_or(0)
    }

    /// A winding road from node `a` to node `b` with new nodes about every `step_m`.
    fn winding(
        &mut self,
        rng: &mut ChaCha8Rng,
        prefix: &str,
        a: usize,
        b: usize,
        step_m: f64,
        speed: f64,
    ) {
        let ((ax, ay), (bx, by)) = (self.pos(a), self.pos(b));
        let len = (bx - ax).hypot(by - ay);
        let steps = ((len / step_m).ceil() as usize).max(1);
        let (nx, ny) = if len > 0.0 {
            (-(by - ay) / len, (bx - ax) / len)
        } else {
            (0.0, 0.0)
        };
        let amp = rng.random_range(120.0..450.0);
        let waves = rng.random_range(1.0..3.0);
        let phase = rng.random_range(0.0..TAU);
        let mut nodes = vec![a];
        for i in 1..steps {
            let t = i as f64 / steps as f64;
            let off = amp * (PI * t).sin() * (waves * PI * t + phase).sin()
                + rng.random_range(-25.0..25.0);
            let x = ax + (bx - ax) * t + nx * off;
            let y = ay + (by - ay) * t + ny * off;
            nodes.push(self.node(format!("{prefix}_{i}"), x, y));
        }
        nodes.push(b);
        self.way(nodes, speed, false);
    }

    fn finish(self) -> RoadNetworkSpec {
        let (lat0, lon0) = self.centre;
        let m_per_deg_lon = M_PER_DEG * lat0.to_radians().cos().max(1e-6);
        // 7 decimals (about 1 cm) keeps the fixture tidy and exactly representable in text.
        let round7 = |v: f64| (v * 1e7).round() / 1e7;
        let nodes = self
            .ids
            .iter()
            .zip(&self.xy)
            .map(|(id, &(x, y))| RoadNode {
                id: id.clone(),
                lat: round7(lat0 + y / M_PER_DEG),
                lon: round7(lon0 + x / m_per_deg_lon),
            })
            .collect();
        let mut edges = Vec::new();
        for w in &self.ways {
            for pair in w.nodes.windows(2) {
                if let [a, b] = pair {
                    edges.push(RoadEdge {
                        from: self.ids.get(*a).cloned().unwrap_or_default(),
                        to: self.ids.get(*b).cloned().unwrap_or_default(),
                        length_m: None,
                        speed_kmh: w.speed_kmh,
                        oneway: w.oneway,
                    });
                }
            }
        }
        RoadNetworkSpec {
            nodes,
            edges,
            parking_min: 2,
            access_kmh: 4.5,
        }
    }
}

fn rotate((x, y): (f64, f64), theta: f64) -> (f64, f64) {
    let (s, c) = theta.sin_cos();
    (x * c - y * s, x * s + y * c)
}

/// A rotated, jittered `cols` x `rows` grid centred on `origin`; returns `grid[row][col]`.
fn grid(
    b: &mut Builder,
    rng: &mut ChaCha8Rng,
    prefix: &str,
    (cols, rows): (usize, usize),
    spacing: f64,
    origin: (f64, f64),
) -> Vec<Vec<usize>> {
    let theta = rng.random_range(-0.35..0.35);
    let jitter = spacing * 0.15;
    (0..rows)
        .map(|r| {
            (0..cols)
                .map(|c| {
                    let local = (
                        (c as f64 - (cols - 1) as f64 / 2.0) * spacing
                            + rng.random_range(-jitter..jitter),
                        (r as f64 - (rows - 1) as f64 / 2.0) * spacing
                            + rng.random_range(-jitter..jitter),
                    );
                    let (x, y) = rotate(local, theta);
                    b.node(format!("{prefix}_r{r}_c{c}"), origin.0 + x, origin.1 + y)
                })
                .collect()
        })
        .collect()
}

/// Builds the synthetic town-and-villages network around `centre` (lat, lon).
///
/// The same `(centre, seed)` always gives the same network (ChaCha8 stream,
/// coordinates rounded to 1e-7 degrees). About 630 nodes and 700 edges; node
/// ids say where a node is (`town_r3_c4`, `ring_7`, `a2_5`, `v2_r1_c0`, `lane2_4`).
/// Edge lengths are left to be computed from coordinates.
pub fn synthetic_town_network(centre: (f64, f64), seed: u64) -> RoadNetworkSpec {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut b = Builder {
        centre,
        ids: Vec::new(),
        xy: Vec::new(),
        ways: Vec::new(),
    };

    // Town grid: every column two-way; rows 3/4 and 9/10 one-way pairs in opposite
    // directions; other rows two-way with ~12% of blocks missing (no through road).
    let town = grid(
        &mut b,
        &mut rng,
        "town",
        (TOWN_COLS, TOWN_ROWS),
        TOWN_SPACING_M,
        (0.0, 0.0),
    );
    let high_street = TOWN_COLS / 2;
    for c in 0..TOWN_COLS {
        let col: Vec<usize> = town.iter().filter_map(|row| row.get(c).copied()).collect();
        b.way(col, if c == high_street { 40.0 } else { 30.0 }, false);
    }
    for (r, row) in town.iter().enumerate() {
        match r {
            3 | 10 => b.way(row.clone(), 30.0, true),
            4 | 9 => b.way(row.iter().rev().copied().collect(), 30.0, true),
            _ => {
                let mut run = vec![row.first().copied().unwrap_or(0)];
                for pair in row.windows(2) {
                    if let [_, next] = pair {
                        if rng.random_bool(0.12) {
                            b.way(std::mem::take(&mut run), 30.0, false);
                        }
                        run.push(*next);
                    }
                }
                b.way(run, 30.0, false);
            }
        }
    }

    // Ring road just outside the grid's corners.
    let half_diag =
        (TOWN_COLS as f64 * TOWN_SPACING_M / 2.0).hypot(TOWN_ROWS as f64 * TOWN_SPACING_M / 2.0);
    let ring_r = half_diag + 250.0;
    let ring: Vec<usize> = (0..RING_NODES)
        .map(|k| {
            let a = TAU * k as f64 / RING_NODES as f64 + rng.random_range(-0.03..0.03);
            let r = ring_r + rng.random_range(-60.0..60.0);
            b.node(format!("ring_{k}"), r * a.cos(), r * a.sin())
        })
        .collect();
    let mut loop_nodes = ring.clone();
    loop_nodes.extend(ring.first().copied());
    b.way(loop_nodes, 50.0, false);

    // Link roads from every third edge-of-town junction out to the ring.
    let last_r = TOWN_ROWS - 1;
    let last_c = TOWN_COLS - 1;
    let mut perimeter: Vec<usize> = Vec::new();
    perimeter.extend((0..TOWN_COLS).filter_map(|c| town.first().and_then(|r| r.get(c)).copied()));
    perimeter
        .extend((1..last_r).filter_map(|r| town.get(r).and_then(|row| row.get(last_c)).copied()));
    perimeter.extend(
        (0..TOWN_COLS)
            .rev()
            .filter_map(|c| town.get(last_r).and_then(|r| r.get(c)).copied()),
    );
    perimeter.extend(
        (1..last_r)
            .rev()
            .filter_map(|r| town.get(r).and_then(|row| row.first()).copied()),
    );
    for &p in perimeter.iter().step_by(3) {
        let q = b.nearest(&ring, b.pos(p));
        b.way(vec![p, q], 30.0, false);
    }

    // A-roads to villages, each village a small grid; lanes link neighbouring villages.
    let mut villages: Vec<(Vec<usize>, (f64, f64))> = Vec::new();
    for v in 0..RADIALS {
        let bearing = TAU * v as f64 / RADIALS as f64 + rng.random_range(-0.25..0.25);
        let dist = rng.random_range(8_000.0..12_000.0);
        let vc = (dist * bearing.cos(), dist * bearing.sin());
        let vg = grid(
            &mut b,
            &mut rng,
            &format!("v{v}"),
            (VILLAGE_SIDE, VILLAGE_SIDE),
            VILLAGE_SPACING_M,
            vc,
        );
        for row in &vg {
            b.way(row.clone(), 30.0, false);
        }
        for c in 0..VILLAGE_SIDE {
            let col: Vec<usize> = vg.iter().filter_map(|row| row.get(c).copied()).collect();
            b.way(col, 30.0, false);
        }
        let members: Vec<usize> = vg.concat();
        let start = b.nearest(&ring, (ring_r * bearing.cos(), ring_r * bearing.sin()));
        let end = b.nearest(&members, b.pos(start));
        b.winding(&mut rng, &format!("a{v}"), start, end, 350.0, 80.0);
        villages.push((members, vc));
    }
    for v in 0..RADIALS {
        let (Some((here, here_c)), Some((next, next_c))) =
            (villages.get(v), villages.get((v + 1) % RADIALS))
        else {
            continue;
        };
        let from = b.nearest(here, *next_c);
        let to = b.nearest(next, *here_c);
        b.winding(&mut rng, &format!("lane{v}"), from, to, 400.0, 60.0);
    }
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Issues;
    use crate::travel::{RoadNetworkModel, road_network_to_geojson};
    use petgraph::algo::kosaraju_scc;
    use petgraph::graph::DiGraph;
    use std::collections::{HashMap, HashSet};

    const CENTRE: (f64, f64) = (50.79, -3.65);
    /// Seed of the committed `fixtures/roads/mid_devon_town.*` files.
    const FIXTURE_SEED: u64 = 1;
    const FIXTURE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/roads");

    /// The fixture JSON: one node or edge per line, computed lengths omitted.
    fn to_fixture_json(spec: &RoadNetworkSpec) -> String {
        let nodes: Vec<String> = spec
            .nodes
            .iter()
            .map(|n| serde_json::to_string(n).unwrap())
            .collect();
        let edges: Vec<String> = spec
            .edges
            .iter()
            .map(|e| {
                let mut v = serde_json::to_value(e).unwrap();
                if let Some(obj) = v.as_object_mut() {
                    obj.retain(|k, v| {
                        let default =
                            (k == "length_m" && v.is_null()) || (k == "oneway" && *v == false);
                        !default
                    });
                }
                v.to_string()
            })
            .collect();
        format!(
            "{{\"parking_min\":{},\"access_kmh\":{},\n\"nodes\":[\n{}\n],\n\"edges\":[\n{}\n]}}\n",
            spec.parking_min,
            serde_json::to_string(&spec.access_kmh).unwrap(),
            nodes.join(",\n"),
            edges.join(",\n")
        )
    }

    #[test]
    fn deterministic_and_seed_dependent() {
        let a = synthetic_town_network(CENTRE, 1);
        assert_eq!(a, synthetic_town_network(CENTRE, 1));
        assert_ne!(a, synthetic_town_network(CENTRE, 2));
    }

    #[test]
    fn size_ids_and_speeds_are_plausible() {
        for seed in 0..5 {
            let spec = synthetic_town_network(CENTRE, seed);
            assert!(
                (300..=1500).contains(&spec.nodes.len()),
                "{} nodes",
                spec.nodes.len()
            );
            let ids: HashSet<&str> = spec.nodes.iter().map(|n| n.id.as_str()).collect();
            assert_eq!(ids.len(), spec.nodes.len());
            let speeds: HashSet<u64> = spec.edges.iter().map(|e| e.speed_kmh as u64).collect();
            assert_eq!(speeds, [30, 40, 50, 60, 80].into_iter().collect());
            assert!(spec.edges.iter().any(|e| e.oneway));
            let far = spec
                .nodes
                .iter()
                .map(|n| crate::travel::haversine_m(&loc(CENTRE.0, CENTRE.1), &loc(n.lat, n.lon)))
                .fold(0.0, f64::max);
            assert!((8_000.0..13_000.0).contains(&far), "furthest node {far} m");
            let mut issues = Issues::default();
            assert!(
                RoadNetworkModel::build(&spec, &mut issues).is_some(),
                "{:?}",
                issues.0
            );
        }
    }

    fn loc(lat: f64, lon: f64) -> crate::format::Location {
        crate::format::Location {
            lat,
            lon,
            matrix_index: None,
        }
    }

    #[test]
    fn every_node_reaches_every_other_by_car() {
        for seed in 0..5 {
            let spec = synthetic_town_network(CENTRE, seed);
            let mut g = DiGraph::<(), ()>::new();
            let ix: HashMap<&str, _> = spec
                .nodes
                .iter()
                .map(|n| (n.id.as_str(), g.add_node(())))
                .collect();
            for e in &spec.edges {
                g.add_edge(ix[e.from.as_str()], ix[e.to.as_str()], ());
                if !e.oneway {
                    g.add_edge(ix[e.to.as_str()], ix[e.from.as_str()], ());
                }
            }
            assert_eq!(kosaraju_scc(&g).len(), 1, "seed {seed}");
        }
    }

    #[test]
    fn committed_fixture_matches_generator() {
        let text = std::fs::read_to_string(format!("{FIXTURE_DIR}/mid_devon_town.json")).unwrap();
        let committed: RoadNetworkSpec = serde_json::from_str(&text).unwrap();
        let fresh = synthetic_town_network(CENTRE, FIXTURE_SEED);
        assert_eq!(committed.edges, fresh.edges);
        assert_eq!(committed.nodes.len(), fresh.nodes.len());
        for (c, f) in committed.nodes.iter().zip(&fresh.nodes) {
            // Allow one unit in the 7th decimal for libm differences between platforms.
            assert_eq!(c.id, f.id);
            assert!(
                (c.lat - f.lat).abs() < 2e-7 && (c.lon - f.lon).abs() < 2e-7,
                "{c:?} vs {f:?}"
            );
        }
    }

    /// Regenerates the committed fixtures:
    /// `cargo test -p carefill-solver travel::synthetic::tests::write_fixtures -- --ignored`
    #[test]
    #[ignore]
    fn write_fixtures() {
        let spec = synthetic_town_network(CENTRE, FIXTURE_SEED);
        std::fs::create_dir_all(FIXTURE_DIR).unwrap();
        std::fs::write(
            format!("{FIXTURE_DIR}/mid_devon_town.json"),
            to_fixture_json(&spec),
        )
        .unwrap();
        std::fs::write(
            format!("{FIXTURE_DIR}/mid_devon_town.geojson"),
            road_network_to_geojson(&spec).unwrap(),
        )
        .unwrap();
    }
}
