//! Route search over one independent part of the problem: cheapest-insertion
//! construction, then ruin-and-recreate large neighbourhood search.
//!
//! A route is one carer shift's visits in order. Start times are as early as
//! possible, except *anchored* visits (double-handed or linked), whose start is
//! fixed when they are inserted so partners stay synchronised; a later
//! insertion may not push an anchored visit.
//!
//! [`Part`] holds one part's static data (`part`), [`State`] the rota being
//! searched (`state`). The search itself, by concern:
//! - `timing`: timing a route (starts, latest starts, local cost), with the
//!   hard rules' stop checks and re-timing (`rota::rules`);
//! - `pricing`: the cheapest insertion of a visit, with the carer-level rules;
//! - `double_handed`: two carers at one start for double-handed visits;
//! - `construction`: first rotas and the recreate step;
//! - `ruin`: which visits the ruin step takes out;
//! - `local`, `repair`, `person_first`, `sequential`: route local search,
//!   unplaced-visit repair, person-by-person and sequential first rotas;
//! - `bound`: a lower bound on a part's objective;
//! - `diagnosis`: why a visit stays unplaced.

use std::collections::HashMap;

mod bound;
#[cfg(test)]
mod construct_tests;
mod construction;
mod diagnosis;
mod double_handed;
mod local;
#[cfg(test)]
mod local_tests;
mod pair;
mod part;
mod person_first;
mod pricing;
mod repair;
#[cfg(test)]
mod repair_tests;
mod room_bound;
mod route_bound;
mod ruin;
#[cfg(test)]
mod ruin_tests;
mod sequential;
mod state;
mod timing;

pub(crate) use crate::rota::rules::Block;
pub(crate) use part::{JoinedDay, Part};
pub(crate) use pricing::Insertion;
pub(crate) use state::{OnShifts, Sched, State};

/// A hash map for the search's index keys (visits, shifts, carers, days):
/// rustc's Fx hasher instead of SipHash, which dominated lookups in profiles.
/// Keys are internal indices, never outside input, so hash flooding is not a
/// concern; iteration order is also the same on every run.
pub(crate) type Map<K, V> = HashMap<K, V, rustc_hash::FxBuildHasher>;
