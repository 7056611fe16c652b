//! The broker behind the HTTP routes: one [`Broker`] in memory, its events
//! committed to the [`BrokerStore`] before any answer goes out, and an
//! injectable [`Clock`] so tests and simulations can run a day in milliseconds.
//!
//! Two copies of the broker live in memory. Commands run one at a time on the
//! writer's copy: they decide and apply events and commit them in one
//! transaction. Reads use the readers' copy, an immutable snapshot (`Arc`)
//! a read takes and lets go of the lock at once, so reads run in parallel and
//! never wait for a command. Publishing never works under that lock: the next
//! snapshot (the one replaced last time, once no read holds it, brought up to
//! date by applying the events it lacks; else a clone of the writer) is made
//! first and then swapped in, and old snapshots are freed on the writer's
//! side, never by the read that lets go of one last (see `Snapshots`). If
//! the commit fails, both copies are rebuilt from the store, so memory never
//! runs ahead of the database.
//!
//! The slow part of a referral, a batch of referrals, an applied
//! recommendation or a provider failure's re-brokering (candidate search and
//! fit checks) runs before the command takes the writer, on the readers'
//! snapshot ([`BrokerService::execute_prepared`]; a failure's release is
//! applied to a copy of it first); at commit the writer re-checks the teams
//! whose rota changed in between (from the events committed since, kept in a
//! short log), so two referrals racing for a team's last room cannot both be
//! placed there.
//!
//! Several processes may share one PostgreSQL database: the one holding the
//! store's writer lease runs commands; the others are reader replicas that
//! answer commands with 503 `read_replica` and follow the audit log
//! ([`BrokerService::follow`]), taking the lease when the writer's process ends.

use carefill_solver::broker::store::{Actor, Baseline, BrokerStore, Loaded, StoreError, rebuild};
use carefill_solver::broker::{Broker, BrokerError, BrokerEvent, Prepared};
use carefill_solver::format::{Package, ServiceUser};
use chrono::{DateTime, Duration, Utc};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// Commits kept for re-validating prepared searches (a search older than
/// this many commits is done again in the writer).
const RECENT_COMMITS: usize = 256;

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
    /// This process is a reader replica: another holds the writer lease.
    #[error(
        "this replica serves reads only; another carefill process holds the broker's writer lease"
    )]
    ReadReplica,
}

/// The broker service.
pub struct BrokerService {
    /// The copy commands change, held for a whole command.
    writer: Mutex<Broker>,
    /// The copy reads see: the writer's state as of the last committed command.
    reader: Snapshots,
    /// The last commits' events, with the writer's `events_applied` after
    /// each, for re-validating searches made on an older snapshot.
    recent: Mutex<std::collections::VecDeque<(u64, Arc<Vec<BrokerEvent>>)>>,
    /// Taken for a commit (while holding the writer), for counts, and by the job store.
    /// Also taken by the webhook sender, which never holds a broker copy.
    store: crate::webhooks::SharedStore,
    /// Whether this process holds the writer lease (see [`BrokerService::follow`]).
    is_writer: AtomicBool,
    /// The last audit-log sequence number a reader replica has applied.
    followed_seq: AtomicI64,
    clock: Arc<dyn Clock>,
    /// Referrals of a generated demo county, for `GET /v1/demo/referrals`.
    demo_referrals: std::sync::OnceLock<Vec<(Package, ServiceUser)>>,
    /// Committed changes for `GET /v1/events` subscribers.
    live: tokio::sync::broadcast::Sender<crate::live::LiveBatch>,
    /// Webhook subscriptions, their delivery log and sender (sending on the writer only).
    webhooks: Arc<crate::webhooks::Webhooks>,
    /// Where a command's own parallel work (a provider failure's or a batch's
    /// fit checks) runs: one thread fewer than the cores, so reads and
    /// recommendations always find a core free, however long the command.
    commands: rayon::ThreadPool,
    /// Where a bulk search on the snapshot (a batch's fit checks) runs, one
    /// thread fewer than the cores: single referrals' and recommendations'
    /// searches, on the shared pool, do not queue behind it.
    bulk_searches: rayon::ThreadPool,
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
        let (broker, last_seq) = match store.load().map_err(|e| e.to_string())? {
            Some(loaded) => (Self::replay(&mut *store, &loaded)?, loaded.last_seq),
            None => {
                let b = baseline()?;
                match store.init(&b) {
                    Ok(()) => (
                        Broker::new(b.config, b.roster, b.rotas).map_err(|e| e.to_string())?,
                        0,
                    ),
                    // Another replica initialised the same database first: follow it.
                    Err(e) => match store.load().map_err(|e| e.to_string())? {
                        Some(loaded) => (Self::replay(&mut *store, &loaded)?, loaded.last_seq),
                        None => return Err(e.to_string()),
                    },
                }
            }
        };
        let is_writer = store.try_writer_lease().map_err(|e| e.to_string())?;
        let store = Arc::new(Mutex::new(store));
        let clock: Arc<dyn Clock> = Arc::from(clock);
        let c = clock.clone();
        let webhooks = crate::webhooks::Webhooks::open(store.clone(), Arc::new(move || c.now()))
            .map_err(|e| format!("webhooks: {e}"))?;
        webhooks.set_sending(is_writer);
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let commands = rayon::ThreadPoolBuilder::new()
            .num_threads(cores.saturating_sub(1).max(1))
            .thread_name(|i| format!("carefill-command-{i}"))
            .build()
            .map_err(|e| format!("command threads: {e}"))?;
        let bulk_searches = rayon::ThreadPoolBuilder::new()
            .num_threads(cores.saturating_sub(1).max(1))
            .thread_name(|i| format!("carefill-bulk-search-{i}"))
            .build()
            .map_err(|e| format!("search threads: {e}"))?;
        Ok(BrokerService {
            reader: Snapshots::new(&broker),
            recent: Mutex::new(std::collections::VecDeque::new()),
            writer: Mutex::new(broker),
            store,
            is_writer: AtomicBool::new(is_writer),
            followed_seq: AtomicI64::new(last_seq),
            clock,
            demo_referrals: std::sync::OnceLock::new(),
            live: crate::live::channel(),
            webhooks: Arc::new(webhooks),
            commands,
            bulk_searches,
        })
    }

    /// Rebuilds the broker from a loaded store, checking the query tables
    /// against the replayed audit log (a command is all in the database or not at all).
    fn replay(store: &mut dyn BrokerStore, loaded: &Loaded) -> Result<Broker, String> {
        let b = rebuild(loaded).map_err(|e| e.to_string())?;
        let (packages, offers, entries) = store.table_counts().map_err(|e| e.to_string())?;
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
        Ok(b)
    }

    /// Whether this process holds the writer lease and so runs commands.
    pub fn is_writer(&self) -> bool {
        self.is_writer.load(Ordering::SeqCst)
    }

    /// For a reader replica: applies the events the writer committed since the
    /// last call, then tries to take the writer lease (free when the writer's
    /// process has ended). Returns whether this process is now the writer.
    /// Call it every second or so; a writer returns at once.
    pub fn follow(&self) -> Result<bool, ServiceError> {
        if self.is_writer() {
            return Ok(true);
        }
        let mut broker = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        // Take the lease first: once held, nobody else commits, so one catch-up suffices.
        let now_writer = store.try_writer_lease()?;
        let new = store.events_after(self.followed_seq.load(Ordering::SeqCst))?;
        if let Some((seq, _)) = new.last() {
            self.followed_seq.store(*seq, Ordering::SeqCst);
            let events: Arc<Vec<BrokerEvent>> = Arc::new(new.into_iter().map(|(_, e)| e).collect());
            for e in events.iter() {
                broker.apply(e);
            }
            self.reader.publish(&events, &broker);
            if self.live.receiver_count() > 0 {
                let live = crate::live::summarise(&broker, &events, self.clock.now());
                let _ = self.live.send(std::sync::Arc::new(live));
            }
        }
        if now_writer {
            // The old writer's sender kept the delivery log in the store.
            drop(store);
            if let Err(e) = self.webhooks.reload() {
                tracing::warn!(target: "carefill", error = %e, "webhook log not reloaded");
            }
            self.webhooks.set_sending(true);
            self.is_writer.store(true, Ordering::SeqCst);
            tracing::info!(target: "carefill", "this replica took the broker's writer lease");
        }
        Ok(now_writer)
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
        F: FnOnce(&mut Broker, DateTime<Utc>) -> Result<Vec<BrokerEvent>, BrokerError> + Send,
    {
        if !self.is_writer() {
            return Err(ServiceError::ReadReplica);
        }
        let mut broker = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let now = self.clock.now();
        // Visits that started before now are frozen in every fit check and re-plan.
        broker.set_now(now);
        let alerts_before = broker.alerts.len();
        let decided = {
            let b = &mut *broker;
            self.commands.install(move || f(b, now))
        };
        let events = match decided {
            Ok(events) => events,
            Err(e) => {
                // A refused command may have applied some events before refusing:
                // the writer returns to the readers' (committed) state.
                let reader = self.snapshot();
                if broker.events_applied != reader.events_applied {
                    *broker = (*reader).clone();
                }
                return Err(e.into());
            }
        };
        if events.is_empty() {
            return Ok(events);
        }
        // The database is taken for the commit only (the job store and the
        // webhook sender share it); the writer lock keeps commands in order.
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = store.commit(&Actor { who, command }, now, &events, &broker) {
            // Memory must not run ahead of the database: rebuild from what is stored.
            if let Ok(Some(loaded)) = store.load()
                && let Ok(b) = rebuild(&loaded)
            {
                self.reader.replace(b.clone());
                *broker = b;
            } else {
                *broker = (*self.snapshot()).clone();
            }
            self.lock_recent().clear();
            return Err(e.into());
        }
        let committed = Arc::new(events.clone());
        self.reader.publish(&committed, &broker);
        {
            let mut recent = self.lock_recent();
            recent.push_back((broker.events_applied, committed));
            while recent.len() > RECENT_COMMITS {
                recent.pop_front();
            }
        }
        let push = self.webhooks.active();
        if self.live.receiver_count() > 0 || push {
            let mut live = crate::live::summarise(&broker, &events, now);
            let raised = broker.alerts.get(alerts_before..).unwrap_or_default();
            live.extend(crate::live::alerts_raised(&broker, raised));
            if push {
                self.webhooks.enqueue(&mut **store, &live);
            }
            let _ = self.live.send(Arc::new(live));
        }
        Ok(events)
    }

    /// A receiver of every committed command's live events (see [`crate::events`]).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<crate::live::LiveBatch> {
        self.live.subscribe()
    }

    /// Webhook subscriptions and their delivery log.
    pub fn webhooks(&self) -> &Arc<crate::webhooks::Webhooks> {
        &self.webhooks
    }

    /// Reads the broker state as of the last committed command (a snapshot:
    /// no lock is held while `f` runs).
    pub fn read<T>(&self, f: impl FnOnce(&Broker, DateTime<Utc>) -> T) -> T {
        let broker = self.snapshot();
        f(&broker, self.clock.now())
    }

    /// The readers' current snapshot.
    fn snapshot(&self) -> Arc<Broker> {
        self.reader.current()
    }

    fn lock_recent(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::VecDeque<(u64, Arc<Vec<BrokerEvent>>)>> {
        self.recent.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The events the writer applied after `seen`, from the recent-commit log;
    /// `None` when the log no longer reaches back that far.
    fn events_since(&self, seen: u64, now_applied: u64) -> Option<Vec<BrokerEvent>> {
        if seen == now_applied {
            return Some(Vec::new());
        }
        let recent = self.lock_recent();
        let mut out = Vec::new();
        let mut at = seen;
        for (after, events) in recent.iter() {
            if *after <= seen {
                continue;
            }
            // Commits must follow each other without a gap from `seen` on.
            if *after - events.len() as u64 != at {
                return None;
            }
            out.extend(events.iter().cloned());
            at = *after;
        }
        (at == now_applied).then_some(out)
    }

    /// Runs a command whose slow part, a candidate search, is done first by
    /// `search` on the readers' snapshot without holding the writer (so other
    /// commands and the second core go on meanwhile). `f` then runs as in
    /// [`Self::execute`] with the search and the events committed since, and
    /// re-validates it against the writer's state ([`Broker::revalidate`]).
    pub fn execute_prepared<P, S, F>(
        &self,
        who: &str,
        command: &str,
        search: S,
        f: F,
    ) -> Result<Vec<BrokerEvent>, ServiceError>
    where
        P: Prepared + Send,
        S: FnOnce(&Broker, DateTime<Utc>) -> Option<P> + Send,
        F: FnOnce(&mut Broker, DateTime<Utc>, Option<P>) -> Result<Vec<BrokerEvent>, BrokerError>
            + Send,
    {
        self.execute_searched(who, command, false, search, f)
    }

    /// [`Self::execute_prepared`] for a bulk search (a batch's): it runs on
    /// its own threads, one fewer than the cores, so other commands' searches
    /// and reads find a core and do not queue behind it.
    pub fn execute_prepared_bulk<P, S, F>(
        &self,
        who: &str,
        command: &str,
        search: S,
        f: F,
    ) -> Result<Vec<BrokerEvent>, ServiceError>
    where
        P: Prepared + Send,
        S: FnOnce(&Broker, DateTime<Utc>) -> Option<P> + Send,
        F: FnOnce(&mut Broker, DateTime<Utc>, Option<P>) -> Result<Vec<BrokerEvent>, BrokerError>
            + Send,
    {
        self.execute_searched(who, command, true, search, f)
    }

    fn execute_searched<P, S, F>(
        &self,
        who: &str,
        command: &str,
        bulk: bool,
        search: S,
        f: F,
    ) -> Result<Vec<BrokerEvent>, ServiceError>
    where
        P: Prepared + Send,
        S: FnOnce(&Broker, DateTime<Utc>) -> Option<P> + Send,
        F: FnOnce(&mut Broker, DateTime<Utc>, Option<P>) -> Result<Vec<BrokerEvent>, BrokerError>
            + Send,
    {
        if !self.is_writer() {
            return Err(ServiceError::ReadReplica);
        }
        let (snapshot, now) = (self.snapshot(), self.clock.now());
        let prepared = if bulk {
            self.bulk_searches.install(|| search(&snapshot, now))
        } else {
            search(&snapshot, now)
        };
        drop(snapshot);
        self.execute(who, command, |b, now| {
            let prepared = prepared.map(|mut p| {
                p.set_since(self.events_since(p.seen(), b.events_applied));
                p
            });
            f(b, now, prepared)
        })
    }

    /// The database, shared (e.g. with the solve-job store, which keeps its
    /// own table there). Never held across a broker command's decision.
    pub fn shared_store(&self) -> crate::webhooks::SharedStore {
        self.store.clone()
    }

    /// Audit-log length and query-table row counts, straight from the database.
    pub fn store_counts(&self) -> Result<(i64, (i64, i64, i64)), StoreError> {
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        let n = store.audit_len()?;
        Ok((n, store.table_counts()?))
    }
}

/// The readers' snapshot, double-buffered so a publication does no work under
/// the lock reads take (applying a provider failure's events in place there
/// stalled every read for a tenth of a second).
struct Snapshots {
    /// The snapshot reads take (held for a pointer copy only).
    current: RwLock<Arc<Broker>>,
    /// Touched only while publishing, which the writer's lock serialises.
    spare: Mutex<Spare>,
}

#[derive(Default)]
struct Spare {
    /// The snapshot the last publication replaced, and the events it lacks.
    previous: Option<(Arc<Broker>, Arc<Vec<BrokerEvent>>)>,
    /// Replaced snapshots a read still held; freed here once it let go.
    retired: Vec<Arc<Broker>>,
}

impl Snapshots {
    fn new(broker: &Broker) -> Self {
        Snapshots {
            current: RwLock::new(Arc::new(broker.clone())),
            spare: Mutex::new(Spare {
                previous: Some((Arc::new(broker.clone()), Arc::new(Vec::new()))),
                retired: Vec::new(),
            }),
        }
    }

    fn current(&self) -> Arc<Broker> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn lock_spare(&self) -> std::sync::MutexGuard<'_, Spare> {
        self.spare.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Brings the readers to the writer's state after `events`.
    fn publish(&self, events: &Arc<Vec<BrokerEvent>>, writer: &Broker) {
        let mut spare = self.lock_spare();
        // A snapshot only the spare holds is freed here, on the writer's side.
        spare.retired.retain(|s| Arc::strong_count(s) > 1);
        let reusable = match spare.previous.take() {
            Some((mut old, lacking)) => match Arc::get_mut(&mut old) {
                Some(b) => {
                    for e in lacking.iter().chain(events.iter()) {
                        b.apply(e);
                    }
                    (b.events_applied == writer.events_applied).then_some(old)
                }
                None => {
                    spare.retired.push(old);
                    None
                }
            },
            None => None,
        };
        let next = reusable.unwrap_or_else(|| Arc::new(writer.clone()));
        let old = std::mem::replace(
            &mut *self.current.write().unwrap_or_else(|e| e.into_inner()),
            next,
        );
        spare.previous = Some((old, events.clone()));
    }

    /// Replaces the readers' state outright (after a failed commit).
    fn replace(&self, broker: Broker) {
        let mut spare = self.lock_spare();
        spare.previous = None;
        let old = std::mem::replace(
            &mut *self.current.write().unwrap_or_else(|e| e.into_inner()),
            Arc::new(broker),
        );
        spare.retired.push(old);
    }
}

/// Runs the broker's background work for the life of the process. A reader
/// replica follows the writer every second until it takes the writer lease;
/// the writer ticks every `tick` (offer expiry, escalation retries, damages).
pub async fn drive(svc: std::sync::Arc<BrokerService>, tick: std::time::Duration) {
    let mut follow = tokio::time::interval(std::time::Duration::from_secs(1));
    while !svc.is_writer() {
        follow.tick().await;
        let s = svc.clone();
        match tokio::task::spawn_blocking(move || s.follow()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(target: "carefill", error = %e, "following the writer failed")
            }
            Err(e) => tracing::warn!(target: "carefill", error = %e, "following the writer failed"),
        }
    }
    let mut every = tokio::time::interval(tick);
    loop {
        every.tick().await;
        let s = svc.clone();
        let done = tokio::task::spawn_blocking(move || {
            s.execute("system", "tick", |b, now| Ok(b.tick(now)))
        })
        .await;
        if let Ok(Err(e)) = done {
            tracing::warn!(target: "carefill", error = %e, "broker tick failed");
        }
    }
}
