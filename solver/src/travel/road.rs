//! Shortest-time paths over a road network supplied in the request.
//!
//! A location is snapped to its nearest junction (exact great-circle nearest,
//! via 3-D unit-sphere coordinates in an R-tree) and reaches it by a straight
//! "access" leg at `access_kmh`. Between junctions we run Dijkstra on travel
//! time and keep the length of the time-shortest path alongside, so legs carry
//! honest distances for mileage pay.

use super::haversine::push_coord_issues;
use super::{
    HaversineModel, Leg, MAX_LEG_MINUTES, SAME_PLACE_M, TravelMatrix, TravelModel, ceil_minutes,
    coords_ok, haversine_m, metres_per_min, round_metres,
};
use crate::format::{HaversineSpec, IssueCode, Issues, Location, RoadNetworkSpec, TravelMode};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use rayon::prelude::*;
use rstar::RTree;
use rstar::primitives::GeomWithData;
use std::cmp::Ordering;
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::fmt;
use std::sync::{Arc, RwLock};

/// Fastest legal road speed in the UK plus margin; anything above is a data error.
const MAX_ROAD_KMH: f64 = 130.0;
/// Walking speed cap on any road, km/h.
const WALK_KMH: f64 = 4.5;
/// Cycling speed cap on any road, km/h.
const CYCLE_KMH: f64 = 14.0;
/// Bus speed cap on any road, km/h.
const TRANSIT_KMH: f64 = 18.0;
/// Average wait at the stop added to each public-transport leg, minutes.
const TRANSIT_WAIT_MIN: u32 = 10;
/// Cached shortest-path entries (trees x nodes) kept before the cache is emptied (~128 MB).
const CACHE_BUDGET_ENTRIES: usize = 8 << 20;

/// A directed arc of the routing graph.
#[derive(Debug, Clone, Copy)]
struct RoadArc {
    length_m: f64,
    speed_kmh: f64,
    /// False for the reverse direction of a one-way street: walkable, not drivable.
    drivable: bool,
}

/// Times and lengths from one source junction to every junction (infinite if unreachable).
#[derive(Debug)]
struct PathTree {
    minutes: Vec<f64>,
    metres: Vec<f64>,
}

type Snap = Option<(NodeIndex, f64)>;

/// Shortest-time routing over a road graph, with per-(source, mode) path-tree caching.
pub struct RoadNetworkModel {
    graph: DiGraph<Location, RoadArc>,
    index: RTree<GeomWithData<[f64; 3], u32>>,
    parking_min: u32,
    access_kmh: f64,
    /// Used when the network cannot answer (unreachable target, invalid coordinates).
    fallback: HaversineModel,
    cache: RwLock<HashMap<(u32, TravelMode), Arc<PathTree>>>,
}

impl fmt::Debug for RoadNetworkModel {
    // The graph and cache are large; a summary is what logs need.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoadNetworkModel")
            .field("nodes", &self.graph.node_count())
            .field("arcs", &self.graph.edge_count())
            .field("parking_min", &self.parking_min)
            .field("access_kmh", &self.access_kmh)
            .field("cached_trees", &self.cached_trees())
            .finish()
    }
}

/// Position on the unit sphere; chord order equals great-circle order, so a
/// Euclidean R-tree nearest query gives the true haversine nearest.
fn unit_sphere(lat: f64, lon: f64) -> [f64; 3] {
    let (phi, lambda) = (lat.to_radians(), lon.to_radians());
    [
        phi.cos() * lambda.cos(),
        phi.cos() * lambda.sin(),
        phi.sin(),
    ]
}

/// Speed on an arc for a mode: non-drivers cannot exceed their own pace.
fn mode_kmh(arc_kmh: f64, mode: TravelMode) -> f64 {
    match mode {
        TravelMode::Drive => arc_kmh,
        TravelMode::Walk => arc_kmh.min(WALK_KMH),
        TravelMode::Cycle => arc_kmh.min(CYCLE_KMH),
        TravelMode::PublicTransport => arc_kmh.min(TRANSIT_KMH),
    }
}

/// Dijkstra queue entry, ordered so that `BinaryHeap` pops the smallest (time, length).
#[derive(Debug, Clone, Copy)]
struct Queued {
    minutes: f64,
    metres: f64,
    node: u32,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .minutes
            .total_cmp(&self.minutes)
            .then_with(|| other.metres.total_cmp(&self.metres))
            .then_with(|| other.node.cmp(&self.node))
    }
}

impl RoadNetworkModel {
    /// Validates `spec` (issues under `$.travel`) and builds the model; `None` if any issue.
    pub fn build(spec: &RoadNetworkSpec, issues: &mut Issues) -> Option<Self> {
        let before = issues.0.len();
        if spec.nodes.len() < 2 {
            issues.push(
                "$.travel.nodes",
                IssueCode::InvalidRoadNetwork,
                format!(
                    "a road network needs at least 2 nodes, got {}",
                    spec.nodes.len()
                ),
            );
        }
        if spec.edges.is_empty() {
            issues.push(
                "$.travel.edges",
                IssueCode::InvalidRoadNetwork,
                "a road network needs at least 1 edge",
            );
        }
        if !(spec.access_kmh.is_finite()
            && spec.access_kmh > 0.0
            && spec.access_kmh <= MAX_ROAD_KMH)
        {
            issues.push(
                "$.travel.access_kmh",
                IssueCode::OutOfRange,
                format!(
                    "access_kmh must be > 0 and <= {MAX_ROAD_KMH}, got {}",
                    spec.access_kmh
                ),
            );
        }
        let mut ids: HashMap<&str, NodeIndex> = HashMap::with_capacity(spec.nodes.len());
        let mut graph: DiGraph<Location, RoadArc> =
            DiGraph::with_capacity(spec.nodes.len(), spec.edges.len().saturating_mul(2));
        for (i, node) in spec.nodes.iter().enumerate() {
            push_coord_issues(issues, &format!("$.travel.nodes[{i}]"), node.lat, node.lon);
            let ix = graph.add_node(Location {
                lat: node.lat,
                lon: node.lon,
                matrix_index: None,
            });
            if ids.insert(node.id.as_str(), ix).is_some() {
                issues.push(
                    format!("$.travel.nodes[{i}].id"),
                    IssueCode::DuplicateId,
                    format!("node id {:?} is used more than once", node.id),
                );
            }
        }
        let mut arcs = Vec::with_capacity(spec.edges.len());
        for (i, edge) in spec.edges.iter().enumerate() {
            let base = format!("$.travel.edges[{i}]");
            let mut endpoint = |field: &str, id: &str| {
                let found = ids.get(id).copied();
                if found.is_none() {
                    issues.push(
                        format!("{base}.{field}"),
                        IssueCode::UnknownReference,
                        format!("edge refers to unknown node {id:?}"),
                    );
                }
                found
            };
            let (from, to) = (endpoint("from", &edge.from), endpoint("to", &edge.to));
            if !(edge.speed_kmh.is_finite()
                && edge.speed_kmh > 0.0
                && edge.speed_kmh <= MAX_ROAD_KMH)
            {
                issues.push(
                    format!("{base}.speed_kmh"),
                    IssueCode::OutOfRange,
                    format!(
                        "speed_kmh must be > 0 and <= {MAX_ROAD_KMH}, got {}",
                        edge.speed_kmh
                    ),
                );
            }
            if let Some(len) = edge.length_m
                && !(len.is_finite() && len >= 0.0)
            {
                issues.push(
                    format!("{base}.length_m"),
                    IssueCode::OutOfRange,
                    format!("length_m must be a finite number >= 0, got {len}"),
                );
            }
            if let (Some(a), Some(b)) = (from, to) {
                arcs.push((a, b, edge));
            }
        }
        if issues.0.len() != before {
            return None;
        }
        for (a, b, edge) in arcs {
            let length_m = match edge.length_m {
                Some(l) => l,
                None => match (graph.node_weight(a), graph.node_weight(b)) {
                    (Some(p), Some(q)) => haversine_m(p, q),
                    _ => continue,
                },
            };
            let arc = RoadArc {
                length_m,
                speed_kmh: edge.speed_kmh,
                drivable: true,
            };
            graph.add_edge(a, b, arc);
            graph.add_edge(
                b,
                a,
                RoadArc {
                    drivable: !edge.oneway,
                    ..arc
                },
            );
        }
        let points = graph
            .node_indices()
            .filter_map(|ix| {
                let p = graph.node_weight(ix)?;
                Some(GeomWithData::new(
                    unit_sphere(p.lat, p.lon),
                    ix.index() as u32,
                ))
            })
            .collect();
        let fallback = HaversineModel::from_spec_unchecked(HaversineSpec {
            // Off-network legs are long ones: always rural driving speed.
            urban_leg_threshold_m: 0.0,
            parking_min: spec.parking_min,
            ..HaversineSpec::default()
        });
        Some(Self {
            graph,
            index: RTree::bulk_load(points),
            parking_min: spec.parking_min,
            access_kmh: spec.access_kmh,
            fallback,
            cache: RwLock::new(HashMap::new()),
        })
    }

    /// Number of junctions.
    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }

    /// Number of shortest-path trees currently cached (for diagnostics and tests).
    pub fn cached_trees(&self) -> usize {
        self.cache
            .read()
            .map(|c| c.len())
            .unwrap_or_else(|e| e.into_inner().len())
    }

    /// Nearest junction (great-circle) to a location and the straight-line metres to it.
    ///
    /// `None` for invalid coordinates, which then use the fallback estimate.
    pub fn snap(&self, loc: &Location) -> Option<(usize, f64)> {
        self.snap_ix(loc).map(|(ix, d)| (ix.index(), d))
    }

    fn snap_ix(&self, loc: &Location) -> Snap {
        if !coords_ok(loc.lat, loc.lon) {
            return None;
        }
        let hit = self
            .index
            .nearest_neighbor(&unit_sphere(loc.lat, loc.lon))?;
        let ix = NodeIndex::new(hit.data as usize);
        let node = self.graph.node_weight(ix)?;
        Some((ix, haversine_m(loc, node)))
    }

    /// One Dijkstra on time (ties broken by length) from `source` for `mode`.
    fn compute_tree(&self, source: NodeIndex, mode: TravelMode) -> PathTree {
        let n = self.graph.node_count();
        let mut minutes = vec![f64::INFINITY; n];
        let mut metres = vec![f64::INFINITY; n];
        let mut heap = BinaryHeap::new();
        if source.index() < n {
            minutes[source.index()] = 0.0;
            metres[source.index()] = 0.0;
            heap.push(Queued {
                minutes: 0.0,
                metres: 0.0,
                node: source.index() as u32,
            });
        }
        while let Some(Queued {
            minutes: t,
            metres: d,
            node,
        }) = heap.pop()
        {
            let u = node as usize;
            // Stale entry: a better label was settled already.
            if (t, d) != (minutes[u], metres[u]) {
                continue;
            }
            for e in self.graph.edges(NodeIndex::new(u)) {
                let arc = e.weight();
                if mode == TravelMode::Drive && !arc.drivable {
                    continue;
                }
                let v = e.target().index();
                let nt = t + arc.length_m / metres_per_min(mode_kmh(arc.speed_kmh, mode));
                let nd = d + arc.length_m;
                if nt < minutes[v] || (nt == minutes[v] && nd < metres[v]) {
                    minutes[v] = nt;
                    metres[v] = nd;
                    heap.push(Queued {
                        minutes: nt,
                        metres: nd,
                        node: v as u32,
                    });
                }
            }
        }
        PathTree { minutes, metres }
    }

    /// The cached tree for (source, mode), computing and caching it if needed.
    fn tree(&self, source: NodeIndex, mode: TravelMode) -> Arc<PathTree> {
        let key = (source.index() as u32, mode);
        let cached = match self.cache.read() {
            Ok(c) => c.get(&key).cloned(),
            Err(poisoned) => poisoned.into_inner().get(&key).cloned(),
        };
        if let Some(t) = cached {
            return t;
        }
        // Computed outside the lock: two threads may duplicate work, never block each other.
        let tree = Arc::new(self.compute_tree(source, mode));
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        if (cache.len() + 1).saturating_mul(self.graph.node_count().max(1)) > CACHE_BUDGET_ENTRIES {
            cache.clear();
        }
        cache
            .entry(key)
            .or_insert_with(|| Arc::clone(&tree))
            .clone()
    }

    /// A leg given both snaps and, when the snapped junctions differ, the source's tree.
    fn leg_parts(
        &self,
        from: &Location,
        to: &Location,
        mode: TravelMode,
        snaps: (Snap, Snap),
        tree: Option<&PathTree>,
    ) -> Leg {
        let straight = haversine_m(from, to);
        if straight.is_nan() || straight < SAME_PLACE_M {
            return Leg::default();
        }
        let ((a, access_a), (b, access_b)) = match snaps {
            (Some(x), Some(y)) => (x, y),
            _ => return self.fallback.leg(from, to, mode),
        };
        let access_mpm = metres_per_min(self.access_kmh);
        if a == b {
            // Both ends hang off one junction: just go straight there at access pace.
            return Leg {
                minutes: ceil_minutes(straight / access_mpm),
                metres: round_metres(straight),
            };
        }
        let (net_min, net_m) = match tree {
            Some(t) => (
                t.minutes.get(b.index()).copied().unwrap_or(f64::INFINITY),
                t.metres.get(b.index()).copied().unwrap_or(f64::INFINITY),
            ),
            None => (f64::INFINITY, f64::INFINITY),
        };
        if !net_min.is_finite() {
            return self.fallback.leg(from, to, mode);
        }
        let extra = match mode {
            TravelMode::Drive => self.parking_min,
            TravelMode::PublicTransport => TRANSIT_WAIT_MIN,
            TravelMode::Walk | TravelMode::Cycle => 0,
        };
        Leg {
            minutes: ceil_minutes(net_min + (access_a + access_b) / access_mpm)
                .saturating_add(extra)
                .min(MAX_LEG_MINUTES),
            metres: round_metres(net_m + access_a + access_b),
        }
    }
}

impl TravelModel for RoadNetworkModel {
    fn name(&self) -> &'static str {
        "road_network"
    }

    fn leg(&self, from: &Location, to: &Location, mode: TravelMode) -> Leg {
        let snaps = (self.snap_ix(from), self.snap_ix(to));
        let tree = match snaps {
            (Some((a, _)), Some((b, _))) if a != b => Some(self.tree(a, mode)),
            _ => None,
        };
        self.leg_parts(from, to, mode, snaps, tree.as_deref())
    }

    /// One Dijkstra per distinct snapped source junction (in parallel), then table lookups.
    fn matrix(&self, locations: &[Location], mode: TravelMode) -> TravelMatrix {
        let snaps: Vec<Snap> = locations.par_iter().map(|l| self.snap_ix(l)).collect();
        let sources: BTreeSet<NodeIndex> = snaps.iter().flatten().map(|&(ix, _)| ix).collect();
        let trees: HashMap<NodeIndex, Arc<PathTree>> = sources
            .into_par_iter()
            .map(|s| (s, self.tree(s, mode)))
            .collect();
        let n = locations.len();
        let rows: Vec<Vec<Leg>> = (0..n)
            .into_par_iter()
            .map(|i| {
                let (from, snap_i) = (&locations[i], snaps[i]);
                let tree = snap_i.and_then(|(a, _)| trees.get(&a)).map(|t| t.as_ref());
                (0..n)
                    .map(|j| self.leg_parts(from, &locations[j], mode, (snap_i, snaps[j]), tree))
                    .collect()
            })
            .collect();
        TravelMatrix::from_fn(n, |i, j| {
            rows.get(i)
                .and_then(|r| r.get(j))
                .copied()
                .unwrap_or_default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{RoadEdge, RoadNode};
    use crate::travel::synthetic_town_network;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn node(id: &str, lat: f64, lon: f64) -> RoadNode {
        RoadNode {
            id: id.into(),
            lat,
            lon,
        }
    }

    fn edge(from: &str, to: &str, length_m: Option<f64>, speed_kmh: f64, oneway: bool) -> RoadEdge {
        RoadEdge {
            from: from.into(),
            to: to.into(),
            length_m,
            speed_kmh,
            oneway,
        }
    }

    fn at(lat: f64, lon: f64) -> Location {
        Location {
            lat,
            lon,
            matrix_index: None,
        }
    }

    /// A square A(sw) B(se) C(nw) D(ne), about 1.1 km apart, with explicit lengths:
    /// A-B 1000 m @60 (1 min), B-D 1000 m @60 (1 min, one-way B->D),
    /// A-C 500 m @30 (1 min), C-D 3000 m @90 (2 min), A-D 2000 m @30 (4 min).
    fn square(parking_min: u32) -> RoadNetworkSpec {
        RoadNetworkSpec {
            nodes: vec![
                node("A", 50.0, -3.0),
                node("B", 50.0, -2.985),
                node("C", 50.01, -3.0),
                node("D", 50.01, -2.985),
            ],
            edges: vec![
                edge("A", "B", Some(1000.0), 60.0, false),
                edge("B", "D", Some(1000.0), 60.0, true),
                edge("A", "C", Some(500.0), 30.0, false),
                edge("C", "D", Some(3000.0), 90.0, false),
                edge("A", "D", Some(2000.0), 30.0, false),
            ],
            parking_min,
            access_kmh: 4.5,
        }
    }

    fn model(spec: &RoadNetworkSpec) -> RoadNetworkModel {
        let mut issues = Issues::default();
        let m = RoadNetworkModel::build(spec, &mut issues);
        assert!(issues.is_empty(), "{:?}", issues.0);
        m.unwrap()
    }

    fn fixture() -> RoadNetworkSpec {
        synthetic_town_network((50.79, -3.65), 1)
    }

    #[test]
    fn tiny_graph_shortest_time_path() {
        let m = model(&square(2));
        let (a, b, c, d) = (
            at(50.0, -3.0),
            at(50.0, -2.985),
            at(50.01, -3.0),
            at(50.01, -2.985),
        );
        // A->D: via B 2 min / 2000 m beats via C (3 min) and direct (4 min); +2 parking.
        assert_eq!(
            m.leg(&a, &d, TravelMode::Drive),
            Leg {
                minutes: 4,
                metres: 2000
            }
        );
        // C->B: C-A-B = 1 + 1 = 2 min, 1500 m (C-D-B is one-way against us).
        assert_eq!(
            m.leg(&c, &b, TravelMode::Drive),
            Leg {
                minutes: 4,
                metres: 1500
            }
        );
        let m0 = model(&square(0));
        assert_eq!(
            m0.leg(&a, &d, TravelMode::Drive),
            Leg {
                minutes: 2,
                metres: 2000
            }
        );
        assert_eq!(m0.leg(&a, &a, TravelMode::Drive), Leg::default());
    }

    #[test]
    fn one_way_respected_when_driving_ignored_when_walking() {
        let m = model(&square(0));
        let (a, b, d) = (at(50.0, -3.0), at(50.0, -2.985), at(50.01, -2.985));
        // D->B driving cannot use B->D backwards: D-A-B = 4 + 1 = 5 min (D-C-A-B = 2+1+1 = 4 min wins).
        assert_eq!(
            m.leg(&d, &b, TravelMode::Drive),
            Leg {
                minutes: 4,
                metres: 4500
            }
        );
        // Walking (75 m/min everywhere) takes the shortest length, D-B 1000 m, against the one-way.
        let walk = m.leg(&d, &b, TravelMode::Walk);
        assert_eq!(
            walk,
            Leg {
                minutes: (1000.0_f64 / 75.0).ceil() as u32,
                metres: 1000
            }
        );
        // Public transport: capped at 18 km/h (300 m/min) plus the 10-minute wait.
        let bus = m.leg(&a, &d, TravelMode::PublicTransport);
        assert_eq!(
            bus,
            Leg {
                minutes: (2000.0_f64 / 300.0).ceil() as u32 + 10,
                metres: 2000
            }
        );
    }

    #[test]
    fn access_leg_added_for_off_network_locations() {
        let m = model(&square(0));
        // 150 m south of A and 150 m north of D: 300 m at 4.5 km/h = 4 min more.
        let off = (150.0 / 6_371_008.8_f64).to_degrees();
        let (p, q) = (at(50.0 - off, -3.0), at(50.01 + off, -2.985));
        let leg = m.leg(&p, &q, TravelMode::Drive);
        assert_eq!(leg.metres, 2300);
        assert_eq!(leg.minutes, ceil_minutes(2.0 + 300.0 / 75.0));
        // Both snap to A: a straight access-pace walk, no network.
        let (r, s) = (at(50.0 - off, -3.0), at(50.0, -3.0 + 0.001));
        let direct = haversine_m(&r, &s);
        assert_eq!(
            m.leg(&r, &s, TravelMode::Drive),
            Leg {
                minutes: ceil_minutes(direct / 75.0),
                metres: round_metres(direct)
            }
        );
    }

    #[test]
    fn unreachable_falls_back_to_rural_haversine() {
        let mut spec = square(3);
        spec.nodes.push(node("X", 50.2, -3.2));
        spec.nodes.push(node("Y", 50.2, -3.21));
        spec.edges.push(edge("X", "Y", None, 30.0, false));
        let m = model(&spec);
        let (a, x) = (at(50.0, -3.0), at(50.2, -3.2));
        let d = haversine_m(&a, &x);
        let expected = Leg {
            minutes: (d * 1.3 / 800.0).ceil() as u32 + 3,
            metres: (d * 1.3).round() as u32,
        };
        assert_eq!(m.leg(&a, &x, TravelMode::Drive), expected);
        assert_eq!(m.matrix(&[a, x], TravelMode::Drive).get(0, 1), expected);
        // Invalid coordinates never panic.
        let bad = at(f64::NAN, 500.0);
        let _ = m.leg(&a, &bad, TravelMode::Walk);
        let _ = m.matrix(&[a, bad], TravelMode::Cycle);
    }

    #[test]
    fn one_way_only_graph_falls_back_in_the_blocked_direction() {
        let spec = RoadNetworkSpec {
            nodes: vec![node("A", 50.0, -3.0), node("B", 50.0, -2.99)],
            edges: vec![edge("A", "B", None, 50.0, true)],
            parking_min: 0,
            access_kmh: 4.5,
        };
        let m = model(&spec);
        let (a, b) = (at(50.0, -3.0), at(50.0, -2.99));
        let d = haversine_m(&a, &b);
        assert_eq!(
            m.leg(&a, &b, TravelMode::Drive),
            Leg {
                minutes: ceil_minutes(d / (50.0 / 0.06)),
                metres: round_metres(d)
            }
        );
        let back = m.leg(&b, &a, TravelMode::Drive);
        assert_eq!(
            back,
            Leg {
                minutes: ceil_minutes(d * 1.3 / 800.0),
                metres: round_metres(d * 1.3)
            }
        );
        assert_eq!(m.leg(&b, &a, TravelMode::Walk).metres, round_metres(d));
    }

    #[test]
    fn matrix_equals_pairwise_legs_and_caches_trees() {
        let m = model(&fixture());
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let locs: Vec<Location> = (0..40)
            .map(|_| {
                at(
                    50.79 + rng.random_range(-0.06..0.06),
                    -3.65 + rng.random_range(-0.1..0.1),
                )
            })
            .collect();
        for mode in [
            TravelMode::Drive,
            TravelMode::Walk,
            TravelMode::Cycle,
            TravelMode::PublicTransport,
        ] {
            let tm = m.matrix(&locs, mode);
            assert!(m.cached_trees() > 0);
            for (i, p) in locs.iter().enumerate() {
                for (j, q) in locs.iter().enumerate() {
                    let leg = m.leg(p, q, mode);
                    assert_eq!(tm.get(i, j), leg, "{mode:?} {i}->{j}");
                    assert!(leg.minutes < 24 * 60 * 3, "{mode:?} {i}->{j}: {leg:?}");
                }
            }
        }
        let before = m.cached_trees();
        let _ = m.leg(&locs[0], &locs[1], TravelMode::Drive);
        assert_eq!(m.cached_trees(), before, "repeated leg must hit the cache");
    }

    #[test]
    fn snapping_matches_brute_force_haversine_nearest() {
        let spec = fixture();
        let m = model(&spec);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for _ in 0..500 {
            let p = at(
                50.79 + rng.random_range(-0.15..0.15),
                -3.65 + rng.random_range(-0.25..0.25),
            );
            let (_, d) = m.snap(&p).unwrap();
            let best = spec
                .nodes
                .iter()
                .map(|n| haversine_m(&p, &at(n.lat, n.lon)))
                .fold(f64::INFINITY, f64::min);
            assert!((d - best).abs() < 1e-6, "snap {d} vs brute force {best}");
        }
        assert!(m.snap(&at(f64::NAN, 0.0)).is_none());
    }

    #[test]
    fn driving_is_never_faster_than_straight_line_at_max_speed() {
        let m = model(&fixture());
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..200 {
            let p = at(
                50.79 + rng.random_range(-0.08..0.08),
                -3.65 + rng.random_range(-0.12..0.12),
            );
            let q = at(
                50.79 + rng.random_range(-0.08..0.08),
                -3.65 + rng.random_range(-0.12..0.12),
            );
            let leg = m.leg(&p, &q, TravelMode::Drive);
            let d = haversine_m(&p, &q);
            assert!(
                f64::from(leg.metres) + 1.0 >= d,
                "{leg:?} shorter than straight {d}"
            );
            assert!(
                f64::from(leg.minutes) + 1.0 >= d / metres_per_min(80.0),
                "{leg:?} faster than 80 km/h"
            );
        }
    }

    #[test]
    fn validation_reports_exact_paths_and_codes() {
        let mut spec = square(2);
        spec.nodes.push(node("B", 50.0, -2.9));
        spec.nodes.push(node("E", 95.0, -2.9));
        spec.edges[0].to = "Q".into();
        spec.edges[1].speed_kmh = 0.0;
        spec.edges[2].speed_kmh = f64::NAN;
        spec.edges[3].speed_kmh = 200.0;
        spec.edges[4].length_m = Some(-5.0);
        let mut issues = Issues::default();
        assert!(RoadNetworkModel::build(&spec, &mut issues).is_none());
        let got: Vec<(&str, IssueCode)> =
            issues.0.iter().map(|i| (i.path.as_str(), i.code)).collect();
        assert_eq!(
            got,
            vec![
                ("$.travel.nodes[4].id", IssueCode::DuplicateId),
                ("$.travel.nodes[5].lat", IssueCode::CoordinatesOutOfRange),
                ("$.travel.edges[0].to", IssueCode::UnknownReference),
                ("$.travel.edges[1].speed_kmh", IssueCode::OutOfRange),
                ("$.travel.edges[2].speed_kmh", IssueCode::OutOfRange),
                ("$.travel.edges[3].speed_kmh", IssueCode::OutOfRange),
                ("$.travel.edges[4].length_m", IssueCode::OutOfRange),
            ]
        );
    }

    #[test]
    fn structural_problems_are_invalid_road_network() {
        let spec = RoadNetworkSpec {
            nodes: vec![node("A", 50.0, -3.0)],
            edges: vec![],
            parking_min: 2,
            access_kmh: 0.0,
        };
        let mut issues = Issues::default();
        assert!(RoadNetworkModel::build(&spec, &mut issues).is_none());
        let got: Vec<(&str, IssueCode)> =
            issues.0.iter().map(|i| (i.path.as_str(), i.code)).collect();
        assert_eq!(
            got,
            vec![
                ("$.travel.nodes", IssueCode::InvalidRoadNetwork),
                ("$.travel.edges", IssueCode::InvalidRoadNetwork),
                ("$.travel.access_kmh", IssueCode::OutOfRange),
            ]
        );
    }

    /// Manual timing: `cargo test --release -p carefill-solver travel::road::tests::time_300_matrix -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn time_300_matrix() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/roads/mid_devon_town.json"
        ))
        .unwrap();
        let spec: RoadNetworkSpec = serde_json::from_str(&text).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(300);
        // Service users live on roads: random junctions, up to ~100 m off them.
        let locs: Vec<Location> = (0..300)
            .map(|_| {
                let n = &spec.nodes[rng.random_range(0..spec.nodes.len())];
                at(
                    n.lat + rng.random_range(-0.0009..0.0009),
                    n.lon + rng.random_range(-0.0014..0.0014),
                )
            })
            .collect();
        for mode in [TravelMode::Drive, TravelMode::Walk] {
            let m = model(&spec);
            let t0 = std::time::Instant::now();
            let tm = m.matrix(&locs, mode);
            let cold = t0.elapsed();
            let t1 = std::time::Instant::now();
            let _ = m.matrix(&locs, mode);
            let warm = t1.elapsed();
            let t2 = std::time::Instant::now();
            let mut sum = 0u64;
            for p in &locs {
                for q in &locs {
                    sum += u64::from(m.leg(p, q, mode).minutes);
                }
            }
            let legs = t2.elapsed();
            println!(
                "{mode:?}: {} nodes, {} trees; 300x300 matrix cold {:?}, warm {:?}; 90000 cached leg() calls {:?} (sum {sum}, tm[0][1]={})",
                m.node_count(),
                m.cached_trees(),
                cold,
                warm,
                legs,
                tm.minutes(0, 1)
            );
        }
    }
}
