"""Benchmark helper, run by the private interpreter copies of scripts/bench.py.

  bench_target.py collect N [DEPTH]
                              "ready", waits for a line on stdin, then N
                              back-to-back gc.collect(0) (automatic GC off),
                              DEPTH Python frames deep (default: shallow),
                              prints "result NS COLLECTIONS" (mean ns per
                              collection; collections made so far, warm-up
                              included), waits for a line again and exits.
  bench_target.py text DIR    one JSON line: every file under DIR this
                              process maps executable, and per file the file
                              offsets where the mapped text differs from the
                              file (an attached uprobe writes int3 there).
"""
import gc
import json
import os
import sys
import time


def loop(n):
    for _ in range(1000):  # warm up
        gc.collect(0)
    t0 = time.perf_counter_ns()
    for _ in range(n):
        gc.collect(0)
    return time.perf_counter_ns() - t0


def deep(d, n):
    """loop(n) with d more frames below it (--stacks walks them)."""
    return loop(n) if d <= 0 else deep(d - 1, n)


def collect(n, depth):
    gc.disable()
    print("ready", flush=True)
    sys.stdin.readline()
    ns = deep(depth, n)
    print("result %d %d" % (ns // n, sum(s["collections"] for s in gc.get_stats())),
          flush=True)
    sys.stdin.readline()


def text(root):
    mapped, diffs = [], {}
    with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as mem:
        for line in maps:
            parts = line.split(None, 5)
            if len(parts) < 6 or "x" not in parts[1]:
                continue
            path = parts[5].strip()
            if not path.startswith("/"):
                continue
            mapped.append(path)
            if not path.startswith(root):
                continue
            start, end = (int(x, 16) for x in parts[0].split("-"))
            off = int(parts[2], 16)
            mem.seek(start)
            live = mem.read(end - start)
            with open(path, "rb") as f:
                f.seek(off)
                disk = f.read(end - start)
            # The last page is zero-filled past the file's end.
            disk += b"\0" * (len(live) - len(disk))
            if live != disk:
                diffs.setdefault(path, []).extend(
                    off + i for i in range(len(live)) if live[i] != disk[i])
    print(json.dumps({"mapped": mapped, "diffs": diffs}))


if __name__ == "__main__":
    if sys.argv[1] == "collect":
        collect(int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    else:
        text(sys.argv[2])
