#!/usr/bin/env bash
# The test command README.md gives: bootstrap the machine, check formatting and lints, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The store tests also run against a real PostgreSQL server started here.
eval "$(bash scripts/pg-test-server.sh start)"
trap 'bash scripts/pg-test-server.sh stop' EXIT
export CI="${CI:-1}"
cargo test --workspace --locked
