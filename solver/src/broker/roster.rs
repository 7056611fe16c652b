//! Roster commands: providers, teams and carers created and updated while the
//! broker runs, and carers' absences.
//!
//! Like every command they decide events and apply them; nothing else changes
//! state. A carer change (availability, team, skills, limits, absences) may
//! break the team's published rota, so the rotas of the teams the carer left
//! and joined are re-planned with minimum change: only the changed carer's
//! routes that no longer work are taken apart, every other visit keeps its
//! carer and order (times may slide inside windows), and the displaced visits
//! (and any the rota could not place before) are re-inserted with
//! [`crate::rota::insert_visits`], the fit check's own insertion.
//!
//! Provider and team records do not enter a team's routes (carers start from
//! home), so saving them re-plans nothing; they are validated against the
//! team's roster so a change cannot leave a team invalid (e.g. `max_members`
//! below its carer count).

use super::county::keep_team_carer_refs;
use super::horizon::frozen_pins;
use super::records::{PackageStatus, TeamReplan, VisitMove};
use super::{Broker, BrokerError, BrokerEvent};
use crate::check::{ViolationCode, check};
use crate::format::{
    Carer, FORMAT_TAG, FrameworkStatus, Issue, IssueCode, PlanningRequest, Provider, Rota, Shift,
    Team,
};
use crate::model::{ExistingModel, Problem};
use crate::rota::insert_visits;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// The record's id against the format's one id rule ([`crate::format::ids`]).
fn id_issue(id: &str) -> Option<Issue> {
    crate::format::id_error(id).map(|m| Issue::new("$.id", IssueCode::InvalidId, m))
}

/// Validates `req` with the format's own validation. Issues of the record being
/// saved (`prefix`, e.g. `$.carers[3]`) are mapped onto the body's paths (`$...`);
/// issues elsewhere in the team's roster (a package left without enough eligible
/// carers) are what the change would break, reported at `$` naming the team.
fn validate(
    req: &PlanningRequest,
    prefix: Option<&str>,
    team: &str,
) -> Result<Problem, Vec<Issue>> {
    Problem::from_request(req).map_err(|issues| {
        issues
            .into_iter()
            .map(|i| {
                let own = prefix.and_then(|p| {
                    i.path
                        .strip_prefix(p)
                        .filter(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
                        .map(|rest| format!("${rest}"))
                });
                match own {
                    Some(path) => Issue { path, ..i },
                    None => Issue {
                        path: "$".into(),
                        message: format!(
                            "team `{team}` would become invalid: {}: {}",
                            i.path, i.message
                        ),
                        code: i.code,
                    },
                }
            })
            .collect()
    })
}

fn invalid(issues: Vec<Issue>) -> BrokerError {
    BrokerError::InvalidFields(issues)
}

/// Carers of each placed visit of a rota (sorted), to diff rotas.
fn carers_by_visit(rota: &Rota) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &rota.routes {
        for s in &r.stops {
            m.entry(s.visit.clone()).or_default().push(r.carer.clone());
        }
    }
    for v in m.values_mut() {
        v.sort();
    }
    m
}

/// Removes `displaced` visits from every route (a double-handed visit leaves
/// its partner's route too, so both carers are chosen again) and drops empty routes.
fn strip(rota: &mut Rota, displaced: &BTreeSet<String>) {
    for r in &mut rota.routes {
        r.stops.retain(|s| !displaced.contains(&s.visit));
    }
    rota.routes.retain(|r| !r.stops.is_empty());
}

/// Takes apart the routes `gone` picks (by index and route), collecting their visits.
fn take_apart(
    rota: &mut Rota,
    displaced: &mut BTreeSet<String>,
    gone: &dyn Fn(usize, &crate::format::Route) -> bool,
) {
    let mut i = 0;
    rota.routes.retain(|r| {
        let g = gone(i, r);
        i += 1;
        if g {
            displaced.extend(r.stops.iter().map(|s| s.visit.clone()));
        }
        !g
    });
}

/// Checker findings that say nothing about a route being unworkable (the rota
/// being re-planned has no unplaced list or KPIs yet).
fn ignorable(code: ViolationCode) -> bool {
    matches!(
        code,
        ViolationCode::VisitUnaccounted
            | ViolationCode::UnplacedWithoutReason
            | ViolationCode::WrongKpis
    )
}

impl Broker {
    /// Adds (`create`) or replaces a provider record. The framework status is
    /// not changed here: suspending or failing a provider re-brokers its
    /// packages, which [`Broker::set_provider_status`] does.
    pub fn save_provider(
        &mut self,
        provider: Provider,
        create: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<BrokerEvent>, BrokerError> {
        let existing = self
            .index
            .provider_pos
            .get(&provider.id)
            .map(|&i| &self.roster.providers[i]);
        match (create, existing) {
            (true, Some(_)) => {
                return Err(BrokerError::AlreadyExists(format!(
                    "provider `{}`",
                    provider.id
                )));
            }
            (false, None) => return Err(BrokerError::UnknownProvider(provider.id)),
            _ => {}
        }
        if let Some(old) = existing
            && old.framework_status != provider.framework_status
        {
            return Err(BrokerError::Refused {
                code: "framework_status_unchanged_here",
                detail: format!(
                    "provider `{}` is {:?}; change its framework status with the provider status command (POST /v1/providers/{}/status), which re-brokers its packages",
                    provider.id, old.framework_status, provider.id
                ),
            });
        }
        let mut issues: Vec<Issue> = id_issue(&provider.id).into_iter().collect();
        if create && provider.framework_status == FrameworkStatus::Failed {
            issues.push(Issue::new(
                "$.framework_status",
                IssueCode::Contradiction,
                "a new provider cannot start as failed",
            ));
        }
        let req = PlanningRequest {
            format: self.roster.format.clone(),
            horizon: self.roster.horizon.clone(),
            settings: self.roster.settings.clone(),
            travel: self.roster.travel.clone(),
            providers: vec![provider.clone()],
            ..PlanningRequest::default()
        };
        if let Err(mut more) = validate(&req, Some("$.providers[0]"), "-") {
            issues.append(&mut more);
        }
        if !issues.is_empty() {
            return Err(invalid(issues));
        }
        let mut out = Vec::new();
        self.emit(
            BrokerEvent::ProviderSaved {
                at: now,
                provider,
                created: create,
            },
            &mut out,
        );
        Ok(out)
    }

    /// Adds (`create`) or replaces a team record. The team's provider must exist
    /// and cannot change (its packages' records name the provider).
    pub fn save_team(
        &mut self,
        team: Team,
        create: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<BrokerEvent>, BrokerError> {
        let existing = self
            .index
            .team_pos
            .get(&team.id)
            .map(|&i| &self.roster.teams[i]);
        match (create, existing) {
            (true, Some(_)) => {
                return Err(BrokerError::AlreadyExists(format!("team `{}`", team.id)));
            }
            (false, None) => return Err(BrokerError::UnknownTeam(team.id)),
            _ => {}
        }
        if let Some(old) = existing
            && old.provider != team.provider
        {
            return Err(BrokerError::Refused {
                code: "team_provider_immutable",
                detail: format!(
                    "team `{}` belongs to provider `{}`; a team cannot change provider (create a new team and move its carers)",
                    team.id,
                    old.provider.as_deref().unwrap_or("-")
                ),
            });
        }
        let mut issues: Vec<Issue> = id_issue(&team.id).into_iter().collect();
        let provider = match team.provider.as_deref() {
            None => {
                issues.push(Issue::new(
                    "$.provider",
                    IssueCode::UnknownReference,
                    "a team belongs to a provider: give its id",
                ));
                None
            }
            Some(p) => match self.index.provider_pos.get(p) {
                Some(&i) => Some(self.roster.providers[i].clone()),
                None => {
                    issues.push(Issue::new(
                        "$.provider",
                        IssueCode::UnknownReference,
                        format!("no provider `{p}`"),
                    ));
                    None
                }
            },
        };
        if !issues.is_empty() {
            return Err(invalid(issues));
        }
        let mut req = self
            .team_request(&team.id)
            .unwrap_or_else(|| PlanningRequest {
                format: self.roster.format.clone(),
                horizon: self.roster.horizon.clone(),
                settings: self.roster.settings.clone(),
                travel: self.roster.travel.clone(),
                ..PlanningRequest::default()
            });
        req.providers = provider.into_iter().collect();
        req.teams = vec![team.clone()];
        validate(&req, Some("$.teams[0]"), &team.id).map_err(invalid)?;
        let mut out = Vec::new();
        self.emit(
            BrokerEvent::TeamSaved {
                at: now,
                team,
                created: create,
            },
            &mut out,
        );
        Ok(out)
    }

    /// Adds (`create`) or replaces a carer record (team, skills, gender, shifts,
    /// limits, contracted hours, locations, absences). The rotas of the team it
    /// is in after the change, and of the team it left, are re-planned with
    /// minimum change; the event lists what moved.
    pub fn save_carer(
        &mut self,
        carer: Carer,
        create: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<BrokerEvent>, BrokerError> {
        self.save_carer_because(carer, create, now, None)
    }

    /// [`Self::save_carer`] naming the cause in the change lists (`why`;
    /// by default `carer_added`, `carer_moved` or `carer_changed`).
    fn save_carer_because(
        &mut self,
        carer: Carer,
        create: bool,
        now: DateTime<Utc>,
        why: Option<&str>,
    ) -> Result<Vec<BrokerEvent>, BrokerError> {
        let old = self.roster.carers.iter().find(|c| c.id == carer.id);
        match (create, old) {
            (true, Some(_)) => {
                return Err(BrokerError::AlreadyExists(format!("carer `{}`", carer.id)));
            }
            (false, None) => return Err(BrokerError::UnknownCarer(carer.id)),
            _ => {}
        }
        let old_team = old.and_then(|c| c.team.clone());
        // Hours worked this week come from the broker's history, not the client.
        let mut carer = carer;
        carer.worked_min_before_start = old.map_or(0, |c| c.worked_min_before_start);
        let mut issues: Vec<Issue> = id_issue(&carer.id).into_iter().collect();
        let new_team = match carer.team.as_deref() {
            Some(t) if self.index.team_pos.contains_key(t) => Some(t.to_string()),
            Some(t) => {
                issues.push(Issue::new(
                    "$.team",
                    IssueCode::UnknownReference,
                    format!("no team `{t}`"),
                ));
                None
            }
            None => {
                issues.push(Issue::new(
                    "$.team",
                    IssueCode::UnknownReference,
                    "a carer belongs to a team: give its id",
                ));
                None
            }
        };
        let Some(new_team) = new_team.filter(|_| issues.is_empty()) else {
            return Err(invalid(issues));
        };
        // The team's roster as it would be after the change.
        let mut req = self
            .team_request(&new_team)
            .ok_or_else(|| BrokerError::UnknownTeam(new_team.clone()))?;
        req.carers.retain(|c| c.id != carer.id);
        req.carers.push(carer.clone());
        let prefix = format!("$.carers[{}]", req.carers.len() - 1);
        let p_new = validate(&req, Some(&prefix), &new_team).map_err(invalid)?;
        let why = why.unwrap_or(if create {
            "carer_added"
        } else if old_team.as_ref().is_some_and(|t| *t != new_team) {
            "carer_moved"
        } else {
            "carer_changed"
        });
        let mut replans = vec![self.replan(&new_team, &p_new, &carer.id, why)?];
        if let Some(left) = old_team.filter(|t| *t != new_team)
            && let Some(mut req) = self.team_request(&left)
        {
            req.carers.retain(|c| c.id != carer.id);
            keep_team_carer_refs(&mut req);
            let p_old = validate(&req, None, &left).map_err(invalid)?;
            replans.push(self.replan(&left, &p_old, &carer.id, why)?);
        }
        let mut out = Vec::new();
        let changes: Vec<(String, crate::format::ChangeList)> = replans
            .iter()
            .map(|r| (r.team.clone(), r.changes.clone()))
            .collect();
        self.emit(
            BrokerEvent::CarerSaved {
                at: now,
                carer,
                created: create,
                replans,
            },
            &mut out,
        );
        for (team, c) in changes {
            self.after_replan(&team, &c, now, &mut out);
        }
        Ok(out)
    }

    /// Replaces a carer's availability (shifts); the team's rota is re-planned
    /// around it like any carer change.
    pub fn set_availability(
        &mut self,
        carer: &str,
        shifts: Vec<Shift>,
        now: DateTime<Utc>,
    ) -> Result<Vec<BrokerEvent>, BrokerError> {
        let mut c = self
            .roster
            .carers
            .iter()
            .find(|c| c.id == carer)
            .cloned()
            .ok_or_else(|| BrokerError::UnknownCarer(carer.to_string()))?;
        c.shifts = shifts;
        self.save_carer_because(c, false, now, Some("availability_changed"))
    }

    /// The team's rota re-planned for `p` (the team's roster after a change to
    /// `carer`), with minimum change:
    /// 1. routes on shifts `p` no longer has (the carer left, a shift or day was
    ///    removed, an absence covers it) are taken apart;
    /// 2. the carer's routes that can no longer be timed inside their shift, and
    ///    those the independent checker faults (skills, gender, hours), too;
    /// 3. every visit not on a route is inserted with [`insert_visits`], which
    ///    keeps every remaining visit with its carer and order.
    pub(super) fn replan(
        &self,
        team: &str,
        p: &Problem,
        carer: &str,
        why: &str,
    ) -> Result<TeamReplan, BrokerError> {
        let before = self.rotas.get(team).cloned().unwrap_or_else(|| Rota {
            format: FORMAT_TAG.to_string(),
            ..Rota::default()
        });
        let mut rota = before.clone();
        rota.unplaced.clear();
        rota.kpis = None;
        rota.stats = None;
        let mut displaced = BTreeSet::new();
        take_apart(&mut rota, &mut displaced, &|_, r| {
            !p.shift_index.contains_key(&r.shift)
                || r.stops
                    .iter()
                    .any(|s| !p.visit_index.contains_key(&s.visit))
        });
        let timeable = |r: &crate::format::Route| {
            let one = Rota {
                routes: vec![r.clone()],
                ..Rota::default()
            };
            p.planned_routes(&one)
                .ok()
                .is_some_and(|pr| insert_visits(p, &pr, &[]).is_ok())
        };
        take_apart(&mut rota, &mut displaced, &|_, r| {
            r.carer == carer && !timeable(r)
        });
        strip(&mut rota, &displaced);
        // Re-time what is left and let the checker fault the carer's routes; a
        // fault it cannot tie to a route of the carer (hours over the week) takes
        // all the carer's routes apart, after which nothing of the carer is left
        // to fault.
        for round in 0..4 {
            let current = p.planned_routes(&rota).map_err(BrokerError::Invalid)?;
            let timed = match insert_visits(p, &current, &[]) {
                Ok(o) => p.write_rota(&o.routes, &[]),
                Err(_) if round < 3 => {
                    take_apart(&mut rota, &mut displaced, &|_, r| r.carer == carer);
                    strip(&mut rota, &displaced);
                    continue;
                }
                Err(e) => return Err(BrokerError::Invalid(e.to_string())),
            };
            let faults: Vec<_> = check(p, &timed)
                .violations
                .into_iter()
                .filter(|v| !ignorable(v.code))
                .collect();
            let mut bad = BTreeSet::new();
            let mut untied = false;
            for v in &faults {
                let routes: Vec<usize> = match (v.route, &v.visit) {
                    (Some(i), _) => vec![i],
                    (None, Some(visit)) => (0..timed.routes.len())
                        .filter(|&i| timed.routes[i].stops.iter().any(|s| &s.visit == visit))
                        .collect(),
                    (None, None) => Vec::new(),
                };
                let mine: Vec<usize> = routes
                    .into_iter()
                    .filter(|&i| timed.routes.get(i).is_some_and(|r| r.carer == carer))
                    .collect();
                untied |= mine.is_empty();
                bad.extend(mine);
            }
            rota = timed;
            if bad.is_empty() && !(untied && rota.routes.iter().any(|r| r.carer == carer)) {
                break;
            }
            if bad.is_empty() {
                take_apart(&mut rota, &mut displaced, &|_, r| r.carer == carer);
            } else {
                take_apart(&mut rota, &mut displaced, &|i, _| bad.contains(&i));
            }
            strip(&mut rota, &displaced);
        }
        let current = p.planned_routes(&rota).map_err(BrokerError::Invalid)?;
        let planned: BTreeSet<usize> = current
            .iter()
            .flat_map(|r| r.stops.iter().map(|s| s.0))
            .collect();
        let new_visits: Vec<usize> = (0..p.visits.len())
            .filter(|v| !planned.contains(v))
            .collect();
        let outcome = insert_visits(p, &current, &new_visits)
            .map_err(|e| BrokerError::Invalid(e.to_string()))?;
        let mut unplaced = outcome.unplaced;
        unplaced.sort_by_key(|u| u.visit);
        let after = p.write_rota(&outcome.routes, &unplaced);
        Ok(self.team_replan(team, &before, after, why))
    }

    /// A team's re-plan from `before` to `after`: moves, visits newly
    /// unplaced and placed, and the change list (`why` its reason).
    fn team_replan(&self, team: &str, before: &Rota, after: Rota, why: &str) -> TeamReplan {
        let changes = crate::format::changes::diff(
            &crate::format::changes::assignments(before),
            &after,
            &crate::format::changes::person_of_visit(&self.roster.packages),
            why,
        );
        let (was, now) = (carers_by_visit(before), carers_by_visit(&after));
        let moved = now
            .iter()
            .filter_map(|(v, to)| {
                let from = was.get(v)?;
                (from != to).then(|| VisitMove {
                    visit: v.clone(),
                    from: from.clone(),
                    to: to.clone(),
                })
            })
            .collect();
        TeamReplan {
            team: team.to_string(),
            rota: after,
            moved,
            newly_unplaced: was
                .keys()
                .filter(|v| !now.contains_key(*v))
                .cloned()
                .collect(),
            newly_placed: now
                .keys()
                .filter(|v| !was.contains_key(*v))
                .cloned()
                .collect(),
            changes,
        }
    }

    /// After a package released by a provider failure is filled: its visits
    /// not yet started go back to the carers who had them before (each
    /// pattern's former carers, where they are now in the filling team), a
    /// `carers_reunited` re-plan, when the team's rota and every rule
    /// (continuity cap, hours, travel) allow it and no visit is left out.
    pub(super) fn reunite_carers(
        &mut self,
        pkg: &str,
        now: DateTime<Utc>,
        out: &mut Vec<BrokerEvent>,
    ) {
        let Some(r) = self.packages.get(pkg) else {
            return;
        };
        if r.former_carers.is_empty() || r.status != PackageStatus::Filled {
            return;
        }
        let Some(team) = r.team.clone() else {
            return;
        };
        let former = r.former_carers.clone();
        if let Some(replan) = self.reunite_plan(&team, pkg, &former, now) {
            let changes = replan.changes.clone();
            self.emit(
                BrokerEvent::CarersReunited {
                    at: now,
                    package: pkg.to_string(),
                    replan,
                },
                out,
            );
            self.after_replan(&team, &changes, now, out);
        }
    }

    /// The re-plan [`Self::reunite_carers`] makes, or `None` when it would not
    /// give the person more visits with their former carers.
    fn reunite_plan(
        &self,
        team: &str,
        pkg: &str,
        former: &BTreeMap<String, Vec<String>>,
        now: DateTime<Utc>,
    ) -> Option<TeamReplan> {
        let before = self.rotas.get(team)?.clone();
        let mut req = self.team_request(team)?;
        req.existing_rota = frozen_pins(&before, &req.horizon, now);
        let mut p = Problem::from_request(&req).ok()?;
        let mut wanted: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut displaced: BTreeSet<String> = BTreeSet::new();
        for (visit, carers) in carers_by_visit(&before) {
            if !crate::format::is_visit_of(&visit, pkg) {
                continue;
            }
            let Some(&v) = p.visit_index.get(&visit) else {
                continue;
            };
            let Some(want) = visit.rsplit_once('@').and_then(|(pat, _)| former.get(pat)) else {
                continue;
            };
            let ix: Vec<usize> = want
                .iter()
                .filter_map(|c| p.carer_index.get(c).copied())
                .collect();
            if ix.len() != usize::from(p.visits[v].carers_required)
                || p.existing.iter().any(|e| e.visit == v && e.pinned)
            {
                continue;
            }
            let mut want = want.clone();
            want.sort();
            if carers != want {
                displaced.insert(visit.clone());
                p.existing.retain(|e| e.visit != v);
                p.existing.push(ExistingModel {
                    visit: v,
                    carers: ix,
                    start: None,
                    pinned: false,
                });
            }
            wanted.insert(visit, want);
        }
        if displaced.is_empty() {
            return None;
        }
        let mut rota = before.clone();
        rota.unplaced.clear();
        rota.kpis = None;
        rota.stats = None;
        strip(&mut rota, &displaced);
        let current = p.planned_routes(&rota).ok()?;
        let visits: Vec<usize> = (displaced.iter())
            .filter_map(|v| p.visit_index.get(v).copied())
            .collect();
        let outcome = insert_visits(&p, &current, &visits).ok()?;
        if !outcome.unplaced.is_empty() {
            return None;
        }
        let mut after = p.write_rota(&outcome.routes, &[]);
        let with_former = |r: &Rota| {
            (carers_by_visit(r).iter())
                .filter(|(v, c)| wanted.get(*v) == Some(*c))
                .count()
        };
        if with_former(&after) <= with_former(&before)
            || check(&p, &after)
                .violations
                .iter()
                .any(|v| !ignorable(v.code))
        {
            return None;
        }
        after.unplaced = before.unplaced.clone();
        Some(self.team_replan(team, &before, after, "carers_reunited"))
    }

    /// A carer is off (sick, leave): the absence goes on the roster and the
    /// carer's routes that overlap it are taken apart; their visits are put back
    /// into the team's rota with every other visit left where it was (minimum
    /// change). Visits that fit nowhere stay unplaced with reasons.
    pub fn add_absence(
        &mut self,
        carer: &str,
        absence: crate::format::Absence,
        now: DateTime<Utc>,
    ) -> Result<Vec<BrokerEvent>, BrokerError> {
        let c = self
            .roster
            .carers
            .iter()
            .find(|c| c.id == carer)
            .ok_or_else(|| BrokerError::UnknownCarer(carer.to_string()))?;
        let team = c.team.clone().ok_or_else(|| {
            BrokerError::InvalidFields(vec![Issue::new(
                "$",
                IssueCode::Refused,
                format!("carer `{carer}` has no team, so has no rota to take an absence from"),
            )])
        })?;
        let field = |path: &str, code: IssueCode, m: String| {
            BrokerError::InvalidFields(vec![Issue::new(path, code, m)])
        };
        let from = DateTime::parse_from_rfc3339(&absence.from).map_err(|e| {
            field(
                "$.from",
                IssueCode::InvalidInstant,
                format!("not an RFC 3339 instant ({e})"),
            )
        })?;
        let to = DateTime::parse_from_rfc3339(&absence.to).map_err(|e| {
            field(
                "$.to",
                IssueCode::InvalidInstant,
                format!("not an RFC 3339 instant ({e})"),
            )
        })?;
        if to <= from {
            return Err(field(
                "$.to",
                IssueCode::EndBeforeStart,
                "the absence must end after it starts".into(),
            ));
        }
        if let Some(m) = absence.reason.as_deref().and_then(|r| {
            crate::format::ids::text_error(r, crate::format::ids::MAX_LABEL_LEN, false)
        }) {
            return Err(field("$.reason", IssueCode::InvalidText, m));
        }
        let mut req = self
            .team_request(&team)
            .ok_or_else(|| BrokerError::UnknownTeam(team.clone()))?;
        if let Some(c) = req.carers.iter_mut().find(|c| c.id == carer) {
            c.absences.push(absence.clone());
        }
        let p = Problem::from_request(&req).map_err(|issues| {
            BrokerError::InvalidFields(
                issues
                    .into_iter()
                    .map(|i| Issue {
                        path: "$".into(),
                        message: format!(
                            "team `{team}` would become invalid: {}: {}",
                            i.path, i.message
                        ),
                        code: i.code,
                    })
                    .collect(),
            )
        })?;
        // The same minimum-change re-plan as any carer change (`replan`): the
        // carer's routes the absence removes or cuts short are taken apart.
        let replan = self.replan(&team, &p, carer, "carer_absent")?;
        let mut out = Vec::new();
        self.emit(
            BrokerEvent::CarerAbsent {
                at: now,
                carer: carer.to_string(),
                absence,
                team: team.clone(),
                rota: replan.rota,
                changes: replan.changes.clone(),
            },
            &mut out,
        );
        self.after_replan(&team, &replan.changes, now, &mut out);
        Ok(out)
    }
}
