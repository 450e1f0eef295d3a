"""Growth and waste in --advice (issue 21, item 3), against the process's own
truth (tests/progs/growth_workload.py):

(d) a long-lived heap that grows linearly, a full collection per step: the
    slope gcbpf fits of gen-2 pause against the objects examined (the measure
    the version offers) is within 20% of the slope of the truth's own pauses
    (gc.callbacks start to stop) against len(gc.get_objects()) taken beside
    each collection;
(e) gc.freeze() after start-up: the permanent generation's count gcbpf read
    from the process equals gc.get_freeze_count().

One run per build gives both, with -q: the fits come from the events gcbpf
reads, never from per-event output. Builds: Debian 3.11, pyenv 3.7 (its own
permanent-generation offset), 3.8, 3.12, 3.13, sid 3.13-3.15."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import PROGS_DIR, interp_params
import test_sid

PROG = "growth_workload.py"
LABELS = ("debian-3.11", "pyenv-3.7.", "pyenv-3.8.", "pyenv-3.12.", "pyenv-3.13.",
          "sid-3.13", "sid-3.14", "sid-3.15")
MEASURE = {13: "long_lived_total+long_lived_pending+freed", 14: "heap_size",
           15: "candidates"}


def _params():
    out = []
    for p in interp_params() + test_sid.sid_params():
        label = p.values[0].label
        if any(label == l or (l.endswith(".") and label.startswith(l)) for l in LABELS):
            out.append(p)
    return out


def _slope(xs, ys):
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx


@pytest.mark.needs_root
@pytest.mark.parametrize("it", _params())
def test_growth_and_freeze(it, gcbpf_bin, tmp_path):
    minor = int(it.version.split(".")[1])
    if it.label.startswith("sid-"):
        root = test_sid.sid_root()
        inside = "/tmp/gcbpf-growth-%d" % os.getpid()
        host = root + inside
        os.makedirs(host, exist_ok=True)
        shutil.copy(os.path.join(PROGS_DIR, PROG), host)
        cmd = ["chroot", root, it.path, inside + "/" + PROG, inside + "/truth.json"]
    else:
        host = str(tmp_path)
        cmd = [it.path, os.path.join(PROGS_DIR, PROG), host + "/truth.json"]
    out = tmp_path / "trace.jsonl"
    try:
        r = subprocess.run([gcbpf_bin, "-q", "--advice", "-f", "jsonl", "-o", str(out), "--"]
                           + cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=120)
        assert r.returncode == 0, r.stderr
        truth = json.load(open(host + "/truth.json"))
    finally:
        if it.label.startswith("sid-"):
            shutil.rmtree(host, ignore_errors=True)
    recs = [json.loads(l) for l in out.read_text().splitlines()]
    assert not [x for x in recs if "ts_start" in x], "events written despite -q"
    adv = [x for x in recs if x.get("type") == "advice" and x["pid"] == truth["pid"]]
    assert len(adv) == 1, (r.stderr, recs[-3:])
    adv = adv[0]
    # (e) the permanent generation, read from the process
    assert truth["frozen_after"] == truth["frozen_end"] > 0, truth
    assert adv["frozen"] == truth["frozen_after"], (adv["frozen"], adv["frozen_why"], truth)
    # (d) the fit, against the truth's own
    gen2 = [g for g in adv["generations"] if g["gen"] == 2]
    assert gen2, adv
    gen2 = gen2[0]
    assert gen2["measure"] == MEASURE[min(max(minor, 13), 15)], gen2
    assert gen2["size"]["fit"] and gen2["size"]["points"] >= len(truth["pauses_ns"]), gen2
    want = _slope(truth["objects"], truth["pauses_ns"])
    got = gen2["size"]["slope"]
    assert want > 0 and abs(got - want) <= 0.2 * want, (got, want, gen2, truth)
    # the same in words, on stderr
    assert "gen 2: " in r.stderr and "objects frozen" in r.stderr, r.stderr
