//! Travel times and distances between locations.
//!
//! Three models sit behind one trait, chosen by the request's `travel` object:
//! [`HaversineModel`] (straight line times circuity, the default),
//! [`MatrixModel`] (a caller-supplied matrix, e.g. from OSRM) and
//! [`RoadNetworkModel`] (shortest paths over a road graph given in the request).
//! Solvers never see which one is used: they ask for a [`TravelMatrix`] once
//! per mode and look legs up in it.
//!
//! Minutes are whole minutes rounded **up**, so a rota that is feasible with
//! these numbers does not become late because of rounding.

mod geojson;
mod haversine;
mod matrix;
mod road;
mod synthetic;

pub use geojson::{road_network_from_geojson, road_network_to_geojson};
pub use haversine::HaversineModel;
pub use matrix::MatrixModel;
pub use road::RoadNetworkModel;
pub use synthetic::synthetic_town_network;

use crate::format::{Issues, Location, TravelMode, TravelSpec};
use geo::{Distance, Haversine, Point};
use rayon::prelude::*;
use std::sync::Arc;

/// Longest leg any model reports, minutes (about 694 days).
///
/// Degenerate but valid inputs (a walk around the globe, a tiny speed) are
/// clamped here so that summing a route's legs cannot overflow `u32`.
pub const MAX_LEG_MINUTES: u32 = 1_000_000;

/// Two locations closer than this (metres) are the same place: a zero leg.
///
/// Below half a metre the rounded distance is 0 anyway, and charging a
/// parking or waiting time for it would be absurd.
pub const SAME_PLACE_M: f64 = 0.5;

/// One trip between two locations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Leg {
    /// Door-to-door time including any parking or waiting, whole minutes rounded up.
    pub minutes: u32,
    /// Distance travelled, metres rounded to the nearest metre (0 when unknown).
    pub metres: u32,
}

/// A source of travel times. Implementations are cheap to share between threads.
pub trait TravelModel: Send + Sync + std::fmt::Debug {
    /// Short stable name of the model (`"haversine"`, `"matrix"`, `"road_network"`).
    fn name(&self) -> &'static str;

    /// Travel between two validated locations for a mode. Same location => `Leg::default()`.
    ///
    /// Never panics: unusable input (no matrix index, an unreachable node,
    /// non-finite coordinates) falls back to a straight-line estimate.
    fn leg(&self, from: &Location, to: &Location, mode: TravelMode) -> Leg;

    /// Full matrix over `locations` (row = from).
    ///
    /// The default calls [`TravelModel::leg`] for every pair (rows in
    /// parallel from [`PARALLEL_MATRIX_MIN`] locations on); models with shared work per source (shortest-path trees) override it.
    fn matrix(&self, locations: &[Location], mode: TravelMode) -> TravelMatrix {
        if locations.len() < PARALLEL_MATRIX_MIN {
            return TravelMatrix::from_fn(locations.len(), |i, j| {
                self.leg(&locations[i], &locations[j], mode)
            });
        }
        let rows: Vec<Vec<Leg>> = locations
            .par_iter()
            .map(|from| {
                locations
                    .iter()
                    .map(|to| self.leg(from, to, mode))
                    .collect()
            })
            .collect();
        TravelMatrix::from_rows(rows)
    }
}

/// Matrices over fewer locations than this are built on the calling thread.
/// A team's matrix (a few dozen homes, rebuilt for every fit check) takes well
/// under a millisecond; handing its rows to the thread pool cost more than it
/// saved, and from a request's own thread it woke the pool's workers and kept
/// the cores busy that concurrent requests needed.
pub(crate) const PARALLEL_MATRIX_MIN: usize = 256;

/// A dense square travel matrix, row-major, indexed like the locations it was built from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TravelMatrix {
    n: usize,
    minutes: Vec<u32>,
    metres: Vec<u32>,
}

impl TravelMatrix {
    /// Builds an `n` x `n` matrix from a function of (from, to).
    pub fn from_fn(n: usize, mut leg: impl FnMut(usize, usize) -> Leg) -> Self {
        let mut minutes = Vec::with_capacity(n.saturating_mul(n));
        let mut metres = Vec::with_capacity(n.saturating_mul(n));
        for i in 0..n {
            for j in 0..n {
                let l = leg(i, j);
                minutes.push(l.minutes);
                metres.push(l.metres);
            }
        }
        Self { n, minutes, metres }
    }

    /// Builds a matrix from rows; a short row is padded with zero legs so the result is square.
    fn from_rows(rows: Vec<Vec<Leg>>) -> Self {
        let n = rows.len();
        Self::from_fn(n, |i, j| {
            rows.get(i)
                .and_then(|r| r.get(j))
                .copied()
                .unwrap_or_default()
        })
    }

    /// Number of locations (rows).
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether the matrix covers no location.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    fn index(&self, from: usize, to: usize) -> Option<usize> {
        (from < self.n && to < self.n).then(|| from * self.n + to)
    }

    /// The leg from `from` to `to`, or `None` when an index is out of range.
    pub fn try_get(&self, from: usize, to: usize) -> Option<Leg> {
        let k = self.index(from, to)?;
        Some(Leg {
            minutes: *self.minutes.get(k)?,
            metres: *self.metres.get(k)?,
        })
    }

    /// The leg from `from` to `to`; out-of-range indices give `Leg::default()`
    /// rather than a panic (callers index with validated dense ids).
    pub fn get(&self, from: usize, to: usize) -> Leg {
        self.try_get(from, to).unwrap_or_default()
    }

    /// Travel minutes from `from` to `to` (0 when out of range). The solvers' hot path.
    pub fn minutes(&self, from: usize, to: usize) -> u32 {
        self.index(from, to)
            .and_then(|k| self.minutes.get(k))
            .copied()
            .unwrap_or(0)
    }

    /// Travel metres from `from` to `to` (0 when out of range).
    pub fn metres(&self, from: usize, to: usize) -> u32 {
        self.index(from, to)
            .and_then(|k| self.metres.get(k))
            .copied()
            .unwrap_or(0)
    }
}

/// Validates the spec (pushing issues with JSON paths under `$.travel`) and builds the model.
///
/// Returns `None` exactly when this spec produced at least one issue.
pub fn build_travel_model(spec: &TravelSpec, issues: &mut Issues) -> Option<Arc<dyn TravelModel>> {
    match spec {
        TravelSpec::Haversine(s) => {
            HaversineModel::build(s, issues).map(|m| Arc::new(m) as Arc<dyn TravelModel>)
        }
        TravelSpec::Matrix(s) => {
            MatrixModel::build(s, issues).map(|m| Arc::new(m) as Arc<dyn TravelModel>)
        }
        TravelSpec::RoadNetwork(s) => {
            RoadNetworkModel::build(s, issues).map(|m| Arc::new(m) as Arc<dyn TravelModel>)
        }
    }
}

/// Great-circle distance in metres (mean Earth radius 6 371 008.8 m).
pub fn haversine_m(a: &Location, b: &Location) -> f64 {
    Haversine.distance(Point::new(a.lon, a.lat), Point::new(b.lon, b.lat))
}

/// The cosine of a location's latitude, as [`haversine_m_cos`] takes it.
pub(crate) fn cos_lat(a: &Location) -> f64 {
    a.lat.to_radians().cos()
}

/// [`haversine_m`] given each end's [`cos_lat`]: the same arithmetic in the
/// same order (bit for bit), for matrices, where each location's cosine is
/// worked out once instead of once per pair.
pub(crate) fn haversine_m_cos(a: &Location, cos_a: f64, b: &Location, cos_b: f64) -> f64 {
    let two = 2.0_f64;
    let delta_theta = (b.lat - a.lat).to_radians();
    let delta_lambda = (b.lon - a.lon).to_radians();
    let h = (delta_theta / two).sin().powi(2) + cos_a * cos_b * (delta_lambda / two).sin().powi(2);
    Haversine.radius() * (two * h.sqrt().asin())
}

/// Whether a latitude/longitude pair is finite and on the globe.
pub(crate) fn coords_ok(lat: f64, lon: f64) -> bool {
    lat.is_finite()
        && lon.is_finite()
        && (-90.0..=90.0).contains(&lat)
        && (-180.0..=180.0).contains(&lon)
}

/// Converts fractional minutes to whole minutes, rounding up.
///
/// A 1e-9 slack keeps exact values (2.0 computed as 2.0000000000004) from
/// gaining a minute through floating-point noise. Non-finite or negative
/// input (only from invalid data) gives 0 or the cap instead of a panic.
pub(crate) fn ceil_minutes(minutes: f64) -> u32 {
    if minutes.is_nan() || minutes <= 0.0 {
        return 0;
    }
    let c = (minutes - 1e-9).ceil().max(0.0);
    if c >= f64::from(MAX_LEG_MINUTES) {
        MAX_LEG_MINUTES
    } else {
        c as u32
    }
}

/// Rounds metres to the nearest whole metre, saturating instead of overflowing.
pub(crate) fn round_metres(metres: f64) -> u32 {
    if metres.is_nan() || metres <= 0.0 {
        return 0;
    }
    // `as` saturates at u32::MAX for huge values.
    metres.round() as u32
}

/// Metres per minute at a speed in km/h.
pub(crate) fn metres_per_min(kmh: f64) -> f64 {
    kmh * 1000.0 / 60.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{HaversineSpec, IssueCode, MatrixSpec};

    fn loc(lat: f64, lon: f64) -> Location {
        Location {
            lat,
            lon,
            matrix_index: None,
        }
    }

    #[test]
    fn exeter_to_plymouth_straight_line() {
        let d = haversine_m(&loc(50.7184, -3.5339), &loc(50.3755, -4.1427));
        // 57.48 km: independent spherical haversine with R = 6 371 008.8 m gives 57 482.3 m.
        // (The often-quoted "~57.9 km" is about 0.4 km high for these coordinates.)
        assert!((d - 57_482.3).abs() < 1.0, "got {d}");
    }

    #[test]
    fn ceil_minutes_rounds_up_but_not_noise() {
        assert_eq!(ceil_minutes(0.0), 0);
        assert_eq!(ceil_minutes(0.001), 1);
        assert_eq!(ceil_minutes(2.0), 2);
        assert_eq!(ceil_minutes(2.0 + 1e-12), 2);
        assert_eq!(ceil_minutes(2.01), 3);
        assert_eq!(ceil_minutes(f64::NAN), 0);
        assert_eq!(ceil_minutes(f64::INFINITY), MAX_LEG_MINUTES);
        assert_eq!(round_metres(2.5), 3);
        assert_eq!(round_metres(f64::INFINITY), u32::MAX);
    }

    #[test]
    fn travel_matrix_accessors() {
        let m = TravelMatrix::from_fn(3, |i, j| Leg {
            minutes: (i * 10 + j) as u32,
            metres: 7,
        });
        assert_eq!(m.len(), 3);
        assert!(!m.is_empty());
        assert_eq!(m.minutes(2, 1), 21);
        assert_eq!(
            m.get(1, 2),
            Leg {
                minutes: 12,
                metres: 7
            }
        );
        assert_eq!(m.metres(0, 0), 7);
        assert_eq!(m.try_get(3, 0), None);
        assert_eq!(m.get(0, 3), Leg::default());
        assert!(TravelMatrix::default().is_empty());
    }

    #[test]
    fn default_matrix_equals_pairwise_legs() {
        let model = HaversineModel::default();
        let pts: Vec<Location> = (0..7)
            .map(|i| loc(50.7 + 0.01 * f64::from(i), -3.5 - 0.013 * f64::from(i)))
            .collect();
        let m = model.matrix(&pts, TravelMode::Drive);
        assert_eq!(m.len(), pts.len());
        for (i, a) in pts.iter().enumerate() {
            for (j, b) in pts.iter().enumerate() {
                assert_eq!(m.get(i, j), model.leg(a, b, TravelMode::Drive));
            }
        }
    }

    #[test]
    fn build_dispatches_and_reports() {
        let mut issues = Issues::default();
        let m = build_travel_model(&TravelSpec::default(), &mut issues).unwrap();
        assert_eq!(m.name(), "haversine");
        assert!(issues.is_empty());

        let bad = TravelSpec::Matrix(MatrixSpec {
            minutes: vec![],
            metres: None,
        });
        assert!(build_travel_model(&bad, &mut issues).is_none());
        assert_eq!(issues.0.len(), 1);
        assert_eq!(issues.0[0].code, IssueCode::InvalidMatrix);

        let mut issues = Issues::default();
        let bad = TravelSpec::Haversine(HaversineSpec {
            walk_kmh: -1.0,
            ..Default::default()
        });
        assert!(build_travel_model(&bad, &mut issues).is_none());
        assert_eq!(issues.0[0].path, "$.travel.walk_kmh");
    }
}
