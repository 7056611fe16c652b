//! Brokering policy: every rule the seeds leave open is a setting here, with a
//! documented default (docs/domain.md §13 "make each configurable").

use crate::format::{Issue, IssueCode, Tier, Urgency};
use serde::{Deserialize, Serialize};

/// How offers go out within one tier.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum OfferMode {
    /// Every fitting provider of the tier is offered the package at once; the
    /// first to accept gets it (Devon Cares style, fastest fill).
    #[default]
    Broadcast,
    /// One provider at a time in rank order (best fit first); the next is
    /// offered only when the previous declines or its window expires.
    Ranked,
}

/// How liquidated damages are split among Tier 1 providers.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum DamagesSharing {
    /// Equal shares (remainder pence to the first providers by id).
    #[default]
    Equal,
    /// In proportion to each provider's filled packages this financial year
    /// (equal shares when none has any).
    ProRata,
}

/// First-refusal windows per cascade stage, minutes.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OfferWindows {
    /// Tier 1 first-refusal window.
    pub tier1_min: u32,
    /// Tier 2 window.
    pub tier2_min: u32,
    /// Tier 3 window.
    pub tier3_min: u32,
    /// Specialist window.
    pub specialist_min: u32,
    /// Emergency cover window (it normally takes packages at once).
    pub emergency_cover_min: u32,
    /// Window for crisis and hospital-discharge packages at every stage
    /// (shorter, because someone is waiting in a hospital bed).
    pub urgent_min: u32,
}

impl Default for OfferWindows {
    fn default() -> Self {
        // Devon Cares fills 70% within 1.5 h: three 30-minute rounds fit in that.
        Self {
            tier1_min: 30,
            tier2_min: 30,
            tier3_min: 30,
            specialist_min: 30,
            emergency_cover_min: 15,
            urgent_min: 15,
        }
    }
}

impl OfferWindows {
    /// Window for an offer at `stage` of a package of `urgency`.
    pub fn minutes(&self, stage: Tier, urgency: Urgency) -> u32 {
        let base = match stage {
            Tier::Tier1 => self.tier1_min,
            Tier::Tier2 => self.tier2_min,
            Tier::Tier3 => self.tier3_min,
            Tier::Specialist => self.specialist_min,
            Tier::EmergencyCover => self.emergency_cover_min,
        };
        if matches!(urgency, Urgency::Crisis | Urgency::HospitalDischarge) {
            base.min(self.urgent_min)
        } else {
            base
        }
    }
}

/// Liquidated damages for packages left unfilled.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DamagesPolicy {
    /// A package unfilled this long after referral accrues damages once.
    pub after_min: u32,
    /// Amount per package, pence.
    pub amount_pence: i64,
    /// How Tier 1 providers share it.
    pub sharing: DamagesSharing,
}

impl Default for DamagesPolicy {
    fn default() -> Self {
        // 4 hours: the Devon Cares 97% fill mark.
        Self {
            after_min: 240,
            amount_pence: 25_000,
            sharing: DamagesSharing::Equal,
        }
    }
}

/// The broker's policy.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Policy))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BrokerConfig {
    /// Broadcast or ranked offers within a tier.
    pub offer_mode: OfferMode,
    /// Offer windows.
    pub windows: OfferWindows,
    /// Packages needing a specialist skill go to Specialist providers before Tier 1.
    pub specialist_first: bool,
    /// Skills that make a package "specialist".
    pub specialist_skills: Vec<String>,
    /// Liquidated damages.
    pub damages: DamagesPolicy,
    /// Share of every fee top-sliced into the risk pool, basis points (300 = 3%).
    pub top_slice_bp: u32,
    /// Hourly cost of the emergency cover team, pence, paid from the risk pool.
    pub emergency_rate_pence: u32,
    /// First month of the financial year (UK: April).
    pub financial_year_start_month: u32,
    /// Within a tier, offer to block-contract providers (hours already paid
    /// for) before spot providers; spot is asked only when no block provider
    /// can take the package or all of them passed.
    pub block_before_spot: bool,
    /// Escalated packages are tried again this often, minutes (capacity frees
    /// up as rotas change); 0 leaves retries to a broker.
    pub escalation_retry_min: u32,
    /// Most escalated packages one tick fit-checks again (those waiting
    /// longest since their last check first; the rest wait for the next
    /// tick), so that a county with hundreds escalated does not hold the
    /// broker for minutes at each tick. Retries with nothing changed since
    /// their last check cost nothing and are not counted.
    pub escalation_retries_per_tick: usize,
    /// Backoff for packages no retry could place: each fruitless retry
    /// doubles the wait before the next (`escalation_retry_min`, twice that,
    /// four times, ...) up to this many minutes; 0 retries every
    /// `escalation_retry_min` however long the package has waited. A county
    /// with hundreds escalated for days spends its ticks on them otherwise.
    pub escalation_retry_backoff_max_min: u32,
    /// Most teams fit-checked per package (nearest first), to bound latency.
    pub max_teams_checked: usize,
    /// Most teams fit-checked per package in a batch (hundreds of packages at
    /// once: the nearest teams carry almost every good placement).
    pub batch_max_teams_checked: usize,
    /// The rolling horizon (look-ahead), see `broker/horizon.rs`.
    pub horizon: super::horizon::HorizonPolicy,
    /// Minutes before an open offer's window closes at which an
    /// `offer_expiring` notice goes out (webhooks, live stream); 0 = none.
    pub offer_expiring_notice_min: u32,
    /// The delivery loop: check-in monitoring and late / missed visit alerts.
    pub delivery: DeliveryPolicy,
    // Live operations: dropped visits, emergency cover, brokerage integrity.
    /// A visit a re-plan drops that starts within this many hours goes to
    /// emergency cover at once (later ones raise an alert only); also the
    /// interim cover window for a failed provider's people. 0 turns it off.
    pub emergency_cover_window_h: u32,
    /// Travel minutes assumed to and from an emergency visit where a
    /// location is unknown (otherwise the real travel time counts).
    pub emergency_travel_buffer_min: u32,
    /// An alert is raised when the risk pool falls below this balance, pence.
    pub risk_pool_alert_below_pence: i64,
    /// Refuse out-of-order offers (a direct referral skipping a fitting
    /// higher tier's first refusal) even with a broker's reason.
    pub forbid_out_of_order_offers: bool,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            offer_mode: OfferMode::Broadcast,
            windows: OfferWindows::default(),
            specialist_first: true,
            specialist_skills: vec![
                "dementia".into(),
                "complex_care".into(),
                "clinical_nursing".into(),
                "peg_feeding".into(),
                "mental_health".into(),
                "end_of_life".into(),
            ],
            damages: DamagesPolicy::default(),
            top_slice_bp: 300,
            // Devon Cares' framework fee, £18.56 an hour.
            emergency_rate_pence: 1856,
            financial_year_start_month: 4,
            block_before_spot: true,
            escalation_retry_min: 30,
            escalation_retries_per_tick: 40,
            escalation_retry_backoff_max_min: 0,
            max_teams_checked: 16,
            batch_max_teams_checked: 12,
            // Two days: the visits someone could miss before a broker's next shift.
            emergency_cover_window_h: 48,
            emergency_travel_buffer_min: 30,
            risk_pool_alert_below_pence: 0,
            forbid_out_of_order_offers: false,
            horizon: Default::default(),
            offer_expiring_notice_min: 10,
            delivery: DeliveryPolicy::default(),
        }
    }
}

/// Which visits are watched for a missing check-in.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum VisitMonitoring {
    /// No late or missed alerts.
    Off,
    /// Visits of teams that use check-in (from the team's first check-in on):
    /// a provider without electronic call monitoring is not flooded with alerts.
    #[default]
    TeamsCheckingIn,
    /// Every visit planned to start after monitoring was switched on.
    All,
}

/// The delivery loop (docs/live-operations.md "Delivery loop").
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryPolicy {
    /// Which visits are watched.
    pub monitor: VisitMonitoring,
    /// A visit not checked in this many minutes after its planned start
    /// raises a `visit_late` alert to its team.
    pub late_after_min: u32,
    /// A visit still not checked in this many minutes after its planned start
    /// raises a `visit_missed` alert (must exceed `late_after_min`).
    pub missed_after_min: u32,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        // 30 minutes late is the usual contract tolerance for a home-care call.
        Self {
            monitor: VisitMonitoring::TeamsCheckingIn,
            late_after_min: 30,
            missed_after_min: 120,
        }
    }
}

impl BrokerConfig {
    /// Checks the values; messages name the field. The first issue, for
    /// callers that want one line (see [`BrokerConfig::issues`] for all).
    pub fn validate(&self) -> Result<(), String> {
        match self.issues().first() {
            None => Ok(()),
            Some(i) => Err(format!(
                "{}: {}",
                i.path.trim_start_matches("$."),
                i.message
            )),
        }
    }

    /// Every invalid value, each with the JSON path of its field.
    pub fn issues(&self) -> Vec<Issue> {
        let mut out = Vec::new();
        let mut bad = |path: &str, msg: String| {
            out.push(Issue::new(format!("$.{path}"), IssueCode::OutOfRange, msg));
        };
        if self.top_slice_bp > 10_000 {
            bad("top_slice_bp", "must be at most 10000 (100%)".into());
        }
        if !(1..=12).contains(&self.financial_year_start_month) {
            bad("financial_year_start_month", "must be 1-12".into());
        }
        if self.damages.amount_pence < 0 {
            bad("damages.amount_pence", "must not be negative".into());
        }
        if self.escalation_retry_backoff_max_min != 0
            && self.escalation_retry_backoff_max_min < self.escalation_retry_min
        {
            bad(
                "escalation_retry_backoff_max_min",
                format!(
                    "must be 0 (no backoff) or at least escalation_retry_min ({})",
                    self.escalation_retry_min
                ),
            );
        }
        if self.escalation_retries_per_tick == 0 {
            bad("escalation_retries_per_tick", "must be at least 1".into());
        }
        if self.max_teams_checked == 0 {
            bad("max_teams_checked", "must be at least 1".into());
        }
        if self.batch_max_teams_checked == 0 {
            bad("batch_max_teams_checked", "must be at least 1".into());
        }
        if self.emergency_cover_window_h > 14 * 24 {
            bad("emergency_cover_window_h", "must be 0-336 hours".into());
        }
        if self.emergency_travel_buffer_min > 240 {
            bad(
                "emergency_travel_buffer_min",
                "must be 0-240 minutes".into(),
            );
        }
        if let Err(m) = self.horizon.validate() {
            bad("horizon.lookahead_days", m);
        }
        let w = &self.windows;
        for (name, v) in [
            ("windows.tier1_min", w.tier1_min),
            ("windows.tier2_min", w.tier2_min),
            ("windows.tier3_min", w.tier3_min),
            ("windows.specialist_min", w.specialist_min),
            ("windows.emergency_cover_min", w.emergency_cover_min),
            ("windows.urgent_min", w.urgent_min),
        ] {
            if v == 0 || v > WEEK_MIN {
                bad(name, format!("must be 1-{WEEK_MIN} minutes, not {v}"));
            }
        }
        if self.offer_expiring_notice_min > WEEK_MIN {
            bad(
                "offer_expiring_notice_min",
                format!("must be 0-{WEEK_MIN} minutes"),
            );
        }
        let d = &self.delivery;
        if d.late_after_min == 0 || d.late_after_min > DAY_MIN {
            bad(
                "delivery.late_after_min",
                format!("must be 1-{DAY_MIN} minutes"),
            );
        }
        if d.missed_after_min <= d.late_after_min || d.missed_after_min > DAY_MIN {
            bad(
                "delivery.missed_after_min",
                format!(
                    "must be more than delivery.late_after_min ({}) and at most {DAY_MIN} minutes",
                    d.late_after_min
                ),
            );
        }
        out
    }
}

const WEEK_MIN: u32 = 7 * 24 * 60;
const DAY_MIN: u32 = 24 * 60;
