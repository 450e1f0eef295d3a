"""Launch mode never leaves a process stopped, and signals work as in perf/strace.

  - test_sigkill_leaves_nothing_stopped: gcbpf is SIGKILLed at random moments
    (50 times) while its command, a shell loop, execs Pythons (each exec stops
    the process until gcbpf armed it); afterwards no process of the tree is in
    state T and the command finishes (gcbpf's watchdog continued them).
  - signals to gcbpf alone (kill): the first SIGINT/SIGTERM is passed to the
    command and tracing goes on until it ends, so the trace is complete
    against ground truth and the exit status is the command's; a second
    signal ends gcbpf at once, with nothing left stopped.
  - Ctrl-C on a terminal (a pty): the command gets SIGINT once, not twice.

Needs root and a built gcbpf (see conftest.py).
"""
import json
import os
import pty
import random
import signal
import subprocess
import sys
import time
import uuid

import pytest

from conftest import PROGS_DIR
import compare_truth

pytestmark = pytest.mark.needs_root

PYTHON = "/usr/bin/python3.11"
SIGNALLED = os.path.join(PROGS_DIR, "signalled.py")
KILL_ROUNDS = 50
TRACING_TIMEOUT = 30.0


# --------------------------------------------------------------------------
# helpers

def _read(path):
    try:
        with open(str(path), errors="replace") as f:
            return f.read()
    except (IOError, OSError):
        return ""


def _with_token(token):
    """{pid: state} of the processes whose environment has token."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % pid, "rb") as f:
                if token.encode() not in f.read().split(b"\0"):
                    continue
            with open("/proc/%s/stat" % pid) as f:
                out[int(pid)] = f.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            pass
    return out


def _kill_tree(token):
    for pid in _with_token(token):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _wait_file(path, proc, errpath, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(str(path)):
            return
        if proc.poll() is not None:
            pytest.fail("gcbpf exited (%s) before %s; stderr:\n%s"
                        % (proc.returncode, what, _read(errpath)))
        time.sleep(0.02)
    pytest.fail("no %s within %.0fs; stderr:\n%s" % (what, timeout,
                                                     _read(errpath)))


def _need(path):
    if not os.access(path, os.X_OK):
        pytest.skip("%s not found" % path)


# --------------------------------------------------------------------------
# nothing is ever left stopped

def test_sigkill_leaves_nothing_stopped(gcbpf_bin, tmp_path):
    """Old gcbpf: 11 of 20 SIGKILLs left a process stopped for good."""
    _need(PYTHON)
    seed = int(os.environ.get("GCBPF_KILL_SEED") or time.time())
    rnd = random.Random(seed)
    loop = ('i=0; while [ $i -lt 12 ]; do %s -c pass; i=$((i+1)); done; '
            'touch "$DONE"' % PYTHON)
    failures = []
    for r in range(KILL_ROUNDS):
        tag = uuid.uuid4().hex
        done = tmp_path / ("done.%d" % r)
        env = dict(os.environ, GCBPF_KILLTEST=tag, DONE=str(done))
        err = tmp_path / ("gcbpf.%d.stderr" % r)
        with open(str(err), "w") as e:
            proc = subprocess.Popen([gcbpf_bin, "-q", "--", "sh", "-c", loop],
                                    env=env, stdout=subprocess.DEVNULL,
                                    stderr=e)
        delay = rnd.uniform(0.0, 0.8)
        time.sleep(delay)
        proc.kill()
        proc.wait()
        # The command (now an orphan) must run to its end by itself, or,
        # killed before gcbpf released it, never start (its gate closed).
        deadline = time.time() + 20
        while time.time() < deadline:
            left = _with_token("GCBPF_KILLTEST=" + tag)
            if done.exists() or not left:
                break
            time.sleep(0.05)
        time.sleep(0.1)
        left = _with_token("GCBPF_KILLTEST=" + tag)
        stopped = {p: s for p, s in left.items() if s == "T"}
        if stopped or (left and not done.exists()):
            failures.append("round %d (SIGKILL after %.3f s): %s; left: %s"
                            % (r, delay, "finished" if done.exists()
                               else "command never finished", left))
        _kill_tree("GCBPF_KILLTEST=" + tag)
    assert not failures, "seed %d (GCBPF_KILL_SEED=%d repeats it):\n%s" % (
        seed, seed, "\n".join(failures))



# --------------------------------------------------------------------------
# signals like perf/strace

def _start_signalled(gcbpf_bin, tmp_path, extra=(), preexec=None):
    truth, sigs, ready = (tmp_path / "truth.jsonl", tmp_path / "signals",
                          tmp_path / "ready")
    trace, err = tmp_path / "trace.jsonl", tmp_path / "gcbpf.stderr"
    argv = [gcbpf_bin, "-f", "jsonl", "-o", str(trace), "--", PYTHON,
            SIGNALLED, "--truth", str(truth), "--signals", str(sigs),
            "--ready", str(ready)] + list(extra)
    with open(str(err), "w") as e:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=e,
                                preexec_fn=preexec)
    _wait_file(ready, proc, err, TRACING_TIMEOUT, "the command's ready file")
    time.sleep(0.3)
    return proc, truth, sigs, trace, err


def _signals_received(path):
    return [int(l) for l in _read(path).split()]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM],
                         ids=["SIGINT", "SIGTERM"])
def test_signal_passed_to_command(gcbpf_bin, tmp_path, sig):
    """kill -INT/-TERM gcbpf: the command gets it once, makes 50 more
    collections and exits 3; gcbpf traced every one (ground truth) and
    exits 3.  Old gcbpf: an early, cut-off summary, the command never got
    the signal."""
    _need(PYTHON)
    proc, truth, sigs, trace, err = _start_signalled(gcbpf_bin, tmp_path)
    try:
        proc.send_signal(sig)
        rc = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert _signals_received(sigs) == [sig], \
        "the command received %s; stderr:\n%s" % (_signals_received(sigs),
                                                  _read(err))
    assert rc == 3, "exit %s, not the command's 3; stderr:\n%s" % (rc,
                                                                   _read(err))
    t = compare_truth.load_truth(str(truth))
    ok, msg = compare_truth.compare(str(truth), str(trace), t["pid"],
                                    check_tid=True, strict=True)
    assert ok, msg


def test_second_signal_ends_at_once(gcbpf_bin, tmp_path):
    """A command that does not end on SIGINT: the second SIGINT ends gcbpf
    at once (128+2), nothing is left stopped, and the command runs on."""
    _need(PYTHON)
    proc, truth, sigs, trace, err = _start_signalled(
        gcbpf_bin, tmp_path, extra=["--forever"])
    try:
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)
        assert proc.poll() is None, "gcbpf ended on the first signal"
        t0 = time.time()
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=10)
        took = time.time() - t0
        assert rc == 128 + signal.SIGINT, _read(err)
        assert took < 3, "gcbpf took %.1f s after the second signal" % took
        cmd = json.loads(_read(truth).splitlines()[0])["pid"]
        with open("/proc/%d/stat" % cmd) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        assert state != "T", "the command was left stopped"
        assert "still running" in _read(err), _read(err)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        try:
            cmd = json.loads(_read(truth).splitlines()[0])["pid"]
            os.kill(cmd, signal.SIGKILL)
        except (OSError, IndexError, ValueError):
            pass


def test_terminal_ctrl_c_reaches_command_once(gcbpf_bin, tmp_path):
    """Ctrl-C on a terminal signals the whole foreground process group:
    gcbpf must not pass it on a second time."""
    _need(PYTHON)
    truth, sigs, ready = (tmp_path / "truth.jsonl", tmp_path / "signals",
                          tmp_path / "ready")
    trace = tmp_path / "trace.jsonl"
    argv = [gcbpf_bin, "-q", "-f", "jsonl", "-o", str(trace), "--", PYTHON,
            SIGNALLED, "--truth", str(truth), "--signals", str(sigs),
            "--ready", str(ready)]
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    out = b""
    try:
        deadline = time.time() + TRACING_TIMEOUT
        while not ready.exists() and time.time() < deadline:
            time.sleep(0.05)
        assert ready.exists(), "the command did not start"
        time.sleep(0.3)
        os.write(fd, b"\x03")           # the terminal's interrupt character
        deadline = time.time() + 30
        status = None
        while time.time() < deadline:
            try:
                out += os.read(fd, 4096)
            except OSError:
                pass
            r, status = os.waitpid(pid, os.WNOHANG)
            if r == pid:
                break
            time.sleep(0.05)
        else:
            pytest.fail("gcbpf did not end after Ctrl-C")
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except OSError:
            pass
        os.close(fd)
    assert _signals_received(sigs) == [signal.SIGINT], \
        "the command received %s; output:\n%s" % (_signals_received(sigs),
                                                  out.decode(errors="replace"))
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 3, status



# --------------------------------------------------------------------------
# -p: a target that execs another Python

@pytest.mark.parametrize("new", ["pyenv-3.12", "debian-3.11"],
                         ids=["other-binary", "same-binary"])
def test_pid_target_execs_python(gcbpf_bin, tmp_path, new):
    """gcbpf -p PID, and PID (Debian 3.11) execs a Python: the new image's
    binary is armed for it, and every collection of the new image is traced
    (ground truth).  Old gcbpf: 0 of 2,556,000 collections, no warning."""
    from conftest import WORKLOAD
    _need(PYTHON)
    it = _interp(new)
    go, wait, truth = tmp_path / "go", tmp_path / "wait", tmp_path / "truth"
    trace, err = tmp_path / "trace.jsonl", tmp_path / "gcbpf.stderr"
    code = ("import os, sys, time\nprint('ready', flush=True)\n"
            "while not os.path.exists(%r): time.sleep(0.02)\n"
            "os.execv(%r, [%r, %r, '--truth', %r, '--wait-file', %r, "
            "'--quiet'])\n" % (str(go), it.path, it.path, WORKLOAD, str(truth),
                               str(wait)))
    target = subprocess.Popen([PYTHON, "-c", code], stdout=subprocess.PIPE,
                              universal_newlines=True)
    proc = None
    try:
        assert target.stdout.readline().strip() == "ready"
        with open(str(err), "w") as e:
            proc = subprocess.Popen([gcbpf_bin, "-f", "jsonl", "-o", str(trace),
                                     "-p", str(target.pid)],
                                    stdout=subprocess.DEVNULL, stderr=e)
        _wait_file_text(err, "Tracing", proc)
        go.touch()
        _wait_file_text(err, "after pid %d exec'd it" % target.pid, proc)
        wait.touch()
        target.wait(timeout=180)
        rc = proc.wait(timeout=30)     # its only target is gone
        assert rc == 0, _read(err)
    finally:
        for p in (target, proc):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        target.stdout.close()
    ok, msg = compare_truth.compare(str(truth), str(trace), target.pid,
                                    check_tid=True, strict=True)
    assert ok, msg



# --------------------------------------------------------------------------
# no_entry counts missed entries in traced processes only

def test_no_entry_zero_in_clean_launch(gcbpf_bin, tmp_path):
    """Probes are per binary, so an untraced process running the same
    Python hits the exit probe too; that is no missed entry.  Old gcbpf
    counted each of its collections in no_entry."""
    from conftest import WORKLOAD
    _need(PYTHON)
    other = subprocess.Popen([PYTHON, "-c", "import gc, time\n"
                              "while True: gc.collect(0); time.sleep(0.005)"])
    trace, truth = tmp_path / "trace.jsonl", tmp_path / "truth.jsonl"
    try:
        time.sleep(0.3)
        r = subprocess.run([gcbpf_bin, "-f", "jsonl", "-o", str(trace), "--",
                            PYTHON, WORKLOAD, "--truth", str(truth), "--quiet"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=180)
    finally:
        other.kill()
        other.wait()
    assert r.returncode == 0, r.stderr
    counters = [json.loads(l) for l in _read(trace).splitlines()
                if '"counters"' in l]
    assert counters and counters[-1]["no_entry"] == 0, counters
    t = compare_truth.load_truth(str(truth))
    ok, msg = compare_truth.compare(str(truth), str(trace), t["pid"],
                                    check_tid=True, strict=True)
    assert ok, msg


# --------------------------------------------------------------------------
# the exporter: hostile clients cannot starve tracing

def _interp(label):
    from conftest import all_interpreters
    for it in all_interpreters():
        if it.label == label or it.label.startswith(label + "."):
            if not it.present:
                pytest.skip("interpreter %s missing: %s" % (label, it.reason))
            return it
    pytest.skip("interpreter %s not known to tests/interpreters.py" % label)


def _free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _events(path):
    n = 0
    for line in _read(path).splitlines():
        if line.startswith('{"pid"'):
            n += 1
    return n


def _metrics(port, timeout=2.0):
    import urllib.request
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                timeout=timeout) as r:
        return r.status, r.read().decode()


def test_exporter_hostile_clients(gcbpf_bin, tmp_path):
    """1,100 connections held open and a client sending a byte a second:
    gcbpf's fds never run out (a new binary is still armed while they are
    held, events keep arriving), the slow client is cut off, and /metrics
    answers a new client once they are gone.  Old gcbpf: its 1,024 fds ran
    out and the slow client was never timed out."""
    import resource
    import socket
    _need(PYTHON)
    other = _interp("pyenv-3.12")
    port = _free_port()
    go, stop = tmp_path / "go", tmp_path / "stop"
    loop = ("import gc, os, time\n"
            "while not os.path.exists(%r):\n"
            "    gc.collect(0); time.sleep(0.01)\n" % str(stop))
    script = ('%s -c "$LOOP" & while [ ! -e %s ]; do sleep 0.05; done; '
              '%s -c "import gc; gc.collect(); gc.collect()"; wait'
              % (PYTHON, go, other.path))
    trace, err = tmp_path / "trace.jsonl", tmp_path / "gcbpf.stderr"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2400:
        pytest.skip("RLIMIT_NOFILE hard limit %d: cannot hold 1,100 "
                    "connections" % hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (2400, hard))

    def small_nofile():         # what gcbpf had in the measured failure
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))

    held = []
    with open(str(err), "w") as e:
        proc = subprocess.Popen(
            [gcbpf_bin, "--prometheus", str(port), "-f", "jsonl", "-o",
             str(trace), "--", "sh", "-c", script],
            env=dict(os.environ, LOOP=loop), stdout=subprocess.DEVNULL,
            stderr=e, preexec_fn=small_nofile)
    try:
        _wait_file_text(err, "Serving", proc)
        deadline = time.time() + 10
        while _events(trace) < 5 and time.time() < deadline:
            time.sleep(0.1)
        assert _events(trace) >= 5, "no events before the clients came"
        # The slow client first, so that it is one the server accepted.
        request = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 60
        slow = socket.create_connection(("127.0.0.1", port), timeout=1)
        slow.send(request[:1])
        t0 = time.time()
        for _ in range(1100):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            held.append(s)
        before = _events(trace)
        go.touch()              # a new binary to arm: needs fds
        cut = None
        for byte in request[1:]:
            try:
                slow.recv(1)    # waits 1 s: a byte a second
                cut = time.time() - t0  # answered or closed: no longer held
                break
            except socket.timeout:
                pass
            except OSError:
                cut = time.time() - t0
                break
            try:
                slow.send(bytes([byte]))
            except OSError:
                cut = time.time() - t0
                break
        assert cut is not None, \
            "the slow client was not cut off within %.0f s" % (time.time() - t0)
        deadline = time.time() + 10
        while time.time() < deadline and not any(
                l.startswith("Armed") and "Python %s" % other.version in l
                for l in _read(err).splitlines()):
            time.sleep(0.1)
        armed = [l for l in _read(err).splitlines()
                 if l.startswith("Armed") and "Python %s" % other.version in l]
        print("slow client cut off after %.1f s" % cut)
        assert armed, "the new binary was not armed while 1,100 connections " \
            "were held; stderr:\n%s" % _read(err)
        assert _events(trace) > before + 5, "events stopped arriving"
        assert proc.poll() is None, "gcbpf exited: %s" % _read(err)
        for s in held:
            s.close()
        held = []
        slow.close()
        deadline, last = time.time() + 15, None
        while time.time() < deadline:
            try:
                status, body = _metrics(port)
                break
            except OSError as ex:
                last = ex
                time.sleep(0.2)
        else:
            pytest.fail("/metrics did not answer after the clients left: %s"
                        % last)
        assert status == 200 and "python_gc_collections_total{" in body, body
        stop.touch()
        rc = proc.wait(timeout=30)
        assert rc == 0, _read(err)
        pyth = [json.loads(l) for l in _read(trace).splitlines()
                if l.startswith('{"pid"')]
        assert any(other.version and e.get("python", "").startswith(
            other.version[:4]) for e in pyth), \
            "no event of %s in the trace" % other.path
    finally:
        for s in held:
            s.close()
        stop.touch()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _wait_file_text(path, text, proc, timeout=TRACING_TIMEOUT):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in _read(path):
            return
        if proc.poll() is not None:
            pytest.fail("gcbpf exited (%s) before printing %r; stderr:\n%s"
                        % (proc.returncode, text, _read(path)))
        time.sleep(0.05)
    pytest.fail("gcbpf did not print %r within %.0fs; stderr:\n%s"
                % (text, timeout, _read(path)))
