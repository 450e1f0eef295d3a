"""A shared host (issue 23, item 5): other jobs run Pythons, and another
gcbpf, beside the suite; each test judges only what it started.

One system-wide check runs here beside things the test starts but treats as
someone else's: a busy Python allocating and collecting as fast as it can
(thousands of collections a second), a program whose libpython is a FIFO
(gcbpf warns about it), and a second `gcbpf -a` with its own trace. Both
gcbpf runs must see the test's own workload exactly (every collection, in
order, tid too, against gc.callbacks), exit 0, and say nothing about it but
the banner and Armed lines, while the foreign process is provably in their
traces and the foreign warning on their stderr.

Needs root and a built gcbpf (see conftest.py).
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

import compare_truth
from test_system_wide import (WORKLOAD_TIMEOUT, _check_exact, _clean_stderr, _debian, _read,
                              _sigint_and_wait, _start_gcbpf, _stop, _wait_tracing, _workload)

pytestmark = pytest.mark.needs_root

# cyclic garbage and explicit collections, no pause: the noisiest neighbour
BUSY = ("import gc, time\n"
        "end = time.monotonic() + 60\n"
        "while time.monotonic() < end:\n"
        "    a = [[] for _ in range(200)]\n"
        "    for x in a: x.append(x)\n"
        "    del a\n"
        "    gc.collect(0)\n")


def test_system_wide_beside_foreign_work(gcbpf_bin, tmp_path):
    from test_hostile import LIB, _needs_libpython
    deb = _debian()
    world = tempfile.mkdtemp(prefix="gcbpf-shared-")
    busy = hostile = None
    runs = []
    try:
        busy = subprocess.Popen([deb.path, "-c", BUSY])
        # a program whose libpython is a FIFO: its ld.so blocks on it, gcbpf warns
        if shutil.which("cc"):
            exe = _needs_libpython(world)
            libdir = os.path.join(world, "lib")
            os.mkdir(libdir)
            os.mkfifo(os.path.join(libdir, LIB))
        else:
            exe = None
        for name in ("a", "b"):
            trace = tmp_path / ("trace-%s.jsonl" % name)
            proc, err, _ = _start_gcbpf(gcbpf_bin, ["-a", "-f", "jsonl", "-o", str(trace)],
                                        tmp_path, name="gcbpf-" + name)
            runs.append((proc, err, trace))
        for proc, err, trace in runs:
            _wait_tracing(proc, err)
        if exe:
            hostile = subprocess.Popen([exe], env=dict(os.environ, LD_LIBRARY_PATH=libdir),
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.time() + 10
            while time.time() < deadline and not all(
                    "pid %d " % hostile.pid in _read(err) for proc, err, trace in runs):
                time.sleep(0.05)
        # ours: python3.11 is armed already (the busy one runs it): no gap
        go, truth = tmp_path / "go", tmp_path / "truth.jsonl"
        ours = _workload(deb.path, truth, go)
        go.write_text("go\n")
        assert ours.wait(timeout=WORKLOAD_TIMEOUT) == 0
        time.sleep(0.5)     # the busy one's collections keep coming meanwhile
        for proc, err, trace in runs:
            _sigint_and_wait(proc, err, [ours.pid], [tmp_path, deb.path])
        for proc, err, trace in runs:
            text = _read(err)
            print(text)
            # the neighbours were there, in each run
            busy_events = [e for e in compare_truth.load_trace(str(trace))
                           if e.get("pid") == busy.pid]
            assert len(busy_events) > 100, "the busy Python was not traced: %d" % len(
                busy_events)
            if hostile:
                assert any("pid %d " % hostile.pid in l and "FIFO" in l
                           for l in text.splitlines()), text
            # and none of it is ours
            _clean_stderr(err, [ours.pid], [tmp_path, deb.path])
            _check_exact(trace, truth, ours.pid, "beside-foreign-" + os.path.basename(
                str(trace)), probe=deb.expected_probe)
    finally:
        for proc, err, trace in runs:
            _stop(proc)
        _stop(busy, signal.SIGKILL)
        _stop(hostile, signal.SIGKILL)
        shutil.rmtree(world, ignore_errors=True)
