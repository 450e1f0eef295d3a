"""Workload for gcbpf compare's tests: the same steady work for --seconds,
with one change at a time.

    python gc_compare.py [--seconds S] [--threshold N] [--heap N] [--freeze]
                         [--collect N]

--heap N long-lived objects are built at start-up (kept to the end);
--freeze calls gc.freeze() right after (3.7+), so full collections no longer
scan them; --threshold sets gen 0's threshold; --collect N full collections
(gc.collect()) are spread over the run. The work between is fixed per
iteration and timed, so two runs of the same arguments are the same
workload.
"""
import argparse
import gc
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
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
    end = time.monotonic() + a.seconds
    step = a.seconds / a.collect if a.collect else 0
    next_collect = time.monotonic() + step / 2
    keep = []
    while time.monotonic() < end:
        for i in range(200):
            x = []
            y = [x, {}]
            x.append(y)
        keep.append([[] for _ in range(5)])
        if len(keep) > 500:
            del keep[:250]
        if step and time.monotonic() >= next_collect:
            gc.collect()
            next_collect += step
    return len(heap)


if __name__ == "__main__":
    main()
