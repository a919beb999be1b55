"""Prometheus metrics of a running bot: per bot, risk profile and strategy.

:class:`RuntimeMetrics` owns one :class:`~prometheus_client.CollectorRegistry` per runtime (never
the global one, so two runtimes in one process, or a test beside another, do not mix their
series). It learns what happens three ways:

* as an observer plugin (``PluginHost.register_observer``): decisions, verdicts, orders, fills,
  trading-state changes, resource breaches, the start and stop of each bot;
* from the scheduler, which calls it as its probe (:class:`SchedulerProbe`): each strategy's
  bar-to-decision latency, the work of each cycle; at a cycle's end it reads each bot's state
  (equity, drawdown, exposure, strategy health, skipped bars, quarantines, resources);
* from the gRPC server: control calls and stream watchers.

Names follow Prometheus conventions: the ``bot_core_`` prefix, base units (seconds, bytes,
ratios 0-1; money in ``runtime.base_currency``), ``_total`` for counters, and label values
from bounded sets only (bot and strategy names from the configs, risk-check ids and reason
codes, order statuses, trading states, resources). docs/telemetry.md lists every metric.
"""

from __future__ import annotations

import math
import threading
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from bot_core.hookspecs import hookimpl
from bot_core.orders import Side
from bot_core.risk.check import TradingState, VerdictAction
from bot_core.telemetry.stream import StreamHub, Update

if TYPE_CHECKING:
    from bot_core.config.models import BotConfig
    from bot_core.orders import Fill, Order, OrderIntent
    from bot_core.pipeline import TradingPipeline
    from bot_core.risk.check import Verdict
    from bot_core.runinfo import RunInfo
    from bot_core.runtime.isolation import StrategyHealth
    from bot_core.runtime.resources import Breach

__all__ = ["LATENCY_BUCKETS_S", "METRIC_NAMES", "RuntimeMetrics", "SchedulerProbe",
           "SnapshotPublisher"]

LATENCY_BUCKETS_S = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                     0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BOT = ("bot", "profile")
_STRATEGY = ("bot", "profile", "strategy")
RESOURCES = ("rss", "cpu", "open_orders", "state_disk")
_MIB = 1024 * 1024
_SIDE_NAMES = {side: side.name.lower() for side in Side}
_ACTION_NAMES = {action: str(action.value) for action in VerdictAction}
"""Plain strings for events (an enum's ``.name`` is a Python property, and an enum member
is not a value that crosses to a relay as it is)."""
_REFRESH_EVERY_NS = 250_000_000
"""Gauges read from a bot's state are refreshed at most this often (a replay at full speed
ends thousands of cycles a second)."""


class SchedulerProbe(Protocol):
    """What the scheduler tells its probe (``Scheduler.probe``); every call must be cheap."""

    def decided(self, bot: str, strategy: str, latency_ns: int) -> None:
        """A strategy decided on an event, ``latency_ns`` after its batch arrived."""

    def dispatched(self, busy_ns: int) -> None:
        """A batch of events went through every sleeve in ``busy_ns``."""

    def cycle_ended(self, scheduler: Any, boundary_ns: int, busy_ns: int) -> None:
        """A cycle ended at market time ``boundary_ns``; its end took ``busy_ns``."""


@dataclass
class _Tracked:
    """One bot the metrics read state from."""

    bot: str
    profile: str
    config: BotConfig
    pipeline: TradingPipeline | None = None
    health: Mapping[str, StrategyHealth] = field(default_factory=dict)
    seen: dict[str, tuple[int, int, int, int, bool]] = field(default_factory=dict)
    """strategy -> (skipped bars, errors, malformed, overruns, quarantined) already counted."""
    journal: _TimedWriter | None = None


class _TimedWriter:
    """Stands in for a journal writer and times each append (the journal write lag)."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer
        self.worst_ns = 0
        self.records = 0

    def append(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter_ns()
        try:
            return self._writer.append(*args, **kwargs)
        finally:
            took = time.perf_counter_ns() - start
            self.records += 1
            if took > self.worst_ns:
                self.worst_ns = took

    def take_worst_s(self) -> float:
        worst, self.worst_ns = self.worst_ns, 0
        return worst / 1e9

    def __getattr__(self, name: str) -> Any:
        return getattr(self._writer, name)


class RuntimeMetrics:
    """Every ``bot_core_*`` metric of one runtime (see the module docstring).

    :param registry: where the metrics live; default: a new registry of their own.
    :param hub: where runtime events go for gRPC watchers (none: no events).
    :param process_metrics: also export the process's own metrics (``process_*``, ``python_*``).
    """

    def __init__(self, registry: CollectorRegistry | None = None, *, hub: StreamHub | None = None,
                 process_metrics: bool = True) -> None:
        reg = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.registry = reg
        self.hub = hub
        if process_metrics:
            from prometheus_client import GCCollector, PlatformCollector, ProcessCollector

            ProcessCollector(registry=reg)
            PlatformCollector(registry=reg)
            GCCollector(registry=reg)

        def counter(name: str, doc: str, labels: Iterable[str]) -> Counter:
            return Counter(name, doc, list(labels), registry=reg)

        def gauge(name: str, doc: str, labels: Iterable[str]) -> Gauge:
            return Gauge(name, doc, list(labels), registry=reg)

        # -- per bot
        self.bot_info = gauge("bot_core_bot_info", "A bot this process runs (value 1).",
                              (*_BOT, "mode"))
        self.cycles = counter("bot_core_cycles", "Scheduler cycles the bot went through.", _BOT)
        self.cycle_duration = Histogram(
            "bot_core_cycle_duration_seconds", "Wall time the scheduler worked on one cycle "
            "(every event of the cycle through every sleeve, and the cycle's end).", list(_BOT),
            buckets=LATENCY_BUCKETS_S, registry=reg)
        self.last_cycle = gauge("bot_core_last_cycle_timestamp_seconds",
                                "Market time of the bot's last cycle, Unix seconds.", _BOT)
        self.cycle_interval = gauge("bot_core_cycle_interval_seconds",
                                    "Length of one scheduler cycle, market seconds.", _BOT)
        self.time_budget = gauge("bot_core_strategy_time_budget_seconds",
                                 "runtime.strategy_time_budget_ms: the time one strategy call "
                                 "may take.", _BOT)
        self.equity = gauge("bot_core_equity", "Equity, in runtime.base_currency.", _BOT)
        self.pnl = gauge("bot_core_pnl", "Equity minus runtime.initial_equity, in "
                         "runtime.base_currency.", _BOT)
        self.drawdown = gauge("bot_core_drawdown_ratio",
                              "Drawdown from the equity peak (0-1).", _BOT)
        self.drawdown_limit = gauge("bot_core_drawdown_limit_ratio",
                                    "risk.drawdown_liquidation_pct as a ratio (0-1).", _BOT)
        self.daily_loss_used = gauge(
            "bot_core_daily_loss_limit_used_ratio", "Loss since the trading day's start as a "
            "share of risk.daily_loss_limit_pct (1: the limit is hit).", _BOT)
        self.daily_loss_hit = gauge("bot_core_daily_loss_limit_hit",
                                    "1 while the daily-loss limit halts the bot.", _BOT)
        self.liquidating = gauge("bot_core_forced_liquidation_active",
                                 "1 while a drawdown liquidation is in force (REDUCING until an "
                                 "operator clears it).", _BOT)
        self.trading_state = gauge("bot_core_trading_state",
                                   "1 for the bot's current trading state, 0 for the others.",
                                   (*_BOT, "state"))
        self.state_changes = counter("bot_core_trading_state_changes",
                                     "Trading-state transitions, by new state and cause.",
                                     (*_BOT, "state", "cause"))
        self.exposure = gauge("bot_core_exposure_ratio", "Gross exposure per instrument bucket "
                              "(`total`: all; `unbucketed`: instruments in no bucket) / equity.",
                              (*_BOT, "bucket"))
        self.open_orders = gauge("bot_core_open_orders", "Orders open at the venues.", _BOT)
        self.resource_usage = gauge(
            "bot_core_resource_usage", "Use of a limited resource: rss and state_disk in bytes, "
            "cpu as a ratio of the machine (all cores = 1), open_orders a count. rss and cpu are "
            "the process's.", (*_BOT, "resource"))
        self.resource_limit = gauge("bot_core_resource_limit",
                                    "runtime.resource_limits, in the units of "
                                    "bot_core_resource_usage (only limits that are set).",
                                    (*_BOT, "resource"))
        self.resource_breached = gauge("bot_core_resource_breached",
                                       "1 while the resource is over its limit.",
                                       (*_BOT, "resource"))
        self.resource_breaches = counter("bot_core_resource_breaches",
                                         "Resource samples over a limit.",
                                         (*_BOT, "resource"))
        self.journal_lag = gauge("bot_core_journal_write_lag_seconds",
                                 "Longest time one journal record took to write since the last "
                                 "refresh.", _BOT)
        self.journal_records = gauge("bot_core_journal_records",
                                     "Journal records written in this run.", _BOT)
        # -- per strategy
        self.latency = _BatchedHistogram(
            "bot_core_decision_latency_seconds", "Bar-to-decision latency: from the scheduler "
            "getting the event to the strategy's intents judged and sent.", _STRATEGY,
            LATENCY_BUCKETS_S)
        reg.register(self.latency)
        self.decisions = counter("bot_core_decisions", "Order intents strategies sent (each "
                                 "gets one risk verdict).", _STRATEGY)
        self.verdicts = counter("bot_core_risk_verdicts", "Risk verdicts, by deciding check, "
                                "action (approve, reduce, reject) and reason code.",
                                (*_STRATEGY, "check", "action", "reason"))
        self.orders = counter("bot_core_orders", "Order status changes (accepted = handed to "
                              "a venue).", (*_STRATEGY, "status"))
        self.fills = counter("bot_core_fills", "Fills booked.", _STRATEGY)
        self.strategy_pnl = gauge("bot_core_strategy_pnl", "Realized minus fees plus "
                                  "unrealized PnL of the strategy's positions, in "
                                  "runtime.base_currency.", _STRATEGY)
        self.skipped_bars = counter("bot_core_skipped_bars",
                                    "Bars a strategy did not get because it was behind "
                                    "(coalesced to the latest).", _STRATEGY)
        self.faults = counter("bot_core_strategy_faults", "Strategy faults (error, malformed, "
                              "overrun).", (*_STRATEGY, "kind"))
        self.quarantines = counter("bot_core_quarantines", "Strategies quarantined.", _STRATEGY)
        self.strategy_state = gauge("bot_core_strategy_state", "1 for the strategy's state "
                                    "(active, paused, quarantined), 0 for the others.",
                                    (*_STRATEGY, "state"))
        # -- process
        self.control_calls = counter("bot_core_control_calls",
                                     "gRPC calls, by method, caller's role and status code.",
                                     ("method", "role", "code"))
        reg.register(_HubCollector(lambda: self.hub))

        self._tracked: dict[str, _Tracked] = {}
        self._runs: dict[str, tuple[str, str]] = {}
        self._children: dict[tuple[Any, ...], Any] = {}
        self._latency_pending: dict[tuple[str, str], array[int]] = {}
        self._busy_ns = 0
        self._last_refresh = 0
        self._last_resources = 0
        self._sample_interval_ns = 5_000_000_000
        self._process: Any = None
        self._lock = threading.RLock()

    # -- what to read -------------------------------------------------------------------------

    def track(self, config: BotConfig, *, pipeline: TradingPipeline | None = None,
              health: Mapping[str, StrategyHealth] | None = None, mode: str = "",
              cycle_s: float | None = None) -> None:
        """Read this bot's state at each refresh (its pipeline, its strategies' health)."""
        bot = config.name
        tracked = _Tracked(bot, config.profile, config, pipeline, health or {})
        with self._lock:
            self._tracked[bot] = tracked
        labels = (bot, config.profile)
        self.bot_info.labels(*labels, mode).set(1)
        self.time_budget.labels(*labels).set(config.runtime.strategy_time_budget_ms / 1000.0)
        self.drawdown_limit.labels(*labels).set(config.risk.drawdown_liquidation_pct / 100.0)
        if cycle_s is not None:
            self.cycle_interval.labels(*labels).set(cycle_s)
        for state in TradingState:
            self.trading_state.labels(*labels, state.value).set(0)
        self.trading_state.labels(*labels, TradingState.ACTIVE.value).set(1)
        self.daily_loss_hit.labels(*labels).set(0)
        self.liquidating.labels(*labels).set(0)
        limits = config.runtime.resource_limits
        for resource, value in _limits(limits).items():
            self.resource_limit.labels(*labels, resource).set(value)
            self.resource_breached.labels(*labels, resource).set(0)
            self.resource_usage.labels(*labels, resource).set(0)
        if limits.sample_interval_s:
            self._sample_interval_ns = min(self._sample_interval_ns,
                                           int(limits.sample_interval_s * 1e9))
        if pipeline is not None:
            self._runs[pipeline.run.run_id] = labels
        for name in (pipeline.strategies if pipeline is not None else config.strategies):
            self._init_strategy(tracked, name)

    def track_scheduler(self, scheduler: Any) -> None:
        """Track every sleeve of a :class:`~bot_core.runtime.scheduler.Scheduler` and become its
        probe."""
        cycle_s = scheduler.cycle_ns / 1e9
        for sleeve in scheduler.sleeves:
            self.track(sleeve.config, pipeline=sleeve.pipeline, health=sleeve.health,
                       mode=sleeve.mode, cycle_s=cycle_s)
        scheduler.probe = self

    def watch_journal(self, bot: str, observer: Any) -> None:
        """Time the appends of ``observer``'s journal writer (a :class:`JournalObserver`): the
        ``bot_core_journal_write_lag_seconds`` of ``bot``."""
        timed = _TimedWriter(observer.writer)
        observer.writer = timed
        with self._lock:
            tracked = self._tracked.get(bot)
            if tracked is not None:
                tracked.journal = timed
        profile = tracked.profile if tracked is not None else ""
        self.journal_lag.labels(bot, profile).set(0)
        self.journal_records.labels(bot, profile).set(0)

    def _init_strategy(self, tracked: _Tracked, name: str) -> None:
        labels = (tracked.bot, tracked.profile, name)
        self.decisions.labels(*labels)
        self.fills.labels(*labels)
        self.skipped_bars.labels(*labels)
        self.quarantines.labels(*labels)
        self.strategy_pnl.labels(*labels).set(0)
        for state in ("active", "paused", "quarantined"):
            self.strategy_state.labels(*labels, state).set(1 if state == "active" else 0)
        for kind in ("error", "malformed", "overrun"):
            self.faults.labels(*labels, kind)
        self._latency_pending[(tracked.bot, name)] = self.latency.series(labels)

    def _labels(self, run: RunInfo) -> tuple[str, str]:
        labels = self._runs.get(run.run_id)
        if labels is None:
            config = run.config
            labels = (config.name, config.profile) if config is not None else (run.run_id, "")
            self._runs[run.run_id] = labels
        return labels

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def _event(self, kind: str, bot: str, profile: str, ts_ns: int, strategy: str = "",
               **fields: Any) -> None:
        hub = self.hub
        if hub is not None and hub.events_wanted:
            hub.publish_event(kind, bot, profile, ts_ns, strategy=strategy, fields=fields)

    # -- hooks --------------------------------------------------------------------------------

    @hookimpl
    def bot_core_on_start(self, run: RunInfo) -> None:
        bot, profile = self._labels(run)
        if bot not in self._tracked and run.config is not None:
            self.track(run.config, mode=run.mode)
        self._event("start", bot, profile, run.started_ns, mode=run.mode, run_id=run.run_id)

    @hookimpl
    def bot_core_on_risk_verdict(self, run: RunInfo, intent: OrderIntent,
                                 verdict: Verdict) -> None:
        bot, profile = self._labels(run)
        action = verdict.action.value
        strategy = intent.strategy_id
        self._child(self.decisions, bot, profile, strategy).inc()
        self._child(self.verdicts, bot, profile, strategy, verdict.check_id or "engine",
                    action, verdict.reason).inc()
        hub = self.hub
        if hub is not None and hub.events_wanted:  # the fields are made by the first reader
            hub.publish_event("decision", bot, profile, intent.ts_ns, strategy=strategy,
                              fields=partial(_decision_fields, intent, verdict))

    @hookimpl
    def bot_core_on_order(self, run: RunInfo, order: Order) -> None:
        bot, profile = self._labels(run)
        self._child(self.orders, bot, profile, order.intent.strategy_id, order.status.value).inc()

    @hookimpl
    def bot_core_on_fill(self, run: RunInfo, fill: Fill) -> None:
        bot, profile = self._labels(run)
        self._child(self.fills, bot, profile, fill.strategy_id).inc()
        hub = self.hub
        if hub is not None and hub.events_wanted:
            hub.publish_event("fill", bot, profile, fill.ts_ns, strategy=fill.strategy_id,
                              fields=partial(_fill_fields, fill))

    @hookimpl
    def bot_core_on_trading_state(self, run: RunInfo, previous: TradingState,
                                  current: TradingState, cause: str, ts_ns: int) -> None:
        bot, profile = self._labels(run)
        for state in TradingState:
            self.trading_state.labels(bot, profile, state.value).set(
                1 if state is current else 0)
        category = cause.split(":", 1)[0].strip() or "unknown"
        self.state_changes.labels(bot, profile, current.value, category).inc()
        tracked = self._tracked.get(bot)
        if tracked is not None and tracked.pipeline is not None:
            risk = tracked.pipeline.risk
            self.liquidating.labels(bot, profile).set(1 if risk.liquidating else 0)
            self.daily_loss_hit.labels(bot, profile).set(1 if risk.daily_loss_halted else 0)
        self._event("trading_state", bot, profile, ts_ns, previous=previous.value,
                    current=current.value, cause=cause)

    @hookimpl
    def bot_core_on_resource_breach(self, run: RunInfo, breaches: Sequence[Breach],
                                    paused: Sequence[str], resumed: Sequence[str],
                                    ts_ns: int) -> None:
        bot, profile = self._labels(run)
        over = {str(b.resource) for b in breaches if b.over}
        for b in breaches:
            resource = str(b.resource)
            self.resource_usage.labels(bot, profile, resource).set(
                _in_base_units(resource, b.value))
            if b.over:
                self.resource_breaches.labels(bot, profile, resource).inc()
        limits = self._tracked[bot].config.runtime.resource_limits if bot in self._tracked \
            else None
        for resource in (_limits(limits) if limits is not None else {}):
            self.resource_breached.labels(bot, profile, resource).set(
                1 if resource in over else 0)
        self._event("resources", bot, profile, ts_ns, over=sorted(over),
                    paused=list(paused), resumed=list(resumed))

    @hookimpl
    def bot_core_on_stop(self, run: RunInfo, reason: str) -> None:
        bot, profile = self._labels(run)
        self.refresh(force=True)
        self._event("stop", bot, profile, run.started_ns, reason=reason)

    # -- the scheduler's probe ----------------------------------------------------------------

    def decided(self, bot: str, strategy: str, latency_ns: int) -> None:
        try:
            self._latency_pending[(bot, strategy)].append(latency_ns)
        except KeyError:
            tracked = self._tracked.get(bot)
            profile = tracked.profile if tracked is not None else ""
            series = self._latency_pending[(bot, strategy)] = self.latency.series(
                (bot, profile, strategy))
            series.append(latency_ns)

    def dispatched(self, busy_ns: int) -> None:
        self._busy_ns += busy_ns
        hub = self.hub
        if hub is not None:  # between batches: a relay's updates cost no decision latency
            hub.hand_over()

    def cycle_ended(self, scheduler: Any, boundary_ns: int, busy_ns: int) -> None:
        took = (self._busy_ns + busy_ns) / 1e9
        self._busy_ns = 0
        for sleeve in scheduler.sleeves:
            tracked = self._tracked.get(sleeve.name)
            if tracked is None:
                continue
            labels = (tracked.bot, tracked.profile)
            self._child(self.cycle_duration, *labels).observe(took)
            self._child(self.cycles, *labels).inc()
            self._child(self.last_cycle, *labels).set(boundary_ns / 1e9)
        self.refresh()

    # -- state read at each refresh -----------------------------------------------------------

    def refresh(self, *, force: bool = False) -> None:
        """Read every tracked bot's state into the gauges (at most every 0.25 s unless
        ``force``), and the resources every ``sample_interval_s``. Call it where the bots run
        (the scheduler's thread): it reads their books."""
        now = time.monotonic_ns()
        if not force and now - self._last_refresh < _REFRESH_EVERY_NS:
            return
        self._last_refresh = now
        self.latency.fold()
        with self._lock:
            tracked = list(self._tracked.values())
        sample = force or now - self._last_resources >= self._sample_interval_ns
        if sample:
            self._last_resources = now
        usage = self._process_usage() if sample else None
        for one in tracked:
            self._refresh_bot(one, usage)

    def _process_usage(self) -> tuple[float, float]:
        """(RSS bytes, CPU ratio of the machine since the last call)."""
        import psutil

        if self._process is None:
            self._process = psutil.Process()
            self._process.cpu_percent(None)
        cores = psutil.cpu_count() or 1
        rss = float(self._process.memory_info().rss)
        cpu = min(self._process.cpu_percent(None) / cores / 100.0, 1.0)
        return rss, cpu

    def _refresh_bot(self, one: _Tracked, usage: tuple[float, float] | None) -> None:
        labels = (one.bot, one.profile)
        if one.pipeline is not None:
            self._refresh_book(one, labels)
        for name, health in one.health.items():
            self._refresh_health(one, name, health)
        limits = one.config.runtime.resource_limits
        if usage is not None:
            self.resource_usage.labels(*labels, "rss").set(usage[0])
            self.resource_usage.labels(*labels, "cpu").set(usage[1])
            if limits.max_state_disk_mb is not None:
                from bot_core.runtime.history import bot_state_dir
                from bot_core.runtime.resources import disk_usage_bytes

                self.resource_usage.labels(*labels, "state_disk").set(
                    float(disk_usage_bytes([bot_state_dir(one.bot)])))
        if one.journal is not None:
            self.journal_lag.labels(*labels).set(one.journal.take_worst_s())
            self.journal_records.labels(*labels).set(one.journal.records)

    def _refresh_book(self, one: _Tracked, labels: tuple[str, str]) -> None:
        assert one.pipeline is not None
        pipeline = one.pipeline
        portfolio, risk, config = pipeline.portfolio, pipeline.risk, one.config
        equity = portfolio.equity
        self.equity.labels(*labels).set(equity)
        self.pnl.labels(*labels).set(equity - config.runtime.initial_equity)
        peak = max(risk.equity_peak, equity)
        self.drawdown.labels(*labels).set(
            max(0.0, (peak - equity) / peak) if peak > 0 and math.isfinite(peak) else 0.0)
        start = risk.day_start_equity
        limit = config.risk.daily_loss_limit_pct / 100.0
        used = (start - equity) / start / limit if start > 0 and math.isfinite(start) else 0.0
        self.daily_loss_used.labels(*labels).set(max(0.0, used))
        self.daily_loss_hit.labels(*labels).set(1 if risk.daily_loss_halted else 0)
        self.liquidating.labels(*labels).set(1 if risk.liquidating else 0)
        for state in TradingState:
            self.trading_state.labels(*labels, state.value).set(1 if state is risk.state else 0)
        open_orders = len(pipeline.open_orders)
        self.open_orders.labels(*labels).set(open_orders)
        if config.runtime.resource_limits.max_open_orders is not None:
            self.resource_usage.labels(*labels, "open_orders").set(open_orders)
        buckets: dict[str, float] = {"total": 0.0}
        per_strategy: dict[str, float] = dict.fromkeys(pipeline.strategies, 0.0)
        for rec in portfolio.positions():
            mark = portfolio.last_price(rec.instrument, rec.venue)
            pnl = rec.realized - rec.fees + (rec.unrealized(mark) if math.isfinite(mark) else 0.0)
            per_strategy[rec.strategy] = per_strategy.get(rec.strategy, 0.0) + pnl
            if rec.qty and math.isfinite(mark):
                notional = abs(rec.qty * mark)
                bucket = config.bucket_of(rec.instrument) or "unbucketed"
                buckets[bucket] = buckets.get(bucket, 0.0) + notional
                buckets["total"] += notional
        for bucket in config.buckets:
            buckets.setdefault(bucket, 0.0)
        for bucket, notional in buckets.items():
            ratio = notional / equity if equity > 0 and math.isfinite(equity) else 0.0
            self.exposure.labels(*labels, bucket).set(ratio)
        for strategy, pnl in per_strategy.items():
            self.strategy_pnl.labels(*labels, strategy).set(pnl)

    def _refresh_health(self, one: _Tracked, name: str, health: StrategyHealth) -> None:
        labels = (one.bot, one.profile, name)
        now = (health.skipped_bars, health.errors, health.malformed, health.overruns,
               bool(health.quarantined))
        before = one.seen.get(name, (0, 0, 0, 0, False))
        if now == before:
            return
        one.seen[name] = now
        if now[0] > before[0]:
            self.skipped_bars.labels(*labels).inc(now[0] - before[0])
        for index, kind in ((1, "error"), (2, "malformed"), (3, "overrun")):
            if now[index] > before[index]:
                self.faults.labels(*labels, kind).inc(now[index] - before[index])
        state = health.state
        for candidate in ("active", "paused", "quarantined"):
            self.strategy_state.labels(*labels, candidate).set(1 if candidate == state else 0)
        if now[4] and not before[4]:
            self.quarantines.labels(*labels).inc()
            self._event("quarantine", one.bot, one.profile, 0, name, cause=health.quarantined)

    def strategy_changed(self, bot: str, name: str) -> None:
        """A strategy was paused or resumed outside a cycle (an operator): show it now."""
        tracked = self._tracked.get(bot)
        if tracked is None or name not in tracked.health:
            return
        state = tracked.health[name].state
        for candidate in ("active", "paused", "quarantined"):
            self.strategy_state.labels(tracked.bot, tracked.profile, name, candidate).set(
                1 if candidate == state else 0)

    # -- gRPC ---------------------------------------------------------------------------------

    def control_call(self, method: str, role: str, code: str) -> None:
        self.control_calls.labels(method, role or "none", code).inc()


def _decision_fields(intent: OrderIntent, verdict: Verdict) -> dict[str, Any]:
    allowed = intent.quantity if verdict.quantity is None else verdict.quantity
    return {"instrument": intent.instrument, "venue": intent.venue,
            "side": _SIDE_NAMES[intent.side], "quantity": intent.quantity,
            "allowed_quantity": allowed, "verdict": _ACTION_NAMES[verdict.action],
            "reason": verdict.reason, "check": verdict.check_id}


def _fill_fields(fill: Fill) -> dict[str, Any]:
    return {"instrument": fill.instrument, "venue": fill.venue, "side": _SIDE_NAMES[fill.side],
            "quantity": fill.quantity, "price": fill.price, "fee": fill.fee}


def _limits(limits: Any) -> dict[str, float]:
    """The limits that are set, in the units of ``bot_core_resource_usage``."""
    out: dict[str, float] = {}
    if limits.max_rss_mb is not None:
        out["rss"] = limits.max_rss_mb * _MIB
    if limits.max_cpu_pct is not None:
        out["cpu"] = limits.max_cpu_pct / 100.0
    if limits.max_open_orders is not None:
        out["open_orders"] = float(limits.max_open_orders)
    if limits.max_state_disk_mb is not None:
        out["state_disk"] = limits.max_state_disk_mb * _MIB
    return out


def _in_base_units(resource: str, value: float) -> float:
    """A :class:`~bot_core.runtime.resources.Breach` value (MiB, %) in base units."""
    if resource in ("rss", "state_disk"):
        return value * _MIB
    if resource == "cpu":
        return value / 100.0
    return value


def _collectors(registry: CollectorRegistry) -> list[Any]:
    """The registry's collectors, in registration order (the registry itself when it does not
    say: :meth:`SnapshotPublisher.snapshot` then collects it whole)."""
    known = getattr(registry, "_collector_to_names", None)
    if not isinstance(known, dict):
        return [registry]
    with registry._lock:
        return list(known)


def _plain_samples(metric: Any, cache: dict[tuple[Any, ...], dict[str, str]]
                   ) -> list[tuple[str, dict[str, str], float]] | None:
    """(name, labels, value) of a Counter's or Gauge's series, read from its children without
    ``collect``'s per-sample objects; None for any other collector, or where prometheus-client
    keeps them otherwise (the caller then collects it). tests/telemetry/test_metrics.py holds
    this equal to ``collect``."""
    if type(metric) not in (Counter, Gauge):
        return None
    try:
        name = metric._name + ("_total" if metric._type == "counter" else "")
        labelnames = metric._labelnames
        if not labelnames:
            return [(name, {}, float(metric._value.get()))]
        with metric._lock:
            children = list(metric._metrics.items())
        out = []
        for values, child in children:
            key = (name, values)
            labels = cache.get(key)
            if labels is None:
                labels = cache[key] = dict(zip(labelnames, values, strict=True))
            out.append((name, labels, float(child._value.get())))
        return out
    except AttributeError:
        return None


class _BatchedHistogram:
    """A histogram whose observations cost one ``array.append`` on the hot path: each series
    keeps the raw nanoseconds until :meth:`fold` (a refresh, a scrape) turns them into bucket
    counts with numpy. Exact: a fold takes a prefix of the array and deletes just that prefix,
    each one operation under the GIL, so an observation appended meanwhile stays for the next."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str],
                 buckets_s: Sequence[float]) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = list(labelnames)
        self.bounds_s = list(buckets_s)
        self._bounds_ns = [int(b * 1e9) for b in buckets_s]
        self._pending: dict[tuple[str, ...], array[int]] = {}
        self._counts: dict[tuple[str, ...], list[int]] = {}
        self._sums: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def series(self, labels: Sequence[str]) -> array[int]:
        """The array the hot path appends nanoseconds to for these label values."""
        key = tuple(labels)
        with self._lock:
            if key not in self._pending:
                self._pending[key] = array("q")
                self._counts[key] = [0] * (len(self._bounds_ns) + 1)
                self._sums[key] = 0.0
            return self._pending[key]

    def fold(self) -> None:
        import numpy as np

        with self._lock:
            for key, pending in self._pending.items():
                n = len(pending)
                if not n:
                    continue
                chunk = np.frombuffer(pending[:n], dtype=np.int64)
                del pending[:n]
                where = np.searchsorted(self._bounds_ns, chunk, side="left")
                counts = np.bincount(where, minlength=len(self._bounds_ns) + 1)
                total = self._counts[key]
                for i, c in enumerate(counts.tolist()):
                    total[i] += c
                self._sums[key] += float(chunk.sum()) / 1e9

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import HistogramMetricFamily

        self.fold()
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        with self._lock:
            for key, counts in self._counts.items():
                cumulative, buckets = 0, []
                for bound, count in zip([*self.bounds_s, math.inf], counts, strict=True):
                    cumulative += count
                    le = "+Inf" if bound == math.inf else repr(float(bound))
                    buckets.append((le, float(cumulative)))
                family.add_metric(list(key), buckets, self._sums[key])
        yield family

    def counts_and_sums(self) -> Metric:
        """:meth:`collect` without the buckets (the stream leaves them out; they were four
        fifths of a snapshot's samples)."""
        self.fold()
        family = Metric(self.name, self.documentation, "histogram")
        with self._lock:
            for key, counts in self._counts.items():
                labels = dict(zip(self.labelnames, key, strict=True))
                family.add_sample(self.name + "_count", labels, float(sum(counts)))
                family.add_sample(self.name + "_sum", labels, self._sums[key])
        return family

    def describe(self) -> Iterator[Metric]:
        from prometheus_client.core import HistogramMetricFamily

        yield HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)


class _HubCollector:
    """The stream hub's counters, read at scrape time."""

    def __init__(self, hub: Callable[[], StreamHub | None]) -> None:
        self._hub = hub

    def collect(self) -> Iterator[Metric]:
        hub = self._hub()
        watchers = GaugeMetricFamily("bot_core_stream_watchers",
                                     "gRPC StreamMetrics watchers connected now.")
        watchers.add_metric([], hub.watchers if hub is not None else 0)
        published = CounterMetricFamily("bot_core_stream_updates",
                                        "Updates (samples and events) offered to watchers.")
        published.add_metric([], hub.published if hub is not None else 0)
        dropped = CounterMetricFamily("bot_core_stream_dropped_updates",
                                      "Updates slow watchers lost (dropped from behind).")
        dropped.add_metric([], hub.dropped + hub.remote_dropped if hub is not None else 0)
        yield from (watchers, published, dropped)

    def describe(self) -> Iterator[Metric]:
        return self.collect()


class SnapshotPublisher:
    """Publishes a snapshot of every sample of ``registry`` to ``hub`` every ``interval_s`` while
    someone watches, and at once when a watcher arrives (a thread of its own, so the scheduler
    never pays for collecting). It reads the registry only: the gauges are refreshed from the
    bots' books on the scheduler's own thread (:meth:`RuntimeMetrics.refresh`), never from here,
    where the books could change under it.

    Histogram buckets are left out of the stream (``_count`` and ``_sum`` are in it).
    """

    def __init__(self, registry: CollectorRegistry, hub: StreamHub, *,
                 interval_s: float = 1.0) -> None:
        self.registry = registry
        self.hub = hub
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._poke = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bot-core-snapshots", daemon=True)
        self._labels: dict[tuple[Any, ...], dict[str, str]] = {}
        """Label dicts by (sample name, label values), made once: series are few and
        long-lived."""
        hub.on_watchers_changed.append(self._changed)

    def start(self) -> SnapshotPublisher:
        self._thread.start()
        return self

    def _changed(self, count: int) -> None:
        if count:
            self._poke.set()

    def snapshot(self) -> list[Update]:
        """Every sample but histogram buckets and ``_created``, as updates.

        Plain counters and gauges are read straight from their children (:func:`_plain_samples`,
        a fifth of the time prometheus-client's ``collect`` takes, which was the scheduler's p99
        with watchers attached), the latency histograms without their buckets; everything else
        through its ``collect``. The GIL is given back between metrics, so the scheduler's
        thread never waits for a whole snapshot.
        """
        wall = time.time_ns()
        out: list[Update] = []
        sample = Update.sample
        for collector in _collectors(self.registry):
            plain = _plain_samples(collector, self._labels)
            if plain is not None:
                out += [sample(name, labels, value, wall) for name, labels, value in plain]
            else:
                families = [collector.counts_and_sums()] \
                    if isinstance(collector, _BatchedHistogram) else collector.collect()
                for family in families:
                    out += [sample(s.name, s.labels, float(s.value), wall)
                            for s in family.samples
                            if not s.name.endswith(("_bucket", "_created"))]
            time.sleep(0)
        return out

    def publish_now(self) -> None:
        self.hub.publish_many(self.snapshot())

    def _run(self) -> None:
        while not self._stop.is_set():
            self._poke.wait(self.interval_s)
            self._poke.clear()
            if self._stop.is_set():
                return
            if self.hub.watchers:
                self.publish_now()

    def close(self) -> None:
        self._stop.set()
        self._poke.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)


METRIC_NAMES = (
    "bot_core_bot_info", "bot_core_cycles_total", "bot_core_cycle_duration_seconds",
    "bot_core_last_cycle_timestamp_seconds", "bot_core_cycle_interval_seconds",
    "bot_core_strategy_time_budget_seconds", "bot_core_equity", "bot_core_pnl",
    "bot_core_drawdown_ratio", "bot_core_drawdown_limit_ratio",
    "bot_core_daily_loss_limit_used_ratio", "bot_core_daily_loss_limit_hit",
    "bot_core_forced_liquidation_active", "bot_core_trading_state",
    "bot_core_trading_state_changes_total", "bot_core_exposure_ratio", "bot_core_open_orders",
    "bot_core_resource_usage", "bot_core_resource_limit", "bot_core_resource_breached",
    "bot_core_resource_breaches_total", "bot_core_journal_write_lag_seconds",
    "bot_core_journal_records", "bot_core_decision_latency_seconds", "bot_core_decisions_total",
    "bot_core_risk_verdicts_total", "bot_core_orders_total", "bot_core_fills_total",
    "bot_core_strategy_pnl", "bot_core_skipped_bars_total", "bot_core_strategy_faults_total",
    "bot_core_quarantines_total", "bot_core_strategy_state", "bot_core_control_calls_total",
    "bot_core_stream_watchers", "bot_core_stream_updates_total",
    "bot_core_stream_dropped_updates_total",
)
"""Every metric this module defines, as scraped (docs/telemetry.md documents each)."""
