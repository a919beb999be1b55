"""A running bot over its resource limits: strategies shed in priority order, risk keeps going,
recovery resumes them, and ``bot_core_on_resource_breach`` reports each step.

The scheduler is real (demo replay of the shipped data on a simulated clock); the resource
readings are scripted, so the test says exactly when the bot is over, recovering or clear.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from typing import Any

import bot_core
from bot_core.config.models import ResourceLimits
from bot_core.runinfo import RunInfo
from bot_core.runtime.clock import SimulatedClock
from bot_core.runtime.events import ListSink
from bot_core.runtime.resources import Breach, ResourceMonitor, ResourceSample
from bot_core.runtime.session import build_runtime, plan_run


class ScriptedMonitor(ResourceMonitor):
    """The real monitor's breach logic (hysteresis included) over scripted RSS readings."""

    def __init__(self, limits: ResourceLimits, readings: Sequence[float]) -> None:
        super().__init__(limits, open_orders=lambda: 0)
        self._readings: Iterator[float] = iter(readings)
        self.last = 0.0

    def sample(self) -> ResourceSample:
        self.last = next(self._readings, self.last)
        return ResourceSample(wall_ns=0, rss_mb=self.last, cpu_pct=0.0, open_orders=0)


class Probe:
    def __init__(self) -> None:
        self.calls: list[tuple[list[str], tuple[str, ...], tuple[str, ...]]] = []

    @bot_core.hookimpl
    def bot_core_on_resource_breach(self, run: RunInfo, breaches: Sequence[Breach],
                                    paused: Sequence[str], resumed: Sequence[str],
                                    ts_ns: int) -> None:
        self.calls.append(([f"{b.resource}:{'over' if b.over else 'recovering'}" for b in breaches],
                           tuple(paused), tuple(resumed)))


def test_shedding_pauses_lowest_priority_first_and_recovery_resumes(bot_core_home: Any) -> None:
    host = bot_core.load_plugins()
    env = {
        "BOT_CORE_RUNTIME__RESOURCE_LIMITS__MAX_RSS_MB": "1000",
        "BOT_CORE_RUNTIME__RESOURCE_LIMITS__SAMPLE_INTERVAL_S": "0.5",
        "BOT_CORE_RUNTIME__RESOURCE_LIMITS__RECOVERY_SAMPLES": "2",
        "BOT_CORE_STRATEGIES__MEAN_REVERSION__PRIORITY": "10",
        "BOT_CORE_STRATEGIES__CROSS_ARB__PRIORITY": "90",
    }
    plan = plan_run(host, presets=["balanced"], environ=env)
    # The stopwatch: real time (strategies' time budgets) plus one second per cycle, so the
    # monitor is read once per cycle.
    offset = [0]
    sink = ListSink({"shed"})
    scheduler = build_runtime(host, plan, clock=SimulatedClock(), sink=sink, max_cycles=40,
                              stopwatch=lambda: time.perf_counter_ns() + offset[0],
                              record_runs=False)
    [sleeve] = scheduler.sleeves
    limits = sleeve.config.runtime.resource_limits
    # over, over, over, over (nothing left), recovering, below x2 -> clear, then clear
    scheduler.monitors = {"balanced": ScriptedMonitor(
        limits, [1500, 1500, 1500, 1500, 950, 800, 800, 800, 800, 800])}
    probe = Probe()
    host.register_observer(probe, name="probe")
    marks: list[int] = []

    def on_cycle(_: object) -> None:
        marks.append(sleeve.pipeline.risk.now_ns)
        offset[0] += 1_000_000_000

    scheduler.on_cycle = on_cycle
    try:
        asyncio.run(scheduler.run())
    finally:
        host.unregister_observer(probe)

    mr, vt, ca = "balanced/mean_reversion", "balanced/vol_target", "balanced/cross_arb"
    assert probe.calls[:7] == [
        (["rss:over"], (mr,), ()),
        (["rss:over"], (vt,), ()),
        (["rss:over"], (ca,), ()),
        (["rss:over"], (), ()),              # nothing left to pause: still reported
        (["rss:recovering"], (), ()),        # back under 1000 MiB, above the 900 line: hold
        (["rss:recovering"], (), ()),        # first reading below the line
        ([], (ca,), ()) if False else ([], (), (ca,)),  # recovered: highest priority first
    ]
    assert probe.calls[7:9] == [([], (), (vt,)), ([], (), (mr,))]
    assert [e["pause"] or e["resume"] for e in sink.events] == [[mr], [vt], [ca], [ca], [vt], [mr]]
    assert all(not h.paused for h in sleeve.strategies())
    # the risk engine saw every cycle's market data, also while every strategy was paused
    assert marks == sorted(marks) and len(set(marks)) == len(marks) == 40
