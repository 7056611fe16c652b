//! How each event changes the state: [`Broker::apply`] dispatches to one
//! function per event kind. Appliers never fail and read nothing but the state
//! and the event, so replaying stored events rebuilds the same broker.

use super::BrokerEvent;
use crate::broker::Broker;
use crate::broker::records::{
    Alert, CarerTransfer, DeclineReason, Offer, OfferStatus, PackageRecord, PackageStatus,
    TeamReplan,
};
use crate::format::{
    Absence, Carer, FORMAT_TAG, FrameworkStatus, Package, Provider, Rota, Route, ServiceUser, Team,
    Tier, is_visit_of,
};
use chrono::{DateTime, Utc};

impl Broker {
    /// Applies one event to the state (the only way state changes).
    pub fn apply(&mut self, e: &BrokerEvent) {
        self.note_touch(e);
        self.events_applied += 1;
        match e {
            BrokerEvent::Referred {
                at,
                package,
                service_user,
                area,
                previous_provider,
                received_at,
            } => {
                self.apply_referred(*at, package, service_user, area, previous_provider);
                if let Some(r) = self.packages.get_mut(&package.id) {
                    r.damages_from = *received_at;
                }
            }
            BrokerEvent::StageOpened { package, stage, .. } => {
                self.apply_stage_opened(package, *stage)
            }
            BrokerEvent::OfferMade { offer } => self.apply_offer_made(offer),
            BrokerEvent::OfferAccepted {
                at,
                offer,
                changed_routes,
                fit,
                ..
            } => self.apply_offer_accepted(*at, offer, changed_routes, &fit.passed),
            BrokerEvent::OfferDeclined {
                at,
                offer,
                reason,
                note,
            } => self.apply_offer_declined(*at, offer, *reason, note),
            BrokerEvent::OfferExpired { at, offer } => self.apply_offer_expired(*at, offer),
            BrokerEvent::OfferWithdrawn { at, offer, why } => {
                self.apply_offer_withdrawn(*at, offer, why)
            }
            BrokerEvent::Escalated { alert } => self.apply_escalated(alert),
            BrokerEvent::DamagesAccrued { package, .. } => self.apply_damages_accrued(package),
            BrokerEvent::Posted { entry } => self.ledger.post(entry.clone()),
            BrokerEvent::ProviderStatusChanged {
                provider, status, ..
            } => self.apply_provider_status_changed(provider, *status),
            BrokerEvent::PackageReleased {
                at,
                package,
                known_carers,
                former_carers,
                ..
            } => {
                self.apply_package_released(*at, package, known_carers);
                if let Some(r) = self.packages.get_mut(package) {
                    r.former_carers = former_carers.clone();
                }
            }
            BrokerEvent::CarersReunited { replan, .. } => {
                self.rotas.insert(replan.team.clone(), replan.rota.clone());
            }
            BrokerEvent::CarerTransferred { transfer, .. } => {
                self.apply_carer_transferred(transfer)
            }
            BrokerEvent::PackageCancelled { package, .. } => self.apply_package_cancelled(package),
            BrokerEvent::PackageAdopted {
                at,
                package,
                provider,
                team,
                area,
            } => self.apply_package_adopted(*at, package, provider, team, area),
            BrokerEvent::CarerAbsent {
                carer,
                absence,
                team,
                rota,
                ..
            } => self.apply_carer_absent(carer, absence, team, rota),
            BrokerEvent::EscalationRetried {
                at,
                package,
                reopened,
                ask_again,
            } => self.apply_escalation_retried(*at, package, *reopened, *ask_again),
            BrokerEvent::ProviderSaved { provider, .. } => self.apply_provider_saved(provider),
            BrokerEvent::TeamSaved { team, .. } => self.apply_team_saved(team),
            BrokerEvent::CarerSaved { carer, replans, .. } => {
                self.apply_carer_saved(carer, replans)
            }
            BrokerEvent::HorizonRolled { at, horizon, teams } => {
                self.apply_horizon_rolled(*at, horizon, teams)
            }
            BrokerEvent::BrokeringScheduled { package, from, .. } => {
                self.apply_brokering_scheduled(package, from)
            }
            BrokerEvent::BrokeringDue { at, package } => self.apply_brokering_due(*at, package),
            BrokerEvent::RotaPublished { team, rota, .. } => {
                self.rotas.insert(team.clone(), rota.clone());
            }
            BrokerEvent::YearClosed { .. } => {}
            // Policy at run time and the delivery loop (broker/delivery.rs).
            BrokerEvent::PolicyChanged {
                at,
                version,
                by,
                config,
            } => self.apply_policy_changed(*at, *version, by, config),
            BrokerEvent::OfferExpiring { offer, .. } => {
                self.delivery.expiry_noticed.insert(offer.clone());
            }
            BrokerEvent::VisitCheckedIn { visit, check } => {
                self.apply_visit_check(visit, check, false)
            }
            BrokerEvent::VisitCheckedOut { visit, check } => {
                self.apply_visit_check(visit, check, true)
            }
            BrokerEvent::VisitOverdue {
                visit,
                missed,
                alert,
            } => self.apply_visit_overdue(visit, *missed, alert),
            BrokerEvent::AlertRaised { alert } => self.alerts.push(alert.clone()),
            BrokerEvent::EmergencyVisitAssigned { visit, .. } => {
                self.emergency_visits
                    .insert(visit.visit.clone(), visit.clone());
            }
            BrokerEvent::EmergencyVisitsReleased { visits, .. } => {
                for v in visits {
                    self.emergency_visits.remove(v);
                }
            }
            BrokerEvent::CoverDayCharged {
                package,
                date,
                source,
                ..
            } => {
                self.cover_charged
                    .insert((package.clone(), date.clone(), source.clone()));
            }
            BrokerEvent::OfferOverridden { package, record } => {
                if let Some(r) = self.packages.get_mut(package) {
                    r.out_of_order = Some(record.clone());
                }
            }
        }
    }

    /// The person joins (or is updated in) the roster, keeping any team they
    /// already have; the package is recorded as open.
    fn apply_referred(
        &mut self,
        at: DateTime<Utc>,
        package: &Package,
        service_user: &ServiceUser,
        area: &str,
        previous_provider: &Option<String>,
    ) {
        if let Some(&i) = self.index.user_pos.get(&service_user.id) {
            let team = self.roster.service_users[i].team.clone();
            self.roster.service_users[i] = service_user.clone();
            self.roster.service_users[i].team = team;
        } else {
            let mut u = service_user.clone();
            u.team = None;
            self.roster.service_users.push(u);
            self.index.person_added(&self.roster);
        }
        self.packages.insert(
            package.id.clone(),
            PackageRecord {
                previous_provider: previous_provider.clone(),
                policy_version: self.policy_version(),
                // A re-referral after a provider failure keeps the former carers.
                former_carers: (self.packages.get(&package.id))
                    .map(|r| r.former_carers.clone())
                    .unwrap_or_default(),
                ..PackageRecord::new(package.clone(), PackageStatus::Open, at, area.to_string())
            },
        );
        // Only a new person changes the people lookups (added above).
        debug_assert!(self.index.people_match(&self.roster));
    }

    fn apply_stage_opened(&mut self, package: &str, stage: Tier) {
        if let Some(r) = self.packages.get_mut(package) {
            r.stage = Some(stage);
            r.stages_tried.push(stage);
        }
    }

    /// Offer ids are `off-NNNNNN`; the counter moves past every id seen, so a
    /// replayed broker numbers its next offer as the original would.
    fn apply_offer_made(&mut self, offer: &Offer) {
        if let Some(n) = offer
            .id
            .strip_prefix("off-")
            .and_then(|n| n.parse::<u64>().ok())
        {
            self.next_offer = self.next_offer.max(n + 1);
        }
        self.offers.insert(offer.id.clone(), offer.clone());
    }

    /// The package is filled by the offer's team: the person joins the team,
    /// the package joins the roster and the changed routes replace the team's;
    /// its visits that were over before it was brokered are listed as unplaced.
    fn apply_offer_accepted(
        &mut self,
        at: DateTime<Utc>,
        offer: &str,
        changed_routes: &[Route],
        passed: &[crate::format::UnplacedVisit],
    ) {
        let Some(o) = self.offers.get_mut(offer) else {
            return;
        };
        o.status = OfferStatus::Accepted;
        o.closed_at = Some(at);
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
        r.filled_at = Some(at);
        r.provider = Some(provider);
        r.team = Some(team.clone());
        r.filled_tier = tier;
        r.stage = None;
        let package = r.package.clone();
        let user = self.index.user_pos.get(&package.service_user).copied();
        let from = user.and_then(|u| self.roster.service_users[u].team.replace(team.clone()));
        self.roster.packages.push(package);
        let rota = self.rotas.entry(team).or_insert_with(|| Rota {
            format: FORMAT_TAG.to_string(),
            ..Default::default()
        });
        for route in changed_routes {
            match rota.routes.iter_mut().find(|r| r.shift == route.shift) {
                Some(r) => *r = route.clone(),
                None => rota.routes.push(route.clone()),
            }
        }
        rota.routes.sort_by(|a, b| a.shift.cmp(&b.shift));
        for u in passed {
            if !rota.unplaced.iter().any(|x| x.visit == u.visit) {
                rota.unplaced.push(u.clone());
            }
        }
        rota.kpis = None;
        rota.stats = None;
        match user {
            Some(u) => self.index.package_placed(&self.roster, u, from.as_deref()),
            None => self.refresh_people_index(),
        }
        debug_assert!(self.index.people_match(&self.roster));
    }

    fn apply_offer_declined(
        &mut self,
        at: DateTime<Utc>,
        offer: &str,
        reason: DeclineReason,
        note: &Option<String>,
    ) {
        if let Some(o) = self.offers.get_mut(offer) {
            o.status = OfferStatus::Declined;
            o.closed_at = Some(at);
            o.decline_reason = Some(reason);
            o.note = note.clone();
            let (pkg, provider) = (o.package.clone(), o.provider.clone());
            if let Some(r) = self.packages.get_mut(&pkg) {
                r.passed_by.insert(provider);
            }
        }
    }

    fn apply_offer_expired(&mut self, at: DateTime<Utc>, offer: &str) {
        if let Some(o) = self.offers.get_mut(offer) {
            o.status = OfferStatus::Expired;
            o.closed_at = Some(at);
            let (pkg, provider) = (o.package.clone(), o.provider.clone());
            if let Some(r) = self.packages.get_mut(&pkg) {
                r.passed_by.insert(provider);
            }
        }
    }

    fn apply_offer_withdrawn(&mut self, at: DateTime<Utc>, offer: &str, why: &str) {
        if let Some(o) = self.offers.get_mut(offer) {
            o.status = OfferStatus::Withdrawn;
            o.closed_at = Some(at);
            o.note = Some(why.to_string());
        }
    }

    fn apply_escalated(&mut self, alert: &Alert) {
        if let Some(r) = self.packages.get_mut(&alert.package) {
            r.status = PackageStatus::Escalated;
            r.stage = None;
        }
        self.alerts.push(alert.clone());
    }

    fn apply_damages_accrued(&mut self, package: &str) {
        if let Some(r) = self.packages.get_mut(package) {
            r.damages_accrued = true;
        }
    }

    fn apply_provider_status_changed(&mut self, provider: &str, status: FrameworkStatus) {
        if let Some(&i) = self.index.provider_pos.get(provider) {
            self.roster.providers[i].framework_status = status;
        }
        self.rebuild_index();
    }

    /// The package's visits leave its team's rota and the package the roster;
    /// the person leaves the team, remembering the carers who served them.
    fn apply_package_released(
        &mut self,
        at: DateTime<Utc>,
        package: &str,
        known_carers: &[String],
    ) {
        let Some(r) = self.packages.get_mut(package) else {
            return;
        };
        let team = r.team.take();
        r.previous_provider = r.provider.take();
        r.status = PackageStatus::Open;
        let user_id = r.package.service_user.clone();
        // Visits that had started are the frozen past: they stay on record in
        // the team's history, with their carers and times.
        let mut started = Vec::new();
        if let Some(rota) = team.as_ref().and_then(|t| self.rotas.get_mut(t)) {
            for route in &mut rota.routes {
                let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut route.stops)
                    .into_iter()
                    .partition(|s| is_visit_of(&s.visit, package));
                route.stops = kept;
                let past: Vec<_> = gone
                    .into_iter()
                    .filter(|s| DateTime::parse_from_rfc3339(&s.start).is_ok_and(|t| t < at))
                    .collect();
                if !past.is_empty() {
                    started.push(crate::format::Route {
                        stops: past,
                        start_travel_min: 0,
                        end_travel_min: 0,
                        ..route.clone()
                    });
                }
            }
            rota.routes.retain(|r| !r.stops.is_empty());
            rota.unplaced.retain(|u| !is_visit_of(&u.visit, package));
            rota.kpis = None;
            rota.stats = None;
        }
        if let (Some(t), false) = (&team, started.is_empty()) {
            let kept = self.history.entry(t.clone()).or_insert_with(|| Rota {
                format: crate::format::FORMAT_TAG.to_string(),
                ..Rota::default()
            });
            kept.routes.extend(started);
        }
        self.roster.packages.retain(|p| p.id != package);
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

    fn apply_carer_transferred(&mut self, transfer: &CarerTransfer) {
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

    fn apply_package_cancelled(&mut self, package: &str) {
        if let Some(r) = self.packages.get_mut(package) {
            r.status = PackageStatus::Cancelled;
            r.stage = None;
        }
    }

    fn apply_package_adopted(
        &mut self,
        at: DateTime<Utc>,
        package: &Package,
        provider: &str,
        team: &str,
        area: &str,
    ) {
        let tier = self
            .index
            .provider_pos
            .get(provider)
            .map(|&i| self.roster.providers[i].tier);
        self.packages.insert(
            package.id.clone(),
            PackageRecord {
                policy_version: self.policy_version(),
                filled_at: Some(at),
                provider: Some(provider.to_string()),
                team: Some(team.to_string()),
                filled_tier: tier,
                ..PackageRecord::new(package.clone(), PackageStatus::Filled, at, area.to_string())
            },
        );
    }

    fn apply_carer_absent(&mut self, carer: &str, absence: &Absence, team: &str, rota: &Rota) {
        if let Some(c) = self.roster.carers.iter_mut().find(|c| c.id == carer) {
            c.absences.push(absence.clone());
        }
        self.rotas.insert(team.to_string(), rota.clone());
        self.refresh_people_index();
    }

    fn apply_escalation_retried(
        &mut self,
        at: DateTime<Utc>,
        package: &str,
        reopened: bool,
        ask_again: bool,
    ) {
        if let Some(r) = self.packages.get_mut(package) {
            r.last_retry_at = Some(at);
            if reopened {
                r.status = PackageStatus::Open;
                r.stage = None;
                r.fruitless_retries = 0;
            } else {
                r.fruitless_retries = r.fruitless_retries.saturating_add(1);
            }
            if ask_again {
                r.passed_by.clear();
            }
        }
    }

    fn apply_provider_saved(&mut self, provider: &Provider) {
        match self.index.provider_pos.get(&provider.id) {
            Some(&i) => self.roster.providers[i] = provider.clone(),
            None => self.roster.providers.push(provider.clone()),
        }
        self.rebuild_index();
    }

    fn apply_team_saved(&mut self, team: &Team) {
        match self.index.team_pos.get(&team.id) {
            Some(&i) => self.roster.teams[i] = team.clone(),
            None => self.roster.teams.push(team.clone()),
        }
        self.rebuild_index();
    }

    fn apply_carer_saved(&mut self, carer: &Carer, replans: &[TeamReplan]) {
        match self.roster.carers.iter_mut().find(|c| c.id == carer.id) {
            Some(c) => *c = carer.clone(),
            None => self.roster.carers.push(carer.clone()),
        }
        for r in replans {
            self.rotas.insert(r.team.clone(), r.rota.clone());
        }
        self.rebuild_index();
    }
}
