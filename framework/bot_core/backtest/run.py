"""One backtest run, set up: the pipeline, its strategies bound to their feeds, the recorder, the
timeline of every event, and where the equity curve goes.

Both speeds of a backtest start from a :class:`BacktestRun`: the event path feeds its timeline
to the pipeline (:mod:`bot_core.backtest.events`), the compiled replay reads the same strategies,
venues and risk engine (:mod:`bot_core.backtest.compiled`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bot_core.backtest.feeds import merge_timeline
from bot_core.backtest.recorder import Recorder
from bot_core.backtest.times import iso_utc
from bot_core.memory import run_array, run_range
from bot_core.runinfo import RunInfo
from bot_core.strategy import bind_strategy_feeds

if TYPE_CHECKING:
    from bot_core.backtest.feeds import Feed
    from bot_core.backtest.plan import BacktestPlan
    from bot_core.pipeline import TradingPipeline
    from bot_core.plugins import PluginHost

__all__ = ["BacktestRun", "ProgressCallback", "Timeline", "prepare_run"]

ProgressCallback = Callable[[int, int], None]
"""``(steps done, steps in total)``; called about a hundred times per run."""


@dataclass(slots=True)
class Timeline:
    """Every event of the run in time order (ties: the feeds' order), grouped in steps."""

    ts: np.ndarray
    """Unique event times (steps), int64 ns."""
    feed: np.ndarray
    """Feed of each event."""
    row: np.ndarray
    """Row of each event in its feed."""
    step_start: np.ndarray
    """Events of step ``i`` are ``feed[step_start[i]:step_start[i + 1]]``."""

    @classmethod
    def of(cls, feeds: list[Feed]) -> Timeline:
        if len(feeds) == 1:  # strictly increasing (feed_from_frame): a step per row
            n = len(feeds[0])
            ts = feeds[0].ts_ns.view()
            ts.flags.writeable = False  # the feed's own times, not a copy
            steps = run_range(n + 1)  # row r is step r
            return cls(ts, run_array(n, np.int64, 0), steps[:-1], steps)
        ts, which, rows = merge_timeline(feeds)
        starts = np.flatnonzero(np.concatenate(([True], ts[1:] != ts[:-1])))
        return cls(ts[starts], which, rows, np.append(starts, len(ts)).astype(np.int64))

    @property
    def steps(self) -> int:
        return int(self.ts.shape[0])

    @property
    def events(self) -> int:
        return int(self.feed.shape[0])

    def when(self, step: int) -> str:
        """The time of ``step``, as the results print times."""
        return iso_utc(int(self.ts[step]))

    def step_of(self, ts_ns: int) -> int:
        """The step at ``ts_ns`` (or the first after it)."""
        return max(int(np.searchsorted(self.ts, ts_ns, side="left")), 0)


@dataclass(slots=True)
class BacktestRun:
    """A fresh pipeline, portfolio, risk engine and venues for one run, and its outputs."""

    plan: BacktestPlan
    host: PluginHost
    pipeline: TradingPipeline
    recorder: Recorder
    timeline: Timeline
    equity: np.ndarray
    """Equity after each step (NaN until replayed)."""
    in_market: np.ndarray
    """Whether any feed's (venue, instrument) is held after each step."""

    @property
    def feeds(self) -> list[Feed]:
        return self.plan.feeds


def prepare_run(plan: BacktestPlan, host: PluginHost) -> BacktestRun:
    """Build the run's pipeline from the plan's config, bind every strategy to its feeds (the
    plan checked the same binding), wire the recorder and configure the observers."""
    from bot_core.pipeline import build_pipeline

    config = plan.resolved.config
    run = RunInfo(f"bt{uuid.uuid4().hex[:10]}", "backtest", time.time_ns(), config)
    pipeline = build_pipeline(plan.resolved, host, run)
    bind_strategy_feeds(pipeline.strategies.values(), [feed.spec() for feed in plan.feeds],
                        sources=plan.resolved.sources)
    recorder = Recorder()
    pipeline.fill_listeners.append(recorder.on_fill)
    pipeline.risk.add_state_listener(recorder.on_trading_state)
    host.configure(config)
    timeline = Timeline.of(plan.feeds)
    return BacktestRun(plan, host, pipeline, recorder, timeline,
                       run_array(timeline.steps, np.float64, np.nan),
                       run_array(timeline.steps, np.bool_, False))
