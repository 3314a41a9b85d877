#!/usr/bin/env bash
# Times `go test -count=1 ./...` from a fresh clone of this repository, for
# each commit given, in turn (alternate them to compare on a noisy machine):
#
#   scripts/test-time.sh 9e59579 HEAD 9e59579 HEAD
#
# Each run clones into a new directory (Go's build cache is keyed on the
# package directories, so the clone's packages compile again, as in CI;
# the dependencies stay cached), checks the commit out, and prints one line:
# the commit, the exit status, the wall time, the CPU time of the run and
# the load average before it. Extra `go test` flags come from $GOTESTFLAGS.
set -euo pipefail
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"
repo=$(cd "$(dirname "$0")/.." && pwd)
(($# > 0)) || { echo "usage: $0 COMMIT..." >&2; exit 2; }
for commit in "$@"; do
	dir=$(mktemp -d)
	git clone -q "$repo" "$dir/loyalty"
	git -C "$dir/loyalty" checkout -q "$commit"
	load=$(cut -d' ' -f1 /proc/loadavg)
	rc=0
	TIMEFORMAT='%R %U %S'
	{ time (cd "$dir/loyalty" && go test -count=1 ${GOTESTFLAGS:-} ./... >"$dir/out" 2>&1); } 2>"$dir/time" || rc=$?
	read -r wall user sys <"$dir/time"
	printf '%s exit %d: %s s wall, %s CPU-s (user+sys), load average %s before\n' \
		"$(git -C "$dir/loyalty" rev-parse --short HEAD)" "$rc" "$wall" "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.0f", u + s }')" "$load"
	if ((rc != 0)); then grep -E '^(--- FAIL|FAIL)' "$dir/out" | sed 's/^/    /' || true; fi
	rm -rf "$dir"
done
