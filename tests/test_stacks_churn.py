"""gcbpf --stacks against ground truth on programs that free code while
traced: every collection's stack, frame by frame to DEPTH, equal to what
gc.callbacks saw at the "start" phase (tests/progs/gc_stack_truth.py),
classified by tests/stack_truth.py: no frame may name another function, file
or line ("wrong": always zero); unknown frames ({"func": null, ...}) and
stacks cut short of DEPTH are counted and bounded (BOUND of the collections
on a quiet machine); a stack may be cut at DEPTH only where the truth is
deeper.

Workloads: tests/progs/gc_code_churn.py (imports in the window, module and class
bodies, lazy imports, importlib.reload, generated functions compiled, run
and dropped, threads, generators and asyncio, short-lived children that
exit right after their last collection) and two real programs (pydoc -w of
stdlib modules, pyflakes over a source tree), each recorded from before its
first import.

Cases: the churn on every interpreter of the matrix (tests/interpreters.py
and the sid chroot) in launch mode; -p and system-wide on REPRESENTATIVE;
the real programs, the loader stopped 2 s (SIGSTOP) and both cores busy on
REPRESENTATIVE; release builds with the debug files out of sight (a private
mount namespace with tmpfs on /usr/lib/debug, also the chroot's) and a
stripped libpython copy.  Each case's counts (the unknown share under load
among them) are listed in the run's summary, section "stacks against ground
truth", whether the case passed or not.
"""
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

import conftest
from conftest import PROGS_DIR, interp_params
import compare_truth
import stack_truth as st
import test_ground_truth as gt
import test_sid

PROGS = ("gc_code_churn.py", "gc_stack_truth.py", "gc_recorder.py")
CHURN = "gc_code_churn.py"
WRAPPER = "gc_stack_truth.py"
BOUND = 0.005               # share of collections with an unknown or cut frame
STOP_S = 2.0
REPRESENTATIVE = ("debian-3.11", "pyenv-3.12", "sid-3.13")
PYDOC_MODULES = ("argparse", "difflib", "tarfile", "email.mime.text", "http.server",
                 "logging.handlers")
PYFLAKES = "/usr/lib/python3/dist-packages/pyflakes"
TIMEOUT = 180


# --------------------------------------------------------------------------
# the comparator itself (no root)

def _f(func, file, line):
    return {"func": func, "file": file, "line": line}


T3 = [["inner", "a.py", 3], ["middle", "a.py", 7], ["<module>", "a.py", 9]]
UNK = _f(None, None, None)


@pytest.mark.parametrize("got,trunc,depth,kind,unknown", [
    ([_f(*f) for f in T3], False, 16, st.EXACT, 0),
    ([_f(*f) for f in T3[:2]], True, 2, st.EXACT, 0),           # cut at DEPTH: fine
    ([_f(*f) for f in T3[:2]], False, 2, st.WRONG, 0),          # claims to be whole
    ([_f(*f) for f in T3[:2]], True, 16, st.CUT, 0),            # cut short of DEPTH
    ([_f(*f) for f in T3[:2]], False, 16, st.WRONG, 0),         # silently short
    ([_f(*f) for f in T3], True, 16, st.CUT, 0),                # flag on a whole stack
    ([UNK, _f(*T3[1]), _f(*T3[2])], False, 16, st.UNKNOWN, 1),  # unknown in place
    ([_f(*T3[0]), UNK, UNK], False, 16, st.UNKNOWN, 2),
    ([_f("inner", "a.py", None)] + [_f(*f) for f in T3[1:]], False, 16, st.UNKNOWN, 1),
    ([UNK, _f(*T3[1])], True, 16, st.CUT, 1),                   # both: cut wins
    ([_f("other", "a.py", 3)] + [_f(*f) for f in T3[1:]], False, 16, st.WRONG, 0),
    ([_f("inner", "b.py", 3)] + [_f(*f) for f in T3[1:]], False, 16, st.WRONG, 0),
    ([_f("inner", "a.py", 4)] + [_f(*f) for f in T3[1:]], False, 16, st.WRONG, 0),
    ([_f(None, "a.py", 3)] + [_f(*f) for f in T3[1:]], False, 16, st.WRONG, 0),
    ([_f("inner", None, None)] + [_f(*f) for f in T3[1:]], False, 16, st.WRONG, 0),
    ([_f(*T3[0]), _f(*T3[2])], True, 16, st.WRONG, 0),          # a frame skipped
    ([_f(*f) for f in T3] + [UNK], False, 16, st.WRONG, 0),     # one too many
    ([UNK, UNK, UNK], True, 3, st.CUT, 3),                      # whole, yet flagged
    (None, False, 16, st.NOSTACK, 0),
], ids=["exact", "at-depth", "at-depth-unflagged", "cut", "short-unflagged",
        "flag-on-whole", "unknown-inner", "unknown-two", "line-null", "unknown-and-cut",
        "other-func", "other-file", "other-line", "null-func-with-file", "null-file",
        "skipped", "extra", "flagged-unknowns", "null"])
def test_classify(got, trunc, depth, kind, unknown):
    assert st.classify(T3, len(T3), got, trunc, depth)[:2] == (kind, unknown)


def test_classify_deeper_truth():
    """Truth recorded deeper than DEPTH ("frames" > len(stack) too)."""
    deep = T3 * 4
    got = [_f(*f) for f in deep[:5]]
    assert st.classify(deep, 100, got, True, 5)[0] == st.EXACT
    assert st.classify(deep, 100, got, False, 5)[0] == st.WRONG
    assert st.classify(deep, 100, got[:4], True, 5)[0] == st.CUT


def test_summary_pairs_by_order(tmp_path):
    """add_process pairs truth and trace in start order, per pid, and counts."""
    truth = tmp_path / "t.jsonl"
    recs = [{"gen": 0, "collected": 0, "uncollectable": 0, "t_start": 100 + 10 * i,
             "t_stop": 105 + 10 * i, "tid": 7, "stack": T3, "frames": 3} for i in range(4)]
    truth.write_text("\n".join(json.dumps(o) for o in
                               [{"begin": 50, "pid": 9}] + recs + [{"end": 200}]) + "\n")
    ev = [dict(pid=9, tid=7, gen=0, collected=0, uncollectable=0, ts_start=r["t_start"],
               ts_stop=r["t_stop"], stack=[_f(*f) for f in T3], stack_truncated=False)
          for r in recs]
    ev[1]["stack"] = [UNK] + ev[1]["stack"][1:]
    ev[2]["stack"] = ev[2]["stack"][:1]
    ev[2]["stack_truncated"] = True
    ev[3]["stack"] = [_f("x", "a.py", 3)] + ev[3]["stack"][1:]
    other = dict(ev[0], pid=10, stack=None)   # another process: not paired
    s = st.Summary("unit", 16)
    st.add_process(s, str(truth), list(reversed(ev)) + [other])
    assert s.kinds == {st.EXACT: 1, st.UNKNOWN: 1, st.CUT: 1, st.NOSTACK: 0, st.WRONG: 1}
    assert (s.unknown_frames, s.frames, s.processes) == (1, 12, 1)
    ev.pop()
    with pytest.raises(AssertionError):       # a collection lost: not silently
        st.add_process(st.Summary("unit", 16), str(truth), ev)


# --------------------------------------------------------------------------
# running

# The sanitizer pass (tests/run.sh) runs these builds' cases only: the others repeat
# the same loader code on other interpreters (conftest.py: first_pass).
SANITIZER_BUILDS = ("debian-3.11", "sid-3.15")


def _marks(p, label):
    return list(p.marks) + ([] if label in SANITIZER_BUILDS else [pytest.mark.first_pass])


def _interp(label):
    """The matrix entry whose label starts with label (host or sid)."""
    for p in interp_params() + test_sid.sid_params():
        it = p.values[0]
        if it.label == label or it.label.startswith(label + "."):
            return pytest.param(it, label.startswith("sid-"), id=label, marks=_marks(p, label))
    return pytest.param(None, False, id=label, marks=pytest.mark.skip(
        reason="no interpreter %s in the matrix" % label))


def _matrix():
    out = []
    for p in interp_params():
        out.append(pytest.param(p.values[0], False, id=p.id,
                                marks=_marks(p, p.values[0].label)))
    for p in test_sid.sid_params():
        out.append(pytest.param(p.values[0], True, id=p.id, marks=_marks(p, p.values[0].label)))
    return out


class Place(object):
    """Where a case's files live: host paths, and the paths the workload
    sees (inside the chroot for sid)."""

    def __init__(self, it, chroot, tmp_path):
        self.it, self.chroot = it, chroot
        if chroot:
            self.root = test_sid.sid_root()
            progs = self.root + test_sid.IN_ROOT_DIR + "/progs"
            os.makedirs(progs, exist_ok=True)
            for name in PROGS:
                shutil.copy(os.path.join(PROGS_DIR, name), os.path.join(progs, name))
            self.progs = progs[len(self.root):]
            self.inside = "%s/churn-%s-%d-%d" % (test_sid.IN_ROOT_DIR, it.label, os.getpid(),
                                                 int(time.time() * 1000) % 100000)
            self.host = self.root + self.inside
            shutil.rmtree(self.host, ignore_errors=True)
            os.makedirs(self.host)
        else:
            self.root = ""
            self.progs = PROGS_DIR
            self.inside = self.host = str(tmp_path / "w")
            os.makedirs(self.host)
        self.truth = self.inside + "/truth.jsonl"
        self.cwd = False

    def python(self, args):
        """argv running the interpreter with args (in the chroot for sid), in
        the case directory when self.cwd."""
        cmd = [self.it.path] + list(args)
        if self.cwd:
            cmd = ["sh", "-c", 'cd "$0" && exec "$@"', self.inside] + cmd
        return (["chroot", self.root] if self.chroot else []) + cmd

    def truths(self):
        return sorted(glob.glob(self.host + "/truth.jsonl*"))

    def cleanup(self):
        if self.chroot:
            shutil.rmtree(self.host, ignore_errors=True)


def _stack_opt(depth):
    return "--stacks" if depth == 64 else "--stacks=%d" % depth


def _disturb(gcbpf, place, stopped):
    """Holds gcbpf back for STOP_S once the workload recorded its first
    collection: collections, children and their exits go on meanwhile.
    stopped: gets the monotonic ns of the SIGSTOP."""
    deadline = time.time() + 60
    path = place.host + "/truth.jsonl"
    while time.time() < deadline and gcbpf.poll() is None:
        try:
            if os.path.getsize(path) > 0 and open(path).read().count("\n") > 2:
                break
        except OSError:
            pass
        time.sleep(0.005)
    if gcbpf.poll() is None:
        gcbpf.send_signal(signal.SIGSTOP)
        stopped.append(time.monotonic_ns())
        time.sleep(STOP_S)
        gcbpf.send_signal(signal.SIGCONT)


def run(gcbpf_bin, mode, place, args, depth, tmp_path, extra=(), wrap=(), env=None,
        stopped=None, ok_status=(0,)):
    """Runs the workload python ARGS traced in MODE (launch, pid, system);
    returns (trace events, gcbpf stderr, truth paths).  stopped: a list, to
    stop gcbpf for STOP_S mid-run (_disturb)."""
    trace, gc_err = str(tmp_path / "trace.jsonl"), str(tmp_path / "gcbpf.stderr")
    wl_out = str(tmp_path / "workload.out")
    opts = [gcbpf_bin, _stack_opt(depth), "-f", "jsonl", "-o", trace] + list(extra)
    gcbpf = wl = stopper = None
    try:
        if mode == "launch":
            with open(gc_err, "w") as e, open(wl_out, "w") as o:
                gcbpf = subprocess.Popen(list(wrap) + opts + ["--"] + place.python(args),
                                         stdout=o, stderr=e, env=env)
            if stopped is not None:
                stopper = threading.Thread(target=_disturb, args=(gcbpf, place, stopped))
                stopper.start()
            grc = gcbpf.wait(timeout=TIMEOUT)
            assert grc in ok_status, "gcbpf exit status %s; stderr:\n%s\nworkload:\n%s" % (
                grc, gt._read(gc_err), gt._read(wl_out)[-3000:])
        else:
            go = place.inside + "/go"
            with open(wl_out, "w") as o:
                wl = subprocess.Popen(place.python(list(args[:1]) + ["--wait-file", go] +
                                                   list(args[1:])),
                                      stdout=o, stderr=subprocess.STDOUT, env=env)
            if place.chroot:
                test_sid._wait_exec(wl.pid, os.path.basename(place.it.path))
            target = ["-p", str(wl.pid)] if mode == "pid" else ["-a"]
            with open(gc_err, "w") as e:
                gcbpf = subprocess.Popen(opts + target, stdout=subprocess.DEVNULL, stderr=e)
            gt._wait_for_tracing(gcbpf, gc_err)
            with open(place.host + "/go", "w") as f:
                f.write("go\n")
            wrc = wl.wait(timeout=TIMEOUT)
            assert wrc in ok_status, gt._read(wl_out)[-3000:]
            if mode == "system":
                time.sleep(0.5)          # the last events through the ring
                gcbpf.send_signal(signal.SIGINT)
            grc = gcbpf.wait(timeout=gt.EXIT_TIMEOUT)
            assert grc == 0, "gcbpf exit status %s; stderr:\n%s" % (grc, gt._read(gc_err))
    finally:
        if stopper is not None:
            stopper.join()
        gt._kill(wl)
        if gcbpf is not None and gcbpf.poll() is None:
            gcbpf.send_signal(signal.SIGCONT)
        gt._kill(gcbpf)
    truths = place.truths() if mode != "pid" else [place.host + "/truth.jsonl"]
    return compare_truth.load_trace(trace), gt._read(gc_err), truths


def judge(label, depth, events, err, truths, bound=BOUND, min_processes=1):
    """Summary over all truth files; wrong frames fail always, unknown or cut
    ones beyond bound (None: reported only)."""
    s = st.Summary(label, depth)
    for t in truths:
        st.add_process(s, t, events)
    warn = [l for l in err.splitlines() if "warning" in l]
    conftest.REPORT.append(s.line())
    print(s.line())
    for l in warn:
        print("  gcbpf: " + l)
    assert s.processes >= min_processes, (s.processes, truths)
    assert s.collections > 0
    assert s.kinds[st.WRONG] == 0, s.details()
    if bound is not None:
        bad = s.share(st.CUT, st.UNKNOWN, st.NOSTACK)
        assert bad <= bound, "%.2f%% of collections with unknown or cut frames (bound " \
            "%.1f%%)\n%s" % (100 * bad, 100 * bound, s.details())
    return s


def churn_args(place, threads=4, children=3):
    return [place.progs + "/" + CHURN, "--truth", place.truth, "--threads", str(threads),
            "--children", str(children)]


CATEGORIES = (
    ("a module body", lambda f, p: f == "<module>" and "churn_mod_" in p),
    ("a class body", lambda f, p: f.startswith("Allocating") and "." not in f),
    ("a lazy import", lambda f, p: f.startswith("lazy_")),
    ("a reload", lambda f, p: f == "reload"),
    ("a generated function", lambda f, p: f.startswith("gen_main_") and p.startswith("<churn")),
    ("a thread's generated function", lambda f, p: f.startswith("gen_t")),
    ("a child's generated function", lambda f, p: f.startswith("gen_c")),
    ("a generator", lambda f, p: f == "gen_values"),
    ("a coroutine", lambda f, p: f in ("coro", "agen")),
)


def check_churn_truth(truths):
    """The workload really did what the comparison is about: collections with
    each kind of frame on the stack."""
    frames = set()
    for t in truths:
        for r in compare_truth.load_truth(t)["records"]:
            frames.update((f[0], f[1]) for f in r["stack"])
    for what, test in CATEGORIES:
        assert any(test(f, p) for f, p in frames), "no collection under %s" % what


# --------------------------------------------------------------------------
# cases

@pytest.mark.needs_root
@pytest.mark.parametrize("it,chroot", _matrix())
def test_churn(it, chroot, gcbpf_bin, tmp_path):
    """Every interpreter, launch mode, default depth: children included."""
    place = Place(it, chroot, tmp_path)
    try:
        ev, err, truths = run(gcbpf_bin, "launch", place, churn_args(place), 64, tmp_path)
        check_churn_truth(truths)
        judge("churn-%s-launch" % it.label, 64, ev, err, truths, min_processes=4)
    finally:
        place.cleanup()


@pytest.mark.needs_root
@pytest.mark.parametrize("mode", ("pid", "system"))
@pytest.mark.parametrize("it,chroot", [_interp(l) for l in REPRESENTATIVE])
def test_churn_modes(it, chroot, mode, gcbpf_bin, tmp_path):
    """-p (the children are not its targets) and system-wide (they are),
    at depth 10: cut at DEPTH where the truth is deeper."""
    place = Place(it, chroot, tmp_path)
    try:
        ev, err, truths = run(gcbpf_bin, mode, place, churn_args(place), 10, tmp_path)
        s = judge("churn-%s-%s" % (it.label, mode), 10, ev, err, truths,
                  min_processes=1 if mode == "pid" else 4)
        assert s.at_depth > 0, "no stack deeper than 10: the cut at DEPTH untested"
    finally:
        place.cleanup()


def _program_args(place, prog):
    """A lower first threshold than the default 700: more collections, so
    that BOUND means something on 3.12+ too (pydoc: 21 collections at 700)."""
    wrap = [place.progs + "/" + WRAPPER, "--truth", place.truth, "--threshold", "100"]
    if prog == "pydoc":
        return wrap + ["-m", "pydoc", "-w"] + list(PYDOC_MODULES)
    return wrap + ["-m", "pyflakes", place.stdlib + "/email", place.stdlib + "/json"]


def _pyflakes_env(place, tmp_path):
    """pyflakes (Debian's python3-pyflakes) importable by the interpreter,
    copied into the case directory (in the chroot for sid)."""
    if not os.path.isdir(PYFLAKES):
        pytest.skip("python3-pyflakes is not installed (%s)" % PYFLAKES)
    shutil.copytree(PYFLAKES, place.host + "/pp/pyflakes")
    return dict(os.environ, PYTHONPATH=place.inside + "/pp")


def _stdlib(place):
    out = subprocess.check_output(place.python(
        ["-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"]),
        universal_newlines=True, timeout=60)
    return out.strip()


@pytest.mark.needs_root
@pytest.mark.parametrize("prog", ("pydoc", "pyflakes"))
@pytest.mark.parametrize("it,chroot", [_interp(l) for l in REPRESENTATIVE])
def test_real_programs(it, chroot, prog, gcbpf_bin, tmp_path):
    """Import-heavy real programs, recorded from before their first import:
    at most BOUND of the collections with an unknown or cut frame."""
    place = Place(it, chroot, tmp_path)
    try:
        env = None
        if prog == "pyflakes":
            env = _pyflakes_env(place, tmp_path)
            place.stdlib = _stdlib(place)
        # pydoc writes its pages into the current directory; pyflakes exits 1
        # when it has something to say.
        place.cwd = prog == "pydoc"
        ev, err, truths = run(gcbpf_bin, "launch", place, _program_args(place, prog), 64,
                              tmp_path, env=env, ok_status=(0, 1))
        judge("%s-%s" % (prog, it.label), 64, ev, err, truths)
    finally:
        place.cleanup()


@pytest.mark.needs_root
@pytest.mark.parametrize("load", ("stop", "busy"))
@pytest.mark.parametrize("it,chroot", [_interp(l) for l in REPRESENTATIVE])
def test_churn_under_load(it, chroot, load, gcbpf_bin, tmp_path):
    """gcbpf stopped for 2 s mid-run, or both cores busy: no wrong frame;
    the unknown share is printed, not bounded."""
    place = Place(it, chroot, tmp_path)
    busy = []
    try:
        if load == "busy":
            for _ in range(2):
                busy.append(subprocess.Popen(["sh", "-c", "while :; do :; done"]))
        stopped = [] if load == "stop" else None
        # Busy: half the threads, the same kinds of frames, in half the time.
        ev, err, truths = run(gcbpf_bin, "launch", place,
                              churn_args(place, threads=4 if stopped is not None else 2), 64,
                              tmp_path, stopped=stopped)
        if load == "stop":
            # gcbpf was stopped mid-run: collections (and the children's
            # exits) happened while it could not read anything.
            assert stopped, "gcbpf was never stopped"
            late = [r for t in truths for r in compare_truth.load_truth(t)["records"]
                    if stopped[0] < r["t_start"] < stopped[0] + STOP_S * 1e9]
            assert len(late) > 50, "only %d collections while gcbpf was stopped" % len(late)
        judge("churn-%s-%s" % (it.label, load), 64, ev, err, truths, bound=None,
              min_processes=4)
    finally:
        for p in busy:
            p.kill()
            p.wait()
        place.cleanup()


def _hide_debug(place):
    """unshare -m: tmpfs over /usr/lib/debug (and the chroot's), then gcbpf."""
    mounts = ["/usr/lib/debug"] + ([place.root + "/usr/lib/debug"] if place.chroot else [])
    script = " && ".join('mount -t tmpfs none %s && [ -z "$(ls -A %s)" ]' % (m, m)
                         for m in mounts)
    script += ' || { echo "cannot hide %s" >&2; exit 97; }; exec "$@"' % " ".join(mounts)
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"]


@pytest.mark.needs_root
@pytest.mark.parametrize("it,chroot", [_interp(l) for l in ("debian-3.11", "sid-3.13")])
def test_churn_no_debug_files(it, chroot, gcbpf_bin, tmp_path):
    """Release builds as production hosts run them: no debug file in sight
    (for sid: what a chroot with only the -minimal packages has)."""
    place = Place(it, chroot, tmp_path)
    try:
        ev, err, truths = run(gcbpf_bin, "launch", place, churn_args(place), 64, tmp_path,
                              wrap=_hide_debug(place))
        judge("churn-%s-nodebug" % it.label, 64, ev, err, truths, min_processes=4)
    finally:
        place.cleanup()


@pytest.mark.needs_root
@pytest.mark.parametrize("minor", (12,), ids=lambda m: "3.%d" % m)
def test_churn_stripped_libpython(minor, gcbpf_bin, tmp_path):
    """A stripped libpython copy (tests/test_builds.py), debug files hidden."""
    import test_builds
    it, lib = test_builds._pyenv(minor)
    copy = test_builds.make_stripped(lib, tmp_path / "lib")
    place = Place(it, False, tmp_path)
    ev, err, truths = run(gcbpf_bin, "launch", place, churn_args(place), 64, tmp_path,
                          wrap=_hide_debug(place), env=test_builds._env(tmp_path / "lib"))
    pids = set(compare_truth.load_truth(t)["pid"] for t in truths)
    assert set(e.get("binary") for e in ev if e.get("pid") in pids) == {copy}
    judge("churn-stripped-%s" % it.label, 64, ev, err, truths, min_processes=4)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__] + sys.argv[1:]))
