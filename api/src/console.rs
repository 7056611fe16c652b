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
//! framing) and `X-Content-Type-Options: nosniff`.

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
];

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The asset at a request path, if the path is the console's.
fn lookup(path: &str) -> Option<&'static Asset> {
    let name = match path {
        "/" | "/console" | "/console/" => "index.html",
        p => p.strip_prefix("/console/")?,
    };
    ASSETS.iter().find(|a| a.name == name)
}

fn reply(asset: &Asset) -> Response {
    let mut r = Response::new(asset.body.into());
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    // Assets change with the binary; revalidating is cheap on loopback and avoids a stale console.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
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
pub fn filter()
-> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + Send + Sync + 'static {
    warp::get()
        .or(warp::head())
        .unify()
        .and(warp::path::full())
        .and_then(|path: warp::path::FullPath| async move {
            match lookup(path.as_str()) {
                Some(asset) => Ok(reply(asset)),
                None => Err(warp::reject::not_found()),
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
