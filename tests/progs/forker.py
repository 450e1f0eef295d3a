"""A process that forks worker processes (multiprocessing, "fork" start
method), each with its own ground-truth recorder, for gcbpf's system-wide and
process-tree tests.  Runs on CPython 3.6 ... 3.15.

    python forker.py --truth-dir DIR [--workers 4] [--wait-file F]

1. optionally polls until --wait-file exists,
2. installs a recorder for itself (DIR/truth-PID.jsonl), makes some garbage,
3. forks --workers workers; each first drops the recorder it inherited (a
   forked child inherits the parent's gc.callbacks and gc_recorder state, whose
   records would belong to the parent), then runs gc_workload's main with its
   own truth file DIR/truth-PID.jsonl (PID = the worker's pid),
4. joins them, collects once more, uninstalls its recorder, exits 0 if every
   worker exited 0.

DIR/pids.json lists {"parent": PID, "workers": [PID, ...]} at the end.
No threads run in the parent when it forks.
"""
import argparse
import gc
import json
import multiprocessing
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gc_recorder  # noqa: E402
import gc_workload  # noqa: E402


def truth_path(d, pid):
    return os.path.join(d, "truth-%d.jsonl" % pid)


def worker(truth_dir, workload_args):
    gc_recorder.forget_inherited()
    rc = gc_workload.main(["--truth", truth_path(truth_dir, os.getpid()),
                           "--quiet"] + workload_args)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc or 0)


def make_garbage(n):
    for i in range(n):
        a = []
        b = [a]
        a.append(b)
        d = {"k": i}
        d["self"] = d


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--truth-dir", required=True)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--wait-file")
    ap.add_argument("--wait-timeout", type=float, default=60.0)
    ap.add_argument("--seconds", type=float, default=0.5,
                    help="passed to each worker's gc_workload")
    args = ap.parse_args(argv)

    if args.wait_file:
        deadline = time.time() + args.wait_timeout
        while not os.path.exists(args.wait_file):
            if time.time() > deadline:
                sys.stderr.write("forker: timed out waiting for %s\n"
                                 % args.wait_file)
                return 3
            time.sleep(0.01)

    gc.enable()
    rec = gc_recorder.install(truth_path(args.truth_dir, os.getpid()))
    make_garbage(5000)
    rec.collect(0)

    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=worker, name="gc-fork-worker-%d" % i,
                         args=(args.truth_dir,
                               ["--seconds", str(args.seconds)]))
             for i in range(args.workers)]
    for p in procs:
        p.start()
    make_garbage(5000)
    for p in procs:
        p.join()
    rec.collect(1)
    rec.collect(2)
    gc_recorder.uninstall()

    with open(os.path.join(args.truth_dir, "pids.json"), "w") as f:
        json.dump({"parent": os.getpid(),
                   "workers": [p.pid for p in procs]}, f)
    bad = [(p.pid, p.exitcode) for p in procs if p.exitcode != 0]
    if bad:
        sys.stderr.write("forker: workers failed: %r\n" % bad)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
