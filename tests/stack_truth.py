"""Strict comparison of gcbpf's trigger stacks with gc_stack_truth records.

Each collection of the truth (tests/progs/gc_stack_truth.py) is paired with
the trace's collection of the same pid in the same place of the order (both
sorted by start time; tests/compare_truth.py first proves the two lists are
the same collections: same length, gen, counts, tid, overlapping times) and
classified, to DEPTH frames:

  exact    every frame equal (func, file, line); when the truth is deeper
           than DEPTH: DEPTH frames and "stack_truncated": true
  unknown  every frame equal or unknown: {"func": null, "file": null,
           "line": null}, or the right func and file with "line": null
  cut      fewer frames than the truth has up to DEPTH, marked
           "stack_truncated" (the kernel could not read the chain further),
           or "stack_truncated" on a stack the truth says is whole
  nostack  "stack": null
  wrong    anything else: a frame naming another function, file or line, a
           frame too many, frames missing without "stack_truncated", or a
           stack cut at DEPTH that claims to be whole

The worst kind wins (wrong > cut > nostack > unknown > exact).
"""
import json

import compare_truth

EXACT, UNKNOWN, CUT, NOSTACK, WRONG = "exact", "unknown", "cut", "nostack", "wrong"
KINDS = (EXACT, UNKNOWN, CUT, NOSTACK, WRONG)


def _frame(f):
    return (f.get("func"), f.get("file"), f.get("line"))


def classify(truth_stack, truth_frames, got, truncated, depth):
    """(kind, unknown frames, why) for one collection.  truth_stack:
    [[func, file, line], ...] innermost first; truth_frames: the whole stack's
    length; got: the trace's "stack" (list of dicts, or None)."""
    if got is None:
        return NOSTACK, 0, "stack null"
    want = [tuple(f) for f in truth_stack[:depth]]
    unknown = 0
    for j, g in enumerate(got):
        g = _frame(g)
        if j >= len(want):
            return WRONG, unknown, "frame %d too many: %r" % (j, g)
        w = want[j]
        if g == w:
            continue
        if g == (None, None, None) or g == (w[0], w[1], None):
            unknown += 1
            continue
        return WRONG, unknown, "frame %d: truth %r, trace %r" % (j, w, g)
    deeper = truth_frames > depth
    if len(got) < len(want):
        if not truncated:
            return WRONG, unknown, ("%d frames, truth has %d up to depth %d, and no "
                                    "stack_truncated" % (len(got), len(want), depth))
        return CUT, unknown, "cut after %d of %d frames" % (len(got), len(want))
    if deeper and not truncated:
        return WRONG, unknown, ("%d frames at depth %d, truth has %d, and no stack_truncated"
                                % (len(got), depth, truth_frames))
    if truncated and not deeper:
        return CUT, unknown, "stack_truncated on a whole stack of %d frames" % len(got)
    return (UNKNOWN if unknown else EXACT), unknown, ""


class Summary(object):
    """Counts over any number of processes; examples of what was not exact."""

    def __init__(self, label, depth):
        self.label = label
        self.depth = depth
        self.kinds = dict((k, 0) for k in KINDS)
        self.at_depth = 0           # exact or unknown and cut at DEPTH, as it must be
        self.frames = 0             # frames compared (truth, up to DEPTH)
        self.unknown_frames = 0
        self.with_unknown = 0       # collections with an unknown frame, of any kind
        self.processes = 0
        self.examples = []

    @property
    def collections(self):
        return sum(self.kinds.values())

    def add(self, rec, ev, pid):
        kind, unk, why = classify(rec["stack"], rec.get("frames", len(rec["stack"])),
                                  ev.get("stack"), ev.get("stack_truncated"), self.depth)
        self.kinds[kind] += 1
        self.unknown_frames += unk
        self.with_unknown += unk > 0
        self.frames += min(self.depth, rec.get("frames", len(rec["stack"])))
        if kind in (EXACT, UNKNOWN) and rec.get("frames", 0) > self.depth:
            self.at_depth += 1
        if kind != EXACT and len(self.examples) < 12:
            self.examples.append((kind, pid, rec, ev, why))
        return kind

    def share(self, *kinds):
        return sum(self.kinds[k] for k in kinds) / float(max(1, self.collections))

    def line(self):
        k = self.kinds
        return ("%s: %d processes, %d collections (depth %d): %d exact (%d cut at depth), "
                "%d with unknown frames only, %d with any (%d of %d frames, %.2f%%), %d cut, "
                "%d no stack, %d wrong" % (self.label, self.processes, self.collections,
                              self.depth, k[EXACT], self.at_depth, k[UNKNOWN],
                              self.with_unknown, self.unknown_frames,
                              self.frames, 100.0 * self.unknown_frames / max(1, self.frames),
                              k[CUT], k[NOSTACK], k[WRONG]))

    def details(self):
        out = [self.line()]
        for kind, pid, rec, ev, why in self.examples:
            out.append("  %s: pid %s tid %s gen %s: %s" % (kind, pid, rec.get("tid"),
                                                        rec.get("gen"), why))
            out.append("    truth: %s" % json.dumps(rec["stack"][:self.depth],
                                                   ensure_ascii=False)[:1500])
            out.append("    trace: %s%s" % (json.dumps(ev.get("stack"), ensure_ascii=False)
                                            [:1500],
                                            " (stack_truncated)" if ev.get("stack_truncated")
                                            else ""))
        return "\n".join(out)


def add_process(summary, truth_path, events):
    """Pairs one truth file's collections with the trace's events (all
    collection events of the trace; its own pid picked here)."""
    truth = compare_truth.load_truth(truth_path)
    pid = truth["pid"]
    ok, msg = compare_truth.compare_records(truth, events, pid, check_tid=True,
                                            label=summary.label)
    if not ok:
        raise AssertionError("the collections themselves differ:\n" + msg)
    sel = compare_truth.select_events(events, pid, truth["begin"], truth["end"])
    for rec, ev in zip(truth["records"], sel):
        summary.add(rec, ev, pid)
    summary.processes += 1
    return len(sel)
