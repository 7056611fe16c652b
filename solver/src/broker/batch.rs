//! Batch brokering: many packages at once (a morning's discharges, a provider
//! failure with 200+ people) allocated together by a HiGHS MILP.
//!
//! Packages offered one by one would each take the best team, and the teams
//! nearest a cluster of referrals would be promised more than they can do.
//! The MILP picks at most one provider team per package to maximise, in this
//! order: packages placed (weighted by urgency), tier order, then continuity
//! (known carers) and travel, subject to each team's spare carer-minutes per
//! day and period of the day. The chosen provider gets the offer (it can
//! still decline, and the normal cascade then continues); auto-accepting
//! providers and emergency cover take theirs at once after a fresh fit check
//! against the rota as it is by then.

use super::candidates::{Candidate, CandidateReport};
use super::records::PackageStatus;
use super::{Broker, BrokerEvent};
use crate::format::{Tier, Urgency};
use chrono::{DateTime, Utc};
use good_lp::{Expression, ProblemVariables, SolverModel, Variable, variable};
use highs::HighsSolutionStatus;
use rayon::prelude::*;
use std::collections::BTreeMap;

/// Most candidate teams per package in the MILP (best per provider, by stage and rank).
const MAX_OPTIONS: usize = 8;

/// Statistics of the last batch allocation (for reports and benches).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchStats {
    /// Packages in the batch.
    pub packages: usize,
    /// Candidate (package, team) pairs in the MILP.
    pub options: usize,
    /// Packages the MILP assigned.
    pub assigned: usize,
    /// Whether HiGHS returned a solution (else greedy order was used).
    pub milp_solved: bool,
}

fn urgency_weight(u: Urgency) -> f64 {
    match u {
        Urgency::Crisis => 5.0,
        Urgency::HospitalDischarge => 4.0,
        Urgency::ProviderFailure => 4.0,
        Urgency::Routine => 2.0,
        Urgency::Planned => 1.0,
    }
}

/// Candidate reports searched earlier (on a snapshot), by package, with the
/// teams whose fit checks may have changed since (`None`: any may have).
pub(crate) struct KnownReports {
    pub changed: Option<super::candidates::Changed>,
    pub reports: BTreeMap<String, CandidateReport>,
}

/// Allocates `packages` (already referred, open) together; emits offers or
/// acceptances. Re-uses `known` reports where it has them: each is made
/// valid for this state ([`Broker::revalidated`]) instead of searched again.
pub(crate) fn allocate_with(
    broker: &mut Broker,
    packages: &[String],
    now: DateTime<Utc>,
    out: &mut Vec<BrokerEvent>,
    known: Option<KnownReports>,
) -> BatchStats {
    let inputs: Vec<(
        String,
        crate::format::Package,
        crate::format::ServiceUser,
        Vec<Tier>,
    )> = packages
        .iter()
        .filter_map(|id| {
            let rec = broker.packages.get(id)?;
            if rec.status != PackageStatus::Open {
                return None;
            }
            let user = broker.service_user(&rec.package.service_user)?.clone();
            Some((
                id.clone(),
                rec.package.clone(),
                user,
                broker.stage_order(&rec.package),
            ))
        })
        .collect();
    let (changed, mut earlier) = known.map_or((None, BTreeMap::new()), |k| (k.changed, k.reports));
    let earlier: Vec<Option<CandidateReport>> =
        inputs.iter().map(|(id, ..)| earlier.remove(id)).collect();
    let reports: Vec<CandidateReport> = {
        let b: &Broker = broker;
        inputs
            .par_iter()
            .zip(earlier)
            .map(|((_, p, u, order), report)| {
                let fresh = || b.candidates_for_batch(p, u, order.clone());
                match report {
                    Some(r) => {
                        b.without_passed(b.revalidated(r, changed.as_ref(), p, u, now, fresh))
                    }
                    None => fresh(),
                }
            })
            .collect()
    };
    let mut stats = BatchStats {
        packages: inputs.len(),
        ..BatchStats::default()
    };

    // Options per package: best team per provider, in offer order.
    let mut options: Vec<Vec<&Candidate>> = Vec::with_capacity(reports.len());
    for r in &reports {
        let mut seen = std::collections::BTreeSet::new();
        let opts: Vec<&Candidate> = r
            .fitting
            .iter()
            .filter(|c| seen.insert(c.provider.clone()))
            .take(MAX_OPTIONS)
            .collect();
        stats.options += opts.len();
        options.push(opts);
    }

    let chosen = solve_assignment(&inputs, &reports, &options, broker.config.block_before_spot)
        .map_or_else(
            || {
                // Without a MILP answer: first option of each package, urgent first.
                (0..options.len())
                    .map(|i| options[i].first().map(|_| 0))
                    .collect::<Vec<_>>()
            },
            |c| {
                stats.milp_solved = true;
                c
            },
        );
    // Apply: most urgent first so they get the room if re-checks disagree with the estimate.
    let mut order: Vec<usize> = (0..inputs.len()).collect();
    order.sort_by(|&a, &b| {
        inputs[a]
            .1
            .urgency
            .cmp(&inputs[b].1.urgency)
            .then(inputs[a].0.cmp(&inputs[b].0))
    });
    // The MILP's capacity rows are an estimate (spare minutes by period); the
    // real room is checked here, package by package, against a scratch copy of
    // the county in which every earlier offer of the batch is taken as
    // accepted: a team with room for k packages is offered at most k. A
    // package whose chosen team is full by then tries its other options in
    // offer order, and otherwise goes through the normal cascade.
    let mut scratch = broker.scratch();
    for i in order {
        let (pkg, package, user, _) = &inputs[i];
        let tries: Vec<usize> = chosen[i]
            .into_iter()
            .chain((0..options[i].len()).filter(|&k| Some(k) != chosen[i]))
            .collect();
        let mut placed = false;
        for k in tries {
            let c = options[i][k];
            let Some(&team) = scratch.index.team_pos.get(&c.fit.team) else {
                continue;
            };
            let fit = scratch.fit(team, package, user, Some(now));
            if !fit.summary.fits {
                continue;
            }
            scratch.reserve(pkg, c, fit.changed_routes.clone(), now);
            let mut c = c.clone();
            c.fit = fit.summary.clone();
            c.outcome = Some(fit);
            stats.assigned += 1;
            broker.offer_to(pkg, &c, c.tier, now, out);
            placed = true;
            break;
        }
        if !placed {
            let mark = out.len();
            broker.advance(pkg, now, out);
            scratch.reserve_from(pkg, package, user, &out[mark..], now);
        }
    }
    stats
}

impl Broker {
    /// A copy of the county (roster, rotas, packages) to try placements on
    /// without touching the real state.
    fn scratch(&self) -> Broker {
        Broker {
            config: self.config.clone(),
            roster: self.roster.clone(),
            rotas: self.rotas.clone(),
            packages: self.packages.clone(),
            offers: BTreeMap::new(),
            ledger: super::Ledger::default(),
            alerts: Vec::new(),
            events_applied: 0,
            index: super::county::RosterIndex::build(&self.roster),
            next_offer: 1,
            emergency_visits: BTreeMap::new(),
            cover_charged: Default::default(),
            retry_memo: Default::default(),
            policy_versions: self.policy_versions.clone(),
            delivery: Default::default(),
            history: Default::default(),
            now: self.now,
        }
    }

    /// In a scratch copy: the room the normal cascade just gave `pkg` (its
    /// acceptance, or its first offer if it still fits here) is taken.
    fn reserve_from(
        &mut self,
        pkg: &str,
        package: &crate::format::Package,
        user: &crate::format::ServiceUser,
        events: &[BrokerEvent],
        now: DateTime<Utc>,
    ) {
        let mut first_offer = None;
        for e in events {
            match e {
                BrokerEvent::OfferMade { offer } if offer.package == pkg => {
                    first_offer.get_or_insert_with(|| offer.clone());
                }
                BrokerEvent::OfferAccepted {
                    offer,
                    changed_routes,
                    fit,
                    ..
                } if first_offer.as_ref().is_some_and(|o| &o.id == offer) => {
                    let o = first_offer.take().expect("checked");
                    self.reserve_team(
                        pkg,
                        &o.provider,
                        &o.team,
                        o.stage,
                        fit,
                        changed_routes.clone(),
                        now,
                    );
                    return;
                }
                _ => {}
            }
        }
        let Some(o) = first_offer else { return };
        let Some(&team) = self.index.team_pos.get(&o.team) else {
            return;
        };
        let fit = self.fit(team, package, user, self.now);
        if fit.summary.fits {
            self.reserve_team(
                pkg,
                &o.provider,
                &o.team,
                o.stage,
                &fit.summary,
                fit.changed_routes,
                now,
            );
        }
    }

    /// In a scratch copy: `pkg` taken by `c`'s team with `routes`, as an
    /// acceptance would leave it.
    fn reserve(
        &mut self,
        pkg: &str,
        c: &Candidate,
        routes: Vec<crate::format::Route>,
        now: DateTime<Utc>,
    ) {
        self.reserve_team(pkg, &c.provider, &c.fit.team, c.tier, &c.fit, routes, now);
    }

    #[allow(clippy::too_many_arguments)]
    fn reserve_team(
        &mut self,
        pkg: &str,
        provider: &str,
        team: &str,
        stage: Tier,
        fit: &super::records::FitSummary,
        routes: Vec<crate::format::Route>,
        now: DateTime<Utc>,
    ) {
        let id = format!("reserve-{pkg}");
        self.apply(&BrokerEvent::OfferMade {
            offer: super::records::Offer {
                id: id.clone(),
                package: pkg.to_string(),
                provider: provider.to_string(),
                team: team.to_string(),
                stage,
                made_at: now,
                expires_at: now,
                status: super::records::OfferStatus::Open,
                closed_at: None,
                decline_reason: None,
                note: None,
                fit: fit.clone(),
            },
        });
        self.apply(&BrokerEvent::OfferAccepted {
            at: now,
            offer: id,
            automatic: true,
            changed_routes: routes,
            fit: fit.clone(),
        });
    }
}

/// Per (day, period): the variables using a team's capacity and how much.
type SlotTerms = BTreeMap<(u32, u8), Vec<(Variable, f64)>>;

/// The MILP: x[i,k] = package i goes to option k.
fn solve_assignment(
    inputs: &[(
        String,
        crate::format::Package,
        crate::format::ServiceUser,
        Vec<Tier>,
    )],
    reports: &[CandidateReport],
    options: &[Vec<&Candidate>],
    block_first: bool,
) -> Option<Vec<Option<usize>>> {
    let mut vars = ProblemVariables::new();
    let mut x: Vec<Vec<Variable>> = Vec::with_capacity(options.len());
    let mut objective = Expression::default();
    // team -> (day, period) -> terms
    let mut use_of: BTreeMap<String, SlotTerms> = BTreeMap::new();
    let mut spare_of: BTreeMap<String, BTreeMap<(u32, u8), i64>> = BTreeMap::new();
    for (i, opts) in options.iter().enumerate() {
        let order = &inputs[i].3;
        let _ = &reports[i];
        let mut row = Vec::with_capacity(opts.len());
        for c in opts {
            let v = vars.add(variable().binary());
            let stage = order
                .iter()
                .position(|&t| t == c.tier)
                .unwrap_or(order.len()) as f64;
            // Lexicographic by weights: placing (1e6 x urgency) >> tier (1e4 per stage)
            // >> block before spot (1e3) >> known carers (100 each) >> travel and continuity cost (capped below 100).
            let value = 1e6 * urgency_weight(inputs[i].1.urgency) - 1e4 * stage
                + if c.block && block_first { 1e3 } else { 0.0 }
                + 100.0 * c.fit.known_carers.len() as f64
                - c.fit.cost_delta.clamp(0.0, 99.0 * 100.0) / 100.0;
            objective += value * v;
            if let Some(o) = &c.outcome {
                for (&slot, &need) in &o.demand {
                    use_of
                        .entry(c.fit.team.clone())
                        .or_default()
                        .entry(slot)
                        .or_default()
                        .push((v, need as f64));
                }
                spare_of
                    .entry(c.fit.team.clone())
                    .or_insert_with(|| o.spare.clone());
            }
            row.push(v);
        }
        x.push(row);
    }
    if x.iter().all(Vec::is_empty) {
        return Some(vec![None; options.len()]);
    }
    let mut rows = Vec::new();
    for row in &x {
        if row.len() > 1 {
            let mut e = Expression::default();
            for &v in row {
                e += v;
            }
            rows.push(e.leq(1.0));
        }
    }
    for (team, slots) in &use_of {
        let spare = spare_of.get(team);
        for (slot, terms) in slots {
            // A team's own fit check already proved one package fits; the capacity
            // row only binds when several packages compete for the same team.
            if terms.len() < 2 {
                continue;
            }
            let cap = spare.and_then(|s| s.get(slot)).copied().unwrap_or(0).max(0) as f64;
            let biggest = terms.iter().map(|t| t.1).fold(0.0, f64::max);
            let mut e = Expression::default();
            for &(v, need) in terms {
                e += need * v;
            }
            rows.push(e.leq(cap.max(biggest)));
        }
    }
    let mut model = vars
        .maximise(objective)
        .using(good_lp::highs)
        .with_all(rows)
        .try_into_inner()
        .ok()?;
    model.try_set_option("threads", 1).ok()?;
    model.try_set_option("time_limit", 5.0).ok()?;
    model.try_set_option("mip_rel_gap", 1e-6).ok()?;
    model.try_set_option("output_flag", false).ok()?;
    let solved = model.try_solve().ok()?;
    if solved.primal_solution_status() != HighsSolutionStatus::Feasible {
        return None;
    }
    let sol = solved.get_solution();
    let cols = sol.columns();
    let mut col = 0usize;
    let mut chosen = vec![None; options.len()];
    for (i, row) in x.iter().enumerate() {
        for k in 0..row.len() {
            if cols.get(col).is_some_and(|&v| v > 0.5) && chosen[i].is_none() {
                chosen[i] = Some(k);
            }
            col += 1;
        }
    }
    Some(chosen)
}
