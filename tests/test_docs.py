"""Every example in README.md and docs/*.md, run: the output shown must have
the shape gcbpf prints today (headers, columns, units), so examples cannot
rot.  The convention is in docs/README.md ("Examples are tested"):

- a ```console block is checked: each line starting with "$ " is a command
  (run as root, in one bash per block with `set -e`, in a scratch directory
  where tests/ is this tree's tests/, gcbpf this tree's ./gcbpf and python3
  Debian's /usr/bin/python3); the other lines are the output shown, "..."
  standing for lines left out;
- "-p NUMBER" in a command is the pid of a workload the test starts
  (gc_workload.py, about 5 s of collections);
- a ```sh, ```bash, ```shell or bare ``` block must be preceded by
  "<!-- skip: REASON -->": it is listed as skipped with that reason.  An
  unmarked one fails (say why it cannot run, or make it a console block).

Comparison: a header line (upper-case column names) must appear exactly in
the output; any other line must appear after normalising both sides:
directories dropped from paths, a number with a unit (12.5ms, 700ns) becomes
DUR, other digit runs N, histogram bars and runs of blanks one each.  A JSON
line compares by its keys in order and the types of their values (and
"type"'s value).  So numbers, pids and timings may differ; a column, a unit
or a title may not.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TESTS_DIR)
PYTHON = "/usr/bin/python3"

DOCS = ["README.md"] + sorted(
    os.path.join("docs", f) for f in os.listdir(os.path.join(REPO, "docs"))
    if f.endswith(".md"))

SKIP_RE = re.compile(r"<!--\s*skip:\s*(.*?)\s*-->")
SHELL_LANGS = {"", "sh", "bash", "shell"}


class Block:
    def __init__(self, doc, line, lang, lines, skip):
        self.doc, self.line, self.lang, self.lines, self.skip = \
            doc, line, lang, lines, skip

    @property
    def id(self):
        return "%s:%d" % (self.doc, self.line)

    def commands(self):
        return [l[2:] for l in self.lines if l.startswith("$ ")]

    def shown(self):
        return [l for l in self.lines
                if not l.startswith("$ ") and l.strip() not in ("", "...")]


def blocks_of(doc):
    """Fenced blocks of one Markdown file, with the skip marker before it."""
    out = []
    lines = open(os.path.join(REPO, doc), encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)```(\S*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        indent, lang, start = m.group(1), m.group(2), i
        body = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][len(indent):] if lines[i].startswith(indent)
                        else lines[i])
            i += 1
        i += 1
        prev = start - 1
        while prev >= 0 and not lines[prev].strip():
            prev -= 1
        sm = SKIP_RE.search(lines[prev]) if prev >= 0 else None
        out.append(Block(doc, start + 1, lang, body,
                         sm.group(1) if sm else None))
    return out


ALL = [b for d in DOCS for b in blocks_of(d)]


# ---- normalisation ---------------------------------------------------------

HEADER_RE = re.compile(r"^\s*[A-Z][A-Z0-9_()%]*(\s+[A-Z][A-Z0-9_()%]*)+\s*$")
DIRS_RE = re.compile(r"(?:~|\.{1,2})?(?:/[^\s/():,'\"\[\]]+)+/")
DUR_RE = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:ns|us|ms|s)(?![\w])")
BAR_RE = re.compile(r"\|@*\s*\|")


def is_header(line):
    return bool(HEADER_RE.match(line))


def json_shape(obj):
    if isinstance(obj, dict):
        return "{" + ",".join(
            "%s:%s" % (k, json.dumps(v) if k == "type" else json_shape(v))
            for k, v in obj.items()) + "}"
    if isinstance(obj, list):
        return "[" + ("" if not obj else json_shape(obj[0])) + "]"
    if obj is None:
        return "null"
    if isinstance(obj, bool):
        return "bool"
    if isinstance(obj, int):
        return "int"
    if isinstance(obj, float):
        return "float"
    return "str"


def shape(line):
    s = line.rstrip()
    if s.lstrip(",").startswith("{"):     # JSON lines; a Chrome trace's ",{"
        try:
            return "JSON" + json_shape(json.loads(s.lstrip(",")))
        except ValueError:
            pass
    s = DIRS_RE.sub("", s)
    s = BAR_RE.sub("|BAR|", s)
    s = DUR_RE.sub("DUR", s)
    s = re.sub(r"\d+(?:[KMGT](?![A-Za-z]))?", "N", s)    # 38M, [4K, 8K)
    return " ".join(s.split())


def test_normalise():
    """The comparison itself: what must match and what must not."""
    a = "00:01:55.612 21338   21338   python3    1    1.126ms   62  0 x.py"
    b = "09:53:33.159 3442    3442    python3    2  141.507ms   24  0 x.py"
    assert shape(a) == shape(b)
    assert shape("P50  0.001") != shape("P50  700ns")   # a unit is kept
    assert shape("12.346s") == shape("850.12us") == "DUR"
    assert shape("key (/work/x/tests/progs/a.py:120)") == \
        shape("key (/root/gcbpf/tests/progs/a.py:7)")
    assert shape("[4K, 8K)   28 |@@@@   |") == shape("[1M, 2M)  1 ||")
    assert shape('{"pid":1,"d":0.5,"s":"x","n":null}') == \
        shape('{"pid":7,"d":1.5,"s":"y","n":null}')
    assert shape('{"pid":1,"d":0.5}') != shape('{"pid":1,"e":0.5}')
    assert shape('{"type":"summary"}') != shape('{"type":"stats"}')
    assert is_header("PID     COMM   GEN    COUNT   GC(%)")
    assert not is_header("Pauses in 0.2 s of tracing:")


# ---- the checks ------------------------------------------------------------

def test_every_command_block_is_checked_or_skipped():
    """A block of commands nobody runs rots: each is a console block or says
    why it cannot run here."""
    bad = [b.id for b in ALL if b.lang in SHELL_LANGS and not b.skip]
    assert not bad, ("command blocks that are neither ```console nor marked "
                     "<!-- skip: REASON -->: %s" % ", ".join(bad))
    bad = [b.id for b in ALL if b.lang == "console" and not b.commands()
           and not b.skip]
    assert not bad, "console blocks without a '$ ' command: %s" % bad


def _workload():
    return subprocess.Popen(
        [PYTHON, os.path.join(TESTS_DIR, "progs", "gc_workload.py"),
         "--truth", os.devnull, "--seconds", "5", "--max-seconds", "8",
         "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _params():
    out = []
    for b in ALL:
        if b.lang == "console" and not b.skip:
            out.append(pytest.param(b, id=b.id))
        elif b.skip:
            out.append(pytest.param(b, id=b.id, marks=pytest.mark.skip(
                reason="%s: %s" % (b.id, b.skip))))
    return out


def run_block(block, gcbpf):
    """Run a console block's commands as the convention says: (status, output)."""
    cmds = block.commands()
    work = tempfile.mkdtemp(prefix="gcbpf-docs-")
    bindir = os.path.join(work, ".bin")
    os.mkdir(bindir)
    os.symlink(os.path.abspath(gcbpf), os.path.join(bindir, "gcbpf"))
    os.symlink(PYTHON, os.path.join(bindir, "python3"))
    os.symlink(TESTS_DIR, os.path.join(work, "tests"))
    os.symlink(os.path.join(REPO, "scripts"), os.path.join(work, "scripts"))
    target = None
    if any(re.search(r"(^|\s)-p\s+\d+", c) for c in cmds):
        target = _workload()
        time.sleep(0.3)     # its interpreter loaded (mapped) before -p
        cmds = [re.sub(r"((?:^|\s)-p\s+)\d+", r"\g<1>%d" % target.pid, c)
                for c in cmds]
    script = "set -e\n" + "\n".join(cmds) + "\n"
    env = dict(os.environ, PATH=bindir + ":/usr/sbin:/usr/bin:/sbin:/bin")
    env.pop("PYTHONPATH", None)
    try:
        p = subprocess.Popen(["bash", "-c", script], cwd=work, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             start_new_session=True)
        try:
            out, _ = p.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, _ = p.communicate()
            return -1, out.decode("utf-8", errors="replace") + \
                "\n[did not end within 40 s]"
        finally:
            try:
                os.killpg(p.pid, signal.SIGKILL)   # its background jobs
            except ProcessLookupError:
                pass
    finally:
        if target:
            target.kill()
            target.wait()
        shutil.rmtree(work, ignore_errors=True)
    return p.returncode, out.decode("utf-8", errors="replace")


@pytest.mark.parametrize("block", _params())
def test_example(block, gcbpf_bin):
    if not os.path.exists(PYTHON):
        pytest.skip("no %s" % PYTHON)
    rc, text = run_block(block, gcbpf_bin)
    assert rc == 0, "%s: exit status %d:\n%s" % (block.id, rc, text[-3000:])
    got = text.split("\n")
    headers = {l.rstrip() for l in got if is_header(l)}
    shapes = {shape(l) for l in got}
    missing = []
    for l in block.shown():
        if is_header(l):
            if l.rstrip() not in headers:
                missing.append("header  %r" % l.rstrip())
        elif shape(l) not in shapes:
            missing.append("line    %r\n  shape %r" % (l.rstrip(), shape(l)))
    assert not missing, (
        "%s: shown output that the program no longer prints:\n%s\n"
        "--- the program printed:\n%s" % (block.id, "\n".join(missing),
                                          text[-4000:]))


if __name__ == "__main__":
    # python3 tests/test_docs.py DOC:LINE ...: run those blocks and print what
    # they print, to paste as an example's output.
    for arg in sys.argv[1:]:
        for b in ALL:
            if b.id == arg:
                rc, text = run_block(b, os.path.join(REPO, "gcbpf"))
                print("==> %s (exit %d)" % (b.id, rc))
                print(text)
