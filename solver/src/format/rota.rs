//! Wire types of a rota: the answer to a [`PlanningRequest`](super::PlanningRequest).
//!
//! A rota is a list of carer routes (one per carer shift) plus the visits that
//! could not be placed, each with machine-readable reasons. Times are RFC 3339
//! instants in the horizon's UTC offset.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A complete rota.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rota {
    /// `"carefill/1"`.
    pub format: String,
    /// One route per carer shift that has visits.
    pub routes: Vec<Route>,
    /// Visits not placed, with reasons.
    #[serde(default)]
    pub unplaced: Vec<UnplacedVisit>,
    /// Key performance indicators (recomputed by the checker).
    #[serde(default)]
    pub kpis: Option<Kpis>,
    /// How the solver ran.
    #[serde(default)]
    pub stats: Option<SolverStats>,
}

/// One carer's visits in one shift, in order.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Carer id.
    pub carer: String,
    /// Shift id as produced by the model: `"{carer}#{date}#{n}"`.
    pub shift: String,
    /// Visits in the order they are made.
    pub stops: Vec<Stop>,
    /// Travel from the shift's start location to the first visit, minutes.
    #[serde(default)]
    pub start_travel_min: u32,
    /// Travel from the last visit to the shift's end location, minutes.
    #[serde(default)]
    pub end_travel_min: u32,
}

/// A visit on a route.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Stop {
    /// Concrete visit id.
    pub visit: String,
    /// Service user id.
    pub service_user: String,
    /// Arrival at the door (RFC 3339).
    pub arrival: String,
    /// Visit start (RFC 3339).
    pub start: String,
    /// Visit end (RFC 3339).
    pub end: String,
    /// Travel from the previous stop (or shift start location), minutes.
    pub travel_min: u32,
    /// Travel distance from the previous stop, metres.
    pub travel_m: u32,
    /// Minutes started after the visit's window closed (soft lateness only).
    #[serde(default)]
    pub late_min: u32,
}

/// A visit left unplaced.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UnplacedVisit {
    /// Concrete visit id.
    pub visit: String,
    /// Service user id.
    pub service_user: String,
    /// Why, most specific first.
    pub reasons: Vec<UnplacedReason>,
}

/// A machine-readable reason with a human explanation.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UnplacedReason {
    /// Stable code, e.g. `no_skilled_carer`.
    pub code: String,
    /// Human explanation.
    pub message: String,
}

/// Rota KPIs. Travel counts only legs between visits unless commute is paid.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Kpis {
    /// Visits to place in the horizon.
    pub visits_total: u32,
    /// Visits placed.
    pub visits_placed: u32,
    /// Visits unplaced.
    pub visits_unplaced: u32,
    /// Paid travel minutes.
    pub travel_min: u64,
    /// Paid travel metres.
    pub travel_m: u64,
    /// Unpaid commute minutes (first and last legs), when commute is unpaid.
    pub commute_min: u64,
    /// Care (visit) minutes delivered, counting each carer of a double-handed visit.
    pub care_min: u64,
    /// Sum of lateness over visits, minutes.
    pub late_min: u64,
    /// Number of visits started late.
    pub late_visits: u32,
    /// Largest lateness of any visit, minutes (the objective's worst-lateness term).
    #[serde(default)]
    pub worst_late_min: u32,
    /// Largest number of distinct carers any service user sees.
    pub max_distinct_carers: u32,
    /// Mean distinct carers per service user with at least one placed visit.
    pub mean_distinct_carers: f64,
    /// Share of carer-visits done by a carer the person already knows (0..1).
    pub known_carer_share: f64,
    /// Distinct carers per service user.
    pub distinct_carers: BTreeMap<String, u32>,
    /// Paid working minutes per carer (visits + paid travel).
    pub working_min: BTreeMap<String, u64>,
}

/// Solver run statistics.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SolverStats {
    /// Wall-clock time of the solve, milliseconds.
    pub elapsed_ms: u64,
    /// Objective value of the returned rota.
    pub objective: f64,
    /// A lower bound on the objective of every rota of this request: each
    /// person priced alone over every carer set within their continuity cap
    /// (carers' room relaxed). Weak on travel, firm on continuity.
    #[serde(default)]
    pub lower_bound: Option<f64>,
    /// Relative gap `(objective - lower_bound) / objective`: how far from
    /// optimal the rota can at most be.
    #[serde(default)]
    pub gap: Option<f64>,
    /// The route-selection MILP's dual bound, if it ran: no rota made of the
    /// pooled routes costs less, though one with other routes may.
    #[serde(default)]
    pub route_pool_bound: Option<f64>,
    /// Random seed used.
    pub seed: u64,
    /// Free-form phase timings and counters.
    #[serde(default)]
    pub phases: BTreeMap<String, f64>,
}
