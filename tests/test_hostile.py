"""Hostile files: gcbpf runs as root and reads files that any user or
container supplies.  Each test drives the real gcbpf against real processes
that put something nasty where a libpython is expected, then checks that
gcbpf neither blocks nor leaves the target's root, says so once, and keeps
tracing ordinary Pythons exactly (ground truth, as in test_system_wide.py):

  - a FIFO as libpython, through the process's own LD_LIBRARY_PATH, from an
    unprivileged user: system-wide and launch mode (before the fix gcbpf
    blocked in open() forever, deaf to SIGINT; in launch mode every later
    process stayed stopped at exec);
  - a container-like root (chroot) whose libpython is an absolute symlink
    to a host file: a host FIFO, a host copy of a real libpython; never
    followed out of the root;
  - a libpython deleted after the process started (every package upgrade):
    traced through /proc/PID/map_files, exactly;
  - what gcbpf -p says for pid 1 (as root), a zombie, a kernel thread.

Needs root and a built gcbpf (see conftest.py), and cc.
"""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import WORKLOAD
from test_errors import one_error_line, run_gcbpf
from test_system_wide import (WORKLOAD_TIMEOUT, _check_exact, _debian,
                              _pyenvs, _read, _start_gcbpf, _stop, _truth,
                              _wait_armed, _wait_tracing, _workload)

pytestmark = pytest.mark.needs_root

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
# SIGINT -> exit when nothing blocks: detaching every armed binary's uprobes
# waits for RCU grace periods, seconds on a busy machine; blocked is forever.
PROMPT_S = 30.0
LIB = "libpython3.12.so.1.0"


# --------------------------------------------------------------------------
# helpers

@pytest.fixture
def world_dir():
    """A scratch directory others (nobody, a chroot) can enter; pytest's
    tmp_path is root-only."""
    d = tempfile.mkdtemp(prefix="gcbpf-hostile-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _needs_libpython(d, libdir=None):
    """d/hostile-prog: a program (not Python) with DT_NEEDED LIB, linked
    against a stub that is then removed, so that ld.so finds LIB only where
    the test puts it."""
    if not shutil.which("cc"):
        pytest.skip("cc not found: cannot build the test program")
    stub = os.path.join(d, "stub")
    os.mkdir(stub)
    subprocess.run(["cc", "-shared", "-o", os.path.join(stub, LIB), "-x", "c",
                    "-", "-Wl,-soname," + LIB], input=b"int stub;\n",
                   check=True)
    exe = os.path.join(d, "hostile-prog")
    subprocess.run(["cc", "-o", exe, "-x", "c", "-", "-x", "none",
                    "-Wl,--no-as-needed", os.path.join(stub, LIB)],
                   input=b"extern int stub; int main(void) { return stub; }\n",
                   check=True)
    shutil.rmtree(stub)
    return exe


def _sigint_promptly(proc, errpath):
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    try:
        rc = proc.wait(timeout=PROMPT_S)
    except subprocess.TimeoutExpired:
        pytest.fail("gcbpf did not exit within %.0fs of SIGINT (blocked?); "
                    "stderr:\n%s" % (PROMPT_S, _read(errpath)))
    assert rc == 0, "gcbpf exit status %s; stderr:\n%s" % (rc, _read(errpath))


def _warnings(text, pids):
    """gcbpf's warnings about the test's own processes (pids), naming LIB:
    another job on a shared machine may run the same kind of file."""
    return [l for l in text.splitlines() if l.startswith("gcbpf: warning:")
            and LIB in l and any(p in pids for p in _pids_named(l))]


def _pids_named(line):
    return [int(p) for p in re.findall(r"\bpid (\d+)", line)]


def _traced_after(gcbpf, gerr, trace, tmp_path, label):
    """A Debian python3.11 workload started now is traced exactly."""
    deb = _debian()
    go, truth = tmp_path / ("go-" + label), tmp_path / ("truth-%s.jsonl" % label)
    p = _workload(deb.path, truth, go)
    try:
        _wait_armed(gcbpf, gerr, ["/usr/bin/python3.11"])
        go.write_text("go\n")
        assert p.wait(timeout=WORKLOAD_TIMEOUT) == 0
        return p.pid, truth
    finally:
        _stop(p, signal.SIGKILL)


def _hold(argv, env=None, user=False):
    """Start a hostile process that blocks in its own ld.so (it is its own
    problem, not gcbpf's); the caller kills it."""
    return subprocess.Popen((NOBODY if user else []) + argv, env=env,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


# --------------------------------------------------------------------------
# 1. a FIFO as libpython

def test_fifo_libpython_system_wide(gcbpf_bin, tmp_path, world_dir):
    """nobody runs a program whose libpython (LD_LIBRARY_PATH) is a FIFO:
    gcbpf warns once, keeps tracing a Python started after it exactly, and
    SIGINT ends it promptly."""
    if not shutil.which("setpriv"):
        pytest.skip("setpriv not found: cannot run as an unprivileged user")
    exe = _needs_libpython(world_dir)
    libdir = os.path.join(world_dir, "lib")
    os.mkdir(libdir)
    os.chmod(libdir, 0o777)
    os.mkfifo(os.path.join(libdir, LIB), 0o666)
    trace = tmp_path / "trace.jsonl"
    gcbpf, gerr, _ = _start_gcbpf(gcbpf_bin, ["-f", "jsonl", "-o", str(trace)],
                                  tmp_path)
    hostile = None
    try:
        _wait_tracing(gcbpf, gerr)
        hostile = _hold([exe], env=dict(os.environ, LD_LIBRARY_PATH=libdir),
                        user=True)
        deadline = time.time() + 10
        while time.time() < deadline and not _warnings(_read(gerr), [hostile.pid]):
            time.sleep(0.05)
        pid, truth = _traced_after(gcbpf, gerr, trace, tmp_path, "after-fifo")
        _sigint_promptly(gcbpf, gerr)
        err = _read(gerr)
        print(err)
        warns = _warnings(err, [hostile.pid])
        assert len(warns) == 1 and "FIFO" in warns[0] and LIB in warns[0], \
            "expected one warning naming the FIFO, got:\n%s" % err
        _check_exact(trace, truth, pid, "after-fifo")
    finally:
        _stop(hostile, signal.SIGKILL)
        _stop(gcbpf, signal.SIGKILL)


def test_fifo_libpython_launch(gcbpf_bin, tmp_path, world_dir):
    """gcbpf -- sh -c 'fifo-program; python3.11 workload': the FIFO program
    is continued (it then blocks in its own ld.so until timeout kills it),
    the Python after it runs and is traced exactly."""
    deb = _debian()
    exe = _needs_libpython(world_dir)
    libdir = os.path.join(world_dir, "lib")
    os.mkdir(libdir)
    os.mkfifo(os.path.join(libdir, LIB))
    truth = tmp_path / "truth.jsonl"
    trace = tmp_path / "trace.jsonl"
    script = ("LD_LIBRARY_PATH='%s' timeout -k 1 2 '%s'; "
              "exec '%s' '%s' --truth '%s' --quiet"
              % (libdir, exe, deb.path, WORKLOAD, truth))
    try:
        p = subprocess.run([gcbpf_bin, "-f", "jsonl", "-o", str(trace), "--",
                            "sh", "-c", script], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True,
                           timeout=90)
    except subprocess.TimeoutExpired:
        pytest.fail("gcbpf -- ... did not finish: blocked on the FIFO, with "
                    "the command stopped at exec?")
    print(p.stderr)
    assert p.returncode == 0, p.stderr
    # launch mode: only the command's tree, so every warning is the test's
    warns = [l for l in p.stderr.splitlines() if l.startswith("gcbpf: warning:") and LIB in l]
    assert len(warns) == 1 and "FIFO" in warns[0], p.stderr
    _check_exact(trace, truth, _truth(truth)["pid"], "launch-after-fifo",
                 probe=deb.expected_probe)


# --------------------------------------------------------------------------
# 2. a container's absolute symlinks

def _chroot(d, exe):
    """d/root: a minimal root that runs exe (its ld.so and libc copied in)."""
    root = os.path.join(d, "root")
    for sub in ("bin", "lib64", "lib/x86_64-linux-gnu",
                "usr/lib/x86_64-linux-gnu"):
        os.makedirs(os.path.join(root, sub))
    shutil.copy(exe, os.path.join(root, "bin", "prog"))
    shutil.copy("/lib64/ld-linux-x86-64.so.2", os.path.join(root, "lib64"))
    shutil.copy("/lib/x86_64-linux-gnu/libc.so.6",
                os.path.join(root, "lib/x86_64-linux-gnu"))
    return root


def test_container_symlink_not_followed(gcbpf_bin, tmp_path, world_dir):
    """In a chroot, libpython is an absolute symlink to a host file: first a
    host FIFO (followed on the host, gcbpf would block), then a host copy of
    a real libpython (followed, gcbpf would arm a host file for the
    container).  Neither is opened; a Python started after is exact."""
    (pye,) = _pyenvs(1)
    exe = _needs_libpython(world_dir)
    root = _chroot(world_dir, exe)
    link = os.path.join(root, "usr/lib/x86_64-linux-gnu", LIB)
    host_fifo = os.path.join(world_dir, "host-fifo")
    os.mkfifo(host_fifo)
    libs = [os.path.join(os.path.dirname(os.path.dirname(pye.path)), "lib", f)
            for f in os.listdir(os.path.join(
                os.path.dirname(os.path.dirname(pye.path)), "lib"))
            if f.startswith("libpython3.") and f.endswith(".so.1.0")]
    if not libs:
        pytest.skip("%s has no shared libpython to copy" % pye.path)
    host_lib = os.path.join(world_dir, "host-" + os.path.basename(libs[0]))
    shutil.copy(libs[0], host_lib)      # a fresh inode nobody has armed
    trace = tmp_path / "trace.jsonl"
    gcbpf, gerr, _ = _start_gcbpf(gcbpf_bin, ["-f", "jsonl", "-o", str(trace)],
                                  tmp_path)
    ours = []           # the chroot's pids (chroot execs /bin/prog in place)
    try:
        _wait_tracing(gcbpf, gerr)
        for target in (host_fifo, host_lib):
            if os.path.lexists(link):
                os.unlink(link)
            os.symlink(target, link)
            # Inside the root the target does not exist: ld.so fails at once.
            prog = subprocess.Popen(["chroot", root, "/bin/prog"],
                                    stderr=subprocess.DEVNULL)
            ours.append(prog.pid)
            assert prog.wait(timeout=30) != 0, "ld.so in the chroot found %s" % target
            time.sleep(0.5)
        pid, truth = _traced_after(gcbpf, gerr, trace, tmp_path, "after-chroot")
        _sigint_promptly(gcbpf, gerr)
        err = _read(gerr)
        print(err)
        # ours: for the chroot's pids, or a file of the test (other jobs arm
        # their own libpython3.12 meanwhile)
        armed = [l for l in err.splitlines() if l.startswith("Armed ") and
                 (any(p in ours for p in _pids_named(l)) or world_dir in l)]
        assert not armed, "armed a host file through a container's symlink:\n%s" % err
        _check_exact(trace, truth, pid, "after-chroot")
    finally:
        _stop(gcbpf, signal.SIGKILL)


def test_container_symlink_to_device(gcbpf_bin, tmp_path, world_dir):
    """A chroot whose libpython is a symlink to /dev/zero, and one whose
    libpython is a device node inside the root: not read, one warning for
    the device node, tracing goes on."""
    exe = _needs_libpython(world_dir)
    root = _chroot(world_dir, exe)
    link = os.path.join(root, "usr/lib/x86_64-linux-gnu", LIB)
    os.symlink("/dev/zero", link)
    os.makedirs(os.path.join(root, "dev"))
    trace = tmp_path / "trace.jsonl"
    gcbpf, gerr, _ = _start_gcbpf(gcbpf_bin, ["-f", "jsonl", "-o", str(trace)],
                                  tmp_path)
    ours = []
    try:
        _wait_tracing(gcbpf, gerr)
        prog = subprocess.Popen(["chroot", root, "/bin/prog"], stderr=subprocess.DEVNULL)
        ours.append(prog.pid)
        prog.wait(timeout=30)
        # Now a real character device at that name, inside the root.
        os.unlink(link)
        os.mknod(link, 0o666 | 0o020000, os.makedev(1, 5))     # /dev/zero
        # The process dies at once (ld.so cannot load it): a slow gcbpf (the
        # sanitizer build) may find it gone, so exec it until it is seen.
        for _ in range(20):
            prog = subprocess.Popen(["chroot", root, "/bin/prog"], stderr=subprocess.DEVNULL)
            ours.append(prog.pid)
            prog.wait(timeout=30)
            time.sleep(0.2)
            if _warnings(_read(gerr), ours):
                break
        pid, truth = _traced_after(gcbpf, gerr, trace, tmp_path, "after-dev")
        _sigint_promptly(gcbpf, gerr)
        err = _read(gerr)
        print(err)
        warns = _warnings(err, ours)
        assert len(warns) == 1 and "character device" in warns[0], err
        _check_exact(trace, truth, pid, "after-dev")
    finally:
        _stop(gcbpf, signal.SIGKILL)


# --------------------------------------------------------------------------
# 3. a deleted libpython

def test_deleted_libpython(gcbpf_bin, tmp_path):
    """A pyenv libpython copied to a temp dir, run with LD_LIBRARY_PATH,
    deleted while the process runs: gcbpf -p traces it exactly."""
    (pye,) = _pyenvs(1)
    libdir = os.path.join(os.path.dirname(os.path.dirname(pye.path)), "lib")
    libs = [f for f in os.listdir(libdir)
            if f.startswith("libpython3.") and f.endswith(".so.1.0")]
    if not libs:
        pytest.skip("%s has no shared libpython" % pye.path)
    d = tmp_path / "lib"
    d.mkdir()
    lib = d / libs[0]
    shutil.copy(os.path.join(libdir, libs[0]), str(lib))
    go, truth, trace = tmp_path / "go", tmp_path / "truth.jsonl", \
        tmp_path / "trace.jsonl"
    p = subprocess.Popen([pye.path, WORKLOAD, "--truth", str(truth),
                          "--wait-file", str(go), "--quiet"],
                         env=dict(os.environ, LD_LIBRARY_PATH=str(d)),
                         stdout=subprocess.DEVNULL)
    gcbpf = None
    try:
        deadline = time.time() + 10
        while str(lib) not in _read("/proc/%d/maps" % p.pid):
            assert time.time() < deadline and p.poll() is None, \
                "the workload did not map %s" % lib
            time.sleep(0.05)
        os.unlink(str(lib))
        assert "%s (deleted)" % lib in _read("/proc/%d/maps" % p.pid)
        gcbpf, gerr, _ = _start_gcbpf(
            gcbpf_bin, ["-p", str(p.pid), "-f", "jsonl", "-o", str(trace)],
            tmp_path)
        _wait_tracing(gcbpf, gerr)
        go.write_text("go\n")
        assert p.wait(timeout=WORKLOAD_TIMEOUT) == 0
        rc = gcbpf.wait(timeout=30)
        err = _read(gerr)
        print(err)
        assert rc == 0, err
        assert "(deleted)" in err, "the banner does not say the file is deleted"
        _check_exact(trace, truth, p.pid, "deleted-" + pye.label,
                     probe=pye.expected_probe)
    finally:
        _stop(p, signal.SIGKILL)
        _stop(gcbpf, signal.SIGKILL)


# --------------------------------------------------------------------------
# 4. messages

def test_pid1_message(gcbpf_bin):
    """As root, never "run as root": either pid 1 is readable (then it is not
    Python) or the line says why root is not enough."""
    line = one_error_line(run_gcbpf(gcbpf_bin, ["-p", "1"]))
    assert "run as root" not in line, line
    assert re.search(r"not Python|even as root", line), line


def test_zombie_message(gcbpf_bin):
    """A zombie is called a zombie, not a kernel thread."""
    p = subprocess.Popen(["sh", "-c", "sh -c 'exit 0' & exec sleep 30"])
    try:
        deadline = time.time() + 10
        zombie = None
        while zombie is None and time.time() < deadline:
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                stat = _read("/proc/%s/stat" % pid)
                fields = stat.rsplit(")", 1)[-1].split()
                if len(fields) > 2 and fields[0] == "Z" and \
                        int(fields[1]) == p.pid:
                    zombie = int(pid)
            time.sleep(0.05)
        assert zombie, "no zombie child of %d appeared" % p.pid
        line = one_error_line(run_gcbpf(gcbpf_bin, ["-p", str(zombie)]))
        assert "zombie" in line and "kernel thread" not in line, line
    finally:
        _stop(p, signal.SIGKILL)


def test_kernel_thread_message(gcbpf_bin):
    line = one_error_line(run_gcbpf(gcbpf_bin, ["-p", "2"]))
    assert "kernel thread" in line, line
