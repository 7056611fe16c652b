//! Validation issues: every problem found in a request, each with a JSON path,
//! a stable code and a human message.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Stable, machine-readable validation codes. The snake_case string of each
/// variant is part of the public API and never changes meaning.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueCode {
    /// The JSON could not be parsed into the request shape (wrong type, unknown field, syntax).
    MalformedJson,
    /// `format` is not a supported version tag.
    UnsupportedFormat,
    /// A date is not `YYYY-MM-DD`.
    InvalidDate,
    /// A time of day is not `HH:MM`.
    InvalidTime,
    /// An instant is not RFC 3339 with an offset.
    InvalidInstant,
    /// A UTC offset is not `+HH:MM`.
    InvalidUtcOffset,
    /// A time zone is not an IANA zone name.
    InvalidTimeZone,
    /// A day selector is not one of daily, weekdays, weekends, mon..sun or a date.
    InvalidDay,
    /// A number is outside its allowed range (or not finite).
    OutOfRange,
    /// Latitude or longitude outside the valid range.
    CoordinatesOutOfRange,
    /// Two objects of one kind share an id.
    DuplicateId,
    /// An id refers to nothing.
    UnknownReference,
    /// A skill is not in `settings.skills`.
    UnknownSkill,
    /// A time band is not in `settings.time_bands`.
    UnknownBand,
    /// An interval ends before (or when) it starts.
    EndBeforeStart,
    /// A visit is longer than the window it must fit in.
    VisitLongerThanWindow,
    /// A double-handed visit has fewer than two carers who could do it.
    TooFewEligibleCarers,
    /// A team has more members than allowed.
    TeamTooLarge,
    /// A polygon is not a valid closed ring of at least four positions.
    InvalidPolygon,
    /// The travel matrix is not square, or too small for the indices used.
    InvalidMatrix,
    /// A location lacks a `matrix_index` while the matrix travel model is used.
    MissingMatrixIndex,
    /// The road network is unusable (no nodes, bad edge).
    InvalidRoadNetwork,
    /// A pinned assignment has no start time, or an assignment has the wrong number of carers.
    InvalidAssignment,
    /// Something listed twice or contradictory (carer both preferred and excluded).
    Contradiction,
    /// More distinct skills than the engine supports (64).
    TooManySkills,
    /// An id breaks the id rule ([`crate::format::ID_RULE`]).
    InvalidId,
    /// Free text is too long or holds control characters.
    InvalidText,
    /// A warning, not an error: the request has packages but no carers, so a
    /// rota would leave every visit unplaced (a brokering request has none on purpose).
    NoCarers,
    /// Well-formed, but a broker rule refuses it in the current state; the message says which.
    Refused,
}

impl IssueCode {
    /// The stable string form of the code.
    pub fn as_str(self) -> &'static str {
        match self {
            IssueCode::MalformedJson => "malformed_json",
            IssueCode::UnsupportedFormat => "unsupported_format",
            IssueCode::InvalidDate => "invalid_date",
            IssueCode::InvalidTime => "invalid_time",
            IssueCode::InvalidInstant => "invalid_instant",
            IssueCode::InvalidUtcOffset => "invalid_utc_offset",
            IssueCode::InvalidTimeZone => "invalid_time_zone",
            IssueCode::InvalidDay => "invalid_day",
            IssueCode::OutOfRange => "out_of_range",
            IssueCode::CoordinatesOutOfRange => "coordinates_out_of_range",
            IssueCode::DuplicateId => "duplicate_id",
            IssueCode::UnknownReference => "unknown_reference",
            IssueCode::UnknownSkill => "unknown_skill",
            IssueCode::UnknownBand => "unknown_band",
            IssueCode::EndBeforeStart => "end_before_start",
            IssueCode::VisitLongerThanWindow => "visit_longer_than_window",
            IssueCode::TooFewEligibleCarers => "too_few_eligible_carers",
            IssueCode::TeamTooLarge => "team_too_large",
            IssueCode::InvalidPolygon => "invalid_polygon",
            IssueCode::InvalidMatrix => "invalid_matrix",
            IssueCode::MissingMatrixIndex => "missing_matrix_index",
            IssueCode::InvalidRoadNetwork => "invalid_road_network",
            IssueCode::InvalidAssignment => "invalid_assignment",
            IssueCode::Contradiction => "contradiction",
            IssueCode::TooManySkills => "too_many_skills",
            IssueCode::InvalidId => "invalid_id",
            IssueCode::InvalidText => "invalid_text",
            IssueCode::NoCarers => "no_carers",
            IssueCode::Refused => "refused",
        }
    }
}

impl fmt::Display for IssueCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem in a request.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    /// JSON path of the offending value, e.g. `$.carers[3].shifts[0].end`.
    pub path: String,
    /// Stable code.
    pub code: IssueCode,
    /// What is wrong, for a human.
    pub message: String,
}

impl Issue {
    /// Creates an issue.
    pub fn new(path: impl Into<String>, code: IssueCode, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]: {}", self.path, self.code, self.message)
    }
}

/// Collects issues while walking a request.
#[derive(Debug, Default)]
pub struct Issues(pub Vec<Issue>);

impl Issues {
    /// Records an issue.
    pub fn push(&mut self, path: impl Into<String>, code: IssueCode, message: impl Into<String>) {
        self.0.push(Issue::new(path, code, message));
    }
    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
