"""An equity curve's drawdowns and return moments, compiled.

:mod:`bot_core.backtest.metrics` states the conventions; these are the loops behind them. On
a million bars the numpy forms (a running maximum, then divisions, masks and copies for the
returns) made a dozen temporaries of the curve's length: ~10 ms of a 1M-bar compiled
backtest, against ~4 ms here. Importing this module imports numba.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["drawdowns", "max_drawdown", "return_moments", "warm"]


@njit(cache=True, nogil=True, error_model="numpy")  # x / 0 is inf or NaN, as numpy's
def _drawdown_pass(equity: np.ndarray, out: np.ndarray, peak: float, seeded: bool) -> float:
    """The drawdown rule: ``1 - equity / peak`` from the running peak where the peak is
    positive, else 0 (after a NaN the peak is NaN, as numpy's running maximum makes it, so the
    drawdown is 0 from there). The peak starts at ``peak`` when ``seeded``, else at the first
    value. Writes every drawdown into ``out`` when it has ``equity``'s length; returns the
    largest (0.0 for none; NaN from the first NaN drawdown on, as numpy's maximum)."""
    write = out.shape[0] == equity.shape[0]
    largest = 0.0
    for i in range(equity.shape[0]):
        value = equity[i]
        if (i == 0 and not seeded) or value != value or value > peak:
            peak = value
        drawdown = 1.0 - value / peak if peak > 0.0 else 0.0
        if write:
            out[i] = drawdown
        if drawdown > largest or drawdown != drawdown:
            largest = drawdown
    return largest


@njit(cache=True, nogil=True)
def drawdowns(equity: np.ndarray) -> np.ndarray:
    """The drawdown at every point of ``equity`` (:func:`_drawdown_pass`)."""
    out = np.empty(equity.shape[0])
    _drawdown_pass(equity, out, math.nan, False)
    return out


@njit(cache=True, nogil=True)
def max_drawdown(start: float, equity: np.ndarray) -> float:
    """The largest drawdown of the curve ``start, equity[0], equity[1], ...``, without making
    the curve or its drawdowns (:func:`_drawdown_pass`)."""
    return _drawdown_pass(equity, np.empty(0), start, True)  # the start's own drawdown: 0


@njit(cache=True, nogil=True, error_model="numpy")  # x / 0 is inf or NaN, as numpy's
def return_moments(start: float, equity: np.ndarray) -> tuple[int, float, float, float]:
    """``(count, mean, sample standard deviation, downside deviation)`` of the simple returns
    of the curve ``start, equity[0], equity[1], ...`` that are finite; the downside deviation
    is the root mean square of ``min(return, 0)`` over them all (0.0 where undefined: fewer
    than two returns for the deviation, none for the rest).

    Two passes (the mean, then the squares about it), each summing into four interleaved
    partial sums: a single running sum waits on every addition (four times slower), and the
    order of the additions stays fixed, so the result does not depend on the machine."""
    sums = np.zeros(4)
    counts = np.zeros(4, dtype=np.int64)
    before = start
    for i in range(equity.shape[0]):
        r = (equity[i] - before) / before
        before = equity[i]
        if r - r == 0.0:  # finite
            sums[i & 3] += r
            counts[i & 3] += 1
    count = counts.sum()
    if count == 0:
        return 0, 0.0, 0.0, 0.0
    mean = ((sums[0] + sums[1]) + (sums[2] + sums[3])) / count
    squares = np.zeros(4)
    down = np.zeros(4)
    before = start
    for i in range(equity.shape[0]):
        r = (equity[i] - before) / before
        before = equity[i]
        if r - r == 0.0:
            squares[i & 3] += (r - mean) * (r - mean)
            low = min(r, 0.0)
            down[i & 3] += low * low
    variance = ((squares[0] + squares[1]) + (squares[2] + squares[3])) / (count - 1) \
        if count > 1 else 0.0
    return count, mean, math.sqrt(variance), \
        math.sqrt(((down[0] + down[1]) + (down[2] + down[3])) / count)


def warm() -> None:
    """Compile (or load from the cache) the passes every backtest's result takes."""
    curve = np.ones(2)
    return_moments(1.0, curve)
    max_drawdown(1.0, curve)
