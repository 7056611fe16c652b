//! The service's shared state ([`AppState`]) and how to build it.
//!
//! `AppState` is a cheap clone (an `Arc`) that derefs to [`AppInner`], so a
//! handler writes `ctx.state.metrics.broker_unfilled.set(n)` or
//! `ctx.state.jobs.get(..)`. To add a service (e.g. the broker): add a field to
//! `AppInner`, a setter to [`AppStateBuilder`], and set it in `main.rs` and in
//! the tests' state helper.

use crate::auth::KeyStore;
use crate::config::ServiceConfig;
use crate::jobs::JobStore;
use crate::metrics::Metrics;
use carefill_solver::format::PlanningRequest;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tokio::sync::Semaphore;

/// Everything handlers share. Reach it through [`AppState`].
#[derive(Debug)]
pub struct AppInner {
    /// Limits.
    pub config: ServiceConfig,
    /// Accepted API keys (hashes only).
    pub keys: KeyStore,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Solver slots shared by sync solves and jobs.
    pub solve_slots: Arc<Semaphore>,
    /// Async solve jobs.
    pub jobs: Arc<JobStore>,
    /// The demo team's request (`serve --demo`).
    pub demo: Option<Arc<PlanningRequest>>,
    /// The broker (packages, offers, ledger); `None` when started without one.
    pub broker: Option<Arc<crate::broker_service::BrokerService>>,
    /// Set once shutdown starts; sync solves use it as their cancel flag.
    pub shutdown: Arc<AtomicBool>,
    /// When the state was built.
    pub started: Instant,
    /// Signs carers' read-only week links.
    pub link_key: crate::console::LinkKey,
    /// Brokerage simulation jobs.
    pub simulations: Arc<crate::simulations::SimulationStore>,
}

/// Shared service state: an `Arc` around [`AppInner`].
#[derive(Debug, Clone)]
pub struct AppState(Arc<AppInner>);

impl Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

impl AppState {
    /// Starts building a state that accepts `keys`.
    pub fn builder(keys: KeyStore) -> AppStateBuilder {
        AppStateBuilder {
            config: ServiceConfig::default(),
            keys,
            demo: None,
            broker: None,
            link_secret: None,
        }
    }

    /// Whether shutdown has started.
    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }

    /// Starts shutdown: refuses new solves, cancels sync solves and every job
    /// (each keeps the best rota found so far as its result).
    pub fn begin_shutdown(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
        self.jobs.cancel_all();
        self.simulations.cancel_all(chrono::Utc::now());
    }
}

/// Builds an [`AppState`].
#[derive(Debug)]
pub struct AppStateBuilder {
    config: ServiceConfig,
    keys: KeyStore,
    demo: Option<PlanningRequest>,
    broker: Option<Arc<crate::broker_service::BrokerService>>,
    link_secret: Option<String>,
}

impl AppStateBuilder {
    /// The secret carers' week links are signed with; without one a random
    /// secret is drawn, and links stop working when the service restarts.
    pub fn link_secret(mut self, secret: Option<String>) -> Self {
        self.link_secret = secret;
        self
    }

    /// Serves the brokering routes from this broker.
    pub fn broker(mut self, broker: Option<Arc<crate::broker_service::BrokerService>>) -> Self {
        self.broker = broker;
        self
    }

    /// Sets the limits.
    pub fn config(mut self, config: ServiceConfig) -> Self {
        self.config = config;
        self
    }

    /// Serves this request at `GET /v1/demo/request`.
    pub fn demo(mut self, demo: Option<PlanningRequest>) -> Self {
        self.demo = demo;
        self
    }

    /// The state; fails if the metrics cannot be registered (a bug) or the
    /// operating system gives no randomness for the link secret.
    pub fn build(self) -> Result<AppState, String> {
        let link_key = crate::console::LinkKey::new(self.link_secret.as_deref())?;
        let metrics = Metrics::new().map_err(|e| format!("cannot register metrics: {e}"))?;
        if let Some(b) = &self.broker {
            // Pending webhook deliveries (from before a restart too) go out from now.
            b.webhooks()
                .configure(self.config.webhooks.clone())
                .map_err(|e| format!("webhooks: {e}"))?;
            b.webhooks().start();
        }
        let config = ServiceConfig {
            solve_slots: self.config.solve_slots.max(1),
            max_stored_jobs: self.config.max_stored_jobs.max(1),
            ..self.config
        };
        // With a broker database, jobs are kept there too (see `jobs`).
        // The PostgreSQL client is synchronous and may not run on an async
        // worker (the service builds its state inside the runtime): open the
        // job store on a thread of its own.
        let jobs = match &self.broker {
            Some(b) => {
                let store = b.shared_store();
                std::thread::scope(|scope| {
                    scope
                        .spawn(|| JobStore::persistent(&config, metrics.clone(), store))
                        .join()
                        .map_err(|_| "job store: opening it panicked".to_string())
                })??
            }
            None => JobStore::new(&config, metrics.clone()),
        };
        Ok(AppState(Arc::new(AppInner {
            solve_slots: Arc::new(Semaphore::new(config.solve_slots)),
            jobs: Arc::new(jobs),
            config,
            keys: self.keys,
            metrics,
            demo: self.demo.map(Arc::new),
            broker: self.broker,
            shutdown: Arc::new(AtomicBool::new(false)),
            started: Instant::now(),
            link_key,
            simulations: Arc::default(),
        })))
    }
}
