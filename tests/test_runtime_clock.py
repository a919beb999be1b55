"""The runtime's clocks, and a stop requested while the scheduler waits for market data: the
wait is cancelled at once (nothing sleeps on the wall clock here: the source waits on an event
that never comes)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

import bot_core
from bot_core.runtime.clock import ScaledClock, SimulatedClock, WallClock
from bot_core.runtime.events import ListSink
from bot_core.runtime.session import build_runtime, plan_run
from bot_core.runtime.sources import FeedStatus, MarketDataSource, Subscription


def test_simulated_clock_jumps_and_never_goes_back() -> None:
    clock = SimulatedClock(1_000)
    asyncio.run(clock.sleep_until(5_000))
    assert clock.now_ns() == 5_000
    asyncio.run(clock.sleep_until(2_000))  # the past: returns at once, time stays
    assert clock.now_ns() == 5_000
    clock.advance(10)
    assert clock.now_ns() == 5_010
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)


def test_scaled_clock_runs_speed_times_the_wall() -> None:
    clock = ScaledClock(0, speed=1e12)  # a market hour is 3.6 ns of wall time
    clock.start_at(7_000_000_000_000)
    hour = 3_600_000_000_000
    asyncio.run(clock.sleep_until(7_000_000_000_000 + hour))
    assert clock.now_ns() >= 7_000_000_000_000 + hour
    with pytest.raises(ValueError, match="speed must be > 0"):
        ScaledClock(0, speed=0)


class SilentSource(MarketDataSource):
    """A live source whose market never sends anything: next_events waits forever."""

    id: ClassVar[str] = "silent"
    live: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.waiting = asyncio.Event()
        self.cancelled = False
        self.closed = False
        self.subs: list[Subscription] = []

    def subscribe(self, subscriptions: Sequence[Subscription]) -> None:
        self.subs = list(subscriptions)

    async def next_events(self, deadline_ns: int) -> Any:
        self.waiting.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise

    def status(self) -> Sequence[FeedStatus]:
        return [FeedStatus(s) for s in self.subs]

    async def close(self) -> None:
        self.closed = True


def test_a_stop_while_waiting_for_data_cancels_the_wait_and_shuts_down(tmp_path: Path) -> None:
    config = tmp_path / "quiet.toml"
    config.write_text('extends = "balanced"\nuniverse = "demo"\nname = "quiet"\n'
                      "[strategies.cross_arb]\nenabled = false\n")
    host = bot_core.load_plugins()
    plan = plan_run(host, configs=[config])
    sink = ListSink()

    async def scenario() -> str:
        source = SilentSource(clock=WallClock())
        scheduler = build_runtime(host, plan, clock=WallClock(), sink=sink, source=source,
                                  record_runs=False)
        task = asyncio.ensure_future(scheduler.run())
        await source.waiting.wait()
        scheduler.request_stop("interrupted: SIGTERM")
        reason = await task
        assert source.cancelled and source.closed
        assert not task.cancelled()
        return reason

    assert asyncio.run(scenario()) == "interrupted: SIGTERM"
    (shutdown,) = sink.of("shutdown")
    assert shutdown["reason"] == "interrupted: SIGTERM"
    assert [e["reason"] for e in sink.of("stop")] == ["interrupted: SIGTERM"]
