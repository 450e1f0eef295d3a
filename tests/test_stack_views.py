"""The views of the trigger stacks (issue 10, item 3): -f folded, Chrome
slices with their stacks, --by-stack; checked against gc.callbacks' stacks
(tests/progs/gc_stack_workload.py) and against each other in one run."""
import json
import os
import re
import subprocess

import pytest

from conftest import PROGS_DIR
import test_ground_truth as gt

WORKLOAD = os.path.join(PROGS_DIR, "gc_stack_workload.py")
PY311 = "/usr/bin/python3.11"


def _name(f):
    func, path, line = f
    return ("%s (%s:%d)" % (func, path, line) if line is not None else
            "%s (%s)" % (func, path)).replace(";", ":")


def _run(gcbpf_bin, tmp_path, args):
    if not os.access(PY311, os.X_OK):
        pytest.skip("%s missing" % PY311)
    truth = tmp_path / "truth.jsonl"
    p = subprocess.run([gcbpf_bin] + args + ["--", PY311, WORKLOAD, "--truth", str(truth)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=gt.WORKLOAD_TIMEOUT)
    assert p.returncode == 0, p.stderr
    return gt._truth(str(truth)), p.stderr


def _folded(path):
    out = {}
    for line in open(str(path), encoding="utf-8"):
        stack, value = line.rstrip("\n").rsplit(" ", 1)
        assert stack not in out, "a stack twice: %s" % stack
        out[stack] = int(value)
    return out


def _key(stack, depth):
    names = [_name(f) for f in stack[:depth]][::-1]
    return ";".join((["[truncated]"] if len(stack) > depth else []) + names)


def _table_total(stderr, col):
    rows = [l.split() for l in stderr.splitlines() if l.startswith("total ")]
    allrow = [r for r in rows if r[3] == "all"]
    assert allrow, stderr
    return allrow[0][col]


def _ns(text):
    m = re.match(r"^([\d.]+)(ns|us|ms)$", text)
    assert m, text
    return float(m.group(1)) * {"ns": 1, "us": 1e3, "ms": 1e6}[m.group(2)]


@pytest.mark.needs_root
def test_folded_counts_equal_the_truth(gcbpf_bin, tmp_path):
    """--folded-weight count: each stack gc.callbacks saw is a line whose
    count is at least the truth's (the trace also has start-up's), and the
    lines sum to every collection the kernel counted."""
    out = tmp_path / "f.txt"
    truth, err = _run(gcbpf_bin, tmp_path, ["-f", "folded", "--folded-weight", "count",
                                            "-o", str(out), "--stats", "-q"])
    folded = _folded(out)
    want = {}
    for r in truth["records"]:
        k = _key(r["stack"], 64)
        want[k] = want.get(k, 0) + 1
    assert len(want) >= 10, "too few distinct stacks: %d" % len(want)
    short = {k: (folded.get(k), n) for k, n in want.items() if folded.get(k, 0) < n}
    assert not short, "stacks counted fewer times than gc.callbacks saw them: %r" % \
        list(short.items())[:3]
    assert any(k.startswith("[truncated];") for k in want), "no deep stack"
    assert sum(folded.values()) == int(_table_total(err, 4)), (sum(folded.values()), err)
    # outermost first: every workload stack starts at the module or a thread's bootstrap
    assert all(k.split(";")[0].startswith(("<module> (", "Thread._bootstrap (", "[truncated]"))
               for k in want), [k for k in want if not k.startswith("<module>")][:3]


@pytest.mark.needs_root
def test_folded_sums_and_by_stack_agree(gcbpf_bin, tmp_path):
    """One run: the folded ns per stack sum to the run's total pause, and
    --by-stack's top sites are the folded lines with the largest values."""
    out = tmp_path / "f.txt"
    truth, err = _run(gcbpf_bin, tmp_path, ["-f", "folded", "-o", str(out), "--stats",
                                            "--by-stack=5"])
    folded = _folded(out)
    total = _ns(_table_total(err, 5))
    assert abs(sum(folded.values()) - total) <= max(1000, total * 1e-6), (sum(folded.values()),
                                                                          total)
    sites = re.findall(r"^ ?(\d+)\. (\S+)  (.*)$", err, re.M)
    assert [int(s[0]) for s in sites] == [1, 2, 3, 4, 5], err
    top = sorted(folded.items(), key=lambda kv: -kv[1])[:5]
    for (rank, dur, leaf), (stack, ns) in zip(sites, top):
        assert abs(_ns(dur) - ns) <= max(10, ns * 0.0005), (rank, dur, ns)
        assert stack.split(";")[-1] == leaf, (leaf, stack)
    # per generation lines add up to the site's total
    blocks = re.split(r"^ ?\d+\. ", err.split("Trigger sites")[1], flags=re.M)[1:]
    for b in blocks:
        gens = re.findall(r"gen \d: +(\d+) collections  sum +(\S+)", b)
        assert gens, b


@pytest.mark.needs_root
def test_chrome_slices_carry_their_stack(gcbpf_bin, tmp_path):
    """Each GC slice has the trigger stack in its args: the truth's first 16
    frames, innermost first, stack_truncated when it was deeper."""
    out = tmp_path / "t.json"
    truth, err = _run(gcbpf_bin, tmp_path, ["--stacks=16", "-f", "chrome", "-o", str(out)])
    doc = json.loads(out.read_text(encoding="utf-8"))
    slices = sorted((e for e in doc["traceEvents"] if e["ph"] == "X" and
                     e["pid"] == truth["pid"] and
                     truth["begin"] <= e["args"]["ts_start_ns"] <= truth["end"]),
                    key=lambda e: e["args"]["ts_start_ns"])
    recs = truth["records"]
    assert len(slices) == len(recs) > 0, (len(slices), len(recs))
    cut = 0
    for i, (s, r) in enumerate(zip(slices, recs)):
        assert s["args"]["generation"] == r["gen"], i
        assert s["args"]["stack"] == [_name(f) for f in r["stack"][:16]], (i, s["args"],
                                                                            r["stack"][:16])
        assert s["args"]["stack_truncated"] is (len(r["stack"]) > 16), i
        cut += len(r["stack"]) > 16
    assert cut, "no stack deeper than 16"
