"""A launch-mode command for gcbpf's signal tests.  Runs on CPython 3.6+.

    python signalled.py --truth T.jsonl --signals S.txt --ready R [--after N]
                        [--linger SECONDS] [--exit CODE] [--forever]

Records ground truth (gc_recorder), creates R, then does gc.collect(0) every
10 ms until it receives SIGINT or SIGTERM (each one received is appended to
S as its number), then N more collections (what a cut-off trace would miss),
lingers (so that a second, duplicate signal would be counted), and exits
with CODE.  --forever: never ends by itself (for gcbpf's second signal).
"""
import argparse
import gc
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gc_recorder  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--truth", required=True)
ap.add_argument("--signals", required=True)
ap.add_argument("--ready", required=True)
ap.add_argument("--after", type=int, default=50)
ap.add_argument("--linger", type=float, default=1.0)
ap.add_argument("--exit", type=int, default=3)
ap.add_argument("--forever", action="store_true")
args = ap.parse_args()

got = []


def on_signal(sig, frame):
    got.append(sig)
    with open(args.signals, "a") as f:
        f.write("%d\n" % sig)


signal.signal(signal.SIGINT, on_signal)
signal.signal(signal.SIGTERM, on_signal)
gc.disable()
rec = gc_recorder.install(args.truth)
open(args.ready, "w").close()
deadline = time.time() + 60
while (not got or args.forever) and time.time() < deadline:
    rec.collect(0)
    time.sleep(0.01)
for _ in range(args.after):
    rec.collect(0)
time.sleep(args.linger)
rec.collect(0)
gc_recorder.uninstall()
sys.exit(args.exit)
