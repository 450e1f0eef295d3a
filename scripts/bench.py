#!/usr/bin/python3
"""gcbpf's cost, measured against the floor of an entry/exit design.

Run by `make bench` (scripts/bench.sh), as root. Three parts:

e2e     ns per gc.collect(0) of a target doing nothing else, untraced and
        under each mode: the floor (--empty-probes: the same points, empty
        programs), --clock-probes, the bpftrace one-liner (if installed) and
        gcbpf -q, -q --stats, -f jsonl -o FILE, -f text -o FILE. Each probe
        path (USDT: Debian's python3.11; uprobe: a pyenv 3.12; sid's 3.15 in
        its chroot, where gcbpf attaches gc__done alone: the floor's two
        points against one trap), rounds
        interleaved (order rotated each round), medians and spread; the added
        cost of each mode over untraced, divided by the floor's. Then one run
        per mode with BPF run-time statistics: ns per run of each program.
loader  gcbpf's own CPU per event for each output format over >= 1 M
        collections (text with --all-events: every collection a line), and
        its system calls and wakeups per second of tracing (perf trace).
stacks  ns per gc.collect(0) made 70 Python frames deep, untraced, under the
        plain trace (-f jsonl -o FILE) and with --stacks=10, 30 and 64;
        interleaved rounds, medians; then the exit program's ns per run.
inside  --inside's cost: a CPU-bound process that never collects, untraced, under -q and
        -q --inside (its own time for a fixed loop; interleaved rounds, medians), and the
        sampling program's runs per second and ns per run meanwhile (it returns at once);
        then a process collecting a large heap in a loop: ns per sample taken in a pause
        (the program's time less its idle runs', over the samples the JSONL holds).
mypy    Debian's mypy over a source tree: untraced vs -q --stats vs
        -f jsonl -o FILE, interleaved, medians of wall and CPU time.

Hygiene: uprobes are per file, so a tracer attached to the interpreter file
(another gcbpf -a, a bpftrace) bills every row. The interpreters run from
private copies in a fresh directory (a shared libpython copied too and loaded
through LD_LIBRARY_PATH; /proc/PID/maps is checked to map the copies), and
before every round a process of each copy compares its mapped text with the
file: an attached uprobe leaves an int3 there. If anything is attached, the
bench stops and names it (bpftool perf show).

Environment: BENCH_QUICK=1 (seconds: a smoke test), BENCH_N (collections per
run), BENCH_ROUNDS, BENCH_PATHS (comma list of the paths' labels' first
words: usdt, uprobe, sid-3.15), BENCH_LOADER_N, BENCH_LOADER_ROUNDS,
BENCH_LOADER_BASE (another gcbpf binary, measured in the loader's rounds too),
BENCH_MYPY_PAIRS, BENCH_STACK_ROUNDS, BENCH_INSIDE_ROUNDS, BENCH_PARTS (comma list of
e2e,loader,stacks,inside,mypy), BENCH_E2E_MODES (comma list: the e2e rows besides
untraced and the floor, e.g. "-q --stats,jsonl,jsonl /dev/null"), GCBPF
(binary), PYENV_ROOT, GCBPF_SID_ROOT (the sid chroot, default
/var/tmp/gcbpf-sid).
"""
import atexit
import contextlib
import ctypes
import glob
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.path.join(REPO, "scripts", "bench_target.py")
GCBPF = os.path.abspath(os.environ.get("GCBPF", os.path.join(REPO, "gcbpf")))
BPFTOOL = shutil.which("bpftool") or "/usr/sbin/bpftool"
BPFTRACE = shutil.which("bpftrace")
PERF = shutil.which("perf")
QUICK = os.environ.get("BENCH_QUICK") == "1"


def env_int(name, default, quick):
    return int(os.environ.get(name, quick if QUICK else default))


N = env_int("BENCH_N", 200000, 3000)
ROUNDS = env_int("BENCH_ROUNDS", 9, 1)
LOADER_N = env_int("BENCH_LOADER_N", 1000000, 20000)
LOADER_ROUNDS = env_int("BENCH_LOADER_ROUNDS", 3, 1)
# Another gcbpf (e.g. a build of an earlier commit) measured in the same loader rounds.
LOADER_BASE = os.environ.get("BENCH_LOADER_BASE")
MYPY_PAIRS = env_int("BENCH_MYPY_PAIRS", 5, 1)
STATS_RUNS = env_int("BENCH_STATS_RUNS", 3, 1)
STACK_ROUNDS = env_int("BENCH_STACK_ROUNDS", 5, 1)
STACK_DEPTHS = (10, 30, 64)
PARTS = os.environ.get("BENCH_PARTS", "e2e,loader,stacks,inside,mypy" if not QUICK
                       else "e2e,loader,stacks,inside").split(",")
INSIDE_ROUNDS = env_int("BENCH_INSIDE_ROUNDS", 7, 1)


def die(msg):
    print("bench: " + msg, file=sys.stderr)
    sys.exit(1)


# --- the interpreters -----------------------------------------------------------------------

class Interp:
    def __init__(self, label, probe, exe, env, files):
        self.label, self.probe, self.exe, self.env, self.files = label, probe, exe, env, files
        self.root = os.path.dirname(files[0])
        self.usdt_bin = files[0]
        # How to run it, and the paths as it sees them (a chroot's differ).
        self.argv, self.target = [exe], TARGET
        self.text_argv = self.argv
        self.bpftrace = True
        self.files_seen, self.root_seen = files, None


def sid_copy(tmp):
    """A private copy of sid's static python3.15 (USDT) inside its chroot: it needs
    the chroot's stdlib, so it runs there, from a fresh directory of its own."""
    root = os.environ.get("GCBPF_SID_ROOT") or "/var/tmp/gcbpf-sid"
    src = os.path.join(root, "usr/bin/python3.15")
    if not os.path.exists(src):
        print("(no sid chroot with python3.15 at %s: no sid-3.15 row; tests/sid_chroot.sh "
              "builds it)" % root)
        return None
    d = tempfile.mkdtemp(prefix="gcbpf-bench.", dir=os.path.join(root, "tmp"))
    os.chmod(d, 0o755)
    atexit.register(shutil.rmtree, d, True)  # bench.py's own temporary directory is not here
    inside = "/" + os.path.relpath(d, root)
    exe = shutil.copy2(src, d)
    shutil.copy2(TARGET, d)
    it = Interp("sid-3.15 (1 probe)", "usdt", exe, {}, [exe])
    it.argv = ["chroot", root, inside + "/python3.15"]
    # The text check reads /proc/self: a proc of its own, in a mount namespace of its own.
    it.text_argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                    'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"', root,
                    inside + "/python3.15"]
    it.target = inside + "/" + os.path.basename(TARGET)
    it.files_seen, it.root_seen = [inside + "/python3.15"], inside
    it.bpftrace = False  # bookworm's bpftrace finds no USDT point in a chroot's process
    return it


def private_copies(tmp):
    """Private copies of Debian's python3.11 (USDT) and a pyenv 3.12 (uprobe)."""
    out = []
    if os.path.exists("/usr/bin/python3.11"):
        d = os.path.join(tmp, "debian-3.11")
        os.mkdir(d)
        exe = shutil.copy2("/usr/bin/python3.11", d)
        out.append(Interp("usdt (debian 3.11)", "usdt", exe, {}, [exe]))
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    for v in ("3.12", "3.11", "3.13"):
        found = sorted(glob.glob(os.path.join(root, "versions", v + ".*", "bin", "python" + v)))
        if not found:
            continue
        src = found[0]
        d = os.path.join(tmp, "pyenv-" + v)
        os.makedirs(os.path.join(d, "bin"))
        os.makedirs(os.path.join(d, "lib"))
        exe = shutil.copy2(src, os.path.join(d, "bin"))
        files, env = [exe], {}
        lib = os.path.join(os.path.dirname(os.path.dirname(src)), "lib",
                           "libpython%s.so.1.0" % v)
        if os.path.exists(lib):
            # The copy's RUNPATH names the original: LD_LIBRARY_PATH wins over RUNPATH.
            files.insert(0, shutil.copy2(lib, os.path.join(d, "lib")))
            env = {"LD_LIBRARY_PATH": os.path.join(d, "lib")}
        it = Interp("uprobe (pyenv %s)" % v, "uprobe", exe, env, files)
        it.root = d
        out.append(it)
        break
    sid = sid_copy(tmp)
    if sid:
        out.append(sid)
    paths = os.environ.get("BENCH_PATHS")
    if paths:
        out = [it for it in out if it.label.split()[0] in paths.split(",")]
    if not out:
        die("no interpreter: needs /usr/bin/python3.11, a pyenv 3.12 and/or sid's 3.15")
    return out


def penv(it):
    e = dict(os.environ)
    e.update(it.env)
    return e


def text_check(it):
    """(files the copy maps executable, {file: offsets where its text differs from disk})."""
    r = subprocess.run(it.text_argv + [it.target, "text", it.root_seen or it.root], env=penv(it),
                       capture_output=True,
                       text=True, check=True)
    j = json.loads(r.stdout)
    return j["mapped"], j["diffs"]


def verify_copy(it):
    mapped, _ = text_check(it)
    for f in it.files_seen:
        if f not in mapped:
            die("%s does not map its private copy %s (maps: %s)" % (it.exe, f, ", ".join(mapped)))
    for m in mapped:
        if re.search(r"/(python|libpython)[^/]*$", m) and not m.startswith(it.root_seen or
                                                                           it.root):
            die("%s maps %s, outside its private copy %s" % (it.exe, m, it.root))


def attached_to(path, offsets):
    """Who holds uprobes at these file offsets, as bpftool perf shows it."""
    try:
        perf = json.loads(subprocess.check_output([BPFTOOL, "perf", "show", "-j"], text=True))
    except (OSError, subprocess.CalledProcessError, ValueError):
        perf = []
    who = []
    for e in perf:
        if e.get("fd_type") in ("uprobe", "uretprobe") and e.get("offset") in offsets:
            try:
                with open("/proc/%d/comm" % e["pid"]) as f:
                    comm = f.read().strip()
            except OSError:
                comm = "?"
            who.append("pid %d (%s) prog %d %s %s+%#x" % (e["pid"], comm, e["prog_id"],
                                                       e["fd_type"], e.get("filename", "?"),
                                                       e["offset"]))
    return who


def attachments(it):
    """What else is attached to the private copy, one line per file; [] if nothing."""
    _, diffs = text_check(it)
    msg = []
    for path, offs in diffs.items():
        offs = sorted(set(offs))
        # bpftool shows the path given at attach time, not the inode: same offsets.
        who = attached_to(path, set(offs)) or ["nothing bpftool lists (uprobe_multi link?)"]
        msg.append("%s: breakpoints at file offsets %s; uprobes at those offsets: %s"
                   % (path, ", ".join("%#x" % o for o in offs[:8]), "; ".join(who)))
    return msg


WAIT_S = int(os.environ.get("BENCH_WAIT", 600))
# BENCH_ATTACHED=ignore: measure anyway (development on a shared machine); the
# output says so, and floors and ratios are then meaningless: the other
# tracer's trap is billed to untraced and traced alike, ours ride on it.
IGNORE_ATTACHED = os.environ.get("BENCH_ATTACHED") == "ignore"
DISTURBED = set()


def wait_clean(interps):
    """Returns once nothing else is attached to any copy; gives up after WAIT_S."""
    end, said = time.time() + WAIT_S, False
    while True:
        msg = [m for it in interps for m in attachments(it)]
        if not msg:
            return
        if IGNORE_ATTACHED:
            DISTURBED.update(msg)
            return
        if time.time() > end:
            die("another tracer is attached to the benchmark's private interpreter copies "
                "(it would bill every row); stop it and rerun:\n  " + "\n  ".join(msg))
        if not said:
            print("bench: waiting (up to %d s) for another tracer to detach from the private "
                  "copies:\n  %s" % (WAIT_S, "\n  ".join(msg)), file=sys.stderr)
            said = True
        time.sleep(5)


DISCARDED = [0]


class Retry(Exception):
    pass


BPFTRACE_FAILED = []  # paths whose bpftrace row was dropped, and why


def run_clean(it, *args, **kw):
    """run_one() on a copy nothing else was attached to before or after: a run
    disturbed by another tracer is thrown away and run again."""
    tries = 0
    while True:
        wait_clean([it])
        try:
            res = run_one(it, *args, **kw)
        except Retry as e:
            tries += 1
            if tries == 3:
                if args and args[0] == "bpftrace":
                    # Not ours to fix: the rows go, the reason is printed.
                    it.bpftrace = False
                    BPFTRACE_FAILED.append("%s: %s" % (it.label, e))
                    return None
                die(str(e))
            continue
        msg = attachments(it)
        if not msg or IGNORE_ATTACHED:
            DISTURBED.update(msg)
            return res
        DISCARDED[0] += 1
        if DISCARDED[0] > 100:
            die("too many runs disturbed by other tracers:\n  " + "\n  ".join(msg))
        print("bench: run thrown away, another tracer attached meanwhile:\n  %s"
              % "\n  ".join(msg), file=sys.stderr)


# --- BPF run-time statistics ----------------------------------------------------------------

class BpfStats:
    """kernel.bpf_stats_enabled for as long as held: BPF_ENABLE_STATS's fd, so the
    sysctl others may set is left alone."""

    def __enter__(self):
        libc = ctypes.CDLL(None, use_errno=True)
        attr = ctypes.create_string_buffer(16)  # union bpf_attr: enable_stats.type = 0
        self.fd = libc.syscall(321, 32, attr, 16)  # SYS_bpf, BPF_ENABLE_STATS (x86-64)
        if self.fd < 0:
            die("cannot enable BPF run-time statistics: %s" % os.strerror(ctypes.get_errno()))
        return self

    def __exit__(self, *a):
        os.close(self.fd)


def prog_ids_of(pid):
    perf = json.loads(subprocess.check_output([BPFTOOL, "perf", "show", "-j"], text=True))
    return {e["prog_id"]: e["fd_type"] for e in perf
            if e.get("pid") == pid and e.get("fd_type") in ("uprobe", "uretprobe")}


def prog_counts(ids):
    """prog id -> (name, runs, ns); bpftrace names entry and return programs alike:
    the attachment's kind then tells them apart."""
    progs = json.loads(subprocess.check_output([BPFTOOL, "prog", "show", "-j"], text=True))
    names = [p.get("name", "?") for p in progs if p["id"] in ids]
    out = {}
    for p in progs:
        if p["id"] in ids:
            name = p.get("name", "?")
            if names.count(name) > 1:
                name = "%s:%s" % (ids[p["id"]], name)
            out[p["id"]] = (name, p.get("run_cnt", 0), p.get("run_time_ns", 0))
    return out


# --- one run ----------------------------------------------------------------------------------

BPFTRACE_READY = "bench: attached"


def bpftrace_prog(it):
    # "Attaching N probes..." comes before the attachment; BEGIN runs after it.
    return 'BEGIN { printf("%s\\n"); } ' % BPFTRACE_READY + bpftrace_probes(it)


def bpftrace_probes(it):
    if it.probe == "usdt":
        b = it.usdt_bin
        return ("usdt:%s:python:gc__start { @s[tid] = nsecs } "
                "usdt:%s:python:gc__done /@s[tid]/ { @h = hist(nsecs - @s[tid]); "
                "delete(@s[tid]); }" % (b, b))
    lib = it.files[0]
    return ("uprobe:%s:gc_collect_main { @s[tid] = nsecs } "
            "uretprobe:%s:gc_collect_main /@s[tid]/ { @h = hist(nsecs - @s[tid]); "
            "delete(@s[tid]); }" % (lib, lib))


MODES = {
    # name: gcbpf arguments (None: untraced; "bpftrace": the one-liner)
    "untraced": None,
    "empty": ["--empty-probes", "-q"],
    "empty one": ["--empty-probes=one", "-q"],  # a one-trap design's floor
    "clock": ["--clock-probes", "-q"],
    "bpftrace": "bpftrace",
    "-q": ["-q"],
    "-q --stats": ["-q", "--stats"],
    "jsonl": ["-f", "jsonl", "-o", "{out}"],
    "text": ["-f", "text", "-o", "{out}"],
}
# gcbpf's probes doing nothing or only timing: what its modes are compared with.
FLOOR_MODES = ("empty", "empty one", "clock")
# Not in the e2e rows: the loader's (every collection a text line; JSONL with no
# file system below it) and the stacks part's.
EXTRA_MODES = {
    "text --all-events": ["-f", "text", "--all-events", "-o", "{out}"],
    "jsonl /dev/null": ["-f", "jsonl", "-o", "/dev/null"],
}
for _d in STACK_DEPTHS:
    EXTRA_MODES["--stacks=%d" % _d] = ["-f", "jsonl", "-o", "{out}", "--stacks=%d" % _d]


def mode_args(mode):
    return MODES[mode] if mode in MODES else EXTRA_MODES[mode]


def task_cpu_ns(pid):
    """On-CPU ns of every thread of pid (schedstat), None if gone."""
    total = 0
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                total += int(f.read().split()[0])
    except OSError:
        return None
    return total


def wait_for(path, pattern, proc, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        with open(path, errors="replace") as f:
            if re.search(pattern, f.read()):
                return True
        if proc.poll() is not None:
            return False
        time.sleep(0.01)
    return False


def run_one(it, mode, n, tmp, stats=False, syscalls=False, depth=0):
    """One target run under mode. Returns a dict: ns (per collection), collections
    (the target's, warm-up included), and with a tracer cpu_ns (its CPU from
    attached to exit), events, wall_s (release to exit), progs {name: (runs, ns)}
    with stats, syscalls {name: calls}."""
    res = {}
    target = subprocess.Popen(it.argv + [it.target, "collect", str(n), str(depth)], env=penv(it),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    tracer = perf = None
    out_log, err_log = os.path.join(tmp, "tracer.out"), os.path.join(tmp, "tracer.err")
    try:
        if target.stdout.readline().strip() != "ready":
            die("%s: the target did not start" % it.exe)
        args = mode_args(mode)
        if args is not None:
            if args == "bpftrace":
                # -p: a USDT semaphore is set in a process running already
                cmd = [BPFTRACE, "-B", "line", "-p", str(target.pid), "-e", bpftrace_prog(it)]
                ready = re.escape(BPFTRACE_READY)
                log = out_log
            else:
                cmd = [GCBPF] + [a.format(out=os.path.join(tmp, "events")) for a in args]
                cmd += ["-p", str(target.pid)]
                ready, log = r"Tracing CPython GC in PID", err_log
            with open(out_log, "w") as o, open(err_log, "w") as e:
                tracer = subprocess.Popen(cmd, stdout=o, stderr=e)
            if not wait_for(log, ready, tracer):
                with open(err_log) as f:
                    why = "%s did not attach: %s" % (" ".join(cmd), f.read().strip())
                if args == "bpftrace":
                    raise Retry(why)  # its USDT attachment by pid fails now and then
                die(why)
            if syscalls:
                perf = subprocess.Popen([PERF, "trace", "-s", "-p", str(tracer.pid), "-o",
                                         os.path.join(tmp, "perf.txt")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(1)  # perf trace attaches asynchronously
            if stats:
                ids = prog_ids_of(tracer.pid)
                before = prog_counts(ids)
            cpu0 = task_cpu_ns(tracer.pid)
        t0 = time.monotonic()
        target.stdin.write("\n")
        target.stdin.flush()
        line = target.stdout.readline()
        m = re.match(r"result (\d+) (\d+)", line)
        if not m:
            die("%s under %s: no result (%r)" % (it.exe, mode, line))
        res["ns"], res["collections"] = int(m.group(1)), int(m.group(2))
        if stats and tracer:
            after = prog_counts(ids)
            res["progs"] = {}
            for pid_, (name, cnt, ns) in after.items():
                b = before.get(pid_, (name, 0, 0))
                runs, t = res["progs"].get(name, (0, 0))
                res["progs"][name] = (runs + cnt - b[1], t + ns - b[2])
        target.stdin.write("\n")
        target.stdin.flush()
        target.wait()
        if tracer:
            status, ru = stop_and_wait(tracer, args == "bpftrace")
            tracer.returncode = status
            res["wall_s"] = time.monotonic() - t0
            res["cpu_ns"] = int((ru.ru_utime + ru.ru_stime) * 1e9) - (cpu0 or 0)
            if status:
                with open(err_log) as f:
                    why = "%s exited with status %#x: %s" % (" ".join(cmd), status, f.read())
                if args == "bpftrace":
                    raise Retry(why)  # a probe it reported attaching failed after all
                die(why)
            if args != "bpftrace":
                # text: the summary follows the events in their file
                res["events"] = summary_events(out_log) or summary_events(
                    os.path.join(tmp, "events"))
        if perf:
            perf.wait(timeout=30)
            res["syscalls"] = perf_summary(os.path.join(tmp, "perf.txt"))
    finally:
        for p in (target, tracer, perf):
            if p and p.poll() is None:
                p.kill()
                p.wait()
    return res


def stop_and_wait(p, interrupt):
    """(status, rusage) of p; bpftrace is interrupted (again until it ends: a
    SIGINT that lands while it is still setting up can be lost)."""
    while True:
        if interrupt:
            os.kill(p.pid, signal.SIGINT)
        for _ in range(500):
            pid, status, ru = os.wait4(p.pid, os.WNOHANG if interrupt else 0)
            if pid:
                p.returncode = status
                return status, ru
            time.sleep(0.01)


def summary_events(path):
    """Collections the summary counted (PID COMM GEN COUNT ... rows)."""
    n = 0
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        for line in f:
            # PID COMM [SERVICE] GEN COUNT SUM MEAN MAX
            m = re.match(r"\d+\s+\S.*?\s([012])\s+(\d+)\s+\S+\s+\S+\s+\S+$", line)
            if m:
                n += int(m.group(2))
    return n


def perf_summary(path):
    calls = {}
    try:
        with open(path) as f:
            for line in f:
                m = re.match(r"\s+(\w+)\s+(\d+)\s+\d+\s+[\d.]+", line)
                if m and m.group(1) != "syscall":
                    calls[m.group(1)] = calls.get(m.group(1), 0) + int(m.group(2))
    except OSError:
        pass
    return calls


# --- the parts ----------------------------------------------------------------------------------

def med(v):
    return statistics.median(v) if v else float("nan")


def round_ratios(v, untraced, empty, rounds):
    """Each round's added cost over its own floor (run lists are in round order), or []
    when some round lost a run or a round's floor is not above its untraced run."""
    if not (len(v) == len(untraced) == len(empty) == rounds):
        return []
    floors = [e - u for e, u in zip(empty, untraced)]
    if min(floors) <= 0:
        return []
    return [(x - u) / f for x, u, f in zip(v, untraced, floors)]


def rounds_below(v, other, rounds):
    """"k/n": in k of the n rounds, v's run was the faster; "" unless both ran in all."""
    if len(v) != rounds or len(other) != rounds:
        return ""
    return "%d/%d" % (sum(x < y for x, y in zip(v, other)), rounds)


def check_mode(what, mode):
    if mode not in MODES and mode not in EXTRA_MODES:
        die("%s: unknown mode %r; the modes are: %s"
            % (what, mode, ", ".join(list(MODES) + list(EXTRA_MODES))))


def e2e_modes():
    """The e2e rows: every mode, or untraced, the floor and BENCH_E2E_MODES."""
    modes = [m for m in MODES if m != "bpftrace" or BPFTRACE]
    chosen = os.environ.get("BENCH_E2E_MODES")
    if chosen:
        extra = [m.strip() for m in chosen.split(",") if m.strip()]
        for m in extra:
            check_mode("BENCH_E2E_MODES", m)
        modes = ["untraced", "empty"] + [m for m in extra if m not in ("untraced", "empty")
                                         and (m != "bpftrace" or BPFTRACE)]
    return modes


def e2e(interps, tmp, modes):
    res = {(it.label, m): [] for it in interps for m in modes}
    print("== e2e: %d collections x %d rounds (interleaved, order rotated), ns per "
          "gc.collect(0)" % (N, ROUNDS))
    if not BPFTRACE:
        print("(bpftrace not installed: no bpftrace row)")
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        if f.read().strip() != "0":
            print("note: kernel.bpf_stats_enabled is on (someone else's): every program "
                  "pays its accounting in these rows")
    for r in range(ROUNDS):
        for it in interps:
            for m in modes[r % len(modes):] + modes[:r % len(modes)]:
                if m == "bpftrace" and not it.bpftrace:
                    continue
                r1 = run_clean(it, m, N, tmp)
                if r1 is None:
                    res[(it.label, m)] = []  # dropped: no row from some rounds only
                else:
                    res[(it.label, m)].append(r1["ns"])
        print("  round %d/%d done" % (r + 1, ROUNDS), file=sys.stderr)
    print("%-20s %-12s %8s %15s %8s %8s %13s %9s" % ("PATH", "MODE", "MEDIAN", "MIN-MAX",
                                                       "ADDED", "/FLOOR", "ROUNDS", "<BPFTRACE"))
    for it in interps:
        us, empties = res[(it.label, "untraced")], res[(it.label, "empty")]
        u = med(us)
        floor = med(empties) - u
        for m in modes:
            if not res[(it.label, m)]:
                continue
            v = res[(it.label, m)]
            added = med(v) - u
            rounds = round_ratios(v, us, empties, ROUNDS) if m not in ("untraced", "empty") else []
            below = rounds_below(v, res.get((it.label, "bpftrace"), []), ROUNDS) \
                if m not in ("untraced", "bpftrace") + FLOOR_MODES else ""
            print("%-20s %-12s %8d %7d-%-7d %8s %8s %13s %9s" % (
                it.label, m, med(v), min(v), max(v), "" if m == "untraced" else "%d" % added,
                "" if m == "untraced" or floor <= 0 else "%.2fx" % (added / floor),
                "%.2f-%.2fx" % (min(rounds), max(rounds)) if rounds else "", below))
    print("ADDED: median minus untraced median; /FLOOR: ADDED over the empty probes' ADDED; "
          "ROUNDS: the least and most of /FLOOR\nwithin one round (its own untraced and empty "
          "runs): how far one round's ratio moves; <BPFTRACE: k/n, the mode\nwas faster than the "
          "bpftrace one-liner in k of the n rounds (blank if either missed a round).")
    for why in BPFTRACE_FAILED:
        print("no bpftrace row for %s (3 tries)" % why.strip())
    print()
    print("== per program: BPF run-time statistics (%d run%s per mode, %d collections; "
          "median ns per run; net: minus the empty program's, i.e. the accounting)"
          % (STATS_RUNS, "s" if STATS_RUNS > 1 else "", N))
    with BpfStats():
        for it in interps:
            per = {}
            for _ in range(STATS_RUNS):
                for m in modes:
                    if m == "bpftrace" and not it.bpftrace:
                        continue
                    if m == "untraced":
                        continue
                    r1 = run_clean(it, m, N, tmp, stats=True)
                    for name, (runs, ns) in (r1["progs"] if r1 else {}).items():
                        if runs:
                            per.setdefault((m, name), []).append((ns / runs, runs))
            empty = med([x for x, _ in per.get(("empty", "probe_empty"), [])])
            print("%-20s %-12s %-20s %9s %9s %9s" % ("PATH", "MODE", "PROGRAM", "RUNS", "NS/RUN",
                                                     "NET"))
            for (m, name), v in per.items():
                ns = med([x for x, _ in v])
                print("%-20s %-12s %-20s %9d %9.0f %9.0f" % (it.label, m, name, v[0][1], ns,
                                                              ns - empty))
    print()


LOADER_MODES = ("-q", "-q --stats", "text", "text --all-events", "jsonl", "jsonl /dev/null")
FILE_MODES = ("text", "text --all-events", "jsonl")  # the ones writing {out}


def write_floor(path):
    """CPU ns a plain writer spends putting as many bytes as path holds into a new
    file in 256 KiB writes: the page cache's part of writing that output, with no
    formatting and nothing read. path is removed first and the disk synced, as
    before the run that wrote it: on this VM freed memory goes back to the host
    (free page reporting) and a page taken back costs a fault there, so a writer
    that finds no freshly freed pages pays up to ten times the floor."""
    dst = path + ".floor"
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        chunk = f.read(1 << 18) or b"\n"
    for p in (path, dst):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(p)
    os.sync()
    pid = os.fork()
    if pid == 0:
        try:
            with open(dst, "wb", 0) as out:
                left = size
                while left > 0:
                    left -= out.write(chunk[:left])
        finally:
            os._exit(0)
    _, _, ru = os.wait4(pid, 0)
    os.unlink(dst)
    return int((ru.ru_utime + ru.ru_stime) * 1e9)


def loader(interps, tmp):
    global GCBPF
    it = interps[0]
    out = os.path.join(tmp, "events")
    bins = [("", GCBPF)] + ([("base ", os.path.abspath(LOADER_BASE))] if LOADER_BASE else [])
    print("== loader: gcbpf's CPU per collection, %d collections, %s (-p PID; from attached "
          "to exit, drain and summary included); %d interleaved round%s, median (min-max)%s"
          % (LOADER_N, it.label, LOADER_ROUNDS, "s" if LOADER_ROUNDS > 1 else "",
             "; base: %s" % bins[1][1] if LOADER_BASE else ""))
    print("%-23s %10s %10s %10s %14s %14s %12s" % ("MODE", "COLLECTED", "EVENTS", "CPU(ms)",
                                                  "CPU/COLL(ns)", "MIN-MAX", "FLOOR(ns)"))
    rows = [(b, m) for m in LOADER_MODES for b in bins]
    res = {(b[0], m): [] for b, m in rows}
    floors = {m: [] for m in FILE_MODES}
    mine = GCBPF
    for r in range(LOADER_ROUNDS):
        for b, m in rows[r % len(rows):] + rows[:r % len(rows)]:
            # A new file each run: truncating the last run's (hundreds of MB) is the
            # file system's work, and it would be billed to this run's gcbpf.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(out)
            os.sync()
            GCBPF = b[1]
            x = run_clean(it, m, LOADER_N, tmp)
            res[(b[0], m)].append(x)
            if m in FILE_MODES and not b[0]:
                floors[m].append(write_floor(out) / x["collections"])
    GCBPF = mine
    for b, m in rows:
        xs = res[(b[0], m)]
        v = sorted(x["cpu_ns"] / x["collections"] for x in xs)
        print("%-23s %10d %10s %10.1f %14.0f %7.0f-%-6.0f %12s" % (
            b[0] + m, xs[0]["collections"], xs[0]["events"] or "",
            med([y["cpu_ns"] for y in xs]) / 1e6, med(v), v[0], v[-1],
            "%.0f" % med(floors[m]) if m in floors and not b[0] else ""))
    print("EVENTS: counted by the pause table (none with --stats, whose table has other "
          "columns); text without --all-events prints only pauses >= 1 ms and a line a second.")
    print("FLOOR: the CPU a plain program spends writing the same bytes to a new file in 256 KiB "
          "writes, per collection: the page cache's share, which no formatter can save.")
    if not PERF:
        print("(perf not installed: no system call counts)")
        print()
        return
    print()
    print("== loader: system calls (perf trace -s on gcbpf; it slows gcbpf, not the target); "
          "epoll_wait = wakeups")
    print("%-18s %8s  %s" % ("MODE", "TRACE(s)", "calls per second of tracing (per 1000 "
                                                 "collections)"))
    for m in LOADER_MODES:
        r = run_clean(it, m, LOADER_N, tmp, syscalls=True)
        s = r["wall_s"]
        top = sorted(r["syscalls"].items(), key=lambda kv: -kv[1])[:8]
        print("%-18s %8.2f  %s" % (m, s, ", ".join(
            "%s %.0f (%.2f)" % (k, v / s, 1000.0 * v / max(r["collections"], 1))
            for k, v in top)))
    print()


def stacks(interps, tmp):
    """With BENCH_LOADER_BASE, the base binary's --stacks rows run in the same rounds
    (before/after a change of the walk)."""
    global GCBPF
    depth = max(STACK_DEPTHS) + 6
    modes = ["untraced", "jsonl"] + ["--stacks=%d" % d for d in STACK_DEPTHS]
    bins = [("", GCBPF)] + ([("base ", os.path.abspath(LOADER_BASE))] if LOADER_BASE else [])
    rows = [(b, m) for m in modes for b in (bins if m.startswith("--") else bins[:1])]
    print("== stacks: ns per gc.collect(0) %d Python frames deep, %d collections x %d rounds "
          "(interleaved, order rotated); jsonl: the plain trace, -f jsonl -o FILE%s"
          % (depth, N, STACK_ROUNDS, "; base: %s" % bins[1][1] if LOADER_BASE else ""))
    print("%-20s %-17s %8s %15s %8s %9s" % ("PATH", "MODE", "MEDIAN", "MIN-MAX", "ADDED",
                                              "STACK"))
    mine = GCBPF
    for it in interps:
        res = {(b[0], m): [] for b, m in rows}
        for r in range(STACK_ROUNDS):
            for b, m in rows[r % len(rows):] + rows[:r % len(rows)]:
                GCBPF = b[1]
                res[(b[0], m)].append(run_clean(it, m, N, tmp, depth=depth)["ns"])
        GCBPF = mine
        u, plain = med(res[("", "untraced")]), med(res[("", "jsonl")])
        for b, m in rows:
            v = res[(b[0], m)]
            print("%-20s %-17s %8d %7d-%-7d %8s %9s" % (
                it.label, b[0] + m, med(v), min(v), max(v), "" if m == "untraced" else
                "%d" % (med(v) - u), "%d" % (med(v) - plain) if m.startswith("--") else ""))
    print("ADDED: over untraced; STACK: over the plain trace (the walk, and the loader "
          "naming frames on the other CPU).")
    print("per program, BPF run-time statistics (%d interleaved run%s per mode; median ns "
          "per run):" % (STATS_RUNS, "s" if STATS_RUNS > 1 else ""))
    with BpfStats():
        for it in interps:
            per = {}
            for _ in range(STATS_RUNS):
                for b, m in rows:
                    if m == "untraced":
                        continue
                    GCBPF = b[1]
                    progs = run_clean(it, m, N, tmp, stats=True, depth=depth)["progs"]
                    for name, (runs, ns) in progs.items():
                        if runs:
                            per.setdefault(b[0] + m, {}).setdefault(name, []).append(ns / runs)
            GCBPF = mine
            for b, m in rows[1:]:
                print("%-20s %-17s %s" % (it.label, b[0] + m, ", ".join(
                    "%s %.0f" % (name, med(v))
                    for name, v in sorted(per.get(b[0] + m, {}).items()))))
    print()


INSIDE_BUSY = ("import gc, sys, time\ngc.disable()\nt = time.perf_counter_ns()\nx = 0\n"
               "for i in range(int(sys.argv[1])):\n    x += i\n"
               "print(time.perf_counter_ns() - t, flush=True)\n")
INSIDE_GC = ("import gc, sys, time\ngc.disable()\nkeep = [{'i': i} for i in range(300000)]\n"
             "end = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end:\n"
             "    gc.collect()\n")


def inside_prog_stats(gcbpf_pid):
    """(runs, ns) of the inside_sample program gcbpf_pid loaded, or None. A bpftool
    without pid iteration lists no "pids": the newest such program then."""
    progs = [p for p in json.loads(subprocess.check_output([BPFTOOL, "prog", "show", "-j"],
                                                           text=True))
             if p.get("name") == "inside_sample" and
             (not p.get("pids") or any(x.get("pid") == gcbpf_pid for x in p["pids"]))]
    if not progs:
        return None
    p = max(progs, key=lambda p: p["id"])
    return p.get("run_cnt", 0), p.get("run_time_ns", 0)


def inside_watch(cmd, secs, env=None, out=None):
    """Runs gcbpf cmd; the sampler's last (runs, ns) read while it ran."""
    g = subprocess.Popen(cmd, stdout=out or subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    last, end = None, time.monotonic() + secs + 30
    while g.poll() is None and time.monotonic() < end:
        last = inside_prog_stats(g.pid) or last
        time.sleep(0.1)
    g.wait()
    return last


def inside(interps, tmp):
    it = interps[0]
    loops = 3000000 if QUICK else 30000000
    prog = os.path.join(tmp, "inside_busy.py")
    with open(prog, "w") as f:
        f.write(INSIDE_BUSY)
    modes = [("untraced", None), ("-q", ["-q"]), ("-q --inside", ["-q", "--inside"])]
    res = {m: [] for m, _ in modes}
    print("== inside: a CPU-bound process that never collects (%d loop iterations; its own "
          "time), %d interleaved rounds, medians" % (loops, INSIDE_ROUNDS))
    for r in range(INSIDE_ROUNDS):
        for m, args in modes[r % 3:] + modes[:r % 3]:
            cmd = [it.exe, prog, str(loops)]
            if args:
                cmd = [GCBPF] + args + ["--"] + cmd
            out = subprocess.run(cmd, env=penv(it), capture_output=True, text=True)
            res[m].append(int(out.stdout.split()[-1]))
    u = med(res["untraced"])
    print("%-14s %12s %25s %8s" % ("MODE", "MEDIAN ns", "MIN-MAX", "ADDED%"))
    for m, _ in modes:
        v = res[m]
        print("%-14s %12d %12d-%-12d %8.2f" % (m, med(v), min(v), max(v), 100.0 * (med(v) - u) / u))
    with BpfStats():
        with open(os.path.join(tmp, "busy.out"), "w") as o:
            st = inside_watch([GCBPF, "-q", "--inside", "--", it.exe, prog, str(loops)], 60,
                              env=penv(it), out=o)
        if st and st[0]:
            print("sampler while it ran: %d runs, %.0f ns per run (no collection: it returns "
                  "at once)" % (st[0], st[1] / st[0]))
        gcp = os.path.join(tmp, "inside_gc.py")
        with open(gcp, "w") as f:
            f.write(INSIDE_GC)
        trace = os.path.join(tmp, "inside.jsonl")
        secs = 0.5 if QUICK else 3
        st2 = inside_watch([GCBPF, "--inside", "-f", "jsonl", "-o", trace, "--", it.exe, gcp,
                            str(secs)], secs, env=penv(it))
    samples = 0
    with open(trace) as f:
        for line in f:
            if line.startswith('{"pid"'):
                e = json.loads(line)
                samples += (e.get("inside") or {}).get("samples", 0)
    if st and st[0] and st2 and samples:
        idle = st[1] / st[0]
        busy = max(0.0, st2[1] - (st2[0] - samples) * idle) / samples
        print("in pauses: %d samples (JSONL) of %d runs; %.0f ns per sample (the program's "
              "time less its idle runs' at %.0f ns; stats read up to 0.1 s before the end)"
              % (samples, st2[0], busy, idle))
    print()


def mypy(interps, tmp):
    it = interps[0]
    src = os.path.join(tmp, "src")
    tree = "/usr/lib/python3/dist-packages/_pytest"
    if subprocess.run([it.exe, "-c", "import mypy"], env=penv(it),
                      capture_output=True).returncode or not os.path.isdir(tree):
        print("== mypy: skipped (apt-get install -y mypy python3-pytest)")
        return
    if not os.path.isdir(src):
        os.mkdir(src)
        shutil.copytree(tree, os.path.join(src, "_pytest"))
    times = os.path.join(tmp, "time")
    base = ["/usr/bin/time", "-f", "%e %U %S", "-o", times, it.exe, "-m", "mypy",
            "--no-incremental", "--cache-dir=/dev/null", "--ignore-missing-imports", "_pytest"]
    modes = {"untraced": [], "-q --stats": [GCBPF, "-q", "--stats", "--"],
             "jsonl": [GCBPF, "-f", "jsonl", "-o", os.path.join(tmp, "events"), "--"]}
    res = {m: [] for m in modes}
    print("== mypy: %s -m mypy over _pytest (%d interleaved rounds; wall and target CPU s)"
          % (it.label, MYPY_PAIRS))
    for r in range(MYPY_PAIRS):
        for m in list(modes)[r % 3:] + list(modes)[:r % 3]:
            while True:
                wait_clean([it])
                subprocess.run(modes[m] + base, cwd=src, env=penv(it),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                if not attachments(it) or IGNORE_ATTACHED:
                    break
                DISCARDED[0] += 1
            with open(times) as f:
                w, u, s = (float(x) for x in f.read().split()[-3:])
            res[m].append((w, u + s))
        print("  round %d/%d done" % (r + 1, MYPY_PAIRS), file=sys.stderr)
    uw, uc = med([w for w, _ in res["untraced"]]), med([c for _, c in res["untraced"]])
    print("%-12s %8s %8s %9s %9s" % ("MODE", "WALL", "CPU", "WALL+%", "CPU+%"))
    for m, v in res.items():
        w, c = med([x for x, _ in v]), med([y for _, y in v])
        print("%-12s %8.3f %8.3f %8.2f%% %8.2f%%   (wall %s)" % (
            m, w, c, 100 * (w / uw - 1), 100 * (c / uc - 1),
            " ".join("%.2f" % x for x, _ in v)))
    print("goal: -q --stats <= 1%, jsonl <= 2% slower")
    print()


def parts(root, n, mode):
    """scripts/bench_parts.sh: ns per run of each program, per variant build, under mode."""
    global GCBPF
    check_mode("bench_parts.sh", mode)
    if mode_args(mode) in (None, "bpftrace"):
        die("bench_parts.sh: %r runs no gcbpf programs to compare" % mode)
    names = ["as-is"] + sorted(d for d in os.listdir(root) if d != "as-is")
    per = {}
    with tempfile.TemporaryDirectory(prefix="gcbpf-bench.", dir="/var/tmp") as tmp:
        interps = private_copies(tmp)
        with BpfStats():
            for _ in range(STATS_RUNS):
                for v in names:  # interleaved: noise hits every variant alike
                    GCBPF = os.path.join(root, v, "gcbpf")
                    for it in interps:
                        r = run_clean(it, mode, n, tmp, stats=True)
                        for prog, (runs, ns) in r["progs"].items():
                            if runs:
                                per.setdefault((it.label, prog, v), []).append(ns / runs)
    print("%s, %d collections, %d interleaved runs; median ns per run, and minus "
          "the unchanged build's" % (mode, n, STATS_RUNS))
    print("%-20s %-18s %-15s %8s %8s" % ("PATH", "PROGRAM", "VARIANT", "NS/RUN", "DELTA"))
    for (label, prog, v), xs in sorted(per.items(), key=lambda kv: (kv[0][0], kv[0][1],
                                                                    names.index(kv[0][2]))):
        base = med(per.get((label, prog, "as-is"), []))
        print("%-20s %-18s %-15s %8.0f %8.0f" % (label, prog, v, med(xs), med(xs) - base))
    if DISTURBED:
        print("(other tracers were attached meanwhile: BENCH_ATTACHED=ignore)")


def main():
    if os.geteuid():
        die("needs root (BPF)")
    if len(sys.argv) in (4, 5) and sys.argv[1] == "--parts":
        return parts(sys.argv[2], int(sys.argv[3]), sys.argv[4] if len(sys.argv) == 5
                     else "-q --stats")
    if not os.access(GCBPF, os.X_OK):
        die("%s not built: run make" % GCBPF)
    modes = e2e_modes() if "e2e" in PARTS else []  # a mistyped name: said before any run
    with tempfile.TemporaryDirectory(prefix="gcbpf-bench.", dir="/var/tmp") as tmp:
        interps = private_copies(tmp)
        for it in interps:
            verify_copy(it)
        print("private copies: %s" % "; ".join(" ".join(it.files) for it in interps))
        print("load: %s (the machine may be shared: compare rows of one run only)"
              % open("/proc/loadavg").read().split(" ", 3)[:3])
        print()
        if "e2e" in PARTS:
            e2e(interps, tmp, modes)
        if "loader" in PARTS:
            loader(interps, tmp)
        if "stacks" in PARTS:
            stacks(interps, tmp)
        if "inside" in PARTS:
            inside(interps, tmp)
        if "mypy" in PARTS:
            mypy(interps, tmp)
        if DISTURBED:
            print("DISTURBED (BENCH_ATTACHED=ignore): other tracers were attached to the "
                  "copies during these runs; end-to-end rows are not comparable:\n  "
                  + "\n  ".join(sorted(DISTURBED)[:6]))
        if DISCARDED[0]:
            print("%d run(s) thrown away and rerun: another tracer attached to a copy meanwhile"
                  % DISCARDED[0])


if __name__ == "__main__":
    main()
