"""The runtime's one clock: market time, injectable, so tests run in simulated time.

Everything in the runtime that waits or asks the time goes through a :class:`Clock`: the
scheduler's cycles, the market data sources' pacing, staleness, the quarantine window and
``--duration``. Its time is *market time* in UTC nanoseconds: the wall clock for live sources,
the replayed data's time for the ``replay`` source.

======================  ===============================================================
clock                   use
======================  ===============================================================
:class:`WallClock`      live and paper trading: market time is the wall clock
:class:`ScaledClock`    replay at ``--speed X``: market time runs X times the wall clock
:class:`SimulatedClock` replay at ``--speed max`` and tests: waiting jumps to the time
                        waited for at once; nothing ever sleeps
======================  ===============================================================
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

__all__ = ["Clock", "ScaledClock", "SimulatedClock", "WallClock"]


class Clock(Protocol):
    """What the runtime asks of a clock."""

    def now_ns(self) -> int:
        """Market time now, UTC nanoseconds."""
        ...

    async def sleep_until(self, ts_ns: int) -> None:
        """Return once market time has reached ``ts_ns`` (at once when it already has)."""
        ...


class WallClock:
    """Market time is the wall clock (``time.time_ns``)."""

    def now_ns(self) -> int:
        return time.time_ns()

    async def sleep_until(self, ts_ns: int) -> None:
        delay = (ts_ns - time.time_ns()) / 1e9
        await asyncio.sleep(max(delay, 0.0))


class ScaledClock:
    """Market time that starts at ``start_ns`` and runs ``speed`` times as fast as the wall.

    :param start_ns: market time at the moment the clock is created.
    :param speed: market seconds per wall second (> 0).
    """

    def __init__(self, start_ns: int, speed: float) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0, got {speed!r}")
        self.speed = speed
        self._start_ns = start_ns
        self._wall0 = time.perf_counter_ns()

    def now_ns(self) -> int:
        return self._start_ns + int((time.perf_counter_ns() - self._wall0) * self.speed)

    def start_at(self, ts_ns: int) -> None:
        """Set market time to ``ts_ns`` now (a replay's start, before the run)."""
        self._start_ns = ts_ns
        self._wall0 = time.perf_counter_ns()

    async def sleep_until(self, ts_ns: int) -> None:
        delay = (ts_ns - self.now_ns()) / self.speed / 1e9
        await asyncio.sleep(max(delay, 0.0))


class SimulatedClock:
    """Market time that moves only when asked: :meth:`sleep_until` jumps to the time waited
    for (after yielding once to the event loop), :meth:`advance` moves it by hand (a test's
    slow strategy "takes" time this way). Time never goes backwards."""

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns

    def now_ns(self) -> int:
        return self._now

    def start_at(self, ts_ns: int) -> None:
        """Set market time to ``ts_ns`` (a replay's start, before the run)."""
        self._now = ts_ns

    def advance(self, delta_ns: int) -> None:
        """Let ``delta_ns`` of market time pass (``>= 0``)."""
        if delta_ns < 0:
            raise ValueError(f"time cannot go backwards ({delta_ns} ns)")
        self._now += delta_ns

    async def sleep_until(self, ts_ns: int) -> None:
        if ts_ns > self._now:
            self._now = ts_ns
        await asyncio.sleep(0)  # other tasks (signal handling, tests) still get their turn
