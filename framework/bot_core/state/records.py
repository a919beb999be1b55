"""What the state file holds, as Python values: order rows with their lifecycle, fill rows and
the latest snapshot."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from bot_core.orders import (
    Fill,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)

__all__ = ["FillRow", "Lifecycle", "OrderRow", "Snapshot"]


class Lifecycle(enum.StrEnum):
    """Where an order stands between the bot and its venue (beside its :class:`OrderStatus`)."""

    PERSISTED = "persisted"
    """Committed before ``venue.submit`` was called; no answer from the venue committed yet."""
    SENT = "sent"
    """The venue answered ``submit`` (accepted, filled or rejected it)."""
    NOT_SENT = "not_sent"
    """Found unknown to the venue after a restart: it never reached it. Never re-sent."""
    ADOPTED = "adopted"
    """Known to the venue but not to the state file (found by reconciliation)."""
    LOST = "lost"
    """The venue answered it once, but no longer knows it (a discrepancy)."""


@dataclass(slots=True)
class OrderRow:
    """One row of ``orders``: the order and where it stands."""

    order: Order
    lifecycle: Lifecycle
    run_id: str
    seq: int
    created_ns: int
    updated_ns: int

    @property
    def client_order_id(self) -> str:
        return self.order.client_order_id

    @property
    def open(self) -> bool:
        """Not final: the venue may still fill it (or has it and we do not know yet)."""
        return not self.order.status.is_final

    @classmethod
    def from_db(cls, row: tuple[Any, ...]) -> OrderRow:
        (cid, seq, run_id, strategy, venue, instrument, side, order_type, limit_price, tif,
         reduce_only, group_id, tag, intent_qty, intent_ts, quantity, lifecycle, status,
         filled, avg, fees, reason, created, updated) = row
        intent = OrderIntent(strategy, venue, instrument, Side(int(side)), float(intent_qty), cid,
                             OrderType(order_type), limit_price, TimeInForce(tif),
                             bool(reduce_only), group_id, int(intent_ts), tag)
        order = Order(intent, float(quantity), OrderStatus(status), float(filled), float(avg),
                      float(fees), reason)
        return cls(order, Lifecycle(lifecycle), run_id, int(seq), int(created), int(updated))


ORDER_COLUMNS = (
    "client_order_id, seq, run_id, strategy_id, venue, instrument, side, order_type, "
    "limit_price, time_in_force, reduce_only, group_id, tag, intent_quantity, intent_ts_ns, "
    "quantity, lifecycle, status, filled_quantity, average_price, fees, reason, created_ns, "
    "updated_ns"
)


@dataclass(frozen=True, slots=True)
class FillRow:
    """One row of ``fills``: a booked fill and its place in booking order."""

    seq: int
    fill: Fill

    @classmethod
    def from_db(cls, row: tuple[Any, ...]) -> FillRow:
        seq, venue, trade_id, cid, strategy, instrument, side, qty, price, fee, ts, liq = row
        return cls(int(seq), Fill(trade_id, cid, venue, instrument, Side(int(side)), float(qty),
                                  float(price), float(fee), int(ts), liq, strategy))


FILL_COLUMNS = ("seq, venue, trade_id, client_order_id, strategy_id, instrument, side, "
                "quantity, price, fee, ts_ns, liquidity")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The latest snapshot: the books as they were after booking fill ``fill_seq``."""

    fill_seq: int
    taken_ns: int
    wall_ns: int
    run_id: str
    portfolio: dict[str, Any]
    """:meth:`Portfolio.snapshot` without ``trade_ids`` (the fills table holds them)."""
    risk: dict[str, Any]
    pipeline: dict[str, Any]
