"""From ``bot-core run``'s choices to a running scheduler: configs, mode, source, sleeves.

:func:`plan_run` resolves every config and checks that they can run together in one process,
before anything is started or written: each mistake is one :class:`~bot_core.errors.UsageError`
or :class:`~bot_core.errors.ConfigError` line (exit 2). :func:`build_runtime` then subscribes
the source, anchors the clock at the replay's start, builds one sleeve per config, warms the
strategies up and starts them; ``await scheduler.run()`` does the rest.

One process runs one mode, one clock and one market data source: every config must agree on
``runtime.mode`` (or ``--mode`` overrides them all), ``runtime.source`` and its settings; bot
names (``name``) are unique. Demo mode replays datasets on simulated venues; paper mode needs a
live source and simulated venues; live mode a live source and live venues.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot_core.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from bot_core.config.models import BotConfig
    from bot_core.config.resolve import ResolvedConfig
    from bot_core.orders import OrderIntent
    from bot_core.plugins import PluginHost
    from bot_core.risk.check import Verdict
    from bot_core.runinfo import RunMode
    from bot_core.runtime.clock import Clock
    from bot_core.runtime.events import EventSink
    from bot_core.runtime.scheduler import Scheduler
    from bot_core.runtime.sources import MarketDataSource

__all__ = ["MODES", "RunPlan", "build_runtime", "parse_duration", "plan_run", "preset_bot"]

MODES = ("demo", "paper", "live")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
_NO_LIVE_SOURCE = ("{mode} mode needs a live market data source; none is installed (the ccxt "
                   "exchange plugin provides one)")


@dataclass(slots=True)
class RunPlan:
    """Everything checked before a run starts."""

    mode: RunMode
    configs: list[ResolvedConfig]
    sources: list[str]
    """Where each config came from (file path or ``preset NAME``)."""
    source_id: str
    source_settings: dict[str, Any] = field(default_factory=dict)


def parse_duration(text: str) -> int:
    """``90s``, ``10m``, ``2h``, ``1d`` (or plain seconds) -> nanoseconds; UsageError else."""
    raw = text.strip().lower()
    unit = raw[-1:] if raw[-1:] in _DURATION_UNITS else "s"
    number = raw[:-1] if raw[-1:] in _DURATION_UNITS else raw
    try:
        value = float(number)
    except ValueError:
        value = -1.0
    if not value > 0 or value != value or value == float("inf"):
        raise UsageError(f"--duration {text}: expected a positive duration such as 90s, 10m, "
                         f"2h or 1d")
    return int(value * _DURATION_UNITS[unit] * 1e9)


def plan_run(host: PluginHost, *, configs: Sequence[Path] = (), presets: Sequence[str] = (),
             mode: str | None = None, environ: Mapping[str, str] | None = None) -> RunPlan:
    """Resolve the configs of one ``bot-core run`` and check they can run together."""
    from bot_core.config.resolve import resolve_config

    if configs and presets:
        raise UsageError("--config and --preset: give config files or one preset, not both "
                         "(a config file names its preset with `extends`)")
    if mode is not None and mode not in MODES:
        raise UsageError(f"--mode {mode}: unknown mode; choose demo, paper or live")
    resolved: list[ResolvedConfig] = []
    origins: list[str] = []
    for path in configs:
        if not path.is_file():
            raise UsageError(f"--config {path}: no such file")
        resolved.append(resolve_config(path, plugins=host, environ=environ))
        origins.append(str(path))
    for preset in presets:
        resolved.append(_renamed(resolve_config(preset=preset, universe="demo", plugins=host,
                                                environ=environ), preset))
        origins.append(f"preset {preset}")
    if not resolved:
        raise UsageError("give --config FILE (repeatable) or --preset NAME")
    _check_names(resolved, origins)
    run_mode = _common_mode(resolved, origins, mode)
    if mode is not None:
        resolved = [_with_mode(r, mode) for r in resolved]
    for one in resolved:
        if not any(s.enabled for s in one.config.strategies.values()):
            where = origins[resolved.index(one)]
            if not one.config.strategies and one.config.universe is None:
                from bot_core.config.resolve import MIGRATION_HINT

                raise UsageError(f"{where}: defines no strategy; {MIGRATION_HINT}")
            raise UsageError(f"{where}: enables no strategy; nothing to run")
    source_id, settings = _common_source(host, resolved, origins, run_mode)
    _check_venues(host, resolved, origins, run_mode)
    return RunPlan(run_mode, resolved, origins, source_id, settings)


def preset_bot(config: BotConfig, preset: str) -> BotConfig:
    """A preset's bot is named after the preset (its own name is the default, ``bot``), so
    ``run --preset balanced`` and ``pipeline status --preset balanced`` mean one bot."""
    return config.model_copy(update={"name": preset}) if config.name == "bot" else config


def _renamed(resolved: ResolvedConfig, preset: str) -> ResolvedConfig:
    from bot_core.config.resolve import ResolvedConfig

    config = preset_bot(resolved.config, preset)
    if config is resolved.config:
        return resolved
    return ResolvedConfig(config, dict(resolved.sources), dict(resolved.strategy_settings))


def _with_mode(resolved: ResolvedConfig, mode: str) -> ResolvedConfig:
    from bot_core.config.resolve import ResolvedConfig

    runtime = resolved.config.runtime.model_copy(update={"mode": mode})
    config = resolved.config.model_copy(update={"runtime": runtime})
    return ResolvedConfig(config, {**resolved.sources, "runtime.mode": "--mode"},
                          dict(resolved.strategy_settings))


def _check_names(resolved: Sequence[ResolvedConfig], origins: Sequence[str]) -> None:
    seen: dict[str, str] = {}
    for one, origin in zip(resolved, origins, strict=True):
        name = one.config.name
        if name in seen:
            raise UsageError(f"two bots are named {name!r} ({seen[name]} and {origin}); each "
                             f"config run side by side needs its own `name`")
        seen[name] = origin


def _common_mode(resolved: Sequence[ResolvedConfig], origins: Sequence[str],
                 override: str | None) -> RunMode:
    if override is not None:
        return override  # type: ignore[return-value]
    modes = {one.config.runtime.mode for one in resolved}
    if len(modes) > 1:
        shown = ", ".join(f"{o}: {r.config.runtime.mode}"
                          for r, o in zip(resolved, origins, strict=True))
        raise UsageError(f"conflicting configs: runtime.mode differs ({shown}); one process "
                         f"runs one mode (or give --mode)")
    return resolved[0].config.runtime.mode


def _common_source(host: PluginHost, resolved: Sequence[ResolvedConfig],
                   origins: Sequence[str], mode: str) -> tuple[str, dict[str, Any]]:
    chosen = {(one.config.runtime.source, repr(sorted(one.config.runtime.source_settings.items())))
              for one in resolved}
    if len(chosen) > 1:
        shown = ", ".join(f"{o}: {r.config.runtime.source or 'default'}"
                          for r, o in zip(resolved, origins, strict=True))
        raise UsageError(f"conflicting configs: runtime.source or runtime.source_settings "
                         f"differ ({shown}); one process reads one market data source")
    first = resolved[0].config.runtime
    wanted = first.source
    live = sorted(sid for sid, cls in host.sources.items() if cls.live)
    if wanted is None:
        if mode == "demo":
            wanted = "replay"
        elif not live:
            raise UsageError(_NO_LIVE_SOURCE.format(mode=mode))
        elif len(live) > 1:
            raise UsageError(f"{mode} mode: several live sources are installed "
                             f"({', '.join(live)}); choose one with runtime.source")
        else:
            wanted = live[0]
    cls = host.sources.get(wanted)
    if cls is None:
        known = ", ".join(sorted(host.sources)) or "none"
        raise ConfigError(f"{origins[0]}: runtime.source: no installed market data source has "
                          f"the id {wanted!r} (installed: {known})")
    if mode != "demo" and not cls.live:
        raise UsageError(f"{mode} mode needs a live market data source; runtime.source "
                         f"{wanted!r} replays recorded data" + (
                             f" (installed live sources: {', '.join(live)})" if live else
                             " and none is installed (the ccxt exchange plugin provides one)"))
    if mode == "demo" and cls.live:
        raise UsageError(f"demo mode replays recorded data; runtime.source {wanted!r} is a live "
                         f"feed (use --mode paper)")
    from pydantic import ValidationError

    try:
        cls.Settings.model_validate(dict(first.source_settings))
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"{origins[0]}: runtime.source_settings.{where}: {err['msg']} "
                          f"(got {err.get('input', '<missing>')})") from None
    return wanted, dict(first.source_settings)


def _check_venues(host: PluginHost, resolved: Sequence[ResolvedConfig], origins: Sequence[str],
                  mode: str) -> None:
    for one, origin in zip(resolved, origins, strict=True):
        for name, venue in one.config.venues.items():
            adapter = host.exchanges.get(venue.adapter)
            if adapter is None:
                continue  # build_pipeline names the missing adapter with the others
            if mode in ("demo", "paper") and not adapter.simulated:
                raise UsageError(f"{origin}: venues.{name}: adapter {venue.adapter!r} sends real "
                                 f"orders; {mode} mode fills on simulated venues only")
            if mode == "live" and adapter.simulated:
                raise UsageError(f"{origin}: venues.{name}: adapter {venue.adapter!r} is "
                                 f"simulated; live mode needs a live venue adapter")


def build_runtime(host: PluginHost, plan: RunPlan, *, clock: Clock, sink: EventSink,
                  source: MarketDataSource | None = None, max_cycles: int | None = None,
                  duration_ns: int | None = None, stopwatch: Callable[[], int] | None = None,
                  record_runs: bool = True,
                  on_cycle: Callable[[Scheduler], None] | None = None) -> Scheduler:
    """Subscribe the source, anchor the clock, build and warm up the sleeves, start them.

    :param source: the source to use (tests); default: ``plan.source_id`` built with the clock.
    :param record_runs: write each sleeve's run record (promotion evidence), decision
        journal (``BOT_CORE_HOME/journal/<bot>``) and state file (restored and reconciled on a
        restart: docs/state.md) under ``BOT_CORE_HOME``; ``smoke`` and ``loadtest`` do not.
    """
    import time

    from bot_core.runtime.events import RuntimeObserver
    from bot_core.runtime.replay import library_history
    from bot_core.runtime.scheduler import Scheduler
    from bot_core.runtime.sleeve import Sleeve, strategy_subscriptions
    from bot_core.runtime.sources import Subscription

    watch = stopwatch or time.perf_counter_ns
    journals = None
    if record_runs:  # the journal key first: paper and live refuse to start without one
        from bot_core.journal.runtime import RuntimeJournals

        journals = RuntimeJournals(host, plan.mode)
        sink = journals.sink(sink)
    states = None
    configs = plan.configs
    if record_runs:  # each bot's state file, opened (and locked) before anything starts
        from bot_core.state.runtime import RunState

        states = RunState.open(host, plan.configs, plan.mode)
        configs = states.configs()  # simulated venues keep their book beside it
    if source is None:
        cls = host.source(plan.source_id)
        stale = min(r.config.runtime.feed_stale_after_s for r in plan.configs)
        settings = dict(plan.source_settings)
        if states is not None:  # a replay resumes where a crashed run stopped
            settings = states.source_settings(cls.live, list(cls.Settings.model_fields),
                                              settings)
        source = cls(cls.Settings.model_validate(settings), clock=clock, stale_after_s=stale)
    wanted: set[Subscription] = set()
    for one in plan.configs:
        for name, strat in one.config.strategies.items():
            if strat.enabled:
                kind = host.strategy(strat.plugin).data_kind
                wanted.update(strategy_subscriptions(one.config, name, kind))
    subs = sorted(wanted, key=lambda s: (s.kind, s.instrument, s.venue, s.period_ns))
    try:
        source.subscribe(subs)
    except ConfigError as exc:  # a source knows the setting, the plan knows where it was set
        raise ConfigError([replace(p, source=plan.sources[0]) if p.source == "<config>" else p
                           for p in exc.problems]) from None
    start = source.start_ns()
    if start is not None:
        anchor = getattr(clock, "start_at", None)
        if anchor is not None:
            anchor(start)
    start_ns = clock.now_ns()
    sleeves = [Sleeve(one, host, mode=plan.mode, run_id=f"run-{uuid.uuid4().hex[:12]}",
                      clock=clock, stopwatch=watch, sink=sink) for one in configs]
    if states is not None:  # the books as the state file knew them, before anything starts
        for sleeve in sleeves:
            states.attach(sleeve)

    by_run = {sleeve.run.run_id: sleeve for sleeve in sleeves}

    def decided(run_id: str, intent: OrderIntent, verdict: Verdict) -> None:
        sleeve = by_run.get(run_id)
        health = sleeve.health.get(intent.strategy_id) if sleeve is not None else None
        if health is not None:
            health.last_intent, health.last_verdict = intent, verdict

    observer = RuntimeObserver(sink, decided)
    host.register_observer(observer, name=f"runtime-{uuid.uuid4().hex[:8]}")

    def history(sub: Subscription, rows: int) -> Any:
        frame = source.history(sub, rows, start_ns)
        return frame if frame is not None else library_history(sub, rows, start_ns)

    monitors = {}
    for sleeve in sleeves:
        sleeve.warm_up(history)
        if record_runs:
            from bot_core.runtime.history import RunRecorder, config_hash

            sleeve.recorder = RunRecorder(bot=sleeve.name, mode=plan.mode,
                                          run_id=sleeve.run.run_id,
                                          config_hash=config_hash(sleeve.config),
                                          started_ns=start_ns)
        limits = sleeve.config.runtime.resource_limits
        if any(v is not None for v in (limits.max_rss_mb, limits.max_cpu_pct,
                                       limits.max_open_orders, limits.max_state_disk_mb)):
            from bot_core.journal.home import journal_directory
            from bot_core.runtime.history import bot_state_dir
            from bot_core.runtime.resources import ResourceMonitor

            pipeline = sleeve.pipeline
            monitors[sleeve.name] = ResourceMonitor(
                limits, open_orders=lambda p=pipeline: len(p.open_orders),  # type: ignore[misc]
                disk_paths=[bot_state_dir(sleeve.name), journal_directory(sleeve.name)])
    periods = [s.period_ns for s in subs if s.period_ns]
    cycle_ns = min(periods) if periods else 60 * 1_000_000_000
    if journals is not None:  # every decision journaled, from each bot's start record on
        for sleeve in sleeves:
            journals.attach(sleeve)
    for sleeve in sleeves:
        sleeve.start()
        sink.emit("start", sleeve.name, start_ns, mode=plan.mode, run_id=sleeve.run.run_id,
                  source=plan.source_id, strategies=list(sleeve.guards),
                  warnings=sleeve.warnings,
                  subscriptions=list(dict.fromkeys(
                      str(s) for feed in sleeve.subscriptions.values() for s in feed)))
        if states is not None:  # the books against every venue, before the first decision
            states.reconcile(sleeve, sink)
    scheduler = Scheduler(sleeves, source, clock, sink=sink, cycle_ns=cycle_ns,
                          max_cycles=max_cycles, duration_ns=duration_ns, stopwatch=watch,
                          monitors=monitors, on_cycle=on_cycle)
    scheduler.cleanup.append(lambda: host.unregister_observer(observer))
    if states is not None:
        scheduler.cleanup.append(states.close)
    if journals is not None:
        scheduler.journals = journals
        scheduler.cleanup.append(journals.close)
    return scheduler
