//! Why a visit stays unplaced: the reason codes and messages reported with
//! the rota.

use super::{Block, Part, State};
use crate::rota::rules::{self, Reason};

impl Part<'_> {
    /// Why `v` cannot be inserted into the final state, as (code, message) pairs.
    pub fn diagnose(&self, st: &State, v: usize) -> Vec<(String, String)> {
        let p = self.p;
        let visit = &p.visits[v];
        let user = &p.service_users[visit.service_user];
        let all_carers: Vec<usize> = {
            let mut c: Vec<usize> = self.shifts.iter().map(|&s| p.shifts[s].carer).collect();
            c.sort_unstable();
            c.dedup();
            c
        };
        let skilled: Vec<usize> = (0..p.carers.len())
            .filter(|&c| p.carers[c].skills.covers(visit.skills))
            .collect();
        let mut out = Vec::new();
        if skilled.is_empty()
            || (!all_carers.is_empty() && !all_carers.iter().any(|c| skilled.contains(c)))
        {
            out.push((
                "no_skilled_carer".to_string(),
                format!(
                    "no carer on this rota holds {:?}",
                    p.skill_names(visit.skills)
                ),
            ));
            return out;
        }
        let eligible: Vec<usize> = (0..p.carers.len())
            .filter(|&c| p.eligibility(c, v).is_ok())
            .collect();
        if eligible.len() < usize::from(visit.carers_required) {
            let reason = if user.gender_required.is_some() {
                "no carer of the required gender with the needed skills"
            } else if !user.excluded.is_empty() {
                "the only skilled carers are excluded by the person"
            } else {
                "no carer of the person's team holds the needed skills"
            };
            out.push(("no_eligible_carer".to_string(), reason.to_string()));
            return out;
        }
        let cands = self.candidates.get(&v).map_or(0, Vec::len);
        if cands < usize::from(visit.carers_required) {
            out.push((
                "no_carer_available".to_string(),
                format!(
                    "no eligible carer has a shift between {} and {}",
                    p.horizon.format(visit.earliest_start),
                    p.horizon.format(visit.latest_start + visit.duration)
                ),
            ));
            return out;
        }
        let mut blocks = Vec::new();
        if self.best_insertion(st, v, &mut blocks).is_some() {
            out.push((
                "not_worth_placing".to_string(),
                "a place exists but the objective weights prefer leaving it (check unplaced weights)".to_string(),
            ));
            return out;
        }
        blocks.sort_unstable();
        blocks.dedup();
        for b in blocks {
            // Registered rules report their own reason; the blocks of rules
            // still enforced in route timing and link bounds are named here.
            let Reason { code, message } = rules::reason(b).unwrap_or(match b {
                Block::LinkedVisit => Reason {
                    code: "linked_visit_conflict",
                    message: "the linked visit's time leaves no feasible start for this one",
                },
                _ => Reason {
                    code: "carers_busy",
                    message: "every eligible carer's shift is full in that window (visits and travel leave no room)",
                },
            });
            out.push((code.to_string(), message.to_string()));
        }
        if visit.carers_required > 1 {
            out.push((
                "no_second_carer".to_string(),
                "no two eligible carers are free at the same time".to_string(),
            ));
        }
        if out.is_empty() {
            out.push((
                "carers_busy".to_string(),
                "no feasible place in any eligible carer's route".to_string(),
            ));
        }
        out
    }
}
