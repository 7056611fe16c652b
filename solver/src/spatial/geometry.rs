//! Conversions between wire [`AreaGeometry`] and `geo`, with validation, and
//! circular areas for fixtures.

use super::{EARTH_RADIUS_M, normalise};
use crate::format::{AreaGeometry, IssueCode, Issues};
use geo::{Coord, LineString, MultiPolygon, Polygon};

/// Upper bound on [`circle_area`] vertices so a silly request cannot exhaust memory.
const MAX_CIRCLE_VERTICES: usize = 1 << 16;

/// Converts a wire geometry to geo, validating rings (>= 4 positions, closed — first == last —
/// coordinates in range, finite, enclosing some area). Pushes [`IssueCode::InvalidPolygon`] /
/// [`IssueCode::CoordinatesOutOfRange`] issues under `path` (e.g.
/// `"$.providers[2].service_areas[0]"`) and returns `None` when invalid.
///
/// Every problem is reported, each at the deepest path that shows it: the ring
/// (`...coordinates[0]`, or `...coordinates[1][0]` in a MultiPolygon) or, for
/// coordinates, the first bad position of the ring (`...coordinates[0][3]`).
/// Winding order and self-intersection are not checked (RFC 7946 asks receivers
/// not to reject on winding; containment tests do not depend on it).
pub fn area_to_multipolygon(
    area: &AreaGeometry,
    path: &str,
    issues: &mut Issues,
) -> Option<MultiPolygon<f64>> {
    let before = issues.0.len();
    let polygons: Vec<Polygon<f64>> = match area {
        AreaGeometry::Polygon { coordinates } => {
            convert_polygon(coordinates, &format!("{path}.coordinates"), issues)
                .into_iter()
                .collect()
        }
        AreaGeometry::MultiPolygon { coordinates } => {
            if coordinates.is_empty() {
                issues.push(
                    format!("{path}.coordinates"),
                    IssueCode::InvalidPolygon,
                    "a MultiPolygon needs at least one polygon",
                );
            }
            coordinates
                .iter()
                .enumerate()
                .filter_map(|(i, rings)| {
                    convert_polygon(rings, &format!("{path}.coordinates[{i}]"), issues)
                })
                .collect()
        }
    };
    (issues.0.len() == before).then(|| MultiPolygon::new(polygons))
}

/// One polygon (exterior ring then holes) at `path`, or None after reporting.
fn convert_polygon(
    rings: &[Vec<[f64; 2]>],
    path: &str,
    issues: &mut Issues,
) -> Option<Polygon<f64>> {
    if rings.is_empty() {
        issues.push(
            path,
            IssueCode::InvalidPolygon,
            "a polygon needs an exterior ring",
        );
        return None;
    }
    // Convert every ring even after a failure, so all problems are reported.
    let converted: Vec<Option<LineString<f64>>> = rings
        .iter()
        .enumerate()
        .map(|(i, ring)| convert_ring(ring, &format!("{path}[{i}]"), issues))
        .collect();
    let mut rings = converted
        .into_iter()
        .collect::<Option<Vec<_>>>()?
        .into_iter();
    let exterior = rings.next()?;
    Some(Polygon::new(exterior, rings.collect()))
}

/// One ring at `path`, or None after reporting.
fn convert_ring(ring: &[[f64; 2]], path: &str, issues: &mut Issues) -> Option<LineString<f64>> {
    let in_range =
        |&[lon, lat]: &[f64; 2]| (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat);
    let mut bad = ring.iter().enumerate().filter(|(_, p)| !in_range(p));
    let first_bad = bad.next();
    if let Some((i, &[lon, lat])) = first_bad {
        let more = match bad.count() {
            0 => String::new(),
            n => format!(" ({n} more in this ring)"),
        };
        issues.push(
            format!("{path}[{i}]"),
            IssueCode::CoordinatesOutOfRange,
            format!("position [{lon}, {lat}] must be finite [lon, lat] with lon in -180..=180 and lat in -90..=90{more}"),
        );
    }
    let problem = if ring.len() < 4 {
        Some(format!(
            "a ring needs at least 4 positions (the first repeated last), found {}",
            ring.len()
        ))
    } else if first_bad.is_some() {
        None // closure and area are meaningless with bad coordinates
    } else if ring.first() != ring.last() {
        Some("ring is not closed: the last position must equal the first".to_string())
    } else if twice_signed_area(ring) == 0.0 {
        Some("ring encloses no area (its positions are repeated or collinear)".to_string())
    } else {
        None
    };
    if let Some(message) = &problem {
        issues.push(path, IssueCode::InvalidPolygon, message.as_str());
    }
    (first_bad.is_none() && problem.is_none())
        .then(|| ring.iter().map(|&[x, y]| Coord { x, y }).collect())
}

/// Shoelace sum of a closed ring (twice its signed planar area in degrees²).
fn twice_signed_area(ring: &[[f64; 2]]) -> f64 {
    ring.windows(2)
        .map(|w| w[0][0] * w[1][1] - w[1][0] * w[0][1])
        .sum()
}

/// Inverse for writing fixtures: one polygon becomes a `Polygon`, anything else a
/// `MultiPolygon`. Rings are written closed, as geo stores them.
pub fn multipolygon_to_area(mp: &MultiPolygon<f64>) -> AreaGeometry {
    fn ring(ls: &LineString<f64>) -> Vec<[f64; 2]> {
        ls.coords().map(|c| [c.x, c.y]).collect()
    }
    fn rings(p: &Polygon<f64>) -> Vec<Vec<[f64; 2]>> {
        std::iter::once(p.exterior())
            .chain(p.interiors())
            .map(ring)
            .collect()
    }
    match mp.0.as_slice() {
        [one] => AreaGeometry::Polygon {
            coordinates: rings(one),
        },
        many => AreaGeometry::MultiPolygon {
            coordinates: many.iter().map(rings).collect(),
        },
    }
}

/// A roughly circular polygon (n vertices) of radius_m around a centre, for fixtures and tests.
///
/// Vertices lie on the great-circle circle (so the polygon is inscribed, slightly
/// smaller between vertices), counter-clockwise. `vertices` is kept within
/// 3..=65,536. Longitudes stay continuous around the centre, so a circle across
/// the antimeridian has some beyond ±180 (fine for [`super::AreaIndex`], rejected by
/// [`area_to_multipolygon`]); a circle over a pole is not a lon/lat polygon at all.
/// Non-finite input or a radius that is not positive gives an empty multi-polygon.
pub fn circle_area(lat: f64, lon: f64, radius_m: f64, vertices: usize) -> MultiPolygon<f64> {
    let Some((lat, lon)) = normalise(lat, lon) else {
        return MultiPolygon::new(Vec::new());
    };
    if !radius_m.is_finite() || radius_m <= 0.0 {
        return MultiPolygon::new(Vec::new());
    }
    let n = vertices.clamp(3, MAX_CIRCLE_VERTICES);
    let delta = (radius_m / EARTH_RADIUS_M).min(std::f64::consts::PI);
    let (sin_d, cos_d) = delta.sin_cos();
    let (sin_lat, cos_lat) = lat.to_radians().sin_cos();
    let lon_rad = lon.to_radians();
    let ring: LineString<f64> = (0..n)
        .map(|i| {
            // Bearings decrease so the ring runs counter-clockwise in lon/lat.
            let bearing = -std::f64::consts::TAU * (i as f64) / (n as f64);
            let (sin_b, cos_b) = bearing.sin_cos();
            let sin_lat2 = (sin_lat * cos_d + cos_lat * sin_d * cos_b).clamp(-1.0, 1.0);
            let lon2 = lon_rad + (sin_b * sin_d * cos_lat).atan2(cos_d - sin_lat * sin_lat2);
            Coord {
                x: lon2.to_degrees(),
                y: sin_lat2.asin().to_degrees(),
            }
        })
        .collect();
    MultiPolygon::new(vec![Polygon::new(ring, Vec::new())])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spatial::{AreaIndex, great_circle_m};
    use geo::{Area, Contains};

    const AREA: &str = "$.providers[2].service_areas[0]";

    fn square_ring(lon: f64, lat: f64, half: f64) -> Vec<[f64; 2]> {
        vec![
            [lon - half, lat - half],
            [lon + half, lat - half],
            [lon + half, lat + half],
            [lon - half, lat + half],
            [lon - half, lat - half],
        ]
    }

    fn paths_and_codes(issues: &Issues) -> Vec<(String, IssueCode)> {
        issues.0.iter().map(|i| (i.path.clone(), i.code)).collect()
    }

    #[test]
    fn valid_polygon_with_hole_converts_and_round_trips() {
        let area = AreaGeometry::Polygon {
            coordinates: vec![square_ring(-3.5, 50.7, 0.1), square_ring(-3.5, 50.7, 0.05)],
        };
        let mut issues = Issues::default();
        let mp = area_to_multipolygon(&area, AREA, &mut issues).unwrap();
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(mp.0.len(), 1);
        assert_eq!(mp.0[0].interiors().len(), 1);
        assert!(mp.contains(&geo::Point::new(-3.5, 50.78)));
        assert!(!mp.contains(&geo::Point::new(-3.5, 50.7)));
        assert_eq!(multipolygon_to_area(&mp), area);

        let multi = AreaGeometry::MultiPolygon {
            coordinates: vec![
                vec![square_ring(-3.5, 50.7, 0.1)],
                vec![square_ring(-4.1, 50.4, 0.1)],
            ],
        };
        let mp = area_to_multipolygon(&multi, AREA, &mut issues).unwrap();
        assert!(issues.is_empty());
        assert_eq!(mp.0.len(), 2);
        assert_eq!(multipolygon_to_area(&mp), multi);
    }

    #[test]
    fn invalid_polygons_report_exact_paths() {
        let mut open = square_ring(-3.5, 50.7, 0.1);
        open.pop();
        let mut out_of_range = square_ring(-3.5, 50.7, 0.1);
        out_of_range[1] = [200.0, 50.0];
        out_of_range[2] = [-3.4, 91.0];
        let flat = vec![[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [0.0, 0.0]];
        let cases: Vec<(AreaGeometry, Vec<(String, IssueCode)>)> = vec![
            (
                AreaGeometry::Polygon {
                    coordinates: vec![],
                },
                vec![(format!("{AREA}.coordinates"), IssueCode::InvalidPolygon)],
            ),
            (
                AreaGeometry::Polygon {
                    coordinates: vec![vec![[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]]],
                },
                vec![(format!("{AREA}.coordinates[0]"), IssueCode::InvalidPolygon)],
            ),
            (
                AreaGeometry::Polygon {
                    coordinates: vec![square_ring(-3.5, 50.7, 0.1), open.clone()],
                },
                vec![(format!("{AREA}.coordinates[1]"), IssueCode::InvalidPolygon)],
            ),
            (
                AreaGeometry::Polygon {
                    coordinates: vec![out_of_range.clone()],
                },
                vec![(
                    format!("{AREA}.coordinates[0][1]"),
                    IssueCode::CoordinatesOutOfRange,
                )],
            ),
            (
                AreaGeometry::Polygon {
                    coordinates: vec![flat.clone()],
                },
                vec![(format!("{AREA}.coordinates[0]"), IssueCode::InvalidPolygon)],
            ),
            (
                AreaGeometry::Polygon {
                    coordinates: vec![vec![[f64::NAN, 0.0], [1.0, f64::INFINITY]]],
                },
                vec![
                    (
                        format!("{AREA}.coordinates[0][0]"),
                        IssueCode::CoordinatesOutOfRange,
                    ),
                    (format!("{AREA}.coordinates[0]"), IssueCode::InvalidPolygon),
                ],
            ),
            (
                AreaGeometry::MultiPolygon {
                    coordinates: vec![],
                },
                vec![(format!("{AREA}.coordinates"), IssueCode::InvalidPolygon)],
            ),
            (
                AreaGeometry::MultiPolygon {
                    coordinates: vec![
                        vec![square_ring(-3.5, 50.7, 0.1)],
                        vec![],
                        vec![square_ring(-3.5, 50.7, 0.1), out_of_range, open],
                        vec![vec![]],
                    ],
                },
                vec![
                    (format!("{AREA}.coordinates[1]"), IssueCode::InvalidPolygon),
                    (
                        format!("{AREA}.coordinates[2][1][1]"),
                        IssueCode::CoordinatesOutOfRange,
                    ),
                    (
                        format!("{AREA}.coordinates[2][2]"),
                        IssueCode::InvalidPolygon,
                    ),
                    (
                        format!("{AREA}.coordinates[3][0]"),
                        IssueCode::InvalidPolygon,
                    ),
                ],
            ),
        ];
        for (area, expected) in cases {
            let mut issues = Issues::default();
            let got = area_to_multipolygon(&area, AREA, &mut issues);
            assert!(got.is_none(), "{area:?} accepted");
            assert_eq!(paths_and_codes(&issues), expected, "{area:?}");
        }
        // Issues already present are kept and do not affect this area's verdict.
        let mut issues = Issues::default();
        issues.push("$.other", IssueCode::OutOfRange, "unrelated");
        let ok = AreaGeometry::Polygon {
            coordinates: vec![square_ring(-3.5, 50.7, 0.1)],
        };
        assert!(area_to_multipolygon(&ok, AREA, &mut issues).is_some());
        assert_eq!(issues.0.len(), 1);
    }

    #[test]
    fn out_of_range_message_counts_the_rest() {
        let ring = vec![[181.0, 0.0], [0.0, -91.0], [182.0, 1.0], [181.0, 0.0]];
        let mut issues = Issues::default();
        assert!(
            area_to_multipolygon(
                &AreaGeometry::Polygon {
                    coordinates: vec![ring]
                },
                "$.a",
                &mut issues
            )
            .is_none()
        );
        assert_eq!(issues.0.len(), 1);
        assert_eq!(issues.0[0].path, "$.a.coordinates[0][0]");
        assert!(
            issues.0[0].message.contains("3 more"),
            "{}",
            issues.0[0].message
        );
    }

    #[test]
    fn circle_area_contains_centre_not_beyond_radius() {
        for (lat, lon) in [(50.7, -3.5), (69.0, 20.0), (-33.9, 151.2), (0.0, 0.0)] {
            for radius in [300.0, 5_000.0, 40_000.0] {
                let area = circle_area(lat, lon, radius, 32);
                let index = AreaIndex::new([(7, area.clone())]);
                assert_eq!(
                    index.containing(lat, lon),
                    vec![7],
                    "centre of {radius} m circle at {lat}"
                );
                let polygon = &area.0[0];
                assert_eq!(polygon.exterior().0.len(), 33, "closed ring of 32 vertices");
                assert!(polygon.signed_area() > 0.0, "counter-clockwise");
                for c in polygon.exterior().coords() {
                    assert!(
                        (great_circle_m((lat, lon), (c.y, c.x)) - radius).abs() < 1e-6 * radius
                    );
                }
                for bearing_deg in (0..360).step_by(15) {
                    let b = f64::from(bearing_deg).to_radians();
                    // Step 1.2 radii out on the sphere (destination formula).
                    let d = 1.2 * radius / EARTH_RADIUS_M;
                    let (phi, lam) = (lat.to_radians(), lon.to_radians());
                    let phi2 = (phi.sin() * d.cos() + phi.cos() * d.sin() * b.cos()).asin();
                    let lam2 = lam
                        + (b.sin() * d.sin() * phi.cos()).atan2(d.cos() - phi.sin() * phi2.sin());
                    let (qlat, qlon) = (phi2.to_degrees(), lam2.to_degrees());
                    assert!(
                        index.containing(qlat, qlon).is_empty(),
                        "{radius} m circle at {lat} contains bearing {bearing_deg}"
                    );
                    // ...and 0.9 radii in is inside.
                    let d = 0.9 * radius / EARTH_RADIUS_M;
                    let phi2 = (phi.sin() * d.cos() + phi.cos() * d.sin() * b.cos()).asin();
                    let lam2 = lam
                        + (b.sin() * d.sin() * phi.cos()).atan2(d.cos() - phi.sin() * phi2.sin());
                    assert_eq!(
                        index.containing(phi2.to_degrees(), lam2.to_degrees()),
                        vec![7]
                    );
                }
            }
        }
    }

    #[test]
    fn circle_area_edge_cases_do_not_panic() {
        assert!(circle_area(f64::NAN, 0.0, 100.0, 16).0.is_empty());
        assert!(circle_area(0.0, 0.0, 0.0, 16).0.is_empty());
        assert!(circle_area(0.0, 0.0, -5.0, 16).0.is_empty());
        assert!(circle_area(0.0, 0.0, f64::INFINITY, 16).0.is_empty());
        assert_eq!(
            circle_area(50.7, -3.5, 100.0, 0).0[0].exterior().0.len(),
            4,
            "at least a triangle"
        );
        assert_eq!(
            circle_area(50.7, -3.5, 100.0, usize::MAX).0[0]
                .exterior()
                .0
                .len(),
            MAX_CIRCLE_VERTICES + 1
        );
        let _ = circle_area(90.0, 0.0, 1_000.0, 8);
        let _ = circle_area(-89.99, 0.0, 5_000.0, 8);
        let _ = circle_area(10.0, 10.0, 1e9, 8);
        // Across the antimeridian: continuous longitudes, found from either side.
        let fiji = circle_area(-17.0, 179.99, 5_000.0, 24);
        assert!(fiji.0[0].exterior().coords().any(|c| c.x > 180.0));
        let index = AreaIndex::new([(1, fiji.clone())]);
        assert_eq!(index.containing(-17.0, -179.99), vec![1]);
        let mut issues = Issues::default();
        assert!(area_to_multipolygon(&multipolygon_to_area(&fiji), "$.f", &mut issues).is_none());
        assert_eq!(issues.0[0].code, IssueCode::CoordinatesOutOfRange);
    }
}
