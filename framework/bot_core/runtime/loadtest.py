"""The scheduler under load: many strategy instances on a synthetic feed at maximum speed.

``bot-core loadtest scheduler`` and ``benchmarks/bench_scheduler.py`` run this: one bot whose
``strategies`` instances of the shipped ``mean_reversion`` strategy (short window, so they
trade) are spread round-robin over ``instruments`` synthetic markets (random walks of 1-minute
bars, ``SYN<i>/USDT`` on ``venue_a``), under the balanced profile's limits, through the real
scheduler, pipeline, risk engine and paper venue, on a simulated clock (no waiting between bars).

Measured: market events per second (wall time), bar-to-decision latency (from the moment the
scheduler has a bar to the end of each strategy's decision on it, intents judged and sent: p50,
p99, max), bars skipped by coalescing, decisions, orders, and the process's peak RSS.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from bot_core.market import Bar
from bot_core.runtime.sources import FeedEvent, FeedStatus, MarketDataSource, Subscription

if TYPE_CHECKING:
    from bot_core.config.resolve import ResolvedConfig
    from bot_core.plugins import PluginHost
    from bot_core.runtime.scheduler import Scheduler

__all__ = ["LoadReport", "SyntheticSource", "loadtest_config", "run_loadtest"]

MINUTE_NS = 60 * 1_000_000_000
START_NS = 1_704_067_200 * 1_000_000_000
"""2024-01-01 00:00 UTC: where the synthetic markets open."""


class SyntheticSource(MarketDataSource):
    """Random-walk 1-minute bars for every subscription, forever, deterministic per seed.

    Not registered as a plugin: it exists for load tests (``live`` is False, like a replay).
    """

    id: ClassVar[str] = "synthetic"
    live: ClassVar[bool] = False

    def __init__(self, *args: Any, seed: int = 7, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rng = random.Random(seed)
        self._subs: list[Subscription] = []
        self._price: list[float] = []
        self._status: list[FeedStatus] = []
        self._next_open = START_NS

    def subscribe(self, subscriptions: Sequence[Subscription]) -> None:
        self._subs = [s for s in subscriptions if s.kind == "ohlcv"]
        self._price = [100.0 * (1 + i) for i in range(len(self._subs))]
        self._status = [FeedStatus(s) for s in self._subs]

    def start_ns(self) -> int | None:
        return START_NS

    async def next_events(self, deadline_ns: int) -> Sequence[FeedEvent] | None:
        close = self._next_open + MINUTE_NS
        if close > self.clock.now_ns():
            await self.clock.sleep_until(min(close, deadline_ns))
            if close > self.clock.now_ns():
                return []
        events: list[FeedEvent] = []
        gauss = self._rng.gauss
        for index, sub in enumerate(self._subs):
            open_ = self._price[index]
            path = [open_ * math.exp(0.002 * gauss(0.0, 1.0)) for _ in range(3)]
            close_price = path[-1]
            self._price[index] = close_price
            bar = Bar(sub.venue, sub.instrument, self._next_open, open_, max(open_, *path),
                      min(open_, *path), close_price, 1_000.0)
            events.append((sub, bar))
            status = self._status[index]
            status.delivered += 1
            status.last_event_ns = close
        self._next_open = close
        return events

    def status(self) -> Sequence[FeedStatus]:
        return self._status


def loadtest_config(strategies: int, instruments: int) -> ResolvedConfig:
    """The balanced profile's limits over ``instruments`` synthetic markets, with
    ``strategies`` mean_reversion instances spread over them."""
    from bot_core.config.models import BotConfig
    from bot_core.config.resolve import ResolvedConfig, resolve_config

    base = resolve_config(preset="balanced", environ={}).config
    data = base.model_dump(mode="json")
    symbols = [f"SYN{i}/USDT" for i in range(instruments)]
    data.update(name="loadtest", instruments=symbols, buckets={})
    data["runtime"]["resource_limits"] = {}
    data["risk"]["max_orders_per_minute"] = 100_000
    data["risk"]["check_settings"] = {"stale_data": {"max_age_s": 600}}
    # no fees or slippage: on random walks the costs alone would bleed the bot into a drawdown
    # liquidation within days of bars, after which it sends no orders (a lighter load)
    costs = {"maker_fee_bps": 0.0, "taker_fee_bps": 0.0, "slippage_bps": 0.0,
             "volume_impact_bps": 0.0}
    data["venues"] = {"venue_a": {"adapter": "paper", "settings": costs}}
    data["strategies"] = {
        f"mr{n:03d}": {"plugin": "mean_reversion", "instruments": [symbols[n % instruments]],
                       "venues": ["venue_a"], "warm_up_bars": 0,
                       "params": {"window_bars": 20 + n % 20, "entry_z": 1.5,
                                  "equity_pct": 0.5, "max_holding_bars": 30}}
        for n in range(strategies)}
    return ResolvedConfig(BotConfig.model_validate(data), {}, {})


@dataclass(slots=True)
class LoadReport:
    strategies: int
    instruments: int
    cycles: int
    events: int
    decisions: int
    """Strategy calls on bars."""
    orders: int
    elapsed_s: float
    cpu_s: float
    """CPU time of the process over the measurement (the machine may be shared)."""
    events_per_s: float
    decisions_per_s: float
    latency_p50_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    skipped_bars: int
    peak_rss_mb: float
    trading_state: str
    """The bot's trading state at the end (ACTIVE: the load was the same throughout)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def peak_rss_mb() -> float:
    """The process's peak resident memory so far, MiB."""
    try:
        import resource
    except ImportError:  # Windows
        import psutil

        info = psutil.Process().memory_info()
        return float(getattr(info, "peak_wset", info.rss)) / 2**20
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def run_loadtest(host: PluginHost, *, strategies: int, instruments: int,
                 duration_s: float | None = None, cycles: int | None = None,
                 warmup_cycles: int = 5,
                 stopwatch: Callable[[], int] = time.perf_counter_ns,
                 attach: Callable[[Scheduler], None] | None = None) -> LoadReport:
    """Run the load (see the module docstring) for ``duration_s`` wall seconds or ``cycles``
    cycles, whichever ends first, after ``warmup_cycles`` (the first calls load compiled
    kernels) that are not measured. ``stopwatch`` measures latency and time budgets (wall
    time by default; ``time.thread_time_ns`` leaves out the time the OS gave other processes).
    ``attach`` is given the built scheduler before it runs (the telemetry benchmark attaches
    metrics and watchers)."""
    import numpy as np

    from bot_core.runtime.clock import SimulatedClock
    from bot_core.runtime.events import ListSink
    from bot_core.runtime.session import RunPlan, build_runtime

    clock = SimulatedClock()
    plan = RunPlan("demo", [loadtest_config(strategies, instruments)], ["loadtest"], "synthetic")
    sink = ListSink(kinds={"fault", "quarantine"})
    source = SyntheticSource(clock=clock)
    started = [0.0]
    cpu = [0.0]
    counted = [0]

    def deadline(scheduler: Scheduler) -> None:
        stats = scheduler.stats
        if stats.cycles == warmup_cycles:  # compiled kernels are loaded: measure from here
            del stats.latency_ns[:]
            stats.events = stats.decisions = stats.skipped_bars = 0
            counted[0] = stats.cycles
            started[0] = time.perf_counter()
            cpu[0] = time.process_time()
        if duration_s is not None and time.perf_counter() - started[0] >= duration_s:
            scheduler.request_stop("completed")

    scheduler = build_runtime(host, plan, clock=clock, sink=sink, source=source,
                              max_cycles=None if cycles is None else cycles + warmup_cycles,
                              record_runs=False, on_cycle=deadline, stopwatch=stopwatch)
    if attach is not None:
        attach(scheduler)
    started[0] = time.perf_counter()
    asyncio.run(scheduler.run())
    elapsed = time.perf_counter() - started[0]
    cpu_s = time.process_time() - cpu[0]
    stats = scheduler.stats
    latency = np.frombuffer(stats.latency_ns, dtype=np.int64) / 1e6 if stats.latency_ns \
        else np.zeros(1)
    pipeline = scheduler.sleeves[0].pipeline
    return LoadReport(
        strategies=strategies, instruments=instruments, cycles=stats.cycles - counted[0],
        events=stats.events, decisions=stats.decisions, orders=len(pipeline.orders),
        elapsed_s=elapsed, cpu_s=cpu_s, events_per_s=stats.events / elapsed,
        decisions_per_s=stats.decisions / elapsed,
        latency_p50_ms=float(np.percentile(latency, 50)),
        latency_p99_ms=float(np.percentile(latency, 99)),
        latency_max_ms=float(latency.max()), skipped_bars=stats.skipped_bars,
        peak_rss_mb=peak_rss_mb(), trading_state=pipeline.risk.state.value)
