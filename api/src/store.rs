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
//! updates and deletes.

use carefill_solver::broker::{Broker, BrokerConfig, BrokerEvent};
use carefill_solver::format::{PlanningRequest, Rota};
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
    /// The database URL is not understood.
    #[error("unsupported database URL `{0}` (use sqlite://PATH, a file path, or postgres://...)")]
    BadUrl(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        StoreError::Database(e.to_string())
    }
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
            BrokerEvent::CarerAbsent { team, .. } => {
                t.teams.insert(team.clone());
            }
            BrokerEvent::CarerSaved { replans, .. } => {
                t.teams.extend(replans.iter().map(|r| r.team.clone()));
            }
            // Roster records live in the audit log (replayed at start); no query table.
            BrokerEvent::ProviderSaved { .. }
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
    /// Number of audit-log rows (for health and tests).
    fn audit_len(&mut self) -> Result<i64, StoreError>;
    /// Row counts of the query tables `(packages, offers, ledger_entries)`.
    fn table_counts(&mut self) -> Result<(i64, i64, i64), StoreError>;
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

// ------------------------------------------------------------------ SQLite

/// The embedded default: one SQLite file, WAL mode, synchronous=FULL so a
/// committed transaction survives a crash.
pub struct SqliteStore {
    conn: rusqlite::Connection,
}

const SQLITE_SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS baseline (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY, at TEXT NOT NULL, recorded_at TEXT NOT NULL,
    actor TEXT NOT NULL, command TEXT NOT NULL, kind TEXT NOT NULL, event TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TABLE IF NOT EXISTS packages (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, provider TEXT, team TEXT,
    referred_at TEXT NOT NULL, filled_at TEXT, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS offers (
    id TEXT PRIMARY KEY, package TEXT NOT NULL, provider TEXT NOT NULL, status TEXT NOT NULL,
    expires_at TEXT NOT NULL, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS offers_by_provider ON offers (provider, status);
CREATE TABLE IF NOT EXISTS ledger_entries (
    seq INTEGER PRIMARY KEY, at TEXT NOT NULL, kind TEXT NOT NULL, from_account TEXT NOT NULL,
    to_account TEXT NOT NULL, amount_pence INTEGER NOT NULL CHECK (amount_pence > 0),
    package TEXT, memo TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS team_rotas (team TEXT PRIMARY KEY, rota TEXT NOT NULL);
"#;

impl SqliteStore {
    /// Opens (creating and migrating) the database file.
    pub fn open(path: &str) -> Result<SqliteStore, StoreError> {
        let conn = rusqlite::Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SQLITE_SCHEMA)?;
        let version: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .ok();
        match version.as_deref().map(str::parse::<i64>) {
            None => {
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)",
                    [SCHEMA_VERSION.to_string()],
                )?;
            }
            Some(Ok(v)) if v == SCHEMA_VERSION => {}
            Some(other) => {
                return Err(StoreError::Corrupt(format!(
                    "schema version {other:?}; this build knows {SCHEMA_VERSION}"
                )));
            }
        }
        Ok(SqliteStore { conn })
    }
}

fn status_text<T: Serialize>(t: &T) -> Result<String, StoreError> {
    Ok(serde_json::to_value(t)?
        .as_str()
        .unwrap_or_default()
        .to_string())
}

impl BrokerStore for SqliteStore {
    fn load(&mut self) -> Result<Option<Loaded>, StoreError> {
        let body: Option<String> = self
            .conn
            .query_row("SELECT body FROM baseline WHERE id = 1", [], |r| r.get(0))
            .ok();
        let Some(body) = body else { return Ok(None) };
        let baseline: Baseline = serde_json::from_str(&body)?;
        let mut stmt = self
            .conn
            .prepare("SELECT event FROM audit_log ORDER BY seq")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut events = Vec::new();
        for row in rows {
            events.push(serde_json::from_str(&row?)?);
        }
        Ok(Some(Loaded { baseline, events }))
    }

    fn init(&mut self, baseline: &Baseline) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO baseline (id, body, created_at) VALUES (1, ?1, ?2)",
            rusqlite::params![serde_json::to_string(baseline)?, Utc::now().to_rfc3339()],
        )?;
        for (team, rota) in &baseline.rotas {
            tx.execute(
                "INSERT OR REPLACE INTO team_rotas (team, rota) VALUES (?1, ?2)",
                rusqlite::params![team, serde_json::to_string(rota)?],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn commit(
        &mut self,
        actor: &Actor<'_>,
        at: DateTime<Utc>,
        events: &[BrokerEvent],
        broker: &Broker,
    ) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let t = touched(events, broker);
        let tx = self.conn.transaction()?;
        let recorded = Utc::now().to_rfc3339();
        for e in events {
            tx.execute(
                "INSERT INTO audit_log (at, recorded_at, actor, command, kind, event) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                rusqlite::params![at.to_rfc3339(), recorded, actor.who, actor.command, e.kind(), serde_json::to_string(e)?],
            )?;
        }
        for id in &t.packages {
            if let Some(r) = broker.packages.get(id) {
                tx.execute(
                    "INSERT OR REPLACE INTO packages (id, status, provider, team, referred_at, filled_at, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    rusqlite::params![id, status_text(&r.status)?, r.provider, r.team, r.referred_at.to_rfc3339(), r.filled_at.map(|f| f.to_rfc3339()), serde_json::to_string(r)?],
                )?;
            }
        }
        for id in &t.offers {
            if let Some(o) = broker.offers.get(id) {
                tx.execute(
                    "INSERT OR REPLACE INTO offers (id, package, provider, status, expires_at, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    rusqlite::params![id, o.package, o.provider, status_text(&o.status)?, o.expires_at.to_rfc3339(), serde_json::to_string(o)?],
                )?;
            }
        }
        for e in &broker.ledger.entries[t.ledger_from.min(broker.ledger.entries.len())..] {
            tx.execute(
                "INSERT INTO ledger_entries (seq, at, kind, from_account, to_account, amount_pence, package, memo) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                rusqlite::params![e.seq as i64, e.at.to_rfc3339(), status_text(&e.kind)?, e.from, e.to, e.amount_pence, e.package, e.memo],
            )?;
        }
        for team in &t.teams {
            if let Some(rota) = broker.rotas.get(team) {
                tx.execute(
                    "INSERT OR REPLACE INTO team_rotas (team, rota) VALUES (?1, ?2)",
                    rusqlite::params![team, serde_json::to_string(rota)?],
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn audit_len(&mut self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM audit_log", [], |r| r.get(0))?)
    }

    fn table_counts(&mut self) -> Result<(i64, i64, i64), StoreError> {
        let count = |t: &str| -> Result<i64, StoreError> {
            Ok(self
                .conn
                .query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))?)
        };
        Ok((
            count("packages")?,
            count("offers")?,
            count("ledger_entries")?,
        ))
    }
}

// --------------------------------------------------------------- PostgreSQL

/// PostgreSQL through the same interface (sync client; call from blocking threads).
pub struct PostgresStore {
    client: postgres::Client,
}

const PG_SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS baseline (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL);
CREATE TABLE IF NOT EXISTS audit_log (
    seq BIGSERIAL PRIMARY KEY, at TIMESTAMPTZ NOT NULL, recorded_at TIMESTAMPTZ NOT NULL,
    actor TEXT NOT NULL, command TEXT NOT NULL, kind TEXT NOT NULL, event TEXT NOT NULL);
CREATE OR REPLACE RULE audit_log_no_update AS ON UPDATE TO audit_log DO INSTEAD NOTHING;
CREATE OR REPLACE RULE audit_log_no_delete AS ON DELETE TO audit_log DO INSTEAD NOTHING;
CREATE TABLE IF NOT EXISTS packages (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, provider TEXT, team TEXT,
    referred_at TIMESTAMPTZ NOT NULL, filled_at TIMESTAMPTZ, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS offers (
    id TEXT PRIMARY KEY, package TEXT NOT NULL, provider TEXT NOT NULL, status TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS offers_by_provider ON offers (provider, status);
CREATE TABLE IF NOT EXISTS ledger_entries (
    seq BIGINT PRIMARY KEY, at TIMESTAMPTZ NOT NULL, kind TEXT NOT NULL, from_account TEXT NOT NULL,
    to_account TEXT NOT NULL, amount_pence BIGINT NOT NULL CHECK (amount_pence > 0),
    package TEXT, memo TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS team_rotas (team TEXT PRIMARY KEY, rota TEXT NOT NULL);
"#;

impl PostgresStore {
    /// Connects and migrates.
    pub fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let mut client = postgres::Client::connect(url, postgres::NoTls)?;
        client.batch_execute(PG_SCHEMA)?;
        let version: Option<String> = client
            .query_opt("SELECT value FROM meta WHERE key = 'schema_version'", &[])?
            .map(|r| r.get(0));
        match version.as_deref().map(str::parse::<i64>) {
            None => {
                client.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', $1)",
                    &[&SCHEMA_VERSION.to_string()],
                )?;
            }
            Some(Ok(v)) if v == SCHEMA_VERSION => {}
            Some(other) => {
                return Err(StoreError::Corrupt(format!(
                    "schema version {other:?}; this build knows {SCHEMA_VERSION}"
                )));
            }
        }
        Ok(PostgresStore { client })
    }
}

impl BrokerStore for PostgresStore {
    fn load(&mut self) -> Result<Option<Loaded>, StoreError> {
        let Some(row) = self
            .client
            .query_opt("SELECT body FROM baseline WHERE id = 1", &[])?
        else {
            return Ok(None);
        };
        let baseline: Baseline = serde_json::from_str(row.get::<_, &str>(0))?;
        let mut events = Vec::new();
        for row in self
            .client
            .query("SELECT event FROM audit_log ORDER BY seq", &[])?
        {
            events.push(serde_json::from_str(row.get::<_, &str>(0))?);
        }
        Ok(Some(Loaded { baseline, events }))
    }

    fn init(&mut self, baseline: &Baseline) -> Result<(), StoreError> {
        let mut tx = self.client.transaction()?;
        tx.execute(
            "INSERT INTO baseline (id, body, created_at) VALUES (1, $1, $2)",
            &[&serde_json::to_string(baseline)?, &Utc::now()],
        )?;
        for (team, rota) in &baseline.rotas {
            tx.execute(
                "INSERT INTO team_rotas (team, rota) VALUES ($1, $2) ON CONFLICT (team) DO UPDATE SET rota = EXCLUDED.rota",
                &[team, &serde_json::to_string(rota)?],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn commit(
        &mut self,
        actor: &Actor<'_>,
        at: DateTime<Utc>,
        events: &[BrokerEvent],
        broker: &Broker,
    ) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let t = touched(events, broker);
        let mut tx = self.client.transaction()?;
        let recorded = Utc::now();
        for e in events {
            tx.execute(
                "INSERT INTO audit_log (at, recorded_at, actor, command, kind, event) VALUES ($1, $2, $3, $4, $5, $6)",
                &[&at, &recorded, &actor.who, &actor.command, &e.kind(), &serde_json::to_string(e)?],
            )?;
        }
        for id in &t.packages {
            if let Some(r) = broker.packages.get(id) {
                tx.execute(
                    "INSERT INTO packages (id, status, provider, team, referred_at, filled_at, record) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, provider = EXCLUDED.provider, team = EXCLUDED.team, \
                     referred_at = EXCLUDED.referred_at, filled_at = EXCLUDED.filled_at, record = EXCLUDED.record",
                    &[id, &status_text(&r.status)?, &r.provider, &r.team, &r.referred_at, &r.filled_at, &serde_json::to_string(r)?],
                )?;
            }
        }
        for id in &t.offers {
            if let Some(o) = broker.offers.get(id) {
                tx.execute(
                    "INSERT INTO offers (id, package, provider, status, expires_at, record) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, record = EXCLUDED.record",
                    &[id, &o.package, &o.provider, &status_text(&o.status)?, &o.expires_at, &serde_json::to_string(o)?],
                )?;
            }
        }
        for e in &broker.ledger.entries[t.ledger_from.min(broker.ledger.entries.len())..] {
            tx.execute(
                "INSERT INTO ledger_entries (seq, at, kind, from_account, to_account, amount_pence, package, memo) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[&(e.seq as i64), &e.at, &status_text(&e.kind)?, &e.from, &e.to, &e.amount_pence, &e.package, &e.memo],
            )?;
        }
        for team in &t.teams {
            if let Some(rota) = broker.rotas.get(team) {
                tx.execute(
                    "INSERT INTO team_rotas (team, rota) VALUES ($1, $2) ON CONFLICT (team) DO UPDATE SET rota = EXCLUDED.rota",
                    &[team, &serde_json::to_string(rota)?],
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn audit_len(&mut self) -> Result<i64, StoreError> {
        Ok(self
            .client
            .query_one("SELECT COUNT(*) FROM audit_log", &[])?
            .get(0))
    }

    fn table_counts(&mut self) -> Result<(i64, i64, i64), StoreError> {
        let mut count = |t: &str| -> Result<i64, StoreError> {
            Ok(self
                .client
                .query_one(&format!("SELECT COUNT(*) FROM {t}"), &[])?
                .get(0))
        };
        Ok((
            count("packages")?,
            count("offers")?,
            count("ledger_entries")?,
        ))
    }
}
