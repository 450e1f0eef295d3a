#!/usr/bin/env bash
# Everything CI runs, from a fresh Debian bookworm machine, as root:
# installs the build and test dependencies, builds, runs the unit tests
# (no root needed) and the ground-truth tests (real BPF, real Pythons).
set -euo pipefail
cd "$(dirname "$0")/.."

# Each stage's wall time, said in one line at the end, also when a stage
# fails (the EXIT trap): where the 45 minutes go.
STAGE_TIMES=""
stage_name=""
stage_start=0
stage() {
	local now=$SECONDS
	[ -z "$stage_name" ] || STAGE_TIMES="$STAGE_TIMES${STAGE_TIMES:+, }$stage_name $((now - stage_start))s"
	stage_name=$1
	stage_start=$now
}
stage_report() {
	local rc=$?
	stage ""
	[ -z "$STAGE_TIMES" ] || echo "tests/run.sh: stage times: $STAGE_TIMES; total ${SECONDS}s" >&2
	return $rc
}
trap stage_report EXIT

if [ "$(id -u)" -ne 0 ]; then
	echo "tests/run.sh: must run as root (apt-get, and loading BPF programs)" >&2
	exit 1
fi
# Debian packages only: the toolchain, libbpf 1.1, the interpreters under test.
PKGS="make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config
      python3 python3-pytest python3-pyflakes python3.11-dbg binutils libcapstone-dev liblzma-dev
      xz-utils libmicrohttpd-dev prometheus bpftrace curl libncurses-dev tmux
      libfuzzer-14-dev util-linux debhelper dpkg-dev lintian debootstrap systemd systemd-container strace
      libjson-c-dev libjs-chart.js chromium"
stage install
missing=$(for p in $PKGS; do dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
	grep -q 'install ok installed' || echo "$p"; done)
if [ -n "$missing" ]; then
	echo "tests/run.sh: installing: $(echo $missing)"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

stage build
make -s clean
make -s
stage unit
make -s test
# Debian sid chroot (python3.13-3.15 and -dbg builds) for tests/test_sid.py;
# reused when up to date.  If it cannot be built (no network), the sid tests
# are skips that carry the reason instead of failing the run.
stage "sid chroot"
SID_ROOT=/var/tmp/gcbpf-sid
sid_log=$(mktemp)
if bash tests/sid_chroot.sh "$SID_ROOT" 2>&1 | tee "$sid_log" >&2; then
	export GCBPF_SID_ROOT=$SID_ROOT
	unset GCBPF_SID_ERROR
else
	export GCBPF_SID_ERROR="$(tail -n 3 "$sid_log" | tr '\n' ' ')"
	echo "tests/run.sh: sid chroot unavailable, tests/test_sid.py will skip: $GCBPF_SID_ERROR" >&2
fi
rm -f "$sid_log"
# /usr/bin/python3: Debian's, which has pytest (a pyenv shim on PATH may not).
stage pytest
GCBPF_REQUIRE=1 /usr/bin/python3 -m pytest -q -rs tests/ "$@"

# The same suite once more against an ASan+UBSan build: any report aborts
# that gcbpf (a failed test) and leaves a log file, which fails the run even
# where a test expected gcbpf to fail. The unit tests first, under both.
stage "asan build"
make -s SANITIZE=1
make -s SANITIZE=1 test
san_logs=$(mktemp -d)
chmod 1777 "$san_logs"	# gcbpf runs as nobody in test_errors
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:log_path=$san_logs/asan"
# UBSan (gcc) reports on stderr whatever log_path says; it aborts too (exit 134).
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1"
san_status=0
stage "asan pytest"
# Tests marked first_pass (conftest.py) build their own binaries or repeat a build
# matrix over the same loader code: once is enough.
GCBPF="$PWD/gcbpf-asan" GCBPF_REQUIRE=1 /usr/bin/python3 -m pytest -q -rs -m "not first_pass" tests/ "$@" ||
	san_status=$?
# LeakSanitizer over a minute of system-wide tracing with processes coming and going.
stage "leak check"
bash tests/leak_check.sh "$PWD/gcbpf-asan" 60 || san_status=1
unset ASAN_OPTIONS UBSAN_OPTIONS
if ls "$san_logs"/* >/dev/null 2>&1; then
	echo "tests/run.sh: sanitizer reports:" >&2
	head -n 40 "$san_logs"/* >&2
	san_status=1
fi
rm -rf "$san_logs"
[ $san_status -eq 0 ] || { echo "tests/run.sh: the sanitizer pass failed" >&2; exit 1; }

# Every fuzz target for 60 s (two at a time), on seeds from this machine's
# interpreters; any finding fails.
stage fuzz
make -s fuzz FUZZ_TIME=60
