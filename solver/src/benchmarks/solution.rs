//! Solutions in the community's own formats, so that anyone can check a
//! claimed result with third-party validators, and read such files back to
//! re-score them with carefill's checker and [`BenchInstance::score`].
//!
//! - **Solomon / Gehring-Homberger: VRPLIB `.sol`** (as on CVRPLIB): one line
//!   `Route #k: c1 c2 …` per used vehicle, customers by their `CUST NO.`, then
//!   `Cost X` (the DIMACS distance, arcs truncated to one decimal). The file has
//!   no times: a route read back starts every customer as early as possible.
//! - **Mankowska: the iolab-uniud JSON solution** of Ceschia, Di Gaspero, Rosati
//!   & Schaerf (the authors of the embedded best-known values; repository
//!   `iolab-uniud/hhcrsp`, validator `hhcrsp-toolbox`): `routes` holds one entry
//!   per caregiver (`caregiver_id` `c1`… in instance order, unused ones with no
//!   `locations`), each location a `patient_id` (`p` + the instance node
//!   number, as their converter names patients), a `service_id` (`s1`… by
//!   column of `r`), `arrival_time` (the service start: their validator checks
//!   synchronisation and windows on it) and `departure_time` (the service end),
//!   in instance units; `global_ordering` lists the patients by first service
//!   start; `instance` names the instance. Reading also accepts the toolbox's
//!   `caregiver`, `patient` and `service` keys. Times are read to the adapter's
//!   resolution (0.01), and legs are rounded up to 0.01 by the adapter, so a
//!   solution timed exactly to the unrounded distances may be reported as
//!   travel-infeasible by carefill's checker although it is valid.

use super::{BenchError, BenchInstance, Convention};
use crate::format::Rota;
use crate::model::{Minute, PlannedRoute, PlannedUnplaced};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt::Write as _;

/// A solution file read back: the rota it describes and the cost it claims.
#[derive(Debug, Clone)]
pub struct SolutionFile {
    /// The solution as a rota of the instance's problem (check it with
    /// [`crate::check::check`], score it with [`BenchInstance::score`]).
    pub rota: Rota,
    /// The `Cost` line of a VRPLIB file (the JSON format has none).
    pub claimed_cost: Option<f64>,
}

/// Reason code of a visit the solution file does not place.
const NOT_IN_SOLUTION: &str = "not_in_solution";

/// Slack on `departure_time - arrival_time` against the service duration.
const DURATION_TOLERANCE: f64 = 1e-3;

#[derive(Debug, Serialize, Deserialize)]
struct HhcSolution {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    instance: Option<String>,
    routes: Vec<HhcRoute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    global_ordering: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct HhcRoute {
    #[serde(alias = "caregiver")]
    caregiver_id: String,
    #[serde(default)]
    locations: Vec<HhcLocation>,
}

#[derive(Debug, Serialize, Deserialize)]
struct HhcLocation {
    #[serde(alias = "patient")]
    patient_id: String,
    #[serde(alias = "service")]
    service_id: String,
    arrival_time: f64,
    departure_time: f64,
}

impl BenchInstance {
    /// The usual file extension of this family's solutions (`sol` or `json`).
    pub fn solution_extension(&self) -> &'static str {
        match self.convention {
            Convention::Solomon(_) => "sol",
            Convention::Mankowska => "json",
        }
    }

    /// Writes `rota` (a rota of [`Self::problem`]) in the family's solution
    /// format (see the module docs). Stops naming unknown visits or shifts are
    /// left out.
    pub fn write_solution(&self, rota: &Rota) -> String {
        let routes = self.routes_of(rota);
        match self.convention {
            Convention::Solomon(_) => self.write_vrplib(rota, &routes),
            Convention::Mankowska => self.write_hhc(&routes),
        }
    }

    /// Reads a solution in the family's format back into a rota of
    /// [`Self::problem`]. Malformed files and names the instance does not know
    /// give an error; visits the file does not place are unplaced (reason
    /// `not_in_solution`), which [`BenchInstance::score`] reports.
    pub fn read_solution(&self, text: &str) -> Result<SolutionFile, BenchError> {
        let (routes, claimed_cost) = match self.convention {
            Convention::Solomon(_) => self.read_vrplib(text)?,
            Convention::Mankowska => (self.read_hhc(text)?, None),
        };
        let mut placed = vec![false; self.problem.visits.len()];
        for r in &routes {
            for &(v, _) in &r.stops {
                placed[v] = true;
            }
        }
        let unplaced: Vec<PlannedUnplaced> = (0..placed.len())
            .filter(|&v| !placed[v])
            .map(|v| PlannedUnplaced {
                visit: v,
                reasons: vec![(
                    NOT_IN_SOLUTION.to_string(),
                    "the solution file does not place this visit".to_string(),
                )],
            })
            .collect();
        Ok(SolutionFile {
            rota: self.problem.write_rota(&routes, &unplaced),
            claimed_cost,
        })
    }

    /// The rota's routes as (shift, [(visit, start)]) in rota order.
    fn routes_of(&self, rota: &Rota) -> Vec<(usize, Vec<(usize, Minute)>)> {
        let p = &self.problem;
        rota.routes
            .iter()
            .filter_map(|r| {
                let s = *p.shift_index.get(&r.shift)?;
                let stops = r
                    .stops
                    .iter()
                    .filter_map(|x| {
                        let v = *p.visit_index.get(&x.visit)?;
                        let t = p.horizon.parse_instant(&x.start).ok()?;
                        Some((v, Minute::try_from(t).ok()?))
                    })
                    .collect();
                Some((s, stops))
            })
            .collect()
    }

    fn write_vrplib(&self, rota: &Rota, routes: &[(usize, Vec<(usize, Minute)>)]) -> String {
        let mut out = String::new();
        let used = routes.iter().filter(|r| !r.1.is_empty());
        for (k, (_, stops)) in used.enumerate() {
            let _ = write!(out, "Route #{}:", k + 1);
            for &(v, _) in stops {
                let _ = write!(out, " {}", self.visit_node[v]);
            }
            out.push('\n');
        }
        // Sums of truncated tenths: one decimal is exact.
        let _ = writeln!(out, "Cost {:.1}", self.score(rota).distance);
        out
    }

    fn read_vrplib(&self, text: &str) -> Result<(Vec<PlannedRoute>, Option<f64>), BenchError> {
        let p = &self.problem;
        let visit_of: HashMap<usize, usize> = self
            .visit_node
            .iter()
            .enumerate()
            .map(|(v, &node)| (node, v))
            .collect();
        let mut seen: HashMap<usize, usize> = HashMap::new();
        let mut routes = Vec::new();
        let mut cost = None;
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let l = raw.trim();
            if l.is_empty() {
                continue;
            }
            let lower = l.to_ascii_lowercase();
            if let Some(rest) = lower.strip_prefix("cost") {
                let value = rest.trim();
                cost = Some(value.parse::<f64>().map_err(|_| BenchError::Syntax {
                    line,
                    expected: "`Cost` and a number".into(),
                    found: super::shown(raw),
                })?);
                continue;
            }
            let Some((head, body)) = l.split_once(':') else {
                return Err(vrplib_syntax(line, raw));
            };
            if !head.to_ascii_lowercase().starts_with("route #") {
                return Err(vrplib_syntax(line, raw));
            }
            let s = routes.len();
            if s >= p.shifts.len() {
                return Err(BenchError::Invalid {
                    line,
                    message: format!(
                        "the solution uses more routes than the instance's {} vehicles",
                        p.shifts.len()
                    ),
                });
            }
            let mut visits = Vec::new();
            for token in body.split_whitespace() {
                let node: usize = token.parse().map_err(|_| BenchError::Syntax {
                    line,
                    expected: "customer numbers".into(),
                    found: super::shown(token),
                })?;
                let Some(&v) = visit_of.get(&node) else {
                    return Err(BenchError::Invalid {
                        line,
                        message: format!(
                            "customer {node} is not in the instance (customers are 1..{})",
                            self.visit_node.len()
                        ),
                    });
                };
                if let Some(first) = seen.insert(v, line) {
                    return Err(BenchError::Invalid {
                        line,
                        message: format!("customer {node} is visited twice (also on line {first})"),
                    });
                }
                visits.push(v);
            }
            routes.push(PlannedRoute {
                shift: s,
                stops: self.earliest_starts(s, &visits),
            });
        }
        Ok((routes, cost))
    }

    /// Starts of `visits` on shift `s`, each as early as the previous stop,
    /// the leg (this instance's own distances) and the window allow.
    fn earliest_starts(&self, s: usize, visits: &[usize]) -> Vec<(usize, Minute)> {
        let p = &self.problem;
        let mut t = p.shifts[s].start;
        let mut node = self.depot_start;
        let mut out = Vec::with_capacity(visits.len());
        for &v in visits {
            let next = self.visit_node[v];
            let leg = self.leg(node, next).ceil() as Minute;
            let start = (t + leg).max(p.visits[v].earliest_start);
            out.push((v, start));
            t = start + p.visits[v].duration;
            node = next;
        }
        out
    }

    fn write_hhc(&self, routes: &[(usize, Vec<(usize, Minute)>)]) -> String {
        let p = &self.problem;
        let by_shift: HashMap<usize, &Vec<(usize, Minute)>> =
            routes.iter().map(|(s, stops)| (*s, stops)).collect();
        let mut first_start: HashMap<usize, Minute> = HashMap::new();
        let hhc_routes = (0..p.shifts.len())
            .map(|s| {
                let locations = by_shift
                    .get(&s)
                    .map(|stops| {
                        stops
                            .iter()
                            .map(|&(v, t)| {
                                let node = self.visit_node[v];
                                let first = first_start.entry(node).or_insert(t);
                                *first = (*first).min(t);
                                HhcLocation {
                                    patient_id: format!("p{node}"),
                                    service_id: format!("s{}", self.visit_service[v] + 1),
                                    arrival_time: f64::from(t) / self.scale,
                                    departure_time: f64::from(t + p.visits[v].duration)
                                        / self.scale,
                                }
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                HhcRoute {
                    caregiver_id: format!("c{}", p.shifts[s].carer + 1),
                    locations,
                }
            })
            .collect();
        let mut order: Vec<(Minute, usize)> =
            first_start.into_iter().map(|(n, t)| (t, n)).collect();
        order.sort_unstable();
        let solution = HhcSolution {
            instance: Some(self.name.clone()),
            routes: hhc_routes,
            global_ordering: order.into_iter().map(|(_, n)| format!("p{n}")).collect(),
        };
        let mut text = serde_json::to_string_pretty(&solution).unwrap_or_default();
        text.push('\n');
        text
    }

    fn read_hhc(&self, text: &str) -> Result<Vec<PlannedRoute>, BenchError> {
        let p = &self.problem;
        let sol: HhcSolution = serde_json::from_str(text).map_err(|e| BenchError::Invalid {
            line: e.line(),
            message: format!("not an iolab-uniud HHCRSP solution: {e}"),
        })?;
        let visit_of: HashMap<(usize, usize), usize> = (0..p.visits.len())
            .map(|v| ((self.visit_node[v], self.visit_service[v]), v))
            .collect();
        let bad = |msg: String| BenchError::Solution(msg);
        let number = |id: &str, prefix: char, what: &str| -> Result<usize, BenchError> {
            id.strip_prefix(prefix)
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|&n| n >= 1)
                .ok_or_else(|| {
                    bad(format!(
                        "{what} `{id}` is not `{prefix}` followed by a number from 1"
                    ))
                })
        };
        let mut shift_used = vec![false; p.shifts.len()];
        let mut placed: HashMap<usize, String> = HashMap::new();
        let mut routes = Vec::new();
        for route in &sol.routes {
            let k = number(&route.caregiver_id, 'c', "caregiver")?;
            let Some(s) = (0..p.shifts.len()).find(|&s| p.shifts[s].carer + 1 == k) else {
                return Err(bad(format!(
                    "caregiver `{}` is not in the instance (it has c1..c{})",
                    route.caregiver_id,
                    p.carers.len()
                )));
            };
            if std::mem::replace(&mut shift_used[s], true) {
                return Err(bad(format!(
                    "caregiver `{}` has two routes",
                    route.caregiver_id
                )));
            }
            let mut stops = Vec::with_capacity(route.locations.len());
            for (j, loc) in route.locations.iter().enumerate() {
                let at = format!("{} location {}", route.caregiver_id, j + 1);
                let node = number(&loc.patient_id, 'p', "patient")?;
                let service = number(&loc.service_id, 's', "service")? - 1;
                let Some(&v) = visit_of.get(&(node, service)) else {
                    return Err(bad(format!(
                        "{at}: patient `{}` does not require service `{}`",
                        loc.patient_id, loc.service_id
                    )));
                };
                if let Some(other) = placed.insert(v, at.clone()) {
                    return Err(bad(format!(
                        "{at}: service `{}` of patient `{}` is also made at {other}",
                        loc.service_id, loc.patient_id
                    )));
                }
                let start = loc.arrival_time * self.scale;
                if !start.is_finite() || start < 0.0 || start > super::MAX_SCALED as f64 {
                    return Err(bad(format!(
                        "{at}: arrival_time {} is out of range",
                        loc.arrival_time
                    )));
                }
                let duration = f64::from(p.visits[v].duration) / self.scale;
                if loc.departure_time - loc.arrival_time < duration - DURATION_TOLERANCE {
                    return Err(bad(format!(
                        "{at}: departure_time {} is before arrival_time {} plus the service's {duration}",
                        loc.departure_time, loc.arrival_time
                    )));
                }
                stops.push((v, start.round() as Minute));
            }
            routes.push(PlannedRoute { shift: s, stops });
        }
        Ok(routes)
    }
}

fn vrplib_syntax(line: usize, raw: &str) -> BenchError {
    BenchError::Syntax {
        line,
        expected: "`Route #k: customers…` or `Cost X`".into(),
        found: super::shown(raw),
    }
}
