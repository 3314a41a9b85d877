#!/usr/bin/env bash
# Runs `loyalty bench` at several sizes on a scratch Redis, then the HTTP
# phase against a `loyalty serve` on the same board (and the user's
# alternative, a Gin route the bench serves from its sorted set): the tables
# of docs/performance.md. Usage: scripts/bench-sizes.sh [N...] (default 1M 10M 50M).
# Needs redis-server; uses port 6392 (REDIS_PORT) and 18090 (HTTP_PORT; with
# BEFORE also HTTP_PORT+2); writes bench-N.txt/json and bench-http-N.txt/json
# in OUT (default .).
# PHASES: the first run's phases (default all; "check" seeds and checks only).
# DURATION: per phase (default 10s).
# BEFORE=path/to/an/older/loyalty: also serve the board with that binary and
# measure it in the same HTTP run (--http-before), for before/after figures
# (with PHASES=check when that build is older than the two-field log entries);
# and, WRITE_ROUNDS times (default 3), run the write phases with the older
# binary and then with this one on the same board (bench-writes-N-before-R.txt,
# bench-writes-N-after-R.txt), after the HTTP phase (a build older than the
# two-field log entries can't follow a log this one wrote): the load of a
# shared machine drifts, so the write figures are compared round by round.
# IDS_BENCH=0 skips the first step: Redis memory and CPU per remembered id
# at the brief's density (go test -bench RememberedIDs, bench-ids.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[[ ${#sizes[@]} -gt 0 ]] || sizes=(1000000 10000000 50000000)
port=${REDIS_PORT:-6392} http=${HTTP_PORT:-18090} out=${OUT:-.} dir=$(mktemp -d)
phases=${PHASES:-check,dashboards,writes,mixed} duration=${DURATION:-10s}
go build -o "$dir/loyalty" ./cmd/loyalty
if [[ ${IDS_BENCH:-1} != 0 ]]; then
  go test -run X -bench RememberedIDs -benchtime 40000x ./histogram/redisindex/ | tee "$out/bench-ids.txt"
fi
export LOYALTY_REDIS_ADDR=127.0.0.1:$port LOYALTY_REDIS_PREFIX=bench LOYALTY_LOG_LEVEL=warn
# serve needs a ClickHouse address; the bench writes no ledger, so an unreachable one will do.
export LOYALTY_CLICKHOUSE_ADDR=127.0.0.1:1
export LOYALTY_AUTH_HS256_KEY=${LOYALTY_AUTH_HS256_KEY:-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')}
export LOYALTY_PROXY_KEY=${LOYALTY_PROXY_KEY:-$LOYALTY_AUTH_HS256_KEY}
pids=()
stop_servers() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
trap 'stop_servers; redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
serve() { # serve BINARY PORT: starts a server on the board, waits until it is ready
  LOYALTY_HTTP_ADDR=127.0.0.1:$2 "$1" serve >>"$dir/serve.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$2/readyz" >/dev/null && return; sleep 1; done
  echo "serve $1 on port $2 not ready after 600 s" >&2
  exit 1
}
for n in "${sizes[@]}"; do
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  sleep 1
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly no --daemonize yes >/dev/null
  sleep 1
  echo "== $n customers"
  "$dir/loyalty" bench --customers "$n" --duration "$duration" --phases "$phases" --json "$out/bench-$n.json" | tee "$out/bench-$n.txt"
  serve "$dir/loyalty" "$http"
  before=()
  if [[ -n ${BEFORE:-} ]]; then
    serve "$BEFORE" $((http + 2))
    before=(--http-before "http://127.0.0.1:$((http + 2))")
  fi
  token=$("$dir/loyalty" token bench --role staff --ttl 3h)
  "$dir/loyalty" bench --customers "$n" --duration "$duration" --skip-seed --phases http \
    --http "http://127.0.0.1:$http" "${before[@]}" --token "$token" --json "$out/bench-http-$n.json" | tee "$out/bench-http-$n.txt"
  echo "serve RSS: $(ps -o rss= -p "${pids[0]}") KB"
  stop_servers
  if [[ -n ${BEFORE:-} ]]; then
    for r in $(seq 1 "${WRITE_ROUNDS:-3}"); do
      for side in before after; do
        bin=$dir/loyalty
        [[ $side == before ]] && bin=$BEFORE
        echo "== $n customers, writes, round $r, $side"
        "$bin" bench --customers "$n" --duration "$duration" --skip-seed --phases writes | tee "$out/bench-writes-$n-$side-$r.txt"
      done
    done
  fi
  sleep 2
done
