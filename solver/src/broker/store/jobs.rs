//! A stored asynchronous solve job: what the API needs to answer status and
//! result requests after a restart or from another replica.

use chrono::{DateTime, Utc};

/// States of a job that has not finished; a restart turns them into `interrupted`.
pub const JOB_STATES_UNFINISHED: [&str; 2] = ["queued", "running"];

/// One row of `solve_jobs`.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredJob {
    /// `job_` + 32 hex characters.
    pub id: String,
    /// Key id of the submitter.
    pub owner: String,
    /// The process (a random id per start) that took the job.
    pub instance: String,
    /// `queued`, `running`, `succeeded`, `cancelled`, `failed` or `interrupted`.
    pub state: String,
    /// When it was submitted.
    pub submitted_at: DateTime<Utc>,
    /// When it started solving.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished (or was found interrupted).
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it failed or was interrupted.
    pub detail: Option<String>,
    /// The API's own figures (time limit, seed, iterations, best objective), JSON.
    pub meta: String,
    /// The rota (JSON), once there is one.
    pub result: Option<String>,
}

/// A stable 32-bit key for an instance id (the second half of a PostgreSQL
/// two-key advisory lock): FNV-1a, so every process computes the same key.
pub(super) fn instance_key(instance: &str) -> i32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in instance.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h as i32
}

#[cfg(test)]
mod tests {
    use super::super::{BrokerStore, SqliteStore};
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, h, 0, 0)
            .single()
            .expect("time")
    }

    pub(crate) fn job(id: &str, instance: &str, state: &str) -> StoredJob {
        StoredJob {
            id: id.into(),
            owner: "key-a".into(),
            instance: instance.into(),
            state: state.into(),
            submitted_at: at(8),
            started_at: (state != "queued").then(|| at(9)),
            finished_at: None,
            detail: None,
            meta: r#"{"time_limit_s":5.0,"seed":1}"#.into(),
            result: (state == "succeeded").then(|| r#"{"routes":[]}"#.into()),
        }
    }

    /// The contract both stores keep; `reopen` gives a fresh connection to the
    /// same database, as a restarted process would have.
    pub(crate) fn jobs_survive_a_restart(mut reopen: impl FnMut() -> Box<dyn BrokerStore>) {
        let mut first = reopen();
        first.claim_job_instance("inst-old").expect("claim");
        let done = job("job_done", "inst-old", "succeeded");
        for j in [
            job("job_queued", "inst-old", "queued"),
            job("job_running", "inst-old", "running"),
            done.clone(),
        ] {
            first.put_job(&j).expect("put");
        }
        let mut evicted = job("job_evicted", "inst-old", "cancelled");
        evicted.submitted_at = at(7);
        first.put_job(&evicted).expect("put");
        first.delete_jobs(&["job_evicted"]).expect("delete");
        // While the old process lives, nobody interrupts its jobs (PostgreSQL:
        // its lock is held; SQLite has one process per file and does not ask).
        let mut second = reopen();
        second.claim_job_instance("inst-new").expect("claim");
        drop(first);
        // PostgreSQL frees the old session's lock shortly after its client goes.
        let mut interrupted = Vec::new();
        for _ in 0..50 {
            interrupted = second
                .interrupt_orphaned_jobs("inst-new", "the process restarted", at(10))
                .expect("interrupt");
            if !interrupted.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        interrupted.sort();
        assert_eq!(interrupted, vec!["job_queued", "job_running"]);
        let all = second.load_jobs().expect("load");
        assert_eq!(all.len(), 3, "the deleted job stays deleted");
        for j in &all {
            match j.id.as_str() {
                "job_done" => assert_eq!(j, &done, "a finished job and its result are kept"),
                _ => {
                    assert_eq!(j.state, "interrupted");
                    assert_eq!(j.detail.as_deref(), Some("the process restarted"));
                    assert_eq!(j.finished_at, Some(at(10)));
                    assert!(j.result.is_none());
                }
            }
        }
        assert_eq!(
            second.get_job("job_done").expect("get").as_ref(),
            Some(&done)
        );
        assert!(second.get_job("job_none").expect("get").is_none());
        // The new process's own unfinished jobs are never interrupted by itself.
        second
            .put_job(&job("job_mine", "inst-new", "running"))
            .expect("put");
        assert!(
            second
                .interrupt_orphaned_jobs("inst-new", "x", at(11))
                .expect("interrupt")
                .is_empty()
        );
    }

    #[test]
    fn sqlite_jobs_survive_a_restart() {
        let dir = std::env::temp_dir().join(format!(
            "carefill-jobs-{}-{}",
            std::process::id(),
            instance_key(&format!("{:?}", std::time::SystemTime::now()))
        ));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("broker.db");
        let p = path.to_string_lossy().to_string();
        jobs_survive_a_restart(|| Box::new(SqliteStore::open(&p).expect("open")));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Under CI (`CI` set) a missing server is a failure, not a skip.
    #[test]
    fn postgres_jobs_survive_a_restart_and_live_replicas_keep_theirs() {
        let Ok(url) = std::env::var("CAREFILL_TEST_POSTGRES_URL") else {
            assert!(
                std::env::var("CI").is_err(),
                "CI must provide CAREFILL_TEST_POSTGRES_URL"
            );
            eprintln!("CAREFILL_TEST_POSTGRES_URL not set: PostgreSQL job store test not run");
            return;
        };
        let name = format!("carefill_jobs_{}", std::process::id());
        {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
            c.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
                .expect("drop");
            c.batch_execute(&format!("CREATE DATABASE {name}"))
                .expect("create");
        }
        let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
        let db = format!("{base}/{name}");
        let open = || -> Box<dyn BrokerStore> {
            Box::new(super::super::PostgresStore::open(&db).expect("open"))
        };
        // A live replica's running job is left alone; once its process's
        // connection ends, the next process to look marks it interrupted.
        let mut live = open();
        live.claim_job_instance("inst-live").expect("claim");
        live.put_job(&job("job_live", "inst-live", "running"))
            .expect("put");
        let mut other = open();
        other.claim_job_instance("inst-other").expect("claim");
        assert!(
            other
                .interrupt_orphaned_jobs("inst-other", "gone", at(10))
                .expect("interrupt")
                .is_empty()
        );
        drop(live);
        // The server ends the session (and frees the lock) shortly after the client goes.
        let mut found = Vec::new();
        for _ in 0..50 {
            found = other
                .interrupt_orphaned_jobs("inst-other", "gone", at(10))
                .expect("interrupt");
            if !found.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert_eq!(found, vec!["job_live"]);
        other.delete_jobs(&["job_live"]).expect("delete");
        drop(other);
        jobs_survive_a_restart(open);
        let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
        let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }
}
