"""Workloads under which a copy of an interpreter's GC statistics kept between
collections (gcbpf's per-interpreter copy) goes stale, each with ground truth
(gc_recorder) for every interpreter and process image.  CPython 3.6 ... 3.15.

    python gc_stale.py SCENARIO --dir DIR [--wait-file F]

Every truth file is DIR/truth-*.jsonl; DIR/done.json names them with the pid
and interpreter id they belong to: [{"truth": PATH, "pid": P, "iid": I}, ...]
(iid None: the main interpreter).  Scenarios:

  threads    8 threads collect in turn (a lock passes the turn), automatic and
             explicit collections of every generation
  fork       collections, fork, collections in parent and child at once
  exec       collections, then exec of the same interpreter binary in the same
             pid (same GC state address on a non-PIE executable), collections
  attach     collections run in a loop from the start; the recorder window
             opens when --wait-file appears (gcbpf attached meanwhile)
  comm       the process renames itself between phases (prctl): a tracer
             filtering on the name misses the collections in between; one
             recorder per named phase (DIR/truth-on-K.jsonl)
  subinterp  subinterpreters created, collected in (each with its own
             recorder) and destroyed, 4 times, the main one collecting between
"""
import gc
import json
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gc_recorder  # noqa: E402


def garbage(n):
    for i in range(n):
        a = []
        b = [a]
        a.append(b)
        d = {"k": i}
        d["self"] = d


def collections(rec, rounds=30):
    """Automatic collections of generations 0 and 1 (and 2 now and then),
    plus explicit ones of every generation."""
    keep = []
    for i in range(rounds):
        garbage(3000)
        keep.append([[] for _ in range(50)])
        rec.collect(i % 3)
    del keep


def wait_for(path):
    if path:
        while not os.path.exists(path):
            time.sleep(0.01)


def done(d, items):
    with open(os.path.join(d, "done.json"), "w") as f:
        json.dump(items, f)


def truth(d, name):
    return os.path.join(d, "truth-%s.jsonl" % name)


def threads(d):
    rec = gc_recorder.install(truth(d, "main"))
    turn = threading.Condition()
    state = {"next": 0}
    n = 8

    def worker(k):
        for r in range(12):
            with turn:
                while state["next"] != k:
                    turn.wait()
            garbage(2000)
            rec.collect((k + r) % 3)
            with turn:
                state["next"] = (k + 1) % n
                turn.notify_all()

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    gc_recorder.uninstall()
    return [{"truth": truth(d, "main"), "pid": os.getpid(), "iid": None}]


def fork(d):
    rec = gc_recorder.install(truth(d, "parent"))
    collections(rec, 10)
    pid = os.fork()
    if pid == 0:
        gc_recorder.forget_inherited()
        crec = gc_recorder.install(truth(d, "child-%d" % os.getpid()))
        collections(crec, 20)
        gc_recorder.uninstall()
        os._exit(0)
    collections(rec, 20)
    _, status = os.waitpid(pid, 0)
    gc_recorder.uninstall()
    if status:
        sys.exit("child failed: %d" % status)
    return [{"truth": truth(d, "parent"), "pid": os.getpid(), "iid": None},
            {"truth": truth(d, "child-%d" % pid), "pid": pid, "iid": None}]


def exec_(d, stage):
    name = "exec%d" % stage
    rec = gc_recorder.install(truth(d, name))
    collections(rec, 20)
    gc_recorder.uninstall()
    items = [{"truth": truth(d, "exec%d" % s), "pid": os.getpid(), "iid": None}
             for s in range(stage + 1)]
    if stage == 0:
        sys.stdout.flush()
        os.execv(sys.executable, [sys.executable, os.path.abspath(__file__), "exec",
                                  "--dir", d, "--stage", "1"])
    return items


def attach(d, wait_file):
    # A collection every few ms from the start, so gcbpf attaches amid them.
    keep = []
    while not os.path.exists(wait_file):
        garbage(500)
        gc.collect(0)
    time.sleep(0.2)     # still collecting: the first ones seen have no copy
    rec = gc_recorder.install(truth(d, "main"))
    for i in range(60):
        garbage(3000)
        keep.append([[] for _ in range(50)])
        if i % 7 == 0:
            rec.collect(i % 3)
    gc_recorder.uninstall()
    return [{"truth": truth(d, "main"), "pid": os.getpid(), "iid": None}]


def comm(d):
    import ctypes
    libc = ctypes.CDLL(None)

    def name(n):
        libc.prctl(15, ctypes.c_char_p(n), 0, 0, 0)     # PR_SET_NAME

    items = []
    for k in range(4):
        name(b"gcstale-on")
        path = truth(d, "on-%d" % k)
        rec = gc_recorder.install(path)
        collections(rec, 6)
        gc_recorder.uninstall()
        items.append({"truth": path, "pid": os.getpid(), "iid": None})
        name(b"gcstale-off")
        collections(gc_recorder.Recorder(os.devnull), 4)
    return items


SUB_CODE = r"""
import sys
sys.path.insert(0, %(here)r)
import gc, gc_recorder, gc_stale
rec = gc_recorder.install(%(truth)r)
gc_stale.collections(rec, 15)
gc_recorder.uninstall()
"""


def subinterp(d):
    try:
        import _interpreters as xi          # 3.13+
        run = xi.exec
    except ImportError:
        import _xxsubinterpreters as xi     # 3.8 - 3.12
        run = xi.run_string
    rec = gc_recorder.install(truth(d, "main"))
    items = []
    for k in range(4):
        collections(rec, 5)
        iid = xi.create()
        iid_n = int(iid if not isinstance(iid, tuple) else iid[0])
        path = truth(d, "sub-%d" % iid_n)
        err = run(iid, SUB_CODE % {"here": HERE, "truth": path})
        if err:
            sys.exit("subinterpreter %d failed: %r" % (iid_n, err))
        xi.destroy(iid)
        items.append({"truth": path, "pid": os.getpid(), "iid": iid_n})
    collections(rec, 5)
    gc_recorder.uninstall()
    return [{"truth": truth(d, "main"), "pid": os.getpid(), "iid": 0}] + items


def main(argv):
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--wait-file")
    ap.add_argument("--stage", type=int, default=0)
    a = ap.parse_args(argv)
    if a.scenario != "attach":
        wait_for(a.wait_file)
    if a.scenario == "threads":
        items = threads(a.dir)
    elif a.scenario == "fork":
        items = fork(a.dir)
    elif a.scenario == "exec":
        items = exec_(a.dir, a.stage)
    elif a.scenario == "attach":
        items = attach(a.dir, a.wait_file)
    elif a.scenario == "comm":
        items = comm(a.dir)
    elif a.scenario == "subinterp":
        items = subinterp(a.dir)
    else:
        sys.exit("unknown scenario " + a.scenario)
    done(a.dir, items)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
