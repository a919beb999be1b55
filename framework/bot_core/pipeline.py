"""The one event path of demo, paper, live trading and backtests.

A strategy cannot tell a backtest from live trading because both run through this class. Per
market event (:meth:`TradingPipeline.on_bar`, :meth:`TradingPipeline.on_quote`), in this order:

1. the event goes to the venue of the same name (``venue.on_market_data``); its execution
   reports are processed: fills de-duplicated by trade id -> portfolio -> ``risk.on_fill`` ->
   ``bot_core_on_fill`` -> ``strategy.on_fill`` (whose intents go through :meth:`submit`);
2. the risk engine marks the portfolio and updates its state (equity peak, trading day,
   daily-loss halt, drawdown liquidation); the engine's own liquidation orders are submitted;
3. the strategies subscribed to that (venue, instrument) get the event and their intents are
   submitted.

:meth:`submit` is ``bot_core_on_decision`` -> ``risk.evaluate`` -> ``bot_core_on_risk_verdict``
-> (approved or reduced only) an :class:`~bot_core.orders.Order` with the allowed quantity ->
the ``before_submit`` listeners (the state store commits the order here, before any venue sees
it) -> ``venue.submit`` -> ``bot_core_on_order`` -> the venue's reports as above. A rejected intent
reaches its strategy as a ``REJECTED`` report (reason ``risk:<code>``) through
``strategy.on_order_update``. Client order ids are
idempotent: an id already used never reaches a venue a second time.

When the trading state turns HALTED or REDUCING, resting orders that are not reduce-only are
cancelled at their venues, so no order placed before the transition can add risk after it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bot_core.errors import ConfigError, ConfigProblem
from bot_core.orders import ExecutionReport, Fill, Order, OrderIntent, OrderStatus
from bot_core.risk.check import TradingState, Verdict, VerdictAction
from bot_core.risk.engine import APPROVED

if TYPE_CHECKING:
    from bot_core.config.models import BotConfig
    from bot_core.config.resolve import ResolvedConfig
    from bot_core.exchange import ExchangeAdapter
    from bot_core.market import Bar, Quote
    from bot_core.plugins import PluginHost
    from bot_core.portfolio import Portfolio
    from bot_core.risk.engine import RiskEngine
    from bot_core.runinfo import RunInfo
    from bot_core.strategy import Strategy

__all__ = ["PIPELINE_CHECK_ID", "PipelineStrategyContext", "TradingPipeline", "build_pipeline",
           "default_venue_settings"]

_APPROVED_KEY = f"{APPROVED.action.value}:{APPROVED.reason}"

PIPELINE_CHECK_ID = "pipeline"
"""``Verdict.check_id`` of rejections decided by the pipeline before risk (unknown venue,
client order id already used)."""


class PipelineStrategyContext:
    """The :class:`~bot_core.strategy.StrategyContext` of one strategy instance.

    Positions are the strategy's own; equity and prices are the bot's. Client order ids are
    ``<strategy>-<run id>-<n>``: unique for the run, and across restarts as long as the counter
    is restored with :meth:`TradingPipeline.snapshot`.
    """

    __slots__ = ("_pipeline", "_prefix", "name", "order_seq")

    def __init__(self, pipeline: TradingPipeline, name: str) -> None:
        self._pipeline = pipeline
        self.name = name
        self._prefix = f"{name}-{pipeline.run.run_id}-"
        self.order_seq = 0

    @property
    def now_ns(self) -> int:
        return self._pipeline.now_ns

    @property
    def equity(self) -> float:
        return self._pipeline.portfolio.equity

    def position(self, instrument: str, venue: str | None = None) -> float:
        return self._pipeline.portfolio.position(instrument, venue, self.name)

    def last_price(self, instrument: str, venue: str | None = None) -> float:
        return self._pipeline.portfolio.last_price(instrument, venue)

    def new_client_order_id(self) -> str:
        prefix, number = self.reserve_client_order_ids(1)
        return f"{prefix}{number}"

    def reserve_client_order_ids(self, count: int) -> tuple[str, int]:
        """Take the next ``count`` client order ids without making them: their prefix and the
        number of the first (the others follow it; the compiled replay takes a run's at once,
        as :class:`bot_core.orderids.NumberedIds`)."""
        first = self.order_seq + 1
        self.order_seq += count
        return self._prefix, first


class TradingPipeline:
    """Routes market data, intents, orders and fills between strategies, risk and venues.

    :param run: identity of the run (passed to every observer hook).
    :param host: the plugin host whose observer hooks are called.
    :param strategies: instance name -> strategy; ``strategy.venues`` and
        ``strategy.instruments`` decide which events it receives (all when empty).
    :param venues: venue name -> adapter; events and orders are routed by this name.
    :param portfolio: the portfolio every fill is booked into.
    :param risk: the risk engine every intent goes through.
    """

    def __init__(self, run: RunInfo, host: PluginHost, strategies: Mapping[str, Strategy],
                 venues: Mapping[str, ExchangeAdapter], portfolio: Portfolio,
                 risk: RiskEngine) -> None:
        self.run = run
        self.host = host
        self.strategies = dict(strategies)
        self.venues = dict(venues)
        self.portfolio = portfolio
        self.risk = risk
        self.now_ns = 0
        self.orders: dict[str, Order] = {}
        """Every order handed to a venue, by client order id (final ones included)."""
        self.open_orders: dict[str, Order] = {}
        self.verdicts: dict[str, int] = {}
        """Count of verdicts by ``action:reason`` (a cheap summary for results and metrics)."""
        self.fill_listeners: list[Callable[[Fill], None]] = []
        """In-process callables given every booked fill right after ``bot_core_on_fill`` (the
        backtest's trade book): a plain call, without a hook dispatch per fill."""
        self.before_submit: list[Callable[[Order], None]] = []
        """In-process callables given each order before ``venue.submit`` (the state store
        commits it there). One that raises stops the order: it is never sent and ends
        ``REJECTED`` with reason ``not_persisted: ...`` (fail closed)."""
        self.contexts = {name: PipelineStrategyContext(self, name) for name in self.strategies}
        self._seen_ids: set[str] = set()
        self._bar_subs: dict[tuple[str, str], list[Strategy]] = {}
        self._quote_subs: dict[tuple[str, str], list[Strategy]] = {}
        self._wildcard: list[Strategy] = []
        for strategy in self.strategies.values():
            if not strategy.venues or not strategy.instruments:
                self._wildcard.append(strategy)
                continue
            table = self._bar_subs if strategy.data_kind == "ohlcv" else self._quote_subs
            for venue in strategy.venues:
                for instrument in strategy.instruments:
                    table.setdefault((venue, instrument), []).append(strategy)
        self._pending_cancel = False
        self._started = False
        self._stopped = False
        risk.add_state_listener(self._on_state_change)

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Connect venues, call ``bot_core_on_start`` and every strategy's ``on_start``."""
        if self._started:
            return
        self._started = True
        for venue in self.venues.values():
            venue.connect()
        self.host.on_start(self.run)
        for name, strategy in self.strategies.items():
            strategy.on_start(self.contexts[name])

    def stop(self, reason: str) -> None:
        """Strategies' ``on_stop``, venues closed, then ``bot_core_on_stop`` (always, once)."""
        if self._stopped:
            return
        self._stopped = True
        try:
            for name, strategy in self.strategies.items():
                strategy.on_stop(self.contexts[name])
        finally:
            try:
                for venue in self.venues.values():
                    venue.close()
            finally:
                self.host.on_stop(self.run, reason)

    # -- market data --------------------------------------------------------------------------

    def on_bar(self, bar: Bar) -> None:
        """One closed bar: venue matching, risk update at the close, then the strategies."""
        self.mark_bar(bar)
        ts_ns = bar.ts_ns
        subs = self._bar_subs.get((bar.venue, bar.instrument)) if self._bar_subs else None
        if subs:
            for strategy in subs:
                self.submit(strategy.on_bar(bar, self.contexts[strategy.name]), ts_ns)
        for strategy in self._wildcard:
            if strategy.data_kind == "ohlcv":
                self.submit(strategy.on_bar(bar, self.contexts[strategy.name]), ts_ns)

    def on_quote(self, quote: Quote) -> None:
        """One top-of-book update: venue matching, risk update at the mid, then strategies."""
        self.mark_quote(quote)
        subs = self._quote_subs.get((quote.venue, quote.instrument))
        if subs:
            for strategy in subs:
                self.submit(strategy.on_quote(quote, self.contexts[strategy.name]), quote.ts_ns)
        for strategy in self._wildcard:
            if strategy.data_kind == "quotes":
                self.submit(strategy.on_quote(quote, self.contexts[strategy.name]), quote.ts_ns)

    def subscribers(self, kind: str, venue: str, instrument: str) -> list[Strategy]:
        """The strategies that get ``kind`` (``ohlcv`` or ``quotes``) events of ``instrument``
        on ``venue``, in the order :meth:`on_bar` / :meth:`on_quote` call them."""
        table = self._bar_subs if kind == "ohlcv" else self._quote_subs
        return [*table.get((venue, instrument), ()),
                *(s for s in self._wildcard if s.data_kind == kind)]

    def mark_bar(self, bar: Bar) -> None:
        """The first half of :meth:`on_bar`, without the strategies: venue matching, then the
        risk update at the close (equity monitors, cancels on a state change, liquidation).

        The runtime's scheduler calls it for every bar of every sleeve before any strategy
        runs, then hands the bar to each strategy with :meth:`deliver`: a slow strategy never
        delays the risk update or a liquidation."""
        ts_ns = bar.ts_ns
        if ts_ns > self.now_ns:
            self.now_ns = ts_ns
        venue = self.venues.get(bar.venue)
        if venue is not None:
            reports = venue.on_market_data(bar)
            if reports:
                self._process(reports)
        risk = self.risk  # _risk_update, inlined: this runs on every bar
        risk.on_market_data(bar.instrument, bar.venue, bar.close, ts_ns)
        if self._pending_cancel:
            self._cancel_risk_adding(ts_ns)
        if risk.liquidating:
            intents = risk.liquidation_intents(ts_ns)
            if intents:
                self.submit(intents, ts_ns)

    def mark_quote(self, quote: Quote) -> None:
        """The first half of :meth:`on_quote`, without the strategies (see :meth:`mark_bar`)."""
        self._advance(quote.ts_ns)
        venue = self.venues.get(quote.venue)
        if venue is not None:
            self._process(venue.on_market_data(quote))
        bid, ask = quote.bid, quote.ask
        mid = (bid + ask) / 2.0 if bid > 0.0 and ask >= bid else math.nan
        self._risk_update(quote.instrument, quote.venue, mid, quote.ts_ns)

    def deliver(self, name: str, event: Bar | Quote) -> None:
        """The second half of :meth:`on_bar` / :meth:`on_quote` for one strategy: its
        ``on_bar`` (or ``on_quote``), whose intents are submitted at the event's time.

        The caller has passed the event through :meth:`mark_bar` / :meth:`mark_quote` first
        and decides which strategy gets which event (the runtime routes by timeframe)."""
        strategy = self.strategies[name]
        ctx = self.contexts[name]
        if strategy.data_kind == "ohlcv":
            self.submit(strategy.on_bar(event, ctx), event.ts_ns)  # type: ignore[arg-type]
        else:
            self.submit(strategy.on_quote(event, ctx), event.ts_ns)  # type: ignore[arg-type]

    def poll(self, now_ns: int) -> None:
        """Process reports that live venues received since the last poll."""
        self._advance(now_ns)
        for venue in self.venues.values():
            self._process(venue.poll())

    def _advance(self, ts_ns: int) -> None:
        if ts_ns > self.now_ns:
            self.now_ns = ts_ns

    def _risk_update(self, instrument: str, venue: str, price: float, ts_ns: int) -> None:
        risk = self.risk
        risk.on_market_data(instrument, venue, price, ts_ns)
        if self._pending_cancel:
            self._cancel_risk_adding(ts_ns)
        if risk.liquidating:
            intents = risk.liquidation_intents(ts_ns)
            if intents:
                self.submit(intents, ts_ns)

    # -- orders -------------------------------------------------------------------------------

    def submit(self, intents: Iterable[OrderIntent], now_ns: int) -> list[Verdict]:
        """Judge each intent and send the approved (or reduced) ones to their venues."""
        verdicts: list[Verdict] = []
        host, run, risk, seen, tally = self.host, self.run, self.risk, self._seen_ids, self.verdicts
        for intent in intents:
            host.on_decision(run, intent)
            client_id = intent.client_order_id
            venue = self.venues.get(intent.venue)
            if venue is None:
                verdict = Verdict(VerdictAction.REJECT, "unknown_venue",
                                  f"no venue named {intent.venue!r}", None, PIPELINE_CHECK_ID)
            elif client_id in seen:
                verdict = Verdict(VerdictAction.REJECT, "duplicate_client_order_id",
                                  f"client order id {client_id!r} was already used",
                                  None, PIPELINE_CHECK_ID)
            else:
                seen.add(client_id)
                verdict = risk.evaluate(intent, now_ns)
            verdicts.append(verdict)
            key = _APPROVED_KEY if verdict is APPROVED else \
                f"{verdict.action.value}:{verdict.reason}"
            tally[key] = tally.get(key, 0) + 1
            host.on_risk_verdict(run, intent, verdict)
            if venue is None or verdict.action is VerdictAction.REJECT:
                self._tell_rejected(intent, verdict, now_ns)
                continue
            quantity = intent.quantity if verdict.quantity is None else verdict.quantity
            order = Order(intent, quantity)
            self.orders[client_id] = order
            self.open_orders[client_id] = order
            reports: Sequence[ExecutionReport]
            try:
                for listener in self.before_submit:
                    listener(order)
            except Exception as exc:  # not recorded, not sent: an order must never be unknown
                reports = [ExecutionReport(client_id, OrderStatus.REJECTED, now_ns,
                                           reason=f"not_persisted: {type(exc).__name__}: {exc}")]
            else:
                try:
                    reports = venue.submit(order)
                except Exception as exc:  # a venue failure must not leave an order half-known
                    reports = [ExecutionReport(
                        client_id, OrderStatus.REJECTED, now_ns,
                        reason=f"venue_error: {type(exc).__name__}: {exc}")]
            host.on_order(run, order)
            for report in reports:
                self._process_one(report)
        return verdicts

    def _tell_rejected(self, intent: OrderIntent, verdict: Verdict, now_ns: int) -> None:
        """A strategy learns of a rejection before any venue saw the order, as it would of a
        venue's reject: a REJECTED report whose reason starts with ``risk:``. Without it a
        strategy waiting for its order (an arbitrage leg) could not hedge or re-plan."""
        strategy = self.strategies.get(intent.strategy_id)
        if strategy is None:
            return
        report = ExecutionReport(intent.client_order_id, OrderStatus.REJECTED, now_ns,
                                 reason=f"risk:{verdict.reason}")
        self.submit(strategy.on_order_update(report, self.contexts[strategy.name]), now_ns)

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        """Cancel an open order at its venue (cancels never go through risk: allowed even when
        HALTED)."""
        order = self.open_orders.get(client_order_id)
        if order is None:
            return
        venue = self.venues[order.intent.venue]
        self._process(venue.cancel(client_order_id))

    def cancel_open_orders(self, now_ns: int, strategy: str | None = None) -> int:
        """Cancel every open order (of ``strategy`` only, when given) at its venue; return how
        many were asked to cancel. Used when a strategy is quarantined and at shutdown."""
        chosen = [cid for cid, order in self.open_orders.items()
                  if strategy is None or order.intent.strategy_id == strategy]
        for client_id in chosen:
            self.cancel(client_id, now_ns)
        return len(chosen)

    def _on_state_change(self, previous: TradingState, current: TradingState, cause: str,
                         ts_ns: int) -> None:
        self.host.on_trading_state(self.run, previous, current, cause, ts_ns)
        if current is not TradingState.ACTIVE:
            self._pending_cancel = True

    def _cancel_risk_adding(self, now_ns: int) -> None:
        self._pending_cancel = False
        for client_id, order in list(self.open_orders.items()):
            if not order.intent.reduce_only:
                self.cancel(client_id, now_ns)

    # -- execution reports --------------------------------------------------------------------

    def _process(self, reports: Sequence[ExecutionReport]) -> None:
        for report in reports:
            self._process_one(report)

    def _process_one(self, report: ExecutionReport, notify: bool = True) -> None:
        order = self.orders.get(report.client_order_id)
        fill = report.fill
        strategy: Strategy | None = None
        if order is not None and self.strategies and notify:
            strategy = self.strategies.get(order.intent.strategy_id)
        if fill is not None:
            if not fill.strategy_id and order is not None:
                fill = replace(fill, strategy_id=order.intent.strategy_id)
            if self.portfolio.apply_fill(fill):
                if order is not None:
                    _book_fill(order, fill)
                self.risk.on_fill(fill)
                self.host.on_fill(self.run, fill)
                for listener in self.fill_listeners:
                    listener(fill)
                if strategy is not None:
                    self.submit(strategy.on_fill(fill, self.contexts[strategy.name]), fill.ts_ns)
            elif order is None or report.status is order.status:
                return  # a duplicate fill report carries nothing new
        if order is None:
            return
        changed = report.status is not order.status
        order.status = report.status
        if report.reason:
            order.reason = report.reason
        if report.status.is_final:
            self.open_orders.pop(order.client_order_id, None)
            self.risk.on_order_closed(order.client_order_id)
        if changed:
            self.host.on_order(self.run, order)
        if fill is None and strategy is not None:
            self.submit(strategy.on_order_update(report, self.contexts[strategy.name]),
                        report.ts_ns)

    # -- restart ------------------------------------------------------------------------------

    def remember_order(self, order: Order) -> None:
        """Take over an order known from before a restart (the state file, or the venue):
        its client order id counts as used, and while it is open its reports are processed as
        any other's. Nothing is sent and no hook is called."""
        client_id = order.client_order_id
        self._seen_ids.add(client_id)
        self.orders[client_id] = order
        if order.status.is_final:
            self.open_orders.pop(client_id, None)
        else:
            self.open_orders[client_id] = order

    def remember_client_order_ids(self, client_order_ids: Iterable[str]) -> None:
        """Client order ids used before a restart: never sent again."""
        self._seen_ids.update(client_order_ids)

    def apply_report(self, report: ExecutionReport) -> None:
        """Process a report learnt while reconciling with a venue after a restart: fills are
        booked (once per trade id) and observers told, as for any report, but strategies are
        not called (no decision is taken before reconciliation ends)."""
        self._process_one(report, False)

    # -- persistence --------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """JSON-able state of the pipeline itself (client order id counters); the portfolio
        and the risk engine have their own snapshots."""
        return {"order_seq": {name: ctx.order_seq for name, ctx in self.contexts.items()},
                "now_ns": self.now_ns}

    def restore(self, data: Mapping[str, Any]) -> None:
        for name, seq in data.get("order_seq", {}).items():
            if name in self.contexts:
                self.contexts[name].order_seq = int(seq)
        self.now_ns = int(data.get("now_ns", 0))


def _book_fill(order: Order, fill: Fill) -> None:
    total = order.filled_quantity + fill.quantity
    order.average_price = (order.average_price * order.filled_quantity
                           + fill.price * fill.quantity) / total
    order.filled_quantity = total
    order.fees += fill.fee


def default_venue_settings(config: BotConfig, adapter: type[ExchangeAdapter],
                           values: Mapping[str, Any]) -> dict[str, Any]:
    """A venue's settings with the account's defaults: a simulated account that is not given
    ``initial_balances`` holds the bot's ``runtime.initial_equity`` in its base currency."""
    out = dict(values)
    if "initial_balances" in adapter.Settings.model_fields:
        out.setdefault("initial_balances",
                       {config.runtime.base_currency: config.runtime.initial_equity})
    return out


def build_pipeline(resolved: ResolvedConfig, host: PluginHost, run: RunInfo, *,
                   venue_overrides: Mapping[str, ExchangeAdapter] | None = None,
                   strategy_overrides: Mapping[str, Strategy] | None = None,
                   wrap_strategy: Callable[[Strategy], Strategy] | None = None
                   ) -> TradingPipeline:
    """Instantiate everything a config describes and wire it into one pipeline.

    Enabled strategies get their validated settings (``resolved.strategy_settings``, or the
    plugin's ``Settings`` with its profile defaults when the config was resolved without
    plugins); an enabled strategy in ``strategy_overrides`` is used as given, in its place in
    the config's order (the order strategies see each event in). Venues get their adapter with
    settings from ``venues.<name>.settings`` (a venue in ``venue_overrides`` is used as given);
    the risk checks of ``risk.checks``, in order, with ``risk.check_settings``. A venue whose
    settings have ``initial_balances`` and whose config gives none starts with
    ``runtime.initial_equity`` of ``runtime.base_currency`` (:func:`default_venue_settings`).
    ``wrap_strategy`` is applied to every strategy built from the config (the runtime's
    isolation guard); the wrapper keeps the strategy's name, kind, venues and instruments.

    :raises ConfigError: for a component id no installed plugin provides, or invalid settings.
    """
    from pydantic import ValidationError

    from bot_core.config.validation import settings_errors, validate_settings, with_profile_defaults
    from bot_core.portfolio import Portfolio
    from bot_core.risk.engine import RiskEngine

    config = resolved.config
    problems: list[ConfigProblem] = []

    def problem(field: str, value: object, message: str) -> None:
        probe, source = field, ""
        while probe and not source:
            source = resolved.sources.get(probe, "") or next(
                (src for path, src in resolved.sources.items() if path.startswith(probe + ".")),
                "")
            probe = probe.rpartition(".")[0]
        problems.append(ConfigProblem(source or "<config>", field, value, message))

    def validated(model: Any, values: Mapping[str, Any], where: str) -> Any:
        try:
            return validate_settings(model, values)
        except ValidationError as exc:
            for err in settings_errors(exc):
                problem(f"{where}.{err.field}" if err.field else where, err.value, err.message)
            return None

    strategies: dict[str, Strategy] = {}
    given = strategy_overrides or {}
    for name, strat in config.strategies.items():
        if not strat.enabled:
            continue
        if name in given:
            strategies[name] = given[name]
            continue
        cls = host.strategies.get(strat.plugin)
        if cls is None:
            problem(f"strategies.{name}.plugin", strat.plugin, "no installed strategy has this "
                    f"id (installed: {', '.join(sorted(host.strategies)) or 'none'})")
            continue
        settings: Any = resolved.strategy_settings.get(name)
        if settings is None:
            settings = validated(cls.Settings,
                                 with_profile_defaults(cls.Settings, config.profile, strat.params),
                                 f"strategies.{name}.params")
        if settings is not None:
            built = cls(settings, name=name, instruments=strat.instruments, venues=strat.venues)
            strategies[name] = wrap_strategy(built) if wrap_strategy is not None else built

    venues: dict[str, ExchangeAdapter] = dict(venue_overrides or {})
    for name, venue_cfg in config.venues.items():
        if name in venues:
            continue
        adapter = host.exchanges.get(venue_cfg.adapter)
        if adapter is None:
            problem(f"venues.{name}.adapter", venue_cfg.adapter, "no installed exchange adapter "
                    f"has this id (installed: {', '.join(sorted(host.exchanges)) or 'none'})")
            continue
        settings = validated(adapter.Settings,
                             default_venue_settings(config, adapter, venue_cfg.settings),
                             f"venues.{name}.settings")
        if settings is not None:
            venues[name] = adapter(settings, name=name)

    checks = []
    for check_id in config.risk.checks:
        check_cls = host.risk_checks.get(check_id)
        if check_cls is None:
            problem("risk.checks", check_id, "no installed risk check has this id "
                    f"(installed: {', '.join(sorted(host.risk_checks)) or 'none'})")
            continue
        settings = validated(check_cls.Settings, config.risk.check_settings.get(check_id, {}),
                             f"risk.check_settings.{check_id}")
        if settings is not None:
            checks.append(check_cls(settings))
    if problems:
        raise ConfigError(problems)

    portfolio = Portfolio(config.runtime.initial_equity, config.runtime.base_currency)
    risk = RiskEngine(config, checks, portfolio)
    return TradingPipeline(run, host, strategies, venues, portfolio, risk)
