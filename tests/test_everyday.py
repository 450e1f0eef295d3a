"""Everyday use (issue 12): who each process is (command line, unit,
container, service) in every output, --match and --hide-args, --list of the
host's Pythons, and the default text view (long pauses plus a line per
process per second; --all-events for every collection).

Real gcbpf against real Pythons; exact numbers against gc.callbacks.
"""
import json
import os
import re
import subprocess
import time

import pytest

from conftest import PROGS_DIR, all_interpreters

GC_N = os.path.join(PROGS_DIR, "gc_n.py")
PY311 = "/usr/bin/python3.11"


def _need_py311():
    if not os.access(PY311, os.X_OK):
        pytest.skip("%s missing" % PY311)


def _read(path):
    try:
        with open(str(path), errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _wait_for(cond, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    pytest.fail("timed out waiting for " + what)


def _script(tmp_path, name):
    """gc_n.py under another name: the job is the script's name."""
    p = tmp_path / name
    p.write_text(_read(GC_N))
    return p


@pytest.mark.needs_root
def test_identity_in_jsonl_and_chrome(gcbpf_bin, tmp_path):
    """The process record names the command line and service; with
    --hide-args the arguments are gone."""
    _need_py311()
    prog = _script(tmp_path, "billing_worker.py")
    counts = tmp_path / "counts.json"
    for hide in (False, True):
        ev = tmp_path / ("ev%d.jsonl" % hide)
        extra = ["--hide-args"] if hide else []
        r = subprocess.run([gcbpf_bin, "-f", "jsonl", "-o", str(ev)] + extra +
                           ["--", PY311, str(prog), "30", "--counts", str(counts)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=120)
        assert r.returncode == 0, r.stderr
        rows = [json.loads(l) for l in _read(ev).splitlines()]
        truth = json.loads(_read(counts))
        procs = [o for o in rows if o.get("type") == "process" and o["pid"] == truth["pid"]]
        assert len(procs) == 1, procs
        p = procs[0]
        if hide:
            assert p["cmdline"] == "%s %s" % (PY311, prog), p
        else:
            assert p["cmdline"] == "%s %s 30 --counts %s" % (PY311, prog, counts), p
        assert p["service"] in (p["unit"], p["container"], "billing_worker"), p
        # the process record comes before the process's first collection
        first = [i for i, o in enumerate(rows) if o.get("pid") == truth["pid"]]
        assert rows[first[0]].get("type") == "process", rows[first[0]]
        summ = [o for o in rows if o.get("type") == "summary" and o["pid"] == truth["pid"]]
        assert summ and all(s["service"] == p["service"] for s in summ), summ
        assert [sum(s["count"] for s in summ if s["gen"] == g) >= truth["gen"][g]
                for g in range(3)] == [True] * 3
    # Chrome: the process track is named by who it is
    trace = tmp_path / "t.json"
    r = subprocess.run([gcbpf_bin, "-f", "chrome", "-o", str(trace), "--", PY311, str(prog),
                        "10"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=120)
    assert r.returncode == 0, r.stderr
    names = [e["args"]["name"] for e in json.loads(_read(trace))["traceEvents"]
             if e["ph"] == "M" and e["name"] == "process_name"]
    assert any(n.startswith("billing_worker.py 10 (python3") or ".service (" in n
               for n in names), names


@pytest.mark.needs_root
def test_match_picks_a_script(gcbpf_bin, tmp_path):
    """System-wide with --match: only the matching script's collections, exactly."""
    _need_py311()
    a, b = _script(tmp_path, "wanted_app.py"), _script(tmp_path, "other_app.py")
    ev, err = tmp_path / "ev.jsonl", tmp_path / "err"
    ca, cb, hold = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "hold"
    with open(str(err), "w") as e:
        g = subprocess.Popen([gcbpf_bin, "-f", "jsonl", "-o", str(ev), "--match",
                              "*wanted_app.py*"], stderr=e)
    try:
        _wait_for(lambda: "Tracing" in _read(err), 30, "Tracing")
        pa = subprocess.Popen([PY311, str(a), "40", "--counts", str(ca), "--hold", str(hold)])
        pb = subprocess.Popen([PY311, str(b), "40", "--counts", str(cb), "--hold", str(hold)])
        _wait_for(lambda: ca.exists() and cb.exists(), 60, "the targets")
        hold.write_text("x")
        pa.wait(timeout=30)
        pb.wait(timeout=30)
        time.sleep(0.5)
    finally:
        g.terminate()
        g.wait(timeout=30)
    ta, tb = json.loads(_read(ca)), json.loads(_read(cb))
    rows = [json.loads(l) for l in _read(ev).splitlines()]
    pids = {o["pid"] for o in rows if "pid" in o and o.get("pid")}
    assert ta["pid"] in pids and tb["pid"] not in pids, (pids, ta["pid"], tb["pid"])
    mine = [o for o in rows if "type" not in o and o["pid"] == ta["pid"]]
    assert [sum(1 for o in mine if o["gen"] == g) >= ta["gen"][g] for g in range(3)] == [True] * 3


@pytest.mark.needs_root
def test_list_without_target(gcbpf_bin, tmp_path):
    """--list alone lists the host's Pythons: each with its service, version and probe."""
    _need_py311()
    pyenv = [it for it in all_interpreters() if it.present and it.label.startswith("pyenv-3.12")]
    procs = [subprocess.Popen([PY311, "-c", "import time; time.sleep(30)", "listme"])]
    if pyenv:
        procs.append(subprocess.Popen([pyenv[0].path, "-c", "import time; time.sleep(30)"]))
    try:
        time.sleep(0.5)
        r = subprocess.run([gcbpf_bin, "--list"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
        m = subprocess.run([gcbpf_bin, "--list", "--match", "*listme*"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert r.returncode == 0, r.stderr
    lines = {int(l.split()[0]): l for l in r.stdout.splitlines()[1:] if l.split()[0].isdigit()}
    assert procs[0].pid in lines and "3.11.2" in lines[procs[0].pid] and \
        "usdt" in lines[procs[0].pid], r.stdout
    if pyenv:
        assert procs[1].pid in lines and "uprobe" in lines[procs[1].pid], r.stdout
    assert os.getpid() not in lines or "pytest" in lines[os.getpid()]
    got = [int(l.split()[0]) for l in m.stdout.splitlines()[1:]]
    assert procs[0].pid in got and all(p.pid not in got for p in procs[1:]), m.stdout
    # another job's process may match too (a shared host): each one listed matches
    for pid in got:
        cmd = _read("/proc/%d/cmdline" % pid)
        assert not cmd or "listme" in cmd, (pid, cmd, m.stdout)


@pytest.mark.needs_root
def test_default_text_is_readable(gcbpf_bin, tmp_path):
    """Default text: only pauses >= 1 ms, and once a second a line per process
    whose counts are exact; --all-events gives every collection."""
    _need_py311()
    prog = ("import gc, json, sys, time\n"
            "n = {0: 0, 1: 0, 2: 0}\n"
            "gc.callbacks.append(lambda ph, i: ph == 'start' and n.__setitem__(i['generation'], "
            "n[i['generation']] + 1))\n"
            "end = time.monotonic() + 3.2\n"
            "while time.monotonic() < end:\n"
            "    x = [[] for _ in range(3000)]\n"
            "    for a, b in zip(x, x[1:]): a.append(b)\n"
            "    del x\n"
            "    time.sleep(0.002)\n"
            "gc.callbacks.clear()\n"
            "json.dump(n, open(sys.argv[1], 'w'))\n")
    counts = tmp_path / "n.json"
    r = subprocess.run([gcbpf_bin, "--", PY311, "-c", prog, str(counts)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=120)
    assert r.returncode == 0, r.stderr
    truth = json.loads(_read(counts))
    events = [l for l in r.stderr.splitlines() if re.match(r"^\d\d:\d\d:\d\d\.\d{3} ", l)]
    lines = [l for l in r.stderr.splitlines() if re.match(r"^\d\d:\d\d:\d\d +\d+ ", l)]
    assert len(lines) >= 2, r.stderr
    assert len(events) < sum(truth.values()) / 10, "not quiet: %d lines" % len(events)
    for l in events:
        m = re.search(r"\s([\d.]+)(ns|us|ms)\s", l)
        assert m and m.group(2) == "ms" and float(m.group(1)) >= 1.0, l
    for l in lines:
        assert re.search(r"\d+ collections \(gen 0/1/2: \d+/\d+/\d+\) in 1\.\d s, \S+ paused "
                         r"\(\d+\.\d\d%\), max \S+$", l), l
    # the per-second counts never exceed the truth, and the final table is exact
    per_sec = [tuple(int(x) for x in re.search(r"gen 0/1/2: (\d+)/(\d+)/(\d+)", l).groups())
               for l in lines]
    for g in range(3):
        assert sum(p[g] for p in per_sec) <= truth[str(g)] + 20, (per_sec, truth)
    table = [l.split() for l in r.stderr.splitlines() if re.match(r"^\d+\s+python3\S*\s", l)]
    got = {int(t[3]): int(t[4]) for t in table}
    assert [got.get(g, 0) >= truth[str(g)] for g in range(3)] == [True] * 3, (got, truth)
    # every collection with --all-events
    r = subprocess.run([gcbpf_bin, "--all-events", "--", PY311, "-c", prog, str(counts)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=120)
    truth = json.loads(_read(counts))
    events = [l for l in r.stderr.splitlines() if re.match(r"^\d\d:\d\d:\d\d\.\d{3} ", l)]
    assert len(events) >= sum(truth.values()), (len(events), truth)
    assert not [l for l in r.stderr.splitlines() if re.match(r"^\d\d:\d\d:\d\d +\d+ ", l)]
