//! Shared helpers of the HTTP tests: a state with one demo key per role.

use carefill_api::auth::DemoKeys;
use carefill_api::{AppState, Role, ServiceConfig};
use carefill_solver::testing::load_request;

/// The provider and team the demo keys are scoped to (those of `small_team.json`).
pub const PROVIDER: &str = "prov-01";
/// See [`PROVIDER`].
pub const TEAM: &str = "team-001";

/// A state accepting one key per role, with `small_team.json` as demo data when `demo`.
pub fn state_with(config: ServiceConfig, demo: bool) -> (AppState, DemoKeys) {
    let keys = DemoKeys::generate(PROVIDER, TEAM).expect("keys");
    let state = AppState::builder(keys.store().expect("store"))
        .config(config)
        .demo(demo.then(|| load_request("small_team.json")))
        .build()
        .expect("state");
    (state, keys)
}

/// `state_with` default limits.
pub fn state(demo: bool) -> (AppState, DemoKeys) {
    state_with(ServiceConfig::default(), demo)
}

/// `Bearer <key of role>`.
pub fn bearer(keys: &DemoKeys, role: Role) -> String {
    format!("Bearer {}", keys.key(role))
}
