//! Import adapters for the field's standard benchmarks, so the rota engine can
//! be measured against published best-known results.
//!
//! Two families are read, each into a [`Problem`] built directly (no wire
//! request), solved by [`crate::rota::solve`] and checked by [`crate::check`]
//! like any other problem:
//!
//! - **Solomon VRPTW** ([`load_solomon`]), DIMACS convention: every arc is the
//!   Euclidean distance truncated to one decimal and travel time equals
//!   distance. Everything is multiplied by [`SOLOMON_SCALE`] (10) to get whole
//!   engine minutes: a vehicle is a carer with `capacity` and one shift at the
//!   depot, a customer a service user with one visit whose start lies in
//!   `[ready, due]`, commute is paid (every leg counts), no breaks, hard windows.
//!   [`SolomonObjective`] picks distance only (DIMACS) or vehicles first
//!   (SINTEF style, `shift_used` = 1e5 scaled units per vehicle).
//! - **Mankowska et al. (2014)** home health care routing with interdependent
//!   services ([`load_mankowska`]), scaled by [`MANKOWSKA_SCALE`] (100): staff
//!   are carers whose skills are the services they are qualified for; a
//!   patient's single service is one visit needing that skill; a double service
//!   is two visits (one per service) linked start to start, offsets `[0, 0]`
//!   when simultaneous or `[mind, maxd]` otherwise (the lower-numbered service
//!   first, as in the paper's model: constraints (11)-(12) range over every
//!   pair of caregivers). Two distinct carers are required only for
//!   simultaneous services (offsets `[0, 0]`); with a gap, the paper lets one
//!   qualified caregiver do both services, so the engine does too. Time
//!   windows bind the start; tardiness is soft and unbounded (only the long
//!   shift limits it). Travel is rounded **up** to 0.01 so that the engine's
//!   schedule stays feasible with the exact distances.
//!
//! Objectives. For Mankowska the engine minimises the published objective
//! `(distance + total tardiness + max tardiness) / 3`: travel, lateness and
//! worst-lateness weights of 1/3 per scaled unit (the worst lateness is the
//! engine's `worst_late_min` term). [`BenchInstance::score`] recomputes it in
//! original units from the returned rota, with distances from the instance's
//! own matrix; the engine's own figure differs only by the legs rounded up.
//!
//! Solutions go out and come back in the community's formats (VRPLIB `.sol`,
//! the iolab-uniud JSON): [`BenchInstance::write_solution`] and
//! [`BenchInstance::read_solution`]. The Solomon reader also takes the
//! Gehring-Homberger instances (200-1000 customers), which share the layout.
//!
//! Mankowska details: routes start at node 0 and end at the depot copy (the last
//! node) with no return deadline, as in the paper's model (the Ceschia et al.
//! validator can also charge a late return after the depot's `l`; the embedded
//! best-known values do not). Because legs are rounded up to 0.01, a reported
//! tardiness can exceed the exact-distance schedule's by up to 0.01 per leg.
//!
//! Each instance is one long planning "day" of stretched minutes: visits and
//! shifts sit on day 0 of the horizon and times are scaled instance units, not
//! clock minutes.

mod mankowska;
mod solomon;
mod solution;

pub use solution::SolutionFile;

#[cfg(test)]
mod lateness_tests;
#[cfg(test)]
mod tests;

use crate::format::{
    ContractType, Funding, Gender, Issues, Location, MatrixSpec, ObjectiveWeights, Rota,
    TravelMode, TravelSpec, Urgency,
};
use crate::model::{
    CarerModel, Horizon, IdIndex, LatenessRule, LinkModel, LocIdx, Minute, PackageModel, Problem,
    ServiceUserModel, ShiftModel, SkillSet, VisitModel,
};
use chrono::{NaiveDate, Offset, Utc};
use std::collections::HashSet;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// Engine units per Solomon distance/time unit (DIMACS distances have one decimal).
pub const SOLOMON_SCALE: f64 = 10.0;
/// Engine units per Mankowska distance/time unit (distances are real-valued).
pub const MANKOWSKA_SCALE: f64 = 100.0;
/// Penalty per unplaced visit, in scaled units: dominates any routing cost.
const UNPLACED_PENALTY: f64 = 1e7;
/// Cost of each vehicle used under [`SolomonObjective::VehiclesFirst`], in scaled
/// units: more than any instance's total scaled distance, so fewer vehicles dominate.
const VEHICLE_COST: f64 = 1e5;
/// Daily and weekly working limits that never bind.
const NO_LIMIT_MIN: u32 = 1_000_000_000;
/// Largest scaled time or horizon accepted (keeps `i32` minute arithmetic safe).
const MAX_SCALED: i64 = (i32::MAX / 8) as i64;

/// A benchmark family's file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BenchFormat {
    /// Solomon VRPTW text format (VEHICLE / CUSTOMER sections).
    Solomon,
    /// Mankowska et al. (2014) `InstanzCPLEX_HCSRP_*` keyword blocks.
    Mankowska,
}

impl FromStr for BenchFormat {
    type Err = BenchError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "solomon" => Ok(Self::Solomon),
            "mankowska" => Ok(Self::Mankowska),
            _ => Err(BenchError::UnknownFormat(s.to_string())),
        }
    }
}

impl fmt::Display for BenchFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Solomon => "solomon",
            Self::Mankowska => "mankowska",
        })
    }
}

/// Which published convention a Solomon run is optimised and compared under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SolomonObjective {
    /// DIMACS/CVRPLIB: minimise total (truncated) distance only.
    #[default]
    Distance,
    /// SINTEF style: minimise vehicles first, then distance.
    VehiclesFirst,
}

impl FromStr for SolomonObjective {
    type Err = BenchError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "distance" => Ok(Self::Distance),
            "vehicles" | "vehicles-first" | "vehicles_first" => Ok(Self::VehiclesFirst),
            _ => Err(BenchError::UnknownObjective(s.to_string())),
        }
    }
}

impl fmt::Display for SolomonObjective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Distance => "distance",
            Self::VehiclesFirst => "vehicles",
        })
    }
}

/// Why a benchmark file could not be read. Malformed input always gives one of
/// these (never a panic), with the 1-based line number where there is one.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A line does not have the expected shape.
    #[error("line {line}: expected {expected}, found {found}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What the format requires there.
        expected: String,
        /// What the file has (shortened).
        found: String,
    },
    /// The text ends before a required part.
    #[error("unexpected end of input: expected {expected} (is the file truncated?)")]
    UnexpectedEnd {
        /// What was still required.
        expected: String,
    },
    /// A value is well-formed but impossible (out of range, inconsistent).
    #[error("line {line}: {message}")]
    Invalid {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The instance as a whole is inconsistent.
    #[error("{0}")]
    Instance(String),
    /// An unknown `--format` name.
    #[error("unknown benchmark format `{0}`: expected `solomon` or `mankowska`")]
    UnknownFormat(String),
    /// An unknown Solomon objective name.
    #[error("unknown Solomon objective `{0}`: expected `distance` or `vehicles`")]
    UnknownObjective(String),
    /// A solution file names something the instance does not have, or
    /// contradicts it.
    #[error("invalid solution: {0}")]
    Solution(String),
}

/// Shortens a token or line for an error message.
fn shown(text: &str) -> String {
    let t = text.trim();
    if t.is_empty() {
        return "an empty line".to_string();
    }
    let mut s: String = t.chars().take(40).collect();
    if t.chars().count() > 40 {
        s.push_str("...");
    }
    format!("`{s}`")
}

/// Which family an instance came from, with its options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Convention {
    Solomon(SolomonObjective),
    Mankowska,
}

/// A loaded benchmark instance: the engine problem plus what is needed to
/// score a rota in the instance's own units.
#[derive(Debug, Clone)]
pub struct BenchInstance {
    /// Instance name (the file stem, e.g. `C101`, `InstanzCPLEX_HCSRP_10_1`).
    pub name: String,
    /// The problem to give [`crate::rota::solve`].
    pub problem: Problem,
    convention: Convention,
    /// Engine units per instance unit.
    scale: f64,
    /// Distances between instance nodes in scaled units, unrounded.
    dist: Vec<Vec<f64>>,
    /// Node where routes start and end.
    depot_start: usize,
    depot_end: usize,
    /// Instance node of each problem visit.
    visit_node: Vec<usize>,
    /// Service (0-based column of Mankowska's `r`; 0 for Solomon) of each visit.
    visit_service: Vec<usize>,
}

/// A rota's result in the instance's own units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BenchScore {
    /// The published objective: Solomon total distance; Mankowska
    /// `(distance + total tardiness + max tardiness) / 3`.
    pub objective: f64,
    /// Total distance over all legs, depot legs included.
    pub distance: f64,
    /// Vehicles (carers) with at least one visit.
    pub vehicles: u32,
    /// Sum of tardiness over visits (0 for Solomon's hard windows).
    pub total_tardiness: f64,
    /// Largest tardiness of any visit.
    pub max_tardiness: f64,
    /// Visits left unplaced (the objective is not comparable when this is not 0).
    pub unplaced: u32,
}

impl BenchInstance {
    /// The family the instance belongs to.
    pub fn format(&self) -> BenchFormat {
        match self.convention {
            Convention::Solomon(_) => BenchFormat::Solomon,
            Convention::Mankowska => BenchFormat::Mankowska,
        }
    }

    /// The Solomon convention the problem was built for (`None` for Mankowska).
    pub fn solomon_objective(&self) -> Option<SolomonObjective> {
        match self.convention {
            Convention::Solomon(o) => Some(o),
            Convention::Mankowska => None,
        }
    }

    /// Engine minutes per instance time/distance unit.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// The published best-known objective for this instance and convention, if
    /// embedded. Under [`SolomonObjective::VehiclesFirst`] this is the SINTEF
    /// distance (double precision, possibly with fewer vehicles): compare
    /// vehicles first, see [`best_known_solomon`].
    pub fn best_known(&self) -> Option<f64> {
        match self.convention {
            Convention::Solomon(o) => best_known_solomon(&self.name, o).map(|b| b.distance),
            Convention::Mankowska => best_known(&self.name, BenchFormat::Mankowska),
        }
    }

    /// Scores `rota` (from [`crate::rota::solve`] on [`Self::problem`]) in the
    /// instance's own units. Stops naming unknown visits are ignored; tardiness
    /// is taken from the rota's start times (its first carer for a visit).
    pub fn score(&self, rota: &Rota) -> BenchScore {
        let p = &self.problem;
        let mut dist = 0.0;
        let mut vehicles = 0u32;
        let mut seen: HashSet<usize> = HashSet::new();
        let (mut total, mut max) = (0.0f64, 0.0f64);
        for route in &rota.routes {
            let mut prev = self.depot_start;
            let mut any = false;
            for stop in &route.stops {
                let Some(&v) = p.visit_index.get(&stop.visit) else {
                    continue;
                };
                let Some(&node) = self.visit_node.get(v) else {
                    continue;
                };
                any = true;
                dist += self.leg(prev, node);
                prev = node;
                if seen.insert(v)
                    && let Ok(start) = p.horizon.parse_instant(&stop.start)
                {
                    let late =
                        (start as f64 - f64::from(p.visits[v].latest_start)).max(0.0) / self.scale;
                    total += late;
                    max = max.max(late);
                }
            }
            if any {
                vehicles += 1;
                dist += self.leg(prev, self.depot_end);
            }
        }
        let distance = dist / self.scale;
        let objective = match self.convention {
            Convention::Solomon(_) => distance,
            Convention::Mankowska => (distance + total + max) / 3.0,
        };
        BenchScore {
            objective,
            distance,
            vehicles,
            total_tardiness: total,
            max_tardiness: max,
            unplaced: rota.unplaced.len() as u32,
        }
    }

    fn leg(&self, from: usize, to: usize) -> f64 {
        self.dist
            .get(from)
            .and_then(|row| row.get(to))
            .copied()
            .unwrap_or(0.0)
    }
}

/// Reads a Solomon instance (see the module docs for the mapping).
pub fn load_solomon(
    name: &str,
    text: &str,
    objective: SolomonObjective,
) -> Result<BenchInstance, BenchError> {
    let data = solomon::parse(text)?;
    solomon::build(name, &data, objective)
}

/// Reads a Mankowska et al. (2014) instance (see the module docs for the mapping).
pub fn load_mankowska(name: &str, text: &str) -> Result<BenchInstance, BenchError> {
    let data = mankowska::parse(text)?;
    mankowska::build(name, &data)
}

/// Reads an instance file; its name is the file stem. `solomon_objective` is
/// ignored for Mankowska.
pub fn load_file(
    path: &Path,
    format: BenchFormat,
    solomon_objective: SolomonObjective,
) -> Result<BenchInstance, BenchError> {
    let text = std::fs::read_to_string(path).map_err(|source| BenchError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match format {
        BenchFormat::Solomon => load_solomon(&name, &text, solomon_objective),
        BenchFormat::Mankowska => load_mankowska(&name, &text),
    }
}

/// A Solomon best-known solution under one convention.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SolomonBest {
    /// Vehicles used.
    pub vehicles: u32,
    /// Total distance (DIMACS: truncated arcs; SINTEF: double precision).
    pub distance: f64,
}

/// Solomon best-known values from `solomon/bks.csv`:
/// (instance, DIMACS vehicles, DIMACS distance, SINTEF vehicles, SINTEF distance).
const SOLOMON_BKS: &[(&str, u32, f64, u32, f64)] = &[
    ("C101", 10, 827.3, 10, 828.94),
    ("C201", 3, 589.1, 3, 591.56),
    ("R101", 20, 1637.7, 19, 1650.80),
    ("R201", 8, 1143.2, 4, 1252.37),
    ("RC101", 15, 1619.8, 14, 1696.95),
    ("RC201", 9, 1261.8, 4, 1406.94),
];

/// Mankowska best-known values (Ceschia, Di Gaspero, Rosati & Schaerf, ITOR 2026):
/// (instance, distance, max tardiness, total tardiness, total cost).
const MANKOWSKA_BKS: &[(&str, f64, f64, f64, f64)] = &[
    ("InstanzCPLEX_HCSRP_10_1", 654.596, 0.0, 0.0, 218.199),
    ("InstanzCPLEX_HCSRP_10_10", 675.017, 0.0, 0.0, 225.006),
    ("InstanzCPLEX_HCSRP_10_2", 687.29, 26.295, 26.295, 246.627),
    ("InstanzCPLEX_HCSRP_10_3", 741.137, 77.134, 99.304, 305.858),
    ("InstanzCPLEX_HCSRP_10_4", 455.271, 40.473, 64.946, 186.897),
    ("InstanzCPLEX_HCSRP_10_5", 568.63, 0.0, 0.0, 189.543),
    ("InstanzCPLEX_HCSRP_10_6", 600.298, 0.0, 0.0, 200.099),
    ("InstanzCPLEX_HCSRP_10_7", 676.107, 0.0, 0.0, 225.369),
    ("InstanzCPLEX_HCSRP_10_8", 653.267, 16.371, 26.507, 232.048),
    ("InstanzCPLEX_HCSRP_10_9", 666.885, 0.0, 0.0, 222.295),
    ("InstanzCPLEX_HCSRP_25_1", 1253.02, 9.588, 21.686, 428.097),
    ("InstanzCPLEX_HCSRP_25_10", 1298.75, 27.752, 61.742, 462.748),
    ("InstanzCPLEX_HCSRP_25_2", 1315.5, 53.375, 59.27, 476.049),
    ("InstanzCPLEX_HCSRP_25_3", 911.964, 80.903, 204.401, 399.089),
    ("InstanzCPLEX_HCSRP_25_4", 1154.77, 29.476, 49.644, 411.296),
    ("InstanzCPLEX_HCSRP_25_5", 1052.09, 22.328, 24.597, 366.338),
    (
        "InstanzCPLEX_HCSRP_25_6",
        947.294,
        117.663,
        328.909,
        464.622,
    ),
    ("InstanzCPLEX_HCSRP_25_7", 986.013, 0.0, 0.0, 328.671),
    ("InstanzCPLEX_HCSRP_25_8", 1069.03, 2.013, 2.013, 357.684),
    ("InstanzCPLEX_HCSRP_25_9", 1116.54, 23.506, 67.965, 402.671),
    ("InstanzCPLEX_HCSRP_50_2", 1670.25, 12.139, 25.771, 569.388),
    (
        "InstanzCPLEX_HCSRP_50_6",
        1552.93,
        176.434,
        710.394,
        813.253,
    ),
    ("InstanzCPLEX_HCSRP_75_1", 2300.95, 158.648, 874.51, 1111.37),
    ("InstanzCPLEX_HCSRP_75_6", 2031.72, 13.128, 19.601, 688.151),
    ("InstanzVNS_HCSRP_100_1", 2490.3, 223.884, 1053.59, 1255.93),
    ("InstanzVNS_HCSRP_100_6", 2228.45, 9.026, 9.245, 748.906),
    ("InstanzVNS_HCSRP_200_1", 3664.27, 12.298, 34.289, 1236.95),
    ("InstanzVNS_HCSRP_300_1", 4941.94, 3.0, 5.541, 1650.16),
];

/// Strips a directory and a `.txt` extension from an instance name.
fn bare_name(name: &str) -> &str {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    base.strip_suffix(".txt").unwrap_or(base)
}

/// Best-known objective of an instance in the family's headline convention:
/// Solomon = DIMACS distance (truncated arcs, distance only); Mankowska = total
/// cost `(distance + total tardiness + max tardiness) / 3`. For Solomon under
/// [`SolomonObjective::VehiclesFirst`] use [`best_known_solomon`].
pub fn best_known(name: &str, format: BenchFormat) -> Option<f64> {
    let name = bare_name(name);
    match format {
        BenchFormat::Solomon => {
            best_known_solomon(name, SolomonObjective::Distance).map(|b| b.distance)
        }
        BenchFormat::Mankowska => MANKOWSKA_BKS
            .iter()
            .find(|r| r.0.eq_ignore_ascii_case(name))
            .map(|r| r.4),
    }
}

/// Best-known Solomon vehicles and distance under a convention (DIMACS for
/// [`SolomonObjective::Distance`], SINTEF for [`SolomonObjective::VehiclesFirst`]).
pub fn best_known_solomon(name: &str, objective: SolomonObjective) -> Option<SolomonBest> {
    let name = bare_name(name);
    let row = SOLOMON_BKS
        .iter()
        .find(|r| r.0.eq_ignore_ascii_case(name))?;
    Some(match objective {
        SolomonObjective::Distance => SolomonBest {
            vehicles: row.1,
            distance: row.2,
        },
        SolomonObjective::VehiclesFirst => SolomonBest {
            vehicles: row.3,
            distance: row.4,
        },
    })
}

/// Objective weights with every term off except unplaced penalties.
fn base_weights() -> ObjectiveWeights {
    ObjectiveWeights {
        unplaced_crisis: UNPLACED_PENALTY,
        unplaced_hospital_discharge: UNPLACED_PENALTY,
        unplaced_provider_failure: UNPLACED_PENALTY,
        unplaced_routine: UNPLACED_PENALTY,
        unplaced_planned: UNPLACED_PENALTY,
        distinct_carer: 0.0,
        unknown_carer_visit: 0.0,
        travel_min: 0.0,
        commute_min: 0.0,
        non_preferred_carer_visit: 0.0,
        non_preferred_gender_visit: 0.0,
        contract_shortfall_min: 0.0,
        changed_visit: 0.0,
        shift_used: 0.0,
        worst_late_min: 0.0,
    }
}

/// Assembles a [`Problem`] the way [`Problem::from_request`] would for a
/// one-day, one-shift-per-carer instance over a matrix travel model.
struct ProblemBuilder {
    p: Problem,
    date: String,
}

/// Instance-level settings of a [`ProblemBuilder`].
struct BuilderSettings {
    skills: Vec<String>,
    lateness: LatenessRule,
    weights: ObjectiveWeights,
}

impl ProblemBuilder {
    /// A problem with one location per node (`coords` as `(x, y)`) and the
    /// travel matrix `minutes` (row = from), both indexed by node.
    fn new(
        settings: BuilderSettings,
        coords: &[(f64, f64)],
        minutes: Vec<Vec<u32>>,
    ) -> Result<Self, BenchError> {
        let mut issues = Issues::default();
        let spec = TravelSpec::Matrix(MatrixSpec {
            minutes,
            metres: None,
        });
        let travel = crate::travel::build_travel_model(&spec, &mut issues).ok_or_else(|| {
            let msgs: Vec<String> = issues.0.iter().map(ToString::to_string).collect();
            BenchError::Instance(format!("invalid travel matrix: {}", msgs.join("; ")))
        })?;
        let locations = coords
            .iter()
            .enumerate()
            .map(|(i, &(x, y))| Location {
                // Instance coordinates squeezed onto the globe; only the matrix is used.
                lat: (y / 1000.0).clamp(-90.0, 90.0),
                lon: (x / 1000.0).clamp(-180.0, 180.0),
                matrix_index: Some(i as u32),
            })
            .collect();
        let horizon = Horizon::fixed(
            NaiveDate::from_ymd_opt(2026, 1, 5).unwrap_or_default(),
            1,
            Utc.fix(),
        );
        let date = horizon.date(0).format("%Y-%m-%d").to_string();
        Ok(Self {
            p: Problem {
                horizon,
                lateness: settings.lateness,
                break_after: Minute::MAX / 4,
                break_duration: 0,
                paid_commute: true,
                weights: settings.weights,
                skills: settings.skills,
                locations,
                travel,
                providers: Vec::new(),
                teams: Vec::new(),
                carers: Vec::new(),
                shifts: Vec::new(),
                service_users: Vec::new(),
                packages: Vec::new(),
                visits: Vec::new(),
                links: Vec::new(),
                existing: Vec::new(),
                carer_index: IdIndex::default(),
                visit_index: IdIndex::default(),
                shift_index: IdIndex::default(),
                service_user_index: IdIndex::default(),
            },
            date,
        })
    }

    /// A carer with one shift `[start, end]` from `start_loc` to `end_loc`.
    fn carer(
        &mut self,
        id: String,
        skills: SkillSet,
        capacity: Option<u32>,
        (start, end): (Minute, Minute),
        (start_loc, end_loc): (LocIdx, LocIdx),
    ) {
        let c = self.p.carers.len();
        let s = self.p.shifts.len();
        self.p.shifts.push(ShiftModel {
            id: format!("{id}#{}#1", self.date),
            carer: c,
            day: 0,
            start,
            end,
            start_loc,
            end_loc,
        });
        self.p.carers.push(CarerModel {
            id,
            team: None,
            skills,
            gender: Gender::Other,
            contract: ContractType::ZeroHours,
            contracted_min_per_week: 0,
            max_min_per_day: NO_LIMIT_MIN,
            max_min_per_week: NO_LIMIT_MIN,
            worked_min_before_start: 0,
            mode: TravelMode::Drive,
            home: start_loc,
            shifts: vec![s],
            capacity,
        });
    }

    /// A service user at `location` with one package of the same id; returns the package.
    fn person(&mut self, id: String, location: LocIdx) -> usize {
        let u = self.p.service_users.len();
        self.p.service_users.push(ServiceUserModel {
            id: id.clone(),
            location,
            team: None,
            gender_required: None,
            gender_preferred: None,
            preferred: Vec::new(),
            excluded: Vec::new(),
            known: Vec::new(),
            continuity_cap: u32::MAX / 2,
        });
        self.p.packages.push(PackageModel {
            id,
            service_user: u,
            urgency: Urgency::Routine,
            funding: Funding::Council,
            referral: None,
            visits: Vec::new(),
        });
        self.p.packages.len() - 1
    }

    /// A single-handed visit of package `pkg` with start in `[earliest, latest]`; returns its index.
    fn visit(
        &mut self,
        pkg: usize,
        pattern: &str,
        window: (Minute, Minute),
        v: VisitSpec,
    ) -> usize {
        let idx = self.p.visits.len();
        let package = &mut self.p.packages[pkg];
        package.visits.push(idx);
        let user = package.service_user;
        self.p.visits.push(VisitModel {
            id: format!("{}/{pattern}@{}", package.id, self.date),
            package: pkg,
            service_user: user,
            day: 0,
            earliest_start: window.0,
            latest_start: window.1,
            duration: v.duration,
            carers_required: 1,
            skills: v.skills,
            location: self.p.service_users[user].location,
            demand: v.demand,
        });
        idx
    }

    /// A start-to-start link `then.start - first.start ∈ [min, max]`.
    /// Two distinct carers are required when the services are simultaneous.
    fn link(&mut self, first: usize, then: usize, (min, max): (Minute, Minute)) {
        self.p.links.push(LinkModel {
            first,
            then,
            min_offset: min,
            max_offset: max,
            distinct_carers: min == 0 && max == 0,
        });
    }

    /// The finished problem with its id maps.
    fn finish(mut self) -> Problem {
        let p = &mut self.p;
        p.carer_index = index_of(p.carers.iter().map(|c| &c.id));
        p.visit_index = index_of(p.visits.iter().map(|v| &v.id));
        p.shift_index = index_of(p.shifts.iter().map(|s| &s.id));
        p.service_user_index = index_of(p.service_users.iter().map(|s| &s.id));
        self.p
    }
}

/// What a visit needs besides its window.
struct VisitSpec {
    duration: Minute,
    skills: SkillSet,
    demand: u32,
}

fn index_of<'a>(ids: impl Iterator<Item = &'a String>) -> IdIndex {
    ids.enumerate().map(|(i, id)| (id.clone(), i)).collect()
}

/// Scales an instance value to whole engine units, rejecting what would overflow.
fn scaled(value: f64, scale: f64, line: usize, what: &str) -> Result<Minute, BenchError> {
    let v = (value * scale).round();
    if !v.is_finite() || v.abs() > MAX_SCALED as f64 {
        return Err(BenchError::Invalid {
            line,
            message: format!("{what} {value} is out of range"),
        });
    }
    Ok(v as Minute)
}
