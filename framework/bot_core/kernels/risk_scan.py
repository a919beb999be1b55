"""Equity and risk-state scan over bars where nothing trades (the backtest's fast path).

Between two bars on which an order can happen, positions and cash do not change, so equity at
every bar is ``cash + sum(position_i * mark_i)``. This kernel computes it for a stretch of bars
and finds the first bar where the risk engine's own monitors would change the trading state: a
drawdown from the equity peak at or beyond the liquidation limit, or a loss since the trading
day's start at or beyond the daily limit. The driver then replays that bar through the normal
event path so the engine makes (and journals) the transition itself; the kernel only decides
*where to look*, never what the engine decides.

The test is the engine's own rule, :func:`bot_core.rules.limit_reached`, compiled from the same
source, so a limit hit in the scan is hit by the engine on the same bar.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from bot_core.backtest.jit import rules

__all__ = ["scan_equity"]


@njit(cache=True, nogil=True)
def scan_equity(
    marks: np.ndarray,
    positions: np.ndarray,
    cash: float,
    start: int,
    stop: int,
    peak: float,
    day_start_equity: float,
    drawdown_limit_pct: float,
    daily_loss_limit_pct: float,
    watch_drawdown: bool,
    watch_daily: bool,
    equity_out: np.ndarray,
    in_market_out: np.ndarray,
) -> tuple[int, int, float]:
    """Fill ``equity_out[start:k]`` and return ``(k, peak_step, peak)``.

    :param marks: (instruments, steps) float64 mark prices, forward-filled (NaN before the first).
    :param positions: (instruments,) float64 net position of each instrument over the stretch.
    :param cash: total cash over the stretch.
    :param start: first step of the stretch; ``stop``: one past the last.
    :param peak: the engine's equity peak before ``start``.
    :param day_start_equity: the engine's equity at the start of the current trading day.
    :param drawdown_limit_pct: liquidation limit, percent.
    :param daily_loss_limit_pct: daily loss limit, percent.
    :param watch_drawdown: False once the engine is already liquidating.
    :param watch_daily: False once the engine already halted for the day.
    :return: ``k`` the first step where a limit is hit (its equity is written too) or ``stop``;
        ``peak_step`` the step of the highest equity above ``peak`` before ``k`` (-1 if none);
        the peak after the scan.
    """
    n = marks.shape[0]
    peak_step = -1
    for t in range(start, stop):
        equity = cash
        gross = 0.0
        for i in range(n):
            q = positions[i]
            if q != 0.0:
                m = marks[i, t]
                if m == m:  # not NaN
                    equity += q * m
                    gross += abs(q * m)
        equity_out[t] = equity
        in_market_out[t] = gross > 0.0
        if equity > peak:
            peak = equity
            peak_step = t
        if watch_drawdown and rules.limit_reached(peak, equity, drawdown_limit_pct):
            return t, peak_step, peak
        if watch_daily and rules.limit_reached(day_start_equity, equity, daily_loss_limit_pct):
            return t, peak_step, peak
    return stop, peak_step, peak
