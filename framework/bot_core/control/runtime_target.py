"""The running scheduler as a :class:`~bot_core.control.target.ControlTarget`.

gRPC calls arrive on worker threads; the bots live on the asyncio loop's thread. Every read and
every action runs on that loop (:meth:`RuntimeControl.bind_loop`), between two events, so an
operator's halt never lands in the middle of a decision; without a running loop (tests, a
runtime not started yet) calls run inline under a lock.

Actions use the risk engine's own operator methods: HALTED is ``halt``, REDUCING is
``hold_reducing`` (only orders that reduce positions, no liquidation orders), ACTIVE and
ClearReducing are ``clear`` (the daily-loss halt stays unless lifted for the rest of the day).
The caller's identity goes into the transition's cause, so the trading-state record of the
journal names it too. Pausing a strategy holds it (``StrategyHealth.held``): it gets no market
events, still learns of its fills, and resource shedding never resumes it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from bot_core.control.target import (
    BotView,
    ControlError,
    Outcome,
    Problem,
    PromotionView,
    RiskView,
    StrategyView,
)
from bot_core.risk.check import TradingState

if TYPE_CHECKING:
    from bot_core.runtime.scheduler import Scheduler
    from bot_core.runtime.sleeve import Sleeve
    from bot_core.telemetry.metrics import RuntimeMetrics

__all__ = ["RuntimeControl"]

T = TypeVar("T")
_CALL_TIMEOUT_S = 10.0


class RuntimeControl:
    """Control over every sleeve of one scheduler (see the module docstring).

    :param scheduler: the runtime (or later, :meth:`attach`; until then every call is refused
        as "starting").
    :param metrics: told of actions, so gauges show them before the next cycle.
    """

    def __init__(self, scheduler: Scheduler | None = None, *,
                 metrics: RuntimeMetrics | None = None) -> None:
        self._scheduler = scheduler
        self.metrics = metrics
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.RLock()

    def attach(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler

    @property
    def scheduler(self) -> Scheduler:
        if self._scheduler is None:
            raise ControlError(Problem.REFUSED, "the runtime is starting; try again")
        return self._scheduler

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run every call on ``loop`` from now on (call from inside it)."""
        self._loop = loop

    def _on_loop(self, work: Callable[[], T]) -> T:
        loop = self._loop
        if loop is None or not loop.is_running() or loop.is_closed():
            with self._lock:
                return work()
        try:
            if asyncio.get_running_loop() is loop:
                return work()
        except RuntimeError:
            pass  # no loop in this thread: the usual case, a gRPC worker
        done: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            if not done.set_running_or_notify_cancel():
                return
            try:
                done.set_result(work())
            except BaseException as exc:
                done.set_exception(exc)

        loop.call_soon_threadsafe(run)
        try:
            return done.result(timeout=_CALL_TIMEOUT_S)
        except concurrent.futures.TimeoutError:
            done.cancel()
            raise ControlError(Problem.REFUSED, f"the runtime did not answer within "
                               f"{_CALL_TIMEOUT_S:g} s (busy or stopping)") from None

    # -- finding things -----------------------------------------------------------------------

    def _sleeves(self, bot: str) -> list[Sleeve]:
        sleeves = list(self.scheduler.sleeves)
        if not bot:
            return sleeves
        chosen = [s for s in sleeves if s.name == bot]
        if not chosen:
            known = ", ".join(s.name for s in sleeves) or "none"
            raise ControlError(Problem.NOT_FOUND, f"no bot named {bot!r} (bots: {known})")
        return chosen

    def _strategy(self, bot: str, strategy: str) -> tuple[Sleeve, str]:
        if not strategy:
            raise ControlError(Problem.INVALID, "name the strategy")
        owners = [s for s in self._sleeves(bot) if strategy in s.health]
        if not owners:
            where = f"bot {bot!r}" if bot else "any bot"
            raise ControlError(Problem.NOT_FOUND, f"no strategy named {strategy!r} in {where}")
        if len(owners) > 1:
            raise ControlError(Problem.INVALID, f"strategy {strategy!r} runs in several bots "
                               f"({', '.join(s.name for s in owners)}): name the bot")
        return owners[0], strategy

    @staticmethod
    def _reason(reason: str) -> str:
        text = reason.strip()
        if not text:
            raise ControlError(Problem.INVALID, "give a reason (it is journaled)")
        if len(text) > 500 or not text.isprintable():
            raise ControlError(Problem.INVALID, "the reason must be printable text of at most "
                               "500 characters")
        return text

    # -- reads --------------------------------------------------------------------------------

    def bots(self) -> list[BotView]:
        def read() -> list[BotView]:
            return [BotView(s.name, s.config.profile, s.mode, s.run.run_id,
                            s.pipeline.risk.state.value, tuple(s.health),
                            s.stop_reason or s.failed) for s in self.scheduler.sleeves]
        return self._on_loop(read)

    def strategies(self, bot: str) -> list[StrategyView]:
        def read() -> list[StrategyView]:
            return [StrategyView(h.bot, h.name, h.plugin, h.state, h.held or h.paused,
                                 h.quarantined, h.decisions, h.skipped_bars,
                                 h.errors + h.malformed + h.overruns)
                    for sleeve in self._sleeves(bot) for h in sleeve.health.values()]
        return self._on_loop(read)

    def risk(self, bot: str) -> list[RiskView]:
        return self._on_loop(lambda: [_risk_view(s) for s in self._sleeves(bot)])

    # -- strategy actions ---------------------------------------------------------------------

    def pause(self, bot: str, strategy: str, reason: str, who: str) -> Outcome:
        why = self._reason(reason)

        def act() -> Outcome:
            sleeve, name = self._strategy(bot, strategy)
            health = sleeve.health[name]
            if health.quarantined:
                raise ControlError(Problem.REFUSED, f"{sleeve.name}/{name} is quarantined "
                                   f"({health.quarantined}); it cannot be paused or resumed")
            changed = not health.held
            health.held = f"operator: {why} [{who}]"
            self._changed(sleeve.name, name)
            return Outcome(sleeve.name, name, changed,
                           "paused" if changed else "already paused (reason updated)",
                           sleeve.pipeline.risk.state.value)
        return self._on_loop(act)

    def resume(self, bot: str, strategy: str, reason: str, who: str) -> Outcome:
        self._reason(reason)

        def act() -> Outcome:
            sleeve, name = self._strategy(bot, strategy)
            health = sleeve.health[name]
            if health.quarantined:
                raise ControlError(Problem.REFUSED, f"{sleeve.name}/{name} is quarantined "
                                   f"({health.quarantined}); it cannot be resumed")
            changed = bool(health.held)
            health.held = ""
            self._changed(sleeve.name, name)
            message = "resumed" if changed else "was not paused by an operator"
            if health.paused:
                message += f"; still paused by resource shedding ({health.paused})"
            return Outcome(sleeve.name, name, changed, message, sleeve.pipeline.risk.state.value)
        return self._on_loop(act)

    def _changed(self, bot: str, strategy: str) -> None:
        if self.metrics is not None:
            self.metrics.strategy_changed(bot, strategy)

    # -- trading state ------------------------------------------------------------------------

    def set_trading_state(self, bot: str, state: str, reason: str, who: str) -> list[Outcome]:
        why = self._reason(reason)
        try:
            target = TradingState(state)
        except ValueError:
            raise ControlError(Problem.INVALID, f"unknown trading state {state!r} (active, "
                               f"reducing, halted)") from None

        def act() -> list[Outcome]:
            out = []
            for sleeve in self._live(self._sleeves(bot)):
                risk = sleeve.pipeline.risk
                before = risk.state
                cause = f"{why} [{who}]"
                if target is TradingState.HALTED:
                    risk.halt(cause)
                elif target is TradingState.REDUCING:
                    risk.hold_reducing(f"operator: {cause}")
                else:
                    risk.clear(cause)
                after = risk.state
                message = f"{before.value} -> {after.value}" if after is not before else \
                    f"already {after.value}"
                if after is not target:
                    message += _why_not(risk, target)
                out.append(Outcome(sleeve.name, "trading_state", after is not before, message,
                                   after.value))
            self._refresh()
            return out
        return self._on_loop(act)

    def clear_reducing(self, bot: str, reason: str, who: str, *,
                       lift_daily_loss_halt: bool = False) -> list[Outcome]:
        why = self._reason(reason)

        def act() -> list[Outcome]:
            out = []
            for sleeve in self._live(self._sleeves(bot)):
                risk = sleeve.pipeline.risk
                before = risk.state
                operator_halt = before is TradingState.HALTED and not risk.daily_loss_halted
                wanted = before is TradingState.REDUCING or risk.liquidating or \
                    (lift_daily_loss_halt and risk.daily_loss_halted)
                if operator_halt or not wanted:
                    note = ("halted by an operator: set the trading state to ACTIVE to resume"
                            if operator_halt else f"not reducing ({before.value})")
                    out.append(Outcome(sleeve.name, "trading_state", False, note, before.value))
                    continue
                risk.clear(f"{why} [{who}]", daily_loss=lift_daily_loss_halt)
                after = risk.state
                message = f"{before.value} -> {after.value}" if after is not before else \
                    f"still {after.value}"
                if after is not TradingState.ACTIVE:
                    message += _why_not(risk, TradingState.ACTIVE)
                out.append(Outcome(sleeve.name, "trading_state", after is not before, message,
                                   after.value))
            self._refresh()
            return out
        return self._on_loop(act)

    @staticmethod
    def _live(sleeves: list[Sleeve]) -> list[Sleeve]:
        stopped = [s.name for s in sleeves if s.stop_reason]
        if stopped and len(stopped) == len(sleeves):
            raise ControlError(Problem.REFUSED, f"{', '.join(stopped)} stopped; nothing to act "
                               f"on")
        return [s for s in sleeves if not s.stop_reason]

    def _refresh(self) -> None:
        if self.metrics is not None:
            self.metrics.refresh(force=True)

    # -- promotion ----------------------------------------------------------------------------

    def promote(self, bot: str, to_mode: str, confirm: str, who: str) -> PromotionView:
        from bot_core.errors import PromotionError, UsageError
        from bot_core.runtime.promotion import decide, promote

        sleeves = self._sleeves(bot)
        if len(sleeves) != 1:
            raise ControlError(Problem.INVALID, "this process runs several bots "
                               f"({', '.join(s.name for s in sleeves)}): name the bot")
        sleeve = sleeves[0]
        if to_mode not in ("paper", "live"):
            raise ControlError(Problem.INVALID, f"promote to paper or live, not {to_mode!r}")
        host = sleeve.pipeline.host
        try:
            decision = decide(sleeve.config, to_mode, plugins=host, confirm=confirm or None)
        except (PromotionError, UsageError) as exc:
            raise ControlError(Problem.REFUSED, str(exc)) from None
        ctx = decision.context
        gates = tuple((g.gate, g.title, g.passed, g.evidence) for g in decision.gates)
        try:
            promote(decision, who=who)
        except PromotionError as exc:
            return PromotionView(sleeve.name, ctx.from_mode, ctx.to_mode, False, gates, str(exc))
        observers = self._observers()
        observer = observers.get(sleeve.name)
        if observer is not None and not observer.writer.failed:
            observer.promotion(ctx.from_mode, ctx.to_mode,
                               gates={g: p for g, _, p, _ in gates}, approved_by=who,
                               run=sleeve.run)
        return PromotionView(sleeve.name, ctx.from_mode, ctx.to_mode, True, gates,
                             f"promoted {sleeve.name} from {ctx.from_mode} to {ctx.to_mode}; "
                             f"restart it in {ctx.to_mode} mode")

    # -- journal ------------------------------------------------------------------------------

    def _observers(self) -> Mapping[str, Any]:
        journals = self.scheduler.journals
        return journals.observers if journals is not None else {}

    def journal(self, bots: list[str], action: str, who: str,
                detail: Mapping[str, object]) -> None:
        """An ``operator_action`` record in each bot's journal, and a ``control`` event."""
        def write() -> None:
            names = [s.name for s in self.scheduler.sleeves]
            chosen = [b for b in bots if b in names] or names
            observers = self._observers()
            now = self.scheduler.clock.now_ns()
            for name in chosen:
                sleeve = next(s for s in self.scheduler.sleeves if s.name == name)
                observer = observers.get(name)
                if observer is not None and not observer.writer.failed:
                    observer.operator_action(action, who, detail=detail, run=sleeve.run)
                self.scheduler.sink.emit("control", name, now, action=action, identity=who,
                                         result=detail.get("result"), role=detail.get("role"))
        self._on_loop(write)


def _why_not(risk: Any, wanted: TradingState) -> str:
    if risk.state is TradingState.HALTED and risk.daily_loss_halted:
        return " (the daily-loss limit halts it until the next trading day; clear with " \
               "lift_daily_loss_halt to reduce positions)"
    if risk.state is TradingState.HALTED:
        return " (an operator halt wins: set the trading state to ACTIVE first)"
    if risk.liquidating:
        return " (a drawdown liquidation is in force: clear it)"
    return f" (the risk engine keeps it {risk.state.value})"


def _risk_view(sleeve: Sleeve) -> RiskView:
    import math

    pipeline, config = sleeve.pipeline, sleeve.config
    portfolio, risk = pipeline.portfolio, pipeline.risk
    equity = portfolio.equity
    peak = max(risk.equity_peak, equity)
    drawdown = (peak - equity) / peak if peak > 0 and math.isfinite(peak) else 0.0
    start = risk.day_start_equity
    limit = config.risk.daily_loss_limit_pct / 100.0
    used = max(0.0, (start - equity) / start / limit) if start > 0 else 0.0
    exposure: dict[str, float] = {"total": 0.0}
    for rec in portfolio.positions(open_only=True):
        mark = portfolio.last_price(rec.instrument, rec.venue)
        if not math.isfinite(mark) or equity <= 0:
            continue
        share = abs(rec.qty * mark) / equity
        bucket = config.bucket_of(rec.instrument) or "unbucketed"
        exposure[bucket] = exposure.get(bucket, 0.0) + share
        exposure["total"] += share
    return RiskView(sleeve.name, config.profile, risk.state.value, risk.cause, equity,
                    equity - config.runtime.initial_equity, risk.equity_peak,
                    risk.day_start_equity, max(0.0, drawdown), used, risk.daily_loss_halted,
                    risk.liquidating, len(pipeline.open_orders), exposure,
                    config.runtime.base_currency)
