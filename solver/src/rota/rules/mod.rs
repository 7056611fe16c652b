//! The hard rules the rota engine enforces, one module per rule, listed once
//! in the registry at the bottom of this file.
//!
//! Every rule is a unit struct implementing [`Rule`]. Its required items are
//! every place the engine enforces it, so a rule cannot be half wired: the
//! insertion check ([`Rule::room`] read once per shift, [`Rule::admits`] per
//! position, statically dispatched on the search's hot path), the check of a
//! local-search change ([`Rule::admits_change`]), the set-partitioning rows in
//! [`super::master`] ([`Rule::master_rows`]: the rows it adds, or
//! [`Milp::InColumns`] saying why every route column already satisfies it),
//! the check of a master selection ([`Rule::check_selection`]), the unplaced
//! reason ([`Rule::REASON`], reported for [`Rule::BLOCK`]) and its part in the
//! lower bound ([`Rule::bound_carer_limit`], `None` where the bound relaxes it).
//! None has a default, so a rule missing one does not compile.
//!
//! **Adding a rule:** write `rota/rules/NAME.rs` with `pub(crate) struct Name;`
//! and `impl Rule for Name`, add its [`Block`] variant if its check can fail
//! for a new reason, and add one line `NAME::Name,` to `registry!` below (the
//! line also declares the module). The registry order is the order checks run,
//! rows are built and selection violations are reported. The independent
//! checker (`crate::check`) verifies the same rules under the same names.
//!
//! Rules enforced inside route timing ([`super::search`]'s `timing`: time
//! windows and lateness, shifts, breaks, capacity, anchored starts of
//! double-handed and linked visits) and in the candidate lists (eligibility,
//! availability) are not in the registry yet; their reasons are in the search's
//! `diagnosis`.

use super::master::MasterRows;
use super::search::{Map, State};
use crate::model::Problem;
use std::collections::{BTreeMap, BTreeSet};

/// Why an insertion failed (for unplaced reasons). The order is the order in
/// which reasons are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Block {
    /// No feasible timing in the route (windows, shift, breaks, capacity).
    Time,
    Continuity,
    DailyHours,
    WeeklyHours,
    LinkedVisit,
}

/// An unplaced reason: a stable code and a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reason {
    pub code: &'static str,
    pub message: &'static str,
}

/// How a rule holds in the set-partitioning master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Milp {
    /// It added its rows.
    Rows,
    /// Every route column satisfies it by construction; says why. (For the
    /// rules enforced in route timing, once they join the registry.)
    #[allow(dead_code)]
    InColumns(&'static str),
}

/// What a rule's insertion check reads once per (shift, visit): carer `carer`
/// taking visit `visit` on `day` in state `st`.
pub(crate) struct RoomAt<'a> {
    pub p: &'a Problem,
    pub st: &'a State,
    pub carer: usize,
    pub day: u32,
    pub visit: usize,
}

/// A local-search change as the rules see it: paid minutes added per
/// (carer, day), (carer, week), and distinct carers added per person.
pub(crate) struct ChangeAt<'a> {
    pub p: &'a Problem,
    pub st: &'a State,
    pub day: &'a Map<(usize, u32), i64>,
    pub week: &'a Map<(usize, u32), i64>,
    pub per_user: &'a Map<usize, i64>,
}

/// A master selection as the rules see it: paid minutes per (carer, day) and
/// (carer, week), carers per person.
pub(crate) struct Selection<'a> {
    pub p: &'a Problem,
    pub day_work: &'a BTreeMap<(usize, u32), i64>,
    pub week_work: &'a BTreeMap<(usize, u32), i64>,
    pub seen: &'a BTreeMap<usize, BTreeSet<usize>>,
}

/// One hard rule. See the module docs.
pub(crate) trait Rule {
    /// The rule's name (its module's), shared with the checker.
    const NAME: &'static str;
    /// The block its insertion check reports.
    const BLOCK: Block;
    /// The unplaced reason reported for [`Rule::BLOCK`].
    const REASON: Reason;
    /// What the insertion check reads once per (shift, visit).
    type Room: Copy;
    /// Reads the room (see [`RoomAt`]).
    fn room(at: &RoomAt<'_>) -> Self::Room;
    /// Insertion check of one position adding `work_delta` paid minutes: the
    /// cost change the rule prices, or why it fails.
    fn admits(room: &Self::Room, work_delta: i64) -> Result<f64, Block>;
    /// Whether a local-search change keeps the rule.
    fn admits_change(at: &ChangeAt<'_>) -> bool;
    /// Adds the rule's rows to the master, or says why route columns hold it.
    fn master_rows(m: &mut MasterRows<'_>) -> Milp;
    /// Checks a master selection, naming the violation.
    fn check_selection(sel: &Selection<'_>) -> Result<(), String>;
    /// Most carers the lower bound lets person `u` see (`None`: the bound relaxes this rule).
    fn bound_carer_limit(p: &Problem, u: usize) -> Option<usize>;
}

/// Declares the rule modules and generates the registry's dispatch: one
/// function per rule item, calling every rule in the listed order.
macro_rules! registry {
    ($($m:ident :: $t:ident,)*) => {
        $(pub(crate) mod $m;)*

        /// Every rule's room for one (shift, visit), one field per rule.
        #[derive(Clone, Copy)]
        pub(crate) struct Rooms {
            $(pub $m: <$m::$t as Rule>::Room,)*
        }

        /// Names of the registered rules, in order.
        #[allow(dead_code)]
        pub(crate) const NAMES: &[&str] = &[$(<$m::$t as Rule>::NAME,)*];

        /// Reads every rule's room.
        #[inline]
        pub(crate) fn rooms(at: &RoomAt<'_>) -> Rooms {
            Rooms { $($m: <$m::$t as Rule>::room(at),)* }
        }

        /// Every rule's insertion check: the summed cost change, or the first block.
        #[inline]
        pub(crate) fn admits(rooms: &Rooms, work_delta: i64) -> Result<f64, Block> {
            let mut cost = 0.0;
            $(cost += <$m::$t as Rule>::admits(&rooms.$m, work_delta)?;)*
            Ok(cost)
        }

        /// Whether a local-search change keeps every rule.
        pub(crate) fn admits_change(at: &ChangeAt<'_>) -> bool {
            true $(&& <$m::$t as Rule>::admits_change(at))*
        }

        /// Every rule's master rows.
        pub(crate) fn master_rows(m: &mut MasterRows<'_>) {
            $(let _: Milp = <$m::$t as Rule>::master_rows(m);)*
        }

        /// Checks a master selection against every rule.
        pub(crate) fn check_selection(sel: &Selection<'_>) -> Result<(), String> {
            $(<$m::$t as Rule>::check_selection(sel)?;)*
            Ok(())
        }

        /// The tightest carer limit any rule gives the lower bound for person `u`.
        pub(crate) fn bound_carer_limit(p: &Problem, u: usize) -> Option<usize> {
            let mut limit: Option<usize> = None;
            $(if let Some(l) = <$m::$t as Rule>::bound_carer_limit(p, u) {
                limit = Some(limit.map_or(l, |x| x.min(l)));
            })*
            limit
        }

        /// The unplaced reason of a block, when a registered rule reports it.
        pub(crate) fn reason(b: Block) -> Option<Reason> {
            $(if b == <$m::$t as Rule>::BLOCK {
                return Some(<$m::$t as Rule>::REASON);
            })*
            None
        }
    };
}

registry! {
    daily_hours::DailyHours,
    weekly_hours::WeeklyHours,
    continuity_cap::ContinuityCap,
}
