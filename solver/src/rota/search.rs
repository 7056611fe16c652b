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
//! - `timing`: timing a route (starts, breaks, latest starts, local cost);
//! - `pricing`: the cheapest insertion of a visit, with the carer-level rules;
//! - `double_handed`: two carers at one start for double-handed visits;
//! - `construction`: first rotas and the recreate step;
//! - `ruin`: which visits the ruin step takes out;
//! - `local`, `repair`, `person_first`, `sequential`: route local search,
//!   unplaced-visit repair, person-by-person and sequential first rotas;
//! - `bound`: a lower bound on a part's objective;
//! - `diagnosis`: why a visit stays unplaced.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

mod bound;
#[cfg(test)]
mod construct_tests;
mod construction;
mod diagnosis;
mod double_handed;
mod local;
#[cfg(test)]
mod local_tests;
mod part;
mod person_first;
mod pricing;
mod repair;
#[cfg(test)]
mod repair_tests;
mod ruin;
mod sequential;
mod state;
mod timing;

pub(crate) use crate::rota::rules::Block;
pub(crate) use part::Part;
pub(crate) use pricing::Insertion;
pub(crate) use state::{OnShifts, Sched, State};

/// A hash map for the search's index keys (visits, shifts, carers, days): a
/// multiply-rotate hasher instead of SipHash, which dominated lookups in
/// profiles. Keys are internal indices, never outside input, so hash flooding
/// is not a concern; iteration order is also the same on every run.
pub(crate) type Map<K, V> = HashMap<K, V, BuildHasherDefault<IndexHasher>>;

/// The hasher of [`Map`]: one multiply and rotate per integer written.
#[derive(Default, Clone, Copy)]
pub(crate) struct IndexHasher(u64);

impl IndexHasher {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    fn add(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(26) ^ x).wrapping_mul(Self::K);
    }
}

impl Hasher for IndexHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.add(u64::from(b));
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}
