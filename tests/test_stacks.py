"""gcbpf --stacks against ground truth: for every collection, the traced
Python stack must equal the first DEPTH frames that gc.callbacks saw at the
"start" phase (tests/progs/gc_stack_workload.py), with stack_truncated
exactly when the true stack is deeper than DEPTH.

Interpreters: tests/interpreters.py (pyenv 3.6-3.13, Debian 3.11 and its
-dbg build) and sid's 3.13-3.15 (+ -dbg) in the chroot (tests/test_sid.py),
each in -p mode (--stacks=16) and launch mode (--stacks, 64 frames); the
workload recurses 80 frames deep, so both depths cut some stacks. Also: the
USDT builds traced by uprobes (--uprobe: the thread state from the
collector's argument), a system-wide run, and bad --stacks input.
"""
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import PROGS_DIR, interp_params
import compare_truth
import interpreters
import test_ground_truth as gt
import test_sid

STACK_WORKLOAD = os.path.join(PROGS_DIR, "gc_stack_workload.py")
PROGS = ("gc_stack_workload.py", "gc_recorder.py")
MODES = (("pid", 16), ("launch", 64))


def _params():
    out = []
    for p in interp_params(modes=[m for m, _ in MODES]):
        out.append(pytest.param(p.values[0], p.values[1], False, id=p.id, marks=p.marks))
    for p in test_sid.sid_params(modes=[m for m, _ in MODES]):
        out.append(pytest.param(p.values[0], p.values[1], True, id=p.id, marks=p.marks))
    return out


def _run(gcbpf_bin, it, mode, depth, chroot, tmp_path, extra=()):
    """Runs the workload traced; returns (pid, trace path, gcbpf stderr, truth path)."""
    stack_opt = "--stacks=%d" % depth if depth != 64 else "--stacks"
    if chroot:
        root = test_sid.sid_root()
        inside = "%s/stacks-%s-%s-%d" % (test_sid.IN_ROOT_DIR, it.label, mode, os.getpid())
        host = root + inside
        shutil.rmtree(host, ignore_errors=True)
        os.makedirs(host)
        progs = root + test_sid.IN_ROOT_DIR + "/progs"
        os.makedirs(progs, exist_ok=True)
        for name in PROGS:
            shutil.copy(os.path.join(PROGS_DIR, name), os.path.join(progs, name))
        prefix = ["chroot", root, it.path, progs[len(root):] + "/gc_stack_workload.py"]
    else:
        inside = host = str(tmp_path)
        prefix = [it.path, STACK_WORKLOAD]
    truth_in, truth_host = inside + "/truth.jsonl", host + "/truth.jsonl"
    trace = tmp_path / "trace.jsonl"
    gc_err = tmp_path / "gcbpf.stderr"
    wl_err = tmp_path / "workload.stderr"
    workload = gcbpf = None
    try:
        if mode == "pid":
            with open(str(wl_err), "w") as wle:
                workload = subprocess.Popen(
                    prefix + ["--truth", truth_in, "--wait-file", inside + "/go"],
                    stdout=wle, stderr=subprocess.STDOUT)
            if chroot:
                test_sid._wait_exec(workload.pid, os.path.basename(it.path))
            with open(str(gc_err), "w") as e:
                gcbpf = subprocess.Popen(
                    [gcbpf_bin, stack_opt, "-p", str(workload.pid), "-f", "jsonl", "-o",
                     str(trace)] + list(extra), stdout=subprocess.DEVNULL, stderr=e)
            gt._wait_for_tracing(gcbpf, str(gc_err))
            with open(host + "/go", "w") as f:
                f.write("go\n")
            assert workload.wait(timeout=gt.WORKLOAD_TIMEOUT) == 0, gt._read(str(wl_err))
            grc = gcbpf.wait(timeout=gt.EXIT_TIMEOUT)
            pid = workload.pid
        else:
            with open(str(gc_err), "w") as e:
                gcbpf = subprocess.Popen(
                    [gcbpf_bin, stack_opt, "-f", "jsonl", "-o", str(trace)] + list(extra) +
                    ["--"] + prefix +
                    ["--truth", truth_in], stdout=subprocess.DEVNULL, stderr=e)
            grc = gcbpf.wait(timeout=gt.WORKLOAD_TIMEOUT + gt.TRACING_TIMEOUT)
            pid = None
        err = gt._read(str(gc_err))
        assert grc == 0, "gcbpf exit status %s; stderr:\n%s" % (grc, err)
        saved = str(tmp_path / "truth.jsonl")
        if truth_host != saved:
            shutil.copy(truth_host, saved)
        return pid, trace, err, saved
    finally:
        gt._kill(workload)
        gt._kill(gcbpf)
        if chroot:
            shutil.rmtree(host, ignore_errors=True)


def _frames(truth_stack):
    return [{"func": f, "file": p, "line": l} for f, p, l in truth_stack]


def check_stacks(truth, events, depth, what):
    """Collection for collection: trace stack == truth[:depth]; returns counts."""
    recs = truth["records"]
    assert len(recs) == len(events) > 0
    cut = 0
    for i, (r, e) in enumerate(zip(recs, events)):
        want = _frames(r["stack"][:depth])
        assert "stack" in e, "%s: event %d has no stack: %r" % (what, i, e)
        got = e["stack"]
        assert got is not None, "%s: event %d: stack null: %r" % (what, i, e)
        if got != want:
            first = next((j for j in range(max(len(got), len(want)))
                          if j >= len(got) or j >= len(want) or got[j] != want[j]), None)
            pytest.fail("%s: collection %d (gen %s, tid %s): stacks differ at frame %s\n"
                        "  truth: %s\n  trace: %s\n  truth frames: %s\n  trace frames: %s"
                        % (what, i, r["gen"], r.get("tid"), first,
                           json.dumps(want[first] if first < len(want) else None),
                           json.dumps(got[first] if first < len(got) else None),
                           json.dumps(want, ensure_ascii=False)[:2000],
                           json.dumps(got, ensure_ascii=False)[:2000]))
        deeper = len(r["stack"]) > depth
        assert e.get("stack_truncated") is deeper, (
            "%s: collection %d: stack_truncated %r, truth has %d frames (depth %d)"
            % (what, i, e.get("stack_truncated"), len(r["stack"]), depth))
        cut += deeper
    return cut


def _uprobe_params():
    """USDT builds traced by uprobes instead: the thread state is the
    collector's argument there, not the global / GIL holder."""
    out = []
    for p in interp_params(modes=["pid"]):
        if p.values[0].label.startswith("debian-3.11"):
            out.append(pytest.param(p.values[0], "pid", False, id=p.id, marks=p.marks))
    for p in test_sid.sid_params(modes=["pid"], labels=("sid-3.13", "sid-3.14", "sid-3.15")):
        out.append(pytest.param(p.values[0], "pid", True, id=p.id, marks=p.marks))
    return out


@pytest.mark.needs_root
@pytest.mark.parametrize("it,mode,chroot", _params())
def test_stacks(it, mode, chroot, gcbpf_bin, tmp_path):
    _check(it, mode, chroot, gcbpf_bin, tmp_path, ())


@pytest.mark.needs_root
@pytest.mark.parametrize("it,mode,chroot", _uprobe_params())
def test_stacks_uprobe(it, mode, chroot, gcbpf_bin, tmp_path):
    _check(it, mode, chroot, gcbpf_bin, tmp_path, ("--uprobe",))


def _check(it, mode, chroot, gcbpf_bin, tmp_path, extra):
    depth = dict(MODES)[mode]
    pid, trace, err, truth_path = _run(gcbpf_bin, it, mode, depth, chroot, tmp_path, extra)
    truth = gt._truth(truth_path)
    pid = pid or truth["pid"]
    what = "%s-%s%s" % (it.label, mode, "".join(extra))
    if extra:
        probes = set(e.get("probe") for e in compare_truth.load_trace(str(trace)))
        assert probes == {"uprobe"}, (what, probes)
    ok, msg = compare_truth.compare(truth_path, str(trace), pid, check_tid=True, label=what)
    assert ok, msg
    events = compare_truth.select_events(compare_truth.load_trace(str(trace)), pid,
                                         truth["begin"], truth["end"])
    cut = check_stacks(truth, events, depth, what)
    recs = truth["records"]
    # The workload really exercised what the comparison is about.
    funcs = set(f[0] for r in recs for f in r["stack"])
    for want in ("größe", "関数", "𠀀", "key", "generator", "recurse"):
        assert any(f.split(".")[-1] == want for f in funcs), (what, want, sorted(funcs))
    assert cut > 0, "%s: no stack deeper than %d: truncation untested" % (what, depth)
    assert len(set(r["tid"] for r in recs if r.get("tid"))) >= 2 or it.version < "3.8"
    print("%s: %d collections, stacks equal (depth %d, %d cut)" % (what, len(recs), depth,
                                                                   cut))


@pytest.mark.parametrize("args,msg", [
    (["--stacks=0", "-f", "jsonl"], "invalid --stacks depth '0'"),
    (["--stacks=257", "-f", "jsonl"], "invalid --stacks depth '257'"),
    (["--stacks=x", "-f", "jsonl"], "invalid --stacks depth 'x'"),
    (["--stacks"], "--stacks shows stacks in -f jsonl, -f chrome, -f folded, -f html, --by-stack, "
     "--advice and gcbpf top"),
    (["--stacks=8", "-f", "text"], "--stacks shows stacks in -f jsonl, -f chrome"),
])
def test_stacks_bad_options(args, msg):
    """Bad --stacks input: one line that says what to do, non-zero exit (no root)."""
    path = os.environ.get("GCBPF") or os.path.join(os.path.dirname(PROGS_DIR), "..", "gcbpf")
    if not os.access(path, os.X_OK):
        pytest.skip("gcbpf not built")
    p = subprocess.run([path] + args + ["-p", "1"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, timeout=30)
    assert p.returncode != 0
    first = p.stderr.splitlines()[0]
    assert first.startswith("gcbpf: ") and msg in first, p.stderr


def _armed(err, it):
    """Whether gcbpf's stderr says the build of interpreter it is armed."""
    files = interpreters.elf_files(it.path)
    return any(l.startswith("Armed") and any(f in l for f in files) for l in err.splitlines())


@pytest.mark.needs_root
def test_stacks_system_wide(gcbpf_bin, tmp_path):
    """gcbpf --stacks with no target: a workload started afterwards (by a
    binary armed as it execs) gets exact stacks too."""
    its = [it for it in gt.all_interpreters() if it.present]
    if not its:
        pytest.skip("no interpreter found")
    it = its[-1]
    trace, gc_err = tmp_path / "trace.jsonl", tmp_path / "gcbpf.stderr"
    truth_path = tmp_path / "truth.jsonl"
    gcbpf = None
    try:
        with open(str(gc_err), "w") as e:
            gcbpf = subprocess.Popen([gcbpf_bin, "--stacks=16", "-f", "jsonl", "-o", str(trace)],
                                     stdout=subprocess.DEVNULL, stderr=e)
        gt._wait_for_tracing(gcbpf, str(gc_err))
        # Released once its binary is armed (system-wide, a binary new to gcbpf
        # is armed a few ms after the exec: collections before are not seen).
        go = tmp_path / "go"
        wl = subprocess.Popen([it.path, STACK_WORKLOAD, "--truth", str(truth_path),
                               "--rounds", "10", "--wait-file", str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True)
        # No "Armed" line within seconds: the build was armed at the start.
        deadline = time.time() + 5
        while not _armed(gt._read(str(gc_err)), it) and time.time() < deadline:
            time.sleep(0.05)
        go.write_text("go\n")
        out, _ = wl.communicate(timeout=gt.WORKLOAD_TIMEOUT)
        assert wl.returncode == 0, out
        gcbpf.send_signal(signal.SIGINT)
        assert gcbpf.wait(timeout=gt.EXIT_TIMEOUT) == 0, gt._read(str(gc_err))
    finally:
        gt._kill(gcbpf)
    truth = gt._truth(str(truth_path))
    what = "system-wide-" + it.label
    ok, msg = compare_truth.compare(str(truth_path), str(trace), truth["pid"], check_tid=True,
                                    label=what)
    assert ok, msg
    events = compare_truth.select_events(compare_truth.load_trace(str(trace)), truth["pid"],
                                         truth["begin"], truth["end"])
    assert check_stacks(truth, events, 16, what) > 0


@pytest.mark.needs_root
@pytest.mark.parametrize("minor", (9, 11, 12, 13), ids=lambda m: "3.%d" % m)
def test_stacks_stripped_libpython(minor, gcbpf_bin, tmp_path):
    """A stripped copy of libpython (no .symtab, no USDT: the collector found
    by disassembly, the types from .dynsym) gives exact stacks too."""
    import test_builds
    it, lib = test_builds._pyenv(minor)
    libdir = tmp_path / "lib"
    copy = test_builds.make_stripped(lib, libdir)
    truth_path, trace = tmp_path / "truth.jsonl", tmp_path / "trace.jsonl"
    p = subprocess.run([gcbpf_bin, "--stacks=16", "-f", "jsonl", "-o", str(trace), "--",
                        it.path, STACK_WORKLOAD, "--truth", str(truth_path), "--rounds", "10"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=test_builds._env(libdir), universal_newlines=True,
                       timeout=gt.WORKLOAD_TIMEOUT)
    assert p.returncode == 0, p.stderr
    truth = gt._truth(str(truth_path))
    events = compare_truth.select_events(compare_truth.load_trace(str(trace)), truth["pid"],
                                         truth["begin"], truth["end"])
    assert set(e.get("binary") for e in events) == {copy}
    assert check_stacks(truth, events, 16, "stripped-" + it.label) > 0
