"""--advice (issue 12, item 5): each recommendation appears when, and only
when, its evidence is there, and carries the numbers that were measured
(checked against gc.callbacks inside the target)."""
import json
import os
import re
import subprocess

import pytest

from conftest import WORKLOAD

PY311 = "/usr/bin/python3.11"
# gen-0 churn that frees nothing, then full collections of a large heap;
# the truth (per generation: collections, collected, uncollectable) from gc.callbacks
PROG = ("import gc, json, sys, time\n"
        "gc.disable()\n"
        "n = {g: [0, 0, 0] for g in range(3)}\n"
        "def cb(phase, info):\n"
        "    if phase == 'stop':\n"
        "        t = n[info['generation']]\n"
        "        t[0] += 1; t[1] += info['collected']; t[2] += info['uncollectable']\n"
        "gc.callbacks.append(cb)\n"
        "end = time.monotonic() + 1.5\n"
        "while time.monotonic() < end:\n"
        "    gc.collect(0)\n"
        "heap = [[[] for _ in range(10)] for _ in range(%d)]\n"
        "for _ in range(3):\n"
        "    gc.collect(2)\n"
        "gc.callbacks.remove(cb)\n"
        "json.dump(n, open(sys.argv[1], 'w'))\n")


def _advice(stderr):
    return [l for l in stderr.splitlines() if re.match(r"^pid \d+ .* \[[a-z0-9-]+\]: ", l)]


@pytest.mark.needs_root
def test_advice_with_its_evidence(gcbpf_bin, tmp_path):
    if not os.access(PY311, os.X_OK):
        pytest.skip("%s missing" % PY311)
    truth_f = tmp_path / "n.json"
    r = subprocess.run([gcbpf_bin, "-q", "--advice", "--", PY311, "-c", PROG % 400000,
                        str(truth_f)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=300)
    assert r.returncode == 0, r.stderr
    truth = {int(k): v for k, v in json.loads(truth_f.read_text()).items()}
    adv = _advice(r.stderr)
    kinds = {re.search(r"\[([a-z0-9-]+)\]", l).group(1): l for l in adv}
    assert "gen0-empty" in kinds, r.stderr
    m = re.search(r"(\d+) gen-0 collections \((\d+)/s\) freed (\d+) objects", kinds["gen0-empty"])
    # the trace counts the interpreter's own collections too (start-up, exit)
    assert m and int(m.group(1)) >= truth[0][0] and int(m.group(3)) <= 1000 + truth[0][1], \
        (kinds["gen0-empty"], truth)
    assert "gen2-pauses" in kinds, r.stderr
    m = re.search(r"gen-2 pauses up to (\S+) .*?(\d+) collections", kinds["gen2-pauses"])
    assert m and int(m.group(2)) >= truth[2][0], (kinds["gen2-pauses"], truth)
    assert "gc-share" in kinds, r.stderr
    assert "uncollectable" not in kinds, r.stderr
    # the same numbers as the pause table above it
    table = [l.split() for l in r.stderr.splitlines() if re.match(r"^\d+\s+python3\S*\s", l)]
    gen0 = [t for t in table if t[3] == "0"]
    assert gen0 and gen0[0][4] == re.search(r"(\d+) gen-0", kinds["gen0-empty"]).group(1)


@pytest.mark.needs_root
def test_advice_uncollectable_and_none(gcbpf_bin, tmp_path):
    if not os.access(PY311, os.X_OK):
        pytest.skip("%s missing" % PY311)
    truth = tmp_path / "truth.jsonl"
    r = subprocess.run([gcbpf_bin, "-q", "--advice", "--", PY311, WORKLOAD, "--truth",
                        str(truth)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=300)
    assert r.returncode == 0, r.stderr
    recs = [json.loads(l) for l in truth.read_text().splitlines()]
    want = sum(x.get("uncollectable", 0) for x in recs if "gen" in x)
    assert want > 0
    unc = [l for l in _advice(r.stderr) if "[uncollectable]" in l]
    got = sum(int(re.search(r"(\d+) uncollectable objects", l).group(1)) for l in unc)
    assert got == want, (unc, want)
    # a process that does next to nothing gets no advice, and says so
    r = subprocess.run([gcbpf_bin, "-q", "--advice", "--", PY311, "-c", "pass"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=120)
    assert r.returncode == 0 and not _advice(r.stderr) and "Advice: none" in r.stderr, r.stderr


# Idle gen-0 churn under automatic collection with distinctive thresholds: the
# advice must show the thresholds read from the process (issue 12, item 5).
# argv: seconds at the first gen-0 threshold, then (optional) a second
# threshold and the seconds at it (gc.set_threshold at run time).
THRESH_PROG = ("import gc, sys, time\n"
               "def churn(seconds):\n"
               "    end = time.monotonic() + seconds\n"
               "    while time.monotonic() < end:\n"
               "        keep = [[] for _ in range(50000)]\n"   # survivors: nothing freed
               "gc.set_threshold(int(sys.argv[1]), 13, 17)\n"
               "churn(float(sys.argv[2]))\n"
               "if len(sys.argv) > 3:\n"
               "    gc.set_threshold(int(sys.argv[3]), 13, 17)\n"
               "    churn(float(sys.argv[4]))\n"
               "print(gc.get_threshold())\n")


def _threshold_params():
    import test_sid
    from conftest import interp_params
    return interp_params() + test_sid.sid_params()


def _gen0_advice(stderr):
    lines = [l for l in _advice(stderr) if "[gen0-empty]" in l]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.needs_root
@pytest.mark.parametrize("it", _threshold_params())
def test_advice_reads_the_thresholds(it, gcbpf_bin):
    """On every build: the gen-0 advice names the threshold the process set,
    read from its memory, and suggests ten times it. Fails when nothing is
    read (the advice then names no number)."""
    import test_sid
    n = 700 + 10 * int(it.version.split(".")[1]) + (3 if "dbg" in it.label else 1) \
        if it.version else 777
    cmd = [it.path, "-c", THRESH_PROG, str(n), "1.5"]
    if it.label.startswith("sid-"):
        cmd = ["chroot", test_sid.sid_root()] + cmd
    r = subprocess.run([gcbpf_bin, "-q", "--advice", "--"] + cmd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
    assert r.returncode == 0, r.stderr
    line = _gen0_advice(r.stderr)
    assert ("gen-0 threshold %d (gc.get_threshold() (%d, 13, 17), read from the process)"
            % (n, n)) in line, line
    assert "gc.set_threshold(%d, 13, 17)" % (10 * n) in line, line


@pytest.mark.needs_root
def test_advice_follows_set_threshold_at_run_time(gcbpf_bin):
    """gc.set_threshold() while traced: the value is re-read (every 5 s), so
    the advice at exit shows the later one."""
    if not os.access(PY311, os.X_OK):
        pytest.skip("%s missing" % PY311)
    r = subprocess.run([gcbpf_bin, "-q", "--advice", "--", PY311, "-c", THRESH_PROG, "611",
                        "1.5", "913", "7"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=300)
    assert r.returncode == 0, r.stderr
    line = _gen0_advice(r.stderr)
    assert "gen-0 threshold 913 (gc.get_threshold() (913, 13, 17)" in line, line


@pytest.mark.needs_root
def test_advice_with_collection_off(gcbpf_bin):
    """gc.disable(): the gen-0 collections are the program's gc.collect(0)
    calls; the advice says so, with the (default) thresholds read."""
    if not os.access(PY311, os.X_OK):
        pytest.skip("%s missing" % PY311)
    prog = ("import gc, time\ngc.disable()\nend = time.monotonic() + 1.5\n"
            "while time.monotonic() < end:\n    gc.collect(0)\n")
    r = subprocess.run([gcbpf_bin, "-q", "--advice", "--", PY311, "-c", prog],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=300)
    assert r.returncode == 0, r.stderr
    line = _gen0_advice(r.stderr)
    assert "automatic collection is off (gc.disable(), gc.get_threshold() (700, 10, 10), " \
           "read from the process)" in line, line
    # a loop of gc.collect(0) is mostly GC: the share's remedy is the calls, not a threshold
    share = [l for l in _advice(r.stderr) if "[gc-share]" in l]
    assert share and "automatic collection is off, so these are the program's gc.collect() " \
        "calls" in share[0], r.stderr
