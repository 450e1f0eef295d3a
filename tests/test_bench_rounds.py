"""The bench's per-round summaries of the end-to-end rows (scripts/bench.py):
each round's ratio over its own floor, and in how many rounds a mode beat
bpftrace. Rounds are paired by position; a row that lost a round gives none."""
import importlib.util
import os

import pytest

_spec = importlib.util.spec_from_file_location(
    "bench", os.path.join(os.path.dirname(__file__), "..", "scripts", "bench.py"))
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_round_ratios_pair_each_round_with_its_own_floor():
    untraced = [100, 200, 100]
    empty = [1100, 1200, 600]      # floors 1000, 1000, 500
    mode = [1300, 1200, 700]       # added 1200, 1000, 600
    assert bench.round_ratios(mode, untraced, empty, 3) == pytest.approx([1.2, 1.0, 1.2])


def test_round_ratios_none_when_a_round_is_missing_or_its_floor_is_not_above_untraced():
    assert bench.round_ratios([1300, 1200], [100, 200, 100], [1100, 1200, 600], 3) == []
    assert bench.round_ratios([1, 2, 3], [100, 200, 100], [1100, 200, 600], 3) == []


def test_rounds_below_counts_paired_rounds_only():
    assert bench.rounds_below([10, 30, 20], [20, 20, 30], 3) == "2/3"
    assert bench.rounds_below([10, 30, 20], [20, 20], 3) == ""  # bpftrace lost a round
    assert bench.rounds_below([10, 10, 10], [10, 10, 10], 3) == "0/3"  # a tie is not faster
