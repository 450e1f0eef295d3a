"""Ground truth for gcbpf --inside (tests/test_inside.py): collections whose
time is known to go to Python code the collector runs, or to none.

    gc_inside.py del|weakref|plain --truth FILE

del:     each gc.collect() frees cycles whose __del__ busy-waits BUSY_NS of CPU,
         beside a heap of BALLAST dicts the collector traverses: the process
         measures its own share (the busy-waits' CPU time over the CPU time of the
         pauses gc.callbacks saw; CPU time, as CPU-clock samples count it).
weakref: the same with weakref callbacks busy-waiting (the referents in cycles).
plain:   a full collection over millions of dicts and instances, nothing freed,
         no finalizer: the time is the collector's own (traversal).
The truth file: {"share": ..., "busy_ns": ..., "pause_ns": ..., "windows": [[start,
stop] of each timed collection, CLOCK_MONOTONIC ns],
"file": this file, "lines": [first, last] of the busy-waiting function}.
"""
import gc
import json
import sys
import time
import weakref

BUSY_NS = 2_000_000
BALLAST = 300_000
ROUNDS = 10
PER_ROUND = 8

busy = 0


def spin():
    # CPU time, the thread's: what CPU-clock samples estimate, whatever else the
    # machine runs (wall time would count the time the thread waited for a CPU)
    global busy
    t0 = time.thread_time_ns()
    end = t0 + BUSY_NS
    while time.thread_time_ns() < end:
        pass
    busy += time.thread_time_ns() - t0


class Finalized:
    def __init__(self):
        self.me = self

    def __del__(self):
        spin()


class Plain:
    def __init__(self):
        self.me = self


def on_dead(ref):
    spin()


pause = 0       # the thread's CPU time in the timed collections
started = [0, 0]
windows = []    # [start, stop] of each timed collection, CLOCK_MONOTONIC (gcbpf's clock)


def timer(phase, info):
    global pause
    if phase == "start":
        started[:] = [time.monotonic_ns(), time.thread_time_ns()]
    else:
        pause += time.thread_time_ns() - started[1]
        windows.append([started[0], time.monotonic_ns()])


def main():
    mode, truth = sys.argv[1], sys.argv[sys.argv.index("--truth") + 1]
    gc.disable()
    refs = []
    if mode == "plain":
        keep = [{"i": i} for i in range(600_000)] + [Plain() for _ in range(200_000)]
        gc.collect()
        gc.callbacks.append(timer)
        for _ in range(5):
            gc.collect()
        del keep
    else:
        ballast = [{"i": i} for i in range(BALLAST)]
        gc.collect()
        gc.callbacks.append(timer)
        for _ in range(ROUNDS):
            for _ in range(PER_ROUND):
                if mode == "del":
                    Finalized()
                else:
                    p = Plain()
                    refs.append(weakref.ref(p, on_dead))
                    del p
            gc.collect()
            refs.clear()
        del ballast
    gc.callbacks.remove(timer)
    target = Finalized.__del__ if mode == "del" else on_dead
    first = target.__code__.co_firstlineno
    out = {"share": busy / pause if pause else 0.0, "busy_ns": busy, "pause_ns": pause,
           "windows": windows, "file": __file__,
           # what the frame is named: co_qualname on 3.11+, co_name before
           "func": getattr(target.__code__, "co_qualname", target.__code__.co_name),
           "lines": [first, first + 2]}
    with open(truth, "w") as f:
        json.dump(out, f)


main()
