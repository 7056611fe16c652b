//! One replication: a discrete-event simulation of one policy and one seed that
//! drives the real [`Broker`] on its injectable clock. Events (referral
//! arrivals, provider answers, sickness, provider failures, day ends) are taken
//! in time order; between them the broker is ticked every `tick_min` so offer
//! windows expire, damages accrue and escalations are retried at the right time.

use super::county::County;
use super::demand::{Referral, referrals};
use super::rng::{Purpose, key, stream};
use super::scenario::{Scenario, TierBehaviour, urgency_key};
use crate::broker::ledger::{EntryKind, RISK_POOL};
use crate::broker::{Broker, BrokerError, BrokerEvent, DeclineReason, OfferStatus, PackageStatus};
use crate::check::check;
use crate::format::{Absence, AutoAcceptPolicy, FrameworkStatus, PlanningRequest, Tier};
use crate::model::Problem;
use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

/// Fill-time marks reported, minutes: Devon Cares' 1.5 h and 4 h, and a day.
pub const MARKS_MIN: [i64; 3] = [90, 240, 1440];

/// What happened to one referral.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReferralOutcome {
    /// Package id.
    pub package: String,
    /// Urgency.
    pub urgency: &'static str,
    /// When referred.
    pub referred_at: DateTime<Utc>,
    /// First acceptance (a later provider failure does not reset it).
    pub filled_at: Option<DateTime<Utc>>,
    /// Minutes from referral to first acceptance.
    pub fill_min: Option<f64>,
    /// Tier of the first accepting provider.
    pub filled_tier: Option<Tier>,
    /// Status at the end of the run.
    pub status: PackageStatus,
    /// Offers made.
    pub offers: u32,
    /// Offers declined.
    pub declines: u32,
    /// Start of the package's first visit on any rota (live or history).
    pub first_visit_at: Option<DateTime<Utc>>,
    /// Minutes from referral to the first visit.
    pub first_visit_min: Option<f64>,
    /// Hospital discharges only: nights from the referral's date to the first
    /// visit's date (to the end of the run when care never started), the
    /// delayed-discharge bed-days proxy.
    pub bed_nights: Option<u32>,
    /// Distinct carers on the package's visits over the run (filled packages).
    pub distinct_carers: Option<u32>,
    /// The person's continuity cap (their own, or the roster's default).
    pub continuity_cap: u32,
}

/// One point of the daily series (taken at local midnight ending the day).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DayPoint {
    /// Day of the run, 0-based.
    pub day: u32,
    /// Risk pool balance, pence.
    pub risk_pool_pence: i64,
    /// Liquidated damages accrued so far, pence.
    pub damages_pence: i64,
    /// Referrals waiting (open or escalated).
    pub waiting: usize,
    /// Referrals escalated.
    pub escalated: usize,
    /// Care minutes on the day's routes (all teams but emergency cover),
    /// carer-minutes (a double-handed visit counts twice).
    pub care_min: i64,
    /// Travel minutes on the day's routes (with commutes when paid).
    pub travel_min: i64,
    /// Rostered shift minutes of the day, less absences (same teams).
    pub shift_min: i64,
    /// Liquidated damages accrued so far by provider, pence.
    pub damages_by_provider: BTreeMap<String, i64>,
}

/// Integrity checks of a run (all must hold; the tests assert them).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Integrity {
    /// Every referral is filled, escalated, cancelled or open.
    pub referrals_accounted: bool,
    /// Sum of all balances (must be 0).
    pub ledger_trial_balance: i64,
    /// The ledger's own verification passed.
    pub ledger_verified: bool,
    /// Team rotas checked by the independent checker.
    pub rotas_checked: usize,
    /// Violations the checker found.
    pub rota_violations: usize,
    /// Visits of filled packages found neither on a route nor listed unplaced.
    pub visits_lost: usize,
}

/// A provider failure and how its people were re-placed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FailureOutcome {
    /// Provider.
    pub provider: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Packages released.
    pub released: usize,
    /// Of those, with a new provider at the end.
    pub replaced: usize,
    /// Of those, placed within 4 hours of the failure.
    pub replaced_within_4h: usize,
}

/// The result of one policy on one seed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunResult {
    /// Policy name.
    pub policy: String,
    /// Seed.
    pub seed: u64,
    /// Referrals arrived.
    pub referrals: usize,
    /// Status counts at the end (referrals only).
    pub status: BTreeMap<PackageStatus, usize>,
    /// Share filled within each of [`MARKS_MIN`], among referrals whose mark
    /// fell inside the run (`None` when none did).
    pub share_within: Vec<Option<f64>>,
    /// Offers made per referral.
    pub offers_per_referral: f64,
    /// Declines per referral.
    pub declines_per_referral: f64,
    /// Offers that expired unanswered.
    pub offers_expired: usize,
    /// Escalated packages the brokerage's staff brokered again (`broker_staff`).
    pub rebrokered: usize,
    /// Carers of the emergency cover team this run had (the county's own
    /// standby team, or the policy's `emergency_cover_carers`).
    pub emergency_cover_team_carers: usize,
    /// Declines by reason code.
    pub declines_by_reason: BTreeMap<String, usize>,
    /// Offers and declines per provider: (offers, declines, accepted).
    pub by_provider: BTreeMap<String, (usize, usize, usize)>,
    /// Filled referrals by tier of the accepting provider.
    pub filled_by_tier: BTreeMap<String, usize>,
    /// Referrals unfilled at the end by reason.
    pub unfilled_by_reason: BTreeMap<String, usize>,
    /// Carer-hours of care (over the horizon) given to emergency cover.
    pub emergency_cover_hours: f64,
    /// Liquidated damages accrued, pence.
    pub damages_pence: i64,
    /// Damages paid by provider, pence.
    pub damages_by_provider: BTreeMap<String, i64>,
    /// Risk pool at the end, pence.
    pub risk_pool_end_pence: i64,
    /// Carer sick days.
    pub sick_days: usize,
    /// Visits a sickness re-plan left unplaced.
    pub visits_dropped_by_sickness: usize,
    /// Provider failures.
    pub failures: Vec<FailureOutcome>,
    /// Daily series.
    pub daily: Vec<DayPoint>,
    /// Broker events applied.
    pub broker_events: u64,
    /// Integrity checks.
    pub integrity: Integrity,
    /// Care minutes over shift minutes over the run (teams of providers other
    /// than emergency cover).
    pub utilisation: f64,
    /// Paid travel over care plus paid travel.
    pub paid_travel_share: f64,
    /// Delayed-discharge bed-days proxy: the sum of the discharges' `bed_nights`.
    pub bed_days: u32,
    /// Share of filled referrals with no more distinct carers than the person's cap.
    pub continuity_within_cap: Option<f64>,
    /// Every referral's outcome (CSV only).
    #[serde(skip)]
    pub outcomes: Vec<ReferralOutcome>,
}

/// What can happen at an instant.
#[derive(Debug, Clone)]
enum Ev {
    Failure(usize),
    Sickness(u32),
    Arrival(usize),
    Answer(String),
    DayEnd(u32),
    /// A broker re-brokers an escalated package (`broker_staff`).
    Rebroker(String),
}

/// The roster a scenario's provider behaviour implies (auto-accept overrides).
pub fn scenario_roster(s: &Scenario, roster: &PlanningRequest) -> PlanningRequest {
    let mut r = roster.clone();
    for p in &mut r.providers {
        if p.tier == Tier::EmergencyCover {
            continue;
        }
        match s.behaviour(p.tier).auto_accept {
            Some(true) => {
                p.auto_accept = AutoAcceptPolicy {
                    enabled: true,
                    max_min_per_week: None,
                    single_handed_only: false,
                }
            }
            Some(false) => p.auto_accept = AutoAcceptPolicy::default(),
            None => {}
        }
    }
    r
}

/// The roster and first rotas with the emergency cover team resized to `n`
/// standby carers: 0 removes emergency cover (provider, team and rota); more
/// than the county has adds copies of its standby carers (the same skills and
/// alternating early and late day-long shifts) to its first cover team.
pub fn with_emergency_cover(
    roster: &PlanningRequest,
    rotas: &BTreeMap<String, crate::format::Rota>,
    n: u32,
) -> (PlanningRequest, BTreeMap<String, crate::format::Rota>) {
    let mut r = roster.clone();
    let mut rotas = rotas.clone();
    let cover: BTreeSet<String> = (r.providers.iter())
        .filter(|p| p.tier == Tier::EmergencyCover)
        .map(|p| p.id.clone())
        .collect();
    let teams: Vec<String> = (r.teams.iter())
        .filter(|t| t.provider.as_ref().is_some_and(|p| cover.contains(p)))
        .map(|t| t.id.clone())
        .collect();
    let in_cover = |c: &crate::format::Carer| c.team.as_ref().is_some_and(|t| teams.contains(t));
    let standby: Vec<crate::format::Carer> =
        r.carers.iter().filter(|c| in_cover(c)).cloned().collect();
    let n = n as usize;
    if n == 0 || standby.is_empty() {
        r.carers.retain(|c| !in_cover(c));
        r.teams.retain(|t| !teams.contains(&t.id));
        r.providers.retain(|p| !cover.contains(&p.id));
        for t in &teams {
            rotas.remove(t);
        }
        return (r, rotas);
    }
    let keep: BTreeSet<String> = standby.iter().take(n).map(|c| c.id.clone()).collect();
    r.carers.retain(|c| !in_cover(c) || keep.contains(&c.id));
    for t in &teams {
        if let Some(rota) = rotas.get_mut(t) {
            rota.routes.retain(|rt| keep.contains(&rt.carer));
        }
    }
    for i in standby.len()..n {
        let mut c = standby[i % standby.len()].clone();
        c.id = format!("{}-x{i}", c.id);
        c.team = Some(teams[0].clone());
        r.carers.push(c);
    }
    for t in &mut r.teams {
        if t.id == teams[0] {
            t.max_members = Some(t.max_members.unwrap_or(0).max(n as u32));
        }
    }
    (r, rotas)
}

/// A provider's answer to one offer: the delay, then accept or decline (or none).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Answer {
    Accept,
    Decline(DeclineReason),
    None,
}

fn draw_answer(
    b: &TierBehaviour,
    seed: u64,
    package: &str,
    provider: &str,
    nth: u32,
) -> (f64, Answer) {
    let mut r = stream(
        seed,
        Purpose::Response,
        key(package) ^ key(provider).rotate_left(21) ^ u64::from(nth),
    );
    // Log-normal delay from the median and the 90th percentile (z = 1.2816).
    let u1: f64 = r.random_range(f64::EPSILON..1.0);
    let u2: f64 = r.random_range(0.0..1.0);
    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    let mu = b.response_median_min.ln();
    let sigma = (b.response_p90_min.ln() - mu).max(0.0) / 1.2816;
    let delay = (mu + sigma * z).exp();
    let mut u: f64 = r.random_range(0.0..1.0);
    if u < b.no_answer_probability {
        return (delay, Answer::None);
    }
    u -= b.no_answer_probability;
    for (reason, p) in &b.decline {
        if u < *p {
            return (delay, Answer::Decline(*reason));
        }
        u -= p;
    }
    (delay, Answer::Accept)
}

struct Sim<'a> {
    s: &'a Scenario,
    seed: u64,
    broker: Broker,
    queue: BinaryHeap<Reverse<(i64, u64)>>,
    events: BTreeMap<u64, Ev>,
    seq: u64,
    referrals: Vec<Referral>,
    ref_pos: BTreeMap<String, usize>,
    outcomes: Vec<ReferralOutcome>,
    asked: BTreeMap<(String, String), u32>,
    r: RunResult,
    failure_pos: BTreeMap<String, usize>,
    h: crate::model::Horizon,
    /// Re-brokerings scheduled per package (`broker_staff`).
    rebrokered: BTreeMap<String, u32>,
}

fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

impl Sim<'_> {
    fn push(&mut self, at: DateTime<Utc>, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse((ts(at), self.seq)));
        self.events.insert(self.seq, ev);
    }

    /// Reads a command's events: schedules the providers' answers to new offers
    /// and keeps the per-referral counts.
    fn observe(&mut self, out: &[BrokerEvent]) {
        for e in out {
            match e {
                BrokerEvent::OfferMade { offer } => {
                    let tier = offer.stage;
                    let entry = self
                        .r
                        .by_provider
                        .entry(offer.provider.clone())
                        .or_default();
                    entry.0 += 1;
                    if let Some(&i) = self.ref_pos.get(&offer.package) {
                        self.outcomes[i].offers += 1;
                    }
                    if tier == Tier::EmergencyCover {
                        continue;
                    }
                    let nth = self
                        .asked
                        .entry((offer.package.clone(), offer.provider.clone()))
                        .or_default();
                    *nth += 1;
                    let (delay, answer) = draw_answer(
                        &self.s.behaviour(tier),
                        self.seed,
                        &offer.package,
                        &offer.provider,
                        *nth,
                    );
                    let at = offer.made_at + Duration::seconds((delay * 60.0).round() as i64);
                    if answer != Answer::None && at < offer.expires_at {
                        self.push(at, Ev::Answer(offer.id.clone()));
                    }
                }
                BrokerEvent::OfferAccepted { at, offer, fit, .. } => {
                    let Some(o) = self.broker.offers.get(offer) else {
                        continue;
                    };
                    self.r.by_provider.entry(o.provider.clone()).or_default().2 += 1;
                    if o.stage == Tier::EmergencyCover {
                        self.r.emergency_cover_hours += fit.care_min as f64 / 60.0;
                    }
                    if let Some(&i) = self.ref_pos.get(&o.package) {
                        let oc = &mut self.outcomes[i];
                        if oc.filled_at.is_none() {
                            oc.filled_at = Some(*at);
                            oc.fill_min = Some((*at - oc.referred_at).num_seconds() as f64 / 60.0);
                            oc.filled_tier = Some(o.stage);
                        }
                    }
                    if let Some(fo) = self.broker.packages.get(&o.package).and_then(|rec| {
                        rec.previous_provider
                            .as_ref()
                            .and_then(|p| self.failure_pos.get(p).map(|&i| (i, rec.referred_at)))
                    }) {
                        let (i, released_at) = fo;
                        if let Some(f) = self.r.failures.get_mut(i) {
                            f.replaced += 1;
                            if *at - released_at <= Duration::hours(4) {
                                f.replaced_within_4h += 1;
                            }
                        }
                    }
                }
                BrokerEvent::OfferDeclined { offer, reason, .. } => {
                    *self
                        .r
                        .declines_by_reason
                        .entry(reason.code().to_string())
                        .or_default() += 1;
                    if let Some(o) = self.broker.offers.get(offer) {
                        self.r.by_provider.entry(o.provider.clone()).or_default().1 += 1;
                        if let Some(&i) = self.ref_pos.get(&o.package) {
                            self.outcomes[i].declines += 1;
                        }
                    }
                }
                BrokerEvent::OfferExpired { .. } => self.r.offers_expired += 1,
                BrokerEvent::Escalated { alert } => {
                    if let Some(staff) = &self.s.broker_staff {
                        let done = self.rebrokered.entry(alert.package.clone()).or_default();
                        if *done < staff.rebroker_at_most {
                            *done += 1;
                            let at =
                                alert.at + Duration::minutes(i64::from(staff.rebroker_after_min));
                            self.push(at, Ev::Rebroker(alert.package.clone()));
                        }
                    }
                }
                BrokerEvent::PackageReleased { .. } => {
                    if let Some(f) = self.r.failures.last_mut() {
                        f.released += 1;
                    }
                }
                _ => {}
            }
        }
    }

    fn handle(&mut self, at: DateTime<Utc>, ev: Ev) -> Result<(), BrokerError> {
        match ev {
            Ev::Arrival(i) => {
                let r = self.referrals[i].clone();
                let out = self.broker.refer(r.package, r.user, at)?;
                self.observe(&out);
            }
            Ev::Rebroker(pkg) => {
                let escalated = (self.broker.packages.get(&pkg))
                    .is_some_and(|r| r.status == PackageStatus::Escalated);
                if escalated {
                    let out = self.broker.rebroker(&pkg, at)?;
                    self.r.rebrokered += 1;
                    self.observe(&out);
                }
            }
            Ev::Answer(offer) => {
                let Some(o) = self.broker.offers.get(&offer).cloned() else {
                    return Ok(());
                };
                if o.status != OfferStatus::Open || at >= o.expires_at {
                    return Ok(());
                }
                let nth = self
                    .asked
                    .get(&(o.package.clone(), o.provider.clone()))
                    .copied()
                    .unwrap_or(1);
                let (_, answer) = draw_answer(
                    &self.s.behaviour(o.stage),
                    self.seed,
                    &o.package,
                    &o.provider,
                    nth,
                );
                let out = match answer {
                    Answer::Accept => match self.broker.accept(&offer, at) {
                        Ok(out) => out,
                        // The team's rota changed since the offer: the provider
                        // finds it has no room after all.
                        Err(BrokerError::NoLongerFits { .. }) => self.broker.decline(
                            &offer,
                            DeclineReason::NoCapacity,
                            Some("no longer fits".into()),
                            at,
                        )?,
                        Err(e) => return Err(e),
                    },
                    Answer::Decline(reason) => self.broker.decline(&offer, reason, None, at)?,
                    Answer::None => Vec::new(),
                };
                self.observe(&out);
            }
            Ev::Sickness(day) => {
                let carers: Vec<(String, String)> = self
                    .broker
                    .roster
                    .carers
                    .iter()
                    .filter_map(|c| Some((c.id.clone(), c.team.clone()?)))
                    .collect();
                let h = self.h;
                for (carer, team) in carers {
                    let mut r = stream(self.seed, Purpose::Sickness, key(&carer) ^ u64::from(day));
                    if !r.random_bool(self.s.sickness_rate) {
                        continue;
                    }
                    let before = self.broker.rotas.get(&team).map_or(0, |r| r.unplaced.len());
                    let absence = Absence {
                        from: h.format(h.local(day, 0)),
                        to: h.format(h.local(day + 1, 0)),
                        reason: Some("sick".into()),
                    };
                    let out = self.broker.add_absence(&carer, absence, at)?;
                    self.r.sick_days += 1;
                    let after = self.broker.rotas.get(&team).map_or(0, |r| r.unplaced.len());
                    self.r.visits_dropped_by_sickness += after.saturating_sub(before);
                    self.observe(&out);
                }
            }
            Ev::Failure(i) => {
                let provider = self.s.provider_failures[i].provider.clone();
                self.failure_pos
                    .insert(provider.clone(), self.r.failures.len());
                self.r.failures.push(FailureOutcome {
                    provider: provider.clone(),
                    at,
                    released: 0,
                    replaced: 0,
                    replaced_within_4h: 0,
                });
                let out = self.broker.set_provider_status(
                    &provider,
                    FrameworkStatus::Failed,
                    Vec::new(),
                    at,
                )?;
                self.observe(&out);
            }
            Ev::DayEnd(day) => {
                let waiting = self
                    .outcomes
                    .iter()
                    .filter(|o| {
                        self.broker.packages.get(&o.package).is_some_and(|r| {
                            matches!(r.status, PackageStatus::Open | PackageStatus::Escalated)
                        })
                    })
                    .count();
                let escalated = self
                    .outcomes
                    .iter()
                    .filter(|o| {
                        self.broker
                            .packages
                            .get(&o.package)
                            .is_some_and(|r| r.status == PackageStatus::Escalated)
                    })
                    .count();
                let (care_min, travel_min, shift_min) = day_work(&self.broker, &self.h, day);
                let mut damages_by_provider: BTreeMap<String, i64> = BTreeMap::new();
                for e in &self.broker.ledger.entries {
                    if e.kind == EntryKind::LiquidatedDamages {
                        *damages_by_provider
                            .entry(e.from.trim_start_matches("provider:").to_string())
                            .or_default() += e.amount_pence;
                    }
                }
                self.r.daily.push(DayPoint {
                    day,
                    risk_pool_pence: self.broker.ledger.balance(RISK_POOL),
                    damages_pence: damages(&self.broker),
                    waiting,
                    escalated,
                    care_min,
                    travel_min,
                    shift_min,
                    damages_by_provider,
                });
            }
        }
        Ok(())
    }
}

fn instant(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Care, travel and rostered shift minutes of run day `day` over the teams of
/// providers other than emergency cover (a standby team is idle by design).
/// The day's routes are in the live rota or, once the horizon has rolled past
/// it, in the history.
fn day_work(b: &Broker, h: &crate::model::Horizon, day: u32) -> (i64, i64, i64) {
    let date = h.date(day);
    let cover: BTreeSet<&str> = (b.roster.providers.iter())
        .filter(|p| p.tier == Tier::EmergencyCover)
        .map(|p| p.id.as_str())
        .collect();
    let working: BTreeSet<&str> = (b.roster.teams.iter())
        .filter(|t| t.provider.as_deref().is_none_or(|p| !cover.contains(p)))
        .map(|t| t.id.as_str())
        .collect();
    let paid_commute = b.roster.settings.paid_commute;
    let (mut care, mut travel) = (0i64, 0i64);
    for (team, rota) in b.rotas.iter().chain(b.history.iter()) {
        if !working.contains(team.as_str()) {
            continue;
        }
        for r in &rota.routes {
            if crate::broker::horizon::shift_date(&r.shift) != Some(date) {
                continue;
            }
            for st in &r.stops {
                if let (Some(a), Some(z)) = (instant(&st.start), instant(&st.end)) {
                    care += (z - a).num_minutes();
                }
                travel += i64::from(st.travel_min);
            }
            if paid_commute && !r.stops.is_empty() {
                travel += i64::from(r.start_travel_min) + i64::from(r.end_travel_min);
            }
        }
    }
    let mut shift = 0i64;
    for c in &b.roster.carers {
        if c.team.as_deref().is_none_or(|t| !working.contains(t)) {
            continue;
        }
        for sh in &c.shifts {
            let applies = sh
                .days
                .iter()
                .any(|d| d.selector().is_ok_and(|s| s.applies(date)));
            let (Ok(a), Ok(z)) = (
                crate::model::time::parse_clock(&sh.start),
                crate::model::time::parse_clock(&sh.end),
            ) else {
                continue;
            };
            if !applies {
                continue;
            }
            let from = i64::from(h.local(day, a));
            let to = if z > a {
                i64::from(h.local(day, z))
            } else {
                i64::from(h.local(day + 1, z))
            };
            let mut off = 0i64;
            for ab in &c.absences {
                if let (Ok(x), Ok(y)) = (h.parse_instant(&ab.from), h.parse_instant(&ab.to)) {
                    off += (y.min(to) - x.max(from)).max(0);
                }
            }
            shift += (to - from - off).max(0);
        }
    }
    (care, travel, shift)
}

fn damages(b: &Broker) -> i64 {
    b.ledger
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::LiquidatedDamages)
        .map(|e| e.amount_pence)
        .sum()
}

/// Carers in the emergency cover provider's teams.
fn cover_carers(r: &PlanningRequest) -> usize {
    let cover: BTreeSet<&String> = (r.providers.iter())
        .filter(|p| p.tier == Tier::EmergencyCover)
        .map(|p| &p.id)
        .collect();
    let teams: BTreeSet<&String> = (r.teams.iter())
        .filter(|t| t.provider.as_ref().is_some_and(|p| cover.contains(p)))
        .map(|t| &t.id)
        .collect();
    (r.carers.iter())
        .filter(|c| c.team.as_ref().is_some_and(|t| teams.contains(t)))
        .count()
}

/// Runs one policy on one seed over the whole horizon.
pub fn run(
    s: &Scenario,
    county: &County,
    roster: &PlanningRequest,
    pol: &super::scenario::Policy,
    seed: u64,
    ctl: &super::Control,
) -> Result<RunResult, super::SimError> {
    let (policy, config) = (pol.name.as_str(), &pol.config);
    let sized;
    let (roster, rotas) = match pol.emergency_cover_carers {
        Some(n) => {
            sized = with_emergency_cover(roster, &county.rotas, n);
            (&sized.0, &sized.1)
        }
        None => (roster, &county.rotas),
    };
    // The horizon rolls every night as in the live service (the policy says
    // how far it looks ahead); the finished days go to the broker's history.
    let broker = Broker::new(config.clone(), roster.clone(), rotas.clone())
        .map_err(super::SimError::Broker)?;
    let refs = referrals(s, county, seed);
    let h = &county.horizon;
    let start = h.instant(0).with_timezone(&Utc);
    let end = h.instant(h.local(s.days, 0)).with_timezone(&Utc);
    let outcomes = refs
        .iter()
        .map(|r| ReferralOutcome {
            package: r.package.id.clone(),
            urgency: urgency_key(r.package.urgency),
            referred_at: r.at,
            filled_at: None,
            fill_min: None,
            filled_tier: None,
            status: PackageStatus::Open,
            offers: 0,
            declines: 0,
            first_visit_at: None,
            first_visit_min: None,
            bed_nights: None,
            distinct_carers: None,
            continuity_cap: r
                .user
                .continuity_cap
                .unwrap_or(roster.settings.default_continuity_cap),
        })
        .collect();
    let mut sim = Sim {
        s,
        seed,
        broker,
        queue: BinaryHeap::new(),
        events: BTreeMap::new(),
        seq: 0,
        ref_pos: refs
            .iter()
            .enumerate()
            .map(|(i, r)| (r.package.id.clone(), i))
            .collect(),
        referrals: refs,
        outcomes,
        asked: BTreeMap::new(),
        r: RunResult {
            policy: policy.to_string(),
            seed,
            referrals: 0,
            status: BTreeMap::new(),
            share_within: Vec::new(),
            offers_per_referral: 0.0,
            declines_per_referral: 0.0,
            offers_expired: 0,
            rebrokered: 0,
            emergency_cover_team_carers: cover_carers(roster),
            declines_by_reason: BTreeMap::new(),
            by_provider: BTreeMap::new(),
            filled_by_tier: BTreeMap::new(),
            unfilled_by_reason: BTreeMap::new(),
            emergency_cover_hours: 0.0,
            damages_pence: 0,
            damages_by_provider: BTreeMap::new(),
            risk_pool_end_pence: 0,
            sick_days: 0,
            visits_dropped_by_sickness: 0,
            failures: Vec::new(),
            daily: Vec::new(),
            utilisation: 0.0,
            paid_travel_share: 0.0,
            bed_days: 0,
            continuity_within_cap: None,
            broker_events: 0,
            integrity: Integrity {
                referrals_accounted: false,
                ledger_trial_balance: 0,
                ledger_verified: false,
                rotas_checked: 0,
                rota_violations: 0,
                visits_lost: 0,
            },
            outcomes: Vec::new(),
        },
        failure_pos: BTreeMap::new(),
        rebrokered: BTreeMap::new(),
        h: *h,
    };
    for day in 0..s.days {
        if s.sickness_rate > 0.0 {
            // Sickness is phoned in early, before the first visits.
            sim.push(
                h.instant(h.local(day, 360)).with_timezone(&Utc),
                Ev::Sickness(day),
            );
        }
        sim.push(
            h.instant(h.local(day + 1, 0)).with_timezone(&Utc),
            Ev::DayEnd(day),
        );
    }
    for (i, f) in s.provider_failures.iter().enumerate() {
        let minute = crate::model::time::parse_clock(&f.time).unwrap_or(540);
        sim.push(
            h.instant(h.local(f.day, minute)).with_timezone(&Utc),
            Ev::Failure(i),
        );
    }
    for i in 0..sim.referrals.len() {
        let at = sim.referrals[i].at;
        sim.push(at, Ev::Arrival(i));
    }
    let step = Duration::minutes(i64::from(s.tick_min));
    let mut next_tick = start + step;
    while let Some(Reverse((t, id))) = sim.queue.pop() {
        let Some(ev) = sim.events.remove(&id) else {
            continue;
        };
        if ctl.is_cancelled() {
            return Err(super::SimError::Cancelled);
        }
        let day_end = matches!(ev, Ev::DayEnd(_));
        while ts(next_tick) <= t {
            let out = sim.broker.tick(next_tick);
            sim.observe(&out);
            next_tick += step;
        }
        let at = DateTime::from_timestamp(t, 0).unwrap_or(end);
        sim.handle(at, ev).map_err(super::SimError::Broker)?;
        if day_end {
            ctl.day_done();
        }
    }
    while next_tick <= end {
        let out = sim.broker.tick(next_tick);
        sim.observe(&out);
        next_tick += step;
    }
    finish(&mut sim, end);
    let mut r = sim.r;
    r.outcomes = sim.outcomes;
    Ok(r)
}

fn finish(sim: &mut Sim<'_>, end: DateTime<Utc>) {
    let b = &sim.broker;
    let n = sim.outcomes.len();
    let mut accounted = true;
    for o in &mut sim.outcomes {
        match b.packages.get(&o.package) {
            Some(rec) => o.status = rec.status,
            None => accounted = false,
        }
    }
    let r = &mut sim.r;
    r.referrals = n;
    for o in &sim.outcomes {
        *r.status.entry(o.status).or_default() += 1;
        if let Some(t) = o.filled_tier {
            *r.filled_by_tier
                .entry(super::scenario::tier_key(t).to_string())
                .or_default() += 1;
        }
    }
    r.share_within = MARKS_MIN
        .iter()
        .map(|&m| {
            let due: Vec<&ReferralOutcome> = sim
                .outcomes
                .iter()
                .filter(|o| o.referred_at + Duration::minutes(m) <= end)
                .collect();
            (!due.is_empty()).then(|| {
                due.iter()
                    .filter(|o| o.fill_min.is_some_and(|f| f <= m as f64))
                    .count() as f64
                    / due.len() as f64
            })
        })
        .collect();
    let nf = n.max(1) as f64;
    r.offers_per_referral = sim
        .outcomes
        .iter()
        .map(|o| f64::from(o.offers))
        .sum::<f64>()
        / nf;
    r.declines_per_referral = sim
        .outcomes
        .iter()
        .map(|o| f64::from(o.declines))
        .sum::<f64>()
        / nf;
    // Why the referrals still waiting wait: the fit checks as they stand now.
    for o in &sim.outcomes {
        if !matches!(o.status, PackageStatus::Open | PackageStatus::Escalated) {
            continue;
        }
        let reason = unfilled_reason(b, &o.package);
        *r.unfilled_by_reason.entry(reason).or_default() += 1;
    }
    for e in &b.ledger.entries {
        if e.kind == EntryKind::LiquidatedDamages {
            r.damages_pence += e.amount_pence;
            *r.damages_by_provider
                .entry(e.from.trim_start_matches("provider:").to_string())
                .or_default() += e.amount_pence;
        }
    }
    r.risk_pool_end_pence = b.ledger.balance(RISK_POOL);
    first_visits(b, &sim.h, end, &mut sim.outcomes);
    let r = &mut sim.r;
    let (care, travel, shift) = r.daily.iter().fold((0, 0, 0), |a, d| {
        (a.0 + d.care_min, a.1 + d.travel_min, a.2 + d.shift_min)
    });
    r.utilisation = if shift > 0 {
        care as f64 / shift as f64
    } else {
        0.0
    };
    r.paid_travel_share = if care + travel > 0 {
        travel as f64 / (care + travel) as f64
    } else {
        0.0
    };
    r.bed_days = sim.outcomes.iter().filter_map(|o| o.bed_nights).sum();
    let filled: Vec<&ReferralOutcome> = (sim.outcomes.iter())
        .filter(|o| o.distinct_carers.is_some())
        .collect();
    r.continuity_within_cap = (!filled.is_empty()).then(|| {
        filled
            .iter()
            .filter(|o| o.distinct_carers.is_some_and(|d| d <= o.continuity_cap))
            .count() as f64
            / filled.len() as f64
    });
    r.broker_events = b.events_applied;
    r.integrity = integrity(b, accounted);
}

/// Each referral's first visit (over every team's live rota and history),
/// its distinct carers, and the discharges' nights waiting.
fn first_visits(
    b: &Broker,
    h: &crate::model::Horizon,
    end: DateTime<Utc>,
    outcomes: &mut [ReferralOutcome],
) {
    let mut seen: BTreeMap<&str, (DateTime<Utc>, BTreeSet<&str>)> = BTreeMap::new();
    for rota in b.rotas.values().chain(b.history.values()) {
        for r in &rota.routes {
            for st in &r.stops {
                let Some(pkg) = crate::format::visit_package(&st.visit) else {
                    continue;
                };
                let Some(at) = instant(&st.start) else {
                    continue;
                };
                let e = seen.entry(pkg).or_insert_with(|| (at, BTreeSet::new()));
                e.0 = e.0.min(at);
                e.1.insert(r.carer.as_str());
            }
        }
    }
    let zone = &h.zone;
    for o in outcomes {
        let first = seen
            .get(o.package.as_str())
            .filter(|_| o.filled_at.is_some());
        // Only visits that had started by the end of the run count as given.
        o.first_visit_at = first.map(|f| f.0).filter(|&t| t <= end);
        o.first_visit_min = o
            .first_visit_at
            .map(|t| (t - o.referred_at).num_seconds() as f64 / 60.0);
        if o.filled_at.is_some() && o.status == PackageStatus::Filled {
            o.distinct_carers = first.map(|f| f.1.len() as u32);
        }
        if o.urgency == "hospital_discharge" {
            let until = o.first_visit_at.unwrap_or(end);
            let nights = (zone.local_date(until) - zone.local_date(o.referred_at)).num_days();
            o.bed_nights = Some(nights.max(0) as u32);
        }
    }
}

fn unfilled_reason(b: &Broker, package: &str) -> String {
    let Some(rec) = b.packages.get(package) else {
        return "unknown".into();
    };
    if b.offers
        .values()
        .any(|o| o.package == package && o.status == OfferStatus::Open)
    {
        return "awaiting_answer".into();
    }
    let Some(user) = b.service_user(&rec.package.service_user) else {
        return "unknown".into();
    };
    let report = b.candidates(&rec.package, user);
    if report
        .stage_order
        .iter()
        .any(|&st| !report.at_stage(st, &rec.passed_by).is_empty())
    {
        return "fits_awaiting_retry".into();
    }
    if !report.fitting.is_empty() {
        return "every_fitting_provider_passed".into();
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
    why.into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map_or_else(|| "no_team_nearby".into(), |(k, _)| k)
}

/// Ledger balance, the checker on every team rota, and no visit of a filled
/// package lost (each on a route or listed unplaced with reasons).
fn integrity(b: &Broker, accounted: bool) -> Integrity {
    let mut rotas_checked = 0;
    let mut rota_violations = 0;
    for (team, rota) in &b.rotas {
        let Some(req) = b.team_request(team) else {
            rota_violations += 1;
            continue;
        };
        match Problem::from_request(&req) {
            Ok(p) => {
                rotas_checked += 1;
                rota_violations += check(&p, rota).violations.len();
            }
            Err(_) => rota_violations += 1,
        }
    }
    let mut visits_lost = 0;
    for rec in b.packages.values() {
        if rec.status != PackageStatus::Filled {
            continue;
        }
        let Some(team) = rec.team.as_ref() else {
            continue;
        };
        let Some(accepted) = b.offers.values().rev().find(|o| {
            o.package == rec.package.id && o.status == OfferStatus::Accepted && &o.team == team
        }) else {
            continue;
        };
        let mut seen = BTreeSet::new();
        // Days the horizon rolled past are in the history.
        for rota in [b.rotas.get(team), b.history.get(team)]
            .into_iter()
            .flatten()
        {
            for rt in &rota.routes {
                for st in &rt.stops {
                    if crate::format::is_visit_of(&st.visit, &rec.package.id) {
                        seen.insert(st.visit.clone());
                    }
                }
            }
            for u in &rota.unplaced {
                if crate::format::is_visit_of(&u.visit, &rec.package.id) {
                    seen.insert(u.visit.clone());
                }
            }
        }
        visits_lost += accepted.fit.visits.saturating_sub(seen.len());
    }
    Integrity {
        referrals_accounted: accounted,
        ledger_trial_balance: b.ledger.trial_balance(),
        ledger_verified: b.ledger.verify().is_ok(),
        rotas_checked,
        rota_violations,
        visits_lost,
    }
}
