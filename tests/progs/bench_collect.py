"""Benchmark target: N back-to-back gc.collect(0) with automatic GC off.

Writes the mean nanoseconds per collection to OUT. Used by scripts/bench.sh.
"""
import gc
import sys
import time

n = int(sys.argv[1])
out = sys.argv[2]
gc.disable()
for _ in range(1000):  # warm up
    gc.collect(0)
t0 = time.perf_counter()
for _ in range(n):
    gc.collect(0)
t1 = time.perf_counter()
with open(out, "w") as f:
    f.write("%d\n" % int((t1 - t0) * 1e9 / n))
