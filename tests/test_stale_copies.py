"""Every way gcbpf's per-interpreter copy of the GC statistics (bpf/copy.bpf.h:
the exit compares its one read with the previous exit's) can go stale, each
exact against the ground truth of every interpreter and process image
(tests/progs/gc_stale.py; gc_recorder), on the USDT path (Debian 3.11) and
the uprobe path (pyenv 3.6-3.13):

  threads    8 threads collecting in turn
  fork       collections on both sides of a fork
  exec       collections, exec of the same interpreter in the same pid, more
  attach     gcbpf -p attaches while collections run
  subinterp  subinterpreters created, collected in (own recorder each) and
             destroyed in a loop (3.12 _xxsubinterpreters, 3.13 _interpreters)
  embed      a C program: Py_Initialize, collections, Py_Finalize, 3 times
             (3.8+ reset the counters: Py_Initialize's own collections must
             add up to the new interpreter's gc.get_stats())
  comm       a copy that really is stale (--comm, the process renames itself
             between phases): counted and flagged, never reported with counts
  sid        threads/fork/exec/subinterp on sid 3.13-3.15 (chroot)
  USDT subinterpreters (Debian 3.11, sid): not attributable, counted

Besides the truth, the kernel's counters must say stale == 0 (no collection
the copy could not explain), and, where the copy applies (3.6-3.13), most
collections must have been measured without an entry read (entry_reads).
Other scenarios elsewhere: forker.py process trees (test_system_wide,
test_launch_safety), -p and exec into another Python (test_launch_safety).
"""
import json
import os
import subprocess

import pytest

from conftest import PROGS_DIR, interp_params
import compare_truth

STALE = os.path.join(PROGS_DIR, "gc_stale.py")
TIMEOUT = 180


def _vt(it):
    return tuple(int(x) for x in (it.version or "0.0").split(".")[:2])


def _counters(trace):
    for e in reversed([json.loads(l) for l in open(str(trace)) if l.strip()]):
        if e.get("type") == "counters":
            return e
    raise AssertionError("no counters record in " + str(trace))


def _check(trace, items, tmp_path, what):
    """Each truth file against the trace's events of its pid (and interpreter)."""
    events = compare_truth.load_trace(str(trace))
    n = 0
    for k, item in enumerate(items):
        sel = [e for e in events if e.get("pid") == item["pid"] and
               (item["iid"] is None or e.get("iid") == item["iid"])]
        part = tmp_path / ("part%d.jsonl" % k)
        with open(str(part), "w") as f:
            for e in sel:
                f.write(json.dumps(e) + "\n")
        ok, msg = compare_truth.compare(item["truth"], str(part), item["pid"],
                                        check_tid=True, strict=True,
                                        label="%s %s" % (what, os.path.basename(item["truth"])))
        print(msg)
        assert ok, msg
        n += len(compare_truth.load_truth(item["truth"])["records"])
    return n


def _copy_applies(it):
    # 3.14+ read heap_size at the entry; 3.15 is the ring kind.
    return _vt(it) < (3, 14)


def _check_counters(trace, it, n, what, min_share=0.5):
    c = _counters(trace)
    assert c["stale"] == 0, "%s: %r" % (what, c)
    assert c["read_errors"] == 0, "%s: %r" % (what, c)
    if _copy_applies(it) and min_share:
        # The copy did the work: entry reads only where there was no copy.
        assert c["entry_reads"] <= (1 - min_share) * n, (
            "%s: %d of %d collections read at the entry: %r" % (what, c["entry_reads"], n, c))


def _run_launch(gcbpf_bin, it, scenario, tmp_path, argv=None):
    trace = tmp_path / "trace.jsonl"
    d = tmp_path / "d"
    d.mkdir()
    cmd = argv or [it.path, STALE, scenario, "--dir", str(d)]
    p = subprocess.run([gcbpf_bin, "-f", "jsonl", "-o", str(trace), "--"] + cmd,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    with open(str(d / "done.json")) as f:
        items = json.load(f)
    return trace, items


@pytest.mark.needs_root
@pytest.mark.parametrize("scenario", ["threads", "fork", "exec"])
@pytest.mark.parametrize("it", interp_params())
def test_stale_launch(it, scenario, gcbpf_bin, tmp_path):
    trace, items = _run_launch(gcbpf_bin, it, scenario, tmp_path)
    what = "%s-%s" % (it.label, scenario)
    n = _check(trace, items, tmp_path, what)
    _check_counters(trace, it, n, what)


@pytest.mark.needs_root
@pytest.mark.parametrize("it", interp_params())
def test_stale_attach(it, gcbpf_bin, tmp_path):
    """gcbpf -p while the target collects every few ms."""
    d = tmp_path / "d"
    d.mkdir()
    go = tmp_path / "go"
    trace, err = tmp_path / "trace.jsonl", tmp_path / "gcbpf.stderr"
    target = subprocess.Popen([it.path, STALE, "attach", "--dir", str(d),
                               "--wait-file", str(go)])
    gcbpf = None
    try:
        with open(str(err), "w") as e:
            gcbpf = subprocess.Popen([gcbpf_bin, "-f", "jsonl", "-o", str(trace), "-p",
                                      str(target.pid)], stdout=subprocess.DEVNULL, stderr=e)
        import test_ground_truth as gt
        gt._wait_for_tracing(gcbpf, str(err))
        go.touch()
        assert target.wait(timeout=TIMEOUT) == 0
        assert gcbpf.wait(timeout=30) == 0, open(str(err)).read()
    finally:
        for p in (target, gcbpf):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
    with open(str(d / "done.json")) as f:
        items = json.load(f)
    what = it.label + "-attach"
    n = _check(trace, items, tmp_path, what)
    # No share of entry reads here: while the exit probes are being attached
    # the entry probes already run, each time with an entry read and no exit.
    _check_counters(trace, it, n, what, min_share=0)


def _subinterp_params():
    return [p for p in interp_params()
            if p.values[0].present and _vt(p.values[0]) >= (3, 12)] or \
        [pytest.param(None, marks=pytest.mark.skip(reason="no Python 3.12+ found"))]


@pytest.mark.needs_root
@pytest.mark.parametrize("it", _subinterp_params())
def test_stale_subinterpreters(it, gcbpf_bin, tmp_path):
    trace, items = _run_launch(gcbpf_bin, it, "subinterp", tmp_path)
    assert len(items) == 5 and len(set(i["iid"] for i in items)) == 5, items
    what = it.label + "-subinterp"
    n = _check(trace, items, tmp_path, what)
    # The kernel's histograms are per interpreter; the summary adds them up.
    recs = [json.loads(l) for l in open(str(trace)) if l.strip()]
    pid = items[0]["pid"]
    events = [r for r in recs if r.get("pid") == pid and compare_truth.is_gc_event(r)]
    summary = {r["gen"]: (r["count"], r["collected"]) for r in recs
               if r.get("type") == "summary" and r.get("pid") == pid}
    per_gen = {}
    for e in events:
        c, k = per_gen.get(e["gen"], (0, 0))
        per_gen[e["gen"]] = (c + 1, k + e["collected"])
    assert summary == per_gen, (summary, per_gen)
    assert len(set(e["iid"] for e in events)) == 5, set(e["iid"] for e in events)
    # Each new interpreter's first collections are read at the entry.
    _check_counters(trace, it, n, what, min_share=0.4)


EMBED_C = r"""
#include <Python.h>
#include <stdio.h>
#include <time.h>
int main(int argc, char **argv)
{
	char code[4096];
	struct timespec ts;
	int k;

	for (k = 0; k < 3; k++) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		Py_Initialize();
		/* gc.get_stats() before the recorder: the collections since
		 * Py_Initialize, which the recorder cannot see. */
		snprintf(code, sizeof(code),
			 "import sys; sys.path.insert(0, '%s')\n"
			 "import gc, json, gc_recorder, gc_stale\n"
			 "gc.disable()\n"
			 "s = gc.get_stats()\n"
			 "rec = gc_recorder.install('%s/truth-embed%d.jsonl')\n"
			 "gc.enable()\n"
			 "json.dump({'t_init': %lld, 'stats': s, 'begin': rec.begin},"
			 " open('%s/init%d.json', 'w'))\n"
			 "gc_stale.collections(rec, 15)\n"
			 "gc_recorder.uninstall()\n"
			 "json.dump(gc.get_stats(), open('%s/end%d.json', 'w'))\n",
			 argv[1], argv[2], k, (long long)ts.tv_sec * 1000000000 + ts.tv_nsec,
			 argv[2], k, argv[2], k);
		if (PyRun_SimpleString(code))
			return 1;
		Py_Finalize();
	}
	return 0;
}
"""


def _embed_params():
    out = []
    for p in interp_params():
        it = p.values[0]
        if it.present and it.label.startswith("pyenv-"):
            out.append(p)
    return out or [pytest.param(None, marks=pytest.mark.skip(reason="no pyenv Python"))]


@pytest.mark.needs_root
@pytest.mark.parametrize("it", _embed_params())
def test_stale_embed_reinit(it, gcbpf_bin, tmp_path):
    """Py_Initialize -> collections -> Py_Finalize three times in one process
    (the main interpreter comes back at the same address with the same id)."""
    prefix = os.path.dirname(os.path.dirname(it.path))
    mm = ".".join(it.version.split(".")[:2])
    cfg = os.path.join(prefix, "bin", "python%s-config" % mm)
    try:
        flags = subprocess.check_output([cfg, "--cflags", "--ldflags", "--embed"],
                                        universal_newlines=True).split()
    except subprocess.CalledProcessError:   # 3.6/3.7: no --embed
        flags = subprocess.check_output([cfg, "--cflags", "--ldflags"],
                                        universal_newlines=True).split()
        flags.append("-lpython%s%s" % (mm, "m" if _vt(it) < (3, 8) else ""))
    src = tmp_path / "embed.c"
    src.write_text(EMBED_C)
    exe = tmp_path / "embed"
    subprocess.check_call(["gcc", "-o", str(exe), str(src)] + flags +
                          ["-Wl,-rpath," + os.path.join(prefix, "lib")])
    d = tmp_path / "d"
    d.mkdir()
    trace = tmp_path / "trace.jsonl"
    env = dict(os.environ, PYTHONHOME=prefix)
    p = subprocess.run([gcbpf_bin, "-f", "jsonl", "-o", str(trace), "--", str(exe),
                        PROGS_DIR, str(d)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=TIMEOUT, env=env)
    assert p.returncode == 0, p.stderr
    pids = set(e.get("pid") for e in compare_truth.load_trace(str(trace)))
    assert len(pids) == 1, pids
    (pid,) = pids
    items = [{"truth": str(d / ("truth-embed%d.jsonl" % k)), "pid": pid, "iid": None}
             for k in range(3)]
    what = it.label + "-embed"
    n = _check(trace, items, tmp_path, what)
    # Py_Initialize's own collections, before each recorder: the first after
    # a re-initialisation finds the copy of the previous incarnation (same GC
    # state, same id, counters reset). They must add up to what the new
    # interpreter's gc.get_stats() says.
    events = [e for e in compare_truth.load_trace(str(trace)) if e.get("pid") == pid]
    resets = 0
    for k in range(3):
        with open(str(d / ("init%d.json" % k))) as f:
            init = json.load(f)
        if k:
            with open(str(d / ("end%d.json" % (k - 1)))) as f:
                end = json.load(f)
            if sum(x["collections"] for x in init["stats"]) >= sum(
                    x["collections"] for x in end):
                continue    # 3.6/3.7: the counters go on, nothing to compare with
            resets += 1
        sel = [e for e in events if init["t_init"] <= e["ts_start"] < init["begin"]]
        for g in range(3):
            mine = [e for e in sel if e["gen"] == g]
            got = {"collections": len(mine),
                   "collected": sum(e["collected"] for e in mine),
                   "uncollectable": sum(e["uncollectable"] for e in mine)}
            assert got == init["stats"][g], (what, k, g, got, init["stats"][g])
    print("%s: %d re-initialisations reset the counters" % (what, resets))
    _check_counters(trace, it, n, what, min_share=0.4)


@pytest.mark.needs_root
@pytest.mark.parametrize("it", interp_params())
def test_stale_copy_is_flagged(it, gcbpf_bin, tmp_path):
    """A copy that really is stale: --comm gcstale-on, and the process renames
    itself between phases, so the collections of the gcstale-off phases are
    not seen. The first collection of each later phase finds the copy behind
    by several collections: it must be counted (stale) and, where it is
    reported at all (the generation known from the probe), flagged with
    unknown counts; everything else is exact."""
    d = tmp_path / "d"
    d.mkdir()
    trace = tmp_path / "trace.jsonl"
    p = subprocess.run([gcbpf_bin, "--comm", "gcstale-on", "-f", "jsonl", "-o", str(trace),
                        "--", it.path, STALE, "comm", "--dir", str(d)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    with open(str(d / "done.json")) as f:
        items = json.load(f)
    events = compare_truth.load_trace(str(trace))
    c = _counters(trace)
    flagged = dropped = 0
    for k, item in enumerate(items):
        truth = compare_truth.load_truth(item["truth"])
        sel = compare_truth.select_events(events, item["pid"], truth["begin"], truth["end"])
        recs = truth["records"]
        if k and _copy_applies(it):
            # The phase's first collection: flagged, or left out (no generation).
            first = recs.pop(0)
            if sel and sel[0]["collected"] is None:
                e = sel.pop(0)
                assert e["gen"] == first["gen"] and e["uncollectable"] is None, (e, first)
                flagged += 1
            else:
                assert not (sel and sel[0]["ts_start"] <= first["t_stop"]), (
                    "%s phase %d: first collection reported with counts: %r"
                    % (it.label, k, sel[0]))
                dropped += 1
            truth["begin"] = (first["t_stop"] + recs[0]["t_start"]) // 2
        ok, msg = compare_truth.compare_records(truth, sel, item["pid"], check_tid=True,
                                                strict=True, label="%s phase %d" % (it.label, k))
        print(msg)
        assert ok, msg
    if _copy_applies(it):
        assert c["stale"] == flagged + dropped == len(items) - 1, (c, flagged, dropped)
    else:
        assert c["stale"] == 0, c
    if c["stale"]:
        assert "unknown counts" in p.stderr, p.stderr


# --------------------------------------------------------------------------
# Debian sid's 3.13/3.14/3.15 in the chroot of tests/test_sid.py: USDT, and
# --uprobe for subinterpreters (USDT probes do not give the thread state).

import shutil  # noqa: E402

import test_sid  # noqa: E402
from test_sid import case, root  # noqa: E402,F401  (fixtures)


def _in_root(root_dir, it, scenario, inside):
    """The command running gc_stale.py's scenario in the sid chroot (copied in)."""
    progs = root_dir + test_sid.IN_ROOT_DIR + "/progs"
    os.makedirs(progs, exist_ok=True)
    for name in ("gc_stale.py", "gc_recorder.py"):
        shutil.copy(os.path.join(PROGS_DIR, name), os.path.join(progs, name))
    return ["chroot", root_dir, it.path, test_sid.IN_ROOT_DIR + "/progs/gc_stale.py", scenario,
            "--dir", inside]


def _launched(gcbpf_bin, extra, cmd, root_dir, host, trace):
    """cmd under gcbpf -f jsonl -o trace (launch mode): gc_stale.py's items (their
    truth files as the host sees them) and gcbpf's stderr."""
    p = subprocess.run([gcbpf_bin] + extra + ["-f", "jsonl", "-o", str(trace), "--"] + cmd,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    with open(os.path.join(host, "done.json")) as f:
        items = json.load(f)
    for item in items:
        item["truth"] = root_dir + item["truth"]
    return items, p.stderr


@pytest.mark.needs_root
@pytest.mark.parametrize("scenario", ["threads", "fork", "exec", "subinterp"])
@pytest.mark.parametrize("it", test_sid.sid_params(labels=("sid-3.13", "sid-3.14", "sid-3.15")))
def test_stale_sid(it, scenario, root, case, gcbpf_bin, tmp_path):
    host, inside = case
    extra = ["--uprobe"] if scenario == "subinterp" else []
    trace = tmp_path / "trace.jsonl"
    items, _ = _launched(gcbpf_bin, extra, _in_root(root, it, scenario, inside), root, host,
                         trace)
    what = "%s-%s" % (it.label, scenario)
    n = _check(trace, items, tmp_path, what)
    _check_counters(trace, it, n, what, min_share=0.4 if scenario == "subinterp" else 0.5)


def _usdt_subinterp_params():
    out = [p for p in interp_params() if p.values[0].label == "debian-3.11"]
    return out + test_sid.sid_params(labels=("sid-3.13", "sid-3.14"))


@pytest.mark.needs_root
@pytest.mark.parametrize("it", _usdt_subinterp_params())
def test_usdt_subinterpreters_counted(it, gcbpf_bin, tmp_path):
    """On the USDT path the probes do not say which interpreter collects: the
    main interpreter's collections stay exact, the subinterpreters' are not
    reported but counted (unattributed) and warned about."""
    if it.label.startswith("sid"):
        r = test_sid.sid_root()
        inside = "%s/usdt-sub-%d" % (test_sid.IN_ROOT_DIR, os.getpid())
        host = r + inside
        shutil.rmtree(host, ignore_errors=True)
        os.makedirs(host)
        cmd = _in_root(r, it, "subinterp", inside)
    else:
        r, host = "", str(tmp_path / "d")
        os.makedirs(host)
        cmd = [it.path, STALE, "subinterp", "--dir", host]
    trace = tmp_path / "trace.jsonl"
    items, stderr = _launched(gcbpf_bin, [], cmd, r, host, trace)
    main, subs = items[0], items[1:]
    what = it.label + "-usdt-subinterp"
    _check(trace, [main], tmp_path, what)
    c = _counters(trace)
    in_subs = sum(len(compare_truth.load_truth(s["truth"])["records"]) for s in subs)
    assert in_subs > 0 and c["unattributed"] >= in_subs, (c, in_subs)
    assert c["stale"] == 0, c
    assert "were not reported" in stderr, stderr
    if r:
        shutil.rmtree(host, ignore_errors=True)
