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


def _stable_pane(session, timeout=10):
    """The screen once two captures 0.2 s apart agree: a capture can land in the middle of
    a redraw (ncurses rewrites only what changed, tmux renders as bytes arrive), showing
    the new pane's first characters over the old one's (seen under ASan, which draws
    slower)."""
    end = time.monotonic() + timeout
    screen = _pane(session)
    while time.monotonic() < end:
        time.sleep(0.2)
        again = _pane(session)
        if again == screen:
            return screen
        screen = again
    pytest.fail("the screen never held still for 0.2 s:\n" + screen)


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
        screen = _stable_pane(session)
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
                        "%s top --match '*%s/*_job.py*'; echo $? > %s; sleep 60" %
                        (gcbpf_bin, tmp_path, status)], check=True)
        pids = [p.pid for p in procs]
        screen = _wait_screen(session, lambda s: all(p in _rows(s) for p in pids), 30,
                              "both processes on the screen")
        time.sleep(2.2)     # two full seconds of both
        screen = _stable_pane(session)
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


# Two processes whose collections are triggered at known lines (gc.collect's
# caller is the innermost frame on every version): A's full collections of a
# large heap from heavy_site, its gen-0 ones from light_site (5 per round);
# B's from other_site. Automatic GC off: these calls are every collection.
SITES_A = ("import gc, time\n"
           "gc.disable()\n"
           "def heavy_site():\n"
           "    gc.collect(2)\n"
           "def light_site():\n"
           "    gc.collect(0)\n"
           "heap = [[[] for _ in range(10)] for _ in range(60000)]\n"
           "end = time.monotonic() + 90\n"
           "while time.monotonic() < end:\n"
           "    heavy_site()\n"
           "    for _ in range(5):\n"
           "        light_site()\n"
           "    time.sleep(0.05)\n")
SITES_B = ("import gc, time\n"
           "gc.disable()\n"
           "def other_site():\n"
           "    gc.collect(1)\n"
           "end = time.monotonic() + 90\n"
           "while time.monotonic() < end:\n"
           "    other_site()\n"
           "    time.sleep(0.02)\n")


def _line_of(src, text):
    return [i + 1 for i, l in enumerate(src.splitlines()) if text in l][0]


def _sites(screen):
    """The lower pane's trigger sites: [(sum, count, max, func, file, line)]."""
    out = []
    part = screen.split("trigger sites by total pause", 1)
    if len(part) < 2:
        return out
    for line in part[1].splitlines()[2:]:
        m = re.match(r"^\s*(\S+)\s+(\d+)\s+(\S+)  (\S+) (\S+):(\d+)$", line)
        if not m:
            break
        out.append((m.group(1), int(m.group(2)), m.group(3), m.group(4), m.group(5),
                    int(m.group(6))))
    return out


def _since_start(screen, gen):
    m = re.search(r"^  gen %d\s+(\d+)\s+sum" % gen, screen, re.M)
    return int(m.group(1)) if m else None


def _stack_params():
    """Debian's 3.11 (USDT), the oldest and a 3.12+ pyenv build (uprobe, other
    frame layouts), sid's 3.14 and 3.15 (USDT, in the chroot)."""
    import test_sid
    from conftest import all_interpreters
    want = ("debian-3.11", "pyenv-3.6.", "pyenv-3.12.")
    out = []
    for it in all_interpreters():
        if it.label.startswith(want):
            marks = [] if it.present else [pytest.mark.skip(reason=it.reason)]
            out.append(pytest.param(it, id=it.label, marks=marks))
    return out + test_sid.sid_params(labels=("sid-3.14", "sid-3.15"))


@pytest.mark.needs_root
@pytest.mark.parametrize("it", _stack_params())
def test_top_stacks_in_tmux(it, gcbpf_bin, tmp_path):
    """gcbpf top --stacks on 80x24: the selected process's trigger sites, by
    total pause, are the functions and lines that called gc.collect, with
    the counts the kernel counted; j/k move the selection and the sites."""
    import test_sid
    if not shutil.which("tmux"):
        pytest.skip("tmux missing (apt-get install tmux)")
    root, inside = "", str(tmp_path)
    if it.label.startswith("sid-"):
        # the scripts where the chrooted interpreter sees them
        root = test_sid.sid_root()
        inside = "/tmp/gcbpf-top-%d" % os.getpid()
        os.makedirs(root + inside, exist_ok=True)
    a, b = root + inside + "/trig_a.py", root + inside + "/trig_b.py"
    open(a, "w").write(SITES_A)
    open(b, "w").write(SITES_B)
    pre = ["chroot", root] if root else []
    procs = [subprocess.Popen(pre + [it.path, inside + "/trig_a.py"]),
             subprocess.Popen(pre + [it.path, inside + "/trig_b.py"])]
    pids = [p.pid for p in procs]
    session = "gcbpf-top-stacks-%d" % os.getpid()
    status = tmp_path / "status"
    heavy, light = _line_of(SITES_A, "gc.collect(2)"), _line_of(SITES_A, "gc.collect(0)")
    other = _line_of(SITES_B, "gc.collect(1)")
    try:
        subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "80", "-y", "24",
                        "%s top --stacks -p %d,%d; echo $? > %s; sleep 60" %
                        (gcbpf_bin, pids[0], pids[1], status)], check=True)
        screen = _wait_screen(session, lambda s: all(p in _rows(s) for p in pids) and
                              len(_sites(s)) >= 2, 30, "both processes and A's sites")
        time.sleep(3.2)     # a few rounds more
        screen = _stable_pane(session)
        lines = screen.splitlines()
        assert all(len(l) <= 80 for l in lines) and len(lines) <= 24, screen
        # A (the heavy one) is first by GC share, selected
        assert re.search(r"pid %d .*since start" % pids[0], screen), screen
        sites = _sites(screen)
        assert [(s[3], s[5]) for s in sites[:2]] == [("heavy_site", heavy),
                                                     ("light_site", light)], screen
        assert all(s[4].endswith("trig_a.py") for s in sites[:2]), screen
        # the counts: every gen-2 collection is heavy_site's, every gen-0 one
        # light_site's; the pane counts events, the rows the kernel (which
        # may be a poll ahead)
        g2, g0 = _since_start(screen, 2), _since_start(screen, 0)
        assert g2 and 0 <= g2 - sites[0][1] <= 2, (g2, sites, screen)
        assert g0 and 0 <= g0 - sites[1][1] <= 10, (g0, sites, screen)
        assert 4 * sites[0][1] <= sites[1][1] <= 6 * sites[0][1] + 5, sites
        assert len(sites) == 2, screen      # nothing else triggered A's collections
        # j: B selected, its one site
        _keys(session, "j")
        screen = _wait_screen(session, lambda s: re.search(r"pid %d .*since start" % pids[1],
                                                           s) and _sites(s), 10, "B selected")
        sites = _sites(screen)
        assert [(s[3], s[5]) for s in sites] == [("other_site", other)], screen
        assert sites[0][4].endswith("trig_b.py"), screen
        # k: back to A
        _keys(session, "k")
        screen = _wait_screen(session, lambda s: re.search(r"pid %d .*since start" % pids[0],
                                                           s), 10, "A selected again")
        assert _sites(screen)[0][3] == "heavy_site", screen
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
        if root:
            shutil.rmtree(root + inside, ignore_errors=True)


@pytest.mark.needs_root
def test_top_shows_the_thresholds_read(gcbpf_bin, tmp_path):
    """The selected process's thresholds, read from its memory, in its pane
    and in the gen-0 advice's evidence; a gc.set_threshold() at run time is
    followed (re-read every 5 s)."""
    if not shutil.which("tmux"):
        pytest.skip("tmux missing (apt-get install tmux)")
    if not os.access(PY311, os.X_OK):
        pytest.skip("%s missing" % PY311)
    import test_advice
    proc = subprocess.Popen([PY311, "-c", test_advice.THRESH_PROG, "787", "3", "929", "60"],
                            stdout=subprocess.DEVNULL)
    session = "gcbpf-top-thr-%d" % os.getpid()
    try:
        subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "80", "-y", "24",
                        "%s top -p %d; sleep 60" % (gcbpf_bin, proc.pid)], check=True)
        screen = _wait_screen(session, lambda s: "thresholds (787, 13, 17)" in s and
                              "[gen0" not in s and "advice: gen-0 threshold 787 " in s, 30,
                              "the thresholds and the gen-0 advice")
        assert re.search(r"^pid %d .*: since start; thresholds \(787, 13, 17\)$" % proc.pid,
                         screen, re.M), screen
        assert re.search(r"^advice: gen-0 threshold 787 \(gc.get_threshold\(\) \(787, 13, "
                         r"17\), read", screen, re.M), screen
        assert all(len(l) <= 80 for l in screen.splitlines()), screen
        # set to 929 after 3 s: on the screen within the 5 s refresh
        _wait_screen(session, lambda s: "thresholds (929, 13, 17)" in s, 15, "the new value")
        _keys(session, "q")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], stderr=subprocess.DEVNULL)
        proc.kill()
        proc.wait()


def _message_area(screen):
    """The last two lines (top's newest messages), and the lines above them."""
    lines = screen.rstrip("\n").split("\n")
    lines += [""] * (24 - len(lines))
    return lines[-2:], lines[:-2]


@pytest.mark.needs_root
def test_top_keeps_messages_off_the_table(gcbpf_bin, tmp_path):
    """A Python started after top (a copy of python3.11: a binary no one armed yet, so
    gcbpf says "Armed ... exec'd it" for our pid): said on top's message lines, nothing
    over the table; said again, whole, on stderr at exit."""
    if not shutil.which("tmux"):
        pytest.skip("tmux missing (apt-get install tmux)")
    if not os.access(PY311, os.X_OK):
        pytest.skip("%s missing" % PY311)
    job = tmp_path / "msg_job.py"
    job.write_text(STEADY)
    copy = tmp_path / "python3.11"
    shutil.copy2(PY311, str(copy))
    first = subprocess.Popen([PY311, str(job)])
    procs = [first]
    session = "gcbpf-top-msg-%d" % os.getpid()
    status = tmp_path / "status"
    try:
        subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "80", "-y", "24",
                        "%s top --match '*%s/msg_job.py*'; echo $? > %s; sleep 60" %
                        (gcbpf_bin, tmp_path, status)], check=True)
        _wait_screen(session, lambda s: first.pid in _rows(s), 30, "the first process")
        late = subprocess.Popen([str(copy), str(job)])
        procs.append(late)
        # one line, its middle cut out at 80 columns: the start and who stay
        shown = re.compile(r"^\d\d:\d\d:\d\d Armed /\S+.* after pid %d exec'd it$" % late.pid)
        # Other jobs on this host arm binaries too, and the lines show the newest two:
        # look often; judge a screen that holds still and shows ours.
        end, screen = time.monotonic() + 30, ""
        while time.monotonic() < end:
            if any(shown.match(l) for l in _message_area(_pane(session))[0]):
                screen = _stable_pane(session)
                if any(shown.match(l) for l in _message_area(screen)[0]) and \
                        late.pid in _rows(screen):
                    break
            time.sleep(0.1)
        else:
            pytest.fail("our Armed line never on the message lines with both rows:\n" + screen)
        messages, above = _message_area(screen)
        assert all(re.match(r"^\d\d:\d\d:\d\d ", l) for l in messages), screen
        assert all(len(l) <= 80 for l in screen.splitlines()), screen
        # the table: the header, then rows that parse whole, up to the pane's rule
        assert above[2].split() == ["PID", "SERVICE", "GC%", "COLL/S", "P50", "P99", "MAX",
                                    "HEAP", "RSS"], screen
        rule = [i for i, l in enumerate(above) if l.startswith("-" * 20)]
        assert rule, screen
        table = [l for l in above[3:rule[0]] if l.strip()]
        assert len(table) == len(_rows("\n".join(above[:3] + table))), screen
        assert {first.pid, late.pid} <= set(_rows(screen)), screen
        # nothing said (ours or anyone's) anywhere above the message lines
        assert not any(w in l for l in above for w in ("Armed", "gcbpf:", "exec'd")), screen
        _keys(session, "q")
        end = time.monotonic() + 20
        while not status.exists() and time.monotonic() < end:
            time.sleep(0.2)
        assert status.exists() and status.read_text().strip() == "0", _pane(session)
        # said again, whole, where it stays: the terminal once top has ended
        after = subprocess.run(["tmux", "capture-pane", "-p", "-J", "-S", "-300", "-t",
                                session], stdout=subprocess.PIPE,
                               universal_newlines=True).stdout
        assert re.search(r"^\d\d:\d\d:\d\d Armed %s \(Python 3\.11\.\d+, usdt\) [\d.]+ ms "
                         r"after pid %d exec'd it$" % (re.escape(str(copy)), late.pid),
                         after, re.M), after
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], stderr=subprocess.DEVNULL)
        for p in procs:
            p.kill()
            p.wait()
