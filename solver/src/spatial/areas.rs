//! [`AreaIndex`]: which service areas contain, or lie near, a place.

use super::{EARTH_RADIUS_M, great_circle_m, normalise};
use geo::{BoundingRect, Coord, CoordsIter, Intersects, MultiPolygon, Polygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

/// Tree entry: a polygon's lon/lat bounding rectangle plus its slot in `AreaIndex::polygons`.
type Entry = GeomWithData<Rectangle<[f64; 2]>, usize>;

/// Degrees added around query envelopes so rounding never drops a candidate.
const ENVELOPE_SLACK_DEG: f64 = 1e-9;

/// Longitude shifts under which a query is also tested, so that `180` meets
/// `-180` and areas written with longitudes just past ±180 still work.
const LON_SHIFTS: [f64; 3] = [0.0, -360.0, 360.0];

/// Service areas (provider areas, team neighbourhoods) with point-in-area lookup.
///
/// An rstar tree over each polygon's lon/lat bounding rectangle finds candidates;
/// an exact planar point-in-polygon test in lon/lat (GeoJSON semantics, robust
/// predicates) decides. An owner may have several areas and multi-polygons.
#[derive(Debug, Clone)]
pub struct AreaIndex {
    tree: RTree<Entry>,
    /// `(owner id, polygon)` by slot; multi-polygons are split so each part gets a tight box.
    polygons: Vec<(usize, Polygon<f64>)>,
}

impl AreaIndex {
    /// Indexes `(owner id, area)` pairs. Polygons with a non-finite coordinate or
    /// no vertices are ignored (use [`super::area_to_multipolygon`] to report them).
    pub fn new(areas: impl IntoIterator<Item = (usize, MultiPolygon<f64>)>) -> Self {
        let mut polygons = Vec::new();
        let mut entries = Vec::new();
        for (owner, area) in areas {
            for polygon in area {
                if !polygon
                    .coords_iter()
                    .all(|c| c.x.is_finite() && c.y.is_finite())
                {
                    continue;
                }
                let Some(rect) = polygon.bounding_rect() else {
                    continue;
                };
                let (lo, hi) = (rect.min(), rect.max());
                entries.push(GeomWithData::new(
                    Rectangle::from_corners([lo.x, lo.y], [hi.x, hi.y]),
                    polygons.len(),
                ));
                polygons.push((owner, polygon));
            }
        }
        Self {
            tree: RTree::bulk_load(entries),
            polygons,
        }
    }

    /// Owners whose area contains the point (boundary counts as inside), ascending, deduplicated.
    /// Exact; empty for a non-finite point.
    pub fn containing(&self, lat: f64, lon: f64) -> Vec<usize> {
        let Some((lat, lon)) = normalise(lat, lon) else {
            return Vec::new();
        };
        let mut owners = Vec::new();
        for shift in LON_SHIFTS {
            let at = Coord {
                x: lon + shift,
                y: lat,
            };
            for entry in self.tree.locate_all_at_point(&[at.x, at.y]) {
                if let Some((owner, polygon)) = self.polygons.get(entry.data)
                    && polygon.intersects(&at)
                {
                    owners.push(*owner);
                }
            }
        }
        owners.sort_unstable();
        owners.dedup();
        owners
    }

    /// Owners whose area lies within `radius_m` of the point (containing ones at
    /// distance 0), ascending by distance, each owner once at its nearest area.
    ///
    /// Approximation: on each edge (straight in lon/lat) take the point closest to
    /// the query in a local equirectangular projection centred on the query, and
    /// report the least great-circle distance to those points. Each is a real
    /// boundary point, so the figure is never below the true distance (an area can
    /// only be missed at the very edge of the radius, never wrongly included). In
    /// tests (queries up to ~100 km from 3 km circles and 0.6-degree diamonds at 50N
    /// and 69N) it is at most 0.002% above the densely sampled true distance; areas
    /// hundreds of km across are untested. Containment (distance 0) is exact.
    /// Candidates come from the lon/lat bounding box of the spherical cap, so the
    /// tree pre-filter loses nothing.
    pub fn within_radius(&self, lat: f64, lon: f64, radius_m: f64) -> Vec<(usize, f64)> {
        let Some((lat, lon)) = normalise(lat, lon) else {
            return Vec::new();
        };
        if radius_m.is_nan() || radius_m < 0.0 {
            return Vec::new();
        }
        let mut slots: Vec<usize> = cap_envelopes(lat, lon, radius_m)
            .iter()
            .flat_map(|envelope| {
                self.tree
                    .locate_in_envelope_intersecting(envelope)
                    .map(|e| e.data)
            })
            .collect();
        slots.sort_unstable();
        slots.dedup();

        let mut hits: Vec<(usize, f64)> = slots
            .into_iter()
            .filter_map(|slot| self.polygons.get(slot))
            .map(|(owner, polygon)| (*owner, polygon_distance_m(polygon, lat, lon)))
            .filter(|&(_, d)| d <= radius_m)
            .collect();
        // Keep each owner's nearest area, then order by distance (ties by owner).
        hits.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        hits.dedup_by_key(|h| h.0);
        hits.sort_unstable_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        hits
    }
}

/// Lon/lat boxes (at each of [`LON_SHIFTS`]) covering the spherical cap of
/// `radius_m` around the query. A cap of angular radius δ at latitude φ spans
/// φ ± δ and, unless it reaches a pole, λ ± asin(sin δ / cos φ).
fn cap_envelopes(lat: f64, lon: f64, radius_m: f64) -> Vec<AABB<[f64; 2]>> {
    let delta = (radius_m / EARTH_RADIUS_M).min(std::f64::consts::PI);
    let delta_deg = delta.to_degrees();
    let (lat_lo, lat_hi) = (
        lat - delta_deg - ENVELOPE_SLACK_DEG,
        lat + delta_deg + ENVELOPE_SLACK_DEG,
    );
    let ratio = delta.sin() / lat.to_radians().cos();
    if lat_hi >= 90.0 || lat_lo <= -90.0 || ratio.is_nan() || ratio >= 1.0 {
        // A pole is inside the cap (or it is huge): every longitude is in play.
        return vec![AABB::from_corners(
            [f64::MIN, lat_lo.max(-90.0)],
            [f64::MAX, lat_hi.min(90.0)],
        )];
    }
    let half_width = ratio.asin().to_degrees() + ENVELOPE_SLACK_DEG;
    LON_SHIFTS
        .iter()
        .map(|shift| {
            AABB::from_corners(
                [lon + shift - half_width, lat_lo],
                [lon + shift + half_width, lat_hi],
            )
        })
        .collect()
}

/// Approximate great-circle metres from the query to the polygon (0 inside or on
/// the boundary); see [`AreaIndex::within_radius`].
fn polygon_distance_m(polygon: &Polygon<f64>, lat: f64, lon: f64) -> f64 {
    if LON_SHIFTS.iter().any(|shift| {
        polygon.intersects(&Coord {
            x: lon + shift,
            y: lat,
        })
    }) {
        return 0.0;
    }
    // Project around the copy of the query nearest the polygon's longitudes so an
    // area across ±180 from the query is not torn; haversine is 360-periodic anyway.
    let centre_lon = polygon
        .bounding_rect()
        .map_or(lon, |r| (r.min().x + r.max().x) / 2.0);
    let origin_lon = lon + 360.0 * ((centre_lon - lon) / 360.0).round();
    let x_scale = lat.to_radians().cos();
    let project = |c: Coord<f64>| ((c.x - origin_lon) * x_scale, c.y - lat);

    let mut best = f64::INFINITY;
    for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
        for line in ring.lines() {
            let (ax, ay) = project(line.start);
            let (bx, by) = project(line.end);
            let (dx, dy) = (bx - ax, by - ay);
            let len_2 = dx * dx + dy * dy;
            // Foot of the perpendicular from the origin (the query), clamped to the edge;
            // the same parameter gives the lon/lat point since the projection is affine.
            let t = if len_2 > 0.0 {
                (-(ax * dx + ay * dy) / len_2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let p = line.start + (line.end - line.start) * t;
            best = best.min(great_circle_m((lat, lon), (p.y, p.x)));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spatial::circle_area;
    use geo::{LineString, polygon};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn square(lat: f64, lon: f64, half_deg: f64) -> Polygon<f64> {
        polygon![
            (x: lon - half_deg, y: lat - half_deg),
            (x: lon + half_deg, y: lat - half_deg),
            (x: lon + half_deg, y: lat + half_deg),
            (x: lon - half_deg, y: lat + half_deg),
        ]
    }

    fn donut() -> Polygon<f64> {
        // Exeter-ish square 0.2 deg wide with a 0.1 deg hole.
        let outer = square(50.7, -3.5, 0.1).exterior().clone();
        let hole = square(50.7, -3.5, 0.05).exterior().clone();
        Polygon::new(outer, vec![hole])
    }

    #[test]
    fn containment_with_hole_and_boundaries() {
        let index = AreaIndex::new([(4, MultiPolygon::new(vec![donut()]))]);
        assert_eq!(index.containing(50.7 + 0.08, -3.5), vec![4], "in the ring");
        assert!(index.containing(50.7, -3.5).is_empty(), "in the hole");
        assert!(index.containing(50.7 + 0.2, -3.5).is_empty(), "outside");
        assert_eq!(
            index.containing(50.8, -3.5),
            vec![4],
            "on the outer boundary"
        );
        assert_eq!(index.containing(50.6, -3.6), vec![4], "on an outer corner");
        assert_eq!(
            index.containing(50.75, -3.5),
            vec![4],
            "on the hole's boundary"
        );
        assert_eq!(index.within_radius(50.7 + 0.08, -3.5, 0.0), vec![(4, 0.0)]);
        // From the centre of the hole the nearest boundary is 0.05 deg of longitude away (~3.5 km).
        let from_hole = index.within_radius(50.7, -3.5, 10_000.0);
        assert_eq!(from_hole.len(), 1);
        let expected = great_circle_m((50.7, -3.5), (50.7, -3.45));
        assert!(
            (from_hole[0].1 - expected).abs() < 1.0,
            "{from_hole:?} vs {expected}"
        );
        assert!(index.within_radius(50.7, -3.5, 3_500.0).is_empty());
    }

    #[test]
    fn multipolygons_and_several_owners() {
        let two_towns = MultiPolygon::new(vec![square(50.7, -3.5, 0.05), square(50.4, -4.1, 0.05)]);
        let overlapping = MultiPolygon::new(vec![square(50.72, -3.5, 0.05)]);
        let far = MultiPolygon::new(vec![square(52.0, 0.0, 0.05)]);
        let index = AreaIndex::new([
            (9, two_towns),
            (2, overlapping),
            (5, far),
            (9, MultiPolygon::new(vec![])),
        ]);
        assert_eq!(
            index.containing(50.4, -4.1),
            vec![9],
            "second part of the multipolygon"
        );
        assert_eq!(
            index.containing(50.71, -3.5),
            vec![2, 9],
            "ascending owners"
        );
        assert!(index.containing(51.0, -3.5).is_empty());
        assert_eq!(index.containing(52.0, 0.0), vec![5]);

        let near = index.within_radius(50.4, -4.1, 60_000.0);
        assert_eq!(
            near.iter().map(|h| h.0).collect::<Vec<_>>(),
            vec![9, 2],
            "owner 9 once, at distance 0"
        );
        assert_eq!(near[0].1, 0.0);
        assert!(near[1].1 > 40_000.0);
        assert_eq!(index.within_radius(50.4, -4.1, 1e9).len(), 3);
    }

    #[test]
    fn antimeridian_and_pole_areas() {
        let east = square(-17.0, 179.5, 0.5); // Fiji side, touching +180
        let west = MultiPolygon::new(vec![polygon![
            (x: -180.0, y: -17.5), (x: -179.0, y: -17.5), (x: -179.0, y: -16.5), (x: -180.0, y: -16.5),
        ]]);
        let beyond = square(-17.0, 180.8, 0.1); // written with longitudes past 180
        let arctic = polygon![(x: -180.0, y: 88.0), (x: 180.0, y: 88.0), (x: 180.0, y: 90.0), (x: -180.0, y: 90.0)];
        let index = AreaIndex::new([
            (1, MultiPolygon::new(vec![east])),
            (2, west),
            (3, MultiPolygon::new(vec![beyond])),
            (4, MultiPolygon::new(vec![arctic])),
        ]);
        assert_eq!(index.containing(-17.0, 180.0), vec![1, 2]);
        assert_eq!(index.containing(-17.0, -180.0), vec![1, 2]);
        assert_eq!(
            index.containing(-17.0, -179.2),
            vec![2, 3],
            "-179.2 is 180.8"
        );
        assert_eq!(index.containing(89.5, 42.0), vec![4]);
        assert_eq!(index.containing(90.0, 0.0), vec![4]);

        let near = index.within_radius(-17.0, -179.95, 20_000.0);
        assert_eq!(
            near.iter().map(|h| h.0).collect::<Vec<_>>(),
            vec![2, 1],
            "0 m, then ~5.3 km across 180"
        );
        assert!((near[1].1 - great_circle_m((-17.0, -179.95), (-17.0, 180.0))).abs() < 1.0);
        let polar = index.within_radius(87.9, 0.0, 12_000.0);
        assert_eq!(polar.len(), 1);
        assert!((polar[0].1 - great_circle_m((87.9, 0.0), (88.0, 0.0))).abs() < 1.0);
        let other_side_of_pole = index.within_radius(89.0, 180.0, 1e9);
        assert_eq!(other_side_of_pole.len(), 4);
    }

    /// Approximate distance vs the minimum over a densely sampled boundary.
    /// Worst relative over-estimate of the approximate distance, vs the minimum
    /// over a densely sampled boundary, for random queries within ~100 km.
    fn check_distance_accuracy(polygon: Polygon<f64>, lat: f64, lon: f64, max_rel: f64) -> f64 {
        let dense: Vec<Coord<f64>> = polygon
            .exterior()
            .lines()
            .flat_map(|l| {
                (0..=2_000).map(move |i| l.start + (l.end - l.start) * (f64::from(i) / 2_000.0))
            })
            .collect();
        let index = AreaIndex::new([(0, MultiPolygon::new(vec![polygon]))]);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut worst: f64 = 0.0;
        for _ in 0..300 {
            let qlat = lat + rng.random_range(-0.6..0.6);
            let qlon = lon + rng.random_range(-1.2..1.2);
            let got = index.within_radius(qlat, qlon, 1e6);
            assert_eq!(got.len(), 1);
            let approx = got[0].1;
            if !index.containing(qlat, qlon).is_empty() {
                assert_eq!(approx, 0.0);
                continue;
            }
            let truth = dense
                .iter()
                .map(|c| great_circle_m((qlat, qlon), (c.y, c.x)))
                .fold(f64::INFINITY, f64::min);
            assert!(
                approx >= truth - 0.5,
                "never below the truth: {approx} vs {truth}"
            );
            assert!(
                approx - truth <= max_rel * truth + 0.5,
                "({qlat}, {qlon}): {approx} vs {truth}"
            );
            assert!(
                index
                    .within_radius(qlat, qlon, approx * (1.0 - max_rel) - 1.0)
                    .is_empty()
            );
            worst = worst.max((approx - truth) / truth);
        }
        worst
    }

    #[test]
    fn within_radius_distance_accuracy_devon_and_69n() {
        for (lat, lon) in [(50.7, -3.5), (69.0, 20.0)] {
            let circle = circle_area(lat, lon, 3_000.0, 12).0.remove(0);
            // A diamond 0.6 deg across: long diagonal edges, the hard case for the projection.
            let diamond = polygon![
                (x: lon, y: lat - 0.3), (x: lon + 0.3, y: lat), (x: lon, y: lat + 0.3), (x: lon - 0.3, y: lat),
            ];
            let w_circle = check_distance_accuracy(circle, lat, lon, 1e-4);
            let w_diamond = check_distance_accuracy(diamond, lat, lon, 1e-4);
            eprintln!("worst over-estimate at {lat}N: circle {w_circle:e}, diamond {w_diamond:e}");
        }
    }

    #[test]
    fn empty_degenerate_and_non_finite() {
        let empty = AreaIndex::new(std::iter::empty());
        assert!(empty.containing(50.7, -3.5).is_empty());
        assert!(empty.within_radius(50.7, -3.5, 1e9).is_empty());

        let nan_poly = polygon![(x: 0.0, y: 0.0), (x: f64::NAN, y: 1.0), (x: 1.0, y: 1.0)];
        let no_vertices = Polygon::new(LineString::new(vec![]), vec![]);
        let flat = polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 2.0, y: 0.0)];
        let index = AreaIndex::new([
            (1, MultiPolygon::new(vec![nan_poly, no_vertices])),
            (2, MultiPolygon::new(vec![flat])),
            (3, MultiPolygon::new(vec![square(0.5, 0.5, 0.5)])),
        ]);
        assert_eq!(index.containing(0.5, 0.5), vec![3]);
        assert_eq!(
            index.containing(0.0, 1.0),
            vec![2, 3],
            "a flat polygon still has its boundary"
        );
        for (lat, lon) in [
            (f64::NAN, 0.0),
            (0.0, f64::INFINITY),
            (f64::NEG_INFINITY, f64::NAN),
        ] {
            assert!(index.containing(lat, lon).is_empty());
            assert!(index.within_radius(lat, lon, 1e6).is_empty());
        }
        assert!(index.within_radius(0.5, 0.5, f64::NAN).is_empty());
        assert!(index.within_radius(0.5, 0.5, -1.0).is_empty());
        assert_eq!(index.within_radius(1e300, -1e300, f64::INFINITY).len(), 2);
        assert_eq!(index.within_radius(0.5, 0.5, f64::MAX).len(), 2);
        assert_eq!(index.containing(0.5, 360.5), vec![3], "longitude wrapped");
    }
}
