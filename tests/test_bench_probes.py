"""The benchmark's floors run where gcbpf's probes run, once per collection.

`--empty-probes` and `--clock-probes` are what scripts/bench.sh compares
gcbpf against; a floor that missed collections would flatter gcbpf. With
kernel.bpf_stats_enabled on, each program's run count over N explicit
collections must be exactly N per point, on the USDT and the uprobe path,
and the floors emit no events.
"""
import json
import os
import subprocess

import pytest

from conftest import all_interpreters

pytestmark = pytest.mark.needs_root

BPFTOOL = "/usr/sbin/bpftool"
STATS = "/proc/sys/kernel/bpf_stats_enabled"
N = 500
# Tells the test when to count, then collects N times.
TARGET = r"""
import gc, sys
gc.disable()
print("ready", flush=True); sys.stdin.readline()
for _ in range(%d):
    gc.collect(0)
print("done", flush=True); sys.stdin.readline()
""" % N
# mode -> {program name: runs per collection}
PROGRAMS = {
    "empty": {"probe_empty": 2},
    "clock": {"clock_enter": 1, "clock_exit": 1},
}


def _interps():
    """One interpreter per probe path, the first present of each."""
    out, seen = [], set()
    for it in all_interpreters():
        if it.present and it.expected_probe not in seen:
            seen.add(it.expected_probe)
            out.append(pytest.param(it, id=it.expected_probe))
    return out


def _run_counts(names):
    progs = json.loads(subprocess.check_output([BPFTOOL, "prog", "show", "-j"]))
    counts = {}
    for p in progs:
        if p.get("name") in names:
            counts[p["name"]] = counts.get(p["name"], 0) + p.get("run_cnt", 0)
    return counts


@pytest.fixture
def bpf_stats():
    with open(STATS) as f:
        old = f.read().strip()
    with open(STATS, "w") as f:
        f.write("1")
    yield
    with open(STATS, "w") as f:
        f.write(old)


@pytest.mark.parametrize("mode", sorted(PROGRAMS))
@pytest.mark.parametrize("interp", _interps())
def test_floor_runs_once_per_collection(gcbpf_bin, bpf_stats, interp, mode):
    names = PROGRAMS[mode]
    proc = subprocess.Popen(
        [gcbpf_bin, "--%s-probes" % mode, "--", interp.path, "-c", TARGET],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True)
    try:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        before = _run_counts(names)
        assert set(before) == set(names), "programs not loaded: %s" % before
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "done"
        after = _run_counts(names)
        proc.stdin.write("\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for name, per_collection in names.items():
        assert after[name] - before[name] == per_collection * N, (name, before, after)
    assert proc.returncode == 0, err
    assert "(no collections)" in err, err   # launch mode: stdout is the command's
