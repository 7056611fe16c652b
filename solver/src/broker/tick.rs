//! Time passing: offers expire and their packages move on, escalated packages
//! are tried again, unfilled packages accrue liquidated damages, and the
//! financial year closes.

use super::ledger::{
    COMMISSIONER, EntryKind, QUALITY_FUND, RISK_POOL, provider_account, split_pence,
};
use super::records::{OfferStatus, PackageStatus};
use super::retry::RetryScope;
use super::{Broker, BrokerEvent, DamagesSharing};
use crate::format::{FrameworkStatus, Tier};
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeSet;

impl Broker {
    /// Time passes: expired offers move packages on; packages unfilled past the
    /// damages threshold accrue liquidated damages shared by Tier 1 providers.
    /// First of all the horizon rolls when the local date has moved on (see
    /// `broker/horizon.rs`).
    pub fn tick(&mut self, now: DateTime<Utc>) -> Vec<BrokerEvent> {
        self.set_now(now);
        let mut out = Vec::new();
        self.roll_horizon(now, &mut out);
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
        self.watch(now, &mut out);
        self.charge_delivered_cover(now, &mut out);
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
        if !self
            .packages
            .values()
            .any(|r| r.status == PackageStatus::Escalated)
        {
            return;
        }
        let packages = &self.packages;
        self.retry_memo.retain(|p| {
            packages
                .get(p)
                .is_some_and(|r| r.status == PackageStatus::Escalated)
        });
        // Each package's last alert, in one pass (not a search per package per tick).
        let mut last_alert: std::collections::HashMap<&str, DateTime<Utc>> =
            std::collections::HashMap::new();
        for a in &self.alerts {
            last_alert.insert(a.package.as_str(), a.at);
        }
        // The later of the last retry and the last alert (a reopened package
        // may have been escalated again since); the longest waiting first.
        let cap = Duration::minutes(i64::from(self.config.escalation_retry_backoff_max_min));
        let wait = |fruitless: u32| {
            if cap.is_zero() {
                return every;
            }
            let doubled = every * 2_i32.saturating_pow(fruitless.min(20));
            doubled.min(cap)
        };
        let mut due: Vec<(Option<DateTime<Utc>>, String)> = self
            .packages
            .values()
            .filter(|r| r.status == PackageStatus::Escalated)
            .filter_map(|r| {
                let alerted = last_alert.get(r.package.id.as_str()).copied();
                let last = r.last_retry_at.max(alerted);
                last.is_none_or(|t| now - t >= wait(r.fruitless_retries))
                    .then(|| (last, r.package.id.clone()))
            })
            .collect();
        due.sort();
        let mut budget = self.config.escalation_retries_per_tick;
        for (_, pkg) in due {
            let Some(rec) = self.packages.get(&pkg) else {
                continue;
            };
            let Some(user) = self.service_user(&rec.package.service_user).cloned() else {
                continue;
            };
            let passed = rec.passed_by.clone();
            let package = rec.package.clone();
            let checked_at = self.events_applied;
            // Only what changed since the last check is checked again (see
            // `retry.rs`), and only so many packages a tick.
            let scope = self.retry_memo.scope(&pkg, &passed);
            if scope != RetryScope::Unchanged {
                if budget == 0 {
                    continue;
                }
                budget -= 1;
            }
            let report = match scope {
                RetryScope::Unchanged => None,
                RetryScope::Teams(teams) => self
                    .any_team_reopens(&package, &user, &teams, &passed)
                    .then(|| self.candidates(&package, &user)),
                RetryScope::Everything => Some(self.candidates(&package, &user)),
            };
            let reopened = report.as_ref().is_some_and(|r| {
                r.stage_order
                    .iter()
                    .any(|&st| !r.at_stage(st, &passed).is_empty())
            });
            match (&report, reopened) {
                (_, true) => self.retry_memo.forget(&pkg),
                (Some(r), false) => {
                    let teams = (r.fitting.iter().chain(&r.not_fitting))
                        .map(|c| c.fit.team.clone())
                        .collect();
                    self.retry_memo.checked(&pkg, checked_at, teams, passed);
                }
                (None, false) => self.retry_memo.rechecked(&pkg, checked_at),
            }
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
                self.advance_with(&pkg, now, out, report);
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
                    && r.brokering_from.is_none()
                    && now - r.damages_from.unwrap_or(r.referred_at) >= threshold
            })
            .map(|r| {
                let from = r.damages_from.unwrap_or(r.referred_at);
                (r.package.id.clone(), from + threshold)
            })
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
}
