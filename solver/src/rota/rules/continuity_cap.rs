//! Continuity cap: a person sees at most `continuity_cap` distinct carers over
//! the horizon. (Each distinct carer also costs `distinct_carer` in the
//! objective; the cap is the hard limit.)

use super::{Block, Carers, ChangeAt, Milp, NotHere, Reason, RoomAt, Rule, Selection};
use crate::model::{PersonId, Problem, VisitId};
use crate::rota::master::{MasterRows, sum};
use crate::rota::search::{Map, State};
use good_lp::{Variable, variable};
use std::collections::{BTreeMap, BTreeSet};

pub(crate) struct ContinuityCap;

impl ContinuityCap {
    /// Person `u`'s cap.
    pub(crate) fn cap(p: &Problem, u: PersonId) -> usize {
        p.person(u).continuity_cap as usize
    }

    /// The carers visit `v`'s person sees in `st` and their cap, for pricing
    /// pairs of carers for a double-handed visit.
    pub(crate) fn pair_room<'s>(p: &Problem, st: &'s State, v: VisitId) -> PairRoom<'s> {
        let u = p.person_of(v);
        let seen = st.seen.get(&u.index()).map(|m| &**m);
        PairRoom {
            seen,
            count: seen.map_or(0, Map::len) as u32,
            cap: p.person(u).continuity_cap,
        }
    }
}

/// A person's carers seen and cap, for pricing pairs of carers (see [`ContinuityCap::pair_room`]).
pub(crate) struct PairRoom<'s> {
    seen: Option<&'s Map<usize, u32>>,
    count: u32,
    cap: u32,
}

impl PairRoom<'_> {
    /// Whether carers `a` and `b` together stay within the cap.
    pub(crate) fn fits(&self, a: usize, b: usize) -> bool {
        let new = [a, b]
            .iter()
            .filter(|c| !self.seen.is_some_and(|m| m.contains_key(c)))
            .count() as u32;
        self.count + new <= self.cap
    }
}

impl Rule for ContinuityCap {
    const NAME: &'static str = "continuity_cap";
    const BLOCK: Block = Block::Continuity;
    const REASON: Reason = Reason {
        code: "continuity_cap",
        message: "the only carers free would break the person's continuity cap",
    };
    type Candidates = NotHere;
    type Starts = NotHere;
    type Stops = NotHere;
    type Timing = NotHere;
    type Carers = Self;

    /// `w[u][c]` (binary, cost `distinct_carer`) marks carer `c` seeing person
    /// `u`: per shift of `c`, `Σ_{r of the shift visiting u} x_r ≤ w_{u,c}` (one
    /// row per shift, whose routes exclude each other, is both fewer and tighter
    /// than one per route); `Σ_c w_{u,c} ≤ cap(u)`.
    fn master_rows(m: &mut MasterRows<'_>) -> Milp {
        let p = m.p;
        type ByShift = BTreeMap<usize, BTreeSet<usize>>;
        let mut user_routes: BTreeMap<usize, BTreeMap<usize, ByShift>> = BTreeMap::new();
        for (&v, times) in m.cover {
            for &r in times.values().flatten() {
                user_routes
                    .entry(p.visits[v].service_user)
                    .or_default()
                    .entry(m.carer_of(r))
                    .or_default()
                    .entry(m.pool[r].shift)
                    .or_default()
                    .insert(r);
            }
        }
        let distinct_weight = p.weights.distinct_carer;
        for (&u, carers) in &user_routes {
            let cap = Self::cap(p, PersonId(u));
            if distinct_weight == 0.0 && carers.len() <= cap {
                continue;
            }
            let mut ws: Vec<Variable> = Vec::new();
            for shifts in carers.values() {
                let seen = shifts.values().flatten().any(|&r| m.in_start[r]);
                let w = m.add(
                    variable().binary(),
                    distinct_weight,
                    if seen { 1.0 } else { 0.0 },
                );
                for routes in shifts.values() {
                    let mut row = sum(routes.iter().filter_map(|&r| m.x[r]));
                    row.add_mul(-1.0, w);
                    m.row(row.leq(0.0));
                }
                ws.push(w);
            }
            if carers.len() > cap {
                m.row(sum(ws).leq(cap as f64));
            }
        }
        Milp::Rows
    }

    /// A person sees at most their cap of carers: the bound enumerates carer
    /// sets up to this size.
    fn bound_carer_limit(p: &Problem, u: PersonId) -> Option<usize> {
        Some(Self::cap(p, u))
    }
}

impl Carers for ContinuityCap {
    /// The cost of the carer being new to the person, or the cap it would break.
    type Room = Result<f64, Block>;

    fn room(at: &RoomAt<'_>) -> Result<f64, Block> {
        let (p, c) = (at.p, at.carer.index());
        let u = p.person_of(at.visit);
        let seen = at.st.seen.get(&u.index()).map(|m| &**m);
        if seen.is_some_and(|m| m.contains_key(&c)) {
            Ok(0.0)
        } else if seen.map_or(0, Map::len) as u32 >= p.person(u).continuity_cap {
            Err(Block::Continuity)
        } else {
            Ok(p.weights.distinct_carer)
        }
    }

    #[inline]
    fn admits(room: &Result<f64, Block>, _: i64) -> Result<f64, Block> {
        *room
    }

    fn admits_change(at: &ChangeAt<'_>) -> bool {
        at.per_user.iter().all(|(&u, &dd)| {
            let before = at.st.seen.get(&u).map_or(0, |m| m.len()) as i64;
            dd <= 0 || before + dd <= i64::from(at.p.service_users[u].continuity_cap)
        })
    }


    fn check_selection(sel: &Selection<'_>) -> Result<(), String> {
        for (&u, carers) in sel.seen {
            let user = &sel.p.service_users[u];
            if carers.len() > user.continuity_cap as usize {
                return Err(format!(
                    "`{}` sees {} carers, cap {}",
                    user.id,
                    carers.len(),
                    user.continuity_cap
                ));
            }
        }
        Ok(())
    }
}
