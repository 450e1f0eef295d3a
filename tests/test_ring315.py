"""3.15 with USDT: one trap per collection.

sid's python3.15 and python3.15d keep each collection's own record in the
statistics ring (start and stop time, counts, heap size); gcbpf attaches
gc__done alone and reads it there (bpf/ring.bpf.h). Checked here, in the sid
chroot (tests/test_sid.py's; visible skips without it):

  - kernel.bpf_stats_enabled: exactly one program runs per collection (with
    and without --stacks), nothing on gc__start; and every event equals the
    gc.callbacks record, its interval inside the callbacks' one;
  - an odd seqlock count (the target's own ring, made odd by the target
    itself) is counted as a read error, never reported;
  - a subinterpreter's gc__done (USDT names no interpreter: the ring read is
    the main one's) is counted as ring_stale, never reported twice;
  - system-wide (-a), both builds at once, exact.

The ground truth in -p and launch mode is tests/test_sid.py's (the same path).
"""
import ctypes
import json
import os
import signal
import subprocess
import time

import pytest

import compare_truth
import interpreters
import test_ground_truth as gt
from test_bench_probes import BPFTOOL
from test_sid import (_truth_of, _wait_exec, _workload_args, case, root,  # noqa: F401
                      sid_params)

pytestmark = pytest.mark.needs_root

LABELS = ("sid-3.15", "sid-3.15-dbg")
N = 300
ONE_PROBE = "usdt_ring_done"
# Every program that could run at a collection on some path.
GC_PROGRAMS = {ONE_PROBE, "usdt_gc_start", "usdt_gc_done", "uprobe_gc_enter",
               "uretprobe_gc_exit", "probe_empty", "clock_enter", "clock_exit"}

# The ground truth in each target: every collection's gen, counts, tid and
# callback times, and the phase of the test it was made in (cur["phase"]).
RECORDER = r"""recs, cur = [], {"phase": None}
def cb(phase, info):
    if phase == "start":
        cur["t_start"] = time.monotonic_ns()
    else:
        recs.append({"gen": info["generation"], "collected": info["collected"],
                     "uncollectable": info["uncollectable"], "t_start": cur["t_start"],
                     "t_stop": time.monotonic_ns(), "tid": threading.get_native_id(),
                     "phase": cur["phase"]})
"""

# Collections between the two lines on stdin, some of them freeing cycles.
TRUTH = r"""
import gc, json, sys, threading, time
gc.disable()
#RECORDER
class Cyc:
    pass
print("ready", flush=True); sys.stdin.readline()
gc.callbacks.append(cb)
for i in range(%d):
    if i %% 7 == 0:
        for _ in range(i %% 5):
            c = Cyc(); c.me = c
        c = None
    gc.collect(i %% 3 if i %% 10 == 0 else 0)
gc.callbacks.remove(cb)
print(json.dumps(recs), flush=True)
sys.stdin.readline()
""".replace("#RECORDER", RECORDER) % N


class BpfStats:
    """Run-time statistics while held (BPF_ENABLE_STATS's fd): the sysctl that
    other users of the machine may set is left alone."""

    def __enter__(self):
        libc = ctypes.CDLL(None, use_errno=True)
        attr = ctypes.create_string_buffer(16)  # union bpf_attr: enable_stats.type = 0
        self.fd = libc.syscall(321, 32, attr, 16)  # SYS_bpf, BPF_ENABLE_STATS (x86-64)
        if self.fd < 0:
            pytest.skip("cannot enable BPF statistics: %s" % os.strerror(ctypes.get_errno()))
        return self

    def __exit__(self, *a):
        os.close(self.fd)


def _attached_runs(pid):
    """{program name: runs} of the programs gcbpf process pid attached."""
    perf = json.loads(subprocess.check_output([BPFTOOL, "perf", "show", "-j"]))
    ids = {e["prog_id"] for e in perf if e.get("pid") == pid}
    progs = json.loads(subprocess.check_output([BPFTOOL, "prog", "show", "-j"]))
    out = {}
    for p in progs:
        if p["id"] in ids and p.get("name") in GC_PROGRAMS:
            out[p["name"]] = out.get(p["name"], 0) + p.get("run_cnt", 0)
    return out


def _counters(path):
    for line in open(str(path)):
        o = json.loads(line)
        if o.get("type") == "counters":
            return o
    raise AssertionError("no counters line in %s" % path)


def _events(path, pid):
    return sorted((e for e in compare_truth.load_trace(str(path)) if e.get("pid") == pid),
                  key=lambda e: e["ts_start"])


def _check_events(truth, events, what, consecutive=True):
    """Collection by collection: gen, counts, tid exactly; the interpreter's own
    interval [ts_start, ts_stop] inside the callbacks' (it is taken after the
    start callback and before the stop one); the record's other fields."""
    assert len(events) == len(truth), "%s: %d events, truth %d" % (what, len(events),
                                                                   len(truth))
    seen = {}
    for i, (r, e) in enumerate(zip(truth, events)):
        for k in ("gen", "collected", "uncollectable", "tid"):
            assert e[k] == r[k], "%s #%d: %s: event %r, truth %r\n%r\n%r" % (
                what, i, k, e[k], r[k], e, r)
        assert r["t_start"] <= e["ts_start"] <= e["ts_stop"] <= r["t_stop"], (what, i, e, r)
        assert e["duration_ns"] == e["ts_stop"] - e["ts_start"], e
        assert e["probe"] == "usdt", e
        for k in ("heap_size", "candidates", "rss"):
            assert isinstance(e[k], int) and e[k] >= 0, (k, e)
        # Cumulative per generation: one more each time.
        if consecutive and e["gen"] in seen:
            assert e["collections"] == seen[e["gen"]] + 1, (what, i, e)
        seen[e["gen"]] = e["collections"]


def _start(root_dir, it, script):
    p = subprocess.Popen(["chroot", root_dir, it.path, "-c", script], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, universal_newlines=True)
    assert p.stdout.readline().strip() == "ready"
    return p


def _gcbpf(gcbpf_bin, args, pid, errpath):
    with open(str(errpath), "w") as e:
        proc = subprocess.Popen([gcbpf_bin] + args + ["-p", str(pid)],
                                stdout=subprocess.DEVNULL, stderr=e)
    gt._wait_for_tracing(proc, str(errpath))
    return proc


def _finish(proc, target, errpath):
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0, gt._read(str(errpath))
    target.stdin.write("\n")
    target.stdin.flush()
    assert target.wait(timeout=60) == 0


def _traced(gcbpf_bin, root_dir, it, script, tmp_path):
    """script run in the chroot under gcbpf -f jsonl -p: (its truth, the trace's
    events of it, the trace's counters)."""
    trace, err = tmp_path / "trace.jsonl", tmp_path / "gcbpf.stderr"
    target = proc = None
    try:
        target = _start(root_dir, it, script)
        proc = _gcbpf(gcbpf_bin, ["-f", "jsonl", "-o", str(trace)], target.pid, err)
        target.stdin.write("\n")
        target.stdin.flush()
        truth = json.loads(target.stdout.readline())
        _finish(proc, target, err)
    finally:
        gt._kill(target)
        gt._kill(proc)
    return truth, _events(trace, target.pid), _counters(trace)


@pytest.mark.parametrize("stacks", [False, True], ids=["events", "stacks"])
@pytest.mark.parametrize("it", sid_params(labels=LABELS))
def test_one_program_per_collection(it, stacks, gcbpf_bin, root, tmp_path):  # noqa: F811
    trace, err = tmp_path / "trace.jsonl", tmp_path / "gcbpf.stderr"
    target = proc = None
    try:
        target = _start(root, it, TRUTH)
        with BpfStats():
            proc = _gcbpf(gcbpf_bin, ["-f", "jsonl", "-o", str(trace)] +
                          (["--stacks"] if stacks else []), target.pid, err)
            before = _attached_runs(proc.pid)
            target.stdin.write("\n")
            target.stdin.flush()
            truth = json.loads(target.stdout.readline())
            after = _attached_runs(proc.pid)
        _finish(proc, target, err)
    finally:
        gt._kill(target)
        gt._kill(proc)
    assert set(after) == {ONE_PROBE}, "programs attached: %r" % after
    assert after[ONE_PROBE] - before[ONE_PROBE] == N == len(truth), (before, after)
    events = _events(trace, target.pid)
    _check_events(truth, events, it.label)
    c = _counters(trace)
    assert c["read_errors"] == 0 and c["ring_stale"] == 0 and c["lost"] == 0, c
    if stacks:
        for e in events:
            assert e["stack"] and e["stack"][0]["func"] == "<module>", e
            assert e["stack"][0]["file"] == "<string>", e


# The target's own ring (never gcbpf: it only reads) gets an odd seqlock
# count for the middle phase: the writer adds 1 then 1, so it stays odd.
SEQ = r"""
import ctypes, gc, json, sys, threading, time
gc.disable()
u64 = lambda a: ctypes.c_uint64.from_address(a).value
rt = ctypes.addressof(ctypes.c_char.in_dll(ctypes.pythonapi, "_PyRuntime"))
assert ctypes.string_at(rt, 8) == b"xdebugpy"
# _Py_DebugOffsets (3.15): runtime_state.interpreters_head at 40,
# interpreter_state.gc at 88, gc.generation_stats at 784.
interp = u64(rt + u64(rt + 40) + 8)  # interpreters.main
ring = u64(interp + u64(rt + 88) + u64(rt + 784))
seq = ctypes.c_uint32.from_address(ring + 1112)  # struct gc_stats.update_seq
s0 = seq.value; gc.collect(0)
assert s0 % 2 == 0 and seq.value == s0 + 2, (s0, seq.value)
#RECORDER
print("ready", flush=True); sys.stdin.readline()
gc.callbacks.append(cb)
for phase, n in (("even", 20), ("odd", 15), ("even", 20)):
    cur["phase"] = phase
    if phase == "odd" or seq.value % 2:
        seq.value ^= 1
    for i in range(n):
        gc.collect(i % 3)
gc.callbacks.remove(cb)
print(json.dumps(recs), flush=True)
sys.stdin.readline()
""".replace("#RECORDER", RECORDER)


@pytest.mark.parametrize("it", sid_params(labels=("sid-3.15",)))
def test_odd_seqlock_is_counted_not_reported(it, gcbpf_bin, root, tmp_path):  # noqa: F811
    truth, events, c = _traced(gcbpf_bin, root, it, SEQ, tmp_path)
    odd = [r for r in truth if r["phase"] == "odd"]
    assert len(odd) == 15 and len(truth) == 55
    _check_events([r for r in truth if r["phase"] == "even"], events, "even phases",
                  consecutive=False)
    assert c["read_errors"] == len(odd) and c["ring_stale"] == 0, c


# Collections in a subinterpreter between the main interpreter's.
SUB = r"""
import _interpreters, gc, json, sys, threading, time
gc.disable()
#RECORDER
print("ready", flush=True); sys.stdin.readline()
sub = _interpreters.create()
gc.callbacks.append(cb)
for i in range(6):
    gc.collect(i % 3)
    _interpreters.exec(sub, "import gc\nfor g in (0, 1, 2): gc.collect(g)")
gc.callbacks.remove(cb)
_interpreters.destroy(sub)
print(json.dumps(recs), flush=True)
sys.stdin.readline()
""".replace("#RECORDER", RECORDER)


@pytest.mark.parametrize("it", sid_params(labels=("sid-3.15",)))
def test_subinterpreter_done_is_not_reported(it, gcbpf_bin, root, tmp_path):  # noqa: F811
    truth, events, c = _traced(gcbpf_bin, root, it, SUB, tmp_path)
    # The main interpreter's collections only, each once.
    _check_events(truth, events, "main interpreter")
    assert c["ring_stale"] >= 18, c


def _wait_armed(proc, errpath, keys, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        armed = [l for l in gt._read(str(errpath)).splitlines() if l.startswith("Armed ")]
        if all(any(k in l for l in armed) for k in keys):
            return
        assert proc.poll() is None, gt._read(str(errpath))
        time.sleep(0.05)


def test_system_wide_both_builds(gcbpf_bin, root, case, tmp_path):  # noqa: F811
    """gcbpf -a: python3.15 and python3.15d at once, each exact."""
    its = [p.values[0] for p in sid_params(labels=LABELS) if not p.marks]
    if len(its) < 2:
        pytest.skip("needs sid's python3.15 and python3.15d")
    host_dir, inside = case
    trace, err = tmp_path / "trace.jsonl", tmp_path / "gcbpf.stderr"
    procs, gcbpf = [], None
    try:
        with open(str(err), "w") as e:
            gcbpf = subprocess.Popen([gcbpf_bin, "-a", "-f", "jsonl", "-o", str(trace)],
                                     stdout=subprocess.DEVNULL, stderr=e)
        gt._wait_for_tracing(gcbpf, str(err))
        for i, it in enumerate(its):
            args = _workload_args(inside, wait=True)
            args[2] = "%s/truth-%d.jsonl" % (inside, i)
            procs.append(subprocess.Popen(["chroot", root, it.path] + args + ["--quiet"],
                                          stdout=subprocess.DEVNULL))
        for p, it in zip(procs, its):
            _wait_exec(p.pid, os.path.basename(it.path))
        # A binary another process ran already was armed by the scan: no line then.
        _wait_armed(gcbpf, err, ["%s (" % it.path for it in its], timeout=5)
        with open(os.path.join(host_dir, "go"), "w") as f:
            f.write("go\n")
        for p in procs:
            assert p.wait(timeout=gt.WORKLOAD_TIMEOUT) == 0
        time.sleep(0.3)
        gcbpf.send_signal(signal.SIGINT)
        assert gcbpf.wait(timeout=gt.EXIT_TIMEOUT) == 0, gt._read(str(err))
    finally:
        for p in procs:
            gt._kill(p)
        gt._kill(gcbpf)
    for i, (p, it) in enumerate(zip(procs, its)):
        truth = gt._truth(os.path.join(host_dir, "truth-%d.jsonl" % i))
        assert truth["pid"] == p.pid
        usdt = interpreters.Interp(it.label, it.path, True, "", "usdt", it.version)
        gt._check_trace(usdt, truth, trace, p.pid, "system-wide " + it.label)
