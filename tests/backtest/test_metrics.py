"""Metrics against values computed by hand (round trips: test_trades.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bot_core.backtest.metrics import compute_metrics, drawdown_series, periods_per_year
from bot_core.backtest.trades import RoundTrip

DAY_NS = 86_400 * 1_000_000_000


def test_metrics_of_a_four_day_curve_by_hand() -> None:
    ts = np.arange(4, dtype=np.int64) * DAY_NS
    equity = np.array([110.0, 99.0, 99.0, 121.0])
    m = compute_metrics(ts, equity, initial_equity=100.0)
    returns = np.array([0.10, -0.10, 0.0, 22.0 / 99.0])
    mean, std = returns.mean(), returns.std(ddof=1)
    downside = math.sqrt((0.10**2) / 4)
    assert m.total_return == pytest.approx(0.21)
    assert m.final_equity == 121.0
    assert m.max_drawdown == pytest.approx(0.10)  # 110 -> 99
    assert m.sharpe == pytest.approx(mean / std * math.sqrt(365.25))
    assert m.sortino == pytest.approx(mean / downside * math.sqrt(365.25))
    years = 3 / 365.25
    assert m.cagr == pytest.approx(1.21 ** (1 / years) - 1)


def test_win_rate_exposure_turnover_and_fees() -> None:
    ts = np.arange(4, dtype=np.int64) * DAY_NS
    trades = [
        RoundTrip("s", "v", "BTC/USDT", "long", 1, 0, 10, DAY_NS, 12, 1.5, 0.5),
        RoundTrip("s", "v", "BTC/USDT", "short", 1, 0, 10, DAY_NS, 11, -1.2, 0.2),
        RoundTrip("s", "v", "BTC/USDT", "long", 1, 0, 10, DAY_NS, 13, 2.9, 0.1),
        RoundTrip("s", "v", "BTC/USDT", "long", 1, 0, 10, None, 9, -1.0, 0.1),  # open
    ]
    m = compute_metrics(ts, np.full(4, 100.0), initial_equity=100.0, trades=trades, fees=0.9,
                        traded_notional=250.0,
                        in_market=np.array([True, False, True, True]))
    assert m.n_trades == 3
    assert m.win_rate == pytest.approx(2 / 3)
    assert m.exposure == pytest.approx(0.75)
    assert m.turnover == pytest.approx(2.5)
    assert m.fees == 0.9
    assert (m.sharpe, m.sortino, m.total_return, m.max_drawdown) == (0.0, 0.0, 0.0, 0.0)


def test_degenerate_curves_give_finite_metrics() -> None:
    empty = compute_metrics(np.zeros(0, dtype=np.int64), np.zeros(0), initial_equity=50.0)
    assert (empty.final_equity, empty.total_return, empty.cagr, empty.win_rate) == \
        (50.0, 0.0, 0.0, 0.0)
    wiped = compute_metrics(np.array([0, DAY_NS]), np.array([10.0, 0.0]), initial_equity=100.0)
    assert wiped.cagr == -1.0 and wiped.max_drawdown == 1.0
    assert all(math.isfinite(v) for v in wiped.as_dict().values())
    assert periods_per_year(np.array([5], dtype=np.int64)) == 0.0
    np.testing.assert_allclose(drawdown_series(np.array([1.0, 2.0, 1.5, 3.0])),
                               [0.0, 0.0, 0.25, 0.0])


def test_a_gain_over_hours_does_not_overflow_the_cagr() -> None:
    # +20 % in two hours compounds beyond a float over a year: the CAGR is reported as
    # unavailable (0, as every non-finite metric), not a traceback
    minute = DAY_NS // 1440
    ts = np.arange(120, dtype=np.int64) * minute
    m = compute_metrics(ts, np.full(120, 120_000.0), initial_equity=100_000.0)
    assert m.cagr == 0.0 and m.total_return == pytest.approx(0.2)
