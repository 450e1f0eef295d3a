"""Ground-truth recorder for CPython garbage collections.

Runs on CPython 3.6 ... 3.15 (keep it free of walrus, f-string "=", etc.).

    import gc_recorder
    rec = gc_recorder.install("/tmp/truth.jsonl")
    ...                      # workload
    gc_recorder.uninstall()  # or rec.uninstall()

Output (JSON lines):
    {"begin": NS, "pid": PID, "python": "3.11.2", "clock": "monotonic_ns", ...}
    {"gen": 0, "collected": 12, "uncollectable": 0, "t_start": NS, "t_stop": NS,
     "tid": 1234, "explicit": false}
    ...
    {"end": NS, "pid": PID, "count": N}

All timestamps are CLOCK_MONOTONIC nanoseconds (same clock as
time.monotonic_ns() and bpf_ktime_get_ns()).

The window [begin, end] is exact: begin is read after the callback is
registered and end before it is removed (both with automatic GC disabled),
and records starting outside [begin, end] are dropped, so every collection
whose start lies in [begin, end] has exactly one record.

"explicit" is True for collections triggered by gc.collect() inside a
`with rec.explicit():` block (or rec.collect(gen)); everything else is an
automatic (threshold-triggered) collection.  This lets tests prove that the
workload really produced automatic collections of each generation.
"""
import gc
import json
import os
import sys
import threading
import time

__all__ = ["install", "uninstall", "Recorder", "now_ns", "CLOCK_NAME"]


def _make_clock():
    if hasattr(time, "monotonic_ns"):          # 3.7+
        return time.monotonic_ns, "monotonic_ns"
    # 3.6: exact nanoseconds via clock_gettime(CLOCK_MONOTONIC) through ctypes,
    # falling back to the float clock (sub-microsecond rounding error).
    try:
        import ctypes
        import ctypes.util

        class _timespec(ctypes.Structure):
            _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6",
                           use_errno=True)
        cg = libc.clock_gettime
        cg.argtypes = [ctypes.c_int, ctypes.POINTER(_timespec)]
        cg.restype = ctypes.c_int
        ts = _timespec()
        pts = ctypes.byref(ts)
        CLOCK_MONOTONIC = 1

        def _ctypes_ns():
            cg(CLOCK_MONOTONIC, pts)
            return ts.tv_sec * 1000000000 + ts.tv_nsec

        if cg(CLOCK_MONOTONIC, pts) == 0:
            # sanity: must agree with time.monotonic() to within 1 ms
            if abs(_ctypes_ns() - time.monotonic() * 1e9) < 1e6:
                return _ctypes_ns, "clock_gettime(ctypes)"
    except Exception:
        pass

    def _float_ns():
        return int(time.monotonic() * 1e9)
    return _float_ns, "monotonic_float"


now_ns, CLOCK_NAME = _make_clock()

if hasattr(threading, "get_native_id"):        # 3.8+
    _native_id = threading.get_native_id
else:
    _native_id = None

_get_ident = threading.get_ident


class _ExplicitBlock(object):
    """Context manager marking collections started by this thread as explicit."""

    def __init__(self, rec):
        self._rec = rec

    def __enter__(self):
        self._rec._explicit.add(_get_ident())
        return self

    def __exit__(self, *exc):
        self._rec._explicit.discard(_get_ident())
        return False


class Recorder(object):
    def __init__(self, path):
        self.path = path
        self.records = []          # tuples, serialised at uninstall()
        self.counts = [0, 0, 0]    # all collections per generation
        self.auto_counts = [0, 0, 0]  # automatic collections per generation
        self._explicit = set()     # thread idents inside explicit blocks
        self._cur = None
        self.begin = None
        self.end = None
        self.installed = False
        self._cb = self._callback   # keep one bound-method object

    # The callback runs with the GIL held; collections never nest, so one
    # "current" slot is enough.  Keep it cheap: no I/O, no dicts.
    def _callback(self, phase, info):
        if phase == "start":
            self._cur = (info["generation"], now_ns(),
                         _native_id() if _native_id is not None else None,
                         _get_ident() in self._explicit)
        else:
            t_stop = now_ns()
            cur = self._cur
            self._cur = None
            if cur is None:
                return
            gen = cur[0]
            self.records.append((gen, info["collected"], info["uncollectable"],
                                 cur[1], t_stop, cur[2], cur[3]))
            if 0 <= gen <= 2:
                self.counts[gen] += 1
                if not cur[3]:
                    self.auto_counts[gen] += 1

    def explicit(self):
        return _ExplicitBlock(self)

    def collect(self, generation=2):
        with self.explicit():
            return gc.collect(generation)

    def install(self):
        if self.installed:
            raise RuntimeError("recorder already installed")
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            gc.callbacks.append(self._cb)
            self.begin = now_ns()
            self.installed = True
        finally:
            if was_enabled:
                gc.enable()
        hdr = {"begin": self.begin, "pid": os.getpid(),
               "python": sys.version.split()[0],
               "implementation": sys.implementation.name,
               "executable": sys.executable,
               "clock": CLOCK_NAME,
               "thresholds": list(gc.get_threshold())}
        if _native_id is not None:
            hdr["tid"] = _native_id()
        with open(self.path, "w") as f:
            f.write(json.dumps(hdr) + "\n")
        return self

    def uninstall(self):
        if not self.installed:
            return self
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            self.end = now_ns()
            try:
                gc.callbacks.remove(self._cb)
            except ValueError:
                pass
            self.installed = False
        finally:
            if was_enabled:
                gc.enable()
        # A collection already scheduled before gc.disable() (3.12+ runs
        # automatic GC from the eval breaker) could still slip in between
        # registering the callback and reading the clock; keep exactly the
        # collections that started inside [begin, end], the same rule the
        # comparison applies to the trace.
        self.records = [r for r in self.records
                        if self.begin <= r[3] <= self.end]
        with open(self.path, "a") as f:
            for r in self.records:
                f.write(json.dumps({"gen": r[0], "collected": r[1],
                                    "uncollectable": r[2], "t_start": r[3],
                                    "t_stop": r[4], "tid": r[5],
                                    "explicit": r[6]}) + "\n")
            f.write(json.dumps({"end": self.end, "pid": os.getpid(),
                                "count": len(self.records)}) + "\n")
        return self

    def summary(self):
        return "gen0=%d gen1=%d gen2=%d (automatic: gen0=%d gen1=%d gen2=%d)" % (
            tuple(self.counts) + tuple(self.auto_counts))


_current = None
_lock = threading.Lock()


def install(path):
    """Start recording collections; returns the Recorder."""
    global _current
    with _lock:
        if _current is not None:
            raise RuntimeError("a recorder is already installed")
        _current = Recorder(path).install()
        return _current


def uninstall():
    """Stop recording and write the JSONL file; returns the Recorder."""
    global _current
    with _lock:
        rec = _current
        _current = None
    if rec is not None:
        rec.uninstall()
    return rec


def current():
    return _current


def forget_inherited():
    """In a forked child: forget the parent's recorder without writing it (the
    parent writes its own; the child records its collections anew)."""
    global _current
    rec = _current
    _current = None
    if rec is not None:
        try:
            gc.callbacks.remove(rec._cb)
        except ValueError:
            pass
        rec.installed = False
