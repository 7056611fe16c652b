//! Flat-earth helpers for a county-sized patch: metre offsets, random points,
//! circles as GeoJSON polygons and their unions.
//!
//! An equirectangular approximation is plenty at 80 km; every coordinate that
//! leaves this module is rounded to 6 decimals (~0.1 m) so that fixtures do not
//! depend on the last bits of the platform's `sin`/`cos`.

use crate::format::{AreaGeometry, Location};
use geo::{Coord, LineString, MultiPolygon, Orient, Polygon, orient::Direction, unary_union};
use rand::Rng;
use std::f64::consts::PI;

/// Metres per degree of latitude (and of longitude at the equator).
const M_PER_DEG: f64 = 111_320.0;

/// Vertices of a circle polygon (before closing the ring).
const CIRCLE_VERTICES: usize = 32;

/// A WGS-84 point in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Point {
    pub lat: f64,
    pub lon: f64,
}

impl Point {
    /// The point `east_m` metres east and `north_m` metres north of `self`.
    pub fn offset(self, east_m: f64, north_m: f64) -> Point {
        let lat = self.lat + north_m / M_PER_DEG;
        let lon = self.lon + east_m / (M_PER_DEG * self.lat.to_radians().cos());
        Point { lat, lon }
    }

    /// Approximate straight-line distance in metres.
    pub fn distance_m(self, other: Point) -> f64 {
        let mid = ((self.lat + other.lat) / 2.0).to_radians();
        let dy = (other.lat - self.lat) * M_PER_DEG;
        let dx = (other.lon - self.lon) * M_PER_DEG * mid.cos();
        (dx * dx + dy * dy).sqrt()
    }

    /// This point rounded, as a wire [`Location`].
    pub fn location(self) -> Location {
        Location {
            lat: round6(self.lat),
            lon: round6(self.lon),
            matrix_index: None,
        }
    }
}

/// Rounds to 6 decimals so output is stable across platforms.
pub(super) fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// A point uniformly distributed over the disk of `radius_m` around `centre`.
pub(super) fn random_in_disk<R: Rng>(rng: &mut R, centre: Point, radius_m: f64) -> Point {
    let r = radius_m * rng.random::<f64>().sqrt();
    let a = rng.random::<f64>() * 2.0 * PI;
    centre.offset(r * a.cos(), r * a.sin())
}

/// A point clustered towards `centre` (density falls linearly with distance).
pub(super) fn random_near<R: Rng>(rng: &mut R, centre: Point, radius_m: f64) -> Point {
    let r = radius_m * rng.random::<f64>();
    let a = rng.random::<f64>() * 2.0 * PI;
    centre.offset(r * a.cos(), r * a.sin())
}

/// A closed, counter-clockwise ring of `[lon, lat]` approximating a circle.
pub(super) fn circle_ring(centre: Point, radius_m: f64) -> Vec<[f64; 2]> {
    let mut ring: Vec<[f64; 2]> = (0..CIRCLE_VERTICES)
        .map(|i| {
            let a = 2.0 * PI * i as f64 / CIRCLE_VERTICES as f64;
            let p = centre.offset(radius_m * a.cos(), radius_m * a.sin());
            [round6(p.lon), round6(p.lat)]
        })
        .collect();
    if let Some(first) = ring.first().copied() {
        ring.push(first);
    }
    ring
}

/// A circle as a GeoJSON `Polygon`.
pub(super) fn circle_polygon(centre: Point, radius_m: f64) -> AreaGeometry {
    AreaGeometry::Polygon {
        coordinates: vec![circle_ring(centre, radius_m)],
    }
}

/// The union of circles as one GeoJSON `MultiPolygon` (overlaps merged, so the
/// parts are disjoint as GeoJSON expects).
pub(super) fn union_of_circles(circles: &[(Point, f64)]) -> AreaGeometry {
    let polygons: Vec<Polygon<f64>> = circles
        .iter()
        .map(|&(c, r)| {
            let coords = circle_ring(c, r)
                .into_iter()
                .map(|[x, y]| Coord { x, y })
                .collect();
            Polygon::new(LineString::new(coords), Vec::new())
        })
        .collect();
    let merged: MultiPolygon<f64> = unary_union(&polygons).orient(Direction::Default);
    let mut out: Vec<Vec<Vec<[f64; 2]>>> = Vec::new();
    for poly in &merged.0 {
        let mut rings = Vec::new();
        if let Some(ext) = clean_ring(poly.exterior()) {
            rings.push(ext);
            rings.extend(poly.interiors().iter().filter_map(clean_ring));
            out.push(rings);
        }
    }
    if out.is_empty() {
        // Cannot happen for non-empty input; fall back to the raw circles.
        out = circles
            .iter()
            .map(|&(c, r)| vec![circle_ring(c, r)])
            .collect();
    }
    AreaGeometry::MultiPolygon { coordinates: out }
}

/// Rounds a ring, drops repeated positions and re-closes it; `None` if degenerate.
fn clean_ring(ring: &LineString<f64>) -> Option<Vec<[f64; 2]>> {
    let mut pts: Vec<[f64; 2]> = Vec::with_capacity(ring.0.len());
    for c in &ring.0 {
        let p = [round6(c.x), round6(c.y)];
        if pts.last() != Some(&p) {
            pts.push(p);
        }
    }
    while pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    if pts.len() < 3 {
        return None;
    }
    let first = pts[0];
    pts.push(first);
    Some(pts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn circle_ring_is_closed_and_round() {
        let c = Point {
            lat: 50.7,
            lon: -3.6,
        };
        let ring = circle_ring(c, 3000.0);
        assert_eq!(ring.len(), CIRCLE_VERTICES + 1);
        assert_eq!(ring.first(), ring.last());
        for [lon, lat] in &ring[..CIRCLE_VERTICES] {
            let d = c.distance_m(Point {
                lat: *lat,
                lon: *lon,
            });
            assert!((d - 3000.0).abs() < 5.0, "{d}");
        }
    }

    #[test]
    fn union_merges_overlapping_circles() {
        let a = Point {
            lat: 50.7,
            lon: -3.6,
        };
        let b = a.offset(2000.0, 0.0);
        let far = a.offset(30_000.0, 0.0);
        let AreaGeometry::MultiPolygon { coordinates } =
            union_of_circles(&[(a, 1500.0), (b, 1500.0), (far, 1000.0)])
        else {
            panic!("not a multipolygon");
        };
        assert_eq!(coordinates.len(), 2);
        for poly in &coordinates {
            for ring in poly {
                assert!(ring.len() >= 4);
                assert_eq!(ring.first(), ring.last());
            }
        }
    }
}
