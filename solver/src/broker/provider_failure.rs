//! Provider failure: a provider suspended or failed gets no new offers; a
//! failed provider's packages are released (people's carers remembered),
//! carers transferred, and every released package re-brokered together.
//!
//! Transferred carers keep their people where the cap allows: a released
//! package whose carers moved to another provider's team is offered to that
//! team first (out of tier order only with the recorded reason
//! `continuity_with_existing_carer`, and never where policy forbids it), and
//! once a team fills it, its visits go back to the person's former carers
//! where the rota and the continuity cap allow ([`Broker::reunite_carers`]).

use super::candidates::Candidate;
use super::county::area_label;
use super::overrides::OverrideRequest;
use super::records::{CarerTransfer, OfferStatus, OverrideReason, PackageStatus};
use super::{Broker, BrokerError, BrokerEvent};
use crate::format::{ContractTerms, FrameworkStatus, Package, Rota, ServiceUser, Urgency};
use chrono::{DateTime, Utc};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// Carers of each visit pattern (`package/pattern`) of `package` on `rota`:
/// the set that made most of its occurrences (the earliest such on a tie).
pub(crate) fn former_carers(rota: &Rota, package: &str) -> BTreeMap<String, Vec<String>> {
    let mut by_visit: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for r in &rota.routes {
        for s in r
            .stops
            .iter()
            .filter(|s| crate::format::is_visit_of(&s.visit, package))
        {
            by_visit.entry(&s.visit).or_default().push(r.carer.clone());
        }
    }
    let mut counts: BTreeMap<String, BTreeMap<Vec<String>, usize>> = BTreeMap::new();
    for (visit, mut carers) in by_visit {
        carers.sort();
        let Some((pattern, _)) = visit.rsplit_once('@') else {
            continue;
        };
        *counts
            .entry(pattern.to_string())
            .or_default()
            .entry(carers)
            .or_default() += 1;
    }
    counts
        .into_iter()
        .filter_map(|(pattern, sets)| {
            let most = *sets.values().max()?;
            let carers = sets.into_iter().find(|(_, n)| *n == most)?.0;
            Some((pattern, carers))
        })
        .collect()
}

impl Broker {
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
        self.set_provider_status_prepared(provider, status, transfers, now, None)
    }

    /// The searches a provider failure's re-brokering needs, done on this
    /// broker as a snapshot before the command takes the writer (for a large
    /// provider, hundreds of packages each fit-checked against many teams):
    /// the release is applied to a copy and the released packages searched
    /// there. `None` when nothing is re-brokered or the command is invalid
    /// (the writer says why).
    pub fn prepare_provider_status(
        &self,
        provider: &str,
        status: FrameworkStatus,
        transfers: &[CarerTransfer],
        now: DateTime<Utc>,
    ) -> Option<PreparedRelease> {
        if status != FrameworkStatus::Failed {
            return None;
        }
        self.validate_status_change(provider, transfers).ok()?;
        let mut copy = self.clone();
        copy.set_now(now);
        let mut out = Vec::new();
        let release = copy.release(provider, status, transfers, now, &mut out);
        if release.rebroker.is_empty() {
            return None;
        }
        let reports = release
            .rebroker
            .par_iter()
            .filter_map(|id| {
                let rec = copy.packages.get(id)?;
                let user = copy.service_user(&rec.package.service_user)?;
                let order = copy.stage_order(&rec.package);
                let report = copy.batch_search(&rec.package, user, order, Some(now));
                Some((id.clone(), report))
            })
            .collect();
        Some(PreparedRelease {
            batch: super::PreparedBatch {
                seen: self.events_applied,
                at: now,
                reports,
                since: None,
            },
            released: release.fingerprint(&out),
        })
    }

    /// [`Broker::set_provider_status`] re-brokering with searches prepared on
    /// a snapshot ([`Broker::prepare_provider_status`]): used when this
    /// broker releases the same packages with the same carers remembered, the
    /// teams changed by events committed since fit-checked again; searched
    /// here otherwise.
    pub fn set_provider_status_prepared(
        &mut self,
        provider: &str,
        status: FrameworkStatus,
        transfers: Vec<CarerTransfer>,
        now: DateTime<Utc>,
        prepared: Option<PreparedRelease>,
    ) -> Result<Vec<BrokerEvent>, BrokerError> {
        self.validate_status_change(provider, &transfers)?;
        self.set_now(now);
        // What changed since the snapshot, read before this command's own events.
        let known = prepared.map(|p| {
            let b = p.batch;
            let changed = self.changed_since(b.seen, b.at, &b.since, now);
            (
                p.released,
                super::batch::KnownReports {
                    changed,
                    reports: b.reports,
                },
            )
        });
        let mut out = Vec::new();
        let release = self.release(provider, status, &transfers, now, &mut out);
        let known = known
            .filter(|(released, _)| *released == release.fingerprint(&out))
            .map(|(_, k)| k);
        if !release.rebroker.is_empty() {
            super::batch::allocate_with(self, &release.rebroker, now, &mut out, known);
        }
        // People whose packages no provider took at once keep their visits of
        // the cover window, by emergency cover, until one does.
        let mut planned = release.planned;
        planned.sort();
        planned.dedup();
        let waiting: Vec<super::cover::ToCover<'_>> = planned
            .iter()
            .filter(|(v, _, _)| {
                let pkg = crate::format::visit_package(v).unwrap_or_default();
                self.packages
                    .get(pkg)
                    .is_some_and(|r| r.status != PackageStatus::Filled)
            })
            .map(|(visit, person, start)| super::cover::ToCover {
                visit,
                person,
                start,
            })
            .collect();
        self.interim_cover(&waiting, now, &mut out);
        for pkg in release.affected {
            self.advance(&pkg, now, &mut out);
        }
        Ok(out)
    }

    /// Why a status change cannot be made, before anything is changed.
    fn validate_status_change(
        &self,
        provider: &str,
        transfers: &[CarerTransfer],
    ) -> Result<(), BrokerError> {
        if !self.index.provider_pos.contains_key(provider) {
            return Err(BrokerError::UnknownProvider(provider.to_string()));
        }
        for t in transfers {
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
        Ok(())
    }

    /// The status change itself, up to re-brokering: open offers withdrawn; a
    /// failed provider's packages released and referred again, carers
    /// transferred, and packages whose carers moved offered to that team.
    fn release(
        &mut self,
        provider: &str,
        status: FrameworkStatus,
        transfers: &[CarerTransfer],
        now: DateTime<Utc>,
        out: &mut Vec<BrokerEvent>,
    ) -> Release {
        self.emit(
            BrokerEvent::ProviderStatusChanged {
                at: now,
                provider: provider.to_string(),
                status,
            },
            out,
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
                    out,
                );
                affected.insert(pkg);
            }
        }
        let mut released = Vec::new();
        let mut planned: Vec<(String, String, String)> = Vec::new();
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
                    out,
                );
            }
            released.extend(held);
            released.sort();
            released.dedup();
            for (pkg, team) in &released {
                // The visits as planned, for interim cover until it is placed again.
                if let Some(r) = self.rotas.get(team) {
                    for rt in &r.routes {
                        for st in rt
                            .stops
                            .iter()
                            .filter(|s| crate::format::is_visit_of(&s.visit, pkg))
                        {
                            planned.push((
                                st.visit.clone(),
                                st.service_user.clone(),
                                st.start.clone(),
                            ));
                        }
                    }
                }
                let known: Vec<String> = self
                    .rotas
                    .get(team)
                    .map(|r| {
                        let mut c: Vec<String> = r
                            .routes
                            .iter()
                            .filter(|rt| {
                                rt.stops
                                    .iter()
                                    .any(|s| crate::format::is_visit_of(&s.visit, pkg))
                            })
                            .map(|rt| rt.carer.clone())
                            .collect();
                        c.sort();
                        c.dedup();
                        c
                    })
                    .unwrap_or_default();
                let former = self
                    .rotas
                    .get(team)
                    .map(|r| former_carers(r, pkg))
                    .unwrap_or_default();
                self.emit(
                    BrokerEvent::PackageReleased {
                        at: now,
                        package: pkg.clone(),
                        why: "provider_failed".into(),
                        known_carers: known,
                        former_carers: former,
                    },
                    out,
                );
            }
            for t in transfers {
                self.emit(
                    BrokerEvent::CarerTransferred {
                        at: now,
                        transfer: t.clone(),
                    },
                    out,
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
                    received_at: None,
                },
                out,
            );
            rebroker.push(pkg.clone());
        }
        // The team that took a person's carers is asked first.
        if status == FrameworkStatus::Failed {
            rebroker.retain(|pkg| !self.offer_to_carers_team(pkg, provider, transfers, now, out));
        }
        Release {
            rebroker,
            planned,
            affected,
        }
    }

    /// Offers a released package to the team most of its former carers were
    /// transferred to, when that team fits it; `false` leaves it to the batch.
    /// Skipping a fitting earlier stage is recorded as an override with reason
    /// `continuity_with_existing_carer`; where policy forbids out-of-order
    /// offers the package goes through the cascade like any other.
    fn offer_to_carers_team(
        &mut self,
        pkg: &str,
        failed: &str,
        transfers: &[CarerTransfer],
        now: DateTime<Utc>,
        out: &mut Vec<BrokerEvent>,
    ) -> bool {
        let Some(rec) = self.packages.get(pkg) else {
            return false;
        };
        let mut visits_by_team: BTreeMap<&str, (usize, BTreeSet<&str>)> = BTreeMap::new();
        for carers in rec.former_carers.values() {
            for c in carers {
                if let Some(t) = transfers.iter().find(|t| &t.carer == c) {
                    let e = visits_by_team.entry(&t.to_team).or_default();
                    e.0 += 1;
                    e.1.insert(c);
                }
            }
        }
        let Some((team, carers)) = visits_by_team
            .iter()
            .max_by(|a, b| a.1.0.cmp(&b.1.0).then(b.0.cmp(a.0)))
            .map(|(t, (_, c))| {
                (
                    t.to_string(),
                    c.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
                )
            })
        else {
            return false;
        };
        let package = rec.package.clone();
        let Some(user) = self.service_user(&package.service_user).cloned() else {
            return false;
        };
        let Some(&ti) = self.index.team_pos.get(&team) else {
            return false;
        };
        let Some(pi) = (self.roster.teams[ti].provider.as_ref())
            .and_then(|p| self.index.provider_pos.get(p).copied())
        else {
            return false;
        };
        let pr = self.roster.providers[pi].clone();
        if pr.framework_status != FrameworkStatus::Active {
            return false;
        }
        let fit = self.fit(ti, &package, &user, Some(now));
        if !fit.summary.fits {
            return false;
        }
        let why = OverrideRequest {
            reason: Some(OverrideReason::ContinuityWithExistingCarer),
            note: Some(format!(
                "carers {} moved to team `{team}` when provider `{failed}` failed",
                carers.join(", ")
            )),
            by: None,
        };
        let report = self.candidates(&package, &user);
        let Ok(skipped) = self.check_out_of_order(&report, &pr.id, &team, pr.tier, &why, now)
        else {
            return false;
        };
        if let Some(record) = skipped {
            self.emit(
                BrokerEvent::OfferOverridden {
                    package: pkg.to_string(),
                    record,
                },
                out,
            );
        }
        let c = Candidate {
            provider: pr.id.clone(),
            provider_name: pr.name.clone(),
            tier: pr.tier,
            block: matches!(pr.contract, ContractTerms::Block { .. }),
            auto_accept: pr.auto_accept.enabled,
            fit: fit.summary.clone(),
            distance_m: 0.0,
            outcome: Some(fit),
            shortlist_pos: 0,
        };
        self.offer_to(pkg, &c, pr.tier, now, out);
        true
    }
}

/// What a status change left to re-broker ([`Broker::release`]).
struct Release {
    /// Released packages to allocate together, in package order.
    rebroker: Vec<String>,
    /// Their visits as planned (visit, person, start), for interim cover.
    planned: Vec<(String, String, String)>,
    /// Packages whose open offers were withdrawn.
    affected: BTreeSet<String>,
}

/// A released package as remembered: its id, its known carers and its
/// former carers by visit pattern.
type RememberedCarers = (String, Vec<String>, BTreeMap<String, Vec<String>>);

/// The decisions of a release that searches depend on: which packages are
/// re-brokered, and each released package's carers as remembered.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleasedPackages {
    rebroker: Vec<String>,
    carers: Vec<RememberedCarers>,
}

impl Release {
    fn fingerprint(&self, events: &[BrokerEvent]) -> ReleasedPackages {
        ReleasedPackages {
            rebroker: self.rebroker.clone(),
            carers: events
                .iter()
                .filter_map(|e| match e {
                    BrokerEvent::PackageReleased {
                        package,
                        known_carers,
                        former_carers,
                        ..
                    } => Some((package.clone(), known_carers.clone(), former_carers.clone())),
                    _ => None,
                })
                .collect(),
        }
    }
}

/// A provider failure's re-brokering searched on a snapshot
/// ([`Broker::prepare_provider_status`]).
#[derive(Debug, Clone)]
pub struct PreparedRelease {
    /// The released packages' searches, made on a copy after the release.
    pub batch: super::PreparedBatch,
    /// What the copy released; the writer uses the searches only when it
    /// releases the same.
    pub released: ReleasedPackages,
}

impl super::Prepared for PreparedRelease {
    fn seen(&self) -> u64 {
        self.batch.seen
    }
    fn set_since(&mut self, since: Option<Vec<BrokerEvent>>) {
        self.batch.since = since;
    }
}

#[cfg(test)]
#[path = "continuity_tests.rs"]
mod continuity_tests;
