"""The compiled equity-curve passes give what their numpy definitions give."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bot_core.backtest.curve import drawdowns, max_drawdown, return_moments

VALUES = st.one_of(st.floats(-1e6, 1e6), st.sampled_from([0.0, math.nan, math.inf, 100.0]))


@settings(max_examples=300, deadline=None)
@given(st.lists(VALUES, max_size=30))
def test_drawdowns_follow_the_running_peak(values: list[float]) -> None:
    equity = np.array(values, dtype=np.float64)
    peak = np.maximum.accumulate(equity) if len(equity) else equity
    with np.errstate(all="ignore"):
        expected = np.where(peak > 0, 1.0 - equity / peak, 0.0)
    np.testing.assert_array_equal(drawdowns(equity), expected)
    # the metrics' form: the curve starts at a positive initial equity
    path = np.concatenate(([1e5], equity))
    with np.errstate(all="ignore"):
        peak = np.maximum.accumulate(path)
        whole = np.where(peak > 0, 1.0 - path / peak, 0.0).max()
    got = max_drawdown(1e5, equity)
    assert got == whole or (math.isnan(got) and math.isnan(whole))


@settings(max_examples=300, deadline=None)
@given(st.lists(VALUES, max_size=30))
def test_return_moments_are_numpys(values: list[float]) -> None:
    curve = np.array(values, dtype=np.float64)
    with np.errstate(all="ignore"):
        returns = np.diff(curve) / curve[:-1] if len(curve) else curve
    returns = returns[np.isfinite(returns)]
    count, mean, std, downside = return_moments(curve[0], curve[1:]) if len(curve) else \
        return_moments(1.0, curve)
    assert count == len(returns)
    if not len(returns):
        assert (mean, std, downside) == (0.0, 0.0, 0.0)
        return
    scale = max(1.0, float(np.abs(returns).max()))
    with np.errstate(over="ignore"):  # squares of huge returns: inf, both ways
        expected = (float(returns.mean()), float(returns.std(ddof=1)) if len(returns) > 1
                    else 0.0, float(np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2))))
    for got, want, tolerance in zip((mean, std, downside), expected, (1e-12, 1e-9, 1e-12),
                                    strict=True):
        assert math.isclose(got, want, rel_tol=tolerance, abs_tol=1e-12 * scale), (got, want)
