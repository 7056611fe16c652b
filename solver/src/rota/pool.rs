//! The route pool: good carer-shift routes met during the search, for the MILP.

use crate::model::Minute;

/// One carer shift's visits in order with start times, and what it costs on its own.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolRoute {
    /// Shift index.
    pub shift: usize,
    /// `(visit, start minute)` in visiting order; double-handed and linked visits
    /// carry the start their partners must match.
    pub stops: Vec<(usize, Minute)>,
    /// Route-local cost ([`super::objective`]): travel, lateness, carer-visit costs, shift use.
    pub local_cost: f64,
    /// Paid working minutes (visits + paid travel), for daily/weekly limits and contracts.
    pub work_min: i64,
}
