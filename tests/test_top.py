"""gcbpf top (issue 12, item 2), driven in tmux as a person would: two real
processes with known GC behaviour, an 80x24 terminal, keys to re-sort and
select, q to quit.
"""
import os
import re
import shutil
import subprocess
import time

import pytest

PY311 = "/usr/bin/python3.11"
# ~20 gen-0 collections a second, automatic GC off: a known rate, tiny pauses
STEADY = ("import gc, time\n"
          "gc.disable()\n"
          "end = time.monotonic() + 60\n"
          "while time.monotonic() < end:\n"
          "    gc.collect(0)\n"
          "    time.sleep(0.05)\n")
# full collections of a large heap: a high GC share, long pauses
HEAVY = ("import gc, time\n"
         "gc.disable()\n"
         "heap = [[[] for _ in range(10)] for _ in range(100000)]\n"
         "end = time.monotonic() + 60\n"
         "while time.monotonic() < end:\n"
         "    gc.collect(2)\n"
         "    time.sleep(0.02)\n")


def _pane(session):
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session],
                          stdout=subprocess.PIPE, universal_newlines=True).stdout


def _keys(session, *keys):
    subprocess.run(["tmux", "send-keys", "-t", session] + list(keys), check=True)


def _rows(screen):
    """pid -> the row's fields, from the process list."""
    out = {}
    for line in screen.splitlines()[3:]:
        m = re.match(r"^(\d+)\s+(.{12})\s+([\d.]+)\s+(\d+)/(\d+)/(\d+)\s+(\S+)\s+(\S+)\s+(\S+)"
                     r"\s+(\S+)\s+(\S+)$", line)
        if m:
            out[int(m.group(1))] = m.groups()
    return out


def _wait_screen(session, cond, timeout, what):
    end = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < end:
        screen = _pane(session)
        if cond(screen):
            return screen
        time.sleep(0.2)
    pytest.fail("timed out waiting for %s; screen:\n%s" % (what, screen))


@pytest.mark.needs_root
def test_top_in_tmux(gcbpf_bin, tmp_path):
    if not shutil.which("tmux"):
        pytest.skip("tmux missing (apt-get install tmux)")
    if not os.access(PY311, os.X_OK):
        pytest.skip("%s missing" % PY311)
    steady = tmp_path / "steady_job.py"
    heavy = tmp_path / "heavy_job.py"
    steady.write_text(STEADY)
    heavy.write_text(HEAVY)
    procs = [subprocess.Popen([PY311, str(steady)]), subprocess.Popen([PY311, str(heavy)])]
    session = "gcbpf-top-%d" % os.getpid()
    status = tmp_path / "status"
    try:
        subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "80", "-y", "24",
                        "%s top --match '*_job.py*'; echo $? > %s; sleep 60" %
                        (gcbpf_bin, status)], check=True)
        pids = [p.pid for p in procs]
        screen = _wait_screen(session, lambda s: all(p in _rows(s) for p in pids), 30,
                              "both processes on the screen")
        time.sleep(2.2)     # two full seconds of both
        screen = _pane(session)
        assert all(len(l) <= 80 for l in screen.splitlines()), screen
        assert len(screen.splitlines()) <= 24, screen
        assert screen.startswith("gcbpf top "), screen
        rows = _rows(screen)
        st, hv = rows[pids[0]], rows[pids[1]]
        assert "steady_job" in st[1] and "heavy_job.p" in hv[1], rows
        # heap and RSS: the heavy one holds 1.1 M lists
        assert hv[10].endswith("M") and int(hv[10][:-1]) > 50, hv
        # known behaviour: ~20 gen-0 collections/s and nothing else; heavy: gen 2 only
        assert 12 <= int(st[3]) <= 21 and st[4] == "0" and st[5] == "0", st
        assert int(hv[5]) >= 1 and hv[3] == "0", hv
        assert float(hv[2]) > 10 * float(st[2]), (hv, st)
        order = [int(l.split()[0]) for l in screen.splitlines()[3:5]]
        assert order == [pids[1], pids[0]], "not sorted by GC share:\n" + screen
        # the selected process (the first) shows its pauses since start, per generation
        assert re.search(r"pid %d .*since start" % pids[1], screen), screen
        assert re.search(r"^  gen 2\s+\d+\s+sum", screen, re.M), screen
        # p: by pid
        _keys(session, "p")
        screen = _wait_screen(session, lambda s: "by pid" in s, 10, "sort by pid")
        order = [int(l.split()[0]) for l in screen.splitlines()[3:5]]
        assert order == sorted(pids), screen
        # down selects the next process
        _keys(session, "Down")
        screen = _wait_screen(session, lambda s: re.search(r"pid %d .*since start" % pids[1], s),
                              10, "the second process selected")
        _keys(session, "q")
        end = time.monotonic() + 20
        while not status.exists() and time.monotonic() < end:
            time.sleep(0.2)
        assert status.exists() and status.read_text().strip() == "0", _pane(session)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], stderr=subprocess.DEVNULL)
        for p in procs:
            p.kill()
            p.wait()


def test_top_needs_a_terminal(gcbpf_bin):
    if os.geteuid() != 0:
        pytest.skip("needs root")
    r = subprocess.run([gcbpf_bin, "top"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert r.returncode != 0 and "needs a terminal" in r.stderr, r.stderr
    r = subprocess.run([gcbpf_bin, "top", "--", "true"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert r.returncode == 2 and "top" in r.stderr, r.stderr
