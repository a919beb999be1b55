"""Order intents, orders, fills and execution reports.

The one event path is: a strategy returns :class:`OrderIntent` objects; the risk engine turns each
into a :class:`~bot_core.risk.check.Verdict`; an approved (or reduced) intent becomes an
:class:`Order` sent to an exchange adapter; the adapter answers with :class:`ExecutionReport`
objects, some carrying a :class:`Fill`. Every step is an observer hook (see ``hookspecs``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = [
    "ExecutionReport",
    "Fill",
    "Order",
    "OrderIntent",
    "OrderStatus",
    "OrderType",
    "Side",
    "TimeInForce",
]


class Side(enum.IntEnum):
    """Order side; the value is the sign of the position change."""

    BUY = 1
    SELL = -1


class OrderType(enum.StrEnum):
    MARKET = "market"
    LIMIT = "limit"


class TimeInForce(enum.StrEnum):
    GTC = "gtc"
    """Good till cancelled."""
    IOC = "ioc"
    """Immediate or cancel: what is not filled at once is cancelled."""
    FOK = "fok"
    """Fill or kill: filled whole at once or not at all."""
    DAY = "day"
    """Cancelled at the end of the trading day."""


class OrderStatus(enum.StrEnum):
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_FINAL = {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED}


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """What a strategy wants, before risk: not yet an order.

    ``quantity`` is always positive; ``side`` gives the direction. ``group_id`` ties legs that
    must be sent together (cross-exchange arbitrage); ``tag`` is free text for the journal.
    """

    strategy_id: str
    venue: str
    instrument: str
    side: Side
    quantity: float
    client_order_id: str
    order_type: OrderType = OrderType.MARKET
    limit_price: float | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    group_id: str | None = None
    ts_ns: int = 0
    tag: str = ""

    @property
    def signed_quantity(self) -> float:
        return float(self.side) * self.quantity


@dataclass(slots=True)
class Order:
    """An order as sent to a venue, updated by execution reports."""

    intent: OrderIntent
    quantity: float
    """Quantity after risk (may be smaller than the intent's when a check reduced it)."""
    status: OrderStatus = OrderStatus.ACCEPTED
    filled_quantity: float = 0.0
    average_price: float = 0.0
    fees: float = 0.0
    reason: str = ""

    @property
    def client_order_id(self) -> str:
        return self.intent.client_order_id

    @property
    def remaining(self) -> float:
        return max(self.quantity - self.filled_quantity, 0.0)


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution. ``trade_id`` is unique per venue; fills are de-duplicated by it."""

    trade_id: str
    client_order_id: str
    venue: str
    instrument: str
    side: Side
    quantity: float
    price: float
    fee: float
    ts_ns: int
    liquidity: str = "taker"
    """``maker`` or ``taker``."""
    strategy_id: str = ""


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    """A venue's answer about one order: a status change, possibly with a fill."""

    client_order_id: str
    status: OrderStatus
    ts_ns: int
    fill: Fill | None = None
    reason: str = ""
    extra: dict[str, object] = field(default_factory=dict)
