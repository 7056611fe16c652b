//! Exports for people and other tools: a carer's week as an iCalendar feed
//! (RFC 5545), a team's rota as CSV (RFC 4180, one row per visit and carer),
//! a team's routes as GeoJSON (RFC 7946), and the county map as GeoJSON.
//!
//! Scopes are those of the data: a carer's calendar and a team's rota go to
//! brokers, admins, the team's provider and the team's planner; the map goes
//! to brokers, admins and integrators. The map shows where people wait only to
//! two decimal places (about a kilometre): enough to see demand, not an address.

use super::access::{BROKER_ROLES, ROSTER_ROLES};
use super::broker::{read, require_carer, require_team};
use crate::http::{Access, Answer, ApiError, Method, RequestCtx, RouteSpec};
use carefill_solver::broker::Broker;
use carefill_solver::broker::PackageStatus;
use carefill_solver::format::{Rota, TravelSpec};
use carefill_solver::model::Zone;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;

pub(super) const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        id: "carerCalendar",
        method: Method::Get,
        path: "/v1/carers/{carer_id}/calendar.ics",
        access: Access::Roles(ROSTER_ROLES),
        tag: "rosters",
        summary: "A carer's visits as an iCalendar feed (RFC 5545)",
        description: "One VEVENT per visit of the carer on the team's published rota (local \
                      times with TZID and a VTIMEZONE when the roster has an IANA time zone, UTC \
                      otherwise; the person's id, GEO of the visit, double-handed partners). \
                      Provider keys: own teams' carers; planner keys: own team's (403 otherwise).",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "Calendar",
        },
        errors: &[404],
        handler: |c| Box::pin(calendar(c)),
    },
    RouteSpec {
        id: "teamRotaCsv",
        method: Method::Get,
        path: "/v1/teams/{team_id}/rota.csv",
        access: Access::Roles(ROSTER_ROLES),
        tag: "rosters",
        summary: "The team's published rota as CSV, one row per visit and carer",
        description: "RFC 4180 with a header row: team, carer, shift, date, visit, package, \
                      service_user, arrival, start, end, duration_min, travel_min, travel_m, \
                      late_min, carers_on_visit (2 for a double-handed visit, which has a row per carer).",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "RotaCsv",
        },
        errors: &[404],
        handler: |c| Box::pin(team_rota_csv(c)),
    },
    RouteSpec {
        id: "teamRoutesGeoJson",
        method: Method::Get,
        path: "/v1/teams/{team_id}/routes.geojson",
        access: Access::Roles(ROSTER_ROLES),
        tag: "rosters",
        summary: "The team's routes as GeoJSON",
        description: "A LineString per carer shift through its visits in order (kind=route, with \
                      travel) and a Point per visit (kind=visit). Carers' homes are not included.",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "GeoJson",
        },
        errors: &[404],
        handler: |c| Box::pin(team_routes_geojson(c)),
    },
    RouteSpec {
        id: "countyMap",
        method: Method::Get,
        path: "/v1/map",
        access: Access::Roles(BROKER_ROLES),
        tag: "broker",
        summary: "The county as GeoJSON: areas with capacity, teams, providers, people waiting",
        description: "Features by properties.kind: area (urban area polygon with spare, waiting \
                      and shortfall carer-hours; `rural` without geometry), team (base point), \
                      team_area, provider (centroid of its team bases, tier, status), waiting (an \
                      open or escalated package at its person's location rounded to 0.01°).",
        query: &[],
        request: None,
        response: Answer {
            status: 200,
            schema: "GeoJson",
        },
        errors: &[404],
        handler: |c| Box::pin(map(c)),
    },
];

fn text_reply(content_type: &'static str, filename: Option<String>, body: String) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = StatusCode::OK;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(name) = filename
        && let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{name}\""))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// The team's rota after checking the caller may see it.
fn team_rota(b: &Broker, who: &crate::Principal, team: &str) -> Result<Rota, ApiError> {
    require_team(b, who, team)?;
    Ok(b.rotas.get(team).cloned().unwrap_or_default())
}

/// Ids in file names: anything but `[A-Za-z0-9._-]` becomes `_`.
fn file_safe(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

// ---- iCalendar -------------------------------------------------------------

/// RFC 5545 TEXT escaping.
fn ics_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends one content line, folded at 75 octets (RFC 5545 §3.1) and ended with CRLF.
fn ics_line(out: &mut String, line: &str) {
    let mut len = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if len + n > 75 {
            out.push_str("\r\n ");
            len = 1;
        }
        out.push(c);
        len += n;
    }
    out.push_str("\r\n");
}

fn ics_time(t: &DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

fn parse_time(s: &str, what: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| ApiError::Internal(format!("{what} `{s}` in a stored rota: {e}")))
}

/// A change of UTC offset: at `at` the offset (seconds east) goes from `from` to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Transition {
    at: DateTime<Utc>,
    from: i32,
    to: i32,
}

fn offset_secs(zone: &Zone, t: &DateTime<Utc>) -> i32 {
    zone.offset_at(t).local_minus_utc()
}

/// The zone's offset changes in `[from, to]`, each to the second: steps of
/// three hours (no zone changes its offset twice within three hours), then
/// bisection inside the step where the offset differs.
fn transitions(zone: &Zone, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Transition> {
    let step = Duration::hours(3);
    let mut out = Vec::new();
    let mut t = from;
    let mut off = offset_secs(zone, &t);
    while t < to {
        let next = t + step;
        let next_off = offset_secs(zone, &next);
        if next_off != off {
            // In whole seconds: the offset at `lo` is `off`, at `hi` is not.
            let (mut lo, mut hi) = (t.timestamp(), next.timestamp());
            let at = |s: i64| DateTime::from_timestamp(s, 0).unwrap_or(next);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if offset_secs(zone, &at(mid)) == off {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            out.push(Transition {
                at: at(hi),
                from: off,
                to: next_off,
            });
        }
        t = next;
        off = next_off;
    }
    out
}

/// An RFC 5545 UTC offset (`+0100`, `-0330`; seconds only when not whole minutes).
fn ics_offset(secs: i32) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.unsigned_abs();
    let (h, m, s) = (a / 3600, a / 60 % 60, a % 60);
    if s == 0 {
        format!("{sign}{h:02}{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}{s:02}")
    }
}

/// The VTIMEZONE of an IANA zone for events in `[first, last]` (RFC 5545
/// §3.6.5): the observance in force at `first` and each change up to `last`.
/// An observance's DTSTART is its onset in the local time before the change;
/// a change to a larger offset starts DAYLIGHT time, to a smaller STANDARD.
fn vtimezone(out: &mut String, name: &str, zone: &Zone, first: DateTime<Utc>, last: DateTime<Utc>) {
    // A year back finds the change in force for any zone with clock changes.
    let all = transitions(zone, first - Duration::days(400), last);
    let in_force = all.iter().rposition(|t| t.at <= first);
    ics_line(out, "BEGIN:VTIMEZONE");
    ics_line(out, &format!("TZID:{}", ics_text(name)));
    if in_force.is_none() {
        // No change for a year before `first`: one standard observance since 1970.
        let off = ics_offset(
            all.first()
                .map_or_else(|| offset_secs(zone, &first), |t| t.from),
        );
        let from = format!("TZOFFSETFROM:{off}");
        let to = format!("TZOFFSETTO:{off}");
        let lines: [&str; 5] = [
            "BEGIN:STANDARD",
            "DTSTART:19700101T000000",
            &from,
            &to,
            "END:STANDARD",
        ];
        for l in lines {
            ics_line(out, l);
        }
    }
    for t in &all[in_force.unwrap_or(0)..] {
        let kind = if t.to > t.from {
            "DAYLIGHT"
        } else {
            "STANDARD"
        };
        let onset = t.at.naive_utc() + Duration::seconds(i64::from(t.from));
        ics_line(out, &format!("BEGIN:{kind}"));
        ics_line(out, &format!("DTSTART:{}", onset.format("%Y%m%dT%H%M%S")));
        ics_line(out, &format!("TZOFFSETFROM:{}", ics_offset(t.from)));
        ics_line(out, &format!("TZOFFSETTO:{}", ics_offset(t.to)));
        ics_line(out, &format!("END:{kind}"));
    }
    ics_line(out, "END:VTIMEZONE");
}

/// A DTSTART/DTEND property: local time with the zone's TZID, or a UTC instant
/// without a named zone. The second reading of a repeated local hour (clocks
/// going back) cannot be written with a TZID (RFC 5545 reads a repeated local
/// time as its first occurrence), so it is written in UTC.
fn ics_when(prop: &str, t: &DateTime<Utc>, zone: Option<(&str, &Zone)>) -> String {
    if let Some((name, z)) = zone {
        let local = t.with_timezone(&z.offset_at(t)).naive_local();
        if z.resolve(local) == *t {
            return format!(
                "{prop};TZID={}:{}",
                ics_text(name),
                local.format("%Y%m%dT%H%M%S")
            );
        }
    }
    format!("{prop}:{}", ics_time(t))
}

/// The iCalendar text of one carer's visits in `rota`. With an IANA zone on
/// the roster the times are local with its TZID and a VTIMEZONE, so a phone
/// shows them on the team's clock across clock changes; otherwise UTC.
pub fn carer_calendar(
    b: &Broker,
    carer: &str,
    rota: &Rota,
    now: DateTime<Utc>,
) -> Result<String, ApiError> {
    let mut out = String::new();
    for l in [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//carefill//rota//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ] {
        ics_line(&mut out, l);
    }
    ics_line(
        &mut out,
        &format!("X-WR-CALNAME:{}", ics_text(&format!("carefill: {carer}"))),
    );
    let mut visits = Vec::new();
    for r in rota.routes.iter().filter(|r| r.carer == carer) {
        for s in &r.stops {
            visits.push((
                s,
                parse_time(&s.start, "start")?,
                parse_time(&s.end, "end")?,
            ));
        }
    }
    let zone = Zone::of(&b.roster.horizon);
    let named = zone.name().map(|n| (n, &zone));
    if let Some((name, z)) = named {
        let first = visits.iter().map(|v| v.1).min().unwrap_or(now);
        let last = visits.iter().map(|v| v.2).max().unwrap_or(now);
        vtimezone(&mut out, name, z, first, last.max(first));
    }
    let stamp = ics_time(&now);
    let mut partners: HashMap<&str, Vec<&str>> = HashMap::new();
    for r in &rota.routes {
        for s in &r.stops {
            partners.entry(s.visit.as_str()).or_default().push(&r.carer);
        }
    }
    for (s, start, end) in visits {
        ics_line(&mut out, "BEGIN:VEVENT");
        ics_line(
            &mut out,
            &format!("UID:{}", ics_text(&format!("{}/{carer}@carefill", s.visit))),
        );
        ics_line(&mut out, &format!("DTSTAMP:{stamp}"));
        ics_line(&mut out, &ics_when("DTSTART", &start, named));
        ics_line(&mut out, &ics_when("DTEND", &end, named));
        ics_line(
            &mut out,
            &format!("SUMMARY:{}", ics_text(&format!("Visit {}", s.service_user))),
        );
        let others: Vec<&str> = partners
            .get(s.visit.as_str())
            .map(|v| v.iter().copied().filter(|c| *c != carer).collect())
            .unwrap_or_default();
        let mut desc = format!("Visit {}; arrive {}", s.visit, &s.arrival);
        if !others.is_empty() {
            let _ = write!(desc, "; double-handed with {}", others.join(", "));
        }
        if s.travel_min > 0 {
            let _ = write!(desc, "; {} min travel before", s.travel_min);
        }
        ics_line(&mut out, &format!("DESCRIPTION:{}", ics_text(&desc)));
        if let Some(u) = b.service_user(&s.service_user) {
            ics_line(
                &mut out,
                &format!("GEO:{:.6};{:.6}", u.location.lat, u.location.lon),
            );
        }
        ics_line(&mut out, "TRANSP:OPAQUE");
        ics_line(&mut out, "END:VEVENT");
    }
    ics_line(&mut out, "END:VCALENDAR");
    Ok(out)
}

/// `GET /v1/carers/{carer_id}/calendar.ics`.
async fn calendar(ctx: RequestCtx) -> Result<Response, ApiError> {
    let carer = ctx.param("carer_id")?.to_string();
    let who = ctx.principal()?.clone();
    let c2 = carer.clone();
    let text = read(&ctx, move |b, now| {
        let team = require_carer(b, &who, &c2)?;
        let rota = b.rotas.get(&team).cloned().unwrap_or_default();
        carer_calendar(b, &c2, &rota, now)
    })
    .await?;
    Ok(text_reply(
        "text/calendar; charset=utf-8",
        Some(format!("{}.ics", file_safe(&carer))),
        text,
    ))
}

// ---- CSV -------------------------------------------------------------------

fn csv_cell(out: &mut String, v: &str) {
    if v.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(v);
    }
}

fn csv_row(out: &mut String, cells: &[&str]) {
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_cell(out, c);
    }
    out.push_str("\r\n");
}

/// Header of the rota CSV.
pub const ROTA_CSV_HEADER: &[&str] = &[
    "team",
    "carer",
    "shift",
    "date",
    "visit",
    "package",
    "service_user",
    "arrival",
    "start",
    "end",
    "duration_min",
    "travel_min",
    "travel_m",
    "late_min",
    "carers_on_visit",
];

/// The rota as CSV: one row per visit and carer (a double-handed visit has two rows).
pub fn rota_csv(team: &str, rota: &Rota) -> Result<String, ApiError> {
    let mut out = String::new();
    csv_row(&mut out, ROTA_CSV_HEADER);
    let mut on_visit: HashMap<&str, usize> = HashMap::new();
    for r in &rota.routes {
        for s in &r.stops {
            *on_visit.entry(s.visit.as_str()).or_default() += 1;
        }
    }
    for r in &rota.routes {
        for s in &r.stops {
            let start = parse_time(&s.start, "start")?;
            let end = parse_time(&s.end, "end")?;
            let package = s.visit.split('/').next().unwrap_or_default();
            csv_row(
                &mut out,
                &[
                    team,
                    &r.carer,
                    &r.shift,
                    s.start.get(..10).unwrap_or_default(),
                    &s.visit,
                    package,
                    &s.service_user,
                    &s.arrival,
                    &s.start,
                    &s.end,
                    &(end - start).num_minutes().to_string(),
                    &s.travel_min.to_string(),
                    &s.travel_m.to_string(),
                    &s.late_min.to_string(),
                    &on_visit
                        .get(s.visit.as_str())
                        .copied()
                        .unwrap_or(1)
                        .to_string(),
                ],
            );
        }
    }
    Ok(out)
}

/// `GET /v1/teams/{team_id}/rota.csv`.
async fn team_rota_csv(ctx: RequestCtx) -> Result<Response, ApiError> {
    let team = ctx.param("team_id")?.to_string();
    let who = ctx.principal()?.clone();
    let t2 = team.clone();
    let text = read(&ctx, move |b, _| rota_csv(&t2, &team_rota(b, &who, &t2)?)).await?;
    Ok(text_reply(
        "text/csv; charset=utf-8; header=present",
        Some(format!("rota-{}.csv", file_safe(&team))),
        text,
    ))
}

// ---- GeoJSON ---------------------------------------------------------------

fn point(lat: f64, lon: f64, properties: Value) -> Value {
    json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": properties})
}

fn geojson_reply(v: &Value) -> Result<Response, ApiError> {
    let body = serde_json::to_string(v).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(text_reply("application/geo+json", None, body))
}

/// `GET /v1/teams/{team_id}/routes.geojson`: one LineString per shift through its
/// visits in order, and one Point per visit.
async fn team_routes_geojson(ctx: RequestCtx) -> Result<Response, ApiError> {
    let team = ctx.param("team_id")?.to_string();
    let who = ctx.principal()?.clone();
    let v = read(&ctx, move |b, _| {
        let rota = team_rota(b, &who, &team)?;
        let mut features = Vec::new();
        for r in &rota.routes {
            let mut line = Vec::new();
            for s in &r.stops {
                if let Some(u) = b.service_user(&s.service_user) {
                    line.push(json!([u.location.lon, u.location.lat]));
                    features.push(point(
                        u.location.lat,
                        u.location.lon,
                        json!({"kind": "visit", "carer": r.carer, "shift": r.shift, "visit": s.visit,
                               "service_user": s.service_user, "start": s.start, "end": s.end,
                               "late_min": s.late_min}),
                    ));
                }
            }
            let travel: u32 = r.stops.iter().map(|s| s.travel_min).sum();
            let metres: u32 = r.stops.iter().map(|s| s.travel_m).sum();
            features.push(json!({"type": "Feature",
                "geometry": {"type": "LineString", "coordinates": line},
                "properties": {"kind": "route", "carer": r.carer, "shift": r.shift,
                               "stops": r.stops.len(), "travel_min": travel, "travel_m": metres}}));
        }
        Ok(json!({"type": "FeatureCollection", "features": features}))
    })
    .await?;
    geojson_reply(&v)
}

/// A circle as a closed GeoJSON ring of `n` points (`[lon, lat]`).
fn circle(lat: f64, lon: f64, radius_m: f64, n: usize) -> Vec<[f64; 2]> {
    let dlat = radius_m / 111_320.0;
    let dlon = dlat / lat.to_radians().cos().max(0.01);
    let mut ring: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            let a = std::f64::consts::TAU * i as f64 / n as f64;
            [lon + dlon * a.cos(), lat + dlat * a.sin()]
        })
        .collect();
    if let Some(first) = ring.first().copied() {
        ring.push(first);
    }
    ring
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The county map: areas with capacity, team bases (and areas), providers, people waiting.
pub fn county_map(b: &Broker, now: DateTime<Utc>) -> Value {
    let capacity = b.capacity_map();
    let mut features = Vec::new();
    if let TravelSpec::Haversine(h) = &b.roster.travel {
        for (i, town) in h.urban_areas.iter().enumerate() {
            let name = town
                .name
                .clone()
                .unwrap_or_else(|| format!("town {}", i + 1));
            let cap = capacity.get(&name);
            features.push(json!({"type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [circle(town.centre.lat, town.centre.lon, town.radius_m * 2.0, 48)]},
                "properties": {"kind": "area", "name": name, "centre": [town.centre.lon, town.centre.lat],
                    "teams": cap.map_or(0, |c| c.teams),
                    "spare_hours": cap.map_or(0.0, |c| c.total_spare_hours),
                    "unfilled_demand_hours": cap.map_or(0.0, |c| c.unfilled_demand_hours),
                    "shortfall_hours": cap.map_or(0.0, |c| c.shortfall_hours)}}));
        }
    }
    if let Some(rural) = capacity.get("rural") {
        features.push(json!({"type": "Feature", "geometry": null,
            "properties": {"kind": "area", "name": "rural", "teams": rural.teams,
                "spare_hours": rural.total_spare_hours, "unfilled_demand_hours": rural.unfilled_demand_hours,
                "shortfall_hours": rural.shortfall_hours}}));
    }
    let mut carers: HashMap<&str, usize> = HashMap::new();
    for c in &b.roster.carers {
        if let Some(t) = c.team.as_deref() {
            *carers.entry(t).or_default() += 1;
        }
    }
    let mut bases: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    for t in &b.roster.teams {
        if let Some(p) = t.provider.as_deref() {
            bases.entry(p).or_default().push((t.base.lat, t.base.lon));
        }
        features.push(point(
            t.base.lat,
            t.base.lon,
            json!({"kind": "team", "id": t.id, "provider": t.provider, "carers": carers.get(t.id.as_str()).copied().unwrap_or(0)}),
        ));
        if let Some(area) = &t.area {
            features.push(json!({"type": "Feature", "geometry": area,
                "properties": {"kind": "team_area", "id": t.id, "provider": t.provider}}));
        }
    }
    for p in &b.roster.providers {
        let Some(pts) = bases.get(p.id.as_str()) else {
            continue;
        };
        let n = pts.len() as f64;
        let (lat, lon) = pts
            .iter()
            .fold((0.0, 0.0), |(a, o), (la, lo)| (a + la / n, o + lo / n));
        features.push(point(
            lat,
            lon,
            json!({"kind": "provider", "id": p.id, "name": p.name, "tier": p.tier,
                   "status": p.framework_status, "teams": pts.len()}),
        ));
    }
    for r in b.packages.values() {
        if !matches!(r.status, PackageStatus::Open | PackageStatus::Escalated) {
            continue;
        }
        let Some(u) = b.service_user(&r.package.service_user) else {
            continue;
        };
        features.push(point(
            round2(u.location.lat),
            round2(u.location.lon),
            json!({"kind": "waiting", "package": r.package.id, "urgency": r.package.urgency,
                   "status": r.status, "stage": r.stage, "area": r.area,
                   "age_min": (now - r.referred_at).num_seconds() as f64 / 60.0}),
        ));
    }
    json!({"type": "FeatureCollection", "features": features})
}

/// `GET /v1/map`.
async fn map(ctx: RequestCtx) -> Result<Response, ApiError> {
    let v = read(&ctx, |b, now| Ok(county_map(b, now))).await?;
    geojson_reply(&v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_ics_lines_fold_at_75_octets_and_text_is_escaped() {
        let mut out = String::new();
        let long = format!("DESCRIPTION:{}", "é".repeat(60));
        ics_line(&mut out, &long);
        for line in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(line.len() <= 75, "{} octets", line.len());
        }
        assert_eq!(out.replace("\r\n ", ""), format!("{long}\r\n"));
        assert_eq!(ics_text("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
    }

    fn london() -> Zone {
        Zone::Iana(carefill_solver::model::time::parse_zone("Europe/London").expect("zone"))
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn london_changes_its_clocks_at_one_utc_on_the_last_sundays_of_march_and_october() {
        let z = london();
        let got = transitions(&z, utc("2026-01-01T00:00:00Z"), utc("2026-12-31T00:00:00Z"));
        assert_eq!(
            got,
            vec![
                Transition {
                    at: utc("2026-03-29T01:00:00Z"),
                    from: 0,
                    to: 3600
                },
                Transition {
                    at: utc("2026-10-25T01:00:00Z"),
                    from: 3600,
                    to: 0
                },
            ]
        );
        assert_eq!(ics_offset(3600), "+0100");
        assert_eq!(ics_offset(-12_600), "-0330");
        assert_eq!(ics_offset(0), "+0000");
    }

    #[test]
    fn a_summer_week_has_the_march_change_in_force_and_local_times() {
        let z = london();
        let mut out = String::new();
        vtimezone(
            &mut out,
            "Europe/London",
            &z,
            utc("2026-06-15T08:00:00Z"),
            utc("2026-06-21T20:00:00Z"),
        );
        let lines: Vec<&str> = out.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(
            lines,
            [
                "BEGIN:VTIMEZONE",
                "TZID:Europe/London",
                "BEGIN:DAYLIGHT",
                "DTSTART:20260329T010000",
                "TZOFFSETFROM:+0000",
                "TZOFFSETTO:+0100",
                "END:DAYLIGHT",
                "END:VTIMEZONE"
            ]
        );
        let at = utc("2026-06-15T08:00:00Z");
        assert_eq!(
            ics_when("DTSTART", &at, Some(("Europe/London", &z))),
            "DTSTART;TZID=Europe/London:20260615T090000"
        );
        assert_eq!(ics_when("DTSTART", &at, None), "DTSTART:20260615T080000Z");
        // 01:30 happens twice on 25 October: the first reading keeps the TZID,
        // the second (after the clocks went back) is written in UTC.
        let first = utc("2026-10-25T00:30:00Z");
        let second = utc("2026-10-25T01:30:00Z");
        assert_eq!(
            ics_when("DTEND", &first, Some(("Europe/London", &z))),
            "DTEND;TZID=Europe/London:20261025T013000"
        );
        assert_eq!(
            ics_when("DTEND", &second, Some(("Europe/London", &z))),
            "DTEND:20261025T013000Z"
        );
    }

    #[test]
    fn a_zone_without_clock_changes_has_one_standard_observance() {
        let z = Zone::Iana(carefill_solver::model::time::parse_zone("Asia/Tokyo").expect("zone"));
        let mut out = String::new();
        let t = utc("2026-06-15T00:00:00Z");
        vtimezone(&mut out, "Asia/Tokyo", &z, t, t + Duration::days(7));
        assert_eq!(
            out,
            "BEGIN:VTIMEZONE\r\nTZID:Asia/Tokyo\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\n\
             TZOFFSETFROM:+0900\r\nTZOFFSETTO:+0900\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
        );
    }

    #[test]
    fn csv_cells_with_commas_or_quotes_are_quoted() {
        let mut out = String::new();
        csv_row(&mut out, &["a", "b,c", "say \"hi\""]);
        assert_eq!(out, "a,\"b,c\",\"say \"\"hi\"\"\"\r\n");
    }

    #[test]
    fn a_circle_ring_is_closed() {
        let ring = circle(50.7, -3.5, 1000.0, 16);
        assert_eq!(ring.len(), 17);
        assert_eq!(ring.first(), ring.last());
    }
}
