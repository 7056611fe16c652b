//! The rolling planning horizon and the frozen past.
//!
//! The county's horizon covers today (the local date of `now`) plus a
//! look-ahead ([`HorizonPolicy::lookahead_days`]). On each tick after local
//! midnight the broker rolls: finished days leave the live rotas for the kept
//! history ([`Broker::history`]), the horizon moves to today, and the new days'
//! visits (from the packages' patterns, on the carers' shift patterns) are
//! inserted into each team's rota with minimum change, the same carer as the
//! visit's last occurrence where possible. Visits the roll cannot place stay on
//! the rota's unplaced list with reasons, are listed in the event and raise an
//! alert (`visits_unplaced_on_roll`).
//!
//! Everything that has started is frozen: fit checks and re-plans see the
//! visits that started before `now` pinned (carers and start kept) and place
//! nothing before `now`. A package starting beyond the horizon is held as
//! scheduled and brokered when its start date enters the look-ahead.

use super::county::{TeamIx, keep_team_carer_refs, team_roster};
use super::records::Alert;
use super::{Broker, BrokerEvent};
use crate::format::{
    ExistingAssignment, FORMAT_TAG, Horizon, Package, Rota, Route, UnplacedReason, UnplacedVisit,
};
use crate::model::time::Zone;
use crate::model::{ExistingModel, Minute, PlannedRoute, Problem};
use crate::rota::insert_visits;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Shortest look-ahead: a week, so a weekly pattern is seen whole.
pub const MIN_LOOKAHEAD_DAYS: u32 = 7;
/// Longest look-ahead: today plus this is the format's 28-day horizon.
pub const MAX_LOOKAHEAD_DAYS: u32 = 27;

/// Stable code of the alert a roll raises for visits it could not place.
pub const ROLL_ALERT_CODE: &str = "visits_unplaced_on_roll";

/// How far ahead the published rotas reach, and whether they roll.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HorizonPolicy {
    /// Roll the horizon forward every night (on the first tick after local
    /// midnight); off keeps the horizon the county was loaded with.
    pub rolling: bool,
    /// Days planned after today (7-27); the horizon is today plus these.
    pub lookahead_days: u32,
}

impl Default for HorizonPolicy {
    fn default() -> Self {
        // Two weeks: planned discharges and reablement exits are known about a
        // fortnight ahead, and carers' rotas are usually published that far.
        Self {
            rolling: true,
            lookahead_days: 14,
        }
    }
}

impl HorizonPolicy {
    /// Checks `lookahead_days` (the only field with a range).
    pub fn validate(&self) -> Result<(), String> {
        if !(MIN_LOOKAHEAD_DAYS..=MAX_LOOKAHEAD_DAYS).contains(&self.lookahead_days) {
            return Err(format!(
                "must be {MIN_LOOKAHEAD_DAYS}-{MAX_LOOKAHEAD_DAYS}, not {} (the horizon is today plus the look-ahead, at most 28 days)",
                self.lookahead_days
            ));
        }
        Ok(())
    }

    /// Days in a horizon under this policy.
    pub fn horizon_days(&self) -> u32 {
        self.lookahead_days + 1
    }
}

/// One team's part of a roll: the routes of the new days (and any re-timed),
/// and the visits that could not be placed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RolledTeam {
    /// Team.
    pub team: String,
    /// Routes that are new or changed (whole routes, replacing by shift; a
    /// route with no stops is removed).
    pub changed_routes: Vec<Route>,
    /// Visits of the new days placed.
    pub placed: usize,
    /// Visits that could not be placed, with the person and reasons (also
    /// added to the team rota's unplaced list).
    pub unplaced: Vec<UnplacedVisit>,
}

/// The county's local date of an instant.
pub fn local_date(h: &Horizon, now: DateTime<Utc>) -> NaiveDate {
    Zone::of(h).local_date(now)
}

fn parse_day(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// The first and last dates of a horizon.
pub fn horizon_dates(h: &Horizon) -> Option<(NaiveDate, NaiveDate)> {
    let start = parse_day(&h.start_date)?;
    Some((start, start + Duration::days(i64::from(h.days.max(1)) - 1)))
}

/// The date of a shift id `carer#date#n`.
pub fn shift_date(shift: &str) -> Option<NaiveDate> {
    parse_day(shift.split('#').nth(1)?)
}

/// The date of a concrete visit id `package/pattern@date`.
pub fn visit_date(visit: &str) -> Option<NaiveDate> {
    parse_day(visit.rsplit_once('@')?.1)
}

/// Paid minutes of a published route as the checker counts them: visit
/// time, travel between visits, and the commute when it is paid.
pub fn paid_minutes(route: &Route, paid_commute: bool) -> i64 {
    let mut paid = 0i64;
    for (i, s) in route.stops.iter().enumerate() {
        if i > 0 || paid_commute {
            paid += i64::from(s.travel_min);
        }
        if let (Some(a), Some(b)) = (instant(&s.start), instant(&s.end)) {
            paid += (b - a).num_minutes().max(0);
        }
    }
    if paid_commute && !route.stops.is_empty() {
        paid += i64::from(route.end_travel_min);
    }
    paid
}

/// Paid minutes each carer worked in the local calendar week (Monday-Sunday)
/// of `start`, on days before it, from `routes`: what a horizon starting on
/// `start` counts in its first week ([`crate::format::Carer::worked_min_before_start`]).
pub fn week_to_date<'a>(
    routes: impl Iterator<Item = &'a Route>,
    start: NaiveDate,
    paid_commute: bool,
) -> BTreeMap<String, u32> {
    let monday = start.week(chrono::Weekday::Mon).first_day();
    let mut worked: BTreeMap<String, u32> = BTreeMap::new();
    for r in routes {
        if shift_date(&r.shift).is_some_and(|d| monday <= d && d < start) {
            let m = u32::try_from(paid_minutes(r, paid_commute)).unwrap_or(0);
            *worked.entry(r.carer.clone()).or_default() += m;
        }
    }
    worked
}

pub(crate) fn instant(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The visits of `rota` that started before `now` (inside `h`), pinned with
/// their carers and start: a re-plan or fit check must keep them exactly.
pub fn frozen_pins(rota: &Rota, h: &Horizon, now: DateTime<Utc>) -> Vec<ExistingAssignment> {
    let Some((first, last)) = horizon_dates(h) else {
        return Vec::new();
    };
    let mut pins: BTreeMap<&str, (Vec<String>, &str)> = BTreeMap::new();
    for r in &rota.routes {
        // A route's stops are in time order: when its first has not
        // started, none has (fit checks call this for every team checked).
        if r.stops
            .first()
            .is_none_or(|s| instant(&s.start).is_none_or(|t| t >= now))
        {
            continue;
        }
        for s in &r.stops {
            let started = instant(&s.start).is_some_and(|t| t < now);
            let inside = visit_date(&s.visit).is_some_and(|d| d >= first && d <= last);
            if started && inside {
                pins.entry(&s.visit)
                    .or_insert_with(|| (Vec::new(), &s.start))
                    .0
                    .push(r.carer.clone());
            }
        }
    }
    pins.into_iter()
        .map(|(visit, (mut carers, start))| {
            carers.sort();
            ExistingAssignment {
                visit: visit.to_string(),
                carers,
                start: Some(start.to_string()),
                pinned: true,
            }
        })
        .collect()
}

/// What changed in the frozen past between two versions of a rota: every
/// visit that started before `now` in `before` must be in `after` with the
/// same carers and start. Empty when the past is intact.
pub fn frozen_past_changes(before: &Rota, after: &Rota, now: DateTime<Utc>) -> Vec<String> {
    let placed = |rota: &Rota| {
        let mut m: BTreeMap<String, (Vec<String>, String)> = BTreeMap::new();
        for r in &rota.routes {
            for s in &r.stops {
                let e = m
                    .entry(s.visit.clone())
                    .or_insert_with(|| (Vec::new(), s.start.clone()));
                e.0.push(r.carer.clone());
                e.0.sort();
            }
        }
        m
    };
    let (was, is) = (placed(before), placed(after));
    was.iter()
        .filter(|(_, (_, start))| instant(start).is_some_and(|t| t < now))
        .filter_map(|(visit, (carers, start))| match is.get(visit) {
            None => Some(format!(
                "{visit}: started {start} with {carers:?}, now gone"
            )),
            Some((c, s)) if instant(s) != instant(start) || c != carers => Some(format!(
                "{visit}: started {start} with {carers:?}, now {s} with {c:?}"
            )),
            Some(_) => None,
        })
        .collect()
}

/// The horizon minute of `now` (clamped into `Minute`'s range).
pub(crate) fn minute_of(p: &Problem, now: DateTime<Utc>) -> Minute {
    let m = p.horizon.minute_of(&now);
    m.clamp(i64::from(Minute::MIN / 2), i64::from(Minute::MAX / 2)) as Minute
}

impl Broker {
    /// The instant commands are decided at: visits that started before it are
    /// frozen in fit checks and re-plans. The service sets it before every
    /// command; the broker's own commands set it too.
    pub fn set_now(&mut self, now: DateTime<Utc>) {
        self.now = Some(now);
    }

    /// The date brokering of `package` should start on, when it starts beyond
    /// the horizon (and the horizon rolls; otherwise it is brokered now).
    pub(crate) fn brokering_date(&self, package: &Package) -> Option<NaiveDate> {
        if !self.config.horizon.rolling {
            return None;
        }
        let start = parse_day(package.start_date.as_deref()?)?;
        let (_, last) = horizon_dates(&self.roster.horizon)?;
        (start > last)
            .then(|| start - Duration::days(i64::from(self.config.horizon.lookahead_days)))
    }

    /// Rolls the horizon to the local date of `now` when that date is past the
    /// horizon's first day (see the module docs), then starts brokering the
    /// scheduled packages whose start date the horizon now reaches.
    pub(crate) fn roll_horizon(&mut self, now: DateTime<Utc>, out: &mut Vec<BrokerEvent>) {
        if !self.config.horizon.rolling {
            return;
        }
        let today = local_date(&self.roster.horizon, now);
        let Some((start, _)) = horizon_dates(&self.roster.horizon) else {
            return;
        };
        if today > start {
            // This week's hours so far, from the days about to be archived too.
            let worked = week_to_date(
                (self.history.values().chain(self.rotas.values())).flat_map(|r| &r.routes),
                today,
                self.roster.settings.paid_commute,
            );
            let horizon = Horizon {
                start_date: today.format("%Y-%m-%d").to_string(),
                days: self.config.horizon.horizon_days(),
                utc_offset: self.roster.horizon.utc_offset.clone(),
                time_zone: self.roster.horizon.time_zone.clone(),
            };
            let teams: Vec<RolledTeam> = (0..self.roster.teams.len())
                .into_par_iter()
                .map(|ti| self.roll_team(TeamIx(ti), &horizon, today, now, &worked))
                .collect();
            self.emit(
                BrokerEvent::HorizonRolled {
                    at: now,
                    horizon,
                    teams,
                },
                out,
            );
        }
        let due: Vec<String> = self
            .packages
            .values()
            .filter(|r| {
                r.brokering_from
                    .as_deref()
                    .and_then(parse_day)
                    .is_some_and(|d| d <= today)
            })
            .map(|r| r.package.id.clone())
            .collect();
        for pkg in due {
            self.emit(
                BrokerEvent::BrokeringDue {
                    at: now,
                    package: pkg.clone(),
                },
                out,
            );
            self.advance(&pkg, now, out);
        }
    }

    /// One team's rota on the new horizon: finished days dropped, the routes
    /// kept as they are (those started pinned), the new visits inserted.
    fn roll_team(
        &self,
        ti: TeamIx,
        horizon: &Horizon,
        today: NaiveDate,
        now: DateTime<Utc>,
        worked: &BTreeMap<String, u32>,
    ) -> RolledTeam {
        let team = self.roster.teams[ti].id.clone();
        let empty = Rota::default();
        let live = self.rotas.get(&team).unwrap_or(&empty);
        let kept = Rota {
            routes: (live.routes.iter())
                .filter(|r| shift_date(&r.shift).is_none_or(|d| d >= today))
                .cloned()
                .collect(),
            ..Rota::default()
        };
        let already_unplaced: BTreeSet<&str> = (live.unplaced.iter())
            .map(|u| u.visit.as_str())
            .filter(|v| visit_date(v).is_none_or(|d| d >= today))
            .collect();
        let mut req = team_roster(&self.roster, &self.index, ti, None);
        keep_team_carer_refs(&mut req);
        req.horizon = horizon.clone();
        for c in &mut req.carers {
            c.worked_min_before_start = worked.get(&c.id).copied().unwrap_or(0);
        }
        req.existing_rota = frozen_pins(&kept, horizon, now);
        let mut rolled = RolledTeam {
            team: team.clone(),
            changed_routes: Vec::new(),
            placed: 0,
            unplaced: Vec::new(),
        };
        let p = match Problem::from_request(&req) {
            Ok(p) => p,
            Err(issues) => {
                // The team's roster is invalid on the new days (it cannot be
                // planned at all): nothing is placed; the alert says why.
                let why = issues
                    .first()
                    .map(|i| format!("{}: {}", i.path, i.message))
                    .unwrap_or_default();
                rolled.unplaced.push(UnplacedVisit {
                    visit: format!("{team}@{}", horizon.start_date),
                    service_user: String::new(),
                    reasons: vec![UnplacedReason {
                        code: "team_roster_invalid".into(),
                        message: why,
                    }],
                });
                return rolled;
            }
        };
        let mut p = p;
        // Routes the new horizon cannot time are taken apart; their visits are
        // placed again with the new days' visits.
        let mut current: Vec<PlannedRoute> = Vec::new();
        let mut dropped: Vec<&Route> = Vec::new();
        for r in &kept.routes {
            let one = Rota {
                routes: vec![r.clone()],
                ..Rota::default()
            };
            match p.planned_routes(&one) {
                Ok(mut pr) => current.append(&mut pr),
                Err(_) => dropped.push(r),
            }
        }
        let before: HashMap<usize, Vec<(usize, Minute)>> =
            current.iter().map(|r| (r.shift, r.stops.clone())).collect();
        // The usual carers of each visit pattern (its latest occurrence), so the
        // new days keep the people's carers.
        let mut usual: HashMap<&str, (NaiveDate, Vec<String>)> = HashMap::new();
        let mut carers_of: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for r in &live.routes {
            for s in &r.stops {
                carers_of.entry(&s.visit).or_default().push(r.carer.clone());
            }
        }
        for (visit, carers) in &carers_of {
            if let (Some((pattern, _)), Some(d)) = (visit.rsplit_once('@'), visit_date(visit))
                && usual.get(pattern).is_none_or(|(seen, _)| *seen < d)
            {
                usual.insert(pattern, (d, carers.clone()));
            }
        }
        let on_route: BTreeSet<usize> = current
            .iter()
            .flat_map(|r| r.stops.iter().map(|s| s.0))
            .collect();
        let now_min = minute_of(&p, now);
        let mut to_place = Vec::new();
        let mut passed = Vec::new();
        for v in 0..p.visits.len() {
            let vis = &p.visits[v];
            if on_route.contains(&v) || already_unplaced.contains(vis.id.as_str()) {
                continue;
            }
            if vis.latest_start < now_min {
                passed.push(v);
                continue;
            }
            to_place.push(v);
            let hint = vis
                .id
                .rsplit_once('@')
                .and_then(|(pattern, _)| usual.get(pattern))
                .and_then(|(_, carers)| {
                    carers
                        .iter()
                        .map(|c| p.carer_index.get(c).copied())
                        .collect::<Option<Vec<usize>>>()
                })
                .filter(|c| c.len() == usize::from(vis.carers_required));
            if let Some(carers) = hint
                && !p.existing.iter().any(|e| e.visit == v)
            {
                p.existing.push(ExistingModel {
                    visit: v,
                    carers,
                    start: None,
                    pinned: false,
                });
            }
        }
        let outcome = match insert_visits(&p, &current, &to_place) {
            Ok(o) => o,
            Err(e) => {
                for &v in &to_place {
                    rolled.unplaced.push(unplaced_visit(
                        &p,
                        v,
                        "team_rota_stale",
                        format!("the team's rota cannot be extended: {e}"),
                    ));
                }
                return rolled;
            }
        };
        let changed: Vec<PlannedRoute> = (outcome.routes.iter())
            .filter(|r| before.get(&r.shift).is_none_or(|b| *b != r.stops))
            .cloned()
            .collect();
        rolled.changed_routes = p.write_rota(&changed, &[]).routes;
        for r in dropped {
            if !rolled.changed_routes.iter().any(|c| c.shift == r.shift) {
                rolled.changed_routes.push(Route {
                    stops: Vec::new(),
                    ..r.clone()
                });
            }
        }
        rolled.placed = outcome.placed.len();
        rolled.unplaced = p.write_rota(&[], &outcome.unplaced).unplaced;
        for v in passed {
            rolled.unplaced.push(unplaced_visit(
                &p,
                v,
                "window_passed",
                "the visit's window had passed when its day entered the horizon".into(),
            ));
        }
        rolled
    }

    /// Applies a roll: finished days of every team's rota go to the history,
    /// the new and changed routes replace the team's, the unplaced visits are
    /// listed on its rota and raise one alert per package.
    pub(super) fn apply_horizon_rolled(
        &mut self,
        at: DateTime<Utc>,
        horizon: &Horizon,
        teams: &[RolledTeam],
    ) {
        let Some((start, _)) = horizon_dates(horizon) else {
            return;
        };
        for (team, rota) in &mut self.rotas {
            let (old, live): (Vec<Route>, Vec<Route>) = std::mem::take(&mut rota.routes)
                .into_iter()
                .partition(|r| shift_date(&r.shift).is_some_and(|d| d < start));
            rota.routes = live;
            let (old_unplaced, live_unplaced): (Vec<UnplacedVisit>, Vec<UnplacedVisit>) =
                std::mem::take(&mut rota.unplaced)
                    .into_iter()
                    .partition(|u| visit_date(&u.visit).is_some_and(|d| d < start));
            rota.unplaced = live_unplaced;
            if old.is_empty() && old_unplaced.is_empty() {
                continue;
            }
            let kept = self.history.entry(team.clone()).or_insert_with(|| Rota {
                format: FORMAT_TAG.to_string(),
                ..Rota::default()
            });
            kept.routes.extend(old);
            kept.unplaced.extend(old_unplaced);
        }
        for t in teams {
            let rota = self.rotas.entry(t.team.clone()).or_insert_with(|| Rota {
                format: FORMAT_TAG.to_string(),
                ..Rota::default()
            });
            for route in &t.changed_routes {
                match rota.routes.iter_mut().find(|r| r.shift == route.shift) {
                    Some(r) => *r = route.clone(),
                    None => rota.routes.push(route.clone()),
                }
            }
            rota.routes.retain(|r| !r.stops.is_empty());
            rota.routes.sort_by(|a, b| a.shift.cmp(&b.shift));
            rota.unplaced.extend(t.unplaced.iter().cloned());
            rota.kpis = None;
            rota.stats = None;
            let mut by_package: BTreeMap<&str, Vec<&UnplacedVisit>> = BTreeMap::new();
            for u in &t.unplaced {
                let pkg = u.visit.split_once('/').map_or(u.visit.as_str(), |x| x.0);
                by_package.entry(pkg).or_default().push(u);
            }
            for (pkg, visits) in by_package {
                let first = visits[0];
                let reason = first
                    .reasons
                    .first()
                    .map_or_else(String::new, |r| format!("{} ({})", r.code, r.message));
                self.alerts.push(Alert {
                    at,
                    package: pkg.to_string(),
                    code: ROLL_ALERT_CODE.into(),
                    message: format!(
                        "team `{}`: {} visit(s) of {} on the new days could not be placed ({}); first {}: {reason}",
                        t.team,
                        visits.len(),
                        if first.service_user.is_empty() {
                            "the team's people"
                        } else {
                            first.service_user.as_str()
                        },
                        visits
                            .iter()
                            .map(|u| u.visit.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        first.visit
                    ),
                    visit: Some(first.visit.clone()),
                    person: (!first.service_user.is_empty()).then(|| first.service_user.clone()),
                    team: Some(t.team.clone()),
                    ..Alert::default()
                });
            }
        }
        self.roster.horizon = horizon.clone();
        self.refresh_week_to_date();
    }

    /// Sets every carer's minutes worked earlier in the horizon's first
    /// calendar week from the history, so weekly maximums count the frozen
    /// past (every request built from the roster carries them).
    pub(super) fn refresh_week_to_date(&mut self) {
        let Some((start, _)) = horizon_dates(&self.roster.horizon) else {
            return;
        };
        let worked = week_to_date(
            self.history.values().flat_map(|r| &r.routes),
            start,
            self.roster.settings.paid_commute,
        );
        for c in &mut self.roster.carers {
            c.worked_min_before_start = worked.get(&c.id).copied().unwrap_or(0);
        }
    }

    /// A scheduled package waits until `from`.
    pub(super) fn apply_brokering_scheduled(&mut self, package: &str, from: &str) {
        if let Some(r) = self.packages.get_mut(package) {
            r.brokering_from = Some(from.to_string());
        }
    }

    /// A scheduled package enters brokering: its fill clock starts now.
    pub(super) fn apply_brokering_due(&mut self, at: DateTime<Utc>, package: &str) {
        if let Some(r) = self.packages.get_mut(package) {
            r.brokering_from = None;
            r.referred_at = at;
        }
    }
}

fn unplaced_visit(p: &Problem, v: usize, code: &str, message: String) -> UnplacedVisit {
    let vis = &p.visits[v];
    UnplacedVisit {
        visit: vis.id.clone(),
        service_user: p.service_users[vis.service_user].id.clone(),
        reasons: vec![UnplacedReason {
            code: code.into(),
            message,
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{World, world_of};
    use super::*;
    use crate::broker::records::{OfferStatus, PackageStatus};
    use crate::broker::{BrokerConfig, demo};
    use chrono::TimeZone;

    fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0)
            .single()
            .expect("date")
            + Duration::days(i64::from(d))
            + Duration::hours(i64::from(h))
            + Duration::minutes(i64::from(m))
    }

    /// A small county whose 15-day horizon starts on 30 Nov 2026, the service
    /// starting at 09:00 that day.
    fn rolling_world() -> World {
        let county = demo::county_at(
            &demo::small_profile(),
            11,
            40,
            at(0, 9, 0),
            &HorizonPolicy::default(),
        )
        .expect("county");
        world_of(county, BrokerConfig::default())
    }

    /// Live rota and history together: the whole record of a team's care.
    fn everything(b: &Broker, team: &str) -> Rota {
        let mut r = b.rotas.get(team).cloned().unwrap_or_default();
        if let Some(h) = b.history.get(team) {
            r.routes.extend(h.routes.iter().cloned());
        }
        r
    }

    /// Checker-style guard: every visit that had started before `now` is
    /// where it was (live or in the history), for every team.
    pub(crate) fn assert_frozen(before: &Broker, after: &Broker, now: DateTime<Utc>) {
        for team in before.rotas.keys() {
            let changes =
                frozen_past_changes(&everything(before, team), &everything(after, team), now);
            assert!(changes.is_empty(), "team {team}: {changes:?}");
        }
    }

    fn snapshot(w: &World) -> Broker {
        let mut b = Broker::new(
            w.broker.config.clone(),
            w.initial.0.clone(),
            w.initial.1.clone(),
        )
        .expect("broker");
        for e in &w.events {
            b.apply(e);
        }
        b
    }

    #[test]
    fn the_policy_bounds_the_look_ahead() {
        let mut c = BrokerConfig::default();
        assert_eq!(c.horizon.lookahead_days, 14);
        c.horizon.lookahead_days = 5;
        let e = c.validate().expect_err("too short");
        assert!(e.contains("horizon.lookahead_days"), "{e}");
        c.horizon.lookahead_days = 28;
        assert!(c.validate().is_err());
        c.horizon.lookahead_days = 27;
        assert!(c.validate().is_ok());
    }

    #[test]
    fn rolling_over_midnight_archives_the_first_day_and_places_the_new_one() {
        let mut w = rolling_world();
        assert_eq!(w.broker.roster.horizon.start_date, "2026-11-30");
        assert_eq!(w.broker.roster.horizon.days, 15);
        // Nothing rolls during the first day.
        assert!(w.run(|b| Ok(b.tick(at(0, 23, 59)))).is_empty());
        let before = snapshot(&w);
        let now = at(1, 0, 5);
        let ev = w.run(|b| Ok(b.tick(now)));
        let Some(BrokerEvent::HorizonRolled { horizon, teams, .. }) = ev.first() else {
            panic!("expected a roll first: {ev:?}");
        };
        assert_eq!(horizon.start_date, "2026-12-01");
        assert_eq!(horizon.days, 15);
        assert_eq!(w.broker.roster.horizon, *horizon);
        let new_day = "2026-12-15";
        let placed: usize = teams.iter().map(|t| t.placed).sum();
        assert!(placed > 0, "the new day's visits are placed");
        for (team, rota) in &w.broker.rotas {
            assert!(
                rota.routes.iter().all(|r| shift_date(&r.shift)
                    .is_some_and(|d| d.to_string().as_str() >= "2026-12-01")),
                "team {team}: 30 Nov left the live rota"
            );
            let had = before.rotas[team]
                .routes
                .iter()
                .filter(|r| r.shift.contains("#2026-11-30#"))
                .count();
            let kept = w.broker.history.get(team).map_or(0, |h| h.routes.len());
            assert_eq!(had, kept, "team {team}: 30 Nov is kept in the history");
        }
        assert!(w.broker.rotas.values().any(|r| {
            r.routes
                .iter()
                .any(|x| x.shift.contains(&format!("#{new_day}#")))
        }));
        // Continuity: most new-day visits go to the carer of the same visit a week before.
        let (mut same, mut all) = (0, 0);
        for rota in w.broker.rotas.values() {
            let carer_of = |visit: &str| {
                rota.routes
                    .iter()
                    .find(|r| r.stops.iter().any(|s| s.visit == visit))
                    .map(|r| r.carer.clone())
            };
            for r in rota
                .routes
                .iter()
                .filter(|r| r.shift.contains(&format!("#{new_day}#")))
            {
                for s in &r.stops {
                    let week_before = s.visit.replace(new_day, "2026-12-08");
                    if let Some(c) = carer_of(&week_before) {
                        all += 1;
                        same += usize::from(c == r.carer);
                    }
                }
            }
        }
        assert!(
            all > 0 && same * 2 > all,
            "{same} of {all} kept their carer"
        );
        // Unplaced visits are listed with their person and raise an alert.
        for t in teams {
            for u in &t.unplaced {
                assert!(!u.reasons.is_empty());
                assert!(w.broker.rotas[&t.team].unplaced.contains(u));
            }
        }
        let unplaced: usize = teams.iter().map(|t| t.unplaced.len()).sum();
        assert_eq!(
            unplaced > 0,
            w.broker.alerts.iter().any(|a| a.code == ROLL_ALERT_CODE)
        );
        assert_frozen(&before, &w.broker, now);
        w.assert_consistent();
        // The same day does not roll twice.
        assert!(
            !w.run(|b| Ok(b.tick(at(1, 6, 0))))
                .iter()
                .any(|e| matches!(e, BrokerEvent::HorizonRolled { .. }))
        );
    }

    #[test]
    fn a_mid_week_horizon_counts_the_hours_already_worked_that_week() {
        let mut w = rolling_world();
        let before = snapshot(&w);
        w.run(|b| Ok(b.tick(at(1, 0, 5))));
        let now = at(2, 0, 5);
        w.run(|b| Ok(b.tick(now)));
        assert_eq!(w.broker.roster.horizon.start_date, "2026-12-02");
        // Monday and Tuesday are in the history; each carer's week so far is
        // what they worked on those days.
        let mut expected: BTreeMap<String, u32> = BTreeMap::new();
        for r in w.broker.history.values().flat_map(|h| &h.routes) {
            let d = shift_date(&r.shift).expect("dated shift").to_string();
            assert!(d == "2026-11-30" || d == "2026-12-01", "{d}");
            *expected.entry(r.carer.clone()).or_default() +=
                u32::try_from(paid_minutes(r, w.broker.roster.settings.paid_commute))
                    .expect("minutes");
        }
        assert!(expected.values().any(|&m| m > 0));
        for c in &w.broker.roster.carers {
            assert_eq!(
                c.worked_min_before_start,
                expected.get(&c.id).copied().unwrap_or(0),
                "carer {}",
                c.id
            );
        }
        // Every team request carries it, the rotas pass the checker counting
        // it, the frozen past is unchanged and a replay agrees.
        let team = w.broker.rotas.keys().next().expect("team").clone();
        let req = w.broker.team_request(&team).expect("request");
        assert!(
            req.carers
                .iter()
                .all(|c| c.worked_min_before_start == expected.get(&c.id).copied().unwrap_or(0))
        );
        assert_frozen(&before, &w.broker, now);
        w.assert_consistent();
        // From the next Monday the week starts afresh.
        let monday = NaiveDate::from_ymd_opt(2026, 12, 7).expect("date");
        let all = w.broker.history.values().flat_map(|h| &h.routes);
        assert!(week_to_date(all, monday, false).is_empty());
    }

    #[test]
    fn a_fit_check_freezes_what_has_started_and_asks_nothing_of_the_past() {
        let mut w = rolling_world();
        let (mut pkg, user) = w.plain_referral();
        pkg.start_date = Some("2026-11-30".into());
        pkg.end_date = None;
        let now = at(0, 15, 0);
        let before = snapshot(&w);
        w.broker.set_now(now);
        let report = w.broker.candidates(&pkg, &user);
        let c = report.fitting.first().expect("fits somewhere");
        let outcome = c.outcome.as_ref().expect("outcome");
        // None of the package's visits on the routes is before now.
        for r in &outcome.changed_routes {
            for s in r
                .stops
                .iter()
                .filter(|s| s.visit.starts_with(&format!("{}/", pkg.id)))
            {
                assert!(
                    instant(&s.start).is_some_and(|t| t >= now),
                    "{} at {}",
                    s.visit,
                    s.start
                );
            }
        }
        // Accepting it moves nothing that had started.
        w.run(|b| b.refer(pkg.clone(), user.clone(), now));
        let open: Vec<String> = w
            .broker
            .offers
            .values()
            .filter(|o| o.status == OfferStatus::Open)
            .map(|o| o.id.clone())
            .collect();
        if let Some(id) = open.first() {
            w.run(|b| b.accept(id, now + Duration::minutes(1)));
        }
        assert_eq!(w.broker.packages[&pkg.id].status, PackageStatus::Filled);
        assert_frozen(&before, &w.broker, now);
        w.assert_consistent();
    }

    #[test]
    fn a_package_starting_beyond_the_horizon_is_scheduled_and_brokered_when_it_enters() {
        let mut w = rolling_world();
        let (mut far, user) = w.plain_referral();
        // Three weeks ahead: beyond the 15-day horizon (30 Nov - 14 Dec).
        far.start_date = Some("2026-12-21".into());
        far.end_date = None;
        let now = at(0, 10, 0);
        let ev = w.run(|b| b.refer(far.clone(), user.clone(), now));
        assert!(ev.iter().any(
            |e| matches!(e, BrokerEvent::BrokeringScheduled { from, .. } if from == "2026-12-07")
        ));
        let rec = &w.broker.packages[&far.id];
        assert_eq!(rec.status, PackageStatus::Open);
        assert_eq!(rec.brokering_from.as_deref(), Some("2026-12-07"));
        assert!(w.broker.offers.values().all(|o| o.package != far.id));
        assert!(w.broker.alerts.iter().all(|a| a.package != far.id));
        // No damages while it waits, however long.
        w.run(|b| Ok(b.tick(at(0, 23, 0))));
        assert!(!w.broker.packages[&far.id].damages_accrued);
        // On 7 Dec the horizon reaches 21 Dec: brokering starts, the fill clock with it.
        let due = at(7, 0, 10);
        let ev = w.run(|b| Ok(b.tick(due)));
        assert!(
            ev.iter().any(
                |e| matches!(e, BrokerEvent::BrokeringDue { package, .. } if *package == far.id)
            )
        );
        let rec = &w.broker.packages[&far.id];
        assert_eq!(rec.brokering_from, None);
        assert_eq!(rec.referred_at, due);
        assert!(
            rec.status == PackageStatus::Filled
                || w.broker.offers.values().any(|o| o.package == far.id)
        );
        w.assert_consistent();
    }

    #[test]
    fn a_package_two_weeks_ahead_inside_the_horizon_is_brokered_now_from_its_start_date() {
        let mut w = rolling_world();
        let (mut pkg, user) = w.plain_referral();
        pkg.start_date = Some("2026-12-12".into());
        pkg.end_date = None;
        let now = at(0, 10, 0);
        w.run(|b| b.refer(pkg.clone(), user.clone(), now));
        assert!(
            !w.broker
                .alerts
                .iter()
                .any(|a| a.package == pkg.id && a.message.contains("no_visits_in_horizon"))
        );
        let offer = w
            .broker
            .offers
            .values()
            .find(|o| o.package == pkg.id && o.status == OfferStatus::Open)
            .map(|o| o.id.clone())
            .expect("offered");
        w.run(|b| b.accept(&offer, now + Duration::minutes(1)));
        let rec = &w.broker.packages[&pkg.id];
        let team = rec.team.clone().expect("team");
        let first = w.broker.rotas[&team]
            .routes
            .iter()
            .flat_map(|r| r.stops.iter())
            .filter(|s| s.visit.starts_with(&format!("{}/", pkg.id)))
            .map(|s| s.start.clone())
            .min()
            .expect("visits placed");
        assert!(first.starts_with("2026-12-12"), "first visit {first}");
        w.assert_consistent();
    }
}
