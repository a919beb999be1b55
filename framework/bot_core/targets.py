"""Trading toward a target position: the order logic every target-position bar strategy shares.

A bar strategy that decides a target position each bar trades ``target - position`` as one
market IOC order (nothing rests on the book, so the next bar sees the true position), not
reduce-only (positions are per strategy, reduce-only is judged per account), tagged with the
reason of the decision; nothing when the difference is rounding
(:func:`bot_core.rules.settled`). That convention is :func:`target_intent`, which the strategies'
``on_bar`` (through :class:`TargetTracker`) and the backtest's compiled replay both use.

Risk may reject or cut that order; without care the strategy would re-send it on every bar. The
:class:`TargetTracker` holds one instrument's back-off so the plugins do not each write it.
"""

from __future__ import annotations

import math
from typing import Protocol

from bot_core.orders import OrderIntent, OrderType, Side, TimeInForce
from bot_core.rules import MAX_RETRY_WAIT_BARS, back_off, settled

__all__ = ["MAX_RETRY_WAIT_BARS", "TargetTracker", "target_intent"]


class _OrderIds(Protocol):
    """The part of a ``StrategyContext`` an order needs."""

    def new_client_order_id(self) -> str: ...


def target_intent(strategy_id: str, venue: str, instrument: str, delta: float,
                  client_order_id: str, ts_ns: int, tag: str) -> OrderIntent:
    """The order that moves a position by ``delta`` toward its target: market, IOC, not
    reduce-only, tagged with the decision's reason."""
    # positional (strategy, venue, instrument, side, quantity, client id, type, limit price,
    # time in force, reduce only, group, ts, tag): a frozen dataclass's keyword call costs a
    # microsecond more per order
    return OrderIntent(strategy_id, venue, instrument, Side.BUY if delta > 0 else Side.SELL,
                       abs(delta), client_order_id, OrderType.MARKET, None, TimeInForce.IOC,
                       False, None, ts_ns, tag)


class TargetTracker:
    """One instrument's way to its target, with exponential back-off on orders that changed
    nothing (:func:`bot_core.rules.back_off`).

    When the position has not moved since the last send and the order would go the same way
    (risk rejected it, or the venue could not fill it), the next sends wait 1, 3, 7, ... bars
    (at most :data:`MAX_RETRY_WAIT_BARS`); a moved position, a reversed direction or a reached
    target resets it.
    """

    __slots__ = ("position", "retries", "side", "wait")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.position = math.nan
        self.side = 0
        self.retries = 0
        self.wait = 0

    def allow(self, target: float, position: float) -> bool:
        """Whether an order from ``position`` toward ``target`` may be sent on this bar."""
        side = 1 if target > position else -1
        send, self.retries, self.wait = back_off(side, position, self.side, self.position,
                                                 self.retries, self.wait)
        if send:
            self.side, self.position = side, position
        return send

    def intents(self, strategy_id: str, venue: str, instrument: str, target: float,
                current: float, ctx: _OrderIds, ts_ns: int, tag: str
                ) -> tuple[OrderIntent, ...]:
        """The order from ``current`` to ``target`` (:func:`target_intent`), or nothing when
        the difference is rounding, not finite, or backing off."""
        delta = target - current
        if settled(target, current) or not math.isfinite(delta):
            self.reset()
            return ()
        if not self.allow(target, current):
            return ()
        return (target_intent(strategy_id, venue, instrument, delta, ctx.new_client_order_id(),
                              ts_ns, tag),)
