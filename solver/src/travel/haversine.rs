//! Straight-line travel model: great-circle distance times a circuity factor.
//!
//! Good enough for planning when no road data is available: UK road distance
//! is about 1.3 x straight line, and town driving is roughly half as fast as
//! rural driving once junctions and parking are counted.

use super::{
    Leg, PARALLEL_MATRIX_MIN, SAME_PLACE_M, TravelMatrix, TravelModel, ceil_minutes, coords_ok,
    cos_lat, haversine_m, haversine_m_cos, metres_per_min, round_metres,
};
use crate::format::{HaversineSpec, IssueCode, Issues, Location, TravelMode};

/// Great-circle distance x circuity at mode- and area-dependent speeds.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HaversineModel {
    spec: HaversineSpec,
}

impl HaversineModel {
    /// Validates `spec` (issues under `$.travel`) and builds the model; `None` if any issue.
    pub fn build(spec: &HaversineSpec, issues: &mut Issues) -> Option<Self> {
        let before = issues.0.len();
        let mut positive = |path: &str, v: f64, min_ok: f64, inclusive: bool| {
            let ok = v.is_finite() && if inclusive { v >= min_ok } else { v > min_ok };
            if !ok {
                let bound = if inclusive { ">=" } else { ">" };
                issues.push(
                    format!("$.travel.{path}"),
                    IssueCode::OutOfRange,
                    format!("{path} must be a finite number {bound} {min_ok}, got {v}"),
                );
            }
        };
        positive("drive_circuity", spec.drive_circuity, 1.0, true);
        positive("path_circuity", spec.path_circuity, 1.0, true);
        positive("urban_drive_kmh", spec.urban_drive_kmh, 0.0, false);
        positive("rural_drive_kmh", spec.rural_drive_kmh, 0.0, false);
        positive("walk_kmh", spec.walk_kmh, 0.0, false);
        positive("cycle_kmh", spec.cycle_kmh, 0.0, false);
        positive("transit_kmh", spec.transit_kmh, 0.0, false);
        positive(
            "urban_leg_threshold_m",
            spec.urban_leg_threshold_m,
            0.0,
            true,
        );
        for (i, area) in spec.urban_areas.iter().enumerate() {
            let base = format!("$.travel.urban_areas[{i}]");
            if !(area.radius_m.is_finite() && area.radius_m >= 0.0) {
                issues.push(
                    format!("{base}.radius_m"),
                    IssueCode::OutOfRange,
                    format!(
                        "radius_m must be a finite number >= 0, got {}",
                        area.radius_m
                    ),
                );
            }
            push_coord_issues(
                issues,
                &format!("{base}.centre"),
                area.centre.lat,
                area.centre.lon,
            );
        }
        (issues.0.len() == before).then(|| Self { spec: spec.clone() })
    }

    /// Builds the model without validation; for trusted specs (defaults, fallbacks).
    pub(crate) fn from_spec_unchecked(spec: HaversineSpec) -> Self {
        Self { spec }
    }

    /// The parameters in use.
    pub fn spec(&self) -> &HaversineSpec {
        &self.spec
    }

    /// Whether a driving leg counts as urban (slower, town speed).
    fn is_urban(&self, from: &Location, to: &Location, straight_m: f64) -> bool {
        if self.spec.urban_areas.is_empty() {
            return straight_m < self.spec.urban_leg_threshold_m;
        }
        self.spec.urban_areas.iter().any(|a| {
            haversine_m(&a.centre, from) <= a.radius_m && haversine_m(&a.centre, to) <= a.radius_m
        })
    }
}

impl TravelModel for HaversineModel {
    fn name(&self) -> &'static str {
        "haversine"
    }

    fn leg(&self, from: &Location, to: &Location, mode: TravelMode) -> Leg {
        self.leg_given(haversine_m(from, to), mode, |straight| {
            self.is_urban(from, to, straight)
        })
    }

    /// Which urban areas hold each location, and the cosine of its latitude,
    /// are worked out once per location, not once per pair: a team's matrix is
    /// rebuilt for every fit check.
    fn matrix(&self, locations: &[Location], mode: TravelMode) -> TravelMatrix {
        use rayon::prelude::*;
        let inside: Vec<Vec<usize>> = locations
            .iter()
            .map(|l| {
                (self.spec.urban_areas.iter().enumerate())
                    .filter(|(_, a)| haversine_m(&a.centre, l) <= a.radius_m)
                    .map(|(i, _)| i)
                    .collect()
            })
            .collect();
        let cos: Vec<f64> = locations.iter().map(cos_lat).collect();
        let leg = |i: usize, j: usize| {
            let straight = haversine_m_cos(&locations[i], cos[i], &locations[j], cos[j]);
            self.leg_given(straight, mode, |straight| {
                if self.spec.urban_areas.is_empty() {
                    straight < self.spec.urban_leg_threshold_m
                } else {
                    inside[i].iter().any(|a| inside[j].contains(a))
                }
            })
        };
        let n = locations.len();
        if n < PARALLEL_MATRIX_MIN {
            return TravelMatrix::from_fn(n, leg);
        }
        let rows: Vec<Vec<Leg>> = (0..n)
            .into_par_iter()
            .map(|i| (0..n).map(|j| leg(i, j)).collect())
            .collect();
        TravelMatrix::from_rows(rows)
    }
}

impl HaversineModel {
    /// The leg over a great-circle distance of `straight` metres.
    fn leg_given(&self, straight: f64, mode: TravelMode, urban: impl FnOnce(f64) -> bool) -> Leg {
        // NaN (invalid coordinates) also lands here: no panic, no garbage.
        if straight.is_nan() || straight < SAME_PLACE_M {
            return Leg::default();
        }
        let s = &self.spec;
        let (circuity, kmh, extra) = match mode {
            TravelMode::Drive => {
                let kmh = if urban(straight) {
                    s.urban_drive_kmh
                } else {
                    s.rural_drive_kmh
                };
                (s.drive_circuity, kmh, s.parking_min)
            }
            TravelMode::Walk => (s.path_circuity, s.walk_kmh, 0),
            TravelMode::Cycle => (s.path_circuity, s.cycle_kmh, 0),
            TravelMode::PublicTransport => (s.path_circuity, s.transit_kmh, s.transit_wait_min),
        };
        let metres = straight * circuity;
        Leg {
            minutes: ceil_minutes(metres / metres_per_min(kmh))
                .saturating_add(extra)
                .min(super::MAX_LEG_MINUTES),
            metres: round_metres(metres),
        }
    }
}

/// Pushes `coordinates_out_of_range` issues for `{base}.lat` / `{base}.lon`.
pub(crate) fn push_coord_issues(issues: &mut Issues, base: &str, lat: f64, lon: f64) {
    if coords_ok(lat, lon) {
        return;
    }
    if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
        issues.push(
            format!("{base}.lat"),
            IssueCode::CoordinatesOutOfRange,
            format!("latitude must be within -90..=90, got {lat}"),
        );
    }
    if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
        issues.push(
            format!("{base}.lon"),
            IssueCode::CoordinatesOutOfRange,
            format!("longitude must be within -180..=180, got {lon}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::UrbanArea;

    fn loc(lat: f64, lon: f64) -> Location {
        Location {
            lat,
            lon,
            matrix_index: None,
        }
    }

    const EXETER: (f64, f64) = (50.7184, -3.5339);
    const PLYMOUTH: (f64, f64) = (50.3755, -4.1427);

    #[test]
    fn exeter_plymouth_drive_leg_is_rural_with_circuity_and_parking() {
        let m = HaversineModel::default();
        let (a, b) = (loc(EXETER.0, EXETER.1), loc(PLYMOUTH.0, PLYMOUTH.1));
        let d = haversine_m(&a, &b);
        assert!((d - 57_482.3).abs() < 1.0, "straight line {d}");
        let leg = m.leg(&a, &b, TravelMode::Drive);
        assert_eq!(leg.metres, (d * 1.3).round() as u32);
        // 74.7 km at 48 km/h = 93.4 min -> 94, plus 2 parking.
        assert_eq!(leg.minutes, (d * 1.3 / 800.0).ceil() as u32 + 2);
        assert_eq!(
            leg,
            Leg {
                minutes: 96,
                metres: 74_727
            }
        );
    }

    #[test]
    fn same_location_is_zero() {
        let m = HaversineModel::default();
        let a = loc(50.0, -3.0);
        for mode in [
            TravelMode::Drive,
            TravelMode::Walk,
            TravelMode::PublicTransport,
        ] {
            assert_eq!(m.leg(&a, &a, mode), Leg::default());
        }
        let nan = loc(f64::NAN, 0.0);
        assert_eq!(m.leg(&nan, &a, TravelMode::Drive), Leg::default());
    }

    #[test]
    fn matrix_equals_pairwise_legs_with_urban_areas() {
        // The matrix precomputes which towns hold each location; it must agree
        // with the pair-by-pair definition in every mode, towns or no towns.
        let town = |lat: f64, lon: f64, r: f64| UrbanArea {
            name: None,
            centre: loc(lat, lon),
            radius_m: r,
        };
        let with_towns = HaversineModel::from_spec_unchecked(HaversineSpec {
            urban_areas: vec![town(50.72, -3.53, 4_000.0), town(50.37, -4.14, 6_000.0)],
            ..HaversineSpec::default()
        });
        let locs: Vec<Location> = (0..30)
            .map(|i| {
                let f = f64::from(i);
                loc(50.35 + 0.013 * f, -4.16 + 0.022 * f)
            })
            .chain([loc(50.72, -3.531), loc(50.371, -4.141), loc(f64::NAN, 0.0)])
            .collect();
        for m in [HaversineModel::default(), with_towns] {
            for mode in [
                TravelMode::Drive,
                TravelMode::Walk,
                TravelMode::PublicTransport,
            ] {
                let tm = m.matrix(&locs, mode);
                for (i, a) in locs.iter().enumerate() {
                    for (j, b) in locs.iter().enumerate() {
                        assert_eq!(tm.get(i, j), m.leg(a, b, mode), "{i}->{j} {mode:?}");
                    }
                }
            }
        }
    }

    /// Large matrices are built in parallel rows, small ones on the calling
    /// thread: the same legs either way.
    #[test]
    fn large_matrix_in_parallel_rows_equals_pairwise_legs() {
        let m = HaversineModel::default();
        let n = PARALLEL_MATRIX_MIN + 7;
        let locs: Vec<Location> = (0..n)
            .map(|i| {
                let f = i as f64;
                loc(50.3 + 0.0017 * f, -4.2 + 0.0031 * (f * 7.0 % 97.0))
            })
            .collect();
        let tm = m.matrix(&locs, TravelMode::Drive);
        assert_eq!(tm.len(), n);
        for i in (0..n).step_by(5) {
            for j in 0..n {
                assert_eq!(tm.get(i, j), m.leg(&locs[i], &locs[j], TravelMode::Drive));
            }
        }
    }

    /// Matrices use the distance with each end's latitude cosine worked out
    /// once; it must be bit for bit the library's distance, so matrices and
    /// single legs never disagree by a minute.
    #[test]
    fn distance_with_precomputed_cosines_is_bit_identical() {
        let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut unit = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut pts: Vec<Location> = (0..400)
            .map(|i| {
                if i % 2 == 0 {
                    // A county: legs of metres to tens of kilometres.
                    loc(50.2 + 0.8 * unit(), -4.5 + 1.5 * unit())
                } else {
                    loc(-90.0 + 180.0 * unit(), -180.0 + 360.0 * unit())
                }
            })
            .collect();
        pts.extend([loc(90.0, 0.0), loc(-90.0, 180.0), loc(0.0, -180.0)]);
        for a in &pts {
            for b in pts.iter().step_by(7) {
                let fast = haversine_m_cos(a, cos_lat(a), b, cos_lat(b));
                assert_eq!(fast.to_bits(), haversine_m(a, b).to_bits(), "{a:?} {b:?}");
                let back = haversine_m_cos(b, cos_lat(b), a, cos_lat(a));
                assert_eq!(back.to_bits(), haversine_m(b, a).to_bits(), "{b:?} {a:?}");
            }
        }
    }

    #[test]
    fn urban_vs_rural_by_threshold() {
        let m = HaversineModel::default();
        // ~2 km north: urban (24 km/h = 400 m/min).
        let a = loc(50.70, -3.50);
        let b = loc(50.70 + 2000.0 / 111_195.0, -3.50);
        let d = haversine_m(&a, &b);
        assert!(d < 3000.0);
        let leg = m.leg(&a, &b, TravelMode::Drive);
        assert_eq!(leg.minutes, (d * 1.3 / 400.0).ceil() as u32 + 2);
        // ~5 km: rural (48 km/h = 800 m/min).
        let c = loc(50.70 + 5000.0 / 111_195.0, -3.50);
        let d = haversine_m(&a, &c);
        let leg = m.leg(&a, &c, TravelMode::Drive);
        assert_eq!(leg.minutes, (d * 1.3 / 800.0).ceil() as u32 + 2);
    }

    #[test]
    fn urban_areas_replace_the_threshold() {
        let centre = loc(50.70, -3.50);
        let spec = HaversineSpec {
            urban_areas: vec![UrbanArea {
                name: Some("Town".into()),
                centre,
                radius_m: 4000.0,
            }],
            ..Default::default()
        };
        let m = HaversineModel::build(&spec, &mut Issues::default()).unwrap();
        let north = loc(50.70 + 3500.0 / 111_195.0, -3.50);
        let south = loc(50.70 - 3500.0 / 111_195.0, -3.50);
        // 7 km but both ends in town: urban.
        let d = haversine_m(&north, &south);
        assert_eq!(
            m.leg(&north, &south, TravelMode::Drive).minutes,
            (d * 1.3 / 400.0).ceil() as u32 + 2
        );
        // 1 km but one end outside the town: rural, the threshold no longer applies.
        let out1 = loc(50.70 + 4500.0 / 111_195.0, -3.50);
        let out2 = loc(50.70 + 5500.0 / 111_195.0, -3.50);
        let d = haversine_m(&out1, &out2);
        assert_eq!(
            m.leg(&out1, &out2, TravelMode::Drive).minutes,
            (d * 1.3 / 800.0).ceil() as u32 + 2
        );
    }

    #[test]
    fn other_modes_use_path_circuity_and_waits() {
        let m = HaversineModel::default();
        let a = loc(50.70, -3.50);
        let b = loc(50.70 + 1000.0 / 111_195.0, -3.50);
        let d = haversine_m(&a, &b);
        let walk = m.leg(&a, &b, TravelMode::Walk);
        assert_eq!(
            walk,
            Leg {
                minutes: (d * 1.2 / 75.0).ceil() as u32,
                metres: (d * 1.2).round() as u32
            }
        );
        let cycle = m.leg(&a, &b, TravelMode::Cycle);
        assert_eq!(cycle.minutes, (d * 1.2 / (14_000.0 / 60.0)).ceil() as u32);
        let bus = m.leg(&a, &b, TravelMode::PublicTransport);
        assert_eq!(bus.minutes, (d * 1.2 / 300.0).ceil() as u32 + 10);
    }

    #[test]
    fn minutes_are_rounded_up() {
        // 10 m straight, walking: 12 m path at 75 m/min = 0.16 min -> 1.
        let m = HaversineModel::default();
        let a = loc(50.70, -3.50);
        let b = loc(50.70 + 10.0 / 111_195.0, -3.50);
        assert_eq!(
            m.leg(&a, &b, TravelMode::Walk),
            Leg {
                minutes: 1,
                metres: 12
            }
        );
        // Exactly 3 minutes of walking (circuity 1, 225 m at 75 m/min) stays 3 despite float noise;
        // 226 m becomes 4.
        let spec = HaversineSpec {
            path_circuity: 1.0,
            ..Default::default()
        };
        let m = HaversineModel::build(&spec, &mut Issues::default()).unwrap();
        let north = |metres: f64| loc(50.70 + (metres / 6_371_008.8).to_degrees(), -3.50);
        assert!((haversine_m(&a, &north(225.0)) - 225.0).abs() < 1e-6);
        assert_eq!(
            m.leg(&a, &north(225.0), TravelMode::Walk),
            Leg {
                minutes: 3,
                metres: 225
            }
        );
        assert_eq!(
            m.leg(&a, &north(226.0), TravelMode::Walk),
            Leg {
                minutes: 4,
                metres: 226
            }
        );
    }

    #[test]
    fn validation_reports_exact_paths() {
        let spec = HaversineSpec {
            drive_circuity: 0.9,
            walk_kmh: f64::NAN,
            rural_drive_kmh: 0.0,
            urban_areas: vec![
                UrbanArea {
                    name: None,
                    centre: loc(50.0, -3.0),
                    radius_m: -1.0,
                },
                UrbanArea {
                    name: None,
                    centre: loc(91.0, -3.0),
                    radius_m: 10.0,
                },
            ],
            ..Default::default()
        };
        let mut issues = Issues::default();
        assert!(HaversineModel::build(&spec, &mut issues).is_none());
        let got: Vec<(&str, IssueCode)> =
            issues.0.iter().map(|i| (i.path.as_str(), i.code)).collect();
        assert_eq!(
            got,
            vec![
                ("$.travel.drive_circuity", IssueCode::OutOfRange),
                ("$.travel.rural_drive_kmh", IssueCode::OutOfRange),
                ("$.travel.walk_kmh", IssueCode::OutOfRange),
                ("$.travel.urban_areas[0].radius_m", IssueCode::OutOfRange),
                (
                    "$.travel.urban_areas[1].centre.lat",
                    IssueCode::CoordinatesOutOfRange
                ),
            ]
        );
    }
}
