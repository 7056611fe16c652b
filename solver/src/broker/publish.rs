//! A planner's re-solved rota published over a team's current one.
//!
//! The planner re-solves a team's week away from the broker (an asynchronous
//! job over [`Broker::team_request_with_rota`]), possibly with some visits
//! pinned, and publishes the result. Brokering kept running meanwhile, so the
//! rota is checked against the team's roster *now*: a rota that misses a visit
//! accepted since, uses a carer who left or moves a pinned visit is refused and
//! the planner re-solves again.

use super::{Broker, BrokerError, BrokerEvent};
use crate::format::{ExistingAssignment, PlanningRequest, Rota};
use crate::model::Problem;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};

impl Broker {
    /// The team's planning request with its published rota as `existing_rota`
    /// (each visit's carers and start); visits in `pinned` are marked pinned, so
    /// a solve keeps them exactly. `None` for an unknown team.
    pub fn team_request_with_rota(
        &self,
        team: &str,
        pinned: &BTreeSet<String>,
    ) -> Option<PlanningRequest> {
        let mut req = self.team_request(team)?;
        let mut by_visit: BTreeMap<&str, (Vec<String>, &str)> = BTreeMap::new();
        if let Some(rota) = self.rotas.get(team) {
            for r in &rota.routes {
                for s in &r.stops {
                    let e = by_visit
                        .entry(s.visit.as_str())
                        .or_insert_with(|| (Vec::new(), s.start.as_str()));
                    e.0.push(r.carer.clone());
                }
            }
        }
        req.existing_rota = by_visit
            .into_iter()
            .map(|(visit, (mut carers, start))| {
                carers.sort();
                ExistingAssignment {
                    pinned: pinned.contains(visit),
                    visit: visit.to_string(),
                    carers,
                    start: Some(start.to_string()),
                }
            })
            .collect();
        Some(req)
    }

    /// Publishes `rota` as `team`'s rota once the independent checker finds no
    /// violation against the team's current roster, with the visits in `pinned`
    /// required to stay exactly where the current rota has them.
    pub fn publish_rota(
        &mut self,
        team: &str,
        mut rota: Rota,
        pinned: Vec<String>,
        now: DateTime<Utc>,
    ) -> Result<Vec<BrokerEvent>, BrokerError> {
        let pins: BTreeSet<String> = pinned.iter().cloned().collect();
        let req = self
            .team_request_with_rota(team, &pins)
            .ok_or_else(|| BrokerError::UnknownTeam(team.to_string()))?;
        if let Some(v) = pins
            .iter()
            .find(|v| !req.existing_rota.iter().any(|e| &e.visit == *v))
        {
            return Err(BrokerError::Refused {
                code: "pin_not_on_rota",
                detail: format!(
                    "pinned visit `{v}` is not on team `{team}`'s published rota; only placed visits can be pinned"
                ),
            });
        }
        let problem = Problem::from_request(&req).map_err(|issues| {
            BrokerError::Invalid(format!(
                "team `{team}`: {}",
                issues
                    .first()
                    .map(|i| format!("{}: {}", i.path, i.message))
                    .unwrap_or_default()
            ))
        })?;
        // Claimed figures would describe the request the job solved, not this one.
        rota.kpis = None;
        rota.stats = None;
        let report = crate::check::check(&problem, &rota);
        if let Some(first) = report.violations.first() {
            return Err(BrokerError::Refused {
                code: "rota_not_current",
                detail: format!(
                    "the rota does not fit team `{team}` as it is now ({} violation(s); first: {first}); re-solve and publish again",
                    report.violations.len()
                ),
            });
        }
        let mut out = Vec::new();
        self.emit(
            BrokerEvent::RotaPublished {
                at: now,
                team: team.to_string(),
                rota,
                pinned: pins.into_iter().collect(),
            },
            &mut out,
        );
        Ok(out)
    }
}
