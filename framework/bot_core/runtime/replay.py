"""The ``replay`` source: datasets of the library played back as a live feed.

Demo mode runs on it (the shipped datasets); any imported dataset works the same way. Each
subscription is served by one dataset of the same kind and instrument: the one recorded on the
subscription's venue, else the first of that instrument in the library (the shipped bars were
recorded on ``venue_a`` and stand in for any venue). Bars of a coarser timeframe than the
dataset's are aggregated from it (open first, high max, low min, close last, volume sum; only
complete bars).

**No look-ahead.** A bar becomes known at its close (``ts_ns + timeframe``) and is delivered
only once the clock has passed it; a quote at its own time. Rows known at or before the start
are history (warm-up reads them through :meth:`ReplaySource.history`); the run gets the rest.

**Pace.** The source only waits on the runtime's clock: a :class:`~bot_core.runtime.clock.
ScaledClock` replays at ``--speed X``, a :class:`~bot_core.runtime.clock.SimulatedClock` as
fast as the scheduler takes events (``--speed max``).

**Gaps and stalls.** A bar missing between two rows counts as a gap; a feed with nothing new for
longer than ``stale_after_s`` of market time while it has rows left is reported stale, and the
``stale_data`` risk check rejects orders on it meanwhile (its last price gets older with every
event of the other feeds).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from bot_core.errors import DataError
from bot_core.market import Bar, Quote
from bot_core.runtime.sources import (
    FeedEvent,
    FeedStatus,
    MarketDataSource,
    Subscription,
    timeframe_ns,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from bot_core.data.manifest import DatasetEntry

__all__ = ["ReplaySettings", "ReplaySource", "library_history"]


class ReplaySettings(BaseModel):
    """``runtime.source_settings`` of the ``replay`` source."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: dt.datetime | None = Field(
        None, description="Market time of the run's start (UTC); rows known before it are "
        "warm-up history. Default: the latest first row of the subscribed datasets, so every "
        "feed has data from the first cycle.")
    end: dt.datetime | None = Field(
        None, description="Market time after which nothing is replayed (UTC); default: the "
        "end of the data.")


@dataclass(slots=True)
class _Feed:
    """One subscription's rows: event time, time known, and values side by side."""

    subscription: Subscription
    dataset: str
    frame: pd.DataFrame
    ts_ns: np.ndarray
    known_ns: np.ndarray
    values: np.ndarray
    status: FeedStatus
    remaining: int = 0
    last_ts_ns: int = 0


def _utc_ns(value: dt.datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return int(value.timestamp() * 1e9)


class ReplaySource(MarketDataSource):
    """Library datasets replayed as a live feed (see the module docstring)."""

    id: ClassVar[str] = "replay"
    live: ClassVar[bool] = False
    Settings: ClassVar[type[BaseModel]] = ReplaySettings

    def __init__(self, settings: BaseModel | None = None, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        self._feeds: list[_Feed] = []
        self._known: np.ndarray | None = None
        self._which: np.ndarray | None = None
        self._rows: np.ndarray | None = None
        self._pos = 0
        self._start_ns = 0

    # -- subscription -------------------------------------------------------------------------

    def subscribe(self, subscriptions: Sequence[Subscription]) -> None:
        import numpy as np

        from bot_core.data.library import list_datasets

        entries = list_datasets()
        for sub in subscriptions:
            entry = _dataset_for(sub, entries)
            frame = _frame(entry, sub)
            ts = np.asarray(frame.index.as_unit("ns").asi8, dtype=np.int64)
            known = ts + sub.period_ns
            values = np.ascontiguousarray(frame.to_numpy(dtype=np.float64))
            self._feeds.append(_Feed(sub, entry.id, frame, ts, known, values, FeedStatus(sub)))
        cfg: ReplaySettings = self.settings  # type: ignore[assignment]
        firsts = [int(f.ts_ns[0]) for f in self._feeds if len(f.ts_ns)]
        self._start_ns = _utc_ns(cfg.start) if cfg.start is not None else max(firsts, default=0)
        end_ns = _utc_ns(cfg.end) if cfg.end is not None else None
        known_parts, which_parts, row_parts = [], [], []
        for index, feed in enumerate(self._feeds):
            live = feed.known_ns > self._start_ns
            if end_ns is not None:
                live &= feed.known_ns <= end_ns
            rows = np.flatnonzero(live)
            feed.remaining = len(rows)
            feed.status.ended = not len(rows)
            if len(rows) and rows[0] > 0:
                feed.last_ts_ns = int(feed.ts_ns[rows[0] - 1])
            known_parts.append(feed.known_ns[rows])
            which_parts.append(np.full(len(rows), index, dtype=np.int64))
            row_parts.append(rows)
        if not known_parts:
            raise DataError("replay: nothing to replay (no subscriptions)")
        if not any(len(part) for part in known_parts):
            from bot_core.errors import ConfigError
            from bot_core.runtime.events import iso_ns

            last = max(int(f.known_ns[-1]) for f in self._feeds if len(f.known_ns))
            window = f"after {iso_ns(self._start_ns)}" + (
                f" and up to {iso_ns(end_ns)}" if end_ns is not None else "")
            raise ConfigError(f"runtime.source_settings: the replay has no data {window} (the "
                              f"datasets end at {iso_ns(last)})")
        known = np.concatenate(known_parts)
        which = np.concatenate(which_parts)
        order = np.lexsort((which, known))
        self._known, self._which = known[order], which[order]
        self._rows = np.concatenate(row_parts)[order]

    def start_ns(self) -> int | None:
        return self._start_ns

    def history(self, subscription: Subscription, rows: int, end_ns: int) -> Any:
        for feed in self._feeds:
            if feed.subscription == subscription:
                upto = int((feed.known_ns <= end_ns).sum())
                return feed.frame.iloc[max(upto - rows, 0):upto]
        return None

    # -- delivery -----------------------------------------------------------------------------

    async def next_events(self, deadline_ns: int) -> Sequence[FeedEvent] | None:
        known, which, rows = self._known, self._which, self._rows
        assert known is not None and which is not None and rows is not None, "subscribe first"
        start = self._pos
        if start >= len(known):
            return None
        clock = self.clock
        now = clock.now_ns()
        first = known.item(start)
        if first > now:
            await clock.sleep_until(min(first, deadline_ns))
            now = clock.now_ns()
            if first > now:
                return []
        stop = int(known.searchsorted(now, side="right"))
        self._pos = stop
        feeds = self._feeds
        events: list[FeedEvent] = []
        for k in range(start, stop):
            feed = feeds[which.item(k)]
            row = rows.item(k)
            events.append((feed.subscription, _event(feed, row)))
            _delivered(feed, row, known.item(k))
        return events

    def status(self) -> Sequence[FeedStatus]:
        """A feed is stale when the data itself has nothing for ``stale_after_s`` (a gap), not
        when the scheduler is behind in taking what is there."""
        now = self.clock.now_ns()
        for feed in self._feeds:
            status = feed.status
            known = int(feed.known_ns.searchsorted(now, side="right")) - 1
            latest = max(feed.known_ns.item(known) if known >= 0 else 0, self._start_ns)
            status.stale = not status.ended and now - latest > self.stale_after_ns
        return [f.status for f in self._feeds]


def _event(feed: _Feed, row: int) -> Bar | Quote:
    sub = feed.subscription
    values = feed.values[row].tolist()
    if sub.kind == "ohlcv":
        return Bar(sub.venue, sub.instrument, feed.ts_ns.item(row), *values)
    return Quote(sub.venue, sub.instrument, feed.ts_ns.item(row), *values)


def _delivered(feed: _Feed, row: int, known_ns: int) -> None:
    status = feed.status
    ts = feed.ts_ns.item(row)
    period = feed.subscription.period_ns
    if period and feed.last_ts_ns and ts - feed.last_ts_ns > period:
        status.gaps += (ts - feed.last_ts_ns) // period - 1
    feed.last_ts_ns = ts
    status.last_event_ns = known_ns
    status.delivered += 1
    feed.remaining -= 1
    status.ended = feed.remaining <= 0


def _dataset_for(sub: Subscription, entries: Sequence[DatasetEntry]) -> DatasetEntry:
    """The dataset serving ``sub``: its venue's first, then any venue's (see module doc)."""
    wanted = sub.period_ns
    usable = []
    for entry in entries:
        if entry.kind != sub.kind or entry.instrument != sub.instrument:
            continue
        if sub.kind == "ohlcv":
            have = timeframe_ns(entry.timeframe) if entry.timeframe else 0
            if not have or wanted % have:
                continue
        usable.append(entry)
    usable.sort(key=lambda e: (e.venue != sub.venue,
                               -(timeframe_ns(e.timeframe) if e.timeframe else 0)))
    if sub.kind == "quotes":
        usable = [e for e in usable if e.venue == sub.venue]
    if not usable:
        raise DataError(f"replay: no dataset in the library has {sub} (see `bot-core data "
                        f"list`; import one with `bot-core data import`)")
    return usable[0]


def _frame(entry: DatasetEntry, sub: Subscription) -> pd.DataFrame:
    from bot_core.data.library import load_dataset

    frame = load_dataset(entry.id)
    have = timeframe_ns(entry.timeframe) if entry.timeframe else 0
    if sub.kind != "ohlcv" or have == sub.period_ns:
        return frame
    ratio = sub.period_ns // have
    rule = f"{sub.period_ns // 1_000_000_000}s"
    grouped = frame.resample(rule, label="left", closed="left")
    bars = grouped.agg({"open": "first", "high": "max", "low": "min", "close": "last",
                        "volume": "sum"})
    return bars[grouped["close"].count() == ratio]


def library_history(subscription: Subscription, rows: int, end_ns: int) -> Any:
    """Warm-up from the dataset library: the last ``rows`` rows of the dataset that would
    serve ``subscription``, known at or before ``end_ns``; None when the library has none."""
    from bot_core.data.library import list_datasets

    try:
        entry = _dataset_for(subscription, list_datasets())
    except DataError:
        return None
    frame = _frame(entry, subscription)
    known = frame.index.as_unit("ns").asi8 + subscription.period_ns
    upto = int((known <= end_ns).sum())
    return frame.iloc[max(upto - rows, 0):upto]
