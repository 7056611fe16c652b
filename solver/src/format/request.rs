//! Wire types of a planning request (`"format": "carefill/1"`).
//!
//! These types mirror the JSON exactly and stay permissive about *values*
//! (times of day, dates, skills are strings) so that [`crate::format::validate`]
//! can report every problem at once with its JSON path. Unknown fields are
//! rejected at parse time.
//!
//! Units: durations in minutes (`*_min`), distances in metres (`*_m`), money
//! in pence (`*_pence`), times of day as local `"HH:MM"` in the horizon's UTC
//! offset, dates as ISO-8601 `YYYY-MM-DD`, instants as RFC 3339 with offset.

use super::days::Day;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The format tag every request and rota carries.
pub const FORMAT_TAG: &str = "carefill/1";

/// A complete planning request: who can care, who needs care, and the rules.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PlanningRequest {
    /// Must be `"carefill/1"`.
    pub format: String,
    /// The days being planned.
    pub horizon: Horizon,
    /// Rules and parameters; every field has a documented default.
    #[serde(default)]
    pub settings: Settings,
    /// How travel time between two locations is obtained.
    #[serde(default)]
    pub travel: TravelSpec,
    /// Care providers (needed for brokering; may be empty for a team rota).
    #[serde(default)]
    pub providers: Vec<Provider>,
    /// Neighbourhood teams.
    #[serde(default)]
    pub teams: Vec<Team>,
    /// Carers (care workers) with their availability.
    #[serde(default)]
    pub carers: Vec<Carer>,
    /// People receiving care.
    #[serde(default)]
    pub service_users: Vec<ServiceUser>,
    /// Care packages: the visit patterns to deliver.
    #[serde(default)]
    pub packages: Vec<Package>,
    /// Visits already assigned (published rota), some pinned.
    #[serde(default)]
    pub existing_rota: Vec<ExistingAssignment>,
    /// RFC 3339 instant: every `existing_rota` visit starting before it is
    /// kept exactly (carers and start), as if pinned: the past is not re-planned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frozen_before: Option<String>,
}

/// The planning horizon: whole local days starting at `start_date`.
///
/// Local times are in `time_zone` (an IANA zone, whose offset follows clock
/// changes) or in a fixed `utc_offset`; give at most one. Without either, local
/// time is UTC.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Horizon {
    /// First planned day, `YYYY-MM-DD`.
    pub start_date: String,
    /// Number of days planned (1-28).
    pub days: u32,
    /// Fixed UTC offset of all local times, e.g. `"+00:00"` (GMT) or `"+01:00"`
    /// (BST). It cannot describe a horizon across a clock change: use `time_zone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utc_offset: Option<String>,
    /// IANA time zone of all local times, e.g. `"Europe/London"`. On the day
    /// clocks go back, a repeated local time means its first occurrence; on
    /// the day they go forward, a skipped local time moves on by the change
    /// (01:30 is 02:30 BST).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

impl Default for Horizon {
    fn default() -> Self {
        Self {
            start_date: "2026-11-30".into(),
            days: 7,
            utc_offset: Some("+00:00".into()),
            time_zone: None,
        }
    }
}

/// A point on the Earth (WGS-84), optionally tied to a row of a supplied travel matrix.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// Latitude in degrees, -90..=90.
    pub lat: f64,
    /// Longitude in degrees, -180..=180.
    pub lon: f64,
    /// Row/column of this place in the request's travel matrix (matrix model only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix_index: Option<u32>,
}

/// Named time bands and defaults that apply to the whole request.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Band name -> local window. Defaults: morning 07:00-10:00, lunch 11:30-14:00,
    /// tea 16:00-18:00, evening 19:00-22:00, night 22:00-07:00 (ends next day).
    pub time_bands: BTreeMap<String, BandWindow>,
    /// Skills a package may require and a carer may hold. Unknown skills are errors.
    pub skills: Vec<String>,
    /// Maximum distinct carers a person sees over the horizon unless the package says otherwise.
    pub default_continuity_cap: u32,
    /// Maximum carers in one neighbourhood team.
    pub max_team_size: u32,
    /// Whether visits may start after their window (with a cost) or never.
    pub lateness: Lateness,
    /// Rest break required in long working days.
    pub break_rule: BreakRule,
    /// Whether travel from a carer's start location to the first visit, and from
    /// the last visit to the end location, is paid working time.
    pub paid_commute: bool,
    /// Objective weights; every field defaults as documented on [`ObjectiveWeights`].
    pub objective: ObjectiveWeights,
}

impl Default for Settings {
    fn default() -> Self {
        let band = |s: &str, e: &str| BandWindow {
            start: s.into(),
            end: e.into(),
        };
        let time_bands = [
            ("morning", band("07:00", "10:00")),
            ("lunch", band("11:30", "14:00")),
            ("tea", band("16:00", "18:00")),
            ("evening", band("19:00", "22:00")),
            ("night", band("22:00", "07:00")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Self {
            time_bands,
            skills: DEFAULT_SKILLS.iter().map(|s| s.to_string()).collect(),
            default_continuity_cap: 4,
            max_team_size: 12,
            lateness: Lateness::default(),
            break_rule: BreakRule::default(),
            paid_commute: false,
            objective: ObjectiveWeights::default(),
        }
    }
}

/// Objective weights, in cost units where one minute of paid travel costs 1.
///
/// The defaults make the levels lexicographic in practice: leaving a visit
/// unplaced (thousands) outweighs any continuity gain (hundreds), which
/// outweighs travel (ones), which outweighs preferences and fairness (fractions
/// to tens). Lateness in soft mode costs `settings.lateness.cost_per_min`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ObjectiveWeights {
    /// Unplaced visit of a crisis package.
    pub unplaced_crisis: f64,
    /// Unplaced visit of a hospital-discharge package (a delayed discharge).
    pub unplaced_hospital_discharge: f64,
    /// Unplaced visit of a package re-provided after a provider failure.
    pub unplaced_provider_failure: f64,
    /// Unplaced visit of a routine package.
    pub unplaced_routine: f64,
    /// Unplaced visit of a planned (future) package.
    pub unplaced_planned: f64,
    /// Each distinct carer a person sees over the horizon.
    pub distinct_carer: f64,
    /// Each carer-visit by someone the person has never met, when the person has known carers.
    pub unknown_carer_visit: f64,
    /// Each minute of paid travel.
    pub travel_min: f64,
    /// Each minute of unpaid commute (first and last legs when commute is unpaid).
    pub commute_min: f64,
    /// Each carer-visit not made by one of the person's preferred carers (when they have any).
    pub non_preferred_carer_visit: f64,
    /// Each carer-visit against the person's preferred carer gender.
    pub non_preferred_gender_visit: f64,
    /// Each minute a guaranteed-hours or salaried carer works below contract over the horizon.
    pub contract_shortfall_min: f64,
    /// Each non-pinned visit given to other carers than on the existing rota.
    pub changed_visit: f64,
    /// Each carer shift that is used at all (calling a carer in).
    pub shift_used: f64,
    /// Each minute of the largest lateness of any visit (soft lateness only):
    /// with it, no one waits much longer than everyone else. Off by default.
    pub worst_late_min: f64,
}

impl Default for ObjectiveWeights {
    fn default() -> Self {
        Self {
            unplaced_crisis: 20_000.0,
            unplaced_hospital_discharge: 15_000.0,
            unplaced_provider_failure: 15_000.0,
            unplaced_routine: 10_000.0,
            unplaced_planned: 8_000.0,
            distinct_carer: 120.0,
            unknown_carer_visit: 15.0,
            travel_min: 1.0,
            commute_min: 0.25,
            non_preferred_carer_visit: 5.0,
            non_preferred_gender_visit: 10.0,
            contract_shortfall_min: 0.05,
            changed_visit: 30.0,
            shift_used: 0.0,
            worst_late_min: 0.0,
        }
    }
}

/// The skills catalogue used when a request does not give its own.
pub const DEFAULT_SKILLS: &[&str] = &[
    "personal_care",
    "dementia",
    "complex_care",
    "clinical_nursing",
    "wound_care",
    "peg_feeding",
    "hoist",
    "medication",
    "nutrition",
    "falls",
    "mental_health",
    "end_of_life",
    "catheter_care",
    "stoma_care",
];

/// A local time window; `end` earlier than `start` means it ends the next day.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BandWindow {
    /// Local `"HH:MM"`.
    pub start: String,
    /// Local `"HH:MM"` (`"24:00"` allowed).
    pub end: String,
}

/// How visit windows bind.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum Lateness {
    /// A visit must start inside its window.
    #[default]
    Hard,
    /// A visit may start up to `max_late_min` after its window, at `cost_per_min`.
    Soft {
        /// Longest lateness tolerated, minutes.
        max_late_min: u32,
        /// Objective cost per minute late (same unit as a travel minute = 1).
        cost_per_min: f64,
    },
}

/// Rest break rule: a working day longer than `after_min` needs one idle gap of
/// at least `duration_min` between two visits.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BreakRule {
    /// Working span (first visit start to last visit end) above which a break is due.
    pub after_min: u32,
    /// Minimum length of the break.
    pub duration_min: u32,
}

impl Default for BreakRule {
    fn default() -> Self {
        Self {
            after_min: 360,
            duration_min: 30,
        }
    }
}

/// Source of travel times.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "model", rename_all = "snake_case", deny_unknown_fields)]
pub enum TravelSpec {
    /// Great-circle distance times a circuity factor at mode- and area-dependent speeds.
    Haversine(HaversineSpec),
    /// A matrix supplied by the caller (e.g. from OSRM); locations use `matrix_index`.
    Matrix(MatrixSpec),
    /// Shortest paths over a road network given in the request.
    RoadNetwork(RoadNetworkSpec),
}

impl Default for TravelSpec {
    fn default() -> Self {
        TravelSpec::Haversine(HaversineSpec::default())
    }
}

/// Parameters of the great-circle travel model. All fields have defaults.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HaversineSpec {
    /// Road distance / straight-line distance for driving (UK roads: ~1.3).
    pub drive_circuity: f64,
    /// Path distance / straight-line distance on foot, by bike or public transport.
    pub path_circuity: f64,
    /// Driving speed in towns, km/h.
    pub urban_drive_kmh: f64,
    /// Driving speed on rural roads, km/h.
    pub rural_drive_kmh: f64,
    /// Walking speed, km/h.
    pub walk_kmh: f64,
    /// Cycling speed, km/h.
    pub cycle_kmh: f64,
    /// Public-transport in-vehicle speed, km/h.
    pub transit_kmh: f64,
    /// Fixed wait added to each public-transport leg, minutes.
    pub transit_wait_min: u32,
    /// Fixed time to park added to each non-zero driving leg, minutes.
    pub parking_min: u32,
    /// Towns: a driving leg with both ends inside one is urban.
    pub urban_areas: Vec<UrbanArea>,
    /// With no `urban_areas`, driving legs shorter than this are treated as urban.
    pub urban_leg_threshold_m: f64,
}

impl Default for HaversineSpec {
    fn default() -> Self {
        Self {
            drive_circuity: 1.3,
            path_circuity: 1.2,
            urban_drive_kmh: 24.0,
            rural_drive_kmh: 48.0,
            walk_kmh: 4.5,
            cycle_kmh: 14.0,
            transit_kmh: 18.0,
            transit_wait_min: 10,
            parking_min: 2,
            urban_areas: Vec::new(),
            urban_leg_threshold_m: 3000.0,
        }
    }
}

/// A town as a circle.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UrbanArea {
    /// Optional name, for humans.
    #[serde(default)]
    pub name: Option<String>,
    /// Centre of the town.
    pub centre: Location,
    /// Radius, metres.
    pub radius_m: f64,
}

/// A caller-supplied travel-time matrix.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MatrixSpec {
    /// `minutes[i][j]`: travel minutes from matrix index i to j (all carers' modes).
    pub minutes: Vec<Vec<u32>>,
    /// Optional `metres[i][j]`; when absent distances are reported as 0.
    #[serde(default)]
    pub metres: Option<Vec<Vec<u32>>>,
}

/// A road network as an edge list over nodes.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RoadNetworkSpec {
    /// Junctions.
    pub nodes: Vec<RoadNode>,
    /// Road segments between junctions.
    pub edges: Vec<RoadEdge>,
    /// Fixed time to park added to each non-zero driving leg, minutes.
    #[serde(default = "default_parking")]
    pub parking_min: u32,
    /// Speed for the walk from a location to its nearest junction, km/h.
    #[serde(default = "default_access_kmh")]
    pub access_kmh: f64,
}

fn default_parking() -> u32 {
    2
}
fn default_access_kmh() -> f64 {
    4.5
}

/// A junction of the road network.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RoadNode {
    /// Unique id.
    pub id: String,
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
}

/// A road segment.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RoadEdge {
    /// Node id.
    pub from: String,
    /// Node id.
    pub to: String,
    /// Length in metres; computed from the node coordinates when absent.
    #[serde(default)]
    pub length_m: Option<f64>,
    /// Driving speed, km/h.
    pub speed_kmh: f64,
    /// Whether the segment can only be driven from `from` to `to`.
    #[serde(default)]
    pub oneway: bool,
}

/// Position of a provider in the brokering cascade.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// First refusal; shares liquidated damages.
    Tier1,
    /// Offered after Tier 1.
    Tier2,
    /// Offered after Tier 2.
    Tier3,
    /// Specialist provider (complex needs, dementia).
    Specialist,
    /// The broker's emergency cover team, paid from the risk pool.
    EmergencyCover,
}

/// Whether a provider may receive packages.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "snake_case")]
pub enum FrameworkStatus {
    /// On the framework and receiving offers.
    #[default]
    Active,
    /// Temporarily receiving no new packages.
    Suspended,
    /// Ceased trading; its packages must be re-brokered.
    Failed,
    /// Not on the framework (spot-only, accredited elsewhere).
    OffFramework,
}

/// The commercial arrangement with a provider.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ContractTerms {
    /// Block contract: the council pays for committed hours whether used or not.
    Block {
        /// Committed minutes per week.
        committed_min_per_week: u32,
    },
    /// Spot purchase per package.
    Spot,
}

/// When a provider takes a fitting package without a human decision.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AutoAcceptPolicy {
    /// Whether auto-accept is on.
    pub enabled: bool,
    /// Largest package (visit minutes per week) accepted automatically; none = any.
    pub max_min_per_week: Option<u32>,
    /// Accept automatically only packages not needing two carers.
    pub single_handed_only: bool,
}

/// A care provider on (or off) the broker's framework.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    /// Unique id.
    pub id: String,
    /// Trading name.
    pub name: String,
    /// Cascade position.
    pub tier: Tier,
    /// Framework status.
    #[serde(default)]
    pub framework_status: FrameworkStatus,
    /// Areas served, GeoJSON `Polygon` / `MultiPolygon` geometries (lon, lat order).
    #[serde(default)]
    pub service_areas: Vec<AreaGeometry>,
    /// Contract terms.
    pub contract: ContractTerms,
    /// Hourly fee, pence.
    pub hourly_rate_pence: u32,
    /// Skills the provider can offer.
    #[serde(default)]
    pub skills: Vec<String>,
    /// Auto-accept policy.
    #[serde(default)]
    pub auto_accept: AutoAcceptPolicy,
}

/// A GeoJSON polygonal geometry. Positions are `[lon, lat]`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum AreaGeometry {
    /// One polygon: exterior ring then holes.
    Polygon {
        /// Rings of `[lon, lat]` positions.
        coordinates: Vec<Vec<[f64; 2]>>,
    },
    /// Several polygons.
    MultiPolygon {
        /// Polygons of rings of `[lon, lat]` positions.
        coordinates: Vec<Vec<Vec<[f64; 2]>>>,
    },
}

/// A neighbourhood team of a provider.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Team {
    /// Unique id.
    pub id: String,
    /// Owning provider id (may be absent for a stand-alone team rota).
    #[serde(default)]
    pub provider: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Team base (office, GP practice).
    pub base: Location,
    /// The neighbourhood it covers.
    #[serde(default)]
    pub area: Option<AreaGeometry>,
    /// Overrides the request's `max_team_size`.
    #[serde(default)]
    pub max_members: Option<u32>,
    /// Maximum people the team cares for.
    #[serde(default)]
    pub max_caseload: Option<u32>,
}

/// Carer gender, as recorded by the provider.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    /// Female.
    Female,
    /// Male.
    Male,
    /// Other / not stated.
    Other,
}

/// Employment contract of a carer.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ContractType {
    /// No guaranteed hours; may decline shifts.
    ZeroHours,
    /// A guaranteed minimum of hours per week.
    GuaranteedHours,
    /// Salaried, paid for contracted hours.
    Salaried,
}

/// How a carer travels.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "snake_case")]
pub enum TravelMode {
    /// Car.
    #[default]
    Drive,
    /// On foot.
    Walk,
    /// Bicycle.
    Cycle,
    /// Bus or train.
    PublicTransport,
}

/// A care worker.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Carer {
    /// Unique id.
    pub id: String,
    /// Team id.
    #[serde(default)]
    pub team: Option<String>,
    /// Skills held.
    #[serde(default)]
    pub skills: Vec<String>,
    /// Gender.
    pub gender: Gender,
    /// Employment contract.
    pub contract: ContractType,
    /// Contracted (or guaranteed) minutes per week; the fairness objective aims at it.
    #[serde(default)]
    pub contracted_min_per_week: u32,
    /// Most working minutes in one day.
    #[serde(default = "default_max_day")]
    pub max_min_per_day: u32,
    /// Most working minutes in one local calendar week (Monday-Sunday).
    #[serde(default = "default_max_week")]
    pub max_min_per_week: u32,
    /// Paid minutes already worked in the calendar week of the horizon's first
    /// day, before that day (a horizon starting on Wednesday: Monday and
    /// Tuesday); they count towards that week's maximum.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub worked_min_before_start: u32,
    /// How the carer travels.
    #[serde(default)]
    pub travel_mode: TravelMode,
    /// Home: default start and end location of every shift.
    pub home: Location,
    /// Availability.
    pub shifts: Vec<Shift>,
    /// Absences (sickness, leave) removing availability.
    #[serde(default)]
    pub absences: Vec<Absence>,
    /// Load a carer can carry in one shift (supplies; also the vehicle capacity of
    /// VRP benchmark instances). None = unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u32>,
}

fn default_max_day() -> u32 {
    600
}
fn default_max_week() -> u32 {
    2880
}

/// A recurring or dated availability shift.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Shift {
    /// Days it applies: `"daily"`, `"weekdays"`, `"weekends"`, `"mon"`..`"sun"`, or `YYYY-MM-DD`.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub days: Vec<Day>,
    /// Local start `"HH:MM"`.
    pub start: String,
    /// Local end `"HH:MM"`; earlier than `start` means the next day (night shift).
    pub end: String,
    /// Overrides the carer's home as start location.
    #[serde(default)]
    pub start_location: Option<Location>,
    /// Overrides the carer's home as end location.
    #[serde(default)]
    pub end_location: Option<Location>,
}

/// A period of unavailability.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Absence {
    /// RFC 3339 instant.
    pub from: String,
    /// RFC 3339 instant.
    pub to: String,
    /// Free-text reason category, e.g. `"sick"`, `"leave"`, `"training"`.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Strength of a carer-gender wish.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Strength {
    /// Must hold.
    Required,
    /// Should hold when possible.
    Preferred,
}

/// A person's wish about their carers' gender.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GenderPreference {
    /// Wanted gender.
    pub gender: Gender,
    /// Required or preferred.
    pub strength: Strength,
}

/// A person receiving care. Personal data is kept to what planning needs.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServiceUser {
    /// Unique, pseudonymous id.
    pub id: String,
    /// Where care is delivered.
    pub location: Location,
    /// Team currently responsible, if any.
    #[serde(default)]
    pub team: Option<String>,
    /// Carer gender wish.
    #[serde(default)]
    pub carer_gender: Option<GenderPreference>,
    /// Carers the person would like (soft).
    #[serde(default)]
    pub preferred_carers: Vec<String>,
    /// Carers who must never visit (hard).
    #[serde(default)]
    pub excluded_carers: Vec<String>,
    /// Carers who have cared for the person before (continuity history).
    #[serde(default)]
    pub known_carers: Vec<String>,
    /// Maximum distinct carers over the horizon; defaults to the request setting.
    #[serde(default)]
    pub continuity_cap: Option<u32>,
}

/// How urgently a package must start.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    /// Same-day crisis response.
    Crisis,
    /// Hospital discharge waiting on the package.
    HospitalDischarge,
    /// Re-provision after a provider failed.
    ProviderFailure,
    /// Community referral / waiting list.
    Routine,
    /// Future-dated (e.g. reablement exit).
    Planned,
}

/// Who pays.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Funding {
    /// Local authority adult social care.
    Council,
    /// NHS continuing healthcare.
    NhsChc,
    /// Joint council/NHS funding.
    Joint,
    /// The person pays.
    SelfFunded,
    /// Direct payment managed by the person.
    DirectPayment,
}

/// A care package: a weekly pattern of visits for one person.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Package {
    /// Unique id.
    pub id: String,
    /// Service user id.
    pub service_user: String,
    /// Visit patterns (at most 50). The concrete visits they make are capped
    /// at 12 a day and 250 over the horizon (`model::MAX_PACKAGE_VISITS*`).
    #[cfg_attr(feature = "openapi", schema(max_items = 50))]
    pub visits: Vec<VisitPattern>,
    /// Timing links between visits on the same day (e.g. medication before a meal).
    #[serde(default)]
    pub links: Vec<VisitLink>,
    /// Skills every visit needs (added to each visit's own).
    #[serde(default)]
    pub required_skills: Vec<String>,
    /// When the referral arrived (RFC 3339); starts the fill clock.
    #[serde(default)]
    pub referral_time: Option<String>,
    /// Urgency.
    #[serde(default = "default_urgency")]
    pub urgency: Urgency,
    /// Funding route.
    #[serde(default = "default_funding")]
    pub funding: Funding,
    /// First day of care, `YYYY-MM-DD`; defaults to the horizon start.
    #[serde(default)]
    pub start_date: Option<String>,
    /// Last day of care (reablement up to 6 weeks), `YYYY-MM-DD`.
    #[serde(default)]
    pub end_date: Option<String>,
}

fn default_urgency() -> Urgency {
    Urgency::Routine
}
fn default_funding() -> Funding {
    Funding::Council
}

/// One recurring visit of a package.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VisitPattern {
    /// Id unique within the package; concrete visits are `"{package}/{id}@{date}"`.
    pub id: String,
    /// Days: `"daily"`, `"weekdays"`, `"weekends"`, `"mon"`..`"sun"`, or `YYYY-MM-DD`.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub days: Vec<Day>,
    /// When the visit may start.
    pub time: TimeSpec,
    /// Length of the visit, minutes (5-480).
    pub duration_min: u32,
    /// 1, or 2 for a double-handed visit (both carers start together).
    #[serde(default = "one")]
    pub carers_required: u32,
    /// Extra skills for this visit.
    #[serde(default)]
    pub required_skills: Vec<String>,
    /// Load the visit takes from the carer's `capacity` (0 for ordinary care visits).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub demand: u32,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

fn one() -> u32 {
    1
}

/// When a visit may start, in local time on its day.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TimeSpec {
    /// Start at exactly this time, `"HH:MM"`.
    Exact(String),
    /// Start within `[start, end]`.
    Window {
        /// Earliest start `"HH:MM"`.
        start: String,
        /// Latest start `"HH:MM"`.
        end: String,
    },
    /// Start inside a named band from `settings.time_bands`; the visit must also end inside it.
    Band(String),
}

/// A same-day timing link: `then` starts between `min_gap_min` and `max_gap_min`
/// after `first` ends.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VisitLink {
    /// Visit pattern id.
    pub first: String,
    /// Visit pattern id.
    pub then: String,
    /// Minimum gap, minutes.
    #[serde(default)]
    pub min_gap_min: u32,
    /// Maximum gap, minutes.
    pub max_gap_min: u32,
}

/// A visit already on the rota.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExistingAssignment {
    /// Concrete visit id `"{package}/{pattern}@{date}"`.
    pub visit: String,
    /// Carer ids (two for a double-handed visit).
    pub carers: Vec<String>,
    /// Planned start, RFC 3339; required when pinned.
    #[serde(default)]
    pub start: Option<String>,
    /// Whether the solver must keep it exactly.
    #[serde(default)]
    pub pinned: bool,
}
