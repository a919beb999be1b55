"""A sleeve: one bot (one config) inside the runtime, with its own portfolio, risk engine and
pipeline.

The pipeline is :func:`bot_core.pipeline.build_pipeline`'s, exactly as a backtest's: the same
strategy objects (each behind its isolation guard), the same risk engine, the same venues. The
scheduler drives it in two halves per event (:meth:`Sleeve.mark`, then :meth:`Sleeve.deliver`
per strategy). Sleeves share nothing but the plugin host and the market data: one sleeve's
positions, orders, equity and limits are invisible to every other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal

from bot_core.market import Bar
from bot_core.runinfo import RunInfo
from bot_core.runtime.isolation import (
    GuardedStrategy,
    IsolationPolicy,
    StrategyHealth,
    guard,
)
from bot_core.runtime.sources import Subscription

if TYPE_CHECKING:
    from bot_core.config.models import BotConfig
    from bot_core.config.resolve import ResolvedConfig
    from bot_core.market import Quote
    from bot_core.pipeline import TradingPipeline
    from bot_core.plugins import PluginHost
    from bot_core.runinfo import RunMode
    from bot_core.runtime.clock import Clock
    from bot_core.runtime.events import EventSink
    from bot_core.runtime.history import RunRecorder
    from bot_core.strategy import Strategy

__all__ = ["HistoryProvider", "Sleeve", "strategy_subscriptions"]

HistoryProvider = Callable[[Subscription, int], Any]
"""``(subscription, rows) -> DataFrame | None``: warm-up history before the run's start."""


def strategy_subscriptions(config: BotConfig, name: str, kind: Literal["ohlcv", "quotes"]
                           ) -> list[Subscription]:
    """The feeds strategy ``name`` of ``config`` needs: its instruments on its venues (every
    venue of the config when it names none), bars of its ``timeframe`` or quotes."""
    cfg = config.strategies[name]
    venues = cfg.venues or list(config.venues)
    timeframe = cfg.timeframe if kind == "ohlcv" else None
    return [Subscription(venue, instrument, kind, timeframe)
            for instrument in cfg.instruments for venue in venues]


class Sleeve:
    """One bot of the runtime (see the module docstring).

    :param resolved: the bot's resolved config (``config.name`` names the sleeve).
    :param host: the plugin host (shared by every sleeve of the process).
    :param mode: demo, paper or live.
    :param run_id: this run's id (unique per sleeve).
    :param clock: the runtime's clock (fault windows, event times).
    :param stopwatch: monotonic ns for the strategies' time budget.
    :param sink: where faults, quarantines and shutdown are reported.
    """

    def __init__(self, resolved: ResolvedConfig, host: PluginHost, *, mode: RunMode,
                 run_id: str, clock: Clock, stopwatch: Callable[[], int],
                 sink: EventSink) -> None:
        from bot_core.pipeline import build_pipeline

        config = resolved.config
        self.config = config
        self.name = config.name
        self.mode = mode
        self.clock = clock
        self.sink = sink
        self.policy = IsolationPolicy.of(config.runtime)
        self.health: dict[str, StrategyHealth] = {}
        self.guards: dict[str, GuardedStrategy] = {}
        self._stopwatch = stopwatch
        self._to_cancel: list[str] = []
        self.run = RunInfo(run_id, mode, clock.now_ns(), config)
        self.pipeline: TradingPipeline = build_pipeline(resolved, host, self.run,
                                                        wrap_strategy=self._guard)
        host.configure(config)
        self.deliver = self.pipeline.deliver
        """``deliver(strategy, event)``: one strategy's decision on an event (its intents go
        through this sleeve's risk engine to its venues)."""
        self.subscriptions: dict[str, list[Subscription]] = {
            name: self._subscriptions_of(name) for name in self.guards}
        self.warnings = self._bind_feeds(resolved)
        """What the strategies said of their feeds (parameters that work but may surprise)."""
        self.failed = ""
        """Why the sleeve stopped on its own (an error outside any strategy); empty while up."""
        self.stop_reason = ""
        self.recorder: RunRecorder | None = None
        self.cycle_listeners: list[Callable[[int], None]] = []
        """Called with the cycle's end time after each cycle (the state's snapshots)."""

    # -- construction -------------------------------------------------------------------------

    def _guard(self, strategy: Strategy) -> Strategy:
        plugin = self.config.strategies[strategy.name].plugin
        health = StrategyHealth(self.name, strategy.name, plugin)
        guarded = guard(strategy, health, self.policy, now_ns=self.clock.now_ns,
                        stopwatch=self._stopwatch, on_fault=self._on_fault,
                        on_quarantine=self._on_quarantine)
        self.health[strategy.name] = health
        self.guards[strategy.name] = guarded
        return guarded

    def _subscriptions_of(self, name: str) -> list[Subscription]:
        return strategy_subscriptions(self.config, name, self.guards[name].data_kind)

    def _bind_feeds(self, resolved: ResolvedConfig) -> list[str]:
        """Tell each strategy the feeds it will get (``Strategy.bind_feeds``), as a backtest
        does from its datasets: a parameter that cannot work on them is a ConfigError now,
        before anything runs. Live feeds are open-ended and trade around the clock."""
        from bot_core.market import FeedSpec
        from bot_core.strategy import bind_strategy_feeds

        warnings: list[str] = []
        for name, guarded in self.guards.items():
            feeds = [FeedSpec.continuous(venue=s.venue, instrument=s.instrument, kind=s.kind,
                                         timeframe=s.timeframe, source=str(s))
                     if s.timeframe else
                     FeedSpec(s.venue, s.instrument, s.kind, str(s), None, None, None)
                     for s in self.subscriptions[name]]
            # the strategy itself, not its guard: a bad parameter refuses the run
            warnings += bind_strategy_feeds([guarded.inner], feeds, sources=resolved.sources)
        return warnings

    def market_subscriptions(self) -> list[Subscription]:
        """Per (venue, instrument, kind), the finest subscription: its events go through the
        venues and the risk engine (coarser bars of the same market only reach strategies)."""
        finest: dict[tuple[str, str, str], Subscription] = {}
        for subs in self.subscriptions.values():
            for sub in subs:
                key = (sub.venue, sub.instrument, sub.kind)
                have = finest.get(key)
                if have is None or sub.period_ns < have.period_ns:
                    finest[key] = sub
        return list(finest.values())

    # -- running ------------------------------------------------------------------------------

    def warm_up(self, history: HistoryProvider) -> None:
        """Hand each strategy with ``warm_up_bars`` its history, instrument by instrument."""
        for name, guarded in self.guards.items():
            rows = self.config.strategies[name].warm_up_bars
            if rows <= 0:
                continue
            frames = {}
            for sub in self.subscriptions[name]:
                frame = history(sub, rows)
                if frame is not None and len(frame) and sub.instrument not in frames:
                    frames[sub.instrument] = frame
            if frames:
                guarded.warm_up(frames)

    def start(self) -> None:
        self.pipeline.start()
        self.settle()

    @property
    def polls_live_venue(self) -> bool:
        """A live (not simulated) venue holds open orders: poll it between cycles."""
        pipeline = self.pipeline
        if not pipeline.open_orders or self.stop_reason or self.failed:
            return False
        venues = {o.intent.venue for o in pipeline.open_orders.values()}
        return any(not pipeline.venues[v].simulated for v in venues if v in pipeline.venues)

    def poll(self, now_ns: int) -> None:
        """Fills and status changes the venues received since the last poll."""
        self.pipeline.poll(now_ns)
        self.settle()

    @property
    def active(self) -> bool:
        """Trading: not failed, not stopped, and some strategy is not quarantined."""
        return not (self.failed or self.stop_reason) and \
            any(not h.quarantined for h in self.health.values())

    def mark(self, event: Bar | Quote) -> None:
        """Venue matching and the risk update of one event (every event, every sleeve)."""
        if isinstance(event, Bar):
            self.pipeline.mark_bar(event)
        else:
            self.pipeline.mark_quote(event)


    def settle(self) -> None:
        """Cancel the open orders of strategies quarantined since the last call (deferred
        so that no cancel runs inside the pipeline's own report processing)."""
        while self._to_cancel:
            name = self._to_cancel.pop(0)
            cancelled = self.pipeline.cancel_open_orders(self.clock.now_ns(), strategy=name)
            self.sink.emit("quarantine", self.name, self.clock.now_ns(), strategy=name,
                           cause=self.health[name].quarantined, cancelled=cancelled)

    def fail(self, exc: BaseException) -> None:
        """An error outside any strategy (a venue, the risk engine, an observer): this sleeve
        stops trading; the others go on."""
        self.failed = f"error: {type(exc).__name__}: {exc}"
        self.sink.emit("fault", self.name, self.clock.now_ns(), strategy="", kind="error",
                       detail=self.failed)

    def _on_fault(self, guarded: GuardedStrategy, kind: str, detail: str) -> None:
        self.sink.emit("fault", self.name, self.clock.now_ns(), strategy=guarded.name,
                       kind=kind, detail=detail)

    def _on_quarantine(self, guarded: GuardedStrategy, cause: str) -> None:
        self._to_cancel.append(guarded.name)

    # -- cycles and shutdown ------------------------------------------------------------------

    def end_cycle(self, ts_ns: int) -> None:
        """Poll live venues and record the cycle for the promotion evidence."""
        self.pipeline.poll(ts_ns)
        self.settle()
        for listener in self.cycle_listeners:
            listener(ts_ns)
        if self.recorder is not None:
            risk = self.pipeline.risk
            self.recorder.cycle(ts_ns=ts_ns, trading_state=risk.state.value,
                                daily_loss_breached=risk.daily_loss_halted,
                                drawdown_breached=risk.liquidating)

    def stop(self, reason: str) -> None:
        """Stop new decisions, handle open orders per ``runtime.on_shutdown``, call every
        ``on_stop`` and ``bot_core_on_stop(reason)``, close the run record."""
        if self.stop_reason:
            return
        self.stop_reason = reason
        now = self.clock.now_ns()
        for health in self.health.values():
            health.stopping = True
        policy = self.config.runtime.on_shutdown
        open_before = len(self.pipeline.open_orders)
        cancelled = 0
        try:
            if policy == "cancel":
                cancelled = self.pipeline.cancel_open_orders(now)
            self.sink.emit("shutdown", self.name, now, reason=reason, on_shutdown=policy,
                           cancelled=cancelled, kept=len(self.pipeline.open_orders),
                           open_before=open_before)
        finally:
            try:
                self.pipeline.stop(reason)
            finally:
                if self.recorder is not None:
                    self.recorder.close(ended_ns=now, reason=reason)

    # -- status -------------------------------------------------------------------------------

    def positions(self) -> dict[str, dict[str, float]]:
        """strategy -> ``instrument@venue`` -> signed quantity (open positions only)."""
        out: dict[str, dict[str, float]] = {}
        for rec in self.pipeline.portfolio.positions(open_only=True):
            out.setdefault(rec.strategy, {})[f"{rec.instrument}@{rec.venue}"] = rec.qty
        return out

    def status(self) -> dict[str, Any]:
        """The sleeve's row of the status table."""
        portfolio, risk = self.pipeline.portfolio, self.pipeline.risk
        equity = portfolio.equity
        initial = self.config.runtime.initial_equity
        peak = max(risk.equity_peak, equity)
        drawdown = (peak - equity) / peak * 100.0 if peak > 0 else 0.0
        return {"bot": self.name, "mode": self.mode, "equity": equity, "pnl": equity - initial,
                "drawdown_pct": drawdown, "trading_state": risk.state.value,
                "open_orders": len(self.pipeline.open_orders), "positions": self.positions(),
                "failed": self.failed, "stopped": self.stop_reason,
                "strategies": [h.as_dict() for h in self.health.values()]}

    def strategies(self) -> Iterable[StrategyHealth]:
        return self.health.values()
