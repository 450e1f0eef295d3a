"""System-wide tracing and process-tree following, against ground truth.

System-wide (`gcbpf -a`, the default with no -p and no command):
  - test_system_wide_parallel: gcbpf traces, at the same time, Debian
    python3.11, two pyenv versions, (with the sid chroot) a sid python3.15,
    and a process that forks four multiprocessing workers; one workload runs
    before gcbpf starts (armed by the /proc scan), the others start after
    (armed from the exec report).  Every collection of every process, exactly
    as gc.callbacks saw it, attributed to its pid.
  - filters: --comm (only that process), --gen 2 (exactly the truth's gen-2
    subsequence).
  - non-Python processes and processes that exit at once: no error on stderr.

Launch mode through wrappers (`gcbpf -- CMD` follows CMD's process tree):
  - a shell script that runs two Pythons (one in the background), env
    X=1 PYTHON ..., a forker, and exit status propagation through sh -c.

System-wide, gcbpf never stops a process it did not start, so a binary that
no process ran before is armed a few ms after its first exec (the "Armed"
line); collections in those ms are not seen.  The workloads here therefore
wait on a file (--wait-file) that is created once their binaries are armed,
so that "every collection" is a deterministic claim.  The sid parts need the
sid chroot ($GCBPF_SID_ROOT, else /var/tmp/sid) and are skipped visibly
without it.

Needs root and a built gcbpf (see conftest.py).
"""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import PROGS_DIR, WORKLOAD, all_interpreters
import compare_truth
from interpreters import Interp

FORKER = os.path.join(PROGS_DIR, "forker.py")
TRACING_TIMEOUT = 30.0
WORKLOAD_TIMEOUT = 120.0
EXIT_TIMEOUT = 30.0
ARM_TIMEOUT = 5.0           # exec -> "Armed" line, for the gate only
SID_ROOT = os.environ.get("GCBPF_SID_ROOT") or "/var/tmp/sid"
SID_MINOR = 15

pytestmark = pytest.mark.needs_root


# --------------------------------------------------------------------------
# helpers

def _read(path):
    try:
        with open(str(path), errors="replace") as f:
            return f.read()
    except (IOError, OSError):
        return ""


def _stop(proc, sig=signal.SIGINT):
    """End a process this test started (by its Popen object)."""
    if proc is not None and proc.poll() is None:
        try:
            proc.send_signal(sig)
            proc.wait(timeout=5)
        except Exception:
            proc.kill()
            proc.wait()


def _wait_for(pred, proc, errpath, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred(_read(errpath)):
            return True
        if proc is not None and proc.poll() is not None:
            pytest.fail("gcbpf exited with status %s while waiting for %s; "
                        "stderr:\n%s" % (proc.returncode, what, _read(errpath)))
        time.sleep(0.05)
    return False


def _wait_tracing(proc, errpath):
    if not _wait_for(lambda s: any(l.startswith("Tracing")
                                   for l in s.splitlines()),
                     proc, errpath, TRACING_TIMEOUT, "'Tracing'"):
        pytest.fail("gcbpf did not print 'Tracing' within %.0fs; stderr:\n%s"
                    % (TRACING_TIMEOUT, _read(errpath)))


def _wait_armed(proc, errpath, keys):
    """Waits (bounded) until an "Armed" line names each of keys.  A binary
    some other process already ran was armed by the scan and has no line:
    the wait then just times out, which is not an error."""
    def ok(s):
        armed = [l for l in s.splitlines() if l.startswith("Armed ")]
        return all(any(k in l for l in armed) for k in keys)
    return _wait_for(ok, proc, errpath, ARM_TIMEOUT, "Armed lines")


def _start_gcbpf(gcbpf_bin, args, tmp_path, name="gcbpf"):
    err = tmp_path / (name + ".stderr")
    out = tmp_path / (name + ".stdout")
    with open(str(err), "w") as e, open(str(out), "w") as o:
        proc = subprocess.Popen([gcbpf_bin] + args, stdout=o, stderr=e)
    return proc, err, out


# A shared host: other jobs run Pythons (and gcbpf, bpftrace) beside these
# tests, and a system-wide gcbpf sees them. A test judges what it started:
# a line of gcbpf's that names only other pids, or only paths that are not
# the test's, is about someone else's process.
_PID = re.compile(r"\bpid (\d+)")
_PATH = re.compile(r"(/[^\s:,;()'\"]+)")
_SUMMARY = re.compile(r"^gcbpf: \d+ interpreter binar(y|ies) could not be traced")


def _foreign(line, pids, paths):
    """line names pids or paths, and none of them is the test's (pids: its
    processes; paths: prefixes of its files and interpreters)."""
    named = [int(p) for p in _PID.findall(line)]
    if named:
        return not any(p in pids for p in named)
    files = _PATH.findall(line)
    return bool(files) and not any(f.startswith(tuple(str(p) for p in paths))
                                   or any(str(p).startswith(f) for p in paths)
                                   for f in files)


def _ours(text, pids, paths):
    """gcbpf's stderr lines about the test's processes and files, or about the
    run itself (no pid, no path); a summary that only counts other processes'
    binaries ("N interpreter binaries could not be traced") goes with them."""
    lines = [l for l in text.splitlines() if l.strip()]
    mine = [l for l in lines if not _foreign(l, pids, paths)]
    failed = [l for l in mine if l.startswith("gcbpf: ") and
              not l.startswith("gcbpf: warning:") and not _SUMMARY.match(l)]
    if not failed:
        mine = [l for l in mine if not _SUMMARY.match(l)]
    return mine


def _sigint_and_wait(proc, errpath, pids=None, paths=()):
    """SIGINT, then exit status 0; with pids (system-wide), also 1 when all
    that failed was another process's binary (said on stderr)."""
    time.sleep(0.3)             # let the last events reach the ring buffer
    proc.send_signal(signal.SIGINT)
    try:
        rc = proc.wait(timeout=EXIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail("gcbpf did not exit within %.0fs of SIGINT; stderr:\n%s"
                    % (EXIT_TIMEOUT, _read(errpath)))
    err = _read(errpath)
    if rc == 1 and pids is not None and any(_SUMMARY.match(l) for l in err.splitlines()) \
            and not any(_SUMMARY.match(l) for l in _ours(err, pids, paths)):
        print("gcbpf exit status 1 for other processes' binaries:\n" + err)
        return
    assert rc == 0, "gcbpf exit status %s after SIGINT; stderr:\n%s" % (rc, err)


def _clean_stderr(errpath, pids, paths):
    """Only the banner and Armed lines about the test's own processes and
    files, and about the run: no error, no warning."""
    bad = [l for l in _ours(_read(errpath), pids, paths)
           if not l.startswith(("Tracing ", "Armed "))]
    assert not bad, "unexpected lines on gcbpf's stderr:\n%s" % "\n".join(bad)


def _truth(path):
    t = compare_truth.load_truth(str(path))
    t["_path"] = str(path)
    assert t["records"], "%s: no collections recorded" % path
    return t


def _counters(trace_path):
    for line in _read(trace_path).splitlines():
        if '"counters"' in line:
            o = json.loads(line)
            if o.get("type") == "counters":
                return o
    return None


def _check_exact(trace_path, truth_path, pid, label, python=None,
                 probe=None):
    """Every collection in the truth window, in order, exactly, tid too."""
    truth = _truth(truth_path)
    assert truth["pid"] == pid, "%s: truth written by pid %s, expected %s" % (
        label, truth["pid"], pid)
    ok, msg = compare_truth.compare(str(truth_path), str(trace_path), pid,
                                    check_tid=True, strict=True, label=label)
    print(msg)
    assert ok, msg
    events = compare_truth.select_events(
        compare_truth.load_trace(str(trace_path)), pid, truth["begin"],
        truth["end"])
    pythons = sorted(set(e.get("python") for e in events))
    assert pythons == [python or truth["python"]], (label, pythons)
    if probe:
        probes = sorted(set(e.get("probe") for e in events))
        assert probes == [probe], (label, probes)
    return len(events)


def _present():
    return [it for it in all_interpreters() if it.present]


def _debian():
    for it in _present():
        if it.label == "debian-3.11":
            return it
    pytest.skip("Debian /usr/bin/python3.11 missing")


def _pyenvs(n):
    """n present pyenv builds of different minors, newest first, 3.14+ left
    out (their threads name themselves, see test_comm_filter)."""
    found = []
    for it in reversed(_present()):
        if not it.label.startswith("pyenv-"):
            continue
        minor = int(it.version.split(".")[1])
        if minor >= 14:
            continue
        if any(int(f.version.split(".")[1]) == minor for f in found):
            continue
        found.append(it)
    if len(found) < n:
        pytest.skip("need %d pyenv builds, found %r" % (
            n, [it.label for it in found]))
    # spread: newest and an older one
    return [found[0]] + found[len(found) // 2:][:n - 1] if n > 1 else found[:1]


def _arm_key(it):
    """What the Armed line of this interpreter's binary contains."""
    minor = it.version.split(".")[1]
    if it.label.startswith("pyenv-"):
        return "libpython3.%s" % minor
    return "/usr/bin/python3.%s" % minor


def sid_python(minor=SID_MINOR):
    """Path of sid's python3.<minor> inside the chroot, or skip visibly."""
    py = "/usr/bin/python3.%d" % minor
    if not os.path.isfile(os.path.join(SID_ROOT, py.lstrip("/"))):
        pytest.skip("sid chroot with python3.%d not found at %s (set "
                    "GCBPF_SID_ROOT; tests/sid_chroot.sh creates it)"
                    % (minor, SID_ROOT))
    try:
        v = subprocess.check_output(
            ["chroot", SID_ROOT, py, "-c",
             "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
            universal_newlines=True, timeout=30).strip()
    except Exception as e:
        pytest.skip("sid python3.%d does not run in %s: %s" % (minor,
                                                               SID_ROOT, e))
    return py, v


class SidDir(object):
    """A scratch directory inside the chroot with a copy of tests/progs."""

    def __init__(self):
        base = os.path.join(SID_ROOT, "tmp")
        self.host = tempfile.mkdtemp(prefix="gcbpf-sw-", dir=base)
        os.chmod(self.host, 0o755)
        self.inside = "/tmp/" + os.path.basename(self.host)
        shutil.copytree(PROGS_DIR, os.path.join(self.host, "progs"),
                        ignore=shutil.ignore_patterns("__pycache__"))

    def h(self, name):
        return os.path.join(self.host, name)

    def c(self, name):
        return self.inside + "/" + name

    def cleanup(self):
        shutil.rmtree(self.host, ignore_errors=True)


def _workload(path, truth, go, stderr=None):
    """gc_workload under PYTHON path, held until go exists."""
    return subprocess.Popen([path, WORKLOAD, "--truth", str(truth),
                             "--wait-file", str(go), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=stderr)


# --------------------------------------------------------------------------
# system-wide: everything at once

@pytest.mark.parametrize("with_sid", [False, True], ids=["host", "with-sid"])
def test_system_wide_parallel(gcbpf_bin, tmp_path, with_sid):
    deb = _debian()
    pre, post = _pyenvs(2)
    sid = sid_python() if with_sid else None
    go = tmp_path / "go"
    trace = tmp_path / "trace.jsonl"
    fork_dir = tmp_path / "fork"
    fork_dir.mkdir()
    sd = SidDir() if sid else None
    jobs = []           # (label, Popen, truth path, Interp-ish, stderr path)
    gcbpf = None
    try:
        # 1. one workload runs before gcbpf starts: armed by the /proc scan
        t = tmp_path / "truth-pre.jsonl"
        e = tmp_path / "pre.stderr"
        with open(str(e), "w") as ef:
            p = _workload(pre.path, t, go, stderr=ef)
        jobs.append(("pre-" + pre.label, p, t, pre, e))
        time.sleep(0.3)     # it is running (waiting on the go file)
        assert p.poll() is None, _read(e)

        gcbpf, gerr, _ = _start_gcbpf(gcbpf_bin, ["-f", "jsonl", "-o",
                                                  str(trace)], tmp_path)
        _wait_tracing(gcbpf, gerr)

        # 2. the others start after, in parallel
        for it in (deb, post):
            t = tmp_path / ("truth-%s.jsonl" % it.label)
            e = tmp_path / ("%s.stderr" % it.label)
            with open(str(e), "w") as ef:
                p = _workload(it.path, t, go, stderr=ef)
            jobs.append((it.label, p, t, it, e))
        fe = tmp_path / "forker.stderr"
        with open(str(fe), "w") as ef:
            forker = subprocess.Popen(
                [deb.path, FORKER, "--truth-dir", str(fork_dir),
                 "--wait-file", str(go)], stdout=subprocess.DEVNULL,
                stderr=ef)
        keys = [_arm_key(deb), _arm_key(post)]
        if sid:
            sid_it = Interp("sid-" + sid[1], sid[0], True, "sid chroot",
                            None, sid[1])
            e = tmp_path / "sid.stderr"
            with open(str(e), "w") as ef:
                p = subprocess.Popen(
                    ["chroot", SID_ROOT, sid[0], sd.c("progs/gc_workload.py"),
                     "--truth", sd.c("truth.jsonl"), "--wait-file",
                     sd.c("go"), "--quiet"],
                    stdout=subprocess.DEVNULL, stderr=ef)
            jobs.append((sid_it.label, p, sd.h("truth.jsonl"), sid_it, e))
            keys.append(sid[0])

        # 3. release everything once the new binaries are armed
        _wait_armed(gcbpf, gerr, keys)
        go.write_text("go\n")
        if sd:
            with open(sd.h("go"), "w") as f:
                f.write("go\n")

        for label, p, t, it, e in jobs:
            try:
                rc = p.wait(timeout=WORKLOAD_TIMEOUT)
            except subprocess.TimeoutExpired:
                pytest.fail("%s did not finish" % label)
            assert rc == 0, "%s failed (%s):\n%s" % (label, rc, _read(e))
        assert forker.wait(timeout=WORKLOAD_TIMEOUT) == 0, _read(fe)
        pids = json.loads((fork_dir / "pids.json").read_text())
        ours = [p.pid for label, p, t, it, e in jobs] + [forker.pid] + pids["workers"]
        paths = [tmp_path] + [it.path for label, p, t, it, e in jobs] + \
            ([SID_ROOT] if sd else [])
        _sigint_and_wait(gcbpf, gerr, ours, paths)
        print(_read(gerr))
        _clean_stderr(gerr, ours, paths)

        # 4. every process, exactly, under its own pid
        counts = {}
        for label, p, t, it, e in jobs:
            counts[label] = _check_exact(trace, t, p.pid, label,
                                         probe=it.expected_probe)
        assert pids["parent"] == forker.pid
        assert len(pids["workers"]) == 4
        assert len(set(pids["workers"] + [forker.pid])) == 5
        for i, wpid in enumerate([forker.pid] + pids["workers"]):
            label = "forker" if i == 0 else "fork-worker-%d" % i
            counts[label] = _check_exact(
                trace, fork_dir / ("truth-%d.jsonl" % wpid), wpid, label,
                probe=deb.expected_probe)
        # The run's counters (lost, read_errors) count every process on the
        # host; ours lost nothing: each was exact above.
        c = _counters(trace)
        assert c is not None, "no counters line in the trace"
        print("exact:", counts, "counters:", c)
    finally:
        for label, p, t, it, e in jobs:
            _stop(p, signal.SIGKILL)
        if "forker" in locals():
            _stop(forker, signal.SIGKILL)
        _stop(gcbpf)
        if sd:
            sd.cleanup()


# --------------------------------------------------------------------------
# filters

def _run_filtered(gcbpf_bin, tmp_path, gcbpf_args, interps, setup=None):
    """Starts each workload gated, calls setup(pids), then gcbpf -a with
    gcbpf_args, releases them; returns (trace path, [(Interp, pid, truth path)])."""
    go = tmp_path / "go"
    trace = tmp_path / "trace.jsonl"
    procs = []
    gcbpf = None
    try:
        for i, it in enumerate(interps):
            t = tmp_path / ("truth%d.jsonl" % i)
            procs.append((it, _workload(it.path, t, go), t))
        if setup:
            setup([p.pid for it, p, t in procs])
        time.sleep(0.3)
        gcbpf, gerr, _ = _start_gcbpf(
            gcbpf_bin, ["-a", "-f", "jsonl", "-o", str(trace)] + gcbpf_args,
            tmp_path)
        _wait_tracing(gcbpf, gerr)
        go.write_text("go\n")
        for it, p, t in procs:
            assert p.wait(timeout=WORKLOAD_TIMEOUT) == 0, it.label
        ours = [p.pid for it, p, t in procs]
        paths = [tmp_path] + [it.path for it in interps]
        _sigint_and_wait(gcbpf, gerr, ours, paths)
        _clean_stderr(gerr, ours, paths)
        return trace, [(it, p.pid, t) for it, p, t in procs]
    finally:
        for it, p, t in procs:
            _stop(p, signal.SIGKILL)
        _stop(gcbpf)


def test_comm_filter(gcbpf_bin, tmp_path):
    """--comm NAME: only the process named NAME appears, all of it."""
    deb = _debian()
    (pye,) = _pyenvs(1)
    name = os.path.basename(pye.path)           # e.g. python3.13
    assert name != os.path.basename(deb.path)
    trace, runs = _run_filtered(gcbpf_bin, tmp_path, ["--comm", name],
                                [deb, pye])
    events = compare_truth.load_trace(str(trace))
    assert events, "no events at all"
    assert set(e.get("comm") for e in events) == {name}
    pids = set(e.get("pid") for e in events)
    (_, deb_pid, _), (_, pye_pid, pye_truth) = runs
    assert deb_pid not in pids, "--comm %s let %s through" % (name, deb.path)
    _check_exact(trace, pye_truth, pye_pid, "comm-" + name,
                 probe=pye.expected_probe)


def _cgroup2_dir(tmp_path):
    """A fresh cgroup v2 directory (mounting cgroup2 under tmp_path if the
    host has it nowhere); yields its path, removes it afterwards."""
    root = None
    with open("/proc/self/mounts") as f:
        for line in f:
            parts = line.split()
            if parts[2] == "cgroup2":
                root = parts[1]
                break
    mounted = None
    if root is None:
        mounted = tmp_path / "cg2"
        mounted.mkdir()
        if subprocess.call(["mount", "-t", "cgroup2", "none", str(mounted)]):
            pytest.skip("cgroup2 cannot be mounted here")
        root = str(mounted)
    return root, mounted


def test_cgroup_filter(gcbpf_bin, tmp_path):
    """--cgroup DIR (and a container id in a cgroup's name): only processes in
    that cgroup appear, all of their collections."""
    deb = _debian()
    (pye,) = _pyenvs(1)
    root, mounted = _cgroup2_dir(tmp_path)
    cg = os.path.join(root, "gcbpf-test-%d-c0ffee42" % os.getpid())
    os.mkdir(cg)

    def into_cgroup(pids):
        with open(os.path.join(cg, "cgroup.procs"), "w") as f:
            f.write("%d\n" % pids[1])
    try:
        for arg in (cg, "c0ffee42"):
            sub = tmp_path / arg.replace("/", "_")
            sub.mkdir()
            trace, runs = _run_filtered(gcbpf_bin, sub, ["--cgroup", arg],
                                        [deb, pye], setup=into_cgroup)
            (_, deb_pid, _), (_, pye_pid, pye_truth) = runs
            pids = set(e.get("pid") for e in compare_truth.load_trace(str(trace)))
            assert deb_pid not in pids, "--cgroup %s let pid %d through" % (arg, deb_pid)
            _check_exact(trace, pye_truth, pye_pid, "cgroup-" + arg,
                         probe=pye.expected_probe)
    finally:
        with open(os.path.join(cg, "cgroup.procs")) as f:
            left = f.read().split()
        with open(os.path.join(root, "cgroup.procs"), "w") as f:
            for pid in left:
                try:
                    f.write(pid + "\n")
                    f.flush()
                except OSError:
                    pass
        os.rmdir(cg)
        if mounted:
            subprocess.call(["umount", str(mounted)])


EMBED_C = r"""
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv)
{
	void *h = dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL);
	void (*init)(void);
	int (*run)(const char *);

	if (!h) { fprintf(stderr, "%s\n", dlerror()); return 1; }
	init = (void (*)(void))dlsym(h, "Py_Initialize");
	run = (int (*)(const char *))dlsym(h, "PyRun_SimpleString");
	init();
	return run(argv[2]) != 0;
}
"""


def test_embedded_interpreter_dlopen(gcbpf_bin, tmp_path):
    """A program that is not Python and dlopen()s libpython after exec is
    found by the periodic rescan of /proc (every 5 s), then traced."""
    (pye,) = _pyenvs(1)
    prefix = os.path.dirname(os.path.dirname(pye.path))
    libs = [f for f in os.listdir(os.path.join(prefix, "lib"))
            if f.startswith("libpython") and ".so" in f]
    if not libs:
        pytest.skip("no libpython in " + prefix)
    src = tmp_path / "embed.c"
    src.write_text(EMBED_C)
    exe = tmp_path / "embed"
    subprocess.check_call(["gcc", "-o", str(exe), str(src), "-ldl"])
    go = tmp_path / "go"
    code = ("import gc, os, time\n"
            "while not os.path.exists(%r): time.sleep(0.05)\n"
            "time.sleep(6)\n"
            "gc.disable()\n"
            "for g in (0, 1, 2, 2, 2): gc.collect(g)\n" % str(go))
    trace = tmp_path / "trace.jsonl"
    env = dict(os.environ, PYTHONHOME=prefix)
    gcbpf = emb = None
    try:
        gcbpf, gerr, _ = _start_gcbpf(
            gcbpf_bin, ["-a", "-f", "jsonl", "-o", str(trace)], tmp_path)
        _wait_tracing(gcbpf, gerr)
        emb = subprocess.Popen([str(exe), os.path.join(prefix, "lib", sorted(libs)[0]),
                                code], env=env)
        go.write_text("go\n")
        assert emb.wait(timeout=60) == 0
        _sigint_and_wait(gcbpf, gerr, [emb.pid], [tmp_path, prefix])
        events = [e for e in compare_truth.load_trace(str(trace))
                  if e.get("pid") == emb.pid]
        gens = [e["gen"] for e in events]
        # The five explicit collections after the rescan had time to arm it.
        assert gens[-5:] == [0, 1, 2, 2, 2], gens
        assert all(e["comm"] == "embed" for e in events), events[:1]
    finally:
        _stop(emb, signal.SIGKILL)
        _stop(gcbpf)


def test_comm_filter_named_threads(gcbpf_bin, tmp_path):
    """--comm python3.15 keeps every collection of a sid 3.15 process, also
    those in its (3.14+: named) worker threads."""
    py, version = sid_python()
    name = os.path.basename(py)
    trace = tmp_path / "trace.jsonl"
    sd = SidDir()
    gcbpf = p = None
    try:
        p = subprocess.Popen(
            ["chroot", SID_ROOT, py, sd.c("progs/gc_workload.py"), "--truth",
             sd.c("truth.jsonl"), "--wait-file", sd.c("go"), "--quiet"])
        time.sleep(0.3)
        gcbpf, gerr, _ = _start_gcbpf(gcbpf_bin, ["-a", "--comm", name, "-f",
                                                  "jsonl", "-o", str(trace)],
                                      tmp_path)
        _wait_tracing(gcbpf, gerr)
        with open(sd.h("go"), "w") as f:
            f.write("go\n")
        assert p.wait(timeout=WORKLOAD_TIMEOUT) == 0
        _sigint_and_wait(gcbpf, gerr, [p.pid], [tmp_path, SID_ROOT])
        _check_exact(trace, sd.h("truth.jsonl"), p.pid, "comm-sid-" + name,
                     python=version)
    finally:
        _stop(p, signal.SIGKILL)
        _stop(gcbpf)
        sd.cleanup()


def test_gen_filter(gcbpf_bin, tmp_path):
    """--gen 2: only generation-2 collections, exactly the truth's gen-2
    subsequence."""
    deb = _debian()
    (pye,) = _pyenvs(1)
    trace, runs = _run_filtered(gcbpf_bin, tmp_path, ["--gen", "2"],
                                [deb, pye])
    events = compare_truth.load_trace(str(trace))
    assert events and all(e.get("gen") == 2 for e in events), \
        sorted(set(e.get("gen") for e in events))
    for it, pid, tpath in runs:
        truth = _truth(tpath)
        truth["records"] = [r for r in truth["records"] if r["gen"] == 2]
        assert len(truth["records"]) >= 3, truth["records"]
        ok, msg = compare_truth.compare_records(
            truth, events, pid, check_tid=True, strict=True,
            label="gen2-" + it.label)
        print(msg)
        assert ok, msg


# --------------------------------------------------------------------------
# what is not Python, and what exits at once

def test_no_errors_from_other_processes(gcbpf_bin, tmp_path):
    """Non-Python processes, scripts, and Pythons (also of a binary no one
    ran before) that exit at once: gcbpf says nothing but Tracing/Armed, exits
    0 on SIGINT, and the short-lived first run of a binary still arms it."""
    deb = _debian()
    pyenvs = [it for it in _present() if it.label.startswith("pyenv-")]
    if not pyenvs:
        pytest.skip("no pyenv build")
    fresh = pyenvs[0]           # the oldest: least likely to be running
    trace = tmp_path / "trace.jsonl"
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)
    gcbpf, gerr, _ = _start_gcbpf(gcbpf_bin, ["-f", "jsonl", "-o",
                                              str(trace)], tmp_path)
    try:
        _wait_tracing(gcbpf, gerr)
        quick = [["sleep", "0.2"], ["sh", "-c", "true"], ["/bin/true"],
                 [str(script)], ["sh", "-c", "exec sleep 0"],
                 ["env", "true"], [deb.path, "-c", "pass"],
                 [deb.path, "-c", "import os; os._exit(3)"],
                 [fresh.path, "-c", "pass"], ["/nonexistent-binary-x"]]
        ours = []           # their pids: gcbpf's lines about others are not judged
        for cmd in quick:
            try:
                q = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
                ours.append(q.pid)
                q.wait(timeout=60)
            except OSError:
                pass
        # many at once, dying while gcbpf inspects them
        burst = [subprocess.Popen([it.path, "-c", "pass"])
                 for it in pyenvs for _ in range(3)]
        burst += [subprocess.Popen(["sh", "-c", "exit 1"]) for _ in range(20)]
        for p in burst:
            ours.append(p.pid)
            p.wait(timeout=60)
        # the first, short-lived run of `fresh` armed its binary (or it was
        # armed already): a second run is traced
        _wait_armed(gcbpf, gerr, [_arm_key(fresh)])
        pidfile = tmp_path / "pid"
        assert subprocess.call(
            [fresh.path, "-c", "import gc, os; gc.collect(); "
             "open(%r, 'w').write(str(os.getpid()))" % str(pidfile)]) == 0
        pid = int(pidfile.read_text())
        paths = [tmp_path, deb.path] + [it.path for it in pyenvs] + \
            [os.path.dirname(os.path.dirname(it.path)) for it in pyenvs]
        _sigint_and_wait(gcbpf, gerr, ours + [pid], paths)
        print(_read(gerr))
        _clean_stderr(gerr, ours + [pid], paths)
        gens = [e.get("gen") for e in compare_truth.load_trace(str(trace))
                if e.get("pid") == pid]
        assert 2 in gens, ("the explicit gc.collect() of pid %d (%s) is not "
                           "in the trace: %r" % (pid, fresh.path, gens))
    finally:
        _stop(gcbpf)


# --------------------------------------------------------------------------
# launch mode through wrappers

def _launch(gcbpf_bin, tmp_path, cmd, timeout=WORKLOAD_TIMEOUT + 30):
    trace = tmp_path / "trace.jsonl"
    p = subprocess.run([gcbpf_bin, "-f", "jsonl", "-o", str(trace), "--"]
                       + cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=timeout)
    print(p.stderr)
    assert any(l.startswith("Tracing") for l in p.stderr.splitlines()), \
        p.stderr
    return p, trace


def test_launch_shell_script_two_pythons(gcbpf_bin, tmp_path):
    """gcbpf -- sh script.sh: the script starts one Python in the background
    and one in the foreground, then waits; both exact."""
    deb = _debian()
    (pye,) = _pyenvs(1)
    t1, t2 = tmp_path / "t1.jsonl", tmp_path / "t2.jsonl"
    script = tmp_path / "script.sh"
    script.write_text(
        "#!/bin/sh\n"
        "'%s' '%s' --truth '%s' --quiet &\n"
        "'%s' '%s' --truth '%s' --quiet\n"
        "wait\n" % (pye.path, WORKLOAD, t1, deb.path, WORKLOAD, t2))
    p, trace = _launch(gcbpf_bin, tmp_path, ["sh", str(script)])
    assert p.returncode == 0, p.stderr
    tr1, tr2 = _truth(t1), _truth(t2)
    assert tr1["pid"] != tr2["pid"]
    _check_exact(trace, t1, tr1["pid"], "script-bg-" + pye.label,
                 probe=pye.expected_probe)
    _check_exact(trace, t2, tr2["pid"], "script-fg-" + deb.label,
                 probe=deb.expected_probe)


def test_launch_env_wrapper(gcbpf_bin, tmp_path):
    """gcbpf -- env X=1 PYTHON workload: exact."""
    (pye,) = _pyenvs(1)
    t = tmp_path / "t.jsonl"
    p, trace = _launch(gcbpf_bin, tmp_path,
                       ["env", "X=1", pye.path, WORKLOAD, "--truth", str(t),
                        "--quiet"])
    assert p.returncode == 0, p.stderr
    _check_exact(trace, t, _truth(t)["pid"], "env-" + pye.label,
                 probe=pye.expected_probe)


def test_launch_forker(gcbpf_bin, tmp_path):
    """gcbpf -- PYTHON forker.py: the parent and its four forked workers,
    each exact."""
    deb = _debian()
    d = tmp_path / "fork"
    d.mkdir()
    p, trace = _launch(gcbpf_bin, tmp_path,
                       [deb.path, FORKER, "--truth-dir", str(d)])
    assert p.returncode == 0, p.stderr
    pids = json.loads((d / "pids.json").read_text())
    for pid in [pids["parent"]] + pids["workers"]:
        _check_exact(trace, d / ("truth-%d.jsonl" % pid), pid,
                     "launch-fork-%d" % pid, probe=deb.expected_probe)


def test_launch_exit_status_through_sh(gcbpf_bin, tmp_path):
    """gcbpf -- sh -c 'python ...; exit 7' exits 7, and the Python was
    traced."""
    deb = _debian()
    pidfile = tmp_path / "pid"
    code = ("import gc, os; gc.collect(); open(%r, 'w').write(str(os.getpid()))"
            % str(pidfile))
    p, trace = _launch(gcbpf_bin, tmp_path,
                       ["sh", "-c", "'%s' -c \"%s\"; exit 7" % (deb.path, code)],
                       timeout=60)
    assert p.returncode == 7, (p.returncode, p.stderr)
    pid = int(pidfile.read_text())
    gens = [e.get("gen") for e in compare_truth.load_trace(str(trace))
            if e.get("pid") == pid]
    assert 2 in gens, gens
