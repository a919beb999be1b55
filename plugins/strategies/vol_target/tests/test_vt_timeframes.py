"""vol_target takes the bar length and calendar from the data, never from a default.

Daily stock bars (weekdays only) were annualized as 1-minute bars of a 24/7 market
(``bar_seconds`` defaulted to 60): volatility came out ~45 times too high and the balanced
profile never traded. Now the annualization is the data's own bars per year, a stated bar
length must agree with the data, and parameters that cannot work on it are refused.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from bot_core.errors import ConfigError
from bot_core.market import FeedSpec
from bot_core.testing import FillingContext, bars_from_frame, bind_frame, run_bars
from bot_core_vol_target import VolTargetSettings, VolTargetStrategy


def weekday_bars(size: int = 780, sigma: float = 0.018, seed: int = 11) -> pd.DataFrame:
    """Daily bars of a stock exchange: weekdays only, ~1.8 % a day."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, sigma, size)))
    index = pd.bdate_range("2021-01-04", periods=size, tz="UTC", name="timestamp")
    return pd.DataFrame({"open": close, "high": close, "low": close, "close": close,
                         "volume": np.full(size, 1e6)}, index=index)


def spec_of(frame: pd.DataFrame, source: str = "goog", **changes: object) -> FeedSpec:
    spec = FeedSpec.from_timestamps(frame.index.as_unit("ns").asi8, venue="venue_a",
                                    instrument="GOOG/USD", source=source, timeframe="1d")
    return replace(spec, **changes)  # type: ignore[arg-type]


def make(profile: str | None = "balanced", **values: object) -> VolTargetStrategy:
    base = dict(VolTargetSettings.profile_defaults[profile]) if profile else {}
    return VolTargetStrategy(VolTargetSettings(**{**base, **values}), name="vt",
                             instruments=["GOOG/USD"], venues=["venue_a"])


def test_the_balanced_profile_trades_daily_stock_bars() -> None:
    frame = weekday_bars()
    decisions = make().decisions(frame, 100_000.0)
    vol = decisions["vol_annual"].dropna()
    # 1.8 % a day over ~261 weekdays a year: ~29 % annualized (not 1.8 % x sqrt(525,600))
    assert vol.median() == pytest.approx(0.018 * math.sqrt(261), rel=0.25)
    assert (decisions["reason"] == "rebalance").sum() >= 5


def test_annualized_with_the_bars_a_year_of_the_data() -> None:
    frame = weekday_bars()
    per_bar = np.log(frame["close"]).diff().rolling(1440, min_periods=60).std().to_numpy()
    observed = spec_of(frame).periods_per_year
    assert observed == pytest.approx(261.3, abs=0.5)  # weekdays: 5 bars in 7 days
    vol = make(None, estimator="rolling").realized_vols(frame)
    np.testing.assert_allclose(vol, per_bar * math.sqrt(observed), rtol=1e-9)
    # days_per_year states a 24/7 calendar instead: days x 86400 / the data's bar length
    stated = make(None, estimator="rolling", days_per_year=252.0).realized_vols(frame)
    np.testing.assert_allclose(stated, per_bar * math.sqrt(252.0), rtol=1e-9)


def test_live_equals_batch_on_daily_bars() -> None:
    frame = weekday_bars(400)
    live, intents = run_bars(make(), frame, instrument="GOOG/USD")
    batch = make().target_positions(frame, 100_000.0)
    assert len(intents) >= 3
    np.testing.assert_allclose(live, batch, rtol=1e-12, atol=0.0)


def test_a_stated_bar_length_that_disagrees_with_the_data_is_refused() -> None:
    frame = weekday_bars()
    with pytest.raises(ConfigError) as info:
        make(bar_seconds=60.0).bind_feeds([spec_of(frame)])
    (problem,) = info.value.problems
    assert problem.field == "strategies.vt.params.bar_seconds" and problem.value == 60.0
    assert "1d bars (86400 s) of goog" in problem.message
    assert make(bar_seconds=86_400.0).bind_feeds([spec_of(frame)]) is not None  # agrees


def test_a_warm_up_longer_than_the_dataset_is_refused() -> None:
    frame = weekday_bars(50)
    with pytest.raises(ConfigError) as info:
        make().bind_feeds([spec_of(frame)])
    (problem,) = info.value.problems
    assert problem.field == "strategies.vt.params.min_periods_bars"
    assert "60 returns of 1d bars (82 days)" in problem.message
    assert "goog has 50 rows" in problem.message
    make(min_periods_bars=20).bind_feeds([spec_of(frame)])


def test_one_instance_takes_one_bar_length() -> None:
    daily = spec_of(weekday_bars())
    minutes = FeedSpec.continuous(venue="venue_a", instrument="BTC/USD", kind="ohlcv",
                                  timeframe="1m", source="btc")
    strategy = VolTargetStrategy(VolTargetSettings(), name="vt",
                                 instruments=["GOOG/USD", "BTC/USD"], venues=["venue_a"])
    with pytest.raises(ConfigError) as info:
        strategy.bind_feeds([daily, minutes])
    assert info.value.problems[0].field == "strategies.vt.instruments"
    assert "1d: goog; 1m: btc" in info.value.problems[0].message


def test_a_feed_without_a_calendar_needs_one_stated() -> None:
    unknown = FeedSpec("venue_a", "GOOG/USD", "ohlcv", "live-goog", "1d", 86_400.0, None)
    with pytest.raises(ConfigError) as info:
        make().bind_feeds([unknown])
    assert info.value.problems[0].field == "strategies.vt.params.days_per_year"
    assert "live-goog" in info.value.problems[0].message
    make(days_per_year=252.0).bind_feeds([unknown])


def test_an_unbound_strategy_does_not_guess_on_the_live_path() -> None:
    frame = weekday_bars(100)
    bar = bars_from_frame(frame, instrument="GOOG/USD")[0]
    with pytest.raises(ConfigError, match="days_per_year"):
        make().on_bar(bar, FillingContext())
    stated = make(days_per_year=365.0, bar_seconds=86_400.0)  # both stated: no data needed
    assert list(stated.on_bar(bar, FillingContext())) == []  # warming up, flat


def test_profile_horizons_are_reported_on_other_bar_lengths() -> None:
    frame = weekday_bars()
    (warning,) = make().bind_feeds([spec_of(frame)])
    assert warning.startswith("strategies.vt.params.ewma_halflife_bars: 360 is the balanced "
                              "profile's value for 1m bars (6 hours)")
    assert "on the 1d bars of goog it spans 1.4 years" in warning
    assert make(ewma_halflife_bars=20.0).bind_feeds([spec_of(frame)]) == []
    minutes = bind_frame(make(), pd.DataFrame(
        {"close": np.ones(100)}, index=pd.date_range("2024-01-01", periods=100, freq="1min",
                                                     tz="UTC")))
    assert minutes == []
