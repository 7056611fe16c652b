//! carefill's integration tests: one binary, one module per capability.
//! Every rota a solver returns is passed through the independent checker.

mod api;
mod broker;
mod console;
mod console_api;
mod contract;
mod e2e;
mod harden;
mod intake;
mod live_alerts;
mod live_horizon;
mod live_push;
mod live_weekly;
mod replan;
mod replicas;
mod rota;
mod simulations;
mod solutions;
mod support;
mod time_zones;
