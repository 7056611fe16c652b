//! Validation of a wire request and its expansion into a [`Problem`].
//!
//! One pass walks the whole request and records every issue with its JSON
//! path; the problem is returned only when there are none.

use super::time::{
    Horizon, Instants, Minute, Zone, parse_clock, parse_date, parse_offset, parse_zone, select_days,
};
use super::*;
use crate::format::{
    self, AreaGeometry, ContractTerms, Issue, IssueCode, Issues, Lateness, PlanningRequest,
    Strength, TimeSpec, TravelSpec,
};
use std::collections::{BTreeMap, HashSet};
use std::fmt::{self, Display};

/// Longest horizon accepted, days.
pub const MAX_HORIZON_DAYS: u32 = 28;
/// Most visit patterns in one package (`packages[].visits`); the rest are not read.
pub const MAX_VISIT_PATTERNS: usize = 50;
/// Most concrete visits of one package on one day (home care rarely needs
/// more than six; twelve leaves room for 24-hour packages with frequent checks).
pub const MAX_PACKAGE_VISITS_PER_DAY: usize = 12;
/// Most concrete visits of one package over the horizon: bounds the work one
/// referral's fit checks can ask for.
pub const MAX_PACKAGE_VISITS: usize = 250;
/// Shortest and longest visit accepted, minutes.
pub const VISIT_DURATION_RANGE: (u32, u32) = (5, 480);
/// Highest hourly rate accepted, pence (£1,000 an hour: far above any care fee,
/// far below where sums of a year's fees could overflow).
pub const MAX_HOURLY_RATE_PENCE: u32 = 100_000;
/// Most minutes a block contract may commit per week (about 16,700 hours).
pub const MAX_BLOCK_MIN_PER_WEEK: u32 = 1_000_000;

use crate::format::ids::{MAX_LABEL_LEN, MAX_NAME_LEN};

impl Problem {
    /// Validates `request` and builds the problem, or returns every issue found.
    pub fn from_request(request: &PlanningRequest) -> Result<Problem, Vec<Issue>> {
        let mut b = Builder {
            issues: Issues::default(),
            locations: Vec::new(),
            location_ids: HashMap::new(),
        };
        let problem = b.build(request);
        match problem {
            Some(p) if b.issues.is_empty() => Ok(p),
            _ => {
                if b.issues.is_empty() {
                    // Defensive: a build that gave up must have said why.
                    b.issues.push(
                        "$",
                        IssueCode::MalformedJson,
                        "the request could not be interpreted",
                    );
                }
                Err(b.issues.0)
            }
        }
    }
}

impl Problem {
    /// Warnings about a request that is valid but probably not what was meant.
    /// They never fail validation: a brokering request has packages and no
    /// carers on purpose, while a rota request without carers leaves every visit
    /// unplaced.
    pub fn warnings(request: &PlanningRequest) -> Vec<Issue> {
        let mut out = Vec::new();
        if !request.packages.is_empty() && request.carers.is_empty() {
            out.push(Issue::new(
                "$.carers",
                IssueCode::NoCarers,
                format!(
                    "the request has {} package(s) and no carers: a rota would leave every visit unplaced (no_skilled_carer); add the team's carers, or ignore this for a brokering request",
                    request.packages.len()
                ),
            ));
        }
        out
    }
}

struct Builder {
    issues: Issues,
    locations: Vec<Location>,
    location_ids: HashMap<(u64, u64, Option<u32>), LocIdx>,
}

/// Per-request context needed while walking entities.
struct Ctx<'a> {
    horizon: Horizon,
    skills: HashMap<&'a str, usize>,
    bands: BTreeMap<String, (Minute, Minute)>,
    matrix_size: Option<usize>,
    /// Each day's `YYYY-MM-DD` (for shift and visit ids).
    day_text: Vec<String>,
    /// Each day's local midnight and the next day's, as horizon minutes.
    midnight: Vec<Minute>,
    /// Reads instants (absences, referral times, the published rota's starts).
    instants: Instants,
}

impl<'a> Ctx<'a> {
    fn new(
        horizon: Horizon,
        skills: HashMap<&'a str, usize>,
        bands: BTreeMap<String, (Minute, Minute)>,
        matrix_size: Option<usize>,
    ) -> Self {
        // Building a team's problem is the broker's inner loop (every fit
        // check): dates are formatted and the zone consulted once per day,
        // not once per shift and visit.
        let days = horizon.days.min(MAX_HORIZON_DAYS);
        Ctx {
            day_text: (0..days)
                .map(|d| horizon.date(d).format("%Y-%m-%d").to_string())
                .collect(),
            midnight: (0..=days).map(|d| horizon.local(d, 0)).collect(),
            instants: horizon.instants(),
            horizon,
            skills,
            bands,
            matrix_size,
        }
    }

    /// `horizon.date(day)` as `YYYY-MM-DD`.
    fn date_text(&self, day: u32) -> std::borrow::Cow<'_, str> {
        match self.day_text.get(day as usize) {
            Some(text) => text.as_str().into(),
            None => self.horizon.date(day).format("%Y-%m-%d").to_string().into(),
        }
    }

    /// `horizon.local(day, clock)`: a day whose two midnights are 24 hours
    /// apart has no clock change, so a time of that day is its midnight plus
    /// the clock; other days (and times past midnight) ask the zone.
    fn local(&self, day: u32, clock: Minute) -> Minute {
        let d = day as usize;
        match (self.midnight.get(d), self.midnight.get(d + 1)) {
            (Some(&a), Some(&b)) if b - a == 1440 && (0..=1440).contains(&clock) => a + clock,
            _ => self.horizon.local(day, clock),
        }
    }
}

impl Builder {
    fn push(&mut self, path: impl Into<String>, code: IssueCode, msg: impl Into<String>) {
        self.issues.push(path, code, msg);
    }

    fn build(&mut self, r: &PlanningRequest) -> Option<Problem> {
        if r.format != format::FORMAT_TAG {
            self.push(
                "$.format",
                IssueCode::UnsupportedFormat,
                format!(
                    "format is `{}`; this service reads `{}`",
                    r.format,
                    format::FORMAT_TAG
                ),
            );
        }
        let horizon = self.horizon(r);
        let (skills, skill_list) = self.skill_catalogue(&r.settings.skills);
        let bands = self.bands(&r.settings.time_bands);
        self.settings(&r.settings);
        let travel = crate::travel::build_travel_model(&r.travel, &mut self.issues);
        let matrix_size = match &r.travel {
            TravelSpec::Matrix(m) => Some(m.minutes.len()),
            _ => None,
        };
        // An invalid horizon does not stop validation: the rest is checked
        // against a stand-in horizon so every issue is reported in one answer.
        let horizon_ok = horizon.is_some();
        let horizon = horizon.unwrap_or_else(|| stand_in_horizon(r));
        let ctx = Ctx::new(horizon, skills, bands, matrix_size);

        let providers = self.providers(r, &ctx);
        let provider_index = id_index(r.providers.iter().map(|p| p.id.as_str()));
        let mut teams = self.teams(r, &ctx, &provider_index);
        let team_index = id_index(r.teams.iter().map(|t| t.id.as_str()));
        let (carers, shifts) = self.carers(r, &ctx, &team_index);
        let carer_index: IdIndex = carers
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i))
            .collect();
        for (c, carer) in carers.iter().enumerate() {
            if let Some(t) = carer.team {
                teams[t].carers.push(c);
            }
        }
        for (t, team) in teams.iter().enumerate() {
            if team.carers.len() as u32 > team.max_members {
                self.push(
                    format!("$.teams[{t}]"),
                    IssueCode::TeamTooLarge,
                    format!(
                        "team `{}` has {} carers; at most {} are allowed",
                        team.id,
                        team.carers.len(),
                        team.max_members
                    ),
                );
            }
        }
        let service_users = self.service_users(r, &ctx, &team_index, &carer_index);
        let service_user_index: IdIndex = service_users
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.clone(), i))
            .collect();
        let (packages, visits, links) = self.packages(r, &ctx, &service_user_index);
        let visit_index: IdIndex = visits
            .iter()
            .enumerate()
            .map(|(i, v)| (v.id.clone(), i))
            .collect();
        let existing = self.existing(r, &ctx, &visit_index, &carer_index, &visits);
        let shift_index = shifts
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.clone(), i))
            .collect();

        let travel = travel?;
        if !horizon_ok {
            return None;
        }
        let lateness = match r.settings.lateness {
            Lateness::Hard => LatenessRule::Hard,
            Lateness::Soft {
                max_late_min,
                cost_per_min,
            } => LatenessRule::Soft {
                max_late_min: max_late_min.min(24 * 60) as Minute,
                cost_per_min,
            },
        };
        let problem = Problem {
            horizon: ctx.horizon,
            lateness,
            break_after: r.settings.break_rule.after_min.min(10_000) as Minute,
            break_duration: r.settings.break_rule.duration_min.min(10_000) as Minute,
            paid_commute: r.settings.paid_commute,
            weights: r.settings.objective.clone(),
            skills: skill_list,
            locations: std::mem::take(&mut self.locations),
            travel,
            providers,
            teams,
            carers,
            shifts,
            service_users,
            packages,
            visits,
            links,
            existing,
            carer_index,
            visit_index,
            shift_index,
            service_user_index,
        };
        self.double_handed_eligibility(r, &problem);
        Some(problem)
    }

    fn horizon(&mut self, r: &PlanningRequest) -> Option<Horizon> {
        let date = parse_date(&r.horizon.start_date)
            .map_err(|m| self.push("$.horizon.start_date", IssueCode::InvalidDate, m))
            .ok();
        let zone = self.zone(&r.horizon);
        if r.horizon.days == 0 || r.horizon.days > MAX_HORIZON_DAYS {
            self.push(
                "$.horizon.days",
                IssueCode::OutOfRange,
                format!(
                    "horizon must be 1-{MAX_HORIZON_DAYS} days, got {}",
                    r.horizon.days
                ),
            );
            return None;
        }
        Some(Horizon {
            start_date: date?,
            days: r.horizon.days,
            zone: zone?,
        })
    }

    /// The zone of local times: `time_zone` or `utc_offset` (at most one), UTC by default.
    fn zone(&mut self, h: &format::Horizon) -> Option<Zone> {
        match (&h.time_zone, &h.utc_offset) {
            (Some(_), Some(_)) => {
                self.push(
                    "$.horizon.time_zone",
                    IssueCode::Contradiction,
                    "give either time_zone or utc_offset, not both",
                );
                None
            }
            (Some(name), None) => parse_zone(name)
                .map(Zone::Iana)
                .map_err(|m| self.push("$.horizon.time_zone", IssueCode::InvalidTimeZone, m))
                .ok(),
            (None, offset) => parse_offset(offset.as_deref().unwrap_or("+00:00"))
                .map(Zone::Fixed)
                .map_err(|m| self.push("$.horizon.utc_offset", IssueCode::InvalidUtcOffset, m))
                .ok(),
        }
    }

    fn skill_catalogue<'a>(
        &mut self,
        skills: &'a [String],
    ) -> (HashMap<&'a str, usize>, Vec<String>) {
        let mut map = HashMap::new();
        let mut list = Vec::new();
        for (i, s) in skills.iter().enumerate() {
            let path = format!("$.settings.skills[{i}]");
            if let Some(m) = format::ids::text_error(s, MAX_LABEL_LEN, false) {
                self.push(path, IssueCode::InvalidText, m);
            } else if s.trim().is_empty() {
                self.push(
                    path,
                    IssueCode::OutOfRange,
                    "a skill name must not be empty",
                );
            } else if map.contains_key(s.as_str()) {
                self.push(
                    path,
                    IssueCode::DuplicateId,
                    format!("skill `{s}` is listed twice"),
                );
            } else if list.len() == 64 {
                self.push(
                    path,
                    IssueCode::TooManySkills,
                    "at most 64 distinct skills are supported",
                );
            } else {
                map.insert(s.as_str(), list.len());
                list.push(s.clone());
            }
        }
        (map, list)
    }

    fn bands(
        &mut self,
        bands: &BTreeMap<String, format::BandWindow>,
    ) -> BTreeMap<String, (Minute, Minute)> {
        let mut out = BTreeMap::new();
        for (name, w) in bands {
            let path = format!("$.settings.time_bands.{name}");
            if let Some(win) = self.window(&path, &w.start, &w.end) {
                out.insert(name.clone(), win);
            }
        }
        out
    }

    /// Parses a local window; an end earlier than the start wraps to the next day.
    fn window(&mut self, path: &dyn Display, start: &str, end: &str) -> Option<(Minute, Minute)> {
        let s = parse_clock(start)
            .and_then(not_end_of_day)
            .map_err(|m| self.push(format!("{path}.start"), IssueCode::InvalidTime, m))
            .ok();
        let e = parse_clock(end)
            .map_err(|m| self.push(format!("{path}.end"), IssueCode::InvalidTime, m))
            .ok();
        let (s, e) = (s?, e?);
        // Equal, or 24:00 to 00:00 (which would wrap to an empty window).
        if s % DAY == e % DAY && e <= s {
            self.push(
                format!("{path}.end"),
                IssueCode::EndBeforeStart,
                format!("window {start}-{end} is empty: the end must differ from the start"),
            );
            return None;
        }
        Some(if e < s { (s, e + DAY) } else { (s, e) })
    }

    fn settings(&mut self, s: &format::Settings) {
        if s.default_continuity_cap == 0 {
            self.push(
                "$.settings.default_continuity_cap",
                IssueCode::OutOfRange,
                "continuity cap must be at least 1",
            );
        }
        if s.max_team_size == 0 {
            self.push(
                "$.settings.max_team_size",
                IssueCode::OutOfRange,
                "team size must be at least 1",
            );
        }
        if let Lateness::Soft {
            max_late_min,
            cost_per_min,
        } = s.lateness
        {
            if !(cost_per_min.is_finite() && (0.0..=1e9).contains(&cost_per_min)) {
                self.push(
                    "$.settings.lateness.cost_per_min",
                    IssueCode::OutOfRange,
                    format!("cost per late minute must be a finite number between 0 and 1e9, got {cost_per_min}"),
                );
            }
            if max_late_min > 24 * 60 {
                self.push(
                    "$.settings.lateness.max_late_min",
                    IssueCode::OutOfRange,
                    "at most 1440 minutes late",
                );
            }
        }
        let w = &s.objective;
        for (name, value) in [
            ("unplaced_crisis", w.unplaced_crisis),
            ("unplaced_hospital_discharge", w.unplaced_hospital_discharge),
            ("unplaced_provider_failure", w.unplaced_provider_failure),
            ("unplaced_routine", w.unplaced_routine),
            ("unplaced_planned", w.unplaced_planned),
            ("distinct_carer", w.distinct_carer),
            ("unknown_carer_visit", w.unknown_carer_visit),
            ("travel_min", w.travel_min),
            ("commute_min", w.commute_min),
            ("non_preferred_carer_visit", w.non_preferred_carer_visit),
            ("non_preferred_gender_visit", w.non_preferred_gender_visit),
            ("contract_shortfall_min", w.contract_shortfall_min),
            ("changed_visit", w.changed_visit),
            ("shift_used", w.shift_used),
            ("worst_late_min", w.worst_late_min),
        ] {
            if !value.is_finite() || !(0.0..=1e9).contains(&value) {
                self.push(
                    format!("$.settings.objective.{name}"),
                    IssueCode::OutOfRange,
                    format!("weight must be a finite number between 0 and 1e9, got {value}"),
                );
            }
        }
        if s.break_rule.duration_min > 240 {
            self.push(
                "$.settings.break_rule.duration_min",
                IssueCode::OutOfRange,
                "a break is at most 240 minutes",
            );
        }
    }

    fn location(
        &mut self,
        path: &dyn Display,
        loc: &Location,
        ctx_matrix: Option<usize>,
    ) -> LocIdx {
        let mut ok = true;
        if !(loc.lat.is_finite() && (-90.0..=90.0).contains(&loc.lat)) {
            self.push(
                format!("{path}.lat"),
                IssueCode::CoordinatesOutOfRange,
                format!("latitude {} is outside -90..90", loc.lat),
            );
            ok = false;
        }
        if !(loc.lon.is_finite() && (-180.0..=180.0).contains(&loc.lon)) {
            self.push(
                format!("{path}.lon"),
                IssueCode::CoordinatesOutOfRange,
                format!("longitude {} is outside -180..180", loc.lon),
            );
            ok = false;
        }
        if let Some(n) = ctx_matrix {
            match loc.matrix_index {
                None => self.push(
                    format!("{path}.matrix_index"),
                    IssueCode::MissingMatrixIndex,
                    "the matrix travel model needs a matrix_index on every location",
                ),
                Some(i) if i as usize >= n => self.push(
                    format!("{path}.matrix_index"),
                    IssueCode::InvalidMatrix,
                    format!("matrix_index {i} is outside the {n}x{n} matrix"),
                ),
                _ => {}
            }
        }
        let clean = if ok {
            *loc
        } else {
            Location {
                lat: 0.0,
                lon: 0.0,
                matrix_index: loc.matrix_index,
            }
        };
        let key = (clean.lat.to_bits(), clean.lon.to_bits(), clean.matrix_index);
        if let Some(&i) = self.location_ids.get(&key) {
            return i;
        }
        self.locations.push(clean);
        self.location_ids.insert(key, self.locations.len() - 1);
        self.locations.len() - 1
    }

    /// Bounded free text without control characters (line breaks only when `multiline`).
    fn text(&mut self, path: &dyn Display, text: &str, max: usize, multiline: bool) {
        if let Some(m) = format::ids::text_error(text, max, multiline) {
            self.push(path.to_string(), IssueCode::InvalidText, m);
        }
    }

    fn skill_set(&mut self, path: &dyn Display, names: &[String], ctx: &Ctx) -> SkillSet {
        let mut set = 0u64;
        for (i, s) in names.iter().enumerate() {
            match ctx.skills.get(s.as_str()) {
                Some(&bit) => set |= 1 << bit,
                None => self.push(
                    format!("{path}[{i}]"),
                    IssueCode::UnknownSkill,
                    format!("skill `{s}` is not in settings.skills"),
                ),
            }
        }
        SkillSet(set)
    }

    /// The caps on one package's concrete visits (per day and over the
    /// horizon), reported at `{path}.visits`.
    fn visit_caps(&mut self, path: &dyn Display, ctx: &Ctx, visits: &[VisitModel], mine: &[usize]) {
        let mut per_day: BTreeMap<u32, usize> = BTreeMap::new();
        for &v in mine {
            *per_day.entry(visits[v].day).or_default() += 1;
        }
        if let Some((&day, &n)) = per_day
            .iter()
            .find(|&(_, &n)| n > MAX_PACKAGE_VISITS_PER_DAY)
        {
            self.push(
                format!("{path}.visits"),
                IssueCode::OutOfRange,
                format!(
                    "a package has at most {MAX_PACKAGE_VISITS_PER_DAY} visits a day; it has {n} on {}",
                    ctx.horizon.date(day).format("%Y-%m-%d")
                ),
            );
        }
        if mine.len() > MAX_PACKAGE_VISITS {
            self.push(
                format!("{path}.visits"),
                IssueCode::OutOfRange,
                format!(
                    "a package has at most {MAX_PACKAGE_VISITS} visits over the horizon; it has {}",
                    mine.len()
                ),
            );
        }
    }

    fn duplicate_ids<'a>(&mut self, kind: &str, ids: impl Iterator<Item = &'a str>) {
        let mut seen = HashSet::new();
        for (i, id) in ids.enumerate() {
            if let Some(m) = format::id_error(id) {
                self.push(format!("$.{kind}[{i}].id"), IssueCode::InvalidId, m);
            } else if !seen.insert(id) {
                self.push(
                    format!("$.{kind}[{i}].id"),
                    IssueCode::DuplicateId,
                    format!("id `{id}` is used twice"),
                );
            }
        }
    }

    fn area(&mut self, path: &str, area: &AreaGeometry) -> Option<geo::MultiPolygon<f64>> {
        crate::spatial::area_to_multipolygon(area, path, &mut self.issues)
    }

    fn providers(&mut self, r: &PlanningRequest, ctx: &Ctx) -> Vec<ProviderModel> {
        self.duplicate_ids("providers", r.providers.iter().map(|p| p.id.as_str()));
        let mut out = Vec::with_capacity(r.providers.len());
        for (i, p) in r.providers.iter().enumerate() {
            let path = format!("$.providers[{i}]");
            self.text(&format_args!("{path}.name"), &p.name, MAX_NAME_LEN, false);
            if p.name.trim().is_empty() {
                self.push(
                    format!("{path}.name"),
                    IssueCode::InvalidText,
                    "a provider needs a name",
                );
            }
            if p.hourly_rate_pence > MAX_HOURLY_RATE_PENCE {
                self.push(
                    format!("{path}.hourly_rate_pence"),
                    IssueCode::OutOfRange,
                    format!(
                        "an hourly rate is at most {MAX_HOURLY_RATE_PENCE} pence, got {}",
                        p.hourly_rate_pence
                    ),
                );
            }
            let skills = self.skill_set(&format_args!("{path}.skills"), &p.skills, ctx);
            let mut polys = Vec::new();
            for (a, area) in p.service_areas.iter().enumerate() {
                if let Some(mp) = self.area(&format!("{path}.service_areas[{a}]"), area) {
                    polys.extend(mp.0);
                }
            }
            let block_min_per_week = match p.contract {
                ContractTerms::Block {
                    committed_min_per_week,
                } => {
                    if committed_min_per_week == 0
                        || committed_min_per_week > MAX_BLOCK_MIN_PER_WEEK
                    {
                        self.push(
                            format!("{path}.contract.committed_min_per_week"),
                            IssueCode::OutOfRange,
                            format!(
                                "a block contract commits 1-{MAX_BLOCK_MIN_PER_WEEK} minutes a week"
                            ),
                        );
                    }
                    Some(committed_min_per_week)
                }
                ContractTerms::Spot => None,
            };
            out.push(ProviderModel {
                id: p.id.clone(),
                name: p.name.clone(),
                tier: p.tier,
                status: p.framework_status,
                areas: geo::MultiPolygon(polys),
                block_min_per_week,
                hourly_rate_pence: p.hourly_rate_pence,
                skills,
                auto_accept: p.auto_accept.clone(),
            });
        }
        out
    }

    fn teams(
        &mut self,
        r: &PlanningRequest,
        ctx: &Ctx,
        providers: &HashMap<&str, usize>,
    ) -> Vec<TeamModel> {
        self.duplicate_ids("teams", r.teams.iter().map(|t| t.id.as_str()));
        let mut out = Vec::with_capacity(r.teams.len());
        for (i, t) in r.teams.iter().enumerate() {
            let path = format!("$.teams[{i}]");
            if let Some(name) = &t.name {
                self.text(&format_args!("{path}.name"), name, MAX_NAME_LEN, false);
            }
            let provider = t.provider.as_ref().and_then(|p| {
                let found = providers.get(p.as_str()).copied();
                if found.is_none() {
                    self.push(
                        format!("{path}.provider"),
                        IssueCode::UnknownReference,
                        format!("provider `{p}` is not in providers"),
                    );
                }
                found
            });
            let base = self.location(&format_args!("{path}.base"), &t.base, ctx.matrix_size);
            let area = t
                .area
                .as_ref()
                .and_then(|a| self.area(&format!("{path}.area"), a));
            let max_members = t.max_members.unwrap_or(r.settings.max_team_size);
            if max_members == 0 {
                self.push(
                    format!("{path}.max_members"),
                    IssueCode::OutOfRange,
                    "must be at least 1",
                );
            }
            out.push(TeamModel {
                id: t.id.clone(),
                provider,
                base,
                area,
                carers: Vec::new(),
                max_members,
                max_caseload: t.max_caseload,
            });
        }
        out
    }

    fn carers(
        &mut self,
        r: &PlanningRequest,
        ctx: &Ctx,
        teams: &HashMap<&str, usize>,
    ) -> (Vec<CarerModel>, Vec<ShiftModel>) {
        self.duplicate_ids("carers", r.carers.iter().map(|c| c.id.as_str()));
        let mut carers = Vec::with_capacity(r.carers.len());
        let mut shifts = Vec::new();
        for (i, c) in r.carers.iter().enumerate() {
            let path = Elem(&"$", "carers", i);
            let team = c.team.as_ref().and_then(|t| {
                let found = teams.get(t.as_str()).copied();
                if found.is_none() {
                    self.push(
                        format!("{path}.team"),
                        IssueCode::UnknownReference,
                        format!("team `{t}` is not in teams"),
                    );
                }
                found
            });
            let skills = self.skill_set(&format_args!("{path}.skills"), &c.skills, ctx);
            if c.max_min_per_day == 0 || c.max_min_per_day > 24 * 60 {
                self.push(
                    format!("{path}.max_min_per_day"),
                    IssueCode::OutOfRange,
                    "must be 1-1440 minutes",
                );
            }
            if c.max_min_per_week == 0 || c.max_min_per_week > 7 * 24 * 60 {
                self.push(
                    format!("{path}.max_min_per_week"),
                    IssueCode::OutOfRange,
                    "must be 1-10080 minutes",
                );
            }
            if c.worked_min_before_start > 6 * 24 * 60 {
                self.push(
                    format!("{path}.worked_min_before_start"),
                    IssueCode::OutOfRange,
                    "must be 0-8640 minutes (six days before the horizon in its week)",
                );
            }
            if c.contracted_min_per_week > 7 * 24 * 60 {
                self.push(
                    format!("{path}.contracted_min_per_week"),
                    IssueCode::OutOfRange,
                    "must be 0-10080 minutes",
                );
            }
            let home = self.location(&format_args!("{path}.home"), &c.home, ctx.matrix_size);
            // Absences as horizon-minute intervals.
            let mut absences: Vec<(i64, i64)> = Vec::new();
            for (a, ab) in c.absences.iter().enumerate() {
                let ap = Elem(&path, "absences", a);
                if let Some(reason) = &ab.reason {
                    self.text(&format_args!("{ap}.reason"), reason, MAX_LABEL_LEN, false);
                }
                let from = ctx
                    .instants
                    .parse(&ab.from)
                    .map_err(|m| self.push(format!("{ap}.from"), IssueCode::InvalidInstant, m))
                    .ok();
                let to = ctx
                    .instants
                    .parse(&ab.to)
                    .map_err(|m| self.push(format!("{ap}.to"), IssueCode::InvalidInstant, m))
                    .ok();
                if let (Some(f), Some(t)) = (from, to) {
                    if t <= f {
                        self.push(
                            format!("{ap}.to"),
                            IssueCode::EndBeforeStart,
                            "absence ends before it starts",
                        );
                    } else {
                        absences.push((f, t));
                    }
                }
            }
            let carer_idx = carers.len();
            let mut mine: Vec<(u32, Minute, Minute, LocIdx, LocIdx)> = Vec::new();
            for (s, sh) in c.shifts.iter().enumerate() {
                let sp = Elem(&path, "shifts", s);
                // Check days and times both before giving up on this shift.
                let days = select_days(&ctx.horizon, &sh.days)
                    .map_err(|(k, m)| {
                        self.push(format!("{sp}.days[{k}]"), IssueCode::InvalidDay, m)
                    })
                    .ok();
                let window = self.window(&sp, &sh.start, &sh.end);
                let (Some(days), Some((start, end))) = (days, window) else {
                    continue;
                };
                let start_loc = match &sh.start_location {
                    Some(l) => {
                        self.location(&format_args!("{sp}.start_location"), l, ctx.matrix_size)
                    }
                    None => home,
                };
                let end_loc = match &sh.end_location {
                    Some(l) => {
                        self.location(&format_args!("{sp}.end_location"), l, ctx.matrix_size)
                    }
                    None => home,
                };
                for d in days {
                    // Each local time with the zone's offset of its own date and time.
                    let (s, e) = (ctx.local(d, start), ctx.local(d, end));
                    // Only a shift inside the skipped hour of a clock change can vanish.
                    if e > s {
                        mine.push((d, s, e, start_loc, end_loc));
                    }
                }
            }
            mine.sort_by_key(|m| (m.1, m.2));
            for w in mine.windows(2) {
                if w[1].1 < w[0].2 {
                    self.push(
                        format!("{path}.shifts"),
                        IssueCode::Contradiction,
                        format!(
                            "two shifts overlap on {}: merge them into one",
                            ctx.horizon.date(w[0].0).format("%Y-%m-%d")
                        ),
                    );
                    break;
                }
            }
            let mut my_shifts = Vec::new();
            let mut per_day: HashMap<u32, u32> = HashMap::new();
            for (d, start, end, sl, el) in mine {
                for (ps, pe) in subtract(start, end, &absences) {
                    let n = per_day.entry(d).or_insert(0);
                    *n += 1;
                    let id = shift_id(&c.id, &ctx.date_text(d), *n);
                    my_shifts.push(shifts.len());
                    shifts.push(ShiftModel {
                        id,
                        carer: carer_idx,
                        day: d,
                        start: ps,
                        end: pe,
                        start_loc: sl,
                        end_loc: el,
                    });
                }
            }
            carers.push(CarerModel {
                id: c.id.clone(),
                team,
                skills,
                gender: c.gender,
                contract: c.contract,
                contracted_min_per_week: c.contracted_min_per_week,
                max_min_per_day: c.max_min_per_day,
                max_min_per_week: c.max_min_per_week,
                worked_min_before_start: c.worked_min_before_start,
                mode: c.travel_mode,
                home,
                shifts: my_shifts,
                capacity: c.capacity,
            });
        }
        (carers, shifts)
    }

    fn carer_refs(&mut self, path: &dyn Display, ids: &[String], carers: &IdIndex) -> Vec<usize> {
        let mut out = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            match carers.get(id) {
                Some(&c) => out.push(c),
                None => self.push(
                    format!("{path}[{i}]"),
                    IssueCode::UnknownReference,
                    format!("carer `{id}` is not in carers"),
                ),
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    fn service_users(
        &mut self,
        r: &PlanningRequest,
        ctx: &Ctx,
        teams: &HashMap<&str, usize>,
        carers: &IdIndex,
    ) -> Vec<ServiceUserModel> {
        self.duplicate_ids(
            "service_users",
            r.service_users.iter().map(|s| s.id.as_str()),
        );
        let mut out = Vec::with_capacity(r.service_users.len());
        for (i, s) in r.service_users.iter().enumerate() {
            let path = Elem(&"$", "service_users", i);
            let location = self.location(
                &format_args!("{path}.location"),
                &s.location,
                ctx.matrix_size,
            );
            let team = s.team.as_ref().and_then(|t| {
                let found = teams.get(t.as_str()).copied();
                if found.is_none() {
                    self.push(
                        format!("{path}.team"),
                        IssueCode::UnknownReference,
                        format!("team `{t}` is not in teams"),
                    );
                }
                found
            });
            let preferred = self.carer_refs(
                &format_args!("{path}.preferred_carers"),
                &s.preferred_carers,
                carers,
            );
            let excluded = self.carer_refs(
                &format_args!("{path}.excluded_carers"),
                &s.excluded_carers,
                carers,
            );
            let known = self.carer_refs(
                &format_args!("{path}.known_carers"),
                &s.known_carers,
                carers,
            );
            if let Some(c) = preferred.iter().find(|c| excluded.binary_search(c).is_ok()) {
                let id = carers
                    .iter()
                    .find(|(_, v)| *v == c)
                    .map(|(k, _)| k.as_str())
                    .unwrap_or("?");
                self.push(
                    format!("{path}.excluded_carers"),
                    IssueCode::Contradiction,
                    format!("carer `{id}` is both preferred and excluded"),
                );
            }
            let cap = s
                .continuity_cap
                .unwrap_or(r.settings.default_continuity_cap);
            // A zero default is reported once, at the setting.
            if s.continuity_cap == Some(0) {
                self.push(
                    format!("{path}.continuity_cap"),
                    IssueCode::OutOfRange,
                    "continuity cap must be at least 1",
                );
            }
            let (gender_required, gender_preferred) = match &s.carer_gender {
                Some(g) if g.strength == Strength::Required => (Some(g.gender), None),
                Some(g) => (None, Some(g.gender)),
                None => (None, None),
            };
            out.push(ServiceUserModel {
                id: s.id.clone(),
                location,
                team,
                gender_required,
                gender_preferred,
                preferred,
                excluded,
                known,
                continuity_cap: cap,
            });
        }
        out
    }

    fn packages(
        &mut self,
        r: &PlanningRequest,
        ctx: &Ctx,
        users: &IdIndex,
    ) -> (Vec<PackageModel>, Vec<VisitModel>, Vec<LinkModel>) {
        self.duplicate_ids("packages", r.packages.iter().map(|p| p.id.as_str()));
        let mut packages = Vec::with_capacity(r.packages.len());
        // Room for every pattern on every day up front: growing a team's
        // visits by doubling copied them and faulted in fresh pages each time.
        let days = ctx.day_text.len();
        let most: usize = (r.packages.iter())
            .map(|p| p.visits.len().min(MAX_VISIT_PATTERNS) * days)
            .sum();
        let mut visits: Vec<VisitModel> = Vec::with_capacity(most);
        let mut links = Vec::new();
        for (i, p) in r.packages.iter().enumerate() {
            let path = Elem(&"$", "packages", i);
            let user = users.get(&p.service_user).copied();
            if user.is_none() {
                self.push(
                    format!("{path}.service_user"),
                    IssueCode::UnknownReference,
                    format!("service user `{}` is not in service_users", p.service_user),
                );
            }
            let pkg_skills = self.skill_set(
                &format_args!("{path}.required_skills"),
                &p.required_skills,
                ctx,
            );
            let referral = p.referral_time.as_ref().and_then(|t| {
                ctx.instants
                    .parse(t)
                    .map_err(|m| {
                        self.push(
                            format!("{path}.referral_time"),
                            IssueCode::InvalidInstant,
                            m,
                        )
                    })
                    .ok()
            });
            let start_day = p.start_date.as_ref().and_then(|d| {
                parse_date(d)
                    .map_err(|m| self.push(format!("{path}.start_date"), IssueCode::InvalidDate, m))
                    .ok()
                    .map(|d| ctx.horizon.day_offset(d))
            });
            let end_day = p.end_date.as_ref().and_then(|d| {
                parse_date(d)
                    .map_err(|m| self.push(format!("{path}.end_date"), IssueCode::InvalidDate, m))
                    .ok()
                    .map(|d| ctx.horizon.day_offset(d))
            });
            if let (Some(s), Some(e)) = (start_day, end_day)
                && e < s
            {
                self.push(
                    format!("{path}.end_date"),
                    IssueCode::EndBeforeStart,
                    "package ends before it starts",
                );
            }
            let first = start_day.unwrap_or(0);
            let last = end_day.unwrap_or(i64::MAX);
            let package_idx = packages.len();
            let mut mine = Vec::new();
            let mut pattern_ids: HashMap<&str, Vec<(u32, usize)>> = HashMap::new();
            if p.visits.is_empty() {
                self.push(
                    format!("{path}.visits"),
                    IssueCode::OutOfRange,
                    "a package needs at least one visit",
                );
            }
            if p.visits.len() > MAX_VISIT_PATTERNS {
                self.push(
                    format!("{path}.visits"),
                    IssueCode::OutOfRange,
                    format!(
                        "a package has at most {MAX_VISIT_PATTERNS} visit patterns, got {}",
                        p.visits.len()
                    ),
                );
            }
            for (v, pat) in p.visits.iter().enumerate().take(MAX_VISIT_PATTERNS) {
                let vp = Elem(&path, "visits", v);
                if let Some(m) = format::id_error(&pat.id) {
                    self.push(format!("{vp}.id"), IssueCode::InvalidId, m);
                } else if pattern_ids.contains_key(pat.id.as_str()) {
                    self.push(
                        format!("{vp}.id"),
                        IssueCode::DuplicateId,
                        format!("visit id `{}` is used twice in package `{}`", pat.id, p.id),
                    );
                    continue;
                }
                let skills = SkillSet(
                    pkg_skills.0
                        | self
                            .skill_set(
                                &format_args!("{vp}.required_skills"),
                                &pat.required_skills,
                                ctx,
                            )
                            .0,
                );
                let (lo, hi) = VISIT_DURATION_RANGE;
                let duration_ok = (lo..=hi).contains(&pat.duration_min);
                if !duration_ok {
                    self.push(
                        format!("{vp}.duration_min"),
                        IssueCode::OutOfRange,
                        format!("a visit lasts {lo}-{hi} minutes, got {}", pat.duration_min),
                    );
                }
                if !(1..=2).contains(&pat.carers_required) {
                    self.push(
                        format!("{vp}.carers_required"),
                        IssueCode::OutOfRange,
                        format!("a visit needs 1 or 2 carers, got {}", pat.carers_required),
                    );
                }
                let duration = pat.duration_min.min(hi) as Minute;
                // Window as (earliest start, latest start) relative to the day's midnight.
                let window = match &pat.time {
                    TimeSpec::Exact(t) => parse_clock(t)
                        .and_then(not_end_of_day)
                        .map_err(|m| {
                            self.push(format!("{vp}.time.exact"), IssueCode::InvalidTime, m)
                        })
                        .ok()
                        .map(|t| (t, t)),
                    TimeSpec::Window { start, end } => self
                        .window(&format_args!("{vp}.time.window"), start, end)
                        .and_then(|(s, e)| {
                            self.fit(
                                &format_args!("{vp}.duration_min"),
                                s,
                                e,
                                duration,
                                duration_ok,
                            )
                        }),
                    TimeSpec::Band(name) => match ctx.bands.get(name) {
                        Some(&(s, e)) => self.fit(
                            &format_args!("{vp}.duration_min"),
                            s,
                            e,
                            duration,
                            duration_ok,
                        ),
                        // A listed band that failed validation was reported there already.
                        None if r.settings.time_bands.contains_key(name) => None,
                        None => {
                            self.push(
                                format!("{vp}.time.band"),
                                IssueCode::UnknownBand,
                                format!("band `{name}` is not in settings.time_bands"),
                            );
                            None
                        }
                    },
                };
                let days = match select_days(&ctx.horizon, &pat.days) {
                    Ok(d) => d,
                    Err((k, m)) => {
                        self.push(format!("{vp}.days[{k}]"), IssueCode::InvalidDay, m);
                        Vec::new()
                    }
                };
                let mut concrete = Vec::new();
                let exact = matches!(pat.time, TimeSpec::Exact(_));
                if let (Some((es, ls)), Some(u)) = (window, user) {
                    for d in days
                        .into_iter()
                        .filter(|&d| (first..=last).contains(&i64::from(d)))
                    {
                        let earliest_start = ctx.local(d, es);
                        // The window's end, not its latest start, is the local
                        // time: the visit ends by it whatever the clock does in
                        // between. A window the skipped hour leaves shorter than
                        // the visit still admits its (moved) start.
                        let latest_start = if exact {
                            earliest_start
                        } else {
                            (ctx.local(d, ls + duration) - duration).max(earliest_start)
                        };
                        let id = format::visit_id(&p.id, &pat.id, &ctx.date_text(d));
                        concrete.push((d, visits.len()));
                        mine.push(visits.len());
                        visits.push(VisitModel {
                            id,
                            package: package_idx,
                            service_user: u,
                            day: d,
                            earliest_start,
                            latest_start,
                            duration,
                            carers_required: pat.carers_required.clamp(1, 2) as u8,
                            skills,
                            location: 0, // set below from the service user
                            demand: pat.demand,
                        });
                    }
                }
                pattern_ids.insert(pat.id.as_str(), concrete);
            }
            self.visit_caps(&path, ctx, &visits, &mine);
            for (l, link) in p.links.iter().enumerate() {
                let lp = Elem(&path, "links", l);
                let a = pattern_ids.get(link.first.as_str());
                let b = pattern_ids.get(link.then.as_str());
                if a.is_none() {
                    self.push(
                        format!("{lp}.first"),
                        IssueCode::UnknownReference,
                        format!("no visit `{}` in this package", link.first),
                    );
                }
                if b.is_none() {
                    self.push(
                        format!("{lp}.then"),
                        IssueCode::UnknownReference,
                        format!("no visit `{}` in this package", link.then),
                    );
                }
                if link.first == link.then {
                    self.push(
                        format!("{lp}.then"),
                        IssueCode::Contradiction,
                        "a visit cannot be linked to itself",
                    );
                }
                if link.max_gap_min < link.min_gap_min {
                    self.push(
                        format!("{lp}.max_gap_min"),
                        IssueCode::EndBeforeStart,
                        "max_gap_min is below min_gap_min",
                    );
                }
                if let (Some(a), Some(b)) = (a, b) {
                    for &(d, va) in a {
                        if let Some(&(_, vb)) = b.iter().find(|(db, _)| *db == d) {
                            let first_duration = visits[va].duration;
                            links.push(LinkModel {
                                first: va,
                                then: vb,
                                min_offset: first_duration
                                    + link.min_gap_min.min(24 * 60) as Minute,
                                max_offset: first_duration
                                    + link.max_gap_min.min(24 * 60) as Minute,
                                distinct_carers: false,
                            });
                        }
                    }
                }
            }
            packages.push(PackageModel {
                id: p.id.clone(),
                service_user: user.unwrap_or(0),
                urgency: p.urgency,
                funding: p.funding,
                referral,
                visits: mine,
            });
        }
        // Locations come from the service users (validated already).
        let user_locs: Vec<LocIdx> = r
            .service_users
            .iter()
            .map(|s| {
                let key = (
                    s.location.lat.to_bits(),
                    s.location.lon.to_bits(),
                    s.location.matrix_index,
                );
                self.location_ids.get(&key).copied().unwrap_or(0)
            })
            .collect();
        for v in &mut visits {
            v.location = user_locs.get(v.service_user).copied().unwrap_or(0);
        }
        (packages, visits, links)
    }

    /// Latest start for a visit that must fit inside `[s, e]`.
    fn fit(
        &mut self,
        path: &dyn Display,
        s: Minute,
        e: Minute,
        duration: Minute,
        check: bool,
    ) -> Option<(Minute, Minute)> {
        if e - s < duration {
            if check {
                self.push(
                    path.to_string(),
                    IssueCode::VisitLongerThanWindow,
                    format!(
                        "a {duration}-minute visit does not fit in a {}-minute window",
                        e - s
                    ),
                );
            }
            return None;
        }
        Some((s, e - duration))
    }

    fn existing(
        &mut self,
        r: &PlanningRequest,
        ctx: &Ctx,
        visits: &IdIndex,
        carers: &IdIndex,
        visit_models: &[VisitModel],
    ) -> Vec<ExistingModel> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        // Visits starting before `frozen_before` are kept exactly: pinned.
        let frozen = r.frozen_before.as_ref().and_then(|s| {
            ctx.instants
                .parse(s)
                .map_err(|m| self.push("$.frozen_before", IssueCode::InvalidInstant, m))
                .ok()
        });
        for (i, e) in r.existing_rota.iter().enumerate() {
            let path = Elem(&"$", "existing_rota", i);
            let visit = visits.get(&e.visit).copied();
            if visit.is_none() {
                self.push(
                    format!("{path}.visit"),
                    IssueCode::UnknownReference,
                    format!(
                        "visit `{}` is not a visit of any package in the horizon",
                        e.visit
                    ),
                );
            } else if !seen.insert(e.visit.as_str()) {
                self.push(
                    format!("{path}.visit"),
                    IssueCode::DuplicateId,
                    format!("visit `{}` is assigned twice", e.visit),
                );
                continue;
            }
            let assigned = self.carer_refs(&format_args!("{path}.carers"), &e.carers, carers);
            if let Some(v) = visit
                && assigned.len() != usize::from(visit_models[v].carers_required)
            {
                self.push(
                    format!("{path}.carers"),
                    IssueCode::InvalidAssignment,
                    format!(
                        "visit `{}` needs {} distinct carer(s), {} given",
                        e.visit,
                        visit_models[v].carers_required,
                        assigned.len()
                    ),
                );
            }
            let start = e.start.as_ref().and_then(|s| {
                ctx.instants
                    .parse(s)
                    .map_err(|m| self.push(format!("{path}.start"), IssueCode::InvalidInstant, m))
                    .ok()
            });
            if e.pinned && e.start.is_none() {
                self.push(
                    format!("{path}.start"),
                    IssueCode::InvalidAssignment,
                    "a pinned visit needs its start time",
                );
            }
            if let Some(v) = visit {
                out.push(ExistingModel {
                    visit: v,
                    carers: assigned,
                    start: start.map(|s| {
                        s.clamp(i64::from(i32::MIN / 2), i64::from(i32::MAX / 2)) as Minute
                    }),
                    pinned: e.pinned || matches!((start, frozen), (Some(s), Some(f)) if s < f),
                });
            }
        }
        out
    }

    /// A double-handed visit needs two distinct carers who could do it.
    fn double_handed_eligibility(&mut self, r: &PlanningRequest, p: &Problem) {
        if p.carers.is_empty() {
            return; // a brokering request without rosters: nothing to check against
        }
        let mut reported = HashSet::new();
        for (v, visit) in p.visits.iter().enumerate() {
            if visit.carers_required < 2 {
                continue;
            }
            let eligible = (0..p.carers.len())
                .filter(|&c| p.eligibility(c, v).is_ok())
                .take(2)
                .count();
            if eligible < 2 {
                let pkg = visit.package;
                let Some(pi) = r.packages.iter().position(|x| x.id == p.packages[pkg].id) else {
                    continue;
                };
                let pattern = visit
                    .id
                    .rsplit_once('@')
                    .and_then(|(rest, _)| rest.rsplit_once('/'))
                    .map(|(_, pat)| pat);
                let vi = r.packages[pi]
                    .visits
                    .iter()
                    .position(|x| Some(x.id.as_str()) == pattern)
                    .unwrap_or(0);
                if reported.insert((pi, vi)) {
                    self.push(
                        format!("$.packages[{pi}].visits[{vi}].carers_required"),
                        IssueCode::TooFewEligibleCarers,
                        format!(
                            "double-handed visit needs two carers with skills {:?} (and any gender rule); only {eligible} carer(s) qualify",
                            p.skill_names(visit.skills)
                        ),
                    );
                }
            }
        }
    }
}

/// `24:00` is the end of a day: an end time, never a start.
fn not_end_of_day(t: Minute) -> Result<Minute, String> {
    if t >= DAY {
        Err("24:00 is only an end time (the end of the day); start at 00:00 of the next day".into())
    } else {
        Ok(t)
    }
}

/// The horizon validation goes on with when the request's own is invalid:
/// its valid parts, else a 7-day week from a fixed Monday at UTC.
fn stand_in_horizon(r: &PlanningRequest) -> Horizon {
    let fallback_date = chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap_or_default();
    Horizon {
        start_date: parse_date(&r.horizon.start_date).unwrap_or(fallback_date),
        days: if (1..=MAX_HORIZON_DAYS).contains(&r.horizon.days) {
            r.horizon.days
        } else {
            7
        },
        zone: Zone::of(&r.horizon),
    }
}

fn id_index<'a>(ids: impl Iterator<Item = &'a str>) -> HashMap<&'a str, usize> {
    let mut m = HashMap::new();
    for (i, id) in ids.enumerate() {
        m.entry(id).or_insert(i);
    }
    m
}

/// The JSON path of an array element, `{parent}.{field}[{index}]`, written
/// out only when an issue is reported there: building a team's problem (every
/// fit check) walks thousands of valid entries.
#[derive(Clone, Copy)]
struct Elem<'a>(&'a dyn Display, &'static str, usize);

impl Display for Elem<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}[{}]", self.0, self.1, self.2)
    }
}

/// A concrete shift's id `"{carer}#{date}#{n}"`, built without the
/// formatting machinery (every fit check names the team's shifts anew).
fn shift_id(carer: &str, date: &str, n: u32) -> String {
    let mut id = String::with_capacity(carer.len() + date.len() + 4);
    id.push_str(carer);
    id.push('#');
    id.push_str(date);
    id.push('#');
    if n < 10 {
        id.push(char::from(b'0' + n as u8));
    } else {
        id.push_str(&n.to_string());
    }
    id
}

/// `[start, end)` minus absence intervals; pieces shorter than 15 minutes are dropped.
fn subtract(start: Minute, end: Minute, absences: &[(i64, i64)]) -> Vec<(Minute, Minute)> {
    let mut pieces = vec![(i64::from(start), i64::from(end))];
    for &(a, b) in absences {
        pieces = pieces
            .into_iter()
            .flat_map(|(s, e)| {
                if b <= s || a >= e {
                    vec![(s, e)]
                } else {
                    let mut v = Vec::new();
                    if a > s {
                        v.push((s, a));
                    }
                    if b < e {
                        v.push((b, e));
                    }
                    v
                }
            })
            .collect();
    }
    pieces
        .into_iter()
        .filter(|(s, e)| e - s >= 15)
        .map(|(s, e)| (s as Minute, e as Minute))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn shift_ids_read_carer_date_and_number() {
        for n in [0, 1, 9, 10, 11, 99, 100, 12345] {
            assert_eq!(
                super::shift_id("c-7", "2026-11-30", n),
                format!("c-7#2026-11-30#{n}")
            );
        }
    }
}
