"""Error-path tests: every bad input gets exactly one clear "gcbpf: " line
on stderr, a non-zero exit, no child left running and no BPF program left
loaded.  Each case is a real run of gcbpf (as root, unless it is the
unprivileged case).  Leftovers are found with bpftool: program ids with
gcbpf's names that are new after the run and not held open by some other,
concurrently running gcbpf.
"""
import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest

from conftest import all_interpreters
import interpreters

pytestmark = pytest.mark.needs_root

BPFTOOL = "/usr/sbin/bpftool"
# BPF object names are cut to 15 characters ("uretprobe_gc_ex").
PROG_NAMES = {n[:15] for n in ("usdt_gc_start", "usdt_gc_done", "uprobe_gc_enter",
                               "uretprobe_gc_exit", "probe_empty", "clock_enter",
                               "clock_exit")}
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
SLEEPER = "import time; print('ready', flush=True); time.sleep(60)"
PYTHON_RE = re.compile(r"\bnot\b.*\b(C?Python)\b", re.I)


# --------------------------------------------------------------------------
# helpers

def _gcbpf_progs():
    out = subprocess.run([BPFTOOL, "-j", "prog", "show"], check=True,
                         stdout=subprocess.PIPE, timeout=30).stdout
    return {p["id"] for p in json.loads(out or b"[]")
            if p.get("name") in PROG_NAMES}


def _procs():
    return [p for p in os.listdir("/proc") if p.isdigit()]


def _held_by_other_gcbpf():
    """Prog ids open in some running gcbpf (another engineer's run)."""
    held = set()
    for pid in _procs():
        try:
            with open("/proc/%s/comm" % pid) as f:
                # gcbpf, and builds of it others run (gcbpf-asan, ...)
                if not f.read().startswith("gcbpf"):
                    continue
            for fd in os.listdir("/proc/%s/fdinfo" % pid):
                with open("/proc/%s/fdinfo/%s" % (pid, fd)) as f:
                    held |= {int(l.split()[1]) for l in f
                             if l.startswith("prog_id:")}
        except (OSError, ValueError):
            continue
    return held


def _with_token(token):
    """Pids of processes whose environment carries our per-run token."""
    out = []
    for pid in _procs():
        try:
            with open("/proc/%s/environ" % pid, "rb") as f:
                if token.encode() in f.read().split(b"\0"):
                    out.append(int(pid))
        except OSError:
            pass
    return out


def run_gcbpf(gcbpf_bin, args, wrap=(), timeout=30):
    """Run gcbpf; afterwards assert no descendant survives and no gcbpf BPF
    program was left loaded.  Returns the CompletedProcess."""
    if not os.access(BPFTOOL, os.X_OK):
        pytest.skip("%s not found: cannot check for leftover BPF programs"
                    % BPFTOOL)
    before = _gcbpf_progs()
    tag = uuid.uuid4().hex
    token, env = "GCBPF_ERRTEST=" + tag, dict(os.environ, GCBPF_ERRTEST=tag)
    # Files, not pipes: a leaked child holding a pipe would hang the read.
    with tempfile.TemporaryFile("w+") as out, \
            tempfile.TemporaryFile("w+") as err:
        try:
            rc = subprocess.call(list(wrap) + [gcbpf_bin] + list(args),
                                 env=env, stdout=out, stderr=err,
                                 timeout=timeout)
        finally:
            survivors = _with_token(token)
            for pid in survivors:       # descendants of our own gcbpf run
                os.kill(pid, 9)
        out.seek(0)
        err.seek(0)
        r = subprocess.CompletedProcess(args, rc, out.read(), err.read())
    assert not survivors, "processes left running after gcbpf exited: %s" \
        % survivors
    deadline = time.time() + 3          # progs are freed asynchronously
    while True:
        left = _gcbpf_progs() - before
        left -= _held_by_other_gcbpf()
        if not left or time.time() > deadline:
            break
        time.sleep(0.1)
    assert not left, "gcbpf %s left BPF programs loaded: ids %s" \
        % (" ".join(args), sorted(left))
    return r


def one_error_line(r):
    """Non-zero exit and exactly one non-empty 'gcbpf: ' line on stderr."""
    assert r.returncode != 0, "exit 0; stdout:\n%s" % r.stdout
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("gcbpf: ") \
        and lines[0][7:].strip(), \
        "expected exactly one 'gcbpf: ...' line on stderr, got:\n%s" % r.stderr
    return lines[0]


def interp(label):
    for it in all_interpreters():
        if it.label == label or it.label.startswith(label + "."):
            if not it.present:
                pytest.skip("interpreter %s missing: %s" % (label, it.reason))
            return it
    pytest.skip("interpreter %s not known to tests/interpreters.py" % label)


@contextlib.contextmanager
def started(argv, user=False, env=None, ready=True):
    """Start a target process (optionally as nobody); kill it at the end."""
    if user and not shutil.which("setpriv"):
        pytest.skip("setpriv not found: cannot run as an unprivileged user")
    p = subprocess.Popen((NOBODY if user else []) + argv, env=env,
                         stdout=subprocess.PIPE, universal_newlines=True)
    try:
        if ready:
            assert p.stdout.readline().strip() == "ready", \
                "target %s did not start" % argv
        yield p
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()
        p.stdout.close()


# --------------------------------------------------------------------------
# tests

def test_no_such_pid(gcbpf_bin):
    with open("/proc/sys/kernel/pid_max") as f:
        pid = int(f.read()) - 1
    while os.path.exists("/proc/%d" % pid):
        pid -= 1
    line = one_error_line(run_gcbpf(gcbpf_bin, ["-p", str(pid)]))
    assert "no such process" in line.lower() and str(pid) in line, line


def test_pid_not_python(gcbpf_bin):
    with started(["sleep", "30"], ready=False) as p:
        line = one_error_line(run_gcbpf(gcbpf_bin, ["-p", str(p.pid)]))
    assert str(p.pid) in line and PYTHON_RE.search(line), line


def test_stripped_libpython(gcbpf_bin, tmp_path):
    it = interp("pyenv-3.12")
    libs = [f for f in interpreters.elf_files(it.path) if "libpython" in f]
    if not libs:
        pytest.skip("%s links no shared libpython" % it.path)
    lib = str(tmp_path / os.path.basename(libs[0]))
    shutil.copy(libs[0], lib)
    subprocess.run(["strip", "--strip-all", lib], check=True)
    env = dict(os.environ, LD_LIBRARY_PATH=str(tmp_path))
    with started([it.path, "-c", SLEEPER], env=env) as p:
        with open("/proc/%d/maps" % p.pid) as f:
            if lib not in f.read():
                pytest.skip("LD_LIBRARY_PATH did not override libpython")
        r = run_gcbpf(gcbpf_bin, ["--list", "-p", str(p.pid)])
    if r.returncode == 0:               # collector found another way
        assert re.search(r"\bprobe\b", r.stdout) and lib in r.stdout, r.stdout
        return
    line = one_error_line(r)
    assert lib in line, "error does not name the stripped file: " + line
    assert re.search(r"USDT|symbol", line), "does not say what is missing: " \
        + line
    assert re.search(r"debug symbols|USDT", line, re.I), line


def test_unprivileged(gcbpf_bin):
    it = interp("debian-3.11")
    with started([it.path, "-c", SLEEPER], user=True) as p:
        r = run_gcbpf(gcbpf_bin, ["-p", str(p.pid), "-d", "3"], wrap=NOBODY)
        line = one_error_line(r)
        assert re.search(r"root|CAP_BPF", line), line
        # --list loads no BPF at all, so it must work without privileges.
        r = run_gcbpf(gcbpf_bin, ["--list", "-p", str(p.pid)], wrap=NOBODY)
        assert r.returncode == 0 and "usdt" in r.stdout, r.stderr


def test_no_btf(gcbpf_bin):
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        pytest.skip("kernel has no BTF to hide")
    if not shutil.which("unshare"):
        pytest.skip("unshare not found")
    it = interp("debian-3.11")
    hide = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount -t tmpfs none /sys/kernel/btf || exit 99; exec "$0" "$@"']
    with started([it.path, "-c", SLEEPER]) as p:
        r = run_gcbpf(gcbpf_bin, ["-p", str(p.pid), "-d", "3"], wrap=hide)
    if r.returncode == 99:
        pytest.skip("cannot mount over /sys/kernel/btf: " + r.stderr)
    assert "BTF" in one_error_line(r)


@pytest.mark.parametrize("args, expect", [
    (["-p", "abc"], r"abc"),
    (["-p", "0"], r"'0'|\b0\b"),
    (["-f", "xml", "-p", "1"], r"xml"),
    (["-d", "-1", "-p", "1"], r"-1"),
    (["-a", "-p", "1"], r"-a|every"),
    (["--gen", "3"], r"generation"),
    (["-p", "1", "--", "true"], r"exclusive|both|together|combine"),
], ids=["pid-abc", "pid-0", "format-xml", "duration-neg", "all-and-pid",
        "gen-3", "pid-and-cmd"])
def test_bad_options(gcbpf_bin, args, expect):
    r = run_gcbpf(gcbpf_bin, args)
    assert r.returncode != 0, r.stdout
    lines = r.stderr.splitlines()
    assert lines and lines[0].startswith("gcbpf: "), r.stderr
    assert re.search(expect, lines[0]), lines[0]
    # Anything after the explanation is argp's usage hint.
    assert all(l.startswith(("Usage:", "Try ")) for l in lines[1:]), r.stderr


def test_launch_missing_command(gcbpf_bin):
    line = one_error_line(run_gcbpf(gcbpf_bin, ["--", "/nonexistent/python"]))
    assert "/nonexistent/python" in line, line


def test_launch_not_python(gcbpf_bin, tmp_path):
    """A command is followed through wrappers, so one that never runs Python
    is no error: it runs, gcbpf exits with its status and says it saw none."""
    marker = tmp_path / "MARKER"
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\ntouch %s\nexit 3\n" % marker)
    script.chmod(0o755)
    r = run_gcbpf(gcbpf_bin, ["--", str(script)])
    assert r.returncode == 3, r.stderr
    assert marker.exists(), "the command did not run"
    assert "no collections" in r.stderr and r.stdout == "", r.stdout   # stdout is the command's
    assert re.search(r"ran no Python", r.stderr), r.stderr


@pytest.mark.parametrize("label, expect", [
    ("debian-3.11", ["/usr/bin/python3.11", "3.11", "usdt"]),
    ("pyenv-3.12", ["3.12", "uprobe", "gc_collect_main"]),
], ids=["debian-3.11", "pyenv-3.12"])
def test_list(gcbpf_bin, label, expect):
    it = interp(label)
    with started([it.path, "-c", SLEEPER]) as p:
        r = run_gcbpf(gcbpf_bin, ["--list", "-p", str(p.pid)])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 1, r.stdout
    for word in expect:
        assert word in lines[0], "%r not in %r" % (word, lines[0])


# --------------------------------------------------------------------------
# exit status and output files (issue #11)

GC_LOOP = ("import gc, time\nprint('ready', flush=True)\n"
           "while True:\n    gc.collect(0); time.sleep(0.01)\n")


def gcbpf_lines(r):
    return [l for l in r.stderr.splitlines() if l.startswith("gcbpf: ")]


def test_empty_pid_list(gcbpf_bin):
    """-p "$(pgrep app)" with app not running: an error, not every process."""
    r = run_gcbpf(gcbpf_bin, ["-p", "", "-d", "2"])
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert re.search(r"no process", r.stderr), r.stderr
    assert "Tracing" not in r.stderr, r.stderr


def test_duration_overflow(gcbpf_bin):
    r = run_gcbpf(gcbpf_bin, ["-d", "18446744074", "-p", "1"])
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "18446744074" in r.stderr.splitlines()[0], r.stderr


@pytest.mark.parametrize("path", ["/dev/full", "/proc/version"])
def test_output_write_error(gcbpf_bin, path):
    """Every event lost to a failing -o FILE: one line, non-zero exit."""
    it = interp("debian-3.11")
    with started([it.path, "-c", GC_LOOP]) as p:
        r = run_gcbpf(gcbpf_bin, ["-f", "jsonl", "-o", path, "-p", str(p.pid),
                                  "-d", "3"])
    assert r.returncode == 1, (r.returncode, r.stderr)
    lines = gcbpf_lines(r)
    assert len(lines) == 1 and path in lines[0], r.stderr


def _sticky_dir(tmp_path):
    d = tmp_path / "shared"
    d.mkdir()
    os.chmod(str(d), 0o1777)
    os.chmod(str(tmp_path), 0o755)
    return d


def test_output_planted_symlink(gcbpf_bin, tmp_path):
    """A symlink another user planted in a sticky world-writable directory
    is not followed (whatever fs.protected_symlinks says), so the file it
    points at is not overwritten; one of our own is."""
    d = _sticky_dir(tmp_path)
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    link = d / "gc.jsonl"
    os.symlink(str(victim), str(link))
    os.lchown(str(link), 65534, 65534)
    it = interp("debian-3.11")
    with started([it.path, "-c", GC_LOOP]) as p:
        r = run_gcbpf(gcbpf_bin, ["-f", "jsonl", "-o", str(link), "-p",
                                  str(p.pid), "-d", "1"])
        assert victim.read_text() == "precious\n", "followed the planted link"
        line = one_error_line(r)
        assert str(link) in line and "symlink" in line, line
        os.lchown(str(link), 0, 0)      # our own link: followed
        r = run_gcbpf(gcbpf_bin, ["-f", "jsonl", "-o", str(link), "-p",
                                  str(p.pid), "-d", "1"])
    assert r.returncode == 0, r.stderr
    assert '"pid"' in victim.read_text()


def test_output_mode_0600(gcbpf_bin, tmp_path):
    """Created 0600 whatever the umask (the events name the host's processes)."""
    out = tmp_path / "gc.jsonl"
    it = interp("debian-3.11")
    old = os.umask(0)
    try:
        with started([it.path, "-c", GC_LOOP]) as p:
            r = run_gcbpf(gcbpf_bin, ["-f", "jsonl", "-o", str(out), "-p",
                                      str(p.pid), "-d", "1"])
    finally:
        os.umask(old)
    assert r.returncode == 0, r.stderr
    mode = os.stat(str(out)).st_mode & 0o7777
    assert mode == 0o600, "created %o" % mode


CAPS = ["--inh-caps=+bpf,+perfmon", "--ambient-caps=+bpf,+perfmon"]


@pytest.mark.parametrize("caps", [[], CAPS], ids=["nobody", "bpf+perfmon"])
@pytest.mark.parametrize("mode", ["system", "launch"])
def test_unprivileged_follow_modes(gcbpf_bin, tmp_path, caps, mode):
    """Without CAP_SYS_ADMIN, uprobes cannot be attached (CAP_BPF and
    CAP_PERFMON load the programs but are not enough on this kernel):
    one line saying so and what to do, a non-zero exit, the command never
    run.  Old gcbpf: "0 binaries armed", exit 0."""
    if not shutil.which("setpriv"):
        pytest.skip("setpriv not found")
    marker = tmp_path / "ran"
    os.chmod(str(tmp_path), 0o777)
    args = ["-d", "3"] if mode == "system" else \
        ["--", "/usr/bin/python3.11", "-c", "open(%r, 'w')" % str(marker)]
    r = run_gcbpf(gcbpf_bin, args, wrap=NOBODY + caps)
    line = one_error_line(r)
    assert re.search(r"CAP_SYS_ADMIN", line) and "root" in line, line
    assert not marker.exists(), "the command ran untraced"


def test_pid_list_one_not_python(gcbpf_bin, tmp_path):
    """-p PY,SLEEP: PY traced, SLEEP warned about; --strict: an error."""
    it = interp("debian-3.11")
    out = tmp_path / "gc.jsonl"
    with started([it.path, "-c", GC_LOOP]) as py, \
            started(["sleep", "30"], ready=False) as sl:
        r = run_gcbpf(gcbpf_bin, ["-f", "jsonl", "-o", str(out), "-p",
                                  "%d,%d" % (py.pid, sl.pid), "-d", "2"])
        assert r.returncode == 0, r.stderr
        lines = gcbpf_lines(r)
        assert len(lines) == 1 and "warning" in lines[0] and \
            str(sl.pid) in lines[0], r.stderr
        pids = {json.loads(l).get("pid") for l in out.read_text().splitlines()}
        assert py.pid in pids, "the Python was not traced"
        r = run_gcbpf(gcbpf_bin, ["--strict", "-p", "%d,%d" % (py.pid, sl.pid),
                                  "-d", "2"])
    line = one_error_line(r)
    assert str(sl.pid) in line and PYTHON_RE.search(line), line
