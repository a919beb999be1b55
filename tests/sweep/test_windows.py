"""Walk-forward window arithmetic: TRAIN:TEST[:STEP] parsing, the windows laid over the data
(train then test, half-open, no overlap of test periods, no look-ahead), and the stitched
out-of-sample curve."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot_core.errors import UsageError
from bot_core.sweep.walkforward import best_params, stitch
from bot_core.sweep.windows import (
    WalkForward,
    format_span,
    parse_walk_forward,
    walk_forward_windows,
)

DAY = 86_400_000_000_000
HOUR = 3_600_000_000_000


def test_durations_and_the_default_step() -> None:
    assert parse_walk_forward("30d:10d") == WalkForward(30 * DAY, 10 * DAY, 10 * DAY, "30d:10d")
    assert parse_walk_forward("1.5d:12h:1d") == WalkForward(36 * HOUR, 12 * HOUR, DAY,
                                                             "1.5d:12h:1d")
    assert parse_walk_forward("2w:90m") .test_ns == 90 * 60 * 1_000_000_000


@pytest.mark.parametrize(("text", "message"), [
    ("30d", "expected TRAIN:TEST or TRAIN:TEST:STEP"),
    ("30d:10d:5d:1d", "expected TRAIN:TEST or TRAIN:TEST:STEP"),
    ("30:10d", "TRAIN '30' is not a duration"),
    ("30d:ten", "TEST 'ten' is not a duration"),
    ("0d:1d", "TRAIN must be longer than 0"),
    ("10d:5d:2d", "STEP (2d) is shorter than TEST (5d): test periods would overlap"),
])
def test_bad_walk_forward_options_are_refused(text: str, message: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_walk_forward(text)
    assert str(err.value).startswith(f"--walk-forward {text}: ")
    assert message in str(err.value)


def test_windows_over_thirty_days() -> None:
    windows = walk_forward_windows(parse_walk_forward("10d:5d"), 0, 30 * DAY)
    assert [(w.train_start_ns // DAY, w.train_end_ns // DAY, w.test_start_ns // DAY,
             w.test_end_ns // DAY) for w in windows] == [
        (0, 10, 10, 15), (5, 15, 15, 20), (10, 20, 20, 25), (15, 25, 25, 30)]
    # a tail shorter than a window is not used
    assert len(walk_forward_windows(parse_walk_forward("10d:5d"), 0, 29 * DAY)) == 3
    with pytest.raises(UsageError, match="one window needs 35d of data; the datasets span 30d"):
        walk_forward_windows(parse_walk_forward("25d:10d"), 0, 30 * DAY)


@given(train=st.integers(1, 50), test=st.integers(1, 50), extra_step=st.integers(0, 20),
       span=st.integers(2, 400), start=st.integers(0, 10**6))
def test_windows_never_overlap_and_never_look_ahead(train: int, test: int, extra_step: int,
                                                     span: int, start: int) -> None:
    spec = WalkForward(train * HOUR, test * HOUR, (test + extra_step) * HOUR, "x")
    begin, end = start * HOUR, (start + span) * HOUR
    if train + test > span:
        with pytest.raises(UsageError):
            walk_forward_windows(spec, begin, end)
        return
    windows = walk_forward_windows(spec, begin, end)
    assert len(windows) == (span - train - test) // (test + extra_step) + 1
    assert windows[0].train_start_ns == begin
    for n, w in enumerate(windows):
        assert w.index == n
        assert w.train_end_ns - w.train_start_ns == spec.train_ns
        assert w.test_end_ns - w.test_start_ns == spec.test_ns
        assert w.train_end_ns == w.test_start_ns  # training ends where the test begins
        assert w.test_end_ns <= end
    for a, b in itertools.pairwise(windows):
        assert b.train_start_ns - a.train_start_ns == spec.step_ns
        assert a.test_end_ns <= b.test_start_ns  # test periods never overlap
    # no room for one more window
    assert windows[-1].train_start_ns + spec.step_ns + spec.train_ns + spec.test_ns > end


def test_stitching_chains_each_period_from_where_the_last_ended() -> None:
    curves = [(np.array([1, 2]), np.array([110.0, 120.0])),
              (np.array([3, 4]), np.array([90.0, 150.0])),
              (np.array([], dtype=np.int64), np.array([])),
              (np.array([5]), np.array([100.0]))]
    ts, equity, which = stitch(curves, 100.0)
    assert ts.tolist() == [1, 2, 3, 4, 5]
    assert equity.tolist() == pytest.approx([110.0, 120.0, 108.0, 180.0, 180.0])
    assert which.tolist() == [0, 0, 1, 1, 3]
    assert equity[-1] / 100.0 == pytest.approx(1.2 * 1.5 * 1.0)


def test_best_parameters_skip_failed_runs_and_keep_grid_order_on_ties() -> None:
    rows = [{"params": '{"a": 1}', "sharpe": 1.0, "max_drawdown": 0.2, "error": ""},
            {"params": '{"a": 2}', "sharpe": None, "max_drawdown": None, "error": "boom"},
            {"params": '{"a": 3}', "sharpe": 2.0, "max_drawdown": 0.1, "error": ""},
            {"params": '{"a": 4}', "sharpe": 2.0, "max_drawdown": 0.1, "error": ""}]
    assert best_params(rows, "sharpe")[0] == {"a": 3}  # type: ignore[index]
    assert best_params(rows, "max_drawdown")[0] == {"a": 3}  # type: ignore[index]
    assert best_params(rows[1:2], "sharpe") is None


def test_spans_read_in_two_units() -> None:
    assert format_span(35 * DAY) == "35d"
    assert format_span(DAY + 6 * HOUR + 60_000_000_000) == "1d 6h"
    assert format_span(0) == "0s"
