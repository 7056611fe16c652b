//! Signed webhooks: the live events ([`crate::live`]) pushed to subscribers'
//! URLs, so providers and the brokerage need not poll.
//!
//! A subscription is for the brokerage (every event) or for one provider
//! (only events whose provider is that provider: its own offers, packages,
//! visits and their alerts). Payloads carry ids only, like the live stream:
//! a provider fetches what it may see through the ordinary scoped routes.
//!
//! Each delivery is a POST of `{"id", "kind", "created_at", "data"}` signed as
//! `Carefill-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
//! (docs/webhooks.md shows how to verify it). A delivery is written to the
//! store's side records in the same lock as the command's commit, before any
//! network I/O, then sent by one background task: a 2xx answer delivers it;
//! a 5xx, 408, 429, timeout or connection error is retried with exponential
//! backoff ([`RETRY_DELAYS_S`]) up to [`MAX_ATTEMPTS`]; any other answer fails
//! it at once. The log (status, attempts, last error) survives a restart and
//! pending deliveries resume; what a crash can repeat is the one attempt in
//! flight (receivers dedupe by delivery id).
//!
//! Delivery never blocks a broker command: the command only records the
//! delivery and nudges the sender through a channel of one slot.
//!
//! Receivers are reached over HTTPS (rustls with Mozilla's root certificates
//! compiled in, plus the CA file of [`WebhookTransport::extra_ca_file`] for
//! private receivers). Plain `http://` is accepted only to a loopback host
//! unless [`WebhookTransport::allow_plain_http`] is on.

use crate::live::LiveEvent;
use bytes::Bytes;
use carefill_solver::broker::store::{BrokerStore, StoreError};
use carefill_solver::format::{Issue, IssueCode};
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::mpsc;

/// Event kinds a subscription may ask for (the live stream's names).
pub const KINDS: &[&str] = &[
    "offer_made",
    "offer_expiring",
    "offer_accepted",
    "offer_declined",
    "package_filled",
    "escalated",
    "alert_raised",
    "visit_checked_in",
    "visit_checked_out",
];
/// Delay before attempt n+1 after n failed attempts, seconds.
pub const RETRY_DELAYS_S: [i64; 7] = [30, 120, 600, 1800, 7200, 21_600, 43_200];
/// Attempts before a delivery is given up (the first plus every retry).
pub const MAX_ATTEMPTS: u32 = RETRY_DELAYS_S.len() as u32 + 1;
/// One attempt's time limit, seconds.
pub const ATTEMPT_TIMEOUT_S: u64 = 10;
/// Pending deliveries per subscription beyond which new ones are dropped
/// (and counted on the subscription): a receiver down for days must not
/// exhaust memory.
pub const MAX_PENDING: usize = 10_000;
/// Finished deliveries kept per subscription in the log (oldest go first).
pub const LOG_KEPT: usize = 500;
/// How often the sender looks for retries that have come due, milliseconds.
const POLL_MS: u64 = 200;
/// Deliveries sent at once.
const CONCURRENT: usize = 8;

const SUB_KIND: &str = "webhook_subscription";
const DELIVERY_KIND: &str = "webhook_delivery";

/// A webhook subscription (the secret is never shown again after creation).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Subscription {
    /// Id, e.g. `wh-000001`.
    pub id: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// Signing secret.
    pub secret: String,
    /// Kinds delivered.
    pub kinds: Vec<String>,
    /// Provider whose events it receives; `None` = the brokerage (every event).
    pub provider: Option<String>,
    /// What it is for.
    pub description: Option<String>,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// Key id that created it.
    pub created_by: String,
    /// Deliveries dropped because too many were pending.
    #[serde(default)]
    pub dropped: u64,
}

/// What a subscription asks for (`POST /v1/webhooks`).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = NewWebhook)]
#[serde(deny_unknown_fields)]
pub struct NewSubscription {
    /// `https://` URL of the receiver (`http://` only to a loopback host,
    /// unless the service allows plain HTTP).
    pub url: String,
    /// Shared secret for the signature, 16-256 characters.
    pub secret: String,
    /// Kinds to deliver: offer_made, offer_expiring, offer_accepted,
    /// offer_declined, package_filled, escalated, alert_raised,
    /// visit_checked_in, visit_checked_out.
    pub kinds: Vec<String>,
    /// Receive only this provider's events (omit for the brokerage).
    #[serde(default)]
    pub provider: Option<String>,
    /// What it is for.
    #[serde(default)]
    pub description: Option<String>,
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not delivered yet; `next_attempt_at` says when it is tried.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Given up (attempts exhausted, or a 4xx other than 408/429).
    Failed,
}

/// One delivery of one event to one subscription, and how it went.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[schema(as = WebhookDelivery)]
pub struct Delivery {
    /// Id, e.g. `dlv-00000042` (also in the body and `Carefill-Delivery`).
    pub id: String,
    /// Subscription.
    pub subscription: String,
    /// Event kind.
    pub kind: String,
    /// When the event was recorded for delivery.
    pub created_at: DateTime<Utc>,
    /// Status.
    pub status: DeliveryStatus,
    /// Attempts so far.
    pub attempts: u32,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When last tried.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// HTTP status of the last answer, if there was one.
    pub last_status: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When delivered.
    pub delivered_at: Option<DateTime<Utc>>,
    /// The JSON body sent (the same bytes every attempt).
    pub body: String,
}

/// A webhook failure the API maps to an HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The subscription is invalid; every issue names its field.
    #[error("invalid webhook subscription")]
    Invalid(Vec<Issue>),
    /// No such subscription.
    #[error("unknown webhook `{0}`")]
    Unknown(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Default)]
struct Inner {
    subs: BTreeMap<String, Subscription>,
    deliveries: BTreeMap<String, Delivery>,
    in_flight: BTreeSet<String>,
    next_sub: u64,
    next_delivery: u64,
}

/// The store the broker commits to, shared with the webhook sender.
pub type SharedStore = Arc<Mutex<Box<dyn BrokerStore>>>;
/// The service's clock (the broker's "now", manual in tests).
pub type Now = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Subscriptions, the delivery log and the sender.
pub struct Webhooks {
    inner: Mutex<Inner>,
    store: SharedStore,
    now: Now,
    wake: OnceLock<mpsc::Sender<()>>,
    sending: AtomicBool,
    transport: Mutex<WebhookTransport>,
}

/// How deliveries reach receivers (the service's settings).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebhookTransport {
    /// Accept `http://` URLs to any host; otherwise only to loopback hosts
    /// (`localhost`, 127.0.0.0/8, `::1`), everything else must be `https://`.
    pub allow_plain_http: bool,
    /// PEM file of CA certificates trusted besides the built-in roots, for
    /// receivers on a private network with their own CA.
    pub extra_ca_file: Option<PathBuf>,
}

/// The certificates of a PEM file (at least one).
fn load_ca(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect())
        .map_err(|e| format!("cannot read CA certificates from {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("no PEM certificate in {}", path.display()));
    }
    Ok(certs)
}

/// The HTTP(S) client for a transport: TLS 1.2/1.3 through rustls (ring),
/// trusting Mozilla's roots and the extra CA file. ring's provider is
/// deprecated only for lacking post-quantum key exchange; aws-lc-rs has it
/// but needs a C/CMake build of its own, so ring stays for now.
#[allow(deprecated)]
fn client_for(t: &WebhookTransport) -> Result<HttpClient, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &t.extra_ca_file {
        for cert in load_ca(path)? {
            roots
                .add(cert)
                .map_err(|e| format!("CA certificate in {}: {e}", path.display()))?;
        }
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// Whether a URL host is the machine itself.
fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Why a receiver URL's scheme is refused, if it is.
fn scheme_refusal(uri: &warp::http::Uri, allow_plain_http: bool) -> Option<&'static str> {
    match uri.scheme_str() {
        Some("https") => None,
        Some("http") if allow_plain_http || uri.host().is_some_and(is_loopback) => None,
        Some("http") => Some(
            "plain http:// is accepted only to a loopback host (the service was not started with --webhook-allow-plain-http): use https://",
        ),
        _ => Some("the URL must start with https://"),
    }
}

fn load(store: &mut dyn BrokerStore) -> Result<Inner, StoreError> {
    let mut inner = Inner::default();
    for (id, body) in store.load_side(SUB_KIND)? {
        let sub: Subscription = serde_json::from_str(&body)?;
        inner.next_sub = inner.next_sub.max(seq_of(&id));
        inner.subs.insert(id, sub);
    }
    for (id, body) in store.load_side(DELIVERY_KIND)? {
        let d: Delivery = serde_json::from_str(&body)?;
        inner.next_delivery = inner.next_delivery.max(seq_of(&id));
        inner.deliveries.insert(id, d);
    }
    Ok(inner)
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Webhooks")
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn seq_of(id: &str) -> u64 {
    id.rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

impl Webhooks {
    /// Loads subscriptions and the delivery log from the store.
    pub fn open(store: SharedStore, now: Now) -> Result<Webhooks, StoreError> {
        let inner = load(&mut **lock(&store))?;
        Ok(Webhooks {
            inner: Mutex::new(inner),
            store,
            now,
            wake: OnceLock::new(),
            sending: AtomicBool::new(true),
            transport: Mutex::new(WebhookTransport::default()),
        })
    }

    /// Sets how receivers are reached; call before [`Webhooks::start`]. A CA
    /// file that cannot be read or holds no certificate is refused.
    pub fn configure(&self, t: WebhookTransport) -> Result<(), String> {
        if let Some(path) = &t.extra_ca_file {
            load_ca(path)?;
        }
        *lock(&self.transport) = t;
        Ok(())
    }

    /// Reads subscriptions and the log again (a reader replica's copy is as
    /// of its start; the writer's sender keeps the store up to date).
    pub fn reload(&self) -> Result<(), StoreError> {
        let fresh = load(&mut **lock(&self.store))?;
        *lock(&self.inner) = fresh;
        Ok(())
    }

    /// Whether this process sends (only the broker's writer does, so a
    /// reader replica never sends a delivery twice).
    pub fn set_sending(&self, on: bool) {
        self.sending.store(on, Ordering::SeqCst);
    }

    /// See [`Webhooks::set_sending`].
    pub fn is_sending(&self) -> bool {
        self.sending.load(Ordering::SeqCst)
    }

    /// Whether any subscription exists (else nothing is summarised for it).
    pub fn active(&self) -> bool {
        !lock(&self.inner).subs.is_empty()
    }

    /// Starts the sender on the current tokio runtime (once); without a
    /// runtime deliveries stay pending in the store until one starts it.
    pub fn start(self: &Arc<Self>) {
        if self.wake.get().is_some() || tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let (tx, rx) = mpsc::channel(1);
        if self.wake.set(tx).is_ok() {
            tokio::spawn(run(self.clone(), rx));
        }
    }

    fn nudge(&self) {
        if let Some(tx) = self.wake.get() {
            // Full means a wake-up is already queued.
            let _ = tx.try_send(());
        }
    }

    /// Records the deliveries of a committed command's events. Called with
    /// the store already locked by the command, before its answer goes out.
    pub fn enqueue(&self, store: &mut dyn BrokerStore, events: &[LiveEvent]) {
        let now = (self.now)();
        // (side-record kind, id, JSON body) to store.
        let mut rows: Vec<(&str, String, String)> = Vec::new();
        {
            let mut inner = lock(&self.inner);
            if inner.subs.is_empty() {
                return;
            }
            let mut pending: BTreeMap<String, usize> = BTreeMap::new();
            for d in inner.deliveries.values() {
                if d.status == DeliveryStatus::Pending {
                    *pending.entry(d.subscription.clone()).or_default() += 1;
                }
            }
            let subs: Vec<Subscription> = inner.subs.values().cloned().collect();
            for e in events {
                for sub in subs.iter().filter(|s| wants(s, e)) {
                    let n = pending.entry(sub.id.clone()).or_default();
                    if *n >= MAX_PENDING {
                        if let Some(s) = inner.subs.get_mut(&sub.id) {
                            s.dropped += 1;
                            if let Ok(body) = serde_json::to_string(s) {
                                rows.push((SUB_KIND, s.id.clone(), body));
                            }
                        }
                        continue;
                    }
                    *n += 1;
                    inner.next_delivery += 1;
                    let id = format!("dlv-{:08}", inner.next_delivery);
                    let body = serde_json::json!({
                        "id": id,
                        "kind": e.kind,
                        "created_at": now,
                        "data": e,
                    })
                    .to_string();
                    let d = Delivery {
                        id: id.clone(),
                        subscription: sub.id.clone(),
                        kind: e.kind.to_string(),
                        created_at: now,
                        status: DeliveryStatus::Pending,
                        attempts: 0,
                        next_attempt_at: Some(now),
                        last_attempt_at: None,
                        last_status: None,
                        last_error: None,
                        delivered_at: None,
                        body,
                    };
                    if let Ok(json) = serde_json::to_string(&d) {
                        rows.push((DELIVERY_KIND, id.clone(), json));
                    }
                    inner.deliveries.insert(id, d);
                }
            }
        }
        if rows.is_empty() {
            return;
        }
        let side: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|(kind, id, body)| (*kind, id.as_str(), body.as_str()))
            .collect();
        if let Err(e) = store.put_side(&side) {
            // Kept in memory and tried; only a restart before delivery loses them.
            tracing::warn!(target: "carefill", error = %e, "webhook deliveries not stored");
        }
        self.nudge();
    }

    /// Registers a subscription after checking it (`known_provider` says
    /// whether a provider id exists).
    pub fn create(
        &self,
        new: NewSubscription,
        by: &str,
        known_provider: impl Fn(&str) -> bool,
    ) -> Result<Subscription, WebhookError> {
        let plain = lock(&self.transport).allow_plain_http;
        let issues = validate(&new, known_provider, plain);
        if !issues.is_empty() {
            return Err(WebhookError::Invalid(issues));
        }
        let mut kinds = new.kinds;
        kinds.sort();
        kinds.dedup();
        let sub = {
            let mut inner = lock(&self.inner);
            inner.next_sub += 1;
            let sub = Subscription {
                id: format!("wh-{:06}", inner.next_sub),
                url: new.url,
                secret: new.secret,
                kinds,
                provider: new.provider,
                description: new.description,
                created_at: (self.now)(),
                created_by: by.to_string(),
                dropped: 0,
            };
            inner.subs.insert(sub.id.clone(), sub.clone());
            sub
        };
        let body = serde_json::to_string(&sub).map_err(StoreError::from)?;
        let stored = lock(&self.store).put_side(&[(SUB_KIND, &sub.id, &body)]);
        if let Err(e) = stored {
            lock(&self.inner).subs.remove(&sub.id);
            return Err(e.into());
        }
        Ok(sub)
    }

    /// Every subscription, by id.
    pub fn list(&self) -> Vec<Subscription> {
        lock(&self.inner).subs.values().cloned().collect()
    }

    /// One subscription.
    pub fn get(&self, id: &str) -> Result<Subscription, WebhookError> {
        lock(&self.inner)
            .subs
            .get(id)
            .cloned()
            .ok_or_else(|| WebhookError::Unknown(id.to_string()))
    }

    /// Removes a subscription and its delivery log (pending deliveries are not sent).
    pub fn delete(&self, id: &str) -> Result<Subscription, WebhookError> {
        let (sub, gone) = {
            let mut inner = lock(&self.inner);
            let sub = inner
                .subs
                .remove(id)
                .ok_or_else(|| WebhookError::Unknown(id.to_string()))?;
            let gone: Vec<String> = (inner.deliveries.values())
                .filter(|d| d.subscription == id)
                .map(|d| d.id.clone())
                .collect();
            for d in &gone {
                inner.deliveries.remove(d);
            }
            (sub, gone)
        };
        let mut store = lock(&self.store);
        store.delete_side(SUB_KIND, &[id])?;
        let ids: Vec<&str> = gone.iter().map(String::as_str).collect();
        store.delete_side(DELIVERY_KIND, &ids)?;
        Ok(sub)
    }

    /// A subscription's deliveries, newest first.
    pub fn deliveries(
        &self,
        id: &str,
        status: Option<DeliveryStatus>,
        limit: usize,
    ) -> Result<Vec<Delivery>, WebhookError> {
        let inner = lock(&self.inner);
        if !inner.subs.contains_key(id) {
            return Err(WebhookError::Unknown(id.to_string()));
        }
        Ok(inner
            .deliveries
            .values()
            .rev()
            .filter(|d| d.subscription == id && status.is_none_or(|s| d.status == s))
            .take(limit)
            .cloned()
            .collect())
    }

    /// Deliveries due now, marked in flight, with their subscription.
    fn take_due(&self, now: DateTime<Utc>) -> Vec<(Delivery, Subscription)> {
        let mut inner = lock(&self.inner);
        let due: Vec<(Delivery, Subscription)> = inner
            .deliveries
            .values()
            .filter(|d| {
                d.status == DeliveryStatus::Pending
                    && d.next_attempt_at.is_none_or(|t| t <= now)
                    && !inner.in_flight.contains(&d.id)
            })
            .filter_map(|d| Some((d.clone(), inner.subs.get(&d.subscription)?.clone())))
            .take(CONCURRENT)
            .collect();
        for (d, _) in &due {
            inner.in_flight.insert(d.id.clone());
        }
        due
    }

    /// Records an attempt's outcome, persists it and trims the log.
    fn finish(&self, id: &str, outcome: Outcome, at: DateTime<Utc>) {
        let mut rows: Vec<String> = Vec::new();
        let mut trimmed: Vec<String> = Vec::new();
        {
            let mut inner = lock(&self.inner);
            inner.in_flight.remove(id);
            let Some(d) = inner.deliveries.get_mut(id) else {
                return;
            };
            d.attempts += 1;
            d.last_attempt_at = Some(at);
            match outcome {
                Outcome::Delivered(status) => {
                    d.status = DeliveryStatus::Delivered;
                    d.last_status = Some(status);
                    d.last_error = None;
                    d.delivered_at = Some(at);
                    d.next_attempt_at = None;
                }
                Outcome::Retry(status, error) => failed_attempt(d, status, error, at, true),
                Outcome::Fail(status, error) => failed_attempt(d, status, error, at, false),
            }
            if let Ok(json) = serde_json::to_string(d) {
                rows.push(json);
            }
            let sub = d.subscription.clone();
            if d.status != DeliveryStatus::Pending {
                let finished: Vec<String> = (inner.deliveries.values())
                    .filter(|x| x.subscription == sub && x.status != DeliveryStatus::Pending)
                    .map(|x| x.id.clone())
                    .collect();
                if finished.len() > LOG_KEPT {
                    trimmed = finished[..finished.len() - LOG_KEPT].to_vec();
                    for t in &trimmed {
                        inner.deliveries.remove(t);
                    }
                }
            }
        }
        let mut store = lock(&self.store);
        let side: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|body| (DELIVERY_KIND, id, body.as_str()))
            .collect();
        let ids: Vec<&str> = trimmed.iter().map(String::as_str).collect();
        if let Err(e) = store
            .put_side(&side)
            .and_then(|()| store.delete_side(DELIVERY_KIND, &ids))
        {
            tracing::warn!(target: "carefill", error = %e, delivery = id, "webhook delivery log not stored");
        }
    }
}

/// How one attempt went.
#[derive(Debug)]
enum Outcome {
    /// 2xx.
    Delivered(u16),
    /// Worth trying again: 5xx, 408, 429, timeout, connection error.
    Retry(Option<u16>, String),
    /// Refused for good: another 4xx (or 3xx).
    Fail(Option<u16>, String),
}

/// A failed attempt: retried after the next backoff delay while attempts
/// remain, otherwise failed.
fn failed_attempt(
    d: &mut Delivery,
    status: Option<u16>,
    error: String,
    at: DateTime<Utc>,
    retry: bool,
) {
    d.last_status = status;
    d.last_error = Some(error);
    let delay = RETRY_DELAYS_S
        .get(d.attempts.saturating_sub(1) as usize)
        .copied();
    match delay {
        Some(s) if retry && d.attempts < MAX_ATTEMPTS => {
            d.next_attempt_at = Some(at + Duration::seconds(s));
        }
        _ => {
            d.status = DeliveryStatus::Failed;
            d.next_attempt_at = None;
        }
    }
}

/// Whether a subscription receives an event.
fn wants(sub: &Subscription, e: &LiveEvent) -> bool {
    sub.kinds.iter().any(|k| k == e.kind)
        && sub
            .provider
            .as_deref()
            .is_none_or(|p| e.provider.as_deref() == Some(p))
}

/// Every problem with a new subscription, each naming its field.
fn validate(
    new: &NewSubscription,
    known_provider: impl Fn(&str) -> bool,
    allow_plain_http: bool,
) -> Vec<Issue> {
    let mut out = Vec::new();
    match warp::http::Uri::try_from(new.url.as_str()) {
        Ok(uri) => {
            if let Some(why) = scheme_refusal(&uri, allow_plain_http) {
                out.push(Issue::new("$.url", IssueCode::OutOfRange, why));
            }
            if uri.host().is_none_or(str::is_empty) {
                out.push(Issue::new(
                    "$.url",
                    IssueCode::OutOfRange,
                    "the URL has no host",
                ));
            }
        }
        Err(e) => out.push(Issue::new(
            "$.url",
            IssueCode::OutOfRange,
            format!("not a URL: {e}"),
        )),
    }
    let len = new.secret.chars().count();
    if !(16..=256).contains(&len) {
        out.push(Issue::new(
            "$.secret",
            IssueCode::OutOfRange,
            format!("must be 16-256 characters, not {len}"),
        ));
    }
    if new.kinds.is_empty() {
        out.push(Issue::new(
            "$.kinds",
            IssueCode::OutOfRange,
            format!("name at least one of: {}", KINDS.join(", ")),
        ));
    }
    for (i, k) in new.kinds.iter().enumerate() {
        if !KINDS.contains(&k.as_str()) {
            out.push(Issue::new(
                format!("$.kinds[{i}]"),
                IssueCode::UnknownReference,
                format!("unknown kind `{k}`; one of: {}", KINDS.join(", ")),
            ));
        }
    }
    if let Some(p) = &new.provider
        && !known_provider(p)
    {
        out.push(Issue::new(
            "$.provider",
            IssueCode::UnknownReference,
            format!("unknown provider `{p}`"),
        ));
    }
    out
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn signature(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={t},v1={hex}")
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The sender: wakes on new deliveries or every [`POLL_MS`], sends what is due.
async fn run(hooks: Arc<Webhooks>, mut wake: mpsc::Receiver<()>) {
    let transport = lock(&hooks.transport).clone();
    let client = match client_for(&transport) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(target: "carefill", error = %e, "webhook sender not started");
            return;
        }
    };
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = wake.recv() => {}
            _ = tokio::time::sleep(std::time::Duration::from_millis(POLL_MS)) => {}
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
        if tasks.len() >= CONCURRENT || !hooks.is_sending() {
            continue;
        }
        for (d, sub) in hooks.take_due((hooks.now)()) {
            let (hooks, client) = (hooks.clone(), client.clone());
            let plain = transport.allow_plain_http;
            tasks.spawn(async move {
                let outcome = attempt(&client, &sub, &d, (hooks.now)(), plain).await;
                if let Outcome::Retry(_, e) | Outcome::Fail(_, e) = &outcome {
                    tracing::info!(target: "carefill", delivery = %d.id, webhook = %sub.id, error = %e, "webhook attempt failed");
                }
                hooks.finish(&d.id, outcome, (hooks.now)());
            });
        }
    }
}

/// One POST of a delivery.
async fn attempt(
    client: &HttpClient,
    sub: &Subscription,
    d: &Delivery,
    now: DateTime<Utc>,
    allow_plain_http: bool,
) -> Outcome {
    // A subscription made while plain HTTP was allowed is not sent in clear
    // once it is not.
    if let Some(why) = warp::http::Uri::try_from(sub.url.as_str())
        .ok()
        .and_then(|u| scheme_refusal(&u, allow_plain_http))
    {
        return Outcome::Fail(None, why.to_string());
    }
    let body = Bytes::from(d.body.clone());
    let req = warp::http::Request::post(sub.url.as_str())
        .header("content-type", "application/json")
        .header(
            "user-agent",
            concat!("carefill/", env!("CARGO_PKG_VERSION")),
        )
        .header("carefill-event", d.kind.as_str())
        .header("carefill-delivery", d.id.as_str())
        .header(
            "carefill-signature",
            signature(&sub.secret, now.timestamp(), &body),
        )
        .body(Full::new(body));
    let req = match req {
        Ok(r) => r,
        Err(e) => return Outcome::Fail(None, format!("cannot build the request: {e}")),
    };
    let sent = tokio::time::timeout(
        std::time::Duration::from_secs(ATTEMPT_TIMEOUT_S),
        client.request(req),
    )
    .await;
    match sent {
        Err(_) => Outcome::Retry(None, format!("no answer within {ATTEMPT_TIMEOUT_S} s")),
        Ok(Err(e)) => Outcome::Retry(None, format!("connection failed: {e}")),
        Ok(Ok(resp)) => {
            let s = resp.status().as_u16();
            match s {
                200..=299 => Outcome::Delivered(s),
                408 | 429 | 500..=599 => Outcome::Retry(Some(s), format!("HTTP {s}")),
                _ => Outcome::Fail(Some(s), format!("HTTP {s} (not retried)")),
            }
        }
    }
}
