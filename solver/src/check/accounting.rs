//! Accounting: every visit is either placed or listed once as unplaced, and
//! every unplaced visit exists and carries a reason.

use super::timeline::Timeline;
use super::{Flags, ViolationCode};
use std::collections::HashMap;

pub(super) fn verify(t: &Timeline<'_>, out: &mut Flags) {
    let p = t.p;
    let mut unplaced: HashMap<&str, usize> = HashMap::new();
    for u in &t.rota.unplaced {
        *unplaced.entry(u.visit.as_str()).or_default() += 1;
        if u.reasons.is_empty() {
            out.flag(
                ViolationCode::UnplacedWithoutReason,
                None,
                Some(&u.visit),
                "unplaced visit without a reason".into(),
            );
        }
        if !p.visit_index.contains_key(&u.visit) {
            out.flag(
                ViolationCode::UnknownVisit,
                None,
                Some(&u.visit),
                "unplaced visit does not exist".into(),
            );
        }
    }
    for (visit, on) in p.visits.iter().zip(&t.placed) {
        let listed = unplaced.get(visit.id.as_str()).copied().unwrap_or(0);
        if on.is_empty() && listed != 1 {
            out.flag(
                ViolationCode::VisitUnaccounted,
                None,
                Some(&visit.id),
                format!("neither placed nor listed once as unplaced (listed {listed} times)"),
            );
        } else if !on.is_empty() && listed > 0 {
            out.flag(
                ViolationCode::VisitUnaccounted,
                None,
                Some(&visit.id),
                "both placed and listed as unplaced".into(),
            );
        }
    }
}
