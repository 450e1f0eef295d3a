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
                if f.read().strip() != "gcbpf":
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
