//! Solomon VRPTW instances (classic text format, DIMACS distance convention).
//!
//! ```text
//! C101
//!
//! VEHICLE
//! NUMBER     CAPACITY
//!   25         200
//!
//! CUSTOMER
//! CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME
//!
//!     0         40         50          0          0       1236          0
//!     1         45         68         10        912        967         90
//! ```
//! Row 0 is the depot; customers follow, numbered consecutively.

use super::{
    BenchError, BenchInstance, BuilderSettings, Convention, ProblemBuilder, SOLOMON_SCALE,
    SolomonObjective, VEHICLE_COST, VisitSpec, base_weights, scaled, shown,
};
use crate::model::{LatenessRule, SkillSet};

/// Largest coordinate or time accepted (far beyond any published instance).
const MAX_VALUE: f64 = 1e6;

/// One row of the CUSTOMER table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Customer {
    /// 1-based line number in the file.
    pub line: usize,
    pub x: f64,
    pub y: f64,
    pub demand: u32,
    pub ready: f64,
    pub due: f64,
    pub service: f64,
}

/// A parsed Solomon file.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SolomonData {
    pub vehicles: u32,
    pub capacity: u32,
    /// Depot first, then customers 1..n.
    pub rows: Vec<Customer>,
}

const ROW_SHAPE: &str =
    "7 numbers (CUST NO., XCOORD., YCOORD., DEMAND, READY TIME, DUE DATE, SERVICE TIME)";

fn is_number(token: &str) -> bool {
    token.parse::<f64>().is_ok()
}

/// Parses the text; every malformed line gives an error with its line number.
pub(super) fn parse(text: &str) -> Result<SolomonData, BenchError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty());

    // Name line(s), then the VEHICLE heading.
    loop {
        match lines.next() {
            Some((_, l)) if l.eq_ignore_ascii_case("VEHICLE") => break,
            Some((n, l)) if l.split_whitespace().next().is_some_and(is_number) => {
                return Err(BenchError::Syntax {
                    line: n,
                    expected: "the `VEHICLE` heading before any numbers".into(),
                    found: shown(l),
                });
            }
            Some(_) => {}
            None => {
                return Err(BenchError::UnexpectedEnd {
                    expected: "the `VEHICLE` heading".into(),
                });
            }
        }
    }
    // Column headings, then "NUMBER CAPACITY" values.
    let (vehicles, capacity) = loop {
        let Some((n, l)) = lines.next() else {
            return Err(BenchError::UnexpectedEnd {
                expected: "the vehicle number and capacity".into(),
            });
        };
        let tokens: Vec<&str> = l.split_whitespace().collect();
        if !tokens.first().is_some_and(|t| is_number(t)) {
            if l.to_ascii_uppercase().starts_with("CUSTOMER") {
                return Err(BenchError::Syntax {
                    line: n,
                    expected: "the vehicle number and capacity".into(),
                    found: shown(l),
                });
            }
            continue; // "NUMBER CAPACITY"
        }
        if tokens.len() != 2 {
            return Err(BenchError::Syntax {
                line: n,
                expected: "2 numbers (vehicle NUMBER and CAPACITY)".into(),
                found: shown(l),
            });
        }
        let vehicles = whole(tokens[0], n, "vehicle number", 1.0, 10_000.0)?;
        let capacity = whole(tokens[1], n, "capacity", 0.0, 1e9)?;
        break (vehicles, capacity);
    };
    match lines.next() {
        Some((_, l)) if l.to_ascii_uppercase().starts_with("CUSTOMER") => {}
        Some((n, l)) => {
            return Err(BenchError::Syntax {
                line: n,
                expected: "the `CUSTOMER` heading".into(),
                found: shown(l),
            });
        }
        None => {
            return Err(BenchError::UnexpectedEnd {
                expected: "the `CUSTOMER` section".into(),
            });
        }
    }
    let mut rows: Vec<Customer> = Vec::new();
    for (n, l) in lines {
        let tokens: Vec<&str> = l.split_whitespace().collect();
        if rows.is_empty() && !tokens.first().is_some_and(|t| is_number(t)) {
            continue; // column headings
        }
        if tokens.len() != 7 {
            return Err(BenchError::Syntax {
                line: n,
                expected: ROW_SHAPE.into(),
                found: shown(l),
            });
        }
        let mut nums = [0.0f64; 7];
        for (k, t) in tokens.iter().enumerate() {
            nums[k] = t.parse::<f64>().map_err(|_| BenchError::Syntax {
                line: n,
                expected: ROW_SHAPE.into(),
                found: shown(t),
            })?;
        }
        let expected_no = rows.len() as f64;
        if nums[0] != expected_no {
            return Err(BenchError::Invalid {
                line: n,
                message: format!(
                    "customer number {} is out of sequence: expected {expected_no}",
                    tokens[0]
                ),
            });
        }
        let x = bounded(nums[1], n, "XCOORD.", -MAX_VALUE)?;
        let y = bounded(nums[2], n, "YCOORD.", -MAX_VALUE)?;
        let demand = whole(tokens[3], n, "DEMAND", 0.0, 1e9)?;
        let ready = bounded(nums[4], n, "READY TIME", 0.0)?;
        let due = bounded(nums[5], n, "DUE DATE", 0.0)?;
        let service = bounded(nums[6], n, "SERVICE TIME", 0.0)?;
        if due < ready {
            return Err(BenchError::Invalid {
                line: n,
                message: format!("due date {due} is before ready time {ready}"),
            });
        }
        rows.push(Customer {
            line: n,
            x,
            y,
            demand,
            ready,
            due,
            service,
        });
    }
    if rows.len() < 2 {
        return Err(BenchError::UnexpectedEnd {
            expected: if rows.is_empty() {
                "the depot row (customer 0)".into()
            } else {
                "at least one customer row after the depot".into()
            },
        });
    }
    Ok(SolomonData {
        vehicles,
        capacity,
        rows,
    })
}

/// A finite value in `[min, MAX_VALUE]`.
fn bounded(v: f64, line: usize, what: &str, min: f64) -> Result<f64, BenchError> {
    if v.is_finite() && (min..=MAX_VALUE).contains(&v) {
        Ok(v)
    } else {
        Err(BenchError::Invalid {
            line,
            message: format!("{what} {v} is outside {min}..{MAX_VALUE}"),
        })
    }
}

/// A whole number in `[min, max]` (written `10` or `10.0`).
fn whole(token: &str, line: usize, what: &str, min: f64, max: f64) -> Result<u32, BenchError> {
    match token.parse::<f64>() {
        Ok(v) if v.is_finite() && v.fract() == 0.0 && (min..=max).contains(&v) => Ok(v as u32),
        _ => Err(BenchError::Invalid {
            line,
            message: format!("{what} must be a whole number in {min}..{max}, found {token:?}"),
        }),
    }
}

/// Floor of the square root of `n`.
fn isqrt(n: u64) -> u64 {
    let mut r = (n as f64).sqrt() as u64;
    while r.saturating_mul(r) > n {
        r -= 1;
    }
    while (r + 1).saturating_mul(r + 1) <= n {
        r += 1;
    }
    r
}

/// DIMACS arc length in tenths: `floor(10 * euclid)`, exact for integer coordinates.
pub(super) fn tenths(a: &Customer, b: &Customer) -> u32 {
    let (dx, dy) = (a.x - b.x, a.y - b.y);
    if dx.fract() == 0.0 && dy.fract() == 0.0 {
        let (dx, dy) = (dx.abs() as u64, dy.abs() as u64);
        isqrt(100 * (dx * dx + dy * dy)) as u32
    } else {
        (10.0 * dx.hypot(dy) + 1e-9).floor() as u32
    }
}

/// Builds the engine problem: see the module docs of [`super`].
pub(super) fn build(
    name: &str,
    data: &SolomonData,
    objective: SolomonObjective,
) -> Result<BenchInstance, BenchError> {
    let n = data.rows.len();
    let minutes: Vec<Vec<u32>> = data
        .rows
        .iter()
        .map(|a| data.rows.iter().map(|b| tenths(a, b)).collect())
        .collect();
    let dist: Vec<Vec<f64>> = minutes
        .iter()
        .map(|r| r.iter().map(|&m| f64::from(m)).collect())
        .collect();
    let mut weights = base_weights();
    weights.travel_min = 1.0;
    weights.commute_min = 1.0;
    if objective == SolomonObjective::VehiclesFirst {
        weights.shift_used = VEHICLE_COST;
    }
    let coords: Vec<(f64, f64)> = data.rows.iter().map(|r| (r.x, r.y)).collect();
    let mut b = ProblemBuilder::new(
        BuilderSettings {
            skills: Vec::new(),
            lateness: LatenessRule::Hard,
            weights,
        },
        &coords,
        minutes,
    )?;
    let depot = &data.rows[0];
    let open = scaled(depot.ready, SOLOMON_SCALE, depot.line, "depot READY TIME")?;
    let close = scaled(depot.due, SOLOMON_SCALE, depot.line, "depot DUE DATE")?;
    let width = (data.vehicles as usize).to_string().len().max(2);
    for k in 1..=data.vehicles {
        b.carer(
            format!("vehicle{k:0width$}"),
            SkillSet::default(),
            Some(data.capacity),
            (open, close),
            (0, 0),
        );
    }
    let mut visit_node = Vec::with_capacity(n - 1);
    for (i, c) in data.rows.iter().enumerate().skip(1) {
        let pkg = b.person(format!("c{i}"), i);
        let earliest = scaled(c.ready, SOLOMON_SCALE, c.line, "READY TIME")?;
        let latest = scaled(c.due, SOLOMON_SCALE, c.line, "DUE DATE")?;
        let duration = scaled(c.service, SOLOMON_SCALE, c.line, "SERVICE TIME")?;
        b.visit(
            pkg,
            "visit",
            (earliest, latest),
            VisitSpec {
                duration,
                skills: SkillSet::default(),
                demand: c.demand,
            },
        );
        visit_node.push(i);
    }
    Ok(BenchInstance {
        name: name.to_string(),
        problem: b.finish(),
        convention: Convention::Solomon(objective),
        scale: SOLOMON_SCALE,
        dist,
        depot_start: 0,
        depot_end: 0,
        visit_service: vec![0; visit_node.len()],
        visit_node,
    })
}
