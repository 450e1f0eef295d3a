#!/usr/bin/env bash
# Per-collection cost gcbpf adds, against the physical floor of an entry/exit
# design (the same probes with empty BPF programs), in one run:
#   untraced | gcbpf --empty-probes | gcbpf --clock-probes | gcbpf
# for the USDT path (Debian python3.11) and the uprobe path (a pyenv build).
# --clock-probes only time each collection (two clock reads, per-thread
# state): what any pause tracer must do on top of the empty probes.
# Rounds are interleaved and the median taken, so machine noise hits all
# alike. Goal: gcbpf's added cost <= 1.10 x the empty probes' added cost.
# Usage: scripts/bench.sh [COLLECTIONS] [ROUNDS]   (needs root)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
ROUNDS=${2:-15}
GCBPF=${GCBPF:-./gcbpf}
TARGET=tests/progs/bench_collect.py
PYENV_ROOT=${PYENV_ROOT:-$(pyenv root 2>/dev/null || echo /root/.pyenv)}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

RESULT=$(mktemp)
trap 'rm -f "$RESULT"' EXIT

one() { # MODE PYTHON -> ns per collection
	local mode=$1 py=$2
	case $mode in
	untraced) "$py" $TARGET "$N" "$RESULT" ;;
	empty) "$GCBPF" --empty-probes -q -- "$py" $TARGET "$N" "$RESULT" >/dev/null 2>&1 ;;
	clock) "$GCBPF" --clock-probes -q -- "$py" $TARGET "$N" "$RESULT" >/dev/null 2>&1 ;;
	gcbpf) "$GCBPF" -q -- "$py" $TARGET "$N" "$RESULT" >/dev/null 2>&1 ;;
	esac
	cat "$RESULT"
}

bench() { # LABEL PYTHON
	local label=$1 py=$2 mode r
	declare -A res
	for mode in $MODES; do res[$mode]=""; done
	for ((r = 0; r < ROUNDS; r++)); do
		for mode in $MODES; do
			res[$mode]+="$(one $mode "$py") "
		done
	done
	local u e c g
	u=$(tr ' ' '\n' <<<"${res[untraced]}" | grep . | median)
	e=$(tr ' ' '\n' <<<"${res[empty]}" | grep . | median)
	c=$(tr ' ' '\n' <<<"${res[clock]}" | grep . | median)
	g=$(tr ' ' '\n' <<<"${res[gcbpf]}" | grep . | median)
	awk -v l="$label" -v u="$u" -v e="$e" -v c="$c" -v g="$g" 'BEGIN {
		ea = e - u; ca = c - u; ga = g - u;
		printf "%-20s %9d %9d %9d %9d %9d %9d %9d %7.2fx %7.2fx  %s\n", l, u, e, c, g,
			ea, ca, ga, (ea > 0 ? ca / ea : 0), (ea > 0 ? ga / ea : 0),
			(ea > 0 && ga / ea <= 1.10) ? "ok" : "OVER GOAL";
	}'
}

MODES="untraced empty clock gcbpf"
printf '%d collections x %d rounds, median ns per gc.collect(0)\n' "$N" "$ROUNDS"
printf '%-20s %9s %9s %9s %9s %9s %9s %9s %8s %8s\n' PATH untraced empty clock gcbpf \
	+empty +clock +gcbpf clock/e gcbpf/e
[ -x /usr/bin/python3.11 ] && bench "usdt (debian 3.11)" /usr/bin/python3.11
for v in 3.12 3.11 3.13; do
	py=$(ls -d "$PYENV_ROOT"/versions/$v.*/bin/python$v 2>/dev/null | head -1 || true)
	if [ -n "$py" ]; then
		bench "uprobe (pyenv $v)" "$py"
		break
	fi
done
