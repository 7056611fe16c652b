#!/usr/bin/env bash
# Recommendations under load (issue 19 §1): starts `carefill serve --demo` (release build) on
# 127.0.0.1:$PORT and runs wrk against POST /v1/recommendations?k=$K (broker key) with one demo
# referral (not referred) as the body, for $DURATION at 1 connection, then at 2 connections
# (2 wrk threads). Prints both wrk latency reports (p50/p90/p99: the 1-connection run is the
# top-k latency) and the throughput ratio 2 connections / 1 connection.
# Needs wrk, jq, curl and python3.
# Usage: scripts/load-recommendations.sh   env: PORT=18183 DURATION=30s K=5 REFERRAL=0
#        CAREFILL_BIN=path (skip the release build and use that binary)
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-18183}
DURATION=${DURATION:-30s}
K=${K:-5}
REFERRAL=${REFERRAL:-0}
for tool in wrk jq curl python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "load: $tool is required" >&2; exit 2; }
done
if [ -n "${CAREFILL_BIN:-}" ]; then
  bin=$(realpath "$CAREFILL_BIN")
else
  cargo build --release --locked -p carefill-api --bin carefill >&2
  bin="$(pwd)/${CARGO_TARGET_DIR:-target}/release/carefill"
fi
tmp=$(mktemp -d)
(cd "$tmp" && exec "$bin" serve --demo --bind "127.0.0.1:$PORT") 2>"$tmp/serve.log" &
pid=$!
stop() {
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
trap stop EXIT
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
  sleep 0.2
done
key=$(jq -r .broker "$tmp/carefill-demo-keys.json")
auth=(-H "Authorization: Bearer $key" -H "Content-Type: application/json")
curl -sf "${auth[@]}" "http://127.0.0.1:$PORT/v1/demo/referrals" >"$tmp/demo.json"
jq -c ".referrals[$REFERRAL]" "$tmp/demo.json" >"$tmp/body.json"
url="http://127.0.0.1:$PORT/v1/recommendations?k=$K"
# One request by hand first: it must answer 200 with recommendations.
curl -sf "${auth[@]}" -X POST --data-binary @"$tmp/body.json" "$url" |
  jq -c '{package, teams_checked, recommendations: (.recommendations | length), elapsed_ms}'
python3 - "$tmp/body.json" "$key" >"$tmp/post.lua" <<'PY'
import json, sys
body = open(sys.argv[1]).read().strip()
print('wrk.method = "POST"')
print('wrk.body = %s' % json.dumps(body))
print('wrk.headers["Content-Type"] = "application/json"')
print('wrk.headers["Authorization"] = "Bearer %s"' % sys.argv[2])
print('''done = function(summary, latency, requests)
  io.write(string.format("non-2xx or errors: %d\\n", summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end''')
PY
echo "== 1 connection: wrk -t1 -c1 -d$DURATION --latency POST /v1/recommendations?k=$K"
wrk -t1 -c1 -d"$DURATION" --latency -s "$tmp/post.lua" "$url" | tee "$tmp/c1.txt"
echo "== 2 connections: wrk -t2 -c2 -d$DURATION --latency POST /v1/recommendations?k=$K"
wrk -t2 -c2 -d"$DURATION" --latency -s "$tmp/post.lua" "$url" | tee "$tmp/c2.txt"
rps() { awk '/^Requests\/sec/ {print $2}' "$1"; }
echo "throughput: 1 connection $(rps "$tmp/c1.txt") req/s, 2 connections $(rps "$tmp/c2.txt") req/s," \
  "ratio $(python3 -c "print(round($(rps "$tmp/c2.txt") / $(rps "$tmp/c1.txt"), 2))")"
