//! Commands of the broker (refer, accept, decline, tick, provider status, year
//! end) and how events change state. See the module docs of [`super`].

use super::ledger::{
    COMMISSIONER, EntryKind, LedgerEntry, QUALITY_FUND, RISK_POOL, provider_account, split_pence,
};
use super::records::*;
use super::world::{FitOutcome, RosterIndex, area_label, fit_check, shortlist};
use super::{Broker, BrokerError, DamagesSharing, OfferMode};
use crate::format::{
    ContractTerms, FrameworkStatus, Package, PlanningRequest, ServiceUser, Tier, Urgency,
};
use crate::model::Problem;
use chrono::{DateTime, Duration, Utc};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One provider team that could take a package, with its fit check.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    /// Provider id.
    pub provider: String,
    /// Provider name.
    pub provider_name: String,
    /// Provider tier.
    pub tier: Tier,
    /// Block contract (capacity already paid for) rather than spot.
    pub block: bool,
    /// Whether the provider takes this package without a human decision.
    pub auto_accept: bool,
    /// The fit check.
    pub fit: FitSummary,
    /// Distance from the team base, metres.
    pub distance_m: f64,
    #[serde(skip)]
    pub(crate) outcome: Option<FitOutcome>,
}

/// Provider left out before any fit check.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Exclusion {
    /// Provider id.
    pub provider: String,
    /// Stable code: `not_on_framework`, `missing_skills`, `no_team_nearby`.
    pub code: String,
    /// Explanation.
    pub message: String,
}

/// Candidate search result for one package.
#[derive(Debug, Clone, Serialize)]
pub struct CandidateReport {
    /// Package id.
    pub package: String,
    /// Cascade order for this package.
    pub stage_order: Vec<Tier>,
    /// Teams where the whole package fits, in offer order (stage, then rank).
    pub fitting: Vec<Candidate>,
    /// Teams checked where it does not fit, with reasons.
    pub not_fitting: Vec<Candidate>,
    /// Providers excluded before the fit check.
    pub excluded: Vec<Exclusion>,
    /// Teams fit-checked.
    pub teams_checked: usize,
}

impl CandidateReport {
    /// Best fitting team per provider at `stage`, skipping `passed_by`, in rank order.
    pub fn at_stage<'a>(&'a self, stage: Tier, passed_by: &BTreeSet<String>) -> Vec<&'a Candidate> {
        let mut seen = BTreeSet::new();
        self.fitting
            .iter()
            .filter(|c| c.tier == stage && !passed_by.contains(&c.provider))
            .filter(|c| seen.insert(c.provider.clone()))
            .collect()
    }
}

fn rank_key(c: &Candidate) -> (u8, std::cmp::Reverse<usize>, i64, String, String) {
    (
        u8::from(!c.block),
        std::cmp::Reverse(c.fit.known_carers.len()),
        (c.fit.cost_delta * 100.0).round() as i64,
        c.provider.clone(),
        c.fit.team.clone(),
    )
}

/// The fill clock starts when the referral was made (`referral_time`, e.g. the
/// hospital's request at 08:10 entered at 08:25), never later than now and
/// at most 30 days before it (people do wait on lists; an older stamp is
/// taken as a data error and the clock starts now).
fn fill_clock_start(package: &Package, now: DateTime<Utc>) -> DateTime<Utc> {
    package
        .referral_time
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .filter(|t| *t <= now && now - *t <= Duration::days(30))
        .unwrap_or(now)
}

impl Broker {
    /// The cascade order for a package: specialist packages may go to
    /// Specialist providers first; emergency cover is always last.
    pub fn stage_order(&self, package: &Package) -> Vec<Tier> {
        let specialist = self.config.specialist_first
            && super::package_skills(package)
                .iter()
                .any(|s| self.config.specialist_skills.contains(s));
        if specialist {
            vec![
                Tier::Specialist,
                Tier::Tier1,
                Tier::Tier2,
                Tier::Tier3,
                Tier::EmergencyCover,
            ]
        } else {
            vec![
                Tier::Tier1,
                Tier::Tier2,
                Tier::Tier3,
                Tier::Specialist,
                Tier::EmergencyCover,
            ]
        }
    }

    /// Finds every provider team that could take the package and checks the fit
    /// against each team's current rota (in parallel). Read-only.
    pub fn candidates(&self, package: &Package, user: &ServiceUser) -> CandidateReport {
        candidates_in(
            &self.roster,
            &self.index,
            &self.rotas,
            &self.config,
            package,
            user,
            self.stage_order(package),
        )
    }

    fn auto_accepts(&self, c: &Candidate, package: &Package) -> bool {
        let Some(&pi) = self.index.provider_pos.get(&c.provider) else {
            return false;
        };
        let provider = &self.roster.providers[pi];
        if provider.tier == Tier::EmergencyCover {
            return true;
        }
        let policy = &provider.auto_accept;
        let double = package.visits.iter().any(|v| v.carers_required > 1);
        policy.enabled
            && !(policy.single_handed_only && double)
            && policy
                .max_min_per_week
                .is_none_or(|m| c.fit.care_min <= u64::from(m))
    }

    // ---------------------------------------------------------------- events

    /// Applies one event to the state (the only way state changes).
    pub fn apply(&mut self, e: &BrokerEvent) {
        self.events_applied += 1;
        match e {
            BrokerEvent::Referred {
                at,
                package,
                service_user,
                area,
                previous_provider,
            } => {
                if let Some(&i) = self.index.user_pos.get(&service_user.id) {
                    let team = self.roster.service_users[i].team.clone();
                    self.roster.service_users[i] = service_user.clone();
                    self.roster.service_users[i].team = team;
                } else {
                    let mut u = service_user.clone();
                    u.team = None;
                    self.roster.service_users.push(u);
                }
                self.packages.insert(
                    package.id.clone(),
                    PackageRecord {
                        previous_provider: previous_provider.clone(),
                        ..PackageRecord::new(
                            package.clone(),
                            PackageStatus::Open,
                            *at,
                            area.clone(),
                        )
                    },
                );
                self.refresh_people_index();
            }
            BrokerEvent::StageOpened { package, stage, .. } => {
                if let Some(r) = self.packages.get_mut(package) {
                    r.stage = Some(*stage);
                    r.stages_tried.push(*stage);
                }
            }
            BrokerEvent::OfferMade { offer } => {
                if let Some(n) = offer
                    .id
                    .strip_prefix("off-")
                    .and_then(|n| n.parse::<u64>().ok())
                {
                    self.next_offer = self.next_offer.max(n + 1);
                }
                self.offers.insert(offer.id.clone(), offer.clone());
            }
            BrokerEvent::OfferAccepted {
                at,
                offer,
                changed_routes,
                ..
            } => {
                let Some(o) = self.offers.get_mut(offer) else {
                    return;
                };
                o.status = OfferStatus::Accepted;
                o.closed_at = Some(*at);
                let (pkg, provider, team) = (o.package.clone(), o.provider.clone(), o.team.clone());
                let tier = self
                    .index
                    .provider_pos
                    .get(&provider)
                    .map(|&i| self.roster.providers[i].tier);
                let Some(r) = self.packages.get_mut(&pkg) else {
                    return;
                };
                r.status = PackageStatus::Filled;
                r.filled_at = Some(*at);
                r.provider = Some(provider);
                r.team = Some(team.clone());
                r.filled_tier = tier;
                r.stage = None;
                let package = r.package.clone();
                if let Some(&u) = self.index.user_pos.get(&package.service_user) {
                    self.roster.service_users[u].team = Some(team.clone());
                }
                self.roster.packages.push(package);
                let rota = self
                    .rotas
                    .entry(team)
                    .or_insert_with(|| crate::format::Rota {
                        format: crate::format::FORMAT_TAG.to_string(),
                        ..Default::default()
                    });
                for route in changed_routes {
                    match rota.routes.iter_mut().find(|r| r.shift == route.shift) {
                        Some(r) => *r = route.clone(),
                        None => rota.routes.push(route.clone()),
                    }
                }
                rota.routes.sort_by(|a, b| a.shift.cmp(&b.shift));
                rota.kpis = None;
                rota.stats = None;
                self.refresh_people_index();
            }
            BrokerEvent::OfferDeclined {
                at,
                offer,
                reason,
                note,
            } => {
                if let Some(o) = self.offers.get_mut(offer) {
                    o.status = OfferStatus::Declined;
                    o.closed_at = Some(*at);
                    o.decline_reason = Some(*reason);
                    o.note = note.clone();
                    let (pkg, provider) = (o.package.clone(), o.provider.clone());
                    if let Some(r) = self.packages.get_mut(&pkg) {
                        r.passed_by.insert(provider);
                    }
                }
            }
            BrokerEvent::OfferExpired { at, offer } => {
                if let Some(o) = self.offers.get_mut(offer) {
                    o.status = OfferStatus::Expired;
                    o.closed_at = Some(*at);
                    let (pkg, provider) = (o.package.clone(), o.provider.clone());
                    if let Some(r) = self.packages.get_mut(&pkg) {
                        r.passed_by.insert(provider);
                    }
                }
            }
            BrokerEvent::OfferWithdrawn { at, offer, why } => {
                if let Some(o) = self.offers.get_mut(offer) {
                    o.status = OfferStatus::Withdrawn;
                    o.closed_at = Some(*at);
                    o.note = Some(why.clone());
                }
            }
            BrokerEvent::Escalated { alert } => {
                if let Some(r) = self.packages.get_mut(&alert.package) {
                    r.status = PackageStatus::Escalated;
                    r.stage = None;
                }
                self.alerts.push(alert.clone());
            }
            BrokerEvent::DamagesAccrued { package, .. } => {
                if let Some(r) = self.packages.get_mut(package) {
                    r.damages_accrued = true;
                }
            }
            BrokerEvent::Posted { entry } => self.ledger.post(entry.clone()),
            BrokerEvent::ProviderStatusChanged {
                provider, status, ..
            } => {
                if let Some(&i) = self.index.provider_pos.get(provider) {
                    self.roster.providers[i].framework_status = *status;
                }
                self.rebuild_index();
            }
            BrokerEvent::PackageReleased {
                package,
                known_carers,
                ..
            } => {
                let Some(r) = self.packages.get_mut(package) else {
                    return;
                };
                let team = r.team.take();
                r.previous_provider = r.provider.take();
                r.status = PackageStatus::Open;
                let user_id = r.package.service_user.clone();
                let prefix = format!("{package}/");
                if let Some(rota) = team.as_ref().and_then(|t| self.rotas.get_mut(t)) {
                    for route in &mut rota.routes {
                        route.stops.retain(|s| !s.visit.starts_with(&prefix));
                    }
                    rota.routes.retain(|r| !r.stops.is_empty());
                    rota.unplaced.retain(|u| !u.visit.starts_with(&prefix));
                    rota.kpis = None;
                    rota.stats = None;
                }
                self.roster.packages.retain(|p| &p.id != package);
                if let Some(&u) = self.index.user_pos.get(&user_id) {
                    let su = &mut self.roster.service_users[u];
                    su.team = None;
                    for c in known_carers {
                        if !su.known_carers.contains(c) {
                            su.known_carers.push(c.clone());
                        }
                    }
                }
                self.refresh_people_index();
            }
            BrokerEvent::CarerTransferred { transfer, .. } => {
                if let Some(c) = self
                    .roster
                    .carers
                    .iter_mut()
                    .find(|c| c.id == transfer.carer)
                {
                    c.team = Some(transfer.to_team.clone());
                }
                let carer = transfer.carer.clone();
                for rota in self.rotas.values_mut() {
                    rota.routes
                        .retain(|r| r.carer != carer || !r.stops.is_empty());
                }
                self.refresh_people_index();
            }
            BrokerEvent::PackageCancelled { package, .. } => {
                if let Some(r) = self.packages.get_mut(package) {
                    r.status = PackageStatus::Cancelled;
                    r.stage = None;
                }
            }
            BrokerEvent::PackageAdopted {
                at,
                package,
                provider,
                team,
                area,
            } => {
                let tier = self
                    .index
                    .provider_pos
                    .get(provider)
                    .map(|&i| self.roster.providers[i].tier);
                self.packages.insert(
                    package.id.clone(),
                    PackageRecord {
                        filled_at: Some(*at),
                        provider: Some(provider.clone()),
                        team: Some(team.clone()),
                        filled_tier: tier,
                        ..PackageRecord::new(
                            package.clone(),
                            PackageStatus::Filled,
                            *at,
                            area.clone(),
                        )
                    },
                );
            }
            BrokerEvent::CarerAbsent {
                carer,
                absence,
                team,
                rota,
                ..
            } => {
                if let Some(c) = self.roster.carers.iter_mut().find(|c| &c.id == carer) {
                    c.absences.push(absence.clone());
                }
                self.rotas.insert(team.clone(), rota.clone());
                self.refresh_people_index();
            }
            BrokerEvent::EscalationRetried {
                at,
                package,
                reopened,
                ask_again,
            } => {
                if let Some(r) = self.packages.get_mut(package) {
                    r.last_retry_at = Some(*at);
                    if *reopened {
                        r.status = PackageStatus::Open;
                        r.stage = None;
                    }
                    if *ask_again {
                        r.passed_by.clear();
                    }
                }
            }
            BrokerEvent::ProviderSaved { .. }
            | BrokerEvent::TeamSaved { .. }
            | BrokerEvent::CarerSaved { .. } => self.apply_roster(e),
            BrokerEvent::YearClosed { .. } => {}
        }
    }

    fn emit(&mut self, e: BrokerEvent, out: &mut Vec<BrokerEvent>) {
        self.apply(&e);
        out.push(e);
    }

    #[allow(clippy::too_many_arguments)]
    fn post(
        &mut self,
        at: DateTime<Utc>,
        kind: EntryKind,
        from: String,
        to: String,
        amount: i64,
        package: Option<&str>,
        memo: String,
        out: &mut Vec<BrokerEvent>,
    ) {
        if amount <= 0 {
            return;
        }
        let entry = LedgerEntry {
            seq: self.ledger.entries.len() as u64 + 1,
            at,
            kind,
            from,
            to,
            amount_pence: amount,
            package: package.map(str::to_string),
            memo,
        };
        self.emit(BrokerEvent::Posted { entry }, out);
    }

    // -------------------------------------------------------------- commands

    /// Checks a package on its own (JSON paths in the message) before it enters brokering.
    pub fn validate_referral(
        &self,
        package: &Package,
        user: &ServiceUser,
    ) -> Result<(), BrokerError> {
        if package.service_user != user.id {
            return Err(BrokerError::Invalid(format!(
                "package.service_user `{}` does not match service_user.id `{}`",
                package.service_user, user.id
            )));
        }
        if self
            .packages
            .get(&package.id)
            .is_some_and(|r| r.status != PackageStatus::Cancelled)
            || self.roster.packages.iter().any(|p| p.id == package.id)
        {
            return Err(BrokerError::DuplicatePackage(package.id.clone()));
        }
        let req = PlanningRequest {
            format: self.roster.format.clone(),
            horizon: self.roster.horizon.clone(),
            settings: self.roster.settings.clone(),
            travel: self.roster.travel.clone(),
            providers: Vec::new(),
            teams: Vec::new(),
            carers: Vec::new(),
            service_users: vec![ServiceUser {
                team: None,
                ..user.clone()
            }],
            packages: vec![package.clone()],
            existing_rota: Vec::new(),
        };
        if let Err(issues) = Problem::from_request(&req) {
            // Paths inside the one-package request map onto the referral's own fields.
            let fields: Vec<crate::format::Issue> = issues
                .into_iter()
                .filter(|i| {
                    !i.path.starts_with("$.service_users[0].preferred_carers")
                        && !i.path.starts_with("$.service_users[0].excluded_carers")
                        && !i.path.starts_with("$.service_users[0].known_carers")
                })
                .map(|mut i| {
                    i.path = i.path.replacen("$.packages[0]", "$.package", 1).replacen(
                        "$.service_users[0]",
                        "$.service_user",
                        1,
                    );
                    i
                })
                .collect();
            if !fields.is_empty() {
                return Err(BrokerError::InvalidFields(fields));
            }
        }
        Ok(())
    }

    /// A new referral: validates it, starts its fill clock and runs the cascade.
    pub fn refer(
        &mut self,
        package: Package,
        user: ServiceUser,
        now: DateTime<Utc>,
    ) -> Result<Vec<BrokerEvent>, BrokerError> {
        self.validate_referral(&package, &user)?;
        let mut out = Vec::new();
        let id = package.id.clone();
        let area = area_label(&self.roster, &user.location);
        let clock = fill_clock_start(&package, now);
        self.emit(
            BrokerEvent::Referred {
                at: clock,
                package,
                service_user: user,
                area,
                previous_provider: None,
            },
            &mut out,
        );
        self.advance(&id, now, &mut out);
        Ok(out)
    }

    /// Moves a package along the cascade: offers at the first stage with a fitting
    /// provider not yet passed, auto-accepts where a policy allows, escalates when
    /// no stage can take it. Does nothing while offers are open.
    pub(crate) fn advance(&mut self, pkg: &str, now: DateTime<Utc>, out: &mut Vec<BrokerEvent>) {
        self.advance_with(pkg, now, out, None);
    }

    /// [`Self::advance`] with the package's candidate report when the caller
    /// already has it for the current state (saves a second search).
    fn advance_with(
        &mut self,
        pkg: &str,
        now: DateTime<Utc>,
        out: &mut Vec<BrokerEvent>,
        known: Option<CandidateReport>,
    ) {
        let Some(rec) = self.packages.get(pkg) else {
            return;
        };
        if rec.status != PackageStatus::Open {
            return;
        }
        if self
            .offers
            .values()
            .any(|o| o.package == pkg && o.status == OfferStatus::Open)
        {
            return;
        }
        let Some(user) = self.service_user(&rec.package.service_user).cloned() else {
            return;
        };
        let package = rec.package.clone();
        let passed = rec.passed_by.clone();
        let current = rec.stage;
        let mut report = known.unwrap_or_else(|| self.candidates(&package, &user));
        let order = report.stage_order.clone();
        let start = current
            .and_then(|s| order.iter().position(|&x| x == s))
            .unwrap_or(0);
        let none_fit = |r: &CandidateReport| {
            order[start..]
                .iter()
                .all(|&st| r.at_stage(st, &passed).is_empty())
        };
        // Only the nearest teams were checked; before raising an alert, every
        // team that reaches the person is (slower, but rare and worth it).
        if none_fit(&report) && report.teams_checked >= self.config.max_teams_checked {
            let wide = super::BrokerConfig {
                max_teams_checked: usize::MAX,
                ..self.config.clone()
            };
            report = candidates_in(
                &self.roster,
                &self.index,
                &self.rotas,
                &wide,
                &package,
                &user,
                order.clone(),
            );
        }
        for &stage in &order[start..] {
            let cands: Vec<Candidate> = report
                .at_stage(stage, &passed)
                .into_iter()
                .cloned()
                .collect();
            if cands.is_empty() {
                continue;
            }
            if current != Some(stage) {
                self.emit(
                    BrokerEvent::StageOpened {
                        at: now,
                        package: pkg.to_string(),
                        stage,
                    },
                    out,
                );
            }
            if let Some(c) = cands.iter().find(|c| self.auto_accepts(c, &package)) {
                let offer = self.make_offer(&package, c, stage, now, out);
                let routes = c
                    .outcome
                    .as_ref()
                    .map(|o| o.changed_routes.clone())
                    .unwrap_or_default();
                self.accept_with(&offer, routes, c.fit.clone(), true, now, out);
                return;
            }
            // Block hours are already paid for: spot is asked only when no
            // block provider at this stage can take the package.
            let cands: Vec<Candidate> =
                if self.config.block_before_spot && cands.iter().any(|c| c.block) {
                    cands.into_iter().filter(|c| c.block).collect()
                } else {
                    cands
                };
            let chosen: Vec<&Candidate> = match self.config.offer_mode {
                OfferMode::Broadcast => cands.iter().collect(),
                OfferMode::Ranked => cands.iter().take(1).collect(),
            };
            for c in chosen {
                self.make_offer(&package, c, stage, now, out);
            }
            return;
        }
        let mut why: BTreeMap<String, usize> = BTreeMap::new();
        for c in &report.not_fitting {
            if let Some(r) = c.fit.reasons.first() {
                *why.entry(r.code.clone()).or_default() += 1;
            }
        }
        for e in &report.excluded {
            *why.entry(e.code.clone()).or_default() += 1;
        }
        let summary = why
            .iter()
            .map(|(k, n)| format!("{k} x{n}"))
            .collect::<Vec<_>>()
            .join(", ");
        self.emit(
            BrokerEvent::Escalated {
                alert: Alert {
                    at: now,
                    package: pkg.to_string(),
                    code: "no_provider_can_take_package".into(),
                    message: format!(
                        "No provider, including emergency cover, can take the whole package now ({} declined or let offers expire; teams checked: {}; {}). A broker must act.",
                        passed.len(),
                        report.teams_checked,
                        if summary.is_empty() { "no candidates".to_string() } else { summary }
                    ),
                },
            },
            out,
        );
    }

    fn make_offer(
        &mut self,
        package: &Package,
        c: &Candidate,
        stage: Tier,
        now: DateTime<Utc>,
        out: &mut Vec<BrokerEvent>,
    ) -> String {
        let id = format!("off-{:06}", self.next_offer);
        let window = self.config.windows.minutes(stage, package.urgency);
        let offer = Offer {
            id: id.clone(),
            package: package.id.clone(),
            provider: c.provider.clone(),
            team: c.fit.team.clone(),
            stage,
            made_at: now,
            expires_at: now + Duration::minutes(i64::from(window)),
            status: OfferStatus::Open,
            closed_at: None,
            decline_reason: None,
            note: None,
            fit: c.fit.clone(),
        };
        self.emit(BrokerEvent::OfferMade { offer }, out);
        id
    }

    fn accept_with(
        &mut self,
        offer: &str,
        changed_routes: Vec<crate::format::Route>,
        fit: FitSummary,
        automatic: bool,
        now: DateTime<Utc>,
        out: &mut Vec<BrokerEvent>,
    ) {
        let Some(o) = self.offers.get(offer).cloned() else {
            return;
        };
        self.emit(
            BrokerEvent::OfferAccepted {
                at: now,
                offer: offer.to_string(),
                automatic,
                changed_routes,
                fit: fit.clone(),
            },
            out,
        );
        // Other open offers for the package are withdrawn.
        let others: Vec<String> = self
            .offers
            .values()
            .filter(|x| x.package == o.package && x.status == OfferStatus::Open)
            .map(|x| x.id.clone())
            .collect();
        for id in others {
            self.emit(
                BrokerEvent::OfferWithdrawn {
                    at: now,
                    offer: id,
                    why: "filled_by_another_provider".into(),
                },
                out,
            );
        }
        // Money: fee and top-slice, or emergency cover paid from the pool.
        let Some(&pi) = self.index.provider_pos.get(&o.provider) else {
            return;
        };
        let provider = self.roster.providers[pi].clone();
        let hours_memo = format!(
            "{} carer-minutes of care in the planning horizon",
            fit.care_min
        );
        if provider.tier == Tier::EmergencyCover {
            let cost = fit.care_min as i64 * i64::from(self.config.emergency_rate_pence) / 60;
            self.post(
                now,
                EntryKind::EmergencyCover,
                RISK_POOL.into(),
                provider_account(&provider.id),
                cost,
                Some(&o.package),
                hours_memo,
                out,
            );
        } else {
            let fee = fit.care_min as i64 * i64::from(provider.hourly_rate_pence) / 60;
            let top = fee * i64::from(self.config.top_slice_bp) / 10_000;
            self.post(
                now,
                EntryKind::Fee,
                COMMISSIONER.into(),
                provider_account(&provider.id),
                fee,
                Some(&o.package),
                hours_memo,
                out,
            );
            self.post(
                now,
                EntryKind::TopSlice,
                provider_account(&provider.id),
                RISK_POOL.into(),
                top,
                Some(&o.package),
                format!("top-slice {} bp of the fee", self.config.top_slice_bp),
                out,
            );
        }
    }

    /// A provider accepts an offer: the fit is checked again against the team's
    /// rota as it is now, the visits go on the rota and the fill clock stops.
    pub fn accept(
        &mut self,
        offer: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<BrokerEvent>, BrokerError> {
        let o = self
            .offers
            .get(offer)
            .cloned()
            .ok_or_else(|| BrokerError::UnknownOffer(offer.to_string()))?;
        if o.status != OfferStatus::Open {
            return Err(BrokerError::OfferClosed {
                offer: o.id,
                status: format!("{:?}", o.status).to_lowercase(),
            });
        }
        if now >= o.expires_at {
            return Err(BrokerError::OfferExpired(o.id));
        }
        let rec = self
            .packages
            .get(&o.package)
            .ok_or_else(|| BrokerError::UnknownPackage(o.package.clone()))?;
        let user = self
            .service_user(&rec.package.service_user)
            .cloned()
            .ok_or_else(|| BrokerError::UnknownPackage(o.package.clone()))?;
        let team = *self
            .index
            .team_pos
            .get(&o.team)
            .ok_or_else(|| BrokerError::UnknownTeam(o.team.clone()))?;
        let fit = fit_check(
            &self.roster,
            &self.index,
            &self.rotas,
            team,
            &rec.package,
            &user,
        );
        if !fit.summary.fits {
            return Err(BrokerError::NoLongerFits {
                team: o.team.clone(),
                why: fit.summary.explanation,
            });
        }
        let mut out = Vec::new();
        self.accept_with(offer, fit.changed_routes, fit.summary, false, now, &mut out);
        Ok(out)
    }

    /// A provider declines an offer; the cascade moves on.
    pub fn decline(
        &mut self,
        offer: &str,
        reason: DeclineReason,
        note: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Vec<BrokerEvent>, BrokerError> {
        let o = self
            .offers
            .get(offer)
            .cloned()
            .ok_or_else(|| BrokerError::UnknownOffer(offer.to_string()))?;
        if o.status != OfferStatus::Open {
            return Err(BrokerError::OfferClosed {
                offer: o.id,
                status: format!("{:?}", o.status).to_lowercase(),
            });
        }
        let mut out = Vec::new();
        self.emit(
            BrokerEvent::OfferDeclined {
                at: now,
                offer: offer.to_string(),
                reason,
                note,
            },
            &mut out,
        );
        self.advance(&o.package, now, &mut out);
        Ok(out)
    }

    /// The referrer withdraws a package that is not yet filled.
    pub fn cancel(
        &mut self,
        package: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<BrokerEvent>, BrokerError> {
        let rec = self
            .packages
            .get(package)
            .ok_or_else(|| BrokerError::UnknownPackage(package.to_string()))?;
        if rec.status == PackageStatus::Filled || rec.status == PackageStatus::Cancelled {
            return Err(BrokerError::OfferClosed {
                offer: package.to_string(),
                status: format!("{:?}", rec.status).to_lowercase(),
            });
        }
        let mut out = Vec::new();
        let open: Vec<String> = self
            .offers
            .values()
            .filter(|o| o.package == package && o.status == OfferStatus::Open)
            .map(|o| o.id.clone())
            .collect();
        for id in open {
            self.emit(
                BrokerEvent::OfferWithdrawn {
                    at: now,
                    offer: id,
                    why: "package_cancelled".into(),
                },
                &mut out,
            );
        }
        self.emit(
            BrokerEvent::PackageCancelled {
                at: now,
                package: package.to_string(),
            },
            &mut out,
        );
        Ok(out)
    }

    /// Tries an escalated package again now (a broker's request): every
    /// provider may be asked again, its capacity may have freed up. The fill
    /// clock keeps running from the referral.
    pub fn rebroker(
        &mut self,
        package: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<BrokerEvent>, BrokerError> {
        let rec = self
            .packages
            .get(package)
            .ok_or_else(|| BrokerError::UnknownPackage(package.to_string()))?;
        if rec.status != PackageStatus::Escalated {
            return Err(BrokerError::OfferClosed {
                offer: package.to_string(),
                status: format!("{:?}", rec.status).to_lowercase(),
            });
        }
        let mut out = Vec::new();
        self.emit(
            BrokerEvent::EscalationRetried {
                at: now,
                package: package.to_string(),
                reopened: true,
                ask_again: true,
            },
            &mut out,
        );
        self.advance(package, now, &mut out);
        Ok(out)
    }

    /// Time passes: expired offers move packages on; packages unfilled past the
    /// damages threshold accrue liquidated damages shared by Tier 1 providers.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Vec<BrokerEvent> {
        let mut out = Vec::new();
        let expired: Vec<(String, String)> = self
            .offers
            .values()
            .filter(|o| o.status == OfferStatus::Open && o.expires_at <= now)
            .map(|o| (o.id.clone(), o.package.clone()))
            .collect();
        let mut touched = BTreeSet::new();
        for (id, pkg) in expired {
            // Expire at the window's end, not at the tick, so reports stay exact.
            let at = self.offers.get(&id).map_or(now, |o| o.expires_at);
            self.emit(BrokerEvent::OfferExpired { at, offer: id }, &mut out);
            touched.insert(pkg);
        }
        for pkg in touched {
            self.advance(&pkg, now, &mut out);
        }
        self.retry_escalated(now, &mut out);
        self.accrue_damages(now, &mut out);
        out
    }

    /// Escalated packages are checked again every `escalation_retry_min`:
    /// when a provider not yet asked now has a team that can take one, it
    /// re-enters the cascade; otherwise the check is recorded and the alert
    /// stands.
    fn retry_escalated(&mut self, now: DateTime<Utc>, out: &mut Vec<BrokerEvent>) {
        let every = Duration::minutes(i64::from(self.config.escalation_retry_min));
        if every.is_zero() {
            return;
        }
        let due: Vec<String> = self
            .packages
            .values()
            .filter(|r| r.status == PackageStatus::Escalated)
            .filter(|r| {
                // The later of the last retry and the last alert (a reopened
                // package may have been escalated again since).
                let alerted = (self.alerts.iter().rev())
                    .find(|a| a.package == r.package.id)
                    .map(|a| a.at);
                let last = r.last_retry_at.max(alerted);
                last.is_none_or(|t| now - t >= every)
            })
            .map(|r| r.package.id.clone())
            .collect();
        for pkg in due {
            let Some(rec) = self.packages.get(&pkg) else {
                continue;
            };
            let Some(user) = self.service_user(&rec.package.service_user).cloned() else {
                continue;
            };
            let passed = rec.passed_by.clone();
            let report = self.candidates(&rec.package, &user);
            let reopened = report
                .stage_order
                .iter()
                .any(|&st| !report.at_stage(st, &passed).is_empty());
            self.emit(
                BrokerEvent::EscalationRetried {
                    at: now,
                    package: pkg.clone(),
                    reopened,
                    ask_again: false,
                },
                out,
            );
            if reopened {
                // The retry event changes no roster or rota: the report still holds.
                self.advance_with(&pkg, now, out, Some(report));
            }
        }
    }

    fn accrue_damages(&mut self, now: DateTime<Utc>, out: &mut Vec<BrokerEvent>) {
        let threshold = Duration::minutes(i64::from(self.config.damages.after_min));
        let due: Vec<(String, DateTime<Utc>)> = self
            .packages
            .values()
            .filter(|r| {
                matches!(r.status, PackageStatus::Open | PackageStatus::Escalated)
                    && !r.damages_accrued
                    && now - r.referred_at >= threshold
            })
            .map(|r| (r.package.id.clone(), r.referred_at + threshold))
            .collect();
        if due.is_empty() {
            return;
        }
        let tier1: Vec<String> = self
            .roster
            .providers
            .iter()
            .filter(|p| p.tier == Tier::Tier1 && p.framework_status == FrameworkStatus::Active)
            .map(|p| p.id.clone())
            .collect();
        let weights: Vec<u64> = match self.config.damages.sharing {
            DamagesSharing::Equal => vec![1; tier1.len()],
            DamagesSharing::ProRata => tier1
                .iter()
                .map(|p| {
                    self.packages
                        .values()
                        .filter(|r| {
                            r.status == PackageStatus::Filled && r.provider.as_ref() == Some(p)
                        })
                        .count() as u64
                })
                .collect(),
        };
        for (pkg, at) in due {
            self.emit(
                BrokerEvent::DamagesAccrued {
                    at,
                    package: pkg.clone(),
                },
                out,
            );
            let shares = split_pence(self.config.damages.amount_pence, &weights);
            for (p, share) in tier1.iter().zip(shares) {
                self.post(
                    at,
                    EntryKind::LiquidatedDamages,
                    provider_account(p),
                    COMMISSIONER.into(),
                    share,
                    Some(&pkg),
                    format!(
                        "share of damages: package unfilled {} min after referral",
                        self.config.damages.after_min
                    ),
                    out,
                );
            }
        }
    }

    /// Changes a provider's framework status. Suspended or failed providers get
    /// no new offers (open ones are withdrawn); a failed provider's packages are
    /// released, carers who move to other teams are transferred, and every
    /// released package is re-brokered together (batch MILP), people's former
    /// carers remembered as known carers for continuity.
    pub fn set_provider_status(
        &mut self,
        provider: &str,
        status: FrameworkStatus,
        transfers: Vec<CarerTransfer>,
        now: DateTime<Utc>,
    ) -> Result<Vec<BrokerEvent>, BrokerError> {
        if !self.index.provider_pos.contains_key(provider) {
            return Err(BrokerError::UnknownProvider(provider.to_string()));
        }
        for t in &transfers {
            if !self.roster.carers.iter().any(|c| c.id == t.carer) {
                return Err(BrokerError::UnknownCarer(t.carer.clone()));
            }
            let Some(&ti) = self.index.team_pos.get(&t.to_team) else {
                return Err(BrokerError::UnknownTeam(t.to_team.clone()));
            };
            if self.roster.teams[ti].provider.as_deref() == Some(provider) {
                return Err(BrokerError::Invalid(format!(
                    "transfer of `{}` must go to another provider's team",
                    t.carer
                )));
            }
        }
        // A neighbourhood team has a size cap (Buurtzorg: 12); a team pushed over
        // it could no longer plan its rota, so such a transfer is refused.
        for (to_team, &ti) in &self.index.team_pos {
            let joining = transfers.iter().filter(|t| &t.to_team == to_team).count();
            if joining == 0 {
                continue;
            }
            let team = &self.roster.teams[ti];
            let cap = team
                .max_members
                .unwrap_or(self.roster.settings.max_team_size) as usize;
            let now_members = self.index.carers_of_team.get(to_team).map_or(0, Vec::len);
            if now_members + joining > cap {
                return Err(BrokerError::Invalid(format!(
                    "transfers: team `{to_team}` has {now_members} carers and room for {cap}; {joining} cannot join it"
                )));
            }
        }
        let mut out = Vec::new();
        self.emit(
            BrokerEvent::ProviderStatusChanged {
                at: now,
                provider: provider.to_string(),
                status,
            },
            &mut out,
        );
        let mut affected = BTreeSet::new();
        if status != FrameworkStatus::Active {
            let open: Vec<(String, String)> = self
                .offers
                .values()
                .filter(|o| o.provider == provider && o.status == OfferStatus::Open)
                .map(|o| (o.id.clone(), o.package.clone()))
                .collect();
            for (id, pkg) in open {
                self.emit(
                    BrokerEvent::OfferWithdrawn {
                        at: now,
                        offer: id,
                        why: format!("provider_{}", format!("{status:?}").to_lowercase()),
                    },
                    &mut out,
                );
                affected.insert(pkg);
            }
        }
        let mut released = Vec::new();
        if status == FrameworkStatus::Failed {
            let held: Vec<(String, String)> = self
                .packages
                .values()
                .filter(|r| {
                    r.status == PackageStatus::Filled && r.provider.as_deref() == Some(provider)
                })
                .map(|r| (r.package.id.clone(), r.team.clone().unwrap_or_default()))
                .collect();
            // Packages the county started with (not referred through the broker) are
            // held by teams of the provider too.
            let teams: BTreeSet<String> = self
                .roster
                .teams
                .iter()
                .filter(|t| t.provider.as_deref() == Some(provider))
                .map(|t| t.id.clone())
                .collect();
            let mut initial: Vec<(Package, ServiceUser)> = Vec::new();
            for pkg in &self.roster.packages {
                if self.packages.contains_key(&pkg.id) {
                    continue;
                }
                if let Some(u) = self.service_user(&pkg.service_user)
                    && u.team.as_ref().is_some_and(|t| teams.contains(t))
                {
                    initial.push((pkg.clone(), u.clone()));
                }
            }
            for (pkg, user) in initial {
                // Adopt it as a filled package so it can be released like the others.
                let team = user.team.clone().unwrap_or_default();
                let area = area_label(&self.roster, &user.location);
                released.push((pkg.id.clone(), team.clone()));
                self.emit(
                    BrokerEvent::PackageAdopted {
                        at: now,
                        package: pkg,
                        provider: provider.to_string(),
                        team,
                        area,
                    },
                    &mut out,
                );
            }
            released.extend(held);
            released.sort();
            released.dedup();
            for (pkg, team) in &released {
                let prefix = format!("{pkg}/");
                let known: Vec<String> = self
                    .rotas
                    .get(team)
                    .map(|r| {
                        let mut c: Vec<String> = r
                            .routes
                            .iter()
                            .filter(|rt| rt.stops.iter().any(|s| s.visit.starts_with(&prefix)))
                            .map(|rt| rt.carer.clone())
                            .collect();
                        c.sort();
                        c.dedup();
                        c
                    })
                    .unwrap_or_default();
                self.emit(
                    BrokerEvent::PackageReleased {
                        at: now,
                        package: pkg.clone(),
                        why: "provider_failed".into(),
                        known_carers: known,
                    },
                    &mut out,
                );
            }
            for t in transfers {
                self.emit(
                    BrokerEvent::CarerTransferred {
                        at: now,
                        transfer: t,
                    },
                    &mut out,
                );
            }
        }
        // Re-refer the released packages (fresh fill clock, provider-failure urgency).
        let mut rebroker = Vec::new();
        for (pkg, _) in &released {
            let Some(rec) = self.packages.get(pkg) else {
                continue;
            };
            let mut package = rec.package.clone();
            if package.urgency > Urgency::ProviderFailure {
                package.urgency = Urgency::ProviderFailure;
            }
            let Some(user) = self.service_user(&package.service_user).cloned() else {
                continue;
            };
            let area = rec.area.clone();
            self.emit(
                BrokerEvent::Referred {
                    at: now,
                    package,
                    service_user: user,
                    area,
                    previous_provider: Some(provider.to_string()),
                },
                &mut out,
            );
            rebroker.push(pkg.clone());
        }
        if !rebroker.is_empty() {
            super::batch::allocate(self, &rebroker, now, &mut out);
        }
        for pkg in affected {
            self.advance(&pkg, now, &mut out);
        }
        Ok(out)
    }

    /// A referral placed straight with a chosen provider team (a recommendation
    /// the broker applied): the offer goes only to that provider, and an
    /// auto-accepting provider takes it at once.
    pub fn refer_to(
        &mut self,
        package: Package,
        user: ServiceUser,
        provider: &str,
        team: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<BrokerEvent>, BrokerError> {
        self.validate_referral(&package, &user)?;
        let pi = *self
            .index
            .provider_pos
            .get(provider)
            .ok_or_else(|| BrokerError::UnknownProvider(provider.to_string()))?;
        let ti = *self
            .index
            .team_pos
            .get(team)
            .ok_or_else(|| BrokerError::UnknownTeam(team.to_string()))?;
        let p = self.roster.providers[pi].clone();
        if self.roster.teams[ti].provider.as_deref() != Some(provider) {
            return Err(BrokerError::Invalid(format!(
                "team `{team}` is not a team of provider `{provider}`"
            )));
        }
        if p.framework_status != FrameworkStatus::Active {
            return Err(BrokerError::Invalid(format!(
                "provider `{provider}` is not active on the framework"
            )));
        }
        let fit = fit_check(&self.roster, &self.index, &self.rotas, ti, &package, &user);
        if !fit.summary.fits {
            return Err(BrokerError::NoLongerFits {
                team: team.to_string(),
                why: fit.summary.explanation,
            });
        }
        let mut out = Vec::new();
        let id = package.id.clone();
        let area = area_label(&self.roster, &user.location);
        self.emit(
            BrokerEvent::Referred {
                at: now,
                package,
                service_user: user,
                area,
                previous_provider: None,
            },
            &mut out,
        );
        let c = Candidate {
            provider: p.id.clone(),
            provider_name: p.name.clone(),
            tier: p.tier,
            block: matches!(p.contract, ContractTerms::Block { .. }),
            auto_accept: p.auto_accept.enabled || p.tier == Tier::EmergencyCover,
            fit: fit.summary.clone(),
            distance_m: 0.0,
            outcome: Some(fit),
        };
        self.offer_to(&id, &c, p.tier, now, &mut out);
        Ok(out)
    }

    /// Many referrals at once (a morning's discharges), allocated together by the
    /// batch MILP so no team is promised more than it can deliver.
    pub fn refer_batch(
        &mut self,
        referrals: Vec<(Package, ServiceUser)>,
        now: DateTime<Utc>,
    ) -> Result<Vec<BrokerEvent>, BrokerError> {
        let mut ids = BTreeSet::new();
        for (p, u) in &referrals {
            self.validate_referral(p, u)?;
            if !ids.insert(p.id.clone()) {
                return Err(BrokerError::DuplicatePackage(p.id.clone()));
            }
        }
        let mut out = Vec::new();
        let mut order = Vec::new();
        for (package, user) in referrals {
            order.push(package.id.clone());
            let area = area_label(&self.roster, &user.location);
            self.emit(
                BrokerEvent::Referred {
                    at: now,
                    package,
                    service_user: user,
                    area,
                    previous_provider: None,
                },
                &mut out,
            );
        }
        super::batch::allocate(self, &order, now, &mut out);
        Ok(out)
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
        let team = c
            .team
            .clone()
            .ok_or_else(|| BrokerError::Invalid(format!("carer `{carer}` has no team")))?;
        let from = DateTime::parse_from_rfc3339(&absence.from)
            .map_err(|e| BrokerError::Invalid(format!("$.from: not an RFC 3339 instant ({e})")))?;
        let to = DateTime::parse_from_rfc3339(&absence.to)
            .map_err(|e| BrokerError::Invalid(format!("$.to: not an RFC 3339 instant ({e})")))?;
        if to <= from {
            return Err(BrokerError::Invalid("$.to must be after $.from".into()));
        }
        let mut req = self
            .team_request(&team)
            .ok_or_else(|| BrokerError::UnknownTeam(team.clone()))?;
        if let Some(c) = req.carers.iter_mut().find(|c| c.id == carer) {
            c.absences.push(absence.clone());
        }
        let p = Problem::from_request(&req).map_err(|issues| {
            BrokerError::Invalid(
                issues
                    .first()
                    .map(|i| format!("{}: {}", i.path, i.message))
                    .unwrap_or_default(),
            )
        })?;
        // The same minimum-change re-plan as any carer change (roster.rs): the
        // carer's routes the absence removes or cuts short are taken apart.
        let written = self.replan(&team, &p, carer)?.rota;
        let mut out = Vec::new();
        self.emit(
            BrokerEvent::CarerAbsent {
                at: now,
                carer: carer.to_string(),
                absence,
                team,
                rota: written,
            },
            &mut out,
        );
        Ok(out)
    }

    /// Year-end close: the unspent risk pool goes to the quality improvement fund.
    pub fn close_year(&mut self, year: &str, now: DateTime<Utc>) -> Vec<BrokerEvent> {
        let mut out = Vec::new();
        let balance = self.ledger.balance(RISK_POOL);
        self.post(
            now,
            EntryKind::YearEndClose,
            RISK_POOL.into(),
            QUALITY_FUND.into(),
            balance,
            None,
            format!("close of financial year {year}"),
            &mut out,
        );
        self.emit(
            BrokerEvent::YearClosed {
                at: now,
                year: year.to_string(),
            },
            &mut out,
        );
        out
    }

    pub(crate) fn offer_to(
        &mut self,
        pkg: &str,
        c: &Candidate,
        stage: Tier,
        now: DateTime<Utc>,
        out: &mut Vec<BrokerEvent>,
    ) {
        let Some(package) = self.package(pkg).cloned() else {
            return;
        };
        if self
            .packages
            .get(pkg)
            .is_some_and(|r| r.stage != Some(stage))
        {
            self.emit(
                BrokerEvent::StageOpened {
                    at: now,
                    package: pkg.to_string(),
                    stage,
                },
                out,
            );
        }
        if self.auto_accepts(c, &package) {
            // Re-check: earlier placements in the same batch may have used the room.
            let Some(user) = self.service_user(&package.service_user).cloned() else {
                return;
            };
            let Some(&team) = self.index.team_pos.get(&c.fit.team) else {
                return;
            };
            let fit = fit_check(
                &self.roster,
                &self.index,
                &self.rotas,
                team,
                &package,
                &user,
            );
            if fit.summary.fits {
                let offer = self.make_offer(&package, c, stage, now, out);
                self.accept_with(&offer, fit.changed_routes, fit.summary, true, now, out);
            } else {
                self.advance(pkg, now, out);
            }
            return;
        }
        self.make_offer(&package, c, stage, now, out);
    }
}

pub(crate) fn candidates_in(
    roster: &PlanningRequest,
    index: &RosterIndex,
    rotas: &BTreeMap<String, crate::format::Rota>,
    config: &super::BrokerConfig,
    package: &Package,
    user: &ServiceUser,
    stage_order: Vec<Tier>,
) -> CandidateReport {
    let list = shortlist(roster, index, package, user, config.max_teams_checked);
    let checked: Vec<Candidate> = list
        .teams
        .par_iter()
        .map(|&(pi, ti, d)| {
            let provider = &roster.providers[pi];
            let outcome = fit_check(roster, index, rotas, ti, package, user);
            Candidate {
                provider: provider.id.clone(),
                provider_name: provider.name.clone(),
                tier: provider.tier,
                block: matches!(provider.contract, ContractTerms::Block { .. }),
                auto_accept: provider.auto_accept.enabled || provider.tier == Tier::EmergencyCover,
                fit: outcome.summary.clone(),
                distance_m: d,
                outcome: Some(outcome),
            }
        })
        .collect();
    let (mut fitting, not_fitting): (Vec<Candidate>, Vec<Candidate>) =
        checked.into_iter().partition(|c| c.fit.fits);
    let pos = |t: Tier| {
        stage_order
            .iter()
            .position(|&x| x == t)
            .unwrap_or(usize::MAX)
    };
    fitting.sort_by(|a, b| {
        pos(a.tier)
            .cmp(&pos(b.tier))
            .then_with(|| rank_key(a).cmp(&rank_key(b)))
    });
    CandidateReport {
        package: package.id.clone(),
        stage_order,
        teams_checked: list.teams.len(),
        fitting,
        not_fitting,
        excluded: list
            .excluded
            .into_iter()
            .map(|(provider, code, message)| Exclusion {
                provider,
                code,
                message,
            })
            .collect(),
    }
}
