"""Builds without USDT and without .symtab: the collector is found from a
separate debug file (build-id, .gnu_debuglink, MiniDebugInfo) or by
disassembling PyGC_Collect, and the trace still matches the ground truth
collection by collection.

Each case copies a pyenv libpython into a temporary directory, turns it
into the build under test (strip, objcopy, xz) and runs that version's
interpreter with LD_LIBRARY_PATH pointing at the copy.
"""
import contextlib
import os
import re
import shutil
import subprocess
import uuid

import pytest

from conftest import WORKLOAD, all_interpreters
import compare_truth  # noqa: F401  (used through test_ground_truth's helpers)
import interpreters
from test_ground_truth import (WORKLOAD_TIMEOUT, EXIT_TIMEOUT, _check_trace,
                               _kill, _read, _truth, _wait_for_tracing)

pytestmark = pytest.mark.needs_root

SLEEPER = "import time; print('ready', flush=True); time.sleep(60)"
DEBUG_ROOT = "/usr/lib/debug"
DISASM_MINORS = (9, 10, 11, 12, 13)


# --------------------------------------------------------------------------
# helpers

def _pyenv(minor):
    """(interp, libpython) of pyenv 3.minor; skips when it is missing."""
    for it in all_interpreters():
        if it.present and it.label.startswith("pyenv-3.%d." % minor):
            libs = [f for f in interpreters.elf_files(it.path)
                    if "libpython" in os.path.basename(f)]
            if not libs:
                pytest.skip("%s links no shared libpython" % it.path)
            return it, libs[0]
    pytest.skip("pyenv 3.%d not installed" % minor)


def _run(*cmd, **kw):
    subprocess.run(list(cmd), check=True, stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, timeout=300, **kw)


def _copy(lib, d):
    """The copy of lib in d, under the SONAME file name the loader wants."""
    d.mkdir(exist_ok=True)
    dst = str(d / os.path.basename(lib))
    shutil.copy(lib, dst)
    return dst


def make_stripped(lib, d):
    dst = _copy(lib, d)
    _run("strip", "--strip-all", dst)
    return dst


def make_debuglink(lib, d):
    """Debug file next to the stripped copy, named by .gnu_debuglink."""
    dst = _copy(lib, d)
    dbg = os.path.basename(dst) + ".debug"
    _run("objcopy", "--only-keep-debug", dst, str(d / dbg))
    _run("strip", "--strip-all", dst)
    _run("objcopy", "--add-gnu-debuglink=" + dbg, os.path.basename(dst),
         cwd=str(d))
    return dst


def _build_id(path):
    out = subprocess.run(["readelf", "-n", path], stdout=subprocess.PIPE,
                         universal_newlines=True, check=True).stdout
    m = re.search(r"Build ID:\s*([0-9a-f]+)", out)
    assert m, "%s has no build id" % path
    return m.group(1)


def _new_build_id(path):
    """Rewrites the build id in place with a random one, so that the debug
    file this test installs under /usr/lib/debug can serve no other file."""
    old = bytes.fromhex(_build_id(path))
    new = uuid.uuid4().bytes + uuid.uuid4().bytes
    new = new[:len(old)]
    with open(path, "r+b") as f:
        data = f.read()
        assert data.count(old) >= 1
        # the note: namesz 4, descsz, type 3 (NT_GNU_BUILD_ID), "GNU\0", id
        off = data.index(b"GNU\0" + old) + 4
        f.seek(off)
        f.write(new)
    assert _build_id(path) == new.hex()
    return new.hex()


@contextlib.contextmanager
def build_id_debug(lib, d):
    """Stripped copy whose debug file sits at the build-id path; removed
    (and the directories this created) afterwards."""
    dst = _copy(lib, d)
    bid = _new_build_id(dst)
    sub = os.path.join(DEBUG_ROOT, ".build-id", bid[:2])
    created = [p for p in (DEBUG_ROOT, os.path.dirname(sub), sub)
               if not os.path.isdir(p)]
    dbg = os.path.join(sub, bid[2:] + ".debug")
    try:
        os.makedirs(sub, exist_ok=True)
        _run("objcopy", "--only-keep-debug", dst, dbg)
        _run("strip", "--strip-all", dst)
        yield dst, dbg
    finally:
        if os.path.exists(dbg):
            os.unlink(dbg)
        for p in reversed(created):
            try:
                os.rmdir(p)
            except OSError:
                pass


def make_minidebuginfo(lib, d):
    """gdb's MiniDebugInfo recipe (what Fedora ships): the function symbols
    not in .dynsym, in an xz-compressed ELF in .gnu_debugdata."""
    dst = _copy(lib, d)
    w = d / "mdi"
    w.mkdir()

    def nm(*args):
        return subprocess.run(["nm"] + list(args) + ["--format=posix",
                                                     "--defined-only", dst],
                              stdout=subprocess.PIPE, check=True,
                              universal_newlines=True).stdout.splitlines()
    dyn = set(l.split()[0] for l in nm("-D"))
    funcs = set(l.split()[0] for l in nm() if l.split()[1] in ("T", "t", "D"))
    (w / "keep").write_text("".join(s + "\n" for s in sorted(funcs - dyn)))
    _run("objcopy", "--only-keep-debug", dst, str(w / "debug"))
    _run("objcopy", "-S", "--remove-section", ".gdb_index", "--remove-section",
         ".comment", "--keep-symbols=" + str(w / "keep"), str(w / "debug"),
         str(w / "mini"))
    _run("xz", str(w / "mini"))
    _run("strip", "--strip-all", "-R", ".comment", dst)
    _run("objcopy", "--add-section", ".gnu_debugdata=" + str(w / "mini.xz"),
         dst)
    shutil.rmtree(str(w))
    return dst


def _env(libdir):
    return dict(os.environ, LD_LIBRARY_PATH=str(libdir))


@contextlib.contextmanager
def sleeper(it, lib):
    """The interpreter, idle, with the copy of libpython mapped."""
    p = subprocess.Popen([it.path, "-c", SLEEPER], env=_env(os.path.dirname(lib)),
                         stdout=subprocess.PIPE, universal_newlines=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        with open("/proc/%d/maps" % p.pid) as f:
            assert lib in f.read(), "LD_LIBRARY_PATH did not map %s" % lib
        yield p
    finally:
        _kill(p)


def gcbpf_list(gcbpf_bin, it, lib):
    with sleeper(it, lib) as p:
        r = subprocess.run([gcbpf_bin, "--list", "-p", str(p.pid)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=60)
    print(r.stdout, r.stderr)
    return r


def listed_ok(gcbpf_bin, it, lib):
    r = gcbpf_list(gcbpf_bin, it, lib)
    assert r.returncode == 0, r.stderr
    line = r.stdout.strip()
    assert lib in line and "probe uprobe" in line, line
    assert "Python %s" % it.version in line, line
    return line


def ground_truth_pid(gcbpf_bin, it, lib, tmp_path):
    """-p mode against the workload running on the copy of libpython."""
    truth_path = tmp_path / "truth.jsonl"
    trace_path = tmp_path / "trace.jsonl"
    gc_err = tmp_path / "gcbpf.stderr"
    wl_err = tmp_path / "workload.stderr"
    go = tmp_path / "go"
    gcbpf = workload = None
    try:
        with open(str(wl_err), "w") as wle:
            workload = subprocess.Popen(
                [it.path, WORKLOAD, "--truth", str(truth_path), "--wait-file",
                 str(go)], stdout=wle, stderr=subprocess.STDOUT,
                env=_env(os.path.dirname(lib)))
        with open(str(gc_err), "w") as e:
            gcbpf = subprocess.Popen(
                [gcbpf_bin, "-p", str(workload.pid), "-f", "jsonl", "-o",
                 str(trace_path)], stdout=subprocess.DEVNULL, stderr=e)
        _wait_for_tracing(gcbpf, str(gc_err))
        with open("/proc/%d/maps" % workload.pid) as f:
            assert lib in f.read(), "workload does not map %s" % lib
        go.write_text("go\n")
        assert workload.wait(timeout=WORKLOAD_TIMEOUT) == 0, _read(str(wl_err))
        assert gcbpf.wait(timeout=EXIT_TIMEOUT) == 0, _read(str(gc_err))
        truth = _truth(truth_path)
        assert truth["pid"] == workload.pid
        _check_trace(it, truth, trace_path, workload.pid,
                     "%s-%s" % (it.label, os.path.basename(lib)))
    finally:
        _kill(workload)
        _kill(gcbpf)


# --------------------------------------------------------------------------
# stripped, no USDT, no debug file: disassembly of PyGC_Collect

@pytest.mark.parametrize("minor", DISASM_MINORS, ids=lambda m: "3.%d" % m)
def test_stripped_disassembly(minor, gcbpf_bin, tmp_path):
    it, lib = _pyenv(minor)
    copy = make_stripped(lib, tmp_path / "lib")
    line = listed_ok(gcbpf_bin, it, copy)
    assert re.search(r"stripped; collector at 0x[0-9a-f]+ found by "
                     r"disassembling PyGC_Collect", line), line
    ground_truth_pid(gcbpf_bin, it, copy, tmp_path)


def test_stripped_disassembly_launch(gcbpf_bin, tmp_path):
    """gcbpf's command resolver honours LD_LIBRARY_PATH like the loader."""
    it, lib = _pyenv(12)
    libdir = tmp_path / "lib"
    copy = make_stripped(lib, libdir)
    truth_path = tmp_path / "truth.jsonl"
    trace_path = tmp_path / "trace.jsonl"
    p = subprocess.run(
        [gcbpf_bin, "-v", "-f", "jsonl", "-o", str(trace_path), "--", it.path,
         WORKLOAD, "--truth", str(truth_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(libdir),
        universal_newlines=True, timeout=WORKLOAD_TIMEOUT)
    assert p.returncode == 0, p.stderr
    assert any(l.startswith("Tracing") for l in p.stderr.splitlines()), \
        p.stderr
    truth = _truth(truth_path)
    _check_trace(it, truth, trace_path, truth["pid"], it.label + "-launch")
    # the stripped copy was the one probed, not the pyenv original
    binaries = set(e.get("binary") for e in
                   compare_truth.load_trace(str(trace_path))
                   if e.get("pid") == truth["pid"])
    assert binaries == {copy}, binaries


def test_stripped_before_39_fails(gcbpf_bin, tmp_path):
    """3.8's collector exists only as clones: no guess, a clear error."""
    it, lib = _pyenv(8)
    copy = make_stripped(lib, tmp_path / "lib")
    r = gcbpf_list(gcbpf_bin, it, copy)
    assert r.returncode != 0, r.stdout
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("gcbpf: "), r.stderr
    assert copy in lines[0], lines[0]
    assert "debug symbols" in lines[0] and "USDT" in lines[0], lines[0]


# --------------------------------------------------------------------------
# separate debug information

def test_debuglink(gcbpf_bin, tmp_path):
    it, lib = _pyenv(12)
    copy = make_debuglink(lib, tmp_path / "lib")
    line = listed_ok(gcbpf_bin, it, copy)
    assert "gc_collect_main from %s.debug" % copy in line, line
    ground_truth_pid(gcbpf_bin, it, copy, tmp_path)


def test_debuglink_bad_crc_ignored(gcbpf_bin, tmp_path):
    """A debug file whose CRC does not match is not used."""
    it, lib = _pyenv(12)
    copy = make_debuglink(lib, tmp_path / "lib")
    with open(copy + ".debug", "ab") as f:
        f.write(b"not the same file")
    line = listed_ok(gcbpf_bin, it, copy)
    assert ".debug" not in line and "disassembling" in line, line


def test_debuglink_36(gcbpf_bin, tmp_path):
    """3.6 also needs the static generation_stats from the debug file."""
    it, lib = _pyenv(6)
    copy = make_debuglink(lib, tmp_path / "lib")
    line = listed_ok(gcbpf_bin, it, copy)
    assert "collect and clones from %s.debug" % copy in line, line
    ground_truth_pid(gcbpf_bin, it, copy, tmp_path)


def test_build_id(gcbpf_bin, tmp_path):
    it, lib = _pyenv(11)
    with build_id_debug(lib, tmp_path / "lib") as (copy, dbg):
        line = listed_ok(gcbpf_bin, it, copy)
        assert "gc_collect_main from %s" % dbg in line, line
        ground_truth_pid(gcbpf_bin, it, copy, tmp_path)


@pytest.mark.parametrize("minor", (8, 13), ids=lambda m: "3.%d" % m)
def test_minidebuginfo(minor, gcbpf_bin, tmp_path):
    it, lib = _pyenv(minor)
    copy = make_minidebuginfo(lib, tmp_path / "lib")
    line = listed_ok(gcbpf_bin, it, copy)
    assert re.search(r"(collect|gc_collect_main).* from \.gnu_debugdata "
                     r"\(MiniDebugInfo\)", line), line
    ground_truth_pid(gcbpf_bin, it, copy, tmp_path)


# --------------------------------------------------------------------------
# Debian's LTO build: gc_collect_main.lto_priv.0, and an out-of-line
# gc_collect_with_callback between PyGC_Collect and the collector

def _launch_uprobe(gcbpf_bin, exe, tmp_path, label):
    truth_path = tmp_path / "truth.jsonl"
    trace_path = tmp_path / "trace.jsonl"
    p = subprocess.run(
        [gcbpf_bin, "--uprobe", "-f", "jsonl", "-o", str(trace_path), "--",
         exe, WORKLOAD, "--truth", str(truth_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, timeout=WORKLOAD_TIMEOUT)
    assert p.returncode == 0, p.stderr
    it = [i for i in all_interpreters() if i.label == "debian-3.11"][0]
    it = interpreters.Interp(label, exe, True, "", "uprobe", it.version)
    truth = _truth(truth_path)
    _check_trace(it, truth, trace_path, truth["pid"], label)


def _debian_311():
    it = [i for i in all_interpreters() if i.label == "debian-3.11"]
    if not it or not it[0].present:
        pytest.skip("Debian python3.11 missing")
    return it[0]


def test_debian_lto_debug_file(gcbpf_bin, tmp_path):
    it = _debian_311()
    bid = _build_id(it.path)
    dbg = os.path.join(DEBUG_ROOT, ".build-id", bid[:2], bid[2:] + ".debug")
    if not os.path.exists(dbg):
        pytest.skip("no build-id debug file for %s" % it.path)
    r = subprocess.run([gcbpf_bin, "--list", "--uprobe", "--", it.path],
                       stdout=subprocess.PIPE, universal_newlines=True)
    assert "gc_collect_main from %s" % dbg in r.stdout, r.stdout
    _launch_uprobe(gcbpf_bin, it.path, tmp_path, "debian-3.11-debugfile")


def test_debian_lto_disassembly(gcbpf_bin, tmp_path):
    it = _debian_311()
    exe = str(tmp_path / "python3.11")
    shutil.copy(os.path.realpath(it.path), exe)
    _new_build_id(exe)          # so that no debug file applies
    r = subprocess.run([gcbpf_bin, "--list", "--uprobe", "--", exe],
                       stdout=subprocess.PIPE, universal_newlines=True)
    assert "via the callback wrapper" in r.stdout, r.stdout
    _launch_uprobe(gcbpf_bin, exe, tmp_path, "debian-3.11-disasm")
