//! Eligibility: the carer holds every skill the visit needs, is of the gender
//! the person requires, is not excluded by the person, and belongs to the
//! person's neighbourhood team when both have one ([`Problem::eligibility`],
//! the model's definition, which the broker shares).
//!
//! The search never offers a visit to an ineligible carer: the rule filters
//! the candidate shifts of every visit once per part, so no insertion, move or
//! route column (built from search routes) can break it.

use super::{Block, Candidates, Milp, NotHere, Reason, Rule};
use crate::model::{Minute, PersonId, Problem, ShiftId, VisitId};
use crate::rota::master::MasterRows;

pub(crate) struct Eligibility;

/// The reason when no carer of the rota holds the visit's skills.
pub(crate) const NO_SKILL: &str = "no_skilled_carer";

impl Eligibility {
    /// Why no carer (or too few for a double-handed visit) of `rota_carers`
    /// may take visit `v`, as a (code, message) pair; `None` when enough may.
    pub(crate) fn diagnose(
        p: &Problem,
        rota_carers: &[usize],
        v: VisitId,
    ) -> Option<(String, String)> {
        let visit = p.visit(v);
        let user = p.person(p.person_of(v));
        let skilled: Vec<usize> = (0..p.carers.len())
            .filter(|&c| p.carers[c].skills.covers(visit.skills))
            .collect();
        if skilled.is_empty()
            || (!rota_carers.is_empty() && !rota_carers.iter().any(|c| skilled.contains(c)))
        {
            return Some((
                NO_SKILL.to_string(),
                format!(
                    "no carer on this rota holds {:?}",
                    p.skill_names(visit.skills)
                ),
            ));
        }
        let eligible = (0..p.carers.len())
            .filter(|&c| p.eligibility(c, v.index()).is_ok())
            .count();
        if eligible < usize::from(visit.carers_required) {
            let message = if user.gender_required.is_some() {
                "no carer of the required gender with the needed skills"
            } else if !user.excluded.is_empty() {
                "the only skilled carers are excluded by the person"
            } else {
                Self::REASON.message
            };
            return Some((Self::REASON.code.to_string(), message.to_string()));
        }
        None
    }
}

impl Rule for Eligibility {
    const NAME: &'static str = "eligibility";
    const BLOCK: Block = Block::Ineligible;
    const REASON: Reason = Reason {
        code: "no_eligible_carer",
        message: "no carer of the person's team holds the needed skills",
    };
    type Candidates = Self;
    type Starts = NotHere;
    type Stops = NotHere;
    type Timing = NotHere;
    type Carers = NotHere;

    fn master_rows(_: &mut MasterRows<'_>) -> Milp {
        Milp::InColumns("route columns come from the search, which offers a visit only to eligible carers")
    }

    fn bound_carer_limit(_: &Problem, _: PersonId) -> Option<usize> {
        // The bound reads the candidate lists, which this rule already filters.
        None
    }
}

impl Candidates for Eligibility {
    #[inline]
    fn admits_shift(p: &Problem, s: ShiftId, v: VisitId, _: Minute) -> bool {
        p.eligibility(p.carer_of(s).index(), v.index()).is_ok()
    }
}
