#!/usr/bin/env bash
# Shared by the scripts/load-*.sh load scripts (source it, do not run it): the release binary,
# `carefill serve --demo` on loopback in a temporary folder (stopped on exit), its demo keys,
# the machine's load, and the CPU time a process or a command used.
#   load_require TOOL...        exit 2 unless every tool is installed
#   load_binary                 sets $bin: $CAREFILL_BIN, or a release build of carefill
#   load_start_demo PORT [ARG]  starts the server (extra serve ARGs allowed); sets $tmp, $pid,
#                               $base (http://127.0.0.1:PORT) and $keys (the keys file)
#   load_key ROLE               prints the demo key of ROLE (broker, integrator, admin, ...)
#   load_machine                prints the load average and the CPU count
#   load_cpu_s PID              prints the CPU seconds (user + system) PID has used so far
#   load_timed CMD...           runs CMD (under /usr/bin/time) and prints the CPU time it used
#                               on stderr
load_require() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || { echo "load: $tool is required" >&2; exit 2; }
  done
}

load_binary() {
  if [ -n "${CAREFILL_BIN:-}" ]; then
    bin=$(realpath "$CAREFILL_BIN")
  else
    cargo build --release --locked -p carefill-api --bin carefill >&2
    bin="$(pwd)/${CARGO_TARGET_DIR:-target}/release/carefill"
  fi
}

load_start_demo() {
  local port=$1
  shift
  tmp=$(mktemp -d)
  base="http://127.0.0.1:$port"
  keys="$tmp/carefill-demo-keys.json"
  (cd "$tmp" && exec "$bin" serve --demo --bind "127.0.0.1:$port" "$@") 2>"$tmp/serve.log" &
  pid=$!
  trap load_stop EXIT
  local _
  for _ in $(seq 1 600); do
    curl -sf "$base/health" >/dev/null 2>&1 && [ -s "$keys" ] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  echo "load: the server did not come up; its log:" >&2
  tail -20 "$tmp/serve.log" >&2
  exit 1
}

load_stop() {
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

load_key() {
  jq -r ".$1" "$keys"
}

load_machine() {
  echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
}

load_cpu_s() {
  # Fields 14 and 15 of /proc/PID/stat (after the parenthesised name): user and system ticks.
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / hz }' \
    "/proc/$1/stat"
}

load_timed() {
  /usr/bin/time -f "cpu: %U s user + %S s system in %e s for: $*" "$@"
}
