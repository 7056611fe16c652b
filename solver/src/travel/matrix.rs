//! Caller-supplied travel matrix (e.g. exported from OSRM or a routing API).

use super::{HaversineModel, Leg, TravelModel};
use crate::format::{IssueCode, Issues, Location, MatrixSpec, TravelMode};

/// Looks legs up by `matrix_index`; the same matrix serves every travel mode.
///
/// A location without a usable index (the request validator reports those)
/// gets the default haversine estimate instead of a panic.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixModel {
    n: usize,
    minutes: Vec<u32>,
    metres: Option<Vec<u32>>,
    fallback: HaversineModel,
}

impl MatrixModel {
    /// Validates `spec` (issues under `$.travel`) and builds the model; `None` if any issue.
    pub fn build(spec: &MatrixSpec, issues: &mut Issues) -> Option<Self> {
        let before = issues.0.len();
        let n = spec.minutes.len();
        if n == 0 {
            issues.push(
                "$.travel.minutes",
                IssueCode::InvalidMatrix,
                "the travel matrix is empty",
            );
        }
        check_square(&spec.minutes, n, "minutes", issues);
        if let Some(metres) = &spec.metres {
            if metres.len() != n {
                issues.push(
                    "$.travel.metres",
                    IssueCode::InvalidMatrix,
                    format!("metres has {} rows but minutes has {n}", metres.len()),
                );
            }
            check_square(metres, n, "metres", issues);
        }
        if issues.0.len() != before {
            return None;
        }
        Some(Self {
            n,
            minutes: spec.minutes.concat(),
            metres: spec.metres.as_ref().map(|m| m.concat()),
            fallback: HaversineModel::default(),
        })
    }

    /// Number of rows (and columns) of the matrix.
    pub fn size(&self) -> usize {
        self.n
    }

    fn lookup(&self, from: u32, to: u32) -> Option<Leg> {
        let (i, j) = (usize::try_from(from).ok()?, usize::try_from(to).ok()?);
        if i >= self.n || j >= self.n {
            return None;
        }
        let k = i * self.n + j;
        let minutes = *self.minutes.get(k)?;
        let metres = match &self.metres {
            Some(m) => *m.get(k)?,
            None => 0,
        };
        Some(Leg { minutes, metres })
    }
}

/// Pushes an issue for every row of `rows` whose length is not `n`.
fn check_square(rows: &[Vec<u32>], n: usize, field: &str, issues: &mut Issues) {
    for (i, row) in rows.iter().enumerate() {
        if row.len() != n {
            issues.push(
                format!("$.travel.{field}[{i}]"),
                IssueCode::InvalidMatrix,
                format!(
                    "row {i} has {} entries; the matrix must be {n} x {n}",
                    row.len()
                ),
            );
        }
    }
}

impl TravelModel for MatrixModel {
    fn name(&self) -> &'static str {
        "matrix"
    }

    fn leg(&self, from: &Location, to: &Location, mode: TravelMode) -> Leg {
        match (from.matrix_index, to.matrix_index) {
            // One index means one place, whatever the diagonal says.
            (Some(i), Some(j)) if i == j && (i as usize) < self.n => Leg::default(),
            (Some(i), Some(j)) => match self.lookup(i, j) {
                Some(leg) => leg,
                None => self.fallback.leg(from, to, mode),
            },
            _ => self.fallback.leg(from, to, mode),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(i: Option<u32>, lat: f64) -> Location {
        Location {
            lat,
            lon: -3.5,
            matrix_index: i,
        }
    }

    fn spec3(metres: bool) -> MatrixSpec {
        MatrixSpec {
            minutes: vec![vec![0, 5, 9], vec![6, 0, 4], vec![10, 3, 0]],
            metres: metres.then(|| {
                vec![
                    vec![0, 2000, 4000],
                    vec![2100, 0, 1500],
                    vec![4100, 1400, 0],
                ]
            }),
        }
    }

    #[test]
    fn looks_up_minutes_and_metres_for_every_mode() {
        let m = MatrixModel::build(&spec3(true), &mut Issues::default()).unwrap();
        assert_eq!(m.size(), 3);
        assert_eq!(m.name(), "matrix");
        let (a, c) = (at(Some(0), 50.0), at(Some(2), 50.1));
        for mode in [
            TravelMode::Drive,
            TravelMode::Walk,
            TravelMode::PublicTransport,
        ] {
            assert_eq!(
                m.leg(&a, &c, mode),
                Leg {
                    minutes: 9,
                    metres: 4000
                }
            );
            assert_eq!(
                m.leg(&c, &a, mode),
                Leg {
                    minutes: 10,
                    metres: 4100
                }
            );
        }
        assert_eq!(
            m.leg(&a, &at(Some(0), 50.0), TravelMode::Drive),
            Leg::default()
        );
        let no_metres = MatrixModel::build(&spec3(false), &mut Issues::default()).unwrap();
        assert_eq!(
            no_metres.leg(&c, &at(Some(1), 50.2), TravelMode::Drive),
            Leg {
                minutes: 3,
                metres: 0
            }
        );
    }

    #[test]
    fn missing_or_out_of_range_index_falls_back_to_haversine() {
        let m = MatrixModel::build(&spec3(true), &mut Issues::default()).unwrap();
        let hav = HaversineModel::default();
        let a = at(Some(0), 50.0);
        for other in [at(None, 50.1), at(Some(3), 50.1), at(Some(u32::MAX), 50.1)] {
            let expected = hav.leg(&a, &other, TravelMode::Drive);
            assert_ne!(expected, Leg::default());
            assert_eq!(m.leg(&a, &other, TravelMode::Drive), expected);
            assert_eq!(
                m.leg(&other, &a, TravelMode::Drive),
                hav.leg(&other, &a, TravelMode::Drive)
            );
        }
        // Two equal out-of-range indices are not trusted either.
        let (x, y) = (at(Some(7), 50.0), at(Some(7), 50.2));
        assert_eq!(
            m.leg(&x, &y, TravelMode::Walk),
            hav.leg(&x, &y, TravelMode::Walk)
        );
    }

    #[test]
    fn matrix_over_locations_uses_indices() {
        let m = MatrixModel::build(&spec3(true), &mut Issues::default()).unwrap();
        let locs = [at(Some(2), 50.0), at(Some(0), 50.1), at(None, 50.2)];
        let tm = m.matrix(&locs, TravelMode::Drive);
        assert_eq!(tm.minutes(0, 1), 10);
        assert_eq!(tm.minutes(1, 0), 9);
        assert_eq!(
            tm.get(0, 2),
            HaversineModel::default().leg(&locs[0], &locs[2], TravelMode::Drive)
        );
    }

    #[test]
    fn not_square_is_reported_with_row_paths() {
        let spec = MatrixSpec {
            minutes: vec![vec![0, 1, 2], vec![1, 0], vec![2, 1, 0, 9]],
            metres: None,
        };
        let mut issues = Issues::default();
        assert!(MatrixModel::build(&spec, &mut issues).is_none());
        let got: Vec<(&str, IssueCode)> =
            issues.0.iter().map(|i| (i.path.as_str(), i.code)).collect();
        assert_eq!(
            got,
            vec![
                ("$.travel.minutes[1]", IssueCode::InvalidMatrix),
                ("$.travel.minutes[2]", IssueCode::InvalidMatrix)
            ]
        );
    }

    #[test]
    fn empty_and_bad_metres_are_reported() {
        let mut issues = Issues::default();
        assert!(
            MatrixModel::build(
                &MatrixSpec {
                    minutes: vec![],
                    metres: None
                },
                &mut issues
            )
            .is_none()
        );
        assert_eq!(issues.0[0].path, "$.travel.minutes");
        assert_eq!(issues.0[0].code, IssueCode::InvalidMatrix);

        let mut spec = spec3(true);
        if let Some(m) = spec.metres.as_mut() {
            m.pop();
            m[0].push(1);
        }
        let mut issues = Issues::default();
        assert!(MatrixModel::build(&spec, &mut issues).is_none());
        let got: Vec<&str> = issues.0.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(got, vec!["$.travel.metres", "$.travel.metres[0]"]);
    }
}
