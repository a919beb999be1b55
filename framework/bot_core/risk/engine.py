"""The risk engine: the trading state machine and the host side of every pre-trade check.

Every order intent of every strategy (and the engine's own liquidation orders) goes through
:meth:`RiskEngine.evaluate` before it can reach a venue. The engine

* validates the intent's own inputs and rejects when equity or the instrument's price is
  missing or NaN (fail closed);
* applies the trading state: ``HALTED`` rejects every order (cancels never come here),
  ``REDUCING`` and ``reduce_only`` orders pass only for the part that reduces the open position
  at that venue: an order that would flip the position's sign is **reduced** to the position
  (verdict ``REDUCE``, reason ``reduce_only_clamped``), one that does not reduce is rejected;
* runs the enabled checks in the configured order. The first rejection wins; a reduction passes
  the smaller intent on to the following checks, so the result is the minimum of all
  reductions. An exception inside a check, or a malformed verdict, is a rejection with reason
  ``check_error``, never an approval.

It also watches equity on every market event and fill (O(1) each): the equity peak, the equity
at the start of the trading day and the trading-day boundary (``runtime.timezone`` and
``runtime.trading_day_start``, DST-safe). A loss since the day start at or beyond
``risk.daily_loss_limit_pct`` halts trading until the next trading day (an operator may lift it
for the rest of the day with ``clear(..., daily_loss=True)`` to reduce positions; the
``daily_loss`` check still blocks new risk); a drawdown from the peak
at or beyond ``risk.drawdown_liquidation_pct`` switches to ``REDUCING`` and makes
:meth:`liquidation_intents` return the closing orders, until an operator calls :meth:`clear`.
These two monitors are host duties and run whatever checks the profile enables (the
``daily_loss`` and ``drawdown`` check plugins add the per-order gate on top). When both apply,
``REDUCING`` wins over the daily ``HALTED`` so that the liquidation orders can go out; an
operator :meth:`halt` wins over both. The day reset happens exactly once per trading day entered
and is part of :meth:`snapshot`, so a restart inside the same day does not reset again.
:meth:`hold_reducing` keeps the engine ``REDUCING`` until :meth:`clear` when the books cannot be
trusted (a restart found a mismatch with a venue it cannot explain; see docs/state.md).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bot_core.orders import OrderIntent, OrderType, Side
from bot_core.risk.check import RiskCheck, TradingState, Verdict, VerdictAction
from bot_core.risk.committed import CommittedOrders
from bot_core.risk.exposure import QTY_EPSILON, reducing_quantity
from bot_core.risk.tradingday import TradingCalendar
from bot_core.rules import day_rolls, limit_reached

if TYPE_CHECKING:
    import numpy as np

    from bot_core.config.models import BotConfig, BucketConfig, RiskLimits
    from bot_core.orders import Fill
    from bot_core.portfolio import Portfolio
    from bot_core.risk.batch import OrderBatch

__all__ = ["APPROVED", "ENGINE_CHECK_ID", "RiskEngine", "StateListener"]

ENGINE_CHECK_ID = "engine"
"""``Verdict.check_id`` of decisions taken by the engine itself (inputs, trading state)."""

StateListener = Callable[[TradingState, TradingState, str, int], None]
"""``(previous, current, cause, ts_ns)``."""

APPROVED = Verdict(VerdictAction.APPROVE, "ok")
"""The one verdict :meth:`RiskEngine.evaluate` returns for an intent every check approved as
is (shared, immutable: callers may test ``verdict is APPROVED``)."""
_APPROVED = APPROVED
_NEVER = -(1 << 62)
_SNAPSHOT_VERSION = 1


def _first_false(mask: np.ndarray, n: int) -> int:
    """Index of the first False in ``mask`` (``n`` when there is none)."""
    misses = (~mask).nonzero()[0]
    return int(misses[0]) if len(misses) else n


def _reject(reason: str, detail: str = "", check_id: str = ENGINE_CHECK_ID) -> Verdict:
    return Verdict(VerdictAction.REJECT, reason, detail, None, check_id)


class RiskEngine:
    """Host risk gate and trading state machine; implements the ``RiskContext`` protocol.

    :param config: the resolved bot configuration (limits, buckets, timezone, day start).
    :param checks: enabled check instances, in the order they run (``config.risk.checks``).
    :param portfolio: the portfolio the engine marks and reads.
    :param on_state_change: called as ``(previous, current, cause, ts_ns)`` on every transition;
        more listeners can be added with :meth:`add_state_listener`.
    """

    def __init__(self, config: BotConfig, checks: Sequence[RiskCheck], portfolio: Portfolio, *,
                 on_state_change: StateListener | None = None) -> None:
        self.config = config
        self.checks = list(checks)
        self.portfolio = portfolio
        self._limits = config.risk
        self._daily_limit_pct = config.risk.daily_loss_limit_pct
        self._drawdown_limit_pct = config.risk.drawdown_liquidation_pct
        self._calendar = TradingCalendar(config.runtime.timezone, config.runtime.trading_day_start)
        self._listeners: list[StateListener] = [] if on_state_change is None else [on_state_change]
        # the optional hooks are called only on the checks that implement them (the base
        # methods do nothing): no empty call per check on every order and fill
        self._accepting = [c for c in self.checks
                           if type(c).on_accepted is not RiskCheck.on_accepted]
        self._filling = [c for c in self.checks if type(c).on_fill is not RiskCheck.on_fill]
        self._resetting = [c for c in self.checks
                           if type(c).reset_day is not RiskCheck.reset_day]
        self._broken: dict[str, str] = {}
        """Check id -> why it failed outside ``check()``; such a check rejects every order."""
        self._state = TradingState.ACTIVE
        self._cause = ""
        self._daily_halt = False
        self._daily_override_day: dt.date | None = None
        """Trading day on which an operator lifted the daily-loss halt (no re-trigger that day)."""
        self._drawdown = False
        self._operator_halt = ""
        self._reduce_hold = ""
        """Why the books cannot be trusted (a restart's reconciliation): REDUCING until clear."""
        equity = portfolio.equity
        self._peak = equity
        self._day_start_equity = equity
        self._trading_day: dt.date | None = None
        self._next_boundary_ns = _NEVER
        self._now_ns = 0
        self.day_resets = 0
        """How many trading-day boundaries were crossed (and reset) so far."""
        self._liquidating: dict[str, tuple[str, str, str]] = {}
        """Client order id of an in-flight liquidation order -> (strategy, venue, instrument)."""
        self._liq_seq = 0
        self._liq_retry: dict[tuple[str, str, str], int] = {}
        """(strategy, venue, instrument) whose liquidation order was rejected -> the time of the
        market data it was judged on. It is retried once that instrument's data at the venue
        updates, not on every event of every feed: a venue whose data stopped would otherwise
        get one stale-data rejection per event until an operator steps in."""
        # the hot read paths of the RiskContext go straight to the portfolio (no extra frame)
        self.position = portfolio.position  # type: ignore[method-assign]
        self.last_price = portfolio.last_price  # type: ignore[method-assign]
        self.last_update_ns = portfolio.last_update_ns  # type: ignore[method-assign]
        self._committed = CommittedOrders()
        self.pending_quantity = self._committed.quantity  # type: ignore[method-assign]

    # -- RiskContext --------------------------------------------------------------------------

    @property
    def now_ns(self) -> int:
        return self._now_ns

    @property
    def limits(self) -> RiskLimits:
        return self._limits

    @property
    def buckets(self) -> Mapping[str, BucketConfig]:
        return self.config.buckets

    @property
    def trading_state(self) -> TradingState:
        return self._state

    @property
    def equity(self) -> float:
        return self.portfolio.equity

    @property
    def gross_exposure(self) -> float:
        return self.portfolio.gross_exposure

    @property
    def equity_peak(self) -> float:
        return self._peak

    @property
    def day_start_equity(self) -> float:
        return self._day_start_equity

    def position(self, instrument: str, venue: str | None = None) -> float:
        return self.portfolio.position(instrument, venue)

    def last_price(self, instrument: str, venue: str | None = None) -> float:
        return self.portfolio.last_price(instrument, venue)

    def last_update_ns(self, instrument: str, venue: str | None = None) -> int:
        return self.portfolio.last_update_ns(instrument, venue)

    def pending_quantity(self, instrument: str, side_sign: float, venue: str | None = None) -> float:
        """Unfilled quantity of approved, still open orders in one direction (>= 0)."""
        return self._committed.quantity(instrument, side_sign, venue)

    @property
    def pending_notional(self) -> float:
        """Notional of the unfilled part of every open approved order, at approval prices."""
        return self._committed.notional

    # -- state --------------------------------------------------------------------------------

    @property
    def state(self) -> TradingState:
        return self._state

    @property
    def cause(self) -> str:
        """Cause of the last transition (empty before the first)."""
        return self._cause

    @property
    def trading_day(self) -> dt.date | None:
        """The current trading day (None before the first timestamp)."""
        return self._trading_day

    @property
    def daily_loss_halted(self) -> bool:
        return self._daily_halt

    @property
    def liquidating(self) -> bool:
        """True while a drawdown liquidation is in force (until :meth:`clear`)."""
        return self._drawdown

    def add_state_listener(self, listener: StateListener) -> None:
        self._listeners.append(listener)

    def clear(self, operator_reason: str, ts_ns: int | None = None, *,
              daily_loss: bool = False) -> None:
        """Operator: end a drawdown liquidation, an operator halt and a hold on reducing; the
        equity peak restarts from the current equity.

        A daily-loss halt stays until the next trading day unless ``daily_loss`` is True: then
        the state machine stops halting for the rest of this trading day (so positions can be
        reduced), while the ``daily_loss`` check, when enabled, still rejects every order that
        adds risk. Monitoring resumes with the next trading day.
        """
        if not operator_reason.strip():
            raise ValueError("clear() needs the operator's reason")
        if daily_loss and self._daily_halt:
            self._daily_halt = False
            self._daily_override_day = self._trading_day
        self._drawdown = False
        self._operator_halt = ""
        self._reduce_hold = ""
        self._liquidating.clear()
        self._liq_retry.clear()
        equity = self.portfolio.equity
        if math.isfinite(equity):
            self._peak = equity
        self._set_state(self._target_state(), f"operator: {operator_reason}",
                        self._now_ns if ts_ns is None else ts_ns)

    def halt(self, operator_reason: str, ts_ns: int | None = None) -> None:
        """Operator: halt all trading (only cancels) until :meth:`clear`."""
        if not operator_reason.strip():
            raise ValueError("halt() needs the operator's reason")
        self._operator_halt = operator_reason
        self._set_state(TradingState.HALTED, f"operator: {operator_reason}",
                        self._now_ns if ts_ns is None else ts_ns)

    def hold_reducing(self, reason: str, ts_ns: int | None = None) -> None:
        """Only reduce positions until :meth:`clear` (an operator halt or a daily-loss halt
        still halts): the books cannot be trusted, e.g. a restart's reconciliation found a
        mismatch with a venue that it cannot explain."""
        if not reason.strip():
            raise ValueError("hold_reducing() needs a reason")
        self._reduce_hold = reason
        self._set_state(self._target_state(), reason, self._now_ns if ts_ns is None else ts_ns)

    def _target_state(self) -> TradingState:
        if self._operator_halt:
            return TradingState.HALTED
        if self._drawdown:
            return TradingState.REDUCING
        if self._daily_halt:
            return TradingState.HALTED
        if self._reduce_hold:
            return TradingState.REDUCING
        return TradingState.ACTIVE

    def _set_state(self, target: TradingState, cause: str, ts_ns: int) -> None:
        if target is self._state:
            return
        previous, self._state, self._cause = self._state, target, cause
        for listener in self._listeners:
            listener(previous, target, cause, ts_ns)

    # -- events -------------------------------------------------------------------------------

    def on_market_data(self, instrument: str, venue: str | None, price: float, ts_ns: int) -> None:
        """A price arrived: roll the trading day if a boundary passed, mark the portfolio,
        update the equity peak and trigger the daily-loss halt or the drawdown liquidation."""
        if day_rolls(ts_ns, self._next_boundary_ns):
            self._roll_day(ts_ns)
        if ts_ns > self._now_ns:
            self._now_ns = ts_ns
        self.portfolio.mark(instrument, price, ts_ns, venue)
        self._watch_equity(ts_ns)

    def on_fill(self, fill: Fill) -> None:
        """A fill was booked into the portfolio (the pipeline books it first)."""
        if day_rolls(fill.ts_ns, self._next_boundary_ns):
            self._roll_day(fill.ts_ns)
        self._committed.release(fill.client_order_id, fill.quantity)
        key = self._liquidating.get(fill.client_order_id)
        if key is not None and self.portfolio.position(key[2], key[1], key[0]) == 0.0:
            del self._liquidating[fill.client_order_id]
        for check in self._filling:
            try:
                check.on_fill(fill, self)
            except Exception as exc:
                self._broken[check.id] = f"on_fill failed: {type(exc).__name__}: {exc}"
        self._watch_equity(fill.ts_ns)

    def track_open_order(self, client_order_id: str, venue: str, instrument: str,
                         side_sign: float, quantity: float, price: float) -> None:
        """Count an open order the engine did not approve in this process (one restored after
        a restart, or adopted from a venue) in the exposure already committed, as if it had
        been approved at ``price``."""
        self._committed.add(client_order_id, venue, instrument, side_sign, quantity, price)

    def on_order_closed(self, client_order_id: str) -> None:
        """An order reached a final status (filled, cancelled, rejected, expired)."""
        self._liquidating.pop(client_order_id, None)
        self._committed.release(client_order_id)

    def _roll_day(self, ts_ns: int) -> None:
        day = self._calendar.day_of(ts_ns)
        if self._trading_day is not None and day <= self._trading_day:
            # a timestamp from before the boundary arrived after it (out of order): no reset
            return
        first = self._trading_day is None
        self._trading_day = day
        self._next_boundary_ns = self._calendar.next_boundary_ns(day)
        equity = self.portfolio.equity
        self._day_start_equity = equity
        if first:
            return
        self.day_resets += 1
        for check in self._resetting:
            try:
                check.reset_day(self)
            except Exception as exc:
                self._broken[check.id] = f"reset_day failed: {type(exc).__name__}: {exc}"
        if self._daily_halt:
            self._daily_halt = False
            self._set_state(self._target_state(), "new_trading_day", ts_ns)

    def _watch_equity(self, ts_ns: int) -> None:
        equity = self.portfolio.equity
        if not math.isfinite(equity):
            return
        if equity > self._peak or not math.isfinite(self._peak):
            self._peak = equity
        if not self._drawdown and limit_reached(self._peak, equity, self._drawdown_limit_pct):
            self._drawdown = True
            self._set_state(self._target_state(), "drawdown_liquidation", ts_ns)
        if not self._daily_halt and \
                limit_reached(self._day_start_equity, equity, self._daily_limit_pct) and \
                self._daily_override_day != self._trading_day:
            self._daily_halt = True
            self._set_state(self._target_state(), "daily_loss_limit", ts_ns)

    # -- judging ------------------------------------------------------------------------------

    def evaluate(self, intent: OrderIntent, now_ns: int) -> Verdict:
        """Judge one intent: approve, reduce (``verdict.quantity``) or reject, with a reason."""
        verdict = self._judge(intent, now_ns)
        if verdict.action is VerdictAction.REJECT and intent.client_order_id in self._liquidating:
            key = self._liquidating.pop(intent.client_order_id)
            self._liq_retry[key] = self.portfolio.last_update_ns(key[2], key[1])
        return verdict

    def _judge(self, intent: OrderIntent, now_ns: int) -> Verdict:
        self._now_ns = now_ns
        if day_rolls(now_ns, self._next_boundary_ns):
            self._roll_day(now_ns)
        qty = intent.quantity
        if not (qty > QTY_EPSILON and qty != math.inf):
            return _reject("invalid_quantity", f"quantity must be finite and > 0, got {qty!r}")
        if intent.order_type is OrderType.LIMIT:
            limit = intent.limit_price
            if limit is None or not (limit > 0.0 and limit != math.inf):
                return _reject("invalid_limit_price",
                               f"a limit order needs a finite price > 0, got {limit!r}")
        equity = self.portfolio.equity
        if not (equity > 0.0 and equity != math.inf):
            return _reject("equity_unavailable", f"equity is {equity!r}")
        price = self.portfolio.last_price(intent.instrument, intent.venue)
        if not (price > 0.0 and price != math.inf):
            return _reject("price_unavailable",
                           f"no valid price for {intent.instrument} on {intent.venue}")

        state = self._state
        current = intent
        reduced: tuple[str, str, str] | None = None
        if state is TradingState.HALTED:
            return _reject("trading_halted", f"trading is halted ({self._cause})")
        if state is TradingState.REDUCING or intent.reduce_only:
            sign = float(intent.side)
            pos = self.portfolio.position(intent.instrument, intent.venue) + sign * \
                self.pending_quantity(intent.instrument, sign, intent.venue)
            allowed = reducing_quantity(pos, sign, qty)
            if allowed <= QTY_EPSILON:
                why = "trading_reducing" if state is TradingState.REDUCING else "reduce_only"
                return _reject(f"{why}_not_reducing",
                               f"{intent.side.name} {qty:g} does not reduce the {pos:g} position "
                               f"in {intent.instrument} on {intent.venue} (open orders "
                               "included)")
            if allowed < qty:
                current = replace(intent, quantity=allowed)
                reduced = ("reduce_only_clamped",
                           f"clamped to the {abs(pos):g} open position so it cannot flip",
                           ENGINE_CHECK_ID)

        broken = self._broken
        approve, reject = VerdictAction.APPROVE, VerdictAction.REJECT
        for check in self.checks:
            if broken and check.id in broken:
                return _reject("check_error", f"{check.id}: {broken[check.id]}", check.id)
            try:
                verdict = check.check(current, self)
                action = verdict.action
            except Exception as exc:
                return _reject("check_error", f"{check.id}: {type(exc).__name__}: {exc}", check.id)
            if action is approve:
                continue
            if action is reject:
                return Verdict(VerdictAction.REJECT, verdict.reason, verdict.detail, None, check.id)
            allowed_qty = verdict.quantity
            if action is not VerdictAction.REDUCE or allowed_qty is None or \
                    not (allowed_qty < current.quantity) or allowed_qty != allowed_qty:
                return _reject("check_error", f"{check.id}: malformed verdict {verdict!r}",
                               check.id)
            if allowed_qty <= QTY_EPSILON:
                return Verdict(VerdictAction.REJECT, verdict.reason, verdict.detail, None, check.id)
            current = replace(current, quantity=allowed_qty)
            reduced = (verdict.reason, verdict.detail, check.id)

        for check in self._accepting:
            try:
                check.on_accepted(current, current.quantity, self)
            except Exception as exc:
                self._broken[check.id] = f"on_accepted failed: {type(exc).__name__}: {exc}"
        self._committed.add(current.client_order_id, current.venue, current.instrument,
                            current.side, current.quantity, price)
        if reduced is None:
            return APPROVED
        return Verdict(VerdictAction.REDUCE, reduced[0], reduced[1], current.quantity, reduced[2])

    def judge_batch(self, batch: OrderBatch) -> tuple[int, str] | None:
        """Judge the orders of ``batch`` at once (see :mod:`bot_core.risk.batch`): the engine's
        own input gates, then every check's :meth:`~RiskCheck.check_batch`.

        Returns ``(first, check_id)``: the index of the first order that :meth:`evaluate` would
        not have approved as is (``len(batch)`` when it would have approved them all) and the
        id of what stopped it (``engine`` for the engine's gates). Returns None when a check
        has no batch form (or watches fills or day rolls, which happen between the orders), a
        check is broken, or the state is not ``ACTIVE``: then the orders must be judged one by
        one. Nothing changes; :meth:`accept_batch` applies the result.
        """
        n = len(batch)
        if self._state is not TradingState.ACTIVE or self._broken:
            return None
        qty, equity, price = batch.quantity, batch.equity, batch.price
        ok = ((qty > QTY_EPSILON) & (qty != math.inf) & (equity > 0.0) & (equity != math.inf)
              & (price > 0.0) & (price != math.inf))
        first, stopped = _first_false(ok, n), ENGINE_CHECK_ID
        for check in self.checks:
            if type(check).on_fill is not RiskCheck.on_fill or \
                    type(check).reset_day is not RiskCheck.reset_day:
                return None  # it would have seen every fill and day roll, one by one
            try:
                approved = check.check_batch(batch)
            except Exception:
                return None  # the order-by-order judge turns it into check_error
            if approved is None or getattr(approved, "shape", None) != (n,) or \
                    str(getattr(approved, "dtype", "")) != "bool":
                return None  # no batch form here, or a malformed answer: judge one by one
            at = _first_false(approved[:first], first)
            if at < first:
                first, stopped = at, check.id
        return first, stopped

    def accept_batch(self, batch: OrderBatch) -> None:
        """Every order of ``batch`` was approved (:meth:`judge_batch`) and filled: the checks
        update their state as after judging and accepting them one by one."""
        if not len(batch):
            return
        for check in self.checks:
            check.accept_batch(batch)
        self._now_ns = max(self._now_ns, int(batch.now_ns[-1]))

    # -- liquidation --------------------------------------------------------------------------

    def liquidation_intents(self, now_ns: int) -> list[OrderIntent]:
        """Market, reduce-only orders closing every open position while a drawdown liquidation
        is in force; positions that already have a liquidation order in flight are skipped, and
        so are those whose last liquidation order was rejected until their market data at the
        venue updates.

        Per (venue, instrument), only the strategies' positions on the side of the net position
        are closed, up to the net quantity: books of two strategies that offset each other at a
        venue carry no exposure there and are left alone.
        """
        if not self._drawdown:
            return []
        in_flight = set(self._liquidating.values())
        groups: dict[tuple[str, str], list[tuple[str, float]]] = {}
        for rec in self.portfolio.positions(open_only=True):
            groups.setdefault((rec.venue, rec.instrument), []).append((rec.strategy, rec.qty))
        intents: list[OrderIntent] = []
        for (venue, instrument), books in groups.items():
            net = self.portfolio.position(instrument, venue)
            budget = abs(net)
            for strategy, qty in sorted(books):
                if budget <= QTY_EPSILON:
                    break
                if qty * net <= 0.0:
                    continue
                close = min(abs(qty), budget)
                budget -= close
                if (strategy, venue, instrument) in in_flight:
                    continue
                judged_ns = self._liq_retry.get((strategy, venue, instrument))
                if judged_ns is not None:
                    if self.portfolio.last_update_ns(instrument, venue) <= judged_ns:
                        continue
                    del self._liq_retry[(strategy, venue, instrument)]
                self._liq_seq += 1
                client_id = f"liq-{now_ns}-{self._liq_seq}"
                intents.append(OrderIntent(
                    strategy_id=strategy, venue=venue, instrument=instrument,
                    side=Side.SELL if qty > 0 else Side.BUY, quantity=close,
                    client_order_id=client_id, order_type=OrderType.MARKET, reduce_only=True,
                    ts_ns=now_ns, tag="drawdown_liquidation",
                ))
                self._liquidating[client_id] = (strategy, venue, instrument)
        return intents

    # -- persistence --------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """JSON-able state that must survive a restart: trading state and its flags, equity peak,
        the trading day and its start equity, in-flight liquidations and each check's state."""
        return {
            "version": _SNAPSHOT_VERSION,
            "state": self._state.value,
            "cause": self._cause,
            "daily_halt": self._daily_halt,
            "daily_override_day": (self._daily_override_day.isoformat()
                                   if self._daily_override_day else None),
            "drawdown": self._drawdown,
            "operator_halt": self._operator_halt,
            "reduce_hold": self._reduce_hold,
            "equity_peak": self._peak,
            "day_start_equity": self._day_start_equity,
            "trading_day": self._trading_day.isoformat() if self._trading_day else None,
            "day_resets": self.day_resets,
            "now_ns": self._now_ns,
            "liq_seq": self._liq_seq,
            "liquidating": {k: list(v) for k, v in self._liquidating.items()},
            "open_orders": self._committed.snapshot(),
            "checks": {c.id: c.snapshot() for c in self.checks},
        }

    def restore(self, data: Mapping[str, Any]) -> None:
        """Reload :meth:`snapshot` output (listeners are not called: nothing transitions)."""
        if data.get("version") != _SNAPSHOT_VERSION:
            raise ValueError(f"unsupported risk snapshot version {data.get('version')!r}")
        self._state = TradingState(data["state"])
        self._cause = str(data["cause"])
        self._daily_halt = bool(data["daily_halt"])
        override = data.get("daily_override_day")
        self._daily_override_day = dt.date.fromisoformat(override) if override else None
        self._drawdown = bool(data["drawdown"])
        self._operator_halt = str(data["operator_halt"])
        self._reduce_hold = str(data.get("reduce_hold", ""))
        self._peak = float(data["equity_peak"])
        self._day_start_equity = float(data["day_start_equity"])
        day = data["trading_day"]
        self._trading_day = dt.date.fromisoformat(day) if day else None
        self._next_boundary_ns = (self._calendar.next_boundary_ns(self._trading_day)
                                  if self._trading_day else _NEVER)
        self.day_resets = int(data["day_resets"])
        self._now_ns = int(data["now_ns"])
        self._liq_seq = int(data["liq_seq"])
        self._liquidating = {k: (v[0], v[1], v[2]) for k, v in data["liquidating"].items()}
        self._committed.restore(data.get("open_orders", {}))
        states = data.get("checks", {})
        for check in self.checks:
            if check.id in states:
                check.restore(states[check.id])
