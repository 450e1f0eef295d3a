"""Output streams (issue 9, item 2): machine formats stay valid whatever else
is asked, and in launch mode gcbpf never writes into the command's stdout.

Real runs of gcbpf against Debian's python3.11: every JSON output is parsed
whole (-f chrome) or line by line (-f jsonl), with -q, --stats, -i and --hist,
to a file and to stdout; the launched command's stdout is compared byte for
byte with the same command run without gcbpf.
"""
import json
import os
import subprocess

import pytest

PY311 = "/usr/bin/python3.11"
# Collections for about 2.5 s, so that -i 1 reports at least twice.
SLOW = ("import gc, time\n"
        "end = time.monotonic() + 2.5\n"
        "while time.monotonic() < end:\n"
        "    x = [[] for _ in range(2000)]\n"
        "    for a, b in zip(x, x[1:]): a.append(b)\n"
        "    del x\n"
        "    gc.collect(0)\n"
        "    time.sleep(0.01)\n")
EXTRAS = [[], ["-q"], ["--stats"], ["--stats", "-i", "1"], ["--hist", "-q"],
          ["--stats", "--hist", "-i", "1", "-q"]]


def _need_py311():
    if not os.access(PY311, os.X_OK):
        pytest.skip("%s missing" % PY311)


def _parse(fmt, text):
    """Every byte of text must be the format: JSON lines, or one document."""
    assert text, "no output"
    if fmt == "chrome":
        doc = json.loads(text)
        return [e for e in doc["traceEvents"] if e["ph"] == "X"]
    assert text.endswith("\n"), text[-200:]
    rows = [json.loads(line) for line in text.splitlines()]
    assert rows[-1]["type"] == "counters", rows[-1]
    return [r for r in rows if "type" not in r]


def _check_records(fmt, extra, text):
    events = _parse(fmt, text)
    if "-q" in extra:
        assert events == [], "-q wrote %d events" % len(events)
    else:
        assert len(events) >= 20, "too few collections: %d" % len(events)
    if fmt == "jsonl":
        rows = [json.loads(line) for line in text.splitlines()]
        stats = [r for r in rows if r.get("type") == "stats"]
        assert bool(stats) == ("--stats" in extra), stats[:3]
        if "-i" in extra:
            assert any(r["interval"] for r in stats), stats[:3]
        assert [r for r in rows if r.get("type") == "summary"], "no summary record"


@pytest.mark.needs_root
@pytest.mark.parametrize("fmt", ["jsonl", "chrome"])
@pytest.mark.parametrize("extra", EXTRAS, ids=lambda e: "_".join(e) or "plain")
def test_machine_file_is_valid(gcbpf_bin, tmp_path, fmt, extra):
    """-o FILE in launch mode: the file is the format and nothing else; the
    tables go to stderr, and stdout is the command's alone (here: empty)."""
    _need_py311()
    out = tmp_path / "out"
    p = subprocess.run([gcbpf_bin] + extra + ["-f", fmt, "-o", str(out), "--", PY311, "-c",
                        SLOW], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "", "gcbpf wrote into the command's stdout: %r" % p.stdout[:300]
    _check_records(fmt, extra, out.read_text())
    assert "COUNT" in p.stderr, "no pause table on stderr: %s" % p.stderr
    if "--hist" in extra:
        assert "@pause_ns[gen 0]" in p.stderr, p.stderr


@pytest.mark.needs_root
@pytest.mark.parametrize("fmt", ["jsonl", "chrome"])
@pytest.mark.parametrize("extra", EXTRAS, ids=lambda e: "_".join(e) or "plain")
def test_machine_stdout_is_valid(gcbpf_bin, tmp_path, fmt, extra):
    """-p PID with the events on stdout: stdout is the format alone, every
    human line (banner, table, histograms) is on stderr."""
    _need_py311()
    go = tmp_path / "go"
    target = subprocess.Popen([PY311, "-c", "import os, time\n"
                               "while not os.path.exists(%r): time.sleep(0.01)\n" % str(go)
                               + SLOW])
    try:
        g = subprocess.Popen([gcbpf_bin] + extra + ["-f", fmt, "-p", str(target.pid)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             universal_newlines=True)
        line = g.stderr.readline()
        assert "Tracing" in line, line
        go.write_text("go")
        out, err = g.communicate(timeout=120)
    finally:
        target.kill()
        target.wait()
    assert g.returncode == 0, err
    _check_records(fmt, extra, out)
    assert "COUNT" in err, "no pause table on stderr: %s" % err


@pytest.mark.needs_root
@pytest.mark.parametrize("extra", [[], ["-f", "jsonl"], ["-f", "chrome"], ["--stats", "-q"],
                                   ["--hist", "-i", "1"], ["-v"]],
                         ids=lambda e: "_".join(e).strip("-") or "text")
def test_launch_stdout_is_the_commands(gcbpf_bin, tmp_path, extra):
    """The launched command's stdout is byte-identical with and without
    gcbpf: events and tables go to stderr (as strace and perf do)."""
    _need_py311()
    # deterministic output, interleaved with collections of every generation
    cmd = [PY311, "-c", "import gc, sys\n"
           "for i in range(3000):\n"
           "    x = [[] for _ in range(50)]\n"
           "    x[0].append(x)\n"
           "    print('line %d %s' % (i, 'x' * (i % 70)))\n"
           "    if i % 100 == 0: gc.collect(i % 3)\n"
           "sys.stdout.flush()\n"]
    plain = subprocess.run(cmd, stdout=subprocess.PIPE, timeout=120).stdout
    assert plain.count(b"\n") == 3000, plain[:200]
    p = subprocess.run([gcbpf_bin] + extra + ["--"] + cmd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    assert p.stdout == plain, "stdout differs: %r" % p.stdout[:300]
    assert b"Tracing" in p.stderr, p.stderr[:300]
