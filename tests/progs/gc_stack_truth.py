# -*- coding: utf-8 -*-
"""Ground truth of every collection's trigger stack, for programs that free
code while traced.  Runs on CPython 3.6 ... 3.15 (no f-strings).

As a module (tests/progs/gc_code_churn.py):
    import gc_stack_truth
    rec = gc_stack_truth.install(PATH)   # first thing, before other imports
    ...
    rec.uninstall()                      # writes the end marker

As a wrapper around a real program, installed before the program starts
(its imports are inside the window):
    python gc_stack_truth.py --truth T [--wait-file F] [--threshold N] -m MODULE [ARGS...]
    python gc_stack_truth.py --truth T [--wait-file F] [--threshold N] SCRIPT [ARGS...]
(--threshold: the first generation's threshold, for more collections.)

Output, JSON lines, each record written (os.write, O_APPEND) at the "stop"
phase of its collection, so a process that exits right after its last
collection loses nothing:
    {"begin": NS, "pid": PID, "python": "3.11.2", "tid": TID}
    {"gen", "collected", "uncollectable", "t_start", "t_stop", "tid",
     "stack": [[func, file, line], ...], "frames": N}
    {"end": NS, "pid": PID}

"stack" is what sys._getframe() shows at the "start" phase, innermost first,
the callback's own frame left out: func = co_qualname on 3.11+ (co_name
before), file = co_filename, line = f_lineno; at most MAX_FRAMES of them.
"frames" is the whole stack's length, so the comparison knows where a
trace may be cut at its DEPTH.  Times: CLOCK_MONOTONIC ns (bpf_ktime_get_ns).
"""
import gc
import json
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gc_recorder import now_ns  # noqa: E402

MAX_FRAMES = 256        # gcbpf's largest --stacks depth

if hasattr(threading, "get_native_id"):
    _native_id = threading.get_native_id
else:
    _native_id = None


def _name(code):
    return getattr(code, "co_qualname", code.co_name)


class StackTruth(object):
    def __init__(self, path):
        self.path = path
        self.count = 0
        self.begin = self.end = None
        self._cur = {}          # thread ident -> start-phase record
        self._cb = self._callback
        self._fd = -1

    def _callback(self, phase, info):
        ident = threading.get_ident()
        if phase == "start":
            f = sys._getframe(1)
            stack = []
            n = 0
            while f is not None:
                if n < MAX_FRAMES:
                    stack.append((_name(f.f_code), f.f_code.co_filename, f.f_lineno))
                n += 1
                f = f.f_back
            self._cur[ident] = (info["generation"], now_ns(),
                                _native_id() if _native_id else None, stack, n)
            return
        t_stop = now_ns()
        cur = self._cur.pop(ident, None)
        if cur is None or self._fd < 0:
            return
        line = json.dumps({"gen": cur[0], "collected": info["collected"],
                           "uncollectable": info["uncollectable"], "t_start": cur[1],
                           "t_stop": t_stop, "tid": cur[2], "stack": cur[3],
                           "frames": cur[4]})
        os.write(self._fd, (line + "\n").encode("utf-8"))
        self.count += 1

    def install(self):
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND,
                           0o644)
        was = gc.isenabled()
        gc.disable()
        gc.callbacks.append(self._cb)
        self.begin = now_ns()
        hdr = {"begin": self.begin, "pid": os.getpid(), "python": sys.version.split()[0],
               "tid": _native_id() if _native_id else None}
        os.write(self._fd, (json.dumps(hdr) + "\n").encode("utf-8"))
        if was:
            gc.enable()
        return self

    def uninstall(self):
        """Ends the window; call with every other thread done."""
        if self._fd < 0:
            return self
        was = gc.isenabled()
        gc.disable()
        self.end = now_ns()
        gc.callbacks.remove(self._cb)
        os.write(self._fd, (json.dumps({"end": self.end, "pid": os.getpid(),
                                        "count": self.count}) + "\n").encode("utf-8"))
        os.close(self._fd)
        self._fd = -1
        if was:
            gc.enable()
        return self


def install(path):
    return StackTruth(path).install()


def _wait(path):
    import time
    deadline = time.time() + 60
    while not os.path.exists(path):
        if time.time() > deadline:
            sys.stderr.write("gc_stack_truth: no %s after 60 s\n" % path)
            os._exit(3)
        time.sleep(0.01)


def main():
    """Wrapper: argv parsed by hand, so that nothing is imported before the
    recorder but what it needs itself."""
    args = sys.argv[1:]
    opts = {"--truth": None, "--wait-file": None, "--threshold": None}
    while args and args[0] in opts:
        opts[args[0]] = args[1]
        args = args[2:]
    truth, wait = opts["--truth"], opts["--wait-file"]
    if not truth or not args:
        sys.stderr.write("usage: gc_stack_truth.py --truth T [--wait-file F] "
                         "(-m MODULE | SCRIPT) [ARGS...]\n")
        return 2
    if wait:
        _wait(wait)
    if opts["--threshold"]:
        gc.set_threshold(int(opts["--threshold"]), *gc.get_threshold()[1:])
    rec = install(truth)
    status = 0
    try:
        import runpy
        if args[0] == "-m":
            sys.argv = [args[1]] + args[2:]
            runpy.run_module(args[1], run_name="__main__", alter_sys=True)
        else:
            sys.argv = args
            runpy.run_path(args[0], run_name="__main__")
    except SystemExit as e:
        status = e.code
    finally:
        rec.uninstall()
    return status


if __name__ == "__main__":
    sys.exit(main())
