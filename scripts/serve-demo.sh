#!/usr/bin/env bash
# README's "run" command: bootstrap the machine, then start the service with demo data.
# Without --keys-file it writes one demo API key per role to ./carefill-demo-keys.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec cargo run --release --locked -p carefill-api --bin carefill -- serve --demo "$@"
