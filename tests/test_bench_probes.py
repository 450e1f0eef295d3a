"""The benchmark's floors run where gcbpf's probes run, once per collection.

`--empty-probes` (=one: on one point per collection) and `--clock-probes`
are what scripts/bench.sh compares gcbpf against; a floor that missed collections would flatter gcbpf. With
kernel.bpf_stats_enabled on, each program's run count over N explicit
collections must be exactly N per point, on the USDT and the uprobe path,
and the floors emit no events.
"""
import json
import os
import re
import signal
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
# option -> {program name: runs per collection}
PROGRAMS = {
    "--empty-probes": {"probe_empty": 2},
    "--empty-probes=one": {"probe_empty": 1},  # gc__done, or the entry: a one-trap floor
    "--clock-probes": {"clock_enter": 1, "clock_exit": 1},
}


def _interps():
    """One interpreter per probe path, the first present of each."""
    out, seen = [], set()
    for it in all_interpreters():
        if it.present and it.expected_probe not in seen:
            seen.add(it.expected_probe)
            out.append(pytest.param(it, id=it.expected_probe))
    return out


def _run_counts(names, pid):
    """Runs of the named programs gcbpf process pid attached (other tracers on
    the host load programs of the same names)."""
    perf = json.loads(subprocess.check_output([BPFTOOL, "perf", "show", "-j"]))
    ids = {e["prog_id"] for e in perf if e.get("pid") == pid}
    progs = json.loads(subprocess.check_output([BPFTOOL, "prog", "show", "-j"]))
    counts = {}
    for p in progs:
        if p.get("name") in names and p["id"] in ids:
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
    # By pid: in launch mode the floors run in every process of the binary,
    # and other users' Pythons would count too.
    target = subprocess.Popen([interp.path, "-c", TARGET], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, universal_newlines=True)
    proc = None
    try:
        assert target.stdout.readline().strip() == "ready"
        proc = subprocess.Popen(
            [gcbpf_bin, mode, "-p", str(target.pid)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        assert "Tracing CPython GC" in proc.stderr.readline()
        before = _run_counts(names, proc.pid)
        assert set(before) == set(names), "programs not loaded: %s" % before
        target.stdin.write("\n")
        target.stdin.flush()
        assert target.stdout.readline().strip() == "done"
        after = _run_counts(names, proc.pid)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        target.stdin.write("\n")
        target.stdin.flush()
        target.wait(timeout=60)
    finally:
        for p in (target, proc):
            if p and p.poll() is None:
                p.kill()
                p.wait()
    for name, per_collection in names.items():
        assert after[name] - before[name] == per_collection * N, (name, before, after)
    assert proc.returncode == 0, err
    assert "(no collections)" in out + err, out + err


# Counts every collection per generation with gc.callbacks (the ground truth)
# between the two lines on stdin, then reports them and waits.
TRUTH = r"""
import gc, json, sys
gc.disable()
counts, collected = [0, 0, 0], [0, 0, 0]
def cb(phase, info):
    if phase == "stop":
        counts[info["generation"]] += 1
        collected[info["generation"]] += info["collected"]
print("ready", flush=True); sys.stdin.readline()
gc.callbacks.append(cb)
for i in range(%d):
    gc.collect(i %% 3 if i %% 10 == 0 else 0)
gc.callbacks.remove(cb)
print(json.dumps({"counts": counts, "collected": collected}), flush=True)
sys.stdin.readline()
""" % N
GC_CNT_SUBMITTED = 3  # enum gc_counter, bpf/gcbpf.h


def _maps_of(pid):
    """name -> id of the maps the programs attached by gcbpf process pid use."""
    perf = json.loads(subprocess.check_output([BPFTOOL, "perf", "show", "-j"]))
    ids = set()
    for e in perf:
        if e.get("pid") == pid and e.get("fd_type") in ("uprobe", "uretprobe"):
            prog = json.loads(subprocess.check_output(
                [BPFTOOL, "prog", "show", "id", str(e["prog_id"]), "-j"]))
            ids.update(prog.get("map_ids", []))
    out = {}
    for i in ids:
        m = json.loads(subprocess.check_output([BPFTOOL, "map", "show", "id", str(i), "-j"]))
        out[m.get("name")] = i
    return out


def _percpu_counter(map_id, key):
    v = json.loads(subprocess.check_output(
        [BPFTOOL, "map", "lookup", "id", str(map_id), "key"] +
        [str(b) for b in key.to_bytes(4, "little")] + ["-j"]))
    return sum(c["value"] for c in v["formatted"]["values"])


def _summary_counts(text):
    """gen -> COUNT, and the COMMs, from the pause table's rows by its header
    (PID COMM ... GEN COUNT ...; --stats adds columns)."""
    out, comms, head = {}, set(), None
    for line in text.splitlines():
        cols = line.split()
        if cols[:2] == ["PID", "COMM"]:
            head = cols
        elif head and len(cols) == len(head) and cols[0].isdigit():
            row = dict(zip(head, cols))
            if row["GEN"] in ("0", "1", "2"):
                comms.add(row["COMM"])
                out[int(row["GEN"])] = out.get(int(row["GEN"]), 0) + int(row["COUNT"])
    return out, comms


@pytest.mark.parametrize("mode", ["-q", "-q --stats", "jsonl"])
@pytest.mark.parametrize("interp", _interps())
def test_aggregation_only_makes_no_ring_record(gcbpf_bin, bpf_stats, interp, mode, tmp_path):
    """-q (alone or with --stats) counts in the kernel only: the exit program
    runs once per collection but hands nothing to the ring buffer
    (GC_CNT_SUBMITTED stays 0), and the summary still equals gc.callbacks'
    counts per generation, with the process's name. jsonl, which needs
    events, submits one per collection: the check can tell the two apart."""
    events = tmp_path / "events.jsonl"
    args = {"-q": ["-q"], "-q --stats": ["-q", "--stats"],
            "jsonl": ["-f", "jsonl", "-o", str(events)]}[mode]
    target = subprocess.Popen([interp.path, "-c", TRUTH], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, universal_newlines=True)
    tracer = None
    try:
        assert target.stdout.readline().strip() == "ready"
        tracer = subprocess.Popen([gcbpf_bin] + args + ["-p", str(target.pid)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  universal_newlines=True)
        assert "Tracing CPython GC" in tracer.stderr.readline()
        maps = _maps_of(tracer.pid)
        assert "counters" in maps, maps
        target.stdin.write("\n")
        target.stdin.flush()
        truth = json.loads(target.stdout.readline())
        submitted = _percpu_counter(maps["counters"], GC_CNT_SUBMITTED)
        tracer.send_signal(signal.SIGINT)
        out, err = tracer.communicate(timeout=60)
        target.stdin.write("\n")
        target.stdin.flush()
        target.wait(timeout=60)
    finally:
        for p in (target, tracer):
            if p and p.poll() is None:
                p.kill()
                p.wait()
    assert tracer.returncode == 0, err
    want = {g: c for g, c in enumerate(truth["counts"]) if c}
    assert sum(want.values()) == N
    assert submitted == (N if mode == "jsonl" else 0), (mode, submitted)
    counts, comms = _summary_counts(out + err)
    assert counts == want, (out, err, truth)
    assert comms == {os.path.basename(interp.path)[:15]}, out + err


# A short-lived process: its own collection counters (every collection since
# its start; at exit it only makes full ones) as the ground truth.
SHORT = r"""
import gc, json
for _ in range(200):
    gc.collect(0)
print(json.dumps({"pid": __import__("os").getpid(),
                  "gen0": gc.get_stats()[0]["collections"]}), flush=True)
"""


@pytest.mark.parametrize("interp", _interps())
def test_aggregation_only_short_lived_processes(gcbpf_bin, interp, tmp_path):
    """-q: processes gone before gcbpf first reads the kernel's histograms are
    still counted exactly and named (the name comes from the kernel's entry,
    as there is no event to carry it)."""
    script = tmp_path / "short.py"
    script.write_text(SHORT)
    cmd = "for i in 1 2 3; do %s %s; done" % (interp.path, script)
    p = subprocess.run([gcbpf_bin, "-q", "--", "sh", "-c", cmd], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    assert p.returncode == 0, p.stderr
    truth = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    summary = p.stdout + p.stderr  # launch mode: the summary is not on the command's stdout
    assert len(truth) == 3, p.stdout
    rows = {}
    for line in summary.splitlines():
        m = re.match(r"(\d+)\s+(\S+)\s.*?\s0\s+(\d+)\s+\S+\s+\S+\s+\S+$", line)
        if m:
            rows[int(m.group(1))] = (m.group(2), int(m.group(3)))
    name = os.path.basename(interp.path)[:15]
    assert rows == {t["pid"]: (name, t["gen0"]) for t in truth}, summary
