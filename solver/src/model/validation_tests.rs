//! The request validator is complete and never panics.
//!
//! * A hand-checked baseline request validates cleanly and expands as documented.
//! * Every [`IssueCode`] the validator can produce is planted into the baseline
//!   and must come back at the exact JSON path, with a message.
//! * One request with many problems reports all of them in one call.
//! * Structural errors (`parse_request`) carry a JSON path.
//! * Property tests feed arbitrary text, mutated requests and random
//!   time/date strings through parsing and validation: no panics, and every
//!   issue is well formed.

use super::time::{DAY, format_clock, parse_clock, parse_date, parse_offset};
use super::{LatenessRule, MAX_PACKAGE_VISITS_PER_DAY, Problem, SkillSet};
use crate::format::{Gender, Issue, IssueCode, PlanningRequest, parse_request};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use std::cell::Cell;
use std::collections::HashSet;

// ---------------------------------------------------------------------------
// Baseline and helpers
// ---------------------------------------------------------------------------

/// Three carers, two people, two packages, one week from Monday 2026-11-30.
///
/// * `pk1` (su1): `am` daily 07:30-09:30 window, 45 min, double-handed with hoist
///   (eligible: c1, c2; c3 is excluded and lacks hoist); `meds` weekdays exactly
///   12:00; a link `am` -> `meds`.
/// * `pk2` (su2): runs Wed 2 Dec to Sat 5 Dec; `lunch` Mon/Wed/Fri in the lunch
///   band; `night` Saturday in the night band (22:00-07:00, wraps).
/// * c1 works weekdays 07:00-15:00 and is away Tue 10:00-11:00; c2 works daily
///   07:00-14:00 plus a Saturday night shift; c3 works one dated evening.
fn baseline() -> Value {
    json!({
        "format": "carefill/1",
        "horizon": {"start_date": "2026-11-30", "days": 7, "utc_offset": "+00:00"},
        "settings": {
            "skills": ["personal_care", "hoist", "medication", "dementia"],
            "time_bands": {
                "morning": {"start": "07:00", "end": "10:00"},
                "lunch": {"start": "11:30", "end": "14:00"},
                "night": {"start": "22:00", "end": "07:00"}
            },
            "default_continuity_cap": 4,
            "max_team_size": 10,
            "lateness": {"mode": "soft", "max_late_min": 30, "cost_per_min": 2.0},
            "break_rule": {"after_min": 360, "duration_min": 30},
            "objective": {"travel_min": 1.0, "distinct_carer": 100.0}
        },
        "providers": [{
            "id": "p1",
            "name": "Exe Valley Care",
            "tier": "tier1",
            "service_areas": [{"type": "Polygon", "coordinates": [[
                [-3.60, 50.65], [-3.40, 50.65], [-3.40, 50.80], [-3.60, 50.80], [-3.60, 50.65]
            ]]}],
            "contract": {"type": "block", "committed_min_per_week": 6000},
            "hourly_rate_pence": 2450,
            "skills": ["personal_care", "hoist"],
            "auto_accept": {"enabled": true, "max_min_per_week": 600}
        }],
        "teams": [{
            "id": "t1", "provider": "p1", "name": "Exeter North",
            "base": {"lat": 50.730, "lon": -3.530}, "max_members": 4
        }],
        "carers": [
            {"id": "c1", "team": "t1", "skills": ["personal_care", "hoist", "medication"],
             "gender": "female", "contract": "guaranteed_hours", "contracted_min_per_week": 1200,
             "home": {"lat": 50.720, "lon": -3.500},
             "shifts": [{"days": ["weekdays"], "start": "07:00", "end": "15:00"}],
             "absences": [{"from": "2026-12-01T10:00:00+00:00", "to": "2026-12-01T11:00:00+00:00", "reason": "training"}]},
            {"id": "c2", "team": "t1", "skills": ["personal_care", "hoist"],
             "gender": "male", "contract": "zero_hours", "travel_mode": "walk",
             "home": {"lat": 50.740, "lon": -3.520},
             "shifts": [
                {"days": ["daily"], "start": "07:00", "end": "14:00"},
                {"days": ["sat"], "start": "22:00", "end": "07:00", "start_location": {"lat": 50.730, "lon": -3.530}}
             ]},
            {"id": "c3", "skills": ["personal_care", "dementia"],
             "gender": "female", "contract": "salaried",
             "home": {"lat": 50.710, "lon": -3.540},
             "shifts": [{"days": ["2026-12-02"], "start": "16:00", "end": "22:00"}]}
        ],
        "service_users": [
            {"id": "su1", "location": {"lat": 50.725, "lon": -3.520}, "team": "t1",
             "carer_gender": {"gender": "female", "strength": "preferred"},
             "preferred_carers": ["c1"], "excluded_carers": ["c3"], "known_carers": ["c2"]},
            {"id": "su2", "location": {"lat": 50.715, "lon": -3.510}, "continuity_cap": 3}
        ],
        "packages": [
            {"id": "pk1", "service_user": "su1", "urgency": "hospital_discharge", "funding": "council",
             "referral_time": "2026-11-28T09:00:00+00:00", "required_skills": ["personal_care"],
             "visits": [
                {"id": "am", "days": ["daily"], "time": {"window": {"start": "07:30", "end": "09:30"}},
                 "duration_min": 45, "carers_required": 2, "required_skills": ["hoist"]},
                {"id": "meds", "days": ["weekdays"], "time": {"exact": "12:00"},
                 "duration_min": 15, "required_skills": ["medication"]}
             ],
             "links": [{"first": "am", "then": "meds", "min_gap_min": 60, "max_gap_min": 240}]},
            {"id": "pk2", "service_user": "su2", "urgency": "routine", "funding": "self_funded",
             "start_date": "2026-12-02", "end_date": "2026-12-05",
             "visits": [
                {"id": "lunch", "days": ["mon", "wed", "fri"], "time": {"band": "lunch"}, "duration_min": 30},
                {"id": "night", "days": ["sat"], "time": {"band": "night"}, "duration_min": 60}
             ]}
        ],
        "existing_rota": [
            {"visit": "pk1/am@2026-11-30", "carers": ["c1", "c2"], "start": "2026-11-30T08:00:00+00:00", "pinned": true}
        ]
    })
}

/// The baseline with `"travel": {"model": "matrix"}` and a matrix index on every location.
fn matrix_baseline() -> Value {
    fn index_locations(v: &mut Value, next: &mut u32) {
        match v {
            Value::Object(m) => {
                if m.contains_key("lat") && m.contains_key("lon") {
                    m.insert("matrix_index".into(), json!(*next));
                    *next += 1;
                }
                for (_, x) in m.iter_mut() {
                    index_locations(x, next);
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| index_locations(x, next)),
            _ => {}
        }
    }
    let mut v = baseline();
    let mut n = 0;
    index_locations(&mut v, &mut n);
    let n = n as usize;
    let minutes: Vec<Vec<u32>> = (0..n)
        .map(|i| (0..n).map(|j| (i.abs_diff(j) * 4) as u32).collect())
        .collect();
    v["travel"] = json!({"model": "matrix", "minutes": minutes});
    v
}

/// The baseline with a two-node road network.
fn road_baseline() -> Value {
    let mut v = baseline();
    v["travel"] = json!({
        "model": "road_network",
        "nodes": [{"id": "a", "lat": 50.720, "lon": -3.500}, {"id": "b", "lat": 50.730, "lon": -3.530}],
        "edges": [{"from": "a", "to": "b", "speed_kmh": 40.0}]
    });
    v
}

fn at<'a>(v: &'a mut Value, ptr: &str) -> &'a mut Value {
    v.pointer_mut(ptr)
        .unwrap_or_else(|| panic!("no `{ptr}` in the request"))
}

/// Replaces the value at `ptr`, or adds it as a new member of an existing object.
fn set(v: &mut Value, ptr: &str, x: Value) {
    if let Some(old) = v.pointer_mut(ptr) {
        *old = x;
        return;
    }
    let (parent, key) = ptr.rsplit_once('/').unwrap_or(("", ptr));
    at(v, parent)
        .as_object_mut()
        .unwrap_or_else(|| panic!("`{parent}` is not an object"))
        .insert(key.to_string(), x);
}

fn push(v: &mut Value, ptr: &str, x: Value) {
    at(v, ptr)
        .as_array_mut()
        .unwrap_or_else(|| panic!("`{ptr}` is not an array"))
        .push(x);
}

fn remove(v: &mut Value, ptr: &str, key: &str) {
    at(v, ptr)
        .as_object_mut()
        .unwrap_or_else(|| panic!("`{ptr}` is not an object"))
        .remove(key);
}

/// Parses through the public text entry point; the request must be structurally valid.
fn request_of(v: &Value) -> PlanningRequest {
    parse_request(&v.to_string()).unwrap_or_else(|e| panic!("request should parse: {e}"))
}

fn validate(v: &Value) -> Result<Problem, Vec<Issue>> {
    Problem::from_request(&request_of(v))
}

fn problem(v: &Value) -> Problem {
    validate(v).unwrap_or_else(|issues| panic!("expected no issues, got:\n{}", list(&issues)))
}

fn list(issues: &[Issue]) -> String {
    issues.iter().map(|i| format!("  {i}\n")).collect()
}

/// Asserts validation fails with `code` at exactly `path` and a non-empty message.
#[track_caller]
fn assert_issue(v: &Value, path: &str, code: IssueCode) -> Vec<Issue> {
    let issues = match validate(v) {
        Ok(_) => panic!("expected {code} at {path}, but the request validated"),
        Err(issues) => issues,
    };
    assert!(
        issues
            .iter()
            .any(|i| i.path == path && i.code == code && !i.message.trim().is_empty()),
        "expected {code} at {path}; got:\n{}",
        list(&issues)
    );
    issues
}

// ---------------------------------------------------------------------------
// 1. The baseline
// ---------------------------------------------------------------------------

#[test]
fn baseline_validates_without_issues() {
    let p = problem(&baseline());
    assert_eq!(p.horizon.days, 7);
    assert_eq!(
        p.skills,
        ["personal_care", "hoist", "medication", "dementia"]
    );
    assert_eq!(
        p.lateness,
        LatenessRule::Soft {
            max_late_min: 30,
            cost_per_min: 2.0
        }
    );
    assert_eq!((p.break_after, p.break_duration), (360, 30));
    assert_eq!(p.weights.distinct_carer, 100.0);
    assert_eq!(
        p.weights.unplaced_crisis, 20_000.0,
        "unset weights keep their defaults"
    );
    assert_eq!(
        (
            p.providers.len(),
            p.teams.len(),
            p.carers.len(),
            p.service_users.len()
        ),
        (1, 1, 3, 2)
    );
    assert!(
        !p.providers[0].areas.0.is_empty(),
        "the service area polygon is kept"
    );
    assert_eq!(p.providers[0].block_min_per_week, Some(6000));
    assert_eq!(p.teams[0].provider, Some(0));
    assert_eq!(p.teams[0].carers, [0, 1]);
    assert_eq!(p.carers[2].team, None);
}

#[test]
fn matrix_and_road_network_baselines_validate() {
    let m = problem(&matrix_baseline());
    assert_eq!(m.travel.name(), "matrix");
    let r = problem(&road_baseline());
    assert_eq!(r.travel.name(), "road_network");
}

#[test]
fn a_minimal_request_validates() {
    let p = problem(
        &json!({"format": "carefill/1", "horizon": {"start_date": "2026-11-30", "days": 1}}),
    );
    assert!(p.visits.is_empty() && p.shifts.is_empty());
    assert_eq!(p.horizon.origin().to_rfc3339(), "2026-11-30T00:00:00+00:00");
}

#[test]
fn baseline_expands_visits() {
    let p = problem(&baseline());
    // pk1: am daily (7) + meds weekdays (5); pk2 limited to Wed 2 - Sat 5 Dec:
    // lunch Wed and Fri (Mon 30 Nov is before its start), night Sat.
    assert_eq!(p.visits.len(), 7 + 5 + 2 + 1);
    assert_eq!(p.packages[0].visits.len(), 12);
    assert_eq!(p.packages[1].visits.len(), 3);
    let v = |id: &str| &p.visits[p.visit_index[id]];

    // Window: the whole visit fits, so the latest start is 09:30 - 45 min.
    let am = v("pk1/am@2026-11-30");
    assert_eq!(
        (am.day, am.earliest_start, am.latest_start, am.duration),
        (0, 450, 525, 45)
    );
    assert_eq!(am.carers_required, 2);
    assert_eq!(
        am.skills,
        SkillSet(0b11),
        "package skill personal_care + visit skill hoist"
    );
    assert_eq!(p.locations[am.location].lat, 50.725);
    let am_sun = v("pk1/am@2026-12-06");
    assert_eq!(
        (am_sun.day, am_sun.earliest_start, am_sun.latest_start),
        (6, 6 * DAY + 450, 6 * DAY + 525)
    );

    // Exact: a fixed start.
    let meds = v("pk1/meds@2026-12-01");
    assert_eq!(
        (meds.earliest_start, meds.latest_start, meds.duration),
        (DAY + 720, DAY + 720, 15)
    );
    assert_eq!(meds.carers_required, 1);
    assert!(
        !p.visit_index.contains_key("pk1/meds@2026-12-05"),
        "no meds at the weekend"
    );

    // Band: lunch 11:30-14:00, latest start 14:00 - 30 min.
    let lunch = v("pk2/lunch@2026-12-02");
    assert_eq!(
        (lunch.day, lunch.earliest_start, lunch.latest_start),
        (2, 2 * DAY + 690, 2 * DAY + 810)
    );
    assert!(p.visit_index.contains_key("pk2/lunch@2026-12-04"));
    assert!(
        !p.visit_index.contains_key("pk2/lunch@2026-11-30"),
        "before the package starts"
    );

    // Night band 22:00-07:00 wraps to the next day: latest start Sun 07:00 - 60 min.
    let night = v("pk2/night@2026-12-05");
    assert_eq!(
        (night.day, night.earliest_start, night.latest_start),
        (5, 5 * DAY + 22 * 60, 6 * DAY + 6 * 60)
    );

    // Links: am -> meds on the five weekdays, start to start = duration of am + gap.
    assert_eq!(p.links.len(), 5);
    for l in &p.links {
        assert_eq!((l.min_offset, l.max_offset), (45 + 60, 45 + 240));
        assert_eq!(p.visits[l.first].day, p.visits[l.then].day);
        assert!(
            p.visits[l.first].id.starts_with("pk1/am@")
                && p.visits[l.then].id.starts_with("pk1/meds@")
        );
    }

    // Referral two days before the horizon, at 09:00.
    assert_eq!(p.packages[0].referral, Some(-2 * i64::from(DAY) + 540));
    assert_eq!(p.packages[1].referral, None);

    // The pinned assignment.
    assert_eq!(p.existing.len(), 1);
    let e = &p.existing[0];
    assert_eq!(
        (e.visit, e.carers.as_slice(), e.start, e.pinned),
        (
            p.visit_index["pk1/am@2026-11-30"],
            &[0, 1][..],
            Some(480),
            true
        )
    );
}

#[test]
fn baseline_expands_shifts() {
    let p = problem(&baseline());
    // c1: 5 weekday shifts, Tuesday split in two by the absence; c2: 7 daily + 1 night; c3: 1.
    assert_eq!(p.shifts.len(), 6 + 8 + 1);
    assert_eq!(p.shift_index.len(), p.shifts.len(), "shift ids are unique");
    assert_eq!(
        (
            p.carers[0].shifts.len(),
            p.carers[1].shifts.len(),
            p.carers[2].shifts.len()
        ),
        (6, 8, 1)
    );
    let s = |id: &str| {
        &p.shifts[*p
            .shift_index
            .get(id)
            .unwrap_or_else(|| panic!("no shift {id}"))]
    };

    let mon = s("c1#2026-11-30#1");
    assert_eq!((mon.carer, mon.day, mon.start, mon.end), (0, 0, 420, 900));
    let tue1 = s("c1#2026-12-01#1");
    let tue2 = s("c1#2026-12-01#2");
    assert_eq!((tue1.day, tue1.start, tue1.end), (1, DAY + 420, DAY + 600));
    assert_eq!((tue2.day, tue2.start, tue2.end), (1, DAY + 660, DAY + 900));
    assert!(
        !p.shift_index.contains_key("c1#2026-12-05#1"),
        "c1 does not work weekends"
    );

    let night = s("c2#2026-12-05#2");
    assert_eq!(
        (night.carer, night.day, night.start, night.end),
        (1, 5, 5 * DAY + 22 * 60, 6 * DAY + 7 * 60)
    );
    assert_eq!(night.start_loc, p.teams[0].base, "start location override");
    assert_eq!(night.end_loc, p.carers[1].home);
    assert_eq!(s("c2#2026-12-06#1").start, 6 * DAY + 420);

    let c3 = s("c3#2026-12-02#1");
    assert_eq!(
        (c3.day, c3.start, c3.end),
        (2, 2 * DAY + 960, 2 * DAY + 1320)
    );

    // Shifts of each carer are in time order and the carer lists point back.
    for (c, carer) in p.carers.iter().enumerate() {
        for w in carer.shifts.windows(2) {
            assert!(p.shifts[w[0]].start < p.shifts[w[1]].start);
        }
        assert!(carer.shifts.iter().all(|&s| p.shifts[s].carer == c));
    }
}

#[test]
fn baseline_people_and_preferences() {
    let p = problem(&baseline());
    let su1 = &p.service_users[0];
    assert_eq!(
        (
            su1.preferred.as_slice(),
            su1.excluded.as_slice(),
            su1.known.as_slice()
        ),
        (&[0][..], &[2][..], &[1][..])
    );
    assert_eq!(
        (su1.gender_required, su1.gender_preferred),
        (None, Some(Gender::Female))
    );
    assert_eq!(
        (su1.continuity_cap, p.service_users[1].continuity_cap),
        (4, 3)
    );
    assert_eq!(su1.team, Some(0));
    let am = p.visit_index["pk1/am@2026-11-30"];
    let eligible: Vec<usize> = (0..3).filter(|&c| p.eligibility(c, am).is_ok()).collect();
    assert_eq!(
        eligible,
        [0, 1],
        "two eligible carers for the double-handed visit"
    );
}

#[test]
fn a_visit_exactly_filling_its_window_is_accepted() {
    let mut v = baseline();
    set(
        &mut v,
        "/packages/0/visits/0/time/window/end",
        json!("08:15"),
    );
    let p = problem(&v);
    let am = &p.visits[p.visit_index["pk1/am@2026-11-30"]];
    assert_eq!((am.earliest_start, am.latest_start), (450, 450));
    // 60 minutes fill the 22:00-07:00 night band many times over; 480 minutes still fit its 540.
    set(&mut v, "/packages/1/visits/1/duration_min", json!(480));
    let p = problem(&v);
    let night = &p.visits[p.visit_index["pk2/night@2026-12-05"]];
    assert_eq!(night.latest_start, 5 * DAY + 22 * 60 + 60);
}

#[test]
fn validation_is_deterministic() {
    let mut v = baseline();
    set(&mut v, "/carers/0/skills/0", json!("juggling"));
    set(&mut v, "/packages/1/service_user", json!("nobody"));
    set(&mut v, "/service_users/1/location/lat", json!(95.0));
    let a = validate(&v).unwrap_err();
    let b = validate(&v).unwrap_err();
    assert_eq!(a, b);
}

// ---------------------------------------------------------------------------
// 2. One planted problem per issue code
// ---------------------------------------------------------------------------

/// Every code, in declaration order.
const ALL_CODES: [IssueCode; 29] = [
    IssueCode::MalformedJson,
    IssueCode::UnsupportedFormat,
    IssueCode::InvalidDate,
    IssueCode::InvalidTime,
    IssueCode::InvalidInstant,
    IssueCode::InvalidUtcOffset,
    IssueCode::InvalidTimeZone,
    IssueCode::InvalidDay,
    IssueCode::OutOfRange,
    IssueCode::CoordinatesOutOfRange,
    IssueCode::DuplicateId,
    IssueCode::UnknownReference,
    IssueCode::UnknownSkill,
    IssueCode::UnknownBand,
    IssueCode::EndBeforeStart,
    IssueCode::VisitLongerThanWindow,
    IssueCode::TooFewEligibleCarers,
    IssueCode::TeamTooLarge,
    IssueCode::InvalidPolygon,
    IssueCode::InvalidMatrix,
    IssueCode::MissingMatrixIndex,
    IssueCode::InvalidRoadNetwork,
    IssueCode::InvalidAssignment,
    IssueCode::Contradiction,
    IssueCode::TooManySkills,
    IssueCode::InvalidId,
    IssueCode::InvalidText,
    IssueCode::NoCarers,
    IssueCode::Refused,
];

/// Exhaustive on purpose: a new variant fails to compile here until it gets a test.
fn listed(code: IssueCode) -> bool {
    match code {
        IssueCode::MalformedJson
        | IssueCode::UnsupportedFormat
        | IssueCode::InvalidDate
        | IssueCode::InvalidTime
        | IssueCode::InvalidInstant
        | IssueCode::InvalidUtcOffset
        | IssueCode::InvalidTimeZone
        | IssueCode::InvalidDay
        | IssueCode::OutOfRange
        | IssueCode::CoordinatesOutOfRange
        | IssueCode::DuplicateId
        | IssueCode::UnknownReference
        | IssueCode::UnknownSkill
        | IssueCode::UnknownBand
        | IssueCode::EndBeforeStart
        | IssueCode::VisitLongerThanWindow
        | IssueCode::TooFewEligibleCarers
        | IssueCode::TeamTooLarge
        | IssueCode::InvalidPolygon
        | IssueCode::InvalidMatrix
        | IssueCode::MissingMatrixIndex
        | IssueCode::InvalidRoadNetwork
        | IssueCode::InvalidAssignment
        | IssueCode::Contradiction
        | IssueCode::TooManySkills
        | IssueCode::InvalidId
        | IssueCode::InvalidText
        | IssueCode::NoCarers
        | IssueCode::Refused => ALL_CODES.contains(&code),
    }
}

#[derive(Clone, Copy)]
enum Base {
    Plain,
    Matrix,
    Road,
}

/// One planted problem: start from `base`, apply `plant`, expect `code` at `path`.
struct Case {
    name: &'static str,
    base: Base,
    plant: fn(&mut Value),
    path: &'static str,
    code: IssueCode,
}

fn case(name: &'static str, code: IssueCode, path: &'static str, plant: fn(&mut Value)) -> Case {
    Case {
        name,
        base: Base::Plain,
        plant,
        path,
        code,
    }
}

fn cases() -> Vec<Case> {
    use IssueCode::*;
    let mut out = vec![
        // unsupported_format
        case(
            "format tag of a future version",
            UnsupportedFormat,
            "$.format",
            |v| set(v, "/format", json!("carefill/2")),
        ),
        case("empty format tag", UnsupportedFormat, "$.format", |v| {
            set(v, "/format", json!(""))
        }),
        // invalid_date
        case(
            "horizon month 13",
            InvalidDate,
            "$.horizon.start_date",
            |v| set(v, "/horizon/start_date", json!("2026-13-01")),
        ),
        case(
            "horizon 30 February",
            InvalidDate,
            "$.horizon.start_date",
            |v| set(v, "/horizon/start_date", json!("2026-02-30")),
        ),
        case(
            "horizon date with a five-digit year",
            InvalidDate,
            "$.horizon.start_date",
            |v| set(v, "/horizon/start_date", json!("+262142-12-31")),
        ),
        case(
            "horizon date without zero padding",
            InvalidDate,
            "$.horizon.start_date",
            |v| set(v, "/horizon/start_date", json!("2026-12-1")),
        ),
        case(
            "package start date in UK order",
            InvalidDate,
            "$.packages[1].start_date",
            |v| set(v, "/packages/1/start_date", json!("02/12/2026")),
        ),
        case(
            "package end date 32 December",
            InvalidDate,
            "$.packages[1].end_date",
            |v| set(v, "/packages/1/end_date", json!("2026-12-32")),
        ),
        // invalid_time
        case(
            "shift end 25:00",
            InvalidTime,
            "$.carers[1].shifts[0].end",
            |v| set(v, "/carers/1/shifts/0/end", json!("25:00")),
        ),
        case(
            "shift start without leading zero",
            InvalidTime,
            "$.carers[0].shifts[0].start",
            |v| set(v, "/carers/0/shifts/0/start", json!("7:00")),
        ),
        case(
            "exact time 12:60",
            InvalidTime,
            "$.packages[0].visits[1].time.exact",
            |v| set(v, "/packages/0/visits/1/time/exact", json!("12:60")),
        ),
        case(
            "window start noon",
            InvalidTime,
            "$.packages[0].visits[0].time.window.start",
            |v| set(v, "/packages/0/visits/0/time/window/start", json!("noon")),
        ),
        case(
            "window end 24:01",
            InvalidTime,
            "$.packages[0].visits[0].time.window.end",
            |v| set(v, "/packages/0/visits/0/time/window/end", json!("24:01")),
        ),
        case(
            "band end with seconds",
            InvalidTime,
            "$.settings.time_bands.lunch.end",
            |v| set(v, "/settings/time_bands/lunch/end", json!("14:00:00")),
        ),
        // invalid_instant
        case(
            "absence without T and offset",
            InvalidInstant,
            "$.carers[0].absences[0].from",
            |v| set(v, "/carers/0/absences/0/from", json!("2026-12-01 10:00")),
        ),
        case(
            "absence to in words",
            InvalidInstant,
            "$.carers[0].absences[0].to",
            |v| set(v, "/carers/0/absences/0/to", json!("tomorrow")),
        ),
        case(
            "referral without offset",
            InvalidInstant,
            "$.packages[0].referral_time",
            |v| set(v, "/packages/0/referral_time", json!("2026-11-28T09:00:00")),
        ),
        case(
            "existing start as a clock time",
            InvalidInstant,
            "$.existing_rota[0].start",
            |v| set(v, "/existing_rota/0/start", json!("08:00")),
        ),
        // invalid_utc_offset
        case(
            "offset +25:00",
            InvalidUtcOffset,
            "$.horizon.utc_offset",
            |v| set(v, "/horizon/utc_offset", json!("+25:00")),
        ),
        case(
            "offset +19:00",
            InvalidUtcOffset,
            "$.horizon.utc_offset",
            |v| set(v, "/horizon/utc_offset", json!("+19:00")),
        ),
        case(
            "offset GMT",
            InvalidUtcOffset,
            "$.horizon.utc_offset",
            |v| set(v, "/horizon/utc_offset", json!("GMT")),
        ),
        case(
            "offset without sign",
            InvalidUtcOffset,
            "$.horizon.utc_offset",
            |v| set(v, "/horizon/utc_offset", json!("01:00")),
        ),
        // invalid_time_zone
        case(
            "unknown zone",
            InvalidTimeZone,
            "$.horizon.time_zone",
            |v| {
                v["horizon"] =
                    json!({"start_date": "2026-11-30", "days": 7, "time_zone": "Mars/Olympus"});
            },
        ),
        case(
            "zone in lower case",
            InvalidTimeZone,
            "$.horizon.time_zone",
            |v| {
                v["horizon"] =
                    json!({"start_date": "2026-11-30", "days": 7, "time_zone": "europe/london"});
            },
        ),
        case(
            "zone and offset both",
            Contradiction,
            "$.horizon.time_zone",
            |v| {
                v["horizon"]["time_zone"] = json!("Europe/London");
            },
        ),
        // invalid_day
        case(
            "shift day someday",
            InvalidDay,
            "$.carers[1].shifts[0].days[1]",
            |v| set(v, "/carers/1/shifts/0/days", json!(["daily", "someday"])),
        ),
        case(
            "visit day funday",
            InvalidDay,
            "$.packages[0].visits[0].days[0]",
            |v| set(v, "/packages/0/visits/0/days", json!(["funday"])),
        ),
        case(
            "visit day on an impossible date",
            InvalidDay,
            "$.packages[1].visits[0].days[2]",
            |v| {
                set(
                    v,
                    "/packages/1/visits/0/days",
                    json!(["mon", "wed", "2026-02-30"]),
                )
            },
        ),
        case(
            "empty day selector",
            InvalidDay,
            "$.carers[2].shifts[0].days[0]",
            |v| set(v, "/carers/2/shifts/0/days", json!([""])),
        ),
        // out_of_range
        case("horizon of 0 days", OutOfRange, "$.horizon.days", |v| {
            set(v, "/horizon/days", json!(0))
        }),
        case("horizon of 29 days", OutOfRange, "$.horizon.days", |v| {
            set(v, "/horizon/days", json!(29))
        }),
        case(
            "visit of 0 minutes",
            OutOfRange,
            "$.packages[0].visits[1].duration_min",
            |v| set(v, "/packages/0/visits/1/duration_min", json!(0)),
        ),
        case(
            "visit of 500 minutes",
            OutOfRange,
            "$.packages[0].visits[1].duration_min",
            |v| set(v, "/packages/0/visits/1/duration_min", json!(500)),
        ),
        case(
            "windowed visit of 500 minutes",
            OutOfRange,
            "$.packages[0].visits[0].duration_min",
            |v| set(v, "/packages/0/visits/0/duration_min", json!(500)),
        ),
        case(
            "three carers required",
            OutOfRange,
            "$.packages[0].visits[0].carers_required",
            |v| set(v, "/packages/0/visits/0/carers_required", json!(3)),
        ),
        case(
            "zero carers required",
            OutOfRange,
            "$.packages[0].visits[1].carers_required",
            |v| set(v, "/packages/0/visits/1/carers_required", json!(0)),
        ),
        case(
            "weight 1e12",
            OutOfRange,
            "$.settings.objective.travel_min",
            |v| set(v, "/settings/objective/travel_min", json!(1e12)),
        ),
        case(
            "negative weight",
            OutOfRange,
            "$.settings.objective.unplaced_routine",
            |v| set(v, "/settings/objective/unplaced_routine", json!(-1.0)),
        ),
        case(
            "negative lateness cost",
            OutOfRange,
            "$.settings.lateness.cost_per_min",
            |v| set(v, "/settings/lateness/cost_per_min", json!(-0.5)),
        ),
        case(
            "lateness cost 1e12",
            OutOfRange,
            "$.settings.lateness.cost_per_min",
            |v| set(v, "/settings/lateness/cost_per_min", json!(1e12)),
        ),
        case(
            "lateness over a day",
            OutOfRange,
            "$.settings.lateness.max_late_min",
            |v| set(v, "/settings/lateness/max_late_min", json!(1441)),
        ),
        case(
            "continuity cap 0",
            OutOfRange,
            "$.settings.default_continuity_cap",
            |v| set(v, "/settings/default_continuity_cap", json!(0)),
        ),
        case("team size 0", OutOfRange, "$.settings.max_team_size", |v| {
            set(v, "/settings/max_team_size", json!(0))
        }),
        case(
            "break of 241 minutes",
            OutOfRange,
            "$.settings.break_rule.duration_min",
            |v| set(v, "/settings/break_rule/duration_min", json!(241)),
        ),
        case(
            "empty skill name",
            OutOfRange,
            "$.settings.skills[4]",
            |v| push(v, "/settings/skills", json!(" ")),
        ),
        case(
            "carer day of 1441 minutes",
            OutOfRange,
            "$.carers[0].max_min_per_day",
            |v| set(v, "/carers/0/max_min_per_day", json!(1441)),
        ),
        case(
            "carer week of 0 minutes",
            OutOfRange,
            "$.carers[1].max_min_per_week",
            |v| set(v, "/carers/1/max_min_per_week", json!(0)),
        ),
        case(
            "contract beyond a week",
            OutOfRange,
            "$.carers[0].contracted_min_per_week",
            |v| set(v, "/carers/0/contracted_min_per_week", json!(10081)),
        ),
        case(
            "hourly rate of 4294967295 pence",
            OutOfRange,
            "$.providers[0].hourly_rate_pence",
            |v| set(v, "/providers/0/hourly_rate_pence", json!(4_294_967_295u64)),
        ),
        case(
            "person continuity cap 0",
            OutOfRange,
            "$.service_users[1].continuity_cap",
            |v| set(v, "/service_users/1/continuity_cap", json!(0)),
        ),
        // invalid_id
        case("empty carer id", InvalidId, "$.carers[2].id", |v| {
            set(v, "/carers/2/id", json!(""))
        }),
        case(
            "empty visit id",
            InvalidId,
            "$.packages[1].visits[1].id",
            |v| set(v, "/packages/1/visits/1/id", json!("")),
        ),
        case(
            "package id with a slash",
            InvalidId,
            "$.packages[1].id",
            |v| set(v, "/packages/1/id", json!("pk1/x")),
        ),
        case("package id with NUL", InvalidId, "$.packages[0].id", |v| {
            set(v, "/packages/0/id", json!("pk\0"))
        }),
        case(
            "service user id with a leading space",
            InvalidId,
            "$.service_users[0].id",
            |v| set(v, "/service_users/0/id", json!(" su1")),
        ),
        case(
            "visit id with @ and #",
            InvalidId,
            "$.packages[0].visits[0].id",
            |v| set(v, "/packages/0/visits/0/id", json!("am@#")),
        ),
        case(
            "provider id of 101 characters",
            InvalidId,
            "$.providers[0].id",
            |v| set(v, "/providers/0/id", json!("p".repeat(101))),
        ),
        case("team id with a newline", InvalidId, "$.teams[0].id", |v| {
            set(v, "/teams/0/id", json!("t\n1"))
        }),
        // invalid_text
        case(
            "absence reason of a megabyte",
            InvalidText,
            "$.carers[0].absences[0].reason",
            |v| set(v, "/carers/0/absences/0/reason", json!("x".repeat(1 << 20))),
        ),
        case(
            "provider name with NUL",
            InvalidText,
            "$.providers[0].name",
            |v| set(v, "/providers/0/name", json!("Acme\0Care")),
        ),
        case(
            "team name of 201 characters",
            InvalidText,
            "$.teams[0].name",
            |v| set(v, "/teams/0/name", json!("n".repeat(201))),
        ),
        case(
            "team of at most 0",
            OutOfRange,
            "$.teams[0].max_members",
            |v| set(v, "/teams/0/max_members", json!(0)),
        ),
        case(
            "block contract of 0 minutes",
            OutOfRange,
            "$.providers[0].contract.committed_min_per_week",
            |v| set(v, "/providers/0/contract/committed_min_per_week", json!(0)),
        ),
        case(
            "package without visits",
            OutOfRange,
            "$.packages[1].visits",
            |v| set(v, "/packages/1/visits", json!([])),
        ),
        case("walking speed 0", OutOfRange, "$.travel.walk_kmh", |v| {
            v["travel"] = json!({"model": "haversine", "walk_kmh": 0.0})
        }),
        // coordinates_out_of_range
        case(
            "latitude 91",
            CoordinatesOutOfRange,
            "$.service_users[0].location.lat",
            |v| set(v, "/service_users/0/location/lat", json!(91.0)),
        ),
        case(
            "longitude -181",
            CoordinatesOutOfRange,
            "$.carers[1].home.lon",
            |v| set(v, "/carers/1/home/lon", json!(-181.0)),
        ),
        case(
            "team base latitude -90.5",
            CoordinatesOutOfRange,
            "$.teams[0].base.lat",
            |v| set(v, "/teams/0/base/lat", json!(-90.5)),
        ),
        case(
            "shift start location longitude 1e300",
            CoordinatesOutOfRange,
            "$.carers[1].shifts[1].start_location.lon",
            |v| set(v, "/carers/1/shifts/1/start_location/lon", json!(1e300)),
        ),
        case(
            "polygon position off the globe",
            CoordinatesOutOfRange,
            "$.providers[0].service_areas[0].coordinates[0][1]",
            |v| {
                set(
                    v,
                    "/providers/0/service_areas/0/coordinates/0/1",
                    json!([200.0, 50.65]),
                )
            },
        ),
        // duplicate_id
        case("two carers c1", DuplicateId, "$.carers[1].id", |v| {
            set(v, "/carers/1/id", json!("c1"))
        }),
        case("two packages pk1", DuplicateId, "$.packages[1].id", |v| {
            set(v, "/packages/1/id", json!("pk1"))
        }),
        case(
            "two visits am in pk1",
            DuplicateId,
            "$.packages[0].visits[1].id",
            |v| set(v, "/packages/0/visits/1/id", json!("am")),
        ),
        case(
            "two people su1",
            DuplicateId,
            "$.service_users[1].id",
            |v| set(v, "/service_users/1/id", json!("su1")),
        ),
        case("two teams t1", DuplicateId, "$.teams[1].id", |v| {
            let t = v["teams"][0].clone();
            push(v, "/teams", t);
        }),
        case("two providers p1", DuplicateId, "$.providers[1].id", |v| {
            let p = v["providers"][0].clone();
            push(v, "/providers", p);
        }),
        case(
            "skill listed twice",
            DuplicateId,
            "$.settings.skills[4]",
            |v| push(v, "/settings/skills", json!("hoist")),
        ),
        case(
            "visit assigned twice",
            DuplicateId,
            "$.existing_rota[1].visit",
            |v| {
                let e = v["existing_rota"][0].clone();
                push(v, "/existing_rota", e);
            },
        ),
        // unknown_reference
        case(
            "carer in an unknown team",
            UnknownReference,
            "$.carers[0].team",
            |v| set(v, "/carers/0/team", json!("t9")),
        ),
        case(
            "team of an unknown provider",
            UnknownReference,
            "$.teams[0].provider",
            |v| set(v, "/teams/0/provider", json!("p9")),
        ),
        case(
            "package for an unknown person",
            UnknownReference,
            "$.packages[1].service_user",
            |v| set(v, "/packages/1/service_user", json!("su9")),
        ),
        case(
            "person in an unknown team",
            UnknownReference,
            "$.service_users[1].team",
            |v| set(v, "/service_users/1/team", json!("t9")),
        ),
        case(
            "unknown preferred carer",
            UnknownReference,
            "$.service_users[0].preferred_carers[1]",
            |v| set(v, "/service_users/0/preferred_carers", json!(["c1", "c9"])),
        ),
        case(
            "unknown excluded carer",
            UnknownReference,
            "$.service_users[0].excluded_carers[0]",
            |v| set(v, "/service_users/0/excluded_carers", json!(["c9"])),
        ),
        case(
            "unknown known carer",
            UnknownReference,
            "$.service_users[0].known_carers[1]",
            |v| set(v, "/service_users/0/known_carers", json!(["c2", "c9"])),
        ),
        case(
            "existing visit outside the horizon",
            UnknownReference,
            "$.existing_rota[0].visit",
            |v| set(v, "/existing_rota/0/visit", json!("pk1/am@2027-01-04")),
        ),
        case(
            "existing visit of an unknown package",
            UnknownReference,
            "$.existing_rota[0].visit",
            |v| set(v, "/existing_rota/0/visit", json!("pk9/am@2026-11-30")),
        ),
        case(
            "existing visit on a day without it",
            UnknownReference,
            "$.existing_rota[0].visit",
            |v| set(v, "/existing_rota/0/visit", json!("pk1/meds@2026-12-05")),
        ),
        case(
            "existing assignment to an unknown carer",
            UnknownReference,
            "$.existing_rota[0].carers[1]",
            |v| set(v, "/existing_rota/0/carers", json!(["c1", "c9"])),
        ),
        case(
            "link to an unknown visit",
            UnknownReference,
            "$.packages[0].links[0].then",
            |v| set(v, "/packages/0/links/0/then", json!("tea")),
        ),
        case(
            "link from an unknown visit",
            UnknownReference,
            "$.packages[0].links[0].first",
            |v| set(v, "/packages/0/links/0/first", json!("lunch")),
        ),
        // unknown_skill
        case(
            "carer skill juggling",
            UnknownSkill,
            "$.carers[0].skills[1]",
            |v| set(v, "/carers/0/skills/1", json!("juggling")),
        ),
        case(
            "skills are case sensitive",
            UnknownSkill,
            "$.carers[1].skills[1]",
            |v| set(v, "/carers/1/skills/1", json!("Hoist")),
        ),
        case(
            "package skill",
            UnknownSkill,
            "$.packages[0].required_skills[1]",
            |v| {
                set(
                    v,
                    "/packages/0/required_skills",
                    json!(["personal_care", "flying"]),
                )
            },
        ),
        case(
            "visit skill",
            UnknownSkill,
            "$.packages[0].visits[0].required_skills[0]",
            |v| set(v, "/packages/0/visits/0/required_skills", json!(["crane"])),
        ),
        case(
            "provider skill",
            UnknownSkill,
            "$.providers[0].skills[2]",
            |v| push(v, "/providers/0/skills", json!("catering")),
        ),
        case(
            "default skill missing from a custom catalogue",
            UnknownSkill,
            "$.carers[2].skills[2]",
            |v| push(v, "/carers/2/skills", json!("stoma_care")),
        ),
        // unknown_band
        case(
            "band brunch",
            UnknownBand,
            "$.packages[1].visits[0].time.band",
            |v| set(v, "/packages/1/visits/0/time", json!({"band": "brunch"})),
        ),
        case(
            "default band missing from a custom catalogue",
            UnknownBand,
            "$.packages[1].visits[1].time.band",
            |v| set(v, "/packages/1/visits/1/time", json!({"band": "tea"})),
        ),
        // end_before_start
        case(
            "window end equal to start",
            EndBeforeStart,
            "$.packages[0].visits[0].time.window.end",
            |v| {
                set(
                    v,
                    "/packages/0/visits/0/time/window",
                    json!({"start": "08:00", "end": "08:00"}),
                )
            },
        ),
        case(
            "window 24:00 to 00:00: 24:00 is no start",
            InvalidTime,
            "$.packages[0].visits[0].time.window.start",
            |v| {
                set(
                    v,
                    "/packages/0/visits/0/time/window",
                    json!({"start": "24:00", "end": "00:00"}),
                )
            },
        ),
        case(
            "shift end equal to start",
            EndBeforeStart,
            "$.carers[0].shifts[0].end",
            |v| set(v, "/carers/0/shifts/0/end", json!("07:00")),
        ),
        case(
            "shift 24:00 to 00:00: 24:00 is no start",
            InvalidTime,
            "$.carers[2].shifts[0].start",
            |v| {
                set(
                    v,
                    "/carers/2/shifts/0",
                    json!({"days": ["daily"], "start": "24:00", "end": "00:00"}),
                )
            },
        ),
        case(
            "band end equal to start",
            EndBeforeStart,
            "$.settings.time_bands.morning.end",
            |v| {
                set(
                    v,
                    "/settings/time_bands/morning",
                    json!({"start": "09:00", "end": "09:00"}),
                )
            },
        ),
        case(
            "absence ending before it starts",
            EndBeforeStart,
            "$.carers[0].absences[0].to",
            |v| {
                set(
                    v,
                    "/carers/0/absences/0/to",
                    json!("2026-12-01T09:00:00+00:00"),
                )
            },
        ),
        case(
            "package ending before it starts",
            EndBeforeStart,
            "$.packages[1].end_date",
            |v| set(v, "/packages/1/end_date", json!("2026-12-01")),
        ),
        case(
            "link gap max below min",
            EndBeforeStart,
            "$.packages[0].links[0].max_gap_min",
            |v| set(v, "/packages/0/links/0/max_gap_min", json!(30)),
        ),
        // visit_longer_than_window
        case(
            "visit longer than its window",
            VisitLongerThanWindow,
            "$.packages[0].visits[0].duration_min",
            |v| set(v, "/packages/0/visits/0/time/window/end", json!("08:00")),
        ),
        case(
            "visit one minute longer than its window",
            VisitLongerThanWindow,
            "$.packages[0].visits[0].duration_min",
            |v| set(v, "/packages/0/visits/0/time/window/end", json!("08:14")),
        ),
        case(
            "visit longer than its band",
            VisitLongerThanWindow,
            "$.packages[1].visits[0].duration_min",
            |v| set(v, "/packages/1/visits/0/duration_min", json!(180)),
        ),
        // too_few_eligible_carers
        case(
            "double-handed, only one female carer with hoist",
            TooFewEligibleCarers,
            "$.packages[0].visits[0].carers_required",
            |v| {
                set(
                    v,
                    "/service_users/0/carer_gender",
                    json!({"gender": "female", "strength": "required"}),
                )
            },
        ),
        case(
            "double-handed, only one carer with hoist",
            TooFewEligibleCarers,
            "$.packages[0].visits[0].carers_required",
            |v| set(v, "/carers/1/skills", json!(["personal_care"])),
        ),
        case(
            "double-handed, second carer excluded",
            TooFewEligibleCarers,
            "$.packages[0].visits[0].carers_required",
            |v| set(v, "/service_users/0/excluded_carers", json!(["c3", "c2"])),
        ),
        case(
            "double-handed lunch nobody can do",
            TooFewEligibleCarers,
            "$.packages[1].visits[0].carers_required",
            |v| {
                set(v, "/packages/1/visits/0/carers_required", json!(2));
                set(
                    v,
                    "/packages/1/visits/0/required_skills",
                    json!(["dementia"]),
                );
            },
        ),
        // team_too_large
        case(
            "team of at most 1 with two carers",
            TeamTooLarge,
            "$.teams[0]",
            |v| set(v, "/teams/0/max_members", json!(1)),
        ),
        case("request team size 1", TeamTooLarge, "$.teams[0]", |v| {
            remove(v, "/teams/0", "max_members");
            set(v, "/settings/max_team_size", json!(1));
        }),
        // invalid_polygon
        case(
            "service area ring not closed",
            InvalidPolygon,
            "$.providers[0].service_areas[0].coordinates[0]",
            |v| {
                at(v, "/providers/0/service_areas/0/coordinates/0")
                    .as_array_mut()
                    .unwrap()
                    .pop();
            },
        ),
        case(
            "service area ring of three positions",
            InvalidPolygon,
            "$.providers[0].service_areas[0].coordinates[0]",
            |v| {
                set(
                    v,
                    "/providers/0/service_areas/0/coordinates/0",
                    json!([[-3.6, 50.65], [-3.4, 50.65], [-3.6, 50.65]]),
                )
            },
        ),
        case(
            "service area without rings",
            InvalidPolygon,
            "$.providers[0].service_areas[0].coordinates",
            |v| set(v, "/providers/0/service_areas/0/coordinates", json!([])),
        ),
        case(
            "team area: empty multipolygon",
            InvalidPolygon,
            "$.teams[0].area.coordinates",
            |v| {
                set(
                    v,
                    "/teams/0/area",
                    json!({"type": "MultiPolygon", "coordinates": []}),
                )
            },
        ),
        case(
            "team area: collinear ring",
            InvalidPolygon,
            "$.teams[0].area.coordinates[0]",
            |v| {
                set(
                    v,
                    "/teams/0/area",
                    json!({"type": "Polygon", "coordinates": [[[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [0.0, 0.0]]]}),
                )
            },
        ),
        // invalid_assignment
        case(
            "pinned without start",
            InvalidAssignment,
            "$.existing_rota[0].start",
            |v| remove(v, "/existing_rota/0", "start"),
        ),
        case(
            "double-handed visit assigned one carer",
            InvalidAssignment,
            "$.existing_rota[0].carers",
            |v| set(v, "/existing_rota/0/carers", json!(["c1"])),
        ),
        case(
            "the same carer twice",
            InvalidAssignment,
            "$.existing_rota[0].carers",
            |v| set(v, "/existing_rota/0/carers", json!(["c1", "c1"])),
        ),
        case(
            "single-handed visit assigned two carers",
            InvalidAssignment,
            "$.existing_rota[1].carers",
            |v| {
                push(
                    v,
                    "/existing_rota",
                    json!({"visit": "pk1/meds@2026-12-01", "carers": ["c1", "c2"]}),
                )
            },
        ),
        // contradiction
        case(
            "carer both preferred and excluded",
            Contradiction,
            "$.service_users[0].excluded_carers",
            |v| set(v, "/service_users/0/preferred_carers", json!(["c1", "c3"])),
        ),
        case(
            "visit linked to itself",
            Contradiction,
            "$.packages[0].links[0].then",
            |v| set(v, "/packages/0/links/0/then", json!("am")),
        ),
        case(
            "overlapping shifts",
            Contradiction,
            "$.carers[0].shifts",
            |v| {
                push(
                    v,
                    "/carers/0/shifts",
                    json!({"days": ["mon"], "start": "14:00", "end": "18:00"}),
                )
            },
        ),
        // too_many_skills
        case("65 skills", TooManySkills, "$.settings.skills[64]", |v| {
            for i in 4..65 {
                push(v, "/settings/skills", json!(format!("skill_{i}")));
            }
        }),
    ];
    let on = |base: Base, c: Case| Case { base, ..c };
    out.extend([
        // invalid_matrix / missing_matrix_index (matrix travel model)
        on(
            Base::Matrix,
            case(
                "matrix index beyond the matrix",
                InvalidMatrix,
                "$.carers[0].home.matrix_index",
                |v| set(v, "/carers/0/home/matrix_index", json!(99)),
            ),
        ),
        on(
            Base::Matrix,
            case(
                "matrix row too short",
                InvalidMatrix,
                "$.travel.minutes[1]",
                |v| {
                    at(v, "/travel/minutes/1").as_array_mut().unwrap().pop();
                },
            ),
        ),
        on(
            Base::Matrix,
            case("empty matrix", InvalidMatrix, "$.travel.minutes", |v| {
                set(v, "/travel/minutes", json!([]))
            }),
        ),
        on(
            Base::Matrix,
            case(
                "metres matrix of the wrong size",
                InvalidMatrix,
                "$.travel.metres",
                |v| set(v, "/travel/metres", json!([[0]])),
            ),
        ),
        on(
            Base::Matrix,
            case(
                "person without matrix index",
                MissingMatrixIndex,
                "$.service_users[1].location.matrix_index",
                |v| remove(v, "/service_users/1/location", "matrix_index"),
            ),
        ),
        on(
            Base::Matrix,
            case(
                "shift start location without matrix index",
                MissingMatrixIndex,
                "$.carers[1].shifts[1].start_location.matrix_index",
                |v| remove(v, "/carers/1/shifts/1/start_location", "matrix_index"),
            ),
        ),
        on(
            Base::Matrix,
            case(
                "team base without matrix index",
                MissingMatrixIndex,
                "$.teams[0].base.matrix_index",
                |v| remove(v, "/teams/0/base", "matrix_index"),
            ),
        ),
        // invalid_road_network
        on(
            Base::Road,
            case(
                "road network of one node",
                InvalidRoadNetwork,
                "$.travel.nodes",
                |v| {
                    at(v, "/travel/nodes").as_array_mut().unwrap().pop();
                },
            ),
        ),
        on(
            Base::Road,
            case(
                "road network without edges",
                InvalidRoadNetwork,
                "$.travel.edges",
                |v| set(v, "/travel/edges", json!([])),
            ),
        ),
        // An edge naming an unknown node is an unknown reference, not invalid_road_network.
        on(
            Base::Road,
            case(
                "road edge to an unknown node",
                UnknownReference,
                "$.travel.edges[0].to",
                |v| set(v, "/travel/edges/0/to", json!("zz")),
            ),
        ),
        on(
            Base::Road,
            case(
                "two road nodes a",
                DuplicateId,
                "$.travel.nodes[1].id",
                |v| set(v, "/travel/nodes/1/id", json!("a")),
            ),
        ),
        on(
            Base::Road,
            case(
                "road speed 0",
                OutOfRange,
                "$.travel.edges[0].speed_kmh",
                |v| set(v, "/travel/edges/0/speed_kmh", json!(0.0)),
            ),
        ),
        on(
            Base::Road,
            case(
                "road node latitude 91",
                CoordinatesOutOfRange,
                "$.travel.nodes[0].lat",
                |v| set(v, "/travel/nodes/0/lat", json!(91.0)),
            ),
        ),
    ]);
    out
}

fn planted(c: &Case) -> Value {
    let mut v = match c.base {
        Base::Plain => baseline(),
        Base::Matrix => matrix_baseline(),
        Base::Road => road_baseline(),
    };
    (c.plant)(&mut v);
    v
}

/// Runs every case for `code`; there must be at least one.
fn check_code(code: IssueCode) {
    let mine: Vec<Case> = cases().into_iter().filter(|c| c.code == code).collect();
    assert!(!mine.is_empty(), "no planted case for {code}");
    let mut failures = Vec::new();
    for c in &mine {
        let v = planted(c);
        match validate(&v) {
            Ok(_) => failures.push(format!(
                "{}: validated, expected {code} at {}",
                c.name, c.path
            )),
            Err(issues) => {
                if !issues
                    .iter()
                    .any(|i| i.path == c.path && i.code == code && !i.message.trim().is_empty())
                {
                    failures.push(format!(
                        "{}: expected {code} at {}; got:\n{}",
                        c.name,
                        c.path,
                        list(&issues)
                    ));
                }
                for i in &issues {
                    assert!(
                        i.path.starts_with('$') && !i.message.trim().is_empty(),
                        "{}: bad issue {i}",
                        c.name
                    );
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_issue_code_is_listed_and_stable() {
    let mut seen = HashSet::new();
    for code in ALL_CODES {
        assert!(listed(code));
        assert!(seen.insert(code.as_str()), "{code} twice");
        // The serde form is the stable string, and it round-trips.
        assert_eq!(serde_json::to_value(code).unwrap(), json!(code.as_str()));
        assert_eq!(
            serde_json::from_value::<IssueCode>(json!(code.as_str())).unwrap(),
            code
        );
        assert_eq!(code.to_string(), code.as_str());
    }
}

#[test]
fn every_semantic_issue_code_has_a_planted_case() {
    let all = cases();
    for code in ALL_CODES {
        if code == IssueCode::MalformedJson {
            continue; // structural: see the parse_request tests below
        }
        if matches!(code, IssueCode::NoCarers | IssueCode::Refused) {
            continue; // a warning, and the broker's: see the tests below and tests/intake.rs
        }
        assert!(
            all.iter().any(|c| c.code == code),
            "no planted case for {code}"
        );
    }
    let names: HashSet<&str> = all.iter().map(|c| c.name).collect();
    assert_eq!(names.len(), all.len(), "case names are unique");
}

#[test]
fn issue_unsupported_format() {
    check_code(IssueCode::UnsupportedFormat);
}

#[test]
fn issue_invalid_date() {
    check_code(IssueCode::InvalidDate);
}

#[test]
fn issue_invalid_time() {
    check_code(IssueCode::InvalidTime);
}

#[test]
fn issue_invalid_instant() {
    check_code(IssueCode::InvalidInstant);
}

#[test]
fn issue_invalid_utc_offset() {
    check_code(IssueCode::InvalidUtcOffset);
}

#[test]
fn issue_invalid_time_zone() {
    check_code(IssueCode::InvalidTimeZone);
}

#[test]
fn issue_invalid_day() {
    check_code(IssueCode::InvalidDay);
}

#[test]
fn issue_out_of_range() {
    check_code(IssueCode::OutOfRange);
}

#[test]
fn issue_coordinates_out_of_range() {
    check_code(IssueCode::CoordinatesOutOfRange);
}

#[test]
fn issue_duplicate_id() {
    check_code(IssueCode::DuplicateId);
}

#[test]
fn issue_unknown_reference() {
    check_code(IssueCode::UnknownReference);
}

#[test]
fn issue_unknown_skill() {
    check_code(IssueCode::UnknownSkill);
}

#[test]
fn issue_unknown_band() {
    check_code(IssueCode::UnknownBand);
}

#[test]
fn issue_end_before_start() {
    check_code(IssueCode::EndBeforeStart);
}

#[test]
fn issue_visit_longer_than_window() {
    check_code(IssueCode::VisitLongerThanWindow);
}

#[test]
fn issue_too_few_eligible_carers() {
    check_code(IssueCode::TooFewEligibleCarers);
}

#[test]
fn issue_team_too_large() {
    check_code(IssueCode::TeamTooLarge);
}

#[test]
fn issue_invalid_polygon() {
    check_code(IssueCode::InvalidPolygon);
}

#[test]
fn issue_invalid_matrix() {
    check_code(IssueCode::InvalidMatrix);
}

#[test]
fn issue_missing_matrix_index() {
    check_code(IssueCode::MissingMatrixIndex);
}

#[test]
fn issue_invalid_road_network() {
    check_code(IssueCode::InvalidRoadNetwork);
}

#[test]
fn issue_invalid_assignment() {
    check_code(IssueCode::InvalidAssignment);
}

#[test]
fn issue_contradiction() {
    check_code(IssueCode::Contradiction);
}

#[test]
fn issue_too_many_skills() {
    check_code(IssueCode::TooManySkills);
}

#[test]
fn issue_invalid_id() {
    check_code(IssueCode::InvalidId);
}

#[test]
fn issue_invalid_text() {
    check_code(IssueCode::InvalidText);
}

/// A bad horizon does not hide the rest: every planted problem is reported in one answer.
#[test]
fn an_invalid_horizon_does_not_stop_validation() {
    for (field, value) in [("start_date", json!("2026-13-01")), ("days", json!(0))] {
        let mut v = baseline();
        set(&mut v, &format!("/horizon/{field}"), value);
        set(&mut v, "/carers/1/shifts/0/end", json!("25:00"));
        set(&mut v, "/carers/0/skills/0", json!("juggling"));
        set(&mut v, "/settings/max_team_size", json!(0));
        set(&mut v, "/service_users/1/continuity_cap", json!(0));
        let issues = validate(&v).unwrap_err();
        for (path, code) in [
            (format!("$.horizon.{field}"), None),
            (
                "$.carers[1].shifts[0].end".into(),
                Some(IssueCode::InvalidTime),
            ),
            (
                "$.carers[0].skills[0]".into(),
                Some(IssueCode::UnknownSkill),
            ),
            (
                "$.settings.max_team_size".into(),
                Some(IssueCode::OutOfRange),
            ),
            (
                "$.service_users[1].continuity_cap".into(),
                Some(IssueCode::OutOfRange),
            ),
        ] {
            assert!(
                issues
                    .iter()
                    .any(|i| i.path == path && code.is_none_or(|c| c == i.code)),
                "{field}: no issue at {path}; got:\n{}",
                list(&issues)
            );
        }
    }
}

/// A zero default cap is one issue at the setting, not one per person.
#[test]
fn a_zero_default_continuity_cap_is_one_issue() {
    let mut v = baseline();
    set(&mut v, "/settings/default_continuity_cap", json!(0));
    let issues = validate(&v).unwrap_err();
    let caps: Vec<&Issue> = issues
        .iter()
        .filter(|i| i.path.contains("continuity_cap"))
        .collect();
    assert_eq!(caps.len(), 1, "{}", list(&issues));
    assert_eq!(caps[0].path, "$.settings.default_continuity_cap");
}

/// `24:00` ends a day; it never starts anything.
#[test]
fn twenty_four_hundred_is_an_end_time_only() {
    let mut v = baseline();
    set(&mut v, "/packages/0/visits/1/time/exact", json!("24:00"));
    assert_issue(
        &v,
        "$.packages[0].visits[1].time.exact",
        IssueCode::InvalidTime,
    );
    let mut v = baseline();
    set(
        &mut v,
        "/packages/0/visits/0/time/window",
        json!({"start": "20:00", "end": "24:00"}),
    );
    set(&mut v, "/carers/0/shifts/0/end", json!("24:00"));
    set(&mut v, "/existing_rota", json!([]));
    set(&mut v, "/packages/0/links", json!([]));
    if let Err(issues) = validate(&v) {
        panic!("24:00 as an end is accepted:\n{}", list(&issues));
    }
}

/// Packages with no carers validate (a brokering request) but warn.
#[test]
fn packages_without_carers_validate_with_a_warning() {
    let mut v = baseline();
    set(&mut v, "/carers", json!([]));
    set(&mut v, "/existing_rota", json!([]));
    for su in at(&mut v, "/service_users").as_array_mut().unwrap() {
        su["preferred_carers"] = json!([]);
        su["excluded_carers"] = json!([]);
        su["known_carers"] = json!([]);
    }
    let req = request_of(&v);
    assert!(Problem::from_request(&req).is_ok());
    let w = Problem::warnings(&req);
    assert_eq!(w.len(), 1);
    assert_eq!(
        (w[0].path.as_str(), w[0].code),
        ("$.carers", IssueCode::NoCarers)
    );
    assert!(Problem::warnings(&request_of(&baseline())).is_empty());
}

#[test]
fn a_too_long_visit_is_not_also_reported_as_not_fitting() {
    // 500 minutes is out of range; saying it also misses its window would be noise.
    let mut v = baseline();
    set(&mut v, "/packages/0/visits/0/duration_min", json!(500));
    let issues = assert_issue(
        &v,
        "$.packages[0].visits[0].duration_min",
        IssueCode::OutOfRange,
    );
    assert!(
        !issues
            .iter()
            .any(|i| i.code == IssueCode::VisitLongerThanWindow),
        "{}",
        list(&issues)
    );
}

#[test]
fn an_invalid_band_is_not_also_called_unknown() {
    let mut v = baseline();
    set(&mut v, "/settings/time_bands/lunch/end", json!("2pm"));
    let issues = assert_issue(
        &v,
        "$.settings.time_bands.lunch.end",
        IssueCode::InvalidTime,
    );
    assert_eq!(
        issues.len(),
        1,
        "the lunch visit is not reported as using an unknown band:\n{}",
        list(&issues)
    );
}

#[test]
fn trailing_content_after_the_request_is_rejected() {
    let text = baseline().to_string();
    assert!(
        parse_request(&format!(" {text}\n\t ")).is_ok(),
        "surrounding whitespace is fine"
    );
    for tail in ["{}", "x", "]", "null", ","] {
        let e = parse_request(&format!("{text} {tail}")).expect_err(tail);
        assert_eq!(
            (e.path.as_str(), e.code),
            ("$", IssueCode::MalformedJson),
            "{e}"
        );
        assert!(e.message.contains("trailing"), "{e}");
    }
}

#[test]
fn dates_must_be_exactly_yyyy_mm_dd() {
    assert!(parse_date("2026-11-30").is_ok());
    assert!(parse_date("0000-01-01").is_ok() && parse_date("9999-12-31").is_ok());
    for bad in [
        "2026-1-30",
        "2026-11-3",
        " 2026-11-30",
        "+2026-11-30",
        "+262142-12-31",
        "-0001-01-01",
        "20261130",
        "2026/11/30",
        "2026-11-30T00:00",
    ] {
        assert!(parse_date(bad).is_err(), "{bad}");
    }
}

#[test]
fn too_few_eligible_carers_is_reported_once_per_pattern() {
    let mut v = baseline();
    set(
        &mut v,
        "/service_users/0/carer_gender",
        json!({"gender": "female", "strength": "required"}),
    );
    let issues = assert_issue(
        &v,
        "$.packages[0].visits[0].carers_required",
        IssueCode::TooFewEligibleCarers,
    );
    // Seven concrete visits, one issue.
    assert_eq!(issues.len(), 1, "{}", list(&issues));
}

// ---------------------------------------------------------------------------
// 3. Every problem at once
// ---------------------------------------------------------------------------

#[test]
fn reports_every_problem_at_once() {
    let mut v = baseline();
    set(&mut v, "/format", json!("carefill/0"));
    push(&mut v, "/carers/1/skills", json!("juggling"));
    set(&mut v, "/carers/1/shifts/0/end", json!("25:00"));
    set(
        &mut v,
        "/carers/0/absences/0/to",
        json!("2026-12-01T09:00:00+00:00"),
    );
    set(&mut v, "/service_users/1/location/lat", json!(91.0));
    set(
        &mut v,
        "/service_users/0/preferred_carers",
        json!(["c1", "c3"]),
    );
    set(&mut v, "/packages/1/id", json!("pk1"));
    set(&mut v, "/packages/0/visits/1/duration_min", json!(500));
    set(
        &mut v,
        "/packages/1/visits/0/time",
        json!({"band": "brunch"}),
    );
    set(&mut v, "/packages/1/visits/1/days", json!(["someday"]));
    set(&mut v, "/existing_rota/0/carers", json!(["c1", "ghost"]));
    set(&mut v, "/teams/0/max_members", json!(1));
    set(&mut v, "/settings/objective/travel_min", json!(1e12));
    at(&mut v, "/providers/0/service_areas/0/coordinates/0")
        .as_array_mut()
        .unwrap()
        .pop();
    for i in 4..65 {
        push(&mut v, "/settings/skills", json!(format!("skill_{i}")));
    }
    let expected = [
        ("$.format", IssueCode::UnsupportedFormat),
        ("$.carers[1].skills[2]", IssueCode::UnknownSkill),
        ("$.carers[1].shifts[0].end", IssueCode::InvalidTime),
        ("$.carers[0].absences[0].to", IssueCode::EndBeforeStart),
        (
            "$.service_users[1].location.lat",
            IssueCode::CoordinatesOutOfRange,
        ),
        (
            "$.service_users[0].excluded_carers",
            IssueCode::Contradiction,
        ),
        ("$.packages[1].id", IssueCode::DuplicateId),
        (
            "$.packages[0].visits[1].duration_min",
            IssueCode::OutOfRange,
        ),
        ("$.packages[1].visits[0].time.band", IssueCode::UnknownBand),
        ("$.packages[1].visits[1].days[0]", IssueCode::InvalidDay),
        ("$.existing_rota[0].carers[1]", IssueCode::UnknownReference),
        ("$.existing_rota[0].carers", IssueCode::InvalidAssignment),
        ("$.teams[0]", IssueCode::TeamTooLarge),
        ("$.settings.objective.travel_min", IssueCode::OutOfRange),
        (
            "$.providers[0].service_areas[0].coordinates[0]",
            IssueCode::InvalidPolygon,
        ),
        ("$.settings.skills[64]", IssueCode::TooManySkills),
    ];
    let issues = validate(&v).unwrap_err();
    let missing: Vec<_> = expected
        .iter()
        .filter(|(p, c)| !issues.iter().any(|i| i.path == *p && i.code == *c))
        .collect();
    assert!(
        missing.is_empty(),
        "missing {missing:?}; got:\n{}",
        list(&issues)
    );
    let codes: HashSet<IssueCode> = issues.iter().map(|i| i.code).collect();
    assert!(codes.len() >= 14, "{codes:?}");
    assert_eq!(
        issues.len(),
        expected.len(),
        "no extra issues:\n{}",
        list(&issues)
    );
}

#[test]
fn horizon_problems_are_reported_together() {
    let mut v = baseline();
    set(
        &mut v,
        "/horizon",
        json!({"start_date": "2026-02-30", "days": 0, "utc_offset": "GMT"}),
    );
    set(&mut v, "/format", json!("carefill/9"));
    set(&mut v, "/settings/skills/1", json!("medication"));
    set(&mut v, "/settings/time_bands/lunch/start", json!("noon"));
    let issues = validate(&v).unwrap_err();
    for (path, code) in [
        ("$.horizon.start_date", IssueCode::InvalidDate),
        ("$.horizon.days", IssueCode::OutOfRange),
        ("$.horizon.utc_offset", IssueCode::InvalidUtcOffset),
        ("$.format", IssueCode::UnsupportedFormat),
        ("$.settings.skills[2]", IssueCode::DuplicateId),
        ("$.settings.time_bands.lunch.start", IssueCode::InvalidTime),
    ] {
        assert!(
            issues.iter().any(|i| i.path == path && i.code == code),
            "{code} at {path}:\n{}",
            list(&issues)
        );
    }
}

// ---------------------------------------------------------------------------
// 4. Structural errors
// ---------------------------------------------------------------------------

#[track_caller]
fn structural_error(text: &str) -> Issue {
    let e = parse_request(text).expect_err("should not parse");
    assert_eq!(e.code, IssueCode::MalformedJson, "{e}");
    assert!(e.path.starts_with('$'), "{e}");
    assert!(!e.message.trim().is_empty(), "{e}");
    e
}

#[test]
fn unknown_field_names_its_path_and_field() {
    let mut v = baseline();
    set(&mut v, "/carers/0/favourite_colour", json!("teal"));
    let e = structural_error(&v.to_string());
    assert!(e.path.starts_with("$.carers[0]"), "{e}");
    assert!(e.message.contains("favourite_colour"), "{e}");

    let mut v = baseline();
    set(&mut v, "/packages/1/visits/0/time/band", json!("lunch"));
    at(&mut v, "/packages/1/visits/0/time")
        .as_object_mut()
        .unwrap()
        .insert("exact".into(), json!("12:00"));
    let e = structural_error(&v.to_string());
    assert!(e.path.starts_with("$.packages[1].visits[0].time"), "{e}");

    let mut v = baseline();
    set(&mut v, "/settings/objective/tea_breaks", json!(1.0));
    let e = structural_error(&v.to_string());
    assert!(e.path.starts_with("$.settings.objective"), "{e}");
    assert!(e.message.contains("tea_breaks"), "{e}");

    let mut v = baseline();
    set(&mut v, "/favourite_colour", json!("teal"));
    let e = structural_error(&v.to_string());
    assert!(e.message.contains("favourite_colour"), "{e}");
}

#[test]
fn wrong_type_names_its_path() {
    let mut v = baseline();
    set(&mut v, "/packages/0/visits/0/duration_min", json!("thirty"));
    let e = structural_error(&v.to_string());
    assert_eq!(e.path, "$.packages[0].visits[0].duration_min", "{e}");
    assert!(e.message.contains("thirty"), "{e}");

    for (ptr, value, path) in [
        ("/horizon/days", json!(-1), "$.horizon.days"),
        ("/horizon/days", json!(4_294_967_296u64), "$.horizon.days"),
        ("/horizon/days", json!(7.5), "$.horizon.days"),
        ("/carers/1/gender", json!("robot"), "$.carers[1].gender"),
        ("/carers/0/home/lat", json!("50.7"), "$.carers[0].home.lat"),
        (
            "/service_users/0/preferred_carers",
            json!("c1"),
            "$.service_users[0].preferred_carers",
        ),
        ("/providers/0/tier", json!("tier9"), "$.providers[0].tier"),
        (
            "/existing_rota/0/pinned",
            json!("yes"),
            "$.existing_rota[0].pinned",
        ),
        (
            "/settings/objective/travel_min",
            json!(null),
            "$.settings.objective.travel_min",
        ),
    ] {
        let mut v = baseline();
        set(&mut v, ptr, value);
        let e = structural_error(&v.to_string());
        assert_eq!(e.path, path, "{e}");
    }
}

#[test]
fn missing_required_field_names_the_object() {
    let mut v = baseline();
    remove(&mut v, "/carers/2", "gender");
    let e = structural_error(&v.to_string());
    assert!(e.path.starts_with("$.carers[2]"), "{e}");
    assert!(e.message.contains("gender"), "{e}");

    let e = structural_error(r#"{"format": "carefill/1"}"#);
    assert_eq!(e.path, "$", "{e}");
    assert!(e.message.contains("horizon"), "{e}");
}

#[test]
fn truncated_or_garbage_json_is_an_error_not_a_panic() {
    let text = baseline().to_string();
    // Every proper prefix of an object is incomplete.
    for cut in (0..text.len()).filter(|&i| text.is_char_boundary(i)) {
        structural_error(&text[..cut]);
    }
    for garbage in [
        "",
        " ",
        "null",
        "[]",
        "{}",
        "42",
        "\"carefill/1\"",
        "{\"format\":",
        "{]",
        "\u{feff}{}",
        "{\"format\":\"carefill/1\",\"format\":\"x\"}",
    ] {
        structural_error(garbage);
    }
    // Trailing content after a complete request.
    structural_error(&format!("{text} {{}}"));
}

#[test]
fn deeply_nested_json_is_an_error_not_a_stack_overflow() {
    let text = format!(
        "{{\"format\": {}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    structural_error(&text);
}

// ---------------------------------------------------------------------------
// 5. Never panics
// ---------------------------------------------------------------------------

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Checks one outcome of validation: well-formed issues, or a coherent problem.
fn check_outcome(result: &Result<Problem, Vec<Issue>>) {
    match result {
        Err(issues) => {
            assert!(!issues.is_empty(), "a failed validation says why");
            for i in issues {
                assert!(i.path.starts_with('$'), "{i}");
                assert!(ALL_CODES.contains(&i.code) && listed(i.code), "{i}");
                assert_ne!(
                    i.code,
                    IssueCode::MalformedJson,
                    "semantic validation gave up without saying why: {i}"
                );
                assert!(!i.message.trim().is_empty(), "{i}");
                assert!(pointer_of(&i.path).is_some(), "path grammar: {i}");
            }
        }
        Ok(p) => check_problem(p),
    }
}

/// Invariants every validated problem satisfies.
fn check_problem(p: &Problem) {
    let (lo, hi) = super::VISIT_DURATION_RANGE;
    let catalogue = if p.skills.len() == 64 {
        u64::MAX
    } else {
        (1u64 << p.skills.len()) - 1
    };
    assert!((1..=super::MAX_HORIZON_DAYS).contains(&p.horizon.days));
    assert_eq!(p.visit_index.len(), p.visits.len(), "visit ids are unique");
    assert_eq!(p.shift_index.len(), p.shifts.len(), "shift ids are unique");
    for v in &p.visits {
        assert!(v.earliest_start <= v.latest_start, "{}", v.id);
        assert!((lo as i32..=hi as i32).contains(&v.duration), "{}", v.id);
        assert!((1..=2).contains(&v.carers_required), "{}", v.id);
        assert!(
            v.day < p.horizon.days && v.earliest_start >= v.day as i32 * DAY,
            "{}",
            v.id
        );
        assert!(
            v.skills.0 & !catalogue == 0 && v.location < p.locations.len(),
            "{}",
            v.id
        );
        assert!(v.package < p.packages.len() && v.service_user < p.service_users.len());
    }
    for s in &p.shifts {
        assert!(
            s.start < s.end && s.carer < p.carers.len() && s.day < p.horizon.days,
            "{}",
            s.id
        );
        assert!(s.start_loc < p.locations.len() && s.end_loc < p.locations.len());
    }
    for l in &p.links {
        assert!(
            l.first < p.visits.len() && l.then < p.visits.len() && l.min_offset <= l.max_offset
        );
    }
    for e in &p.existing {
        assert!(
            e.visit < p.visits.len()
                && e.carers.len() == usize::from(p.visits[e.visit].carers_required)
        );
        assert!(!e.pinned || e.start.is_some());
    }
    for u in &p.service_users {
        assert!(u.location < p.locations.len() && u.continuity_cap >= 1);
    }
    for t in &p.teams {
        assert!(t.carers.len() as u32 <= t.max_members && t.base < p.locations.len());
    }
    for l in &p.locations {
        assert!((-90.0..=90.0).contains(&l.lat) && (-180.0..=180.0).contains(&l.lon));
    }
}

/// `$.a.b[3].c` -> `/a/b/3/c`; `None` when the path does not follow that grammar.
fn pointer_of(path: &str) -> Option<String> {
    let mut rest = path.strip_prefix('$')?;
    let mut out = String::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return None;
            }
            out.push('/');
            out.push_str(&r[..end].replace('~', "~0").replace('/', "~1"));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let i: usize = r[..end].parse().ok()?;
            out.push_str(&format!("/{i}"));
            rest = &r[end + 1..];
        } else {
            return None;
        }
    }
    Some(out)
}

/// Parses and validates text; returns whether it parsed and whether it validated.
fn run_text(text: &str) -> (bool, bool) {
    match parse_request(text) {
        Err(e) => {
            assert_eq!(e.code, IssueCode::MalformedJson, "{e}");
            assert!(
                e.path.starts_with('$') && !e.message.trim().is_empty(),
                "{e}"
            );
            (false, false)
        }
        Ok(req) => {
            let result = Problem::from_request(&req);
            check_outcome(&result);
            (true, result.is_ok())
        }
    }
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        run_text(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn arbitrary_utf8_never_panics(text in any::<String>()) {
        run_text(&text);
    }

    #[test]
    fn json_token_soup_never_panics(text in r#"[\[\]{}":, 0-9a-z_.+eE-]{0,120}"#) {
        run_text(&text);
    }

    /// The baseline text with a random cut and a random insertion: near-valid JSON.
    #[test]
    fn spliced_baseline_text_never_panics(
        at in any::<Index>(),
        drop in 0usize..40,
        insert in r#"[\[\]{}":, 0-9a-z_.+-]{0,8}"#,
    ) {
        let text = baseline().to_string();
        let mut cut = at.index(text.len());
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut end = (cut + drop).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        run_text(&format!("{}{}{}", &text[..cut], insert, &text[end..]));
    }
}

/// A structural change to a request.
#[derive(Debug, Clone)]
enum Mutation {
    /// Replace a leaf: by a value of its own kind, or (with `wild`) by anything.
    Replace {
        at: Index,
        string: String,
        number: Value,
        any: Value,
        wild: bool,
    },
    /// Remove an object member.
    Delete(Index),
    /// Duplicate an array element in place.
    Duplicate(Index),
    /// Replace any node by an empty array or object.
    Hollow(Index, bool),
}

const INTERESTING: &[&str] = &[
    "",
    " ",
    "c1",
    "c2",
    "c3",
    "su1",
    "su2",
    "pk1",
    "pk2",
    "am",
    "meds",
    "lunch",
    "night",
    "morning",
    "t1",
    "p1",
    "hoist",
    "medication",
    "personal_care",
    "dementia",
    "daily",
    "weekdays",
    "weekends",
    "sat",
    "SUNDAY",
    "00:00",
    "23:59",
    "24:00",
    "25:00",
    "12:60",
    "2026-11-30",
    "2026-12-05",
    "2026-02-29",
    "2024-02-29",
    "0000-01-01",
    "9999-12-31",
    "+262142-12-31",
    "-262143-01-01",
    "2026-11-30T08:00:00+00:00",
    "2026-12-01T10:30:00Z",
    "9999-12-31T23:59:59-23:59",
    "0000-01-01T00:00:00+23:59",
    "+18:00",
    "-18:00",
    "Z",
    "carefill/1",
    "pk1/am@2026-11-30",
    "pk1/meds@2026-12-01",
    "c1#2026-11-30#1",
    "\u{0}",
    "é",
    "🦀",
];

fn string_value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(INTERESTING).prop_map(str::to_string),
        1 => "[a-z0-9:+#@/ -]{0,12}",
        1 => "[0-2][0-9]:[0-6][0-9]",
        1 => "[0-9]{4}-[01][0-9]-[0-3][0-9]",
    ]
}

fn number_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => (-3i64..100).prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => (-200.0..200.0f64).prop_map(Value::from),
        2 => prop::sample::select(vec![
            0.0, 0.5, -0.5, 1e9, 1e12, -1e12, 1e308, -1e308, 4_294_967_295.0, 4_294_967_296.0, 90.0,
            90.000_001, -180.0, 180.5, 5e-324,
        ])
        .prop_map(Value::from),
        1 => prop::sample::select(vec![480u64, 481, 4, 5, 1440, 1441, 10080, 10081, 28, 29, 64, 65, u64::from(u32::MAX)])
            .prop_map(Value::from),
    ]
}

fn any_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        string_value().prop_map(Value::from),
        number_value(),
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        Just(json!([])),
        Just(json!({})),
        Just(json!(["c1", "c1"])),
        Just(json!({"lat": 0.0, "lon": 0.0})),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        6 => (any::<Index>(), string_value(), number_value(), any_value(), prop::bool::weighted(0.1))
            .prop_map(|(at, string, number, any, wild)| Mutation::Replace { at, string, number, any, wild }),
        2 => any::<Index>().prop_map(Mutation::Delete),
        2 => any::<Index>().prop_map(Mutation::Duplicate),
        1 => (any::<Index>(), any::<bool>()).prop_map(|(i, a)| Mutation::Hollow(i, a)),
    ]
}

/// JSON pointers of the nodes below `v` that satisfy `keep(node, parent_is_object)`.
fn pointers(v: &Value, keep: &dyn Fn(&Value, Option<bool>) -> bool) -> Vec<String> {
    fn walk(
        v: &Value,
        ptr: String,
        parent: Option<bool>,
        keep: &dyn Fn(&Value, Option<bool>) -> bool,
        out: &mut Vec<String>,
    ) {
        if parent.is_some() && keep(v, parent) {
            out.push(ptr.clone());
        }
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let key = k.replace('~', "~0").replace('/', "~1");
                    walk(x, format!("{ptr}/{key}"), Some(true), keep, out);
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    walk(x, format!("{ptr}/{i}"), Some(false), keep, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, String::new(), None, keep, &mut out);
    out
}

fn split_last(ptr: &str) -> (&str, String) {
    let (parent, last) = ptr.rsplit_once('/').unwrap_or(("", ptr));
    (parent, last.replace("~1", "/").replace("~0", "~"))
}

fn apply(v: &mut Value, m: &Mutation) {
    match m {
        Mutation::Replace {
            at,
            string,
            number,
            any,
            wild,
        } => {
            let leaves = pointers(v, &|x, _| !x.is_object() && !x.is_array());
            if leaves.is_empty() {
                return;
            }
            let target = self::at(v, at.get::<String>(&leaves));
            *target = match (&*target, wild) {
                (_, true) | (Value::Null, _) => any.clone(),
                (Value::String(_), _) => Value::from(string.as_str()),
                (Value::Number(_), _) => number.clone(),
                (Value::Bool(b), _) => Value::from(!b),
                _ => any.clone(),
            };
        }
        Mutation::Delete(i) => {
            let members = pointers(v, &|_, parent| parent == Some(true));
            if members.is_empty() {
                return;
            }
            let (parent, key) = split_last(i.get::<String>(&members));
            if let Some(Value::Object(m)) = v.pointer_mut(parent) {
                m.remove(&key);
            }
        }
        Mutation::Duplicate(i) => {
            let elements = pointers(v, &|_, parent| parent == Some(false));
            if elements.is_empty() {
                return;
            }
            let (parent, key) = split_last(i.get::<String>(&elements));
            let k: usize = key.parse().unwrap();
            if let Some(Value::Array(a)) = v.pointer_mut(parent) {
                let copy = a[k].clone();
                a.insert(k + 1, copy);
            }
        }
        Mutation::Hollow(i, array) => {
            let nodes = pointers(v, &|_, _| true);
            if nodes.is_empty() {
                return;
            }
            *self::at(v, i.get::<String>(&nodes)) = if *array { json!([]) } else { json!({}) };
        }
    }
}

#[test]
fn mutated_baseline_never_panics() {
    const CASES: u32 = 1500;
    let base = baseline();
    let parsed = Cell::new(0u32);
    let valid = Cell::new(0u32);
    let strategy = (prop::collection::vec(mutation(), 1..5), any::<bool>());
    let mut runner = TestRunner::new(config(CASES));
    let result = runner.run(&strategy, |(mutations, matrix)| {
        let mut v = if matrix {
            matrix_baseline()
        } else {
            base.clone()
        };
        for m in &mutations {
            apply(&mut v, m);
        }
        let text = v.to_string();
        let (p, ok) = run_text(&text);
        if p {
            parsed.set(parsed.get() + 1);
            // Every issue points into the request: at least its parent exists.
            if let Err(issues) = Problem::from_request(&parse_request(&text).unwrap()) {
                for i in &issues {
                    let ptr = pointer_of(&i.path).unwrap();
                    let (parent, _) = split_last(&ptr);
                    prop_assert!(
                        v.pointer(parent).is_some(),
                        "{i} does not point into the request"
                    );
                }
                let distinct: HashSet<(&str, IssueCode, &str)> = issues
                    .iter()
                    .map(|i| (i.path.as_str(), i.code, i.message.as_str()))
                    .collect();
                prop_assert_eq!(
                    distinct.len(),
                    issues.len(),
                    "an issue is reported twice:\n{}",
                    list(&issues)
                );
            }
        }
        if ok {
            valid.set(valid.get() + 1);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // The mutations must reach the validator often enough to mean something.
    assert!(
        parsed.get() >= CASES / 4,
        "only {} of {CASES} mutated requests parsed",
        parsed.get()
    );
    assert!(
        valid.get() >= CASES / 20,
        "only {} of {CASES} mutated requests validated",
        valid.get()
    );
    assert!(
        parsed.get() - valid.get() >= CASES / 5,
        "only {} semantic failures",
        parsed.get() - valid.get()
    );
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn random_clock_times_never_panic(t in prop_oneof![
        "[0-9]{0,3}:[0-9]{0,3}",
        "[0-2][0-9]:[0-5][0-9]",
        "[0-9: +-]{0,6}",
        any::<String>(),
    ]) {
        let parsed = parse_clock(&t);
        if let Ok(m) = parsed {
            prop_assert!((0..=DAY).contains(&m));
            if m < DAY {
                prop_assert_eq!(format_clock(m), t.clone(), "strict HH:MM round trip");
            }
        }
        let mut v = baseline();
        set(&mut v, "/carers/0/shifts/0/start", json!(t));
        set(&mut v, "/packages/0/visits/0/time/window/end", json!(t));
        set(&mut v, "/packages/0/visits/1/time/exact", json!(t));
        set(&mut v, "/settings/time_bands/night/start", json!(t));
        let result = validate(&v);
        check_outcome(&result);
        if parsed.is_err() {
            let issues = result.unwrap_err();
            for path in [
                "$.carers[0].shifts[0].start",
                "$.packages[0].visits[0].time.window.end",
                "$.packages[0].visits[1].time.exact",
                "$.settings.time_bands.night.start",
            ] {
                prop_assert!(
                    issues.iter().any(|i| i.path == path && i.code == IssueCode::InvalidTime),
                    "{} not reported at {}", t, path
                );
            }
        }
    }

    #[test]
    fn random_dates_never_panic(d in prop_oneof![
        "[+-]?[0-9]{1,6}-[0-9]{1,2}-[0-9]{1,2}",
        "[0-9]{4}-[01][0-9]-[0-3][0-9]",
        "(0000|9999|1970|2026)-(01|02|12)-(01|28|29|30|31)",
        " ?[0-9]{4}-[0-9]{2}-[0-9]{2} ?",
    ], days in 1u32..=28) {
        let parsed = parse_date(&d);
        if let Ok(date) = parsed {
            prop_assert_eq!(date.format("%Y-%m-%d").to_string(), d.clone(), "strict YYYY-MM-DD round trip");
        }
        let mut v = baseline();
        set(&mut v, "/horizon/start_date", json!(d));
        set(&mut v, "/horizon/days", json!(days));
        set(&mut v, "/packages/1/start_date", json!(d));
        push(&mut v, "/carers/2/shifts/0/days", json!(d));
        let result = validate(&v);
        check_outcome(&result);
        if parsed.is_err() {
            let issues = result.unwrap_err();
            prop_assert!(issues.iter().any(|i| i.path == "$.horizon.start_date" && i.code == IssueCode::InvalidDate));
        }
    }

    #[test]
    fn random_instants_and_offsets_never_panic(
        instant in prop_oneof![
            "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,9})?)?(Z|z|[+-][0-9]{2}:[0-9]{2})?",
            "(0000|9999|2026)-(01|11|12)-(01|30|31)T(00|23):(00|59):(00|59|60)(Z|[+-](00|18|23):(00|59))",
            any::<String>(),
        ],
        offset in prop_oneof!["[+-][0-9]{2}:[0-9]{2}", "[+-]?[0-9]{1,3}:?[0-9]{0,3}", Just("Z".to_string())],
        start in prop_oneof![Just("2026-11-30".to_string()), Just("0000-01-01".to_string()), Just("9999-12-31".to_string())],
    ) {
        if let Ok(o) = parse_offset(&offset) {
            prop_assert!(o.local_minus_utc().abs() <= 18 * 3600);
        }
        let mut v = baseline();
        set(&mut v, "/horizon/start_date", json!(start));
        set(&mut v, "/horizon/utc_offset", json!(offset));
        set(&mut v, "/carers/0/absences/0/from", json!(instant));
        set(&mut v, "/packages/0/referral_time", json!(instant));
        set(&mut v, "/existing_rota/0/start", json!(instant));
        check_outcome(&validate(&v));
    }

    #[test]
    fn random_day_selectors_never_panic(sel in prop::collection::vec(prop_oneof![
        prop::sample::select(vec!["daily", "weekdays", "weekends", "mon", "Tuesday", "SUN", " fri ", "2026-12-01", "2026-12-31"])
            .prop_map(str::to_string),
        "[a-z]{0,9}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}",
    ], 0..4)) {
        let mut v = baseline();
        set(&mut v, "/carers/1/shifts/0/days", json!(sel));
        set(&mut v, "/packages/0/visits/1/days", json!(sel));
        check_outcome(&validate(&v));
    }
}

// ---------------------------------------------------------------------------
// The work one package may ask for
// ---------------------------------------------------------------------------

fn patterns(n: usize, days: &str) -> Value {
    Value::Array(
        (0..n)
            .map(|i| {
                json!({"id": format!("v{i}"), "days": [days],
                       "time": {"window": {"start": "07:00", "end": "21:00"}}, "duration_min": 15})
            })
            .collect(),
    )
}

#[test]
fn a_package_over_the_visit_caps_is_refused_at_its_visits() {
    // Twelve visits a day is the most; a thirteenth on one day is refused.
    let mut v = baseline();
    remove(&mut v, "/packages/0", "links");
    set(
        &mut v,
        "/packages/1/visits",
        patterns(MAX_PACKAGE_VISITS_PER_DAY, "daily"),
    );
    problem(&v);
    push(
        &mut v,
        "/packages/1/visits",
        json!({"id": "extra", "days": ["2026-12-03"],
        "time": {"exact": "20:00"}, "duration_min": 15}),
    );
    let issues = assert_issue(&v, "$.packages[1].visits", IssueCode::OutOfRange);
    assert!(
        issues.iter().any(|i| i.message.contains("2026-12-03")),
        "names the day: {}",
        list(&issues)
    );
    // Over the horizon: 10 a day for 28 days is 280, over the 250 cap.
    let mut v = baseline();
    remove(&mut v, "/packages/0", "links");
    set(&mut v, "/horizon/days", json!(28));
    remove(&mut v, "/packages/1", "end_date");
    set(&mut v, "/packages/1/visits", patterns(10, "daily"));
    let issues = assert_issue(&v, "$.packages[1].visits", IssueCode::OutOfRange);
    assert!(
        issues
            .iter()
            .any(|i| i.message.contains("over the horizon"))
    );
    // More patterns than read: one issue, and validation still ends quickly.
    let mut v = baseline();
    set(&mut v, "/packages/1/visits", patterns(10_000, "2026-12-03"));
    let issues = assert_issue(&v, "$.packages[1].visits", IssueCode::OutOfRange);
    assert!(issues.iter().any(|i| i.message.contains("visit patterns")));
}
