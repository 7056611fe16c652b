//! Offers and the cascade: which providers are offered a package next (stage
//! by stage, block before spot, ranked or broadcast), auto-acceptance, a
//! provider's accept or decline, and the money an acceptance moves.

use super::candidates::{Candidate, CandidateReport, candidates_in};
use super::ledger::{COMMISSIONER, EntryKind, RISK_POOL, provider_account};
use super::records::{Alert, DeclineReason, FitSummary, Offer, OfferStatus, PackageStatus};
use super::{Broker, BrokerConfig, BrokerError, BrokerEvent, OfferMode};
use crate::format::{Package, Tier};
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;

impl Broker {
    /// Moves a package along the cascade: offers at the first stage with a fitting
    /// provider not yet passed, auto-accepts where a policy allows, escalates when
    /// no stage can take it. Does nothing while offers are open.
    pub(crate) fn advance(&mut self, pkg: &str, now: DateTime<Utc>, out: &mut Vec<BrokerEvent>) {
        self.advance_with(pkg, now, out, None);
    }

    /// [`Self::advance`] with the package's candidate report when the caller
    /// already has it for the current state (saves a second search).
    pub(super) fn advance_with(
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
        let order = known
            .as_ref()
            .map_or_else(|| self.stage_order(&package), |r| r.stage_order.clone());
        // After an out-of-order offer is turned down, the skipped stages get
        // their first refusal: the cascade starts again from the first stage.
        let start = current
            .filter(|_| rec.out_of_order.is_none())
            .and_then(|s| order.iter().position(|&x| x == s))
            .unwrap_or(0);
        let mut report = known.unwrap_or_else(|| {
            self.candidates_for_cascade(&package, &user, now, &order[start..], &passed)
        });
        let none_fit = |r: &CandidateReport| {
            order[start..]
                .iter()
                .all(|&st| r.at_stage(st, &passed).is_empty())
        };
        // Only the nearest teams were checked; before raising an alert, every
        // team that reaches the person is (slower, but rare and worth it).
        if none_fit(&report) && report.teams_checked >= self.config.max_teams_checked {
            let wide = BrokerConfig {
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
                Some(now),
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
                    person: Some(package.service_user.clone()),
                    ..Alert::default()
                },
            },
            out,
        );
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
            let fit = self.fit(team, &package, &user, Some(now));
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
        self.release_interim_cover(&o.package, now, out);
        self.reunite_carers(&o.package, now, out);
        // Emergency cover is paid from the pool as it is delivered, day by day
        // on the tick (`charge_delivered_cover`), not for the horizon up front.
        if provider.tier != Tier::EmergencyCover {
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
        let fit = self.fit(team, &rec.package, &user, Some(now));
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

    /// [`Self::accept`], except that an offer that no longer fits is closed
    /// (withdrawn, `no_longer_fits`) and the cascade moves on at once, so an
    /// urgent package does not wait out the window. The caller tells the
    /// provider from the withdrawal in the events.
    pub fn accept_or_close(
        &mut self,
        offer: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<BrokerEvent>, BrokerError> {
        match self.accept(offer, now) {
            Err(BrokerError::NoLongerFits { .. }) => {
                let package = self.offers[offer].package.clone();
                let mut out = Vec::new();
                self.emit(
                    BrokerEvent::OfferWithdrawn {
                        at: now,
                        offer: offer.to_string(),
                        why: "no_longer_fits".into(),
                    },
                    &mut out,
                );
                self.advance(&package, now, &mut out);
                Ok(out)
            }
            other => other,
        }
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
}
