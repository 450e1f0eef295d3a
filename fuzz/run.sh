#!/usr/bin/env bash
# Runs every fuzz target built in DIR for SECONDS each, two at a time (the
# CI machine has 2 cores), on seeds made by fuzz/seeds.sh; the corpus grows
# in DIR/corpus. Any finding (crash, ASan/UBSan report, leak, timeout, OOM)
# fails the run and leaves its input in DIR/artifacts. Usage: run.sh DIR SECONDS
set -euo pipefail
dir=$1
secs=${2:-60}
here=$(cd "$(dirname "$0")" && pwd)
jobs=${FUZZ_JOBS:-2}
bash "$here/seeds.sh" "$dir/seeds" >/dev/null
mkdir -p "$dir/artifacts" "$dir/logs"
targets=$(cd "$dir" && ls fuzz_* | sed 's/^fuzz_//')

run_one() {
	local dir=$1 secs=$2 t=$3 corpus=$1/corpus/$3 max
	mkdir -p "$corpus"
	cp -n "$dir/seeds/$t"/* "$corpus"/ 2>/dev/null || true
	# Seeds whole: libFuzzer would cut longer inputs at its default 4 KB-1 MB.
	max=$(find "$corpus" -type f -printf '%s\n' | sort -n | tail -1)
	max=$(( ${max:-0} > 4096 ? max : 4096 ))
	ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		"$dir/fuzz_$t" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2560 \
		-max_len="$max" -print_final_stats=1 -artifact_prefix="$dir/artifacts/$t-" \
		"$corpus" > "$dir/logs/$t.log" 2>&1
	local rc=$? runs
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/logs/$t.log" | tail -1)
	printf 'fuzz %-10s %3ss %10s runs  %s\n' "$t" "$secs" "${runs:-?}" \
		"$([ $rc -eq 0 ] && echo ok || echo "FAILED (rc $rc, see $dir/logs/$t.log)")"
	return $rc
}
export -f run_one
status=0
echo "$targets" | xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ "$dir" "$secs" {} || status=1
if [ $status -ne 0 ] || ls "$dir"/artifacts/* >/dev/null 2>&1; then
	echo "fuzz: findings in $dir/artifacts:" >&2
	ls -l "$dir"/artifacts >&2 || true
	for l in "$dir"/logs/*.log; do
		grep -q -E 'ERROR: |runtime error|SUMMARY' "$l" || continue
		echo "== $l" >&2
		grep -m 20 -E 'ERROR|runtime error|#[0-9] |SUMMARY' "$l" >&2
	done
	exit 1
fi
echo "fuzz: no findings"
