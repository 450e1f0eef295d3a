"""Shared fixtures for the gcbpf test-suite.

Run with the Debian interpreter (pytest is a Debian package; a pyenv shim
`python3` on PATH will not have it):

    /usr/bin/python3 -m pytest tests/            # as root for the BPF tests
    GCBPF=/path/to/gcbpf /usr/bin/python3 -m pytest tests/
"""
import os
import sys

import pytest

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(TESTS_DIR)
PROGS_DIR = os.path.join(TESTS_DIR, "progs")
WORKLOAD = os.path.join(PROGS_DIR, "gc_workload.py")

if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)

import interpreters as _interpreters  # noqa: E402

_INTERPS = None
# Lines a test wants in the run's summary (e.g. the unknown-frame share of
# tests/test_stacks_churn.py), shown even when the test passes.
REPORT = []


def all_interpreters():
    """Cached result of interpreters.interpreters()."""
    global _INTERPS
    if _INTERPS is None:
        _INTERPS = _interpreters.interpreters()
    return _INTERPS


def interp_params(modes=None):
    """pytest.param list over interpreters (x modes); missing ones are
    visible skips."""
    out = []
    for it in all_interpreters():
        marks = [] if it.present else [pytest.mark.skip(
            reason="interpreter %s missing: %s" % (it.label, it.reason))]
        if modes is None:
            out.append(pytest.param(it, id=it.label, marks=marks))
        else:
            for m in modes:
                out.append(pytest.param(it, m, id="%s-%s" % (it.label, m),
                                        marks=marks))
    return out


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "needs_root: test needs root (BPF); skipped otherwise")
    config.addinivalue_line(
        "markers", "first_pass: runs in tests/run.sh's first pass only: the sanitizer pass "
        "(-m 'not first_pass') would repeat it without new code of gcbpf's under test")


def pytest_runtest_setup(item):
    if item.get_closest_marker("needs_root") and os.geteuid() != 0:
        pytest.skip("needs root (euid %d): loading BPF programs requires "
                    "CAP_BPF/CAP_SYS_ADMIN" % os.geteuid())


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    tr = terminalreporter
    if REPORT:
        tr.section("stacks against ground truth")
        for line in REPORT:
            tr.write_line(line)
    tr.section("gcbpf test interpreters")
    for it in all_interpreters():
        tr.write_line("%-18s %-8s %s" % (it.label,
                                        "found" if it.present else "MISSING",
                                        it.reason))


@pytest.fixture(scope="session")
def repo_root():
    return REPO_ROOT


@pytest.fixture(scope="session")
def workload_path():
    return WORKLOAD


@pytest.fixture(scope="session")
def gcbpf_bin():
    """Path of the gcbpf binary: $GCBPF or <repo>/gcbpf.  Skips when it is
    not built or when not running as root."""
    path = os.environ.get("GCBPF") or os.path.join(REPO_ROOT, "gcbpf")
    # GCBPF_REQUIRE=1 turns "cannot run" into a failure instead of a skip.
    bail = pytest.fail if os.environ.get("GCBPF_REQUIRE") else pytest.skip
    if os.geteuid() != 0:
        bail("gcbpf tests need root (euid %d)" % os.geteuid())
    if not os.path.isfile(path):
        bail("gcbpf binary not found at %s (run `make -C %s` or set "
             "GCBPF=/path/to/gcbpf)" % (path, REPO_ROOT))
    if not os.access(path, os.X_OK):
        bail("gcbpf binary %s is not executable" % path)
    return path
