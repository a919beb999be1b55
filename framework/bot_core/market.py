"""Market data events and instrument symbols.

These are the per-event types of the live path. Backtests hold the same data as columns of
arrays (see :mod:`bot_core.data`); a strategy sees one ``Bar`` or ``Quote`` at a time either way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from bot_core.annualization import YEAR_S

if TYPE_CHECKING:
    import numpy as np

__all__ = ["SYMBOL_PATTERN", "Bar", "FeedSpec", "Quote", "split_symbol"]

SYMBOL_PATTERN = re.compile(r"^[A-Z0-9]{1,20}/[A-Z0-9]{1,20}$")
"""Instrument symbols are ``BASE/QUOTE`` in upper case, e.g. ``BTC/USDT``."""


def split_symbol(symbol: str) -> tuple[str, str]:
    """Split ``BASE/QUOTE`` into its two assets; raise ``ValueError`` naming the symbol if malformed."""
    if not SYMBOL_PATTERN.match(symbol):
        raise ValueError(
            f"instrument {symbol!r} is not of the form BASE/QUOTE (upper-case letters and digits)"
        )
    base, quote = symbol.split("/")
    if base == quote:
        raise ValueError(f"instrument {symbol!r} has the same base and quote asset")
    return base, quote


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar. ``ts_ns`` is the bar's open time in UTC nanoseconds since the epoch."""

    venue: str
    instrument: str
    ts_ns: int
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class Quote:
    """Top of book on one venue at ``ts_ns`` (UTC nanoseconds)."""

    venue: str
    instrument: str
    ts_ns: int
    bid: float
    ask: float
    bid_size: float
    ask_size: float


_SPAN_UNITS = (("year", YEAR_S), ("day", 86_400.0), ("hour", 3_600.0), ("minute", 60.0),
               ("second", 1.0))


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One market-data feed as a strategy receives it: what the data is, its bar length and its
    calendar.

    The host hands a strategy the specs of its feeds before the first event
    (:meth:`bot_core.Strategy.bind_feeds`): a backtest from each dataset's manifest entry and
    timestamps, live trading from the feed the runtime subscribes to. A strategy takes the bar
    length from here, never from a default that could disagree with the data.
    """

    venue: str
    instrument: str
    kind: Literal["ohlcv", "quotes"]
    source: str
    """What messages call the data: the dataset id in a backtest, the feed's name live."""
    timeframe: str | None
    """Bar length (``1m``, ``1h``, ``1d``, ...: ``bot_core.data.TIMEFRAME_MS``) or the quotes'
    sampling interval; None for irregular quotes."""
    bar_seconds: float | None
    """``timeframe`` in seconds (None when irregular)."""
    periods_per_year: float | None
    """Return periods per year of this market (:mod:`bot_core.annualization`): observed over
    the dataset in a backtest, the feed's calendar live; None when unknown."""
    rows: int | None = None
    """Rows the feed holds (a backtest's dataset); None for an open-ended live feed."""

    def span(self, bars: float) -> str:
        """``bars`` bars of this feed as the time they span in its market's calendar: ``"8
        hours"``, ``"60 days"``, ``"1.8 years"`` (480 daily bars of a stock exchange, whose year
        holds ~261 of them); ``"480 bars"`` when neither calendar nor bar length is known."""
        if self.periods_per_year:
            seconds = bars / self.periods_per_year * YEAR_S
        elif self.bar_seconds is not None:
            seconds = bars * self.bar_seconds
        else:
            return f"{bars:g} bars"
        name, unit = next(((n, u) for n, u in _SPAN_UNITS if seconds >= u), _SPAN_UNITS[-1])
        value = seconds / unit
        text = f"{value:.0f}" if abs(value - round(value)) < 0.05 else f"{value:.1f}"
        return f"{text} {name}{'' if text == '1' else 's'}"

    @classmethod
    def from_timestamps(cls, ts_ns: np.ndarray, *, venue: str, instrument: str,
                        kind: Literal["ohlcv", "quotes"] = "ohlcv", source: str = "",
                        timeframe: str | None = None) -> FeedSpec:
        """The spec of a finite dataset (a backtest's): rows and periods per year from its
        timestamps (UTC ns, increasing); the bar length from ``timeframe`` (the manifest's) or,
        for bars without one, from the median spacing of the timestamps."""
        import numpy as np

        from bot_core.annualization import periods_per_year
        from bot_core.data.schema import TIMEFRAME_MS

        ts = np.asarray(ts_ns, dtype=np.int64)
        seconds: float | None = None
        if timeframe is not None:
            seconds = _timeframe_seconds(timeframe)
        elif kind == "ohlcv" and ts.shape[0] > 1:
            seconds = float(np.median(np.diff(ts))) / 1e9
            timeframe = next((tf for tf, ms in TIMEFRAME_MS.items() if ms == seconds * 1e3), None)
        ppy = periods_per_year(ts)
        return cls(venue, instrument, kind, source, timeframe, seconds, ppy if ppy > 0 else None,
                   int(ts.shape[0]))

    @classmethod
    def continuous(cls, *, venue: str, instrument: str, kind: Literal["ohlcv", "quotes"],
                   timeframe: str, source: str = "") -> FeedSpec:
        """The spec of an open-ended feed of a market that trades around the clock (24/7, as
        crypto venues do): 365.25 days a year of ``timeframe`` bars."""
        seconds = _timeframe_seconds(timeframe)
        return cls(venue, instrument, kind, source, timeframe, seconds,
                   YEAR_S / seconds, None)


def _timeframe_seconds(timeframe: str) -> float:
    from bot_core.data.schema import TIMEFRAME_MS

    if timeframe not in TIMEFRAME_MS:
        raise ValueError(f"unknown timeframe {timeframe!r}; expected one of "
                         f"{', '.join(TIMEFRAME_MS)}")
    return TIMEFRAME_MS[timeframe] / 1e3
