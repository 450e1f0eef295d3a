"""PID namespaces (issue 12, "an exporter inside its own PID namespace
mislabels"): the BPF side sees host pids. gcbpf inside a PID namespace of
its own refuses to trace, in one line, instead of labelling every process
with another's pid (or tracing nothing in launch mode); from the host, a
target inside a namespace is named by its host pid and its own identity."""
import json
import os
import shutil
import subprocess
import time

import pytest

PY311 = "/usr/bin/python3.11"
SLEEPER = "import gc, time\nfor _ in range(100):\n    gc.collect()\n    time.sleep(0.05)\n"


def _need():
    if not shutil.which("unshare"):
        pytest.skip("unshare missing")
    if not os.access(PY311, os.X_OK):
        pytest.skip("%s missing" % PY311)


@pytest.mark.needs_root
def test_refused_inside_a_pid_namespace(gcbpf_bin, tmp_path):
    _need()
    prog = tmp_path / "ns_job.py"
    prog.write_text(SLEEPER)
    # the target is pid 2 there; the kernel would report its host pid
    script = ("%s %s & sleep 0.3; "
              "%s -q -d 1 -p $!; echo pids=$?; "
              "%s -q -- %s -c pass; echo launch=$?; "
              "%s -q -d 1; echo system=$?; "
              "%s --list -p $!; echo list=$?; kill $!" %
              (PY311, prog, gcbpf_bin, gcbpf_bin, PY311, gcbpf_bin, gcbpf_bin))
    r = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", script],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=120)
    out, err = r.stdout, r.stderr
    for mode in ("pids", "launch", "system"):
        assert "%s=1" % mode in out, (out, err)
    lines = [l for l in err.splitlines() if "PID namespace" in l]
    assert len(lines) == 3 and all(l.startswith("gcbpf: not in the host's PID namespace")
                                   for l in lines), err
    assert "Tracing" not in err, err
    # --list reads only this namespace's /proc: its pids are right, so it works
    assert "list=0" in out and "pid 2 (python3.11)" in out, (out, err)


@pytest.mark.needs_root
def test_host_names_a_namespaced_target_by_its_host_pid(gcbpf_bin, tmp_path):
    _need()
    prog = tmp_path / "ns_job.py"
    prog.write_text(SLEEPER)
    ns = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", PY311, str(prog)])
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
    finally:
        ns.kill()
        ns.wait()
