"""Line tables of real code objects, for tests/unit/test_pystack.c.

    python pystack_lines.py

Prints, for every code object of a few modules (nested ones included):
    C KIND FIRSTLINENO HEX-TABLE      KIND: lnotab (<= 3.9), 310, 311 (3.11+)
    O OFFSET LINE                     the line CPython gives that byte offset
                                      (-1: none), for every instruction
The expected lines come from CPython itself: co_lines() on 3.10+, and
dis.findlinestarts() on <= 3.9 (both read the same table as f_lineno).
"""
import dis
import sys
import types

import json.decoder
import textwrap


def codes(co):
    yield co
    for c in co.co_consts:
        if isinstance(c, types.CodeType):
            for x in codes(c):
                yield x


def expected(co):
    n = len(co.co_code)
    if sys.version_info >= (3, 10):
        lines = {}
        for start, end, line in co.co_lines():
            for off in range(start, end, 2):
                lines[off] = -1 if line is None else line
        return [(off, lines.get(off, -1)) for off in range(0, n, 2)]
    starts = list(dis.findlinestarts(co))
    out = []
    for off in range(0, n, 2):
        line = co.co_firstlineno
        for s, l in starts:
            if s <= off:
                line = l
        out.append((off, line))
    return out


def main():
    if sys.version_info >= (3, 11):
        pass
    mods = [json.decoder, textwrap, sys.modules[__name__]]
    for m in mods:
        with open(m.__file__) as f:
            src = f.read()
        top = compile(src, m.__file__, "exec")
        for co in codes(top):
            if sys.version_info >= (3, 11):
                kind, table = "311", co.co_linetable
            elif sys.version_info >= (3, 10):
                kind, table = "310", co.co_linetable
            else:
                kind, table = "lnotab", co.co_lnotab
            print("C %s %d %s" % (kind, co.co_firstlineno, table.hex() or "-"))
            for off, line in expected(co):
                print("O %d %d" % (off, line))


if __name__ == "__main__":
    main()
