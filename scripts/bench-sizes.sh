#!/usr/bin/env bash
# Runs `loyalty bench` at several sizes on a scratch Redis, then the HTTP
# phase against a `loyalty serve` on the same board: the tables of
# docs/performance.md. Usage: scripts/bench-sizes.sh [N...] (default 1M 10M 50M).
# Needs redis-server; uses port 6392 (REDIS_PORT) and 18090 (HTTP_PORT);
# writes bench-N.txt/json and bench-http-N.txt/json in OUT (default .).
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[[ ${#sizes[@]} -gt 0 ]] || sizes=(1000000 10000000 50000000)
port=${REDIS_PORT:-6392} http=${HTTP_PORT:-18090} out=${OUT:-.} dir=$(mktemp -d)
go build -o "$dir/loyalty" ./cmd/loyalty
export LOYALTY_REDIS_ADDR=127.0.0.1:$port LOYALTY_REDIS_PREFIX=bench LOYALTY_HTTP_ADDR=127.0.0.1:$http LOYALTY_LOG_LEVEL=warn
# serve needs a ClickHouse address; the bench writes no ledger, so an unreachable one will do.
export LOYALTY_CLICKHOUSE_ADDR=127.0.0.1:1
export LOYALTY_AUTH_HS256_KEY=${LOYALTY_AUTH_HS256_KEY:-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')}
export LOYALTY_PROXY_KEY=${LOYALTY_PROXY_KEY:-$LOYALTY_AUTH_HS256_KEY}
trap 'pkill -f "$dir/loyalty serve" || true; redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
for n in "${sizes[@]}"; do
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  sleep 1
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly no --daemonize yes >/dev/null
  sleep 1
  echo "== $n customers"
  "$dir/loyalty" bench --customers "$n" --duration 10s --json "$out/bench-$n.json" | tee "$out/bench-$n.txt"
  "$dir/loyalty" serve >"$dir/serve.log" 2>&1 &
  for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$http/readyz" >/dev/null && break; sleep 1; done
  token=$("$dir/loyalty" token bench --role staff --ttl 3h)
  "$dir/loyalty" bench --customers "$n" --duration 10s --skip-seed --phases http \
    --http "http://127.0.0.1:$http" --token "$token" --json "$out/bench-http-$n.json" | tee "$out/bench-http-$n.txt"
  echo "serve RSS: $(ps -o rss= -p "$(pgrep -f "$dir/loyalty serve")") KB"
  pkill -f "$dir/loyalty serve" || true
  sleep 2
done
