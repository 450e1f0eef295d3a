"""GC workload for gcbpf ground-truth tests.  Runs on CPython 3.6 ... 3.15.

    python gc_workload.py --truth T.jsonl [--wait-file F] [--seconds S] ...

1. optionally polls until --wait-file exists (the harness creates it once
   gcbpf has printed "Tracing"),
2. installs the gc_recorder (writes T.jsonl),
3. runs two worker threads that create cyclic garbage plus many short-lived
   containers and keep a growing list of survivors, so that automatic
   collections of generations 0, 1 and 2 happen (gen 2 needs
   long_lived_pending > long_lived_total/4, hence the growing survivor list),
   with a few explicit gc.collect(0)/gc.collect(1) calls from both threads,
4. creates a few uncollectable objects (legacy tp_del finalizers in cycles via
   _testcapi.with_tp_del) when _testcapi is available,
5. does explicit gc.collect(0), gc.collect(1), gc.collect(2) from the main
   thread, uninstalls the recorder and exits 0.

The workers stop once --seconds have elapsed AND at least --min-gen2
automatic gen-2 collections were observed, or at --max-seconds regardless.
"""
import argparse
import gc
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gc_recorder  # noqa: E402


class Node(object):
    __slots__ = ("peer", "payload", "__weakref__")

    def __init__(self):
        self.peer = None
        self.payload = None


class Plain(object):
    pass


def make_garbage(n):
    """n small reference cycles (only the cyclic GC can free them)."""
    for i in range(n):
        a = []
        b = [a]
        a.append(b)                  # list <-> list
        d = {"k": i}
        d["self"] = d                # self-referencing dict
        x = Node()
        y = Node()
        x.peer = y
        y.peer = x                   # slotted objects
        if i & 3 == 0:
            p = Plain()
            p.me = p                 # instance + its __dict__
        # short-lived, acyclic containers: freed by refcounting
        t = (i, [i], {"v": i})
        del t


def make_uncollectable(n):
    """Cycles with a legacy tp_del finalizer: end up in gc.garbage and are
    counted as 'uncollectable'.  Returns False if not supported."""
    try:
        import _testcapi
        with_tp_del = _testcapi.with_tp_del
    except Exception:
        return False

    @with_tp_del
    class Legacy(object):
        _gc_workload_legacy = True

        def __tp_del__(self):
            pass

    for _ in range(n):
        a = Legacy()
        b = [a]
        a.b = b
    return True


def worker(idx, args, rec, survivors, lock, state, t0):
    rounds = 0
    explicit_done = 0
    while True:
        make_garbage(args.batch)
        # long-lived survivors: they are moved into gen 2 by gen-1
        # collections and grow long_lived_pending.
        keep = [[idx, rounds, j] for j in range(args.survivors)]
        with lock:
            survivors.append(keep)
        rounds += 1
        if rounds % args.explicit_every == 0 and explicit_done < args.explicit_max:
            rec.collect(explicit_done % 2)     # gc.collect(0) / gc.collect(1)
            explicit_done += 1
        if rounds % 16 == 0:
            elapsed = time.time() - t0
            if state["stop"]:
                break
            if elapsed >= args.max_seconds:
                state["stop"] = True
                state["reason"] = "max-seconds"
                break
            if (elapsed >= args.seconds
                    and rec.auto_counts[2] >= args.min_gen2
                    and rec.auto_counts[1] >= args.min_gen1
                    and rec.auto_counts[0] >= args.min_gen0):
                state["stop"] = True
                state["reason"] = "targets reached"
                break
    state["rounds"][idx] = rounds


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--truth", required=True, help="ground-truth JSONL output")
    ap.add_argument("--wait-file", help="poll until this file exists first")
    ap.add_argument("--wait-timeout", type=float, default=60.0)
    ap.add_argument("--seconds", type=float, default=1.0,
                    help="minimum run time of the workers (default 1.0)")
    ap.add_argument("--max-seconds", type=float, default=15.0,
                    help="hard limit on worker run time (default 15)")
    ap.add_argument("--min-gen0", type=int, default=20)
    ap.add_argument("--min-gen1", type=int, default=3)
    ap.add_argument("--min-gen2", type=int, default=2,
                    help="automatic gen-2 collections to wait for (default 2)")
    ap.add_argument("--batch", type=int, default=100,
                    help="cycles created per round (default 100)")
    ap.add_argument("--survivors", type=int, default=60,
                    help="surviving containers kept per round (default 60)")
    ap.add_argument("--explicit-every", type=int, default=200,
                    help="rounds between explicit gc.collect(0|1) per thread")
    ap.add_argument("--explicit-max", type=int, default=4)
    ap.add_argument("--uncollectable", type=int, default=3,
                    help="uncollectable cycles to create (0 = none)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)

    if args.wait_file:
        deadline = time.time() + args.wait_timeout
        while not os.path.exists(args.wait_file):
            if time.time() > deadline:
                sys.stderr.write("gc_workload: timed out waiting for %s\n"
                                 % args.wait_file)
                return 3
            time.sleep(0.01)

    gc.enable()
    rec = gc_recorder.install(args.truth)

    survivors = []
    lock = threading.Lock()
    state = {"stop": False, "reason": None, "rounds": [0, 0]}
    t0 = time.time()
    threads = [threading.Thread(target=worker, name="gc-worker-%d" % i,
                                args=(i, args, rec, survivors, lock, state, t0))
               for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    unc = False
    if args.uncollectable > 0:
        unc = make_uncollectable(args.uncollectable)
    rec.collect(0)
    rec.collect(1)
    rec.collect(2)                   # picks up the uncollectable cycles
    elapsed = time.time() - t0

    gc_recorder.uninstall()

    if not args.quiet:
        sys.stderr.write(
            "gc_workload: python %s pid %d: %d collections in %.2fs (%s), "
            "%s, survivors=%d, rounds=%s, uncollectable=%s\n"
            % (sys.version.split()[0], os.getpid(), len(rec.records), elapsed,
               state["reason"], rec.summary(),
               sum(len(s) for s in survivors), state["rounds"],
               sum(r[2] for r in rec.records) if unc else "n/a"))
    # Break the uncollectable cycles so that they are not found again at
    # interpreter shutdown (debug builds warn about gc.garbage at exit).
    for obj in gc.garbage:
        if getattr(obj, "_gc_workload_legacy", False):
            try:
                del obj.b
            except AttributeError:
                pass
    del gc.garbage[:]
    return 0


if __name__ == "__main__":
    sys.exit(main())
