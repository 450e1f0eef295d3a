# -*- coding: utf-8 -*-
"""GC workload whose collections happen in many kinds of Python frames, with
the stack of each collection recorded by gc.callbacks (ground truth for
gcbpf --stacks).  Runs on CPython 3.6 ... 3.15.

    python gc_stack_workload.py --truth T.jsonl [--wait-file F] [--rounds N]

Truth: the gc_recorder format ({"begin"}, one record per collection, {"end"})
where each record also has "stack": [[func, file, line], ...], innermost
first, as sys._getframe() shows it from the callback at the "start" phase:
func is co_qualname on 3.11+ (co_name before), file co_filename, line
f_lineno.  The callback's own frame is not part of it.

Collections are triggered (low thresholds) in: methods, recursion deeper than
any --stacks depth (RECURSION), generators, comprehensions, Python called back
from C (sorted(key=...)), functions with non-ASCII names (latin-1, UCS-2 and
UCS-4 code points), two threads at once, and explicit gc.collect().
"""
import argparse
import gc
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gc_recorder import now_ns  # noqa: E402

RECURSION = 80          # frames: deeper than gcbpf's default depth of 64
MAX_TRUTH_FRAMES = 300  # more than the deepest stack here, so truth is whole

if hasattr(threading, "get_native_id"):
    _native_id = threading.get_native_id
else:
    _native_id = None


def _name(code):
    return getattr(code, "co_qualname", code.co_name)


class StackRecorder(object):
    def __init__(self, path):
        self.path = path
        self.records = []
        self._cur = None
        self._cb = self._callback

    def _callback(self, phase, info):
        if phase == "start":
            stack = []
            f = sys._getframe(1)
            while f is not None and len(stack) < MAX_TRUTH_FRAMES:
                stack.append((_name(f.f_code), f.f_code.co_filename, f.f_lineno))
                f = f.f_back
            self._cur = (info["generation"], now_ns(),
                         _native_id() if _native_id else None, stack)
        else:
            cur, self._cur = self._cur, None
            if cur is not None:
                self.records.append((cur[0], info["collected"], info["uncollectable"],
                                     cur[1], now_ns(), cur[2], cur[3]))

    def install(self):
        gc.disable()
        gc.callbacks.append(self._cb)
        self.begin = now_ns()
        gc.enable()
        with open(self.path, "w") as f:
            f.write(json.dumps({"begin": self.begin, "pid": os.getpid(),
                                "python": sys.version.split()[0]}) + "\n")

    def uninstall(self):
        gc.disable()
        self.end = now_ns()
        gc.callbacks.remove(self._cb)
        recs = [r for r in self.records if self.begin <= r[3] <= self.end]
        with open(self.path, "a") as f:
            for r in recs:
                f.write(json.dumps({"gen": r[0], "collected": r[1], "uncollectable": r[2],
                                    "t_start": r[3], "t_stop": r[4], "tid": r[5],
                                    "stack": r[6]}) + "\n")
            f.write(json.dumps({"end": self.end, "pid": os.getpid(),
                                "count": len(recs)}) + "\n")
        return recs


def garbage(n):
    for i in range(n):
        a = []
        b = [a]
        a.append(b)


class Worker(object):
    def method(self, n):
        garbage(n)

    def recurse(self, depth, n):
        if depth:
            return self.recurse(depth - 1, n)
        garbage(n)
        return 0


def generator(n):
    for i in range(n):
        a = [i]
        a.append(a)
        garbage(2)
        yield a


def comprehension(n):
    return [[j, [j]] for j in range(n)]


def key(x):
    a = [x]
    a.append(a)
    garbage(2)
    return x


def größe(n):           # latin-1 (one byte per character, not ASCII)
    garbage(n)


def 関数(n):            # UCS-2
    garbage(n)


def 𠀀(n):              # UCS-4
    garbage(n)


def one_round(w, n):
    w.method(n)
    w.recurse(RECURSION, n)
    for _ in generator(n):
        pass
    comprehension(n)
    sorted(range(n), key=key)
    größe(n)
    関数(n)
    𠀀(n)


def run(rounds, n):
    w = Worker()
    for _ in range(rounds):
        one_round(w, n)
    gc.collect(0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--truth", required=True)
    ap.add_argument("--wait-file")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--batch", type=int, default=150)
    ap.add_argument("--linger", type=float, default=1.5,
                    help="seconds to stay alive at the end, so that a tracer can "
                    "still read the names of the last collections' frames")
    args = ap.parse_args()
    if args.wait_file:
        deadline = time.time() + 60
        while not os.path.exists(args.wait_file):
            if time.time() > deadline:
                return 3
            time.sleep(0.01)
    gc.set_threshold(100, 5, 5)
    rec = StackRecorder(args.truth)
    rec.install()
    threads = [threading.Thread(target=run, args=(args.rounds, args.batch))
               for _ in range(2)]
    for t in threads:
        t.start()
    run(args.rounds, args.batch)
    for t in threads:
        t.join()
    gc.collect()
    recs = rec.uninstall()
    sys.stderr.write("gc_stack_workload: python %s pid %d: %d collections\n"
                     % (sys.version.split()[0], os.getpid(), len(recs)))
    time.sleep(args.linger)
    return 0


if __name__ == "__main__":
    sys.exit(main())
