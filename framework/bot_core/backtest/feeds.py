"""Market data of a backtest: one feed per dataset, as columns, merged into one timeline.

A backtest replays each feed's rows as :class:`~bot_core.market.Bar` or
:class:`~bot_core.market.Quote` events in time order; at equal timestamps the feeds keep the
order they were given in, so a run is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from bot_core.data.schema import COLUMNS
from bot_core.errors import DataError
from bot_core.market import Bar, FeedSpec, Quote

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Feed", "coverage_gaps", "feed_from_frame", "merge_timeline"]


@dataclass(slots=True)
class Feed:
    """One dataset delivered to one venue."""

    dataset: str
    kind: Literal["ohlcv", "quotes"]
    venue: str
    instrument: str
    ts_ns: np.ndarray
    """int64 UTC nanoseconds, strictly increasing."""
    columns: dict[str, np.ndarray]
    """float64 columns of the kind (open..volume or bid..ask_size)."""
    frame: pd.DataFrame | None = None
    """The source frame (bar strategies' batch kernels read it)."""
    timeframe: str | None = None
    """Bar length (or quote sampling interval) from the dataset's manifest entry; None when
    not stated (bars: taken from the timestamps' spacing, see :meth:`spec`)."""
    _rows: np.ndarray | None = field(default=None, repr=False, compare=False)
    """The kind's columns side by side (one row per event), built on the first event."""
    _spec: FeedSpec | None = field(default=None, repr=False, compare=False)
    """:meth:`spec`, computed once (it scans every timestamp)."""

    def __len__(self) -> int:
        return int(self.ts_ns.shape[0])

    def event(self, row: int) -> Bar | Quote:
        rows = self._rows
        if rows is None:
            rows = self._rows = np.column_stack([self.columns[c] for c in COLUMNS[self.kind]])
        # one row as Python floats in one call (a numpy scalar per column costs twice as much)
        values = rows[row].tolist()
        if self.kind == "ohlcv":
            return Bar(self.venue, self.instrument, self.ts_ns.item(row), *values)
        return Quote(self.venue, self.instrument, self.ts_ns.item(row), *values)

    def spec(self) -> FeedSpec:
        """What strategies and the metrics are told about this feed: its bar length and
        calendar (:meth:`bot_core.FeedSpec.from_timestamps`)."""
        if self._spec is None:
            self._spec = FeedSpec.from_timestamps(
                self.ts_ns, venue=self.venue, instrument=self.instrument, kind=self.kind,
                source=self.dataset, timeframe=self.timeframe)
        return self._spec

    def mark_prices(self) -> np.ndarray:
        """The price positions are marked at after each row: close, or the mid quote."""
        if self.kind == "ohlcv":
            return self.columns["close"]
        mid: np.ndarray = 0.5 * (self.columns["bid"] + self.columns["ask"])
        return mid


def feed_from_frame(frame: pd.DataFrame, *, dataset: str, kind: Literal["ohlcv", "quotes"],
                    venue: str, instrument: str, timeframe: str | None = None) -> Feed:
    """Columns of a dataset frame (UTC DatetimeIndex, float64 columns of ``kind``);
    ``timeframe`` as the manifest states it."""
    missing = [c for c in COLUMNS[kind] if c not in frame.columns]
    if missing:
        raise DataError(f"dataset {dataset}: missing columns {', '.join(missing)} for kind {kind}",
                        dataset=dataset)
    ts = np.asarray(frame.index.as_unit("ns").asi8, dtype=np.int64)
    if len(ts) == 0:
        raise DataError(f"dataset {dataset} has no rows", dataset=dataset)
    if len(ts) > 1 and not bool(np.all(np.diff(ts) > 0)):
        raise DataError(f"dataset {dataset}: timestamps are not strictly increasing",
                        dataset=dataset)
    cols = {c: np.ascontiguousarray(frame[c].to_numpy(dtype=np.float64)) for c in COLUMNS[kind]}
    return Feed(dataset, kind, venue, instrument, ts, cols, frame, timeframe)


def merge_timeline(feeds: list[Feed]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All rows of all feeds in time order: (ts_ns, feed index, row), stable across feeds."""
    ts = np.concatenate([f.ts_ns for f in feeds])
    which = np.concatenate([np.full(len(f), i, dtype=np.int64) for i, f in enumerate(feeds)])
    rows = np.concatenate([np.arange(len(f), dtype=np.int64) for f in feeds])
    order = np.lexsort((which, ts))
    return ts[order], which[order], rows[order]


def coverage_gaps(feeds: list[Feed]) -> list[tuple[int, int]]:
    """Stretches of time no dataset covers, as (last event time before, first event time after).

    A dataset covers its first row's time to its last row's time plus one row spacing (its
    median, the bar length for bars), so the pauses inside one dataset (weekends, a missing
    bar) are never gaps; only datasets that do not overlap or follow each other in time leave
    them. The equity curve has no point inside a gap: the plots break their lines there."""
    if len(feeds) < 2:  # one dataset covers itself
        return []
    spans = []
    for feed in feeds:
        if len(feed) == 0:
            continue
        ts = feed.ts_ns
        spacing = int(np.median(np.diff(ts))) if len(ts) > 1 else 0
        spans.append((int(ts[0]), int(ts[-1]), int(ts[-1]) + spacing))
    spans.sort()
    gaps = []
    last, covered = (spans[0][1], spans[0][2]) if spans else (0, 0)
    for first, final, until in spans[1:]:
        if first > covered:
            gaps.append((last, first))
        last, covered = max(last, final), max(covered, until)
    return gaps
