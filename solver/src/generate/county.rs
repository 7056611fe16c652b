//! The county's layout: towns, villages, providers and where their teams sit.
//!
//! A Devon-like patch (docs/domain.md §1, §3.1): about 80 km across, a handful of
//! market towns of 5-20k people and many villages. Providers work from a home
//! town and put their teams nearby, so service areas cluster as they do in
//! practice; specialist providers spread across towns; the emergency cover
//! team covers the whole county.

use super::geometry::{Point, random_in_disk};
use super::{ProviderPlan, SizeProfile, pick, pick_index};
use crate::format::{FrameworkStatus, Tier};
use rand::Rng;
use rand::seq::SliceRandom;

/// Centre of the generated county (mid Devon).
pub(super) const COUNTY_CENTRE: Point = Point {
    lat: 50.7,
    lon: -3.6,
};
/// Radius of the generated county, metres.
pub(super) const COUNTY_RADIUS_M: f64 = 40_000.0;

const TOWN_NAMES: [&str; 12] = [
    "Ashworthy",
    "Brackenford",
    "Coldharbour",
    "Dunsmere",
    "Eastbrook",
    "Fernleigh",
    "Gorsecombe",
    "Hollacott",
    "Kingsmoor",
    "Longbarrow",
    "Millhaven",
    "Northcott",
];
const VILLAGE_PREFIXES: [&str; 20] = [
    "Ash", "Birch", "Bramble", "Cold", "Combe", "Down", "Elm", "Fern", "Furze", "Green", "Heath",
    "High", "Holly", "Kings", "Lang", "Mill", "Moor", "Oak", "Stone", "West",
];
const VILLAGE_SUFFIXES: [&str; 10] = [
    "bury", "cott", "ford", "hay", "leigh", "stow", "ton", "well", "wick", "worthy",
];
const PROVIDER_WORDS: [&str; 48] = [
    "Moorland",
    "Riverside",
    "Harbour",
    "Valley",
    "Heartwood",
    "Oakleaf",
    "Westcountry",
    "Coastline",
    "Meadowbank",
    "Brightwater",
    "Greenway",
    "Hearthstone",
    "Kindred",
    "Larkspur",
    "Northgate",
    "Orchard",
    "Primrose",
    "Quayside",
    "Rosewood",
    "Seabreeze",
    "Heather",
    "Willowbrook",
    "Yew Tree",
    "Bluebell",
    "Camellia",
    "Driftwood",
    "Evergreen",
    "Foxglove",
    "Granite",
    "Hawthorn",
    "Juniper",
    "Kestrel",
    "Lavender",
    "Marigold",
    "Nightingale",
    "Otterbrook",
    "Pebble",
    "Rowan",
    "Saffron",
    "Thistle",
    "Upland",
    "Verity",
    "Wren",
    "Alder",
    "Beacon",
    "Clover",
    "Dartside",
    "Exevale",
];
const PROVIDER_SUFFIXES: [&str; 5] = [
    "Care",
    "Homecare",
    "Home Care",
    "Care Services",
    "Support at Home",
];

/// A market town.
#[derive(Debug, Clone)]
pub(super) struct Town {
    pub name: String,
    pub centre: Point,
    pub population: u32,
    /// Built-up radius (dense, urban driving speeds inside).
    pub radius_m: f64,
}

/// A village (rural team bases and hamlets cluster around these).
#[derive(Debug, Clone)]
pub(super) struct Village {
    pub name: String,
    pub centre: Point,
}

/// Towns and villages of the county.
#[derive(Debug, Clone)]
pub(super) struct Geography {
    pub towns: Vec<Town>,
    pub villages: Vec<Village>,
}

/// What kind of people a team looks after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TeamKind {
    General,
    Specialist,
    Emergency,
}

/// A team to be populated.
#[derive(Debug, Clone)]
pub(super) struct TeamSite {
    pub provider: usize,
    pub name: String,
    pub base: Point,
    pub radius_m: f64,
    /// Index of the town for town teams; `None` for rural (and county-wide) teams.
    pub town: Option<usize>,
    pub kind: TeamKind,
    pub carers: u32,
    pub users: u32,
    pub zero_hours_share: f64,
}

/// A provider to be populated.
#[derive(Debug, Clone)]
pub(super) struct ProviderSite {
    pub name: String,
    pub tier: Tier,
    pub status: FrameworkStatus,
    pub block: bool,
    pub home: Point,
    pub teams: Vec<usize>,
    pub rate_pence: u32,
}

/// Places towns and villages with minimum separations.
pub(super) fn geography<R: Rng>(rng: &mut R, n_towns: u32, n_villages: u32) -> Geography {
    let mut towns: Vec<Town> = Vec::new();
    let mut min_sep = 14_000.0;
    let mut tries = 0;
    while towns.len() < n_towns as usize {
        tries += 1;
        if tries % 200 == 0 {
            min_sep *= 0.8; // crowded: relax instead of looping forever
        }
        let centre = random_in_disk(rng, COUNTY_CENTRE, COUNTY_RADIUS_M * 0.8);
        if towns.iter().any(|t| t.centre.distance_m(centre) < min_sep) {
            continue;
        }
        let population = rng.random_range(50..=200u32) * 100;
        // ~1,800 people per km² of built-up area.
        let radius_m =
            ((population as f64 / (std::f64::consts::PI * 1800.0)).sqrt() * 1000.0).round();
        let name = TOWN_NAMES
            .get(towns.len())
            .map_or_else(|| format!("Town {}", towns.len() + 1), |s| s.to_string());
        towns.push(Town {
            name,
            centre,
            population,
            radius_m,
        });
    }

    let mut names: Vec<String> = VILLAGE_PREFIXES
        .iter()
        .flat_map(|p| VILLAGE_SUFFIXES.iter().map(move |s| format!("{p}{s}")))
        .filter(|n| !TOWN_NAMES.contains(&n.as_str()))
        .collect();
    names.shuffle(rng);
    let mut villages: Vec<Village> = Vec::new();
    let mut min_sep = 4_000.0;
    let mut tries = 0;
    while villages.len() < n_villages as usize {
        tries += 1;
        if tries % 200 == 0 {
            min_sep *= 0.8;
        }
        let centre = random_in_disk(rng, COUNTY_CENTRE, COUNTY_RADIUS_M * 0.95);
        let clash_town = towns
            .iter()
            .any(|t| t.centre.distance_m(centre) < t.radius_m + min_sep);
        let clash_village = villages
            .iter()
            .any(|v| v.centre.distance_m(centre) < min_sep);
        if clash_town || clash_village {
            continue;
        }
        let name = names
            .get(villages.len())
            .cloned()
            .unwrap_or_else(|| format!("Village {}", villages.len() + 1));
        villages.push(Village { name, centre });
    }
    Geography { towns, villages }
}

/// Creates providers and their team sites per the size profile.
pub(super) fn plan<R: Rng>(
    rng: &mut R,
    geo: &Geography,
    profile: &SizeProfile,
) -> (Vec<ProviderSite>, Vec<TeamSite>) {
    let mut words: Vec<&str> = PROVIDER_WORDS.to_vec();
    words.shuffle(rng);
    let mut providers: Vec<ProviderSite> = Vec::new();
    let mut teams: Vec<TeamSite> = Vec::new();

    for plan in &profile.providers {
        for k in 0..plan.count {
            let p_idx = providers.len();
            let word = words.get(p_idx % words.len()).copied().unwrap_or("Home");
            let site = provider_site(rng, geo, plan, k, word);
            let n_teams = rng.random_range(plan.teams.0..=plan.teams.1.max(plan.teams.0));
            let mut team_ids = Vec::new();
            for j in 0..n_teams {
                let mut t = team_site(rng, geo, profile, plan, &site, p_idx, j);
                // Two teams of a provider in one neighbourhood get numbered names.
                let same = teams
                    .iter()
                    .filter(|o| o.name == t.name || o.name.starts_with(&format!("{} #", t.name)))
                    .count();
                if same > 0 {
                    t.name = format!("{} #{}", t.name, same + 1);
                }
                team_ids.push(teams.len());
                teams.push(t);
            }
            providers.push(ProviderSite {
                teams: team_ids,
                ..site
            });
        }
    }
    (providers, teams)
}

fn provider_site<R: Rng>(
    rng: &mut R,
    geo: &Geography,
    plan: &ProviderPlan,
    k: u32,
    word: &str,
) -> ProviderSite {
    let home = match plan.tier {
        Tier::EmergencyCover => COUNTY_CENTRE,
        _ => {
            let weights: Vec<f64> = geo.towns.iter().map(|t| f64::from(t.population)).collect();
            pick_index(rng, &weights)
                .and_then(|i| geo.towns.get(i))
                .map_or(COUNTY_CENTRE, |t| t.centre)
        }
    };
    let name = match plan.tier {
        Tier::EmergencyCover => "County Emergency Cover Team".to_string(),
        Tier::Specialist => format!("{word} Specialist Care"),
        _ => format!("{word} {}", pick(rng, &PROVIDER_SUFFIXES.map(|s| (s, 1.0)))),
    };
    let status = if k + plan.off_framework >= plan.count && plan.off_framework > 0 {
        FrameworkStatus::OffFramework
    } else if k + plan.off_framework + plan.suspended >= plan.count && plan.suspended > 0 {
        FrameworkStatus::Suspended
    } else {
        FrameworkStatus::Active
    };
    let rate_pence = match (plan.tier, status) {
        (Tier::EmergencyCover, _) => 2400,
        (Tier::Specialist, _) => rng.random_range(430..=490) * 5,
        (_, FrameworkStatus::OffFramework) => rng.random_range(420..=460) * 5,
        (Tier::Tier3, _) => rng.random_range(372..=420) * 5 - 4,
        _ => 1856, // Devon Cares' flat framework rate (docs/domain.md §1.3)
    };
    ProviderSite {
        name,
        tier: plan.tier,
        status,
        block: rng.random_bool(plan.block_share.clamp(0.0, 1.0)),
        home,
        teams: Vec::new(),
        rate_pence,
    }
}

fn team_site<R: Rng>(
    rng: &mut R,
    geo: &Geography,
    profile: &SizeProfile,
    plan: &ProviderPlan,
    provider: &ProviderSite,
    p_idx: usize,
    j: u32,
) -> TeamSite {
    let kind = match plan.tier {
        Tier::EmergencyCover => TeamKind::Emergency,
        Tier::Specialist => TeamKind::Specialist,
        _ => TeamKind::General,
    };
    let (lo, hi) = profile.carers_per_team;
    let cap = profile.max_carers_per_team.max(1);
    let carers = match kind {
        TeamKind::Emergency => cap,
        _ => rng.random_range(lo.min(hi)..=hi).clamp(1, cap),
    };
    let zero_hours_share = match plan.tier {
        Tier::Tier1 => rng.random_range(0.55..0.62),
        Tier::Tier3 => rng.random_range(0.65..0.74),
        _ => rng.random_range(0.57..0.68),
    };
    // Sanitised so that a hand-made profile cannot make the range panic.
    let (lo, hi) = profile.users_per_carer;
    let lo = if lo.is_finite() {
        lo.clamp(0.0, 60.0)
    } else {
        0.0
    };
    let hi = if hi.is_finite() {
        hi.clamp(lo, 60.0)
    } else {
        lo
    };
    let load = rng.random_range(lo..=hi);

    if kind == TeamKind::Emergency {
        let users = (f64::from(carers) * load * 0.15).round().max(1.0) as u32;
        return TeamSite {
            provider: p_idx,
            name: format!("{} {}", provider.name, j + 1),
            base: COUNTY_CENTRE.offset(f64::from(j) * 3_000.0, 0.0),
            radius_m: COUNTY_RADIUS_M + 2_000.0,
            town: None,
            kind,
            carers,
            users,
            zero_hours_share,
        };
    }

    let rural = (geo.towns.is_empty()
        || (j > 0 && rng.random_bool(plan.rural_share.clamp(0.0, 1.0))))
        && !geo.villages.is_empty();
    let (name, base, radius_m, town) = if rural {
        let w: Vec<f64> = geo
            .villages
            .iter()
            .map(|v| decay(v.centre.distance_m(provider.home), 12_000.0))
            .collect();
        let v = pick_index(rng, &w).and_then(|i| geo.villages.get(i));
        let (vname, centre) = v.map_or(("Rural".to_string(), provider.home), |v| {
            (v.name.clone(), v.centre)
        });
        let radius = f64::from(rng.random_range(16..=30u32)) * 500.0;
        (format!("{vname} and villages"), centre, radius, None)
    } else {
        let w: Vec<f64> = geo
            .towns
            .iter()
            .map(|t| {
                let d = t.centre.distance_m(provider.home);
                if j == 0 && kind == TeamKind::General {
                    if d < 1.0 { 1.0 } else { 0.0 }
                } else if kind == TeamKind::Specialist {
                    f64::from(t.population)
                } else {
                    f64::from(t.population) * decay(d, 15_000.0)
                }
            })
            .collect();
        let ti = pick_index(rng, &w).unwrap_or(0);
        // With no towns at all the team still gets a (nameless) urban patch.
        let (tname, centre, tr) = geo
            .towns
            .get(ti)
            .map_or(("Town".to_string(), provider.home, 1_500.0), |t| {
                (t.name.clone(), t.centre, t.radius_m)
            });
        let base = random_in_disk(rng, centre, tr * 0.6);
        let radius = f64::from(rng.random_range(20..=40u32)) * 100.0;
        (
            format!("{tname} {}", sector(centre, base)),
            base,
            radius,
            geo.towns.get(ti).map(|_| ti),
        )
    };
    let rural_factor = if town.is_none() { 0.85 } else { 1.0 };
    let kind_factor = if kind == TeamKind::Specialist {
        0.75
    } else {
        1.0
    };
    let users = (f64::from(carers) * load * rural_factor * kind_factor)
        .round()
        .clamp(1.0, 60.0) as u32;
    TeamSite {
        provider: p_idx,
        name: format!("{name} ({})", provider.name),
        base,
        radius_m,
        town,
        kind,
        carers,
        users,
        zero_hours_share,
    }
}

/// Gravity-style weight: 1 at distance 0, falling with the square of distance.
fn decay(d: f64, scale: f64) -> f64 {
    1.0 / (1.0 + (d / scale).powi(2))
}

/// Compass sector of `p` seen from a town centre, for team names.
fn sector(centre: Point, p: Point) -> &'static str {
    let dy = p.lat - centre.lat;
    let dx = (p.lon - centre.lon) * centre.lat.to_radians().cos();
    if centre.distance_m(p) < 400.0 {
        "Central"
    } else if dy.abs() >= dx.abs() {
        if dy > 0.0 { "North" } else { "South" }
    } else if dx > 0.0 {
        "East"
    } else {
        "West"
    }
}
