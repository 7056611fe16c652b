//! The broker behind the HTTP routes: one [`Broker`] in memory, its events
//! committed to the [`BrokerStore`] before any answer goes out, and an
//! injectable [`Clock`] so tests and simulations can run a day in milliseconds.
//!
//! Commands take the write lock, decide and apply events, and commit them in
//! one transaction. If the commit fails, the in-memory broker is rebuilt from
//! the store, so memory never runs ahead of the database.

use carefill_solver::broker::store::{Actor, Baseline, BrokerStore, StoreError, rebuild};
use carefill_solver::broker::{Broker, BrokerError, BrokerEvent};
use carefill_solver::format::{Package, ServiceUser};
use chrono::{DateTime, Duration, Utc};
use std::sync::{Mutex, RwLock};

/// Where "now" comes from.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock tests move by hand.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// Starts at `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        ManualClock(Mutex::new(at))
    }
    /// Moves time on.
    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A broker command failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The broker refused (unknown id, closed offer, invalid package...).
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// The database failed; nothing was changed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The broker service.
pub struct BrokerService {
    broker: RwLock<Broker>,
    /// Taken only while holding the broker's write lock (or for counts).
    store: Mutex<Box<dyn BrokerStore>>,
    clock: Box<dyn Clock>,
    /// Referrals of a generated demo county, for `GET /v1/demo/referrals`.
    demo_referrals: std::sync::OnceLock<Vec<(Package, ServiceUser)>>,
    /// Committed changes for `GET /v1/events` subscribers.
    live: tokio::sync::broadcast::Sender<crate::live::LiveBatch>,
}

impl std::fmt::Debug for BrokerService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BrokerService")
    }
}

impl BrokerService {
    /// Opens the store: an existing one is replayed; a new one is initialised
    /// with `baseline()` (called only then, as building a county takes time).
    pub fn open(
        mut store: Box<dyn BrokerStore>,
        clock: Box<dyn Clock>,
        baseline: impl FnOnce() -> Result<Baseline, String>,
    ) -> Result<BrokerService, String> {
        let broker = match store.load().map_err(|e| e.to_string())? {
            Some(loaded) => {
                let b = rebuild(&loaded).map_err(|e| e.to_string())?;
                // The query tables must agree with the replayed audit log: a command
                // is all in the database or not at all.
                let (packages, offers, entries) =
                    store.table_counts().map_err(|e| e.to_string())?;
                let expected = (
                    b.packages.len() as i64,
                    b.offers.len() as i64,
                    b.ledger.entries.len() as i64,
                );
                if (packages, offers, entries) != expected {
                    return Err(format!(
                        "database tables (packages, offers, ledger entries) = {:?} disagree with the audit log's {:?}",
                        (packages, offers, entries),
                        expected
                    ));
                }
                b
            }
            None => {
                let b = baseline()?;
                store.init(&b).map_err(|e| e.to_string())?;
                Broker::new(b.config, b.roster, b.rotas).map_err(|e| e.to_string())?
            }
        };
        Ok(BrokerService {
            broker: RwLock::new(broker),
            store: Mutex::new(store),
            clock,
            demo_referrals: std::sync::OnceLock::new(),
            live: crate::live::channel(),
        })
    }

    /// Keeps the demo county's referrals so a new user can POST them.
    pub fn set_demo_referrals(&self, referrals: Vec<(Package, ServiceUser)>) {
        let _ = self.demo_referrals.set(referrals);
    }

    /// Demo referrals not referred yet.
    pub fn demo_referrals(&self) -> Vec<(Package, ServiceUser)> {
        let all = self.demo_referrals.get().cloned().unwrap_or_default();
        self.read(|b, _| {
            all.into_iter()
                .filter(|(p, _)| !b.packages.contains_key(&p.id))
                .collect()
        })
    }

    /// The service's "now".
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Runs a command: decide + apply events, then commit them atomically.
    pub fn execute<F>(
        &self,
        who: &str,
        command: &str,
        f: F,
    ) -> Result<Vec<BrokerEvent>, ServiceError>
    where
        F: FnOnce(&mut Broker, DateTime<Utc>) -> Result<Vec<BrokerEvent>, BrokerError>,
    {
        let mut broker = self.broker.write().unwrap_or_else(|e| e.into_inner());
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        let now = self.clock.now();
        // Visits that started before now are frozen in every fit check and re-plan.
        broker.set_now(now);
        let events = f(&mut broker, now)?;
        if events.is_empty() {
            return Ok(events);
        }
        if let Err(e) = store.commit(&Actor { who, command }, now, &events, &broker) {
            // Memory must not run ahead of the database: rebuild from what is stored.
            if let Ok(Some(loaded)) = store.load()
                && let Ok(b) = rebuild(&loaded)
            {
                *broker = b;
            }
            return Err(e.into());
        }
        if self.live.receiver_count() > 0 {
            let live = crate::live::summarise(&broker, &events, now);
            let _ = self.live.send(std::sync::Arc::new(live));
        }
        Ok(events)
    }

    /// A receiver of every committed command's live events (see [`crate::events`]).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<crate::live::LiveBatch> {
        self.live.subscribe()
    }

    /// Reads the broker state.
    pub fn read<T>(&self, f: impl FnOnce(&Broker, DateTime<Utc>) -> T) -> T {
        let broker = self.broker.read().unwrap_or_else(|e| e.into_inner());
        f(&broker, self.clock.now())
    }

    /// Audit-log length and query-table row counts, straight from the database.
    pub fn store_counts(&self) -> Result<(i64, (i64, i64, i64)), StoreError> {
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        let n = store.audit_len()?;
        Ok((n, store.table_counts()?))
    }
}
