//! The county as the broker sees it (providers, teams, carers, people, active
//! packages and each team's published rota) and the fit check: can this whole
//! package go into this team's rota as it stands, and at what cost?

use super::records::FitSummary;
use crate::format::issue::Issues;
use crate::format::{
    FrameworkStatus, Package, PlanningRequest, Rota, Route, ServiceUser, Tier, TravelSpec,
    UnplacedReason,
};
use crate::model::{PlannedRoute, Problem};
use crate::rota::insert_visits;
use crate::spatial::{AreaIndex, area_to_multipolygon, great_circle_m};
use geo::{Contains, MultiPolygon, Point};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A team with no drawn neighbourhood is considered for people this close to its base.
pub const TEAM_REACH_M: f64 = 15_000.0;

/// Lookups over the roster, rebuilt whenever the roster changes.
#[derive(Debug, Default)]
pub(crate) struct RosterIndex {
    pub provider_pos: HashMap<String, usize>,
    pub team_pos: HashMap<String, usize>,
    pub teams_of_provider: HashMap<String, Vec<usize>>,
    pub carers_of_team: HashMap<String, Vec<usize>>,
    pub users_of_team: HashMap<String, Vec<usize>>,
    pub user_pos: HashMap<String, usize>,
    pub packages_of_user: HashMap<String, Vec<usize>>,
    pub provider_areas: Option<AreaIndex>,
    pub team_areas: Vec<Option<MultiPolygon<f64>>>,
}

impl RosterIndex {
    pub fn build(roster: &PlanningRequest) -> Self {
        let mut ix = RosterIndex::default();
        ix.build_geography(roster);
        ix.build_people(roster);
        ix
    }

    /// Providers, teams and their drawn areas: parsing polygons is the slow
    /// part, and these change only when providers or teams do.
    fn build_geography(&mut self, roster: &PlanningRequest) {
        let mut issues = Issues::default();
        let mut areas = Vec::new();
        self.provider_pos.clear();
        self.team_pos.clear();
        self.teams_of_provider.clear();
        self.team_areas.clear();
        for (i, p) in roster.providers.iter().enumerate() {
            self.provider_pos.insert(p.id.clone(), i);
            let mut polys: Vec<geo::Polygon<f64>> = Vec::new();
            for a in &p.service_areas {
                if let Some(mp) =
                    area_to_multipolygon(a, "providers[].service_areas[]", &mut issues)
                {
                    polys.extend(mp.0);
                }
            }
            areas.push((i, MultiPolygon(polys)));
        }
        self.provider_areas = Some(AreaIndex::new(areas));
        for (i, t) in roster.teams.iter().enumerate() {
            self.team_pos.insert(t.id.clone(), i);
            if let Some(p) = &t.provider {
                self.teams_of_provider.entry(p.clone()).or_default().push(i);
            }
            self.team_areas.push(
                t.area
                    .as_ref()
                    .and_then(|a| area_to_multipolygon(a, "teams[].area", &mut issues)),
            );
        }
    }

    /// Carers, people and packages by team and person: these change with
    /// almost every brokering event (referral, acceptance, release).
    pub fn build_people(&mut self, roster: &PlanningRequest) {
        self.carers_of_team.clear();
        self.users_of_team.clear();
        self.user_pos.clear();
        self.packages_of_user.clear();
        for (i, c) in roster.carers.iter().enumerate() {
            if let Some(t) = &c.team {
                self.carers_of_team.entry(t.clone()).or_default().push(i);
            }
        }
        for (i, u) in roster.service_users.iter().enumerate() {
            self.user_pos.insert(u.id.clone(), i);
            if let Some(t) = &u.team {
                self.users_of_team.entry(t.clone()).or_default().push(i);
            }
        }
        for (i, p) in roster.packages.iter().enumerate() {
            self.packages_of_user
                .entry(p.service_user.clone())
                .or_default()
                .push(i);
        }
    }
}

/// Skills a package needs anywhere.
pub fn package_skills(package: &Package) -> BTreeSet<String> {
    let mut s: BTreeSet<String> = package.required_skills.iter().cloned().collect();
    for v in &package.visits {
        s.extend(v.required_skills.iter().cloned());
    }
    s
}

/// A short area label for reports: the nearest town within twice its radius, else "rural".
pub fn area_label(roster: &PlanningRequest, at: &crate::format::Location) -> String {
    if let TravelSpec::Haversine(h) = &roster.travel {
        let here = (at.lat, at.lon);
        let mut best: Option<(f64, String)> = None;
        for (i, town) in h.urban_areas.iter().enumerate() {
            let d = great_circle_m(here, (town.centre.lat, town.centre.lon));
            if d <= town.radius_m * 2.0 && best.as_ref().is_none_or(|b| d < b.0) {
                let name = town
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("town {}", i + 1));
                best = Some((d, name));
            }
        }
        if let Some((_, name)) = best {
            return name;
        }
    }
    "rural".to_string()
}

/// A team worth fit-checking for a person, and why others are not.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamShortlist {
    /// (provider index, team index, distance from base in metres), nearest first.
    pub teams: Vec<(usize, usize, f64)>,
    /// Providers left out: (provider id, code, message).
    pub excluded: Vec<(String, String, String)>,
}

/// Providers that could take a package for this person: on the framework,
/// serving the area, holding the skills; and their teams that reach the person.
pub(crate) fn shortlist(
    roster: &PlanningRequest,
    ix: &RosterIndex,
    package: &Package,
    user: &ServiceUser,
    max_teams: usize,
) -> TeamShortlist {
    let (lat, lon) = (user.location.lat, user.location.lon);
    let in_area: BTreeSet<usize> = ix
        .provider_areas
        .as_ref()
        .map(|a| a.containing(lat, lon).into_iter().collect())
        .unwrap_or_default();
    let needs = package_skills(package);
    let mut teams = Vec::new();
    let mut excluded = Vec::new();
    for (pi, provider) in roster.providers.iter().enumerate() {
        // The emergency cover team covers the whole county whatever its drawn areas.
        let covers = in_area.contains(&pi) || provider.tier == Tier::EmergencyCover;
        if !covers {
            continue;
        }
        if provider.framework_status != FrameworkStatus::Active {
            excluded.push((
                provider.id.clone(),
                "not_on_framework".to_string(),
                format!("framework status is {:?}", provider.framework_status).to_lowercase(),
            ));
            continue;
        }
        let missing: Vec<&String> = needs
            .iter()
            .filter(|s| !provider.skills.contains(s))
            .collect();
        if !missing.is_empty() {
            excluded.push((
                provider.id.clone(),
                "missing_skills".to_string(),
                format!(
                    "provider does not offer {}",
                    missing
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
            continue;
        }
        let mut reached = 0;
        for &ti in ix
            .teams_of_provider
            .get(&provider.id)
            .map_or(&[][..], Vec::as_slice)
        {
            let team = &roster.teams[ti];
            let d = great_circle_m((lat, lon), (team.base.lat, team.base.lon));
            let in_team_area = ix.team_areas[ti]
                .as_ref()
                .map(|a| a.contains(&Point::new(lon, lat)));
            let reaches = match in_team_area {
                Some(inside) => inside || d <= TEAM_REACH_M / 3.0,
                None => d <= TEAM_REACH_M,
            } || provider.tier == Tier::EmergencyCover;
            if reaches {
                teams.push((pi, ti, d));
                reached += 1;
            }
        }
        if reached == 0 {
            excluded.push((
                provider.id.clone(),
                "no_team_nearby".to_string(),
                "no neighbourhood team of the provider covers the person's address".to_string(),
            ));
        }
    }
    teams.sort_by(|a, b| a.2.total_cmp(&b.2).then(a.1.cmp(&b.1)));
    // The cap bounds latency; emergency cover, the last resort, is always checked.
    let (mut cover, mut rest): (Vec<_>, Vec<_>) = teams
        .into_iter()
        .partition(|&(pi, _, _)| roster.providers[pi].tier == Tier::EmergencyCover);
    rest.truncate(max_teams);
    rest.append(&mut cover);
    let teams = rest;
    TeamShortlist { teams, excluded }
}

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

/// Travel allowance on care minutes when estimating capacity (paid travel is
/// typically 15-30% of care time in home care).
const TRAVEL_ALLOWANCE: f64 = 1.25;

/// Builds the team's own planning request with the new package added.
pub(crate) fn team_request(
    roster: &PlanningRequest,
    ix: &RosterIndex,
    team: usize,
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

/// The team's own roster: its provider, carers, people (except `except_user`'s
/// record) and all their packages.
pub(crate) fn team_roster(
    roster: &PlanningRequest,
    ix: &RosterIndex,
    team: usize,
    except_user: Option<&str>,
) -> PlanningRequest {
    let t = &roster.teams[team];
    let mut req = PlanningRequest {
        format: roster.format.clone(),
        horizon: roster.horizon.clone(),
        settings: roster.settings.clone(),
        travel: roster.travel.clone(),
        providers: t
            .provider
            .as_ref()
            .and_then(|p| ix.provider_pos.get(p))
            .map(|&i| vec![roster.providers[i].clone()])
            .unwrap_or_default(),
        teams: vec![t.clone()],
        carers: Vec::new(),
        service_users: Vec::new(),
        packages: Vec::new(),
        existing_rota: Vec::new(),
    };
    for &c in ix.carers_of_team.get(&t.id).map_or(&[][..], Vec::as_slice) {
        req.carers.push(roster.carers[c].clone());
    }
    for &u in ix.users_of_team.get(&t.id).map_or(&[][..], Vec::as_slice) {
        let su = &roster.service_users[u];
        if Some(su.id.as_str()) != except_user {
            req.service_users.push(su.clone());
        }
        for &pk in ix
            .packages_of_user
            .get(&su.id)
            .map_or(&[][..], Vec::as_slice)
        {
            req.packages.push(roster.packages[pk].clone());
        }
    }
    req
}

/// People's preferred, excluded and known carers outside the team mean nothing to
/// the team's own rota (and would be unknown ids there), so they are dropped.
pub(crate) fn keep_team_carer_refs(req: &mut PlanningRequest) {
    let ids: BTreeSet<String> = req.carers.iter().map(|c| c.id.clone()).collect();
    for u in &mut req.service_users {
        u.preferred_carers.retain(|c| ids.contains(c));
        u.excluded_carers.retain(|c| ids.contains(c));
        u.known_carers.retain(|c| ids.contains(c));
    }
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
        },
        changed_routes: Vec::new(),
        spare: BTreeMap::new(),
        demand: BTreeMap::new(),
    }
}

/// Checks whether the whole package fits the team's current rota.
pub(crate) fn fit_check(
    roster: &PlanningRequest,
    ix: &RosterIndex,
    rotas: &BTreeMap<String, Rota>,
    team: usize,
    package: &Package,
    user: &ServiceUser,
) -> FitOutcome {
    let team_id = roster.teams[team].id.clone();
    let req = team_request(roster, ix, team, package, user);
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
    let prefix = format!("{}/", package.id);
    let new_visits: Vec<usize> = (0..p.visits.len())
        .filter(|&v| p.visits[v].id.starts_with(&prefix))
        .collect();
    if new_visits.is_empty() {
        return not_fitting(
            &team_id,
            0,
            "no_visits_in_horizon",
            "the package has no visits in the planning horizon".into(),
        );
    }
    let empty = Rota::default();
    let rota = rotas.get(&team_id).unwrap_or(&empty);
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
    let changed_before: Vec<PlannedRoute> = changed
        .iter()
        .filter_map(|r| before.get(&r.shift).map(|b| (*b).clone()))
        .collect();
    let travel = |routes: &[PlannedRoute]| -> (i64, Vec<Route>) {
        let w = p.write_rota(routes, &[]);
        let t = w
            .routes
            .iter()
            .map(|r| {
                let legs: i64 = r
                    .stops
                    .iter()
                    .skip(1)
                    .map(|s| i64::from(s.travel_min))
                    .sum();
                if p.paid_commute {
                    legs + i64::from(r.start_travel_min) + i64::from(r.end_travel_min)
                } else {
                    legs
                }
            })
            .sum();
        (t, w.routes)
    };
    let (travel_before, _) = travel(&changed_before);
    let (travel_after, changed_routes) = travel(&changed);
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
        for m in (s.start..s.end).step_by(15) {
            let day = (m.div_euclid(1440)) as u32;
            *spare
                .entry((day, period_of(m.rem_euclid(1440))))
                .or_default() += 15;
        }
    }
    for r in &current {
        for &(v, start) in &r.stops {
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
        },
        changed_routes: if fits { changed_routes } else { Vec::new() },
        spare,
        demand,
    }
}
