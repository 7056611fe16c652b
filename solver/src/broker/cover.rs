//! Nothing dropped silently: every visit a re-plan drops raises an alert
//! naming the person, the visit and the reason, and when it is due soon the
//! emergency cover provider is assigned to it at once; a failed provider's
//! people keep interim cover until their packages are accepted elsewhere.
//! Emergency cover is charged to the risk pool as it is delivered (per day of
//! care, on the tick), and the pool raises an alert when it falls below the
//! policy's threshold.
//!
//! An emergency visit is not put on a team's rota (the person stays in their
//! team; the standby team is dispatched): it is recorded as an
//! [`EmergencyVisit`] naming the standby carers, chosen among those whose
//! shift covers the visit, who may visit the person (skills, required gender,
//! exclusions) and can travel to it and on to their next commitment in time.

use super::ledger::{EntryKind, RISK_POOL, provider_account};
use super::records::{Alert, EmergencyVisit, PackageStatus};
use super::{Broker, BrokerEvent};
use crate::format::{ChangeList, FrameworkStatus, Location, Strength, Tier, VisitChange};
use crate::model::Problem;
use chrono::{DateTime, Duration, FixedOffset, Utc};
use std::collections::{BTreeMap, BTreeSet};

fn instant(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).ok()
}

/// End of the local day `t` falls in: that day's care is delivered by then.
fn day_end(t: DateTime<FixedOffset>) -> Option<DateTime<Utc>> {
    t.date_naive()
        .succ_opt()?
        .and_hms_opt(0, 0, 0)?
        .and_local_timezone(*t.offset())
        .single()
        .map(|d| d.with_timezone(&Utc))
}

/// An emergency cover team ready to be searched: id, provider, its problem.
pub(super) type Standby = Vec<(String, String, Problem)>;

/// A visit to cover: id, person and planned start.
pub(super) struct ToCover<'a> {
    pub visit: &'a str,
    pub person: &'a str,
    pub start: &'a str,
}

impl Broker {
    /// After a team's rota was re-planned: visits back on the rota no longer
    /// need emergency cover; each dropped visit raises an alert and, when due
    /// within the cover window, goes to emergency cover at once.
    pub(super) fn after_replan(
        &mut self,
        team: &str,
        changes: &ChangeList,
        now: DateTime<Utc>,
        out: &mut Vec<BrokerEvent>,
    ) {
        let back: Vec<String> = changes
            .placed
            .iter()
            .filter(|c| self.emergency_visits.contains_key(&c.visit))
            .filter(|c| {
                c.new_start
                    .as_deref()
                    .and_then(instant)
                    .is_some_and(|t| t >= now)
            })
            .map(|c| c.visit.clone())
            .collect();
        if !back.is_empty() {
            self.emit(
                BrokerEvent::EmergencyVisitsReleased {
                    at: now,
                    visits: back,
                    why: "back_on_team_rota".into(),
                },
                out,
            );
        }
        if changes.dropped.is_empty() {
            return;
        }
        let standby = self.standby();
        for d in &changes.dropped {
            self.cover_dropped(team, d, &standby, now, out);
        }
    }

    /// The alert (and emergency cover when due soon) for one dropped visit.
    fn cover_dropped(
        &mut self,
        team: &str,
        d: &VisitChange,
        standby: &Standby,
        now: DateTime<Utc>,
        out: &mut Vec<BrokerEvent>,
    ) {
        let package = d.visit.split('/').next().unwrap_or_default().to_string();
        let window = Duration::hours(i64::from(self.config.emergency_cover_window_h));
        let start = d.old_start.as_deref().and_then(instant);
        let (action, detail) = match (start, d.old_start.as_deref()) {
            (Some(t), _) if t < now => (
                "already_past",
                "its time has passed: check with the person".to_string(),
            ),
            (Some(t), Some(s)) if t <= now + window => {
                let want = ToCover {
                    visit: &d.visit,
                    person: &d.person,
                    start: s,
                };
                match self.find_emergency_cover(&want, "visit_dropped", standby, now) {
                    Some(ev) => {
                        let detail = format!(
                            "emergency cover ({} of `{}`) is assigned at the planned time",
                            ev.carers.join(", "),
                            ev.provider
                        );
                        self.emit(
                            BrokerEvent::EmergencyVisitAssigned { at: now, visit: ev },
                            out,
                        );
                        ("emergency_cover_assigned", detail)
                    }
                    None => (
                        "no_emergency_cover",
                        "no emergency cover carer is free then: a broker must arrange this visit"
                            .to_string(),
                    ),
                }
            }
            _ => (
                "outside_cover_window",
                format!(
                    "it is more than {} h away: re-plan the team or re-broker before then",
                    self.config.emergency_cover_window_h
                ),
            ),
        };
        let alert = Alert {
            at: now,
            package,
            code: "visit_dropped".into(),
            message: format!(
                "Visit `{}` of `{}` at {} (carers {}) was dropped from team `{}`'s rota ({}); {}.",
                d.visit,
                d.person,
                d.old_start.as_deref().unwrap_or("an unknown time"),
                if d.from_carers.is_empty() {
                    "-".to_string()
                } else {
                    d.from_carers.join(", ")
                },
                team,
                d.reason,
                detail
            ),
            visit: Some(d.visit.clone()),
            person: Some(d.person.clone()),
            team: Some(team.to_string()),
            visit_start: d.old_start.clone(),
            action: Some(action.into()),
        };
        self.emit(BrokerEvent::AlertRaised { alert }, out);
    }

    /// Interim cover for a released package's visits due within the cover
    /// window (a failed provider's person waiting for a new provider); each
    /// visit no standby carer can make raises an alert.
    pub(super) fn interim_cover(
        &mut self,
        visits: &[ToCover<'_>],
        now: DateTime<Utc>,
        out: &mut Vec<BrokerEvent>,
    ) {
        let window = Duration::hours(i64::from(self.config.emergency_cover_window_h));
        if visits.is_empty() {
            return;
        }
        let standby = self.standby();
        for v in visits {
            if self.emergency_visits.contains_key(v.visit) {
                continue;
            }
            let Some(t) = instant(v.start) else { continue };
            if t < now || t > now + window {
                continue;
            }
            if let Some(ev) = self.find_emergency_cover(v, "interim_cover", &standby, now) {
                self.emit(
                    BrokerEvent::EmergencyVisitAssigned { at: now, visit: ev },
                    out,
                );
            } else {
                let alert = Alert {
                    at: now,
                    package: v.visit.split('/').next().unwrap_or_default().to_string(),
                    code: "interim_cover_missing".into(),
                    message: format!(
                        "Visit `{}` of `{}` at {} has no provider (its provider failed) and no emergency cover carer is free then: a broker must arrange it.",
                        v.visit, v.person, v.start
                    ),
                    visit: Some(v.visit.to_string()),
                    person: Some(v.person.to_string()),
                    visit_start: Some(v.start.to_string()),
                    action: Some("no_emergency_cover".into()),
                    team: None,
                };
                self.emit(BrokerEvent::AlertRaised { alert }, out);
            }
        }
    }

    /// Emergency visits of `package` from `now` on are released (it was filled).
    pub(super) fn release_interim_cover(
        &mut self,
        package: &str,
        now: DateTime<Utc>,
        out: &mut Vec<BrokerEvent>,
    ) {
        let visits: Vec<String> = self
            .emergency_visits
            .values()
            .filter(|e| e.package == package)
            .filter(|e| instant(&e.start).is_some_and(|t| t >= now))
            .map(|e| e.visit.clone())
            .collect();
        if !visits.is_empty() {
            self.emit(
                BrokerEvent::EmergencyVisitsReleased {
                    at: now,
                    visits,
                    why: "package_filled".into(),
                },
                out,
            );
        }
    }

    /// The active emergency cover providers' teams, each with its problem
    /// (shifts after absences), by team id.
    fn standby(&self) -> Standby {
        let mut teams: Standby = self
            .roster
            .teams
            .iter()
            .filter_map(|t| {
                let p = t.provider.as_ref()?;
                let pr = &self.roster.providers[*self.index.provider_pos.get(p)?];
                if pr.tier != Tier::EmergencyCover || pr.framework_status != FrameworkStatus::Active
                {
                    return None;
                }
                let problem = Problem::from_request(&self.team_request(&t.id)?).ok()?;
                Some((t.id.clone(), p.clone(), problem))
            })
            .collect();
        teams.sort_by(|a, b| a.0.cmp(&b.0));
        teams
    }

    /// Standby carers of an active emergency cover provider who can make the
    /// visit at its planned time, or `None`. A carer qualifies as a team carer
    /// would ([`Problem::eligibility`] less the team: the visit's skills, the
    /// person's required gender, never an excluded carer), with a shift that
    /// covers the visit and the travel to it from the previous commitment (the
    /// shift's start, a visit on the standby rota or another emergency visit)
    /// and on to the next (or the shift's end) at the real travel times. Among
    /// those, the person's preferred gender first, then the shortest journey.
    fn find_emergency_cover(
        &self,
        want: &ToCover<'_>,
        why: &str,
        standby: &Standby,
        now: DateTime<Utc>,
    ) -> Option<EmergencyVisit> {
        let (pkg_id, rest) = want.visit.split_once('/')?;
        let pattern = rest.split('@').next()?;
        let package = self
            .packages
            .get(pkg_id)
            .map(|r| &r.package)
            .or_else(|| self.roster.packages.iter().find(|p| p.id == pkg_id))?;
        let vp = package.visits.iter().find(|v| v.id == pattern)?;
        let skills: BTreeSet<&String> = vp
            .required_skills
            .iter()
            .chain(&package.required_skills)
            .collect();
        let user = self.service_user(want.person);
        let wish = user.and_then(|u| u.carer_gender.as_ref());
        let required = wish
            .filter(|g| g.strength == Strength::Required)
            .map(|g| g.gender);
        let preferred = wish
            .filter(|g| g.strength == Strength::Preferred)
            .map(|g| g.gender);
        let excluded: &[String] = user.map_or(&[], |u| &u.excluded_carers);
        let need = vp.carers_required.max(1) as usize;
        let t0 = instant(want.start)?;
        let t1 = t0 + Duration::minutes(i64::from(vp.duration_min));
        let dur = i64::from(vp.duration_min);
        // Where a location is unknown, the policy's fixed allowance stands in.
        let allowance = i64::from(self.config.emergency_travel_buffer_min);
        for (team, provider, p) in standby {
            let Ok(m) = p.horizon.parse_instant(want.start) else {
                continue;
            };
            let rota = self.rotas.get(team);
            // (preferred gender missed, minutes of travel in, carer id)
            let mut free: Vec<(bool, i64, String)> = Vec::new();
            for s in &p.shifts {
                if !(i64::from(s.start) <= m && m + dur <= i64::from(s.end)) {
                    continue;
                }
                let id = &p.carers[s.carer].id;
                if free.iter().any(|f| &f.2 == id) || excluded.contains(id) {
                    continue;
                }
                let Some(c) = self.roster.carers.iter().find(|c| &c.id == id) else {
                    continue;
                };
                if !skills.iter().all(|k| c.skills.contains(k))
                    || required.is_some_and(|g| g != c.gender)
                {
                    continue;
                }
                // The carer's commitments in this shift: (start, end, location).
                let mut busy: Vec<(i64, i64, Option<&Location>)> = Vec::new();
                for r in rota
                    .iter()
                    .flat_map(|r| &r.routes)
                    .filter(|r| &r.carer == id)
                {
                    for st in &r.stops {
                        let (Ok(a), Ok(b)) = (
                            p.horizon.parse_instant(&st.start),
                            p.horizon.parse_instant(&st.end),
                        ) else {
                            continue;
                        };
                        let at = (p.visit_index.get(&st.visit))
                            .map(|&v| &p.locations[p.visits[v].location])
                            .or_else(|| self.service_user(&st.service_user).map(|u| &u.location));
                        busy.push((a, b, at));
                    }
                }
                for e in self
                    .emergency_visits
                    .values()
                    .filter(|e| e.carers.contains(id))
                {
                    let (Ok(a), Ok(b)) = (
                        p.horizon.parse_instant(&e.start),
                        p.horizon.parse_instant(&e.end),
                    ) else {
                        continue;
                    };
                    busy.push((a, b, self.service_user(&e.person).map(|u| &u.location)));
                }
                let travel = |from: Option<&Location>, to: Option<&Location>| match (from, to) {
                    (Some(f), Some(t)) => i64::from(p.travel.leg(f, t, c.travel_mode).minutes),
                    _ => allowance,
                };
                let home = user.map(|u| &u.location);
                if busy.iter().any(|&(a, b, _)| a < m + dur && m < b) {
                    continue;
                }
                let prev = (busy.iter())
                    .filter(|&&(_, b, _)| b <= m)
                    .max_by_key(|&&(_, b, _)| b)
                    .map(|&(_, b, at)| (b, at))
                    .unwrap_or((i64::from(s.start), Some(&p.locations[s.start_loc])));
                let next = (busy.iter())
                    .filter(|&&(a, _, _)| a >= m + dur)
                    .min_by_key(|&&(a, _, _)| a)
                    .map(|&(a, _, at)| (a, at))
                    .unwrap_or((i64::from(s.end), Some(&p.locations[s.end_loc])));
                let travel_in = travel(prev.1, home);
                if prev.0 + travel_in > m || m + dur + travel(home, next.1) > next.0 {
                    continue;
                }
                let missed = preferred.is_some_and(|g| g != c.gender);
                free.push((missed, travel_in, id.clone()));
            }
            if free.len() >= need {
                free.sort();
                free.truncate(need);
                return Some(EmergencyVisit {
                    visit: want.visit.to_string(),
                    package: pkg_id.to_string(),
                    person: want.person.to_string(),
                    provider: provider.clone(),
                    team: team.clone(),
                    carers: free.into_iter().map(|f| f.2).collect(),
                    start: t0.to_rfc3339(),
                    end: t1.to_rfc3339(),
                    care_min: u64::from(vp.duration_min) * need as u64,
                    why: why.to_string(),
                    at: now,
                });
            }
        }
        None
    }

    /// Charges the risk pool for every day of emergency cover delivered by
    /// `now` and not yet charged: packages the emergency cover provider filled
    /// (their visits on its team's rota) and single emergency visits. A day is
    /// charged once its local day has ended.
    pub(super) fn charge_delivered_cover(
        &mut self,
        now: DateTime<Utc>,
        out: &mut Vec<BrokerEvent>,
    ) {
        // (package, date, source) -> (carer-minutes, provider)
        let mut due: BTreeMap<(String, String, String), (u64, String)> = BTreeMap::new();
        let mut add = |key: (String, String, String), min: u64, provider: &str| {
            let e = due.entry(key).or_insert((0, provider.to_string()));
            e.0 += min;
        };
        for r in self.packages.values() {
            if r.status != PackageStatus::Filled || r.filled_tier != Some(Tier::EmergencyCover) {
                continue;
            }
            let (Some(team), Some(provider)) = (&r.team, &r.provider) else {
                continue;
            };
            // Days the horizon has rolled past are in the team's history.
            let rotas = self
                .rotas
                .get(team)
                .into_iter()
                .chain(self.history.get(team));
            for route in rotas.flat_map(|rota| &rota.routes) {
                for st in route
                    .stops
                    .iter()
                    .filter(|s| crate::format::is_visit_of(&s.visit, &r.package.id))
                {
                    let (Some(a), Some(b)) = (instant(&st.start), instant(&st.end)) else {
                        continue;
                    };
                    if day_end(a).is_none_or(|e| e > now) {
                        continue;
                    }
                    let key = (
                        r.package.id.clone(),
                        a.date_naive().to_string(),
                        "package".to_string(),
                    );
                    if !self.cover_charged.contains(&key) {
                        add(key, (b - a).num_minutes().max(0) as u64, provider);
                    }
                }
            }
        }
        for e in self.emergency_visits.values() {
            let Some(a) = instant(&e.start) else { continue };
            if day_end(a).is_none_or(|d| d > now) {
                continue;
            }
            let key = (
                e.package.clone(),
                a.date_naive().to_string(),
                "emergency_visits".to_string(),
            );
            if !self.cover_charged.contains(&key) {
                add(key, e.care_min, &e.provider);
            }
        }
        if due.is_empty() {
            return;
        }
        let before = self.ledger.balance(RISK_POOL);
        let rate = i64::from(self.config.emergency_rate_pence);
        for ((package, date, source), (care_min, provider)) in due {
            self.emit(
                BrokerEvent::CoverDayCharged {
                    at: now,
                    package: package.clone(),
                    date: date.clone(),
                    source,
                    care_min,
                },
                out,
            );
            self.post(
                now,
                EntryKind::EmergencyCover,
                RISK_POOL.into(),
                provider_account(&provider),
                care_min as i64 * rate / 60,
                Some(&package),
                format!("{care_min} carer-minutes of emergency cover delivered on {date}"),
                out,
            );
        }
        self.check_risk_pool(before, now, out);
    }

    /// An alert when the risk pool has just fallen below the policy threshold.
    pub(super) fn check_risk_pool(
        &mut self,
        before: i64,
        now: DateTime<Utc>,
        out: &mut Vec<BrokerEvent>,
    ) {
        let after = self.ledger.balance(RISK_POOL);
        let floor = self.config.risk_pool_alert_below_pence;
        if before >= floor && after < floor {
            let alert = Alert {
                at: now,
                code: "risk_pool_below_threshold".into(),
                message: format!(
                    "The risk pool is at {} pence, below the policy threshold of {} pence (emergency cover is paid from it): top it up or review emergency cover use.",
                    after, floor
                ),
                ..Alert::default()
            };
            self.emit(BrokerEvent::AlertRaised { alert }, out);
        }
    }
}

#[cfg(test)]
#[path = "cover_tests.rs"]
mod cover_tests;
