"""The data a strategy is told about (``FeedSpec``) and the one way the host binds it
(``bind_strategy_feeds``): which feeds each strategy gets, and where a refused value came from."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from pydantic import Field

from bot_core.errors import ConfigError
from bot_core.market import FeedSpec
from bot_core.strategy import Strategy, StrategySettings, bind_strategy_feeds

DAY_NS = 86_400 * 10**9


def test_a_dataset_spec_takes_the_stated_timeframe_and_observes_the_calendar() -> None:
    ts = pd.bdate_range("2024-01-01", periods=260, tz="UTC").as_unit("ns").asi8
    spec = FeedSpec.from_timestamps(ts, venue="v", instrument="GOOG/USD", source="goog",
                                    timeframe="1d")
    assert (spec.timeframe, spec.bar_seconds, spec.rows) == ("1d", 86_400.0, 260)
    assert spec.periods_per_year == pytest.approx(365.25 * 5 / 7, rel=0.01)
    # bars without a stated timeframe: from the spacing; irregular quotes: none
    minutes = np.arange(5, dtype=np.int64) * 60 * 10**9
    assert FeedSpec.from_timestamps(minutes, venue="v", instrument="B/U").timeframe == "1m"
    odd = FeedSpec.from_timestamps(minutes * 7, venue="v", instrument="B/U")
    assert (odd.timeframe, odd.bar_seconds) == (None, 420.0)
    quotes = FeedSpec.from_timestamps(minutes, venue="v", instrument="B/U", kind="quotes")
    assert (quotes.timeframe, quotes.bar_seconds) == (None, None)
    single = FeedSpec.from_timestamps(minutes[:1], venue="v", instrument="B/U", timeframe="1m")
    assert single.periods_per_year is None
    with pytest.raises(ValueError, match="unknown timeframe '7m'"):
        FeedSpec.from_timestamps(minutes, venue="v", instrument="B/U", timeframe="7m")


def test_a_live_feed_spec_and_time_spans() -> None:
    live = FeedSpec.continuous(venue="v", instrument="B/U", kind="ohlcv", timeframe="1h")
    assert (live.rows, live.periods_per_year) == (None, 365.25 * 24)
    assert [live.span(n) for n in (1, 8, 36, 24 * 400)] == \
        ["1 hour", "8 hours", "1.5 days", "1.1 years"]
    assert FeedSpec("v", "B/U", "quotes", "q", None, None, None).span(30) == "30 bars"


class _Settings(StrategySettings):
    window_bars: int = Field(10, ge=2, description="Bars in the window, [2, inf).")
    profile_timeframe: ClassVar[str | None] = "1m"
    profile_defaults: ClassVar[dict[str, dict[str, Any]]] = {"balanced": {"window_bars": 480}}


class _Windowed(Strategy):
    id = "windowed"
    Settings = _Settings
    data_kind = "ohlcv"

    def on_bar(self, bar: Any, ctx: Any) -> list[Any]:
        return []

    def bind_feeds(self, feeds: Any) -> list[str]:
        warnings = super().bind_feeds(feeds)
        for spec in self.feeds:
            if spec.rows is not None and spec.rows <= self.settings.window_bars:
                raise self.config_error("params.window_bars", f"longer than {spec.source}")
        return warnings


def _spec(instrument: str, rows: int, timeframe: str = "1d", kind: str = "ohlcv",
          venue: str = "v") -> FeedSpec:
    ts = np.arange(rows, dtype=np.int64) * DAY_NS
    return FeedSpec.from_timestamps(ts, venue=venue, instrument=instrument, kind=kind,  # type: ignore[arg-type]
                                    source=instrument.lower().replace("/", "-"),
                                    timeframe=timeframe)


def test_each_strategy_gets_its_own_feeds_and_problems_name_their_source() -> None:
    short = _Windowed(_Settings(window_bars=480), name="short", instruments=["A/U"],
                      venues=["v"])
    fine = _Windowed(_Settings(window_bars=20), name="fine", instruments=["A/U", "B/U"],
                     venues=["v"])
    other = _Windowed(_Settings(window_bars=500), name="other", instruments=["B/U"],
                      venues=["v"])
    feeds = [_spec("A/U", 300), _spec("B/U", 300), _spec("A/U", 300, kind="quotes"),
             _spec("A/U", 300, venue="w")]
    sources = {"strategies.short.params.window_bars": "preset:balanced",
               "strategies.other.params.window_bars": "--param window_bars"}
    with pytest.raises(ConfigError) as info:
        bind_strategy_feeds([short, fine, other], feeds, sources=sources)
    assert [str(p) for p in info.value.problems] == [
        "preset:balanced: strategies.short.params.window_bars: longer than a-u (got 480)",
        "--param window_bars: strategies.other.params.window_bars: longer than b-u (got 500)",
    ]
    assert [(f.instrument, f.kind, f.venue) for f in fine.feeds] == \
        [("A/U", "ohlcv", "v"), ("B/U", "ohlcv", "v")]
    (warning,) = bind_strategy_feeds([_Windowed(_Settings(window_bars=480), name="w",
                                                instruments=["A/U"], venues=["v"])],
                                     [_spec("A/U", 1000)])
    assert warning == ("strategies.w.params.window_bars: 480 is the balanced profile's value "
                       "for 1m bars (8 hours); on the 1d bars of a-u it spans 1.3 years: set "
                       "window_bars for this timeframe")
    unset = _Windowed(_Settings(window_bars=400), name="unset", instruments=["A/U"])
    with pytest.raises(ConfigError, match=r"^default: strategies\.unset\.params\.window_bars"):
        bind_strategy_feeds([unset], feeds)
