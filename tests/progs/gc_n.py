"""Deterministic GC target for the output tests.  Runs on CPython 3.6+.

    python gc_n.py N [--ready F] [--go F] [--counts F] [--hold F]

Disables automatic collection (then creates --ready), optionally waits until
file --go exists,
then makes cyclic garbage and calls gc.collect(i % 3) N times, with the
collections each generation really did (gc.callbacks) written as JSON to
--counts; then, with --hold, waits until file F exists before exiting (so
the process stays up for a scrape).
"""
import argparse
import gc
import json
import os
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int)
    ap.add_argument("--ready")
    ap.add_argument("--go")
    ap.add_argument("--counts")
    ap.add_argument("--hold")
    a = ap.parse_args()
    gc.disable()
    counts = {0: 0, 1: 0, 2: 0}
    collected = [0]
    if a.ready:
        open(a.ready, "w").close()

    def cb(phase, info):
        if phase == "stop":
            counts[info["generation"]] += 1
            collected[0] += info["collected"]
    while a.go and not os.path.exists(a.go):
        time.sleep(0.02)
    gc.callbacks.append(cb)
    for i in range(a.n):
        for _ in range(50 * (i % 7)):
            x = []
            x.append(x)
        gc.collect(i % 3)
    gc.callbacks.remove(cb)
    if a.counts:
        with open(a.counts + ".tmp", "w") as f:
            json.dump({"pid": os.getpid(), "gen": [counts[0], counts[1], counts[2]],
                       "collected": collected[0]}, f)
        os.rename(a.counts + ".tmp", a.counts)
    while a.hold and not os.path.exists(a.hold):
        time.sleep(0.05)


if __name__ == "__main__":
    main()
