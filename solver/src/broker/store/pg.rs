//! The PostgreSQL store, for deployments that outgrow one machine.

use super::jobs::instance_key;
use super::{
    Actor, Baseline, BrokerStore, JOB_STATES_UNFINISHED, Loaded, SCHEMA_VERSION, StoreError,
    StoredJob, status_text, touched,
};
use crate::broker::{Broker, BrokerEvent};
use chrono::{DateTime, Utc};

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

/// PostgreSQL through the same interface (sync client; call from blocking threads).
pub struct PostgresStore {
    client: postgres::Client,
    /// Whether this connection's session holds the writer lease.
    holds_lease: bool,
}

/// The advisory-lock key of the broker's writer lease (one county per database).
const WRITER_LEASE_KEY: i64 = 0x6361_7265_6669_6c6c; // "carefill"

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
CREATE TABLE IF NOT EXISTS side_records (
    kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (kind, id));
CREATE TABLE IF NOT EXISTS solve_jobs (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, instance TEXT NOT NULL, state TEXT NOT NULL,
    submitted_at TIMESTAMPTZ NOT NULL, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ,
    detail TEXT, meta TEXT NOT NULL, result TEXT);
CREATE INDEX IF NOT EXISTS solve_jobs_by_state ON solve_jobs (state);
"#;

/// First key of the two-key advisory locks that say a process is alive and
/// holds its solve jobs (the second is [`super::jobs::instance_key`]). The
/// two-key space does not overlap the writer lease's one-key space.
const JOB_INSTANCE_LOCK_CLASS: i32 = 0x6a6f_6273; // "jobs"

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
        Ok(PostgresStore {
            client,
            holds_lease: false,
        })
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
        let mut events = Vec::new();
        for row in self.client.query(
            "SELECT seq, event FROM audit_log WHERE seq > $1 ORDER BY seq",
            &[&seq],
        )? {
            events.push((row.get(0), serde_json::from_str(row.get::<_, &str>(1))?));
        }
        Ok(events)
    }

    fn try_writer_lease(&mut self) -> Result<bool, StoreError> {
        if self.holds_lease {
            return Ok(true);
        }
        self.holds_lease = self
            .client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&WRITER_LEASE_KEY])?
            .get(0);
        Ok(self.holds_lease)
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
        if !self.holds_lease {
            return Err(StoreError::NotWriter);
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

    fn put_side(&mut self, rows: &[(&str, &str, &str)]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.client.transaction()?;
        for (kind, id, body) in rows {
            tx.execute(
                "INSERT INTO side_records (kind, id, body) VALUES ($1, $2, $3) \
                 ON CONFLICT (kind, id) DO UPDATE SET body = EXCLUDED.body",
                &[kind, id, body],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn delete_side(&mut self, kind: &str, ids: &[&str]) -> Result<(), StoreError> {
        let mut tx = self.client.transaction()?;
        for id in ids {
            tx.execute(
                "DELETE FROM side_records WHERE kind = $1 AND id = $2",
                &[&kind, id],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn load_side(&mut self, kind: &str) -> Result<Vec<(String, String)>, StoreError> {
        Ok(self
            .client
            .query(
                "SELECT id, body FROM side_records WHERE kind = $1 ORDER BY id",
                &[&kind],
            )?
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn put_job(&mut self, job: &StoredJob) -> Result<(), StoreError> {
        self.client.execute(
            "INSERT INTO solve_jobs (id, owner, instance, state, submitted_at, started_at, finished_at, detail, meta, result) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO UPDATE SET owner = EXCLUDED.owner, \
             instance = EXCLUDED.instance, state = EXCLUDED.state, submitted_at = EXCLUDED.submitted_at, \
             started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at, detail = EXCLUDED.detail, \
             meta = EXCLUDED.meta, result = EXCLUDED.result",
            &[
                &job.id,
                &job.owner,
                &job.instance,
                &job.state,
                &job.submitted_at,
                &job.started_at,
                &job.finished_at,
                &job.detail,
                &job.meta,
                &job.result,
            ],
        )?;
        Ok(())
    }

    fn get_job(&mut self, id: &str) -> Result<Option<StoredJob>, StoreError> {
        Ok(self
            .client
            .query_opt(&format!("{JOB_COLUMNS} WHERE id = $1"), &[&id])?
            .map(|r| job_from_row(&r)))
    }

    fn load_jobs(&mut self) -> Result<Vec<StoredJob>, StoreError> {
        Ok(self
            .client
            .query(&format!("{JOB_COLUMNS} ORDER BY submitted_at, id"), &[])?
            .iter()
            .map(job_from_row)
            .collect())
    }

    fn delete_jobs(&mut self, ids: &[&str]) -> Result<(), StoreError> {
        let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
        self.client
            .execute("DELETE FROM solve_jobs WHERE id = ANY($1)", &[&ids])?;
        Ok(())
    }

    fn claim_job_instance(&mut self, instance: &str) -> Result<(), StoreError> {
        self.client.query_one(
            "SELECT pg_advisory_lock($1, $2)",
            &[&JOB_INSTANCE_LOCK_CLASS, &instance_key(instance)],
        )?;
        Ok(())
    }

    fn interrupt_orphaned_jobs(
        &mut self,
        instance: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        let unfinished: Vec<String> = JOB_STATES_UNFINISHED
            .iter()
            .map(|s| s.to_string())
            .collect();
        let others: Vec<String> = self
            .client
            .query(
                "SELECT DISTINCT instance FROM solve_jobs WHERE state = ANY($1) AND instance <> $2",
                &[&unfinished, &instance],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut ids = Vec::new();
        for other in others {
            let key = instance_key(&other);
            // Free lock: that process's session has ended, so its jobs cannot finish.
            let free: bool = self
                .client
                .query_one(
                    "SELECT pg_try_advisory_lock($1, $2)",
                    &[&JOB_INSTANCE_LOCK_CLASS, &key],
                )?
                .get(0);
            if !free {
                continue;
            }
            let marked = self.client.query(
                "UPDATE solve_jobs SET state = 'interrupted', finished_at = $3, detail = $4 \
                 WHERE instance = $1 AND state = ANY($2) RETURNING id",
                &[&other, &unfinished, &at, &reason],
            );
            self.client.query_one(
                "SELECT pg_advisory_unlock($1, $2)",
                &[&JOB_INSTANCE_LOCK_CLASS, &key],
            )?;
            ids.extend(marked?.iter().map(|r| r.get::<_, String>(0)));
        }
        ids.sort();
        Ok(ids)
    }
}

const JOB_COLUMNS: &str = "SELECT id, owner, instance, state, submitted_at, started_at, finished_at, detail, meta, result FROM solve_jobs";

fn job_from_row(r: &postgres::Row) -> StoredJob {
    StoredJob {
        id: r.get(0),
        owner: r.get(1),
        instance: r.get(2),
        state: r.get(3),
        submitted_at: r.get(4),
        started_at: r.get(5),
        finished_at: r.get(6),
        detail: r.get(7),
        meta: r.get(8),
        result: r.get(9),
    }
}
