#!/usr/bin/env bash
# System-wide tracing at scale: with N idle Python processes running (Debian
# python3.11 and two pyenv builds), how long `gcbpf -a -q` takes from start to
# its "Tracing" line (scan /proc, arm every binary), and how long after a
# binary no process ran before is exec'd it is armed (gcbpf's own "Armed ...
# X ms after pid P exec'd it" line). Each round starts a fresh gcbpf, so the
# fresh binaries are new to it every time. A round with no idle processes
# first gives the floor. Kills everything it started (by pid).
# Usage: scripts/bench_scale.sh [N_IDLE] [ROUNDS]   (needs root, bash 5)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200}
ROUNDS=${2:-5}
GCBPF=${GCBPF:-./gcbpf}
PYENV_ROOT=${PYENV_ROOT:-$(pyenv root 2>/dev/null || echo /root/.pyenv)}

pyenv_py() { ls -d "$PYENV_ROOT"/versions/$1.*/bin/python$1 2>/dev/null | head -1 || true; }

# idle set: Debian's and two pyenv builds; fresh: binaries not in the idle set
IDLE_PYS=()
[ -x /usr/bin/python3.11 ] && IDLE_PYS+=(/usr/bin/python3.11)
for v in 3.12 3.11; do p=$(pyenv_py $v); [ -n "$p" ] && IDLE_PYS+=("$p"); done
FRESH_PYS=()
for v in 3.10 3.9; do p=$(pyenv_py $v); [ -n "$p" ] && FRESH_PYS+=("$p"); done
[ -x /usr/bin/python3.11d ] && FRESH_PYS+=(/usr/bin/python3.11d)
if [ ${#IDLE_PYS[@]} -eq 0 ] || [ ${#FRESH_PYS[@]} -eq 0 ]; then
	echo "bench_scale: need an idle and a fresh interpreter" >&2
	exit 1
fi

WORK=$(mktemp -d)
IDLE_PIDS=()
GPID=
cleanup() {
	[ -n "$GPID" ] && kill -INT "$GPID" 2>/dev/null && wait "$GPID" 2>/dev/null || true
	for p in "${IDLE_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${IDLE_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT


# One gcbpf: ms to "Tracing"; then each fresh binary exec'd once, its Armed ms.
# Prints: attach_ms fresh1_ms fresh2_ms ... sigint_to_exit_ms
round() {
	local err=$WORK/err t0 line armed py out
	rm -f "$err"
	t0=$EPOCHREALTIME
	"$GCBPF" -a -q > /dev/null 2> >(while IFS= read -r l; do
		printf '%s %s\n' "$EPOCHREALTIME" "$l"; done > "$err") &
	GPID=$!
	for ((i = 0; i < 3000; i++)); do
		grep -q ' Tracing' "$err" 2>/dev/null && break
		sleep 0.01
	done
	line=$(grep ' Tracing' "$err" | head -1)
	[ -n "$line" ] || { echo "bench_scale: gcbpf did not start:" >&2; cat "$err" >&2; exit 1; }
	out=$(awk -v a="$t0" '{printf "%.1f", ($1 - a) * 1000}' <<<"$line")
	for py in "${FRESH_PYS[@]}"; do
		"$py" -c 'import os; print(os.getpid())' > "$WORK/pid"
		local pid
		pid=$(cat "$WORK/pid")
		armed=
		for ((i = 0; i < 500; i++)); do
			armed=$(grep "after pid $pid exec'd" "$err" 2>/dev/null |
				sed -n "s/.* \([0-9.]*\) ms after pid.*/\1/p" | head -1)
			[ -n "$armed" ] && break
			sleep 0.01
		done
		out+=" ${armed:-scan}"	# "scan": armed already (some process ran it)
	done
	local t1=$EPOCHREALTIME
	kill -INT "$GPID"
	for ((i = 0; i < 600; i++)); do kill -0 "$GPID" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$GPID" 2>/dev/null; then
		echo "bench_scale: gcbpf (pid $GPID) still running 60 s after SIGINT:" \
			"$(cat /proc/$GPID/wchan 2>/dev/null)" >&2
		kill -KILL "$GPID"
	fi
	wait "$GPID" || true
	GPID=
	out+=" $(awk -v a="$t1" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.0f", (b - a) * 1000}')"
	echo "$out"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
maxv() { sort -n | tail -1; }

table() { # LABEL then rounds on stdin
	local label=$1 rows col
	rows=$(cat)
	printf '%-30s' "$label"
	for ((col = 1; col <= 2 + ${#FRESH_PYS[@]}; col++)); do
		local vals
		vals=$(awk -v c=$col '{print $c}' <<<"$rows" | grep -v scan || true)
		if [ -z "$vals" ]; then printf ' %20s' "-"; continue; fi
		printf ' %11s /%7s' "$(median <<<"$vals")" "$(maxv <<<"$vals")"
	done
	echo
}

header() {
	printf '%-30s %20s' "" "attach all (ms)"
	for py in "${FRESH_PYS[@]}"; do
		local n=${py#"$PYENV_ROOT"/versions/}
		case $py in "$PYENV_ROOT"/*) n="pyenv ${n%%/*}" ;; *) n=${py##*/} ;; esac
		printf ' %20s' "arm $n (ms)"
	done
	printf ' %20s\n%-30s' "exit (ms)" ""
	for ((col = 0; col <= 1 + ${#FRESH_PYS[@]}; col++)); do printf ' %20s' "median /    max"; done
	echo
}

echo "gcbpf $("$GCBPF" --version 2>/dev/null | head -1 | awk '{print $2}'), $(nproc) CPUs, kernel $(uname -r), $ROUNDS rounds"
echo "idle: ${IDLE_PYS[*]}"
echo "fresh (exec'd once per round, not in the idle set): ${FRESH_PYS[*]}"
header

res=$(for ((r = 0; r < ROUNDS; r++)); do round; done)
table "no idle Python" <<<"$res"

for ((i = 0; i < N; i++)); do
	"${IDLE_PYS[i % ${#IDLE_PYS[@]}]}" -c 'import time; time.sleep(600)' &
	IDLE_PIDS+=($!)
done
# all of them up (past exec and ld.so)
sleep 2
for p in "${IDLE_PIDS[@]}"; do kill -0 "$p"; done
running=$(ps -eo comm= | grep -c '^python' || true)
res=$(for ((r = 0; r < ROUNDS; r++)); do round; done)
table "$N idle ($running Pythons running)" <<<"$res"
