//! The county as the broker sees it: lookups over the roster (providers,
//! teams, carers, people, active packages), a team's own slice of it, and the
//! small facts derived from a package or an address.

use crate::format::issue::Issues;
use crate::format::{Carer, Package, PlanningRequest, Provider, ServiceUser, Team, TravelSpec};
use crate::spatial::{AreaIndex, area_to_multipolygon, great_circle_m};
use geo::MultiPolygon;
use std::collections::{BTreeSet, HashMap};

/// Typed positions in the roster's lists: the lookups hand them out and the
/// shortlist, fit check and team rosters take them, so a team's position
/// cannot index the providers. `roster.teams[team]` works as with a `usize`.
macro_rules! roster_positions {
    ($($(#[$doc:meta])* $name:ident => $item:ty;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub(crate) struct $name(pub usize);

        impl std::ops::Index<$name> for Vec<$item> {
            type Output = $item;
            fn index(&self, i: $name) -> &$item {
                &self[i.0]
            }
        }

        impl std::ops::IndexMut<$name> for Vec<$item> {
            fn index_mut(&mut self, i: $name) -> &mut $item {
                &mut self[i.0]
            }
        }
    )*};
}

roster_positions! {
    /// Position in `roster.providers`.
    ProviderIx => Provider;
    /// Position in `roster.teams`.
    TeamIx => Team;
    /// Position in `roster.carers`.
    CarerIx => Carer;
    /// Position in `roster.service_users`.
    UserIx => ServiceUser;
    /// Position in `roster.packages`.
    PackageIx => Package;
}

/// Lookups over the roster, rebuilt whenever the roster changes.
#[derive(Debug, Default, Clone)]
pub(crate) struct RosterIndex {
    pub provider_pos: HashMap<String, ProviderIx>,
    pub team_pos: HashMap<String, TeamIx>,
    pub teams_of_provider: HashMap<String, Vec<TeamIx>>,
    pub carers_of_team: HashMap<String, Vec<CarerIx>>,
    pub users_of_team: HashMap<String, Vec<UserIx>>,
    pub user_pos: HashMap<String, UserIx>,
    pub packages_of_user: HashMap<String, Vec<PackageIx>>,
    /// Providers' drawn service areas, by position in `roster.providers`.
    pub provider_areas: Option<AreaIndex>,
    /// Teams' drawn areas, by position in `roster.teams` (see [`Self::team_area`]).
    team_areas: Vec<Option<MultiPolygon<f64>>>,
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
            self.provider_pos.insert(p.id.clone(), ProviderIx(i));
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
            self.team_pos.insert(t.id.clone(), TeamIx(i));
            if let Some(p) = &t.provider {
                self.teams_of_provider
                    .entry(p.clone())
                    .or_default()
                    .push(TeamIx(i));
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
                self.carers_of_team
                    .entry(t.clone())
                    .or_default()
                    .push(CarerIx(i));
            }
        }
        for (i, u) in roster.service_users.iter().enumerate() {
            self.user_pos.insert(u.id.clone(), UserIx(i));
            if let Some(t) = &u.team {
                self.users_of_team
                    .entry(t.clone())
                    .or_default()
                    .push(UserIx(i));
            }
        }
        for (i, p) in roster.packages.iter().enumerate() {
            self.packages_of_user
                .entry(p.service_user.clone())
                .or_default()
                .push(PackageIx(i));
        }
    }

    /// A person added at the end of `roster.service_users` (no team yet):
    /// the incremental form of [`Self::build_people`] for a referral.
    pub fn person_added(&mut self, roster: &PlanningRequest) {
        let i = roster.service_users.len() - 1;
        self.user_pos
            .insert(roster.service_users[i].id.clone(), UserIx(i));
    }

    /// Person `user` moved from team `from` to their current team in the
    /// roster, and a package of theirs was added at the end of
    /// `roster.packages`: the incremental form of [`Self::build_people`] for
    /// an accepted offer (each list kept in roster order, as a rebuild has it).
    pub fn package_placed(&mut self, roster: &PlanningRequest, user: UserIx, from: Option<&str>) {
        let to = roster.service_users[user].team.as_deref();
        if from != to {
            if let Some(t) = from
                && let Some(list) = self.users_of_team.get_mut(t)
            {
                list.retain(|&u| u != user);
                if list.is_empty() {
                    self.users_of_team.remove(t);
                }
            }
            if let Some(t) = to {
                let list = self.users_of_team.entry(t.to_string()).or_default();
                if let Err(at) = list.binary_search(&user) {
                    list.insert(at, user);
                }
            }
        }
        let k = roster.packages.len() - 1;
        self.packages_of_user
            .entry(roster.packages[k].service_user.clone())
            .or_default()
            .push(PackageIx(k));
    }

    /// Whether the people lookups are what a rebuild from `roster` gives
    /// (checked after incremental updates in debug builds).
    pub fn people_match(&self, roster: &PlanningRequest) -> bool {
        let mut fresh = RosterIndex::default();
        fresh.build_people(roster);
        fresh.carers_of_team == self.carers_of_team
            && fresh.users_of_team == self.users_of_team
            && fresh.user_pos == self.user_pos
            && fresh.packages_of_user == self.packages_of_user
    }

    /// The team's drawn area, if it has one.
    pub fn team_area(&self, team: TeamIx) -> Option<&MultiPolygon<f64>> {
        self.team_areas.get(team.0).and_then(Option::as_ref)
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

/// The team's own roster: its provider, carers, people (except `except_user`'s
/// record) and all their packages.
pub(crate) fn team_roster(
    roster: &PlanningRequest,
    ix: &RosterIndex,
    team: TeamIx,
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
        frozen_before: None,
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
