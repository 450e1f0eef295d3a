"""PID namespaces (issue 12: the exporter inside a container).  gcbpf inside
a PID namespace of its own (`unshare --pid --fork --mount-proc`, a container
without --pid=host) reports the pids of that namespace: -p, launch mode and
system-wide are exact against the gc.callbacks recorder run there, with the
pids and tids the target itself sees (os.getpid(), threading.get_native_id())
and its own command line; processes outside the namespace (the host's) are
ignored and counted.  A /proc of another namespace is refused in one line.
From the host, a target inside a namespace is named by its host pid."""
import glob
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from conftest import WORKLOAD
import compare_truth

PY311 = "/usr/bin/python3.11"
SLEEPER = "import gc, time\nfor _ in range(100):\n    gc.collect()\n    time.sleep(0.05)\n"
UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc"]

# Run inside the namespace: the workload waiting for a file, gcbpf (-p or
# system-wide) until "Tracing", then the workload released; the pids the
# workload saw are in its truth file, the trace is gcbpf's.
DRIVER = r'''
import os, signal, subprocess, sys, time
gcbpf, py, workload, d, mode = sys.argv[1:6]
go = os.path.join(d, "go")
wl = subprocess.Popen([py, workload, "--truth", os.path.join(d, "truth.jsonl"),
                       "--wait-file", go])
args = ["-p", str(wl.pid)] if mode == "pid" else []
with open(os.path.join(d, "gcbpf.err"), "w") as err:
    g = subprocess.Popen([gcbpf, "-v", "--stats", "-f", "jsonl", "-o",
                          os.path.join(d, "trace.jsonl")] + args, stderr=err)
end = time.monotonic() + 60
while "Tracing" not in open(os.path.join(d, "gcbpf.err")).read():
    assert g.poll() is None and time.monotonic() < end, open(os.path.join(d, "gcbpf.err")).read()
    time.sleep(0.05)
open(go, "w").close()
assert wl.wait(timeout=120) == 0
if mode == "system":
    time.sleep(0.5)
    g.send_signal(signal.SIGINT)
print("gcbpf=%d" % g.wait(timeout=60))
'''


def _need():
    if not shutil.which("unshare"):
        pytest.skip("unshare missing")
    if not os.access(PY311, os.X_OK):
        pytest.skip("%s missing" % PY311)


def _rows(path):
    return [json.loads(l) for l in open(str(path)) if l.startswith("{")]


def _counters(path):
    return [o for o in _rows(path) if o.get("type") == "counters"][-1]


def _exact(tmp_path, pid=None, check_tid=True):
    """The trace against the truth, collection by collection; the truth's pid."""
    truth = compare_truth.load_truth(str(tmp_path / "truth.jsonl"))
    assert truth["records"], "the workload recorded nothing"
    ok, msg = compare_truth.compare(str(tmp_path / "truth.jsonl"), str(tmp_path / "trace.jsonl"),
                                    pid or truth["pid"], check_tid=check_tid, strict=True,
                                    label="in a PID namespace")
    assert ok, msg
    return truth


def _drive(gcbpf_bin, tmp_path, mode, py=PY311):
    drv = tmp_path / "driver.py"
    drv.write_text(DRIVER)
    cmd = UNSHARE + [sys.executable, str(drv), gcbpf_bin, py, WORKLOAD, str(tmp_path), mode]
    r = subprocess.run(cmd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, timeout=600)
    err = (tmp_path / "gcbpf.err").read_text() if (tmp_path / "gcbpf.err").exists() else ""
    assert r.returncode == 0 and "gcbpf=0" in r.stdout, (r.stdout, r.stderr, err)
    return err


def _process(tmp_path, pid):
    procs = [o for o in _rows(tmp_path / "trace.jsonl")
             if o.get("type") == "process" and o["pid"] == pid]
    assert procs, "no process record for pid %d" % pid
    return procs[0]


def _pyenv(minor):
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    found = sorted(glob.glob("%s/versions/3.%d.*/bin/python3.%d" % (root, minor, minor)))
    return found[-1] if found else "pyenv-3.%d-missing" % minor


@pytest.mark.needs_root
@pytest.mark.parametrize("py", [PY311, _pyenv(12)], ids=["usdt-3.11", "uprobe-3.12"])
def test_pid_mode_inside(gcbpf_bin, tmp_path, py):
    """-p with a pid of the namespace: exact, pids and tids as the target saw
    them, on the USDT path and the uprobe path (its entry's pid check)."""
    _need()
    if not os.access(py, os.X_OK):
        pytest.skip("%s missing" % py)
    err = _drive(gcbpf_bin, tmp_path, "pid", py)
    truth = _exact(tmp_path)
    # a pid of the namespace (small), not the host's
    assert truth["pid"] < 10, truth["pid"]
    assert "depth 1" in err, err
    evs = compare_truth.load_trace(str(tmp_path / "trace.jsonl"))
    assert {e["pid"] for e in evs} == {truth["pid"]}, {e["pid"] for e in evs}
    assert _process(tmp_path, truth["pid"])["cmdline"].startswith(
        "%s %s --truth" % (py, WORKLOAD))


@pytest.mark.needs_root
def test_launch_mode_inside(gcbpf_bin, tmp_path):
    _need()
    r = subprocess.run(UNSHARE + [gcbpf_bin, "-f", "jsonl", "-o", str(tmp_path / "trace.jsonl"),
                                  "--", PY311, WORKLOAD, "--truth", str(tmp_path / "truth.jsonl")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    truth = _exact(tmp_path)
    assert truth["pid"] < 10, truth["pid"]
    assert _process(tmp_path, truth["pid"])["cmdline"].startswith("%s %s" % (PY311, WORKLOAD))


@pytest.mark.needs_root
def test_launch_mode_nested_namespace(gcbpf_bin, tmp_path):
    """The command makes a namespace below gcbpf's: its Python is pid 1 there,
    and gcbpf names it by the pid gcbpf's namespace gives it (its /proc's),
    through the task's pid numbers (the current-task helper wants the
    namespace itself)."""
    _need()
    r = subprocess.run(UNSHARE + [gcbpf_bin, "-f", "jsonl", "-o", str(tmp_path / "trace.jsonl"),
                                  "--", "unshare", "--pid", "--fork", PY311, WORKLOAD, "--truth",
                                  str(tmp_path / "truth.jsonl")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    truth = compare_truth.load_truth(str(tmp_path / "truth.jsonl"))
    assert truth["pid"] == 1, truth["pid"]
    pids = {e["pid"] for e in compare_truth.load_trace(str(tmp_path / "trace.jsonl"))}
    assert len(pids) == 1 and 1 not in pids, pids
    # exact, by the pid gcbpf gives it; its tids are the nested namespace's
    _exact(tmp_path, pid=pids.pop(), check_tid=False)


@pytest.mark.needs_root
def test_system_wide_inside(gcbpf_bin, tmp_path):
    """System-wide inside: the namespace's Python exact; a host Python running
    the same binary meanwhile is outside, ignored and counted.  System-wide:
    run it under flock /tmp/gcbpf-machine.lock, as the whole suite."""
    _need()
    host = subprocess.Popen([PY311, "-c", SLEEPER])
    try:
        err = _drive(gcbpf_bin, tmp_path, "system")
    finally:
        host.kill()
        host.wait()
    truth = _exact(tmp_path)
    pids = {e["pid"] for e in compare_truth.load_trace(str(tmp_path / "trace.jsonl"))}
    assert host.pid not in pids and truth["pid"] in pids, pids
    assert all(p < 10 for p in pids), pids
    c = _counters(tmp_path / "trace.jsonl")
    assert c["foreign"] > 0 and c["foreign_execs"] >= 0, c
    assert "foreign=%d" % c["foreign"] in err, err
    assert "not in the host's PID namespace" not in err


@pytest.mark.needs_root
def test_proc_of_another_namespace_refused(gcbpf_bin, tmp_path):
    """Without --mount-proc, /proc holds the host's pids while the kernel is
    told ours: refused in one line, before anything is attached."""
    _need()
    for args in (["-d", "1", "-p", "1"], ["--", PY311, "-c", "pass"], ["-d", "1"]):
        r = subprocess.run(["unshare", "--pid", "--fork", gcbpf_bin] + args,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=60)
        lines = r.stderr.splitlines()
        assert r.returncode == 1 and len(lines) == 1, (args, r.stderr)
        assert lines[0].startswith("gcbpf: /proc is another PID namespace's (gcbpf is pid 1, "
                                   "/proc calls it "), lines


@pytest.mark.needs_root
def test_list_inside(gcbpf_bin, tmp_path):
    _need()
    prog = tmp_path / "ns_job.py"
    prog.write_text(SLEEPER)
    script = "%s %s & sleep 0.3; %s --list -p $!; echo list=$?; kill $!" % (PY311, prog,
                                                                           gcbpf_bin)
    r = subprocess.run(UNSHARE + ["sh", "-c", script], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert "list=0" in r.stdout and "pid 2 (python3.11)" in r.stdout, (r.stdout, r.stderr)


@pytest.mark.needs_root
def test_host_names_a_namespaced_target_by_its_host_pid(gcbpf_bin, tmp_path):
    _need()
    prog = tmp_path / "ns_job.py"
    prog.write_text(SLEEPER)
    ns = subprocess.Popen(UNSHARE + [PY311, str(prog)])
    try:
        host_pid = None
        end = time.monotonic() + 10
        while host_pid is None and time.monotonic() < end:
            kids = open("/proc/%d/task/%d/children" % (ns.pid, ns.pid)).read().split()
            host_pid = int(kids[0]) if kids else None
            time.sleep(0.05)
        assert host_pid, "the namespaced python did not start"
        status = open("/proc/%d/status" % host_pid).read()
        nspid = [l.split()[1:] for l in status.splitlines() if l.startswith("NSpid:")][0]
        assert nspid == [str(host_pid), "1"], nspid
        ev = tmp_path / "ev.jsonl"
        r = subprocess.run([gcbpf_bin, "-f", "jsonl", "-o", str(ev), "-d", "2", "-p",
                            str(host_pid)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=60)
        assert r.returncode == 0, r.stderr
        rows = [json.loads(l) for l in ev.read_text().splitlines()]
        evs = [e for e in rows if "gen" in e and "type" not in e]
        assert evs, r.stderr
        assert {e["pid"] for e in evs} == {host_pid}, {e["pid"] for e in evs}
        procs = [o for o in rows if o.get("type") == "process"]
        assert [(p["pid"], p["cmdline"]) for p in procs] == \
            [(host_pid, "%s %s" % (PY311, prog))], procs
        # the host's counters: nothing is foreign there
        assert _counters(ev)["foreign"] == 0
    finally:
        ns.kill()
        ns.wait()
