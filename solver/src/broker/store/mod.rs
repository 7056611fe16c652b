//! Durable broker state: an embedded SQLite file by default, PostgreSQL for
//! deployments that outgrow one machine, behind one [`BrokerStore`] trait.
//!
//! The audit log (`audit_log`) is the source of truth: every command's events
//! are appended in one transaction together with the rows they touch in the
//! query tables (`packages`, `offers`, `ledger_entries`, `team_rotas`). On
//! start the broker is rebuilt from the baseline (the county as loaded) by
//! replaying the audit log, then checked against the query tables. A process
//! killed at any moment leaves either all of a command or none of it.
//! The audit log is append-only: SQLite triggers and PostgreSQL rules refuse
//! updates and deletes. Beside it, `side_records` keeps records that change in
//! place and are not broker state (webhook subscriptions and deliveries).

mod jobs;
mod pg;
mod sqlite;

pub use jobs::{JOB_STATES_UNFINISHED, StoredJob};

pub use pg::PostgresStore;
pub use sqlite::SqliteStore;

use super::{Broker, BrokerConfig, BrokerEvent};
use crate::format::{PlanningRequest, Rota};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Schema version written to `meta`; bump with a migration step in `migrate`.
pub const SCHEMA_VERSION: i64 = 1;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused an operation.
    #[error("database error: {0}")]
    Database(String),
    /// Stored data could not be decoded.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// Another process holds the broker's writer lease; this one serves reads.
    #[error("this replica serves reads; another process holds the broker's writer lease")]
    NotWriter,
    /// The database URL is not understood.
    #[error("unsupported database URL `{0}` (use sqlite://PATH, a file path, or postgres://...)")]
    BadUrl(String),
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

/// The state the broker started from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Baseline {
    /// Policy.
    pub config: BrokerConfig,
    /// The county.
    pub roster: PlanningRequest,
    /// Team rotas.
    pub rotas: BTreeMap<String, Rota>,
}

/// Who did what, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor<'a> {
    /// Principal (API key name or `system`).
    pub who: &'a str,
    /// Command name, e.g. `accept_offer`.
    pub command: &'a str,
}

/// Everything the store holds, enough to rebuild the broker.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The baseline.
    pub baseline: Baseline,
    /// Events in order.
    pub events: Vec<BrokerEvent>,
    /// Audit-log sequence number of the last event (0 when there is none), where
    /// a reader replica continues with [`BrokerStore::events_after`].
    pub last_seq: i64,
}

/// Rows one command touched, derived from its events.
#[derive(Debug, Default)]
struct Touched {
    packages: BTreeSet<String>,
    offers: BTreeSet<String>,
    teams: BTreeSet<String>,
    ledger_from: usize,
}

fn touched(events: &[BrokerEvent], broker: &Broker) -> Touched {
    let mut t = Touched {
        ledger_from: broker.ledger.entries.len(),
        ..Touched::default()
    };
    for e in events {
        match e {
            BrokerEvent::Referred { package, .. } => {
                t.packages.insert(package.id.clone());
            }
            BrokerEvent::PackageAdopted { package, team, .. } => {
                t.packages.insert(package.id.clone());
                t.teams.insert(team.clone());
            }
            BrokerEvent::StageOpened { package, .. }
            | BrokerEvent::DamagesAccrued { package, .. }
            | BrokerEvent::PackageCancelled { package, .. } => {
                t.packages.insert(package.clone());
            }
            BrokerEvent::PackageReleased { package, .. } => {
                t.packages.insert(package.clone());
                // The team it left: every team's rota may have changed; cheap enough.
                t.teams.extend(broker.rotas.keys().cloned());
            }
            BrokerEvent::OfferMade { offer } => {
                t.offers.insert(offer.id.clone());
                t.packages.insert(offer.package.clone());
            }
            BrokerEvent::OfferAccepted { offer, .. }
            | BrokerEvent::OfferDeclined { offer, .. }
            | BrokerEvent::OfferExpired { offer, .. }
            | BrokerEvent::OfferWithdrawn { offer, .. } => {
                t.offers.insert(offer.clone());
                if let Some(o) = broker.offers.get(offer) {
                    t.packages.insert(o.package.clone());
                    t.teams.insert(o.team.clone());
                }
            }
            BrokerEvent::Escalated { alert } => {
                t.packages.insert(alert.package.clone());
            }
            BrokerEvent::EscalationRetried { package, .. } => {
                t.packages.insert(package.clone());
            }
            BrokerEvent::Posted { .. } => {
                t.ledger_from = t.ledger_from.saturating_sub(1);
            }
            BrokerEvent::CarerTransferred { .. } => {
                t.teams.extend(broker.rotas.keys().cloned());
            }
            BrokerEvent::CarerAbsent { team, .. } | BrokerEvent::RotaPublished { team, .. } => {
                t.teams.insert(team.clone());
            }
            BrokerEvent::CarerSaved { replans, .. } => {
                t.teams.extend(replans.iter().map(|r| r.team.clone()));
            }
            BrokerEvent::CarersReunited { replan, .. } => {
                t.teams.insert(replan.team.clone());
            }
            BrokerEvent::OfferOverridden { package, .. } => {
                t.packages.insert(package.clone());
            }
            // Alerts, emergency visits and charged days live in the audit log
            // (replayed at start); the ledger rows follow as `posted`.
            BrokerEvent::AlertRaised { .. }
            | BrokerEvent::EmergencyVisitAssigned { .. }
            | BrokerEvent::EmergencyVisitsReleased { .. }
            | BrokerEvent::CoverDayCharged { .. } => {}
            BrokerEvent::HorizonRolled { .. } => {
                t.teams.extend(broker.rotas.keys().cloned());
            }
            BrokerEvent::BrokeringScheduled { package, .. }
            | BrokerEvent::BrokeringDue { package, .. } => {
                t.packages.insert(package.clone());
            }
            BrokerEvent::VisitOverdue { alert, .. } => {
                t.packages.insert(alert.package.clone());
            }
            // Roster records, policy and delivery records live in the audit log
            // (replayed at start); no query table.
            BrokerEvent::PolicyChanged { .. }
            | BrokerEvent::OfferExpiring { .. }
            | BrokerEvent::VisitCheckedIn { .. }
            | BrokerEvent::VisitCheckedOut { .. }
            | BrokerEvent::ProviderSaved { .. }
            | BrokerEvent::TeamSaved { .. }
            | BrokerEvent::ProviderStatusChanged { .. }
            | BrokerEvent::YearClosed { .. } => {}
        }
    }
    t
}

/// Durable storage of broker state.
pub trait BrokerStore: Send {
    /// Reads the baseline and every event, if the store was initialised.
    fn load(&mut self) -> Result<Option<Loaded>, StoreError>;
    /// Writes the baseline of a new store (once).
    fn init(&mut self, baseline: &Baseline) -> Result<(), StoreError>;
    /// Appends one command's events and the rows they touched, atomically.
    /// `broker` is the state *after* the events were applied.
    fn commit(
        &mut self,
        actor: &Actor<'_>,
        at: DateTime<Utc>,
        events: &[BrokerEvent],
        broker: &Broker,
    ) -> Result<(), StoreError>;
    /// Events committed after audit-log sequence number `seq`, with their numbers,
    /// in order: how a reader replica follows the writer.
    fn events_after(&mut self, seq: i64) -> Result<Vec<(i64, BrokerEvent)>, StoreError>;
    /// Takes the broker's writer lease unless another process holds it; true
    /// while this store holds it. Only the holder may commit. PostgreSQL: a
    /// session advisory lock, released by the server when the holder's
    /// connection ends (a killed process included). SQLite: one process per
    /// file, so always true.
    fn try_writer_lease(&mut self) -> Result<bool, StoreError>;
    /// Number of audit-log rows (for health and tests).
    fn audit_len(&mut self) -> Result<i64, StoreError>;
    /// Row counts of the query tables `(packages, offers, ledger_entries)`.
    fn table_counts(&mut self) -> Result<(i64, i64, i64), StoreError>;
    /// Writes side records `(kind, id, JSON body)` in one transaction, each
    /// replacing any row of the same kind and id. Side records (the API's
    /// webhook subscriptions and deliveries) change in place and are not
    /// broker state: they are never in the audit log and never replayed.
    fn put_side(&mut self, rows: &[(&str, &str, &str)]) -> Result<(), StoreError>;
    /// Deletes side records of one kind.
    fn delete_side(&mut self, kind: &str, ids: &[&str]) -> Result<(), StoreError>;
    /// Every side record `(id, body)` of one kind, by id.
    fn load_side(&mut self, kind: &str) -> Result<Vec<(String, String)>, StoreError>;

    // Asynchronous rota solve jobs (table `solve_jobs`): not broker state, never
    // in the audit log; any process (writer or replica) records its own jobs.

    /// Writes a job, replacing any row with its id.
    fn put_job(&mut self, job: &StoredJob) -> Result<(), StoreError>;
    /// One job by id.
    fn get_job(&mut self, id: &str) -> Result<Option<StoredJob>, StoreError>;
    /// Every job, oldest submission first.
    fn load_jobs(&mut self) -> Result<Vec<StoredJob>, StoreError>;
    /// Deletes jobs (evicted from a full store or past their time to live).
    fn delete_jobs(&mut self, ids: &[&str]) -> Result<(), StoreError>;
    /// Announces this process as the live holder of the jobs it records under
    /// `instance`, for as long as the store lives (PostgreSQL: a session
    /// advisory lock keyed by the instance; SQLite: nothing, one process per file).
    fn claim_job_instance(&mut self, instance: &str) -> Result<(), StoreError>;
    /// Marks `interrupted` (with `reason`, at `at`) every queued or running job
    /// whose process has ended, and returns their ids. SQLite: every unfinished
    /// job but `instance`'s (one process per file, so they are from before a
    /// restart). PostgreSQL: the unfinished jobs of every instance whose
    /// advisory lock is free, i.e. whose process's connection has ended.
    fn interrupt_orphaned_jobs(
        &mut self,
        instance: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError>;
}

/// Opens a store from a URL: `sqlite://PATH`, a plain path, `:memory:`, or `postgres://...`.
pub fn open(url: &str) -> Result<Box<dyn BrokerStore>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Box::new(PostgresStore::open(url)?));
    }
    let path = url.strip_prefix("sqlite://").unwrap_or(url);
    if path.is_empty() {
        return Err(StoreError::BadUrl(url.to_string()));
    }
    Ok(Box::new(SqliteStore::open(path)?))
}

/// Rebuilds a broker from stored state by replaying the audit log.
pub fn rebuild(loaded: &Loaded) -> Result<Broker, StoreError> {
    let b = &loaded.baseline;
    let mut broker = Broker::new(b.config.clone(), b.roster.clone(), b.rotas.clone())
        .map_err(|e| StoreError::Corrupt(format!("baseline: {e}")))?;
    for e in &loaded.events {
        broker.apply(e);
    }
    broker
        .ledger
        .verify()
        .map_err(|e| StoreError::Corrupt(format!("ledger after replay: {e}")))?;
    Ok(broker)
}

/// The snake_case text of a unit enum (a status or entry kind) for a query-table column.
fn status_text<T: Serialize>(t: &T) -> Result<String, StoreError> {
    Ok(serde_json::to_value(t)?
        .as_str()
        .unwrap_or_default()
        .to_string())
}
