"""How ``bot-core run`` keeps the state of each of its bots (docs/state.md).

:meth:`RunState.open` runs before anything starts: it opens (and locks) each bot's state file,
gives every simulated venue whose settings have a ``state_file`` one under the bot's state
directory, and finds where a resumed replay starts. Then, per sleeve:
:meth:`RunState.attach` restores the books into the sleeve's pipeline before it starts and
attaches the observer that commits orders before they are sent; :meth:`RunState.reconcile`
runs once the venues are connected and before the first decision.

A demo run whose state file's last run ended cleanly starts afresh (its files are removed): a
demo replays history and is meant to be run again from the start. After a crash it resumes,
as paper and live always do: their state is the account's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot_core.errors import UsageError
from bot_core.state.observer import StateObserver
from bot_core.state.paths import state_file, venue_state_file
from bot_core.state.reconcile import ReconciliationReport, reconcile
from bot_core.state.restore import Restored, restore
from bot_core.state.store import StateStore, hold_lock

if TYPE_CHECKING:
    from bot_core.config.models import StateSettings
    from bot_core.config.resolve import ResolvedConfig
    from bot_core.plugins import PluginHost
    from bot_core.runtime.events import EventSink
    from bot_core.runtime.sleeve import Sleeve

__all__ = ["BotState", "RunState"]

_RESUME_MARGIN_NS = 1_000_000
"""A resumed replay starts this long after the last recorded moment: events known at exactly
that moment were handled before the crash."""


@dataclass(slots=True)
class BotState:
    """One bot's state in this run."""

    name: str
    settings: StateSettings
    store: StateStore
    resumed: bool
    """The state file held something when the run started."""
    venue_files: dict[str, Path] = field(default_factory=dict)
    observer: StateObserver | None = None
    restored: Restored | None = None
    report: ReconciliationReport | None = None


class RunState:
    """The state of every bot of one run (see the module docstring)."""

    def __init__(self, bots: dict[str, BotState], configs: list[ResolvedConfig]) -> None:
        self.bots = bots
        self._configs = configs

    @classmethod
    def open(cls, host: PluginHost, configs: Sequence[ResolvedConfig], mode: str, *,
             home: Path | None = None) -> RunState:
        """Open every bot's state file (bots with ``runtime.state.enabled = false`` have none).

        :raises UsageError: state disabled in live mode.
        :raises StateError: a state file is unreadable, from a newer bot-core, or in use.
        :raises HomeError: ``BOT_CORE_HOME`` cannot be written.
        """
        bots: dict[str, BotState] = {}
        adjusted: list[ResolvedConfig] = []
        try:
            for resolved in configs:
                config = resolved.config
                settings = config.runtime.state
                if not settings.enabled:
                    if mode == "live":
                        raise UsageError(f"{config.name}: runtime.state.enabled = false: a live "
                                         f"bot must keep its state (orders at a real venue "
                                         f"outlive the process)")
                    adjusted.append(resolved)
                    continue
                path = state_file(config.name, mode, home, create=True)
                if mode == "demo":
                    _fresh_after_clean_demo(path)
                sync = settings.synchronous or ("normal" if mode == "demo" else "full")
                store = StateStore(path, synchronous=sync)
                bot = BotState(config.name, settings, store, resumed=not store.empty)
                bots[config.name] = bot
                adjusted.append(_with_venue_files(host, resolved, mode, home, bot))
        except BaseException:
            for bot in bots.values():
                bot.store.close()
            raise
        return cls(bots, adjusted)

    def configs(self) -> list[ResolvedConfig]:
        """The run's configs, each simulated venue with its ``state_file``."""
        return list(self._configs)

    @property
    def resume_ns(self) -> int | None:
        """Market time a replay resumes from (the latest any resumed bot recorded), or None."""
        times = [b.store.clock_ns for b in self.bots.values() if b.resumed and b.store.clock_ns]
        return max(times) if times else None

    def source_settings(self, live: bool, fields: Sequence[str],
                        settings: dict[str, Any]) -> dict[str, Any]:
        """A replay source's settings, starting where a resumed bot stopped (a live source and
        a replay without a ``start`` setting are left as they are)."""
        resume = self.resume_ns
        if live or resume is None or "start" not in fields:
            return settings
        start = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(
            microseconds=(resume + _RESUME_MARGIN_NS) // 1000)
        given = settings.get("start")
        if given is not None:
            given_dt = given if isinstance(given, dt.datetime) else \
                dt.datetime.fromisoformat(str(given))
            if given_dt.tzinfo is None:
                given_dt = given_dt.replace(tzinfo=dt.UTC)
            if given_dt >= start:
                return settings
        return {**settings, "start": start}

    # -- per sleeve ---------------------------------------------------------------------------

    def attach(self, sleeve: Sleeve) -> None:
        """Restore the sleeve's books (before ``sleeve.start()``) and start recording."""
        bot = self.bots.get(sleeve.name)
        if bot is None:
            return
        bot.store.clock = sleeve.clock.now_ns
        bot.restored = restore(bot.store, sleeve.pipeline)
        first_seen: dict[str, int] = {}

        def quarantined() -> dict[str, tuple[str, int]]:
            out = {}
            for name, health in sleeve.health.items():
                if health.quarantined:
                    out[name] = (health.quarantined,
                                 first_seen.setdefault(name, sleeve.clock.now_ns()))
            return out

        bot.observer = StateObserver(bot.store, sleeve.pipeline, quarantine=quarantined,
                                     snapshot_interval_s=bot.settings.snapshot_interval_s)
        bot.observer.attach()
        bot.store.begin_run(sleeve.run.run_id)
        sleeve.cycle_listeners.append(bot.observer.cycle)

    def reconcile(self, sleeve: Sleeve, sink: EventSink) -> None:
        """After ``sleeve.start()``, before the first decision: reconcile with every venue,
        put back the strategies quarantined before the restart, report, snapshot."""
        bot = self.bots.get(sleeve.name)
        if bot is None or bot.observer is None or bot.restored is None:
            return
        now = sleeve.clock.now_ns()
        report = reconcile(sleeve.pipeline, bot.store, ts_ns=now,
                           on_mismatch=bot.settings.on_mismatch)
        bot.report = report
        for name, cause in bot.restored.quarantined.items():
            guarded = sleeve.guards.get(name)
            if guarded is not None:
                guarded.quarantine(f"{cause} (before a restart)")
        sink.emit("reconcile", sleeve.name, now, resumed=bot.resumed,
                  restored=bot.restored.as_dict(), **report.as_dict())
        sleeve.settle()
        bot.observer.snapshot(now)

    def close(self) -> None:
        """Detach the observers and close the state files (after the sleeves stopped)."""
        for bot in self.bots.values():
            try:
                if bot.observer is not None:
                    bot.observer.detach()
            finally:
                bot.store.close()


def _with_venue_files(host: PluginHost, resolved: ResolvedConfig, mode: str,
                      home: Path | None, bot: BotState) -> ResolvedConfig:
    """Give every venue whose adapter settings have ``state_file`` (and that has none set) a
    state file under the bot's state directory."""
    from bot_core.config.resolve import ResolvedConfig

    config = resolved.config
    venues = dict(config.venues)
    sources = dict(resolved.sources)
    for name, venue in config.venues.items():
        adapter = host.exchanges.get(venue.adapter)
        if adapter is None or "state_file" not in adapter.Settings.model_fields:
            continue
        if venue.settings.get("state_file") is not None:
            bot.venue_files[name] = Path(venue.settings["state_file"])
            continue
        path = venue_state_file(config.name, mode, name, home, create=True)
        bot.venue_files[name] = path
        venues[name] = venue.model_copy(update={"settings": {**venue.settings,
                                                             "state_file": str(path)}})
        sources[f"venues.{name}.settings.state_file"] = "runtime.state"
    if venues == dict(config.venues):
        return resolved
    return ResolvedConfig(config.model_copy(update={"venues": venues}), sources,
                          dict(resolved.strategy_settings))


def _fresh_after_clean_demo(path: Path) -> None:
    """Remove a demo bot's state (and its venues') when its last run ended cleanly."""
    if not path.exists():
        return
    with StateStore(path) as store:
        runs = store.runs()
        if not runs or not runs[-1].ended_cleanly:
            return
    lock = hold_lock(path.with_name(path.name + ".lock"), f"state file {path.name}")
    try:
        for stale in (path, path.with_name(path.name + "-wal"),
                      path.with_name(path.name + "-shm")):
            stale.unlink(missing_ok=True)
        venues = path.parent / "venues"
        if venues.is_dir():
            for stale in venues.iterdir():
                if not stale.name.endswith(".lock"):
                    stale.unlink(missing_ok=True)
    finally:
        lock.close()
