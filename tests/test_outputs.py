"""What people look at: --stats percentiles, --hist, --min-ms, -f chrome,
--prometheus, --bpftrace, and --help against the man page.

Each BPF case is a real run against a real interpreter (Debian's python3.11,
USDT; a pyenv build for the uprobe one-liner), checked against gcbpf's own
JSONL of the same run or against gc.callbacks inside the target.
"""
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import PROGS_DIR, REPO_ROOT, WORKLOAD, all_interpreters

GC_N = os.path.join(PROGS_DIR, "gc_n.py")
PY311 = "/usr/bin/python3.11"
QS = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}
HIST_RE = re.compile(r"^(\[\d+\]|\[(\d+[KMGT]?), (\d+[KMGT]?)\))\s+(\d+) \|@*\s*\|$")


def _read(path):
    try:
        with open(str(path), errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _events(path):
    out = []
    for line in _read(path).splitlines():
        o = json.loads(line)
        if "type" not in o:
            out.append(o)
    return out


def _typed(path, kind):
    return [o for o in map(json.loads, _read(path).splitlines())
            if o.get("type") == kind]


def _exact(durations, q):
    s = sorted(durations)
    rank = max(1, int(math.ceil(q * len(s))))
    return s[rank - 1]


def _run(args, timeout=120, **kw):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=timeout, **kw)
    return p


def _wait_for(pred, timeout, what, proc=None, err=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        if proc is not None and proc.poll() is not None:
            pytest.fail("%s: process exited (%s) first; stderr:\n%s"
                        % (what, proc.returncode, _read(err) if err else ""))
        time.sleep(0.05)
    pytest.fail("timed out waiting for %s; stderr:\n%s"
                % (what, _read(err) if err else ""))


def _stop(proc):
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _need_py311():
    if not os.access(PY311, os.X_OK):
        pytest.skip("%s missing (apt-get install python3.11)" % PY311)


def _dur_ns(text):
    """A table's duration ("705ns", "12.35us", "1.234ms") in ns."""
    m = re.match(r"^([\d.]+)(ns|us|ms)$", text)
    assert m, "not a duration: %r" % text
    return float(m.group(1)) * {"ns": 1, "us": 1e3, "ms": 1e6}[m.group(2)]


def _hist_sections(text):
    """{label: {bucket-label: count}} from bpftrace-style @pause_ns output."""
    out, cur = {}, None
    for line in text.splitlines():
        m = re.match(r"^@pause_ns\[(.*)\]:$", line)
        if m:
            cur = out.setdefault(m.group(1), {})
            continue
        m = HIST_RE.match(line)
        if m and cur is not None:
            cur[m.group(1)] = int(m.group(4))
        elif not line.strip():
            cur = None
    return out


def _slot_label(ns):
    """The bpftrace hist() row a value falls in."""
    if ns < 2:
        return "[%d]" % ns
    k = ns.bit_length() - 1

    def lab(p):
        for s, sh in (("T", 40), ("G", 30), ("M", 20), ("K", 10)):
            if p >= sh:
                return "%d%s" % (1 << (p - sh), s)
        return str(1 << p)
    return "[%s, %s)" % (lab(k), lab(k + 1))


# --------------------------------------------------------------------------
# no root: options

def test_help_matches_man_page(repo_root):
    gcbpf = os.environ.get("GCBPF") or os.path.join(repo_root, "gcbpf")
    if not os.access(gcbpf, os.X_OK):
        pytest.skip("gcbpf not built")
    # the subcommands' options are in the same man page
    helptext = "".join(_run([gcbpf] + sub + ["--help"]).stdout
                       for sub in ([], ["report"], ["compare"]))
    man = _read(os.path.join(repo_root, "gcbpf.8"))
    assert man, "gcbpf.8 missing"
    in_help = set(re.findall(r"--([a-z][a-z-]+)", helptext)) - {"help", "usage", "version"}
    in_man = set(re.findall(r"--([a-z][a-z-]+)", man.replace("\\-", "-"))) - {
        "help", "usage", "version"}
    assert in_help, helptext
    assert in_help == in_man, ("--help and gcbpf.8 differ: only in --help %r, "
                               "only in the man page %r"
                               % (sorted(in_help - in_man), sorted(in_man - in_help)))
    comp = _read(os.path.join(repo_root, "completion", "gcbpf.bash"))
    missing = sorted(o for o in in_help if "--" + o not in comp)
    assert not missing, "completion/gcbpf.bash lacks %r" % missing


# --------------------------------------------------------------------------
# root: real runs

@pytest.mark.needs_root
def test_stats_and_hist_match_events(gcbpf_bin, tmp_path):
    """--stats percentiles within 1% of the exact ones from the same run's
    JSONL; --hist counts equal the events, row by row."""
    _need_py311()
    ev = tmp_path / "ev.jsonl"
    truth = tmp_path / "truth.jsonl"
    p = _run([gcbpf_bin, "--stats", "--hist", "-f", "jsonl", "-o", str(ev), "--",
              PY311, WORKLOAD, "--truth", str(truth)], timeout=300)
    assert p.returncode == 0, p.stderr
    events = _events(ev)
    assert len(events) > 50, "too few collections: %d" % len(events)
    stats = _typed(ev, "stats")
    assert _typed(ev, "counters")[0]["lost"] == 0
    by_gen = {g: [e["duration_ns"] for e in events if e["gen"] == g] for g in range(3)}
    checked = 0
    for row in stats:
        if row["pid"] is None:
            durs = by_gen[row["gen"]] if row["gen"] != "all" else \
                [e["duration_ns"] for e in events]
        else:
            durs = [e["duration_ns"] for e in events if e["pid"] == row["pid"] and
                    (row["gen"] == "all" or e["gen"] == row["gen"])]
        assert row["count"] == len(durs), row
        assert row["sum_ns"] == sum(durs), row
        assert row["max_ns"] == max(durs), row
        for name, q in QS.items():
            exact = _exact(durs, q)
            got = row[name + "_ns"]
            assert abs(got - exact) <= max(0.01 * exact, 1), (
                "%s gen %s: %s %d vs exact %d" % (row["pid"], row["gen"], name, got, exact))
            checked += 1
    assert checked >= 16, stats
    # the table carries the same numbers, each in the unit that fits; in
    # launch mode on stderr (stdout is the command's)
    assert "PID" not in p.stdout and "@pause_ns" not in p.stdout, p.stdout
    table = [l.split() for l in p.stderr.splitlines() if l.startswith("total ")]
    # PID COMM SERVICE GEN COUNT SUM MEAN P50 P90 P95 P99 MAX GC(%)
    assert [r[3] for r in table] == ["0", "1", "2", "all"], p.stderr
    for r in table:
        durs = by_gen[int(r[3])] if r[3] != "all" else [e["duration_ns"] for e in events]
        assert int(r[4]) == len(durs)
        assert _dur_ns(r[5]) == pytest.approx(sum(durs), rel=1e-6, abs=1000)
        assert _dur_ns(r[7]) == pytest.approx(_exact(durs, 0.5), rel=0.01, abs=10)
        assert _dur_ns(r[11]) == pytest.approx(max(durs), rel=1e-6, abs=1000)
    # --hist: one section per generation, each row exact
    hists = _hist_sections(p.stderr)
    for g in range(3):
        want = {}
        for d in by_gen[g]:
            want[_slot_label(d)] = want.get(_slot_label(d), 0) + 1
        got = {k: v for k, v in hists.get("gen %d" % g, {}).items() if v}
        assert got == want, "gen %d: hist %r != events %r" % (g, got, want)


@pytest.mark.needs_root
def test_min_ms_filters_events_not_stats(gcbpf_bin, tmp_path):
    """--min-ms: only long pauses reach the output; the summary still counts
    every collection gc.callbacks saw (attached by pid, stopped before exit,
    so the window is exactly the target's)."""
    _need_py311()
    ev, err = tmp_path / "ev.jsonl", tmp_path / "err"
    go, counts, hold = tmp_path / "go", tmp_path / "counts.json", tmp_path / "hold"
    ready = tmp_path / "ready"
    target = subprocess.Popen([PY311, GC_N, "120", "--go", str(go), "--counts",
                               str(counts), "--hold", str(hold), "--ready", str(ready)])
    g = None
    try:
        _wait_for(ready.exists, 30, "the target to start", target)
        with open(str(err), "w") as e:
            g = subprocess.Popen([gcbpf_bin, "--min-ms", "0.2", "-f", "jsonl", "-o",
                                  str(ev), "-p", str(target.pid)], stderr=e)
        _wait_for(lambda: "Tracing" in _read(err), 30, "Tracing", g, err)
        go.write_text("go")
        _wait_for(counts.exists, 60, "the target's collections")
        g.send_signal(signal.SIGINT)
        assert g.wait(timeout=20) == 0, _read(err)
    finally:
        hold.write_text("x")
        _stop(g)
        target.wait(timeout=30)
    truth = json.loads(_read(counts))
    events = _events(ev)
    assert all(e["duration_ns"] >= 200000 for e in events), events
    assert len(events) < sum(truth["gen"]), "filter had no effect"
    summ = {s["gen"]: s["count"] for s in _typed(ev, "summary") if s["pid"] == truth["pid"]}
    assert [summ.get(g, 0) for g in range(3)] == truth["gen"], (summ, truth)


@pytest.mark.needs_root
def test_chrome_trace_one_slice_per_collection(gcbpf_bin, tmp_path):
    _need_py311()
    out = tmp_path / "trace.json"
    truth = tmp_path / "truth.jsonl"
    p = _run([gcbpf_bin, "-f", "chrome", "-o", str(out), "--",
              PY311, WORKLOAD, "--truth", str(truth)], timeout=300)
    assert p.returncode == 0, p.stderr
    doc = json.loads(_read(out))
    evs = doc["traceEvents"]
    recs = [json.loads(l) for l in _read(truth).splitlines()]
    head = recs[0]
    coll = [r for r in recs if "gen" in r]
    slices = [e for e in evs if e["ph"] == "X" and e["pid"] == head["pid"]
              and head["begin"] <= e["args"]["ts_start_ns"] <= recs[-1]["end"]]
    assert len(slices) == len(coll)
    for g in range(3):
        assert (sum(1 for s in slices if s["name"] == "GC gen %d" % g) ==
                sum(1 for r in coll if r["gen"] == g))
    assert {"collected", "uncollectable", "heap_size", "reason"} <= set(slices[0]["args"])
    names = {(e["name"], e["tid"]) for e in evs if e["ph"] == "M"}
    assert ("process_name", head["pid"]) in names
    tids = {s["tid"] for s in slices}
    assert all(("thread_name", t) in names for t in tids)
    assert any(e["ph"] == "C" and e["pid"] == head["pid"] for e in evs)
    for s in slices:
        assert s["dur"] >= 0 and s["ts"] > 0


@pytest.mark.needs_root
def test_chrome_trace_valid_after_sigint(gcbpf_bin, tmp_path):
    _need_py311()
    out = tmp_path / "trace.json"
    err = tmp_path / "err"
    hold = tmp_path / "hold"
    target = subprocess.Popen([PY311, GC_N, "30", "--hold", str(hold)])
    g = None
    try:
        with open(str(err), "w") as e:
            g = subprocess.Popen([gcbpf_bin, "-f", "chrome", "-o", str(out), "-p",
                                  str(target.pid)], stderr=e)
        _wait_for(lambda: "Tracing" in _read(err), 30, "Tracing", g, err)
        g.send_signal(signal.SIGINT)
        assert g.wait(timeout=20) == 0, _read(err)
        doc = json.loads(_read(out))
        assert isinstance(doc["traceEvents"], list)
    finally:
        hold.write_text("x")
        _stop(g)
        target.wait(timeout=30)


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _prom_samples(text):
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        m = re.match(r"^([a-z_]+)(\{.*\})? (\S+)$", line)
        assert m, line
        labels = dict(re.findall(r'([a-z_]+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out.setdefault(m.group(1), []).append((labels, float(m.group(3))))
    return out


@pytest.mark.needs_root
def test_prometheus_metrics(gcbpf_bin, tmp_path):
    _need_py311()
    for tool in ("curl", "promtool"):
        if not shutil.which(tool):
            pytest.skip("%s missing (apt-get install curl prometheus)" % tool)
    port = _free_port()
    ev = tmp_path / "ev.jsonl"
    err = tmp_path / "err"
    counts = tmp_path / "counts.json"
    hold = tmp_path / "hold"
    g = None
    try:
        with open(str(err), "w") as e:
            g = subprocess.Popen([gcbpf_bin, "--prometheus", str(port), "--prometheus-pid",
                                  "-f", "jsonl", "-o", str(ev), "--", PY311, GC_N, "90",
                                  "--counts", str(counts), "--hold", str(hold)], stderr=e)
        _wait_for(counts.exists, 60, "the target's collections", g, err)
        time.sleep(2.5)     # the exporter's snapshot is refreshed every second
        t_scrape = time.monotonic_ns()
        scrape = _run(["curl", "-sf", "http://127.0.0.1:%d/metrics" % port])
        assert scrape.returncode == 0, scrape.stderr
        text = scrape.stdout
        chk = subprocess.run(["promtool", "check", "metrics"], input=text,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True, timeout=30)
        assert chk.returncode == 0, chk.stdout + "\n" + text
        hold.write_text("x")
        assert g.wait(timeout=30) == 0, _read(err)
    finally:
        hold.write_text("x")
        _stop(g)
    truth = json.loads(_read(counts))
    # the run's JSONL up to the scrape (the target idled meanwhile)
    events = [e for e in _events(ev) if e["pid"] == truth["pid"] and
              e["ts_stop"] < t_scrape]
    s = _prom_samples(text)
    pid = str(truth["pid"])
    # who the process is: its process record (the job is the script's name)
    proc = [o for o in _typed(ev, "process") if o["pid"] == truth["pid"]][0]
    assert proc["cmdline"].endswith("gc_n.py 90 --counts %s --hold %s" % (counts, hold)), proc
    assert proc["service"] == proc["unit"] or proc["service"] == proc["container"] or \
        proc["service"] == "gc_n", proc
    for gen in range(3):
        n = sum(1 for e in events if e["gen"] == gen)
        lab = lambda l: l.get("pid") == pid and l.get("generation") == str(gen)
        coll = [v for l, v in s["python_gc_collections_total"] if lab(l)]
        cnt = [v for l, v in s["python_gc_duration_seconds_count"] if lab(l)]
        inf = [v for l, v in s["python_gc_duration_seconds_bucket"]
               if lab(l) and l["le"] == "+Inf"]
        ncoll = sum(e["collected"] for e in events if e["gen"] == gen)
        got_coll = [v for l, v in s["python_gc_objects_collected_total"] if lab(l)]
        assert coll == cnt == inf == [n], (gen, coll, cnt, inf, n)
        assert got_coll == [ncoll]
        assert n >= truth["gen"][gen]
        service = [l.get("service") for l, v in s["python_gc_collections_total"] if lab(l)]
        assert service == [proc["service"]], (service, proc)
    assert s["gcbpf_events_lost_total"][0][1] == 0


@pytest.mark.needs_root
def test_prometheus_per_service(gcbpf_bin, tmp_path):
    """By default a service's series sum its processes (no pid label): two
    runs of one script add up, and --match keeps only the matching one."""
    _need_py311()
    port = _free_port()
    err = tmp_path / "err"
    hold = tmp_path / "hold"
    c1, c2 = tmp_path / "c1.json", tmp_path / "c2.json"
    # names no other job on the host runs: the service is the script's name
    svc = "svc%d_job" % os.getpid()
    script = tmp_path / (svc + ".py")
    script.write_text(_read(GC_N))
    other = tmp_path / "other_job.py"
    other.write_text(_read(GC_N))
    procs, g = [], None
    try:
        with open(str(err), "w") as e:
            g = subprocess.Popen([gcbpf_bin, "--prometheus", str(port), "-q", "--match",
                                  "*%s*" % svc], stderr=e)
        _wait_for(lambda: "Tracing" in _read(err), 30, "Tracing", g, err)
        for c, prog in ((c1, script), (c2, script), (tmp_path / "c3.json", other)):
            procs.append(subprocess.Popen([PY311, str(prog), "60", "--counts", str(c),
                                           "--hold", str(hold)]))
        _wait_for(lambda: c1.exists() and c2.exists() and (tmp_path / "c3.json").exists(),
                  60, "the targets' collections")
        time.sleep(2.5)
        s = _prom_samples(_run(["curl", "-sf", "http://127.0.0.1:%d/metrics" % port]).stdout)
    finally:
        hold.write_text("x")
        for p in procs:
            p.wait(timeout=30)
        _stop(g)
    t1, t2 = json.loads(_read(c1)), json.loads(_read(c2))
    series = [(l, v) for l, v in s["python_gc_collections_total"]]
    assert all("pid" not in l for l, v in series), series
    assert not any(l["service"] == "other_job" for l, v in series), series
    mine = [l["service"] for l, v in series]
    assert len(set(mine)) == 1, series
    for gen in range(3):
        got = [v for l, v in series if l["generation"] == str(gen)]
        # the scripts' own collections, at least (interpreter start-up adds a few)
        assert got and got[0] >= t1["gen"][gen] + t2["gen"][gen], (gen, got, t1, t2)
    live = [v for l, v in s["python_gc_processes"]]
    assert live == [2], s["python_gc_processes"]


def _uprobe_interp():
    for it in all_interpreters():
        if it.present and it.expected_probe != "usdt" and it.version and \
                (3, 9) <= tuple(int(x) for x in it.version.split(".")[:2]) <= (3, 13):
            return it
    return None


@pytest.mark.needs_root
@pytest.mark.parametrize("kind", ["usdt", "uprobe"])
def test_bpftrace_oneliner_counts(gcbpf_bin, tmp_path, kind):
    if not shutil.which("bpftrace"):
        pytest.skip("bpftrace missing (apt-get install bpftrace)")
    if kind == "usdt":
        _need_py311()
        py = PY311
    else:
        it = _uprobe_interp()
        if it is None:
            pytest.skip("no pyenv 3.9-3.13 build with .symtab")
        py = it.path
    go, counts, hold = tmp_path / "go", tmp_path / "counts.json", tmp_path / "hold"
    out, err = tmp_path / "bt.out", tmp_path / "bt.err"
    ready = tmp_path / "ready"
    target = subprocess.Popen([py, GC_N, "60", "--go", str(go), "--counts", str(counts),
                               "--hold", str(hold), "--ready", str(ready)])
    bt = None
    try:
        _wait_for(ready.exists, 30, "the target to start", target)
        p = _run([gcbpf_bin, "--bpftrace", "-p", str(target.pid)])
        assert p.returncode == 0, p.stderr
        cmd = [l for l in p.stdout.splitlines() if l.startswith("bpftrace ")]
        assert len(cmd) == 1, p.stdout
        assert ("usdt:" in cmd[0]) == (kind == "usdt"), cmd[0]
        assert "-p %d" % target.pid in cmd[0]
        with open(str(out), "w") as o, open(str(err), "w") as e:
            bt = subprocess.Popen(["bash", "-c", "exec " + cmd[0]], stdout=o, stderr=e)
        _wait_for(lambda: "Tracing CPython GC" in _read(out), 60, "bpftrace", bt, err)
        go.write_text("go")
        _wait_for(counts.exists, 60, "the target's collections")
        time.sleep(0.5)
        bt.send_signal(signal.SIGINT)
        bt.wait(timeout=30)
    finally:
        hold.write_text("x")
        _stop(bt)
        target.wait(timeout=30)
    truth = json.loads(_read(counts))
    got = {}
    for m in re.finditer(r"^@collections\[(\d+), [^,]*, (-?\d+)\]: (\d+)$", _read(out), re.M):
        assert int(m.group(1)) == target.pid
        got[int(m.group(2))] = int(m.group(3))
    assert [got.get(g, 0) for g in range(3)] == truth["gen"], (_read(out), truth)
    assert re.search(r"^@pause_ns\[2\]: *$", _read(out), re.M), _read(out)
