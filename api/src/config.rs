//! The service's limits: [`ServiceConfig`] and the fixed maxima.

use std::time::Duration;

/// Largest request body accepted, bytes.
pub const MAX_BODY_BYTES: u64 = 16 * 1024 * 1024;
/// Longest synchronous solve, seconds.
pub const MAX_SYNC_TIME_LIMIT_S: f64 = 60.0;
/// Longest solve job, seconds.
pub const MAX_JOB_TIME_LIMIT_S: f64 = 600.0;

/// Limits of the service.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Solves (sync and jobs) running at once; the rest wait (jobs) or get 503 (sync).
    pub solve_slots: usize,
    /// Jobs that may wait for a slot; one more gets 503 + Retry-After.
    pub max_queued_jobs: usize,
    /// Jobs kept in memory (waiting, running and finished); the oldest finished go first.
    pub max_stored_jobs: usize,
    /// Finished jobs older than this are dropped.
    pub finished_job_ttl: Duration,
    /// On shutdown, how long to wait for in-flight requests.
    pub drain_timeout: Duration,
    /// Map tiles for the console (`https://host/{z}/{x}/{y}.png`), checked by
    /// [`crate::console::tile_origin`]; `None` draws the map without tiles.
    pub tile_url: Option<String>,
    /// Webhook receivers: plain `http://` to any host (otherwise loopback
    /// only), and a PEM file of extra CA certificates to trust.
    pub webhooks: crate::webhooks::WebhookTransport,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            solve_slots: 1,
            max_queued_jobs: 16,
            max_stored_jobs: 256,
            finished_job_ttl: Duration::from_secs(3600),
            drain_timeout: Duration::from_secs(10),
            tile_url: None,
            webhooks: Default::default(),
        }
    }
}
