"""A process whose long-lived heap grows linearly, for tests/test_growth.py.

After start-up it freezes what it built (gc.freeze()), then adds STEP lists per
step and runs a full collection after each. Its own truth, in the JSON file
argv[1]: per full collection the pause gc.callbacks saw (start to stop) and
len(gc.get_objects()) taken just before it, and gc.get_freeze_count() right
after the freeze and at the end. Exits with os._exit (no shutdown
collections). Works on 3.6+ (no f-strings).

    python growth_workload.py TRUTH.json [STEPS STEP_OBJECTS FROZEN WAIT_S]
"""
import gc
import json
import os
import sys
import time

truth_path = sys.argv[1]
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 20
step = int(sys.argv[3]) if len(sys.argv) > 3 else 40000
frozen_n = int(sys.argv[4]) if len(sys.argv) > 4 else 30000
wait_s = float(sys.argv[5]) if len(sys.argv) > 5 else 2.5

gc.disable()
startup = [[i] for i in range(frozen_n)]
gc.collect()
has_freeze = hasattr(gc, "freeze")
if has_freeze:
    gc.freeze()
frozen_after = gc.get_freeze_count() if has_freeze else None
t_frozen = time.monotonic()

clock = getattr(time, "perf_counter_ns", None)
if clock is None:
    clock = lambda: int(time.perf_counter() * 1e9)
pauses = []
started = [0]


def cb(phase, info):
    if info["generation"] != 2:
        return
    if phase == "start":
        started[0] = clock()
    else:
        pauses.append(clock() - started[0])


heap = []
objects = []
gc.callbacks.append(cb)
for _ in range(steps):
    heap.append([[i] for i in range(step)])
    objects.append(len(gc.get_objects()))
    gc.collect()
gc.callbacks.remove(cb)

left = wait_s - (time.monotonic() - t_frozen)
while left > 0:
    gc.collect(0)
    time.sleep(min(left, 0.05))
    left = wait_s - (time.monotonic() - t_frozen)
with open(truth_path, "w") as f:
    json.dump({"pauses_ns": pauses, "objects": objects, "frozen_after": frozen_after,
               "frozen_end": gc.get_freeze_count() if has_freeze else None,
               "pid": os.getpid()}, f)
os._exit(0)
