"""gcbpf --inside against ground truth (tests/progs/gc_inside.py):

(a) cycles whose __del__ busy-waits, beside a heap the collector traverses:
    the share of the samples gcbpf attributes to that __del__ (its file and
    lines) is within 10 points of the share the process measured itself (its
    busy-waits' CPU time over that of the pauses gc.callbacks timed: the
    samples are CPU time, and the machine may be shared), over the same
    collections (matched by time: gcbpf's clock is CLOCK_MONOTONIC too);
(b) the same with weakref callbacks;
(c) full collections over a million dicts and instances, nothing freed: at
    least 80% of the native samples are named functions of the collector or
    of the types' traverse/visit functions;
(f) the same workload has no finalizer: no Python frames attributed.
Matrix: (a) Debian 3.11 (USDT), pyenv 3.8, 3.12 and 3.13, sid 3.14 and 3.15
(USDT; 3.15 takes the entry probe too with --inside); (b) Debian 3.11 and
sid 3.15; (c), (f) Debian 3.11 (symbols from its debug file) and pyenv 3.12.
"""
import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import PROGS_DIR
import interpreters
import test_ground_truth as gt
import test_sid

PROG = "gc_inside.py"
SHARE_POINTS = 0.10
NATIVE_SHARE = 0.80
# The collector and what it calls to traverse: gc_collect_main, visit_decref,
# dict_traverse, subtract_refs, move_unreachable, gc_list_*, PyObject_IS_GC...
COLLECTOR = re.compile(r"gc|collect|visit|traverse|reachable|refs|untrack|finaliz|mark|"
                       r"IS_GC|validate_list|_PyObject_Visit")

CASES = {
    "del": ["debian-3.11", "pyenv-3.8", "pyenv-3.12", "pyenv-3.13", "sid-3.14", "sid-3.15"],
    "weakref": ["debian-3.11", "sid-3.15"],
    "plain": ["debian-3.11", "pyenv-3.12"],
}


def _interp(label):
    """The interpreter labelled label (pyenv-3.8 matches pyenv-3.8.18); chroot: sid."""
    for it in interpreters.interpreters():
        if it.label == label or it.label.startswith(label + "."):
            return it, False
    for it in test_sid.sid_interpreters():
        if it.label == label:
            return it, True
    return None, False


def _params():
    out = []
    for mode, labels in CASES.items():
        for label in labels:
            it, chroot = _interp(label)
            marks = [] if it is not None and it.present else [pytest.mark.skip(
                reason="interpreter %s missing" % label)]
            out.append(pytest.param(mode, label, id="%s-%s" % (mode, label), marks=marks))
    return out


def _run(gcbpf_bin, it, chroot, mode, tmp_path):
    """The workload in launch mode under --inside; (events of its pid, truth)."""
    if chroot:
        root = test_sid.sid_root()
        inside = "%s/inside-%s-%s-%d" % (test_sid.IN_ROOT_DIR, it.label, mode, os.getpid())
        host = root + inside
        shutil.rmtree(host, ignore_errors=True)
        os.makedirs(host)
        shutil.copy(os.path.join(PROGS_DIR, PROG), host)
        cmd = ["chroot", root, it.path, inside + "/" + PROG]
    else:
        inside = host = str(tmp_path)
        cmd = [it.path, os.path.join(PROGS_DIR, PROG)]
    trace = str(tmp_path / "trace.jsonl")
    try:
        p = subprocess.run([gcbpf_bin, "--inside", "-f", "jsonl", "-o", trace, "--"] + cmd +
                           [mode, "--truth", inside + "/truth.json"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=gt.WORKLOAD_TIMEOUT)
        assert p.returncode == 0, "gcbpf exit status %s:\n%s" % (p.returncode, p.stderr)
        with open(host + "/truth.json") as f:
            truth = json.load(f)
    finally:
        if chroot:
            shutil.rmtree(host, ignore_errors=True)
    with open(trace) as f:
        events = [json.loads(l) for l in f if l.startswith('{"pid"')]
    return events, truth, p.stderr


def _timed(events, truth):
    """The events of the collections the process timed, one per window (3.13+
    calls the callbacks inside the collector the uprobe times: overlap)."""
    out = []
    for t0, t1 in truth["windows"]:
        hits = [e for e in events if e["ts_start"] <= t1 and e["ts_stop"] >= t0]
        assert len(hits) == 1, "window %s: events %r" % ((t0, t1), hits)
        out.append(hits[0])
    return out


@pytest.mark.needs_root
@pytest.mark.parametrize("mode,label", _params())
def test_inside(gcbpf_bin, mode, label, tmp_path):
    it, chroot = _interp(label)
    events, truth, err = _run(gcbpf_bin, it, chroot, mode, tmp_path)
    timed = _timed(events, truth)
    samples = sum(e["inside"]["samples"] for e in timed if e["inside"])
    what = "%s %s: %d collections, %d samples; stderr:\n%s" % (mode, label, len(timed),
                                                               samples, err)
    assert samples >= 30, what
    if mode == "plain":
        python = [e["inside"]["python"] for e in timed if e["inside"]]
        assert not any(python), "(f) Python frames in a workload without any: " + what
        native = [n for e in timed if e["inside"] for n in e["inside"]["native"]]
        ours = sum(n["samples"] for n in native if COLLECTOR.search(n["func"]) and
                   n["binary"] and "+0x" not in n["func"])
        assert ours >= NATIVE_SHARE * samples, "(c) %d of %d in the collector: %s\n%s" % (
            ours, samples, sorted(native, key=lambda n: -n["samples"])[:10], what)
        return
    lo, hi = truth["lines"]
    mine = 0
    for e in timed:
        for st in (e["inside"] or {}).get("python", []):
            outer = st["stack"][-1]
            if (outer["func"] == truth["func"] and outer["file"] == truth["file"] and
                    outer["line"] is not None and lo <= outer["line"] <= hi):
                mine += st["samples"]
    share = mine / samples
    assert abs(share - truth["share"]) <= SHARE_POINTS, \
        "%s attributed %.3f of the samples, the process measured %.3f; %s" % (
            truth["func"], share, truth["share"], what)


@pytest.mark.needs_root
def test_inside_bad_rate(gcbpf_bin):
    p = subprocess.run([gcbpf_bin, "--inside=0", "-p", "1"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, universal_newlines=True, timeout=30)
    assert p.returncode != 0
    assert "invalid --inside rate '0'" in p.stderr


@pytest.mark.needs_root
def test_inside_on_the_page(gcbpf_bin, tmp_path):
    """-f html --inside: the page's inside-the-pause flame graph holds the finalizer the
    process ran inside its pauses, under its generation, and no more time than the
    pauses took."""
    it, chroot = _interp("debian-3.11")
    if it is None or not it.present:
        pytest.skip("no Debian 3.11")
    page = str(tmp_path / "page.html")
    p = subprocess.run([gcbpf_bin, "--inside", "-f", "html", "-o", page, "--", it.path,
                        os.path.join(PROGS_DIR, PROG), "del", "--truth",
                        str(tmp_path / "truth.json")],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=gt.WORKLOAD_TIMEOUT)
    assert p.returncode == 0, p.stderr
    with open(str(tmp_path / "truth.json")) as f:
        truth = json.load(f)
    with open(page) as f:
        m = re.search(r"const GCBPF = (\{.*?\});\n", f.read(), re.S)
    assert m
    data = json.loads(m.group(1).replace("\\u003c", "<"))
    inside = data["inside"]
    assert inside and all(re.match(r"gen [012];", s) for s, _ in inside), inside[:5]
    assert any(truth["func"] in s for s, _ in inside), (truth["func"], inside[:10])
    # each sampled pause's time is split over its samples: never more than the pauses took
    assert data["step"] == 1, data["step"]
    paused = sum(e[3] for e in data["events"]) * 1000  # µs -> ns
    assert 0 < sum(v for _, v in inside) <= paused * 1.001, (sum(v for _, v in inside), paused)
