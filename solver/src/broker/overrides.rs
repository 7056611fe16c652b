//! Brokerage integrity: first refusal cannot be skipped silently. A direct
//! referral to a provider's team (an applied recommendation) while a provider
//! of an earlier cascade stage has a fitting team is an out-of-order offer: it
//! needs a broker's reason code, is recorded on the package (and in the
//! overrides report), and a policy may forbid it outright.

use super::candidates::CandidateReport;
use super::records::{OfferOverride, OverrideReason};
use super::{Broker, BrokerError};
use crate::format::{Issue, IssueCode, Tier};
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

/// Longest override note accepted.
pub const MAX_NOTE_LEN: usize = 2000;

/// What a broker gives with a direct referral.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OverrideRequest {
    /// Reason code (required when the offer is out of order).
    pub reason: Option<OverrideReason>,
    /// Note (required for `other`).
    pub note: Option<String>,
    /// Key id of the broker.
    pub by: Option<String>,
}

impl Broker {
    /// The override a direct offer of `package` to `provider`'s `team` needs
    /// (`None` when no earlier stage has a fitting provider), or why it is
    /// refused: no reason (422 on `$.override_reason`), `other` without a note
    /// (422 on `$.override_note`), or forbidden by policy. `report` is the
    /// package's candidate search as of this state (see [`Broker::candidates`]).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn check_out_of_order(
        &self,
        report: &CandidateReport,
        provider: &str,
        team: &str,
        tier: Tier,
        req: &OverrideRequest,
        now: DateTime<Utc>,
    ) -> Result<Option<OfferOverride>, BrokerError> {
        let order = &report.stage_order;
        let mine = order.iter().position(|&t| t == tier).unwrap_or(order.len());
        let none = BTreeSet::new();
        let skipped = order[..mine].iter().find_map(|&stage| {
            let providers: BTreeSet<String> = report
                .at_stage(stage, &none)
                .into_iter()
                .map(|c| c.provider.clone())
                .filter(|p| p != provider)
                .collect();
            (!providers.is_empty()).then_some((stage, providers))
        });
        let Some((stage, providers)) = skipped else {
            return Ok(None);
        };
        let names = providers.iter().cloned().collect::<Vec<_>>().join(", ");
        if self.config.forbid_out_of_order_offers {
            return Err(BrokerError::Refused {
                code: "out_of_order_forbidden",
                detail: format!(
                    "policy forbids out-of-order offers: {stage:?} providers ({names}) have a fitting team and get first refusal; refer the package normally"
                ),
            });
        }
        let Some(reason) = req.reason else {
            return Err(BrokerError::InvalidFields(vec![Issue::new(
                "$.override_reason",
                IssueCode::Contradiction,
                format!(
                    "this offer skips the first refusal of {stage:?} providers with a fitting team ({names}): give override_reason ({}), or refer the package normally",
                    OverrideReason::CODES
                ),
            )]));
        };
        let note = req
            .note
            .as_ref()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty());
        if reason == OverrideReason::Other && note.is_none() {
            return Err(BrokerError::InvalidFields(vec![Issue::new(
                "$.override_note",
                IssueCode::Contradiction,
                "override_reason `other` needs a note saying why",
            )]));
        }
        if note.as_ref().is_some_and(|n| n.len() > MAX_NOTE_LEN) {
            return Err(BrokerError::InvalidFields(vec![Issue::new(
                "$.override_note",
                IssueCode::OutOfRange,
                format!("at most {MAX_NOTE_LEN} characters"),
            )]));
        }
        Ok(Some(OfferOverride {
            at: now,
            provider: provider.to_string(),
            team: team.to_string(),
            tier,
            skipped_stage: stage,
            skipped_providers: providers.into_iter().collect(),
            reason,
            note,
            by: req.by.clone(),
        }))
    }
}
