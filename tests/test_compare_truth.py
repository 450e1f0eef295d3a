"""Unit tests for compare_truth.py against fake traces derived from truth
files (no root, no gcbpf needed)."""
import copy
import json
import os
import subprocess
import sys

import pytest

from conftest import TESTS_DIR, WORKLOAD
import compare_truth

COMPARE = os.path.join(TESTS_DIR, "compare_truth.py")
PID = 4242
BEGIN = 1000000000000


def synthetic_truth(n=40):
    """A plausible truth file: n collections, mixed generations."""
    recs = []
    t = BEGIN + 50000
    for i in range(n):
        gen = 2 if i % 20 == 19 else (1 if i % 10 == 9 else 0)
        dur = 20000 + 1000 * gen * 50
        recs.append({"gen": gen, "collected": (i * 37) % 500,
                     "uncollectable": 3 if i == 7 else 0,
                     "t_start": t, "t_stop": t + dur,
                     "tid": PID + (i % 2), "explicit": False})
        t += dur + 300000
    return {"begin": BEGIN, "end": t + 1000, "pid": PID, "records": recs}


def write_truth(path, truth):
    with open(str(path), "w") as f:
        f.write(json.dumps({"begin": truth["begin"], "pid": truth["pid"],
                            "python": "3.11.2"}) + "\n")
        for r in truth["records"]:
            f.write(json.dumps(r) + "\n")
        f.write(json.dumps({"end": truth["end"], "pid": truth["pid"],
                            "count": len(truth["records"])}) + "\n")


def fake_trace(truth, pid=None, noise=True, with_type=False):
    """Events as gcbpf would emit them for the truth records: probe inside
    the callback window (ts_start a bit after t_start, ts_stop a bit before
    t_stop), plus (if noise) events outside the window, of other pids, and
    non-event lines."""
    pid = truth["pid"] if pid is None else pid
    ev = []
    for r in truth["records"]:
        ts = r["t_start"] + 2000
        tp = max(ts + 1, r["t_stop"] - 2000)
        e = {"pid": pid, "tid": r["tid"], "comm": "python3.11", "iid": 0,
             "gen": r["gen"], "reason": "heap", "ts_start": ts, "ts_stop": tp,
             "duration_ns": tp - ts, "duration": (tp - ts) / 1e6,
             "collected": r["collected"],
             "uncollectable": r["uncollectable"], "heap_size": 1234,
             "collections": 1, "python": "3.11.2", "probe": "usdt"}
        if with_type:
            e["type"] = "gc"
        ev.append(e)
    if noise:
        def other(ts, p=pid, gen=0):
            return {"pid": p, "tid": p, "gen": gen, "collected": 99,
                    "uncollectable": 0, "ts_start": ts, "ts_stop": ts + 10,
                    "duration_ns": 10, "probe": "usdt"}
        ev.insert(0, other(truth["begin"] - 5000, gen=2))   # startup
        ev.append(other(truth["end"] + 5000, gen=2))        # shutdown
        ev.append(other(truth["records"][3]["t_start"] + 5, p=pid + 1))
        ev.append({"type": "lost", "count": 0})
        ev.append({"type": "summary", "events": len(ev)})
        ev[5], ev[6] = ev[6], ev[5]                          # unsorted
    return ev


def write_trace(path, events):
    with open(str(path), "w") as f:
        for e in events:
            f.write(json.dumps(e) + "\n")


@pytest.fixture
def files(tmp_path):
    truth = synthetic_truth()
    tp, ep = tmp_path / "truth.jsonl", tmp_path / "trace.jsonl"
    write_truth(tp, truth)
    return truth, tp, ep


def run(truth, events, ep, tp, **kw):
    write_trace(ep, events)
    return compare_truth.compare(str(tp), str(ep), truth["pid"], **kw)


def test_identical_passes(files):
    truth, tp, ep = files
    ok, msg = run(truth, fake_trace(truth), ep, tp, check_tid=True,
                  strict=True)
    assert ok, msg
    assert msg.startswith("pid %d: 40 collections match (gen0=36 gen1=2 "
                          "gen2=2)" % PID), msg


def test_type_gc_events_accepted(files):
    truth, tp, ep = files
    ok, msg = run(truth, fake_trace(truth, with_type=True), ep, tp)
    assert ok, msg


def test_drop_one_fails(files):
    truth, tp, ep = files
    ev = fake_trace(truth, noise=False)
    del ev[17]
    ok, msg = run(truth, ev, ep, tp)
    assert not ok
    assert "truth has 40 collections, trace has 39" in msg, msg
    assert "MISMATCH at index 17" in msg, msg
    assert "truth[17] looks missing" in msg, msg


def test_drop_last_fails(files):
    truth, tp, ep = files
    ev = fake_trace(truth, noise=False)[:-1]
    ok, msg = run(truth, ev, ep, tp)
    assert not ok
    assert "first mismatch at index 39: trace is missing events" in msg, msg


def test_extra_event_fails(files):
    truth, tp, ep = files
    ev = fake_trace(truth, noise=False)
    extra = copy.deepcopy(ev[5])
    extra["ts_start"] += 100000
    extra["ts_stop"] += 100000
    ev.append(extra)
    ok, msg = run(truth, ev, ep, tp)
    assert not ok
    assert "trace has 41" in msg, msg


def test_changed_gen_fails(files):
    truth, tp, ep = files
    ev = fake_trace(truth)
    target = [e for e in ev if e.get("pid") == PID and
              truth["begin"] <= e.get("ts_start", 0) <= truth["end"]]
    target[9]["gen"] = 2
    ok, msg = run(truth, ev, ep, tp)
    assert not ok
    assert "MISMATCH at index 9: gen: truth 1 != trace 2" in msg, msg
    assert ">>    9 truth: gen=1" in msg, msg


def test_changed_counts_fail(files):
    truth, tp, ep = files
    for key, idx in (("collected", 0), ("uncollectable", 7)):
        ev = fake_trace(truth, noise=False)
        ev[idx][key] += 1
        ok, msg = run(truth, ev, ep, tp)
        assert not ok, key
        assert "MISMATCH at index %d: %s:" % (idx, key) in msg, msg


def test_no_overlap_fails(files):
    truth, tp, ep = files
    ev = fake_trace(truth, noise=False)
    # move event 12 entirely after its truth interval (still before 13)
    r = truth["records"][12]
    ev[12]["ts_start"] = r["t_stop"] + 1000
    ev[12]["ts_stop"] = r["t_stop"] + 2000
    ev[12]["duration_ns"] = 1000
    ok, msg = run(truth, ev, ep, tp)
    assert not ok
    assert "MISMATCH at index 12: no overlap" in msg, msg


def test_touching_intervals_overlap(files):
    truth, tp, ep = files
    ev = fake_trace(truth, noise=False)
    r = truth["records"][4]
    ev[4]["ts_start"] = r["t_stop"]           # touches the end: counts
    ev[4]["ts_stop"] = r["t_stop"] + 10
    ev[4]["duration_ns"] = 10
    ok, msg = run(truth, ev, ep, tp)
    assert ok, msg


def test_tid_check(files):
    truth, tp, ep = files
    ev = fake_trace(truth, noise=False)
    ev[3]["tid"] = 1
    ok, msg = run(truth, ev, ep, tp)
    assert ok, msg
    ok, msg = run(truth, ev, ep, tp, check_tid=True)
    assert not ok
    assert "tid: truth" in msg, msg


def test_strict_duration(files):
    truth, tp, ep = files
    ev = fake_trace(truth, noise=False)
    ev[2]["duration_ns"] += 1
    assert run(truth, ev, ep, tp)[0]
    ok, msg = run(truth, ev, ep, tp, strict=True)
    assert not ok and "duration_ns" in msg, msg


def test_wrong_pid_fails(files):
    truth, tp, ep = files
    write_trace(ep, fake_trace(truth))
    ok, msg = compare_truth.compare(str(tp), str(ep), PID + 7)
    assert not ok
    assert "truth has 40 collections, trace has 0" in msg, msg


def test_empty_truth_fails(tmp_path):
    truth = synthetic_truth(0)
    tp, ep = tmp_path / "t.jsonl", tmp_path / "e.jsonl"
    write_truth(tp, truth)
    write_trace(ep, [])
    ok, msg = compare_truth.compare(str(tp), str(ep), PID)
    assert not ok and "no collections" in msg, msg


def test_missing_end_marker(tmp_path, files):
    truth, tp, ep = files
    lines = open(str(tp)).read().splitlines()[:-1]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    write_trace(ep, fake_trace(truth))
    ok, msg = compare_truth.compare(str(bad), str(ep), PID)
    assert not ok and "no {\"end\"" in msg, msg


def test_cli_exit_codes(files):
    truth, tp, ep = files
    write_trace(ep, fake_trace(truth))
    py = sys.executable
    p = subprocess.run([py, COMPARE, str(tp), str(ep), "--pid", str(PID),
                        "--check-tid", "--strict"], stdout=subprocess.PIPE,
                       universal_newlines=True)
    assert p.returncode == 0, p.stdout
    assert "40 collections match" in p.stdout
    # pid defaults to the truth's pid
    p = subprocess.run([py, COMPARE, str(tp), str(ep)],
                       stdout=subprocess.PIPE, universal_newlines=True)
    assert p.returncode == 0, p.stdout
    ev = fake_trace(truth)
    ev.pop(10)
    write_trace(ep, ev)
    p = subprocess.run([py, COMPARE, str(tp), str(ep), "--pid", str(PID)],
                       stdout=subprocess.PIPE, universal_newlines=True)
    assert p.returncode == 1 and "MISMATCH" in p.stdout, p.stdout
    p = subprocess.run([py, COMPARE, str(tp), str(ep) + ".nope", "--pid",
                        str(PID)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True)
    assert p.returncode == 2, p.stderr


def test_real_truth_file(tmp_path):
    """A truth file from an actual workload run (this interpreter) against a
    fake trace derived from it; then the same two corruptions."""
    tp, ep = tmp_path / "truth.jsonl", tmp_path / "trace.jsonl"
    p = subprocess.run([sys.executable, WORKLOAD, "--truth", str(tp),
                        "--seconds", "0.3", "--min-gen2", "1"],
                       stderr=subprocess.PIPE, universal_newlines=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    truth = compare_truth.load_truth(str(tp))
    n = len(truth["records"])
    assert n > 20
    ev = fake_trace(truth)
    write_trace(ep, ev)
    ok, msg = compare_truth.compare(str(tp), str(ep), None, check_tid=True,
                                    strict=True)
    assert ok, msg
    assert "%d collections match" % n in msg
    evs = fake_trace(truth, noise=False)
    evs.pop(n // 2)
    write_trace(ep, evs)
    assert not compare_truth.compare(str(tp), str(ep), truth["pid"])[0]
    evs = fake_trace(truth, noise=False)
    evs[n // 3]["gen"] = (evs[n // 3]["gen"] + 1) % 3
    write_trace(ep, evs)
    ok, msg = compare_truth.compare(str(tp), str(ep), truth["pid"])
    assert not ok and "MISMATCH at index %d: gen" % (n // 3) in msg, msg
