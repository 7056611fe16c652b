//! The web console: static assets compiled into the binary and served at `/`
//! and `/console/{file}` beside the API.
//!
//! The console is hand-written JavaScript modules, CSS and SVG drawing
//! (`api/console/`), embedded with `include_str!`, so `carefill serve` needs
//! no files, no CDN and no network at run time. It talks only to the public
//! HTTP API with the key the user signs in with (kept in `sessionStorage`);
//! serving it needs no key, and the assets hold no data.
//!
//! Every answer carries a strict Content-Security-Policy (scripts, styles,
//! images and connections from this origin only; no inline script, no
//! framing) and `X-Content-Type-Options: nosniff`. A deployment with a tile
//! server (`--tile-url`) adds that one origin to `img-src`, nothing else.
//!
//! Carers have no API key: a planner issues a read-only link to one carer's
//! week, signed here with [`LinkKey`] (HMAC-SHA256, with an expiry), which
//! also serves as the address a phone subscribes to for the iCalendar feed.

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use std::fmt;
use warp::Filter;
use warp::http::{HeaderValue, header};
use warp::reply::Response;

/// One embedded file: its name under `/console/`, content type and bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

macro_rules! asset {
    ($name:literal, $ct:expr) => {
        Asset {
            name: $name,
            content_type: $ct,
            body: include_str!(concat!("../console/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the console. A file missing here is a compile error.
static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("console.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("js/app.js", JS),
    asset!("js/api.js", JS),
    asset!("js/dom.js", JS),
    asset!("js/charts.js", JS),
    asset!("js/queue.js", JS),
    asset!("js/refer.js", JS),
    asset!("js/offers.js", JS),
    asset!("js/week.js", JS),
    asset!("js/reports.js", JS),
    asset!("js/map.js", JS),
    asset!("js/providers.js", JS),
    asset!("js/carer.js", JS),
    asset!("js/plan.js", JS),
    asset!("js/zone.js", JS),
];

/// The Content-Security-Policy, allowing images from `tiles` (an origin) too.
fn csp(tiles: Option<&str>) -> String {
    let img = tiles.map_or(String::new(), |o| format!(" {o}"));
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:{img}; \
         connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

/// The origin (`scheme://host[:port]`) of a tile URL template, after checking
/// that it is an http(s) URL with `{z}`, `{x}` and `{y}` and nothing that could
/// change the meaning of the Content-Security-Policy it is put in.
pub fn tile_origin(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("https://")
        .map(|r| ("https", r))
        .or_else(|| url.strip_prefix("http://").map(|r| ("http", r)));
    let Some((scheme, rest)) = rest else {
        return Err(format!("`{url}` must start with https:// (or http://)"));
    };
    if let Some(c) = url
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || ";,'\"<>\\".contains(*c))
    {
        return Err(format!("`{url}` must not contain {c:?}"));
    }
    for part in ["{z}", "{x}", "{y}"] {
        if !url.contains(part) {
            return Err(format!("`{url}` must contain {part}"));
        }
    }
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.contains(['{', '}', '@', '?', '#']) {
        return Err(format!(
            "`{url}` needs a plain host name before the first /"
        ));
    }
    Ok(format!("{scheme}://{host}"))
}

/// The HMAC key that signs carers' week links.
#[derive(Clone)]
pub struct LinkKey([u8; 32]);

impl fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkKey(..)")
    }
}

/// Why a week link was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not a link this service issues.
    #[error("this is not a carefill week link")]
    Malformed,
    /// Changed, or signed with another secret (e.g. before the secret was rotated).
    #[error("this week link is not valid (changed, or signed with an old secret)")]
    BadSignature,
    /// Past its expiry.
    #[error("this week link expired at {0}; ask your planner for a new one")]
    Expired(DateTime<Utc>),
}

impl LinkError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            LinkError::Malformed => "link_malformed",
            LinkError::BadSignature => "link_bad_signature",
            LinkError::Expired(_) => "link_expired",
        }
    }
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

impl LinkKey {
    /// The key from a configured secret (at least 32 characters), or a random one.
    pub fn new(secret: Option<&str>) -> Result<Self, String> {
        match secret {
            Some(s) if s.chars().count() < 32 => {
                Err("the link secret must be at least 32 characters".into())
            }
            Some(s) => Ok(Self(Sha256::digest(s.as_bytes()).into())),
            None => {
                let mut k = [0u8; 32];
                getrandom::fill(&mut k).map_err(|e| format!("no randomness from the OS: {e}"))?;
                Ok(Self(k))
            }
        }
    }

    fn mac(&self, carer: &str, expires: i64) -> Hmac<Sha256> {
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        m.update(format!("carefill carer-week v1\n{carer}\n{expires}").as_bytes());
        m
    }

    /// A token for `carer`'s week, valid until `expires`: `v1.{carer hex}.{unix}.{hmac hex}`.
    pub fn sign(&self, carer: &str, expires: DateTime<Utc>) -> String {
        let exp = expires.timestamp();
        let tag = self.mac(carer, exp).finalize().into_bytes();
        format!("v1.{}.{exp}.{}", to_hex(carer.as_bytes()), to_hex(&tag))
    }

    /// The carer a token is for and its expiry, if the signature holds and
    /// `now` is before the expiry (the tag is compared in constant time).
    pub fn verify(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(String, DateTime<Utc>), LinkError> {
        let mut parts = token.split('.');
        let (Some("v1"), Some(c), Some(e), Some(t), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(LinkError::Malformed);
        };
        let carer = from_hex(c)
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or(LinkError::Malformed)?;
        let exp: i64 = e.parse().map_err(|_| LinkError::Malformed)?;
        let tag = from_hex(t).ok_or(LinkError::Malformed)?;
        self.mac(&carer, exp)
            .verify_slice(&tag)
            .map_err(|_| LinkError::BadSignature)?;
        let expires = DateTime::from_timestamp(exp, 0).ok_or(LinkError::Malformed)?;
        if now >= expires {
            return Err(LinkError::Expired(expires));
        }
        Ok((carer, expires))
    }
}

/// The asset at a request path, if the path is the console's.
fn lookup(path: &str) -> Option<&'static Asset> {
    let name = match path {
        "/" | "/console" | "/console/" => "index.html",
        p => p.strip_prefix("/console/")?,
    };
    ASSETS.iter().find(|a| a.name == name)
}

fn reply(asset: &Asset, csp: &HeaderValue) -> Response {
    let mut r = Response::new(asset.body.into());
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    // Assets change with the binary; revalidating is cheap on loopback and avoids a stale console.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::CONTENT_SECURITY_POLICY, csp.clone());
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

/// `GET`/`HEAD` of `/`, `/console/` and `/console/{file}`; anything else is
/// left to the API router (so unknown console files get its problem+json 404).
/// `tile_url` is the configured tile template (checked at start-up; one that
/// does not pass [`tile_origin`] adds nothing to the policy).
pub fn filter(
    tile_url: Option<String>,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + Send + Sync + 'static {
    let origin = tile_url.and_then(|u| tile_origin(&u).ok());
    let csp = HeaderValue::from_str(&csp(origin.as_deref()))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"));
    warp::get()
        .or(warp::head())
        .unify()
        .and(warp::path::full())
        .and_then(move |path: warp::path::FullPath| {
            let csp = csp.clone();
            async move {
                match lookup(path.as_str()) {
                    Some(asset) => Ok(reply(asset, &csp)),
                    None => Err(warp::reject::not_found()),
                }
            }
        })
}

/// Number of embedded assets and their total size, for tests.
pub fn asset_stats() -> (usize, usize) {
    (ASSETS.len(), ASSETS.iter().map(|a| a.body.len()).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_and_console_paths_serve_the_page_and_others_fall_through() {
        assert_eq!(lookup("/").map(|a| a.name), Some("index.html"));
        assert_eq!(lookup("/console/").map(|a| a.name), Some("index.html"));
        assert_eq!(
            lookup("/console/js/app.js").map(|a| a.name),
            Some("js/app.js")
        );
        assert!(lookup("/console/js/../../Cargo.toml").is_none());
        assert!(lookup("/v1/whoami").is_none());
        assert!(lookup("/console/nope.js").is_none());
    }

    #[test]
    fn tile_urls_are_checked_and_only_their_origin_joins_the_policy() {
        assert_eq!(
            tile_origin("https://tiles.example.org:8443/osm/{z}/{x}/{y}.png").as_deref(),
            Ok("https://tiles.example.org:8443")
        );
        for bad in [
            "ftp://t.example/{z}/{x}/{y}.png",
            "https://t.example/{z}/{x}.png",
            "https://t.example/{z}/{x}/{y}.png; script-src *",
            "https://t.example/{z}/{x}/{y}.png 'unsafe-inline'",
            "https:///{z}/{x}/{y}",
        ] {
            assert!(tile_origin(bad).is_err(), "{bad} accepted");
        }
        assert!(!csp(None).contains("example"));
        assert!(csp(Some("https://t.example")).contains("img-src 'self' data: https://t.example;"));
    }

    #[test]
    fn week_links_verify_only_unchanged_and_unexpired() {
        let now = DateTime::parse_from_rfc3339("2026-12-01T08:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let key = LinkKey::new(Some("0123456789abcdef0123456789abcdef")).expect("key");
        let exp = now + chrono::Duration::days(7);
        let t = key.sign("c.1/x", exp);
        assert_eq!(key.verify(&t, now), Ok(("c.1/x".to_string(), exp)));
        assert_eq!(key.verify(&t, exp), Err(LinkError::Expired(exp)));
        let other = LinkKey::new(None).expect("random key");
        assert_eq!(other.verify(&t, now), Err(LinkError::BadSignature));
        let forged = t.replace(&to_hex(b"c.1/x"), &to_hex(b"c2"));
        assert_eq!(key.verify(&forged, now), Err(LinkError::BadSignature));
        let later = t.replace(
            &exp.timestamp().to_string(),
            &(exp.timestamp() + 99).to_string(),
        );
        assert_eq!(key.verify(&later, now), Err(LinkError::BadSignature));
        assert_eq!(key.verify("v1.zz.1.00", now), Err(LinkError::Malformed));
        assert!(LinkKey::new(Some("short")).is_err());
    }

    #[test]
    fn every_module_the_page_imports_is_embedded() {
        for a in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            for line in a.body.lines() {
                let Some(from) = line.split(" from \"./").nth(1) else {
                    continue;
                };
                let file = from.split('"').next().unwrap_or_default();
                let name = format!("js/{file}");
                assert!(
                    ASSETS.iter().any(|x| x.name == name),
                    "{} imports {name}, which is not embedded",
                    a.name
                );
            }
        }
    }
}
