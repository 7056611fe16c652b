//! Prometheus metrics, served as text at `GET /metrics`.
//!
//! One [`Metrics`] value lives in [`crate::AppState`]; its fields are typed
//! handles, so code that feeds a metric does not repeat its name:
//!
//! ```ignore
//! state.metrics.broker_unfilled.set(unfilled as i64);   // carefill_unfilled_packages
//! state.metrics.fill_time_minutes.observe(minutes);     // carefill_fill_time_minutes
//! ```
//!
//! Labels are bounded: HTTP metrics are labelled by route *template* (never the
//! concrete path, so job ids do not create series) and unmatched paths share
//! the label `unmatched`. No metric carries personal data.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// Route label of requests that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Every metric the service exports.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// `carefill_http_requests_total{method, route, status}`.
    pub http_requests: IntCounterVec,
    /// `carefill_http_request_duration_seconds{method, route, status}`.
    pub http_duration: HistogramVec,
    /// `carefill_solve_duration_seconds{kind, outcome}`: `kind` is `sync` or `job`,
    /// `outcome` is `completed`, `cancelled` or `failed`.
    pub solve_duration: HistogramVec,
    /// `carefill_solve_queue_depth`: jobs waiting for a solve slot.
    pub solve_queue_depth: IntGauge,
    /// `carefill_solves_running`: solves (sync and jobs) running now.
    pub solves_running: IntGauge,
    /// `carefill_jobs_stored`: jobs held in the in-memory job store.
    pub jobs_stored: IntGauge,
    /// `carefill_unfilled_packages`: packages the broker has not filled yet (fed by the broker).
    pub broker_unfilled: IntGauge,
    /// `carefill_fill_time_minutes`: referral to accepted placement, minutes (fed by the broker).
    pub fill_time_minutes: Histogram,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

const HTTP_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];
const SOLVE_BUCKETS: &[f64] = &[
    0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];
const FILL_BUCKETS: &[f64] = &[
    15.0, 30.0, 60.0, 120.0, 240.0, 480.0, 1440.0, 2880.0, 4320.0, 10080.0,
];

impl Metrics {
    /// Registers every metric in a fresh registry.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new(
                "carefill_http_requests_total",
                "HTTP requests answered, by method, route template and status.",
            ),
            &["method", "route", "status"],
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "carefill_http_request_duration_seconds",
                "Time from request to response head, by method, route template and status.",
            )
            .buckets(HTTP_BUCKETS.to_vec()),
            &["method", "route", "status"],
        )?;
        let solve_duration = HistogramVec::new(
            HistogramOpts::new(
                "carefill_solve_duration_seconds",
                "Wall time of rota solves, by kind (sync|job) and outcome.",
            )
            .buckets(SOLVE_BUCKETS.to_vec()),
            &["kind", "outcome"],
        )?;
        let solve_queue_depth = IntGauge::new(
            "carefill_solve_queue_depth",
            "Solve jobs waiting for a solver slot.",
        )?;
        let solves_running = IntGauge::new(
            "carefill_solves_running",
            "Solves running now (sync and jobs).",
        )?;
        let jobs_stored = IntGauge::new(
            "carefill_jobs_stored",
            "Solve jobs held in the in-memory job store.",
        )?;
        let broker_unfilled = IntGauge::new(
            "carefill_unfilled_packages",
            "Care packages the broker has not filled yet.",
        )?;
        let fill_time_minutes = Histogram::with_opts(
            HistogramOpts::new(
                "carefill_fill_time_minutes",
                "Minutes from referral to an accepted placement of a package.",
            )
            .buckets(FILL_BUCKETS.to_vec()),
        )?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(solve_duration.clone()))?;
        registry.register(Box::new(solve_queue_depth.clone()))?;
        registry.register(Box::new(solves_running.clone()))?;
        registry.register(Box::new(jobs_stored.clone()))?;
        registry.register(Box::new(broker_unfilled.clone()))?;
        registry.register(Box::new(fill_time_minutes.clone()))?;
        Ok(Self {
            registry,
            http_requests,
            http_duration,
            solve_duration,
            solve_queue_depth,
            solves_running,
            jobs_stored,
            broker_unfilled,
            fill_time_minutes,
        })
    }

    /// The registry, for registering more metrics (e.g. the broker's own).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Records one answered request.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let status = status.to_string();
        let labels = [method, route, status.as_str()];
        self.http_requests.with_label_values(&labels).inc();
        self.http_duration
            .with_label_values(&labels)
            .observe(seconds);
    }

    /// The text exposition format (version 0.0.4).
    pub fn render(&self) -> Result<String, String> {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .map_err(|e| e.to_string())?;
        String::from_utf8(buf).map_err(|e| e.to_string())
    }
}
