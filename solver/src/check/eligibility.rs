//! Eligibility: the carer holds every skill the visit needs, is of the gender
//! the person requires, is not excluded by the person, and belongs to the
//! person's neighbourhood team (when both have one).
//!
//! Re-derived here from the model's fields rather than through
//! `Problem::eligibility`, which the engine uses.

use super::timeline::Timeline;
use super::{Flags, ViolationCode};
use crate::model::SkillSet;

pub(super) fn verify(t: &Timeline<'_>, out: &mut Flags) {
    let p = t.p;
    for route in &t.routes {
        let c = route.carer;
        let carer = p.carer(c);
        for stop in &route.stops {
            let visit = p.visit(stop.visit);
            let user = &p.service_users[visit.service_user];
            let id = Some(visit.id.as_str());
            let r = Some(route.index);
            let missing = visit.skills.0 & !carer.skills.0;
            if missing != 0 {
                out.flag(
                    ViolationCode::MissingSkill,
                    r,
                    id,
                    format!(
                        "carer `{}` lacks {:?}",
                        carer.id,
                        p.skill_names(SkillSet(missing))
                    ),
                );
            }
            if let Some(g) = user.gender_required
                && g != carer.gender
            {
                out.flag(
                    ViolationCode::GenderRequired,
                    r,
                    id,
                    format!(
                        "`{}` requires a {g:?} carer; `{}` is {:?}",
                        user.id, carer.id, carer.gender
                    ),
                );
            }
            if user.excluded.contains(&c.index()) {
                out.flag(
                    ViolationCode::ExcludedCarer,
                    r,
                    id,
                    format!("`{}` has excluded carer `{}`", user.id, carer.id),
                );
            }
            if let (Some(ut), Some(ct)) = (user.team, carer.team)
                && ut != ct
            {
                out.flag(
                    ViolationCode::WrongTeam,
                    r,
                    id,
                    format!(
                        "`{}` is in team `{}`, carer `{}` in `{}`",
                        user.id, p.teams[ut].id, carer.id, p.teams[ct].id
                    ),
                );
            }
        }
    }
}
