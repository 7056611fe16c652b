#!/usr/bin/env bash
# Do broker reads wait for a long write? Starts `carefill serve --demo` (release build) on
# 127.0.0.1:$PORT, refers one demo package, then runs wrk against GET /v1/packages/{id}
# (broker key, $CONNS connections) for $DURATION twice: once on an idle broker and once while a
# long write runs. Prints both wrk latency reports (p50/p90/p99) and the write's own wall time.
# The write ($WRITE):
#   batch             POST /v1/referrals/batch with $BATCH referrals (copies of the demo
#                     referrals with fresh ids)  [default]
#   provider-failure  POST /v1/providers/{id}/status {"status":"failed"} for $PROVIDER, or else
#                     the provider holding the most packages (GET …/impact?status=failed): every
#                     package it holds is released and re-brokered together
# $PROBE_AFTER seconds into the write (default 5; 0: none) one more command is sent, a single
# referral (POST /v1/referrals), and its answer time printed: does the write hold up other
# commands?
# Prints the machine's load before each run. Needs wrk, jq, curl and python3.
# Usage: scripts/load-reads-during-writes.sh   env: PORT=18182 DURATION=30s (make it outlast the
#        write: the publication at its end is what a read could wait for) IDLE_DURATION=$DURATION
#        CONNS=1 BATCH=1000
#        WRITE=batch|provider-failure PROVIDER=id
#        CAREFILL_BIN=path (skip the release build and use that binary)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/load-common.sh
PORT=${PORT:-18182}
DURATION=${DURATION:-30s}
IDLE_DURATION=${IDLE_DURATION:-$DURATION}
CONNS=${CONNS:-1}
BATCH=${BATCH:-1000}
WRITE=${WRITE:-batch}
PROBE_AFTER=${PROBE_AFTER:-5}
case "$WRITE" in
  batch | provider-failure) ;;
  *) echo "load: WRITE must be batch or provider-failure" >&2; exit 2 ;;
esac
load_require wrk jq curl python3
load_binary
load_start_demo "$PORT"
key=$(load_key broker)
auth=(-H "Authorization: Bearer $key" -H "Content-Type: application/json")
curl -sf "${auth[@]}" "$base/v1/demo/referrals" >"$tmp/demo.json"
first=$(jq -c '.referrals[0]' "$tmp/demo.json")
pkg=$(jq -r '.package.id' <<<"$first")
curl -sf "${auth[@]}" -X POST -d "$first" "$base/v1/referrals" >/dev/null
python3 - "$tmp/demo.json" "$BATCH" >"$tmp/batch.json" <<'PY'
import json, sys
demo = json.load(open(sys.argv[1]))["referrals"][1:]
n = int(sys.argv[2])
out = []
for i in range(n):
    r = json.loads(json.dumps(demo[i % len(demo)]))
    r["package"]["id"] = "load-%04d" % i
    r["package"]["service_user"] = "load-su-%04d" % i
    r["service_user"]["id"] = "load-su-%04d" % i
    out.append(r)
json.dump({"referrals": out}, sys.stdout)
PY
jq -c '.referrals[2] | .package.id = "probe-0001" | .package.service_user = "probe-su-0001"
  | .service_user.id = "probe-su-0001"' "$tmp/demo.json" >"$tmp/probe.json"
cat >"$tmp/get.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $key"
LUA
url="$base/v1/packages/$pkg"
load_machine
echo "== idle broker: wrk -t1 -c$CONNS -d$IDLE_DURATION --latency GET /v1/packages/$pkg"
wrk -t1 -c"$CONNS" -d"$IDLE_DURATION" --latency -s "$tmp/get.lua" "$url"
if [ "$WRITE" = provider-failure ]; then
  provider=${PROVIDER:-}
  if [ -z "$provider" ]; then
    best=0
    for p in $(curl -sf "${auth[@]}" "$base/v1/providers" | jq -r '.providers[].id'); do
      n=$(curl -sf "${auth[@]}" "$base/v1/providers/$p/impact?status=failed" |
        jq '.packages_released')
      if [ "$n" -gt "$best" ]; then best=$n; provider=$p; fi
    done
  fi
  held=$(curl -sf "${auth[@]}" "$base/v1/providers/$provider/impact?status=failed" |
    jq '.packages_released')
  what="POST /v1/providers/$provider/status failed ($held packages released)"
  write_url="$base/v1/providers/$provider/status"
  printf '{"status":"failed"}' >"$tmp/write.json"
else
  what="POST /v1/referrals/batch ($BATCH referrals)"
  write_url="$base/v1/referrals/batch"
  cp "$tmp/batch.json" "$tmp/write.json"
fi
load_machine
echo "== during $what: same wrk"
wrk -t1 -c"$CONNS" -d"$DURATION" --latency -s "$tmp/get.lua" "$url" >"$tmp/wrk-during.txt" &
wrk_pid=$!
sleep 1
if [ "$PROBE_AFTER" != 0 ]; then
  (sleep "$PROBE_AFTER"
   curl -s -o /dev/null -w '%{http_code} %{time_total}' "${auth[@]}" -X POST \
     --data-binary @"$tmp/probe.json" "$base/v1/referrals" >"$tmp/probe.txt") &
  probe_pid=$!
fi
start=$(date +%s.%N)
status=$(curl -s -o "$tmp/write-answer.json" -w '%{http_code}' "${auth[@]}" -X POST \
  --data-binary @"$tmp/write.json" "$write_url")
end=$(date +%s.%N)
wait "$wrk_pid"
cat "$tmp/wrk-during.txt"
echo "write: $what: HTTP $status in $(python3 -c "print(round($end - $start, 1))") s"
if [ "$PROBE_AFTER" != 0 ]; then
  wait "$probe_pid"
  read -r probe_status probe_s <"$tmp/probe.txt" || true
  echo "another command ${PROBE_AFTER} s into the write (POST /v1/referrals): HTTP $probe_status in $probe_s s"
fi
