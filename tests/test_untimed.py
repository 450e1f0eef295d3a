"""Nothing unaccounted (docs/untimed.md): collections a process ran before
gcbpf armed it are read from its interpreter's own counters and reported,
exact against gc.get_stats() read by the process itself.

-p, every build of the matrix (Debian 3.11, pyenv 3.6-3.13, sid 3.13-3.15 in
the chroot when built): the target collects a known mix, disables automatic
collection (nothing moves the counters while gcbpf reads them), says ready
and waits on its stdin; gcbpf -p attaches; once gcbpf says it is tracing, the
target records gc.get_stats(), runs one gen-2 collection and exits. The JSONL
process record's collections_before must equal the recorded counts, the timed
collections must carry the next counts, and the table's footnote must agree.

-a: a fresh interpreter from the usual locations started after gcbpf
(pre-armed, docs/untimed.md), collecting 200 times right after start: all
200 seen, none untimed. Only our own pids are judged.
"""
import json
import os
import select
import subprocess
import tempfile
import time

import pytest

from conftest import interp_params
import test_sid

CODE = r"""
import gc, json, sys
for g, n in ((0, 3), (1, 2), (2, 1)):
    for _ in range(n):
        gc.collect(g)
gc.disable()
sys.stdout.write("ready\n"); sys.stdout.flush()
sys.stdin.readline()
counts = [s["collections"] for s in gc.get_stats()]
gc.collect(2)
sys.stdout.write(json.dumps(counts) + "\n"); sys.stdout.flush()
"""


def _readline(f, timeout, what):
    r, _, _ = select.select([f], [], [], timeout)
    assert r, "timed out waiting for %s" % what
    return f.readline()


def _wait_stderr(proc, needle, timeout):
    """gcbpf's stderr up to the line holding needle."""
    seen = ""
    end = time.time() + timeout
    while time.time() < end:
        r, _, _ = select.select([proc.stderr], [], [], end - time.time())
        if not r:
            break
        line = proc.stderr.readline()
        if not line:
            break
        seen += line
        if needle in line:
            return seen
    raise AssertionError("gcbpf never said %r:\n%s" % (needle, seen))


def _attach_case(gcbpf, cmd):
    target = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              universal_newlines=True)
    gcbpf_p = None
    try:
        assert _readline(target.stdout, 30, "the target's ready") == "ready\n"
        with tempfile.TemporaryDirectory(prefix="gcbpf-untimed-") as d:
            out = os.path.join(d, "trace.jsonl")
            gcbpf_p = subprocess.Popen(
                [gcbpf, "-p", str(target.pid), "-f", "jsonl", "-o", out, "-d", "30"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                universal_newlines=True)
            _wait_stderr(gcbpf_p, "Tracing CPython GC", 60)
            target.stdin.write("go\n")
            target.stdin.flush()
            counts = json.loads(_readline(target.stdout, 30, "the target's counts"))
            target.wait(timeout=30)
            table, err = gcbpf_p.communicate(timeout=60)
            assert gcbpf_p.returncode == 0, err
            with open(out) as f:
                recs = [json.loads(line) for line in f if line.strip()]
    finally:
        for p in (target, gcbpf_p):
            if p and p.poll() is None:
                p.kill()
                p.wait()
    return target.pid, counts, recs, table


def _check_attach(gcbpf, cmd):
    pid, counts, recs, table = _attach_case(gcbpf, cmd)
    procs = [r for r in recs if r.get("type") == "process" and r["pid"] == pid]
    assert len(procs) == 1, recs
    assert procs[0]["collections_before"] == counts, (procs[0], counts)
    assert counts[0] >= 3 and counts[1] >= 2 and counts[2] >= 1, counts
    events = [r for r in recs if "gen" in r and r.get("pid") == pid and "type" not in r]
    # Every collection after the read was timed and carries the next count
    # (interpreter shutdown collects too, gc.disable() or not).
    for g in range(3):
        got = [e["collections"] for e in events if e["gen"] == g]
        assert got == list(range(counts[g] + 1, counts[g] + 1 + len(got))), (g, got)
    assert any(e["gen"] == 2 for e in events), events
    n = sum(counts)
    line = ("%d collection%s ran before gcbpf armed pid %d: g0 %d, g1 %d, g2 %d; not timed"
            % (n, "" if n == 1 else "s", pid, counts[0], counts[1], counts[2]))
    assert line in table, table


@pytest.mark.needs_root
@pytest.mark.parametrize("interp", interp_params())
def test_attach_counts(gcbpf_bin, interp):
    _check_attach(gcbpf_bin, [interp.path, "-c", CODE])


@pytest.mark.needs_root
@pytest.mark.parametrize("label,inpath,pkg", test_sid.SID, ids=[s[0] for s in test_sid.SID])
def test_attach_counts_sid(gcbpf_bin, label, inpath, pkg):
    root = test_sid.sid_root()
    why = test_sid._root_problem(root)
    if why or not os.path.exists(root + inpath):
        pytest.skip(why or "%s not in %s" % (inpath, root))
    _check_attach(gcbpf_bin, ["chroot", root, inpath, "-c", CODE])


SCRIPT200 = r"""
import gc, json, sys
for _ in range(200):
    gc.collect(0)
sys.stdout.write(json.dumps([s["collections"] for s in gc.get_stats()]) + "\n")
"""


def _usual_interpreters():
    """The matrix's interpreters in the usual locations: Debian's, and pyenv's
    under /root/.pyenv (where gcbpf looks when $PYENV_ROOT is unset)."""
    out = []
    if os.path.exists("/usr/bin/python3.11"):
        out.append("/usr/bin/python3.11")
    vdir = "/root/.pyenv/versions"
    for name in sorted(os.listdir(vdir)) if os.path.isdir(vdir) else []:
        path = os.path.join(vdir, name, "bin", "python" + ".".join(name.split(".")[:2]))
        if name.startswith("3.") and os.path.exists(path):
            out.append(path)
    return out


@pytest.mark.needs_root
def test_system_wide_prearmed(gcbpf_bin):
    """gcbpf -a, then a fresh interpreter from the usual locations collecting 200 times
    right after its start: every one seen (its binary was armed before it ran)."""
    interps = _usual_interpreters()
    if not interps:
        pytest.skip("no interpreter in the usual locations")
    with tempfile.TemporaryDirectory(prefix="gcbpf-untimed-a-") as d:
        out = os.path.join(d, "trace.jsonl")
        g = subprocess.Popen([gcbpf_bin, "-a", "-f", "jsonl", "-o", out, "-d", "60"],
                             env=dict(os.environ, PYENV_ROOT="/root/.pyenv"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             universal_newlines=True)
        runs = []
        try:
            _wait_stderr(g, "Tracing CPython GC", 60)
            for path in interps:
                # -S -I: started in ~10 ms, less than arming a new binary at its exec took
                p = subprocess.Popen([path, "-S", "-I", "-c", SCRIPT200],
                                     stdout=subprocess.PIPE, universal_newlines=True)
                text, _ = p.communicate(timeout=60)
                assert p.returncode == 0, path
                runs.append((path, p.pid, json.loads(text)))
            time.sleep(0.5)     # the last events through the ring buffer
        finally:
            g.terminate()
            _, err = g.communicate(timeout=60)
        assert g.returncode == 0, err
        with open(out) as f:
            recs = [json.loads(line) for line in f if line.strip()]
    for path, pid, counts in runs:
        events = [r for r in recs if "type" not in r and r["pid"] == pid]
        got = sorted(e["collections"] for e in events if e["gen"] == 0)
        # Every gen-0 collection up to the script's own count was seen, the 200 included.
        assert counts[0] >= 200 and got[:counts[0]] == list(range(1, counts[0] + 1)), \
            (path, got[:10], counts)
        procs = [r for r in recs if r.get("type") == "process" and r["pid"] == pid]
        assert procs and procs[0]["collections_before"] == [0, 0, 0], (path, procs)
