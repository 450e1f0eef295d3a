#!/usr/bin/env bash
# Seed corpora for the fuzz targets, built from the binaries on this machine
# (Debian python3.11, pyenv libpythons, the sid chroot's) and from small
# fixtures compiled here; nothing binary is checked in. Usage: seeds.sh DIR
set -euo pipefail
out=$1
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$out"
mkdir -p "$out"/{elf,disasm,debugdata,usdt_arg,proc,ldso,py_build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Real interpreters, cut down to the parts gcbpf reads that are small: the
# notes (build id, USDT), the debug link, the dynamic section and its strings.
pyenv_root=${PYENV_ROOT:-/root/.pyenv}
sid_root=${GCBPF_SID_ROOT:-/var/tmp/gcbpf-sid}
reals=()
for f in /usr/bin/python3.11 /usr/bin/python3.11d \
	 "$pyenv_root"/versions/3.*/lib/libpython3.*.so.1.0 \
	 "$sid_root"/usr/bin/python3.1[3-5] "$sid_root"/usr/bin/python3.1[3-5]d; do
	[ -f "$f" ] && reals+=("$f")
done
i=0
for f in "${reals[@]}"; do
	i=$((i + 1))
	keep=(--only-section=.note.stapsdt --only-section=.stapsdt.base --only-section=.probes
	      --only-section=.note.gnu.build-id --only-section=.gnu_debuglink
	      --only-section=.note.ABI-tag)
	objcopy "${keep[@]}" "$f" "$out/elf/notes-$i" 2>/dev/null || true
	objcopy "${keep[@]}" --only-section=.dynamic --only-section=.dynstr "$f" \
		"$out/elf/dynamic-$i" 2>/dev/null || true
	# The USDT argument specs as the notes carry them.
	readelf -nW "$f" 2>/dev/null | sed -n 's/^ *Arguments: //p' | sort -u |
		while read -r spec; do
			printf '%s' "$spec" > "$out/usdt_arg/$(printf '%s' "$spec" | md5sum | cut -c1-12)"
		done
	# The collector's neighbourhood for the disassembly scan: .text and what
	# the scan looks up (PyGC_Collect in .dynsym, .eh_frame_hdr), from one
	# stripped libpython per minor 3.9+ (a few MB each).
	case $f in
	*/libpython3.9.so.1.0|*/libpython3.1[0-9].so.1.0)
		objcopy --only-section=.text --only-section=.dynsym --only-section=.dynstr \
			--only-section=.eh_frame_hdr --only-section=.eh_frame "$f" \
			"$out/disasm/$(basename "$f")" 2>/dev/null || true ;;
	esac
done
find "$out" -type f -empty -delete

# Small fixtures: a fake libpython with a .symtab, Py_Version, _PyRuntime,
# PyGC_Collect calling its collector the way 3.13+ does, and callers.
cat > "$tmp/fake.c" <<'C'
const unsigned long Py_Version = 0x030d00f0;
char _PyRuntime[4096] = { 1 };
static volatile long sink;
__attribute__((noinline)) long gc_collect_main(void *tstate, int gen, int reason)
{ sink += gen + reason; return sink; }
__attribute__((noinline)) long _PyGC_CollectNoFail(void *t) { return gc_collect_main(t, 2, 1) + 1; }
__attribute__((noinline)) long _Py_RunGC(void *t) { return gc_collect_main(t, 0, 0) + 2; }
__attribute__((noinline)) long _PyGC_Fini(void *t) { return gc_collect_main(t, 2, 3) + 3; }
long PyGC_Collect(void) { return gc_collect_main(_PyRuntime, 2, 2) + 4; }
C
cc -shared -fPIC -O2 -Wl,--build-id=sha1 -Wl,-soname,libpython3.13.so.1.0 \
	-Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN/../lib' -o "$tmp/fake.so" "$tmp/fake.c"
cp "$tmp/fake.so" "$out/elf/fake-symtab"
cp "$tmp/fake.so" "$out/py_build/fake-symtab"
strip --strip-all -o "$tmp/fake-stripped.so" "$tmp/fake.so"
cp "$tmp/fake-stripped.so" "$out/disasm/fake-stripped"
cp "$tmp/fake-stripped.so" "$out/py_build/fake-stripped"
# MiniDebugInfo as Fedora builds it: the .symtab alone, xz-compressed, in .gnu_debugdata.
objcopy --only-keep-debug "$tmp/fake.so" "$tmp/mini"
xz -c "$tmp/mini" > "$out/debugdata/fake.xz"
objcopy --add-section .gnu_debugdata="$out/debugdata/fake.xz" "$tmp/fake-stripped.so" \
	"$out/py_build/fake-minidebuginfo"
cp "$out/py_build/fake-minidebuginfo" "$out/elf/fake-minidebuginfo"
printf 'not xz' > "$out/debugdata/text"

# /proc text: the first byte picks maps (0), environ (1) or a #! line (2).
{ printf '\0'; head -n 40 /proc/self/maps | grep -m1 '/'; } > "$out/proc/maps-file"
printf '\0%s %s\n' "7f0000000000-7f0000001000 r-xp 00000000 08:01 99" \
	"/tmp/x/libpython3.11.so.1.0 (deleted)" > "$out/proc/maps-deleted"
printf '\0%s\n' "7ffd0000-7ffd1000 rw-p 00000000 00:00 0   [stack]" > "$out/proc/maps-anon"
printf '\1A=1\0LD_LIBRARY_PATH=/opt/py/lib:$ORIGIN\0B=2\0' > "$out/proc/environ"
printf '\2#!/usr/bin/env -S python3 -u\n' > "$out/proc/shebang-env"
printf '\2#!/usr/bin/python3.11\nimport sys\n' > "$out/proc/shebang"

# ld.so search: exe \n runpath \n lib \n LD_LIBRARY_PATH (first byte: bit 0 = RUNPATH).
printf '\1/usr/bin/python3\n$ORIGIN/../lib\nlibpython3.11.so.1.0\n/opt/py/lib' > "$out/ldso/runpath"
printf '\0/opt/py/bin/python3\n/lib\nlibpython3.12.so.1.0\n' > "$out/ldso/rpath"
printf '\0/x\n\nlibpython3.13.so.1.0\n/opt/py/lib:/lib:.' > "$out/ldso/symlink"
printf '\0/x\n\nlibpython3.10.so.1.0\n/lib' > "$out/ldso/fifo"
for d in "$out"/*; do
	echo "seeds: $(basename "$d"): $(ls "$d" | wc -l) files, $(du -sh "$d" | cut -f1)"
done
