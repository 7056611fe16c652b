//! The hard rules the rota engine enforces, one module per rule, listed once
//! in the registry at the bottom of this file under the names the independent
//! checker (`crate::check`) verifies them by.
//!
//! Every rule is a unit struct implementing [`Rule`]. Its required items say
//! every place the engine enforces it, so a rule cannot be half wired and a
//! rule without its MILP rows or reason does not compile (no item has a
//! default):
//!
//! - its name, the [`Block`] that names it and its unplaced [`Reason`];
//! - its insertion check, at one or more of the search's check points, each a
//!   trait of its own with a [`NotHere`] implementation for rules that take no
//!   part there: [`Candidates`] (which shifts may take a visit at all: the
//!   candidate lists), [`Starts`] (the interval a visit may start in given the
//!   visits placed), [`Stops`] (each stop and the end of a route while it is
//!   timed), [`Timing`] (re-timing a feasible route, e.g. around a break) and
//!   [`Carers`] (paid minutes and carers per person, priced per insertion
//!   position, per local-search change and per master selection);
//! - its set-partitioning rows in [`super::master`] ([`Rule::master_rows`]: the
//!   rows it adds, or why route columns or the coverage rows already hold it);
//! - its part in the lower bound ([`Rule::bound_carer_limit`], `None` where the
//!   bound relaxes it).
//!
//! The registry generates one function per check point calling every rule in
//! the listed order, so the hot path is statically dispatched: the [`NotHere`]
//! checks are constants the compiler removes.
//!
//! **Adding a rule:** write `rota/rules/NAME.rs` with `pub(crate) struct Name;`,
//! `impl Rule for Name` and the check traits it names in `Rule`'s associated
//! types (copy `capacity.rs` for a check while timing, `daily_hours.rs` for a
//! carer-level limit), add its [`Block`] variant if it fails for a new reason,
//! and add one line `NAME::Name,` to `registry!` at the bottom of this file (the
//! line also declares the module). The registry order is the order checks run,
//! rows are built and reasons are looked up. Then add the checker's own
//! verification: `check/NAME.rs` and one line in `check::VERIFICATIONS`.
//!
//! A route that cannot be timed reports [`Block::Time`], whose reason is
//! [`BUSY`], whichever [`Stops`] or [`Timing`] rule failed: timing does not say
//! which failed first (windows, shift ends and anchored starts constrain each
//! other), and naming one would cost the hot path a branch per stop. Rules
//! with a reason of their own report it besides: a link that leaves no start
//! (`linked_visits`, from its start check) and a double-handed visit left
//! unplaced (`double_handed`, in the diagnosis). Where a check also
//! has an O(1) form for the fast hard-window pricing (latest starts in
//! `search::timing`, capacity in `search::pricing`'s `route_view`), the rule's
//! module says so.

use super::master::MasterRows;
use super::search::{Map, Part, Sched, State};
use crate::model::{CarerId, Minute, PersonId, Problem, ShiftId, VisitId};
use std::collections::{BTreeMap, BTreeSet};

/// Why an insertion failed (for unplaced reasons). The order is the order in
/// which reasons are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Block {
    /// No feasible timing in the route (windows, shift, breaks, capacity,
    /// anchored starts).
    Time,
    Continuity,
    DailyHours,
    WeeklyHours,
    LinkedVisit,
    /// No eligible carer (found before any insertion is tried).
    Ineligible,
    /// No eligible carer's shift overlaps the visit (found before any insertion).
    Unavailable,
    /// No two carers can start a double-handed visit together.
    NoPair,
}

/// An unplaced reason: a stable code and a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reason {
    pub code: &'static str,
    pub message: &'static str,
}

/// The reason of every rule checked while a route is timed (see the module docs).
pub(crate) const BUSY: Reason = Reason {
    code: "carers_busy",
    message: "every eligible carer's shift is full in that window (visits and travel leave no room)",
};

/// How a rule holds in the set-partitioning master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Milp {
    /// It added its rows.
    Rows,
    /// Every route column satisfies it by construction; says why (for readers:
    /// nothing reads the text).
    InColumns(#[allow(dead_code)] &'static str),
    /// The master's coverage rows hold it (they are built together in
    /// `master.rs`, whose variable order the rule's rows depend on); says how.
    InCoverage(#[allow(dead_code)] &'static str),
}

/// One hard rule. See the module docs.
pub(crate) trait Rule {
    /// The rule's name (its module's), shared with the checker.
    const NAME: &'static str;
    /// The block that names this rule in a diagnosis.
    const BLOCK: Block;
    /// The unplaced reason reported for the rule.
    const REASON: Reason;
    /// Its candidate-list check, or [`NotHere`].
    type Candidates: Candidates;
    /// Its start-interval check, or [`NotHere`].
    type Starts: Starts;
    /// Its check at each stop of a route being timed, or [`NotHere`].
    type Stops: Stops;
    /// Its re-timing of a feasible route, or [`NotHere`].
    type Timing: Timing;
    /// Its carer-level check (paid minutes, carers per person), or [`NotHere`].
    type Carers: Carers;
    /// Adds the rule's rows to the master, or says why they are not needed.
    fn master_rows(m: &mut MasterRows<'_>) -> Milp;
    /// Most carers the lower bound lets person `u` see (`None`: the bound relaxes this rule).
    fn bound_carer_limit(p: &Problem, u: PersonId) -> Option<usize>;
}

/// The check point a rule takes no part in.
pub(crate) struct NotHere;

/// Which shifts may take a visit at all (the search's candidate lists, built
/// once per part).
pub(crate) trait Candidates {
    /// Whether shift `s` may take visit `v` (`tolerance`: minutes late allowed).
    fn admits_shift(p: &Problem, s: ShiftId, v: VisitId, tolerance: Minute) -> bool;
}

/// What narrowing a visit's start interval reads (once per insertion of `v`).
pub(crate) struct StartAt<'a> {
    pub p: &'a Problem,
    pub st: &'a State,
    pub visit: VisitId,
    /// The links `v` takes part in.
    pub links: &'a [usize],
    pub tolerance: Minute,
}

/// The interval a visit may start in and the carers it must avoid.
pub(crate) struct StartWindow {
    pub lo: Minute,
    pub hi: Minute,
    pub avoid: Vec<usize>,
}

/// The interval a visit may start in, given the visits placed.
pub(crate) trait Starts {
    /// Narrows `w` (it starts unbounded).
    fn narrow(at: &StartAt<'_>, w: &mut StartWindow);
}

/// One stop of a route being timed.
pub(crate) struct StopAt<'a> {
    pub p: &'a Problem,
    pub visit: VisitId,
    /// When the carer can be there.
    pub arrival: Minute,
    /// When the stop starts: its anchored start, else the arrival or the window's opening.
    pub start: Minute,
    /// Its anchored start (double-handed, linked or pinned), if any.
    pub fixed: Option<Minute>,
    pub tolerance: Minute,
}

/// The end of a route being timed (only for routes with stops).
pub(crate) struct EndAt<'a> {
    pub p: &'a Problem,
    pub shift: ShiftId,
    /// When the carer reaches the shift's end location.
    pub home_by: Minute,
}

/// Checked at each stop and at the end of a route while it is timed (the
/// innermost loop of the search).
pub(crate) trait Stops {
    /// What the rule carries along the route (e.g. the load).
    type Acc: Copy + Default;
    /// Whether the stop keeps the rule.
    fn admits_stop(at: &StopAt<'_>, acc: &mut Self::Acc) -> bool;
    /// Whether the route, all stops admitted, keeps the rule at its end.
    fn admits_end(at: &EndAt<'_>, acc: &Self::Acc) -> bool;
    /// A quick check, before pricing positions, that `v` may join shift `s`'s
    /// `route` at all (for the fast pricing path; `true` when unknown).
    fn admits_joining(p: &Problem, s: ShiftId, route: &[usize], v: VisitId) -> bool;
}

/// Re-times a route whose stops all passed, when the earliest timing breaks
/// the rule (e.g. to fit a break).
pub(crate) trait Timing {
    /// The route's timing keeping the rule (`sched` when it already does), or `None`.
    fn retime(
        part: &Part<'_>,
        s: usize,
        visits: &[usize],
        fixed: &dyn Fn(usize) -> Option<Minute>,
        sched: Sched,
    ) -> Option<Sched>;
}

/// What a carer-level insertion check reads once per (shift, visit): carer
/// `carer` taking visit `visit` on `day` in state `st`.
pub(crate) struct RoomAt<'a> {
    pub p: &'a Problem,
    pub st: &'a State,
    pub carer: CarerId,
    pub day: u32,
    pub visit: VisitId,
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

/// Carer-level rules: what a carer may still take on (paid minutes, persons'
/// carers), priced at every insertion position.
pub(crate) trait Carers {
    /// What the insertion check reads once per (shift, visit).
    type Room: Copy;
    /// Reads the room (see [`RoomAt`]).
    fn room(at: &RoomAt<'_>) -> Self::Room;
    /// Insertion check of one position adding `work_delta` paid minutes: the
    /// cost change the rule prices, or why it fails.
    fn admits(room: &Self::Room, work_delta: i64) -> Result<f64, Block>;
    /// Whether a local-search change keeps the rule.
    fn admits_change(at: &ChangeAt<'_>) -> bool;
    /// Checks a master selection, naming the violation.
    fn check_selection(sel: &Selection<'_>) -> Result<(), String>;
}

impl Candidates for NotHere {
    #[inline(always)]
    fn admits_shift(_: &Problem, _: ShiftId, _: VisitId, _: Minute) -> bool {
        true
    }
}

impl Starts for NotHere {
    #[inline(always)]
    fn narrow(_: &StartAt<'_>, _: &mut StartWindow) {}
}

impl Stops for NotHere {
    type Acc = ();
    #[inline(always)]
    fn admits_stop(_: &StopAt<'_>, _: &mut ()) -> bool {
        true
    }
    #[inline(always)]
    fn admits_end(_: &EndAt<'_>, _: &()) -> bool {
        true
    }
    #[inline(always)]
    fn admits_joining(_: &Problem, _: ShiftId, _: &[usize], _: VisitId) -> bool {
        true
    }
}

impl Timing for NotHere {
    #[inline(always)]
    fn retime(
        _: &Part<'_>,
        _: usize,
        _: &[usize],
        _: &dyn Fn(usize) -> Option<Minute>,
        sched: Sched,
    ) -> Option<Sched> {
        Some(sched)
    }
}

impl Carers for NotHere {
    type Room = ();
    #[inline(always)]
    fn room(_: &RoomAt<'_>) {}
    #[inline(always)]
    fn admits(_: &(), _: i64) -> Result<f64, Block> {
        Ok(0.0)
    }
    #[inline(always)]
    fn admits_change(_: &ChangeAt<'_>) -> bool {
        true
    }
    #[inline(always)]
    fn check_selection(_: &Selection<'_>) -> Result<(), String> {
        Ok(())
    }
}

/// Declares the rule modules and generates the registry's dispatch: one
/// function per check point, calling every rule in the listed order.
macro_rules! registry {
    ($($m:ident :: $t:ident,)*) => {
        $(pub(crate) mod $m;)*

        /// Every rule's carer-level room for one (shift, visit), one field per rule.
        #[derive(Clone, Copy)]
        pub(crate) struct Rooms {
            $(pub $m: <<$m::$t as Rule>::Carers as Carers>::Room,)*
        }

        /// What every stop rule carries along a route being timed.
        #[derive(Clone, Copy, Default)]
        pub(crate) struct Accs {
            $(pub $m: <<$m::$t as Rule>::Stops as Stops>::Acc,)*
        }

        /// Names of the registered rules, in order.
        #[allow(dead_code)]
        pub(crate) const NAMES: &[&str] = &[$(<$m::$t as Rule>::NAME,)*];

        /// Whether shift `s` may take visit `v` under every rule.
        #[inline]
        pub(crate) fn admits_shift(p: &Problem, s: ShiftId, v: VisitId, tolerance: Minute) -> bool {
            true $(&& <<$m::$t as Rule>::Candidates as Candidates>::admits_shift(p, s, v, tolerance))*
        }

        /// The interval visit `at.visit` may start in, and the carers it must avoid.
        pub(crate) fn start_window(at: &StartAt<'_>) -> StartWindow {
            let mut w = StartWindow { lo: Minute::MIN, hi: Minute::MAX, avoid: Vec::new() };
            $(<<$m::$t as Rule>::Starts as Starts>::narrow(at, &mut w);)*
            w
        }

        /// Whether a stop keeps every rule.
        #[inline(always)]
        pub(crate) fn admits_stop(at: &StopAt<'_>, acc: &mut Accs) -> bool {
            true $(&& <<$m::$t as Rule>::Stops as Stops>::admits_stop(at, &mut acc.$m))*
        }

        /// Whether a timed route keeps every rule at its end.
        #[inline(always)]
        pub(crate) fn admits_end(at: &EndAt<'_>, acc: &Accs) -> bool {
            true $(&& <<$m::$t as Rule>::Stops as Stops>::admits_end(at, &acc.$m))*
        }

        /// Whether `v` may join shift `s`'s `route` at all (quick checks).
        #[inline]
        pub(crate) fn admits_joining(p: &Problem, s: ShiftId, route: &[usize], v: VisitId) -> bool {
            true $(&& <<$m::$t as Rule>::Stops as Stops>::admits_joining(p, s, route, v))*
        }

        /// A route's timing keeping every rule, from its earliest timing `sched`.
        #[inline]
        pub(crate) fn retime(
            part: &Part<'_>,
            s: usize,
            visits: &[usize],
            fixed: &dyn Fn(usize) -> Option<Minute>,
            sched: Sched,
        ) -> Option<Sched> {
            $(let sched = <<$m::$t as Rule>::Timing as Timing>::retime(part, s, visits, fixed, sched)?;)*
            Some(sched)
        }

        /// Reads every carer-level rule's room.
        #[inline]
        pub(crate) fn rooms(at: &RoomAt<'_>) -> Rooms {
            Rooms { $($m: <<$m::$t as Rule>::Carers as Carers>::room(at),)* }
        }

        /// Every carer-level insertion check: the summed cost change, or the first block.
        #[inline]
        pub(crate) fn admits(rooms: &Rooms, work_delta: i64) -> Result<f64, Block> {
            let mut cost = 0.0;
            $(cost += <<$m::$t as Rule>::Carers as Carers>::admits(&rooms.$m, work_delta)?;)*
            Ok(cost)
        }

        /// Whether a local-search change keeps every rule.
        pub(crate) fn admits_change(at: &ChangeAt<'_>) -> bool {
            true $(&& <<$m::$t as Rule>::Carers as Carers>::admits_change(at))*
        }

        /// Every rule's master rows.
        pub(crate) fn master_rows(m: &mut MasterRows<'_>) {
            $(let _: Milp = <$m::$t as Rule>::master_rows(m);)*
        }

        /// Checks a master selection against every rule.
        pub(crate) fn check_selection(sel: &Selection<'_>) -> Result<(), String> {
            $(<<$m::$t as Rule>::Carers as Carers>::check_selection(sel)?;)*
            Ok(())
        }

        /// The tightest carer limit any rule gives the lower bound for person `u`.
        pub(crate) fn bound_carer_limit(p: &Problem, u: PersonId) -> Option<usize> {
            let mut limit: Option<usize> = None;
            $(if let Some(l) = <$m::$t as Rule>::bound_carer_limit(p, u) {
                limit = Some(limit.map_or(l, |x| x.min(l)));
            })*
            limit
        }

        /// The unplaced reason of a block: the first registered rule's it names.
        pub(crate) fn reason(b: Block) -> Option<Reason> {
            $(if b == <$m::$t as Rule>::BLOCK {
                return Some(<$m::$t as Rule>::REASON);
            })*
            None
        }
    };
}

registry! {
    availability::Availability,
    eligibility::Eligibility,
    time_windows::TimeWindows,
    capacity::Capacity,
    breaks::Breaks,
    double_handed::DoubleHanded,
    linked_visits::LinkedVisits,
    daily_hours::DailyHours,
    weekly_hours::WeeklyHours,
    continuity_cap::ContinuityCap,
}

#[cfg(test)]
mod tests {
    /// The engine's hard rules are verified by the checker under the same names.
    #[test]
    fn every_rule_has_a_checker_verification() {
        let checked: Vec<&str> = crate::check::rule_names().collect();
        for name in super::NAMES {
            assert!(
                checked.contains(name),
                "rule `{name}` has no checker verification"
            );
        }
    }
}
