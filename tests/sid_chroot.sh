#!/usr/bin/env bash
# Create (or reuse) a Debian sid chroot holding the interpreters that
# tests/test_sid.py traces: python3.13/3.14/3.15 (static, USDT) and the
# 3.14/3.15 debug builds.
#
#     tests/sid_chroot.sh DIR            (as root; default DIR /var/tmp/gcbpf-sid)
#
# Reuse: when DIR/.gcbpf-sid-stamp lists the same packages and the
# interpreters are there, nothing is downloaded (takes milliseconds).
# Otherwise the chroot is built with debootstrap into DIR.new and renamed to
# DIR on success, so an interrupted run never leaves a half-built DIR.
# The mirror is the machine's Debian mirror from its apt sources (override:
# GCBPF_SID_MIRROR=URL).  -dbg packages that sid does not have are skipped
# with a message; the stamp records which were installed.
#
# Exit status 0 when DIR is usable, non-zero (with the reason on stderr)
# otherwise, e.g. without network.  tests/run.sh turns that into skips.
set -euo pipefail

DIR=${1:-/var/tmp/gcbpf-sid}
SUITE=sid
BASE_PKGS="python3.13-minimal python3.14-minimal python3.15-minimal"
DBG_PKGS="python3.13-dbg python3.14-dbg python3.15-dbg"
STAMP_NAME=.gcbpf-sid-stamp
WANT="suite=$SUITE packages=$BASE_PKGS $DBG_PKGS"

say() { echo "sid_chroot: $*" >&2; }
die() { say "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot)"
case "$DIR" in
/ | "") die "refusing DIR '$DIR'" ;;
esac
DIR=$(realpath -m "$DIR")

stamp_ok() {
	local d=$1 v
	[ -f "$d/$STAMP_NAME" ] || return 1
	[ "$(sed -n 1p "$d/$STAMP_NAME")" = "$WANT" ] || return 1
	for v in 3.13 3.14 3.15; do
		[ -x "$d/usr/bin/python$v" ] || return 1
	done
	return 0
}

if stamp_ok "$DIR"; then
	say "reusing $DIR ($(sed -n 2p "$DIR/$STAMP_NAME"))"
	exit 0
fi

# The Debian mirror this machine uses (not debian-security, not backports'
# own hosts): deb822 URIs: lines first, then one-line "deb URI suite" lines.
mirror() {
	local u
	if [ -n "${GCBPF_SID_MIRROR:-}" ]; then
		echo "$GCBPF_SID_MIRROR"
		return 0
	fi
	{
		cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
			sed -n 's/^[[:space:]]*URIs:[[:space:]]*//p' | tr ' \t' '\n\n'
		cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
			sed -n 's/^[[:space:]]*deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p'
	} | while read -r u; do
		case "$u" in
		*security*) ;;
		http://*/debian | http://*/debian/ | https://*/debian | https://*/debian/) echo "${u%/}" ;;
		esac
	done | head -n 1
}
MIRROR=$(mirror || true)
[ -n "$MIRROR" ] || die "no Debian mirror (URIs: .../debian) in /etc/apt/sources.list{,.d/*}; set GCBPF_SID_MIRROR=URL"

if ! command -v debootstrap >/dev/null 2>&1; then
	say "installing debootstrap"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; } >&2 ||
		die "cannot install debootstrap with apt-get"
fi

NEW=$DIR.new
LOG=$(mktemp /tmp/gcbpf-sid-debootstrap.XXXXXX)

# Remove a half-built tree, but never one with something mounted inside.
clean_new() {
	if [ -e "$NEW" ]; then
		if grep -q " $NEW[/ ]" /proc/self/mountinfo 2>/dev/null; then
			die "$NEW has mounts inside (an interrupted debootstrap?); unmount them and remove it"
		fi
		rm -rf --one-file-system "$NEW"
	fi
}

bootstrap() {	# bootstrap "pkgs,comma,separated"
	clean_new
	mkdir -p "$(dirname "$NEW")"
	say "debootstrap --variant=minbase --include=$1 $SUITE $NEW $MIRROR (log: $LOG)"
	debootstrap --variant=minbase --include="$1" "$SUITE" "$NEW" "$MIRROR" >>"$LOG" 2>&1
}

installed_dbg=""
skipped_dbg=""
all=$(echo $BASE_PKGS $DBG_PKGS | tr ' ' ',')
if bootstrap "$all"; then
	installed_dbg=$DBG_PKGS
else
	if grep -q "Failed getting release file" "$LOG"; then
		tail -n 3 "$LOG" >&2
		clean_new
		die "debootstrap cannot reach $MIRROR (no network?); see $LOG"
	fi
	say "debootstrap with the -dbg packages failed (last lines of $LOG):"
	tail -n 5 "$LOG" >&2
	say "retrying without them; they will be installed with apt-get inside"
	if ! bootstrap "$(echo $BASE_PKGS | tr ' ' ',')"; then
		tail -n 20 "$LOG" >&2
		clean_new
		die "debootstrap of $SUITE from $MIRROR failed (no network?); see $LOG"
	fi
	chroot "$NEW" apt-get update -qq >>"$LOG" 2>&1 || true
	for p in $DBG_PKGS; do
		if ! chroot "$NEW" apt-cache show "$p" >/dev/null 2>&1; then
			say "SKIPPING $p: no such package in $SUITE"
			skipped_dbg="$skipped_dbg $p"
		elif DEBIAN_FRONTEND=noninteractive chroot "$NEW" apt-get install -y -qq \
			--no-install-recommends "$p" >>"$LOG" 2>&1; then
			installed_dbg="$installed_dbg $p"
		else
			say "SKIPPING $p: apt-get install failed inside the chroot (see $LOG)"
			skipped_dbg="$skipped_dbg $p"
		fi
	done
	chroot "$NEW" apt-get clean >/dev/null 2>&1 || true
fi

for v in 3.13 3.14 3.15; do
	[ -x "$NEW/usr/bin/python$v" ] || die "$NEW/usr/bin/python$v missing after debootstrap; see $LOG"
done
mkdir -p "$NEW/tmp" && chmod 1777 "$NEW/tmp"
{
	echo "$WANT"
	echo "mirror=$MIRROR dbg=$(echo $installed_dbg) skipped=$(echo $skipped_dbg) built=$(date -u +%FT%TZ)"
} >"$NEW/$STAMP_NAME"

if [ -e "$DIR" ]; then	# an older/foreign tree: replace it
	grep -q " $DIR[/ ]" /proc/self/mountinfo 2>/dev/null &&
		die "$DIR has mounts inside; not replacing it (built tree left in $NEW)"
	rm -rf --one-file-system "$DIR"
fi
mv "$NEW" "$DIR"
rm -f "$LOG"
say "built $DIR ($(sed -n 2p "$DIR/$STAMP_NAME"))"
