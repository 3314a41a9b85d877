#!/usr/bin/env bash
# The project's test command (`make test` runs it; CI runs `make test`).
#
# 1. Installs what the tests need when it is missing: redis-server,
#    clickhouse-server (+client), docker-compose and chromium (for the web
#    page's browser tests) from Debian's packages.
#    It starts no server: the Go tests start their own redis-server and
#    clickhouse-server on free loopback ports (internal/testenv).
# 2. gofmt, go vet, and a docker-compose.yml validation.
# 3. go test ./... ; extra flags come from $GOTESTFLAGS, e.g.
#    GOTESTFLAGS='-run TestRank -v' make test
set -euo pipefail

cd "$(dirname "$0")/.."

# Debian puts clickhouse-server in /usr/sbin, which a non-root PATH may lack;
# internal/testenv looks it up on PATH.
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"

section() { printf '\n==== %s ====\n' "$*"; }

section "dependencies"
missing=()
for bin in redis-server clickhouse-server clickhouse-client docker-compose chromium; do
	command -v "$bin" >/dev/null 2>&1 || missing+=("$bin")
done
if ((${#missing[@]} == 0)); then
	echo "redis-server, clickhouse-server, clickhouse-client, docker-compose, chromium: present"
else
	if [[ $(id -u) -eq 0 ]]; then
		sudo=()
	elif command -v sudo >/dev/null 2>&1; then
		sudo=(sudo)
	else
		echo "error: ${missing[*]} not installed, and this is not root and sudo is not available." >&2
		echo "Install them as root: apt-get update && apt-get install -y --no-install-recommends redis-server clickhouse-server clickhouse-client docker-compose chromium" >&2
		exit 1
	fi
	echo "missing: ${missing[*]}; installing from Debian's packages"
	"${sudo[@]}" apt-get update -q
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		redis-server clickhouse-server clickhouse-client docker-compose chromium
	for bin in "${missing[@]}"; do
		command -v "$bin" >/dev/null 2>&1 || { echo "error: $bin still not on PATH after install" >&2; exit 1; }
	done
fi
command -v go >/dev/null 2>&1 || { echo "error: go not found on PATH (expected /usr/local/go/bin)" >&2; exit 1; }
go version

section "gofmt"
mapfile -t gofiles < <(git ls-files -co --exclude-standard '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*')
if ((${#gofiles[@]})); then
	unformatted=$(gofmt -l "${gofiles[@]}")
	if [[ -n $unformatted ]]; then
		echo "error: these files need formatting (run gofmt -w on them):" >&2
		echo "$unformatted" >&2
		exit 1
	fi
fi
echo "ok"

section "go vet"
go vet ./...
echo "ok"

section "docker-compose config"
# The compose file requires the secrets from the environment; dummy values are
# enough to validate its syntax.
LOYALTY_AUTH_HS256_KEY="${LOYALTY_AUTH_HS256_KEY:-validate-only}" \
	LOYALTY_PROXY_KEY="${LOYALTY_PROXY_KEY:-validate-only}" \
	docker-compose -f docker-compose.yml config -q
echo "ok"

section "go test"
# shellcheck disable=SC2086 # GOTESTFLAGS is a list of flags, split on purpose
go test -count=1 -timeout 30m ${GOTESTFLAGS:-} ./...
