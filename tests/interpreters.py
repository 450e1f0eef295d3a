"""Enumerate the Python interpreters the ground-truth tests run against.

The expected list is fixed, so that a missing interpreter shows up as a
visible pytest skip instead of silently vanishing:

    debian-3.11       /usr/bin/python3.11           (Debian; has USDT probes)
    debian-3.11-dbg   /usr/bin/python3.11d          (Debian debug build; USDT too)
    pyenv-3.6 ... pyenv-3.13                        (one per minor version)

pyenv builds are looked up under $PYENV_ROOT/versions (else `pyenv root`,
else /root/.pyenv); the real binary versions/X.Y.Z/bin/pythonX.Y is used,
never a shim.  Found pyenv builds are labelled "pyenv-X.Y.Z"; missing ones
keep the label "pyenv-X.Y".  Extra pyenv builds with minor > 13 (e.g. 3.14)
are appended when present.

    python3 tests/interpreters.py       # prints the table
"""
import os
import re
import subprocess
import sys

PYENV_MINORS = list(range(6, 14))          # 3.6 ... 3.13 expected

DEBIAN = [
    # label, path, expected probe
    ("debian-3.11", "/usr/bin/python3.11", "usdt"),
    ("debian-3.11-dbg", "/usr/bin/python3.11d", "usdt"),
]


class Interp(tuple):
    """(label, path, present, reason) plus attributes .expected_probe, .version."""

    def __new__(cls, label, path, present, reason, expected_probe=None,
                version=None):
        self = tuple.__new__(cls, (label, path, present, reason))
        self.expected_probe = expected_probe
        self.version = version
        return self

    label = property(lambda self: self[0])
    path = property(lambda self: self[1])
    present = property(lambda self: self[2])
    reason = property(lambda self: self[3])


def pyenv_root():
    root = os.environ.get("PYENV_ROOT")
    if root:
        return root
    try:
        out = subprocess.check_output(["pyenv", "root"],
                                      stderr=subprocess.DEVNULL,
                                      universal_newlines=True, timeout=10)
        if out.strip():
            return out.strip()
    except Exception:
        pass
    return "/root/.pyenv"


def _vkey(name):
    return tuple(int(x) for x in re.findall(r"\d+", name))


def _runs(path):
    """(ok, version-or-error) by actually running the interpreter."""
    try:
        out = subprocess.check_output(
            [path, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
            stderr=subprocess.STDOUT, universal_newlines=True, timeout=30)
        return True, out.strip()
    except Exception as e:
        return False, "does not run: %s" % e


def elf_files(path):
    """The interpreter executable plus any libpython it links."""
    files = [os.path.realpath(path)]
    try:
        out = subprocess.check_output(["ldd", path], stderr=subprocess.DEVNULL,
                                      universal_newlines=True, timeout=30)
        for line in out.splitlines():
            m = re.search(r"(libpython\S*)\s+=>\s+(\S+)", line)
            if m and os.path.exists(m.group(2)):
                files.append(os.path.realpath(m.group(2)))
    except Exception:
        pass
    return files


def has_gc_usdt(path):
    """True/False whether the interpreter (or its libpython) carries the
    python:gc__start USDT note; None if readelf is unavailable."""
    found = False
    for f in elf_files(path):
        try:
            out = subprocess.check_output(["readelf", "-n", f],
                                          stderr=subprocess.DEVNULL,
                                          universal_newlines=True, timeout=60)
        except Exception:
            return None
        if "gc__start" in out:
            found = True
    return found


def _check(label, path, expected_probe=None):
    if not os.path.exists(path):
        return Interp(label, path, False, "not found: %s" % path, expected_probe)
    if not os.access(path, os.X_OK):
        return Interp(label, path, False, "not executable: %s" % path,
                      expected_probe)
    ok, ver = _runs(path)
    if not ok:
        return Interp(label, path, False, ver, expected_probe)
    usdt = has_gc_usdt(path)
    if usdt is not None:
        detected = "usdt" if usdt else "uprobe"
        if expected_probe is not None and expected_probe != detected:
            # Keep the static expectation, but say so.
            return Interp(label, path, True,
                          "found %s (Python %s; WARNING: expected %s probes, "
                          "ELF notes say %s)" % (path, ver, expected_probe,
                                                 detected),
                          expected_probe, ver)
        expected_probe = detected
    return Interp(label, path, True, "found %s (Python %s, expect probe %s)"
                  % (path, ver, expected_probe), expected_probe, ver)


def interpreters():
    """List of Interp = (label, path, present, reason)."""
    out = [_check(label, path, probe) for label, path, probe in DEBIAN]

    root = pyenv_root()
    vdir = os.path.join(root, "versions")
    by_minor = {}
    try:
        names = sorted(os.listdir(vdir), key=_vkey)
    except OSError:
        names = []
    for name in names:
        m = re.match(r"^3\.(\d+)\.(\d+)$", name)   # plain CPython X.Y.Z only
        if not m:
            continue
        minor = int(m.group(1))
        if minor < 6:
            continue
        by_minor.setdefault(minor, []).append(name)

    minors = sorted(set(PYENV_MINORS) | set(k for k in by_minor if k > 13))
    for minor in minors:
        cands = by_minor.get(minor)
        if not cands:
            out.append(Interp("pyenv-3.%d" % minor,
                              os.path.join(vdir, "3.%d.*" % minor), False,
                              "no pyenv 3.%d build under %s" % (minor, vdir)))
            continue
        for name in cands:             # normally exactly one per minor
            path = os.path.join(vdir, name, "bin", "python3.%d" % minor)
            out.append(_check("pyenv-%s" % name, path, None))
    return out


def main():
    for it in interpreters():
        print("%-18s %-7s %-45s %s" % (it.label,
                                      "present" if it.present else "MISSING",
                                      it.path, it.reason))


if __name__ == "__main__":
    sys.exit(main())
