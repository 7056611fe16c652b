#!/usr/bin/env bash
# Load test of the HTTP service on this machine (loopback only), with wrk:
#   GET /health, POST /v1/requests/validate with a small body and an integrator key, and
#   POST /v1/recommendations?k=3 cycling through the demo county's first 8 waiting referrals
#   (each request fit-checks the package against up to 16 teams' rotas) at RECO_CONNS connections.
# Starts `carefill serve --demo` (release build) in a temporary folder on 127.0.0.1:$PORT,
# runs each test for $DURATION with $CONNS connections on $THREADS wrk threads, prints wrk's
# report (requests/s, latency percentiles incl. p99, errors), then stops the server (SIGTERM).
# Needs wrk (apt-get install -y wrk) and jq.
# Usage: scripts/load-test.sh            env: PORT=18181 DURATION=20s CONNS=16 THREADS=1 RECO_CONNS="1 2 4"
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/load-common.sh
PORT=${PORT:-18181}
DURATION=${DURATION:-20s}
CONNS=${CONNS:-16}
THREADS=${THREADS:-1}
RECO_CONNS=${RECO_CONNS:-"1 2 4"}
load_require wrk jq curl
load_binary
load_start_demo "$PORT"
load_machine
key=$(load_key integrator)
cat >"$tmp/validate.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"format":"carefill/1","horizon":{"start_date":"2026-11-30","days":7}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
LUA
echo "== wrk -t$THREADS -c$CONNS -d$DURATION --latency $base/health"
wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$base/health"
echo "== wrk -t$THREADS -c$CONNS -d$DURATION --latency -s validate.lua $base/v1/requests/validate"
wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$tmp/validate.lua" "$base/v1/requests/validate"
{
  echo 'local bodies = {'
  curl -sf -H "Authorization: Bearer $key" "$base/v1/demo/referrals" \
    | jq -r '.referrals[:8][] | "[==[" + tojson + "]==],"'
  echo '}'
  cat <<LUA
local n = 0
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer $key" }
request = function()
  n = n + 1
  return wrk.format("POST", "/v1/recommendations?k=3", headers, bodies[(n % #bodies) + 1])
end
LUA
} >"$tmp/reco.lua"
for c in $RECO_CONNS; do
  echo "== wrk -t1 -c$c -d$DURATION --latency -s reco.lua $base/v1/recommendations?k=3 (8 referrals in turn)"
  wrk -t1 -c"$c" -d"$DURATION" --latency -s "$tmp/reco.lua" "$base/v1/recommendations?k=3"
done
echo "== server's own count (GET /metrics):"
curl -s "$base/metrics" | grep '^carefill_http_requests_total' || true
