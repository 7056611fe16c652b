//! The fit check: can this whole package go into this team's rota as it
//! stands, and at what cost (extra travel, carers, known carers, spare
//! capacity per day and period for the batch allocation)?

use super::county::{RosterIndex, TeamIx, keep_team_carer_refs, team_roster};
use super::horizon::{frozen_pins, minute_of};
use super::records::FitSummary;
use crate::format::{
    Package, PlanningRequest, Rota, Route, ServiceUser, UnplacedReason, UnplacedVisit,
};
use crate::model::{Minute, PlannedRoute, Problem};
use crate::rota::insert_visits;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Everything a fit check found, including the new routes (kept for acceptance).
#[derive(Debug, Clone)]
pub struct FitOutcome {
    /// The summary shown to brokers and providers.
    pub summary: FitSummary,
    /// Changed routes of the team's rota (wire form), when it fits.
    pub changed_routes: Vec<Route>,
    /// Spare capacity of the team per (day, period), minutes; for batch allocation.
    pub spare: BTreeMap<(u32, u8), i64>,
    /// The package's demand per (day, period), carer-minutes with a travel allowance.
    pub demand: BTreeMap<(u32, u8), i64>,
}

/// Periods of a day for batch capacity: before 10:00, 10-14, 14-18, after 18:00.
pub fn period_of(minute_of_day: i32) -> u8 {
    match minute_of_day {
        ..600 => 0,
        600..840 => 1,
        840..1080 => 2,
        _ => 3,
    }
}

/// Adds a shift's working time from `start` to `end` to `spare` by (day,
/// period) in 15-minute steps from `start` (a step counts where it begins),
/// one period at a time rather than one step at a time: fit checks run for
/// every candidate team of every recommendation.
fn add_shift_quarters(spare: &mut BTreeMap<(u32, u8), i64>, start: Minute, end: Minute) {
    // Steps `start + 15k` (k >= 0) that begin before `x`.
    let steps_before = |x: Minute| i64::from(u32::try_from(x - start).unwrap_or(0).div_ceil(15));
    let mut at = start;
    while at < end {
        let day = at.div_euclid(1440);
        let period = period_of(at.rem_euclid(1440));
        let period_end = day * 1440
            + match period {
                0 => 600,
                1 => 840,
                2 => 1080,
                _ => 1440,
            };
        let upto = period_end.min(end);
        let n = steps_before(upto) - steps_before(at);
        if n > 0 {
            *spare.entry((day as u32, period)).or_default() += 15 * n;
        }
        at = upto;
    }
}

/// Travel allowance on care minutes when estimating capacity (paid travel is
/// typically 15-30% of care time in home care).
const TRAVEL_ALLOWANCE: f64 = 1.25;

/// Builds the team's own planning request with the new package added.
pub(crate) fn team_request(
    roster: &PlanningRequest,
    ix: &RosterIndex,
    team: TeamIx,
    package: &Package,
    user: &ServiceUser,
) -> PlanningRequest {
    // The person may already have a package here (an increase): keep it, and
    // add the person's record once, as a member of this team.
    let mut req = team_roster(roster, ix, team, Some(&user.id));
    let mut newcomer = user.clone();
    newcomer.team = Some(roster.teams[team].id.clone());
    req.service_users.push(newcomer);
    req.packages.push(package.clone());
    keep_team_carer_refs(&mut req);
    req
}

fn not_fitting(team: &str, visits: usize, code: &str, message: String) -> FitOutcome {
    FitOutcome {
        summary: FitSummary {
            team: team.to_string(),
            fits: false,
            visits,
            placed: 0,
            extra_travel_min: 0,
            cost_delta: 0.0,
            carers: Vec::new(),
            known_carers: Vec::new(),
            care_min: 0,
            reasons: vec![UnplacedReason {
                code: code.to_string(),
                message: message.clone(),
            }],
            explanation: format!("Does not fit: {message}."),
            passed: Vec::new(),
        },
        changed_routes: Vec::new(),
        spare: BTreeMap::new(),
        demand: BTreeMap::new(),
    }
}

/// Checks whether the whole package fits the team's current rota. With
/// `from` (the command's now) only the future counts: visits of the rota that
/// started before it are pinned where they are, the package's visits whose
/// window opened before it are not asked for (that care is over), and spare
/// capacity is counted from it on.
pub(crate) fn fit_check(
    roster: &PlanningRequest,
    ix: &RosterIndex,
    rotas: &BTreeMap<String, Rota>,
    team: TeamIx,
    package: &Package,
    user: &ServiceUser,
    from: Option<DateTime<Utc>>,
) -> FitOutcome {
    let team_id = roster.teams[team].id.clone();
    let empty = Rota::default();
    let rota = rotas.get(&team_id).unwrap_or(&empty);
    let mut req = team_request(roster, ix, team, package, user);
    if let Some(now) = from {
        req.existing_rota = frozen_pins(rota, &req.horizon, now);
    }
    let p = match Problem::from_request(&req) {
        Ok(p) => p,
        Err(issues) => {
            let first = issues
                .first()
                .map(|i| format!("{} at {}", i.message, i.path))
                .unwrap_or_default();
            // Too few carers with the skills for a double-handed visit is the
            // common case and tells a broker what is missing; other roster
            // rejections keep the general code.
            let code = match issues.first().map(|i| i.code) {
                Some(crate::format::IssueCode::TooFewEligibleCarers) => "too_few_eligible_carers",
                _ => "invalid_for_team",
            };
            return not_fitting(
                &team_id,
                0,
                code,
                format!("the team's roster rejects the package: {first}"),
            );
        }
    };
    let from_min = from.map_or(Minute::MIN, |now| minute_of(&p, now));
    let (new_visits, passed): (Vec<usize>, Vec<usize>) = (0..p.visits.len())
        .filter(|&v| p.packages[p.visits[v].package].id == package.id)
        .partition(|&v| p.visits[v].earliest_start >= from_min);
    let passed: Vec<UnplacedVisit> = passed
        .into_iter()
        .map(|v| UnplacedVisit {
            visit: p.visits[v].id.clone(),
            service_user: user.id.clone(),
            reasons: vec![UnplacedReason {
                code: "window_passed".into(),
                message: "the visit's window had opened before the package was brokered".into(),
            }],
        })
        .collect();
    // Visits that have all started already leave nothing to check: the
    // package's care continues on the days the horizon rolls in.
    if new_visits.is_empty() && passed.is_empty() {
        return not_fitting(
            &team_id,
            0,
            "no_visits_in_horizon",
            "the package has no visits in the planning horizon".into(),
        );
    }
    let current = match p.planned_routes(rota) {
        Ok(r) => r,
        Err(e) => return not_fitting(&team_id, new_visits.len(), "team_rota_stale", e),
    };
    let outcome = match insert_visits(&p, &current, &new_visits) {
        Ok(o) => o,
        Err(e) => return not_fitting(&team_id, new_visits.len(), "team_rota_stale", e.to_string()),
    };
    let new_set: BTreeSet<usize> = new_visits.iter().copied().collect();
    // Which routes changed, and their travel before and after.
    let before: HashMap<usize, &PlannedRoute> = current.iter().map(|r| (r.shift, r)).collect();
    let changed: Vec<PlannedRoute> = outcome
        .routes
        .iter()
        .filter(|r| before.get(&r.shift).is_none_or(|b| b.stops != r.stops))
        .cloned()
        .collect();
    let travel_before: i64 = changed
        .iter()
        .filter_map(|r| before.get(&r.shift))
        .map(|r| paid_travel(&p, r))
        .sum();
    let travel_after: i64 = changed.iter().map(|r| paid_travel(&p, r)).sum();
    let mut carers: BTreeSet<String> = BTreeSet::new();
    for r in &outcome.routes {
        if r.stops.iter().any(|(v, _)| new_set.contains(v)) {
            carers.insert(p.carers[p.shifts[r.shift].carer].id.clone());
        }
    }
    let known: Vec<String> = carers
        .iter()
        .filter(|c| user.known_carers.contains(c))
        .cloned()
        .collect();
    let care_min: u64 = new_visits
        .iter()
        .map(|&v| (p.visits[v].duration as u64) * u64::from(p.visits[v].carers_required))
        .sum();
    // Capacity by day and period, for batch allocation.
    let mut spare: BTreeMap<(u32, u8), i64> = BTreeMap::new();
    for s in &p.shifts {
        add_shift_quarters(&mut spare, s.start.max(from_min), s.end);
    }
    for r in &current {
        for &(v, start) in r.stops.iter().filter(|s| s.1 >= from_min) {
            let used = (f64::from(p.visits[v].duration) * TRAVEL_ALLOWANCE) as i64;
            *spare
                .entry((p.visits[v].day, period_of(start.rem_euclid(1440))))
                .or_default() -= used;
        }
    }
    let mut demand: BTreeMap<(u32, u8), i64> = BTreeMap::new();
    for &v in &new_visits {
        let vis = &p.visits[v];
        let used = f64::from(vis.duration) * f64::from(vis.carers_required) * TRAVEL_ALLOWANCE;
        *demand
            .entry((vis.day, period_of(vis.earliest_start.rem_euclid(1440))))
            .or_default() += used as i64;
    }
    let fits = outcome.unplaced.is_empty();
    let mut reason_count: BTreeMap<(String, String), usize> = BTreeMap::new();
    for u in &outcome.unplaced {
        if let Some((code, msg)) = u.reasons.first() {
            *reason_count.entry((code.clone(), msg.clone())).or_default() += 1;
        }
    }
    let mut reasons: Vec<((String, String), usize)> = reason_count.into_iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let reasons: Vec<UnplacedReason> = reasons
        .into_iter()
        .map(|((code, message), n)| UnplacedReason {
            code,
            message: format!("{n} visit(s): {message}"),
        })
        .collect();
    let extra_travel_min = travel_after - travel_before;
    let explanation = if fits {
        format!(
            "Fits: all {} visits with {} carer(s) ({} known to the person), {:+} min paid travel over the horizon.",
            new_visits.len(),
            carers.len(),
            known.len(),
            extra_travel_min
        )
    } else {
        format!(
            "Does not fit: {} of {} visits cannot be placed; {}.",
            outcome.unplaced.len(),
            new_visits.len(),
            reasons
                .first()
                .map_or_else(String::new, |r| format!("{} ({})", r.code, r.message))
        )
    };
    FitOutcome {
        summary: FitSummary {
            team: team_id,
            fits,
            visits: new_visits.len(),
            placed: outcome.placed.len(),
            extra_travel_min,
            cost_delta: outcome.cost_delta,
            carers: carers.into_iter().collect(),
            known_carers: known,
            care_min,
            reasons,
            explanation,
            passed,
        },
        // Only a fitting package's routes are kept (for acceptance), so only
        // they are written out.
        changed_routes: if fits {
            p.write_rota(&changed, &[]).routes
        } else {
            Vec::new()
        },
        spare,
        demand,
    }
}

/// Paid travel minutes of a planned route, as its written form counts them
/// ([`Problem::write_rota`]'s legs): the legs between visits, and the first
/// and last legs when commuting is paid. A route without stops is not written
/// and travels nowhere.
fn paid_travel(p: &Problem, r: &PlannedRoute) -> i64 {
    let Some(&(first, _)) = r.stops.first() else {
        return 0;
    };
    let shift = &p.shifts[r.shift];
    let c = shift.carer;
    let legs: i64 = r
        .stops
        .windows(2)
        .map(|w| {
            let (a, b) = (p.visits[w[0].0].location, p.visits[w[1].0].location);
            i64::from(p.leg(c, a, b).minutes)
        })
        .sum();
    if p.paid_commute {
        let last = r.stops[r.stops.len() - 1].0;
        legs + i64::from(p.leg(c, shift.start_loc, p.visits[first].location).minutes)
            + i64::from(p.leg(c, p.visits[last].location, shift.end_loc).minutes)
    } else {
        legs
    }
}

impl super::Broker {
    /// [`fit_check`] of `package` on team `team` of this broker's county,
    /// with the frozen past up to `from`.
    pub(crate) fn fit(
        &self,
        team: TeamIx,
        package: &Package,
        user: &ServiceUser,
        from: Option<DateTime<Utc>>,
    ) -> FitOutcome {
        fit_check(
            &self.roster,
            &self.index,
            &self.rotas,
            team,
            package,
            user,
            from,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spare-capacity count by period equals counting 15-minute steps one by one.
    #[test]
    fn shift_quarters_by_period_match_a_step_by_step_count() {
        let mut rng: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |m: i64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % m as u64) as i32
        };
        for _ in 0..2000 {
            let start = next(5 * 1440) - 300;
            let end = start + next(20 * 60);
            let mut fast = BTreeMap::new();
            add_shift_quarters(&mut fast, start, end);
            let mut slow: BTreeMap<(u32, u8), i64> = BTreeMap::new();
            for m in (start..end).step_by(15) {
                *slow
                    .entry((m.div_euclid(1440) as u32, period_of(m.rem_euclid(1440))))
                    .or_default() += 15;
            }
            assert_eq!(fast, slow, "shift {start}..{end}");
        }
    }
}
