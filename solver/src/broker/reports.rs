//! Broker reports: fill times, offers and declines, unfilled packages,
//! capacity map and the money ledger.

use super::Broker;
use super::fit::period_of;
use super::ledger::{EntryKind, QUALITY_FUND, RISK_POOL};
use super::records::{OfferStatus, PackageStatus};
use crate::format::{Rota, Tier};
use crate::model::Problem;
use chrono::{DateTime, Utc};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;

/// Upper bounds of the fill-time histogram buckets, minutes.
pub const FILL_BUCKETS_MIN: [i64; 7] = [15, 30, 60, 90, 120, 240, 480];

/// (tier, provider, area, urgency, fill minutes) of one package.
type FillRow = (String, String, String, String, Option<f64>);

/// Fill-time figures for one group of packages.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct FillStats {
    /// Packages referred (not cancelled).
    pub referred: usize,
    /// Filled.
    pub filled: usize,
    /// Filled within 90 minutes of referral.
    pub within_90_min: usize,
    /// Filled within 4 hours.
    pub within_240_min: usize,
    /// Share of referred filled within 90 minutes (Devon Cares: 70%).
    pub share_within_90_min: f64,
    /// Share within 4 hours (Devon Cares: 97%).
    pub share_within_240_min: f64,
    /// Median fill time of filled packages, minutes.
    pub median_fill_min: Option<f64>,
    /// Count per bucket `<=15, <=30, <=60, <=90, <=120, <=240, <=480, >480` minutes.
    pub histogram: Vec<usize>,
}

/// The fill-time report.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct FillTimeReport {
    /// All packages.
    pub overall: FillStats,
    /// By tier of the accepting provider (unfilled under `unfilled`).
    pub by_tier: BTreeMap<String, FillStats>,
    /// By provider that filled.
    pub by_provider: BTreeMap<String, FillStats>,
    /// By area label.
    pub by_area: BTreeMap<String, FillStats>,
    /// By urgency.
    pub by_urgency: BTreeMap<String, FillStats>,
    /// Referral to the first checked-in visit of each package.
    pub first_delivery: FirstDeliveryStats,
}

/// Time from referral to the first delivered (checked-in) visit.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct FirstDeliveryStats {
    /// Packages with at least one checked-in visit.
    pub delivered: usize,
    /// Median minutes from referral to the first check-in.
    pub median_min: Option<f64>,
    /// Longest, minutes.
    pub max_min: Option<f64>,
}

impl FirstDeliveryStats {
    fn of(mut minutes: Vec<f64>) -> Self {
        minutes.sort_by(f64::total_cmp);
        let n = minutes.len();
        FirstDeliveryStats {
            delivered: n,
            median_min: (n > 0).then(|| {
                if n % 2 == 1 {
                    minutes[n / 2]
                } else {
                    (minutes[n / 2 - 1] + minutes[n / 2]) / 2.0
                }
            }),
            max_min: minutes.last().copied(),
        }
    }
}

fn snake<T: std::fmt::Debug>(t: T) -> String {
    let s = format!("{t:?}");
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if ch.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.extend(ch.to_lowercase());
    }
    out.replace("tier_1", "tier1")
        .replace("tier_2", "tier2")
        .replace("tier_3", "tier3")
}

/// Minutes from referral to fill.
pub fn fill_minutes(filled: DateTime<Utc>, referred: DateTime<Utc>) -> f64 {
    (filled - referred).num_seconds() as f64 / 60.0
}

fn stats(times: &[Option<f64>]) -> FillStats {
    let mut s = FillStats {
        referred: times.len(),
        histogram: vec![0; FILL_BUCKETS_MIN.len() + 1],
        ..Default::default()
    };
    let mut filled: Vec<f64> = times.iter().flatten().copied().collect();
    filled.sort_by(f64::total_cmp);
    s.filled = filled.len();
    for &t in &filled {
        if t <= 90.0 {
            s.within_90_min += 1;
        }
        if t <= 240.0 {
            s.within_240_min += 1;
        }
        let b = FILL_BUCKETS_MIN
            .iter()
            .position(|&b| t <= b as f64)
            .unwrap_or(FILL_BUCKETS_MIN.len());
        s.histogram[b] += 1;
    }
    if s.referred > 0 {
        s.share_within_90_min = s.within_90_min as f64 / s.referred as f64;
        s.share_within_240_min = s.within_240_min as f64 / s.referred as f64;
    }
    if !filled.is_empty() {
        let n = filled.len();
        s.median_fill_min = Some(if n % 2 == 1 {
            filled[n / 2]
        } else {
            (filled[n / 2 - 1] + filled[n / 2]) / 2.0
        });
    }
    s
}

/// One declining/accepting provider's offer record.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ProviderOffers {
    /// Offers made.
    pub offered: usize,
    /// Accepted.
    pub accepted: usize,
    /// Declined.
    pub declined: usize,
    /// Expired unanswered.
    pub expired: usize,
    /// Withdrawn.
    pub withdrawn: usize,
    /// Declines by reason code.
    pub declines_by_reason: BTreeMap<String, usize>,
    /// Mean care minutes of accepted packages.
    pub mean_accepted_care_min: Option<f64>,
    /// Mean care minutes of declined packages (much smaller than accepted ones
    /// hints at cherry-picking).
    pub mean_declined_care_min: Option<f64>,
}

/// Offers, acceptances and declines.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct OffersReport {
    /// All providers together.
    pub overall: ProviderOffers,
    /// Per provider.
    pub by_provider: BTreeMap<String, ProviderOffers>,
}

/// An unfilled package.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UnfilledPackage {
    /// Package id.
    pub package: String,
    /// `open` or `escalated`.
    pub status: PackageStatus,
    /// Urgency.
    pub urgency: String,
    /// Minutes since referral.
    pub age_min: f64,
    /// Stage now open.
    pub stage: Option<Tier>,
    /// Open offers.
    pub open_offers: usize,
    /// Area label.
    pub area: String,
    /// Delayed-transfer-of-care reason for the hospital's returns, for people
    /// waiting in hospital for this package (`awaiting_home_care_package`).
    pub delay_reason: Option<String>,
}

/// Named periods of a day (the fit check's and batch allocation's periods):
/// (name, from, to).
pub const PERIODS: [(&str, &str, &str); 4] = [
    ("morning", "00:00", "10:00"),
    ("midday", "10:00", "14:00"),
    ("afternoon", "14:00", "18:00"),
    ("evening", "18:00", "24:00"),
];

/// Capacity of one period of one day in an area.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct PeriodCapacity {
    /// `morning`, `midday`, `afternoon` or `evening`.
    pub period: &'static str,
    /// Local time the period starts, `HH:MM`.
    pub from: &'static str,
    /// Local time it ends, `HH:MM`.
    pub to: &'static str,
    /// Carer-hours on shift not taken by planned visits or the travel between
    /// them (each team's own; a full team lends nothing to another).
    pub spare_carer_hours: f64,
    /// Care hours the waiting packages ask for (double-handed count twice).
    pub demand_hours: f64,
    /// Demand the spare hours do not cover.
    pub shortfall_hours: f64,
}

/// Capacity of one day in an area.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct DayCapacity {
    /// Spare carer-hours over the day (from now on, for today).
    pub spare_carer_hours: f64,
    /// Care hours the waiting packages ask for that day.
    pub demand_hours: f64,
    /// Sum of the periods' shortfalls.
    pub shortfall_hours: f64,
    /// The four periods, in order.
    pub periods: Vec<PeriodCapacity>,
}

/// Spare capacity of one area over the future part of the horizon.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct AreaCapacity {
    /// Teams counted.
    pub teams: usize,
    /// By local date (`YYYY-MM-DD`), from today to the horizon's end.
    pub days: BTreeMap<String, DayCapacity>,
    /// Spare carer-hours over the future part of the horizon.
    pub total_spare_hours: f64,
    /// Care hours the waiting packages ask for over the same days.
    pub demand_hours: f64,
    /// Carer-hours a week of the packages still waiting in this area.
    pub unfilled_demand_hours: f64,
    /// Demand not covered, summed over days and periods (spare time in the
    /// morning does not cover an evening visit).
    pub shortfall_hours: f64,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Carer-hours a week a package asks for (double-handed visits count twice).
pub fn care_hours_per_week(package: &crate::format::Package) -> f64 {
    package
        .visits
        .iter()
        .map(|v| {
            let days: u32 = v
                .days
                .iter()
                .map(|d| d.selector().map_or(1, |s| s.days_per_week()))
                .sum::<u32>()
                .min(7);
            f64::from(days * v.duration_min * v.carers_required.max(1)) / 60.0
        })
        .sum()
}

/// Ledger summary.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct LedgerReport {
    /// Balances by account, pence.
    pub balances: BTreeMap<String, i64>,
    /// Risk pool balance, pence.
    pub risk_pool_pence: i64,
    /// Quality improvement fund, pence.
    pub quality_fund_pence: i64,
    /// Totals by entry kind, pence.
    pub totals_by_kind: BTreeMap<String, i64>,
    /// Liquidated damages charged per provider, pence.
    pub damages_by_provider: BTreeMap<String, i64>,
    /// Sum of all balances (always 0).
    pub trial_balance: i64,
    /// Entries posted.
    pub entries: usize,
}

impl Broker {
    /// Fill times against the Devon Cares marks (70% within 1.5 h, 97% within 4 h).
    pub fn fill_time_report(&self) -> FillTimeReport {
        let mut rows: Vec<FillRow> = Vec::new();
        for r in self.packages.values() {
            if r.status == PackageStatus::Cancelled
                || r.stages_tried.is_empty()
                    && r.status == PackageStatus::Filled
                    && r.filled_tier.is_none()
            {
                // Cancelled, or adopted from the starting county (never brokered here).
                continue;
            }
            let t = r.filled_at.map(|f| fill_minutes(f, r.referred_at));
            let tier = r.filled_tier.map_or_else(|| "unfilled".to_string(), snake);
            let provider = r.provider.clone().unwrap_or_else(|| "unfilled".into());
            rows.push((tier, provider, r.area.clone(), snake(r.package.urgency), t));
        }
        let group = |key: &dyn Fn(&FillRow) -> String| {
            let mut m: BTreeMap<String, Vec<Option<f64>>> = BTreeMap::new();
            for row in &rows {
                m.entry(key(row)).or_default().push(row.4);
            }
            m.into_iter()
                .map(|(k, v)| (k, stats(&v)))
                .collect::<BTreeMap<_, _>>()
        };
        FillTimeReport {
            overall: stats(&rows.iter().map(|r| r.4).collect::<Vec<_>>()),
            by_tier: group(&|r| r.0.clone()),
            by_provider: group(&|r| r.1.clone()),
            by_area: group(&|r| r.2.clone()),
            by_urgency: group(&|r| r.3.clone()),
            first_delivery: FirstDeliveryStats::of(
                self.first_delivery_minutes().into_values().collect(),
            ),
        }
    }

    /// Offers by provider with decline reasons.
    pub fn offers_report(&self) -> OffersReport {
        let mut rep = OffersReport::default();
        let mut sizes: BTreeMap<String, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
        for o in self.offers.values() {
            for key in [None, Some(o.provider.clone())] {
                let e = match &key {
                    None => &mut rep.overall,
                    Some(p) => rep.by_provider.entry(p.clone()).or_default(),
                };
                e.offered += 1;
                match o.status {
                    OfferStatus::Accepted => e.accepted += 1,
                    OfferStatus::Declined => {
                        e.declined += 1;
                        let code = o.decline_reason.map_or("other", |r| r.code());
                        *e.declines_by_reason.entry(code.to_string()).or_default() += 1;
                    }
                    OfferStatus::Expired => e.expired += 1,
                    OfferStatus::Withdrawn => e.withdrawn += 1,
                    OfferStatus::Open => {}
                }
                let s = sizes.entry(key.unwrap_or_default()).or_default();
                match o.status {
                    OfferStatus::Accepted => s.0.push(o.fit.care_min as f64),
                    OfferStatus::Declined => s.1.push(o.fit.care_min as f64),
                    _ => {}
                }
            }
        }
        let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
        for (k, (acc, dec)) in &sizes {
            let e = if k.is_empty() {
                &mut rep.overall
            } else {
                rep.by_provider.entry(k.clone()).or_default()
            };
            e.mean_accepted_care_min = mean(acc);
            e.mean_declined_care_min = mean(dec);
        }
        rep
    }

    /// Packages still waiting, oldest first.
    pub fn unfilled_report(&self, now: DateTime<Utc>) -> Vec<UnfilledPackage> {
        let mut v: Vec<UnfilledPackage> = self
            .packages
            .values()
            .filter(|r| matches!(r.status, PackageStatus::Open | PackageStatus::Escalated))
            .map(|r| UnfilledPackage {
                package: r.package.id.clone(),
                status: r.status,
                urgency: snake(r.package.urgency),
                age_min: fill_minutes(now, r.referred_at),
                stage: r.stage,
                open_offers: self
                    .offers
                    .values()
                    .filter(|o| o.package == r.package.id && o.status == OfferStatus::Open)
                    .count(),
                area: r.area.clone(),
                delay_reason: (r.package.urgency == crate::format::Urgency::HospitalDischarge)
                    .then(|| "awaiting_home_care_package".to_string()),
            })
            .collect();
        v.sort_by(|a, b| {
            b.age_min
                .total_cmp(&a.age_min)
                .then(a.package.cmp(&b.package))
        });
        v
    }

    /// [`Broker::capacity_map_at`] at the last command's `now` (the horizon's
    /// start when none yet).
    pub fn capacity_map(&self) -> BTreeMap<String, AreaCapacity> {
        let now = self.now.unwrap_or_else(|| {
            super::horizon::horizon_dates(&self.roster.horizon).map_or(
                DateTime::<Utc>::MIN_UTC,
                |(start, _)| {
                    crate::model::time::Zone::of(&self.roster.horizon)
                        .resolve(start.and_time(chrono::NaiveTime::MIN))
                },
            )
        });
        self.capacity_map_at(now)
    }

    /// Spare carer-hours and waiting demand by area, date and period, from
    /// `now` to the end of the horizon: shift time (absences removed) not
    /// taken by planned visits or the travel between them, counted as the fit
    /// check counts it (only the future, each team on its own).
    pub fn capacity_map_at(&self, now: DateTime<Utc>) -> BTreeMap<String, AreaCapacity> {
        type Grid = BTreeMap<(String, usize), f64>;
        let teams: Vec<(String, Grid)> = (0..self.roster.teams.len())
            .into_par_iter()
            .filter_map(|ti| {
                let team = &self.roster.teams[ti];
                let provider = team
                    .provider
                    .as_ref()
                    .and_then(|p| self.index.provider_pos.get(p))
                    .map(|&i| &self.roster.providers[i])?;
                if provider.framework_status != crate::format::FrameworkStatus::Active {
                    return None;
                }
                let req = crate::format::PlanningRequest {
                    format: self.roster.format.clone(),
                    horizon: self.roster.horizon.clone(),
                    settings: self.roster.settings.clone(),
                    travel: self.roster.travel.clone(),
                    providers: vec![provider.clone()],
                    teams: vec![team.clone()],
                    carers: self
                        .index
                        .carers_of_team
                        .get(&team.id)
                        .map(|v| v.iter().map(|&c| self.roster.carers[c].clone()).collect())
                        .unwrap_or_default(),
                    service_users: Vec::new(),
                    packages: Vec::new(),
                    existing_rota: Vec::new(),
                    frozen_before: None,
                };
                let p = Problem::from_request(&req).ok()?;
                let from = super::horizon::minute_of(&p, now);
                let key = |m: i64| {
                    (
                        p.horizon
                            .date(m.div_euclid(1440) as u32)
                            .format("%Y-%m-%d")
                            .to_string(),
                        period_of(m.rem_euclid(1440) as i32) as usize,
                    )
                };
                let mut spare: Grid = BTreeMap::new();
                for s in &p.shifts {
                    for m in (s.start.max(from)..s.end).step_by(15) {
                        *spare.entry(key(i64::from(m))).or_default() += 0.25;
                    }
                }
                let empty = Rota::default();
                let rota = self.rotas.get(&team.id).unwrap_or(&empty);
                for r in &rota.routes {
                    for s in &r.stops {
                        let (Ok(a), Ok(b)) = (
                            p.horizon.parse_instant(&s.start),
                            p.horizon.parse_instant(&s.end),
                        ) else {
                            continue;
                        };
                        if a < i64::from(from) || a.div_euclid(1440) >= i64::from(p.horizon.days) {
                            continue;
                        }
                        let used = (b - a + i64::from(s.travel_min)) as f64 / 60.0;
                        *spare.entry(key(a)).or_default() -= used;
                    }
                }
                for h in spare.values_mut() {
                    *h = h.max(0.0);
                }
                let label = crate::broker::area_label(&self.roster, &team.base);
                Some((label, spare))
            })
            .collect();
        let mut spare: BTreeMap<String, Grid> = BTreeMap::new();
        let mut out: BTreeMap<String, AreaCapacity> = BTreeMap::new();
        for (label, grid) in teams {
            out.entry(label.clone()).or_default().teams += 1;
            let area = spare.entry(label).or_default();
            for (k, h) in grid {
                *area.entry(k).or_default() += h;
            }
        }
        let mut demand: BTreeMap<String, Grid> = BTreeMap::new();
        for r in self.packages.values() {
            if !matches!(r.status, PackageStatus::Open | PackageStatus::Escalated) {
                continue;
            }
            out.entry(r.area.clone()).or_default().unfilled_demand_hours +=
                care_hours_per_week(&r.package);
            let Some(user) = self.service_user(&r.package.service_user) else {
                continue;
            };
            let req = crate::format::PlanningRequest {
                format: self.roster.format.clone(),
                horizon: self.roster.horizon.clone(),
                settings: self.roster.settings.clone(),
                travel: self.roster.travel.clone(),
                service_users: vec![crate::format::ServiceUser {
                    team: None,
                    preferred_carers: Vec::new(),
                    excluded_carers: Vec::new(),
                    known_carers: Vec::new(),
                    ..user.clone()
                }],
                packages: vec![r.package.clone()],
                ..Default::default()
            };
            let Ok(p) = Problem::from_request(&req) else {
                continue;
            };
            let from = super::horizon::minute_of(&p, now);
            let grid = demand.entry(r.area.clone()).or_default();
            for v in p.visits.iter().filter(|v| v.earliest_start >= from) {
                let k = (
                    p.horizon.date(v.day).format("%Y-%m-%d").to_string(),
                    period_of(v.earliest_start.rem_euclid(1440)) as usize,
                );
                *grid.entry(k).or_default() +=
                    f64::from(v.duration) * f64::from(v.carers_required) / 60.0;
            }
        }
        for (label, a) in &mut out {
            let none = Grid::new();
            let (sp, de) = (
                spare.get(label).unwrap_or(&none),
                demand.get(label).unwrap_or(&none),
            );
            let dates: std::collections::BTreeSet<&String> =
                sp.keys().chain(de.keys()).map(|(d, _)| d).collect();
            for date in dates {
                let mut day = DayCapacity::default();
                for (k, (period, from, to)) in PERIODS.iter().enumerate() {
                    let key = (date.clone(), k);
                    let s = sp.get(&key).copied().unwrap_or(0.0);
                    let d = de.get(&key).copied().unwrap_or(0.0);
                    let short = (d - s).max(0.0);
                    day.spare_carer_hours += s;
                    day.demand_hours += d;
                    day.shortfall_hours += short;
                    day.periods.push(PeriodCapacity {
                        period,
                        from,
                        to,
                        spare_carer_hours: round2(s),
                        demand_hours: round2(d),
                        shortfall_hours: round2(short),
                    });
                }
                a.total_spare_hours += day.spare_carer_hours;
                a.demand_hours += day.demand_hours;
                a.shortfall_hours += day.shortfall_hours;
                day.spare_carer_hours = round2(day.spare_carer_hours);
                day.demand_hours = round2(day.demand_hours);
                day.shortfall_hours = round2(day.shortfall_hours);
                a.days.insert(date.clone(), day);
            }
            a.total_spare_hours = round2(a.total_spare_hours);
            a.demand_hours = round2(a.demand_hours);
            a.unfilled_demand_hours = round2(a.unfilled_demand_hours);
            a.shortfall_hours = round2(a.shortfall_hours);
        }
        out
    }

    /// Balances, risk pool and damages.
    pub fn ledger_report(&self) -> LedgerReport {
        let mut rep = LedgerReport {
            balances: self.ledger.balances.clone(),
            risk_pool_pence: self.ledger.balance(RISK_POOL),
            quality_fund_pence: self.ledger.balance(QUALITY_FUND),
            trial_balance: self.ledger.trial_balance(),
            entries: self.ledger.entries.len(),
            ..Default::default()
        };
        for e in &self.ledger.entries {
            *rep.totals_by_kind.entry(snake(e.kind)).or_default() += e.amount_pence;
            if e.kind == EntryKind::LiquidatedDamages {
                *rep.damages_by_provider
                    .entry(e.from.trim_start_matches("provider:").to_string())
                    .or_default() += e.amount_pence;
            }
        }
        rep
    }
}

/// One out-of-order offer (first refusal skipped with a broker's reason).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OverrideRow {
    /// Package.
    pub package: String,
    /// Its brokering status now.
    pub status: PackageStatus,
    /// The override: provider, team, tier, skipped stage and providers, reason, note, who, when.
    #[serde(flatten)]
    pub record: super::records::OfferOverride,
}

/// The risk pool on one day (UTC date of the postings).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct RiskPoolDay {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Paid into the pool (top-slices), pence.
    pub inflow_pence: i64,
    /// Paid out (emergency cover, year-end close), pence.
    pub outflow_pence: i64,
    /// Balance at the end of the day, pence.
    pub closing_balance_pence: i64,
}

/// The risk pool over time.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct RiskPoolReport {
    /// Balance now, pence.
    pub balance_pence: i64,
    /// The policy's alert threshold, pence.
    pub alert_below_pence: i64,
    /// Whether the balance is below the threshold.
    pub below_threshold: bool,
    /// Inflows by entry kind, pence.
    pub inflows_by_kind: BTreeMap<String, i64>,
    /// Outflows by entry kind, pence.
    pub outflows_by_kind: BTreeMap<String, i64>,
    /// Day by day, oldest first (days with postings only).
    pub by_day: Vec<RiskPoolDay>,
    /// Emergency visits assigned and not yet charged (their day has not ended).
    pub emergency_visits_pending: usize,
}

impl Broker {
    /// Out-of-order offers, newest first.
    pub fn overrides_report(&self) -> Vec<OverrideRow> {
        let mut v: Vec<OverrideRow> = self
            .packages
            .values()
            .filter_map(|r| {
                Some(OverrideRow {
                    package: r.package.id.clone(),
                    status: r.status,
                    record: r.out_of_order.clone()?,
                })
            })
            .collect();
        v.sort_by(|a, b| {
            b.record
                .at
                .cmp(&a.record.at)
                .then(a.package.cmp(&b.package))
        });
        v
    }

    /// The risk pool's balance, inflows and outflows by day.
    pub fn risk_pool_report(&self) -> RiskPoolReport {
        let mut rep = RiskPoolReport {
            balance_pence: self.ledger.balance(RISK_POOL),
            alert_below_pence: self.config.risk_pool_alert_below_pence,
            ..Default::default()
        };
        rep.below_threshold = rep.balance_pence < rep.alert_below_pence;
        let mut balance = 0i64;
        for e in &self.ledger.entries {
            let (inflow, outflow) = match (e.to == RISK_POOL, e.from == RISK_POOL) {
                (true, false) => (e.amount_pence, 0),
                (false, true) => (0, e.amount_pence),
                _ => continue,
            };
            if inflow > 0 {
                *rep.inflows_by_kind.entry(snake(e.kind)).or_default() += inflow;
            } else {
                *rep.outflows_by_kind.entry(snake(e.kind)).or_default() += outflow;
            }
            balance += inflow - outflow;
            let date = e.at.date_naive().to_string();
            if rep.by_day.last().is_none_or(|d| d.date != date) {
                rep.by_day.push(RiskPoolDay {
                    date,
                    ..Default::default()
                });
            }
            if let Some(d) = rep.by_day.last_mut() {
                d.inflow_pence += inflow;
                d.outflow_pence += outflow;
                d.closing_balance_pence = balance;
            }
        }
        rep.emergency_visits_pending = self
            .emergency_visits
            .values()
            .filter(|e| {
                let date = e.start.get(..10).unwrap_or_default().to_string();
                !self.cover_charged.contains(&(
                    e.package.clone(),
                    date,
                    "emergency_visits".to_string(),
                ))
            })
            .count();
        rep
    }

    /// Single visits assigned to emergency cover, by start.
    pub fn emergency_cover_report(&self) -> Vec<super::records::EmergencyVisit> {
        let mut v: Vec<_> = self.emergency_visits.values().cloned().collect();
        v.sort_by(|a, b| a.start.cmp(&b.start).then(a.visit.cmp(&b.visit)));
        v
    }
}
