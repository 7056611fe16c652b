//! Who may call what: the role groups the route specs name.
//!
//! Roles decide which routes a key may call (checked by the router before the
//! handler); scopes (a provider key's provider, a planner key's team) are
//! checked by the handlers.

use crate::auth::Role;

/// Every role.
pub const ALL_ROLES: &[Role] = &Role::ALL;
/// Roles that work with rotas.
pub const ROTA_ROLES: &[Role] = &[Role::Admin, Role::Provider, Role::Planner, Role::Integrator];
/// Brokers and integrators: referrals, packages, recommendations, reports.
pub const BROKER_ROLES: &[Role] = &[Role::Admin, Role::Broker, Role::Integrator];
/// Decisions only brokers take.
pub const ADMIN_BROKER: &[Role] = &[Role::Admin, Role::Broker];
/// Offers: brokers, and providers for their own.
pub const OFFER_ROLES: &[Role] = &[Role::Admin, Role::Broker, Role::Provider];
/// Team rotas: brokers, providers (own teams) and planners (own team).
pub const ROSTER_ROLES: &[Role] = &[Role::Admin, Role::Broker, Role::Provider, Role::Planner];
/// Reading providers: brokers, integrators, and provider keys (their own only).
pub const PROVIDER_READ_ROLES: &[Role] =
    &[Role::Admin, Role::Broker, Role::Provider, Role::Integrator];
/// Creating and changing teams and carers: brokers, and provider keys for their own teams.
pub const ROSTER_EDIT_ROLES: &[Role] = &[Role::Admin, Role::Broker, Role::Provider];
/// Operators only.
pub const ADMIN_ONLY: &[Role] = &[Role::Admin];
