//! Referrals: a package entering brokering (one at a time, a morning's batch,
//! or placed straight with a chosen team), its fill clock, cancellation by the
//! referrer, and a broker's retry of an escalated package.

use super::candidates::Candidate;
use super::county::area_label;
use super::records::{OfferStatus, PackageStatus};
use super::{Broker, BrokerError, BrokerEvent};
use crate::format::{ContractTerms, FrameworkStatus, Package, PlanningRequest, ServiceUser, Tier};
use crate::model::Problem;
use chrono::{DateTime, Duration, Utc};
use rayon::prelude::*;
use std::collections::BTreeSet;

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

/// A package status as the API spells it.
fn status_name(status: PackageStatus) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{status:?}").to_lowercase())
}

impl Broker {
    /// Checks a package on its own (JSON paths in the message) before it enters brokering.
    pub fn validate_referral(
        &self,
        package: &Package,
        user: &ServiceUser,
    ) -> Result<(), BrokerError> {
        if package.service_user != user.id {
            return Err(BrokerError::InvalidFields(vec![crate::format::Issue::new(
                "$.package.service_user",
                crate::format::IssueCode::Contradiction,
                format!(
                    "package.service_user `{}` does not match service_user.id `{}`",
                    package.service_user, user.id
                ),
            )]));
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
            frozen_before: None,
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
    ///
    /// A `referral_time` before now starts the fill clock (reports count from
    /// it) but not the damages clock: damages accrue only for time the broker
    /// had the package, from now. [`Broker::import_referral`] is the explicit
    /// exception.
    pub fn refer(
        &mut self,
        package: Package,
        user: ServiceUser,
        now: DateTime<Utc>,
    ) -> Result<Vec<BrokerEvent>, BrokerError> {
        self.refer_with(package, user, now, false, None)
    }

    /// The candidate search a referral needs, done on this broker as a
    /// snapshot (the readers' copy) before the command takes the writer;
    /// `None` when the referral will not search now (invalid, or scheduled
    /// beyond the horizon), and the writer decides as usual.
    pub fn prepare_referral(
        &self,
        package: &Package,
        user: &ServiceUser,
        now: DateTime<Utc>,
    ) -> Option<super::PreparedSearch> {
        self.validate_referral(package, user).ok()?;
        if self.brokering_date(package).is_some() {
            return None;
        }
        Some(self.prepare_search(package, user, now))
    }

    /// [`Broker::refer`] (or, with `history`, [`Broker::import_referral`])
    /// using a search prepared on a snapshot: made valid for this state first
    /// ([`Broker::revalidate`]), so the result is as if it had searched here.
    pub fn refer_prepared(
        &mut self,
        package: Package,
        user: ServiceUser,
        now: DateTime<Utc>,
        history: bool,
        prepared: Option<super::PreparedSearch>,
    ) -> Result<Vec<BrokerEvent>, BrokerError> {
        self.refer_with(package, user, now, history, prepared)
    }

    /// A referral imported from another system's history (an admin's
    /// migration): both the fill clock and the damages clock start at its
    /// `referral_time`, so the next tick accrues damages for the time it
    /// already waited.
    pub fn import_referral(
        &mut self,
        package: Package,
        user: ServiceUser,
        now: DateTime<Utc>,
    ) -> Result<Vec<BrokerEvent>, BrokerError> {
        self.refer_with(package, user, now, true, None)
    }

    fn refer_with(
        &mut self,
        package: Package,
        user: ServiceUser,
        now: DateTime<Utc>,
        history: bool,
        prepared: Option<super::PreparedSearch>,
    ) -> Result<Vec<BrokerEvent>, BrokerError> {
        self.validate_referral(&package, &user)?;
        self.set_now(now);
        // Checked against this state before the referral's own events, which
        // change no team's fit check for its own person.
        let known = prepared.map(|p| self.revalidate(p, &package, &user, now));
        let mut out = Vec::new();
        let id = package.id.clone();
        let area = area_label(&self.roster, &user.location);
        let clock = fill_clock_start(&package, now);
        let scheduled = self.brokering_date(&package);
        self.emit(
            BrokerEvent::Referred {
                at: clock,
                package,
                service_user: user,
                area,
                previous_provider: None,
                received_at: (clock < now && !history).then_some(now),
            },
            &mut out,
        );
        match scheduled {
            Some(from) => self.schedule(&id, from, now, &mut out),
            None => self.advance_with(&id, now, &mut out, known),
        }
        Ok(out)
    }

    /// A referral placed straight with a chosen provider team (a recommendation
    /// the broker applied): the offer goes only to that provider, and an
    /// auto-accepting provider takes it at once. Skipping a fitting earlier
    /// stage's first refusal needs a reason (see `overrides`).
    pub fn refer_to(
        &mut self,
        package: Package,
        user: ServiceUser,
        provider: &str,
        team: &str,
        why: &super::OverrideRequest,
        now: DateTime<Utc>,
    ) -> Result<Vec<BrokerEvent>, BrokerError> {
        self.refer_to_prepared(package, user, provider, team, why, now, None)
    }

    /// The searches a referral straight to `team` needs (the team's fit, and
    /// the cascade's for the first-refusal check), on a snapshot; `None` when
    /// the referral is invalid (the writer then says why).
    pub fn prepare_direct(
        &self,
        package: &Package,
        user: &ServiceUser,
        team: &str,
        now: DateTime<Utc>,
    ) -> Option<super::PreparedSearch> {
        self.validate_referral(package, user).ok()?;
        Some(self.prepare_search_with(package, user, team, now))
    }

    /// [`Broker::refer_to`] using searches prepared on a snapshot
    /// ([`Broker::prepare_direct`]), made valid for this state first
    /// ([`Broker::revalidate`]): a team whose rota changed since is
    /// fit-checked again, so a package the team no longer has room for is
    /// refused (`no_longer_fits`) as if it had been checked here.
    #[allow(clippy::too_many_arguments)]
    pub fn refer_to_prepared(
        &mut self,
        package: Package,
        user: ServiceUser,
        provider: &str,
        team: &str,
        why: &super::OverrideRequest,
        now: DateTime<Utc>,
        prepared: Option<super::PreparedSearch>,
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
            return Err(BrokerError::InvalidFields(vec![crate::format::Issue::new(
                "$.team",
                crate::format::IssueCode::Contradiction,
                format!("team `{team}` is not a team of provider `{provider}`"),
            )]));
        }
        if p.framework_status != FrameworkStatus::Active {
            return Err(BrokerError::InvalidFields(vec![crate::format::Issue::new(
                "$.provider",
                crate::format::IssueCode::Refused,
                format!("provider `{provider}` is not active on the framework"),
            )]));
        }
        self.set_now(now);
        let report = match prepared {
            Some(p) => self.revalidate(p, &package, &user, now),
            None => self.candidates_at(&package, &user, now),
        };
        let listed = report
            .fitting
            .iter()
            .chain(&report.not_fitting)
            .find(|c| c.fit.team == team)
            .and_then(|c| c.outcome.clone());
        let fit = listed.unwrap_or_else(|| self.fit(ti, &package, &user, Some(now)));
        if !fit.summary.fits {
            return Err(BrokerError::NoLongerFits {
                team: team.to_string(),
                why: fit.summary.explanation,
            });
        }
        let skipped = self.check_out_of_order(&report, provider, team, p.tier, why, now)?;
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
                received_at: None,
            },
            &mut out,
        );
        if let Some(record) = skipped {
            self.emit(
                BrokerEvent::OfferOverridden {
                    package: id.clone(),
                    record,
                },
                &mut out,
            );
        }
        let c = Candidate {
            provider: p.id.clone(),
            provider_name: p.name.clone(),
            tier: p.tier,
            block: matches!(p.contract, ContractTerms::Block { .. }),
            auto_accept: p.auto_accept.enabled || p.tier == Tier::EmergencyCover,
            fit: fit.summary.clone(),
            distance_m: 0.0,
            outcome: Some(fit),
            shortlist_pos: 0,
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
        self.refer_batch_prepared(referrals, now, None)
    }

    /// The candidate searches a batch needs, done on this broker as a
    /// snapshot before the command takes the writer (the slow part of a
    /// batch); `None` when the batch is invalid (the writer says why).
    /// Each person is searched as the batch's referrals will leave their
    /// record (the last referral of a person wins, their team kept).
    pub fn prepare_batch(
        &self,
        referrals: &[(Package, ServiceUser)],
        now: DateTime<Utc>,
    ) -> Option<super::PreparedBatch> {
        let mut ids = BTreeSet::new();
        for (p, u) in referrals {
            self.validate_referral(p, u).ok()?;
            if !ids.insert(p.id.as_str()) {
                return None;
            }
        }
        let mut people: std::collections::BTreeMap<&str, ServiceUser> = Default::default();
        for (_, u) in referrals {
            let mut stored = u.clone();
            stored.team = (self.index.user_pos.get(&u.id))
                .and_then(|&i| self.roster.service_users[i].team.clone());
            people.insert(u.id.as_str(), stored);
        }
        let reports = referrals
            .par_iter()
            .filter(|(p, _)| self.brokering_date(p).is_none())
            .map(|(p, u)| {
                let user = &people[u.id.as_str()];
                let report = self.batch_search(p, user, self.stage_order(p), Some(now));
                (p.id.clone(), report)
            })
            .collect();
        Some(super::PreparedBatch {
            seen: self.events_applied,
            at: now,
            reports,
            since: None,
        })
    }

    /// [`Broker::refer_batch`] using searches prepared on a snapshot
    /// ([`Broker::prepare_batch`]), each made valid for this state first: the
    /// teams whose rota or people changed since (the batch's own referrals of
    /// people a team knows included) are fit-checked again.
    pub fn refer_batch_prepared(
        &mut self,
        referrals: Vec<(Package, ServiceUser)>,
        now: DateTime<Utc>,
        prepared: Option<super::PreparedBatch>,
    ) -> Result<Vec<BrokerEvent>, BrokerError> {
        let mut ids = BTreeSet::new();
        for (i, (p, u)) in referrals.iter().enumerate() {
            // Issues name the referral in the batch: `$.referrals[i].package...`.
            self.validate_referral(p, u).map_err(|e| match e {
                BrokerError::InvalidFields(issues) => BrokerError::InvalidFields(
                    issues
                        .into_iter()
                        .map(|mut issue| {
                            issue.path = issue.path.replacen('$', &format!("$.referrals[{i}]"), 1);
                            issue
                        })
                        .collect(),
                ),
                other => other,
            })?;
            if !ids.insert(p.id.clone()) {
                return Err(BrokerError::DuplicatePackage(p.id.clone()));
            }
        }
        self.set_now(now);
        let known = prepared.map(|p| super::batch::KnownReports {
            changed: self.changed_since(p.seen, p.at, &p.since, now),
            reports: p.reports,
        });
        let mut out = Vec::new();
        let mut order = Vec::new();
        let mut held = Vec::new();
        for (package, user) in referrals {
            match self.brokering_date(&package) {
                Some(from) => held.push((package.id.clone(), from)),
                None => order.push(package.id.clone()),
            }
            let area = area_label(&self.roster, &user.location);
            self.emit(
                BrokerEvent::Referred {
                    at: now,
                    package,
                    service_user: user,
                    area,
                    previous_provider: None,
                    received_at: None,
                },
                &mut out,
            );
        }
        // The batch's own referrals of people a team knows change that team's checks.
        let known = known.map(|mut k| {
            if let Some(changed) = k.changed.as_mut() {
                for e in &out {
                    if let super::candidates::Touch::Team(t) = self.touches(e) {
                        changed.teams.insert(t);
                    }
                }
            }
            k
        });
        for (id, from) in held {
            self.schedule(&id, from, now, &mut out);
        }
        super::batch::allocate_with(self, &order, now, &mut out, known);
        Ok(out)
    }

    /// Holds a package that starts beyond the horizon until `from` (see
    /// `broker/horizon.rs`): no fit check can see its visits yet.
    fn schedule(
        &mut self,
        package: &str,
        from: chrono::NaiveDate,
        now: DateTime<Utc>,
        out: &mut Vec<BrokerEvent>,
    ) {
        self.emit(
            BrokerEvent::BrokeringScheduled {
                at: now,
                package: package.to_string(),
                from: from.format("%Y-%m-%d").to_string(),
            },
            out,
        );
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
            return Err(BrokerError::Refused {
                code: "package_closed",
                detail: format!(
                    "package `{package}` is {}; only an open or escalated package can be cancelled",
                    status_name(rec.status)
                ),
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
        self.rebroker_prepared(package, now, None)
    }

    /// The candidate search a re-brokering needs, on a snapshot (see
    /// [`Broker::prepare_referral`]); `None` unless the package is escalated.
    pub fn prepare_rebroker(
        &self,
        package: &str,
        now: DateTime<Utc>,
    ) -> Option<super::PreparedSearch> {
        let rec = self.packages.get(package)?;
        if rec.status != PackageStatus::Escalated {
            return None;
        }
        let user = self.service_user(&rec.package.service_user)?;
        Some(self.prepare_search(&rec.package, user, now))
    }

    /// [`Broker::rebroker`] using a search prepared on a snapshot.
    pub fn rebroker_prepared(
        &mut self,
        package: &str,
        now: DateTime<Utc>,
        prepared: Option<super::PreparedSearch>,
    ) -> Result<Vec<BrokerEvent>, BrokerError> {
        let rec = self
            .packages
            .get(package)
            .ok_or_else(|| BrokerError::UnknownPackage(package.to_string()))?;
        if rec.status != PackageStatus::Escalated {
            return Err(BrokerError::Refused {
                code: "package_not_escalated",
                detail: format!(
                    "package `{package}` is {}; only an escalated package can be re-brokered",
                    status_name(rec.status)
                ),
            });
        }
        let known = match (prepared, self.service_user(&rec.package.service_user)) {
            (Some(p), Some(user)) => Some(self.revalidate(p, &rec.package, user, now)),
            _ => None,
        };
        self.set_now(now);
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
        self.advance_with(package, now, &mut out, known);
        Ok(out)
    }
}
