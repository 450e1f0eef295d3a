#!/usr/bin/env bash
# gcbpf's cost against the floor of an entry/exit design: see scripts/bench.py.
# Usage: scripts/bench.sh   (root; BENCH_QUICK=1 for a smoke test in seconds)
set -euo pipefail
cd "$(dirname "$0")/.."
# The end-to-end part runs Debian's mypy (not needed by CI, nor in quick mode).
if [ "${BENCH_QUICK:-0}" != 1 ] && ! dpkg -s mypy >/dev/null 2>&1; then
	apt-get install -y mypy python3-pytest >/dev/null || echo "bench: cannot install mypy: no mypy row" >&2
fi
exec /usr/bin/python3 scripts/bench.py "$@"
