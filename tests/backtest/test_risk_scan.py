"""The equity/risk scan of the fast path against hand-computed stretches (compiled and as
plain Python, which is also what coverage can see)."""

from __future__ import annotations

import numpy as np
import pytest

from bot_core.kernels.risk_scan import scan_equity


def _scan(fn, marks, positions, cash, start, stop, peak, day_start, dd=10.0, daily=5.0,
          watch_dd=True, watch_daily=True):
    equity = np.full(marks.shape[1], np.nan)
    in_market = np.zeros(marks.shape[1], dtype=np.bool_)
    out = fn(marks, positions, cash, start, stop, peak, day_start, dd, daily, watch_dd,
             watch_daily, equity, in_market)
    return out, equity, in_market


@pytest.mark.parametrize("compiled", [True, False])
def test_scan_fills_equity_and_finds_the_first_limit_hit(compiled: bool) -> None:
    fn = scan_equity if compiled else scan_equity.py_func
    marks = np.array([[100.0, 110.0, 120.0, 108.0, 104.0, 90.0],
                      [np.nan, 50.0, 50.0, 50.0, 50.0, 50.0]])
    positions = np.array([10.0, 0.0])
    # equity = 1000 + 10 * price: 2000, 2100, 2200, 2080, 2040, 1900
    (hit, peak_step, peak), equity, in_market = _scan(fn, marks, positions, 1000.0, 0, 6,
                                                      2000.0, 2000.0)
    np.testing.assert_allclose(equity, [2000, 2100, 2200, 2080, 2040, 1900])
    assert in_market.all()
    # 1900 is 13.6 % below the 2200 peak (limit 10 %) and 5 % below the day start (limit 5 %)
    assert (hit, peak_step, peak) == (5, 2, 2200.0)
    (hit, _, _), equity, _ = _scan(fn, marks, positions, 1000.0, 0, 3, 2000.0, 2000.0)
    assert hit == 3 and np.isnan(equity[3])  # stops at ``stop`` without a hit


def test_scan_drawdown_and_daily_limits_each_trigger_alone() -> None:
    marks = np.array([[100.0, 110.0, 120.0, 108.0, 104.0, 90.0]])
    positions = np.array([10.0])
    # drawdown only (daily not watched): 10 % below the 2200 peak is 1980 -> step 5 (1900)
    (hit, _, _), _, _ = _scan(scan_equity, marks, positions, 1000.0, 0, 6, 2000.0, 2000.0,
                              dd=10.0, daily=5.0, watch_daily=False)
    assert hit == 5
    # daily only: 2.5 % below a day start of 2100 is 2047.5 -> step 4 (2040)
    (hit, _, _), _, _ = _scan(scan_equity, marks, positions, 1000.0, 1, 6, 2000.0, 2100.0,
                              dd=10.0, daily=2.5, watch_dd=False)
    assert hit == 4
    # neither watched: runs to the end, flat account is not in the market
    (hit, peak_step, peak), equity, in_market = _scan(
        scan_equity, marks, np.array([0.0]), 500.0, 1, 6, 600.0, 600.0, watch_dd=False,
        watch_daily=False)
    assert (hit, peak_step, peak) == (6, -1, 600.0)
    assert not in_market[1:].any() and (equity[1:] == 500.0).all()
