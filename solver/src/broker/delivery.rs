//! Live operations around the rotas: the policy changed at run time (each
//! version in the audit log), notices that an offer's window is closing, and
//! the delivery loop (carers check in and out of visits; a visit not checked
//! in on time raises a late, then a missed, alert to its team).
//!
//! Delivery records are keyed by concrete visit id (`"{package}/{pattern}@{date}"`)
//! and copy what they need from the rota when first touched, so they outlive
//! the live rota's days (a rolling horizon moves past days out of it).

use super::config::VisitMonitoring;
use super::records::{Alert, OfferStatus, PackageStatus};
use super::{Broker, BrokerConfig, BrokerError, BrokerEvent};
use crate::format::{Issue, IssueCode, Location};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// How far ahead of the service's clock a check-in or -out may be stamped
/// (device clocks drift).
pub const MAX_CLOCK_SKEW_MIN: i64 = 5;
/// A check-in more than this far from the visit's planned time is refused as
/// a mistake (wrong visit, wrong day).
pub const MAX_CHECK_IN_OFFSET_H: i64 = 12;
/// Longest accepted visit, check-in to check-out.
pub const MAX_VISIT_LENGTH_H: i64 = 16;

/// One version of the brokering policy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PolicyVersion {
    /// 1 for the policy the store was created with, then +1 per change.
    pub version: u32,
    /// When it took effect (`None` for the baseline).
    pub at: Option<DateTime<Utc>>,
    /// Key id that set it (`baseline` for version 1).
    pub by: String,
    /// The whole policy.
    pub config: BrokerConfig,
}

/// A point reported by a carer's device.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GeoPoint {
    /// Latitude, degrees (-90..=90).
    pub lat: f64,
    /// Longitude, degrees (-180..=180).
    pub lon: f64,
}

/// A visit as the rota plans it, copied into the delivery record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PlannedVisit {
    /// Concrete visit id.
    pub visit: String,
    /// Package.
    pub package: String,
    /// Team whose rota holds it.
    pub team: String,
    /// The team's provider.
    pub provider: Option<String>,
    /// Carers planned (two for a double-handed visit).
    pub carers: Vec<String>,
    /// Planned start.
    pub planned_start: DateTime<Utc>,
    /// Planned end.
    pub planned_end: DateTime<Utc>,
}

/// A check-in or check-out.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CheckPoint {
    /// When it happened (as reported).
    pub time: DateTime<Utc>,
    /// When the service recorded it.
    pub recorded_at: DateTime<Utc>,
    /// Key id that reported it.
    pub by: String,
    /// Carer, when the device says.
    pub carer: Option<String>,
    /// Where, when the device says.
    pub location: Option<GeoPoint>,
    /// Distance from the person's home, metres, when a location was given.
    pub distance_m: Option<u32>,
}

/// What is known of one visit's delivery.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VisitRecord {
    /// The visit as planned when first recorded.
    pub planned: PlannedVisit,
    /// Arrival.
    pub check_in: Option<CheckPoint>,
    /// Departure.
    pub check_out: Option<CheckPoint>,
    /// A `visit_late` alert was raised.
    pub late_alerted: bool,
    /// A `visit_missed` alert was raised.
    pub missed_alerted: bool,
}

impl VisitRecord {
    fn new(planned: PlannedVisit) -> Self {
        VisitRecord {
            planned,
            check_in: None,
            check_out: None,
            late_alerted: false,
            missed_alerted: false,
        }
    }
}

/// Delivery-loop state (changed only by events).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryState {
    /// Visits checked in or alerted, by visit id.
    pub visits: BTreeMap<String, VisitRecord>,
    /// Per team, the planned start of its first checked-in visit: visits from
    /// then on are watched under [`VisitMonitoring::TeamsCheckingIn`].
    pub monitored_since: BTreeMap<String, DateTime<Utc>>,
    /// When [`VisitMonitoring::All`] was switched on (`None`: from the start).
    pub monitor_all_since: Option<DateTime<Utc>>,
    /// Open offers already given their `offer_expiring` notice.
    pub expiry_noticed: BTreeSet<String>,
}

/// A check-in or check-out as asked for.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = VisitCheck))]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// RFC 3339 with an offset; defaults to now.
    #[serde(default)]
    pub time: Option<String>,
    /// Where the device was.
    #[serde(default)]
    pub location: Option<GeoPoint>,
    /// The carer checking in (one of the visit's carers), when known.
    #[serde(default)]
    pub carer: Option<String>,
}

impl Broker {
    /// The current policy version number.
    pub fn policy_version(&self) -> u32 {
        self.policy_versions.last().map_or(1, |v| v.version)
    }

    /// Replaces the whole policy. `expected` (the version the caller read)
    /// guards against overwriting someone else's change. Nothing happens when
    /// the policy is unchanged.
    pub fn change_policy(
        &mut self,
        config: BrokerConfig,
        by: &str,
        expected: Option<u32>,
        now: DateTime<Utc>,
    ) -> Result<Vec<BrokerEvent>, BrokerError> {
        let issues = config.issues();
        if !issues.is_empty() {
            return Err(BrokerError::InvalidFields(issues));
        }
        let current = self.policy_version();
        if let Some(v) = expected
            && v != current
        {
            return Err(BrokerError::Refused {
                code: "policy_version_mismatch",
                detail: format!(
                    "the policy is at version {current}, not {v}; read it again and re-apply the change"
                ),
            });
        }
        let mut out = Vec::new();
        if config != self.config {
            self.emit(
                BrokerEvent::PolicyChanged {
                    at: now,
                    version: current + 1,
                    by: by.to_string(),
                    config,
                },
                &mut out,
            );
        }
        Ok(out)
    }

    /// The planned visit `id` on a team's live rota.
    pub fn planned_visit(&self, id: &str) -> Option<PlannedVisit> {
        let (package, _) = id.rsplit_once('/')?;
        let mut found: Option<PlannedVisit> = None;
        for (team, rota) in &self.rotas {
            for route in &rota.routes {
                for stop in route.stops.iter().filter(|s| s.visit == id) {
                    let (Some(start), Some(end)) = (instant(&stop.start), instant(&stop.end))
                    else {
                        continue;
                    };
                    let v = found.get_or_insert_with(|| PlannedVisit {
                        visit: id.to_string(),
                        package: package.to_string(),
                        team: team.clone(),
                        provider: self.team_provider(team),
                        carers: Vec::new(),
                        planned_start: start,
                        planned_end: end,
                    });
                    if v.team == *team && !v.carers.contains(&route.carer) {
                        v.carers.push(route.carer.clone());
                    }
                }
            }
        }
        found
    }

    /// The delivery record of a visit, or one built from the live rota.
    pub fn visit_record(&self, id: &str) -> Option<VisitRecord> {
        self.delivery
            .visits
            .get(id)
            .cloned()
            .or_else(|| self.planned_visit(id).map(VisitRecord::new))
    }

    /// A carer (or their device) arrived. `may_act(team, provider)` says
    /// whether the caller may act for the visit's team; a visit it may not
    /// see is reported unknown.
    pub fn check_in(
        &mut self,
        visit: &str,
        req: &CheckRequest,
        by: &str,
        may_act: &dyn Fn(&str, Option<&str>) -> bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<BrokerEvent>, BrokerError> {
        let record = self.visible_visit(visit, may_act)?;
        if let Some(c) = &record.check_in {
            return Err(BrokerError::Refused {
                code: "already_checked_in",
                detail: format!("visit `{visit}` was checked in at {}", c.time.to_rfc3339()),
            });
        }
        let mut issues = Vec::new();
        let time = check_time(req, now, &mut issues);
        if let Some(t) = time {
            let p = &record.planned;
            let window = Duration::hours(MAX_CHECK_IN_OFFSET_H);
            if t < p.planned_start - window || t > p.planned_end + window {
                issues.push(Issue::new(
                    "$.time",
                    IssueCode::OutOfRange,
                    format!(
                        "{} is more than {MAX_CHECK_IN_OFFSET_H} h from the visit's planned time ({} - {}); is this the right visit?",
                        t.to_rfc3339(),
                        p.planned_start.to_rfc3339(),
                        p.planned_end.to_rfc3339()
                    ),
                ));
            }
        }
        let point = self.check_point(&record, req, by, time, now, &mut issues);
        if !issues.is_empty() {
            return Err(BrokerError::InvalidFields(issues));
        }
        let mut out = Vec::new();
        if let Some(point) = point {
            self.emit(
                BrokerEvent::VisitCheckedIn {
                    visit: record.planned,
                    check: point,
                },
                &mut out,
            );
        }
        Ok(out)
    }

    /// A carer (or their device) left; the visit must be checked in.
    pub fn check_out(
        &mut self,
        visit: &str,
        req: &CheckRequest,
        by: &str,
        may_act: &dyn Fn(&str, Option<&str>) -> bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<BrokerEvent>, BrokerError> {
        let record = self.visible_visit(visit, may_act)?;
        let Some(check_in) = record.check_in.clone() else {
            return Err(BrokerError::Refused {
                code: "not_checked_in",
                detail: format!("visit `{visit}` has not been checked in; check in first"),
            });
        };
        if let Some(c) = &record.check_out {
            return Err(BrokerError::Refused {
                code: "already_checked_out",
                detail: format!("visit `{visit}` was checked out at {}", c.time.to_rfc3339()),
            });
        }
        let mut issues = Vec::new();
        let time = check_time(req, now, &mut issues);
        if let Some(t) = time {
            if t < check_in.time {
                issues.push(Issue::new(
                    "$.time",
                    IssueCode::EndBeforeStart,
                    format!(
                        "check-out {} is before the check-in at {}",
                        t.to_rfc3339(),
                        check_in.time.to_rfc3339()
                    ),
                ));
            } else if t - check_in.time > Duration::hours(MAX_VISIT_LENGTH_H) {
                issues.push(Issue::new(
                    "$.time",
                    IssueCode::OutOfRange,
                    format!("check-out is more than {MAX_VISIT_LENGTH_H} h after the check-in"),
                ));
            }
        }
        let point = self.check_point(&record, req, by, time, now, &mut issues);
        if !issues.is_empty() {
            return Err(BrokerError::InvalidFields(issues));
        }
        let mut out = Vec::new();
        if let Some(point) = point {
            self.emit(
                BrokerEvent::VisitCheckedOut {
                    visit: record.planned,
                    check: point,
                },
                &mut out,
            );
        }
        Ok(out)
    }

    fn visible_visit(
        &self,
        visit: &str,
        may_act: &dyn Fn(&str, Option<&str>) -> bool,
    ) -> Result<VisitRecord, BrokerError> {
        self.visit_record(visit)
            .filter(|r| may_act(&r.planned.team, r.planned.provider.as_deref()))
            .ok_or_else(|| BrokerError::UnknownVisit(visit.to_string()))
    }

    fn check_point(
        &self,
        record: &VisitRecord,
        req: &CheckRequest,
        by: &str,
        time: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        issues: &mut Vec<Issue>,
    ) -> Option<CheckPoint> {
        if let Some(c) = &req.carer
            && !record.planned.carers.contains(c)
        {
            issues.push(Issue::new(
                "$.carer",
                IssueCode::UnknownReference,
                format!(
                    "carer `{c}` is not planned for this visit (planned: {})",
                    record.planned.carers.join(", ")
                ),
            ));
        }
        let mut distance_m = None;
        if let Some(p) = req.location {
            let lat_ok = p.lat.is_finite() && (-90.0..=90.0).contains(&p.lat);
            let lon_ok = p.lon.is_finite() && (-180.0..=180.0).contains(&p.lon);
            if !lat_ok {
                issues.push(Issue::new(
                    "$.location.lat",
                    IssueCode::CoordinatesOutOfRange,
                    "latitude must be -90..=90",
                ));
            }
            if !lon_ok {
                issues.push(Issue::new(
                    "$.location.lon",
                    IssueCode::CoordinatesOutOfRange,
                    "longitude must be -180..=180",
                ));
            }
            if lat_ok && lon_ok {
                let home = self
                    .packages
                    .get(&record.planned.package)
                    .map(|r| r.package.service_user.clone())
                    .or_else(|| {
                        self.roster
                            .packages
                            .iter()
                            .find(|pk| pk.id == record.planned.package)
                            .map(|pk| pk.service_user.clone())
                    })
                    .and_then(|u| self.service_user(&u).map(|u| u.location));
                distance_m = home.map(|h| {
                    let here = Location {
                        lat: p.lat,
                        lon: p.lon,
                        matrix_index: None,
                    };
                    crate::travel::haversine_m(&h, &here).round() as u32
                });
            }
        }
        Some(CheckPoint {
            time: time?,
            recorded_at: now,
            by: by.to_string(),
            carer: req.carer.clone(),
            location: req.location,
            distance_m,
        })
    }

    fn team_provider(&self, team: &str) -> Option<String> {
        self.roster
            .teams
            .iter()
            .find(|t| t.id == team)
            .and_then(|t| t.provider.clone())
    }

    /// Part of [`Broker::tick`]: offers whose window closes soon get their
    /// notice, and watched visits not checked in on time raise alerts.
    pub(super) fn watch(&mut self, now: DateTime<Utc>, out: &mut Vec<BrokerEvent>) {
        self.notice_expiring_offers(now, out);
        self.watch_visits(now, out);
    }

    fn notice_expiring_offers(&mut self, now: DateTime<Utc>, out: &mut Vec<BrokerEvent>) {
        let notice = Duration::minutes(i64::from(self.config.offer_expiring_notice_min));
        if notice.is_zero() {
            return;
        }
        let due: Vec<(String, DateTime<Utc>)> = self
            .offers
            .values()
            .filter(|o| {
                o.status == OfferStatus::Open
                    && !self.delivery.expiry_noticed.contains(&o.id)
                    // A window shorter than the notice: the offer itself was the notice.
                    && o.expires_at - notice > o.made_at
                    && o.expires_at - notice <= now
                    && now < o.expires_at
            })
            .map(|o| (o.id.clone(), o.expires_at - notice))
            .collect();
        for (offer, at) in due {
            self.emit(BrokerEvent::OfferExpiring { at, offer }, out);
        }
    }

    fn watch_visits(&mut self, now: DateTime<Utc>, out: &mut Vec<BrokerEvent>) {
        let policy = self.config.delivery.clone();
        if policy.monitor == VisitMonitoring::Off {
            return;
        }
        let late = Duration::minutes(i64::from(policy.late_after_min));
        let missed = Duration::minutes(i64::from(policy.missed_after_min));
        let mut due: Vec<(PlannedVisit, bool, DateTime<Utc>)> = Vec::new();
        let mut seen = BTreeSet::new();
        for (team, rota) in &self.rotas {
            let since = match policy.monitor {
                VisitMonitoring::Off => continue,
                VisitMonitoring::TeamsCheckingIn => match self.delivery.monitored_since.get(team) {
                    Some(t) => Some(*t),
                    None => continue,
                },
                VisitMonitoring::All => self.delivery.monitor_all_since,
            };
            for stop in rota.routes.iter().flat_map(|r| &r.stops) {
                let Some(start) = instant(&stop.start) else {
                    continue;
                };
                if now < start + late
                    || since.is_some_and(|s| start < s)
                    || !seen.insert(stop.visit.clone())
                {
                    continue;
                }
                let rec = self.delivery.visits.get(&stop.visit);
                if rec.is_some_and(|r| r.check_in.is_some() || r.missed_alerted) {
                    continue;
                }
                let is_missed = now >= start + missed;
                if !is_missed && rec.is_some_and(|r| r.late_alerted) {
                    continue;
                }
                let Some(planned) = rec
                    .map(|r| r.planned.clone())
                    .or_else(|| self.planned_visit(&stop.visit))
                else {
                    continue;
                };
                let at = if is_missed {
                    start + missed
                } else {
                    start + late
                };
                due.push((planned, is_missed, at));
            }
        }
        for (visit, missed_now, at) in due {
            let (code, minutes) = if missed_now {
                ("visit_missed", policy.missed_after_min)
            } else {
                ("visit_late", policy.late_after_min)
            };
            let alert = Alert {
                at,
                package: visit.package.clone(),
                code: code.to_string(),
                message: format!(
                    "visit {} (team {}, carers {}) planned for {} is not checked in {minutes} min after its planned start",
                    visit.visit,
                    visit.team,
                    visit.carers.join(" + "),
                    visit.planned_start.to_rfc3339()
                ),
            };
            self.emit(
                BrokerEvent::VisitOverdue {
                    visit,
                    missed: missed_now,
                    alert,
                },
                out,
            );
        }
    }

    /// Minutes from referral to the first checked-in visit, per package
    /// brokered here (adopted packages have no referral to count from).
    pub fn first_delivery_minutes(&self) -> BTreeMap<String, f64> {
        let mut first: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
        for r in self.delivery.visits.values() {
            if let Some(c) = &r.check_in {
                let e = first.entry(r.planned.package.as_str()).or_insert(c.time);
                *e = (*e).min(c.time);
            }
        }
        first
            .into_iter()
            .filter_map(|(pkg, t)| {
                let r = self.packages.get(pkg)?;
                let brokered = !r.stages_tried.is_empty() || r.filled_tier.is_some();
                (brokered && r.status != PackageStatus::Cancelled).then(|| {
                    (
                        pkg.to_string(),
                        super::reports::fill_minutes(t, r.referred_at),
                    )
                })
            })
            .collect()
    }

    /// Applies [`BrokerEvent::PolicyChanged`].
    pub(super) fn apply_policy_changed(
        &mut self,
        at: DateTime<Utc>,
        version: u32,
        by: &str,
        config: &BrokerConfig,
    ) {
        if config.delivery.monitor == VisitMonitoring::All
            && self.config.delivery.monitor != VisitMonitoring::All
        {
            self.delivery.monitor_all_since = Some(at);
        }
        self.config = config.clone();
        self.policy_versions.push(PolicyVersion {
            version,
            at: Some(at),
            by: by.to_string(),
            config: config.clone(),
        });
    }

    /// Applies [`BrokerEvent::VisitCheckedIn`] and [`BrokerEvent::VisitCheckedOut`].
    pub(super) fn apply_visit_check(
        &mut self,
        visit: &PlannedVisit,
        check: &CheckPoint,
        out: bool,
    ) {
        let rec = self
            .delivery
            .visits
            .entry(visit.visit.clone())
            .or_insert_with(|| VisitRecord::new(visit.clone()));
        if out {
            rec.check_out = Some(check.clone());
        } else {
            rec.check_in = Some(check.clone());
            self.delivery
                .monitored_since
                .entry(visit.team.clone())
                .and_modify(|t| *t = (*t).min(visit.planned_start))
                .or_insert(visit.planned_start);
        }
    }

    /// Applies [`BrokerEvent::VisitOverdue`].
    pub(super) fn apply_visit_overdue(
        &mut self,
        visit: &PlannedVisit,
        missed: bool,
        alert: &Alert,
    ) {
        let rec = self
            .delivery
            .visits
            .entry(visit.visit.clone())
            .or_insert_with(|| VisitRecord::new(visit.clone()));
        rec.late_alerted = true;
        rec.missed_alerted |= missed;
        self.alerts.push(alert.clone());
    }
}

/// The request's time (RFC 3339 with an offset), or now; never ahead of now
/// by more than the allowed clock skew.
fn check_time(
    req: &CheckRequest,
    now: DateTime<Utc>,
    issues: &mut Vec<Issue>,
) -> Option<DateTime<Utc>> {
    let t = match &req.time {
        None => now,
        Some(s) => match DateTime::parse_from_rfc3339(s) {
            Ok(t) => t.with_timezone(&Utc),
            Err(e) => {
                issues.push(Issue::new(
                    "$.time",
                    IssueCode::InvalidInstant,
                    format!("`{s}` is not RFC 3339 with an offset: {e}"),
                ));
                return None;
            }
        },
    };
    if t > now + Duration::minutes(MAX_CLOCK_SKEW_MIN) {
        issues.push(Issue::new(
            "$.time",
            IssueCode::OutOfRange,
            format!(
                "{} is in the future (now {}); at most {MAX_CLOCK_SKEW_MIN} min ahead is accepted",
                t.to_rfc3339(),
                now.to_rfc3339()
            ),
        ));
        return None;
    }
    Some(t)
}

fn instant(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
