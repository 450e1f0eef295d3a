# -*- coding: utf-8 -*-
"""GC workload that frees code while traced, with every collection's trigger
stack recorded from the first line on (tests/progs/gc_stack_truth.py): ground
truth for gcbpf --stacks where names must outlive the code.  CPython 3.6+.

    python gc_code_churn.py --truth T [--wait-file F] [--scale N] [--threads K]
                       [--children K]

Collections happen (threshold 60) in:
  - imports inside the window: stdlib module bodies (asyncio, json, ...),
    generated modules whose module and class bodies allocate, lazy imports
    inside functions, importlib.reload of a module rewritten with another
    line layout (its old code objects die);
  - generated functions compiled, run and dropped in a loop, each with its
    own name, file name and line layout (freed code memory is reused for
    the next one);
  - K threads doing the same at once;
  - generators, async generators and coroutines under asyncio;
  - K short-lived child processes (the same script, --child) that record
    their own truth (T.child-N) and exit with os._exit right after their
    last collection.
Generated files go to the directory of T (which must be writable and, in a
chroot, inside it).
"""
import gc
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gc_stack_truth  # noqa: E402


def _opts(argv):
    o = {"--truth": None, "--wait-file": None, "--scale": "1", "--threads": "4",
         "--children": "3", "--child": None}
    i = 0
    while i < len(argv):
        if argv[i] not in o:
            sys.stderr.write("gc_code_churn: unknown option %r\n" % argv[i])
            sys.exit(2)
        o[argv[i]] = argv[i + 1]
        i += 2
    return o


OPTS = _opts(sys.argv[1:])
if OPTS["--wait-file"]:
    gc_stack_truth._wait(OPTS["--wait-file"])
gc.set_threshold(60, 5, 5)
REC = gc_stack_truth.install(OPTS["--truth"])
WORKDIR = os.path.dirname(os.path.abspath(OPTS["--truth"]))
SCALE = int(OPTS["--scale"])

# Imports inside the window: their module and class bodies run now and their
# code objects die when the import is done.
import importlib  # noqa: E402
import json  # noqa: E402,F401
if OPTS["--child"] is None:     # children stay short
    import threading  # noqa: E402
    import subprocess  # noqa: E402
    import asyncio  # noqa: E402
    if sys.version_info >= (3, 7):
        import dataclasses  # noqa: E402,F401

sys.path.insert(0, WORKDIR)
TAG = "p%d" % os.getpid()


def garbage(n):
    for _ in range(n):
        a = []
        a.append(a)


MODULE = '''%(pad)s
def garbage(n):
    for _ in range(n):
        a = []
        a.append(a)


garbage(%(n)d)%(pad)s
CYCLES = [[] for _ in range(%(n)d)]
for _c in CYCLES:
    _c.append(_c)


class Allocating%(i)d(object):%(pad2)s
    garbage(%(n)d)
    table = dict((k, [k]) for k in range(%(n)d))

    def method(self, n):
        garbage(n)
        return [lambda x=x: x for x in range(n)]


def use(n):
    for f in Allocating%(i)d().method(n):
        f()
    garbage(n)
'''

LAZY = '''
def garbage(n):
    for _ in range(n):
        a = []
        a.append(a)


garbage(%(n)d)


def work(n):%(pad)s
    garbage(n)
'''


def write_module(name, i, n, layout):
    pad = "\n" * (layout % 5) + "# layout %d\n" % layout
    with open(os.path.join(WORKDIR, name + ".py"), "w") as f:
        f.write(MODULE % {"pad": pad, "pad2": "\n" * (layout % 3), "n": n, "i": i})


def imports(n):
    """Module and class bodies, lazy imports in functions, reloads."""
    mods = []
    for i in range(3 * SCALE):
        name = "churn_mod_%s_%d" % (TAG, i)
        write_module(name, i, n, i)
        mods.append(importlib.import_module(name))
        mods[-1].use(n // 4)
    for i in range(2 * SCALE):
        with open(os.path.join(WORKDIR, "churn_lazy_%s_%d.py" % (TAG, i)), "w") as f:
            f.write(LAZY % {"pad": "\n" * i, "n": n})
        # A lazy import in a function of its own, compiled for it.
        src = "def lazy_%d(n):\n    import churn_lazy_%s_%d as m\n    m.work(n)\n" % (
            i, TAG, i)
        ns = {}
        exec(compile(src, "<lazy-%d>" % i, "exec"), ns)
        ns["lazy_%d" % i](n)
    importlib.invalidate_caches()
    for r in range(3 * SCALE):
        m = mods[r % len(mods)]
        write_module(m.__name__, r % len(mods), n, 7 + r)
        m = importlib.reload(m)
        m.use(n // 4)
    del mods


GENERATED = '''%(pad)s
def %(name)s(n):
    out = []%(pad2)s
    for i in range(n):
        a = [i]
        a.append(a)%(pad3)s
        out.append(lambda: a)
    return len([f() for f in out])
'''


def generated(count, n, who):
    """Functions compiled, run and dropped: each code object dies before the
    next is made, so its memory is reused."""
    for i in range(count):
        name = "gen_%s_%d" % (who, i)
        src = GENERATED % {"name": name, "pad": "\n" * (i % 4),
                           "pad2": "\n" * (i % 3), "pad3": "\n    # x" * (i % 2)}
        ns = {}
        exec(compile(src, "<churn %s>" % name, "exec"), ns)
        ns[name](n)
        del ns


def gen_values(n):
    for i in range(n):
        a = [i]
        a.append(a)
        garbage(2)
        yield a


def delegating(n):
    yield from gen_values(n)


async def agen(n):
    for i in range(n):
        garbage(8)
        await asyncio.sleep(0)
        yield i


async def coro(k, n):
    total = 0
    async for v in agen(n):
        total += v
        garbage(2)
    for _ in delegating(n):
        garbage(4)
        await asyncio.sleep(0)
    return total + k


async def tasks(n):
    return await asyncio.gather(*[coro(k, n) for k in range(4)])


def async_work(n):
    if hasattr(asyncio, "run"):
        return asyncio.run(tasks(n))
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(tasks(n))
    finally:
        loop.close()


def thread_body(k, n):
    generated(8 * SCALE, n, "t%d" % k)
    for _ in delegating(n):
        pass


def children(count):
    procs = []
    for c in range(count):
        path = "%s.child-%d" % (OPTS["--truth"], c)
        procs.append(subprocess.Popen([sys.executable, os.path.abspath(__file__),
                                       "--truth", path, "--child", str(c)]))
    for p in procs:
        if p.wait() != 0:
            raise SystemExit("gc_code_churn: child %d exited with %d" % (p.pid, p.returncode))


def child(c):
    """Short-lived: a little of everything, then gone right after the last
    collection (the end marker is the only thing written after it)."""
    generated(6, 150, "c%d" % c)
    with open(os.path.join(WORKDIR, "churn_child_%s.py" % TAG), "w") as f:
        f.write(LAZY % {"pad": "\n" * c, "n": 200})
    importlib.import_module("churn_child_%s" % TAG).work(100)
    for _ in range(3):
        gc.collect()
    REC.uninstall()
    os._exit(0)


def main():
    if OPTS["--child"] is not None:
        child(int(OPTS["--child"]))
    n = 300
    imports(n)
    generated(20 * SCALE, n, "main")
    threads = [threading.Thread(target=thread_body, args=(k, n))
               for k in range(int(OPTS["--threads"]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    async_work(n // 3)
    for _ in delegating(n):
        pass
    children(int(OPTS["--children"]))
    gc.collect()
    REC.uninstall()
    sys.stderr.write("gc_code_churn: python %s pid %d: %d collections\n"
                     % (sys.version.split()[0], os.getpid(), REC.count))
    return 0


if __name__ == "__main__":
    sys.exit(main())
