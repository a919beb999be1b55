"""An equity curve's drawdowns and return moments, each in one compiled pass.

:mod:`bot_core.backtest.metrics` states the conventions; these are the passes behind them. On
a million bars the numpy forms (a running maximum, then divisions, masks and copies for the
returns) made a dozen temporaries of the curve's length, about a third of a whole compiled
backtest's time. Sums are compensated (:mod:`bot_core.kernels._sums`), so the moments do not
depend on the order of the additions. Importing this module imports numba.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from bot_core.kernels._sums import two_sum_add

__all__ = ["drawdowns", "return_moments"]


@njit(cache=True, nogil=True, inline="always")
def _value(s: float, c: float) -> float:
    """A compensated sum's value (the plain sum once it overflowed: its error term is NaN)."""
    return s + c if s - s == 0.0 else s


@njit(cache=True, nogil=True, error_model="numpy")  # x / 0 is inf or NaN, as numpy's
def drawdowns(equity: np.ndarray) -> np.ndarray:
    """Drawdown from the running peak at every point, as a positive fraction: ``1 - equity /
    peak`` where the peak is positive, else 0 (after a NaN the peak is NaN, as numpy's running
    maximum makes it, so the drawdown is 0 from there)."""
    out = np.empty(equity.shape[0])
    peak = math.nan
    for i in range(equity.shape[0]):
        value = equity[i]
        if i == 0 or value != value or value > peak:
            peak = value
        out[i] = 1.0 - value / peak if peak > 0.0 else 0.0
    return out


@njit(cache=True, nogil=True, error_model="numpy")  # x / 0 is inf or NaN, as numpy's
def return_moments(curve: np.ndarray) -> tuple[int, float, float, float]:
    """``(count, mean, sample standard deviation, downside deviation)`` of the simple returns
    ``curve[i + 1] / curve[i] - 1`` that are finite; the downside deviation is the root mean
    square of ``min(return, 0)`` over them all (0.0 where undefined: fewer than two returns
    for the deviation, none for the rest)."""
    total = total_c = 0.0
    count = 0
    for i in range(curve.shape[0] - 1):
        r = (curve[i + 1] - curve[i]) / curve[i]
        if r - r == 0.0:  # finite
            total, total_c = two_sum_add(total, total_c, r)
            count += 1
    if count == 0:
        return 0, 0.0, 0.0, 0.0
    mean = _value(total, total_c) / count
    squares = squares_c = down = down_c = 0.0
    for i in range(curve.shape[0] - 1):
        r = (curve[i + 1] - curve[i]) / curve[i]
        if r - r == 0.0:
            squares, squares_c = two_sum_add(squares, squares_c, (r - mean) * (r - mean))
            low = min(r, 0.0)
            down, down_c = two_sum_add(down, down_c, low * low)
    std = math.sqrt(_value(squares, squares_c) / (count - 1)) if count > 1 else 0.0
    return count, mean, std, math.sqrt(_value(down, down_c) / count)
