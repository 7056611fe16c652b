//! Live updates: what each committed broker command changed, for `GET /v1/events`
//! (the stream itself is `handlers::events`) and for webhooks ([`crate::webhooks`]),
//! which carry the same kinds.
//!
//! Each committed broker command is summarised once (while the broker's write
//! lock is still held, so offer ids resolve to their provider and team) into
//! [`LiveEvent`]s: a kind and the ids it touches, never a person's id, name or
//! address. Subscribers filter by the caller's scope: brokers, admins and
//! integrators see every event, a provider key only events of its own
//! provider, a planner key only those of its own team. A client refetches what
//! it shows through the ordinary (scoped) routes, so an event carries no data
//! a route would not give the same key.
//!
//! The stream sends `event: heartbeat` every 15 s (so proxies keep it open and
//! clients notice a dead connection), `event: resync` when the subscriber fell
//! behind and missed events, and ends when the service shuts down. Browsers'
//! `EventSource` cannot send an `Authorization` header, so the console reads
//! the stream with `fetch`; the key is never put in a URL.

use crate::auth::{Principal, Scope};
use carefill_solver::broker::{Alert, Broker, BrokerEvent};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Arc;
use tokio::sync::broadcast;

/// How many committed commands a slow subscriber may fall behind before it is told to resync.
pub const LIVE_BUFFER: usize = 256;
/// Seconds between heartbeats.
pub const HEARTBEAT_S: u64 = 15;

/// One change, as the ids it touches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveEvent {
    /// What happened, e.g. `referred`, `offer_made`, `offer_accepted`, `carer_absent`.
    pub kind: &'static str,
    /// When.
    pub at: DateTime<Utc>,
    /// The package, where there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// The offer, where there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offer: Option<String>,
    /// The provider concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The team concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// The carer concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carer: Option<String>,
    /// The visit, for check-ins, check-outs and visit alerts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visit: Option<String>,
    /// When an offer's window closes (`offer_made`, `offer_expiring`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// An alert's stable code (`alert_raised`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// An alert's explanation (ids only, no personal details).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A batch of events from one command, shared by every subscriber.
pub type LiveBatch = Arc<Vec<LiveEvent>>;

/// The sending side, owned by the broker service.
pub fn channel() -> broadcast::Sender<LiveBatch> {
    broadcast::channel(LIVE_BUFFER).0
}

impl LiveEvent {
    fn new(kind: &'static str, at: DateTime<Utc>) -> Self {
        LiveEvent {
            kind,
            at,
            package: None,
            offer: None,
            provider: None,
            team: None,
            carer: None,
            visit: None,
            expires_at: None,
            code: None,
            message: None,
        }
    }

    /// Whether a key with this scope may see the event.
    pub fn visible_to(&self, who: &Principal) -> bool {
        match &who.scope {
            Scope::Global => true,
            Scope::Provider(p) => self.provider.as_deref() == Some(p.as_str()),
            Scope::Team(t) => self.team.as_deref() == Some(t.as_str()),
        }
    }
}

/// The live events of a committed command, resolved against the broker state after it.
pub fn summarise(b: &Broker, events: &[BrokerEvent], now: DateTime<Utc>) -> Vec<LiveEvent> {
    let offer = |kind, at, id: &str| {
        let mut e = LiveEvent::new(kind, at);
        e.offer = Some(id.to_string());
        if let Some(o) = b.offers.get(id) {
            e.package = Some(o.package.clone());
            e.provider = Some(o.provider.clone());
            e.team = Some(o.team.clone());
            if matches!(kind, "offer_made" | "offer_expiring") {
                e.expires_at = Some(o.expires_at);
            }
        }
        e
    };
    let package = |kind, at, id: &str| {
        let mut e = LiveEvent::new(kind, at);
        e.package = Some(id.to_string());
        if let Some(r) = b.packages.get(id) {
            e.provider.clone_from(&r.provider);
            e.team.clone_from(&r.team);
        }
        e
    };
    let mut out = Vec::new();
    for ev in events {
        match ev {
            BrokerEvent::Referred { at, package: p, .. } => {
                out.push(package("referred", *at, &p.id));
            }
            BrokerEvent::StageOpened { at, package: p, .. } => {
                out.push(package("stage_opened", *at, p));
            }
            BrokerEvent::OfferMade { offer: o } => out.push(offer("offer_made", o.made_at, &o.id)),
            BrokerEvent::OfferAccepted { at, offer: o, .. } => {
                out.push(offer("offer_accepted", *at, o));
                if let Some(pkg) = b.offers.get(o).map(|x| x.package.clone()) {
                    out.push(package("package_filled", *at, &pkg));
                }
            }
            BrokerEvent::OfferDeclined { at, offer: o, .. } => {
                out.push(offer("offer_declined", *at, o));
            }
            BrokerEvent::OfferExpired { at, offer: o } => out.push(offer("offer_expired", *at, o)),
            BrokerEvent::OfferWithdrawn { at, offer: o, .. } => {
                out.push(offer("offer_withdrawn", *at, o));
            }
            BrokerEvent::Escalated { alert } => {
                out.push(package("escalated", alert.at, &alert.package));
            }
            BrokerEvent::DamagesAccrued { at, package: p } => {
                out.push(package("damages_accrued", *at, p));
            }
            BrokerEvent::PackageReleased { at, package: p, .. } => {
                out.push(package("package_released", *at, p));
            }
            BrokerEvent::PackageCancelled { at, package: p } => {
                out.push(package("package_cancelled", *at, p));
            }
            BrokerEvent::EscalationRetried { at, package: p, .. } => {
                out.push(package("escalation_retried", *at, p));
            }
            BrokerEvent::PackageAdopted {
                at,
                package: p,
                provider,
                team,
                ..
            } => {
                let mut e = LiveEvent::new("package_adopted", *at);
                e.package = Some(p.id.clone());
                e.provider = Some(provider.clone());
                e.team = Some(team.clone());
                out.push(e);
            }
            BrokerEvent::ProviderStatusChanged { at, provider, .. } => {
                let mut e = LiveEvent::new("provider_status_changed", *at);
                e.provider = Some(provider.clone());
                out.push(e);
            }
            BrokerEvent::ProviderSaved { at, provider, .. } => {
                let mut e = LiveEvent::new("provider_saved", *at);
                e.provider = Some(provider.id.clone());
                out.push(e);
            }
            BrokerEvent::TeamSaved { at, team, .. } => {
                let mut e = LiveEvent::new("team_saved", *at);
                e.team = Some(team.id.clone());
                e.provider.clone_from(&team.provider);
                out.push(e);
            }
            BrokerEvent::CarerAbsent {
                at, carer, team, ..
            } => {
                let mut e = LiveEvent::new("carer_absent", *at);
                e.carer = Some(carer.clone());
                e.team = Some(team.clone());
                e.provider = team_provider(b, team);
                out.push(e);
            }
            BrokerEvent::CarerTransferred { at, transfer } => {
                let mut e = LiveEvent::new("carer_transferred", *at);
                e.carer = Some(transfer.carer.clone());
                e.team = Some(transfer.to_team.clone());
                e.provider = team_provider(b, &transfer.to_team);
                out.push(e);
            }
            BrokerEvent::CarerSaved {
                at, carer, replans, ..
            } => {
                let teams = carer
                    .team
                    .iter()
                    .chain(replans.iter().map(|r| &r.team))
                    .collect::<std::collections::BTreeSet<_>>();
                for team in teams {
                    let mut e = LiveEvent::new("rota_changed", *at);
                    e.carer = Some(carer.id.clone());
                    e.team = Some(team.clone());
                    e.provider = team_provider(b, team);
                    out.push(e);
                }
            }
            BrokerEvent::Posted { entry } => {
                let mut e = LiveEvent::new("ledger_posted", entry.at);
                e.package.clone_from(&entry.package);
                out.push(e);
            }
            BrokerEvent::RotaPublished { at, team, .. } => {
                let mut e = LiveEvent::new("rota_changed", *at);
                e.team = Some(team.clone());
                e.provider = team_provider(b, team);
                out.push(e);
            }
            BrokerEvent::YearClosed { at, .. } => out.push(LiveEvent::new("year_closed", *at)),
            BrokerEvent::PolicyChanged { at, .. } => {
                out.push(LiveEvent::new("policy_changed", *at));
            }
            BrokerEvent::OfferExpiring { at, offer: o } => {
                out.push(offer("offer_expiring", *at, o));
            }
            BrokerEvent::VisitCheckedIn { visit, check } => {
                out.push(visit_event("visit_checked_in", check.recorded_at, visit));
            }
            BrokerEvent::VisitCheckedOut { visit, check } => {
                out.push(visit_event("visit_checked_out", check.recorded_at, visit));
            }
            BrokerEvent::VisitOverdue { visit, alert, .. } => {
                let code = alert.code.as_str();
                let kind = if code == "visit_missed" {
                    "visit_missed"
                } else {
                    "visit_late"
                };
                out.push(visit_event(kind, alert.at, visit));
            }
            #[allow(unreachable_patterns)]
            _ => out.push(LiveEvent::new("changed", now)),
        }
    }
    out
}

fn visit_event(
    kind: &'static str,
    at: DateTime<Utc>,
    v: &carefill_solver::broker::PlannedVisit,
) -> LiveEvent {
    let mut e = LiveEvent::new(kind, at);
    e.visit = Some(v.visit.clone());
    e.package = Some(v.package.clone());
    e.team = Some(v.team.clone());
    e.provider.clone_from(&v.provider);
    e
}

/// `alert_raised` for each alert a command raised (escalations, overdue
/// visits, and any other alert), scoped by the package's provider and team.
pub fn alerts_raised(b: &Broker, alerts: &[Alert]) -> Vec<LiveEvent> {
    alerts
        .iter()
        .map(|a| {
            let mut e = LiveEvent::new("alert_raised", a.at);
            e.package = Some(a.package.clone());
            if let Some(r) = b.packages.get(&a.package) {
                e.provider.clone_from(&r.provider);
                e.team.clone_from(&r.team);
            }
            if e.team.is_none() {
                // A package the county started with: its person's team.
                e.team = (b.roster.packages.iter())
                    .find(|p| p.id == a.package)
                    .and_then(|p| b.service_user(&p.service_user))
                    .and_then(|u| u.team.clone());
                e.provider = e.team.as_deref().and_then(|t| team_provider(b, t));
            }
            e.code = Some(a.code.clone());
            e.message = Some(a.message.clone());
            e
        })
        .collect()
}

fn team_provider(b: &Broker, team: &str) -> Option<String> {
    b.roster
        .teams
        .iter()
        .find(|t| t.id == team)
        .and_then(|t| t.provider.clone())
}
