//! What an escalated package's next retry needs to look at again.
//!
//! An escalated package is checked again every `escalation_retry_min`. A team
//! whose rota and people have not changed since the last check gives the same
//! answer, so only the teams some event touched since are fit-checked again
//! (all of them after a roster, policy or horizon change). Without this a
//! county in crisis (a hundred packages escalated) spent nearly all its time
//! re-checking unchanged teams every half hour.
//!
//! Time passing alone does not trigger a check: it only freezes more of a
//! team's rota (less room) and closes the windows of the package's earliest
//! visits, and the horizon's daily roll re-checks everything anyway.

use super::candidates::Touch;
use super::{Broker, BrokerEvent};
use std::collections::{BTreeSet, HashMap};

/// Which events touched which teams, and each escalated package's last check.
/// Kept in memory only: after a restart the first retry checks every team.
#[derive(Debug, Clone, Default)]
pub(crate) struct RetryMemo {
    /// `events_applied` after the last event that touched every team.
    everything_at: u64,
    /// `events_applied` after the last event that touched each team.
    team_at: HashMap<String, u64>,
    /// Per escalated package, its last check that found no team to reopen it.
    checks: HashMap<String, LastCheck>,
}

/// An escalated package's last check that did not reopen it.
#[derive(Debug, Clone)]
struct LastCheck {
    /// `events_applied` when it was made.
    at_event: u64,
    /// The teams it fit-checked.
    teams: Vec<String>,
    /// The providers the package had passed by (which decide "reopen").
    passed_by: BTreeSet<String>,
}

/// What a retry must do for one package.
#[derive(Debug, PartialEq)]
pub(crate) enum RetryScope {
    /// Nothing it depends on changed since its last check: same answer.
    Unchanged,
    /// Only these teams changed: check them, the others still do not reopen it.
    Teams(Vec<String>),
    /// Search from scratch.
    Everything,
}

impl RetryMemo {
    /// Records which teams `e` touches; called before each event is applied.
    pub(crate) fn note(&mut self, touch: Touch, events_applied_after: u64) {
        match touch {
            Touch::Nothing => {}
            Touch::Team(t) => {
                self.team_at.insert(t, events_applied_after);
            }
            Touch::Everything => {
                self.everything_at = events_applied_after;
                self.team_at.clear();
            }
        }
    }

    /// What the next retry of `package` must check.
    pub(crate) fn scope(&self, package: &str, passed_by: &BTreeSet<String>) -> RetryScope {
        let Some(last) = self.checks.get(package) else {
            return RetryScope::Everything;
        };
        if self.everything_at > last.at_event || &last.passed_by != passed_by {
            return RetryScope::Everything;
        }
        let changed: Vec<String> = last
            .teams
            .iter()
            .filter(|t| self.team_at.get(*t).is_some_and(|&at| at > last.at_event))
            .cloned()
            .collect();
        if changed.is_empty() {
            RetryScope::Unchanged
        } else {
            RetryScope::Teams(changed)
        }
    }

    /// Records a check of `package` at `at_event` that did not reopen it.
    pub(crate) fn checked(
        &mut self,
        package: &str,
        at_event: u64,
        teams: Vec<String>,
        passed_by: BTreeSet<String>,
    ) {
        self.checks.insert(
            package.to_string(),
            LastCheck {
                at_event,
                teams,
                passed_by,
            },
        );
    }

    /// Refreshes the last check's event count (a partial check found nothing).
    pub(crate) fn rechecked(&mut self, package: &str, at_event: u64) {
        if let Some(c) = self.checks.get_mut(package) {
            c.at_event = at_event;
        }
    }

    /// Keeps the last checks of the packages `keep` says (the escalated ones).
    pub(crate) fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.checks.retain(|p, _| keep(p));
    }

    /// Forgets a package's last check (it reopened, or is no longer escalated).
    pub(crate) fn forget(&mut self, package: &str) {
        self.checks.remove(package);
    }
}

impl Broker {
    /// Notes which teams an event is about to change (see [`RetryMemo`]).
    pub(crate) fn note_touch(&mut self, e: &BrokerEvent) {
        if let BrokerEvent::Escalated { alert } = e {
            // Escalated (again): its cascade changed, so the next retry looks at everything.
            self.retry_memo.forget(&alert.package);
        }
        let touch = self.touches(e);
        let after = self.events_applied + 1;
        self.retry_memo.note(touch, after);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::records::{OfferStatus, PackageStatus};
    use crate::broker::tests::{t0, world};
    use crate::broker::{BrokerConfig, DeclineReason};
    use crate::format::{FrameworkStatus, Tier};
    use chrono::Duration;

    /// A busy day and a half with emergency cover suspended, so packages
    /// escalate and are retried while teams fill: at every tick, a broker that
    /// remembers its last checks decides exactly as one that checks everything.
    #[test]
    fn retries_decide_as_a_broker_that_checks_every_team_again() {
        let mut w = world(11, BrokerConfig::default());
        let cover = (w.broker.roster.providers.iter())
            .find(|p| p.tier == Tier::EmergencyCover)
            .map(|p| p.id.clone())
            .expect("emergency cover");
        let mut t = t0();
        w.run(|b| b.set_provider_status(&cover, FrameworkStatus::Suspended, Vec::new(), t));
        let referrals = w.referrals.clone();
        let (mut retried, mut reopened_seen) = (0, 0);
        for step in 0..(36 * 12) {
            t += Duration::minutes(5);
            if step == 300 {
                // Cover returns: every escalated package is checked again and reopens.
                w.run(|b| b.set_provider_status(&cover, FrameworkStatus::Active, Vec::new(), t));
            }
            if step % 3 == 0
                && let Some((p, u)) = referrals.get(step / 3)
            {
                w.run(|b| b.refer(p.clone(), u.clone(), t));
            }
            // Providers answer after 20 minutes: every third offer accepted, the others declined.
            let answer: Vec<(String, bool)> = (w.broker.offers.values())
                .filter(|o| o.status == OfferStatus::Open && t - o.made_at >= Duration::minutes(20))
                .map(|o| {
                    (
                        o.id.clone(),
                        o.id.bytes().map(u32::from).sum::<u32>() % 3 == 0,
                    )
                })
                .collect();
            for (offer, accept) in answer {
                if w.broker.offers[&offer].status != OfferStatus::Open {
                    continue; // withdrawn: another provider took the package
                }
                w.run(|b| {
                    if accept {
                        b.accept(&offer, t)
                    } else {
                        b.decline(&offer, DeclineReason::NoCapacity, None, t)
                    }
                });
            }
            let mut fresh = w.broker.clone();
            fresh.retry_memo = RetryMemo::default();
            let expected = fresh.tick(t);
            let got = w.run(|b| Ok(b.tick(t)));
            assert_eq!(got, expected, "tick at {t}");
            for e in &got {
                if let BrokerEvent::EscalationRetried { reopened, .. } = e {
                    retried += 1;
                    reopened_seen += usize::from(*reopened);
                }
            }
        }
        let filled = (w.broker.packages.values())
            .filter(|r| r.status == PackageStatus::Filled)
            .count();
        assert!(
            retried > 100 && reopened_seen > 0,
            "retried {retried}, reopened {reopened_seen}"
        );
        eprintln!("retries {retried}, reopened {reopened_seen}, filled {filled}");
        w.assert_consistent();
    }

    /// With emergency cover suspended and every team full for a package, its
    /// retries come 30, 60, 120 then every 120 minutes with a 120-minute
    /// backoff cap, and every 30 minutes without one.
    #[test]
    fn fruitless_retries_back_off_up_to_the_cap() {
        let gaps = |backoff: u32| {
            let config = BrokerConfig {
                escalation_retry_backoff_max_min: backoff,
                ..BrokerConfig::default()
            };
            let mut w = world(11, config);
            let mut t = t0();
            for p in w.broker.roster.providers.clone() {
                w.run(|b| b.set_provider_status(&p.id, FrameworkStatus::Suspended, Vec::new(), t));
            }
            let (p, u) = w.referrals[0].clone();
            w.run(|b| b.refer(p.clone(), u, t));
            assert_eq!(w.broker.packages[&p.id].status, PackageStatus::Escalated);
            let escalated_at = t;
            let mut at = Vec::new();
            for _ in 0..(8 * 12) {
                t += Duration::minutes(5);
                let out = w.run(|b| Ok(b.tick(t)));
                for e in &out {
                    if let BrokerEvent::EscalationRetried {
                        package, reopened, ..
                    } = e
                    {
                        assert!(!reopened && package == &p.id);
                        at.push(t);
                    }
                }
            }
            w.assert_consistent();
            let mut last = escalated_at;
            at.into_iter()
                .map(|x| {
                    let gap = (x - last).num_minutes();
                    last = x;
                    gap
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(gaps(120), vec![30, 60, 120, 120, 120]);
        assert_eq!(gaps(0), vec![30; 16]);
    }

    fn passed() -> BTreeSet<String> {
        ["p1".to_string()].into()
    }

    #[test]
    fn only_teams_touched_after_the_last_check_are_checked_again() {
        let mut m = RetryMemo::default();
        assert_eq!(m.scope("pkg", &passed()), RetryScope::Everything);
        m.note(Touch::Team("a".into()), 3);
        m.checked("pkg", 5, vec!["a".into(), "b".into()], passed());
        assert_eq!(m.scope("pkg", &passed()), RetryScope::Unchanged);
        m.note(Touch::Team("c".into()), 6);
        assert_eq!(m.scope("pkg", &passed()), RetryScope::Unchanged);
        m.note(Touch::Team("b".into()), 7);
        assert_eq!(
            m.scope("pkg", &passed()),
            RetryScope::Teams(vec!["b".into()])
        );
        m.rechecked("pkg", 8);
        assert_eq!(m.scope("pkg", &passed()), RetryScope::Unchanged);
        assert_eq!(m.scope("pkg", &BTreeSet::new()), RetryScope::Everything);
        m.note(Touch::Everything, 9);
        assert_eq!(m.scope("pkg", &passed()), RetryScope::Everything);
        m.checked("pkg", 9, vec!["a".into()], passed());
        assert_eq!(m.scope("pkg", &passed()), RetryScope::Unchanged);
        m.forget("pkg");
        assert_eq!(m.scope("pkg", &passed()), RetryScope::Everything);
    }
}
