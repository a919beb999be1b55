"""Sharpe and Sortino follow the data's calendar, and say how they were annualized.

Daily stock bars used to be annualized with 365.25 periods a year (their median spacing is one
day), and a run mixing daily and hourly datasets annualized every step with the hourly factor.
Now the periods a year are observed in the data (weekends and holidays have no rows) and a run
whose datasets have different bar lengths is measured on daily returns.
"""

from __future__ import annotations

import math
from unittest.mock import patch

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bot_core
from bot_core import annualization
from bot_core.annualization import HOLE_NS, HOLE_STEPS, hole_ns, periods_per_year, return_periods
from bot_core.backtest.driver import run_backtest
from bot_core.backtest.metrics import ReturnSampling, compute_metrics, return_sampling
from bot_core.backtest.plan import DataSpec, plan_backtest
from bot_core.market import FeedSpec

from .test_driver import _same_trades

HOUR_NS = 3_600 * 1_000_000_000


@pytest.fixture(scope="module")
def installed() -> bot_core.PluginHost:
    return bot_core.load_plugins()


def weekdays(size: int, start: str = "2021-01-04") -> np.ndarray:
    return pd.bdate_range(start, periods=size, tz="UTC").as_unit("ns").asi8


def bars(index: pd.DatetimeIndex, sigma: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, sigma, len(index))))
    opens = np.concatenate(([100.0], close[:-1]))
    return pd.DataFrame({"open": opens, "high": np.maximum(opens, close) * 1.001,
                         "low": np.minimum(opens, close) * 0.999, "close": close,
                         "volume": np.full(len(index), 1e9)},
                        index=index.rename("timestamp"))


def test_periods_a_year_are_observed_in_the_data() -> None:
    # weekdays: 5 bars every 7 days
    assert periods_per_year(weekdays(780)) == pytest.approx(365.25 * 5 / 7, rel=0.01)
    minutes = np.arange(10_000, dtype=np.int64) * 60_000_000_000
    assert periods_per_year(minutes) == pytest.approx(365.25 * 1440)
    # FX hours: closed from Friday 22:00 to Sunday 22:00 UTC, 120 bars a week (a half year of
    # them ends on a Friday: its last weekend is not in the data, 1 % more than 120 a week)
    hours = pd.date_range("2024-01-07 22:00", "2024-06-30", freq="1h", tz="UTC")
    weekday = hours.day_of_week
    open_hours = hours[~(((weekday == 4) & (hours.hour >= 22)) | (weekday == 5)
                         | ((weekday == 6) & (hours.hour < 22)))]
    assert periods_per_year(open_hours.as_unit("ns").asi8) == pytest.approx(120 * 365.25 / 7,
                                                                           rel=0.015)
    # a hole of a week or more is not the calendar: two months a year apart count as two months
    two = np.concatenate((minutes, minutes + 365 * 86_400 * 10**9))
    assert periods_per_year(two) == pytest.approx(365.25 * 1440, rel=1e-4)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([0, 1, HOLE_NS // HOLE_STEPS - 1, HOLE_NS // HOLE_STEPS,
                                 HOLE_NS // HOLE_STEPS + 1, HOLE_NS, 3 * HOLE_NS]) |
                st.integers(-HOLE_NS, 4 * HOLE_NS), max_size=12))
def test_hole_length_counts_instead_of_a_median_where_it_can(steps: list[int]) -> None:
    """The short cut (count the steps over a week / HOLE_STEPS before taking a median) gives
    what the rule says: a week, or HOLE_STEPS typical (median) steps when that is longer."""
    array = np.array(steps, dtype=np.int64)
    positive = array[array > 0]
    typical = float(np.median(positive)) if positive.size else 0.0
    assert hole_ns(array) == max(float(HOLE_NS), HOLE_STEPS * typical)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**40), st.lists(st.sampled_from([1, 60_000_000_000,
                                                        HOLE_NS // HOLE_STEPS - 1,
                                                        HOLE_NS // HOLE_STEPS, HOLE_NS]) |
                                       st.integers(0, 2 * HOLE_NS), min_size=1, max_size=12))
def test_periods_a_year_without_holes_take_the_whole_span(start: int, steps: list[int]) -> None:
    """The short cut for data without a hole (every step counts, so the time covered is the
    span; looked for a block of steps at a time, here blocks of 1 to 4 steps as well as one
    block) gives what the rule gives: the steps shorter than a hole, over their sum."""
    ts = np.cumsum([start, *steps]).astype(np.int64)
    diffs = np.diff(ts)
    kept = diffs[(diffs > 0) & (diffs < hole_ns(diffs))]
    expected = float(len(kept)) * 365.25 * 86_400e9 / float(kept.sum()) if kept.sum() > 0 \
        else 0.0
    assert periods_per_year(ts) == expected
    for block in (1, 2, 3, 4):
        with patch.object(annualization, "_BLOCK", block):
            assert periods_per_year(ts) == expected
            assert return_periods(ts) == (len(kept), float(kept.sum()))


def test_sharpe_of_daily_stock_bars_uses_their_bars_a_year() -> None:
    ts = weekdays(780)
    rng = np.random.default_rng(4)
    equity = 100_000.0 * np.exp(np.cumsum(rng.normal(2e-4, 0.01, len(ts))))
    m = compute_metrics(ts, equity, initial_equity=100_000.0)
    path = np.concatenate(([100_000.0], equity))
    returns = np.diff(path) / path[:-1]
    ppy = periods_per_year(ts)
    assert ppy == pytest.approx(261.3, abs=0.5)
    assert m.sharpe == pytest.approx(returns.mean() / returns.std(ddof=1) * math.sqrt(ppy))
    assert m.sharpe / math.sqrt(ppy) * math.sqrt(365.25) != pytest.approx(m.sharpe, rel=0.1)
    assert m.annualization is not None
    assert (m.annualization.periods_per_year, m.annualization.returns) == (ppy, "bar")
    assert "779 over 2.98 years" in m.annualization.basis


def test_bar_lengths_decide_the_sampling_of_returns() -> None:
    daily = FeedSpec.from_timestamps(weekdays(50), venue="v", instrument="GOOG/USD",
                                     source="goog", timeframe="1d")
    other = FeedSpec.from_timestamps(weekdays(50), venue="v", instrument="MSFT/USD",
                                     source="msft", timeframe="1d")
    hourly = FeedSpec.continuous(venue="v", instrument="EUR/USD", kind="ohlcv", timeframe="1h")
    quotes = FeedSpec("v", "BTC/USD", "quotes", "q", None, None, None)
    assert return_sampling([daily, other]).every == "bar"
    mixed = return_sampling([daily, hourly])
    assert mixed.every == "day" and "(1d, 1h)" in mixed.why
    assert return_sampling([quotes]).every == "day"


def test_daily_sampling_takes_the_last_equity_of_each_day() -> None:
    hours = pd.date_range("2024-01-01", periods=24 * 20, freq="1h", tz="UTC")
    ts = hours.as_unit("ns").asi8
    rng = np.random.default_rng(9)
    equity = 1_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.002, len(ts))))
    m = compute_metrics(ts, equity, initial_equity=1_000.0,
                        sampling=ReturnSampling("day", "daily, for the test"))
    closes = pd.Series(equity, index=hours).groupby(hours.date).last()
    path = np.concatenate(([1_000.0], closes.to_numpy()))
    returns = np.diff(path) / path[:-1]
    assert m.annualization is not None and m.annualization.returns == "day"
    assert m.annualization.periods_per_year == pytest.approx(365.25)
    assert m.sharpe == pytest.approx(returns.mean() / returns.std(ddof=1) * math.sqrt(365.25))


def test_a_run_mixing_daily_and_hourly_data_is_measured_on_daily_returns(installed) -> None:
    days = pd.bdate_range("2024-01-01", periods=120, tz="UTC")
    hours = pd.date_range("2024-01-01", periods=24 * 100, freq="1h", tz="UTC")
    plan = plan_backtest(
        installed, strategies=["mean_reversion"], preset="balanced",
        params={"window_bars": 20, "max_holding_bars": 40, "entry_z": 1.5},
        datasets={"btc-1d": DataSpec(bars(days, 0.02, 1), "ohlcv", "BTC/USDT", "venue_a", "1d"),
                  "eth-1h": DataSpec(bars(hours, 0.004, 2), "ohlcv", "ETH/USDT", "venue_a",
                                     "1h")})
    result = run_backtest(plan, installed)
    annualization = result.as_dict()["annualization"]
    assert annualization["returns"] == "day"
    assert "bar lengths differ (1d, 1h)" in annualization["basis"]
    stamps = pd.to_datetime(result.ts_ns, utc=True)
    closes = pd.Series(result.equity, index=stamps).groupby(stamps.date).last()
    path = np.concatenate(([100_000.0], closes.to_numpy()))
    returns = np.diff(path) / path[:-1]
    ppy = periods_per_year(pd.Series(result.ts_ns, index=stamps).groupby(stamps.date).last()
                           .to_numpy())
    assert annualization["periods_per_year"] == pytest.approx(ppy)
    assert result.metrics.sharpe == pytest.approx(
        returns.mean() / returns.std(ddof=1) * math.sqrt(ppy), rel=1e-9)
    assert result.metrics.n_trades > 0


def test_vol_target_on_daily_bars_trades_alike_on_every_path(installed) -> None:
    frame = bars(pd.bdate_range("2021-01-04", periods=500, tz="UTC"), 0.018, 3)
    plan = plan_backtest(installed, strategies=["vol_target"], preset="balanced",
                         params={"ewma_halflife_bars": 20},
                         datasets={"btc-1d": DataSpec(frame, "ohlcv", "BTC/USDT", "venue_a",
                                                      "1d")})
    assert plan.warnings == []
    compiled = run_backtest(plan, installed)
    events = run_backtest(plan, installed, fast=False)
    assert compiled.path == "compiled" and events.path == "events"
    assert compiled.verdicts["approve"] >= 5  # with 1-minute annualization: no order at all
    _same_trades(compiled.trades, events.trades)
    np.testing.assert_allclose(compiled.equity, events.equity, rtol=1e-12)
    assert compiled.as_dict()["annualization"]["periods_per_year"] == \
        pytest.approx(365.25 * 5 / 7, rel=0.01)
