//! Headline numbers of a generated scenario: what benchmarks and reports quote.

use super::Scenario;
use super::calendar::{minutes, selector_applies};
use crate::format::Package;
use chrono::{Duration, NaiveDate};
use serde::Serialize;

/// Counts and minutes of a [`Scenario`] over its horizon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ScenarioStats {
    /// Providers.
    pub providers: usize,
    /// Teams.
    pub teams: usize,
    /// Carers.
    pub carers: usize,
    /// Service users, referred ones included.
    pub service_users: usize,
    /// Active packages.
    pub packages: usize,
    /// Concrete visits of the active packages over the horizon.
    pub visits: usize,
    /// Of those, visits needing two carers.
    pub double_handed_visits: usize,
    /// Carer-minutes of those visits (duration times carers required).
    pub visit_carer_minutes: u64,
    /// Shift minutes over the horizon, days lost to whole-day absences removed.
    pub shift_minutes: u64,
    /// Referrals in the stream.
    pub referrals: usize,
    /// Concrete visits of the referrals over the horizon.
    pub referral_visits: usize,
}

pub(super) fn stats(s: &Scenario) -> ScenarioStats {
    let r = &s.request;
    let start = NaiveDate::parse_from_str(&r.horizon.start_date, "%Y-%m-%d").unwrap_or_default();
    let dates: Vec<NaiveDate> = (0..r.horizon.days)
        .map(|i| start + Duration::days(i64::from(i)))
        .collect();
    let mut visits = 0;
    let mut double = 0;
    let mut carer_min = 0u64;
    for p in &r.packages {
        for (v, n) in concrete(p, &dates) {
            visits += n;
            if v.carers_required > 1 {
                double += n;
            }
            carer_min += u64::from(v.duration_min * v.carers_required) * n as u64;
        }
    }
    let referral_visits = s
        .referrals
        .iter()
        .flat_map(|p| concrete(p, &dates))
        .map(|(_, n)| n)
        .sum();

    let mut shift_min = 0u64;
    for c in &r.carers {
        let off: Vec<(NaiveDate, NaiveDate)> = c
            .absences
            .iter()
            .filter(|a| a.from.get(11..16) == Some("00:00"))
            .filter_map(|a| Some((day_of(&a.from)?, day_of(&a.to)?)))
            .collect();
        for d in &dates {
            if off.iter().any(|(f, t)| f <= d && d < t) {
                continue;
            }
            for sh in c.shifts.iter().filter(|sh| selector_applies(&sh.days, *d)) {
                if let (Some(a), Some(b)) = (minutes(&sh.start), minutes(&sh.end)) {
                    shift_min += u64::from(if b > a { b - a } else { b + 1440 - a });
                }
            }
        }
    }

    ScenarioStats {
        providers: r.providers.len(),
        teams: r.teams.len(),
        carers: r.carers.len(),
        service_users: r.service_users.len(),
        packages: r.packages.len(),
        visits,
        double_handed_visits: double,
        visit_carer_minutes: carer_min,
        shift_minutes: shift_min,
        referrals: s.referrals.len(),
        referral_visits,
    }
}

fn day_of(instant: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(instant.get(..10)?, "%Y-%m-%d").ok()
}

/// Each visit pattern with the number of horizon days it falls on (inside the
/// package's start and end dates).
fn concrete<'a>(
    p: &'a Package,
    dates: &[NaiveDate],
) -> Vec<(&'a crate::format::VisitPattern, usize)> {
    let parse = |s: &Option<String>| {
        s.as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    };
    let (from, to) = (parse(&p.start_date), parse(&p.end_date));
    p.visits
        .iter()
        .map(|v| {
            let n = dates
                .iter()
                .filter(|d| from.is_none_or(|f| **d >= f) && to.is_none_or(|t| **d <= t))
                .filter(|d| selector_applies(&v.days, **d))
                .count();
            (v, n)
        })
        .collect()
}
