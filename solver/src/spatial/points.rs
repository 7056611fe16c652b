//! [`PointIndex`]: exact nearest / within-radius queries on the sphere.

use super::{EARTH_RADIUS_M, great_circle_m, normalise};
use rstar::RTree;
use rstar::primitives::GeomWithData;

/// Tree entry: unit vector plus the slot of the point in `PointIndex::points`.
type Entry = GeomWithData<[f64; 3], usize>;

/// Chord slack (unit-sphere units, about 6 µm on the ground) so that float
/// rounding between chord and haversine never drops a point at the boundary.
const CHORD_SLACK: f64 = 1e-12;

/// Index of points (carers, teams, service users...) for queries correct on the sphere:
/// points are stored as 3-D unit-sphere coordinates so chord order == great-circle order.
///
/// Reported distances are [`great_circle_m`] from the stored coordinates, so they
/// equal a brute-force haversine scan exactly; equal distances are ordered by id.
#[derive(Debug, Clone)]
pub struct PointIndex {
    tree: RTree<Entry>,
    /// `(caller id, lat, lon)` by slot, after normalisation.
    points: Vec<(usize, f64, f64)>,
}

impl PointIndex {
    /// Bulk-loads the points `(caller id, lat, lon)`. Points with a non-finite
    /// coordinate are skipped (they can never be a meaningful answer); latitudes
    /// are clamped and longitudes wrapped. Ids need not be unique or dense.
    pub fn new(points: impl IntoIterator<Item = (usize, f64, f64)>) -> Self {
        let points: Vec<(usize, f64, f64)> = points
            .into_iter()
            .filter_map(|(id, lat, lon)| normalise(lat, lon).map(|(lat, lon)| (id, lat, lon)))
            .collect();
        let entries = points
            .iter()
            .enumerate()
            .map(|(slot, &(_, lat, lon))| GeomWithData::new(unit_vector(lat, lon), slot))
            .collect();
        Self {
            tree: RTree::bulk_load(entries),
            points,
        }
    }

    /// Number of points stored (skipped non-finite points not counted).
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Whether no point is stored.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// k nearest, ascending by great-circle metres. Fewer when the index holds
    /// fewer than `k`; empty for a non-finite query.
    pub fn nearest(&self, lat: f64, lon: f64, k: usize) -> Vec<(usize, f64)> {
        let Some((lat, lon)) = normalise(lat, lon) else {
            return Vec::new();
        };
        if k == 0 {
            return Vec::new();
        }
        let query = unit_vector(lat, lon);
        let mut hits = Vec::with_capacity(k.min(self.points.len()));
        // Chord order is exact in theory; keep near-ties with the k-th so the final
        // haversine sort (not chord rounding) decides which of them make the cut.
        let mut cutoff_2 = f64::INFINITY;
        for (entry, d2) in self.tree.nearest_neighbor_iter_with_distance_2(&query) {
            if d2 > cutoff_2 {
                break;
            }
            hits.extend(self.hit(entry.data, lat, lon));
            if hits.len() == k {
                cutoff_2 = (d2.sqrt() + CHORD_SLACK).powi(2);
            }
        }
        sort_hits(&mut hits);
        hits.truncate(k);
        hits
    }

    /// All within `radius_m` (inclusive), ascending by metres. Empty for a
    /// negative or NaN radius or a non-finite query; a radius of half the Earth's
    /// circumference or more returns everything.
    pub fn within_radius(&self, lat: f64, lon: f64, radius_m: f64) -> Vec<(usize, f64)> {
        let Some((lat, lon)) = normalise(lat, lon) else {
            return Vec::new();
        };
        if radius_m.is_nan() || radius_m < 0.0 {
            return Vec::new();
        }
        // rstar takes the SQUARED chord; chord = 2 sin(θ/2) for central angle θ.
        let half_angle = (radius_m / (2.0 * EARTH_RADIUS_M)).min(std::f64::consts::FRAC_PI_2);
        let chord = 2.0 * half_angle.sin() + CHORD_SLACK;
        let mut hits: Vec<(usize, f64)> = self
            .tree
            .locate_within_distance(unit_vector(lat, lon), chord * chord)
            .filter_map(|entry| self.hit(entry.data, lat, lon))
            .filter(|&(_, d)| d <= radius_m)
            .collect();
        sort_hits(&mut hits);
        hits
    }

    /// `(caller id, great-circle metres)` of a stored slot.
    fn hit(&self, slot: usize, lat: f64, lon: f64) -> Option<(usize, f64)> {
        let &(id, p_lat, p_lon) = self.points.get(slot)?;
        Some((id, great_circle_m((lat, lon), (p_lat, p_lon))))
    }
}

/// Ascending distance, then id, so results are deterministic under ties.
fn sort_hits(hits: &mut [(usize, f64)]) {
    hits.sort_unstable_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
}

/// Unit vector of a (lat, lon) in degrees; chord between two of them is
/// `2 sin(θ/2)`, monotone in the central angle θ, so Euclidean order = sphere order.
fn unit_vector(lat: f64, lon: f64) -> [f64; 3] {
    let (sin_lat, cos_lat) = lat.to_radians().sin_cos();
    let (sin_lon, cos_lon) = lon.to_radians().sin_cos();
    [cos_lat * cos_lon, cos_lat * sin_lon, sin_lat]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Tolerance when comparing distances with brute force (rounding only).
    const EPS_M: f64 = 1e-6;

    fn random_points(
        seed: u64,
        n: usize,
        lat: f64,
        lon: f64,
        spread_deg: f64,
    ) -> Vec<(usize, f64, f64)> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|i| {
                (
                    i,
                    lat + rng.random_range(-spread_deg..spread_deg),
                    lon + rng.random_range(-spread_deg..spread_deg),
                )
            })
            .collect()
    }

    fn brute_all(points: &[(usize, f64, f64)], lat: f64, lon: f64) -> Vec<(usize, f64)> {
        let mut all: Vec<(usize, f64)> = points
            .iter()
            .map(|&(id, plat, plon)| (id, great_circle_m((lat, lon), (plat, plon))))
            .collect();
        sort_hits(&mut all);
        all
    }

    /// Same k nearest as brute force, allowing any order among equal distances.
    fn assert_nearest_ok(
        points: &[(usize, f64, f64)],
        got: &[(usize, f64)],
        lat: f64,
        lon: f64,
        k: usize,
    ) {
        let brute = brute_all(points, lat, lon);
        assert_eq!(
            got.len(),
            k.min(points.len()),
            "count at ({lat}, {lon}) k={k}"
        );
        let mut ids: Vec<usize> = got.iter().map(|h| h.0).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), got.len(), "duplicate ids");
        for (i, (&(id, d), &(_, bd))) in got.iter().zip(&brute).enumerate() {
            assert!(
                (d - bd).abs() <= EPS_M,
                "rank {i}: got {d} m, brute force {bd} m"
            );
            let (_, plat, plon) = points[id];
            assert!(
                (great_circle_m((lat, lon), (plat, plon)) - d).abs() <= EPS_M,
                "reported distance of {id}"
            );
        }
        assert!(got.windows(2).all(|w| w[0].1 <= w[1].1), "not ascending");
    }

    /// Same set as brute force except points within rounding of the radius.
    fn assert_within_ok(
        points: &[(usize, f64, f64)],
        got: &[(usize, f64)],
        lat: f64,
        lon: f64,
        r: f64,
    ) {
        let brute = brute_all(points, lat, lon);
        assert!(got.windows(2).all(|w| w[0].1 <= w[1].1), "not ascending");
        for &(id, d) in got {
            assert!(d <= r, "{id} at {d} m outside {r} m");
        }
        for &(id, d) in &brute {
            if d < r - EPS_M {
                assert!(
                    got.iter().any(|h| h.0 == id),
                    "missed {id} at {d} m (r = {r})"
                );
            }
        }
        let expected = brute.iter().filter(|h| h.1 <= r).count();
        assert_eq!(got.len(), expected);
    }

    fn check_region(seed: u64, lat: f64, lon: f64, spread_deg: f64) {
        let points = random_points(seed, 2_000, lat, lon, spread_deg);
        let index = PointIndex::new(points.clone());
        assert_eq!(index.len(), points.len());
        let mut rng = ChaCha8Rng::seed_from_u64(seed + 1);
        for _ in 0..200 {
            let qlat = lat + rng.random_range(-spread_deg..spread_deg);
            let qlon = lon + rng.random_range(-spread_deg..spread_deg);
            for k in [1, 5, 10] {
                assert_nearest_ok(&points, &index.nearest(qlat, qlon, k), qlat, qlon, k);
            }
            for r in [500.0, 2_000.0, 10_000.0] {
                assert_within_ok(&points, &index.within_radius(qlat, qlon, r), qlat, qlon, r);
            }
        }
    }

    #[test]
    fn nearest_and_within_radius_match_brute_force_devon() {
        check_region(7, 50.7, -3.5, 0.5);
    }

    #[test]
    fn nearest_and_within_radius_match_brute_force_69n() {
        check_region(11, 69.0, 20.0, 0.5);
    }

    #[test]
    fn nearest_and_within_radius_match_brute_force_pole_and_antimeridian() {
        check_region(13, 89.6, 0.0, 0.4);
        check_region(17, 0.0, 180.0, 0.4);
        check_region(19, -65.0, -179.9, 0.5);
    }

    #[test]
    fn planar_degrees_pick_wrong_nearest_at_69n() {
        // At 69N one degree of longitude is only 0.36 of a degree of latitude on the ground.
        let (qlat, qlon) = (69.0, 20.0);
        let east = (0, 69.0, 20.07); // 0.07 deg east: ~2.8 km
        let north = (1, 69.05, 20.0); // 0.05 deg north: ~5.6 km
        let planar = RTree::bulk_load(vec![[east.2, east.1], [north.2, north.1]]);
        let planar_nearest = planar.nearest_neighbor(&[qlon, qlat]).unwrap();
        assert_eq!(
            *planar_nearest,
            [north.2, north.1],
            "planar degrees choose the northern point"
        );

        let index = PointIndex::new([east, north]);
        let got = index.nearest(qlat, qlon, 1);
        assert_eq!(
            got[0].0, east.0,
            "the sphere index chooses the eastern point"
        );
        let d_east = great_circle_m((qlat, qlon), (east.1, east.2));
        let d_north = great_circle_m((qlat, qlon), (north.1, north.2));
        assert!(d_east < 2_900.0 && d_north > 5_500.0, "{d_east} {d_north}");
        assert_eq!(got[0].1, d_east);
    }

    #[test]
    fn antimeridian_and_pole_neighbours() {
        let index = PointIndex::new([
            (0, 0.0, 179.0),
            (1, 0.0, -179.99),
            (2, 89.99, 0.0),
            (3, 89.99, 180.0),
        ]);
        assert_eq!(index.nearest(0.0, 179.99, 1)[0].0, 1);
        // From just past the pole on the 180 meridian, the 180 point is nearest.
        let from_pole = index.nearest(89.995, -180.0, 2);
        assert_eq!(from_pole[0].0, 3);
        assert_eq!(from_pole[1].0, 2);
        let at_pole = index.within_radius(90.0, 123.0, 1_200.0);
        let mut ids: Vec<usize> = at_pole.iter().map(|h| h.0).collect();
        ids.sort_unstable();
        assert_eq!(ids, vec![2, 3]);
        assert!((at_pole[0].1 - at_pole[1].1).abs() < EPS_M);
    }

    #[test]
    fn within_radius_zero_and_huge() {
        let points = random_points(3, 300, 50.7, -3.5, 0.3);
        let mut with_dupes = points.clone();
        with_dupes.push((300, points[5].1, points[5].2));
        let index = PointIndex::new(with_dupes.clone());
        let zero = index.within_radius(points[5].1, points[5].2, 0.0);
        assert_eq!(zero, vec![(5, 0.0), (300, 0.0)]);
        assert!(
            index
                .within_radius(points[5].1 + 1e-4, points[5].2, 0.0)
                .is_empty()
        );
        for huge in [1e7, 3e7, f64::INFINITY, f64::MAX] {
            let all = index.within_radius(0.0, 0.0, huge);
            assert_eq!(all.len(), 301, "radius {huge}");
        }
        let from_antipode = index.within_radius(-50.7, 176.5, 2.0e7);
        assert!(
            !from_antipode.is_empty() && from_antipode.len() < 301,
            "{}",
            from_antipode.len()
        );
        assert_within_ok(&with_dupes, &from_antipode, -50.7, 176.5, 2.0e7);
        assert!(index.within_radius(50.7, -3.5, -1.0).is_empty());
        assert!(index.within_radius(50.7, -3.5, f64::NAN).is_empty());
    }

    #[test]
    fn empty_index_and_bad_inputs() {
        let empty = PointIndex::new(std::iter::empty());
        assert!(empty.is_empty());
        assert_eq!(empty.len(), 0);
        assert!(empty.nearest(50.7, -3.5, 5).is_empty());
        assert!(empty.within_radius(50.7, -3.5, 1e9).is_empty());

        let index = PointIndex::new([
            (0, 50.7, -3.5),
            (1, f64::NAN, 0.0),
            (2, 0.0, f64::INFINITY),
            (3, 95.0, 370.0),
        ]);
        assert_eq!(
            index.len(),
            2,
            "non-finite points skipped, (95, 370) kept as (90, 10)"
        );
        assert!(index.nearest(f64::NAN, 0.0, 3).is_empty());
        assert!(index.nearest(0.0, f64::NEG_INFINITY, 3).is_empty());
        assert!(index.within_radius(f64::NAN, f64::NAN, 10.0).is_empty());
        assert!(index.nearest(50.7, -3.5, 0).is_empty());
        assert_eq!(index.nearest(50.7, -3.5, usize::MAX).len(), 2);
        assert_eq!(index.nearest(1e300, -1e300, 1).len(), 1);
        let at_pole = index.nearest(90.0, 999.0, 1)[0];
        assert!(at_pole.0 == 3 && at_pole.1 < 1e-6, "{at_pole:?}");
    }

    proptest! {
        #[test]
        fn nearest_matches_brute_force_worldwide(
            raw in prop::collection::vec((-90.0..=90.0f64, -180.0..=180.0f64), 0..150),
            q in (-90.0..=90.0f64, -180.0..=180.0f64),
            k in 0usize..20,
        ) {
            let points: Vec<(usize, f64, f64)> = raw.iter().enumerate().map(|(i, &(a, b))| (i, a, b)).collect();
            let index = PointIndex::new(points.clone());
            assert_nearest_ok(&points, &index.nearest(q.0, q.1, k), q.0, q.1, k);
        }

        #[test]
        fn nearest_matches_brute_force_clustered(
            centre in (-90.0..=90.0f64, -180.0..=180.0f64),
            offsets in prop::collection::vec((-0.05..0.05f64, -0.05..0.05f64), 1..150),
            q in (-0.05..0.05f64, -0.05..0.05f64),
            k in 1usize..20,
            // Snapping to a coarse grid creates exact ties and duplicates.
            snap in any::<bool>(),
        ) {
            let round = |x: f64| if snap { (x * 100.0).round() / 100.0 } else { x };
            let points: Vec<(usize, f64, f64)> = offsets
                .iter()
                .enumerate()
                .map(|(i, &(a, b))| (i, (centre.0 + round(a)).clamp(-90.0, 90.0), centre.1 + round(b)))
                .map(|(i, a, b)| { let (a, b) = normalise(a, b).unwrap(); (i, a, b) })
                .collect();
            let (qlat, qlon) = normalise(centre.0 + q.0, centre.1 + q.1).unwrap();
            let index = PointIndex::new(points.clone());
            assert_nearest_ok(&points, &index.nearest(qlat, qlon, k), qlat, qlon, k);
            let r = index.nearest(qlat, qlon, k).last().map_or(0.0, |h| h.1);
            assert_within_ok(&points, &index.within_radius(qlat, qlon, r), qlat, qlon, r);
        }
    }

    /// Timing by hand:
    /// `cargo test --release -p carefill-solver --lib spatial::points::tests::timing_5500_points_4000_queries -- --ignored --nocapture`
    #[test]
    #[ignore = "timing, run by hand in release mode"]
    fn timing_5500_points_4000_queries() {
        use rayon::prelude::*;
        use std::time::Instant;
        let points = random_points(42, 5_500, 50.7, -3.5, 0.6);
        let queries: Vec<(usize, f64, f64)> = random_points(43, 4_000, 50.7, -3.5, 0.6);

        let t = Instant::now();
        let index = PointIndex::new(points.clone());
        let build = t.elapsed();

        let t = Instant::now();
        let mut checksum = 0.0;
        for &(_, lat, lon) in &queries {
            checksum += index.nearest(lat, lon, 10).iter().map(|h| h.1).sum::<f64>();
        }
        let sequential = t.elapsed();

        let t = Instant::now();
        let par_checksum: f64 = queries
            .par_iter()
            .map(|&(_, lat, lon)| index.nearest(lat, lon, 10).iter().map(|h| h.1).sum::<f64>())
            .sum();
        let parallel = t.elapsed();

        let t = Instant::now();
        let mut brute_checksum = 0.0;
        let mut dists = Vec::with_capacity(points.len());
        for &(_, lat, lon) in &queries {
            dists.clear();
            dists.extend(
                points
                    .iter()
                    .map(|&(_, plat, plon)| great_circle_m((lat, lon), (plat, plon))),
            );
            dists.select_nth_unstable_by(9, f64::total_cmp);
            brute_checksum += dists[..10].iter().sum::<f64>();
        }
        let brute = t.elapsed();

        println!("PointIndex::new(5,500 points): {build:?}");
        println!(
            "4,000 x nearest(k=10), one thread: {sequential:?} ({:?}/query)",
            sequential / 4_000
        );
        println!(
            "4,000 x nearest(k=10), rayon ({} threads): {parallel:?}",
            rayon::current_num_threads()
        );
        println!("brute force (haversine to all 5,500 + select 10), same queries: {brute:?}");
        assert!((checksum - par_checksum).abs() < 1e-3 && (checksum - brute_checksum).abs() < 1e-3);
    }
}
