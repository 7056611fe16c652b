//! What a re-plan did to a published rota, visit by visit: moved to other
//! carers, re-timed, dropped (now unplaced) or newly placed. Every re-plan
//! (a carer's absence or availability, a provider failure, a re-solve with
//! `existing_rota`) answers with one, so nobody has to diff rotas by hand to
//! find out who will not be seen.

use super::rota::Rota;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One visit's change.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct VisitChange {
    /// Concrete visit id `"{package}/{pattern}@{date}"`.
    pub visit: String,
    /// Service user (person) id.
    pub person: String,
    /// Carers before (empty when it was not planned).
    pub from_carers: Vec<String>,
    /// Carers after (empty when it is not planned now).
    pub to_carers: Vec<String>,
    /// Planned start before, RFC 3339.
    #[serde(default)]
    pub old_start: Option<String>,
    /// Planned start after, RFC 3339.
    #[serde(default)]
    pub new_start: Option<String>,
    /// Stable code of why: the re-plan's cause (`carer_absent`,
    /// `availability_changed`, `carer_changed`, `provider_failed`, `re_solve`)
    /// or, for a dropped visit, the unplaced reason (`no_eligible_carer`...).
    pub reason: String,
}

/// The difference between a rota and the one it replaced.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ChangeList {
    /// Visits now made by other carers (their times may have changed too).
    #[serde(default)]
    pub moved: Vec<VisitChange>,
    /// Visits kept with the same carers at another time.
    #[serde(default)]
    pub retimed: Vec<VisitChange>,
    /// Visits planned before that are not planned now.
    #[serde(default)]
    pub dropped: Vec<VisitChange>,
    /// Visits not planned before that are planned now.
    #[serde(default)]
    pub placed: Vec<VisitChange>,
}

impl ChangeList {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.moved.is_empty()
            && self.retimed.is_empty()
            && self.dropped.is_empty()
            && self.placed.is_empty()
    }
}

/// Carers (sorted) and start of one planned visit.
pub type Assignment = (Vec<String>, Option<String>);

/// Carers and start of every placed visit of a rota.
pub fn assignments(rota: &Rota) -> BTreeMap<String, Assignment> {
    let mut m: BTreeMap<String, Assignment> = BTreeMap::new();
    for r in &rota.routes {
        for s in &r.stops {
            let e = m
                .entry(s.visit.clone())
                .or_insert_with(|| (Vec::new(), Some(s.start.clone())));
            e.0.push(r.carer.clone());
        }
    }
    for v in m.values_mut() {
        v.0.sort();
    }
    m
}

/// Same instant written two ways (`Z` or `+00:00`) counts as the same time.
fn same_time(a: &Option<String>, b: &Option<String>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => {
            a == b
                || matches!(
                    (
                        chrono::DateTime::parse_from_rfc3339(a),
                        chrono::DateTime::parse_from_rfc3339(b)
                    ),
                    (Ok(x), Ok(y)) if x == y
                )
        }
        _ => true,
    }
}

/// The change list from `before` to `after` (whose `unplaced` gives a dropped
/// visit's reason). `person` names a visit's service user when `after` does
/// not list it unplaced; `why` is the re-plan's cause.
pub fn diff(
    before: &BTreeMap<String, Assignment>,
    after: &Rota,
    person: &dyn Fn(&str) -> String,
    why: &str,
) -> ChangeList {
    let now = assignments(after);
    let unplaced: BTreeMap<&str, &super::rota::UnplacedVisit> = after
        .unplaced
        .iter()
        .map(|u| (u.visit.as_str(), u))
        .collect();
    let mut out = ChangeList::default();
    let change = |visit: &str, was: Option<&Assignment>, is: Option<&Assignment>, reason: &str| {
        VisitChange {
            visit: visit.to_string(),
            person: unplaced
                .get(visit)
                .map_or_else(|| person(visit), |u| u.service_user.clone()),
            from_carers: was.map(|a| a.0.clone()).unwrap_or_default(),
            to_carers: is.map(|a| a.0.clone()).unwrap_or_default(),
            old_start: was.and_then(|a| a.1.clone()),
            new_start: is.and_then(|a| a.1.clone()),
            reason: reason.to_string(),
        }
    };
    for (v, was) in before {
        match now.get(v) {
            Some(is) if is.0 != was.0 => out.moved.push(change(v, Some(was), Some(is), why)),
            Some(is) if !same_time(&is.1, &was.1) => {
                out.retimed.push(change(v, Some(was), Some(is), why))
            }
            Some(_) => {}
            None => {
                let reason = unplaced
                    .get(v.as_str())
                    .and_then(|u| u.reasons.first())
                    .map_or(why, |r| r.code.as_str());
                out.dropped.push(change(v, Some(was), None, reason));
            }
        }
    }
    for (v, is) in &now {
        if !before.contains_key(v) {
            out.placed.push(change(v, None, Some(is), why));
        }
    }
    out
}

/// The service user of a visit id, from the package it belongs to.
pub fn person_of_visit(packages: &[super::request::Package]) -> impl Fn(&str) -> String + use<> {
    let by_package: BTreeMap<String, String> = packages
        .iter()
        .map(|p| (p.id.clone(), p.service_user.clone()))
        .collect();
    move |visit: &str| {
        let pkg = visit.split('/').next().unwrap_or(visit);
        by_package.get(pkg).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::rota::{Route, Stop, UnplacedReason, UnplacedVisit};

    fn stop(visit: &str, start: &str) -> Stop {
        Stop {
            visit: visit.into(),
            service_user: "su".into(),
            arrival: start.into(),
            start: start.into(),
            end: start.into(),
            travel_min: 0,
            travel_m: 0,
            late_min: 0,
        }
    }

    #[test]
    fn each_visit_is_moved_retimed_dropped_or_placed() {
        let before: BTreeMap<String, Assignment> = [
            ("p/a@d", "A", "2026-11-30T08:00:00+00:00"),
            ("p/b@d", "A", "2026-11-30T09:00:00+00:00"),
            ("p/c@d", "B", "2026-11-30T10:00:00+00:00"),
            ("p/d@d", "B", "2026-11-30T11:00:00+00:00"),
        ]
        .into_iter()
        .map(|(v, c, t)| (v.to_string(), (vec![c.to_string()], Some(t.to_string()))))
        .collect();
        let after = Rota {
            routes: vec![
                Route {
                    carer: "A".into(),
                    shift: "A#1".into(),
                    stops: vec![
                        // Same instant written with Z: not a change.
                        stop("p/a@d", "2026-11-30T08:00:00Z"),
                        stop("p/c@d", "2026-11-30T10:00:00+00:00"),
                        stop("p/e@d", "2026-11-30T12:00:00+00:00"),
                    ],
                    start_travel_min: 0,
                    end_travel_min: 0,
                },
                Route {
                    carer: "B".into(),
                    shift: "B#1".into(),
                    stops: vec![stop("p/d@d", "2026-11-30T11:30:00+00:00")],
                    start_travel_min: 0,
                    end_travel_min: 0,
                },
            ],
            unplaced: vec![UnplacedVisit {
                visit: "p/b@d".into(),
                service_user: "su9".into(),
                reasons: vec![UnplacedReason {
                    code: "no_eligible_carer".into(),
                    message: String::new(),
                }],
            }],
            ..Rota::default()
        };
        let c = diff(&before, &after, &|_| "su".into(), "carer_absent");
        let ids = |v: &[VisitChange]| v.iter().map(|c| c.visit.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&c.moved), ["p/c@d"]);
        assert_eq!(ids(&c.retimed), ["p/d@d"]);
        assert_eq!(ids(&c.dropped), ["p/b@d"]);
        assert_eq!(ids(&c.placed), ["p/e@d"]);
        assert_eq!(c.dropped[0].reason, "no_eligible_carer");
        assert_eq!(c.dropped[0].person, "su9");
        assert_eq!(c.moved[0].from_carers, ["B"]);
        assert_eq!(c.moved[0].to_carers, ["A"]);
        assert_eq!(c.moved[0].reason, "carer_absent");
    }
}
