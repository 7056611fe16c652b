//! API keys, roles and scopes.
//!
//! Callers send `Authorization: Bearer <key>`. The service stores only the
//! SHA-256 of each key, in a JSON keys file (`--keys-file` /
//! `CAREFILL_KEYS_FILE`):
//!
//! ```json
//! {"keys": [
//!   {"id": "ops",          "role": "admin",      "sha256": "<64 hex>"},
//!   {"id": "county-desk",  "role": "broker",     "sha256": "<64 hex>"},
//!   {"id": "acme-office",  "role": "provider",   "provider": "acme", "sha256": "<64 hex>"},
//!   {"id": "north-rota",   "role": "planner",    "team": "north",    "sha256": "<64 hex>"},
//!   {"id": "platform-x",   "role": "integrator", "sha256": "<64 hex>"}
//! ]}
//! ```
//!
//! `carefill keygen --id ID --role ROLE [--provider P | --team T]` prints a new
//! key and its keys-file entry. Keys are 256-bit random tokens, so a fast,
//! unsalted hash is the right tool: there is nothing to brute-force, and a slow
//! password hash (argon2, bcrypt) would only add latency to every request. The
//! hash of a presented key is compared with every stored hash in constant time.
//!
//! Roles: `admin` (everything), `broker` (brokering), `provider` (scoped to one
//! provider id), `planner` (scoped to one team id), `integrator` (platforms).
//! Which roles may call a route is in the route table ([`crate::handlers::table`]);
//! handlers check scopes with [`Principal::provider_scope`] and friends.

use crate::http::error::ApiError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use subtle::ConstantTimeEq;

/// What a key may do, before scopes.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Operators: every route, every scope.
    Admin,
    /// Brokers filling packages across providers.
    Broker,
    /// A provider's office, scoped to one provider id.
    Provider,
    /// A team rota planner, scoped to one team id.
    Planner,
    /// Integrator platforms calling the API on behalf of their users.
    Integrator,
}

impl Role {
    /// Every role, in a fixed order.
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Broker,
        Role::Provider,
        Role::Planner,
        Role::Integrator,
    ];

    /// The role's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Broker => "broker",
            Role::Provider => "provider",
            Role::Planner => "planner",
            Role::Integrator => "integrator",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which data a key is limited to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Scope {
    /// Not limited (admin, broker, integrator).
    Global,
    /// One provider.
    Provider(String),
    /// One team.
    Team(String),
}

/// The authenticated caller, handed to handlers of non-public routes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Principal {
    /// The key's id from the keys file (never the key itself); logged and used as job owner.
    pub key_id: String,
    /// The key's role.
    pub role: Role,
    /// The key's scope.
    pub scope: Scope,
}

impl Principal {
    /// Whether this is an admin key.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// The provider a `provider` key is limited to; `None` for any other key.
    pub fn provider_scope(&self) -> Option<&str> {
        match &self.scope {
            Scope::Provider(p) => Some(p),
            _ => None,
        }
    }

    /// The team a `planner` key is limited to; `None` for any other key.
    pub fn team_scope(&self) -> Option<&str> {
        match &self.scope {
            Scope::Team(t) => Some(t),
            _ => None,
        }
    }

    /// 403 unless the key may act for `provider_id` (unscoped keys may act for any).
    pub fn require_provider(&self, provider_id: &str) -> Result<(), ApiError> {
        match &self.scope {
            Scope::Provider(p) if p != provider_id => Err(ApiError::Forbidden(format!(
                "key {} is scoped to provider {p}, not {provider_id}",
                self.key_id
            ))),
            Scope::Team(t) => Err(ApiError::Forbidden(format!(
                "key {} is scoped to team {t}, not to a provider",
                self.key_id
            ))),
            _ => Ok(()),
        }
    }

    /// 403 unless the key may act for `team_id` (unscoped keys may act for any).
    /// A provider key may act for its teams: pass the team's provider as `team_provider`.
    pub fn require_team(&self, team_id: &str, team_provider: Option<&str>) -> Result<(), ApiError> {
        match &self.scope {
            Scope::Team(t) if t != team_id => Err(ApiError::Forbidden(format!(
                "key {} is scoped to team {t}, not {team_id}",
                self.key_id
            ))),
            Scope::Provider(p) if team_provider != Some(p.as_str()) => {
                Err(ApiError::Forbidden(format!(
                    "key {} is scoped to provider {p}; team {team_id} is not one of its teams",
                    self.key_id
                )))
            }
            _ => Ok(()),
        }
    }
}

/// One entry of the keys file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    /// A name for the key (not secret): shown in logs and as job owner.
    pub id: String,
    /// The key's role.
    pub role: Role,
    /// For `provider` keys: the provider id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// For `planner` keys: the team id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Lower-case hex SHA-256 of the key.
    pub sha256: String,
}

/// The keys file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysFile {
    /// Every key.
    pub keys: Vec<KeyEntry>,
}

/// A keys file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The file could not be read.
    #[error("cannot read keys file {path}: {source}")]
    Read {
        /// File path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not a keys file.
    #[error("keys file {path}: {detail}")]
    Format {
        /// File path.
        path: String,
        /// What is wrong, with the JSON path.
        detail: String,
    },
    /// An entry is inconsistent.
    #[error("keys file {path}: $.keys[{index}]: {detail}")]
    Entry {
        /// File path.
        path: String,
        /// Entry index.
        index: usize,
        /// What is wrong.
        detail: String,
    },
}

struct StoredKey {
    hash: [u8; 32],
    principal: Principal,
}

/// The keys the service accepts, as hashes.
pub struct KeyStore {
    keys: Vec<StoredKey>,
}

impl fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyStore")
            .field("keys", &self.keys.len())
            .finish()
    }
}

/// SHA-256 of a key, lower-case hex.
pub fn hash_key(key: &str) -> String {
    hex(&Sha256::digest(key.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
        let text = std::str::from_utf8(chunk).ok()?;
        out[i] = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}

/// `n` random bytes from the operating system, as lower-case hex.
pub fn random_hex(n: usize) -> Result<String, String> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| format!("no randomness from the OS: {e}"))?;
    Ok(hex(&buf))
}

/// A new random key: `cf_` + 64 hex characters (256 bits).
pub fn new_key() -> Result<String, String> {
    Ok(format!("cf_{}", random_hex(32)?))
}

impl KeyStore {
    /// A store from keys-file entries, checking that each is consistent.
    pub fn from_file_contents(file: &KeysFile, path: &str) -> Result<Self, KeysError> {
        let mut keys = Vec::with_capacity(file.keys.len());
        let mut ids = std::collections::HashSet::new();
        for (index, entry) in file.keys.iter().enumerate() {
            let bad = |detail: String| KeysError::Entry {
                path: path.to_string(),
                index,
                detail,
            };
            if entry.id.trim().is_empty() {
                return Err(bad("id must not be empty".into()));
            }
            if !ids.insert(entry.id.as_str()) {
                return Err(bad(format!("duplicate id {:?}", entry.id)));
            }
            let hash = unhex32(&entry.sha256.to_ascii_lowercase())
                .ok_or_else(|| bad("sha256 must be 64 hexadecimal characters".into()))?;
            let scope = match (entry.role, &entry.provider, &entry.team) {
                (Role::Provider, Some(p), None) if !p.is_empty() => Scope::Provider(p.clone()),
                (Role::Provider, _, _) => {
                    return Err(bad(
                        "a provider key needs \"provider\" (and no \"team\")".into()
                    ));
                }
                (Role::Planner, None, Some(t)) if !t.is_empty() => Scope::Team(t.clone()),
                (Role::Planner, _, _) => {
                    return Err(bad(
                        "a planner key needs \"team\" (and no \"provider\")".into()
                    ));
                }
                (_, None, None) => Scope::Global,
                (role, _, _) => {
                    return Err(bad(format!(
                        "a {role} key is not scoped: remove \"provider\"/\"team\""
                    )));
                }
            };
            keys.push(StoredKey {
                hash,
                principal: Principal {
                    key_id: entry.id.clone(),
                    role: entry.role,
                    scope,
                },
            });
        }
        Ok(Self { keys })
    }

    /// Loads and checks a keys file.
    pub fn load(path: &Path) -> Result<Self, KeysError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| KeysError::Read {
            path: shown.clone(),
            source,
        })?;
        let file: KeysFile =
            carefill_solver::format::parse_json(&text).map_err(|i| KeysError::Format {
                path: shown.clone(),
                detail: format!("{}: {}", i.path, i.message),
            })?;
        Self::from_file_contents(&file, &shown)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are no keys (every protected route then answers 401).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The principal of a presented key, comparing hashes in constant time.
    pub fn authenticate(&self, key: &str) -> Option<&Principal> {
        let presented = Sha256::digest(key.as_bytes());
        let mut found = None;
        // Look at every key (no early exit) so timing does not depend on which one matched.
        for stored in &self.keys {
            if bool::from(stored.hash.as_slice().ct_eq(presented.as_slice())) {
                found = Some(&stored.principal);
            }
        }
        found
    }

    /// Resolves an `Authorization` header value to a principal, or a 401.
    pub fn authorize_header(&self, header: Option<&str>) -> Result<&Principal, ApiError> {
        let value = header
            .ok_or_else(|| ApiError::Unauthorized("send Authorization: Bearer <key>".into()))?;
        // The scheme is case-insensitive (RFC 9110 §11.1): `BEARER x` is `Bearer x`.
        let key = value
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, key)| key.trim())
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                ApiError::Unauthorized("the Authorization header must be \"Bearer <key>\"".into())
            })?;
        self.authenticate(key)
            .ok_or_else(|| ApiError::Unauthorized("unknown or revoked key".into()))
    }
}

/// Plain-text keys for `serve --demo`, one per role, with the store that accepts them.
#[derive(Debug, Clone, Serialize)]
pub struct DemoKeys {
    /// Role name → plain-text key.
    pub keys: BTreeMap<&'static str, String>,
    /// The keys-file entries (hashes) behind them.
    #[serde(skip)]
    pub file: KeysFile,
}

impl DemoKeys {
    /// New random keys for every role; the provider key is scoped to `provider`,
    /// the planner key to `team`.
    pub fn generate(provider: &str, team: &str) -> Result<Self, String> {
        let mut keys = BTreeMap::new();
        let mut file = KeysFile::default();
        for role in Role::ALL {
            let key = new_key()?;
            file.keys.push(KeyEntry {
                id: format!("demo-{role}"),
                role,
                provider: (role == Role::Provider).then(|| provider.to_string()),
                team: (role == Role::Planner).then(|| team.to_string()),
                sha256: hash_key(&key),
            });
            keys.insert(role.as_str(), key);
        }
        Ok(Self { keys, file })
    }

    /// The store accepting these keys.
    pub fn store(&self) -> Result<KeyStore, KeysError> {
        KeyStore::from_file_contents(&self.file, "(demo keys)")
    }

    /// The plain-text key of a role.
    pub fn key(&self, role: Role) -> &str {
        self.keys.get(role.as_str()).map_or("", String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_scopes_are_checked() {
        let demo = DemoKeys::generate("acme", "north").expect("ok");
        let store = demo.store().expect("ok");
        assert_eq!(store.len(), 5);
        let p = store.authenticate(demo.key(Role::Provider)).expect("ok");
        assert_eq!(p.provider_scope(), Some("acme"));
        assert!(p.require_provider("acme").is_ok());
        assert!(p.require_provider("other").is_err());
        let t = store.authenticate(demo.key(Role::Planner)).expect("ok");
        assert_eq!(t.team_scope(), Some("north"));
        assert!(t.require_team("south", None).is_err());
        assert!(store.authenticate("cf_nope").is_none());
        assert!(store.authorize_header(Some("Basic abc")).is_err());
        assert!(store.authorize_header(None).is_err());
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        let demo = DemoKeys::generate("acme", "north").expect("ok");
        let store = demo.store().expect("ok");
        let key = demo.key(Role::Broker);
        for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            let header = format!("{scheme} {key}");
            assert!(store.authorize_header(Some(&header)).is_ok(), "{scheme}");
        }
        for bad in [
            format!("Basic {key}"),
            format!("Bearer{key}"),
            "Bearer ".into(),
        ] {
            assert!(store.authorize_header(Some(&bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn inconsistent_entries_are_rejected_with_their_index() {
        let text = r#"{"keys":[{"id":"a","role":"planner","sha256":"00"}]}"#;
        let file: KeysFile = serde_json::from_str(text).expect("ok");
        let err = KeyStore::from_file_contents(&file, "k.json").expect_err("rejected");
        assert!(err.to_string().contains("$.keys[0]"), "{err}");
    }
}
