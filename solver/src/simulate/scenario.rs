//! The simulation scenario (JSON): the county, the demand, how providers
//! behave, workforce events and the policies to compare. Parsing names the JSON
//! path of a structural error; [`Scenario::validate`] then reports every
//! semantic problem at once, each with its path.

use crate::broker::{BrokerConfig, DeclineReason};
use crate::format::{Issue, IssueCode, Issues, Urgency, parse_json};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Longest run: a quarter. The planning horizon rolls nightly, so a run is
/// not bounded by the format's 28-day horizon.
pub const MAX_DAYS: u32 = 92;

/// A whole simulation scenario.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Name shown in reports.
    #[serde(default)]
    pub name: String,
    /// The county the broker serves.
    pub county: CountySpec,
    /// Days simulated (1-92). The county's planning horizon is today plus the
    /// policies' look-ahead and rolls every night, as in the live service.
    pub days: u32,
    /// Seeds: the first one and how many (each seed is one replication).
    #[serde(default)]
    pub seeds: SeedSpec,
    /// How referrals arrive.
    pub arrivals: Arrivals,
    /// What the referred packages look like.
    #[serde(default)]
    pub package_mix: PackageMix,
    /// How providers of each tier answer offers (`tier1`, `tier2`, `tier3`,
    /// `specialist`); a tier not listed uses the defaults.
    #[serde(default)]
    pub providers: BTreeMap<String, TierBehaviour>,
    /// Probability that a carer is off sick on a given day.
    #[serde(default)]
    pub sickness_rate: f64,
    /// Providers that fail during the run (Norfolk-style).
    #[serde(default)]
    pub provider_failures: Vec<ProviderFailure>,
    /// Policies compared on the same random streams.
    pub policies: Vec<Policy>,
    /// Minutes between broker ticks (offer expiry, damages, escalation retries).
    #[serde(default = "default_tick")]
    pub tick_min: u32,
    /// What the brokerage's staff do about escalated packages; nothing when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker_staff: Option<BrokerStaff>,
}

fn default_tick() -> u32 {
    5
}

/// Brokers phoning round: a package escalated for `rebroker_after_min`
/// minutes is brokered again with every provider asked afresh (their
/// capacity or answer may have changed), at most `rebroker_at_most` times.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BrokerStaff {
    /// Minutes after an escalation before a broker re-brokers the package.
    pub rebroker_after_min: u32,
    /// Re-brokerings per package at most.
    pub rebroker_at_most: u32,
}

/// Where the county comes from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CountySpec {
    /// A county generated from a seed and a size.
    Generate(GenerateSpec),
    /// A `carefill/1` roster file (providers, teams, carers, people, packages),
    /// relative to the scenario file; every team's rota is planned at the start.
    RosterFile {
        /// Path to the roster JSON.
        path: String,
        /// Search iterations per team rota.
        #[serde(default = "default_iterations")]
        rota_iterations: u64,
    },
    /// The serving broker's current state (`POST /v1/simulations` only): its
    /// roster and team rotas as they stand, simulated from the first day of
    /// its planning horizon.
    Serving,
}

/// A generated county.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GenerateSpec {
    /// Generator seed (the county is the same for every simulation seed).
    pub seed: u64,
    /// `small` (8 providers of one team), `devon_like` (35 providers) or
    /// `devon_large` (40 providers, about 150 teams).
    pub size: CountySize,
    /// Search iterations per team rota when planning the first rotas.
    #[serde(default = "default_iterations")]
    pub rota_iterations: u64,
    /// Adds one large Tier 1 block provider of this many teams, the county's
    /// last provider id: a Norfolk-style failure (Care UK's Broadland
    /// contract, "over 200 people") needs a provider that size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub large_tier1_teams: Option<u32>,
    /// Vacant capacity: each provider team gets this share (0-2) of extra
    /// carers beyond what its current caseload needs, working the same
    /// patterns as its carers (the generator sizes shifts to the caseload, so
    /// without it no team has room for anyone new).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub spare_carers_share: f64,
    /// The county's current packages end on days drawn evenly from the first
    /// this many (people recover, move into residential care or die), so
    /// room frees up as new packages arrive; none end when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing_packages_end_within_days: Option<u32>,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

fn default_iterations() -> u64 {
    300
}

/// Shape of a generated county.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CountySize {
    /// Eight providers of one team each (3 Tier 1, 2 Tier 2, Tier 3, specialist, emergency cover).
    Small,
    /// 35 providers (6 Tier 1, 10 Tier 2, 12 Tier 3, 6 specialist, emergency cover),
    /// the 30-40 of Devon Cares.
    DevonLike,
    /// 40 providers of about 90 teams (6 Tier 1 of 4-6 teams, 10 Tier 2 of 2-3,
    /// 16 Tier 3 and 7 specialists of 1-2, emergency cover) over twice the
    /// towns and villages: a county sized for ~3,000 referrals a month.
    DevonLarge,
}

/// Seeds to run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SeedSpec {
    /// First seed.
    pub first: u64,
    /// How many consecutive seeds.
    pub count: u32,
}

impl Default for SeedSpec {
    fn default() -> Self {
        SeedSpec { first: 1, count: 5 }
    }
}

/// Referral arrivals: a Poisson process whose rate follows the hour of day and
/// the day of week.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Arrivals {
    /// Mean referrals on an average day (before the surge factor).
    pub per_day: f64,
    /// Relative rate by local hour 0-23 (24 values; scaled to sum to one).
    #[serde(default = "default_hours")]
    pub by_hour: Vec<f64>,
    /// Relative rate by weekday, Monday first (7 values; scaled to average one).
    #[serde(default = "default_weekdays")]
    pub by_weekday: Vec<f64>,
    /// Multiplier on every rate (winter pressure: 1.3 = 30% more referrals).
    #[serde(default = "one")]
    pub surge: f64,
}

fn one() -> f64 {
    1.0
}

/// Discharges and community referrals come in office hours, most in the late
/// morning and the afternoon (docs/simulation.md, "Assumptions").
pub fn default_hours() -> Vec<f64> {
    vec![
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 0.6, 1.0, 1.4, 1.6, 1.3, 1.2, 1.5, 1.6, 1.3, 0.8,
        0.4, 0.2, 0.1, 0.0, 0.0, 0.0,
    ]
}

/// Fewer referrals at weekends (fewer discharges and no community teams).
pub fn default_weekdays() -> Vec<f64> {
    vec![1.15, 1.1, 1.1, 1.1, 1.15, 0.7, 0.7]
}

/// The shape of referred packages.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PackageMix {
    /// Relative weight of 1, 2, 3 and 4 visits a day.
    pub visits_per_day: Vec<f64>,
    /// Visit lengths to draw from, minutes.
    pub durations_min: Vec<u32>,
    /// Share of packages whose visits need two carers.
    pub double_handed_share: f64,
    /// Share of packages needing a specialist skill.
    pub specialist_share: f64,
    /// Specialist skills drawn for those packages.
    pub specialist_skills: Vec<String>,
    /// Relative weight of each urgency.
    pub urgency: BTreeMap<Urgency, f64>,
    /// Share of people wanting a carer of a given gender (required).
    pub gender_required_share: f64,
    /// Package length in days, drawn uniformly from `[min, max]` (short-term
    /// packages such as reablement end, freeing their carers' time); absent,
    /// packages are ongoing.
    pub length_days: Option<[u32; 2]>,
}

impl Default for PackageMix {
    fn default() -> Self {
        PackageMix {
            visits_per_day: vec![0.25, 0.35, 0.25, 0.15],
            durations_min: vec![30, 30, 45, 60],
            double_handed_share: 0.1,
            specialist_share: 0.1,
            specialist_skills: vec!["dementia".into()],
            urgency: BTreeMap::from([
                (Urgency::HospitalDischarge, 0.45),
                (Urgency::Routine, 0.30),
                (Urgency::Crisis, 0.15),
                (Urgency::Planned, 0.10),
            ]),
            gender_required_share: 0.05,
            length_days: None,
        }
    }
}

/// How the providers of one tier answer offers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TierBehaviour {
    /// Time to answer an offer: log-normal with this median, minutes.
    pub response_median_min: f64,
    /// ... and this 90th percentile, minutes (at least the median).
    pub response_p90_min: f64,
    /// Probability of never answering (the window expires).
    pub no_answer_probability: f64,
    /// Probability of declining, by reason (the rest accept).
    pub decline: BTreeMap<DeclineReason, f64>,
    /// Overrides the providers' own auto-accept setting: `true` takes every
    /// fitting package at once, `false` always waits for a human.
    pub auto_accept: Option<bool>,
}

impl Default for TierBehaviour {
    fn default() -> Self {
        TierBehaviour {
            response_median_min: 12.0,
            response_p90_min: 40.0,
            no_answer_probability: 0.1,
            decline: BTreeMap::from([
                (DeclineReason::NoCapacity, 0.15),
                (DeclineReason::TravelTooFar, 0.05),
                (DeclineReason::PackageTooSmall, 0.05),
            ]),
            auto_accept: None,
        }
    }
}

/// A provider failing on a given day.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProviderFailure {
    /// Day of the run, 0-based.
    pub day: u32,
    /// Local time `HH:MM`.
    #[serde(default = "nine")]
    pub time: String,
    /// Provider id.
    pub provider: String,
}

fn nine() -> String {
    "09:00".into()
}

/// A named brokering policy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Short name for reports.
    pub name: String,
    /// The broker's settings (defaults for fields left out).
    #[serde(default)]
    pub config: BrokerConfig,
    /// Carers in the emergency cover team under this policy (standby, every
    /// skill, day-long shifts); absent: the county's own team. 0 leaves the
    /// county without emergency cover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emergency_cover_carers: Option<u32>,
}

/// Most carers a policy may give the emergency cover team.
pub const MAX_EMERGENCY_COVER_CARERS: u32 = 60;

/// The tier keys of [`Scenario::providers`].
pub const TIER_KEYS: [&str; 4] = ["tier1", "tier2", "tier3", "specialist"];

/// Parses and validates a scenario; every problem is reported with its JSON path.
pub fn parse_scenario(text: &str) -> Result<Scenario, Vec<Issue>> {
    let s: Scenario = parse_json(text).map_err(|i| vec![i])?;
    s.validate()?;
    Ok(s)
}

fn probability(issues: &mut Issues, path: String, v: f64) {
    if !(0.0..=1.0).contains(&v) {
        issues.push(path, IssueCode::OutOfRange, "must be a probability, 0-1");
    }
}

fn weights(issues: &mut Issues, path: &str, v: &[f64], len: Option<usize>) {
    if let Some(n) = len
        && v.len() != n
    {
        issues.push(
            path,
            IssueCode::OutOfRange,
            format!("needs exactly {n} values, has {}", v.len()),
        );
    }
    for (i, w) in v.iter().enumerate() {
        if !w.is_finite() || *w < 0.0 {
            issues.push(
                format!("{path}[{i}]"),
                IssueCode::OutOfRange,
                "must be a finite number at least 0",
            );
        }
    }
    if v.iter().all(|w| *w <= 0.0) && !v.is_empty() {
        issues.push(
            path,
            IssueCode::OutOfRange,
            "needs at least one weight above 0",
        );
    }
}

impl Scenario {
    /// Checks every value, reporting all problems with their JSON paths.
    pub fn validate(&self) -> Result<(), Vec<Issue>> {
        let mut is = Issues::default();
        if !(1..=MAX_DAYS).contains(&self.days) {
            is.push(
                "$.days",
                IssueCode::OutOfRange,
                format!("must be 1-{MAX_DAYS}"),
            );
        }
        if !(1..=1000).contains(&self.seeds.count) {
            is.push("$.seeds.count", IssueCode::OutOfRange, "must be 1-1000");
        }
        match &self.county {
            CountySpec::Generate(g) => {
                if !(1..=100_000).contains(&g.rota_iterations) {
                    is.push(
                        "$.county.generate.rota_iterations",
                        IssueCode::OutOfRange,
                        "must be 1-100000",
                    );
                }
                if g.large_tier1_teams.is_some_and(|n| !(1..=30).contains(&n)) {
                    is.push(
                        "$.county.generate.large_tier1_teams",
                        IssueCode::OutOfRange,
                        "must be 1-30",
                    );
                }
                if !(0.0..=2.0).contains(&g.spare_carers_share) {
                    is.push(
                        "$.county.generate.spare_carers_share",
                        IssueCode::OutOfRange,
                        "must be 0-2 (a share of each team's carers)",
                    );
                }
                if g.existing_packages_end_within_days
                    .is_some_and(|n| !(1..=3650).contains(&n))
                {
                    is.push(
                        "$.county.generate.existing_packages_end_within_days",
                        IssueCode::OutOfRange,
                        "must be 1-3650",
                    );
                }
            }
            CountySpec::Serving => {}
            CountySpec::RosterFile {
                path,
                rota_iterations,
            } => {
                if path.trim().is_empty() {
                    is.push(
                        "$.county.roster_file.path",
                        IssueCode::OutOfRange,
                        "is empty",
                    );
                }
                if !(1..=100_000).contains(rota_iterations) {
                    is.push(
                        "$.county.roster_file.rota_iterations",
                        IssueCode::OutOfRange,
                        "must be 1-100000",
                    );
                }
            }
        }
        let a = &self.arrivals;
        if !a.per_day.is_finite() || a.per_day < 0.0 || a.per_day > 2000.0 {
            is.push(
                "$.arrivals.per_day",
                IssueCode::OutOfRange,
                "must be 0-2000",
            );
        }
        if !a.surge.is_finite() || a.surge < 0.0 || a.surge > 10.0 {
            is.push("$.arrivals.surge", IssueCode::OutOfRange, "must be 0-10");
        }
        weights(&mut is, "$.arrivals.by_hour", &a.by_hour, Some(24));
        weights(&mut is, "$.arrivals.by_weekday", &a.by_weekday, Some(7));

        let m = &self.package_mix;
        weights(
            &mut is,
            "$.package_mix.visits_per_day",
            &m.visits_per_day,
            None,
        );
        if m.visits_per_day.is_empty() || m.visits_per_day.len() > 4 {
            is.push(
                "$.package_mix.visits_per_day",
                IssueCode::OutOfRange,
                "needs 1-4 weights (1, 2, 3, 4 visits a day)",
            );
        }
        if m.durations_min.is_empty() {
            is.push(
                "$.package_mix.durations_min",
                IssueCode::OutOfRange,
                "is empty",
            );
        }
        for (i, d) in m.durations_min.iter().enumerate() {
            if !(15..=120).contains(d) {
                is.push(
                    format!("$.package_mix.durations_min[{i}]"),
                    IssueCode::OutOfRange,
                    "must be 15-120 minutes (visits fit their 2-3 hour windows)",
                );
            }
        }
        probability(
            &mut is,
            "$.package_mix.double_handed_share".into(),
            m.double_handed_share,
        );
        probability(
            &mut is,
            "$.package_mix.specialist_share".into(),
            m.specialist_share,
        );
        probability(
            &mut is,
            "$.package_mix.gender_required_share".into(),
            m.gender_required_share,
        );
        if let Some([lo, hi]) = m.length_days
            && !(1 <= lo && lo <= hi && hi <= 365)
        {
            is.push(
                "$.package_mix.length_days",
                IssueCode::OutOfRange,
                "must be [min, max] days with 1 <= min <= max <= 365",
            );
        }
        if m.specialist_share > 0.0 && m.specialist_skills.is_empty() {
            is.push(
                "$.package_mix.specialist_skills",
                IssueCode::OutOfRange,
                "needs at least one skill when specialist_share is above 0",
            );
        }
        for (i, s) in m.specialist_skills.iter().enumerate() {
            if !crate::format::DEFAULT_SKILLS.contains(&s.as_str()) {
                is.push(
                    format!("$.package_mix.specialist_skills[{i}]"),
                    IssueCode::UnknownSkill,
                    format!("`{s}` is not a known skill"),
                );
            }
        }
        for (u, w) in &m.urgency {
            if !w.is_finite() || *w < 0.0 {
                is.push(
                    format!("$.package_mix.urgency.{}", urgency_key(*u)),
                    IssueCode::OutOfRange,
                    "must be a finite number at least 0",
                );
            }
            if *u == Urgency::ProviderFailure {
                is.push(
                    "$.package_mix.urgency.provider_failure",
                    IssueCode::OutOfRange,
                    "is set by the broker when a provider fails, not drawn",
                );
            }
        }
        if m.urgency.values().all(|w| *w <= 0.0) {
            is.push(
                "$.package_mix.urgency",
                IssueCode::OutOfRange,
                "needs at least one weight above 0",
            );
        }

        for (k, b) in &self.providers {
            let p = format!("$.providers.{k}");
            if !TIER_KEYS.contains(&k.as_str()) {
                is.push(
                    p.clone(),
                    IssueCode::UnknownReference,
                    "tier must be tier1, tier2, tier3 or specialist (emergency cover always accepts)",
                );
            }
            if !b.response_median_min.is_finite()
                || b.response_median_min <= 0.0
                || b.response_median_min > 10_080.0
            {
                is.push(
                    format!("{p}.response_median_min"),
                    IssueCode::OutOfRange,
                    "must be above 0 and at most 10080",
                );
            }
            if !b.response_p90_min.is_finite()
                || b.response_p90_min < b.response_median_min
                || b.response_p90_min > 10_080.0
            {
                is.push(
                    format!("{p}.response_p90_min"),
                    IssueCode::OutOfRange,
                    "must be at least response_median_min and at most 10080",
                );
            }
            probability(
                &mut is,
                format!("{p}.no_answer_probability"),
                b.no_answer_probability,
            );
            for (r, v) in &b.decline {
                probability(&mut is, format!("{p}.decline.{}", r.code()), *v);
            }
            let total: f64 = b.no_answer_probability + b.decline.values().sum::<f64>();
            if total > 1.0 + 1e-9 {
                is.push(
                    format!("{p}.decline"),
                    IssueCode::OutOfRange,
                    format!(
                        "no-answer and decline probabilities add up to {total:.3}, more than 1"
                    ),
                );
            }
        }
        probability(&mut is, "$.sickness_rate".into(), self.sickness_rate);
        for (i, f) in self.provider_failures.iter().enumerate() {
            if f.day >= self.days {
                is.push(
                    format!("$.provider_failures[{i}].day"),
                    IssueCode::OutOfRange,
                    "must be a day of the run (0-based, below days)",
                );
            }
            if crate::model::time::parse_clock(&f.time).is_err() {
                is.push(
                    format!("$.provider_failures[{i}].time"),
                    IssueCode::InvalidTime,
                    "must be HH:MM",
                );
            }
            if f.provider.trim().is_empty() {
                is.push(
                    format!("$.provider_failures[{i}].provider"),
                    IssueCode::UnknownReference,
                    "is empty",
                );
            }
        }
        if self.policies.is_empty() {
            is.push(
                "$.policies",
                IssueCode::OutOfRange,
                "needs at least one policy",
            );
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, p) in self.policies.iter().enumerate() {
            let plain = p
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.+ ".contains(c));
            if p.name.trim().is_empty() || p.name.len() > 60 || !plain {
                is.push(
                    format!("$.policies[{i}].name"),
                    IssueCode::OutOfRange,
                    "must be 1-60 letters, digits, spaces or - _ . + (it names CSV rows)",
                );
            } else if !names.insert(p.name.clone()) {
                is.push(
                    format!("$.policies[{i}].name"),
                    IssueCode::DuplicateId,
                    format!("`{}` is used by an earlier policy", p.name),
                );
            }
            if p.emergency_cover_carers
                .is_some_and(|n| n > MAX_EMERGENCY_COVER_CARERS)
            {
                is.push(
                    format!("$.policies[{i}].emergency_cover_carers"),
                    IssueCode::OutOfRange,
                    format!("must be 0-{MAX_EMERGENCY_COVER_CARERS}"),
                );
            }
            if let Err(msg) = p.config.validate() {
                is.push(
                    format!("$.policies[{i}].config"),
                    IssueCode::OutOfRange,
                    msg,
                );
            } else if !p.config.horizon.rolling && self.days > p.config.horizon.horizon_days() {
                is.push(
                    format!("$.policies[{i}].config.horizon.rolling"),
                    IssueCode::OutOfRange,
                    format!(
                        "a horizon that does not roll covers {} days, fewer than the {} simulated",
                        p.config.horizon.horizon_days(),
                        self.days
                    ),
                );
            }
        }
        if let Some(b) = &self.broker_staff {
            if !(5..=1440).contains(&b.rebroker_after_min) {
                is.push(
                    "$.broker_staff.rebroker_after_min",
                    IssueCode::OutOfRange,
                    "must be 5-1440",
                );
            }
            if !(1..=10).contains(&b.rebroker_at_most) {
                is.push(
                    "$.broker_staff.rebroker_at_most",
                    IssueCode::OutOfRange,
                    "must be 1-10",
                );
            }
        }
        if !(1..=60).contains(&self.tick_min) {
            is.push("$.tick_min", IssueCode::OutOfRange, "must be 1-60");
        }
        if is.is_empty() { Ok(()) } else { Err(is.0) }
    }

    /// Days of the county's first planning horizon: today plus the longest
    /// look-ahead of the policies (each policy's broker rolls to its own).
    pub fn horizon_days(&self) -> u32 {
        self.policies
            .iter()
            .map(|p| p.config.horizon.horizon_days())
            .max()
            .unwrap_or_else(|| crate::broker::horizon::HorizonPolicy::default().horizon_days())
            .min(crate::broker::horizon::MAX_LOOKAHEAD_DAYS + 1)
    }

    /// The behaviour of providers of a tier key.
    pub fn behaviour(&self, tier: crate::format::Tier) -> TierBehaviour {
        self.providers
            .get(tier_key(tier))
            .cloned()
            .unwrap_or_default()
    }
}

/// The scenario key of a tier.
pub fn tier_key(t: crate::format::Tier) -> &'static str {
    use crate::format::Tier;
    match t {
        Tier::Tier1 => "tier1",
        Tier::Tier2 => "tier2",
        Tier::Tier3 => "tier3",
        Tier::Specialist => "specialist",
        Tier::EmergencyCover => "emergency_cover",
    }
}

/// The snake_case name of an urgency.
pub fn urgency_key(u: Urgency) -> &'static str {
    match u {
        Urgency::Crisis => "crisis",
        Urgency::HospitalDischarge => "hospital_discharge",
        Urgency::ProviderFailure => "provider_failure",
        Urgency::Routine => "routine",
        Urgency::Planned => "planned",
    }
}
