//! Spatial queries on the sphere: nearest carers/teams to a visit, everyone within
//! a radius, and which provider areas or team neighbourhoods contain a place.
//!
//! Why not a plain R-tree over `[lon, lat]`: planar degrees stretch east-west
//! distances by `1 / cos(lat)`, so the "nearest" carer in degrees is often not
//! the nearest on the ground (badly so at high latitude) and the antimeridian
//! tears neighbourhoods apart. [`PointIndex`] therefore stores 3-D unit vectors,
//! whose chord length is monotone in great-circle distance, and is exact.
//!
//! Areas follow GeoJSON (RFC 7946): rings are straight lines in lon/lat and
//! positions are `[lon, lat]`. [`AreaIndex::containing`] is an exact test in that
//! model; [`AreaIndex::within_radius`] measures distances approximately (see there).
//!
//! Inputs are never trusted: non-finite coordinates give empty results, latitudes
//! are clamped to -90..=90 and longitudes wrapped into -180..=180.

mod areas;
mod geometry;
mod points;

pub use areas::AreaIndex;
pub use geometry::{area_to_multipolygon, circle_area, multipolygon_to_area};
pub use points::PointIndex;

use geo::{Distance, Haversine, Point};

/// Mean Earth radius used throughout (geo's Haversine uses 6_371_008.8 m).
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Great-circle metres between `(lat, lon)` pairs in degrees: `geo::Haversine`
/// (the travel models' distance too), with the antipode made exact. NaN in, NaN out.
pub fn great_circle_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let d = Haversine.distance(Point::new(a.1, a.0), Point::new(b.1, b.0));
    // Rounding can push the haversine a hair above 1 near antipodes, where
    // geo's asin gives NaN: the distance there is half a great circle.
    if d.is_nan() && [a.0, a.1, b.0, b.1].iter().all(|x| x.is_finite()) {
        std::f64::consts::PI * EARTH_RADIUS_M
    } else {
        d
    }
}

/// Brings a query or stored coordinate into range: `None` when not finite,
/// latitude clamped, longitude wrapped into -180..=180 (in-range values untouched).
fn normalise(lat: f64, lon: f64) -> Option<(f64, f64)> {
    if !lat.is_finite() || !lon.is_finite() {
        return None;
    }
    let lon = if (-180.0..=180.0).contains(&lon) {
        lon
    } else {
        (lon + 180.0).rem_euclid(360.0) - 180.0
    };
    Some((lat.clamp(-90.0, 90.0), lon))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Distance, Haversine, Point};

    #[test]
    fn great_circle_matches_geo_haversine() {
        let pairs = [
            ((50.7, -3.5), (50.72, -3.53)),
            ((69.0, 20.0), (69.1, 21.0)),
            ((0.0, 179.9), (0.0, -179.9)),
            ((90.0, 0.0), (-90.0, 0.0)),
            ((10.0, 10.0), (-10.0, -170.0)),
            ((51.5, -0.1), (51.5, -0.1)),
        ];
        for (a, b) in pairs {
            let ours = great_circle_m(a, b);
            let geo = Haversine.distance(Point::new(a.1, a.0), Point::new(b.1, b.0));
            assert!((ours - geo).abs() < 1e-6, "{a:?} {b:?}: {ours} vs {geo}");
        }
        assert!(
            (great_circle_m((0.0, 0.0), (0.0, 180.0)) - std::f64::consts::PI * EARTH_RADIUS_M)
                .abs()
                < 1e-6
        );
        assert!(great_circle_m((f64::NAN, 0.0), (0.0, 0.0)).is_nan());
    }

    #[test]
    fn normalise_clamps_wraps_and_rejects_non_finite() {
        assert_eq!(normalise(50.0, -3.5), Some((50.0, -3.5)));
        assert_eq!(normalise(91.0, 190.0), Some((90.0, -170.0)));
        assert_eq!(normalise(-95.0, -190.0), Some((-90.0, 170.0)));
        assert_eq!(normalise(0.0, 180.0), Some((0.0, 180.0)));
        assert_eq!(normalise(0.0, 540.0), Some((0.0, -180.0)));
        assert!(normalise(0.0, 1e300).is_some());
        assert_eq!(normalise(f64::NAN, 0.0), None);
        assert_eq!(normalise(0.0, f64::INFINITY), None);
    }
}
