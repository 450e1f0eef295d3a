#!/usr/bin/env bash
# make test: every unit-test program, one total (skips counted); fails at the
# end if any check failed or a program died without its summary line.
passed=0 failed=0 skipped=0 status=0
for t in "$@"; do
	out=$("$t")
	rc=$?
	printf '%s\n' "$out"
	line=$(printf '%s\n' "$out" | grep -E '^[a-z_]+: [0-9]+ passed, [0-9]+ failed' | tail -n 1)
	if [ -z "$line" ]; then
		echo "$t: exited $rc without a summary line: counted as 1 failed"
		failed=$((failed + 1))
		status=1
		continue
	fi
	read -r p f s <<<"$(sed -E 's/^[^:]+: ([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?.*/\1 \2 \4/' <<<"$line")"
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + ${s:-0}))
	[ "$rc" -eq 0 ] && [ "$f" -eq 0 ] || status=1
done
echo "unit: $passed passed, $failed failed, $skipped skipped"
exit $status
