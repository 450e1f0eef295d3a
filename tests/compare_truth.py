#!/usr/bin/python3
"""Compare a gc_recorder ground-truth file with a gcbpf JSONL trace.

    compare_truth.py TRUTH.jsonl TRACE.jsonl --pid PID [--check-tid] [--strict]

Truth (written by tests/progs/gc_recorder.py):
    {"begin": NS, "pid": PID, ...}                       window start marker
    {"gen", "collected", "uncollectable", "t_start", "t_stop", "tid", ...}
    {"end": NS, ...}                                     window end marker

Trace (gcbpf -f jsonl): one object per collection with pid, tid, gen,
collected, uncollectable, ts_start, ts_stop, ...  Objects whose "type" key is
present and not "gc" (e.g. {"type": "lost"}, {"type": "summary"}) are ignored.

Rules: trace events of PID whose ts_start lies within [begin, end] are sorted
by ts_start, truth records by t_start; both lists must have the same length
and, element by element, equal gen, collected and uncollectable, and each
traced [ts_start, ts_stop] must overlap the true [t_start, t_stop].

Optional checks: --check-tid (trace tid == truth tid where the truth knows
it, i.e. Python 3.8+), --strict (also: gen in 0..2, ts_stop >= ts_start,
duration_ns == ts_stop - ts_start when present).

Exit status 0 on match, 1 on mismatch, 2 on unusable input.
Importable: compare(truth_path, trace_path, pid, ...) -> (ok, message).
"""
from __future__ import print_function

import argparse
import json
import sys

FIELDS = ("gen", "collected", "uncollectable")
CONTEXT = 3


class InputError(Exception):
    pass


def _read_jsonl(path, what):
    out = []
    try:
        f = open(path)
    except (IOError, OSError) as e:
        raise InputError("cannot open %s file %s: %s" % (what, path, e))
    with f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except ValueError as e:
                raise InputError("%s:%d: invalid JSON (%s): %r"
                                 % (path, lineno, e, line[:200]))
            if not isinstance(obj, dict):
                raise InputError("%s:%d: not a JSON object: %r"
                                 % (path, lineno, line[:200]))
            out.append(obj)
    return out


def load_truth(path):
    """Returns dict(begin, end, pid, python, records=[...] sorted by t_start)."""
    objs = _read_jsonl(path, "truth")
    begin = end = None
    records = []
    for o in objs:
        if "begin" in o:
            begin = o
        elif "end" in o:
            end = o
        elif "gen" in o and "t_start" in o:
            records.append(o)
    if begin is None:
        raise InputError("truth file %s has no {\"begin\": ...} marker" % path)
    if end is None:
        raise InputError("truth file %s has no {\"end\": ...} marker "
                         "(did the workload finish / call uninstall()?)" % path)
    records.sort(key=lambda r: r["t_start"])
    return {"begin": begin["begin"], "end": end["end"], "pid": begin.get("pid"),
            "python": begin.get("python"), "header": begin, "records": records}


def is_gc_event(o):
    t = o.get("type")
    return t is None or t == "gc"


def load_trace(path):
    """All collection events of the trace (non-"gc" typed lines dropped)."""
    return [o for o in _read_jsonl(path, "trace") if is_gc_event(o)]


def select_events(events, pid, begin, end, tolerance_ns=0):
    sel = [e for e in events
           if e.get("pid") == pid and isinstance(e.get("ts_start"), int)
           and begin - tolerance_ns <= e["ts_start"] <= end + tolerance_ns]
    sel.sort(key=lambda e: e["ts_start"])
    return sel


def _fmt_truth(r, base):
    if r is None:
        return "-"
    return ("gen=%s collected=%s uncollectable=%s t=[%+.3f, %+.3f]ms tid=%s%s"
            % (r.get("gen"), r.get("collected"), r.get("uncollectable"),
               (r["t_start"] - base) / 1e6, (r["t_stop"] - base) / 1e6,
               r.get("tid"), " explicit" if r.get("explicit") else ""))


def _fmt_trace(e, base):
    if e is None:
        return "-"

    def rel(k):
        v = e.get(k)
        return "%+.3f" % ((v - base) / 1e6) if isinstance(v, int) else repr(v)
    return ("gen=%s collected=%s uncollectable=%s ts=[%s, %s]ms tid=%s probe=%s"
            % (e.get("gen"), e.get("collected"), e.get("uncollectable"),
               rel("ts_start"), rel("ts_stop"), e.get("tid"), e.get("probe")))


def _pair_problems(r, e, check_tid, strict, tolerance_ns):
    """List of human-readable problems for truth record r vs trace event e."""
    probs = []
    for k in FIELDS:
        if r.get(k) != e.get(k):
            probs.append("%s: truth %r != trace %r" % (k, r.get(k), e.get(k)))
    ts, tp = e.get("ts_start"), e.get("ts_stop")
    if not isinstance(ts, int) or not isinstance(tp, int):
        probs.append("trace ts_start/ts_stop missing or not integers")
    else:
        if not (ts <= r["t_stop"] + tolerance_ns
                and tp >= r["t_start"] - tolerance_ns):
            probs.append("no overlap: trace [%d, %d] vs truth [%d, %d] "
                         "(trace starts %+.3fms after truth start)"
                         % (ts, tp, r["t_start"], r["t_stop"],
                            (ts - r["t_start"]) / 1e6))
        if strict:
            if tp < ts:
                probs.append("trace ts_stop < ts_start")
            dn = e.get("duration_ns")
            if dn is not None and dn != tp - ts:
                probs.append("trace duration_ns %r != ts_stop-ts_start %d"
                             % (dn, tp - ts))
    if strict and e.get("gen") not in (0, 1, 2):
        probs.append("trace gen %r not in 0..2" % (e.get("gen"),))
    if check_tid and r.get("tid") is not None and e.get("tid") != r.get("tid"):
        probs.append("tid: truth %r != trace %r" % (r.get("tid"), e.get("tid")))
    return probs


def _gen_counts(records):
    c = [0, 0, 0]
    for r in records:
        g = r.get("gen")
        if g in (0, 1, 2):
            c[g] += 1
    return c


def compare_records(truth, events, pid, check_tid=False, strict=False,
                    tolerance_ns=0, label=None):
    """truth: dict from load_truth(); events: list from load_trace().
    Returns (ok, message)."""
    begin, end = truth["begin"], truth["end"]
    recs = truth["records"]
    all_pid = [e for e in events if e.get("pid") == pid]
    sel = select_events(events, pid, begin, end, tolerance_ns)
    who = "pid %s" % pid + (" [%s]" % label if label else "")
    outside = len(all_pid) - len(sel)
    extra = (" (%d trace events of this pid outside the window ignored)"
             % outside) if outside else ""

    bad = None
    n = min(len(recs), len(sel))
    for i in range(n):
        probs = _pair_problems(recs[i], sel[i], check_tid, strict, tolerance_ns)
        if probs:
            bad = (i, probs)
            break
    if bad is None and len(recs) == len(sel):
        if not recs:
            return (False, "%s: no collections in the truth window; nothing "
                    "compared (the workload did not produce any?)%s"
                    % (who, extra))
        c = _gen_counts(recs)
        return (True, "%s: %d collections match (gen0=%d gen1=%d gen2=%d)%s"
                % (who, len(recs), c[0], c[1], c[2], extra))

    lines = []
    if len(recs) != len(sel):
        lines.append("%s: MISMATCH: truth has %d collections, trace has %d "
                     "in the window [%d, %d] (%.3f ms)%s"
                     % (who, len(recs), len(sel), begin, end,
                        (end - begin) / 1e6, extra))
        tc, ec = _gen_counts(recs), _gen_counts(sel)
        lines.append("  per gen: truth gen0=%d gen1=%d gen2=%d | "
                     "trace gen0=%d gen1=%d gen2=%d"
                     % (tc[0], tc[1], tc[2], ec[0], ec[1], ec[2]))
    if bad is None:
        i = n
        lines.append("  first mismatch at index %d: %s" % (
            i, "trace has extra events" if len(sel) > len(recs)
            else "trace is missing events"))
    else:
        i, probs = bad
        lines.append("%s: MISMATCH at index %d: %s" % (who, i, "; ".join(probs)))
        # Hints: an event dropped / an extra event at i?
        if i + 1 < len(recs) and not _pair_problems(
                recs[i + 1], sel[i], False, False, tolerance_ns):
            lines.append("  hint: trace[%d] matches truth[%d] -> truth[%d] "
                         "looks missing from the trace" % (i, i + 1, i))
        elif i + 1 < len(sel) and not _pair_problems(
                recs[i], sel[i + 1], False, False, tolerance_ns):
            lines.append("  hint: trace[%d] matches truth[%d] -> trace[%d] "
                         "looks like an extra event" % (i + 1, i, i))
    lines.append("  truth[%d]: %s" % (i, json.dumps(recs[i]) if i < len(recs)
                                      else "-"))
    lines.append("  trace[%d]: %s" % (i, json.dumps(sel[i], sort_keys=True)
                                      if i < len(sel) else "-"))
    lines.append("  context (times relative to window begin):")
    lo, hi = max(0, i - CONTEXT), min(max(len(recs), len(sel)), i + CONTEXT + 1)
    for j in range(lo, hi):
        r = recs[j] if j < len(recs) else None
        e = sel[j] if j < len(sel) else None
        mark = ">>" if j == i else "  "
        lines.append("  %s %4d truth: %s" % (mark, j, _fmt_truth(r, begin)))
        lines.append("  %s %4s trace: %s" % (mark, "", _fmt_trace(e, begin)))
    return False, "\n".join(lines)


def compare(truth_path, trace_path, pid=None, check_tid=False, strict=False,
            tolerance_ns=0, label=None):
    """Returns (ok, message).  pid defaults to the pid in the begin marker."""
    try:
        truth = load_truth(truth_path)
        events = load_trace(trace_path)
    except InputError as e:
        return False, str(e)
    if pid is None:
        pid = truth["pid"]
        if pid is None:
            return False, "no --pid given and the truth file records none"
    return compare_records(truth, events, pid, check_tid=check_tid,
                           strict=strict, tolerance_ns=tolerance_ns, label=label)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Compare gc_recorder ground truth with a gcbpf JSONL trace")
    ap.add_argument("truth")
    ap.add_argument("trace")
    ap.add_argument("--pid", type=int,
                    help="pid to compare (default: the pid in the truth file)")
    ap.add_argument("--check-tid", action="store_true",
                    help="also require trace tid == truth tid (3.8+ truth)")
    ap.add_argument("--strict", action="store_true",
                    help="also sanity-check gen range and duration_ns")
    ap.add_argument("--tolerance-ns", type=int, default=0,
                    help="slack for window membership and overlap (default 0)")
    args = ap.parse_args(argv)
    try:
        truth = load_truth(args.truth)
        events = load_trace(args.trace)
    except InputError as e:
        print("compare_truth: %s" % e, file=sys.stderr)
        return 2
    pid = args.pid if args.pid is not None else truth["pid"]
    if args.pid is not None and truth["pid"] is not None and \
            truth["pid"] != args.pid:
        print("compare_truth: warning: --pid %d but truth was recorded by "
              "pid %d" % (args.pid, truth["pid"]), file=sys.stderr)
    ok, msg = compare_records(truth, events, pid, check_tid=args.check_tid,
                              strict=args.strict,
                              tolerance_ns=args.tolerance_ns)
    print(msg)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
