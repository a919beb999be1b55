"""Every hook of bot-core, in the order they run.

A plugin is a module (the target of an entry point in the ``bot_core`` group) with functions
marked ``@bot_core.hookimpl`` whose names are hook names below. Only names starting with
``bot_core_`` are hooks; the manager ignores everything else. Plugins need implement only the
hooks they care about, and may accept only a prefix of a hook's arguments.

Order of a run: registration (once, at start-up) -> configuration -> ``bot_core_on_start`` ->
for each event: ``bot_core_on_decision`` -> ``bot_core_on_risk_verdict`` (and
``bot_core_on_trading_state`` when the state changes) -> ``bot_core_on_order`` ->
``bot_core_on_fill`` -> ... -> ``bot_core_on_stop``.

None of the hooks here is ``firstresult``: collector hooks receive a ``register`` callable,
observer hooks return nothing and every implementation is called.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from bot_core.config.models import BotConfig
    from bot_core.exchange import ExchangeAdapter
    from bot_core.orders import Fill, Order, OrderIntent
    from bot_core.risk.check import RiskCheck, TradingState, Verdict
    from bot_core.runinfo import RunInfo
    from bot_core.runtime.promotion import PromotionGate
    from bot_core.runtime.resources import Breach
    from bot_core.runtime.smoke_venues import SmokeVenue
    from bot_core.runtime.sources import MarketDataSource
    from bot_core.strategy import Strategy

__all__ = ["PROJECT", "hookimpl", "hookspec"]

PROJECT = "bot_core"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ---------------------------------------------------------------------------------------------
# Registration: called once by ``load_plugins()``, before any configuration is read.
# ---------------------------------------------------------------------------------------------


@hookspec
def bot_core_register_strategies(register: Callable[[type[Strategy]], None]) -> None:
    """Contribute strategy classes.

    Runs once at start-up, during plugin discovery, before any configuration is validated.

    :param register: call it once per :class:`~bot_core.strategy.Strategy` subclass. The host
        checks the class against the contract and rejects an id another distribution already
        registered, naming both distributions.
    :return: nothing; every implementation is called.
    """


@hookspec
def bot_core_register_exchanges(register: Callable[[type[ExchangeAdapter]], None]) -> None:
    """Contribute exchange adapter classes (venues).

    Runs once at start-up, during plugin discovery, right after strategy registration.

    :param register: call it once per :class:`~bot_core.exchange.ExchangeAdapter` subclass; ids
        are unique across all plugins.
    :return: nothing; every implementation is called.
    """


@hookspec
def bot_core_register_risk_checks(register: Callable[[type[RiskCheck]], None]) -> None:
    """Contribute pre-trade risk check classes.

    Runs once at start-up, during plugin discovery, right after exchange registration. Which
    checks run is decided by the risk profile (``risk.checks`` in presets and configs).

    :param register: call it once per :class:`~bot_core.risk.check.RiskCheck` subclass; ids are
        unique across all plugins.
    :return: nothing; every implementation is called.
    """


@hookspec
def bot_core_register_sources(register: Callable[[type[MarketDataSource]], None]) -> None:
    """Contribute market data source classes (live feeds, replays) for the runtime.

    Runs once at start-up, during plugin discovery, right after risk-check registration. The
    host's own ``replay`` source is registered through this hook too. Which source a bot uses
    is ``runtime.source`` (default: ``replay`` in demo mode, the one installed live source in
    paper and live modes).

    :param register: call it once per :class:`~bot_core.runtime.sources.MarketDataSource`
        subclass; ids are unique across all plugins.
    :return: nothing; every implementation is called.
    """


@hookspec
def bot_core_register_promotion_gates(register: Callable[[type[PromotionGate]], None]) -> None:
    """Contribute promotion gates: conditions a bot must meet before it moves from demo to
    paper or from paper to live (``bot-core pipeline promote``).

    Runs once at start-up, during plugin discovery, after the other registration hooks. The
    host's own gates (evidence, breaches, pinned plugins, confirmation) are registered through
    this same hook. Every registered gate whose ``applies_to`` names the target mode must pass;
    a gate that raises fails.

    :param register: call it once per :class:`~bot_core.runtime.promotion.PromotionGate`
        subclass; ids are unique across all plugins.
    :return: nothing; every implementation is called.
    """


@hookspec
def bot_core_register_smoke_venues(register: Callable[[type[SmokeVenue]], None]) -> None:
    """Contribute smoke venues: local stand-ins for real venues whose market data
    ``bot-core smoke --mode paper`` runs the shipped strategies on.

    Runs once at start-up, during plugin discovery, after the other registration hooks. A
    paper smoke of the shipped presets opens the one installed smoke venue (none: the command
    says so and exits 2), runs on the :class:`~bot_core.runtime.smoke_venues.SmokeOverlay` it
    yields (market data source, its settings, bar length) and closes it when the run ends.

    :param register: call it once per :class:`~bot_core.runtime.smoke_venues.SmokeVenue`
        subclass; ids are unique across all plugins.
    :return: nothing; every implementation is called.
    """


# ---------------------------------------------------------------------------------------------
# Configuration: after the config is resolved and validated, before the run starts.
# ---------------------------------------------------------------------------------------------


@hookspec
def bot_core_configure(config: BotConfig) -> None:
    """Inspect the resolved, validated configuration before a run starts.

    Runs once per run, after every strategy's settings were validated by its plugin's
    ``Settings`` model and before ``bot_core_on_start``. Raise
    :class:`~bot_core.errors.ConfigError` to refuse the configuration with a clear message.

    :param config: the resolved configuration (frozen).
    :return: nothing; every implementation is called.
    """


# ---------------------------------------------------------------------------------------------
# Lifecycle
# ---------------------------------------------------------------------------------------------


@hookspec
def bot_core_on_start(run: RunInfo) -> None:
    """A run (demo, paper, live or backtest) is starting.

    Runs once, after ``bot_core_configure`` and before the first market event.

    :param run: identity of the run: id, mode, config, start time.
    :return: nothing; every implementation is called.
    """


# ---------------------------------------------------------------------------------------------
# Signals: a strategy decided something.
# ---------------------------------------------------------------------------------------------


@hookspec
def bot_core_on_decision(run: RunInfo, intent: OrderIntent) -> None:
    """A strategy returned an order intent; it has not been judged by risk yet.

    Runs for every intent, before ``bot_core_on_risk_verdict`` for the same intent.

    :param run: the current run.
    :param intent: what the strategy wants (``intent.strategy_id`` names the strategy instance).
    :return: nothing; every implementation is called.
    """


# ---------------------------------------------------------------------------------------------
# Pre-trade risk
# ---------------------------------------------------------------------------------------------


@hookspec
def bot_core_on_risk_verdict(run: RunInfo, intent: OrderIntent, verdict: Verdict) -> None:
    """The risk engine judged an intent: approved, reduced or rejected.

    Runs once per intent, after ``bot_core_on_decision`` and before ``bot_core_on_order`` (which
    follows only for approved or reduced intents). Rejections are data, not exceptions.

    :param run: the current run.
    :param intent: the intent as the strategy sent it.
    :param verdict: the combined verdict; ``verdict.check_id`` names the deciding check.
    :return: nothing; every implementation is called.
    """


@hookspec
def bot_core_on_trading_state(
    run: RunInfo, previous: TradingState, current: TradingState, cause: str, ts_ns: int
) -> None:
    """The trading state changed (ACTIVE, REDUCING, HALTED).

    Runs at the moment of the transition, before the order that caused it (if any) is judged
    further.

    :param run: the current run.
    :param previous: state before the transition.
    :param current: state after the transition.
    :param cause: reason code (``daily_loss_limit``, ``drawdown_liquidation``, ``operator``...).
    :param ts_ns: event time of the transition, UTC nanoseconds.
    :return: nothing; every implementation is called.
    """


# ---------------------------------------------------------------------------------------------
# Execution
# ---------------------------------------------------------------------------------------------


@hookspec
def bot_core_on_order(run: RunInfo, order: Order) -> None:
    """An approved order was handed to its venue, or an order's status changed.

    Runs after ``bot_core_on_risk_verdict`` for new orders, and again on each status change
    reported by the venue (accepted, cancelled, rejected, expired, filled).

    :param run: the current run.
    :param order: the order, with its current status and filled quantity.
    :return: nothing; every implementation is called.
    """


@hookspec
def bot_core_on_fill(run: RunInfo, fill: Fill) -> None:
    """A fill was booked into the portfolio (duplicates by trade id are dropped before this).

    Runs after the portfolio was updated and before the strategy's ``on_fill``.

    :param run: the current run.
    :param fill: the execution.
    :return: nothing; every implementation is called.
    """


# ---------------------------------------------------------------------------------------------
# Resources: a running bot near or over its ``[runtime.resource_limits]``.
# ---------------------------------------------------------------------------------------------


@hookspec
def bot_core_on_resource_breach(
    run: RunInfo, breaches: Sequence[Breach], paused: Sequence[str], resumed: Sequence[str],
    ts_ns: int,
) -> None:
    """A resource sample found a limit breached, or the shedding of work changed.

    Runs after each resource sample (every ``runtime.resource_limits.sample_interval_s``) of a
    bot in ``bot-core run`` that has a breach (over its limit, or back under it but not yet
    recovered) or whose strategies were paused or resumed, after the scheduler applied that.

    :param run: the bot's run.
    :param breaches: each :class:`~bot_core.runtime.resources.Breach` (``resource``, ``value``,
        ``limit``, ``over``); empty when the sample ended the last breach.
    :param paused: strategy instances (``<bot>/<name>``) paused now, lowest priority first.
    :param resumed: strategy instances resumed now.
    :param ts_ns: cycle time of the sample, UTC nanoseconds.
    :return: nothing; every implementation is called.
    """


# ---------------------------------------------------------------------------------------------
# Shutdown
# ---------------------------------------------------------------------------------------------


@hookspec
def bot_core_on_stop(run: RunInfo, reason: str) -> None:
    """A run ended.

    Runs once, after the last event, also when the run ends with an error.

    :param run: the run that ended.
    :param reason: ``completed`` (the data, ``--cycles`` or ``--duration`` ran out),
        ``interrupted: SIGINT`` / ``interrupted: SIGTERM`` (graceful shutdown on a signal),
        ``quarantined`` (every strategy of the bot was quarantined), ``error: ...``; backtests
        also give ``end_of_data`` or why their fast path gave way.
    :return: nothing; every implementation is called.
    """
