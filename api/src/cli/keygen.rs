//! `carefill keygen`: a new API key and its keys-file entry.

use super::Outcome;
use carefill_api::auth::{KeyEntry, KeysFile, hash_key, new_key};
use carefill_api::{KeyStore, Role};
use std::process::ExitCode;

/// Arguments of `carefill keygen`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Name of the key (not secret), e.g. north-rota.
    #[arg(long)]
    pub id: String,
    /// What the key may do.
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// Provider id (provider keys).
    #[arg(long)]
    pub provider: Option<String>,
    /// Team id (planner keys).
    #[arg(long)]
    pub team: Option<String>,
}

/// The API's roles (see [`Role`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RoleArg {
    /// Operators: every route, every scope.
    Admin,
    /// Brokers filling packages across providers.
    Broker,
    /// A provider's office, scoped to one provider id (needs --provider).
    Provider,
    /// A team rota planner, scoped to one team id (needs --team).
    Planner,
    /// Integrator platforms calling the API on behalf of their users.
    Integrator,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Admin => Role::Admin,
            RoleArg::Broker => Role::Broker,
            RoleArg::Provider => Role::Provider,
            RoleArg::Planner => Role::Planner,
            RoleArg::Integrator => Role::Integrator,
        }
    }
}

/// Prints the key once on stderr and its entry (id, role, scope, SHA-256) on stdout.
pub fn run(args: Args) -> Outcome {
    let key = new_key()?;
    let entry = KeyEntry {
        id: args.id,
        role: args.role.into(),
        provider: args.provider,
        team: args.team,
        sha256: hash_key(&key),
    };
    // Check the entry the way the server will (scope present, well formed).
    KeyStore::from_file_contents(
        &KeysFile {
            keys: vec![entry.clone()],
        },
        "(new key)",
    )
    .map_err(|e| e.to_string())?;
    eprintln!("key (shown once, keep it secret): {key}");
    println!(
        "{}",
        serde_json::to_string(&entry).map_err(|e| e.to_string())?
    );
    Ok(ExitCode::SUCCESS)
}
