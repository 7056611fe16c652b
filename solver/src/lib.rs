//! # carefill-solver
//!
//! Home-care rota and package-brokering optimisation, with no HTTP in it.
//!
//! Glossary (care words first, OR words second):
//! - **service user**: a person receiving care at home (a *customer* / *client*).
//! - **package**: the weekly pattern of visits a person needs (a set of *jobs* with time windows).
//! - **visit**: one concrete call on one day (a *job*); **double-handed** needs two carers
//!   starting together (a *synchronised* job).
//! - **carer**: a care worker (a *vehicle*); a **shift** is one availability period (a *tour*).
//! - **rota**: carers' routes over the horizon (a *solution*).
//! - **continuity cap**: maximum distinct carers a person sees over the horizon.
//! - **team**: a neighbourhood team (Buurtzorg style, up to 12 carers).
//! - **provider / tier**: a care company and its position in the broker's cascade.
//!
//! Layers: [`format`] (JSON wire types and validation) builds a [`model::Problem`]
//! (dense indices, minutes); [`travel`] gives travel times; [`spatial`] answers
//! nearest/within-radius queries on the sphere; [`check`] independently verifies any rota.
//!
//! Cargo features (none by default) add the tools around the library: `generate`
//! (synthetic counties and the broker's demo county), `benchmarks` (Solomon and
//! Mankowska instance readers) and `test-support` (fixtures and assertions for tests).

#[cfg(any(test, feature = "benchmarks"))]
pub mod benchmarks;
pub mod broker;
pub mod check;
pub mod format;
#[cfg(any(test, feature = "generate"))]
pub mod generate;
pub mod model;
pub mod rota;
#[cfg(any(test, feature = "generate"))]
pub mod simulate;
pub mod spatial;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
pub mod travel;
