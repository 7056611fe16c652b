//! The embedded default store: one SQLite file.

use super::{
    Actor, Baseline, BrokerStore, JOB_STATES_UNFINISHED, Loaded, SCHEMA_VERSION, StoreError,
    StoredJob, status_text, touched,
};
use crate::broker::{Broker, BrokerEvent};
use chrono::{DateTime, Utc};

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

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
CREATE TABLE IF NOT EXISTS side_records (
    kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (kind, id));
CREATE TABLE IF NOT EXISTS solve_jobs (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, instance TEXT NOT NULL, state TEXT NOT NULL,
    submitted_at TEXT NOT NULL, started_at TEXT, finished_at TEXT, detail TEXT,
    meta TEXT NOT NULL, result TEXT);
CREATE INDEX IF NOT EXISTS solve_jobs_by_state ON solve_jobs (state);
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

impl BrokerStore for SqliteStore {
    fn load(&mut self) -> Result<Option<Loaded>, StoreError> {
        let body: Option<String> = self
            .conn
            .query_row("SELECT body FROM baseline WHERE id = 1", [], |r| r.get(0))
            .ok();
        let Some(body) = body else { return Ok(None) };
        let baseline: Baseline = serde_json::from_str(&body)?;
        let numbered = self.events_after(0)?;
        let last_seq = numbered.last().map_or(0, |(seq, _)| *seq);
        let events = numbered.into_iter().map(|(_, e)| e).collect();
        Ok(Some(Loaded {
            baseline,
            events,
            last_seq,
        }))
    }

    fn events_after(&mut self, seq: i64) -> Result<Vec<(i64, BrokerEvent)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, event FROM audit_log WHERE seq > ?1 ORDER BY seq")?;
        let rows = stmt.query_map([seq], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        let mut events = Vec::new();
        for row in rows {
            let (seq, text) = row?;
            events.push((seq, serde_json::from_str(&text)?));
        }
        Ok(events)
    }

    fn try_writer_lease(&mut self) -> Result<bool, StoreError> {
        Ok(true)
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

    fn put_side(&mut self, rows: &[(&str, &str, &str)]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        for (kind, id, body) in rows {
            tx.execute(
                "INSERT OR REPLACE INTO side_records (kind, id, body) VALUES (?1, ?2, ?3)",
                rusqlite::params![kind, id, body],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn delete_side(&mut self, kind: &str, ids: &[&str]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        for id in ids {
            tx.execute(
                "DELETE FROM side_records WHERE kind = ?1 AND id = ?2",
                rusqlite::params![kind, id],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn load_side(&mut self, kind: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, body FROM side_records WHERE kind = ?1 ORDER BY id")?;
        let rows = stmt.query_map([kind], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn put_job(&mut self, job: &StoredJob) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO solve_jobs (id, owner, instance, state, submitted_at, started_at, finished_at, detail, meta, result) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            rusqlite::params![
                job.id,
                job.owner,
                job.instance,
                job.state,
                job.submitted_at.to_rfc3339(),
                job.started_at.map(|t| t.to_rfc3339()),
                job.finished_at.map(|t| t.to_rfc3339()),
                job.detail,
                job.meta,
                job.result
            ],
        )?;
        Ok(())
    }

    fn get_job(&mut self, id: &str) -> Result<Option<StoredJob>, StoreError> {
        let mut stmt = self.conn.prepare(&format!("{JOB_COLUMNS} WHERE id = ?1"))?;
        let mut rows = stmt.query_map([id], job_row)?;
        rows.next().transpose()?.map(decode_job).transpose()
    }

    fn load_jobs(&mut self) -> Result<Vec<StoredJob>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!("{JOB_COLUMNS} ORDER BY submitted_at, id"))?;
        let rows = stmt.query_map([], job_row)?;
        rows.map(|r| decode_job(r?)).collect()
    }

    fn delete_jobs(&mut self, ids: &[&str]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        for id in ids {
            tx.execute("DELETE FROM solve_jobs WHERE id = ?1", [id])?;
        }
        tx.commit()?;
        Ok(())
    }

    fn claim_job_instance(&mut self, _instance: &str) -> Result<(), StoreError> {
        Ok(())
    }

    fn interrupt_orphaned_jobs(
        &mut self,
        instance: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        let tx = self.conn.transaction()?;
        let ids: Vec<String> = {
            let mut stmt = tx.prepare(
                "SELECT id FROM solve_jobs WHERE state IN (?1, ?2) AND instance <> ?3 ORDER BY id",
            )?;
            let rows = stmt.query_map(
                rusqlite::params![JOB_STATES_UNFINISHED[0], JOB_STATES_UNFINISHED[1], instance],
                |r| r.get(0),
            )?;
            rows.collect::<Result<_, _>>()?
        };
        for id in &ids {
            tx.execute(
                "UPDATE solve_jobs SET state = 'interrupted', finished_at = ?2, detail = ?3 WHERE id = ?1",
                rusqlite::params![id, at.to_rfc3339(), reason],
            )?;
        }
        tx.commit()?;
        Ok(ids)
    }
}

const JOB_COLUMNS: &str = "SELECT id, owner, instance, state, submitted_at, started_at, finished_at, detail, meta, result FROM solve_jobs";

type JobRow = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
);

fn job_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<JobRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
    ))
}

fn decode_job(row: JobRow) -> Result<StoredJob, StoreError> {
    let (id, owner, instance, state, submitted, started, finished, detail, meta, result) = row;
    let instant = |t: &str| {
        DateTime::parse_from_rfc3339(t)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| StoreError::Corrupt(format!("job {id}: time {t:?}: {e}")))
    };
    Ok(StoredJob {
        submitted_at: instant(&submitted)?,
        started_at: started.as_deref().map(instant).transpose()?,
        finished_at: finished.as_deref().map(instant).transpose()?,
        id: id.clone(),
        owner,
        instance,
        state,
        detail,
        meta,
        result,
    })
}
