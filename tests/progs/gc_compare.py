"""Workload for gcbpf compare's tests: the same fixed work, with one change
at a time.

    python gc_compare.py [--batches N] [--threshold N] [--heap N] [--freeze]
                         [--collect N]

A service's shape: --batches batches of fixed allocation work (cyclic
garbage, short-lived containers), each followed by a 20 ms sleep, so the
collections per second follow the work and the clock, not the CPU share a
busy machine gives the process. --heap N long-lived objects are built at
start-up (kept to the end); --freeze calls gc.freeze() right after (3.7+),
so full collections no longer scan them; --threshold sets gen 0's
threshold; --collect N full collections (gc.collect()) are spread over the
batches.
"""
import argparse
import gc
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=120)
    ap.add_argument("--threshold", type=int, default=0)
    ap.add_argument("--heap", type=int, default=0)
    ap.add_argument("--freeze", action="store_true")
    ap.add_argument("--collect", type=int, default=0)
    a = ap.parse_args()
    if a.threshold:
        t = gc.get_threshold()
        gc.set_threshold(a.threshold, t[1], t[2])
    heap = [{"i": i, "l": [i]} for i in range(a.heap)]
    if a.freeze:
        gc.collect()
        gc.freeze()
    every = a.batches // a.collect if a.collect else 0
    keep = []
    for batch in range(a.batches):
        for i in range(2000):
            x = []
            y = [x, {}]
            x.append(y)
        keep.append([[] for _ in range(50)])
        if len(keep) > 40:
            del keep[:20]
        if every and batch % every == every // 2:
            gc.collect()
        time.sleep(0.02)
    return len(heap)


if __name__ == "__main__":
    main()
