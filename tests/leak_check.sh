#!/usr/bin/env bash
# LeakSanitizer over a system-wide run: GCBPF (an ASan build, see
# `make SANITIZE=1`) traces every process for SECONDS while Pythons of every
# build on the machine, non-Python programs and a program whose libpython is
# a FIFO come and go. Fails on a non-zero exit (a leak or any other
# sanitizer report aborts gcbpf at exit) or a report in ASAN_OPTIONS'
# log_path. Usage: leak_check.sh GCBPF SECONDS
set -euo pipefail
gcbpf=$1
secs=${2:-60}
pyenv_root=${PYENV_ROOT:-/root/.pyenv}
dir=$(mktemp -d /tmp/gcbpf-leak.XXXXXX)
chmod 755 "$dir"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}

# A program that needs a libpython that is a FIFO (through LD_LIBRARY_PATH).
mkdir "$dir/stub" "$dir/lib"
echo 'int stub;' | cc -shared -o "$dir/stub/libpython3.12.so.1.0" -x c - \
	-Wl,-soname,libpython3.12.so.1.0
echo 'extern int stub; int main(void) { return stub; }' |
	cc -o "$dir/fifo-prog" -x c - -x none -Wl,--no-as-needed "$dir/stub/libpython3.12.so.1.0"
mkfifo "$dir/lib/libpython3.12.so.1.0"

pythons=(/usr/bin/python3.11 /usr/bin/python3.11d)
for p in "$pyenv_root"/versions/3.*/bin/python3.[0-9] "$pyenv_root"/versions/3.*/bin/python3.[0-9][0-9]; do
	[ -x "$p" ] && pythons+=("$p")
done

"$gcbpf" -a -d "$secs" -q -f jsonl -o "$dir/trace.jsonl" > /dev/null 2> "$dir/stderr" &
gpid=$!
sleep 2
end=$((SECONDS + secs - 4))
n=0
while [ $SECONDS -lt $end ]; do
	for p in "${pythons[@]}"; do
		"$p" -c 'import gc
for i in range(200):
    a = []; a.append(a)
    if i % 50 == 0: gc.collect()' &
	done
	true; sleep 0.05 &
	timeout -k 1 1 env LD_LIBRARY_PATH="$dir/lib" "$dir/fifo-prog" &
	wait $(jobs -p | grep -v "^$gpid$") 2>/dev/null || true
	n=$((n + 1))
done
status=0
wait $gpid || status=$?
echo "leak_check: $n rounds of ${#pythons[@]} Pythons + 2 other programs; gcbpf exit $status"
if [ $status -ne 0 ]; then
	tail -n 40 "$dir/stderr" >&2
	exit 1
fi
