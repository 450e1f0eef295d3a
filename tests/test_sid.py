"""Debian sid's python3.13/3.14/3.15 (static executables with USDT probes)
and the 3.14/3.15 debug builds, traced inside a chroot and inside a private
mount namespace, exact against the interpreter's own gc.callbacks record.

The chroot comes from tests/sid_chroot.sh (tests/run.sh builds it and exports
GCBPF_SID_ROOT); without one every test here is a visible skip, whose reason
is $GCBPF_SID_ERROR when run.sh could not build it.  Default root when
GCBPF_SID_ROOT is unset: /var/tmp/gcbpf-sid (what run.sh builds).

The workload and recorder are copied into ROOT/tmp/gcbpf-tests/progs (the
chrooted interpreter sees only paths inside ROOT); each test gets its own
ROOT/tmp/gcbpf-tests/<case> directory for the truth and wait files.

Cases (x modes pid / launch):
  sid-3.13 sid-3.14 sid-3.15 sid-3.13-dbg sid-3.14-dbg sid-3.15-dbg
      gcbpf -p PID              PID = `chroot ROOT /usr/bin/python3.X ...`
      gcbpf -- chroot ROOT /usr/bin/python3.X ...
  ctr-3.14  the interpreter's path exists only in its own mount namespace:
      unshare --mount --propagation private sh -c
          'mount --bind ROOT MNT && exec chroot MNT /usr/bin/python3.14 ...'
      with MNT a fresh empty directory under /tmp; -p, launch, and text output.
"""
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import PROGS_DIR
import compare_truth
import interpreters
import test_ground_truth as gt

STAMP = ".gcbpf-sid-stamp"
DEFAULT_ROOT = "/var/tmp/gcbpf-sid"
IN_ROOT_DIR = "/tmp/gcbpf-tests"          # as the chrooted process sees it
IN_ROOT_WORKLOAD = IN_ROOT_DIR + "/progs/gc_workload.py"

# label, binary inside the chroot, Debian package that ships it
SID = [
    ("sid-3.13", "/usr/bin/python3.13", "python3.13-minimal"),
    ("sid-3.14", "/usr/bin/python3.14", "python3.14-minimal"),
    ("sid-3.15", "/usr/bin/python3.15", "python3.15-minimal"),
    ("sid-3.13-dbg", "/usr/bin/python3.13d", "python3.13-dbg"),
    ("sid-3.14-dbg", "/usr/bin/python3.14d", "python3.14-dbg"),
    ("sid-3.15-dbg", "/usr/bin/python3.15d", "python3.15-dbg"),
]


def sid_root():
    return os.environ.get("GCBPF_SID_ROOT") or DEFAULT_ROOT


def _root_problem(root):
    """None if ROOT looks like a chroot from sid_chroot.sh, else why not."""
    why = os.environ.get("GCBPF_SID_ERROR")
    if why:     # tests/run.sh could not build/refresh the chroot
        return "no usable sid chroot: tests/sid_chroot.sh %s failed: %s" % (
            root, why)
    if not os.path.isfile(os.path.join(root, STAMP)):
        msg = ("no sid chroot at %s (no %s; build it with "
               "`tests/sid_chroot.sh %s`, or set GCBPF_SID_ROOT)"
               % (root, STAMP, root))
        return msg
    return None


def _sid_interp(label, inpath, pkg):
    """interpreters.Interp whose .path is the path inside the chroot; present
    only if it exists and runs there."""
    root = sid_root()
    prob = _root_problem(root)
    if prob:
        return interpreters.Interp(label, inpath, False, prob, "usdt")
    host = root + inpath
    if not os.path.exists(host):
        return interpreters.Interp(label, inpath, False,
                                   "%s not in the chroot (package %s not "
                                   "installed / not in sid?)" % (host, pkg),
                                   "usdt")
    try:
        ver = subprocess.check_output(
            ["chroot", root, inpath, "-c",
             "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
            stderr=subprocess.STDOUT, universal_newlines=True,
            timeout=60).strip()
    except Exception as e:
        return interpreters.Interp(label, inpath, False,
                                   "chroot %s %s does not run: %s"
                                   % (root, inpath, e), "usdt")
    usdt = interpreters.has_gc_usdt(host)
    return interpreters.Interp(
        label, inpath, True, "found %s (Python %s)" % (host, ver),
        "usdt" if usdt in (True, None) else "uprobe", ver)


_SID_INTERPS = None


def sid_interpreters():
    global _SID_INTERPS
    if _SID_INTERPS is None:
        if os.geteuid() != 0:
            _SID_INTERPS = [interpreters.Interp(l, p, False, "needs root "
                                                "(chroot)", "usdt")
                            for l, p, _ in SID]
        else:
            _SID_INTERPS = [_sid_interp(*x) for x in SID]
    return _SID_INTERPS


def sid_params(modes=None, labels=None, prefix=None):
    """pytest.params over the sid interpreters (x modes); ids are the labels,
    or PREFIX + the minor version suffix ("ctr" -> "ctr-3.14-pid")."""
    out = []
    for it in sid_interpreters():
        if labels is not None and it.label not in labels:
            continue
        marks = [] if it.present else [pytest.mark.skip(
            reason="%s: %s" % (it.label, it.reason))]
        label = it.label if prefix is None else \
            prefix + it.label[len("sid"):]
        for m in (modes or (None,)):
            if m is None:
                out.append(pytest.param(it, id=label, marks=marks))
            else:
                out.append(pytest.param(it, m, id="%s-%s" % (label, m),
                                        marks=marks))
    return out


def _minor(it):
    return tuple(int(x) for x in it.version.split(".")[:2])


# --------------------------------------------------------------------------
# fixtures

@pytest.fixture(scope="session")
def root():
    """ROOT with the workload copied to ROOT/tmp/gcbpf-tests/progs."""
    r = sid_root()
    prob = _root_problem(r)
    if prob:
        pytest.skip(prob)
    dst = r + IN_ROOT_DIR + "/progs"
    os.makedirs(dst, exist_ok=True)
    for name in ("gc_workload.py", "gc_recorder.py"):
        shutil.copy(os.path.join(PROGS_DIR, name), os.path.join(dst, name))
    return r


@pytest.fixture
def case(root, request):
    """(host dir, in-chroot dir) of a fresh per-test directory."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)
    inside = "%s/%s-%d" % (IN_ROOT_DIR, name, os.getpid())
    host = root + inside
    shutil.rmtree(host, ignore_errors=True)
    os.makedirs(host)
    yield host, inside
    shutil.rmtree(host, ignore_errors=True)


@pytest.fixture
def ctr_mnt():
    """A fresh empty directory under /tmp to bind-mount ROOT on inside a
    private mount namespace: MNT/usr/bin/python3.14 does not exist on the
    host."""
    d = tempfile.mkdtemp(prefix="gcbpf-ctr-", dir="/tmp")
    mnt = os.path.join(d, "mnt")
    os.mkdir(mnt)
    yield mnt
    try:
        os.rmdir(mnt)
        os.rmdir(d)
    except OSError:
        pass


# --------------------------------------------------------------------------
# helpers

def _workload_args(inside, wait=False):
    a = [IN_ROOT_WORKLOAD, "--truth", inside + "/truth.jsonl"]
    if wait:
        a += ["--wait-file", inside + "/go"]
    return a


def _ctr_cmd(root, mnt, py, args):
    """unshare ... sh -c 'mount --bind ROOT MNT && exec chroot MNT PY ARGS'"""
    script = "mount --bind %s %s && exec chroot %s %s" % (
        shlex.quote(root), shlex.quote(mnt), shlex.quote(mnt),
        " ".join(shlex.quote(x) for x in [py] + args))
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            script]


def _wait_exec(pid, comm, timeout=30.0):
    """Wait until PID (which execs through unshare/sh/chroot) is COMM."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            with open("/proc/%d/comm" % pid) as f:
                last = f.read().strip()
        except OSError as e:
            pytest.fail("pid %d vanished before exec'ing %s: %s"
                        % (pid, comm, e))
        if last == comm:
            return
        time.sleep(0.02)
    pytest.fail("pid %d is still %r after %.0fs, expected %r"
                % (pid, last, timeout, comm))


def _maps_paths(pid, suffix):
    with open("/proc/%d/maps" % pid) as f:
        return sorted(set(l.split(None, 5)[5].strip() for l in f
                          if len(l.split(None, 5)) == 6
                          and l.split(None, 5)[5].strip().endswith(suffix)))


def _run_pid_mode(gcbpf_bin, cmd, comm, host_dir, tmp_path, fmt="jsonl",
                  before_trace=None):
    """Start CMD (waits on HOST_DIR/go), trace it with -p, release it.
    Returns (pid, trace path, gcbpf stderr)."""
    trace = tmp_path / "trace.out"
    gc_err = tmp_path / "gcbpf.stderr"
    wl_err = tmp_path / "workload.stderr"
    workload = gcbpf = None
    try:
        with open(str(wl_err), "w") as wle:
            workload = subprocess.Popen(cmd, stdout=wle,
                                        stderr=subprocess.STDOUT)
        _wait_exec(workload.pid, comm)
        if before_trace:
            before_trace(workload.pid)
        with open(str(gc_err), "w") as e:
            gcbpf = subprocess.Popen(
                [gcbpf_bin, "-p", str(workload.pid), "-f", fmt, "-o", str(trace)] +
                (["--all-events"] if fmt == "text" else []),
                stdout=subprocess.DEVNULL, stderr=e)
        gt._wait_for_tracing(gcbpf, str(gc_err))
        with open(os.path.join(host_dir, "go"), "w") as f:
            f.write("go\n")
        try:
            wrc = workload.wait(timeout=gt.WORKLOAD_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail("workload did not finish in %.0fs" %
                        gt.WORKLOAD_TIMEOUT)
        assert wrc == 0, "workload failed (%s):\n%s" % (wrc,
                                                        gt._read(str(wl_err)))
        try:
            grc = gcbpf.wait(timeout=gt.EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail("gcbpf did not exit within %.0fs after its only "
                        "target exited; stderr:\n%s"
                        % (gt.EXIT_TIMEOUT, gt._read(str(gc_err))))
        err = gt._read(str(gc_err))
        assert grc == 0, "gcbpf exit status %s; stderr:\n%s" % (grc, err)
        return workload.pid, trace, err
    finally:
        gt._kill(workload)
        gt._kill(gcbpf)


def _run_launch_mode(gcbpf_bin, cmd, tmp_path, fmt="jsonl", extra=()):
    """gcbpf EXTRA -f FMT -o T -- CMD.  Returns (trace path, gcbpf stderr)."""
    trace = tmp_path / "trace.out"
    gc_err = tmp_path / "gcbpf.stderr"
    gcbpf = None
    try:
        with open(str(gc_err), "w") as e:
            gcbpf = subprocess.Popen(
                [gcbpf_bin] + list(extra) + ["-f", fmt, "-o", str(trace)] +
                (["--all-events"] if fmt == "text" else []) + ["--"] + cmd,
                stdout=subprocess.DEVNULL, stderr=e)
        try:
            grc = gcbpf.wait(timeout=gt.WORKLOAD_TIMEOUT + gt.TRACING_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail("gcbpf -- %s did not finish; stderr:\n%s"
                        % (" ".join(cmd), gt._read(str(gc_err))))
        err = gt._read(str(gc_err))
        assert any(l.startswith("Tracing") for l in err.splitlines()), (
            "no 'Tracing' line on gcbpf's stderr:\n%s" % err)
        assert grc == 0, ("gcbpf exit status %s, expected the workload's (0); "
                          "stderr:\n%s" % (grc, err))
        return trace, err
    finally:
        gt._kill(gcbpf)


def _truth_of(host_dir, err):
    path = os.path.join(host_dir, "truth.jsonl")
    assert os.path.exists(path), "workload wrote no truth file %s; gcbpf " \
        "stderr:\n%s" % (path, err)
    return gt._truth(path)


def _sel(truth, trace, pid):
    events = [e for e in compare_truth.load_trace(str(trace))
              if e.get("pid") == pid]
    return events, compare_truth.select_events(events, pid, truth["begin"],
                                               truth["end"])


def _check_fields(it, events, what):
    """binary/cgroup for every event; heap_size (3.14+), candidates (3.15+)."""
    assert events, "%s: no events" % what
    for e in events:
        assert e.get("binary") == it.path, (
            "%s: binary %r, expected the path as the target sees it %r: %r"
            % (what, e.get("binary"), it.path, e))
        cg = e.get("cgroup")
        assert isinstance(cg, int) and not isinstance(cg, bool) and cg > 0, (
            "%s: cgroup %r: %r" % (what, cg, e))
        keys = []
        if _minor(it) >= (3, 14):
            keys.append("heap_size")
        if _minor(it) >= (3, 15):
            keys.append("candidates")
        for k in keys:
            v = e.get(k)
            assert isinstance(v, int) and not isinstance(v, bool) and v >= 0, (
                "%s: %s must be an integer >= 0 on Python %s, got %r: %r"
                % (what, k, it.version, v, e))


def _check_run(it, truth, trace, pid, err, what):
    """The trace of pid equals the truth, with the fields this build gives."""
    assert truth["python"] == it.version
    events, sel = _sel(truth, trace, pid)
    assert events, ("%s: no events of pid %s in the trace; gcbpf stderr:\n%s"
                    % (what, pid, err))
    gt._check_trace(it, truth, trace, pid, what)
    _check_fields(it, events, what)


# --------------------------------------------------------------------------
# sid interpreters in a chroot

@pytest.mark.needs_root
@pytest.mark.parametrize("it,mode", sid_params(modes=("pid", "launch")))
def test_sid_ground_truth(it, mode, gcbpf_bin, root, case, tmp_path):
    host_dir, inside = case
    what = "%s-%s" % (it.label, mode)
    if mode == "pid":
        cmd = ["chroot", root, it.path] + _workload_args(inside, wait=True)
        pid, trace, err = _run_pid_mode(gcbpf_bin, cmd,
                                        os.path.basename(it.path)[:15],
                                        host_dir, tmp_path)
        truth = _truth_of(host_dir, err)
        assert truth["pid"] == pid
    else:
        cmd = ["chroot", root, it.path] + _workload_args(inside)
        trace, err = _run_launch_mode(gcbpf_bin, cmd, tmp_path)
        truth = _truth_of(host_dir, err)
        pid = truth["pid"]
    _check_run(it, truth, trace, pid, err, what)


@pytest.mark.needs_root
@pytest.mark.parametrize("it", sid_params(labels=("sid-3.14", "sid-3.15")))
def test_sid_stripped_disassembly(it, gcbpf_bin, root, case, tmp_path):
    """3.14/3.15 as a Docker image has them: no USDT used (--uprobe), no
    symbols, no way to a debug file (build id and debuglink removed from a
    copy): the collector is found by disassembling PyGC_Collect; exact."""
    host_dir, inside = case
    copy = inside + "/python-stripped"
    subprocess.check_call(["objcopy", "--remove-section", ".note.gnu.build-id",
                           "--remove-section", ".gnu_debuglink",
                           root + it.path, root + copy])
    sleeper = subprocess.Popen(["chroot", root, copy, "-c",
                                "import time; time.sleep(30)"])
    try:
        _wait_exec(sleeper.pid, "python-stripped")
        listed = subprocess.run([gcbpf_bin, "--list", "--uprobe", "-p", str(sleeper.pid)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                universal_newlines=True, timeout=30)
    finally:
        gt._kill(sleeper)
    assert listed.returncode == 0, listed.stderr
    assert "found by disassembling PyGC_Collect" in listed.stdout, listed.stdout
    trace, err = _run_launch_mode(gcbpf_bin, ["chroot", root, copy] + _workload_args(inside),
                                  tmp_path, extra=("--uprobe",))
    truth = _truth_of(host_dir, err)
    events, sel = _sel(truth, trace, truth["pid"])
    assert events and all(e["probe"] == "uprobe" for e in events), events[:1]
    stripped = interpreters.Interp(it.label + "-stripped", copy, True, "", "uprobe",
                                   it.version)
    gt._check_trace(stripped, truth, trace, truth["pid"], it.label + "-stripped")


@pytest.mark.needs_root
@pytest.mark.parametrize("it", sid_params())
def test_sid_list(it, gcbpf_bin, root):
    """gcbpf --list -p PID names the binary as the chroot sees it, the
    version and usdt."""
    p = subprocess.Popen(["chroot", root, it.path, "-c",
                          "import sys, time; sys.stdout.write('up\\n'); "
                          "sys.stdout.flush(); time.sleep(60)"],
                         stdout=subprocess.PIPE, universal_newlines=True)
    try:
        assert p.stdout.readline() == "up\n"
        r = subprocess.run([gcbpf_bin, "--list", "-p", str(p.pid)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=60)
        out = r.stdout + r.stderr
        assert r.returncode == 0, out
        line = [l for l in out.splitlines() if str(p.pid) in l]
        assert line, out
        assert re.search(r"(^|[\s:])%s([\s,:]|$)" % re.escape(it.path),
                         line[0]), (it.path, out)
        assert "Python %s" % it.version in line[0], (it.version, out)
        assert "usdt" in line[0], out
    finally:
        gt._kill(p)


# --------------------------------------------------------------------------
# a container: the binary's path exists only in the target's mount namespace

def _ctr_it():
    for it in sid_interpreters():
        if it.label == "sid-3.14":
            return it
    raise AssertionError("sid-3.14 not in SID")


def _ctr_check_maps(mnt):
    def check(pid):
        paths = _maps_paths(pid, "/usr/bin/python3.14")
        assert paths, "pid %d maps no /usr/bin/python3.14" % pid
        for p in paths:
            assert not os.path.exists(p), (
                "%s (from /proc/%d/maps) exists on the host: the test "
                "would not prove container path resolution" % (p, pid))
        assert not os.path.exists(os.path.join(mnt, "usr")), mnt
        print("maps path of the container's python: %r" % paths)
    return check


@pytest.mark.needs_root
@pytest.mark.parametrize("it,mode", sid_params(modes=("pid", "launch"),
                                               labels=("sid-3.14",),
                                               prefix="ctr"))
def test_container_ground_truth(it, mode, gcbpf_bin, root, case, ctr_mnt,
                                tmp_path):
    host_dir, inside = case
    what = "ctr-3.14-%s" % mode
    if mode == "pid":
        cmd = _ctr_cmd(root, ctr_mnt, it.path,
                       _workload_args(inside, wait=True))
        pid, trace, err = _run_pid_mode(gcbpf_bin, cmd, "python3.14",
                                        host_dir, tmp_path,
                                        before_trace=_ctr_check_maps(ctr_mnt))
        truth = _truth_of(host_dir, err)
        assert truth["pid"] == pid
    else:
        cmd = _ctr_cmd(root, ctr_mnt, it.path, _workload_args(inside))
        trace, err = _run_launch_mode(gcbpf_bin, cmd, tmp_path)
        truth = _truth_of(host_dir, err)
        pid = truth["pid"]
    _check_run(it, truth, trace, pid, err, what)


_TEXT_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d+\s+(\d+)\s+(\d+)\s+(\S+)\s+"
                        r"(\d)\s+([\d.]+(?:ns|us|ms))\s+(\d+)\s+(\d+)\s+\S.*$")


@pytest.mark.needs_root
@pytest.mark.parametrize("it,mode", sid_params(modes=("pid", "launch"),
                                               labels=("sid-3.14",),
                                               prefix="ctr"))
def test_container_text(it, mode, gcbpf_bin, root, case, ctr_mnt, tmp_path):
    """Text output shows the container's collections: the truth's
    (gen, collected, uncollectable, tid) sequence appears, in order and
    contiguous, among the pid's text lines."""
    host_dir, inside = case
    if mode == "pid":
        cmd = _ctr_cmd(root, ctr_mnt, it.path,
                       _workload_args(inside, wait=True))
        pid, trace, err = _run_pid_mode(gcbpf_bin, cmd, "python3.14",
                                        host_dir, tmp_path, fmt="text")
    else:
        cmd = _ctr_cmd(root, ctr_mnt, it.path, _workload_args(inside))
        trace, err = _run_launch_mode(gcbpf_bin, cmd, tmp_path, fmt="text")
        pid = None
    truth = _truth_of(host_dir, err)
    pid = pid or truth["pid"]
    assert truth["pid"] == pid
    text = gt._read(str(trace))
    rows = []
    for l in text.splitlines():
        m = _TEXT_LINE.match(l)
        if m and int(m.group(1)) == pid:
            rows.append((int(m.group(4)), int(m.group(6)), int(m.group(7)),
                         int(m.group(2))))
    want = [(r["gen"], r["collected"], r["uncollectable"], r["tid"])
            for r in truth["records"]]
    assert want
    n = len(want)
    found = any(rows[i:i + n] == want for i in range(len(rows) - n + 1))
    assert found, ("truth's %d collections not found in order among the %d "
                   "text lines of pid %d\ntruth: %r\ntext:\n%s"
                   % (n, len(rows), pid, want[:10], text[:3000]))
    # the summary names the pid too
    assert re.search(r"^%d\s+\S+\s+\S+\s+\d\s+\d+" % pid, text, re.M), text
