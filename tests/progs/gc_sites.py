"""Collections from two known places, for the stack examples in docs/stacks.md.

    python gc_sites.py [N]     (default 100)

With automatic collection off, full_site() calls gc.collect(2) N/10 times
and young_site() gc.collect(0) N times, over some cyclic garbage; then the
process stays 0.3 s so that gcbpf names the last stacks while their code
objects still exist (a process that exits at once gets them cut).
"""
import gc
import sys
import time


def garbage(n):
    for _ in range(n):
        a = []
        a.append(a)


def full_site():
    garbage(20000)
    gc.collect(2)


def young_site():
    garbage(50)
    gc.collect(0)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    gc.disable()
    for i in range(n):
        if i % 10 == 0:
            full_site()
        young_site()
    time.sleep(0.3)


if __name__ == "__main__":
    main()
