#!/usr/bin/env bash
# What each part of gcbpf's probes costs: builds variants of the BPF programs
# in a copy of the tree, each with one part taken out, and prints every
# program's ns per run (BPF run-time statistics, scripts/bench.py's helpers)
# under MODE (a scripts/bench.py mode: "-q --stats", "jsonl", ...) against the
# unchanged build. The differences are the parts' costs. Variants (each a sed
# on a copy of bpf/gcbpf.bpf.c):
#   no-entry-read  the entry's 136-byte bpf_probe_read_user of the statistics
#   entry-read-8   ... reading 8 bytes instead
#   no-entry-clock the entry's bpf_ktime_get_ns
#   no-hist        the exit's histogram update (lookup included)
#   no-record      the ring-buffer record of an event, reserve to submit (only
#                  modes that push events, e.g. jsonl, make one)
#   no-ids         ... in it, the comm, cgroup id and RSS (direct BTF loads)
# Usage: scripts/bench_parts.sh [COLLECTIONS [MODE]]   (root)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
MODE=${2:--q --stats}
TMP=$(mktemp -d /var/tmp/gcbpf-parts.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
variant() { # NAME [SED-EXPRESSION...]: each must change the source
	local name=$1 d=$TMP/$1 e
	local src=$d/bpf/gcbpf.bpf.c
	mkdir -p "$d"
	cp -r Makefile bpf user vmlinux "$d"/
	shift
	for e in "$@"; do
		cp "$src" "$src.before"
		sed -i "$e" "$src"
		if cmp -s "$src.before" "$src"; then
			echo "bench_parts: variant $name: '$e' changed nothing (the source moved on)" >&2
			exit 1
		fi
		rm "$src.before"
	done
	make -s -C "$d" gcbpf >/dev/null
}
variant as-is
variant no-entry-read 's/st->stats_ok = read_snapshot(l, st->stats_addr, st->before) == 0;/st->stats_ok = st->stats_addr != 0;/'
variant entry-read-8 's/st->stats_ok = read_snapshot(l, st->stats_addr, st->before) == 0;/st->stats_ok = bpf_probe_read_user(st->before, 8, (void *)st->stats_addr) == 0;/'
variant no-entry-clock 's/\tst->ts_start = bpf_ktime_get_ns();/\tst->ts_start = 1;/'
variant no-hist 's/^\tif (targ_aggregate)$/\tif (0)/'
variant no-ids 's/^\te->cgroup_id = current_cgroup_id();/\te->cgroup_id = 0;/' \
	's/^\te->rss = current_rss();/\te->rss = 0;/' \
	's/^\tprocess_comm(e->comm);$/\t__builtin_memset(e->comm, 0, sizeof(e->comm));/'
variant no-record 's/^\tif (!targ_events || ts_stop - st->ts_start < targ_min_ns)$/\tif (1)/'
exec /usr/bin/python3 scripts/bench.py --parts "$TMP" "$N" "$MODE"
