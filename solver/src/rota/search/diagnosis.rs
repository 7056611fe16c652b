//! Why a visit stays unplaced: the reason codes and messages reported with
//! the rota, each the reason of the hard rule that blocks it (`rota::rules`).

use super::{Part, State};
use crate::model::VisitId;
use crate::rota::rules::availability::Availability;
use crate::rota::rules::double_handed::DoubleHanded;
use crate::rota::rules::eligibility::Eligibility;
use crate::rota::rules::{self, BUSY, Reason, Rule};

impl Part<'_> {
    /// Why `v` cannot be inserted into the final state, as (code, message) pairs.
    pub fn diagnose(&self, st: &State, v: usize) -> Vec<(String, String)> {
        let p = self.p;
        let visit = &p.visits[v];
        let all_carers: Vec<usize> = {
            let mut c: Vec<usize> = self.shifts.iter().map(|&s| p.shifts[s].carer).collect();
            c.sort_unstable();
            c.dedup();
            c
        };
        let mut out = Vec::new();
        // Rules of the candidate lists first: no insertion was even tried.
        if let Some(why) = Eligibility::diagnose(p, &all_carers, VisitId(v)) {
            out.push(why);
            return out;
        }
        let cands = self.candidates.get(&v).map_or(0, Vec::len);
        if cands < usize::from(visit.carers_required) {
            out.push((
                Availability::REASON.code.to_string(),
                Availability::message(p, VisitId(v)),
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
            let Reason { code, message } = rules::reason(b).unwrap_or(BUSY);
            out.push((code.to_string(), message.to_string()));
        }
        if visit.carers_required > 1 {
            let Reason { code, message } = DoubleHanded::REASON;
            out.push((code.to_string(), message.to_string()));
        }
        if out.is_empty() {
            out.push((
                BUSY.code.to_string(),
                "no feasible place in any eligible carer's route".to_string(),
            ));
        }
        out
    }
}
