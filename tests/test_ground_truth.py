"""Ground-truth tests: gcbpf's JSONL output must match, collection by
collection, what gc.callbacks saw inside the traced interpreter.

Parametrised over interpreters (tests/interpreters.py) x mode:
  pid    -- gcbpf -p PID attaches to an already running workload
  launch -- gcbpf -- PYTHON gc_workload.py launches it

Needs root and a built gcbpf ($GCBPF or ./gcbpf); skipped otherwise
(GCBPF_REQUIRE=1 makes that a failure).  The workload self-check
(test_workload_automatic_generations) needs neither.
"""
import signal
import subprocess
import time

import pytest

from conftest import WORKLOAD, all_interpreters, interp_params
import compare_truth

TRACING_TIMEOUT = 30.0      # gcbpf must print "Tracing" within this
WORKLOAD_TIMEOUT = 120.0    # workload run (debug builds are slow)
EXIT_TIMEOUT = 30.0         # gcbpf must exit by itself after its targets
EVENT_KEYS = ("pid", "tid", "comm", "iid", "gen", "reason", "ts_start",
              "ts_stop", "duration_ns", "duration", "collected",
              "uncollectable", "heap_size", "collections", "python", "probe")


# --------------------------------------------------------------------------
# helpers

def _read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except (IOError, OSError):
        return ""


def _kill(proc):
    """Kill a process this test started (by its Popen object)."""
    if proc is not None and proc.poll() is None:
        try:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=5)
        except Exception:
            proc.kill()
            proc.wait()


def _wait_for_tracing(proc, errpath, timeout=TRACING_TIMEOUT):
    """Wait until gcbpf's stderr has a line starting with 'Tracing'."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for line in _read(errpath).splitlines():
            if line.startswith("Tracing"):
                return
        if proc.poll() is not None:
            pytest.fail("gcbpf exited with status %s before printing "
                        "'Tracing'; stderr:\n%s" % (proc.returncode,
                                                    _read(errpath)))
        time.sleep(0.05)
    pytest.fail("gcbpf did not print 'Tracing' within %.0fs; stderr:\n%s"
                % (timeout, _read(errpath)))


def _load_truth(path):
    truth = compare_truth.load_truth(path)
    assert truth["records"], "workload recorded no collections at all"
    return truth


def _check_trace(it, truth, trace_path, pid, what):
    """The real assertions shared by all gcbpf tests."""
    ok, msg = compare_truth.compare(truth["_path"], str(trace_path), pid,
                                    check_tid=True, strict=True, label=what)
    print(msg)
    assert ok, msg
    events = [e for e in compare_truth.load_trace(str(trace_path))
              if e.get("pid") == pid]
    sel = compare_truth.select_events(events, pid, truth["begin"],
                                      truth["end"])
    assert len(sel) == len(truth["records"]) > 0
    missing = sorted(set(k for e in sel for k in EVENT_KEYS if k not in e))
    assert not missing, "%s: trace events lack keys %r" % (what, missing)
    probes = sorted(set(e.get("probe") for e in sel))
    if it.expected_probe:
        assert probes == [it.expected_probe], (
            "%s: expected probe %r for %s, trace says %r"
            % (what, it.expected_probe, it.path, probes))
    pythons = sorted(set(e.get("python") for e in sel))
    assert pythons == [truth["python"]], (
        "%s: trace python %r != interpreter version %r"
        % (what, pythons, truth["python"]))
    comms = sorted(set(e.get("comm") for e in sel))
    assert all(isinstance(c, str) and c for c in comms), comms
    for e in sel:
        assert e.get("duration") == pytest.approx(
            e["duration_ns"] / 1e6, rel=1e-6, abs=1e-6), e
    return msg


def _truth(path):
    t = _load_truth(str(path))
    t["_path"] = str(path)
    return t


# --------------------------------------------------------------------------
# the workload itself (no root, no gcbpf): guards the harness against
# silently degrading (e.g. an interpreter change that stops automatic gen-2)

def _expected_auto_gens(version):
    v = tuple(int(x) for x in version.split(".")[:3])
    if (3, 14, 0) <= v < (3, 14, 5):
        return (1, 2)   # incremental GC: automatic GC is always an increment
    return (0, 1, 2)


@pytest.mark.parametrize("it", interp_params())
def test_workload_automatic_generations(it, tmp_path):
    truth_path = tmp_path / "truth.jsonl"
    p = subprocess.run([it.path, WORKLOAD, "--truth", str(truth_path)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=WORKLOAD_TIMEOUT)
    print(p.stderr)
    assert p.returncode == 0, p.stderr
    truth = _load_truth(str(truth_path))
    recs = truth["records"]
    assert isinstance(truth["pid"], int) and truth["pid"] > 0
    assert truth["python"] == it.version
    auto = [0, 0, 0]
    expl = [0, 0, 0]
    for r in recs:
        assert r["gen"] in (0, 1, 2), r
        assert truth["begin"] <= r["t_start"] <= r["t_stop"] <= truth["end"], r
        (expl if r["explicit"] else auto)[r["gen"]] += 1
    # collections never nest and are sorted
    for a, b in zip(recs, recs[1:]):
        assert a["t_stop"] <= b["t_start"], (a, b)
    for g in _expected_auto_gens(it.version):
        assert auto[g] >= 1, ("no automatic gen%d collection under %s "
                              "(auto=%r explicit=%r)" % (g, it.label, auto,
                                                         expl))
    assert expl[0] >= 1 and expl[1] >= 1 and expl[2] >= 1, expl
    # native thread ids are known on 3.8+: two worker threads + main thread
    if tuple(int(x) for x in it.version.split(".")[:2]) >= (3, 8):
        tids = set(r["tid"] for r in recs)
        assert len(tids) >= 2, tids
    print("%s: auto gen0=%d gen1=%d gen2=%d, explicit gen0=%d gen1=%d gen2=%d"
          % ((it.label,) + tuple(auto) + tuple(expl)))


# --------------------------------------------------------------------------
# gcbpf vs ground truth

@pytest.mark.needs_root
@pytest.mark.parametrize("it,mode", interp_params(modes=("pid", "launch")))
def test_ground_truth(it, mode, gcbpf_bin, tmp_path):
    truth_path = tmp_path / "truth.jsonl"
    trace_path = tmp_path / "trace.jsonl"
    gc_err = tmp_path / "gcbpf.stderr"
    gc_out = tmp_path / "gcbpf.stdout"
    wl_err = tmp_path / "workload.stderr"
    gcbpf = workload = None
    try:
        if mode == "pid":
            go = tmp_path / "go"
            with open(str(wl_err), "w") as wle:
                workload = subprocess.Popen(
                    [it.path, WORKLOAD, "--truth", str(truth_path),
                     "--wait-file", str(go)],
                    stdout=wle, stderr=subprocess.STDOUT)
            with open(str(gc_err), "w") as e, open(str(gc_out), "w") as o:
                gcbpf = subprocess.Popen(
                    [gcbpf_bin, "-p", str(workload.pid), "-f", "jsonl",
                     "-o", str(trace_path)], stdout=o, stderr=e)
            _wait_for_tracing(gcbpf, str(gc_err))
            go.write_text("go\n")
            try:
                wrc = workload.wait(timeout=WORKLOAD_TIMEOUT)
            except subprocess.TimeoutExpired:
                pytest.fail("workload did not finish in %.0fs" %
                            WORKLOAD_TIMEOUT)
            assert wrc == 0, "workload failed (%s):\n%s" % (wrc,
                                                            _read(str(wl_err)))
            try:
                grc = gcbpf.wait(timeout=EXIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                pytest.fail("gcbpf did not exit within %.0fs after its only "
                            "target exited; stderr:\n%s"
                            % (EXIT_TIMEOUT, _read(str(gc_err))))
            assert grc == 0, "gcbpf exit status %s; stderr:\n%s" % (
                grc, _read(str(gc_err)))
            pid = workload.pid
        else:
            with open(str(gc_err), "w") as e, open(str(gc_out), "w") as o:
                gcbpf = subprocess.Popen(
                    [gcbpf_bin, "-f", "jsonl", "-o", str(trace_path), "--",
                     it.path, WORKLOAD, "--truth", str(truth_path)],
                    stdout=o, stderr=e)
            try:
                grc = gcbpf.wait(timeout=WORKLOAD_TIMEOUT + TRACING_TIMEOUT)
            except subprocess.TimeoutExpired:
                pytest.fail("gcbpf -- workload did not finish; stderr:\n%s"
                            % _read(str(gc_err)))
            err = _read(str(gc_err))
            assert any(l.startswith("Tracing") for l in err.splitlines()), (
                "no 'Tracing' line on gcbpf's stderr:\n%s" % err)
            assert grc == 0, ("gcbpf exit status %s, expected the workload's "
                              "(0); stderr:\n%s" % (grc, err))
            assert truth_path.exists(), ("workload wrote no truth file; "
                                         "stderr:\n%s" % err)
            pid = None
        truth = _truth(truth_path)
        if pid is None:
            pid = truth["pid"]
            trace_pids = set(e.get("pid") for e in
                             compare_truth.load_trace(str(trace_path)))
            assert pid in trace_pids, (
                "launched child pid %s (from truth) not among trace pids %r"
                % (pid, sorted(trace_pids)))
        else:
            assert truth["pid"] == pid
        print(_read(str(wl_err)) or _read(str(gc_err)))
        _check_trace(it, truth, trace_path, pid, "%s-%s" % (it.label, mode))
    finally:
        _kill(workload)
        _kill(gcbpf)


def _present(n):
    return [it for it in all_interpreters() if it.present][:n]


@pytest.mark.needs_root
def test_multi_pid(gcbpf_bin, tmp_path):
    """One gcbpf traces several interpreters at once (-p A,B,C); exits after
    the last one exits; each pid's events match its own ground truth."""
    wanted = []
    # prefer a mix: a USDT interpreter and uprobe ones of different versions
    by_probe = {}
    for it in all_interpreters():
        if it.present:
            by_probe.setdefault(it.expected_probe, []).append(it)
    for probe in sorted(by_probe, key=str):
        wanted.extend(by_probe[probe][-2:])
    wanted = wanted[:3]
    if len(wanted) < 2:
        pytest.skip("need at least two interpreters, found %r"
                    % [it.label for it in wanted])
    go = tmp_path / "go"
    trace_path = tmp_path / "trace.jsonl"
    gc_err = tmp_path / "gcbpf.stderr"
    procs = []
    gcbpf = None
    try:
        for i, it in enumerate(wanted):
            tp = tmp_path / ("truth%d.jsonl" % i)
            procs.append((it, tp, subprocess.Popen(
                [it.path, WORKLOAD, "--truth", str(tp), "--wait-file",
                 str(go), "--quiet"])))
        with open(str(gc_err), "w") as e:
            gcbpf = subprocess.Popen(
                [gcbpf_bin, "-p", ",".join(str(p.pid) for _, _, p in procs),
                 "-f", "jsonl", "-o", str(trace_path)],
                stdout=subprocess.DEVNULL, stderr=e)
        _wait_for_tracing(gcbpf, str(gc_err))
        go.write_text("go\n")
        for it, tp, p in procs:
            assert p.wait(timeout=WORKLOAD_TIMEOUT) == 0, it.label
        try:
            grc = gcbpf.wait(timeout=EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail("gcbpf did not exit after all targets exited; "
                        "stderr:\n%s" % _read(str(gc_err)))
        assert grc == 0, _read(str(gc_err))
        for it, tp, p in procs:
            truth = _truth(tp)
            assert truth["pid"] == p.pid
            _check_trace(it, truth, trace_path, p.pid, "multi-" + it.label)
    finally:
        for _, _, p in procs:
            _kill(p)
        _kill(gcbpf)


@pytest.mark.needs_root
@pytest.mark.parametrize("status", [0, 3])
def test_launch_exit_status(gcbpf_bin, tmp_path, status):
    """gcbpf -- CMD exits with CMD's exit status."""
    its = _present(1)
    if not its:
        pytest.skip("no interpreter found")
    p = subprocess.run(
        [gcbpf_bin, "-f", "jsonl", "-o", str(tmp_path / "t.jsonl"), "--",
         its[0].path, "-c", "import gc, sys; gc.collect(); sys.exit(%d)"
         % status],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, timeout=60)
    assert p.returncode == status, p.stderr
    assert any(l.startswith("Tracing") for l in p.stderr.splitlines()), \
        p.stderr
