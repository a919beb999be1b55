"""mean_reversion's windows count bars: on the data it is bound to, a window that can never
fill is refused, and the profiles' windows (made for 1-minute bars) are reported with the time
they span on bars of another length."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bot_core.errors import ConfigError
from bot_core.market import FeedSpec
from bot_core.testing import bind_frame, frame_from_closes, random_walk
from bot_core_mean_reversion import MeanReversionSettings, MeanReversionStrategy


def daily_spec(rows: int, source: str = "goog") -> FeedSpec:
    index = pd.bdate_range("2021-01-04", periods=rows, tz="UTC")
    return FeedSpec.from_timestamps(index.as_unit("ns").asi8, venue="venue_a",
                                    instrument="GOOG/USD", source=source, timeframe="1d")


def make(profile: str | None = "balanced", **values: object) -> MeanReversionStrategy:
    base = dict(MeanReversionSettings.profile_defaults[profile]) if profile else {}
    return MeanReversionStrategy(MeanReversionSettings(**{**base, **values}), name="mr",
                                 instruments=["GOOG/USD"], venues=["venue_a"])


def test_a_window_the_dataset_cannot_fill_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        make().bind_feeds([daily_spec(300)])
    (problem,) = info.value.problems
    assert problem.field == "strategies.mr.params.window_bars" and problem.value == 480
    assert problem.message.startswith("480 1d bars (1.8 years) come before the first z-score, "
                                      "but goog has 300 rows: the strategy could never trade")
    with pytest.raises(ConfigError) as info:
        make(None, window_bars=400, min_periods_bars=350).bind_feeds([daily_spec(300)])
    assert info.value.problems[0].field == "strategies.mr.params.min_periods_bars"
    make(None, window_bars=400, min_periods_bars=50).bind_feeds([daily_spec(300)])


def test_profile_windows_on_daily_bars_are_reported_with_their_time_span() -> None:
    window, holding = make().bind_feeds([daily_spec(780)])
    assert window == ("strategies.mr.params.window_bars: 480 is the balanced profile's value "
                      "for 1m bars (8 hours); on the 1d bars of goog it spans 1.8 years: set "
                      "window_bars for this timeframe, or strategies.mr.timeframe = \"1d\" for "
                      "the profiles' 1d values")
    assert holding.startswith("strategies.mr.params.max_holding_bars: 1440 is the conservative "
                              "and balanced profiles' value for 1m bars (1 day)")
    # chosen for the timeframe: nothing to report
    assert make(window_bars=20, max_holding_bars=60).bind_feeds([daily_spec(780)]) == []
    # the profile's own values for daily bars: nothing to report either
    daily = MeanReversionSettings.timeframe_defaults["1d"]["balanced"]
    assert make(**daily).bind_feeds([daily_spec(780)]) == []
    # ... but they are reported on the 1-minute bars the other profile values are made for
    window, _ = make(**daily).bind_feeds([FeedSpec.continuous(
        venue="venue_a", instrument="GOOG/USD", kind="ohlcv", timeframe="1m", source="ticks")])
    assert window.startswith("strategies.mr.params.window_bars: 40 is the balanced profile's "
                             "value for 1d bars (40 days); on the 1m bars of ticks it spans "
                             "40 minutes")


def test_no_report_on_the_bars_the_profiles_were_made_for() -> None:
    frame = frame_from_closes(random_walk(1, 2_000))
    assert bind_frame(make(), frame) == []
    assert make().feeds == ()  # unbound until the host binds it
    bound = make()
    bind_frame(bound, frame)
    assert bound.feeds[0].timeframe == "1m" and bound.feeds[0].bar_seconds == 60.0
    assert np.isclose(bound.feeds[0].periods_per_year, 365.25 * 1440)
