"""Trading-day arithmetic in a configured timezone, DST-safe.

A trading day ``D`` starts at ``trading_day_start`` local time on date ``D`` in ``timezone`` and
ends where day ``D + 1`` starts. Boundaries are computed with :mod:`zoneinfo`, so a day is 23 or
25 hours long across a DST change. A start time that does not exist on a spring-forward date
(01:30 in Europe/London on the last Sunday of March) resolves with the offset in force before
the change (``fold=0``), and a start time that exists twice resolves to its first occurrence;
either way the day of an instant is defined by the boundaries themselves, so every instant
belongs to exactly one trading day and boundaries strictly increase.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

__all__ = ["TradingCalendar"]

_NS = 1_000_000_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class TradingCalendar:
    """Maps UTC nanosecond timestamps to trading days and their boundaries."""

    def __init__(self, timezone: str = "UTC", day_start: dt.time = dt.time(0, 0)) -> None:
        self.tz = ZoneInfo(timezone)
        self.day_start = day_start.replace(tzinfo=None)

    def boundary_ns(self, day: dt.date) -> int:
        """UTC nanoseconds at which trading day ``day`` begins."""
        local = dt.datetime.combine(day, self.day_start, tzinfo=self.tz)
        delta = local.astimezone(dt.UTC) - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * _NS + delta.microseconds * 1_000

    def day_of(self, ts_ns: int) -> dt.date:
        """The trading day that ``ts_ns`` (UTC nanoseconds) belongs to."""
        seconds, rest_ns = divmod(ts_ns, _NS)
        instant = _EPOCH + dt.timedelta(seconds=seconds, microseconds=rest_ns // 1_000)
        day = instant.astimezone(self.tz).date()
        while ts_ns < self.boundary_ns(day):
            day -= dt.timedelta(days=1)
        while ts_ns >= self.boundary_ns(day + dt.timedelta(days=1)):
            day += dt.timedelta(days=1)
        return day

    def next_boundary_ns(self, day: dt.date) -> int:
        """When the trading day after ``day`` begins."""
        return self.boundary_ns(day + dt.timedelta(days=1))

    def boundaries(self, first_ns: int, last_ns: int) -> list[int]:
        """Every boundary a run from ``first_ns`` to ``last_ns`` crosses, in order, and the
        first one after ``last_ns`` (where the day of the last event ends)."""
        # boundaries strictly increase, so the day a boundary starts is the next date
        one = dt.timedelta(days=1)
        day = self.day_of(first_ns) + one
        out = [self.boundary_ns(day)]
        while out[-1] <= last_ns:
            day += one
            out.append(self.boundary_ns(day))
        return out
