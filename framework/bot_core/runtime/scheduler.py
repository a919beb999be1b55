"""The multi-strategy scheduler: one asyncio loop driving every sleeve from one source.

**Cycles.** A cycle is the close of one bar of the finest timeframe in use (``cycle_ns``):
cycle boundaries are the multiples of it after the start. The loop awaits the source's events
up to the next boundary; when the clock passes a boundary the cycle ends: live venues are
polled, the cycle is recorded (promotion evidence), feed status and resources are checked and
the ``on_cycle`` callback (the status table) runs. ``max_cycles`` / ``duration_ns`` end the run
cleanly after that many cycles / that much market time.

**Order of work per event** (events come in time order; one instrument's always in order):

1. every sleeve trading the event's market passes it through its venues and its risk engine
   (:meth:`~bot_core.pipeline.TradingPipeline.mark_bar`): fills, marks, the daily-loss and
   drawdown monitors and liquidation orders happen here, for every sleeve, before any strategy
   of the event runs, so a slow strategy delays no risk check and no liquidation;
2. then each strategy subscribed to exactly that feed (venue, instrument, kind, timeframe)
   decides (:meth:`~bot_core.pipeline.TradingPipeline.deliver`) in config order, sleeve by
   sleeve; its intents go through its own sleeve's risk engine.

**Coalescing.** There is no queue between the source and the strategies: the scheduler takes
what the source has closed by now. A strategy whose last call overran its time budget is
*behind*: of the bars of one feed known at once it gets only the latest, and each bar it does
not get is counted (``skipped_bars``). Venues and risk still see every bar.

**Live venues.** While orders are open at a live (not simulated) venue, the loop also wakes
every ``runtime.venue_poll_s`` of market time to poll it for fills and status changes; every
venue is polled at each cycle's end anyway.

**Shutdown.** :meth:`Scheduler.request_stop` (a signal) ends the loop at once, also while it
waits for data; then each sleeve stops (:meth:`~bot_core.runtime.sleeve.Sleeve.stop`: no new
decisions, open orders cancelled or kept per ``runtime.on_shutdown``, every ``on_stop``,
``bot_core_on_stop(reason)``) and the source closes.
"""

from __future__ import annotations

import asyncio
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot_core.runtime.sources import FeedEvent, Subscription

if TYPE_CHECKING:
    from bot_core.journal.runtime import RuntimeJournals
    from bot_core.runtime.clock import Clock
    from bot_core.runtime.events import EventSink
    from bot_core.runtime.isolation import StrategyHealth
    from bot_core.runtime.resources import ResourceMonitor
    from bot_core.runtime.sleeve import Sleeve
    from bot_core.runtime.sources import MarketDataSource
    from bot_core.telemetry.metrics import SchedulerProbe

__all__ = ["Scheduler", "SchedulerStats"]

_MAX_LATENCY_SAMPLES = 5_000_000


@dataclass(slots=True)
class SchedulerStats:
    """Counters of one run (the load test and the status table read them)."""

    cycles: int = 0
    events: int = 0
    batches: int = 0
    decisions: int = 0
    """Strategy calls on market events."""
    skipped_bars: int = 0
    latency_ns: array[int] = field(default_factory=lambda: array("q"))
    """Bar-to-decision latency of each call: from the moment the scheduler got the event's
    batch from the source to the end of the strategy's decision (its intents judged and sent)."""
    started_ns: int = 0
    last_cycle_ns: int = 0


class Scheduler:
    """Runs sleeves on one source (see the module docstring).

    :param sleeves: the bots, each with its own pipeline; names are unique.
    :param source: the market data source, already subscribed to every sleeve's feeds.
    :param clock: market time; the source waits on the same clock.
    :param sink: runtime events.
    :param cycle_ns: length of one cycle (the finest bar timeframe in use).
    :param max_cycles: stop after this many cycles (None: no limit).
    :param duration_ns: stop after this much market time (None: no limit).
    :param stopwatch: monotonic ns (time budgets, latency, resource sampling interval).
    :param monitors: per sleeve name, its resource monitor (resource limits set).
    :param on_cycle: called after every cycle (the live status table).
    """

    def __init__(self, sleeves: Sequence[Sleeve], source: MarketDataSource, clock: Clock, *,
                 sink: EventSink, cycle_ns: int, max_cycles: int | None = None,
                 duration_ns: int | None = None,
                 stopwatch: Callable[[], int] = time.perf_counter_ns,
                 monitors: dict[str, ResourceMonitor] | None = None,
                 on_cycle: Callable[[Scheduler], None] | None = None) -> None:
        self.sleeves = list(sleeves)
        self.source = source
        self.clock = clock
        self.sink = sink
        self.cycle_ns = cycle_ns
        self.max_cycles = max_cycles
        self.duration_ns = duration_ns
        self.stopwatch = stopwatch
        self.monitors = dict(monitors or {})
        self.on_cycle = on_cycle
        self.stats = SchedulerStats()
        self.cleanup: list[Callable[[], None]] = []
        """Called once the run has shut down (observers unregistered)."""
        self.probe: SchedulerProbe | None = None
        """Told each decision's latency and each cycle's work (the metrics)."""
        self.journals: RuntimeJournals | None = None
        """The bots' decision journals (None: not journaled)."""
        self.reason = ""
        self._stop_reason: str | None = None
        self._task: asyncio.Task[Any] | None = None
        self._waiting = False
        self._last_sample = 0
        self._last_poll_ns = 0
        self._poll_ns = int(min((s.config.runtime.venue_poll_s for s in self.sleeves),
                                default=1.0) * 1e9)
        self._feed_state: dict[Subscription, tuple[bool, bool]] = {}
        self._market: dict[Subscription, list[Sleeve]] = {}
        self._deciders: dict[Subscription, list[tuple[Sleeve, str, StrategyHealth]]] = {}
        for sleeve in self.sleeves:
            for sub in sleeve.market_subscriptions():
                self._market.setdefault(sub, []).append(sleeve)
            for name, subs in sleeve.subscriptions.items():
                for sub in subs:
                    self._deciders.setdefault(sub, []).append(
                        (sleeve, name, sleeve.health[name]))

    @staticmethod
    def subscriptions(sleeves: Sequence[Sleeve]) -> list[Subscription]:
        """Every feed the sleeves need, once, in a stable order (kind, instrument, venue,
        timeframe)."""
        subs = {sub for sleeve in sleeves for feed in sleeve.subscriptions.values()
                for sub in feed}
        return sorted(subs, key=lambda s: (s.kind, s.instrument, s.venue, s.period_ns))

    # -- control ------------------------------------------------------------------------------

    def request_stop(self, reason: str) -> None:
        """End the run gracefully (first signal); a wait for data is interrupted at once."""
        if self._stop_reason is not None:
            return
        self._stop_reason = reason
        if self._waiting and self._task is not None:
            self._task.cancel()

    @property
    def stopping(self) -> bool:
        return self._stop_reason is not None

    # -- the loop -----------------------------------------------------------------------------

    async def run(self) -> str:
        """Run until the data, cycles or duration run out, a stop is requested, or no sleeve
        trades any more; then shut every sleeve down. Returns the reason."""
        self._task = asyncio.current_task()
        clock, source = self.clock, self.source
        start = clock.now_ns()
        self.stats.started_ns = start
        self._last_sample = self.stopwatch()
        self._last_poll_ns = start
        boundary = (start // self.cycle_ns + 1) * self.cycle_ns
        end = start + self.duration_ns if self.duration_ns is not None else None
        reason = "completed"
        try:
            await source.connect()
            while self._stop_reason is None:
                deadline = boundary if end is None else min(boundary, end)
                polling = self._polling()
                if polling:
                    deadline = min(deadline, self._last_poll_ns + self._poll_ns)
                try:
                    self._waiting = True
                    batch = await source.next_events(deadline)
                except asyncio.CancelledError:
                    if self._stop_reason is None:
                        raise
                    if self._task is not None:
                        self._task.uncancel()
                    break
                finally:
                    self._waiting = False
                if batch is None:
                    break  # the data ran out
                if batch:
                    self._dispatch(batch)
                now = clock.now_ns()
                if polling and now >= self._last_poll_ns + self._poll_ns:
                    self._poll(polling, now)
                finished = False
                while now >= boundary and not finished and self._stop_reason is None:
                    self._end_cycle(boundary)
                    boundary += self.cycle_ns
                    finished = self.max_cycles is not None and \
                        self.stats.cycles >= self.max_cycles
                if finished or (end is not None and now >= end):
                    break
                if not any(s.active for s in self.sleeves):
                    reason = self._inactive_reason()
                    break
        except BaseException as exc:
            reason = f"error: {type(exc).__name__}: {exc}"
            raise
        finally:
            if self._stop_reason is not None:
                reason = self._stop_reason
            self.reason = reason
            await self._shutdown(reason)
        return reason

    def _polling(self) -> list[Sleeve]:
        """Sleeves with orders open at a live venue (polled every ``runtime.venue_poll_s``
        between cycles; a simulated venue fills on market data)."""
        return [s for s in self.sleeves if s.polls_live_venue]

    def _poll(self, sleeves: list[Sleeve], now_ns: int) -> None:
        self._last_poll_ns = now_ns
        for sleeve in sleeves:
            try:
                sleeve.poll(now_ns)
            except Exception as exc:  # a venue failed
                sleeve.fail(exc)
                self._stop_sleeve(sleeve, sleeve.failed)

    def _inactive_reason(self) -> str:
        failed = [s.failed for s in self.sleeves if s.failed]
        return failed[0] if len(failed) == len(self.sleeves) else "quarantined"

    def _dispatch(self, batch: Sequence[FeedEvent]) -> None:
        stopwatch = self.stopwatch
        received = stopwatch()
        stats = self.stats
        latency = stats.latency_ns
        record = len(latency) < _MAX_LATENCY_SAMPLES
        market, deciders = self._market, self._deciders
        last: dict[Subscription, int] | None = None
        probe = self.probe
        stats.batches += 1
        stats.events += len(batch)
        for index, (sub, event) in enumerate(batch):
            for sleeve in market.get(sub, ()):
                if sleeve.failed or sleeve.stop_reason:
                    continue
                try:
                    sleeve.mark(event)
                except Exception as exc:  # a venue, the risk engine or an observer failed
                    sleeve.fail(exc)
            for sleeve, name, health in deciders.get(sub, ()):
                if not health.deciding or sleeve.failed:
                    continue
                if health.behind:
                    if last is None:
                        last = {s: i for i, (s, _) in enumerate(batch)}
                    if last[sub] != index:
                        health.skipped_bars += 1
                        stats.skipped_bars += 1
                        continue
                try:
                    sleeve.deliver(name, event)
                except Exception as exc:
                    sleeve.fail(exc)
                stats.decisions += 1
                if record or probe is not None:
                    elapsed = stopwatch() - received
                    if record:
                        latency.append(elapsed)
                    if probe is not None:
                        probe.decided(sleeve.name, name, elapsed)
        for sleeve in self.sleeves:
            sleeve.settle()
            if sleeve.failed and not sleeve.stop_reason:
                self._stop_sleeve(sleeve, sleeve.failed)
        if probe is not None:
            probe.dispatched(stopwatch() - received)

    def _end_cycle(self, boundary: int) -> None:
        started = self.stopwatch()
        self._last_poll_ns = boundary  # each sleeve's end_cycle polls every venue
        self.stats.cycles += 1
        self.stats.last_cycle_ns = boundary
        for sleeve in self.sleeves:
            if sleeve.failed or sleeve.stop_reason:
                continue
            try:
                sleeve.end_cycle(boundary)
            except Exception as exc:
                sleeve.fail(exc)
                self._stop_sleeve(sleeve, sleeve.failed)
        self._check_feeds(boundary)
        self._shed(boundary)
        if self.probe is not None:
            self.probe.cycle_ended(self, boundary, self.stopwatch() - started)
        if self.on_cycle is not None:
            self.on_cycle(self)

    def _check_feeds(self, ts_ns: int) -> None:
        for status in self.source.status():
            sub = status.subscription
            state = (status.stale, status.ended)
            if self._feed_state.get(sub, (False, False)) == state:
                continue
            self._feed_state[sub] = state
            for sleeve in self._market.get(sub, ()):
                self.sink.emit("feed", sleeve.name, ts_ns, **status.as_dict())

    def _shed(self, ts_ns: int) -> None:
        """Resource limits: sample each sleeve's monitor every ``sample_interval_s`` and pause
        or resume strategies as :func:`bot_core.runtime.resources.shed_plan` says."""
        if not self.monitors:
            return
        now = self.stopwatch()
        interval = min(m.limits.sample_interval_s for m in self.monitors.values())
        if now - self._last_sample < interval * 1e9:
            return
        self._last_sample = now
        from bot_core.runtime.resources import StrategyLoad, shed_plan

        for sleeve in self.sleeves:
            monitor = self.monitors.get(sleeve.name)
            if monitor is None or sleeve.stop_reason:
                continue
            breaches = monitor.breaches(monitor.sample())
            loads = [StrategyLoad(h.key, sleeve.config.strategies[h.name].priority,
                                  bool(h.paused))
                     for h in sleeve.strategies() if not (h.quarantined or h.held)]
            plan = shed_plan(breaches, loads)
            if not plan.changes:
                if breaches:
                    sleeve.pipeline.host.on_resource_breach(sleeve.run, breaches, (), (), ts_ns)
                continue
            by_key = {h.key: h for h in sleeve.strategies()}
            for key in plan.pause:
                by_key[key].paused = plan.reason
            for key in plan.resume:
                by_key[key].paused = ""
            self.sink.emit("shed", sleeve.name, ts_ns, pause=list(plan.pause),
                           resume=list(plan.resume), reason=plan.reason)
            sleeve.pipeline.host.on_resource_breach(sleeve.run, breaches, plan.pause, plan.resume,
                                                    ts_ns)

    # -- shutdown -----------------------------------------------------------------------------

    def _stop_sleeve(self, sleeve: Sleeve, reason: str) -> None:
        try:
            sleeve.stop(reason)
        except Exception as exc:  # the other sleeves still stop cleanly
            self.sink.emit("fault", sleeve.name, self.clock.now_ns(), strategy="",
                           kind="error", detail=f"stop failed: {type(exc).__name__}: {exc}")

    async def _shutdown(self, reason: str) -> None:
        for sleeve in self.sleeves:
            if sleeve.stop_reason:
                continue
            mine = reason
            if sleeve.failed:
                mine = sleeve.failed
            elif not sleeve.active and reason == "completed":
                mine = "quarantined"
            self._stop_sleeve(sleeve, mine)
        try:
            await self.source.close()
        finally:
            for sleeve in self.sleeves:
                status = sleeve.status()
                self.sink.emit("stop", sleeve.name, self.clock.now_ns(),
                               reason=sleeve.stop_reason, cycles=self.stats.cycles,
                               equity=status["equity"], pnl=status["pnl"])
            for done in self.cleanup:
                done()

    @property
    def exit_code(self) -> int:
        """0, or 1 when every sleeve stopped on its own (failed, or all its strategies
        quarantined)."""
        return 0 if any(not (s.failed or all(h.quarantined for h in s.health.values()))
                        for s in self.sleeves) else 1
