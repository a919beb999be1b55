"""Feeds: one dataset's columns, replayed as the events strategies see."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bot_core.backtest.feeds import Feed, coverage_gaps, feed_from_frame
from bot_core.errors import DataError
from bot_core.market import Bar, Quote

from .conftest import MINUTE_NS, START_NS, make_bars


def test_bar_events_carry_the_rows_values_as_python_numbers() -> None:
    frame = make_bars(50, seed=3)
    feed = feed_from_frame(frame, dataset="d", kind="ohlcv", venue="venue_a",
                           instrument="BTC/USDT")
    for row in (0, 17, 49):
        bar = feed.event(row)
        assert isinstance(bar, Bar)
        assert (bar.venue, bar.instrument, bar.ts_ns) == ("venue_a", "BTC/USDT",
                                                          START_NS + row * MINUTE_NS)
        values = (bar.open, bar.high, bar.low, bar.close, bar.volume)
        # the same doubles, bit for bit, and plain floats (not numpy scalars)
        assert values == tuple(frame.iloc[row][["open", "high", "low", "close", "volume"]])
        assert all(type(v) is float for v in values) and type(bar.ts_ns) is int
    assert feed.mark_prices() is feed.columns["close"]


def test_quote_events_and_mid_marks() -> None:
    index = pd.DatetimeIndex(START_NS + np.arange(3, dtype=np.int64) * 1_000_000_000,
                             tz="UTC", name="timestamp")
    frame = pd.DataFrame({"bid": [10.0, 10.5, 11.0], "ask": [10.2, 10.7, 11.4],
                          "bid_size": [1.0, 2.0, 3.0], "ask_size": [4.0, 5.0, 6.0]}, index=index)
    feed = feed_from_frame(frame, dataset="q", kind="quotes", venue="venue_b",
                           instrument="ETH/USDT")
    quote = feed.event(2)
    assert isinstance(quote, Quote)
    assert (quote.ts_ns, quote.bid, quote.ask, quote.bid_size, quote.ask_size) == \
        (START_NS + 2_000_000_000, 11.0, 11.4, 3.0, 6.0)
    np.testing.assert_array_equal(feed.mark_prices(), [10.1, 10.6, 11.2])


def test_a_frame_without_the_kinds_columns_or_with_unordered_times_is_refused() -> None:
    frame = make_bars(5)
    with pytest.raises(DataError, match="missing columns volume"):
        feed_from_frame(frame.drop(columns="volume"), dataset="d", kind="ohlcv",
                        venue="v", instrument="BTC/USDT")
    with pytest.raises(DataError, match="not strictly increasing"):
        feed_from_frame(frame.iloc[::-1], dataset="d", kind="ohlcv", venue="v",
                        instrument="BTC/USDT")



def _feed(times: list[str]) -> Feed:
    index = pd.DatetimeIndex(times, tz="UTC", name="timestamp")
    frame = pd.DataFrame({c: np.ones(len(index)) for c in ("open", "high", "low", "close",
                                                          "volume")}, index=index)
    return feed_from_frame(frame, dataset="d", kind="ohlcv", venue="v", instrument="BTC/USDT")


def test_only_time_no_dataset_covers_is_a_gap() -> None:
    days = ["2024-01-04", "2024-01-05", "2024-01-08", "2024-01-09"]  # Thu, Fri, Mon, Tue
    assert coverage_gaps([_feed(days)]) == []  # a weekend inside one dataset is no gap
    first = _feed(["2024-01-01 00:00", "2024-01-01 00:01", "2024-01-01 00:02"])
    follows = _feed(["2024-01-01 00:03", "2024-01-01 00:04"])  # the next bar after first's
    overlaps = _feed(["2024-01-01 00:01", "2024-01-01 00:05"])
    later = _feed(["2024-02-01 00:00", "2024-02-01 00:01"])
    assert coverage_gaps([first, follows, overlaps]) == []
    assert coverage_gaps([later, first, overlaps]) == [(int(overlaps.ts_ns[-1]),
                                                        int(later.ts_ns[0]))]
