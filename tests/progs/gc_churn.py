"""Allocation churn under a low gen-0 threshold, for the --advice example in
docs/outputs.md: many gen-0 collections that free almost nothing.

    python gc_churn.py [SECONDS]     (default 1)
"""
import gc
import sys
import time


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    gc.set_threshold(777, 13, 17)
    keep = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        keep.append([None] * 2)
        if len(keep) > 200000:
            keep = []


if __name__ == "__main__":
    main()
