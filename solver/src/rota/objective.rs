//! The rota objective, in one place, shared by the route search and the MILP.
//!
//! Total cost = Σ route-local costs (travel, lateness, carer-specific visit
//! costs, shift use) + Σ unplaced penalties (by urgency) + distinct carers per
//! person × weight + contract shortfall × weight + the worst lateness of any
//! visit × weight. Route-local costs depend on a single route only, so a
//! route's cost can be stored with it in the route pool. The worst lateness is
//! a maximum, not a sum: each route keeps its own largest lateness
//! ([`crate::rota::search`]'s `Sched::max_late`, a pool route's stops), and the
//! term is the weight times the largest of those.

use crate::format::{ContractType, Urgency};
use crate::model::{Minute, Problem};

/// Penalty for leaving visit `v` unplaced (scaled by carers required: a
/// double-handed visit left unplaced leaves a person without two carers).
pub fn unplaced_penalty(p: &Problem, v: usize) -> f64 {
    let w = &p.weights;
    let visit = &p.visits[v];
    let base = match p.packages[visit.package].urgency {
        Urgency::Crisis => w.unplaced_crisis,
        Urgency::HospitalDischarge => w.unplaced_hospital_discharge,
        Urgency::ProviderFailure => w.unplaced_provider_failure,
        Urgency::Routine => w.unplaced_routine,
        Urgency::Planned => w.unplaced_planned,
    };
    base * f64::from(visit.carers_required)
}

/// Minutes carer `c` is contracted for over the horizon (0 for zero-hours carers).
pub fn contract_target(p: &Problem, c: usize) -> f64 {
    let carer = &p.carers[c];
    match carer.contract {
        ContractType::ZeroHours => 0.0,
        _ => f64::from(carer.contracted_min_per_week) * f64::from(p.horizon.days) / 7.0,
    }
}

/// Cost of carer `c` working `worked` minutes over the horizon.
pub fn contract_shortfall_cost(p: &Problem, c: usize, worked: f64) -> f64 {
    (contract_target(p, c) - worked).max(0.0) * p.weights.contract_shortfall_min
}

/// Carer-specific cost of carer `c` making visit `v` (preferences, continuity history, stability).
pub fn carer_visit_cost(p: &Problem, c: usize, v: usize, existing_carers: Option<&[usize]>) -> f64 {
    let w = &p.weights;
    let user = &p.service_users[p.visits[v].service_user];
    let mut cost = 0.0;
    if !user.known.is_empty() && user.known.binary_search(&c).is_err() {
        cost += w.unknown_carer_visit;
    }
    if !user.preferred.is_empty() && user.preferred.binary_search(&c).is_err() {
        cost += w.non_preferred_carer_visit;
    }
    if user
        .gender_preferred
        .is_some_and(|g| g != p.carers[c].gender)
    {
        cost += w.non_preferred_gender_visit;
    }
    if let Some(before) = existing_carers
        && !before.contains(&c)
    {
        cost += w.changed_visit;
    }
    cost
}

/// Lateness cost of starting `late` minutes after the latest on-time start.
pub fn lateness_cost(p: &Problem, late: Minute) -> f64 {
    match p.lateness {
        crate::model::LatenessRule::Hard => 0.0,
        crate::model::LatenessRule::Soft { cost_per_min, .. } => {
            cost_per_min * f64::from(late.max(0))
        }
    }
}

/// Cost of the worst-lateness term when the latest visit of the rota starts
/// `late` minutes after its latest on-time start (0 with hard windows, where
/// nothing is late).
pub fn worst_late_cost(p: &Problem, late: Minute) -> f64 {
    p.weights.worst_late_min * f64::from(late.max(0))
}

/// Cost of the continuity term: distinct carers a person sees.
pub fn distinct_carer_cost(p: &Problem, distinct: usize) -> f64 {
    p.weights.distinct_carer * distinct as f64
}
