//! Brokering policy: every rule the seeds leave open is a setting here, with a
//! documented default (docs/domain.md §13 "make each configurable").

use crate::format::{Tier, Urgency};
use serde::{Deserialize, Serialize};

/// How offers go out within one tier.
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
    /// Most teams fit-checked per package (nearest first), to bound latency.
    pub max_teams_checked: usize,
    /// Most teams fit-checked per package in a batch (hundreds of packages at
    /// once: the nearest teams carry almost every good placement).
    pub batch_max_teams_checked: usize,
    /// The rolling horizon (look-ahead), see `broker/horizon.rs`.
    pub horizon: super::horizon::HorizonPolicy,
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
            max_teams_checked: 16,
            batch_max_teams_checked: 12,
            horizon: Default::default(),
        }
    }
}

impl BrokerConfig {
    /// Checks the values; messages name the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.top_slice_bp > 10_000 {
            return Err("top_slice_bp must be at most 10000 (100%)".into());
        }
        if !(1..=12).contains(&self.financial_year_start_month) {
            return Err("financial_year_start_month must be 1-12".into());
        }
        if self.damages.amount_pence < 0 {
            return Err("damages.amount_pence must not be negative".into());
        }
        if self.max_teams_checked == 0 || self.batch_max_teams_checked == 0 {
            return Err("max_teams_checked and batch_max_teams_checked must be at least 1".into());
        }
        self.horizon.validate()?;
        let w = &self.windows;
        for (name, v) in [
            ("windows.tier1_min", w.tier1_min),
            ("windows.tier2_min", w.tier2_min),
            ("windows.tier3_min", w.tier3_min),
            ("windows.specialist_min", w.specialist_min),
            ("windows.emergency_cover_min", w.emergency_cover_min),
            ("windows.urgent_min", w.urgent_min),
        ] {
            if v == 0 || v > 7 * 24 * 60 {
                return Err(format!("{name} must be 1-10080 minutes"));
            }
        }
        Ok(())
    }
}
